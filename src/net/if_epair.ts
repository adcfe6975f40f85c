/*
 * epair: two Ethernet interfaces joined back to back, an in-process cable
 * (FreeBSD sys/net/if_epair.c). The ends may live in different Vnets.
 *
 * A frame transmitted on one end is put on the other end's bounded receive queue and
 * delivered from soft work, never on the sender's stack (no re-entrancy). The mbuf itself
 * crosses: no copy. Like a kernel's virtual wire, the epair does the checksums the stack
 * leaves to "hardware": the receiver is told they are valid.
 */

import type { SoftTask } from '../kern/clock.js';
import { type Mbuf, m_freem, CSUM_IP, CSUM_DELAY_DATA, CSUM_DELAY_DATA_IPV6, M_VLANTAG } from '../mbuf/mbuf.js';
import { ENETDOWN, ENOBUFS } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { bpf_mtap, BPF_D_OUT } from './bpf.js';
import { csum_mark_valid, ether_ifattach } from './if_ethersubr.js';
import {
  IFCAP_HWCSUM,
  IFCAP_RXCSUM_IPV6,
  IFCAP_TSO4,
  IFCAP_TSO6,
  IFCAP_TXCSUM_IPV6,
  IFF_DRV_RUNNING,
  IFF_UP,
  Ifnet,
  if_inc_ipackets,
  if_inc_opackets,
} from './if.js';

/** Default receive queue bound per end (frames). */
export const EPAIR_QLEN = 4096;

class EpairSoftc implements SoftTask {
  queued = false;
  readonly ifp: Ifnet;
  peer: Ifnet | null = null;
  head: Mbuf | null = null;
  tail: Mbuf | null = null;
  len = 0;
  qlimit = EPAIR_QLEN;
  constructor(ifp: Ifnet) {
    this.ifp = ifp;
  }

  runSoft(): void {
    const ifp = this.ifp;
    let m = this.head;
    this.head = this.tail = null;
    this.len = 0;
    const now = ifp.if_vnet.clock.now();
    while (m !== null) {
      const next: Mbuf | null = m.m_nextpkt;
      m.m_nextpkt = null;
      if (ifp.if_dead || !(ifp.if_flags & IFF_UP)) {
        ifp.if_data.iqdrops++;
        m_freem(m);
      } else {
        if_inc_ipackets(ifp, m.len);
        m.rcvif = ifp;
        m.rcv_tstmp = now;
        // The sender's out-of-band VLAN tag means nothing here (FreeBSD epair_clear_mbuf).
        m.m_flags &= ~M_VLANTAG;
        m.ether_vtag = 0;
        // Keep what was never computed, so a tap on this end can show real checksums.
        m.tso_segsz = 0; // received whole, like an LRO aggregate
        m.csum_unfilled = m.csum_flags;
        m.csum_unfilled_data = m.csum_data;
        csum_mark_valid(m);
        ifp.if_input(ifp, m);
      }
      m = next;
    }
  }
}

function epair_transmit(ifp: Ifnet, m: Mbuf): number {
  const sc = ifp.if_softc as EpairSoftc;
  const peer = sc.peer;
  if (!(ifp.if_flags & IFF_UP) || peer === null || peer.if_dead) {
    ifp.if_data.oerrors++;
    m_freem(m);
    return ENETDOWN;
  }
  if (ifp.if_bpf.length > 0) bpf_mtap(ifp, m, BPF_D_OUT);
  const psc = peer.if_softc as EpairSoftc;
  if (psc.len >= psc.qlimit) {
    ifp.if_data.oqdrops++;
    m_freem(m);
    return ENOBUFS;
  }
  if_inc_opackets(ifp, m.len);
  m.m_nextpkt = null;
  if (psc.tail) psc.tail.m_nextpkt = m;
  else psc.head = m;
  psc.tail = m;
  psc.len++;
  peer.if_vnet.clock.defer(psc);
  return 0;
}

function localLladdr(V: Vnet, last: number): Uint8Array {
  const a = V.rng.fill(new Uint8Array(6));
  a[0] = 0x02; // locally administered, unicast
  a[5] = last;
  return a;
}

/**
 * Create epair<N>a in `va` and epair<N>b in `vb` (the same Vnet if omitted), both up.
 * N is the smallest unit free in both instances.
 */
export function epair_create(va: Vnet, vb: Vnet = va, opts: { mtu?: number; qlimit?: number } = {}): [Ifnet, Ifnet] {
  let unit = 0;
  for (;;) {
    const ua = va.ifnet.freeUnit('epair', unit);
    const ub = vb.ifnet.freeUnit('epair', ua);
    if (ua === ub) {
      unit = ua;
      break;
    }
    unit = ub;
  }
  const a = new Ifnet(va, 'epair', unit, `epair${unit}a`);
  const b = new Ifnet(vb, 'epair', unit, `epair${unit}b`);
  const sa = new EpairSoftc(a);
  const sb = new EpairSoftc(b);
  sa.peer = b;
  sb.peer = a;
  for (const [ifp, sc, last] of [
    [a, sa, 0x0a],
    [b, sb, 0x0b],
  ] as const) {
    ether_ifattach(ifp, localLladdr(ifp.if_vnet, last));
    ifp.if_softc = sc;
    if (opts.qlimit) sc.qlimit = opts.qlimit;
    if (opts.mtu) ifp.if_mtu = opts.mtu;
    // Like a veth pair, the cable passes TSO bursts whole (no segmentation: both ends are us).
    ifp.if_capabilities = ifp.if_capenable = IFCAP_HWCSUM | IFCAP_RXCSUM_IPV6 | IFCAP_TXCSUM_IPV6 | IFCAP_TSO4 | IFCAP_TSO6;
    ifp.if_hwassist = CSUM_IP | CSUM_DELAY_DATA | CSUM_DELAY_DATA_IPV6;
    ifp.if_transmit = epair_transmit;
    ifp.if_flags |= IFF_UP | IFF_DRV_RUNNING;
    ifp.if_description = `epair to ${sc === sa ? b.if_xname : a.if_xname}`;
    ifp.if_detachfn = (i) => {
      const s = i.if_softc as EpairSoftc;
      let m = s.head;
      while (m) {
        const n: Mbuf | null = m.m_nextpkt;
        m_freem(m);
        m = n;
      }
      s.head = s.tail = null;
      s.len = 0;
    };
    ifp.if_vnet.ifnet.attach(ifp);
  }
  return [a, b];
}
