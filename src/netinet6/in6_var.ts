/*
 * IPv6 per-Vnet state and interface addresses (BSD netinet6/in6_var.h, in6.c, ip6_var.h,
 * nd6.h's struct nd_ifinfo).
 *
 * Inet6Vars holds what FreeBSD keeps in VNET globals for IPv6: the statistics block
 * (struct ip6stat), the tunables (net.inet6.ip6.*), the interface addresses (struct
 * in6_ifaddr, with the IN6_IFF_* flags and lifetimes of RFC 4862), the per-interface data
 * (struct in6_ifextra: the ND parameters and the multicast groups joined), and the
 * transport input table (ip6_protox).
 *
 * Adding an address (in6_update_ifa) installs the connected route for its prefix and a
 * host route through lo0, joins its solicited-node group (RFC 4291 §2.7.1), and runs the
 * address-added hooks: neighbour discovery registers one that starts duplicate address
 * detection (RFC 4862 §5.4). A tentative or duplicated address is not "ours": isLocal()
 * and source selection ignore it.
 *
 * Link-local addresses are scoped to their interface (RFC 4007): they get no routes, and
 * every lookup that concerns them takes the interface into account.
 */

import type { Ifaddr, Ifnet } from '../net/if.js';
import { IFF_LOOPBACK, IFF_MULTICAST, IFF_POINTOPOINT } from '../net/if.js';
import { RTF_GATEWAY, RTF_LOCAL, RTF_PINNED, RTF_STATIC } from '../net/route.js';
import { EADDRNOTAVAIL, EEXIST, EINVAL } from '../sys/errno.js';
import type { Protosw } from '../sys/protosw.js';
import type { Vnet } from '../vnet.js';
import {
  AF_INET6,
  ether_map_ip6_multicast,
  IN6_IS_ADDR_LINKLOCAL,
  IN6_IS_ADDR_LOOPBACK,
  IN6_IS_ADDR_MULTICAST,
  IN6_IS_ADDR_UNSPECIFIED,
  in6_equal,
  in6_prefix_mask,
  in6_prefix_match,
  in6_solicited_node,
  ntop6,
  type SockaddrIn6,
} from '../netinet/in.js';

// in6_ifaddr flags (netinet6/in6_var.h)
export const IN6_IFF_ANYCAST = 0x01; // anycast address
export const IN6_IFF_TENTATIVE = 0x02; // tentative address (DAD in progress)
export const IN6_IFF_DUPLICATED = 0x04; // DAD detected a duplicate
export const IN6_IFF_DETACHED = 0x08; // may be detached from the link
export const IN6_IFF_DEPRECATED = 0x10; // preferred lifetime expired
export const IN6_IFF_NODAD = 0x20; // don't perform DAD on this address
export const IN6_IFF_AUTOCONF = 0x40; // autoconfigurable address (SLAAC)
export const IN6_IFF_TEMPORARY = 0x80; // temporary (anonymous) address, RFC 8981
export const IN6_IFF_PREFER_SOURCE = 0x0100; // preferred source address
export const IN6_IFF_NOTREADY = IN6_IFF_TENTATIVE | IN6_IFF_DUPLICATED;

// nd_ifinfo flags (netinet6/nd6.h)
export const ND6_IFF_PERFORMNUD = 0x1;
export const ND6_IFF_ACCEPT_RTADV = 0x2;
export const ND6_IFF_PREFER_SOURCE = 0x4;
export const ND6_IFF_IFDISABLED = 0x8;
export const ND6_IFF_DONT_SET_IFROUTE = 0x10;
export const ND6_IFF_AUTO_LINKLOCAL = 0x20;
export const ND6_IFF_NO_RADR = 0x40;
export const ND6_IFF_NO_PREFER_IFACE = 0x80;
export const ND6_IFF_NO_DAD = 0x100;

/** Infinite lifetime (RFC 4861 §4.6.2: all ones). */
export const ND6_INFINITE_LIFETIME = 0xffffffff;

// RFC 4861 §10 protocol constants (node side)
export const REACHABLE_TIME = 30000; // ms
export const RETRANS_TIMER = 1000; // ms
export const MIN_RANDOM_FACTOR = 0.5;
export const MAX_RANDOM_FACTOR = 1.5;

/** ff02::1, ff01::1 and the other well-known groups (RFC 4291 §2.7.1). */
export const in6addr_nodelocal_allnodes = Uint8Array.from([0xff, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
export const in6addr_linklocal_allv2routers = Uint8Array.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16]);

/** An IPv6 address on an interface (struct in6_ifaddr). */
export class In6Ifaddr implements Ifaddr {
  readonly ifa_ifp: Ifnet;
  readonly family = AF_INET6;
  readonly addr: Uint8Array;
  readonly prefixlen: number;
  dstaddr: Uint8Array | null = null;
  /** IN6_IFF_* flags (ia6_flags). */
  flags: number;
  /** The prefix (address masked to prefixlen). */
  readonly prefix: Uint8Array;
  /** Lifetimes in seconds as configured (ia6_lifetime.ia6t_vltime/pltime). */
  vltime: number = ND6_INFINITE_LIFETIME;
  pltime: number = ND6_INFINITE_LIFETIME;
  /** Absolute expiry of the valid and preferred lifetimes (clock ns); 0 = infinite. */
  expire = 0;
  preferred = 0;
  /** When the address was created and last updated (clock ns). */
  createtime = 0;
  updatetime = 0;
  /** Hash of the address (bucket key). */
  readonly hash: number;

  constructor(ifp: Ifnet, addr: Uint8Array, plen: number, flags: number) {
    this.ifa_ifp = ifp;
    this.addr = Uint8Array.from(addr.subarray(0, 16));
    this.prefixlen = plen;
    this.flags = flags;
    this.prefix = in6_prefix_mask(Uint8Array.from(this.addr), plen);
    this.hash = in6_hash(this.addr, 0);
  }

  /** Usable as a source and as a destination of ours (not tentative, duplicated, detached). */
  get ready(): boolean {
    return (this.flags & (IN6_IFF_NOTREADY | IN6_IFF_DETACHED)) === 0;
  }

  toString(): string {
    return `${ntop6(this.addr)}/${this.prefixlen}`;
  }
}

/** Cheap 32-bit hash of an address (no allocation) for the address buckets. */
export function in6_hash(a: Uint8Array, o: number): number {
  const lo = (((a[o + 12] as number) << 24) | ((a[o + 13] as number) << 16) | ((a[o + 14] as number) << 8) | (a[o + 15] as number)) >>> 0;
  return (lo ^ Math.imul((a[o + 8] as number) | ((a[o + 11] as number) << 8), 0x9e3779b1)) >>> 0;
}

/** A multicast group joined on an interface (struct in6_multi), reference counted. */
export interface In6Multi {
  addr: Uint8Array;
  refcnt: number;
}

/**
 * Per-interface IPv6 data (struct in6_ifextra): neighbour-discovery parameters (struct
 * nd_ifinfo, RFC 4861 §6.3.2 host variables) and the multicast groups joined.
 */
export class In6Ifextra {
  /** MTU learned from router advertisements (0: use the interface MTU). */
  linkmtu = 0;
  /** BaseReachableTime (ms). */
  basereachable = REACHABLE_TIME;
  /** ReachableTime (ms), re-randomised from basereachable (RFC 4861 §6.3.2). */
  reachable = REACHABLE_TIME;
  /** RetransTimer (ms). */
  retrans = RETRANS_TIMER;
  /** CurHopLimit from router advertisements. */
  chlim = 64;
  /** ND6_IFF_* */
  flags = ND6_IFF_PERFORMNUD | ND6_IFF_AUTO_LINKLOCAL;
  /** Next time (clock ns) to re-randomise ReachableTime. */
  recalctm = 0;
  /** Multicast groups joined (ff02::1 is implicit and always joined). */
  readonly groups: In6Multi[] = [];
  /** in6_ifattach ran for this interface. */
  attached = false;
}

/** IPv6 statistics (struct ip6stat, netinet6/ip6_var.h), FreeBSD names. */
export class Ip6Stat {
  ip6s_total = 0; // total packets received
  ip6s_tooshort = 0; // packet too short
  ip6s_toosmall = 0; // not enough data
  ip6s_fragments = 0; // fragments received
  ip6s_fragdropped = 0; // frags dropped (dups, out of space)
  ip6s_fragtimeout = 0; // fragments timed out
  ip6s_fragoverflow = 0; // fragments that exceeded limit
  ip6s_forward = 0; // packets forwarded
  ip6s_cantforward = 0; // packets rcvd for unreachable dest
  ip6s_redirectsent = 0; // packets forwarded on same net
  ip6s_delivered = 0; // datagrams delivered to upper level
  ip6s_localout = 0; // total ip packets generated here
  ip6s_odropped = 0; // lost packets due to nobufs, etc.
  ip6s_reassembled = 0; // total packets reassembled ok
  ip6s_atomicfrags = 0; // atomic fragments received (RFC 6946)
  ip6s_fragmented = 0; // datagrams successfully fragmented
  ip6s_ofragments = 0; // output fragments created
  ip6s_cantfrag = 0; // don't fragment flag was set, etc.
  ip6s_badoptions = 0; // error in option processing
  ip6s_noroute = 0; // packets discarded due to no route
  ip6s_badvers = 0; // ip6 version != 6
  ip6s_rawout = 0; // total raw ip packets generated
  ip6s_badscope = 0; // scope error
  ip6s_notmember = 0; // don't join this multicast group
  ip6s_nxthist = new Array<number>(256).fill(0); // next header histogram
  ip6s_m1 = 0; // one mbuf
  ip6s_mext1 = 0; // one ext mbuf
  ip6s_mext2m = 0; // two or more ext mbufs
  ip6s_exthdrtoolong = 0; // ext hdr are not contiguous
  ip6s_nogif = 0; // no match gif found
  ip6s_toomanyhdr = 0; // discarded due to too many headers
  ip6s_sources_none = 0; // no source address selected
  ip6s_forward_cachehit = 0;
  ip6s_forward_cachemiss = 0;
  /** bsdnet: packets for an unsupported next header (FreeBSD counts these in rip6stat). */
  ip6s_noproto = 0;
  /** bsdnet: source or destination address not allowed (multicast source, loopback from a wire...). */
  ip6s_badaddr = 0;
  /** bsdnet: routing header type 0 refused (RFC 5095). */
  ip6s_rthdr0 = 0;
}

/** The hooks neighbour discovery and the protocols register with IPv6. */
export interface Inet6Hooks {
  /** After an address is added (DAD starts here). */
  addrAdded: ((ia: In6Ifaddr) => void)[];
  /** Before an address is removed. */
  addrRemoved: ((ia: In6Ifaddr) => void)[];
}

export interface AddAddress6Opts {
  /** Valid and preferred lifetimes in seconds (ND6_INFINITE_LIFETIME: forever). */
  vltime?: number;
  pltime?: number;
  /** Do not install the connected (prefix) route. */
  noprefixroute?: boolean;
}

type BoolKey =
  | 'forwarding'
  | 'sendredirects'
  | 'accept_rtadv'
  | 'no_radr'
  | 'use_tempaddr'
  | 'prefer_tempaddr'
  | 'auto_linklocal'
  | 'use_deprecated'
  | 'v6only'
  | 'auto_flowlabel'
  | 'use_defaultzone'
  | 'mcast_pmtu'
  | 'rfc6204w3';

type IntKey = 'hlim' | 'dad_count' | 'hdrnestlimit' | 'defmcasthlim' | 'temppltime' | 'tempvltime' | 'log_interval';

export class Inet6Vars {
  readonly V: Vnet;
  readonly stat = new Ip6Stat();
  /** net.inet6.ip6.forwarding: act as a router (RFC 8200, RFC 4861 §6.2). */
  forwarding = false;
  /** net.inet6.ip6.redirect: send ICMPv6 redirects when forwarding back out the same link. */
  sendredirects = true;
  /** net.inet6.ip6.hlim: default hop limit. */
  hlim = 64;
  /** net.inet6.ip6.accept_rtadv: default of ND6_IFF_ACCEPT_RTADV for new interfaces. */
  accept_rtadv = false;
  /** net.inet6.ip6.no_radr: do not install a default route from RAs. */
  no_radr = false;
  /** net.inet6.ip6.use_tempaddr / prefer_tempaddr (RFC 8981; temporary addresses are not generated). */
  use_tempaddr = false;
  prefer_tempaddr = false;
  /** net.inet6.ip6.dad_count: DupAddrDetectTransmits (RFC 4862 §5.1). */
  dad_count = 1;
  /** net.inet6.ip6.auto_linklocal: form a link-local address when an interface attaches. */
  auto_linklocal = true;
  /** net.inet6.ip6.use_deprecated: allow deprecated addresses as sources of new sessions. */
  use_deprecated = true;
  /** net.inet6.ip6.v6only: default of IPV6_V6ONLY for new sockets. */
  v6only = true;
  /** net.inet6.ip6.auto_flowlabel */
  auto_flowlabel = true;
  /** net.inet6.ip6.use_defaultzone */
  use_defaultzone = false;
  /** net.inet6.ip6.mcast_pmtu */
  mcast_pmtu = false;
  /** net.inet6.ip6.rfc6204w3 */
  rfc6204w3 = false;
  /** net.inet6.ip6.hdrnestlimit: most extension headers accepted (0 = unlimited, bounded anyway). */
  hdrnestlimit = 15;
  /** net.inet6.ip6.defmcasthlim */
  defmcasthlim = 1;
  /** net.inet6.ip6.temppltime / tempvltime (seconds). */
  temppltime = 86400;
  tempvltime = 604800;
  /** net.inet6.ip6.log_interval */
  log_interval = 5;
  /** Interface addresses, in the order added. */
  readonly addrs: In6Ifaddr[] = [];
  /** Address hash → addresses with that hash (the same link-local may sit on several links). */
  private readonly buckets = new Map<number, In6Ifaddr[]>();
  /** Transport input table (ip6_protox): next header → protosw. */
  readonly protox: (Protosw | undefined)[] = new Array(256);
  readonly hooks: Inet6Hooks = { addrAdded: [], addrRemoved: [] };
  /** @internal scratch next-hop destination handed to if_output by ip6_output. */
  readonly scratchDst: SockaddrIn6 = { family: AF_INET6, port: 0, addr: new Uint8Array(16), flowinfo: 0, scope_id: 0 };

  constructor(V: Vnet) {
    this.V = V;
    const s = V.sysctl;
    if (!s.find('net.inet6')) s.node('net.inet6', 'Internet6 Family');
    if (!s.find('net.inet6.ip6')) s.node('net.inet6.ip6', 'IP6');
    const bool = (name: string, key: BoolKey, descr: string) =>
      s.bool(
        `net.inet6.ip6.${name}`,
        {
          get: () => this[key],
          set: (v) => {
            this[key] = v;
          },
        },
        { descr },
      );
    const int = (name: string, key: IntKey, descr: string, min: number, max: number) =>
      s.int(
        `net.inet6.ip6.${name}`,
        {
          get: () => this[key],
          set: (v) => {
            this[key] = v;
          },
        },
        { descr, min, max },
      );
    bool('forwarding', 'forwarding', 'Enable forwarding of IPv6 packets between interfaces');
    bool('redirect', 'sendredirects', 'Send ICMPv6 redirects for unforwardable IPv6 packets');
    int('hlim', 'hlim', 'Default hop limit to use for outgoing IPv6 packets', 1, 255);
    bool('accept_rtadv', 'accept_rtadv', 'Default value of per-interface flag for accepting ICMPv6 RA messages');
    bool(
      'no_radr',
      'no_radr',
      'Default value of per-interface flag to control whether routers sending ICMPv6 RA messages on that interface are added into the default router list',
    );
    bool('use_tempaddr', 'use_tempaddr', 'Create RFC3041 temporary addresses for autoconfigured addresses');
    bool('prefer_tempaddr', 'prefer_tempaddr', 'Prefer RFC3041 temporary addresses in source address selection');
    int('dad_count', 'dad_count', 'Number of ICMPv6 NS messages sent during duplicate address detection', 0, 15);
    bool(
      'auto_linklocal',
      'auto_linklocal',
      'Default value of per-interface flag for automatically adding an IPv6 link-local address to interfaces when attached',
    );
    bool('use_deprecated', 'use_deprecated', 'Allow the use of addresses whose preferred lifetimes have expired');
    bool('v6only', 'v6only', 'Restrict AF_INET6 sockets to IPv6 addresses only');
    bool('auto_flowlabel', 'auto_flowlabel', 'Provide an IPv6 flowlabel in outbound packets');
    bool('use_defaultzone', 'use_defaultzone', 'Use the default scope zone when none is specified');
    bool('mcast_pmtu', 'mcast_pmtu', 'Enable path MTU discovery for multicast packets');
    bool('rfc6204w3', 'rfc6204w3', 'Accept the default router list from ICMPv6 RA messages even when packet forwarding is enabled');
    int(
      'hdrnestlimit',
      'hdrnestlimit',
      'Default maximum number of IPv6 extension headers permitted on incoming IPv6 packets, 0 for no artificial limit',
      0,
      255,
    );
    int('defmcasthlim', 'defmcasthlim', 'Default hop limit for IPv6 multicast packets originating from this node', 1, 255);
    int('temppltime', 'temppltime', 'Maximum preferred lifetime for temporary addresses', 1, 0x7fffffff);
    int('tempvltime', 'tempvltime', 'Maximum valid lifetime for temporary addresses', 1, 0x7fffffff);
    int('log_interval', 'log_interval', 'Frequency in seconds at which to log IPv6 forwarding errors', 0, 3600);
    s.struct('net.inet6.ip6.stats', () => ({ ...this.stat, ip6s_nxthist: [...this.stat.ip6s_nxthist] }), {
      descr: 'IP6 statistics (struct ip6stat, netinet6/ip6_var.h)',
      type: 'ip6stat',
    });
    s.struct(
      'net.inet6.ip6.addrs',
      () =>
        this.addrs.map((ia) => ({
          ifname: ia.ifa_ifp.if_xname,
          addr: ntop6(ia.addr),
          prefixlen: ia.prefixlen,
          flags: ia.flags,
          vltime: ia.vltime,
          pltime: ia.pltime,
        })),
      { descr: 'IPv6 interface addresses', type: 'in6_ifaddr' },
    );
  }

  /** The statistics block under its BSD name. */
  get ip6stat(): Ip6Stat {
    return this.stat;
  }

  /** The per-interface IPv6 data, created on first use (in6_ifattach / nd6_ifattach). */
  ifextra(ifp: Ifnet): In6Ifextra {
    let x = ifp.if_afdata.inet6 as In6Ifextra | undefined;
    if (x === undefined) {
      x = new In6Ifextra();
      x.chlim = this.hlim;
      if (this.accept_rtadv && !(ifp.if_flags & IFF_LOOPBACK)) x.flags |= ND6_IFF_ACCEPT_RTADV;
      if (this.no_radr) x.flags |= ND6_IFF_NO_RADR;
      if (!this.auto_linklocal) x.flags &= ~ND6_IFF_AUTO_LINKLOCAL;
      ifp.if_afdata.inet6 = x;
    }
    return x;
  }

  /**
   * The interface address with exactly this address (ifa_ifwithaddr, tentative ones
   * included). For a link-local address `ifp` names the zone; without it, the first match.
   */
  ifaWithAddr(a: Uint8Array, off = 0, ifp: Ifnet | null = null): In6Ifaddr | undefined {
    const b = this.buckets.get(in6_hash(a, off));
    if (b === undefined) return undefined;
    let found: In6Ifaddr | undefined;
    for (let i = 0; i < b.length; i++) {
      const ia = b[i] as In6Ifaddr;
      if (!in6_equal(ia.addr, 0, a, off)) continue;
      if (ifp === null || ia.ifa_ifp === ifp) return ia;
      if (found === undefined && !IN6_IS_ADDR_LINKLOCAL(a, off)) found = ia;
    }
    return found;
  }

  /**
   * True if `a` (at a[off]) is one of our unicast addresses and usable: not tentative,
   * duplicated or detached (in6_localip). With `ifp`, a link-local address must be on it.
   */
  isLocal(a: Uint8Array, off = 0, ifp: Ifnet | null = null): boolean {
    const b = this.buckets.get(in6_hash(a, off));
    if (b === undefined) return false;
    const ll = ifp !== null && IN6_IS_ADDR_LINKLOCAL(a, off) && !(ifp.if_flags & IFF_LOOPBACK);
    for (let i = 0; i < b.length; i++) {
      const ia = b[i] as In6Ifaddr;
      if (!in6_equal(ia.addr, 0, a, off) || !ia.ready) continue;
      if (ll && ia.ifa_ifp !== ifp) continue;
      return true;
    }
    return false;
  }

  /** The first usable address on `ifp`, preferring a link-local one if asked (in6ifa_ifpforlinklocal). */
  ifaOnIfp(ifp: Ifnet, linklocal = false, ignoreflags = IN6_IFF_NOTREADY | IN6_IFF_DETACHED): In6Ifaddr | undefined {
    for (const ia of this.addrs) {
      if (ia.ifa_ifp !== ifp || ia.flags & ignoreflags) continue;
      if (linklocal && !IN6_IS_ADDR_LINKLOCAL(ia.addr)) continue;
      return ia;
    }
    return undefined;
  }

  /** An address of ours whose prefix covers `a` (in6_ifawithifp / ifa_ifwithnet). */
  ifaWithNet(a: Uint8Array, off = 0): In6Ifaddr | undefined {
    let best: In6Ifaddr | undefined;
    for (const ia of this.addrs) {
      if (ia.ifa_ifp.if_flags & IFF_LOOPBACK || IN6_IS_ADDR_LINKLOCAL(ia.addr)) continue;
      if (in6_prefix_match(ia.addr, 0, a, off, ia.prefixlen) && (best === undefined || ia.prefixlen > best.prefixlen)) best = ia;
    }
    return best;
  }

  /** Is `a` on a prefix directly attached to `ifp` (nd6_is_addr_neighbor, RFC 4861 §5.2)? */
  isOnlink(a: Uint8Array, off: number, ifp: Ifnet): boolean {
    if (IN6_IS_ADDR_LINKLOCAL(a, off)) return true;
    for (const ia of this.addrs) {
      if (ia.ifa_ifp !== ifp || IN6_IS_ADDR_LINKLOCAL(ia.addr)) continue;
      if (in6_prefix_match(ia.addr, 0, a, off, ia.prefixlen)) return true;
    }
    const rt = this.V.rt.inet6.lookup(a, off);
    return rt !== null && rt.nhop.nh_ifp === ifp && !(rt.flags & RTF_GATEWAY) && !(rt.flags & RTF_LOCAL);
  }

  // --- multicast membership (in6_joingroup / in6_leavegroup; no MLD reports are sent) ---

  /** Join `group` on `ifp` (reference counted); maps it to a link-level group too. */
  joinGroup(ifp: Ifnet, group: Uint8Array): void {
    const x = this.ifextra(ifp);
    for (const g of x.groups) {
      if (in6_equal(g.addr, 0, group, 0)) {
        g.refcnt++;
        return;
      }
    }
    x.groups.push({ addr: Uint8Array.from(group.subarray(0, 16)), refcnt: 1 });
    if (ifp.if_flags & IFF_MULTICAST && ifp.if_lladdr.length === 6) {
      const ll = new Uint8Array(6);
      ether_map_ip6_multicast(group, 0, ll);
      ifp.if_multiaddrs.push(ll);
    }
  }

  leaveGroup(ifp: Ifnet, group: Uint8Array): void {
    const x = this.ifextra(ifp);
    for (let i = 0; i < x.groups.length; i++) {
      const g = x.groups[i] as In6Multi;
      if (!in6_equal(g.addr, 0, group, 0)) continue;
      if (--g.refcnt > 0) return;
      x.groups.splice(i, 1);
      if (ifp.if_lladdr.length === 6) {
        const ll = new Uint8Array(6);
        ether_map_ip6_multicast(group, 0, ll);
        const k = ifp.if_multiaddrs.findIndex((m) => m.length === 6 && m.every((v, j) => v === ll[j]));
        if (k >= 0) ifp.if_multiaddrs.splice(k, 1);
      }
      return;
    }
  }

  /** Are we a member of the multicast group at a[off] on `ifp` (in6_lookup_multi)? */
  isMember(ifp: Ifnet, a: Uint8Array, off = 0): boolean {
    // All-nodes (link- and interface-local) is always joined (RFC 4291 §2.7.1).
    if (a[off] === 0xff && a[off + 15] === 1 && (a[off + 1] === 0x02 || a[off + 1] === 0x01)) {
      let z = true;
      for (let i = 2; i < 15; i++) if (a[off + i] !== 0) z = false;
      if (z) return true;
    }
    const x = ifp.if_afdata.inet6 as In6Ifextra | undefined;
    if (x === undefined) return false;
    const g = x.groups;
    for (let i = 0; i < g.length; i++) if (in6_equal((g[i] as In6Multi).addr, 0, a, off)) return true;
    return false;
  }

  // --- addresses ---

  /**
   * Add an address to an interface (SIOCAIFADDR_IN6, in6_update_ifa): connected route for
   * the prefix, host route through lo0, solicited-node group, then the address-added hooks
   * (duplicate address detection). New addresses start TENTATIVE when DAD applies.
   */
  addAddress(ifp: Ifnet, addr: Uint8Array, plen: number, flags = 0, opts: AddAddress6Opts = {}): { error: number; ia: In6Ifaddr | null } {
    if (!Number.isInteger(plen) || plen < 0 || plen > 128 || addr.length < 16) return { error: EINVAL, ia: null };
    if (IN6_IS_ADDR_MULTICAST(addr) || IN6_IS_ADDR_UNSPECIFIED(addr)) return { error: EINVAL, ia: null };
    const ll = IN6_IS_ADDR_LINKLOCAL(addr);
    const existing = this.ifaWithAddr(addr, 0, ifp);
    if (existing !== undefined && (existing.ifa_ifp === ifp || !ll)) return { error: EEXIST, ia: null };
    const x = this.ifextra(ifp);
    const loop = (ifp.if_flags & IFF_LOOPBACK) !== 0;
    // RFC 4862 §5.4: DAD on every unicast address unless disabled (never on loopback).
    flags &= ~(IN6_IFF_TENTATIVE | IN6_IFF_DUPLICATED);
    if (!loop && !(flags & (IN6_IFF_NODAD | IN6_IFF_ANYCAST)) && !(x.flags & ND6_IFF_NO_DAD) && this.dad_count > 0) flags |= IN6_IFF_TENTATIVE;
    const ia = new In6Ifaddr(ifp, addr, plen, flags);
    const now = this.V.clock.now();
    ia.createtime = ia.updatetime = now;
    this.setLifetimes(ia, opts.vltime ?? ND6_INFINITE_LIFETIME, opts.pltime ?? ND6_INFINITE_LIFETIME);
    this.addrs.push(ia);
    let b = this.buckets.get(ia.hash);
    if (b === undefined) this.buckets.set(ia.hash, (b = []));
    b.push(ia);
    ifp.if_addrhead.push(ia);
    const rt = this.V.rt;
    if (!ll && !IN6_IS_ADDR_LOOPBACK(addr)) {
      // Connected route for the prefix (not for /128 or point-to-point).
      if (!opts.noprefixroute && plen < 128 && !(ifp.if_flags & IFF_POINTOPOINT) && !(x.flags & ND6_IFF_DONT_SET_IFROUTE)) {
        if (!rt.get6(ia.prefix, plen)) rt.add6(ia.prefix, plen, { ifp, ifa: ia, flags: RTF_PINNED });
      }
    }
    // Host route for the local address, delivered through the loopback interface
    // (link-local addresses are scoped and resolved without the table).
    if (!ll && !rt.get6(addr, 128)) {
      const lo = this.V.loif;
      if (loop || lo === null) rt.add6(addr, 128, { ifp, ifa: ia, flags: RTF_LOCAL | RTF_PINNED });
      else rt.add6(addr, 128, { ifp: lo, ifa: ia, flags: RTF_LOCAL | RTF_STATIC | RTF_PINNED });
    }
    // Solicited-node multicast group (RFC 4861 §7.2.1: joined before DAD starts).
    if (!loop) this.joinGroup(ifp, in6_solicited_node(addr));
    for (const h of this.hooks.addrAdded) h(ia);
    return { error: 0, ia };
  }

  /** Set an address's lifetimes (seconds; ND6_INFINITE_LIFETIME = forever). */
  setLifetimes(ia: In6Ifaddr, vltime: number, pltime: number): void {
    const now = this.V.clock.now();
    ia.vltime = vltime >>> 0;
    ia.pltime = Math.min(pltime >>> 0, ia.vltime);
    ia.expire = ia.vltime === ND6_INFINITE_LIFETIME ? 0 : now + ia.vltime * 1e9;
    ia.preferred = ia.pltime === ND6_INFINITE_LIFETIME ? 0 : now + ia.pltime * 1e9;
    ia.updatetime = now;
    if (ia.pltime > 0 || ia.pltime === ND6_INFINITE_LIFETIME) ia.flags &= ~IN6_IFF_DEPRECATED;
    else ia.flags |= IN6_IFF_DEPRECATED;
  }

  /** Remove an address (SIOCDIFADDR_IN6, in6_purgeaddr) and the routes it installed. */
  deleteAddress(ifp: Ifnet, addr: Uint8Array): number {
    const ia = this.ifaWithAddr(addr, 0, ifp);
    if (ia === undefined || ia.ifa_ifp !== ifp) return EADDRNOTAVAIL;
    this.removeIfa(ia);
    return 0;
  }

  /** @internal remove one address object. */
  removeIfa(ia: In6Ifaddr): void {
    const ai = this.addrs.indexOf(ia);
    if (ai < 0) return;
    const ifp = ia.ifa_ifp;
    for (const h of this.hooks.addrRemoved) h(ia);
    this.addrs.splice(ai, 1);
    const b = this.buckets.get(ia.hash);
    if (b !== undefined) {
      const k = b.indexOf(ia);
      if (k >= 0) b.splice(k, 1);
      if (b.length === 0) this.buckets.delete(ia.hash);
    }
    const hi = ifp.if_addrhead.indexOf(ia);
    if (hi >= 0) ifp.if_addrhead.splice(hi, 1);
    const rt = this.V.rt;
    const host = rt.get6(ia.addr, 128);
    if (host && host.nhop.nh_ifa === ia) {
      rt.del6(ia.addr, 128);
      // Another interface holding the same address takes the host route over.
      const other = this.addrs.find((x) => in6_equal(x.addr, 0, ia.addr, 0) && !IN6_IS_ADDR_LINKLOCAL(x.addr));
      if (other) {
        const lo = this.V.loif;
        rt.add6(other.addr, 128, { ifp: lo ?? other.ifa_ifp, ifa: other, flags: RTF_LOCAL | RTF_PINNED });
      }
    }
    const net = rt.get6(ia.prefix, ia.prefixlen);
    if (net && net.nhop.nh_ifa === ia) {
      rt.del6(ia.prefix, ia.prefixlen);
      const other = this.addrs.find((x) => x.prefixlen === ia.prefixlen && in6_equal(x.prefix, 0, ia.prefix, 0));
      if (other) rt.add6(other.prefix, other.prefixlen, { ifp: other.ifa_ifp, ifa: other, flags: RTF_PINNED });
    }
    if (!(ifp.if_flags & IFF_LOOPBACK) && !ifp.if_dead) this.leaveGroup(ifp, in6_solicited_node(ia.addr));
  }

  /** Remove every address of an interface (detach). */
  purgeIfp(ifp: Ifnet): void {
    for (const ia of this.addrs.filter((x) => x.ifa_ifp === ifp)) this.removeIfa(ia);
    const x = ifp.if_afdata.inet6 as In6Ifextra | undefined;
    if (x !== undefined) x.groups.length = 0;
  }
}
