/*
 * Raw IPv6 sockets and the kernel side of ping6 (BSD netinet6/raw_ip6.c; RFC 3542 §3).
 *
 * Input: rip6_input() gives a copy of the packet to every raw IPv6 socket whose protocol,
 * local and foreign addresses match (BSD semantics: the data starts at the upper-layer
 * header — IPv6 raw sockets never see the IPv6 header, RFC 3542 §3 —; the source address
 * comes with it). ICMPv6 reaches them from icmp6_input after kernel processing; any other
 * next header reaches them only when no protocol claims it, and when no socket takes it
 * either, the sender gets an ICMPv6 parameter problem (code 1) pointing at the offending
 * Next Header field (rip6stat.rip6s_nosock).
 *
 * Echo replies are also offered to listeners registered with listenEcho(id, fn) — the
 * simplest way for a program (or a test) to ping6 without a socket: icmp6_send_echo() sends
 * a request and the listener for its identifier sees the reply.
 *
 * Output: the kernel builds the IPv6 header (next header = the socket's protocol, hop limit
 * from IPV6_UNICAST_HOPS/IPV6_MULTICAST_HOPS or the default) and, for ICMPv6 sockets,
 * computes the ICMPv6 checksum (RFC 3542 §3.1).
 */

import { type Mbuf, m_copydata, m_freem } from '../mbuf/mbuf.js';
import type { Ifnet } from '../net/if.js';
import { PR_ADDR, PR_ATOMIC, type PrUsrreqs, type Protosw, type Sockopt, type SockoptResult, SOCK_RAW } from '../sys/protosw.js';
import { sbappendaddr, sbreserve, type Socket, soisconnected, soisdisconnected, socantsendmore, sofree, sorwakeup, SS_ISCONNECTED } from '../sys/socket.js';
import { EADDRNOTAVAIL, EAFNOSUPPORT, EDESTADDRREQ, EINVAL, EISCONN, EMSGSIZE, ENOBUFS, ENOTCONN, EPROTONOSUPPORT } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { get16, set16 } from '../wire/bytes.js';
import { ICMP6_ECHO_REPLY, ICMP6_ECHO_REQUEST, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHEADER } from '../wire/icmp6.js';
import { IPPROTO_ICMPV6 } from '../wire/ipv4.js';
import { IP6_HDR_LEN, IP6_OFF_DST, IP6_OFF_HLIM, IP6_OFF_NXT, IP6_OFF_PLEN, IP6_OFF_SRC, IPV6_MAXPACKET } from '../wire/ipv6.js';
import {
  AF_INET6,
  in6addr_any,
  IN6_IS_ADDR_LINKLOCAL,
  IN6_IS_ADDR_MULTICAST,
  IN6_IS_ADDR_UNSPECIFIED,
  in6_equal,
  type Sockaddr,
  type SockaddrIn6,
  sockaddr_in6,
} from '../netinet/in.js';
import { type Inpcb, PcbInfo } from '../netinet/in_pcb.js';
import { ip_ctloutput } from '../netinet/ip_ctloutput.js';
import { icmp6_cksum_set, icmp6_error } from './icmp6.js';
import { in6_needs_zone, in6_selectsrc } from './in6_src.js';
import { IPV6_RAWOUTPUT, ip6_output } from './ip6_output.js';

export const RIP6_SENDSPACE = 9216;
export const RIP6_RECVSPACE = 9216;

/** Raw IPv6 statistics (struct rip6stat, netinet6/raw_ip6.h). */
export class Rip6Stat {
  rip6s_ipackets = 0; // total input packets
  rip6s_isum = 0; // input checksum computations
  rip6s_badsum = 0; // of above, checksum error
  rip6s_nosock = 0; // no matching socket
  rip6s_nosockmcast = 0; // of above, arrived as multicast
  rip6s_fullsock = 0; // not delivered, input socket full
  rip6s_opackets = 0; // total output packets
}

/** An echo reply as a listener sees it. */
export interface Icmp6EchoReply {
  src: Uint8Array;
  dst: Uint8Array;
  id: number;
  seq: number;
  hlim: number;
  data: Uint8Array;
  ifp: Ifnet | null;
}

export type Icmp6EchoListener = (r: Icmp6EchoReply) => void;

export class RawIp6 {
  readonly info: PcbInfo;
  readonly stat = new Rip6Stat();
  private readonly V: Vnet;
  private readonly echo = new Map<number, Icmp6EchoListener>();

  constructor(V: Vnet) {
    this.V = V;
    this.info = new PcbInfo(V, 'raw6');
    V.sysctl.struct('net.inet6.ip6.rip6stats', () => ({ ...this.stat }), {
      descr: 'Raw IP6 statistics (struct rip6stat, netinet6/raw_ip6.h)',
      type: 'rip6stat',
    });
  }

  /** The statistics block under its BSD name. */
  get rip6stat(): Rip6Stat {
    return this.stat;
  }

  /** Receive the echo replies carrying identifier `id` (one listener per identifier). */
  listenEcho(id: number, fn: Icmp6EchoListener): void {
    this.echo.set(id & 0xffff, fn);
  }

  unlistenEcho(id: number): void {
    this.echo.delete(id & 0xffff);
  }

  /**
   * Offer a packet (m starts at its IPv6 header; `off` is the upper-layer header) to raw
   * sockets of protocol `proto` (rip6_input). When nobody takes a packet that only raw
   * sockets could have wanted (`nxtOff` ≥ 0: the offset of the Next Header byte that named
   * it), the sender gets a parameter problem. Always consumes `m`.
   */
  input(m: Mbuf, off: number, proto: number, nxtOff = -1): void {
    const st = this.stat;
    st.rip6s_ipackets++;
    if (proto === IPPROTO_ICMPV6 && this.echo.size > 0) this.echoInput(m, off);
    if (this.info.count === 0) {
      this.nosock(m, nxtOff);
      return;
    }
    const b = m.m_buf;
    const o = m.m_data;
    const src = b.subarray(o + IP6_OFF_SRC, o + IP6_OFF_SRC + 16);
    const dst = b.subarray(o + IP6_OFF_DST, o + IP6_OFF_DST + 16);
    let last: Inpcb | null = null;
    for (const inp of this.info.list) {
      if (!(inp.inp_vflag & 2) || inp.inp_socket === null) continue;
      if (inp.inp_ip_p !== 0 && inp.inp_ip_p !== proto) continue;
      if (!IN6_IS_ADDR_UNSPECIFIED(inp.in6p_laddr) && !in6_equal(inp.in6p_laddr, 0, dst, 0)) continue;
      if (!IN6_IS_ADDR_UNSPECIFIED(inp.in6p_faddr) && !in6_equal(inp.in6p_faddr, 0, src, 0)) continue;
      if (last !== null) {
        const n = this.V.mbufs.copypacket(m);
        if (n !== null) this.deliver(last, n, off);
      }
      last = inp;
    }
    if (last !== null) this.deliver(last, m, off);
    else this.nosock(m, nxtOff);
  }

  private nosock(m: Mbuf, nxtOff: number): void {
    const st = this.stat;
    if (nxtOff < 0) {
      m_freem(m);
      return;
    }
    st.rip6s_nosock++;
    if (m.m_buf[m.m_data + IP6_OFF_DST] === 0xff) {
      st.rip6s_nosockmcast++;
      m_freem(m);
      return;
    }
    // RFC 8200 §4: unrecognised Next Header: parameter problem code 1 at that field.
    icmp6_error(this.V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHEADER, nxtOff);
  }

  private deliver(inp: Inpcb, m: Mbuf, off: number): void {
    const so = inp.inp_socket as Socket;
    const b = m.m_buf;
    const o = m.m_data;
    const src = b.subarray(o + IP6_OFF_SRC, o + IP6_OFF_SRC + 16);
    const scope = IN6_IS_ADDR_LINKLOCAL(src) && m.rcvif !== null ? m.rcvif.if_index : 0;
    const from = sockaddr_in6(src, 0, scope);
    // IPv6 raw sockets receive the payload only (RFC 3542 §3).
    const n = this.V.mbufs.split(m, off);
    m_freem(m);
    if (n === null) {
      this.stat.rip6s_fullsock++;
      return;
    }
    if (!sbappendaddr(so.so_rcv, from, n)) {
      this.stat.rip6s_fullsock++;
      m_freem(n);
      return;
    }
    sorwakeup(so);
  }

  private echoInput(m: Mbuf, off: number): void {
    if (m.len < off + 8) return;
    const hdr = new Uint8Array(8);
    m_copydata(m, off, 8, hdr, 0);
    if (hdr[0] !== ICMP6_ECHO_REPLY) return;
    const id = get16(hdr, 4);
    const fn = this.echo.get(id);
    if (fn === undefined) return;
    const data = new Uint8Array(m.len - off - 8);
    m_copydata(m, off + 8, data.length, data, 0);
    const b = m.m_buf;
    const o = m.m_data;
    fn({
      src: Uint8Array.from(b.subarray(o + IP6_OFF_SRC, o + IP6_OFF_SRC + 16)),
      dst: Uint8Array.from(b.subarray(o + IP6_OFF_DST, o + IP6_OFF_DST + 16)),
      id,
      seq: get16(hdr, 6),
      hlim: b[o + IP6_OFF_HLIM] as number,
      data,
      ifp: m.rcvif,
    });
  }

  /** rip6_output: send `m` (the upper-layer message) to `dst` as protocol inp_ip_p. */
  output(inp: Inpcb, m: Mbuf, dst: SockaddrIn6): number {
    const V = this.V;
    if (m.len + IP6_HDR_LEN > IPV6_MAXPACKET) {
      m_freem(m);
      return EMSGSIZE;
    }
    const scope = dst.scope_id || inp.in6p_scope;
    let src = inp.in6p_laddr;
    if (IN6_IS_ADDR_UNSPECIFIED(src)) {
      const r = in6_selectsrc(V, dst.addr, scope);
      if (r.error !== 0 || r.addr === null) {
        m_freem(m);
        return r.error || EADDRNOTAVAIL;
      }
      src = r.addr;
    }
    const h = V.mbufs.prepend(m, IP6_HDR_LEN);
    if (h === null) return ENOBUFS;
    const b = h.m_buf;
    const o = h.m_data;
    const mc = IN6_IS_ADDR_MULTICAST(dst.addr);
    const hlim = mc ? (inp.in6p_moptions?.hops ?? V.inet6.defmcasthlim) : inp.in6p_hops >= 0 ? inp.in6p_hops : V.inet6.hlim;
    b[o] = 0x60 | (inp.in6p_tclass >> 4);
    b[o + 1] = (inp.in6p_tclass & 0xf) << 4;
    set16(b, o + 2, 0);
    set16(b, o + IP6_OFF_PLEN, h.len - IP6_HDR_LEN);
    b[o + IP6_OFF_NXT] = inp.inp_ip_p;
    b[o + IP6_OFF_HLIM] = hlim;
    b.set(src.subarray(0, 16), o + IP6_OFF_SRC);
    b.set(dst.addr.subarray(0, 16), o + IP6_OFF_DST);
    if (inp.inp_ip_p === IPPROTO_ICMPV6) {
      if (h.len < IP6_HDR_LEN + 4) {
        m_freem(h);
        return EINVAL;
      }
      const p = V.mbufs.pullup(h, IP6_HDR_LEN + 4);
      if (p === null) return ENOBUFS;
      icmp6_cksum_set(p, IP6_HDR_LEN, p.len - IP6_HDR_LEN);
      this.stat.rip6s_opackets++;
      return ip6_output(V, p, IPV6_RAWOUTPUT, null, rip6_outopts(V, inp, dst, scope));
    }
    this.stat.rip6s_opackets++;
    return ip6_output(V, h, IPV6_RAWOUTPUT, null, rip6_outopts(V, inp, dst, scope));
  }
}

function rip6_outopts(V: Vnet, inp: Inpcb, dst: SockaddrIn6, scope: number): { ifp: Ifnet | null; scope_id: number; moptions: Inpcb['in6p_moptions'] } {
  const ifp = in6_needs_zone(dst.addr) && scope ? (V.ifnet.byindex(scope) ?? null) : null;
  return { ifp, scope_id: scope, moptions: inp.in6p_moptions };
}

/**
 * Send an ICMPv6 echo request (the kernel side of ping6, like icmp_send_echo): from `src`
 * (null: selected), to `dst` (`scope_id` names the zone of a link-local or multicast
 * destination). Replies reach RawIp6.listenEcho(id) listeners and raw ICMPv6 sockets.
 */
export function icmp6_send_echo(
  V: Vnet,
  src: Uint8Array | null,
  dst: Uint8Array,
  id: number,
  seq: number,
  data: Uint8Array,
  hlim?: number,
  scope_id = 0,
): number {
  let from = src;
  let ifp: Ifnet | null = scope_id ? (V.ifnet.byindex(scope_id) ?? null) : null;
  if (from === null) {
    const r = in6_selectsrc(V, dst, scope_id);
    if (r.error !== 0 || r.addr === null) return r.error || EADDRNOTAVAIL;
    from = r.addr;
    if (ifp === null && (in6_needs_zone(dst) || IN6_IS_ADDR_MULTICAST(dst))) ifp = r.ifp;
  }
  const len = IP6_HDR_LEN + 8 + data.length;
  if (len > IPV6_MAXPACKET) return EMSGSIZE;
  const m = V.mbufs.getm(len, 16);
  if (m === null) return ENOBUFS;
  const b = m.m_buf;
  const o = m.m_data;
  if (b.length - o < len) {
    // A chain: build in a flat buffer and copy it in.
    const flat = new Uint8Array(len);
    fillEcho(flat, 0, V, from, dst, id, seq, data, hlim, len);
    let done = 0;
    for (let x: Mbuf | null = m; x !== null && done < len; x = x.m_next) {
      const k = Math.min(x.m_buf.length - x.m_data, len - done);
      x.m_buf.set(flat.subarray(done, done + k), x.m_data);
      x.m_len = k;
      done += k;
    }
    m.len = len;
  } else {
    m.m_len = len;
    m.len = len;
    fillEcho(b, o, V, from, dst, id, seq, data, hlim, len);
  }
  icmp6_cksum_set(m, IP6_HDR_LEN, len - IP6_HDR_LEN);
  const mc = IN6_IS_ADDR_MULTICAST(dst);
  return ip6_output(V, m, 0, null, { ifp, scope_id, moptions: mc ? { ifp, hops: hlim ?? V.inet6.defmcasthlim, loop: true } : null });
}

function fillEcho(
  b: Uint8Array,
  o: number,
  V: Vnet,
  src: Uint8Array,
  dst: Uint8Array,
  id: number,
  seq: number,
  data: Uint8Array,
  hlim: number | undefined,
  len: number,
): void {
  b.fill(0, o, o + IP6_HDR_LEN + 8);
  b[o] = 0x60;
  set16(b, o + IP6_OFF_PLEN, len - IP6_HDR_LEN);
  b[o + IP6_OFF_NXT] = IPPROTO_ICMPV6;
  b[o + IP6_OFF_HLIM] = hlim ?? (IN6_IS_ADDR_MULTICAST(dst) ? V.inet6.defmcasthlim : V.inet6.hlim);
  b.set(src.subarray(0, 16), o + IP6_OFF_SRC);
  b.set(dst.subarray(0, 16), o + IP6_OFF_DST);
  const p = o + IP6_HDR_LEN;
  b[p] = ICMP6_ECHO_REQUEST;
  set16(b, p + 4, id & 0xffff);
  set16(b, p + 6, seq & 0xffff);
  b.set(data, p + 8);
}

function inpOf(so: Socket): Inpcb {
  return so.so_pcb as Inpcb;
}

export const rip6_usrreqs: PrUsrreqs = {
  pru_attach(so, proto) {
    const V = so.so_vnet;
    if (proto < 0 || proto > 255) return EPROTONOSUPPORT;
    if (!sbreserve(V, so.so_snd, RIP6_SENDSPACE) || !sbreserve(V, so.so_rcv, RIP6_RECVSPACE)) return ENOBUFS;
    const inp = V.rawip6.info.alloc(so, true);
    inp.inp_ip_p = proto;
    so.so_pcb = inp;
    return 0;
  },
  pru_detach(so) {
    const inp = inpOf(so);
    inp.inp_pcbinfo.free(inp);
    so.so_pcb = null;
  },
  pru_bind(so, nam) {
    const V = so.so_vnet;
    if (nam.family !== AF_INET6) return EAFNOSUPPORT;
    const a = (nam as SockaddrIn6).addr;
    if (!IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_MULTICAST(a) && !V.inet6.isLocal(a)) return EADDRNOTAVAIL;
    inpOf(so).in6p_laddr = Uint8Array.from(a);
    return 0;
  },
  pru_connect(so, nam) {
    if (nam.family !== AF_INET6) return EAFNOSUPPORT;
    const inp = inpOf(so);
    inp.in6p_faddr = Uint8Array.from((nam as SockaddrIn6).addr);
    inp.in6p_scope = (nam as SockaddrIn6).scope_id;
    soisconnected(so);
    return 0;
  },
  pru_disconnect(so) {
    if (!(so.so_state & SS_ISCONNECTED)) return ENOTCONN;
    inpOf(so).in6p_faddr = in6addr_any;
    soisdisconnected(so);
    return 0;
  },
  pru_shutdown(so) {
    socantsendmore(so);
    return 0;
  },
  pru_send(so, _flags, m, nam) {
    const inp = inpOf(so);
    if (m === null) return EINVAL;
    let dst: SockaddrIn6;
    if (so.so_state & SS_ISCONNECTED) {
      if (nam !== null) {
        m_freem(m);
        return EISCONN;
      }
      dst = sockaddr_in6(inp.in6p_faddr, 0, inp.in6p_scope);
    } else {
      if (nam === null) {
        m_freem(m);
        return EDESTADDRREQ;
      }
      if (nam.family !== AF_INET6) {
        m_freem(m);
        return EAFNOSUPPORT;
      }
      dst = nam as SockaddrIn6;
    }
    return so.so_vnet.rawip6.output(inp, m, dst);
  },
  pru_abort(so) {
    soisdisconnected(so);
    rip6_usrreqs.pru_close(so);
  },
  pru_close(so) {
    if (so.so_pcb !== null) rip6_usrreqs.pru_detach(so);
    sofree(so);
  },
  pru_sockaddr(so): Sockaddr | null {
    return sockaddr_in6(inpOf(so).in6p_laddr, 0);
  },
  pru_peeraddr(so): Sockaddr | null {
    const inp = inpOf(so);
    return sockaddr_in6(inp.in6p_faddr, 0, inp.in6p_scope);
  },
};

function rip6_ctloutput(so: Socket, op: 'get' | 'set', sopt: Sockopt): SockoptResult {
  if (so.so_pcb === null) return { error: EINVAL };
  return ip_ctloutput(so, inpOf(so), op, sopt) ?? { error: 0 };
}

/** Raw IPv6 sockets (SOCK_RAW, any protocol). */
export const rip6_protosw: Protosw = {
  pr_type: SOCK_RAW,
  pr_domain: AF_INET6,
  pr_protocol: 0,
  pr_flags: PR_ATOMIC | PR_ADDR,
  pr_name: 'rip6',
  pr_ctloutput: rip6_ctloutput,
  pr_usrreqs: rip6_usrreqs,
};
