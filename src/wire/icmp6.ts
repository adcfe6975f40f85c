/*
 * ICMPv6 (RFC 4443) and the Neighbor Discovery messages and options (RFC 4861, RFC 4862,
 * RFC 8106 RDNSS).
 */

export const ICMP6_HDR_LEN = 8;
export const ICMP6_OFF_TYPE = 0;
export const ICMP6_OFF_CODE = 1;
export const ICMP6_OFF_SUM = 2;
export const ICMP6_OFF_DATA32 = 4; // mtu (packet too big), pointer (param prob), id/seq (echo)

export const ICMP6_DST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAM_PROB = 4;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;
export const MLD_LISTENER_QUERY = 130;
export const MLD_LISTENER_REPORT = 131;
export const MLD_LISTENER_DONE = 132;
export const ND_ROUTER_SOLICIT = 133;
export const ND_ROUTER_ADVERT = 134;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
export const ND_REDIRECT = 137;
export const MLDV2_LISTENER_REPORT = 143;

// ICMP6_DST_UNREACH codes
export const ICMP6_DST_UNREACH_NOROUTE = 0;
export const ICMP6_DST_UNREACH_ADMIN = 1;
export const ICMP6_DST_UNREACH_BEYONDSCOPE = 2;
export const ICMP6_DST_UNREACH_ADDR = 3;
export const ICMP6_DST_UNREACH_NOPORT = 4;
export const ICMP6_DST_UNREACH_POLICY = 5;
export const ICMP6_DST_UNREACH_REJECT = 6;

// ICMP6_TIME_EXCEEDED codes
export const ICMP6_TIME_EXCEED_TRANSIT = 0;
export const ICMP6_TIME_EXCEED_REASSEMBLY = 1;

// ICMP6_PARAM_PROB codes
export const ICMP6_PARAMPROB_HEADER = 0;
export const ICMP6_PARAMPROB_NEXTHEADER = 1;
export const ICMP6_PARAMPROB_OPTION = 2;

// ND option types
export const ND_OPT_SOURCE_LINKADDR = 1;
export const ND_OPT_TARGET_LINKADDR = 2;
export const ND_OPT_PREFIX_INFORMATION = 3;
export const ND_OPT_REDIRECTED_HEADER = 4;
export const ND_OPT_MTU = 5;
export const ND_OPT_RDNSS = 25;

// Neighbor advertisement flags (first byte of the reserved word)
export const ND_NA_FLAG_ROUTER = 0x80;
export const ND_NA_FLAG_SOLICITED = 0x40;
export const ND_NA_FLAG_OVERRIDE = 0x20;

// Router advertisement flags
export const ND_RA_FLAG_MANAGED = 0x80;
export const ND_RA_FLAG_OTHER = 0x40;

// Prefix information flags
export const ND_OPT_PI_FLAG_ONLINK = 0x80;
export const ND_OPT_PI_FLAG_AUTO = 0x40;
