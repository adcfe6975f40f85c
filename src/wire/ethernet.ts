/*
 * Ethernet II, IEEE 802.1Q/802.1ad VLAN tags and IEEE 802.2 LLC/SNAP headers.
 *
 * Owns: the layout of the Ethernet II header (IEEE 802.3 §3.1.1), the 802.1Q/802.1ad tags
 * that may follow the source address (IEEE 802.1Q-2018 §9.6), and the 802.2 LLC header
 * (IEEE 802.2 §3) with its SNAP extension (RFC 1042) that follows a length-form
 * type/length field: views (EtherView, VlanView, LlcView) and EtherRepr with
 * parseEther/emitEther/etherReprLen. Must not: keep state, log, or throw on bad input
 * (parse returns a rejection); accessors never allocate (dst()/src()/payload() return
 * subarray views). Demultiplexing, tag stripping and counters live in net/if_ethersubr.ts.
 */

import { get16, set16 } from './bytes.js';
import { fail, ok, type ParseResult } from './types.js';

export const ETHER_ADDR_LEN = 6;
export const ETHER_TYPE_LEN = 2;
export const ETHER_HDR_LEN = 14;
export const ETHER_CRC_LEN = 4;
export const ETHER_MIN_LEN = 64;
export const ETHER_MAX_LEN = 1518;
export const ETHER_VLAN_ENCAP_LEN = 4;
export const ETHERMTU = 1500;
/** Largest value of the type/length field that is a length (802.3). */
export const ETHER_MAX_FRAME_LEN_FIELD = 1500;
/** Smallest value that is an EtherType. */
export const ETHERTYPE_MIN = 0x0600;

export const ETHERTYPE_IP = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_REVARP = 0x8035;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_QINQ = 0x88a8;
/** IEEE 802 local experimental EtherType 1. */
export const ETHERTYPE_EXP1 = 0x88b5;

/** LLC SAP values and control. */
export const LLC_SNAP_LSAP = 0xaa;
export const LLC_UI = 0x03;
export const LLC_SNAP_LEN = 8; // DSAP, SSAP, control, OUI(3), type(2)

export const ETHER_BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

// Ethernet header field offsets.
export const ETHER_OFF_DST = 0;
export const ETHER_OFF_SRC = 6;
export const ETHER_OFF_TYPE = 12;

/*
 * A VLAN tag is a TPID (0x8100 C-tag, 0x88a8 S-tag) in the place of the type field,
 * followed by a TCI and then the next type field. The VlanView covers the 4 bytes after
 * the TPID, as Linux's struct vlan_hdr: TCI and the encapsulated type (or next TPID).
 */
export const EVL_OFF_TCI = 0;
export const EVL_OFF_PROTO = 2;
export const EVL_VLID_MASK = 0x0fff;
export const EVL_PRI_MASK = 0x7;
export const EVL_PRI_SHIFT = 13;
/** Drop Eligible Indicator (formerly CFI), bit 12 of the TCI. */
export const EVL_DEI = 0x1000;
/** Largest valid VID; 0 means priority-tagged only and 0xfff is reserved (802.1Q Table 9-2). */
export const EVL_VLID_MAX = 0xffe;

/** VID of a TCI (FreeBSD EVL_VLANOFTAG). */
export function EVL_VLANOFTAG(tci: number): number {
  return tci & EVL_VLID_MASK;
}
/** PCP of a TCI (FreeBSD EVL_PRIOFTAG). */
export function EVL_PRIOFTAG(tci: number): number {
  return (tci >>> EVL_PRI_SHIFT) & EVL_PRI_MASK;
}
/** DEI bit of a TCI as 0/1 (FreeBSD EVL_CFIOFTAG). */
export function EVL_CFIOFTAG(tci: number): number {
  return (tci >>> 12) & 1;
}
/** TCI from VID, PCP and DEI (FreeBSD EVL_MAKETAG). */
export function EVL_MAKETAG(vid: number, pcp: number, dei: number): number {
  return ((pcp & EVL_PRI_MASK) << EVL_PRI_SHIFT) | ((dei & 1) << 12) | (vid & EVL_VLID_MASK);
}

/** True when a type/length value is a TPID that starts a VLAN tag. */
export function isVlanTpid(type: number): boolean {
  return type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ;
}

// 802.2 LLC header offsets (relative to the start of the LLC header).
export const LLC_OFF_DSAP = 0;
export const LLC_OFF_SSAP = 1;
export const LLC_OFF_CONTROL = 2;
/** SNAP (RFC 1042): OUI and EtherType after an LLC UI header with DSAP=SSAP=0xaa. */
export const SNAP_OFF_OUI = 3;
export const SNAP_OFF_TYPE = 6;
/** LLC header with a one-octet (U-format) control field. */
export const LLC_U_LEN = 3;
/** LLC header with a two-octet (I- or S-format) control field (IEEE 802.2 §5.2). */
export const LLC_IS_LEN = 4;
/** Spanning tree BPDUs (IEEE 802.1D): DSAP = SSAP = 0x42. */
export const LLC_8021D_LSAP = 0x42;
/** Low two bits of the first control octet: 11 marks a U-format PDU. */
export const LLC_U_FMT_MASK = 0x03;

/** True for a group (multicast or broadcast) destination: I/G bit of the first octet. */
export function ETHER_IS_MULTICAST(mac: Uint8Array, off = 0): boolean {
  return ((mac[off] as number) & 1) !== 0;
}

/** True for ff:ff:ff:ff:ff:ff. */
export function ETHER_IS_BROADCAST(mac: Uint8Array, off = 0): boolean {
  return macEquals(mac, off, ETHER_BROADCAST, 0);
}

const EMPTY = new Uint8Array(0);

/** Does [off, off+len) lie inside buf? (Integers only; guards every checked()/parse.) */
function inBuf(buf: Uint8Array, off: number, len: number): boolean {
  return Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= buf.length;
}

/**
 * View over an Ethernet II header at buf[off..off+len) (len covers the frame, ≥ 14).
 * Reuse one per interface with attach(); use checked() on untrusted input.
 */
export class EtherView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  attach(buf: Uint8Array, off = 0, len = buf.length - off): this {
    this.buf = buf;
    this.off = off;
    this.len = len;
    return this;
  }

  /** A view when the range is inside buf and holds a whole header, else null. */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): EtherView | null {
    if (!inBuf(buf, off, len) || len < ETHER_HDR_LEN) return null;
    return new EtherView().attach(buf, off, len);
  }

  /** Destination address (a 6-byte subarray view). */
  dst(): Uint8Array {
    return this.buf.subarray(this.off + ETHER_OFF_DST, this.off + ETHER_OFF_DST + ETHER_ADDR_LEN);
  }
  /** Source address (a 6-byte subarray view). */
  src(): Uint8Array {
    return this.buf.subarray(this.off + ETHER_OFF_SRC, this.off + ETHER_OFF_SRC + ETHER_ADDR_LEN);
  }
  dstEquals(mac: Uint8Array, moff = 0): boolean {
    return macEquals(this.buf, this.off + ETHER_OFF_DST, mac, moff);
  }
  srcEquals(mac: Uint8Array, moff = 0): boolean {
    return macEquals(this.buf, this.off + ETHER_OFF_SRC, mac, moff);
  }
  setDst(mac: Uint8Array, moff = 0): void {
    for (let i = 0; i < ETHER_ADDR_LEN; i++) this.buf[this.off + ETHER_OFF_DST + i] = mac[moff + i] as number;
  }
  setSrc(mac: Uint8Array, moff = 0): void {
    for (let i = 0; i < ETHER_ADDR_LEN; i++) this.buf[this.off + ETHER_OFF_SRC + i] = mac[moff + i] as number;
  }
  /** Destination is a group address (multicast or broadcast). */
  get isMulticast(): boolean {
    return ((this.buf[this.off] as number) & 1) !== 0;
  }
  get isBroadcast(): boolean {
    return macEquals(this.buf, this.off + ETHER_OFF_DST, ETHER_BROADCAST, 0);
  }
  /** The type/length field: an EtherType (≥ 0x0600), a TPID, or an 802.3 length (≤ 1500). */
  get etherType(): number {
    return get16(this.buf, this.off + ETHER_OFF_TYPE);
  }
  set etherType(v: number) {
    set16(this.buf, this.off + ETHER_OFF_TYPE, v);
  }
  /** Everything after the 14-byte header (tags, LLC or the payload). */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + ETHER_HDR_LEN, this.off + this.len);
  }
}

function macEquals(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  return a[ao] === b[bo] && a[ao + 1] === b[bo + 1] && a[ao + 2] === b[bo + 2] && a[ao + 3] === b[bo + 3] && a[ao + 4] === b[bo + 4] && a[ao + 5] === b[bo + 5];
}

/** View over the 4 bytes after a TPID: TCI and the encapsulated type/length. */
export class VlanView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  attach(buf: Uint8Array, off = 0, len = buf.length - off): this {
    this.buf = buf;
    this.off = off;
    this.len = len;
    return this;
  }

  static checked(buf: Uint8Array, off = 0, len = buf.length - off): VlanView | null {
    if (!inBuf(buf, off, len) || len < ETHER_VLAN_ENCAP_LEN) return null;
    return new VlanView().attach(buf, off, len);
  }

  get tci(): number {
    return get16(this.buf, this.off + EVL_OFF_TCI);
  }
  set tci(v: number) {
    set16(this.buf, this.off + EVL_OFF_TCI, v);
  }
  /** Priority code point (IEEE 802.1Q §6.9.3), 0..7. */
  get pcp(): number {
    return EVL_PRIOFTAG(this.tci);
  }
  set pcp(v: number) {
    this.tci = (this.tci & ~(EVL_PRI_MASK << EVL_PRI_SHIFT)) | ((v & EVL_PRI_MASK) << EVL_PRI_SHIFT);
  }
  /** Drop eligible indicator. */
  get dei(): boolean {
    return (this.tci & EVL_DEI) !== 0;
  }
  set dei(v: boolean) {
    this.tci = v ? this.tci | EVL_DEI : this.tci & ~EVL_DEI;
  }
  /** VLAN identifier, 0..4095. */
  get vid(): number {
    return this.tci & EVL_VLID_MASK;
  }
  set vid(v: number) {
    this.tci = (this.tci & ~EVL_VLID_MASK) | (v & EVL_VLID_MASK);
  }
  /** The encapsulated type/length field (or the TPID of a further tag). */
  get etherType(): number {
    return get16(this.buf, this.off + EVL_OFF_PROTO);
  }
  set etherType(v: number) {
    set16(this.buf, this.off + EVL_OFF_PROTO, v);
  }
  payload(): Uint8Array {
    return this.buf.subarray(this.off + ETHER_VLAN_ENCAP_LEN, this.off + this.len);
  }
}

/** Length of the control field that starts with octet `c0`: 1 for U-format, else 2. */
export function llcControlLen(c0: number): 1 | 2 {
  return (c0 & LLC_U_FMT_MASK) === LLC_U_FMT_MASK ? 1 : 2;
}

/**
 * View over an 802.2 LLC header (and its SNAP extension) at the start of an 802.3 frame's
 * data; `len` is the data length from the 802.3 length field.
 */
export class LlcView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  attach(buf: Uint8Array, off = 0, len = buf.length - off): this {
    this.buf = buf;
    this.off = off;
    this.len = len;
    return this;
  }

  /** A view when the LLC header (4 bytes for I/S formats, 8 with SNAP) fits, else null. */
  static checked(buf: Uint8Array, off = 0, len = buf.length - off): LlcView | null {
    if (!inBuf(buf, off, len) || len < LLC_U_LEN) return null;
    const v = new LlcView().attach(buf, off, len);
    return len < v.headerLen ? null : v;
  }

  get dsap(): number {
    return this.buf[this.off + LLC_OFF_DSAP] as number;
  }
  set dsap(v: number) {
    this.buf[this.off + LLC_OFF_DSAP] = v;
  }
  get ssap(): number {
    return this.buf[this.off + LLC_OFF_SSAP] as number;
  }
  set ssap(v: number) {
    this.buf[this.off + LLC_OFF_SSAP] = v;
  }
  /** Length of the control field (1 for U-format PDUs, 2 for I and S formats). */
  get controlLen(): 1 | 2 {
    return llcControlLen(this.buf[this.off + LLC_OFF_CONTROL] as number);
  }
  /** Control field: one octet, or two as (first << 8) | second. */
  get control(): number {
    const c0 = this.buf[this.off + LLC_OFF_CONTROL] as number;
    return this.controlLen === 1 ? c0 : get16(this.buf, this.off + LLC_OFF_CONTROL);
  }
  /** Set a one-octet (U-format) control field. */
  set control(v: number) {
    this.buf[this.off + LLC_OFF_CONTROL] = v;
  }
  /** SNAP header present: DSAP = SSAP = 0xaa and control UI (RFC 1042). */
  get isSnap(): boolean {
    return this.dsap === LLC_SNAP_LSAP && this.ssap === LLC_SNAP_LSAP && this.buf[this.off + LLC_OFF_CONTROL] === LLC_UI;
  }
  /** LLC plus SNAP header length: 3, 4, or 8 with SNAP. */
  get headerLen(): number {
    return this.isSnap ? LLC_SNAP_LEN : this.controlLen === 1 ? LLC_U_LEN : LLC_IS_LEN;
  }
  /** SNAP organisation code (24 bits; 0 for encapsulated EtherTypes). Only when isSnap. */
  get oui(): number {
    const o = this.off + SNAP_OFF_OUI;
    return ((this.buf[o] as number) << 16) | ((this.buf[o + 1] as number) << 8) | (this.buf[o + 2] as number);
  }
  set oui(v: number) {
    const o = this.off + SNAP_OFF_OUI;
    this.buf[o] = v >>> 16;
    this.buf[o + 1] = v >>> 8;
    this.buf[o + 2] = v;
  }
  /** SNAP protocol id (an EtherType when the OUI is 0). Only when isSnap. */
  get snapType(): number {
    return get16(this.buf, this.off + SNAP_OFF_TYPE);
  }
  set snapType(v: number) {
    set16(this.buf, this.off + SNAP_OFF_TYPE, v);
  }
  payload(): Uint8Array {
    return this.buf.subarray(this.off + this.headerLen, this.off + this.len);
  }
}

/** One VLAN tag, outermost first in EtherRepr.vlans. */
export interface VlanTag {
  /** ETHERTYPE_VLAN (802.1Q C-tag) or ETHERTYPE_QINQ (802.1ad S-tag). */
  tpid: number;
  /** Priority code point 0..7. */
  pcp: number;
  /** Drop eligible indicator. */
  dei: boolean;
  /** VLAN id 0..4095 (0: priority tag only; 4095 reserved — kept, not judged here). */
  vid: number;
}

/** SNAP extension (RFC 1042). */
export interface SnapRepr {
  /** Organisation code, 24 bits (0 for an encapsulated EtherType). */
  oui: number;
  /** Protocol id (the EtherType when oui is 0). */
  type: number;
}

/** 802.2 LLC header. */
export interface LlcRepr {
  dsap: number;
  ssap: number;
  /** Control field: the octet for U-format PDUs, (first << 8) | second for I/S formats. */
  control: number;
  /** 1 when the first control octet's low two bits are 11 (U format), else 2. Must agree with control. */
  controlLen: 1 | 2;
  /** Present iff dsap = ssap = 0xaa and control = UI (0x03). */
  snap: SnapRepr | null;
}

/**
 * An Ethernet header. Exactly one of `etherType` / `llc` is set:
 *   - Ethernet II: etherType is the payload's EtherType (≥ 0x0600, not a TPID), llc null;
 *   - IEEE 802.3: etherType null, llc set; the length field is computed on emit.
 */
export interface EtherRepr {
  /** Destination address, 6 bytes (parse returns a copy). */
  dst: Uint8Array;
  /** Source address, 6 bytes (parse returns a copy). */
  src: Uint8Array;
  /** VLAN tags between the source address and the type/length field, outermost first. */
  vlans: VlanTag[];
  etherType: number | null;
  llc: LlcRepr | null;
}

/** What parseEther returns. */
export interface EtherParsed {
  repr: EtherRepr;
  /** Bytes of header: 14 + 4 per tag + LLC/SNAP. */
  headerLen: number;
  /** Absolute offset of the payload in the buffer. */
  payloadOff: number;
  /**
   * Payload length. For 802.3 frames, from the length field (any trailing pad excluded);
   * for Ethernet II frames, the rest of the range (a minimum-size pad cannot be told apart).
   */
  payloadLen: number;
}

function llcHeaderLen(llc: LlcRepr): number {
  return llc.snap !== null ? LLC_SNAP_LEN : llc.controlLen === 1 ? LLC_U_LEN : LLC_IS_LEN;
}

/** Bytes that emitEther writes for `repr`. */
export function etherReprLen(repr: EtherRepr): number {
  return ETHER_HDR_LEN + ETHER_VLAN_ENCAP_LEN * repr.vlans.length + (repr.llc !== null ? llcHeaderLen(repr.llc) : 0);
}

/**
 * Parse an Ethernet frame at buf[off..off+len) (without FCS). Never throws.
 * Rejects: a range outside buf, a frame shorter than its headers, a type/length field in
 * 1501..1535 (neither a length nor a type: IEEE 802.3 §3.2.6), an 802.3 length beyond the
 * frame, and an LLC/SNAP header that does not fit in the 802.3 length.
 */
export function parseEther(buf: Uint8Array, off = 0, len = buf.length - off): ParseResult<EtherParsed> {
  if (!inBuf(buf, off, len)) return fail('range outside buffer');
  if (len < ETHER_HDR_LEN) return fail('truncated header');
  const end = off + len;
  const vlans: VlanTag[] = [];
  let p = off + ETHER_OFF_TYPE;
  let type = get16(buf, p);
  while (isVlanTpid(type)) {
    // IEEE 802.1Q §9.6: TPID, TCI, then the next type/length field.
    if (p + ETHER_VLAN_ENCAP_LEN + 2 > end) return fail('truncated vlan tag');
    const tci = get16(buf, p + 2);
    vlans.push({ tpid: type, pcp: EVL_PRIOFTAG(tci), dei: (tci & EVL_DEI) !== 0, vid: tci & EVL_VLID_MASK });
    p += ETHER_VLAN_ENCAP_LEN;
    type = get16(buf, p);
  }
  const hdr = p + ETHER_TYPE_LEN;
  const dst = buf.slice(off + ETHER_OFF_DST, off + ETHER_OFF_DST + ETHER_ADDR_LEN);
  const src = buf.slice(off + ETHER_OFF_SRC, off + ETHER_OFF_SRC + ETHER_ADDR_LEN);
  if (type >= ETHERTYPE_MIN) {
    const repr: EtherRepr = { dst, src, vlans, etherType: type, llc: null };
    return ok({ repr, headerLen: hdr - off, payloadOff: hdr, payloadLen: end - hdr });
  }
  if (type > ETHER_MAX_FRAME_LEN_FIELD) return fail('bad type/length field');
  // IEEE 802.3 length form: `type` bytes of LLC data follow (the rest is padding).
  if (hdr + type > end) return fail('802.3 length beyond frame');
  if (type < LLC_U_LEN) return fail('truncated llc header');
  const c0 = buf[hdr + LLC_OFF_CONTROL] as number;
  const controlLen = llcControlLen(c0);
  const dsap = buf[hdr + LLC_OFF_DSAP] as number;
  const ssap = buf[hdr + LLC_OFF_SSAP] as number;
  let llcLen: number = controlLen === 1 ? LLC_U_LEN : LLC_IS_LEN;
  if (type < llcLen) return fail('truncated llc header');
  const control = controlLen === 1 ? c0 : get16(buf, hdr + LLC_OFF_CONTROL);
  let snap: SnapRepr | null = null;
  if (dsap === LLC_SNAP_LSAP && ssap === LLC_SNAP_LSAP && c0 === LLC_UI) {
    // RFC 1042: AA AA 03, OUI (3), EtherType (2).
    if (type < LLC_SNAP_LEN) return fail('truncated snap header');
    const o = hdr + SNAP_OFF_OUI;
    snap = { oui: ((buf[o] as number) << 16) | ((buf[o + 1] as number) << 8) | (buf[o + 2] as number), type: get16(buf, hdr + SNAP_OFF_TYPE) };
    llcLen = LLC_SNAP_LEN;
  }
  const repr: EtherRepr = { dst, src, vlans, etherType: null, llc: { dsap, ssap, control, controlLen, snap } };
  return ok({ repr, headerLen: hdr + llcLen - off, payloadOff: hdr + llcLen, payloadLen: type - llcLen });
}

/**
 * Write the header for `repr` at buf[off..] and return its length (etherReprLen(repr)).
 * `payloadLen` is the length of what follows the header; it sets the 802.3 length field
 * (LLC/SNAP + payload) and is otherwise unused. The repr must be valid (see EtherRepr).
 */
export function emitEther(repr: EtherRepr, buf: Uint8Array, off: number, payloadLen: number): number {
  for (let i = 0; i < ETHER_ADDR_LEN; i++) {
    buf[off + ETHER_OFF_DST + i] = repr.dst[i] as number;
    buf[off + ETHER_OFF_SRC + i] = repr.src[i] as number;
  }
  let p = off + ETHER_OFF_TYPE;
  for (const t of repr.vlans) {
    set16(buf, p, t.tpid);
    set16(buf, p + 2, EVL_MAKETAG(t.vid, t.pcp, t.dei ? 1 : 0));
    p += ETHER_VLAN_ENCAP_LEN;
  }
  const llc = repr.llc;
  if (llc === null) {
    set16(buf, p, repr.etherType ?? 0);
    return p + ETHER_TYPE_LEN - off;
  }
  const llcLen = llcHeaderLen(llc);
  set16(buf, p, llcLen + payloadLen);
  p += ETHER_TYPE_LEN;
  buf[p + LLC_OFF_DSAP] = llc.dsap;
  buf[p + LLC_OFF_SSAP] = llc.ssap;
  if (llc.controlLen === 1) buf[p + LLC_OFF_CONTROL] = llc.control;
  else set16(buf, p + LLC_OFF_CONTROL, llc.control);
  if (llc.snap !== null) {
    buf[p + SNAP_OFF_OUI] = llc.snap.oui >>> 16;
    buf[p + SNAP_OFF_OUI + 1] = llc.snap.oui >>> 8;
    buf[p + SNAP_OFF_OUI + 2] = llc.snap.oui;
    set16(buf, p + SNAP_OFF_TYPE, llc.snap.type);
  }
  return p + llcLen - off;
}
