/*
 * Callouts: the timer service every protocol timer goes through (BSD kern_timeout.c).
 *
 * A Callwheel belongs to one Vnet and is a TimerSource of that Vnet's clock. It is a
 * hierarchical cascading timing wheel: level 0 has 256 one-tick slots, levels 1..4 have 64
 * slots each covering 256, 2^14, 2^20 and 2^26 ticks. Scheduling, cancelling and
 * rescheduling are O(1) (unlink from a doubly linked slot list, link into another); firing
 * costs O(1) amortised per callout (each is cascaded at most four times). Empty stretches of
 * time are skipped a level at a time, so a virtual clock can jump hours ahead cheaply.
 *
 * One tick is `tickNs` nanoseconds (default 1 ms, BSD's hz=1000).
 *
 * Invocation follows the NetBSD design the seed documents describe: when a tick comes due,
 * its callouts move to an expire batch and are marked INVOKING; then they run in order. A
 * callout that is in the batch has been committed to run: stop() cannot cancel it (it
 * returns false), exactly as callout_stop() cannot stop a handler that another CPU is about
 * to run. Owners that tear down state while one of their callouts is invoking mark the state
 * dead and let the handler free it (see tcp_close()). Handlers call ack() first; ack()
 * returns false when the callout was stopped or rescheduled meanwhile. Callouts due in the
 * same tick run in the order they were (last) scheduled, whatever level they waited at.
 *
 * Callout objects are embedded in their owners (one per timer) and reused; scheduling
 * allocates nothing.
 */

import type { Clock, TimerSource } from './clock.js';

export const CALLOUT_PENDING = 0x1; // linked in a wheel slot
export const CALLOUT_ACTIVE = 0x2; // scheduled and not stopped since (cleared by stop())
export const CALLOUT_INVOKING = 0x4; // in the expire batch or running, not yet acked

const L0_BITS = 8;
const L0_SIZE = 1 << L0_BITS; // 256
const LN_BITS = 6;
const LN_SIZE = 1 << LN_BITS; // 64
const NLEVELS = 5;
/** Ticks covered by the wheel; later deadlines are clamped (then re-cascaded). */
const MAX_SPAN = 2 ** (L0_BITS + LN_BITS * (NLEVELS - 1)); // 2^32 ticks = 49.7 days at 1 ms
/**
 * Ticks per slot of each level (1, 2^8, 2^14, 2^20, 2^26), then MAX_SPAN. Level l covers
 * LEVEL_UNIT[l + 1] ticks (64 slots of LEVEL_UNIT[l]; level 0: 256 of 1).
 */
const LEVEL_UNIT = [1, 2 ** L0_BITS, 2 ** (L0_BITS + LN_BITS), 2 ** (L0_BITS + 2 * LN_BITS), 2 ** (L0_BITS + 3 * LN_BITS), MAX_SPAN];

export type CalloutFunc<A> = (arg: A) => void;

export class Callout<A = unknown> {
  c_time = 0; // absolute tick at which it is due
  c_flags = 0;
  c_func: CalloutFunc<A> | null = null;
  c_arg: A | null = null;
  c_next: Callout<unknown> | null = null;
  c_prev: Callout<unknown> | null = null;
  c_level = -1;
  c_slot = -1;
  /** Scheduling sequence number: orders callouts due in the same tick (FIFO). */
  c_seq = 0;
  readonly c_wheel: Callwheel;

  constructor(wheel: Callwheel) {
    this.c_wheel = wheel;
  }

  /** Schedule (or reschedule) to run `fn(arg)` after `ticks` ticks (0 = next tick). */
  reset(ticks: number, fn: CalloutFunc<A>, arg: A): void {
    this.c_wheel.reset(this as Callout<unknown>, ticks, fn as CalloutFunc<unknown>, arg);
  }

  /** Schedule after `ns` nanoseconds (rounded up to whole ticks). */
  resetNs(ns: number, fn: CalloutFunc<A>, arg: A): void {
    this.c_wheel.reset(this as Callout<unknown>, this.c_wheel.nsToTicks(ns), fn as CalloutFunc<unknown>, arg);
  }

  /**
   * Stop the callout. Returns true if it was pending and will not run; false if it was not
   * pending, or if it is already committed to run (INVOKING) — the handler will still be
   * called and must notice (ack() returns false).
   */
  stop(): boolean {
    return this.c_wheel.stop(this as Callout<unknown>);
  }

  /** First act of every handler: clears INVOKING; true if the callout is still wanted. */
  ack(): boolean {
    const f = this.c_flags;
    this.c_flags = f & ~CALLOUT_INVOKING;
    return (f & CALLOUT_ACTIVE) !== 0 && (f & CALLOUT_PENDING) === 0;
  }

  pending(): boolean {
    return (this.c_flags & CALLOUT_PENDING) !== 0;
  }
  active(): boolean {
    return (this.c_flags & CALLOUT_ACTIVE) !== 0;
  }
  invoking(): boolean {
    return (this.c_flags & CALLOUT_INVOKING) !== 0;
  }
  /** Clear ACTIVE without unlinking (callout_deactivate). */
  deactivate(): void {
    this.c_flags &= ~CALLOUT_ACTIVE;
  }
  /** Ticks until due (0 if due or not pending). */
  ticksLeft(): number {
    if (!(this.c_flags & CALLOUT_PENDING)) return 0;
    return Math.max(0, this.c_time - this.c_wheel.ticks());
  }
}

function bySeq(a: Callout<unknown>, b: Callout<unknown>): number {
  return a.c_seq - b.c_seq;
}

function inSeqOrder(batch: Callout<unknown>[]): boolean {
  for (let i = 1; i < batch.length; i++) if ((batch[i - 1] as Callout<unknown>).c_seq > (batch[i] as Callout<unknown>).c_seq) return false;
  return true;
}

export interface CallwheelStats {
  scheduled: number;
  cancelled: number;
  fired: number;
  cascaded: number;
  pending: number;
}

export class Callwheel implements TimerSource {
  readonly tickNs: number;
  /** Next tick to process: every callout due before it has fired. */
  curTick: number;
  private readonly heads: (Callout<unknown> | null)[][];
  /** Slot list tails: callouts are appended, so a slot keeps scheduling order. */
  private readonly tails: (Callout<unknown> | null)[][];
  private readonly counts = new Int32Array(NLEVELS);
  /** Occupancy bitmap of level 0 (256 bits). */
  private readonly l0map = new Uint32Array(L0_SIZE / 32);
  private readonly batch: Callout<unknown>[] = [];
  /** Last scheduling sequence number handed out. */
  private seq = 0;
  readonly stats: CallwheelStats = { scheduled: 0, cancelled: 0, fired: 0, cascaded: 0, pending: 0 };
  private readonly clock: Clock;
  private attached = false;

  constructor(clock: Clock, tickNs = 1_000_000) {
    this.clock = clock;
    this.tickNs = tickNs;
    this.curTick = Math.floor(clock.now() / tickNs) + 1;
    this.heads = [];
    this.tails = [];
    for (let l = 0; l < NLEVELS; l++) {
      this.heads.push(new Array(l === 0 ? L0_SIZE : LN_SIZE).fill(null));
      this.tails.push(new Array(l === 0 ? L0_SIZE : LN_SIZE).fill(null));
    }
    clock.attach(this);
    this.attached = true;
  }

  /** Current tick (the clock's time in ticks). */
  ticks(): number {
    return Math.floor(this.clock.now() / this.tickNs);
  }

  nsToTicks(ns: number): number {
    return Math.max(0, Math.ceil(ns / this.tickNs));
  }

  /** Make a callout bound to this wheel. */
  callout<A = unknown>(): Callout<A> {
    return new Callout<A>(this);
  }

  get pendingCount(): number {
    return this.stats.pending;
  }

  destroy(): void {
    if (this.attached) this.clock.detach(this);
    this.attached = false;
  }

  reset(c: Callout<unknown>, ticks: number, fn: CalloutFunc<unknown>, arg: unknown): void {
    if (c.c_flags & CALLOUT_PENDING) this.unlink(c);
    // An empty wheel has nothing to cascade: catch up with a clock that moved while it was
    // idle, so new callouts go in at their real level instead of cascading down from the top.
    if (this.stats.pending === 0) {
      const next = this.ticks() + 1;
      if (next > this.curTick) this.curTick = next;
    }
    c.c_func = fn;
    c.c_arg = arg;
    // Relative to the present tick; 0 (or nonsense: negative, NaN) means the next tick.
    let due = this.ticks() + (ticks > 1 ? Math.floor(ticks) : 1);
    if (due < this.curTick) due = this.curTick;
    c.c_time = due;
    c.c_seq = ++this.seq;
    c.c_flags |= CALLOUT_PENDING | CALLOUT_ACTIVE;
    this.insert(c);
    this.stats.scheduled++;
    this.stats.pending++;
    if (!this.clock.virtual) this.clock.rearm(this);
  }

  stop(c: Callout<unknown>): boolean {
    const wasPending = (c.c_flags & CALLOUT_PENDING) !== 0;
    if (wasPending) {
      this.unlink(c);
      this.stats.cancelled++;
    }
    c.c_flags &= ~(CALLOUT_PENDING | CALLOUT_ACTIVE);
    return wasPending;
  }

  private insert(c: Callout<unknown>): void {
    const delta = c.c_time - this.curTick;
    let level: number;
    let slot: number;
    if (delta < L0_SIZE) {
      level = 0;
      slot = c.c_time & (L0_SIZE - 1);
    } else {
      let t = c.c_time;
      if (delta >= MAX_SPAN) t = this.curTick + MAX_SPAN - 1; // clamped; re-cascades later
      // The lowest level whose span holds the deadline: 2^14, 2^20, 2^26 ticks, else the top.
      // Constants and a division by a power of two (exact), not 2 ** x per insertion.
      const d = t - this.curTick;
      if (d < (LEVEL_UNIT[2] as number)) level = 1;
      else if (d < (LEVEL_UNIT[3] as number)) level = 2;
      else if (d < (LEVEL_UNIT[4] as number)) level = 3;
      else level = NLEVELS - 1;
      slot = Math.floor(t / (LEVEL_UNIT[level] as number)) & (LN_SIZE - 1);
    }
    const tails = this.tails[level] as (Callout<unknown> | null)[];
    const t0 = tails[slot] as Callout<unknown> | null;
    c.c_next = null;
    c.c_prev = t0;
    if (t0) t0.c_next = c;
    else (this.heads[level] as (Callout<unknown> | null)[])[slot] = c;
    tails[slot] = c;
    c.c_level = level;
    c.c_slot = slot;
    (this.counts as Int32Array)[level]++;
    if (level === 0) (this.l0map as Uint32Array)[slot >>> 5] |= 1 << (slot & 31);
  }

  private unlink(c: Callout<unknown>): void {
    const heads = this.heads[c.c_level] as (Callout<unknown> | null)[];
    if (c.c_prev) c.c_prev.c_next = c.c_next;
    else heads[c.c_slot] = c.c_next;
    if (c.c_next) c.c_next.c_prev = c.c_prev;
    else (this.tails[c.c_level] as (Callout<unknown> | null)[])[c.c_slot] = c.c_prev;
    if (c.c_level === 0 && heads[c.c_slot] === null) {
      (this.l0map as Uint32Array)[c.c_slot >>> 5] &= ~(1 << (c.c_slot & 31));
    }
    (this.counts as Int32Array)[c.c_level]--;
    c.c_next = c.c_prev = null;
    c.c_level = c.c_slot = -1;
    c.c_flags &= ~CALLOUT_PENDING;
    this.stats.pending--;
  }

  /** Lowest non-empty level, or -1. */
  private lowestLevel(): number {
    for (let l = 0; l < NLEVELS; l++) if ((this.counts as Int32Array)[l] > 0) return l;
    return -1;
  }

  /** Next occupied level-0 slot at or after curTick within this rotation, as a tick; or -1. */
  private nextL0Tick(): number {
    const start = this.curTick & (L0_SIZE - 1);
    const map = this.l0map;
    for (let s = start; s < L0_SIZE; ) {
      const w = (map[s >>> 5] as number) >>> (s & 31);
      if (w === 0) {
        s = (s | 31) + 1;
        continue;
      }
      return this.curTick + (s - start) + (31 - Math.clz32(w & -w));
    }
    return -1;
  }

  /** Earliest tick at which processing may have work (a cascade or a due callout). */
  private nextTick(): number {
    const l = this.lowestLevel();
    if (l < 0) return Infinity;
    const cur = this.curTick;
    // Tick numbers pass 2^31 after 24.8 days at 1 ms: no 32-bit `|` on them, only low-bit `&`.
    const wrap = (cur & (L0_SIZE - 1)) === 0;
    if (l === 0) {
      // curTick itself may be an unprocessed wrap whose cascade is due now.
      if (wrap && this.stats.pending > (this.counts as Int32Array)[0]) return cur;
      const boundary = cur - (cur & (L0_SIZE - 1)) + L0_SIZE; // next level-0 wrap (cascade point)
      const t = this.nextL0Tick();
      return t >= 0 && t < boundary ? t : boundary;
    }
    // Level 0 is empty: the next event is a cascade from level l, at a multiple of its span
    // (curTick itself if it is one and has not been processed yet).
    const span = LEVEL_UNIT[l] as number;
    return Math.ceil(cur / span) * span;
  }

  /**
   * Exact time (ns) of the earliest pending callout, or Infinity. Unlike nextDue() (which
   * may stop at cascade points) this never underestimates; it costs a scan of the slot
   * heads and of the callouts in the nearest occupied slot of each level, so it is for idle
   * detection (VirtualClock.runUntilIdle), not for every step.
   */
  exactDue(): number {
    if (this.batch.length > 0) return this.clock.now();
    const counts = this.counts as Int32Array;
    let best = Infinity;
    if (counts[0] > 0) {
      const t = this.nextL0Tick();
      if (t >= 0) best = t;
      else {
        // The occupied slots are all in the next rotation of level 0.
        const heads0 = this.heads[0] as (Callout<unknown> | null)[];
        const base = this.curTick - (this.curTick & (L0_SIZE - 1)) + L0_SIZE;
        for (let s = 0; s < L0_SIZE; s++) {
          if (heads0[s] !== null) {
            best = base + s;
            break;
          }
        }
      }
    }
    for (let l = 1; l < NLEVELS; l++) {
      if (counts[l] === 0) continue;
      const heads = this.heads[l] as (Callout<unknown> | null)[];
      const unit = LEVEL_UNIT[l] as number;
      const pos = Math.floor(this.curTick / unit);
      for (let k = 0; k < LN_SIZE; k++) {
        // Slot k (k >= 1) only holds callouts due at or after the start of its range.
        if (k > 0 && (pos + k) * unit >= best) break;
        for (let c = heads[(pos + k) & (LN_SIZE - 1)] as Callout<unknown> | null; c !== null; c = c.c_next) {
          if (c.c_time < best) best = c.c_time;
        }
      }
    }
    return best === Infinity ? Infinity : best * this.tickNs;
  }

  nextDue(): number {
    if (this.batch.length > 0) return this.clock.now();
    const t = this.nextTick();
    return t === Infinity ? Infinity : t * this.tickNs;
  }

  private cascade(level: number, slot: number): void {
    const heads = this.heads[level] as (Callout<unknown> | null)[];
    let c = heads[slot] as Callout<unknown> | null;
    heads[slot] = null;
    (this.tails[level] as (Callout<unknown> | null)[])[slot] = null;
    while (c) {
      const next: Callout<unknown> | null = c.c_next;
      (this.counts as Int32Array)[level]--;
      c.c_next = c.c_prev = null;
      this.insert(c);
      this.stats.cascaded++;
      c = next;
    }
  }

  /** Fire every callout due at or before `now` (ns), tick by tick, in order. */
  runDue(now: number): void {
    // Callouts committed before a handler threw run first.
    if (this.batch.length > 0) this.runBatch();
    const nowTick = Math.floor(now / this.tickNs);
    while (this.curTick <= nowTick) {
      const l = this.lowestLevel();
      if (l < 0) {
        this.curTick = nowTick + 1;
        break;
      }
      const next = this.nextTick();
      if (next > this.curTick) {
        // Skip empty ticks up to the next occupied slot or cascade point.
        if (next > nowTick) {
          this.curTick = nowTick + 1;
          break;
        }
        this.curTick = next;
      }
      const tick = this.curTick;
      // Cascade higher levels when their lower neighbour wraps.
      if ((tick & (L0_SIZE - 1)) === 0) {
        for (let level = 1; level < NLEVELS; level++) {
          const idx = Math.floor(tick / (LEVEL_UNIT[level] as number)) & (LN_SIZE - 1);
          this.cascade(level, idx);
          if (idx !== 0) break;
        }
      }
      // Move the due slot to the expire batch; committed callouts are INVOKING.
      const slot = tick & (L0_SIZE - 1);
      const heads0 = this.heads[0] as (Callout<unknown> | null)[];
      let c = heads0[slot] as Callout<unknown> | null;
      while (c) {
        const next: Callout<unknown> | null = c.c_next;
        if (c.c_time <= tick) {
          this.unlink(c);
          c.c_flags |= CALLOUT_INVOKING;
          this.batch.push(c);
        }
        c = next;
      }
      this.curTick = tick + 1;
      // Slots keep insertion order, but a callout cascaded down from a higher level may have
      // been scheduled before one inserted at level 0 directly: restore scheduling order.
      if (this.batch.length > 1 && !inSeqOrder(this.batch)) this.batch.sort(bySeq);
      this.runBatch();
    }
  }

  private runBatch(): void {
    const batch = this.batch;
    let i = 0;
    try {
      for (; i < batch.length; i++) {
        const c = batch[i] as Callout<unknown>;
        this.stats.fired++;
        const fn = c.c_func;
        if (fn !== null) fn(c.c_arg);
        // A handler that forgot to ack must not leave the flag set forever.
        c.c_flags &= ~CALLOUT_INVOKING;
      }
      batch.length = 0;
    } finally {
      if (batch.length > 0) {
        // A handler threw: it has run; the rest of the batch stays committed and runs on
        // the next runDue() (nextDue() reports them due now). Nothing runs twice.
        (batch[i] as Callout<unknown>).c_flags &= ~CALLOUT_INVOKING;
        batch.splice(0, i + 1);
      }
    }
  }
}
