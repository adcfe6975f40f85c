/*
 * SipHash-2-4 over 32-bit words: the published vectors (Aumasson & Bernstein, appendix A:
 * key 00..0f, message 00 01 02 ..) and a BigInt reference on random keys and lengths.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SipHash, sipKeyFromBytes } from '../../src/kern/siphash.js';

const M64 = (1n << 64n) - 1n;

function rotl(x: bigint, b: bigint): bigint {
  return ((x << b) | (x >> (64n - b))) & M64;
}

/** Straight from the paper, on bytes, with BigInt lanes. */
function sipRef(key: Uint8Array, msg: Uint8Array): bigint {
  const le = (b: Uint8Array, o: number, n: number): bigint => {
    let x = 0n;
    for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[o + i] as number);
    return x;
  };
  const k0 = le(key, 0, 8);
  const k1 = le(key, 8, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = (): void => {
    v0 = (v0 + v1) & M64;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M64;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & M64;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & M64;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const full = msg.length & ~7;
  const blocks: bigint[] = [];
  for (let o = 0; o < full; o += 8) blocks.push(le(msg, o, 8));
  blocks.push(le(msg, full, msg.length - full) | (BigInt(msg.length & 0xff) << 56n));
  for (const m of blocks) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  v2 ^= 0xffn;
  for (let i = 0; i < 4; i++) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

function words(msg: Uint8Array): number[] {
  const w: number[] = [];
  for (let o = 0; o < msg.length; o += 4)
    w.push(((msg[o] as number) | ((msg[o + 1] as number) << 8) | ((msg[o + 2] as number) << 16) | ((msg[o + 3] as number) << 24)) >>> 0);
  return w;
}

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i);

test('siphash: the published SipHash-2-4 vectors (low 32 bits)', () => {
  // Appendix A: the empty message and the 15-byte example 00..0e; the first 64 vectors of the
  // reference code (vectors.h) start 0x726fdb47dd0e0e31 for length 0.
  assert.equal(sipRef(KEY, new Uint8Array(0)), 0x726fdb47dd0e0e31n);
  assert.equal(
    sipRef(
      KEY,
      Uint8Array.from({ length: 15 }, (_, i) => i),
    ),
    0xa129ca6149be45e5n,
  );
  const h = new SipHash(sipKeyFromBytes(KEY));
  assert.equal(h.hash32([], 0), 0xdd0e0e31);
  for (let len = 0; len <= 64; len += 4) {
    const msg = Uint8Array.from({ length: len }, (_, i) => i);
    assert.equal(h.hash32(words(msg)), Number(sipRef(KEY, msg) & 0xffffffffn), `length ${len}`);
  }
});

test('siphash: matches the BigInt reference for random keys and messages', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 12 }), (key, ws) => {
      const msg = new Uint8Array(ws.length * 4);
      const dv = new DataView(msg.buffer);
      for (let i = 0; i < ws.length; i++) dv.setUint32(i * 4, ws[i] as number, true);
      const h = new SipHash(sipKeyFromBytes(key));
      assert.equal(h.hash32(ws), Number(sipRef(key, msg) & 0xffffffffn));
      // Reusing the hasher gives the same answer (no state carried between calls).
      assert.equal(h.hash32(ws), Number(sipRef(key, msg) & 0xffffffffn));
    }),
    { numRuns: 500 },
  );
});
