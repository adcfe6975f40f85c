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
import { accessSync, constants, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
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

  /** Remove everything: the stack (and with it the device), then the namespace. */
  close(): void {
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
