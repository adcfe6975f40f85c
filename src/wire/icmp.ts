/*
 * ICMP for IPv4 (RFC 792, RFC 1191 for the fragmentation-needed MTU).
 */

export const ICMP_MINLEN = 8;
export const ICMP_OFF_TYPE = 0;
export const ICMP_OFF_CODE = 1;
export const ICMP_OFF_SUM = 2;
export const ICMP_OFF_ID = 4; // echo: identifier; unreach/needfrag: unused(16) | next-hop MTU(16) at 6
export const ICMP_OFF_SEQ = 6;
export const ICMP_OFF_NEXTMTU = 6;
export const ICMP_OFF_PPTR = 4; // parameter problem pointer
export const ICMP_OFF_GWADDR = 4; // redirect gateway

export const ICMP_ECHOREPLY = 0;
export const ICMP_UNREACH = 3;
export const ICMP_SOURCEQUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO = 8;
export const ICMP_ROUTERADVERT = 9;
export const ICMP_ROUTERSOLICIT = 10;
export const ICMP_TIMXCEED = 11;
export const ICMP_PARAMPROB = 12;
export const ICMP_TSTAMP = 13;
export const ICMP_TSTAMPREPLY = 14;
export const ICMP_MASKREQ = 17;
export const ICMP_MASKREPLY = 18;

// ICMP_UNREACH codes
export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_NEEDFRAG = 4;
export const ICMP_UNREACH_SRCFAIL = 5;
export const ICMP_UNREACH_NET_UNKNOWN = 6;
export const ICMP_UNREACH_HOST_UNKNOWN = 7;
export const ICMP_UNREACH_ISOLATED = 8;
export const ICMP_UNREACH_NET_PROHIB = 9;
export const ICMP_UNREACH_HOST_PROHIB = 10;
export const ICMP_UNREACH_TOSNET = 11;
export const ICMP_UNREACH_TOSHOST = 12;
export const ICMP_UNREACH_FILTER_PROHIB = 13;
export const ICMP_UNREACH_HOST_PRECEDENCE = 14;
export const ICMP_UNREACH_PRECEDENCE_CUTOFF = 15;

// ICMP_TIMXCEED codes
export const ICMP_TIMXCEED_INTRANS = 0;
export const ICMP_TIMXCEED_REASS = 1;

// ICMP_PARAMPROB codes
export const ICMP_PARAMPROB_ERRATPTR = 0;
export const ICMP_PARAMPROB_OPTABSENT = 1;
export const ICMP_PARAMPROB_LENGTH = 2;

// ICMP_REDIRECT codes
export const ICMP_REDIRECT_NET = 0;
export const ICMP_REDIRECT_HOST = 1;
export const ICMP_REDIRECT_TOSNET = 2;
export const ICMP_REDIRECT_TOSHOST = 3;
