/*
 * Neighbour solicitation and advertisement, and duplicate address detection (BSD
 * netinet6/nd6_nbr.c; RFC 4861 §7, RFC 4862 §5.4, RFC 7527).
 *
 * nd6_ns_input / nd6_na_input apply every validity check of RFC 4861 §7.1 (hop limit 255 —
 * the packet cannot have been forwarded —, code 0, length, target not multicast, the rules
 * for an unspecified source, well-formed options with link-layer addresses of the right
 * length); an invalid message is counted (icp6s_badns / icp6s_badna, icp6s_invlhlim,
 * icp6s_nd_badopt) and ignored. Valid solicitations for our addresses are answered (§7.2.4)
 * and teach us the sender's link-layer address; advertisements drive the neighbour cache
 * state machine of §7.2.5.
 *
 * DAD (RFC 4862 §5.4): a new address stays TENTATIVE while net.inet6.ip6.dad_count NS with
 * an unspecified source are sent one RetransTimer apart. Each carries a nonce option
 * (RFC 7527 §4.1) so a solicitation looped back to us is recognised. An NS from another node
 * doing DAD for the same address, or an NA for it, marks the address DUPLICATED (logged and
 * counted, icp6s_dad_duplicated); a duplicated link-local address derived from the hardware
 * address disables IPv6 on the interface (§5.4.5, ND6_IFF_IFDISABLED).
 */

import { type Mbuf, m_freem } from '../mbuf/mbuf.js';
import type { Ifnet } from '../net/if.js';
import type { Vnet } from '../vnet.js';
import { get32 } from '../wire/bytes.js';
import { ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT } from '../wire/icmp6.js';
import { IP6_HDR_LEN, IP6_OFF_DST, IP6_OFF_HLIM, IP6_OFF_SRC } from '../wire/ipv6.js';
import {
  in6addr_any,
  in6addr_linklocal_allnodes,
  IN6_IS_ADDR_LINKLOCAL,
  IN6_IS_ADDR_MULTICAST,
  IN6_IS_ADDR_UNSPECIFIED,
  in6_equal,
  in6_solicited_node,
  ntop6,
} from '../netinet/in.js';
import { icmp6_send } from './icmp6.js';
import { in6_selectsrc_ifa } from './in6_src.js';
import { IN6_IFF_ANYCAST, IN6_IFF_DUPLICATED, IN6_IFF_TENTATIVE, type In6Ifaddr, ND6_IFF_IFDISABLED } from './in6_var.js';
import { IPV6_UNSPECSRC } from './ip6_output.js';
import {
  type Llentry6,
  type Nd6Dad,
  ND6_LLINFO_INCOMPLETE,
  ND6_LLINFO_REACHABLE,
  nd6_cache_lladdr,
  nd6_flush_held,
  nd6_lladdr_off,
  nd6_options,
  nd6_set_reachable,
  nd6_set_stale,
} from './nd6.js';
import { nd6_defrouter_purge_addr } from './nd6_rtr.js';

export const ND_NA_FLAG_ROUTER = 0x80;
export const ND_NA_FLAG_SOLICITED = 0x40;
export const ND_NA_FLAG_OVERRIDE = 0x20;
const ND_OPT_SOURCE_LINKADDR = 1;
const ND_OPT_TARGET_LINKADDR = 2;
const ND_OPT_NONCE = 14;
const ND_NS_LEN = 24;
const ND_NA_LEN = 24;

/** Is `a` (at b[o]) a solicited-node multicast address ff02::1:ffxx:xxxx (RFC 4291 §2.7.1)? */
function isSolicitedNode(b: Uint8Array, o: number): boolean {
  if (b[o] !== 0xff || b[o + 1] !== 0x02) return false;
  for (let i = 2; i < 11; i++) if (b[o + i] !== 0) return false;
  return b[o + 11] === 0x01 && b[o + 12] === 0xff;
}

/** Build an ND message of `len` bytes after a 40-byte header room; null if no memory. */
function nd6_getm(V: Vnet, len: number): Mbuf | null {
  const total = IP6_HDR_LEN + len;
  const m = V.mbufs.getm(total, 16);
  if (m === null) return null;
  if (m.m_buf.length - m.m_data < total) {
    m_freem(m);
    return null;
  }
  m.m_len = total;
  m.len = total;
  m.m_buf.fill(0, m.m_data, m.m_data + total);
  return m;
}

/**
 * Send a neighbour solicitation for `taddr` on `ifp` (nd6_ns_output): to `daddr` (unicast
 * NUD probe) or to the target's solicited-node group; from `src` when it is ours on `ifp`,
 * else a selected source; with a nonce and an unspecified source for DAD.
 */
export function nd6_ns_output(V: Vnet, ifp: Ifnet, daddr: Uint8Array | null, taddr: Uint8Array, src: Uint8Array | null, nonce: Uint8Array | null): void {
  if (!ifp.up || ifp.if_lladdr.length !== 6) return;
  const dad = nonce !== null;
  let from: Uint8Array;
  if (dad) from = in6addr_any;
  else {
    let ia: In6Ifaddr | undefined;
    if (src !== null) {
      const x = V.inet6.ifaWithAddr(src, 0, ifp);
      if (x !== undefined && x.ifa_ifp === ifp && x.ready) ia = x;
    }
    if (ia === undefined) {
      const s = in6_selectsrc_ifa(V, taddr, ifp);
      if (s !== null && (s.ifa_ifp === ifp || !IN6_IS_ADDR_LINKLOCAL(s.addr))) ia = s;
    }
    if (ia === undefined) return; // RFC 4861 §7.2.2: no usable source on this link
    from = ia.addr;
  }
  const len = ND_NS_LEN + (dad ? 8 : 8);
  const m = nd6_getm(V, len);
  if (m === null) return;
  const b = m.m_buf;
  const p = m.m_data + IP6_HDR_LEN;
  b[p] = ND_NEIGHBOR_SOLICIT;
  b.set(taddr.subarray(0, 16), p + 8);
  if (dad) {
    // RFC 7527 §4.1: nonce option (no source link-layer address with ::, §7.2.2).
    b[p + ND_NS_LEN] = ND_OPT_NONCE;
    b[p + ND_NS_LEN + 1] = 1;
    b.set(nonce.subarray(0, 6), p + ND_NS_LEN + 2);
  } else {
    b[p + ND_NS_LEN] = ND_OPT_SOURCE_LINKADDR;
    b[p + ND_NS_LEN + 1] = 1;
    b.set(ifp.if_lladdr, p + ND_NS_LEN + 2);
  }
  const to = daddr ?? in6_solicited_node(taddr);
  V.icmp6.stat.icp6s_outhist[ND_NEIGHBOR_SOLICIT] = (V.icmp6.stat.icp6s_outhist[ND_NEIGHBOR_SOLICIT] as number) + 1;
  icmp6_send(V, m, from, to, ifp, 255, dad ? IPV6_UNSPECSRC : 0, false);
}

/**
 * Send a neighbour advertisement for our address `taddr` (nd6_na_output, RFC 4861 §7.2.4):
 * to `daddr`, or to all-nodes when it is unspecified (an answer to DAD: S clear).
 */
export function nd6_na_output(V: Vnet, ifp: Ifnet, daddr: Uint8Array, taddr: Uint8Array, flags: number, tlla: boolean): void {
  if (!ifp.up || ifp.if_lladdr.length !== 6) return;
  let to = daddr;
  if (IN6_IS_ADDR_UNSPECIFIED(daddr)) {
    to = in6addr_linklocal_allnodes;
    flags &= ~ND_NA_FLAG_SOLICITED;
  }
  const ia = V.inet6.ifaWithAddr(taddr, 0, ifp);
  let from: Uint8Array | null = ia?.ready && ia.ifa_ifp === ifp ? ia.addr : null;
  if (from === null) {
    const s = in6_selectsrc_ifa(V, to, ifp);
    if (s === null) return;
    from = s.addr;
  }
  const m = nd6_getm(V, ND_NA_LEN + (tlla ? 8 : 0));
  if (m === null) return;
  const b = m.m_buf;
  const p = m.m_data + IP6_HDR_LEN;
  b[p] = ND_NEIGHBOR_ADVERT;
  b[p + 4] = flags;
  b.set(taddr.subarray(0, 16), p + 8);
  if (tlla) {
    b[p + ND_NA_LEN] = ND_OPT_TARGET_LINKADDR;
    b[p + ND_NA_LEN + 1] = 1;
    b.set(ifp.if_lladdr, p + ND_NA_LEN + 2);
  }
  V.icmp6.stat.icp6s_outhist[ND_NEIGHBOR_ADVERT] = (V.icmp6.stat.icp6s_outhist[ND_NEIGHBOR_ADVERT] as number) + 1;
  icmp6_send(V, m, from, to, ifp, 255, 0, false);
}

/** Neighbour solicitation input (nd6_ns_input). `m` is contiguous; it is not consumed. */
export function nd6_ns_input(V: Vnet, m: Mbuf, off: number, icmp6len: number): void {
  const st = V.icmp6.stat;
  const ifp = m.rcvif as Ifnet;
  const b = m.m_buf;
  const o = m.m_data;
  const p = o + off;
  if (ifp.if_lladdr.length !== 6) return;
  // RFC 4861 §7.1.1 validity checks.
  if ((b[o + IP6_OFF_HLIM] as number) !== 255) {
    st.icp6s_invlhlim++;
    st.icp6s_badns++;
    return;
  }
  if ((b[p + 1] as number) !== 0 || icmp6len < ND_NS_LEN) {
    st.icp6s_badns++;
    return;
  }
  const src = b.subarray(o + IP6_OFF_SRC, o + IP6_OFF_SRC + 16);
  const target = b.subarray(p + 8, p + 24);
  if (IN6_IS_ADDR_MULTICAST(target)) {
    st.icp6s_badns++;
    return;
  }
  const unspec = IN6_IS_ADDR_UNSPECIFIED(src);
  if (unspec && !isSolicitedNode(b, o + IP6_OFF_DST)) {
    st.icp6s_badns++;
    return;
  }
  const opts = V.nd6.opts;
  if (!nd6_options(V, b, p + ND_NS_LEN, p + icmp6len, opts)) {
    st.icp6s_nd_badopt++;
    st.icp6s_badns++;
    return;
  }
  const lloff = nd6_lladdr_off(b, opts.slla, ifp);
  if (lloff === -2 || (unspec && lloff >= 0)) {
    st.icp6s_badns++;
    return;
  }
  // Not a neighbour: an NS from off-link is bogus (RFC 4861 §7.2.3 unless relaxed).
  if (!unspec && !V.nd6.onlink_ns_rfc4861 && !V.inet6.isOnlink(src, 0, ifp)) {
    st.icp6s_badns++;
    return;
  }
  const ia = V.inet6.ifaWithAddr(target, 0, ifp);
  if (ia === undefined || ia.ifa_ifp !== ifp) return; // not for us
  if (ia.flags & IN6_IFF_DUPLICATED) return;
  if (ia.flags & IN6_IFF_TENTATIVE) {
    // RFC 4862 §5.4.3: only another node's DAD (unspecified source) reveals a duplicate;
    // an address-resolution NS for a tentative address is ignored.
    if (unspec) nd6_dad_ns_input(V, ia, opts.nonce >= 0 ? b.subarray(opts.nonce + 2, opts.nonce + 8) : null);
    return;
  }
  // Our own solicitation looped back to us.
  if (!unspec && V.inet6.isLocal(src, 0, ifp) && lloff >= 0 && bytes6Equal(b, lloff, ifp.if_lladdr)) return;
  const router = V.inet6.forwarding ? ND_NA_FLAG_ROUTER : 0;
  const override = ia.flags & IN6_IFF_ANYCAST ? 0 : ND_NA_FLAG_OVERRIDE;
  if (unspec) {
    // §7.2.4: answer a DAD probe for an address we own to all-nodes, not solicited.
    nd6_na_output(V, ifp, in6addr_any, ia.addr, router | override, true);
    return;
  }
  nd6_cache_lladdr(V, ifp, Uint8Array.from(src), lloff >= 0 ? b : null, lloff, null);
  nd6_na_output(V, ifp, Uint8Array.from(src), ia.addr, router | override | ND_NA_FLAG_SOLICITED, true);
}

function bytes6Equal(b: Uint8Array, o: number, a: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (b[o + i] !== a[i]) return false;
  return true;
}

/** Neighbour advertisement input (nd6_na_input, RFC 4861 §7.2.5). Not consumed. */
export function nd6_na_input(V: Vnet, m: Mbuf, off: number, icmp6len: number): void {
  const st = V.icmp6.stat;
  const nd = V.nd6;
  const ifp = m.rcvif as Ifnet;
  const b = m.m_buf;
  const o = m.m_data;
  const p = o + off;
  if (ifp.if_lladdr.length !== 6) return;
  // §7.1.2 validity checks.
  if ((b[o + IP6_OFF_HLIM] as number) !== 255) {
    st.icp6s_invlhlim++;
    st.icp6s_badna++;
    return;
  }
  if ((b[p + 1] as number) !== 0 || icmp6len < ND_NA_LEN) {
    st.icp6s_badna++;
    return;
  }
  const flags = b[p + 4] as number;
  const isRouter = (flags & ND_NA_FLAG_ROUTER) !== 0;
  const solicited = (flags & ND_NA_FLAG_SOLICITED) !== 0;
  const override = (flags & ND_NA_FLAG_OVERRIDE) !== 0;
  const target = b.subarray(p + 8, p + 24);
  if (IN6_IS_ADDR_MULTICAST(target)) {
    st.icp6s_badna++;
    return;
  }
  if (IN6_IS_ADDR_MULTICAST(b, o + IP6_OFF_DST) && solicited) {
    st.icp6s_badna++;
    return;
  }
  const opts = nd.opts;
  if (!nd6_options(V, b, p + ND_NA_LEN, p + icmp6len, opts)) {
    st.icp6s_nd_badopt++;
    st.icp6s_badna++;
    return;
  }
  const lloff = nd6_lladdr_off(b, opts.tlla, ifp);
  if (lloff === -2) {
    st.icp6s_badna++;
    return;
  }
  // An advertisement for one of our addresses.
  const ia = V.inet6.ifaWithAddr(target, 0, ifp);
  if (ia !== undefined && ia.ifa_ifp === ifp) {
    if (ia.flags & IN6_IFF_TENTATIVE) {
      nd6_dad_na_input(V, ia);
      return;
    }
    if (lloff >= 0 && bytes6Equal(b, lloff, ifp.if_lladdr)) return; // our own, looped
    st.icp6s_dupaddr_defended++;
    nd.logf(`nd6_na_input: duplicate IP6 address ${ntop6(target)} on ${ifp.if_xname}`);
    return;
  }
  if (lloff >= 0 && bytes6Equal(b, lloff, ifp.if_lladdr)) return;
  const ln = nd.lookup(ifp, target, 0);
  if (ln === undefined || ln.permanent) return; // §7.2.5: no entry, silently discard
  nd6_na_update(V, ln, lloff >= 0 ? b : null, lloff, isRouter, solicited, override);
}

/** The §7.2.5 state transitions for an entry that received an advertisement. */
function nd6_na_update(V: Vnet, ln: Llentry6, lb: Uint8Array | null, lloff: number, isRouter: boolean, solicited: boolean, override: boolean): void {
  if (ln.state === ND6_LLINFO_INCOMPLETE) {
    if (lb === null) return; // no target link-layer address: nothing learned
    for (let i = 0; i < 6; i++) ln.lladdr[i] = lb[lloff + i] as number;
    ln.hasLladdr = true;
    if (solicited) nd6_set_reachable(ln);
    else nd6_set_stale(ln);
    ln.isrouter = isRouter;
    nd6_flush_held(ln);
    return;
  }
  let same = true;
  if (lb !== null) for (let i = 0; i < 6; i++) if (ln.lladdr[i] !== lb[lloff + i]) same = false;
  if (!override && lb !== null && !same) {
    // A different address without Override: only a REACHABLE entry is demoted (§7.2.5).
    if (ln.state === ND6_LLINFO_REACHABLE) nd6_set_stale(ln);
    return;
  }
  if (lb !== null && !same) {
    for (let i = 0; i < 6; i++) ln.lladdr[i] = lb[lloff + i] as number;
    ln.hasLladdr = true;
  }
  if (solicited) nd6_set_reachable(ln);
  else if (lb !== null && !same) nd6_set_stale(ln);
  if (ln.isrouter && !isRouter) {
    // The neighbour stopped being a router: forget it as a default router (§7.2.5).
    nd6_defrouter_purge_addr(V, ln.ifp, ln.addr);
  }
  ln.isrouter = isRouter;
}

// --- duplicate address detection (RFC 4862 §5.4) ---

/** Start DAD for a tentative address after `delayMs` (nd6_dad_start). */
export function nd6_dad_start(V: Vnet, ia: In6Ifaddr, delayMs: number): void {
  const nd = V.nd6;
  if (!(ia.flags & IN6_IFF_TENTATIVE) || nd.dadq.has(ia)) return;
  if (V.inet6.dad_count <= 0) {
    ia.flags &= ~IN6_IFF_TENTATIVE;
    return;
  }
  const nonce = V.rng.fill(new Uint8Array(6));
  const dp: Nd6Dad = { ia, count: 0, nsRecv: 0, naRecv: 0, nonce, timer: V.callwheel.callout<Nd6Dad>(), dead: false };
  nd.dadq.set(ia, dp);
  const tick = (d: Nd6Dad) => nd6_dad_timer(V, d);
  dp.timer.resetNs(Math.max(0, delayMs) * 1e6, tick, dp);
}

/** Stop DAD for an address that goes away (nd6_dad_stop). */
export function nd6_dad_stop(V: Vnet, ia: In6Ifaddr): void {
  const dp = V.nd6.dadq.get(ia);
  if (dp === undefined) return;
  dp.dead = true;
  dp.timer.stop();
  V.nd6.dadq.delete(ia);
}

function nd6_dad_timer(V: Vnet, dp: Nd6Dad): void {
  if (!dp.timer.ack() || dp.dead) return;
  const ia = dp.ia;
  const ifp = ia.ifa_ifp;
  if (ifp.if_dead || !V.inet6.addrs.includes(ia) || !(ia.flags & IN6_IFF_TENTATIVE)) {
    nd6_dad_stop(V, ia);
    return;
  }
  const x = V.inet6.ifextra(ifp);
  if (dp.count < V.inet6.dad_count) {
    dp.count++;
    dp.timer.resetNs(x.retrans * 1e6, (d: Nd6Dad) => nd6_dad_timer(V, d), dp);
    nd6_ns_output(V, ifp, null, ia.addr, null, dp.nonce);
    return;
  }
  // Every probe went unanswered for RetransTimer: the address is unique (§5.4.3).
  nd6_dad_stop(V, ia);
  ia.flags &= ~IN6_IFF_TENTATIVE;
  if (V.nd6.debug) V.nd6.logf(`${ifp.if_xname}: DAD complete for ${ntop6(ia.addr)} - no duplicates found`);
}

/** An NS from another node's DAD for our tentative address (nd6_dad_ns_input, RFC 7527). */
function nd6_dad_ns_input(V: Vnet, ia: In6Ifaddr, nonce: Uint8Array | null): void {
  const dp = V.nd6.dadq.get(ia);
  if (dp !== undefined && nonce !== null) {
    let mine = true;
    for (let i = 0; i < 6; i++) if (nonce[i] !== dp.nonce[i]) mine = false;
    if (mine) return; // our own probe, looped back (RFC 7527 §4.2)
  }
  if (dp !== undefined) dp.nsRecv++;
  nd6_dad_duplicated(V, ia, 'NS');
}

/** An NA for our tentative address: someone owns it (nd6_dad_na_input). */
function nd6_dad_na_input(V: Vnet, ia: In6Ifaddr): void {
  const dp = V.nd6.dadq.get(ia);
  if (dp !== undefined) dp.naRecv++;
  nd6_dad_duplicated(V, ia, 'NA');
}

/** Mark an address duplicated (nd6_dad_duplicated, RFC 4862 §5.4.5). */
function nd6_dad_duplicated(V: Vnet, ia: In6Ifaddr, why: string): void {
  const ifp = ia.ifa_ifp;
  const dp = V.nd6.dadq.get(ia);
  nd6_dad_stop(V, ia);
  ia.flags = (ia.flags & ~IN6_IFF_TENTATIVE) | IN6_IFF_DUPLICATED;
  V.icmp6.stat.icp6s_dad_duplicated++;
  V.nd6.logf(
    `${ifp.if_xname}: DAD detected duplicate IPv6 address ${ntop6(ia.addr)}: NS in/out/loopback=${dp?.nsRecv ?? 0}/${dp?.count ?? 0}/0, NA in=${dp?.naRecv ?? 0} (${why})`,
  );
  V.nd6.logf(`${ifp.if_xname}: DAD complete for ${ntop6(ia.addr)} - duplicate found`);
  V.nd6.logf(`${ifp.if_xname}: manual intervention required`);
  // §5.4.5: a duplicate link-local address formed from the hardware address means the
  // hardware address is duplicated: disable IPv6 on the interface.
  if (IN6_IS_ADDR_LINKLOCAL(ia.addr) && ifidFromHardware(ia.addr, ifp)) {
    V.inet6.ifextra(ifp).flags |= ND6_IFF_IFDISABLED;
    V.nd6.logf(`${ifp.if_xname}: possible hardware address duplication detected, disable IPv6`);
  }
}

function ifidFromHardware(a: Uint8Array, ifp: Ifnet): boolean {
  const l = ifp.if_lladdr;
  if (l.length !== 6) return false;
  return (
    a[8] === ((l[0] as number) ^ 0x02) &&
    a[9] === l[1] &&
    a[10] === l[2] &&
    a[11] === 0xff &&
    a[12] === 0xfe &&
    a[13] === l[3] &&
    a[14] === l[4] &&
    a[15] === l[5]
  );
}

/** @internal the advertisement flags of an NA at b[p] (tests). */
export function nd6_na_flags(b: Uint8Array, p: number): number {
  return get32(b, p + 4) >>> 24;
}

/** Is `a` our address on `ifp` (any state)? (tests and tools) */
export function nd6_is_our_target(V: Vnet, ifp: Ifnet, a: Uint8Array): boolean {
  const ia = V.inet6.ifaWithAddr(a, 0, ifp);
  return ia !== undefined && in6_equal(ia.addr, 0, a, 0);
}
