/*
 * `bsdnet netstat`: a stack's sockets, statistics, routes, interfaces and buffers, in the
 * formats of FreeBSD's netstat(1), read only through sysctl (locally or over --attach).
 *
 *   bsdnet netstat [--attach PATH] [-AanWx] [-f inet|inet6] [-p proto] [--json]
 *   bsdnet netstat -s [-s] [-z] [-p proto]     per-protocol statistics
 *   bsdnet netstat -r [-nW] [-f family]        routing tables
 *   bsdnet netstat -i [-b] [-f family]         interfaces (-b: with byte counts)
 *   bsdnet netstat -m                          mbuf and zone usage
 *   bsdnet netstat -V                          TCP vestigial TIME_WAIT (VTW) tables
 *
 * Sources (see netstat_stats.ts for -s):
 *   sockets     net.inet.tcp.pcblist (if TCP is present), net.inet.udp.pcblist,
 *               net.inet.raw.pcblist — records as documented in netinet/in_pcblist.ts
 *   routes      net.route.table (net/rtsock.ts)
 *   interfaces  net.link.ifdata (net/if_mib.ts)
 *   -m          vm.zone, kern.ipc.mbufstats
 *   -V          every node under net.inet.tcp.vtw
 *
 * Differences from FreeBSD, by design: names are never resolved (-n is accepted and always
 * in effect); addresses are never truncated; raw sockets show as raw4/raw6.
 */

import type { SysctlSource } from '../api/control.js';
import type { SysctlJson, SysctlValue } from '../kern/kern_sysctl.js';
import { formatStats, STATS } from './netstat_stats.js';
import { errText, openSource, type ParsedArgs, parseArgs, processIO, type ToolIO, UsageError } from './toolargs.js';
import { tcpstates } from '../netinet/tcp_fsm.js';

const USAGE = `usage: bsdnet netstat [--attach PATH] [--json] [-AanWx] [-f family] [-p protocol]
       bsdnet netstat -s [-s] [-z] [-f family] [-p protocol]
       bsdnet netstat -r [-nW] [-f family]
       bsdnet netstat -i [-b] [-nW] [-f family]
       bsdnet netstat -m
       bsdnet netstat -V
`;

type Rec = { [k: string]: SysctlJson };

/** FreeBSD tcpstates[] (netinet/tcp_fsm.h), for TCP records that carry a state number. */
export const TCP_STATES: readonly string[] = tcpstates;

/** A socket row, normalised from any pcblist record. */
export interface SockRow {
  proto: string;
  /** "tcp4", "udp46", "raw6"... */
  name: string;
  v4: boolean;
  v6: boolean;
  laddr: string;
  lport: number;
  faddr: string;
  fport: number;
  rcvq: number;
  sndq: number;
  state: string;
  listening: boolean;
  rcv_hiwat: number;
  snd_hiwat: number;
  rcv_lowat: number;
  snd_lowat: number;
  rcv_mbcnt: number;
  snd_mbcnt: number;
  rcv_mbmax: number;
  snd_mbmax: number;
  /** TCP only: ms until each timer fires (0: not armed) and ms since the last segment (xtcpcb). */
  timers: Record<string, number> | null;
  /** TCP only: a vestigial TIME_WAIT entry (VTW) rather than a full control block. */
  vestigial: boolean;
}

const num = (v: SysctlJson | undefined): number => (typeof v === 'number' ? v : 0);

/** Normalise one pcblist record (tolerant of the forms TCP may choose: family 2/28/4/6/'inet6'). */
export function sockRow(proto: string, r: Rec): SockRow {
  const laddr = String(r.laddr ?? r.local ?? '*');
  const f = r.family;
  let v6 = f === 28 || f === 6 || f === 'inet6' || f === 'AF_INET6' || (f === undefined && laddr.includes(':'));
  let v4 = !v6;
  if (typeof r.vflag === 'number' && (r.vflag & 3) !== 0) {
    v4 = (r.vflag & 1) !== 0;
    v6 = (r.vflag & 2) !== 0;
  }
  let state = '';
  if (typeof r.state === 'number') state = TCP_STATES[r.state] ?? String(r.state);
  else if (typeof r.state === 'string') state = r.state.toUpperCase();
  const listening = r.listening === true || state === 'LISTEN';
  return {
    proto,
    name: proto + (v4 && v6 ? '46' : v6 ? '6' : '4'),
    v4,
    v6,
    laddr,
    lport: num(r.lport),
    faddr: String(r.faddr ?? r.foreign ?? '*'),
    fport: num(r.fport),
    rcvq: num(r.rcvq ?? r.recvq),
    sndq: num(r.sndq ?? r.sendq),
    state,
    listening,
    rcv_hiwat: num(r.rcv_hiwat),
    snd_hiwat: num(r.snd_hiwat),
    rcv_lowat: num(r.rcv_lowat),
    snd_lowat: num(r.snd_lowat),
    rcv_mbcnt: num(r.rcv_mbcnt),
    snd_mbcnt: num(r.snd_mbcnt),
    rcv_mbmax: num(r.rcv_mbmax),
    snd_mbmax: num(r.snd_mbmax),
    timers:
      r.timers !== null && typeof r.timers === 'object' && !Array.isArray(r.timers)
        ? Object.fromEntries(Object.entries(r.timers).map(([k, v]) => [k, num(v)]))
        : null,
    vestigial: r.vestigial === true,
  };
}

/** The xtcpcb timer columns of netstat -x (FreeBSD inet.c: seconds, "%4d.%02d"). */
export const TIMER_COLS = ['rexmt', 'persist', 'keep', '2msl', 'delack', 'rcvtime'] as const;

function timerText(ms: number): string {
  const cs = Math.floor(ms / 10);
  return `${Math.floor(cs / 100)}.${String(cs % 100).padStart(2, '0')}`;
}

function isWildcard(a: string): boolean {
  return a === '0.0.0.0' || a === '::' || a === '*' || a === '';
}

/** FreeBSD inetprint(): "addr.port", "*" for a wildcard address or port 0. */
export function inetText(addr: string, port: number): string {
  return `${isWildcard(addr) ? '*' : addr}.${port === 0 ? '*' : port}`;
}

const pad = (s: string | number, w: number): string => String(s).padEnd(w);
const rpad = (s: string | number, w: number): string => String(s).padStart(w);

async function getOpt(src: SysctlSource, name: string): Promise<SysctlValue | undefined> {
  if (!(await src.exists(name))) return undefined;
  return src.get(name);
}

function asList(v: SysctlValue | undefined): Rec[] {
  if (Array.isArray(v)) return v.filter((x): x is Rec => x !== null && typeof x === 'object' && !Array.isArray(x));
  if (v !== null && typeof v === 'object' && Array.isArray((v as { list?: unknown }).list)) return asList((v as { list: SysctlJson[] }).list);
  return [];
}

const SOCK_NODES: [proto: string, node: string][] = [
  ['tcp', 'net.inet.tcp.pcblist'],
  ['udp', 'net.inet.udp.pcblist'],
  ['raw', 'net.inet.raw.pcblist'],
];

function protoMatches(want: string | undefined, proto: string): boolean {
  if (want === undefined) return true;
  if (want === proto) return true;
  return proto === 'raw' && (want === 'ip' || want === 'icmp' || want === 'raw' || want === 'ip6' || want === 'icmp6');
}

interface Opts {
  all: boolean;
  wide: boolean;
  x: boolean;
  json: boolean;
  proto: string | undefined;
  family: 'inet' | 'inet6' | undefined;
  sflag: number;
  zero: boolean;
  bytes: boolean;
}

async function sockets(src: SysctlSource, o: Opts, io: ToolIO): Promise<number> {
  const rows: SockRow[] = [];
  let any = false;
  for (const [proto, node] of SOCK_NODES) {
    if (!protoMatches(o.proto, proto)) continue;
    const v = await getOpt(src, node);
    if (v === undefined) continue;
    any = true;
    for (const r of asList(v)) {
      const row = sockRow(proto, r);
      if (o.family === 'inet' && !row.v4) continue;
      if (o.family === 'inet6' && !row.v6) continue;
      // Without -a, listeners and sockets bound to a wildcard address are left out (FreeBSD protopr()).
      if (!o.all && (row.listening || isWildcard(row.laddr))) continue;
      rows.push(row);
    }
  }
  if (!any && o.proto !== undefined) throw new Error(`${o.proto}: protocol not available (no pcblist sysctl)`);
  if (o.json) {
    io.out(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const aw = Math.max(22, ...rows.map((r) => Math.max(inetText(r.laddr, r.lport).length, inetText(r.faddr, r.fport).length)));
  io.out(`Active Internet connections${o.all ? ' (including servers)' : ''}\n`);
  let head = `${pad('Proto', 5)} ${rpad('Recv-Q', 6)} ${rpad('Send-Q', 6)} ${pad('Local Address', aw)} ${pad('Foreign Address', aw)}`;
  const timers = o.x && rows.some((r) => r.timers !== null);
  if (o.x) head += ` ${['R-HIWA', 'S-HIWA', 'R-LOWA', 'S-LOWA', 'R-BCNT', 'S-BCNT', 'R-BMAX', 'S-BMAX'].map((h) => rpad(h, 6)).join(' ')}`;
  if (timers) head += ` ${TIMER_COLS.map((h) => rpad(h, 7)).join(' ')}`;
  io.out(`${head} (state)\n`);
  for (const r of rows) {
    let line = `${pad(r.name, 5)} ${rpad(r.rcvq, 6)} ${rpad(r.sndq, 6)} ${pad(inetText(r.laddr, r.lport), aw)} ${pad(inetText(r.faddr, r.fport), aw)}`;
    if (o.x) {
      line += ` ${[r.rcv_hiwat, r.snd_hiwat, r.rcv_lowat, r.snd_lowat, r.rcv_mbcnt, r.snd_mbcnt, r.rcv_mbmax, r.snd_mbmax].map((n) => rpad(n, 6)).join(' ')}`;
    }
    if (timers) line += ` ${TIMER_COLS.map((k) => rpad(r.timers ? timerText(r.timers[k] ?? 0) : '-', 7)).join(' ')}`;
    line += ` ${r.state}`;
    io.out(`${line.trimEnd()}\n`);
  }
  return 0;
}

async function stats(src: SysctlSource, o: Opts, io: ToolIO): Promise<number> {
  const famOf = (p: string): string => (p === 'ip6' || p === 'icmp6' || p === 'rip6' ? 'inet6' : p === 'arp' ? 'link' : 'inet');
  const picked = STATS.filter((p) => (o.proto === undefined || p.proto === o.proto) && (o.family === undefined || famOf(p.proto) === o.family));
  if (o.proto !== undefined && picked.length === 0) throw new UsageError(`netstat: ${o.proto}: unknown protocol`);
  const out: Record<string, SysctlValue> = {};
  let text = '';
  for (const p of picked) {
    const v = await getOpt(src, p.node);
    if (v === undefined) {
      if (o.proto !== undefined) throw new Error(`${p.proto}: no statistics (sysctl ${p.node} not present)`);
      continue;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`sysctl ${p.node} is not a statistics block`);
    out[p.proto] = v;
    text += formatStats(p, v, o.sflag > 1 || o.zero);
    if (p.proto === 'tcp') {
      // FreeBSD tcp_stats(): the per-state connection counts (net.inet.tcp.states).
      const counts = await getOpt(src, 'net.inet.tcp.states');
      if (Array.isArray(counts)) {
        out.tcp_states = counts;
        text += 'TCP connection count by state:\n';
        counts.forEach((n, i) => {
          if (typeof n !== 'number' || ((o.sflag > 1 || o.zero) && n === 0)) return;
          text += `\t${n} connection${n === 1 ? '' : 's'} in ${TCP_STATES[i] ?? String(i)} state\n`;
        });
      }
      // NetBSD's tcp_stats() follows with the vestigial TIME_WAIT statistics.
      const vst = await getOpt(src, 'net.inet.tcp.vtw.stats');
      if (vst !== undefined && vst !== null && typeof vst === 'object' && !Array.isArray(vst)) {
        out.vtw = vst;
        text += vtwStatsText(vst as Rec, o.sflag > 1 || o.zero);
      }
    }
  }
  io.out(o.json ? `${JSON.stringify(out, null, 2)}\n` : text);
  return 0;
}

// route flags (net/route.h) as netstat -r prints them
const RT_BITS: [number, string][] = [
  [0x1, 'U'],
  [0x2, 'G'],
  [0x4, 'H'],
  [0x8, 'R'],
  [0x10, 'D'],
  [0x20, 'M'],
  [0x800, 'S'],
  [0x8000, '1'],
  [0x4000, '2'],
  [0x40000, '3'],
  [0x1000, 'B'],
  [0x400000, 'b'],
];

export function rtFlags(f: number): string {
  let s = '';
  for (const [bit, c] of RT_BITS) if (f & bit) s += c;
  return s;
}

function rtDest(r: Rec): string {
  const plen = num(r.plen);
  const dst = String(r.dst);
  const host = r.family === 2 ? 32 : 128;
  if (plen === 0) return 'default';
  if (plen === host) return dst;
  return `${dst}/${plen}`;
}

async function routes(src: SysctlSource, o: Opts, io: ToolIO): Promise<number> {
  const list = asList(await src.get('net.route.table'));
  const fams: [number, string, string][] = [
    [2, 'inet', 'Internet'],
    [28, 'inet6', 'Internet6'],
  ];
  if (o.json) {
    io.out(`${JSON.stringify(o.family ? list.filter((r) => (r.family === 2 ? 'inet' : 'inet6') === o.family) : list, null, 2)}\n`);
    return 0;
  }
  io.out('Routing tables\n');
  for (const [af, name, title] of fams) {
    if (o.family !== undefined && o.family !== name) continue;
    const rs = list.filter((r) => r.family === af);
    if (rs.length === 0) continue;
    const rows = rs.map((r) => ({
      dst: rtDest(r),
      gw: r.gateway === null || r.gateway === undefined ? `link#${num(r.ifindex)}` : String(r.gateway),
      flags: rtFlags(num(r.flags)),
      netif: String(r.ifname),
      expire: num(r.expire) > 0 ? String(num(r.expire)) : '',
      use: num(r.use),
      mtu: num(r.mtu),
    }));
    const dw = Math.max(af === 2 ? 18 : 30, ...rows.map((r) => r.dst.length));
    const gw = Math.max(af === 2 ? 18 : 30, ...rows.map((r) => r.gw.length));
    io.out(`\n${title}:\n`);
    let head = `${pad('Destination', dw)} ${pad('Gateway', gw)} ${pad('Flags', 7)}`;
    if (o.wide) head += ` ${rpad('Use', 8)} ${rpad('Mtu', 6)}`;
    io.out(`${head} ${rpad('Netif', 8)} Expire\n`);
    for (const r of rows) {
      let line = `${pad(r.dst, dw)} ${pad(r.gw, gw)} ${pad(r.flags, 7)}`;
      if (o.wide) line += ` ${rpad(r.use, 8)} ${rpad(r.mtu, 6)}`;
      io.out(`${`${line} ${rpad(r.netif, 8)} ${r.expire}`.trimEnd()}\n`);
    }
  }
  return 0;
}

function networkOf(family: number, addr: string, plen: number): string {
  if (family === 2) {
    const p = addr.split('.').map(Number);
    const n = (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0;
    const mask = plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
    const m = (n & mask) >>> 0;
    return `${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}/${plen}`;
  }
  // IPv6: mask the 8 groups of the expanded address, then compress.
  const [head, tail] = addr.split('%')[0]?.split('::') ?? [''];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = [...h, ...new Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t].map((g) => Number.parseInt(g || '0', 16));
  const out = groups.map((g, i) => {
    const bits = Math.max(0, Math.min(16, plen - i * 16));
    return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
  });
  let text = out.map((g) => g.toString(16)).join(':');
  text = text.replace(/(^|:)0(:0)+(:|$)/, '::').replace(/^0::/, '::');
  if (text === '0:0:0:0:0:0:0:0') text = '::';
  return `${text}/${plen}`;
}

const IFF_UP = 0x1;

async function interfaces(src: SysctlSource, o: Opts, io: ToolIO): Promise<number> {
  const list = asList(await src.get('net.link.ifdata'));
  if (o.json) {
    io.out(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  const names = list.map((i) => String(i.name) + (num(i.flags) & IFF_UP ? '' : '*'));
  const nw = Math.max(5, ...names.map((n) => n.length));
  const rows: string[][] = [];
  list.forEach((i, k) => {
    const ctr = (f: string): string => String(num(i[f]));
    const counters = (have: boolean): string[] => {
      const c = have ? ctr : () => '-';
      const r = [c('ipackets'), c('ierrors'), c('iqdrops')];
      if (o.bytes) r.push(c('ibytes'));
      r.push(c('opackets'), c('oerrors'));
      if (o.bytes) r.push(c('obytes'));
      r.push(c('collisions'));
      return r;
    };
    if (o.family === undefined) rows.push([names[k] as string, String(num(i.mtu)), `<Link#${num(i.index)}>`, String(i.lladdr ?? ''), ...counters(true)]);
    for (const a of Array.isArray(i.addrs) ? (i.addrs as Rec[]) : []) {
      const fam = num(a.family);
      if (o.family === 'inet' && fam !== 2) continue;
      if (o.family === 'inet6' && fam !== 28) continue;
      rows.push([names[k] as string, '-', networkOf(fam, String(a.addr), num(a.prefixlen)), String(a.addr), ...counters(false)]);
    }
  });
  const netw = Math.max(13, ...rows.map((r) => (r[2] as string).length));
  const addrw = Math.max(17, ...rows.map((r) => (r[3] as string).length));
  const cw = o.bytes ? [8, 5, 5, 10, 8, 5, 10, 5] : [8, 5, 5, 8, 5, 5];
  const head = ['Ipkts', 'Ierrs', 'Idrop', ...(o.bytes ? ['Ibytes'] : []), 'Opkts', 'Oerrs', ...(o.bytes ? ['Obytes'] : []), 'Coll'];
  const fmtRow = (r: string[]): string =>
    `${pad(r[0] as string, nw)} ${rpad(r[1] as string, 5)} ${pad(r[2] as string, netw)} ${pad(r[3] as string, addrw)} ${r
      .slice(4)
      .map((c, j) => rpad(c, cw[j] as number))
      .join(' ')}`;
  io.out(`${fmtRow(['Name', 'Mtu', 'Network', 'Address', ...head])}\n`);
  for (const r of rows) io.out(`${fmtRow(r)}\n`);
  return 0;
}

async function mbufs(src: SysctlSource, o: Opts, io: ToolIO): Promise<number> {
  const zones = asList(await src.get('vm.zone'));
  const mbstat = (await getOpt(src, 'kern.ipc.mbufstats')) as Rec | undefined;
  if (o.json) {
    io.out(`${JSON.stringify({ zones, mbstat: mbstat ?? null }, null, 2)}\n`);
    return 0;
  }
  const z = (name: string): Rec | undefined => zones.find((x) => x.name === name);
  const cur = (r: Rec | undefined): number => num(r?.used);
  const cache = (r: Rec | undefined): number => num(r?.free);
  const m = z('mbuf');
  const c = z('mbuf_cluster');
  const j4 = z('mbuf_jumbo_page');
  const j9 = z('mbuf_jumbo_9k');
  const j16 = z('mbuf_jumbo_16k');
  let t = '';
  t += `${cur(m)}/${cache(m)}/${cur(m) + cache(m)} mbufs in use (current/cache/total)\n`;
  const clus = (r: Rec | undefined, what: string): string =>
    `${cur(r)}/${cache(r)}/${cur(r) + cache(r)}/${num(r?.limit)} ${what} in use (current/cache/total/max)\n`;
  t += clus(c, 'mbuf clusters');
  t += clus(j4, '4k (page size) jumbo clusters');
  t += clus(j9, '9k jumbo clusters');
  t += clus(j16, '16k jumbo clusters');
  let bc = 0;
  let bf = 0;
  for (const r of zones) {
    bc += num(r.used) * num(r.size);
    bf += num(r.free) * num(r.size);
  }
  const k = (b: number): string => `${Math.ceil(b / 1024)}K`;
  t += `${k(bc)}/${k(bf)}/${k(bc + bf)} bytes allocated to network (current/cache/total)\n`;
  t += `${num(m?.fails)}/${num(c?.fails)} requests for mbufs denied (mbufs/clusters)\n`;
  t += `${num(j4?.fails)}/${num(j9?.fails)}/${num(j16?.fails)} requests for jumbo clusters denied (4k/9k/16k)\n`;
  if (mbstat !== undefined) t += `${num(mbstat.drops)} packets dropped for lack of mbufs\n`;
  // The zone table (vmstat -z), every zone of the instance.
  const nw = Math.max(20, ...zones.map((r) => String(r.name).length + 1));
  t += `\n${pad('ITEM', nw)} ${rpad('SIZE', 6)} ${rpad('LIMIT', 8)} ${rpad('USED', 8)} ${rpad('FREE', 8)} ${rpad('REQ', 10)} ${rpad('FAIL', 6)} ${rpad('FREES', 10)}\n`;
  for (const r of zones) {
    t += `${pad(`${String(r.name)}:`, nw)} ${rpad(num(r.size), 6)} ${rpad(num(r.limit), 8)} ${rpad(num(r.used), 8)} ${rpad(num(r.free), 8)} ${rpad(num(r.requests), 10)} ${rpad(num(r.fails), 6)} ${rpad(num(r.frees), 10)}\n`;
  }
  io.out(t);
  return 0;
}

function table(rows: Rec[]): string {
  if (rows.length === 0) return '\t(empty)\n';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: SysctlJson | undefined): string => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  let t = `${cols.map((c, i) => pad(c, w[i] as number)).join(' ')}\n`.replace(/ +\n$/, '\n');
  for (const r of rows)
    t += `${cols
      .map((c, i) => pad(cell(r[c]), w[i] as number))
      .join(' ')
      .trimEnd()}\n`;
  return t;
}

/** NetBSD usr.bin/netstat/vtw.c show_vtw_stats(): [0] connection lookups, [1] port lookups. */
function vtwStatsText(st: Rec, hideZero = false): string {
  const at = (k: string, i: number): number => {
    const v = st[k];
    return Array.isArray(v) ? num(v[i]) : 0;
  };
  const line = (tabs: string, n: number, what: string): string => (hideZero && n === 0 ? '' : `${tabs}${n} ${what}\n`);
  let t = 'vtw statistics:\n';
  t += line('\t\t', num(st.ins), 'inserts') + line('\t\t', num(st.del), 'deletes') + line('\t\t', num(st.kill), 'assassinations');
  const keys = ['look', 'hit', 'miss', 'probe', 'losing', 'max_chain', 'max_probe', 'max_loss'];
  for (const [i, what] of ['lookup_connect', 'lookup_port'].entries()) {
    let body = '';
    for (const k of keys) body += line('\t\t', at(k, i), k);
    if (body !== '' || !hideZero) t += `\tvestigial time-wait ${what}\n${body}`;
  }
  t += line('\t\t', num(st.nomem), 'nomem');
  return t;
}

function vtwFamilyText(f: Rec): string {
  const fam = String(f.family);
  let t = `\n${fam}: ${num(f.live)} of ${num(f.entries)} entries in use, ${num(f.bytes)} bytes (${num(f.fatp_used)}/${num(f.fatp_lines)} fat pointer lines, ${num(f.buckets)} hash buckets)\n`;
  const classes = Array.isArray(f.classes) ? (f.classes as Rec[]) : [];
  t += `\t${pad('class', 10)} ${rpad('capacity', 9)} ${rpad('used', 7)} ${rpad('MSL', 8)}\n`;
  for (const c of classes)
    t += `\t${pad(String(c.class), 10)} ${rpad(num(c.cap), 9)} ${rpad(num(c.used), 7)} ${rpad(`${(num(c.msl_ms) / 1000).toFixed(1)}s`, 8)}\n`;
  const list = Array.isArray(f.list) ? (f.list as Rec[]) : [];
  const proto = fam === 'inet6' ? 'tcp6' : 'tcp4';
  const rows = list.map((e) => [
    proto,
    inetText(String(e.laddr), num(e.lport)),
    inetText(String(e.faddr), num(e.fport)),
    String(e.class),
    `${(num(e.expire_ms) / 1000).toFixed(1)}s`,
    String(num(e.snd_nxt)),
    String(num(e.rcv_nxt)),
    String(num(e.rcv_wnd)),
    e.ts_recent === null || e.ts_recent === undefined ? '-' : String(e.ts_recent),
  ]);
  const head = ['Proto', 'Local Address', 'Foreign Address', 'class', 'expire', 'snd_nxt', 'rcv_nxt', 'rcv_wnd', 'ts_recent'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]): string => `${r.map((c, i) => (i >= 4 ? rpad(c, w[i] as number) : pad(c, w[i] as number))).join(' ')}\n`;
  t += `Vestigial TIME_WAIT entries (${fam}):\n`;
  if (rows.length === 0) return `${t}\t(none)\n`;
  t += line(head);
  for (const r of rows) t += line(r);
  return t;
}

async function vtw(src: SysctlSource, o: Opts, io: ToolIO): Promise<number> {
  if (!(await src.exists('net.inet.tcp.vtw'))) {
    io.out(o.json ? '{"vtw":null}\n' : 'VTW not available\n');
    return 0;
  }
  const nodes = await src.list('net.inet.tcp.vtw', { values: true, all: true });
  const six = await src.list('net.inet6.tcp6.vtw', { values: true, all: true }).catch(() => []);
  if (o.json) {
    const out: Record<string, SysctlValue | null> = {};
    for (const n of [...nodes, ...six]) out[n.name] = n.value ?? null;
    io.out(`${JSON.stringify({ vtw: out }, null, 2)}\n`);
    return 0;
  }
  let t = 'TCP vestigial TIME_WAIT (VTW):\n';
  let body = '';
  for (const n of [...nodes, ...six]) {
    const v = n.value;
    if (n.name === 'net.inet.tcp.vtw.stats' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      body += vtwStatsText(v);
    } else if (n.name === 'net.inet.tcp.vtw.table' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const fams = Array.isArray(v.families) ? (v.families as Rec[]) : [];
      if (fams.length === 0) body += '\nno VTW table allocated yet (no vestige created)\n';
      for (const f of fams) body += vtwFamilyText(f);
    } else if (Array.isArray(v)) {
      body += `\n${n.name}:\n${table(asList(v))}`;
    } else if (v !== null && typeof v === 'object') {
      body += `${n.name}:\n`;
      for (const [key, x] of Object.entries(v)) body += `\t${typeof x === 'object' ? JSON.stringify(x) : String(x)} ${key}\n`;
    } else if (v !== undefined) {
      t += `${n.name}: ${typeof v === 'boolean' ? (v ? 1 : 0) : String(v)}\n`;
    }
  }
  io.out(t + body);
  return 0;
}

export async function netstatMain(argv: string[], io: ToolIO = processIO()): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs('netstat', argv, { flags: 'AabimnrsVWxz46Lh', withArg: 'pf', long: ['json', 'help'], longArg: ['attach'] });
  } catch (e) {
    io.err(`${errText(e)}\n${USAGE}`);
    return 2;
  }
  const c = (k: string): number => args.count.get(k) ?? 0;
  if (c('h') || c('help')) {
    io.out(USAGE);
    return 0;
  }
  if (args.operands.length > 0) {
    io.err(`netstat: unexpected argument '${args.operands[0]}'\n${USAGE}`);
    return 2;
  }
  let family: Opts['family'];
  const f = args.value.get('f');
  if (f !== undefined) {
    if (f === 'inet' || f === 'inet6') family = f;
    else {
      io.err(`netstat: ${f}: unknown address family\n${USAGE}`);
      return 2;
    }
  }
  if (c('4')) family = 'inet';
  if (c('6')) family = 'inet6';
  const proto = args.value.get('p');
  const known = ['tcp', 'udp', 'ip', 'icmp', 'raw', 'arp', 'ip6', 'icmp6', 'rip6'];
  if (proto !== undefined && !known.includes(proto)) {
    io.err(`netstat: ${proto}: unknown or uninstrumented protocol\n${USAGE}`);
    return 2;
  }
  const modes = ['s', 'r', 'i', 'm', 'V'].filter((m) => c(m) > 0);
  if (modes.length > 1) {
    io.err(`netstat: -${modes.join(', -')}: only one of -s, -r, -i, -m, -V at a time\n${USAGE}`);
    return 2;
  }
  const o: Opts = {
    all: c('a') > 0,
    wide: c('W') > 0,
    x: c('x') > 0,
    json: c('json') > 0,
    proto,
    family,
    sflag: c('s'),
    zero: c('z') > 0,
    bytes: c('b') > 0,
  };
  let opened: Awaited<ReturnType<typeof openSource>>;
  try {
    opened = await openSource(io, args.value.get('attach'));
  } catch (e) {
    io.err(`netstat: ${errText(e)}\n`);
    return 1;
  }
  try {
    const src = opened.src;
    switch (modes[0]) {
      case 's':
        return await stats(src, o, io);
      case 'r':
        return await routes(src, o, io);
      case 'i':
        return await interfaces(src, o, io);
      case 'm':
        return await mbufs(src, o, io);
      case 'V':
        return await vtw(src, o, io);
      default:
        if (o.bytes) return await interfaces(src, o, io);
        return await sockets(src, o, io);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${e.message}\n${USAGE}`);
      return 2;
    }
    io.err(`netstat: ${errText(e)}\n`);
    return 1;
  } finally {
    opened.close();
  }
}
