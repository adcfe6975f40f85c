/*
 * Helpers for the tool tests: a captured ToolIO, a small host with UDP traffic, and a child
 * process running test/tools/child_stack.ts with its control channel.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UdpSocket } from '../../src/api/dgram.js';
import { Stack } from '../../src/api/stack.js';
import type { ToolIO } from '../../src/cli/toolargs.js';
import { VirtualClock } from '../../src/kern/clock.js';
import type { Ifnet } from '../../src/net/if.js';

export interface Captured {
  io: ToolIO;
  out: () => string;
  err: () => string;
}

export function captured(stack?: Stack, interrupt?: Promise<void>): Captured {
  let out = '';
  let err = '';
  const io: ToolIO = {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
  };
  if (stack) io.vnet = stack.vnet;
  if (interrupt) io.interrupt = interrupt;
  return { io, out: () => out, err: () => err };
}

/** Let nextTick/immediate work (dgram events) run. */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

export interface Hosts {
  clock: VirtualClock;
  host: Stack;
  peer: Stack;
  ha: Ifnet;
  pb: Ifnet;
  bound: UdpSocket;
  dual: UdpSocket;
  conn: UdpSocket;
  sink: UdpSocket;
  destroy(): void;
}

/** host (10.0.0.1, 2001:db8::1) — epair — peer (10.0.0.2), with UDP sockets on the host. */
export async function hosts(): Promise<Hosts> {
  const clock = new VirtualClock();
  const host = new Stack({ name: 'host', seed: 1, clock });
  const peer = new Stack({ name: 'peer', seed: 2, clock });
  const [ha, pb] = Stack.epair(host, peer);
  host.addAddress(ha, '10.0.0.1/24');
  peer.addAddress(pb, '10.0.0.2/24');
  host.addAddress(ha, '2001:db8::1/64');
  host.addRoute('192.168.0.0/16', '10.0.0.254');
  host.addRoute('2001:db8:99::/48', '2001:db8::fe');
  const sink = peer.dgram.createSocket('udp4');
  sink.bind(9999, '10.0.0.2');
  const bound = host.dgram.createSocket('udp4');
  bound.bind(5353);
  const dual = host.dgram.createSocket('udp6');
  dual.bind(7000);
  const conn = host.dgram.createSocket('udp4');
  conn.connect(9999, '10.0.0.2');
  await settle();
  // Let address announcements (gratuitous ARP, DAD) finish before a test looks at traffic.
  clock.advance(3e9);
  await settle();
  return {
    clock,
    host,
    peer,
    ha,
    pb,
    bound,
    dual,
    conn,
    sink,
    destroy: () => {
      for (const s of [sink, bound, dual, conn]) s.close();
      host.destroy();
      peer.destroy();
    },
  };
}

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'bsdnet.js');
const CHILD = fileURLToPath(new URL('./child_stack.js', import.meta.url));
export const CHILD_TCP = fileURLToPath(new URL('./child_tcp.js', import.meta.url));

export function tmpDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bsdnet-tools-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Child {
  proc: ChildProcess;
  path: string;
  info: { ifname: string; connectedPort: number; pid: number; [k: string]: unknown };
  stop(): Promise<void>;
}

/**
 * Start child_stack.js (or `script`, e.g. child_tcp.js) serving its control channel on
 * `path`; resolves once it is READY.
 */
export function startChild(path: string, script = CHILD): Promise<Child> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [script, path], { stdio: ['pipe', 'pipe', 'pipe'] });
    let buf = '';
    let errBuf = '';
    const timer = setTimeout(() => {
      proc.kill();
      reject(new Error(`child did not become ready: ${errBuf}`));
    }, 10000);
    proc.stderr?.on('data', (d: Buffer) => {
      errBuf += d.toString();
    });
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /READY (.*)\n/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve({
          proc,
          path,
          info: JSON.parse(m[1] as string),
          stop: () =>
            new Promise((r) => {
              if (proc.exitCode !== null) {
                r();
                return;
              }
              proc.once('exit', () => r());
              proc.stdin?.end();
            }),
        });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited early (${code}): ${errBuf}`));
    });
  });
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run `node bin/bsdnet.js ARGS` asynchronously (the child stack keeps running meanwhile). */
export function bsdnet(args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => p.kill(), opts.timeoutMs ?? 15000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

/** Is tshark on the PATH? */
export function haveTshark(): boolean {
  const r = spawnSync('tshark', ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}
