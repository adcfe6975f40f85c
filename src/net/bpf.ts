/*
 * Packet taps (the role of bpf(4)): copies of the frames an interface sends and receives,
 * for tcpdump-style capture.
 *
 * A tap is attached to one interface with a link type: Ethernet frames for Ethernet
 * interfaces, LINKTYPE_NULL for loopback, raw IP for point-to-point devices. Drivers and
 * the link layer call bpf_mtap() where FreeBSD does (ETHER_BPF_MTAP on input and output);
 * it costs one length check when nothing listens.
 *
 * The tap flattens the packet into a per-tap scratch buffer (it never touches the mbuf). If
 * the stack left a checksum to the interface (CSUM_IP / CSUM_DELAY_DATA: the field holds
 * only the pseudo-header sum), the tap completes it in its copy, so captures always show
 * the checksum a peer would see on the wire.
 */

import { type Mbuf, m_tobuf, CSUM_DELAY_DATA, CSUM_DELAY_DATA_IPV6, CSUM_IP, CSUM_IP_UDP, CSUM_IP6_UDP } from '../mbuf/mbuf.js';
import { get16, set16 } from '../wire/bytes.js';
import { cksumFinish, cksumPartial, inCksum } from '../wire/checksum.js';
import type { Ifnet } from './if.js';
import { LINKTYPE_ETHERNET, LINKTYPE_NULL, LINKTYPE_RAW } from './pcap.js';

export const BPF_D_IN = 1;
export const BPF_D_OUT = 2;
export const BPF_D_INOUT = 3;

/** Called with a flattened frame: data[0..len), direction, and the capture time (ns). */
export type BpfListener = (data: Uint8Array, len: number, dir: number, tsNs: number) => void;

export class BpfTap {
  readonly ifp: Ifnet;
  readonly linktype: number;
  /** Which directions to capture. */
  direction = BPF_D_INOUT;
  /** Frames delivered to the listener, and frames dropped by the filter. */
  captured = 0;
  filtered = 0;
  filter: ((data: Uint8Array, len: number) => boolean) | null = null;
  private scratch = new Uint8Array(65536 + 64);
  private readonly listener: BpfListener;
  private attached = true;

  constructor(ifp: Ifnet, listener: BpfListener, linktype?: number) {
    this.ifp = ifp;
    this.listener = listener;
    this.linktype = linktype ?? bpf_linktype(ifp);
    ifp.if_bpf = [...ifp.if_bpf, this];
  }

  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.ifp.if_bpf = this.ifp.if_bpf.filter((t) => t !== this);
  }

  /** @internal */
  tap(m: Mbuf, dir: number, prefix: Uint8Array | null): void {
    if (!(this.direction & dir)) return;
    const plen = prefix ? prefix.length : 0;
    const total = (m.m_flags & 2 ? m.len : 0) || mlen(m);
    if (total + plen > this.scratch.length) this.scratch = new Uint8Array(total + plen + 64);
    if (prefix) this.scratch.set(prefix, 0);
    const len = plen + m_tobuf(m, this.scratch.subarray(plen));
    if (m.csum_flags & (CSUM_IP | CSUM_DELAY_DATA | CSUM_DELAY_DATA_IPV6))
      finishChecksums(this.scratch, len, this.linktype, m.csum_flags, m.csum_data, m.l3hlen);
    else if (m.csum_unfilled & (CSUM_IP | CSUM_DELAY_DATA | CSUM_DELAY_DATA_IPV6))
      finishChecksums(this.scratch, len, this.linktype, m.csum_unfilled, m.csum_unfilled_data, m.l3hlen);
    if (this.filter && !this.filter(this.scratch, len)) {
      this.filtered++;
      return;
    }
    this.captured++;
    const vnet = this.ifp.if_vnet;
    this.listener(this.scratch, len, dir, vnet.clock.wallEpochNs + vnet.clock.now());
  }
}

function mlen(m: Mbuf): number {
  let n = 0;
  for (let x: Mbuf | null = m; x !== null; x = x.m_next) n += x.m_len;
  return n;
}

/** The natural link type of an interface. */
export function bpf_linktype(ifp: Ifnet): number {
  if (ifp.if_hdrlen === 14) return LINKTYPE_ETHERNET;
  if (ifp.if_type === 0x18) return LINKTYPE_NULL;
  return LINKTYPE_RAW;
}

/** Hand a packet to the interface's taps (bpf_mtap). */
export function bpf_mtap(ifp: Ifnet, m: Mbuf, dir: number): void {
  const taps = ifp.if_bpf;
  for (let i = 0; i < taps.length; i++) (taps[i] as BpfTap).tap(m, dir, null);
}

/** Tap with a link header supplied separately (bpf_mtap2; e.g. the 4-byte AF of DLT_NULL). */
export function bpf_mtap2(ifp: Ifnet, prefix: Uint8Array, m: Mbuf, dir: number): void {
  const taps = ifp.if_bpf;
  for (let i = 0; i < taps.length; i++) (taps[i] as BpfTap).tap(m, dir, prefix);
}

/** Complete offloaded checksums in a captured copy. */
function finishChecksums(b: Uint8Array, len: number, linktype: number, csum_flags: number, csum_data: number, l3hlen: number): void {
  let l3 = 0;
  let etype = 0;
  if (linktype === LINKTYPE_ETHERNET) {
    if (len < 14) return;
    etype = get16(b, 12);
    l3 = 14;
    while ((etype === 0x8100 || etype === 0x88a8) && l3 + 4 <= len) {
      etype = get16(b, l3 + 2);
      l3 += 4;
    }
  } else if (linktype === LINKTYPE_NULL) {
    l3 = 4;
  }
  if (l3 >= len) return;
  const ver = (b[l3] as number) >> 4;
  if (ver === 4 && (etype === 0 || etype === 0x0800)) {
    const hl = ((b[l3] as number) & 0xf) * 4;
    if (hl < 20 || l3 + hl > len) return;
    if (csum_flags & CSUM_IP) {
      set16(b, l3 + 10, 0);
      set16(b, l3 + 10, inCksum(b, l3, hl));
    }
    if (csum_flags & CSUM_DELAY_DATA) {
      const ipLen = get16(b, l3 + 2);
      const l4 = l3 + hl;
      const end = Math.min(len, l3 + ipLen);
      const field = l4 + csum_data;
      if (field + 2 > end) return;
      let c = cksumFinish(cksumPartial(b, l4, end - l4));
      if (c === 0 && csum_flags & CSUM_IP_UDP) c = 0xffff;
      set16(b, field, c);
    }
  } else if (ver === 6 && (etype === 0 || etype === 0x86dd)) {
    if (!(csum_flags & CSUM_DELAY_DATA_IPV6)) return;
    const plen = get16(b, l3 + 4);
    const l4 = l3 + (l3hlen > 0 ? l3hlen : 40);
    const end = Math.min(len, l3 + 40 + plen);
    const field = l4 + csum_data;
    if (field + 2 > end) return;
    let c = cksumFinish(cksumPartial(b, l4, end - l4));
    if (c === 0 && csum_flags & CSUM_IP6_UDP) c = 0xffff;
    set16(b, field, c);
  }
}
