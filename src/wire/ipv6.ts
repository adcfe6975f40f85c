/*
 * IPv6 header (RFC 8200) and extension headers: hop-by-hop options, routing, fragment,
 * destination options.
 */

export const IPV6_VERSION = 6;
export const IP6_HDR_LEN = 40;

// Fixed header offsets
export const IP6_OFF_FLOW = 0; // version(4) | traffic class(8) | flow label(20)
export const IP6_OFF_PLEN = 4;
export const IP6_OFF_NXT = 6;
export const IP6_OFF_HLIM = 7;
export const IP6_OFF_SRC = 8;
export const IP6_OFF_DST = 24;

// Fragment header (8 bytes): nxt, reserved, offlg (offset(13) | res(2) | M(1)), ident(32)
export const IP6F_LEN = 8;
export const IP6F_OFF_NXT = 0;
export const IP6F_OFF_OFFLG = 2;
export const IP6F_OFF_IDENT = 4;
export const IP6F_OFF_MASK = 0xfff8;
export const IP6F_MORE_FRAG = 0x0001;

// Option types in hop-by-hop / destination options
export const IP6OPT_PAD1 = 0x00;
export const IP6OPT_PADN = 0x01;
export const IP6OPT_JUMBO = 0xc2;
export const IP6OPT_ROUTER_ALERT = 0x05;
/** High two bits of an option type: action when unrecognised (RFC 8200 §4.2). */
export const IP6OPT_TYPE_SKIP = 0x00;
export const IP6OPT_TYPE_DISCARD = 0x40;
export const IP6OPT_TYPE_FORCEICMP = 0x80;
export const IP6OPT_TYPE_ICMP = 0xc0;

export const IPV6_DEFHLIM = 64;
export const IPV6_MMTU = 1280; // minimal MTU (RFC 8200 §5)
