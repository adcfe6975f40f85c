/*
 * TCP sequence number arithmetic (BSD netinet/tcp_seq.h; RFC 9293 §3.4).
 *
 * Sequence numbers are 32-bit and wrap: compare them only through these helpers, which
 * take the signed 32-bit difference. Never compare sequence numbers with < or >.
 */

/** a < b in sequence space. */
export function SEQ_LT(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function SEQ_LEQ(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

export function SEQ_GT(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export function SEQ_GEQ(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

export function SEQ_MIN(a: number, b: number): number {
  return SEQ_LT(a, b) ? a : b;
}

export function SEQ_MAX(a: number, b: number): number {
  return SEQ_GT(a, b) ? a : b;
}

/** a + n, wrapped to 32 bits (unsigned). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance a - b (how far a is ahead of b). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** Timestamp comparisons are the same modular arithmetic (RFC 7323 §5.2). */
export const TSTMP_LT = SEQ_LT;
export const TSTMP_GT = SEQ_GT;
export const TSTMP_GEQ = SEQ_GEQ;
