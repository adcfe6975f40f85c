/*
 * Benchmark helpers: timing loops that measure the real code path, warm up first, and
 * report the best of several rounds (the machines are shared and noisy; the minimum time is
 * the least disturbed measurement).
 */

export type BenchResult = Record<string, number | string | boolean | null>;

export interface BenchContext {
  json: boolean;
  args: string[];
  /** Scale factor for run length (BSDNET_BENCH_SCALE, default 1). */
  scale: number;
  log(msg: string): void;
}

/** Nanoseconds per operation for `fn(n)` running `n` operations, best of `rounds`. */
export function nsPerOp(fn: (n: number) => void, n: number, rounds = 5): number {
  fn(Math.max(1, Math.floor(n / 10))); // warm-up (JIT)
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    fn(n);
    const dt = Number(process.hrtime.bigint() - t0);
    if (dt < best) best = dt;
  }
  return best / n;
}

/** Round to `d` significant decimals for reporting. */
export function round(x: number, d = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** Keep a value alive so the optimiser cannot drop the loop that produced it. */
let sink = 0;
export function consume(x: number): void {
  sink = (sink + x) | 0;
}
export function sinkValue(): number {
  return sink;
}
