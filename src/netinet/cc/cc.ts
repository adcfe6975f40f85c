/*
 * The congestion-control framework (FreeBSD netinet/cc/cc.h, cc.c).
 *
 * A congestion-control algorithm is a CcAlgo: a set of hooks TCP calls at well-defined
 * points (connection init, ACK received, congestion signal, end of recovery, after idle,
 * RTT sample). The algorithm reads and writes the connection's congestion state through
 * CcVar (ccv.tp.snd_cwnd, snd_ssthresh, ...) and keeps its private state in ccv.cc_data.
 * TCP itself never changes snd_cwnd except through these hooks.
 *
 * Algorithms register per Vnet (V.cc); net.inet.tcp.cc.algorithm selects the default for
 * new connections (cubic, as in FreeBSD 14), TCP_CONGESTION selects one per socket.
 *
 * This file also holds the helpers FreeBSD shares between modules: the RFC 5681/3465
 * NewReno responses (newreno_cc_*) that CUBIC and others fall back on, the initial window
 * (RFC 6928), and the RFC 6675 pipe computation.
 */

import { SysctlError, field } from '../../kern/kern_sysctl.js';
import type { Vnet } from '../../vnet.js';
import type { TcpCb } from '../tcp_var.js';

// ack types for ack_received
export const CC_ACK = 0x0001; // Regular in sequence ACK.
export const CC_DUPACK = 0x0002; // Duplicate ACK.
export const CC_PARTIALACK = 0x0004; // Not yet.
export const CC_SACK = 0x0008; // Not yet.

// congestion signal types for cong_signal
export const CC_ECN = 0x00000001; // ECN marked packet received.
export const CC_RTO = 0x00000002; // RTO fired.
export const CC_RTO_ERR = 0x00000004; // RTO fired in error.
export const CC_NDUPACK = 0x00000008; // Threshold of dupack's reached.

// ccv flags
export const CCF_ABC_SENTAWND = 0x0001; // ABC counted cwnd worth of bytes?
export const CCF_CWND_LIMITED = 0x0002; // Are we currently cwnd limited?
export const CCF_USE_LOCAL_ABC = 0x0004; // Dont use the system l_abc val
export const CCF_ACKNOW = 0x0008; // Will this ack be sent now?
export const CCF_IPHDR_CE = 0x0010; // Does this packet set CE bit?
export const CCF_TCPHDR_CWR = 0x0020; // Does this packet set CWR bit?
export const CCF_MAX_CWND = 0x0040; // Have we reached maximum cwnd?
export const CCF_CHG_MAX_CWND = 0x0080; // CUBIC max_cwnd changed, for K
export const CCF_USR_IWND = 0x0100; // User specified initial window
export const CCF_USR_IWND_INIT_NSEG = 0x0200; // Convert segs to bytes on conn init
export const CCF_HYSTART_ALLOWED = 0x0400; // If the CC supports it Hystart is allowed
export const CCF_HYSTART_CAN_SH_CWND = 0x0800; // Can hystart when going CSS -> CA slam the cwnd
export const CCF_HYSTART_CONS_SSTH = 0x1000; // Should hystart use the more conservative ssthresh

/** Per-connection congestion-control variables (struct cc_var). */
export class CcVar {
  /** The algorithm's private state. */
  cc_data: unknown = null;
  /** Bytes newly acknowledged by the ACK being processed. */
  bytes_this_ack = 0;
  /** The cumulative ACK of that segment. */
  curack = 0;
  flags = 0;
  type = 0;
  /** Segments this ACK stands for (LRO/TSO aggregates count more than one). */
  nsegs = 1;
  /** Local ABC limit (with CCF_USE_LOCAL_ABC). */
  labc = 0;
  /** The connection (set right after the tcpcb is created). */
  tp!: TcpCb;
}

export interface CcAlgo {
  readonly name: string;
  /** Set up per-connection state (cc_data); nonzero errno on failure. */
  cb_init?(ccv: CcVar, ptr: unknown): number;
  cb_destroy?(ccv: CcVar): void;
  /** Initialise cwnd/ssthresh for a new connection (after the handshake). */
  conn_init?(ccv: CcVar): void;
  /** An ACK arrived (CC_ACK or CC_DUPACK). */
  ack_received?(ccv: CcVar, type: number): void;
  /** Congestion was detected (CC_NDUPACK, CC_ECN, CC_RTO, CC_RTO_ERR). */
  cong_signal?(ccv: CcVar, type: number): void;
  /** Loss recovery ended. */
  post_recovery?(ccv: CcVar): void;
  /** The connection was idle (RFC 5681 §4.1 restart window). */
  after_idle?(ccv: CcVar): void;
  /** An RTT sample (µs), with retransmission count and flight size. */
  rttsample?(ccv: CcVar, usecRtt: number, rxtcnt: number, fas: number): void;
  /** A new round (HyStart++ rounds). */
  newround?(ccv: CcVar, roundCnt: number): void;
}

/** Per-Vnet congestion-control registry and its sysctls (net.inet.tcp.cc.*). */
export class CcVars {
  private readonly algos = new Map<string, CcAlgo>();
  private defaultName = '';
  /** net.inet.tcp.cc.abe: Alternative Backoff with ECN (RFC 8511). */
  abe = false;
  /** net.inet.tcp.cc.abe_frlossreduce */
  abe_frlossreduce = false;
  /** net.inet.tcp.cc.newreno.beta / beta_ecn (percent). */
  newreno_beta = 50;
  newreno_beta_ecn = 80;

  constructor(V: Vnet) {
    const s = V.sysctl;
    s.node('net.inet.tcp.cc', 'Congestion control related settings');
    s.string(
      'net.inet.tcp.cc.algorithm',
      {
        get: () => this.defaultName,
        set: (v) => {
          this.defaultName = v;
        },
      },
      {
        descr: 'Default congestion control algorithm',
        check: (v) => (this.algos.has(v) ? null : `unknown congestion control algorithm '${v}' (available: ${this.availableList()})`),
      },
    );
    s.string('net.inet.tcp.cc.available', { get: () => this.availableList() }, { descr: 'List available congestion control algorithms', readonly: true });
    s.bool('net.inet.tcp.cc.abe', field(this, 'abe'), { descr: 'Enable draft-ietf-tcpm-alternativebackoff-ecn (TCP Alternative Backoff with ECN)' });
    s.bool('net.inet.tcp.cc.abe_frlossreduce', field(this, 'abe_frlossreduce'), {
      descr: 'Apply standard beta instead of ABE-beta during ECN-signalled congestion recovery episodes if loss also needs to be repaired',
    });
    s.node('net.inet.tcp.cc.newreno', 'New Reno related settings');
    s.int('net.inet.tcp.cc.newreno.beta', field(this, 'newreno_beta'), { descr: 'New Reno beta, specified as number between 1 and 100', min: 1, max: 100 });
    s.int('net.inet.tcp.cc.newreno.beta_ecn', field(this, 'newreno_beta_ecn'), {
      descr: 'New Reno beta ecn, specified as number between 1 and 100',
      min: 1,
      max: 100,
    });
  }

  private availableList(): string {
    return [...this.algos.keys()].join(', ');
  }

  /** Register an algorithm (cc_register_algo). The first registered becomes default until set. */
  register(algo: CcAlgo): void {
    if (this.algos.has(algo.name)) throw new SysctlError('EEXIST', 'net.inet.tcp.cc', `algorithm ${algo.name} already registered`);
    this.algos.set(algo.name, algo);
    if (this.defaultName === '') this.defaultName = algo.name;
  }

  setDefault(name: string): void {
    if (!this.algos.has(name)) throw new SysctlError('EINVAL', 'net.inet.tcp.cc.algorithm', `unknown algorithm ${name}`);
    this.defaultName = name;
  }

  get(name: string): CcAlgo | undefined {
    return this.algos.get(name);
  }

  get default(): CcAlgo {
    return this.algos.get(this.defaultName) as CcAlgo;
  }

  names(): string[] {
    return [...this.algos.keys()];
  }
}

// --- helpers shared by algorithms (cc.c) ---

/** The MSS to use for congestion-control arithmetic (tcp_maxseg: MSS minus option space). */
export function tcp_maxseg(tp: TcpCb): number {
  return tp.t_maxseg - tcp_optlen_est(tp);
}

/** Option bytes every full segment carries (timestamps); FreeBSD's tcp_maxseg() estimate. */
function tcp_optlen_est(tp: TcpCb): number {
  // TF_RCVD_TSTMP | TF_REQ_TSTMP, TF_NOOPT (tcp_var.h values)
  if ((tp.t_flags & 0x8) === 0 && (tp.t_flags & 0x180) === 0x180) return 12;
  return 0;
}

/**
 * The initial congestion window (RFC 6928 / FreeBSD tcp_compute_initwnd):
 * min(IW * mss, max(2 * mss, IW * 1460)) with IW = net.inet.tcp.initcwnd_segments; RFC 3390
 * when initcwnd_segments is 0.
 */
export function tcp_compute_initwnd(tp: TcpCb, maxseg: number): number {
  const V = tp.t_vnet;
  const iw = V.tcp.initcwnd_segments;
  if (iw > 0) return Math.min(iw * maxseg, Math.max(2 * maxseg, iw * 1460));
  if (V.tcp.rfc3390) return Math.min(4 * maxseg, Math.max(2 * maxseg, 4380));
  return maxseg <= 1095 ? 4 * maxseg : maxseg <= 2190 ? 3 * maxseg : 2 * maxseg;
}

/**
 * RFC 6675 "pipe": bytes outstanding in the network (tcp_compute_pipe). With SACK it is
 * snd_max - snd_una minus SACKed bytes and lost (hole) bytes not yet retransmitted.
 */
export function tcp_compute_pipe(tp: TcpCb): number {
  const sh = tp.sackhint_r;
  if (tp.t_vnet.tcp.do_rfc6675_pipe) {
    return ((tp.snd_max - tp.snd_una) | 0) + sh.sack_bytes_rexmit - sh.sacked_bytes - sh.lost_bytes;
  }
  return ((tp.snd_max - tp.snd_una) | 0) + sh.sack_bytes_rexmit - sh.sacked_bytes;
}

/** In NewReno/SACK fast recovery (IN_FASTRECOVERY). */
export function IN_FASTRECOVERY(tp: TcpCb): boolean {
  return (tp.t_flags & 0x00100000) !== 0;
}

/** In congestion recovery after ECN (IN_CONGRECOVERY). */
export function IN_CONGRECOVERY(tp: TcpCb): boolean {
  return (tp.t_flags & 0x20000000) !== 0;
}

/** In either recovery (IN_RECOVERY). */
export function IN_RECOVERY(tp: TcpCb): boolean {
  return (tp.t_flags & (0x00100000 | 0x20000000)) !== 0;
}

/**
 * NewReno's response to an ACK (newreno_cc_ack_received, RFC 5681 §3.1 with RFC 3465
 * Appropriate Byte Counting): slow start grows cwnd by at most abc_l_var*MSS per ACK (by
 * nsegs for aggregates); congestion avoidance by one MSS per cwnd of bytes acked. Only
 * when cwnd-limited, and not during recovery.
 */
export function newreno_cc_ack_received(ccv: CcVar, type: number): void {
  const tp = ccv.tp;
  if (type !== CC_ACK || IN_RECOVERY(tp) || !(ccv.flags & CCF_CWND_LIMITED)) return;
  const V = tp.t_vnet;
  const mss = tcp_maxseg(tp);
  const cw = tp.snd_cwnd;
  let incr = 0;
  if (cw > tp.snd_ssthresh) {
    // Congestion avoidance (RFC 5681 §3.1, RFC 3465 §2.1).
    if (V.tcp.do_rfc3465) {
      if (ccv.flags & CCF_ABC_SENTAWND) ccv.flags &= ~CCF_ABC_SENTAWND;
      else return;
      incr = mss;
    } else {
      incr = Math.max(Math.floor((mss * mss) / cw), 1);
    }
  } else if (V.tcp.do_rfc3465) {
    // Slow start with ABC: at most L (abc_l_var) segments per ACK; L=1 right after an RTO.
    const abc = ccv.flags & CCF_USE_LOCAL_ABC ? ccv.labc : V.tcp.abc_l_var;
    if (tp.snd_nxt === tp.snd_max) incr = Math.min(ccv.bytes_this_ack, ccv.nsegs * abc * mss);
    else incr = Math.min(ccv.bytes_this_ack, mss);
  } else {
    incr = mss;
  }
  if (incr > 0) tp.snd_cwnd = Math.min(cw + incr, 65535 << tp.snd_scale); // TCP_MAXWIN << snd_scale
}

/**
 * NewReno's restart after idle (newreno_cc_after_idle, RFC 5681 §4.1): cwnd shrinks to the
 * restart window, at most the initial window; ssthresh keeps the old cwnd's knowledge.
 */
export function newreno_cc_after_idle(ccv: CcVar): void {
  const tp = ccv.tp;
  const rw = tcp_compute_initwnd(tp, tcp_maxseg(tp));
  tp.snd_ssthresh = Math.max(tp.snd_ssthresh, tp.snd_cwnd - (tp.snd_cwnd >>> 2)); // cwnd - cwnd/4, as FreeBSD rounds
  tp.snd_cwnd = Math.min(rw, tp.snd_cwnd);
}

/**
 * NewReno's reaction to congestion (newreno_cc_cong_signal, RFC 5681 §3.2 and §3.1 eqn. 4):
 * ssthresh = max(FlightSize / 2, 2*MSS) on three duplicate ACKs or ECN (once per window),
 * and cwnd = 1 MSS after an RTO (the timer code sets that).
 */
export function newreno_cc_cong_signal(ccv: CcVar, type: number): void {
  const tp = ccv.tp;
  const mss = tcp_maxseg(tp);
  const win = Math.floor(Math.max(Math.floor(Math.min(tp.snd_wnd, tp.snd_cwnd) / 2 / mss), 2)) * mss;
  switch (type) {
    case CC_NDUPACK:
      if (!IN_FASTRECOVERY(tp)) {
        if (!IN_CONGRECOVERY(tp)) tp.snd_ssthresh = win;
        tp.t_flags |= 0x00100000 | 0x20000000; // ENTER_RECOVERY
      }
      break;
    case CC_ECN:
      if (!IN_CONGRECOVERY(tp)) {
        tp.snd_ssthresh = win;
        tp.snd_cwnd = win;
        tp.t_flags |= 0x20000000; // ENTER_CONGRECOVERY
      }
      break;
    case CC_RTO:
      tp.snd_ssthresh = Math.max(2, Math.floor(Math.min(tp.snd_wnd, tp.snd_cwnd) / 2 / mss)) * mss;
      tp.snd_cwnd = mss;
      break;
    default:
      break;
  }
}

/**
 * End of recovery (newreno_cc_post_recovery, RFC 6582 §3.2 step 3): deflate cwnd to
 * ssthresh, or to what is in flight plus one MSS if that is smaller (avoid a burst).
 */
export function newreno_cc_post_recovery(ccv: CcVar): void {
  const tp = ccv.tp;
  if (!IN_FASTRECOVERY(tp)) return;
  const mss = tcp_maxseg(tp);
  const pipe = tp.t_vnet.tcp.do_rfc6675_pipe ? tcp_compute_pipe(tp) : (tp.snd_max - tp.snd_una) | 0;
  if (pipe < tp.snd_ssthresh) tp.snd_cwnd = Math.max(pipe, mss) + mss;
  else tp.snd_cwnd = tp.snd_ssthresh;
}
