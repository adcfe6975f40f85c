/*
 * Tests for mbufs (src/mbuf/mbuf.ts): allocation, sharing and read-only storage, header
 * manipulation (prepend, pullup, adj, split, append, copyback, cat), refcounts and zone
 * limits, and a property test of random operation sequences against a byte-array model.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CSUM_IP_UDP,
  M_BCAST,
  M_EXT,
  M_LEADINGSPACE,
  M_PKTHDR,
  M_RDONLY,
  M_TRAILINGSPACE,
  M_WRITABLE,
  MAX_LINKHDR,
  MCLBYTES,
  MHLEN,
  MJUM9BYTES,
  MJUM16BYTES,
  MJUMPAGESIZE,
  MLEN,
  type Mbuf,
  m_adj,
  m_apply,
  m_byte,
  m_cat,
  m_copydata,
  m_fixhdr,
  m_free,
  m_freem,
  m_freem_list,
  m_last,
  m_length,
  m_tobuf,
  m_tobytes,
  mbufLimitsFor,
} from '../../src/mbuf/mbuf.js';
import { bytesOf, chain, lenConsistent, mbufs, pattern } from '../helpers/mbuf.js';

function nmbufs(m: Mbuf | null): number {
  let n = 0;
  for (; m; m = m.m_next) n++;
  return n;
}

describe('mbuf allocation', () => {
  it('get/gethdr give empty mbufs with internal storage; gethdr resets the packet header', () => {
    const M = mbufs();
    const m = M.get() as Mbuf;
    assert.equal(m.m_flags, 0);
    assert.equal(m.m_len, 0);
    assert.equal(m.m_buf.length, MLEN);
    assert.equal(m.m_ext, null);
    assert.equal(M_WRITABLE(m), true);
    const h = M.gethdr() as Mbuf;
    h.csum_flags = 5;
    h.len = 9;
    h.m_flags |= M_BCAST;
    m_free(h);
    const h2 = M.gethdr() as Mbuf;
    assert.equal(h2, h, 'the zone reuses the freed mbuf');
    assert.equal(h2.m_flags, M_PKTHDR);
    assert.deepEqual([h2.csum_flags, h2.len, h2.rcvif, h2.tags], [0, 0, null, null]);
    assert.equal(M.zone_mbuf.stats().used, 2);
  });

  it('getcl picks the smallest cluster zone that fits', () => {
    const M = mbufs();
    for (const [size, want] of [
      [1, MCLBYTES],
      [MCLBYTES, MCLBYTES],
      [MCLBYTES + 1, MJUMPAGESIZE],
      [MJUMPAGESIZE + 1, MJUM9BYTES],
      [MJUM9BYTES + 1, MJUM16BYTES],
    ] as const) {
      const m = M.getcl(size) as Mbuf;
      assert.equal(m.m_buf.length, want, `size ${size}`);
      assert.equal(m.m_flags & (M_EXT | M_PKTHDR), M_EXT | M_PKTHDR);
      assert.equal(m.m_ext?.refcnt, 1);
      m_freem(m);
    }
    assert.equal(M.getcl(MJUM16BYTES + 1), null);
    assert.equal(M.zone_mbuf.stats().used, 0, 'the mbuf of a failed getcl is returned');
    assert.equal((M.getcl(100, false) as Mbuf).m_flags, M_EXT);
  });

  it('getm builds one mbuf when it fits, else a chain of clusters with the headroom in front', () => {
    const M = mbufs();
    const small = M.getm(100) as Mbuf;
    assert.equal(nmbufs(small), 1);
    assert.equal(small.m_ext, null);
    assert.equal(small.m_data, MAX_LINKHDR);
    assert.equal(M.getm(MHLEN - MAX_LINKHDR)?.m_ext, null);
    const mid = M.getm(1000, 0) as Mbuf;
    assert.equal(mid.m_buf.length, MCLBYTES);
    assert.equal(mid.m_data, 0);
    const big = M.getm(40_000, 64) as Mbuf;
    let room = big.m_buf.length - 64;
    for (let n = big.m_next; n; n = n.m_next) room += n.m_buf.length;
    assert.ok(room >= 40_000);
    assert.equal(big.m_data, 64);
    for (let n: Mbuf | null = big; n; n = n.m_next) assert.equal(n.m_len, 0);
    const capped = M.getm(5000, 0, MCLBYTES) as Mbuf;
    for (let n: Mbuf | null = capped; n; n = n.m_next) assert.ok(n.m_buf.length <= MCLBYTES, 'maxClust is respected');
  });

  it('devget copies a frame into a packet with the receiving interface and length', () => {
    const M = mbufs();
    const src = pattern(3000);
    const m = M.devget(src, 100, 2500, null, 2) as Mbuf;
    assert.equal(m.len, 2500);
    assert.equal(m_length(m), 2500);
    assert.deepEqual(m_tobytes(m), src.subarray(100, 2600));
    assert.equal(m.m_data, 2);
    const z = M.devget(src, 0, 0, null) as Mbuf;
    assert.equal(z.len, 0);
    assert.equal(m_length(z), 0);
  });

  it('zone limits produce null and count failures and drops', () => {
    const M = mbufs({ nmbufs: 3, nmbclusters: 1 });
    const a = M.getcl() as Mbuf;
    assert.ok(a);
    assert.equal(M.getcl(), null, 'no second cluster');
    assert.equal(M.zone_clust.stats().fails, 1);
    const b = M.get() as Mbuf;
    const c = M.get() as Mbuf;
    assert.equal(M.get(), null);
    assert.equal(M.gethdr(), null);
    assert.equal(M.zone_mbuf.stats().fails, 2);
    const drops = M.drops;
    assert.equal(M.getm(10), null);
    assert.equal(M.drops, drops + 1);
    m_freem(c);
    // getm of a chain that cannot be completed frees what it had.
    const used = M.zone_mbuf.stats().used;
    assert.equal(M.getm(5000, 0, MCLBYTES), null);
    assert.equal(M.zone_mbuf.stats().used, used);
    m_freem(a);
    m_freem(b);
    assert.equal(M.zone_mbuf.stats().used, 0);
    assert.equal(M.zone_clust.stats().used, 0);
  });

  it('mbufLimitsFor derives FreeBSD-style limits from a memory budget', () => {
    const l = mbufLimitsFor(512 * 1024 * 1024);
    assert.equal(l.nmbclusters, (512 * 1024 * 1024) / 2048 / 4);
    assert.equal(l.nmbjumbop, (512 * 1024 * 1024) / 4096 / 4);
    assert.ok(l.nmbufs >= l.nmbclusters + l.nmbjumbop + l.nmbjumbo9 + l.nmbjumbo16);
  });
});

describe('mbuf sharing and refcounts', () => {
  it('copym shares clusters (refcount up, storage read-only) and copies internal storage', () => {
    const M = mbufs();
    const data = pattern(1200);
    const m = chain(M, data, [100, 1100]); // internal + cluster
    m.csum_flags = CSUM_IP_UDP;
    const c = M.copym(m, 0, Number.POSITIVE_INFINITY) as Mbuf;
    assert.deepEqual(m_tobytes(c), data);
    assert.equal(c.m_flags & M_PKTHDR, M_PKTHDR);
    assert.equal(c.len, 1200);
    assert.equal(c.csum_flags, CSUM_IP_UDP, 'the header is copied');
    const mc = m.m_next as Mbuf;
    const cc = c.m_next as Mbuf;
    assert.equal(cc.m_ext, mc.m_ext, 'cluster shared');
    assert.equal(mc.m_ext?.refcnt, 2);
    assert.equal(M_WRITABLE(mc), false);
    assert.equal(M_WRITABLE(cc), false);
    assert.equal(M_LEADINGSPACE(cc), 0);
    assert.equal(M_TRAILINGSPACE(cc), 0);
    assert.notEqual(c.m_buf, m.m_buf, 'internal storage is copied');
    assert.equal(M_WRITABLE(c), true);
    m_freem(m);
    assert.equal(cc.m_ext?.refcnt, 1);
    assert.equal(M_WRITABLE(cc), true, 'the last reference may write');
    assert.deepEqual(m_tobytes(c), data);
    m_freem(c);
    assert.equal(M.zone_clust.stats().used, 0);
    assert.equal(M.zone_mbuf.stats().used, 0);
  });

  it('copym of a range: offsets inside mbufs, no header unless off is 0', () => {
    const M = mbufs();
    const data = pattern(3000);
    const m = chain(M, data, [50, 150, 2000, 800]);
    for (const [off, len] of [
      [0, 3000],
      [0, 10],
      [49, 2],
      [50, 150],
      [199, 2001],
      [2999, 1],
      [1000, 0],
      [3000, 0],
    ] as const) {
      const c = M.copym(m, off, len) as Mbuf;
      assert.deepEqual(m_tobytes(c), data.subarray(off, off + len), `copym(${off}, ${len})`);
      assert.equal((c.m_flags & M_PKTHDR) !== 0, off === 0);
      if (off === 0) assert.equal(c.len, len);
      m_freem(c);
    }
    assert.throws(() => M.copym(m, 2990, 20), RangeError);
    m_freem(m);
    assert.equal(M.zone_mbuf.stats().used, 0, 'nothing leaked, including by the refused copy');
    assert.equal(M.zone_clust.stats().used, 0);
  });

  it('copypacket shares every cluster; dup copies into fresh writable storage', () => {
    const M = mbufs();
    const data = pattern(5000);
    const m = chain(M, data, [2000, 2000, 1000]);
    const cp = M.copypacket(m) as Mbuf;
    for (let a: Mbuf | null = m, b: Mbuf | null = cp; a && b; a = a.m_next, b = b.m_next) assert.equal(a.m_ext, b.m_ext);
    const d = M.dup(m) as Mbuf;
    assert.deepEqual(m_tobytes(d), data);
    assert.equal(d.len, 5000);
    for (let x: Mbuf | null = d; x; x = x.m_next) {
      assert.equal(M_WRITABLE(x), true);
      for (let y: Mbuf | null = m; y; y = y.m_next) assert.notEqual(x.m_buf.buffer === y.m_buf.buffer && x.m_buf.byteOffset === y.m_buf.byteOffset, true);
    }
    (d.m_buf as Uint8Array)[d.m_data] = 0xee;
    assert.equal(m_byte(m, 0), data[0], 'writing the dup leaves the original alone');
    m_freem(m);
    m_freem(cp);
    m_freem(d);
    assert.equal(M.zone_clust.stats().used, 0);
  });

  it('a shared cluster returns to its zone exactly once, whatever the free order', () => {
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 0, 2],
    ]) {
      const M = mbufs();
      const m = chain(M, pattern(1000), [1000]);
      const copies = [m, M.copym(m, 0, 500) as Mbuf, M.copym(m, 500, 500) as Mbuf];
      assert.equal(m.m_ext?.refcnt, 3);
      const before = M.zone_clust.stats().frees;
      for (const i of order) {
        m_freem(copies[i] as Mbuf);
      }
      assert.equal(M.zone_clust.stats().frees - before, 1);
      assert.equal(M.zone_clust.stats().used, 0);
      // The recycled cluster is handed out fresh.
      const n = M.getcl() as Mbuf;
      assert.equal(n.m_ext?.refcnt, 1);
    }
  });

  it('read-only cluster storage stays read-only in copies, even when they hold the last reference', () => {
    const M = mbufs();
    const m = chain(M, pattern(1100), [100, 1000]);
    const ro = m.m_next as Mbuf;
    ro.m_flags |= M_RDONLY;
    assert.equal(M_WRITABLE(ro), false);
    const ext = ro.m_ext;
    const c = M.copym(m, 0, 1100) as Mbuf;
    const s = M.split(m, 300) as Mbuf;
    m_freem(m);
    m_freem(s);
    const cro = c.m_next as Mbuf;
    assert.equal(cro.m_ext, ext);
    assert.equal(cro.m_ext?.refcnt, 1);
    assert.equal(M_WRITABLE(cro), false);
    m_freem(c);
  });

  it('fresh storage is writable even when the packet it came from was read-only', () => {
    const M = mbufs();
    const m = chain(M, pattern(1000), [1000]);
    m.m_flags |= M_RDONLY;
    // A header prepended in front of read-only data is a new, writable mbuf: a second
    // prepend finds leading space in it instead of adding a third mbuf.
    const p1 = M.prepend(m, 20) as Mbuf;
    assert.notEqual(p1, m);
    assert.equal(M_WRITABLE(p1), true);
    const p2 = M.prepend(p1, 14) as Mbuf;
    assert.equal(p2, p1);
    assert.equal(nmbufs(p2), 2);
    assert.equal(p2.len, 1034);
    // A copy of internal storage is private.
    const small = chain(M, pattern(50), [50]);
    small.m_flags |= M_RDONLY;
    const c = M.copym(small, 0, 50) as Mbuf;
    assert.equal(M_WRITABLE(c), true);
    const d = M.dup(small) as Mbuf;
    assert.equal(M_WRITABLE(d), true);
  });
});

describe('mbuf header manipulation', () => {
  it('prepend uses leading space when there is some', () => {
    const M = mbufs();
    const m = M.getm(100) as Mbuf;
    m.m_len = 100;
    m.len = 100;
    const p = M.prepend(m, 14) as Mbuf;
    assert.equal(p, m);
    assert.equal(p.m_data, MAX_LINKHDR - 14);
    assert.equal(p.m_len, 114);
    assert.equal(p.len, 114);
  });

  it('prepend links a new header mbuf when there is no room, moving the packet header', () => {
    const M = mbufs();
    const data = pattern(200);
    const m = chain(M, data, [200]);
    m.m_data = 0;
    m.m_buf.set(data, 0);
    m.csum_flags = CSUM_IP_UDP;
    const p = M.prepend(m, 20) as Mbuf;
    assert.notEqual(p, m);
    assert.equal(p.m_next, m);
    assert.equal(p.m_flags & M_PKTHDR, M_PKTHDR);
    assert.equal(m.m_flags & M_PKTHDR, 0);
    assert.equal(p.len, 220);
    assert.equal(p.csum_flags, CSUM_IP_UDP);
    assert.equal(p.m_len, 20);
    assert.ok(M_LEADINGSPACE(p) > 0, 'aligned to the end so the next prepend fits');
    p.m_buf.fill(0xab, p.m_data, p.m_data + 20);
    assert.deepEqual(bytesOf(p), [...new Array(20).fill(0xab), ...data]);
    // A prepend larger than an mbuf gets a cluster.
    const q = M.prepend(p, 500) as Mbuf;
    assert.ok(q.m_flags & M_EXT);
    assert.equal(q.len, 720);
    assert.equal(m_length(q), 720);
  });

  it('prepend on a shared cluster never writes into the shared storage', () => {
    const M = mbufs();
    const data = pattern(1000);
    const m = chain(M, data, [1000]);
    assert.ok(m.m_data > 0);
    const c = M.copypacket(m) as Mbuf;
    const p = M.prepend(c, 4) as Mbuf;
    assert.notEqual(p, c);
    p.m_buf.fill(0xff, p.m_data, p.m_data + 4);
    assert.deepEqual(m_tobytes(m), data);
    assert.deepEqual(m.m_buf.subarray(0, m.m_data), new Uint8Array(m.m_data), 'the leading space of the shared cluster is untouched');
  });

  it('prepend failure frees the chain and counts a drop', () => {
    const M = mbufs({ nmbufs: 1 });
    const m = M.gethdr() as Mbuf;
    m.m_data = 0;
    m.m_len = 10;
    m.len = 10;
    assert.equal(M.prepend(m, 4), null);
    assert.equal(M.drops, 1);
    assert.equal(M.zone_mbuf.stats().used, 0);
  });

  it('pullup makes the first bytes contiguous, in place or in a new head', () => {
    const M = mbufs();
    const data = pattern(600);
    const m = chain(M, data, [10, 20, 30, 540]);
    const p = M.pullup(m, 40) as Mbuf;
    assert.equal(p, m, 'room in the writable first mbuf');
    assert.ok(p.m_len >= 40);
    assert.deepEqual(m_tobytes(p), data);
    assert.equal(p.len, 600);
    assert.equal(M.pullup(p, 20), p, 'already contiguous');
    // Shared first mbuf: a new head.
    const q = chain(M, data, [300, 300]);
    const cq = M.copypacket(q) as Mbuf;
    const pq = M.pullup(cq, 400) as Mbuf;
    assert.notEqual(pq, cq);
    assert.ok(pq.m_len >= 400);
    assert.deepEqual(m_tobytes(pq), data);
    assert.equal(pq.len, 600);
    assert.deepEqual(m_tobytes(q), data, 'the original is unchanged');
    // Too short: freed, null.
    const used = M.zone_mbuf.stats().used;
    const r = chain(M, pattern(30), [10, 20]);
    assert.equal(M.pullup(r, 31), null);
    assert.equal(M.zone_mbuf.stats().used, used);
  });

  it('m_adj trims the head and the tail, keeping emptied mbufs and the header length right', () => {
    const M = mbufs();
    const data = pattern(1000);
    const m = chain(M, data, [100, 300, 600]);
    m_adj(m, 150);
    assert.deepEqual(m_tobytes(m), data.subarray(150));
    assert.equal(m.len, 850);
    assert.equal(m.m_len, 0);
    m_adj(m, -700);
    assert.deepEqual(m_tobytes(m), data.subarray(150, 300));
    assert.equal(m.len, 150);
    m_adj(m, -10_000);
    assert.equal(m.len, 0);
    assert.equal(m_length(m), 0);
    const n = chain(M, data, [100, 900]);
    m_adj(n, 5000);
    assert.equal(n.len, 0);
    assert.equal(m_length(n), 0);
  });

  it('split at every kind of point; the halves keep their bytes and headers', () => {
    const M = mbufs();
    const data = pattern(1500);
    for (const at of [0, 1, 99, 100, 101, 700, 1499, 1500]) {
      const m = chain(M, data, [100, 600, 800]);
      m.csum_flags = CSUM_IP_UDP;
      const n = M.split(m, at) as Mbuf;
      assert.ok(n, `split at ${at}`);
      assert.deepEqual(m_tobytes(m), data.subarray(0, at), `head at ${at}`);
      assert.deepEqual(m_tobytes(n), data.subarray(at), `tail at ${at}`);
      assert.equal(m.len, at);
      assert.equal(n.len, 1500 - at);
      assert.equal(n.m_flags & M_PKTHDR, M_PKTHDR);
      m_freem(m);
      m_freem(n);
    }
    const m = chain(M, data, [100, 600, 800]);
    assert.equal(M.split(m, 1501), null);
    assert.deepEqual(m_tobytes(m), data, 'unchanged');
    m_freem(m);
    assert.equal(M.zone_mbuf.stats().used, 0);
    assert.equal(M.zone_clust.stats().used, 0);
  });

  it('append fills trailing space then adds clusters; len follows', () => {
    const M = mbufs();
    const m = M.gethdr() as Mbuf;
    const a = pattern(5000, 3);
    assert.equal(M.append(m, a, 0, 100), true);
    assert.equal(nmbufs(m), 1, 'fits in the internal storage');
    assert.equal(M.append(m, a, 100, 4900), true);
    assert.deepEqual(m_tobytes(m), a);
    assert.equal(m.len, 5000);
    // On a shared tail, append never writes into the shared cluster.
    const c = M.copypacket(m) as Mbuf;
    const last = m_last(c);
    const lastLen = last.m_len;
    M.append(c, pattern(10, 9), 0, 10);
    assert.deepEqual(m_tobytes(m), a, 'original unchanged');
    assert.equal(last.m_len, lastLen);
    assert.deepEqual(m_tobytes(c), new Uint8Array([...a, ...pattern(10, 9)]));
  });

  it('append failure keeps what fitted and counts the length correctly', () => {
    const M = mbufs({ nmbclusters: 1, nmbjumbop: 0, nmbjumbo9: 0, nmbjumbo16: 0 });
    const m = M.gethdr() as Mbuf;
    const a = pattern(3000);
    assert.equal(M.append(m, a, 0, 3000), false);
    assert.ok(lenConsistent(m));
    assert.deepEqual(m_tobytes(m), a.subarray(0, m_length(m)));
  });

  it('copydata, copyback, m_byte, m_apply, m_tobuf read and write across mbuf boundaries', () => {
    const M = mbufs();
    const data = pattern(700);
    const m = chain(M, data, [7, 93, 600]);
    const out = new Uint8Array(20);
    m_copydata(m, 95, 10, out, 5);
    assert.deepEqual(out.subarray(5, 15), data.subarray(95, 105));
    assert.throws(() => m_copydata(m, 695, 10, out), RangeError);
    assert.equal(m_byte(m, 6), data[6]);
    assert.equal(m_byte(m, 7), data[7]);
    assert.throws(() => m_byte(m, 700), RangeError);
    M.copyback(m, 5, new Uint8Array([1, 2, 3, 4, 5, 6]));
    const want = Uint8Array.from(data);
    want.set([1, 2, 3, 4, 5, 6], 5);
    assert.deepEqual(m_tobytes(m), want);
    assert.throws(() => M.copyback(m, 698, new Uint8Array(5)), RangeError);
    const sum = m_apply(m, 3, 100, (s: number, b, o, n) => s + b.subarray(o, o + n).reduce((x, y) => x + y, 0), 0);
    assert.equal(
      sum,
      want.subarray(3, 103).reduce((x, y) => x + y, 0),
    );
    const flat = new Uint8Array(800);
    assert.equal(m_tobuf(m, flat), 700);
    assert.deepEqual(flat.subarray(0, 700), want);
  });

  it('m_cat joins chains without a second header; m_fixhdr recomputes len', () => {
    const M = mbufs();
    const a = chain(M, pattern(100, 1), [100]);
    const b = chain(M, pattern(50, 2), [50]);
    m_cat(a, b);
    assert.equal(b.m_flags & M_PKTHDR, 0);
    assert.deepEqual(m_tobytes(a), new Uint8Array([...pattern(100, 1), ...pattern(50, 2)]));
    assert.equal(m_fixhdr(a), 150);
    assert.equal(a.len, 150);
    assert.equal(m_last(a), b);
  });

  it('m_freem_list frees a queue of packets', () => {
    const M = mbufs();
    const a = chain(M, pattern(3000), [1000, 2000]);
    const b = chain(M, pattern(100), [100]);
    a.m_nextpkt = b;
    m_freem_list(a);
    assert.equal(M.zone_mbuf.stats().used, 0);
    assert.equal(M.zone_clust.stats().used, 0);
  });
});

/*
 * Property test: random operation sequences on a packet, checked against a byte array.
 * Copies taken along the way (sharing clusters) must never change.
 */
type MOp =
  | { k: 'append'; n: number; seed: number }
  | { k: 'prepend'; n: number; fill: number }
  | { k: 'adj'; n: number }
  | { k: 'pullup'; n: number }
  | { k: 'split'; at: number; keep: 'head' | 'tail' | 'rejoin' }
  | { k: 'copy'; off: number; len: number }
  | { k: 'snapshot' }
  | { k: 'dup' }
  | { k: 'copyback'; off: number; seed: number; n: number };

describe('mbuf property: random operations match a byte-array model', () => {
  const opArb: fc.Arbitrary<MOp> = fc.oneof(
    fc.record({ k: fc.constant('append' as const), n: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 9000 })), seed: fc.nat(255) }),
    fc.record({ k: fc.constant('prepend' as const), n: fc.oneof(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 1500 })), fill: fc.nat(255) }),
    fc.record({ k: fc.constant('adj' as const), n: fc.integer({ min: -500, max: 500 }) }),
    fc.record({ k: fc.constant('pullup' as const), n: fc.integer({ min: 1, max: 2000 }) }),
    fc.record({ k: fc.constant('split' as const), at: fc.nat(10_000), keep: fc.constantFrom('head' as const, 'tail' as const, 'rejoin' as const) }),
    fc.record({ k: fc.constant('copy' as const), off: fc.nat(10_000), len: fc.nat(10_000) }),
    fc.constant({ k: 'snapshot' as const }),
    fc.constant({ k: 'dup' as const }),
    fc.record({ k: fc.constant('copyback' as const), off: fc.nat(10_000), seed: fc.nat(255), n: fc.integer({ min: 1, max: 100 }) }),
  );

  it('keeps content, lengths, sharing and zone accounting right', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 5 }), fc.array(opArb, { maxLength: 40 }), (shape, ops) => {
        const M = mbufs();
        const total = shape.reduce((a, b) => a + b, 0);
        let model = [...pattern(total, 1)];
        let m: Mbuf = chain(M, Uint8Array.from(model), shape);
        const snaps: [Mbuf, number[]][] = [];
        for (const op of ops) {
          switch (op.k) {
            case 'append': {
              const b = pattern(op.n, op.seed);
              assert.equal(M.append(m, b, 0, op.n), true);
              model = model.concat([...b]);
              break;
            }
            case 'prepend': {
              const p = M.prepend(m, op.n) as Mbuf;
              assert.ok(p);
              assert.ok(M_WRITABLE(p), 'the prepended header space is writable');
              assert.ok(p.m_len >= op.n, 'the prepended bytes are contiguous');
              p.m_buf.fill(op.fill, p.m_data, p.m_data + op.n);
              m = p;
              model = new Array(op.n).fill(op.fill).concat(model);
              break;
            }
            case 'adj': {
              m_adj(m, op.n);
              model = op.n >= 0 ? model.slice(op.n) : model.slice(0, Math.max(0, model.length + op.n));
              break;
            }
            case 'pullup': {
              const p = M.pullup(m, op.n);
              if (op.n > model.length) {
                assert.equal(p, null);
                // The chain is gone; start again from an empty packet.
                m = M.gethdr() as Mbuf;
                model = [];
              } else {
                assert.ok(p);
                assert.ok(p.m_len >= op.n);
                m = p;
              }
              break;
            }
            case 'split': {
              const at = model.length === 0 ? 0 : op.at % (model.length + 1);
              const n = M.split(m, at) as Mbuf;
              assert.ok(n);
              assert.deepEqual(bytesOf(m), model.slice(0, at));
              assert.deepEqual(bytesOf(n), model.slice(at));
              if (op.keep === 'head') {
                m_freem(n);
                model = model.slice(0, at);
              } else if (op.keep === 'tail') {
                m_freem(m);
                m = n;
                model = model.slice(at);
              } else {
                m_cat(m, n);
                m_fixhdr(m);
              }
              break;
            }
            case 'copy': {
              const off = model.length === 0 ? 0 : op.off % (model.length + 1);
              const len = Math.min(op.len, model.length - off);
              const c = M.copym(m, off, len) as Mbuf;
              assert.deepEqual(bytesOf(c), model.slice(off, off + len));
              m_freem(c);
              break;
            }
            case 'snapshot': {
              snaps.push([M.copypacket(m) as Mbuf, [...model]]);
              break;
            }
            case 'dup': {
              const d = M.dup(m) as Mbuf;
              m_freem(m);
              m = d;
              break;
            }
            case 'copyback': {
              if (model.length === 0) break;
              const off = op.off % model.length;
              const n = Math.min(op.n, model.length - off);
              // A writer makes the storage private first.
              let writable = true;
              for (let x: Mbuf | null = m; x; x = x.m_next) if (!M_WRITABLE(x)) writable = false;
              if (!writable) {
                const d = M.dup(m) as Mbuf;
                m_freem(m);
                m = d;
              }
              const b = pattern(n, op.seed);
              M.copyback(m, off, b);
              model.splice(off, n, ...b);
              break;
            }
          }
          assert.deepEqual(bytesOf(m), model, `after ${op.k}`);
          assert.ok(lenConsistent(m), `len after ${op.k}: ${m.len} vs ${m_length(m)}`);
          assert.ok(m.m_flags & M_PKTHDR);
          for (const [s, bytes] of snaps) assert.deepEqual(bytesOf(s), bytes, `snapshot changed by ${op.k}`);
        }
        m_freem(m);
        for (const [s] of snaps) m_freem(s);
        for (const z of [M.zone_mbuf, M.zone_clust, M.zone_jumbop, M.zone_jumbo9, M.zone_jumbo16]) {
          assert.equal(z.stats().used, 0, `${z.name} leaked`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
