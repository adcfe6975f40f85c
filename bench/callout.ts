/*
 * bench callout: cost of the callout wheel operations with 100k callouts pending (the
 * timers of 100k connections): schedule+cancel, reschedule (what every ACK does to the
 * retransmit timer), and fire (expiry processing per callout).
 */

import { VirtualClock } from '../src/kern/clock.js';
import { type Callout, Callwheel } from '../src/kern/kern_timeout.js';
import { type BenchContext, type BenchResult, consume, nsPerOp, round } from './harness.js';

export async function bench(ctx: BenchContext): Promise<BenchResult> {
  const clock = new VirtualClock();
  const w = new Callwheel(clock);
  const noop = (x: number): void => consume(x);
  // Background load: 100k pending callouts spread over 0..200 s.
  const bg: Callout<number>[] = [];
  for (let i = 0; i < 100_000; i++) {
    const c = w.callout<number>();
    c.reset(1 + ((i * 7919) % 200_000), noop, i);
    bg.push(c);
  }
  const cs: Callout<number>[] = [];
  for (let i = 0; i < 1024; i++) cs.push(w.callout<number>());
  const n = Math.floor(2_000_000 * ctx.scale);
  const schedCancel = nsPerOp((k) => {
    for (let i = 0; i < k; i++) {
      const c = cs[i & 1023] as Callout<number>;
      c.reset(200 + (i & 4095), noop, i);
      c.stop();
    }
  }, n);
  const resched = nsPerOp((k) => {
    for (let i = 0; i < k; i++) (cs[i & 1023] as Callout<number>).reset(100 + (i % 60_000), noop, i);
  }, n);
  for (const c of cs) c.stop();
  // Fire: schedule m callouts over the next second and advance through them.
  const m = Math.floor(500_000 * ctx.scale);
  const fires: Callout<number>[] = [];
  for (let i = 0; i < m; i++) fires.push(w.callout<number>());
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    for (let i = 0; i < m; i++) (fires[i] as Callout<number>).reset(1 + (i % 1000), noop, i);
    const t0 = process.hrtime.bigint();
    clock.advance(1_001_000_000);
    const dt = Number(process.hrtime.bigint() - t0);
    if (dt < best) best = dt;
  }
  for (const c of bg) c.stop();
  const res = {
    callout_schedule_cancel_ns: round(schedCancel, 1),
    callout_reschedule_ns: round(resched, 1),
    callout_fire_ns: round(best / m, 1),
    pending_background: 100_000,
  };
  ctx.log(`schedule+cancel ${res.callout_schedule_cancel_ns} ns, reschedule ${res.callout_reschedule_ns} ns, fire ${res.callout_fire_ns} ns (100k pending)`);
  w.destroy();
  return res;
}
