/*
 * CUBIC congestion control (RFC 9438), as FreeBSD's netinet/cc/cc_cubic.c and cc_cubic.h
 * implement it since the RFC 9438 rework (FreeBSD 14.2 / 15).
 *
 * This file owns `cubic`, the immutable CcAlgo, its per-connection state CubicData (in
 * ccv.cc_data), and the window functions cubic_k() and cubic_cwnd(). FreeBSD computes K and
 * W_cubic in fixed point (CUBIC_SHIFT = 8: C = 102/256, beta = 179/256, fast-convergence
 * factor 217/256) and quantises C*(t-K)^3 to whole segments; bsdnet uses doubles with the
 * RFC's exact constants (C = 0.4, beta_cubic = 0.7, (1 + beta_cubic) / 2 = 0.85) and floors
 * every window to an integer number of bytes.
 *
 * Behaviour, following FreeBSD:
 *  - Slow start is NewReno's with ABC (RFC 3465) plus HyStart++ (RFC 9406), and it lasts
 *    while cwnd <= ssthresh or until the stack has taken CUBIC_MIN_RTT_SAMPLES (8) RTT
 *    samples (tp.t_rttupdated): CUBIC does not trust srtt before that.
 *  - A congestion-avoidance stage starts on the first cwnd-limited ACK after slow start, after
 *    a congestion event, or after an application-limited period (RFC 9438 §4.2, §5.8):
 *    t_epoch = now (Vnet ticks), cwnd_epoch = cwnd, K = cbrt((W_max - cwnd_epoch) / C)
 *    in segments (0 when W_max <= cwnd_epoch); after an RTO, W_max = cwnd and K = 0
 *    (RFC 9438 §4.8).
 *  - Each such ACK computes W_cubic(t + RTT) = C (t + RTT - K)^3 + W_max (RFC 9438 §4.2,
 *    Figure 1; RTT = the mean srtt of the previous epoch) and the Reno-friendly estimate
 *    W_est, which in FreeBSD is NewReno's congestion-avoidance step from the current cwnd
 *    (one MSS per cwnd of bytes acked, RFC 9438 §4.3). If W_cubic < W_est, cwnd = W_est
 *    (Reno-friendly region); otherwise cwnd grows by (target - cwnd) / cwnd MSS with target
 *    = W_cubic clamped to [cwnd, 1.5 cwnd] (RFC 9438 §4.4, §4.5).
 *  - On loss or ECN (RFC 9438 §4.6, §4.7): W_max = cwnd, or cwnd * (1 + beta) / 2 when cwnd
 *    is below the previous W_max (fast convergence); ssthresh = max(pipe * beta, 2 MSS) — or
 *    NewReno's multiplicative decrease (net.inet.tcp.cc.newreno.beta) while in the
 *    Reno-friendly region. ECN also sets cwnd = max(that, 1 MSS), once per window. When fast
 *    recovery ends, cwnd = max(W_max * beta, 2 MSS), or pipe + MSS if pipe is below ssthresh
 *    (RFC 6582 §3.2 step 3).
 *  - RTO (RFC 9438 §4.8): on the first timeout remember t_epoch, cwnd_epoch, W_max and K for
 *    an undo, ssthresh = max(2, min(snd_wnd, pipe) * beta / MSS) segments, cwnd = 1 MSS.
 *    CC_RTO_ERR (spurious timeout, RFC 9438 §4.9) restores them (the stack restores cwnd and
 *    ssthresh).
 *  - After idle (RFC 9438 §5.8): W_max = max(W_max, cwnd), K recomputed, HyStart++ re-enabled,
 *    NewReno's RFC 5681 §4.1 restart window, and t_epoch = now.
 *
 * conn_init (called by the stack after it set snd_cwnd to the initial window) sets W_max to
 * "infinity" (UINT_MAX), as FreeBSD does: until the first congestion event, congestion
 * avoidance (reached through a host-cache ssthresh or HyStart++) climbs the concave side of a
 * curve with an unbounded plateau, limited by the 1.5x-per-RTT clamp.
 *
 * Deviations, each deliberate: the Reno-friendly flag (CUBICFLAG_IN_TF) is cleared when an
 * ACK falls in the CUBIC region (FreeBSD never clears it, which would make every later
 * reduction NewReno's 0.5 instead of RFC 9438 §4.6's 0.7); elapsed time saturates at INT_MAX
 * µs as FreeBSD's does, but W_cubic is clamped to [0, 2^32 - 1] instead of wrapping.
 */

import { TF_CONGRECOVERY, TF_FASTRECOVERY, TCP_RTT_SCALE } from '../tcp_var.js';
import {
  CC_ACK,
  CC_ECN,
  CC_NDUPACK,
  CC_RTO,
  CC_RTO_ERR,
  type CcAlgo,
  type CcVar,
  CCF_ABC_SENTAWND,
  CCF_CWND_LIMITED,
  CCF_USE_LOCAL_ABC,
  IN_CONGRECOVERY,
  IN_FASTRECOVERY,
  IN_RECOVERY,
  newreno_cc_after_idle,
  tcp_compute_pipe,
  tcp_maxseg,
} from './cc.js';
import {
  type HystartBits,
  HystartState,
  hystart_css_incr,
  hystart_disable,
  hystart_newround,
  hystart_reenable,
  hystart_rttsample,
  hystart_slipped_into_ca,
  hystart_ss_check,
  tcp_maxwin,
} from './cc_newreno.js';

/** C, the cubic scaling constant (RFC 9438 §4.2, §5.1): 0.4 segments / s^3. */
export const CUBIC_C = 0.4;
/** beta_cubic, the multiplicative decrease factor (RFC 9438 §4.6). */
export const CUBIC_BETA = 0.7;
/** Fast convergence factor (1 + beta_cubic) / 2 (RFC 9438 §4.7). */
export const CUBIC_FC_FACTOR = (1 + CUBIC_BETA) / 2;

/** floor(bytes * beta_cubic), exactly (7/10 in integers: 0.7 is not a binary fraction). */
export function cubic_beta_mul(bytes: number): number {
  return Math.floor((bytes * 7) / 10);
}

/** floor(bytes * (1 + beta_cubic) / 2), exactly (17/20). */
function cubic_fc_mul(bytes: number): number {
  return Math.floor((bytes * 17) / 20);
}
/** Don't trust srtt until this many RTT samples have been taken. */
export const CUBIC_MIN_RTT_SAMPLES = 8;
/** tcp_timer.h: the "no RTT measured yet" value of min_rtt_usecs. */
const TCPTV_SRTTBASE = 0;
const INT_MAX = 0x7fffffff;
const UINT_MAX = 0xffffffff;
/** |t - K| beyond which FreeBSD's fixed-point cube overflows: 448845 / 2^8 s. */
const CUBED_ROOT_MAX_SECONDS = 448845 / 256;

// Flags in CubicData.flags (cc_cubic.h).
export const CUBICFLAG_CONG_EVENT = 0x00000001; // congestion experienced
export const CUBICFLAG_IN_SLOWSTART = 0x00000002; // in slow start
export const CUBICFLAG_IN_APPLIMIT = 0x00000004; // application limited
export const CUBICFLAG_RTO_EVENT = 0x00000008; // RTO experienced
export const CUBICFLAG_HYSTART_ENABLED = 0x00000010; // HyStart++ is enabled
export const CUBICFLAG_HYSTART_IN_CSS = 0x00000020; // in HyStart++ CSS
export const CUBICFLAG_IN_TF = 0x00000040; // in the TCP-friendly (Reno-friendly) region

const CUBIC_HYSTART: HystartBits = Object.freeze({ enabled: CUBICFLAG_HYSTART_ENABLED, inCss: CUBICFLAG_HYSTART_IN_CSS });

/** CUBIC's per-connection state (struct cubic). Windows are bytes, K is seconds. */
export class CubicData extends HystartState {
  /** Time (s) to climb from cwnd_epoch back to W_max (RFC 9438 §4.2 Figure 2). */
  K = 0;
  /** Sum of srtt samples (µs) over the current epoch. */
  sum_rtt_usecs = 0;
  /**
   * cwnd just before the last reduction, after fast convergence (RFC 9438 §4.7). Stored
   * with -1 for UINT_MAX ("infinite", set by conn_init), which V8 would box as a heap number.
   */
  private _W_max = 0;
  get W_max(): number {
    const v = this._W_max;
    return v === -1 ? UINT_MAX : v;
  }
  set W_max(v: number) {
    this._W_max = v === UINT_MAX ? -1 : v;
  }
  /** Last Reno-friendly estimate (RFC 9438 §4.3). */
  W_est = 0;
  /** Last W_cubic(t + RTT) computed (RFC 9438 §4.2). */
  W_cubic = 0;
  /** cwnd at the start of the current congestion-avoidance stage. */
  cwnd_epoch = 0;
  /** Smallest srtt seen (µs); TCPTV_SRTTBASE (0) until CUBIC_MIN_RTT_SAMPLES samples. */
  min_rtt_usecs = TCPTV_SRTTBASE;
  /** Mean srtt (µs) over the previous congestion epoch: the RTT in W_cubic(t + RTT). */
  mean_rtt_usecs = 1;
  /** ACKs counted into sum_rtt_usecs. */
  epoch_ack_count = 0;
  /** Tick at which the current congestion-avoidance stage started. */
  t_epoch = 0;
  // State saved at the first RTO, restored by CC_RTO_ERR.
  undo_t_epoch = 0;
  undo_K = 0;
  undo_W_max = 0;
  undo_cwnd_epoch = 0;
}

/**
 * K in seconds (RFC 9438 §4.2 Figure 2): cbrt((W_max - cwnd_epoch) / C), both in whole
 * segments as FreeBSD passes them; 0 when W_max <= cwnd_epoch.
 */
export function cubic_k(wmaxSegs: number, cwndEpochSegs: number): number {
  if (wmaxSegs <= cwndEpochSegs) return 0;
  return Math.cbrt((wmaxSegs - cwndEpochSegs) / CUBIC_C);
}

/**
 * W_cubic(t) in bytes (RFC 9438 §4.2 Figure 1): C (t - K)^3 segments above W_max, with t
 * the elapsed time in µs. Floored to whole bytes and kept within [0, 2^32 - 1]; like FreeBSD,
 * INT_MAX when (t - K) is too large and 0 when it is too negative for its fixed point.
 */
export function cubic_cwnd(usecsSinceEpoch: number, wmax: number, smss: number, K: number): number {
  const d = usecsSinceEpoch / 1e6 - K;
  if (d > CUBED_ROOT_MAX_SECONDS) return INT_MAX;
  if (d < -CUBED_ROOT_MAX_SECONDS) return 0;
  const w = Math.floor(CUBIC_C * d * d * d * smss + wmax);
  return Math.min(Math.max(w, 0), UINT_MAX);
}

function cdata(ccv: CcVar): CubicData {
  return ccv.cc_data as CubicData;
}

/** Microseconds per tick of the connection's Vnet (FreeBSD's `tick`). */
function tickUsecs(ccv: CcVar): number {
  return ccv.tp.t_vnet.callwheel.tickNs / 1000;
}

function cubic_cb_init(ccv: CcVar, ptr: unknown): number {
  const d = ptr instanceof CubicData ? ptr : new CubicData();
  d.t_epoch = 0;
  d.cwnd_epoch = 0;
  d.K = 0;
  d.min_rtt_usecs = TCPTV_SRTTBASE;
  d.mean_rtt_usecs = 1;
  d.hystartInit(CUBICFLAG_HYSTART_ENABLED);
  ccv.cc_data = d;
  return 0;
}

function cubic_cb_destroy(ccv: CcVar): void {
  ccv.cc_data = null;
}

/**
 * Record the min RTT and sum samples for the epoch average (cubic_record_rtt). srtt is read
 * in µs as FreeBSD's tcp_get_srtt() does: (t_srtt * tick) >> TCP_RTT_SHIFT. The minimum is
 * never below one unshifted tick >> TCP_RTT_SHIFT (FreeBSD's min_rtt floor).
 */
function cubic_record_rtt(ccv: CcVar): void {
  const tp = ccv.tp;
  if (tp.t_rttupdated < CUBIC_MIN_RTT_SAMPLES) return;
  const d = cdata(ccv);
  const tick = tickUsecs(ccv);
  const t_srtt_usecs = Math.floor((tp.t_srtt * tick) / TCP_RTT_SCALE);
  if (t_srtt_usecs < d.min_rtt_usecs || d.min_rtt_usecs === TCPTV_SRTTBASE) {
    d.min_rtt_usecs = Math.max(Math.floor(tick / TCP_RTT_SCALE), t_srtt_usecs);
    // Within the first epoch, prime the mean with the minimum until post_recovery computes it.
    if (d.min_rtt_usecs > d.mean_rtt_usecs) d.mean_rtt_usecs = d.min_rtt_usecs;
  }
  d.sum_rtt_usecs += t_srtt_usecs;
  d.epoch_ack_count++;
}

/** Slow start: NewReno's ABC rule (RFC 3465 §2.2) with HyStart++ (RFC 9406). */
function cubic_does_slow_start(ccv: CcVar, d: CubicData): void {
  const tp = ccv.tp;
  const V = tp.t_vnet;
  const cw = tp.snd_cwnd;
  const mss = tcp_maxseg(tp);
  d.flags |= CUBICFLAG_IN_SLOWSTART;
  const abc_val = ccv.flags & CCF_USE_LOCAL_ABC ? ccv.labc : V.tcp.abc_l_var;
  hystart_ss_check(ccv, d, CUBIC_HYSTART);
  // At most one MSS per ACK while retransmitting after an RTO (snd_nxt != snd_max).
  let incr = tp.snd_nxt === tp.snd_max ? Math.min(ccv.bytes_this_ack, ccv.nsegs * abc_val * mss) : Math.min(ccv.bytes_this_ack, mss);
  incr = hystart_css_incr(ccv, d, CUBIC_HYSTART, incr);
  if (incr > 0) tp.snd_cwnd = Math.min(cw + incr, tcp_maxwin(tp));
}

/**
 * NewReno's congestion-avoidance step from the current cwnd (newreno_cc_cwnd_in_cong_avoid,
 * FreeBSD's tf_cwnd): one MSS per cwnd of bytes acked with ABC, else MSS^2/cwnd per ACK.
 * Consumes CCF_ABC_SENTAWND.
 */
function tf_cwnd(ccv: CcVar): number {
  const tp = ccv.tp;
  const cw = tp.snd_cwnd;
  let incr = tcp_maxseg(tp);
  if (tp.t_vnet.tcp.do_rfc3465) {
    if (ccv.flags & CCF_ABC_SENTAWND) ccv.flags &= ~CCF_ABC_SENTAWND;
    else incr = 0;
  } else {
    incr = Math.max(Math.floor((incr * incr) / cw), 1);
  }
  return incr > 0 ? Math.min(cw + incr, tcp_maxwin(tp)) : cw;
}

function cubic_ack_received(ccv: CcVar, type: number): void {
  const tp = ccv.tp;
  const d = cdata(ccv);
  const mss = tcp_maxseg(tp);
  const cwin = tp.snd_cwnd;
  cubic_record_rtt(ccv);
  if (type !== CC_ACK || IN_RECOVERY(tp)) return;
  if (!(ccv.flags & CCF_CWND_LIMITED)) {
    // RFC 9438 §5.8: remember the application-limited period; the next cwnd-limited ACK
    // starts a new epoch so cwnd does not jump along a curve it did not use.
    d.flags |= CUBICFLAG_IN_APPLIMIT;
    return;
  }
  if (cwin <= tp.snd_ssthresh || d.min_rtt_usecs === TCPTV_SRTTBASE) {
    cubic_does_slow_start(ccv, d);
    return;
  }
  hystart_slipped_into_ca(d, CUBIC_HYSTART);
  const ticks = tp.t_vnet.callwheel.ticks();
  if (d.flags & (CUBICFLAG_IN_SLOWSTART | CUBICFLAG_CONG_EVENT | CUBICFLAG_IN_APPLIMIT)) {
    // A congestion-avoidance stage begins (RFC 9438 §4.2): after slow start, after a
    // congestion event, or after an application-limited period.
    d.t_epoch = ticks;
    d.cwnd_epoch = cwin;
    d.K = cubic_k(Math.floor(d.W_max / mss), Math.floor(d.cwnd_epoch / mss));
    d.flags &= ~(CUBICFLAG_IN_SLOWSTART | CUBICFLAG_CONG_EVENT | CUBICFLAG_IN_APPLIMIT);
    if (d.flags & CUBICFLAG_RTO_EVENT) {
      // RFC 9438 §4.8: after a timeout the curve restarts at the current window.
      d.flags &= ~CUBICFLAG_RTO_EVENT;
      d.W_max = cwin;
      d.K = 0;
    }
  }
  // Elapsed time saturates where FreeBSD's int microseconds would overflow.
  const usecs_since_epoch = Math.min((ticks - d.t_epoch) * tickUsecs(ccv), INT_MAX);
  const W_est = tf_cwnd(ccv);
  // The epoch's mean RTT best reflects the RFC's W_cubic(t + RTT).
  const W_cubic = cubic_cwnd(usecs_since_epoch + d.mean_rtt_usecs, d.W_max, mss, d.K);
  d.W_est = W_est;
  d.W_cubic = W_cubic;
  if (W_cubic < W_est) {
    // RFC 9438 §4.3: Reno-friendly region.
    tp.snd_cwnd = W_est;
    d.flags |= CUBICFLAG_IN_TF;
  } else {
    // RFC 9438 §4.4, §4.5: concave or convex region; target within [cwnd, 1.5 cwnd].
    d.flags &= ~CUBICFLAG_IN_TF;
    let target: number;
    if (W_cubic < cwin) target = cwin;
    else if (W_cubic > Math.floor((cwin * 3) / 2)) target = Math.floor((cwin * 3) / 2);
    else target = W_cubic;
    const incr = Math.floor(((target - cwin) / cwin) * mss);
    tp.snd_cwnd = Math.min(cwin + incr, tcp_maxwin(tp));
  }
}

/**
 * ssthresh for a congestion event (cubic_get_ssthresh), updating W_max with fast
 * convergence (RFC 9438 §4.7). In the Reno-friendly region FreeBSD follows NewReno's
 * decrease (newreno_cc_cwnd_on_multiplicative_decrease, global newreno beta); otherwise
 * ssthresh = flight size * beta_cubic (RFC 9438 §4.6).
 */
function cubic_get_ssthresh(ccv: CcVar, mss: number): number {
  const tp = ccv.tp;
  const d = cdata(ccv);
  let cwnd = tp.snd_cwnd;
  if (cwnd < d.W_max) cwnd = cubic_fc_mul(cwnd);
  d.W_max = cwnd;
  if (d.flags & CUBICFLAG_IN_TF) {
    return Math.max(Math.floor((tp.snd_cwnd * tp.t_vnet.cc.newreno_beta) / (100 * mss)), 2) * mss;
  }
  return cubic_beta_mul(Math.max(tcp_compute_pipe(tp), 0));
}

function cubic_cong_signal(ccv: CcVar, type: number): void {
  const tp = ccv.tp;
  const d = cdata(ccv);
  const mss = tcp_maxseg(tp);
  switch (type) {
    case CC_NDUPACK:
      hystart_disable(d, CUBIC_HYSTART);
      if (!IN_FASTRECOVERY(tp)) {
        if (!IN_CONGRECOVERY(tp)) {
          tp.snd_ssthresh = Math.max(cubic_get_ssthresh(ccv, mss), 2 * mss);
          // K is recomputed when the next congestion-avoidance stage begins.
          d.flags |= CUBICFLAG_CONG_EVENT;
        }
        tp.t_flags |= TF_FASTRECOVERY | TF_CONGRECOVERY; // ENTER_RECOVERY
      }
      break;
    case CC_ECN:
      // Once per window of data (RFC 3168 §6.1.2; RFC 9438 §4.6 applies beta to ECN too).
      hystart_disable(d, CUBIC_HYSTART);
      if (!IN_CONGRECOVERY(tp)) {
        const ssthresh = cubic_get_ssthresh(ccv, mss);
        tp.snd_ssthresh = Math.max(ssthresh, 2 * mss);
        tp.snd_cwnd = Math.max(ssthresh, mss);
        d.flags |= CUBICFLAG_CONG_EVENT;
        tp.t_flags |= TF_CONGRECOVERY; // ENTER_CONGRECOVERY
      }
      break;
    case CC_RTO:
      // RFC 9438 §4.8: remember the state of the last congestion-avoidance stage at the
      // first timeout, so a spurious one (§4.9) can be undone.
      if (tp.t_rxtshift === 1) {
        d.undo_t_epoch = d.t_epoch;
        d.undo_cwnd_epoch = d.cwnd_epoch;
        d.undo_W_max = d.W_max;
        d.undo_K = d.K;
        const pipe = Math.max(tcp_compute_pipe(tp), 0);
        tp.snd_ssthresh = Math.max(2, Math.floor(cubic_beta_mul(Math.min(tp.snd_wnd, pipe)) / mss)) * mss;
      }
      // W_max and K are reset when congestion avoidance resumes.
      d.flags |= CUBICFLAG_CONG_EVENT | CUBICFLAG_RTO_EVENT;
      tp.snd_cwnd = mss;
      break;
    case CC_RTO_ERR:
      d.flags &= ~CUBICFLAG_RTO_EVENT;
      d.K = d.undo_K;
      d.W_max = d.undo_W_max;
      d.cwnd_epoch = d.undo_cwnd_epoch;
      d.t_epoch = d.undo_t_epoch;
      break;
    default:
      break;
  }
}

/**
 * The stack has set snd_cwnd to the initial window. W_max starts "infinite" (FreeBSD:
 * UINT_MAX, so host-cache entries do not pin a bogus plateau).
 */
function cubic_conn_init(ccv: CcVar): void {
  cdata(ccv).W_max = UINT_MAX;
}

/**
 * Leaving fast recovery: cwnd = pipe + MSS (at least 2 MSS) if less than ssthresh is in
 * flight (RFC 6582 §3.2 step 3, no burst), else max(W_max * beta_cubic, 2 MSS). Either way
 * the mean RTT of the ending epoch becomes the RTT used by W_cubic(t + RTT).
 */
function cubic_post_recovery(ccv: CcVar): void {
  const tp = ccv.tp;
  const d = cdata(ccv);
  const mss = tcp_maxseg(tp);
  if (IN_FASTRECOVERY(tp)) {
    const pipe = Math.max(tcp_compute_pipe(tp), 0);
    if (pipe < tp.snd_ssthresh) tp.snd_cwnd = Math.max(pipe, mss) + mss;
    else tp.snd_cwnd = Math.max(cubic_beta_mul(d.W_max), 2 * mss);
  }
  if (d.epoch_ack_count > 0 && d.sum_rtt_usecs >= d.epoch_ack_count) {
    d.mean_rtt_usecs = Math.floor(d.sum_rtt_usecs / d.epoch_ack_count);
  }
  d.epoch_ack_count = 0;
  d.sum_rtt_usecs = 0;
}

function cubic_after_idle(ccv: CcVar): void {
  const tp = ccv.tp;
  const d = cdata(ccv);
  const mss = tcp_maxseg(tp);
  d.W_max = Math.max(d.W_max, tp.snd_cwnd);
  d.K = cubic_k(Math.floor(d.W_max / mss), Math.floor(d.cwnd_epoch / mss));
  hystart_reenable(d, CUBIC_HYSTART);
  newreno_cc_after_idle(ccv);
  d.t_epoch = tp.t_vnet.callwheel.ticks();
}

function cubic_rttsample(ccv: CcVar, usecRtt: number, rxtcnt: number, fas: number): void {
  hystart_rttsample(ccv, cdata(ccv), CUBIC_HYSTART, usecRtt, rxtcnt, fas);
}

function cubic_newround(ccv: CcVar, roundCnt: number): void {
  hystart_newround(ccv, cdata(ccv), CUBIC_HYSTART, roundCnt);
}

/** FreeBSD's cubic_cc_algo. */
export const cubic: CcAlgo = Object.freeze({
  name: 'cubic',
  cb_init: cubic_cb_init,
  cb_destroy: cubic_cb_destroy,
  conn_init: cubic_conn_init,
  ack_received: cubic_ack_received,
  cong_signal: cubic_cong_signal,
  post_recovery: cubic_post_recovery,
  after_idle: cubic_after_idle,
  rttsample: cubic_rttsample,
  newround: cubic_newround,
});
