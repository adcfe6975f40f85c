/*
 * A congestion-control test harness: one real TcpCb on a Vnet with a VirtualClock, driven by
 * synthetic ACK streams and loss events in virtual time. The harness plays the part of the
 * TCP stack around the algorithm hooks, doing exactly what FreeBSD's tcp_input.c wrappers do
 * (cc_conn_init, cc_ack_received with its ABC byte counting, cc_cong_signal, cc_post_recovery)
 * and what tcp_timer_rexmt does before CC_RTO, so each test sees the algorithm as the stack
 * will drive it.
 */

import { NS_PER_MS, VirtualClock } from '../../../src/kern/clock.js';
import {
  CC_ACK,
  CC_ECN,
  CC_NDUPACK,
  CC_RTO,
  CC_RTO_ERR,
  type CcAlgo,
  CcVar,
  CcVars,
  CCF_ABC_SENTAWND,
  CCF_CWND_LIMITED,
  IN_CONGRECOVERY,
  IN_FASTRECOVERY,
  tcp_compute_initwnd,
  tcp_maxseg,
} from '../../../src/netinet/cc/cc.js';
import { registerCcAlgorithms } from '../../../src/netinet/cc/cc_module.js';
import { PcbInfo } from '../../../src/netinet/in_pcb.js';
import { SEQ_GEQ, seqAdd } from '../../../src/netinet/tcp_seq.js';
import {
  TCP_RTT_SHIFT,
  TcpCb,
  TcpVars,
  TF_CONGRECOVERY,
  TF_FASTRECOVERY,
  TF_PREVVALID,
  TF_WASCRECOVERY,
  TF_WASFRECOVERY,
} from '../../../src/netinet/tcp_var.js';
import { Vnet } from '../../../src/vnet.js';

/** FreeBSD's initial ssthresh: TCP_MAXWIN << TCP_MAX_WINSHIFT (tcp_newtcpcb). */
export const INITIAL_SSTHRESH = 65535 * 2 ** 14;

export interface HarnessOptions {
  /** 'newreno' or 'cubic' (looked up in V.cc), default 'newreno'. */
  algo?: string;
  /** t_maxseg; no timestamps, so tcp_maxseg() equals it. Default 1448. */
  mss?: number;
  /** Path RTT in ms (sets t_srtt and the ACK timing). Default 100. */
  rttMs?: number;
  /** RTT samples taken so far (t_rttupdated); CUBIC waits for 8. Default 8. */
  rttSamples?: number;
  /** Configure the Vnet (sysctls) before the connection is created. */
  setup?: (V: Vnet) => void;
}

export interface RoundOptions {
  /** Segments covered by each ACK (delayed/stretch ACKs). Default 1. */
  ackEvery?: number;
  /** nsegs reported with each ACK (LRO/TSO aggregation). Default 1. */
  nsegs?: number;
  /** Segments to send this round; default floor(cwnd / mss). */
  segs?: number;
  /** Pretend the sender is application-limited (not cwnd-limited) this round. */
  appLimited?: boolean;
}

export class Harness {
  readonly clock = new VirtualClock();
  readonly V: Vnet;
  readonly tp: TcpCb;
  readonly ccv: CcVar;
  readonly algo: CcAlgo;
  readonly mss: number;
  readonly rttMs: number;
  /** cwnd-limited flag the next ACKs report (FreeBSD: cwnd <= snd_wnd). */
  appLimited = false;

  constructor(opts: HarnessOptions = {}) {
    this.V = new Vnet({ name: 'cc', clock: this.clock, seed: 7, loopback: false });
    // The Vnet may not carry TCP's and CC's state yet: attach them the way the stack will.
    const ext = this.V as unknown as { tcp?: TcpVars; cc?: CcVars };
    if (ext.tcp === undefined) ext.tcp = new TcpVars(this.V);
    if (ext.cc === undefined) ext.cc = new CcVars(this.V);
    registerCcAlgorithms(this.V);
    opts.setup?.(this.V);
    const algo = ext.cc.get(opts.algo ?? 'newreno');
    if (algo === undefined) throw new Error(`no algorithm ${opts.algo}`);
    this.algo = algo;
    this.mss = opts.mss ?? 1448;
    this.rttMs = opts.rttMs ?? 100;
    const inp = new PcbInfo(this.V, 't').alloc(null, false);
    const ccv = new CcVar();
    const tp = new TcpCb(this.V, inp, ccv);
    ccv.tp = tp;
    this.ccv = ccv;
    this.tp = tp;
    tp.t_maxseg = this.mss;
    tp.snd_scale = 14;
    tp.snd_wnd = 2 ** 30;
    tp.iss = tp.snd_una = tp.snd_nxt = tp.snd_max = 0xfffff000; // wraps during the test
    tp.t_srtt = this.rttTicks() << TCP_RTT_SHIFT;
    tp.t_rttupdated = opts.rttSamples ?? 8;
    tp.cc_algo = algo;
    if (algo.cb_init && algo.cb_init(ccv, null) !== 0) throw new Error('cb_init failed');
    this.connInit();
  }

  rttTicks(): number {
    return Math.round((this.rttMs * NS_PER_MS) / this.V.callwheel.tickNs);
  }

  /** FreeBSD cc_conn_init(): ssthresh from tcp_newtcpcb, cwnd = initial window, then the hook. */
  connInit(): void {
    const tp = this.tp;
    tp.snd_ssthresh = INITIAL_SSTHRESH;
    tp.snd_cwnd = tp.snd_cwnd === 1 ? tcp_maxseg(tp) : tcp_compute_initwnd(tp, tcp_maxseg(tp));
    this.algo.conn_init?.(this.ccv);
  }

  /** TCP's per-Vnet tunables (V.tcp). */
  get tcpv(): TcpVars {
    return (this.V as unknown as { tcp: TcpVars }).tcp;
  }

  /** The congestion-control registry and its tunables (V.cc). */
  get ccvars(): CcVars {
    return (this.V as unknown as { cc: CcVars }).cc;
  }

  get cwnd(): number {
    return this.tp.snd_cwnd;
  }

  get ssthresh(): number {
    return this.tp.snd_ssthresh;
  }

  /** cwnd in segments (may be fractional). */
  get cwndSegs(): number {
    return this.tp.snd_cwnd / this.mss;
  }

  /** Bytes outstanding. */
  get flight(): number {
    return (this.tp.snd_max - this.tp.snd_una) | 0;
  }

  ticks(): number {
    return this.V.callwheel.ticks();
  }

  /** Advance virtual time by ms (fractions allowed). */
  advance(ms: number): void {
    this.clock.advance(Math.round(ms * NS_PER_MS));
  }

  /** Send `bytes` of new data. */
  send(bytes: number): void {
    const tp = this.tp;
    tp.snd_max = seqAdd(tp.snd_max, bytes);
    tp.snd_nxt = tp.snd_max;
  }

  /**
   * One ACK for `bytes` (FreeBSD cc_ack_received): set nsegs, bytes_this_ack, the
   * cwnd-limited flag and RFC 3465 byte counting (CCF_ABC_SENTAWND once a whole cwnd is
   * acked in congestion avoidance), call the hook, then advance snd_una as process_ACK does.
   */
  ack(bytes: number, nsegs = 1, type = CC_ACK): void {
    const tp = this.tp;
    const ccv = this.ccv;
    ccv.nsegs = nsegs;
    ccv.bytes_this_ack = type === CC_ACK ? bytes : 0;
    if (!this.appLimited && tp.snd_cwnd <= tp.snd_wnd) ccv.flags |= CCF_CWND_LIMITED;
    else ccv.flags &= ~CCF_CWND_LIMITED;
    if (type === CC_ACK) {
      if (tp.snd_cwnd > tp.snd_ssthresh) {
        tp.t_bytes_acked += bytes;
        if (tp.t_bytes_acked >= tp.snd_cwnd) {
          tp.t_bytes_acked -= tp.snd_cwnd;
          ccv.flags |= CCF_ABC_SENTAWND;
        }
      } else {
        ccv.flags &= ~CCF_ABC_SENTAWND;
        tp.t_bytes_acked = 0;
      }
    }
    ccv.curack = seqAdd(tp.snd_una, bytes);
    this.algo.ack_received?.(ccv, type);
    if (type === CC_ACK) tp.snd_una = seqAdd(tp.snd_una, bytes);
  }

  /**
   * One round trip: send a window of full segments now, then receive their ACKs spread
   * evenly over the next RTT (the last one exactly one RTT after the send).
   */
  round(o: RoundOptions = {}): void {
    const mss = this.mss;
    const segs = o.segs ?? Math.floor(this.tp.snd_cwnd / mss);
    const ackEvery = o.ackEvery ?? 1;
    const nsegs = o.nsegs ?? 1;
    const prevApp = this.appLimited;
    if (o.appLimited) this.appLimited = true;
    this.send(segs * mss);
    const nAcks = Math.ceil(segs / ackEvery);
    const start = this.clock.now();
    const rttNs = this.rttMs * NS_PER_MS;
    let left = segs;
    for (let i = 1; i <= nAcks; i++) {
      this.clock.advanceTo(start + Math.round((rttNs * i) / nAcks));
      const n = Math.min(ackEvery, left);
      left -= n;
      this.ack(n * mss, nsegs);
    }
    if (nAcks === 0) this.clock.advanceTo(start + rttNs);
    this.appLimited = prevApp;
  }

  /** Three duplicate ACKs (FreeBSD cc_cong_signal for CC_NDUPACK). */
  ndupack(): void {
    const tp = this.tp;
    if (!IN_FASTRECOVERY(tp)) tp.snd_recover = tp.snd_max;
    this.ccv.curack = tp.snd_una;
    this.algo.cong_signal?.(this.ccv, CC_NDUPACK);
  }

  /**
   * The ACK that ends recovery, covering everything up to `ack` (default snd_max): as in
   * tcp_do_segment, cc_post_recovery runs before snd_una advances, then recovery is exited.
   */
  fullAck(ack = this.tp.snd_max): void {
    const tp = this.tp;
    this.ccv.curack = ack;
    this.algo.post_recovery?.(this.ccv);
    tp.t_flags &= ~(TF_FASTRECOVERY | TF_CONGRECOVERY); // EXIT_RECOVERY
    tp.t_bytes_acked = 0;
    tp.snd_una = ack;
  }

  /**
   * An ECN echo on an ACK for `ack` (FreeBSD cc_cong_signal for CC_ECN): a new reaction is
   * allowed once the ACK passes snd_recover, i.e. once per window.
   */
  ecn(ack = this.tp.snd_una): void {
    const tp = this.tp;
    if (!IN_CONGRECOVERY(tp) || SEQ_GEQ(ack, tp.snd_recover)) {
      tp.t_flags &= ~TF_CONGRECOVERY; // EXIT_CONGRECOVERY
      tp.snd_recover = seqAdd(tp.snd_max, 1);
    }
    this.ccv.curack = ack;
    this.algo.cong_signal?.(this.ccv, CC_ECN);
  }

  /** The retransmission timer fires (tcp_timer_rexmt, then cc_cong_signal for CC_RTO). */
  rto(): void {
    const tp = this.tp;
    tp.t_rxtshift++;
    if (tp.t_rxtshift === 1) {
      tp.snd_cwnd_prev = tp.snd_cwnd;
      tp.snd_ssthresh_prev = tp.snd_ssthresh;
      tp.snd_recover_prev = tp.snd_recover;
      if (tp.t_flags & TF_FASTRECOVERY) tp.t_flags |= TF_WASFRECOVERY;
      else tp.t_flags &= ~TF_WASFRECOVERY;
      if (tp.t_flags & TF_CONGRECOVERY) tp.t_flags |= TF_WASCRECOVERY;
      else tp.t_flags &= ~TF_WASCRECOVERY;
      tp.t_flags |= TF_PREVVALID;
    } else {
      tp.t_flags &= ~TF_PREVVALID;
    }
    tp.snd_nxt = tp.snd_una;
    tp.snd_recover = tp.snd_max;
    // cc_cong_signal(CC_RTO)
    tp.t_dupacks = 0;
    tp.t_bytes_acked = 0;
    tp.t_flags &= ~(TF_FASTRECOVERY | TF_CONGRECOVERY);
    this.algo.cong_signal?.(this.ccv, CC_RTO);
  }

  /** The timeout proved spurious (cc_cong_signal for CC_RTO_ERR): restore, then the hook. */
  rtoErr(): void {
    const tp = this.tp;
    tp.snd_cwnd = tp.snd_cwnd_prev;
    tp.snd_ssthresh = tp.snd_ssthresh_prev;
    tp.snd_recover = tp.snd_recover_prev;
    if (tp.t_flags & TF_WASFRECOVERY) tp.t_flags |= TF_FASTRECOVERY;
    if (tp.t_flags & TF_WASCRECOVERY) tp.t_flags |= TF_CONGRECOVERY;
    tp.snd_nxt = tp.snd_max;
    tp.t_flags &= ~TF_PREVVALID;
    tp.t_rxtshift = 0;
    tp.t_badrxtwin = 0;
    this.algo.cong_signal?.(this.ccv, CC_RTO_ERR);
  }

  /** Idle for `ms`, then the stack's after-idle hook (tcp_output: idle >= RTO). */
  idle(ms: number): void {
    this.advance(ms);
    this.algo.after_idle?.(this.ccv);
  }

  /** Set cwnd and ssthresh directly (a starting point for a scenario). */
  set(cwnd: number, ssthresh: number): void {
    this.tp.snd_cwnd = cwnd;
    this.tp.snd_ssthresh = ssthresh;
  }
}
