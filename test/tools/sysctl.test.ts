/*
 * `bsdnet sysctl` (src/cli/sysctl.ts) against a real in-process stack: every value it
 * prints is the stack's, writes change the stack and obey type/range, read-only nodes and
 * unknown names fail with a clear message and a non-zero status.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Stack } from '../../src/api/stack.js';
import { sysctlMain } from '../../src/cli/sysctl.js';
import { VirtualClock } from '../../src/kern/clock.js';
import { captured, hosts } from './helpers.js';

describe('bsdnet sysctl (in-process)', () => {
  it('-a prints every non-opaque leaf as "name: value", with the values the stack holds', async () => {
    const s = new Stack({ name: 'alpha', clock: new VirtualClock() });
    try {
      const c = captured(s);
      assert.equal(await sysctlMain(['-a'], c.io), 0);
      const lines = c.out().trimEnd().split('\n');
      const leaves = s.vnet.sysctl.list('').filter((n) => n.kind !== 'struct');
      assert.equal(lines.length, leaves.length);
      for (const n of leaves) {
        const v = s.sysctlGet(n.fullName);
        const text = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
        assert.ok(lines.includes(`${n.fullName}: ${text}`), `${n.fullName}: ${text}`);
      }
      assert.ok(lines.includes('kern.hostname: alpha'));
      assert.ok(!c.out().includes('net.inet.udp.stats'), 'opaque nodes need -o');
      const o = captured(s);
      assert.equal(await sysctlMain(['-ao'], o.io), 0);
      assert.ok(o.out().includes('net.inet.udp.stats: {'));
    } finally {
      s.destroy();
    }
  });

  it('NAME, subtree NAME, struct NAME, -n, -N, -d, --json', async () => {
    const h = await hosts();
    try {
      const s = h.host;
      let c = captured(s);
      assert.equal(await sysctlMain(['net.inet.ip.ttl', 'kern.hostname'], c.io), 0);
      assert.equal(c.out(), `net.inet.ip.ttl: ${s.sysctlGet('net.inet.ip.ttl')}\nkern.hostname: host\n`);
      c = captured(s);
      assert.equal(await sysctlMain(['net.inet.ip.portrange'], c.io), 0);
      assert.deepEqual(
        c.out().trimEnd().split('\n'),
        s.vnet.sysctl.list('net.inet.ip.portrange').map((n) => {
          const v = n.getter?.();
          return `${n.fullName}: ${typeof v === 'boolean' ? (v ? 1 : 0) : v}`;
        }),
      );
      // A struct named directly prints as JSON equal to the node's value.
      c = captured(s);
      assert.equal(await sysctlMain(['net.inet.udp.pcblist'], c.io), 0);
      const m = /^net\.inet\.udp\.pcblist: (.*)$/.exec(c.out().trimEnd());
      assert.ok(m);
      assert.deepEqual(JSON.parse(m[1] as string), s.sysctlGet('net.inet.udp.pcblist'));
      c = captured(s);
      assert.equal(await sysctlMain(['-n', 'net.inet.ip.ttl'], c.io), 0);
      assert.equal(c.out(), '64\n');
      c = captured(s);
      assert.equal(await sysctlMain(['-N', 'net.inet.udp'], c.io), 0);
      assert.deepEqual(
        c.out().trimEnd().split('\n'),
        s.vnet.sysctl.list('net.inet.udp', { all: true }).map((n) => n.fullName),
      );
      c = captured(s);
      assert.equal(await sysctlMain(['-d', 'net.inet.ip.ttl'], c.io), 0);
      assert.equal(c.out(), 'net.inet.ip.ttl: Maximum TTL on IP packets\n');
      c = captured(s);
      assert.equal(await sysctlMain(['--json', 'net.inet.ip.stats', 'net.inet.ip.forwarding'], c.io), 0);
      const j = JSON.parse(c.out());
      assert.deepEqual(j['net.inet.ip.stats'], s.sysctlGet('net.inet.ip.stats'));
      assert.equal(j['net.inet.ip.forwarding'], false);
      c = captured(s);
      assert.equal(await sysctlMain(['--json', '-d', 'net.inet.ip.ttl'], c.io), 0);
      assert.deepEqual(JSON.parse(c.out()), {
        'net.inet.ip.ttl': { descr: 'Maximum TTL on IP packets', kind: 'int', fmt: 'I', writable: true, min: 1, max: 255 },
      });
    } finally {
      h.destroy();
    }
  });

  it('NAME=VALUE sets the stack (old -> new), and refuses bad values, read-only nodes and unknown names', async () => {
    const s = new Stack();
    try {
      let c = captured(s);
      assert.equal(await sysctlMain(['net.inet.ip.ttl=32', 'net.inet.ip.forwarding=1'], c.io), 0);
      assert.equal(c.out(), 'net.inet.ip.ttl: 64 -> 32\nnet.inet.ip.forwarding: 0 -> 1\n');
      assert.equal(s.sysctlGet('net.inet.ip.ttl'), 32);
      assert.equal(s.vnet.inet.forwarding, true);
      c = captured(s);
      assert.equal(await sysctlMain(['--json', 'kern.hostname=gw'], c.io), 0);
      assert.deepEqual(JSON.parse(c.out()), { 'kern.hostname': { old: s.vnet.name, new: 'gw' } });
      assert.equal(s.vnet.hostname, 'gw');

      c = captured(s);
      assert.equal(await sysctlMain(['net.inet.ip.ttl=256'], c.io), 1);
      assert.match(c.err(), /^sysctl: net\.inet\.ip\.ttl: value 256 out of range \[1, 255\]\n$/);
      assert.equal(s.sysctlGet('net.inet.ip.ttl'), 32);
      c = captured(s);
      assert.equal(await sysctlMain(['net.inet.ip.ttl=abc'], c.io), 1);
      assert.match(c.err(), /invalid integer 'abc'/);
      c = captured(s);
      assert.equal(await sysctlMain(['kern.ostype=linux'], c.io), 1);
      assert.equal(c.err(), "sysctl: oid 'kern.ostype' is read only\n");
      c = captured(s);
      assert.equal(await sysctlMain(['net.inet.udp.stats=0'], c.io), 1);
      assert.equal(c.err(), "sysctl: oid 'net.inet.udp.stats' is read only\n");
      c = captured(s);
      // Unknown names fail, but the other names are still processed.
      assert.equal(await sysctlMain(['no.such.node', 'net.inet.ip.ttl'], c.io), 1);
      assert.equal(c.err(), "sysctl: unknown oid 'no.such.node'\n");
      assert.equal(c.out(), 'net.inet.ip.ttl: 32\n');
    } finally {
      s.destroy();
    }
  });

  it('usage errors: unknown flag, no names, -d with -N (status 2, usage on stderr)', async () => {
    for (const argv of [['-Z'], [], ['-d', '-N', 'kern'], ['--attach']]) {
      const c = captured();
      assert.equal(await sysctlMain(argv, c.io), 2, argv.join(' '));
      assert.match(c.err(), /usage: bsdnet sysctl/);
      assert.equal(c.out(), '');
    }
  });

  it('without a stack reads a fresh default instance', async () => {
    const c = captured();
    assert.equal(await sysctlMain(['kern.ostype', 'net.route.count'], c.io), 0);
    // lo0: 127.0.0.0/8, 127.0.0.1, ::1.
    assert.equal(c.out(), 'kern.ostype: bsdnet\nnet.route.count: 3\n');
  });
});
