/*
 * TCP header (RFC 9293 §3.1) and options: EOL, NOP, MSS (RFC 9293), window scale and
 * timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018), MD5 signature (RFC 2385, kind
 * 19), TCP-AO (RFC 5925, kind 29), Fast Open cookie (RFC 7413, kind 34; and the
 * experimental kind 254 with magic 0xF989, RFC 6994); unknown kinds are kept as raw bytes.
 *
 * This file owns the byte layout of the TCP header and its options and the TCP checksum over
 * the IPv4/IPv6 pseudo-headers. It keeps no state, does no I/O and no logging. Three ways in:
 *
 *   - TcpView: a reusable view over (buf, off, len) with a getter and setter per field and
 *     checksum helpers. No allocation. checked()/attachChecked() validate the lengths once so
 *     that no accessor can read out of range afterwards.
 *   - tcp_dooptions(): the zero-allocation, LENIENT option walker for tcp_input, modelled on
 *     FreeBSD's tcp_dooptions() and `struct tcpopt`. It fills a reusable TcpOptsScratch and
 *     stops at the first malformed option, reporting the error code and where it was; the
 *     options it recognised before that point stay in the scratch object.
 *   - TcpRepr with parseTcp()/emitTcp()/tcpReprLen(): the STRICT codec (tests, packetdrill,
 *     tracing). parseTcp never throws; any malformed option is a rejection. The option list
 *     is kept in wire order INCLUDING NOP and EOL entries, so emit(parse(bytes)) reproduces
 *     the bytes and parse(emit(repr)) deep-equals repr for every canonical repr.
 *
 * Sequence numbers are plain uint32 numbers here; comparing them is tcp_seq.ts's business.
 */

import { get16, get32, set16, set32 } from './bytes.js';
import { cksumFinish, cksumPartial, pseudoSum4, pseudoSum6 } from './checksum.js';
import { IPPROTO_TCP } from './ipv4.js';
import { fail, ok, type ParseResult } from './types.js';

export const TCP_HDR_LEN = 20;
export const TCP_MAXOLEN = 40;
export const TCP_MAXHLEN = 60;

export const TCP_OFF_SPORT = 0;
export const TCP_OFF_DPORT = 2;
export const TCP_OFF_SEQ = 4;
export const TCP_OFF_ACK = 8;
export const TCP_OFF_OFFX2 = 12; // data offset(4) | reserved(3) | AE(1)
export const TCP_OFF_FLAGS = 13;
export const TCP_OFF_WIN = 14;
export const TCP_OFF_SUM = 16;
export const TCP_OFF_URP = 18;
export const TCP_OFF_OPTS = 20;

// th_flags (the AE bit, RFC 9768 AccECN, is bit 0 of byte 12 and is reported as 0x100)
export const TH_FIN = 0x01;
export const TH_SYN = 0x02;
export const TH_RST = 0x04;
export const TH_PUSH = 0x08;
export const TH_ACK = 0x10;
export const TH_URG = 0x20;
export const TH_ECE = 0x40;
export const TH_CWR = 0x80;
export const TH_AE = 0x100;
export const TH_FLAGS = 0x1ff;

// Option kinds
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MAXSEG = 2;
export const TCPOLEN_MAXSEG = 4;
export const TCPOPT_WINDOW = 3;
export const TCPOLEN_WINDOW = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOLEN_SACK_PERMITTED = 2;
export const TCPOPT_SACK = 5;
export const TCPOLEN_SACKHDR = 2;
export const TCPOLEN_SACK = 8; // per block
export const TCPOPT_TIMESTAMP = 8;
export const TCPOLEN_TIMESTAMP = 10;
export const TCPOLEN_TSTAMP_APPA = TCPOLEN_TIMESTAMP + 2; // with two NOPs (RFC 7323 App. A)
export const TCPOPT_SIGNATURE = 19; // MD5 (RFC 2385)
export const TCPOLEN_SIGNATURE = 18;
export const TCP_SIGLEN = 16; // MD5 digest bytes
export const TCPOPT_AO = 29; // TCP-AO (RFC 5925)
export const TCPOLEN_AO_MIN = 4; // kind, length, KeyID, RNextKeyID (RFC 5925 §2.2)
export const TCPOPT_FAST_OPEN = 34; // RFC 7413
export const TCPOLEN_FAST_OPEN_EMPTY = 2;
export const TCPOPT_EXP_FO = 254; // experimental option (RFC 6994) used by early TFO
export const TCPOPT_FAST_OPEN_EXP_MAGIC = 0xf989;
export const TCPOLEN_EXP_FO_EMPTY = 4; // kind, length, 16-bit magic
export const TCP_FASTOPEN_MIN_COOKIE_LEN = 4; // RFC 7413 §4.1.1
export const TCP_FASTOPEN_MAX_COOKIE_LEN = 16;

export const TCP_MAX_WINSHIFT = 14; // RFC 7323 §2.3
export const TCP_MAXWIN = 65535;
export const TCP_MAX_SACK = 4;

// TcpOptsScratch.flags (FreeBSD tcp_var.h TOF_*; TOF_AO and TOF_FASTOPEN_EXP are bsdnet's)
export const TOF_MSS = 0x0001;
export const TOF_SCALE = 0x0002;
export const TOF_SACKPERM = 0x0004;
export const TOF_TS = 0x0010;
export const TOF_SIGNATURE = 0x0040;
export const TOF_SACK = 0x0080;
export const TOF_FASTOPEN = 0x0100; // kind 34 or kind 254/0xF989 (then TOF_FASTOPEN_EXP too)
export const TOF_AO = 0x0200;
export const TOF_FASTOPEN_EXP = 0x0400;

// tcp_dooptions() results
export const TCPOPT_OK = 0;
/** A kind other than EOL/NOP is the last byte: no room for its length byte. */
export const TCPOPT_ERR_TRUNC = 1;
/** A length byte < 2, or one that runs past the end of the options. */
export const TCPOPT_ERR_LEN = 2;
/** A known kind with a length it cannot have (MSS ≠ 4, SACK not 2+8n with n in 1..4, ...). */
export const TCPOPT_ERR_KNOWNLEN = 3;

const EMPTY = new Uint8Array(0);

function inRange(buf: Uint8Array, off: number, len: number): boolean {
  return Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= buf.length;
}

/* ------------------------------------------------------------------------------------------ */
/* View                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/**
 * Zero-copy view of a TCP segment at buf[off, off+len). Reuse one per stack through attach().
 * After checked()/attachChecked() succeed, every accessor is in range: len >= 20 and the data
 * offset lies in [20, len].
 */
export class TcpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  constructor(buf?: Uint8Array, off = 0, len = buf ? buf.length - off : 0) {
    if (buf) this.attach(buf, off, len);
  }

  /** Point the view at new bytes, without validation (emission into a buffer of known size). */
  attach(buf: Uint8Array, off: number, len: number): this {
    this.buf = buf;
    this.off = off;
    this.len = len;
    return this;
  }

  /** Attach and validate (RFC 9293 §3.1: data offset >= 5 words and within the segment). */
  attachChecked(buf: Uint8Array, off: number, len: number): boolean {
    if (!inRange(buf, off, len) || len < TCP_HDR_LEN) return false;
    const hlen = ((buf[off + TCP_OFF_OFFX2] as number) >>> 4) << 2;
    if (hlen < TCP_HDR_LEN || hlen > len) return false;
    this.attach(buf, off, len);
    return true;
  }

  /** A validated view, or null when the bytes cannot hold the header they announce. */
  static checked(buf: Uint8Array, off: number, len: number): TcpView | null {
    const v = new TcpView();
    return v.attachChecked(buf, off, len) ? v : null;
  }

  get sport(): number {
    return get16(this.buf, this.off + TCP_OFF_SPORT);
  }
  set sport(v: number) {
    set16(this.buf, this.off + TCP_OFF_SPORT, v);
  }
  get dport(): number {
    return get16(this.buf, this.off + TCP_OFF_DPORT);
  }
  set dport(v: number) {
    set16(this.buf, this.off + TCP_OFF_DPORT, v);
  }
  /** uint32 */
  get seq(): number {
    return get32(this.buf, this.off + TCP_OFF_SEQ);
  }
  set seq(v: number) {
    set32(this.buf, this.off + TCP_OFF_SEQ, v);
  }
  /** uint32 */
  get ack(): number {
    return get32(this.buf, this.off + TCP_OFF_ACK);
  }
  set ack(v: number) {
    set32(this.buf, this.off + TCP_OFF_ACK, v);
  }
  /** Data offset in 32-bit words (th_off). */
  get doff(): number {
    return (this.buf[this.off + TCP_OFF_OFFX2] as number) >>> 4;
  }
  set doff(v: number) {
    const o = this.off + TCP_OFF_OFFX2;
    this.buf[o] = ((v & 0xf) << 4) | ((this.buf[o] as number) & 0x0f);
  }
  /** Header length in bytes (data offset × 4). The setter takes a multiple of 4 in [20, 60]. */
  get hlen(): number {
    return this.doff << 2;
  }
  set hlen(v: number) {
    this.doff = v >>> 2;
  }
  /** The three reserved bits between the data offset and AE (RFC 9293 §3.1: send as zero). */
  get reserved(): number {
    return ((this.buf[this.off + TCP_OFF_OFFX2] as number) >>> 1) & 0x7;
  }
  set reserved(v: number) {
    const o = this.off + TCP_OFF_OFFX2;
    this.buf[o] = ((this.buf[o] as number) & 0xf1) | ((v & 0x7) << 1);
  }
  /** TH_* flags, with AE (bit 0 of byte 12) as TH_AE = 0x100. */
  get flags(): number {
    return (((this.buf[this.off + TCP_OFF_OFFX2] as number) & 1) << 8) | (this.buf[this.off + TCP_OFF_FLAGS] as number);
  }
  set flags(v: number) {
    const o = this.off + TCP_OFF_OFFX2;
    this.buf[o] = ((this.buf[o] as number) & 0xfe) | ((v >>> 8) & 1);
    this.buf[o + 1] = v & 0xff;
  }
  get win(): number {
    return get16(this.buf, this.off + TCP_OFF_WIN);
  }
  set win(v: number) {
    set16(this.buf, this.off + TCP_OFF_WIN, v);
  }
  get sum(): number {
    return get16(this.buf, this.off + TCP_OFF_SUM);
  }
  set sum(v: number) {
    set16(this.buf, this.off + TCP_OFF_SUM, v);
  }
  get urp(): number {
    return get16(this.buf, this.off + TCP_OFF_URP);
  }
  set urp(v: number) {
    set16(this.buf, this.off + TCP_OFF_URP, v);
  }
  /** Absolute offset of the options. */
  get optOff(): number {
    return this.off + TCP_HDR_LEN;
  }
  /** Bytes of options (hlen - 20). */
  get optLen(): number {
    return this.hlen - TCP_HDR_LEN;
  }
  /** Absolute offset of the payload. */
  get payloadOff(): number {
    return this.off + this.hlen;
  }
  get payloadLen(): number {
    return this.len - this.hlen;
  }
  /** The payload as a subarray (allocates a view object). */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + this.hlen, this.off + this.len);
  }

  /** Checksum over buf[off, off+tcpLen) with the IPv4 pseudo-header (RFC 9293 §3.1). */
  verifyChecksum4(src: number, dst: number, tcpLen: number): boolean {
    return cksumFinish(cksumPartial(this.buf, this.off, tcpLen, pseudoSum4(src, dst, IPPROTO_TCP, tcpLen))) === 0;
  }
  fillChecksum4(src: number, dst: number, tcpLen: number): void {
    this.sum = 0;
    this.sum = cksumFinish(cksumPartial(this.buf, this.off, tcpLen, pseudoSum4(src, dst, IPPROTO_TCP, tcpLen)));
  }
  /** Checksum with the IPv6 pseudo-header (RFC 8200 §8.1). */
  verifyChecksum6(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, tcpLen: number): boolean {
    return cksumFinish(cksumPartial(this.buf, this.off, tcpLen, pseudoSum6(src, srcOff, dst, dstOff, IPPROTO_TCP, tcpLen))) === 0;
  }
  fillChecksum6(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, tcpLen: number): void {
    this.sum = 0;
    this.sum = cksumFinish(cksumPartial(this.buf, this.off, tcpLen, pseudoSum6(src, srcOff, dst, dstOff, IPPROTO_TCP, tcpLen)));
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Zero-allocation option walker (tcp_input)                                                   */
/* ------------------------------------------------------------------------------------------ */

/**
 * The options of one segment, as tcp_dooptions() found them (FreeBSD `struct tcpopt`).
 * Keep one per stack and pass it to every call; tcp_dooptions() resets it first.
 * Offsets (sigOff, aoMacOff, foOff, errOff) are absolute offsets into the walked buffer.
 * When an option occurs twice, the last occurrence wins.
 */
export class TcpOptsScratch {
  /** TOF_* bits of the options seen. */
  flags = 0;
  mss = 0;
  /** Raw shift count as received; RFC 7323 §2.3 clamping to 14 is tcp_input's job. */
  wscale = 0;
  tsval = 0;
  tsecr = 0;
  /** Number of SACK blocks (1..4) in sackBlocks, as (start, end) pairs. */
  nsacks = 0;
  readonly sackBlocks = new Uint32Array(2 * TCP_MAX_SACK);
  /** Offset of the 16-byte MD5 digest, -1 if none. */
  sigOff = -1;
  aoKeyId = 0;
  aoRNextKeyId = 0;
  aoMacOff = -1;
  aoMacLen = 0;
  /** Offset and length of the Fast Open cookie (foLen 0 = cookie request), foOff -1 if none. */
  foOff = -1;
  foLen = 0;
  /** Offset of the first malformed option, -1 if none. */
  errOff = -1;

  reset(): void {
    this.flags = 0;
    this.mss = 0;
    this.wscale = 0;
    this.tsval = 0;
    this.tsecr = 0;
    this.nsacks = 0;
    this.sigOff = -1;
    this.aoKeyId = 0;
    this.aoRNextKeyId = 0;
    this.aoMacOff = -1;
    this.aoMacLen = 0;
    this.foOff = -1;
    this.foLen = 0;
    this.errOff = -1;
  }
}

function foCookieLenOk(n: number): boolean {
  return n === 0 || (n >= TCP_FASTOPEN_MIN_COOKIE_LEN && n <= TCP_FASTOPEN_MAX_COOKIE_LEN);
}

/**
 * Walk the options at buf[off, off+optLen) into `out` without allocating.
 *
 * LENIENT: returns TCPOPT_OK, or at the first malformed option stops and returns
 * TCPOPT_ERR_TRUNC / TCPOPT_ERR_LEN / TCPOPT_ERR_KNOWNLEN with out.errOff set to that option;
 * everything recognised before it stays in `out`. (FreeBSD stops at a bad length and skips a
 * known option of the wrong length; tcp_input decides whether to use a partial result.)
 * It stops at EOL (RFC 9293 §3.1). It records every option whatever the segment's flags: the
 * SYN-only rules (RFC 9293 §3.7.1 MSS, RFC 7323 §2.2/§3.2, RFC 2018 §2) are tcp_input's.
 * Unknown kinds are skipped (RFC 9293 §3.1: "must be prepared to handle an illegal option
 * length"; unknown options are ignored, RFC 1122 §4.2.2.5).
 */
export function tcp_dooptions(buf: Uint8Array, off: number, optLen: number, out: TcpOptsScratch): number {
  out.reset();
  if (!inRange(buf, off, optLen)) {
    out.errOff = off;
    return TCPOPT_ERR_LEN;
  }
  const end = off + optLen;
  let i = off;
  while (i < end) {
    const kind = buf[i] as number;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) {
      out.errOff = i;
      return TCPOPT_ERR_TRUNC;
    }
    const olen = buf[i + 1] as number;
    if (olen < 2 || i + olen > end) {
      out.errOff = i;
      return TCPOPT_ERR_LEN;
    }
    let bad = false;
    switch (kind) {
      case TCPOPT_MAXSEG:
        if (olen !== TCPOLEN_MAXSEG) bad = true;
        else {
          out.flags |= TOF_MSS;
          out.mss = get16(buf, i + 2);
        }
        break;
      case TCPOPT_WINDOW:
        if (olen !== TCPOLEN_WINDOW) bad = true;
        else {
          out.flags |= TOF_SCALE;
          out.wscale = buf[i + 2] as number;
        }
        break;
      case TCPOPT_SACK_PERMITTED:
        if (olen !== TCPOLEN_SACK_PERMITTED) bad = true;
        else out.flags |= TOF_SACKPERM;
        break;
      case TCPOPT_TIMESTAMP:
        if (olen !== TCPOLEN_TIMESTAMP) bad = true;
        else {
          out.flags |= TOF_TS;
          out.tsval = get32(buf, i + 2);
          out.tsecr = get32(buf, i + 6);
        }
        break;
      case TCPOPT_SACK: {
        // RFC 2018 §3: length 2 + 8n; at most 4 blocks fit in 40 bytes.
        const n = (olen - TCPOLEN_SACKHDR) >>> 3;
        if (olen <= TCPOLEN_SACKHDR || (olen - TCPOLEN_SACKHDR) % TCPOLEN_SACK !== 0 || n > TCP_MAX_SACK) bad = true;
        else {
          out.flags |= TOF_SACK;
          out.nsacks = n;
          for (let k = 0; k < n; k++) {
            out.sackBlocks[2 * k] = get32(buf, i + 2 + 8 * k);
            out.sackBlocks[2 * k + 1] = get32(buf, i + 6 + 8 * k);
          }
        }
        break;
      }
      case TCPOPT_SIGNATURE:
        if (olen !== TCPOLEN_SIGNATURE) bad = true;
        else {
          out.flags |= TOF_SIGNATURE;
          out.sigOff = i + 2;
        }
        break;
      case TCPOPT_AO:
        if (olen < TCPOLEN_AO_MIN) bad = true;
        else {
          out.flags |= TOF_AO;
          out.aoKeyId = buf[i + 2] as number;
          out.aoRNextKeyId = buf[i + 3] as number;
          out.aoMacOff = i + 4;
          out.aoMacLen = olen - 4;
        }
        break;
      case TCPOPT_FAST_OPEN:
        if (!foCookieLenOk(olen - 2)) bad = true;
        else {
          out.flags = (out.flags | TOF_FASTOPEN) & ~TOF_FASTOPEN_EXP;
          out.foOff = i + 2;
          out.foLen = olen - 2;
        }
        break;
      case TCPOPT_EXP_FO:
        // RFC 6994: 16-bit ExID first; only 0xF989 is Fast Open, other experiments are skipped.
        if (olen >= TCPOLEN_EXP_FO_EMPTY && get16(buf, i + 2) === TCPOPT_FAST_OPEN_EXP_MAGIC) {
          if (!foCookieLenOk(olen - 4)) bad = true;
          else {
            out.flags |= TOF_FASTOPEN | TOF_FASTOPEN_EXP;
            out.foOff = i + 4;
            out.foLen = olen - 4;
          }
        }
        break;
      default:
        break;
    }
    if (bad) {
      out.errOff = i;
      return TCPOPT_ERR_KNOWNLEN;
    }
    i += olen;
  }
  return TCPOPT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Repr                                                                                        */
/* ------------------------------------------------------------------------------------------ */

export interface TcpSackBlock {
  start: number;
  end: number;
}

/**
 * One option, in wire order. Byte arrays in options are copies, not views of the input.
 * - eol: one EOL byte. Zero bytes after an EOL are further `eol` entries (so padding such as
 *   `<mss 1460,sackOK,eol,eol>` round-trips); non-zero bytes after an EOL are kept as one final
 *   `padding` entry (RFC 9293 §3.1 says padding is zeros, receivers ignore it).
 * - fastOpen: kind 34; fastOpenExp: kind 254 with ExID 0xF989. Cookie length 0 (a request)
 *   or 4..16 (RFC 7413 §4.1.1).
 * - unknown: any other kind (`type` is the kind byte), `data` the bytes after the length byte.
 *   Kind 254 with another ExID is `unknown` with the ExID as the first two data bytes.
 */
export type TcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; mss: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackPermitted' }
  | { kind: 'sack'; blocks: TcpSackBlock[] }
  | { kind: 'timestamp'; tsval: number; tsecr: number }
  | { kind: 'md5'; digest: Uint8Array }
  | { kind: 'ao'; keyId: number; rNextKeyId: number; mac: Uint8Array }
  | { kind: 'fastOpen'; cookie: Uint8Array }
  | { kind: 'fastOpenExp'; cookie: Uint8Array }
  | { kind: 'unknown'; type: number; data: Uint8Array }
  | { kind: 'padding'; data: Uint8Array };

/**
 * A TCP segment as values.
 * - flags: TH_* bits including TH_AE (0x100). The three reserved bits are not represented
 *   (parse ignores them, emit writes zero: RFC 9293 §3.1).
 * - options: wire order including nop/eol. emitTcp pads the option bytes with EOL (zero) to a
 *   multiple of 4; parseTcp returns such padding as explicit `eol` entries, so a canonical
 *   repr has option bytes that are a multiple of 4 (at most 40).
 * - payload: on parse, a subarray VIEW of the input after the header (no copy). On emit it is
 *   copied after the header unless it is already there; leave it out when the caller has put
 *   the payload in place (then pass payloadLen to emitTcp).
 */
export interface TcpRepr {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  win: number;
  urp: number;
  options: TcpOption[];
  payload?: Uint8Array;
}

/**
 * Pseudo-header information: IPv4 addresses as uint32 numbers, IPv6 addresses as 16-byte
 * arrays. The length in the pseudo-header is the TCP segment length (header + payload). For
 * IPv6 with a routing header, `dst` is the final destination (RFC 8200 §8.1).
 */
export type TcpPseudo = { af: 4; src: number; dst: number } | { af: 6; src: Uint8Array; dst: Uint8Array };

function pseudoSum(p: TcpPseudo, len: number): number {
  return p.af === 4 ? pseudoSum4(p.src, p.dst, IPPROTO_TCP, len) : pseudoSum6(p.src, 0, p.dst, 0, IPPROTO_TCP, len);
}

/** Parse options strictly; returns null on success or a rejection reason. */
function parseTcpOptions(b: Uint8Array, i: number, end: number, out: TcpOption[]): string | null {
  while (i < end) {
    const kind = b[i] as number;
    if (kind === TCPOPT_EOL) {
      // RFC 9293 §3.1: EOL ends the option list; what follows up to the data offset is padding.
      out.push({ kind: 'eol' });
      i++;
      while (i < end && b[i] === 0) {
        out.push({ kind: 'eol' });
        i++;
      }
      if (i < end) out.push({ kind: 'padding', data: b.slice(i, end) });
      return null;
    }
    if (kind === TCPOPT_NOP) {
      out.push({ kind: 'nop' });
      i++;
      continue;
    }
    if (i + 1 >= end) return `tcp: option kind ${kind} has no length byte`;
    const olen = b[i + 1] as number;
    if (olen < 2) return `tcp: option kind ${kind} length ${olen} < 2`;
    if (i + olen > end) return `tcp: option kind ${kind} length ${olen} runs past the header`;
    const d = i + 2;
    switch (kind) {
      case TCPOPT_MAXSEG:
        if (olen !== TCPOLEN_MAXSEG) return `tcp: MSS option length ${olen}`;
        out.push({ kind: 'mss', mss: get16(b, d) });
        break;
      case TCPOPT_WINDOW:
        if (olen !== TCPOLEN_WINDOW) return `tcp: window scale option length ${olen}`;
        out.push({ kind: 'wscale', shift: b[d] as number });
        break;
      case TCPOPT_SACK_PERMITTED:
        if (olen !== TCPOLEN_SACK_PERMITTED) return `tcp: SACK-permitted option length ${olen}`;
        out.push({ kind: 'sackPermitted' });
        break;
      case TCPOPT_SACK: {
        const n = (olen - TCPOLEN_SACKHDR) / TCPOLEN_SACK;
        if (!Number.isInteger(n) || n < 1 || n > TCP_MAX_SACK) return `tcp: SACK option length ${olen}`;
        const blocks: TcpSackBlock[] = [];
        for (let k = 0; k < n; k++) blocks.push({ start: get32(b, d + 8 * k), end: get32(b, d + 8 * k + 4) });
        out.push({ kind: 'sack', blocks });
        break;
      }
      case TCPOPT_TIMESTAMP:
        if (olen !== TCPOLEN_TIMESTAMP) return `tcp: timestamp option length ${olen}`;
        out.push({ kind: 'timestamp', tsval: get32(b, d), tsecr: get32(b, d + 4) });
        break;
      case TCPOPT_SIGNATURE:
        if (olen !== TCPOLEN_SIGNATURE) return `tcp: MD5 signature option length ${olen}`;
        out.push({ kind: 'md5', digest: b.slice(d, d + TCP_SIGLEN) });
        break;
      case TCPOPT_AO:
        if (olen < TCPOLEN_AO_MIN) return `tcp: TCP-AO option length ${olen}`;
        out.push({ kind: 'ao', keyId: b[d] as number, rNextKeyId: b[d + 1] as number, mac: b.slice(d + 2, i + olen) });
        break;
      case TCPOPT_FAST_OPEN:
        if (!foCookieLenOk(olen - 2)) return `tcp: Fast Open option length ${olen}`;
        out.push({ kind: 'fastOpen', cookie: b.slice(d, i + olen) });
        break;
      case TCPOPT_EXP_FO:
        if (olen >= TCPOLEN_EXP_FO_EMPTY && get16(b, d) === TCPOPT_FAST_OPEN_EXP_MAGIC) {
          if (!foCookieLenOk(olen - 4)) return `tcp: experimental Fast Open option length ${olen}`;
          out.push({ kind: 'fastOpenExp', cookie: b.slice(d + 2, i + olen) });
        } else out.push({ kind: 'unknown', type: kind, data: b.slice(d, i + olen) });
        break;
      default:
        out.push({ kind: 'unknown', type: kind, data: b.slice(d, i + olen) });
    }
    i += olen;
  }
  return null;
}

/**
 * Parse and validate a TCP segment at buf[off, off+len) (len = the whole segment, as given by
 * the IP layer). Never throws. With `pseudo`, the checksum is verified (RFC 9293 §3.1).
 */
export function parseTcp(buf: Uint8Array, off: number, len: number, pseudo?: TcpPseudo): ParseResult<TcpRepr> {
  if (!inRange(buf, off, len)) return fail('tcp: range outside buffer');
  if (len < TCP_HDR_LEN) return fail('tcp: truncated header');
  const hlen = ((buf[off + TCP_OFF_OFFX2] as number) >>> 4) << 2;
  if (hlen < TCP_HDR_LEN) return fail(`tcp: data offset ${hlen >>> 2} < 5`);
  if (hlen > len) return fail(`tcp: header length ${hlen} exceeds segment length ${len}`);
  if (pseudo !== undefined) {
    if (pseudo.af === 6 && (pseudo.src.length < 16 || pseudo.dst.length < 16)) return fail('tcp: bad pseudo-header addresses');
    if (cksumFinish(cksumPartial(buf, off, len, pseudoSum(pseudo, len))) !== 0) return fail('tcp: bad checksum');
  }
  const options: TcpOption[] = [];
  const err = parseTcpOptions(buf, off + TCP_HDR_LEN, off + hlen, options);
  if (err !== null) return fail(err);
  return ok({
    sport: get16(buf, off + TCP_OFF_SPORT),
    dport: get16(buf, off + TCP_OFF_DPORT),
    seq: get32(buf, off + TCP_OFF_SEQ),
    ack: get32(buf, off + TCP_OFF_ACK),
    flags: (((buf[off + TCP_OFF_OFFX2] as number) & 1) << 8) | (buf[off + TCP_OFF_FLAGS] as number),
    win: get16(buf, off + TCP_OFF_WIN),
    urp: get16(buf, off + TCP_OFF_URP),
    options,
    payload: buf.subarray(off + hlen, off + len),
  });
}

const KNOWN_KINDS: readonly number[] = [
  TCPOPT_EOL,
  TCPOPT_NOP,
  TCPOPT_MAXSEG,
  TCPOPT_WINDOW,
  TCPOPT_SACK_PERMITTED,
  TCPOPT_SACK,
  TCPOPT_TIMESTAMP,
  TCPOPT_SIGNATURE,
  TCPOPT_AO,
  TCPOPT_FAST_OPEN,
];

function bad(msg: string): never {
  throw new RangeError(`emitTcp: ${msg}`);
}

function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) bad(`${what} ${v} out of range`);
}

/** Encoded length of one option; throws RangeError when the option cannot be encoded. */
export function tcpOptionLen(o: TcpOption): number {
  switch (o.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return TCPOLEN_MAXSEG;
    case 'wscale':
      return TCPOLEN_WINDOW;
    case 'sackPermitted':
      return TCPOLEN_SACK_PERMITTED;
    case 'sack':
      if (o.blocks.length < 1 || o.blocks.length > TCP_MAX_SACK) bad(`${o.blocks.length} SACK blocks`);
      return TCPOLEN_SACKHDR + TCPOLEN_SACK * o.blocks.length;
    case 'timestamp':
      return TCPOLEN_TIMESTAMP;
    case 'md5':
      if (o.digest.length !== TCP_SIGLEN) bad(`MD5 digest of ${o.digest.length} bytes`);
      return TCPOLEN_SIGNATURE;
    case 'ao':
      return TCPOLEN_AO_MIN + o.mac.length;
    case 'fastOpen':
      if (!foCookieLenOk(o.cookie.length)) bad(`Fast Open cookie of ${o.cookie.length} bytes`);
      return 2 + o.cookie.length;
    case 'fastOpenExp':
      if (!foCookieLenOk(o.cookie.length)) bad(`Fast Open cookie of ${o.cookie.length} bytes`);
      return 4 + o.cookie.length;
    case 'unknown':
      return 2 + o.data.length;
    case 'padding':
      return o.data.length;
  }
}

/** Bytes of option data for `options` (before padding to a multiple of 4). */
export function tcpOptionsLen(options: readonly TcpOption[]): number {
  let n = 0;
  for (const o of options) n += tcpOptionLen(o);
  return n;
}

/** Header length emitTcp writes: 20 + options padded to a multiple of 4. */
export function tcpHeaderLen(repr: TcpRepr): number {
  return TCP_HDR_LEN + ((tcpOptionsLen(repr.options) + 3) & ~3);
}

/** Exact number of bytes emitTcp writes: header plus repr.payload (if any). */
export function tcpReprLen(repr: TcpRepr): number {
  return tcpHeaderLen(repr) + (repr.payload?.length ?? 0);
}

function emitOption(o: TcpOption, b: Uint8Array, i: number): number {
  switch (o.kind) {
    case 'eol':
      b[i] = TCPOPT_EOL;
      return 1;
    case 'nop':
      b[i] = TCPOPT_NOP;
      return 1;
    case 'mss':
      checkUint(o.mss, 0xffff, 'MSS');
      b[i] = TCPOPT_MAXSEG;
      b[i + 1] = TCPOLEN_MAXSEG;
      set16(b, i + 2, o.mss);
      return TCPOLEN_MAXSEG;
    case 'wscale':
      checkUint(o.shift, 0xff, 'window shift');
      b[i] = TCPOPT_WINDOW;
      b[i + 1] = TCPOLEN_WINDOW;
      b[i + 2] = o.shift;
      return TCPOLEN_WINDOW;
    case 'sackPermitted':
      b[i] = TCPOPT_SACK_PERMITTED;
      b[i + 1] = TCPOLEN_SACK_PERMITTED;
      return TCPOLEN_SACK_PERMITTED;
    case 'sack': {
      const n = tcpOptionLen(o);
      b[i] = TCPOPT_SACK;
      b[i + 1] = n;
      let p = i + 2;
      for (const blk of o.blocks) {
        checkUint(blk.start, 0xffffffff, 'SACK start');
        checkUint(blk.end, 0xffffffff, 'SACK end');
        set32(b, p, blk.start);
        set32(b, p + 4, blk.end);
        p += 8;
      }
      return n;
    }
    case 'timestamp':
      checkUint(o.tsval, 0xffffffff, 'TSval');
      checkUint(o.tsecr, 0xffffffff, 'TSecr');
      b[i] = TCPOPT_TIMESTAMP;
      b[i + 1] = TCPOLEN_TIMESTAMP;
      set32(b, i + 2, o.tsval);
      set32(b, i + 6, o.tsecr);
      return TCPOLEN_TIMESTAMP;
    case 'md5':
      tcpOptionLen(o);
      b[i] = TCPOPT_SIGNATURE;
      b[i + 1] = TCPOLEN_SIGNATURE;
      b.set(o.digest, i + 2);
      return TCPOLEN_SIGNATURE;
    case 'ao':
      checkUint(o.keyId, 0xff, 'TCP-AO KeyID');
      checkUint(o.rNextKeyId, 0xff, 'TCP-AO RNextKeyID');
      b[i] = TCPOPT_AO;
      b[i + 1] = TCPOLEN_AO_MIN + o.mac.length;
      b[i + 2] = o.keyId;
      b[i + 3] = o.rNextKeyId;
      b.set(o.mac, i + 4);
      return TCPOLEN_AO_MIN + o.mac.length;
    case 'fastOpen': {
      const n = tcpOptionLen(o);
      b[i] = TCPOPT_FAST_OPEN;
      b[i + 1] = n;
      b.set(o.cookie, i + 2);
      return n;
    }
    case 'fastOpenExp': {
      const n = tcpOptionLen(o);
      b[i] = TCPOPT_EXP_FO;
      b[i + 1] = n;
      set16(b, i + 2, TCPOPT_FAST_OPEN_EXP_MAGIC);
      b.set(o.cookie, i + 4);
      return n;
    }
    case 'unknown':
      checkUint(o.type, 0xff, 'option kind');
      if (KNOWN_KINDS.includes(o.type)) bad(`'unknown' option with known kind ${o.type}`);
      if (o.type === TCPOPT_EXP_FO && o.data.length >= 2 && get16(o.data, 0) === TCPOPT_FAST_OPEN_EXP_MAGIC)
        bad("'unknown' kind 254 carrying the Fast Open ExID");
      b[i] = o.type;
      b[i + 1] = 2 + o.data.length;
      b.set(o.data, i + 2);
      return 2 + o.data.length;
    case 'padding':
      b.set(o.data, i);
      return o.data.length;
  }
}

/** Throws unless the option list is canonical (what parseTcp would return for its bytes). */
function checkOptionOrder(options: readonly TcpOption[]): void {
  let sawEol = false;
  for (let k = 0; k < options.length; k++) {
    const o = options[k] as TcpOption;
    if (o.kind === 'padding') {
      if (!sawEol || k !== options.length - 1) bad('padding must be the last option, after an EOL');
      if (o.data.length === 0 || o.data[0] === 0) bad('padding must start with a non-zero byte (zeros are EOL entries)');
    } else if (o.kind === 'eol') sawEol = true;
    else if (sawEol) bad(`option ${o.kind} after EOL`);
  }
}

/**
 * Write the segment described by `repr` at buf[off...]; returns the bytes written
 * (header + payloadLen). The header is followed by the payload: repr.payload is copied there
 * unless it already is; without repr.payload, payloadLen bytes are assumed to be in place.
 * With `pseudo`, the checksum is computed over header and payload; otherwise it is left 0.
 * Throws RangeError for a repr that cannot be encoded or a buffer too small (caller bugs).
 */
export function emitTcp(repr: TcpRepr, buf: Uint8Array, off: number, payloadLen: number = repr.payload?.length ?? 0, pseudo?: TcpPseudo): number {
  checkOptionOrder(repr.options);
  const olen = tcpOptionsLen(repr.options);
  if (olen > TCP_MAXOLEN) bad(`${olen} bytes of options > ${TCP_MAXOLEN}`);
  const hlen = TCP_HDR_LEN + ((olen + 3) & ~3);
  if (repr.payload !== undefined && repr.payload.length !== payloadLen) bad('payloadLen differs from repr.payload.length');
  const total = hlen + payloadLen;
  if (!inRange(buf, off, total)) bad('buffer too small');
  if (pseudo?.af === 6 && (pseudo.src.length !== 16 || pseudo.dst.length !== 16)) bad('IPv6 pseudo-header addresses must be 16 bytes');
  checkUint(repr.sport, 0xffff, 'sport');
  checkUint(repr.dport, 0xffff, 'dport');
  checkUint(repr.seq, 0xffffffff, 'seq');
  checkUint(repr.ack, 0xffffffff, 'ack');
  checkUint(repr.flags, TH_FLAGS, 'flags');
  checkUint(repr.win, 0xffff, 'win');
  checkUint(repr.urp, 0xffff, 'urp');
  const p = repr.payload;
  if (p !== undefined && p.length > 0 && !(p.buffer === buf.buffer && p.byteOffset === buf.byteOffset + off + hlen)) buf.set(p, off + hlen);
  set16(buf, off + TCP_OFF_SPORT, repr.sport);
  set16(buf, off + TCP_OFF_DPORT, repr.dport);
  set32(buf, off + TCP_OFF_SEQ, repr.seq);
  set32(buf, off + TCP_OFF_ACK, repr.ack);
  buf[off + TCP_OFF_OFFX2] = ((hlen >>> 2) << 4) | ((repr.flags >>> 8) & 1);
  buf[off + TCP_OFF_FLAGS] = repr.flags & 0xff;
  set16(buf, off + TCP_OFF_WIN, repr.win);
  set16(buf, off + TCP_OFF_SUM, 0);
  set16(buf, off + TCP_OFF_URP, repr.urp);
  let i = off + TCP_HDR_LEN;
  for (const o of repr.options) i += emitOption(o, buf, i);
  buf.fill(TCPOPT_EOL, i, off + hlen);
  if (pseudo !== undefined) set16(buf, off + TCP_OFF_SUM, cksumFinish(cksumPartial(buf, off, total, pseudoSum(pseudo, total))));
  return total;
}
