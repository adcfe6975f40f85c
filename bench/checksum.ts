/*
 * bench checksum: Internet checksum throughput (RFC 1071 over 1500-byte and 64 KiB
 * buffers) beside Buffer.copy of the same bytes in the same run, so the ratio says how far
 * the checksum is from memory speed.
 */

import { cksumPartial } from '../src/wire/checksum.js';
import { type BenchContext, type BenchResult, consume, round } from './harness.js';

function gbps(bytesPerIter: number, fn: (n: number) => void, iters: number): number {
  fn(Math.max(1, iters >> 4));
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    fn(iters);
    const dt = Number(process.hrtime.bigint() - t0);
    if (dt < best) best = dt;
  }
  return (bytesPerIter * iters) / best; // bytes per ns == GB/s
}

export async function bench(ctx: BenchContext): Promise<BenchResult> {
  const out: BenchResult = {};
  for (const [size, label] of [
    [1500, '1500'],
    [65536, '64k'],
  ] as const) {
    const src = Buffer.alloc(size);
    for (let i = 0; i < size; i++) src[i] = (i * 131 + 7) & 0xff;
    const dst = Buffer.alloc(size);
    const iters = Math.max(1000, Math.floor((ctx.scale * 400_000_000) / size));
    const ck = gbps(
      size,
      (n) => {
        let acc = 0;
        for (let i = 0; i < n; i++) acc += cksumPartial(src, 0, size);
        consume(acc);
      },
      iters,
    );
    const cp = gbps(
      size,
      (n) => {
        for (let i = 0; i < n; i++) src.copy(dst, 0, 0, size);
        consume(dst[size - 1] as number);
      },
      iters,
    );
    out[`checksum_gbytes_per_s_${label}`] = round(ck);
    out[`copy_gbytes_per_s_${label}`] = round(cp);
    ctx.log(`size ${size}: checksum ${round(ck)} GB/s, Buffer.copy ${round(cp)} GB/s`);
  }
  return out;
}
