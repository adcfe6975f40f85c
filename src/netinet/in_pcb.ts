/*
 * Protocol control blocks for IPv4 and IPv6 transports (BSD netinet/in_pcb.c,
 * netinet6/in6_pcb.c).
 *
 * An Inpcb holds a transport endpoint's addresses and ports, IP-level options and a route
 * cache; UDP and TCP hang their own state off it (inp_ppcb). A PcbInfo (udbinfo, tcbinfo)
 * keeps one protocol's PCBs in three indexes, as FreeBSD does:
 *   - exact: connected PCBs by (foreign address, foreign port, local port) hash, for
 *     demultiplexing established traffic in O(1) whatever the number of sockets;
 *   - wild: unconnected (bound, listening) PCBs by local port;
 *   - port: every PCB bound to a local port, for bind() conflict checks and broadcast
 *     delivery.
 * Lookups go exact first, then wild, where a specific local address beats a wildcard and an
 * IPv4 socket beats a dual-stack IPv6 one for IPv4 traffic.
 *
 * bind() follows FreeBSD's in_pcbbind_setup(): without SO_REUSEADDR/SO_REUSEPORT a port in
 * use on an overlapping address is EADDRINUSE; with SO_REUSEADDR only an unconnected PCB
 * on exactly the same address conflicts; SO_REUSEPORT lets sockets that all set it share.
 * Ephemeral ports are chosen at random in net.inet.ip.portrange.first..last, and at
 * connect() time only the full 4-tuple must be unique (in_pcb_lport_dest), so many
 * connections to different peers can share a local port.
 *
 * Addresses: IPv4 PCBs use inp_laddr/inp_faddr (numbers); IPv6 PCBs use in6p_laddr/
 * in6p_faddr (16 bytes). A dual-stack IPv6 socket (not IPV6_V6ONLY) bound to :: also
 * matches IPv4 traffic (INP_IPV4 set in inp_vflag); connected to a v4-mapped address it
 * becomes an IPv4 PCB.
 */

import type { Ifnet } from '../net/if.js';
import type { Socket } from '../sys/socket.js';
import { SO_ACCEPTCONN, SO_REUSEADDR, SO_REUSEPORT, SO_REUSEPORT_LB } from '../sys/socket.js';
import { EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EHOSTUNREACH, EINVAL, ENETUNREACH } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { in6_selectsrc } from '../netinet6/in6_src.js';
import {
  AF_INET,
  AF_INET6,
  IN_MULTICAST,
  IN6_IS_ADDR_MULTICAST,
  IN6_IS_ADDR_UNSPECIFIED,
  IN6_IS_ADDR_V4MAPPED,
  in6_equal,
  in6_v4mapped_addr,
  in6addr_any,
  INADDR_ANY,
  INADDR_BROADCAST,
  type Sockaddr,
  type SockaddrIn,
  type SockaddrIn6,
  sockaddr_in,
  sockaddr_in6,
} from './in.js';
import { RouteCache } from './ip_output.js';

// inp_vflag
export const INP_IPV4 = 0x1;
export const INP_IPV6 = 0x2;
export const INP_IPV6PROTO = 0x4; // opened under an IPv6 protocol

// inp_flags
export const INP_RECVOPTS = 0x00000001;
export const INP_HDRINCL = 0x00000008;
export const INP_HIGHPORT = 0x00000010;
export const INP_LOWPORT = 0x00000020;
export const INP_ANONPORT = 0x00000040;
export const INP_RECVIF = 0x00000080;
export const INP_RECVTTL = 0x00000400;
export const INP_DONTFRAG = 0x00000800;
export const IN6P_IPV6_V6ONLY = 0x00008000;
export const INP_RECVTOS = 0x80000000;
/** The protocol dropped the connection (BSD INP_DROPPED). */
export const INP_DROPPED = 0x04000000;
/** TIME_WAIT (the tcpcb stays, FreeBSD 14 style). */
export const INP_TIMEWAIT = 0x01000000;

export const INPLOOKUP_WILDCARD = 0x1;

/** Anything that can claim a port/tuple outside the PCB tables (the VTW vestiges). */
export interface PcbShadow {
  /** Is the 4-tuple in use (for connect-time uniqueness)? */
  tupleInUse(family: number, faddr: number | Uint8Array, fport: number, laddr: number | Uint8Array, lport: number): boolean;
  /**
   * Would binding (laddr, lport) with these socket options conflict (in_pcbbind_setup
   * against TIME_WAIT entries)? Return true for EADDRINUSE.
   */
  bindConflict(family: number, laddr: number | Uint8Array, lport: number, so_options: number, wildcard: boolean): boolean;
}

export type InpMoptions = { ifp: Ifnet | null; ttl: number; loop: boolean };
export type In6pMoptions = { ifp: Ifnet | null; hops: number; loop: boolean };

/** The rarely set part of an Inpcb (IP options, IPv6 scope/hops/class, multicast, uid). */
export class InpcbCold {
  /** Minimum TTL (GTSM). */
  inp_ip_minttl = 0;
  /** Protocol of a raw socket (0 = all). */
  inp_ip_p = 0;
  /** IPv6 hop limit (-1 = default), traffic class, flow info. */
  in6p_hops = -1;
  in6p_tclass = 0;
  in6p_flowinfo = 0;
  /** Scope (interface index) of a link-local IPv6 peer. */
  in6p_scope = 0;
  /** Multicast output options. */
  inp_moptions: InpMoptions | null = null;
  /** IPv6 multicast options. */
  in6p_moptions: In6pMoptions | null = null;
  /** Owner uid (VTW and SO_REUSEPORT checks compare it). */
  inp_uid = 0;
}

/** What every Inpcb without its own InpcbCold reads (never written). */
const INPCB_COLD_DEFAULTS = new InpcbCold();

const INP_IN_HASH = 1;
const INP_IN_WILD = 2;
const INP_IN_PORT = 4;
const INP_IN_LIST = 8;

export class Inpcb {
  readonly inp_pcbinfo: PcbInfo;
  inp_socket: Socket | null;
  inp_ppcb: unknown = null;
  inp_vflag = 0;
  inp_flags = 0;
  inp_lport = 0;
  inp_fport = 0;
  inp_laddr = INADDR_ANY;
  inp_faddr = INADDR_ANY;
  in6p_laddr: Uint8Array = in6addr_any;
  in6p_faddr: Uint8Array = in6addr_any;
  /** IPv4 TOS/DSCP+ECN and TTL. */
  inp_ip_tos = 0;
  inp_ip_ttl = 0;
  inp_route = new RouteCache();
  /** Options most PCBs never set (InpcbCold), made on the first non-default write. */
  private _cold: InpcbCold | null = null;
  /** Exact-hash chain (intrusive). */
  inp_hnext: Inpcb | null = null;
  inp_hkey = 0;
  /** Port chain (intrusive, most recent first): the PCBs bound to inp_lport. */
  inp_portnext: Inpcb | null = null;
  inp_portprev: Inpcb | null = null;
  /** PcbInfo.list (intrusive, creation order). */
  inp_listnext: Inpcb | null = null;
  inp_listprev: Inpcb | null = null;
  /** Which indexes hold this PCB (INP_IN_HASH, INP_IN_WILD, INP_IN_PORT, INP_IN_LIST bits). */
  private inp_indexes = 0;
  inp_gencnt = 0;

  get inp_ip_minttl(): number {
    return (this._cold ?? INPCB_COLD_DEFAULTS).inp_ip_minttl;
  }
  set inp_ip_minttl(v: number) {
    if (this._cold !== null) this._cold.inp_ip_minttl = v;
    else if (v !== 0) this.cold().inp_ip_minttl = v;
  }
  get inp_ip_p(): number {
    return (this._cold ?? INPCB_COLD_DEFAULTS).inp_ip_p;
  }
  set inp_ip_p(v: number) {
    if (this._cold !== null) this._cold.inp_ip_p = v;
    else if (v !== 0) this.cold().inp_ip_p = v;
  }
  get in6p_hops(): number {
    return (this._cold ?? INPCB_COLD_DEFAULTS).in6p_hops;
  }
  set in6p_hops(v: number) {
    if (this._cold !== null) this._cold.in6p_hops = v;
    else if (v !== -1) this.cold().in6p_hops = v;
  }
  get in6p_tclass(): number {
    return (this._cold ?? INPCB_COLD_DEFAULTS).in6p_tclass;
  }
  set in6p_tclass(v: number) {
    if (this._cold !== null) this._cold.in6p_tclass = v;
    else if (v !== 0) this.cold().in6p_tclass = v;
  }
  get in6p_flowinfo(): number {
    return (this._cold ?? INPCB_COLD_DEFAULTS).in6p_flowinfo;
  }
  set in6p_flowinfo(v: number) {
    if (this._cold !== null) this._cold.in6p_flowinfo = v;
    else if (v !== 0) this.cold().in6p_flowinfo = v;
  }
  get in6p_scope(): number {
    return (this._cold ?? INPCB_COLD_DEFAULTS).in6p_scope;
  }
  set in6p_scope(v: number) {
    if (this._cold !== null) this._cold.in6p_scope = v;
    else if (v !== 0) this.cold().in6p_scope = v;
  }
  get inp_moptions(): InpMoptions | null {
    return (this._cold ?? INPCB_COLD_DEFAULTS).inp_moptions;
  }
  set inp_moptions(v: InpMoptions | null) {
    if (this._cold !== null) this._cold.inp_moptions = v;
    else if (v !== null) this.cold().inp_moptions = v;
  }
  get in6p_moptions(): In6pMoptions | null {
    return (this._cold ?? INPCB_COLD_DEFAULTS).in6p_moptions;
  }
  set in6p_moptions(v: In6pMoptions | null) {
    if (this._cold !== null) this._cold.in6p_moptions = v;
    else if (v !== null) this.cold().in6p_moptions = v;
  }
  get inp_uid(): number {
    return (this._cold ?? INPCB_COLD_DEFAULTS).inp_uid;
  }
  set inp_uid(v: number) {
    if (this._cold !== null) this._cold.inp_uid = v;
    else if (v !== 0) this.cold().inp_uid = v;
  }
  get inp_inhash(): boolean {
    return (this.inp_indexes & INP_IN_HASH) !== 0;
  }
  set inp_inhash(v: boolean) {
    this.inp_indexes = v ? this.inp_indexes | INP_IN_HASH : this.inp_indexes & ~INP_IN_HASH;
  }
  get inp_inwild(): boolean {
    return (this.inp_indexes & INP_IN_WILD) !== 0;
  }
  set inp_inwild(v: boolean) {
    this.inp_indexes = v ? this.inp_indexes | INP_IN_WILD : this.inp_indexes & ~INP_IN_WILD;
  }
  get inp_inport(): boolean {
    return (this.inp_indexes & INP_IN_PORT) !== 0;
  }
  set inp_inport(v: boolean) {
    this.inp_indexes = v ? this.inp_indexes | INP_IN_PORT : this.inp_indexes & ~INP_IN_PORT;
  }
  get inp_inlist(): boolean {
    return (this.inp_indexes & INP_IN_LIST) !== 0;
  }
  set inp_inlist(v: boolean) {
    this.inp_indexes = v ? this.inp_indexes | INP_IN_LIST : this.inp_indexes & ~INP_IN_LIST;
  }
  private cold(): InpcbCold {
    let c = this._cold;
    if (c === null) c = this._cold = new InpcbCold();
    return c;
  }

  constructor(info: PcbInfo, so: Socket | null) {
    this.inp_pcbinfo = info;
    this.inp_socket = so;
  }

  get isV6(): boolean {
    return (this.inp_vflag & INP_IPV6) !== 0 && (this.inp_vflag & INP_IPV4) === 0;
  }

  so_options(): number {
    return this.inp_socket ? this.inp_socket.so_options : 0;
  }

  /** The local address as a sockaddr (in_getsockaddr / in6_getsockaddr). */
  localSockaddr(): Sockaddr {
    if (this.inp_vflag & INP_IPV6PROTO) {
      if (this.inp_vflag & INP_IPV4 && !(this.inp_vflag & INP_IPV6)) {
        return sockaddr_in6(mapped(this.inp_laddr), this.inp_lport);
      }
      return sockaddr_in6(this.in6p_laddr, this.inp_lport);
    }
    return sockaddr_in(this.inp_laddr, this.inp_lport);
  }

  foreignSockaddr(): Sockaddr {
    if (this.inp_vflag & INP_IPV6PROTO) {
      if (this.inp_vflag & INP_IPV4 && !(this.inp_vflag & INP_IPV6)) return sockaddr_in6(mapped(this.inp_faddr), this.inp_fport);
      return sockaddr_in6(this.in6p_faddr, this.inp_fport, this.in6p_scope);
    }
    return sockaddr_in(this.inp_faddr, this.inp_fport);
  }

  /** Connected (has a foreign address)? */
  get connected(): boolean {
    if (this.inp_vflag & INP_IPV6 && !(this.inp_vflag & INP_IPV4)) return !IN6_IS_ADDR_UNSPECIFIED(this.in6p_faddr);
    if (this.inp_vflag & INP_IPV6 && this.inp_vflag & INP_IPV4) return false; // dual-stack wildcard
    return this.inp_faddr !== INADDR_ANY;
  }
}

function mapped(v4: number): Uint8Array {
  const a = new Uint8Array(16);
  a[10] = 0xff;
  a[11] = 0xff;
  a[12] = v4 >>> 24;
  a[13] = (v4 >>> 16) & 0xff;
  a[14] = (v4 >>> 8) & 0xff;
  a[15] = v4 & 0xff;
  return a;
}

function mix(a: number, b: number, c: number): number {
  // A cheap integer hash of three 32-bit values (Jenkins one-at-a-time style finish); `c`
  // carries the PcbInfo's random seed (FreeBSD's in_pcbhashseed), so which tuples share a
  // bucket of the exact table cannot be predicted from outside.
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(b ^ (h >>> 15), 0xc2b2ae35);
  h ^= Math.imul(c ^ (h >>> 13), 0x27d4eb2f);
  return h ^ (h >>> 16); // int32: a small integer, never a boxed heap number (inp_hkey)
}

function v6word(a: Uint8Array): number {
  return ((a[12] as number) << 24) ^ ((a[13] as number) << 16) ^ ((a[14] as number) << 8) ^ (a[15] as number) ^ ((a[8] as number) << 7) ^ (a[3] as number);
}

/** Exact-hash key of an IPv4 4-tuple. */
export function hash4(faddr: number, fport: number, lport: number, seed = 0): number {
  return mix(faddr, (fport << 16) | lport, seed ^ 4);
}

/** Exact-hash key of an IPv6 4-tuple. */
export function hash6(faddr: Uint8Array, fport: number, lport: number, seed = 0): number {
  return mix(v6word(faddr), (fport << 16) | lport, seed ^ 6);
}

/**
 * A protocol's PCBs in creation order: an intrusive doubly linked list (Inpcb.inp_listnext /
 * inp_listprev), iterated like the Set it replaces — a PCB removed during a walk is skipped, one
 * added is visited. Not a Set: a Set of short-lived PCBs shrinks and rehashes itself as
 * connections come and go. A PCB removed during a walk keeps its inp_listnext so that the
 * walk standing on it can go on.
 */
export class PcbList implements Iterable<Inpcb> {
  private head: Inpcb | null = null;
  private tail: Inpcb | null = null;
  size = 0;
  /** Walks under way: while one is, a removed PCB keeps its forward link. */
  private walkers = 0;

  add(inp: Inpcb): void {
    if (inp.inp_inlist) return;
    const t = this.tail;
    inp.inp_listprev = t;
    inp.inp_listnext = null;
    if (t !== null) t.inp_listnext = inp;
    else this.head = inp;
    this.tail = inp;
    inp.inp_inlist = true;
    this.size++;
  }

  delete(inp: Inpcb): boolean {
    if (!inp.inp_inlist) return false;
    const p = inp.inp_listprev;
    const n = inp.inp_listnext;
    if (p !== null) p.inp_listnext = n;
    else this.head = n;
    if (n !== null) n.inp_listprev = p;
    else this.tail = p;
    inp.inp_listprev = null;
    // A walk may stand on this PCB and needs its forward link to go on; with none under way
    // the link goes, so a PCB the application still holds does not keep later ones alive.
    if (this.walkers === 0) inp.inp_listnext = null;
    inp.inp_inlist = false;
    this.size--;
    return true;
  }

  has(inp: Inpcb): boolean {
    return inp.inp_inlist;
  }

  *[Symbol.iterator](): Iterator<Inpcb> {
    this.walkers++;
    try {
      for (let p = this.head; p !== null; p = p.inp_listnext) if (p.inp_inlist) yield p;
    } finally {
      // Also when the walk is abandoned (break, throw: the generator's return()).
      this.walkers--;
    }
  }
}

/** One protocol's PCBs (struct inpcbinfo). */
export class PcbInfo {
  readonly V: Vnet;
  readonly name: string;
  /** All PCBs in creation order (the list netstat walks). */
  readonly list = new PcbList();
  /**
   * Exact-match hash chains (Inpcb.inp_hnext) by inp_hkey & exactMask: a bucket array that
   * grows with the number of connected PCBs and never shrinks (as the BSD hashinit tables).
   * Not a Map: a Map keyed by the tuple hash shrinks and rehashes itself as connections come
   * and go, which made every close pay for a table reallocation.
   */
  private exact: (Inpcb | null)[] = new Array<Inpcb | null>(64).fill(null);
  private exactMask = 63;
  private exactCount = 0;
  private readonly wild = new Map<number, Inpcb[]>();
  /**
   * Head of each local port's chain (Inpcb.inp_portnext/inp_portprev), most recent first,
   * indexed by port: FreeBSD's port hash (ipi_porthashbase) with one bucket per port. Made at
   * the first bind (a Vnet that never binds this protocol pays nothing). Not a Map: a Map of
   * the ports in use adds and deletes a key for every short-lived connection, and V8's Map
   * reallocates itself as it churns.
   */
  private ports: (Inpcb | null)[] | null = null;

  private portsAlloc(): (Inpcb | null)[] {
    const t = new Array<Inpcb | null>(65536).fill(null);
    this.ports = t;
    return t;
  }

  private portHead(lport: number): Inpcb | null {
    return this.ports === null ? null : (this.ports[lport] as Inpcb | null);
  }
  gencnt = 0;
  /** Other holders of ports/tuples (VTW). */
  readonly shadows: PcbShadow[] = [];
  /** Lookups, and lookups that had to fall back to the wildcard table. */
  lookups = 0;
  wildLookups = 0;

  /** Random seed of the exact-table hash (in_pcbhashseed), per protocol and Vnet. */
  private readonly hashseed: number;

  constructor(V: Vnet, name: string) {
    this.V = V;
    this.name = name;
    this.hashseed = V.rng.u32() & ~7;
  }

  get count(): number {
    return this.list.size;
  }

  /** Create a PCB for a socket (in_pcballoc). */
  alloc(so: Socket | null, v6: boolean): Inpcb {
    const inp = new Inpcb(this, so);
    inp.inp_vflag = v6 ? INP_IPV6 | INP_IPV6PROTO : INP_IPV4;
    inp.inp_gencnt = ++this.gencnt;
    this.list.add(inp);
    return inp;
  }

  /** Remove a PCB from every index (in_pcbfree). */
  free(inp: Inpcb): void {
    this.unhash(inp);
    this.list.delete(inp);
    inp.inp_socket = null;
  }

  // --- index maintenance ---

  // The port chains are intrusive doubly linked lists: O(1) insert and remove however many
  // connections a listener's port carries, and no array per ephemeral port.
  private portAdd(inp: Inpcb): void {
    const ports = this.ports ?? this.portsAlloc();
    const head = ports[inp.inp_lport] as Inpcb | null;
    inp.inp_portprev = null;
    inp.inp_portnext = head;
    if (head !== null) head.inp_portprev = inp;
    ports[inp.inp_lport] = inp;
    inp.inp_inport = true;
  }

  private portDel(inp: Inpcb): void {
    const prev = inp.inp_portprev;
    const next = inp.inp_portnext;
    if (next !== null) next.inp_portprev = prev;
    if (prev !== null) prev.inp_portnext = next;
    else if (this.ports !== null && this.ports[inp.inp_lport] === inp) {
      this.ports[inp.inp_lport] = next;
    }
    inp.inp_portnext = null;
    inp.inp_portprev = null;
    inp.inp_inport = false;
  }

  private wildAdd(inp: Inpcb): void {
    let l = this.wild.get(inp.inp_lport);
    if (!l) this.wild.set(inp.inp_lport, (l = []));
    l.unshift(inp); // most recent first, as BSD hash chains
    inp.inp_inwild = true;
  }

  private wildDel(inp: Inpcb): void {
    const l = this.wild.get(inp.inp_lport);
    if (l) {
      const i = l.indexOf(inp);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) this.wild.delete(inp.inp_lport);
    }
    inp.inp_inwild = false;
  }

  private exactAdd(inp: Inpcb): void {
    const key =
      inp.inp_vflag & INP_IPV4 && !(inp.inp_vflag & INP_IPV6)
        ? hash4(inp.inp_faddr, inp.inp_fport, inp.inp_lport, this.hashseed)
        : hash6(inp.in6p_faddr, inp.inp_fport, inp.inp_lport, this.hashseed);
    inp.inp_hkey = key;
    if (++this.exactCount > this.exact.length) this.exactGrow();
    const i = key & this.exactMask;
    inp.inp_hnext = this.exact[i] as Inpcb | null;
    this.exact[i] = inp;
    inp.inp_inhash = true;
  }

  private exactGrow(): void {
    const old = this.exact;
    const n = old.length * 2;
    const t = new Array<Inpcb | null>(n).fill(null);
    const mask = n - 1;
    // Bucket i splits into i and i + old.length; chains keep their order (most recent first).
    for (let i = 0; i < old.length; i++) {
      let lo: Inpcb | null = null;
      let hi: Inpcb | null = null;
      for (let p = old[i] as Inpcb | null; p !== null; ) {
        const next: Inpcb | null = p.inp_hnext;
        const j = p.inp_hkey & mask;
        p.inp_hnext = null;
        if (j === i) {
          if (lo === null) t[j] = p;
          else lo.inp_hnext = p;
          lo = p;
        } else {
          if (hi === null) t[j] = p;
          else hi.inp_hnext = p;
          hi = p;
        }
        p = next;
      }
    }
    this.exact = t;
    this.exactMask = mask;
  }

  private exactDel(inp: Inpcb): void {
    const i = inp.inp_hkey & this.exactMask;
    let p = this.exact[i] as Inpcb | null;
    this.exactCount--;
    if (p === inp) {
      this.exact[i] = inp.inp_hnext;
    } else {
      while (p !== null && p.inp_hnext !== inp) p = p.inp_hnext;
      if (p !== null) p.inp_hnext = inp.inp_hnext;
    }
    inp.inp_hnext = null;
    inp.inp_inhash = false;
  }

  /** (Re)insert a PCB into the right indexes after bind/connect (in_pcbinshash/rehash). */
  rehash(inp: Inpcb): void {
    this.unhash(inp);
    if (inp.inp_lport === 0) return;
    this.portAdd(inp);
    if (inp.connected) this.exactAdd(inp);
    else this.wildAdd(inp);
  }

  unhash(inp: Inpcb): void {
    if (inp.inp_inhash) this.exactDel(inp);
    if (inp.inp_inwild) this.wildDel(inp);
    if (inp.inp_inport) this.portDel(inp);
  }

  /** PCBs bound to a local port (for broadcast delivery and netstat). */
  onPort(lport: number): readonly Inpcb[] {
    const l: Inpcb[] = [];
    for (let p = this.portHead(lport); p !== null; p = p.inp_portnext) l.push(p);
    return l;
  }

  // --- lookups ---

  /**
   * Demultiplex an IPv4 segment (in_pcblookup): exact 4-tuple first, then (if `wildcard`)
   * the best unconnected PCB on the local port.
   */
  lookup4(faddr: number, fport: number, laddr: number, lport: number, wildcard: boolean): Inpcb | null {
    this.lookups++;
    for (let p = this.exact[hash4(faddr, fport, lport, this.hashseed) & this.exactMask] as Inpcb | null; p !== null; p = p.inp_hnext) {
      if (p.inp_faddr === faddr && p.inp_fport === fport && p.inp_lport === lport && p.inp_laddr === laddr && p.inp_vflag & INP_IPV4) return p;
    }
    if (!wildcard) return null;
    this.wildLookups++;
    const l = this.wild.get(lport);
    if (l === undefined) return null;
    let localWild: Inpcb | null = null;
    let localWildMapped: Inpcb | null = null;
    for (const p of l) {
      if (!(p.inp_vflag & INP_IPV4)) continue;
      if (p.inp_faddr !== INADDR_ANY && p.inp_faddr !== faddr) continue;
      const v6wild = (p.inp_vflag & INP_IPV6) !== 0;
      if (!v6wild && p.inp_laddr === laddr) return p;
      if (v6wild) {
        if (!(p.inp_flags & IN6P_IPV6_V6ONLY) && localWildMapped === null) localWildMapped = p;
      } else if (p.inp_laddr === INADDR_ANY && localWild === null) localWild = p;
    }
    return localWild ?? localWildMapped;
  }

  /** Demultiplex an IPv6 segment (in6_pcblookup). */
  lookup6(faddr: Uint8Array, fport: number, laddr: Uint8Array, lport: number, wildcard: boolean, faoff = 0, laoff = 0): Inpcb | null {
    this.lookups++;
    const fa = faoff === 0 && faddr.length === 16 ? faddr : faddr.subarray(faoff, faoff + 16);
    for (let p = this.exact[hash6(fa, fport, lport, this.hashseed) & this.exactMask] as Inpcb | null; p !== null; p = p.inp_hnext) {
      if (
        p.inp_fport === fport &&
        p.inp_lport === lport &&
        p.inp_vflag & INP_IPV6 &&
        !(p.inp_vflag & INP_IPV4) &&
        in6_equal(p.in6p_faddr, 0, faddr, faoff) &&
        in6_equal(p.in6p_laddr, 0, laddr, laoff)
      )
        return p;
    }
    if (!wildcard) return null;
    this.wildLookups++;
    const l = this.wild.get(lport);
    if (l === undefined) return null;
    let localWild: Inpcb | null = null;
    for (const p of l) {
      if (!(p.inp_vflag & INP_IPV6)) continue;
      if (!IN6_IS_ADDR_UNSPECIFIED(p.in6p_faddr) && !in6_equal(p.in6p_faddr, 0, faddr, faoff)) continue;
      if (in6_equal(p.in6p_laddr, 0, laddr, laoff)) return p;
      if (IN6_IS_ADDR_UNSPECIFIED(p.in6p_laddr) && localWild === null) localWild = p;
    }
    return localWild;
  }

  /**
   * Local-address lookup for bind() (in_pcblookup_local). Without `wildcard`: only an
   * unconnected PCB bound to exactly (laddr, lport). With `wildcard`: the PCB on lport whose
   * addresses conflict with the fewest wildcards.
   */
  lookupLocal(family: number, laddr: number | Uint8Array, lport: number, wildcard: boolean): Inpcb | null {
    const v4 = family === AF_INET;
    let match: Inpcb | null = null;
    let matchwild = 3;
    for (let p = this.portHead(lport); p !== null; p = p.inp_portnext) {
      if (v4 ? !(p.inp_vflag & INP_IPV4) : !(p.inp_vflag & INP_IPV6)) continue;
      const pUnspecL = v4 ? p.inp_laddr === INADDR_ANY : IN6_IS_ADDR_UNSPECIFIED(p.in6p_laddr);
      const pConnected = v4 ? p.inp_faddr !== INADDR_ANY && !(p.inp_vflag & INP_IPV6) : !IN6_IS_ADDR_UNSPECIFIED(p.in6p_faddr) && !(p.inp_vflag & INP_IPV4);
      const reqUnspec = v4 ? laddr === INADDR_ANY : IN6_IS_ADDR_UNSPECIFIED(laddr as Uint8Array);
      const sameL = v4 ? p.inp_laddr === laddr : in6_equal(p.in6p_laddr, 0, laddr as Uint8Array, 0);
      if (!wildcard) {
        if (!pConnected && sameL) return p;
        continue;
      }
      let w = 0;
      if (pConnected) w++;
      if (!pUnspecL) {
        if (reqUnspec) w++;
        else if (!sameL) continue;
      } else if (!reqUnspec) w++;
      if (w < matchwild) {
        match = p;
        matchwild = w;
        if (w === 0) break;
      }
    }
    return match;
  }

  /** Is the exact 4-tuple in use (by a PCB or a shadow such as a VTW vestige)? */
  tupleInUse(family: number, faddr: number | Uint8Array, fport: number, laddr: number | Uint8Array, lport: number): boolean {
    if (family === AF_INET) {
      if (this.lookup4(faddr as number, fport, laddr as number, lport, false)) return true;
    } else if (this.lookup6(faddr as Uint8Array, fport, laddr as Uint8Array, lport, false)) return true;
    for (const s of this.shadows) if (s.tupleInUse(family, faddr, fport, laddr, lport)) return true;
    return false;
  }
}

// --- bind / connect ---

/** Reuse-permitting socket options of a PCB. */
function reuseportOf(inp: Inpcb): number {
  return inp.so_options() & (SO_REUSEPORT | SO_REUSEPORT_LB);
}

/**
 * Would (laddr, lport) conflict for `inp` (in_pcbbind_setup's checks)? Returns an errno or 0.
 */
function bindCheck(inp: Inpcb, family: number, laddr: number | Uint8Array, lport: number): number {
  const info = inp.inp_pcbinfo;
  const opts = inp.so_options();
  let reuseport = opts & (SO_REUSEPORT | SO_REUSEPORT_LB);
  const multicast = family === AF_INET ? IN_MULTICAST(laddr as number) : IN6_IS_ADDR_MULTICAST(laddr as Uint8Array);
  // For multicast addresses SO_REUSEADDR means SO_REUSEPORT (BSD tradition).
  if (multicast && opts & SO_REUSEADDR) reuseport |= SO_REUSEPORT;
  const wildcard = (opts & (SO_REUSEADDR | SO_REUSEPORT | SO_REUSEPORT_LB)) === 0;
  const t = info.lookupLocal(family, laddr, lport, wildcard);
  if (t !== null && t !== inp) {
    if (t.inp_flags & INP_TIMEWAIT) {
      if ((reuseport & reuseportOf(t)) === 0) return EADDRINUSE;
    } else if ((reuseport & reuseportOf(t)) === 0) {
      return EADDRINUSE;
    }
  }
  // A dual-stack v6 socket also claims the IPv4 port space (in6_pcbbind checks the mapped side).
  if (family === AF_INET6 && inp.inp_vflag & INP_IPV4 && IN6_IS_ADDR_UNSPECIFIED(laddr as Uint8Array)) {
    const t4 = info.lookupLocal(AF_INET, INADDR_ANY, lport, wildcard);
    if (t4 !== null && t4 !== inp && !(t4.inp_vflag & INP_IPV6) && (reuseport & reuseportOf(t4)) === 0) return EADDRINUSE;
    // ... and so do IPv4 TIME_WAIT vestiges (VTW), as the full IPv4 TIME_WAIT PCBs above.
    for (const s of info.shadows) if (s.bindConflict(AF_INET, INADDR_ANY, lport, opts, wildcard)) return EADDRINUSE;
  }
  for (const s of info.shadows) if (s.bindConflict(family, laddr, lport, opts, wildcard)) return EADDRINUSE;
  return 0;
}

/**
 * Choose an ephemeral port (in_pcb_lport / in_pcb_lport_dest). With a destination, only the
 * full 4-tuple must be free; otherwise the port must be free for binding.
 */
function pickPort(
  inp: Inpcb,
  family: number,
  laddr: number | Uint8Array,
  dest: { faddr: number | Uint8Array; fport: number } | null,
): { error: number; port: number } {
  const V = inp.inp_pcbinfo.V;
  const iv = V.inet;
  let first: number;
  let last: number;
  if (inp.inp_flags & INP_LOWPORT) {
    first = iv.portrange_lowfirst;
    last = iv.portrange_lowlast;
  } else {
    first = iv.portrange_first;
    last = iv.portrange_last;
  }
  if (first > last) [first, last] = [last, first];
  const count = last - first + 1;
  let port = iv.portrange_randomized ? (first + (V.rng.u32() % count)) | 0 : first;
  for (let tries = 0; tries < count; tries++) {
    const candidate = port;
    port = port >= last ? first : port + 1;
    if (dest !== null) {
      if (!inp.inp_pcbinfo.tupleInUse(family, dest.faddr, dest.fport, laddr, candidate)) {
        // Also avoid a port someone bound and is listening on with our address.
        const t = inp.inp_pcbinfo.lookupLocal(family, laddr, candidate, false);
        if (t === null) return { error: 0, port: candidate };
      }
    } else if (bindCheck(inp, family, laddr, candidate) === 0 && inp.inp_pcbinfo.lookupLocal(family, laddr, candidate, true) === null) {
      return { error: 0, port: candidate };
    }
  }
  return { error: EADDRNOTAVAIL, port: 0 };
}

/** bind() for an IPv4 PCB (in_pcbbind). */
export function in_pcbbind(inp: Inpcb, nam: SockaddrIn | null): number {
  const V = inp.inp_pcbinfo.V;
  if (inp.inp_lport !== 0 || inp.inp_laddr !== INADDR_ANY) return EINVAL;
  let laddr = INADDR_ANY;
  let lport = 0;
  if (nam !== null) {
    if (nam.family !== AF_INET) return EAFNOSUPPORT;
    laddr = nam.addr >>> 0;
    lport = nam.port;
    if (laddr !== INADDR_ANY && !IN_MULTICAST(laddr) && laddr !== INADDR_BROADCAST) {
      // The address must be one of ours.
      if (!V.inet.isLocal(laddr)) return EADDRNOTAVAIL;
    }
  }
  if (lport !== 0) {
    const e = bindCheck(inp, AF_INET, laddr, lport);
    if (e !== 0) return e;
  } else {
    const r = pickPort(inp, AF_INET, laddr, null);
    if (r.error !== 0) return r.error;
    lport = r.port;
    inp.inp_flags |= INP_ANONPORT;
  }
  inp.inp_laddr = laddr;
  inp.inp_lport = lport;
  inp.inp_pcbinfo.rehash(inp);
  return 0;
}

/** Source address for reaching `faddr` (in_pcbladdr): the route's interface address. */
export function in_pcbladdr(V: Vnet, faddr: number): { error: number; laddr: number } {
  const rt = V.rt.inet.lookup4(faddr);
  if (rt === null) {
    // A broadcast may go out the first broadcast-capable address.
    if (faddr === INADDR_BROADCAST && V.inet.addrs.length > 0) return { error: 0, laddr: (V.inet.addrs[0] as { ia_addr: number }).ia_addr };
    return { error: ENETUNREACH, laddr: 0 };
  }
  const ifa = rt.nhop.nh_ifa as { ia_addr?: number } | null;
  if (ifa && typeof ifa.ia_addr === 'number') {
    // A local route (our own address) sources from that address itself.
    return { error: 0, laddr: ifa.ia_addr };
  }
  const ia = V.inet.ifaOnIfp(rt.nhop.nh_ifp);
  if (ia === undefined) return { error: EHOSTUNREACH, laddr: 0 };
  return { error: 0, laddr: ia.ia_addr };
}

/**
 * connect() for an IPv4 PCB (in_pcbconnect): choose a source address and an ephemeral port
 * if needed, check the 4-tuple is free, and move the PCB to the exact table.
 */
export function in_pcbconnect(inp: Inpcb, nam: SockaddrIn): number {
  const V = inp.inp_pcbinfo.V;
  let faddr = nam.addr >>> 0;
  const fport = nam.port;
  if (fport === 0) return EADDRNOTAVAIL;
  // Connecting to INADDR_ANY means "this host" (BSD: the primary address).
  if (faddr === INADDR_ANY) {
    const ia = V.inet.addrs[0];
    if (ia === undefined) return EADDRNOTAVAIL;
    faddr = ia.ia_addr;
  }
  let laddr = inp.inp_laddr;
  if (laddr === INADDR_ANY) {
    const r = in_pcbladdr(V, faddr);
    if (r.error !== 0) return r.error;
    laddr = r.laddr;
  }
  let lport = inp.inp_lport;
  if (lport === 0) {
    const r = pickPort(inp, AF_INET, laddr, { faddr, fport });
    if (r.error !== 0) return r.error;
    lport = r.port;
    inp.inp_flags |= INP_ANONPORT;
  } else if (inp.inp_pcbinfo.tupleInUse(AF_INET, faddr, fport, laddr, lport)) {
    return EADDRINUSE;
  }
  inp.inp_laddr = laddr;
  inp.inp_lport = lport;
  inp.inp_faddr = faddr;
  inp.inp_fport = fport;
  inp.inp_route.invalidate();
  inp.inp_pcbinfo.rehash(inp);
  return 0;
}

/** Forget the foreign address (in_pcbdisconnect); the PCB goes back to the wild table. */
export function in_pcbdisconnect(inp: Inpcb): void {
  inp.inp_faddr = INADDR_ANY;
  inp.inp_fport = 0;
  inp.in6p_faddr = in6addr_any;
  inp.inp_route.invalidate();
  inp.inp_pcbinfo.rehash(inp);
}

// --- IPv6 ---

/** bind() for an IPv6 PCB (in6_pcbbind); a v4-mapped address binds the IPv4 side. */
export function in6_pcbbind(inp: Inpcb, nam: SockaddrIn6 | null): number {
  const V = inp.inp_pcbinfo.V;
  if (inp.inp_lport !== 0 || !IN6_IS_ADDR_UNSPECIFIED(inp.in6p_laddr) || inp.inp_laddr !== INADDR_ANY) return EINVAL;
  let laddr: Uint8Array = in6addr_any;
  let lport = 0;
  if (nam !== null) {
    if (nam.family !== AF_INET6) return EAFNOSUPPORT;
    lport = nam.port;
    if (IN6_IS_ADDR_V4MAPPED(nam.addr)) {
      if (inp.inp_flags & IN6P_IPV6_V6ONLY) return EINVAL;
      const v4 = in6_v4mapped_addr(nam.addr);
      if (v4 !== INADDR_ANY && !IN_MULTICAST(v4) && !V.inet.isLocal(v4)) return EADDRNOTAVAIL;
      inp.inp_vflag = (inp.inp_vflag & ~INP_IPV6) | INP_IPV4;
      const e = lport !== 0 ? bindCheck(inp, AF_INET, v4, lport) : 0;
      if (e !== 0) {
        inp.inp_vflag = (inp.inp_vflag & ~INP_IPV4) | INP_IPV6;
        return e;
      }
      return in_pcbbind(inp, sockaddr_in(v4, lport));
    }
    laddr = nam.addr;
    if (!IN6_IS_ADDR_UNSPECIFIED(laddr) && !IN6_IS_ADDR_MULTICAST(laddr) && !V.inet6.isLocal(laddr)) return EADDRNOTAVAIL;
  }
  const dual = IN6_IS_ADDR_UNSPECIFIED(laddr) && !(inp.inp_flags & IN6P_IPV6_V6ONLY);
  if (dual) inp.inp_vflag |= INP_IPV4;
  if (lport !== 0) {
    const e = bindCheck(inp, AF_INET6, laddr, lport);
    if (e !== 0) {
      if (dual) inp.inp_vflag &= ~INP_IPV4;
      return e;
    }
  } else {
    const r = pickPort(inp, AF_INET6, laddr, null);
    if (r.error !== 0) {
      if (dual) inp.inp_vflag &= ~INP_IPV4;
      return r.error;
    }
    lport = r.port;
    inp.inp_flags |= INP_ANONPORT;
  }
  inp.in6p_laddr = Uint8Array.from(laddr);
  inp.inp_lport = lport;
  inp.inp_pcbinfo.rehash(inp);
  return 0;
}

/**
 * connect() for an IPv6 PCB (in6_pcbconnect). A v4-mapped destination turns the PCB into
 * an IPv4 one (unless IPV6_V6ONLY) and connects through in_pcbconnect.
 */
export function in6_pcbconnect(inp: Inpcb, nam: SockaddrIn6): number {
  const V = inp.inp_pcbinfo.V;
  if (nam.port === 0) return EADDRNOTAVAIL;
  if (IN6_IS_ADDR_V4MAPPED(nam.addr)) {
    if (inp.inp_flags & IN6P_IPV6_V6ONLY) return EINVAL;
    if (!IN6_IS_ADDR_UNSPECIFIED(inp.in6p_laddr)) return EINVAL;
    inp.inp_vflag = (inp.inp_vflag & ~INP_IPV6) | INP_IPV4;
    const e = in_pcbconnect(inp, sockaddr_in(in6_v4mapped_addr(nam.addr), nam.port));
    if (e !== 0) inp.inp_vflag = (inp.inp_vflag & ~INP_IPV4) | INP_IPV6;
    return e;
  }
  let faddr = nam.addr;
  if (IN6_IS_ADDR_UNSPECIFIED(faddr)) {
    // "::" means this host: the loopback address.
    faddr = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
  }
  let laddr = inp.in6p_laddr;
  if (IN6_IS_ADDR_UNSPECIFIED(laddr)) {
    const r = in6_selectsrc(V, faddr, nam.scope_id);
    if (r.error !== 0) return r.error;
    laddr = r.addr as Uint8Array;
  }
  let lport = inp.inp_lport;
  if (lport === 0) {
    const r = pickPort(inp, AF_INET6, laddr, { faddr, fport: nam.port });
    if (r.error !== 0) return r.error;
    lport = r.port;
    inp.inp_flags |= INP_ANONPORT;
  } else if (inp.inp_pcbinfo.tupleInUse(AF_INET6, faddr, nam.port, laddr, lport)) {
    return EADDRINUSE;
  }
  // A connected IPv6 PCB no longer takes IPv4 traffic.
  inp.inp_vflag = (inp.inp_vflag & ~INP_IPV4) | INP_IPV6;
  inp.in6p_laddr = Uint8Array.from(laddr);
  inp.inp_lport = lport;
  inp.in6p_faddr = Uint8Array.from(faddr);
  inp.inp_fport = nam.port;
  inp.in6p_scope = nam.scope_id;
  inp.in6p_flowinfo = nam.flowinfo;
  inp.inp_route.invalidate();
  inp.inp_pcbinfo.rehash(inp);
  return 0;
}

/** Does this socket listen (for netstat and syncache lookups)? */
export function inp_islistening(inp: Inpcb): boolean {
  return inp.inp_socket !== null && (inp.inp_socket.so_options & SO_ACCEPTCONN) !== 0;
}

/** Convert any sockaddr to the family of a PCB for comparisons in tests and tools. */
export function pcbFamily(inp: Inpcb): number {
  return inp.inp_vflag & INP_IPV4 && !(inp.inp_vflag & INP_IPV6) ? AF_INET : AF_INET6;
}
