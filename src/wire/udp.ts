/*
 * UDP header (RFC 768).
 */

export const UDP_HDR_LEN = 8;
export const UDP_OFF_SPORT = 0;
export const UDP_OFF_DPORT = 2;
export const UDP_OFF_LEN = 4;
export const UDP_OFF_SUM = 6;
