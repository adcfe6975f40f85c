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
 */

import { m_freem } from '../mbuf/mbuf.js';
import { soisdisconnected } from '../sys/socket.js';
import { TH_ACK, TH_FIN, TH_RST, TH_SYN, TOF_TS, type TcpOptsScratch } from '../wire/tcp.js';
import { TCPS_TIME_WAIT } from './tcp_fsm.js';
import type { TcpSeg } from './tcp_input.js';
import { tcp_output } from './tcp_output.js';
import { tcp_free_sackholes } from './tcp_sack.js';
import { SEQ_GT, TSTMP_GT } from './tcp_seq.js';
import { tcp_close, tcp_respond, tcp_state_change } from './tcp_subr.js';
import { msToTicks, tcp_timer_activate } from './tcp_timer.js';
import { type TcpCb, TF_ACKNOW, TF_RCVD_TSTMP, TT_2MSL, TT_DELACK, TT_KEEP, TT_PERSIST, TT_REXMT } from './tcp_var.js';

/** 2*MSL in ticks (net.inet.tcp.msl is in ms). */
export function tcp_2msl(tp: TcpCb): number {
  return 2 * msToTicks(tp.t_vnet, tp.t_vnet.tcp.msl);
}

/** Enter TIME_WAIT (tcp_twstart). */
export function tcp_twstart(tp: TcpCb): void {
  const inp = tp.t_inpcb;
  tcp_state_change(tp, TCPS_TIME_WAIT);
  tcp_free_sackholes(tp);
  if (inp.inp_socket !== null) soisdisconnected(inp.inp_socket);
  if (tp.t_flags & TF_ACKNOW) tcp_output(tp);
  if (tp.t_freed) return;
  tcp_timer_activate(tp, TT_REXMT, 0);
  tcp_timer_activate(tp, TT_PERSIST, 0);
  tcp_timer_activate(tp, TT_KEEP, 0);
  tcp_timer_activate(tp, TT_DELACK, 0);
  tcp_timer_activate(tp, TT_2MSL, tcp_2msl(tp));
}

/**
 * A segment for a connection in TIME_WAIT (tcp_twcheck). Returns true when the TIME_WAIT
 * was ended by an acceptable new SYN: the caller then looks for a listener. Consumes s.m
 * otherwise.
 */
export function tcp_twcheck(tp: TcpCb, to: TcpOptsScratch, s: TcpSeg): boolean {
  const V = tp.t_vnet;
  const st = V.tcp.stat;
  const thflags = s.thflags;
  const m = s.m;
  if (thflags & TH_RST) {
    m_freem(m);
    return false;
  }
  if (thflags & TH_SYN && thflags & TH_FIN && V.tcp.drop_synfin) {
    m_freem(m);
    return false;
  }
  // A new connection request (RFC 9293 §3.10.7.4 note; RFC 6191 §2 with timestamps).
  if ((thflags & (TH_SYN | TH_ACK)) === TH_SYN) {
    const tsNewer = tp.t_flags & TF_RCVD_TSTMP && to.flags & TOF_TS && TSTMP_GT(to.tsval, tp.ts_recent);
    if (SEQ_GT(s.th_seq, tp.rcv_nxt) || tsNewer) {
      tcp_close(tp);
      st.tcps_tw_recycles++;
      return true;
    }
  }
  if (!(thflags & TH_ACK)) {
    m_freem(m);
    return false;
  }
  // RFC 7323 §3.2: timestamps were negotiated but this segment has none.
  if (!(to.flags & TOF_TS) && tp.ts_recent !== 0 && !V.tcp.tolerate_missing_ts) {
    m_freem(m);
    return false;
  }
  // A retransmitted FIN: restart the 2*MSL wait.
  if (thflags & TH_FIN) {
    const seq = (s.th_seq + s.tlen + (thflags & TH_SYN ? 1 : 0)) >>> 0;
    if ((seq + 1) >>> 0 === tp.rcv_nxt) tcp_timer_activate(tp, TT_2MSL, tcp_2msl(tp));
  }
  // Acknowledge data and anything that is not an exact duplicate ACK.
  if (thflags !== TH_ACK || s.tlen !== 0 || s.th_seq !== tp.rcv_nxt || s.th_ack !== tp.snd_nxt) {
    tcp_respond(V, tp, m, s.off, s.isv6, tp.rcv_nxt, tp.snd_nxt, TH_ACK);
    st.tcps_tw_responds++;
  }
  m_freem(m);
  return false;
}
