/*
 * NewReno congestion control (FreeBSD netinet/cc/cc_newreno.c), and the HyStart++ slow-start
 * machinery (RFC 9406) that FreeBSD's newreno and cubic modules share, with its
 * net.inet.tcp.cc.hystartplusplus.* tunables (declared in FreeBSD's cc.c).
 *
 * This file owns:
 *  - `newreno`, the immutable CcAlgo: RFC 5681 slow start and congestion avoidance with
 *    RFC 3465 Appropriate Byte Counting (L = net.inet.tcp.abc_l_var, nsegs-aware), a
 *    multiplicative decrease by net.inet.tcp.cc.newreno.beta (50 %) on loss and
 *    beta_ecn (80 %) on ECN when net.inet.tcp.cc.abe is on (RFC 8511), the RFC 6582 §3.2
 *    step 3 deflation at the end of recovery, the RFC 5681 §4.1 restart window after idle,
 *    and HyStart++ driven by the TCP stack through rttsample()/newround().
 *  - NewrenoData, the per-connection state kept in ccv.cc_data.
 *  - HystartVars (the per-Vnet tunables, hung off V.cc as `hystart`), registerHystartSysctls()
 *    and the hystart_* helpers cubic reuses.
 *
 * Connection start (FreeBSD cc_conn_init() in tcp_input.c, which the TCP side performs): TCP
 * sets snd_ssthresh (TCP_MAXWIN << TCP_MAX_WINSHIFT, or the host cache's value, at least 2 MSS),
 * then snd_cwnd = one MSS if the SYN or SYN-ACK was retransmitted (snd_cwnd === 1 marker) and
 * tcp_compute_initwnd(tcp_maxseg(tp)) otherwise, and only then calls algo.conn_init. Like
 * FreeBSD's, this module has no conn_init: it needs nothing beyond cb_init, and it never
 * initialises cwnd itself.
 *
 * HyStart++ is inert unless the TCP stack sets CCF_HYSTART_ALLOWED in ccv.flags and reports
 * RTT samples (rttsample: µs, retransmit count, flight size at send) and round starts
 * (newround). FreeBSD's default stack does neither (RACK and BBR do); the black-box log
 * events (hystartplusplus.bblogs) are not implemented: the sysctl refuses anything but 0.
 */

import type { Vnet } from '../../vnet.js';
import { TF_CONGRECOVERY, TF_FASTRECOVERY, type TcpCb } from '../tcp_var.js';
import {
  CC_ACK,
  CC_ECN,
  CC_NDUPACK,
  CC_RTO,
  type CcAlgo,
  type CcVar,
  CCF_ABC_SENTAWND,
  CCF_CWND_LIMITED,
  CCF_HYSTART_ALLOWED,
  CCF_HYSTART_CAN_SH_CWND,
  CCF_HYSTART_CONS_SSTH,
  CCF_USE_LOCAL_ABC,
  IN_CONGRECOVERY,
  IN_FASTRECOVERY,
  IN_RECOVERY,
  newreno_cc_after_idle,
  newreno_cc_post_recovery,
  tcp_compute_pipe,
  tcp_maxseg,
} from './cc.js';
import { field } from '../../kern/kern_sysctl.js';

/** Largest unscaled window (tcp.h); cwnd never exceeds TCP_MAXWIN << snd_scale. */
export const TCP_MAXWIN = 65535;
/** "Infinity" for HyStart++ RTT minima (FreeBSD uses 0xffffffff). */
export const HYSTART_NO_RTT = 0xffffffff;

const ENOPROTOOPT = 42;
const EINVAL = 22;

/** The cwnd ceiling FreeBSD applies on every increase: TCP_MAXWIN << snd_scale (no 32-bit wrap). */
export function tcp_maxwin(tp: TcpCb): number {
  return TCP_MAXWIN << tp.snd_scale;
}

// ---------------------------------------------------------------------------------------
// HyStart++ (RFC 9406) as FreeBSD implements it in cc_newreno.c and cc_cubic.c.
// ---------------------------------------------------------------------------------------

/** net.inet.tcp.cc.hystartplusplus.* (FreeBSD cc.c), per Vnet here. */
export class HystartVars {
  /** Lower clamp of the RTT increase threshold, µs (RFC 9406 §4.3 MIN_RTT_THRESH = 4 ms). */
  minrtt_thresh = 4000;
  /** Upper clamp, µs (RFC 9406 §4.3 MAX_RTT_THRESH = 16 ms). */
  maxrtt_thresh = 16000;
  /** RTT samples needed in a round before deciding (RFC 9406 §4.3 N_RTT_SAMPLE = 8). */
  n_rttsamples = 8;
  /** Growth divisor in Conservative Slow Start (RFC 9406 §4.3 CSS_GROWTH_DIVISOR = 4). */
  css_growth_div = 4;
  /** Rounds spent in CSS before entering congestion avoidance (RFC 9406 §4.3 CSS_ROUNDS = 5). */
  css_rounds = 5;
  /** Emit black-box log events: not implemented, so only 0 is accepted. */
  bblogs = 0;
}

/** Defaults used when registerHystartSysctls() has not run for the Vnet. */
const HYSTART_DEFAULTS: Readonly<HystartVars> = Object.freeze(new HystartVars());

declare module './cc.js' {
  interface CcVars {
    /** HyStart++ tunables (net.inet.tcp.cc.hystartplusplus.*), set by registerHystartSysctls(). */
    hystart?: HystartVars;
  }
}

/** The HyStart++ tunables in force for a Vnet. */
export function hystartVars(V: Vnet): Readonly<HystartVars> {
  return V.cc?.hystart ?? HYSTART_DEFAULTS;
}

/**
 * Declare net.inet.tcp.cc.hystartplusplus.* on V (FreeBSD's SYSCTL_UINTs in cc.c) and attach
 * the backing HystartVars to V.cc. Idempotent; returns the tunables.
 */
export function registerHystartSysctls(V: Vnet): HystartVars {
  const cc = V.cc;
  if (cc.hystart) return cc.hystart;
  const h = new HystartVars();
  cc.hystart = h;
  const s = V.sysctl;
  s.node('net.inet.tcp.cc.hystartplusplus', 'New Reno related HyStart++ settings');
  const uint = (leaf: keyof HystartVars, descr: string) =>
    s.int(
      `net.inet.tcp.cc.hystartplusplus.${leaf}`,
      {
        get: () => h[leaf],
        set: (v) => {
          h[leaf] = v;
        },
      },
      { descr, unsigned: true },
    );
  uint('minrtt_thresh', 'HyStarts++ minimum RTT thresh used in clamp (in microseconds)');
  uint('maxrtt_thresh', 'HyStarts++ maximum RTT thresh used in clamp (in microseconds)');
  uint('n_rttsamples', 'The number of RTT samples that must be seen to consider HyStart++');
  s.int(
    'net.inet.tcp.cc.hystartplusplus.css_growth_div',
    field(h, 'css_growth_div'),
    // FreeBSD accepts 0 and then divides by it; refuse it instead.
    { descr: 'The divisor to the growth when in Hystart++ CSS', unsigned: true, min: 1 },
  );
  uint('css_rounds', 'The number of rounds HyStart++ lasts in CSS before falling to CA');
  s.int('net.inet.tcp.cc.hystartplusplus.bblogs', field(h, 'bblogs'), {
    descr: 'Do we enable HyStart++ Black Box logs to be generated if BB logging is on',
    unsigned: true,
    check: (v) => (v === 0 ? null : 'HyStart++ black-box log events are not implemented in bsdnet (only 0)'),
  });
  return h;
}

/**
 * Per-connection HyStart++ state (the css_* members of FreeBSD's struct newreno / struct
 * cubic). RTTs are µs; rounds are the stack's round counter.
 */
export class HystartState {
  /** Module flag word; each module numbers its own bits (see HystartBits). */
  flags = 0;
  // The three RTT minima hold HYSTART_NO_RTT (0xffffffff) until measured. That is not a small
  // integer, so V8 would box each as a heap number in every connection: store -1 instead.
  private _css_baseline_minrtt = -1;
  private _css_current_round_minrtt = -1;
  private _css_lastround_minrtt = -1;
  css_rttsample_count = 0;
  css_entered_at_round = 0;
  css_current_round = 0;
  /** Flight size when CSS was entered. */
  css_fas_at_css_entry = 0;
  /** Flight size when the round's lowest RTT was sampled. */
  css_lowrtt_fas = 0;
  /** Flight size of the latest sample. */
  css_last_fas = 0;

  get css_baseline_minrtt(): number {
    const v = this._css_baseline_minrtt;
    return v === -1 ? HYSTART_NO_RTT : v;
  }
  set css_baseline_minrtt(v: number) {
    this._css_baseline_minrtt = v === HYSTART_NO_RTT ? -1 : v;
  }
  get css_current_round_minrtt(): number {
    const v = this._css_current_round_minrtt;
    return v === -1 ? HYSTART_NO_RTT : v;
  }
  set css_current_round_minrtt(v: number) {
    this._css_current_round_minrtt = v === HYSTART_NO_RTT ? -1 : v;
  }
  get css_lastround_minrtt(): number {
    const v = this._css_lastround_minrtt;
    return v === -1 ? HYSTART_NO_RTT : v;
  }
  set css_lastround_minrtt(v: number) {
    this._css_lastround_minrtt = v === HYSTART_NO_RTT ? -1 : v;
  }

  /** Reset to the state FreeBSD's cb_init leaves (both minima "infinite"). */
  hystartInit(enabledBit: number): void {
    this.flags = enabledBit;
    this.css_lastround_minrtt = HYSTART_NO_RTT;
    this.css_current_round_minrtt = HYSTART_NO_RTT;
    this.css_current_round = 0;
    this.css_baseline_minrtt = HYSTART_NO_RTT;
    this.css_rttsample_count = 0;
    this.css_entered_at_round = 0;
    this.css_fas_at_css_entry = 0;
    this.css_lowrtt_fas = 0;
    this.css_last_fas = 0;
  }
}

/** Which flag bits a module uses for "HyStart++ enabled" and "in CSS". */
export interface HystartBits {
  readonly enabled: number;
  readonly inCss: number;
}

/**
 * In slow start, before computing the increase: decide whether to enter Conservative Slow
 * Start (RFC 9406 §4.2: once N_RTT_SAMPLE samples are in, enter CSS when
 * currentRoundMinRTT >= lastRoundMinRTT + clamp(lastRoundMinRTT / 8, MIN_RTT_THRESH,
 * MAX_RTT_THRESH)).
 */
export function hystart_ss_check(ccv: CcVar, hs: HystartState, bits: HystartBits): void {
  if (!(ccv.flags & CCF_HYSTART_ALLOWED) || !(hs.flags & bits.enabled) || hs.flags & bits.inCss) return;
  const h = hystartVars(ccv.tp.t_vnet);
  if (hs.css_rttsample_count >= h.n_rttsamples && hs.css_current_round_minrtt !== HYSTART_NO_RTT && hs.css_lastround_minrtt !== HYSTART_NO_RTT) {
    let rtt_thresh = hs.css_lastround_minrtt >>> 3;
    if (rtt_thresh < h.minrtt_thresh) rtt_thresh = h.minrtt_thresh;
    if (rtt_thresh > h.maxrtt_thresh) rtt_thresh = h.maxrtt_thresh;
    if (hs.css_current_round_minrtt >= hs.css_lastround_minrtt + rtt_thresh) {
      // Enter CSS. FreeBSD (following draft v4) takes the baseline from the current round.
      hs.flags |= bits.inCss;
      hs.css_fas_at_css_entry = hs.css_lowrtt_fas;
      hs.css_baseline_minrtt = hs.css_current_round_minrtt;
      hs.css_entered_at_round = hs.css_current_round;
    }
  }
}

/** RFC 9406 §4.2: in CSS the slow-start increase is divided by CSS_GROWTH_DIVISOR. */
export function hystart_css_incr(ccv: CcVar, hs: HystartState, bits: HystartBits, incr: number): number {
  if (!(hs.flags & bits.inCss)) return incr;
  return Math.floor(incr / hystartVars(ccv.tp.t_vnet).css_growth_div);
}

/** cwnd grew past ssthresh while in CSS: leave CSS and disable HyStart++ until idle. */
export function hystart_slipped_into_ca(hs: HystartState, bits: HystartBits): void {
  if (hs.flags & bits.inCss) hs.flags &= ~(bits.inCss | bits.enabled);
}

/** A loss or ECN signal ends HyStart++ for the connection (until an idle restart). */
export function hystart_disable(hs: HystartState, bits: HystartBits): void {
  if (hs.flags & bits.enabled) hs.flags &= ~(bits.enabled | bits.inCss);
}

/** After idle, slow start is allowed to use HyStart++ again. */
export function hystart_reenable(hs: HystartState, bits: HystartBits): void {
  if (!(hs.flags & bits.enabled)) {
    hs.flags &= ~bits.inCss;
    hs.flags |= bits.enabled;
  }
}

/**
 * An RTT sample (RFC 9406 §4.2 per-ACK minimum tracking). Ambiguous samples (retransmitted
 * more than once) are ignored. A round minimum below the CSS baseline means CSS was entered
 * spuriously: go back to standard slow start (RFC 9406 §4.2, "CSS ... RTT decreased").
 */
export function hystart_rttsample(ccv: CcVar, hs: HystartState, bits: HystartBits, usecRtt: number, rxtcnt: number, fas: number): void {
  if (rxtcnt > 1) return;
  const h = hystartVars(ccv.tp.t_vnet);
  hs.css_rttsample_count++;
  hs.css_last_fas = fas;
  if (hs.css_current_round_minrtt > usecRtt) {
    hs.css_current_round_minrtt = usecRtt;
    hs.css_lowrtt_fas = hs.css_last_fas;
  }
  if (
    hs.css_rttsample_count >= h.n_rttsamples &&
    hs.css_current_round_minrtt !== HYSTART_NO_RTT &&
    hs.css_current_round_minrtt < hs.css_baseline_minrtt &&
    hs.css_lastround_minrtt !== HYSTART_NO_RTT
  ) {
    hs.flags &= ~bits.inCss;
    hs.css_baseline_minrtt = HYSTART_NO_RTT;
  }
}

/**
 * A new round begins (RFC 9406 §4.2: lastRoundMinRTT = currentRoundMinRTT, reset the sample
 * count). After CSS_ROUNDS rounds in CSS, enter congestion avoidance with ssthresh = cwnd —
 * or, when the stack sets CCF_HYSTART_CAN_SH_CWND, pull cwnd back to the flight size at CSS
 * entry and ssthresh to the flight size at the lowest RTT (or the mean of the two with
 * CCF_HYSTART_CONS_SSTH), staying in CSS for another CSS_ROUNDS.
 */
export function hystart_newround(ccv: CcVar, hs: HystartState, bits: HystartBits, roundCnt: number): void {
  const tp = ccv.tp;
  hs.css_lastround_minrtt = hs.css_current_round_minrtt;
  hs.css_current_round_minrtt = HYSTART_NO_RTT;
  hs.css_rttsample_count = 0;
  hs.css_current_round = roundCnt;
  if (hs.flags & bits.inCss && (roundCnt - hs.css_entered_at_round) >>> 0 >= hystartVars(tp.t_vnet).css_rounds) {
    if (ccv.flags & CCF_HYSTART_CAN_SH_CWND) {
      if (ccv.flags & CCF_HYSTART_CONS_SSTH) tp.snd_ssthresh = (hs.css_lowrtt_fas + hs.css_fas_at_css_entry) >>> 1;
      else tp.snd_ssthresh = hs.css_lowrtt_fas;
      tp.snd_cwnd = hs.css_fas_at_css_entry;
      hs.css_entered_at_round = roundCnt;
    } else {
      tp.snd_ssthresh = tp.snd_cwnd;
      hs.flags &= ~(bits.inCss | bits.enabled);
    }
  }
}

// ---------------------------------------------------------------------------------------
// NewReno
// ---------------------------------------------------------------------------------------

/** struct newreno's newreno_flags (cc_newreno.h). */
export const CC_NEWRENO_HYSTART_ENABLED = 0x0002; // we can do hystart, a loss removes this flag
export const CC_NEWRENO_HYSTART_IN_CSS = 0x0004; // in HyStart++ Conservative Slow Start
export const CC_NEWRENO_BETA_ECN_ENABLED = 0x0020; // per-connection beta_ecn set by socket option

/** TCP_CCALGOOPT option names (cc_newreno.h). */
export const CC_NEWRENO_BETA = 1; // beta for normal DUP-ACK/SACK recovery
export const CC_NEWRENO_BETA_ECN = 2; // ECN beta for ABE

const NEWRENO_HYSTART: HystartBits = Object.freeze({ enabled: CC_NEWRENO_HYSTART_ENABLED, inCss: CC_NEWRENO_HYSTART_IN_CSS });

/** NewReno's per-connection state (struct newreno). */
export class NewrenoData extends HystartState {
  /** Multiplicative decrease on loss, percent (from net.inet.tcp.cc.newreno.beta at init). */
  beta = 50;
  /** Multiplicative decrease on ECN with ABE, percent (net.inet.tcp.cc.newreno.beta_ecn). */
  beta_ecn = 80;
}

function nrdata(ccv: CcVar): NewrenoData {
  return ccv.cc_data as NewrenoData;
}

function newreno_cb_init(ccv: CcVar, ptr: unknown): number {
  const nreno = ptr instanceof NewrenoData ? ptr : new NewrenoData();
  const cc = ccv.tp.t_vnet.cc;
  nreno.beta = cc.newreno_beta;
  nreno.beta_ecn = cc.newreno_beta_ecn;
  // The enabled flag is set so HyStart++ can run until the first loss.
  nreno.hystartInit(CC_NEWRENO_HYSTART_ENABLED);
  ccv.cc_data = nreno;
  return 0;
}

function newreno_cb_destroy(ccv: CcVar): void {
  ccv.cc_data = null;
}

/**
 * An ACK arrived. Only a regular ACK (CC_ACK) outside recovery, while cwnd-limited, opens
 * the window:
 *  - slow start (cwnd <= ssthresh, RFC 5681 §3.1): with ABC (RFC 3465 §2.2) grow by the
 *    bytes acked, at most nsegs * L * MSS per ACK (L = abc_l_var, or ccv.labc with
 *    CCF_USE_LOCAL_ABC) — and at most one MSS while retransmitting after an RTO
 *    (snd_nxt != snd_max; RFC 3465 §2.3 "L = 1 after a timeout"); without ABC, one MSS per ACK.
 *    HyStart++ may divide the increase (RFC 9406 §4.2).
 *  - congestion avoidance (cwnd > ssthresh): with ABC one MSS each time TCP reports a whole
 *    cwnd of bytes acked (CCF_ABC_SENTAWND, RFC 3465 §2.1); without ABC MSS*MSS/cwnd per ACK
 *    (RFC 5681 §3.1 eqn. 3), at least one byte.
 */
function newreno_ack_received(ccv: CcVar, type: number): void {
  const tp = ccv.tp;
  if (type !== CC_ACK || IN_RECOVERY(tp) || !(ccv.flags & CCF_CWND_LIMITED)) return;
  const nreno = nrdata(ccv);
  const V = tp.t_vnet;
  const mss = tcp_maxseg(tp);
  const cw = tp.snd_cwnd;
  let incr = mss;
  if (cw > tp.snd_ssthresh) {
    hystart_slipped_into_ca(nreno, NEWRENO_HYSTART);
    if (V.tcp.do_rfc3465) {
      if (ccv.flags & CCF_ABC_SENTAWND) ccv.flags &= ~CCF_ABC_SENTAWND;
      else incr = 0;
    } else {
      incr = Math.max(Math.floor((incr * incr) / cw), 1);
    }
  } else if (V.tcp.do_rfc3465) {
    const abc_val = ccv.flags & CCF_USE_LOCAL_ABC ? ccv.labc : V.tcp.abc_l_var;
    hystart_ss_check(ccv, nreno, NEWRENO_HYSTART);
    if (tp.snd_nxt === tp.snd_max) incr = Math.min(ccv.bytes_this_ack, ccv.nsegs * abc_val * mss);
    else incr = Math.min(ccv.bytes_this_ack, mss);
    incr = hystart_css_incr(ccv, nreno, NEWRENO_HYSTART, incr);
  }
  if (incr > 0) tp.snd_cwnd = Math.min(cw + incr, tcp_maxwin(tp));
}

/** RFC 5681 §4.1 restart window (shared helper), then allow HyStart++ again. */
function newreno_after_idle(ccv: CcVar): void {
  newreno_cc_after_idle(ccv);
  hystart_reenable(nrdata(ccv), NEWRENO_HYSTART);
}

/**
 * Congestion signals (RFC 5681 §3.2 eqn. 4 with a tunable beta; RFC 8511 ABE for ECN):
 * cwin = max(floor(cwnd * factor / (100 * MSS)), 2) * MSS, factor = beta, or beta_ecn for
 * CC_ECN when net.inet.tcp.cc.abe is on (or the socket set its own beta_ecn).
 *  - CC_NDUPACK: ssthresh = cwin unless already in ECN congestion recovery; enter fast and
 *    congestion recovery. cwnd is left to the stack's recovery (inflation or PRR).
 *  - CC_ECN: once per window (not while in congestion recovery, RFC 3168 §6.1.2):
 *    ssthresh = cwnd = cwin.
 *  - CC_RTO: on the first timeout ssthresh = max(2, min(snd_wnd, pipe) * factor / 100 / MSS)
 *    segments (RFC 5681 §3.1 eqn. 4 with FlightSize = pipe); cwnd = 1 MSS (loss window).
 *  - CC_RTO_ERR: nothing here; the stack restores cwnd and ssthresh.
 */
function newreno_cong_signal(ccv: CcVar, type: number): void {
  const tp = ccv.tp;
  const cc = tp.t_vnet.cc;
  const nreno = nrdata(ccv);
  const mss = tcp_maxseg(tp);
  const beta = nreno.beta;
  const beta_ecn = nreno.beta_ecn;
  const factor = type === CC_ECN && (cc.abe || nreno.flags & CC_NEWRENO_BETA_ECN_ENABLED) ? beta_ecn : beta;
  const cwin = Math.max(Math.floor((tp.snd_cwnd * factor) / (100 * mss)), 2) * mss;
  switch (type) {
    case CC_NDUPACK:
      hystart_disable(nreno, NEWRENO_HYSTART);
      if (!IN_FASTRECOVERY(tp)) {
        // RFC 8511 §3.3 (abe_frlossreduce): loss during an ECN-signalled reduction applies
        // the rest of the loss beta. FreeBSD's test here is mis-parenthesised and never
        // true; bsdnet implements what the sysctl describes.
        if (IN_CONGRECOVERY(tp) && cc.abe && cc.abe_frlossreduce) {
          tp.snd_ssthresh = Math.floor((tp.snd_ssthresh * beta) / beta_ecn);
        }
        if (!IN_CONGRECOVERY(tp)) tp.snd_ssthresh = cwin;
        tp.t_flags |= TF_FASTRECOVERY | TF_CONGRECOVERY; // ENTER_RECOVERY
      }
      break;
    case CC_ECN:
      hystart_disable(nreno, NEWRENO_HYSTART);
      if (!IN_CONGRECOVERY(tp)) {
        tp.snd_ssthresh = cwin;
        tp.snd_cwnd = cwin;
        tp.t_flags |= TF_CONGRECOVERY; // ENTER_CONGRECOVERY
      }
      break;
    case CC_RTO:
      if (tp.t_rxtshift === 1) {
        const pipe = Math.max(tcp_compute_pipe(tp), 0);
        tp.snd_ssthresh = Math.max(2, Math.floor((Math.min(tp.snd_wnd, pipe) * factor) / (100 * mss))) * mss;
      }
      tp.snd_cwnd = mss;
      break;
    default:
      break;
  }
}

function newreno_rttsample(ccv: CcVar, usecRtt: number, rxtcnt: number, fas: number): void {
  hystart_rttsample(ccv, nrdata(ccv), NEWRENO_HYSTART, usecRtt, rxtcnt, fas);
}

function newreno_newround(ccv: CcVar, roundCnt: number): void {
  hystart_newround(ccv, nrdata(ccv), NEWRENO_HYSTART, roundCnt);
}

/**
 * TCP_CCALGOOPT for newreno (newreno_ctl_output): get or set the connection's beta or
 * beta_ecn (percent). Setting beta_ecn makes it apply to ECN even without
 * net.inet.tcp.cc.abe. Returns 0 or an errno (ENOPROTOOPT for another algorithm or option).
 */
export function newreno_ctl_output(ccv: CcVar, set: boolean, opt: { name: number; val: number }): number {
  if (ccv.tp.cc_algo !== newreno || !(ccv.cc_data instanceof NewrenoData)) return ENOPROTOOPT;
  const nreno = ccv.cc_data;
  if (set) {
    if (!Number.isInteger(opt.val) || opt.val < 0 || opt.val > 0xffffffff) return EINVAL;
    if (opt.name === CC_NEWRENO_BETA) nreno.beta = opt.val;
    else if (opt.name === CC_NEWRENO_BETA_ECN) {
      nreno.beta_ecn = opt.val;
      nreno.flags |= CC_NEWRENO_BETA_ECN_ENABLED;
    } else return ENOPROTOOPT;
  } else if (opt.name === CC_NEWRENO_BETA) opt.val = nreno.beta;
  else if (opt.name === CC_NEWRENO_BETA_ECN) opt.val = nreno.beta_ecn;
  else return ENOPROTOOPT;
  return 0;
}

/** FreeBSD's newreno_cc_algo. */
export const newreno: CcAlgo = Object.freeze({
  name: 'newreno',
  cb_init: newreno_cb_init,
  cb_destroy: newreno_cb_destroy,
  ack_received: newreno_ack_received,
  after_idle: newreno_after_idle,
  cong_signal: newreno_cong_signal,
  post_recovery: newreno_cc_post_recovery,
  rttsample: newreno_rttsample,
  newround: newreno_newround,
});
