/*
 * IPv6 output (BSD netinet6/ip6_output.c; RFC 8200, RFC 8201, RFC 4007).
 *
 * Callers (UDP, TCP, ICMPv6, neighbour discovery, forwarding) hand ip6_output() a packet
 * whose IPv6 header — and any extension headers — they already built: version, traffic
 * class, flow label, payload length, next header, hop limit, source and destination.
 * ip6_output:
 *   - picks the outgoing interface and next hop: the zone (opts.ifp / opts.scope_id, or
 *     the zone of a link-local source) for link-local and interface-local destinations,
 *     the multicast interface for multicast, else the routing table through an optional
 *     RouteCache6; our own addresses leave through lo0;
 *   - fills in an unspecified source with in6_selectsrc's choice (unless IPV6_UNSPECSRC,
 *     as DAD needs), and refuses a link-local source outside its zone (RFC 4007 §9);
 *   - loops multicast back to ourselves when we are a member and the socket wants it;
 *   - completes a transport checksum left to "hardware" the interface cannot offload
 *     (in6_delayed_cksum);
 *   - fragments to the path MTU with a Fragment header (RFC 8200 §4.5; the path MTU comes
 *     from the host cache (RFC 8201), the route or the link, and is never taken below 1280),
 *     or refuses with EMSGSIZE when forwarding (routers never fragment) or when the sender
 *     forbids it (IPV6_DONTFRAG).
 * The packet is consumed whatever the result.
 */

import { CSUM_DELAY_DATA_IPV6, CSUM_IP6_UDP, M_BCAST, M_MCAST, type Mbuf, m_copydata, m_freem, M_PKTHDR } from '../mbuf/mbuf.js';
import { IFF_LOOPBACK, type Ifnet } from '../net/if.js';
import { if_simloop } from '../net/if_loop.js';
import { NHF_BLACKHOLE, NHF_GATEWAY, NHF_LOCAL, NHF_REJECT, type Rtentry } from '../net/route.js';
import { EADDRNOTAVAIL, EHOSTUNREACH, EMSGSIZE, ENETDOWN, ENOBUFS } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { get16, set16, set32 } from '../wire/bytes.js';
import { IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ROUTING } from '../wire/ipv4.js';
import { IP6_HDR_LEN, IP6_OFF_DST, IP6_OFF_NXT, IP6_OFF_PLEN, IP6_OFF_SRC, IP6F_LEN, IPV6_MMTU } from '../wire/ipv6.js';
import { AF_INET6, IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_LOOPBACK, IN6_IS_ADDR_MULTICAST, IN6_IS_ADDR_UNSPECIFIED, in6_equal } from '../netinet/in.js';
import { in_delayed_cksum } from '../netinet/in_cksum.js';
import { in6_needs_zone, in6_selectsrc_ifa } from './in6_src.js';
import type { In6Ifaddr, In6Ifextra } from './in6_var.js';
import { IFCAP_TSO6 } from '../net/if.js';

// ip6_output flags (netinet6/ip6_var.h)
export const IPV6_UNSPECSRC = 0x01; // allow :: as the source address
export const IPV6_FORWARDING = 0x02; // most of the IPv6 header exists
export const IPV6_MINMTU = 0x04; // use the minimum MTU (IPV6_USE_MIN_MTU)
/** bsdnet: do not fragment (IPV6_DONTFRAG / IP6PO_DONTFRAG). */
export const IPV6_DONTFRAG = 0x08;
/** bsdnet: a raw packet whose header the caller fully built (counted as rawout). */
export const IPV6_RAWOUTPUT = 0x10;

/** Multicast output options (struct ip6_moptions). */
export interface Ip6Moptions {
  ifp: Ifnet | null;
  hops: number;
  loop: boolean;
}

/** Per-call output options beyond the headers the caller built (struct ip6_pktopts subset). */
export interface Ip6OutputOpts {
  /** Outgoing interface (IPV6_PKTINFO / the zone of a scoped destination). */
  ifp?: Ifnet | null;
  /** The destination's zone (interface index) for link-local/interface-local destinations. */
  scope_id?: number;
  /** Multicast options of the sending socket. */
  moptions?: Ip6Moptions | null;
}

/** A cached route (struct route_in6): valid while the table's generation is unchanged. */
export class RouteCache6 {
  gen = -1;
  readonly dst = new Uint8Array(16);
  rt: Rtentry | null = null;
  invalidate(): void {
    this.gen = -1;
    this.rt = null;
  }
}

/** Route lookup for the destination at dst[off] through an optional cache. */
export function ip6_route(V: Vnet, dst: Uint8Array, off: number, ro: RouteCache6 | null): Rtentry | null {
  const rtab = V.rt;
  if (ro !== null && ro.gen === rtab.gen && ro.rt !== null && in6_equal(ro.dst, 0, dst, off)) {
    ro.rt.use++;
    return ro.rt;
  }
  const rt = rtab.lookup6(dst, off);
  if (ro !== null) {
    ro.gen = rtab.gen;
    for (let i = 0; i < 16; i++) ro.dst[i] = dst[off + i] as number;
    ro.rt = rt;
  }
  return rt;
}

/** The IPv6 MTU of a link (IN6_LINKMTU): the RA-advertised MTU if smaller, never below 1280. */
export function in6_ifmtu(ifp: Ifnet): number {
  const x = ifp.if_afdata.inet6 as In6Ifextra | undefined;
  let mtu = ifp.if_mtu;
  if (x !== undefined && x.linkmtu > 0 && x.linkmtu < mtu) mtu = x.linkmtu;
  return Math.max(mtu, IPV6_MMTU);
}

/**
 * The path MTU toward `dst` (ip6_calcmtu): the host cache's learned value (RFC 8201), the
 * route MTU, the link MTU — the smallest — never below 1280. 0 without a route.
 * `ifp` names the zone for link-local destinations.
 */
export function ip6_mtu_for(V: Vnet, dst: Uint8Array, ifp: Ifnet | null = null): number {
  let mtu: number;
  if (ifp !== null && (in6_needs_zone(dst) || IN6_IS_ADDR_MULTICAST(dst))) mtu = in6_ifmtu(ifp);
  else {
    const rt = V.rt.inet6.lookup(dst, 0);
    if (rt === null) return 0;
    const lm = in6_ifmtu(rt.nhop.nh_ifp);
    mtu = rt.nhop.nh_mtu > 0 && rt.nhop.nh_mtu < lm ? rt.nhop.nh_mtu : lm;
  }
  return pmtu_apply(V, dst, mtu);
}

function pmtu_apply(V: Vnet, dst: Uint8Array, mtu: number): number {
  if (V.hostcache.size > 0) {
    const hc = V.hostcache.getMtu(AF_INET6, 0, dst);
    if (hc > 0 && hc < mtu) mtu = hc;
  }
  return Math.max(mtu, IPV6_MMTU);
}

/** Read the 16-byte address at m's data + off into `out` (first mbuf must hold it). */
function addrAt(m: Mbuf, off: number): Uint8Array {
  return m.m_buf.subarray(m.m_data + off, m.m_data + off + 16);
}

export function ip6_output(V: Vnet, m: Mbuf, flags: number, ro: RouteCache6 | null, opts?: Ip6OutputOpts): number {
  const inet6 = V.inet6;
  const st = inet6.stat;
  if (m.m_len < IP6_HDR_LEN) {
    const p = m.len >= IP6_HDR_LEN ? V.mbufs.pullup(m, IP6_HDR_LEN) : null;
    if (p === null) {
      if (m.len < IP6_HDR_LEN) m_freem(m);
      st.ip6s_odropped++;
      return ENOBUFS;
    }
    m = p;
  }
  const b = m.m_buf;
  const o = m.m_data;
  const dst = addrAt(m, IP6_OFF_DST);
  const src = addrAt(m, IP6_OFF_SRC);
  let ifp: Ifnet | null = null;
  let nexthop: Uint8Array = dst;
  let mtu = 0;
  let srcIa: In6Ifaddr | null = null;
  const mcast = IN6_IS_ADDR_MULTICAST(dst);

  if (mcast) {
    ifp = opts?.moptions?.ifp ?? opts?.ifp ?? (opts?.scope_id ? (V.ifnet.byindex(opts.scope_id) ?? null) : null);
    if (ifp === null) {
      if (in6_needs_zone(dst)) {
        // Link-local multicast without a zone: the zone of a link-local source, if any.
        if (IN6_IS_ADDR_LINKLOCAL(src)) ifp = inet6.ifaWithAddr(src, 0)?.ifa_ifp ?? null;
      } else {
        const rt = ip6_route(V, dst, 0, ro);
        if (rt !== null) ifp = rt.nhop.nh_ifp;
      }
    }
    if (ifp === null) {
      st.ip6s_noroute++;
      m_freem(m);
      return EHOSTUNREACH;
    }
    m.m_flags |= M_MCAST;
    mtu = in6_ifmtu(ifp);
  } else if (in6_needs_zone(dst)) {
    // Link-local unicast (RFC 4007 §6): the zone is the interface given, else the zone of a
    // link-local source address.
    ifp = opts?.ifp ?? (opts?.scope_id ? (V.ifnet.byindex(opts.scope_id) ?? null) : null);
    if (ifp === null && IN6_IS_ADDR_LINKLOCAL(src)) ifp = inet6.ifaWithAddr(src, 0)?.ifa_ifp ?? null;
    if (ifp === null) {
      st.ip6s_badscope++;
      m_freem(m);
      return EHOSTUNREACH;
    }
    // One of our own addresses: turn it around through lo0.
    if (inet6.isLocal(dst, 0, ifp) && !(ifp.if_flags & IFF_LOOPBACK) && V.loif !== null) {
      srcIa = inet6.ifaWithAddr(dst, 0, ifp) ?? null;
      ifp = V.loif;
    }
    mtu = in6_ifmtu(ifp);
  } else {
    const rt = ip6_route(V, dst, 0, ro);
    if (rt === null) {
      st.ip6s_noroute++;
      m_freem(m);
      return EHOSTUNREACH;
    }
    const nh = rt.nhop;
    if (nh.nh_flags & NHF_BLACKHOLE) {
      m_freem(m);
      return 0;
    }
    if (nh.nh_flags & NHF_REJECT) {
      st.ip6s_noroute++;
      m_freem(m);
      return EHOSTUNREACH;
    }
    ifp = nh.nh_ifp;
    srcIa = nh.nh_ifa as In6Ifaddr | null;
    if (nh.nh_flags & NHF_GATEWAY && nh.gw6 !== null) nexthop = nh.gw6;
    const lm = in6_ifmtu(ifp);
    mtu = nh.nh_mtu > 0 && nh.nh_mtu < lm ? nh.nh_mtu : lm;
    if (nh.nh_flags & NHF_LOCAL) srcIa = null;
  }

  if (!ifp.up) {
    st.ip6s_odropped++;
    m_freem(m);
    return ENETDOWN;
  }

  // Source address (in6_selectsrc) when left open.
  if (IN6_IS_ADDR_UNSPECIFIED(src) && !(flags & (IPV6_UNSPECSRC | IPV6_FORWARDING))) {
    const zone = ifp.if_flags & IFF_LOOPBACK && srcIa !== null ? srcIa.ifa_ifp : ifp;
    const ia = in6_selectsrc_ifa(V, dst, zone);
    if (ia === null) {
      st.ip6s_sources_none++;
      m_freem(m);
      return EADDRNOTAVAIL;
    }
    b.set(ia.addr, o + IP6_OFF_SRC);
  } else if (IN6_IS_ADDR_LINKLOCAL(src) && !(ifp.if_flags & IFF_LOOPBACK) && !(flags & IPV6_FORWARDING)) {
    // RFC 4007 §9: a link-local source never leaves its own link.
    const ia = inet6.ifaWithAddr(src, 0, ifp);
    if (ia === undefined || ia.ifa_ifp !== ifp) {
      st.ip6s_badscope++;
      m_freem(m);
      return EHOSTUNREACH;
    }
  }
  if ((IN6_IS_ADDR_LOOPBACK(src) || IN6_IS_ADDR_LOOPBACK(dst)) && !(ifp.if_flags & IFF_LOOPBACK)) {
    st.ip6s_badscope++;
    m_freem(m);
    return EHOSTUNREACH;
  }

  if (!(flags & IPV6_FORWARDING)) {
    if (flags & IPV6_RAWOUTPUT) st.ip6s_rawout++;
    st.ip6s_localout++;
  }
  if (flags & IPV6_MINMTU) mtu = IPV6_MMTU;
  else if (!(flags & IPV6_FORWARDING) && !mcast) mtu = pmtu_apply(V, dst, mtu);
  if (mtu < IPV6_MMTU) mtu = IPV6_MMTU;

  const plen = get16(b, o + IP6_OFF_PLEN);
  const tlen = IP6_HDR_LEN + plen;
  if (m.len > tlen) {
    // The caller's chain is longer than the header says: trust the header.
    st.ip6s_odropped++;
    m_freem(m);
    return ENOBUFS;
  }

  // Loop multicast back when we are a member (IPV6_MULTICAST_LOOP, default on).
  if (mcast) {
    const loop = opts?.moptions ? opts.moptions.loop : true;
    if (loop && !(ifp.if_flags & IFF_LOOPBACK) && inet6.isMember(ifp, dst, 0)) ip6_mloopback(V, ifp, m);
  } else {
    m.m_flags &= ~(M_BCAST | M_MCAST);
  }

  const sdst = inet6.scratchDst;
  // A TSO burst goes out whole when the interface segments it (IFCAP_TSO6).
  const tsoOk = m.tso_segsz > 0 && (ifp.if_capenable & IFCAP_TSO6) !== 0 && m.tso_segsz + IP6_HDR_LEN + m.l4hlen <= mtu;
  if (tlen <= mtu || tsoOk) {
    ip6_finish_checksum(m, ifp);
    m.l3hlen = IP6_HDR_LEN;
    sdst.addr.set(nexthop.subarray(0, 16));
    sdst.scope_id = ifp.if_index;
    const err = ifp.if_output(ifp, m, sdst, ro);
    if (err !== 0 && err !== EHOSTUNREACH) st.ip6s_odropped++;
    return err;
  }

  // Too big for the path (RFC 8200 §5): routers never fragment, and neither do senders
  // that asked not to.
  if (flags & (IPV6_FORWARDING | IPV6_DONTFRAG)) {
    st.ip6s_cantfrag++;
    m_freem(m);
    return EMSGSIZE;
  }
  if (m.csum_flags & CSUM_DELAY_DATA_IPV6) in6_delayed_cksum(m);
  const frags = ip6_fragment(V, m, mtu);
  if (frags === null) {
    st.ip6s_odropped++;
    return ENOBUFS;
  }
  st.ip6s_fragmented++;
  let error = 0;
  for (let f: Mbuf | null = frags; f !== null; ) {
    const next: Mbuf | null = f.m_nextpkt;
    f.m_nextpkt = null;
    st.ip6s_ofragments++;
    if (error === 0) {
      f.l3hlen = IP6_HDR_LEN;
      sdst.addr.set(nexthop.subarray(0, 16));
      sdst.scope_id = ifp.if_index;
      error = ifp.if_output(ifp, f, sdst, ro);
      if (error !== 0 && error !== EHOSTUNREACH) st.ip6s_odropped++;
    } else {
      m_freem(f);
    }
    f = next;
  }
  return error;
}

/** Complete the transport checksum if the interface will not (in6_delayed_cksum). */
function ip6_finish_checksum(m: Mbuf, ifp: Ifnet): void {
  // A forwarded packet may still carry the checksum its sender offloaded to an epair.
  if (m.csum_unfilled & CSUM_DELAY_DATA_IPV6) {
    m.csum_flags = (m.csum_flags & ~CSUM_DELAY_DATA_IPV6) | (m.csum_unfilled & CSUM_DELAY_DATA_IPV6);
    m.csum_data = m.csum_unfilled_data;
    m.csum_unfilled = 0;
  }
  if (m.csum_flags & CSUM_DELAY_DATA_IPV6 && !(ifp.if_hwassist & CSUM_DELAY_DATA_IPV6)) in6_delayed_cksum(m);
}

/**
 * Replace the pseudo-header sum the transport left at its checksum field (offset
 * m.csum_data from the upper-layer header) with the full checksum (in6_delayed_cksum).
 */
export function in6_delayed_cksum(m: Mbuf): void {
  const l4off = ip6_lasthdr(m);
  if (l4off < 0) {
    m.csum_flags &= ~CSUM_DELAY_DATA_IPV6;
    return;
  }
  const total = m.m_flags & M_PKTHDR ? m.len : IP6_HDR_LEN + get16(m.m_buf, m.m_data + IP6_OFF_PLEN);
  in_delayed_cksum(m, l4off, total - l4off, m.csum_data, (m.csum_flags & CSUM_IP6_UDP) !== 0);
  m.csum_flags &= ~CSUM_DELAY_DATA_IPV6;
}

/** Byte at `off` of a chain, or -1 beyond its end. */
function byteAt(m: Mbuf, off: number): number {
  for (let x: Mbuf | null = m; x !== null; x = x.m_next) {
    if (off < x.m_len) return x.m_buf[x.m_data + off] as number;
    off -= x.m_len;
  }
  return -1;
}

/** Offset of the upper-layer header of an outgoing packet (ip6_lasthdr), -1 if malformed. */
export function ip6_lasthdr(m: Mbuf): number {
  let nxt = byteAt(m, IP6_OFF_NXT);
  let off = IP6_HDR_LEN;
  for (let n = 0; n < 32; n++) {
    if (nxt === IPPROTO_HOPOPTS || nxt === IPPROTO_ROUTING || nxt === IPPROTO_DSTOPTS) {
      const len = byteAt(m, off + 1);
      const next = byteAt(m, off);
      if (len < 0 || next < 0) return -1;
      nxt = next;
      off += (len + 1) << 3;
    } else if (nxt === IPPROTO_FRAGMENT) {
      const next = byteAt(m, off);
      if (next < 0) return -1;
      nxt = next;
      off += IP6F_LEN;
    } else if (nxt === IPPROTO_AH) {
      const len = byteAt(m, off + 1);
      const next = byteAt(m, off);
      if (len < 0 || next < 0) return -1;
      nxt = next;
      off += (len + 2) << 2;
    } else {
      return off;
    }
  }
  return -1;
}

/**
 * The length of the unfragmentable part (RFC 8200 §4.5): the IPv6 header plus any
 * hop-by-hop header, routing header, and destination options before a routing header.
 * Returns [length, offset of the Next Header byte that must become 44].
 */
function ip6_unfragpart(m: Mbuf, hdr: Uint8Array, hlen: number): { len: number; nxtOff: number } {
  void m;
  let nxt = hdr[IP6_OFF_NXT] as number;
  let off = IP6_HDR_LEN;
  let unfrag = IP6_HDR_LEN;
  let nxtOff = IP6_OFF_NXT;
  let cur = IP6_OFF_NXT;
  for (let n = 0; n < 16 && off + 2 <= hlen; n++) {
    if (nxt !== IPPROTO_HOPOPTS && nxt !== IPPROTO_ROUTING && nxt !== IPPROTO_DSTOPTS) break;
    const len = ((hdr[off + 1] as number) + 1) << 3;
    if (off + len > hlen) break;
    const next = hdr[off] as number;
    const isUnfrag = nxt === IPPROTO_HOPOPTS || nxt === IPPROTO_ROUTING || (nxt === IPPROTO_DSTOPTS && next === IPPROTO_ROUTING);
    cur = off;
    off += len;
    if (isUnfrag) {
      unfrag = off;
      nxtOff = cur;
    }
    nxt = next;
  }
  return { len: unfrag, nxtOff };
}

/**
 * Cut a packet into fragments of at most `mtu` bytes (ip6_fragment, RFC 8200 §4.5): each
 * carries the unfragmentable part, a Fragment header with a random 32-bit Identification
 * (RFC 7739) and a multiple of 8 bytes of the fragmentable part. Returns the fragments
 * linked by m_nextpkt (the original is consumed), or null on failure.
 */
export function ip6_fragment(V: Vnet, m: Mbuf, mtu: number): Mbuf | null {
  const total = m.len;
  // The unfragmentable headers are small; copy up to 1024 bytes of the head to parse them.
  const headLen = Math.min(total, 1024);
  const hdr = new Uint8Array(headLen);
  m_copydata(m, 0, headLen, hdr, 0);
  const { len: unfrag, nxtOff } = ip6_unfragpart(m, hdr, headLen);
  const fragNxt = hdr[nxtOff] as number;
  const payload = total - unfrag;
  const per = (mtu - unfrag - IP6F_LEN) & ~7;
  if (per < 8 || payload <= 0) {
    m_freem(m);
    return null;
  }
  const ident = V.rng.u32();
  let head: Mbuf | null = null;
  let tail: Mbuf | null = null;
  const fail = (): null => {
    m_freem(m);
    let x = head;
    while (x) {
      const n: Mbuf | null = x.m_nextpkt;
      m_freem(x);
      x = n;
    }
    return null;
  };
  for (let off = 0; off < payload; off += per) {
    const dlen = Math.min(per, payload - off);
    const last = off + dlen >= payload;
    const hl = unfrag + IP6F_LEN;
    const f = hl + 16 <= 168 ? V.mbufs.gethdr() : V.mbufs.getcl(hl + 16, true);
    if (f === null) return fail();
    f.m_data = 16; // room for a link header
    const fb = f.m_buf;
    const fo = f.m_data;
    fb.set(hdr.subarray(0, unfrag), fo);
    fb[fo + nxtOff] = IPPROTO_FRAGMENT;
    set16(fb, fo + IP6_OFF_PLEN, hl - IP6_HDR_LEN + dlen);
    const fh = fo + unfrag;
    fb[fh] = fragNxt;
    fb[fh + 1] = 0;
    set16(fb, fh + 2, off | (last ? 0 : 1));
    set32(fb, fh + 4, ident);
    f.m_len = hl;
    const data = V.mbufs.copym(m, unfrag + off, dlen);
    if (data === null) {
      m_freem(f);
      return fail();
    }
    data.m_flags &= ~M_PKTHDR;
    f.m_next = data;
    f.len = hl + dlen;
    f.rcvif = null;
    f.m_flags |= m.m_flags & (M_BCAST | M_MCAST);
    if (tail) tail.m_nextpkt = f;
    else head = f;
    tail = f;
  }
  m_freem(m);
  return head;
}

/** Loop a copy of a multicast packet back to ourselves (ip6_mloopback). */
function ip6_mloopback(V: Vnet, ifp: Ifnet, m: Mbuf): void {
  const copy = V.mbufs.dup(m);
  if (copy === null) return;
  if (copy.csum_flags & CSUM_DELAY_DATA_IPV6) in6_delayed_cksum(copy);
  if_simloop(ifp, copy, AF_INET6);
}
