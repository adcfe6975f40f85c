/*
 * SipHash-2-4 (Aumasson & Bernstein): the keyed hash behind ISNs (RFC 6528), timestamp
 * offsets (RFC 7323 §5.4) and SYN cookies; and HalfSipHash-1-3 (hsiphash, as Linux's), the
 * cheaper keyed hash of table buckets (SYN cache, VTW) where the key only has to keep remote
 * peers from aiming at one bucket.
 *
 * 64-bit lanes are kept as pairs of 32-bit halves (no BigInt on the hot path). The key is
 * 16 bytes; input is a sequence of 32-bit words (what these callers hash), padded and
 * length-tagged per the specification.
 */

/** 128-bit key as four 32-bit little-endian words. */
export type SipKey = Uint32Array;

export function sipKeyFromBytes(b: Uint8Array, off = 0): SipKey {
  const k = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const o = off + i * 4;
    k[i] = ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24)) >>> 0;
  }
  return k;
}

/**
 * A reusable SipHash-2-4 hasher over 32-bit words.
 *
 * The four 64-bit lanes live in eight int32 locals (hi/lo halves) for the whole hash, so V8
 * keeps them in registers: no state array, no helper calls per round.
 */
export class SipHash {
  private readonly key: SipKey;

  constructor(key: SipKey) {
    this.key = key;
  }

  /** Hash `n` 32-bit words from `words`; returns the low 32 bits of the 64-bit result. */
  hash32(words: ArrayLike<number>, n = words.length): number {
    const k = this.key;
    const k0l = k[0] as number;
    const k0h = k[1] as number;
    const k1l = k[2] as number;
    const k1h = k[3] as number;
    let v0h = k0h ^ 0x736f6d65;
    let v0l = k0l ^ 0x70736575;
    let v1h = k1h ^ 0x646f7261;
    let v1l = k1l ^ 0x6e646f6d;
    let v2h = k0h ^ 0x6c796765;
    let v2l = k0l ^ 0x6e657261;
    let v3h = k1h ^ 0x74656462;
    let v3l = k1l ^ 0x79746573;
    // Blocks of two words, little-endian (word 2b is the low half); the last block holds the
    // remaining word (if any) and the length byte in its top. It gets c = 2 rounds, then
    // v2 ^= 0xff and d = 4 rounds: 6 in one loop.
    const last = n >> 1;
    for (let b = 0; b <= last; b++) {
      let mh: number;
      let ml: number;
      if (b < last) {
        ml = (words[2 * b] as number) | 0;
        mh = (words[2 * b + 1] as number) | 0;
      } else {
        ml = n & 1 ? (words[n - 1] as number) | 0 : 0;
        mh = ((n * 4) & 0xff) << 24;
      }
      v3h ^= mh;
      v3l ^= ml;
      const rounds = b < last ? 2 : 6;
      for (let r = 0; r < rounds; r++) {
        if (r === 2) {
          v0h ^= mh;
          v0l ^= ml;
          v2l ^= 0xff;
        }
        // v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
        let lo = (v0l + v1l) | 0;
        v0h = (v0h + v1h + (lo >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
        v0l = lo;
        let t = (v1h << 13) | (v1l >>> 19);
        v1l = (v1l << 13) | (v1h >>> 19);
        v1h = t ^ v0h;
        v1l ^= v0l;
        t = v0h;
        v0h = v0l;
        v0l = t;
        // v2 += v3; v3 <<<= 16; v3 ^= v2
        lo = (v2l + v3l) | 0;
        v2h = (v2h + v3h + (lo >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
        v2l = lo;
        t = (v3h << 16) | (v3l >>> 16);
        v3l = (v3l << 16) | (v3h >>> 16);
        v3h = t ^ v2h;
        v3l ^= v2l;
        // v0 += v3; v3 <<<= 21; v3 ^= v0
        lo = (v0l + v3l) | 0;
        v0h = (v0h + v3h + (lo >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
        v0l = lo;
        t = (v3h << 21) | (v3l >>> 11);
        v3l = (v3l << 21) | (v3h >>> 11);
        v3h = t ^ v0h;
        v3l ^= v0l;
        // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
        lo = (v2l + v1l) | 0;
        v2h = (v2h + v1h + (lo >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
        v2l = lo;
        t = (v1h << 17) | (v1l >>> 15);
        v1l = (v1l << 17) | (v1h >>> 15);
        v1h = t ^ v2h;
        v1l ^= v2l;
        t = v2h;
        v2h = v2l;
        v2l = t;
      }
      if (b < last) {
        v0h ^= mh;
        v0l ^= ml;
      }
    }
    return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  }
}

/**
 * HalfSipHash-1-3 over `n` 32-bit words of `m`, keyed (k0, k1); the 32-bit result as a
 * signed int32 (so it stays a small integer and never boxes on return).
 */
export function hsiphash(k0: number, k1: number, m: Uint32Array, n: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = (0x6c796765 ^ k0) | 0;
  let v3 = (0x74656462 ^ k1) | 0;
  // n word blocks with c = 1 round each; then the length block, which gets its c = 1 round,
  // v0 ^= b, v2 ^= 0xff and d = 3 rounds: 4 in one loop (as SipHash-2-4 above).
  for (let i = 0; i <= n; i++) {
    const x = i < n ? m[i] | 0 : (n * 4) << 24;
    v3 ^= x;
    const rounds = i < n ? 1 : 4;
    for (let r = 0; r < rounds; r++) {
      if (r === 1) {
        v0 ^= x;
        v2 ^= 0xff;
      }
      v0 = (v0 + v1) | 0;
      v1 = (v1 << 5) | (v1 >>> 27);
      v1 ^= v0;
      v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0;
      v3 = (v3 << 8) | (v3 >>> 24);
      v3 ^= v2;
      v0 = (v0 + v3) | 0;
      v3 = (v3 << 7) | (v3 >>> 25);
      v3 ^= v0;
      v2 = (v2 + v1) | 0;
      v1 = (v1 << 13) | (v1 >>> 19);
      v1 ^= v2;
      v2 = (v2 << 16) | (v2 >>> 16);
    }
    if (i < n) v0 ^= x;
  }
  return v1 ^ v3;
}
