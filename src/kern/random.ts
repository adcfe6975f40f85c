/*
 * A seeded pseudo-random generator per Vnet (the role of arc4random in BSD).
 *
 * xoshiro128** (Blackman & Vigna): small state, fast, and good enough for ephemeral ports,
 * jitter and loss decisions. Keyed secrets (ISN generation, SYN cookies) are derived from it
 * at start-up and then mixed with a keyed hash, so a seeded instance is fully reproducible
 * while an unseeded one takes its seed from the OS CSPRNG.
 */

import { randomBytes } from 'node:crypto';

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed?: number) {
    let x = seed === undefined ? randomBytes(4).readUInt32LE(0) : seed >>> 0;
    // splitmix32 to spread the seed over the state
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** A float in [0, 1). */
  random(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  /** Fill `buf` with random bytes. */
  fill(buf: Uint8Array): Uint8Array {
    for (let i = 0; i < buf.length; i += 4) {
      const v = this.u32();
      buf[i] = v & 0xff;
      if (i + 1 < buf.length) buf[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < buf.length) buf[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < buf.length) buf[i + 3] = v >>> 24;
    }
    return buf;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
