/*
 * Tests for the clocks (src/kern/clock.ts): the virtual clock moves only when told, fires
 * timers of every attached source in global time order, runs soft work during advance and
 * drain but never synchronously; runUntilIdle; and the real clock's setImmediate/setTimeout
 * plumbing (short, bounded real-time tests).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NS_PER_MS, NS_PER_SEC, RealClock, type SoftTask, type TimerSource, VirtualClock } from '../../src/kern/clock.js';
import { Callwheel } from '../../src/kern/kern_timeout.js';

function task(fn: () => void): SoftTask {
  return {
    queued: false,
    runSoft: fn,
  };
}

describe('VirtualClock', () => {
  it('advances only when told', async () => {
    const c = new VirtualClock();
    assert.equal(c.virtual, true);
    assert.equal(c.now(), 0);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(c.now(), 0, 'real time passing does not move it');
    c.advance(1234);
    assert.equal(c.now(), 1234);
    c.advanceTo(10 * NS_PER_MS);
    assert.equal(c.now(), 10 * NS_PER_MS);
    c.advanceTo(5);
    assert.equal(c.now(), 10 * NS_PER_MS, 'never goes backwards');
  });

  it('has a fixed, reproducible wall epoch unless one is given', () => {
    assert.equal(new VirtualClock().wallEpochNs, new VirtualClock().wallEpochNs);
    assert.equal(new VirtualClock().wallEpochNs, Date.UTC(2026, 0, 1) * NS_PER_MS);
    assert.equal(new VirtualClock({ wallEpochNs: 42 }).wallEpochNs, 42);
  });

  it('fires the timers of two callwheels on one clock interleaved by time, not by source', () => {
    const clock = new VirtualClock();
    const a = new Callwheel(clock);
    const b = new Callwheel(clock);
    const log: string[] = [];
    const at = (label: string) => (): void => {
      log.push(`${label}@${clock.now() / NS_PER_MS}`);
    };
    a.callout<null>().reset(30, at('a30'), null);
    a.callout<null>().reset(10, at('a10'), null);
    b.callout<null>().reset(20, at('b20'), null);
    b.callout<null>().reset(5, at('b5'), null);
    a.callout<null>().reset(400, at('a400'), null);
    b.callout<null>().reset(300, at('b300'), null);
    clock.advance(NS_PER_SEC);
    assert.deepEqual(log, ['b5@5', 'a10@10', 'b20@20', 'a30@30', 'b300@300', 'a400@400']);
  });

  it('a timer on one wheel that schedules on another is causal across sources', () => {
    const clock = new VirtualClock();
    const a = new Callwheel(clock);
    const b = new Callwheel(clock);
    const log: string[] = [];
    const cb = b.callout<null>();
    a.callout<null>().reset(
      10,
      () => {
        log.push(`a@${clock.now() / NS_PER_MS}`);
        cb.reset(1, () => log.push(`b@${clock.now() / NS_PER_MS}`), null);
      },
      null,
    );
    b.callout<null>().reset(12, () => log.push(`b12@${clock.now() / NS_PER_MS}`), null);
    clock.advance(100 * NS_PER_MS);
    assert.deepEqual(log, ['a@10', 'b@11', 'b12@12']);
  });

  it('defer() never runs work synchronously; advance and drain run it', () => {
    const c = new VirtualClock();
    let runs = 0;
    const t = task(() => {
      runs++;
    });
    c.defer(t);
    assert.equal(runs, 0);
    assert.equal(t.queued, true);
    assert.equal(c.softPending, true);
    c.defer(t); // queued at most once
    assert.equal(c.drain(), 1);
    assert.equal(runs, 1);
    assert.equal(t.queued, false);
    assert.equal(c.softPending, false);
    c.defer(t);
    c.advance(0);
    assert.equal(runs, 2, 'advance drains soft work even without moving time');
  });

  it('soft work runs after each timer step, at that step’s time, and may queue more', () => {
    const clock = new VirtualClock();
    const w = new Callwheel(clock);
    const log: string[] = [];
    const second = task(() => log.push(`second@${clock.now() / NS_PER_MS}`));
    const first = task(() => {
      log.push(`first@${clock.now() / NS_PER_MS}`);
      clock.defer(second);
    });
    w.callout<null>().reset(
      5,
      () => {
        log.push('timer5');
        clock.defer(first);
        assert.deepEqual(log, ['timer5'], 'deferred work waits for the handler to return');
      },
      null,
    );
    w.callout<null>().reset(6, () => log.push('timer6'), null);
    clock.advance(10 * NS_PER_MS);
    assert.deepEqual(log, ['timer5', 'first@5', 'second@5', 'timer6']);
  });

  it('refuses to be re-entered from a timer', () => {
    const clock = new VirtualClock();
    const w = new Callwheel(clock);
    let err: unknown = null;
    w.callout<null>().reset(
      1,
      () => {
        try {
          clock.advance(1);
        } catch (e) {
          err = e;
        }
      },
      null,
    );
    clock.advance(5 * NS_PER_MS);
    assert.match(String(err), /re-entered/);
    clock.advance(NS_PER_MS);
    assert.equal(clock.now(), 6 * NS_PER_MS, 'usable afterwards');
  });

  it('nextDue() is the minimum over sources; detach removes a source', () => {
    const clock = new VirtualClock();
    const s1: TimerSource = { nextDue: () => 500, runDue: () => {} };
    const s2: TimerSource = { nextDue: () => 300, runDue: () => {} };
    assert.equal(clock.nextDue(), Number.POSITIVE_INFINITY);
    clock.attach(s1);
    clock.attach(s2);
    clock.attach(s2);
    assert.equal(clock.nextDue(), 300);
    clock.detach(s2);
    assert.equal(clock.nextDue(), 500);
  });

  it('runUntilIdle runs until nothing is left, within the limit', () => {
    const clock = new VirtualClock();
    const w = new Callwheel(clock);
    const fired: number[] = [];
    for (const d of [10, 2000, 70_000]) w.callout<number>().reset(d, (x) => fired.push(x), d);
    const end = clock.runUntilIdle();
    assert.deepEqual(fired, [10, 2000, 70_000]);
    assert.equal(end, 70_000 * NS_PER_MS, 'stops at the last event, not at the limit');
    w.callout<number>().reset(3 * 3600 * 1000, (x) => fired.push(x), -1);
    const end2 = clock.runUntilIdle(NS_PER_SEC * 3600);
    assert.equal(fired.length, 3, 'beyond the limit: not fired');
    assert.ok(end2 <= end + 3600 * NS_PER_SEC);
  });

  it('runUntilIdle with a horizon stops when the next timer is farther away than the horizon', () => {
    const clock = new VirtualClock();
    const w = new Callwheel(clock);
    const fired: number[] = [];
    // A chain of events 100 ms apart, then a 10 s gap before a keepalive-like timer.
    const c = w.callout<number>();
    const step = (n: number): void => {
      fired.push(n);
      if (n < 5) c.reset(100, step, n + 1);
    };
    c.reset(100, step, 1);
    w.callout<number>().reset(10_500, (x) => fired.push(x), 99);
    const end = clock.runUntilIdle(3600 * NS_PER_SEC, NS_PER_SEC);
    assert.deepEqual(fired, [1, 2, 3, 4, 5]);
    assert.equal(end, 500 * NS_PER_MS, 'time stops at the last event within the horizon');
  });

  it('runUntilIdle drains soft work queued before it', () => {
    const clock = new VirtualClock();
    let ran = false;
    clock.defer(task(() => (ran = true)));
    clock.runUntilIdle();
    assert.equal(ran, true);
    assert.equal(clock.now(), 0);
  });
});

describe('RealClock', () => {
  it('follows real time, monotonically', async () => {
    const c = new RealClock();
    assert.equal(c.virtual, false);
    const t0 = c.now();
    await new Promise((r) => setTimeout(r, 20));
    const t1 = c.now();
    assert.ok(t1 - t0 >= 15 * NS_PER_MS, `moved ${t1 - t0} ns`);
    assert.ok(Math.abs(c.wallEpochNs / NS_PER_MS - Date.now()) < 60_000);
  });

  it('defers soft work with setImmediate: not synchronously, before timers', async () => {
    const c = new RealClock();
    const log: string[] = [];
    c.defer(task(() => log.push('soft')));
    log.push('sync');
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(log, ['sync', 'soft']);
  });

  it('wakes a callwheel with a real timer (bounded)', async () => {
    const c = new RealClock();
    const w = new Callwheel(c);
    const t0 = c.now();
    const firedAt = await new Promise<number>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error('callout did not fire within 2 s')), 2000);
      w.callout<null>().reset(
        20,
        () => {
          clearTimeout(guard);
          resolve(c.now());
        },
        null,
      );
    });
    assert.ok(firedAt - t0 >= 19 * NS_PER_MS, `fired after ${(firedAt - t0) / NS_PER_MS} ms`);
    // An earlier callout re-arms the host timer earlier.
    const order: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error('callouts did not fire within 2 s')), 2000);
      w.callout<null>().reset(200, () => order.push('late'), null);
      w.callout<null>().reset(
        10,
        () => {
          order.push('early');
          clearTimeout(guard);
          resolve();
        },
        null,
      );
    });
    assert.deepEqual(order, ['early']);
    w.destroy();
  });
});
