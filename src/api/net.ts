/*
 * A node:net-compatible TCP API over bsdnet: `stack.net.createServer()`, `stack.net.connect()`.
 *
 * `Socket` is a stream.Duplex with node:net's surface (connect overloads, 'connect'/'ready',
 * 'data', 'end', 'close' with hadError, 'error', 'timeout', 'drain', allowHalfOpen, end() as a
 * half-close, destroy()/destroySoon()/resetAndDestroy(), setNoDelay, setKeepAlive, setTimeout,
 * ref/unref, address() and the remote/local getters, bytesRead/bytesWritten, pending,
 * connecting, readyState). `Server` is an EventEmitter with node:net.Server's surface (listen
 * overloads, 'listening', 'connection', 'close', 'error', close() that waits for the
 * connections, getConnections, maxConnections, ref/unref). node:http and node:tls run over
 * these sockets unchanged (http needs setTimeout/setKeepAlive/ref/unref/remoteAddress; tls
 * wraps any Duplex).
 *
 * Backpressure is real in both directions, as with a kernel socket:
 *   - _write copies into the send buffer with sosend; a partial send keeps the rest and
 *     continues on the SO_EV_SND upcall. The write callback runs only once every byte is in
 *     the socket buffer, so a slow peer makes write() return false and 'drain' come later.
 *   - _read pulls with soreceive only while the stream wants data. When push() returns false
 *     reading stops and the bytes stay in so_rcv, so TCP's advertised window closes.
 *
 * Events come from the kernel socket's upcall, which the clock runs as deferred soft work —
 * never on the protocol's stack. The idle timer of setTimeout() is a Callout on the instance's
 * callwheel, so it follows the instance's clock (virtual or real); its handler defers the
 * 'timeout' event through the clock as well. Hostnames are not resolved (bsdnet has no
 * resolver): hosts are IP literals or 'localhost'.
 */

import { EventEmitter } from 'node:events';
import * as nodeNet from 'node:net';
import { Duplex, type DuplexOptions } from 'node:stream';
import type { SoftTask } from '../kern/clock.js';
import { Callout } from '../kern/kern_timeout.js';
import { AF_INET, AF_INET6, formatAddress, parseAddress, type Sockaddr } from '../netinet/in.js';
import { IPV6_V6ONLY } from '../netinet/ip_ctloutput.js';
import { TCP_KEEPIDLE, TCP_NODELAY } from '../netinet/tcp_usrreq.js';
import { ECONNREFUSED, EINPROGRESS, ENOTCONN, EWOULDBLOCK } from '../sys/errno.js';
import { SOCK_STREAM } from '../sys/protosw.js';
import {
  SHUT_WR,
  SO_EV_ACCEPT,
  SO_EV_CONN,
  SO_EV_ERROR,
  SO_EV_RCV,
  SO_EV_SND,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOL_SOCKET,
  SS_ISCONNECTED,
  SS_ISDISCONNECTED,
  type Socket as KSocket,
  soaccept,
  sobind,
  soclose,
  soconnect,
  socreate,
  solisten,
  soreceive,
  sosend,
  sosetopt,
  soshutdown,
} from '../sys/socket.js';
import { IPPROTO_IPV6, IPPROTO_TCP } from '../wire/ipv4.js';
import { argError, errnoException, stateError } from './errors.js';
import type { Stack } from './stack.js';

/** Largest chunk one soreceive() hands to the stream (libuv reads 64 KiB at a time). */
const READ_CHUNK = 64 * 1024;
const EMPTY = Buffer.alloc(0);
/** node:net's default listen backlog. */
const DEFAULT_BACKLOG = 511;

export type AddressFamily = 'IPv4' | 'IPv6';

export interface AddressInfo {
  address: string;
  family: AddressFamily;
  port: number;
}

export interface SocketConstructorOpts {
  allowHalfOpen?: boolean;
  readable?: boolean;
  writable?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  highWaterMark?: number;
  signal?: AbortSignal;
}

export interface TcpConnectOpts extends SocketConstructorOpts {
  port: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  family?: number;
  timeout?: number;
  /** Accepted for compatibility; bsdnet resolves only IP literals and 'localhost'. */
  lookup?: unknown;
  hints?: number;
  autoSelectFamily?: boolean;
}

export interface ServerOpts {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  highWaterMark?: number;
}

export interface ListenOpts {
  port?: number | string;
  host?: string;
  backlog?: number;
  ipv6Only?: boolean;
  reusePort?: boolean;
  exclusive?: boolean;
  signal?: AbortSignal;
}

type ConnectListener = () => void;

function famName(sa: Sockaddr): AddressFamily {
  return sa.family === AF_INET ? 'IPv4' : 'IPv6';
}

function info(sa: Sockaddr): AddressInfo {
  return { address: formatAddress(sa), family: famName(sa), port: sa.port };
}

function isPort(p: unknown): boolean {
  if (typeof p === 'string') return /^\s*\d+\s*$/.test(p) && Number(p) <= 65535;
  return typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535;
}

function validPort(p: unknown, name = 'Port'): number {
  if (!isPort(p)) throw argError('ERR_SOCKET_BAD_PORT', `${name} should be >= 0 and < 65536. Received ${typeof p === 'string' ? `'${p}'` : String(p)}.`);
  return Number(p);
}

/** Like node's isPipeName: a string that is not a number names an IPC path. */
function isPipeName(s: unknown): boolean {
  return typeof s === 'string' && !/^\s*\d+\s*$/.test(s);
}

/** node:net's normalizeArgs for connect(): (options[, cb]) | (port[, host][, cb]) | (path[, cb]). */
function normalizeConnectArgs(args: unknown[]): [TcpConnectOpts, ConnectListener | undefined] {
  if (args.length === 0) throw stateError('ERR_MISSING_ARGS', 'The "options" or "port" or "path" argument must be specified');
  const a0 = args[0];
  let opts: TcpConnectOpts;
  if (a0 !== null && typeof a0 === 'object') opts = { ...(a0 as TcpConnectOpts) };
  else if (isPipeName(a0)) throw argError('ERR_INVALID_ARG_VALUE', `IPC paths are not supported by bsdnet (got '${String(a0)}')`);
  else {
    opts = { port: a0 as number };
    if (args.length > 1 && typeof args[1] === 'string') opts.host = args[1];
  }
  const last = args[args.length - 1];
  return [opts, typeof last === 'function' ? (last as ConnectListener) : undefined];
}

/** A soft task that emits an event later, from the instance clock's soft-work queue. */
class DeferredEmit implements SoftTask {
  queued = false;
  constructor(
    private readonly target: EventEmitter,
    private readonly event: string,
  ) {}
  runSoft(): void {
    this.target.emit(this.event);
  }
}

function onIdleTimer(s: Socket): void {
  s._onIdleTimer();
}

export class Socket extends Duplex {
  /** True while a connect() is in progress. */
  connecting = false;
  /** Bytes received from the peer. */
  bytesRead = 0;
  /** Set by node:net on accepted sockets (and overwritten by node:http). */
  server: unknown = null;
  _hadError = false;

  private readonly stack: Stack;
  private so: KSocket | null = null;
  /** Connected (or accepted) and not yet closed. */
  private established = false;
  private refd = true;
  private holding = false;
  // options set before there is a kernel socket
  private noDelayOpt = false;
  private keepAliveOpt = false;
  private keepAliveDelayMs = 0;
  private resetOnClose = false;
  // idle timer
  private timeoutMs = 0;
  private timer: Callout<Socket> | null = null;
  private timeoutTask: DeferredEmit | null = null;
  // reading
  private wantRead = false;
  private eofPushed = false;
  // writing: the chunks of the current _write/_writev, the offset into the first one
  private wq: Buffer[] = [];
  private wqOff = 0;
  private wcb: ((err?: Error | null) => void) | null = null;
  private sentBytes = 0;
  private inflightSent = 0;
  // addresses (cached, as node does, so they survive close)
  private peer: Sockaddr | null = null;
  private local: Sockaddr | null = null;
  private connectHost: string | undefined;
  private connectPort: number | undefined;
  private ownerServer: Server | null = null;

  constructor(stack: Stack, options: SocketConstructorOpts = {}) {
    const allowHalfOpen = Boolean(options.allowHalfOpen);
    const dopts: DuplexOptions & { readable?: boolean; writable?: boolean } = {
      allowHalfOpen,
      emitClose: false,
      autoDestroy: true,
      readable: options.readable !== false,
      writable: options.writable !== false,
    };
    if (options.highWaterMark !== undefined) dopts.highWaterMark = options.highWaterMark;
    if (options.signal !== undefined) dopts.signal = options.signal;
    super(dopts);
    this.stack = stack;
    if (options.noDelay) this.noDelayOpt = true;
    if (options.keepAlive) {
      this.keepAliveOpt = true;
      this.keepAliveDelayMs = Math.max(0, Number(options.keepAliveInitialDelay ?? 0)) | 0;
    }
  }

  // --- keeping the process alive (as a libuv handle does) ---

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

  ref(): this {
    this.refd = true;
    if (this.so !== null) this.hold();
    return this;
  }

  unref(): this {
    this.refd = false;
    this.release();
    return this;
  }

  // --- connecting ---

  /** connect(options[, listener]) | connect(port[, host][, listener]) */
  connect(options: TcpConnectOpts, connectListener?: ConnectListener): this;
  connect(port: number | string, host?: string, connectListener?: ConnectListener): this;
  connect(port: number | string, connectListener?: ConnectListener): this;
  connect(...args: unknown[]): this {
    const [opts, cb] = normalizeConnectArgs(args);
    if (this.connecting || this.so !== null) throw stateError('ERR_SOCKET_CONNECTING', 'Socket is already connecting or connected');
    if (this.destroyed) throw stateError('ERR_STREAM_DESTROYED', 'Cannot call connect after a stream was destroyed');
    if (opts.port === undefined || opts.port === null)
      throw argError('ERR_INVALID_ARG_TYPE' as 'ERR_INVALID_ARG_VALUE', 'The "options.port" property must be specified');
    const port = validPort(opts.port);
    if (opts.localPort !== undefined) validPort(opts.localPort, 'localPort');
    if (cb) this.once('connect', cb);
    if (opts.timeout) this.setTimeout(opts.timeout);
    if (opts.noDelay) this.noDelayOpt = true;
    if (opts.keepAlive) {
      this.keepAliveOpt = true;
      this.keepAliveDelayMs = Math.max(0, Number(opts.keepAliveInitialDelay ?? 0)) | 0;
    }
    const family = opts.family === 6 ? 6 : opts.family === 4 ? 4 : 0;
    let host = opts.host ?? 'localhost';
    const viaLookup = host === 'localhost';
    if (viaLookup) host = family === 6 ? '::1' : '127.0.0.1';
    this.connectHost = host;
    this.connectPort = port;
    this.connecting = true;
    const sa = parseAddress(host, port);
    if (sa === null || (family === 4 && sa.family !== AF_INET) || (family === 6 && sa.family !== AF_INET6)) {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${opts.host}`), {
        code: 'ENOTFOUND',
        errno: -3008,
        syscall: 'getaddrinfo',
        hostname: opts.host,
      });
      process.nextTick(() => this.failConnect(err));
      return this;
    }
    if (viaLookup) process.nextTick(() => this.emit('lookup', null, host, sa.family === AF_INET ? 4 : 6, opts.host ?? 'localhost'));
    const r = socreate(this.stack.vnet, sa.family, SOCK_STREAM, IPPROTO_TCP);
    if (r.error !== 0 || r.so === null) {
      const err = errnoException(r.error, 'socket');
      process.nextTick(() => this.failConnect(err));
      return this;
    }
    this.adopt(r.so);
    this.applyOptions();
    if (opts.localAddress !== undefined || opts.localPort !== undefined) {
      const laddr = opts.localAddress ?? (sa.family === AF_INET ? '0.0.0.0' : '::');
      const lsa = parseAddress(laddr, Number(opts.localPort ?? 0));
      if (lsa === null || lsa.family !== sa.family) {
        const err = argError('ERR_INVALID_ARG_VALUE', `The argument 'localAddress' is invalid. Received '${laddr}'`);
        process.nextTick(() => this.failConnect(err));
        return this;
      }
      const e = sobind(r.so, lsa);
      if (e !== 0) {
        const err = errnoException(e, 'bind', laddr, Number(opts.localPort ?? 0));
        process.nextTick(() => this.failConnect(err));
        return this;
      }
    }
    const e = soconnect(r.so, sa);
    if (e !== 0 && e !== EINPROGRESS) {
      const err = errnoException(e, 'connect', host, port);
      process.nextTick(() => this.failConnect(err));
      return this;
    }
    return this;
  }

  private failConnect(err: Error): void {
    if (this.destroyed) return;
    this.connecting = false;
    this.destroy(err);
  }

  /** Take ownership of a kernel socket: upcall, user cookie, process reference. */
  private adopt(so: KSocket): void {
    this.so = so;
    so.so_user = this;
    so.so_upcall = { soupcall: (_so, ev) => this.onUpcall(ev) };
    this.hold();
  }

  private applyOptions(): void {
    const so = this.so;
    if (so === null) return;
    if (this.noDelayOpt) sosetopt(so, { level: IPPROTO_TCP, name: TCP_NODELAY, value: 1 });
    if (this.keepAliveOpt) {
      sosetopt(so, { level: SOL_SOCKET, name: SO_KEEPALIVE, value: 1 });
      if (this.keepAliveDelayMs >= 1000) sosetopt(so, { level: IPPROTO_TCP, name: TCP_KEEPIDLE, value: Math.floor(this.keepAliveDelayMs / 1000) });
    }
  }

  /** @internal the Server hands over an accepted connection. */
  _attachAccepted(so: KSocket, peer: Sockaddr | null, server: Server, pause: boolean): void {
    this.adopt(so);
    this.applyOptions();
    this.peer = peer ?? so.so_proto.pr_usrreqs.pru_peeraddr(so);
    this.established = true;
    this.ownerServer = server;
    this.server = server;
    if (pause) this.pause();
    else if (this.readable) this.read(0);
    // Anything that happened before accept (data, FIN, RST) is picked up by the read loop.
    so.wakeup(SO_EV_RCV | SO_EV_SND);
  }

  private afterConnect(): void {
    const so = this.so as KSocket;
    this.connecting = false;
    this.established = true;
    this.peer = so.so_proto.pr_usrreqs.pru_peeraddr(so);
    this.refreshTimer();
    if (this.wcb !== null) this.flushWrites();
    if (this.destroyed) return;
    this.emit('connect');
    this.emit('ready');
    if (this.readable && !this.isPaused()) this.read(0);
  }

  private onUpcall(ev: number): void {
    const so = this.so;
    if (so === null || this.destroyed) return;
    if (this.connecting) {
      if (so.so_error) {
        const e = so.so_error;
        so.so_error = 0;
        this.failConnect(errnoException(e, 'connect', this.connectHost, this.connectPort));
        return;
      }
      if (so.so_state & SS_ISCONNECTED) this.afterConnect();
      else if (so.so_state & SS_ISDISCONNECTED) {
        this.failConnect(errnoException(ECONNREFUSED, 'connect', this.connectHost, this.connectPort));
        return;
      } else return;
      if (this.so === null || this.destroyed) return;
    }
    if (!this.established) return;
    if (ev & (SO_EV_SND | SO_EV_ERROR | SO_EV_CONN) && this.wcb !== null) this.flushWrites();
    if (this.so === null || this.destroyed) return;
    if (ev & (SO_EV_RCV | SO_EV_ERROR | SO_EV_CONN) && this.wantRead) this.readLoop();
  }

  // --- reading ---

  override _read(_size: number): void {
    this.wantRead = true;
    if (this.established && this.so !== null) this.readLoop();
  }

  private readLoop(): void {
    while (this.wantRead) {
      const so = this.so;
      if (so === null || this.destroyed) return;
      const cc = so.so_rcv.sb_ccc;
      const buf = cc > 0 ? Buffer.allocUnsafe(Math.min(cc, READ_CHUNK)) : EMPTY;
      const r = soreceive(so, buf, 0);
      if (r.error === EWOULDBLOCK) return;
      if (r.error !== 0) {
        this.wantRead = false;
        this.destroy(errnoException(r.error, 'read'));
        return;
      }
      if (r.eof || r.len === 0) {
        this.wantRead = false;
        if (r.eof && !this.eofPushed) {
          this.eofPushed = true;
          this.push(null);
        }
        return;
      }
      this.bytesRead += r.len;
      this.refreshTimer();
      this.wantRead = this.push(r.len === buf.length ? buf : buf.subarray(0, r.len));
    }
  }

  // --- writing ---

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.startWrite([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], cb: (err?: Error | null) => void): void {
    const bufs: Buffer[] = new Array(chunks.length);
    for (let i = 0; i < chunks.length; i++) bufs[i] = (chunks[i] as { chunk: Buffer }).chunk;
    this.startWrite(bufs, cb);
  }

  private startWrite(bufs: Buffer[], cb: (err?: Error | null) => void): void {
    this.wq = bufs;
    this.wqOff = 0;
    this.wcb = cb;
    this.inflightSent = 0;
    if (this.connecting) return; // sent once connected
    if (this.so === null || !this.established) {
      this.wcb = null;
      this.wq = [];
      cb(stateError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      return;
    }
    this.flushWrites();
  }

  /** Move queued bytes into the send buffer; call the write callback once all are in. */
  private flushWrites(): void {
    const so = this.so;
    if (so === null || this.wcb === null) return;
    while (this.wq.length > 0) {
      const b = this.wq[0] as Buffer;
      const rem = b.length - this.wqOff;
      if (rem <= 0) {
        this.wq.shift();
        this.wqOff = 0;
        continue;
      }
      const r = sosend(so, null, b, this.wqOff, rem, 0);
      if (r.error === EWOULDBLOCK) return; // wait for SO_EV_SND
      if (r.error !== 0) {
        const cb = this.wcb;
        this.wcb = null;
        this.wq = [];
        cb(errnoException(r.error, 'write'));
        return;
      }
      this.wqOff += r.sent;
      this.sentBytes += r.sent;
      this.inflightSent += r.sent;
      if (r.sent > 0) this.refreshTimer();
      if (r.sent < rem) return; // buffer full: continue on SO_EV_SND
    }
    const cb = this.wcb;
    this.wcb = null;
    this.inflightSent = 0;
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      this.once('connect', () => this._final(cb));
      return;
    }
    const so = this.so;
    if (so === null) {
      cb();
      return;
    }
    const e = soshutdown(so, SHUT_WR);
    if (e === 0 || e === ENOTCONN) cb();
    else cb(errnoException(e, 'shutdown'));
  }

  // --- closing ---

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.connecting = false;
    this.established = false;
    this.wantRead = false;
    this.wq = [];
    if (this.timer !== null) this.timer.stop();
    const so = this.so;
    if (so !== null) {
      if (this.local === null) this.local = so.so_proto.pr_usrreqs.pru_sockaddr(so);
      so.so_upcall = null;
      so.so_user = null;
      if (this.resetOnClose) sosetopt(so, { level: SOL_SOCKET, name: SO_LINGER, value: { onoff: 1, linger: 0 } });
      this.so = null;
      soclose(so);
    }
    this.release();
    const srv = this.ownerServer;
    if (srv !== null) {
      this.ownerServer = null;
      srv._connectionClosed();
    }
    if (err) this._hadError = true;
    cb(err);
    // node emits 'close' from the handle's close callback, a later turn of the event loop:
    // after 'error', and after promise continuations of the current turn.
    const hadError = err !== null && err !== undefined;
    setImmediate(() => this.emit('close', hadError));
  }

  /** End the writable side, then destroy once everything is flushed (node's destroySoon). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Close the connection with a RST (SO_LINGER 0), as node's resetAndDestroy(). */
  resetAndDestroy(): this {
    if (this.so === null && !this.connecting) {
      this.destroy(stateError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      return this;
    }
    this.resetOnClose = true;
    if (this.connecting) this.once('connect', () => this.destroy());
    else this.destroy();
    return this;
  }

  // --- options ---

  setNoDelay(noDelay = true): this {
    this.noDelayOpt = Boolean(noDelay);
    if (this.so !== null) sosetopt(this.so, { level: IPPROTO_TCP, name: TCP_NODELAY, value: this.noDelayOpt ? 1 : 0 });
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepAliveOpt = Boolean(enable);
    this.keepAliveDelayMs = Math.max(0, Number(initialDelay) || 0) | 0;
    const so = this.so;
    if (so !== null) {
      sosetopt(so, { level: SOL_SOCKET, name: SO_KEEPALIVE, value: this.keepAliveOpt ? 1 : 0 });
      if (this.keepAliveOpt && this.keepAliveDelayMs >= 1000)
        sosetopt(so, { level: IPPROTO_TCP, name: TCP_KEEPIDLE, value: Math.floor(this.keepAliveDelayMs / 1000) });
    }
    return this;
  }

  /** The idle timeout in ms (undefined when none), as node's socket.timeout. */
  get timeout(): number | undefined {
    return this.timeoutMs > 0 ? this.timeoutMs : undefined;
  }

  /**
   * Emit 'timeout' after `ms` of inactivity (no bytes read or written). As in node it fires
   * once and re-arms on the next activity; 0 disables it.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
      throw argError('ERR_OUT_OF_RANGE', `The value of "msecs" is out of range. It must be a non-negative finite number. Received ${String(ms)}`);
    this.timeoutMs = ms;
    if (ms === 0) {
      if (this.timer !== null) this.timer.stop();
      if (callback) this.removeListener('timeout', callback);
    } else {
      if (callback) this.once('timeout', callback);
      this.refreshTimer();
    }
    return this;
  }

  private refreshTimer(): void {
    if (this.timeoutMs <= 0 || this.destroyed) return;
    if (this.timer === null) this.timer = new Callout<Socket>(this.stack.vnet.callwheel);
    this.timer.resetNs(this.timeoutMs * 1_000_000, onIdleTimer, this);
  }

  /** @internal the idle callout fired (inside the callwheel): defer the event. */
  _onIdleTimer(): void {
    if (this.timer === null || !this.timer.ack() || this.destroyed) return;
    this.timeoutTask ??= new DeferredEmit(this, 'timeout');
    this.stack.vnet.clock.defer(this.timeoutTask);
  }

  // --- addresses and state ---

  address(): AddressInfo | Record<string, never> {
    const sa = this.sockname();
    return sa !== null ? info(sa) : {};
  }

  get remoteAddress(): string | undefined {
    return this.peer !== null ? formatAddress(this.peer) : undefined;
  }

  get remotePort(): number | undefined {
    return this.peer !== null ? this.peer.port : undefined;
  }

  get remoteFamily(): AddressFamily | undefined {
    return this.peer !== null ? famName(this.peer) : undefined;
  }

  /** The local address, refreshed while there is a kernel socket and kept after close. */
  private sockname(): Sockaddr | null {
    if (this.so !== null) this.local = this.so.so_proto.pr_usrreqs.pru_sockaddr(this.so) ?? this.local;
    return this.local;
  }

  get localAddress(): string | undefined {
    const sa = this.sockname();
    return sa !== null ? formatAddress(sa) : undefined;
  }

  get localPort(): number | undefined {
    return this.sockname()?.port;
  }

  get localFamily(): AddressFamily | undefined {
    const sa = this.sockname();
    return sa !== null ? famName(sa) : undefined;
  }

  /** Bytes handed to the socket: sent into the send buffer plus what still waits in the stream. */
  get bytesWritten(): number {
    return this.sentBytes + Math.max(0, this.writableLength - this.inflightSent);
  }

  /** @deprecated as in node: bytes buffered for writing. */
  get bufferSize(): number {
    return this.writableLength;
  }

  /** True until connected (no kernel socket yet, or still connecting). */
  get pending(): boolean {
    return this.so === null || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** @internal the kernel socket (tests, TCP_INFO readers). */
  get kernelSocket(): KSocket | null {
    return this.so;
  }
}

export class Server extends EventEmitter {
  /** Refuse (close) connections beyond this many, as node's server.maxConnections. */
  maxConnections: number | undefined = undefined;
  /** Open accepted connections (node's server._connections). */
  _connections = 0;

  private readonly stack: Stack;
  private readonly opts: ServerOpts;
  private so: KSocket | null = null;
  private refd = true;
  private holding = false;
  private local: Sockaddr | null = null;

  constructor(stack: Stack, options: ServerOpts = {}, connectionListener?: (socket: Socket) => void) {
    super();
    this.stack = stack;
    this.opts = { ...options };
    if (connectionListener) this.on('connection', connectionListener);
  }

  get listening(): boolean {
    return this.so !== null;
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

  ref(): this {
    this.refd = true;
    if (this.so !== null) this.hold();
    return this;
  }

  unref(): this {
    this.refd = false;
    this.release();
    return this;
  }

  /**
   * listen([port[, host[, backlog]]][, cb]) | listen(options[, cb]). The default host is '::'
   * (dual-stack) when the instance has IPv6, else '0.0.0.0', as node.
   */
  listen(port?: number | string | null, host?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string | null, host?: string, listeningListener?: () => void): this;
  listen(port?: number | string | null, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string | null, listeningListener?: () => void): this;
  listen(options: ListenOpts, listeningListener?: () => void): this;
  listen(...args: unknown[]): this {
    const a = [...args];
    const cb = typeof a[a.length - 1] === 'function' ? (a.pop() as () => void) : undefined;
    let o: ListenOpts;
    if (a[0] !== null && typeof a[0] === 'object') o = { ...(a[0] as ListenOpts) };
    else {
      o = {};
      if (a[0] !== undefined && a[0] !== null) {
        if (isPipeName(a[0])) throw argError('ERR_INVALID_ARG_VALUE', `IPC paths are not supported by bsdnet (got '${String(a[0])}')`);
        o.port = a[0] as number;
      }
      if (typeof a[1] === 'string') {
        o.host = a[1];
        if (typeof a[2] === 'number') o.backlog = a[2];
      } else if (typeof a[1] === 'number') o.backlog = a[1];
    }
    if (this.so !== null) throw stateError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
    const port = o.port === undefined || o.port === null ? 0 : validPort(o.port, 'options.port');
    if (cb) this.once('listening', cb);
    const V = this.stack.vnet;
    let host = o.host;
    if (host === undefined || host === '' || host === null) host = V.protosw.hasDomain(AF_INET6) ? '::' : '0.0.0.0';
    else if (host === 'localhost') host = '127.0.0.1';
    const sa = parseAddress(host, port);
    if (sa === null) {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname: host });
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    const r = socreate(V, sa.family, SOCK_STREAM, IPPROTO_TCP);
    if (r.error !== 0 || r.so === null) {
      const err = errnoException(r.error, 'listen', host, port);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    const so = r.so;
    // libuv sets SO_REUSEADDR on every TCP bind; node listens dual-stack unless ipv6Only.
    sosetopt(so, { level: SOL_SOCKET, name: SO_REUSEADDR, value: 1 });
    if (o.reusePort) sosetopt(so, { level: SOL_SOCKET, name: SO_REUSEPORT, value: 1 });
    if (sa.family === AF_INET6) sosetopt(so, { level: IPPROTO_IPV6, name: IPV6_V6ONLY, value: o.ipv6Only ? 1 : 0 });
    let e = sobind(so, sa);
    if (e === 0) e = solisten(so, o.backlog !== undefined && Number.isInteger(o.backlog) ? o.backlog : DEFAULT_BACKLOG);
    if (e !== 0) {
      soclose(so);
      const err = errnoException(e, 'listen', host, port);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.so = so;
    so.so_user = this;
    so.so_upcall = { soupcall: (_so, ev) => this.onUpcall(ev) };
    this.local = so.so_proto.pr_usrreqs.pru_sockaddr(so);
    this.hold();
    process.nextTick(() => {
      if (this.so === so) this.emit('listening');
    });
    // Connections that completed before the upcall was set.
    if (so.sol_comp.length > 0) so.wakeup(SO_EV_ACCEPT);
    return this;
  }

  private onUpcall(ev: number): void {
    const so = this.so;
    if (so === null || !(ev & (SO_EV_ACCEPT | SO_EV_ERROR))) return;
    for (;;) {
      if (this.so !== so) return;
      const r = soaccept(so);
      if (r.error === EWOULDBLOCK) return;
      if (r.error !== 0 || r.so === null) {
        this.emit('error', errnoException(r.error, 'accept'));
        return;
      }
      if (this.maxConnections !== undefined && this._connections >= this.maxConnections) {
        const peer = r.nam;
        const mine = r.so.so_proto.pr_usrreqs.pru_sockaddr(r.so);
        r.so.so_upcall = null;
        soclose(r.so);
        this.emit('drop', {
          localAddress: mine ? formatAddress(mine) : undefined,
          localPort: mine?.port,
          localFamily: mine ? famName(mine) : undefined,
          remoteAddress: peer ? formatAddress(peer) : undefined,
          remotePort: peer?.port,
          remoteFamily: peer ? famName(peer) : undefined,
        });
        continue;
      }
      const s = new Socket(this.stack, {
        allowHalfOpen: this.opts.allowHalfOpen,
        noDelay: this.opts.noDelay,
        keepAlive: this.opts.keepAlive,
        keepAliveInitialDelay: this.opts.keepAliveInitialDelay,
        highWaterMark: this.opts.highWaterMark,
      });
      this._connections++;
      s._attachAccepted(r.so, r.nam, this, Boolean(this.opts.pauseOnConnect));
      this.emit('connection', s);
    }
  }

  /** @internal an accepted connection closed. */
  _connectionClosed(): void {
    if (this._connections > 0) this._connections--;
    this.emitCloseIfDrained();
  }

  private emitCloseIfDrained(): void {
    if (this.so !== null || this._connections > 0) return;
    process.nextTick(() => this.emit('close'));
  }

  address(): AddressInfo | null {
    if (this.so === null) return null;
    const sa = this.so.so_proto.pr_usrreqs.pru_sockaddr(this.so) ?? this.local;
    return sa !== null ? info(sa) : null;
  }

  /** Stop accepting; 'close' (and cb) come once every connection has ended, as node. */
  close(cb?: (err?: Error) => void): this {
    if (typeof cb === 'function') {
      if (this.so === null) this.once('close', () => cb(stateError('ERR_SERVER_NOT_RUNNING', 'Server is not running.')));
      else this.once('close', cb);
    }
    const so = this.so;
    if (so !== null) {
      this.so = null;
      so.so_upcall = null;
      so.so_user = null;
      soclose(so);
      this.release();
    }
    this.emitCloseIfDrained();
    return this;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this._connections;
    process.nextTick(() => cb(null, n));
    return this;
  }
}

type SocketCtor = new (options?: SocketConstructorOpts) => Socket;
type ServerCtor = new (options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) => Server;

/** `stack.net`: node:net's module surface bound to one Stack. */
export class NetApi {
  /** `new stack.net.Socket(options)` */
  readonly Socket: SocketCtor;
  /** `new stack.net.Server(options, listener)` */
  readonly Server: ServerCtor;
  private readonly stack: Stack;

  constructor(stack: Stack) {
    this.stack = stack;
    const BaseSocket = Socket;
    const BaseServer = Server;
    this.Socket = class extends BaseSocket {
      constructor(options?: SocketConstructorOpts) {
        super(stack, options);
      }
    };
    this.Server = class extends BaseServer {
      constructor(options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) {
        if (typeof options === 'function') super(stack, {}, options);
        else super(stack, options ?? {}, connectionListener);
      }
    };
  }

  createServer(connectionListener?: (socket: Socket) => void): Server;
  createServer(options?: ServerOpts, connectionListener?: (socket: Socket) => void): Server;
  createServer(options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void): Server {
    if (typeof options === 'function') return new Server(this.stack, {}, options);
    return new Server(this.stack, options ?? {}, connectionListener);
  }

  connect(options: TcpConnectOpts, connectionListener?: () => void): Socket;
  connect(port: number | string, host?: string, connectionListener?: () => void): Socket;
  connect(port: number | string, connectionListener?: () => void): Socket;
  connect(...args: unknown[]): Socket {
    const [opts, cb] = normalizeConnectArgs(args);
    const s = new Socket(this.stack, opts);
    return cb ? s.connect(opts, cb) : s.connect(opts);
  }

  createConnection(options: TcpConnectOpts, connectionListener?: () => void): Socket;
  createConnection(port: number | string, host?: string, connectionListener?: () => void): Socket;
  createConnection(port: number | string, connectionListener?: () => void): Socket;
  createConnection(...args: unknown[]): Socket {
    return (this.connect as (...a: unknown[]) => Socket)(...args);
  }

  isIP(input: string): number {
    return nodeNet.isIP(input);
  }

  isIPv4(input: string): boolean {
    return nodeNet.isIPv4(input);
  }

  isIPv6(input: string): boolean {
    return nodeNet.isIPv6(input);
  }
}
