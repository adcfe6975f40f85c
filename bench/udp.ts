/*
 * bench udp: UDP datagrams per second between two Stack instances joined by an epair,
 * through the real path — node:dgram-style send() → sosend → udp_output → ip_output →
 * ether_output → epair → ether_input → ip_input → udp_input → socket buffer → upcall →
 * 'message' — for 64- and 1400-byte payloads; and IPv4 longest-prefix lookups per second
 * with 100k routes installed, for random destinations.
 *
 * Time is virtual (the stacks never wait), so the figures measure the CPU cost of the
 * stack itself. Every datagram is counted at the receiver: the rate is of datagrams
 * delivered, and the run fails if any is missing.
 */

import type { RemoteInfo } from '../src/api/dgram.js';
import { Stack } from '../src/api/stack.js';
import { VirtualClock } from '../src/kern/clock.js';
import { type BenchContext, type BenchResult, consume, nsPerOp, round } from './harness.js';

function udpPps(ctx: BenchContext, size: number): number {
  const clock = new VirtualClock();
  const a = new Stack({ name: 'a', clock, seed: 1, loopback: false });
  const b = new Stack({ name: 'b', clock, seed: 2, loopback: false });
  const [ea, eb] = Stack.epair(a, b);
  a.addAddress(ea, '10.0.0.1/24');
  b.addAddress(eb, '10.0.0.2/24');
  const srv = b.dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  srv.bind(9000);
  let got = 0;
  let bytes = 0;
  srv.on('message', (msg: Buffer, _r: RemoteInfo) => {
    got++;
    bytes += msg.length;
  });
  const cli = a.dgram.createSocket('udp4');
  const payload = Buffer.alloc(size, 0x5a);
  const batch = 256;
  const run = (n: number): void => {
    for (let done = 0; done < n; ) {
      const k = Math.min(batch, n - done);
      for (let i = 0; i < k; i++) cli.send(payload, 9000, '10.0.0.2');
      clock.advance(0); // run the soft work: epair delivery, input, upcalls
      done += k;
    }
  };
  run(batch); // ARP, warm-up
  const n = Math.max(batch, Math.floor(ctx.scale * 200_000));
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const before = got;
    const t0 = process.hrtime.bigint();
    run(n);
    const dt = Number(process.hrtime.bigint() - t0);
    if (got - before !== n) throw new Error(`udp bench: ${n - (got - before)} of ${n} datagrams lost`);
    if (dt < best) best = dt;
  }
  consume(bytes);
  cli.close();
  srv.close();
  a.destroy();
  b.destroy();
  return (n * 1e9) / best;
}

function routeLookups(ctx: BenchContext): number {
  const clock = new VirtualClock();
  const s = new Stack({ clock, seed: 3 });
  const V = s.vnet;
  const ifp = V.loif;
  if (ifp === null) throw new Error('no lo0');
  let x = 0x9e3779b9;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  let installed = 0;
  while (installed < 100_000) {
    const plen = 8 + (rnd() % 25);
    const mask = plen === 32 ? 0xffffffff : ~(0xffffffff >>> plen);
    if (V.rt.add4((rnd() & mask) >>> 0, plen, { ifp, gateway: 0x7f000002 })) installed++;
  }
  V.rt.add4(0, 0, { ifp, gateway: 0x7f000002 });
  const dsts = new Uint32Array(1 << 20);
  for (let i = 0; i < dsts.length; i++) dsts[i] = rnd();
  const mask = dsts.length - 1;
  const ns = nsPerOp(
    (n) => {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const rt = V.rt.lookup4(dsts[i & mask] as number);
        if (rt !== null) acc += rt.plen;
      }
      consume(acc);
    },
    Math.max(100_000, Math.floor(ctx.scale * 2_000_000)),
  );
  s.destroy();
  return 1e9 / ns;
}

export async function bench(ctx: BenchContext): Promise<BenchResult> {
  const out: BenchResult = {};
  out.udp_pps_64 = Math.round(udpPps(ctx, 64));
  ctx.log(`udp 64-byte datagrams/s over epair: ${out.udp_pps_64}`);
  out.udp_pps_1400 = Math.round(udpPps(ctx, 1400));
  ctx.log(`udp 1400-byte datagrams/s over epair: ${out.udp_pps_1400}`);
  out.udp_mbps_1400 = round(((out.udp_pps_1400 as number) * 1400 * 8) / 1e6, 1);
  out.route_lookups_per_s_100k = Math.round(routeLookups(ctx));
  ctx.log(`IPv4 lookups/s with 100k routes: ${out.route_lookups_per_s_100k}`);
  return out;
}
