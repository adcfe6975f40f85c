/*
 * IPv4 header (RFC 791), with options.
 */

export const IPVERSION = 4;
export const IP_HDR_LEN = 20; // minimum header
export const IP_MAXHDRLEN = 60;
export const IP_MAXPACKET = 65535;

// Field offsets
export const IP_OFF_VHL = 0; // version(4) | ihl(4)
export const IP_OFF_TOS = 1; // DSCP(6) | ECN(2)
export const IP_OFF_LEN = 2;
export const IP_OFF_ID = 4;
export const IP_OFF_OFF = 6; // flags(3) | fragment offset(13), in 8-byte units
export const IP_OFF_TTL = 8;
export const IP_OFF_P = 9;
export const IP_OFF_SUM = 10;
export const IP_OFF_SRC = 12;
export const IP_OFF_DST = 16;

// ip_off flags
export const IP_RF = 0x8000; // reserved
export const IP_DF = 0x4000; // don't fragment
export const IP_MF = 0x2000; // more fragments
export const IP_OFFMASK = 0x1fff;

// ECN codepoints (RFC 3168) in the low two bits of TOS
export const IPTOS_ECN_NOTECT = 0x00;
export const IPTOS_ECN_ECT1 = 0x01;
export const IPTOS_ECN_ECT0 = 0x02;
export const IPTOS_ECN_CE = 0x03;
export const IPTOS_ECN_MASK = 0x03;

// Protocol numbers
export const IPPROTO_IP = 0;
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IGMP = 2;
export const IPPROTO_IPV4 = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_GRE = 47;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_SCTP = 132;
export const IPPROTO_UDPLITE = 136;
export const IPPROTO_RAW = 255;

// Options (RFC 791 §3.1)
export const IPOPT_EOL = 0;
export const IPOPT_NOP = 1;
export const IPOPT_RR = 7;
export const IPOPT_TS = 68;
export const IPOPT_SECURITY = 130;
export const IPOPT_LSRR = 131;
export const IPOPT_SSRR = 137;
export const IPOPT_RA = 148;

export const IPDEFTTL = 64;
