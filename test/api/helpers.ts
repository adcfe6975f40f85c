/*
 * Helpers for the net/http/tls API tests: two Stacks joined by an epair (a: 10.0.0.1,
 * b: 10.0.0.2) on the real clock, a promise with a deadline, and stream collectors.
 */

import { once } from 'node:events';
import { Stack, type StackOptions } from '../../src/api/stack.js';
import type { Server, Socket } from '../../src/api/net.js';

export interface Pair {
  a: Stack;
  b: Stack;
  destroy(): void;
}

/** Two stacks on one cable: a (10.0.0.1/24) and b (10.0.0.2/24). */
export function pair(opts: StackOptions = {}): Pair {
  const a = new Stack({ ...opts, name: 'a', seed: 101 });
  const b = new Stack({ ...opts, name: 'b', seed: 202 });
  const [ea, eb] = Stack.epair(a, b);
  a.addAddress(ea, '10.0.0.1/24');
  b.addAddress(eb, '10.0.0.2/24');
  return {
    a,
    b,
    destroy() {
      a.destroy();
      b.destroy();
    },
  };
}

/** Reject if `p` has not settled within `ms` (real time). */
export function within<T>(ms: number, p: Promise<T>, what = 'operation'): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what} did not complete within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** Listen and resolve with the port once 'listening' fires. */
export async function listen(server: Server, port = 0, host?: string): Promise<number> {
  if (host === undefined) server.listen(port);
  else server.listen(port, host);
  await once(server, 'listening');
  const addr = server.address();
  if (addr === null) throw new Error('server has no address');
  return addr.port;
}

/** Everything a socket delivers until 'end'. */
export async function readAll(s: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  await once(s, 'end');
  return Buffer.concat(parts);
}

/** Resolve when the socket has emitted 'close'; gives the hadError flag. */
export function closed(s: Socket): Promise<boolean> {
  return new Promise((resolve) => s.once('close', (hadError: boolean) => resolve(hadError)));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
