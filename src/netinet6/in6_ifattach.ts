/*
 * Per-interface IPv6 attach and detach (BSD netinet6/in6_ifattach.c; RFC 4291 App. A,
 * RFC 4862 §5.3).
 *
 * in6_ifattach() runs for every interface (the Vnet's attach hook, and once for the
 * interfaces that existed before IPv6 initialised): it creates the per-interface data
 * (ND parameters), gives lo0 ::1/128 and fe80::1/64, gives every other multicast-capable
 * interface with a 48-bit link-layer address a link-local address fe80::/64 + its EUI-64
 * interface identifier (when net.inet6.ip6.auto_linklocal) — tentative until DAD
 * succeeds —, and starts router solicitation when the interface accepts advertisements.
 * in6_ifdetach() removes everything IPv6 knows about an interface.
 */

import { IFF_LOOPBACK, IFF_MULTICAST, type Ifnet } from '../net/if.js';
import type { Vnet } from '../vnet.js';
import { in6addr_loopback } from '../netinet/in.js';
import { IN6_IFF_AUTOCONF, IN6_IFF_NODAD, type In6Ifaddr, ND6_IFF_ACCEPT_RTADV, ND6_IFF_AUTO_LINKLOCAL } from './in6_var.js';
import { MAX_RTR_SOLICITATION_DELAY } from './nd6.js';
import { nd6_dad_start, nd6_dad_stop } from './nd6_nbr.js';
import { in6_get_ifid, nd6_ra_disable, nd6_rs_start } from './nd6_rtr.js';

/** fe80::1, the link-local address of lo0. */
export const in6addr_lo0_linklocal = Uint8Array.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

/** The link-local address fe80::/64 + EUI-64 for an interface, or null (in6_get_hw_ifid). */
export function in6_linklocal_for(ifp: Ifnet): Uint8Array | null {
  const ifid = in6_get_ifid(ifp);
  if (ifid === null) return null;
  const a = new Uint8Array(16);
  a[0] = 0xfe;
  a[1] = 0x80;
  a.set(ifid, 8);
  return a;
}

/** Attach IPv6 to an interface (in6_ifattach + nd6_ifattach). */
export function in6_ifattach(V: Vnet, ifp: Ifnet): void {
  const inet6 = V.inet6;
  const x = inet6.ifextra(ifp);
  if (x.attached) return;
  x.attached = true;
  if (ifp.if_flags & IFF_LOOPBACK) {
    inet6.addAddress(ifp, in6addr_loopback, 128, IN6_IFF_NODAD);
    inet6.addAddress(ifp, in6addr_lo0_linklocal, 64, IN6_IFF_NODAD);
    return;
  }
  if (!(ifp.if_flags & IFF_MULTICAST)) return;
  if (x.flags & ND6_IFF_AUTO_LINKLOCAL) {
    const ll = in6_linklocal_for(ifp);
    if (ll !== null) inet6.addAddress(ifp, ll, 64);
  }
  if (x.flags & ND6_IFF_ACCEPT_RTADV && !inet6.forwarding) nd6_rs_start(V, ifp);
}

/** Detach IPv6 from an interface (in6_ifdetach). */
export function in6_ifdetach(V: Vnet, ifp: Ifnet): void {
  const nd = V.nd6;
  nd6_ra_disable(V, ifp, false);
  const rs = nd.rsState.get(ifp.if_index);
  if (rs !== undefined) {
    rs.done = true;
    rs.timer.stop();
    nd.rsState.delete(ifp.if_index);
  }
  for (const d of [...nd.defrouters]) {
    if (d.ifp !== ifp) continue;
    nd.defrouters.splice(nd.defrouters.indexOf(d), 1);
  }
  for (const p of [...nd.prefixes]) if (p.ifp === ifp) nd.prefixes.splice(nd.prefixes.indexOf(p), 1);
  nd.purgeIfp(ifp);
  V.inet6.purgeIfp(ifp);
  for (const rt of V.rt.inet6.all()) if (rt.nhop.nh_ifp === ifp) V.rt.del6(rt.dst, rt.plen);
  V.frag6.purgeIfp(ifp);
}

/** The address-added hook: duplicate address detection for tentative addresses. */
export function in6_addr_added(V: Vnet, ia: In6Ifaddr): void {
  // RFC 4862 §5.4.2: the first probe of an address configured at interface start-up or by
  // autoconfiguration waits a random 0..MAX_RTR_SOLICITATION_DELAY.
  const auto = ia.flags & IN6_IFF_AUTOCONF || (ia.addr[0] === 0xfe && ((ia.addr[1] as number) & 0xc0) === 0x80);
  const delay = auto ? Math.floor(V.rng.random() * MAX_RTR_SOLICITATION_DELAY * 1000) : 0;
  nd6_dad_start(V, ia, delay);
  V.nd6.armTimer();
}

/** The address-removed hook. */
export function in6_addr_removed(V: Vnet, ia: In6Ifaddr): void {
  nd6_dad_stop(V, ia);
}
