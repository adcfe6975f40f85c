/*
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624), plus the IPv4 and
 * IPv6 pseudo-header sums used by TCP, UDP and ICMPv6.
 *
 * Sums are accumulated unfolded in a double (safe far beyond any packet size: 2^53 / 0xffff
 * bytes), then folded once. cksumPartial() returns such an unfolded sum so that sums over
 * several ranges (pseudo-header, header, payload spread over an mbuf chain) can be added
 * before the final fold; odd-length ranges are handled by the caller through `odd` (see
 * cksumChain in netinet/in_cksum.ts).
 */

/**
 * One's-complement sum of bytes [off, off+len) as big-endian 16-bit words, not folded, not
 * complemented.
 *
 * Long ranges are summed as native (little-endian) 32-bit words through a Uint32Array view:
 * the one's-complement sum is independent of byte order up to a final byte swap (RFC 1071
 * §2(B)), so the word sum is folded to 16 bits and swapped back into big-endian terms.
 */
export function cksumPartial(b: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  const end = off + len;
  let i = off;
  if (len >= 64 && ((b.byteOffset + i) & 1) === 0 && !(b.buffer instanceof SharedArrayBuffer)) {
    if ((b.byteOffset + i) & 2) {
      sum += ((b[i] as number) << 8) | (b[i + 1] as number);
      i += 2;
    }
    const nwords = (end - i) >>> 2;
    const w = new Uint32Array(b.buffer, b.byteOffset + i, nwords);
    let s0 = 0;
    let s1 = 0;
    let k = 0;
    for (; k + 4 <= nwords; k += 4) {
      s0 += (w[k] as number) + (w[k + 1] as number);
      s1 += (w[k + 2] as number) + (w[k + 3] as number);
    }
    for (; k < nwords; k++) s0 += w[k] as number;
    const f = cksumFold(s0 + s1);
    sum += ((f & 0xff) << 8) | (f >>> 8);
    i += nwords * 4;
  }
  for (; i + 2 <= end; i += 2) sum += ((b[i] as number) << 8) | (b[i + 1] as number);
  if (i < end) sum += (b[i] as number) << 8;
  return sum;
}

/** Fold an unfolded sum to 16 bits (end-around carry). */
export function cksumFold(sum: number): number {
  // A double holds the exact sum; reduce with division first for very large values
  // (one step leaves up to 2^37 for sums near 2^53, so repeat until `>>>` is exact).
  while (sum > 0xffffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The checksum field value for data whose unfolded sum is `sum`: ~fold(sum). */
export function cksumFinish(sum: number): number {
  return ~cksumFold(sum) & 0xffff;
}

/** Internet checksum of a byte range (RFC 1071). Verifying a range that contains its own
 * checksum yields 0 when the data is intact. */
export function inCksum(b: Uint8Array, off: number, len: number): number {
  return cksumFinish(cksumPartial(b, off, len));
}

/**
 * Incrementally update checksum `hc` when a 16-bit field changes from `m` to `mPrime`
 * (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
 */
export function cksumUpdate16(hc: number, m: number, mPrime: number): number {
  const sum = (~hc & 0xffff) + (~m & 0xffff) + (mPrime & 0xffff);
  return ~cksumFold(sum) & 0xffff;
}

/** Incremental update for a 32-bit field change (two 16-bit halves). */
export function cksumUpdate32(hc: number, m: number, mPrime: number): number {
  const sum = (~hc & 0xffff) + (~(m >>> 16) & 0xffff) + (~m & 0xffff) + ((mPrime >>> 16) & 0xffff) + (mPrime & 0xffff);
  return ~cksumFold(sum) & 0xffff;
}

/** Unfolded sum of the IPv4 pseudo-header (RFC 793 §3.1, RFC 768): src, dst, zero, proto, length. */
export function pseudoSum4(src: number, dst: number, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

/** Unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1): src, dst, 32-bit length, next header. */
export function pseudoSum6(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, nxt: number, len: number): number {
  return cksumPartial(src, srcOff, 16) + cksumPartial(dst, dstOff, 16) + (len >>> 16) + (len & 0xffff) + nxt;
}
