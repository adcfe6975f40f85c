/*
 * The packetdrill runner: executes one parsed script against a fresh bsdnet stack (a Vnet
 * on a VirtualClock with a fixed seed) and checks every expectation, with packetdrill's
 * runner semantics (run.c, run_packet.c, run_system_call.c, socket.h, code.c):
 *
 *  - events in order; `+t` is relative to the live time at which the previous event ended,
 *    except that consecutive inbound packets chain on script time; absolute times may not go
 *    backwards; every event is checked for time with tol = max(tolerance_usecs,
 *    tolerance_percent × (this event's time − the previous event's time));
 *  - the socket under test: the last socket() creates it; an inbound packet meeting a
 *    listening socket under test makes a passive child (remote ISN = that packet's seq, live
 *    remote = remote_ip with a fresh port); an active connect learns its live tuple and
 *    local ISN from the first outbound SYN; the stack's packets for other tuples are skipped;
 *  - sequence mapping (socket.h): remote side SYN absolute, else + remote ISN; local side
 *    SYN + (live ISN − script ISN), else + live ISN; ack and SACK blocks use the other side's
 *    offset; NPLab `!` skips mapping and `...(n)` skips the check; inbound TS ecr is mapped
 *    through the script→live TS val map (unknown → error, unless `ecr N!`);
 *  - outbound packets are taken in order and compared field by field (IP version, protocol,
 *    header and total length, TOS/ECN and TTL if written; TCP data offset, flags, seq, ack,
 *    window if written, urgent pointer; options byte-exact except TS val/ecr; zero payload;
 *    checksums; time). Nothing is asserted about packets left over at the end;
 *  - system calls run against the kernel socket layer; non-blocking calls return at once,
 *    blocking ones (`start...end`, or a blocking descriptor) become pending operations that
 *    complete as virtual time advances;
 *  - commands are emulated (shell.ts); code blocks snapshot TCP_INFO at their time and are
 *    evaluated at the end (code.ts).
 */

import { VirtualClock } from '../kern/clock.js';
import { PcapWriter } from '../net/pcap.js';
import { AF_INET, AF_INET6, type Sockaddr, sockaddr_in, sockaddr_in6 } from '../netinet/in.js';
import { EINPROGRESS, EWOULDBLOCK, errnoName, strerror } from '../sys/errno.js';
import type { Sockopt } from '../sys/protosw.js';
import {
  MSG_DONTWAIT,
  SBS_CANTRCVMORE,
  SBS_CANTSENDMORE,
  SO_ACCEPTCONN,
  SS_ISCONNECTED,
  SS_ISCONNECTING,
  SS_NBIO,
  type Socket,
  soaccept,
  sobind,
  soclose,
  soconnect,
  socreate,
  sogetopt,
  solisten,
  soreceive,
  sosend,
  sosetopt,
  soshutdown,
  sbspace,
} from '../sys/socket.js';
import { Vnet } from '../vnet.js';
import { inet_aton4, inet_pton6 } from '../wire/addr.js';
import type { Expr, IcmpPacket, IpInfo, Script, ScriptEvent, Syscall, TcpOption, TcpPacket, UdpPacket } from './ast.js';
import { CodeAssertion, CodeEnv, CodeUnsupported, parseCode } from './code.js';
import { DrillNetdev } from './netdev.js';
import {
  addrToString,
  buildIcmp,
  buildTcp,
  buildUdp,
  encodeTcpOptions,
  findTsOption,
  flagsFromScript,
  flagsToScript,
  IPPROTO_TCP,
  IPPROTO_UDP,
  optionsToString,
  type ParsedPacket,
  parsePacket,
  quotedHeader,
  TH_ACK,
  TH_SYN,
  tcpSegment,
} from './packet.js';
import { classify, runCommand } from './shell.js';
import { F_GETFD, F_GETFL, F_SETFD, F_SETFL, lookupSymbol, O_NONBLOCK, O_RDWR, TCP_OPTS } from './symbols.js';

export type Verdict = 'PASS' | 'FAIL' | 'UNSUPPORTED' | 'ERROR' | 'XFAIL' | 'XPASS';

/** What kind of mismatch ended a run (for grouping failures by cause). */
export type FailKind = 'packet' | 'timing' | 'no-packet' | 'syscall' | 'errno' | 'command' | 'code' | 'stack' | 'runtime' | 'unsupported' | 'parse';

export interface RunResult {
  verdict: Verdict;
  line: number | null;
  col: number | null;
  kind: FailKind | null;
  message: string;
  details: string[];
  warnings: string[];
  /** Virtual time reached (µs). */
  virtualUsecs: number;
}

export interface RunOptions {
  /** Command-line `--name=value` options (win over the script's). */
  cliOptions?: { name: string; value: string | null }[];
  /** RNG seed for the stack (ISNs, ports): fixed for reproducibility. */
  seed?: number;
  /** Called with each trace line (packets both ways, system calls) when set. */
  trace?: ((line: string) => void) | null;
  /** Also write every packet to this pcap (LINKTYPE_RAW). */
  pcap?: PcapWriter | null;
  /** Script path (for messages). */
  path?: string;
  /** Sysctls set on the fresh stack before the script runs (e.g. net.inet.tcp.vtw.enable=0). */
  sysctls?: { name: string; value: string }[];
}

class Failure extends Error {
  readonly kind: FailKind;
  readonly line: number | null;
  readonly details: string[];
  constructor(kind: FailKind, line: number | null, message: string, details: string[] = []) {
    super(message);
    this.kind = kind;
    this.line = line;
    this.details = details;
  }
}

interface Config {
  ipVersion: 'ipv4' | 'ipv6' | 'ipv4-mapped-ipv6';
  toleranceUsecs: number;
  tolerancePercent: number;
  mtu: number;
  local4: Uint8Array;
  remote4: Uint8Array;
  local6: Uint8Array;
  remote6: Uint8Array;
  bindPort: number;
  connectPort: number;
  nonFatalPacket: boolean;
  nonFatalSyscall: boolean;
  tsTickUsecs: number;
  tsEcrScaled: boolean;
  udpEncaps: boolean;
}

/** Options that change nothing in a virtual-time run. */
const IGNORED_OPTIONS = new Set([
  'define',
  'D',
  'strict_segments',
  'tun_dev',
  'verbose',
  'debug',
  'gateway_ip',
  'netmask_ip',
  'speed',
  'mss',
  'init_delay',
  'code_command',
  'code_format',
  'code_sockopt',
  'dry_run',
  'persist',
  'send_omit_free',
  'no_init_delay',
  'dev',
]);

function bytesOf4(s: string): Uint8Array | null {
  const n = inet_aton4(s);
  if (n === null) return null;
  return Uint8Array.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function v4num(a: Uint8Array): number {
  return (((a[0] as number) << 24) | ((a[1] as number) << 16) | ((a[2] as number) << 8) | (a[3] as number)) >>> 0;
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Build the run configuration; returns unsupported option names too. */
export function makeConfig(script: Script, cli: { name: string; value: string | null }[]): { cfg: Config; unsupported: { what: string; line: number }[] } {
  const cfg: Config = {
    ipVersion: 'ipv4',
    toleranceUsecs: 4000,
    tolerancePercent: 5,
    mtu: 1500,
    local4: Uint8Array.from([192, 168, 0, 1]),
    remote4: Uint8Array.from([192, 0, 2, 1]),
    local6: inet_pton6('fd3d:fa7b:d17d::1') as Uint8Array,
    remote6: inet_pton6('2001:db8::1') as Uint8Array,
    bindPort: 8080,
    connectPort: 8080,
    nonFatalPacket: false,
    nonFatalSyscall: false,
    tsTickUsecs: 0,
    tsEcrScaled: false,
    udpEncaps: false,
  };
  const unsupported: { what: string; line: number }[] = [];
  const all = [...script.options.map((o) => ({ name: o.name, value: o.value, line: o.pos.line })), ...cli.map((o) => ({ ...o, line: 0 }))];
  for (const o of all) {
    const v = o.value ?? '';
    const int = (min: number, max: number): number => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || n > max) throw new Failure('parse', o.line || null, `bad value '${v}' for --${o.name}`);
      return n;
    };
    switch (o.name) {
      case 'ip_version':
        if (v !== 'ipv4' && v !== 'ipv6' && v !== 'ipv4-mapped-ipv6') throw new Failure('parse', o.line || null, `bad --ip_version '${v}'`);
        cfg.ipVersion = v;
        break;
      case 'tolerance_usecs':
        cfg.toleranceUsecs = int(0, 1e12);
        break;
      case 'tolerance_percent':
        cfg.tolerancePercent = int(0, 100);
        break;
      case 'mtu':
        cfg.mtu = int(68, 65535);
        break;
      case 'bind_port':
        cfg.bindPort = int(0, 65535);
        break;
      case 'connect_port':
        cfg.connectPort = int(0, 65535);
        break;
      case 'local_ip':
      case 'remote_ip': {
        const b4 = bytesOf4(v);
        const b6 = b4 === null ? inet_pton6(v) : null;
        if (b4 === null && b6 === null) throw new Failure('parse', o.line || null, `bad address '${v}' for --${o.name}`);
        if (o.name === 'local_ip') {
          if (b4) cfg.local4 = b4;
          else cfg.local6 = b6 as Uint8Array;
        } else if (b4) cfg.remote4 = b4;
        else cfg.remote6 = b6 as Uint8Array;
        break;
      }
      case 'non_fatal':
        for (const w of v.split(',')) {
          if (w === 'packet') cfg.nonFatalPacket = true;
          else if (w === 'syscall') cfg.nonFatalSyscall = true;
        }
        break;
      case 'tcp_ts_tick_usecs':
        cfg.tsTickUsecs = int(0, 1e9);
        break;
      case 'tcp_ts_ecr_scaled':
        cfg.tsEcrScaled = true;
        break;
      case 'udp_encapsulation':
        if (v === 'tcp') cfg.udpEncaps = true;
        else unsupported.push({ what: `--udp_encapsulation=${v}`, line: o.line });
        break;
      default:
        if (!IGNORED_OPTIONS.has(o.name)) unsupported.push({ what: `option --${o.name}`, line: o.line });
    }
  }
  return { cfg, unsupported };
}

const SUPPORTED_SYSCALLS = new Set([
  'socket',
  'bind',
  'listen',
  'accept',
  'connect',
  'read',
  'readv',
  'recv',
  'recvfrom',
  'recvmsg',
  'write',
  'writev',
  'send',
  'sendto',
  'sendmsg',
  'close',
  'shutdown',
  'getsockopt',
  'setsockopt',
  'fcntl',
  'ioctl',
  'poll',
]);

const FUNCS = new Set(['htons', 'htonl', 'ntohs', 'ntohl', 'inet_addr', 'inet6_addr']);

function unknownSymbol(e: Expr): string | null {
  switch (e.type) {
    case 'word':
      return lookupSymbol(e.name) === undefined ? e.name : null;
    case 'list':
      for (const i of e.items) {
        const u = unknownSymbol(i);
        if (u) return u;
      }
      return null;
    case 'binop':
      return unknownSymbol(e.left) ?? unknownSymbol(e.right);
    case 'neg':
      return unknownSymbol(e.operand);
    case 'call':
      if (!FUNCS.has(e.name)) return `${e.name}()`;
      for (const a of e.args) {
        const u = unknownSymbol(a);
        if (u) return u;
      }
      return null;
    case 'struct':
      for (const f of e.fields) {
        const u = unknownSymbol(f.value);
        if (u) return u;
      }
      return null;
    default:
      return null;
  }
}

/**
 * Constructs the runner cannot execute, found without running anything: the first one is
 * what UNSUPPORTED names.
 */
export function findUnsupported(script: Script, cli: { name: string; value: string | null }[] = []): { what: string; line: number } | null {
  const { unsupported } = makeConfig(script, cli);
  if (unsupported.length > 0) return unsupported[0] as { what: string; line: number };
  for (const c of [script.initCommand, script.cleanupCommand]) {
    if (c) {
      const u = classify(c.command);
      if (u !== null) return { what: `command '${u}'`, line: c.pos.line };
    }
  }
  for (const ev of script.events) {
    const line = ev.line;
    const b = ev.body;
    if (b.type === 'packet') {
      const p = b.packet;
      if (p.proto === 'other') return { what: p.what, line };
      if (p.proto === 'icmp') {
        if (p.dir === 'out') return { what: 'outbound ICMP packets', line };
        if (p.echoed?.kind === 'other') return { what: p.echoed.what, line };
      }
      if (p.proto === 'tcp' && Array.isArray(p.options)) {
        for (const o of p.options) {
          if (o.kind === 'md5') return { what: 'TCP MD5 signature option', line };
          if (o.kind === 'accecn') return { what: 'AccECN option', line };
        }
      }
      if (p.proto === 'tcp' && p.flags.length > 0 && /^[0-7]/.test(p.flags)) return { what: 'AccECN ACE flags', line };
    } else if (b.type === 'syscall') {
      if (!SUPPORTED_SYSCALLS.has(b.call.name)) return { what: `system call ${b.call.name}()`, line };
      for (const a of [...b.call.args, b.call.result]) {
        const u = unknownSymbol(a);
        if (u !== null) return { what: `symbol ${u}`, line };
      }
      if (b.call.errno !== null && lookupSymbol(b.call.errno) === undefined) return { what: `errno ${b.call.errno}`, line };
    } else if (b.type === 'command') {
      const u = classify(b.command);
      if (u !== null) return { what: `command '${u}'`, line };
    } else if (b.type === 'code') {
      try {
        parseCode(b.code);
      } catch (e) {
        if (e instanceof CodeUnsupported) return { what: `code block: ${e.message}`, line };
        throw e;
      }
    }
  }
  return null;
}

// ---- socket model (packetdrill's struct socket) ----

type SockState =
  | 'NEW'
  | 'LISTENING'
  | 'PASSIVE_PACKET_RECEIVED'
  | 'PASSIVE_SYNACK_SENT'
  | 'PASSIVE_SYNACK_ACKED'
  | 'ACTIVE_CONNECTING'
  | 'ACTIVE_SYN_SENT'
  | 'ACTIVE_SYN_ACKED';

interface Endpoint {
  ip: Uint8Array;
  port: number;
}

interface SockModel {
  state: SockState;
  protocol: number;
  scriptFd: number;
  so: Socket | null;
  closed: boolean;
  liveLocal: Endpoint | null;
  liveRemote: Endpoint | null;
  liveLocalIsn: number;
  liveRemoteIsn: number;
  scriptLocalIsn: number;
  scriptRemoteIsn: number;
  tsValMap: Map<number, number>;
  firstTs: { script: number; actual: number } | null;
}

interface FdEntry {
  model: SockModel;
  so: Socket;
  nonblock: boolean;
}

type Outcome = { ret: number; errno: number; after?: () => void };
const BLOCK = Symbol('block');
type Attempt = () => Outcome | typeof BLOCK;

interface Pending {
  call: Syscall;
  line: number;
  attempt: Attempt;
  expectEndUsecs: number;
  timeKind: ScriptEvent['time']['kind'];
  lastEventUsecs: number | null;
}

const NS = 1000;
/** Bound on virtual time a script may consume (µs). */
const MAX_VIRTUAL_USECS = 4 * 3600 * 1e6;
/** How long an outbound packet is waited for beyond its expected time (µs). */
const SNIFF_SLACK_USECS = 2_000_000;

function fmtSecs(us: number): string {
  return (us / 1e6).toFixed(6);
}

function seqStr(s: { start: number; end: number; len: number; absolute: boolean; ignore: boolean }): string {
  return s.ignore ? `...(${s.len})` : `${s.start}:${s.end}(${s.len})${s.absolute ? '!' : ''}`;
}

function scriptTcpString(p: TcpPacket): string {
  let s = `${p.dir === 'in' ? '<' : '>'} ${p.flags || '-'} ${seqStr(p.seq)}`;
  if (p.ack !== null) s += ` ack ${p.ack}`;
  if (p.win !== null) s += ` win ${p.win}`;
  if (p.urg !== null) s += ` urg ${p.urg}`;
  if (p.options === 'nocheck') s += ' <...>';
  else if (p.options !== null) s += ` <${optionsToString(encodeTcpOptions(p.options))}>`;
  if (p.udpEncap) s += `/udp(${p.udpEncap.src} > ${p.udpEncap.dst})`;
  return s;
}

export class DrillRunner {
  private readonly script: Script;
  private readonly cfg: Config;
  private readonly opts: RunOptions;
  private readonly clock: VirtualClock;
  private readonly V: Vnet;
  private readonly netdev: DrillNetdev;
  private readonly sockets: SockModel[] = [];
  private sut: SockModel | null = null;
  private readonly fds = new Map<number, FdEntry>();
  private pending: Pending[] = [];
  private readonly warnings: string[] = [];
  private readonly codeBlocks: { code: string; snapshot: Map<string, number>; line: number }[] = [];
  private lastEvent: { usecs: number; inbound: boolean } | null = null;
  private lastAbsUsecs = 0;
  private numEvents = 0;
  private nextEphemeral = 0;
  private curLine = 0;

  constructor(script: Script, opts: RunOptions = {}) {
    this.script = script;
    this.opts = opts;
    this.cfg = makeConfig(script, opts.cliOptions ?? []).cfg;
    this.clock = new VirtualClock();
    this.V = new Vnet({ name: 'drill', clock: this.clock, seed: opts.seed ?? 1 });
    for (const { name, value } of opts.sysctls ?? []) this.V.sysctl.set(name, value);
    this.netdev = new DrillNetdev(this.V, this.clock, this.cfg.mtu);
    this.nextEphemeral = 40000;
    const obs = (dir: 'in' | 'out', bytes: Uint8Array, tNs: number): void => {
      if (opts.pcap) opts.pcap.write(this.clock.wallEpochNs + tNs, bytes, 0, bytes.length);
      if (opts.trace) opts.trace(this.traceLine(dir, bytes, tNs));
    };
    if (opts.trace || opts.pcap) this.netdev.observer = obs;
  }

  private get v6(): boolean {
    return this.cfg.ipVersion === 'ipv6';
  }

  private get localIp(): Uint8Array {
    return this.v6 ? this.cfg.local6 : this.cfg.local4;
  }

  private get remoteIp(): Uint8Array {
    return this.v6 ? this.cfg.remote6 : this.cfg.remote4;
  }

  private nowUs(): number {
    return Math.floor(this.clock.now() / NS);
  }

  private traceLine(dir: 'in' | 'out', bytes: Uint8Array, tNs: number): string {
    const p = parsePacket(bytes, this.cfg.udpEncaps);
    const t = fmtSecs(tNs / NS);
    if (p === null) return `${t} ${dir === 'in' ? '<' : '>'} [${bytes.length} bytes, unparsable]`;
    const arrow = dir === 'in' ? '<' : '>';
    const ep = (a: Uint8Array, port: number | null) =>
      port === null ? addrToString(a) : a.length === 16 ? `[${addrToString(a)}]:${port}` : `${addrToString(a)}:${port}`;
    if (p.tcp) {
      const t2 = p.tcp;
      let s = `${t} ${arrow} ${ep(p.src, t2.sport)} > ${ep(p.dst, t2.dport)} ${flagsToScript(t2.flags)} ${t2.seq}:${(t2.seq + t2.payload.length) >>> 0}(${t2.payload.length})`;
      if (t2.flags & TH_ACK) s += ` ack ${t2.ack}`;
      s += ` win ${t2.win}`;
      if (t2.options.length > 0) s += ` <${optionsToString(t2.options)}>`;
      if (p.udpEncap) s += `/udp(${p.udpEncap.sport} > ${p.udpEncap.dport})`;
      if (p.tos !== 0) s += ` (tos 0x${p.tos.toString(16)})`;
      return s;
    }
    if (p.udp) return `${t} ${arrow} ${ep(p.src, p.udp.sport)} > ${ep(p.dst, p.udp.dport)} udp (${p.udp.payload.length})`;
    if (p.icmp) return `${t} ${arrow} ${ep(p.src, null)} > ${ep(p.dst, null)} icmp type ${p.icmp.type} code ${p.icmp.code}`;
    return `${t} ${arrow} ${ep(p.src, null)} > ${ep(p.dst, null)} proto ${p.proto} (${p.ipLen} bytes)`;
  }

  private trace(s: string): void {
    if (this.opts.trace) this.opts.trace(`${fmtSecs(this.nowUs())}   ${s}`);
  }

  // ---- time ----

  /** Advance virtual time to `targetUs`, stepping through due timers and polling pending calls. */
  private advanceTo(targetUs: number): void {
    const target = targetUs * NS;
    let guard = 0;
    while (this.clock.now() < target) {
      const due = this.clock.nextDue();
      const step = Math.max(this.clock.now(), Math.min(due, target));
      this.clock.advanceTo(step);
      this.pollPending();
      if (++guard > 10_000_000) throw new Failure('runtime', this.curLine, 'virtual time does not advance (timer livelock)');
    }
    this.clock.drain();
    this.pollPending();
  }

  /** Advance to the next due timer (bounded by `limitUs`). False if nothing is due before it. */
  private stepTime(limitUs: number): boolean {
    const due = this.clock.nextDue();
    const now = this.clock.now();
    if (due === Number.POSITIVE_INFINITY || due > limitUs * NS) {
      if (now < limitUs * NS && limitUs !== Number.POSITIVE_INFINITY) this.advanceTo(limitUs);
      return false;
    }
    this.clock.advanceTo(Math.max(due, now));
    this.clock.drain();
    this.pollPending();
    if (this.nowUs() > MAX_VIRTUAL_USECS) throw new Failure('runtime', this.curLine, 'script exceeded the virtual time limit');
    return true;
  }

  /** verify_time(): throws a timing Failure if `actualUs` is off. */
  private verifyTime(kind: ScriptEvent['time']['kind'], start: number, end: number, actualUs: number, what: string, lastUsecs: number | null): void {
    if (kind === 'any') return;
    let tol = this.cfg.toleranceUsecs;
    if (lastUsecs !== null) {
      const dyn = (this.cfg.tolerancePercent / 100) * (start - lastUsecs);
      if (dyn > tol) tol = dyn;
    }
    if (kind === 'absRange' || kind === 'relRange') {
      if (actualUs < start - tol || actualUs > end + tol)
        throw new Failure(
          'timing',
          this.curLine,
          `timing error: expected ${what} in time range ${fmtSecs(start)}~${fmtSecs(end)} sec but happened at ${fmtSecs(actualUs)} sec`,
        );
      return;
    }
    if (actualUs < start - tol || actualUs > start + tol)
      throw new Failure(
        'timing',
        this.curLine,
        `timing error: expected ${what} at ${fmtSecs(start)} sec but happened at ${fmtSecs(actualUs)} sec; tolerance ${fmtSecs(tol)} sec`,
      );
  }

  /** wait_for_event(): let time pass until the event's time, then check we are not late. */
  private waitForEvent(ev: ScriptEvent, what: string): void {
    if (this.nowUs() < ev.time.usecs) this.advanceTo(ev.time.usecs);
    if (this.numEvents > 0) this.verifyTime(ev.time.kind, ev.time.usecs, ev.time.endUsecs, this.nowUs(), what, this.lastEvent?.usecs ?? null);
  }

  // ---- main loop ----

  run(): RunResult {
    try {
      this.setup();
      const events = this.script.events;
      const first = events[0];
      if (first !== undefined && first.time.usecs !== 0) throw new Failure('parse', first.line, 'first event should be at time 0');
      if (this.script.initCommand) this.command(this.script.initCommand.command, this.script.initCommand.pos.line);
      for (const ev0 of events) {
        const ev: ScriptEvent = { ...ev0, time: { ...ev0.time } };
        this.curLine = ev.line;
        if (ev.time.kind === 'abs' || ev.time.kind === 'absRange') {
          if (ev.time.usecs < this.lastAbsUsecs)
            throw new Failure('parse', ev.line, `time goes backward in script from ${this.lastAbsUsecs} usec to ${ev.time.usecs} usec`);
          this.lastAbsUsecs = ev.time.usecs;
        }
        let syscallEnd: number | null = ev.body.type === 'syscall' ? ev.body.call.endUsecs : null;
        const inbound = ev.body.type === 'packet' && ev.body.packet.dir === 'in';
        if (ev.time.kind === 'rel' || ev.time.kind === 'relRange' || ev.time.kind === 'any') {
          const offset = this.lastEvent?.inbound && inbound ? this.lastEvent.usecs : this.nowUs();
          ev.time.usecs += offset;
          ev.time.endUsecs += offset;
          if (ev.time.kind === 'rel' && syscallEnd !== null) syscallEnd += offset;
        }
        this.dispatch(ev, syscallEnd);
        this.lastEvent = { usecs: ev.time.usecs, inbound };
        this.numEvents++;
      }
      this.finishPending();
      if (this.script.cleanupCommand) this.command(this.script.cleanupCommand.command, this.script.cleanupCommand.pos.line);
      this.runCode();
      return this.result('PASS', null, null, 'ok', []);
    } catch (e) {
      if (e instanceof Failure) {
        if (this.script.cleanupCommand) {
          try {
            this.command(this.script.cleanupCommand.command, this.script.cleanupCommand.pos.line);
          } catch {
            // the first failure is what counts
          }
        }
        const verdict: Verdict = e.kind === 'unsupported' ? 'UNSUPPORTED' : e.kind === 'parse' ? 'ERROR' : 'FAIL';
        return this.result(verdict, e.line, e.kind, e.message, e.details);
      }
      const err = e as Error;
      return this.result('FAIL', this.curLine || null, 'runtime', `internal error: ${err.message}`, (err.stack ?? '').split('\n').slice(1, 6));
    } finally {
      try {
        this.V.destroy();
      } catch {
        // nothing to report
      }
    }
  }

  private result(verdict: Verdict, line: number | null, kind: FailKind | null, message: string, details: string[]): RunResult {
    return { verdict, line, col: null, kind, message, details, warnings: this.warnings, virtualUsecs: this.nowUs() };
  }

  private setup(): void {
    try {
      this.netdev.configure({
        mtu: this.cfg.mtu,
        local4: this.cfg.local4,
        local6: this.cfg.local6,
        remote4: this.cfg.remote4,
        remote6: this.cfg.remote6,
        plen4: 16,
        plen6: 48,
      });
    } catch (e) {
      throw new Failure('stack', null, `cannot configure the test interface: ${(e as Error).message}`);
    }
    this.clock.drain();
    this.netdev.queue.length = 0;
  }

  private dispatch(ev: ScriptEvent, syscallEnd: number | null): void {
    const b = ev.body;
    switch (b.type) {
      case 'packet': {
        const p = b.packet;
        if (p.proto === 'other') throw new Failure('unsupported', ev.line, `${p.what} are not supported`);
        if (p.dir === 'out') this.outbound(ev, p);
        else {
          this.waitForEvent(ev, 'inbound packet');
          this.inbound(ev, p);
        }
        break;
      }
      case 'syscall':
        this.syscallEvent(ev, b.call, syscallEnd);
        break;
      case 'command':
        this.waitForEvent(ev, 'command');
        this.command(b.command, ev.line);
        break;
      case 'code':
        this.waitForEvent(ev, 'data collection for code');
        this.codeSnapshot(b.code, ev.line);
        break;
    }
  }

  // ---- commands and code ----

  private command(cmd: string, line: number): void {
    this.curLine = line;
    const u = classify(cmd);
    if (u !== null) throw new Failure('unsupported', line, `command '${u}' is not emulated`);
    const r = runCommand(
      {
        V: this.V,
        ownedSockets: () => new Set([...this.fds.values()].map((f) => f.so.so_id)),
      },
      cmd,
    );
    this.trace(`\`${cmd}\` → ${r.status}`);
    if (r.status !== 0) {
      const msg = r.stderr.trim() || r.stdout.trim().split('\n').slice(-1)[0] || `exit status ${r.status}`;
      throw new Failure('command', line, `command failed (status ${r.status}): \`${cmd}\`${msg ? `: ${msg}` : ''}`);
    }
  }

  private codeSnapshot(code: string, line: number): void {
    const su = this.sut;
    if (su === null) throw new Failure('code', line, 'runtime error in code: no socket to use for code');
    if (su.so === null || su.closed) throw new Failure('code', line, "runtime error in code: can't get info for socket");
    const r = sogetopt(su.so, { level: IPPROTO_TCP, name: TCP_OPTS.TCP_INFO as number });
    if (r.error !== 0 || r.value === undefined || typeof r.value !== 'object' || r.value instanceof Uint8Array)
      throw new Failure('code', line, `runtime error in code: can't get info for socket (getsockopt TCP_INFO: ${r.error ? errnoName(r.error) : 'no value'})`);
    const snap = new Map<string, number>();
    for (const [k, v] of Object.entries(r.value)) if (typeof v === 'number') snap.set(k.startsWith('tcpi_') ? k : `tcpi_${k}`, v);
    this.codeBlocks.push({ code, snapshot: snap, line });
  }

  private runCode(): void {
    if (this.codeBlocks.length === 0) return;
    const env = new CodeEnv();
    for (const b of this.codeBlocks) {
      this.curLine = b.line;
      for (const [k, v] of Object.entries({ ...TCPI_CONSTS })) env.vars.set(k, v);
      for (const [k, v] of b.snapshot) env.vars.set(k, v);
      try {
        env.run(parseCode(b.code));
      } catch (e) {
        if (e instanceof CodeAssertion) throw new Failure('code', b.line, `error in code: ${e.message}`);
        if (e instanceof CodeUnsupported) throw new Failure('unsupported', b.line, `code block: ${e.message}`);
        throw e;
      }
    }
  }

  // ---- packets ----

  private newModel(protocol: number, scriptFd: number, so: Socket | null): SockModel {
    const m: SockModel = {
      state: 'NEW',
      protocol,
      scriptFd,
      so,
      closed: false,
      liveLocal: null,
      liveRemote: null,
      liveLocalIsn: 0,
      liveRemoteIsn: 0,
      scriptLocalIsn: 0,
      scriptRemoteIsn: 0,
      tsValMap: new Map(),
      firstTs: null,
    };
    this.sockets.push(m);
    return m;
  }

  private ephemeralPort(): number {
    return this.nextEphemeral++;
  }

  /** The live tuple of a model, filling in packetdrill's defaults for unset ends. */
  private liveTuple(m: SockModel): { local: Endpoint; remote: Endpoint } {
    if (m.liveLocal === null) m.liveLocal = { ip: this.localIp, port: this.cfg.bindPort };
    if (m.liveRemote === null) m.liveRemote = { ip: this.remoteIp, port: this.ephemeralPort() };
    return { local: m.liveLocal, remote: m.liveRemote };
  }

  private packetProto(p: TcpPacket | UdpPacket | IcmpPacket): number {
    return p.proto === 'udp' ? IPPROTO_UDP : IPPROTO_TCP;
  }

  /** find_or_create_socket_for_script_packet() */
  private socketForScriptPacket(p: TcpPacket | UdpPacket | IcmpPacket, line: number): SockModel {
    const su = this.sut;
    if (p.proto === 'tcp') {
      if (p.dir === 'in' && su !== null && su.state === 'LISTENING') {
        // A new child: any inbound segment to a listener (the stray-packet rule too).
        const child = this.newModel(IPPROTO_TCP, -1, null);
        child.state = 'PASSIVE_PACKET_RECEIVED';
        child.liveRemote = { ip: this.remoteIp, port: this.ephemeralPort() };
        child.liveLocal = { ip: this.localIp, port: this.cfg.bindPort };
        child.scriptRemoteIsn = child.liveRemoteIsn = p.seq.start;
        this.sut = child;
        return child;
      }
      const flags = flagsFromScript(p.flags);
      if (p.dir === 'out' && flags & TH_SYN && !(flags & TH_ACK) && su !== null && su.state === 'ACTIVE_CONNECTING') {
        su.state = 'ACTIVE_SYN_SENT';
        su.scriptLocalIsn = p.seq.start;
        return su;
      }
    }
    if (su !== null) {
      const proto = this.packetProto(p);
      if (p.proto === 'icmp' || su.protocol === proto) return su;
    }
    throw new Failure('runtime', line, 'no matching socket for script packet');
  }

  private remoteOffset(m: SockModel, isSyn: boolean): number {
    return isSyn ? 0 : m.liveRemoteIsn;
  }

  private localOffset(m: SockModel, isSyn: boolean): number {
    return isSyn ? (m.liveLocalIsn - m.scriptLocalIsn) >>> 0 : m.liveLocalIsn;
  }

  private ipFields(ip: IpInfo | null): { tos: number; ttl: number; flowlabel: number } {
    let tos = 0;
    if (ip?.tos !== undefined) tos = ip.tos;
    if (ip?.dscp !== undefined) tos = (tos & 3) | (ip.dscp << 2);
    if (ip?.ecn !== undefined) tos = (tos & ~3) | { noecn: 0, ect1: 1, ect0: 2, ce: 3, ect01: 2 }[ip.ecn];
    const ttl = ip?.ttl ?? ip?.hlim ?? 255;
    return { tos, ttl, flowlabel: ip?.flowlabel ?? 0 };
  }

  private inbound(ev: ScriptEvent, p: TcpPacket | UdpPacket | IcmpPacket): void {
    const m = this.socketForScriptPacket(p, ev.line);
    let bytes: Uint8Array;
    const ip = this.ipFields(p.ip);
    if (p.proto === 'tcp') {
      const flags = flagsFromScript(p.flags);
      const isSyn = (flags & TH_SYN) !== 0;
      if (m.state === 'PASSIVE_SYNACK_SENT' && flags & TH_ACK) m.state = 'PASSIVE_SYNACK_ACKED';
      else if (m.state === 'ACTIVE_SYN_SENT' && isSyn && flags & TH_ACK) {
        m.state = 'ACTIVE_SYN_ACKED';
        m.scriptRemoteIsn = m.liveRemoteIsn = p.seq.start;
      }
      const { local, remote } = this.liveTuple(m);
      const seq = p.seq.absolute ? p.seq.start : (p.seq.start + this.remoteOffset(m, isSyn)) >>> 0;
      const ackOff = this.localOffset(m, isSyn);
      const ack = flags & TH_ACK ? ((p.ack ?? 0) + ackOff) >>> 0 : (p.ack ?? 0);
      let opts: TcpOption[] = [];
      if (Array.isArray(p.options)) {
        opts = p.options.map((o) => {
          if (o.kind === 'sack') return { ...o, blocks: o.blocks.map(([l, r]) => [(l + ackOff) >>> 0, (r + ackOff) >>> 0] as [number, number]) };
          if (o.kind === 'ts' && flags & TH_ACK && !o.ecrAbsolute) {
            const live = m.tsValMap.get(o.ecr);
            if (live === undefined) {
              if (this.cfg.tsEcrScaled) return o;
              throw new Failure('runtime', ev.line, `unable to find mapping for timestamp ecr ${o.ecr}`);
            }
            return { ...o, ecr: live };
          }
          return o;
        });
      }
      const t = {
        sport: p.ports?.src ?? remote.port,
        dport: p.ports?.dst ?? local.port,
        seq,
        ack,
        flags,
        win: p.win ?? 0,
        urg: p.urg ?? 0,
        options: encodeTcpOptions(opts),
        payloadLen: p.seq.len,
      };
      const encap = p.udpEncap ? { sport: p.udpEncap.src, dport: p.udpEncap.dst } : null;
      bytes = buildTcp(remote.ip, local.ip, ip, t, encap);
    } else if (p.proto === 'udp') {
      const { local, remote } = this.liveTuple(m);
      bytes = buildUdp(remote.ip, local.ip, ip, p.ports?.src ?? remote.port, p.ports?.dst ?? local.port, p.len);
    } else {
      bytes = this.buildInboundIcmp(m, p, ip, ev.line);
    }
    const err = this.netdev.inject(bytes);
    if (err !== 0) this.warnings.push(`line ${ev.line}: the stack refused the injected packet (errno ${errnoName(err)})`);
    this.clock.drain();
    this.pollPending();
  }

  private buildInboundIcmp(m: SockModel, p: IcmpPacket, ip: { tos: number; ttl: number; flowlabel: number }, line: number): Uint8Array {
    const { local, remote } = this.liveTuple(m);
    const v6 = local.ip.length === 16;
    const tc = icmpTypeCode(v6, p.icmpType, p.icmpCode);
    if (tc === null) throw new Failure('unsupported', line, `ICMP type/code '${p.icmpType} ${p.icmpCode ?? ''}' is not known for ${v6 ? 'ICMPv6' : 'ICMP'}`);
    let rest = 0;
    if (p.mtu !== null) rest = v6 ? p.mtu : p.mtu & 0xffff;
    if (p.id !== null) rest = (p.id << 16) >>> 0;
    let quoted: Uint8Array = new Uint8Array(0);
    const e = p.echoed;
    if (e !== null) {
      if (e.kind === 'tcp') {
        const seq = e.seq.absolute ? e.seq.start : (e.seq.start + this.localOffset(m, false)) >>> 0;
        const seg = tcpSegment({ sport: local.port, dport: remote.port, seq, ack: 0, flags: 0, win: 0, urg: 0, options: new Uint8Array(0), payloadLen: 0 });
        if (e.udpEncap) {
          const udp = new Uint8Array(8 + 8);
          udp[0] = e.udpEncap.src >> 8;
          udp[1] = e.udpEncap.src & 0xff;
          udp[2] = e.udpEncap.dst >> 8;
          udp[3] = e.udpEncap.dst & 0xff;
          const ulen = 8 + 20 + e.seq.len;
          udp[4] = ulen >> 8;
          udp[5] = ulen & 0xff;
          udp.set(seg.subarray(0, 8), 8);
          quoted = quotedHeader(local.ip, remote.ip, IPPROTO_UDP, udp, ulen, 16);
        } else quoted = quotedHeader(local.ip, remote.ip, IPPROTO_TCP, seg, 20 + e.seq.len, 8);
      } else if (e.kind === 'udp') {
        const udp = new Uint8Array(8);
        udp[0] = local.port >> 8;
        udp[1] = local.port & 0xff;
        udp[2] = remote.port >> 8;
        udp[3] = remote.port & 0xff;
        udp[4] = (8 + e.len) >> 8;
        udp[5] = (8 + e.len) & 0xff;
        quoted = quotedHeader(local.ip, remote.ip, IPPROTO_UDP, udp, 8 + e.len, 8);
      } else if (e.kind === 'raw') {
        quoted = quotedHeader(local.ip, remote.ip, 255, new Uint8Array(e.len), e.len, e.len);
      }
    }
    return buildIcmp(remote.ip, local.ip, ip, tc[0], tc[1], rest, quoted);
  }

  /** Tuple of a live packet: [src, sport, dst, dport] (ports from the transport header). */
  private liveTupleOf(p: ParsedPacket): { src: Uint8Array; sport: number; dst: Uint8Array; dport: number } | null {
    if (p.tcp) return { src: p.src, sport: p.tcp.sport, dst: p.dst, dport: p.tcp.dport };
    if (p.udp) return { src: p.src, sport: p.udp.sport, dst: p.dst, dport: p.udp.dport };
    return null;
  }

  private epEq(e: Endpoint | null, ip: Uint8Array, port: number): boolean {
    return e !== null && e.port === port && bytesEq(e.ip, ip);
  }

  /** find_socket_for_live_packet / find_connect_for_live_packet for an outbound packet. */
  private matchLive(p: ParsedPacket): SockModel | null {
    const su = this.sut;
    if (su === null) return null;
    const t = this.liveTupleOf(p);
    if (t === null) return null;
    if (this.epEq(su.liveLocal, t.src, t.sport) && this.epEq(su.liveRemote, t.dst, t.dport)) return su;
    const tcpMatch = p.tcp !== null && p.tcp.flags & TH_SYN && !(p.tcp.flags & TH_ACK) && su.protocol === IPPROTO_TCP && su.state === 'ACTIVE_SYN_SENT';
    const udpMatch = p.udp !== null && su.protocol === IPPROTO_UDP && su.state === 'ACTIVE_CONNECTING';
    if (!tcpMatch && !udpMatch) return null;
    if (!this.epEq(su.liveRemote, t.dst, t.dport)) return null;
    su.liveLocal = { ip: t.src, port: t.sport };
    if (p.tcp) su.liveLocalIsn = p.tcp.seq;
    return su;
  }

  private outbound(ev: ScriptEvent, p: TcpPacket | UdpPacket | IcmpPacket): void {
    if (p.proto === 'icmp') throw new Failure('unsupported', ev.line, 'outbound ICMP packets are not supported');
    const m = this.socketForScriptPacket(p, ev.line);
    if (p.proto === 'tcp') {
      const flags = flagsFromScript(p.flags);
      if (m.state === 'PASSIVE_PACKET_RECEIVED' && flags & TH_SYN && flags & TH_ACK && !p.seq.ignore) m.scriptLocalIsn = p.seq.start;
    }
    // Sniff: the next packet of the socket under test.
    const deadline = ev.time.kind === 'any' ? Number.POSITIVE_INFINITY : Math.max(ev.time.endUsecs, ev.time.usecs) + SNIFF_SLACK_USECS;
    let live: { p: ParsedPacket; tUs: number } | null = null;
    for (;;) {
      while (this.netdev.queue.length > 0) {
        const c = this.netdev.queue.shift() as { bytes: Uint8Array; tNs: number };
        const pp = parsePacket(c.bytes, this.cfg.udpEncaps);
        if (pp === null) continue;
        const owner = this.matchLive(pp);
        if (owner === null) continue;
        if (owner !== m) throw new Failure('packet', ev.line, 'packet is not for expected socket');
        live = { p: pp, tUs: Math.floor(c.tNs / NS) };
        break;
      }
      if (live !== null) break;
      if (this.nowUs() >= deadline) {
        throw new Failure('no-packet', ev.line, `timed out waiting for outbound packet: expected ${this.describeExpected(p)} at ${fmtSecs(ev.time.usecs)} sec`);
      }
      if (!this.stepTime(deadline)) {
        if (this.netdev.queue.length > 0) continue;
        if (ev.time.kind === 'any' || this.nowUs() >= deadline)
          throw new Failure(
            'no-packet',
            ev.line,
            `no outbound packet: expected ${this.describeExpected(p)}${ev.time.kind === 'any' ? '' : ` at ${fmtSecs(ev.time.usecs)} sec`} (the stack sent nothing more)`,
          );
      }
    }
    if (p.proto === 'tcp' && live.p.tcp) {
      const flags = flagsFromScript(p.flags);
      if (m.state === 'PASSIVE_PACKET_RECEIVED' && flags & TH_SYN && flags & TH_ACK) {
        m.state = 'PASSIVE_SYNACK_SENT';
        m.liveLocalIsn = live.p.tcp.seq;
      }
    }
    this.verifyOutbound(ev, p, m, live.p, live.tUs);
  }

  private describeExpected(p: TcpPacket | UdpPacket | IcmpPacket): string {
    if (p.proto === 'tcp') return scriptTcpString(p);
    if (p.proto === 'udp') return `> udp (${p.len})`;
    return `icmp ${p.icmpType}`;
  }

  private verifyOutbound(ev: ScriptEvent, p: TcpPacket | UdpPacket, m: SockModel, live: ParsedPacket, tUs: number): void {
    const line = ev.line;
    const mismatch = (field: string, expected: number | string, actual: number | string, kind: FailKind = 'packet'): Failure => {
      const fmt = (v: number | string) => (typeof v === 'number' ? `${v} (0x${(v >>> 0).toString(16)})` : v);
      return new Failure(kind, line, `live packet field ${field}: expected: ${fmt(expected)} vs actual: ${fmt(actual)}`);
    };
    let actualStr = '';
    const check = (): void => {
      if (live.version === 4 && !live.ipCksumOk) throw new Failure('packet', line, 'bad outbound IP checksum');
      const wantV = this.v6 ? 6 : 4;
      if (live.version !== wantV) throw mismatch(live.version === 4 ? 'ipv4_version' : 'ipv6_version', wantV, live.version);
      if (p.proto === 'udp') {
        if (live.udp === null) throw mismatch('ip_protocol', IPPROTO_UDP, live.proto);
        actualStr = `> udp (${live.udp.payload.length})`;
        if (live.version === 4 && live.ihl !== 20) throw mismatch('ipv4_header_length', 5, live.ihl / 4);
        const exp = 8 + p.len;
        if (live.udp.len !== exp) throw mismatch('udp_len', exp, live.udp.len);
        if (!live.udp.cksumOk) throw new Failure('packet', line, 'bad outbound UDP checksum');
        this.verifyIpInfo(p.ip, live, mismatch);
        for (const b of live.udp.payload) if (b !== 0) throw new Failure('packet', line, 'incorrect outbound data payload');
        return;
      }
      const t = live.tcp;
      if (t === null) throw mismatch('ip_protocol', p.udpEncap ? IPPROTO_UDP : IPPROTO_TCP, live.proto);
      // Map live → script space.
      const isSyn = (t.flags & TH_SYN) !== 0;
      const seq = p.seq.absolute ? t.seq : (t.seq - this.localOffset(m, isSyn)) >>> 0;
      const ack = t.flags & TH_ACK ? (t.ack - this.remoteOffset(m, isSyn)) >>> 0 : t.ack;
      const opts = Uint8Array.from(t.options);
      // SACK blocks to script space.
      for (let i = 0; i < opts.length; ) {
        const k = opts[i] as number;
        if (k === 0) break;
        if (k === 1) {
          i++;
          continue;
        }
        const l = opts[i + 1] ?? 0;
        if (l < 2) break;
        if (k === 5) {
          for (let j = i + 2; j + 8 <= i + l; j += 4) {
            const v =
              ((((opts[j] as number) << 24) | ((opts[j + 1] as number) << 16) | ((opts[j + 2] as number) << 8) | (opts[j + 3] as number)) -
                this.remoteOffset(m, isSyn)) >>>
              0;
            opts[j] = v >>> 24;
            opts[j + 1] = (v >>> 16) & 0xff;
            opts[j + 2] = (v >>> 8) & 0xff;
            opts[j + 3] = v & 0xff;
          }
        }
        i += l;
      }
      // TS val: remember script → live, rewrite to script space (relative to the first).
      const ats = findTsOption(opts);
      const scriptOpts = Array.isArray(p.options) ? p.options : null;
      const sts = scriptOpts?.find((o): o is Extract<TcpOption, { kind: 'ts' }> => o.kind === 'ts') ?? null;
      let actualTsVal = 0;
      if (ats >= 0) {
        actualTsVal =
          ((opts[ats] as number) * 0x1000000 + (((opts[ats + 1] as number) << 16) | ((opts[ats + 2] as number) << 8) | (opts[ats + 3] as number))) >>> 0;
        if (sts !== null) {
          if (!sts.valIgnore) m.tsValMap.set(sts.val, actualTsVal);
          if (m.firstTs === null) m.firstTs = { script: sts.val, actual: actualTsVal };
        }
      }
      actualStr = `> ${flagsToScript(t.flags)} ${seq}:${(seq + t.payload.length) >>> 0}(${t.payload.length})${t.flags & TH_ACK ? ` ack ${ack}` : ''} win ${t.win}${t.urg ? ` urg ${t.urg}` : ''}${opts.length ? ` <${optionsToString(opts)}>` : ''}${live.udpEncap ? `/udp(${live.udpEncap.sport} > ${live.udpEncap.dport})` : ''}`;
      if (live.version === 4 && live.ihl !== 20) throw mismatch('ipv4_header_length', 5, live.ihl / 4);
      if (p.udpEncap) {
        if (live.udpEncap === null) throw mismatch('ip_protocol', IPPROTO_UDP, live.proto);
        if (live.udpEncap.sport !== p.udpEncap.src) throw mismatch('udp_src_port', p.udpEncap.src, live.udpEncap.sport);
        if (live.udpEncap.dport !== p.udpEncap.dst) throw mismatch('udp_dst_port', p.udpEncap.dst, live.udpEncap.dport);
      } else if (live.udpEncap !== null) throw mismatch('ip_protocol', IPPROTO_TCP, IPPROTO_UDP);
      const scriptOptBytes = scriptOpts ? encodeTcpOptions(scriptOpts) : new Uint8Array(0);
      const optAllowance = p.options === 'nocheck' ? opts.length : scriptOptBytes.length;
      const expLen = (live.version === 4 ? 20 : 0) + (p.udpEncap ? 8 : 0) + 20 + optAllowance + p.seq.len;
      if (live.ipLen !== expLen) {
        // Say which part differs: options or payload.
        if (t.payload.length !== p.seq.len) throw mismatch('payload length', p.seq.len, t.payload.length);
        throw mismatch(live.version === 4 ? 'ipv4_total_length' : 'ipv6_payload_len', expLen, live.ipLen);
      }
      this.verifyIpInfo(p.ip, live, mismatch);
      const sflags = flagsFromScript(p.flags);
      if (t.doff !== 20 + optAllowance) throw mismatch('tcp_data_offset', (20 + optAllowance) / 4, t.doff / 4);
      const names: [string, number][] = [
        ['tcp_fin', 0x01],
        ['tcp_syn', 0x02],
        ['tcp_rst', 0x04],
        ['tcp_psh', 0x08],
        ['tcp_ack', 0x10],
        ['tcp_urg', 0x20],
        ['tcp_ece', 0x40],
        ['tcp_cwr', 0x80],
        ['tcp_ae', 0x100],
      ];
      for (const [n, bit] of names) if ((sflags & bit) !== (t.flags & bit)) throw mismatch(n, sflags & bit ? 1 : 0, t.flags & bit ? 1 : 0);
      if (t.reserved !== 0) throw mismatch('tcp_reserved_bits', 0, t.reserved);
      if (!p.seq.ignore && seq !== p.seq.start) throw mismatch('tcp_seq', p.seq.start, seq);
      const expAck = p.ack ?? 0;
      if (ack !== expAck) throw mismatch('tcp_ack_seq', expAck, ack);
      if (p.win !== null && t.win !== p.win) throw mismatch('tcp_window', p.win, t.win);
      if (t.urg !== (p.urg ?? 0)) throw mismatch('tcp_urg_ptr', p.urg ?? 0, t.urg);
      if (!p.udpEncap && !t.cksumOk) throw new Failure('packet', line, 'bad outbound TCP checksum');
      if (p.options !== 'nocheck') {
        const sb = scriptOptBytes;
        const sTs = findTsOption(sb);
        const cmp = Uint8Array.from(opts);
        if (sTs >= 0 && ats >= 0) {
          // TS val (unless --tcp_ts_tick_usecs) and ecr are not compared.
          if (this.cfg.tsTickUsecs > 0 && sts !== null && m.firstTs !== null) {
            const scriptSpace = (m.firstTs.script + (actualTsVal - m.firstTs.actual)) >>> 0;
            const diff = Math.abs((scriptSpace - sts.val) | 0);
            if (diff * this.cfg.tsTickUsecs > this.cfg.toleranceUsecs) throw new Failure('packet', line, 'bad outbound TCP timestamp value');
          }
          if (sTs === ats) cmp.set(sb.subarray(sTs, sTs + 8), ats);
        }
        if (!bytesEq(cmp, sb))
          throw new Failure('packet', line, `bad outbound TCP options: expected <${optionsToString(sb)}> vs actual <${optionsToString(opts)}>`);
      }
      for (const b of t.payload) if (b !== 0) throw new Failure('packet', line, 'incorrect outbound data payload');
    };
    try {
      check();
      this.verifyTime(ev.time.kind, ev.time.usecs, ev.time.endUsecs, tUs, 'outbound packet', this.lastEvent?.usecs ?? null);
    } catch (e) {
      if (!(e instanceof Failure)) throw e;
      const exp = p.proto === 'tcp' ? scriptTcpString(p) : `> udp (${p.len})`;
      e.details.push(`script packet: ${fmtSecs(ev.time.usecs)} ${exp}`);
      if (actualStr) e.details.push(`actual packet: ${fmtSecs(tUs)} ${actualStr}`);
      if (this.cfg.nonFatalPacket) {
        this.warnings.push(`line ${line}: warning handling packet: ${e.message}`);
        return;
      }
      throw e;
    }
    this.trace(`line ${line} ok: ${actualStr}`);
  }

  private verifyIpInfo(ip: IpInfo | null, live: ParsedPacket, mismatch: (f: string, e: number, a: number) => Failure): void {
    if (ip === null) return;
    if (ip.ecn !== undefined) {
      const a = live.tos & 3;
      if (ip.ecn === 'ect01') {
        if (a !== 1 && a !== 2) throw mismatch('ip_ecn', 1, a);
      } else {
        const e = { noecn: 0, ect1: 1, ect0: 2, ce: 3 }[ip.ecn];
        if (a !== e) throw mismatch('ip_ecn', e, a);
      }
    }
    if (ip.tos !== undefined && live.tos !== ip.tos) throw mismatch('tos', ip.tos, live.tos);
    if (ip.dscp !== undefined && live.tos >> 2 !== ip.dscp) throw mismatch('dscp', ip.dscp, live.tos >> 2);
    const ttl = ip.ttl ?? ip.hlim;
    if (ttl !== undefined && ttl !== 255 && live.ttl !== ttl) throw mismatch(live.version === 4 ? 'ttl' : 'hop_limit', ttl, live.ttl);
    if (ip.flowlabel !== undefined && live.flowlabel !== ip.flowlabel) throw mismatch('flowlabel', ip.flowlabel, live.flowlabel);
  }

  // ---- system calls ----

  private pollPending(): void {
    if (this.pending.length === 0) return;
    const still: Pending[] = [];
    const done: { p: Pending; o: Outcome }[] = [];
    for (const p of this.pending) {
      const o = p.attempt();
      if (o === BLOCK) still.push(p);
      else done.push({ p, o });
    }
    this.pending = still;
    for (const { p, o } of done) {
      const saved = this.curLine;
      this.curLine = p.line;
      this.verifyTime(p.timeKind === 'rel' ? 'rel' : 'abs', p.expectEndUsecs, p.expectEndUsecs, this.nowUs(), 'system call return', p.lastEventUsecs);
      this.checkResult(p.call, o, p.line);
      this.curLine = saved;
    }
  }

  private finishPending(): void {
    while (this.pending.length > 0) {
      const p = this.pending[0] as Pending;
      if (!this.stepTime(Math.max(this.nowUs(), p.expectEndUsecs) + SNIFF_SLACK_USECS) && this.pending.includes(p)) {
        throw new Failure('syscall', p.line, `blocking system call ${p.call.name}() did not return by ${fmtSecs(p.expectEndUsecs)} sec`);
      }
    }
  }

  private syscallEvent(ev: ScriptEvent, call: Syscall, endUs: number | null): void {
    // A new system call waits for an outstanding blocking one (await_idle_thread).
    while (this.pending.length > 0) {
      const p = this.pending[0] as Pending;
      if (!this.stepTime(Math.max(this.nowUs(), p.expectEndUsecs) + SNIFF_SLACK_USECS) && this.pending.includes(p))
        throw new Failure('syscall', p.line, `blocking system call ${p.call.name}() did not return by ${fmtSecs(p.expectEndUsecs)} sec`);
    }
    this.waitForEvent(ev, 'system call start');
    const attempt = this.makeAttempt(call, ev.line);
    const blocking = endUs !== null;
    let o = attempt();
    this.trace(`line ${ev.line}: ${call.name}(...) ${o === BLOCK ? 'blocks' : `= ${o.ret}${o.errno ? ` ${errnoName(o.errno)}` : ''}`}`);
    if (blocking) {
      if (o === BLOCK) {
        this.pending.push({ call, line: ev.line, attempt, expectEndUsecs: endUs, timeKind: ev.time.kind, lastEventUsecs: this.lastEvent?.usecs ?? null });
        return;
      }
      this.verifyTime(ev.time.kind === 'rel' ? 'rel' : 'abs', endUs, endUs, this.nowUs(), 'system call return', this.lastEvent?.usecs ?? null);
      this.checkResult(call, o, ev.line);
      return;
    }
    if (o === BLOCK) {
      // A call the script did not mark as blocking blocks: packetdrill would sit in it; only
      // timers can make progress, so let virtual time run (bounded).
      const limit = this.nowUs() + 120_000_000;
      while (o === BLOCK) {
        if (!this.stepTime(limit))
          throw new Failure('syscall', ev.line, `system call ${call.name}() blocked (no '...' end time in the script, and it never returned)`);
        o = attempt();
      }
    }
    this.checkResult(call, o, ev.line);
  }

  private checkResult(call: Syscall, o: Outcome, line: number): void {
    const expected = this.evalInt(call.result, line);
    const checkFd = call.name === 'socket' || call.name === 'accept';
    const fail = (kind: FailKind, msg: string): void => {
      if (this.cfg.nonFatalSyscall) {
        this.warnings.push(`line ${line}: warning: ${msg}`);
        return;
      }
      throw new Failure(kind, line, msg);
    };
    const errText = (e: number) => `${errnoName(e)} (${strerror(e)})`;
    if (checkFd && expected >= 0) {
      if (o.ret < 0) {
        fail('syscall', `${call.name}(): expected non-negative result but got ${o.ret} with errno ${errText(o.errno)}`);
        return;
      }
    } else if (o.ret !== expected) {
      if (o.ret < 0) {
        fail('syscall', `${call.name}(): expected result ${expected} but got ${o.ret} with errno ${errText(o.errno)}`);
        return;
      }
      fail('syscall', `${call.name}(): expected result ${expected} but got ${o.ret}`);
      return;
    }
    if (call.errno !== null) {
      const want = lookupSymbol(call.errno) as number;
      if (o.errno !== want) {
        fail('errno', `${call.name}(): expected errno ${errText(want)} but got ${o.errno ? errText(o.errno) : '0 (no error)'}`);
        return;
      }
    }
    o.after?.();
  }

  // ---- expression helpers ----

  private evalInt(e: Expr, line: number): number {
    switch (e.type) {
      case 'int':
        return e.value;
      case 'word': {
        const v = lookupSymbol(e.name);
        if (v === undefined) throw new Failure('unsupported', line, `unknown symbol ${e.name}`);
        return v;
      }
      case 'binop': {
        const a = this.evalInt(e.left, line);
        const b = this.evalInt(e.right, line);
        return e.op === '|' ? (a | b) >>> 0 : e.op === '&' ? (a & b) >>> 0 : e.op === '+' ? a + b : a - b;
      }
      case 'neg':
        return -this.evalInt(e.operand, line);
      case 'list':
        if (e.items.length === 1) return this.evalInt(e.items[0] as Expr, line);
        break;
      case 'call':
        if (['htons', 'htonl', 'ntohs', 'ntohl'].includes(e.name) && e.args.length === 1) return this.evalInt(e.args[0] as Expr, line);
        break;
      default:
        break;
    }
    throw new Failure('runtime', line, `expected an integer expression, found ${e.type}`);
  }

  private arg(call: Syscall, i: number, line: number): Expr {
    const a = call.args[i];
    if (a === undefined) throw new Failure('runtime', line, `${call.name}(): missing argument ${i + 1}`);
    return a;
  }

  private argCount(call: Syscall, n: number, line: number): void {
    if (call.args.length !== n) throw new Failure('runtime', line, `${call.name}(): expected ${n} arguments, got ${call.args.length}`);
  }

  private fdOf(call: Syscall, line: number): FdEntry {
    const fd = this.evalInt(this.arg(call, 0, line), line);
    const e = this.fds.get(fd);
    if (e === undefined) throw new Failure('runtime', line, `unable to find socket with script fd ${fd}`);
    return e;
  }

  private sockaddrFor(ip: Uint8Array, port: number, domain: number): Sockaddr {
    if (domain === AF_INET6) {
      if (ip.length === 4) {
        const a = new Uint8Array(16);
        a[10] = 0xff;
        a[11] = 0xff;
        a.set(ip, 12);
        return sockaddr_in6(a, port);
      }
      return sockaddr_in6(ip, port);
    }
    return sockaddr_in(v4num(ip), port);
  }

  /** A sockaddr expression `{sa_family=..., sin_port=htons(..), sin_addr=inet_addr("...")}`, or null for `...`. */
  private sockaddrExpr(e: Expr, line: number): Sockaddr | null {
    if (e.type === 'ellipsis') return null;
    if (e.type !== 'struct') throw new Failure('runtime', line, 'expected a sockaddr or ...');
    let port = 0;
    let addr: Uint8Array | null = null;
    for (const f of e.fields) {
      if (f.name === 'sin_port' || f.name === 'sin6_port') port = this.evalInt(f.value, line);
      else if ((f.name === 'sin_addr' || f.name === 'sin6_addr') && f.value.type === 'call' && f.value.args[0]?.type === 'string') {
        const s = f.value.args[0].value;
        addr = bytesOf4(s) ?? inet_pton6(s);
      }
    }
    if (addr === null) throw new Failure('runtime', line, 'sockaddr without a usable address');
    return this.sockaddrFor(addr, port, addr.length === 4 ? AF_INET : AF_INET6);
  }

  private domain(): number {
    return this.cfg.ipVersion === 'ipv4' ? AF_INET : AF_INET6;
  }

  private wireIp(local: boolean): Uint8Array {
    return local ? this.localIp : this.remoteIp;
  }

  private wouldBlock(err: number): boolean {
    return err === EWOULDBLOCK;
  }

  private optValue(e: Expr, line: number): Sockopt['value'] {
    if (e.type === 'list' && e.items.length === 1) return this.optValue(e.items[0] as Expr, line);
    if (e.type === 'string') return new TextEncoder().encode(e.value);
    if (e.type === 'struct') {
      const o: { [k: string]: number | string } = {};
      for (const f of e.fields) {
        if (f.name === null) continue;
        o[f.name] = f.value.type === 'string' ? f.value.value : this.evalInt(f.value, line);
      }
      return o;
    }
    return this.evalInt(e, line);
  }

  /** Build the retryable attempt for a system call. */
  private makeAttempt(call: Syscall, line: number): Attempt {
    const ok = (ret: number, after?: () => void): Outcome => ({ ret, errno: 0, after });
    const errOut = (errno: number): Outcome => ({ ret: -1, errno });
    const nbio = (f: FdEntry) => f.nonblock;
    switch (call.name) {
      case 'socket': {
        this.argCount(call, 3, line);
        const a0 = this.arg(call, 0, line);
        const domain = a0.type === 'ellipsis' ? this.domain() : this.evalInt(a0, line);
        const type = this.evalInt(this.arg(call, 1, line), line);
        const proto = this.evalInt(this.arg(call, 2, line), line);
        return () => {
          const r = socreate(this.V, domain, type & 0xffff, proto);
          if (r.error !== 0 || r.so === null) return errOut(r.error);
          const so = r.so;
          if (this.cfg.ipVersion === 'ipv4-mapped-ipv6') sosetopt(so, { level: 41, name: lookupSymbol('IPV6_V6ONLY') as number, value: 0 });
          return ok(3, () => {
            const fd = this.evalInt(call.result, line);
            if (this.fds.has(fd)) throw new Failure('runtime', line, `duplicate socket fd ${fd} in script`);
            const protocol = proto !== 0 ? proto : type === 2 ? IPPROTO_UDP : IPPROTO_TCP;
            const m = this.newModel(protocol, fd, so);
            this.fds.set(fd, { model: m, so, nonblock: (type & 0x20000000) !== 0 });
            this.sut = m;
          });
        };
      }
      case 'bind': {
        this.argCount(call, 3, line);
        const f = this.fdOf(call, line);
        const sa = this.sockaddrExpr(this.arg(call, 1, line), line) ?? this.sockaddrFor(this.wireIp(true), this.cfg.bindPort, this.domain());
        return () => {
          const e = sobind(f.so, sa);
          if (e !== 0) return errOut(e);
          return ok(0, () => {
            if (f.model.liveLocal === null) f.model.liveLocal = { ip: this.localIp, port: sa.port };
            if (f.model.protocol === IPPROTO_UDP) this.learnLocal(f.model, f.so);
          });
        };
      }
      case 'listen': {
        this.argCount(call, 2, line);
        const f = this.fdOf(call, line);
        const backlog = this.evalInt(this.arg(call, 1, line), line);
        return () => {
          const e = solisten(f.so, backlog);
          if (e !== 0) return errOut(e);
          return ok(0, () => {
            if (f.model.state !== 'NEW') throw new Failure('runtime', line, `bad listen(); script fd ${f.model.scriptFd} in state ${f.model.state}`);
            f.model.state = 'LISTENING';
          });
        };
      }
      case 'accept': {
        this.argCount(call, 3, line);
        const f = this.fdOf(call, line);
        return () => {
          const r = soaccept(f.so);
          if (r.error !== 0 || r.so === null) {
            if (this.wouldBlock(r.error) && !nbio(f)) return BLOCK;
            return errOut(r.error);
          }
          const child = r.so;
          const nam = r.nam;
          return ok(4, () => {
            const fd = this.evalInt(call.result, line);
            let model: SockModel | undefined;
            for (const s of this.sockets) {
              if (s.so !== null || s.closed) continue;
              if (s.state !== 'PASSIVE_SYNACK_SENT' && s.state !== 'PASSIVE_PACKET_RECEIVED' && s.state !== 'PASSIVE_SYNACK_ACKED') continue;
              if (nam !== null && s.liveRemote !== null && s.liveRemote.port !== nam.port) continue;
              model = s;
              break;
            }
            if (model === undefined) throw new Failure('runtime', line, 'unable to find socket matching accept() call');
            model.scriptFd = fd;
            model.so = child;
            this.fds.set(fd, { model, so: child, nonblock: false });
          });
        };
      }
      case 'connect': {
        this.argCount(call, 3, line);
        const f = this.fdOf(call, line);
        const explicit = this.sockaddrExpr(this.arg(call, 1, line), line);
        const su = this.sut;
        let sa: Sockaddr;
        if (explicit !== null) sa = explicit;
        else if (su !== null && su.state === 'PASSIVE_PACKET_RECEIVED' && su.liveRemote !== null)
          sa = this.sockaddrFor(su.liveRemote.ip, su.liveRemote.port, this.domain());
        else sa = this.sockaddrFor(this.wireIp(false), this.cfg.connectPort, this.domain());
        const m = f.model;
        if (m.state === 'NEW') {
          m.state = 'ACTIVE_CONNECTING';
          m.liveRemote = { ip: this.remoteIp, port: this.cfg.connectPort };
          if (explicit !== null) m.liveRemote = { ip: this.remoteIp, port: explicit.port };
        }
        let started = false;
        return () => {
          const so = f.so;
          if (!started) {
            started = true;
            const e = soconnect(so, sa);
            if (m.protocol === IPPROTO_UDP && e === 0) this.learnLocal(m, so);
            if (e === 0 && so.so_state & SS_ISCONNECTED) return ok(0);
            if (e !== 0 && e !== EINPROGRESS) return errOut(e);
            if (nbio(f) && (so.so_state & SS_ISCONNECTING || e === EINPROGRESS)) return errOut(EINPROGRESS);
            if (!(so.so_state & SS_ISCONNECTING)) return e === 0 ? ok(0) : errOut(e);
          }
          if (so.so_state & SS_ISCONNECTED) return ok(0);
          if (so.so_error !== 0) {
            const e = so.so_error;
            so.so_error = 0;
            return errOut(e);
          }
          if (so.so_state & SS_ISCONNECTING) return BLOCK;
          return errOut(so.so_error || 53);
        };
      }
      case 'read':
      case 'recv':
      case 'recvfrom':
      case 'readv':
      case 'recvmsg': {
        const f = this.fdOf(call, line);
        let len: number;
        let flags = 0;
        if (call.name === 'readv') len = this.iovLen(this.arg(call, 1, line), line);
        else if (call.name === 'recvmsg') {
          len = this.msgLen(this.arg(call, 1, line), line);
          flags = this.evalInt(this.arg(call, 2, line), line);
        } else {
          len = this.evalInt(this.arg(call, 2, line), line);
          if (call.name !== 'read') flags = this.evalInt(this.arg(call, 3, line), line);
        }
        const buf = new Uint8Array(Math.max(0, len));
        return () => {
          const r = soreceive(f.so, buf, flags);
          if (r.error !== 0) {
            if (this.wouldBlock(r.error) && !nbio(f) && !(flags & MSG_DONTWAIT)) return BLOCK;
            return errOut(r.error);
          }
          if (r.eof) return ok(0);
          return ok(r.len);
        };
      }
      case 'write':
      case 'send':
      case 'sendto':
      case 'writev':
      case 'sendmsg': {
        const f = this.fdOf(call, line);
        let len: number;
        let flags = 0;
        let nam: Sockaddr | null = null;
        if (call.name === 'writev') len = this.iovLen(this.arg(call, 1, line), line);
        else if (call.name === 'sendmsg') {
          len = this.msgLen(this.arg(call, 1, line), line);
          flags = this.evalInt(this.arg(call, 2, line), line);
        } else {
          len = this.evalInt(this.arg(call, 2, line), line);
          if (call.name !== 'write') flags = this.evalInt(this.arg(call, 3, line), line);
        }
        if (call.name === 'sendto') {
          this.argCount(call, 6, line);
          // sendto works like connect (TFO): the socket connects to the remote end.
          nam = this.sockaddrExpr(this.arg(call, 4, line), line) ?? this.sockaddrFor(this.wireIp(false), this.cfg.connectPort, this.domain());
          const m = f.model;
          if (m.state === 'NEW') {
            m.state = 'ACTIVE_CONNECTING';
            m.liveRemote = { ip: this.remoteIp, port: nam.port };
          }
        }
        let sent = 0;
        return () => {
          for (;;) {
            const r = sosend(f.so, nam, null, 0, len - sent, flags);
            if (r.error !== 0) {
              if (this.wouldBlock(r.error) && !nbio(f) && !(flags & MSG_DONTWAIT)) return BLOCK;
              if (sent > 0) return ok(sent);
              return errOut(r.error);
            }
            sent += r.sent;
            if (sent >= len || nbio(f) || flags & MSG_DONTWAIT) return ok(sent);
            if (r.sent === 0) return BLOCK;
          }
        };
      }
      case 'close': {
        this.argCount(call, 1, line);
        const fdn = this.evalInt(this.arg(call, 0, line), line);
        return () => {
          const f = this.fds.get(fdn);
          if (f === undefined) return errOut(9);
          const e = soclose(f.so);
          if (e !== 0) return errOut(e);
          return ok(0, () => {
            f.model.closed = true;
            this.fds.delete(fdn);
          });
        };
      }
      case 'shutdown': {
        this.argCount(call, 2, line);
        const f = this.fdOf(call, line);
        const how = this.evalInt(this.arg(call, 1, line), line);
        return () => {
          const e = soshutdown(f.so, how);
          return e === 0 ? ok(0) : errOut(e);
        };
      }
      case 'fcntl': {
        const f = this.fdOf(call, line);
        const cmd = this.evalInt(this.arg(call, 1, line), line);
        const a2 = call.args[2];
        return () => {
          if (cmd === F_GETFL) return ok(O_RDWR | (f.nonblock ? O_NONBLOCK : 0));
          if (cmd === F_SETFL) {
            const v = a2 ? this.evalInt(a2, line) : 0;
            f.nonblock = (v & O_NONBLOCK) !== 0;
            if (f.nonblock) f.so.so_state |= SS_NBIO;
            else f.so.so_state &= ~SS_NBIO;
            return ok(0);
          }
          if (cmd === F_GETFD || cmd === F_SETFD) return ok(0);
          return errOut(22);
        };
      }
      case 'ioctl': {
        const f = this.fdOf(call, line);
        const req = this.evalInt(this.arg(call, 1, line), line);
        const a2 = call.args[2];
        return () => {
          if (req === (lookupSymbol('FIONBIO') as number)) {
            f.nonblock = a2 ? this.evalInt(a2, line) !== 0 : false;
            return ok(0);
          }
          if (req === (lookupSymbol('FIONREAD') as number)) {
            const have = f.so.so_rcv.sb_ccc;
            const want = a2 && a2.type !== 'ellipsis' ? this.evalInt(a2, line) : have;
            if (want !== have) throw new Failure('syscall', line, `ioctl(FIONREAD): expected ${want} bytes readable but there are ${have}`);
            return ok(0);
          }
          throw new Failure('unsupported', line, `ioctl request 0x${req.toString(16)} is not supported`);
        };
      }
      case 'getsockopt': {
        const f = this.fdOf(call, line);
        const level = this.evalInt(this.arg(call, 1, line), line);
        const name = this.evalInt(this.arg(call, 2, line), line);
        const want = call.args[3];
        const wantLen = call.args[4];
        return () => {
          const r = sogetopt(f.so, { level, name });
          if (r.error !== 0) return errOut(r.error);
          return ok(0, () => this.compareOptval(want, wantLen, r.value, line, call));
        };
      }
      case 'setsockopt': {
        const f = this.fdOf(call, line);
        const level = this.evalInt(this.arg(call, 1, line), line);
        const name = this.evalInt(this.arg(call, 2, line), line);
        const value = this.optValue(this.arg(call, 3, line), line);
        return () => {
          const e = sosetopt(f.so, { level, name, value });
          return e === 0 ? ok(0) : errOut(e);
        };
      }
      case 'poll':
        return this.pollAttempt(call, line);
      default:
        throw new Failure('unsupported', line, `system call ${call.name}() is not supported`);
    }
  }

  /**
   * A UDP socket's local end as the kernel bound it (packetdrill learns it only from the first
   * datagram sent; reading it lets a script receive first).
   */
  private learnLocal(m: SockModel, so: Socket): void {
    const sa = so.so_proto.pr_usrreqs.pru_sockaddr(so);
    if (sa === null || sa.port === 0) return;
    m.liveLocal = { ip: this.localIp, port: sa.port };
  }

  private iovLen(e: Expr, line: number): number {
    if (e.type !== 'list') throw new Failure('runtime', line, 'expected an iovec array');
    let n = 0;
    for (const it of e.items) {
      if (it.type !== 'struct') throw new Failure('runtime', line, 'expected {iov_base, iov_len} in the iovec array');
      const lenField = it.fields.find((f) => f.name === 'iov_len') ?? it.fields[it.fields.length - 1];
      if (lenField) n += this.evalInt(lenField.value, line);
    }
    return n;
  }

  private msgLen(e: Expr, line: number): number {
    if (e.type !== 'struct') throw new Failure('runtime', line, 'expected a msghdr struct');
    const iov = e.fields.find((f) => f.name === 'msg_iov');
    if (iov === undefined) return 0;
    return this.iovLen(iov.value, line);
  }

  private compareOptval(want: Expr | undefined, wantLen: Expr | undefined, actual: Sockopt['value'], line: number, call: Syscall): void {
    if (want === undefined || want.type === 'ellipsis') return;
    const inner = want.type === 'list' && want.items.length === 1 ? (want.items[0] as Expr) : want;
    const show = (v: unknown) => (v instanceof Uint8Array ? `"${new TextDecoder().decode(v)}"` : typeof v === 'object' ? JSON.stringify(v) : String(v));
    const fail = (msg: string) => {
      if (this.cfg.nonFatalSyscall) this.warnings.push(`line ${line}: warning: ${msg}`);
      else throw new Failure('syscall', line, msg);
    };
    if (inner.type === 'struct') {
      if (actual === undefined || typeof actual !== 'object' || actual instanceof Uint8Array) {
        fail(`getsockopt: expected a struct value but got ${show(actual)}`);
        return;
      }
      for (const fld of inner.fields) {
        if (fld.name === null) continue;
        const av = (actual as Record<string, unknown>)[fld.name];
        const ev = fld.value.type === 'string' ? fld.value.value : this.evalInt(fld.value, line);
        const avn = typeof av === 'boolean' ? (av ? 1 : 0) : av instanceof Uint8Array ? new TextDecoder().decode(av) : av;
        if (avn !== ev) {
          fail(`Bad getsockopt optval: field ${fld.name}: expected: ${ev} actual: ${show(av)}`);
          return;
        }
      }
      return;
    }
    if (inner.type === 'string') {
      const a = actual instanceof Uint8Array ? new TextDecoder().decode(actual).replace(/\0+$/, '') : String(actual);
      if (a !== inner.value) fail(`Bad getsockopt optval: expected: "${inner.value}" actual: ${show(actual)}`);
      return;
    }
    const expV = this.evalInt(inner, line);
    const a = typeof actual === 'boolean' ? (actual ? 1 : 0) : actual;
    if (typeof a !== 'number') {
      fail(`Bad getsockopt optval: expected: ${expV} actual: ${show(actual)}`);
      return;
    }
    // Boolean socket options report the option bit; packetdrill scripts write 1.
    const same =
      a === expV ||
      (call.args[1] !== undefined && expV === 1 && a !== 0 && this.evalInt(call.args[1], line) === 0xffff && a === this.evalInt(call.args[2] as Expr, line));
    if (!same) {
      const ename = inner.type === 'word' ? `${inner.name} (${expV})` : String(expV);
      const aname = inner.type === 'word' && /^E/.test(inner.name) ? `${errnoName(a)} (${a})` : String(a);
      fail(`Bad getsockopt optval: expected: ${ename} actual: ${aname}`);
      return;
    }
    if (wantLen !== undefined && wantLen.type !== 'ellipsis') {
      const l = this.evalInt(wantLen, line);
      if (l !== 4) fail(`Bad getsockopt optlen: expected: ${l} actual: 4`);
    }
  }

  private pollAttempt(call: Syscall, line: number): Attempt {
    const list = this.arg(call, 0, line);
    if (list.type !== 'list') throw new Failure('runtime', line, 'poll(): expected a pollfd array');
    const items = list.items.map((it) => {
      if (it.type !== 'struct') throw new Failure('runtime', line, 'poll(): expected {fd=..., events=...}');
      const get = (n: string) => it.fields.find((f) => f.name === n)?.value;
      const fdE = get('fd');
      if (fdE === undefined) throw new Failure('runtime', line, 'poll(): pollfd without fd');
      const ev = get('events');
      const rev = get('revents');
      return { fd: this.evalInt(fdE, line), events: ev ? this.evalInt(ev, line) : 0, revents: rev ? this.evalInt(rev, line) : 0 };
    });
    const timeout = this.evalInt(this.arg(call, 2, line), line);
    const startUs = this.nowUs();
    return () => {
      let n = 0;
      const got: number[] = [];
      for (const it of items) {
        const f = this.fds.get(it.fd);
        const r = f === undefined ? 0x20 : this.pollEvents(f.so) & (it.events | 0x08 | 0x10 | 0x20);
        got.push(r);
        if (r !== 0) n++;
      }
      if (n === 0 && (timeout < 0 || this.nowUs() < startUs + timeout * 1000)) return BLOCK;
      return {
        ret: n,
        errno: 0,
        after: () => {
          items.forEach((it, i) => {
            if (got[i] !== it.revents)
              throw new Failure(
                'syscall',
                line,
                `poll(): expected revents 0x${it.revents.toString(16)} but got 0x${(got[i] as number).toString(16)} for pollfd ${i}`,
              );
          });
        },
      };
    };
  }

  private pollEvents(so: Socket): number {
    let ev = 0;
    const rcv = so.so_rcv;
    if (so.so_options & SO_ACCEPTCONN) {
      if (so.sol_comp.length > 0) ev |= 0x1 | 0x40;
      return ev;
    }
    if (rcv.sb_ccc > 0 || rcv.sb_state & SBS_CANTRCVMORE || so.so_error) ev |= 0x1 | 0x40;
    if (so.so_state & SS_ISCONNECTED && !(so.so_snd.sb_state & SBS_CANTSENDMORE) && sbspace(so.so_snd) > 0) ev |= 0x4;
    if (so.so_error) ev |= 0x8;
    if (rcv.sb_state & SBS_CANTRCVMORE && so.so_snd.sb_state & SBS_CANTSENDMORE) ev |= 0x10;
    return ev;
  }
}

const TCPI_CONSTS: Record<string, number> = {};
for (const k of [
  'TCPI_CLOSED',
  'TCPI_LISTEN',
  'TCPI_SYN_SENT',
  'TCPI_SYN_RECEIVED',
  'TCPI_ESTABLISHED',
  'TCPI_CLOSE_WAIT',
  'TCPI_FIN_WAIT_1',
  'TCPI_CLOSING',
  'TCPI_LAST_ACK',
  'TCPI_FIN_WAIT_2',
  'TCPI_TIME_WAIT',
  'TCPI_OPT_TIMESTAMPS',
  'TCPI_OPT_SACK',
  'TCPI_OPT_WSCALE',
  'TCPI_OPT_ECN',
  'TCPI_OPT_TOE',
  'TCPI_OPT_TFO',
])
  TCPI_CONSTS[k] = lookupSymbol(k) as number;

// ---- ICMP names (packetdrill icmp_packet.c) ----

const ICMP4_TYPES: Record<string, number> = {
  echo_reply: 0,
  unreachable: 3,
  destination_unreachable: 3,
  source_quench: 4,
  redirect: 5,
  echo_request: 8,
  time_exceeded: 11,
  parameter_problem: 12,
  timestamp_request: 13,
  timestamp_reply: 14,
};
const ICMP4_CODES: Record<string, number> = {
  net_unreachable: 0,
  host_unreachable: 1,
  protocol_unreachable: 2,
  port_unreachable: 3,
  frag_needed: 4,
  source_route_failed: 5,
  net_unknown: 6,
  host_unknown: 7,
  source_host_isolated: 8,
  net_prohibited: 9,
  host_prohibited: 10,
  net_unreachable_for_tos: 11,
  host_unreachable_for_tos: 12,
  packet_filtered: 13,
  precedence_violation: 14,
  precedence_cutoff: 15,
  ttl_exceeded_in_transit: 0,
  exceeded_hop_limit: 0,
  frag_reass_exceeded: 1,
  exceeded_frag_time: 1,
  redirect_net: 0,
  redirect_host: 1,
  pointer_indicates_error: 0,
  header_field: 0,
  missing_option: 1,
  bad_length: 2,
};
const ICMP6_TYPES: Record<string, number> = {
  unreachable: 1,
  destination_unreachable: 1,
  packet_too_big: 2,
  time_exceeded: 3,
  parameter_problem: 4,
  echo_request: 128,
  echo_reply: 129,
};
const ICMP6_CODES: Record<string, number> = {
  no_route: 0,
  admin_prohibited: 1,
  not_neighbour: 2,
  beyond_scope: 2,
  address_unreachable: 3,
  port_unreachable: 4,
  source_address_failed: 5,
  reject_route: 6,
  exceeded_hop_limit: 0,
  ttl_exceeded_in_transit: 0,
  exceeded_frag_time: 1,
  frag_reass_exceeded: 1,
  header_field: 0,
  erroneous_header: 0,
  unknown_next_header: 1,
  unknown_option: 2,
  // IPv4 names used on IPv6 runs
  net_unreachable: 0,
  host_unreachable: 3,
  net_prohibited: 1,
  host_prohibited: 1,
  packet_filtered: 1,
};

function icmpTypeCode(v6: boolean, type: string, code: string | null): [number, number] | null {
  let t: number | undefined;
  let c = 0;
  if (/^[0-9]+$/.test(type)) t = Number(type);
  else if (v6) {
    t = ICMP6_TYPES[type];
    if (t === undefined && type === 'source_quench') return null;
    if (type === 'unreachable' && code === 'frag_needed') return [2, 0];
    if (type === 'unreachable' && code === 'protocol_unreachable') return [4, 1];
  } else t = ICMP4_TYPES[type];
  if (t === undefined) return null;
  if (code !== null) {
    const cc = /^[0-9]+$/.test(code) ? Number(code) : (v6 ? ICMP6_CODES : ICMP4_CODES)[code];
    if (cc === undefined) return null;
    c = cc;
  }
  return [t, c];
}

/** Run a parsed script (see DrillRunner). */
export function runScript(script: Script, opts: RunOptions = {}): RunResult {
  let u: { what: string; line: number } | null;
  try {
    u = findUnsupported(script, opts.cliOptions ?? []);
  } catch (e) {
    if (e instanceof Failure)
      return { verdict: 'ERROR', line: e.line, col: null, kind: 'parse', message: e.message, details: [], warnings: [], virtualUsecs: 0 };
    throw e;
  }
  if (u !== null)
    return {
      verdict: 'UNSUPPORTED',
      line: u.line || null,
      col: null,
      kind: 'unsupported',
      message: `${u.what} not supported`,
      details: [],
      warnings: [],
      virtualUsecs: 0,
    };
  return new DrillRunner(script, opts).run();
}

export { PcapWriter };
