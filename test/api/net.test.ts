/*
 * stack.net: the node:net-compatible Socket and Server over bsdnet's TCP, between two
 * Stacks on an epair, in real time with bounded waits. Echo, a 1 MiB transfer checked by
 * SHA-256, backpressure in both directions (a paused reader closes the window; the writer's
 * write() returns false and 'drain' comes only after the reader resumes), half-close with
 * and without allowHalfOpen, ECONNREFUSED, ECONNRESET from resetAndDestroy, EADDRINUSE,
 * setTimeout firing (real and virtual clock), keepalive expiry (ETIMEDOUT), ENETUNREACH,
 * server.close() semantics, maxConnections, argument handling.
 */

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import type { Socket } from '../../src/api/net.js';
import { Stack } from '../../src/api/stack.js';
import { VirtualClock } from '../../src/kern/clock.js';
import { closed, listen, pair, readAll, sleep, within } from './helpers.js';

const T = { timeout: 20_000 };

describe('stack.net', () => {
  it('echoes, with node-like addresses, events and counters', T, async () => {
    const { a, b, destroy } = pair();
    try {
      let serverSide: Socket | undefined;
      const server = b.net.createServer((s) => {
        serverSide = s;
        s.pipe(s);
      });
      const port = await listen(server, 0, '0.0.0.0');
      assert.equal(server.listening, true);
      assert.deepEqual(server.address(), { address: '0.0.0.0', family: 'IPv4', port });

      const c = a.net.connect(port, '10.0.0.2');
      assert.equal(c.connecting, true);
      assert.equal(c.pending, true);
      assert.equal(c.readyState, 'opening');
      const events: string[] = [];
      c.on('connect', () => events.push('connect'));
      c.on('ready', () => events.push('ready'));
      await within(5000, once(c, 'connect'), 'connect');
      assert.deepEqual(events, ['connect', 'ready']);
      assert.equal(c.connecting, false);
      assert.equal(c.pending, false);
      assert.equal(c.readyState, 'open');
      assert.equal(c.remoteAddress, '10.0.0.2');
      assert.equal(c.remotePort, port);
      assert.equal(c.remoteFamily, 'IPv4');
      assert.equal(c.localAddress, '10.0.0.1');
      assert.ok((c.localPort ?? 0) > 0);
      assert.deepEqual(c.address(), { address: '10.0.0.1', family: 'IPv4', port: c.localPort });

      const got = within(5000, readAll(c), 'echo');
      c.write('hello, ');
      c.end('bsdnet');
      assert.equal((await got).toString(), 'hello, bsdnet');
      assert.equal(c.bytesRead, 13);
      assert.equal(c.bytesWritten, 13);
      assert.ok(serverSide);
      assert.equal(serverSide.remoteAddress, '10.0.0.1');
      assert.equal(serverSide.remotePort, c.localPort);
      assert.equal(serverSide.localPort, port);
      assert.equal(await within(5000, closed(c), 'client close'), false);
      server.close();
      await within(5000, once(server, 'close'), 'server close');
    } finally {
      destroy();
    }
  });

  it('listens dual-stack on :: by default and accepts IPv4 (v4-mapped peer), as node', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const server = b.net.createServer((s) => s.end(`${s.remoteAddress}`));
      const port = await listen(server);
      assert.deepEqual(server.address(), { address: '::', family: 'IPv6', port });
      const c = a.net.connect({ port, host: '10.0.0.2' });
      const body = await within(5000, readAll(c), 'reply');
      assert.equal(body.toString(), '::ffff:10.0.0.1');
      server.close();
    } finally {
      destroy();
    }
  });

  it('moves 1 MiB each way intact (SHA-256)', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const data = randomBytes(1 << 20);
      const want = createHash('sha256').update(data).digest('hex');
      let serverHash = '';
      const server = b.net.createServer((s) => {
        const h = createHash('sha256');
        let n = 0;
        s.on('data', (d: Buffer) => {
          h.update(d);
          n += d.length;
        });
        s.on('end', () => {
          serverHash = h.digest('hex');
          assert.equal(n, data.length);
          // Reply with the same megabyte in uneven writes.
          for (let off = 0; off < data.length; off += 50_000) s.write(data.subarray(off, Math.min(off + 50_000, data.length)));
          s.end();
        });
      });
      const port = await listen(server, 0, '10.0.0.2');
      const c = a.net.connect({ port, host: '10.0.0.2', allowHalfOpen: true });
      for (let off = 0; off < data.length; off += 64 * 1024) c.write(data.subarray(off, off + 64 * 1024));
      c.end();
      const back = await within(15_000, readAll(c), '1 MiB echo');
      assert.equal(serverHash, want);
      assert.equal(back.length, data.length);
      assert.equal(createHash('sha256').update(back).digest('hex'), want);
      assert.equal(c.bytesWritten, data.length);
      assert.equal(c.bytesRead, data.length);
      await within(5000, closed(c), 'close');
      server.close();
    } finally {
      destroy();
    }
  });

  it('backpressure: a paused reader closes the window, write() returns false, drain comes after resume', T, async () => {
    const { a, b, destroy } = pair();
    try {
      let peer: Socket | undefined;
      const server = b.net.createServer({ pauseOnConnect: true }, (s) => {
        peer = s;
      });
      const port = await listen(server, 0, '10.0.0.2');
      const c = a.net.connect(port, '10.0.0.2');
      await within(5000, once(c, 'connect'), 'connect');
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let written = 0;
      // Write whenever the stream lets us. While the receiver's window is open, 'drain'
      // keeps coming (the send buffer empties onto the wire); once the paused receiver's
      // buffer is full the window closes and 'drain' stops. Bounded at 64 MiB.
      let stalled = false;
      while (!stalled && written < 64 << 20) {
        while (c.write(chunk)) written += chunk.length;
        written += chunk.length;
        const drained = await Promise.race([once(c, 'drain').then(() => true), sleep(300).then(() => false)]);
        stalled = !drained;
      }
      assert.ok(stalled, 'the writer never stalled: the paused reader did not close the window');
      let drained = false;
      c.once('drain', () => {
        drained = true;
      });
      await sleep(300);
      assert.equal(drained, false, "'drain' must wait for the reader");
      assert.ok(peer);
      // The data is parked in the receiver's socket buffer, not in JS memory.
      const kso = peer.kernelSocket;
      assert.ok(kso !== null && kso.so_rcv.sb_ccc > 0, 'receive buffer holds the unread bytes');
      assert.ok(c.writableLength > 0);
      let received = 0;
      peer.on('data', (d: Buffer) => {
        received += d.length;
      });
      peer.resume();
      await within(10_000, once(c, 'drain'), 'drain');
      assert.ok(drained);
      c.end();
      await within(10_000, once(peer, 'end'), 'end');
      assert.equal(received, written);
      server.close();
    } finally {
      destroy();
    }
  });

  it('backpressure on the reading side: pause() leaves bytes in so_rcv, resume() delivers them all', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const total = 4 << 20;
      const server = b.net.createServer((s) => {
        const chunk = Buffer.alloc(64 * 1024, 0x62);
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            sent += chunk.length;
            if (!s.write(chunk)) {
              s.once('drain', pump);
              return;
            }
          }
          s.end();
        };
        pump();
      });
      const port = await listen(server, 0, '10.0.0.2');
      const c = a.net.connect(port, '10.0.0.2');
      let n = 0;
      let pausedOnce = false;
      c.on('data', (d: Buffer) => {
        n += d.length;
        if (n > 256 * 1024 && !pausedOnce) {
          pausedOnce = true;
          c.pause();
        }
      });
      await within(5000, once(c, 'pause'), 'pause');
      await sleep(300);
      const stalledAt = n;
      assert.ok(stalledAt < total, 'the sender must be held back');
      // The stream buffers at most its high-water mark; the rest waits in the socket buffer
      // or the sender's.
      assert.ok(c.readableLength <= c.readableHighWaterMark + 64 * 1024);
      const kso = c.kernelSocket;
      assert.ok(kso !== null && kso.so_rcv.sb_ccc > 0);
      const ended = once(c, 'end');
      c.resume();
      await within(15_000, ended, 'end');
      assert.equal(n, total);
      server.close();
    } finally {
      destroy();
    }
  });

  it('half-close with allowHalfOpen: the side that ended still receives', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const server = b.net.createServer({ allowHalfOpen: true }, (s) => {
        const parts: Buffer[] = [];
        s.on('data', (d: Buffer) => parts.push(d));
        s.on('end', () => {
          // Peer's FIN arrived; we may still write.
          setTimeout(() => s.end(`got ${Buffer.concat(parts).toString()}`), 50);
        });
      });
      const port = await listen(server, 0, '10.0.0.2');
      const c = a.net.connect({ port, host: '10.0.0.2', allowHalfOpen: true });
      c.end('request');
      await within(5000, once(c, 'finish'), 'finish');
      assert.equal(c.writable, false);
      const reply = await within(5000, readAll(c), 'reply after half-close');
      assert.equal(reply.toString(), 'got request');
      assert.equal(await within(5000, closed(c), 'close'), false);
      server.close();
    } finally {
      destroy();
    }
  });

  it('without allowHalfOpen, the peer FIN ends our side automatically', T, async () => {
    const { a, b, destroy } = pair();
    try {
      let serverClosed: Promise<boolean> | undefined;
      const server = b.net.createServer((s) => {
        serverClosed = closed(s);
        s.resume();
      });
      const port = await listen(server, 0, '10.0.0.2');
      const c = a.net.connect({ port, host: '10.0.0.2', allowHalfOpen: true });
      await within(5000, once(c, 'connect'), 'connect');
      c.end();
      // The server (allowHalfOpen false) answers our FIN with its own.
      await within(5000, readAll(c), 'end');
      assert.ok(serverClosed);
      assert.equal(await within(5000, serverClosed, 'server socket close'), false);
      await within(5000, closed(c), 'client close');
      server.close();
    } finally {
      destroy();
    }
  });

  it('connect to a closed port: ECONNREFUSED like node', T, async () => {
    const { a, destroy } = pair();
    try {
      const c = a.net.connect(9, '10.0.0.2');
      const [err] = (await within(5000, once(c, 'error'), 'error')) as [NodeJS.ErrnoException & { address?: string; port?: number }];
      assert.equal(err.code, 'ECONNREFUSED');
      assert.equal(err.syscall, 'connect');
      assert.equal(err.address, '10.0.0.2');
      assert.equal(err.port, 9);
      assert.equal(err.message, 'connect ECONNREFUSED 10.0.0.2:9');
      assert.equal(await within(5000, closed(c), 'close'), true);
      assert.equal(c.destroyed, true);
    } finally {
      destroy();
    }
  });

  it('resetAndDestroy on one side: the other gets ECONNRESET', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const server = b.net.createServer((s) => {
        s.once('data', () => s.resetAndDestroy());
      });
      const port = await listen(server, 0, '10.0.0.2');
      const c = a.net.connect(port, '10.0.0.2');
      c.write('trigger');
      const [err] = (await within(5000, once(c, 'error'), 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ECONNRESET');
      assert.equal(await within(5000, closed(c), 'close'), true);
      server.close();
    } finally {
      destroy();
    }
  });

  it('EADDRINUSE for a second listener on the same port', T, async () => {
    const { b, destroy } = pair();
    try {
      const s1 = b.net.createServer();
      const port = await listen(s1, 0, '10.0.0.2');
      const s2 = b.net.createServer();
      s2.listen(port, '10.0.0.2');
      const [err] = (await within(5000, once(s2, 'error'), 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'EADDRINUSE');
      assert.equal(err.syscall, 'listen');
      assert.equal(s2.listening, false);
      s1.close();
    } finally {
      destroy();
    }
  });

  it('setTimeout fires after inactivity, re-arms on activity, and 0 disables it', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const server = b.net.createServer((s) => s.resume());
      const port = await listen(server, 0, '10.0.0.2');
      const c = a.net.connect(port, '10.0.0.2');
      await within(5000, once(c, 'connect'), 'connect');
      const t0 = Date.now();
      c.setTimeout(200);
      assert.equal(c.timeout, 200);
      // Activity at +100 ms pushes the deadline out.
      setTimeout(() => c.write('x'), 100);
      await within(3000, once(c, 'timeout'), 'timeout');
      const dt = Date.now() - t0;
      assert.ok(dt >= 280, `timeout fired after ${dt} ms, expected >= ~300`);
      assert.equal(c.destroyed, false, "'timeout' does not close the socket");
      let fired = false;
      c.setTimeout(100, () => {
        fired = true;
      });
      c.setTimeout(0);
      assert.equal(c.timeout, undefined);
      await sleep(250);
      assert.equal(fired, false);
      c.destroy();
      await within(5000, closed(c), 'close');
      server.close();
    } finally {
      destroy();
    }
  });

  it('setTimeout and the connection run in virtual time', T, () => {
    const clock = new VirtualClock();
    const a = new Stack({ name: 'a', clock, seed: 1 });
    const b = new Stack({ name: 'b', clock, seed: 2 });
    try {
      const [ea, eb] = Stack.epair(a, b);
      a.addAddress(ea, '10.0.0.1/24');
      b.addAddress(eb, '10.0.0.2/24');
      const server = b.net.createServer((s) => s.resume());
      server.listen(8080, '10.0.0.2');
      const c = a.net.connect(8080, '10.0.0.2');
      let connectedAt = -1;
      c.on('connect', () => {
        connectedAt = clock.now();
      });
      clock.advance(1_000_000_000);
      assert.ok(connectedAt >= 0, 'connected within 1 s of virtual time');
      let firedAt = -1;
      const armedAt = clock.now();
      c.setTimeout(5000, () => {
        firedAt = clock.now();
      });
      clock.advance(4_900_000_000);
      assert.equal(firedAt, -1);
      clock.advance(200_000_000);
      assert.ok(firedAt > 0, 'timeout fired');
      const dt = (firedAt - armedAt) / 1e6;
      assert.ok(dt >= 5000 && dt <= 5002, `fired after ${dt} ms`);
      c.destroy();
      server.close();
      clock.advance(1_000_000_000);
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  it('keepalive expiry surfaces as ETIMEDOUT (virtual time, peer silenced)', T, async () => {
    const clock = new VirtualClock();
    const a = new Stack({ name: 'a', clock, seed: 3 });
    const b = new Stack({ name: 'b', clock, seed: 4 });
    try {
      const [ea, eb] = Stack.epair(a, b);
      a.addAddress(ea, '10.0.0.1/24');
      b.addAddress(eb, '10.0.0.2/24');
      const server = b.net.createServer((s) => s.resume());
      server.listen(8080, '10.0.0.2');
      const c = a.net.connect({ port: 8080, host: '10.0.0.2', keepAlive: true, keepAliveInitialDelay: 10_000 });
      let err: NodeJS.ErrnoException | undefined;
      c.on('error', (e) => {
        err = e;
      });
      c.resume();
      clock.advance(1_000_000_000);
      assert.equal(c.readyState, 'open');
      // b stops hearing anything: a's keepalive probes go unanswered.
      b.setUp(eb, false);
      // FreeBSD: keepidle (10 s here) + keepcnt (8) × keepintvl (75 s) ≈ 610 s.
      clock.advance(700 * 1_000_000_000);
      await new Promise((r) => setImmediate(r));
      assert.ok(err, 'the connection was dropped');
      assert.equal(err.code, 'ETIMEDOUT');
      server.close();
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  it('no route: ENETUNREACH from connect, like node', T, async () => {
    const { a, destroy } = pair();
    try {
      const c = a.net.connect(80, '192.0.2.1');
      const [err] = (await within(5000, once(c, 'error'), 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ENETUNREACH');
      assert.equal(err.syscall, 'connect');
      assert.equal(err.message, 'connect ENETUNREACH 192.0.2.1:80');
      assert.equal(await within(5000, closed(c), 'close'), true);
    } finally {
      destroy();
    }
  });

  it("server.close(): stops accepting at once, 'close' and the callback wait for open connections", T, async () => {
    const { a, b, destroy } = pair();
    try {
      const accepted: Socket[] = [];
      const server = b.net.createServer((s) => {
        accepted.push(s);
        s.resume();
      });
      const port = await listen(server, 0, '10.0.0.2');
      const c1 = a.net.connect(port, '10.0.0.2');
      await within(5000, once(server, 'connection'), 'connection');
      const count = await new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
      assert.equal(count, 1);
      let closedCb = false;
      server.close(() => {
        closedCb = true;
      });
      assert.equal(server.listening, false);
      assert.equal(server.address(), null);
      // New connections are refused now.
      const c2 = a.net.connect(port, '10.0.0.2');
      const [err] = (await within(5000, once(c2, 'error'), 'refused')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ECONNREFUSED');
      await sleep(100);
      assert.equal(closedCb, false, 'close waits for the open connection');
      c1.end();
      await within(5000, once(server, 'close'), 'server close');
      await sleep(0);
      assert.equal(closedCb, true);
      // Closing a server that is not running reports ERR_SERVER_NOT_RUNNING.
      const [e2] = await new Promise<[Error | undefined]>((resolve) => server.close((e) => resolve([e])));
      assert.equal((e2 as NodeJS.ErrnoException).code, 'ERR_SERVER_NOT_RUNNING');
    } finally {
      destroy();
    }
  });

  it('writes before connect are queued; maxConnections drops extra connections', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const server = b.net.createServer((s) => s.pipe(s));
      server.maxConnections = 1;
      const port = await listen(server, 0, '10.0.0.2');
      const c1 = a.net.connect(port, '10.0.0.2');
      c1.write('early');
      const first = await within(5000, once(c1, 'data'), 'echo');
      assert.equal(String(first[0]), 'early');
      const dropped = once(server, 'drop');
      const c2 = a.net.connect(port, '10.0.0.2');
      c2.on('error', () => undefined);
      c2.resume();
      const [info] = (await within(5000, dropped, 'drop')) as [{ remoteAddress: string }];
      assert.equal(info.remoteAddress, '10.0.0.1');
      await within(5000, closed(c2), 'dropped connection closes');
      c1.destroy();
      server.close();
    } finally {
      destroy();
    }
  });

  it('option and argument handling like node', () => {
    const s = new Stack({ name: 'x' });
    try {
      assert.equal(s.net.isIP('10.0.0.1'), 4);
      assert.equal(s.net.isIP('::1'), 6);
      assert.equal(s.net.isIP('nope'), 0);
      assert.equal(s.net.isIPv4('10.0.0.1'), true);
      assert.equal(s.net.isIPv6('10.0.0.1'), false);
      assert.throws(() => s.net.connect(70000, '10.0.0.2'), { code: 'ERR_SOCKET_BAD_PORT' });
      const sock = new s.net.Socket();
      assert.equal(sock.pending, true);
      assert.equal(sock.remoteAddress, undefined);
      assert.deepEqual(sock.address(), {});
      // Options set before connecting are kept and applied at connect time.
      assert.equal(sock.setNoDelay(true), sock);
      assert.equal(sock.setKeepAlive(true, 5000), sock);
      assert.equal(sock.unref(), sock);
      assert.equal(sock.ref(), sock);
      sock.destroy();
    } finally {
      s.destroy();
    }
  });
});
