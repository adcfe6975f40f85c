/*
 * IPv4 header (RFC 791), with options.
 *
 * Owns: the layout of the IPv4 header and its options: a view (Ipv4View) with header
 * checksum helpers, and Ipv4Repr with parseIpv4/emitIpv4/ipv4ReprLen. Options are decoded
 * structurally (RFC 791 §3.1: lengths, slots) and kept faithfully, pointers included; their
 * meaning (source routing, record route, timestamps, parameter problems) is the business of
 * netinet/ip_options.ts. Must not: keep state, log, or throw on bad input (parse returns a
 * rejection); accessors never allocate. Addresses are uint32 host-order values.
 */

import { get16, get32, set16, set32 } from './bytes.js';
import { inCksum } from './checksum.js';
import { fail, ok, type ParseResult } from './types.js';

export const IPVERSION = 4;
export const IP_HDR_LEN = 20; // minimum header
export const IP_MAXHDRLEN = 60;
export const IP_MAXPACKET = 65535;

// Field offsets
export const IP_OFF_VHL = 0; // version(4) | ihl(4)
export const IP_OFF_TOS = 1; // DSCP(6) | ECN(2)
export const IP_OFF_LEN = 2;
export const IP_OFF_ID = 4;
export const IP_OFF_OFF = 6; // flags(3) | fragment offset(13), in 8-byte units
export const IP_OFF_TTL = 8;
export const IP_OFF_P = 9;
export const IP_OFF_SUM = 10;
export const IP_OFF_SRC = 12;
export const IP_OFF_DST = 16;

// ip_off flags
export const IP_RF = 0x8000; // reserved
export const IP_DF = 0x4000; // don't fragment
export const IP_MF = 0x2000; // more fragments
export const IP_OFFMASK = 0x1fff;

// ECN codepoints (RFC 3168) in the low two bits of TOS
export const IPTOS_ECN_NOTECT = 0x00;
export const IPTOS_ECN_ECT1 = 0x01;
export const IPTOS_ECN_ECT0 = 0x02;
export const IPTOS_ECN_CE = 0x03;
export const IPTOS_ECN_MASK = 0x03;

// Protocol numbers
export const IPPROTO_IP = 0;
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IGMP = 2;
export const IPPROTO_IPV4 = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_GRE = 47;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_SCTP = 132;
export const IPPROTO_UDPLITE = 136;
export const IPPROTO_RAW = 255;

// Options (RFC 791 §3.1)
export const IPOPT_EOL = 0;
export const IPOPT_NOP = 1;
export const IPOPT_RR = 7;
export const IPOPT_TS = 68;
export const IPOPT_SECURITY = 130;
export const IPOPT_LSRR = 131;
export const IPOPT_SSRR = 137;
export const IPOPT_RA = 148;

export const IPDEFTTL = 64;
/** Stream identifier (RFC 791 §3.1, obsolete); parsed as an unknown option. */
export const IPOPT_SATID = 136;

// Offsets inside an option (BSD ip.h).
export const IPOPT_OPTVAL = 0;
export const IPOPT_OLEN = 1;
export const IPOPT_OFFSET = 2;
/** Smallest valid pointer of a route or timestamp option (RFC 791: "the smallest legal value is 4"). */
export const IPOPT_MINOFF = 4;

// Timestamp option flags (RFC 791 §3.1, Internet Timestamp).
export const IPOPT_TS_TSONLY = 0;
export const IPOPT_TS_TSANDADDR = 1;
export const IPOPT_TS_PRESPEC = 3;

/** Longest options area: 60 - 20 bytes. */
export const IP_MAX_OPTLEN = IP_MAXHDRLEN - IP_HDR_LEN;

/** The "copied" flag of an option type: copy into every fragment (BSD IPOPT_COPIED). */
export function IPOPT_COPIED(type: number): boolean {
  return (type & 0x80) !== 0;
}
/** Option class, bits 5-6 (0 control, 2 debugging and measurement). */
export function IPOPT_CLASS(type: number): number {
  return type & 0x60;
}
/** Option number, low 5 bits. */
export function IPOPT_NUMBER(type: number): number {
  return type & 0x1f;
}

const EMPTY = new Uint8Array(0);

/**
 * View over an IPv4 packet at buf[off..off+len). `len` is the bytes available (may exceed
 * the total length by link-layer padding). Reuse with attach(); use checked() on input.
 */
export class Ipv4View {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  attach(buf: Uint8Array, off = 0, len = buf.length - off): this {
    this.buf = buf;
    this.off = off;
    this.len = len;
    return this;
  }

  /**
   * A view when the range lies in buf, version is 4, 20 ≤ header length ≤ total length ≤
   * len; else null. Afterwards every accessor, options() and payload() stay in range.
   */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): Ipv4View | null {
    if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < IP_HDR_LEN || off + len > buf.length) return null;
    const vhl = buf[off + IP_OFF_VHL] as number;
    const hl = (vhl & 0x0f) << 2;
    if (vhl >>> 4 !== IPVERSION || hl < IP_HDR_LEN || hl > len) return null;
    const total = get16(buf, off + IP_OFF_LEN);
    if (total < hl || total > len) return null;
    return new Ipv4View().attach(buf, off, len);
  }

  get version(): number {
    return (this.buf[this.off + IP_OFF_VHL] as number) >>> 4;
  }
  set version(v: number) {
    this.buf[this.off + IP_OFF_VHL] = ((v & 0x0f) << 4) | ((this.buf[this.off + IP_OFF_VHL] as number) & 0x0f);
  }
  /** Header length in bytes (IHL × 4). */
  get headerLen(): number {
    return ((this.buf[this.off + IP_OFF_VHL] as number) & 0x0f) << 2;
  }
  set headerLen(v: number) {
    this.buf[this.off + IP_OFF_VHL] = ((this.buf[this.off + IP_OFF_VHL] as number) & 0xf0) | ((v >>> 2) & 0x0f);
  }
  /** Type of service octet: DSCP (6 bits) | ECN (2 bits) (RFC 2474, RFC 3168). */
  get tos(): number {
    return this.buf[this.off + IP_OFF_TOS] as number;
  }
  set tos(v: number) {
    this.buf[this.off + IP_OFF_TOS] = v;
  }
  get dscp(): number {
    return (this.buf[this.off + IP_OFF_TOS] as number) >>> 2;
  }
  set dscp(v: number) {
    this.tos = ((v & 0x3f) << 2) | (this.tos & IPTOS_ECN_MASK);
  }
  get ecn(): number {
    return (this.buf[this.off + IP_OFF_TOS] as number) & IPTOS_ECN_MASK;
  }
  set ecn(v: number) {
    this.tos = (this.tos & ~IPTOS_ECN_MASK) | (v & IPTOS_ECN_MASK);
  }
  /** Total length (header + payload) in bytes. */
  get totalLen(): number {
    return get16(this.buf, this.off + IP_OFF_LEN);
  }
  set totalLen(v: number) {
    set16(this.buf, this.off + IP_OFF_LEN, v);
  }
  get id(): number {
    return get16(this.buf, this.off + IP_OFF_ID);
  }
  set id(v: number) {
    set16(this.buf, this.off + IP_OFF_ID, v);
  }
  /** The raw flags | fragment-offset word (BSD ip_off). */
  get ipOff(): number {
    return get16(this.buf, this.off + IP_OFF_OFF);
  }
  set ipOff(v: number) {
    set16(this.buf, this.off + IP_OFF_OFF, v);
  }
  /** Reserved flag (must be zero, RFC 791 §3.1). */
  get rf(): boolean {
    return (this.ipOff & IP_RF) !== 0;
  }
  set rf(v: boolean) {
    this.ipOff = v ? this.ipOff | IP_RF : this.ipOff & ~IP_RF;
  }
  get df(): boolean {
    return (this.ipOff & IP_DF) !== 0;
  }
  set df(v: boolean) {
    this.ipOff = v ? this.ipOff | IP_DF : this.ipOff & ~IP_DF;
  }
  get mf(): boolean {
    return (this.ipOff & IP_MF) !== 0;
  }
  set mf(v: boolean) {
    this.ipOff = v ? this.ipOff | IP_MF : this.ipOff & ~IP_MF;
  }
  /** Fragment offset in bytes (the field × 8). */
  get fragOff(): number {
    return (this.ipOff & IP_OFFMASK) << 3;
  }
  set fragOff(v: number) {
    this.ipOff = (this.ipOff & ~IP_OFFMASK) | ((v >>> 3) & IP_OFFMASK);
  }
  /** MF set or a non-zero offset. */
  get isFragment(): boolean {
    return (this.ipOff & (IP_MF | IP_OFFMASK)) !== 0;
  }
  get ttl(): number {
    return this.buf[this.off + IP_OFF_TTL] as number;
  }
  set ttl(v: number) {
    this.buf[this.off + IP_OFF_TTL] = v;
  }
  get proto(): number {
    return this.buf[this.off + IP_OFF_P] as number;
  }
  set proto(v: number) {
    this.buf[this.off + IP_OFF_P] = v;
  }
  get checksum(): number {
    return get16(this.buf, this.off + IP_OFF_SUM);
  }
  set checksum(v: number) {
    set16(this.buf, this.off + IP_OFF_SUM, v);
  }
  get src(): number {
    return get32(this.buf, this.off + IP_OFF_SRC);
  }
  set src(v: number) {
    set32(this.buf, this.off + IP_OFF_SRC, v);
  }
  get dst(): number {
    return get32(this.buf, this.off + IP_OFF_DST);
  }
  set dst(v: number) {
    set32(this.buf, this.off + IP_OFF_DST, v);
  }
  /** The options area (header bytes 20..headerLen) as a subarray view. */
  options(): Uint8Array {
    return this.buf.subarray(this.off + IP_HDR_LEN, this.off + this.headerLen);
  }
  /** The payload (headerLen..totalLen) as a subarray view. */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + this.headerLen, this.off + this.totalLen);
  }
  /** RFC 791 §3.1 / RFC 1071: the header sums to zero when intact. */
  verifyChecksum(): boolean {
    return inCksum(this.buf, this.off, this.headerLen) === 0;
  }
  /** Compute and store the header checksum. */
  fillChecksum(): void {
    set16(this.buf, this.off + IP_OFF_SUM, 0);
    set16(this.buf, this.off + IP_OFF_SUM, inCksum(this.buf, this.off, this.headerLen));
  }
}

/**
 * One IPv4 option (RFC 791 §3.1).
 *   - eol: End of Option List (type 0). Emit always pads the list with EOL octets to a
 *     4-byte boundary, so lists normally leave it out; parse yields it (as the last element)
 *     only when the header carries more padding than that, so that emit reproduces the
 *     header length. Nothing may follow it;
 *   - nop: No Operation (type 1);
 *   - rr / lsrr / ssrr: Record Route (7), Loose (131) / Strict (137) Source and Record Route:
 *     `pointer` is the raw octet (4 = first slot) and `route` holds every slot, empty ones 0;
 *   - ts: Internet Timestamp (68): raw pointer, overflow (4 bits) and flag (4 bits), and the
 *     data as 32-bit words (flag 0: timestamps; flags 1 and 3: address, timestamp pairs);
 *   - ra: Router Alert (148, RFC 2113), 16-bit value;
 *   - security: Security (130; RFC 791 S/C/H/TCC, or RFC 1108 level and authority flags):
 *     the octets after type and length;
 *   - unknown: any other type, its octets after type and length kept raw.
 */
export type Ipv4Option =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'rr' | 'lsrr' | 'ssrr'; pointer: number; route: number[] }
  | { kind: 'ts'; pointer: number; overflow: number; flag: number; words: number[] }
  | { kind: 'ra'; value: number }
  | { kind: 'security'; data: Uint8Array }
  | { kind: 'unknown'; type: number; data: Uint8Array };

/**
 * An IPv4 header. Lengths and the checksum are not part of it: emit computes them.
 * `fragOff` is in bytes (a multiple of 8, at most 65528). The option list's encoded
 * length (ipv4OptionsLen) must not exceed 40.
 */
export interface Ipv4Repr {
  /** Type of service octet: DSCP << 2 | ECN. */
  tos: number;
  id: number;
  /** Reserved flag bit, kept as received (RFC 791: must be zero). */
  rf: boolean;
  df: boolean;
  mf: boolean;
  fragOff: number;
  ttl: number;
  proto: number;
  src: number;
  dst: number;
  options: Ipv4Option[];
}

/** What parseIpv4 returns. */
export interface Ipv4Parsed {
  repr: Ipv4Repr;
  /** Header length in bytes, options included. */
  headerLen: number;
  /** Absolute offset of the payload in the buffer. */
  payloadOff: number;
  /** Total length minus header length (link padding beyond the total length excluded). */
  payloadLen: number;
}

/** Encoded length of one option. */
export function ipv4OptionLen(o: Ipv4Option): number {
  switch (o.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'rr':
    case 'lsrr':
    case 'ssrr':
      return 3 + 4 * o.route.length;
    case 'ts':
      return 4 + 4 * o.words.length;
    case 'ra':
      return 4;
    case 'security':
    case 'unknown':
      return 2 + o.data.length;
  }
}

/** Encoded length of an option list, padded to a multiple of 4. */
export function ipv4OptionsLen(options: readonly Ipv4Option[]): number {
  let n = 0;
  for (const o of options) n += ipv4OptionLen(o);
  return (n + 3) & ~3;
}

/** Bytes that emitIpv4 writes: 20 + padded options. */
export function ipv4ReprLen(repr: Ipv4Repr): number {
  return IP_HDR_LEN + ipv4OptionsLen(repr.options);
}

function routeKind(type: number): 'rr' | 'lsrr' | 'ssrr' | null {
  return type === IPOPT_RR ? 'rr' : type === IPOPT_LSRR ? 'lsrr' : type === IPOPT_SSRR ? 'ssrr' : null;
}

/**
 * Decode the options area buf[off..end). Structural checks only (RFC 791 §3.1): every
 * option but EOL and NOP has a length octet ≥ 2 that stays inside the area; route options
 * are 3 + 4n long, timestamps 4 + 4n, router alert exactly 4. Never throws.
 */
export function parseIpv4Options(buf: Uint8Array, off: number, end: number): ParseResult<Ipv4Option[]> {
  const out: Ipv4Option[] = [];
  let i = off;
  while (i < end) {
    const type = buf[i] as number;
    if (type === IPOPT_EOL) {
      // The rest is padding. Keep the EOL only when emit's own padding would be shorter.
      if (((i - off + 3) & ~3) !== end - off) out.push({ kind: 'eol' });
      break;
    }
    if (type === IPOPT_NOP) {
      out.push({ kind: 'nop' });
      i++;
      continue;
    }
    if (i + 1 >= end) return fail('truncated option');
    const olen = buf[i + IPOPT_OLEN] as number;
    if (olen < 2 || i + olen > end) return fail('bad option length');
    const rk = routeKind(type);
    if (rk !== null) {
      if (olen < 3 || (olen - 3) % 4 !== 0) return fail('bad route option length');
      const route: number[] = [];
      for (let k = i + 3; k < i + olen; k += 4) route.push(get32(buf, k));
      out.push({ kind: rk, pointer: buf[i + IPOPT_OFFSET] as number, route });
    } else if (type === IPOPT_TS) {
      if (olen < 4 || (olen - 4) % 4 !== 0) return fail('bad timestamp option length');
      const of = buf[i + 3] as number;
      const words: number[] = [];
      for (let k = i + 4; k < i + olen; k += 4) words.push(get32(buf, k));
      out.push({ kind: 'ts', pointer: buf[i + IPOPT_OFFSET] as number, overflow: of >>> 4, flag: of & 0x0f, words });
    } else if (type === IPOPT_RA) {
      if (olen !== 4) return fail('bad router alert length'); // RFC 2113 §2.1
      out.push({ kind: 'ra', value: get16(buf, i + 2) });
    } else if (type === IPOPT_SECURITY) {
      out.push({ kind: 'security', data: buf.slice(i + 2, i + olen) });
    } else {
      out.push({ kind: 'unknown', type, data: buf.slice(i + 2, i + olen) });
    }
    i += olen;
  }
  return ok(out);
}

/** Encode options at buf[off..], pad with EOL to a multiple of 4; return bytes written. */
export function emitIpv4Options(options: readonly Ipv4Option[], buf: Uint8Array, off: number): number {
  let p = off;
  for (const o of options) {
    switch (o.kind) {
      case 'eol':
        buf[p++] = IPOPT_EOL;
        break;
      case 'nop':
        buf[p++] = IPOPT_NOP;
        break;
      case 'rr':
      case 'lsrr':
      case 'ssrr': {
        buf[p] = o.kind === 'rr' ? IPOPT_RR : o.kind === 'lsrr' ? IPOPT_LSRR : IPOPT_SSRR;
        buf[p + 1] = 3 + 4 * o.route.length;
        buf[p + 2] = o.pointer;
        p += 3;
        for (const a of o.route) {
          set32(buf, p, a);
          p += 4;
        }
        break;
      }
      case 'ts':
        buf[p] = IPOPT_TS;
        buf[p + 1] = 4 + 4 * o.words.length;
        buf[p + 2] = o.pointer;
        buf[p + 3] = ((o.overflow & 0x0f) << 4) | (o.flag & 0x0f);
        p += 4;
        for (const w of o.words) {
          set32(buf, p, w);
          p += 4;
        }
        break;
      case 'ra':
        buf[p] = IPOPT_RA;
        buf[p + 1] = 4;
        set16(buf, p + 2, o.value);
        p += 4;
        break;
      case 'security':
      case 'unknown':
        buf[p] = o.kind === 'security' ? IPOPT_SECURITY : o.type;
        buf[p + 1] = 2 + o.data.length;
        buf.set(o.data, p + 2);
        p += 2 + o.data.length;
        break;
    }
  }
  while ((p - off) & 3) buf[p++] = IPOPT_EOL;
  return p - off;
}

/**
 * Parse an IPv4 header at buf[off..off+len). Never throws. Rejects (RFC 791 §3.1, RFC 1122
 * §3.2.1.1-2): a range outside buf, fewer than 20 bytes, version ≠ 4, IHL < 5, a header
 * longer than the data, a total length below the header length or beyond the data, a bad
 * header checksum (when `verifyChecksum`), and structurally malformed options.
 */
export function parseIpv4(buf: Uint8Array, off = 0, len = buf.length - off, verifyChecksum = true): ParseResult<Ipv4Parsed> {
  if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > buf.length) return fail('range outside buffer');
  if (len < IP_HDR_LEN) return fail('truncated header');
  const vhl = buf[off + IP_OFF_VHL] as number;
  if (vhl >>> 4 !== IPVERSION) return fail('bad version');
  const hl = (vhl & 0x0f) << 2;
  if (hl < IP_HDR_LEN) return fail('bad header length');
  if (hl > len) return fail('truncated header');
  const total = get16(buf, off + IP_OFF_LEN);
  if (total < hl) return fail('bad total length');
  if (total > len) return fail('truncated packet');
  if (verifyChecksum && inCksum(buf, off, hl) !== 0) return fail('bad checksum');
  const opts = parseIpv4Options(buf, off + IP_HDR_LEN, off + hl);
  if (!opts.ok) return fail(opts.error);
  const ipoff = get16(buf, off + IP_OFF_OFF);
  const repr: Ipv4Repr = {
    tos: buf[off + IP_OFF_TOS] as number,
    id: get16(buf, off + IP_OFF_ID),
    rf: (ipoff & IP_RF) !== 0,
    df: (ipoff & IP_DF) !== 0,
    mf: (ipoff & IP_MF) !== 0,
    fragOff: (ipoff & IP_OFFMASK) << 3,
    ttl: buf[off + IP_OFF_TTL] as number,
    proto: buf[off + IP_OFF_P] as number,
    src: get32(buf, off + IP_OFF_SRC),
    dst: get32(buf, off + IP_OFF_DST),
    options: opts.value,
  };
  return ok({ repr, headerLen: hl, payloadOff: off + hl, payloadLen: total - hl });
}

/**
 * Write the header for `repr` at buf[off..], with total length = header + payloadLen and
 * the header checksum computed; return the header length (ipv4ReprLen(repr)).
 */
export function emitIpv4(repr: Ipv4Repr, buf: Uint8Array, off: number, payloadLen: number): number {
  const hl = IP_HDR_LEN + emitIpv4Options(repr.options, buf, off + IP_HDR_LEN);
  buf[off + IP_OFF_VHL] = (IPVERSION << 4) | (hl >>> 2);
  buf[off + IP_OFF_TOS] = repr.tos;
  set16(buf, off + IP_OFF_LEN, hl + payloadLen);
  set16(buf, off + IP_OFF_ID, repr.id);
  set16(buf, off + IP_OFF_OFF, (repr.rf ? IP_RF : 0) | (repr.df ? IP_DF : 0) | (repr.mf ? IP_MF : 0) | ((repr.fragOff >>> 3) & IP_OFFMASK));
  buf[off + IP_OFF_TTL] = repr.ttl;
  buf[off + IP_OFF_P] = repr.proto;
  set16(buf, off + IP_OFF_SUM, 0);
  set32(buf, off + IP_OFF_SRC, repr.src);
  set32(buf, off + IP_OFF_DST, repr.dst);
  set16(buf, off + IP_OFF_SUM, inCksum(buf, off, hl));
  return hl;
}
