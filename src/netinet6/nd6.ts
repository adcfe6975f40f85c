/*
 * Neighbour discovery: the neighbour cache, the Ethernet resolver and the ND state of a
 * Vnet (BSD netinet6/nd6.c; RFC 4861 §5, §7.3, Appendix C).
 *
 * Nd6Vars owns everything ND keeps per Vnet: the neighbour cache, the DAD queue, the
 * default router list and prefix list (filled by nd6_rtr.ts), the router-advertisement
 * configuration of interfaces that act as routers, the ND tunables (FreeBSD's
 * net.inet6.icmp6.nd6_* sysctls) and a bounded log.
 *
 * Neighbour cache entries follow the Neighbour Unreachability Detection states of RFC 4861
 * §7.3.2, each driven by its own callout:
 *   INCOMPLETE  address resolution in progress: packets wait on a bounded hold queue
 *               (net.inet6.icmp6.nd6_maxqueuelen, the oldest dropped and counted); a
 *               multicast NS goes to the solicited-node group every RetransTimer, at most
 *               nd6_mmaxtries times; then the entry is freed and the first held packet draws
 *               an ICMPv6 address unreachable (§7.2.2);
 *   REACHABLE   confirmed within ReachableTime (randomised per §6.3.2): used as is, turns
 *               STALE when it runs out;
 *   STALE       used, but the first use moves it to DELAY; unused STALE entries are freed
 *               after net.inet6.icmp6.nd6_gctimer seconds;
 *   DELAY       wait nd6_delay seconds for an upper-layer confirmation, then PROBE;
 *   PROBE       unicast NS every RetransTimer, at most nd6_umaxtries times, then freed.
 * The cache is bounded (net.inet6.icmp6.nd6_maxentries; icp6s_overflownndp).
 */

import type { Callout } from '../kern/kern_timeout.js';
import { M_MCAST, type Mbuf, m_freem } from '../mbuf/mbuf.js';
import { ether_sprintf, type Ifnet } from '../net/if.js';
import { ether_output_frame, type LinkDst } from '../net/if_ethersubr.js';
import { EHOSTUNREACH, ENETDOWN, EWOULDBLOCK } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR } from '../wire/icmp6.js';
import { ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { ether_map_ip6_multicast, in6_equal, ntop6, type SockaddrIn6 } from '../netinet/in.js';
import { icmp6_error } from './icmp6.js';
import { IN6_IFF_DEPRECATED, type In6Ifaddr, type In6Ifextra, in6_hash, MAX_RANDOM_FACTOR, MIN_RANDOM_FACTOR, ND6_IFF_IFDISABLED } from './in6_var.js';
import { nd6_ns_output } from './nd6_nbr.js';
import type { Nd6Defrouter, Nd6Prefix, Nd6RaConfig, Nd6RsState } from './nd6_rtr.js';
import { nd6_rtr_timer } from './nd6_rtr.js';

// Neighbour cache states (netinet6/nd6.h ND6_LLINFO_*)
export const ND6_LLINFO_NOSTATE = -2;
export const ND6_LLINFO_INCOMPLETE = 0;
export const ND6_LLINFO_REACHABLE = 1;
export const ND6_LLINFO_STALE = 2;
export const ND6_LLINFO_DELAY = 3;
export const ND6_LLINFO_PROBE = 4;
export const ND6_STATE_NAMES: Readonly<Record<number, string>> = { [-2]: 'nostate', 0: 'incomplete', 1: 'reachable', 2: 'stale', 3: 'delay', 4: 'probe' };

// RFC 4861 §10 protocol constants
export const MAX_RTR_SOLICITATION_DELAY = 1; // s
export const RTR_SOLICITATION_INTERVAL = 4; // s
export const MAX_RTR_SOLICITATIONS = 3;
export const MAX_MULTICAST_SOLICIT = 3;
export const MAX_UNICAST_SOLICIT = 3;
export const DELAY_FIRST_PROBE_TIME = 5; // s
export const MAX_INITIAL_RTR_ADVERT_INTERVAL = 16; // s
export const MAX_INITIAL_RTR_ADVERTISEMENTS = 3;
export const MAX_FINAL_RTR_ADVERTISEMENTS = 3;
export const MIN_DELAY_BETWEEN_RAS = 3; // s
export const MAX_RA_DELAY_TIME = 0.5; // s
/** Re-randomise ReachableTime at least this often (ND_RECALC_REACHTM_INTERVAL, s). */
export const ND_RECALC_REACHTM_INTERVAL = 7200;

/** A neighbour cache entry (struct llentry for AF_INET6). */
export class Llentry6 {
  readonly V: Vnet;
  readonly ifp: Ifnet;
  readonly addr: Uint8Array;
  readonly hash: number;
  readonly lladdr = new Uint8Array(6);
  hasLladdr = false;
  state = ND6_LLINFO_INCOMPLETE;
  isrouter = false;
  /** Solicitations sent in the current state (ln_asked). */
  asked = 0;
  /** When the current state's timer runs out (clock ns), for tools. */
  expire = 0;
  /** Static entry (ndp -s): never expires, never probed. */
  permanent = false;
  holdHead: Mbuf | null = null;
  holdTail: Mbuf | null = null;
  holdCount = 0;
  readonly timer: Callout<Llentry6>;
  /** Freed: a late callout must find it dead. */
  dead = false;

  constructor(V: Vnet, ifp: Ifnet, addr: Uint8Array, off: number, hash: number) {
    this.V = V;
    this.ifp = ifp;
    this.addr = Uint8Array.from(addr.subarray(off, off + 16));
    this.hash = hash;
    this.timer = V.callwheel.callout<Llentry6>();
  }
}

/** Offsets of the options of one ND message (nd6_options), reused for every message. */
export class NdOpts {
  slla = -1;
  tlla = -1;
  mtu = -1;
  nonce = -1;
  rdhdr = -1;
  readonly pi: number[] = [];
  npi = 0;
  reset(): void {
    this.slla = this.tlla = this.mtu = this.nonce = this.rdhdr = -1;
    this.npi = 0;
  }
}

/** A DAD in progress (struct dadq). */
export interface Nd6Dad {
  ia: In6Ifaddr;
  /** NS sent so far, and NS/NA received that reveal a duplicate. */
  count: number;
  nsRecv: number;
  naRecv: number;
  nonce: Uint8Array;
  timer: Callout<Nd6Dad>;
  dead: boolean;
}

type IntKey = 'prune' | 'delay' | 'umaxtries' | 'mmaxtries' | 'maxnudhint' | 'maxqueuelen' | 'gctimer' | 'maxentries' | 'maxndopt';

export class Nd6Vars {
  readonly V: Vnet;
  /** net.inet6.icmp6.nd6_prune: lifetime/expiry scan granularity (seconds). */
  prune = 1;
  /** net.inet6.icmp6.nd6_delay: DELAY_FIRST_PROBE_TIME (seconds). */
  delay = DELAY_FIRST_PROBE_TIME;
  /** net.inet6.icmp6.nd6_umaxtries: MAX_UNICAST_SOLICIT. */
  umaxtries = MAX_UNICAST_SOLICIT;
  /** net.inet6.icmp6.nd6_mmaxtries: MAX_MULTICAST_SOLICIT. */
  mmaxtries = MAX_MULTICAST_SOLICIT;
  /** net.inet6.icmp6.nd6_useloopback: reach our own addresses through lo0. */
  useloopback = true;
  /** net.inet6.icmp6.nd6_maxnudhint: upper-layer hints accepted in a row (0 = unlimited). */
  maxnudhint = 0;
  /** net.inet6.icmp6.nd6_maxqueuelen: packets held per incomplete entry. */
  maxqueuelen = 16;
  /** net.inet6.icmp6.nd6_gctimer: lifetime of an unused STALE entry (seconds). */
  gctimer = 86400;
  /** net.inet6.icmp6.nd6_debug */
  debug = false;
  /** net.inet6.icmp6.nd6_onlink_ns_rfc4861: accept NS from non-neighbours (RFC 4861 §7.2.3 strictness). */
  onlink_ns_rfc4861 = false;
  /** net.inet6.icmp6.nd6_maxentries (bsdnet): bound of the neighbour cache. */
  maxentries = 16384;
  /** net.inet6.icmp6.nd6_maxndopt (bsdnet): options examined per message. */
  maxndopt = 10;
  /** Bounds of the default router list and prefix list (icp6s_overflowdefrtr/prfx). */
  maxdefrouters = 64;
  maxprefixes = 128;

  /** Neighbour cache: (address, interface) hash → entries. */
  private readonly table = new Map<number, Llentry6[]>();
  private count = 0;
  /** Duplicate address detection in progress, per address. */
  readonly dadq = new Map<In6Ifaddr, Nd6Dad>();
  /** Default router list (RFC 4861 §6.3.4). */
  readonly defrouters: Nd6Defrouter[] = [];
  /** Prefix list. */
  readonly prefixes: Nd6Prefix[] = [];
  /** Router side: interfaces that send advertisements. */
  readonly raConfig = new Map<number, Nd6RaConfig>();
  /** Host side: router solicitation state per interface. */
  readonly rsState = new Map<number, Nd6RsState>();
  /** Lifetime timer (nd6_timer): address, prefix and router expiry. */
  readonly timer: Callout<Nd6Vars>;
  /** Parse scratch. */
  readonly opts = new NdOpts();
  /** DAD results and other ND events worth a log line (bounded). */
  readonly log: string[] = [];
  readonly logmax = 100;

  constructor(V: Vnet) {
    this.V = V;
    this.timer = V.callwheel.callout<Nd6Vars>();
    const s = V.sysctl;
    s.node('net.inet6.icmp6', 'ICMP6');
    const int = (name: string, key: IntKey, descr: string, min: number, max: number) =>
      s.int(
        `net.inet6.icmp6.${name}`,
        {
          get: () => this[key],
          set: (v) => {
            this[key] = v;
          },
        },
        { descr, min, max },
      );
    int('nd6_prune', 'prune', 'Frequency in seconds of checks for expired prefixes and routers', 1, 3600);
    int('nd6_delay', 'delay', 'Delay in seconds before probing for reachability', 1, 3600);
    int('nd6_umaxtries', 'umaxtries', 'Number of ICMPv6 NS messages sent during reachability detection', 1, 100);
    int('nd6_mmaxtries', 'mmaxtries', 'Number of ICMPv6 NS messages sent during address resolution', 1, 100);
    int('nd6_maxnudhint', 'maxnudhint', 'Maximum number of upper-layer reachability hints', 0, 1 << 20);
    int('nd6_maxqueuelen', 'maxqueuelen', 'Maximum number of packets held per neighbour awaiting resolution', 1, 1024);
    int('nd6_gctimer', 'gctimer', 'Lifetime in seconds of an unused STALE neighbour entry', 1, 1 << 24);
    int('nd6_maxentries', 'maxentries', 'Maximum number of neighbour cache entries (bsdnet)', 1, 1 << 22);
    int('nd6_maxndopt', 'maxndopt', 'Maximum number of options examined in one ND message (bsdnet)', 1, 256);
    const bool = (name: string, key: 'useloopback' | 'debug' | 'onlink_ns_rfc4861', descr: string) =>
      s.bool(
        `net.inet6.icmp6.${name}`,
        {
          get: () => this[key],
          set: (v) => {
            this[key] = v;
          },
        },
        { descr },
      );
    bool('nd6_useloopback', 'useloopback', 'Create a loopback route when configuring an IPv6 address');
    bool('nd6_debug', 'debug', 'Log NDP debug messages');
    bool('nd6_onlink_ns_rfc4861', 'onlink_ns_rfc4861', 'Accept NS from off-link sources (RFC 4861 §7.2.3 behaviour)');
    s.struct('net.inet6.icmp6.nd6_list', () => this.list(), { descr: 'Neighbour cache (ndp -a)', type: 'nd6_entry' });
    s.struct(
      'net.inet6.icmp6.nd6_drlist',
      () =>
        this.defrouters.map((d) => ({
          ifname: d.ifp.if_xname,
          addr: ntop6(d.addr),
          lifetime: d.lifetime,
          expire_s: d.expire === 0 ? -1 : Math.max(0, Math.round((d.expire - V.clock.now()) / 1e9)),
        })),
      { descr: 'Default router list (ndp -r)', type: 'in6_defrouter' },
    );
    s.struct(
      'net.inet6.icmp6.nd6_prlist',
      () =>
        this.prefixes.map((p) => ({
          ifname: p.ifp.if_xname,
          prefix: ntop6(p.prefix),
          plen: p.plen,
          onlink: p.onlink,
          autonomous: p.autonomous,
          vltime: p.vltime,
          pltime: p.pltime,
        })),
      { descr: 'Prefix list (ndp -p)', type: 'in6_prefix' },
    );
  }

  logf(line: string): void {
    this.log.push(line);
    if (this.log.length > this.logmax) this.log.shift();
  }

  /** Number of neighbour cache entries. */
  get size(): number {
    return this.count;
  }

  private static key(ifp: Ifnet, a: Uint8Array, off: number): number {
    return (in6_hash(a, off) ^ Math.imul(ifp.if_index, 0x85ebca6b)) >>> 0;
  }

  /** The entry for (ifp, a[off..]) if any (nd6_lookup). */
  lookup(ifp: Ifnet, a: Uint8Array, off = 0): Llentry6 | undefined {
    const b = this.table.get(Nd6Vars.key(ifp, a, off));
    if (b === undefined) return undefined;
    for (let i = 0; i < b.length; i++) {
      const ln = b[i] as Llentry6;
      if (ln.ifp === ifp && in6_equal(ln.addr, 0, a, off)) return ln;
    }
    return undefined;
  }

  /** Create an entry (nd6_alloc); null when the cache is full and nothing can be evicted. */
  create(ifp: Ifnet, a: Uint8Array, off = 0): Llentry6 | null {
    if (this.count >= this.maxentries && !this.evictOne()) {
      this.V.icmp6.stat.icp6s_overflownndp++;
      return null;
    }
    const k = Nd6Vars.key(ifp, a, off);
    const ln = new Llentry6(this.V, ifp, a, off, k);
    let b = this.table.get(k);
    if (b === undefined) this.table.set(k, (b = []));
    b.push(ln);
    this.count++;
    return ln;
  }

  /** Make room by freeing an unused STALE entry (the cache is bounded). */
  private evictOne(): boolean {
    for (const b of this.table.values()) {
      for (const ln of b) {
        if (ln.state === ND6_LLINFO_STALE && !ln.permanent && ln.holdCount === 0 && !ln.isrouter) {
          this.V.icmp6.stat.icp6s_overflownndp++;
          this.free(ln);
          return true;
        }
      }
    }
    return false;
  }

  /** Free an entry and everything it holds (nd6_free). */
  free(ln: Llentry6): void {
    if (ln.dead) return;
    ln.dead = true;
    ln.timer.stop();
    this.dropHeld(ln, false);
    const b = this.table.get(ln.hash);
    if (b !== undefined) {
      const i = b.indexOf(ln);
      if (i >= 0) {
        b.splice(i, 1);
        this.count--;
      }
      if (b.length === 0) this.table.delete(ln.hash);
    }
  }

  /** Drop the hold queue (counted as icp6s_dropped when `count`). */
  dropHeld(ln: Llentry6, count: boolean): void {
    let m = ln.holdHead;
    ln.holdHead = ln.holdTail = null;
    ln.holdCount = 0;
    while (m !== null) {
      const n: Mbuf | null = m.m_nextpkt;
      m.m_nextpkt = null;
      m_freem(m);
      if (count) this.V.icmp6.stat.icp6s_dropped++;
      m = n;
    }
  }

  /** Every entry (for tools and tests). */
  entries(): Llentry6[] {
    const out: Llentry6[] = [];
    for (const b of this.table.values()) for (const ln of b) out.push(ln);
    return out;
  }

  list(): { ifname: string; addr: string; lladdr: string; state: string; isrouter: boolean; expire_s: number; held: number }[] {
    const now = this.V.clock.now();
    return this.entries().map((ln) => ({
      ifname: ln.ifp.if_xname,
      addr: ntop6(ln.addr),
      lladdr: ln.hasLladdr ? ether_sprintf(ln.lladdr) : '(incomplete)',
      state: ND6_STATE_NAMES[ln.state] ?? String(ln.state),
      isrouter: ln.isrouter,
      expire_s: ln.permanent ? -1 : Math.max(0, Math.round((ln.expire - now) / 1e9)),
      held: ln.holdCount,
    }));
  }

  /** Remove everything that belongs to an interface (detach). */
  purgeIfp(ifp: Ifnet): void {
    for (const ln of this.entries()) if (ln.ifp === ifp) this.free(ln);
    for (const [ia, dp] of [...this.dadq]) {
      if (ia.ifa_ifp === ifp) {
        dp.dead = true;
        dp.timer.stop();
        this.dadq.delete(ia);
      }
    }
  }

  /** Stop every timer and free every entry (instance teardown). */
  destroy(): void {
    for (const ln of this.entries()) this.free(ln);
    for (const dp of this.dadq.values()) {
      dp.dead = true;
      dp.timer.stop();
    }
    this.dadq.clear();
    for (const c of this.raConfig.values()) c.timer.stop();
    for (const r of this.rsState.values()) r.timer.stop();
    this.timer.stop();
  }

  /** Arm the lifetime timer for the next deadline (addresses, routers, prefixes). */
  armTimer(): void {
    const V = this.V;
    const now = V.clock.now();
    let next = Infinity;
    for (const ia of V.inet6.addrs) {
      if (ia.expire > 0 && ia.expire < next) next = ia.expire;
      if (ia.preferred > 0 && !(ia.flags & IN6_IFF_DEPRECATED) && ia.preferred < next) next = ia.preferred;
    }
    for (const d of this.defrouters) if (d.expire > 0 && d.expire < next) next = d.expire;
    for (const p of this.prefixes) if (p.expire > 0 && p.expire < next) next = p.expire;
    for (const rt of V.rt.inet6.all()) if (rt.expire > 0 && rt.expire < next) next = rt.expire;
    if (next === Infinity) {
      this.timer.stop();
      return;
    }
    // Round up to the nd6_prune granularity, as the periodic nd6_timer would.
    const delay = Math.max(0, next - now);
    this.timer.resetNs(delay, nd6TimerTick, this);
  }
}

function nd6TimerTick(nd: Nd6Vars): void {
  if (!nd.timer.ack()) return;
  nd6_rtr_timer(nd.V);
  nd.armTimer();
}

/** ReachableTime from BaseReachableTime (ND_COMPUTE_RTIME, RFC 4861 §6.3.2), ms. */
export function nd6_compute_rtime(V: Vnet, base: number): number {
  return Math.floor(base * (MIN_RANDOM_FACTOR + V.rng.random() * (MAX_RANDOM_FACTOR - MIN_RANDOM_FACTOR)));
}

/** The interface's ReachableTime, re-randomised every ND_RECALC_REACHTM_INTERVAL. */
function nd6_reachable(V: Vnet, ifp: Ifnet): number {
  const x = V.inet6.ifextra(ifp);
  const now = V.clock.now();
  if (now >= x.recalctm) {
    x.reachable = nd6_compute_rtime(V, x.basereachable);
    x.recalctm = now + ND_RECALC_REACHTM_INTERVAL * 1e9;
  }
  return x.reachable;
}

/** Arm an entry's timer for `ns` and record when it runs out. */
export function nd6_llinfo_settimer(ln: Llentry6, ns: number): void {
  ln.expire = ln.V.clock.now() + ns;
  ln.timer.resetNs(ns, nd6_llinfo_timer, ln);
}

/** Enter REACHABLE (confirmed reachability). */
export function nd6_set_reachable(ln: Llentry6): void {
  ln.state = ND6_LLINFO_REACHABLE;
  ln.asked = 0;
  if (!ln.permanent) nd6_llinfo_settimer(ln, nd6_reachable(ln.V, ln.ifp) * 1e6);
}

/** Enter STALE (unconfirmed): garbage-collected after nd6_gctimer unless used. */
export function nd6_set_stale(ln: Llentry6): void {
  ln.state = ND6_LLINFO_STALE;
  ln.asked = 0;
  if (!ln.permanent) nd6_llinfo_settimer(ln, ln.V.nd6.gctimer * 1e9);
}

/** The per-entry state machine (nd6_llinfo_timer). */
function nd6_llinfo_timer(ln: Llentry6): void {
  if (!ln.timer.ack() || ln.dead) return;
  const V = ln.V;
  const nd = V.nd6;
  const x = V.inet6.ifextra(ln.ifp);
  if (ln.ifp.if_dead) {
    nd.free(ln);
    return;
  }
  switch (ln.state) {
    case ND6_LLINFO_INCOMPLETE:
      if (ln.asked < nd.mmaxtries) {
        ln.asked++;
        nd6_llinfo_settimer(ln, x.retrans * 1e6);
        nd6_ns_output(V, ln.ifp, null, ln.addr, heldSource(ln), null);
      } else {
        // RFC 4861 §7.2.2: resolution failed: address unreachable for the queued packets.
        const m = ln.holdHead;
        if (m !== null) {
          ln.holdHead = m.m_nextpkt;
          if (ln.holdHead === null) ln.holdTail = null;
          ln.holdCount--;
          m.m_nextpkt = null;
          V.icmp6.stat.icp6s_dropped++;
          nd.dropHeld(ln, true);
          nd.free(ln);
          m.rcvif = ln.ifp;
          icmp6_error(V, m, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR, 0);
        } else {
          nd.free(ln);
        }
      }
      break;
    case ND6_LLINFO_REACHABLE:
      nd6_set_stale(ln);
      break;
    case ND6_LLINFO_STALE:
      // Unused for nd6_gctimer: garbage.
      nd.free(ln);
      break;
    case ND6_LLINFO_DELAY:
      // No upper-layer confirmation within DELAY_FIRST_PROBE_TIME: probe (§7.3.3).
      ln.state = ND6_LLINFO_PROBE;
      ln.asked = 1;
      nd6_llinfo_settimer(ln, x.retrans * 1e6);
      nd6_ns_output(V, ln.ifp, ln.addr, ln.addr, null, null);
      break;
    case ND6_LLINFO_PROBE:
      if (ln.asked < nd.umaxtries) {
        ln.asked++;
        nd6_llinfo_settimer(ln, x.retrans * 1e6);
        nd6_ns_output(V, ln.ifp, ln.addr, ln.addr, null, null);
      } else {
        nd.free(ln);
      }
      break;
    default:
      nd.free(ln);
  }
}

/** The source of the first held packet (RFC 4861 §7.2.2 prefers it for the NS). */
function heldSource(ln: Llentry6): Uint8Array | null {
  const m = ln.holdHead;
  if (m === null || m.m_len < 40) return null;
  return m.m_buf.subarray(m.m_data + 8, m.m_data + 24);
}

/** Send the packets an entry held once it resolved. */
export function nd6_flush_held(ln: Llentry6): void {
  let m = ln.holdHead;
  ln.holdHead = ln.holdTail = null;
  ln.holdCount = 0;
  while (m !== null) {
    const n: Mbuf | null = m.m_nextpkt;
    m.m_nextpkt = null;
    if (ln.ifp.up) ether_output_frame(ln.ifp, m, ln.lladdr, ETHERTYPE_IPV6);
    else m_freem(m);
    m = n;
  }
}

/**
 * Record a neighbour's link-layer address learned from an NS, RS, RA or redirect
 * (nd6_cache_lladdr, RFC 4861 §7.2.3, §6.2.6, §6.3.4, §8.3): create a STALE entry, or move
 * an existing one to STALE when the address changed; an INCOMPLETE entry sends its queue.
 * `isrouter`: true (RA), false (RS), null (unchanged).
 */
export function nd6_cache_lladdr(V: Vnet, ifp: Ifnet, from: Uint8Array, lladdr: Uint8Array | null, lloff: number, isrouter: boolean | null): Llentry6 | null {
  const nd = V.nd6;
  let ln = nd.lookup(ifp, from, 0) ?? null;
  if (ln === null) {
    if (lladdr === null) return null;
    ln = nd.create(ifp, from, 0);
    if (ln === null) return null;
    ln.isrouter = isrouter ?? false;
    for (let i = 0; i < 6; i++) ln.lladdr[i] = lladdr[lloff + i] as number;
    ln.hasLladdr = true;
    nd6_set_stale(ln);
    return ln;
  }
  if (isrouter !== null) ln.isrouter = isrouter;
  if (lladdr === null || ln.permanent) return ln;
  let changed = !ln.hasLladdr;
  if (!changed) for (let i = 0; i < 6; i++) if (ln.lladdr[i] !== lladdr[lloff + i]) changed = true;
  if (!changed) return ln;
  const wasIncomplete = ln.state === ND6_LLINFO_INCOMPLETE;
  for (let i = 0; i < 6; i++) ln.lladdr[i] = lladdr[lloff + i] as number;
  ln.hasLladdr = true;
  nd6_set_stale(ln);
  if (wasIncomplete) nd6_flush_held(ln);
  return ln;
}

/**
 * Upper-layer reachability confirmation (nd6_nud_hint, RFC 4861 §7.3.1): TCP calls this when
 * new data is acknowledged, which keeps an entry REACHABLE without probing.
 */
export function nd6_nud_hint(V: Vnet, ifp: Ifnet, addr: Uint8Array): void {
  const ln = V.nd6.lookup(ifp, addr, 0);
  if (ln === undefined || ln.state === ND6_LLINFO_INCOMPLETE || ln.permanent) return;
  nd6_set_reachable(ln);
}

/** Add a static neighbour entry (ndp -s). */
export function nd6_add_static(V: Vnet, ifp: Ifnet, addr: Uint8Array, lladdr: Uint8Array): Llentry6 | null {
  const nd = V.nd6;
  const old = nd.lookup(ifp, addr, 0);
  if (old !== undefined) nd.free(old);
  const ln = nd.create(ifp, addr, 0);
  if (ln === null) return null;
  ln.lladdr.set(lladdr.subarray(0, 6));
  ln.hasLladdr = true;
  ln.permanent = true;
  ln.state = ND6_LLINFO_REACHABLE;
  return ln;
}

/**
 * The Ethernet resolver for AF_INET6 (nd6_resolve): multicast maps to 33:33:xx:xx:xx:xx
 * (RFC 2464 §7); unicast goes through the neighbour cache. Returns 0 with `edst` filled,
 * EWOULDBLOCK when the packet was queued, or an errno after freeing it.
 */
export function nd6_resolve(ifp: Ifnet, m: Mbuf, dst: LinkDst, _ro: unknown, edst: Uint8Array): number {
  const a = (dst as SockaddrIn6).addr;
  if (m.m_flags & M_MCAST || a[0] === 0xff) {
    ether_map_ip6_multicast(a, 0, edst);
    m.m_flags |= M_MCAST;
    return 0;
  }
  const V = ifp.if_vnet;
  const nd = V.nd6;
  const x = ifp.if_afdata.inet6 as In6Ifextra | undefined;
  if (x !== undefined && x.flags & ND6_IFF_IFDISABLED) {
    m_freem(m);
    return ENETDOWN;
  }
  let ln = nd.lookup(ifp, a, 0);
  if (ln !== undefined && ln.state !== ND6_LLINFO_INCOMPLETE) {
    edst.set(ln.lladdr);
    // §7.3.3: the first use of a STALE entry starts the DELAY timer.
    if (ln.state === ND6_LLINFO_STALE && !ln.permanent) {
      ln.state = ND6_LLINFO_DELAY;
      ln.asked = 0;
      nd6_llinfo_settimer(ln, nd.delay * 1e9);
    }
    return 0;
  }
  if (ln === undefined) {
    const n = nd.create(ifp, a, 0);
    if (n === null) {
      m_freem(m);
      V.icmp6.stat.icp6s_dropped++;
      return EHOSTUNREACH;
    }
    ln = n;
    ln.state = ND6_LLINFO_INCOMPLETE;
    ln.asked = 0;
  }
  // Hold the packet (bounded; the oldest goes first, as FreeBSD does).
  m.m_nextpkt = null;
  if (ln.holdTail !== null) ln.holdTail.m_nextpkt = m;
  else ln.holdHead = m;
  ln.holdTail = m;
  ln.holdCount++;
  while (ln.holdCount > nd.maxqueuelen && ln.holdHead !== null) {
    const old = ln.holdHead;
    ln.holdHead = old.m_nextpkt;
    old.m_nextpkt = null;
    m_freem(old);
    ln.holdCount--;
    V.icmp6.stat.icp6s_dropped++;
  }
  if (ln.holdHead === null) ln.holdTail = null;
  // Start resolution: the first NS now, retransmissions from the timer.
  if (ln.asked === 0 && !ln.timer.pending()) {
    ln.asked = 1;
    const xi = V.inet6.ifextra(ifp);
    nd6_llinfo_settimer(ln, xi.retrans * 1e6);
    nd6_ns_output(V, ifp, null, ln.addr, heldSource(ln), null);
  }
  return EWOULDBLOCK;
}

/**
 * Parse the options of an ND message at b[start, end) into `out` (nd6_options, RFC 4861
 * §4.6). False when malformed: an option of length 0 or running past the end (the message
 * must then be discarded). Duplicated address options keep the first; more than
 * nd6_maxndopt options stop the scan (icp6s_nd_toomanyopt).
 */
export function nd6_options(V: Vnet, b: Uint8Array, start: number, end: number, out: NdOpts): boolean {
  out.reset();
  const nd = V.nd6;
  let p = start;
  let n = 0;
  while (p < end) {
    if (p + 2 > end) return false;
    const type = b[p] as number;
    const len = (b[p + 1] as number) << 3;
    if (len === 0 || p + len > end) return false;
    if (++n > nd.maxndopt) {
      V.icmp6.stat.icp6s_nd_toomanyopt++;
      break;
    }
    switch (type) {
      case 1: // ND_OPT_SOURCE_LINKADDR
        if (out.slla < 0) out.slla = p;
        break;
      case 2: // ND_OPT_TARGET_LINKADDR
        if (out.tlla < 0) out.tlla = p;
        break;
      case 3: // ND_OPT_PREFIX_INFORMATION
        if (out.npi < out.pi.length) out.pi[out.npi] = p;
        else out.pi.push(p);
        out.npi++;
        break;
      case 4: // ND_OPT_REDIRECTED_HEADER
        if (out.rdhdr < 0) out.rdhdr = p;
        break;
      case 5: // ND_OPT_MTU
        if (out.mtu < 0) out.mtu = p;
        break;
      case 14: // ND_OPT_NONCE
        if (out.nonce < 0) out.nonce = p;
        break;
      default:
        // Unknown options are skipped (RFC 4861 §4.6).
        break;
    }
    p += len;
  }
  return true;
}

/**
 * Validate a link-layer address option for `ifp` (the option must carry exactly the
 * interface's address length, RFC 4861 §4.6.1 / RFC 2464 §8). Returns the offset of the
 * address bytes, or -1 if absent, or -2 if the length is wrong.
 */
export function nd6_lladdr_off(b: Uint8Array, opt: number, ifp: Ifnet): number {
  if (opt < 0) return -1;
  const len = ((b[opt + 1] as number) << 3) - 2;
  const alen = ifp.if_lladdr.length;
  if (alen === 0 || len < alen || len > ((alen + 2 + 7) & ~7) - 2) return -2;
  return opt + 2;
}
