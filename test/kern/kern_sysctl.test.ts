/*
 * Tests for the sysctl MIB tree (src/kern/kern_sysctl.ts): typed nodes, descriptions, OID
 * (`sysctl -a`) order, refusals with the right code that change nothing, onChange rollback,
 * and text-form values.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CTLFLAG_SKIP, field, Sysctl, SysctlError } from '../../src/kern/kern_sysctl.js';

function refused(fn: () => unknown, code: SysctlError['code']): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SysctlError, `expected a SysctlError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

function tree() {
  const s = new Sysctl();
  const st = { msl: 30000, ecn: 2, enable: false, cc: 'newreno', purged: [] as number[], stats: { sent: 5, rcvd: 7 } };
  s.node('net.inet.tcp', 'TCP');
  s.int('net.inet.tcp.msl', field(st, 'msl'), { descr: 'Maximum Segment Lifetime', min: 1, max: 120000 });
  s.int('net.inet.tcp.ecn.enable', field(st, 'ecn'), { descr: 'TCP ECN support', min: 0, max: 4 });
  s.bool('net.inet.tcp.vtw_enable', field(st, 'enable'), { descr: 'Enable Vestigial TIME_WAIT' });
  s.string('net.inet.tcp.cc.algorithm', field(st, 'cc'), {
    descr: 'Default congestion control algorithm',
    check: (v) => (['newreno', 'cubic'].includes(v) ? null : 'unknown algorithm'),
  });
  s.struct('net.inet.tcp.stats', () => ({ ...st.stats }), { descr: 'TCP statistics', type: 'tcpstat' });
  s.action('net.inet.tcp.hostcache.purgenow', (v) => st.purged.push(v), { descr: 'Immediately purge all entries' });
  s.int('net.inet.tcp.vtw.entries', { get: () => 16 }, { descr: 'Maximum VTW entries', readonly: true });
  return { s, st };
}

describe('sysctl: typed nodes', () => {
  it('reads and writes an int through its accessor', () => {
    const { s, st } = tree();
    assert.equal(s.get('net.inet.tcp.msl'), 30000);
    assert.equal(s.set('net.inet.tcp.msl', 15000), 30000, 'set returns the old value');
    assert.equal(st.msl, 15000);
    assert.equal(s.get('net.inet.tcp.msl'), 15000);
    st.msl = 7;
    assert.equal(s.get('net.inet.tcp.msl'), 7, 'reads the live field');
  });

  it('int range is inclusive; out of range is EINVAL and changes nothing', () => {
    const { s, st } = tree();
    s.set('net.inet.tcp.msl', 1);
    s.set('net.inet.tcp.msl', 120000);
    refused(() => s.set('net.inet.tcp.msl', 0), 'EINVAL');
    refused(() => s.set('net.inet.tcp.msl', 120001), 'EINVAL');
    refused(() => s.set('net.inet.tcp.msl', -3), 'EINVAL');
    assert.equal(st.msl, 120000);
  });

  it('wrong types are EINVAL and change nothing', () => {
    const { s, st } = tree();
    refused(() => s.set('net.inet.tcp.msl', 'abc'), 'EINVAL');
    refused(() => s.set('net.inet.tcp.msl', 1.5), 'EINVAL');
    refused(() => s.set('net.inet.tcp.msl', Number.NaN), 'EINVAL');
    refused(() => s.set('net.inet.tcp.msl', '12abc'), 'EINVAL');
    refused(() => s.set('net.inet.tcp.msl', ''), 'EINVAL');
    refused(() => s.set('net.inet.tcp.msl', { a: 1 }), 'EINVAL');
    refused(() => s.set('net.inet.tcp.vtw_enable', 2), 'EINVAL');
    refused(() => s.set('net.inet.tcp.vtw_enable', 'maybe'), 'EINVAL');
    refused(() => s.set('net.inet.tcp.cc.algorithm', 5), 'EINVAL');
    refused(() => s.set('net.inet.tcp.cc.algorithm', 'bbr'), 'EINVAL');
    assert.deepEqual([st.msl, st.enable, st.cc], [30000, false, 'newreno']);
  });

  it('read-only nodes are EPERM: explicit readonly, accessor without set, struct', () => {
    const { s } = tree();
    s.int('kern.hz', { get: () => 1000 }, { descr: 'hz' });
    refused(() => s.set('net.inet.tcp.vtw.entries', 32), 'EPERM');
    refused(() => s.set('kern.hz', 100), 'EPERM');
    refused(() => s.set('net.inet.tcp.stats', 1), 'EPERM');
    assert.equal(s.get('net.inet.tcp.vtw.entries'), 16);
    assert.equal(s.describe('kern.hz').writable, false);
  });

  it('unknown names are ENOENT; interior nodes are EISDIR', () => {
    const { s } = tree();
    refused(() => s.get('net.inet.tcp.nope'), 'ENOENT');
    refused(() => s.set('net.inet.tcp.nope', 1), 'ENOENT');
    refused(() => s.set('nope', 1), 'ENOENT');
    refused(() => s.describe('net.inet.udp'), 'ENOENT');
    refused(() => s.get('net.inet.tcp'), 'EISDIR');
    refused(() => s.set('net.inet.tcp', 1), 'EISDIR');
    refused(() => s.set('', 1), 'EISDIR');
  });

  it('bool accepts 0/1, true/false and the text forms', () => {
    const { s, st } = tree();
    for (const [v, want] of [
      ['yes', true],
      ['0', false],
      ['on', true],
      ['off', false],
      [' TRUE ', true],
      ['no', false],
      [1, true],
      [false, false],
    ] as const) {
      s.set('net.inet.tcp.vtw_enable', v);
      assert.equal(st.enable, want, `set ${String(v)}`);
    }
  });

  it('int accepts text forms: hex, negative, explicit plus, surrounding space', () => {
    const { s, st } = tree();
    s.int('net.inet.tcp.off', field(st, 'ecn'), { descr: 'signed', min: -100, max: 100 });
    s.set('net.inet.tcp.msl', '0x10');
    assert.equal(st.msl, 16);
    s.set('net.inet.tcp.msl', ' 0X1f ');
    assert.equal(st.msl, 31);
    s.set('net.inet.tcp.msl', '+42');
    assert.equal(st.msl, 42);
    s.set('net.inet.tcp.off', '-3');
    assert.equal(st.ecn, -3);
    s.set('net.inet.tcp.off', '-0x10');
    assert.equal(st.ecn, -16);
    s.set('net.inet.tcp.msl', true);
    assert.equal(st.msl, 1);
  });

  it('text-form ints round-trip for every value in range (property)', () => {
    const { s, st } = tree();
    s.int('net.inet.tcp.wide', field(st, 'msl'), { descr: 'wide', min: -(2 ** 40), max: 2 ** 40 });
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.boolean(), (v, hex) => {
        const text = hex ? `${v < 0 ? '-' : ''}0x${Math.abs(v).toString(16)}` : String(v);
        s.set('net.inet.tcp.wide', text);
        assert.equal(s.get('net.inet.tcp.wide'), v);
      }),
    );
  });

  it('a string must be a string; check() refuses with EINVAL', () => {
    const { s, st } = tree();
    s.set('net.inet.tcp.cc.algorithm', 'cubic');
    assert.equal(st.cc, 'cubic');
  });

  it('struct nodes return a snapshot', () => {
    const { s, st } = tree();
    const v = s.get('net.inet.tcp.stats') as { sent: number };
    assert.deepEqual(v, { sent: 5, rcvd: 7 });
    st.stats.sent = 9;
    assert.equal(v.sent, 5);
    assert.deepEqual(s.get('net.inet.tcp.stats'), { sent: 9, rcvd: 7 });
    assert.equal(s.describe('net.inet.tcp.stats').fmt, 'S,tcpstat');
  });

  it('action nodes run on write with the parsed value, read 0', () => {
    const { s, st } = tree();
    assert.equal(s.get('net.inet.tcp.hostcache.purgenow'), 0);
    s.set('net.inet.tcp.hostcache.purgenow', '1');
    s.set('net.inet.tcp.hostcache.purgenow', 2);
    assert.deepEqual(st.purged, [1, 2]);
    refused(() => s.set('net.inet.tcp.hostcache.purgenow', 'x'), 'EINVAL');
    assert.deepEqual(st.purged, [1, 2]);
  });

  it('describe() gives the description, kind, format, writability and range', () => {
    const { s } = tree();
    s.int('net.inet.tcp.count', { get: () => 1 }, { descr: 'a counter', counter: true });
    s.int('net.inet.tcp.uns', { get: () => 1, set: () => {} }, { descr: 'unsigned', unsigned: true });
    const d = s.describe('net.inet.tcp.msl');
    assert.equal(d.descr, 'Maximum Segment Lifetime');
    assert.equal(d.kind, 'int');
    assert.equal(d.fmt, 'I');
    assert.equal(d.writable, true);
    assert.equal(d.min, 1);
    assert.equal(d.max, 120000);
    assert.equal(s.describe('net.inet.tcp.count').fmt, 'Q');
    assert.deepEqual([s.describe('net.inet.tcp.uns').fmt, s.describe('net.inet.tcp.uns').min, s.describe('net.inet.tcp.uns').max], ['IU', 0, 2 ** 32 - 1]);
    assert.equal(s.describe('net.inet.tcp.cc.algorithm').fmt, 'A');
    assert.equal(s.describe('net.inet.tcp.vtw_enable').kind, 'bool');
    assert.equal(s.describe('net.inet.tcp').descr, 'TCP');
    assert.equal(s.describe('net.inet.tcp').kind, 'node');
    s.node('net.inet.tcp', 'Transmission Control Protocol');
    assert.equal(s.describe('net.inet.tcp').descr, 'Transmission Control Protocol');
  });

  it('refuses duplicate registration and leaves under a leaf', () => {
    const { s } = tree();
    refused(() => s.int('net.inet.tcp.msl', { get: () => 1 }, { descr: 'dup' }), 'EEXIST');
    refused(() => s.int('net.inet.tcp.msl.sub', { get: () => 1 }, { descr: 'under a leaf' }), 'EEXIST');
    refused(() => s.node('net.inet.tcp.msl', 'not a node'), 'EEXIST');
    refused(() => s.int('bad..name', { get: () => 1 }, { descr: 'bad' }), 'EINVAL');
    refused(() => s.int('bad name', { get: () => 1 }, { descr: 'bad' }), 'EINVAL');
  });

  it('remove() drops a subtree', () => {
    const { s } = tree();
    assert.equal(s.remove('net.inet.tcp.cc'), true);
    refused(() => s.get('net.inet.tcp.cc.algorithm'), 'ENOENT');
    assert.equal(s.remove('net.inet.tcp.cc'), false);
    assert.equal(s.remove(''), false);
  });
});

describe('sysctl: onChange and rollback', () => {
  it('int: an onChange that throws rolls the value back and the error reaches the caller', () => {
    const s = new Sysctl();
    const st = { size: 512 };
    const seen: number[] = [];
    s.int('net.inet.tcp.syncache.hashsize', field(st, 'size'), {
      descr: 'hash size',
      min: 1,
      max: 65536,
      onChange: (v) => {
        seen.push(v);
        if (v & (v - 1)) throw new SysctlError('EINVAL', 'net.inet.tcp.syncache.hashsize', 'must be a power of 2');
      },
    });
    s.set('net.inet.tcp.syncache.hashsize', 1024);
    refused(() => s.set('net.inet.tcp.syncache.hashsize', 1000), 'EINVAL');
    assert.equal(st.size, 1024);
    assert.deepEqual(seen, [1024, 1000], 'onChange saw the new value while it was set');
  });

  it('int: check() refuses before anything is set or onChange runs', () => {
    const s = new Sysctl();
    const st = { v: 5 };
    let changes = 0;
    s.int('kern.x', field(st, 'v'), { descr: 'x', check: (v) => (v % 2 ? null : 'must be odd'), onChange: () => changes++ });
    refused(() => s.set('kern.x', 4), 'EINVAL');
    assert.deepEqual([st.v, changes], [5, 0]);
  });

  it('bool: an onChange that throws rolls the value back', () => {
    const s = new Sysctl();
    const st = { on: false };
    s.bool('net.inet.tcp.vtw_enable', field(st, 'on'), {
      descr: 'vtw',
      onChange: (v) => {
        if (v) throw new SysctlError('EINVAL', 'net.inet.tcp.vtw_enable', 'cannot allocate tables');
      },
    });
    refused(() => s.set('net.inet.tcp.vtw_enable', 1), 'EINVAL');
    assert.equal(st.on, false);
  });

  it('string: an onChange that throws rolls the value back', () => {
    const s = new Sysctl();
    const st = { cc: 'newreno' };
    s.string('net.inet.tcp.cc.algorithm', field(st, 'cc'), {
      descr: 'cc',
      onChange: (v) => {
        if (v === 'bbr') throw new SysctlError('EINVAL', 'net.inet.tcp.cc.algorithm', 'module not loaded');
      },
    });
    refused(() => s.set('net.inet.tcp.cc.algorithm', 'bbr'), 'EINVAL');
    assert.equal(st.cc, 'newreno');
    s.set('net.inet.tcp.cc.algorithm', 'cubic');
    assert.equal(st.cc, 'cubic');
  });
});

describe('sysctl: list() is OID order (sysctl -a)', () => {
  it('top-level nodes take their BSD numbers whether declared explicitly or implied', () => {
    const s = new Sysctl();
    s.node('net', 'Network, (see socket.h)');
    s.node('kern', 'High kernel, proc, limits &c');
    s.int('net.inet.ip.ttl', { get: () => 64 }, { descr: 'ttl' });
    s.int('kern.hz', { get: () => 1000 }, { descr: 'hz' });
    s.int('vm.stats', { get: () => 0 }, { descr: 'vm' });
    s.int('debug.x', { get: () => 0 }, { descr: 'debug' });
    s.int('zzz.custom', { get: () => 0 }, { descr: 'custom top level' });
    assert.deepEqual(s.describe('kern.hz').oid.slice(0, 1), [1]);
    assert.deepEqual(s.describe('vm.stats').oid.slice(0, 1), [2]);
    assert.deepEqual(s.describe('net.inet.ip.ttl').oid.slice(0, 1), [4]);
    assert.deepEqual(
      s.list().map((n) => n.fullName),
      ['kern.hz', 'vm.stats', 'net.inet.ip.ttl', 'debug.x', 'zzz.custom'],
    );
  });

  it('children are listed in registration (OID_AUTO) order, explicit OIDs first by number', () => {
    const s = new Sysctl();
    s.int('net.inet.tcp.b', { get: () => 0 }, { descr: '' });
    s.int('net.inet.tcp.a', { get: () => 0 }, { descr: '' });
    s.int('net.inet.tcp.mssdflt', { get: () => 0 }, { descr: '', oid: 3 });
    s.int('net.inet.tcp.c', { get: () => 0 }, { descr: '' });
    s.int('net.inet.udp.x', { get: () => 0 }, { descr: '' });
    assert.deepEqual(
      s.list('net.inet').map((n) => n.name),
      ['mssdflt', 'b', 'a', 'c', 'x'],
    );
    const oids = s.list().map((n) => n.oid());
    for (let i = 1; i < oids.length; i++) {
      const a = oids[i - 1] as number[];
      const b = oids[i] as number[];
      let cmp = 0;
      for (let k = 0; k < Math.min(a.length, b.length) && cmp === 0; k++) cmp = (a[k] as number) - (b[k] as number);
      assert.ok(cmp < 0, `${a} before ${b}`);
    }
  });

  it('SKIP nodes are left out of the walk unless named or `all`', () => {
    const s = new Sysctl();
    s.int('net.a', { get: () => 0 }, { descr: '' });
    s.struct('net.pcblist', () => [], { descr: 'big', type: 'xtcpcb', skip: true });
    assert.deepEqual(
      s.list('net').map((n) => n.name),
      ['a'],
    );
    assert.deepEqual(
      s.list('net', { all: true }).map((n) => n.name),
      ['a', 'pcblist'],
    );
    assert.deepEqual(
      s.list('net.pcblist').map((n) => n.name),
      ['pcblist'],
    );
    assert.ok((s.find('net.pcblist')?.flags ?? 0) & CTLFLAG_SKIP);
    refused(() => s.list('net.none'), 'ENOENT');
  });
});
