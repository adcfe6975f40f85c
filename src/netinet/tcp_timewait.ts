/*
 * TIME_WAIT (FreeBSD 14 netinet/tcp_timewait.c: the tcpcb itself stays in TCPS_TIME_WAIT for
 * 2*MSL; RFC 9293 §3.10.7.4, RFC 1337, RFC 6191).
 *
 * tcp_twstart enters TIME_WAIT; tcp_twcheck handles segments that reach a connection in
 * TIME_WAIT:
 *  - RSTs are dropped (RFC 1337 "TIME-WAIT assassination" hazard, FreeBSD's choice);
 *  - a new SYN whose sequence number is above the old connection's rcv_nxt — or, when both
 *    connections use timestamps, whose timestamp is newer (RFC 6191 §2) — ends the TIME_WAIT
 *    early and is then offered to a listener;
 *  - a retransmitted FIN restarts the 2*MSL timer (RFC 9293 §3.10.7.4 eighth check);
 *  - anything else that carries data or is not an exact duplicate ACK is answered with an
 *    ACK (tcps_tw_responds).
 *
 * MSLT (tcp_mslt.ts): with net.inet.tcp.mslt.enable, TIME_WAIT lasts 2 × the MSL of the
 * connection's class (loopback / local subnet / remote via a gateway), else 2 ×
 * net.inet.tcp.msl.
 *
 * VTW (tcp_vtw.ts, issue 6): a TIME_WAIT connection that no socket refers to any more (closed
 * before or during TIME_WAIT) is replaced by a vestige: the tcpcb, PCB and socket are freed
 * and tcp_input answers the 4-tuple from the vestige with tcp_vtw_twcheck, which is
 * tcp_twcheck over the vestige's fields; its ACKs are built as tcp_respond builds them for a
 * TIME_WAIT tcpcb (tcp_vtw_respond), so they are byte for byte the same. A connection whose
 * ACKs a vestige could not reproduce (IP_TTL/IP_TOS/IPV6_UNICAST_HOPS/IPV6_TCLASS set, no TCP
 * options, a timestamp offset that is not the RFC 7323 §5.4 hash, or a ts_recent older than
 * RFC 7323 §5.5's 24 days) keeps its full tcpcb.
 */

import { type Mbuf, MAX_LINKHDR, m_freem } from '../mbuf/mbuf.js';
import { SO_REUSEADDR, SO_REUSEPORT, SO_REUSEPORT_LB, SS_NOFDREF, soisdisconnected } from '../sys/socket.js';
import type { Vnet } from '../vnet.js';
import { get16, get32 } from '../wire/bytes.js';
import { IP_HDR_LEN } from '../wire/ipv4.js';
import { IP6_HDR_LEN } from '../wire/ipv6.js';
import { TCP_HDR_LEN, TCP_MAXWIN, TH_ACK, TH_FIN, TH_RST, TH_SYN, TOF_TS, type TcpOptsScratch } from '../wire/tcp.js';
import { AF_INET, AF_INET6, ntoa, ntop6 } from './in.js';
import { IN6P_IPV6_V6ONLY, INP_DROPPED, INP_IPV4, INP_IPV6, INP_IPV6PROTO } from './in_pcb.js';
import { MSLT_CLASSLESS } from './tcp_mslt.js';
import { TCPS_TIME_WAIT } from './tcp_fsm.js';
import { inp_isv6, tcp_addoptions, tcp_ip_output, tcp_output, tcp_ts_getticks } from './tcp_output.js';
import { tcp_free_sackholes } from './tcp_sack.js';
import { SEQ_GT, TSTMP_GT } from './tcp_seq.js';
import { respondTemplate, tcp_close, tcp_new_ts_offset, tcp_respond, tcp_state_change, type TcpPcbRecord } from './tcp_subr.js';
import { msToTicks, tcp_timer_activate } from './tcp_timer.js';
import { type TcpCb, TF_ACKNOW, TF_NOOPT, TF_RCVD_TSTMP, TT_2MSL, TT_DELACK, TT_KEEP, TT_PERSIST, TT_REXMT } from './tcp_var.js';
import type { TcpSeg } from './tcp_var.js';
import { VTW_F_REUSEADDR, VTW_F_REUSEPORT, VTW_F_TS, VTW_F_V6ONLY } from './tcp_vtw.js';

/** RFC 7323 §5.5: a ts_recent older than 24 days is invalid (TCP_PAWS_IDLE, ms as tcp_ts_getticks). */
const TCP_PAWS_IDLE = 24 * 24 * 60 * 60 * 1000;

/** MSL class of a connection (MSLT; MSLT_CLASSLESS when net.inet.tcp.mslt.enable is 0). */
export function tcp_msl_class(tp: TcpCb): number {
  const inp = tp.t_inpcb;
  const m = tp.t_vnet.vtw.mslt;
  if (!m.enable) return MSLT_CLASSLESS;
  if (inp_isv6(inp)) return m.classify6(inp.in6p_laddr, inp.in6p_faddr, null);
  const rt = inp.inp_route.rt;
  return m.classify4(inp.inp_laddr, inp.inp_faddr, rt !== null ? rt.nhop.nh_ifp : null);
}

/** MSL of a class in ms: MSLT's per-class value, or net.inet.tcp.msl without MSLT. */
function msl_ms(V: Vnet, cls: number): number {
  const m = V.vtw.mslt;
  return m.enable ? m.mslTicks(cls) * 500 : V.tcp.msl;
}

/** 2*MSL in ticks for the connection's MSL class (net.inet.tcp.msl and mslt.* are in ms / 500 ms). */
export function tcp_2msl(tp: TcpCb): number {
  return 2 * msToTicks(tp.t_vnet, msl_ms(tp.t_vnet, tcp_msl_class(tp)));
}

/** 2*MSL in ns for a vestige of class `cls` (the same duration as tcp_2msl, to the tick). */
function vtw_lifetime_ns(V: Vnet, cls: number): number {
  return 2 * msToTicks(V, msl_ms(V, cls)) * V.callwheel.tickNs;
}

/** Enter TIME_WAIT (tcp_twstart). */
export function tcp_twstart(tp: TcpCb): void {
  const inp = tp.t_inpcb;
  tcp_state_change(tp, TCPS_TIME_WAIT);
  tcp_free_sackholes(tp);
  if (inp.inp_socket !== null) soisdisconnected(inp.inp_socket);
  if (tp.t_flags & TF_ACKNOW) tcp_output(tp);
  if (tp.t_freed) return;
  // No socket refers to the connection any more (closed in FIN_WAIT/CLOSING): a vestige
  // replaces the tcpcb, and tcp_close stops its timers (no 2*MSL timer to arm and cancel).
  const so = inp.inp_socket;
  if ((so === null || so.so_state & SS_NOFDREF) && tcp_tw_vestige(tp)) return;
  tcp_timer_activate(tp, TT_REXMT, 0);
  tcp_timer_activate(tp, TT_PERSIST, 0);
  tcp_timer_activate(tp, TT_KEEP, 0);
  tcp_timer_activate(tp, TT_DELACK, 0);
  tcp_timer_activate(tp, TT_2MSL, tcp_2msl(tp));
}

/** What tcp_twcheck's rules say to do with a segment (bits; 0 = drop it). */
const TW_RECYCLE = 1; // an acceptable new SYN: end the TIME_WAIT, look for a listener
const TW_RESTART = 2; // a retransmitted FIN: restart the 2*MSL wait
const TW_ACK = 4; // answer with an ACK

/**
 * tcp_twcheck's rules over a TIME_WAIT connection's state, shared by the full tcpcb and the
 * vestige so both behave exactly alike:
 *  - RSTs are dropped (RFC 1337, FreeBSD); so is SYN|FIN with net.inet.tcp.drop_synfin;
 *  - a new SYN above rcv_nxt, or with a newer timestamp when both use them (RFC 6191 §2),
 *    ends the TIME_WAIT (RFC 9293 §3.10.7.4 note);
 *  - segments without ACK are dropped, and so are those missing negotiated timestamps
 *    (RFC 7323 §3.2) unless net.inet.tcp.tolerate_missing_ts;
 *  - a retransmitted FIN restarts the 2*MSL wait (RFC 9293 §3.10.7.4 eighth check);
 *  - data, and anything but an exact duplicate ACK, is acknowledged.
 */
function tw_rules(V: Vnet, to: TcpOptsScratch, s: TcpSeg, rcv_nxt: number, snd_nxt: number, hasTs: boolean, ts_recent: number): number {
  const thflags = s.thflags;
  if (thflags & TH_RST) return 0;
  if (thflags & TH_SYN && thflags & TH_FIN && V.tcp.drop_synfin) return 0;
  if ((thflags & (TH_SYN | TH_ACK)) === TH_SYN) {
    const tsNewer = hasTs && (to.flags & TOF_TS) !== 0 && TSTMP_GT(to.tsval, ts_recent);
    if (SEQ_GT(s.th_seq, rcv_nxt) || tsNewer) return TW_RECYCLE;
  }
  if (!(thflags & TH_ACK)) return 0;
  if (!(to.flags & TOF_TS) && ts_recent !== 0 && !V.tcp.tolerate_missing_ts) return 0;
  let r = 0;
  if (thflags & TH_FIN && (s.th_seq + s.tlen + (thflags & TH_SYN ? 1 : 0) + 1) >>> 0 === rcv_nxt) r |= TW_RESTART;
  if (thflags !== TH_ACK || s.tlen !== 0 || s.th_seq !== rcv_nxt || s.th_ack !== snd_nxt) r |= TW_ACK;
  return r;
}

/**
 * A segment for a connection in TIME_WAIT (tcp_twcheck). Returns true when the TIME_WAIT
 * was ended by an acceptable new SYN: the caller then looks for a listener. Consumes s.m
 * otherwise.
 */
export function tcp_twcheck(tp: TcpCb, to: TcpOptsScratch, s: TcpSeg): boolean {
  const V = tp.t_vnet;
  const st = V.tcp.stat;
  const r = tw_rules(V, to, s, tp.rcv_nxt, tp.snd_nxt, (tp.t_flags & TF_RCVD_TSTMP) !== 0, tp.ts_recent);
  if (r & TW_RECYCLE) {
    tcp_close(tp);
    st.tcps_tw_recycles++;
    return true;
  }
  if (r & TW_RESTART) tcp_timer_activate(tp, TT_2MSL, tcp_2msl(tp));
  if (r & TW_ACK) {
    tcp_respond(V, tp, s.m, s.off, s.isv6, tp.rcv_nxt, tp.snd_nxt, TH_ACK);
    st.tcps_tw_responds++;
  }
  m_freem(s.m);
  return false;
}

// --- VTW: vestigial TIME_WAIT ---

/**
 * The window field tcp_respond puts in a TIME_WAIT ACK of this tcpcb (its receive space,
 * scaled; 0 once the socket is detached), computed once: in TIME_WAIT it no longer changes.
 */
function tw_win(tp: TcpCb): number {
  const so = tp.t_inpcb.inp_socket;
  if (so === null) return 0;
  // Integers below 2^31 (TCP_MAXWIN << TCP_MAX_WINSHIFT < 2^30): shifts, not 2 ** and floor.
  const space = so.so_rcv.sb_hiwat - so.so_rcv.sb_ccc;
  if (space <= 0) return 0;
  const win = Math.min(space, TCP_MAXWIN << tp.rcv_scale) >>> tp.rcv_scale;
  return Math.min(win, TCP_MAXWIN);
}

/**
 * Replace a TIME_WAIT tcpcb that no socket refers to by a vestige (NetBSD tcp_vtw: the
 * TIME_WAIT tcpcb's fields go to vtw_add and the tcpcb goes). Keeps the tcpcb (returns false)
 * when VTW is off for the family, the table has no room, or a vestige could not answer
 * exactly as the tcpcb would (see the file comment). Returns true when the tcpcb was freed.
 */
export function tcp_tw_vestige(tp: TcpCb): boolean {
  const V = tp.t_vnet;
  const vtw = V.vtw;
  const inp = tp.t_inpcb;
  if (tp.t_freed || tp.t_state !== TCPS_TIME_WAIT || inp.inp_flags & INP_DROPPED) return false;
  const so = inp.inp_socket;
  if (so !== null && !(so.so_state & SS_NOFDREF)) return false;
  const v6 = inp_isv6(inp);
  if (!(v6 ? vtw.enabled6 : vtw.enabled4)) return false;
  // What tcp_respond takes from the tcpcb beyond the fields a vestige keeps.
  if (tp.t_flags & TF_NOOPT) return false;
  if (v6) {
    if (inp.in6p_hops >= 0 || (inp.in6p_tclass & ~3) !== 0) return false;
  } else if ((inp.inp_ip_ttl !== 0 && inp.inp_ip_ttl !== V.inet.defttl) || (inp.inp_ip_tos & ~3) !== 0) return false;
  let flags = 0;
  if (tp.t_flags & TF_RCVD_TSTMP) {
    // RFC 7323 §5.5: ts_recent must still be valid; §5.4: the TSval offset is recomputed.
    if ((tcp_ts_getticks(V) - tp.ts_recent_age) >>> 0 > TCP_PAWS_IDLE) return false;
    if (tp.ts_offset >>> 0 !== tcp_new_ts_offset(V, inp) >>> 0) return false;
    flags |= VTW_F_TS;
  }
  // The reuse options bind() sees on the full PCB (none once the socket is detached).
  const opts = inp.so_options();
  if (opts & SO_REUSEADDR) flags |= VTW_F_REUSEADDR;
  if (opts & (SO_REUSEPORT | SO_REUSEPORT_LB)) flags |= VTW_F_REUSEPORT;
  if (inp.inp_flags & IN6P_IPV6_V6ONLY) flags |= VTW_F_V6ONLY;
  const cls = tcp_msl_class(tp);
  const life = vtw_lifetime_ns(V, cls);
  const win = tw_win(tp);
  const idx = v6
    ? vtw.insert6(inp.in6p_laddr, 0, inp.inp_lport, inp.in6p_faddr, 0, inp.inp_fport, tp.snd_nxt, tp.rcv_nxt, win, tp.ts_recent, flags, cls, life)
    : vtw.insert4(inp.inp_laddr, inp.inp_lport, inp.inp_faddr, inp.inp_fport, tp.snd_nxt, tp.rcv_nxt, win, tp.ts_recent, flags, cls, life);
  if (idx < 0) return false;
  tcp_close(tp);
  return true;
}

/**
 * tcp_respond's ACK for a TIME_WAIT connection, from a vestige: addresses and ports from the
 * received segment reversed, TTL/hop limit and TOS the defaults, the stored window, and the
 * RFC 7323 timestamp option (TSval = clock + the §5.4 per-connection offset, TSecr = ts_recent)
 * when the connection used timestamps.
 */
export function tcp_vtw_respond(V: Vnet, m: Mbuf, off: number, isv6: boolean, ack: number, seq: number, win: number, ts: boolean, tsecr: number): void {
  const inp = respondTemplate(V);
  const b = m.m_buf;
  const o = m.m_data;
  const th = o + off;
  inp.inp_lport = get16(b, th + 2);
  inp.inp_fport = get16(b, th);
  inp.inp_ip_ttl = 0;
  inp.inp_ip_tos = 0;
  if (isv6) {
    inp.inp_vflag = INP_IPV6 | INP_IPV6PROTO;
    inp.in6p_laddr = b.slice(o + 24, o + 40);
    inp.in6p_faddr = b.slice(o + 8, o + 24);
    inp.in6p_hops = -1;
    inp.in6p_tclass = 0;
    inp.in6p_flowinfo = 0;
    inp.in6p_scope = m.rcvif ? m.rcvif.if_index : 0;
  } else {
    inp.inp_vflag = INP_IPV4;
    inp.inp_laddr = get32(b, o + 16);
    inp.inp_faddr = get32(b, o + 12);
  }
  inp.inp_route.invalidate();
  let optlen = 0;
  const scratch = V.tcp.out;
  if (ts) {
    const to = scratch.to;
    to.reset();
    to.flags = TOF_TS;
    to.tsval = (tcp_ts_getticks(V) + tcp_new_ts_offset(V, inp)) >>> 0;
    to.tsecr = tsecr;
    optlen = tcp_addoptions(to, scratch.opt);
  }
  const n = V.mbufs.gethdr();
  if (n === null) return;
  n.m_data = MAX_LINKHDR;
  n.m_len = (isv6 ? IP6_HDR_LEN : IP_HDR_LEN) + TCP_HDR_LEN + optlen;
  n.len = n.m_len;
  const p = V.tcp.probes.send;
  if (p.enabled) p.fire(null, seq, 0, TH_ACK);
  tcp_ip_output(V, inp, n, seq >>> 0, ack >>> 0, TH_ACK, Math.min(win, TCP_MAXWIN), 0, optlen ? scratch.opt : null, optlen, 0, 0);
  V.tcp.stat.tcps_sndtotal++;
  V.tcp.stat.tcps_sndacks++;
}

/**
 * A segment whose 4-tuple hit vestige `idx` (tcp_twcheck over the vestige). Returns true when
 * an acceptable new SYN ended the TIME_WAIT (the vestige is gone): the caller then looks for
 * a listener. Consumes s.m otherwise.
 */
export function tcp_vtw_twcheck(V: Vnet, idx: number, to: TcpOptsScratch, s: TcpSeg): boolean {
  const vtw = V.vtw;
  const st = V.tcp.stat;
  const rcv_nxt = vtw.rcv_nxt(idx);
  const snd_nxt = vtw.snd_nxt(idx);
  const ts_recent = vtw.ts_recent(idx);
  const hasTs = vtw.hasTimestamps(idx);
  const r = tw_rules(V, to, s, rcv_nxt, snd_nxt, hasTs, ts_recent);
  if (r & TW_RECYCLE) {
    vtw.del(idx);
    st.tcps_tw_recycles++;
    return true;
  }
  const win = vtw.rcv_wnd(idx);
  if (r & TW_RESTART) vtw.restart(idx, vtw_lifetime_ns(V, vtw.mslClass(idx)));
  if (r & TW_ACK) {
    tcp_vtw_respond(V, s.m, s.off, s.isv6, rcv_nxt, snd_nxt, win, hasTs, ts_recent);
    st.tcps_tw_responds++;
  }
  m_freem(s.m);
  return false;
}

/** Vestiges as TIME_WAIT connections for the PCB list (netstat -a, sockstat). */
function vtw_pcblist(V: Vnet): TcpPcbRecord[] {
  const vtw = V.vtw;
  const out: TcpPcbRecord[] = [];
  if (vtw.count4 + vtw.count6 === 0) return out;
  const a = new Uint8Array(16);
  const f = new Uint8Array(16);
  vtw.forEach((idx) => {
    const v6 = vtw.isV6(idx);
    out.push({
      family: v6 ? AF_INET6 : AF_INET,
      laddr: v6 ? ntop6(vtw.laddr6(idx, a)) : ntoa(vtw.laddr4(idx)),
      lport: vtw.lport(idx),
      faddr: v6 ? ntop6(vtw.faddr6(idx, f)) : ntoa(vtw.faddr4(idx)),
      fport: vtw.fport(idx),
      state: 'TIME_WAIT',
      t_state: TCPS_TIME_WAIT,
      rcvq: 0,
      sndq: 0,
      so_options: (vtw.reuseAddr(idx) ? SO_REUSEADDR : 0) | (vtw.reusePort(idx) ? SO_REUSEPORT : 0),
      listening: false,
      vestigial: true,
    });
  });
  return out;
}

/** Delete every vestige (tcpdrop -s TIME_WAIT); returns how many. */
function vtw_drop_all(V: Vnet): number {
  const all: number[] = [];
  V.vtw.forEach((idx) => {
    all.push(idx);
  });
  for (const idx of all) V.vtw.del(idx);
  return all.length;
}

/**
 * Wire VTW into TCP (from tcp_init, after V.vtw exists): bind()/connect() see vestiges as
 * TIME_WAIT PCBs (the PCB table's shadows), and the PCB list and tcpdrop see them too.
 */
export function tcp_vtw_attach(V: Vnet): void {
  V.tcp.info.shadows.push(V.vtw);
  V.tcp.pcblistHooks.push(() => vtw_pcblist(V));
  V.tcp.dropTimewaitHooks.push(() => vtw_drop_all(V));
}
