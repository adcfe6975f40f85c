/*
 * CUBIC (src/netinet/cc/cc_cubic.ts) driven through the harness in virtual time: K and
 * W_cubic(t) against RFC 9438 Figures 1 and 2, the concave and convex growth around W_max
 * (within one MSS of the formula), the Reno-friendly region on small paths, beta_cubic = 0.7,
 * fast convergence, ECN, the RTO loss window and its spurious-RTO undo, idle restart,
 * application-limited epochs and NewReno's ABC slow start. Reference values are computed
 * from the RFC's formulas in this file.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IN_CONGRECOVERY, IN_FASTRECOVERY } from '../../../src/netinet/cc/cc.js';
import {
  CUBICFLAG_CONG_EVENT,
  CUBICFLAG_HYSTART_ENABLED,
  CUBICFLAG_IN_APPLIMIT,
  CUBICFLAG_IN_TF,
  CUBICFLAG_RTO_EVENT,
  type CubicData,
  cubic,
  cubic_cwnd,
  cubic_k,
} from '../../../src/netinet/cc/cc_cubic.js';
import { seqAdd } from '../../../src/netinet/tcp_seq.js';
import { TCP_RTT_SHIFT } from '../../../src/netinet/tcp_var.js';
import { Harness, INITIAL_SSTHRESH } from './harness.js';

const MSS = 1448;
const C = 0.4;

/** RFC 9438 Figure 2. */
function refK(wmaxSegs: number, epochSegs: number): number {
  return wmaxSegs > epochSegs ? Math.cbrt((wmaxSegs - epochSegs) / C) : 0;
}

/** RFC 9438 Figure 1, in segments. */
function refWcubic(tSec: number, K: number, wmaxSegs: number): number {
  return C * (tSec - K) ** 3 + wmaxSegs;
}

function state(h: Harness): CubicData {
  return h.ccv.cc_data as CubicData;
}

/** Time since the epoch started, seconds. */
function tEpoch(h: Harness): number {
  return ((h.ticks() - state(h).t_epoch) * h.V.callwheel.tickNs) / 1e9;
}

/**
 * A CUBIC connection that lost a packet at cwnd = `segs` segments straight out of slow start
 * (flight = cwnd) and has finished fast recovery.
 */
function afterFirstLoss(segs: number, rttMs = 100): Harness {
  const h = new Harness({ algo: 'cubic', rttMs });
  h.set(segs * MSS, INITIAL_SSTHRESH);
  h.send(segs * MSS);
  h.ndupack();
  h.fullAck();
  return h;
}

describe('cubic: window functions (RFC 9438 §4.2)', () => {
  it('computes K = cbrt((W_max - cwnd_epoch) / C)', () => {
    assert.ok(Math.abs(cubic_k(100, 70) - Math.cbrt(75)) < 1e-12);
    assert.ok(Math.abs(cubic_k(850, 700) - Math.cbrt(375)) < 1e-12);
    assert.equal(cubic_k(70, 100), 0, 'no concave part when W_max <= cwnd_epoch');
    assert.equal(cubic_k(100, 100), 0);
  });

  it('computes W_cubic(t) = C (t - K)^3 + W_max in bytes', () => {
    const K = cubic_k(100, 70);
    for (const t of [0, 1, 2.5, K, 6, 10]) {
      const want = Math.floor(refWcubic(t, K, 100) * MSS);
      const got = cubic_cwnd(t * 1e6, 100 * MSS, MSS, K);
      assert.ok(Math.abs(got - want) <= 1, `t=${t}: ${got} vs ${want}`);
    }
    assert.ok(Math.abs(cubic_cwnd(0, 100 * MSS, MSS, K) - 70 * MSS) <= 1, 'W_cubic(0) = cwnd_epoch');
    assert.equal(cubic_cwnd(K * 1e6, 100 * MSS, MSS, K), 100 * MSS, 'plateau at W_max');
    assert.equal(cubic_cwnd(0, 10 * MSS, MSS, 1e4), 0, 'never negative');
    assert.ok(Number.isInteger(cubic_cwnd(1234567, 100 * MSS, MSS, K)));
  });

  it('is an immutable singleton keeping its state in cc_data', () => {
    assert.ok(Object.isFrozen(cubic));
    const h = new Harness({ algo: 'cubic' });
    assert.equal(state(h).flags, CUBICFLAG_HYSTART_ENABLED);
    assert.equal(state(h).W_max, 0xffffffff, 'conn_init: W_max starts at UINT_MAX');
    assert.equal(h.cwnd, 10 * MSS, 'the stack set the initial window before conn_init');
  });
});

describe('cubic: slow start is NewReno with ABC (RFC 9438 §4.10, RFC 3465)', () => {
  it('doubles per RTT with per-segment ACKs and grows by L = 2 segments per stretch ACK', () => {
    const h = new Harness({ algo: 'cubic' });
    h.round();
    h.round();
    assert.equal(h.cwnd, 40 * MSS);
    const s = new Harness({ algo: 'cubic' });
    s.round({ ackEvery: 4 });
    assert.equal(s.cwnd, 16 * MSS);
  });

  it('keeps slow-starting above ssthresh until 8 RTT samples have been taken', () => {
    const h = new Harness({ algo: 'cubic', rttSamples: 3 });
    h.tp.snd_ssthresh = 15 * MSS;
    h.round();
    assert.equal(h.cwnd, 20 * MSS, 'still doubling: min_rtt unknown');
    h.tp.t_rttupdated = 8;
    h.round();
    assert.ok(h.cwnd < 40 * MSS, 'congestion avoidance once srtt is trusted');
  });
});

describe('cubic: multiplicative decrease and fast convergence (RFC 9438 §4.6, §4.7)', () => {
  it('sets ssthresh = flight * 0.7 on loss outside the Reno-friendly region', () => {
    const h = new Harness({ algo: 'cubic' });
    h.set(1000 * MSS, INITIAL_SSTHRESH);
    h.send(1000 * MSS);
    h.ndupack();
    assert.equal(h.ssthresh, 700 * MSS);
    assert.equal(h.cwnd, 1000 * MSS, 'cwnd is left to the recovery');
    assert.ok(IN_FASTRECOVERY(h.tp));
    const h2 = new Harness({ algo: 'cubic' });
    h2.set(1000 * MSS, INITIAL_SSTHRESH);
    h2.send(800 * MSS);
    h2.ndupack();
    assert.equal(h2.ssthresh, Math.floor((800 * MSS * 7) / 10), 'beta applies to the flight (pipe)');
  });

  it('never sets ssthresh below two segments', () => {
    const h = new Harness({ algo: 'cubic' });
    h.set(2 * MSS, INITIAL_SSTHRESH);
    h.send(2 * MSS);
    h.ndupack();
    assert.equal(h.ssthresh, 2 * MSS);
  });

  it('records W_max with fast convergence: 0.85 cwnd below the previous W_max, else cwnd', () => {
    // First loss: W_max starts at UINT_MAX (conn_init), so FreeBSD's fast convergence applies.
    const h = afterFirstLoss(1000);
    assert.equal(state(h).W_max, Math.floor((1000 * MSS * 17) / 20));
    assert.equal(h.cwnd, Math.floor((state(h).W_max * 7) / 10), 'leaves recovery at W_max * 0.7');
    // Second loss below W_max: reduce W_max further.
    h.round();
    const cw = h.cwnd;
    assert.ok(cw < state(h).W_max);
    h.send(10 * MSS);
    h.ndupack();
    assert.equal(state(h).W_max, Math.floor((cw * 17) / 20));
    h.fullAck();
    // A loss at or above W_max records cwnd itself.
    const wmax = state(h).W_max;
    h.set(wmax + 5 * MSS, h.ssthresh);
    h.send(MSS);
    h.ndupack();
    assert.equal(state(h).W_max, wmax + 5 * MSS);
  });

  it('does not react twice in one recovery', () => {
    const h = new Harness({ algo: 'cubic' });
    h.set(100 * MSS, INITIAL_SSTHRESH);
    h.send(100 * MSS);
    h.ndupack();
    const wmax = state(h).W_max;
    h.ndupack();
    assert.equal(h.ssthresh, 70 * MSS);
    assert.equal(state(h).W_max, wmax);
  });

  it('deflates to pipe + MSS when less than ssthresh is in flight at the end of recovery (RFC 6582)', () => {
    const h = new Harness({ algo: 'cubic' });
    h.set(100 * MSS, INITIAL_SSTHRESH);
    h.send(100 * MSS);
    h.ndupack();
    h.tp.snd_una = seqAdd(h.tp.snd_max, -10 * MSS);
    h.fullAck();
    assert.equal(h.cwnd, 11 * MSS);
  });
});

describe('cubic: window growth (RFC 9438 §4.2-§4.5)', () => {
  it('follows W_cubic(t) within one MSS on the concave and convex sides of W_max', () => {
    const h = afterFirstLoss(1000);
    const wmaxSegs = Math.floor(state(h).W_max / MSS);
    assert.equal(wmaxSegs, 850);
    let K = Number.NaN;
    let epochTick = -1;
    let concave = 0;
    let convex = 0;
    let plateauTf = 0;
    for (let r = 0; r < 200; r++) {
      h.round();
      const d = state(h);
      if (epochTick < 0 && d.cwnd_epoch > 0) {
        // The epoch began on the first congestion-avoidance ACK, at cwnd_epoch ~ ssthresh.
        epochTick = d.t_epoch;
        assert.ok(d.cwnd_epoch > 700 * MSS && d.cwnd_epoch < 710 * MSS, `cwnd_epoch ${d.cwnd_epoch / MSS}`);
        K = refK(wmaxSegs, Math.floor(d.cwnd_epoch / MSS));
        assert.ok(Math.abs(d.K - K) < 1e-9, 'K at the start of the epoch');
      }
      if (epochTick < 0) continue;
      assert.equal(d.t_epoch, epochTick, 'one epoch throughout');
      const t = tEpoch(h);
      const want = refWcubic(t, K, wmaxSegs);
      const got = h.cwndSegs;
      if (t - K < -2) {
        // Concave: cubic growth is faster than Reno's 1 MSS per RTT here.
        assert.ok(Math.abs(got - want) < 1, `concave t=${t.toFixed(3)}: cwnd ${got.toFixed(2)} vs W_cubic ${want.toFixed(2)}`);
        assert.ok(got < wmaxSegs);
        concave++;
      } else if (t - K > 6) {
        // Convex, once the curve has caught up with the Reno-friendly growth of the plateau.
        assert.ok(Math.abs(got - want) < 1, `convex t=${t.toFixed(3)}: cwnd ${got.toFixed(2)} vs W_cubic ${want.toFixed(2)}`);
        convex++;
      } else if (Math.abs(t - K) < 1 && d.flags & CUBICFLAG_IN_TF) {
        plateauTf++;
      }
    }
    assert.ok(concave >= 40 && convex >= 40 && plateauTf > 0, `samples: ${concave} concave, ${convex} convex, ${plateauTf} plateau`);
    assert.ok(h.cwndSegs > 1.5 * wmaxSegs, 'probing well beyond W_max');
  });

  it('grows like NewReno (one MSS per RTT) in the Reno-friendly region of a small path', () => {
    const h = afterFirstLoss(20, 10); // W_max 17 segments, 10 ms RTT: Reno outpaces the cubic curve
    for (let r = 0; r < 5; r++) h.round(); // back to ssthresh and into congestion avoidance
    const d = state(h);
    assert.ok(d.cwnd_epoch > 0);
    // Reference: RFC 3465 §2.1 byte counting, +1 MSS each time a whole cwnd has been acked.
    let ref = h.cwnd;
    let counted = h.tp.t_bytes_acked;
    for (let r = 0; r < 30; r++) {
      const segs = Math.floor(ref / MSS);
      for (let i = 0; i < segs; i++) {
        counted += MSS;
        if (counted >= ref) {
          counted -= ref;
          ref += MSS;
        }
      }
      h.round();
      assert.equal(h.cwnd, ref, `round ${r}`);
      assert.ok(d.flags & CUBICFLAG_IN_TF);
      const t = tEpoch(h);
      assert.ok(refWcubic(t, d.K, 17) * MSS < h.cwnd, 'the cubic curve is below cwnd');
    }
    // A loss while Reno-friendly follows NewReno's decrease (net.inet.tcp.cc.newreno.beta).
    const cw = h.cwnd;
    h.send(MSS);
    h.ndupack();
    assert.equal(h.ssthresh, Math.max(Math.floor((cw * 50) / (100 * MSS)), 2) * MSS);
  });

  it('clamps the target to 1.5 cwnd per RTT before any congestion event (W_max = UINT_MAX)', () => {
    const h = new Harness({ algo: 'cubic' });
    h.tp.snd_ssthresh = 15 * MSS; // e.g. from the host cache
    h.round(); // slow start: 10 -> 15 -> congestion avoidance at the 6th ACK
    let c = h.cwnd;
    for (let r = 0; r < 6; r++) {
      const n = Math.floor(c / MSS);
      h.round();
      // Each ACK adds (1.5 cwnd - cwnd) / cwnd MSS = MSS / 2.
      c += n * Math.floor(MSS / 2);
      assert.equal(h.cwnd, c, `round ${r}`);
    }
  });

  it('restarts the epoch after an application-limited period (RFC 9438 §5.8)', () => {
    const h = afterFirstLoss(100);
    for (let r = 0; r < 5; r++) h.round();
    const d = state(h);
    const t0 = d.t_epoch;
    h.round({ appLimited: true });
    assert.ok(d.flags & CUBICFLAG_IN_APPLIMIT);
    const cw = h.cwnd;
    h.send(MSS);
    h.ack(MSS);
    assert.ok(d.t_epoch > t0);
    assert.equal(d.t_epoch, h.ticks());
    assert.equal(d.cwnd_epoch, cw);
    assert.equal(d.flags & CUBICFLAG_IN_APPLIMIT, 0);
  });

  it('averages srtt over the epoch for the RTT in W_cubic(t + RTT)', () => {
    const h = new Harness({ algo: 'cubic', rttMs: 100 });
    h.set(40 * MSS, 20 * MSS);
    h.send(20 * MSS);
    for (let i = 0; i < 10; i++) h.ack(MSS);
    h.tp.t_srtt = 300 << TCP_RTT_SHIFT;
    for (let i = 0; i < 10; i++) h.ack(MSS);
    assert.equal(state(h).mean_rtt_usecs, 100000, 'primed with the minimum');
    assert.equal(state(h).min_rtt_usecs, 100000);
    h.send(10 * MSS);
    h.ndupack();
    h.fullAck();
    assert.equal(state(h).mean_rtt_usecs, 200000, '(10 * 100 ms + 10 * 300 ms) / 20');
  });
});

describe('cubic: ECN (RFC 9438 §4.6, RFC 3168 §6.1.2)', () => {
  it('reduces cwnd and ssthresh to 0.7 of the flight once per window', () => {
    const h = new Harness({ algo: 'cubic' });
    h.set(100 * MSS, INITIAL_SSTHRESH);
    h.send(100 * MSS);
    h.ecn();
    assert.equal(h.cwnd, 70 * MSS);
    assert.equal(h.ssthresh, 70 * MSS);
    assert.ok(IN_CONGRECOVERY(h.tp));
    assert.ok(state(h).flags & CUBICFLAG_CONG_EVENT);
    h.ecn(seqAdd(h.tp.snd_una, 50 * MSS));
    assert.equal(h.cwnd, 70 * MSS, 'same window: no second reduction');
    h.tp.snd_una = h.tp.snd_max;
    h.send(70 * MSS);
    h.ecn(h.tp.snd_recover);
    assert.equal(h.cwnd, 49 * MSS);
    assert.equal(state(h).W_max, Math.floor((70 * MSS * 17) / 20), 'fast convergence: 70 < W_max');
  });
});

describe('cubic: retransmission timeout (RFC 9438 §4.8, §4.9)', () => {
  it('collapses cwnd to one MSS and sets ssthresh from 0.7 of the flight on the first timeout', () => {
    const h = new Harness({ algo: 'cubic' });
    h.set(100 * MSS, INITIAL_SSTHRESH);
    h.send(100 * MSS);
    h.rto();
    assert.equal(h.cwnd, MSS);
    assert.equal(h.ssthresh, 70 * MSS);
    assert.ok(state(h).flags & CUBICFLAG_RTO_EVENT);
    h.tp.snd_cwnd = 5 * MSS;
    h.tp.snd_una = seqAdd(h.tp.snd_una, 50 * MSS); // the flight changed
    h.rto();
    assert.equal(h.cwnd, MSS);
    assert.equal(h.ssthresh, 70 * MSS, 'kept on later backoffs');
  });

  it('restarts the curve at the current window after the timeout: W_max = cwnd, K = 0', () => {
    const h = afterFirstLoss(100);
    for (let r = 0; r < 5; r++) h.round();
    h.rto();
    h.tp.snd_nxt = h.tp.snd_max;
    for (let r = 0; r < 8 && h.cwnd <= h.ssthresh; r++) h.round();
    const d = state(h);
    assert.equal(d.flags & CUBICFLAG_RTO_EVENT, 0);
    assert.equal(d.K, 0);
    assert.equal(d.W_max, d.cwnd_epoch);
  });

  it('undoes a spurious timeout: epoch, W_max and K restored, cwnd and ssthresh by the stack', () => {
    const h = afterFirstLoss(100);
    for (let r = 0; r < 10; r++) h.round();
    const d = state(h);
    const before = { K: d.K, W_max: d.W_max, cwnd_epoch: d.cwnd_epoch, t_epoch: d.t_epoch, cwnd: h.cwnd, ssthresh: h.ssthresh };
    h.send(10 * MSS);
    h.rto();
    h.advance(300);
    h.rto(); // a second backoff does not overwrite the saved state
    assert.equal(h.cwnd, MSS);
    // Even if congestion avoidance restarted the curve meanwhile (W_max = cwnd, K = 0)...
    h.tp.snd_ssthresh = MSS / 2;
    h.tp.snd_nxt = h.tp.snd_max;
    h.ack(MSS);
    assert.equal(d.K, 0);
    assert.equal(d.W_max, MSS);
    assert.notEqual(d.t_epoch, before.t_epoch);
    // ...the undo restores the state the first timeout saved.
    h.rtoErr();
    assert.deepEqual({ K: d.K, W_max: d.W_max, cwnd_epoch: d.cwnd_epoch, t_epoch: d.t_epoch, cwnd: h.cwnd, ssthresh: h.ssthresh }, before);
    assert.equal(d.flags & CUBICFLAG_RTO_EVENT, 0);
    // Growth resumes on the old curve, not from a new epoch.
    h.round();
    assert.equal(d.t_epoch, before.t_epoch);
    assert.ok(h.cwnd > before.cwnd);
  });
});

describe('cubic: after idle (RFC 9438 §5.8, RFC 5681 §4.1)', () => {
  it('keeps W_max, recomputes K, resets t_epoch, restarts from the initial window and re-enables HyStart++', () => {
    const h = afterFirstLoss(100);
    for (let r = 0; r < 40; r++) h.round();
    const d = state(h);
    assert.equal(d.flags & CUBICFLAG_HYSTART_ENABLED, 0, 'the loss disabled HyStart++');
    const cw = h.cwnd;
    const ss = h.ssthresh;
    const wmax = Math.max(d.W_max, cw);
    h.idle(10_000);
    assert.equal(d.W_max, wmax);
    assert.ok(Math.abs(d.K - refK(Math.floor(wmax / MSS), Math.floor(d.cwnd_epoch / MSS))) < 1e-9);
    assert.equal(d.t_epoch, h.ticks());
    assert.equal(h.cwnd, 10 * MSS);
    assert.equal(h.ssthresh, Math.max(ss, cw - Math.floor(cw / 4)));
    assert.ok(d.flags & CUBICFLAG_HYSTART_ENABLED);
  });
});
