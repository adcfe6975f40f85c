/*
 * ICMPv6 (BSD netinet6/icmp6.c; RFC 4443, RFC 8201, RFC 4861 for the ND messages).
 *
 * icmp6_error() answers a packet we cannot deliver or forward. Per RFC 4443 §2.4(e) it never
 * answers an ICMPv6 error or a redirect, never a packet sent to a multicast address (or as
 * a link-level multicast/broadcast) — except Packet Too Big and a parameter problem about an
 * unrecognised option whose type asks for a report even then (code 2) — and never a packet
 * whose source does not identify a single node (unspecified, multicast). It quotes as much
 * of the offending packet as fits in the minimum MTU (1280 bytes, §2.4(c)) and is rate
 * limited to net.inet6.icmp6.errppslimit messages per second (§2.4(f)).
 *
 * icmp6_input() verifies the checksum, answers echo requests (to multicast groups too, as
 * FreeBSD does), hands errors to the protocol of the quoted packet through pr_ctlinput
 * (PRC_MSGSIZE for Packet Too Big, PRC_UNREACH_PORT for port unreachable, ...), learns path
 * MTUs from Packet Too Big into the host cache (RFC 8201 §4: never below 1280), passes the
 * neighbour-discovery messages to nd6, and finally offers every message to raw ICMPv6
 * sockets (rip6_input).
 */

import { CSUM_DATA_VALID, CSUM_PSEUDO_HDR, M_BCAST, M_MCAST, type Mbuf, m_copydata, m_freem } from '../mbuf/mbuf.js';
import type { Ifnet } from '../net/if.js';
import {
  type CtlInput,
  PRC_HOSTDEAD,
  PRC_MSGSIZE,
  PRC_PARAMPROB,
  PRC_TIMXCEED_INTRANS,
  PRC_TIMXCEED_REASS,
  PRC_UNREACH_ADMIN_PROHIB,
  PRC_UNREACH_NET,
  PRC_UNREACH_PORT,
  PRC_UNREACH_PROTOCOL,
} from '../sys/protosw.js';
import type { Vnet } from '../vnet.js';
import { get16, get32, set16, set32 } from '../wire/bytes.js';
import { cksumFinish, pseudoSum6 } from '../wire/checksum.js';
import {
  ICMP6_DST_UNREACH,
  ICMP6_DST_UNREACH_ADDR,
  ICMP6_DST_UNREACH_ADMIN,
  ICMP6_DST_UNREACH_BEYONDSCOPE,
  ICMP6_DST_UNREACH_NOPORT,
  ICMP6_DST_UNREACH_NOROUTE,
  ICMP6_DST_UNREACH_POLICY,
  ICMP6_DST_UNREACH_REJECT,
  ICMP6_ECHO_REPLY,
  ICMP6_ECHO_REQUEST,
  ICMP6_HDR_LEN,
  ICMP6_PACKET_TOO_BIG,
  ICMP6_PARAM_PROB,
  ICMP6_PARAMPROB_HEADER,
  ICMP6_PARAMPROB_NEXTHEADER,
  ICMP6_PARAMPROB_OPTION,
  ICMP6_TIME_EXCEED_REASSEMBLY,
  ICMP6_TIME_EXCEED_TRANSIT,
  ICMP6_TIME_EXCEEDED,
  ND_NEIGHBOR_ADVERT,
  ND_NEIGHBOR_SOLICIT,
  ND_REDIRECT,
  ND_ROUTER_ADVERT,
  ND_ROUTER_SOLICIT,
} from '../wire/icmp6.js';
import { IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ICMPV6, IPPROTO_ROUTING } from '../wire/ipv4.js';
import { IP6_HDR_LEN, IP6_OFF_DST, IP6_OFF_HLIM, IP6_OFF_NXT, IP6_OFF_PLEN, IP6_OFF_SRC, IPV6_MMTU } from '../wire/ipv6.js';
import { AF_INET6, IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_MULTICAST, IN6_IS_ADDR_UNSPECIFIED, sockaddr_in6 } from '../netinet/in.js';
import { in_cksum_chain } from '../netinet/in_cksum.js';
import { in6_needs_zone, in6_selectsrc_ifa } from './in6_src.js';
import { ip6_mtu_for, ip6_output } from './ip6_output.js';
import { nd6_na_input, nd6_ns_input } from './nd6_nbr.js';
import { nd6_ra_input, nd6_redirect_input, nd6_rs_input } from './nd6_rtr.js';
import { field } from '../kern/kern_sysctl.js';

/** ICMPv6 statistics (struct icmp6stat, netinet/icmp6.h), FreeBSD names. */
export class Icmp6Stat {
  icp6s_error = 0; // # of calls to icmp6_error
  icp6s_canterror = 0; // no error because old was icmp error or so
  icp6s_toofreq = 0; // no error because of rate limitation
  icp6s_outhist = new Array<number>(256).fill(0);
  icp6s_badcode = 0; // icmp6_code out of range
  icp6s_tooshort = 0; // packet < sizeof(struct icmp6_hdr)
  icp6s_checksum = 0; // bad checksum
  icp6s_badlen = 0; // calculated bound mismatch
  icp6s_dropped = 0; // # of packets dropped waiting for resolution
  icp6s_reflect = 0; // number of responses
  icp6s_inhist = new Array<number>(256).fill(0);
  icp6s_nd_toomanyopt = 0; // too many ND options
  icp6s_odst_unreach_noroute = 0;
  icp6s_odst_unreach_admin = 0;
  icp6s_odst_unreach_beyondscope = 0;
  icp6s_odst_unreach_addr = 0;
  icp6s_odst_unreach_noport = 0;
  icp6s_opacket_too_big = 0;
  icp6s_otime_exceed_transit = 0;
  icp6s_otime_exceed_reassembly = 0;
  icp6s_oparamprob_header = 0;
  icp6s_oparamprob_nextheader = 0;
  icp6s_oparamprob_option = 0;
  icp6s_oredirect = 0;
  icp6s_ounknown = 0;
  icp6s_pmtuchg = 0; // path MTU changes
  icp6s_nd_badopt = 0; // bad ND options
  icp6s_badns = 0; // bad neighbor solicitation
  icp6s_badna = 0; // bad neighbor advertisement
  icp6s_badrs = 0; // bad router solicitation
  icp6s_badra = 0; // bad router advertisement
  icp6s_badredirect = 0; // bad redirect message
  icp6s_overflowdefrtr = 0; // Too many default routers
  icp6s_overflowprfx = 0; // Too many prefixes
  icp6s_overflownndp = 0; // Too many neighbour entries
  icp6s_overflowredirect = 0; // Too many redirects
  icp6s_invlhlim = 0; // Invalid hop limit
  /** bsdnet: duplicate addresses detected by DAD (RFC 4862 §5.4.5). */
  icp6s_dad_duplicated = 0;
  /** bsdnet: someone else claimed an address of ours (NA for a non-tentative address). */
  icp6s_dupaddr_defended = 0;
  /** bsdnet: Packet Too Big messages ignored (quoted packet not ours, or MTU not smaller). */
  icp6s_pmtuignored = 0;
}

export class Icmp6Vars {
  readonly stat = new Icmp6Stat();
  /** net.inet6.icmp6.errppslimit: ICMPv6 error messages per second (RFC 4443 §2.4(f)); 0 = unlimited. */
  errppslimit = 100;
  /** net.inet6.icmp6.rediraccept: accept ICMPv6 redirects (RFC 4861 §8). */
  rediraccept = true;
  /** net.inet6.icmp6.redirtimeout: lifetime of redirect-learned routes (seconds). */
  redirtimeout = 600;
  /** net.inet6.icmp6.nodeinfo: node information queries (RFC 4620): off. */
  nodeinfo = 0;
  /** net.inet6.icmp6.reply_from_interface */
  reply_from_interface = false;
  /** Rate-limit window (clock ns) and count within it (ppsratecheck). */
  private rateWindow = -1e18;
  private rateCount = 0;
  /** Log lines (bounded): rate limiting, duplicate addresses, bogus ND. Nothing is printed. */
  readonly log: string[] = [];
  readonly logmax = 100;

  constructor(V: Vnet) {
    const s = V.sysctl;
    s.node('net.inet6', 'Internet6 Family');
    s.node('net.inet6.icmp6', 'ICMP6');
    s.int('net.inet6.icmp6.errppslimit', field(this, 'errppslimit'), { descr: 'Maximum number of ICMPv6 error messages per second', min: 0, max: 1_000_000 });
    s.bool('net.inet6.icmp6.rediraccept', field(this, 'rediraccept'), { descr: 'Accept ICMPv6 redirect messages' });
    s.int('net.inet6.icmp6.redirtimeout', field(this, 'redirtimeout'), { descr: 'Delay in seconds before expiring redirect route', min: 0, max: 86400 });
    s.int('net.inet6.icmp6.nodeinfo', field(this, 'nodeinfo'), {
      descr: 'Mask of enabled RFC4620 node information query types (not implemented: keep 0)',
      min: 0,
      max: 0,
    });
    s.bool('net.inet6.icmp6.reply_from_interface', field(this, 'reply_from_interface'), {
      descr: 'Reply ICMPv6 errors from the interface the offending packet arrived on',
    });
    s.struct('net.inet6.icmp6.stats', () => ({ ...this.stat, icp6s_outhist: [...this.stat.icp6s_outhist], icp6s_inhist: [...this.stat.icp6s_inhist] }), {
      descr: 'ICMPv6 statistics (struct icmp6stat, netinet/icmp6.h)',
      type: 'icmp6stat',
    });
  }

  /** The statistics block under its BSD name. */
  get icmp6stat(): Icmp6Stat {
    return this.stat;
  }

  /** Append a bounded log line. */
  logf(line: string): void {
    this.log.push(line);
    if (this.log.length > this.logmax) this.log.shift();
  }

  /** ppsratecheck for errors: true when this error must be suppressed (icmp6_ratelimit). */
  ratelimit(now: number): boolean {
    if (this.errppslimit <= 0) return false;
    if (now - this.rateWindow >= 1e9) {
      if (this.rateCount > this.errppslimit) this.logf(`icmp6: limiting error responses from ${this.rateCount} to ${this.errppslimit} packets/sec`);
      this.rateWindow = now;
      this.rateCount = 0;
    }
    this.rateCount++;
    if (this.rateCount > this.errppslimit) {
      this.stat.icp6s_toofreq++;
      return true;
    }
    return false;
  }
}

function byteAt(m: Mbuf, off: number): number {
  for (let x: Mbuf | null = m; x !== null; x = x.m_next) {
    if (off < x.m_len) return x.m_buf[x.m_data + off] as number;
    off -= x.m_len;
  }
  return -1;
}

/**
 * Find the upper-layer header of a packet held in `m` (IPv6 header at 0, `len` valid bytes):
 * returns its offset and protocol, or off -1 when it cannot be known (truncated, or a
 * non-first fragment). No allocation: results in the scratch object.
 */
interface LastHdr {
  off: number;
  nxt: number;
}

function ip6_lasthdr_in(m: Mbuf, len: number, out: LastHdr): void {
  let nxt = byteAt(m, IP6_OFF_NXT);
  let off = IP6_HDR_LEN;
  out.off = -1;
  out.nxt = nxt;
  for (let n = 0; n < 16; n++) {
    if (nxt === IPPROTO_HOPOPTS || nxt === IPPROTO_ROUTING || nxt === IPPROTO_DSTOPTS || nxt === IPPROTO_AH) {
      if (off + 2 > len) return;
      const l = byteAt(m, off + 1);
      const next = byteAt(m, off);
      if (l < 0 || next < 0) return;
      off += nxt === IPPROTO_AH ? (l + 2) << 2 : (l + 1) << 3;
      nxt = next;
    } else if (nxt === IPPROTO_FRAGMENT) {
      if (off + 8 > len) return;
      const offlg = (byteAt(m, off + 2) << 8) | byteAt(m, off + 3);
      if (offlg & 0xfff8) return; // not the first fragment: the upper layer is not here
      nxt = byteAt(m, off);
      off += 8;
    } else {
      out.off = off <= len ? off : -1;
      out.nxt = nxt;
      return;
    }
  }
}

/** Is this ICMPv6 type an error message (RFC 4443 §2.1: types 0-127)? */
export function icmp6_iserror(type: number): boolean {
  return type < 128;
}

/**
 * Send an ICMPv6 error about packet `m` (icmp6_error). `m` starts at its IPv6 header and is
 * consumed. `param` is the MTU for Packet Too Big and the pointer for parameter problems.
 */
export function icmp6_error(V: Vnet, m: Mbuf, type: number, code: number, param: number): void {
  const ic = V.icmp6;
  const st = ic.stat;
  st.icp6s_error++;
  if (m.len < IP6_HDR_LEN) {
    m_freem(m);
    return;
  }
  const n = V.mbufs.pullup(m, IP6_HDR_LEN);
  if (n === null) return;
  m = n;
  const b = m.m_buf;
  const o = m.m_data;
  const src = b.subarray(o + IP6_OFF_SRC, o + IP6_OFF_SRC + 16);
  const dst = b.subarray(o + IP6_OFF_DST, o + IP6_OFF_DST + 16);
  // RFC 4443 §2.4(e.3, e.4): not to multicast destinations or link-level multicast, except
  // Packet Too Big and a parameter problem about an option that asks for it (code 2).
  const exception = type === ICMP6_PACKET_TOO_BIG || (type === ICMP6_PARAM_PROB && code === ICMP6_PARAMPROB_OPTION);
  if ((IN6_IS_ADDR_MULTICAST(dst) || m.m_flags & (M_BCAST | M_MCAST)) && !exception) {
    st.icp6s_canterror++;
    m_freem(m);
    return;
  }
  // (e.5): the source must identify a single node.
  if (IN6_IS_ADDR_UNSPECIFIED(src) || IN6_IS_ADDR_MULTICAST(src)) {
    st.icp6s_canterror++;
    m_freem(m);
    return;
  }
  // (e.1, e.2): never about an ICMPv6 error or a redirect.
  const lh: LastHdr = { off: -1, nxt: -1 };
  ip6_lasthdr_in(m, m.len, lh);
  if (lh.nxt === IPPROTO_ICMPV6 && lh.off >= 0) {
    const t = byteAt(m, lh.off);
    if (t < 0 || icmp6_iserror(t) || t === ND_REDIRECT) {
      st.icp6s_canterror++;
      m_freem(m);
      return;
    }
  }
  // A chain that cannot be walked to its end is not known to be ICMPv6: it may be answered
  // (as FreeBSD's ip6_lasthdr() < 0 case); an error we send is itself always walkable.
  // (f): rate limit.
  if (ic.ratelimit(V.clock.now())) {
    m_freem(m);
    return;
  }
  const rcvif = m.rcvif;
  // Reply source: the offending packet's destination if it is ours and unicast, else a
  // source selected toward the offender through the receiving interface's zone.
  const oldSrc = Uint8Array.from(src);
  let from: Uint8Array | null = null;
  if (!IN6_IS_ADDR_MULTICAST(dst) && V.inet6.isLocal(dst, 0, rcvif)) from = Uint8Array.from(dst);
  // How much to quote: as much as fits in the minimum MTU (RFC 4443 §2.4(c)).
  const maxQuote = IPV6_MMTU - IP6_HDR_LEN - ICMP6_HDR_LEN;
  const qlen = Math.min(m.len, maxQuote);
  const total = IP6_HDR_LEN + ICMP6_HDR_LEN + qlen;
  const r = V.mbufs.getm(total, 16);
  if (r === null) {
    m_freem(m);
    return;
  }
  if (r.m_buf.length - r.m_data < total) {
    m_freem(r);
    m_freem(m);
    return;
  }
  r.m_len = total;
  r.len = total;
  const rb = r.m_buf;
  const ro = r.m_data;
  const icp = ro + IP6_HDR_LEN;
  m_copydata(m, 0, qlen, rb, icp + ICMP6_HDR_LEN);
  m_freem(m);
  rb[icp] = type;
  rb[icp + 1] = code;
  set16(rb, icp + 2, 0);
  set32(rb, icp + 4, param >>> 0);
  countOut(st, type, code);
  icmp6_send(V, r, from, oldSrc, rcvif, V.inet6.hlim);
}

function countOut(st: Icmp6Stat, type: number, code: number): void {
  st.icp6s_outhist[type] = (st.icp6s_outhist[type] as number) + 1;
  switch (type) {
    case ICMP6_DST_UNREACH:
      if (code === ICMP6_DST_UNREACH_NOROUTE) st.icp6s_odst_unreach_noroute++;
      else if (code === ICMP6_DST_UNREACH_ADMIN) st.icp6s_odst_unreach_admin++;
      else if (code === ICMP6_DST_UNREACH_BEYONDSCOPE) st.icp6s_odst_unreach_beyondscope++;
      else if (code === ICMP6_DST_UNREACH_ADDR) st.icp6s_odst_unreach_addr++;
      else if (code === ICMP6_DST_UNREACH_NOPORT) st.icp6s_odst_unreach_noport++;
      break;
    case ICMP6_PACKET_TOO_BIG:
      st.icp6s_opacket_too_big++;
      break;
    case ICMP6_TIME_EXCEEDED:
      if (code === ICMP6_TIME_EXCEED_TRANSIT) st.icp6s_otime_exceed_transit++;
      else st.icp6s_otime_exceed_reassembly++;
      break;
    case ICMP6_PARAM_PROB:
      if (code === ICMP6_PARAMPROB_HEADER) st.icp6s_oparamprob_header++;
      else if (code === ICMP6_PARAMPROB_NEXTHEADER) st.icp6s_oparamprob_nextheader++;
      else st.icp6s_oparamprob_option++;
      break;
    default:
      st.icp6s_ounknown++;
  }
}

/**
 * Finish and send an ICMPv6 message whose ICMPv6 part starts at offset 40 of `r` (the
 * header room is there): IPv6 header to `to` from `from` (selected when null), checksum,
 * ip6_output through the zone of `zone` for scoped destinations.
 */
export function icmp6_send(V: Vnet, r: Mbuf, from: Uint8Array | null, to: Uint8Array, zone: Ifnet | null, hlim: number, flags = 0, mloop = true): number {
  const rb = r.m_buf;
  const ro = r.m_data;
  const plen = r.len - IP6_HDR_LEN;
  let src = from;
  if (src === null) {
    let ifp = zone;
    if (ifp === null || !in6_needs_zone(to)) {
      const rt = V.rt.inet6.lookup(to, 0);
      if (rt !== null && !in6_needs_zone(to)) ifp = rt.nhop.nh_ifp;
    }
    const ia = ifp !== null ? in6_selectsrc_ifa(V, to, ifp) : null;
    if (ia === null) {
      V.inet6.stat.ip6s_sources_none++;
      m_freem(r);
      return 49; // EADDRNOTAVAIL
    }
    src = ia.addr;
  }
  rb[ro] = 0x60;
  rb[ro + 1] = 0;
  set16(rb, ro + 2, 0);
  set16(rb, ro + IP6_OFF_PLEN, plen);
  rb[ro + IP6_OFF_NXT] = IPPROTO_ICMPV6;
  rb[ro + IP6_OFF_HLIM] = hlim;
  rb.set(src.subarray(0, 16), ro + IP6_OFF_SRC);
  rb.set(to.subarray(0, 16), ro + IP6_OFF_DST);
  icmp6_cksum_set(r, IP6_HDR_LEN, plen);
  r.csum_flags = 0;
  r.csum_unfilled = 0; // the reflected packet's own checksum is set above
  r.rcvif = null;
  r.m_flags &= ~(M_BCAST | M_MCAST);
  const mc = IN6_IS_ADDR_MULTICAST(to);
  const ifp = in6_needs_zone(to) || mc ? zone : null;
  return ip6_output(V, r, flags, null, { ifp, moptions: mc ? { ifp, hops: hlim, loop: mloop } : null });
}

/** Compute and store the ICMPv6 checksum of the message at `off` (RFC 4443 §2.3). */
export function icmp6_cksum_set(m: Mbuf, off: number, len: number): void {
  const b = m.m_buf;
  const o = m.m_data;
  set16(b, o + off + 2, 0);
  const ps = pseudoSum6(b, o + IP6_OFF_SRC, b, o + IP6_OFF_DST, IPPROTO_ICMPV6, len);
  set16(b, o + off + 2, cksumFinish(in_cksum_chain(m, off, len, ps)));
}

/** Verify the ICMPv6 checksum of the message at `off` (trusting an interface that checked). */
export function icmp6_cksum_ok(m: Mbuf, off: number, len: number): boolean {
  if ((m.csum_flags & (CSUM_DATA_VALID | CSUM_PSEUDO_HDR)) === (CSUM_DATA_VALID | CSUM_PSEUDO_HDR) && m.csum_data === 0xffff) return true;
  const b = m.m_buf;
  const o = m.m_data;
  const ps = pseudoSum6(b, o + IP6_OFF_SRC, b, o + IP6_OFF_DST, IPPROTO_ICMPV6, len);
  return cksumFinish(in_cksum_chain(m, off, len, ps)) === 0;
}

/** The ICMPv6 protocol input routine (pr_input). `off` is the ICMPv6 header offset. */
export function icmp6_input(m0: Mbuf, off: number, _proto: number): void {
  const ifp = m0.rcvif as Ifnet;
  const V = ifp.if_vnet;
  const ic = V.icmp6;
  const st = ic.stat;
  const icmp6len = IP6_HDR_LEN + get16(m0.m_buf, m0.m_data + IP6_OFF_PLEN) - off;
  if (icmp6len < ICMP6_HDR_LEN || m0.len < off + icmp6len) {
    st.icp6s_tooshort++;
    m_freem(m0);
    return;
  }
  let m = V.mbufs.pullup(m0, off + ICMP6_HDR_LEN);
  if (m === null) {
    st.icp6s_tooshort++;
    return;
  }
  // Neighbour-discovery messages are parsed in place: make them contiguous (they are
  // bounded by the link MTU). Everything else is read chain-safely.
  const t0 = m.m_buf[m.m_data + off] as number;
  if (t0 >= ND_ROUTER_SOLICIT && t0 <= ND_REDIRECT) {
    m = V.mbufs.pullup(m, off + icmp6len);
    if (m === null) {
      st.icp6s_badlen++;
      return;
    }
  }
  if (!icmp6_cksum_ok(m, off, icmp6len)) {
    st.icp6s_checksum++;
    m_freem(m);
    return;
  }
  const b = m.m_buf;
  const o = m.m_data;
  const icp = o + off;
  const type = b[icp] as number;
  const code = b[icp + 1] as number;
  st.icp6s_inhist[type] = (st.icp6s_inhist[type] as number) + 1;

  switch (type) {
    case ICMP6_DST_UNREACH: {
      let cmd = -1;
      switch (code) {
        case ICMP6_DST_UNREACH_NOROUTE:
          cmd = PRC_UNREACH_NET;
          break;
        case ICMP6_DST_UNREACH_ADMIN:
        case ICMP6_DST_UNREACH_POLICY:
        case ICMP6_DST_UNREACH_REJECT:
          cmd = PRC_UNREACH_ADMIN_PROHIB;
          break;
        case ICMP6_DST_UNREACH_BEYONDSCOPE:
          cmd = PRC_PARAMPROB;
          break;
        case ICMP6_DST_UNREACH_ADDR:
          cmd = PRC_HOSTDEAD;
          break;
        case ICMP6_DST_UNREACH_NOPORT:
          cmd = PRC_UNREACH_PORT;
          break;
      }
      if (cmd < 0) st.icp6s_badcode++;
      else icmp6_notify_error(V, m, off, icmp6len, type, code, cmd);
      break;
    }
    case ICMP6_PACKET_TOO_BIG:
      // RFC 4443 §3.2: the code is ignored by the receiver.
      icmp6_notify_error(V, m, off, icmp6len, type, code, PRC_MSGSIZE);
      break;
    case ICMP6_TIME_EXCEEDED:
      if (code === ICMP6_TIME_EXCEED_TRANSIT) icmp6_notify_error(V, m, off, icmp6len, type, code, PRC_TIMXCEED_INTRANS);
      else if (code === ICMP6_TIME_EXCEED_REASSEMBLY) icmp6_notify_error(V, m, off, icmp6len, type, code, PRC_TIMXCEED_REASS);
      else st.icp6s_badcode++;
      break;
    case ICMP6_PARAM_PROB:
      if (code === ICMP6_PARAMPROB_NEXTHEADER) icmp6_notify_error(V, m, off, icmp6len, type, code, PRC_UNREACH_PROTOCOL);
      else if (code === ICMP6_PARAMPROB_HEADER || code === ICMP6_PARAMPROB_OPTION || code === 3)
        icmp6_notify_error(V, m, off, icmp6len, type, code, PRC_PARAMPROB);
      else st.icp6s_badcode++;
      break;
    case ICMP6_ECHO_REQUEST:
      if (code !== 0) {
        st.icp6s_badcode++;
        break;
      }
      icmp6_echo_reply(V, m, off, icmp6len);
      break;
    case ICMP6_ECHO_REPLY:
      if (code !== 0) st.icp6s_badcode++;
      break;
    case ND_ROUTER_SOLICIT:
      nd6_rs_input(V, m, off, icmp6len);
      break;
    case ND_ROUTER_ADVERT:
      nd6_ra_input(V, m, off, icmp6len);
      break;
    case ND_NEIGHBOR_SOLICIT:
      nd6_ns_input(V, m, off, icmp6len);
      break;
    case ND_NEIGHBOR_ADVERT:
      nd6_na_input(V, m, off, icmp6len);
      break;
    case ND_REDIRECT:
      nd6_redirect_input(V, m, off, icmp6len);
      break;
    default:
      // Unknown informational messages are silently discarded (RFC 4443 §2.4(b)); unknown
      // errors are passed up to the upper layer (§2.4(a)) — not to ctlinput in bsdnet.
      break;
  }
  // Every message is also offered to raw ICMPv6 sockets.
  V.rawip6.input(m, off, IPPROTO_ICMPV6);
}

/** Answer an echo request (icmp6_reflect of a private copy; extension headers dropped). */
function icmp6_echo_reply(V: Vnet, m: Mbuf, off: number, icmp6len: number): void {
  const st = V.icmp6.stat;
  const b = m.m_buf;
  const o = m.m_data;
  const osrc = b.subarray(o + IP6_OFF_SRC, o + IP6_OFF_SRC + 16);
  const odst = b.subarray(o + IP6_OFF_DST, o + IP6_OFF_DST + 16);
  if (IN6_IS_ADDR_UNSPECIFIED(osrc) || IN6_IS_ADDR_MULTICAST(osrc)) return;
  const total = IP6_HDR_LEN + icmp6len;
  const r = V.mbufs.getm(total, 16);
  if (r === null) return;
  if (r.m_buf.length - r.m_data < total) {
    m_freem(r);
    return;
  }
  r.m_len = total;
  r.len = total;
  m_copydata(m, off, icmp6len, r.m_buf, r.m_data + IP6_HDR_LEN);
  r.m_buf[r.m_data + IP6_HDR_LEN] = ICMP6_ECHO_REPLY;
  const to = Uint8Array.from(osrc);
  // From the address the request was sent to, if it is one of ours (RFC 4443 §4.2: for a
  // multicast request, a unicast address of the receiving interface).
  const rcvif = m.rcvif;
  const from = !IN6_IS_ADDR_MULTICAST(odst) && V.inet6.isLocal(odst, 0, rcvif) ? Uint8Array.from(odst) : null;
  st.icp6s_reflect++;
  st.icp6s_outhist[ICMP6_ECHO_REPLY] = (st.icp6s_outhist[ICMP6_ECHO_REPLY] as number) + 1;
  const x = rcvif?.if_afdata.inet6 as { chlim?: number } | undefined;
  icmp6_send(V, r, from, to, rcvif, x?.chlim ?? V.inet6.hlim);
}

/**
 * Deliver an ICMPv6 error to the protocol of the quoted packet (icmp6_notify_error), and
 * learn the path MTU from Packet Too Big (RFC 8201 §4).
 */
function icmp6_notify_error(V: Vnet, m: Mbuf, off: number, icmp6len: number, type: number, code: number, cmd: number): void {
  const st = V.icmp6.stat;
  // The quoted packet: at least its IPv6 header.
  if (icmp6len < ICMP6_HDR_LEN + IP6_HDR_LEN) {
    st.icp6s_tooshort++;
    return;
  }
  const qlen = Math.min(icmp6len - ICMP6_HDR_LEN, m.len - off - ICMP6_HDR_LEN);
  const quoted = new Uint8Array(qlen);
  m_copydata(m, off + ICMP6_HDR_LEN, qlen, quoted, 0);
  if ((quoted[0] as number) >> 4 !== 6) {
    st.icp6s_badlen++;
    return;
  }
  const qsrc = quoted.subarray(IP6_OFF_SRC, IP6_OFF_SRC + 16);
  const qdst = quoted.subarray(IP6_OFF_DST, IP6_OFF_DST + 16);
  let mtu = 0;
  if (cmd === PRC_MSGSIZE) {
    mtu = get32(m.m_buf, m.m_data + off + 4);
    // RFC 8201 §4: never below the IPv6 minimum link MTU; only decreases count, and only
    // for packets we sent.
    if (mtu < IPV6_MMTU) mtu = IPV6_MMTU;
    const cur = ip6_mtu_for(V, qdst, m.rcvif);
    if (V.inet6.isLocal(qsrc, 0, null) && (cur === 0 || mtu < cur)) {
      V.hostcache.updateMtu(AF_INET6, 0, qdst, mtu);
      st.icp6s_pmtuchg++;
    } else {
      st.icp6s_pmtuignored++;
    }
  }
  // Walk the quoted packet's extension headers to its upper-layer protocol.
  let nxt = quoted[IP6_OFF_NXT] as number;
  let p = IP6_HDR_LEN;
  for (let n = 0; n < 16; n++) {
    if (nxt === IPPROTO_HOPOPTS || nxt === IPPROTO_ROUTING || nxt === IPPROTO_DSTOPTS || nxt === IPPROTO_AH) {
      if (p + 2 > qlen) return;
      const l = quoted[p + 1] as number;
      const next = quoted[p] as number;
      p += nxt === IPPROTO_AH ? (l + 2) << 2 : (l + 1) << 3;
      nxt = next;
    } else if (nxt === IPPROTO_FRAGMENT) {
      if (p + 8 > qlen) return;
      if (get16(quoted, p + 2) & 0xfff8) return;
      nxt = quoted[p] as number;
      p += 8;
    } else {
      break;
    }
  }
  const pr = V.inet6.protox[nxt];
  if (pr?.pr_ctlinput === undefined) return;
  const sport = p + 2 <= qlen ? get16(quoted, p) : 0;
  const dport = p + 4 <= qlen ? get16(quoted, p + 2) : 0;
  const zone = m.rcvif !== null && (IN6_IS_ADDR_LINKLOCAL(qdst) || IN6_IS_ADDR_LINKLOCAL(qsrc)) ? m.rcvif.if_index : 0;
  const ctl: CtlInput = {
    cmd,
    icmpType: type,
    icmpCode: code,
    mtu,
    family: AF_INET6,
    src: sockaddr_in6(qsrc, sport, zone),
    dst: sockaddr_in6(qdst, dport, zone),
    quoted,
    off: p,
  };
  pr.pr_ctlinput(ctl);
}

/** ICMPv6 error codes re-exported for callers that build errors (ip6_input, frag6, nd6). */
export {
  ICMP6_DST_UNREACH,
  ICMP6_DST_UNREACH_ADDR,
  ICMP6_DST_UNREACH_BEYONDSCOPE,
  ICMP6_DST_UNREACH_NOPORT,
  ICMP6_DST_UNREACH_NOROUTE,
  ICMP6_PACKET_TOO_BIG,
  ICMP6_PARAM_PROB,
  ICMP6_PARAMPROB_HEADER,
  ICMP6_PARAMPROB_NEXTHEADER,
  ICMP6_PARAMPROB_OPTION,
  ICMP6_TIME_EXCEED_REASSEMBLY,
  ICMP6_TIME_EXCEED_TRANSIT,
  ICMP6_TIME_EXCEEDED,
};
