/*
 * Routing tables (BSD sys/net/route.c, radix.c, nhop.c): longest-prefix match for IPv4 and
 * IPv6, per Vnet.
 *
 * Each family's table is a multibit trie with an 8-bit stride: a node at depth d handles
 * byte d of the address. A prefix of length L lives in the node at depth ceil(L/8)-1 and
 * covers the 2^(8-r) slots that match its last r bits (controlled prefix expansion; a
 * /0 covers every slot of the root). A lookup walks at most 4 nodes for IPv4 and 16 for
 * IPv6 and remembers the best cover seen on the way down, since deeper entries are always
 * more specific. The cost therefore does not depend on how many routes there are.
 *
 * Nodes start small (a short list of (bits, length, route) entries, scanned linearly) and
 * expand to 256-slot arrays once they hold more than SMALL_MAX prefixes, which keeps a
 * 100k-route table compact while the worst-case per-node cost stays bounded.
 *
 * A route resolves to a next hop (struct nhop_object): outgoing interface, gateway, MTU and
 * flags. Connected routes come from interface addresses; the host route of each local
 * address points at the loopback interface (as FreeBSD's ifa_maintain_loopback_route does).
 */

import type { Ifaddr, Ifnet } from './if.js';

// rtentry flags (net/route.h), as shown by netstat -r
export const RTF_UP = 0x1;
export const RTF_GATEWAY = 0x2;
export const RTF_HOST = 0x4;
export const RTF_REJECT = 0x8;
export const RTF_DYNAMIC = 0x10;
export const RTF_MODIFIED = 0x20;
export const RTF_STATIC = 0x800;
export const RTF_BLACKHOLE = 0x1000;
export const RTF_PROTO1 = 0x8000;
export const RTF_BROADCAST = 0x400000;
export const RTF_PINNED = 0x100000;
/** bsdnet: route to a local address (delivered through the loopback interface). */
export const RTF_LOCAL = 0x200000;

// nexthop flags (net/route/nhop.h)
export const NHF_REJECT = 0x0010;
export const NHF_BLACKHOLE = 0x0020;
export const NHF_GATEWAY = 0x0200;
export const NHF_HOST = 0x0400;
export const NHF_DEFAULT = 0x0800;
export const NHF_BROADCAST = 0x1000;
export const NHF_LOCAL = 0x2000;

export interface Nhop {
  nh_ifp: Ifnet;
  /** The interface address the route belongs to (source selection). */
  nh_ifa: Ifaddr | null;
  nh_flags: number;
  /** Path MTU of this route (0: the interface MTU). */
  nh_mtu: number;
  /** Gateway (IPv4) when NHF_GATEWAY. */
  gw4: number;
  /** Gateway (IPv6) when NHF_GATEWAY. */
  gw6: Uint8Array | null;
}

export interface Rtentry {
  family: number;
  /** Destination prefix: 4 or 16 bytes, masked. */
  dst: Uint8Array;
  plen: number;
  flags: number;
  nhop: Nhop;
  /** Packets that used the route. */
  use: number;
  /** Expiry time (clock ns), 0 = never. */
  expire: number;
  /** @internal trie slot id */
  id: number;
}

export interface RouteSpec {
  ifp: Ifnet;
  ifa?: Ifaddr | null;
  gateway?: number | Uint8Array | null;
  flags?: number;
  mtu?: number;
  expire?: number;
}

const SMALL_MAX = 8;

class TrieNode {
  // Small form.
  sBits: number[] = [];
  sRem: number[] = [];
  sId: number[] = [];
  // Expanded form: best route id per slot and its prefix length within the node (0..8).
  best: Int32Array | null = null;
  bestRem: Int8Array | null = null;
  child: (TrieNode | null)[] | null = null;
  nchild = 0;

  get count(): number {
    return this.sId.length;
  }
}

function slotMask(rem: number): number {
  return (0xff00 >> rem) & 0xff;
}

/** One family's trie of prefixes. Keys are byte arrays of `width` bytes. */
export class PrefixTrie {
  readonly width: number;
  private readonly root = new TrieNode();
  private readonly routes: (Rtentry | null)[] = [];
  private readonly freeIds: number[] = [];
  private readonly byKey = new Map<string, Rtentry>();
  size = 0;

  constructor(width: number) {
    this.width = width;
  }

  private static key(dst: Uint8Array, plen: number): string {
    let s = '';
    for (let i = 0; i < dst.length; i++) s += String.fromCharCode(dst[i] as number);
    return `${s}/${plen}`;
  }

  get(dst: Uint8Array, plen: number): Rtentry | undefined {
    return this.byKey.get(PrefixTrie.key(dst, plen));
  }

  all(): Rtentry[] {
    return [...this.byKey.values()];
  }

  insert(rt: Rtentry): boolean {
    const k = PrefixTrie.key(rt.dst, rt.plen);
    if (this.byKey.has(k)) return false;
    const id = this.freeIds.length ? (this.freeIds.pop() as number) : this.routes.length;
    this.routes[id] = rt;
    rt.id = id;
    this.byKey.set(k, rt);
    const { node, bits, rem } = this.locate(rt.dst, rt.plen, true) as { node: TrieNode; bits: number; rem: number };
    node.sBits.push(bits);
    node.sRem.push(rem);
    node.sId.push(id);
    if (node.best !== null) this.expandOne(node, bits, rem, id);
    else if (node.count > SMALL_MAX) this.expand(node);
    this.size++;
    return true;
  }

  remove(dst: Uint8Array, plen: number): Rtentry | null {
    const k = PrefixTrie.key(dst, plen);
    const rt = this.byKey.get(k);
    if (rt === undefined) return null;
    this.byKey.delete(k);
    const loc = this.locate(dst, plen, false);
    if (loc) {
      const { node, bits, rem } = loc;
      const i = node.sId.indexOf(rt.id);
      if (i >= 0) {
        node.sBits.splice(i, 1);
        node.sRem.splice(i, 1);
        node.sId.splice(i, 1);
      }
      if (node.best !== null) {
        if (node.count <= SMALL_MAX / 2) {
          node.best = null;
          node.bestRem = null;
        } else {
          this.recompute(node, bits, rem);
        }
      }
    }
    this.routes[rt.id] = null;
    this.freeIds.push(rt.id);
    this.size--;
    return rt;
  }

  /** The node, slot bits and slot prefix length for a prefix; creates nodes if asked. */
  private locate(dst: Uint8Array, plen: number, create: boolean): { node: TrieNode; bits: number; rem: number } | null {
    const depth = plen === 0 ? 0 : Math.ceil(plen / 8) - 1;
    const rem = plen - depth * 8;
    let node = this.root;
    for (let d = 0; d < depth; d++) {
      const b = dst[d] as number;
      let c = node.child ? node.child[b] : null;
      if (!c) {
        if (!create) return null;
        if (node.child === null) node.child = new Array<TrieNode | null>(256).fill(null);
        c = new TrieNode();
        node.child[b] = c;
        node.nchild++;
      }
      node = c;
    }
    return { node, bits: (dst[depth] as number) & slotMask(rem), rem };
  }

  private expand(node: TrieNode): void {
    node.best = new Int32Array(256).fill(-1);
    node.bestRem = new Int8Array(256).fill(-1);
    for (let k = 0; k < node.count; k++) this.expandOne(node, node.sBits[k] as number, node.sRem[k] as number, node.sId[k] as number);
  }

  private expandOne(node: TrieNode, bits: number, rem: number, id: number): void {
    const best = node.best as Int32Array;
    const bestRem = node.bestRem as Int8Array;
    const end = bits + (1 << (8 - rem));
    for (let i = bits; i < end; i++) {
      if ((bestRem[i] as number) < rem) {
        best[i] = id;
        bestRem[i] = rem;
      }
    }
  }

  private recompute(node: TrieNode, bits: number, rem: number): void {
    const best = node.best as Int32Array;
    const bestRem = node.bestRem as Int8Array;
    const end = bits + (1 << (8 - rem));
    for (let i = bits; i < end; i++) {
      best[i] = -1;
      bestRem[i] = -1;
      for (let k = 0; k < node.count; k++) {
        const r = node.sRem[k] as number;
        if (r > (bestRem[i] as number) && (i & slotMask(r)) === node.sBits[k]) {
          best[i] = node.sId[k] as number;
          bestRem[i] = r;
        }
      }
    }
  }

  /** Longest-prefix match for the `width`-byte key at key[off...]. */
  lookup(key: Uint8Array, off = 0): Rtentry | null {
    let node: TrieNode | null = this.root;
    let found = -1;
    for (let d = 0; d < this.width && node !== null; d++) {
      const b = key[off + d] as number;
      found = bestIn(node, b, found);
      node = node.child !== null ? (node.child[b] as TrieNode | null) : null;
    }
    return found >= 0 ? (this.routes[found] as Rtentry) : null;
  }

  /** Longest-prefix match for an IPv4 address held as a number (no allocation). */
  lookup4(a: number): Rtentry | null {
    let node: TrieNode | null = this.root;
    let found = -1;
    for (let d = 0; d < 4 && node !== null; d++) {
      const b = (a >>> (24 - 8 * d)) & 0xff;
      found = bestIn(node, b, found);
      node = node.child !== null ? (node.child[b] as TrieNode | null) : null;
    }
    return found >= 0 ? (this.routes[found] as Rtentry) : null;
  }
}

function bestIn(node: TrieNode, b: number, found: number): number {
  if (node.best !== null) {
    const r = node.best[b] as number;
    return r >= 0 ? r : found;
  }
  let bestRem = -1;
  let best = found;
  const n = node.sId.length;
  for (let k = 0; k < n; k++) {
    const rem = node.sRem[k] as number;
    if (rem > bestRem && (b & slotMask(rem)) === node.sBits[k]) {
      bestRem = rem;
      best = node.sId[k] as number;
    }
  }
  return best;
}

function v4bytes(a: number): Uint8Array {
  return Uint8Array.of(a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff);
}

function maskBytes(dst: Uint8Array, plen: number): Uint8Array {
  const out = Uint8Array.from(dst);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, plen - i * 8));
    out[i] = (out[i] as number) & ((0xff00 >> bits) & 0xff);
  }
  return out;
}

export class RouteStats {
  /** Lookups that found no route. */
  rts_unreach = 0;
  rts_added = 0;
  rts_deleted = 0;
}

/** The routing tables of one Vnet. */
export class RouteTables {
  readonly inet = new PrefixTrie(4);
  readonly inet6 = new PrefixTrie(16);
  readonly stats = new RouteStats();
  /** Generation counter: bumped on every change, so cached routes can be revalidated. */
  gen = 0;
  /** Hooks run after a route change (PCB route caches, host cache). */
  readonly changeHooks: ((rt: Rtentry, op: 'add' | 'delete') => void)[] = [];

  private makeNhop(family: number, spec: RouteSpec, plen: number): Nhop {
    let f = 0;
    let gw4 = 0;
    let gw6: Uint8Array | null = null;
    if (spec.gateway !== undefined && spec.gateway !== null) {
      f |= NHF_GATEWAY;
      if (typeof spec.gateway === 'number') gw4 = spec.gateway >>> 0;
      else gw6 = Uint8Array.from(spec.gateway);
    }
    const flags = spec.flags ?? 0;
    if (plen === (family === 2 ? 32 : 128)) f |= NHF_HOST;
    if (plen === 0) f |= NHF_DEFAULT;
    if (flags & RTF_REJECT) f |= NHF_REJECT;
    if (flags & RTF_BLACKHOLE) f |= NHF_BLACKHOLE;
    if (flags & RTF_LOCAL) f |= NHF_LOCAL;
    if (flags & RTF_BROADCAST) f |= NHF_BROADCAST;
    return { nh_ifp: spec.ifp, nh_ifa: spec.ifa ?? null, nh_flags: f, nh_mtu: spec.mtu ?? 0, gw4, gw6 };
  }

  private add(trie: PrefixTrie, family: number, dst: Uint8Array, plen: number, spec: RouteSpec): Rtentry | null {
    const masked = maskBytes(dst, plen);
    let flags = RTF_UP | (spec.flags ?? 0);
    if (spec.gateway !== undefined && spec.gateway !== null) flags |= RTF_GATEWAY;
    if (plen === trie.width * 8) flags |= RTF_HOST;
    const rt: Rtentry = { family, dst: masked, plen, flags, nhop: this.makeNhop(family, spec, plen), use: 0, expire: spec.expire ?? 0, id: -1 };
    if (!trie.insert(rt)) return null;
    this.gen++;
    this.stats.rts_added++;
    for (const h of this.changeHooks) h(rt, 'add');
    return rt;
  }

  private del(trie: PrefixTrie, dst: Uint8Array, plen: number): Rtentry | null {
    const rt = trie.remove(maskBytes(dst, plen), plen);
    if (rt === null) return null;
    this.gen++;
    this.stats.rts_deleted++;
    for (const h of this.changeHooks) h(rt, 'delete');
    return rt;
  }

  /** Add an IPv4 route; null if one exists for that prefix (EEXIST). */
  add4(dst: number, plen: number, spec: RouteSpec): Rtentry | null {
    return this.add(this.inet, 2, v4bytes(dst), plen, spec);
  }

  del4(dst: number, plen: number): Rtentry | null {
    return this.del(this.inet, v4bytes(dst), plen);
  }

  get4(dst: number, plen: number): Rtentry | undefined {
    return this.inet.get(maskBytes(v4bytes(dst), plen), plen);
  }

  add6(dst: Uint8Array, plen: number, spec: RouteSpec): Rtentry | null {
    return this.add(this.inet6, 28, dst, plen, spec);
  }

  del6(dst: Uint8Array, plen: number): Rtentry | null {
    return this.del(this.inet6, dst, plen);
  }

  get6(dst: Uint8Array, plen: number): Rtentry | undefined {
    return this.inet6.get(maskBytes(dst, plen), plen);
  }

  /** IPv4 longest-prefix match (fib4_lookup). Counts unreachable lookups. */
  lookup4(dst: number): Rtentry | null {
    const rt = this.inet.lookup4(dst);
    if (rt === null) this.stats.rts_unreach++;
    else rt.use++;
    return rt;
  }

  /** IPv6 longest-prefix match (fib6_lookup). */
  lookup6(dst: Uint8Array, off = 0): Rtentry | null {
    const rt = this.inet6.lookup(dst, off);
    if (rt === null) this.stats.rts_unreach++;
    else rt.use++;
    return rt;
  }

  /** Remove every route through `ifp` (interface detach). */
  flushIfp(ifp: Ifnet): number {
    let n = 0;
    for (const rt of this.inet.all()) if (rt.nhop.nh_ifp === ifp && this.del(this.inet, rt.dst, rt.plen)) n++;
    for (const rt of this.inet6.all()) if (rt.nhop.nh_ifp === ifp && this.del(this.inet6, rt.dst, rt.plen)) n++;
    return n;
  }
}
