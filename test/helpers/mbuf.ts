/*
 * Test helpers for mbufs: a small allocator with chosen limits, and chains built from byte
 * arrays with a chosen shape.
 */

import { ZoneRegistry } from '../../src/kern/uma.js';
import { type Mbuf, type MbufLimits, Mbufs, m_length, m_tobytes } from '../../src/mbuf/mbuf.js';

export function mbufs(limits: Partial<MbufLimits> = {}): Mbufs {
  return new Mbufs(new ZoneRegistry(), {
    nmbufs: 10_000,
    nmbclusters: 10_000,
    nmbjumbop: 1000,
    nmbjumbo9: 100,
    nmbjumbo16: 100,
    ...limits,
  });
}

/** Bytes 0..n-1 with a recognisable pattern. */
export function pattern(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

/**
 * A packet holding `data`, split over mbufs of the given sizes (the last takes the rest);
 * sizes above MLEN use clusters. Non-null or throws.
 */
export function chain(M: Mbufs, data: Uint8Array, sizes: number[] = [data.length]): Mbuf {
  let head: Mbuf | null = null;
  let tail: Mbuf | null = null;
  let off = 0;
  for (let i = 0; i < sizes.length || off < data.length; i++) {
    const want = i < sizes.length ? Math.min(sizes[i] as number, data.length - off) : data.length - off;
    const isHead: boolean = head === null;
    const m: Mbuf | null = want > 200 ? M.getcl(want, isHead) : isHead ? M.gethdr() : M.get();
    if (m === null) throw new Error('chain: out of mbufs');
    if (isHead) m.m_data = Math.min(16, m.m_buf.length - want);
    m.m_buf.set(data.subarray(off, off + want), m.m_data);
    m.m_len = want;
    off += want;
    if (tail === null) head = m;
    else tail.m_next = m;
    tail = m;
    if (i >= sizes.length && off >= data.length) break;
  }
  const h = head as Mbuf;
  h.len = data.length;
  return h;
}

export function bytesOf(m: Mbuf): number[] {
  return [...m_tobytes(m)];
}

/** Check packet-header length equals the chain length. */
export function lenConsistent(m: Mbuf): boolean {
  return m.len === m_length(m);
}
