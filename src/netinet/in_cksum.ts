/*
 * Internet checksums over mbuf chains (BSD netinet/in_cksum.c, in_delayed_cksum).
 *
 * in_cksum_chain() sums a byte range of a chain whose mbuf boundaries may fall at odd
 * offsets: a byte that completes a 16-bit word across a boundary is added as the low byte.
 * The result is an unfolded big-endian sum that can be added to a pseudo-header sum and
 * finished with cksumFinish().
 */

import type { Mbuf } from '../mbuf/mbuf.js';
import { set16 } from '../wire/bytes.js';
import { cksumFinish, cksumPartial } from '../wire/checksum.js';

/** Unfolded one's-complement sum of `len` bytes from offset `off` of a chain. */
export function in_cksum_chain(m: Mbuf, off: number, len: number, initial = 0): number {
  let sum = initial;
  let odd = false;
  let mm: Mbuf | null = m;
  while (mm !== null && off >= mm.m_len) {
    off -= mm.m_len;
    mm = mm.m_next;
  }
  while (len > 0 && mm !== null) {
    let start = mm.m_data + off;
    let n = Math.min(mm.m_len - off, len);
    len -= n;
    off = 0;
    const b = mm.m_buf;
    if (n > 0 && odd) {
      sum += b[start] as number; // low byte of the word started in the previous mbuf
      start++;
      n--;
      odd = false;
    }
    const even = n & ~1;
    if (even > 0) sum += cksumPartial(b, start, even);
    if (n & 1) {
      sum += (b[start + even] as number) << 8;
      odd = true;
    }
    mm = mm.m_next;
  }
  return sum;
}

/** Internet checksum (finished, complemented) of a chain range. */
export function in_cksum(m: Mbuf, off: number, len: number, initial = 0): number {
  return cksumFinish(in_cksum_chain(m, off, len, initial));
}

/**
 * Complete a checksum the stack left to the interface (in_delayed_cksum): the field at
 * l4off + fieldOff holds the pseudo-header sum; replace it with the full checksum of
 * [l4off, l4off + l4len). UDP's zero result is sent as 0xffff (RFC 768).
 */
export function in_delayed_cksum(m: Mbuf, l4off: number, l4len: number, fieldOff: number, udp: boolean): void {
  let c = in_cksum(m, l4off, l4len);
  if (c === 0 && udp) c = 0xffff;
  // The transport header sits in the first mbuf(s) the protocol built; find the field.
  let off = l4off + fieldOff;
  for (let x: Mbuf | null = m; x !== null; x = x.m_next) {
    if (off + 2 <= x.m_len) {
      set16(x.m_buf, x.m_data + off, c);
      return;
    }
    if (off < x.m_len) {
      // Field straddles two mbufs.
      x.m_buf[x.m_data + off] = c >>> 8;
      const y = x.m_next as Mbuf;
      y.m_buf[y.m_data] = c & 0xff;
      return;
    }
    off -= x.m_len;
  }
}
