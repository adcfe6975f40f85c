/*
 * PCB lists as sysctl records (BSD struct xinpcb / xsocket / xsockbuf, netinet/in_pcb.h):
 * the plain JSON-able shape that net.inet.udp.pcblist, net.inet.raw.pcblist and
 * net.inet.tcp.pcblist return, and that `bsdnet netstat` reads (locally or over the
 * control channel). One record per PCB, unconnected and listening ones included:
 *
 *   family      AF_INET (2) or AF_INET6 (28): the socket's address family
 *   vflag       INP_IPV4 (1) | INP_IPV6 (2): both set = dual-stack wildcard ("udp46")
 *   proto       IP protocol (17 UDP, 6 TCP, the raw socket's protocol, 0 = any)
 *   laddr lport faddr fport   addresses as text ("0.0.0.0", "::", "fe80::1%2"), ports
 *   rcvq sndq   bytes queued in the receive and send buffers (netstat Recv-Q / Send-Q)
 *   rcv_hiwat rcv_lowat rcv_mbcnt rcv_mbmax rcv_records   the receive buffer (netstat -x)
 *   snd_hiwat snd_lowat snd_mbcnt snd_mbmax               the send buffer
 *   so_options so_state so_id  socket options, state bits and socket id (-1: no socket)
 *   listening   SO_ACCEPTCONN is set
 *   gencnt      the PCB generation number
 * TCP adds `state` (FreeBSD tcpstates[] name: "LISTEN", "ESTABLISHED", "TIME_WAIT"...)
 * through the `extra` callback of xinpcbList().
 */

import type { SysctlJson } from '../kern/kern_sysctl.js';
import { SO_ACCEPTCONN } from '../sys/socket.js';
import { AF_INET, formatAddress } from './in.js';
import { type Inpcb, INP_IPV4, INP_IPV6, type PcbInfo } from './in_pcb.js';

export type XInpcb = { [k: string]: SysctlJson };

/** One PCB as a record (see the file comment for the fields). */
export function xinpcb(inp: Inpcb, proto: number): XInpcb {
  const so = inp.inp_socket;
  const l = inp.localSockaddr();
  const f = inp.foreignSockaddr();
  // A dual-stack wildcard socket reports both families in vflag.
  const vflag = inp.inp_vflag & (INP_IPV4 | INP_IPV6);
  return {
    family: l.family === AF_INET ? AF_INET : 28,
    vflag,
    proto: inp.inp_ip_p !== 0 ? inp.inp_ip_p : proto,
    laddr: formatAddress(l),
    lport: inp.inp_lport,
    faddr: formatAddress(f),
    fport: inp.inp_fport,
    rcvq: so ? so.so_rcv.sb_ccc : 0,
    sndq: so ? so.so_snd.sb_ccc : 0,
    rcv_hiwat: so ? so.so_rcv.sb_hiwat : 0,
    rcv_lowat: so ? so.so_rcv.sb_lowat : 0,
    rcv_mbcnt: so ? so.so_rcv.sb_mbcnt : 0,
    rcv_mbmax: so ? so.so_rcv.sb_mbmax : 0,
    rcv_records: so ? so.so_rcv.sb_records : 0,
    snd_hiwat: so ? so.so_snd.sb_hiwat : 0,
    snd_lowat: so ? so.so_snd.sb_lowat : 0,
    snd_mbcnt: so ? so.so_snd.sb_mbcnt : 0,
    snd_mbmax: so ? so.so_snd.sb_mbmax : 0,
    so_options: so ? so.so_options : 0,
    so_state: so ? so.so_state : 0,
    so_id: so ? so.so_id : -1,
    listening: so !== null && (so.so_options & SO_ACCEPTCONN) !== 0,
    gencnt: inp.inp_gencnt,
  };
}

/** Every PCB of `info` as records, in creation order; `extra` adds protocol fields. */
export function xinpcbList(info: PcbInfo, proto: number, extra?: (inp: Inpcb, rec: XInpcb) => void): XInpcb[] {
  const out: XInpcb[] = [];
  for (const inp of info.list) {
    const rec = xinpcb(inp, proto);
    extra?.(inp, rec);
    out.push(rec);
  }
  return out;
}
