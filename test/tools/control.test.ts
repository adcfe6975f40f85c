/*
 * The control channel protocol (src/api/control.ts) in one process: raw NDJSON requests
 * and their errors, pcap streaming and its end when the interface goes away, stale and
 * live socket files, and closing with the stack.
 */

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connectControl } from '../../src/api/control.js';
import { Stack } from '../../src/api/stack.js';
import { VirtualClock } from '../../src/kern/clock.js';
import { hosts, settle, startChild, tmpDir } from './helpers.js';

/** Send raw lines, collect `n` response lines. */
function raw(path: string, lines: string[], n: number): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    const got: Record<string, unknown>[] = [];
    s.setEncoding('utf8');
    s.on('connect', () => s.write(lines.map((l) => `${l}\n`).join('')));
    s.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        got.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
      if (got.length >= n) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
  });
}

describe('control channel', () => {
  it('answers raw NDJSON requests by id, with the node’s own errors', async () => {
    const tmp = tmpDir();
    const s = new Stack({ name: 'ctl', clock: new VirtualClock() });
    try {
      const path = join(tmp.dir, 'c.sock');
      const srv = await s.listenControl(path);
      const r = await raw(
        path,
        [
          '{"id":1,"op":"get","name":"kern.hostname"}',
          '{"id":2,"op":"set","name":"net.inet.ip.ttl","value":"9"}',
          '{"id":3,"op":"set","name":"net.inet.ip.ttl","value":0}',
          '{"id":4,"op":"set","name":"kern.ostype","value":"x"}',
          '{"id":5,"op":"get","name":"net.inet"}',
          'not json',
          '{"id":7,"op":"frob"}',
          '{"id":8,"op":"describe","name":"net.route.table"}',
          '{"id":9,"op":"list","prefix":"net.route","values":true}',
          '{"id":10,"op":"set","name":"net.inet.ip.ttl","value":{"a":1}}',
        ],
        10,
      );
      const byId = new Map(r.map((x) => [x.id, x]));
      assert.deepEqual(byId.get(1), { id: 1, ok: true, value: 'ctl' });
      assert.deepEqual(byId.get(2), { id: 2, ok: true, old: 64, value: 9 });
      assert.equal(s.sysctlGet('net.inet.ip.ttl'), 9);
      assert.deepEqual((byId.get(3) as { error: unknown }).error, { code: 'EINVAL', message: 'sysctl net.inet.ip.ttl: value 0 out of range [1, 255]' });
      assert.equal((byId.get(4) as { error: { code: string } }).error.code, 'EPERM');
      assert.equal((byId.get(5) as { error: { code: string } }).error.code, 'EISDIR');
      assert.equal((byId.get(0) as { error: { code: string } }).error.code, 'EINVAL');
      assert.equal((byId.get(7) as { error: { code: string } }).error.code, 'EOPNOTSUPP');
      assert.equal((byId.get(8) as { info: { fmt: string } }).info.fmt, 'S,rt_entry');
      const nodes = (byId.get(9) as { nodes: { name: string; value: unknown }[] }).nodes;
      assert.deepEqual(
        nodes.map((n) => n.name),
        ['net.route.table', 'net.route.stats', 'net.route.count'],
      );
      assert.deepEqual(nodes[0]?.value, s.sysctlGet('net.route.table'));
      assert.equal((byId.get(10) as { error: { code: string } }).error.code, 'EINVAL');
      assert.equal(srv.connections >= 0, true);
      await srv.close();
    } finally {
      s.destroy();
      tmp.cleanup();
    }
  });

  it('streams captured frames to a subscriber and ends the stream when the interface detaches', async () => {
    const tmp = tmpDir();
    const h = await hosts();
    try {
      const path = join(tmp.dir, 'p.sock');
      await h.host.listenControl(path);
      const c = await connectControl(path);
      const frames: Uint8Array[] = [];
      const cap = await c.capture('epair0a', (f) => frames.push(f.data));
      assert.equal(cap.linktype, 1);
      for (let i = 0; i < 3; i++) h.conn.send('hello');
      h.clock.advance(10e6);
      // Frames cross the socket asynchronously: wait for them.
      for (let i = 0; i < 100 && frames.filter((f) => f.length === 47).length < 3; i++) await new Promise((r) => setTimeout(r, 10));
      const udp = frames.filter((f) => f.length === 47);
      assert.equal(udp.length, 3);
      for (const f of udp) assert.equal(Buffer.from(f.subarray(42)).toString(), 'hello');
      await assert.rejects(
        c.capture('nope0', () => undefined),
        (e: Error & { code?: string }) => e.code === 'ENXIO',
      );
      h.host.vnet.ifnet.detach(h.ha);
      assert.match(await cap.ended, /interface epair0a detached/);
      c.close();
    } finally {
      h.destroy();
      tmp.cleanup();
    }
  });

  it('replaces a stale socket file, refuses a live one or a plain file, and closes with the stack', async () => {
    const tmp = tmpDir();
    const a = new Stack({ clock: new VirtualClock() });
    const b = new Stack({ clock: new VirtualClock() });
    try {
      const path = join(tmp.dir, 's.sock');
      const srv = await a.listenControl(path);
      await assert.rejects(b.listenControl(path), (e: Error & { code?: string }) => e.code === 'EADDRINUSE');
      await srv.close();
      const again = await b.listenControl(path);
      const c = await connectControl(path);
      assert.equal(typeof (await c.get('kern.ostype')), 'string');
      c.close();
      b.destroy(); // closes the channel
      await settle();
      await new Promise((r) => setTimeout(r, 20));
      await assert.rejects(connectControl(path), (e: Error & { code?: string }) => e.code === 'ENOENT' || e.code === 'ECONNREFUSED');
      void again;
      // A socket file left behind by a killed process is taken over.
      const stale = join(tmp.dir, 'stale.sock');
      const child = await startChild(stale);
      await new Promise((r) => {
        child.proc.once('exit', r);
        child.proc.kill('SIGKILL');
      });
      assert.ok(existsSync(stale), 'SIGKILL leaves the socket file behind');
      const taken = await a.listenControl(stale);
      const c2 = await connectControl(stale);
      assert.equal(await c2.get('kern.hostname'), a.vnet.hostname);
      c2.close();
      await taken.close();
      const plain = join(tmp.dir, 'plain');
      writeFileSync(plain, '');
      await assert.rejects(a.listenControl(plain), (e: Error & { code?: string }) => e.code === 'EEXIST');
    } finally {
      a.destroy();
      b.destroy();
      tmp.cleanup();
    }
  });
});
