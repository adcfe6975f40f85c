/*
 * TCP connection states (BSD netinet/tcp_fsm.h; RFC 9293 §3.3.2), with FreeBSD's numbering
 * and names (the ones TCP_INFO, netstat and sockstat report).
 */

export const TCPS_CLOSED = 0;
export const TCPS_LISTEN = 1;
export const TCPS_SYN_SENT = 2;
export const TCPS_SYN_RECEIVED = 3;
export const TCPS_ESTABLISHED = 4;
export const TCPS_CLOSE_WAIT = 5;
export const TCPS_FIN_WAIT_1 = 6;
export const TCPS_CLOSING = 7;
export const TCPS_LAST_ACK = 8;
export const TCPS_FIN_WAIT_2 = 9;
export const TCPS_TIME_WAIT = 10;
export const TCP_NSTATES = 11;

/** netstat/sockstat names (tcpstates[]). */
export const tcpstates: readonly string[] = [
  'CLOSED',
  'LISTEN',
  'SYN_SENT',
  'SYN_RCVD',
  'ESTABLISHED',
  'CLOSE_WAIT',
  'FIN_WAIT_1',
  'CLOSING',
  'LAST_ACK',
  'FIN_WAIT_2',
  'TIME_WAIT',
];

/** Synchronised: the handshake has completed (TCPS_HAVEESTABLISHED). */
export function TCPS_HAVEESTABLISHED(s: number): boolean {
  return s >= TCPS_ESTABLISHED;
}

/** A FIN has been received (TCPS_HAVERCVDFIN). */
export function TCPS_HAVERCVDFIN(s: number): boolean {
  return s === TCPS_CLOSE_WAIT || (s >= TCPS_CLOSING && s !== TCPS_FIN_WAIT_2);
}

// Flags to send in each state (tcp_outflags[]).
const TH_FIN = 0x01;
const TH_SYN = 0x02;
const TH_RST = 0x04;
const TH_ACK = 0x10;
export const tcp_outflags: readonly number[] = [
  TH_RST | TH_ACK, // CLOSED
  0, // LISTEN
  TH_SYN, // SYN_SENT
  TH_SYN | TH_ACK, // SYN_RECEIVED
  TH_ACK, // ESTABLISHED
  TH_ACK, // CLOSE_WAIT
  TH_FIN | TH_ACK, // FIN_WAIT_1
  TH_FIN | TH_ACK, // CLOSING
  TH_FIN | TH_ACK, // LAST_ACK
  TH_ACK, // FIN_WAIT_2
  TH_ACK, // TIME_WAIT
];
