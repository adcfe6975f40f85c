/*
 * `bsdnet tun`: run a bsdnet host behind a Linux TUN device until SIGINT/SIGTERM.
 *
 *   bsdnet tun --name NAME --addr A/LEN [--addr6 A/LEN] [--gw A] [--gw6 A]
 *              [--echo PORT] [--serve-http PORT] [--control PATH] [--configure-host]
 *              [--netns NS] [--mtu N] [--tap] [--quiet]
 *
 * The host has address A on the device (and A6 with --addr6), a default route through --gw
 * (--gw6), answers ping, and optionally runs echo services and an HTTP server. With
 * --configure-host the Linux side of the device gets the gateway addresses (same prefix
 * lengths) and is brought up with iproute2. --control serves the stack's sysctl tree and
 * taps on a Unix socket for `bsdnet netstat|sysctl|tcpdump --attach PATH`. On exit the
 * device is removed and the interface counters are printed.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type Duplex, Readable } from 'node:stream';
import type { Server as NetServer } from '../api/net.js';
import { Stack } from '../api/stack.js';
import type { UdpSocket } from '../api/dgram.js';
import type { Ifnet } from '../net/if.js';
import { tun_create, tun_softc } from '../net/if_tun.js';

const USAGE = `usage: bsdnet tun --name NAME --addr A/LEN [options]

Runs a bsdnet host behind the Linux TUN device NAME (created, or attached if it exists and is
persistent) until interrupted (SIGINT/SIGTERM). Needs root (or CAP_NET_ADMIN).

options:
  --name NAME          Linux interface name (also the interface's name in bsdnet)
  --addr A/LEN         bsdnet's IPv4 address on the device (e.g. 10.99.0.2/24)
  --addr6 A/LEN        bsdnet's IPv6 address (e.g. fd00:99::2/64)
  --gw A               default IPv4 route through A (the Linux side of the device)
  --gw6 A              default IPv6 route through A
  --echo PORT          echo service (RFC 862) on PORT, UDP and TCP, IPv4 and IPv6
  --serve-http PORT    serve HTTP (node:http over bsdnet TCP) on PORT: GET / (index),
                       GET /bytes/N (N bytes of a deterministic payload), POST /sha256
  --control PATH       serve the stack's sysctl tree on the Unix socket PATH
                       (for bsdnet netstat|sysctl|tcpdump --attach PATH)
  --configure-host     give the Linux side of the device --gw (and --gw6) with the
                       prefix length of --addr (--addr6), and bring it up (iproute2)
  --netns NS           create the device in network namespace NS (ip netns add NS)
  --mtu N              set the device MTU
  --tap                a TAP device (Ethernet frames, ARP/ND) instead of TUN
  --quiet              print only errors
  -h, --help           this text
`;

interface TunArgs {
  name: string;
  addr: string;
  addr6: string | null;
  gw: string | null;
  gw6: string | null;
  echo: number | null;
  serveHttp: number | null;
  control: string | null;
  configureHost: boolean;
  netns: string | null;
  mtu: number | undefined;
  tap: boolean;
  quiet: boolean;
}

class UsageError extends Error {}

function parsePort(opt: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new UsageError(`${opt}: bad port '${v}'`);
  return n;
}

export function parseTunArgs(argv: string[]): TunArgs | 'help' {
  const a: TunArgs = {
    name: '',
    addr: '',
    addr6: null,
    gw: null,
    gw6: null,
    echo: null,
    serveHttp: null,
    control: null,
    configureHost: false,
    netns: null,
    mtu: undefined,
    tap: false,
    quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let opt = argv[i] as string;
    let val: string | undefined;
    const eq = opt.indexOf('=');
    if (opt.startsWith('--') && eq > 0) {
      val = opt.slice(eq + 1);
      opt = opt.slice(0, eq);
    }
    const value = (): string => {
      if (val !== undefined) return val;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${opt} needs a value`);
      return v;
    };
    switch (opt) {
      case '-h':
      case '--help':
        return 'help';
      case '--name':
        a.name = value();
        break;
      case '--addr':
        a.addr = value();
        break;
      case '--addr6':
        a.addr6 = value();
        break;
      case '--gw':
        a.gw = value();
        break;
      case '--gw6':
        a.gw6 = value();
        break;
      case '--echo':
        a.echo = parsePort(opt, value());
        break;
      case '--serve-http':
        a.serveHttp = parsePort(opt, value());
        break;
      case '--control':
        a.control = value();
        break;
      case '--configure-host':
        a.configureHost = true;
        break;
      case '--netns':
        a.netns = value();
        break;
      case '--mtu': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 68 || n > 65535) throw new UsageError(`--mtu: bad MTU '${v}'`);
        a.mtu = n;
        break;
      }
      case '--tap':
        a.tap = true;
        break;
      case '--quiet':
      case '-q':
        a.quiet = true;
        break;
      default:
        throw new UsageError(`unknown option '${opt}'`);
    }
  }
  if (a.name === '') throw new UsageError('--name is required');
  if (a.addr === '') throw new UsageError('--addr is required');
  if (!a.addr.includes('/')) throw new UsageError(`--addr: give a prefix length (A/LEN), e.g. ${a.addr}/24`);
  if (a.addr6 !== null && !a.addr6.includes('/')) throw new UsageError(`--addr6: give a prefix length (A/LEN), e.g. ${a.addr6}/64`);
  if (a.configureHost && a.gw === null && a.gw6 === null)
    throw new UsageError('--configure-host needs --gw (and/or --gw6): the address to give the Linux side');
  if (a.gw6 !== null && a.addr6 === null) throw new UsageError('--gw6 needs --addr6');
  return a;
}

/** Largest body /bytes/N serves (16 GiB). */
export const PAYLOAD_MAX = 16 * 2 ** 30;
const PAYLOAD_CHUNK = 64 * 1024;

/**
 * The deterministic payload of /bytes/N: xorshift32 (Marsaglia 2003) from a fixed seed, one
 * 32-bit little-endian word per step, truncated to n bytes. Every prefix is the same, so a
 * client can check any length by hash (tests and the bench compute it with this function).
 */
export function* payloadChunks(n: number, chunk = PAYLOAD_CHUNK): Generator<Buffer> {
  let x = 0x2545f491;
  for (let off = 0; off < n; off += chunk) {
    const len = Math.min(chunk, n - off);
    const words = new Uint32Array(Math.ceil(len / 4));
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    yield Buffer.from(words.buffer, 0, len);
  }
}

/** SHA-256 (hex) of the first n bytes of the payload. */
export function payloadSha256(n: number): string {
  const h = createHash('sha256');
  for (const c of payloadChunks(n)) h.update(c);
  return h.digest('hex');
}

/**
 * The HTTP service of `bsdnet tun --serve-http`:
 *   GET /          a short index (text/plain)
 *   GET /bytes/N   N bytes of the deterministic payload (payloadChunks), streamed
 *   POST /sha256   reads the request body; answers "<sha256 hex> <length>"
 */
function serveHttp(name: string, req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const bytes = /^\/bytes\/(\d+)$/.exec(url);
  if ((req.method === 'GET' || req.method === 'HEAD') && url === '/') {
    const body =
      `bsdnet ${name}: node:http over bsdnet TCP\n` +
      `  GET /bytes/N   N bytes of a deterministic xorshift32 payload (N <= ${PAYLOAD_MAX})\n` +
      '  POST /sha256   answers the SHA-256 and length of the request body\n';
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if ((req.method === 'GET' || req.method === 'HEAD') && bytes !== null) {
    const n = Number(bytes[1]);
    if (!Number.isSafeInteger(n) || n > PAYLOAD_MAX) {
      res.writeHead(413, { 'content-type': 'text/plain' });
      res.end(`at most ${PAYLOAD_MAX} bytes\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const src = Readable.from(payloadChunks(n), { objectMode: false });
    src.pipe(res);
    res.on('close', () => src.destroy());
    return;
  }
  if (req.method === 'POST' && url === '/sha256') {
    const h = createHash('sha256');
    let len = 0;
    req.on('data', (d: Buffer) => {
      h.update(d);
      len += d.length;
    });
    req.on('end', () => {
      const body = `${h.digest('hex')} ${len}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
}

/** listen(port) on every address of the stack (dual-stack '::'); resolves once listening. */
function listenAll(srv: NetServer, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error): void => reject(e);
    srv.once('error', onErr);
    srv.listen(port, () => {
      srv.off('error', onErr);
      resolve();
    });
  });
}

/** Stop listening and reset the connections still open (idle keep-alive ones would hold close()). */
function closeServer(srv: NetServer, conns: Set<Duplex>): Promise<void> {
  return new Promise((resolve) => {
    srv.close(() => resolve());
    for (const c of conns) c.destroy();
  });
}

/** Remember open connections of a server until they close. */
function track(conns: Set<Duplex>, sock: Duplex): Duplex {
  conns.add(sock);
  sock.once('close', () => conns.delete(sock));
  return sock;
}

/** Run iproute2 (in the namespace, if any); throws with its stderr. */
function ip(netns: string | null, args: string[]): void {
  const full = netns !== null ? ['-n', netns, ...args] : args;
  try {
    execFileSync('ip', full, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; code?: string; message: string };
    const why = err.code === 'ENOENT' ? "the 'ip' command (iproute2) is not installed" : (err.stderr?.toString().trim() ?? err.message);
    throw Object.assign(new Error(`ip ${full.join(' ')}: ${why}`), { code: err.code ?? 'EIO' });
  }
}

function prefixLen(cidr: string): string {
  return cidr.slice(cidr.indexOf('/') + 1);
}

export async function tunMain(argv: string[]): Promise<number> {
  let args: TunArgs | 'help';
  try {
    args = parseTunArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`bsdnet tun: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const say = (s: string): void => {
    if (!args.quiet) process.stdout.write(`${s}\n`);
  };
  const stack = new Stack({ name: args.name });
  const net = stack.net;
  let ifp: Ifnet;
  try {
    ifp = tun_create(stack.vnet, { name: args.name, netns: args.netns ?? undefined, mtu: args.mtu, mode: args.tap ? 'tap' : 'tun' });
  } catch (e) {
    stack.destroy();
    const err = e as Error & { code?: string };
    process.stderr.write(`bsdnet tun: ${err.message}\n`);
    return 1;
  }
  const closers: (() => Promise<void> | void)[] = [];
  const shutdown = async (): Promise<void> => {
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch {
        // best effort: the stack goes away next
      }
    }
    stack.destroy();
  };
  try {
    stack.addAddress(ifp, args.addr);
    if (args.addr6 !== null) stack.addAddress(ifp, args.addr6);
    if (args.configureHost) {
      if (args.gw !== null) ip(args.netns, ['addr', 'add', `${args.gw}/${prefixLen(args.addr)}`, 'dev', ifp.if_xname]);
      if (args.gw6 !== null && args.addr6 !== null) ip(args.netns, ['-6', 'addr', 'add', `${args.gw6}/${prefixLen(args.addr6)}`, 'dev', ifp.if_xname, 'nodad']);
      ip(args.netns, ['link', 'set', ifp.if_xname, 'up']);
    }
    if (args.gw !== null) stack.addRoute('default', args.gw, { interface: ifp });
    if (args.gw6 !== null) stack.addRoute('::/0', args.gw6, { interface: ifp });
    if (args.echo !== null) {
      const port = args.echo;
      const families: ('udp4' | 'udp6')[] = args.addr6 !== null ? ['udp4', 'udp6'] : ['udp4'];
      for (const type of families) {
        const s: UdpSocket = stack.dgram.createSocket(type === 'udp6' ? { type, ipv6Only: true } : { type });
        s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
        s.on('error', (e) => process.stderr.write(`bsdnet tun: udp echo (${type}): ${e.message}\n`));
        await new Promise<void>((resolve) => s.bind(port, resolve));
        closers.push(() => {
          s.close();
        });
      }
      // TCP echo (RFC 862): everything received is sent back; the peer's FIN ends our half too.
      const conns = new Set<Duplex>();
      const srv = net.createServer((sock) => {
        track(conns, sock);
        sock.on('error', () => sock.destroy());
        sock.pipe(sock);
      });
      await listenAll(srv, port);
      srv.on('error', (e) => process.stderr.write(`bsdnet tun: tcp echo: ${e.message}\n`));
      closers.push(() => closeServer(srv, conns));
      say(`echo on port ${port} (UDP and TCP)`);
    }
    if (args.serveHttp !== null) {
      const port = args.serveHttp;
      const http = createHttpServer({ keepAliveTimeout: 5000 }, (req, res) => serveHttp(stack.name, req, res));
      const conns = new Set<Duplex>();
      const srv = net.createServer((sock) => http.emit('connection', track(conns, sock)));
      await listenAll(srv, port);
      srv.on('error', (e) => process.stderr.write(`bsdnet tun: http: ${e.message}\n`));
      closers.push(() => closeServer(srv, conns));
      say(`http on port ${port} (/, /bytes/N)`);
    }
    if (args.control !== null) {
      // The control channel lives in src/api/control.ts (the tools); use it if this build has it.
      const spec = '../api/control.js';
      const mod = (await import(spec).catch(() => null)) as {
        listenControl?: (V: unknown, path: string) => Promise<{ close(): Promise<void> }>;
      } | null;
      if (mod === null || typeof mod.listenControl !== 'function')
        throw Object.assign(new Error('--control: this build has no control channel'), { code: 'ENOTSUP' });
      const srv = await mod.listenControl(stack.vnet, args.control);
      closers.push(() => srv.close());
      say(`control socket ${args.control}`);
    }
  } catch (e) {
    await shutdown();
    process.stderr.write(`bsdnet tun: ${(e as Error).message}\n`);
    return 1;
  }
  const sc = tun_softc(ifp);
  say(
    `bsdnet tun: ${ifp.if_xname} up (mtu ${ifp.if_mtu}${args.netns ? `, netns ${args.netns}` : ''}): ${args.addr}` +
      `${args.addr6 ? ` ${args.addr6}` : ''}${args.gw ? ` via ${args.gw}` : ''}${args.gw6 ? ` via ${args.gw6}` : ''}; ready (Ctrl-C to stop)`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      // A second signal while shutting down ends the process at once.
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  const d = ifp.if_data;
  const st = sc?.stats();
  await shutdown();
  say(
    `bsdnet tun: ${signal}: ${ifp.if_xname} removed; ipackets ${d.ipackets} ibytes ${d.ibytes} iqdrops ${d.iqdrops} ierrors ${d.ierrors}` +
      ` opackets ${d.opackets} obytes ${d.obytes} oerrors ${d.oerrors} oqdrops ${d.oqdrops}${st ? ` ringdrops ${st.ringDrops}` : ''}`,
  );
  return 0;
}
