/*
 * ICMPv6 (RFC 4443) and the Neighbor Discovery messages and options (RFC 4861, RFC 4862,
 * RFC 8106 RDNSS).
 *
 * This file owns the byte layout of ICMPv6 messages (errors, echo, RS/RA/NS/NA/redirect) and
 * of ND options, and the ICMPv6 checksum, which always covers the IPv6 pseudo-header
 * (RFC 4443 §2.3). It keeps no state, does no I/O and no logging. Ways in:
 *
 *   - Icmp6View: reusable view with a getter and setter per field of every message type it
 *     knows, 16-byte target/destination helpers and checksum helpers. No allocation except
 *     the subarray methods. checked() validates the minimum length of the message's type.
 *   - NdOptCursor: zero-allocation iteration over ND options, rejecting length 0 and options
 *     that run past the message (RFC 4861 §4.6).
 *   - Icmp6Repr with parseIcmp6()/emitIcmp6()/icmp6ReprLen(): the strict codec. parseIcmp6
 *     never throws. Messages it does not model (MLD, unknown types) are kept raw as `other`.
 *
 * Validation that needs the IP header (hop limit 255, source address rules, RFC 4861 §6.1,
 * §7.1.1, §8.1) belongs to nd6; the codec checks only what the ICMPv6 bytes themselves show.
 */

import { bytesEqual, get16, get32, set16, set32 } from './bytes.js';
import { cksumFinish, cksumPartial, pseudoSum6 } from './checksum.js';
import { IPPROTO_ICMPV6 } from './ipv4.js';
import { fail, ok, type ParseResult } from './types.js';

export const ICMP6_HDR_LEN = 8;
export const ICMP6_OFF_TYPE = 0;
export const ICMP6_OFF_CODE = 1;
export const ICMP6_OFF_SUM = 2;
export const ICMP6_OFF_DATA32 = 4; // mtu (packet too big), pointer (param prob), id/seq (echo)
export const ICMP6_OFF_ID = 4;
export const ICMP6_OFF_SEQ = 6;

/** Most invoking-packet bytes an error carries so that the message fits the minimum MTU
 * (RFC 4443 §2.4(c)): 1280 - 40 (IPv6) - 8 (ICMPv6). */
export const ICMPV6_PLD_MAXLEN = 1232;

export const ICMP6_DST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAM_PROB = 4;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;
export const MLD_LISTENER_QUERY = 130;
export const MLD_LISTENER_REPORT = 131;
export const MLD_LISTENER_DONE = 132;
export const ND_ROUTER_SOLICIT = 133;
export const ND_ROUTER_ADVERT = 134;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
export const ND_REDIRECT = 137;
export const MLDV2_LISTENER_REPORT = 143;

// ICMP6_DST_UNREACH codes
export const ICMP6_DST_UNREACH_NOROUTE = 0;
export const ICMP6_DST_UNREACH_ADMIN = 1;
export const ICMP6_DST_UNREACH_BEYONDSCOPE = 2;
export const ICMP6_DST_UNREACH_ADDR = 3;
export const ICMP6_DST_UNREACH_NOPORT = 4;
export const ICMP6_DST_UNREACH_POLICY = 5;
export const ICMP6_DST_UNREACH_REJECT = 6;

// ICMP6_TIME_EXCEEDED codes
export const ICMP6_TIME_EXCEED_TRANSIT = 0;
export const ICMP6_TIME_EXCEED_REASSEMBLY = 1;

// ICMP6_PARAM_PROB codes
export const ICMP6_PARAMPROB_HEADER = 0;
export const ICMP6_PARAMPROB_NEXTHEADER = 1;
export const ICMP6_PARAMPROB_OPTION = 2;

// ND message layouts (RFC 4861 §4): fixed part lengths = where the options start
export const ND_RS_LEN = 8; // type, code, sum, reserved(32)
export const ND_RA_LEN = 16; // ..., cur hop limit, flags, router lifetime, reachable, retrans
export const ND_NS_LEN = 24; // ..., reserved(32), target
export const ND_NA_LEN = 24; // ..., flags|reserved(32), target
export const ND_REDIRECT_LEN = 40; // ..., reserved(32), target, destination
export const ND_RA_OFF_CURHOPLIMIT = 4;
export const ND_RA_OFF_FLAGS = 5;
export const ND_RA_OFF_LIFETIME = 6;
export const ND_RA_OFF_REACHABLE = 8;
export const ND_RA_OFF_RETRANSMIT = 12;
export const ND_NA_OFF_FLAGS = 4;
export const ND_OFF_TARGET = 8; // NS, NA, redirect
export const ND_REDIRECT_OFF_DST = 24;

// ND option types
export const ND_OPT_SOURCE_LINKADDR = 1;
export const ND_OPT_TARGET_LINKADDR = 2;
export const ND_OPT_PREFIX_INFORMATION = 3;
export const ND_OPT_REDIRECTED_HEADER = 4;
export const ND_OPT_MTU = 5;
export const ND_OPT_NONCE = 14; // RFC 3971 §5.3.2, used by RFC 7527 enhanced DAD
export const ND_OPT_RDNSS = 25;

// ND option lengths, in 8-octet units as in the Length field (RFC 4861 §4.6)
export const ND_OPT_PI_LEN = 4; // §4.6.2
export const ND_OPT_MTU_LEN = 1; // §4.6.4
export const ND_OPT_RDNSS_MINLEN = 3; // RFC 8106 §5.1

// Neighbor advertisement flags (first byte of the reserved word)
export const ND_NA_FLAG_ROUTER = 0x80;
export const ND_NA_FLAG_SOLICITED = 0x40;
export const ND_NA_FLAG_OVERRIDE = 0x20;

// Router advertisement flags
export const ND_RA_FLAG_MANAGED = 0x80;
export const ND_RA_FLAG_OTHER = 0x40;
export const ND_RA_FLAG_HOME_AGENT = 0x20; // RFC 6275 §7.1
export const ND_RA_FLAG_RTPREF_MASK = 0x18; // RFC 4191 §2.2 default router preference
export const ND_RA_FLAG_PROXY = 0x04; // RFC 4389 §4.1.3.3

// Prefix information flags
export const ND_OPT_PI_FLAG_ONLINK = 0x80;
export const ND_OPT_PI_FLAG_AUTO = 0x40;
export const ND_OPT_PI_FLAG_ROUTER = 0x20; // RFC 6275 §7.2

const EMPTY = new Uint8Array(0);

function inRange(buf: Uint8Array, off: number, len: number): boolean {
  return Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= buf.length;
}

/** Minimum length of a message of `type`: 8, or the fixed part of an ND message. */
export function icmp6MinLen(type: number): number {
  switch (type) {
    case ND_ROUTER_ADVERT:
      return ND_RA_LEN;
    case ND_NEIGHBOR_SOLICIT:
      return ND_NS_LEN;
    case ND_NEIGHBOR_ADVERT:
      return ND_NA_LEN;
    case ND_REDIRECT:
      return ND_REDIRECT_LEN;
    default:
      return ICMP6_HDR_LEN;
  }
}

/** Offset of the ND options in a message of `type`, relative to the ICMPv6 header; -1 if none. */
export function ndOptionsOff(type: number): number {
  switch (type) {
    case ND_ROUTER_SOLICIT:
      return ND_RS_LEN;
    case ND_ROUTER_ADVERT:
      return ND_RA_LEN;
    case ND_NEIGHBOR_SOLICIT:
      return ND_NS_LEN;
    case ND_NEIGHBOR_ADVERT:
      return ND_NA_LEN;
    case ND_REDIRECT:
      return ND_REDIRECT_LEN;
    default:
      return -1;
  }
}

/** Unfolded ICMPv6 checksum sum over buf[off, off+len) and the pseudo-header. */
function icmp6Sum(buf: Uint8Array, off: number, len: number, src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): number {
  return cksumPartial(buf, off, len, pseudoSum6(src, srcOff, dst, dstOff, IPPROTO_ICMPV6, len));
}

/* ------------------------------------------------------------------------------------------ */
/* View                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/**
 * Zero-copy view of an ICMPv6 message at buf[off, off+len). After checked()/attachChecked():
 * len >= icmp6MinLen(type), so every accessor meaningful for that type is in range.
 */
export class Icmp6View {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  constructor(buf?: Uint8Array, off = 0, len = buf ? buf.length - off : 0) {
    if (buf) this.attach(buf, off, len);
  }

  attach(buf: Uint8Array, off: number, len: number): this {
    this.buf = buf;
    this.off = off;
    this.len = len;
    return this;
  }

  attachChecked(buf: Uint8Array, off: number, len: number): boolean {
    if (!inRange(buf, off, len) || len < ICMP6_HDR_LEN) return false;
    if (len < icmp6MinLen(buf[off] as number)) return false;
    this.attach(buf, off, len);
    return true;
  }

  static checked(buf: Uint8Array, off: number, len: number): Icmp6View | null {
    const v = new Icmp6View();
    return v.attachChecked(buf, off, len) ? v : null;
  }

  get type(): number {
    return this.buf[this.off + ICMP6_OFF_TYPE] as number;
  }
  set type(v: number) {
    this.buf[this.off + ICMP6_OFF_TYPE] = v;
  }
  get code(): number {
    return this.buf[this.off + ICMP6_OFF_CODE] as number;
  }
  set code(v: number) {
    this.buf[this.off + ICMP6_OFF_CODE] = v;
  }
  get sum(): number {
    return get16(this.buf, this.off + ICMP6_OFF_SUM);
  }
  set sum(v: number) {
    set16(this.buf, this.off + ICMP6_OFF_SUM, v);
  }
  /** The 32-bit word after the checksum (unused, MTU, pointer, id/seq, ND reserved/flags). */
  get data32(): number {
    return get32(this.buf, this.off + ICMP6_OFF_DATA32);
  }
  set data32(v: number) {
    set32(this.buf, this.off + ICMP6_OFF_DATA32, v);
  }
  /** Packet Too Big MTU (RFC 4443 §3.2). */
  get mtu(): number {
    return this.data32;
  }
  set mtu(v: number) {
    this.data32 = v;
  }
  /** Parameter Problem pointer (RFC 4443 §3.4). */
  get pointer(): number {
    return this.data32;
  }
  set pointer(v: number) {
    this.data32 = v;
  }
  /** Echo identifier (RFC 4443 §4.1). */
  get id(): number {
    return get16(this.buf, this.off + ICMP6_OFF_ID);
  }
  set id(v: number) {
    set16(this.buf, this.off + ICMP6_OFF_ID, v);
  }
  get seq(): number {
    return get16(this.buf, this.off + ICMP6_OFF_SEQ);
  }
  set seq(v: number) {
    set16(this.buf, this.off + ICMP6_OFF_SEQ, v);
  }
  /** Absolute offset of the body after the first 8 bytes (invoking packet, echo data). */
  get bodyOff(): number {
    return this.off + ICMP6_HDR_LEN;
  }

  // Router advertisement (RFC 4861 §4.2)
  get curHopLimit(): number {
    return this.buf[this.off + ND_RA_OFF_CURHOPLIMIT] as number;
  }
  set curHopLimit(v: number) {
    this.buf[this.off + ND_RA_OFF_CURHOPLIMIT] = v;
  }
  get raFlags(): number {
    return this.buf[this.off + ND_RA_OFF_FLAGS] as number;
  }
  set raFlags(v: number) {
    this.buf[this.off + ND_RA_OFF_FLAGS] = v;
  }
  get routerLifetime(): number {
    return get16(this.buf, this.off + ND_RA_OFF_LIFETIME);
  }
  set routerLifetime(v: number) {
    set16(this.buf, this.off + ND_RA_OFF_LIFETIME, v);
  }
  get reachableTime(): number {
    return get32(this.buf, this.off + ND_RA_OFF_REACHABLE);
  }
  set reachableTime(v: number) {
    set32(this.buf, this.off + ND_RA_OFF_REACHABLE, v);
  }
  get retransTimer(): number {
    return get32(this.buf, this.off + ND_RA_OFF_RETRANSMIT);
  }
  set retransTimer(v: number) {
    set32(this.buf, this.off + ND_RA_OFF_RETRANSMIT, v);
  }

  // Neighbor advertisement (RFC 4861 §4.4): R/S/O in the top bits of the first byte
  get naFlags(): number {
    return this.buf[this.off + ND_NA_OFF_FLAGS] as number;
  }
  set naFlags(v: number) {
    this.buf[this.off + ND_NA_OFF_FLAGS] = v;
  }

  // NS / NA / redirect target, redirect destination
  get targetOff(): number {
    return this.off + ND_OFF_TARGET;
  }
  target(): Uint8Array {
    return this.buf.subarray(this.off + ND_OFF_TARGET, this.off + ND_OFF_TARGET + 16);
  }
  targetEquals(a: Uint8Array, aOff = 0): boolean {
    return bytesEqual(this.buf, this.off + ND_OFF_TARGET, a, aOff, 16);
  }
  copyTargetTo(a: Uint8Array, aOff = 0): void {
    for (let i = 0; i < 16; i++) a[aOff + i] = this.buf[this.off + ND_OFF_TARGET + i] as number;
  }
  setTarget(a: Uint8Array, aOff = 0): void {
    for (let i = 0; i < 16; i++) this.buf[this.off + ND_OFF_TARGET + i] = a[aOff + i] as number;
  }
  get redirectDstOff(): number {
    return this.off + ND_REDIRECT_OFF_DST;
  }
  redirectDst(): Uint8Array {
    return this.buf.subarray(this.off + ND_REDIRECT_OFF_DST, this.off + ND_REDIRECT_OFF_DST + 16);
  }
  redirectDstEquals(a: Uint8Array, aOff = 0): boolean {
    return bytesEqual(this.buf, this.off + ND_REDIRECT_OFF_DST, a, aOff, 16);
  }
  setRedirectDst(a: Uint8Array, aOff = 0): void {
    for (let i = 0; i < 16; i++) this.buf[this.off + ND_REDIRECT_OFF_DST + i] = a[aOff + i] as number;
  }
  /** Absolute offset of the ND options for this message's type, -1 if the type has none. */
  get ndOptOff(): number {
    const o = ndOptionsOff(this.type);
    return o < 0 ? -1 : this.off + o;
  }

  /** Verify the checksum over buf[off, off+len) with the pseudo-header (RFC 4443 §2.3). */
  verifyChecksum(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number = this.len): boolean {
    return cksumFinish(icmp6Sum(this.buf, this.off, len, src, srcOff, dst, dstOff)) === 0;
  }
  fillChecksum(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number = this.len): void {
    this.sum = 0;
    this.sum = cksumFinish(icmp6Sum(this.buf, this.off, len, src, srcOff, dst, dstOff));
  }
}

/* ------------------------------------------------------------------------------------------ */
/* ND option cursor                                                                            */
/* ------------------------------------------------------------------------------------------ */

export const ND_OPT_NEXT_DONE = 0;
export const ND_OPT_NEXT_OK = 1;
/** An option with Length 0 (RFC 4861 §4.6: the packet MUST be silently discarded). */
export const ND_OPT_NEXT_EZERO = -1;
/** An option that runs past the end of the message. */
export const ND_OPT_NEXT_ETRUNC = -2;

/**
 * Zero-allocation iteration over ND options at buf[off, off+len) (the message's option
 * area: ndOptionsOff() to the end). Each next() == ND_OPT_NEXT_OK exposes `type`, `optOff`
 * (absolute offset of the type byte) and `optLen` (bytes, Length × 8).
 */
export class NdOptCursor {
  buf: Uint8Array = EMPTY;
  pos = 0;
  end = 0;
  type = 0;
  optOff = 0;
  optLen = 0;

  attach(buf: Uint8Array, off: number, len: number): this {
    this.buf = buf;
    this.pos = off;
    this.end = Math.min(off + len, buf.length);
    return this;
  }

  next(): number {
    if (this.pos >= this.end) return ND_OPT_NEXT_DONE;
    this.optOff = this.pos;
    if (this.pos + 2 > this.end) return ND_OPT_NEXT_ETRUNC;
    this.type = this.buf[this.pos] as number;
    const l = (this.buf[this.pos + 1] as number) << 3;
    if (l === 0) return ND_OPT_NEXT_EZERO;
    if (this.pos + l > this.end) return ND_OPT_NEXT_ETRUNC;
    this.optLen = l;
    this.pos += l;
    return ND_OPT_NEXT_OK;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Repr                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/**
 * One ND option (RFC 4861 §4.6), in wire order. Byte arrays are copies.
 * - sourceLinkAddr / targetLinkAddr: `addr` is the whole option body (Length × 8 - 2 bytes):
 *   exactly the 6-byte MAC for Ethernet (Length 1). emit pads other lengths with zeros.
 * - prefixInfo (§4.6.2): `flags` is the L/A/R byte; lifetimes in seconds (0xffffffff =
 *   infinity); `prefix` 16 bytes.
 * - redirectedHeader (§4.6.3): `data` = the IP header + data after the 6 reserved bytes,
 *   including any padding (emit pads to a multiple of 8 with zeros).
 * - mtu (§4.6.4); rdnss (RFC 8106 §5.1): lifetime in seconds and 16-byte server addresses.
 * - unknown: any other type, `data` = the body after type and length (RFC 4861 §4.6:
 *   receivers ignore unrecognised options).
 */
export type NdOption =
  | { kind: 'sourceLinkAddr'; addr: Uint8Array }
  | { kind: 'targetLinkAddr'; addr: Uint8Array }
  | { kind: 'prefixInfo'; prefixLen: number; flags: number; validLifetime: number; preferredLifetime: number; prefix: Uint8Array }
  | { kind: 'redirectedHeader'; data: Uint8Array }
  | { kind: 'mtu'; mtu: number }
  | { kind: 'rdnss'; lifetime: number; servers: Uint8Array[] }
  | { kind: 'unknown'; type: number; data: Uint8Array };

/**
 * An ICMPv6 message as values. Reserved/unused fields are not stored (emit writes zero).
 * - Errors (RFC 4443 §3): `invoking` is as much of the invoking packet as was carried: a
 *   subarray VIEW of the input on parse.
 * - Echo (§4): `data` is a subarray view on parse.
 * - ND (RFC 4861 §4): code must be 0 (§6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1), so it is not
 *   stored. RA `flags` is the whole flags byte (ND_RA_FLAG_*); NA `flags` the first byte of
 *   the flags word (ND_NA_FLAG_*). Addresses are 16-byte copies.
 * - other: any other type (MLD, unknown types): `body` = the bytes after the checksum, a view.
 */
export type Icmp6Repr =
  | { kind: 'dstUnreach'; code: number; invoking: Uint8Array }
  | { kind: 'packetTooBig'; code: number; mtu: number; invoking: Uint8Array }
  | { kind: 'timeExceeded'; code: number; invoking: Uint8Array }
  | { kind: 'paramProblem'; code: number; pointer: number; invoking: Uint8Array }
  | { kind: 'echoRequest'; id: number; seq: number; data: Uint8Array }
  | { kind: 'echoReply'; id: number; seq: number; data: Uint8Array }
  | { kind: 'routerSolicit'; options: NdOption[] }
  | {
      kind: 'routerAdvert';
      curHopLimit: number;
      flags: number;
      routerLifetime: number;
      reachableTime: number;
      retransTimer: number;
      options: NdOption[];
    }
  | { kind: 'neighborSolicit'; target: Uint8Array; options: NdOption[] }
  | { kind: 'neighborAdvert'; flags: number; target: Uint8Array; options: NdOption[] }
  | { kind: 'redirect'; target: Uint8Array; dst: Uint8Array; options: NdOption[] }
  | { kind: 'other'; type: number; code: number; body: Uint8Array };

/** IPv6 source and destination (16-byte arrays) for the pseudo-header. With a routing
 * header, `dst` is the final destination (RFC 8200 §8.1). */
export interface Icmp6Pseudo {
  src: Uint8Array;
  dst: Uint8Array;
}

const MODELLED_TYPES: readonly number[] = [
  ICMP6_DST_UNREACH,
  ICMP6_PACKET_TOO_BIG,
  ICMP6_TIME_EXCEEDED,
  ICMP6_PARAM_PROB,
  ICMP6_ECHO_REQUEST,
  ICMP6_ECHO_REPLY,
  ND_ROUTER_SOLICIT,
  ND_ROUTER_ADVERT,
  ND_NEIGHBOR_SOLICIT,
  ND_NEIGHBOR_ADVERT,
  ND_REDIRECT,
];

function parseNdOptions(b: Uint8Array, off: number, end: number, out: NdOption[]): string | null {
  const c = new NdOptCursor().attach(b, off, end - off);
  for (;;) {
    const r = c.next();
    if (r === ND_OPT_NEXT_DONE) return null;
    if (r === ND_OPT_NEXT_EZERO) return 'icmp6: ND option with length 0'; // RFC 4861 §4.6
    if (r !== ND_OPT_NEXT_OK) return 'icmp6: ND option runs past the message';
    const p = c.optOff;
    const n = c.optLen;
    switch (c.type) {
      case ND_OPT_SOURCE_LINKADDR:
        out.push({ kind: 'sourceLinkAddr', addr: b.slice(p + 2, p + n) });
        break;
      case ND_OPT_TARGET_LINKADDR:
        out.push({ kind: 'targetLinkAddr', addr: b.slice(p + 2, p + n) });
        break;
      case ND_OPT_PREFIX_INFORMATION:
        if (n !== ND_OPT_PI_LEN * 8) return `icmp6: prefix information option length ${n >>> 3}`; // §4.6.2
        out.push({
          kind: 'prefixInfo',
          prefixLen: b[p + 2] as number,
          flags: b[p + 3] as number,
          validLifetime: get32(b, p + 4),
          preferredLifetime: get32(b, p + 8),
          prefix: b.slice(p + 16, p + 32),
        });
        break;
      case ND_OPT_REDIRECTED_HEADER:
        out.push({ kind: 'redirectedHeader', data: b.slice(p + 8, p + n) });
        break;
      case ND_OPT_MTU:
        if (n !== ND_OPT_MTU_LEN * 8) return `icmp6: MTU option length ${n >>> 3}`; // §4.6.4
        out.push({ kind: 'mtu', mtu: get32(b, p + 4) });
        break;
      case ND_OPT_RDNSS: {
        // RFC 8106 §5.1: Length = 1 + 2 × (number of addresses), at least 3.
        const l = n >>> 3;
        if (l < ND_OPT_RDNSS_MINLEN || (l & 1) === 0) return `icmp6: RDNSS option length ${l}`;
        const servers: Uint8Array[] = [];
        for (let q = p + 8; q < p + n; q += 16) servers.push(b.slice(q, q + 16));
        out.push({ kind: 'rdnss', lifetime: get32(b, p + 4), servers });
        break;
      }
      default:
        out.push({ kind: 'unknown', type: c.type, data: b.slice(p + 2, p + n) });
    }
  }
}

/**
 * Parse an ICMPv6 message at buf[off, off+len) (len = the whole message, from the IPv6
 * payload). Never throws. With `pseudo`, the checksum is verified (RFC 4443 §2.3).
 */
export function parseIcmp6(buf: Uint8Array, off: number, len: number, pseudo?: Icmp6Pseudo): ParseResult<Icmp6Repr> {
  if (!inRange(buf, off, len)) return fail('icmp6: range outside buffer');
  if (len < ICMP6_HDR_LEN) return fail('icmp6: truncated header');
  const type = buf[off] as number;
  const code = buf[off + 1] as number;
  if (len < icmp6MinLen(type)) return fail(`icmp6: type ${type} message of ${len} bytes is truncated`);
  if (pseudo !== undefined) {
    if (pseudo.src.length < 16 || pseudo.dst.length < 16) return fail('icmp6: bad pseudo-header addresses');
    if (cksumFinish(icmp6Sum(buf, off, len, pseudo.src, 0, pseudo.dst, 0)) !== 0) return fail('icmp6: bad checksum');
  }
  const end = off + len;
  const body = buf.subarray(off + ICMP6_HDR_LEN, end);
  switch (type) {
    case ICMP6_DST_UNREACH:
      return ok({ kind: 'dstUnreach', code, invoking: body });
    case ICMP6_PACKET_TOO_BIG:
      return ok({ kind: 'packetTooBig', code, mtu: get32(buf, off + 4), invoking: body });
    case ICMP6_TIME_EXCEEDED:
      return ok({ kind: 'timeExceeded', code, invoking: body });
    case ICMP6_PARAM_PROB:
      return ok({ kind: 'paramProblem', code, pointer: get32(buf, off + 4), invoking: body });
    case ICMP6_ECHO_REQUEST:
    case ICMP6_ECHO_REPLY:
      // RFC 4443 §4.1/§4.2: Code 0 (FreeBSD icmp6_input counts others as badcode).
      if (code !== 0) return fail(`icmp6: echo with code ${code}`);
      return ok({ kind: type === ICMP6_ECHO_REQUEST ? 'echoRequest' : 'echoReply', id: get16(buf, off + 4), seq: get16(buf, off + 6), data: body });
  }
  const oo = ndOptionsOff(type);
  if (oo < 0) return ok({ kind: 'other', type, code, body: buf.subarray(off + 4, end) });
  if (code !== 0) return fail(`icmp6: ND type ${type} with code ${code}`); // RFC 4861 §6.1, §7.1, §8.1
  const options: NdOption[] = [];
  const err = parseNdOptions(buf, off + oo, end, options);
  if (err !== null) return fail(err);
  switch (type) {
    case ND_ROUTER_SOLICIT:
      return ok({ kind: 'routerSolicit', options });
    case ND_ROUTER_ADVERT:
      return ok({
        kind: 'routerAdvert',
        curHopLimit: buf[off + ND_RA_OFF_CURHOPLIMIT] as number,
        flags: buf[off + ND_RA_OFF_FLAGS] as number,
        routerLifetime: get16(buf, off + ND_RA_OFF_LIFETIME),
        reachableTime: get32(buf, off + ND_RA_OFF_REACHABLE),
        retransTimer: get32(buf, off + ND_RA_OFF_RETRANSMIT),
        options,
      });
    case ND_NEIGHBOR_SOLICIT:
      return ok({ kind: 'neighborSolicit', target: buf.slice(off + ND_OFF_TARGET, off + ND_OFF_TARGET + 16), options });
    case ND_NEIGHBOR_ADVERT:
      return ok({
        kind: 'neighborAdvert',
        flags: buf[off + ND_NA_OFF_FLAGS] as number,
        target: buf.slice(off + ND_OFF_TARGET, off + ND_OFF_TARGET + 16),
        options,
      });
    default:
      return ok({
        kind: 'redirect',
        target: buf.slice(off + ND_OFF_TARGET, off + ND_OFF_TARGET + 16),
        dst: buf.slice(off + ND_REDIRECT_OFF_DST, off + ND_REDIRECT_OFF_DST + 16),
        options,
      });
  }
}

function bad(msg: string): never {
  throw new RangeError(`emitIcmp6: ${msg}`);
}

function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) bad(`${what} ${v} out of range`);
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/** Encoded length of one ND option (a multiple of 8). Throws RangeError if unencodable. */
export function ndOptionLen(o: NdOption): number {
  let n: number;
  switch (o.kind) {
    case 'sourceLinkAddr':
    case 'targetLinkAddr':
      n = pad8(2 + o.addr.length);
      break;
    case 'prefixInfo':
      return ND_OPT_PI_LEN * 8;
    case 'redirectedHeader':
      n = pad8(8 + o.data.length);
      break;
    case 'mtu':
      return ND_OPT_MTU_LEN * 8;
    case 'rdnss':
      if (o.servers.length < 1) bad('RDNSS without servers');
      n = 8 + 16 * o.servers.length;
      break;
    case 'unknown':
      n = pad8(2 + o.data.length);
      break;
  }
  if (n > 255 * 8) bad(`ND option of ${n} bytes`);
  return n;
}

function checkAddr(a: Uint8Array, what: string): void {
  if (a.length !== 16) bad(`${what} must be 16 bytes`);
}

/** Exact number of bytes emitIcmp6 writes. */
export function icmp6ReprLen(repr: Icmp6Repr): number {
  switch (repr.kind) {
    case 'dstUnreach':
    case 'packetTooBig':
    case 'timeExceeded':
    case 'paramProblem':
      return ICMP6_HDR_LEN + repr.invoking.length;
    case 'echoRequest':
    case 'echoReply':
      return ICMP6_HDR_LEN + repr.data.length;
    case 'other':
      return 4 + repr.body.length;
  }
  let n = ndOptionsOff(ndType(repr));
  for (const o of repr.options) n += ndOptionLen(o);
  return n;
}

type NdRepr = Extract<Icmp6Repr, { options: NdOption[] }>;

function ndType(repr: NdRepr): number {
  switch (repr.kind) {
    case 'routerSolicit':
      return ND_ROUTER_SOLICIT;
    case 'routerAdvert':
      return ND_ROUTER_ADVERT;
    case 'neighborSolicit':
      return ND_NEIGHBOR_SOLICIT;
    case 'neighborAdvert':
      return ND_NEIGHBOR_ADVERT;
    case 'redirect':
      return ND_REDIRECT;
  }
}

function emitNdOption(o: NdOption, b: Uint8Array, p: number): number {
  const n = ndOptionLen(o);
  b.fill(0, p, p + n);
  b[p + 1] = n >>> 3;
  switch (o.kind) {
    case 'sourceLinkAddr':
    case 'targetLinkAddr':
      b[p] = o.kind === 'sourceLinkAddr' ? ND_OPT_SOURCE_LINKADDR : ND_OPT_TARGET_LINKADDR;
      b.set(o.addr, p + 2);
      break;
    case 'prefixInfo':
      checkUint(o.prefixLen, 0xff, 'prefix length');
      checkUint(o.flags, 0xff, 'prefix flags');
      checkUint(o.validLifetime, 0xffffffff, 'valid lifetime');
      checkUint(o.preferredLifetime, 0xffffffff, 'preferred lifetime');
      checkAddr(o.prefix, 'prefix');
      b[p] = ND_OPT_PREFIX_INFORMATION;
      b[p + 2] = o.prefixLen;
      b[p + 3] = o.flags;
      set32(b, p + 4, o.validLifetime);
      set32(b, p + 8, o.preferredLifetime);
      b.set(o.prefix, p + 16);
      break;
    case 'redirectedHeader':
      b[p] = ND_OPT_REDIRECTED_HEADER;
      b.set(o.data, p + 8);
      break;
    case 'mtu':
      checkUint(o.mtu, 0xffffffff, 'MTU');
      b[p] = ND_OPT_MTU;
      set32(b, p + 4, o.mtu);
      break;
    case 'rdnss':
      checkUint(o.lifetime, 0xffffffff, 'RDNSS lifetime');
      b[p] = ND_OPT_RDNSS;
      set32(b, p + 4, o.lifetime);
      for (let i = 0; i < o.servers.length; i++) {
        const s = o.servers[i] as Uint8Array;
        checkAddr(s, 'RDNSS server');
        b.set(s, p + 8 + 16 * i);
      }
      break;
    case 'unknown':
      checkUint(o.type, 0xff, 'option type');
      if (
        o.type === ND_OPT_SOURCE_LINKADDR ||
        o.type === ND_OPT_TARGET_LINKADDR ||
        o.type === ND_OPT_PREFIX_INFORMATION ||
        o.type === ND_OPT_REDIRECTED_HEADER ||
        o.type === ND_OPT_MTU ||
        o.type === ND_OPT_RDNSS
      )
        bad(`'unknown' ND option with known type ${o.type}`);
      b[p] = o.type;
      b.set(o.data, p + 2);
      break;
  }
  return n;
}

/**
 * Write the message at buf[off...]; returns icmp6ReprLen(repr). With `pseudo`, the checksum
 * is computed (RFC 4443 §2.3); without it the checksum field is left 0 (checksum offload).
 * Throws RangeError for an unencodable repr or a buffer too small (caller bugs).
 */
export function emitIcmp6(repr: Icmp6Repr, buf: Uint8Array, off: number, pseudo?: Icmp6Pseudo): number {
  const len = icmp6ReprLen(repr);
  if (!inRange(buf, off, len)) bad('buffer too small');
  switch (repr.kind) {
    case 'dstUnreach':
    case 'packetTooBig':
    case 'timeExceeded':
    case 'paramProblem': {
      checkUint(repr.code, 0xff, 'code');
      const type =
        repr.kind === 'dstUnreach'
          ? ICMP6_DST_UNREACH
          : repr.kind === 'packetTooBig'
            ? ICMP6_PACKET_TOO_BIG
            : repr.kind === 'timeExceeded'
              ? ICMP6_TIME_EXCEEDED
              : ICMP6_PARAM_PROB;
      const w = repr.kind === 'packetTooBig' ? repr.mtu : repr.kind === 'paramProblem' ? repr.pointer : 0;
      checkUint(w, 0xffffffff, 'MTU/pointer');
      buf.set(repr.invoking, off + ICMP6_HDR_LEN);
      buf[off] = type;
      buf[off + 1] = repr.code;
      set32(buf, off + 4, w);
      break;
    }
    case 'echoRequest':
    case 'echoReply':
      checkUint(repr.id, 0xffff, 'echo id');
      checkUint(repr.seq, 0xffff, 'echo seq');
      buf.set(repr.data, off + ICMP6_HDR_LEN);
      buf[off] = repr.kind === 'echoRequest' ? ICMP6_ECHO_REQUEST : ICMP6_ECHO_REPLY;
      buf[off + 1] = 0;
      set16(buf, off + 4, repr.id);
      set16(buf, off + 6, repr.seq);
      break;
    case 'other':
      checkUint(repr.type, 0xff, 'type');
      checkUint(repr.code, 0xff, 'code');
      if (MODELLED_TYPES.includes(repr.type)) bad(`'other' with modelled type ${repr.type}`);
      if (repr.body.length < 4) bad('an ICMPv6 message is at least 8 bytes: body must have 4 or more');
      buf.set(repr.body, off + 4);
      buf[off] = repr.type;
      buf[off + 1] = repr.code;
      break;
    default: {
      const type = ndType(repr);
      const oo = ndOptionsOff(type);
      buf.fill(0, off, off + oo);
      buf[off] = type;
      switch (repr.kind) {
        case 'routerAdvert':
          checkUint(repr.curHopLimit, 0xff, 'cur hop limit');
          checkUint(repr.flags, 0xff, 'RA flags');
          checkUint(repr.routerLifetime, 0xffff, 'router lifetime');
          checkUint(repr.reachableTime, 0xffffffff, 'reachable time');
          checkUint(repr.retransTimer, 0xffffffff, 'retrans timer');
          buf[off + ND_RA_OFF_CURHOPLIMIT] = repr.curHopLimit;
          buf[off + ND_RA_OFF_FLAGS] = repr.flags;
          set16(buf, off + ND_RA_OFF_LIFETIME, repr.routerLifetime);
          set32(buf, off + ND_RA_OFF_REACHABLE, repr.reachableTime);
          set32(buf, off + ND_RA_OFF_RETRANSMIT, repr.retransTimer);
          break;
        case 'neighborSolicit':
          checkAddr(repr.target, 'target');
          buf.set(repr.target, off + ND_OFF_TARGET);
          break;
        case 'neighborAdvert':
          checkUint(repr.flags, 0xff, 'NA flags');
          checkAddr(repr.target, 'target');
          buf[off + ND_NA_OFF_FLAGS] = repr.flags;
          buf.set(repr.target, off + ND_OFF_TARGET);
          break;
        case 'redirect':
          checkAddr(repr.target, 'target');
          checkAddr(repr.dst, 'destination');
          buf.set(repr.target, off + ND_OFF_TARGET);
          buf.set(repr.dst, off + ND_REDIRECT_OFF_DST);
          break;
        default:
          break;
      }
      let p = off + oo;
      for (const o of repr.options) p += emitNdOption(o, buf, p);
    }
  }
  set16(buf, off + ICMP6_OFF_SUM, 0);
  if (pseudo !== undefined) {
    checkAddr(pseudo.src, 'pseudo-header source');
    checkAddr(pseudo.dst, 'pseudo-header destination');
    set16(buf, off + ICMP6_OFF_SUM, cksumFinish(icmp6Sum(buf, off, len, pseudo.src, 0, pseudo.dst, 0)));
  }
  return len;
}
