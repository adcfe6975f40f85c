/*
 * Ethernet II, IEEE 802.1Q/802.1ad VLAN tags and IEEE 802.2 LLC/SNAP headers.
 */

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
