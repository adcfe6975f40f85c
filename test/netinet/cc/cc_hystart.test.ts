/*
 * HyStart++ (RFC 9406) as FreeBSD's newreno and cubic implement it (src/netinet/cc/cc_newreno.ts
 * hystart_* helpers), driven as a stack would: CCF_HYSTART_ALLOWED, rttsample() per ACK,
 * newround() per round. Checks the CSS entry threshold clamp(lastRoundMinRTT / 8, 4 ms,
 * 16 ms), the growth divisor, the spurious-CSS exit, the CSS_ROUNDS exit to congestion
 * avoidance, the stack-requested cwnd pull-back, and the net.inet.tcp.cc.hystartplusplus.*
 * tunables.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CCF_HYSTART_ALLOWED, CCF_HYSTART_CAN_SH_CWND, CCF_HYSTART_CONS_SSTH } from '../../../src/netinet/cc/cc.js';
import { CUBICFLAG_HYSTART_ENABLED, CUBICFLAG_HYSTART_IN_CSS } from '../../../src/netinet/cc/cc_cubic.js';
import { CC_NEWRENO_HYSTART_ENABLED, CC_NEWRENO_HYSTART_IN_CSS, type HystartState } from '../../../src/netinet/cc/cc_newreno.js';
import { Harness, INITIAL_SSTHRESH } from './harness.js';

const MSS = 1448;

const variants = [
  { algo: 'newreno', enabled: CC_NEWRENO_HYSTART_ENABLED, inCss: CC_NEWRENO_HYSTART_IN_CSS },
  { algo: 'cubic', enabled: CUBICFLAG_HYSTART_ENABLED, inCss: CUBICFLAG_HYSTART_IN_CSS },
];

function hs(h: Harness): HystartState {
  return h.ccv.cc_data as HystartState;
}

/** Start round `n` and report `count` RTT samples of `usec`, the flight growing by one MSS each. */
function roundSamples(h: Harness, n: number, usec: number, count = 8): void {
  h.algo.newround?.(h.ccv, n);
  for (let i = 0; i < count; i++) h.algo.rttsample?.(h.ccv, usec, 0, h.cwnd + i * MSS);
}

for (const v of variants) {
  describe(`HyStart++ in ${v.algo} (RFC 9406 §4.2)`, () => {
    function start(setup?: (h: Harness) => void): Harness {
      const h = new Harness({ algo: v.algo });
      h.ccv.flags |= CCF_HYSTART_ALLOWED;
      setup?.(h);
      return h;
    }

    it('stays in standard slow start while the RTT rises less than lastRoundMinRTT / 8', () => {
      const h = start();
      roundSamples(h, 1, 50_000);
      h.round();
      assert.equal(h.cwnd, 20 * MSS, 'first round: no previous minimum yet');
      roundSamples(h, 2, 50_000 + 6249); // threshold 6250 us
      h.round();
      assert.equal(h.cwnd, 40 * MSS);
      assert.equal(hs(h).flags & v.inCss, 0);
    });

    it('enters CSS when it rises by the threshold and divides growth by css_growth_div', () => {
      const h = start();
      roundSamples(h, 1, 50_000);
      h.round();
      roundSamples(h, 2, 50_000 + 6250);
      h.round(); // 20 ACKs, each adding floor(MSS / 4)
      assert.ok(hs(h).flags & v.inCss);
      assert.equal(h.cwnd, 20 * MSS + 20 * Math.floor(MSS / 4));
      assert.equal(hs(h).css_baseline_minrtt, 56_250);
      assert.equal(hs(h).css_entered_at_round, 2);
      assert.equal(hs(h).css_fas_at_css_entry, 20 * MSS, 'flight when the lowest RTT of the round was seen');
    });

    it('does not enter CSS without CCF_HYSTART_ALLOWED or before n_rttsamples samples', () => {
      const h = new Harness({ algo: v.algo });
      roundSamples(h, 1, 50_000);
      h.round();
      roundSamples(h, 2, 80_000);
      h.round();
      assert.equal(h.cwnd, 40 * MSS);
      const h2 = start();
      roundSamples(h2, 1, 50_000);
      h2.round();
      roundSamples(h2, 2, 80_000, 7);
      h2.round();
      assert.equal(h2.cwnd, 40 * MSS);
    });

    it('clamps the threshold to [minrtt_thresh, maxrtt_thresh]', () => {
      const big = start();
      roundSamples(big, 1, 200_000); // 200000 / 8 = 25000 -> 16000
      big.round();
      roundSamples(big, 2, 215_999);
      big.round();
      assert.equal(big.cwnd, 40 * MSS);
      roundSamples(big, 3, 215_999 + 16_000);
      big.round();
      assert.ok(hs(big).flags & v.inCss);
      const small = start();
      roundSamples(small, 1, 10_000); // 1250 -> 4000
      small.round();
      roundSamples(small, 2, 13_999);
      small.round();
      assert.equal(hs(small).flags & v.inCss, 0);
      roundSamples(small, 3, 13_999 + 4000);
      small.round();
      assert.notEqual(hs(small).flags & v.inCss, 0);
    });

    it('leaves CSS for standard slow start when the RTT falls below the CSS baseline', () => {
      const h = start();
      roundSamples(h, 1, 50_000);
      h.round();
      roundSamples(h, 2, 60_000);
      h.round();
      assert.ok(hs(h).flags & v.inCss);
      roundSamples(h, 3, 55_000);
      assert.equal(hs(h).flags & v.inCss, 0);
      assert.ok(hs(h).flags & v.enabled);
      const cw = h.cwnd;
      h.round();
      assert.equal(h.cwnd, cw + Math.floor(cw / MSS) * MSS, 'full slow-start growth again');
    });

    it('enters congestion avoidance after css_rounds rounds in CSS: ssthresh = cwnd, HyStart++ off', () => {
      const h = start();
      roundSamples(h, 1, 50_000);
      h.round();
      roundSamples(h, 2, 60_000);
      h.round();
      for (let n = 3; n <= 6; n++) {
        roundSamples(h, n, 60_000);
        assert.ok(hs(h).flags & v.inCss, `round ${n}`);
        h.round();
      }
      roundSamples(h, 7, 60_000); // 7 - 2 >= 5
      assert.equal(h.ssthresh, h.cwnd);
      assert.equal(hs(h).flags & (v.inCss | v.enabled), 0);
    });

    it('pulls cwnd back to the flight at CSS entry when the stack allows it', () => {
      for (const cons of [false, true]) {
        const h = start((x) => {
          x.ccv.flags |= CCF_HYSTART_CAN_SH_CWND | (cons ? CCF_HYSTART_CONS_SSTH : 0);
        });
        roundSamples(h, 1, 50_000);
        h.round();
        roundSamples(h, 2, 60_000);
        h.round();
        const entryFas = hs(h).css_fas_at_css_entry;
        for (let n = 3; n <= 6; n++) {
          roundSamples(h, n, 60_000);
          h.round();
        }
        h.algo.newround?.(h.ccv, 7);
        const low = hs(h).css_lowrtt_fas;
        assert.equal(h.cwnd, entryFas);
        assert.equal(h.ssthresh, cons ? (low + entryFas) >>> 1 : low);
        assert.ok(hs(h).flags & v.inCss, 'stays in CSS for another css_rounds');
        assert.equal(hs(h).css_entered_at_round, 7);
      }
    });

    it('is disabled by a loss and re-enabled after idle', () => {
      const h = start();
      h.set(40 * MSS, INITIAL_SSTHRESH);
      h.send(40 * MSS);
      h.ndupack();
      assert.equal(hs(h).flags & v.enabled, 0);
      h.fullAck();
      h.idle(5000);
      assert.ok(hs(h).flags & v.enabled);
    });

    it('follows net.inet.tcp.cc.hystartplusplus.* tunables', () => {
      const h = start((x) => {
        x.V.sysctl.set('net.inet.tcp.cc.hystartplusplus.n_rttsamples', 4);
        x.V.sysctl.set('net.inet.tcp.cc.hystartplusplus.css_growth_div', 2);
        x.V.sysctl.set('net.inet.tcp.cc.hystartplusplus.minrtt_thresh', 10_000);
      });
      roundSamples(h, 1, 50_000, 4);
      h.round();
      roundSamples(h, 2, 59_999, 4); // below the raised 10 ms floor
      h.round();
      assert.equal(h.cwnd, 40 * MSS);
      roundSamples(h, 3, 69_999, 4);
      h.round();
      assert.equal(h.cwnd, 40 * MSS + 40 * (MSS / 2));
    });
  });
}

describe('HyStart++ sysctls', () => {
  it('are declared with FreeBSD defaults and refuse a zero growth divisor', () => {
    const h = new Harness();
    const s = h.V.sysctl;
    assert.equal(s.get('net.inet.tcp.cc.hystartplusplus.minrtt_thresh'), 4000);
    assert.equal(s.get('net.inet.tcp.cc.hystartplusplus.maxrtt_thresh'), 16000);
    assert.equal(s.get('net.inet.tcp.cc.hystartplusplus.n_rttsamples'), 8);
    assert.equal(s.get('net.inet.tcp.cc.hystartplusplus.css_growth_div'), 4);
    assert.equal(s.get('net.inet.tcp.cc.hystartplusplus.css_rounds'), 5);
    assert.equal(s.get('net.inet.tcp.cc.hystartplusplus.bblogs'), 0);
    assert.throws(() => s.set('net.inet.tcp.cc.hystartplusplus.css_growth_div', 0));
    s.set('net.inet.tcp.cc.hystartplusplus.css_rounds', 3);
    assert.equal(h.ccvars.hystart?.css_rounds, 3);
  });
});
