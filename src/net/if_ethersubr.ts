/*
 * Ethernet input and output, with 802.1Q VLAN tags and 802.2 LLC/SNAP handled here in one
 * place (FreeBSD sys/net/if_ethersubr.c; the seed's "link layer rationalisation").
 *
 * Input (ether_input): check the destination (ours, broadcast, multicast, or promiscuous),
 * tap, then ether_demux: strip a VLAN tag and hand the frame to the VLAN interface with that
 * VID; unwrap SNAP-encapsulated EtherTypes; dispatch by EtherType to the netisr protocol
 * registered for it. Every drop increments a named counter.
 *
 * Output: ether_output resolves the next hop's link address through the resolver the
 * address family registered (ARP for IPv4, ND for IPv6), then ether_output_frame prepends
 * the header and calls the driver.
 */

import {
  CSUM_DATA_VALID,
  CSUM_IP_CHECKED,
  CSUM_IP_VALID,
  CSUM_PSEUDO_HDR,
  M_BCAST,
  M_MCAST,
  M_PROMISC,
  M_VLANTAG,
  type Mbuf,
  m_adj,
  m_freem,
} from '../mbuf/mbuf.js';
import { EAFNOSUPPORT, ENETDOWN, ENOBUFS, EWOULDBLOCK } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { get16, set16 } from '../wire/bytes.js';
import {
  ETHER_ADDR_LEN,
  ETHER_HDR_LEN,
  ETHER_VLAN_ENCAP_LEN,
  ETHERMTU,
  ETHERTYPE_MIN,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  LLC_SNAP_LEN,
  LLC_SNAP_LSAP,
  LLC_UI,
} from '../wire/ethernet.js';
import { bpf_mtap, BPF_D_IN } from './bpf.js';
import { IFF_BROADCAST, IFF_MULTICAST, IFF_PROMISC, IFF_SIMPLEX, IFT_ETHER, type Ifnet, if_inc_ipackets } from './if.js';

/** A destination as protocols pass it to if_output: at least its address family. */
export interface LinkDst {
  family: number;
}

/**
 * Resolve the link-layer destination of `m` for `dst` on `ifp` into `edst` (6 bytes).
 * Returns 0 when resolved, EWOULDBLOCK when the packet was queued awaiting resolution (the
 * resolver owns it), or another errno after freeing it.
 */
export type EtherResolver = (ifp: Ifnet, m: Mbuf, dst: LinkDst, ro: unknown, edst: Uint8Array) => number;

/** Per-Vnet Ethernet state: EtherType demux table, resolvers and counters. */
export class EtherVars {
  /** EtherType → netisr protocol. */
  readonly handlers = new Map<number, number>();
  /** Address family → next-hop resolver (and the EtherType to put on the frame). */
  readonly resolvers = new Map<number, { resolve: EtherResolver; ethertype: number }>();
  /** Frames whose EtherType nobody handles, by type (for diagnostics). */
  readonly stats = {
    /** Frames shorter than a header. */
    runts: 0,
    /** Unicast frames for another station (not promiscuous). */
    notours: 0,
    /** Tagged frames for a VID with no VLAN interface. */
    novlan: 0,
    /** 802.2 frames other than SNAP with OUI 0. */
    llcdrop: 0,
    /** Type/length field in the invalid range 1501..1535. */
    badtype: 0,
    /** EtherType with no protocol. */
    noproto: 0,
  };
  private readonly edst = new Uint8Array(ETHER_ADDR_LEN);
  private readonly vnet: Vnet;

  constructor(vnet: Vnet) {
    this.vnet = vnet;
    vnet.sysctl.struct('net.link.ether.stats', () => ({ ...this.stats }), { descr: 'Ethernet input statistics', type: 'etherstat' });
  }

  /** Dispatch frames of `ethertype` to netisr protocol `proto`. */
  register(ethertype: number, proto: number): void {
    this.handlers.set(ethertype, proto);
  }

  /** Register the next-hop resolver for an address family. */
  registerResolver(family: number, ethertype: number, resolve: EtherResolver): void {
    this.resolvers.set(family, { resolve, ethertype });
  }

  /** @internal scratch destination address for ether_output. */
  get scratchDst(): Uint8Array {
    return this.edst;
  }

  get V(): Vnet {
    return this.vnet;
  }
}

export function isBroadcast(b: Uint8Array, o: number): boolean {
  return (b[o] as number) === 0xff && b[o + 1] === 0xff && b[o + 2] === 0xff && b[o + 3] === 0xff && b[o + 4] === 0xff && b[o + 5] === 0xff;
}

function isOurs(ifp: Ifnet, b: Uint8Array, o: number): boolean {
  const a = ifp.if_lladdr;
  return a[0] === b[o] && a[1] === b[o + 1] && a[2] === b[o + 2] && a[3] === b[o + 3] && a[4] === b[o + 4] && a[5] === b[o + 5];
}

/** Configure an interface as Ethernet (ether_ifattach). */
export function ether_ifattach(ifp: Ifnet, lladdr: Uint8Array): void {
  ifp.if_type = IFT_ETHER;
  ifp.if_hdrlen = ETHER_HDR_LEN;
  ifp.if_mtu = ifp.if_mtu || ETHERMTU;
  ifp.if_flags |= IFF_BROADCAST | IFF_SIMPLEX | IFF_MULTICAST;
  ifp.if_lladdr = Uint8Array.from(lladdr);
  ifp.if_broadcastaddr = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  ifp.if_input = ether_input;
  ifp.if_output = ether_output;
}

/** Receive a frame from a driver (ether_input). The interface's input counters are the driver's. */
export function ether_input(ifp: Ifnet, m0: Mbuf): void {
  const ev = ifp.if_vnet.ether;
  if (m0.len < ETHER_HDR_LEN) {
    ev.stats.runts++;
    ifp.if_data.ierrors++;
    m_freem(m0);
    return;
  }
  const m = ifp.if_vnet.mbufs.pullup(m0, ETHER_HDR_LEN);
  if (m === null) {
    ifp.if_data.iqdrops++;
    return;
  }
  m.rcvif = ifp;
  const b = m.m_buf;
  const o = m.m_data;
  if ((b[o] as number) & 0x01) {
    if (isBroadcast(b, o)) m.m_flags |= M_BCAST;
    else m.m_flags |= M_MCAST;
    ifp.if_data.imcasts++;
  } else if (!isOurs(ifp, b, o)) {
    if (!(ifp.if_flags & IFF_PROMISC)) {
      if (ifp.if_bpf.length > 0) bpf_mtap(ifp, m, BPF_D_IN);
      ev.stats.notours++;
      m_freem(m);
      return;
    }
    m.m_flags |= M_PROMISC;
  }
  if (ifp.if_bpf.length > 0) bpf_mtap(ifp, m, BPF_D_IN);
  if (m.m_flags & M_PROMISC) {
    m_freem(m);
    return;
  }
  ether_demux(ifp, m);
}

/** Demultiplex a frame whose destination is accepted (ether_demux). */
export function ether_demux(ifp: Ifnet, m0: Mbuf): void {
  const V = ifp.if_vnet;
  const ev = V.ether;
  let m: Mbuf | null = m0;
  let type = get16(m.m_buf, m.m_data + 12);

  if (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) {
    m = V.mbufs.pullup(m, ETHER_HDR_LEN + ETHER_VLAN_ENCAP_LEN);
    if (m === null) {
      ev.stats.runts++;
      ifp.if_data.ierrors++;
      return;
    }
    const b = m.m_buf;
    const o = m.m_data;
    const tci = get16(b, o + 14);
    // Strip the tag: slide the two MAC addresses up by 4 bytes (needs writable storage).
    if (!writableHead(m)) {
      const d = V.mbufs.dup(m);
      m_freem(m);
      if (d === null) {
        ifp.if_data.iqdrops++;
        return;
      }
      m = V.mbufs.pullup(d, ETHER_HDR_LEN + ETHER_VLAN_ENCAP_LEN);
      if (m === null) return;
    }
    m.m_buf.copyWithin(m.m_data + ETHER_VLAN_ENCAP_LEN, m.m_data, m.m_data + 2 * ETHER_ADDR_LEN);
    m_adj(m, ETHER_VLAN_ENCAP_LEN);
    m.m_flags |= M_VLANTAG;
    m.ether_vtag = tci;
    const vifp = ifp.if_vlantrunk?.get(tci & 0xfff);
    if (vifp === undefined || !vifp.up) {
      ev.stats.novlan++;
      ifp.if_data.noproto++;
      m_freem(m);
      return;
    }
    m.rcvif = vifp;
    if_inc_ipackets(vifp, m.len);
    if (vifp.if_bpf.length > 0) bpf_mtap(vifp, m, BPF_D_IN);
    ether_demux(vifp, m);
    return;
  }

  let hlen = ETHER_HDR_LEN;
  if (type <= ETHERMTU) {
    // 802.3 length field: only SNAP with OUI 00-00-00 carries an EtherType we handle.
    const snap = m.len >= ETHER_HDR_LEN + LLC_SNAP_LEN ? V.mbufs.pullup(m, ETHER_HDR_LEN + LLC_SNAP_LEN) : null;
    if (snap === null || !isSnapOui0(snap.m_buf, snap.m_data + ETHER_HDR_LEN)) {
      ev.stats.llcdrop++;
      ifp.if_data.noproto++;
      if (snap !== null) m_freem(snap);
      else if (m.len < ETHER_HDR_LEN + LLC_SNAP_LEN) m_freem(m);
      return;
    }
    m = snap;
    type = get16(m.m_buf, m.m_data + 20);
    hlen += LLC_SNAP_LEN;
  } else if (type < ETHERTYPE_MIN) {
    ev.stats.badtype++;
    ifp.if_data.ierrors++;
    m_freem(m);
    return;
  }
  const proto = ev.handlers.get(type);
  if (proto === undefined) {
    ev.stats.noproto++;
    ifp.if_data.noproto++;
    m_freem(m);
    return;
  }
  m.l2hlen = hlen;
  m_adj(m, hlen);
  V.netisr.dispatch(proto, m);
}

function isSnapOui0(b: Uint8Array, o: number): boolean {
  return b[o] === LLC_SNAP_LSAP && b[o + 1] === LLC_SNAP_LSAP && b[o + 2] === LLC_UI && b[o + 3] === 0 && b[o + 4] === 0 && b[o + 5] === 0;
}

function writableHead(m: Mbuf): boolean {
  return m.m_ext === null ? true : m.m_ext.refcnt === 1;
}

/**
 * Output a packet for protocol destination `dst` (ether_output): resolve the next hop, then
 * ether_output_frame. Returns 0 when sent or queued for resolution.
 */
export function ether_output(ifp: Ifnet, m: Mbuf, dst: unknown, ro: unknown): number {
  if (!ifp.up) {
    m_freem(m);
    ifp.if_data.oerrors++;
    return ENETDOWN;
  }
  const d = dst as LinkDst;
  const ev = ifp.if_vnet.ether;
  const r = ev.resolvers.get(d.family);
  if (r === undefined) {
    m_freem(m);
    return EAFNOSUPPORT;
  }
  const edst = ev.scratchDst;
  const err = r.resolve(ifp, m, d, ro, edst);
  if (err === EWOULDBLOCK) return 0;
  if (err !== 0) return err;
  return ether_output_frame(ifp, m, edst, r.ethertype);
}

/** Prepend an Ethernet header (source: the interface's address) and transmit. */
export function ether_output_frame(ifp: Ifnet, m0: Mbuf, edst: Uint8Array, ethertype: number): number {
  const m = ifp.if_vnet.mbufs.prepend(m0, ETHER_HDR_LEN);
  if (m === null) {
    ifp.if_data.oqdrops++;
    return ENOBUFS;
  }
  const b = m.m_buf;
  const o = m.m_data;
  // Byte loops, not subarray views: this runs for every frame sent.
  const src = ifp.if_lladdr;
  for (let i = 0; i < ETHER_ADDR_LEN; i++) {
    b[o + i] = edst[i] as number;
    b[o + ETHER_ADDR_LEN + i] = src[i] as number;
  }
  set16(b, o + 12, ethertype);
  m.l2hlen = ETHER_HDR_LEN;
  if ((edst[0] as number) & 1) m.m_flags |= isBroadcast(edst, 0) ? M_BCAST : M_MCAST;
  return ifp.if_transmit(ifp, m);
}

/**
 * Mark a packet as received over an in-process link whose sender left checksums to the
 * "hardware" (epair, loopback): the receiver trusts them (CSUM_DATA_VALID), as kernels do.
 * The sender's transmit requests (CSUM_IP, CSUM_DELAY_DATA...) are replaced, not kept: on
 * the receiving side they would ask for checksums again (a forwarded packet) with a
 * csum_data that no longer holds the field offset (FreeBSD looutput assigns the flags too).
 */
export function csum_mark_valid(m: Mbuf): void {
  m.csum_flags = CSUM_IP_CHECKED | CSUM_IP_VALID | CSUM_DATA_VALID | CSUM_PSEUDO_HDR;
  m.csum_data = 0xffff;
}
