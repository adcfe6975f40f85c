/*
 * IPv6 source address selection and scope handling (BSD netinet6/in6_src.c, scope6.c;
 * RFC 6724 §5, RFC 4007).
 *
 * in6_selectsrc() finds the outgoing interface for a destination — the scope zone for
 * link-local and interface-local destinations (the caller's scope_id, an interface index),
 * the loopback interface for ::1, the routing table otherwise — and then picks the best
 * source among our usable addresses with the RFC 6724 §5 rules, in order:
 *   1 prefer the same address, 2 prefer the appropriate scope, 3 avoid deprecated
 *   addresses, 5 prefer the outgoing interface, 6 prefer a matching label (the default
 *   policy table of §2.1), 7 prefer public over temporary addresses (unless
 *   net.inet6.ip6.prefer_tempaddr), 8 use the longest matching prefix.
 * Tentative, duplicated, detached and anycast addresses are never candidates; a link-local
 * source must belong to the outgoing interface (its zone).
 */

import { IFF_LOOPBACK, type Ifnet } from '../net/if.js';
import { NHF_REJECT, NHF_BLACKHOLE } from '../net/route.js';
import { EADDRNOTAVAIL, EHOSTUNREACH, ENETUNREACH } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_LOOPBACK, IN6_IS_ADDR_MULTICAST, IN6_IS_ADDR_V4MAPPED, in6_equal } from '../netinet/in.js';
import { IN6_IFF_ANYCAST, IN6_IFF_DEPRECATED, IN6_IFF_DETACHED, IN6_IFF_NOTREADY, IN6_IFF_TEMPORARY, type In6Ifaddr } from './in6_var.js';

// Address scopes (RFC 4291 §2.7, RFC 7346), as the multicast scope field encodes them.
export const IPV6_ADDR_SCOPE_NODELOCAL = 0x01;
export const IPV6_ADDR_SCOPE_INTFACELOCAL = 0x01;
export const IPV6_ADDR_SCOPE_LINKLOCAL = 0x02;
export const IPV6_ADDR_SCOPE_SITELOCAL = 0x05;
export const IPV6_ADDR_SCOPE_ORGLOCAL = 0x08;
export const IPV6_ADDR_SCOPE_GLOBAL = 0x0e;

/**
 * The scope of an address (in6_addrscope). Loopback counts as link-local for selection
 * (RFC 6724 §3.1); site-local unicast (deprecated, RFC 3879) as site scope.
 */
export function in6_addrscope(a: Uint8Array, o = 0): number {
  if (a[o] === 0xff) return (a[o + 1] as number) & 0x0f;
  if (a[o] === 0xfe) {
    const b1 = (a[o + 1] as number) & 0xc0;
    if (b1 === 0x80) return IPV6_ADDR_SCOPE_LINKLOCAL;
    if (b1 === 0xc0) return IPV6_ADDR_SCOPE_SITELOCAL;
  }
  if (IN6_IS_ADDR_LOOPBACK(a, o)) return IPV6_ADDR_SCOPE_LINKLOCAL;
  return IPV6_ADDR_SCOPE_GLOBAL;
}

/**
 * Does the destination need a zone (interface) to be meaningful: link-local unicast, and
 * interface- or link-local multicast (RFC 4007 §6)?
 */
export function in6_needs_zone(a: Uint8Array, o = 0): boolean {
  if (IN6_IS_ADDR_LINKLOCAL(a, o)) return true;
  if (a[o] === 0xff) {
    const s = (a[o + 1] as number) & 0x0f;
    return s === IPV6_ADDR_SCOPE_INTFACELOCAL || s === IPV6_ADDR_SCOPE_LINKLOCAL;
  }
  return false;
}

/** Number of leading bits in which a and b agree (in6_matchlen). */
export function in6_matchlen(a: Uint8Array, aoff: number, b: Uint8Array, boff: number): number {
  for (let i = 0; i < 16; i++) {
    const x = ((a[aoff + i] as number) ^ (b[boff + i] as number)) & 0xff;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

/** RFC 6724 §2.1 default policy table: [prefix bytes, plen, precedence, label]. */
const POLICY: readonly { p: Uint8Array; plen: number; prec: number; label: number }[] = [
  { p: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), plen: 128, prec: 50, label: 0 },
  { p: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]), plen: 96, prec: 35, label: 4 },
  { p: Uint8Array.from([0x20, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), plen: 16, prec: 30, label: 2 },
  { p: Uint8Array.from([0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), plen: 32, prec: 5, label: 5 },
  { p: Uint8Array.from([0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), plen: 7, prec: 3, label: 13 },
  { p: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), plen: 96, prec: 1, label: 3 },
  { p: Uint8Array.from([0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), plen: 10, prec: 1, label: 11 },
  { p: Uint8Array.from([0x3f, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), plen: 16, prec: 1, label: 12 },
];

/** The policy-table label of an address (RFC 6724 §2.1; longest match, ::/0 → 1). */
export function in6_label(a: Uint8Array, o = 0): number {
  let best = -1;
  let label = 1;
  for (const e of POLICY) {
    if (e.plen > best && in6_matchlen(e.p, 0, a, o) >= e.plen) {
      best = e.plen;
      label = e.label;
    }
  }
  return label;
}

export interface In6SelectResult {
  error: number;
  addr: Uint8Array | null;
  ifp: Ifnet | null;
}

/**
 * The outgoing interface for `dst` (in6_selectif): the zone for scoped destinations, lo0
 * for ::1, else the route's interface. Returns an errno with ifp null on failure.
 */
export function in6_selectif(V: Vnet, dst: Uint8Array, scope_id: number): { error: number; ifp: Ifnet | null } {
  if (IN6_IS_ADDR_V4MAPPED(dst)) return { error: EHOSTUNREACH, ifp: null };
  if (in6_needs_zone(dst)) {
    let ifp: Ifnet | undefined;
    if (scope_id !== 0) ifp = V.ifnet.byindex(scope_id);
    else if (V.inet6.use_defaultzone) ifp = V.ifnet.all().find((i) => !(i.if_flags & IFF_LOOPBACK) && i.up);
    if (ifp === undefined) return { error: EHOSTUNREACH, ifp: null };
    return { error: 0, ifp };
  }
  if (IN6_IS_ADDR_LOOPBACK(dst)) {
    if (V.loif === null) return { error: EHOSTUNREACH, ifp: null };
    return { error: 0, ifp: V.loif };
  }
  if (IN6_IS_ADDR_MULTICAST(dst) && scope_id !== 0) {
    const ifp = V.ifnet.byindex(scope_id);
    if (ifp !== undefined) return { error: 0, ifp };
  }
  const rt = V.rt.inet6.lookup(dst, 0);
  if (rt === null) return { error: EHOSTUNREACH, ifp: null };
  if (rt.nhop.nh_flags & (NHF_REJECT | NHF_BLACKHOLE)) return { error: ENETUNREACH, ifp: null };
  return { error: 0, ifp: rt.nhop.nh_ifp };
}

/**
 * Select a source address for `dst` (in6_selectsrc, RFC 6724 §5). `scope_id` is the
 * destination's zone (interface index) for link-local and interface-local destinations.
 */
export function in6_selectsrc(V: Vnet, dst: Uint8Array, scope_id: number): In6SelectResult {
  const sel = in6_selectif(V, dst, scope_id);
  if (sel.error !== 0 || sel.ifp === null) {
    V.inet6.stat.ip6s_noroute++;
    return { error: sel.error || EHOSTUNREACH, addr: null, ifp: null };
  }
  const ifp = sel.ifp;
  const ia = in6_selectsrc_ifa(V, dst, ifp);
  if (ia === null) {
    V.inet6.stat.ip6s_sources_none++;
    return { error: EADDRNOTAVAIL, addr: null, ifp };
  }
  return { error: 0, addr: Uint8Array.from(ia.addr), ifp };
}

/** The best source address for `dst` leaving through `ifp`, or null (the rule engine). */
export function in6_selectsrc_ifa(V: Vnet, dst: Uint8Array, ifp: Ifnet): In6Ifaddr | null {
  const inet6 = V.inet6;
  const dscope = in6_addrscope(dst);
  const dlabel = in6_label(dst);
  const dstIsLoop = IN6_IS_ADDR_LOOPBACK(dst) || (ifp.if_flags & IFF_LOOPBACK) !== 0;
  let best: In6Ifaddr | null = null;
  let bscope = 0;
  let bmatch = -1;
  const addrs = inet6.addrs;
  for (let i = 0; i < addrs.length; i++) {
    const ia = addrs[i] as In6Ifaddr;
    // Unusable candidates.
    if (ia.flags & (IN6_IFF_NOTREADY | IN6_IFF_ANYCAST | IN6_IFF_DETACHED)) continue;
    if (!inet6.use_deprecated && ia.flags & IN6_IFF_DEPRECATED) continue;
    const a = ia.addr;
    const ascope = in6_addrscope(a);
    // Zone check (RFC 4007 §9): a scoped source must sit in the outgoing zone.
    if (IN6_IS_ADDR_LOOPBACK(a)) {
      if (!dstIsLoop) continue;
    } else if (ascope === IPV6_ADDR_SCOPE_LINKLOCAL && ia.ifa_ifp !== ifp && !(ifp.if_flags & IFF_LOOPBACK)) {
      continue;
    }
    if (in6_needs_zone(dst) && ia.ifa_ifp !== ifp && !(ifp.if_flags & IFF_LOOPBACK)) continue;
    // Rule 1: the same address.
    if (in6_equal(a, 0, dst, 0)) return ia;
    if (best === null) {
      best = ia;
      bscope = ascope;
      bmatch = -1;
      continue;
    }
    const r = in6_cmp_candidates(inet6.prefer_tempaddr, best, bscope, ia, ascope, ifp, dscope, dlabel, dst, bmatch);
    if (r.replace) {
      best = ia;
      bscope = ascope;
    }
    bmatch = r.bmatch;
  }
  return best;
}

/** Compare the current best with a new candidate by RFC 6724 rules 2–8. */
function in6_cmp_candidates(
  prefertemp: boolean,
  best: In6Ifaddr,
  bscope: number,
  ia: In6Ifaddr,
  ascope: number,
  ifp: Ifnet,
  dscope: number,
  dlabel: number,
  dst: Uint8Array,
  bmatchIn: number,
): { replace: boolean; bmatch: number } {
  // Rule 2: prefer appropriate scope.
  if (bscope < ascope) {
    if (bscope < dscope) return { replace: true, bmatch: -1 };
    return { replace: false, bmatch: bmatchIn };
  }
  if (ascope < bscope) {
    if (ascope < dscope) return { replace: false, bmatch: bmatchIn };
    return { replace: true, bmatch: -1 };
  }
  // Rule 3: avoid deprecated addresses.
  const bdep = (best.flags & IN6_IFF_DEPRECATED) !== 0;
  const adep = (ia.flags & IN6_IFF_DEPRECATED) !== 0;
  if (bdep && !adep) return { replace: true, bmatch: -1 };
  if (adep && !bdep) return { replace: false, bmatch: bmatchIn };
  // Rule 5: prefer the outgoing interface.
  const bout = best.ifa_ifp === ifp;
  const aout = ia.ifa_ifp === ifp;
  if (aout && !bout) return { replace: true, bmatch: -1 };
  if (bout && !aout) return { replace: false, bmatch: bmatchIn };
  // Rule 6: prefer a matching label.
  const bl = in6_label(best.addr) === dlabel;
  const al = in6_label(ia.addr) === dlabel;
  if (al && !bl) return { replace: true, bmatch: -1 };
  if (bl && !al) return { replace: false, bmatch: bmatchIn };
  // Rule 7: prefer public (or temporary, when net.inet6.ip6.prefer_tempaddr) addresses.
  const btmp = (best.flags & IN6_IFF_TEMPORARY) !== 0;
  const atmp = (ia.flags & IN6_IFF_TEMPORARY) !== 0;
  if (btmp !== atmp) {
    const wantTmp = prefertemp;
    if (atmp === wantTmp) return { replace: true, bmatch: -1 };
    return { replace: false, bmatch: bmatchIn };
  }
  // Rule 8: longest matching prefix.
  const bmatch = bmatchIn >= 0 ? bmatchIn : in6_matchlen(best.addr, 0, dst, 0);
  const amatch = in6_matchlen(ia.addr, 0, dst, 0);
  if (amatch > bmatch) return { replace: true, bmatch: amatch };
  return { replace: false, bmatch };
}
