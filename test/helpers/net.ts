/*
 * Test helpers for the link layer: Vnets on a shared virtual clock, hand-built Ethernet
 * frames, and a test protocol registered with netisr and the EtherType demux.
 */

import { VirtualClock } from '../../src/kern/clock.js';
import { type Mbuf, m_freem, m_tobytes } from '../../src/mbuf/mbuf.js';
import { IFF_DRV_RUNNING, IFF_UP, Ifnet } from '../../src/net/if.js';
import { ether_ifattach } from '../../src/net/if_ethersubr.js';
import { Vnet } from '../../src/vnet.js';
import { set16 } from '../../src/wire/bytes.js';

/** IEEE 802 local experimental EtherTypes: nobody in the stack handles them. */
export const ETHERTYPE_TEST = 0x88b5;
export const ETHERTYPE_UNHANDLED = 0x88b6;
/** A netisr protocol number the stack does not use. */
export const NETISR_TEST = 14;

export function vnets(n: number, opts: { loopback?: boolean } = {}): { clock: VirtualClock; V: Vnet[] } {
  const clock = new VirtualClock();
  const V: Vnet[] = [];
  for (let i = 0; i < n; i++) V.push(new Vnet({ clock, seed: 1000 + i, name: `v${i}`, loopback: opts.loopback ?? false }));
  return { clock, V };
}

export interface Delivered {
  bytes: number[];
  rcvif: string | null;
  flags: number;
  vtag: number;
  l2hlen: number;
  csum_flags: number;
  rcv_tstmp: number;
}

/**
 * Register a test protocol on `V`: EtherType ETHERTYPE_TEST → NETISR_TEST. Every packet it
 * receives is recorded (payload bytes after the link header) and freed.
 */
export function testProto(V: Vnet, dispatch?: number): Delivered[] {
  const got: Delivered[] = [];
  V.netisr.register({
    name: 'test',
    proto: NETISR_TEST,
    dispatch,
    handler: (m: Mbuf) => {
      got.push({
        bytes: [...m_tobytes(m)],
        rcvif: m.rcvif?.if_xname ?? null,
        flags: m.m_flags,
        vtag: m.ether_vtag,
        l2hlen: m.l2hlen,
        csum_flags: m.csum_flags,
        rcv_tstmp: m.rcv_tstmp,
      });
      m_freem(m);
    },
  });
  V.ether.register(ETHERTYPE_TEST, NETISR_TEST);
  return got;
}

export function mac(last: number, first = 0x02): Uint8Array {
  return new Uint8Array([first, 0, 0, 0, 0, last]);
}

export const BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** An Ethernet II frame: dst, src, type, payload. */
export function frame(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array | number[]): Uint8Array {
  const p = Uint8Array.from(payload);
  const b = new Uint8Array(14 + p.length);
  b.set(dst, 0);
  b.set(src, 6);
  set16(b, 12, type);
  b.set(p, 14);
  return b;
}

/** An 802.1Q-tagged frame. */
export function vlanFrame(dst: Uint8Array, src: Uint8Array, tci: number, type: number, payload: Uint8Array | number[]): Uint8Array {
  const p = Uint8Array.from(payload);
  const b = new Uint8Array(18 + p.length);
  b.set(dst, 0);
  b.set(src, 6);
  set16(b, 12, 0x8100);
  set16(b, 14, tci);
  set16(b, 16, type);
  b.set(p, 18);
  return b;
}

/** An 802.3 frame with an 802.2 LLC header (and SNAP if `snap`). */
export function llcFrame(dst: Uint8Array, src: Uint8Array, llc: number[], payload: Uint8Array | number[]): Uint8Array {
  const p = Uint8Array.from(payload);
  const b = new Uint8Array(14 + llc.length + p.length);
  b.set(dst, 0);
  b.set(src, 6);
  set16(b, 12, llc.length + p.length);
  b.set(llc, 14);
  b.set(p, 14 + llc.length);
  return b;
}

/** A bare Ethernet interface (no driver: transmit records frames), attached and up. */
export function etherIf(V: Vnet, name: string, lladdr: Uint8Array): { ifp: Ifnet; sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  const ifp = new Ifnet(V, name.replace(/\d+$/, ''), Number(/\d+$/.exec(name)?.[0] ?? 0), name);
  ether_ifattach(ifp, lladdr);
  ifp.if_transmit = (_i, m) => {
    sent.push(m_tobytes(m));
    m_freem(m);
    return 0;
  };
  ifp.if_flags |= IFF_UP | IFF_DRV_RUNNING;
  V.ifnet.attach(ifp);
  return { ifp, sent };
}

/** Hand a frame to an interface's input as a driver would. */
export function input(ifp: Ifnet, bytes: Uint8Array): void {
  const m = ifp.if_vnet.mbufs.devget(bytes, 0, bytes.length, ifp) as Mbuf;
  ifp.if_input(ifp, m);
}

/** A packet holding `bytes` with `headroom` bytes of leading space. */
export function packet(V: Vnet, bytes: Uint8Array | number[], headroom = 16): Mbuf {
  const b = Uint8Array.from(bytes);
  return V.mbufs.devget(b, 0, b.length, null, headroom) as Mbuf;
}
