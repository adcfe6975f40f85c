/*
 * ARP (RFC 826) for Ethernet/IPv4.
 */

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
