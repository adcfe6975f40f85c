/*
 * TCP's interface to the socket layer (FreeBSD netinet/tcp_usrreq.c): the user requests
 * (pru_attach, bind, listen, connect, accept, send, rcvd, shutdown, disconnect, abort, close,
 * sockaddr/peeraddr), the IPPROTO_TCP socket options (tcp_ctloutput / tcp_default_ctloutput,
 * option numbers from netinet/tcp.h), TCP_INFO (tcp_fill_info), and the protocol switch
 * entries for TCP over IPv4 and IPv6.
 *
 * The user-visible state machine transitions live here (RFC 9293 §3.10): OPEN (active:
 * tcp_connect → SYN-SENT), CLOSE (tcp_disconnect → tcp_usrclosed: ESTABLISHED → FIN-WAIT-1,
 * CLOSE-WAIT → LAST-ACK), ABORT (tcp_drop → RST). Everything driven by segments is in
 * tcp_input.ts.
 *
 * Lifetime: close() sets SS_NOFDREF and starts a friendly disconnect; the tcpcb, its PCB and
 * the socket stay until the connection reaches CLOSED, when tcp_close() releases all three.
 * A connection that ended while the user still held the socket keeps its (dropped) tcpcb
 * until close(). TCP-level options on a dropped or TIME_WAIT connection fail with
 * ECONNRESET, as on FreeBSD.
 */

import { type Mbuf, m_freem } from '../mbuf/mbuf.js';
import {
  PR_CONNREQUIRED,
  PR_IMPLOPCL,
  PR_WANTRCVD,
  type Protosw,
  type PrUsrreqs,
  PRUS_EOF,
  PRUS_MORETOCOME,
  PRUS_OOB,
  type Sockopt,
  type SockoptResult,
  SOCK_STREAM,
} from '../sys/protosw.js';
import {
  sbappendstream,
  sbflush,
  sbreserve,
  sbspace,
  type Socket,
  socantsendmore,
  sofree,
  soisconnecting,
  soisdisconnected,
  soisdisconnecting,
  SO_ACCEPTCONN,
  SO_LINGER,
  SO_REUSEPORT_LB,
  SOL_SOCKET,
  SB_AUTOSIZE,
  SS_ISCONNECTED,
  SS_ISCONNECTING,
  SS_ISDISCONNECTED,
  SS_ISDISCONNECTING,
} from '../sys/socket.js';
import {
  EACCES,
  EADDRINUSE,
  EAFNOSUPPORT,
  ECONNABORTED,
  ECONNREFUSED,
  ECONNRESET,
  EINVAL,
  EISCONN,
  ENOBUFS,
  ENOMEM,
  ENOPROTOOPT,
  EOPNOTSUPP,
  ESRCH,
} from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { IPPROTO_TCP } from '../wire/ipv4.js';
import { TCP_MAX_WINSHIFT, TCP_MAXWIN } from '../wire/tcp.js';
import {
  AF_INET,
  AF_INET6,
  IN_MULTICAST,
  IN6_IS_ADDR_MULTICAST,
  IN6_IS_ADDR_V4MAPPED,
  in6_v4mapped_addr,
  INADDR_BROADCAST,
  type Sockaddr,
  type SockaddrIn,
  type SockaddrIn6,
} from './in.js';
import {
  IN6P_IPV6_V6ONLY,
  in_pcbbind,
  in_pcbconnect,
  in6_pcbbind,
  in6_pcbconnect,
  INP_DROPPED,
  INP_IPV4,
  INP_IPV6,
  INP_TIMEWAIT,
  type Inpcb,
} from './in_pcb.js';
import { ip_ctloutput } from './ip_ctloutput.js';
import {
  TCPS_CLOSE_WAIT,
  TCPS_CLOSED,
  TCPS_CLOSING,
  TCPS_ESTABLISHED,
  TCPS_FIN_WAIT_1,
  TCPS_FIN_WAIT_2,
  TCPS_HAVEESTABLISHED,
  TCPS_LAST_ACK,
  TCPS_LISTEN,
  TCPS_SYN_RECEIVED,
  TCPS_SYN_SENT,
  TCPS_TIME_WAIT,
} from './tcp_fsm.js';
import { tcp6_input, tcp_input } from './tcp_input.js';
import { tcp_output } from './tcp_output.js';
import { tcp_close, tcp_ctlinput, tcp_discardcb, tcp_drop, tcp_new_isn, tcp_new_ts_offset, tcp_newtcpcb, tcp_set_cc, tcp_state_change } from './tcp_subr.js';
import { msToTicks, TP_KEEPCNT, TP_KEEPIDLE, TP_KEEPINIT, TP_KEEPINTVL, TP_MAXIDLE, tcp_timer_activate } from './tcp_timer.js';
import { tcp_tw_vestige } from './tcp_timewait.js';
import {
  TCP_RTT_SHIFT,
  TCP_RTTVAR_SHIFT,
  type TcpCb,
  TCPI_OPT_ACE,
  TCPI_OPT_ECN,
  TCPI_OPT_SACK,
  TCPI_OPT_TFO,
  TCPI_OPT_TIMESTAMPS,
  TCPI_OPT_WSCALE,
  TF2_ACE_PERMIT,
  TF2_ECN_PERMIT,
  TF_FASTOPEN,
  TF_FORCEDATA,
  TF_MORETOCOME,
  TF_NEEDFIN,
  TF_NODELAY,
  TF_NOOPT,
  TF_NOPUSH,
  TF_RCVD_SCALE,
  TF_RCVD_TSTMP,
  TF_REQ_SCALE,
  TF_REQ_TSTMP,
  TF_SACK_PERMIT,
  TF_SENTSYN,
  TT_2MSL,
  TT_KEEP,
} from './tcp_var.js';
import { TF_CLOSED } from './tcp_var.js';

// --- IPPROTO_TCP socket options (netinet/tcp.h) ---
export const TCP_NODELAY = 1; // don't delay send to coalesce packets
export const TCP_MAXSEG = 2; // set maximum segment size
export const TCP_NOPUSH = 4; // don't push last block of write
export const TCP_NOOPT = 8; // don't use TCP options
export const TCP_MD5SIG = 16; // use MD5 digests (RFC2385)
export const TCP_INFO = 32; // retrieve tcp_info structure
export const TCP_CONGESTION = 64; // get/set congestion control algorithm
export const TCP_KEEPINIT = 128; // N, time to establish connection
export const TCP_KEEPIDLE = 256; // L,N,X start keeplives after this period
export const TCP_KEEPINTVL = 512; // L,N interval between keepalives
export const TCP_KEEPCNT = 1024; // L,N number of keepalives before close
export const TCP_FASTOPEN = 1025; // enable TFO / was created via TFO

/** Default SO_LINGER time (s) for a TCP socket that sets SO_LINGER with 0 (TCP_LINGERTIME). */
export const TCP_LINGERTIME = 120;
/** Longest congestion-control name, with its NUL (TCP_CA_NAME_MAX). */
export const TCP_CA_NAME_MAX = 16;

/**
 * struct tcp_info (netinet/tcp.h) as FreeBSD's tcp_fill_info fills it: times in µs, windows
 * and cwnd in bytes, FreeBSD TCPS_* state numbers. Fields FreeBSD leaves zero (the
 * Linux-compatible __tcpi_* ones) are omitted.
 */
export interface TcpInfo {
  tcpi_state: number;
  tcpi_options: number;
  tcpi_snd_wscale: number;
  tcpi_rcv_wscale: number;
  tcpi_rto: number;
  tcpi_snd_mss: number;
  tcpi_rcv_mss: number;
  tcpi_last_data_recv: number;
  tcpi_rtt: number;
  tcpi_rttvar: number;
  tcpi_snd_ssthresh: number;
  tcpi_snd_cwnd: number;
  tcpi_rcv_space: number;
  tcpi_snd_wnd: number;
  tcpi_snd_bwnd: number;
  tcpi_snd_nxt: number;
  tcpi_rcv_nxt: number;
  tcpi_toe_tid: number;
  tcpi_snd_rexmitpack: number;
  tcpi_rcv_ooopack: number;
  tcpi_snd_zerowin: number;
  tcpi_snd_una: number;
  tcpi_snd_max: number;
  tcpi_rcv_numsacks: number;
  tcpi_rcv_adv: number;
  tcpi_dupacks: number;
  tcpi_total_tlp: number;
}

function inpOf(so: Socket): Inpcb | null {
  return so.so_pcb as Inpcb | null;
}

/** The live tcpcb of a PCB (intotcpcb), or null if freed. */
function intotcpcb(inp: Inpcb): TcpCb | null {
  const tp = inp.inp_ppcb as TcpCb | null;
  return tp === null || tp.t_freed ? null : tp;
}

/** A PCB in TIME_WAIT (FreeBSD 14 keeps the tcpcb; either marker counts). */
function inTimewait(inp: Inpcb): boolean {
  if (inp.inp_flags & INP_TIMEWAIT) return true;
  const tp = inp.inp_ppcb as TcpCb | null;
  return tp !== null && tp.t_state === TCPS_TIME_WAIT;
}

/** Release the socket from its PCB without touching protocol state (in_pcbdetach). */
function in_pcbdetach(inp: Inpcb): void {
  const so = inp.inp_socket;
  inp.inp_socket = null;
  if (so !== null) so.so_pcb = null;
}

// --- user requests ---

/**
 * Attach (tcp_usr_attach): reserve the buffers (net.inet.tcp.sendspace / recvspace, unless
 * sonewconn already sized them from the listener), mark both for autosizing (used when
 * net.inet.tcp.sendbuf_auto / recvbuf_auto are on), allocate the PCB and the tcpcb.
 */
function tcp_usr_attach(so: Socket, _proto: number): number {
  const V = so.so_vnet;
  const t = V.tcp;
  if (so.so_pcb !== null) return EINVAL;
  if (so.so_snd.sb_hiwat === 0 || so.so_rcv.sb_hiwat === 0) {
    // soreserve(): both buffers and their low-water marks.
    if (!sbreserve(V, so.so_snd, t.sendspace) || !sbreserve(V, so.so_rcv, t.recvspace)) return ENOBUFS;
    if (so.so_rcv.sb_lowat === 0) so.so_rcv.sb_lowat = 1;
    if (so.so_snd.sb_lowat === 0) so.so_snd.sb_lowat = 2048; // MCLBYTES
    if (so.so_snd.sb_lowat > so.so_snd.sb_hiwat) so.so_snd.sb_lowat = so.so_snd.sb_hiwat;
  }
  so.so_rcv.sb_flags |= SB_AUTOSIZE;
  so.so_snd.sb_flags |= SB_AUTOSIZE;
  const inp = t.info.alloc(so, so.so_proto.pr_domain === AF_INET6);
  inp.inp_ip_ttl = V.inet.defttl;
  so.so_pcb = inp;
  const tp = tcp_newtcpcb(V, inp);
  tp.t_state = TCPS_CLOSED;
  if (so.so_options & SO_LINGER && so.so_linger === 0) so.so_linger = TCP_LINGERTIME;
  return 0;
}

/**
 * Detach (tcp_usr_detach): the socket layer lets go of the socket. A TIME_WAIT or live
 * connection keeps its PCB (the timers finish it); a dropped or embryonic one is freed now.
 */
function tcp_usr_detach(so: Socket): void {
  const inp = inpOf(so);
  if (inp === null) return;
  const tp = intotcpcb(inp);
  if (inTimewait(inp) && !(inp.inp_flags & INP_DROPPED)) {
    in_pcbdetach(inp);
    // No socket refers to it now: a vestige replaces the tcpcb (VTW, tcp_timewait.ts).
    if (tp !== null) tcp_tw_vestige(tp);
    return;
  }
  if (tp === null) {
    in_pcbdetach(inp);
    inp.inp_pcbinfo.free(inp);
    return;
  }
  if (inp.inp_flags & INP_DROPPED || tp.t_state < TCPS_SYN_SENT) {
    tcp_discardcb(tp);
    so.so_pcb = null;
  } else {
    in_pcbdetach(inp);
  }
}

/** bind() over IPv4 (tcp_usr_bind): multicast addresses are refused. */
function tcp_usr_bind(so: Socket, nam: Sockaddr): number {
  const inp = inpOf(so);
  if (inp === null) return EINVAL;
  if (nam.family !== AF_INET) return EAFNOSUPPORT;
  if (IN_MULTICAST(nam.addr >>> 0)) return EAFNOSUPPORT;
  if (inp.inp_flags & (INP_TIMEWAIT | INP_DROPPED)) return EINVAL;
  return in_pcbbind(inp, nam);
}

/**
 * bind() over IPv6 (tcp6_usr_bind): a v4-mapped address binds the IPv4 side (unless
 * IPV6_V6ONLY); :: without IPV6_V6ONLY also takes IPv4 traffic.
 */
function tcp6_usr_bind(so: Socket, nam: Sockaddr): number {
  const inp = inpOf(so);
  if (inp === null) return EINVAL;
  if (nam.family !== AF_INET6) return EAFNOSUPPORT;
  if (IN6_IS_ADDR_MULTICAST(nam.addr)) return EAFNOSUPPORT;
  if (inp.inp_flags & (INP_TIMEWAIT | INP_DROPPED)) return EINVAL;
  const vflagsav = inp.inp_vflag;
  if (!(inp.inp_flags & IN6P_IPV6_V6ONLY) && IN6_IS_ADDR_V4MAPPED(nam.addr) && IN_MULTICAST(in6_v4mapped_addr(nam.addr))) return EAFNOSUPPORT;
  const e = in6_pcbbind(inp, nam);
  if (e !== 0) inp.inp_vflag = vflagsav;
  return e;
}

/**
 * listen() (tcp_usr_listen / tcp6_usr_listen): an unbound socket gets an ephemeral port
 * (for IPv6, dual-stack unless IPV6_V6ONLY), then the tcpcb enters LISTEN (RFC 9293
 * §3.10.1, passive OPEN). The socket layer sets the backlog and SO_ACCEPTCONN.
 */
function tcp_usr_listen(so: Socket, _backlog: number): number {
  const inp = inpOf(so);
  if (inp === null) return EINVAL;
  if (inp.inp_flags & (INP_TIMEWAIT | INP_DROPPED)) return EINVAL;
  const tp = intotcpcb(inp);
  if (tp === null) return EINVAL;
  // solisten_proto_check
  if (so.so_state & (SS_ISCONNECTED | SS_ISCONNECTING | SS_ISDISCONNECTING)) return EINVAL;
  if (tp.t_state !== TCPS_CLOSED && tp.t_state !== TCPS_LISTEN) return EINVAL;
  if (inp.inp_lport === 0) {
    const vflagsav = inp.inp_vflag;
    const e = so.so_proto.pr_domain === AF_INET6 ? in6_pcbbind(inp, null) : in_pcbbind(inp, null);
    if (e !== 0) {
      inp.inp_vflag = vflagsav;
      return e;
    }
  }
  tcp_state_change(tp, TCPS_LISTEN);
  return 0;
}

/**
 * Checks common to connect() over both families (tcp_connect's prologue): a socket that is
 * or was connected cannot connect again; SO_REUSEPORT_LB is for listeners.
 */
function tcp_connect_check(so: Socket): number {
  if (so.so_state & (SS_ISCONNECTING | SS_ISCONNECTED | SS_ISDISCONNECTING | SS_ISDISCONNECTED)) return EISCONN;
  if (so.so_options & SO_REUSEPORT_LB) return EOPNOTSUPP;
  return 0;
}

/**
 * The rest of tcp_connect once the PCB has its 4-tuple: the window scale to request, then
 * SYN-SENT with a fresh ISN (RFC 6528) and timestamp offset (RFC 7323 §5.4).
 */
function tcp_connect_finish(tp: TcpCb): void {
  const V = tp.t_vnet;
  const inp = tp.t_inpcb;
  const so = inp.inp_socket as Socket;
  // RFC 7323 §2.2: ask for the smallest scale that lets the window reach sb_max
  // (kern.ipc.maxsockbuf), exactly FreeBSD's loop: 2 MiB gives 6.
  const sbMax = V.socket.maxsockbuf;
  // TCP_MAXWIN << 14 < 2^30: a shift, not 2 ** r (a Math.pow call and a heap number).
  while (tp.request_r_scale < TCP_MAX_WINSHIFT && TCP_MAXWIN << tp.request_r_scale < sbMax) tp.request_r_scale++;
  soisconnecting(so);
  V.tcp.stat.tcps_connattempt++;
  tcp_state_change(tp, TCPS_SYN_SENT);
  tp.iss = tcp_new_isn(V, inp);
  if (tp.t_flags & TF_REQ_TSTMP) tp.ts_offset = tcp_new_ts_offset(V, inp);
  tcp_sendseqinit(tp);
  const p = V.tcp.probes.connectRequest;
  if (p.enabled) p.fire(tp, inp.foreignSockaddr());
}

/** tcp_sendseqinit: every send sequence variable starts at the ISS (RFC 9293 §3.4.1). */
function tcp_sendseqinit(tp: TcpCb): void {
  tp.snd_una = tp.snd_nxt = tp.snd_max = tp.snd_up = tp.snd_recover = tp.iss;
}

/**
 * Active OPEN over IPv4 (tcp_connect): in_pcbconnect chooses the source address and, if
 * needed, an ephemeral port such that the 4-tuple is unused (EADDRINUSE when a bound port
 * would repeat a live or TIME_WAIT tuple); then SYN-SENT. The caller sends the SYN.
 */
export function tcp_connect(tp: TcpCb, nam: SockaddrIn): number {
  const inp = tp.t_inpcb;
  const so = inp.inp_socket as Socket;
  const e0 = tcp_connect_check(so);
  if (e0 !== 0) return e0;
  const e = in_pcbconnect(inp, nam);
  if (e !== 0) return e;
  tcp_connect_finish(tp);
  return 0;
}

/** Active OPEN over IPv6 (tcp6_connect); a v4-mapped destination connects over IPv4. */
export function tcp6_connect(tp: TcpCb, nam: SockaddrIn6): number {
  const inp = tp.t_inpcb;
  const so = inp.inp_socket as Socket;
  const e0 = tcp_connect_check(so);
  if (e0 !== 0) return e0;
  const e = in6_pcbconnect(inp, nam);
  if (e !== 0) return e;
  tcp_connect_finish(tp);
  return 0;
}

/**
 * connect() (tcp_usr_connect / tcp6_usr_connect): no connections to multicast (EAFNOSUPPORT)
 * or broadcast (EACCES) addresses; then tcp_connect, the connection-establishment timer
 * (TT_KEEP = TCP_KEEPINIT / net.inet.tcp.keepinit bounds the handshake) and the SYN.
 */
function tcp_usr_connect(so: Socket, nam: Sockaddr): number {
  const inp = inpOf(so);
  if (inp === null) return EINVAL;
  const v6sock = so.so_proto.pr_domain === AF_INET6;
  if (nam.family !== (v6sock ? AF_INET6 : AF_INET)) return EAFNOSUPPORT;
  let v4dst: number | null = null;
  if (nam.family === AF_INET) v4dst = nam.addr >>> 0;
  else if (IN6_IS_ADDR_MULTICAST(nam.addr)) return EAFNOSUPPORT;
  else if (IN6_IS_ADDR_V4MAPPED(nam.addr)) v4dst = in6_v4mapped_addr(nam.addr);
  if (v4dst !== null) {
    if (IN_MULTICAST(v4dst)) return EAFNOSUPPORT;
    if (v4dst === INADDR_BROADCAST) return EACCES;
  }
  if (inTimewait(inp)) return EADDRINUSE;
  if (inp.inp_flags & INP_DROPPED) return ECONNREFUSED;
  if (so.so_options & SO_ACCEPTCONN) return EOPNOTSUPP;
  const tp = intotcpcb(inp);
  if (tp === null) return ECONNREFUSED;
  const vflagsav = inp.inp_vflag;
  let error: number;
  if (!v6sock) {
    error = tcp_connect(tp, nam as SockaddrIn);
  } else {
    const sin6 = nam as SockaddrIn6;
    if (v4dst !== null) {
      // A v4-mapped peer: the socket must still accept IPv4 (not IPV6_V6ONLY, not bound to
      // an IPv6 address).
      if (inp.inp_flags & IN6P_IPV6_V6ONLY) return EINVAL;
      if (inp.inp_lport !== 0 && !(inp.inp_vflag & INP_IPV4)) return EAFNOSUPPORT;
    } else if (inp.inp_lport !== 0 && !(inp.inp_vflag & INP_IPV6)) {
      return EAFNOSUPPORT;
    }
    error = tcp6_connect(tp, sin6);
  }
  if (error !== 0) {
    // A failed implicit bind leaves the flags as they were.
    if (inp.inp_lport === 0) inp.inp_vflag = vflagsav;
    return error;
  }
  // FreeBSD forgets this timer on the v4-mapped path; RFC 9293 §3.8 wants setup bounded
  // whatever the family, so it is armed for both.
  tcp_timer_activate(tp, TT_KEEP, TP_KEEPINIT(tp));
  error = tcp_output(tp);
  tp.t_flags |= TF_SENTSYN;
  return error;
}

/** Peer address of an accepted connection (tcp_usr_accept; v4-mapped on IPv6 sockets). */
function tcp_usr_accept(so: Socket): Sockaddr | null {
  const inp = inpOf(so);
  if (inp === null) return null;
  return inp.foreignSockaddr();
}

/**
 * Start a disconnect (tcp_disconnect), RFC 9293 §3.10.4 CLOSE:
 *  - before ESTABLISHED (CLOSED, LISTEN, SYN-SENT, and FreeBSD's SYN-RECEIVED): delete the
 *    TCB (tcp_close; FreeBSD sends no FIN from SYN-RECEIVED here);
 *  - SO_LINGER with a zero linger time: ABORT (§3.10.5), a RST, via tcp_drop;
 *  - otherwise: the socket is disconnecting, unread data is discarded, tcp_usrclosed moves
 *    the state on, and tcp_output sends the FIN.
 */
export function tcp_disconnect(tp: TcpCb): void {
  const inp = tp.t_inpcb;
  const so = inp.inp_socket as Socket;
  if (tp.t_state < TCPS_ESTABLISHED && !(tp.t_state > TCPS_LISTEN && tp.t_flags & TF_FASTOPEN)) {
    tcp_close(tp);
  } else if (so.so_options & SO_LINGER && so.so_linger === 0) {
    tcp_drop(tp, 0);
  } else {
    soisdisconnecting(so);
    sbflush(so.so_rcv);
    const ntp = tcp_usrclosed(tp);
    if (ntp !== null && !(inp.inp_flags & INP_DROPPED)) tcp_output(ntp);
  }
}

/**
 * The user will send no more (tcp_usrclosed), RFC 9293 §3.10.4:
 *   CLOSED, LISTEN → the TCB goes (tcp_close);
 *   SYN-SENT, SYN-RECEIVED → the FIN is queued (TF_NEEDFIN) until the connection is
 *     established (FreeBSD; RFC 9293 would delete the TCB in SYN-SENT);
 *   ESTABLISHED → FIN-WAIT-1; CLOSE-WAIT → LAST-ACK;
 *   already past our FIN: nothing changes.
 * Reaching FIN-WAIT-2 or TIME-WAIT disconnects the socket; FIN-WAIT-2 is bounded by TT_2MSL
 * (net.inet.tcp.finwait2_timeout with fast_finwait2_recycle, else TP_MAXIDLE) so a silent
 * peer cannot keep it forever. Returns null if the tcpcb was freed.
 */
export function tcp_usrclosed(tp: TcpCb): TcpCb | null {
  let ntp: TcpCb | null = tp;
  switch (tp.t_state) {
    case TCPS_LISTEN:
    case TCPS_CLOSED:
      if (tp.t_state === TCPS_LISTEN) tcp_state_change(tp, TCPS_CLOSED);
      ntp = tcp_close(tp);
      break;
    case TCPS_SYN_SENT:
    case TCPS_SYN_RECEIVED:
      tp.t_flags |= TF_NEEDFIN;
      break;
    case TCPS_ESTABLISHED:
      tcp_state_change(tp, TCPS_FIN_WAIT_1);
      break;
    case TCPS_CLOSE_WAIT:
      tcp_state_change(tp, TCPS_LAST_ACK);
      break;
  }
  if (ntp !== null && ntp.t_state >= TCPS_FIN_WAIT_2) {
    const so = ntp.t_inpcb.inp_socket;
    if (so !== null) soisdisconnected(so);
    if (ntp.t_state === TCPS_FIN_WAIT_2) {
      const V = ntp.t_vnet;
      const timeout = V.tcp.fast_finwait2_recycle ? msToTicks(V, V.tcp.finwait2_timeout) : TP_MAXIDLE(ntp);
      tcp_timer_activate(ntp, TT_2MSL, timeout);
    }
  }
  return ntp;
}

/** disconnect (tcp_usr_disconnect). */
function tcp_usr_disconnect(so: Socket): number {
  const inp = inpOf(so);
  if (inp === null) return ECONNRESET;
  if (inTimewait(inp)) return 0;
  const tp = intotcpcb(inp);
  if (inp.inp_flags & INP_DROPPED || tp === null) return ECONNRESET;
  tcp_disconnect(tp);
  return 0;
}

/** shutdown(SHUT_WR) (tcp_usr_shutdown): half-close, RFC 9293 §3.10.4 — send our FIN. */
function tcp_usr_shutdown(so: Socket): number {
  const inp = inpOf(so);
  if (inp === null) return ECONNRESET;
  const tp = intotcpcb(inp);
  if (inp.inp_flags & (INP_TIMEWAIT | INP_DROPPED) || tp === null || tp.t_state === TCPS_TIME_WAIT) return ECONNRESET;
  socantsendmore(so);
  const ntp = tcp_usrclosed(tp);
  if (ntp !== null && !(inp.inp_flags & INP_DROPPED)) return tcp_output(ntp);
  return 0;
}

/** The user read data (tcp_usr_rcvd): tcp_output decides whether a window update is due. */
function tcp_usr_rcvd(so: Socket, _flags: number): number {
  const inp = inpOf(so);
  if (inp === null) return ECONNRESET;
  const tp = intotcpcb(inp);
  if (inp.inp_flags & (INP_TIMEWAIT | INP_DROPPED) || tp === null || tp.t_state === TCPS_TIME_WAIT) return ECONNRESET;
  // A passive TFO connection would wait for data here; TFO is not implemented.
  tcp_output(tp);
  return 0;
}

/**
 * send (tcp_usr_send): the data joins the send buffer and tcp_output sends what the windows
 * allow. PRUS_EOF closes the send side after the data (tcp_usrclosed); PRUS_MORETOCOME
 * holds back a partial segment (TF_MORETOCOME). PRUS_OOB is urgent data: the urgent pointer
 * marks the byte after it (RFC 9293 §3.8.5 reading as FreeBSD does) and a segment is forced
 * out. Implied connect (sendto on an unconnected socket, T/TCP) is not supported: the socket
 * layer refuses it with ENOTCONN before we get here. `m` is ours whatever happens.
 */
function tcp_usr_send(so: Socket, flags: number, m: Mbuf | null, _nam: Sockaddr | null, control: unknown): number {
  const V = so.so_vnet;
  const inp = inpOf(so);
  const tp = inp === null ? null : intotcpcb(inp);
  if (inp === null || tp === null || inp.inp_flags & (INP_TIMEWAIT | INP_DROPPED) || tp.t_state === TCPS_TIME_WAIT) {
    if (m !== null) m_freem(m);
    return ECONNRESET;
  }
  if (control !== null && control !== undefined) {
    // TCP carries no control messages.
    if (m !== null) m_freem(m);
    return EINVAL;
  }
  if (!(flags & PRUS_OOB)) {
    if (m !== null) sbappendstream(V, so.so_snd, m);
    let ntp: TcpCb | null = tp;
    if (flags & PRUS_EOF) {
      socantsendmore(so);
      ntp = tcp_usrclosed(tp);
    }
    if (ntp !== null && !(inp.inp_flags & INP_DROPPED)) {
      if (flags & PRUS_MORETOCOME) ntp.t_flags |= TF_MORETOCOME;
      const error = tcp_output(ntp);
      if (flags & PRUS_MORETOCOME) ntp.t_flags &= ~TF_MORETOCOME;
      return error;
    }
    return 0;
  }
  if (sbspace(so.so_snd) < -512) {
    if (m !== null) m_freem(m);
    return ENOBUFS;
  }
  if (m !== null) sbappendstream(V, so.so_snd, m);
  tp.snd_up = (tp.snd_una + so.so_snd.sb_ccc) >>> 0;
  tp.t_flags |= TF_FORCEDATA;
  const error = tcp_output(tp);
  tp.t_flags &= ~TF_FORCEDATA;
  return error;
}

/** abort (tcp_usr_abort): drop the connection (RST if synchronised), ECONNABORTED. */
function tcp_usr_abort(so: Socket): void {
  const inp = inpOf(so);
  if (inp === null) {
    sofree(so);
    return;
  }
  const tp = intotcpcb(inp);
  if (tp === null) {
    in_pcbdetach(inp);
    inp.inp_pcbinfo.free(inp);
    sofree(so);
    return;
  }
  if (!inTimewait(inp) && !(inp.inp_flags & INP_DROPPED)) {
    tcp_drop(tp, ECONNABORTED);
    return;
  }
  tcp_usr_close(so);
}

/**
 * close (tcp_usr_close): the descriptor is gone (SS_NOFDREF is set). A live connection
 * starts a friendly disconnect and lives on until CLOSED; a connection already dropped is
 * released now; a TIME_WAIT one lets go of the socket and finishes on its timer.
 */
function tcp_usr_close(so: Socket): void {
  const inp = inpOf(so);
  if (inp === null) {
    sofree(so);
    return;
  }
  const tp = intotcpcb(inp);
  if (tp === null) {
    in_pcbdetach(inp);
    inp.inp_pcbinfo.free(inp);
    sofree(so);
    return;
  }
  if (inTimewait(inp)) {
    in_pcbdetach(inp);
    sofree(so);
    // No socket refers to it now: a vestige replaces the tcpcb (VTW, tcp_timewait.ts).
    tcp_tw_vestige(tp);
    return;
  }
  if (inp.inp_flags & INP_DROPPED) {
    tcp_discardcb(tp);
    return;
  }
  // FreeBSD tcp_usr_close: remember the user closed, so data arriving later is answered with
  // a RST (RFC 9293 §3.10.7.4; tcp_do_segment's TF_CLOSED check).
  tp.t_flags |= TF_CLOSED;
  tcp_disconnect(tp);
}

function tcp_usr_sockaddr(so: Socket): Sockaddr | null {
  const inp = inpOf(so);
  return inp === null ? null : inp.localSockaddr();
}

function tcp_usr_peeraddr(so: Socket): Sockaddr | null {
  const inp = inpOf(so);
  if (inp === null || !inp.connected) return null;
  return inp.foreignSockaddr();
}

/** The user requests of TCP over IPv4 (tcp_usrreqs). */
export const tcp_usrreqs: PrUsrreqs = {
  pru_attach: tcp_usr_attach,
  pru_detach: tcp_usr_detach,
  pru_bind: tcp_usr_bind,
  pru_listen: tcp_usr_listen,
  pru_connect: tcp_usr_connect,
  pru_accept: tcp_usr_accept,
  pru_disconnect: tcp_usr_disconnect,
  pru_shutdown: tcp_usr_shutdown,
  pru_rcvd: tcp_usr_rcvd,
  pru_send: tcp_usr_send,
  pru_abort: tcp_usr_abort,
  pru_close: tcp_usr_close,
  pru_sockaddr: tcp_usr_sockaddr,
  pru_peeraddr: tcp_usr_peeraddr,
};

/** The user requests of TCP over IPv6 (tcp6_usrreqs). */
export const tcp6_usrreqs: PrUsrreqs = { ...tcp_usrreqs, pru_bind: tcp6_usr_bind };

// --- TCP_INFO ---

/** Fill a struct tcp_info (tcp_fill_info): FreeBSD's fields, times converted ticks → µs. */
export function tcp_fill_info(tp: TcpCb): TcpInfo {
  const V = tp.t_vnet;
  const tick = V.callwheel.tickNs / 1000; // µs per tick (FreeBSD's `tick`)
  let options = 0;
  let sws = 0;
  let rws = 0;
  if (tp.t_flags & TF_REQ_TSTMP && tp.t_flags & TF_RCVD_TSTMP) options |= TCPI_OPT_TIMESTAMPS;
  if (tp.t_flags & TF_SACK_PERMIT) options |= TCPI_OPT_SACK;
  if (tp.t_flags & TF_REQ_SCALE && tp.t_flags & TF_RCVD_SCALE) {
    options |= TCPI_OPT_WSCALE;
    sws = tp.snd_scale;
    rws = tp.rcv_scale;
  }
  const ecn = tp.t_flags2 & (TF2_ECN_PERMIT | TF2_ACE_PERMIT);
  if (ecn === TF2_ECN_PERMIT) options |= TCPI_OPT_ECN;
  else if (ecn !== 0) options |= TCPI_OPT_ACE;
  if (tp.t_flags & TF_FASTOPEN) options |= TCPI_OPT_TFO;
  return {
    tcpi_state: tp.t_state,
    tcpi_options: options,
    tcpi_snd_wscale: sws,
    tcpi_rcv_wscale: rws,
    tcpi_rto: Math.floor(tp.t_rxtcur * tick),
    tcpi_snd_mss: tp.t_maxseg,
    tcpi_rcv_mss: tp.t_maxseg,
    tcpi_last_data_recv: Math.floor((V.callwheel.ticks() - tp.t_rcvtime) * tick),
    tcpi_rtt: Math.floor((tp.t_srtt * tick) / 2 ** TCP_RTT_SHIFT),
    tcpi_rttvar: Math.floor((tp.t_rttvar * tick) / 2 ** TCP_RTTVAR_SHIFT),
    tcpi_snd_ssthresh: tp.snd_ssthresh >>> 0,
    tcpi_snd_cwnd: tp.snd_cwnd >>> 0,
    tcpi_rcv_space: tp.rcv_wnd >>> 0,
    tcpi_snd_wnd: tp.snd_wnd >>> 0,
    tcpi_snd_bwnd: 0, // unused, kept for compatibility (FreeBSD)
    tcpi_snd_nxt: tp.snd_nxt >>> 0,
    tcpi_rcv_nxt: tp.rcv_nxt >>> 0,
    tcpi_toe_tid: 0,
    tcpi_snd_rexmitpack: tp.t_sndrexmitpack,
    tcpi_rcv_ooopack: tp.t_rcvoopack,
    tcpi_snd_zerowin: tp.t_sndzerowin,
    tcpi_snd_una: tp.snd_una >>> 0,
    tcpi_snd_max: tp.snd_max >>> 0,
    tcpi_rcv_numsacks: tp.rcv_numsacks,
    tcpi_rcv_adv: tp.rcv_adv >>> 0,
    tcpi_dupacks: tp.t_dupacks,
    tcpi_total_tlp: tp.t_sndtlppack,
  };
}

// --- socket options ---

function intOpt(v: Sockopt['value']): number {
  if (typeof v === 'number') return Number.isInteger(v) ? v : Number.NaN;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number.NaN;
}

/** A C string option value (TCP_CONGESTION): bytes up to the NUL, or an object's `name`. */
function strOpt(v: Sockopt['value']): string | null {
  if (v instanceof Uint8Array) {
    let n = v.indexOf(0);
    if (n < 0) n = v.length;
    return new TextDecoder().decode(v.subarray(0, n));
  }
  if (typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string') return (v as { name: string }).name;
  return null;
}

/**
 * Socket options (tcp_ctloutput + tcp_default_ctloutput). Other levels go to the IP layer
 * (ip_ctloutput handles IPPROTO_IP and IPPROTO_IPV6); SOL_SOCKET changes are only notified
 * here and need nothing from TCP. IPPROTO_TCP options on a dropped or TIME_WAIT connection
 * fail with ECONNRESET.
 *
 * Not implemented, and refused as FreeBSD refuses an option it was built without:
 * TCP_MD5SIG (RFC 2385 signatures; ENOPROTOOPT as without TCP_SIGNATURE) and TCP_FASTOPEN
 * (RFC 7413; set gives ENOPROTOOPT; get reports 0 since TFO is never on).
 */
export function tcp_ctloutput(so: Socket, op: 'get' | 'set', sopt: Sockopt): SockoptResult {
  const inp = inpOf(so);
  if (inp === null) return { error: ECONNRESET };
  if (sopt.level !== IPPROTO_TCP) {
    const r = ip_ctloutput(so, inp, op, sopt);
    if (r !== null) return r;
    return sopt.level === SOL_SOCKET ? { error: 0 } : { error: ENOPROTOOPT };
  }
  const tp = intotcpcb(inp);
  if (tp === null || inp.inp_flags & (INP_TIMEWAIT | INP_DROPPED) || tp.t_state === TCPS_TIME_WAIT) return { error: ECONNRESET };
  return op === 'set' ? tcp_ctloutput_set(tp, sopt) : tcp_ctloutput_get(tp, sopt);
}

/** Seconds of a TCP_KEEP* option → ticks; refused above UINT_MAX / hz as FreeBSD. */
function keepSecondsToTicks(V: Vnet, v: number): number {
  const hz = 1e9 / V.callwheel.tickNs;
  const ui = v >>> 0;
  if (ui > Math.floor(0xffffffff / hz)) return -1;
  return msToTicks(V, ui * 1000);
}

function tcp_ctloutput_set(tp: TcpCb, sopt: Sockopt): SockoptResult {
  const V = tp.t_vnet;
  switch (sopt.name) {
    case TCP_NODELAY:
    case TCP_NOOPT: {
      const v = intOpt(sopt.value);
      if (Number.isNaN(v)) return { error: EINVAL };
      const flag = sopt.name === TCP_NODELAY ? TF_NODELAY : TF_NOOPT;
      if (v) tp.t_flags |= flag;
      else tp.t_flags &= ~flag;
      return { error: 0 };
    }
    case TCP_NOPUSH: {
      // Clearing TCP_NOPUSH pushes out what was held back.
      const v = intOpt(sopt.value);
      if (Number.isNaN(v)) return { error: EINVAL };
      if (v) {
        tp.t_flags |= TF_NOPUSH;
      } else if (tp.t_flags & TF_NOPUSH) {
        tp.t_flags &= ~TF_NOPUSH;
        if (TCPS_HAVEESTABLISHED(tp.t_state)) return { error: tcp_output(tp) };
      }
      return { error: 0 };
    }
    case TCP_MAXSEG: {
      // Only lowering is allowed, and not below net.inet.tcp.minmss (counting 40 bytes of
      // headers, as FreeBSD).
      const v = intOpt(sopt.value);
      if (v > 0 && v <= tp.t_maxseg && v + 40 >= V.tcp.minmss) {
        tp.t_maxseg = v;
        tp.t_user_maxseg = v;
        return { error: 0 };
      }
      return { error: EINVAL };
    }
    case TCP_INFO:
      return { error: EINVAL };
    case TCP_CONGESTION: {
      const name = strOpt(sopt.value);
      if (name === null || name.length === 0 || name.length > TCP_CA_NAME_MAX - 1) return { error: EINVAL };
      if (V.cc.get(name) === undefined) return { error: ESRCH }; // tcp_set_cc_mod: unknown algorithm
      if (!tcp_set_cc(tp, name)) {
        // The new algorithm failed to initialise: fall back to newreno (no state), ENOMEM.
        tcp_set_cc(tp, 'newreno');
        return { error: ENOMEM };
      }
      return { error: 0 };
    }
    case TCP_KEEPIDLE:
    case TCP_KEEPINTVL:
    case TCP_KEEPINIT: {
      const v = intOpt(sopt.value);
      if (Number.isNaN(v)) return { error: EINVAL };
      const ticks = keepSecondsToTicks(V, v);
      if (ticks < 0) return { error: EINVAL };
      switch (sopt.name) {
        case TCP_KEEPIDLE:
          tp.t_keepidle = ticks;
          // Restart the idle timer of a connection that has one running.
          if (tp.t_state > TCPS_LISTEN && tp.t_state <= TCPS_CLOSING) tcp_timer_activate(tp, TT_KEEP, TP_KEEPIDLE(tp));
          break;
        case TCP_KEEPINTVL:
          tp.t_keepintvl = ticks;
          if (tp.t_state === TCPS_FIN_WAIT_2 && TP_MAXIDLE(tp) > 0) tcp_timer_activate(tp, TT_2MSL, TP_MAXIDLE(tp));
          break;
        default:
          tp.t_keepinit = ticks;
          if (tp.t_state === TCPS_SYN_RECEIVED || tp.t_state === TCPS_SYN_SENT) tcp_timer_activate(tp, TT_KEEP, TP_KEEPINIT(tp));
          break;
      }
      return { error: 0 };
    }
    case TCP_KEEPCNT: {
      const v = intOpt(sopt.value);
      if (Number.isNaN(v)) return { error: EINVAL };
      tp.t_keepcnt = v >>> 0;
      if (tp.t_state === TCPS_FIN_WAIT_2 && TP_MAXIDLE(tp) > 0) tcp_timer_activate(tp, TT_2MSL, TP_MAXIDLE(tp));
      return { error: 0 };
    }
    case TCP_MD5SIG:
    case TCP_FASTOPEN:
      return { error: ENOPROTOOPT };
    default:
      return { error: ENOPROTOOPT };
  }
}

function tcp_ctloutput_get(tp: TcpCb, sopt: Sockopt): SockoptResult {
  switch (sopt.name) {
    // FreeBSD returns the flag bit itself (t_flags & TF_x), not 1.
    case TCP_NODELAY:
      return { error: 0, value: tp.t_flags & TF_NODELAY };
    case TCP_MAXSEG:
      return { error: 0, value: tp.t_maxseg };
    case TCP_NOOPT:
      return { error: 0, value: tp.t_flags & TF_NOOPT };
    case TCP_NOPUSH:
      return { error: 0, value: tp.t_flags & TF_NOPUSH };
    case TCP_INFO:
      return { error: 0, value: { ...tcp_fill_info(tp) } };
    case TCP_CONGESTION: {
      const name = tp.cc_algo?.name ?? 'newreno';
      const b = new TextEncoder().encode(`${name}\0`);
      return { error: 0, value: b };
    }
    case TCP_KEEPIDLE:
    case TCP_KEEPINTVL:
    case TCP_KEEPINIT: {
      const V = tp.t_vnet;
      const hz = 1e9 / V.callwheel.tickNs;
      const ticks = sopt.name === TCP_KEEPIDLE ? TP_KEEPIDLE(tp) : sopt.name === TCP_KEEPINTVL ? TP_KEEPINTVL(tp) : TP_KEEPINIT(tp);
      return { error: 0, value: Math.floor(ticks / hz) };
    }
    case TCP_KEEPCNT:
      return { error: 0, value: TP_KEEPCNT(tp) };
    case TCP_FASTOPEN:
      return { error: 0, value: tp.t_flags & TF_FASTOPEN };
    case TCP_MD5SIG:
      return { error: ENOPROTOOPT };
    default:
      return { error: ENOPROTOOPT };
  }
}

// --- the protocol switch ---

/** TCP's protosw for one family (inetsw / inet6sw entries). */
export function tcp_protosw(V: Vnet, family: number): Protosw {
  const v6 = family === AF_INET6;
  return {
    pr_type: SOCK_STREAM,
    pr_domain: family,
    pr_protocol: IPPROTO_TCP,
    pr_flags: PR_CONNREQUIRED | PR_IMPLOPCL | PR_WANTRCVD,
    pr_name: v6 ? 'tcp6' : 'tcp',
    pr_input: v6 ? tcp6_input : tcp_input,
    pr_ctlinput: (ctl) => tcp_ctlinput(V, ctl),
    pr_ctloutput: tcp_ctloutput,
    pr_usrreqs: v6 ? tcp6_usrreqs : tcp_usrreqs,
  };
}
