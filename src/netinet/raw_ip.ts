/*
 * Raw IPv4 sockets (BSD netinet/raw_ip.c): SOCK_RAW endpoints that see whole datagrams of
 * a protocol (ICMP for ping, or any protocol number) and send datagrams of it.
 *
 * Input: rip_input() gives a copy of the datagram, IP header included (BSD semantics), to
 * every raw socket whose protocol, local and foreign addresses match, then frees it.
 * Output: the kernel builds the IP header (protocol = the socket's, TTL/TOS from options)
 * unless IP_HDRINCL is set, in which case the caller supplies it.
 */

import { type Mbuf, m_freem } from '../mbuf/mbuf.js';
import { PR_ADDR, PR_ATOMIC, type PrUsrreqs, type Protosw, type Sockopt, type SockoptResult, SOCK_RAW } from '../sys/protosw.js';
import {
  sbappendaddr,
  sbreserve,
  type Socket,
  soisconnected,
  soisdisconnected,
  socantsendmore,
  sofree,
  sorwakeup,
  SO_BROADCAST,
  SO_DONTROUTE,
  SS_ISCONNECTED,
} from '../sys/socket.js';
import { EADDRNOTAVAIL, EAFNOSUPPORT, EDESTADDRREQ, EINVAL, EISCONN, EMSGSIZE, ENOBUFS, ENOTCONN, EPROTONOSUPPORT } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { get16, get32 } from '../wire/bytes.js';
import { IP_HDR_LEN, IP_MAXPACKET, IP_OFF_DST, IP_OFF_LEN, IP_OFF_SRC, IPPROTO_RAW } from '../wire/ipv4.js';
import { AF_INET, INADDR_ANY, IN_MULTICAST, type Sockaddr, type SockaddrIn, sockaddr_in } from './in.js';
import { type Inpcb, PcbInfo, INP_HDRINCL } from './in_pcb.js';
import { xinpcbList } from './in_pcblist.js';
import { ip_ctloutput } from './ip_ctloutput.js';
import { build_ip_header } from './ip_icmp.js';
import { IP_ALLOWBROADCAST, IP_RAWOUTPUT, IP_ROUTETOIF, ip_output } from './ip_output.js';

export const RIP_SENDSPACE = 9216;
export const RIP_RECVSPACE = 9216;

export class RawIp {
  readonly info: PcbInfo;
  private readonly V: Vnet;
  /** Datagrams delivered to raw sockets, and copies refused because a buffer was full. */
  delivered = 0;
  fullsock = 0;

  constructor(V: Vnet) {
    this.V = V;
    this.info = new PcbInfo(V, 'raw');
    // Raw sockets of both families, as FreeBSD's shared ripcbinfo lists them (netstat -a).
    V.sysctl.struct('net.inet.raw.pcblist', () => [...xinpcbList(this.info, 0), ...(V.rawip6 ? xinpcbList(V.rawip6.info, 0) : [])], {
      descr: 'List of active raw IP sockets',
      type: 'xinpcb',
    });
  }

  /**
   * Offer a datagram (m starts at its IP header; `off` is the payload offset) to raw
   * sockets of protocol `proto`. Always consumes `m`.
   */
  input(m: Mbuf, off: number, proto: number): void {
    void off;
    if (this.info.count === 0) {
      m_freem(m);
      return;
    }
    const b = m.m_buf;
    const o = m.m_data;
    const src = get32(b, o + IP_OFF_SRC);
    const dst = get32(b, o + IP_OFF_DST);
    let last: Inpcb | null = null;
    for (const inp of this.info.list) {
      if (!(inp.inp_vflag & 1) || inp.inp_socket === null) continue;
      if (inp.inp_ip_p !== 0 && inp.inp_ip_p !== proto) continue;
      if (inp.inp_laddr !== INADDR_ANY && inp.inp_laddr !== dst) continue;
      if (inp.inp_faddr !== INADDR_ANY && inp.inp_faddr !== src) continue;
      if (last !== null) {
        const n = this.V.mbufs.copypacket(m);
        if (n !== null) this.deliver(last, n, src);
      }
      last = inp;
    }
    if (last !== null) this.deliver(last, m, src);
    else m_freem(m);
  }

  private deliver(inp: Inpcb, m: Mbuf, src: number): void {
    const so = inp.inp_socket as Socket;
    if (!sbappendaddr(so.so_rcv, sockaddr_in(src), m)) {
      this.fullsock++;
      m_freem(m);
      return;
    }
    this.delivered++;
    sorwakeup(so);
  }

  /** rip_output: send `m` (payload, or a whole datagram with IP_HDRINCL) to `dst`. */
  output(inp: Inpcb, m: Mbuf, dst: number): number {
    const V = this.V;
    const so = inp.inp_socket as Socket;
    let flags = 0;
    if (so.so_options & SO_DONTROUTE) flags |= IP_ROUTETOIF;
    if (so.so_options & SO_BROADCAST) flags |= IP_ALLOWBROADCAST;
    if (inp.inp_flags & INP_HDRINCL) {
      if (m.len < IP_HDR_LEN || m.len > IP_MAXPACKET) {
        m_freem(m);
        return EINVAL;
      }
      const p = V.mbufs.pullup(m, IP_HDR_LEN);
      if (p === null) return ENOBUFS;
      if (get16(p.m_buf, p.m_data + IP_OFF_LEN) !== p.len) {
        m_freem(p);
        return EINVAL;
      }
      V.inet.stat.ips_rawout++;
      return ip_output(V, p, flags | IP_RAWOUTPUT, null, { moptions: inp.inp_moptions });
    }
    if (m.len + IP_HDR_LEN > IP_MAXPACKET) {
      m_freem(m);
      return EMSGSIZE;
    }
    const h = V.mbufs.prepend(m, IP_HDR_LEN);
    if (h === null) return ENOBUFS;
    const ttl = IN_MULTICAST(dst) ? (inp.inp_moptions?.ttl ?? 1) : inp.inp_ip_ttl || V.inet.defttl;
    build_ip_header(h.m_buf, h.m_data, h.len, inp.inp_ip_p, inp.inp_laddr, dst, ttl, inp.inp_ip_tos);
    return ip_output(V, h, flags, null, { moptions: inp.inp_moptions });
  }
}

function inpOf(so: Socket): Inpcb {
  return so.so_pcb as Inpcb;
}

const rip_usrreqs: PrUsrreqs = {
  pru_attach(so, proto) {
    const V = so.so_vnet;
    if (proto < 0 || proto > 255) return EPROTONOSUPPORT;
    if (!sbreserve(V, so.so_snd, RIP_SENDSPACE) || !sbreserve(V, so.so_rcv, RIP_RECVSPACE)) return ENOBUFS;
    const inp = V.rawip.info.alloc(so, false);
    inp.inp_ip_p = proto;
    inp.inp_ip_ttl = V.inet.defttl;
    if (proto === IPPROTO_RAW) inp.inp_flags |= INP_HDRINCL;
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
    if (nam.family !== AF_INET) return EAFNOSUPPORT;
    const a = (nam as SockaddrIn).addr;
    if (a !== INADDR_ANY && !V.inet.isLocal(a)) return EADDRNOTAVAIL;
    inpOf(so).inp_laddr = a;
    return 0;
  },
  pru_connect(so, nam) {
    if (nam.family !== AF_INET) return EAFNOSUPPORT;
    inpOf(so).inp_faddr = (nam as SockaddrIn).addr;
    soisconnected(so);
    return 0;
  },
  pru_disconnect(so) {
    if (!(so.so_state & SS_ISCONNECTED)) return ENOTCONN;
    inpOf(so).inp_faddr = INADDR_ANY;
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
    let dst: number;
    if (so.so_state & SS_ISCONNECTED) {
      if (nam !== null) {
        m_freem(m);
        return EISCONN;
      }
      dst = inp.inp_faddr;
    } else {
      if (nam === null) {
        m_freem(m);
        return EDESTADDRREQ;
      }
      if (nam.family !== AF_INET) {
        m_freem(m);
        return EAFNOSUPPORT;
      }
      dst = (nam as SockaddrIn).addr;
    }
    return so.so_vnet.rawip.output(inp, m, dst);
  },
  pru_abort(so) {
    soisdisconnected(so);
    rip_usrreqs.pru_close(so);
  },
  pru_close(so) {
    if (so.so_pcb !== null) rip_usrreqs.pru_detach(so);
    sofree(so);
  },
  pru_sockaddr(so): Sockaddr | null {
    return sockaddr_in(inpOf(so).inp_laddr, 0);
  },
  pru_peeraddr(so): Sockaddr | null {
    return sockaddr_in(inpOf(so).inp_faddr, 0);
  },
};

function rip_ctloutput(so: Socket, op: 'get' | 'set', sopt: Sockopt): SockoptResult {
  if (so.so_pcb === null) return { error: EINVAL };
  return ip_ctloutput(so, inpOf(so), op, sopt) ?? { error: 0 };
}

export const rip_protosw: Protosw = {
  pr_type: SOCK_RAW,
  pr_domain: AF_INET,
  pr_protocol: 0,
  pr_flags: PR_ATOMIC | PR_ADDR,
  pr_name: 'rip',
  pr_ctloutput: rip_ctloutput,
  pr_usrreqs: rip_usrreqs,
};
