/*
 * Tests for the callout wheel (src/kern/kern_timeout.ts): scheduling, cancelling and
 * rescheduling; exact firing ticks at every wheel level; a property test against a sorted
 * reference model; cheap large jumps; stats; and the NetBSD callout race (mark dead, free in
 * the handler).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NS_PER_MS, NS_PER_SEC, type TimerSource, VirtualClock } from '../../src/kern/clock.js';
import { type Callout, Callwheel } from '../../src/kern/kern_timeout.js';

const TICK = NS_PER_MS;

/** A wheel on a fresh virtual clock, with a log of (label, tick at firing). */
function setup(): { clock: VirtualClock; w: Callwheel; log: [string, number][]; fire: (label: string) => void } {
  const clock = new VirtualClock();
  const w = new Callwheel(clock);
  const log: [string, number][] = [];
  const fire = (label: string): void => {
    log.push([label, clock.now() / TICK]);
  };
  return { clock, w, log, fire };
}

describe('callout: schedule, cancel, reschedule', () => {
  it('fires once, exactly at its tick, with its argument', () => {
    const { clock, w } = setup();
    const c = w.callout<{ n: number }>();
    const seen: [number, number][] = [];
    c.reset(10, (a) => seen.push([a.n, clock.now()]), { n: 7 });
    assert.equal(c.pending(), true);
    assert.equal(c.active(), true);
    clock.advance(9 * TICK);
    assert.deepEqual(seen, []);
    clock.advance(TICK - 1);
    assert.deepEqual(seen, [], 'one ns before the tick is too early');
    clock.advance(1);
    assert.deepEqual(seen, [[7, 10 * TICK]]);
    assert.equal(c.pending(), false);
    clock.advance(1000 * TICK);
    assert.equal(seen.length, 1, 'fires exactly once');
  });

  it('0 ticks means the next tick, never synchronously', () => {
    const { clock, w, log, fire } = setup();
    w.callout<string>().reset(0, fire, 'a');
    assert.deepEqual(log, []);
    clock.advance(TICK);
    assert.deepEqual(log, [['a', 1]]);
  });

  it('stop() cancels a pending callout and reports whether it did', () => {
    const { clock, w, log, fire } = setup();
    const c = w.callout<string>();
    c.reset(5, fire, 'x');
    assert.equal(c.stop(), true);
    assert.equal(c.pending(), false);
    assert.equal(c.active(), false);
    assert.equal(c.stop(), false, 'second stop finds nothing pending');
    clock.advance(100 * TICK);
    assert.deepEqual(log, []);
  });

  it('reset() of a pending callout moves it (one firing, at the new time, with the new function)', () => {
    const { clock, w, log, fire } = setup();
    const c = w.callout<string>();
    c.reset(5, () => log.push(['old', clock.now() / TICK]), 'x');
    c.reset(300, fire, 'new');
    clock.advance(1000 * TICK);
    assert.deepEqual(log, [['new', 300]]);
    assert.equal(w.stats.pending, 0);
  });

  it('a handler may reschedule its own callout (periodic timer)', () => {
    const { clock, w } = setup();
    const c = w.callout<null>();
    const at: number[] = [];
    const tick = (): void => {
      assert.equal(c.ack(), true);
      at.push(clock.now() / TICK);
      if (at.length < 5) c.reset(100, tick, null);
    };
    c.reset(100, tick, null);
    clock.advance(10_000 * TICK);
    assert.deepEqual(at, [100, 200, 300, 400, 500]);
  });

  it('resetNs rounds up to whole ticks', () => {
    const { clock, w, log, fire } = setup();
    w.callout<string>().resetNs(2.5 * TICK, fire, 'a');
    w.callout<string>().resetNs(3 * TICK, fire, 'b');
    clock.advance(10 * TICK);
    assert.deepEqual(log, [
      ['a', 3],
      ['b', 3],
    ]);
  });

  it('ticksLeft() counts ticks until the callout fires', () => {
    const { clock, w } = setup();
    const c = w.callout<null>();
    c.reset(10, () => {}, null);
    assert.equal(c.ticksLeft(), 10);
    clock.advance(4 * TICK);
    assert.equal(c.ticksLeft(), 6);
    // A wheel that has been idle while the clock moved must still count from the present.
    const d = w.callout<null>();
    c.stop();
    clock.advance(5000 * TICK);
    d.reset(20, () => {}, null);
    assert.equal(d.ticksLeft(), 20);
    clock.advance(20 * TICK);
    assert.equal(d.pending(), false);
    assert.equal(d.ticksLeft(), 0);
  });

  it('ignores nonsense delays instead of corrupting the wheel (NaN, negative)', () => {
    const { clock, w, log, fire } = setup();
    w.callout<string>().reset(Number.NaN, fire, 'nan');
    w.callout<string>().reset(-5, fire, 'neg');
    w.callout<string>().reset(3, fire, 'three');
    clock.advance(10 * TICK);
    assert.deepEqual(log, [
      ['nan', 1],
      ['neg', 1],
      ['three', 3],
    ]);
  });
});

describe('callout: exact firing across wheel levels', () => {
  const delays = [1, 2, 255, 256, 257, 1000, 16383, 16384, 16385, 2 ** 20 - 1, 2 ** 20, 2 ** 20 + 1, 2 ** 26 - 1, 2 ** 26, 2 ** 26 + 3, 5 * 3600 * 1000];
  for (const d of delays) {
    it(`a callout ${d} ticks ahead fires at exactly tick ${d}`, () => {
      const { clock, w, log, fire } = setup();
      w.callout<string>().reset(d, fire, 'x');
      clock.advance((d - 1) * TICK);
      assert.deepEqual(log, [], 'not early');
      clock.advance(TICK);
      assert.deepEqual(log, [['x', d]]);
    });
  }

  for (const start of [1, 37, 255, 256, 16383, 16384, 123456]) {
    it(`delays across levels from a non-zero start tick (${start})`, () => {
      const { clock, w, log, fire } = setup();
      clock.advance(start * TICK);
      const ds = [1, 255, 256, 16383, 16384, 2 ** 20, 10 * 3600 * 1000, 2 ** 26];
      for (const d of ds) w.callout<string>().reset(d, fire, String(d));
      clock.advance(20 * 3600 * 1000 * TICK);
      assert.deepEqual(
        log,
        ds.map((d) => [String(d), start + d]),
      );
    });
  }

  it('beyond 49.7 days (the wheel span) a deadline is clamped then re-cascaded: it fires on time', () => {
    const { clock, w, log, fire } = setup();
    const d = 60 * 24 * 3600 * 1000; // 60 days in ticks > 2^32
    assert.ok(d > 2 ** 32);
    w.callout<string>().reset(d, fire, 'far');
    w.callout<string>().reset(2 ** 32 + 5, fire, 'edge');
    clock.advance((d - 1) * TICK);
    assert.deepEqual(log, [['edge', 2 ** 32 + 5]]);
    clock.advance(TICK);
    assert.deepEqual(log.at(-1), ['far', d]);
  });

  it('after more than 2^31 ticks of uptime (24.8 days), short timers still fire exactly', () => {
    const { clock, w, log, fire } = setup();
    const start = 30 * 24 * 3600 * 1000;
    clock.advance(start * TICK);
    for (const d of [1, 300, 20_000]) w.callout<string>().reset(d, fire, String(d));
    clock.advance(30_000 * TICK);
    assert.deepEqual(log, [
      ['1', start + 1],
      ['300', start + 300],
      ['20000', start + 20_000],
    ]);
    assert.ok(w.stats.cascaded <= 6);
  });

  it('an Infinity delay never fires and does not wedge the wheel', () => {
    const { clock, w, log, fire } = setup();
    w.callout<string>().reset(Number.POSITIVE_INFINITY, fire, 'never');
    w.callout<string>().reset(10, fire, 'ten');
    clock.advance(100 * 24 * 3600 * NS_PER_SEC);
    assert.deepEqual(log, [['ten', 10]]);
  });

  it('callouts due in the same tick run in the order they were scheduled, whatever their level', () => {
    const { clock, w, log, fire } = setup();
    // "far" goes in at level 2 and is cascaded down later than "near" is inserted at level 0.
    w.callout<string>().reset(20_000, fire, 'far');
    clock.advance(19_900 * TICK);
    w.callout<string>().reset(100, fire, 'near');
    w.callout<string>().reset(100, fire, 'near2');
    clock.advance(200 * TICK);
    assert.deepEqual(log, [
      ['far', 20_000],
      ['near', 20_000],
      ['near2', 20_000],
    ]);
  });

  it('a wheel sharing a clock with another source is run at arbitrary times and still fires on time', () => {
    // The other source forces runDue() at ticks that are not this wheel's events: e.g. just
    // before a level-0 wrap, leaving curTick on a cascade point.
    const { clock, w, log, fire } = setup();
    const other = new Callwheel(clock);
    w.callout<string>().reset(400, fire, 'x'); // level 1, slot [256, 512)
    other.callout<null>().reset(255, () => {}, null);
    clock.advance(1000 * TICK);
    assert.deepEqual(log, [['x', 400]]);
    const w2 = setup();
    const other2 = new Callwheel(w2.clock);
    w2.w.callout<string>().reset(300, w2.fire, 'a'); // level 1
    other2.callout<null>().reset(255, () => {}, null);
    w2.clock.advance(255 * TICK);
    w2.w.callout<string>().reset(50, w2.fire, 'b'); // level 0, tick 305
    w2.clock.advance(1000 * TICK);
    assert.deepEqual(w2.log, [
      ['a', 300],
      ['b', 305],
    ]);
  });
});

/** A TimerSource that makes the clock stop at given times (forces runDue of every source). */
class Poker implements TimerSource {
  times: number[] = [];
  nextDue(): number {
    return this.times.length ? Math.min(...this.times) : Number.POSITIVE_INFINITY;
  }
  runDue(now: number): void {
    this.times = this.times.filter((t) => t > now);
  }
}

type Op = { k: 'sched'; id: number; delay: number } | { k: 'stop'; id: number } | { k: 'advance'; ns: number } | { k: 'poke'; ns: number };

describe('callout: property test against a sorted reference model', () => {
  const delayArb = fc.oneof(
    fc.integer({ min: 0, max: 300 }),
    fc.integer({ min: 250, max: 20_000 }),
    fc.integer({ min: 16_000, max: 2 ** 21 }),
    fc.constantFrom(1, 255, 256, 16383, 16384, 2 ** 20, 2 ** 26, 3_600_000),
  );
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ k: fc.constant('sched' as const), id: fc.integer({ min: 0, max: 11 }), delay: delayArb }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('stop' as const), id: fc.integer({ min: 0, max: 11 }) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        k: fc.constant('advance' as const),
        ns: fc.oneof(fc.integer({ min: 0, max: 600 * TICK }), fc.integer({ min: 0, max: 2 ** 21 * TICK }), fc.integer({ min: 0, max: TICK * 3 })),
      }),
    },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('poke' as const), ns: fc.integer({ min: 1, max: 70_000 * TICK }) }) },
  );

  it('fires the same callouts at the same ticks in the same order as the model', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const clock = new VirtualClock();
        const poker = new Poker();
        clock.attach(poker);
        const w = new Callwheel(clock);
        const cs: Callout<number>[] = [];
        for (let i = 0; i < 12; i++) cs.push(w.callout<number>());
        const fired: [number, number][] = [];
        const handler = (id: number): void => {
          assert.equal(cs[id]?.ack(), true);
          fired.push([id, clock.now() / TICK]);
        };
        // Model: id -> [due tick, schedule sequence]
        const model = new Map<number, [number, number]>();
        const expected: [number, number][] = [];
        let seq = 0;
        const modelRun = (toTick: number): void => {
          const due = [...model.entries()].filter(([, [t]]) => t <= toTick).sort((a, b) => a[1][0] - b[1][0] || a[1][1] - b[1][1]);
          for (const [id, [t]] of due) {
            expected.push([id, t]);
            model.delete(id);
          }
        };
        for (const op of ops) {
          const nowTick = Math.floor(clock.now() / TICK);
          if (op.k === 'sched') {
            (cs[op.id] as Callout<number>).reset(op.delay, handler, op.id);
            model.set(op.id, [Math.max(nowTick + op.delay, nowTick + 1), seq++]);
          } else if (op.k === 'stop') {
            const was = model.delete(op.id);
            assert.equal((cs[op.id] as Callout<number>).stop(), was);
          } else if (op.k === 'poke') {
            poker.times.push(clock.now() + op.ns);
          } else {
            clock.advance(op.ns);
            modelRun(Math.floor(clock.now() / TICK));
          }
          assert.equal(w.stats.pending, model.size);
          for (const [id, [t]] of model) assert.equal((cs[id] as Callout<number>).ticksLeft(), t - Math.floor(clock.now() / TICK));
        }
        // Drain everything left.
        const last = Math.max(0, ...[...model.values()].map(([t]) => t));
        clock.advanceTo(Math.max(clock.now(), last * TICK));
        modelRun(last);
        assert.deepEqual(fired, expected);
        assert.equal(w.stats.pending, 0);
      }),
      { numRuns: 400 },
    );
  });
});

describe('callout: large virtual jumps are cheap', () => {
  it('advancing 10 hours with a few timers does O(levels) cascades, not O(ticks) work', () => {
    const { clock, w, log, fire } = setup();
    const hours = [1, 3, 7, 9.5];
    for (const h of hours) w.callout<string>().reset(h * 3600 * 1000, fire, `${h}h`);
    let polls = 0;
    const probe: TimerSource = {
      nextDue: () => {
        polls++;
        return Number.POSITIVE_INFINITY;
      },
      runDue: () => {},
    };
    clock.attach(probe);
    clock.advance(10 * 3600 * NS_PER_SEC);
    assert.deepEqual(
      log.map(([l]) => l),
      hours.map((h) => `${h}h`),
    );
    for (const [l, t] of log) assert.equal(t, Number.parseFloat(l) * 3600 * 1000);
    // Each callout is cascaded at most once per level (4), and the clock stops only at
    // events and cascade points: a few hundred, not 36 million ticks.
    assert.ok(w.stats.cascaded <= hours.length * 4, `cascaded ${w.stats.cascaded}`);
    assert.ok(polls < 2000, `clock steps ${polls}`);
    assert.equal(w.stats.fired, 4);
  });
});

describe('callout: stats', () => {
  it('counts scheduled, cancelled, fired, pending', () => {
    const { clock, w } = setup();
    const a = w.callout<null>();
    const b = w.callout<null>();
    const c = w.callout<null>();
    a.reset(10, () => {}, null);
    b.reset(20, () => {}, null);
    c.reset(30, () => {}, null);
    b.reset(40, () => {}, null); // reschedule counts as a schedule, not a cancel
    assert.deepEqual({ ...w.stats }, { scheduled: 4, cancelled: 0, fired: 0, cascaded: 0, pending: 3 });
    c.stop();
    c.stop();
    assert.equal(w.stats.cancelled, 1);
    assert.equal(w.pendingCount, 2);
    clock.advance(100 * TICK);
    assert.equal(w.stats.fired, 2);
    assert.equal(w.stats.pending, 0);
  });

  it('a throwing handler does not make the others of its tick run twice or get lost', () => {
    const { clock, w, log, fire } = setup();
    w.callout<string>().reset(5, fire, 'a');
    w.callout<string>().reset(
      5,
      () => {
        throw new Error('boom');
      },
      'b',
    );
    w.callout<string>().reset(5, fire, 'c');
    w.callout<string>().reset(6, fire, 'd');
    assert.throws(() => clock.advance(10 * TICK), /boom/);
    clock.advance(10 * TICK);
    assert.deepEqual(
      log.map(([l]) => l),
      ['a', 'c', 'd'],
    );
    assert.equal(w.stats.fired, 4);
  });

  it('destroy() detaches the wheel: nothing fires afterwards', () => {
    const { clock, w, log, fire } = setup();
    w.callout<string>().reset(5, fire, 'a');
    w.destroy();
    clock.advance(100 * TICK);
    assert.deepEqual(log, []);
    assert.equal(clock.nextDue(), Number.POSITIVE_INFINITY);
  });
});

/*
 * The callout race (seed-features.md §3; NetBSD tcp_close()/TF_DEAD): a mini control block
 * with two timers, modelled on the tcpcb.
 */
class MiniPcb {
  static readonly TF_DEAD = 0x1;
  flags = 0;
  freed = 0;
  readonly rexmt: Callout<MiniPcb>;
  readonly delack: Callout<MiniPcb>;
  readonly stats = { delayed_free: 0, closed_free: 0 };
  readonly events: string[] = [];
  constructor(w: Callwheel) {
    this.rexmt = w.callout<MiniPcb>();
    this.delack = w.callout<MiniPcb>();
  }
  timersInvoking(): number {
    return (this.rexmt.invoking() ? 1 : 0) + (this.delack.invoking() ? 1 : 0);
  }
  free(where: string): void {
    this.freed++;
    this.events.push(`free:${where}`);
  }
  /** tcp_close(): stop the timers; free now unless a timer is committed to run. */
  close(): void {
    this.rexmt.stop();
    this.delack.stop();
    if (this.timersInvoking() > 0) {
      this.flags |= MiniPcb.TF_DEAD;
      this.events.push('close:dead');
    } else {
      this.stats.closed_free++;
      this.free('close');
    }
  }
  /** The common prologue of every timer handler: callout_ack(), then tcp_isdead(). */
  isdead(c: Callout<MiniPcb>, name: string): boolean {
    const wanted = c.ack();
    this.events.push(`${name}:ack=${wanted}`);
    if (this.flags & MiniPcb.TF_DEAD) {
      if (this.timersInvoking() === 0) {
        this.stats.delayed_free++;
        this.free(name);
      }
      return true;
    }
    return !wanted;
  }
}

describe('callout race: mark dead, free in the handler', () => {
  it('two timers due in one tick; the first closes the pcb; the second frees it exactly once', () => {
    const clock = new VirtualClock();
    const w = new Callwheel(clock);
    const tp = new MiniPcb(w);
    let stopResult: boolean | null = null;
    const rexmtHandler = (p: MiniPcb): void => {
      if (p.isdead(p.rexmt, 'rexmt')) return;
      // Give up on the connection: tcp_close() from inside a timer.
      assert.equal(p.delack.invoking(), true, 'delack is committed to run in this tick');
      stopResult = p.delack.stop();
      p.close();
    };
    const delackHandler = (p: MiniPcb): void => {
      if (p.isdead(p.delack, 'delack')) return;
      p.events.push('delack:ran');
    };
    tp.rexmt.reset(50, rexmtHandler, tp);
    tp.delack.reset(50, delackHandler, tp);
    clock.advance(50 * TICK);
    assert.equal(stopResult, false, 'stop() cannot cancel an INVOKING callout');
    assert.equal(tp.freed, 1, 'freed exactly once');
    assert.deepEqual(tp.events, ['rexmt:ack=true', 'close:dead', 'delack:ack=false', 'free:delack']);
    assert.equal(tp.stats.delayed_free, 1);
    assert.equal(tp.stats.closed_free, 0);
    assert.equal(tp.rexmt.invoking() || tp.delack.invoking(), false);
    clock.advance(1000 * TICK);
    assert.equal(tp.freed, 1);
  });

  it('closing with no timer invoking frees at once (no delayed free)', () => {
    const clock = new VirtualClock();
    const w = new Callwheel(clock);
    const tp = new MiniPcb(w);
    tp.rexmt.reset(50, () => assert.fail('stopped timer ran'), tp);
    tp.delack.reset(60, () => assert.fail('stopped timer ran'), tp);
    tp.close();
    assert.equal(tp.freed, 1);
    assert.equal(tp.stats.closed_free, 1);
    clock.advance(100 * TICK);
    assert.equal(tp.stats.delayed_free, 0);
    assert.equal(tp.freed, 1);
  });

  it('a callout rescheduled by an earlier handler in the same batch still runs, and ack() says it is stale', () => {
    const clock = new VirtualClock();
    const w = new Callwheel(clock);
    const a = w.callout<null>();
    const b = w.callout<null>();
    const acks: boolean[] = [];
    a.reset(
      5,
      () => {
        a.ack();
        b.reset(10, () => acks.push(b.ack()), null);
      },
      null,
    );
    b.reset(5, () => acks.push(b.ack()), null);
    clock.advance(5 * TICK);
    assert.deepEqual(acks, [false], 'the committed run happens; ack() reports the reschedule');
    assert.equal(b.pending(), true);
    clock.advance(10 * TICK);
    assert.deepEqual(acks, [false, true]);
  });
});
