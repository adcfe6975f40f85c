/*
 * TCP header (RFC 9293 §3.1) and options: EOL, NOP, MSS (RFC 9293), window scale and
 * timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018), MD5 signature (RFC 2385, kind
 * 19), TCP-AO (RFC 5925, kind 29), Fast Open cookie (RFC 7413, kind 34; and the
 * experimental kind 254 with magic 0xF989); unknown kinds are kept as raw bytes.
 */

export const TCP_HDR_LEN = 20;
export const TCP_MAXOLEN = 40;
export const TCP_MAXHLEN = 60;

export const TCP_OFF_SPORT = 0;
export const TCP_OFF_DPORT = 2;
export const TCP_OFF_SEQ = 4;
export const TCP_OFF_ACK = 8;
export const TCP_OFF_OFFX2 = 12; // data offset(4) | reserved(3) | AE(1)
export const TCP_OFF_FLAGS = 13;
export const TCP_OFF_WIN = 14;
export const TCP_OFF_SUM = 16;
export const TCP_OFF_URP = 18;

// th_flags (the AE bit, RFC 9768 AccECN, is bit 0 of byte 12 and is reported as 0x100)
export const TH_FIN = 0x01;
export const TH_SYN = 0x02;
export const TH_RST = 0x04;
export const TH_PUSH = 0x08;
export const TH_ACK = 0x10;
export const TH_URG = 0x20;
export const TH_ECE = 0x40;
export const TH_CWR = 0x80;
export const TH_AE = 0x100;
export const TH_FLAGS = 0x1ff;

// Option kinds
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MAXSEG = 2;
export const TCPOLEN_MAXSEG = 4;
export const TCPOPT_WINDOW = 3;
export const TCPOLEN_WINDOW = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOLEN_SACK_PERMITTED = 2;
export const TCPOPT_SACK = 5;
export const TCPOLEN_SACKHDR = 2;
export const TCPOLEN_SACK = 8; // per block
export const TCPOPT_TIMESTAMP = 8;
export const TCPOLEN_TIMESTAMP = 10;
export const TCPOLEN_TSTAMP_APPA = TCPOLEN_TIMESTAMP + 2; // with two NOPs (RFC 7323 App. A)
export const TCPOPT_SIGNATURE = 19; // MD5 (RFC 2385)
export const TCPOLEN_SIGNATURE = 18;
export const TCPOPT_AO = 29; // TCP-AO (RFC 5925)
export const TCPOPT_FAST_OPEN = 34; // RFC 7413
export const TCPOLEN_FAST_OPEN_EMPTY = 2;
export const TCPOPT_EXP_FO = 254; // experimental option (RFC 6994) used by early TFO
export const TCPOPT_FAST_OPEN_EXP_MAGIC = 0xf989;

export const TCP_MAX_WINSHIFT = 14; // RFC 7323 §2.3
export const TCP_MAXWIN = 65535;
export const TCP_MAX_SACK = 4;
