/*
 * SipHash-2-4 (Aumasson & Bernstein): the keyed hash behind ISNs (RFC 6528), timestamp
 * offsets (RFC 7323 §5.4), SYN cookies and Fast Open cookies, as in FreeBSD.
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

/** State: v0..v3 as (hi, lo) pairs. */
class SipState {
  readonly v = new Uint32Array(8); // v0h v0l v1h v1l v2h v2l v3h v3l
}

function add64(v: Uint32Array, a: number, b: number): void {
  // v[a] += v[b] (64-bit), indices are of the high word
  const lo = (v[a + 1] as number) + (v[b + 1] as number);
  v[a] = ((v[a] as number) + (v[b] as number) + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  v[a + 1] = lo >>> 0;
}

function rotl64(v: Uint32Array, a: number, n: number): void {
  let h = v[a] as number;
  let l = v[a + 1] as number;
  if (n >= 32) {
    const t = h;
    h = l;
    l = t;
    n -= 32;
  }
  if (n === 0) {
    v[a] = h;
    v[a + 1] = l;
    return;
  }
  v[a] = ((h << n) | (l >>> (32 - n))) >>> 0;
  v[a + 1] = ((l << n) | (h >>> (32 - n))) >>> 0;
}

function xor64(v: Uint32Array, a: number, b: number): void {
  v[a] = ((v[a] as number) ^ (v[b] as number)) >>> 0;
  v[a + 1] = ((v[a + 1] as number) ^ (v[b + 1] as number)) >>> 0;
}

function swap32(v: Uint32Array, a: number): void {
  const t = v[a] as number;
  v[a] = v[a + 1] as number;
  v[a + 1] = t;
}

function sipround(v: Uint32Array): void {
  add64(v, 0, 2);
  rotl64(v, 2, 13);
  xor64(v, 2, 0);
  swap32(v, 0);
  add64(v, 4, 6);
  rotl64(v, 6, 16);
  xor64(v, 6, 4);
  add64(v, 0, 6);
  rotl64(v, 6, 21);
  xor64(v, 6, 0);
  add64(v, 4, 2);
  rotl64(v, 2, 17);
  xor64(v, 2, 4);
  swap32(v, 4);
}

/** A reusable SipHash-2-4 hasher over 32-bit words. */
export class SipHash {
  private readonly st = new SipState();
  private readonly key: SipKey;

  constructor(key: SipKey) {
    this.key = key;
  }

  /** Hash `n` 32-bit words from `words`; returns the low 32 bits of the 64-bit result. */
  hash32(words: ArrayLike<number>, n = words.length): number {
    const v = this.st.v;
    const k = this.key;
    const k0l = k[0] as number;
    const k0h = k[1] as number;
    const k1l = k[2] as number;
    const k1h = k[3] as number;
    v[0] = (k0h ^ 0x736f6d65) >>> 0;
    v[1] = (k0l ^ 0x70736575) >>> 0;
    v[2] = (k1h ^ 0x646f7261) >>> 0;
    v[3] = (k1l ^ 0x6e646f6d) >>> 0;
    v[4] = (k0h ^ 0x6c796765) >>> 0;
    v[5] = (k0l ^ 0x6e657261) >>> 0;
    v[6] = (k1h ^ 0x74656462) >>> 0;
    v[7] = (k1l ^ 0x79746573) >>> 0;
    const bytes = n * 4;
    let i = 0;
    // Full 8-byte blocks: two words, little-endian (word i is the low half).
    for (; i + 1 < n; i += 2) this.block(words[i + 1] as number, words[i] as number);
    // Final block: the remaining word (if any) and the length byte in the top.
    const tailLo = i < n ? (words[i] as number) >>> 0 : 0;
    this.block(((bytes & 0xff) << 24) >>> 0, tailLo);
    v[5] = (v[5] as number) ^ 0xff;
    sipround(v);
    sipround(v);
    sipround(v);
    sipround(v);
    return ((v[1] as number) ^ (v[3] as number) ^ (v[5] as number) ^ (v[7] as number)) >>> 0;
  }

  private block(mh: number, ml: number): void {
    const v = this.st.v;
    v[6] = ((v[6] as number) ^ mh) >>> 0;
    v[7] = ((v[7] as number) ^ ml) >>> 0;
    sipround(v);
    sipround(v);
    v[0] = ((v[0] as number) ^ mh) >>> 0;
    v[1] = ((v[1] as number) ^ ml) >>> 0;
  }
}
