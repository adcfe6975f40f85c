/*
 * IPv4 input and forwarding (BSD netinet/ip_input.c).
 *
 * ip_input() validates a datagram (RFC 791, RFC 1122 §3.2.1): version, header length,
 * checksum (unless the interface verified it), total length; it trims link-layer padding,
 * rejects impossible source and destination addresses, checks the options, and decides
 * whether the datagram is for this host (weak host model: any of our addresses, a broadcast
 * of the receiving interface, a multicast group we joined). Fragments go to reassembly;
 * whole datagrams go to the protocol in ip_protox, or draw an ICMP protocol-unreachable.
 * Datagrams for others are forwarded when net.inet.ip.forwarding is on (ip_forward), with
 * the TTL decremented and ICMP errors for expiry, no route and "fragmentation needed".
 *
 * Every drop increments a named ipstat counter. The mbuf is consumed in every case.
 */

import { CSUM_IP_CHECKED, CSUM_IP_VALID, M_BCAST, M_MCAST, type Mbuf, m_adj, m_copydata, m_freem, M_WRITABLE } from '../mbuf/mbuf.js';
import { IFF_LOOPBACK, type Ifnet } from '../net/if.js';
import { NETISR_IP } from '../net/netisr.js';
import { NHF_GATEWAY } from '../net/route.js';
import { EHOSTUNREACH, EMSGSIZE, ENETUNREACH } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { get16, get32, set16 } from '../wire/bytes.js';
import { cksumUpdate16, inCksum } from '../wire/checksum.js';
import {
  ICMP_PARAMPROB,
  ICMP_PARAMPROB_ERRATPTR,
  ICMP_REDIRECT,
  ICMP_REDIRECT_HOST,
  ICMP_TIMXCEED,
  ICMP_TIMXCEED_INTRANS,
  ICMP_UNREACH,
  ICMP_UNREACH_HOST,
  ICMP_UNREACH_NEEDFRAG,
  ICMP_UNREACH_NET,
  ICMP_UNREACH_PROTOCOL,
  ICMP_UNREACH_SRCFAIL,
} from '../wire/icmp.js';
import {
  IP_HDR_LEN,
  IP_MF,
  IP_OFF_DST,
  IP_OFF_LEN,
  IP_OFF_OFF,
  IP_OFF_P,
  IP_OFF_SRC,
  IP_OFF_SUM,
  IP_OFF_TTL,
  IP_OFF_VHL,
  IP_OFFMASK,
  IPOPT_EOL,
  IPOPT_LSRR,
  IPOPT_NOP,
  IPOPT_RR,
  IPOPT_SSRR,
  IPOPT_TS,
  IPVERSION,
} from '../wire/ipv4.js';
import { IN_EXPERIMENTAL, IN_LOOPBACK, IN_MULTICAST, INADDR_ANY, INADDR_BROADCAST } from './in.js';
import { icmp_error } from './ip_icmp.js';
import { IP_FORWARDING, ip_output, ip_route, nhop_mtu } from './ip_output.js';
import { ip_reass } from './ip_reass.js';

/** Register IPv4 with netisr (called once per Vnet by inet_init). */
export function ip_init(V: Vnet): void {
  V.netisr.register({ name: 'ip', proto: NETISR_IP, handler: ip_input });
}

/** The netisr handler: a datagram received on m.rcvif. */
export function ip_input(m0: Mbuf): void {
  const ifp = m0.rcvif as Ifnet;
  const V = ifp.if_vnet;
  const inet = V.inet;
  const st = inet.stat;
  st.ips_total++;

  if (m0.len < IP_HDR_LEN) {
    st.ips_tooshort++;
    m_freem(m0);
    return;
  }
  let m = V.mbufs.pullup(m0, IP_HDR_LEN);
  if (m === null) {
    st.ips_toosmall++;
    return;
  }
  let b = m.m_buf;
  let o = m.m_data;
  const vhl = b[o + IP_OFF_VHL] as number;
  if (vhl >> 4 !== IPVERSION) {
    st.ips_badvers++;
    m_freem(m);
    return;
  }
  const hlen = (vhl & 0xf) << 2;
  if (hlen < IP_HDR_LEN) {
    st.ips_badhlen++;
    m_freem(m);
    return;
  }
  if (hlen > m.m_len) {
    m = V.mbufs.pullup(m, hlen);
    if (m === null) {
      st.ips_badhlen++;
      return;
    }
    b = m.m_buf;
    o = m.m_data;
  }
  // Header checksum (RFC 791): trust the interface if it checked.
  let sumOk: boolean;
  if (m.csum_flags & CSUM_IP_CHECKED) sumOk = (m.csum_flags & CSUM_IP_VALID) !== 0;
  else sumOk = inCksum(b, o, hlen) === 0;
  if (!sumOk) {
    st.ips_badsum++;
    m_freem(m);
    return;
  }
  const ipLen = get16(b, o + IP_OFF_LEN);
  if (ipLen < hlen) {
    st.ips_badlen++;
    m_freem(m);
    return;
  }
  if (m.len < ipLen) {
    st.ips_tooshort++;
    m_freem(m);
    return;
  }
  if (m.len > ipLen) m_adj(m, ipLen - m.len); // link-layer padding

  const src = get32(b, o + IP_OFF_SRC);
  const dst = get32(b, o + IP_OFF_DST);
  // RFC 1122 §3.2.1.3: a multicast or broadcast source is invalid; 127/8 must not arrive
  // from a wire (FreeBSD ip_input's "badaddr" checks).
  if (IN_MULTICAST(src) || src === INADDR_BROADCAST || IN_EXPERIMENTAL(src)) {
    st.ips_badaddr++;
    m_freem(m);
    return;
  }
  if ((IN_LOOPBACK(dst) || IN_LOOPBACK(src)) && !(ifp.if_flags & IFF_LOOPBACK)) {
    st.ips_badaddr++;
    m_freem(m);
    return;
  }

  // Options (RFC 791 §3.1): validate their structure; source routes are refused unless
  // accepted by sysctl; the rest are skipped safely.
  if (hlen > IP_HDR_LEN) {
    const bad = ip_dooptions(V, m, hlen);
    if (bad !== 0) return; // consumed (ICMP error sent or dropped)
  }

  // Is the datagram for us?
  let ours = false;
  if (IN_MULTICAST(dst)) {
    if (!inet.isMember(ifp, dst)) {
      st.ips_notmember++;
      m_freem(m);
      return;
    }
    ours = true;
  } else if (inet.isLocal(dst)) {
    ours = true;
    if (inet.check_interface && !(ifp.if_flags & IFF_LOOPBACK)) {
      const ia = inet.ifaWithAddr(dst);
      if (ia && ia.ifa_ifp !== ifp) ours = false;
    }
  } else if (dst === INADDR_BROADCAST || dst === INADDR_ANY || inet.isBroadcast(dst, ifp)) {
    ours = true;
  }

  if (!ours) {
    if (!inet.forwarding || m.m_flags & (M_BCAST | M_MCAST)) {
      st.ips_cantforward++;
      m_freem(m);
      return;
    }
    ip_forward(V, m, hlen);
    return;
  }

  // Reassembly (RFC 791 §3.2, RFC 815).
  if (get16(b, o + IP_OFF_OFF) & (IP_MF | IP_OFFMASK)) {
    const whole = ip_reass(V, m);
    if (whole === null) return;
    m = whole;
  }
  ip_deliver(V, m);
}

/** Hand a complete datagram to its protocol (the end of ip_input / ip_input_local). */
function ip_deliver(V: Vnet, m: Mbuf): void {
  const st = V.inet.stat;
  const b = m.m_buf;
  const o = m.m_data;
  const hlen = ((b[o + IP_OFF_VHL] as number) & 0xf) << 2;
  const proto = b[o + IP_OFF_P] as number;
  const pr = V.inet.protox[proto];
  if (pr === undefined || pr.pr_input === undefined) {
    st.ips_noproto++;
    if (!(m.m_flags & (M_BCAST | M_MCAST))) icmp_error(V, m, ICMP_UNREACH, ICMP_UNREACH_PROTOCOL, 0, 0);
    else m_freem(m);
    return;
  }
  st.ips_delivered++;
  pr.pr_input(m, hlen, proto);
}

/**
 * Check the options of a received datagram. Returns 0 to continue, or non-zero after
 * consuming the packet (malformed options draw an ICMP parameter problem pointing at the
 * offending byte; source-routed datagrams are refused unless accepted by sysctl).
 */
function ip_dooptions(V: Vnet, m: Mbuf, hlen: number): number {
  const b = m.m_buf;
  const o = m.m_data;
  const st = V.inet.stat;
  let i = IP_HDR_LEN;
  while (i < hlen) {
    const opt = b[o + i] as number;
    if (opt === IPOPT_EOL) break;
    if (opt === IPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= hlen) return ip_optbad(V, m, i);
    const olen = b[o + i + 1] as number;
    if (olen < 2 || i + olen > hlen) return ip_optbad(V, m, i + 1);
    switch (opt) {
      case IPOPT_LSRR:
      case IPOPT_SSRR:
        if (olen < 3 || (b[o + i + 2] as number) < 4) return ip_optbad(V, m, i + 2);
        if (!V.inet.accept_sourceroute) {
          st.ips_badoptions++;
          icmp_error(V, m, ICMP_UNREACH, ICMP_UNREACH_SRCFAIL, 0, 0);
          return 1;
        }
        break;
      case IPOPT_RR:
      case IPOPT_TS:
        if (olen < 4 || (b[o + i + 2] as number) < (opt === IPOPT_TS ? 5 : 4)) return ip_optbad(V, m, i + 2);
        break;
      default:
        break;
    }
    i += olen;
  }
  return 0;
}

function ip_optbad(V: Vnet, m: Mbuf, pointer: number): number {
  V.inet.stat.ips_badoptions++;
  icmp_error(V, m, ICMP_PARAMPROB, ICMP_PARAMPROB_ERRATPTR, 0, 0, pointer);
  return 1;
}

/** A new packet holding a private copy of the first `len` (≤ MLEN) bytes of `m`. */
function m_copyhead(V: Vnet, m: Mbuf, len: number): Mbuf | null {
  const n = V.mbufs.gethdr();
  if (n === null) return null;
  m_copydata(m, 0, len, n.m_buf, 0);
  n.m_len = len;
  n.len = len;
  n.rcvif = m.rcvif;
  n.m_flags |= m.m_flags & (M_BCAST | M_MCAST);
  return n;
}

/** Make the first `len` bytes of a packet writable (private), copying if shared. */
function ip_makewritable(V: Vnet, m: Mbuf, len: number): Mbuf | null {
  if (M_WRITABLE(m) && m.m_len >= len) return m;
  const d = V.mbufs.dup(m);
  m_freem(m);
  if (d === null) return null;
  return V.mbufs.pullup(d, len);
}

/**
 * Forward a datagram that is not for us (ip_forward). RFC 1812: decrement the TTL and send
 * time-exceeded at expiry; unreachable when there is no route; "fragmentation needed" with
 * the next-hop MTU when DF forbids fragmenting; a redirect when it leaves through the
 * interface it came in on toward a host on that same subnet.
 */
export function ip_forward(V: Vnet, m0: Mbuf, hlen: number): void {
  const st = V.inet.stat;
  const rcvif = m0.rcvif as Ifnet;
  let m = ip_makewritable(V, m0, hlen);
  if (m === null) {
    st.ips_cantforward++;
    return;
  }
  const b = m.m_buf;
  const o = m.m_data;
  const ttl = b[o + IP_OFF_TTL] as number;
  if (ttl <= 1) {
    st.ips_cantforward++;
    icmp_error(V, m, ICMP_TIMXCEED, ICMP_TIMXCEED_INTRANS, 0, 0);
    return;
  }
  const dst = get32(b, o + IP_OFF_DST);
  const src = get32(b, o + IP_OFF_SRC);
  const rt = ip_route(V, dst, null);
  if (rt === null) {
    st.ips_noroute++;
    st.ips_cantforward++;
    icmp_error(V, m, ICMP_UNREACH, ICMP_UNREACH_HOST, 0, 0);
    return;
  }
  // Keep a private copy of the head of the datagram for an ICMP error (the mcopy).
  const mcopy = m_copyhead(V, m, Math.min(m.len, hlen + 8));
  // TTL--, checksum updated incrementally (RFC 1624): the TTL/protocol word changes.
  const oldWord = get16(b, o + IP_OFF_TTL);
  b[o + IP_OFF_TTL] = ttl - 1;
  const newWord = get16(b, o + IP_OFF_TTL);
  set16(b, o + IP_OFF_SUM, cksumUpdate16(get16(b, o + IP_OFF_SUM), oldWord, newWord));
  m.csum_flags &= ~(CSUM_IP_CHECKED | CSUM_IP_VALID);

  // Redirect (RFC 1812 §5.2.7.2): same interface out as in, source on that subnet.
  const nh = rt.nhop;
  let redirectTo = 0;
  if (V.inet.sendredirects && nh.nh_ifp === rcvif && mcopy !== null) {
    const ia = V.inet.ifaWithNet(src);
    if (ia && ia.ifa_ifp === rcvif) redirectTo = nh.nh_flags & NHF_GATEWAY ? nh.gw4 : dst;
  }

  const error = ip_output(V, m, IP_FORWARDING, null);
  m = null;
  if (error === 0) {
    st.ips_forward++;
    if (redirectTo !== 0 && mcopy !== null) {
      st.ips_redirectsent++;
      icmp_error(V, mcopy, ICMP_REDIRECT, ICMP_REDIRECT_HOST, redirectTo, 0);
    } else if (mcopy !== null) m_freem(mcopy);
    return;
  }
  st.ips_cantforward++;
  if (mcopy === null) return;
  switch (error) {
    case EMSGSIZE:
      icmp_error(V, mcopy, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, 0, nhop_mtu(nh));
      break;
    case EHOSTUNREACH:
      icmp_error(V, mcopy, ICMP_UNREACH, ICMP_UNREACH_HOST, 0, 0);
      break;
    case ENETUNREACH:
      icmp_error(V, mcopy, ICMP_UNREACH, ICMP_UNREACH_NET, 0, 0);
      break;
    default:
      // ENOBUFS and the like: RFC 1812 deprecates source quench; just drop.
      m_freem(mcopy);
  }
}
