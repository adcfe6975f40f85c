/*
 * TCP timers (FreeBSD netinet/tcp_timer.c, FreeBSD 14 layout; RFC 6298, RFC 9293 §3.8,
 * RFC 1122 §4.2.3.6 keepalives, RFC 9293 §3.8.6.1 zero-window probes).
 *
 * Each connection has one callout and the due tick of each timer kind; tcp_timer_activate
 * sets or clears one kind and re-arms the callout for the earliest. When the callout fires,
 * tcp_timer_enter runs the kinds that are due, earliest first.
 *
 * Teardown race (the seed's NetBSD tcp_close() fix): when tcp_close() runs while the
 * connection's callout is already committed to run (INVOKING: it sits in the wheel's
 * expire batch for this tick), the callout cannot be stopped. tcp_close then marks the
 * tcpcb dead (TF2_DEAD) instead of freeing it, and tcp_timer_enter, finding it dead, frees
 * it and counts tcps_delayed_free. A tcpcb is never freed under a pending callout.
 *
 * Timer values (FreeBSD tcp_timer.h, in ms; converted to ticks):
 *   delayed ACK 40 ms (net.inet.tcp.delacktime); RTO initial 1 s, min 30 ms + 200 ms slop,
 *   max 64 s, backoff {1,2,4,...,512}, 12 retries; persist 5..60 s; keepinit 75 s; keepidle
 *   2 h; keepintvl 75 s; keepcnt 8; 2*MSL 60 s.
 */

import { ETIMEDOUT } from '../sys/errno.js';
import { SO_KEEPALIVE } from '../sys/socket.js';
import type { Vnet } from '../vnet.js';
import { CC_RTO } from './cc/cc.js';
import { cc_cong_signal } from './tcp_input.js';
import { tcp_output } from './tcp_output.js';
import { tcp_free_sackholes } from './tcp_sack.js';
import { tcp_close, tcp_drop, tcp_freecb, tcp_keepalive_probe } from './tcp_subr.js';
import {
  TCPS_CLOSE_WAIT,
  TCPS_CLOSING,
  TCPS_ESTABLISHED,
  TCPS_FIN_WAIT_2,
  TCPS_HAVEESTABLISHED,
  TCPS_SYN_RECEIVED,
  TCPS_SYN_SENT,
  TCPS_TIME_WAIT,
} from './tcp_fsm.js';
import {
  TCP_DELTA_SHIFT,
  TCP_MAXRXTSHIFT,
  TCP_RTT_SHIFT,
  tcp_backoff,
  tcp_totbackoff,
  type TcpCb,
  TF2_DEAD,
  TF_ACKNOW,
  TF_CONGRECOVERY,
  TF_FASTRECOVERY,
  TF_FORCEDATA,
  TF_PREVVALID,
  TF_RCVD_TSTMP,
  TF_REQ_SCALE,
  TF_REQ_TSTMP,
  TF_SACK_PERMIT,
  TF_WASCRECOVERY,
  TF_WASFRECOVERY,
  TT_2MSL,
  TT_DELACK,
  TT_KEEP,
  TT_N,
  TT_PERSIST,
  TT_REXMT,
} from './tcp_var.js';

/** Convert milliseconds to ticks of the Vnet's callout wheel. */
export function msToTicks(V: Vnet, ms: number): number {
  return Math.ceil((ms * 1e6) / V.callwheel.tickNs);
}

export function ticksToMs(V: Vnet, ticks: number): number {
  return (ticks * V.callwheel.tickNs) / 1e6;
}

/** TCPTV_REXMTMAX (64 s) in ticks. */
export function tcptv_rexmtmax(V: Vnet): number {
  return msToTicks(V, 64_000);
}

/**
 * The RTO from the RTT estimate (TCP_REXMTVAL): srtt + 4*rttvar, at least t_rttmin.
 * RFC 6298 §2.3.
 */
export function TCP_REXMTVAL(tp: TcpCb): number {
  return Math.max(tp.t_rttmin, ((tp.t_srtt >> (TCP_RTT_SHIFT - TCP_DELTA_SHIFT)) + tp.t_rttvar) >> TCP_DELTA_SHIFT);
}

/** TCPT_RANGESET: value plus net.inet.tcp.rexmit_slop, clamped to [min, max]. */
export function TCPT_RANGESET(V: Vnet, value: number, tvmin: number, tvmax: number): number {
  const tv = value + msToTicks(V, V.tcp.rexmit_slop);
  return tv < tvmin ? tvmin : Math.min(tv, tvmax);
}

export function TP_KEEPINIT(tp: TcpCb): number {
  return tp.t_keepinit || msToTicks(tp.t_vnet, tp.t_vnet.tcp.keepinit);
}
export function TP_KEEPIDLE(tp: TcpCb): number {
  return tp.t_keepidle || msToTicks(tp.t_vnet, tp.t_vnet.tcp.keepidle);
}
export function TP_KEEPINTVL(tp: TcpCb): number {
  return tp.t_keepintvl || msToTicks(tp.t_vnet, tp.t_vnet.tcp.keepintvl);
}
export function TP_KEEPCNT(tp: TcpCb): number {
  return tp.t_keepcnt || tp.t_vnet.tcp.keepcnt;
}
/** Total probe time before a keepalive gives up (TP_MAXIDLE). */
export function TP_MAXIDLE(tp: TcpCb): number {
  return TP_KEEPCNT(tp) * TP_KEEPINTVL(tp);
}

/** Is timer `which` armed? */
export function tcp_timer_active(tp: TcpCb, which: number): boolean {
  return tp.timerDue(which) !== 0;
}

/** Ticks until timer `which` fires (0 if not armed). */
export function tcp_timer_ticks_left(tp: TcpCb, which: number): number {
  const due = tp.timerDue(which);
  return due === 0 ? 0 : Math.max(0, due - tp.t_vnet.callwheel.ticks());
}

/** Arm timer `which` `delta` ticks from now, or stop it when delta is 0 (tcp_timer_activate). */
export function tcp_timer_activate(tp: TcpCb, which: number, delta: number): void {
  if (tp.t_flags2 & TF2_DEAD || tp.t_freed) return;
  const now = tp.t_vnet.callwheel.ticks();
  tp.setTimerDue(which, delta > 0 ? now + delta : 0);
  tcp_timer_rearm(tp, now);
}

/** Point the callout at the earliest armed timer. */
function tcp_timer_rearm(tp: TcpCb, now: number): void {
  // The earliest of the five (0 = off), read field by field.
  let due = Infinity;
  const d0 = tp.tt_delack;
  if (d0 !== 0) due = d0;
  const d1 = tp.tt_rexmt;
  if (d1 !== 0 && d1 < due) due = d1;
  const d2 = tp.tt_persist;
  if (d2 !== 0 && d2 < due) due = d2;
  const d3 = tp.tt_keep;
  if (d3 !== 0 && d3 < due) due = d3;
  const d4 = tp.tt_2msl;
  if (d4 !== 0 && d4 < due) due = d4;
  const c = tp.t_callout;
  if (due === Infinity) {
    if (c.pending()) c.stop();
    return;
  }
  // Skip the reschedule when the callout already fires then, or earlier: tcp_timer_enter
  // runs only the timers that are due and re-arms for the rest, so a callout that fires early
  // costs one wakeup where moving it on every ACK (the retransmit timer) costs a wheel
  // removal and insertion per segment.
  if (c.pending() && c.c_time <= due) return;
  c.reset(Math.max(0, due - now), tcp_timer_enter, tp);
}

/** Stop every timer (tcp_timer_stop). Returns false if the callout is invoking (race). */
export function tcp_timer_stop(tp: TcpCb): boolean {
  tp.timersClear();
  const c = tp.t_callout;
  if (c.pending()) {
    c.stop();
    return true;
  }
  return !c.invoking();
}

/** The single callout handler (tcp_timer_enter). */
function tcp_timer_enter(tp: TcpCb): void {
  const c = tp.t_callout;
  c.ack();
  if (tp.t_flags2 & TF2_DEAD) {
    // The connection was torn down while this callout was committed: free it here.
    const V = tp.t_vnet;
    V.tcp.stat.tcps_delayed_free++;
    tcp_freecb(tp);
    return;
  }
  if (tp.t_freed) return;
  const V = tp.t_vnet;
  const now = V.callwheel.ticks();
  // Run every due timer, earliest first; a handler may close the connection.
  for (;;) {
    let which = -1;
    let due = Infinity;
    for (let i = 0; i < TT_N; i++) {
      const d = tp.timerDue(i);
      if (d !== 0 && d <= now && d < due) {
        due = d;
        which = i;
      }
    }
    if (which < 0) break;
    tp.setTimerDue(which, 0);
    const alive = runTimer(tp, which);
    if (!alive || tp.t_freed || tp.t_flags2 & TF2_DEAD) return;
  }
  tcp_timer_rearm(tp, now);
}

function runTimer(tp: TcpCb, which: number): boolean {
  switch (which) {
    case TT_DELACK:
      return tcp_timer_delack(tp);
    case TT_REXMT:
      return tcp_timer_rexmt(tp);
    case TT_PERSIST:
      return tcp_timer_persist(tp);
    case TT_KEEP:
      return tcp_timer_keep(tp);
    case TT_2MSL:
      return tcp_timer_2msl(tp);
    default:
      return true;
  }
}

/** Delayed ACK timer: send the ACK we were holding. */
function tcp_timer_delack(tp: TcpCb): boolean {
  const V = tp.t_vnet;
  tp.t_flags |= TF_ACKNOW;
  V.tcp.stat.tcps_delack++;
  tcp_output(tp);
  return true;
}

/**
 * 2MSL timer: in TIME_WAIT the connection ends; in FIN_WAIT_2 (after close) it is dropped
 * once idle for TP_MAXIDLE (or at once with fast_finwait2_recycle when the receiver closed).
 */
function tcp_timer_2msl(tp: TcpCb): boolean {
  const V = tp.t_vnet;
  if (tp.t_state === TCPS_TIME_WAIT) {
    tcp_close(tp);
    return false;
  }
  const so = tp.t_inpcb.inp_socket;
  if (V.tcp.fast_finwait2_recycle && tp.t_state === TCPS_FIN_WAIT_2 && so !== null && so.so_rcv.sb_state & 0x20 /* SBS_CANTRCVMORE */) {
    V.tcp.stat.tcps_finwait2_drops++;
    tcp_close(tp);
    return false;
  }
  const idle = V.callwheel.ticks() - tp.t_rcvtime;
  if (idle <= TP_MAXIDLE(tp)) {
    tcp_timer_activate(tp, TT_2MSL, TP_KEEPINTVL(tp));
    return true;
  }
  if (tp.t_state === TCPS_FIN_WAIT_2) V.tcp.stat.tcps_finwait2_drops++;
  tcp_close(tp);
  return false;
}

/**
 * Keepalive timer (RFC 1122 §4.2.3.6): during the handshake it is the connection-setup
 * limit (keepinit); afterwards, with SO_KEEPALIVE or net.inet.tcp.always_keepalive, an idle
 * connection gets probes every keepintvl and is dropped after keepcnt unanswered ones.
 */
function tcp_timer_keep(tp: TcpCb): boolean {
  const V = tp.t_vnet;
  const st = V.tcp.stat;
  // tcp_input does not reset the keepalive callout on every segment (FreeBSD 13+): if the
  // connection has not been idle for keepidle yet, sleep for the remainder.
  if (TCPS_HAVEESTABLISHED(tp.t_state)) {
    const idletime = V.callwheel.ticks() - tp.t_rcvtime;
    const keepidle = TP_KEEPIDLE(tp);
    if (idletime < keepidle) {
      tcp_timer_activate(tp, TT_KEEP, keepidle - idletime);
      return true;
    }
  }
  st.tcps_keeptimeo++;
  if (tp.t_state < TCPS_ESTABLISHED) {
    st.tcps_keepdrops++;
    tcp_drop(tp, ETIMEDOUT);
    return false;
  }
  const so = tp.t_inpcb.inp_socket;
  if ((V.tcp.always_keepalive || (so !== null && so.so_options & SO_KEEPALIVE)) && tp.t_state <= TCPS_CLOSING) {
    const idle = V.callwheel.ticks() - tp.t_rcvtime;
    if (idle >= TP_KEEPIDLE(tp) + TP_MAXIDLE(tp)) {
      st.tcps_keepdrops++;
      tcp_drop(tp, ETIMEDOUT);
      return false;
    }
    st.tcps_keepprobe++;
    tp.t_keepalive_probes++;
    tcp_keepalive_probe(tp);
    tcp_timer_activate(tp, TT_KEEP, TP_KEEPINTVL(tp));
  } else {
    tcp_timer_activate(tp, TT_KEEP, TP_KEEPIDLE(tp));
  }
  return true;
}

/**
 * Persist timer (RFC 9293 §3.8.6.1): probe a zero window. After a full backoff the
 * connection is dropped if the peer stayed silent for the maximum persist idle time, and
 * sooner (TCPTV_PERSMAX) once the user has closed.
 */
function tcp_timer_persist(tp: TcpCb): boolean {
  const V = tp.t_vnet;
  const st = V.tcp.stat;
  st.tcps_persisttimeo++;
  const idle = V.callwheel.ticks() - tp.t_rcvtime;
  const maxpersistidle = msToTicks(V, V.tcp.keepidle);
  if (tp.t_rxtshift === TCP_MAXRXTSHIFT && (idle >= maxpersistidle || idle >= TCP_REXMTVAL(tp) * tcp_totbackoff)) {
    st.tcps_persistdrop++;
    tcp_drop(tp, ETIMEDOUT);
    return false;
  }
  if (tp.t_state > TCPS_CLOSE_WAIT && idle >= msToTicks(V, V.tcp.persmax)) {
    st.tcps_persistdrop++;
    tcp_drop(tp, ETIMEDOUT);
    return false;
  }
  tcp_setpersist(tp);
  tp.t_flags |= TF_FORCEDATA;
  tcp_output(tp);
  tp.t_flags &= ~TF_FORCEDATA;
  return true;
}

/** Start or restart the persist timer with backoff (tcp_setpersist). */
export function tcp_setpersist(tp: TcpCb): void {
  const V = tp.t_vnet;
  const t = ((tp.t_srtt >> 2) + tp.t_rttvar) >> 1;
  tp.t_flags &= ~TF_PREVVALID;
  const tt = TCPT_RANGESET(V, t * (tcp_backoff[tp.t_rxtshift] as number), msToTicks(V, V.tcp.persmin), msToTicks(V, V.tcp.persmax));
  tcp_timer_activate(tp, TT_PERSIST, tt);
  if (tp.t_rxtshift < TCP_MAXRXTSHIFT) tp.t_rxtshift++;
}

/**
 * Retransmission timer (RFC 6298 §5.4-5.7): back off, note the state needed to undo a
 * spurious timeout (RFC 3522-style, FreeBSD's "bad retransmit" detection), collapse the
 * congestion window (CC_RTO) and resend from snd_una. After TCP_MAXRXTSHIFT (12) backoffs
 * the connection is dropped with the last soft error or ETIMEDOUT.
 */
function tcp_timer_rexmt(tp: TcpCb): boolean {
  const V = tp.t_vnet;
  const st = V.tcp.stat;
  tcp_free_sackholes(tp);
  if (++tp.t_rxtshift > TCP_MAXRXTSHIFT) {
    tp.t_rxtshift = TCP_MAXRXTSHIFT;
    st.tcps_timeoutdrop++;
    tcp_drop(tp, tp.t_softerror || ETIMEDOUT);
    return false;
  }
  if (tp.t_state === TCPS_SYN_SENT) {
    // The SYN was retransmitted: cc_conn_init will start with one segment.
    tp.snd_cwnd = 1;
  } else if (tp.t_rxtshift === 1) {
    // First retransmit: remember cwnd/ssthresh in case it proves spurious.
    tp.snd_cwnd_prev = tp.snd_cwnd;
    tp.snd_ssthresh_prev = tp.snd_ssthresh;
    tp.snd_recover_prev = tp.snd_recover;
    if (tp.t_flags & TF_FASTRECOVERY) tp.t_flags |= TF_WASFRECOVERY;
    else tp.t_flags &= ~TF_WASFRECOVERY;
    if (tp.t_flags & TF_CONGRECOVERY) tp.t_flags |= TF_WASCRECOVERY;
    else tp.t_flags &= ~TF_WASCRECOVERY;
    if (!(tp.t_flags & TF_RCVD_TSTMP)) tp.t_badrxtwin = V.callwheel.ticks() + (tp.t_srtt >> (TCP_RTT_SHIFT + 1));
    tp.t_flags |= TF_PREVVALID;
  } else {
    tp.t_flags &= ~TF_PREVVALID;
  }
  st.tcps_rexmttimeo++;
  let rexmt: number;
  if (tp.t_state === TCPS_SYN_SENT || tp.t_state === TCPS_SYN_RECEIVED) {
    rexmt = msToTicks(V, V.tcp.rexmit_initial) * (tcp_backoff[tp.t_rxtshift] as number);
  } else {
    rexmt = TCP_REXMTVAL(tp) * (tcp_backoff[tp.t_rxtshift] as number);
  }
  tp.t_rxtcur = TCPT_RANGESET(V, rexmt, tp.t_rttmin, tcptv_rexmtmax(V));
  // Work around middleboxes that eat options: drop them from the third SYN retransmit.
  if (V.tcp.rexmit_drop_options && tp.t_state === TCPS_SYN_SENT && tp.t_rxtshift === 3) {
    tp.t_flags &= ~(TF_REQ_SCALE | TF_REQ_TSTMP | TF_SACK_PERMIT);
  }
  if (tp.t_rxtshift > TCP_MAXRXTSHIFT / 4) {
    // The route may be bad: drop the cached route so the next send looks it up again.
    tp.t_inpcb.inp_route.invalidate();
  }
  tp.snd_nxt = tp.snd_una;
  tp.snd_recover = tp.snd_max;
  tp.t_flags |= TF_ACKNOW;
  tp.t_rtttime = 0;
  cc_cong_signal(tp, CC_RTO);
  tcp_output(tp);
  return true;
}
