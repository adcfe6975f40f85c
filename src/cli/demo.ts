/*
 * bsdnet demo: what `npm start` shows a newcomer.
 *
 * Two stack instances joined by a simulated Ethernet link (2 ms each way, 10 Mbit/s
 * bottleneck). Host A sends a burst of frames; taps on both ends print them as they leave
 * and arrive; the link and interface counters close the show.
 */

import { NS_PER_MS } from '../kern/clock.js';
import { BpfTap } from '../net/bpf.js';
import { ether_sprintf } from '../net/if.js';
import { ether_output_frame } from '../net/if_ethersubr.js';
import { simlink_create } from '../net/if_sim.js';
import { get16 } from '../wire/bytes.js';
import { ETHERTYPE_EXP1 } from '../wire/ethernet.js';
import { Vnet } from '../vnet.js';

export async function demoMain(_argv: string[]): Promise<number> {
  const out = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };
  const a = new Vnet({ name: 'alpha' });
  const b = new Vnet({ name: 'beta' });
  const link = simlink_create(a, b, { delayNs: 2 * NS_PER_MS, rateBps: 10e6 });
  out('bsdnet demo: two stack instances on a simulated Ethernet link (2 ms one way, 10 Mbit/s)');
  out(`  ${a.name}: ${link.a.if_xname} ${ether_sprintf(link.a.if_lladdr)} mtu ${link.a.if_mtu}`);
  out(`  ${b.name}: ${link.b.if_xname} ${ether_sprintf(link.b.if_lladdr)} mtu ${link.b.if_mtu}`);
  out('');
  const t0 = a.clock.now();
  const line = (who: string, dir: string, data: Uint8Array, len: number, clk: number): string =>
    `${((clk - t0) / NS_PER_MS).toFixed(3).padStart(8)} ms  ${who.padEnd(5)} ${dir}  ${ether_sprintf(data.subarray(6, 12))} > ${ether_sprintf(data.subarray(0, 6))}, ethertype 0x${get16(data, 12).toString(16).padStart(4, '0')}, length ${len}`;
  let arrived = 0;
  const n = 5;
  const done = new Promise<void>((resolve) => {
    new BpfTap(link.a, (d, len, dir) => {
      if (dir === 2) out(line(a.name, 'out', d, len, a.clock.now()));
    });
    new BpfTap(link.b, (d, len, dir) => {
      if (dir === 1) {
        out(line(b.name, 'in ', d, len, b.clock.now()));
        if (++arrived === n) resolve();
      }
    });
  });
  for (let i = 0; i < n; i++) {
    const payload = 1000;
    const m = a.mbufs.getm(payload, 16)!;
    m.m_buf.fill(0x61 + i, m.m_data, m.m_data + payload);
    m.m_len = payload;
    m.len = payload;
    ether_output_frame(link.a, m, link.b.if_lladdr, ETHERTYPE_EXP1);
  }
  const timer = setTimeout(() => undefined, 5000);
  await done;
  clearTimeout(timer);
  out('');
  out(`link ${link.a.if_xname}->${link.b.if_xname}: sent ${link.ab.stats.sent}, delivered ${link.ab.stats.delivered}, max queue ${link.ab.stats.maxq} frames`);
  out(
    `${b.name} ${link.b.if_xname}: ipackets ${link.b.if_data.ipackets}, ibytes ${link.b.if_data.ibytes}, noproto ${link.b.if_data.noproto} (no protocol handles the experimental EtherType yet)`,
  );
  a.destroy();
  b.destroy();
  return 0;
}
