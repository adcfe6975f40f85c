/*
 * TCP output (FreeBSD netinet/tcp_output.c, tcp_default_output; RFC 9293 §3.8, RFC 5681,
 * RFC 6675, RFC 7323, RFC 9293 §3.8.6.2 sender silly-window avoidance, RFC 896 Nagle).
 *
 * tcp_output() decides whether to send and what: SACK retransmissions during recovery
 * (from the scoreboard, limited by the pipe), new data within min(snd_wnd, snd_cwnd), a
 * pending SYN or FIN, an ACK we owe, a window update worth sending, or a zero-window probe.
 * It builds one segment (referencing send-buffer storage without copying), arms the
 * retransmit/persist timers, times the segment for RTT, and loops while there is more to
 * send (sendalot).
 *
 * The options of a segment are laid out exactly as FreeBSD's tcp_addoptions() does (MSS,
 * NOP+window scale, SACK-permitted, NOP NOP + timestamps, SACK blocks; EOL/zero padding),
 * which is what packetdrill scripts written against FreeBSD expect byte for byte.
 */

import { CSUM_IP6_TCP, CSUM_IP_TCP, type Mbuf, m_copydata, m_freem, MHLEN, MAX_LINKHDR } from '../mbuf/mbuf.js';
import { ip6_output } from '../netinet6/ip6_output.js';
import { EACCES, EHOSTDOWN, EHOSTUNREACH, EMSGSIZE, ENETDOWN, ENETUNREACH, ENOBUFS, EPERM } from '../sys/errno.js';
import { sbsndptr, sbspace, type Socket, SB_AUTOSIZE } from '../sys/socket.js';
import type { Vnet } from '../vnet.js';
import { set16, set32 } from '../wire/bytes.js';
import { cksumFold, pseudoSum4, pseudoSum6 } from '../wire/checksum.js';
import { IP_HDR_LEN, IPPROTO_TCP, IPTOS_ECN_ECT0 } from '../wire/ipv4.js';
import { IP6_HDR_LEN } from '../wire/ipv6.js';
import {
  TCP_HDR_LEN,
  TCP_MAXOLEN,
  TCP_MAXWIN,
  TCP_OFF_ACK,
  TCP_OFF_DPORT,
  TCP_OFF_FLAGS,
  TCP_OFF_OFFX2,
  TCP_OFF_SEQ,
  TCP_OFF_SPORT,
  TCP_OFF_SUM,
  TCP_OFF_URP,
  TCP_OFF_WIN,
  TCPOLEN_MAXSEG,
  TCPOLEN_SACK,
  TCPOLEN_SACK_PERMITTED,
  TCPOLEN_TIMESTAMP,
  TCPOLEN_WINDOW,
  TCPOPT_EOL,
  TCPOPT_MAXSEG,
  TCPOPT_NOP,
  TCPOPT_SACK,
  TCPOPT_SACK_PERMITTED,
  TCPOPT_TIMESTAMP,
  TCPOPT_WINDOW,
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
  TOF_TS,
} from '../wire/tcp.js';
import { IN_FASTRECOVERY, IN_RECOVERY, tcp_maxseg } from './cc/cc.js';
import { AF_INET } from './in.js';
import { cc_after_idle } from './tcp_input.js';
import { tcp_clean_dsack_blocks, tcp_sack_adjust, tcp_sack_output } from './tcp_sack.js';
import { INP_IPV4, INP_IPV6, type Inpcb } from './in_pcb.js';
import { build_ip_header } from './ip_icmp.js';
import { ip_output, ip_route_peek } from './ip_output.js';
import { TCPS_HAVEESTABLISHED, TCPS_HAVERCVDFIN, TCPS_SYN_RECEIVED, TCPS_SYN_SENT, tcp_outflags } from './tcp_fsm.js';
import { SEQ_GEQ, SEQ_GT, SEQ_LT, SEQ_MIN, seqAdd } from './tcp_seq.js';
import { tcp_setpersist, tcp_timer_activate, tcp_timer_active } from './tcp_timer.js';
import {
  type SackHole,
  type TcpCb,
  type TcpOutOpts,
  TF2_DEAD,
  TF2_ECN_PERMIT,
  TF2_ECN_SND_CWR,
  TF2_ECN_SND_ECE,
  TF2_PLPMTU_MAXSEGSNT,
  TF_ACKNOW,
  TF_DELACK,
  TF_FORCEDATA,
  TF_LASTIDLE,
  TF_LRD,
  TF_MORETOCOME,
  TF_NEEDFIN,
  TF_NEEDSYN,
  TF_NODELAY,
  TF_NOOPT,
  TF_NOPUSH,
  TF_RCVD_TSTMP,
  TF_REQ_SCALE,
  TF_REQ_TSTMP,
  TF_RXWIN0SENT,
  TF_SACK_PERMIT,
  TF_SENTFIN,
  TF_TSO,
  TT_DELACK,
  TT_PERSIST,
  TT_REXMT,
} from './tcp_var.js';
import { NHF_GATEWAY } from '../net/route.js';

/**
 * Write options into `opt` the way FreeBSD's tcp_addoptions() does and return their padded
 * length. Order: MSS, window scale (NOP-aligned), SACK-permitted, timestamps (NOP NOP
 * aligned), SACK blocks (as many as fit); then EOL and zero padding to 4 bytes.
 */
export function tcp_addoptions(to: TcpOutOpts, opt: Uint8Array): number {
  let n = 0;
  if (to.flags & TOF_MSS) {
    opt[n++] = TCPOPT_MAXSEG;
    opt[n++] = TCPOLEN_MAXSEG;
    opt[n++] = to.mss >>> 8;
    opt[n++] = to.mss & 0xff;
  }
  if (to.flags & TOF_SCALE) {
    while (n === 0 || n % 2 !== 1) opt[n++] = TCPOPT_NOP;
    opt[n++] = TCPOPT_WINDOW;
    opt[n++] = TCPOLEN_WINDOW;
    opt[n++] = to.wscale;
  }
  if (to.flags & TOF_SACKPERM) {
    while (n % 2) opt[n++] = TCPOPT_NOP;
    opt[n++] = TCPOPT_SACK_PERMITTED;
    opt[n++] = TCPOLEN_SACK_PERMITTED;
  }
  if (to.flags & TOF_TS) {
    while (n === 0 || n % 4 !== 2) opt[n++] = TCPOPT_NOP;
    opt[n++] = TCPOPT_TIMESTAMP;
    opt[n++] = TCPOLEN_TIMESTAMP;
    set32(opt, n, to.tsval >>> 0);
    set32(opt, n + 4, to.tsecr >>> 0);
    n += 8;
  }
  if (to.flags & TOF_SACK && to.nsacks > 0 && to.sacks !== null) {
    while (n === 0 || n % 4 !== 2) opt[n++] = TCPOPT_NOP;
    const room = Math.floor((TCP_MAXOLEN - n - 2) / TCPOLEN_SACK);
    const nb = Math.min(to.nsacks, room);
    if (nb > 0) {
      opt[n++] = TCPOPT_SACK;
      opt[n++] = 2 + nb * TCPOLEN_SACK;
      for (let i = 0; i < nb; i++) {
        set32(opt, n, to.sacks[2 * i] as number);
        set32(opt, n + 4, to.sacks[2 * i + 1] as number);
        n += 8;
      }
    }
  }
  if (n % 4) opt[n++] = TCPOPT_EOL;
  while (n % 4) opt[n++] = 0;
  return n;
}

/** The TCP timestamp clock (ms, tcp_ts_getticks). */
export function tcp_ts_getticks(V: Vnet): number {
  return Math.floor(V.clock.now() / 1e6) >>> 0;
}

/** Is this PCB an IPv6 connection on the wire? */
export function inp_isv6(inp: Inpcb): boolean {
  return (inp.inp_vflag & INP_IPV6) !== 0 && (inp.inp_vflag & INP_IPV4) === 0;
}

/** IP + TCP header size for a connection (tcpiphdr / tcpip6hdr). */
export function tcp_hdrlen(inp: Inpcb): number {
  return (inp_isv6(inp) ? IP6_HDR_LEN : IP_HDR_LEN) + TCP_HDR_LEN;
}

/**
 * The link MTU toward the peer (tcp_maxmtu / tcp_maxmtu6): route MTU, else interface MTU;
 * 0 without a route.
 */
export function tcp_maxmtu(V: Vnet, inp: Inpcb): number {
  if (inp_isv6(inp)) {
    const rt = V.rt.lookup6(inp.in6p_faddr);
    if (rt === null) return 0;
    return rt.nhop.nh_mtu || rt.nhop.nh_ifp.if_mtu;
  }
  const rt = ip_route_peek(V, inp.inp_faddr, inp.inp_route);
  if (rt === null) return 0;
  return rt.nhop.nh_mtu || rt.nhop.nh_ifp.if_mtu;
}

/** Does the route to the peer support TSO (the interface has IFCAP_TSO4/6 enabled)? */
export function tcp_route_tso(V: Vnet, inp: Inpcb): boolean {
  const v6 = inp_isv6(inp);
  const rt = v6 ? V.rt.inet6.lookup(inp.in6p_faddr) : ip_route_peek(V, inp.inp_faddr, inp.inp_route);
  if (rt === null) return false;
  // Through a gateway the burst may be forwarded onto a link that cannot carry it whole; the
  // passthrough interfaces (epair) do no segmentation of their own, so only on-link peers.
  if (rt.nhop.nh_flags & NHF_GATEWAY) return false;
  return (rt.nhop.nh_ifp.if_capenable & (v6 ? 0x200 : 0x100)) !== 0;
}

/**
 * The MSS we offer in our SYN (tcp_mssopt): the smaller of the link MTU and a known path
 * MTU, minus the IP and TCP headers; mssdflt when nothing is known.
 */
export function tcp_mssopt(V: Vnet, inp: Inpcb): number {
  const v6 = inp_isv6(inp);
  const minProtoh = v6 ? IP6_HDR_LEN + TCP_HDR_LEN : IP_HDR_LEN + TCP_HDR_LEN;
  let mss = v6 ? V.tcp.v6mssdflt : V.tcp.mssdflt;
  const maxmtu = tcp_maxmtu(V, inp);
  const thcmtu = v6 ? V.hostcache.getMtu(28, 0, inp.in6p_faddr) : V.hostcache.getMtu(AF_INET, inp.inp_faddr, null);
  if (maxmtu && thcmtu) mss = Math.min(maxmtu, thcmtu) - minProtoh;
  else if (maxmtu || thcmtu) mss = Math.max(maxmtu, thcmtu) - minProtoh;
  return mss;
}

/**
 * Grow the send buffer when the connection could use more (tcp_sndbuf_autoscale, RFC 7323
 * era FreeBSD heuristic): if the buffer is nearly full of unacknowledged data and the
 * window allows more, add net.inet.tcp.sendbuf_inc up to sendbuf_max.
 */
function tcp_sndbuf_autoscale(tp: TcpCb, so: Socket, sendwin: number): void {
  const V = tp.t_vnet;
  const sb = so.so_snd;
  if (!V.tcp.sendbuf_auto || !(sb.sb_flags & SB_AUTOSIZE)) return;
  const lowat = Math.max(sb.sb_lowat, tp.t_maxseg);
  if (sb.sb_ccc >= (sb.sb_hiwat / 8) * 7 - lowat && sb.sb_ccc < V.tcp.sendbuf_max && sendwin >= sb.sb_ccc - lowat) {
    const want = Math.min(sb.sb_hiwat + V.tcp.sendbuf_inc, V.tcp.sendbuf_max);
    if (want > sb.sb_hiwat) {
      sb.sb_hiwat = want;
      sb.sb_mbmax = Math.min(want * V.socket.sb_efficiency, V.socket.maxsockbuf * 8);
    }
  }
}

/**
 * Build the IP and TCP headers of a segment in front of `m` (which has `hdrlen` bytes of
 * headroom reserved) and hand it to ip_output/ip6_output. th_sum gets the pseudo-header
 * sum; the interface or ip_output completes it.
 */
export function tcp_ip_output(
  V: Vnet,
  inp: Inpcb,
  m: Mbuf,
  seq: number,
  ack: number,
  flags: number,
  win: number,
  urp: number,
  opt: Uint8Array | null,
  optlen: number,
  tos: number,
  tcpDataLen: number,
): number {
  const v6 = inp_isv6(inp);
  const iphlen = v6 ? IP6_HDR_LEN : IP_HDR_LEN;
  const thlen = TCP_HDR_LEN + optlen;
  const b = m.m_buf;
  const o = m.m_data;
  const th = o + iphlen;
  set16(b, th + TCP_OFF_SPORT, inp.inp_lport);
  set16(b, th + TCP_OFF_DPORT, inp.inp_fport);
  set32(b, th + TCP_OFF_SEQ, seq >>> 0);
  set32(b, th + TCP_OFF_ACK, ack >>> 0);
  b[th + TCP_OFF_OFFX2] = (thlen >> 2) << 4;
  b[th + TCP_OFF_FLAGS] = flags & 0xff;
  set16(b, th + TCP_OFF_WIN, win);
  set16(b, th + TCP_OFF_URP, urp);
  if (optlen > 0 && opt !== null) for (let i = 0; i < optlen; i++) b[th + TCP_HDR_LEN + i] = opt[i] as number; // no per-segment view
  const tcplen = thlen + tcpDataLen;
  m.csum_data = TCP_OFF_SUM;
  m.l4hlen = thlen;
  if (v6) {
    set32(b, o, ((6 << 28) | ((tos & 0xff) << 20) | (inp.in6p_flowinfo & 0xfffff)) >>> 0);
    set16(b, o + 4, tcplen);
    b[o + 6] = IPPROTO_TCP;
    b[o + 7] = inp.in6p_hops >= 0 ? inp.in6p_hops : V.inet6.hlim;
    b.set(inp.in6p_laddr, o + 8);
    b.set(inp.in6p_faddr, o + 24);
    set16(b, th + TCP_OFF_SUM, cksumFold(pseudoSum6(inp.in6p_laddr, 0, inp.in6p_faddr, 0, IPPROTO_TCP, tcplen)));
    m.csum_flags = CSUM_IP6_TCP;
    m.l3hlen = IP6_HDR_LEN;
    return ip6_output(V, m, 0, null, { scope_id: inp.in6p_scope, moptions: null });
  }
  const df = V.tcp.path_mtu_discovery;
  build_ip_header(b, o, iphlen + tcplen, IPPROTO_TCP, inp.inp_laddr, inp.inp_faddr, inp.inp_ip_ttl || V.inet.defttl, tos, df);
  set16(b, th + TCP_OFF_SUM, cksumFold(pseudoSum4(inp.inp_laddr, inp.inp_faddr, IPPROTO_TCP, tcplen)));
  m.csum_flags = CSUM_IP_TCP;
  m.l3hlen = IP_HDR_LEN;
  const so = inp.inp_socket;
  const flagsOut = so && so.so_options & 0x10 ? 0x10 : 0; // SO_DONTROUTE → IP_ROUTETOIF
  return ip_output(V, m, flagsOut, inp.inp_route);
}

/**
 * Send what can be sent (tcp_output). Returns 0 or an errno (EMSGSIZE, ENOBUFS are handled
 * here as FreeBSD does).
 */
export function tcp_output(tp: TcpCb): number {
  if (tp.t_freed || tp.t_flags2 & TF2_DEAD) return 0;
  const V = tp.t_vnet;
  const inp = tp.t_inpcb;
  const so = inp.inp_socket as Socket;
  if (so === null) return 0;
  const ticks = V.callwheel.ticks();

  // Restart window after idle (RFC 5681 §4.1).
  let idle = (tp.t_flags & TF_LASTIDLE) !== 0 || tp.snd_max === tp.snd_una;
  if (idle && ticks - tp.t_rcvtime >= tp.t_rxtcur) cc_after_idle(tp);
  tp.t_flags &= ~TF_LASTIDLE;
  if (idle && tp.t_flags & TF_MORETOCOME) {
    tp.t_flags |= TF_LASTIDLE;
    idle = false;
  }
  let sendalot: boolean;
  let loops = 0;
  do {
    sendalot = false;
    const r = tcp_output_one(tp, so, idle, ticks);
    if (r < 0) sendalot = true;
    else if (r > 0) return r;
    if (tp.t_freed) return 0;
    if (++loops > 100_000) break;
  } while (sendalot);
  return 0;
}

/**
 * One pass of tcp_output: returns 0 when done, -1 to loop (sendalot), or an errno.
 */
function tcp_output_one(tp: TcpCb, so: Socket, idle: boolean, _ticks: number): number {
  const V = tp.t_vnet;
  const inp = tp.t_inpcb;
  const st = V.tcp.stat;
  const sb = so.so_snd;
  let sendalot = false;
  let tso = false;

  // After a timeout snd_max > snd_nxt; SACK may tell us what not to resend.
  if (tp.t_flags & TF_SACK_PERMIT && SEQ_LT(tp.snd_nxt, tp.snd_max)) tcp_sack_adjust(tp);
  let off = (tp.snd_nxt - tp.snd_una) | 0;
  let sendwin = Math.min(tp.snd_wnd, tp.snd_cwnd);
  let flags = tcp_outflags[tp.t_state] as number;

  // SACK retransmissions during recovery (RFC 6675 §5).
  let sack_rxmit = false;
  let rexmit = false;
  let sack_bytes_rxmt = 0;
  let len = 0;
  let p: SackHole | null = null;
  if (tp.t_flags & TF_SACK_PERMIT && IN_FASTRECOVERY(tp)) {
    p = tcp_sack_output(tp);
    sack_bytes_rxmt = tp.sackhint.sack_bytes_rexmit;
    if (p !== null) {
      // FreeBSD 14 tcp_output: the window left for retransmissions is min(wnd, cwnd) minus
      // what was already retransmitted; PRR (tcp_do_prr_ack) sets cwnd to match this rule.
      const cwin = Math.max(Math.min(tp.snd_wnd, tp.snd_cwnd) - sack_bytes_rxmt, 0);
      if (SEQ_GT(p.end, tp.snd_recover)) {
        // Part of the hole is beyond snd_recover: only up to snd_recover this episode.
        if (SEQ_GEQ(p.rxmit, tp.snd_recover)) p = null;
        else len = Math.min(cwin, (tp.snd_recover - p.rxmit) | 0);
      } else {
        len = Math.min(cwin, (p.end - p.rxmit) | 0);
      }
      if (p !== null && len > 0) {
        off = (p.rxmit - tp.snd_una) | 0;
        sack_rxmit = true;
        sendalot = true;
        st.tcps_sack_rexmits++;
        st.tcps_sack_rexmit_bytes += Math.min(len, tcp_maxseg(tp));
      } else {
        len = 0;
      }
    }
  }

  if (tp.t_flags & TF_NEEDFIN) flags |= TH_FIN;
  if (tp.t_flags & TF_NEEDSYN) flags |= TH_SYN;

  // Persist: probe a zero window with one byte; a non-zero window ends persisting.
  if (tp.t_flags & TF_FORCEDATA) {
    if (sendwin === 0) {
      if (off < sb.sb_ccc) flags &= ~TH_FIN;
      sendwin = 1;
    } else {
      tcp_timer_activate(tp, TT_PERSIST, 0);
      tp.t_rxtshift = 0;
    }
  }

  if (!sack_rxmit) {
    if (sack_bytes_rxmt === 0) {
      len = Math.min(sb.sb_ccc, sendwin) - off;
    } else {
      // In recovery with nothing left to retransmit: new data limited by cwnd - pipe.
      len = Math.min(sb.sb_ccc, tp.snd_wnd) - off;
      if (len > 0) {
        let cwin = tp.snd_cwnd - Math.max(0, (tp.snd_nxt - tp.snd_recover) | 0) - sack_bytes_rxmt;
        if (cwin < 0) cwin = 0;
        len = Math.min(len, cwin);
      }
    }
  }

  // A SYN already sent is not sent again (except the SYN|ACK in SYN_RECEIVED).
  if (flags & TH_SYN && SEQ_GT(tp.snd_nxt, tp.snd_una)) {
    if (tp.t_state !== TCPS_SYN_RECEIVED) flags &= ~TH_SYN;
    off--;
    len++;
  }
  // No data or FIN on a SYN without options (interoperability).
  if (flags & TH_SYN && tp.t_flags & TF_NOOPT) {
    len = 0;
    flags &= ~TH_FIN;
  }
  // Never data on a SYN (we do not send TFO data yet).
  if (flags & TH_SYN) len = 0;

  if (len <= 0) {
    // The window shrank after we sent into it, or a FIN is outstanding: cancel a pending
    // retransmit, pull snd_nxt back and persist if the window is zero (RFC 9293 §3.8.6.1).
    len = 0;
    if (sendwin === 0 && TCPS_HAVEESTABLISHED(tp.t_state) && off < sb.sb_ccc && !tcp_timer_active(tp, TT_PERSIST)) {
      tcp_timer_activate(tp, TT_REXMT, 0);
      tp.t_rxtshift = 0;
      tp.snd_nxt = tp.snd_una;
      if (!tcp_timer_active(tp, TT_PERSIST)) tcp_setpersist(tp);
    }
  }

  tcp_sndbuf_autoscale(tp, so, Math.min(tp.snd_wnd, tp.snd_cwnd));

  // TSO: bulk sends only (no SACK retransmit, no SACK blocks to advertise, not a SYN).
  if (len > tp.t_maxseg && tp.t_flags & TF_TSO && V.tcp.do_tso && tp.rcv_numsacks === 0 && !sack_rxmit && !(flags & TH_SYN)) tso = true;

  if (SEQ_LT(seqAdd(sack_rxmit && p ? p.rxmit : tp.snd_nxt, len), seqAdd(tp.snd_una, sb.sb_ccc))) flags &= ~TH_FIN;

  let recwin = Math.min(Math.max(sbspace(so.so_rcv), 0), TCP_MAXWIN << tp.rcv_scale);

  // Sender silly window avoidance (RFC 9293 §3.8.6.2.1) and Nagle (RFC 896).
  let send = false;
  if (len > 0) {
    if (len >= tp.t_maxseg) send = true;
    else if ((tp.t_flags & TF_RCVD_TSTMP ? 12 : 0) + len >= tp.t_maxseg) send = true;
    else if (!(tp.t_flags & TF_MORETOCOME) && (idle || tp.t_flags & TF_NODELAY) && len + off >= sb.sb_ccc && !(tp.t_flags & TF_NOPUSH)) send = true;
    else if (tp.t_flags & TF_FORCEDATA) send = true;
    else if (tp.max_sndwnd > 0 && len >= tp.max_sndwnd / 2) send = true;
    else if (SEQ_LT(tp.snd_nxt, tp.snd_max)) send = true;
    else if (sack_rxmit) send = true;
  }

  // Window updates: only when the window opens by enough (receiver SWS avoidance).
  if (!send && recwin > 0 && !(tp.t_flags & TF_NEEDSYN) && !(tp.t_flags & TF_DELACK) && !TCPS_HAVERCVDFIN(tp.t_state)) {
    let adv = recwin;
    let oldwin = 0;
    if (SEQ_GT(tp.rcv_adv, tp.rcv_nxt)) {
      oldwin = (tp.rcv_adv - tp.rcv_nxt) | 0;
      adv = adv > oldwin ? adv - oldwin : 0;
    }
    const sc = tp.rcv_scale;
    if (!(oldwin >> sc >= (adv + oldwin) >> sc)) {
      const hiwat = so.so_rcv.sb_hiwat;
      if (adv >= 2 * tp.t_maxseg && (adv >= hiwat / 4 || recwin <= hiwat / 8 || hiwat <= 8 * tp.t_maxseg || adv >= TCP_MAXWIN << sc)) send = true;
      else if (2 * adv >= hiwat) send = true;
    }
  }

  if (!send) {
    if (tp.t_flags & TF_ACKNOW) send = true;
    else if (flags & TH_RST || (flags & TH_SYN && !(tp.t_flags & TF_NEEDSYN))) send = true;
    else if (SEQ_GT(tp.snd_up, tp.snd_una)) send = true;
    else if (flags & TH_FIN && (!(tp.t_flags & TF_SENTFIN) || tp.snd_nxt === tp.snd_una)) send = true;
  }
  if (!send) {
    // Make sure a retransmit timer runs while data is outstanding (SACK may skip sends).
    if (tp.t_flags & TF_SACK_PERMIT && SEQ_GT(tp.snd_max, tp.snd_una) && !tcp_timer_active(tp, TT_REXMT) && !tcp_timer_active(tp, TT_PERSIST)) {
      tcp_timer_activate(tp, TT_REXMT, tp.t_rxtcur);
      return 0;
    }
    // Data to send but no window and no timer: enter persist.
    if (sb.sb_ccc > 0 && !tcp_timer_active(tp, TT_REXMT) && !tcp_timer_active(tp, TT_PERSIST)) {
      tp.t_rxtshift = 0;
      tcp_setpersist(tp);
    }
    return 0;
  }

  // --- send ---
  if (len > 0) {
    if (len >= tp.t_maxseg) tp.t_flags2 |= TF2_PLPMTU_MAXSEGSNT;
    else tp.t_flags2 &= ~TF2_PLPMTU_MAXSEGSNT;
  }
  const hdrlen = tcp_hdrlen(inp);
  let optlen = 0;
  if (flags & TH_SYN) tp.snd_nxt = tp.iss;

  const scratch = V.tcp.out;
  const to = scratch.to;
  to.reset();
  if (!(tp.t_flags & TF_NOOPT)) {
    if (flags & TH_SYN) {
      to.mss = tcp_mssopt(V, inp);
      to.flags |= TOF_MSS;
    }
    if (flags & TH_SYN && tp.t_flags & TF_REQ_SCALE) {
      to.wscale = tp.request_r_scale;
      to.flags |= TOF_SCALE;
    }
    if (tp.t_flags & TF_RCVD_TSTMP || (flags & TH_SYN && tp.t_flags & TF_REQ_TSTMP)) {
      const cur = tcp_ts_getticks(V);
      to.tsval = (cur + tp.ts_offset) >>> 0;
      to.tsecr = tp.ts_recent;
      to.flags |= TOF_TS;
      if (tp.t_rxtshift === 1) tp.t_badrxtwin = cur;
    }
    if (tp.rfbuf_ts === 0 && so.so_rcv.sb_flags & SB_AUTOSIZE) tp.rfbuf_ts = tcp_ts_getticks(V);
    if (tp.t_flags & TF_SACK_PERMIT) {
      if (flags & TH_SYN) to.flags |= TOF_SACKPERM;
      else if (TCPS_HAVEESTABLISHED(tp.t_state) && tp.rcv_numsacks > 0) {
        to.flags |= TOF_SACK;
        to.nsacks = tp.rcv_numsacks;
        to.sacks = tp.sackblks;
      }
    }
    optlen = tcp_addoptions(to, scratch.opt);
    if (to.flags & TOF_SACK) st.tcps_sack_send_blocks++;
  }

  // Options count against the MSS: trim the payload (and the FIN with it).
  if (len + optlen > tp.t_maxseg) {
    flags &= ~TH_FIN;
    if (tso) {
      const segsz = tp.t_maxseg - optlen;
      const maxLen = Math.min(65535 - hdrlen - MAX_LINKHDR, 64 * 1024 - 1024);
      if (len > maxLen) {
        len = maxLen;
        sendalot = true;
      }
      // Keep the burst a whole number of segments unless it empties the buffer.
      if (off + len < sb.sb_ccc) {
        const moff = len % segsz;
        if (moff !== 0) {
          len -= moff;
          sendalot = true;
        }
      }
      if (len <= segsz) {
        len = segsz;
        sendalot = true;
        tso = false;
      }
      if (tp.t_flags & TF_NEEDFIN) sendalot = true;
    } else {
      if (optlen >= tp.t_maxseg) return EMSGSIZE;
      len = tp.t_maxseg - optlen;
      sendalot = true;
    }
  } else {
    tso = false;
  }

  // Build the segment: a header mbuf, the data referenced from the send buffer.
  const m = V.mbufs.gethdr();
  if (m === null) {
    tp.snd_cwnd = tp.t_maxseg;
    return 0;
  }
  m.m_data = MAX_LINKHDR;
  const totalHdr = hdrlen + optlen;
  m.m_len = totalHdr;
  m.len = totalHdr;
  if (len > 0) {
    const ptr = sbsndptr(sb, off);
    if (len <= MHLEN - totalHdr - MAX_LINKHDR && ptr !== null) {
      // Small: copy into the header mbuf (FreeBSD does the same below MHLEN).
      m_copydata(ptr.m, ptr.moff, len, m.m_buf, m.m_data + totalHdr);
      m.m_len += len;
    } else if (ptr !== null) {
      const data = V.mbufs.copym(ptr.m, ptr.moff, len);
      if (data === null) {
        m_freem(m);
        tp.snd_cwnd = tp.t_maxseg;
        return 0;
      }
      m.m_next = data;
    }
    m.len = totalHdr + len;
    if (SEQ_LT(tp.snd_nxt, tp.snd_max) || sack_rxmit) {
      rexmit = len > 0;
      st.tcps_sndrexmitpack++;
      st.tcps_sndrexmitbyte += len;
      tp.t_sndrexmitpack++;
      tp.t_rexmitbytes += len;
    } else {
      st.tcps_sndpack++;
      st.tcps_sndbyte += len;
    }
    tp.t_sndbytes += len;
    if (off + len === sb.sb_ccc && !(flags & TH_SYN)) flags |= TH_PUSH;
  } else {
    if (tp.t_flags & TF_ACKNOW) st.tcps_sndacks++;
    else if (flags & (TH_SYN | TH_FIN | TH_RST)) st.tcps_sndctrl++;
    else if (SEQ_GT(tp.snd_up, tp.snd_una)) st.tcps_sndurg++;
    else st.tcps_sndwinup++;
  }

  // A FIN resent after it was sent keeps its sequence number.
  if (flags & TH_FIN && tp.t_flags & TF_SENTFIN && tp.snd_nxt === tp.snd_max) tp.snd_nxt = (tp.snd_nxt - 1) >>> 0;

  // ECN (RFC 3168 §6.1.1): ECN-setup SYN; ECT on data; ECE/CWR signalling.
  let tos = inp_isv6(inp) ? inp.in6p_tclass : inp.inp_ip_tos;
  if (tp.t_state === TCPS_SYN_SENT && flags & TH_SYN && V.tcp.ecn_enable === 1) {
    // FreeBSD tcp_ecn_output_syn_sent: ECE|CWR on the first SYN and up to ecn.maxretries retransmissions.
    if (tp.t_rxtshift <= V.tcp.ecn_maxretries) flags |= TH_ECE | TH_CWR;
  }
  if (tp.t_state >= TCPS_SYN_RECEIVED && tp.t_flags2 & TF2_ECN_PERMIT) {
    // Data segments (not retransmissions, not pure ACKs or window probes) are ECT(0).
    if (len > 0 && SEQ_GEQ(tp.snd_nxt, tp.snd_max) && !(sack_rxmit || tp.t_flags & TF_FORCEDATA)) {
      tos = (tos & ~3) | IPTOS_ECN_ECT0;
      st.tcps_ecn_sndect0++;
    }
    if (tp.t_flags2 & TF2_ECN_SND_CWR && len > 0) {
      flags |= TH_CWR;
      tp.t_flags2 &= ~TF2_ECN_SND_CWR;
    }
    if (tp.t_flags2 & TF2_ECN_SND_ECE) flags |= TH_ECE;
  }

  let seq: number;
  const startseq = tp.snd_nxt;
  if (!sack_rxmit) {
    seq = len > 0 || flags & (TH_SYN | TH_FIN) || tcp_timer_active(tp, TT_PERSIST) ? tp.snd_nxt : tp.snd_max;
  } else {
    const hole = p as SackHole;
    seq = hole.rxmit;
    hole.rxmit = (hole.rxmit + len) >>> 0;
    // Lost retransmission detection: resend a still-existing hole when fack passes recover.
    if (tp.t_flags & TF_LRD && SEQ_GEQ(hole.rxmit, hole.end)) hole.rxmit = tp.snd_recover;
    tp.sackhint.sack_bytes_rexmit += len;
  }
  if (IN_RECOVERY(tp)) tp.sackhint.prr_out += len;

  // Receive window: never shrink it; avoid silly windows; zero for RST.
  if (flags & TH_RST) recwin = 0;
  else {
    if (recwin < so.so_rcv.sb_hiwat / 4 && recwin < tp.t_maxseg) recwin = 0;
    if (SEQ_GT(tp.rcv_adv, tp.rcv_nxt) && recwin < ((tp.rcv_adv - tp.rcv_nxt) | 0)) recwin = (tp.rcv_adv - tp.rcv_nxt) | 0;
  }
  let win: number;
  if (flags & TH_SYN) {
    // RFC 7323 §2.2: the window of a SYN is never scaled.
    win = Math.min(Math.max(sbspace(so.so_rcv), 0), TCP_MAXWIN);
  } else {
    // Round up to the window-scale unit (scale ≤ 14, so shifts stay in int32 range).
    const sc = tp.rcv_scale;
    recwin = ((recwin + (1 << sc) - 1) >> sc) << sc;
    win = Math.min(recwin >> sc, TCP_MAXWIN);
  }
  if (win === 0) {
    tp.t_sndzerowin++;
    tp.t_flags |= TF_RXWIN0SENT;
  } else tp.t_flags &= ~TF_RXWIN0SENT;
  let urp = 0;
  if (SEQ_GT(tp.snd_up, tp.snd_nxt)) {
    urp = Math.min((tp.snd_up - tp.snd_nxt) | 0, 0xffff);
    flags |= TH_URG;
  } else {
    tp.snd_up = tp.snd_una; // drag the urgent pointer along
  }
  if (tso) {
    m.tso_segsz = tp.t_maxseg - optlen;
  }

  // Advance snd_nxt / snd_max, time the segment, arm timers (before sending, as FreeBSD).
  if (!(tp.t_flags & TF_FORCEDATA) || !tcp_timer_active(tp, TT_PERSIST)) {
    if (flags & TH_SYN) tp.snd_nxt = (tp.snd_nxt + 1) >>> 0;
    if (flags & TH_FIN) {
      tp.snd_nxt = (tp.snd_nxt + 1) >>> 0;
      tp.t_flags |= TF_SENTFIN;
    }
    if (!sack_rxmit) {
      tp.snd_nxt = (tp.snd_nxt + len) >>> 0;
      if (SEQ_GT(tp.snd_nxt, tp.snd_max)) {
        tp.snd_max = tp.snd_nxt;
        tp.t_sndtime = V.callwheel.ticks();
        if (tp.t_rtttime === 0) {
          tp.t_rtttime = V.callwheel.ticks() || 1;
          tp.t_rtseq = startseq;
          st.tcps_segstimed++;
        }
      }
    }
    if (!tcp_timer_active(tp, TT_REXMT) && ((sack_rxmit && tp.snd_nxt !== tp.snd_max) || tp.snd_nxt !== tp.snd_una)) {
      if (tcp_timer_active(tp, TT_PERSIST)) {
        tcp_timer_activate(tp, TT_PERSIST, 0);
        tp.t_rxtshift = 0;
      }
      tcp_timer_activate(tp, TT_REXMT, tp.t_rxtcur);
    } else if (len === 0 && sb.sb_ccc > 0 && !tcp_timer_active(tp, TT_REXMT) && !tcp_timer_active(tp, TT_PERSIST)) {
      // A zero-length segment with data queued and no timer: start persisting.
      tp.t_rxtshift = 0;
      tcp_setpersist(tp);
    }
  } else {
    // Persist probe: advance snd_max only.
    let xlen = len;
    if (flags & TH_SYN) xlen++;
    if (flags & TH_FIN) {
      xlen++;
      tp.t_flags |= TF_SENTFIN;
    }
    if (SEQ_GT(seqAdd(tp.snd_nxt, xlen), tp.snd_max)) tp.snd_max = seqAdd(tp.snd_nxt, xlen);
  }

  if (V.tcp.probes.send.enabled) V.tcp.probes.send.fire(tp, seq, len, flags);
  if (rexmit && V.tcp.probes.retransmit.enabled) V.tcp.probes.retransmit.fire(tp, seq, len, flags);
  const error = tcp_ip_output(V, inp, m, seq, tp.rcv_nxt, flags, win, urp, optlen ? scratch.opt : null, optlen, tos, len);
  if (tp.t_freed) return 0;

  if (error === 0 && TCPS_HAVEESTABLISHED(tp.t_state) && tp.t_flags & TF_SACK_PERMIT && tp.rcv_numsacks > 0) tcp_clean_dsack_blocks(tp);
  if (error !== 0) {
    // The packet was lost locally: back the sequence advance out (not for SYNs).
    if ((!(tp.t_flags & TF_FORCEDATA) || !tcp_timer_active(tp, TT_PERSIST)) && !(flags & TH_SYN) && error !== EPERM) {
      if (sack_rxmit && p !== null) {
        p.rxmit = SEQ_MIN(p.rxmit, startseq);
        tp.sackhint.sack_bytes_rexmit -= len;
      }
      tp.snd_nxt = (tp.snd_nxt - len) >>> 0;
    }
    switch (error) {
      case EACCES:
      case EPERM:
        tp.t_softerror = error;
        return error;
      case ENOBUFS:
        tp.snd_cwnd = tp.t_maxseg;
        return 0;
      case EMSGSIZE:
        if (tso) tp.t_flags &= ~TF_TSO;
        return error;
      case EHOSTDOWN:
      case EHOSTUNREACH:
      case ENETDOWN:
      case ENETUNREACH:
        if (tp.t_state >= TCPS_SYN_RECEIVED) {
          tp.t_softerror = error;
          return 0;
        }
        return error;
      default:
        return error;
    }
  }
  st.tcps_sndtotal++;
  tp.t_sndpack++;
  // The advertised window edge only moves right.
  if (SEQ_GT(seqAdd(tp.rcv_nxt, recwin), tp.rcv_adv)) tp.rcv_adv = seqAdd(tp.rcv_nxt, recwin);
  tp.last_ack_sent = tp.rcv_nxt;
  tp.t_flags &= ~(TF_ACKNOW | TF_DELACK);
  if (tcp_timer_active(tp, TT_DELACK)) tcp_timer_activate(tp, TT_DELACK, 0);
  return sendalot ? -1 : 0;
}
