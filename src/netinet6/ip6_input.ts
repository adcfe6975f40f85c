/*
 * IPv6 input and forwarding (BSD netinet6/ip6_input.c, ip6_forward.c, dest6.c, route6.c;
 * RFC 8200, RFC 4291, RFC 4007, RFC 5095).
 *
 * ip6_input() validates a packet: version, payload length against the data (link-layer
 * padding trimmed), addresses (RFC 4291 §2.5.2/§2.7, RFC 4007 §9: no multicast or
 * v4-mapped source, loopback only on lo0, no interface-local multicast or unspecified
 * destination from a wire), then decides whether it is for this node (an address of ours
 * that is not tentative — link-local ones on the receiving link —, or a group joined on the
 * receiving interface). The hop-by-hop header, only allowed first (§4.3), is processed by
 * every node; unknown options act on their two high bits (§4.2): skip, discard, discard
 * with an ICMPv6 parameter problem (code 2), the latter only for unicast destinations.
 * Packets for others are forwarded when net.inet6.ip6.forwarding is on (ip6_forward: hop
 * limit, scope, "packet too big" — routers never fragment —, ICMPv6 errors).
 *
 * For our packets the extension headers are walked in order (at most
 * net.inet6.ip6.hdrnestlimit): destination options like hop-by-hop ones; a routing header
 * with segments left is refused — type 0 per RFC 5095, the others as unrecognised types
 * (§4.4) — and ignored when segments left is 0; fragments go to frag6 (atomic fragments are
 * processed in place, RFC 6946). The upper-layer protocol gets the packet through
 * inet6.protox[nxt].pr_input(m, off, nxt), m starting at the IPv6 header and off at the
 * upper-layer header. Unknown next headers go to raw IPv6 sockets, which answer a parameter
 * problem (code 1) when nobody wants them.
 *
 * Every drop increments a named ip6stat counter; the mbuf is consumed in every case and
 * nothing throws for any input.
 */

import { M_BCAST, M_MCAST, type Mbuf, m_adj, m_copydata, m_freem, M_WRITABLE } from '../mbuf/mbuf.js';
import { IFF_LOOPBACK, type Ifnet } from '../net/if.js';
import { NETISR_IPV6 } from '../net/netisr.js';
import { NHF_BLACKHOLE, NHF_REJECT } from '../net/route.js';
import { EHOSTUNREACH, EMSGSIZE } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { get16 } from '../wire/bytes.js';
import {
  ICMP6_DST_UNREACH,
  ICMP6_DST_UNREACH_BEYONDSCOPE,
  ICMP6_DST_UNREACH_NOROUTE,
  ICMP6_DST_UNREACH_REJECT,
  ICMP6_PACKET_TOO_BIG,
  ICMP6_PARAM_PROB,
  ICMP6_PARAMPROB_HEADER,
  ICMP6_PARAMPROB_NEXTHEADER,
  ICMP6_PARAMPROB_OPTION,
  ICMP6_TIME_EXCEED_TRANSIT,
  ICMP6_TIME_EXCEEDED,
  ICMPV6_PLD_MAXLEN,
} from '../wire/icmp6.js';
import { IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_NONE, IPPROTO_ROUTING } from '../wire/ipv4.js';
import {
  IP6_HDR_LEN,
  IP6_OFF_DST,
  IP6_OFF_HLIM,
  IP6_OFF_NXT,
  IP6_OFF_PLEN,
  IP6_OFF_SRC,
  IP6F_LEN,
  IP6F_OFF_OFFLG,
  IP6OPT_PAD1,
  IP6OPT_PADN,
  IP6OPT_ROUTER_ALERT,
  IPV6_RTHDR_TYPE_0,
  IPV6_VERSION,
} from '../wire/ipv6.js';
import { IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_LOOPBACK, IN6_IS_ADDR_MULTICAST, IN6_IS_ADDR_UNSPECIFIED, IN6_IS_ADDR_V4MAPPED } from '../netinet/in.js';
import { icmp6_error } from './icmp6.js';
import { in6_needs_zone } from './in6_src.js';
import { type In6Ifextra, ND6_IFF_IFDISABLED } from './in6_var.js';
import { in6_ifmtu, IPV6_FORWARDING, ip6_output, ip6_route } from './ip6_output.js';

/** Register IPv6 with netisr (called once per Vnet by inet6_init). */
export function ip6_init(V: Vnet): void {
  V.netisr.register({ name: 'ip6', proto: NETISR_IPV6, handler: ip6_input });
}

/** The netisr handler: a packet received on m.rcvif. */
export function ip6_input(m0: Mbuf): void {
  const ifp = m0.rcvif;
  if (ifp === null) {
    m_freem(m0);
    return;
  }
  const V = ifp.if_vnet;
  const inet6 = V.inet6;
  const st = inet6.stat;
  st.ip6s_total++;
  if (m0.m_next === null) {
    if (m0.m_ext !== null) st.ip6s_mext1++;
    else st.ip6s_m1++;
  } else if (m0.m_ext !== null) st.ip6s_mext2m++;

  const x = ifp.if_afdata.inet6 as In6Ifextra | undefined;
  if (x !== undefined && x.flags & ND6_IFF_IFDISABLED) {
    // RFC 4862 §5.4.5: IPv6 is disabled on this interface.
    st.ip6s_badscope++;
    m_freem(m0);
    return;
  }
  if (m0.len < IP6_HDR_LEN) {
    st.ip6s_tooshort++;
    m_freem(m0);
    return;
  }
  let m = V.mbufs.pullup(m0, IP6_HDR_LEN);
  if (m === null) {
    st.ip6s_toosmall++;
    return;
  }
  let b = m.m_buf;
  let o = m.m_data;
  if ((b[o] as number) >> 4 !== IPV6_VERSION) {
    st.ip6s_badvers++;
    m_freem(m);
    return;
  }
  const nxt0 = b[o + IP6_OFF_NXT] as number;
  st.ip6s_nxthist[nxt0] = (st.ip6s_nxthist[nxt0] as number) + 1;

  // Address checks (RFC 4291, RFC 4007 §9; FreeBSD counts them as ip6s_badscope).
  const loop = (ifp.if_flags & IFF_LOOPBACK) !== 0;
  if (
    IN6_IS_ADDR_MULTICAST(b, o + IP6_OFF_SRC) ||
    IN6_IS_ADDR_UNSPECIFIED(b, o + IP6_OFF_DST) ||
    IN6_IS_ADDR_V4MAPPED(b, o + IP6_OFF_SRC) ||
    IN6_IS_ADDR_V4MAPPED(b, o + IP6_OFF_DST) ||
    (!loop && (IN6_IS_ADDR_LOOPBACK(b, o + IP6_OFF_SRC) || IN6_IS_ADDR_LOOPBACK(b, o + IP6_OFF_DST)))
  ) {
    st.ip6s_badscope++;
    m_freem(m);
    return;
  }
  if (b[o + IP6_OFF_DST] === 0xff) {
    const scope = (b[o + IP6_OFF_DST + 1] as number) & 0x0f;
    // Reserved scope 0, or interface-local multicast that arrived from a wire.
    if (scope === 0 || (scope === 1 && !loop)) {
      st.ip6s_badscope++;
      m_freem(m);
      return;
    }
  }

  // Payload length (RFC 8200 §3); 0 with hop-by-hop options would be a jumbogram, which
  // bsdnet does not support: the Jumbo option is then an unrecognised option (RFC 2675 §3).
  const plen = get16(b, o + IP6_OFF_PLEN);
  let tlen = IP6_HDR_LEN + plen;
  const jumbo = plen === 0 && nxt0 === IPPROTO_HOPOPTS;
  if (jumbo) tlen = m.len;
  if (m.len < tlen) {
    st.ip6s_tooshort++;
    m_freem(m);
    return;
  }
  if (m.len > tlen) m_adj(m, tlen - m.len); // link-layer padding

  // Is it for us?
  let ours = false;
  if (b[o + IP6_OFF_DST] === 0xff) {
    if (!inet6.isMember(ifp, b, o + IP6_OFF_DST)) {
      st.ip6s_notmember++;
      m_freem(m);
      return;
    }
    ours = true;
  } else if (inet6.isLocal(b, o + IP6_OFF_DST, ifp)) {
    ours = true;
  } else {
    const ia = inet6.ifaWithAddr(b, o + IP6_OFF_DST, ifp);
    if (ia !== undefined && !ia.ready) {
      // A tentative/duplicated address of ours: neither ours nor forwardable (RFC 4862 §5.4).
      st.ip6s_badaddr++;
      m_freem(m);
      return;
    }
  }

  // Hop-by-hop options: examined by every node on the path (RFC 8200 §4.3).
  let off = IP6_HDR_LEN;
  let nxt = nxt0;
  let nxtOff = IP6_OFF_NXT;
  if (nxt === IPPROTO_HOPOPTS) {
    const r = ip6_hopopts_input(V, m, off);
    if (r === null) return;
    m = r;
    b = m.m_buf;
    o = m.m_data;
    nxtOff = off;
    nxt = b[o + off] as number;
    off += ((b[o + off + 1] as number) + 1) << 3;
    if (jumbo) {
      // Not reached: the Jumbo option is refused by ip6_hopopts_input.
      st.ip6s_badoptions++;
      m_freem(m);
      return;
    }
  }

  if (!ours) {
    if (!inet6.forwarding || m.m_flags & (M_BCAST | M_MCAST) || b[o + IP6_OFF_DST] === 0xff) {
      st.ip6s_cantforward++;
      m_freem(m);
      return;
    }
    ip6_forward(V, m);
    return;
  }
  ip6_input_local(V, m, off, nxt, nxtOff);
}

/**
 * Walk the extension headers of a packet for us and deliver it (the ip6_input loop). `off`
 * is the offset of the header of type `nxt`; `nxtOff` the offset of the byte that named it.
 */
function ip6_input_local(V: Vnet, m0: Mbuf, off: number, nxt: number, nxtOff: number): void {
  const inet6 = V.inet6;
  const st = inet6.stat;
  let m = m0;
  const limit = inet6.hdrnestlimit > 0 ? inet6.hdrnestlimit : 64;
  for (let nest = 0; ; nest++) {
    if (nest > limit) {
      st.ip6s_toomanyhdr++;
      m_freem(m);
      return;
    }
    switch (nxt) {
      case IPPROTO_HOPOPTS:
        // RFC 8200 §4.1: only immediately after the IPv6 header.
        st.ip6s_badoptions++;
        icmp6_error(V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHEADER, nxtOff);
        return;
      case IPPROTO_DSTOPTS: {
        const r = ip6_exthdr_pullup(V, m, off);
        if (r === null) return;
        m = r;
        const hlen = ((m.m_buf[m.m_data + off + 1] as number) + 1) << 3;
        if (ip6_process_opts(V, m, off, hlen) !== 0) return;
        nxtOff = off;
        nxt = m.m_buf[m.m_data + off] as number;
        off += hlen;
        break;
      }
      case IPPROTO_ROUTING: {
        const r = ip6_exthdr_pullup(V, m, off);
        if (r === null) return;
        m = r;
        const b = m.m_buf;
        const p = m.m_data + off;
        const hlen = ((b[p + 1] as number) + 1) << 3;
        if (hlen < 4 || m.len < off + hlen) {
          st.ip6s_tooshort++;
          m_freem(m);
          return;
        }
        const segleft = b[p + 3] as number;
        if (segleft !== 0) {
          // RFC 5095 §3 (type 0) and RFC 8200 §4.4 (any type bsdnet does not implement):
          // parameter problem pointing at the Routing Type field.
          st.ip6s_badoptions++;
          if ((b[p + 2] as number) === IPV6_RTHDR_TYPE_0) st.ip6s_rthdr0++;
          icmp6_error(V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, off + 2);
          return;
        }
        nxtOff = off;
        nxt = b[p] as number;
        off += hlen;
        break;
      }
      case IPPROTO_FRAGMENT: {
        if (m.len < off + IP6F_LEN) {
          st.ip6s_tooshort++;
          m_freem(m);
          return;
        }
        const r = V.mbufs.pullup(m, off + IP6F_LEN);
        if (r === null) {
          st.ip6s_exthdrtoolong++;
          return;
        }
        m = r;
        const b = m.m_buf;
        const p = m.m_data + off;
        const offlg = get16(b, p + IP6F_OFF_OFFLG);
        if ((offlg & 0xfff9) === 0) {
          // RFC 6946 §4: an atomic fragment is processed as a whole packet.
          st.ip6s_atomicfrags++;
          nxtOff = off;
          nxt = b[p] as number;
          off += IP6F_LEN;
          break;
        }
        const whole = V.frag6.input(m, off, nxtOff);
        if (whole === null) return;
        m = whole;
        // The Fragment header is gone: the header at `off` is what it announced.
        nxt = m.m_buf[m.m_data + nxtOff] as number;
        break;
      }
      case IPPROTO_NONE:
        // RFC 8200 §4.7: nothing follows.
        m_freem(m);
        return;
      default: {
        const pr = inet6.protox[nxt];
        if (pr?.pr_input !== undefined) {
          st.ip6s_delivered++;
          pr.pr_input(m, off, nxt);
          return;
        }
        // Unclaimed: raw sockets, or a parameter problem (code 1) about the Next Header.
        st.ip6s_noproto++;
        V.rawip6.input(m, off, nxt, nxtOff);
        return;
      }
    }
  }
}

/** Make the extension header at `off` (2 bytes at least, then its whole length) contiguous. */
function ip6_exthdr_pullup(V: Vnet, m: Mbuf, off: number): Mbuf | null {
  const st = V.inet6.stat;
  if (m.len < off + 2) {
    st.ip6s_tooshort++;
    m_freem(m);
    return null;
  }
  let r = V.mbufs.pullup(m, off + 2);
  if (r === null) {
    st.ip6s_exthdrtoolong++;
    return null;
  }
  const hlen = ((r.m_buf[r.m_data + off + 1] as number) + 1) << 3;
  if (r.len < off + hlen) {
    st.ip6s_tooshort++;
    m_freem(r);
    return null;
  }
  r = V.mbufs.pullup(r, off + hlen);
  if (r === null) st.ip6s_exthdrtoolong++;
  return r;
}

/** Validate the hop-by-hop header at `off` (ip6_hopopts_input). Null when consumed. */
function ip6_hopopts_input(V: Vnet, m0: Mbuf, off: number): Mbuf | null {
  const m = ip6_exthdr_pullup(V, m0, off);
  if (m === null) return null;
  const hlen = ((m.m_buf[m.m_data + off + 1] as number) + 1) << 3;
  if (ip6_process_opts(V, m, off, hlen) !== 0) return null;
  return m;
}

/**
 * Process the TLV options of a hop-by-hop or destination options header at `off` of
 * length `hlen` (ip6_process_hopopts / dest6_input, RFC 8200 §4.2). Returns 0 to go on, or
 * non-zero after consuming the packet.
 */
function ip6_process_opts(V: Vnet, m: Mbuf, off: number, hlen: number): number {
  const st = V.inet6.stat;
  const b = m.m_buf;
  const o = m.m_data;
  let p = off + 2;
  const end = off + hlen;
  while (p < end) {
    const type = b[o + p] as number;
    if (type === IP6OPT_PAD1) {
      p++;
      continue;
    }
    if (p + 2 > end) {
      st.ip6s_toosmall++;
      st.ip6s_badoptions++;
      icmp6_error(V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, p);
      return 1;
    }
    const olen = (b[o + p + 1] as number) + 2;
    if (p + olen > end) {
      st.ip6s_toosmall++;
      st.ip6s_badoptions++;
      icmp6_error(V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, p + 1);
      return 1;
    }
    switch (type) {
      case IP6OPT_PADN:
        break;
      case IP6OPT_ROUTER_ALERT:
        // RFC 2711: 2 bytes of value; MLD is not processed by bsdnet.
        if (olen !== 4) {
          st.ip6s_badoptions++;
          icmp6_error(V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, p + 1);
          return 1;
        }
        break;
      default:
        if (ip6_unknown_opt(V, m, p, type) !== 0) return 1;
    }
    p += olen;
  }
  return 0;
}

/** The action of an unrecognised option (ip6_unknown_opt, RFC 8200 §4.2). */
function ip6_unknown_opt(V: Vnet, m: Mbuf, optoff: number, type: number): number {
  const st = V.inet6.stat;
  switch (type & 0xc0) {
    case 0x00: // skip over this option
      return 0;
    case 0x40: // discard silently
      st.ip6s_badoptions++;
      m_freem(m);
      return 1;
    case 0x80: // discard, ICMP even to multicast
      st.ip6s_badoptions++;
      icmp6_error(V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_OPTION, optoff);
      return 1;
    default: // 0xc0: discard, ICMP unless the destination was multicast
      st.ip6s_badoptions++;
      if (IN6_IS_ADDR_MULTICAST(m.m_buf, m.m_data + IP6_OFF_DST) || m.m_flags & (M_BCAST | M_MCAST)) m_freem(m);
      else icmp6_error(V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_OPTION, optoff);
      return 1;
  }
}

/** A private copy of the first `len` bytes of a packet, for an ICMPv6 error (the mcopy). */
function m_copyhead6(V: Vnet, m: Mbuf, len: number): Mbuf | null {
  const n = V.mbufs.getm(len, 16);
  if (n === null) return null;
  if (n.m_buf.length - n.m_data < len) {
    m_freem(n);
    return null;
  }
  m_copydata(m, 0, len, n.m_buf, n.m_data);
  n.m_len = len;
  n.len = len;
  n.rcvif = m.rcvif;
  n.m_flags |= m.m_flags & (M_BCAST | M_MCAST);
  return n;
}

/**
 * Forward a packet that is not for us (ip6_forward, RFC 8200, RFC 4443 §3, RFC 4007 §9):
 * hop limit, scope, route, MTU — a router never fragments: Packet Too Big instead.
 */
export function ip6_forward(V: Vnet, m0: Mbuf): void {
  const inet6 = V.inet6;
  const st = inet6.stat;
  const rcvif = m0.rcvif as Ifnet;
  let m: Mbuf | null = m0;
  let b = m.m_buf;
  let o = m.m_data;
  // Scoped or unspecified addresses are never forwarded (RFC 4291 §2.5.6, RFC 4007 §9).
  if (IN6_IS_ADDR_UNSPECIFIED(b, o + IP6_OFF_SRC) || in6_needs_zone(b, o + IP6_OFF_DST)) {
    st.ip6s_cantforward++;
    m_freem(m);
    return;
  }
  const hlim = b[o + IP6_OFF_HLIM] as number;
  if (hlim <= 1) {
    st.ip6s_cantforward++;
    icmp6_error(V, m, ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_TRANSIT, 0);
    return;
  }
  // A private copy of the head for any ICMPv6 error (as much as an error may quote).
  const mcopy = m_copyhead6(V, m, Math.min(m.len, ICMPV6_PLD_MAXLEN));
  const rt = ip6_route(V, b, o + IP6_OFF_DST, null);
  if (rt === null || rt.nhop.nh_flags & NHF_REJECT) {
    st.ip6s_noroute++;
    st.ip6s_cantforward++;
    m_freem(m);
    if (mcopy !== null) icmp6_error(V, mcopy, ICMP6_DST_UNREACH, rt === null ? ICMP6_DST_UNREACH_NOROUTE : ICMP6_DST_UNREACH_REJECT, 0);
    return;
  }
  if (rt.nhop.nh_flags & NHF_BLACKHOLE) {
    m_freem(m);
    if (mcopy !== null) m_freem(mcopy);
    return;
  }
  const ofp = rt.nhop.nh_ifp;
  // A link-local source must not leave its link (RFC 4007 §9): beyond scope.
  if (IN6_IS_ADDR_LINKLOCAL(b, o + IP6_OFF_SRC) && ofp !== rcvif) {
    st.ip6s_badscope++;
    st.ip6s_cantforward++;
    m_freem(m);
    if (mcopy !== null) icmp6_error(V, mcopy, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_BEYONDSCOPE, 0);
    return;
  }
  // Packets to one of our own addresses reached through lo0 were ours: never here.
  const lm = in6_ifmtu(ofp);
  const mtu = rt.nhop.nh_mtu > 0 && rt.nhop.nh_mtu < lm ? rt.nhop.nh_mtu : lm;
  if (m.len > mtu) {
    // RFC 8200 §5 / RFC 4443 §3.2: routers do not fragment; tell the source.
    st.ip6s_cantfrag++;
    st.ip6s_cantforward++;
    m_freem(m);
    if (mcopy !== null) icmp6_error(V, mcopy, ICMP6_PACKET_TOO_BIG, 0, mtu);
    return;
  }
  // Decrement the hop limit in a writable head.
  if (!M_WRITABLE(m)) {
    const d = V.mbufs.dup(m);
    m_freem(m);
    if (d === null) {
      st.ip6s_cantforward++;
      if (mcopy !== null) m_freem(mcopy);
      return;
    }
    m = V.mbufs.pullup(d, IP6_HDR_LEN);
    if (m === null) {
      st.ip6s_cantforward++;
      if (mcopy !== null) m_freem(mcopy);
      return;
    }
    b = m.m_buf;
    o = m.m_data;
  }
  b[o + IP6_OFF_HLIM] = hlim - 1;
  m.m_flags &= ~(M_BCAST | M_MCAST);
  m.rcvif = rcvif;
  const error = ip6_output(V, m, IPV6_FORWARDING, null);
  if (error === 0) {
    st.ip6s_forward++;
    if (mcopy !== null) m_freem(mcopy);
    return;
  }
  st.ip6s_cantforward++;
  if (mcopy === null) return;
  if (error === EMSGSIZE) icmp6_error(V, mcopy, ICMP6_PACKET_TOO_BIG, 0, mtu);
  else if (error === EHOSTUNREACH) icmp6_error(V, mcopy, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOROUTE, 0);
  else m_freem(mcopy);
}
