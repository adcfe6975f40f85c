/*
 * IPv4 output (BSD netinet/ip_output.c).
 *
 * Callers (UDP, TCP, ICMP, forwarding) hand ip_output() a packet whose IPv4 header is
 * already built (version, header length, TOS, total length, flags/offset, TTL, protocol,
 * source and destination). ip_output:
 *   - routes the packet (longest-prefix match, cached per PCB in a RouteCache that is
 *     revalidated against the routing table's generation), or to a directly attached
 *     network for SO_DONTROUTE;
 *   - enforces the broadcast rules (SO_BROADCAST, IFF_BROADCAST) and loops multicast back
 *     when asked;
 *   - assigns the IP ID (RFC 6864: atomic datagrams, DF set, get 0 when
 *     net.inet.ip.rfc6864 is on, as FreeBSD does);
 *   - computes the header checksum and any transport checksum left to "hardware" that
 *     this interface cannot do (in_delayed_cksum);
 *   - fragments to the path MTU, or refuses with EMSGSIZE when DF is set.
 * The packet is consumed whatever the result.
 */

import { CSUM_DELAY_DATA, CSUM_IP, CSUM_IP_UDP, M_BCAST, M_MCAST, type Mbuf, m_freem, m_copydata, M_PKTHDR } from '../mbuf/mbuf.js';
import { if_simloop } from '../net/if_loop.js';
import { IFF_BROADCAST, IFF_LOOPBACK, type Ifaddr, type Ifnet } from '../net/if.js';
import { NHF_BLACKHOLE, NHF_BROADCAST, NHF_GATEWAY, NHF_REJECT, type Rtentry } from '../net/route.js';
import { EACCES, EADDRNOTAVAIL, EHOSTUNREACH, EMSGSIZE, ENETUNREACH, ENOBUFS } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { get16, get32, set16, set32 } from '../wire/bytes.js';
import { inCksum } from '../wire/checksum.js';
import {
  IP_DF,
  IP_HDR_LEN,
  IP_MF,
  IP_OFF_DST,
  IP_OFF_ID,
  IP_OFF_LEN,
  IP_OFF_OFF,
  IP_OFF_SRC,
  IP_OFF_SUM,
  IP_OFF_VHL,
  IP_OFFMASK,
  IPOPT_EOL,
  IPOPT_NOP,
} from '../wire/ipv4.js';
import { AF_INET, IN_MULTICAST, INADDR_ANY, type SockaddrIn } from './in.js';
import { in_delayed_cksum } from './in_cksum.js';
import type { InIfaddr } from './in_var.js';
import type { Llentry } from './if_ether.js';
import { IFCAP_TSO4 } from '../net/if.js';

// ip_output flags (netinet/ip_var.h)
export const IP_FORWARDING = 0x1; // most of ip header exists
export const IP_RAWOUTPUT = 0x2; // raw ip header exists
export const IP_SENDONES = 0x4; // send all-ones broadcast
export const IP_SENDTOIF = 0x8; // send on specific ifnet
export const IP_ROUTETOIF = 0x10; // bypass routing tables (SO_DONTROUTE)
export const IP_ALLOWBROADCAST = 0x20; // can send broadcast packets (SO_BROADCAST)
export const IP_NODEFAULTFLAGS = 0x40;

/** A cached route (struct route): valid while the table's generation is unchanged. */
export class RouteCache {
  gen = -1;
  dst = 0;
  rt: Rtentry | null = null;
  /** The link-layer entry ARP resolved for this route's next hop (if_ether LleCache). */
  lle: Llentry | null = null;
  /** Is `dst` a broadcast address of the route's interface, as of address generation bgen. */
  bcast = false;
  bgen = -1;
  invalidate(): void {
    this.gen = -1;
    this.rt = null;
    this.lle = null;
    this.bgen = -1;
  }
  /** Is the cached route the one for `dst` in table generation `gen`? */
  holds(gen: number, dst: number): boolean {
    return this.gen === gen && this.dst === dst && this.rt !== null;
  }
  /** Cache `rt` as the route for `dst` in generation `gen` (what was derived from the old one goes). */
  fill(gen: number, dst: number, rt: Rtentry | null): void {
    this.gen = gen;
    this.dst = dst;
    this.rt = rt;
    this.lle = null;
    this.bgen = -1;
  }
}

/** Multicast output options (struct ip_moptions), as far as bsdnet supports them. */
export interface IpMoptions {
  ifp: Ifnet | null;
  ttl: number;
  loop: boolean;
}

/** Per-call output options beyond the header the caller built. */
export interface IpOutputOpts {
  /** Multicast options of the sending socket. */
  moptions?: IpMoptions | null;
  /** Send on this interface (IP_SENDTOIF), e.g. ARP-less replies on a given link. */
  ifp?: Ifnet | null;
}

const scratchDst: SockaddrIn = { family: AF_INET, port: 0, addr: 0 };

/** Route lookup for `dst` through an optional cache (in_pcb route caching). */
export function ip_route(V: Vnet, dst: number, ro: RouteCache | null): Rtentry | null {
  const rtab = V.rt;
  if (ro?.holds(rtab.gen, dst)) {
    const rt = ro.rt as Rtentry;
    rt.use++;
    return rt;
  }
  const rt = rtab.lookup4(dst);
  ro?.fill(rtab.gen, dst, rt);
  return rt;
}

/**
 * The route to `dst` through a cache, for a question about the path (MSS, MTU, TSO) rather
 * than a packet: no use is counted. The packets that follow find the route cached.
 */
export function ip_route_peek(V: Vnet, dst: number, ro: RouteCache): Rtentry | null {
  const rtab = V.rt;
  if (ro.holds(rtab.gen, dst)) return ro.rt;
  const rt = rtab.inet.lookup4(dst);
  ro.fill(rtab.gen, dst, rt);
  return rt;
}

/** The MTU toward `dst` (route MTU, else interface MTU), or 0 without a route. */
export function ip_mtu_for(V: Vnet, dst: number): number {
  const rt = V.rt.inet.lookup4(dst);
  if (rt === null) return 0;
  return nhop_mtu(rt.nhop);
}

/**
 * The MTU of a next hop: the route's MTU if set, but never more than the interface's (the
 * interface MTU may have been lowered after the route was added; FreeBSD ip_output clamps).
 */
export function nhop_mtu(nh: Rtentry['nhop']): number {
  const ifmtu = nh.nh_ifp.if_mtu;
  return nh.nh_mtu > 0 && nh.nh_mtu < ifmtu ? nh.nh_mtu : ifmtu;
}

export function ip_output(V: Vnet, m: Mbuf, flags: number, ro: RouteCache | null, opts?: IpOutputOpts): number {
  const inet = V.inet;
  const st = inet.stat;
  if (m.m_len < IP_HDR_LEN) {
    const p = V.mbufs.pullup(m, IP_HDR_LEN);
    if (p === null) {
      st.ips_odropped++;
      return ENOBUFS;
    }
    m = p;
  }
  let b = m.m_buf;
  let o = m.m_data;
  const hlen = ((b[o + IP_OFF_VHL] as number) & 0xf) << 2;
  const dst = get32(b, o + IP_OFF_DST);
  let ifp: Ifnet;
  let gw = dst;
  let mtu: number;
  let isbroadcast = false;
  let srcIa: Ifaddr | null = null;

  if (flags & IP_SENDTOIF && opts?.ifp) {
    ifp = opts.ifp;
    mtu = ifp.if_mtu;
    isbroadcast = inet.isBroadcast(dst, ifp);
  } else if (flags & IP_ROUTETOIF) {
    // SO_DONTROUTE: only to a directly attached network.
    const ia = inet.ifaWithNet(dst) ?? inet.ifaWithAddr(dst);
    if (ia === undefined) {
      st.ips_noroute++;
      m_freem(m);
      return ENETUNREACH;
    }
    ifp = ia.ifa_ifp;
    mtu = ifp.if_mtu;
    isbroadcast = inet.isBroadcast(dst, ifp);
  } else if (IN_MULTICAST(dst) && opts?.moptions?.ifp) {
    ifp = opts.moptions.ifp;
    mtu = ifp.if_mtu;
  } else {
    const rt = ip_route(V, dst, ro);
    if (rt === null) {
      st.ips_noroute++;
      m_freem(m);
      return EHOSTUNREACH;
    }
    const nh = rt.nhop;
    if (nh.nh_flags & NHF_BLACKHOLE) {
      m_freem(m);
      return 0;
    }
    if (nh.nh_flags & NHF_REJECT) {
      st.ips_noroute++;
      m_freem(m);
      return EHOSTUNREACH;
    }
    ifp = nh.nh_ifp;
    srcIa = nh.nh_ifa;
    if (nh.nh_flags & NHF_GATEWAY) gw = nh.gw4;
    mtu = nhop_mtu(nh);
    if (nh.nh_flags & NHF_BROADCAST) isbroadcast = true;
    else if (nh.nh_flags & NHF_GATEWAY) isbroadcast = false;
    else if (ro !== null && ro.bgen === inet.addrgen) isbroadcast = ro.bcast;
    else {
      // On-link: ask the interface's addresses once per cached route (not per packet).
      isbroadcast = inet.isBroadcast(dst, ifp);
      if (ro !== null) {
        ro.bcast = isbroadcast;
        ro.bgen = inet.addrgen;
      }
    }
  }

  // Fill in a source address if the caller left it open (ICMP errors, raw sends).
  if (get32(b, o + IP_OFF_SRC) === INADDR_ANY && !(flags & IP_FORWARDING)) {
    const ia = (srcIa as InIfaddr | null) ?? inet.ifaOnIfp(ifp) ?? inet.addrs[0];
    if (ia) set32(b, o + IP_OFF_SRC, ia.ia_addr);
  }

  if (IN_MULTICAST(dst)) {
    m.m_flags |= M_MCAST;
    // Loop a copy back if we are a member and the socket wants it (IP_MULTICAST_LOOP).
    const loop = opts?.moptions ? opts.moptions.loop : true;
    if (loop && !(ifp.if_flags & IFF_LOOPBACK) && inet.isMember(ifp, dst)) ip_mloopback(V, ifp, m, hlen);
  } else if (isbroadcast) {
    if (!(ifp.if_flags & IFF_BROADCAST)) {
      m_freem(m);
      return EADDRNOTAVAIL;
    }
    if (!(flags & IP_ALLOWBROADCAST)) {
      m_freem(m);
      return EACCES;
    }
    const len = get16(b, o + IP_OFF_LEN);
    if (len > mtu) {
      m_freem(m);
      return EMSGSIZE;
    }
    m.m_flags |= M_BCAST;
  } else {
    m.m_flags &= ~M_BCAST;
  }

  if (!(flags & (IP_FORWARDING | IP_RAWOUTPUT))) {
    ip_fillid(V, b, o);
    st.ips_localout++;
  }

  const ipLen = get16(b, o + IP_OFF_LEN);
  scratchDst.addr = gw;
  // A TSO burst (tcp_output, m.tso_segsz) goes out whole when the interface segments it
  // (IFCAP_TSO4) and each segment fits the MTU (FreeBSD ip_output's CSUM_TSO test).
  const tsoOk = m.tso_segsz > 0 && (ifp.if_capenable & IFCAP_TSO4) !== 0 && m.tso_segsz + hlen + m.l4hlen <= mtu;
  if (ipLen <= mtu || tsoOk) {
    ip_finish_checksums(m, ifp, hlen, ipLen);
    m.l3hlen = hlen;
    const err = ifp.if_output(ifp, m, scratchDst, ro);
    if (err !== 0 && err !== EHOSTUNREACH) st.ips_odropped++;
    return err;
  }

  // Too big for the path.
  if (get16(b, o + IP_OFF_OFF) & IP_DF || m.m_flags & M_BCAST) {
    st.ips_cantfrag++;
    m_freem(m);
    return EMSGSIZE;
  }
  // Finish the transport checksum over the whole datagram before cutting it up.
  if (m.csum_flags & CSUM_DELAY_DATA) {
    in_delayed_cksum(m, hlen, ipLen - hlen, m.csum_data, (m.csum_flags & CSUM_IP_UDP) !== 0);
    m.csum_flags &= ~CSUM_DELAY_DATA;
    b = m.m_buf;
    o = m.m_data;
  }
  const frags = ip_fragment(V, m, hlen, mtu);
  if (frags === null) {
    st.ips_odropped++;
    return ENOBUFS;
  }
  st.ips_fragmented++;
  let error = 0;
  for (let f: Mbuf | null = frags; f !== null; ) {
    const next: Mbuf | null = f.m_nextpkt;
    f.m_nextpkt = null;
    st.ips_ofragments++;
    if (error === 0) {
      ip_finish_checksums(f, ifp, hlen, f.len);
      f.l3hlen = ((f.m_buf[f.m_data] as number) & 0xf) << 2;
      scratchDst.addr = gw;
      error = ifp.if_output(ifp, f, scratchDst, ro);
    } else {
      m_freem(f);
    }
    f = next;
  }
  return error;
}

/** Assign ip_id (ip_fillid): 0 for atomic datagrams under RFC 6864, else the next/random ID. */
function ip_fillid(V: Vnet, b: Uint8Array, o: number): void {
  const off = get16(b, o + IP_OFF_OFF);
  if ((off & (IP_DF | IP_MF | IP_OFFMASK)) === IP_DF && V.inet.rfc6864) set16(b, o + IP_OFF_ID, 0);
  else set16(b, o + IP_OFF_ID, V.inet.newId());
}

/** Header checksum, and any transport checksum the interface cannot offload. */
function ip_finish_checksums(m: Mbuf, ifp: Ifnet, hlen: number, ipLen: number): void {
  // A forwarded packet that arrived over a software link (epair) may still carry the
  // transport checksum its sender offloaded: it is due now, like any delayed checksum.
  if (m.csum_unfilled & CSUM_DELAY_DATA) {
    m.csum_flags = (m.csum_flags & ~CSUM_DELAY_DATA) | (m.csum_unfilled & CSUM_DELAY_DATA);
    m.csum_data = m.csum_unfilled_data;
    m.csum_unfilled = 0;
  }
  if (m.csum_flags & CSUM_DELAY_DATA && !(ifp.if_hwassist & CSUM_DELAY_DATA)) {
    in_delayed_cksum(m, hlen, ipLen - hlen, m.csum_data, (m.csum_flags & CSUM_IP_UDP) !== 0);
    m.csum_flags &= ~CSUM_DELAY_DATA;
  }
  const b = m.m_buf;
  const o = m.m_data;
  set16(b, o + IP_OFF_SUM, 0);
  if (ifp.if_hwassist & CSUM_IP) m.csum_flags |= CSUM_IP;
  else {
    set16(b, o + IP_OFF_SUM, inCksum(b, o, hlen));
    m.csum_flags &= ~CSUM_IP;
  }
}

/** Loop a copy of a multicast datagram back to ourselves (ip_mloopback). */
function ip_mloopback(V: Vnet, ifp: Ifnet, m: Mbuf, hlen: number): void {
  const copy = V.mbufs.dup(m);
  if (copy === null) return;
  const ipLen = get16(copy.m_buf, copy.m_data + IP_OFF_LEN);
  if (copy.csum_flags & CSUM_DELAY_DATA) {
    in_delayed_cksum(copy, hlen, ipLen - hlen, copy.csum_data, (copy.csum_flags & CSUM_IP_UDP) !== 0);
    copy.csum_flags &= ~CSUM_DELAY_DATA;
  }
  set16(copy.m_buf, copy.m_data + IP_OFF_SUM, 0);
  set16(copy.m_buf, copy.m_data + IP_OFF_SUM, inCksum(copy.m_buf, copy.m_data, hlen));
  if_simloop(ifp, copy, AF_INET);
}

/**
 * Copy the options that must appear in every fragment (copied flag set, RFC 791 §3.1) from
 * the header at b[o..o+hlen) to dst[d...]; returns the padded length written.
 */
function ip_optcopy(b: Uint8Array, o: number, hlen: number, dst: Uint8Array, d: number): number {
  let n = 0;
  for (let i = IP_HDR_LEN; i < hlen; ) {
    const opt = b[o + i] as number;
    if (opt === IPOPT_EOL) break;
    if (opt === IPOPT_NOP) {
      i++;
      continue;
    }
    const olen = i + 1 < hlen ? (b[o + i + 1] as number) : 0;
    if (olen < 2 || i + olen > hlen) break;
    if (opt & 0x80) {
      dst.set(b.subarray(o + i, o + i + olen), d + IP_HDR_LEN + n);
      n += olen;
    }
    i += olen;
  }
  while (n & 3) dst[d + IP_HDR_LEN + n++] = IPOPT_EOL;
  return n;
}

/**
 * Cut a datagram into fragments no larger than `mtu` (ip_fragment). Returns the fragments
 * linked by m_nextpkt (the original is consumed), or null on allocation failure.
 */
export function ip_fragment(V: Vnet, m: Mbuf, hlen: number, mtu: number): Mbuf | null {
  const b = m.m_buf;
  const o = m.m_data;
  const ipLen = get16(b, o + IP_OFF_LEN);
  const len = (mtu - hlen) & ~7; // data bytes per fragment, multiple of 8
  const origOff = get16(b, o + IP_OFF_OFF);
  const origMf = origOff & IP_MF;
  const baseOff = origOff & IP_OFFMASK;
  if (len < 8) {
    m_freem(m);
    return null;
  }
  const hdr = new Uint8Array(hlen);
  m_copydata(m, 0, hlen, hdr, 0);
  let head: Mbuf | null = null;
  let tail: Mbuf | null = null;
  for (let off = 0; off < ipLen - hlen; off += len) {
    const dlen = Math.min(len, ipLen - hlen - off);
    const first = off === 0;
    const f = V.mbufs.gethdr();
    if (f === null) {
      m_freem(m);
      let x = head;
      while (x) {
        const n: Mbuf | null = x.m_nextpkt;
        m_freem(x);
        x = n;
      }
      return null;
    }
    f.m_data = 16; // room for a link header
    const fb = f.m_buf;
    const fo = f.m_data;
    let fhlen: number;
    if (first) {
      fb.set(hdr, fo);
      fhlen = hlen;
    } else {
      fb.set(hdr.subarray(0, IP_HDR_LEN), fo);
      fhlen = IP_HDR_LEN + ip_optcopy(hdr, 0, hlen, fb, fo);
      fb[fo + IP_OFF_VHL] = 0x40 | (fhlen >> 2);
    }
    const last = off + dlen >= ipLen - hlen;
    set16(fb, fo + IP_OFF_LEN, fhlen + dlen);
    set16(fb, fo + IP_OFF_OFF, (origOff & IP_DF) | (baseOff + (off >> 3)) | (last ? origMf : IP_MF));
    f.m_len = fhlen;
    const data = V.mbufs.copym(m, hlen + off, dlen);
    if (data === null) {
      m_freem(f);
      m_freem(m);
      // The fragments already built go too (they would leak otherwise).
      let x = head;
      while (x) {
        const n: Mbuf | null = x.m_nextpkt;
        m_freem(x);
        x = n;
      }
      return null;
    }
    data.m_flags &= ~M_PKTHDR;
    f.m_next = data;
    f.len = fhlen + dlen;
    f.rcvif = null;
    f.m_flags |= m.m_flags & (M_BCAST | M_MCAST);
    if (tail) tail.m_nextpkt = f;
    else head = f;
    tail = f;
  }
  m_freem(m);
  return head;
}
