/*
 * Address text forms: IPv4 dotted quads, IPv6 text (RFC 4291 §2.2 in, RFC 5952 out) and
 * Ethernet MAC addresses.
 *
 * Owns: conversion between text and the wire layer's address values (IPv4 as a uint32 in
 * host order, IPv6 and MAC as bytes). Must not: allocate on any packet path (these are for
 * configuration, APIs and traces), throw on bad text (bad text → null).
 */

/**
 * Dotted-quad text → uint32 (e.g. '10.0.0.1' → 0x0a000001), or null.
 *
 * Strict inet_pton(AF_INET) syntax: exactly four decimal parts 0..255, no leading zeros
 * (which inet_aton(3) would read as octal), no whitespace.
 */
export function inet_aton4(s: string): number | null {
  if (typeof s !== 'string' || s.length < 7 || s.length > 15) return null;
  let n = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || parts === 4) return null;
      n = n * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return null; // leading zero
      part = part * 10 + (c - 0x30);
      if (part > 255) return null;
      digits++;
    } else {
      return null;
    }
  }
  return parts === 4 ? n : null;
}

/** uint32 → dotted-quad text. */
export function inet_ntoa4(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * IPv6 text → 16 bytes, or null. Accepts every RFC 4291 §2.2 form: full, `::`-compressed
 * (at most once), leading zeros in groups (up to 4 hex digits), upper or lower case, and a
 * trailing dotted quad for the last 32 bits (`::ffff:192.0.2.1`). Zone ids (`%eth0`) and
 * prefix lengths are not addresses and are rejected.
 */
export function inet_pton6(s: string): Uint8Array | null {
  if (typeof s !== 'string' || s.length < 2 || s.length > 45) return null;
  const out = new Uint8Array(16);
  let w = 0; // bytes written
  let gap = -1; // byte index where '::' was
  let i = 0;
  const n = s.length;
  if (s.charCodeAt(0) === 0x3a) {
    if (s.charCodeAt(1) !== 0x3a) return null; // a single leading ':'
    gap = 0;
    i = 2;
    if (i === n) return out; // '::'
  }
  for (;;) {
    // One group (hex) or, at the end, a dotted quad.
    let v = 0;
    let digits = 0;
    const start = i;
    while (i < n && digits < 5) {
      const h = hexVal(s.charCodeAt(i));
      if (h < 0) break;
      v = v * 16 + h;
      digits++;
      i++;
    }
    if (i < n && s.charCodeAt(i) === 0x2e) {
      // Embedded IPv4 in the last 32 bits (RFC 4291 §2.2 form 3).
      if (w > 12) return null;
      const v4 = inet_aton4(s.slice(start));
      if (v4 === null) return null;
      out[w++] = v4 >>> 24;
      out[w++] = (v4 >>> 16) & 0xff;
      out[w++] = (v4 >>> 8) & 0xff;
      out[w++] = v4 & 0xff;
      break;
    }
    if (digits === 0 || digits > 4 || w > 14) return null;
    out[w++] = v >>> 8;
    out[w++] = v & 0xff;
    if (i === n) break;
    if (s.charCodeAt(i) !== 0x3a) return null;
    i++;
    if (i < n && s.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return null; // '::' twice
      gap = w;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return null; // trailing single ':'
    }
  }
  if (gap >= 0) {
    // '::' stands for one or more zero groups (RFC 4291 §2.2 form 2; RFC 5952 §4.2.2 says
    // emit it for two or more, but one is valid input).
    if (w === 16) return null;
    const tail = w - gap;
    out.copyWithin(16 - tail, gap, w);
    out.fill(0, gap, 16 - tail);
  } else if (w !== 16) {
    return null;
  }
  return out;
}

/**
 * 16 bytes at `off` → canonical IPv6 text (RFC 5952 §4): lowercase hex, no leading zeros,
 * the longest run of two or more zero groups compressed to `::` (the first run on a tie),
 * and IPv4-mapped addresses as `::ffff:a.b.c.d` (§5).
 */
export function inet_ntop6(a: Uint8Array, off = 0): string {
  const g = (k: number): number => ((a[off + 2 * k] as number) << 8) | (a[off + 2 * k + 1] as number);
  // §5: IPv4-mapped ::ffff:0:0/96.
  if (g(0) === 0 && g(1) === 0 && g(2) === 0 && g(3) === 0 && g(4) === 0 && g(5) === 0xffff) {
    return `::ffff:${a[off + 12]}.${a[off + 13]}.${a[off + 14]}.${a[off + 15]}`;
  }
  // §4.2.1-3: find the longest zero run of length ≥ 2, first one on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (g(k) !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g(e) === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  let s = '';
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      s += '::';
      k += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += g(k).toString(16);
  }
  return s;
}

/** MAC address (6 bytes at `off`) → 'xx:xx:xx:xx:xx:xx' in lowercase. */
export function ether_ntoa(mac: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    if (i > 0) s += ':';
    s += (mac[off + i] as number).toString(16).padStart(2, '0');
  }
  return s;
}

/**
 * 'xx:xx:xx:xx:xx:xx' (or with '-' separators, either case, one or two hex digits per
 * octet as ether_aton(3) accepts) → 6 bytes, or null.
 */
export function ether_aton(s: string): Uint8Array | null {
  if (typeof s !== 'string') return null;
  const parts = s.split(/[:-]/);
  if (parts.length !== 6) return null;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    const p = parts[i] as string;
    if (p.length < 1 || p.length > 2 || !/^[0-9a-fA-F]+$/.test(p)) return null;
    out[i] = Number.parseInt(p, 16);
  }
  return out;
}
