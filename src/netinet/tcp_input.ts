/*
 * TCP input (FreeBSD netinet/tcp_input.c: tcp_input_with_port, tcp_do_segment, tcp_dooptions,
 * tcp_xmit_timer, tcp_mss, cc_* glue). RFC 9293 §3.10.7 "SEGMENT ARRIVES" is the backbone;
 * RFC 5961 (blind RST/SYN/data), RFC 7323 (PAWS, timestamps, window scale), RFC 2018/2883
 * (SACK, D-SACK), RFC 6675 (SACK recovery), RFC 6582 (NewReno), RFC 6937 (PRR), RFC 3042
 * (limited transmit), RFC 5681/3465 (congestion control, ABC), RFC 6298 (RTO), RFC 3168 (ECN).
 *
 * Structure follows FreeBSD 14 closely so the code can be read beside it:
 *   tcp_input     validate, find the PCB (4-tuple, then wildcard), TIME_WAIT, LISTEN (SYN cache)
 *   tcp_do_segment header prediction, then the slow path: SYN_SENT, RST/SYN checks, PAWS,
 *                 trimming, ACK processing (dupacks, recovery), window update, data, FIN.
 */

import { CSUM_DATA_VALID, CSUM_PSEUDO_HDR, M_BCAST, M_MCAST, type Mbuf, m_adj, m_freem } from '../mbuf/mbuf.js';
import { ECONNREFUSED, ECONNRESET } from '../sys/errno.js';
import {
  SBS_CANTRCVMORE,
  SB_AUTOSIZE,
  sbdrop,
  sbreserve,
  sbspace,
  socantrcvmore,
  soisconnected,
  soisdisconnected,
  sowwakeup,
  sbappendstream,
} from '../sys/socket.js';
import type { Vnet } from '../vnet.js';
import { get16, get32 } from '../wire/bytes.js';
import { cksumFinish, pseudoSum4, pseudoSum6 } from '../wire/checksum.js';
import { IP_HDR_LEN, IPPROTO_TCP } from '../wire/ipv4.js';
import { IP6_HDR_LEN } from '../wire/ipv6.js';
import {
  TCP_HDR_LEN,
  TCP_MAX_SACK,
  TCP_MAX_WINSHIFT,
  TCP_MAXWIN,
  TCPOLEN_MAXSEG,
  TCPOLEN_SACK_PERMITTED,
  TCPOLEN_SIGNATURE,
  TCPOLEN_TIMESTAMP,
  TCPOLEN_WINDOW,
  TCPOPT_EOL,
  TCPOPT_MAXSEG,
  TCPOPT_NOP,
  TCPOPT_SACK,
  TCPOPT_SACK_PERMITTED,
  TCPOPT_SIGNATURE,
  TCPOPT_TIMESTAMP,
  TCPOPT_WINDOW,
  TH_ACK,
  TH_CWR,
  TH_ECE,
  TH_FIN,
  TH_PUSH,
  TH_RST,
  TH_SYN,
  TH_URG,
  TOF_MSS,
  TOF_SACK,
  TOF_SACKPERM,
  TOF_SCALE,
  TOF_SIGNATURE,
  TOF_TS,
  type TcpOptsScratch,
} from '../wire/tcp.js';
import {
  CC_ACK,
  CC_DUPACK,
  CC_ECN,
  CC_NDUPACK,
  CC_RTO_ERR,
  CCF_ABC_SENTAWND,
  CCF_CWND_LIMITED,
  IN_CONGRECOVERY,
  IN_FASTRECOVERY,
  IN_RECOVERY,
  tcp_compute_initwnd,
  tcp_compute_pipe,
  tcp_maxseg,
} from './cc/cc.js';
import { AF_INET, AF_INET6, IN_MULTICAST, INADDR_BROADCAST } from './in.js';
import { in_cksum_chain } from './in_cksum.js';
import { INP_DROPPED, type Inpcb } from './in_pcb.js';
import { BANDLIM_RST_CLOSEDPORT, BANDLIM_RST_OPENPORT } from './ip_icmp.js';
import {
  TCPS_CLOSE_WAIT,
  TCPS_CLOSED,
  TCPS_CLOSING,
  TCPS_ESTABLISHED,
  TCPS_FIN_WAIT_1,
  TCPS_FIN_WAIT_2,
  TCPS_HAVEESTABLISHED,
  TCPS_HAVERCVDFIN,
  TCPS_LAST_ACK,
  TCPS_LISTEN,
  TCPS_SYN_RECEIVED,
  TCPS_SYN_SENT,
  TCPS_TIME_WAIT,
} from './tcp_fsm.js';
import { inp_isv6, tcp_maxmtu, tcp_output, tcp_route_tso, tcp_ts_getticks } from './tcp_output.js';
import { tcp_handle_wakeup, tcp_reass } from './tcp_reass.js';
import {
  SACK_CHANGE,
  SACK_NEWLOSS,
  SACK_NOCHANGE,
  tcp_clean_sackreport,
  tcp_do_prr_ack,
  tcp_free_sackholes,
  tcp_is_sack_recovery,
  tcp_newreno_partial_ack,
  tcp_resend_sackholes,
  tcp_sack_doack,
  tcp_sack_lost_retransmission,
  tcp_sack_partialack,
  tcp_update_dsack_list,
  tcp_update_sack_list,
  tcprexmtthresh,
} from './tcp_sack.js';
import { SEQ_GEQ, SEQ_GT, SEQ_LEQ, SEQ_LT, TSTMP_GEQ, TSTMP_GT, TSTMP_LT } from './tcp_seq.js';
import { tcp_close, tcp_drop, tcp_dropwithreset, tcp_respond, tcp_state_change } from './tcp_subr.js';
import { syncache_add, syncache_badack, syncache_chkrst, syncache_expand } from './tcp_syncache.js';
import { msToTicks, TCP_REXMTVAL, TCPT_RANGESET, tcp_timer_active, tcp_timer_activate, TP_KEEPIDLE, TP_MAXIDLE, tcptv_rexmtmax } from './tcp_timer.js';
import { tcp_twcheck, tcp_twstart, tcp_vtw_twcheck } from './tcp_timewait.js';
import {
  TCP_DELTA_SHIFT,
  TCP_MAXRXTSHIFT,
  TCP_RTT_SCALE,
  TCP_RTT_SHIFT,
  TCP_RTTVAR_SCALE,
  TCP_RTTVAR_SHIFT,
  type TcpCb,
  type TcpSeg,
  TF2_ECN_PERMIT,
  TF2_ECN_SND_CWR,
  TF2_ECN_SND_ECE,
  TF_ACKNOW,
  TF_CLOSED,
  TF_CONGRECOVERY,
  TF_DELACK,
  TF_FASTRECOVERY,
  TF_LRD,
  TF_NEEDFIN,
  TF_NEEDSYN,
  TF_NOOPT,
  TF_PREVVALID,
  TF_RCVD_SCALE,
  TF_RCVD_TSTMP,
  TF_REQ_SCALE,
  TF_REQ_TSTMP,
  TF_RXWIN0SENT,
  TF_SACK_PERMIT,
  TF_SONOTCONN,
  TF_TSO,
  TF_WAKESOR,
  TF_WASCRECOVERY,
  TF_WASFRECOVERY,
  TT_2MSL,
  TT_DELACK,
  TT_KEEP,
  TT_PERSIST,
  TT_REXMT,
} from './tcp_var.js';

/** tcp_dooptions flag: the segment is a SYN (MSS, window scale, SACK-permitted only then). */
export const TO_SYN = 0x01;

/** RFC 7323 §5.5: ts_recent older than 24 days is invalid (TCP_PAWS_IDLE, in ms). */
const TCP_PAWS_IDLE = 24 * 24 * 60 * 60 * 1000;

/** After this many backoffs the RTT estimate is discarded (TCP_RTT_INVALIDATE). */
const TCP_RTT_INVALIDATE = TCP_MAXRXTSHIFT / 4;

/** ECN codepoints of the IP TOS / traffic class (RFC 3168 §5). */
const IPTOS_ECN_MASK = 0x03;
const IPTOS_ECN_ECT1 = 0x01;
const IPTOS_ECN_ECT0 = 0x02;
const IPTOS_ECN_CE = 0x03;

/**
 * Parse the options of a received segment (tcp_dooptions) the way FreeBSD does: stop at EOL,
 * at a truncated option or a length < 2; skip a known option whose length is wrong; MSS,
 * window scale and SACK-permitted count only on a SYN (RFC 9293 §3.7.1, RFC 7323 §2.2, RFC
 * 2018 §2); SACK blocks only on a non-SYN. The window shift is clamped to 14 (RFC 7323 §2.3).
 */
export function tcp_dooptions(V: Vnet, to: TcpOptsScratch, b: Uint8Array, cp: number, cnt: number, flags: number): void {
  to.reset();
  let optlen = 0;
  for (; cnt > 0; cnt -= optlen, cp += optlen) {
    const opt = b[cp] as number;
    if (opt === TCPOPT_EOL) break;
    if (opt === TCPOPT_NOP) optlen = 1;
    else {
      if (cnt < 2) break;
      optlen = b[cp + 1] as number;
      if (optlen < 2 || optlen > cnt) break;
    }
    switch (opt) {
      case TCPOPT_MAXSEG:
        if (optlen !== TCPOLEN_MAXSEG || !(flags & TO_SYN)) continue;
        to.flags |= TOF_MSS;
        to.mss = get16(b, cp + 2);
        break;
      case TCPOPT_WINDOW:
        if (optlen !== TCPOLEN_WINDOW || !(flags & TO_SYN)) continue;
        to.flags |= TOF_SCALE;
        to.wscale = Math.min(b[cp + 2] as number, TCP_MAX_WINSHIFT);
        break;
      case TCPOPT_TIMESTAMP:
        if (optlen !== TCPOLEN_TIMESTAMP) continue;
        to.flags |= TOF_TS;
        to.tsval = get32(b, cp + 2);
        to.tsecr = get32(b, cp + 6);
        break;
      case TCPOPT_SIGNATURE:
        if (optlen !== TCPOLEN_SIGNATURE) continue;
        to.flags |= TOF_SIGNATURE;
        to.sigOff = cp + 2;
        break;
      case TCPOPT_SACK_PERMITTED:
        if (optlen !== TCPOLEN_SACK_PERMITTED || !(flags & TO_SYN) || !V.tcp.do_sack) continue;
        to.flags |= TOF_SACKPERM;
        break;
      case TCPOPT_SACK: {
        if (optlen <= 2 || (optlen - 2) % 8 !== 0 || flags & TO_SYN) continue;
        to.flags |= TOF_SACK;
        const n = Math.min((optlen - 2) / 8, TCP_MAX_SACK);
        to.nsacks = n;
        for (let i = 0; i < n; i++) {
          to.sackBlocks[2 * i] = get32(b, cp + 2 + 8 * i);
          to.sackBlocks[2 * i + 1] = get32(b, cp + 6 + 8 * i);
        }
        break;
      }
      default:
        continue;
    }
  }
}

// --- congestion control glue (tcp_input.c cc_*) ---

/** Bytes newly acknowledged by th_ack (BYTES_THIS_ACK). */
function bytesThisAck(tp: TcpCb, th_ack: number): number {
  return (th_ack - tp.snd_una) | 0;
}

/** cc_ack_received: ABC bookkeeping (RFC 3465) and the algorithm's ack hook. */
export function cc_ack_received(tp: TcpCb, th_ack: number, nsegs: number, type: number): void {
  const ccv = tp.t_ccv;
  ccv.nsegs = nsegs;
  ccv.bytes_this_ack = bytesThisAck(tp, th_ack);
  if (tp.snd_cwnd <= tp.snd_wnd) ccv.flags |= CCF_CWND_LIMITED;
  else ccv.flags &= ~CCF_CWND_LIMITED;
  if (type === CC_ACK) {
    if (tp.snd_cwnd > tp.snd_ssthresh) {
      tp.t_bytes_acked += ccv.bytes_this_ack;
      if (tp.t_bytes_acked >= tp.snd_cwnd) {
        tp.t_bytes_acked -= tp.snd_cwnd;
        ccv.flags |= CCF_ABC_SENTAWND;
      }
    } else {
      ccv.flags &= ~CCF_ABC_SENTAWND;
      tp.t_bytes_acked = 0;
    }
  }
  const algo = tp.cc_algo;
  if (algo?.ack_received) {
    ccv.curack = th_ack >>> 0;
    const before = tp.snd_cwnd;
    algo.ack_received(ccv, type);
    if (tp.snd_cwnd !== before) cwndProbe(tp);
  }
}

function cwndProbe(tp: TcpCb): void {
  const p = tp.t_vnet.tcp.probes.cwnd;
  if (p.enabled) p.fire(tp, tp.snd_cwnd, tp.snd_ssthresh);
}

/**
 * Initialise cwnd and ssthresh after the handshake (cc_conn_init): RTT and ssthresh from the
 * host cache, the initial window of RFC 6928 (one segment if the SYN or SYN-ACK was lost,
 * RFC 6298 §5.7 / RFC 5681 §3.1), then the algorithm's hook.
 */
export function cc_conn_init(tp: TcpCb): void {
  const V = tp.t_vnet;
  const inp = tp.t_inpcb;
  const hc = inp_isv6(inp) ? V.hostcache.lookup(AF_INET6, 0, inp.in6p_faddr) : V.hostcache.lookup(AF_INET, inp.inp_faddr, null);
  const maxseg = tcp_maxseg(tp);
  const usPerTick = V.callwheel.tickNs / 1000;
  if (hc !== null && tp.t_srtt === 0 && hc.rtt > 0) {
    const rttTicks = Math.max(1, Math.round(hc.rtt / usPerTick));
    tp.t_srtt = rttTicks << TCP_RTT_SHIFT;
    V.tcp.stat.tcps_usedrtt++;
    if (hc.rttvar > 0) {
      tp.t_rttvar = Math.max(1, Math.round(hc.rttvar / usPerTick)) << TCP_RTTVAR_SHIFT;
      V.tcp.stat.tcps_usedrttvar++;
    } else {
      tp.t_rttvar = (tp.t_srtt * TCP_RTTVAR_SCALE) / TCP_RTT_SCALE;
    }
    tp.t_rxtcur = TCPT_RANGESET(V, ((tp.t_srtt >> 2) + tp.t_rttvar) >> 1, tp.t_rttmin, tcptv_rexmtmax(V));
  }
  if (hc !== null && hc.ssthresh > 0) {
    tp.snd_ssthresh = Math.max(2 * maxseg, hc.ssthresh);
    V.tcp.stat.tcps_usedssthresh++;
  }
  if (tp.snd_cwnd === 1) tp.snd_cwnd = maxseg;
  else tp.snd_cwnd = tcp_compute_initwnd(tp, maxseg);
  tp.cc_algo?.conn_init?.(tp.t_ccv);
  cwndProbe(tp);
}

/** A congestion signal (cc_cong_signal): recovery bookkeeping, then the algorithm's hook. */
export function cc_cong_signal(tp: TcpCb, type: number, th_ack?: number): void {
  const st = tp.t_vnet.tcp.stat;
  switch (type) {
    case CC_NDUPACK:
      if (!IN_FASTRECOVERY(tp)) {
        tp.snd_recover = tp.snd_max;
        if (tp.t_flags2 & TF2_ECN_PERMIT) tp.t_flags2 |= TF2_ECN_SND_CWR;
      }
      break;
    case CC_ECN:
      if (!IN_CONGRECOVERY(tp) || (th_ack !== undefined && SEQ_GEQ(th_ack, tp.snd_recover))) {
        tp.t_flags &= ~TF_CONGRECOVERY;
        st.tcps_ecn_rcwnd++;
        tp.snd_recover = (tp.snd_max + 1) >>> 0;
        if (tp.t_flags2 & TF2_ECN_PERMIT) tp.t_flags2 |= TF2_ECN_SND_CWR;
      }
      break;
    case 0x02: // CC_RTO
      tp.t_dupacks = 0;
      tp.t_bytes_acked = 0;
      tp.t_flags &= ~(TF_FASTRECOVERY | TF_CONGRECOVERY);
      if (tp.t_flags2 & TF2_ECN_PERMIT) tp.t_flags2 |= TF2_ECN_SND_CWR;
      break;
    case CC_RTO_ERR:
      // The RTO was spurious: undo (RFC 6298 §5 leaves this to the implementation).
      st.tcps_sndrexmitbad++;
      tp.snd_cwnd = tp.snd_cwnd_prev;
      tp.snd_ssthresh = tp.snd_ssthresh_prev;
      tp.snd_recover = tp.snd_recover_prev;
      if (tp.t_flags & TF_WASFRECOVERY) tp.t_flags |= TF_FASTRECOVERY;
      if (tp.t_flags & TF_WASCRECOVERY) tp.t_flags |= TF_CONGRECOVERY;
      tp.snd_nxt = tp.snd_max;
      tp.t_flags &= ~TF_PREVVALID;
      tp.t_rxtshift = 0;
      tp.t_badrxtwin = 0;
      break;
  }
  if (SEQ_LT(tp.snd_fack, tp.snd_una) || SEQ_GT(tp.snd_fack, tp.snd_max)) tp.snd_fack = tp.snd_una;
  const algo = tp.cc_algo;
  if (algo?.cong_signal) {
    if (th_ack !== undefined) tp.t_ccv.curack = th_ack >>> 0;
    algo.cong_signal(tp.t_ccv, type);
  }
  cwndProbe(tp);
}

/** Loss recovery is over (cc_post_recovery). */
function cc_post_recovery(tp: TcpCb, th_ack: number): void {
  const algo = tp.cc_algo;
  if (algo?.post_recovery) {
    tp.t_ccv.curack = th_ack >>> 0;
    algo.post_recovery(tp.t_ccv);
  }
  tp.t_flags &= ~(TF_FASTRECOVERY | TF_CONGRECOVERY);
  tp.t_bytes_acked = 0;
  const sh = tp.sackhint_p;
  if (sh !== null) {
    sh.delivered_data = 0;
    sh.prr_delivered = 0;
    sh.prr_out = 0;
  }
  cwndProbe(tp);
}

/** The connection was idle for an RTO (cc_after_idle; RFC 5681 §4.1). */
export function cc_after_idle(tp: TcpCb): void {
  tp.cc_algo?.after_idle?.(tp.t_ccv);
}

// --- RTT (tcp_xmit_timer), MSS (tcp_mss) ---

/**
 * A new RTT sample of `rtt` ticks (tcp_xmit_timer; RFC 6298 §2 with FreeBSD's fixed point:
 * srtt scaled by 32, rttvar by 16; alpha 1/8, beta 1/4; RTO = srtt + 4 * rttvar bounded by
 * [max(rttmin, rtt + 2), 64 s] plus the slop).
 */
export function tcp_xmit_timer(tp: TcpCb, rtt: number): void {
  const V = tp.t_vnet;
  V.tcp.stat.tcps_rttupdated++;
  if (tp.t_rttupdated < 255) tp.t_rttupdated++;
  if (tp.t_srtt !== 0 && tp.t_rxtshift <= TCP_RTT_INVALIDATE) {
    let delta = ((rtt - 1) << TCP_DELTA_SHIFT) - (tp.t_srtt >> (TCP_RTT_SHIFT - TCP_DELTA_SHIFT));
    tp.t_srtt += delta;
    if (tp.t_srtt <= 0) tp.t_srtt = 1;
    if (delta < 0) delta = -delta;
    delta -= tp.t_rttvar >> (TCP_RTTVAR_SHIFT - TCP_DELTA_SHIFT);
    tp.t_rttvar += delta;
    if (tp.t_rttvar <= 0) tp.t_rttvar = 1;
  } else {
    // RFC 6298 §2.2: the first measurement.
    tp.t_srtt = rtt << TCP_RTT_SHIFT;
    tp.t_rttvar = rtt << (TCP_RTTVAR_SHIFT - 1);
  }
  tp.t_rtttime = 0;
  tp.t_rxtshift = 0;
  tp.t_rxtcur = TCPT_RANGESET(V, TCP_REXMTVAL(tp), Math.max(tp.t_rttmin, rtt + 2), tcptv_rexmtmax(V));
  tp.t_softerror = 0;
  const algo = tp.cc_algo;
  if (algo?.rttsample) algo.rttsample(tp.t_ccv, Math.round((rtt * V.callwheel.tickNs) / 1000), tp.t_rxtshift, (tp.snd_max - tp.snd_una) | 0);
}

/**
 * Set t_maxseg from the route MTU, the host cache and the peer's offer (tcp_mss_update).
 * offer: the peer's MSS option (0 = none on the SYN, -1 = no SYN yet); mtuoffer: a new path
 * MTU (ICMP), or -1. RFC 9293 §3.7.1 / RFC 6691: the MSS excludes IP and TCP options.
 */
export function tcp_mss_update(tp: TcpCb, offer: number, mtuoffer: number): void {
  const V = tp.t_vnet;
  const inp = tp.t_inpcb;
  const v6 = inp_isv6(inp);
  const minProtoh = (v6 ? IP6_HDR_LEN : IP_HDR_LEN) + TCP_HDR_LEN;
  const maxmtu = tcp_maxmtu(V, inp);
  tp.t_maxseg = v6 ? V.tcp.v6mssdflt : V.tcp.mssdflt;
  if (mtuoffer !== -1) offer = mtuoffer - minProtoh;
  if (maxmtu === 0) return; // no route: stay with the default
  if (offer === 0) offer = tp.t_maxseg;
  else offer = Math.max(offer, V.tcp.minmss); // DoS with tiny MSS (tcp_minmss)
  const hcmtu = v6 ? V.hostcache.getMtu(AF_INET6, 0, inp.in6p_faddr) : V.hostcache.getMtu(AF_INET, inp.inp_faddr, null);
  let mss: number;
  if (hcmtu) mss = Math.min(hcmtu, maxmtu) - minProtoh;
  else {
    mss = maxmtu - minProtoh;
    if (!V.tcp.path_mtu_discovery) {
      const local = v6 ? V.inet6.isLocal(inp.in6p_faddr) : V.inet.isLocal(inp.inp_faddr);
      if (!local) mss = Math.min(mss, v6 ? V.tcp.v6mssdflt : V.tcp.mssdflt);
    }
  }
  mss = Math.min(mss, offer);
  tp.t_maxseg = Math.max(mss, 64);
}

/**
 * The MSS after the peer's SYN (tcp_mss): t_maxseg, then the socket buffers rounded up to a
 * whole number of segments (FreeBSD's 65536 → 65700 with MSS 1460), within kern.ipc.maxsockbuf.
 */
export function tcp_mss(tp: TcpCb, offer: number): void {
  const V = tp.t_vnet;
  tcp_mss_update(tp, offer, -1);
  let mss = tp.t_maxseg;
  const so = tp.t_inpcb.inp_socket;
  if (so === null) return;
  const sbMax = V.socket.maxsockbuf;
  let bufsize = so.so_snd.sb_hiwat;
  if (bufsize < mss) mss = bufsize;
  else {
    bufsize = Math.min(Math.ceil(bufsize / mss) * mss, sbMax);
    if (bufsize > so.so_snd.sb_hiwat) sbreserve(V, so.so_snd, bufsize);
  }
  tp.t_maxseg = Math.max(mss, 64);
  bufsize = so.so_rcv.sb_hiwat;
  if (bufsize > mss) {
    bufsize = Math.min(Math.ceil(bufsize / mss) * mss, sbMax);
    if (bufsize > so.so_rcv.sb_hiwat) sbreserve(V, so.so_rcv, bufsize);
  }
  // The route's interface segments for us (IFCAP_TSO4/6): send TSO bursts (FreeBSD tcp_mss).
  if (tcp_route_tso(V, tp.t_inpcb)) tp.t_flags |= TF_TSO;
  else tp.t_flags &= ~TF_TSO;
}

/**
 * Receive buffer autosizing (tcp_autorcvbuf): once per RTT, if the peer filled more than
 * 3/8 of the buffer, grow it by half up to net.inet.tcp.recvbuf_max.
 */
function tcp_autorcvbuf(tp: TcpCb, tlen: number): number {
  const V = tp.t_vnet;
  const so = tp.t_inpcb.inp_socket;
  if (so === null) return 0;
  const sb = so.so_rcv;
  let newsize = 0;
  if (V.tcp.recvbuf_auto && sb.sb_flags & SB_AUTOSIZE && tp.t_srtt !== 0 && tp.rfbuf_ts !== 0) {
    const elapsedTicks = msToTicks(V, (tcp_ts_getticks(V) - tp.rfbuf_ts) >>> 0);
    if (elapsedTicks > (tp.t_srtt >> TCP_RTT_SHIFT) >> 1) {
      if (tp.rfbuf_cnt > ((sb.sb_hiwat / 2 / 4) | 0) * 3 && sb.sb_hiwat < V.tcp.recvbuf_max)
        newsize = Math.min(sb.sb_hiwat + (sb.sb_hiwat >> 1), V.tcp.recvbuf_max);
      tp.rfbuf_ts = 0;
      tp.rfbuf_cnt = 0;
      return newsize;
    }
  }
  tp.rfbuf_cnt += tlen;
  return newsize;
}

/** Delay the ACK? (DELAY_ACK) Only in order, nothing pending, window not closed, ≤ 1 MSS. */
function DELAY_ACK(tp: TcpCb, tlen: number): boolean {
  return (
    !tcp_timer_active(tp, TT_DELACK) && !(tp.t_flags & TF_RXWIN0SENT) && tlen <= tp.t_maxseg && (tp.t_vnet.tcp.delayed_ack || (tp.t_flags & TF_NEEDSYN) !== 0)
  );
}

/**
 * RFC 5961 §7: limit challenge ACKs (tcp_challenge_ack_check, net.inet.tcp.ack_war_timewindow
 * and ack_war_cnt). True when one may be sent.
 */
export function tcp_ack_war_check(V: Vnet, state: { t_challenge_ack_end: number; t_challenge_ack_cnt: number }): boolean {
  const win = V.tcp.ack_war_timewindow;
  const cnt = V.tcp.ack_war_cnt;
  if (win === 0 || cnt === 0) return true;
  const now = V.callwheel.ticks();
  if (now - state.t_challenge_ack_end >= 0) {
    state.t_challenge_ack_end = now + msToTicks(V, win);
    state.t_challenge_ack_cnt = 0;
  }
  if (state.t_challenge_ack_cnt < cnt) {
    state.t_challenge_ack_cnt++;
    return true;
  }
  V.tcp.stat.tcps_ack_war_drops++;
  return false;
}

/** Send a challenge ACK (tcp_send_challenge_ack, RFC 5961 §3.2, §4.2, §5.2). */
function tcp_send_challenge_ack(tp: TcpCb): void {
  const V = tp.t_vnet;
  if (tcp_ack_war_check(V, tp)) {
    V.tcp.stat.tcps_challenge_ack++;
    tcp_respond(V, tp, null, 0, inp_isv6(tp.t_inpcb), tp.rcv_nxt, tp.snd_nxt, TH_ACK);
    tp.last_ack_sent = tp.rcv_nxt;
  }
}

// --- ECN (tcp_ecn.c, RFC 3168) ---

function tcp_ecn_input_syn_sent(tp: TcpCb, thflags: number): void {
  const V = tp.t_vnet;
  // RFC 3168 §6.1.1: an ECN-setup SYN-ACK has ECE and not CWR.
  if ((thflags & (TH_ECE | TH_CWR)) === TH_ECE && V.tcp.ecn_enable === 1) {
    tp.t_flags2 |= TF2_ECN_PERMIT;
    V.tcp.stat.tcps_ecn_shs++;
  }
}

function tcp_ecn_input_segment(tp: TcpCb, thflags: number, iptos: number): boolean {
  const st = tp.t_vnet.tcp.stat;
  switch (iptos & IPTOS_ECN_MASK) {
    case IPTOS_ECN_CE:
      st.tcps_ecn_rcvce++;
      break;
    case IPTOS_ECN_ECT0:
      st.tcps_ecn_rcvect0++;
      break;
    case IPTOS_ECN_ECT1:
      st.tcps_ecn_rcvect1++;
      break;
  }
  let delta = false;
  if (tp.t_flags2 & TF2_ECN_PERMIT) {
    if ((thflags & (TH_SYN | TH_ECE)) === TH_ECE) delta = true;
    if (thflags & TH_CWR) {
      tp.t_flags2 &= ~TF2_ECN_SND_ECE;
      tp.t_flags |= TF_ACKNOW;
    }
    if ((iptos & IPTOS_ECN_MASK) === IPTOS_ECN_CE) tp.t_flags2 |= TF2_ECN_SND_ECE;
  }
  return delta;
}

// --- input ---

/** The goto labels of FreeBSD's tcp_do_segment. */
const Go = { None: 0, ProcessAck: 1, Step6: 2, Drop: 3, DropAfterAck: 4, DropWithReset: 5 } as const;

/** IPv4 input (pr_input). */
export function tcp_input(m: Mbuf, off: number, _proto: number): void {
  const V = (m.rcvif as NonNullable<Mbuf['rcvif']>).if_vnet;
  tcp_input_common(V, m, off, false);
}

/** IPv6 input (pr_input for next header 6). */
export function tcp6_input(m: Mbuf, off: number, _proto: number): void {
  const V = (m.rcvif as NonNullable<Mbuf['rcvif']>).if_vnet;
  tcp_input_common(V, m, off, true);
}

function tcp_input_common(V: Vnet, m0: Mbuf, off: number, isv6: boolean): void {
  const tcp = V.tcp;
  const st = tcp.stat;
  st.tcps_rcvtotal++;
  let m: Mbuf | null = m0;
  if (m.m_len < off + TCP_HDR_LEN) {
    m = V.mbufs.pullup(m, off + TCP_HDR_LEN);
    if (m === null) {
      st.tcps_rcvshort++;
      return;
    }
  }
  let b = m.m_buf;
  let o = m.m_data;
  let iplen: number;
  let iptos: number;
  if (isv6) {
    iplen = IP6_HDR_LEN + get16(b, o + 4);
    iptos = (get32(b, o) >>> 20) & 0xff;
    // RFC 4291 §2.5.2: the unspecified address is never a source.
    let zero = true;
    for (let i = 0; i < 16; i++) if (b[o + 8 + i] !== 0) zero = false;
    if (zero) {
      m_freem(m);
      return;
    }
  } else {
    iplen = get16(b, o + 2);
    iptos = b[o + 1] as number;
  }
  if (iplen > m.len) iplen = m.len;
  const tcplen = iplen - off;
  if (tcplen < TCP_HDR_LEN) {
    st.tcps_rcvshort++;
    m_freem(m);
    return;
  }
  // Checksum over the pseudo-header and the segment (RFC 9293 §3.1).
  let ok: boolean;
  if (m.csum_flags & CSUM_DATA_VALID && m.csum_flags & CSUM_PSEUDO_HDR) ok = m.csum_data === 0xffff;
  else {
    const ps = isv6 ? pseudoSum6(b, o + 8, b, o + 24, IPPROTO_TCP, tcplen) : pseudoSum4(get32(b, o + 12), get32(b, o + 16), IPPROTO_TCP, tcplen);
    if (m.csum_flags & CSUM_DATA_VALID) ok = cksumFinish(m.csum_data + ps) === 0;
    else ok = cksumFinish(in_cksum_chain(m, off, tcplen, ps)) === 0;
  }
  if (!ok) {
    st.tcps_rcvbadsum++;
    m_freem(m);
    return;
  }
  const th = o + off;
  const thoff = ((b[th + 12] as number) >> 4) << 2;
  if (thoff < TCP_HDR_LEN || thoff > tcplen) {
    st.tcps_rcvbadoff++;
    m_freem(m);
    return;
  }
  if (m.m_len < off + thoff) {
    m = V.mbufs.pullup(m, off + thoff);
    if (m === null) {
      st.tcps_rcvshort++;
      return;
    }
    b = m.m_buf;
    o = m.m_data;
  }
  const s = V.tcp.in_seg;
  s.m = m;
  s.isv6 = isv6;
  s.off = off;
  const t = o + off;
  s.th_sport = get16(b, t);
  s.th_dport = get16(b, t + 2);
  s.th_seq = get32(b, t + 4);
  s.th_ack = get32(b, t + 8);
  s.thflags = b[t + 13] as number;
  s.th_win = get16(b, t + 14);
  s.th_urp = get16(b, t + 18);
  s.drop_hdrlen = off + thoff;
  s.tlen = tcplen - thoff;
  s.iptos = iptos;
  s.optOff = t + TCP_HDR_LEN;
  s.optLen = thoff - TCP_HDR_LEN;
  // Trim link-layer padding beyond the IP datagram.
  if (m.len > iplen) m_adj(m, iplen - m.len);

  let wildcard = true;
  let rstreason = 0;
  for (let attempts = 0; attempts < 3; attempts++) {
    // findpcb: exact 4-tuple, else a listener (wildcard).
    let inp: Inpcb | null;
    if (isv6) inp = tcp.info.lookup6(b, s.th_sport, b, s.th_dport, wildcard, o + 8, o + 24);
    else inp = tcp.info.lookup4(get32(b, o + 12), s.th_sport, get32(b, o + 16), s.th_dport, wildcard);
    // ---- VTW (issue 6, tcp_timewait.ts): no full PCB holds the 4-tuple (none found, or only
    // a listener, which the exact match would have beaten): is there a TIME_WAIT vestige? ----
    if ((inp === null || inp.inp_fport === 0) && (isv6 ? V.vtw.count6 : V.vtw.count4) !== 0) {
      const vi = isv6 ? V.vtw.lookup6(b, o + 24, s.th_dport, b, o + 8, s.th_sport) : V.vtw.lookup4(get32(b, o + 16), s.th_dport, get32(b, o + 12), s.th_sport);
      if (vi >= 0) {
        tcp_dooptions(V, tcp.in_to, b, s.optOff, s.optLen, s.thflags & TH_SYN ? TO_SYN : 0);
        if (tcp_vtw_twcheck(V, vi, tcp.in_to, s)) continue; // vestige gone: look for a listener
        return;
      }
    }
    // ---- end VTW ----
    if (inp === null) {
      if (rstreason !== 0) {
        tcp_dropwithreset(V, m, off, isv6, null, s.thflags, s.tlen, s.th_seq, s.th_ack, rstreason);
        return;
      }
      // Blackholing (net.inet.tcp.blackhole): no RST for closed ports.
      if ((tcp.blackhole === 1 && s.thflags & TH_SYN) || tcp.blackhole === 2) {
        m_freem(m);
        return;
      }
      tcp_dropwithreset(V, m, off, isv6, null, s.thflags, s.tlen, s.th_seq, s.th_ack, BANDLIM_RST_CLOSEDPORT);
      return;
    }
    const tp = inp.inp_ppcb as TcpCb | null;
    if (tp === null || tp.t_freed || inp.inp_flags & INP_DROPPED || tp.t_state === TCPS_CLOSED) {
      const rtp = tp !== null && !tp.t_freed ? tp : null;
      tcp_dropwithreset(V, m, off, isv6, rtp, s.thflags, s.tlen, s.th_seq, s.th_ack, BANDLIM_RST_CLOSEDPORT);
      return;
    }
    const to = tcp.in_to;
    if (tp.t_state === TCPS_TIME_WAIT) {
      tcp_dooptions(V, to, b, s.optOff, s.optLen, s.thflags & TH_SYN ? TO_SYN : 0);
      if (tcp_twcheck(tp, to, s)) continue; // killed: look for a listener
      return;
    }
    const so = inp.inp_socket;
    if (tp.t_state === TCPS_LISTEN && so !== null) {
      if ((s.thflags & (TH_RST | TH_ACK | TH_SYN)) === TH_ACK) {
        // The third segment of a handshake: the SYN cache turns it into a connection.
        tcp_dooptions(V, to, b, s.optOff, s.optLen, 0);
        const r = syncache_expand(V, inp, to, s);
        if (r.result < 0) {
          m_freem(m);
          return;
        }
        if (r.result === 0) {
          // No entry, or the ACK is not for our SYN-ACK: look again without the
          // wildcard (the connection may have been made by a duplicate ACK), else RST.
          rstreason = BANDLIM_RST_OPENPORT;
          wildcard = false;
          continue;
        }
        const ntp = r.tp;
        if (ntp === null) {
          // Handshake complete but no socket (listen queue full, limits).
          if (tcp.sc_rst_sock_fail) tcp_dropwithreset(V, m, off, isv6, null, s.thflags, s.tlen, s.th_seq, s.th_ack, -1);
          else m_freem(m);
          return;
        }
        fireReceive(V, ntp, s);
        tcp_do_segment(ntp, s, to);
        return;
      }
      if (s.thflags & TH_RST) {
        syncache_chkrst(V, s);
        m_freem(m);
        return;
      }
      if (!(s.thflags & TH_SYN)) {
        st.tcps_badsyn++;
        m_freem(m);
        return;
      }
      if (s.thflags & TH_ACK) {
        // A SYN-ACK to a listener is dropped without a RST (FreeBSD; the conformance suite's
        // rcv-syn-ack-listen), and any SYN cache entry of that connection goes.
        syncache_badack(V, s);
        st.tcps_badsyn++;
        m_freem(m);
        return;
      }
      if (s.thflags & TH_FIN && tcp.drop_synfin) {
        st.tcps_badsyn++;
        m_freem(m);
        return;
      }
      // RFC 1122 §4.2.3.10: no connection from/to broadcast or multicast; a SYN from
      // ourselves to the same port is forged (LAND).
      if (m.m_flags & (M_BCAST | M_MCAST) || badSynAddresses(V, m, isv6, s)) {
        m_freem(m);
        return;
      }
      tcp_dooptions(V, to, b, s.optOff, s.optLen, TO_SYN);
      syncache_add(V, inp, tp, to, s);
      m_freem(m);
      return;
    }
    fireReceive(V, tp, s);
    tcp_do_segment(tp, s, tcp.in_to);
    return;
  }
  m_freem(m);
}

function fireReceive(V: Vnet, tp: TcpCb, s: TcpSeg): void {
  const p = V.tcp.probes.receive;
  if (p.enabled) p.fire(tp, s.th_seq, s.tlen, s.thflags, s.th_ack);
}

function badSynAddresses(V: Vnet, m: Mbuf, isv6: boolean, s: TcpSeg): boolean {
  const b = m.m_buf;
  const o = m.m_data;
  if (isv6) {
    if (b[o + 24] === 0xff || b[o + 8] === 0xff) return true;
    if (s.th_dport === s.th_sport) {
      let same = true;
      for (let i = 0; i < 16; i++) if (b[o + 8 + i] !== b[o + 24 + i]) same = false;
      if (same) return true;
    }
    return false;
  }
  const src = get32(b, o + 12);
  const dst = get32(b, o + 16);
  if (s.th_dport === s.th_sport && src === dst) return true;
  return IN_MULTICAST(dst) || IN_MULTICAST(src) || src === INADDR_BROADCAST || V.inet.isBroadcast(dst, m.rcvif);
}

/**
 * Process a segment for a connection (tcp_do_segment). Consumes s.m.
 */
export function tcp_do_segment(tp: TcpCb, s: TcpSeg, to: TcpOptsScratch): void {
  const V = tp.t_vnet;
  const tcp = V.tcp;
  const st = tcp.stat;
  const inp = tp.t_inpcb;
  const so = inp.inp_socket;
  let m: Mbuf | null = s.m;
  let thflags = s.thflags;
  let th_seq = s.th_seq;
  const th_ack = s.th_ack;
  let th_urp = s.th_urp;
  let tlen = s.tlen;
  let drop_hdrlen = s.drop_hdrlen;
  const iptos = s.iptos;
  const ticks = V.callwheel.ticks();
  let needoutput = false;
  let sack_changed = SACK_NOCHANGE;
  let rstreason = 0;
  if (so === null) {
    m_freem(m);
    return;
  }
  const sh0 = tp.sackhint_p; // all zeros when not made yet
  if (sh0 !== null) {
    sh0.last_sack_ack = 0;
    sh0.delivered_data = 0;
  }

  tcp_dooptions(V, to, m.m_buf, s.optOff, s.optLen, thflags & TH_SYN ? TO_SYN : 0);

  if (thflags & TH_SYN && thflags & TH_FIN && tcp.drop_synfin) {
    m_freem(m);
    return;
  }
  // The echoed timestamp is in our clock plus the connection's offset (RFC 7323 §5.4):
  // normalise it; one from the future is useless for RTT measurement.
  if (to.flags & TOF_TS && to.tsecr !== 0) {
    to.tsecr = (to.tsecr - tp.ts_offset) >>> 0;
    if (TSTMP_GT(to.tsecr, tcp_ts_getticks(V))) to.tsecr = 0;
    else if (tp.t_rxtshift === 1 && tp.t_flags & TF_PREVVALID && tp.t_badrxtwin !== 0 && TSTMP_LT(to.tsecr, tp.t_badrxtwin))
      cc_cong_signal(tp, CC_RTO_ERR, th_ack);
  }
  // RFC 3168 ECN input; a CE-marked or ECE segment is a congestion signal.
  if (tcp_ecn_input_segment(tp, thflags, iptos)) cc_cong_signal(tp, CC_ECN, th_ack);

  // Segment received on the connection: reset the idle time. Like FreeBSD 13+, the keepalive
  // callout is not rescheduled per segment: tcp_timer_keep compares the idle time with
  // keepidle when it fires and re-arms itself for the remainder.
  tp.t_rcvtime = ticks;

  // RFC 7323 §2.2: the window of a SYN is never scaled.
  const tiwin = thflags & TH_SYN ? s.th_win : s.th_win << tp.snd_scale;
  if (!(tp.t_flags & TF_SACK_PERMIT)) to.flags &= ~TOF_SACK;

  // RFC 9293 §3.10.7.3: in SYN-SENT an ACK outside (ISS, SND.MAX] gets a RST, before the
  // segment's options can change the connection (FreeBSD checks this in tcp_input).
  if (tp.t_state === TCPS_SYN_SENT && thflags & TH_ACK && (SEQ_LEQ(th_ack, tp.iss) || SEQ_GT(th_ack, tp.snd_max))) {
    tcp_dropwithreset(V, m, s.off, s.isv6, tp, thflags, tlen, th_seq, th_ack, BANDLIM_RST_OPENPORT);
    return;
  }
  // Options of the SYN-ACK (the passive side's come through the SYN cache).
  if (tp.t_state === TCPS_SYN_SENT && thflags & TH_SYN) {
    if (to.flags & TOF_SCALE && tp.t_flags & TF_REQ_SCALE && !(tp.t_flags & TF_NOOPT)) {
      tp.t_flags |= TF_RCVD_SCALE;
      tp.snd_scale = to.wscale;
    } else tp.t_flags &= ~TF_REQ_SCALE;
    tp.snd_wnd = s.th_win;
    if (to.flags & TOF_TS && tp.t_flags & TF_REQ_TSTMP && !(tp.t_flags & TF_NOOPT)) {
      tp.t_flags |= TF_RCVD_TSTMP;
      tp.ts_recent = to.tsval;
      tp.ts_recent_age = tcp_ts_getticks(V);
    } else tp.t_flags &= ~TF_REQ_TSTMP;
    if (to.flags & TOF_MSS) tcp_mss(tp, to.mss);
    if (tp.t_flags & TF_SACK_PERMIT && (!(to.flags & TOF_SACKPERM) || tp.t_flags & TF_NOOPT)) tp.t_flags &= ~TF_SACK_PERMIT;
  }
  // RFC 7323 §3.2: a segment without timestamps on a connection that uses them is dropped,
  // unless net.inet.tcp.tolerate_missing_ts (or it is a RST).
  if (tp.t_flags & TF_RCVD_TSTMP && !(to.flags & TOF_TS)) {
    if (!(thflags & TH_RST) && !tcp.tolerate_missing_ts) {
      m_freem(m);
      return;
    }
  }
  // ... and timestamps on a connection that did not negotiate them are ignored.
  if (!(tp.t_flags & TF_RCVD_TSTMP) && to.flags & TOF_TS) to.flags &= ~TOF_TS;

  // Header prediction: the common in-order cases on an established connection.
  if (
    tp.t_state === TCPS_ESTABLISHED &&
    th_seq === tp.rcv_nxt &&
    (thflags & (TH_SYN | TH_FIN | TH_RST | TH_URG | TH_ACK)) === TH_ACK &&
    tp.snd_nxt === tp.snd_max &&
    tiwin !== 0 &&
    tiwin === tp.snd_wnd &&
    !(tp.t_flags & (TF_NEEDSYN | TF_NEEDFIN)) &&
    tp.t_segq.length === 0 &&
    (!(to.flags & TOF_TS) || TSTMP_GEQ(to.tsval, tp.ts_recent))
  ) {
    if (to.flags & TOF_TS && SEQ_LEQ(th_seq, tp.last_ack_sent)) {
      tp.ts_recent_age = tcp_ts_getticks(V);
      tp.ts_recent = to.tsval;
    }
    if (tlen === 0) {
      if (SEQ_GT(th_ack, tp.snd_una) && SEQ_LEQ(th_ack, tp.snd_max) && !IN_RECOVERY(tp) && !(to.flags & TOF_SACK) && tp.snd_holes.length === 0) {
        // A pure ACK for outstanding data.
        st.tcps_predack++;
        if (badRetransmit(tp, to, ticks)) cc_cong_signal(tp, CC_RTO_ERR, th_ack);
        rttSample(tp, to, th_ack, ticks);
        const acked = bytesThisAck(tp, th_ack);
        st.tcps_rcvackpack++;
        st.tcps_rcvackbyte += acked;
        sbdrop(so.so_snd, acked);
        if (SEQ_GT(tp.snd_una, tp.snd_recover) && SEQ_LEQ(th_ack, tp.snd_recover)) tp.snd_recover = (th_ack - 1) >>> 0;
        cc_ack_received(tp, th_ack, 1, CC_ACK);
        tp.snd_una = th_ack;
        tp.snd_wl2 = th_ack;
        tp.t_dupacks = 0;
        m_freem(m);
        if (tp.snd_una === tp.snd_max) tcp_timer_activate(tp, TT_REXMT, 0);
        else if (!tcp_timer_active(tp, TT_PERSIST)) tcp_timer_activate(tp, TT_REXMT, tp.t_rxtcur);
        sowwakeup(so);
        if (so.so_snd.sb_ccc > 0) tcp_output(tp);
        check_delack(tp);
        return;
      }
    } else if (th_ack === tp.snd_una && tlen <= sbspace(so.so_rcv)) {
      // In-sequence data, nothing queued, room in the buffer.
      if (tp.t_flags & TF_SACK_PERMIT && tp.rcv_numsacks) tcp_clean_sackreport(tp);
      st.tcps_preddat++;
      tp.rcv_nxt = (tp.rcv_nxt + tlen) >>> 0;
      tp.snd_wl1 = th_seq;
      tp.rcv_up = tp.rcv_nxt;
      st.tcps_rcvpack++;
      st.tcps_rcvbyte += tlen;
      tp.t_rcvbytes += tlen;
      tp.t_rcvpack++;
      const newsize = tcp_autorcvbuf(tp, tlen);
      if (so.so_rcv.sb_state & SBS_CANTRCVMORE) m_freem(m);
      else {
        if (newsize && !sbreserve(V, so.so_rcv, newsize)) so.so_rcv.sb_flags &= ~SB_AUTOSIZE;
        m_adj(m, drop_hdrlen);
        sbappendstream(V, so.so_rcv, m);
      }
      tp.t_flags |= TF_WAKESOR;
      tcp_handle_wakeup(tp);
      if (DELAY_ACK(tp, tlen)) tp.t_flags |= TF_DELACK;
      else {
        tp.t_flags |= TF_ACKNOW;
        tcp_output(tp);
      }
      check_delack(tp);
      return;
    }
  }

  // Receive window: space in the buffer, but not less than what we advertised.
  const win = Math.max(sbspace(so.so_rcv), 0);
  tp.rcv_wnd = Math.max(win, (tp.rcv_adv - tp.rcv_nxt) | 0);

  let incforsyn = false;
  // The labelled sections of FreeBSD's tcp_do_segment, as a small state machine.
  let go: number = Go.None;

  switch (tp.t_state) {
    case TCPS_SYN_RECEIVED:
      // RFC 9293 §3.10.7.4: an ACK that does not acknowledge our SYN is answered by a RST.
      if (!(thflags & TH_RST) && thflags & TH_ACK && (SEQ_LEQ(th_ack, tp.snd_una) || SEQ_GT(th_ack, tp.snd_max))) {
        rstreason = BANDLIM_RST_OPENPORT;
        go = Go.DropWithReset;
      }
      break;
    case TCPS_SYN_SENT:
      // RFC 9293 §3.10.7.3.
      if (thflags & TH_ACK && (SEQ_LEQ(th_ack, tp.iss) || SEQ_GT(th_ack, tp.snd_max))) {
        rstreason = -1;
        go = Go.DropWithReset;
        break;
      }
      if ((thflags & (TH_ACK | TH_RST)) === (TH_ACK | TH_RST)) {
        const p = tcp.probes.connectRefused;
        if (p.enabled) p.fire(tp);
        tcp_drop(tp, ECONNREFUSED);
        go = Go.Drop;
        break;
      }
      if (thflags & TH_RST || !(thflags & TH_SYN)) {
        go = Go.Drop;
        break;
      }
      tp.irs = th_seq;
      tp.rcv_nxt = (th_seq + 1) >>> 0;
      tp.rcv_adv = tp.rcv_nxt;
      if (thflags & TH_ACK) {
        st.tcps_connects++;
        soisconnected(so);
        if ((tp.t_flags & (TF_RCVD_SCALE | TF_REQ_SCALE)) === (TF_RCVD_SCALE | TF_REQ_SCALE)) tp.rcv_scale = tp.request_r_scale;
        tp.rcv_adv = (tp.rcv_adv + Math.min(tp.rcv_wnd, TCP_MAXWIN << tp.rcv_scale)) >>> 0;
        tp.snd_una = (tp.snd_una + 1) >>> 0;
        // Data on the SYN-ACK: delay the ACK; a FIN will turn ACKNOW on later.
        if (DELAY_ACK(tp, tlen) && tlen !== 0) tcp_timer_activate(tp, TT_DELACK, msToTicks(V, tcp.delacktime));
        else tp.t_flags |= TF_ACKNOW;
        tcp_ecn_input_syn_sent(tp, thflags);
        tp.t_starttime = ticks;
        if (tp.t_flags & TF_NEEDFIN) {
          tcp_state_change(tp, TCPS_FIN_WAIT_1);
          tp.t_flags &= ~TF_NEEDFIN;
          thflags &= ~TH_SYN;
        } else {
          tcp_state_change(tp, TCPS_ESTABLISHED);
          const p = tcp.probes.connectEstablished;
          if (p.enabled) p.fire(tp);
          cc_conn_init(tp);
          tcp_timer_activate(tp, TT_KEEP, TP_KEEPIDLE(tp));
        }
      } else {
        // Simultaneous open (RFC 9293 §3.5, figure 8): SYN-SENT → SYN-RECEIVED.
        tp.t_flags |= TF_ACKNOW | TF_NEEDSYN | TF_SONOTCONN;
        tcp_timer_activate(tp, TT_REXMT, 0);
        tcp_state_change(tp, TCPS_SYN_RECEIVED);
      }
      // Advance th_seq past the SYN; trim data beyond the window (dropping a FIN).
      th_seq = (th_seq + 1) >>> 0;
      if (tlen > tp.rcv_wnd) {
        const todrop = tlen - tp.rcv_wnd;
        m_adj(m, -todrop);
        tlen = tp.rcv_wnd;
        thflags &= ~TH_FIN;
        st.tcps_rcvpackafterwin++;
        st.tcps_rcvbyteafterwin += todrop;
      }
      tp.snd_wl1 = (th_seq - 1) >>> 0;
      tp.rcv_up = th_seq;
      go = thflags & TH_ACK ? Go.ProcessAck : Go.Step6;
      break;
  }

  if (go === Go.None) {
    // RFC 5961 §3.2 (and RFC 9293 §3.10.7.4 first check): a RST is acceptable only if it is
    // in the window; it resets only when exactly at RCV.NXT (last_ack_sent covers delayed
    // ACKs), otherwise a challenge ACK.
    if (thflags & TH_RST) {
      const lastAck = tp.last_ack_sent;
      if ((SEQ_GEQ(th_seq, lastAck) && SEQ_LT(th_seq, (lastAck + tp.rcv_wnd) >>> 0)) || (tp.rcv_wnd === 0 && lastAck === th_seq)) {
        if (tcp.insecure_rst || lastAck === th_seq) {
          st.tcps_drops++;
          switch (tp.t_state) {
            case TCPS_SYN_RECEIVED:
              so.so_error = ECONNREFUSED;
              break;
            case TCPS_ESTABLISHED:
            case TCPS_FIN_WAIT_1:
            case TCPS_FIN_WAIT_2:
            case TCPS_CLOSE_WAIT:
            case TCPS_CLOSING:
            case TCPS_LAST_ACK:
              so.so_error = ECONNRESET;
              break;
          }
          tcp_close(tp);
        } else {
          st.tcps_badrst++;
          tcp_send_challenge_ack(tp);
        }
      }
      m_freem(m);
      return;
    }
    // RFC 5961 §4.2: a SYN on a synchronised connection gets a challenge ACK.
    if (thflags & TH_SYN && tp.t_state !== TCPS_SYN_SENT && tp.t_state !== TCPS_SYN_RECEIVED) {
      st.tcps_badsyn++;
      if (tcp.insecure_syn && SEQ_GEQ(th_seq, tp.last_ack_sent) && SEQ_LT(th_seq, (tp.last_ack_sent + tp.rcv_wnd) >>> 0)) {
        tcp_drop(tp, ECONNRESET);
      } else {
        tcp_send_challenge_ack(tp);
      }
      m_freem(m);
      return;
    }
    // RFC 7323 §5.3 PAWS: a timestamp older than ts_recent marks an old duplicate.
    if (to.flags & TOF_TS && tp.ts_recent !== 0 && TSTMP_LT(to.tsval, tp.ts_recent)) {
      if ((tcp_ts_getticks(V) - tp.ts_recent_age) >>> 0 > TCP_PAWS_IDLE) {
        tp.ts_recent = 0; // RFC 7323 §5.5: ts_recent too old to be trusted
      } else {
        st.tcps_rcvduppack++;
        st.tcps_rcvdupbyte += tlen;
        st.tcps_pawsdrop++;
        if (tlen) go = Go.DropAfterAck;
        else go = Go.Drop;
      }
    }
  }
  if (go === Go.None) {
    // In SYN_RECEIVED, a sequence number before IRS is forged (LAND): RST.
    if (tp.t_state === TCPS_SYN_RECEIVED && SEQ_LT(th_seq, tp.irs)) {
      rstreason = BANDLIM_RST_OPENPORT;
      go = Go.DropWithReset;
    }
  }
  if (go === Go.None) {
    // Trim data before the window (RFC 9293 §3.10.7.4 first check; Stevens vol. 2 p. 960).
    let todrop = (tp.rcv_nxt - th_seq) | 0;
    if (todrop > 0) {
      if (thflags & TH_SYN) {
        thflags &= ~TH_SYN;
        th_seq = (th_seq + 1) >>> 0;
        if (th_urp > 1) th_urp--;
        else thflags &= ~TH_URG;
        todrop--;
      }
      if (todrop > tlen || (todrop === tlen && !(thflags & TH_FIN))) {
        // A complete duplicate: resynchronise with an ACK, but go on for RST/ACK processing.
        thflags &= ~TH_FIN;
        tp.t_flags |= TF_ACKNOW;
        todrop = tlen;
        st.tcps_rcvduppack++;
        st.tcps_rcvdupbyte += todrop;
      } else {
        st.tcps_rcvpartduppack++;
        st.tcps_rcvpartdupbyte += todrop;
      }
      // RFC 2883 §4: report the duplicate range as a D-SACK block.
      if (todrop > 0 && tp.t_flags & TF_SACK_PERMIT) {
        tcp_update_sack_list(tp, th_seq, (th_seq + todrop) >>> 0);
        tp.t_flags |= TF_ACKNOW;
      }
      drop_hdrlen += todrop;
      th_seq = (th_seq + todrop) >>> 0;
      tlen -= todrop;
      if (th_urp > todrop) th_urp -= todrop;
      else {
        thflags &= ~TH_URG;
        th_urp = 0;
      }
    }
    // Data after the user closed (no FIN received yet): RST the peer (RFC 9293 §3.10.7.4).
    if (tp.t_flags & TF_CLOSED && tlen > 0 && !TCPS_HAVERCVDFIN(tp.t_state)) {
      tcp_close(tp);
      st.tcps_rcvafterclose++;
      tcp_dropwithreset(V, m, s.off, s.isv6, null, thflags, tlen, th_seq, th_ack, -1);
      return;
    }
    // Trim data beyond the window; with nothing left, just ACK (window probes excepted).
    todrop = (th_seq + tlen - (tp.rcv_nxt + tp.rcv_wnd)) | 0;
    if (todrop > 0) {
      st.tcps_rcvpackafterwin++;
      if (todrop >= tlen) {
        st.tcps_rcvbyteafterwin += tlen;
        if (tp.rcv_wnd === 0 && th_seq === tp.rcv_nxt) {
          tp.t_flags |= TF_ACKNOW;
          st.tcps_rcvwinprobe++;
        } else go = Go.DropAfterAck;
      } else st.tcps_rcvbyteafterwin += todrop;
      if (go === Go.None) {
        m_adj(m, -todrop);
        tlen -= todrop;
        thflags &= ~(TH_PUSH | TH_FIN);
      }
    }
  }
  if (go === Go.None) {
    // RFC 7323 §4.3: remember the timestamp of a segment that covers last_ack_sent.
    if (to.flags & TOF_TS && SEQ_LEQ(th_seq, tp.last_ack_sent) && SEQ_LEQ(tp.last_ack_sent, (th_seq + tlen + (thflags & (TH_SYN | TH_FIN) ? 1 : 0)) >>> 0)) {
      tp.ts_recent_age = tcp_ts_getticks(V);
      tp.ts_recent = to.tsval;
    }
    // No ACK: only data for a half-synchronised connection is kept (RFC 9293 §3.10.7.4).
    if (!(thflags & TH_ACK)) {
      if (tp.t_state === TCPS_SYN_RECEIVED || tp.t_flags & TF_NEEDSYN) go = Go.Step6;
      else if (tp.t_flags & TF_ACKNOW) go = Go.DropAfterAck;
      else go = Go.Drop;
    }
  }

  // --- ACK processing ---
  if (go === Go.None) {
    if (tp.t_state === TCPS_SYN_RECEIVED) {
      st.tcps_connects++;
      if (tp.t_flags & TF_SONOTCONN) {
        tp.t_flags &= ~TF_SONOTCONN;
        soisconnected(so);
      }
      if ((tp.t_flags & (TF_RCVD_SCALE | TF_REQ_SCALE)) === (TF_RCVD_SCALE | TF_REQ_SCALE)) tp.rcv_scale = tp.request_r_scale;
      tp.snd_wnd = tiwin;
      tp.t_starttime = ticks;
      if (tp.t_flags & TF_NEEDFIN) {
        tcp_state_change(tp, TCPS_FIN_WAIT_1);
        tp.t_flags &= ~TF_NEEDFIN;
      } else {
        tcp_state_change(tp, TCPS_ESTABLISHED);
        const p = tcp.probes.acceptEstablished;
        if (p.enabled) p.fire(tp);
        cc_conn_init(tp);
        tcp_timer_activate(tp, TT_KEEP, TP_KEEPIDLE(tp));
      }
      // The ACK of our SYN is counted before regular ACK processing (not for simultaneous SYN).
      if (SEQ_GT(th_ack, tp.snd_una) && !(tp.t_flags & TF_NEEDSYN)) incforsyn = true;
      if (tlen === 0 && !(thflags & TH_FIN)) {
        tcp_reass(tp, 0, 0, 0, null);
        tcp_handle_wakeup(tp);
      }
      tp.snd_wl1 = (th_seq - 1) >>> 0;
    }
    // ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK (and SYN_RECEIVED).
    if (SEQ_GT(th_ack, tp.snd_max)) {
      st.tcps_rcvacktoomuch++;
      go = Go.DropAfterAck;
    } else if (!tcp.insecure_ack && tp.t_state !== TCPS_SYN_RECEIVED) {
      // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT]; an older one
      // (or one before our ISN: a "ghost" ACK) draws a challenge ACK and the segment is dropped.
      if (SEQ_LT(th_ack, (tp.iss + 1) >>> 0)) {
        st.tcps_rcvghostack++;
        tcp_send_challenge_ack(tp);
        m_freem(m);
        return;
      }
      if (SEQ_LT(th_ack, (tp.snd_una - tp.max_sndwnd) >>> 0)) {
        st.tcps_rcvacktooold++;
        tcp_send_challenge_ack(tp);
        m_freem(m);
        return;
      }
    }
  }
  let maxseg = 0;
  if (go === Go.None) {
    if (tcp_is_sack_recovery(tp, to)) {
      sack_changed = tcp_sack_doack(tp, to, th_ack);
      if (sack_changed !== SACK_NOCHANGE && tp.t_flags & TF_LRD) tcp_sack_lost_retransmission(tp, th_ack);
    } else {
      const sh = tp.sackhint_p;
      if (sh !== null) sh.sacked_bytes = 0;
    }

    let enterRecovery = false;
    if (SEQ_LEQ(th_ack, tp.snd_una)) {
      maxseg = tcp_maxseg(tp);
      go = Go.Step6;
      if (tlen === 0 && (tiwin === tp.snd_wnd || tp.t_flags & TF_SACK_PERMIT)) {
        // A simultaneous close's first FIN is not a duplicate ACK.
        if (thflags & TH_FIN && !TCPS_HAVERCVDFIN(tp.t_state)) {
          tp.t_dupacks = 0;
        } else {
          st.tcps_rcvdupack++;
          // Old ACKs and SACK ACKs without new information do not count (RFC 6675 §5).
          if (th_ack !== tp.snd_una || (tcp_is_sack_recovery(tp, to) && sack_changed === SACK_NOCHANGE)) {
            // not a duplicate
          } else if (!tcp_timer_active(tp, TT_REXMT)) {
            tp.t_dupacks = 0;
          } else if (++tp.t_dupacks > tcprexmtthresh || IN_FASTRECOVERY(tp)) {
            // In recovery: each further duplicate ACK lets more out (RFC 5681 §3.2 step 4,
            // RFC 6675 §5, RFC 6937).
            cc_ack_received(tp, th_ack, 1, CC_DUPACK);
            if (tcp.do_prr && IN_FASTRECOVERY(tp) && tp.t_flags & TF_SACK_PERMIT) {
              tcp_do_prr_ack(tp, th_ack, sack_changed, maxseg, to);
            } else if (tcp_is_sack_recovery(tp, to) && IN_FASTRECOVERY(tp) && tp.snd_nxt === tp.snd_max) {
              const awnd = tcp_compute_pipe(tp);
              if (awnd < tp.snd_ssthresh) {
                tp.snd_cwnd += Math.max(maxseg, Math.min(2 * maxseg, tp.sackhint_r.delivered_data));
                if (tp.snd_cwnd > tp.snd_ssthresh) tp.snd_cwnd = tp.snd_ssthresh;
              }
            } else if (tcp_is_sack_recovery(tp, to) && IN_FASTRECOVERY(tp) && SEQ_LT(tp.snd_nxt, tp.snd_max)) {
              tp.snd_cwnd += Math.max(maxseg, Math.min(2 * maxseg, tp.sackhint_r.delivered_data));
            } else {
              tp.snd_cwnd += maxseg;
            }
            tcp_output(tp);
            go = Go.Drop;
          } else if (
            tp.t_dupacks === tcprexmtthresh ||
            (tp.t_flags & TF_SACK_PERMIT && tcp.do_newsack && tp.sackhint_r.sacked_bytes > (tcprexmtthresh - 1) * maxseg)
          ) {
            enterRecovery = true;
          } else if (tcp.rfc3042) {
            // RFC 3042 limited transmit: one new segment per the first two duplicate ACKs.
            cc_ack_received(tp, th_ack, 1, CC_DUPACK);
            const oldcwnd = tp.snd_cwnd;
            const oldsndmax = tp.snd_max;
            if (tp.t_dupacks === 1) tp.snd_limited = 0;
            if (tp.snd_nxt === tp.snd_max && tp.t_rxtshift === 0) tp.snd_cwnd = ((tp.snd_nxt - tp.snd_una) | 0) + (tp.t_dupacks - tp.snd_limited) * maxseg;
            const avail = so.so_snd.sb_ccc;
            if (tp.t_flags & TF_ACKNOW || avail >= ((tp.snd_nxt - tp.snd_una) | 0)) tcp_output(tp);
            const sent = (tp.snd_max - oldsndmax) | 0;
            if (sent > maxseg) tp.snd_limited = 2;
            else if (sent > 0) tp.snd_limited++;
            tp.snd_cwnd = oldcwnd;
            go = Go.Drop;
          }
        }
      }
    } else {
      // The ACK advances the left edge.
      tp.t_dupacks = 0;
      // RFC 6675: new SACK information on an advancing ACK counts as a duplicate.
      if (
        tcp_is_sack_recovery(tp, to) &&
        ((tp.t_rxtshift === 0 && sack_changed !== SACK_NOCHANGE) || (tp.t_rxtshift > 0 && sack_changed === SACK_NEWLOSS)) &&
        tp.snd_nxt === tp.snd_max
      ) {
        tp.t_dupacks++;
        if (!IN_FASTRECOVERY(tp) && tp.sackhint_r.sacked_bytes > (tcprexmtthresh - 1) * (maxseg = tcp_maxseg(tp))) enterRecovery = true;
      }
    }
    let resumePartialAck = go === Go.None;
    if (enterRecovery) {
      // Fast retransmit / fast recovery (RFC 5681 §3.2, RFC 6675 §5, RFC 6582).
      resumePartialAck = false;
      go = Go.Drop;
      tp.t_dupacks = tcprexmtthresh;
      const onxt = tp.snd_nxt;
      let skip = false;
      if (tcp_is_sack_recovery(tp, to)) {
        if (IN_FASTRECOVERY(tp)) {
          tp.t_dupacks = 0;
          skip = true;
        }
      } else if (SEQ_LEQ(th_ack, tp.snd_recover)) {
        tp.t_dupacks = 0;
        skip = true;
      }
      if (skip) go = Go.Step6;
      else {
        cc_cong_signal(tp, CC_NDUPACK, th_ack);
        cc_ack_received(tp, th_ack, 1, CC_DUPACK);
        tcp_timer_activate(tp, TT_REXMT, 0);
        tp.t_rtttime = 0;
        if (tcp.do_prr) {
          if (tcp_is_sack_recovery(tp, to)) tp.sackhint.prr_delivered = Math.min((tp.snd_max - th_ack) | 0, (tp.snd_limited + 1) * maxseg);
          else tp.sackhint.prr_delivered = maxseg;
          tp.sackhint.recover_fs = Math.max(1, (tp.snd_nxt - tp.snd_una) | 0);
        }
        tp.snd_limited = 0;
        if (tcp_is_sack_recovery(tp, to)) {
          st.tcps_sack_recovery_episode++;
          tcp_resend_sackholes(tp);
          tp.snd_nxt = tp.snd_max;
          tp.snd_cwnd = tcp_compute_pipe(tp) + maxseg;
          tcp_output(tp);
          tp.snd_cwnd = tp.snd_ssthresh;
          if (SEQ_GT(th_ack, tp.snd_una)) resumePartialAck = true;
        } else {
          tp.snd_nxt = th_ack;
          tp.snd_cwnd = maxseg;
          tcp_output(tp);
          tp.snd_cwnd = tp.snd_ssthresh + maxseg * (tp.t_dupacks - tp.snd_limited);
          if (SEQ_GT(onxt, tp.snd_nxt)) tp.snd_nxt = onxt;
        }
      }
    }
    if (resumePartialAck) {
      go = Go.None;
      // Partial ACKs during recovery (RFC 6582 §3.2 step 5, RFC 6675, RFC 6937).
      if (SEQ_LT(th_ack, tp.snd_recover)) {
        if (IN_FASTRECOVERY(tp)) {
          if (tp.t_flags & TF_SACK_PERMIT) {
            if (tcp.do_prr && to.flags & TOF_SACK) {
              tcp_timer_activate(tp, TT_REXMT, 0);
              tp.t_rtttime = 0;
              tcp_do_prr_ack(tp, th_ack, sack_changed, maxseg, to);
              tp.t_flags |= TF_ACKNOW;
              tcp_output(tp);
            } else tcp_sack_partialack(tp, th_ack, maxseg);
          } else tcp_newreno_partial_ack(tp, th_ack);
        } else if (IN_CONGRECOVERY(tp) && tcp.do_prr) {
          tp.sackhint.delivered_data = bytesThisAck(tp, th_ack);
          tp.snd_fack = th_ack;
          tcp_do_prr_ack(tp, th_ack, SACK_CHANGE, maxseg, to);
          tcp_output(tp);
        }
      }
      // Our SYN of a half-synchronised connection is acknowledged.
      if (tp.t_flags & TF_NEEDSYN) {
        tp.t_flags &= ~TF_NEEDSYN;
        tp.snd_una = (tp.snd_una + 1) >>> 0;
        if ((tp.t_flags & (TF_RCVD_SCALE | TF_REQ_SCALE)) === (TF_RCVD_SCALE | TF_REQ_SCALE)) tp.rcv_scale = tp.request_r_scale;
      }
      go = Go.ProcessAck;
    }
  }

  if (go === Go.ProcessAck) {
    go = Go.None;
    if (incforsyn) tp.snd_una = (tp.snd_una + 1) >>> 0;
    const acked = bytesThisAck(tp, th_ack);
    st.tcps_rcvackpack++;
    st.tcps_rcvackbyte += acked;
    // A spurious first retransmission (the ACK came within the badrxt window): undo.
    if (badRetransmit(tp, to, ticks)) cc_cong_signal(tp, CC_RTO_ERR, th_ack);
    rttSample(tp, to, th_ack, ticks);
    if (th_ack === tp.snd_max) {
      tcp_timer_activate(tp, TT_REXMT, 0);
      needoutput = true;
    } else if (!tcp_timer_active(tp, TT_PERSIST)) tcp_timer_activate(tp, TT_REXMT, tp.t_rxtcur);
    if (acked === 0) go = Go.Step6;
    else {
      // HyStart++ rounds: a round ends when the data sent at its start is acknowledged.
      if (tp.cc_algo?.newround && SEQ_GEQ(th_ack, tp.t_round_end)) {
        tp.t_round_end = tp.snd_max;
        tp.cc_algo.newround(tp.t_ccv, ++tp.t_round_cnt);
      }
      cc_ack_received(tp, th_ack, 1, CC_ACK);
      let ourfinisacked: boolean;
      const sb = so.so_snd;
      if (acked > sb.sb_ccc) {
        tp.snd_wnd = tp.snd_wnd >= sb.sb_ccc ? tp.snd_wnd - sb.sb_ccc : 0;
        sbdrop(sb, sb.sb_ccc);
        ourfinisacked = true;
      } else {
        sbdrop(sb, acked);
        tp.snd_wnd = tp.snd_wnd >= acked ? tp.snd_wnd - acked : 0;
        ourfinisacked = false;
      }
      sowwakeup(so);
      if (!IN_RECOVERY(tp) && SEQ_GT(tp.snd_una, tp.snd_recover) && SEQ_LEQ(th_ack, tp.snd_recover)) tp.snd_recover = (th_ack - 1) >>> 0;
      tp.snd_una = th_ack;
      if (IN_RECOVERY(tp) && SEQ_GEQ(th_ack, tp.snd_recover)) cc_post_recovery(tp, th_ack);
      if (SEQ_GT(tp.snd_una, tp.snd_recover)) tp.snd_recover = tp.snd_una;
      if (SEQ_GT(tp.snd_una, tp.snd_nxt)) tp.snd_nxt = tp.snd_una;
      switch (tp.t_state) {
        case TCPS_FIN_WAIT_1:
          if (ourfinisacked) {
            // The user can no longer receive: start a timer, or a lost FIN would hang us.
            if (so.so_rcv.sb_state & SBS_CANTRCVMORE) {
              tcp_free_sackholes(tp);
              soisdisconnected(so);
              tcp_timer_activate(tp, TT_2MSL, tcp.fast_finwait2_recycle ? msToTicks(V, tcp.finwait2_timeout) : TP_MAXIDLE(tp));
            }
            tcp_state_change(tp, TCPS_FIN_WAIT_2);
          }
          break;
        case TCPS_CLOSING:
          if (ourfinisacked) {
            tcp_twstart(tp);
            m_freem(m);
            return;
          }
          break;
        case TCPS_LAST_ACK:
          if (ourfinisacked) {
            tcp_close(tp);
            m_freem(m);
            return;
          }
          break;
      }
      go = Go.Step6;
    }
  }

  if (go === Go.DropWithReset) {
    tcp_dropwithreset(V, m, s.off, s.isv6, tp, thflags, tlen, th_seq, th_ack, rstreason || BANDLIM_RST_OPENPORT);
    return;
  }
  if (go === Go.DropAfterAck) {
    // In SYN_RECEIVED an unacceptable ACK gets a RST, not an ACK (LAND, ACK storms).
    if (tp.t_state === TCPS_SYN_RECEIVED && thflags & TH_ACK && (SEQ_GT(tp.snd_una, th_ack) || SEQ_GT(th_ack, tp.snd_max))) {
      tcp_dropwithreset(V, m, s.off, s.isv6, tp, thflags, tlen, th_seq, th_ack, BANDLIM_RST_OPENPORT);
      return;
    }
    tp.t_flags |= TF_ACKNOW;
    tcp_output(tp);
    m_freem(m);
    return;
  }
  if (go === Go.Drop) {
    m_freem(m);
    return;
  }

  // --- step 6: window update, urgent data, segment text, FIN ---
  if (tp.t_freed) {
    m_freem(m);
    return;
  }
  // RFC 9293 §3.10.7.4 (fifth check): update the send window from the newest segment.
  if (
    thflags & TH_ACK &&
    (SEQ_LT(tp.snd_wl1, th_seq) || (tp.snd_wl1 === th_seq && (SEQ_LT(tp.snd_wl2, th_ack) || (tp.snd_wl2 === th_ack && tiwin > tp.snd_wnd))))
  ) {
    if (tlen === 0 && tp.snd_wl2 === th_ack && tiwin > tp.snd_wnd) st.tcps_rcvwinupd++;
    tp.snd_wnd = tiwin;
    tp.snd_wl1 = th_seq;
    tp.snd_wl2 = th_ack;
    if (tp.snd_wnd > tp.max_sndwnd) tp.max_sndwnd = tp.snd_wnd;
    needoutput = true;
  }
  // Urgent data (RFC 9293 §3.8.5): bsdnet delivers it inline (as SO_OOBINLINE); the urgent
  // pointer is tracked so rcv_up is right, but no out-of-band byte is pulled out.
  if (thflags & TH_URG && th_urp && !TCPS_HAVERCVDFIN(tp.t_state)) {
    if (SEQ_GT((th_seq + th_urp) >>> 0, tp.rcv_up)) tp.rcv_up = (th_seq + th_urp) >>> 0;
  } else if (SEQ_GT(tp.rcv_nxt, tp.rcv_up)) tp.rcv_up = tp.rcv_nxt;

  // Segment text (RFC 9293 §3.10.7.4 seventh check).
  if ((tlen || thflags & TH_FIN) && !TCPS_HAVERCVDFIN(tp.t_state)) {
    const save_start = th_seq;
    const save_rnxt = tp.rcv_nxt;
    const save_tlen = tlen;
    m_adj(m, drop_hdrlen);
    if (th_seq === tp.rcv_nxt && tp.t_segq.length === 0 && TCPS_HAVEESTABLISHED(tp.t_state)) {
      if (DELAY_ACK(tp, tlen)) tp.t_flags |= TF_DELACK;
      else tp.t_flags |= TF_ACKNOW;
      tp.rcv_nxt = (tp.rcv_nxt + tlen) >>> 0;
      thflags &= TH_FIN;
      st.tcps_rcvpack++;
      st.tcps_rcvbyte += tlen;
      tp.t_rcvbytes += tlen;
      tp.t_rcvpack++;
      const newsize = tlen > 0 ? tcp_autorcvbuf(tp, tlen) : 0;
      if (so.so_rcv.sb_state & SBS_CANTRCVMORE) m_freem(m);
      else {
        if (newsize && !sbreserve(V, so.so_rcv, newsize)) so.so_rcv.sb_flags &= ~SB_AUTOSIZE;
        sbappendstream(V, so.so_rcv, m);
      }
      m = null;
      if (tlen > 0) tp.t_flags |= TF_WAKESOR;
    } else {
      const ro = tcp.reass_out;
      thflags = tcp_reass(tp, th_seq, tlen, thflags, m, ro);
      m = null;
      tlen = ro.tlen;
      tp.t_flags |= TF_ACKNOW;
    }
    if (tp.t_flags & TF_SACK_PERMIT && save_tlen > 0 && TCPS_HAVEESTABLISHED(tp.t_state)) {
      if (tlen === 0 && SEQ_LT(save_start, save_rnxt)) {
        // D-SACK: the whole segment was a duplicate.
        tcp_update_sack_list(tp, save_start, (save_start + save_tlen) >>> 0);
      } else if (tlen > 0 && SEQ_GT(tp.rcv_nxt, save_rnxt)) {
        if (tp.rcv_numsacks >= 1 && tp.sackblks[1] === save_start) {
          // Partial overlap, recorded at the left-edge trim above.
          tcp_update_sack_list(tp, tp.sackblks[0] as number, tp.sackblks[1] as number);
        } else tcp_update_dsack_list(tp, save_start, (save_start + save_tlen) >>> 0);
      } else if (tlen >= save_tlen) {
        tcp_update_dsack_list(tp, save_start, (save_start + save_tlen) >>> 0);
      } else if (tlen > 0) {
        tcp_update_dsack_list(tp, save_start, (save_start + tlen) >>> 0);
      }
    }
    tcp_handle_wakeup(tp);
  } else {
    m_freem(m);
    m = null;
    thflags &= ~TH_FIN;
  }

  // A FIN (RFC 9293 §3.10.7.4 eighth check): ACK it and tell the user.
  if (thflags & TH_FIN) {
    if (!TCPS_HAVERCVDFIN(tp.t_state)) {
      socantrcvmore(so);
      if (tp.t_flags & TF_NEEDSYN) tp.t_flags |= TF_DELACK;
      else tp.t_flags |= TF_ACKNOW;
      tp.rcv_nxt = (tp.rcv_nxt + 1) >>> 0;
    }
    switch (tp.t_state) {
      case TCPS_SYN_RECEIVED:
        tp.t_starttime = ticks;
        tcp_state_change(tp, TCPS_CLOSE_WAIT);
        break;
      case TCPS_ESTABLISHED:
        tcp_state_change(tp, TCPS_CLOSE_WAIT);
        break;
      case TCPS_FIN_WAIT_1:
        tcp_state_change(tp, TCPS_CLOSING);
        break;
      case TCPS_FIN_WAIT_2:
        tcp_twstart(tp);
        return;
    }
  }
  if (needoutput || tp.t_flags & TF_ACKNOW) tcp_output(tp);
  check_delack(tp);
}

/**
 * Was the first retransmission spurious? (FreeBSD's bad-retransmit test, RFC 3522 Eifel
 * detection with timestamps: the ACK echoes a timestamp older than the retransmission;
 * without timestamps, it arrived within half an RTT of it.)
 */
function badRetransmit(tp: TcpCb, to: TcpOptsScratch, ticks: number): boolean {
  if (tp.t_rxtshift !== 1 || !(tp.t_flags & TF_PREVVALID) || tp.t_badrxtwin === 0) return false;
  if (to.flags & TOF_TS && to.tsecr !== 0) return TSTMP_LT(to.tsecr, tp.t_badrxtwin);
  return !(to.flags & TOF_TS) && ticks - tp.t_badrxtwin < 0;
}

function check_delack(tp: TcpCb): void {
  if (tp.t_freed) return;
  if (tp.t_flags & TF_DELACK) {
    tp.t_flags &= ~TF_DELACK;
    tcp_timer_activate(tp, TT_DELACK, msToTicks(tp.t_vnet, tp.t_vnet.tcp.delacktime));
  }
}

/**
 * RTT sampling on an ACK (RFC 7323 §4.1 with timestamps, else Karn's timed segment): ignore
 * a zero TSecr (broken SYN-ACK replies), and never sample retransmitted data (t_rtttime is
 * cleared on retransmission).
 */
function rttSample(tp: TcpCb, to: TcpOptsScratch, th_ack: number, ticks: number): void {
  const V = tp.t_vnet;
  if (to.flags & TOF_TS && to.tsecr) {
    const t = (tcp_ts_getticks(V) - to.tsecr) >>> 0;
    const tk = msToTicks(V, t);
    if (!tp.t_rttlow || tp.t_rttlow > tk) tp.t_rttlow = tk;
    tcp_xmit_timer(tp, tk + 1);
  } else if (tp.t_rtttime && SEQ_GT(th_ack, tp.t_rtseq)) {
    const d = ticks - tp.t_rtttime;
    if (!tp.t_rttlow || tp.t_rttlow > d) tp.t_rttlow = d;
    tcp_xmit_timer(tp, d);
  }
}
