/*
 * UDP over IPv4 and IPv6 (BSD netinet/udp_usrreq.c and netinet6/udp6_usrreq.c; RFC 768,
 * RFC 8200 §8.1).
 *
 * Input validates the length and checksum (optional over IPv4 — a zero checksum means
 * none — and mandatory over IPv6), then finds the receiving socket through the PCB hash
 * (exact 4-tuple, then the best wildcard), or, for broadcast and multicast datagrams,
 * delivers a copy to every matching socket (stopping at the first that did not set
 * SO_REUSEADDR/SO_REUSEPORT, as FreeBSD does). A unicast datagram for a closed port draws
 * an ICMP port unreachable unless net.inet.udp.blackhole is set. A full receive buffer
 * drops the datagram (udps_fullsock).
 *
 * Output builds the UDP and IP headers in front of the data (an unbound socket gets an
 * ephemeral port first) and leaves the checksum to the interface when it can (CSUM_IP_UDP
 * with the pseudo-header sum in the field), else ip_output completes it.
 *
 * ICMP errors reach only connected sockets (udp_ctlinput), which then report ECONNREFUSED,
 * EHOSTUNREACH... on their next call.
 */

import { CSUM_DATA_VALID, CSUM_IP6_UDP, CSUM_IP_UDP, CSUM_PSEUDO_HDR, M_BCAST, M_MCAST, type Mbuf, m_adj, m_freem } from '../mbuf/mbuf.js';
import { icmp6_error } from '../netinet6/icmp6.js';
import { in6_selectsrc } from '../netinet6/in6_src.js';
import { ip6_output } from '../netinet6/ip6_output.js';
import {
  type CtlInput,
  inetctlerrmap,
  PR_ADDR,
  PR_ATOMIC,
  type Protosw,
  type PrUsrreqs,
  type Sockopt,
  type SockoptResult,
  SOCK_DGRAM,
} from '../sys/protosw.js';
import {
  sbappendaddr,
  sbreserve,
  type Socket,
  socantsendmore,
  sofree,
  soisconnected,
  sorwakeup,
  soseterror,
  SO_BROADCAST,
  SO_DONTROUTE,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_REUSEPORT_LB,
  SS_ISCONNECTED,
} from '../sys/socket.js';
import { EADDRNOTAVAIL, EAFNOSUPPORT, EDESTADDRREQ, EINVAL, EISCONN, EMSGSIZE, ENOBUFS, ENOTCONN } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { get16, get32, set16, set32 } from '../wire/bytes.js';
import { cksumFinish, cksumFold, pseudoSum4, pseudoSum6 } from '../wire/checksum.js';
import { ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT } from '../wire/icmp6.js';
import { ICMP_UNREACH, ICMP_UNREACH_PORT } from '../wire/icmp.js';
import { IP_DF, IP_HDR_LEN, IP_MAXPACKET, IP_OFF_DST, IP_OFF_LEN, IP_OFF_SRC, IP_OFF_TTL, IPPROTO_UDP } from '../wire/ipv4.js';
import { IP6_HDR_LEN, IP6_OFF_DST, IP6_OFF_HLIM, IP6_OFF_PLEN, IP6_OFF_SRC } from '../wire/ipv6.js';
import { UDP_HDR_LEN, UDP_OFF_DPORT, UDP_OFF_LEN, UDP_OFF_SPORT, UDP_OFF_SUM } from '../wire/udp.js';
import {
  AF_INET,
  AF_INET6,
  IN_MULTICAST,
  IN6_IS_ADDR_MULTICAST,
  IN6_IS_ADDR_UNSPECIFIED,
  IN6_IS_ADDR_V4MAPPED,
  in6_equal,
  in6_v4mapped,
  in6_v4mapped_addr,
  INADDR_ANY,
  INADDR_BROADCAST,
  type Sockaddr,
  type SockaddrIn,
  type SockaddrIn6,
  sockaddr_in,
  sockaddr_in6,
} from './in.js';
import { in_cksum_chain } from './in_cksum.js';
import {
  in_pcbbind,
  in_pcbconnect,
  in_pcbdisconnect,
  in_pcbladdr,
  in6_pcbbind,
  in6_pcbconnect,
  INP_DONTFRAG,
  INP_IPV4,
  INP_IPV6,
  type Inpcb,
  PcbInfo,
} from './in_pcb.js';
import { type XInpcb, xinpcbList } from './in_pcblist.js';
import { ip_ctloutput } from './ip_ctloutput.js';
import { build_ip_header, icmp_error } from './ip_icmp.js';
import { IP_ALLOWBROADCAST, IP_ROUTETOIF, ip_output } from './ip_output.js';
import { field } from '../kern/kern_sysctl.js';

/** UDP statistics (struct udpstat, netinet/udp_var.h). */
export class UdpStat {
  udps_ipackets = 0; // total input packets
  udps_hdrops = 0; // packet shorter than header
  udps_badsum = 0; // checksum error
  udps_nosum = 0; // no checksum
  udps_badlen = 0; // data length larger than packet
  udps_noport = 0; // no socket on port
  udps_noportbcast = 0; // of above, arrived as broadcast
  udps_fullsock = 0; // not delivered, input socket full
  udpps_pcbcachemiss = 0;
  udpps_pcbhashmiss = 0; // input packets missing pcb hash
  udps_opackets = 0; // total output packets
  udps_fastout = 0;
  udps_noportmcast = 0; // of no socket on port, multicast
  udps_filtermcast = 0; // blocked by multicast filter
}

export class UdpVars {
  readonly stat = new UdpStat();
  /** udbinfo: one table for UDP over both families (FreeBSD shares it). */
  readonly info: PcbInfo;
  /** net.inet.udp.checksum: compute checksums on output (IPv4; IPv6 always does). */
  checksum = true;
  /** net.inet.udp.maxdgram: default send buffer (largest datagram). */
  maxdgram = 9216;
  /** net.inet.udp.recvspace: default receive buffer. */
  recvspace = 40 * (1024 + 28);
  /** net.inet.udp.blackhole: do not send port unreachables. */
  blackhole = false;
  /** net.inet.udp.log_in_vain (kept as a count, nothing is printed). */
  log_in_vain = false;
  in_vain = 0;

  constructor(V: Vnet) {
    this.info = new PcbInfo(V, 'udp');
    const s = V.sysctl;
    s.node('net.inet.udp', 'UDP');
    s.bool('net.inet.udp.checksum', field(this, 'checksum'), { descr: 'compute udp checksum' });
    s.int('net.inet.udp.maxdgram', field(this, 'maxdgram'), { descr: 'Maximum outgoing UDP datagram size', min: 1, max: IP_MAXPACKET });
    s.int('net.inet.udp.recvspace', field(this, 'recvspace'), { descr: 'Maximum space for incoming UDP datagrams', min: 1, max: 1 << 30 });
    s.bool('net.inet.udp.blackhole', field(this, 'blackhole'), { descr: 'Do not send port unreachables for refused connects' });
    s.bool('net.inet.udp.log_in_vain', field(this, 'log_in_vain'), { descr: 'Log all incoming UDP packets' });
    s.struct('net.inet.udp.stats', () => ({ ...this.stat }), { descr: 'UDP statistics (struct udpstat, netinet/udp_var.h)', type: 'udpstat' });
    s.struct('net.inet.udp.pcblist', () => pcblist(this.info), { descr: 'List of active UDP sockets', type: 'xinpcb' });
  }
}

/** The PCB list as plain records (struct xinpcb, see in_pcblist.ts; for netstat through sysctl). */
export function pcblist(info: PcbInfo): XInpcb[] {
  return xinpcbList(info, IPPROTO_UDP);
}

function inpOf(so: Socket): Inpcb {
  return so.so_pcb as Inpcb;
}

// --- input ---

/** The UDP/IPv4 input routine: m starts at the IP header, `off` is the UDP header offset. */
export function udp_input(m0: Mbuf, off: number, _proto: number): void {
  const V = (m0.rcvif as NonNullable<Mbuf['rcvif']>).if_vnet;
  const udp = V.udp;
  const st = udp.stat;
  st.udps_ipackets++;
  let m: Mbuf | null = m0;
  if (m.m_len < off + UDP_HDR_LEN) {
    m = V.mbufs.pullup(m, off + UDP_HDR_LEN);
    if (m === null) {
      st.udps_hdrops++;
      return;
    }
  }
  const b = m.m_buf;
  const o = m.m_data;
  const ipLen = get16(b, o + IP_OFF_LEN);
  const src = get32(b, o + IP_OFF_SRC);
  const dst = get32(b, o + IP_OFF_DST);
  const u = o + off;
  const sport = get16(b, u + UDP_OFF_SPORT);
  const dport = get16(b, u + UDP_OFF_DPORT);
  const ulen = get16(b, u + UDP_OFF_LEN);
  if (ulen < UDP_HDR_LEN || ulen > ipLen - off) {
    st.udps_badlen++;
    m_freem(m);
    return;
  }
  if (ulen < ipLen - off) {
    // The IP datagram is longer than the UDP datagram: trim (FreeBSD does the same).
    m_adj(m, ulen - (ipLen - off));
  }
  // Checksum (RFC 768): zero means none over IPv4.
  const sum = get16(b, u + UDP_OFF_SUM);
  if (sum !== 0) {
    let ok: boolean;
    if (m.csum_flags & CSUM_DATA_VALID)
      ok = m.csum_flags & CSUM_PSEUDO_HDR ? m.csum_data === 0xffff : cksumFinish(m.csum_data + pseudoSum4(src, dst, IPPROTO_UDP, ulen)) === 0;
    else ok = cksumFinish(in_cksum_chain(m, off, ulen, pseudoSum4(src, dst, IPPROTO_UDP, ulen))) === 0;
    if (!ok) {
      st.udps_badsum++;
      m_freem(m);
      return;
    }
  } else {
    st.udps_nosum++;
  }

  const bcast = (m.m_flags & (M_BCAST | M_MCAST)) !== 0 || IN_MULTICAST(dst) || dst === INADDR_BROADCAST || V.inet.isBroadcast(dst, m.rcvif);
  if (bcast) {
    udp_multi_input(V, m, off, src, sport, dst, dport, IN_MULTICAST(dst));
    return;
  }
  const inp = udp.info.lookup4(src, sport, dst, dport, true);
  if (inp === null || inp.inp_socket === null) {
    st.udps_noport++;
    if (udp.log_in_vain) udp.in_vain++;
    if (udp.blackhole) m_freem(m);
    else icmp_error_port(V, m);
    return;
  }
  if (inp.inp_ip_minttl && (b[o + IP_OFF_TTL] as number) < inp.inp_ip_minttl) {
    m_freem(m);
    return;
  }
  udp_append(V, inp, m, off, AF_INET, src, null, sport);
}

function icmp_error_port(V: Vnet, m: Mbuf): void {
  icmp_error(V, m, ICMP_UNREACH, ICMP_UNREACH_PORT, 0, 0);
}

/** Deliver a broadcast/multicast datagram to every matching socket (udp_multi_input). */
function udp_multi_input(V: Vnet, m: Mbuf, off: number, src: number, sport: number, dst: number, dport: number, mcast: boolean): void {
  const st = V.udp.stat;
  let last: Inpcb | null = null;
  for (const inp of V.udp.info.onPort(dport)) {
    if (!(inp.inp_vflag & INP_IPV4) || inp.inp_socket === null) continue;
    if (inp.inp_laddr !== INADDR_ANY && inp.inp_laddr !== dst) continue;
    if (inp.inp_faddr !== INADDR_ANY && (inp.inp_faddr !== src || inp.inp_fport !== sport)) continue;
    if (mcast && m.rcvif && !V.inet.isMember(m.rcvif, dst)) {
      st.udps_filtermcast++;
      continue;
    }
    if (last !== null) {
      const n = V.mbufs.copypacket(m);
      if (n !== null) udp_append(V, last, n, off, AF_INET, src, null, sport);
    }
    last = inp;
    if (!(inp.inp_socket.so_options & (SO_REUSEPORT | SO_REUSEPORT_LB | SO_REUSEADDR))) break;
  }
  if (last === null) {
    if (mcast) st.udps_noportmcast++;
    else st.udps_noportbcast++;
    m_freem(m);
    return;
  }
  udp_append(V, last, m, off, AF_INET, src, null, sport);
}

/** Strip the headers and queue the datagram on the socket (udp_append). */
function udp_append(V: Vnet, inp: Inpcb, m: Mbuf, off: number, family: number, src4: number, src6: Uint8Array | null, sport: number): void {
  const so = inp.inp_socket as Socket;
  let from: Sockaddr;
  if (family === AF_INET) {
    // An IPv6 socket sees an IPv4 sender as a v4-mapped address.
    from = inp.inp_vflag & INP_IPV6 || inpIsV6Proto(inp) ? sockaddr_in6(in6_v4mapped(src4), sport) : sockaddr_in(src4, sport);
  } else {
    from = sockaddr_in6(src6 as Uint8Array, sport, m.rcvif ? m.rcvif.if_index : 0);
    if (!(from.addr[0] === 0xfe && ((from.addr[1] as number) & 0xc0) === 0x80)) (from as SockaddrIn6).scope_id = 0;
  }
  m_adj(m, off + UDP_HDR_LEN);
  if (!sbappendaddr(so.so_rcv, from, m)) {
    V.udp.stat.udps_fullsock++;
    so.so_rcv.sb_drops++;
    m_freem(m);
    return;
  }
  sorwakeup(so);
}

function inpIsV6Proto(inp: Inpcb): boolean {
  return (inp.inp_vflag & 0x4) !== 0;
}

/** UDP/IPv6 input (udp6_input). m starts at the IPv6 header. */
export function udp6_input(m0: Mbuf, off: number, _proto: number): void {
  const V = (m0.rcvif as NonNullable<Mbuf['rcvif']>).if_vnet;
  const udp = V.udp;
  const st = udp.stat;
  st.udps_ipackets++;
  let m: Mbuf | null = m0;
  if (m.m_len < off + UDP_HDR_LEN) {
    m = V.mbufs.pullup(m, off + UDP_HDR_LEN);
    if (m === null) {
      st.udps_hdrops++;
      return;
    }
  }
  const b = m.m_buf;
  const o = m.m_data;
  const plen = get16(b, o + IP6_OFF_PLEN);
  const u = o + off;
  const sport = get16(b, u + UDP_OFF_SPORT);
  const dport = get16(b, u + UDP_OFF_DPORT);
  let ulen = get16(b, u + UDP_OFF_LEN);
  const avail = IP6_HDR_LEN + plen - off;
  if (ulen === 0 && avail > 0xffff) ulen = avail; // jumbogram (RFC 2675)
  if (ulen < UDP_HDR_LEN || ulen > avail) {
    st.udps_badlen++;
    m_freem(m);
    return;
  }
  if (ulen < avail) m_adj(m, ulen - avail);
  const sum = get16(b, u + UDP_OFF_SUM);
  if (sum === 0) {
    // RFC 8200 §8.1: a zero UDP checksum is invalid over IPv6.
    st.udps_nosum++;
    m_freem(m);
    return;
  }
  let ok: boolean;
  if (m.csum_flags & CSUM_DATA_VALID && m.csum_flags & CSUM_PSEUDO_HDR) ok = m.csum_data === 0xffff;
  else ok = cksumFinish(in_cksum_chain(m, off, ulen, pseudoSum6(b, o + IP6_OFF_SRC, b, o + IP6_OFF_DST, IPPROTO_UDP, ulen))) === 0;
  if (!ok) {
    st.udps_badsum++;
    m_freem(m);
    return;
  }
  const src = b.slice(o + IP6_OFF_SRC, o + IP6_OFF_SRC + 16);
  if (IN6_IS_ADDR_MULTICAST(b, o + IP6_OFF_DST)) {
    const group = b.slice(o + IP6_OFF_DST, o + IP6_OFF_DST + 16);
    let last: Inpcb | null = null;
    for (const inp of udp.info.onPort(dport)) {
      if (!(inp.inp_vflag & INP_IPV6) || inp.inp_socket === null) continue;
      if (!IN6_IS_ADDR_UNSPECIFIED(inp.in6p_laddr) && !in6_equal(inp.in6p_laddr, 0, group, 0)) continue;
      if (!IN6_IS_ADDR_UNSPECIFIED(inp.in6p_faddr) && (!in6_equal(inp.in6p_faddr, 0, src, 0) || inp.inp_fport !== sport)) continue;
      if (last !== null) {
        const n = V.mbufs.copypacket(m);
        if (n !== null) udp_append(V, last, n, off, AF_INET6, 0, src, sport);
      }
      last = inp;
      if (!(inp.inp_socket.so_options & (SO_REUSEPORT | SO_REUSEPORT_LB | SO_REUSEADDR))) break;
    }
    if (last === null) {
      st.udps_noportmcast++;
      m_freem(m);
      return;
    }
    udp_append(V, last, m, off, AF_INET6, 0, src, sport);
    return;
  }
  const inp = udp.info.lookup6(b, sport, b, dport, true, o + IP6_OFF_SRC, o + IP6_OFF_DST);
  if (inp === null || inp.inp_socket === null) {
    st.udps_noport++;
    if (udp.blackhole) m_freem(m);
    else icmp6_error(V, m, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, 0);
    return;
  }
  udp_append(V, inp, m, off, AF_INET6, 0, src, sport);
}

/** ICMP errors for UDP/IPv4: only connected sockets hear about them (udp_ctlinput). */
export function udp_ctlinput(ctl: CtlInput, V: Vnet): void {
  const errno = inetctlerrmap[ctl.cmd] ?? 0;
  if (errno === 0) return;
  let inp: Inpcb | null;
  if (ctl.family === AF_INET) {
    const s = ctl.src as SockaddrIn;
    const d = ctl.dst as SockaddrIn;
    inp = V.udp.info.lookup4(d.addr, d.port, s.addr, s.port, false);
  } else {
    const s = ctl.src as SockaddrIn6;
    const d = ctl.dst as SockaddrIn6;
    inp = V.udp.info.lookup6(d.addr, d.port, s.addr, s.port, false);
  }
  if (inp?.inp_socket) soseterror(inp.inp_socket, errno);
}

// --- output ---

/** Send a datagram over IPv4 (udp_output). m holds the payload (with leading space). */
function udp_output(V: Vnet, inp: Inpcb, m: Mbuf, faddr: number, fport: number): number {
  const so = inp.inp_socket as Socket;
  const len = m.len;
  if (len + UDP_HDR_LEN + IP_HDR_LEN > IP_MAXPACKET) {
    m_freem(m);
    return EMSGSIZE;
  }
  if (inp.inp_lport === 0) {
    const e = in_pcbbind(inp, null);
    if (e !== 0) {
      m_freem(m);
      return e;
    }
  }
  let laddr = inp.inp_laddr;
  if (laddr === INADDR_ANY) {
    const r = in_pcbladdr(V, faddr);
    if (r.error !== 0 && !(faddr === INADDR_BROADCAST || IN_MULTICAST(faddr))) {
      m_freem(m);
      return r.error;
    }
    laddr = r.laddr;
  }
  const h = V.mbufs.prepend(m, IP_HDR_LEN + UDP_HDR_LEN);
  if (h === null) return ENOBUFS;
  const b = h.m_buf;
  const o = h.m_data;
  const ulen = len + UDP_HDR_LEN;
  const mcast = IN_MULTICAST(faddr);
  const ttl = mcast ? (inp.inp_moptions?.ttl ?? 1) : inp.inp_ip_ttl || V.inet.defttl;
  build_ip_header(b, o, IP_HDR_LEN + ulen, IPPROTO_UDP, laddr, faddr, ttl, inp.inp_ip_tos, (inp.inp_flags & INP_DONTFRAG) !== 0);
  const u = o + IP_HDR_LEN;
  set16(b, u + UDP_OFF_SPORT, inp.inp_lport);
  set16(b, u + UDP_OFF_DPORT, fport);
  set16(b, u + UDP_OFF_LEN, ulen);
  if (V.udp.checksum) {
    // Leave the checksum to the interface: the field holds the pseudo-header sum.
    set16(b, u + UDP_OFF_SUM, cksumFold(pseudoSum4(laddr, faddr, IPPROTO_UDP, ulen)));
    h.csum_flags = CSUM_IP_UDP;
    h.csum_data = UDP_OFF_SUM;
  } else {
    set16(b, u + UDP_OFF_SUM, 0);
    h.csum_flags = 0;
  }
  if (inp.inp_flags & INP_DONTFRAG) set16(b, o + 6, IP_DF);
  let flags = 0;
  if (so.so_options & SO_DONTROUTE) flags |= IP_ROUTETOIF;
  if (so.so_options & SO_BROADCAST) flags |= IP_ALLOWBROADCAST;
  V.udp.stat.udps_opackets++;
  // Only multicast senders need output options: no per-datagram object otherwise.
  return ip_output(V, h, flags, inp.inp_route, inp.inp_moptions !== null ? { moptions: inp.inp_moptions } : undefined);
}

/** Send a datagram over IPv6 (udp6_output). */
function udp6_output(V: Vnet, inp: Inpcb, m: Mbuf, faddr: Uint8Array, fport: number, scope: number): number {
  const len = m.len;
  if (len + UDP_HDR_LEN > 0xffff) {
    m_freem(m);
    return EMSGSIZE;
  }
  if (inp.inp_lport === 0) {
    const e = in6_pcbbind(inp, null);
    if (e !== 0) {
      m_freem(m);
      return e;
    }
  }
  let laddr = inp.in6p_laddr;
  if (IN6_IS_ADDR_UNSPECIFIED(laddr)) {
    const r = in6_selectsrc(V, faddr, scope || inp.in6p_scope);
    if (r.error !== 0 || r.addr === null) {
      m_freem(m);
      return r.error || EADDRNOTAVAIL;
    }
    laddr = r.addr;
  }
  const h = V.mbufs.prepend(m, IP6_HDR_LEN + UDP_HDR_LEN);
  if (h === null) return ENOBUFS;
  const b = h.m_buf;
  const o = h.m_data;
  const ulen = len + UDP_HDR_LEN;
  const mcast = faddr[0] === 0xff;
  const hlim = mcast ? (inp.in6p_moptions?.hops ?? 1) : inp.in6p_hops >= 0 ? inp.in6p_hops : V.inet6.hlim;
  set32(b, o, ((6 << 28) | ((inp.in6p_tclass & 0xff) << 20) | (inp.in6p_flowinfo & 0xfffff)) >>> 0);
  set16(b, o + IP6_OFF_PLEN, ulen);
  b[o + 6] = IPPROTO_UDP;
  b[o + IP6_OFF_HLIM] = hlim;
  b.set(laddr, o + IP6_OFF_SRC);
  b.set(faddr, o + IP6_OFF_DST);
  const u = o + IP6_HDR_LEN;
  set16(b, u + UDP_OFF_SPORT, inp.inp_lport);
  set16(b, u + UDP_OFF_DPORT, fport);
  set16(b, u + UDP_OFF_LEN, ulen);
  set16(b, u + UDP_OFF_SUM, cksumFold(pseudoSum6(laddr, 0, faddr, 0, IPPROTO_UDP, ulen)));
  h.csum_flags = CSUM_IP6_UDP;
  h.csum_data = UDP_OFF_SUM;
  h.l3hlen = IP6_HDR_LEN;
  V.udp.stat.udps_opackets++;
  return ip6_output(V, h, inp.inp_flags & INP_DONTFRAG ? 0x04 : 0, null, { scope_id: scope || inp.in6p_scope, moptions: inp.in6p_moptions });
}

// --- user requests ---

const udp_usrreqs: PrUsrreqs = {
  pru_attach(so) {
    const V = so.so_vnet;
    if (so.so_pcb !== null) return EINVAL;
    if (!sbreserve(V, so.so_snd, V.udp.maxdgram) || !sbreserve(V, so.so_rcv, V.udp.recvspace)) return ENOBUFS;
    const inp = V.udp.info.alloc(so, so.so_proto.pr_domain === AF_INET6);
    inp.inp_ip_ttl = V.inet.defttl;
    so.so_pcb = inp;
    return 0;
  },
  pru_detach(so) {
    const inp = inpOf(so);
    inp.inp_pcbinfo.free(inp);
    so.so_pcb = null;
  },
  pru_bind(so, nam) {
    const inp = inpOf(so);
    if (so.so_proto.pr_domain === AF_INET) {
      if (nam.family !== AF_INET) return EAFNOSUPPORT;
      return in_pcbbind(inp, nam as SockaddrIn);
    }
    if (nam.family !== AF_INET6) return EAFNOSUPPORT;
    return in6_pcbbind(inp, nam as SockaddrIn6);
  },
  pru_connect(so, nam) {
    const inp = inpOf(so);
    if (inp.connected) return EISCONN;
    let e: number;
    if (so.so_proto.pr_domain === AF_INET) {
      if (nam.family !== AF_INET) return EAFNOSUPPORT;
      e = in_pcbconnect(inp, nam as SockaddrIn);
    } else {
      if (nam.family !== AF_INET6) return EAFNOSUPPORT;
      e = in6_pcbconnect(inp, nam as SockaddrIn6);
    }
    if (e === 0) soisconnected(so);
    return e;
  },
  pru_disconnect(so) {
    const inp = inpOf(so);
    if (!inp.connected) return ENOTCONN;
    in_pcbdisconnect(inp);
    // FreeBSD udp_disconnect forgets an implicitly chosen local address too.
    inp.inp_laddr = INADDR_ANY;
    so.so_state &= ~SS_ISCONNECTED;
    return 0;
  },
  pru_shutdown(so) {
    socantsendmore(so);
    return 0;
  },
  pru_send(so, _flags, m, nam) {
    const V = so.so_vnet;
    const inp = inpOf(so);
    if (m === null) return EINVAL;
    if (nam !== null && inp.connected) {
      m_freem(m);
      return EISCONN;
    }
    if (nam === null && !inp.connected) {
      m_freem(m);
      return EDESTADDRREQ;
    }
    if (so.so_proto.pr_domain === AF_INET) {
      if (nam !== null && nam.family !== AF_INET) {
        m_freem(m);
        return EAFNOSUPPORT;
      }
      const d = nam as SockaddrIn | null;
      return udp_output(V, inp, m, d ? d.addr >>> 0 : inp.inp_faddr, d ? d.port : inp.inp_fport);
    }
    // IPv6 socket: v4-mapped destinations (or an IPv4-connected PCB) go out over IPv4.
    if (nam === null) {
      if (inp.inp_vflag & INP_IPV4 && !(inp.inp_vflag & INP_IPV6)) return udp_output(V, inp, m, inp.inp_faddr, inp.inp_fport);
      return udp6_output(V, inp, m, inp.in6p_faddr, inp.inp_fport, inp.in6p_scope);
    }
    if (nam.family !== AF_INET6) {
      m_freem(m);
      return EAFNOSUPPORT;
    }
    const d6 = nam as SockaddrIn6;
    if (d6.port === 0) {
      m_freem(m);
      return EINVAL;
    }
    if (IN6_IS_ADDR_V4MAPPED(d6.addr)) {
      if (inp.inp_flags & 0x8000) {
        m_freem(m);
        return EINVAL;
      }
      if (inp.inp_lport === 0) {
        const e = in6_pcbbind(inp, null);
        if (e !== 0) {
          m_freem(m);
          return e;
        }
      }
      return udp_output(V, inp, m, in6_v4mapped_addr(d6.addr), d6.port);
    }
    return udp6_output(V, inp, m, d6.addr, d6.port, d6.scope_id);
  },
  pru_abort(so) {
    udp_usrreqs.pru_close(so);
  },
  pru_close(so) {
    if (so.so_pcb !== null) udp_usrreqs.pru_detach(so);
    so.so_state &= ~SS_ISCONNECTED;
    sofree(so);
  },
  pru_sockaddr(so) {
    return so.so_pcb ? inpOf(so).localSockaddr() : null;
  },
  pru_peeraddr(so) {
    if (so.so_pcb === null || !inpOf(so).connected) return null;
    return inpOf(so).foreignSockaddr();
  },
};

function udp_ctloutput(so: Socket, op: 'get' | 'set', sopt: Sockopt): SockoptResult {
  if (so.so_pcb === null) return { error: EINVAL };
  return ip_ctloutput(so, inpOf(so), op, sopt) ?? { error: 0 };
}

export function udp_protosw(V: Vnet, family: number): Protosw {
  return {
    pr_type: SOCK_DGRAM,
    pr_domain: family,
    pr_protocol: IPPROTO_UDP,
    pr_flags: PR_ATOMIC | PR_ADDR,
    pr_name: family === AF_INET ? 'udp' : 'udp6',
    pr_input: family === AF_INET ? udp_input : udp6_input,
    pr_ctlinput: (ctl) => udp_ctlinput(ctl, V),
    pr_ctloutput: udp_ctloutput,
    pr_usrreqs: udp_usrreqs,
  };
}
