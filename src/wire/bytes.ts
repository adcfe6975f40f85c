/*
 * Big-endian field access on byte arrays: the primitives every header view is built from.
 *
 * These read and write at absolute offsets into a Uint8Array without creating a DataView
 * (which would allocate per packet). 32-bit values are returned unsigned: never use `<< 24`
 * to assemble them (it overflows into the sign bit); multiply instead.
 */

export function get8(b: Uint8Array, o: number): number {
  return b[o] as number;
}

export function get16(b: Uint8Array, o: number): number {
  return ((b[o] as number) << 8) | (b[o + 1] as number);
}

export function get32(b: Uint8Array, o: number): number {
  return (b[o] as number) * 0x1000000 + (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number));
}

export function set8(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
}

export function set16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

export function set32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Compare `len` bytes of a at ao with b at bo. */
export function bytesEqual(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/** Hex dump without separators (tests, traces). */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] as number).toString(16).padStart(2, '0');
  return s;
}

/** Parse a hex string (whitespace ignored). Throws on bad input: tests and fixtures only. */
export function fromHex(h: string): Uint8Array {
  const s = h.replace(/\s+/g, '');
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) throw new Error('fromHex: bad hex string');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}
