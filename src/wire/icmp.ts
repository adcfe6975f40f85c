/*
 * ICMP for IPv4 (RFC 792, RFC 1191 for the fragmentation-needed MTU).
 *
 * Owns: the layout of ICMPv4 messages: a view (IcmpView) with checksum helpers, and
 * IcmpRepr with parseIcmp/emitIcmp/icmpReprLen. Echo and timestamp messages are decoded
 * field by field; error messages (unreachable, source quench, redirect, time exceeded,
 * parameter problem) keep the quoted packet (IP header + at least 8 bytes, RFC 792) as
 * bytes; other types keep their second word and data raw. Must not: keep state, log,
 * decide what to send or accept (that is netinet/ip_icmp.ts), or throw on bad input.
 */

import { get16, get32, set16, set32 } from './bytes.js';
import { inCksum } from './checksum.js';
import { fail, ok, type ParseResult } from './types.js';

export const ICMP_MINLEN = 8;
export const ICMP_OFF_TYPE = 0;
export const ICMP_OFF_CODE = 1;
export const ICMP_OFF_SUM = 2;
export const ICMP_OFF_ID = 4; // echo: identifier; unreach/needfrag: unused(16) | next-hop MTU(16) at 6
export const ICMP_OFF_SEQ = 6;
export const ICMP_OFF_NEXTMTU = 6;
export const ICMP_OFF_PPTR = 4; // parameter problem pointer
export const ICMP_OFF_GWADDR = 4; // redirect gateway

export const ICMP_ECHOREPLY = 0;
export const ICMP_UNREACH = 3;
export const ICMP_SOURCEQUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO = 8;
export const ICMP_ROUTERADVERT = 9;
export const ICMP_ROUTERSOLICIT = 10;
export const ICMP_TIMXCEED = 11;
export const ICMP_PARAMPROB = 12;
export const ICMP_TSTAMP = 13;
export const ICMP_TSTAMPREPLY = 14;
export const ICMP_MASKREQ = 17;
export const ICMP_MASKREPLY = 18;

// ICMP_UNREACH codes
export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_NEEDFRAG = 4;
export const ICMP_UNREACH_SRCFAIL = 5;
export const ICMP_UNREACH_NET_UNKNOWN = 6;
export const ICMP_UNREACH_HOST_UNKNOWN = 7;
export const ICMP_UNREACH_ISOLATED = 8;
export const ICMP_UNREACH_NET_PROHIB = 9;
export const ICMP_UNREACH_HOST_PROHIB = 10;
export const ICMP_UNREACH_TOSNET = 11;
export const ICMP_UNREACH_TOSHOST = 12;
export const ICMP_UNREACH_FILTER_PROHIB = 13;
export const ICMP_UNREACH_HOST_PRECEDENCE = 14;
export const ICMP_UNREACH_PRECEDENCE_CUTOFF = 15;

// ICMP_TIMXCEED codes
export const ICMP_TIMXCEED_INTRANS = 0;
export const ICMP_TIMXCEED_REASS = 1;

// ICMP_PARAMPROB codes
export const ICMP_PARAMPROB_ERRATPTR = 0;
export const ICMP_PARAMPROB_OPTABSENT = 1;
export const ICMP_PARAMPROB_LENGTH = 2;

// ICMP_REDIRECT codes
export const ICMP_REDIRECT_NET = 0;
export const ICMP_REDIRECT_HOST = 1;
export const ICMP_REDIRECT_TOSNET = 2;
export const ICMP_REDIRECT_TOSHOST = 3;

// More offsets and lengths (BSD ip_icmp.h).
export const ICMP_OFF_DATA = 8; // echo data, quoted packet of errors
export const ICMP_OFF_OTIME = 8; // timestamp: originate, receive, transmit
export const ICMP_OFF_RTIME = 12;
export const ICMP_OFF_TTIME = 16;
export const ICMP_OFF_MASK = 8; // address mask request/reply
/** Timestamp request/reply length (RFC 792). */
export const ICMP_TSLEN = 20;
/** Address mask request/reply length (RFC 950). */
export const ICMP_MASKLEN = 12;
/** Shortest useful error: header + quoted IP header (20) + 8 bytes (RFC 792). */
export const ICMP_ADVLENMIN = 8 + 20 + 8;

/** Informational (query) types, as opposed to errors (BSD ICMP_INFOTYPE). */
export function ICMP_INFOTYPE(type: number): boolean {
  return (
    type === ICMP_ECHOREPLY ||
    type === ICMP_ECHO ||
    type === ICMP_ROUTERADVERT ||
    type === ICMP_ROUTERSOLICIT ||
    type === ICMP_TSTAMP ||
    type === ICMP_TSTAMPREPLY ||
    type === 15 || // information request (obsolete)
    type === 16 ||
    type === ICMP_MASKREQ ||
    type === ICMP_MASKREPLY
  );
}

/** Error types that quote the offending datagram (RFC 792; RFC 1122 §3.2.2). */
export function icmpIsError(type: number): boolean {
  return type === ICMP_UNREACH || type === ICMP_SOURCEQUENCH || type === ICMP_REDIRECT || type === ICMP_TIMXCEED || type === ICMP_PARAMPROB;
}

const EMPTY = new Uint8Array(0);

/** View over an ICMP message at buf[off..off+len) (len = the whole message). */
export class IcmpView {
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
   * A view when the range lies in buf and holds the 8-byte header (20 bytes for timestamp
   * messages, 12 for address masks, so their accessors stay in range), else null.
   */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): IcmpView | null {
    if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < ICMP_MINLEN || off + len > buf.length) return null;
    const t = buf[off + ICMP_OFF_TYPE] as number;
    if ((t === ICMP_TSTAMP || t === ICMP_TSTAMPREPLY) && len < ICMP_TSLEN) return null;
    if ((t === ICMP_MASKREQ || t === ICMP_MASKREPLY) && len < ICMP_MASKLEN) return null;
    return new IcmpView().attach(buf, off, len);
  }

  get type(): number {
    return this.buf[this.off + ICMP_OFF_TYPE] as number;
  }
  set type(v: number) {
    this.buf[this.off + ICMP_OFF_TYPE] = v;
  }
  get code(): number {
    return this.buf[this.off + ICMP_OFF_CODE] as number;
  }
  set code(v: number) {
    this.buf[this.off + ICMP_OFF_CODE] = v;
  }
  get checksum(): number {
    return get16(this.buf, this.off + ICMP_OFF_SUM);
  }
  set checksum(v: number) {
    set16(this.buf, this.off + ICMP_OFF_SUM, v);
  }
  /** The second 32-bit word, whatever its meaning for this type. */
  get rest(): number {
    return get32(this.buf, this.off + ICMP_OFF_ID);
  }
  set rest(v: number) {
    set32(this.buf, this.off + ICMP_OFF_ID, v);
  }
  /** Echo and timestamp identifier. */
  get id(): number {
    return get16(this.buf, this.off + ICMP_OFF_ID);
  }
  set id(v: number) {
    set16(this.buf, this.off + ICMP_OFF_ID, v);
  }
  /** Echo and timestamp sequence number. */
  get seq(): number {
    return get16(this.buf, this.off + ICMP_OFF_SEQ);
  }
  set seq(v: number) {
    set16(this.buf, this.off + ICMP_OFF_SEQ, v);
  }
  /** Next-hop MTU of a fragmentation-needed unreachable (RFC 1191 §4); 0 from old routers. */
  get nextMtu(): number {
    return get16(this.buf, this.off + ICMP_OFF_NEXTMTU);
  }
  set nextMtu(v: number) {
    set16(this.buf, this.off + ICMP_OFF_NEXTMTU, v);
  }
  /** Parameter problem pointer: offset of the bad octet in the quoted header (RFC 792). */
  get pptr(): number {
    return this.buf[this.off + ICMP_OFF_PPTR] as number;
  }
  set pptr(v: number) {
    this.buf[this.off + ICMP_OFF_PPTR] = v;
  }
  /** Redirect gateway address. */
  get gwaddr(): number {
    return get32(this.buf, this.off + ICMP_OFF_GWADDR);
  }
  set gwaddr(v: number) {
    set32(this.buf, this.off + ICMP_OFF_GWADDR, v);
  }
  /** Timestamp originate time (ms since midnight UT, RFC 792). Timestamp messages only. */
  get otime(): number {
    return get32(this.buf, this.off + ICMP_OFF_OTIME);
  }
  set otime(v: number) {
    set32(this.buf, this.off + ICMP_OFF_OTIME, v);
  }
  get rtime(): number {
    return get32(this.buf, this.off + ICMP_OFF_RTIME);
  }
  set rtime(v: number) {
    set32(this.buf, this.off + ICMP_OFF_RTIME, v);
  }
  get ttime(): number {
    return get32(this.buf, this.off + ICMP_OFF_TTIME);
  }
  set ttime(v: number) {
    set32(this.buf, this.off + ICMP_OFF_TTIME, v);
  }
  /** Address mask (RFC 950). Mask messages only. */
  get mask(): number {
    return get32(this.buf, this.off + ICMP_OFF_MASK);
  }
  set mask(v: number) {
    set32(this.buf, this.off + ICMP_OFF_MASK, v);
  }
  /** Bytes after the 8-byte header (echo data, or the quoted packet of an error). */
  data(): Uint8Array {
    return this.buf.subarray(this.off + ICMP_OFF_DATA, this.off + this.len);
  }
  /** The checksum covers the whole message (RFC 792); an intact one sums to zero. */
  verifyChecksum(): boolean {
    return inCksum(this.buf, this.off, this.len) === 0;
  }
  fillChecksum(): void {
    set16(this.buf, this.off + ICMP_OFF_SUM, 0);
    set16(this.buf, this.off + ICMP_OFF_SUM, inCksum(this.buf, this.off, this.len));
  }
}

/**
 * An ICMPv4 message, by kind. `data`/`quote` from parse are subarray views of the input
 * (copy them to keep them beyond the packet). `quote` is everything after the 8-byte
 * header: the offending IP header and at least 8 bytes of its payload (RFC 792), often
 * more (RFC 1812 §4.3.2.3). Unused words of error messages are emitted as zero.
 */
export type IcmpRepr =
  | { kind: 'echoRequest' | 'echoReply'; code: number; id: number; seq: number; data: Uint8Array }
  /** Destination unreachable; nextMtu is meaningful for ICMP_UNREACH_NEEDFRAG (RFC 1191), else 0. */
  | { kind: 'unreach'; code: number; nextMtu: number; quote: Uint8Array }
  | { kind: 'sourceQuench'; code: number; quote: Uint8Array }
  | { kind: 'redirect'; code: number; gateway: number; quote: Uint8Array }
  | { kind: 'timeExceeded'; code: number; quote: Uint8Array }
  | { kind: 'paramProblem'; code: number; pointer: number; quote: Uint8Array }
  | { kind: 'timestampRequest' | 'timestampReply'; code: number; id: number; seq: number; originate: number; receive: number; transmit: number }
  /** Any other type: second word and following bytes raw. */
  | { kind: 'other'; type: number; code: number; rest: number; data: Uint8Array };

/** The ICMP type number a repr is emitted with. */
export function icmpReprType(repr: IcmpRepr): number {
  switch (repr.kind) {
    case 'echoRequest':
      return ICMP_ECHO;
    case 'echoReply':
      return ICMP_ECHOREPLY;
    case 'unreach':
      return ICMP_UNREACH;
    case 'sourceQuench':
      return ICMP_SOURCEQUENCH;
    case 'redirect':
      return ICMP_REDIRECT;
    case 'timeExceeded':
      return ICMP_TIMXCEED;
    case 'paramProblem':
      return ICMP_PARAMPROB;
    case 'timestampRequest':
      return ICMP_TSTAMP;
    case 'timestampReply':
      return ICMP_TSTAMPREPLY;
    case 'other':
      return repr.type;
  }
}

/** Bytes that emitIcmp writes: the whole message. */
export function icmpReprLen(repr: IcmpRepr): number {
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
    case 'other':
      return ICMP_MINLEN + repr.data.length;
    case 'timestampRequest':
    case 'timestampReply':
      return ICMP_TSLEN;
    default:
      return ICMP_MINLEN + repr.quote.length;
  }
}

/**
 * Parse an ICMP message at buf[off..off+len) (len = the IP payload length). Never throws.
 * Rejects a range outside buf, fewer than 8 bytes, a timestamp message shorter than 20,
 * and, when `verifyChecksum`, a bad checksum. Trailing bytes after a timestamp are ignored.
 */
export function parseIcmp(buf: Uint8Array, off = 0, len = buf.length - off, verifyChecksum = true): ParseResult<IcmpRepr> {
  if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > buf.length) return fail('range outside buffer');
  if (len < ICMP_MINLEN) return fail('truncated header');
  if (verifyChecksum && inCksum(buf, off, len) !== 0) return fail('bad checksum');
  const type = buf[off + ICMP_OFF_TYPE] as number;
  const code = buf[off + ICMP_OFF_CODE] as number;
  const data = buf.subarray(off + ICMP_OFF_DATA, off + len);
  switch (type) {
    case ICMP_ECHO:
    case ICMP_ECHOREPLY:
      return ok({
        kind: type === ICMP_ECHO ? 'echoRequest' : 'echoReply',
        code,
        id: get16(buf, off + ICMP_OFF_ID),
        seq: get16(buf, off + ICMP_OFF_SEQ),
        data,
      });
    case ICMP_UNREACH:
      return ok({ kind: 'unreach', code, nextMtu: get16(buf, off + ICMP_OFF_NEXTMTU), quote: data });
    case ICMP_SOURCEQUENCH:
      return ok({ kind: 'sourceQuench', code, quote: data });
    case ICMP_REDIRECT:
      return ok({ kind: 'redirect', code, gateway: get32(buf, off + ICMP_OFF_GWADDR), quote: data });
    case ICMP_TIMXCEED:
      return ok({ kind: 'timeExceeded', code, quote: data });
    case ICMP_PARAMPROB:
      return ok({ kind: 'paramProblem', code, pointer: buf[off + ICMP_OFF_PPTR] as number, quote: data });
    case ICMP_TSTAMP:
    case ICMP_TSTAMPREPLY:
      if (len < ICMP_TSLEN) return fail('truncated timestamp');
      return ok({
        kind: type === ICMP_TSTAMP ? 'timestampRequest' : 'timestampReply',
        code,
        id: get16(buf, off + ICMP_OFF_ID),
        seq: get16(buf, off + ICMP_OFF_SEQ),
        originate: get32(buf, off + ICMP_OFF_OTIME),
        receive: get32(buf, off + ICMP_OFF_RTIME),
        transmit: get32(buf, off + ICMP_OFF_TTIME),
      });
    default:
      return ok({ kind: 'other', type, code, rest: get32(buf, off + ICMP_OFF_ID), data });
  }
}

/** Write the whole message for `repr` at buf[off..] with its checksum; return its length. */
export function emitIcmp(repr: IcmpRepr, buf: Uint8Array, off: number): number {
  const len = icmpReprLen(repr);
  buf[off + ICMP_OFF_TYPE] = icmpReprType(repr);
  buf[off + ICMP_OFF_CODE] = repr.code;
  set16(buf, off + ICMP_OFF_SUM, 0);
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      set16(buf, off + ICMP_OFF_ID, repr.id);
      set16(buf, off + ICMP_OFF_SEQ, repr.seq);
      buf.set(repr.data, off + ICMP_OFF_DATA);
      break;
    case 'unreach':
      set16(buf, off + ICMP_OFF_ID, 0); // unused (RFC 1191 §4)
      set16(buf, off + ICMP_OFF_NEXTMTU, repr.nextMtu);
      buf.set(repr.quote, off + ICMP_OFF_DATA);
      break;
    case 'sourceQuench':
    case 'timeExceeded':
      set32(buf, off + ICMP_OFF_ID, 0);
      buf.set(repr.quote, off + ICMP_OFF_DATA);
      break;
    case 'redirect':
      set32(buf, off + ICMP_OFF_GWADDR, repr.gateway);
      buf.set(repr.quote, off + ICMP_OFF_DATA);
      break;
    case 'paramProblem':
      set32(buf, off + ICMP_OFF_ID, 0);
      buf[off + ICMP_OFF_PPTR] = repr.pointer;
      buf.set(repr.quote, off + ICMP_OFF_DATA);
      break;
    case 'timestampRequest':
    case 'timestampReply':
      set16(buf, off + ICMP_OFF_ID, repr.id);
      set16(buf, off + ICMP_OFF_SEQ, repr.seq);
      set32(buf, off + ICMP_OFF_OTIME, repr.originate);
      set32(buf, off + ICMP_OFF_RTIME, repr.receive);
      set32(buf, off + ICMP_OFF_TTIME, repr.transmit);
      break;
    case 'other':
      set32(buf, off + ICMP_OFF_ID, repr.rest);
      buf.set(repr.data, off + ICMP_OFF_DATA);
      break;
  }
  set16(buf, off + ICMP_OFF_SUM, inCksum(buf, off, len));
  return len;
}
