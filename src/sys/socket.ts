/*
 * Sockets and socket buffers (BSD kern/uipc_socket.c, uipc_sockbuf.c, sys/socketvar.h).
 *
 * A Socket is the protocol-independent endpoint: options, state, error, a send and a
 * receive buffer, the listen queues, and a pointer to the protocol's control block. The
 * socket calls here (socreate, sobind, solisten, soconnect, soaccept, sosend, soreceive,
 * soshutdown, soclose, sosetopt, sogetopt) are the kernel side of the system calls; they
 * never block: where BSD would sleep they return EWOULDBLOCK (or EINPROGRESS), and the
 * caller waits for an upcall.
 *
 * Upcalls: protocols report progress with sorwakeup/sowwakeup/soisconnected/... The socket
 * records the events and, if someone listens (so_upcall), queues itself as soft work; the
 * listener (the Node-style API object, the packetdrill runner) is called later, never on
 * the protocol's stack. That is what keeps user code from re-entering tcp_input.
 *
 * Stream data sits in the buffer as an mbuf chain (sb_mb..sb_mbtail); datagrams are
 * records linked by m_nextpkt, each carrying its source address in a packet tag.
 */

import type { SoftTask } from '../kern/clock.js';
import { MCLBYTES, MSIZE, type Mbuf, type MTag, M_EOR, M_EXT, M_PKTHDR, m_copydata, m_freem, m_free } from '../mbuf/mbuf.js';
import type { Sockaddr } from '../netinet/in.js';
import type { Vnet } from '../vnet.js';
import {
  EAFNOSUPPORT,
  EALREADY,
  EINVAL,
  EISCONN,
  EMSGSIZE,
  ENOBUFS,
  ENOPROTOOPT,
  ENOTCONN,
  EOPNOTSUPP,
  EPIPE,
  EPROTONOSUPPORT,
  EPROTOTYPE,
  EWOULDBLOCK,
  EDESTADDRREQ,
} from './errno.js';
import { PR_ATOMIC, PR_CONNREQUIRED, PR_WANTRCVD, PRUS_EOF, type Protosw, type Sockopt, type SockoptResult, SOCK_STREAM } from './protosw.js';
import { field } from '../kern/kern_sysctl.js';

export const SOL_SOCKET = 0xffff;

// so_options (sys/socket.h)
export const SO_DEBUG = 0x0001;
export const SO_ACCEPTCONN = 0x0002;
export const SO_REUSEADDR = 0x0004;
export const SO_KEEPALIVE = 0x0008;
export const SO_DONTROUTE = 0x0010;
export const SO_BROADCAST = 0x0020;
export const SO_USELOOPBACK = 0x0040;
export const SO_LINGER = 0x0080;
export const SO_OOBINLINE = 0x0100;
export const SO_REUSEPORT = 0x0200;
export const SO_TIMESTAMP = 0x0400;
export const SO_NOSIGPIPE = 0x0800;
export const SO_REUSEPORT_LB = 0x00010000;
// other SOL_SOCKET option names
export const SO_SNDBUF = 0x1001;
export const SO_RCVBUF = 0x1002;
export const SO_SNDLOWAT = 0x1003;
export const SO_RCVLOWAT = 0x1004;
export const SO_SNDTIMEO = 0x1005;
export const SO_RCVTIMEO = 0x1006;
export const SO_ERROR = 0x1007;
export const SO_TYPE = 0x1008;
export const SO_LISTENQLIMIT = 0x1011;
export const SO_LISTENQLEN = 0x1012;
export const SO_LISTENINCQLEN = 0x1013;
export const SO_PROTOCOL = 0x1016;
export const SO_DOMAIN = 0x1019;

// so_state
export const SS_NOFDREF = 0x0001; // no file table ref any more
export const SS_ISCONNECTED = 0x0002;
export const SS_ISCONNECTING = 0x0004;
export const SS_ISDISCONNECTING = 0x0008;
export const SS_NBIO = 0x0100;
export const SS_ASYNC = 0x0200;
export const SS_ISCONFIRMING = 0x0400;
export const SS_ISDISCONNECTED = 0x2000;

// sb_state
export const SBS_CANTSENDMORE = 0x0010;
export const SBS_CANTRCVMORE = 0x0020;
export const SBS_RCVATMARK = 0x0040;

// sb_flags
export const SB_AUTOSIZE = 0x800;
export const SB_NOCOALESCE = 0x200;

// msg flags
export const MSG_OOB = 0x00000001;
export const MSG_PEEK = 0x00000002;
export const MSG_DONTROUTE = 0x00000004;
export const MSG_EOR = 0x00000008;
export const MSG_TRUNC = 0x00000010;
export const MSG_CTRUNC = 0x00000020;
export const MSG_WAITALL = 0x00000040;
export const MSG_DONTWAIT = 0x00000080;
export const MSG_EOF = 0x00000100;
export const MSG_NOSIGNAL = 0x00020000;

// shutdown(2)
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

// Upcall events
export const SO_EV_RCV = 0x1; // data or EOF readable
export const SO_EV_SND = 0x2; // send space available
export const SO_EV_CONN = 0x4; // connected / connect failed / disconnected
export const SO_EV_ACCEPT = 0x8; // a connection is ready to accept
export const SO_EV_ERROR = 0x10; // so_error set

/** Packet tag holding a datagram's source address in a receive buffer record. */
export const PACKET_TAG_SOCKADDR = 0x5a01;

export interface SocketUpcall {
  soupcall(so: Socket, events: number): void;
}

/** Per-Vnet socket layer state and limits (kern.ipc.*). */
export class SocketVars {
  /** kern.ipc.maxsockbuf */
  maxsockbuf = 2 * 1024 * 1024;
  /** kern.ipc.somaxconn (kern.ipc.soacceptqueue) */
  somaxconn = 128;
  /** kern.ipc.sockbuf_waste_factor */
  sb_efficiency = 8;
  /** Sockets in existence and the limit (kern.ipc.maxsockets / numopensockets). */
  numopensockets = 0;
  maxsockets = 1 << 20;
  /** Listen queue overflows (sonewconn refused). */
  listen_overflows = 0;
  private sockidGen = 0;
  nextId(): number {
    return ++this.sockidGen;
  }

  constructor(V: Vnet) {
    const s = V.sysctl;
    s.int('kern.ipc.maxsockbuf', field(this, 'maxsockbuf'), { descr: 'Maximum socket buffer size', min: 2048 * 4, max: 2 ** 64 - 1 });
    const somax = {
      get: () => this.somaxconn,
      set: (v: number) => {
        this.somaxconn = v;
      },
    };
    s.int('kern.ipc.soacceptqueue', somax, { descr: 'Maximum listen socket pending connection accept queue size', min: 1, max: 65535 });
    s.int('kern.ipc.somaxconn', somax, { descr: 'Maximum listen socket pending connection accept queue size (compat)', min: 1, max: 65535 });
    s.int('kern.ipc.sockbuf_waste_factor', field(this, 'sb_efficiency'), { descr: 'Socket buffer size waste factor', min: 1, max: 64 });
    s.int('kern.ipc.numopensockets', { get: () => this.numopensockets }, { descr: 'Number of open sockets', readonly: true });
    s.int('kern.ipc.maxsockets', field(this, 'maxsockets'), { descr: 'Maximum number of sockets available', min: 1 });
    s.int('kern.ipc.listen_overflows', { get: () => this.listen_overflows }, { descr: 'Listen queue overflows', readonly: true, counter: true });
  }
}

/** The empty completed-connection queue every non-listening socket shares (frozen: never pushed to). */
const NO_SOCKETS: Socket[] = Object.freeze([]) as unknown as Socket[];

export class Sockbuf {
  sb_mb: Mbuf | null = null;
  sb_mbtail: Mbuf | null = null;
  /** First mbuf of the last record (datagram buffers). */
  sb_lastrecord: Mbuf | null = null;
  /** Bytes of data in the buffer. */
  sb_ccc = 0;
  /** Records (datagrams) in the buffer. */
  sb_records = 0;
  sb_hiwat = 0;
  sb_lowat = 0;
  /** Storage charged (mbufs + clusters) and its limit. */
  sb_mbcnt = 0;
  sb_mbmax = 0;
  sb_flags = 0;
  sb_state = 0;
  /** Bytes dropped because the buffer was full (datagrams). */
  sb_drops = 0;
  /** Send-pointer cache (sb_sndptr): an mbuf of the chain and its offset from the start. */
  sb_sndptr: Mbuf | null = null;
  sb_sndptroff = 0;
  /** @internal reused result of sbsndptr(), made on first use (send buffers only). */
  sb_sndptrres: { m: Mbuf; moff: number } | null = null;

  get sb_cc(): number {
    return this.sb_ccc;
  }
}

/** Bytes of space left (sbspace); may be negative after a shrink, so clamp where used. */
export function sbspace(sb: Sockbuf): number {
  return Math.min(sb.sb_hiwat - sb.sb_ccc, sb.sb_mbmax - sb.sb_mbcnt);
}

function mstorage(m: Mbuf): number {
  return MSIZE + (m.m_flags & M_EXT ? m.m_buf.length : 0);
}

function sballoc(sb: Sockbuf, m: Mbuf): void {
  sb.sb_ccc += m.m_len;
  sb.sb_mbcnt += mstorage(m);
}

function sbfree(sb: Sockbuf, m: Mbuf): void {
  sb.sb_ccc -= m.m_len;
  sb.sb_mbcnt -= mstorage(m);
}

/**
 * Set a buffer's size (sbreserve): refused above kern.ipc.maxsockbuf (scaled for mbuf
 * overhead as BSD's sb_max_adj). Returns false when too large.
 */
export function sbreserve(V: Vnet, sb: Sockbuf, cc: number): boolean {
  const sv = V.socket;
  const sbMaxAdj = Math.floor((sv.maxsockbuf * MCLBYTES) / (MSIZE + MCLBYTES));
  if (cc > sbMaxAdj || cc < 0) return false;
  sb.sb_hiwat = cc;
  sb.sb_mbmax = Math.min(cc * sv.sb_efficiency, sv.maxsockbuf);
  if (sb.sb_lowat > sb.sb_hiwat) sb.sb_lowat = sb.sb_hiwat;
  return true;
}

/**
 * Append stream data (sbappendstream): the chain's mbufs join the buffer. Small mbufs are
 * copied into the trailing space of the last one (sbcompress) to keep chains short.
 */
export function sbappendstream(V: Vnet, sb: Sockbuf, m: Mbuf | null): void {
  while (m !== null) {
    const next: Mbuf | null = m.m_next;
    m.m_next = null;
    if (m.m_len === 0) {
      m_free(m);
      m = next;
      continue;
    }
    const tail = sb.sb_mbtail;
    if (
      tail !== null &&
      !(sb.sb_flags & SB_NOCOALESCE) &&
      m.m_len <= MCLBYTES / 4 &&
      (tail.m_ext === null || tail.m_ext.refcnt === 1) &&
      tail.m_buf.length - (tail.m_data + tail.m_len) >= m.m_len
    ) {
      tail.m_buf.set(m.m_buf.subarray(m.m_data, m.m_data + m.m_len), tail.m_data + tail.m_len);
      tail.m_len += m.m_len;
      sb.sb_ccc += m.m_len;
      m_free(m);
    } else {
      m.m_flags &= ~(M_PKTHDR | M_EOR);
      m.m_nextpkt = null;
      if (tail) tail.m_next = m;
      else sb.sb_mb = m;
      sb.sb_mbtail = m;
      sballoc(sb, m);
    }
    m = next;
  }
  void V;
}

/**
 * Append a datagram record with its source address (sbappendaddr). Returns false (and the
 * caller frees m and counts the drop) if there is not enough space.
 */
export function sbappendaddr(sb: Sockbuf, from: Sockaddr, m: Mbuf): boolean {
  let len = 0;
  for (let x: Mbuf | null = m; x !== null; x = x.m_next) len += x.m_len;
  if (len > sbspace(sb)) return false;
  const tag: MTag = { type: PACKET_TAG_SOCKADDR, next: m.tags, data: from };
  m.tags = tag;
  m.m_nextpkt = null;
  if (sb.sb_lastrecord) sb.sb_lastrecord.m_nextpkt = m;
  else sb.sb_mb = m;
  sb.sb_lastrecord = m;
  for (let x: Mbuf | null = m; x !== null; x = x.m_next) {
    sballoc(sb, x);
    sb.sb_mbtail = x;
  }
  sb.sb_records++;
  return true;
}

/**
 * Find the mbuf holding byte `off` of a stream buffer and the offset within it
 * (sbsndptr_noadv), using and updating the send-pointer cache so that successive
 * tcp_output calls walk only forward. Null if `off` is beyond the data.
 */
export function sbsndptr(sb: Sockbuf, off: number): { m: Mbuf; moff: number } | null {
  let m: Mbuf | null;
  let base: number;
  if (sb.sb_sndptr !== null && off >= sb.sb_sndptroff) {
    m = sb.sb_sndptr;
    base = sb.sb_sndptroff;
  } else {
    m = sb.sb_mb;
    base = 0;
  }
  while (m !== null && off - base >= m.m_len && m.m_next !== null) {
    base += m.m_len;
    m = m.m_next;
  }
  if (m === null || off - base > m.m_len) return null;
  sb.sb_sndptr = m;
  sb.sb_sndptroff = base;
  let r = sb.sb_sndptrres;
  if (r === null) r = sb.sb_sndptrres = { m, moff: 0 };
  r.m = m;
  r.moff = off - base;
  return r;
}

/** Drop `len` bytes from the front of a stream buffer (sbdrop). */
export function sbdrop(sb: Sockbuf, len: number): void {
  // Invalidate or shift the send-pointer cache.
  if (sb.sb_sndptr !== null) {
    if (sb.sb_sndptroff >= len) sb.sb_sndptroff -= len;
    else sb.sb_sndptr = null;
  }
  let m = sb.sb_mb;
  while (len > 0 && m !== null) {
    if (m.m_len > len) {
      m.m_len -= len;
      m.m_data += len;
      sb.sb_ccc -= len;
      len = 0;
      break;
    }
    len -= m.m_len;
    sbfree(sb, m);
    m = m_free(m);
  }
  // Free emptied mbufs at the front.
  while (m !== null && m.m_len === 0 && m !== sb.sb_mbtail) {
    sbfree(sb, m);
    m = m_free(m);
  }
  sb.sb_mb = m;
  if (m === null) {
    sb.sb_mbtail = null;
    sb.sb_lastrecord = null;
  }
}

/** Remove the first record of a datagram buffer and return it (caller frees). */
export function sbdroprecord(sb: Sockbuf): Mbuf | null {
  const rec = sb.sb_mb;
  if (rec === null) return null;
  sb.sb_mb = rec.m_nextpkt;
  rec.m_nextpkt = null;
  for (let x: Mbuf | null = rec; x !== null; x = x.m_next) sbfree(sb, x);
  if (sb.sb_mb === null) {
    sb.sb_mbtail = null;
    sb.sb_lastrecord = null;
  }
  sb.sb_records--;
  return rec;
}

/** Free everything in a buffer (sbflush). */
export function sbflush(sb: Sockbuf): void {
  let rec = sb.sb_mb;
  while (rec !== null) {
    const next: Mbuf | null = rec.m_nextpkt;
    rec.m_nextpkt = null;
    m_freem(rec);
    rec = next;
  }
  sb.sb_mb = sb.sb_mbtail = sb.sb_lastrecord = null;
  sb.sb_ccc = 0;
  sb.sb_mbcnt = 0;
  sb.sb_records = 0;
  sb.sb_sndptr = null;
  sb.sb_sndptroff = 0;
}

/** The source address attached to a datagram record. */
export function recordAddr(rec: Mbuf): Sockaddr | null {
  for (let t = rec.tags; t !== null; t = t.next) if (t.type === PACKET_TAG_SOCKADDR) return t.data as Sockaddr;
  return null;
}

export class Socket implements SoftTask {
  readonly so_vnet: Vnet;
  readonly so_id: number;
  so_type: number;
  so_proto: Protosw;
  so_pcb: unknown = null;
  so_options = 0;
  /** SO_LINGER time in seconds. */
  so_linger = 0;
  so_state = 0;
  so_error = 0;
  readonly so_rcv = new Sockbuf();
  readonly so_snd = new Sockbuf();
  // Listening sockets
  /** Completed connections waiting for accept (sol_comp); a shared frozen empty array until a listener queues one. */
  sol_comp: Socket[] = NO_SOCKETS;
  /** Incomplete connections counted against the backlog (sol_incqlen). */
  sol_incqlen = 0;
  sol_qlimit = 0;
  /** For a queued connection: its listening socket (so_listen). */
  so_listen: Socket | null = null;
  // Upcalls
  so_upcall: SocketUpcall | null = null;
  private so_evpending = 0;
  queued = false;
  /** User cookie for the owner (API object, fd table). */
  so_user: unknown = null;
  /** Set once freed. */
  so_freed = false;

  constructor(V: Vnet, type: number, proto: Protosw) {
    this.so_vnet = V;
    this.so_id = V.socket.nextId();
    this.so_type = type;
    this.so_proto = proto;
  }

  get sol_qlen(): number {
    return this.sol_comp.length;
  }

  /** Record events and schedule the upcall (deferred). */
  wakeup(ev: number): void {
    if (this.so_upcall === null) return;
    this.so_evpending |= ev;
    this.so_vnet.clock.defer(this);
  }

  runSoft(): void {
    const ev = this.so_evpending;
    this.so_evpending = 0;
    if (ev !== 0 && this.so_upcall !== null) this.so_upcall.soupcall(this, ev);
  }
}

export function sorwakeup(so: Socket): void {
  so.wakeup(SO_EV_RCV);
}

export function sowwakeup(so: Socket): void {
  so.wakeup(SO_EV_SND);
}

export function soisconnecting(so: Socket): void {
  so.so_state &= ~(SS_ISCONNECTED | SS_ISDISCONNECTING);
  so.so_state |= SS_ISCONNECTING;
}

/**
 * The connection is established (soisconnected). A connection still on its listener's
 * incomplete count moves to the completed queue and wakes the listener.
 */
export function soisconnected(so: Socket): void {
  so.so_state &= ~(SS_ISCONNECTING | SS_ISDISCONNECTING | SS_ISCONFIRMING);
  so.so_state |= SS_ISCONNECTED;
  const head = so.so_listen;
  if (head !== null && !head.sol_comp.includes(so)) {
    if (head.sol_incqlen > 0) head.sol_incqlen--;
    if (head.sol_comp === NO_SOCKETS) head.sol_comp = [];
    head.sol_comp.push(so);
    head.wakeup(SO_EV_ACCEPT);
    return;
  }
  so.wakeup(SO_EV_CONN | SO_EV_SND | SO_EV_RCV);
}

export function soisdisconnecting(so: Socket): void {
  so.so_state &= ~SS_ISCONNECTING;
  so.so_state |= SS_ISDISCONNECTING;
  so.so_rcv.sb_state |= SBS_CANTRCVMORE;
  so.so_snd.sb_state |= SBS_CANTSENDMORE;
  so.wakeup(SO_EV_RCV | SO_EV_SND);
}

export function soisdisconnected(so: Socket): void {
  so.so_state &= ~(SS_ISCONNECTING | SS_ISCONNECTED | SS_ISDISCONNECTING);
  so.so_state |= SS_ISDISCONNECTED;
  so.so_rcv.sb_state |= SBS_CANTRCVMORE;
  so.so_snd.sb_state |= SBS_CANTSENDMORE;
  sbflush(so.so_snd);
  so.wakeup(SO_EV_CONN | SO_EV_RCV | SO_EV_SND);
}

/** No more data will arrive (FIN received): socantrcvmore. */
export function socantrcvmore(so: Socket): void {
  so.so_rcv.sb_state |= SBS_CANTRCVMORE;
  sorwakeup(so);
}

/** No more data may be sent (after shutdown/FIN): socantsendmore. */
export function socantsendmore(so: Socket): void {
  so.so_snd.sb_state |= SBS_CANTSENDMORE;
  sowwakeup(so);
}

/** Record an asynchronous error and wake everyone. */
export function soseterror(so: Socket, error: number): void {
  so.so_error = error;
  so.wakeup(SO_EV_ERROR | SO_EV_RCV | SO_EV_SND | SO_EV_CONN);
}

/** Create a socket (socreate). */
export function socreate(V: Vnet, domain: number, type: number, protocol: number): { error: number; so: Socket | null } {
  if (!V.protosw.hasDomain(domain)) return { error: EAFNOSUPPORT, so: null };
  const pr = V.protosw.find(domain, type, protocol);
  if (pr === undefined) return { error: protocol === 0 ? EPROTOTYPE : EPROTONOSUPPORT, so: null };
  if (V.socket.numopensockets >= V.socket.maxsockets) return { error: ENOBUFS, so: null };
  const so = new Socket(V, type, pr);
  V.socket.numopensockets++;
  const error = pr.pr_usrreqs.pru_attach(so, protocol);
  if (error !== 0) {
    V.socket.numopensockets--;
    so.so_freed = true;
    return { error, so: null };
  }
  return { error: 0, so };
}

export function sobind(so: Socket, nam: Sockaddr): number {
  return so.so_proto.pr_usrreqs.pru_bind(so, nam);
}

/** Start listening (solisten): backlog clamped to kern.ipc.somaxconn as FreeBSD does. */
export function solisten(so: Socket, backlog: number): number {
  const pru = so.so_proto.pr_usrreqs;
  if (pru.pru_listen === undefined) return EOPNOTSUPP;
  if (so.so_state & (SS_ISCONNECTED | SS_ISCONNECTING | SS_ISDISCONNECTING)) return EINVAL;
  const error = pru.pru_listen(so, backlog);
  if (error !== 0) return error;
  const max = so.so_vnet.socket.somaxconn;
  if (backlog < 0 || backlog > max) backlog = max;
  so.sol_qlimit = backlog;
  so.so_options |= SO_ACCEPTCONN;
  return 0;
}

/**
 * A listener takes a new connection (sonewconn): a new socket of the same protocol, counted
 * as incomplete until soisconnected() moves it to the completed queue. Null when the queue
 * is over its limit (FreeBSD: more than 3/2 of the backlog) or memory is short.
 */
export function sonewconn(head: Socket, connstatus: number): Socket | null {
  const V = head.so_vnet;
  const over = head.sol_comp.length + head.sol_incqlen > Math.floor((3 * head.sol_qlimit) / 2);
  if (over || V.socket.numopensockets >= V.socket.maxsockets) {
    V.socket.listen_overflows++;
    return null;
  }
  const so = new Socket(V, head.so_type, head.so_proto);
  V.socket.numopensockets++;
  so.so_options = head.so_options & ~SO_ACCEPTCONN;
  so.so_linger = head.so_linger;
  so.so_state = head.so_state | SS_NOFDREF;
  so.so_listen = head;
  so.so_rcv.sb_flags = head.so_rcv.sb_flags & SB_AUTOSIZE;
  so.so_snd.sb_flags = head.so_snd.sb_flags & SB_AUTOSIZE;
  if (!sbreserve(V, so.so_snd, head.so_snd.sb_hiwat) || !sbreserve(V, so.so_rcv, head.so_rcv.sb_hiwat)) {
    V.socket.numopensockets--;
    return null;
  }
  so.so_rcv.sb_lowat = head.so_rcv.sb_lowat;
  so.so_snd.sb_lowat = head.so_snd.sb_lowat;
  if (head.so_proto.pr_usrreqs.pru_attach(so, head.so_proto.pr_protocol) !== 0) {
    V.socket.numopensockets--;
    return null;
  }
  if (connstatus) {
    if (head.sol_comp === NO_SOCKETS) head.sol_comp = [];
    head.sol_comp.push(so);
    so.so_state |= connstatus;
    head.wakeup(SO_EV_ACCEPT);
  } else {
    head.sol_incqlen++;
  }
  return so;
}

/** Take the first completed connection off a listener (kern_accept). */
export function soaccept(head: Socket): { error: number; so: Socket | null; nam: Sockaddr | null } {
  if (!(head.so_options & SO_ACCEPTCONN)) return { error: EINVAL, so: null, nam: null };
  if (head.so_error) {
    const e = head.so_error;
    head.so_error = 0;
    return { error: e, so: null, nam: null };
  }
  const so = head.sol_comp.length > 0 ? head.sol_comp.shift() : undefined;
  if (so === undefined) return { error: EWOULDBLOCK, so: null, nam: null };
  so.so_listen = null;
  so.so_state &= ~SS_NOFDREF;
  const nam = so.so_proto.pr_usrreqs.pru_accept?.(so) ?? so.so_proto.pr_usrreqs.pru_peeraddr(so);
  return { error: 0, so, nam };
}

/** Remove a socket from its listener's queues (the connection died before accept). */
export function soabortqueued(so: Socket): void {
  const head = so.so_listen;
  if (head === null) return;
  const i = head.sol_comp.indexOf(so);
  if (i >= 0) head.sol_comp.splice(i, 1);
  else if (head.sol_incqlen > 0) head.sol_incqlen--;
  so.so_listen = null;
}

export function soconnect(so: Socket, nam: Sockaddr): number {
  if (so.so_options & SO_ACCEPTCONN) return EOPNOTSUPP;
  if (so.so_state & SS_ISCONNECTING) return EALREADY;
  // Datagram sockets may reconnect; stream sockets may connect once.
  if (so.so_state & SS_ISCONNECTED && (so.so_proto.pr_flags & PR_CONNREQUIRED || so.so_type === SOCK_STREAM)) return EISCONN;
  so.so_error = 0;
  return so.so_proto.pr_usrreqs.pru_connect(so, nam);
}

export function sodisconnect(so: Socket): number {
  if (!(so.so_state & SS_ISCONNECTED)) return ENOTCONN;
  if (so.so_state & SS_ISDISCONNECTING) return EALREADY;
  return so.so_proto.pr_usrreqs.pru_disconnect(so);
}

/**
 * Send data (sosend). Stream sockets take as much as fits and report how much (a partial
 * send); datagram sockets take the whole message or nothing (EMSGSIZE if larger than the
 * buffer, EWOULDBLOCK if it does not fit now). `data` is copied into mbufs here (the one
 * copy on the way out).
 */
export function sosend(so: Socket, nam: Sockaddr | null, data: Uint8Array | null, off: number, len: number, flags: number): { error: number; sent: number } {
  const V = so.so_vnet;
  const pr = so.so_proto;
  const atomic = (pr.pr_flags & PR_ATOMIC) !== 0;
  if (so.so_snd.sb_state & SBS_CANTSENDMORE) return { error: EPIPE, sent: 0 };
  if (so.so_error) {
    const e = so.so_error;
    so.so_error = 0;
    return { error: e, sent: 0 };
  }
  if (!(so.so_state & SS_ISCONNECTED)) {
    if (pr.pr_flags & PR_CONNREQUIRED) {
      if (!(so.so_state & SS_ISCONFIRMING) && !(len === 0 && flags & MSG_EOF)) return { error: ENOTCONN, sent: 0 };
    } else if (nam === null) {
      return { error: EDESTADDRREQ, sent: 0 };
    }
  }
  if (atomic && len > so.so_snd.sb_hiwat) return { error: EMSGSIZE, sent: 0 };
  let space = sbspace(so.so_snd);
  if (atomic) {
    // Datagram protocols do not keep data in the send buffer: hiwat bounds a message.
    space = so.so_snd.sb_hiwat;
  }
  if (space <= 0 && len > 0) return { error: EWOULDBLOCK, sent: 0 };
  const n = atomic ? len : Math.min(len, space);
  let m: Mbuf | null = null;
  if (n > 0 || atomic) {
    m = V.mbufs.getm(n, atomic ? 64 : 0);
    if (m === null) return { error: ENOBUFS, sent: 0 };
    let done = 0;
    for (let x: Mbuf | null = m; x !== null && done < n; x = x.m_next) {
      const k = Math.min(x.m_buf.length - x.m_data, n - done);
      if (data !== null) x.m_buf.set(data.subarray(off + done, off + done + k), x.m_data);
      else x.m_buf.fill(0, x.m_data, x.m_data + k);
      x.m_len = k;
      done += k;
    }
    m.len = n;
  }
  const eof = (flags & MSG_EOF) !== 0 && n === len;
  const error = pr.pr_usrreqs.pru_send(so, eof ? PRUS_EOF : 0, m, nam, null);
  return { error, sent: error === 0 ? n : 0 };
}

export interface ReceiveResult {
  error: number;
  /** Bytes copied into `buf`. */
  len: number;
  /** Source of a datagram (or null for streams). */
  from: Sockaddr | null;
  /** Datagram was longer than the buffer (MSG_TRUNC) — its tail is discarded. */
  truncated: boolean;
  /** Full datagram length. */
  dgramLen: number;
  /** End of stream (no more data will come). */
  eof: boolean;
}

/**
 * Receive (soreceive) into `buf`: stream sockets copy up to buf.length bytes; datagram
 * sockets deliver one record. EWOULDBLOCK when nothing is there yet; eof (len 0) once the
 * peer closed and the buffer is empty; so_error is reported (and cleared) first.
 */
export function soreceive(so: Socket, buf: Uint8Array, flags: number): ReceiveResult {
  const sb = so.so_rcv;
  const res: ReceiveResult = { error: 0, len: 0, from: null, truncated: false, dgramLen: 0, eof: false };
  if (sb.sb_ccc === 0 && sb.sb_records === 0) {
    if (so.so_error) {
      res.error = so.so_error;
      if (!(flags & MSG_PEEK)) so.so_error = 0;
      return res;
    }
    if (sb.sb_state & SBS_CANTRCVMORE) {
      res.eof = true;
      return res;
    }
    if (so.so_proto.pr_flags & PR_CONNREQUIRED && !(so.so_state & (SS_ISCONNECTED | SS_ISCONNECTING))) {
      res.error = ENOTCONN;
      return res;
    }
    res.error = EWOULDBLOCK;
    return res;
  }
  if (so.so_proto.pr_flags & PR_ATOMIC) {
    const rec = sb.sb_mb as Mbuf;
    let total = 0;
    for (let x: Mbuf | null = rec; x !== null; x = x.m_next) total += x.m_len;
    const n = Math.min(total, buf.length);
    m_copydata(rec, 0, n, buf, 0);
    res.len = n;
    res.dgramLen = total;
    res.truncated = total > buf.length;
    res.from = recordAddr(rec);
    if (!(flags & MSG_PEEK)) m_freem(sbdroprecord(sb));
  } else {
    const n = Math.min(sb.sb_ccc, buf.length);
    m_copydata(sb.sb_mb as Mbuf, 0, n, buf, 0);
    res.len = n;
    if (!(flags & MSG_PEEK)) sbdrop(sb, n);
  }
  if (!(flags & MSG_PEEK) && so.so_proto.pr_flags & PR_WANTRCVD && so.so_pcb !== null) so.so_proto.pr_usrreqs.pru_rcvd?.(so, flags);
  return res;
}

export function soshutdown(so: Socket, how: number): number {
  if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return EINVAL;
  if (!(so.so_state & (SS_ISCONNECTED | SS_ISCONNECTING | SS_ISDISCONNECTING)) && so.so_type === SOCK_STREAM) return ENOTCONN;
  if (how !== SHUT_WR) {
    so.so_rcv.sb_state |= SBS_CANTRCVMORE;
    sbflush(so.so_rcv);
    sorwakeup(so);
  }
  if (how !== SHUT_RD) return so.so_proto.pr_usrreqs.pru_shutdown(so);
  return 0;
}

/**
 * Close (soclose): the descriptor goes away. Pending unaccepted connections of a listener
 * are aborted; the protocol decides whether the connection lingers (TCP sends FIN and keeps
 * going in the background; SO_LINGER with 0 aborts).
 */
export function soclose(so: Socket): number {
  if (so.so_freed) return 0;
  so.so_upcall = null;
  if (so.so_options & SO_ACCEPTCONN) {
    for (const c of so.sol_comp) {
      c.so_listen = null;
      c.so_proto.pr_usrreqs.pru_abort(c);
    }
    so.sol_comp = NO_SOCKETS;
  }
  so.so_state |= SS_NOFDREF;
  so.so_proto.pr_usrreqs.pru_close(so);
  return 0;
}

/**
 * Release a socket whose protocol state is gone and which no descriptor references
 * (sofree). Called by protocols when they detach.
 */
export function sofree(so: Socket): void {
  if (so.so_freed) return;
  if (!(so.so_state & SS_NOFDREF) && so.so_listen === null) return;
  so.so_freed = true;
  soabortqueued(so);
  sbflush(so.so_snd);
  sbflush(so.so_rcv);
  so.so_upcall = null;
  so.so_vnet.socket.numopensockets--;
}

export function sosetopt(so: Socket, sopt: Sockopt): number {
  const V = so.so_vnet;
  if (sopt.level !== SOL_SOCKET) {
    if (so.so_proto.pr_ctloutput === undefined) return ENOPROTOOPT;
    return so.so_proto.pr_ctloutput(so, 'set', sopt).error;
  }
  const v = sopt.value;
  const iv = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : Number.NaN;
  switch (sopt.name) {
    case SO_DEBUG:
    case SO_KEEPALIVE:
    case SO_DONTROUTE:
    case SO_BROADCAST:
    case SO_REUSEADDR:
    case SO_REUSEPORT:
    case SO_REUSEPORT_LB:
    case SO_OOBINLINE:
    case SO_TIMESTAMP:
    case SO_NOSIGPIPE:
    case SO_USELOOPBACK:
      if (Number.isNaN(iv)) return EINVAL;
      if (iv) so.so_options |= sopt.name;
      else so.so_options &= ~sopt.name;
      break;
    case SO_LINGER: {
      if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return EINVAL;
      const onoff = Number(v.onoff ?? v.l_onoff ?? 0);
      const linger = Number(v.linger ?? v.l_linger ?? 0);
      so.so_linger = linger;
      if (onoff) so.so_options |= SO_LINGER;
      else so.so_options &= ~SO_LINGER;
      break;
    }
    case SO_SNDBUF:
    case SO_RCVBUF: {
      if (Number.isNaN(iv) || iv < 1) return EINVAL;
      const sb = sopt.name === SO_SNDBUF ? so.so_snd : so.so_rcv;
      if (!sbreserve(V, sb, iv)) return ENOBUFS;
      sb.sb_flags &= ~SB_AUTOSIZE;
      break;
    }
    case SO_SNDLOWAT:
    case SO_RCVLOWAT: {
      if (Number.isNaN(iv) || iv < 0) return EINVAL;
      const sb = sopt.name === SO_SNDLOWAT ? so.so_snd : so.so_rcv;
      sb.sb_lowat = Math.min(iv, sb.sb_hiwat);
      break;
    }
    case SO_SNDTIMEO:
    case SO_RCVTIMEO:
      // Timeouts belong to blocking calls, which the kernel side never makes.
      if (Number.isNaN(iv) || iv < 0) return EINVAL;
      break;
    default:
      return ENOPROTOOPT;
  }
  if (so.so_proto.pr_ctloutput) {
    // Let the protocol see socket-level changes it cares about (keepalive, buffer sizes).
    so.so_proto.pr_ctloutput(so, 'set', sopt);
  }
  return 0;
}

export function sogetopt(so: Socket, sopt: Sockopt): SockoptResult {
  if (sopt.level !== SOL_SOCKET) {
    if (so.so_proto.pr_ctloutput === undefined) return { error: ENOPROTOOPT };
    return so.so_proto.pr_ctloutput(so, 'get', sopt);
  }
  switch (sopt.name) {
    case SO_DEBUG:
    case SO_KEEPALIVE:
    case SO_DONTROUTE:
    case SO_BROADCAST:
    case SO_REUSEADDR:
    case SO_REUSEPORT:
    case SO_REUSEPORT_LB:
    case SO_OOBINLINE:
    case SO_TIMESTAMP:
    case SO_NOSIGPIPE:
    case SO_USELOOPBACK:
    case SO_ACCEPTCONN:
      return { error: 0, value: so.so_options & sopt.name ? sopt.name : 0 };
    case SO_LINGER:
      return { error: 0, value: { onoff: so.so_options & SO_LINGER ? 1 : 0, linger: so.so_linger } };
    case SO_SNDBUF:
      return { error: 0, value: so.so_snd.sb_hiwat };
    case SO_RCVBUF:
      return { error: 0, value: so.so_rcv.sb_hiwat };
    case SO_SNDLOWAT:
      return { error: 0, value: so.so_snd.sb_lowat };
    case SO_RCVLOWAT:
      return { error: 0, value: so.so_rcv.sb_lowat };
    case SO_ERROR: {
      const e = so.so_error;
      so.so_error = 0;
      return { error: 0, value: e };
    }
    case SO_TYPE:
      return { error: 0, value: so.so_type };
    case SO_PROTOCOL:
      return { error: 0, value: so.so_proto.pr_protocol };
    case SO_DOMAIN:
      return { error: 0, value: so.so_proto.pr_domain };
    case SO_LISTENQLIMIT:
      return { error: 0, value: so.sol_qlimit };
    case SO_LISTENQLEN:
      return { error: 0, value: so.sol_comp.length };
    case SO_LISTENINCQLEN:
      return { error: 0, value: so.sol_incqlen };
    default:
      return { error: ENOPROTOOPT };
  }
}
