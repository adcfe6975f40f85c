/*
 * Clocks: the only source of time for protocol code.
 *
 * Time is a number of nanoseconds since the clock's epoch (an integer-valued double; 2^53 ns
 * is 104 days, beyond which precision degrades gracefully to 2 ns, 4 ns, ...).
 *
 * Two implementations:
 *  - RealClock follows the host's monotonic clock; timer sources (callout wheels, links) ask
 *    it to wake them with setTimeout, and deferred soft work runs from setImmediate.
 *  - VirtualClock advances only when told. advanceTo(t) fires every due timer in time order
 *    across every attached source (several Vnets may share one clock, which keeps a simulated
 *    network causal) and drains deferred soft work after each step.
 *
 * Soft work ("software interrupts") is how layers hand packets to each other without
 * re-entrancy: a link that delivers a frame, a netisr queue, a socket upcall. A SoftTask is
 * queued at most once until it runs (its `queued` flag), so scheduling costs no allocation.
 */

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_SEC = 1_000_000_000;

/** Something that owns timers: it tells the clock when it next needs to run. */
export interface TimerSource {
  /**
   * The earliest time (ns) at which this source may have work due, or Infinity. It may be an
   * underestimate (the source is then run early and reports a later time); never an
   * overestimate.
   */
  nextDue(): number;
  /** Run everything due at or before `now` (ns). */
  runDue(now: number): void;
  /**
   * Optional: the exact time of the earliest pending work (never an underestimate), for
   * idle detection. Sources without it are taken at their nextDue().
   */
  exactDue?(): number;
}

/** A unit of deferred soft work. Queue it with clock.defer(); it runs once per queueing. */
export interface SoftTask {
  /** True while queued (maintained by the clock). */
  queued: boolean;
  runSoft(): void;
}

export interface Clock {
  readonly virtual: boolean;
  /** Monotonic time in ns since the clock's epoch. */
  now(): number;
  /** Wall-clock time in ns since the Unix epoch that corresponds to now() === 0. */
  readonly wallEpochNs: number;
  /** Register a timer source; the clock runs it when due. */
  attach(src: TimerSource): void;
  detach(src: TimerSource): void;
  /** Tell the clock that `src`'s nextDue() may have moved earlier. */
  rearm(src: TimerSource): void;
  /** Queue soft work to run after the current work completes (never synchronously). */
  defer(task: SoftTask): void;
}

/**
 * Runs queued soft tasks in FIFO order until none remain (tasks may queue more). A ring that
 * doubles when full and never shrinks: queueing and draining allocate nothing once it has
 * reached the depth the workload needs.
 */
class SoftQueue {
  private q: (SoftTask | null)[] = new Array<SoftTask | null>(64).fill(null);
  private head = 0;
  private n = 0;
  /** Upper bound on tasks run per drain, so a livelock shows as an error, not a hang. */
  maxPerDrain = 50_000_000;

  push(task: SoftTask): boolean {
    if (task.queued) return false;
    task.queued = true;
    if (this.n === this.q.length) this.grow();
    const q = this.q;
    q[(this.head + this.n) & (q.length - 1)] = task;
    return ++this.n === 1;
  }

  get pending(): boolean {
    return this.n > 0;
  }

  drain(): number {
    let c = 0;
    while (this.n > 0) {
      const q = this.q;
      const t = q[this.head] as SoftTask;
      q[this.head] = null;
      this.head = (this.head + 1) & (q.length - 1);
      this.n--;
      t.queued = false;
      t.runSoft();
      if (++c > this.maxPerDrain) throw new Error('SoftQueue.drain: soft work does not converge');
    }
    return c;
  }

  private grow(): void {
    const old = this.q;
    const q = new Array<SoftTask | null>(old.length * 2).fill(null);
    for (let i = 0; i < this.n; i++) q[i] = old[(this.head + i) & (old.length - 1)] as SoftTask;
    this.q = q;
    this.head = 0;
  }
}

/** The host's monotonic clock. */
export class RealClock implements Clock {
  readonly virtual = false;
  readonly wallEpochNs: number;
  private readonly base: number;
  private readonly soft = new SoftQueue();
  private softScheduled = false;
  private readonly timers = new Map<TimerSource, { handle: NodeJS.Timeout | null; at: number }>();
  private readonly runSoftBound = (): void => {
    this.softScheduled = false;
    this.soft.drain();
  };

  constructor() {
    this.base = performance.now();
    this.wallEpochNs = Date.now() * NS_PER_MS;
  }

  now(): number {
    return Math.floor((performance.now() - this.base) * NS_PER_MS);
  }

  attach(src: TimerSource): void {
    if (!this.timers.has(src)) this.timers.set(src, { handle: null, at: Infinity });
    this.rearm(src);
  }

  detach(src: TimerSource): void {
    const t = this.timers.get(src);
    if (t?.handle) clearTimeout(t.handle);
    this.timers.delete(src);
  }

  rearm(src: TimerSource): void {
    const t = this.timers.get(src);
    if (t === undefined) return;
    const due = src.nextDue();
    if (due === Infinity) return;
    if (t.handle !== null && t.at <= due) return;
    if (t.handle !== null) clearTimeout(t.handle);
    const delayMs = Math.max(0, Math.ceil((due - this.now()) / NS_PER_MS));
    t.at = due;
    t.handle = setTimeout(() => {
      t.handle = null;
      t.at = Infinity;
      src.runDue(this.now());
      this.rearm(src);
    }, delayMs);
    // Timers never keep the process alive on their own: sockets hold references (ref/unref).
    t.handle.unref();
  }

  defer(task: SoftTask): void {
    this.soft.push(task);
    if (!this.softScheduled) {
      this.softScheduled = true;
      setImmediate(this.runSoftBound);
    }
  }
}

/**
 * A clock that moves only when told. Everything is synchronous: advanceTo() returns when all
 * timers due up to the target have fired and all soft work has drained.
 */
export class VirtualClock implements Clock {
  readonly virtual = true;
  readonly wallEpochNs: number;
  private t = 0;
  private readonly sources: TimerSource[] = [];
  private readonly soft = new SoftQueue();
  private running = false;

  constructor(opts: { wallEpochNs?: number } = {}) {
    // A fixed default epoch keeps pcap files and logs of virtual runs reproducible.
    this.wallEpochNs = opts.wallEpochNs ?? Date.UTC(2026, 0, 1) * NS_PER_MS;
  }

  now(): number {
    return this.t;
  }

  attach(src: TimerSource): void {
    if (!this.sources.includes(src)) this.sources.push(src);
  }

  detach(src: TimerSource): void {
    const i = this.sources.indexOf(src);
    if (i >= 0) this.sources.splice(i, 1);
  }

  rearm(_src: TimerSource): void {
    // Sources are polled with nextDue() as the clock advances.
  }

  defer(task: SoftTask): void {
    this.soft.push(task);
  }

  /** True when soft work is queued (for async test drivers). */
  get softPending(): boolean {
    return this.soft.pending;
  }

  /** Run queued soft work now, without moving time. Returns the number of tasks run. */
  drain(): number {
    return this.soft.drain();
  }

  /** The earliest time any attached source may have work, or Infinity. */
  nextDue(): number {
    let due = Infinity;
    for (const s of this.sources) {
      const d = s.nextDue();
      if (d < due) due = d;
    }
    return due;
  }

  /** Advance by `ns` nanoseconds. */
  advance(ns: number): void {
    this.advanceTo(this.t + ns);
  }

  /**
   * Advance to absolute time `target`, firing due timers in order and draining soft work
   * after each step.
   */
  advanceTo(target: number): void {
    if (this.running) throw new Error('VirtualClock.advanceTo: re-entered from a timer');
    if (target < this.t) target = this.t;
    this.running = true;
    try {
      this.soft.drain();
      for (;;) {
        const due = this.nextDue();
        if (due > target) break;
        if (due > this.t) this.t = due;
        for (let i = 0; i < this.sources.length; i++) (this.sources[i] as TimerSource).runDue(this.t);
        this.soft.drain();
      }
      this.t = target;
    } finally {
      this.running = false;
    }
  }

  /**
   * Advance until no timer is due within `horizonNs` of the current time and no soft work is
   * queued (the network is idle), or until `limitNs` has passed. Returns the time reached.
   */
  runUntilIdle(limitNs = 3600 * NS_PER_SEC, horizonNs = Infinity): number {
    const end = this.t + limitNs;
    this.soft.drain();
    for (;;) {
      // The exact due time: nextDue() may be a cascade point with nothing to fire there,
      // which would walk time past an idle gap longer than the horizon.
      const due = this.exactDue();
      if (due === Infinity || due > end || due - this.t > horizonNs) break;
      this.advanceTo(due);
    }
    return this.t;
  }

  private exactDue(): number {
    let due = Infinity;
    for (const s of this.sources) {
      const d = s.exactDue !== undefined ? s.exactDue() : s.nextDue();
      if (d < due) due = d;
    }
    return due;
  }
}
