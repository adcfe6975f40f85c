/*
 * NewReno (src/netinet/cc/cc_newreno.ts) driven through the harness: RFC 5681 slow start and
 * congestion avoidance with RFC 3465 ABC (L = 2, nsegs aggregates, L = 1 after an RTO), the
 * beta multiplicative decrease on three duplicate ACKs, RFC 6582 post-recovery deflation,
 * the RTO loss window, the once-per-window ECN response with RFC 8511 ABE, and the RFC 5681
 * §4.1 restart window. Expected values are computed from the rules, not from the code.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CCF_ABC_SENTAWND, IN_CONGRECOVERY, IN_FASTRECOVERY } from '../../../src/netinet/cc/cc.js';
import { CC_NEWRENO_BETA, CC_NEWRENO_BETA_ECN, newreno, newreno_ctl_output } from '../../../src/netinet/cc/cc_newreno.js';
import { seqAdd } from '../../../src/netinet/tcp_seq.js';
import { Harness, INITIAL_SSTHRESH } from './harness.js';

const MSS = 1448;

describe('newreno: connection start', () => {
  it('has no conn_init: the stack sets the RFC 6928 initial window and ssthresh', () => {
    assert.equal(newreno.conn_init, undefined);
    const h = new Harness();
    assert.equal(h.cwnd, 10 * MSS, 'IW10: min(10*MSS, max(2*MSS, 14600))');
    assert.equal(h.ssthresh, INITIAL_SSTHRESH);
  });

  it('is immutable and keeps its state per connection', () => {
    assert.ok(Object.isFrozen(newreno));
    const a = new Harness();
    const b = new Harness();
    assert.notEqual(a.ccv.cc_data, b.ccv.cc_data);
  });
});

describe('newreno: slow start (RFC 5681 §3.1, RFC 3465 §2.2)', () => {
  it('doubles cwnd every RTT with one ACK per segment', () => {
    const h = new Harness();
    for (let r = 1; r <= 5; r++) {
      h.round();
      assert.equal(h.cwnd, 10 * 2 ** r * MSS, `round ${r}`);
    }
  });

  it('doubles with delayed ACKs too: each ACK for 2 segments may add 2*MSS (L = 2)', () => {
    const h = new Harness();
    h.round({ ackEvery: 2 });
    assert.equal(h.cwnd, 20 * MSS);
    h.round({ ackEvery: 2 });
    assert.equal(h.cwnd, 40 * MSS);
  });

  it('limits a stretch ACK to L = 2 segments of growth', () => {
    const h = new Harness();
    // 10 segments acked 4, 4, 2: increments min(bytes, 2*MSS) = 2, 2, 2 segments.
    h.round({ ackEvery: 4 });
    assert.equal(h.cwnd, 16 * MSS);
    h.round({ ackEvery: 4 }); // 4 ACKs of 4: +8
    assert.equal(h.cwnd, 24 * MSS);
    h.round({ ackEvery: 4 }); // 6 ACKs of 4: +12
    assert.equal(h.cwnd, 36 * MSS);
  });

  it('lets an LRO aggregate of nsegs segments grow by up to nsegs * L * MSS', () => {
    const h = new Harness();
    h.round({ ackEvery: 4, nsegs: 4 }); // each 4-segment ACK may add 8 segments: bytes win
    assert.equal(h.cwnd, 20 * MSS);
    const h2 = new Harness();
    h2.round({ ackEvery: 6, nsegs: 2 }); // ACKs of 6 and 4 segments, cap 4 segments each
    assert.equal(h2.cwnd, (10 + 4 + 4) * MSS);
  });

  it('uses net.inet.tcp.abc_l_var', () => {
    const h = new Harness();
    h.tcpv.abc_l_var = 1;
    h.round({ ackEvery: 4 }); // three ACKs, one MSS each
    assert.equal(h.cwnd, 13 * MSS);
  });

  it('grows by at most one MSS per ACK while retransmitting after an RTO (snd_nxt != snd_max)', () => {
    const h = new Harness();
    h.send(20 * MSS);
    h.rto();
    assert.equal(h.cwnd, MSS);
    h.ack(2 * MSS);
    assert.equal(h.cwnd, 2 * MSS, 'L = 1 after a timeout (RFC 3465 §2.3)');
    h.tp.snd_nxt = h.tp.snd_max;
    h.ack(2 * MSS);
    assert.equal(h.cwnd, 4 * MSS);
  });

  it('does not grow while application-limited or in recovery, nor on a duplicate ACK', () => {
    const h = new Harness();
    h.round({ appLimited: true });
    assert.equal(h.cwnd, 10 * MSS);
    h.send(MSS);
    h.ack(0, 1, 0x0002 /* CC_DUPACK */);
    assert.equal(h.cwnd, 10 * MSS);
    h.send(10 * MSS);
    h.ndupack();
    h.ack(MSS);
    assert.equal(h.cwnd, 10 * MSS);
  });

  it('honours the TCP_MAXWIN << snd_scale ceiling', () => {
    const h = new Harness();
    h.tp.snd_scale = 2;
    h.set(65535 * 4 - 100, INITIAL_SSTHRESH);
    h.send(4 * MSS);
    h.ack(2 * MSS);
    assert.equal(h.cwnd, 65535 * 4);
  });
});

describe('newreno: congestion avoidance (RFC 5681 §3.1, RFC 3465 §2.1)', () => {
  it('adds exactly one MSS per RTT once cwnd exceeds ssthresh', () => {
    const h = new Harness();
    h.tp.snd_ssthresh = 20 * MSS;
    h.round(); // slow start to 20
    assert.equal(h.cwnd, 20 * MSS);
    h.round(); // first ACK still in slow start (cwnd <= ssthresh): 21, then counting bytes
    assert.equal(h.cwnd, 21 * MSS);
    for (let r = 3; r <= 25; r++) {
      h.round();
      assert.equal(h.cwnd, (19 + r) * MSS, `round ${r}`);
    }
  });

  it('grows only when TCP reports a full window acked (CCF_ABC_SENTAWND), and consumes the flag', () => {
    const h = new Harness();
    h.set(30 * MSS, 20 * MSS);
    h.send(30 * MSS);
    for (let i = 0; i < 29; i++) h.ack(MSS);
    assert.equal(h.cwnd, 30 * MSS);
    h.ack(MSS);
    assert.equal(h.cwnd, 31 * MSS);
    assert.equal(h.ccv.flags & CCF_ABC_SENTAWND, 0);
  });

  it('without ABC adds max(MSS*MSS/cwnd, 1) per ACK (RFC 5681 eqn. 3)', () => {
    const h = new Harness();
    h.tcpv.do_rfc3465 = false;
    h.set(30 * MSS, 20 * MSS);
    let ref = 30 * MSS;
    h.send(60 * MSS);
    for (let i = 0; i < 60; i++) {
      h.ack(MSS);
      ref += Math.max(Math.floor((MSS * MSS) / ref), 1);
      assert.equal(h.cwnd, ref);
    }
    assert.ok(h.cwnd > 31 * MSS && h.cwnd < 32 * MSS, 'about one MSS per window of ACKs');
  });
});

describe('newreno: loss (RFC 5681 §3.2, RFC 6582)', () => {
  it('halves on three duplicate ACKs: ssthresh = max(cwnd * 50 / 100, 2 MSS), cwnd left to recovery', () => {
    const h = new Harness();
    h.set(40 * MSS, INITIAL_SSTHRESH);
    h.send(40 * MSS);
    h.ndupack();
    assert.equal(h.ssthresh, 20 * MSS);
    assert.equal(h.cwnd, 40 * MSS);
    assert.ok(IN_FASTRECOVERY(h.tp) && IN_CONGRECOVERY(h.tp));
    assert.equal(h.tp.snd_recover, h.tp.snd_max);
    // Only once per recovery.
    h.tp.snd_cwnd = 80 * MSS;
    h.ndupack();
    assert.equal(h.ssthresh, 20 * MSS);
  });

  it('rounds ssthresh down to whole segments, at least two', () => {
    const h = new Harness();
    h.set(41 * MSS + 1000, INITIAL_SSTHRESH);
    h.ndupack();
    assert.equal(h.ssthresh, Math.floor(((41 * MSS + 1000) * 50) / (100 * MSS)) * MSS);
    const h2 = new Harness();
    h2.set(3 * MSS, INITIAL_SSTHRESH);
    h2.ndupack();
    assert.equal(h2.ssthresh, 2 * MSS);
  });

  it('takes beta from net.inet.tcp.cc.newreno.beta when the connection is created', () => {
    const h = new Harness({ setup: (V) => V.sysctl.set('net.inet.tcp.cc.newreno.beta', 70) });
    h.set(40 * MSS, INITIAL_SSTHRESH);
    h.V.sysctl.set('net.inet.tcp.cc.newreno.beta', 30); // too late for this connection
    h.ndupack();
    assert.equal(h.ssthresh, 28 * MSS);
  });

  it('lets the socket option set a per-connection beta', () => {
    const h = new Harness();
    assert.equal(newreno_ctl_output(h.ccv, true, { name: CC_NEWRENO_BETA, val: 60 }), 0);
    const got = { name: CC_NEWRENO_BETA, val: 0 };
    assert.equal(newreno_ctl_output(h.ccv, false, got), 0);
    assert.equal(got.val, 60);
    assert.equal(newreno_ctl_output(h.ccv, true, { name: 99, val: 1 }), 42);
    h.set(40 * MSS, INITIAL_SSTHRESH);
    h.ndupack();
    assert.equal(h.ssthresh, 24 * MSS);
    const c = new Harness({ algo: 'cubic' });
    assert.equal(newreno_ctl_output(c.ccv, true, { name: CC_NEWRENO_BETA, val: 60 }), 42, 'ENOPROTOOPT for cubic');
  });

  it('deflates to min(ssthresh, max(pipe, MSS) + MSS) when recovery ends (RFC 6582 §3.2 step 3)', () => {
    const cases: [flightSegs: number, sackedSegs: number, expect: number][] = [
      [30, 0, 20 * MSS], // pipe 30 >= ssthresh 20: cwnd = ssthresh
      [5, 0, 6 * MSS], // pipe 5 < 20: pipe + 1
      [25, 10, 16 * MSS], // SACKed bytes leave the pipe (RFC 6675): 15 + 1
      [0, 0, 2 * MSS], // nothing in flight: never below 2 MSS
    ];
    for (const [flight, sacked, expect] of cases) {
      const h = new Harness();
      h.set(40 * MSS, INITIAL_SSTHRESH);
      h.send(40 * MSS);
      h.ndupack();
      assert.equal(h.ssthresh, 20 * MSS);
      h.tp.snd_una = seqAdd(h.tp.snd_max, -flight * MSS);
      h.tp.sackhint.sacked_bytes = sacked * MSS;
      h.fullAck();
      assert.equal(h.cwnd, expect, `flight ${flight} sacked ${sacked}`);
      assert.ok(!IN_FASTRECOVERY(h.tp));
    }
  });

  it('then continues in congestion avoidance at +1 MSS per RTT', () => {
    const h = new Harness();
    h.set(40 * MSS, INITIAL_SSTHRESH);
    h.send(40 * MSS);
    h.ndupack();
    h.fullAck();
    assert.equal(h.cwnd, 20 * MSS);
    h.round(); // cwnd == ssthresh: the first ACK is slow start
    assert.equal(h.cwnd, 21 * MSS);
    h.round();
    h.round();
    assert.equal(h.cwnd, 23 * MSS);
  });
});

describe('newreno: retransmission timeout (RFC 5681 §3.1 eqn. 4)', () => {
  it('sets ssthresh from the flight on the first timeout and cwnd to one MSS', () => {
    const h = new Harness();
    h.set(40 * MSS, INITIAL_SSTHRESH);
    h.send(30 * MSS);
    h.rto();
    assert.equal(h.ssthresh, 15 * MSS);
    assert.equal(h.cwnd, MSS);
    h.tp.snd_cwnd = 8 * MSS;
    h.tp.snd_una = seqAdd(h.tp.snd_una, 10 * MSS); // the flight changed
    h.rto(); // backed-off timeout: ssthresh kept
    assert.equal(h.ssthresh, 15 * MSS);
    assert.equal(h.cwnd, MSS);
  });

  it('bounds the flight by the peer window and keeps two segments minimum', () => {
    const h = new Harness();
    h.set(40 * MSS, INITIAL_SSTHRESH);
    h.send(30 * MSS);
    h.tp.snd_wnd = 10 * MSS;
    h.rto();
    assert.equal(h.ssthresh, 5 * MSS);
    const h2 = new Harness();
    h2.send(MSS);
    h2.rto();
    assert.equal(h2.ssthresh, 2 * MSS);
  });
});

describe('newreno: ECN (RFC 3168 §6.1.2, RFC 8511)', () => {
  it('halves cwnd and ssthresh once per window of data', () => {
    const h = new Harness();
    h.set(40 * MSS, INITIAL_SSTHRESH);
    h.send(40 * MSS);
    h.ecn();
    assert.equal(h.cwnd, 20 * MSS);
    assert.equal(h.ssthresh, 20 * MSS);
    assert.ok(IN_CONGRECOVERY(h.tp) && !IN_FASTRECOVERY(h.tp));
    h.ecn(seqAdd(h.tp.snd_una, 10 * MSS)); // same window
    assert.equal(h.cwnd, 20 * MSS);
    h.send(20 * MSS);
    h.ecn(h.tp.snd_recover); // the window sent after the reaction
    assert.equal(h.cwnd, 10 * MSS);
  });

  it('backs off by beta_ecn = 80 % with net.inet.tcp.cc.abe', () => {
    const h = new Harness({ setup: (V) => V.sysctl.set('net.inet.tcp.cc.abe', true) });
    h.set(40 * MSS, INITIAL_SSTHRESH);
    h.send(40 * MSS);
    h.ecn();
    assert.equal(h.cwnd, 32 * MSS);
    assert.equal(h.ssthresh, 32 * MSS);
  });

  it('uses a per-connection beta_ecn set by socket option even without abe', () => {
    const h = new Harness();
    assert.equal(newreno_ctl_output(h.ccv, true, { name: CC_NEWRENO_BETA_ECN, val: 90 }), 0);
    h.set(40 * MSS, INITIAL_SSTHRESH);
    h.ecn();
    assert.equal(h.cwnd, 36 * MSS);
  });

  it('with abe_frlossreduce applies the rest of the loss beta to a loss inside an ECN reduction', () => {
    const h = new Harness({
      setup: (V) => {
        V.sysctl.set('net.inet.tcp.cc.abe', true);
        V.sysctl.set('net.inet.tcp.cc.abe_frlossreduce', true);
      },
    });
    h.set(40 * MSS, INITIAL_SSTHRESH);
    h.send(40 * MSS);
    h.ecn();
    assert.equal(h.ssthresh, 32 * MSS);
    h.ndupack();
    assert.equal(h.ssthresh, 20 * MSS, '32 * 50 / 80');
    // Without the knob the ECN ssthresh stands.
    const h2 = new Harness({ setup: (V) => V.sysctl.set('net.inet.tcp.cc.abe', true) });
    h2.set(40 * MSS, INITIAL_SSTHRESH);
    h2.ecn();
    h2.ndupack();
    assert.equal(h2.ssthresh, 32 * MSS);
  });
});

describe('newreno: after idle (RFC 5681 §4.1)', () => {
  it('restarts from min(IW, cwnd) and keeps 3/4 of the old cwnd in ssthresh', () => {
    const h = new Harness();
    h.set(40 * MSS, 20 * MSS);
    h.idle(5000);
    assert.equal(h.cwnd, 10 * MSS);
    assert.equal(h.ssthresh, 30 * MSS);
    const h2 = new Harness();
    h2.set(4 * MSS, 20 * MSS);
    h2.idle(5000);
    assert.equal(h2.cwnd, 4 * MSS);
    assert.equal(h2.ssthresh, 20 * MSS);
  });
});
