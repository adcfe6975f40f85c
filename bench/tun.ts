/*
 * bsdnet bench tun: the TUN path measured against the Linux kernel, in network namespaces
 * made for the run (root needed; without it every figure is null and `skipped` says why).
 *
 *  driver_pps_64 / driver_pps_1400: packets per second the driver moves both ways on the
 *    real path — Linux (python3) floods UDP datagrams of that IP size into the device; the
 *    driver's receive thread reads them into the ring, the soft task makes each an mbuf,
 *    and a reflector in place of the stack's input swaps addresses and ports (checksums
 *    unchanged) and writes it back through if_output. The figure is the rate of packets
 *    written back (each read from and written to the device once), from the interface
 *    counters over the measurement window. The offered load and the drops on each side are
 *    reported beside it, so one can see whether the driver or the sender was the limit.
 *  udp_echo_pps_64 / udp_echo_pps_1400: the same flood through the whole stack (ip_input,
 *    udp_input, a stack.dgram echo socket, udp_output, ip_output): datagrams echoed per second.
 *  veth_linux_gbps: Linux → Linux TCP over a veth pair between two namespaces (python3 sender
 *    and receiver, bytes counted by the receiver), in the same run.
 *  to_linux_gbps / from_linux_gbps: one bsdnet TCP connection over the TUN each way, against
 *    a python3 peer in the namespace (receiver-side goodput: payload bytes from the first to
 *    the last byte received), for tcp_seconds (10 s × BSDNET_BENCH_SCALE) or 4 GiB, whichever
 *    comes first. Both ends hash the stream with SHA-256 and the run fails if the hashes or
 *    byte counts differ (tcp_verified: true when they matched).
 *  tun_tcp_ratio_to_driver: the lower of the two TCP figures over what the driver alone
 *    carries at 1400 B (driver_pps_1400 × 1400 × 8); the goal is ≥ 0.5.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Stack } from '../src/api/stack.js';
import type { RemoteInfo } from '../src/api/dgram.js';
import type { Mbuf } from '../src/mbuf/mbuf.js';
import type { Ifnet } from '../src/net/if.js';
import { tun_create, tun_softc } from '../src/net/if_tun.js';
import type { BenchContext, BenchResult } from './harness.js';
import { round } from './harness.js';

const LINUX4 = '10.99.0.1';
const BSD4 = '10.99.0.2';
const AF_INET = 2;

function skipReason(): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (network namespaces, /dev/net/tun)';
  if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    execFileSync('python3', ['-c', 'pass'], { stdio: 'ignore' });
  } catch {
    return 'needs iproute2 (ip netns) and python3';
  }
  return null;
}

class Ns {
  readonly name = `bsdnet-b-${randomBytes(4).toString('hex')}`;
  private readonly kids: ChildProcess[] = [];
  constructor() {
    execFileSync('ip', ['netns', 'add', this.name]);
    this.ip('link', 'set', 'lo', 'up');
  }
  ip(...args: string[]): string {
    return execFileSync('ip', ['-n', this.name, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }
  /** Start python3 with `script`; resolves with its stdout when it exits (bounded). */
  py(script: string, timeoutMs: number): { ready: Promise<void>; done: Promise<string> } {
    const c = spawn('ip', ['netns', 'exec', this.name, 'python3', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.kids.push(c);
    let out = '';
    let err = '';
    let readyFn: () => void = () => undefined;
    const ready = new Promise<void>((r) => {
      readyFn = r;
    });
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) readyFn();
    });
    c.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const done = new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => {
        c.kill('SIGKILL');
        reject(new Error(`python3 timed out: ${err.slice(-300)}`));
      }, timeoutMs);
      c.on('exit', (code) => {
        clearTimeout(t);
        if (code === 0) resolve(out);
        else reject(new Error(`python3 exited ${code}: ${err.slice(-500)}`));
      });
    });
    done.catch(() => undefined);
    return { ready, done };
  }
  close(): void {
    for (const c of this.kids) if (c.exitCode === null) c.kill('SIGKILL');
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // gone
    }
  }
}

/** python3: flood UDP datagrams of IP size `ipSize` to dst:port for `secs`; print the count. */
function floodScript(dst: string, port: number, ipSize: number, secs: number): string {
  return [
    'import socket, time',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)',
    `s.bind((${JSON.stringify(LINUX4)}, 40000))`,
    `s.connect((${JSON.stringify(dst)}, ${port}))`,
    `b = bytes(${ipSize - 28})`,
    "print('ready', flush=True)",
    'n = 0',
    `end = time.time() + ${secs}`,
    'snd = s.send',
    'while True:',
    '    for _ in range(256):',
    '        try:',
    '            snd(b)',
    '            n += 1',
    '        except OSError:',
    '            pass',
    '    if time.time() >= end:',
    '        break',
    "print('sent', n, flush=True)",
  ].join('\n');
}

function linkStats(ns: Ns, dev: string): { txDropped: number } {
  const out = ns.ip('-s', 'link', 'show', dev);
  // TX:  bytes packets errors dropped ... (next line holds the numbers)
  const m = /TX:[^\n]*\n\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(out);
  return { txDropped: m ? Number(m[4]) : 0 };
}

/** Swap IPv4 source/destination addresses and UDP ports in place (checksums unchanged). */
function reflect(ifp: Ifnet, m: Mbuf): void {
  const b = m.m_buf;
  const o = m.m_data;
  if (m.m_len < 28 || (b[o] as number) >> 4 !== 4) {
    ifp.if_output(ifp, m, { family: AF_INET }, null);
    return;
  }
  for (let i = 0; i < 4; i++) {
    const t = b[o + 12 + i] as number;
    b[o + 12 + i] = b[o + 16 + i] as number;
    b[o + 16 + i] = t;
  }
  const hl = ((b[o] as number) & 0xf) * 4;
  for (let i = 0; i < 2; i++) {
    const t = b[o + hl + i] as number;
    b[o + hl + i] = b[o + hl + 2 + i] as number;
    b[o + hl + 2 + i] = t;
  }
  ifp.if_output(ifp, m, { family: AF_INET }, null);
}

interface PpsResult {
  pps: number;
  rxPps: number;
  offeredPps: number;
  ringDrops: number;
  linuxTxDrops: number;
  pktsPerRun: number;
}

export async function measurePps(ctx: BenchContext, ipSize: number, mode: 'driver' | 'stack', secs: number): Promise<PpsResult> {
  const ns = new Ns();
  const stack = new Stack({ name: 'bench', seed: 1 });
  try {
    const ifp = tun_create(stack.vnet, { name: 'bb0', netns: ns.name });
    const sc = tun_softc(ifp);
    ns.ip('addr', 'add', `${LINUX4}/24`, 'dev', 'bb0');
    ns.ip('link', 'set', 'bb0', 'up');
    stack.addAddress(ifp, `${BSD4}/24`);
    if (mode === 'driver') ifp.if_input = reflect;
    else {
      const s = stack.dgram.createSocket('udp4');
      s.on('message', (msg: Buffer, rinfo: RemoteInfo) => s.send(msg, rinfo.port, rinfo.address));
      await new Promise<void>((r) => s.bind(9, BSD4, r));
    }
    const flood = ns.py(floodScript(BSD4, 9, ipSize, secs + 1.5), (secs + 20) * 1000);
    await flood.ready;
    // Warm up (JIT, pools) for 0.5 s, then measure over `secs`.
    await new Promise((r) => setTimeout(r, 500));
    const d = ifp.if_data;
    const i0 = d.ipackets;
    const o0 = d.opackets;
    const r0 = sc?.stats().ringDrops ?? 0;
    const runs0 = sc?.rxRuns ?? 0;
    const drops0 = linkStats(ns, 'bb0').txDropped;
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, secs * 1000));
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    const i1 = d.ipackets;
    const o1 = d.opackets;
    const r1 = sc?.stats().ringDrops ?? 0;
    const runs1 = sc?.rxRuns ?? 0;
    const drops1 = linkStats(ns, 'bb0').txDropped;
    const out = await flood.done;
    const sent = Number(/sent (\d+)/.exec(out)?.[1] ?? 0);
    const res: PpsResult = {
      pps: Math.round((o1 - o0) / dt),
      rxPps: Math.round((i1 - i0) / dt),
      offeredPps: Math.round(sent / (secs + 1.5)),
      ringDrops: r1 - r0,
      linuxTxDrops: drops1 - drops0,
      pktsPerRun: round((i1 - i0) / Math.max(1, runs1 - runs0), 1),
    };
    ctx.log(
      `${mode} ${ipSize} B: ${res.pps} pkt/s out (${res.rxPps} in; offered ~${res.offeredPps}; ring drops ${res.ringDrops}, Linux tun TX drops ${res.linuxTxDrops}; ${res.pktsPerRun} pkts per soft run)`,
    );
    return res;
  } finally {
    stack.destroy();
    ns.close();
  }
}

/** Linux → Linux TCP over a veth pair between two namespaces (python3 both ends). */
export async function measureVeth(ctx: BenchContext, secs: number): Promise<number> {
  const a = new Ns();
  const b = new Ns();
  try {
    a.ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name);
    a.ip('addr', 'add', '10.77.0.1/24', 'dev', 'va');
    b.ip('addr', 'add', '10.77.0.2/24', 'dev', 'vb');
    a.ip('link', 'set', 'va', 'up');
    b.ip('link', 'set', 'vb', 'up');
    const sink = b.py(
      [
        'import socket, time',
        's = socket.socket()',
        's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
        "s.bind(('10.77.0.2', 5001))",
        's.listen(1)',
        "print('ready', flush=True)",
        'c, _ = s.accept()',
        'buf = bytearray(1 << 20)',
        'n = 0',
        't0 = None',
        'while True:',
        '    k = c.recv_into(buf)',
        '    if k == 0:',
        '        break',
        '    if t0 is None:',
        '        t0 = time.time()',
        '    n += k',
        'dt = time.time() - t0',
        "print('bytes', n, 'secs', dt, flush=True)",
      ].join('\n'),
      (secs + 30) * 1000,
    );
    await sink.ready;
    const src = a.py(
      [
        'import socket, time',
        "s = socket.create_connection(('10.77.0.2', 5001))",
        'b = bytes(1 << 20)',
        "print('ready', flush=True)",
        `end = time.time() + ${secs}`,
        'while time.time() < end:',
        '    s.sendall(b)',
        's.close()',
      ].join('\n'),
      (secs + 30) * 1000,
    );
    await src.done;
    const out = await sink.done;
    const m = /bytes (\d+) secs ([\d.e+-]+)/.exec(out);
    if (m === null) throw new Error(`veth sink said: ${out}`);
    const gbps = (Number(m[1]) * 8) / Number(m[2]) / 1e9;
    ctx.log(`veth Linux → Linux: ${round(gbps, 2)} Gbit/s (${(Number(m[1]) / 2 ** 30).toFixed(2)} GiB in ${Number(m[2]).toFixed(1)} s)`);
    return gbps;
  } finally {
    a.close();
    b.close();
  }
}

/** Most bytes one TCP measurement moves (the "30 s or 4 GiB"). */
const TCP_MAX_BYTES = 4 * 2 ** 30;
/* The data: a 64 MiB random pool, sent as 1 MiB slices starting at offsets that step by a
 * prime, so consecutive slices differ and any lost, duplicated or misplaced byte changes the
 * hash. Both ends hash exactly what passed through the connection. */
const POOL = 64 * 2 ** 20;
const SLICE = 2 ** 20;
const STEP = 1_000_003;

interface TcpResult {
  gbps: number;
  bytes: number;
  secs: number;
  retransmits: number;
}

/** One TCP connection, bsdnet → Linux ('to') or Linux → bsdnet ('from'), time-bounded. */
export async function measureTcp(ctx: BenchContext, dir: 'to' | 'from', secs: number): Promise<TcpResult> {
  const ns = new Ns();
  const stack = new Stack({ name: 'bench', seed: 1 });
  try {
    const ifp = tun_create(stack.vnet, { name: 'bt0', netns: ns.name });
    ns.ip('addr', 'add', `${LINUX4}/24`, 'dev', 'bt0');
    ns.ip('link', 'set', 'bt0', 'up');
    stack.addAddress(ifp, `${BSD4}/24`);
    const st = stack.vnet.tcp.stat;
    const rexmt0 = st.tcps_sndrexmitpack;
    const port = 5201;
    let linux: { ready: Promise<void>; done: Promise<string> };
    let bsd: { sha: string; bytes: number; secs: number };
    if (dir === 'to') {
      linux = ns.py(
        [
          'import hashlib, socket, time',
          's = socket.socket()',
          's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
          `s.bind((${JSON.stringify(LINUX4)}, ${port}))`,
          's.listen(1)',
          "print('ready', flush=True)",
          'c, _ = s.accept()',
          'h = hashlib.sha256()',
          'buf = bytearray(1 << 20)',
          'mv = memoryview(buf)',
          'n = 0',
          't0 = None',
          'while True:',
          '    k = c.recv_into(buf)',
          '    if k == 0:',
          '        break',
          '    if t0 is None:',
          '        t0 = time.time()',
          '    h.update(mv[:k])',
          '    n += k',
          'dt = time.time() - t0',
          'c.close()',
          "print('sha', h.hexdigest(), n, 'secs', dt, flush=True)",
        ].join('\n'),
        (secs + 60) * 1000,
      );
      await linux.ready;
      const pool = randomBytes(POOL);
      const sock = stack.net.connect({ port, host: LINUX4 });
      bsd = await new Promise((resolve, reject) => {
        const h = createHash('sha256');
        let n = 0;
        let off = 0;
        let end = 0;
        sock.once('error', reject);
        const pump = (): void => {
          for (;;) {
            if (n >= TCP_MAX_BYTES || Date.now() >= end) {
              sock.end(() => resolve({ sha: h.digest('hex'), bytes: n, secs: 0 }));
              return;
            }
            const chunk = pool.subarray(off, off + SLICE);
            off = (off + STEP) % (POOL - SLICE);
            h.update(chunk);
            n += chunk.length;
            if (!sock.write(chunk)) {
              sock.once('drain', pump);
              return;
            }
          }
        };
        sock.once('connect', () => {
          end = Date.now() + secs * 1000;
          pump();
        });
      });
    } else {
      linux = ns.py(
        [
          'import hashlib, os, socket, time',
          `pool = os.urandom(${POOL})`,
          'mv = memoryview(pool)',
          's = socket.socket()',
          's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
          `s.bind((${JSON.stringify(LINUX4)}, ${port}))`,
          's.listen(1)',
          "print('ready', flush=True)",
          'c, _ = s.accept()',
          'h = hashlib.sha256()',
          'n = 0',
          'off = 0',
          `end = time.time() + ${secs}`,
          `while n < ${TCP_MAX_BYTES} and time.time() < end:`,
          `    b = mv[off:off + ${SLICE}]`,
          `    off = (off + ${STEP}) % (${POOL - SLICE})`,
          '    h.update(b)',
          '    c.sendall(b)',
          '    n += len(b)',
          'c.shutdown(socket.SHUT_WR)',
          'c.recv(1)',
          'c.close()',
          "print('sha', h.hexdigest(), n, flush=True)",
        ].join('\n'),
        (secs + 60) * 1000,
      );
      await linux.ready;
      const sock = stack.net.connect({ port, host: LINUX4 });
      bsd = await new Promise((resolve, reject) => {
        const h = createHash('sha256');
        let n = 0;
        let t0 = 0n;
        sock.on('data', (d: Buffer) => {
          if (n === 0) t0 = process.hrtime.bigint();
          h.update(d);
          n += d.length;
        });
        sock.once('end', () => {
          const dt = Number(process.hrtime.bigint() - t0) / 1e9;
          sock.end();
          resolve({ sha: h.digest('hex'), bytes: n, secs: dt });
        });
        sock.once('error', reject);
      });
    }
    const out = await linux.done;
    const m = /sha ([0-9a-f]{64}) (\d+)(?: secs ([\d.e+-]+))?/.exec(out);
    if (m === null) throw new Error(`python3 peer said: ${out}`);
    const linuxBytes = Number(m[2]);
    if (m[1] !== bsd.sha || linuxBytes !== bsd.bytes)
      throw new Error(`TCP ${dir} Linux: stream corrupted or incomplete (bsdnet ${bsd.bytes} B ${bsd.sha}, Linux ${linuxBytes} B ${m[1]})`);
    const dt = dir === 'to' ? Number(m[3]) : bsd.secs;
    const res: TcpResult = { gbps: (bsd.bytes * 8) / dt / 1e9, bytes: bsd.bytes, secs: dt, retransmits: st.tcps_sndrexmitpack - rexmt0 };
    ctx.log(
      `TCP bsdnet ${dir === 'to' ? '→' : '←'} Linux: ${round(res.gbps, 3)} Gbit/s (${(res.bytes / 2 ** 20).toFixed(0)} MiB in ${dt.toFixed(1)} s, SHA-256 equal; ${res.retransmits} segments retransmitted by bsdnet)`,
    );
    return res;
  } finally {
    stack.destroy();
    ns.close();
  }
}

export async function bench(ctx: BenchContext): Promise<BenchResult> {
  const why = skipReason();
  if (why !== null) {
    return {
      to_linux_gbps: null,
      from_linux_gbps: null,
      tun_tcp_ratio_to_driver: null,
      driver_pps_64: null,
      driver_pps_1400: null,
      veth_linux_gbps: null,
      udp_echo_pps_64: null,
      udp_echo_pps_1400: null,
      skipped: why,
    };
  }
  const secs = Math.max(1, Math.round(3 * ctx.scale));
  const d64 = await measurePps(ctx, 64, 'driver', secs);
  const d1400 = await measurePps(ctx, 1400, 'driver', secs);
  const u64 = await measurePps(ctx, 64, 'stack', secs);
  const u1400 = await measurePps(ctx, 1400, 'stack', secs);
  const veth = await measureVeth(ctx, Math.max(2, Math.round(5 * ctx.scale)));
  const tcpSecs = Math.max(2, Math.round(10 * ctx.scale));
  const to = await measureTcp(ctx, 'to', tcpSecs);
  const from = await measureTcp(ctx, 'from', tcpSecs);
  const driverGbps = (d1400.pps * 1400 * 8) / 1e9;
  return {
    to_linux_gbps: round(to.gbps, 3),
    from_linux_gbps: round(from.gbps, 3),
    tun_tcp_ratio_to_driver: driverGbps > 0 ? round(Math.min(to.gbps, from.gbps) / driverGbps, 3) : null,
    to_linux_ratio_to_driver: driverGbps > 0 ? round(to.gbps / driverGbps, 3) : null,
    from_linux_ratio_to_driver: driverGbps > 0 ? round(from.gbps / driverGbps, 3) : null,
    to_linux_bytes: to.bytes,
    from_linux_bytes: from.bytes,
    to_linux_retransmits: to.retransmits,
    tcp_seconds: tcpSecs,
    tcp_verified: true,
    driver_pps_64: d64.pps,
    driver_pps_1400: d1400.pps,
    driver_gbps_1400: round((d1400.pps * 1400 * 8) / 1e9, 3),
    driver_rx_pps_64: d64.rxPps,
    driver_rx_pps_1400: d1400.rxPps,
    offered_pps_64: d64.offeredPps,
    offered_pps_1400: d1400.offeredPps,
    driver_ring_drops_64: d64.ringDrops,
    driver_ring_drops_1400: d1400.ringDrops,
    linux_tun_tx_drops_64: d64.linuxTxDrops,
    linux_tun_tx_drops_1400: d1400.linuxTxDrops,
    driver_pkts_per_soft_run_64: d64.pktsPerRun,
    udp_echo_pps_64: u64.pps,
    udp_echo_pps_1400: u1400.pps,
    veth_linux_gbps: round(veth, 3),
    seconds_per_measurement: secs,
  };
}
