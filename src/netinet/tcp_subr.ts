/*
 * TCP support routines (FreeBSD netinet/tcp_subr.c): per-Vnet initialisation and the
 * net.inet.tcp.* sysctls, control-block creation and teardown, tcp_close/tcp_drop,
 * tcp_respond (RSTs, ACKs and keepalive probes outside tcp_output), RFC 6528 initial
 * sequence numbers and RFC 7323 timestamp offsets, ICMP error handling (tcp_ctlinput,
 * path-MTU discovery per RFC 1191/8201 and RFC 5927's sequence check), and the PCB list
 * the tools read.
 *
 * Teardown follows the seed's NetBSD fix: tcp_discardcb() stops the timers; if the
 * connection's callout is already committed to run (INVOKING), the tcpcb is only marked
 * dead (TF2_DEAD) and tcp_timer_enter frees it when it runs, counting tcps_delayed_free.
 */

import { SipHash, sipKeyFromBytes } from '../kern/siphash.js';
import { type Mbuf, m_freem, MAX_LINKHDR, M_BCAST, M_MCAST } from '../mbuf/mbuf.js';
import {
  type CtlInput,
  inetctlerrmap,
  PRC_MSGSIZE,
  PRC_TIMXCEED_INTRANS,
  PRC_UNREACH_ADMIN_PROHIB,
  PRC_UNREACH_PORT,
  PRC_UNREACH_PROTOCOL,
} from '../sys/protosw.js';
import { sofree, soisdisconnected, soabortqueued, type Socket, SS_NOFDREF, sorwakeup, sowwakeup } from '../sys/socket.js';
import { ECONNABORTED, EHOSTDOWN, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { get16, get32 } from '../wire/bytes.js';
import { IP6_HDR_LEN } from '../wire/ipv6.js';
import { IP_HDR_LEN } from '../wire/ipv4.js';
import { TCP_HDR_LEN, TCP_MAX_WINSHIFT, TCP_MAXWIN, TH_ACK, TH_RST, TOF_TS } from '../wire/tcp.js';
import { CcVar, CcVars } from './cc/cc.js';
import { AF_INET, AF_INET6, IN_MULTICAST, INADDR_BROADCAST, ntoa, ntop6, type SockaddrIn, type SockaddrIn6 } from './in.js';
import { INP_DROPPED, INP_IPV4, INP_IPV6, INP_IPV6PROTO, INP_TIMEWAIT, Inpcb } from './in_pcb.js';
import { xinpcb } from './in_pcblist.js';
import { tcp_log_init } from './tcp_log_buf.js';
import { BANDLIM_RST_CLOSEDPORT } from './ip_icmp.js';
import { TCPS_CLOSED, TCPS_ESTABLISHED, TCPS_LISTEN, TCPS_SYN_RECEIVED, TCPS_SYN_SENT, tcpstates } from './tcp_fsm.js';
import { inp_isv6, tcp_addoptions, tcp_ip_output, tcp_output, tcp_ts_getticks } from './tcp_output.js';
import { tcp_reass_flush } from './tcp_reass.js';
import { tcp_free_sackholes } from './tcp_sack.js';
import { SEQ_GEQ, SEQ_LT } from './tcp_seq.js';
import { msToTicks } from './tcp_timer.js';
import {
  TCP_RTTVAR_SHIFT,
  TCP_RTT_SHIFT,
  type TcpCb,
  TcpCb as TcpCbClass,
  TF2_DEAD,
  TF_REQ_SCALE,
  TF_REQ_TSTMP,
  TF_SACK_PERMIT,
  TF_NOOPT,
  TF_RCVD_TSTMP,
} from './tcp_var.js';
import { tcp_mss_update } from './tcp_input.js';
// tcp_init's imports
import { field, SysctlError, type SysctlJson, type SysctlStruct } from '../kern/kern_sysctl.js';
import { IPPROTO_TCP } from '../wire/ipv4.js';
import { registerCcAlgorithms } from './cc/cc_module.js';
import { TCP_NSTATES } from './tcp_fsm.js';
import { tcp_reass_init } from './tcp_reass.js';
import { tcp_sack_init } from './tcp_sack.js';
import { SynCache } from './tcp_syncache.js';
import { tcp_protosw } from './tcp_usrreq.js';
import { TcpVars, TT_2MSL, TT_DELACK, TT_KEEP, TT_PERSIST, TT_REXMT } from './tcp_var.js';
import { tcp_vtw_attach } from './tcp_timewait.js';
import { vtw_init } from './tcp_vtw.js';

// --- control blocks ---

/**
 * Create the tcpcb of a new connection (tcp_newtcpcb): FreeBSD's initial RTT variables
 * (srtt unknown, rttvar so that the first RTO is net.inet.tcp.rexmit_initial), cwnd and
 * ssthresh "infinite" until the handshake, options requested per the sysctls, and the
 * congestion-control algorithm of the socket or the system default.
 */
export function tcp_newtcpcb(V: Vnet, inp: Inpcb): TcpCb {
  const ccv = new CcVar();
  const tp = new TcpCbClass(V, inp, ccv);
  ccv.tp = tp;
  const t = V.tcp;
  const v6 = (inp.inp_vflag & INP_IPV6PROTO) !== 0;
  tp.t_maxseg = v6 ? t.v6mssdflt : t.mssdflt;
  if (t.rfc1323) tp.t_flags = TF_REQ_SCALE | TF_REQ_TSTMP;
  if (t.do_sack) tp.t_flags |= TF_SACK_PERMIT;
  // RFC 6298 §2.1: until a measurement, RTO = initial value (srtt + 4*rttvar).
  const initial = msToTicks(V, t.rexmit_initial);
  tp.t_srtt = 0;
  tp.t_rttvar = (initial << TCP_RTTVAR_SHIFT) / 4;
  tp.t_rttmin = msToTicks(V, t.rexmit_min);
  tp.t_rxtcur = initial;
  // TCP_MAXWIN << TCP_MAX_WINSHIFT (< 2^31): a shift keeps it a small integer, where `2 **`
  // yields a heap number and turns the field into a boxed double in every tcpcb.
  tp.snd_cwnd = TCP_MAXWIN << TCP_MAX_WINSHIFT;
  tp.snd_ssthresh = TCP_MAXWIN << TCP_MAX_WINSHIFT;
  const now = V.callwheel.ticks();
  tp.t_rcvtime = now;
  tp.t_starttime = now;
  tp.cc_algo = V.cc.default;
  if (tp.cc_algo.cb_init?.(ccv, null)) tp.cc_algo = null;
  inp.inp_ppcb = tp;
  return tp;
}

/** Switch congestion control on a live connection (TCP_CONGESTION). */
export function tcp_set_cc(tp: TcpCb, name: string): boolean {
  const algo = tp.t_vnet.cc.get(name);
  if (algo === undefined) return false;
  tp.cc_algo?.cb_destroy?.(tp.t_ccv);
  tp.t_ccv.cc_data = null;
  tp.cc_algo = algo;
  tp.t_cc_name = name;
  if (algo.cb_init?.(tp.t_ccv, null)) return false;
  if (tp.t_state >= TCPS_ESTABLISHED) algo.conn_init?.(tp.t_ccv);
  return true;
}

/** Change state, firing the state-change probe (tcp_state_change). */
export function tcp_state_change(tp: TcpCb, newstate: number): void {
  const old = tp.t_state;
  tp.t_state = newstate;
  const p = tp.t_vnet.tcp.probes.stateChange;
  if (p.enabled) p.fire(tp, old, newstate);
}

/**
 * Save what this connection learned in the host cache (tcp_discardcb's metrics update):
 * only after enough RTT samples to be meaningful (FreeBSD: 4).
 */
function tcp_hc_save(tp: TcpCb): void {
  if (tp.t_rttupdated < 4) return;
  const V = tp.t_vnet;
  const inp = tp.t_inpcb;
  const usPerTick = V.callwheel.tickNs / 1000;
  const metrics = {
    rtt: Math.floor(((tp.t_srtt >> TCP_RTT_SHIFT) * usPerTick) | 0),
    rttvar: Math.floor(((tp.t_rttvar >> TCP_RTTVAR_SHIFT) * usPerTick) | 0),
    ssthresh: tp.snd_ssthresh < TCP_MAXWIN * 2 ** TCP_MAX_WINSHIFT ? tp.snd_ssthresh : 0,
  };
  if (inp_isv6(inp)) V.hostcache.update(AF_INET6, 0, inp.in6p_faddr, metrics);
  else V.hostcache.update(AF_INET, inp.inp_faddr, null, metrics);
  V.tcp.stat.tcps_cachedrtt++;
}

/**
 * Release a connection's protocol state (tcp_discardcb + in_pcbfree + sofree). If its
 * callout is committed to run right now, only mark it dead; the callout frees it.
 */
export function tcp_discardcb(tp: TcpCb): void {
  if (tp.t_freed || tp.t_flags2 & TF2_DEAD) return;
  tp.timersClear();
  const c = tp.t_callout;
  if (c.pending()) c.stop();
  tcp_reass_flush(tp);
  tcp_free_sackholes(tp);
  tcp_hc_save(tp);
  tp.cc_algo?.cb_destroy?.(tp.t_ccv);
  tp.cc_algo = null;
  if (c.invoking()) {
    tp.t_flags2 |= TF2_DEAD;
    return;
  }
  tcp_freecb(tp);
}

/** Final release of a tcpcb, its PCB and its socket (also called by the timer on a dead tcpcb). */
export function tcp_freecb(tp: TcpCb): void {
  if (tp.t_freed) return;
  tp.t_freed = true;
  const inp = tp.t_inpcb;
  inp.inp_ppcb = null;
  const so = inp.inp_socket;
  inp.inp_pcbinfo.free(inp);
  if (so !== null) {
    so.so_pcb = null;
    sofree(so);
  }
}

/**
 * The connection is over (tcp_close): it leaves the lookup tables, enters CLOSED and the
 * socket is told it is disconnected. If no descriptor refers to the socket any more, all
 * state is released now; returns null in that case, else the (closed) tcpcb.
 */
export function tcp_close(tp: TcpCb): TcpCb | null {
  const V = tp.t_vnet;
  const inp = tp.t_inpcb;
  inp.inp_pcbinfo.unhash(inp);
  inp.inp_flags |= INP_DROPPED;
  V.tcp.stat.tcps_closed++;
  if (tp.t_state !== TCPS_CLOSED) tcp_state_change(tp, TCPS_CLOSED);
  const so = inp.inp_socket;
  if (so !== null) {
    if (so.so_listen !== null) soabortqueued(so);
    soisdisconnected(so);
  }
  if (so === null || so.so_state & SS_NOFDREF) {
    tcp_discardcb(tp);
    return null;
  }
  // The user still holds the socket: stop timers and free queues; the PCB stays until close().
  tp.timersClear();
  if (tp.t_callout.pending()) tp.t_callout.stop();
  tcp_reass_flush(tp);
  tcp_free_sackholes(tp);
  return tp;
}

/**
 * Drop a connection with an error (tcp_drop): a synchronised connection sends a RST
 * (tcp_output in CLOSED state sends RST|ACK), the error is posted on the socket.
 */
export function tcp_drop(tp: TcpCb, errno: number): TcpCb | null {
  const V = tp.t_vnet;
  if (tp.t_state >= TCPS_SYN_RECEIVED) {
    tcp_state_change(tp, TCPS_CLOSED);
    tcp_output(tp);
    V.tcp.stat.tcps_drops++;
  } else {
    V.tcp.stat.tcps_conndrops++;
  }
  if (errno === ETIMEDOUT && tp.t_softerror) errno = tp.t_softerror;
  const so = tp.t_inpcb.inp_socket;
  if (so !== null) {
    so.so_error = errno;
    so.wakeup(0x10 | 0x1 | 0x2 | 0x4);
  }
  return tcp_close(tp);
}

// --- responses outside tcp_output ---

/** Per-Vnet template PCB for responses to packets that have no connection. */
export function respondTemplate(V: Vnet): Inpcb {
  let t = V.tcp.respond_template as Inpcb | null;
  if (t === null) {
    t = new Inpcb(V.tcp.info, null);
    V.tcp.respond_template = t;
  }
  return t;
}

/**
 * Send a bare segment (tcp_respond): RST, RST|ACK, or ACK (flags 0 means an ACK, as for
 * keepalive probes). With a tcpcb, addresses come from its PCB and the window and
 * timestamps from its state; without one, from the received packet `m` (IP header at
 * m.m_data, TCP header at `off`), reversed.
 */
export function tcp_respond(V: Vnet, tp: TcpCb | null, m: Mbuf | null, off: number, isv6: boolean, ack: number, seq: number, flags: number): void {
  let inp: Inpcb;
  if (tp !== null && m === null) {
    inp = tp.t_inpcb;
  } else {
    if (m === null) return;
    inp = respondTemplate(V);
    const b = m.m_buf;
    const o = m.m_data;
    const th = o + off;
    inp.inp_lport = get16(b, th + 2);
    inp.inp_fport = get16(b, th);
    // A connection's TTL / hop limit and TOS (without ECN bits) apply to its RSTs and ACKs.
    inp.inp_ip_ttl = tp ? tp.t_inpcb.inp_ip_ttl : 0;
    inp.inp_ip_tos = tp ? tp.t_inpcb.inp_ip_tos & ~3 : 0;
    if (isv6) {
      inp.inp_vflag = INP_IPV6 | INP_IPV6PROTO;
      inp.in6p_laddr = b.slice(o + 24, o + 40);
      inp.in6p_faddr = b.slice(o + 8, o + 24);
      inp.in6p_hops = tp ? tp.t_inpcb.in6p_hops : -1;
      inp.in6p_tclass = tp ? tp.t_inpcb.in6p_tclass & ~3 : 0;
      inp.in6p_flowinfo = 0;
      inp.in6p_scope = m.rcvif ? m.rcvif.if_index : 0;
    } else {
      inp.inp_vflag = INP_IPV4;
      inp.inp_laddr = get32(b, o + 16);
      inp.inp_faddr = get32(b, o + 12);
    }
    inp.inp_route.invalidate();
  }
  if (flags === 0) flags = TH_ACK;
  let win = 0;
  let optlen = 0;
  const scratch = V.tcp.out;
  if (tp !== null) {
    const so = tp.t_inpcb.inp_socket;
    if (!(flags & TH_RST) && so !== null) {
      win = Math.max(0, Math.min(so.so_rcv.sb_hiwat - so.so_rcv.sb_ccc, TCP_MAXWIN << tp.rcv_scale));
      win >>= tp.rcv_scale;
    }
    if (!(tp.t_flags & TF_NOOPT) && tp.t_flags & TF_RCVD_TSTMP) {
      const to = scratch.to;
      to.reset();
      to.flags = TOF_TS;
      to.tsval = (tcp_ts_getticks(V) + tp.ts_offset) >>> 0;
      to.tsecr = tp.ts_recent;
      optlen = tcp_addoptions(to, scratch.opt);
    }
  }
  const iphlen = isv6 || (tp !== null && inp_isv6(inp)) ? IP6_HDR_LEN : IP_HDR_LEN;
  const n = V.mbufs.gethdr();
  if (n === null) return;
  n.m_data = MAX_LINKHDR;
  n.m_len = iphlen + TCP_HDR_LEN + optlen;
  n.len = n.m_len;
  const p = V.tcp.probes.send;
  if (p.enabled) p.fire(tp, seq, 0, flags);
  tcp_ip_output(
    V,
    inp,
    n,
    seq >>> 0,
    ack >>> 0,
    flags,
    Math.min(win, TCP_MAXWIN),
    0,
    optlen ? scratch.opt : null,
    optlen,
    inp_isv6(inp) ? inp.in6p_tclass : inp.inp_ip_tos,
    0,
  );
  V.tcp.stat.tcps_sndtotal++;
  if (flags & TH_RST) V.tcp.stat.tcps_sndctrl++;
  else V.tcp.stat.tcps_sndacks++;
}

/** A keepalive probe: an ACK carrying snd_una - 1 so the peer must answer (RFC 1122 §4.2.3.6). */
export function tcp_keepalive_probe(tp: TcpCb): void {
  tcp_respond(tp.t_vnet, tp, null, 0, inp_isv6(tp.t_inpcb), tp.rcv_nxt, (tp.snd_una - 1) >>> 0, 0);
}

/**
 * Answer a segment with a RST (tcp_dropwithreset): never to a RST, a broadcast or
 * multicast; rate limited (net.inet.icmp.icmplim, BANDLIM_RST_*). RFC 9293 §3.10.7.1.
 */
export function tcp_dropwithreset(
  V: Vnet,
  m: Mbuf,
  off: number,
  isv6: boolean,
  tp: TcpCb | null,
  thflags: number,
  tlen: number,
  th_seq: number,
  th_ack: number,
  rstreason = BANDLIM_RST_CLOSEDPORT,
): void {
  const b = m.m_buf;
  const o = m.m_data;
  if (thflags & TH_RST || m.m_flags & (M_BCAST | M_MCAST)) {
    m_freem(m);
    return;
  }
  if (isv6) {
    if (b[o + 24] === 0xff || b[o + 8] === 0xff) {
      m_freem(m);
      return;
    }
  } else {
    const src = get32(b, o + 12);
    const dst = get32(b, o + 16);
    if (IN_MULTICAST(dst) || IN_MULTICAST(src) || src === INADDR_BROADCAST || dst === INADDR_BROADCAST || V.inet.isBroadcast(dst, m.rcvif)) {
      m_freem(m);
      return;
    }
  }
  // rstreason -1 is BANDLIM_UNLIMITED (FreeBSD's badport_bandlim never limits it).
  if (rstreason >= 0 && V.icmp.bandlim(V.clock.now(), rstreason)) {
    m_freem(m);
    return;
  }
  if (thflags & TH_ACK) {
    tcp_respond(V, tp, m, off, isv6, 0, th_ack, TH_RST);
  } else {
    let len = tlen;
    if (thflags & 0x02) len++; // SYN
    if (thflags & 0x01) len++; // FIN
    tcp_respond(V, tp, m, off, isv6, (th_seq + len) >>> 0, 0, TH_RST | TH_ACK);
  }
  m_freem(m);
}

// --- ISNs and timestamp offsets ---

/**
 * Initial sequence number (RFC 6528 §3): ISN = M + F(laddr, lport, faddr, fport, secret),
 * M a clock ticking once per 4 µs (RFC 9293 §3.4.1), F SipHash keyed by a per-Vnet secret.
 */
export function tcp_new_isn(V: Vnet, inp: Inpcb): number {
  const t = V.tcp;
  const w = t.isn_words;
  let n: number;
  w[0] = (inp.inp_lport << 16) | inp.inp_fport;
  if (inp_isv6(inp)) {
    for (let i = 0; i < 4; i++) w[1 + i] = get32(inp.in6p_laddr, i * 4);
    for (let i = 0; i < 4; i++) w[5 + i] = get32(inp.in6p_faddr, i * 4);
    n = 9;
  } else {
    w[1] = inp.inp_laddr;
    w[2] = inp.inp_faddr;
    n = 3;
  }
  const f = t.isn_hash.hash32(w, n);
  const m = Math.floor(V.clock.now() / 4000); // 4 µs clock
  return (f + m) >>> 0;
}

/** Per-connection timestamp offset (RFC 7323 §5.4): a keyed hash of the addresses. */
export function tcp_new_ts_offset(V: Vnet, inp: Inpcb): number {
  const t = V.tcp;
  if (!t.ts_offset_per_conn) return 0;
  const w = t.isn_words;
  let n: number;
  if (inp_isv6(inp)) {
    for (let i = 0; i < 4; i++) w[i] = get32(inp.in6p_laddr, i * 4);
    for (let i = 0; i < 4; i++) w[4 + i] = get32(inp.in6p_faddr, i * 4);
    n = 8;
  } else {
    // The offset is per host pair: the last IPv4 pair's is kept (connect, the SYN cache and
    // the TIME_WAIT vestige ask for the same pair in turn).
    w[0] = inp.inp_laddr;
    w[1] = inp.inp_faddr;
    if (t.ts_memo_set && t.ts_memo_la === w[0] && t.ts_memo_fa === w[1]) return t.ts_memo_off;
    n = 2;
  }
  w[n] = 0x7473; // domain separation from the ISN
  const off = t.ts_hash.hash32(w, n + 1);
  if (n === 2) {
    t.ts_memo_la = w[0] as number;
    t.ts_memo_fa = w[1] as number;
    t.ts_memo_off = off;
    t.ts_memo_set = true;
  }
  return off;
}

// --- ICMP errors (tcp_ctlinput) ---

/**
 * An ICMP error about a segment we sent. RFC 5927 §4.1: it must quote a sequence number we
 * have outstanding. Fragmentation needed / packet too big lowers the MSS and resends
 * (RFC 1191, RFC 8201); hard errors (port/protocol unreachable, admin prohibited, TTL
 * exceeded with net.inet.tcp.icmp_may_rst) abort a connection still in SYN_SENT; soft
 * errors are remembered (t_softerror) and reported if the connection times out.
 */
export function tcp_ctlinput(V: Vnet, ctl: CtlInput): void {
  const q = ctl.quoted;
  const th = ctl.off;
  if (q.length < th + 8) return;
  const sport = get16(q, th);
  const dport = get16(q, th + 2);
  const seq = get32(q, th + 4);
  let inp: Inpcb | null;
  if (ctl.family === AF_INET) {
    inp = V.tcp.info.lookup4((ctl.dst as SockaddrIn).addr, dport, (ctl.src as SockaddrIn).addr, sport, false);
  } else {
    inp = V.tcp.info.lookup6((ctl.dst as SockaddrIn6).addr, dport, (ctl.src as SockaddrIn6).addr, sport, false);
  }
  if (inp === null) {
    // Maybe a SYN-ACK sent from the syncache.
    V.tcp.syncache?.unreach(ctl, sport, dport, seq);
    return;
  }
  const tp = inp.inp_ppcb as TcpCb | null;
  if (tp === null || tp.t_freed || inp.inp_flags & (INP_TIMEWAIT | INP_DROPPED)) return;
  if (!(SEQ_GEQ(seq, tp.snd_una) && SEQ_LT(seq, tp.snd_max))) return;
  const cmd = ctl.cmd;
  if (cmd === PRC_MSGSIZE) {
    if (!V.tcp.path_mtu_discovery) return;
    tcp_mtudisc(tp, ctl.mtu);
    return;
  }
  const errno = inetctlerrmap[cmd] ?? 0;
  if (errno === 0) return;
  if (V.tcp.icmp_may_rst && (cmd === PRC_UNREACH_ADMIN_PROHIB || cmd === PRC_UNREACH_PORT || cmd === PRC_UNREACH_PROTOCOL || cmd === PRC_TIMXCEED_INTRANS)) {
    if (tp.t_state === TCPS_SYN_SENT) tcp_drop(tp, errno);
    return;
  }
  tcp_notify(tp, errno);
}

/** Soft errors (tcp_notify): ignored when established, fatal after repeated SYN retries. */
function tcp_notify(tp: TcpCb, error: number): void {
  if (tp.t_state === TCPS_ESTABLISHED && (error === EHOSTUNREACH || error === ENETUNREACH || error === EHOSTDOWN)) {
    tp.t_inpcb.inp_route.invalidate();
    return;
  }
  if (tp.t_state < TCPS_ESTABLISHED && tp.t_rxtshift > 3 && tp.t_softerror) {
    tcp_drop(tp, error);
    return;
  }
  tp.t_softerror = error;
  const so = tp.t_inpcb.inp_socket;
  if (so !== null) {
    sorwakeup(so);
    sowwakeup(so);
  }
}

/**
 * Path MTU discovery (tcp_mtudisc): recompute the MSS for the new MTU (the host cache
 * already holds it) and resend from snd_una.
 */
export function tcp_mtudisc(tp: TcpCb, mtu: number): void {
  const V = tp.t_vnet;
  const old = tp.t_maxseg;
  tcp_mss_update(tp, -1, mtu);
  if (tp.t_maxseg >= old) return;
  V.tcp.stat.tcps_mturesent++;
  tp.t_rtttime = 0;
  tp.snd_nxt = tp.snd_una;
  tcp_free_sackholes(tp);
  tp.snd_recover = tp.snd_max;
  if (tp.t_flags & TF_SACK_PERMIT) tp.t_flags &= ~0x00100000; // EXIT_FASTRECOVERY
  tcp_output(tp);
}

// --- the PCB list (sockstat, netstat -a) ---

export interface TcpPcbRecord {
  family: number;
  laddr: string;
  lport: number;
  faddr: string;
  fport: number;
  state: string;
  t_state: number;
  rcvq: number;
  sndq: number;
  so_options: number;
  listening: boolean;
  vestigial: boolean;
}

export function tcp_pcblist(V: Vnet): TcpPcbRecord[] {
  const out: TcpPcbRecord[] = [];
  for (const inp of V.tcp.info.list) {
    const tp = inp.inp_ppcb as TcpCb | null;
    const so: Socket | null = inp.inp_socket;
    const v6 = (inp.inp_vflag & INP_IPV6) !== 0 && !(inp.inp_vflag & INP_IPV4 && !(inp.inp_vflag & INP_IPV6PROTO));
    const fam = inp.inp_vflag & INP_IPV6PROTO ? AF_INET6 : AF_INET;
    const state = tp ? tp.t_state : TCPS_CLOSED;
    out.push({
      family: fam,
      laddr: v6 && !(inp.inp_vflag & INP_IPV4 && !(inp.inp_vflag & INP_IPV6)) ? ntop6(inp.in6p_laddr) : ntoa(inp.inp_laddr),
      lport: inp.inp_lport,
      faddr: v6 && !(inp.inp_vflag & INP_IPV4 && !(inp.inp_vflag & INP_IPV6)) ? ntop6(inp.in6p_faddr) : ntoa(inp.inp_faddr),
      fport: inp.inp_fport,
      state: tcpstates[state] as string,
      t_state: state,
      rcvq: so ? so.so_rcv.sb_ccc : 0,
      sndq: so ? so.so_snd.sb_ccc : 0,
      so_options: so ? so.so_options : 0,
      listening: state === TCPS_LISTEN,
      vestigial: false,
    });
  }
  // Not push(...rows): hundreds of thousands of vestiges would overflow the call stack.
  for (const h of V.tcp.pcblistHooks) for (const row of h()) out.push(row);
  return out;
}

/** Drop every connection in TIME_WAIT (tcpdrop -s TIME_WAIT); returns how many. */
export function tcp_drop_timewait(V: Vnet): number {
  let n = 0;
  for (const inp of [...V.tcp.info.list]) {
    const tp = inp.inp_ppcb as TcpCb | null;
    if (tp !== null && tp.t_state === 10) {
      tcp_close(tp);
      n++;
    }
  }
  for (const h of V.tcp.dropTimewaitHooks) n += h();
  return n;
}

/** Drop one connection by its 4-tuple (tcpdrop laddr lport faddr fport). */
export function tcp_drop_tuple(V: Vnet, laddr: string, lport: number, faddr: string, fport: number): boolean {
  for (const r of [...V.tcp.info.list]) {
    const tp = r.inp_ppcb as TcpCb | null;
    if (tp === null) continue;
    const rec = r.inp_vflag & INP_IPV6 && !(r.inp_vflag & INP_IPV4) ? [ntop6(r.in6p_laddr), ntop6(r.in6p_faddr)] : [ntoa(r.inp_laddr), ntoa(r.inp_faddr)];
    if (rec[0] === laddr && rec[1] === faddr && r.inp_lport === lport && r.inp_fport === fport) {
      tcp_drop(tp, ECONNABORTED);
      return true;
    }
  }
  return false;
}

/** Build the keyed hashes from the per-Vnet secret. */
export function tcp_secret_init(V: Vnet): { isn: SipHash; ts: SipHash } {
  const s = V.tcp.isn_secret;
  return { isn: new SipHash(sipKeyFromBytes(s, 0)), ts: new SipHash(sipKeyFromBytes(s, 16)) };
}

// --- per-Vnet initialisation (tcp_init / tcp_vnet_init) ---

/**
 * Create TCP's per-Vnet state and wire it in (FreeBSD tcp_init + the net.inet.tcp.* SYSCTLs
 * of tcp_subr.c, tcp_input.c, tcp_output.c, tcp_timer.c, tcp_sack.c): TcpVars with the
 * RFC 6528 / RFC 7323 hash keys, the congestion-control registry (newreno, cubic; cubic the
 * default), SACK and reassembly limits, the SYN cache, every tunable under its FreeBSD name
 * with FreeBSD's default, the statistics and PCB list nodes, and the TCP protosw for IPv4
 * and IPv6 (input table and socket table). Called by the Vnet after inet6_init.
 *
 * Units: values FreeBSD handles with sysctl_msec_to_ticks are milliseconds here too (stored
 * in ms, converted to ticks where used) and, as there, must be at least 1.
 */
export function tcp_init(V: Vnet): void {
  const t = new TcpVars(V);
  V.tcp = t;
  const keys = tcp_secret_init(V);
  t.isn_hash = keys.isn;
  t.ts_hash = keys.ts;
  V.cc = new CcVars(V);
  registerCcAlgorithms(V);
  tcp_sack_init(V);
  tcp_reass_init(V);
  t.syncache = new SynCache(V);
  tcp_sysctl_init(V, t);
  t.bblog = tcp_log_init(V, Object.values(t.probes));
  // Vestigial TIME_WAIT and MSLT (issue 6).
  V.vtw = vtw_init(V);
  tcp_vtw_attach(V);

  const tcp4 = tcp_protosw(V, AF_INET);
  V.inet.protox[IPPROTO_TCP] = tcp4;
  V.protosw.add(tcp4);
  const tcp6 = tcp_protosw(V, AF_INET6);
  V.inet6.protox[IPPROTO_TCP] = tcp6;
  V.protosw.add(tcp6);
}

/** Connection counts per TCPS_* state (net.inet.tcp.states), TIME_WAIT vestiges included. */
export function tcp_states(V: Vnet): number[] {
  const n = new Array<number>(TCP_NSTATES).fill(0);
  for (const r of tcp_pcblist(V)) if (r.t_state >= 0 && r.t_state < TCP_NSTATES) n[r.t_state] = (n[r.t_state] as number) + 1;
  return n;
}

/**
 * The PCB list the tools read (net.inet.tcp.pcblist): tcp_pcblist's records plus the owning
 * socket's so_id (null when no socket holds the connection) and buffer sizes.
 */
function tcp_pcblist_sysctl(V: Vnet): SysctlStruct {
  const recs = tcp_pcblist(V);
  // tcp_pcblist walks V.tcp.info.list first, in the same order, then the hook records.
  const out: SysctlJson[] = [];
  let i = 0;
  for (const inp of V.tcp.info.list) {
    const r = recs[i++];
    if (r === undefined) break;
    const so = inp.inp_socket;
    const tp = inp.inp_ppcb as TcpCb | null;
    // struct xtcpcb: the xinpcb/xsocket/xsockbuf fields (netstat -x), then TCP's own.
    const x = xinpcb(inp, IPPROTO_TCP);
    out.push({
      ...x,
      ...r,
      vflag: x.vflag as number,
      so_id: so !== null && !so.so_freed ? so.so_id : null,
      sndbuf: so ? so.so_snd.sb_hiwat : 0,
      rcvbuf: so ? so.so_rcv.sb_hiwat : 0,
      timers: tp !== null ? tcp_timers_ms(V, tp) : null,
    });
  }
  for (; i < recs.length; i++) out.push({ ...(recs[i] as TcpPcbRecord), so_id: null, sndbuf: 0, rcvbuf: 0, timers: null });
  return out;
}

/**
 * The xtcpcb timer fields (tt_rexmt, tt_persist, tt_keep, tt_2msl, tt_delack) as
 * milliseconds until each fires (0: not armed), plus rcvtime: ms since the last segment
 * arrived. netstat -x prints them as FreeBSD does, in seconds.
 */
function tcp_timers_ms(V: Vnet, tp: TcpCb): { [k: string]: number } {
  const now = V.callwheel.ticks();
  const tickMs = V.callwheel.tickNs / 1e6;
  const left = (i: number): number => {
    const due = tp.timerDue(i);
    return due === 0 ? 0 : Math.max(0, (due - now) * tickMs);
  };
  return {
    rexmt: left(TT_REXMT),
    persist: left(TT_PERSIST),
    keep: left(TT_KEEP),
    '2msl': left(TT_2MSL),
    delack: left(TT_DELACK),
    rcvtime: (now - tp.t_rcvtime) * tickMs,
  };
}

/** Drop every connection in TCPS_* state `state` (tcpdrop -s); returns how many. */
export function tcp_drop_state(V: Vnet, state: number): number {
  if (state === TCPS_TIME_WAIT_STATE) return tcp_drop_timewait(V);
  let n = 0;
  for (const inp of [...V.tcp.info.list]) {
    const tp = inp.inp_ppcb as TcpCb | null;
    if (tp === null || tp.t_freed || tp.t_state !== state || inp.inp_flags & INP_DROPPED) continue;
    if (state === TCPS_LISTEN) {
      tcp_state_change(tp, TCPS_CLOSED);
      tcp_close(tp);
    } else {
      tcp_drop(tp, ECONNABORTED);
    }
    n++;
  }
  return n;
}

const TCPS_TIME_WAIT_STATE = 10;

function tcp_sysctl_init(V: Vnet, t: TcpVars): void {
  const s = V.sysctl;
  s.node('net.inet.tcp', 'TCP');
  const ms = (name: string, key: TcpMsKey, descr: string): void => {
    s.int(`net.inet.tcp.${name}`, field(t, key), { descr: `${descr} (ms)`, min: 1 });
  };
  const int = (
    name: string,
    key: TcpIntKey,
    descr: string,
    opts: { min?: number; max?: number; unsigned?: boolean; check?: (v: number) => string | null } = {},
  ): void => {
    s.int(`net.inet.tcp.${name}`, field(t, key), { descr, ...opts });
  };
  const bool = (name: string, key: TcpBoolKey, descr: string): void => {
    s.bool(`net.inet.tcp.${name}`, field(t, key), { descr });
  };

  // RFC 7323, RFC 2018, RFC 3168 (tcp_subr.c, tcp_sack.c, tcp_input.c)
  bool('rfc1323', 'rfc1323', 'Enable rfc1323 (high performance TCP) extensions');
  bool('sack.enable', 'do_sack', 'Enable/Disable TCP SACK support');
  bool('sack.revised', 'do_newsack', 'Use revised SACK loss recovery per RFC 6675');
  bool('sack.lrd', 'do_lrd', 'Perform Lost Retransmission Detection');
  s.node('net.inet.tcp.ecn', 'TCP ECN');
  // 0 off, 1 request and accept, 2 accept only; AccECN (FreeBSD's 3, 4) is not implemented.
  int('ecn.enable', 'ecn_enable', 'TCP ECN support', { min: 0, max: 2 });
  int('ecn.maxretries', 'ecn_maxretries', 'Max retries before giving up on ECN', { min: 0 });
  // MSS (RFC 6691, RFC 9293 §3.7.1); FreeBSD refuses defaults below TCP_MINMSS (216).
  int('mssdflt', 'mssdflt', 'Default TCP Maximum Segment Size', { min: 216 });
  int('v6mssdflt', 'v6mssdflt', 'Default TCP Maximum Segment Size for IPv6', { min: 216 });
  int('minmss', 'minmss', 'Minimum TCP Maximum Segment Size', { min: 0 });
  // Congestion control (RFC 5681, RFC 6928, RFC 3465, RFC 3042, RFC 6675, RFC 6937)
  int('initcwnd_segments', 'initcwnd_segments', 'Slow-start flight size (initial congestion window) in number of segments', { min: 0 });
  bool('rfc3390', 'rfc3390', "Enable RFC 3390 (Increasing TCP's Initial Congestion Window)");
  bool('rfc3465', 'do_rfc3465', 'Enable RFC 3465 (Appropriate Byte Counting)');
  int('abc_l_var', 'abc_l_var', 'Cap the max cwnd increment during slow-start to this number of segments', { min: 0 });
  bool('rfc3042', 'rfc3042', 'Enable RFC 3042 (Limited Transmit)');
  bool('rfc6675_pipe', 'do_rfc6675_pipe', 'Use calculated pipe/in-flight bytes per RFC 6675');
  bool('do_prr', 'do_prr', 'Enable Proportional Rate Reduction per RFC 6937');
  // Timers (tcp_timer.c): milliseconds, as FreeBSD's sysctl_msec_to_ticks shows them.
  bool('delayed_ack', 'delayed_ack', 'Delay ACK to try and piggyback it onto a data packet');
  ms('delacktime', 'delacktime', 'Time before a delayed ACK is sent');
  ms('rexmit_initial', 'rexmit_initial', 'Initial Retransmission Timeout');
  ms('rexmit_min', 'rexmit_min', 'Minimum Retransmission Timeout');
  ms('rexmit_slop', 'rexmit_slop', 'Retransmission Timer Slop');
  bool('rexmit_drop_options', 'rexmit_drop_options', 'Drop TCP options from 3rd and later retransmitted SYN');
  ms('persmin', 'persmin', 'minimum persistence interval');
  ms('persmax', 'persmax', 'maximum persistence interval');
  ms('keepinit', 'keepinit', 'time to establish connection');
  ms('keepidle', 'keepidle', 'time before keepalive probes begin');
  ms('keepintvl', 'keepintvl', 'time between keepalive probes');
  int('keepcnt', 'keepcnt', 'Number of keepalive probes to send');
  bool('always_keepalive', 'always_keepalive', 'Assume SO_KEEPALIVE on all TCP connections');
  ms('msl', 'msl', 'Maximum segment lifetime');
  ms('finwait2_timeout', 'finwait2_timeout', 'FIN-WAIT2 timeout');
  bool('fast_finwait2_recycle', 'fast_finwait2_recycle', 'Recycle closed FIN_WAIT_2 connections faster');
  // RFC 5961 and input policy (tcp_input.c)
  bool('insecure_rst', 'insecure_rst', 'Follow RFC793 instead of RFC5961 criteria for accepting RST packets');
  bool('insecure_syn', 'insecure_syn', 'Follow RFC793 instead of RFC5961 criteria for accepting SYN packets');
  bool('insecure_ack', 'insecure_ack', 'Follow RFC793 criteria for validating SEG.ACK');
  bool('drop_synfin', 'drop_synfin', 'Drop TCP packets with SYN+FIN set');
  bool('icmp_may_rst', 'icmp_may_rst', 'Certain ICMP unreachable messages may abort connections in SYN_SENT');
  // blackhole(4): 1 drops SYNs to closed ports silently, 2 every segment.
  int('blackhole', 'blackhole', 'Do not send RST on segments to closed ports', { min: 0, max: 2 });
  int('log_in_vain', 'log_in_vain', 'Log all incoming TCP segments to closed ports', { min: 0, max: 2 });
  bool('tolerate_missing_ts', 'tolerate_missing_ts', 'Tolerate missing TCP timestamps');
  bool('ts_offset_per_conn', 'ts_offset_per_conn', 'Initialize TCP timestamps per connection instead of per host pair');
  int('ack_war_timewindow', 'ack_war_timewindow', 'Time interval in ms used to limit the number (ack_war_cnt) of challenge ACKs sent per TCP connection', {
    unsigned: true,
  });
  int('ack_war_cnt', 'ack_war_cnt', 'Maximum number of challenge ACKs sent per TCP connection during the time interval (ack_war_timewindow)', {
    unsigned: true,
  });
  // Path MTU (RFC 1191, RFC 8201)
  bool('path_mtu_discovery', 'path_mtu_discovery', 'Enable Path MTU Discovery');
  int('pmtud_blackhole_detection', 'pmtud_blackhole_detection', 'Path MTU Discovery Black Hole Detection Enabled', {
    min: 0,
    max: 3,
    check: (v) => (v === 0 ? null : 'PMTUD black hole detection (RFC 4821 fallback) is not implemented in bsdnet'),
  });
  bool('tso', 'do_tso', 'Enable TCP Segmentation Offload');
  // Buffers (tcp_usrreq.c, tcp_input.c, tcp_output.c)
  int('recvspace', 'recvspace', 'Initial receive socket buffer size', { min: 1 });
  int('sendspace', 'sendspace', 'Initial send socket buffer size', { min: 1 });
  bool('recvbuf_auto', 'recvbuf_auto', 'Enable automatic receive buffer sizing');
  int('recvbuf_max', 'recvbuf_max', 'Max size of automatic receive buffer', { min: 1 });
  bool('sendbuf_auto', 'sendbuf_auto', 'Enable automatic send buffer sizing');
  int('sendbuf_inc', 'sendbuf_inc', 'Incrementor step size of automatic send buffer', { min: 1 });
  int('sendbuf_max', 'sendbuf_max', 'Max size of automatic send buffer', { min: 1 });
  // ISN secret reseeding (RFC 6528 §3) is not implemented: only 0 (never) is accepted.
  int('isn_reseed_interval', 'isn_reseed_interval', 'Seconds between reseeding of ISN secret', {
    min: 0,
    check: (v) => (v === 0 ? null : 'ISN secret reseeding is not implemented in bsdnet (only 0 = never)'),
  });
  // TCP over UDP (RFC 8682-style encapsulation) is not implemented: port 0 (off) only.
  int('udp_tunneling_port', 'udp_tunneling_port', 'Tunneling port for tcp over udp', {
    min: 0,
    max: 65535,
    check: (v) => (v === 0 ? null : 'TCP over UDP encapsulation is not implemented in bsdnet'),
  });
  int('udp_tunneling_overhead', 'udp_tunneling_overhead', 'MSS reduction when using tcp over udp', { min: 8, max: 1024 });

  // Statistics and tables
  s.struct('net.inet.tcp.stats', () => ({ ...t.stat }) as unknown as SysctlStruct, {
    descr: 'TCP statistics (struct tcpstat, netinet/tcp_var.h)',
    type: 'tcpstat',
  });
  s.struct('net.inet.tcp.pcblist', () => tcp_pcblist_sysctl(V), { descr: 'List of active TCP connections', type: 'xtcpcb' });
  s.struct('net.inet.tcp.states', () => tcp_states(V), { descr: 'TCP connection counts by TCP state', type: 'uint64_t' });
  // tcpdrop(8) for the tools (src/drill/tcpiface.ts contract): drop by TCPS_* state number.
  s.action(
    'net.inet.tcp.drop',
    (v) => {
      if (!Number.isInteger(v) || v < 0 || v >= TCP_NSTATES) throw new SysctlError('EINVAL', 'net.inet.tcp.drop', `not a TCP state number: ${v}`);
      tcp_drop_state(V, v);
    },
    { descr: 'Drop every TCP connection in the given TCPS_* state (tcpdrop -s)' },
  );
  s.action('net.inet.tcp.drop_timewait', () => void tcp_drop_timewait(V), { descr: 'Drop every TCP connection in TIME_WAIT' });
}

type KeysOfType<O, T> = { [K in keyof O]-?: O[K] extends T ? K : never }[keyof O] & keyof O;
type TcpIntKey = KeysOfType<TcpVars, number>;
type TcpMsKey = TcpIntKey;
type TcpBoolKey = KeysOfType<TcpVars, boolean>;
