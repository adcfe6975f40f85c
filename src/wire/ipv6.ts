/*
 * IPv6 header (RFC 8200) and extension headers: hop-by-hop options, routing, fragment,
 * destination options (and AH, RFC 4302, walked over and kept raw).
 *
 * This file owns the byte layout of the IPv6 fixed header and of the extension headers, and
 * the walk along the Next Header chain. It keeps no state, does no I/O and no logging.
 * Ways in:
 *
 *   - Ip6View: reusable view of the fixed header; getters and setters per field, 16-byte
 *     address helpers (compare, copy, subarray), no allocation except the subarray methods.
 *   - ip6_exthdr_walk(): zero-allocation walk of the extension-header chain into a reusable
 *     Ip6ExtChain (types, offsets, lengths, upper-layer protocol and offset). Bounded: at most
 *     IP6_EXT_MAX headers. Never throws; malformed chains return an IP6_WALK_E* code.
 *   - Ip6OptCursor: zero-allocation iteration over the TLV options of a hop-by-hop or
 *     destination options header, exposing each option type so ip6_input can apply the
 *     RFC 8200 §4.2 action for unrecognised types (IP6OPT_TYPE()).
 *   - Ip6FragView: the fragment header's fields (frag6_input).
 *   - Ip6Repr with parseIp6()/emitIp6()/ip6ReprLen(): the strict codec, extension headers
 *     included. parseIp6 never throws.
 */

import { bytesEqual, get16, get32, set16, set32 } from './bytes.js';
import { pseudoSum6 } from './checksum.js';
import { IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ROUTING } from './ipv4.js';
import { fail, ok, type ParseResult } from './types.js';

export const IPV6_VERSION = 6;
export const IP6_HDR_LEN = 40;

// Fixed header offsets
export const IP6_OFF_FLOW = 0; // version(4) | traffic class(8) | flow label(20)
export const IP6_OFF_PLEN = 4;
export const IP6_OFF_NXT = 6;
export const IP6_OFF_HLIM = 7;
export const IP6_OFF_SRC = 8;
export const IP6_OFF_DST = 24;

export const IPV6_FLOWLABEL_MASK = 0x000fffff;
export const IPV6_ADDR_LEN = 16;

// Generic extension header (hop-by-hop, destination options, routing): nxt, len in 8-octet
// units not counting the first 8 octets (RFC 8200 §4.3).
export const IP6E_OFF_NXT = 0;
export const IP6E_OFF_LEN = 1;

// Routing header (RFC 8200 §4.4): nxt, len, type, segments left, type-specific data
export const IP6R_OFF_TYPE = 2;
export const IP6R_OFF_SEGLEFT = 3;
export const IPV6_RTHDR_TYPE_0 = 0; // RFC 2460 §4.4, deprecated by RFC 5095
export const IPV6_RTHDR_TYPE_2 = 2; // RFC 6275 §6.4 (Mobile IPv6 home address)
export const IPV6_RTHDR_TYPE_4 = 4; // RFC 8754 segment routing header

// Fragment header (8 bytes): nxt, reserved, offlg (offset(13) | res(2) | M(1)), ident(32)
export const IP6F_LEN = 8;
export const IP6F_OFF_NXT = 0;
export const IP6F_OFF_OFFLG = 2;
export const IP6F_OFF_IDENT = 4;
export const IP6F_OFF_MASK = 0xfff8;
export const IP6F_MORE_FRAG = 0x0001;

// Option types in hop-by-hop / destination options
export const IP6OPT_PAD1 = 0x00;
export const IP6OPT_PADN = 0x01;
export const IP6OPT_JUMBO = 0xc2;
export const IP6OPT_JUMBO_LEN = 6; // type, len, 32-bit payload length (RFC 2675 §2)
export const IP6OPT_ROUTER_ALERT = 0x05;
export const IP6OPT_RTALERT_LEN = 4; // type, len, 16-bit value (RFC 2711 §2.1)
/** High two bits of an option type: action when unrecognised (RFC 8200 §4.2). */
export const IP6OPT_TYPE_SKIP = 0x00;
export const IP6OPT_TYPE_DISCARD = 0x40;
export const IP6OPT_TYPE_FORCEICMP = 0x80;
export const IP6OPT_TYPE_ICMP = 0xc0;
/** Third-highest bit: option data may change en route (RFC 8200 §4.2). */
export const IP6OPT_MUTABLE = 0x20;

export const IPV6_DEFHLIM = 64;
export const IPV6_MMTU = 1280; // minimal MTU (RFC 8200 §5)
export const IPV6_MAXPACKET = 65535; // without a jumbo payload option

/** The RFC 8200 §4.2 action bits of an option type (BSD IP6OPT_TYPE()). */
export function IP6OPT_TYPE(o: number): number {
  return o & 0xc0;
}

const EMPTY = new Uint8Array(0);

function inRange(buf: Uint8Array, off: number, len: number): boolean {
  return Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= buf.length;
}

/** Extension headers the walker steps over (RFC 8200 §4; AH per RFC 4302 §2.2). */
export function ip6IsExtHdr(nxt: number): boolean {
  return nxt === IPPROTO_HOPOPTS || nxt === IPPROTO_ROUTING || nxt === IPPROTO_FRAGMENT || nxt === IPPROTO_DSTOPTS || nxt === IPPROTO_AH;
}

/* ------------------------------------------------------------------------------------------ */
/* Fixed header view                                                                           */
/* ------------------------------------------------------------------------------------------ */

/**
 * Zero-copy view of an IPv6 packet at buf[off, off+len). After checked()/attachChecked():
 * len >= 40 and 40 + payload length <= len (the fixed header and the payload it announces are
 * in range; a zero payload length, as in a jumbogram, passes). Version is NOT checked here.
 */
export class Ip6View {
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
    if (!inRange(buf, off, len) || len < IP6_HDR_LEN) return false;
    if (IP6_HDR_LEN + get16(buf, off + IP6_OFF_PLEN) > len) return false;
    this.attach(buf, off, len);
    return true;
  }

  static checked(buf: Uint8Array, off: number, len: number): Ip6View | null {
    const v = new Ip6View();
    return v.attachChecked(buf, off, len) ? v : null;
  }

  get version(): number {
    return (this.buf[this.off] as number) >>> 4;
  }
  set version(v: number) {
    this.buf[this.off] = ((v & 0xf) << 4) | ((this.buf[this.off] as number) & 0x0f);
  }
  /** Traffic class: DSCP(6) | ECN(2). */
  get tc(): number {
    return (get16(this.buf, this.off) >>> 4) & 0xff;
  }
  set tc(v: number) {
    const o = this.off;
    this.buf[o] = ((this.buf[o] as number) & 0xf0) | ((v >>> 4) & 0x0f);
    this.buf[o + 1] = ((v & 0x0f) << 4) | ((this.buf[o + 1] as number) & 0x0f);
  }
  get ecn(): number {
    return this.tc & 0x03;
  }
  /** 20-bit flow label (RFC 6437). */
  get flow(): number {
    return get32(this.buf, this.off) & IPV6_FLOWLABEL_MASK;
  }
  set flow(v: number) {
    const o = this.off;
    this.buf[o + 1] = ((this.buf[o + 1] as number) & 0xf0) | ((v >>> 16) & 0x0f);
    set16(this.buf, o + 2, v & 0xffff);
  }
  /** Payload length (RFC 8200 §3): bytes after the fixed header, extension headers included. */
  get plen(): number {
    return get16(this.buf, this.off + IP6_OFF_PLEN);
  }
  set plen(v: number) {
    set16(this.buf, this.off + IP6_OFF_PLEN, v);
  }
  get nxt(): number {
    return this.buf[this.off + IP6_OFF_NXT] as number;
  }
  set nxt(v: number) {
    this.buf[this.off + IP6_OFF_NXT] = v;
  }
  get hlim(): number {
    return this.buf[this.off + IP6_OFF_HLIM] as number;
  }
  set hlim(v: number) {
    this.buf[this.off + IP6_OFF_HLIM] = v;
  }
  /** Absolute offset of the source address. */
  get srcOff(): number {
    return this.off + IP6_OFF_SRC;
  }
  get dstOff(): number {
    return this.off + IP6_OFF_DST;
  }
  /** The source address as a 16-byte subarray view (allocates the view object). */
  src(): Uint8Array {
    return this.buf.subarray(this.off + IP6_OFF_SRC, this.off + IP6_OFF_SRC + 16);
  }
  dst(): Uint8Array {
    return this.buf.subarray(this.off + IP6_OFF_DST, this.off + IP6_OFF_DST + 16);
  }
  srcEquals(a: Uint8Array, aOff = 0): boolean {
    return bytesEqual(this.buf, this.off + IP6_OFF_SRC, a, aOff, 16);
  }
  dstEquals(a: Uint8Array, aOff = 0): boolean {
    return bytesEqual(this.buf, this.off + IP6_OFF_DST, a, aOff, 16);
  }
  copySrcTo(a: Uint8Array, aOff = 0): void {
    for (let i = 0; i < 16; i++) a[aOff + i] = this.buf[this.off + IP6_OFF_SRC + i] as number;
  }
  copyDstTo(a: Uint8Array, aOff = 0): void {
    for (let i = 0; i < 16; i++) a[aOff + i] = this.buf[this.off + IP6_OFF_DST + i] as number;
  }
  setSrc(a: Uint8Array, aOff = 0): void {
    for (let i = 0; i < 16; i++) this.buf[this.off + IP6_OFF_SRC + i] = a[aOff + i] as number;
  }
  setDst(a: Uint8Array, aOff = 0): void {
    for (let i = 0; i < 16; i++) this.buf[this.off + IP6_OFF_DST + i] = a[aOff + i] as number;
  }
  /** ff00::/8 (RFC 4291 §2.7). */
  dstIsMulticast(): boolean {
    return this.buf[this.off + IP6_OFF_DST] === 0xff;
  }
  srcIsMulticast(): boolean {
    return this.buf[this.off + IP6_OFF_SRC] === 0xff;
  }
  /** :: (RFC 4291 §2.5.2), as in DAD neighbour solicitations. */
  srcIsUnspecified(): boolean {
    for (let i = 0; i < 16; i++) if (this.buf[this.off + IP6_OFF_SRC + i] !== 0) return false;
    return true;
  }
  /** Absolute offset of the first byte after the fixed header. */
  get payloadOff(): number {
    return this.off + IP6_HDR_LEN;
  }
  /**
   * Unfolded pseudo-header sum (RFC 8200 §8.1) for an upper-layer checksum, with this
   * header's destination. XXX with a routing header the final destination belongs in the
   * pseudo-header instead (Ip6ExtChain.rtOff finds it); use pseudoSum6() directly then.
   */
  pseudoSum(proto: number, upperLen: number): number {
    return pseudoSum6(this.buf, this.off + IP6_OFF_SRC, this.buf, this.off + IP6_OFF_DST, proto, upperLen);
  }
}

/** Fields of a fragment header at buf[off, off+8) (RFC 8200 §4.5). Not validated. */
export class Ip6FragView {
  buf: Uint8Array = EMPTY;
  off = 0;

  attach(buf: Uint8Array, off: number): this {
    this.buf = buf;
    this.off = off;
    return this;
  }
  get nxt(): number {
    return this.buf[this.off + IP6F_OFF_NXT] as number;
  }
  set nxt(v: number) {
    this.buf[this.off + IP6F_OFF_NXT] = v;
  }
  /** Fragment offset in bytes (a multiple of 8). */
  get offset(): number {
    return get16(this.buf, this.off + IP6F_OFF_OFFLG) & IP6F_OFF_MASK;
  }
  set offset(v: number) {
    const o = this.off + IP6F_OFF_OFFLG;
    set16(this.buf, o, (v & IP6F_OFF_MASK) | (get16(this.buf, o) & 0x0007));
  }
  get more(): boolean {
    return (get16(this.buf, this.off + IP6F_OFF_OFFLG) & IP6F_MORE_FRAG) !== 0;
  }
  set more(v: boolean) {
    const o = this.off + IP6F_OFF_OFFLG + 1;
    this.buf[o] = v ? (this.buf[o] as number) | IP6F_MORE_FRAG : (this.buf[o] as number) & ~IP6F_MORE_FRAG;
  }
  get ident(): number {
    return get32(this.buf, this.off + IP6F_OFF_IDENT);
  }
  set ident(v: number) {
    set32(this.buf, this.off + IP6F_OFF_IDENT, v);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Extension-header walker                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** Most extension headers the walker accepts in one packet (a bound, not an RFC number). */
export const IP6_EXT_MAX = 16;

// ip6_exthdr_walk() results
export const IP6_WALK_OK = 0;
/** Range outside the buffer, fewer than 40 bytes, or payload length beyond the data. */
export const IP6_WALK_ETRUNC = 1;
/** Version field is not 6. */
export const IP6_WALK_EVERSION = 2;
/** An extension header runs past the end of the payload. */
export const IP6_WALK_EHDRTRUNC = 3;
/** Hop-by-hop options not immediately after the fixed header (RFC 8200 §4.3). */
export const IP6_WALK_EHBH = 4;
/** More than IP6_EXT_MAX extension headers. */
export const IP6_WALK_ETOOMANY = 5;

/**
 * Result of ip6_exthdr_walk(). Offsets are absolute offsets into the walked buffer.
 * types/offs/lens[0..n) describe the extension headers in order. After the walk, `nxt` and
 * `upOff` give the upper-layer protocol and the offset of its header (for a non-first
 * fragment: the fragment's Next Header and the offset of the fragment data). `end` is the
 * end of the IPv6 payload. On error, errPtr is the RFC 4443 §3.4 Parameter Problem pointer
 * (offset from the IPv6 header) when one applies, else -1.
 */
export class Ip6ExtChain {
  n = 0;
  readonly types = new Uint8Array(IP6_EXT_MAX);
  readonly offs = new Uint32Array(IP6_EXT_MAX);
  readonly lens = new Uint16Array(IP6_EXT_MAX);
  nxt = 0;
  upOff = 0;
  end = 0;
  /** Offset of the fragment header, -1 if none. */
  fragOff = -1;
  /** Offset of the first routing header, -1 if none (its final destination goes into
   * upper-layer pseudo-headers, RFC 8200 §8.1). */
  rtOff = -1;
  errPtr = -1;

  reset(): void {
    this.n = 0;
    this.nxt = 0;
    this.upOff = 0;
    this.end = 0;
    this.fragOff = -1;
    this.rtOff = -1;
    this.errPtr = -1;
  }
}

/**
 * Walk the extension-header chain of the IPv6 packet at buf[off, off+len) into `out`.
 * Never throws, never allocates, visits at most IP6_EXT_MAX headers.
 *
 * The payload ends at 40 + payload length; when the payload length is 0 and the next header
 * is hop-by-hop (a possible jumbogram, RFC 2675), it ends at off+len and ip6_input must check
 * the Jumbo Payload option. The walk stops after a fragment header whose offset is non-zero
 * (RFC 8200 §4.5: the rest is fragment data), at the first non-extension header (including
 * ESP, whose contents are opaque, and No Next Header 59).
 */
export function ip6_exthdr_walk(buf: Uint8Array, off: number, len: number, out: Ip6ExtChain): number {
  out.reset();
  if (!inRange(buf, off, len) || len < IP6_HDR_LEN) return IP6_WALK_ETRUNC;
  if ((buf[off] as number) >>> 4 !== IPV6_VERSION) return IP6_WALK_EVERSION;
  const plen = get16(buf, off + IP6_OFF_PLEN);
  let nxt = buf[off + IP6_OFF_NXT] as number;
  let end: number;
  if (plen === 0 && nxt === IPPROTO_HOPOPTS) end = off + len;
  else {
    if (IP6_HDR_LEN + plen > len) return IP6_WALK_ETRUNC;
    end = off + IP6_HDR_LEN + plen;
  }
  out.end = end;
  let p = off + IP6_HDR_LEN;
  let nxtField = off + IP6_OFF_NXT; // where the current `nxt` value was read (for errPtr)
  while (ip6IsExtHdr(nxt)) {
    if (nxt === IPPROTO_HOPOPTS && out.n > 0) {
      // RFC 8200 §4.3/§4.1: ICMP Parameter Problem code 1 pointing at this Next Header field.
      out.errPtr = nxtField - off;
      return IP6_WALK_EHBH;
    }
    if (out.n === IP6_EXT_MAX) return IP6_WALK_ETOOMANY;
    if (p + 2 > end) return IP6_WALK_EHDRTRUNC;
    const hlen = nxt === IPPROTO_FRAGMENT ? IP6F_LEN : nxt === IPPROTO_AH ? ((buf[p + 1] as number) + 2) << 2 : ((buf[p + 1] as number) + 1) << 3;
    if (p + hlen > end) return IP6_WALK_EHDRTRUNC;
    const k = out.n++;
    out.types[k] = nxt;
    out.offs[k] = p;
    out.lens[k] = hlen;
    nxtField = p;
    if (nxt === IPPROTO_ROUTING && out.rtOff < 0) out.rtOff = p;
    const next = buf[p] as number;
    if (nxt === IPPROTO_FRAGMENT) {
      out.fragOff = p;
      if ((get16(buf, p + IP6F_OFF_OFFLG) & IP6F_OFF_MASK) !== 0) {
        nxt = next;
        p += hlen;
        break;
      }
    }
    nxt = next;
    p += hlen;
  }
  out.nxt = nxt;
  out.upOff = p;
  return IP6_WALK_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Option cursor (hop-by-hop and destination options)                                          */
/* ------------------------------------------------------------------------------------------ */

// Ip6OptCursor.next() results
export const IP6OPT_NEXT_DONE = 0;
export const IP6OPT_NEXT_OK = 1;
/** The option's length byte is missing or its data runs past the header (optOff tells where). */
export const IP6OPT_NEXT_ETRUNC = -1;

/**
 * Iterates over the options of a hop-by-hop or destination options header without
 * allocating. attach() takes the header's offset and its full length (from the walker);
 * each next() == IP6OPT_NEXT_OK exposes one option, Pad1 and PadN included:
 * `type`, `optOff` (absolute offset of the type byte), `dataOff`, `dataLen`.
 */
export class Ip6OptCursor {
  buf: Uint8Array = EMPTY;
  pos = 0;
  end = 0;
  type = 0;
  optOff = 0;
  dataOff = 0;
  dataLen = 0;

  attach(buf: Uint8Array, hdrOff: number, hdrLen: number): this {
    this.buf = buf;
    this.pos = hdrOff + 2;
    this.end = Math.min(hdrOff + hdrLen, buf.length);
    return this;
  }

  next(): number {
    if (this.pos >= this.end) return IP6OPT_NEXT_DONE;
    const t = this.buf[this.pos] as number;
    this.type = t;
    this.optOff = this.pos;
    if (t === IP6OPT_PAD1) {
      this.dataOff = this.pos + 1;
      this.dataLen = 0;
      this.pos++;
      return IP6OPT_NEXT_OK;
    }
    if (this.pos + 2 > this.end) return IP6OPT_NEXT_ETRUNC;
    const dl = this.buf[this.pos + 1] as number;
    if (this.pos + 2 + dl > this.end) return IP6OPT_NEXT_ETRUNC;
    this.dataOff = this.pos + 2;
    this.dataLen = dl;
    this.pos += 2 + dl;
    return IP6OPT_NEXT_OK;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Repr                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/**
 * One TLV option of a hop-by-hop or destination options header, in wire order.
 * padN: `n` octets of padding in total (n >= 2; the data must be zeros, RFC 8200 §4.2).
 * unknown: any other type, `type` the full type byte (its high bits give the §4.2 action).
 */
export type Ip6Option =
  | { kind: 'pad1' }
  | { kind: 'padN'; n: number }
  | { kind: 'routerAlert'; value: number }
  | { kind: 'jumbo'; payloadLen: number }
  | { kind: 'unknown'; type: number; data: Uint8Array };

/**
 * One extension header. Next Header fields are not stored: they follow from the next entry
 * (or Ip6Repr.nxt for the last one). Reserved fields are not stored (written as zero).
 * - hbh / dstopts: options in wire order; emit pads with Pad1/PadN to a multiple of 8.
 * - rt0: routing type 0 (RFC 2460 §4.4), parsed but `deprecated` (RFC 5095 §3: must not be
 *   processed; ip6_input treats it like an unrecognised routing type).
 * - rt2: routing type 2 (RFC 6275 §6.4), one home address.
 * - rt: any other routing type (e.g. 4, the RFC 8754 SRH), `data` = bytes after Segments Left.
 * - frag: `offset` in bytes (multiple of 8), `more` the M flag.
 * - ah: the Authentication Header (RFC 4302), `data` = bytes after its length byte.
 */
export type Ip6ExtHeader =
  | { kind: 'hbh'; options: Ip6Option[] }
  | { kind: 'dstopts'; options: Ip6Option[] }
  | { kind: 'rt0'; deprecated: true; segLeft: number; addrs: Uint8Array[] }
  | { kind: 'rt2'; segLeft: number; addr: Uint8Array }
  | { kind: 'rt'; type: number; segLeft: number; data: Uint8Array }
  | { kind: 'frag'; offset: number; more: boolean; ident: number }
  | { kind: 'ah'; data: Uint8Array };

/**
 * An IPv6 packet header chain as values. Addresses are 16-byte arrays (copies on parse).
 * `nxt` is the protocol after the extension headers; `payloadLen` the bytes after them. The
 * Payload Length field is derived: extension headers + payloadLen, or 0 when the hop-by-hop
 * header carries a Jumbo Payload option (RFC 2675), whose value must then equal
 * extension headers + payloadLen.
 */
export interface Ip6Repr {
  tc: number;
  flow: number;
  hlim: number;
  src: Uint8Array;
  dst: Uint8Array;
  ext: Ip6ExtHeader[];
  nxt: number;
  payloadLen: number;
}

function extProto(h: Ip6ExtHeader): number {
  switch (h.kind) {
    case 'hbh':
      return IPPROTO_HOPOPTS;
    case 'dstopts':
      return IPPROTO_DSTOPTS;
    case 'rt0':
    case 'rt2':
    case 'rt':
      return IPPROTO_ROUTING;
    case 'frag':
      return IPPROTO_FRAGMENT;
    case 'ah':
      return IPPROTO_AH;
  }
}

/** Parse the options of a hop-by-hop/destination header (strict). */
function parseOptions(b: Uint8Array, hdrOff: number, hdrLen: number, out: Ip6Option[]): string | null {
  const c = new Ip6OptCursor().attach(b, hdrOff, hdrLen);
  for (;;) {
    const r = c.next();
    if (r === IP6OPT_NEXT_DONE) return null;
    if (r !== IP6OPT_NEXT_OK) return `ipv6: option type ${c.type} runs past its header`;
    switch (c.type) {
      case IP6OPT_PAD1:
        out.push({ kind: 'pad1' });
        break;
      case IP6OPT_PADN:
        // RFC 8200 §4.2: PadN data is zero-valued (RFC 4942 §2.1.9.5: check it).
        for (let i = 0; i < c.dataLen; i++) if (b[c.dataOff + i] !== 0) return 'ipv6: PadN option with non-zero data';
        out.push({ kind: 'padN', n: c.dataLen + 2 });
        break;
      case IP6OPT_ROUTER_ALERT:
        if (c.dataLen !== 2) return `ipv6: router alert option data length ${c.dataLen}`; // RFC 2711 §2.1
        out.push({ kind: 'routerAlert', value: get16(b, c.dataOff) });
        break;
      case IP6OPT_JUMBO:
        if (c.dataLen !== 4) return `ipv6: jumbo payload option data length ${c.dataLen}`; // RFC 2675 §2
        out.push({ kind: 'jumbo', payloadLen: get32(b, c.dataOff) });
        break;
      default:
        out.push({ kind: 'unknown', type: c.type, data: b.slice(c.dataOff, c.dataOff + c.dataLen) });
    }
  }
}

function parseExt(b: Uint8Array, type: number, p: number, hlen: number): Ip6ExtHeader | string {
  switch (type) {
    case IPPROTO_HOPOPTS:
    case IPPROTO_DSTOPTS: {
      const options: Ip6Option[] = [];
      const err = parseOptions(b, p, hlen, options);
      if (err !== null) return err;
      return type === IPPROTO_HOPOPTS ? { kind: 'hbh', options } : { kind: 'dstopts', options };
    }
    case IPPROTO_ROUTING: {
      const rtype = b[p + IP6R_OFF_TYPE] as number;
      const segLeft = b[p + IP6R_OFF_SEGLEFT] as number;
      const hdrExtLen = b[p + IP6E_OFF_LEN] as number;
      if (rtype === IPV6_RTHDR_TYPE_0) {
        // RFC 2460 §4.4: Hdr Ext Len is twice the number of addresses.
        if (hdrExtLen & 1) return `ipv6: routing type 0 with odd length ${hdrExtLen}`;
        const addrs: Uint8Array[] = [];
        for (let i = 0; i < hdrExtLen >>> 1; i++) addrs.push(b.slice(p + 8 + 16 * i, p + 24 + 16 * i));
        return { kind: 'rt0', deprecated: true, segLeft, addrs };
      }
      if (rtype === IPV6_RTHDR_TYPE_2) {
        if (hdrExtLen !== 2) return `ipv6: routing type 2 with length ${hdrExtLen}`; // RFC 6275 §6.4
        return { kind: 'rt2', segLeft, addr: b.slice(p + 8, p + 24) };
      }
      return { kind: 'rt', type: rtype, segLeft, data: b.slice(p + 4, p + hlen) };
    }
    case IPPROTO_FRAGMENT: {
      const offlg = get16(b, p + IP6F_OFF_OFFLG);
      return { kind: 'frag', offset: offlg & IP6F_OFF_MASK, more: (offlg & IP6F_MORE_FRAG) !== 0, ident: get32(b, p + IP6F_OFF_IDENT) };
    }
    default:
      return { kind: 'ah', data: b.slice(p + 2, p + hlen) };
  }
}

const WALK_ERRORS: Record<number, string> = {
  [IP6_WALK_ETRUNC]: 'ipv6: truncated packet',
  [IP6_WALK_EVERSION]: 'ipv6: version is not 6',
  [IP6_WALK_EHDRTRUNC]: 'ipv6: extension header runs past the payload',
  [IP6_WALK_EHBH]: 'ipv6: hop-by-hop options header not first',
  [IP6_WALK_ETOOMANY]: 'ipv6: too many extension headers',
};

/** Parse an IPv6 packet's headers (fixed and extension). Never throws. */
export function parseIp6(buf: Uint8Array, off: number, len: number): ParseResult<Ip6Repr> {
  const chain = new Ip6ExtChain();
  const r = ip6_exthdr_walk(buf, off, len, chain);
  if (r !== IP6_WALK_OK) return fail(WALK_ERRORS[r] ?? 'ipv6: malformed');
  const ext: Ip6ExtHeader[] = [];
  let jumbo = -1;
  for (let k = 0; k < chain.n; k++) {
    const h = parseExt(buf, chain.types[k] as number, chain.offs[k] as number, chain.lens[k] as number);
    if (typeof h === 'string') return fail(h);
    if (h.kind === 'hbh') for (const o of h.options) if (o.kind === 'jumbo') jumbo = o.payloadLen;
    ext.push(h);
  }
  const plen = get16(buf, off + IP6_OFF_PLEN);
  let end = chain.end;
  if (jumbo >= 0) {
    // RFC 2675 §3: with a Jumbo Payload option the Payload Length field must be 0.
    if (plen !== 0) return fail('ipv6: jumbo payload option with non-zero payload length');
    if (IP6_HDR_LEN + jumbo > len) return fail('ipv6: jumbo payload length beyond the data');
    end = off + IP6_HDR_LEN + jumbo;
    if (chain.upOff > end) return fail('ipv6: jumbo payload length shorter than the extension headers');
  } else if (plen === 0 && chain.n > 0) return fail('ipv6: payload length 0 without a jumbo payload option');
  return ok({
    tc: (get16(buf, off) >>> 4) & 0xff,
    flow: get32(buf, off) & IPV6_FLOWLABEL_MASK,
    hlim: buf[off + IP6_OFF_HLIM] as number,
    src: buf.slice(off + IP6_OFF_SRC, off + IP6_OFF_SRC + 16),
    dst: buf.slice(off + IP6_OFF_DST, off + IP6_OFF_DST + 16),
    ext,
    nxt: chain.nxt,
    payloadLen: end - chain.upOff,
  });
}

function bad(msg: string): never {
  throw new RangeError(`emitIp6: ${msg}`);
}

function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) bad(`${what} ${v} out of range`);
}

function optionLen(o: Ip6Option): number {
  switch (o.kind) {
    case 'pad1':
      return 1;
    case 'padN':
      if (!Number.isInteger(o.n) || o.n < 2 || o.n > 257) bad(`PadN of ${o.n} octets`);
      return o.n;
    case 'routerAlert':
      return IP6OPT_RTALERT_LEN;
    case 'jumbo':
      return IP6OPT_JUMBO_LEN;
    case 'unknown':
      if (o.data.length > 255) bad(`option data of ${o.data.length} bytes`);
      return 2 + o.data.length;
  }
}

/** Length of one extension header as emitIp6 writes it. Throws RangeError if unencodable. */
export function ip6ExtLen(h: Ip6ExtHeader): number {
  switch (h.kind) {
    case 'hbh':
    case 'dstopts': {
      let n = 2;
      for (const o of h.options) n += optionLen(o);
      n = (n + 7) & ~7;
      if (n > 2048) bad(`options header of ${n} bytes`);
      return n;
    }
    case 'rt0':
      if (h.addrs.length > 127) bad(`${h.addrs.length} type 0 addresses`);
      return 8 + 16 * h.addrs.length;
    case 'rt2':
      return 24;
    case 'rt': {
      const n = 4 + h.data.length;
      if (n % 8 !== 0 || n < 8 || n > 2048) bad(`routing header of ${n} bytes`);
      return n;
    }
    case 'frag':
      return IP6F_LEN;
    case 'ah': {
      const n = 2 + h.data.length;
      if (n % 4 !== 0 || n < 8 || n > 1028) bad(`AH of ${n} bytes`);
      return n;
    }
  }
}

/** Bytes emitIp6 writes: the fixed header plus the extension headers (not the payload). */
export function ip6ReprLen(repr: Ip6Repr): number {
  let n = IP6_HDR_LEN;
  for (const h of repr.ext) n += ip6ExtLen(h);
  return n;
}

function emitPad(b: Uint8Array, i: number, n: number): void {
  if (n === 1) b[i] = IP6OPT_PAD1;
  else if (n > 1) {
    b[i] = IP6OPT_PADN;
    b[i + 1] = n - 2;
    b.fill(0, i + 2, i + n);
  }
}

function emitOptions(options: readonly Ip6Option[], b: Uint8Array, p: number, hlen: number): void {
  let i = p + 2;
  for (const o of options) {
    switch (o.kind) {
      case 'pad1':
      case 'padN':
        emitPad(b, i, optionLen(o));
        break;
      case 'routerAlert':
        checkUint(o.value, 0xffff, 'router alert value');
        b[i] = IP6OPT_ROUTER_ALERT;
        b[i + 1] = 2;
        set16(b, i + 2, o.value);
        break;
      case 'jumbo':
        checkUint(o.payloadLen, 0xffffffff, 'jumbo payload length');
        b[i] = IP6OPT_JUMBO;
        b[i + 1] = 4;
        set32(b, i + 2, o.payloadLen);
        break;
      case 'unknown':
        checkUint(o.type, 0xff, 'option type');
        if (o.type === IP6OPT_PAD1 || o.type === IP6OPT_PADN || o.type === IP6OPT_ROUTER_ALERT || o.type === IP6OPT_JUMBO)
          bad(`'unknown' option with known type ${o.type}`);
        b[i] = o.type;
        b[i + 1] = o.data.length;
        b.set(o.data, i + 2);
        break;
    }
    i += optionLen(o);
  }
  // RFC 8200 §4.2: pad the header to a multiple of 8 octets with Pad1/PadN.
  emitPad(b, i, p + hlen - i);
}

/**
 * Write the fixed header and extension headers at buf[off...]; returns ip6ReprLen(repr).
 * The payload (payloadLen bytes) is the caller's, after the headers. Throws RangeError for
 * an unencodable repr or a buffer too small (caller bugs).
 */
export function emitIp6(repr: Ip6Repr, buf: Uint8Array, off: number): number {
  const hdrLen = ip6ReprLen(repr);
  if (!inRange(buf, off, hdrLen)) bad('buffer too small');
  checkUint(repr.tc, 0xff, 'traffic class');
  checkUint(repr.flow, IPV6_FLOWLABEL_MASK, 'flow label');
  checkUint(repr.hlim, 0xff, 'hop limit');
  checkUint(repr.nxt, 0xff, 'next header');
  checkUint(repr.payloadLen, 0xffffffff, 'payload length');
  if (repr.src.length !== 16 || repr.dst.length !== 16) bad('addresses must be 16 bytes');
  let jumbo = -1;
  for (let k = 0; k < repr.ext.length; k++) {
    const h = repr.ext[k] as Ip6ExtHeader;
    if (h.kind === 'hbh') {
      if (k !== 0) bad('hop-by-hop options header must come first'); // RFC 8200 §4.3
      for (const o of h.options) if (o.kind === 'jumbo') jumbo = o.payloadLen;
    }
    // RFC 8200 §4.5: what follows a non-first fragment header is fragment data.
    if (h.kind === 'frag' && h.offset !== 0 && k !== repr.ext.length - 1) bad('headers after a non-first fragment header');
  }
  const ipPayload = hdrLen - IP6_HDR_LEN + repr.payloadLen;
  let plen = ipPayload;
  if (jumbo >= 0) {
    if (jumbo !== ipPayload) bad(`jumbo payload length ${jumbo} differs from ${ipPayload}`);
    plen = 0;
  } else if (ipPayload > IPV6_MAXPACKET) bad(`payload of ${ipPayload} bytes needs a jumbo payload option`);

  set32(buf, off, (IPV6_VERSION * 0x10000000 + repr.tc * 0x100000 + repr.flow) >>> 0);
  set16(buf, off + IP6_OFF_PLEN, plen);
  buf[off + IP6_OFF_NXT] = repr.ext.length > 0 ? extProto(repr.ext[0] as Ip6ExtHeader) : repr.nxt;
  buf[off + IP6_OFF_HLIM] = repr.hlim;
  buf.set(repr.src, off + IP6_OFF_SRC);
  buf.set(repr.dst, off + IP6_OFF_DST);
  let p = off + IP6_HDR_LEN;
  for (let k = 0; k < repr.ext.length; k++) {
    const h = repr.ext[k] as Ip6ExtHeader;
    const hlen = ip6ExtLen(h);
    const next = k + 1 < repr.ext.length ? extProto(repr.ext[k + 1] as Ip6ExtHeader) : repr.nxt;
    buf[p] = next;
    switch (h.kind) {
      case 'hbh':
      case 'dstopts':
        buf[p + 1] = (hlen >>> 3) - 1;
        emitOptions(h.options, buf, p, hlen);
        break;
      case 'rt0':
        checkUint(h.segLeft, 0xff, 'segments left');
        buf[p + 1] = 2 * h.addrs.length;
        buf[p + 2] = IPV6_RTHDR_TYPE_0;
        buf[p + 3] = h.segLeft;
        set32(buf, p + 4, 0);
        for (let i = 0; i < h.addrs.length; i++) {
          const a = h.addrs[i] as Uint8Array;
          if (a.length !== 16) bad('type 0 addresses must be 16 bytes');
          buf.set(a, p + 8 + 16 * i);
        }
        break;
      case 'rt2':
        checkUint(h.segLeft, 0xff, 'segments left');
        if (h.addr.length !== 16) bad('type 2 address must be 16 bytes');
        buf[p + 1] = 2;
        buf[p + 2] = IPV6_RTHDR_TYPE_2;
        buf[p + 3] = h.segLeft;
        set32(buf, p + 4, 0);
        buf.set(h.addr, p + 8);
        break;
      case 'rt':
        checkUint(h.type, 0xff, 'routing type');
        checkUint(h.segLeft, 0xff, 'segments left');
        if (h.type === IPV6_RTHDR_TYPE_0 || h.type === IPV6_RTHDR_TYPE_2) bad(`'rt' with routing type ${h.type}: use rt0/rt2`);
        buf[p + 1] = (hlen >>> 3) - 1;
        buf[p + 2] = h.type;
        buf[p + 3] = h.segLeft;
        buf.set(h.data, p + 4);
        break;
      case 'frag':
        checkUint(h.offset, IP6F_OFF_MASK, 'fragment offset');
        if (h.offset & 7) bad('fragment offset must be a multiple of 8');
        checkUint(h.ident, 0xffffffff, 'fragment ident');
        buf[p + 1] = 0;
        set16(buf, p + IP6F_OFF_OFFLG, h.offset | (h.more ? IP6F_MORE_FRAG : 0));
        set32(buf, p + IP6F_OFF_IDENT, h.ident);
        break;
      case 'ah':
        buf[p + 1] = (hlen >>> 2) - 2;
        buf.set(h.data, p + 2);
        break;
    }
    p += hlen;
  }
  return hdrLen;
}
