/*
 * The control channel: a stack's sysctl tree (and its packet taps) served on a Unix-domain
 * socket, so that `bsdnet sysctl|netstat|tcpdump --attach PATH` read a stack running in
 * another process exactly as they read one in their own (the seed's rump.netstat model:
 * the tools have no private access, only sysctl).
 *
 * Wire format: newline-delimited JSON in both directions. Every request carries a numeric
 * `id` that its response echoes:
 *   {"id":1,"op":"hello"}                       → {"id":1,"ok":true,"name":"vnet","version":1}
 *   {"id":2,"op":"get","name":"kern.hostname"}   → {"id":2,"ok":true,"value":"vnet"}
 *   {"id":3,"op":"set","name":"net.inet.ip.ttl","value":"32"}
 *                                                → {"id":3,"ok":true,"old":64,"value":32}
 *   {"id":4,"op":"list","prefix":"net.inet.udp","all":false,"values":true}
 *                                                → {"id":4,"ok":true,"nodes":[{name,oid,kind,descr,
 *                                                   writable,fmt,min?,max?,value?}, ...]}
 *   {"id":5,"op":"describe","name":"net.inet.ip.ttl"}
 *                                                → {"id":5,"ok":true,"info":{name,oid,kind,...}}
 *   {"id":6,"op":"pcap","ifname":"em0"}           → {"id":6,"ok":true,"linktype":1,"ifname":"em0"}
 *       then, per captured frame: {"id":6,"event":"packet","ts":<ns since epoch>,
 *                                  "dir":1|2,"data":"<base64>"}
 *       and {"id":6,"event":"end","reason":"..."} if the interface goes away.
 *   {"id":7,"op":"unsubscribe","sub":6}           → {"id":7,"ok":true,"captured":N,"dropped":M}
 *   {"id":8,"op":"trace","pattern":"tcp:::"}      → {"id":8,"ok":true,"probes":[ids matched now]}
 *       then, per probe firing: {"id":8,"event":"probe","probe":"tcp:kernel:tcp_output:send",
 *                                "ts":<ns, stack clock>,"args":[...JSON (the probe's encoder)]}
 *       ended by unsubscribe (answer {"ok":true,"captured":N,"dropped":M}) like a capture.
 * A refused request answers {"id":N,"ok":false,"error":{"code":"EPERM","message":"..."}}:
 * writes obey the node's type and range and return the node's own error (ENOENT, EPERM,
 * EINVAL, EISDIR). Captured frames that would overflow a slow client's socket buffer
 * (CONTROL_MAX_BACKLOG bytes pending) are dropped and counted, as bpf(4) does.
 */

import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket as NetSocket } from 'node:net';
import type { SysctlNodeInfo, SysctlValue } from '../kern/kern_sysctl.js';
import { encodeProbeArgs } from '../kern/kern_sdt.js';
import { BpfTap } from '../net/bpf.js';
import type { Ifnet } from '../net/if.js';
import type { Vnet } from '../vnet.js';

export const CONTROL_VERSION = 1;
/** Bytes pending on a client socket beyond which captured frames are dropped. */
export const CONTROL_MAX_BACKLOG = 8 * 1024 * 1024;

/** A node as `list` returns it: its description plus, on request, its value. */
export interface SysctlListEntry extends SysctlNodeInfo {
  value?: SysctlValue;
}

/** A captured frame as delivered to a capture callback. */
export interface CapturedFrame {
  /** Capture time, ns since the Unix epoch. */
  tsNs: number;
  /** BPF_D_IN (1) or BPF_D_OUT (2). */
  dir: number;
  data: Uint8Array;
}

export interface CaptureHandle {
  linktype: number;
  /** Stop capturing; resolves with the tap's counters. */
  stop(): Promise<{ captured: number; dropped: number }>;
  /** Resolves when the capture ends on the stack's side (interface detached, channel closed). */
  ended: Promise<string>;
}

/**
 * What the tools need from a stack: its sysctl tree, and optionally its packet taps. Both
 * the in-process view (localControl) and the control-channel client implement it. Errors
 * are thrown as Errors with a `code` (ENOENT, EPERM, EINVAL, EISDIR, ...).
 */
export interface SysctlSource {
  /** A name for messages ("vnet", or the socket path). */
  readonly label: string;
  get(name: string): Promise<SysctlValue>;
  set(name: string, value: SysctlValue | string): Promise<{ old: SysctlValue; value: SysctlValue }>;
  list(prefix: string, opts?: { all?: boolean; values?: boolean }): Promise<SysctlListEntry[]>;
  describe(name: string): Promise<SysctlNodeInfo>;
  /** Whether a node exists (never throws). */
  exists(name: string): Promise<boolean>;
  capture(ifname: string, onFrame: (f: CapturedFrame) => void): Promise<CaptureHandle>;
  /** Subscribe to the trace probes matching `pattern` (kern_sdt.ts patterns). */
  trace(pattern: string, onEvent: (e: TraceEvent) => void): Promise<TraceHandle>;
  close(): void;
}

/** One probe firing, as a trace consumer sees it. */
export interface TraceEvent {
  probe: string;
  /** Stack clock, ns. */
  ts: number;
  args: unknown[];
}

export interface TraceHandle {
  /** Probe ids the pattern matched when subscribing. */
  probes: string[];
  stop(): Promise<{ captured: number; dropped: number }>;
  ended: Promise<string>;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Request {
  id: number;
  op: string;
  [k: string]: Json;
}

function errorOf(e: unknown): { code: string; message: string } {
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'EIO';
  const message = e instanceof Error ? e.message : String(e);
  return { code, message };
}

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

// --- the in-process view ---

/** A SysctlSource over a Vnet in this process (no channel). */
export function localControl(V: Vnet, label = V.name): SysctlSource {
  const s = V.sysctl;
  return {
    label,
    get: async (name) => s.get(name),
    set: async (name, value) => {
      const old = s.set(name, value);
      return { old, value: s.get(name) };
    },
    list: async (prefix, opts = {}) => listNodes(V, prefix, opts),
    describe: async (name) => s.describe(name),
    exists: async (name) => s.find(name) !== undefined,
    capture: async (ifname, onFrame) => {
      const ifp = V.ifnet.byname(ifname);
      if (ifp === undefined) throw codedError('ENXIO', `no such interface: ${ifname}`);
      let endFn: (r: string) => void = () => undefined;
      const ended = new Promise<string>((r) => {
        endFn = r;
      });
      const tap = new BpfTap(ifp, (data, len, dir, tsNs) => onFrame({ tsNs, dir, data: data.slice(0, len) }));
      return {
        linktype: tap.linktype,
        ended,
        stop: async () => {
          tap.detach();
          endFn('stopped');
          return { captured: tap.captured, dropped: 0 };
        },
      };
    },
    trace: async (pattern, onEvent) => {
      const probes = matchProbes(V, pattern);
      let captured = 0;
      let endFn: (r: string) => void = () => undefined;
      const ended = new Promise<string>((r) => {
        endFn = r;
      });
      const off = V.trace.subscribe(pattern, (p, args) => {
        captured++;
        onEvent({ probe: p.id, ts: V.clock.now(), args: encodeProbeArgs(p, args) });
      });
      return {
        probes,
        ended,
        stop: async () => {
          off();
          endFn('stopped');
          return { captured, dropped: 0 };
        },
      };
    },
    close: () => undefined,
  };
}

/** Validate a probe pattern (throws EINVAL) and list the declared probes it matches. */
function matchProbes(V: Vnet, pattern: string): string[] {
  try {
    return V.trace.match(pattern).map((p) => p.id);
  } catch (e) {
    throw codedError('EINVAL', (e as Error).message);
  }
}

function listNodes(V: Vnet, prefix: string, opts: { all?: boolean; values?: boolean }): SysctlListEntry[] {
  return V.sysctl.list(prefix, { all: opts.all === true }).map((n) => {
    const e: SysctlListEntry = n.info();
    if (opts.values && n.getter !== null) e.value = n.getter();
    return e;
  });
}

// --- the server ---

interface Subscription {
  tap: BpfTap | null;
  dropped: number;
  hook: ((ifp: Ifnet) => void) | null;
  /** Trace subscriptions: the unsubscribe function and the events sent. */
  untrace?: () => void;
  sent?: number;
}

class ControlConnection {
  private buf = '';
  private readonly subs = new Map<number, Subscription>();
  private readonly V: Vnet;
  private readonly sock: NetSocket;

  constructor(V: Vnet, sock: NetSocket) {
    this.V = V;
    this.sock = sock;
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('close', () => this.teardown());
    sock.on('error', () => this.teardown());
  }

  private send(msg: { [k: string]: Json | undefined }): void {
    if (this.sock.destroyed) return;
    this.sock.write(`${JSON.stringify(msg)}\n`);
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    if (this.buf.length > 16 * 1024 * 1024) {
      this.send({ id: 0, ok: false, error: { code: 'E2BIG', message: 'request line too long' } });
      this.sock.destroy();
      return;
    }
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line !== '') this.handleLine(line);
    }
  }

  private handleLine(line: string): void {
    let req: Request;
    try {
      const v = JSON.parse(line) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v) || typeof (v as Request).op !== 'string') throw new Error('not a request object');
      req = v as Request;
      if (typeof req.id !== 'number') req.id = 0;
    } catch (e) {
      this.send({ id: 0, ok: false, error: { code: 'EINVAL', message: `bad request: ${(e as Error).message}` } });
      return;
    }
    try {
      this.handle(req);
    } catch (e) {
      this.send({ id: req.id, ok: false, error: errorOf(e) });
    }
  }

  private str(req: Request, key: string, dflt?: string): string {
    const v = req[key];
    if (typeof v === 'string') return v;
    if (v === undefined && dflt !== undefined) return dflt;
    throw codedError('EINVAL', `request '${req.op}' needs a string '${key}'`);
  }

  private handle(req: Request): void {
    const s = this.V.sysctl;
    const id = req.id;
    switch (req.op) {
      case 'hello':
        this.send({ id, ok: true, name: this.V.name, version: CONTROL_VERSION });
        return;
      case 'get':
        this.send({ id, ok: true, value: s.get(this.str(req, 'name')) as Json });
        return;
      case 'set': {
        const name = this.str(req, 'name');
        const value = req.value;
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
          throw codedError('EINVAL', `sysctl ${name}: value must be a string, number or boolean`);
        }
        const old = s.set(name, value);
        this.send({ id, ok: true, old: old as Json, value: s.get(name) as Json });
        return;
      }
      case 'list':
        this.send({
          id,
          ok: true,
          nodes: listNodes(this.V, this.str(req, 'prefix', ''), { all: req.all === true, values: req.values === true }) as unknown as Json,
        });
        return;
      case 'describe':
        this.send({ id, ok: true, info: s.describe(this.str(req, 'name')) as unknown as Json });
        return;
      case 'pcap':
        this.subscribe(id, this.str(req, 'ifname'));
        return;
      case 'trace':
        this.subscribeTrace(id, this.str(req, 'pattern', 'tcp:::'));
        return;
      case 'unsubscribe': {
        const sub = typeof req.sub === 'number' ? this.subs.get(req.sub) : undefined;
        if (sub === undefined) throw codedError('ENOENT', `no capture with id ${String(req.sub)}`);
        this.drop(sub);
        this.subs.delete(req.sub as number);
        this.send({ id, ok: true, captured: sub.tap !== null ? sub.tap.captured : (sub.sent ?? 0), dropped: sub.dropped });
        return;
      }
      default:
        throw codedError('EOPNOTSUPP', `unknown request '${req.op}'`);
    }
  }

  private subscribe(id: number, ifname: string): void {
    const ifp = this.V.ifnet.byname(ifname);
    if (ifp === undefined) throw codedError('ENXIO', `no such interface: ${ifname}`);
    if (this.subs.has(id)) throw codedError('EEXIST', `capture id ${id} in use`);
    const sub: Subscription = {
      dropped: 0,
      hook: null,
      tap: new BpfTap(ifp, (data, len, dir, tsNs) => {
        if (this.sock.writableLength > CONTROL_MAX_BACKLOG) {
          sub.dropped++;
          return;
        }
        this.send({ id, event: 'packet', ts: tsNs, dir, data: Buffer.from(data.buffer, data.byteOffset, len).toString('base64') });
      }),
    };
    this.subs.set(id, sub);
    // The interface going away ends the capture (if_detach drops its taps).
    sub.hook = (gone: Ifnet): void => {
      if (gone !== ifp || this.subs.get(id) !== sub) return;
      this.subs.delete(id);
      this.drop(sub);
      this.send({ id, event: 'end', reason: `interface ${ifname} detached` });
    };
    this.V.ifnet.detachHooks.push(sub.hook);
    this.send({ id, ok: true, linktype: (sub.tap as BpfTap).linktype, ifname });
  }

  private subscribeTrace(id: number, pattern: string): void {
    if (this.subs.has(id)) throw codedError('EEXIST', `subscription id ${id} in use`);
    const probes = matchProbes(this.V, pattern);
    const sub: Subscription = { tap: null, dropped: 0, hook: null, sent: 0 };
    const V = this.V;
    sub.untrace = V.trace.subscribe(pattern, (p, args) => {
      if (this.sock.writableLength > CONTROL_MAX_BACKLOG) {
        sub.dropped++;
        return;
      }
      sub.sent = (sub.sent ?? 0) + 1;
      this.send({ id, event: 'probe', probe: p.id, ts: V.clock.now(), args: encodeProbeArgs(p, args) as Json[] });
    });
    this.subs.set(id, sub);
    this.send({ id, ok: true, probes });
  }

  private drop(sub: Subscription): void {
    sub.untrace?.();
    sub.tap?.detach();
    const hooks = this.V.ifnet.detachHooks;
    const i = sub.hook ? hooks.indexOf(sub.hook) : -1;
    // Deferred: the hook may be running inside the detach loop right now.
    if (i >= 0)
      queueMicrotask(() => {
        const j = hooks.indexOf(sub.hook as (ifp: Ifnet) => void);
        if (j >= 0) hooks.splice(j, 1);
      });
  }

  teardown(): void {
    for (const sub of this.subs.values()) this.drop(sub);
    this.subs.clear();
  }

  close(): void {
    this.teardown();
    this.sock.destroy();
  }
}

/** A stack's control channel (what listenControl returns). */
export class ControlServer {
  readonly path: string;
  private readonly server: Server;
  private readonly conns = new Set<ControlConnection>();
  private closed = false;

  /** @internal use listenControl(). */
  constructor(V: Vnet, path: string) {
    this.path = path;
    this.server = createServer((sock) => {
      const c = new ControlConnection(V, sock);
      this.conns.add(c);
      sock.on('close', () => this.conns.delete(c));
    });
  }

  /** @internal */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        this.server.off('listening', onListening);
        reject(e);
      };
      const onListening = (): void => {
        this.server.off('error', onError);
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(this.path);
    });
  }

  /** Number of connected clients. */
  get connections(): number {
    return this.conns.size;
  }

  /** Do not keep the process alive for the channel alone. */
  unref(): this {
    this.server.unref();
    return this;
  }

  /** Stop listening, drop every client, and remove the socket file. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const c of this.conns) c.close();
    this.conns.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Is something accepting connections on the Unix socket `path`? */
function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Serve `V`'s sysctl tree on the Unix-domain socket `path`. A stale socket file (nobody
 * listening) is replaced; a live one is refused with EADDRINUSE, any other file too.
 */
export async function listenControl(V: Vnet, path: string): Promise<ControlServer> {
  if (existsSync(path)) {
    const st = lstatSync(path);
    if (!st.isSocket()) throw codedError('EEXIST', `control socket ${path}: a file that is not a socket exists there`);
    if (await probe(path)) throw codedError('EADDRINUSE', `control socket ${path}: another process is listening`);
    unlinkSync(path);
  }
  const srv = new ControlServer(V, path);
  await srv.listen();
  V.onDestroy(() => {
    void srv.close();
  });
  return srv;
}

// --- the client ---

interface Pending {
  resolve: (v: { [k: string]: Json }) => void;
  reject: (e: Error) => void;
}

/** The client side of a control channel; a SysctlSource for the tools. */
export class ControlClient implements SysctlSource {
  readonly label: string;
  /** The stack's name (from the hello exchange). */
  name = '';
  private readonly sock: NetSocket;
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<number, (msg: { [k: string]: Json }) => void>();
  private closedErr: Error | null = null;

  /** @internal use connectControl(). */
  constructor(sock: NetSocket, path: string) {
    this.sock = sock;
    this.label = path;
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    const fail = (why: string): void => {
      if (this.closedErr) return;
      this.closedErr = codedError('ECONNRESET', `control channel ${path}: ${why}`);
      for (const p of this.pending.values()) p.reject(this.closedErr);
      this.pending.clear();
      for (const [id, fn] of this.streams) fn({ id, event: 'end', reason: why });
      this.streams.clear();
    };
    sock.on('close', () => fail('connection closed'));
    sock.on('error', (e) => fail(e.message));
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.trim() === '') continue;
      let msg: { [k: string]: Json };
      try {
        msg = JSON.parse(line) as { [k: string]: Json };
      } catch {
        continue;
      }
      const id = typeof msg.id === 'number' ? msg.id : 0;
      if (typeof msg.event === 'string') {
        this.streams.get(id)?.(msg);
        if (msg.event === 'end') this.streams.delete(id);
        continue;
      }
      const p = this.pending.get(id);
      if (p === undefined) continue;
      this.pending.delete(id);
      if (msg.ok === true) p.resolve(msg);
      else {
        const err = (msg.error ?? {}) as { code?: string; message?: string };
        p.reject(codedError(err.code ?? 'EIO', err.message ?? 'request failed'));
      }
    }
  }

  /** Send a raw request and wait for its response (ok:true), or throw its error. */
  request(op: string, params: { [k: string]: Json } = {}, id = this.nextId++): Promise<{ [k: string]: Json }> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.sock.write(`${JSON.stringify({ ...params, id, op })}\n`);
    });
  }

  async get(name: string): Promise<SysctlValue> {
    return (await this.request('get', { name })).value as SysctlValue;
  }

  async set(name: string, value: SysctlValue | string): Promise<{ old: SysctlValue; value: SysctlValue }> {
    const r = await this.request('set', { name, value: value as Json });
    return { old: r.old as SysctlValue, value: r.value as SysctlValue };
  }

  async list(prefix: string, opts: { all?: boolean; values?: boolean } = {}): Promise<SysctlListEntry[]> {
    return (await this.request('list', { prefix, all: opts.all === true, values: opts.values === true })).nodes as unknown as SysctlListEntry[];
  }

  async describe(name: string): Promise<SysctlNodeInfo> {
    return (await this.request('describe', { name })).info as unknown as SysctlNodeInfo;
  }

  async exists(name: string): Promise<boolean> {
    try {
      await this.describe(name);
      return true;
    } catch {
      return false;
    }
  }

  async capture(ifname: string, onFrame: (f: CapturedFrame) => void): Promise<CaptureHandle> {
    const id = this.nextId++;
    let endFn: (r: string) => void = () => undefined;
    const ended = new Promise<string>((r) => {
      endFn = r;
    });
    this.streams.set(id, (msg) => {
      if (msg.event === 'packet') {
        onFrame({ tsNs: msg.ts as number, dir: msg.dir as number, data: new Uint8Array(Buffer.from(msg.data as string, 'base64')) });
      } else if (msg.event === 'end') endFn(String(msg.reason ?? 'ended'));
    });
    let r: { [k: string]: Json };
    try {
      r = await this.request('pcap', { ifname }, id);
    } catch (e) {
      this.streams.delete(id);
      throw e;
    }
    return {
      linktype: r.linktype as number,
      ended,
      stop: async () => {
        this.streams.delete(id);
        if (this.closedErr) return { captured: 0, dropped: 0 };
        const u = await this.request('unsubscribe', { sub: id });
        endFn('stopped');
        return { captured: u.captured as number, dropped: u.dropped as number };
      },
    };
  }

  async trace(pattern: string, onEvent: (e: TraceEvent) => void): Promise<TraceHandle> {
    const id = this.nextId++;
    let endFn: (r: string) => void = () => undefined;
    const ended = new Promise<string>((r) => {
      endFn = r;
    });
    this.streams.set(id, (msg) => {
      if (msg.event === 'probe') onEvent({ probe: String(msg.probe), ts: msg.ts as number, args: (msg.args ?? []) as unknown[] });
      else if (msg.event === 'end') endFn(String(msg.reason ?? 'ended'));
    });
    let r: { [k: string]: Json };
    try {
      r = await this.request('trace', { pattern }, id);
    } catch (e) {
      this.streams.delete(id);
      throw e;
    }
    return {
      probes: (r.probes ?? []) as string[],
      ended,
      stop: async () => {
        this.streams.delete(id);
        if (this.closedErr) return { captured: 0, dropped: 0 };
        const u = await this.request('unsubscribe', { sub: id });
        endFn('stopped');
        return { captured: u.captured as number, dropped: u.dropped as number };
      },
    };
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }
}

/**
 * Connect to a stack's control channel. A missing socket, a refused connection, or a peer
 * that does not speak the protocol is an Error with a `code` and a message naming `path`.
 */
export function connectControl(path: string, opts: { timeoutMs?: number } = {}): Promise<ControlClient> {
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) {
      reject(codedError('ENOENT', `cannot attach to ${path}: no such control socket`));
      return;
    }
    const sock = createConnection(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(codedError('ETIMEDOUT', `cannot attach to ${path}: no answer`));
    }, opts.timeoutMs ?? 5000);
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(codedError(e.code ?? 'EIO', `cannot attach to ${path}: ${e.code === 'ECONNREFUSED' ? 'nobody is listening' : e.message}`));
    });
    sock.once('connect', () => {
      const c = new ControlClient(sock, path);
      c.request('hello')
        .then((r) => {
          clearTimeout(timer);
          c.name = String(r.name ?? '');
          resolve(c);
        })
        .catch((e: Error) => {
          clearTimeout(timer);
          c.close();
          reject(codedError('EPROTO', `cannot attach to ${path}: ${e.message}`));
        });
    });
  });
}
