/*
 * SipHash-2-4 over 32-bit words: the published vectors (Aumasson & Bernstein, appendix A:
 * key 00..0f, message 00 01 02 ..) and a BigInt reference on random keys and lengths.
 * HalfSipHash-1-3 (hsiphash, the bucket hash of the SYN cache and VTW): a reference on bytes
 * with c/d rounds as parameters, checked against the published HalfSipHash-2-4 32-bit vectors
 * (key 00..07), then run with c = 1, d = 3 against hsiphash on random keys and word inputs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hsiphash, SipHash, sipKeyFromBytes } from '../../src/kern/siphash.js';

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

/** HalfSipHash-c-d with a 32-bit result, on bytes (the reference halfsiphash.c, outlen 4). */
function halfsipRef(k0: number, k1: number, msg: Uint8Array, c: number, d: number): number {
  const rotl32 = (x: number, b: number): number => ((x << b) | (x >>> (32 - b))) >>> 0;
  let v0 = k0 >>> 0;
  let v1 = k1 >>> 0;
  let v2 = (0x6c796765 ^ k0) >>> 0;
  let v3 = (0x74656462 ^ k1) >>> 0;
  const round = (): void => {
    v0 = (v0 + v1) >>> 0;
    v1 = (rotl32(v1, 5) ^ v0) >>> 0;
    v0 = rotl32(v0, 16);
    v2 = (v2 + v3) >>> 0;
    v3 = (rotl32(v3, 8) ^ v2) >>> 0;
    v0 = (v0 + v3) >>> 0;
    v3 = (rotl32(v3, 7) ^ v0) >>> 0;
    v2 = (v2 + v1) >>> 0;
    v1 = (rotl32(v1, 13) ^ v2) >>> 0;
    v2 = rotl32(v2, 16);
  };
  const n = msg.length;
  const full = n - (n % 4);
  for (let o = 0; o < full; o += 4) {
    const m = ((msg[o] as number) | ((msg[o + 1] as number) << 8) | ((msg[o + 2] as number) << 16) | ((msg[o + 3] as number) << 24)) >>> 0;
    v3 = (v3 ^ m) >>> 0;
    for (let r = 0; r < c; r++) round();
    v0 = (v0 ^ m) >>> 0;
  }
  let b = (n & 0xff) << 24;
  for (let i = (n % 4) - 1; i >= 0; i--) b |= (msg[full + i] as number) << (8 * i);
  b >>>= 0;
  v3 = (v3 ^ b) >>> 0;
  for (let r = 0; r < c; r++) round();
  v0 = (v0 ^ b) >>> 0;
  v2 = (v2 ^ 0xff) >>> 0;
  for (let r = 0; r < d; r++) round();
  return (v1 ^ v3) >>> 0;
}

test('hsiphash: the byte reference gives the published HalfSipHash-2-4 32-bit vectors', () => {
  // vectors_hsip32 of the reference implementation: key 00 01 .. 07, message 00 01 .. (i-1).
  const want = [
    0x5b9f35a9, 0xb85a4727, 0x03a662fa, 0x04e7fe8a, 0x89466e2a, 0x69b6fac5, 0x23fc6358, 0xc563cf8b, 0x8f84b8d0, 0x79e706f8, 0x3479b094, 0x50300808, 0x2f87f057,
    0xff63e677, 0x7cf8ffd6, 0x972bfe74,
  ];
  const msg = new Uint8Array(16);
  for (let i = 0; i < 16; i++) msg[i] = i;
  for (let i = 0; i < want.length; i++) assert.equal(halfsipRef(0x03020100, 0x07060504, msg.subarray(0, i), 2, 4), want[i], `length ${i}`);
});

test('hsiphash: is HalfSipHash-1-3 over little-endian words (the reference with c = 1, d = 3)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 10 }),
      (k0, k1, ws) => {
        const words = Uint32Array.from(ws);
        const bytes = new Uint8Array(words.buffer.slice(0));
        // The typed array is little-endian on every platform Node runs on; spell it out anyway.
        for (let i = 0; i < ws.length; i++) for (let j = 0; j < 4; j++) bytes[4 * i + j] = ((ws[i] as number) >>> (8 * j)) & 0xff;
        assert.equal(hsiphash(k0, k1, words, words.length) >>> 0, halfsipRef(k0, k1, bytes, 1, 3));
      },
    ),
    { numRuns: 300 },
  );
});
