/*
 * Router and prefix discovery, stateless address autoconfiguration and redirects (BSD
 * netinet6/nd6_rtr.c, in6_ifattach.c's rtsol part, rtadvd's advertising side; RFC 4861 §6,
 * §8, RFC 4862 §5.5).
 *
 * Host side, when the interface accepts router advertisements (ND6_IFF_ACCEPT_RTADV, from
 * net.inet6.ip6.accept_rtadv when it attached) and the node is not a router:
 *   - router solicitations after attach (§6.3.7: a random delay up to
 *     MAX_RTR_SOLICITATION_DELAY, then up to MAX_RTR_SOLICITATIONS every
 *     RTR_SOLICITATION_INTERVAL, stopped by the first advertisement);
 *   - advertisements (§6.3.4, validated per §6.1.2) update CurHopLimit, BaseReachableTime,
 *     RetransTimer, the link MTU (MTU option, ≥ 1280 and ≤ the interface MTU), the default
 *     router list (a default route ::/0 through the router's link-local address), the prefix
 *     list (connected routes for on-link prefixes) and, for /64 prefixes with the A flag,
 *     autoconfigured addresses: prefix + the EUI-64 interface identifier, with the valid and
 *     preferred lifetime rules of RFC 4862 §5.5.3, the "two hours" rule (e) included;
 *   - nd6_rtr_timer expires routers, prefixes, addresses (valid lifetime) and deprecates
 *     addresses (preferred lifetime).
 * Redirects (§8) are accepted from the current first-hop router when
 * net.inet6.icmp6.rediraccept is set, as host routes that expire after redirtimeout.
 *
 * Router side (nd6_ra_enable): answers solicitations and sends periodic unsolicited
 * advertisements (§6.2.4-§6.2.6) with the configured prefixes, MTU and router lifetime.
 */

import type { Callout } from '../kern/kern_timeout.js';
import { type Mbuf, m_freem } from '../mbuf/mbuf.js';
import type { Ifnet } from '../net/if.js';
import { RTF_DYNAMIC, RTF_GATEWAY, RTF_MODIFIED, type Rtentry } from '../net/route.js';
import type { Vnet } from '../vnet.js';
import { get16, get32, set16, set32 } from '../wire/bytes.js';
import { ND_ROUTER_ADVERT, ND_ROUTER_SOLICIT } from '../wire/icmp6.js';
import { IP6_HDR_LEN, IP6_OFF_HLIM, IP6_OFF_SRC, IPV6_MMTU } from '../wire/ipv6.js';
import {
  in6addr_any,
  in6addr_linklocal_allnodes,
  in6addr_linklocal_allrouters,
  IN6_IS_ADDR_LINKLOCAL,
  IN6_IS_ADDR_MULTICAST,
  IN6_IS_ADDR_UNSPECIFIED,
  in6_equal,
  in6_prefix_mask,
  in6_prefix_match,
  ntop6,
} from '../netinet/in.js';
import { icmp6_send } from './icmp6.js';
import {
  IN6_IFF_AUTOCONF,
  IN6_IFF_DEPRECATED,
  IN6_IFF_DUPLICATED,
  IN6_IFF_TEMPORARY,
  type In6Ifaddr,
  ND6_IFF_ACCEPT_RTADV,
  ND6_IFF_NO_RADR,
  ND6_INFINITE_LIFETIME,
} from './in6_var.js';
import {
  MAX_INITIAL_RTR_ADVERT_INTERVAL,
  MAX_INITIAL_RTR_ADVERTISEMENTS,
  MAX_RA_DELAY_TIME,
  MAX_RTR_SOLICITATION_DELAY,
  MAX_RTR_SOLICITATIONS,
  MIN_DELAY_BETWEEN_RAS,
  nd6_cache_lladdr,
  nd6_compute_rtime,
  nd6_lladdr_off,
  nd6_options,
  RTR_SOLICITATION_INTERVAL,
} from './nd6.js';

const ND_RS_LEN = 8;
const ND_RA_LEN = 16;
const ND_REDIRECT_LEN = 40;
const ND_OPT_SOURCE_LINKADDR = 1;
const _ND_OPT_TARGET_LINKADDR = 2;
const ND_OPT_PREFIX_INFORMATION = 3;
const ND_OPT_MTU = 5;
const ND_OPT_PI_FLAG_ONLINK = 0x80;
const ND_OPT_PI_FLAG_AUTO = 0x40;
/** RFC 4862 §5.5.3(e): two hours. */
const TWO_HOURS = 7200;

/** An entry of the default router list (struct nd_defrouter). */
export interface Nd6Defrouter {
  ifp: Ifnet;
  addr: Uint8Array;
  /** Router lifetime (seconds) as advertised. */
  lifetime: number;
  /** Expiry (clock ns). */
  expire: number;
  /** The default route we installed through this router, if any. */
  installed: Rtentry | null;
}

/** An entry of the prefix list (struct nd_prefix). */
export interface Nd6Prefix {
  ifp: Ifnet;
  prefix: Uint8Array;
  plen: number;
  onlink: boolean;
  autonomous: boolean;
  vltime: number;
  pltime: number;
  /** Expiry of the on-link status (clock ns), 0 = never. */
  expire: number;
  /** The connected route we installed, if any. */
  route: Rtentry | null;
}

/** One prefix a router advertises. */
export interface Nd6RaPrefix {
  prefix: Uint8Array;
  plen: number;
  onlink: boolean;
  autonomous: boolean;
  /** Valid and preferred lifetimes (seconds; 0xffffffff = infinity). */
  valid: number;
  preferred: number;
}

/** Options of nd6_ra_enable (the AdvXxx variables of RFC 4861 §6.2.1). */
export interface Nd6RaOptions {
  prefixes: Nd6RaPrefix[];
  /** AdvLinkMTU (0/absent: no MTU option). */
  mtu?: number;
  /** AdvDefaultLifetime (seconds; default 3 × MaxRtrAdvInterval, capped at 9000). */
  lifetime?: number;
  /** MaxRtrAdvInterval (seconds, 4..1800; default 600). */
  interval?: number;
  /** AdvCurHopLimit (default net.inet6.ip6.hlim). */
  curhoplimit?: number;
  /** AdvReachableTime and AdvRetransTimer (ms; 0 = unspecified). */
  reachable?: number;
  retrans?: number;
}

/** Router-side state of one advertising interface. */
export interface Nd6RaConfig {
  ifp: Ifnet;
  opts: Nd6RaOptions;
  timer: Callout<Nd6RaConfig>;
  /** Unsolicited advertisements sent so far (for the initial burst). */
  sent: number;
  /** When the last multicast advertisement left (clock ns). */
  lastSent: number;
  /** A solicited response is scheduled. */
  responding: boolean;
}

/** Host-side router solicitation state (rtsol). */
export interface Nd6RsState {
  ifp: Ifnet;
  count: number;
  timer: Callout<Nd6RsState>;
  done: boolean;
}

/** The 64-bit EUI-64 interface identifier from a 48-bit MAC (RFC 4291 App. A), or null. */
export function in6_get_ifid(ifp: Ifnet): Uint8Array | null {
  const l = ifp.if_lladdr;
  if (l.length !== 6) return null;
  let zero = true;
  for (let i = 0; i < 6; i++) if (l[i] !== 0) zero = false;
  if (zero) return null;
  return Uint8Array.of((l[0] as number) ^ 0x02, l[1] as number, l[2] as number, 0xff, 0xfe, l[3] as number, l[4] as number, l[5] as number);
}

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

/** A ready link-local address of `ifp`, or null. */
function linklocalOf(V: Vnet, ifp: Ifnet): In6Ifaddr | null {
  return V.inet6.ifaOnIfp(ifp, true) ?? null;
}

// --- host side: router solicitation ---

/** Start soliciting routers on `ifp` (§6.3.7). */
export function nd6_rs_start(V: Vnet, ifp: Ifnet): void {
  const nd = V.nd6;
  const old = nd.rsState.get(ifp.if_index);
  if (old !== undefined) old.timer.stop();
  const st: Nd6RsState = { ifp, count: 0, timer: V.callwheel.callout<Nd6RsState>(), done: false };
  nd.rsState.set(ifp.if_index, st);
  const delay = Math.floor(V.rng.random() * MAX_RTR_SOLICITATION_DELAY * 1e9);
  st.timer.resetNs(delay, rsTick, st);
}

function rsTick(st: Nd6RsState): void {
  if (!st.timer.ack() || st.done) return;
  const ifp = st.ifp;
  const V = ifp.if_vnet;
  if (ifp.if_dead) return;
  const x = V.inet6.ifextra(ifp);
  if (!(x.flags & ND6_IFF_ACCEPT_RTADV) || V.inet6.forwarding) return;
  nd6_rs_output(V, ifp);
  st.count++;
  if (st.count < MAX_RTR_SOLICITATIONS) st.timer.resetNs(RTR_SOLICITATION_INTERVAL * 1e9, rsTick, st);
}

/** Send a router solicitation (from our link-local address if ready, else ::, §4.1). */
export function nd6_rs_output(V: Vnet, ifp: Ifnet): void {
  if (!ifp.up || ifp.if_lladdr.length !== 6) return;
  const ll = linklocalOf(V, ifp);
  const m = nd6_getm(V, ND_RS_LEN + (ll !== null ? 8 : 0));
  if (m === null) return;
  const b = m.m_buf;
  const p = m.m_data + IP6_HDR_LEN;
  b[p] = ND_ROUTER_SOLICIT;
  if (ll !== null) {
    b[p + ND_RS_LEN] = ND_OPT_SOURCE_LINKADDR;
    b[p + ND_RS_LEN + 1] = 1;
    b.set(ifp.if_lladdr, p + ND_RS_LEN + 2);
  }
  const st = V.icmp6.stat;
  st.icp6s_outhist[ND_ROUTER_SOLICIT] = (st.icp6s_outhist[ND_ROUTER_SOLICIT] as number) + 1;
  icmp6_send(V, m, ll !== null ? ll.addr : in6addr_any, in6addr_linklocal_allrouters, ifp, 255, ll !== null ? 0 : 0x01, false);
}

/** Router solicitation input (nd6_rs_input, §6.1.1, §6.2.6). Not consumed. */
export function nd6_rs_input(V: Vnet, m: Mbuf, off: number, icmp6len: number): void {
  const st = V.icmp6.stat;
  const ifp = m.rcvif as Ifnet;
  const cfg = V.nd6.raConfig.get(ifp.if_index);
  // Hosts silently discard solicitations (§6.2.6).
  if (cfg === undefined) return;
  const b = m.m_buf;
  const o = m.m_data;
  const p = o + off;
  if ((b[o + IP6_OFF_HLIM] as number) !== 255) {
    st.icp6s_invlhlim++;
    st.icp6s_badrs++;
    return;
  }
  if ((b[p + 1] as number) !== 0 || icmp6len < ND_RS_LEN) {
    st.icp6s_badrs++;
    return;
  }
  const opts = V.nd6.opts;
  if (!nd6_options(V, b, p + ND_RS_LEN, p + icmp6len, opts)) {
    st.icp6s_nd_badopt++;
    st.icp6s_badrs++;
    return;
  }
  const src = b.subarray(o + IP6_OFF_SRC, o + IP6_OFF_SRC + 16);
  const unspec = IN6_IS_ADDR_UNSPECIFIED(src);
  const lloff = nd6_lladdr_off(b, opts.slla, ifp);
  if (lloff === -2 || (unspec && lloff >= 0)) {
    st.icp6s_badrs++;
    return;
  }
  if (!unspec && lloff >= 0) nd6_cache_lladdr(V, ifp, Uint8Array.from(src), b, lloff, false);
  // §6.2.6: answer after a random delay, no sooner than MIN_DELAY_BETWEEN_RAS after the last.
  if (cfg.responding) return;
  const now = V.clock.now();
  let delay = Math.floor(V.rng.random() * MAX_RA_DELAY_TIME * 1e9);
  const earliest = cfg.lastSent + MIN_DELAY_BETWEEN_RAS * 1e9;
  if (now + delay < earliest) delay = earliest - now;
  cfg.responding = true;
  cfg.timer.resetNs(delay, raTick, cfg);
}

// --- host side: router advertisement processing ---

/** Router advertisement input (nd6_ra_input, §6.1.2, §6.3.4). Not consumed. */
export function nd6_ra_input(V: Vnet, m: Mbuf, off: number, icmp6len: number): void {
  const st = V.icmp6.stat;
  const nd = V.nd6;
  const ifp = m.rcvif as Ifnet;
  const b = m.m_buf;
  const o = m.m_data;
  const p = o + off;
  if (ifp.if_lladdr.length !== 6) return;
  if ((b[o + IP6_OFF_HLIM] as number) !== 255) {
    st.icp6s_invlhlim++;
    st.icp6s_badra++;
    return;
  }
  if (!IN6_IS_ADDR_LINKLOCAL(b, o + IP6_OFF_SRC) || (b[p + 1] as number) !== 0 || icmp6len < ND_RA_LEN) {
    st.icp6s_badra++;
    return;
  }
  const opts = nd.opts;
  if (!nd6_options(V, b, p + ND_RA_LEN, p + icmp6len, opts)) {
    st.icp6s_nd_badopt++;
    st.icp6s_badra++;
    return;
  }
  const lloff = nd6_lladdr_off(b, opts.slla, ifp);
  if (lloff === -2) {
    st.icp6s_badra++;
    return;
  }
  const x = V.inet6.ifextra(ifp);
  if (!(x.flags & ND6_IFF_ACCEPT_RTADV)) return;
  // Routers do not configure themselves from advertisements (RFC 4861 §6.2.7 consistency
  // checks aside) unless net.inet6.ip6.rfc6204w3.
  if (V.inet6.forwarding && !V.inet6.rfc6204w3) return;
  // Our own advertisement looped back.
  if (V.inet6.isLocal(b, o + IP6_OFF_SRC, ifp)) return;
  const src = Uint8Array.from(b.subarray(o + IP6_OFF_SRC, o + IP6_OFF_SRC + 16));
  const rs = nd.rsState.get(ifp.if_index);
  if (rs !== undefined) {
    rs.done = true;
    rs.timer.stop();
  }
  // Host variables (§6.3.4).
  const chlim = b[p + 4] as number;
  if (chlim !== 0) x.chlim = chlim;
  const reachable = get32(b, p + 8);
  if (reachable !== 0 && reachable <= 3_600_000 && reachable !== x.basereachable) {
    x.basereachable = reachable;
    x.reachable = nd6_compute_rtime(V, reachable);
    x.recalctm = V.clock.now() + 7200 * 1e9;
  }
  const retrans = get32(b, p + 12);
  if (retrans !== 0) x.retrans = retrans;
  // Source link-layer address: the router is a neighbour and a router.
  if (lloff >= 0) nd6_cache_lladdr(V, ifp, src, b, lloff, true);
  else {
    const ln = nd.lookup(ifp, src, 0);
    if (ln !== undefined) ln.isrouter = true;
  }
  // MTU option (§4.6.4): between 1280 and the interface MTU.
  if (opts.mtu >= 0) {
    if ((b[opts.mtu + 1] as number) !== 1) st.icp6s_nd_badopt++;
    else {
      const mtu = get32(b, opts.mtu + 4);
      if (mtu >= IPV6_MMTU && mtu <= ifp.if_mtu) x.linkmtu = mtu;
      else nd.logf(`nd6_ra_input: bogus mtu ${mtu} advertised on ${ifp.if_xname}`);
    }
  }
  // Default router list.
  const lifetime = get16(b, p + 6);
  if (!(x.flags & ND6_IFF_NO_RADR)) defrtr_update(V, ifp, src, lifetime);
  // Prefix information (§6.3.4, RFC 4862 §5.5.3).
  for (let i = 0; i < opts.npi; i++) prelist_update(V, ifp, b, opts.pi[i] as number);
  nd.armTimer();
}

/** Add, refresh or remove a default router, then (re)select the default route. */
function defrtr_update(V: Vnet, ifp: Ifnet, addr: Uint8Array, lifetime: number): void {
  const nd = V.nd6;
  const now = V.clock.now();
  const i = nd.defrouters.findIndex((d) => d.ifp === ifp && in6_equal(d.addr, 0, addr, 0));
  if (lifetime === 0) {
    if (i >= 0) defrtr_del(V, nd.defrouters[i] as Nd6Defrouter);
    return;
  }
  if (i >= 0) {
    const d = nd.defrouters[i] as Nd6Defrouter;
    d.lifetime = lifetime;
    d.expire = now + lifetime * 1e9;
  } else {
    if (nd.defrouters.length >= nd.maxdefrouters) {
      V.icmp6.stat.icp6s_overflowdefrtr++;
      return;
    }
    nd.defrouters.push({ ifp, addr: Uint8Array.from(addr), lifetime, expire: now + lifetime * 1e9, installed: null });
  }
  defrouter_select(V);
}

/** Remove a default router (and its default route) (defrtr_del). */
function defrtr_del(V: Vnet, d: Nd6Defrouter): void {
  const nd = V.nd6;
  const i = nd.defrouters.indexOf(d);
  if (i >= 0) nd.defrouters.splice(i, 1);
  if (d.installed !== null) {
    const cur = V.rt.get6(in6addr_any, 0);
    if (cur === d.installed) V.rt.del6(in6addr_any, 0);
    d.installed = null;
  }
  defrouter_select(V);
}

/** Forget a neighbour as a default router (it advertised R=0, §7.2.5). */
export function nd6_defrouter_purge_addr(V: Vnet, ifp: Ifnet, addr: Uint8Array): void {
  const d = V.nd6.defrouters.find((x) => x.ifp === ifp && in6_equal(x.addr, 0, addr, 0));
  if (d !== undefined) defrtr_del(V, d);
}

/**
 * Keep ::/0 pointing at the first router of the list (defrouter_select, §6.3.6): a static
 * default route of the administrator is never replaced.
 */
function defrouter_select(V: Vnet): void {
  const nd = V.nd6;
  const cur = V.rt.get6(in6addr_any, 0);
  const ours = cur !== undefined && nd.defrouters.some((d) => d.installed === cur);
  if (cur !== undefined && !ours) return;
  const want = nd.defrouters[0];
  if (cur !== undefined && want !== undefined && want.installed === cur) return;
  if (cur !== undefined) {
    V.rt.del6(in6addr_any, 0);
    for (const d of nd.defrouters) if (d.installed === cur) d.installed = null;
  }
  if (want === undefined) return;
  want.installed = V.rt.add6(in6addr_any, 0, { ifp: want.ifp, gateway: want.addr, flags: RTF_GATEWAY });
}

/** Process one prefix information option at b[opt] (prelist_update + SLAAC). */
function prelist_update(V: Vnet, ifp: Ifnet, b: Uint8Array, opt: number): void {
  const st = V.icmp6.stat;
  const nd = V.nd6;
  if ((b[opt + 1] as number) !== 4) {
    st.icp6s_nd_badopt++;
    return;
  }
  const plen = b[opt + 2] as number;
  const flags = b[opt + 3] as number;
  const vltime = get32(b, opt + 4);
  const pltime = get32(b, opt + 8);
  const prefix = in6_prefix_mask(Uint8Array.from(b.subarray(opt + 16, opt + 32)), Math.min(plen, 128));
  const onlink = (flags & ND_OPT_PI_FLAG_ONLINK) !== 0;
  const auto = (flags & ND_OPT_PI_FLAG_AUTO) !== 0;
  // RFC 4861 §6.3.4 / RFC 4862 §5.5.3 (a)-(c): sanity.
  if (plen > 128) {
    st.icp6s_nd_badopt++;
    return;
  }
  if (IN6_IS_ADDR_LINKLOCAL(prefix) || IN6_IS_ADDR_MULTICAST(prefix)) return;
  if (pltime > vltime) return;
  const now = V.clock.now();
  let pr = nd.prefixes.find((x) => x.ifp === ifp && x.plen === plen && in6_equal(x.prefix, 0, prefix, 0));
  if (onlink) {
    if (pr === undefined && vltime > 0) {
      if (nd.prefixes.length >= nd.maxprefixes) {
        st.icp6s_overflowprfx++;
      } else {
        pr = { ifp, prefix, plen, onlink: true, autonomous: auto, vltime, pltime, expire: 0, route: null };
        nd.prefixes.push(pr);
      }
    }
    if (pr !== undefined) {
      pr.vltime = vltime;
      pr.pltime = pltime;
      pr.autonomous = auto;
      pr.onlink = true;
      pr.expire = vltime === ND6_INFINITE_LIFETIME ? 0 : now + vltime * 1e9;
      if (vltime === 0) prelist_remove(V, pr);
      else if (pr.route === null && V.rt.get6(prefix, plen) === undefined) pr.route = V.rt.add6(prefix, plen, { ifp });
    }
  }
  if (!auto) return;
  // RFC 4862 §5.5.3(d): prefix length + interface identifier length must be 128.
  const ifid = in6_get_ifid(ifp);
  if (ifid === null) return;
  if (plen !== 64) {
    nd.logf(`nd6_ra_input: ${ifp.if_xname}: prefix ${ntop6(prefix)}/${plen} length mismatch with the 64-bit interface identifier`);
    return;
  }
  let ia: In6Ifaddr | undefined;
  for (const a of V.inet6.addrs) {
    if (a.ifa_ifp !== ifp || !(a.flags & IN6_IFF_AUTOCONF) || a.flags & IN6_IFF_TEMPORARY) continue;
    if (a.prefixlen === plen && in6_prefix_match(a.addr, 0, prefix, 0, plen)) {
      ia = a;
      break;
    }
  }
  if (ia === undefined) {
    // §5.5.3(d): form a new address if the valid lifetime is not 0.
    if (vltime === 0) return;
    const addr = new Uint8Array(16);
    addr.set(prefix.subarray(0, 8), 0);
    addr.set(ifid, 8);
    if (V.inet6.ifaWithAddr(addr, 0, ifp) !== undefined) return;
    const r = V.inet6.addAddress(ifp, addr, plen, IN6_IFF_AUTOCONF, { vltime, pltime, noprefixroute: true });
    if (r.error !== 0) nd.logf(`nd6_ra_input: ${ifp.if_xname}: cannot configure ${ntop6(addr)}: errno ${r.error}`);
    return;
  }
  if (ia.flags & IN6_IFF_DUPLICATED) return;
  // §5.5.3(e): lifetimes of an existing autoconfigured address, with the two-hour rule.
  const remaining = ia.expire === 0 ? Infinity : Math.max(0, (ia.expire - now) / 1e9);
  let newValid: number;
  if (vltime === ND6_INFINITE_LIFETIME || vltime > TWO_HOURS || vltime > remaining) newValid = vltime;
  else if (remaining <= TWO_HOURS) newValid = remaining === Infinity ? ND6_INFINITE_LIFETIME : Math.floor(remaining);
  else newValid = TWO_HOURS;
  const newPref = pltime === ND6_INFINITE_LIFETIME || newValid === ND6_INFINITE_LIFETIME ? pltime : Math.min(pltime, newValid);
  V.inet6.setLifetimes(ia, newValid, newPref);
}

function prelist_remove(V: Vnet, pr: Nd6Prefix): void {
  const nd = V.nd6;
  const i = nd.prefixes.indexOf(pr);
  if (i >= 0) nd.prefixes.splice(i, 1);
  if (pr.route !== null) {
    if (V.rt.get6(pr.prefix, pr.plen) === pr.route) V.rt.del6(pr.prefix, pr.plen);
    pr.route = null;
  }
}

/**
 * The lifetime scan (nd6_timer): expire default routers, prefixes, redirect routes and
 * addresses; deprecate addresses whose preferred lifetime ran out.
 */
export function nd6_rtr_timer(V: Vnet): void {
  const nd = V.nd6;
  const now = V.clock.now();
  for (const d of [...nd.defrouters]) if (d.expire > 0 && d.expire <= now) defrtr_del(V, d);
  for (const p of [...nd.prefixes]) if (p.expire > 0 && p.expire <= now) prelist_remove(V, p);
  for (const rt of V.rt.inet6.all()) if (rt.expire > 0 && rt.expire <= now) V.rt.del6(rt.dst, rt.plen);
  for (const ia of [...V.inet6.addrs]) {
    if (ia.expire > 0 && ia.expire <= now) {
      nd.logf(`${ia.ifa_ifp.if_xname}: address ${ntop6(ia.addr)} valid lifetime expired`);
      V.inet6.removeIfa(ia);
      continue;
    }
    if (ia.preferred > 0 && ia.preferred <= now) ia.flags |= IN6_IFF_DEPRECATED;
  }
}

// --- router side: advertisements ---

/**
 * Make `ifp` advertise itself as a router (rtadvd's job, RFC 4861 §6.2): join all-routers,
 * answer solicitations, and send MAX_INITIAL_RTR_ADVERTISEMENTS quickly then one every
 * MinRtrAdvInterval..MaxRtrAdvInterval seconds.
 */
export function nd6_ra_enable(V: Vnet, ifp: Ifnet, opts: Nd6RaOptions): void {
  const nd = V.nd6;
  nd6_ra_disable(V, ifp, false);
  const cfg: Nd6RaConfig = { ifp, opts, timer: V.callwheel.callout<Nd6RaConfig>(), sent: 0, lastSent: -1e18, responding: false };
  nd.raConfig.set(ifp.if_index, cfg);
  V.inet6.joinGroup(ifp, in6addr_linklocal_allrouters);
  // First advertisement shortly (a small random delay, like a solicited response).
  cfg.timer.resetNs(Math.floor(V.rng.random() * MAX_RA_DELAY_TIME * 1e9), raTick, cfg);
}

/** Stop advertising on `ifp`; a final advertisement with router lifetime 0 (§6.2.5). */
export function nd6_ra_disable(V: Vnet, ifp: Ifnet, final = true): void {
  const nd = V.nd6;
  const cfg = nd.raConfig.get(ifp.if_index);
  if (cfg === undefined) return;
  cfg.timer.stop();
  nd.raConfig.delete(ifp.if_index);
  V.inet6.leaveGroup(ifp, in6addr_linklocal_allrouters);
  if (final) nd6_ra_output(V, cfg, true);
}

function raInterval(V: Vnet, cfg: Nd6RaConfig): number {
  const max = Math.min(1800, Math.max(4, cfg.opts.interval ?? 600));
  const min = max >= 9 ? 0.33 * max : max;
  let t = min + V.rng.random() * (max - min);
  if (cfg.sent < MAX_INITIAL_RTR_ADVERTISEMENTS && t > MAX_INITIAL_RTR_ADVERT_INTERVAL) t = MAX_INITIAL_RTR_ADVERT_INTERVAL;
  return t;
}

function raTick(cfg: Nd6RaConfig): void {
  if (!cfg.timer.ack()) return;
  const ifp = cfg.ifp;
  const V = ifp.if_vnet;
  if (ifp.if_dead || V.nd6.raConfig.get(ifp.if_index) !== cfg) return;
  cfg.responding = false;
  nd6_ra_output(V, cfg, false);
  cfg.timer.resetNs(Math.floor(raInterval(V, cfg) * 1e9), raTick, cfg);
}

/** Send one advertisement to all-nodes (from our link-local address; none yet: skip). */
export function nd6_ra_output(V: Vnet, cfg: Nd6RaConfig, final: boolean): void {
  const ifp = cfg.ifp;
  if (!ifp.up || ifp.if_lladdr.length !== 6) return;
  const ll = linklocalOf(V, ifp);
  if (ll === null) return; // §6.2.2: a router's advertisements come from its link-local address
  const o = cfg.opts;
  const mtu = o.mtu ?? 0;
  const len = ND_RA_LEN + 8 + (mtu > 0 ? 8 : 0) + 32 * o.prefixes.length;
  const m = nd6_getm(V, len);
  if (m === null) return;
  const b = m.m_buf;
  const p = m.m_data + IP6_HDR_LEN;
  const maxInt = Math.min(1800, Math.max(4, o.interval ?? 600));
  const lifetime = final ? 0 : Math.min(9000, o.lifetime ?? 3 * maxInt);
  b[p] = ND_ROUTER_ADVERT;
  b[p + 4] = o.curhoplimit ?? V.inet6.hlim;
  b[p + 5] = 0; // M, O: no DHCPv6
  set16(b, p + 6, lifetime);
  set32(b, p + 8, o.reachable ?? 0);
  set32(b, p + 12, o.retrans ?? 0);
  let q = p + ND_RA_LEN;
  b[q] = ND_OPT_SOURCE_LINKADDR;
  b[q + 1] = 1;
  b.set(ifp.if_lladdr, q + 2);
  q += 8;
  if (mtu > 0) {
    b[q] = ND_OPT_MTU;
    b[q + 1] = 1;
    set32(b, q + 4, mtu);
    q += 8;
  }
  for (const pr of o.prefixes) {
    b[q] = ND_OPT_PREFIX_INFORMATION;
    b[q + 1] = 4;
    b[q + 2] = pr.plen;
    b[q + 3] = (pr.onlink ? ND_OPT_PI_FLAG_ONLINK : 0) | (pr.autonomous ? ND_OPT_PI_FLAG_AUTO : 0);
    set32(b, q + 4, pr.valid >>> 0);
    set32(b, q + 8, pr.preferred >>> 0);
    const pfx = in6_prefix_mask(Uint8Array.from(pr.prefix.subarray(0, 16)), pr.plen);
    b.set(pfx, q + 16);
    q += 32;
  }
  cfg.sent++;
  cfg.lastSent = V.clock.now();
  const st = V.icmp6.stat;
  st.icp6s_outhist[ND_ROUTER_ADVERT] = (st.icp6s_outhist[ND_ROUTER_ADVERT] as number) + 1;
  icmp6_send(V, m, ll.addr, in6addr_linklocal_allnodes, ifp, 255, 0, false);
}

// --- redirects (RFC 4861 §8) ---

/** Redirect input (nd6_redirect_input, §8.1 validation, §8.3 processing). Not consumed. */
export function nd6_redirect_input(V: Vnet, m: Mbuf, off: number, icmp6len: number): void {
  const st = V.icmp6.stat;
  const ifp = m.rcvif as Ifnet;
  const b = m.m_buf;
  const o = m.m_data;
  const p = o + off;
  if (!V.icmp6.rediraccept || V.inet6.forwarding || ifp.if_lladdr.length !== 6) return;
  if ((b[o + IP6_OFF_HLIM] as number) !== 255) {
    st.icp6s_invlhlim++;
    st.icp6s_badredirect++;
    return;
  }
  if (!IN6_IS_ADDR_LINKLOCAL(b, o + IP6_OFF_SRC) || (b[p + 1] as number) !== 0 || icmp6len < ND_REDIRECT_LEN) {
    st.icp6s_badredirect++;
    return;
  }
  const target = Uint8Array.from(b.subarray(p + 8, p + 24));
  const dst = Uint8Array.from(b.subarray(p + 24, p + 40));
  if (IN6_IS_ADDR_MULTICAST(dst)) {
    st.icp6s_badredirect++;
    return;
  }
  const onlink = in6_equal(target, 0, dst, 0);
  if (!onlink && !IN6_IS_ADDR_LINKLOCAL(target)) {
    st.icp6s_badredirect++;
    return;
  }
  const opts = V.nd6.opts;
  if (!nd6_options(V, b, p + ND_REDIRECT_LEN, p + icmp6len, opts)) {
    st.icp6s_nd_badopt++;
    st.icp6s_badredirect++;
    return;
  }
  const lloff = nd6_lladdr_off(b, opts.tlla, ifp);
  if (lloff === -2) {
    st.icp6s_badredirect++;
    return;
  }
  // §8.1: it must come from the current first-hop router for the destination.
  const cur = V.rt.inet6.lookup(dst, 0);
  if (cur === null || cur.nhop.nh_ifp !== ifp || !(cur.flags & RTF_GATEWAY) || cur.nhop.gw6 === null || !in6_equal(cur.nhop.gw6, 0, b, o + IP6_OFF_SRC)) {
    st.icp6s_badredirect++;
    return;
  }
  if (lloff >= 0) nd6_cache_lladdr(V, ifp, target, b, lloff, onlink ? null : true);
  const existing = V.rt.get6(dst, 128);
  if (existing !== undefined) {
    if (!(existing.flags & RTF_DYNAMIC)) return;
    V.rt.del6(dst, 128);
  }
  if (V.rt.inet6.all().filter((r) => r.flags & RTF_DYNAMIC).length >= 1024) {
    st.icp6s_overflowredirect++;
    return;
  }
  V.rt.add6(dst, 128, {
    ifp,
    gateway: onlink ? null : target,
    flags: RTF_DYNAMIC | RTF_MODIFIED,
    expire: V.icmp6.redirtimeout > 0 ? V.clock.now() + V.icmp6.redirtimeout * 1e9 : 0,
  });
  V.nd6.armTimer();
}

/** Turn accepting router advertisements on or off for one interface (ndp -i ifp [-]accept_rtadv). */
export function nd6_set_accept_rtadv(V: Vnet, ifp: Ifnet, on: boolean): void {
  const x = V.inet6.ifextra(ifp);
  if (on) {
    x.flags |= ND6_IFF_ACCEPT_RTADV;
    nd6_rs_start(V, ifp);
  } else {
    x.flags &= ~ND6_IFF_ACCEPT_RTADV;
    const rs = V.nd6.rsState.get(ifp.if_index);
    if (rs !== undefined) {
      rs.done = true;
      rs.timer.stop();
    }
  }
}
