/*
 * bench vtw: NetBSD's Vestigial TIME_WAIT experiment, data-structure part.
 *
 * Measures, with 1M vestiges per family (MSLT off, so one classless ring holds them all):
 *   - bytes_per_entry_v4 / _v6: heap growth per vestige (V8 heap + ArrayBuffer backing
 *     stores, after a full GC on both sides) — every structure included: record arena,
 *     fat-pointer lines and anchors, port table, local-address table, expiry batches;
 *     also at 64k (bytes_per_entry_v4_64k / _v6_64k, the seed's table size);
 *   - lookup_hit_ns / lookup_miss_ns: IPv4 lookups in random order at 1M (a miss has a known
 *     local address and an unknown peer, so it walks a whole bucket); insert_ns likewise;
 *   - max_gc_pause_ms_1m: the longest GC pause (perf_hooks 'gc' entries) while filling 1M
 *     IPv4 + 1M IPv6 vestiges and expiring them all under virtual time.
 *     Tables are sized by writing net.inet.tcp.vtw.entries (which allocates them, as at boot);
 *     the pauses of that allocation (V8 runs a full GC of the whole JS heap when external
 *     memory grows by tens of MB) are reported apart as max_gc_pause_ms_alloc.
 *   - lookup_hit_ns_64k / lookup_miss_ns_64k and tags_probed_per_lookup_64k: the same lookups
 *     in a 64k table, to compare with 1M (O(1): the probe count stays flat; the ns also pay
 *     for a 30 MB table no longer fitting the CPU caches).
 *   - conns_per_s_vtw / conns_per_s_full, cpu_us_per_conn_vtw / _full: the seed's
 *     experiment ("a test workload that creates TIME_WAIT sessions as fast as it can", with
 *     about 64k of them alive). Two Stacks joined by an epair (socket layer, VirtualClock:
 *     soft work is drained without advancing time, and virtual time moves a fixed step per
 *     64 connections so timers run; rates are wall-clock and CPU time of the process, both
 *     stacks included, GC threads too). Stack a opens connections to listening ports of b as
 *     fast as it can, closes first (so a holds the TIME_WAIT), b closes. MSLT off.
 *     Two shapes of the experiment, with VTW on and off:
 *       * steady (the headline fields): TIME_WAIT expires as in the seed's run. Virtual time
 *         moves 2 s per 64k connections and net.inet.tcp.msl is 1 s, so the population holds
 *         at 64k: every new TIME_WAIT replaces one that expires. One turnover (64k
 *         connections) is made untimed (the population, and the JIT warm-up: the same work
 *         in both modes), then VTW_TURNS turnovers (default 3, 196,608 connections) are
 *         timed, so the cost of TIME_WAIT state dying — expiry, and with full tcpcbs the
 *         old-generation garbage that V8 must mark and compact — is inside the window, as
 *         it is in a long-running server. TIME_WAIT count at both ends of the window:
 *         tw_start / tw_end.
 *       * growing (fields ending _growing): 2×MSL longer than the run (net.inet.tcp.msl =
 *         1 h) so TIME_WAIT only grows: 64k made untimed, then VTW_TW_MEASURE timed on top.
 *         No TIME_WAIT dies, so this shows the cost of creating it alone, and gives the heap
 *         per TIME_WAIT connection in each mode (tw_heap_bytes_per_conn_*).
 *     Every run is a fresh child process (no JIT feedback, heap or machine state carried
 *     from one mode to the other); the modes alternate, the order flips each round, and the
 *     medians over the rounds are reported with their spread (_min/_max) and the GC time
 *     inside the timed window (gc_us_per_conn_*, scavenges and mark-compacts).
 *     Steady at 64k (the seed's size) and 256k; growing at 64k, and at 1M with
 *     VTW_BENCH_1M=1 (full mode: ~3.5 GB of heap). Rounds: VTW_BENCH_ROUNDS (default 5;
 *     2 at 256k/1M).
 *
 * Heap figures need global.gc: without --expose-gc the bench re-runs itself in a child node
 * with the flag and reports the child's figures.
 */

import { spawnSync } from 'node:child_process';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Stack } from '../src/api/stack.js';
import { VirtualClock } from '../src/kern/clock.js';
import { AF_INET, parseAddress, type Sockaddr } from '../src/netinet/in.js';
import { TCPS_TIME_WAIT } from '../src/netinet/tcp_fsm.js';
import { tcp_states } from '../src/netinet/tcp_subr.js';
import { SOCK_STREAM } from '../src/sys/protosw.js';
import { type Socket, soaccept, sobind, soclose, soconnect, socreate, solisten } from '../src/sys/socket.js';
import { IPPROTO_TCP } from '../src/wire/ipv4.js';
import { MSLT_REMOTE } from '../src/netinet/tcp_mslt.js';
import { VTW_F_TS, type Vtw } from '../src/netinet/tcp_vtw.js';
import { Vnet } from '../src/vnet.js';
import { type BenchContext, type BenchResult, consume, round } from './harness.js';

const N = 1 << 20;
const L4 = 0x0a000001;
const F4 = 0xc6120000; // 198.18.0.0/15 (benchmarking range)
const PORTS = 60000;

type Gc = () => void;

function gcNow(): void {
  const gc = (globalThis as { gc?: Gc }).gc as Gc;
  gc();
  gc();
}

function mem(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function mkVtw(entries: number): { clock: VirtualClock; V: Vnet; vtw: Vtw } {
  const clock = new VirtualClock();
  const V = new Vnet({ clock, seed: 42, loopback: false });
  // tcp_init created V.vtw; size it for the run.
  const vtw = V.vtw;
  V.sysctl.set('net.inet.tcp.vtw.entries', entries);
  V.sysctl.set('net.inet.tcp.mslt.enable', 0);
  return { clock, V, vtw };
}

// Addresses are passed as int32 (`| 0`; the API takes either sign): a uint32 above 2^31 is a
// double, and the driver loop would box one HeapNumber per call — 16 MB of garbage per 1M
// inserts that the bench, not VTW, makes.
function fill4(vtw: Vtw, n: number): void {
  for (let i = 0; i < n; i++) vtw.insert4(L4, 1024 + (i % PORTS), (F4 + ((i / PORTS) | 0)) | 0, 443, i, i ^ 0x5a5a, 4096, i, VTW_F_TS, MSLT_REMOTE);
}

const LA6 = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

function fill6(vtw: Vtw, n: number): void {
  const fa = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  for (let i = 0; i < n; i++) {
    fa[12] = i >>> 24;
    fa[13] = (i >>> 16) & 0xff;
    fa[14] = (i >>> 8) & 0xff;
    fa[15] = i & 0xff;
    vtw.insert6(LA6, 0, 1024 + (i % PORTS), fa, 0, 443, i, i, 4096, i, VTW_F_TS, MSLT_REMOTE);
  }
}

/**
 * Heap bytes per vestige for `n` vestiges of one family (fresh Vnet, full GCs around; the
 * baseline is taken before the tables are sized, so the whole table is counted).
 */
function bytesPerEntry(v6: boolean, n: number, entries: number): number {
  const clock = new VirtualClock();
  const V = new Vnet({ clock, seed: 42, loopback: false });
  const vtw = V.vtw;
  V.sysctl.set(v6 ? 'net.inet.tcp.vtw.enable' : 'net.inet6.tcp6.vtw.enable', 0);
  gcNow();
  const empty = mem();
  V.sysctl.set('net.inet.tcp.mslt.enable', 0);
  V.sysctl.set('net.inet.tcp.vtw.entries', entries);
  if (v6) fill6(vtw, n);
  else fill4(vtw, n);
  gcNow();
  const full = mem();
  if ((v6 ? vtw.count6 : vtw.count4) !== n) throw new Error('vtw bench: fill lost vestiges');
  if ((v6 ? vtw.bytes(false) : vtw.bytes(true)) !== 0) throw new Error('vtw bench: the other family has tables');
  V.destroy();
  // The Vnet itself (sysctl tree, lo-less interfaces, zones) is not VTW memory.
  return (full - empty) / n;
}

/** ns per IPv4 lookup in random order over the `n` filled entries (best of 3 × 1M). */
function nsLookups(vtw: Vtw, hit: boolean, n: number): number {
  let best = Infinity;
  const mask = N - 1;
  for (let r = 0; r < 3; r++) {
    let h = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const j = ((i * 40503 + 12345) & mask) % n;
      const fa = (F4 + ((j / PORTS) | 0) + (hit ? 0 : 4096)) | 0;
      h += vtw.lookup4(L4, 1024 + (j % PORTS), fa, 443);
    }
    const dt = Number(process.hrtime.bigint() - t0);
    consume(h);
    if (dt < best) best = dt;
  }
  return best / N;
}

// --- connection rate with 64k TIME_WAIT (VTW on vs off) ---

/** TIME_WAIT populations (connections made untimed before the measured ones). */
const TW_64K = 65536;
const TW_256K = 262144;
const TW_1M = 1048576;
/** Growing: connections measured on top of the population. */
const VTW_TW_MEASURE = 16384;
/** Steady: turnovers of the population measured (after one untimed). */
const VTW_TURNS = Number(process.env.VTW_TURNS ?? 3);

function sa(s: string, port: number): Sockaddr {
  const a = parseAddress(s, port);
  if (a === null) throw new Error(s);
  return a;
}

function tcpSock(st: Stack): Socket {
  const r = socreate(st.vnet, AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (r.so === null) throw new Error(`socreate: ${r.error}`);
  return r.so;
}

interface Rate {
  connsPerS: number;
  cpuUsPerConn: number;
  heapPerTw: number;
  /** GC inside the timed window: total ms, scavenges, mark-compacts (count and ms), longest. */
  gcMs: number;
  gcUsPerConn: number;
  scavenges: number;
  markCompacts: number;
  mcMs: number;
  maxPauseMs: number;
  heapMB: number;
  /** TIME_WAIT connections on a when the timed window opens and when it closes. */
  twStart: number;
  twEnd: number;
}

/**
 * One run (in its own process): a → b connections (a closes first), with
 * net.inet.tcp.vtw.enable = `vtw` on a. Growing: `base` untimed, then VTW_TW_MEASURE timed,
 * nothing expires. Steady: TIME_WAIT lasts as long as `base` connections take in virtual
 * time, so the population holds at `base`; `base` untimed, then VTW_TURNS × `base` timed.
 */
async function connRate(vtw: boolean, base: number, steady: boolean): Promise<Rate> {
  const measured = steady ? base * VTW_TURNS : VTW_TW_MEASURE;
  const total = base + measured;
  // Enough 4-tuples for the TIME_WAIT alive at once: 64512 local ports per server port.
  const nports = Math.ceil((steady ? base : total) / 60000) + 1;
  const serverPorts: number[] = [];
  for (let k = 0; k < nports; k++) serverPorts.push(8001 + k);
  const clock = new VirtualClock();
  const a = new Stack({ name: 'a', clock, seed: 5 });
  const b = new Stack({ name: 'b', clock, seed: 6 });
  const [ia, ib] = Stack.epair(a, b);
  a.addAddress(ia, '10.0.0.1/24');
  b.addAddress(ib, '10.0.0.2/24');
  a.setUp(ia, true);
  b.setUp(ib, true);
  for (const st of [a, b]) {
    const s = st.vnet.sysctl;
    s.set('net.inet.tcp.vtw.enable', vtw ? 1 : 0);
    // Room for the TIME_WAIT alive at once (steady: the population, twice over for the
    // 200 ms expiry batches), as an administrator sizes it for the load.
    s.set('net.inet.tcp.vtw.entries', 2 ** Math.ceil(Math.log2(steady ? 2 * base : total)));
    s.set('net.inet.tcp.mslt.enable', 0);
    s.set('net.inet.tcp.msl', steady ? 1000 : 3_600_000);
    // A full TIME_WAIT keeps its socket: with 1M of them the default kern.ipc.maxsockets
    // (2^20) is too small, and the administrator raises it as for vtw.entries.
    s.set('kern.ipc.maxsockets', Math.max(s.get('kern.ipc.maxsockets') as number, 2 * total + 1024));
    s.set('net.inet.ip.portrange.first', 1024);
    s.set('net.inet.ip.portrange.last', 65535);
  }
  const ls: Socket[] = [];
  for (const p of serverPorts) {
    const l = tcpSock(b);
    if (sobind(l, sa('10.0.0.2', p)) !== 0 || solisten(l, 1024) !== 0) throw new Error('listen');
    ls.push(l);
  }
  const dsts = serverPorts.map((p) => sa('10.0.0.2', p));
  // Virtual ns per 64 connections: steady, 2×MSL (2 s) per `base` connections.
  const step = steady ? (2e9 / base) * 64 : 1_000_000;
  let made = 0;
  const one = (i: number): void => {
    const k = i % nports;
    const c = tcpSock(a);
    const e = soconnect(c, dsts[k] as Sockaddr);
    if (e !== 0) throw new Error(`connect: ${e}`);
    clock.drain();
    const acc = soaccept(ls[k] as Socket);
    if (acc.so === null) throw new Error(`accept failed at ${i}`);
    soclose(c); // a: FIN_WAIT_1
    clock.drain();
    soclose(acc.so); // b: LAST_ACK → a: TIME_WAIT
    clock.drain();
    if ((i & 63) === 63) clock.advance(step);
    made++;
  };
  for (let i = 0; i < base; i++) one(i);
  if (!steady) clock.advance(100_000_000);
  gcNow();
  const heap0 = mem();
  const tw0 = tcp_states(a.vnet)[TCPS_TIME_WAIT] as number;
  // GC entries arrive asynchronously; keep those that started inside the window.
  const gcs: { start: number; dur: number; kind: number }[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      gcs.push({ start: e.startTime, dur: e.duration, kind: (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0 });
  });
  obs.observe({ entryTypes: ['gc'] });
  const p0 = performance.now();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = base; i < total; i++) one(i);
  if (!steady) clock.advance(100_000_000);
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const p1 = performance.now();
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  const heapMB = process.memoryUsage().heapUsed / 1e6;
  gcNow();
  const heap1 = mem();
  const tw = tcp_states(a.vnet)[TCPS_TIME_WAIT] as number;
  if (steady) {
    // The population holds: within the 200 ms expiry batches of VTW (6.6k of 64k).
    if (Math.abs(tw0 - base) > base / 8 || Math.abs(tw - base) > base / 8) throw new Error(`vtw bench: ${tw0}/${tw} TIME_WAIT, expected about ${base}`);
  } else if (tw0 !== base || tw !== made) throw new Error(`vtw bench: ${tw0}/${tw} TIME_WAIT, expected ${base}/${made}`);
  if (vtw && a.vnet.vtw.count4 !== tw) throw new Error('vtw bench: not all TIME_WAIT connections became vestiges');
  if (!vtw && a.vnet.vtw.count4 !== 0) throw new Error('vtw bench: vestiges with VTW off');
  a.destroy();
  b.destroy();
  let gcMs = 0;
  let scavenges = 0;
  let markCompacts = 0;
  let mcMs = 0;
  let maxPauseMs = 0;
  for (const g of gcs) {
    if (g.start < p0 || g.start > p1) continue;
    gcMs += g.dur;
    if (g.dur > maxPauseMs) maxPauseMs = g.dur;
    if (g.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      markCompacts++;
      mcMs += g.dur;
    } else if (g.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
  }
  return {
    connsPerS: measured / dt,
    cpuUsPerConn: (cpu.user + cpu.system) / measured,
    gcUsPerConn: (1000 * gcMs) / measured,
    heapPerTw: steady ? 0 : (heap1 - heap0) / measured,
    twStart: tw0,
    twEnd: tw,
    gcMs,
    scavenges,
    markCompacts,
    mcMs,
    maxPauseMs,
    heapMB,
  };
}

/** Run connRate in a fresh node process. */
function connRateChild(vtw: boolean, base: number, steady: boolean): Rate {
  const self = fileURLToPath(import.meta.url);
  const heapMb = base >= TW_1M ? 8192 : 4096;
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', `--max-old-space-size=${heapMb}`, self, '--vtw-rate', vtw ? 'on' : 'off', String(base), steady ? 'steady' : 'growing'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    },
  );
  if (r.status !== 0) throw new Error(`vtw bench rate child failed (${r.status ?? r.signal})`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as Rate;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length & 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

interface RateSummary {
  on: Rate[];
  off: Rate[];
}

/** `rounds` rounds of (on, off), the order flipped every round, each run its own process. */
function rateRounds(base: number, steady: boolean, rounds: number, log: (m: string) => void): RateSummary {
  const on: Rate[] = [];
  const off: Rate[] = [];
  for (let k = 0; k < rounds; k++) {
    for (const mode of k & 1 ? [false, true] : [true, false]) {
      const r = connRateChild(mode, base, steady);
      (mode ? on : off).push(r);
      log(
        `  ${steady ? 'steady' : 'growing'} ${base} TIME_WAIT, VTW ${mode ? 'on ' : 'off'}: ${round(r.connsPerS, 0)} conn/s, ${round(r.cpuUsPerConn, 1)} µs CPU/conn, ` +
          `GC ${round(r.gcMs, 0)} ms (${r.scavenges} scavenges, ${r.markCompacts} mark-compacts ${round(r.mcMs, 0)} ms, max ${round(r.maxPauseMs, 1)} ms), heap ${round(r.heapMB, 0)} MB`,
      );
    }
  }
  return { on, off };
}

/** The JSON fields of one experiment: medians, spreads, GC. `sfx` is '' for steady at 64k. */
function rateFields(s: RateSummary, sfx: string, steady: boolean): BenchResult {
  const o: BenchResult = {};
  const f = (name: string, xs: number[], d: number, spread: boolean): void => {
    o[`${name}${sfx}`] = round(median(xs), d);
    if (spread) {
      o[`${name}${sfx}_min`] = round(Math.min(...xs), d);
      o[`${name}${sfx}_max`] = round(Math.max(...xs), d);
    }
  };
  f(
    'conns_per_s_vtw',
    s.on.map((r) => r.connsPerS),
    0,
    true,
  );
  f(
    'conns_per_s_full',
    s.off.map((r) => r.connsPerS),
    0,
    true,
  );
  o[`conns_ratio_vtw_full${sfx}`] = round(median(s.on.map((r) => r.connsPerS)) / median(s.off.map((r) => r.connsPerS)), 3);
  // Per round (runs paired in order): the spread of the ratio.
  const ratios = s.on.map((r, k) => r.connsPerS / (s.off[k] as Rate).connsPerS);
  o[`conns_ratio_vtw_full${sfx}_min`] = round(Math.min(...ratios), 3);
  o[`conns_ratio_vtw_full${sfx}_max`] = round(Math.max(...ratios), 3);
  // Connections per CPU-second of the process: the rate without the time other tenants of a
  // shared machine take from it (wall-clock rates above include that).
  f(
    'conns_per_cpu_s_vtw',
    s.on.map((r) => 1e6 / r.cpuUsPerConn),
    0,
    false,
  );
  f(
    'conns_per_cpu_s_full',
    s.off.map((r) => 1e6 / r.cpuUsPerConn),
    0,
    false,
  );
  f(
    'cpu_us_per_conn_vtw',
    s.on.map((r) => r.cpuUsPerConn),
    2,
    true,
  );
  f(
    'cpu_us_per_conn_full',
    s.off.map((r) => r.cpuUsPerConn),
    2,
    true,
  );
  f(
    'gc_us_per_conn_vtw',
    s.on.map((r) => r.gcUsPerConn),
    2,
    false,
  );
  f(
    'gc_us_per_conn_full',
    s.off.map((r) => r.gcUsPerConn),
    2,
    false,
  );
  f(
    'gc_mark_compacts_vtw',
    s.on.map((r) => r.markCompacts),
    1,
    false,
  );
  f(
    'gc_mark_compacts_full',
    s.off.map((r) => r.markCompacts),
    1,
    false,
  );
  f(
    'gc_max_pause_ms_vtw',
    s.on.map((r) => r.maxPauseMs),
    2,
    false,
  );
  f(
    'gc_max_pause_ms_full',
    s.off.map((r) => r.maxPauseMs),
    2,
    false,
  );
  if (steady) {
    f(
      'tw_start_vtw',
      s.on.map((r) => r.twStart),
      0,
      false,
    );
    f(
      'tw_end_vtw',
      s.on.map((r) => r.twEnd),
      0,
      false,
    );
    f(
      'tw_start_full',
      s.off.map((r) => r.twStart),
      0,
      false,
    );
    f(
      'tw_end_full',
      s.off.map((r) => r.twEnd),
      0,
      false,
    );
  } else {
    f(
      'tw_heap_bytes_per_conn_vtw',
      s.on.map((r) => r.heapPerTw),
      1,
      false,
    );
    f(
      'tw_heap_bytes_per_conn_full',
      s.off.map((r) => r.heapPerTw),
      1,
      false,
    );
  }
  f(
    'heap_mb_vtw',
    s.on.map((r) => r.heapMB),
    0,
    false,
  );
  f(
    'heap_mb_full',
    s.off.map((r) => r.heapMB),
    0,
    false,
  );
  o[`rounds${sfx}`] = s.on.length;
  return o;
}

async function measure(log: (m: string) => void): Promise<BenchResult> {
  const rounds = Number(process.env.VTW_BENCH_ROUNDS ?? 5);
  const res64 = rateRounds(TW_64K, true, rounds, log);
  const fields64 = rateFields(res64, '', true);
  log(
    `steady 64k TIME_WAIT (median of ${rounds}): VTW ${fields64.conns_per_s_vtw}/s, ${fields64.cpu_us_per_conn_vtw} µs CPU; ` +
      `full ${fields64.conns_per_s_full}/s, ${fields64.cpu_us_per_conn_full} µs CPU (ratio ${fields64.conns_ratio_vtw_full})`,
  );
  const resGrow = rateRounds(TW_64K, false, rounds, log);
  const fieldsGrow = rateFields(resGrow, '_growing', false);
  log(
    `growing from 64k TIME_WAIT (median of ${rounds}): VTW ${fieldsGrow.conns_per_s_vtw_growing}/s, ${fieldsGrow.cpu_us_per_conn_vtw_growing} µs CPU; ` +
      `full ${fieldsGrow.conns_per_s_full_growing}/s, ${fieldsGrow.cpu_us_per_conn_full_growing} µs CPU (ratio ${fieldsGrow.conns_ratio_vtw_full_growing})`,
  );
  const big = Math.max(1, Math.min(rounds, 2));
  const res256 = rateRounds(TW_256K, true, big, log);
  const fields256 = rateFields(res256, '_256k', true);
  log(
    `steady 256k TIME_WAIT: VTW ${fields256.conns_per_s_vtw_256k}/s, full ${fields256.conns_per_s_full_256k}/s (ratio ${fields256.conns_ratio_vtw_full_256k})`,
  );
  let fields1m: BenchResult = {};
  if (process.env.VTW_BENCH_1M === '1') {
    fields1m = rateFields(rateRounds(TW_1M, false, big, log), '_growing_1m', false);
    log(
      `growing from 1M TIME_WAIT: VTW ${fields1m.conns_per_s_vtw_growing_1m}/s, full ${fields1m.conns_per_s_full_growing_1m}/s (ratio ${fields1m.conns_ratio_vtw_full_growing_1m})`,
    );
  }

  const b4_64k = bytesPerEntry(false, 65536, 65536);
  const b6_64k = bytesPerEntry(true, 65536, 65536);
  const b4 = bytesPerEntry(false, N, N);
  const b6 = bytesPerEntry(true, N, N);
  log(`bytes/vestige: IPv4 ${round(b4, 2)} (64k: ${round(b4_64k, 2)}), IPv6 ${round(b6, 2)} (64k: ${round(b6_64k, 2)})`);

  // Lookups in a 64k table (the O(1) comparison).
  const s64 = mkVtw(65536);
  fill4(s64.vtw, 65536);
  const hit64 = nsLookups(s64.vtw, true, 65536);
  const miss64 = nsLookups(s64.vtw, false, 65536);
  const probes64 = s64.vtw.stats.probe[0] / s64.vtw.stats.look[0];
  s64.V.destroy();

  // GC pauses: sizing the 1M + 1M tables (configuration), then filling 1M IPv4 + 1M IPv6,
  // the lookups at 1M, and expiring them all.
  gcNow();
  const gcs: { start: number; dur: number }[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ start: e.startTime, dur: e.duration });
  });
  obs.observe({ entryTypes: ['gc'] });
  const pa = performance.now();
  const { clock, V, vtw } = mkVtw(N);
  const pf = performance.now();
  const t0 = process.hrtime.bigint();
  fill4(vtw, N);
  const insertNs = Number(process.hrtime.bigint() - t0) / N;
  fill6(vtw, N);
  const hitNs = nsLookups(vtw, true, N);
  const missNs = nsLookups(vtw, false, N);
  const st = vtw.stats;
  const probesPerLook = st.probe[0] / st.look[0];
  const linesMax = st.max_chain[0];
  clock.advance(61_000_000_000);
  const pe = performance.now();
  const left = vtw.count4 + vtw.count6;
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  if (left !== 0) throw new Error('vtw bench: vestiges survived 2×MSL');
  V.destroy();
  let maxPause = 0;
  let maxAlloc = 0;
  let n1m = 0;
  for (const g of gcs) {
    if (g.start >= pa && g.start < pf) maxAlloc = Math.max(maxAlloc, g.dur);
    else if (g.start >= pf && g.start <= pe) {
      n1m++;
      maxPause = Math.max(maxPause, g.dur);
    }
  }
  log(
    `lookup at 1M: hit ${round(hitNs, 1)} ns, miss ${round(missNs, 1)} ns (64k: ${round(hit64, 1)} / ${round(miss64, 1)}); insert ${round(insertNs, 1)} ns; ` +
      `max GC pause ${round(maxPause, 2)} ms (${n1m} GCs; sizing the tables: ${round(maxAlloc, 2)} ms)`,
  );
  return {
    entries: N,
    bytes_per_entry_v4: round(b4, 2),
    bytes_per_entry_v6: round(b6, 2),
    bytes_per_entry_v4_64k: round(b4_64k, 2),
    bytes_per_entry_v6_64k: round(b6_64k, 2),
    lookup_hit_ns: round(hitNs, 1),
    lookup_miss_ns: round(missNs, 1),
    lookup_hit_ns_64k: round(hit64, 1),
    lookup_miss_ns_64k: round(miss64, 1),
    insert_ns: round(insertNs, 1),
    tags_probed_per_lookup: round(probesPerLook, 2),
    tags_probed_per_lookup_64k: round(probes64, 2),
    max_chain_lines: linesMax,
    max_gc_pause_ms_1m: round(maxPause, 3),
    gc_count_1m: n1m,
    max_gc_pause_ms_alloc: round(maxAlloc, 3),
    ...fields64,
    ...fieldsGrow,
    ...fields256,
    ...fields1m,
    tw_base: TW_64K,
    tw_measured_conns: TW_64K * VTW_TURNS,
    tw_measured_conns_growing: VTW_TW_MEASURE,
  };
}

export async function bench(ctx: BenchContext): Promise<BenchResult> {
  if (typeof (globalThis as { gc?: Gc }).gc === 'function') return measure(ctx.log);
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--expose-gc', self, '--vtw-child'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vtw bench child failed (${r.status ?? r.signal})`);
  const lines = r.stdout.trim().split('\n');
  const res = JSON.parse(lines[lines.length - 1] as string) as BenchResult;
  for (const l of lines.slice(0, -1)) ctx.log(l);
  return res;
}

const rateArg = process.argv.indexOf('--vtw-rate');
if (rateArg >= 0) {
  const r = await connRate(process.argv[rateArg + 1] === 'on', Number(process.argv[rateArg + 2]), process.argv[rateArg + 3] === 'steady');
  process.stdout.write(`${JSON.stringify(r)}\n`);
} else if (process.argv.includes('--vtw-child')) {
  const res = await measure((m) => process.stdout.write(`${m}\n`));
  process.stdout.write(`${JSON.stringify(res)}\n`);
}
