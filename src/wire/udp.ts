/*
 * UDP header (RFC 768).
 *
 * Owns: the layout of the UDP header and its checksum over the IPv4 (RFC 768) or IPv6
 * (RFC 8200 §8.1) pseudo-header: a view (UdpView) and UdpRepr with parseUdp4/parseUdp6,
 * emitUdp4/emitUdp6 and udpReprLen. Checksum rules:
 *   - over IPv4, a checksum field of 0 means "no checksum" (RFC 768);
 *   - over IPv6, the checksum is mandatory and a 0 field is rejected (RFC 8200 §8.1);
 *   - a computed checksum of 0 is sent as 0xffff (RFC 768, RFC 8200 §8.1).
 * The checksummed bytes must be contiguous in the buffer (header then payload); chains of
 * mbufs sum their pieces through netinet/in_cksum.ts instead. Must not: keep state, log, or
 * throw on bad input.
 */

import { get16, set16 } from './bytes.js';
import { cksumFinish, cksumPartial, pseudoSum4, pseudoSum6 } from './checksum.js';
import { fail, ok, type ParseResult } from './types.js';

export const UDP_HDR_LEN = 8;
export const UDP_OFF_SPORT = 0;
export const UDP_OFF_DPORT = 2;
export const UDP_OFF_LEN = 4;
export const UDP_OFF_SUM = 6;

/** IP protocol number of UDP (pseudo-header next header / protocol). */
const UDP_PROTO = 17;

const EMPTY = new Uint8Array(0);

function inBuf(buf: Uint8Array, off: number, len: number): boolean {
  return Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= buf.length;
}

/**
 * The checksum field value for the UDP datagram buf[off..off+ulen) over IPv4 src → dst,
 * computed as if the field were zero, with a 0 result mapped to 0xffff (RFC 768).
 */
export function udpChecksum4(buf: Uint8Array, off: number, ulen: number, src: number, dst: number): number {
  let sum = pseudoSum4(src, dst, UDP_PROTO, ulen);
  sum = cksumPartial(buf, off, UDP_OFF_SUM, sum);
  sum = cksumPartial(buf, off + UDP_HDR_LEN, ulen - UDP_HDR_LEN, sum);
  return cksumFinish(sum) || 0xffff;
}

/** As udpChecksum4 over the IPv6 pseudo-header (16-byte src and dst; RFC 8200 §8.1). */
export function udpChecksum6(buf: Uint8Array, off: number, ulen: number, src: Uint8Array, dst: Uint8Array): number {
  let sum = pseudoSum6(src, 0, dst, 0, UDP_PROTO, ulen);
  sum = cksumPartial(buf, off, UDP_OFF_SUM, sum);
  sum = cksumPartial(buf, off + UDP_HDR_LEN, ulen - UDP_HDR_LEN, sum);
  return cksumFinish(sum) || 0xffff;
}

/** Does the datagram (checksum field included) sum to 0xffff with its pseudo-header? */
function sumsOk4(buf: Uint8Array, off: number, ulen: number, src: number, dst: number): boolean {
  return cksumFinish(cksumPartial(buf, off, ulen, pseudoSum4(src, dst, UDP_PROTO, ulen))) === 0;
}

function sumsOk6(buf: Uint8Array, off: number, ulen: number, src: Uint8Array, dst: Uint8Array): boolean {
  return cksumFinish(cksumPartial(buf, off, ulen, pseudoSum6(src, 0, dst, 0, UDP_PROTO, ulen))) === 0;
}

/**
 * View over a UDP datagram at buf[off..off+len) (len = bytes available, normally the IP
 * payload length; the UDP length field may be smaller).
 */
export class UdpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  attach(buf: Uint8Array, off = 0, len = buf.length - off): this {
    this.buf = buf;
    this.off = off;
    this.len = len;
    return this;
  }

  /** A view when the range lies in buf and 8 ≤ length field ≤ len, else null. */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): UdpView | null {
    if (!inBuf(buf, off, len) || len < UDP_HDR_LEN) return null;
    const ulen = get16(buf, off + UDP_OFF_LEN);
    if (ulen < UDP_HDR_LEN || ulen > len) return null;
    return new UdpView().attach(buf, off, len);
  }

  get srcPort(): number {
    return get16(this.buf, this.off + UDP_OFF_SPORT);
  }
  set srcPort(v: number) {
    set16(this.buf, this.off + UDP_OFF_SPORT, v);
  }
  get dstPort(): number {
    return get16(this.buf, this.off + UDP_OFF_DPORT);
  }
  set dstPort(v: number) {
    set16(this.buf, this.off + UDP_OFF_DPORT, v);
  }
  /** Length field: header + data in bytes. */
  get length(): number {
    return get16(this.buf, this.off + UDP_OFF_LEN);
  }
  set length(v: number) {
    set16(this.buf, this.off + UDP_OFF_LEN, v);
  }
  get checksum(): number {
    return get16(this.buf, this.off + UDP_OFF_SUM);
  }
  set checksum(v: number) {
    set16(this.buf, this.off + UDP_OFF_SUM, v);
  }
  /** Data (8..length field) as a subarray view. */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + UDP_HDR_LEN, this.off + this.length);
  }
  /** IPv4: true when the checksum is 0 (none, RFC 768) or verifies. */
  verifyChecksum4(src: number, dst: number): boolean {
    return this.checksum === 0 || sumsOk4(this.buf, this.off, this.length, src, dst);
  }
  /** IPv6: true only when the checksum is non-zero and verifies (RFC 8200 §8.1). */
  verifyChecksum6(src: Uint8Array, dst: Uint8Array): boolean {
    return this.checksum !== 0 && sumsOk6(this.buf, this.off, this.length, src, dst);
  }
  fillChecksum4(src: number, dst: number): void {
    this.checksum = udpChecksum4(this.buf, this.off, this.length, src, dst);
  }
  fillChecksum6(src: Uint8Array, dst: Uint8Array): void {
    this.checksum = udpChecksum6(this.buf, this.off, this.length, src, dst);
  }
}

/** A UDP header: the ports. Length and checksum are computed on emit. */
export interface UdpRepr {
  srcPort: number;
  dstPort: number;
}

/** What parseUdp4/parseUdp6 return. */
export interface UdpParsed {
  repr: UdpRepr;
  /** Absolute offset of the data in the buffer. */
  payloadOff: number;
  /** Length field minus 8 (bytes beyond the length field are not UDP's). */
  payloadLen: number;
  /** False when an IPv4 datagram carried no checksum (field 0; BSD udps_nosum). */
  checksummed: boolean;
}

/** Bytes that emitUdp4/emitUdp6 write: the 8-byte header. */
export function udpReprLen(_repr: UdpRepr): number {
  return UDP_HDR_LEN;
}

function parseCommon(buf: Uint8Array, off: number, len: number): ParseResult<number> {
  if (!inBuf(buf, off, len)) return fail('range outside buffer');
  if (len < UDP_HDR_LEN) return fail('truncated header');
  const ulen = get16(buf, off + UDP_OFF_LEN);
  // RFC 768 / BSD udp_input: the length must cover the header and fit in the IP payload.
  if (ulen < UDP_HDR_LEN) return fail('bad length');
  if (ulen > len) return fail('truncated datagram');
  return ok(ulen);
}

function parsed(buf: Uint8Array, off: number, ulen: number, checksummed: boolean): ParseResult<UdpParsed> {
  return ok({
    repr: { srcPort: get16(buf, off + UDP_OFF_SPORT), dstPort: get16(buf, off + UDP_OFF_DPORT) },
    payloadOff: off + UDP_HDR_LEN,
    payloadLen: ulen - UDP_HDR_LEN,
    checksummed,
  });
}

/**
 * Parse a UDP datagram carried over IPv4 from `src` to `dst` at buf[off..off+len) (len =
 * IP payload length). Never throws. Rejects a range outside buf, a short header, a length
 * field below 8 or beyond len, and (when `verifyChecksum`) a non-zero checksum that fails.
 */
export function parseUdp4(buf: Uint8Array, off: number, len: number, src: number, dst: number, verifyChecksum = true): ParseResult<UdpParsed> {
  const c = parseCommon(buf, off, len);
  if (!c.ok) return fail(c.error);
  const ulen = c.value;
  const sum = get16(buf, off + UDP_OFF_SUM);
  if (sum !== 0 && verifyChecksum && !sumsOk4(buf, off, ulen, src, dst)) return fail('bad checksum');
  return parsed(buf, off, ulen, sum !== 0);
}

/**
 * Parse a UDP datagram carried over IPv6 (16-byte `src`/`dst`). As parseUdp4, and a zero
 * checksum field is rejected when `verifyChecksum` (RFC 8200 §8.1).
 */
export function parseUdp6(buf: Uint8Array, off: number, len: number, src: Uint8Array, dst: Uint8Array, verifyChecksum = true): ParseResult<UdpParsed> {
  const c = parseCommon(buf, off, len);
  if (!c.ok) return fail(c.error);
  const ulen = c.value;
  const sum = get16(buf, off + UDP_OFF_SUM);
  if (verifyChecksum) {
    if (sum === 0) return fail('zero checksum');
    if (!sumsOk6(buf, off, ulen, src, dst)) return fail('bad checksum');
  }
  return parsed(buf, off, ulen, sum !== 0);
}

function emitHeader(repr: UdpRepr, buf: Uint8Array, off: number, payloadLen: number): void {
  set16(buf, off + UDP_OFF_SPORT, repr.srcPort);
  set16(buf, off + UDP_OFF_DPORT, repr.dstPort);
  set16(buf, off + UDP_OFF_LEN, UDP_HDR_LEN + payloadLen);
  set16(buf, off + UDP_OFF_SUM, 0);
}

/**
 * Write the header at buf[off..off+8) for `payloadLen` bytes of data that are already in
 * place at buf[off+8..]; compute the checksum over the IPv4 pseudo-header, or leave it 0
 * ("no checksum", or to be filled by offload) when `withChecksum` is false. Returns 8.
 */
export function emitUdp4(repr: UdpRepr, buf: Uint8Array, off: number, payloadLen: number, src: number, dst: number, withChecksum = true): number {
  emitHeader(repr, buf, off, payloadLen);
  if (withChecksum) set16(buf, off + UDP_OFF_SUM, udpChecksum4(buf, off, UDP_HDR_LEN + payloadLen, src, dst));
  return UDP_HDR_LEN;
}

/** As emitUdp4 over IPv6; the checksum is always computed (RFC 8200 §8.1). Returns 8. */
export function emitUdp6(repr: UdpRepr, buf: Uint8Array, off: number, payloadLen: number, src: Uint8Array, dst: Uint8Array): number {
  emitHeader(repr, buf, off, payloadLen);
  set16(buf, off + UDP_OFF_SUM, udpChecksum6(buf, off, UDP_HDR_LEN + payloadLen, src, dst));
  return UDP_HDR_LEN;
}
