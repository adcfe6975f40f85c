/*
 * 802.1Q VLAN interfaces (BSD sys/net/if_vlan.c).
 *
 * A VLAN interface sits on a parent Ethernet interface with a VID. Output inserts the
 * 4-byte tag after the source address and hands the frame to the parent's driver; input
 * arrives through the parent's ether_demux, which strips the tag and looks the VID up in
 * the parent's trunk table.
 */

import { ENETDOWN, ENOBUFS } from '../sys/errno.js';
import { type Mbuf, m_freem } from '../mbuf/mbuf.js';
import type { Vnet } from '../vnet.js';
import { set16 } from '../wire/bytes.js';
import { ETHER_ADDR_LEN, ETHER_VLAN_ENCAP_LEN, ETHERTYPE_VLAN } from '../wire/ethernet.js';
import { bpf_mtap, BPF_D_OUT } from './bpf.js';
import { ether_ifattach } from './if_ethersubr.js';
import { IFCAP_VLAN_MTU, IFF_DRV_RUNNING, IFF_UP, IFT_L2VLAN, Ifnet, if_inc_opackets } from './if.js';

function vlan_transmit(ifp: Ifnet, m0: Mbuf): number {
  const parent = ifp.if_vlanparent;
  if (parent === null || parent.if_dead || !(ifp.if_flags & IFF_UP)) {
    ifp.if_data.oerrors++;
    m_freem(m0);
    return ENETDOWN;
  }
  if (ifp.if_bpf.length > 0) bpf_mtap(ifp, m0, BPF_D_OUT);
  const V: Vnet = ifp.if_vnet;
  const m = V.mbufs.prepend(m0, ETHER_VLAN_ENCAP_LEN);
  if (m === null) {
    ifp.if_data.oqdrops++;
    return ENOBUFS;
  }
  const b = m.m_buf;
  const o = m.m_data;
  // Move the MAC addresses to the new front, then write TPID and TCI (PCP 0, DEI 0).
  if (m.m_len >= ETHER_VLAN_ENCAP_LEN + 2 * ETHER_ADDR_LEN) {
    b.copyWithin(o, o + ETHER_VLAN_ENCAP_LEN, o + ETHER_VLAN_ENCAP_LEN + 2 * ETHER_ADDR_LEN);
  } else {
    // The header mbuf holds only the 4 new bytes: pull the MACs forward into it.
    const p = V.mbufs.pullup(m, ETHER_VLAN_ENCAP_LEN + 2 * ETHER_ADDR_LEN + 2);
    if (p === null) {
      ifp.if_data.oqdrops++;
      return ENOBUFS;
    }
    return vlan_tag_pulled(ifp, parent, p);
  }
  set16(b, o + 12, ETHERTYPE_VLAN);
  set16(b, o + 14, ifp.if_vlantag & 0xfff);
  if_inc_opackets(ifp, m.len);
  return parent.if_transmit(parent, m);
}

function vlan_tag_pulled(ifp: Ifnet, parent: Ifnet, m: Mbuf): number {
  const b = m.m_buf;
  const o = m.m_data;
  b.copyWithin(o, o + ETHER_VLAN_ENCAP_LEN, o + ETHER_VLAN_ENCAP_LEN + 2 * ETHER_ADDR_LEN);
  set16(b, o + 12, ETHERTYPE_VLAN);
  set16(b, o + 14, ifp.if_vlantag & 0xfff);
  if_inc_opackets(ifp, m.len);
  return parent.if_transmit(parent, m);
}

/** Create vlan<unit> on `parent` with tag `vid` (1..4094), up, with the parent's address. */
export function vlan_create(parent: Ifnet, vid: number, name?: string): Ifnet {
  if (!Number.isInteger(vid) || vid < 1 || vid > 4094) throw new RangeError(`vlan_create: bad VID ${vid}`);
  if (parent.if_vlantrunk?.has(vid)) throw new Error(`vlan_create: VID ${vid} already on ${parent.if_xname}`);
  const V = parent.if_vnet;
  const unit = V.ifnet.freeUnit('vlan');
  const ifp = new Ifnet(V, 'vlan', unit, name);
  ether_ifattach(ifp, parent.if_lladdr);
  ifp.if_type = IFT_L2VLAN;
  ifp.if_mtu = parent.if_capenable & IFCAP_VLAN_MTU ? parent.if_mtu : parent.if_mtu - ETHER_VLAN_ENCAP_LEN;
  ifp.if_vlanparent = parent;
  ifp.if_vlantag = vid;
  ifp.if_transmit = vlan_transmit;
  ifp.if_flags |= IFF_UP | IFF_DRV_RUNNING;
  ifp.if_description = `vlan ${vid} on ${parent.if_xname}`;
  if (parent.if_vlantrunk === null) parent.if_vlantrunk = new Map();
  parent.if_vlantrunk.set(vid, ifp);
  ifp.if_detachfn = () => {
    parent.if_vlantrunk?.delete(vid);
  };
  V.ifnet.attach(ifp);
  return ifp;
}
