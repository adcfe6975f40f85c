/*
 * A node:dgram-compatible UDP socket over bsdnet: `stack.dgram.createSocket('udp4')`.
 *
 * Same methods, events and error codes as node:dgram's Socket: bind (implicit on first
 * send), connect/disconnect, send with callbacks, 'listening', 'connect', 'message' with
 * rinfo, 'error', 'close', address()/remoteAddress(), broadcast, TTL, multicast and buffer
 * size setters, ref/unref. Hostnames are not resolved (bsdnet has no resolver): addresses
 * are IP literals or 'localhost'.
 *
 * Events are emitted asynchronously, never from inside the stack: the kernel socket's
 * upcall (a deferred soft task) drains the receive buffer and emits 'message'.
 */

import { EventEmitter } from 'node:events';
import {
  AF_INET,
  AF_INET6,
  formatAddress,
  IN6_IS_ADDR_V4MAPPED,
  in6_v4mapped,
  in6_v4mapped_addr,
  parseAddress,
  type Sockaddr,
  sockaddr_in,
  sockaddr_in6,
} from '../netinet/in.js';
import {
  IP_ADD_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IP_TTL,
  IPV6_JOIN_GROUP,
  IPV6_LEAVE_GROUP,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  IPV6_UNICAST_HOPS,
  IPV6_V6ONLY,
} from '../netinet/ip_ctloutput.js';
import { EBADF, EINVAL } from '../sys/errno.js';
import { SOCK_DGRAM } from '../sys/protosw.js';
import {
  SO_BROADCAST,
  SO_EV_ERROR,
  SO_EV_RCV,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SOL_SOCKET,
  type Socket as KSocket,
  sobind,
  soclose,
  soconnect,
  socreate,
  sodisconnect,
  sogetopt,
  soreceive,
  sosend,
  sosetopt,
} from '../sys/socket.js';
import { IPPROTO_IP, IPPROTO_IPV6, IPPROTO_UDP } from '../wire/ipv4.js';
import { argError, errnoException, stateError } from './errors.js';
import type { Stack } from './stack.js';

export type SocketType = 'udp4' | 'udp6';

export interface SocketOptions {
  type: SocketType;
  reuseAddr?: boolean;
  reusePort?: boolean;
  ipv6Only?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
}

export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

export interface AddressInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

type SendCallback = (error: Error | null, bytes: number) => void;
type MsgInput = Uint8Array | string | DataView | readonly (Uint8Array | string)[];

/** Largest datagram an IPv4 or IPv6 UDP socket will send (Node's default send buffer allows it). */
const MAX_UDP = 65535;

function toBuffer(msg: MsgInput, offset?: number, length?: number): Buffer {
  if (typeof msg === 'string') return Buffer.from(msg);
  if (Array.isArray(msg)) return Buffer.concat(msg.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
  if (msg instanceof DataView) return Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  if (msg instanceof Uint8Array) {
    const b = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
    if (offset !== undefined) return b.subarray(offset, length !== undefined ? offset + length : undefined);
    return b;
  }
  throw argError('ERR_INVALID_ARG_TYPE', 'The "buffer" argument must be of type string or an instance of Buffer, TypedArray, DataView or Array.');
}

function validPort(p: unknown, allowZero: boolean): number {
  const n = typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : p;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    throw argError('ERR_SOCKET_BAD_PORT', `Port should be ${allowZero ? '>= 0' : '> 0'} and < 65536. Received ${String(p)}.`);
  }
  return n;
}

/** Same address (ports and zones aside: only the text form of the address is cached). */
function sameAddr(a: Sockaddr, b: Sockaddr): boolean {
  if (a.family !== b.family) return false;
  if (a.family === AF_INET) return a.addr === b.addr;
  const x = a.addr;
  const y = b.addr as Uint8Array;
  if ((a as { scope_id: number }).scope_id !== (b as { scope_id: number }).scope_id) return false;
  for (let i = 0; i < 16; i++) if (x[i] !== y[i]) return false;
  return true;
}

export class UdpSocket extends EventEmitter {
  readonly type: SocketType;
  private readonly stack: Stack;
  private so: KSocket | null;
  private bound = false;
  private connectedTo: Sockaddr | null = null;
  private closed = false;
  private refd = true;
  private holding = false;
  private readonly scratch = Buffer.allocUnsafe(MAX_UDP);
  /** The last destination of send(), parsed. */
  private lastAddrText: string | undefined = undefined;
  private lastPort = -1;
  private lastSa: Sockaddr | null = null;
  /** The last sender seen by the receive upcall and its text form (rinfo.address). */
  private lastFrom: Sockaddr | null = null;
  private lastFromText = '';

  constructor(stack: Stack, opts: SocketOptions) {
    super();
    this.stack = stack;
    this.type = opts.type;
    const family = opts.type === 'udp6' ? AF_INET6 : AF_INET;
    const r = socreate(stack.vnet, family, SOCK_DGRAM, IPPROTO_UDP);
    if (r.error !== 0 || r.so === null) throw errnoException(r.error, 'socket');
    this.so = r.so;
    const so = r.so;
    // Node sockets can send datagrams up to the UDP maximum out of the box.
    sosetopt(so, { level: SOL_SOCKET, name: SO_SNDBUF, value: MAX_UDP + 1024 });
    if (opts.reuseAddr) {
      // libuv on the BSDs implements UV_UDP_REUSEADDR with SO_REUSEPORT (uv__set_reuse), so
      // that several node:dgram sockets with reuseAddr share a port as they do on Linux.
      sosetopt(so, { level: SOL_SOCKET, name: SO_REUSEADDR, value: 1 });
      sosetopt(so, { level: SOL_SOCKET, name: SO_REUSEPORT, value: 1 });
    }
    if (opts.reusePort) sosetopt(so, { level: SOL_SOCKET, name: SO_REUSEPORT, value: 1 });
    if (opts.ipv6Only && family === AF_INET6) sosetopt(so, { level: IPPROTO_IPV6, name: IPV6_V6ONLY, value: 1 });
    if (opts.recvBufferSize !== undefined) this.setBuf(SO_RCVBUF, opts.recvBufferSize);
    if (opts.sendBufferSize !== undefined) this.setBuf(SO_SNDBUF, opts.sendBufferSize);
    so.so_user = this;
    so.so_upcall = { soupcall: (_so, ev) => this.onUpcall(ev) };
  }

  private get family(): number {
    return this.type === 'udp6' ? AF_INET6 : AF_INET;
  }

  private hold(): void {
    if (!this.holding && this.refd) {
      this.holding = true;
      this.stack.ref();
    }
  }

  private release(): void {
    if (this.holding) {
      this.holding = false;
      this.stack.unref();
    }
  }

  private ksock(syscall: string): KSocket {
    if (this.so === null || this.closed) throw stateError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    void syscall;
    return this.so;
  }

  /** Turn an address string into a sockaddr of this socket's family. */
  private resolve(address: string | undefined, port: number, forBind: boolean): Sockaddr {
    let a = address;
    if (a === undefined || a === '') a = forBind ? (this.type === 'udp6' ? '::' : '0.0.0.0') : this.type === 'udp6' ? '::1' : '127.0.0.1';
    if (a === 'localhost') a = this.type === 'udp6' ? '::1' : '127.0.0.1';
    const sa = parseAddress(a, port);
    if (sa === null) throw Object.assign(errnoException(EINVAL, forBind ? 'bind' : 'send', a), { code: 'ENOTFOUND' });
    if (this.type === 'udp4' && sa.family !== AF_INET) throw errnoException(EINVAL, forBind ? 'bind' : 'send', a, port);
    if (this.type === 'udp6' && sa.family === AF_INET) return sockaddr_in6(in6_v4mapped(sa.addr), port);
    return sa;
  }

  bind(port?: number | { port?: number; address?: string; exclusive?: boolean } | (() => void), address?: string | (() => void), callback?: () => void): this {
    const so = this.ksock('bind');
    let p: unknown = port;
    let addr: string | undefined;
    let cb: (() => void) | undefined;
    if (typeof port === 'function') {
      cb = port;
      p = 0;
    } else if (port !== null && typeof port === 'object') {
      p = port.port ?? 0;
      addr = port.address;
      cb = typeof address === 'function' ? address : callback;
    } else {
      if (typeof address === 'function') cb = address;
      else {
        addr = address;
        cb = callback;
      }
    }
    if (this.bound) throw stateError('ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
    const portN = validPort(p ?? 0, true);
    if (cb) this.once('listening', cb);
    this.bound = true;
    let sa: Sockaddr;
    try {
      sa = this.resolve(addr, portN, true);
    } catch (e) {
      this.bound = false;
      process.nextTick(() => this.emit('error', e));
      return this;
    }
    const e = sobind(so, sa);
    if (e !== 0) {
      this.bound = false;
      const err = errnoException(e, 'bind', addr ?? formatAddress(sa), portN);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.hold();
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  private implicitBind(): number {
    if (this.bound) return 0;
    const so = this.ksock('bind');
    const e = sobind(so, this.resolve(undefined, 0, true));
    if (e === 0) {
      this.bound = true;
      this.hold();
      process.nextTick(() => this.emit('listening'));
    }
    return e;
  }

  connect(port: number, address?: string | (() => void), callback?: () => void): void {
    const so = this.ksock('connect');
    const portN = validPort(port, false);
    const cb = typeof address === 'function' ? address : callback;
    const addr = typeof address === 'function' ? undefined : address;
    if (this.connectedTo !== null) throw stateError('ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
    if (cb) this.once('connect', cb);
    const be = this.implicitBind();
    let err: Error | null = null;
    if (be !== 0) err = errnoException(be, 'bind');
    else {
      const sa = this.resolve(addr, portN, false);
      const e = soconnect(so, sa);
      if (e !== 0) err = errnoException(e, 'connect', addr ?? formatAddress(sa), portN);
      else this.connectedTo = sa;
    }
    process.nextTick(() => (err ? this.emit('error', err) : this.emit('connect')));
  }

  disconnect(): void {
    const so = this.ksock('disconnect');
    if (this.connectedTo === null) throw stateError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    const e = sodisconnect(so);
    if (e !== 0) throw errnoException(e, 'disconnect');
    this.connectedTo = null;
  }

  remoteAddress(): AddressInfo {
    this.ksock('getpeername');
    if (this.connectedTo === null) throw stateError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    return this.info(this.connectedTo);
  }

  address(): AddressInfo {
    const so = this.ksock('getsockname');
    if (!this.bound) throw errnoException(EBADF, 'getsockname');
    const sa = so.so_proto.pr_usrreqs.pru_sockaddr(so);
    if (sa === null) throw errnoException(EBADF, 'getsockname');
    return this.info(sa);
  }

  private info(sa: Sockaddr): AddressInfo {
    return { address: formatAddress(sa), family: sa.family === AF_INET ? 'IPv4' : 'IPv6', port: sa.port };
  }

  /**
   * send(msg[, offset, length][, port][, address][, callback]) — node:dgram's overloads.
   */
  send(msg: MsgInput, ...args: unknown[]): void {
    const so = this.ksock('send');
    let offset: number | undefined;
    let length: number | undefined;
    let port: unknown;
    let address: string | undefined;
    let cb: SendCallback | undefined;
    // Overload resolution by index (no per-call array copies).
    let n = args.length;
    if (typeof args[n - 1] === 'function') cb = args[--n] as SendCallback;
    let i = 0;
    if (
      typeof msg !== 'string' &&
      !Array.isArray(msg) &&
      n >= 2 &&
      typeof args[0] === 'number' &&
      typeof args[1] === 'number' &&
      (n >= 3 || this.connectedTo !== null)
    ) {
      offset = args[0] as number;
      length = args[1] as number;
      i = 2;
    }
    port = i < n ? args[i] : undefined;
    address = i + 1 < n ? (args[i + 1] as string | undefined) : undefined;
    if (this.connectedTo !== null) {
      if (port !== undefined && port !== null) throw stateError('ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
    } else if (port === undefined || port === null) {
      throw stateError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    }
    const buf = toBuffer(msg, offset, length);
    // As node:dgram: the port is validated (and throws) before the implicit bind.
    const portN = this.connectedTo === null ? validPort(port, false) : 0;
    const be = this.implicitBind();
    if (be !== 0) {
      this.sendDone(cb, errnoException(be, 'bind'), 0);
      return;
    }
    let sa: Sockaddr | null = null;
    if (this.connectedTo === null) {
      // The last destination is kept parsed: a socket usually sends to few peers, and
      // parsing the address text for every datagram is the costliest step of send().
      if (address === this.lastAddrText && portN === this.lastPort && this.lastSa !== null) sa = this.lastSa;
      else {
        try {
          sa = this.resolve(address, portN, false);
        } catch (e) {
          this.sendDone(cb, e as Error, 0);
          return;
        }
        this.lastAddrText = address;
        this.lastPort = portN;
        this.lastSa = sa;
      }
    }
    const r = sosend(so, sa, buf, 0, buf.length, 0);
    if (r.error !== 0) {
      const to = sa ?? this.connectedTo;
      this.sendDone(cb, errnoException(r.error, 'send', to ? formatAddress(to) : undefined, to?.port), 0);
      return;
    }
    if (cb) process.nextTick(cb, null, buf.length);
  }

  private sendDone(cb: SendCallback | undefined, err: Error, n: number): void {
    if (cb) process.nextTick(cb, err, n);
    else process.nextTick(() => this.emit('error', err));
  }

  close(callback?: () => void): this {
    if (this.so === null || this.closed) throw stateError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    if (callback) this.once('close', callback);
    this.closed = true;
    const so = this.so;
    so.so_upcall = null;
    soclose(so);
    this.so = null;
    this.release();
    process.nextTick(() => this.emit('close'));
    return this;
  }

  private onUpcall(ev: number): void {
    const so = this.so;
    if (so === null || this.closed) return;
    if (ev & SO_EV_RCV) {
      for (;;) {
        const r = soreceive(so, this.scratch, 0);
        if (r.error !== 0) {
          if (r.error !== 35 /* EWOULDBLOCK */) this.emit('error', errnoException(r.error, 'recvmsg'));
          break;
        }
        if (r.from === null) break;
        let from = r.from;
        if (this.type === 'udp4' && from.family === AF_INET6 && IN6_IS_ADDR_V4MAPPED(from.addr)) from = sockaddr_in(in6_v4mapped_addr(from.addr), from.port);
        const msg = Buffer.allocUnsafe(r.len);
        this.scratch.copy(msg, 0, 0, r.len);
        // rinfo.address is formatted once per distinct sender, not once per datagram.
        const last = this.lastFrom;
        if (last === null || !sameAddr(last, from)) {
          this.lastFrom = from;
          this.lastFromText = formatAddress(from);
        }
        const rinfo: RemoteInfo = { address: this.lastFromText, family: from.family === AF_INET ? 'IPv4' : 'IPv6', port: from.port, size: r.dgramLen };
        this.emit('message', msg, rinfo);
        if (this.so === null) return;
      }
    }
    if (ev & SO_EV_ERROR && so.so_error) {
      const e = so.so_error;
      so.so_error = 0;
      const to = this.connectedTo;
      this.emit('error', errnoException(e, 'recvmsg', to ? formatAddress(to) : undefined, to?.port));
    }
  }

  // --- options ---

  private setopt(level: number, name: number, value: number | boolean | object, syscall: string): void {
    const so = this.ksock(syscall);
    if (!this.bound) throw errnoException(EBADF, syscall);
    const e = sosetopt(so, { level, name, value: value as number });
    if (e !== 0) throw errnoException(e, syscall);
  }

  setBroadcast(flag: boolean): void {
    this.setopt(SOL_SOCKET, SO_BROADCAST, flag ? 1 : 0, 'setBroadcast');
  }

  setTTL(ttl: number): number {
    if (typeof ttl !== 'number') throw argError('ERR_INVALID_ARG_TYPE', 'The "ttl" argument must be of type number.');
    if (ttl < 1 || ttl > 255) throw errnoException(EINVAL, 'setTTL');
    this.setopt(this.family === AF_INET ? IPPROTO_IP : IPPROTO_IPV6, this.family === AF_INET ? IP_TTL : IPV6_UNICAST_HOPS, ttl, 'setTTL');
    return ttl;
  }

  setMulticastTTL(ttl: number): number {
    if (typeof ttl !== 'number') throw argError('ERR_INVALID_ARG_TYPE', 'The "ttl" argument must be of type number.');
    if (ttl < 0 || ttl > 255) throw errnoException(EINVAL, 'setMulticastTTL');
    this.setopt(this.family === AF_INET ? IPPROTO_IP : IPPROTO_IPV6, this.family === AF_INET ? IP_MULTICAST_TTL : IPV6_MULTICAST_HOPS, ttl, 'setMulticastTTL');
    return ttl;
  }

  setMulticastLoopback(flag: boolean): boolean {
    this.setopt(
      this.family === AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
      this.family === AF_INET ? IP_MULTICAST_LOOP : IPV6_MULTICAST_LOOP,
      flag ? 1 : 0,
      'setMulticastLoopback',
    );
    return flag;
  }

  setMulticastInterface(iface: string): void {
    if (this.family === AF_INET) {
      const sa = parseAddress(iface);
      if (sa === null || sa.family !== AF_INET) throw errnoException(EINVAL, 'setMulticastInterface');
      this.setopt(IPPROTO_IP, IP_MULTICAST_IF, sa.addr, 'setMulticastInterface');
    } else {
      const pct = iface.indexOf('%');
      const name = pct >= 0 ? iface.slice(pct + 1) : iface;
      const ifp = /^\d+$/.test(name) ? this.stack.vnet.ifnet.byindex(Number(name)) : this.stack.vnet.ifnet.byname(name);
      if (ifp === undefined) throw errnoException(EINVAL, 'setMulticastInterface');
      this.setopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, ifp.if_index, 'setMulticastInterface');
    }
  }

  private membership(group: string, iface: string | undefined, add: boolean): void {
    const syscall = add ? 'addMembership' : 'dropMembership';
    this.ksock(syscall);
    const g = parseAddress(group);
    if (g === null) throw errnoException(EINVAL, syscall);
    if (!this.bound) this.implicitBind();
    if (g.family === AF_INET) {
      const i = iface !== undefined ? parseAddress(iface) : null;
      this.setopt(IPPROTO_IP, add ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, { multiaddr: g.addr, interface: i && i.family === AF_INET ? i.addr : 0 }, syscall);
    } else {
      const ifp = iface ? (/^\d+$/.test(iface) ? this.stack.vnet.ifnet.byindex(Number(iface)) : this.stack.vnet.ifnet.byname(iface)) : undefined;
      this.setopt(IPPROTO_IPV6, add ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, { multiaddr: g.addr, interface: ifp?.if_index ?? 0 }, syscall);
    }
  }

  addMembership(multicastAddress: string, multicastInterface?: string): void {
    this.membership(multicastAddress, multicastInterface, true);
  }

  dropMembership(multicastAddress: string, multicastInterface?: string): void {
    this.membership(multicastAddress, multicastInterface, false);
  }

  private setBuf(name: number, size: number): void {
    if (!Number.isInteger(size) || size <= 0) throw argError('ERR_INVALID_ARG_VALUE', 'Buffer size must be a positive integer');
    const so = this.ksock('setsockopt');
    const e = sosetopt(so, { level: SOL_SOCKET, name, value: size });
    if (e !== 0) throw Object.assign(errnoException(e, name === SO_RCVBUF ? 'uv_recv_buffer_size' : 'uv_send_buffer_size'), { code: 'ERR_SOCKET_BUFFER_SIZE' });
  }

  private getBuf(name: number): number {
    const so = this.ksock('getsockopt');
    if (!this.bound) throw stateError('ERR_SOCKET_BUFFER_SIZE', 'Could not get or set buffer size: the socket is not bound');
    return sogetopt(so, { level: SOL_SOCKET, name }).value as number;
  }

  setRecvBufferSize(size: number): void {
    if (!this.bound) throw stateError('ERR_SOCKET_BUFFER_SIZE', 'Could not get or set buffer size: the socket is not bound');
    this.setBuf(SO_RCVBUF, size);
  }

  setSendBufferSize(size: number): void {
    if (!this.bound) throw stateError('ERR_SOCKET_BUFFER_SIZE', 'Could not get or set buffer size: the socket is not bound');
    this.setBuf(SO_SNDBUF, size);
  }

  getRecvBufferSize(): number {
    return this.getBuf(SO_RCVBUF);
  }

  getSendBufferSize(): number {
    return this.getBuf(SO_SNDBUF);
  }

  ref(): this {
    this.refd = true;
    if (this.bound && !this.closed) this.hold();
    return this;
  }

  unref(): this {
    this.refd = false;
    this.release();
    return this;
  }
}

export class DgramApi {
  private readonly stack: Stack;
  constructor(stack: Stack) {
    this.stack = stack;
  }

  createSocket(type: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): UdpSocket {
    const opts: SocketOptions = typeof type === 'string' ? { type } : type;
    if (opts.type !== 'udp4' && opts.type !== 'udp6')
      throw argError('ERR_SOCKET_BAD_TYPE' as 'ERR_INVALID_ARG_VALUE', 'Bad socket type specified. Valid types are: udp4, udp6');
    const s = new UdpSocket(this.stack, opts);
    if (listener) s.on('message', listener);
    return s;
  }
}
