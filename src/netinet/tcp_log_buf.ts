/*
 * TCP black-box logging (FreeBSD's BBLog, sys/netinet/tcp_log_buf.c): a ring of the last N
 * events of each logged connection, each event a snapshot of the control block (send and
 * receive sequence space, congestion window, smoothed RTT) plus the segment that caused it.
 *
 * The log is fed by the tcp provider's trace probes (tcp_var.ts TcpProbes), so TCP itself
 * knows nothing of it and pays nothing while it is off: the log subscribes to `tcp:::` only
 * while some connection may be logged.
 *
 * Sysctls (FreeBSD names where FreeBSD has them):
 *   net.inet.tcp.bb.log_auto_all       0   log every connection seen from now on
 *   net.inet.tcp.bb.log_auto_port      0   log connections whose local or foreign port is this
 *   net.inet.tcp.bb.log_session_limit  5000  events kept per connection (ring size)
 *   net.inet.tcp.bb.log_global_limit   5000000  events kept over all sessions; the oldest
 *                                          finished sessions are dropped beyond it
 *   net.inet.tcp.bb.stats              counters (sessions, events, overwritten, evicted)
 *   net.inet.tcp.bb.sessions           one record per kept session (id, addresses, state...)
 *   net.inet.tcp.bb.log.<id>           one session's log (hidden from `sysctl -a`)
 * In-process, `V.tcp.bblog.enable(tp)` logs one connection (the TCP_LOG socket option's job).
 *
 * An event (TcpLogEvent) holds: time_us, event, state, snd_una, snd_nxt, snd_max, snd_cwnd,
 * snd_ssthresh, snd_wnd, rcv_nxt, rcv_wnd, t_srtt_us, t_rttvar_us, seq, len, flags, and
 * `aux` (receive: the segment's ack; state: the old state; cwnd-change: nothing more).
 * Storage is one Float64Array per session, grown by doubling up to the ring size, so an
 * event costs no allocation once the ring has its size.
 */

import type { SysctlJson, SysctlStruct } from '../kern/kern_sysctl.js';
import type { Probe } from '../kern/kern_sdt.js';
import type { Vnet } from '../vnet.js';
import { TH_ACK, TH_CWR, TH_ECE, TH_FIN, TH_PUSH, TH_RST, TH_SYN, TH_URG } from '../wire/tcp.js';
import { formatAddress } from './in.js';
import { tcpstates } from './tcp_fsm.js';
import { TCP_RTT_SHIFT, TCP_RTTVAR_SHIFT, type TcpCb } from './tcp_var.js';
import { field } from '../kern/kern_sysctl.js';

/** FreeBSD's TCP_LOG_BUF_DEFAULT_SESSION_LIMIT. */
export const TCP_LOG_SESSION_LIMIT_DEFAULT = 5000;
/** FreeBSD's TCP_LOG_BUF_DEFAULT_GLOBAL_LIMIT. */
export const TCP_LOG_GLOBAL_LIMIT_DEFAULT = 5_000_000;

/** Event names, indexed by the code stored in the ring. */
export const TCP_LOG_EVENTS = [
  'send',
  'receive',
  'state-change',
  'retransmit',
  'cwnd-change',
  'connect-request',
  'connect-established',
  'connect-refused',
  'accept-established',
  'accept-refused',
] as const;
export type TcpLogEventName = (typeof TCP_LOG_EVENTS)[number];

const EVENT_CODE = new Map<string, number>(TCP_LOG_EVENTS.map((n, i) => [n, i]));

/** Ring slots: one event is NF numbers. */
const F_TIME = 0;
const F_EVENT = 1;
const F_STATE = 2;
const F_SND_UNA = 3;
const F_SND_NXT = 4;
const F_SND_MAX = 5;
const F_SND_CWND = 6;
const F_SND_SSTHRESH = 7;
const F_SND_WND = 8;
const F_RCV_NXT = 9;
const F_RCV_WND = 10;
const F_SRTT = 11;
const F_RTTVAR = 12;
const F_SEQ = 13;
const F_LEN = 14;
const F_FLAGS = 15;
const F_AUX = 16;
const NF = 17;

/** One logged event, as dumps and `bsdnet trace` show it. */
export interface TcpLogEvent {
  /** Stack clock, microseconds. */
  time_us: number;
  event: TcpLogEventName;
  state: string;
  snd_una: number;
  snd_nxt: number;
  snd_max: number;
  snd_cwnd: number;
  snd_ssthresh: number;
  snd_wnd: number;
  rcv_nxt: number;
  rcv_wnd: number;
  /** Smoothed RTT and its variance, microseconds (0 before the first sample). */
  t_srtt_us: number;
  t_rttvar_us: number;
  /** The segment: sequence number, payload length, flags ("SA", "FPA"...). */
  seq: number;
  len: number;
  flags: string;
  /** receive: the segment's ack number; state-change: the previous state's name. */
  ack?: number;
  old_state?: string;
}

/** A session's header (net.inet.tcp.bb.sessions). */
export interface TcpLogSessionInfo {
  id: number;
  laddr: string;
  lport: number;
  faddr: string;
  fport: number;
  iss: number;
  irs: number;
  state: string;
  start_us: number;
  /** True once the connection reached TIME_WAIT or CLOSED. */
  ended: boolean;
  /** Events kept, and events logged in all (the difference was overwritten). */
  events: number;
  logged: number;
}

/** A dump: what `bsdnet trace dump` writes and `bsdnet trace plot` reads. */
export interface TcpLogDump {
  format: 'bsdnet-bblog';
  version: 1;
  stack: string;
  sessions: (TcpLogSessionInfo & { log: TcpLogEvent[] })[];
}

/** "FSRPAUEC" order as tcpdump prints them: S F R P . (ack) U E W. */
export function tcpFlagsText(f: number): string {
  let s = '';
  if (f & TH_SYN) s += 'S';
  if (f & TH_FIN) s += 'F';
  if (f & TH_RST) s += 'R';
  if (f & TH_PUSH) s += 'P';
  if (f & TH_ACK) s += '.';
  if (f & TH_URG) s += 'U';
  if (f & TH_ECE) s += 'E';
  if (f & TH_CWR) s += 'W';
  return s;
}

class Session {
  readonly id: number;
  tp: TcpCb | null;
  readonly laddr: string;
  readonly lport: number;
  readonly faddr: string;
  readonly fport: number;
  iss: number;
  irs: number;
  state: number;
  readonly start_us: number;
  ended = false;
  ring: Float64Array;
  /** Next slot to write, events held, events ever logged. */
  head = 0;
  count = 0;
  logged = 0;
  readonly limit: number;

  constructor(id: number, tp: TcpCb, limit: number, now_us: number) {
    this.id = id;
    this.tp = tp;
    const inp = tp.t_inpcb;
    const l = inp.localSockaddr();
    const f = inp.foreignSockaddr();
    this.laddr = formatAddress(l);
    this.lport = inp.inp_lport;
    this.faddr = formatAddress(f);
    this.fport = inp.inp_fport;
    this.iss = tp.iss;
    this.irs = tp.irs;
    this.state = tp.t_state;
    this.start_us = now_us;
    this.limit = limit;
    this.ring = new Float64Array(Math.min(limit, 256) * NF);
  }

  get cap(): number {
    return this.ring.length / NF;
  }

  info(): TcpLogSessionInfo {
    return {
      id: this.id,
      laddr: this.laddr,
      lport: this.lport,
      faddr: this.faddr,
      fport: this.fport,
      iss: this.iss,
      irs: this.irs,
      state: tcpstates[this.state] ?? String(this.state),
      start_us: this.start_us,
      ended: this.ended,
      events: this.count,
      logged: this.logged,
    };
  }

  /** The kept events, oldest first. */
  events(): TcpLogEvent[] {
    const out: TcpLogEvent[] = [];
    const cap = this.cap;
    const first = (this.head - this.count + cap) % cap;
    for (let k = 0; k < this.count; k++) out.push(decode(this.ring, ((first + k) % cap) * NF));
    return out;
  }
}

function decode(r: Float64Array, o: number): TcpLogEvent {
  const code = r[o + F_EVENT] as number;
  const e: TcpLogEvent = {
    time_us: r[o + F_TIME] as number,
    event: TCP_LOG_EVENTS[code] ?? 'send',
    state: tcpstates[r[o + F_STATE] as number] ?? '?',
    snd_una: r[o + F_SND_UNA] as number,
    snd_nxt: r[o + F_SND_NXT] as number,
    snd_max: r[o + F_SND_MAX] as number,
    snd_cwnd: r[o + F_SND_CWND] as number,
    snd_ssthresh: r[o + F_SND_SSTHRESH] as number,
    snd_wnd: r[o + F_SND_WND] as number,
    rcv_nxt: r[o + F_RCV_NXT] as number,
    rcv_wnd: r[o + F_RCV_WND] as number,
    t_srtt_us: r[o + F_SRTT] as number,
    t_rttvar_us: r[o + F_RTTVAR] as number,
    seq: r[o + F_SEQ] as number,
    len: r[o + F_LEN] as number,
    flags: tcpFlagsText(r[o + F_FLAGS] as number),
  };
  if (e.event === 'receive') e.ack = r[o + F_AUX] as number;
  if (e.event === 'state-change') e.old_state = tcpstates[r[o + F_AUX] as number] ?? '?';
  return e;
}

/** Write one event for `tp` at offset `o` of `r` (shared by the ring and the trace encoder). */
function record(V: Vnet, r: Float64Array, o: number, tp: TcpCb, code: number, args: readonly unknown[]): void {
  const tickUs = V.callwheel.tickNs / 1000;
  r[o + F_TIME] = V.clock.now() / 1000;
  r[o + F_EVENT] = code;
  r[o + F_STATE] = tp.t_state;
  r[o + F_SND_UNA] = tp.snd_una >>> 0;
  r[o + F_SND_NXT] = tp.snd_nxt >>> 0;
  r[o + F_SND_MAX] = tp.snd_max >>> 0;
  r[o + F_SND_CWND] = tp.snd_cwnd;
  r[o + F_SND_SSTHRESH] = tp.snd_ssthresh;
  r[o + F_SND_WND] = tp.snd_wnd;
  r[o + F_RCV_NXT] = tp.rcv_nxt >>> 0;
  r[o + F_RCV_WND] = tp.rcv_wnd;
  r[o + F_SRTT] = Math.round((tp.t_srtt / (1 << TCP_RTT_SHIFT)) * tickUs);
  r[o + F_RTTVAR] = Math.round((tp.t_rttvar / (1 << TCP_RTTVAR_SHIFT)) * tickUs);
  let seq = 0;
  let len = 0;
  let flags = 0;
  let aux = 0;
  const ev = TCP_LOG_EVENTS[code];
  if (ev === 'send' || ev === 'receive' || ev === 'retransmit') {
    seq = Number(args[1] ?? 0) >>> 0;
    len = Number(args[2] ?? 0);
    flags = Number(args[3] ?? 0);
    if (ev === 'receive') aux = Number(args[4] ?? 0) >>> 0;
  } else if (ev === 'state-change') {
    aux = Number(args[1] ?? 0);
  }
  r[o + F_SEQ] = seq;
  r[o + F_LEN] = len;
  r[o + F_FLAGS] = flags;
  r[o + F_AUX] = aux;
}

function isTcpCb(x: unknown): x is TcpCb {
  return x !== null && typeof x === 'object' && 't_inpcb' in x && 'snd_una' in x;
}

export interface TcpLogStats {
  sessions: number;
  events: number;
  overwritten: number;
  evicted: number;
}

/** The per-Vnet black-box log (V.tcp.bblog). */
export class TcpLogBuf {
  private readonly V: Vnet;
  /** net.inet.tcp.bb.log_auto_all */
  autoAll = false;
  /** net.inet.tcp.bb.log_auto_port */
  autoPort = 0;
  /** net.inet.tcp.bb.log_session_limit */
  sessionLimit = TCP_LOG_SESSION_LIMIT_DEFAULT;
  /** net.inet.tcp.bb.log_global_limit */
  globalLimit = TCP_LOG_GLOBAL_LIMIT_DEFAULT;
  readonly stats: TcpLogStats = { sessions: 0, events: 0, overwritten: 0, evicted: 0 };
  private readonly byTp = new WeakMap<TcpCb, Session>();
  private readonly explicit = new WeakSet<TcpCb>();
  private explicitCount = 0;
  private readonly sessions = new Map<number, Session>();
  private nextId = 1;
  private unsubscribe: (() => void) | null = null;
  /** Connection ids for trace consumers (stable per control block). */
  private readonly connIds = new WeakMap<TcpCb, number>();
  private nextConn = 1;
  private readonly scratch = new Float64Array(NF);

  constructor(V: Vnet, probes: Probe[]) {
    this.V = V;
    for (const p of probes) {
      const code = EVENT_CODE.get(p.name);
      if (code === undefined) continue;
      p.encode = (args) => [this.traceRecord(code, args)];
    }
    const s = V.sysctl;
    s.node('net.inet.tcp.bb', 'TCP black box logging');
    s.node('net.inet.tcp.bb.log', 'Black box logs of the kept sessions, by id');
    s.int(
      'net.inet.tcp.bb.log_auto_all',
      {
        get: () => (this.autoAll ? 1 : 0),
        set: (v) => {
          this.autoAll = v !== 0;
        },
      },
      { descr: 'Log every new TCP connection', min: 0, max: 1, onChange: () => this.resubscribe() },
    );
    s.int('net.inet.tcp.bb.log_auto_port', field(this, 'autoPort'), {
      descr: 'Log connections with this local or foreign port (0: none)',
      min: 0,
      max: 65535,
      onChange: () => this.resubscribe(),
    });
    s.int('net.inet.tcp.bb.log_session_limit', field(this, 'sessionLimit'), {
      descr: 'Events kept per logged connection (new sessions)',
      min: 1,
      max: 1_000_000,
    });
    s.int('net.inet.tcp.bb.log_global_limit', field(this, 'globalLimit'), {
      descr: 'Events kept over all sessions; oldest finished sessions are dropped beyond it',
      min: 1,
      max: 100_000_000,
    });
    s.struct('net.inet.tcp.bb.stats', () => ({ ...this.stats }), { descr: 'Black box logging statistics', type: 'tcp_log_stats' });
    s.struct('net.inet.tcp.bb.sessions', () => this.list() as unknown as SysctlStruct, { descr: 'Black box log sessions', type: 'tcp_log_session' });
    V.onDestroy(() => this.unsubscribe?.());
  }

  /** Log `tp` from now on, whatever the auto settings (the TCP_LOG socket option). */
  enable(tp: TcpCb): void {
    if (!this.explicit.has(tp)) {
      this.explicit.add(tp);
      this.explicitCount++;
    }
    this.resubscribe();
    this.sessionOf(tp, true);
  }

  /** The kept sessions' headers, oldest first. */
  list(): TcpLogSessionInfo[] {
    return [...this.sessions.values()].map((s) => s.info());
  }

  /** One session with its events (undefined if not kept). */
  dumpSession(id: number): (TcpLogSessionInfo & { log: TcpLogEvent[] }) | undefined {
    const s = this.sessions.get(id);
    return s === undefined ? undefined : { ...s.info(), log: s.events() };
  }

  /** Everything kept, as `bsdnet trace dump` writes it. */
  dump(): TcpLogDump {
    return {
      format: 'bsdnet-bblog',
      version: 1,
      stack: this.V.name,
      sessions: [...this.sessions.values()].map((s) => ({ ...s.info(), log: s.events() })),
    };
  }

  /** The session id of a logged control block (undefined if not logged). */
  sessionId(tp: TcpCb): number | undefined {
    return this.byTp.get(tp)?.id;
  }

  /** A stable id for a control block, for trace consumers. */
  connId(tp: TcpCb): number {
    let id = this.connIds.get(tp);
    if (id === undefined) {
      id = this.nextConn++;
      this.connIds.set(tp, id);
    }
    return id;
  }

  private resubscribe(): void {
    const want = this.autoAll || this.autoPort !== 0 || this.explicitCount > 0;
    if (want && this.unsubscribe === null) {
      this.unsubscribe = this.V.trace.subscribe('tcp:::', (p, args) => this.onProbe(p, args));
    } else if (!want && this.unsubscribe !== null) {
      this.unsubscribe();
      this.unsubscribe = null;
    }
  }

  private wants(tp: TcpCb): boolean {
    if (this.autoAll || this.explicit.has(tp)) return true;
    const inp = tp.t_inpcb;
    return this.autoPort !== 0 && (inp.inp_lport === this.autoPort || inp.inp_fport === this.autoPort);
  }

  private sessionOf(tp: TcpCb, create: boolean): Session | undefined {
    let s = this.byTp.get(tp);
    if (s !== undefined || !create) return s;
    const id = this.nextId++;
    s = new Session(id, tp, this.sessionLimit, this.V.clock.now() / 1000);
    this.byTp.set(tp, s);
    this.sessions.set(id, s);
    this.stats.sessions++;
    const sess = s;
    this.V.sysctl.struct(`net.inet.tcp.bb.log.${id}`, () => sess.events() as unknown as SysctlJson[], {
      descr: `Black box log of session ${id} (${s.laddr}.${s.lport} ${s.faddr}.${s.fport})`,
      type: 'tcp_log_buffer',
      skip: true,
    });
    this.enforceGlobal(s.cap);
    return s;
  }

  private onProbe(p: Probe, args: readonly unknown[]): void {
    const tp = args[0];
    if (!isTcpCb(tp)) return;
    const code = EVENT_CODE.get(p.name);
    if (code === undefined) return;
    let s = this.byTp.get(tp);
    if (s === undefined) {
      // Listeners are not logged; a connection is, from the first event it shows.
      if (tp.t_state === 1 || !this.wants(tp)) return;
      s = this.sessionOf(tp, true) as Session;
    }
    if (s.count === s.cap && s.cap < s.limit) this.grow(s);
    record(this.V, s.ring, s.head * NF, tp, code, args);
    s.head = (s.head + 1) % s.cap;
    if (s.count < s.cap) s.count++;
    else this.stats.overwritten++;
    s.logged++;
    this.stats.events++;
    s.state = tp.t_state;
    if (s.iss === 0) s.iss = tp.iss;
    if (s.irs === 0) s.irs = tp.irs;
    if (tp.t_state === 0 || tp.t_state === 10) {
      if (!s.ended) {
        s.ended = true;
        s.tp = null;
      }
    } else s.ended = false;
  }

  private grow(s: Session): void {
    const cap = s.cap;
    const ncap = Math.min(s.limit, cap * 2);
    const n = new Float64Array(ncap * NF);
    // The ring is full and head is its oldest slot: unroll it into the new array.
    n.set(s.ring.subarray(s.head * NF), 0);
    n.set(s.ring.subarray(0, s.head * NF), (cap - s.head) * NF);
    s.ring = n;
    s.head = cap;
    this.enforceGlobal(0);
  }

  /** Drop the oldest sessions (finished ones first) while more than globalLimit slots are held. */
  private enforceGlobal(keep: number): void {
    let total = 0;
    for (const s of this.sessions.values()) total += s.cap;
    if (total <= this.globalLimit) return;
    for (const pass of [true, false]) {
      for (const s of [...this.sessions.values()]) {
        if (total <= this.globalLimit) return;
        if (pass && !s.ended) continue;
        if (s.id === keep || this.sessions.size === 1) continue;
        total -= s.cap;
        this.evict(s);
      }
    }
  }

  private evict(s: Session): void {
    this.sessions.delete(s.id);
    if (s.tp !== null) this.byTp.delete(s.tp);
    this.V.sysctl.remove(`net.inet.tcp.bb.log.${s.id}`);
    this.stats.evicted++;
  }

  /** One probe firing as a plain record for `bsdnet trace` (connection plus snapshot). */
  private traceRecord(code: number, args: readonly unknown[]): SysctlJson {
    const tp = args[0];
    const ev = TCP_LOG_EVENTS[code] as TcpLogEventName;
    if (!isTcpCb(tp)) {
      // Segments sent without a control block (SYN cache, TIME_WAIT vestiges).
      return { event: ev, conn: null, seq: Number(args[1] ?? 0) >>> 0, len: Number(args[2] ?? 0), flags: tcpFlagsText(Number(args[3] ?? 0)) };
    }
    record(this.V, this.scratch, 0, tp, code, args);
    const e = decode(this.scratch, 0);
    const inp = tp.t_inpcb;
    const out: { [k: string]: SysctlJson } = {
      conn: this.connId(tp),
      laddr: formatAddress(inp.localSockaddr()),
      lport: inp.inp_lport,
      faddr: formatAddress(inp.foreignSockaddr()),
      fport: inp.inp_fport,
      iss: tp.iss >>> 0,
      irs: tp.irs >>> 0,
    };
    for (const [k, v] of Object.entries(e)) if (v !== undefined) out[k] = v as SysctlJson;
    if (ev === 'cwnd-change') {
      out.snd_cwnd = Number(args[1] ?? tp.snd_cwnd);
      out.snd_ssthresh = Number(args[2] ?? tp.snd_ssthresh);
    }
    return out;
  }
}

/** Create the black-box log of V's TCP (called by tcp_init). */
export function tcp_log_init(V: Vnet, probes: Probe[]): TcpLogBuf {
  return new TcpLogBuf(V, probes);
}
