/*
 * Vestigial TIME_WAIT data structures (src/netinet/tcp_vtw.ts) and MSL truncation
 * (src/netinet/tcp_mslt.ts): insert/lookup/delete in both families, fat-pointer chains in tiny
 * tables, per-class FIFO eviction with `kill` counts, expiry under virtual time (2×MSL plus at
 * most one 200 ms callout period), restart on a retransmitted FIN, the port-in-use rules that
 * bind()/connect() see (also through in_pcb.ts's PcbShadow hook), the sysctls (entries
 * rebuild, MSLT layout switch), a fast-check model test against a Map-based reference, the
 * memory bound per vestige, and no allocation per lookup.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PerformanceObserver } from 'node:perf_hooks';
import fc from 'fast-check';
import { VirtualClock } from '../../src/kern/clock.js';
import { AF_INET, AF_INET6, INADDR_ANY, sockaddr_in } from '../../src/netinet/in.js';
import { in_pcbbind, PcbInfo } from '../../src/netinet/in_pcb.js';
import { EADDRINUSE } from '../../src/sys/errno.js';
import { MSLT_CLASSLESS, MSLT_LOCAL, MSLT_LOOPBACK, MSLT_REMOTE, SLOWTICK_NS, TCPTV_MSL } from '../../src/netinet/tcp_mslt.js';
import { VTW_CALLOUT_NS, VTW_F_REUSEADDR, VTW_F_REUSEPORT, VTW_F_TS, VTW_F_V6ONLY, VTW_V6, Vtw } from '../../src/netinet/tcp_vtw.js';
import { SO_REUSEADDR, SO_REUSEPORT } from '../../src/sys/socket.js';
import { inet_pton6 } from '../../src/wire/addr.js';
import { Vnet } from '../../src/vnet.js';
import { etherIf, mac } from '../helpers/net.js';

const SEC = 1_000_000_000;
const MS = 1_000_000;
const G = VTW_CALLOUT_NS;

function ip(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function a6(s: string): Uint8Array {
  const a = inet_pton6(s);
  if (a === null) throw new Error(s);
  return a;
}

function mk(entries = 64, mslt = true): { clock: VirtualClock; V: Vnet; vtw: Vtw } {
  const clock = new VirtualClock();
  const V = new Vnet({ clock, seed: 7 });
  // tcp_init created the Vnet's VTW (V.vtw); size it as the test wants.
  const vtw = V.vtw;
  V.sysctl.set('net.inet.tcp.vtw.entries', entries);
  vtw.mslt.enable = mslt;
  return { clock, V, vtw };
}

const L = ip('10.0.0.1');
const F = ip('192.0.2.7');

function ins4(vtw: Vtw, lport: number, fport = 80, cls = MSLT_REMOTE, faddr = F, laddr = L, flags = VTW_F_TS): number {
  return vtw.insert4(laddr, lport, faddr, fport, 1000 + lport, 5000 + lport, 512, 77 + lport, flags, cls);
}

describe('VTW records', () => {
  it('inserts, finds, reads back and deletes IPv4 vestiges', () => {
    const { vtw } = mk();
    const i = vtw.insert4(L, 40000, F, 443, 0xfffffff0, 0x12345678, 70000, 0xdeadbeef, VTW_F_TS | VTW_F_REUSEADDR, MSLT_LOCAL);
    assert.ok(i >= 0 && (i & VTW_V6) === 0);
    assert.equal(vtw.lookup4(L, 40000, F, 443), i);
    assert.equal(vtw.lookup4(L, 40000, F, 444), -1);
    assert.equal(vtw.lookup4(L, 40001, F, 443), -1);
    assert.equal(vtw.lookup4(F, 40000, L, 443), -1);
    assert.equal(vtw.snd_nxt(i), 0xfffffff0);
    assert.equal(vtw.rcv_nxt(i), 0x12345678);
    assert.equal(vtw.rcv_wnd(i), 65535, 'window field saturates at 16 bits');
    assert.equal(vtw.ts_recent(i), 0xdeadbeef);
    assert.equal(vtw.hasTimestamps(i), true);
    assert.equal(vtw.reuseAddr(i), true);
    assert.equal(vtw.reusePort(i), false);
    assert.equal(vtw.v6only(i), false);
    assert.equal(vtw.mslClass(i), MSLT_LOCAL);
    assert.equal(vtw.laddr4(i), L);
    assert.equal(vtw.faddr4(i), F);
    assert.equal(vtw.lport(i), 40000);
    assert.equal(vtw.fport(i), 443);
    assert.equal(vtw.expireAt(i), 10 * SEC, 'local class: 2 × 5 s');
    vtw.set_ts_recent(i, 5);
    assert.equal(vtw.ts_recent(i), 5);
    assert.equal(vtw.count4, 1);
    vtw.del(i);
    assert.equal(vtw.isLive(i), false);
    assert.equal(vtw.lookup4(L, 40000, F, 443), -1);
    assert.equal(vtw.count4, 0);
    vtw.del(i); // idempotent
    assert.equal(vtw.stats.ins, 1);
    assert.equal(vtw.stats.del, 1);
  });

  it('inserts and finds IPv6 vestiges with addresses at offsets, without confusing families', () => {
    const { vtw } = mk();
    const buf = new Uint8Array(64);
    buf.set(a6('2001:db8::1'), 8);
    buf.set(a6('2001:db8:ffff::2'), 40);
    const i = vtw.insert6(buf, 8, 1234, buf, 40, 80, 1, 2, 3, 4, VTW_F_V6ONLY | VTW_F_REUSEPORT, MSLT_REMOTE);
    assert.ok(i >= 0 && (i & VTW_V6) !== 0);
    assert.equal(vtw.isV6(i), true);
    assert.equal(vtw.lookup6(buf, 8, 1234, buf, 40, 80), i);
    assert.equal(vtw.lookup6(a6('2001:db8::1'), 0, 1234, a6('2001:db8:ffff::2'), 0, 80), i);
    assert.equal(vtw.lookup6(a6('2001:db8::1'), 0, 1234, a6('2001:db8:ffff::3'), 0, 80), -1);
    assert.equal(vtw.lookup6(a6('2001:db8::2'), 0, 1234, a6('2001:db8:ffff::2'), 0, 80), -1);
    assert.equal(vtw.lookup4(ip('0.0.0.0'), 1234, ip('0.0.0.2'), 80), -1);
    const out = new Uint8Array(20);
    assert.deepEqual(vtw.laddr6(i, out, 2).subarray(2, 18), a6('2001:db8::1'));
    assert.deepEqual(vtw.faddr6(i, out, 4).subarray(4, 20), a6('2001:db8:ffff::2'));
    assert.equal(vtw.v6only(i), true);
    assert.equal(vtw.reusePort(i), true);
    assert.equal(vtw.hasTimestamps(i), false);
    assert.equal(vtw.snd_nxt(i), 1);
    assert.equal(vtw.rcv_nxt(i), 2);
    assert.equal(vtw.rcv_wnd(i), 3);
    assert.equal(vtw.count6, 1);
    assert.equal(vtw.count4, 0);
    vtw.del(i);
    assert.equal(vtw.lookup6(buf, 8, 1234, buf, 40, 80), -1);
    assert.equal(vtw.count6, 0);
  });

  it('replaces an existing vestige of the same 4-tuple', () => {
    const { vtw } = mk();
    const a = ins4(vtw, 5000);
    const b = vtw.insert4(L, 5000, F, 80, 9, 9, 9, 9, 0, MSLT_REMOTE);
    assert.notEqual(a, b);
    assert.equal(vtw.isLive(a), false);
    assert.equal(vtw.lookup4(L, 5000, F, 80), b);
    assert.equal(vtw.snd_nxt(b), 9);
    assert.equal(vtw.count4, 1);
  });

  it('keeps fat-pointer chains correct in tiny tables (chains over several lines, packed deletes)', () => {
    const { vtw } = mk(64, false);
    const keys: number[] = [];
    for (let p = 0; p < 64; p++) keys.push(ins4(vtw, 1000 + p, 80, MSLT_REMOTE, F + (p % 3)));
    for (let p = 0; p < 64; p++) assert.equal(vtw.lookup4(L, 1000 + p, F + (p % 3), 80), keys[p]);
    const t = vtw.table().families[0];
    assert.equal(t.buckets, 4);
    assert.ok(vtw.stats.max_chain[0] >= 2, 'a bucket with more than 15 vestiges spans two lines');
    assert.ok(t.fatp_used >= 5 && t.fatp_used <= t.fatp_lines);
    // Delete every other one; the rest stay found.
    for (let p = 0; p < 64; p += 2) vtw.del(keys[p]);
    for (let p = 0; p < 64; p++) assert.equal(vtw.lookup4(L, 1000 + p, F + (p % 3), 80), p % 2 ? keys[p] : -1);
    for (let p = 1; p < 64; p += 2) vtw.del(keys[p]);
    assert.equal(vtw.table().families[0].fatp_used, 0, 'every line back on the free list');
    assert.equal(vtw.stats.hit[0], 64 + 32);
    assert.ok(vtw.stats.losing[0] >= vtw.stats.hit[0], 'each hit dereferences its record');
  });
});

describe('VTW class rings: eviction and expiry', () => {
  it('evicts the oldest when a class is full and counts kill (classless ring)', () => {
    const { vtw } = mk(16, false);
    for (let p = 0; p < 40; p++) assert.ok(ins4(vtw, 2000 + p) >= 0);
    assert.equal(vtw.count4, 16);
    assert.equal(vtw.stats.kill, 24);
    for (let p = 0; p < 40; p++) assert.equal(vtw.lookup4(L, 2000 + p, F, 80) >= 0, p >= 24, `port ${2000 + p}`);
  });

  it('evicts per MSL class; holes from deletions are reclaimed without kills', () => {
    const { vtw } = mk(16, true); // rings: remote 5, local 5, loopback 6
    for (let p = 0; p < 5; p++) ins4(vtw, 3000 + p, 80, MSLT_REMOTE);
    for (let p = 0; p < 10; p++) ins4(vtw, 4000 + p, 80, MSLT_LOOPBACK);
    assert.equal(vtw.stats.kill, 4);
    assert.equal(vtw.count4, 5 + 6);
    for (let p = 0; p < 5; p++) assert.ok(vtw.lookup4(L, 3000 + p, F, 80) >= 0, 'remote class untouched');
    // Delete the two oldest remote ones: the next two inserts reuse their slots, no kill.
    vtw.del(vtw.lookup4(L, 3000, F, 80));
    vtw.del(vtw.lookup4(L, 3001, F, 80));
    ins4(vtw, 3100, 80, MSLT_REMOTE);
    ins4(vtw, 3101, 80, MSLT_REMOTE);
    assert.equal(vtw.stats.kill, 4);
    ins4(vtw, 3102, 80, MSLT_REMOTE);
    assert.equal(vtw.stats.kill, 5);
    assert.equal(vtw.lookup4(L, 3002, F, 80), -1, 'the oldest live remote vestige was killed');
    const cls = vtw.table().families[0].classes;
    assert.deepEqual(
      cls.map((c) => [c.class, c.cap, c.used]),
      [
        ['remote', 5, 5],
        ['local', 5, 0],
        ['loopback', 6, 6],
      ],
    );
  });

  it('expires each class after 2×MSL plus at most one 200 ms callout period, oldest first', () => {
    const { clock, vtw } = mk(64, true);
    clock.advance(50 * MS);
    const lo = ins4(vtw, 1, 80, MSLT_LOOPBACK);
    const lc = ins4(vtw, 2, 80, MSLT_LOCAL);
    const rm = ins4(vtw, 3, 80, MSLT_REMOTE);
    assert.equal(vtw.expireAt(lo), 50 * MS + 2 * SEC);
    assert.equal(vtw.expireAt(lc), 50 * MS + 10 * SEC);
    assert.equal(vtw.expireAt(rm), 50 * MS + 60 * SEC);
    const present = () => [1, 2, 3].map((p) => vtw.lookup4(L, p, F, 80) >= 0);
    clock.advanceTo(50 * MS + 2 * SEC - 1);
    assert.deepEqual(present(), [true, true, true]);
    clock.advanceTo(50 * MS + 2 * SEC + G);
    assert.deepEqual(present(), [false, true, true]);
    clock.advanceTo(50 * MS + 10 * SEC - 1);
    assert.deepEqual(present(), [false, true, true]);
    clock.advanceTo(50 * MS + 10 * SEC + G);
    assert.deepEqual(present(), [false, false, true]);
    clock.advanceTo(50 * MS + 60 * SEC + G);
    assert.deepEqual(present(), [false, false, false]);
    assert.equal(vtw.stats.del, 3);
    assert.equal(vtw.stats.kill, 0);
    assert.equal(
      vtw.table().families[0].classes.reduce((n, c) => n + c.used, 0),
      0,
      'rings drained',
    );
  });

  it('gives every vestige its own 2×MSL even when insertions share an expiry batch', () => {
    const { clock, vtw } = mk(256, true);
    const born: number[] = [];
    for (let k = 0; k < 80; k++) {
      clock.advance(37 * MS);
      born.push(clock.now());
      ins4(vtw, 100 + k, 80, MSLT_LOOPBACK);
    }
    const life = 2 * SEC;
    const end = born[born.length - 1] + life + 2 * G;
    for (let t = clock.now(); t <= end; t += 13 * MS) {
      clock.advanceTo(t);
      for (let k = 0; k < 80; k++) {
        const e = born[k] + life;
        const alive = vtw.lookup4(L, 100 + k, F, 80) >= 0;
        if (t < e) assert.ok(alive, `vestige ${k} gone early at ${t} (expiry ${e})`);
        if (t >= Math.ceil(e / G) * G) assert.ok(!alive, `vestige ${k} alive at ${t} (expiry ${e})`);
        if (t >= e + G) assert.ok(!alive);
      }
    }
    assert.equal(vtw.count4, 0);
  });

  it('restart (a retransmitted FIN) re-queues the vestige at the tail with a fresh 2×MSL', () => {
    const { clock, vtw } = mk(16, false);
    const a = ins4(vtw, 7000);
    for (let p = 1; p < 16; p++) ins4(vtw, 7000 + p);
    clock.advance(30 * SEC);
    const a2 = vtw.restart(a);
    // The old copy's slot was the oldest: it became a hole and, the ring being full, the
    // new youngest copy took it over (so the index may repeat).
    assert.ok(a2 >= 0);
    assert.equal(vtw.lookup4(L, 7000, F, 80), a2);
    assert.equal(vtw.snd_nxt(a2), 8000, 'fields carried over');
    assert.equal(vtw.hasTimestamps(a2), true);
    assert.equal(vtw.expireAt(a2), 30 * SEC + 2 * TCPTV_MSL * SLOWTICK_NS);
    // Room came from the hole the old copy left: no kill yet. The next insert kills the
    // oldest, which is now 7001, not the restarted one.
    assert.equal(vtw.stats.kill, 0);
    ins4(vtw, 7100);
    assert.equal(vtw.stats.kill, 1);
    assert.equal(vtw.lookup4(L, 7001, F, 80), -1);
    assert.ok(vtw.lookup4(L, 7000, F, 80) >= 0);
    clock.advanceTo(60 * SEC + G);
    assert.equal(vtw.count4, 2, 'only the restarted and the newest survive the first 60 s');
    clock.advanceTo(90 * SEC + G);
    assert.equal(vtw.count4, 0);
    assert.equal(vtw.restart(a2), -1, 'a dead vestige cannot be restarted');
  });

  it('stops its callout when empty and restarts it on the next insertion', () => {
    const { clock, vtw } = mk(16, true);
    const timer = (vtw as unknown as { timer: { pending(): boolean } }).timer;
    assert.equal(timer.pending(), false);
    ins4(vtw, 1, 80, MSLT_LOOPBACK);
    assert.equal(timer.pending(), true);
    clock.advance(3 * SEC);
    assert.equal(vtw.count4, 0);
    assert.equal(timer.pending(), false);
    ins4(vtw, 2, 80, MSLT_LOOPBACK);
    assert.equal(timer.pending(), true);
    clock.advance(3 * SEC);
    assert.equal(vtw.count4, 0);
  });
});

describe('VTW port-in-use rules', () => {
  it('answers port queries by local address, wildcard and SO_REUSEPORT', () => {
    const { vtw } = mk();
    ins4(vtw, 5000, 80, MSLT_REMOTE, F, L, 0);
    ins4(vtw, 5000, 81, MSLT_REMOTE, F, L, VTW_F_REUSEPORT);
    ins4(vtw, 5001, 80, MSLT_REMOTE, F, ip('10.0.0.2'), VTW_F_REUSEPORT);
    assert.equal(vtw.portInUse(AF_INET, L, 5000), 2);
    assert.equal(vtw.portInUse(AF_INET, L, 5000, true), 1, 'with SO_REUSEPORT only the vestige without it conflicts');
    assert.equal(vtw.portInUse(AF_INET, INADDR_ANY, 5000), 2);
    assert.equal(vtw.portInUse(AF_INET, INADDR_ANY, 5001), 1);
    assert.equal(vtw.portInUse(AF_INET, INADDR_ANY, 5001, true), 0);
    assert.equal(vtw.portInUse(AF_INET, L, 5001), 0, 'other local address');
    assert.equal(vtw.portInUse(AF_INET, ip('10.0.0.9'), 5000), 0);
    assert.equal(vtw.portInUse(AF_INET, L, 5002), 0);
    assert.equal(vtw.portInUse(AF_INET6, new Uint8Array(16), 5000), 0, 'IPv4 vestiges are not in the IPv6 port space');
    // PcbShadow: bind() with a wildcard lookup (no reuse options) conflicts; SO_REUSEADDR
    // (non-wildcard lookup) does not, as with a full TIME_WAIT PCB.
    assert.equal(vtw.bindConflict(AF_INET, L, 5000, 0, true), true);
    assert.equal(vtw.bindConflict(AF_INET, INADDR_ANY, 5001, 0, true), true);
    assert.equal(vtw.bindConflict(AF_INET, L, 5000, SO_REUSEADDR, false), false);
    assert.equal(vtw.bindConflict(AF_INET, L, 5002, 0, true), false);
    assert.equal(vtw.tupleInUse(AF_INET, F, 80, L, 5000), true);
    assert.equal(vtw.tupleInUse(AF_INET, F, 82, L, 5000), false);
    // Deleting releases the counts.
    vtw.del(vtw.lookup4(L, 5000, F, 80));
    assert.equal(vtw.portInUse(AF_INET, L, 5000), 1);
    vtw.del(vtw.lookup4(L, 5000, F, 81));
    assert.equal(vtw.portInUse(AF_INET, L, 5000), 0);
    assert.equal(vtw.portInUse(AF_INET, INADDR_ANY, 5000), 0);
    assert.equal(vtw.bindConflict(AF_INET, INADDR_ANY, 5000, 0, true), false);
  });

  it('answers IPv6 port queries', () => {
    const { vtw } = mk();
    const la = a6('2001:db8::1');
    const fa = a6('2001:db8::99');
    vtw.insert6(la, 0, 443, fa, 0, 50000, 1, 1, 1, 1, VTW_F_V6ONLY, MSLT_LOCAL);
    assert.equal(vtw.portInUse(AF_INET6, la, 443), 1);
    assert.equal(vtw.portInUse(AF_INET6, new Uint8Array(16), 443), 1);
    assert.equal(vtw.portInUse(AF_INET6, a6('2001:db8::2'), 443), 0);
    assert.equal(vtw.portInUse(AF_INET, INADDR_ANY, 443), 0);
    assert.equal(vtw.tupleInUse(AF_INET6, fa, 50000, la, 443), true);
    assert.equal(vtw.bindConflict(AF_INET6, la, 443, SO_REUSEPORT, false), false);
    assert.equal(vtw.bindConflict(AF_INET6, la, 443, 0, true), true);
  });

  it('makes bind() see a vestige as a TIME_WAIT PCB through the PcbShadow hook', () => {
    const { V, vtw } = mk();
    const info = new PcbInfo(V, 'tcp-test');
    info.shadows.push(vtw);
    ins4(vtw, 6000, 80, MSLT_REMOTE, F, ip('127.0.0.1'));
    const inp = info.alloc(null, false);
    assert.equal(in_pcbbind(inp, sockaddr_in(INADDR_ANY, 6000)), EADDRINUSE);
    assert.equal(in_pcbbind(inp, sockaddr_in(ip('127.0.0.1'), 6000)), EADDRINUSE);
    assert.equal(info.tupleInUse(AF_INET, F, 80, ip('127.0.0.1'), 6000), true);
    vtw.del(vtw.lookup4(ip('127.0.0.1'), 6000, F, 80));
    assert.equal(in_pcbbind(inp, sockaddr_in(INADDR_ANY, 6000)), 0);
  });
});

describe('VTW sysctls', () => {
  it('declares the NetBSD names with bsdnet defaults', () => {
    const { V } = mk();
    const s = V.sysctl;
    assert.equal(s.get('net.inet.tcp.vtw.enable'), 1);
    assert.equal(s.get('net.inet6.tcp6.vtw.enable'), 1);
    assert.equal(s.get('net.inet.tcp.vtw.entries'), 64);
    assert.equal(s.get('net.inet.tcp.mslt.enable'), true);
    assert.equal(s.get('net.inet.tcp.mslt.loopback'), 2);
    assert.equal(s.get('net.inet.tcp.mslt.local'), 10);
    assert.equal(s.get('net.inet.tcp.mslt.remote'), 60);
    assert.equal(s.get('net.inet.tcp.mslt.remote_threshold'), 6);
    assert.equal(s.get('net.inet.tcp.local_by_rtt'), false);
    const st = s.get('net.inet.tcp.vtw.stats') as Record<string, unknown>;
    for (const k of ['ins', 'del', 'kill', 'look', 'hit', 'miss', 'probe', 'losing', 'max_chain', 'max_probe', 'max_loss']) assert.ok(k in st, k);
    assert.throws(() => s.set('net.inet.tcp.vtw.entries', 100), /power of two/);
    assert.throws(() => s.set('net.inet.tcp.vtw.entries', 8), /range/);
    const fresh = new Vnet({ clock: new VirtualClock(), seed: 1 });
    assert.ok(fresh.vtw instanceof Vtw);
    assert.equal(fresh.sysctl.get('net.inet.tcp.vtw.entries'), 65536);
  });

  it('refuses insertions when the family switch is off', () => {
    const { V, vtw } = mk();
    V.sysctl.set('net.inet.tcp.vtw.enable', 0);
    assert.equal(vtw.enabled4, false);
    assert.equal(ins4(vtw, 1), -1);
    assert.ok(vtw.insert6(a6('::1'), 0, 1, a6('::1'), 0, 2, 0, 0, 0, 0, 0, MSLT_LOOPBACK) >= 0);
    V.sysctl.set('net.inet6.tcp6.vtw.enable', 0);
    assert.equal(vtw.insert6(a6('::1'), 0, 1, a6('::1'), 0, 3, 0, 0, 0, 0, 0, MSLT_LOOPBACK), -1);
    V.sysctl.set('net.inet.tcp.vtw.enable', 1);
    assert.ok(ins4(vtw, 1) >= 0);
  });

  it('resizes entries by rebuilding: newest kept, expiry kept, oldest killed', () => {
    const { clock, V, vtw } = mk(64, false);
    for (let p = 0; p < 40; p++) {
      ins4(vtw, 100 + p);
      clock.advance(100 * MS);
    }
    const e39 = vtw.expireAt(vtw.lookup4(L, 139, F, 80));
    V.sysctl.set('net.inet.tcp.vtw.entries', 16);
    assert.equal(vtw.count4, 16);
    assert.equal(vtw.stats.kill, 24);
    assert.equal(vtw.stats.ins, 40, 're-insertion is not counted as new');
    for (let p = 0; p < 40; p++) assert.equal(vtw.lookup4(L, 100 + p, F, 80) >= 0, p >= 24);
    assert.equal(vtw.expireAt(vtw.lookup4(L, 139, F, 80)), e39);
    assert.equal(vtw.portInUse(AF_INET, L, 139), 1);
    assert.equal(vtw.portInUse(AF_INET, L, 101), 0);
    V.sysctl.set('net.inet.tcp.vtw.entries', 128);
    assert.equal(vtw.count4, 16);
    clock.advanceTo(e39 - 1);
    assert.ok(vtw.lookup4(L, 139, F, 80) >= 0);
    clock.advanceTo(e39 + G);
    assert.equal(vtw.count4, 0);
  });

  it('switches between classless and per-class rings when mslt.enable changes', () => {
    const { clock, V, vtw } = mk(64, true);
    ins4(vtw, 1, 80, MSLT_LOOPBACK);
    ins4(vtw, 2, 80, MSLT_REMOTE);
    V.sysctl.set('net.inet.tcp.mslt.enable', 0);
    assert.deepEqual(
      vtw.table().families[0].classes.map((c) => [c.class, c.cap, c.used]),
      [['classless', 64, 2]],
    );
    assert.equal(vtw.mslClass(vtw.lookup4(L, 1, F, 80)), MSLT_LOOPBACK, 'the class is kept');
    clock.advance(2 * SEC + G);
    assert.equal(vtw.lookup4(L, 1, F, 80), -1, 'the loopback vestige still expires at its own time');
    assert.ok(vtw.lookup4(L, 2, F, 80) >= 0);
    V.sysctl.set('net.inet.tcp.mslt.enable', 1);
    assert.equal(vtw.table().families[0].classes.length, 3);
    assert.ok(vtw.lookup4(L, 2, F, 80) >= 0);
  });

  it('lists the table for netstat -V', () => {
    const { V, vtw } = mk();
    ins4(vtw, 1, 80, MSLT_LOCAL);
    vtw.insert6(a6('fe80::1'), 0, 22, a6('fe80::2'), 0, 6000, 1, 2, 3, 4, 0, MSLT_LOCAL);
    const t = V.sysctl.get('net.inet.tcp.vtw.table') as unknown as ReturnType<Vtw['table']>;
    assert.equal(t.families.length, 2);
    assert.equal(t.families[0].list[0].laddr, '10.0.0.1');
    assert.equal(t.families[0].list[0].faddr, '192.0.2.7');
    assert.equal(t.families[0].list[0].expire_ms, 10000);
    assert.equal(t.families[1].list[0].laddr, 'fe80::1');
    assert.equal(t.families[1].list[0].lport, 22);
    assert.equal(t.families[1].list[0].ts_recent, null);
    let n = 0;
    vtw.forEach(() => {
      n++;
    });
    assert.equal(n, 2);
  });
});

describe('MSLT', () => {
  it('has NetBSD MSLs per class, with the 0 fallbacks', () => {
    const { V, vtw } = mk();
    const m = vtw.mslt;
    assert.equal(m.mslNs(MSLT_LOOPBACK), 1 * SEC);
    assert.equal(m.mslNs(MSLT_LOCAL), 5 * SEC);
    assert.equal(m.mslNs(MSLT_REMOTE), 30 * SEC);
    assert.equal(m.mslNs(MSLT_CLASSLESS), 30 * SEC);
    V.sysctl.set('net.inet.tcp.mslt.loopback', 0);
    V.sysctl.set('net.inet.tcp.mslt.local', 0);
    V.sysctl.set('net.inet.tcp.mslt.remote', 0);
    assert.equal(m.mslNs(MSLT_LOOPBACK), 7.5 * SEC);
    assert.equal(m.mslNs(MSLT_LOCAL), 15 * SEC);
    assert.equal(m.mslNs(MSLT_REMOTE), 30 * SEC);
    V.sysctl.set('net.inet.tcp.mslt.enable', 0);
    assert.equal(m.mslNs(MSLT_LOOPBACK), 30 * SEC);
  });

  it('classifies peers: loopback, directly connected, via a gateway', () => {
    const { V, vtw } = mk();
    const m = vtw.mslt;
    const { ifp } = etherIf(V, 'em', mac(1));
    V.inet.addAddress(ifp, ip('10.0.0.1'), 24);
    V.inet6.addAddress(ifp, a6('2001:db8::1'), 64, 0x20 /* IN6_IFF_NODAD */);
    assert.equal(m.classify4(ip('127.0.0.1'), ip('127.0.0.1')), MSLT_LOOPBACK);
    assert.equal(m.classify4(ip('10.0.0.1'), ip('10.0.0.1')), MSLT_LOOPBACK);
    assert.equal(m.classify4(ip('10.0.0.1'), ip('10.0.0.77'), V.loif), MSLT_LOOPBACK);
    assert.equal(m.classify4(ip('10.0.0.1'), ip('10.0.0.77')), MSLT_LOCAL);
    assert.equal(m.classify4(ip('10.0.0.1'), ip('10.0.1.77')), MSLT_REMOTE);
    assert.equal(m.classify6(a6('::1'), a6('::1')), MSLT_LOOPBACK);
    assert.equal(m.classify6(a6('2001:db8::1'), a6('2001:db8::5')), MSLT_LOCAL);
    assert.equal(m.classify6(a6('fe80::1'), a6('fe80::5')), MSLT_LOCAL);
    assert.equal(m.classify6(a6('2001:db8::1'), a6('2001:db9::5')), MSLT_REMOTE);
    V.sysctl.set('net.inet.tcp.local_by_rtt', 1);
    assert.equal(m.classify4(ip('10.0.0.1'), ip('10.0.1.77')), MSLT_LOCAL);
    assert.equal(m.rttPromote(MSLT_LOCAL, 7), MSLT_REMOTE);
    assert.equal(m.rttPromote(MSLT_LOCAL, 6), MSLT_LOCAL);
    V.sysctl.set('net.inet.tcp.mslt.enable', 0);
    assert.equal(m.classify4(ip('127.0.0.1'), ip('127.0.0.1')), MSLT_CLASSLESS);
  });
});

// --- model test ---

interface MSlot {
  key: string | null;
  e: number;
}

/** Reference model: per-ring FIFO arrays (holes are null keys) and a Map of live vestiges. */
class Model {
  rings: MSlot[][] = [[], [], [], []];
  caps: number[];
  live = new Map<string, { ring: number; slot: MSlot; snd: number; cls: number }>();
  kill = 0;
  constructor(entries: number, mslt: boolean) {
    const c = Math.floor(entries / 3);
    this.caps = mslt ? [0, c, c, entries - 2 * c] : [entries, 0, 0, 0];
  }
  ringOf(cls: number): number {
    return this.caps[0] > 0 ? 0 : cls === 0 ? 1 : cls;
  }
  del(key: string): void {
    const v = this.live.get(key);
    if (!v) return;
    v.slot.key = null;
    this.live.delete(key);
  }
  insert(key: string, cls: number, snd: number, e: number): void {
    this.del(key);
    const r = this.ringOf(cls);
    const ring = this.rings[r];
    if (ring.length === this.caps[r]) {
      const old = ring.shift() as MSlot;
      if (old.key !== null) {
        this.live.delete(old.key);
        this.kill++;
      }
    }
    const slot = { key, e };
    ring.push(slot);
    this.live.set(key, { ring: r, slot, snd, cls });
  }
  expire(T: number): void {
    for (const ring of this.rings) {
      while (ring.length > 0 && ring[0].e <= T) {
        const s = ring.shift() as MSlot;
        if (s.key !== null) this.live.delete(s.key);
      }
    }
  }
}

describe('VTW against a Map-based model (fast-check)', () => {
  const lifetimes = [60 * SEC, 60 * SEC, 10 * SEC, 2 * SEC];
  const op = fc.oneof(
    fc.record({ t: fc.constant('ins' as const), k: fc.nat(23), cls: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ t: fc.constant('del' as const), k: fc.nat(23) }),
    fc.record({ t: fc.constant('restart' as const), k: fc.nat(23) }),
    fc.record({ t: fc.constant('adv' as const), ms: fc.integer({ min: 1, max: 4000 }) }),
  );

  for (const v6 of [false, true]) {
    for (const mslt of [true, false]) {
      it(`matches the model (${v6 ? 'IPv6' : 'IPv4'}, MSLT ${mslt ? 'on' : 'off'})`, () => {
        fc.assert(
          fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
            const { clock, vtw } = mk(16, mslt);
            const model = new Model(16, mslt);
            const la = [a6('2001:db8::1'), a6('2001:db8::2')];
            const fa = [a6('2001:db8::a'), a6('2001:db8::b')];
            const parts = (k: number) => ({ l: k % 2, lport: 1000 + ((k >> 1) % 3), f: ((k / 6) | 0) % 2, fport: 80 + ((k / 12) | 0) });
            const lookup = (k: number) => {
              const p = parts(k);
              return v6 ? vtw.lookup6(la[p.l], 0, p.lport, fa[p.f], 0, p.fport) : vtw.lookup4(L + p.l, p.lport, F + p.f, p.fport);
            };
            let snd = 1;
            for (const o of ops) {
              const key = String(o.t === 'adv' ? -1 : o.k);
              if (o.t === 'ins') {
                const p = parts(o.k);
                snd++;
                const life = mslt ? lifetimes[o.cls] : 60 * SEC;
                const r = v6
                  ? vtw.insert6(la[p.l], 0, p.lport, fa[p.f], 0, p.fport, snd, 0, 0, 0, 0, o.cls)
                  : vtw.insert4(L + p.l, p.lport, F + p.f, p.fport, snd, 0, 0, 0, 0, o.cls);
                assert.ok(r >= 0);
                model.insert(key, o.cls, snd, clock.now() + life);
              } else if (o.t === 'del') {
                const i = lookup(o.k);
                if (i >= 0) vtw.del(i);
                model.del(key);
              } else if (o.t === 'restart') {
                const i = lookup(o.k);
                const m = model.live.get(key);
                assert.equal(i >= 0, m !== undefined);
                if (i >= 0 && m) {
                  const j = vtw.restart(i);
                  assert.ok(j >= 0);
                  model.insert(key, m.cls, m.snd, clock.now() + (mslt ? lifetimes[m.cls] : 60 * SEC));
                }
              } else {
                const t1 = clock.now() + o.ms * MS;
                // Callout runs land on multiples of 200 ms.
                for (let T = Math.ceil((clock.now() + 1) / G) * G; T <= t1; T += G) model.expire(T);
                clock.advanceTo(t1);
              }
              for (let k = 0; k < 24; k++) {
                const i = lookup(k);
                const m = model.live.get(String(k));
                assert.equal(i >= 0, m !== undefined, `key ${k} after ${o.t}`);
                if (i >= 0 && m) assert.equal(vtw.snd_nxt(i), m.snd);
              }
              assert.equal(v6 ? vtw.count6 : vtw.count4, model.live.size);
              assert.equal(vtw.stats.kill, model.kill);
              // Port counts agree with the model.
              for (let k = 0; k < 6; k++) {
                const lport = 1000 + (k % 3);
                const l = k % 2;
                let want = 0;
                for (const kk of model.live.keys()) {
                  const p = parts(Number(kk));
                  if (p.lport === lport && p.l === l) want++;
                }
                assert.equal(v6 ? vtw.portInUse(AF_INET6, la[l], lport) : vtw.portInUse(AF_INET, L + l, lport), want);
              }
            }
          }),
          { numRuns: 150 },
        );
      });
    }
  }
});

describe('VTW memory and allocation', () => {
  it('stays within 32 bytes per IPv4 and 56 per IPv6 vestige at 1M entries (typed-array bytes)', () => {
    const { vtw } = mk(1 << 20, false);
    const N = 1 << 20;
    const fa = new Uint8Array(16);
    const la = a6('2001:db8::1');
    fa.set(a6('2001:db8:1::'));
    for (let i = 0; i < N; i++) {
      vtw.insert4(L, 1024 + (i % 60000), F + ((i / 60000) | 0), 80, i, i, 0, 0, 0, MSLT_REMOTE);
      fa[12] = i >>> 24;
      fa[13] = (i >>> 16) & 0xff;
      fa[14] = (i >>> 8) & 0xff;
      fa[15] = i & 0xff;
      vtw.insert6(la, 0, 1024 + (i % 60000), fa, 0, 80, i, i, 0, 0, 0, MSLT_REMOTE);
    }
    assert.equal(vtw.count4, N);
    assert.equal(vtw.count6, N);
    assert.equal(vtw.stats.kill, 0);
    const b4 = vtw.bytes(false) / N;
    const b6 = vtw.bytes(true) / N;
    assert.ok(b4 <= 32, `IPv4 ${b4} B/vestige`);
    assert.ok(b6 <= 56, `IPv6 ${b6} B/vestige`);
  });

  it('keeps lookups O(1) as the table grows: tags probed and lines walked per lookup stay flat', () => {
    const per = (entries: number): { hit: number; miss: number; lines: number } => {
      const { vtw } = mk(entries, false);
      for (let i = 0; i < entries; i++) vtw.insert4(L, 1024 + (i % 60000), F + ((i / 60000) | 0), 80, i, i, 0, 0, 0, MSLT_REMOTE);
      const st = vtw.stats;
      const p0 = st.probe[0];
      for (let i = 0; i < 4096; i++) {
        const j = (i * 40503) % entries;
        assert.ok(vtw.lookup4(L, 1024 + (j % 60000), F + ((j / 60000) | 0), 80) >= 0);
      }
      const p1 = st.probe[0];
      for (let i = 0; i < 4096; i++) {
        const j = (i * 40503) % entries;
        assert.equal(vtw.lookup4(L, 1024 + (j % 60000), F + 4096 + ((j / 60000) | 0), 80), -1);
      }
      return { hit: (p1 - p0) / 4096, miss: (st.probe[0] - p1) / 4096, lines: st.max_chain[0] };
    };
    const small = per(1 << 12);
    const big = per(1 << 18);
    // A full table holds ~32 vestiges per bucket (entries/32 buckets), 15 tags per line.
    for (const r of [small, big]) {
      assert.ok(r.hit <= 40 && r.miss <= 48, `probes per lookup ${JSON.stringify(r)}`);
      assert.ok(r.lines <= 6, `lines per chain ${r.lines}`);
    }
    assert.ok(big.hit <= small.hit * 1.25 + 1 && big.miss <= small.miss * 1.25 + 1, `64× the entries: ${JSON.stringify(small)} → ${JSON.stringify(big)}`);
  });

  it('does not allocate per lookup', async () => {
    const { vtw } = mk(1 << 12, false);
    for (let i = 0; i < 4096; i++) ins4(vtw, 1024 + i);
    const la = a6('2001:db8::1');
    const fa = a6('2001:db8::2');
    for (let i = 0; i < 4096; i++) vtw.insert6(la, 0, 1024 + i, fa, 0, 80, 0, 0, 0, 0, 0, MSLT_REMOTE);
    let gcs = 0;
    const obs = new PerformanceObserver((list) => {
      gcs += list.getEntries().length;
    });
    const run = (n: number) => {
      let h = 0;
      for (let i = 0; i < n; i++) {
        h += vtw.lookup4(L, 1024 + (i & 8191), F, 80) >= 0 ? 1 : 0;
        h += vtw.lookup6(la, 0, 1024 + (i & 8191), fa, 0, 80) >= 0 ? 1 : 0;
        h += vtw.portInUse(AF_INET, L, 1024 + (i & 8191));
      }
      return h;
    };
    run(20_000); // warm up (JIT)
    await new Promise((r) => setTimeout(r, 10));
    obs.observe({ entryTypes: ['gc'] });
    const before = process.memoryUsage().heapUsed;
    const hits = run(409_600);
    const after = process.memoryUsage().heapUsed;
    await new Promise((r) => setTimeout(r, 20));
    obs.disconnect();
    assert.equal(hits, 3 * 204_800);
    // 1.2M operations allocating even 16 bytes each would be ~19 MB and several scavenges.
    assert.equal(gcs, 0, 'no garbage collection during 1.2M lookups');
    assert.ok(after - before < 1_000_000, `heap grew ${after - before} bytes`);
  });
});
