/*
 * Internet address families, socket addresses and address classification
 * (BSD netinet/in.h, netinet6/in6.h).
 *
 * Representation, chosen for speed in the hot paths:
 *   - an IPv4 address is a number: the 32-bit value in host order (0xc0000201 = 192.0.2.1);
 *   - an IPv6 address is a 16-byte Uint8Array (network order), compared with in6_equal.
 * A socket address is a small plain object tagged by family.
 */

import { inet_aton4, inet_ntoa4, inet_ntop6, inet_pton6 } from '../wire/addr.js';

export const AF_UNSPEC = 0;
export const AF_LOCAL = 1;
export const AF_INET = 2;
export const AF_LINK = 18;
export const AF_INET6 = 28;
export const PF_INET = AF_INET;
export const PF_INET6 = AF_INET6;

export const INADDR_ANY = 0x00000000;
export const INADDR_LOOPBACK = 0x7f000001;
export const INADDR_BROADCAST = 0xffffffff;
export const INADDR_NONE = 0xffffffff;
export const INADDR_ALLHOSTS_GROUP = 0xe0000001;
export const IN_LOOPBACKNET = 127;

export const IPPORT_RESERVED = 1024;
export const IPPORT_EPHEMERALFIRST = 10000;
export const IPPORT_EPHEMERALLAST = 65535;
export const IPPORT_MAX = 65535;

export interface SockaddrIn {
  family: typeof AF_INET;
  port: number;
  addr: number;
}

export interface SockaddrIn6 {
  family: typeof AF_INET6;
  port: number;
  addr: Uint8Array;
  flowinfo: number;
  scope_id: number;
}

export type Sockaddr = SockaddrIn | SockaddrIn6;

export function sockaddr_in(addr: number, port = 0): SockaddrIn {
  return { family: AF_INET, port, addr: addr >>> 0 };
}

export function sockaddr_in6(addr: Uint8Array, port = 0, scope_id = 0, flowinfo = 0): SockaddrIn6 {
  return { family: AF_INET6, port, addr: Uint8Array.from(addr), flowinfo, scope_id };
}

// --- IPv4 classification (in.h macros) ---

export function IN_MULTICAST(a: number): boolean {
  return a >>> 28 === 0xe;
}

export function IN_EXPERIMENTAL(a: number): boolean {
  return a >>> 28 === 0xf;
}

export function IN_LOOPBACK(a: number): boolean {
  return a >>> 24 === IN_LOOPBACKNET;
}

export function IN_ZERONET(a: number): boolean {
  return a >>> 24 === 0;
}

export function IN_LINKLOCAL(a: number): boolean {
  return a >>> 16 === 0xa9fe;
}

/** A netmask (host order) for a prefix length 0..32. */
export function in_prefixmask(plen: number): number {
  return plen <= 0 ? 0 : plen >= 32 ? 0xffffffff : (0xffffffff << (32 - plen)) >>> 0;
}

/** Prefix length of a contiguous netmask, or -1 if not contiguous. */
export function in_mask2len(mask: number): number {
  mask >>>= 0;
  let n = 0;
  while (n < 32 && (mask & (0x80000000 >>> n)) !== 0) n++;
  return in_prefixmask(n) === mask ? n : -1;
}

// --- IPv6 classification (in6.h macros) ---

export const in6addr_any = new Uint8Array(16);
export const in6addr_loopback = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
export const in6addr_linklocal_allnodes = Uint8Array.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
export const in6addr_linklocal_allrouters = Uint8Array.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);

export function in6_equal(a: Uint8Array, aoff: number, b: Uint8Array, boff: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aoff + i] !== b[boff + i]) return false;
  return true;
}

export function IN6_ARE_ADDR_EQUAL(a: Uint8Array, b: Uint8Array): boolean {
  return in6_equal(a, 0, b, 0);
}

export function IN6_IS_ADDR_UNSPECIFIED(a: Uint8Array, o = 0): boolean {
  for (let i = 0; i < 16; i++) if (a[o + i] !== 0) return false;
  return true;
}

export function IN6_IS_ADDR_LOOPBACK(a: Uint8Array, o = 0): boolean {
  for (let i = 0; i < 15; i++) if (a[o + i] !== 0) return false;
  return a[o + 15] === 1;
}

export function IN6_IS_ADDR_MULTICAST(a: Uint8Array, o = 0): boolean {
  return a[o] === 0xff;
}

export function IN6_IS_ADDR_LINKLOCAL(a: Uint8Array, o = 0): boolean {
  return a[o] === 0xfe && ((a[o + 1] as number) & 0xc0) === 0x80;
}

export function IN6_IS_ADDR_MC_LINKLOCAL(a: Uint8Array, o = 0): boolean {
  return a[o] === 0xff && ((a[o + 1] as number) & 0x0f) === 0x02;
}

export function IN6_IS_ADDR_MC_INTFACELOCAL(a: Uint8Array, o = 0): boolean {
  return a[o] === 0xff && ((a[o + 1] as number) & 0x0f) === 0x01;
}

export function IN6_IS_ADDR_V4MAPPED(a: Uint8Array, o = 0): boolean {
  for (let i = 0; i < 10; i++) if (a[o + i] !== 0) return false;
  return a[o + 10] === 0xff && a[o + 11] === 0xff;
}

export function IN6_IS_SCOPE_LINKLOCAL(a: Uint8Array, o = 0): boolean {
  return IN6_IS_ADDR_LINKLOCAL(a, o) || IN6_IS_ADDR_MC_LINKLOCAL(a, o);
}

/** The IPv4 address embedded in a v4-mapped IPv6 address. */
export function in6_v4mapped_addr(a: Uint8Array, o = 0): number {
  return ((a[o + 12] as number) * 0x1000000 + (((a[o + 13] as number) << 16) | ((a[o + 14] as number) << 8) | (a[o + 15] as number))) >>> 0;
}

/** ::ffff:a.b.c.d for an IPv4 address. */
export function in6_v4mapped(v4: number): Uint8Array {
  const a = new Uint8Array(16);
  a[10] = 0xff;
  a[11] = 0xff;
  a[12] = v4 >>> 24;
  a[13] = (v4 >>> 16) & 0xff;
  a[14] = (v4 >>> 8) & 0xff;
  a[15] = v4 & 0xff;
  return a;
}

/** Mask `a` to `plen` bits in place (returns a). */
export function in6_prefix_mask(a: Uint8Array, plen: number): Uint8Array {
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, plen - i * 8));
    a[i] = (a[i] as number) & ((0xff00 >> bits) & 0xff);
  }
  return a;
}

/** True when a and b agree on their first `plen` bits. */
export function in6_prefix_match(a: Uint8Array, aoff: number, b: Uint8Array, boff: number, plen: number): boolean {
  let i = 0;
  for (; plen >= 8; plen -= 8, i++) if (a[aoff + i] !== b[boff + i]) return false;
  if (plen === 0) return true;
  const m = (0xff00 >> plen) & 0xff;
  return (((a[aoff + i] as number) ^ (b[boff + i] as number)) & m) === 0;
}

/** Solicited-node multicast address ff02::1:ffXX:XXXX for `a` (RFC 4291 §2.7.1). */
export function in6_solicited_node(a: Uint8Array, o = 0): Uint8Array {
  const m = new Uint8Array(16);
  m[0] = 0xff;
  m[1] = 0x02;
  m[11] = 0x01;
  m[12] = 0xff;
  m[13] = a[o + 13] as number;
  m[14] = a[o + 14] as number;
  m[15] = a[o + 15] as number;
  return m;
}

/** Ethernet multicast address 33:33:xx:xx:xx:xx for an IPv6 multicast group (RFC 2464 §7). */
export function ether_map_ip6_multicast(a: Uint8Array, o: number, out: Uint8Array): void {
  out[0] = 0x33;
  out[1] = 0x33;
  out[2] = a[o + 12] as number;
  out[3] = a[o + 13] as number;
  out[4] = a[o + 14] as number;
  out[5] = a[o + 15] as number;
}

/** Ethernet multicast address 01:00:5e:.. for an IPv4 group (RFC 1112 §6.4). */
export function ether_map_ip_multicast(a: number, out: Uint8Array): void {
  out[0] = 0x01;
  out[1] = 0x00;
  out[2] = 0x5e;
  out[3] = (a >>> 16) & 0x7f;
  out[4] = (a >>> 8) & 0xff;
  out[5] = a & 0xff;
}

// --- text forms ---

/** Parse an IPv4 or IPv6 literal into a sockaddr (port 0), or null. Accepts "fe80::1%3". */
export function parseAddress(s: string, port = 0): Sockaddr | null {
  const v4 = inet_aton4(s);
  if (v4 !== null) return sockaddr_in(v4, port);
  let scope = 0;
  let text = s;
  const pct = s.indexOf('%');
  if (pct >= 0) {
    const z = s.slice(pct + 1);
    if (!/^\d+$/.test(z)) return null;
    scope = Number(z);
    text = s.slice(0, pct);
  }
  const v6 = inet_pton6(text);
  if (v6 === null) return null;
  return sockaddr_in6(v6, port, scope);
}

export function formatAddress(sa: Sockaddr): string {
  if (sa.family === AF_INET) return inet_ntoa4(sa.addr);
  const t = inet_ntop6(sa.addr);
  return sa.scope_id && IN6_IS_SCOPE_LINKLOCAL(sa.addr) ? `${t}%${sa.scope_id}` : t;
}

/** "a.b.c.d:port" or "[v6]:port". */
export function formatSockaddr(sa: Sockaddr): string {
  return sa.family === AF_INET ? `${formatAddress(sa)}:${sa.port}` : `[${formatAddress(sa)}]:${sa.port}`;
}

export function sockaddrEqual(a: Sockaddr, b: Sockaddr): boolean {
  if (a.family !== b.family || a.port !== b.port) return false;
  if (a.family === AF_INET) return a.addr === (b as SockaddrIn).addr;
  return in6_equal(a.addr, 0, (b as SockaddrIn6).addr, 0) && a.scope_id === (b as SockaddrIn6).scope_id;
}

export function ntoa(a: number): string {
  return inet_ntoa4(a);
}

export function ntop6(a: Uint8Array): string {
  return inet_ntop6(a);
}
