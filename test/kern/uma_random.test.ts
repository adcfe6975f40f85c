/*
 * Tests for zones (src/kern/uma.ts) and the seeded RNG (src/kern/random.ts).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../../src/kern/random.js';
import { Zone, ZoneRegistry } from '../../src/kern/uma.js';

describe('zones', () => {
  it('constructs lazily up to the limit, then refuses with null and counts failures', () => {
    let built = 0;
    const z = new Zone<{ id: number }>('test', 64, 3, () => ({ id: built++ }));
    assert.equal(built, 0, 'nothing is built before it is asked for');
    const a = z.alloc();
    const b = z.alloc();
    const c = z.alloc();
    assert.ok(a && b && c);
    assert.equal(built, 3);
    assert.equal(z.alloc(), null);
    assert.equal(z.alloc(), null);
    assert.deepEqual(z.stats(), { name: 'test', size: 64, limit: 3, used: 3, free: 0, requests: 3, fails: 2, frees: 0 });
  });

  it('reuses freed items (LIFO) and never builds more than needed', () => {
    let built = 0;
    const z = new Zone<{ id: number }>('test', 64, 10, () => ({ id: built++ }));
    const a = z.alloc() as { id: number };
    const b = z.alloc() as { id: number };
    z.free(a);
    z.free(b);
    assert.equal(z.alloc(), b);
    assert.equal(z.alloc(), a);
    for (let i = 0; i < 100; i++) {
      const x = z.alloc() as { id: number };
      z.free(x);
    }
    assert.equal(built, 3);
    const st = z.stats();
    assert.deepEqual([st.used, st.free, st.requests, st.frees, st.fails], [2, 1, 104, 102, 0]);
  });

  it('a freed item makes room under the limit again; raising the limit allows more', () => {
    const z = new Zone<object>('test', 1, 1, () => ({}));
    const a = z.alloc() as object;
    assert.equal(z.alloc(), null);
    z.free(a);
    assert.equal(z.alloc(), a);
    z.limit = 2;
    assert.notEqual(z.alloc(), null);
    assert.equal(z.alloc(), null);
    assert.equal(z.stats().fails, 2);
  });

  it('reclaim() drops cached free items', () => {
    let built = 0;
    const z = new Zone<object>('test', 1, 10, () => {
      built++;
      return {};
    });
    const xs = [z.alloc(), z.alloc(), z.alloc()] as object[];
    for (const x of xs) z.free(x);
    assert.equal(z.reclaim(), 3);
    assert.equal(z.stats().free, 0);
    z.alloc();
    assert.equal(built, 4, 'a new item is built after reclaim');
  });

  it('the registry keeps zones by name in creation order and refuses duplicates', () => {
    const r = new ZoneRegistry();
    const a = r.create('a', 1, 1, () => 1);
    r.create('b', 1, 1, () => 2);
    assert.equal(r.get('a'), a);
    assert.equal(r.get('zz'), undefined);
    assert.deepEqual(
      r.all().map((z) => z.name),
      ['a', 'b'],
    );
    assert.throws(() => r.create('a', 1, 1, () => 3), /exists/);
  });
});

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const seq = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 20 }, () => r.u32());
    };
    assert.deepEqual(seq(42), seq(42));
    assert.notDeepEqual(seq(42), seq(43));
    assert.notDeepEqual(seq(0), seq(1));
    for (const v of seq(7)) assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** 32);
  });

  it('matches the xoshiro128** reference output for a known state', () => {
    // Seeded state from splitmix32 is internal; check the generator against a direct
    // implementation of xoshiro128** (Blackman & Vigna) started from the same seed path.
    const splitmix = (seed: number) => {
      let x = seed >>> 0;
      return () => {
        x = (x + 0x9e3779b9) | 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
        return (z ^ (z >>> 16)) >>> 0;
      };
    };
    const sm = splitmix(12345);
    const s = [sm(), sm(), sm(), sm()];
    const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
    const next = () => {
      const result = Number((BigInt(rotl(Number((BigInt(s[1] as number) * 5n) & 0xffffffffn), 7)) * 9n) & 0xffffffffn);
      const t = ((s[1] as number) << 9) >>> 0;
      s[2] = ((s[2] as number) ^ (s[0] as number)) >>> 0;
      s[3] = ((s[3] as number) ^ (s[1] as number)) >>> 0;
      s[1] = ((s[1] as number) ^ (s[2] as number)) >>> 0;
      s[0] = ((s[0] as number) ^ (s[3] as number)) >>> 0;
      s[2] = ((s[2] as number) ^ t) >>> 0;
      s[3] = rotl(s[3] as number, 11);
      return result;
    };
    const r = new Rng(12345);
    for (let i = 0; i < 1000; i++) assert.equal(r.u32(), next());
  });

  it('an unseeded generator is seeded from the OS (two differ)', () => {
    const a = new Rng();
    const b = new Rng();
    assert.notDeepEqual(
      Array.from({ length: 4 }, () => a.u32()),
      Array.from({ length: 4 }, () => b.u32()),
    );
  });

  it('random() is in [0, 1) with a sane mean and spread', () => {
    const r = new Rng(1);
    const n = 100_000;
    let sum = 0;
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < n; i++) {
      const x = r.random();
      assert.ok(x >= 0 && x < 1);
      sum += x;
      buckets[Math.floor(x * 10)]++;
    }
    assert.ok(Math.abs(sum / n - 0.5) < 0.01, `mean ${sum / n}`);
    // Chi-square with 9 degrees of freedom: 27.9 is the 0.999 quantile.
    const e = n / 10;
    const chi = buckets.reduce((a, o) => a + (o - e) ** 2 / e, 0);
    assert.ok(chi < 27.9, `chi-square ${chi}`);
  });

  it('every bit of u32() is fair', () => {
    const r = new Rng(99);
    const ones = new Array(32).fill(0);
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const v = r.u32();
      for (let b = 0; b < 32; b++) if ((v >>> b) & 1) ones[b]++;
    }
    for (let b = 0; b < 32; b++) assert.ok(Math.abs(ones[b] / n - 0.5) < 0.02, `bit ${b}: ${ones[b] / n}`);
  });

  it('range(lo, hi) stays inclusive within bounds and hits both ends (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 20 }), (seed, lo, width) => {
        const r = new Rng(seed);
        const hi = lo + width;
        const seen = new Set<number>();
        for (let i = 0; i < 400; i++) {
          const v = r.range(lo, hi);
          assert.ok(Number.isInteger(v) && v >= lo && v <= hi, `${v} outside [${lo}, ${hi}]`);
          seen.add(v);
        }
        assert.ok(seen.has(lo) && seen.has(hi));
      }),
      { numRuns: 50 },
    );
  });

  it('fill() writes every byte of any length, deterministically', () => {
    for (const len of [0, 1, 3, 4, 5, 17, 64]) {
      const a = new Rng(5).fill(new Uint8Array(len));
      const b = new Rng(5).fill(new Uint8Array(len));
      assert.deepEqual(a, b);
    }
    const big = new Rng(5).fill(new Uint8Array(4096));
    const counts = new Array(256).fill(0);
    for (const x of big) counts[x]++;
    assert.ok(counts.filter((c) => c === 0).length < 5, 'bytes cover the range');
    // The first 4 bytes are the first u32, little-endian.
    const r = new Rng(5);
    const v = r.u32();
    assert.deepEqual([...new Rng(5).fill(new Uint8Array(4))], [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]);
  });
});
