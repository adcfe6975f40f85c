/*
 * ARP (RFC 826) for Ethernet/IPv4.
 *
 * Owns: the layout of an ARP packet: a view (ArpView) and ArpRepr with
 * parseArp/emitArp/arpReprLen. Only Ethernet hardware addresses with IPv4 protocol
 * addresses are represented (hrd 1, pro 0x0800, hln 6, pln 4); parse rejects the rest.
 * Must not: keep state (the ARP cache is netinet/if_ether.ts), log, or throw on bad input.
 * Protocol addresses are uint32 host-order values; hardware addresses are 6-byte arrays.
 */

import { get16, get32, set16, set32 } from './bytes.js';
import { fail, ok, type ParseResult } from './types.js';

export const ARPHRD_ETHER = 1;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;
export const ARPOP_REVREQUEST = 3;
export const ARPOP_REVREPLY = 4;

/** Ethernet/IPv4 ARP packet length. */
export const ARP_ETHER_IP_LEN = 28;
export const ARP_OFF_HRD = 0;
export const ARP_OFF_PRO = 2;
export const ARP_OFF_HLN = 4;
export const ARP_OFF_PLN = 5;
export const ARP_OFF_OP = 6;
export const ARP_OFF_SHA = 8;
export const ARP_OFF_SPA = 14;
export const ARP_OFF_THA = 18;
export const ARP_OFF_TPA = 24;

/** Fixed part before the addresses: hrd, pro, hln, pln, op. */
export const ARP_HDR_LEN = 8;
/** Protocol type for IPv4 (the EtherType, RFC 826 "ar$pro"). */
export const ARP_PRO_IP = 0x0800;
export const ARP_ETHER_HLN = 6;
export const ARP_IP_PLN = 4;

const EMPTY = new Uint8Array(0);

/**
 * View over an ARP packet at buf[off..off+len). The address accessors use the fixed
 * Ethernet/IPv4 offsets: check isEtherIp before trusting them (checked() guarantees only
 * that all 28 bytes are inside the range).
 */
export class ArpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  attach(buf: Uint8Array, off = 0, len = buf.length - off): this {
    this.buf = buf;
    this.off = off;
    this.len = len;
    return this;
  }

  /** A view when the range is inside buf and holds 28 bytes, else null. */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): ArpView | null {
    if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < ARP_ETHER_IP_LEN || off + len > buf.length) return null;
    return new ArpView().attach(buf, off, len);
  }

  get hrd(): number {
    return get16(this.buf, this.off + ARP_OFF_HRD);
  }
  set hrd(v: number) {
    set16(this.buf, this.off + ARP_OFF_HRD, v);
  }
  get pro(): number {
    return get16(this.buf, this.off + ARP_OFF_PRO);
  }
  set pro(v: number) {
    set16(this.buf, this.off + ARP_OFF_PRO, v);
  }
  get hln(): number {
    return this.buf[this.off + ARP_OFF_HLN] as number;
  }
  set hln(v: number) {
    this.buf[this.off + ARP_OFF_HLN] = v;
  }
  get pln(): number {
    return this.buf[this.off + ARP_OFF_PLN] as number;
  }
  set pln(v: number) {
    this.buf[this.off + ARP_OFF_PLN] = v;
  }
  get op(): number {
    return get16(this.buf, this.off + ARP_OFF_OP);
  }
  set op(v: number) {
    set16(this.buf, this.off + ARP_OFF_OP, v);
  }
  /** hrd = Ethernet, pro = IPv4, hln = 6, pln = 4: the address accessors below apply. */
  get isEtherIp(): boolean {
    return this.hrd === ARPHRD_ETHER && this.pro === ARP_PRO_IP && this.hln === ARP_ETHER_HLN && this.pln === ARP_IP_PLN;
  }
  /** Sender hardware address (6-byte subarray view). */
  sha(): Uint8Array {
    return this.buf.subarray(this.off + ARP_OFF_SHA, this.off + ARP_OFF_SHA + ARP_ETHER_HLN);
  }
  /** Target hardware address (6-byte subarray view). */
  tha(): Uint8Array {
    return this.buf.subarray(this.off + ARP_OFF_THA, this.off + ARP_OFF_THA + ARP_ETHER_HLN);
  }
  shaEquals(mac: Uint8Array, moff = 0): boolean {
    return eq6(this.buf, this.off + ARP_OFF_SHA, mac, moff);
  }
  thaEquals(mac: Uint8Array, moff = 0): boolean {
    return eq6(this.buf, this.off + ARP_OFF_THA, mac, moff);
  }
  setSha(mac: Uint8Array, moff = 0): void {
    for (let i = 0; i < ARP_ETHER_HLN; i++) this.buf[this.off + ARP_OFF_SHA + i] = mac[moff + i] as number;
  }
  setTha(mac: Uint8Array, moff = 0): void {
    for (let i = 0; i < ARP_ETHER_HLN; i++) this.buf[this.off + ARP_OFF_THA + i] = mac[moff + i] as number;
  }
  /** Sender protocol (IPv4) address. */
  get spa(): number {
    return get32(this.buf, this.off + ARP_OFF_SPA);
  }
  set spa(v: number) {
    set32(this.buf, this.off + ARP_OFF_SPA, v);
  }
  /** Target protocol (IPv4) address. */
  get tpa(): number {
    return get32(this.buf, this.off + ARP_OFF_TPA);
  }
  set tpa(v: number) {
    set32(this.buf, this.off + ARP_OFF_TPA, v);
  }
}

function eq6(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 6; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/** An Ethernet/IPv4 ARP packet (hrd, pro, hln and pln are implied). */
export interface ArpRepr {
  /** Opcode as on the wire (ARPOP_REQUEST, ARPOP_REPLY, RARP…; any 16-bit value is kept). */
  op: number;
  /** Sender hardware address, 6 bytes (parse returns a copy). */
  sha: Uint8Array;
  /** Sender IPv4 address (uint32). */
  spa: number;
  /** Target hardware address, 6 bytes (parse returns a copy). */
  tha: Uint8Array;
  /** Target IPv4 address (uint32). */
  tpa: number;
}

/** Bytes that emitArp writes: always 28. */
export function arpReprLen(_repr: ArpRepr): number {
  return ARP_ETHER_IP_LEN;
}

/**
 * Parse an ARP packet at buf[off..off+len) (trailing Ethernet padding is ignored). Never
 * throws. Rejects a short packet and anything but Ethernet/IPv4 (RFC 826: a receiver
 * that does not speak ar$hrd / ar$pro discards the packet).
 */
export function parseArp(buf: Uint8Array, off = 0, len = buf.length - off): ParseResult<ArpRepr> {
  if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > buf.length) return fail('range outside buffer');
  if (len < ARP_HDR_LEN) return fail('truncated header');
  const hrd = get16(buf, off + ARP_OFF_HRD);
  const pro = get16(buf, off + ARP_OFF_PRO);
  const hln = buf[off + ARP_OFF_HLN] as number;
  const pln = buf[off + ARP_OFF_PLN] as number;
  if (len < ARP_HDR_LEN + 2 * (hln + pln)) return fail('truncated addresses');
  if (hrd !== ARPHRD_ETHER) return fail('unsupported hardware type');
  if (pro !== ARP_PRO_IP) return fail('unsupported protocol type');
  if (hln !== ARP_ETHER_HLN || pln !== ARP_IP_PLN) return fail('bad address length');
  return ok({
    op: get16(buf, off + ARP_OFF_OP),
    sha: buf.slice(off + ARP_OFF_SHA, off + ARP_OFF_SHA + ARP_ETHER_HLN),
    spa: get32(buf, off + ARP_OFF_SPA),
    tha: buf.slice(off + ARP_OFF_THA, off + ARP_OFF_THA + ARP_ETHER_HLN),
    tpa: get32(buf, off + ARP_OFF_TPA),
  });
}

/** Write `repr` at buf[off..off+28) and return 28. */
export function emitArp(repr: ArpRepr, buf: Uint8Array, off: number): number {
  set16(buf, off + ARP_OFF_HRD, ARPHRD_ETHER);
  set16(buf, off + ARP_OFF_PRO, ARP_PRO_IP);
  buf[off + ARP_OFF_HLN] = ARP_ETHER_HLN;
  buf[off + ARP_OFF_PLN] = ARP_IP_PLN;
  set16(buf, off + ARP_OFF_OP, repr.op);
  for (let i = 0; i < ARP_ETHER_HLN; i++) {
    buf[off + ARP_OFF_SHA + i] = repr.sha[i] as number;
    buf[off + ARP_OFF_THA + i] = repr.tha[i] as number;
  }
  set32(buf, off + ARP_OFF_SPA, repr.spa);
  set32(buf, off + ARP_OFF_TPA, repr.tpa);
  return ARP_ETHER_IP_LEN;
}
