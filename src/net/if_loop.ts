/*
 * The loopback interface lo0 (BSD sys/net/if_loop.c).
 *
 * looutput() turns a packet around: if_simloop() marks its checksums as verified (nothing
 * crossed a wire), taps it with a DLT_NULL header, counts it as both sent and received, and
 * queues it to the protocol's netisr queue. It is always queued (never dispatched on the
 * sender's stack), so a protocol can send to itself without re-entering its own input.
 */

import { M_LOOP, type Mbuf, m_freem } from '../mbuf/mbuf.js';
import { EAFNOSUPPORT, ENETDOWN } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { bpf_mtap2, BPF_D_IN } from './bpf.js';
import { csum_mark_valid, type LinkDst } from './if_ethersubr.js';
import {
  IFF_DRV_RUNNING,
  IFF_LOOPBACK,
  IFF_MULTICAST,
  IFF_UP,
  IFT_LOOP,
  Ifnet,
  if_inc_ipackets,
  if_inc_opackets,
  IFCAP_HWCSUM,
  IFCAP_RXCSUM_IPV6,
  IFCAP_TXCSUM_IPV6,
} from './if.js';
import { NETISR_IP, NETISR_IPV6 } from './netisr.js';

export const LOMTU = 16384;
const AF_INET = 2;
const AF_INET6 = 28;

/** Create and attach lo<unit> (up and running). */
export function lo_create(V: Vnet, unit = V.ifnet.freeUnit('lo')): Ifnet {
  const ifp = new Ifnet(V, 'lo', unit);
  ifp.if_type = IFT_LOOP;
  ifp.if_mtu = LOMTU;
  ifp.if_flags = IFF_LOOPBACK | IFF_MULTICAST | IFF_UP | IFF_DRV_RUNNING;
  ifp.if_capabilities = ifp.if_capenable = IFCAP_HWCSUM | IFCAP_RXCSUM_IPV6 | IFCAP_TXCSUM_IPV6;
  ifp.if_output = looutput;
  ifp.if_transmit = (i, m) => looutput(i, m, { family: AF_INET }, null);
  ifp.if_description = 'loopback';
  V.ifnet.attach(ifp);
  return ifp;
}

export function looutput(ifp: Ifnet, m: Mbuf, dst: unknown, _ro: unknown): number {
  if (!(ifp.if_flags & IFF_UP)) {
    m_freem(m);
    ifp.if_data.oerrors++;
    return ENETDOWN;
  }
  const family = (dst as LinkDst).family;
  if (family !== AF_INET && family !== AF_INET6) {
    m_freem(m);
    ifp.if_data.oerrors++;
    return EAFNOSUPPORT;
  }
  if_inc_opackets(ifp, m.len);
  return if_simloop(ifp, m, family);
}

const afHeaders = {
  [AF_INET]: new Uint8Array([AF_INET, 0, 0, 0]),
  [AF_INET6]: new Uint8Array([AF_INET6, 0, 0, 0]),
} as const;

/** Loop a packet back to the protocol input of `family` through `ifp` (if_simloop). */
export function if_simloop(ifp: Ifnet, m: Mbuf, family: number): number {
  m.rcvif = ifp;
  m.m_flags |= M_LOOP;
  // Tap first: the capture completes checksums left to "hardware" while the transmit
  // requests still say where they are.
  if (ifp.if_bpf.length > 0) bpf_mtap2(ifp, afHeaders[family as 2 | 28], m, BPF_D_IN);
  // Nothing crossed a wire: trust the checksums (and any left to "hardware").
  csum_mark_valid(m);
  if_inc_ipackets(ifp, m.len);
  const proto = family === AF_INET ? NETISR_IP : NETISR_IPV6;
  const err = ifp.if_vnet.netisr.queue(proto, m);
  if (err !== 0) ifp.if_data.iqdrops++;
  return err;
}
