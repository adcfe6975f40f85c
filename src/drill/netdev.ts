/*
 * The packetdrill harness interface: a point-to-point "tun" interface (drill0) whose
 * if_output captures every datagram the stack sends, stamped with the virtual time, instead
 * of transmitting it; and an inject() that hands an IP datagram to the stack as if it had
 * arrived on the interface (netisr dispatch, IPv4 or IPv6 by version nibble).
 *
 * configure() gives the stack packetdrill's addressing: the local addresses (default
 * 192.168.0.1/16 and fd3d:fa7b:d17d::1/48, usable at once — no duplicate address
 * detection), host routes to the remote addresses (192.0.2.1, 2001:db8::1) through the
 * interface, and the MTU from --mtu.
 *
 * A checksum the stack left to the interface (CSUM_IP, CSUM_DELAY_DATA[_IPV6]: the field
 * holds the pseudo-header sum, m.csum_data its offset within the transport header) is
 * completed in the captured copy, as the hardware would.
 */

import { CSUM_DELAY_DATA, CSUM_DELAY_DATA_IPV6, CSUM_IP, CSUM_IP6_UDP, CSUM_IP_UDP, type Mbuf, m_freem, m_tobytes } from '../mbuf/mbuf.js';
import { IFF_DRV_RUNNING, IFF_POINTOPOINT, IFF_UP, IFT_PROPVIRTUAL, Ifnet, if_inc_ipackets, if_inc_opackets } from '../net/if.js';
import { NETISR_IP, NETISR_IPV6 } from '../net/netisr.js';
import type { VirtualClock } from '../kern/clock.js';
import type { Vnet } from '../vnet.js';
import { IN6_IFF_DUPLICATED, IN6_IFF_NODAD, IN6_IFF_TENTATIVE, ND6_IFF_NO_DAD } from '../netinet6/in6_var.js';
import { get16, set16 } from '../wire/bytes.js';
import { cksumFinish, cksumPartial, inCksum } from '../wire/checksum.js';

export interface Captured {
  bytes: Uint8Array;
  /** Virtual time of transmission (ns). */
  tNs: number;
}

export interface NetdevConfig {
  mtu: number;
  local4: Uint8Array;
  local6: Uint8Array;
  remote4: Uint8Array;
  remote6: Uint8Array;
  /** Prefix lengths of the local addresses. */
  plen4: number;
  plen6: number;
}

export type PacketObserver = (dir: 'in' | 'out', bytes: Uint8Array, tNs: number) => void;

function v4num(a: Uint8Array): number {
  return (((a[0] as number) << 24) | ((a[1] as number) << 16) | ((a[2] as number) << 8) | (a[3] as number)) >>> 0;
}

/** Complete the checksums a driver would (the captured copy only). */
function finishChecksums(b: Uint8Array, m: Mbuf): void {
  const flags = m.csum_flags;
  if (!(flags & (CSUM_IP | CSUM_DELAY_DATA | CSUM_DELAY_DATA_IPV6))) return;
  const ver = (b[0] as number) >> 4;
  if (ver === 4 && b.length >= 20) {
    const hl = ((b[0] as number) & 0xf) * 4;
    if (flags & CSUM_IP) {
      set16(b, 10, 0);
      set16(b, 10, inCksum(b, 0, hl));
    }
    if (flags & CSUM_DELAY_DATA) {
      const end = Math.min(b.length, get16(b, 2));
      const field = hl + m.csum_data;
      if (field + 2 > end) return;
      let c = cksumFinish(cksumPartial(b, hl, end - hl));
      if (c === 0 && flags & CSUM_IP_UDP) c = 0xffff;
      set16(b, field, c);
    }
  } else if (ver === 6 && b.length >= 40 && flags & CSUM_DELAY_DATA_IPV6) {
    const l4 = m.l3hlen > 0 ? m.l3hlen : 40;
    const end = Math.min(b.length, 40 + get16(b, 4));
    const field = l4 + m.csum_data;
    if (field + 2 > end) return;
    let c = cksumFinish(cksumPartial(b, l4, end - l4));
    if (c === 0 && flags & CSUM_IP6_UDP) c = 0xffff;
    set16(b, field, c);
  }
}

export class DrillNetdev {
  readonly V: Vnet;
  readonly ifp: Ifnet;
  readonly clock: VirtualClock;
  /** Datagrams sent by the stack, oldest first, not yet consumed by the runner. */
  readonly queue: Captured[] = [];
  observer: PacketObserver | null = null;

  constructor(V: Vnet, clock: VirtualClock, mtu: number) {
    this.V = V;
    this.clock = clock;
    const ifp = new Ifnet(V, 'drill', V.ifnet.freeUnit('drill'));
    ifp.if_type = IFT_PROPVIRTUAL;
    ifp.if_mtu = mtu;
    ifp.if_flags = IFF_UP | IFF_DRV_RUNNING | IFF_POINTOPOINT;
    ifp.if_hdrlen = 0;
    ifp.if_description = 'packetdrill tun';
    ifp.if_output = (i, m) => this.output(i, m);
    ifp.if_transmit = (i, m) => this.output(i, m);
    this.ifp = ifp;
  }

  private output(ifp: Ifnet, m: Mbuf): number {
    const bytes = m_tobytes(m);
    finishChecksums(bytes, m);
    if_inc_opackets(ifp, bytes.length);
    m_freem(m);
    const tNs = this.clock.now();
    this.queue.push({ bytes, tNs });
    this.observer?.('out', bytes, tNs);
    return 0;
  }

  /** Deliver an IP datagram to the stack as received on the interface. */
  inject(bytes: Uint8Array): number {
    const m = this.V.mbufs.devget(bytes, 0, bytes.length, this.ifp);
    if (m === null) return 55; // ENOBUFS
    m.rcvif = this.ifp;
    if_inc_ipackets(this.ifp, bytes.length);
    this.observer?.('in', bytes, this.clock.now());
    const v = (bytes[0] as number) >> 4;
    return this.V.netisr.dispatch(v === 6 ? NETISR_IPV6 : NETISR_IP, m);
  }

  /**
   * Attach the interface and give the stack the test addresses and routes. Throws if the
   * stack lacks a family it needs (the message says which).
   */
  configure(cfg: NetdevConfig): void {
    const V = this.V;
    const inet6 = (V as { inet6?: Vnet['inet6'] }).inet6;
    // No duplicate address detection and no link-local address on the tun: addresses are
    // usable at once and no ND traffic mixes with the script's packets.
    if (inet6 !== undefined) {
      const x = inet6.ifextra(this.ifp);
      x.flags = ND6_IFF_NO_DAD;
    }
    V.ifnet.attach(this.ifp);
    const inet = (V as { inet?: Vnet['inet'] }).inet;
    if (inet === undefined) throw new Error('the stack has no IPv4 (V.inet)');
    const r4 = inet.addAddress(this.ifp, v4num(cfg.local4), cfg.plen4);
    if (r4.error !== 0) throw new Error(`cannot add local address: errno ${r4.error}`);
    V.rt.add4(v4num(cfg.remote4), 32, { ifp: this.ifp, ifa: r4.ia });
    if (inet6 !== undefined) {
      const r6 = inet6.addAddress(this.ifp, cfg.local6, cfg.plen6, IN6_IFF_NODAD);
      if (r6.error !== 0) throw new Error(`cannot add local IPv6 address: errno ${r6.error}`);
      if (r6.ia) r6.ia.flags &= ~(IN6_IFF_TENTATIVE | IN6_IFF_DUPLICATED);
      V.rt.add6(cfg.remote6, 128, { ifp: this.ifp, ifa: r6.ia });
    }
  }
}
