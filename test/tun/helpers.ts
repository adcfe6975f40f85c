/*
 * Helpers for the TUN interop tests: the Linux kernel's own stack is the peer.
 *
 * Every test makes its own network namespace (bsdnet-t-<random>) and creates its TUN
 * device inside it (tun_create's netns option: the fd stays in this process, so the stack
 * runs here and the test can look inside it), uses only addresses inside that namespace,
 * and removes everything at the end, also on failure (TunLab.close()). Linux-side programs
 * (ping, socat, python3) run with `ip netns exec`, asynchronously — the stack runs on this
 * thread's event loop and must keep running while they do — and always with a timeout.
 */

import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, unlinkSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { m_freem, m_tobytes } from '../../src/mbuf/mbuf.js';
import { Stack } from '../../src/api/stack.js';
import type { Ifnet } from '../../src/net/if.js';
import { type TunOptions, tun_create } from '../../src/net/if_tun.js';

/** Why the interop tests cannot run here, or null if they can. */
export function tunSkipReason(): string | null {
  if (process.platform !== 'linux') return 'TUN interop tests need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'TUN interop tests need root (network namespaces and /dev/net/tun)';
  if (!existsSync('/dev/net/tun')) return 'TUN interop tests need /dev/net/tun (modprobe tun)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return "TUN interop tests need iproute2 with 'ip netns' (apt-get install iproute2)";
  }
  return null;
}

/** Is `cmd` on the PATH? */
export function have(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      accessSync(`${dir}/${cmd}`, constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command (no shell), bounded by `timeoutMs`; never rejects. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string | Buffer } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 10_000, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code as number) : null) : 0;
      resolve({ code, stdout: stdout.toString('latin1'), stderr: stderr.toString() });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Sleep without blocking the event loop. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `cond` every `stepMs` until true or `timeoutMs` passed; returns the last value. */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}

/** A network namespace that removes itself. */
export class Netns {
  readonly name: string;
  private readonly children = new Set<ChildProcess>();

  constructor(prefix = 'bsdnet-t') {
    this.name = `${prefix}-${randomBytes(4).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', this.name]);
    execFileSync('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']);
  }

  /** iproute2 in this namespace (synchronous: configuration only, never traffic). */
  ip(...args: string[]): string {
    return execFileSync('ip', ['-n', this.name, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Run a program in the namespace, bounded. */
  exec(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string | Buffer } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** Start a long-running program in the namespace; killed by close(). */
  spawn(cmd: string, args: string[]): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(c);
    c.on('exit', () => this.children.delete(c));
    return c;
  }

  sysctl(name: string, value: string): void {
    execFileSync('ip', ['netns', 'exec', this.name, 'sysctl', '-q', '-w', `${name}=${value}`]);
  }

  close(): void {
    for (const c of this.children) if (c.pid !== undefined && c.exitCode === null) c.kill('SIGKILL');
    this.children.clear();
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/** Wait until a spawned program prints `marker` on stdout (bounded). */
export function waitOutput(c: ChildProcess, marker: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let errbuf = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for '${marker}' (stdout: ${buf.slice(-300)} stderr: ${errbuf.slice(-300)})`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString();
      if (buf.includes(marker)) {
        cleanup();
        resolve(buf);
      }
    };
    const onErr = (d: Buffer): void => {
      errbuf += d.toString();
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`exited (${code}) before '${marker}': ${errbuf.slice(-500)}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      c.stdout?.off('data', onData);
      c.stderr?.off('data', onErr);
      c.off('exit', onExit);
    };
    c.stdout?.on('data', onData);
    c.stderr?.on('data', onErr);
    c.on('exit', onExit);
  });
}

/** The standard lab: Linux 10.99.0.1 / fd00:99::1 on the device, bsdnet .2 / ::2. */
export const LINUX4 = '10.99.0.1';
export const BSD4 = '10.99.0.2';
export const LINUX6 = 'fd00:99::1';
export const BSD6 = 'fd00:99::2';
export const TUNNAME = 'bt0';

/** A namespace with a TUN device whose other end is a bsdnet Stack in this process. */
export class TunLab {
  readonly ns: Netns;
  readonly stack: Stack;
  readonly ifp: Ifnet;

  constructor(opts: { tun?: TunOptions; routes?: boolean } = {}) {
    this.ns = new Netns();
    let stack: Stack | null = null;
    try {
      stack = new Stack({ name: 'bsdnet', seed: 7 });
      this.ifp = tun_create(stack.vnet, { name: TUNNAME, netns: this.ns.name, ...opts.tun });
      this.stack = stack;
      this.ns.ip('addr', 'add', `${LINUX4}/24`, 'dev', TUNNAME);
      this.ns.ip('-6', 'addr', 'add', `${LINUX6}/64`, 'dev', TUNNAME, 'nodad');
      this.ns.ip('link', 'set', TUNNAME, 'up');
      stack.addAddress(this.ifp, `${BSD4}/24`);
      stack.addAddress(this.ifp, `${BSD6}/64`);
      if (opts.routes) {
        stack.addRoute('default', LINUX4, { interface: this.ifp });
        stack.addRoute('::/0', LINUX6, { interface: this.ifp });
      }
    } catch (e) {
      stack?.destroy();
      this.ns.close();
      throw e;
    }
  }

  get V() {
    return this.stack.vnet;
  }

  /** False once close() ran (timers still pending must not touch the stack). */
  alive = true;

  /** Remove everything: the stack (and with it the device), then the namespace. */
  close(): void {
    this.alive = false;
    try {
      this.stack.destroy();
    } finally {
      this.ns.close();
    }
  }
}

/**
 * A UDP echo server on the Linux side (python3): echoes every datagram to its sender until
 * `count` were echoed or `timeoutS` passed; prints "ready" once bound.
 */
export function pyUdpEcho(ns: Netns, family: 4 | 6, addr: string, port: number, count: number, timeoutS = 10): ChildProcess {
  const script = [
    'import socket, sys, time',
    `s = socket.socket(socket.AF_INET${family === 6 ? '6' : ''}, socket.SOCK_DGRAM)`,
    `s.bind((${JSON.stringify(addr)}, ${port}))`,
    `s.settimeout(${timeoutS})`,
    "print('ready', flush=True)",
    'n = 0',
    `end = time.time() + ${timeoutS}`,
    `while n < ${count} and time.time() < end:`,
    '    try:',
    '        d, a = s.recvfrom(65535)',
    '    except socket.timeout:',
    '        break',
    '    s.sendto(d, a)',
    '    n += 1',
    "print('echoed', n, flush=True)",
  ].join('\n');
  return ns.spawn('python3', ['-c', script]);
}

/*
 * TCP interop helpers.
 */

/** Why a TCP interop test cannot run here (root, /dev/net/tun, ip netns, then the tools), or false. */
export function tcpSkip(...tools: string[]): string | false {
  const why = tunSkipReason();
  if (why !== null) return why;
  const missing = tools.filter((t) => !have(t));
  return missing.length > 0 ? `needs ${missing.join(', ')} (installed by .ci/run)` : false;
}

/** Reject if `p` has not settled within `ms`. */
export function within<T>(ms: number, p: Promise<T>, what = 'operation'): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} did not complete within ${ms} ms`)), ms);
    }),
  ]);
}

/** Resolve with a spawned program's stdout when it exits 0 (bounded); reject otherwise. */
export function finished(c: ChildProcess, timeoutMs: number, what = 'program'): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    c.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    c.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`${what} timed out after ${timeoutMs} ms (stdout: ${out.slice(-300)} stderr: ${err.slice(-300)})`));
    }, timeoutMs);
    c.on('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${what} exited ${code}: ${err.slice(-500)}`));
    });
  });
}

/**
 * A python3 TCP sink on the Linux side: accepts one connection on addr:port, reads to EOF,
 * prints "ready" once listening and "sha <hex> <bytes>" at the end.
 */
export function pySink(ns: Netns, family: 4 | 6, addr: string, port: number): ChildProcess {
  const script = [
    'import hashlib, socket',
    `s = socket.socket(socket.AF_INET${family === 6 ? '6' : ''}, socket.SOCK_STREAM)`,
    's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    `s.bind((${JSON.stringify(addr)}, ${port}))`,
    's.listen(1)',
    "print('ready', flush=True)",
    'c, a = s.accept()',
    'h = hashlib.sha256()',
    'buf = bytearray(1 << 20)',
    'mv = memoryview(buf)',
    'n = 0',
    'while True:',
    '    k = c.recv_into(buf)',
    '    if k == 0:',
    '        break',
    '    h.update(mv[:k])',
    '    n += k',
    'c.close()',
    "print('sha', h.hexdigest(), n, flush=True)",
  ].join('\n');
  return ns.spawn('python3', ['-c', script]);
}

/**
 * A python3 TCP source on the Linux side: accepts one connection on addr:port, sends
 * `nbytes` random bytes (os.urandom), closes, prints "ready" once listening and
 * "sha <hex> <bytes>" of what it sent.
 */
export function pySource(ns: Netns, family: 4 | 6, addr: string, port: number, nbytes: number): ChildProcess {
  const script = [
    'import hashlib, os, socket',
    `s = socket.socket(socket.AF_INET${family === 6 ? '6' : ''}, socket.SOCK_STREAM)`,
    's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    `s.bind((${JSON.stringify(addr)}, ${port}))`,
    's.listen(1)',
    "print('ready', flush=True)",
    'c, a = s.accept()',
    'h = hashlib.sha256()',
    `left = ${nbytes}`,
    'while left > 0:',
    '    b = os.urandom(min(left, 1 << 20))',
    '    h.update(b)',
    '    c.sendall(b)',
    '    left -= len(b)',
    'c.shutdown(socket.SHUT_WR)',
    'c.recv(1)',
    'c.close()',
    `print('sha', h.hexdigest(), ${nbytes}, flush=True)`,
  ].join('\n');
  return ns.spawn('python3', ['-c', script]);
}

/** Parse "sha <hex> <n>" from a peer's output. */
export function parseSha(out: string): { sha: string; bytes: number } {
  const m = /sha ([0-9a-f]{64}) (\d+)/.exec(out);
  if (m === null) throw new Error(`no hash in: ${out.slice(-300)}`);
  return { sha: m[1] as string, bytes: Number(m[2]) };
}

/**
 * Random loss on the Linux side of the device with nftables (the kernel here has no netem):
 * `pct` percent of the packets in each direction through `dev` are dropped (numgen random).
 */
export function nftLoss(ns: Netns, dev: string, pct: number): void {
  const rules = [
    'table inet bsdnet_loss {',
    '  chain in {',
    '    type filter hook input priority 0; policy accept;',
    `    iifname "${dev}" meta l4proto tcp numgen random mod 1000 < ${Math.round(pct * 10)} counter drop`,
    '  }',
    '  chain out {',
    '    type filter hook output priority 0; policy accept;',
    `    oifname "${dev}" meta l4proto tcp numgen random mod 1000 < ${Math.round(pct * 10)} counter drop`,
    '  }',
    '}',
  ].join('\n');
  execFileSync('ip', ['netns', 'exec', ns.name, 'nft', '-f', '-'], { input: rules });
}

/** Packets dropped so far by nftLoss's rules (in, out). */
export function nftLossCounts(ns: Netns): { in: number; out: number } {
  const out = execFileSync('ip', ['netns', 'exec', ns.name, 'nft', 'list', 'table', 'inet', 'bsdnet_loss'], { encoding: 'utf8' });
  const counts = [...out.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
  return { in: counts[0] ?? 0, out: counts[1] ?? 0 };
}

export interface FaultStats {
  delayed: number;
  reordered: number;
}

/**
 * Delay and reordering on bsdnet's side of the device (the kernel here has no netem; see
 * specs/integration-notes.md): every packet in each direction is held `delayMs`, and with
 * probability `reorder` (seeded) another `reorderMs`, so later packets overtake it. Packets
 * to Linux are copied out of their mbufs when held (tcp_output's mbufs reference send-buffer
 * storage) and copied back into a fresh mbuf when released. Returns counters and a remover.
 */
export function tunFaults(
  lab: TunLab,
  opts: { delayMs: number; reorder: number; reorderMs: number; seed?: number },
): {
  stats: FaultStats;
  remove(): void;
} {
  const ifp = lab.ifp;
  const V = lab.V;
  const input = ifp.if_input;
  const output = ifp.if_output;
  const stats: FaultStats = { delayed: 0, reordered: 0 };
  let x = (opts.seed ?? 12345) >>> 0 || 1;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const hold = (): number => {
    stats.delayed++;
    if (rnd() < opts.reorder) {
      stats.reordered++;
      return opts.delayMs + opts.reorderMs;
    }
    return opts.delayMs;
  };
  let live = true;
  ifp.if_input = (i, m) => {
    setTimeout(() => {
      if (live && lab.alive) input(i, m);
    }, hold());
  };
  ifp.if_output = (i, m, dst, _ro) => {
    const family = (dst as { family: number }).family;
    const bytes = m_tobytes(m);
    m_freem(m);
    setTimeout(() => {
      if (!live || !lab.alive) return;
      const n = V.mbufs.devget(bytes, 0, bytes.length, i);
      if (n !== null) output(i, n, { family }, null);
    }, hold());
    return 0;
  };
  return {
    stats,
    remove(): void {
      live = false;
      ifp.if_input = input;
      ifp.if_output = output;
    },
  };
}

/** bsdnet side: connect, send `chunks`, end; resolve with the SHA-256 and count sent. */
export function bsdSend(sock: Duplex, chunks: Iterable<Buffer>): Promise<{ sha: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let n = 0;
    const it = chunks[Symbol.iterator]();
    sock.once('error', reject);
    const pump = (): void => {
      for (;;) {
        const r = it.next();
        if (r.done) {
          sock.end(() => resolve({ sha: h.digest('hex'), bytes: n }));
          return;
        }
        h.update(r.value);
        n += r.value.length;
        if (!sock.write(r.value)) {
          sock.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/** bsdnet side: read to EOF; resolve with the SHA-256 and count received. */
export function bsdRecv(sock: Duplex): Promise<{ sha: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let n = 0;
    sock.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    sock.once('end', () => resolve({ sha: h.digest('hex'), bytes: n }));
    sock.once('error', reject);
  });
}

/** Random chunks (1 MiB) totalling n bytes. */
export function* randomChunks(n: number, chunk = 1 << 20): Generator<Buffer> {
  for (let off = 0; off < n; off += chunk) yield randomBytes(Math.min(chunk, n - off));
}

/**
 * A packet capture on the Linux side of the device (tshark/dumpcap in the namespace, TCP
 * headers only). start() resolves once capturing; stop() ends it and returns the file.
 */
export class Capture {
  readonly file: string;
  private child: ChildProcess | null = null;

  constructor(
    private readonly ns: Netns,
    private readonly dev: string,
    private readonly filter = 'tcp',
  ) {
    this.file = `/tmp/${ns.name}-${randomBytes(3).toString('hex')}.pcap`;
  }

  async start(): Promise<void> {
    const c = this.ns.spawn('tshark', ['-q', '-n', '-i', this.dev, '-s', '128', '-f', this.filter, '-w', this.file]);
    this.child = c;
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const t = setTimeout(() => reject(new Error(`tshark did not start: ${err}`)), 10_000);
      c.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('Capturing on')) {
          clearTimeout(t);
          resolve();
        }
      });
      c.on('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`tshark exited ${code}: ${err}`));
      });
    });
    await sleep(200);
  }

  /** Stop capturing (after the last packets were written) and return the pcap path. */
  async stop(): Promise<string> {
    const c = this.child;
    if (c !== null && c.exitCode === null) {
      await sleep(300);
      const done = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGINT');
      await within(10_000, done, 'tshark stop');
    }
    return this.file;
  }

  /** tshark -r FILE -Y display -T fields -e f1 -e f2 … ; one array per packet. */
  async fields(display: string, fields: string[]): Promise<string[][]> {
    const args = ['-r', this.file, '-n', '-Y', display, '-T', 'fields', '-E', 'separator=|'];
    for (const f of fields) args.push('-e', f);
    const r = await run('tshark', args, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`tshark -r: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('|'));
  }

  remove(): void {
    try {
      unlinkSync(this.file);
    } catch {
      // never written
    }
  }
}
