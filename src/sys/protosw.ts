/*
 * The protocol switch (BSD sys/protosw.h, sys/domain.h): how the socket layer and the
 * network layer reach a transport protocol.
 *
 * A Protosw describes one protocol of one domain (e.g. TCP over IPv4): its socket type,
 * flags, the input routine the network layer calls, the control-input routine ICMP errors
 * reach, the socket-option handler, and the user requests (pru_*) the socket layer calls.
 * Every user request returns an errno (0 = success).
 */

import type { Mbuf } from '../mbuf/mbuf.js';
import type { Sockaddr } from '../netinet/in.js';
import type { Socket } from './socket.js';

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_SEQPACKET = 5;

// pr_flags
export const PR_ATOMIC = 0x01; // exchange atomic messages only
export const PR_ADDR = 0x02; // addresses given with messages
export const PR_CONNREQUIRED = 0x04; // connection required by protocol
export const PR_WANTRCVD = 0x08; // want pru_rcvd calls
export const PR_RIGHTS = 0x10;
export const PR_IMPLOPCL = 0x20; // implied open/close

/** PRC_* control commands delivered to pr_ctlinput (netinet/ip_icmp → protocols). */
export const PRC_IFDOWN = 0;
export const PRC_ROUTEDEAD = 1;
export const PRC_QUENCH = 4;
export const PRC_MSGSIZE = 5;
export const PRC_HOSTDEAD = 6;
export const PRC_UNREACH_NET = 8;
export const PRC_UNREACH_HOST = 9;
export const PRC_UNREACH_PROTOCOL = 10;
export const PRC_UNREACH_PORT = 11;
export const PRC_UNREACH_SRCFAIL = 13;
export const PRC_REDIRECT_NET = 14;
export const PRC_REDIRECT_HOST = 15;
export const PRC_TIMXCEED_INTRANS = 18;
export const PRC_TIMXCEED_REASS = 19;
export const PRC_PARAMPROB = 20;
export const PRC_UNREACH_ADMIN_PROHIB = 21;
export const PRC_NCMDS = 22;

/**
 * The errno a transport reports for each PRC_* command (FreeBSD's inetctlerrmap); 0 means
 * the notification does not become a socket error.
 */
export const inetctlerrmap: readonly number[] = [
  0, 0, 0, 0, 0, 40 /* EMSGSIZE */, 64 /* EHOSTDOWN */, 65 /* EHOSTUNREACH */, 65, 65, 61 /* ECONNREFUSED */, 61, 40, 65, 0, 0, 0, 0, 65, 0,
  42 /* ENOPROTOOPT */, 61,
];

/**
 * A control-input notification: an ICMP error about a packet we sent. `quoted` holds the
 * quoted bytes (the offending packet's IP header and at least 8 bytes of its transport
 * header), `off` the offset of the transport header within it.
 */
export interface CtlInput {
  cmd: number;
  /** ICMP type/code as received (v4 or v6). */
  icmpType: number;
  icmpCode: number;
  /** Next-hop MTU for PRC_MSGSIZE (0 if not given). */
  mtu: number;
  family: number;
  /** Source and destination of the quoted (our) packet. */
  src: Sockaddr;
  dst: Sockaddr;
  quoted: Uint8Array;
  off: number;
}

/** A socket option request (struct sockopt). */
export interface Sockopt {
  level: number;
  name: number;
  /** For set: the value. Numbers for integer options; objects for structs (linger...). */
  value?: number | boolean | Uint8Array | { [k: string]: number | boolean | string | Uint8Array | null };
}

export interface SockoptResult {
  error: number;
  value?: number | boolean | Uint8Array | { [k: string]: number | boolean | string | Uint8Array | null };
}

export interface PrUsrreqs {
  pru_attach(so: Socket, proto: number): number;
  pru_detach(so: Socket): void;
  pru_bind(so: Socket, nam: Sockaddr): number;
  pru_listen?(so: Socket, backlog: number): number;
  pru_connect(so: Socket, nam: Sockaddr): number;
  /** Fill `out` with the peer address of an accepted connection. */
  pru_accept?(so: Socket): Sockaddr | null;
  pru_disconnect(so: Socket): number;
  pru_shutdown(so: Socket): number;
  /** The user took data from the receive buffer (window update opportunity). */
  pru_rcvd?(so: Socket, flags: number): number;
  /**
   * Send `m` (ownership passes to the protocol, whatever the result) to `nam` (datagrams)
   * or on the connection. `flags` carries PRUS_* bits.
   */
  pru_send(so: Socket, flags: number, m: Mbuf | null, nam: Sockaddr | null, control: unknown): number;
  pru_abort(so: Socket): void;
  pru_close(so: Socket): void;
  pru_sockaddr(so: Socket): Sockaddr | null;
  pru_peeraddr(so: Socket): Sockaddr | null;
}

export const PRUS_OOB = 0x1;
export const PRUS_EOF = 0x2;
export const PRUS_MORETOCOME = 0x4;
export const PRUS_NOTREADY = 0x8;

export interface Protosw {
  pr_type: number;
  /** Address family (AF_INET / AF_INET6). */
  pr_domain: number;
  pr_protocol: number;
  pr_flags: number;
  pr_name: string;
  /** Input from the network layer: `off` is the transport header offset within m's data. */
  pr_input?(m: Mbuf, off: number, proto: number): void;
  pr_ctlinput?(ctl: CtlInput): void;
  pr_ctloutput?(so: Socket, op: 'get' | 'set', sopt: Sockopt): SockoptResult;
  pr_usrreqs: PrUsrreqs;
}

/** The protocols of one Vnet, by (domain, type, protocol). */
export class ProtoswTable {
  private readonly list: Protosw[] = [];

  add(pr: Protosw): void {
    this.list.push(pr);
  }

  /**
   * pffindproto: the exact protocol, or the first of the type when protocol is 0; a raw
   * socket of any protocol falls back to the domain's wildcard raw entry (pr_protocol 0).
   */
  find(domain: number, type: number, protocol: number): Protosw | undefined {
    let wild: Protosw | undefined;
    for (const p of this.list) {
      if (p.pr_domain !== domain || p.pr_type !== type) continue;
      if (protocol === 0 || p.pr_protocol === protocol) return p;
      if (type === SOCK_RAW && p.pr_protocol === 0) wild ??= p;
    }
    return wild;
  }

  hasDomain(domain: number): boolean {
    return this.list.some((p) => p.pr_domain === domain);
  }

  all(): Protosw[] {
    return [...this.list];
  }
}
