/*
 * The simulated link (src/net/if_sim.ts): propagation delay, serialisation at the bottleneck
 * rate, a bounded queue, loss, duplication, corruption and reordering, all driven by the
 * instance clock and a seeded RNG so a run repeats exactly.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../src/kern/clock.js';
import { BPF_D_IN, BpfTap } from '../../src/net/bpf.js';
import type { Ifnet } from '../../src/net/if.js';
import { IFF_DRV_RUNNING, IFF_UP } from '../../src/net/if.js';
import { type SimLinkParams, simlink_create } from '../../src/net/if_sim.js';
import { Vnet } from '../../src/vnet.js';

interface Arrival {
  t: number;
  seq: number;
  bytes: Uint8Array;
}

const FRAME = 1000;

function setup(params: Partial<SimLinkParams>, seed = 42) {
  const clock = new VirtualClock();
  const va = new Vnet({ name: 'a', clock, seed: 1 });
  const vb = new Vnet({ name: 'b', clock, seed: 2 });
  const link = simlink_create(va, vb, params, { seed });
  for (const ifp of [link.a, link.b]) ifp.if_flags |= IFF_UP | IFF_DRV_RUNNING;
  const got: Arrival[] = [];
  new BpfTap(link.b, (data, len) => {
    if (data[12] !== 0x88 || data[13] !== 0xb5) return; // only the test's frames (not ND/ARP)
    const bytes = data.slice(0, len);
    got.push({ t: clock.now(), seq: (bytes[14] as number) * 256 + (bytes[15] as number), bytes });
  }).direction = BPF_D_IN;
  const send = (n: number, gapNs = 0): void => {
    for (let i = 0; i < n; i++) {
      const f = new Uint8Array(FRAME);
      f.set(link.b.if_lladdr.subarray(0, 6), 0); // to b
      f[12] = 0x88; // a local experimental EtherType (IEEE 802 local experimental 0x88b5)
      f[13] = 0xb5;
      f[14] = i >> 8;
      f[15] = i & 0xff;
      for (let k = 16; k < FRAME; k++) f[k] = (i + k) & 0xff;
      const m = va.mbufs.devget(f, 0, FRAME, null, 16);
      assert.ok(m);
      link.a.if_transmit(link.a, m);
      if (gapNs) clock.advance(gapNs);
    }
  };
  return { clock, va, vb, link, got, send, a: link.a as Ifnet };
}

describe('simulated link', () => {
  it('delays each frame by the propagation delay plus its serialisation time', () => {
    const { clock, got, send } = setup({ delayNs: 5_000_000, rateBps: 8_000_000 }); // 1000 B = 1 ms
    send(3);
    clock.advance(100_000_000);
    assert.equal(got.length, 3);
    // Frame i leaves the bottleneck at (i + 1) ms and arrives 5 ms later.
    for (let i = 0; i < 3; i++) assert.equal((got[i] as Arrival).t, (i + 1) * 1_000_000 + 5_000_000);
    assert.deepEqual(
      got.map((g) => g.seq),
      [0, 1, 2],
    );
  });

  it('drops beyond the bounded queue and counts it', () => {
    const { clock, got, send, link } = setup({ rateBps: 8_000_000, queueLimit: 10 });
    send(50);
    clock.advance(1_000_000_000);
    const st = link.ab.stats;
    assert.ok(got.length <= 11 && got.length >= 10, `${got.length} delivered`);
    assert.equal(st.qdrops, 50 - got.length);
  });

  it('loses about the configured fraction, the same frames for the same seed', () => {
    const run = (seed: number) => {
      const { clock, got, send } = setup({ loss: 0.2 }, seed);
      send(2000, 10_000);
      clock.advance(1_000_000_000);
      return got.map((g) => g.seq);
    };
    const x = run(7);
    const y = run(7);
    const z = run(8);
    assert.deepEqual(x, y, 'same seed, same losses');
    assert.notDeepEqual(x, z, 'another seed, other losses');
    const lossRate = 1 - x.length / 2000;
    assert.ok(lossRate > 0.16 && lossRate < 0.24, `loss rate ${lossRate}`);
  });

  it('duplicates, corrupts one bit, and reorders', () => {
    {
      const { clock, got, send, link } = setup({ duplicate: 0.1 });
      send(1000, 10_000);
      clock.advance(1_000_000_000);
      assert.equal(got.length, 1000 + link.ab.stats.duplicated);
      assert.ok(link.ab.stats.duplicated > 50);
    }
    {
      const { clock, got, send, link } = setup({ corrupt: 0.1 });
      send(1000, 10_000);
      clock.advance(1_000_000_000);
      assert.equal(got.length, 1000);
      let flipped = 0;
      for (const g of got) {
        // Rebuild the frame that was sent and count differing bits.
        let bits = 0;
        for (let k = 16; k < FRAME; k++) {
          let d = ((g.bytes[k] as number) ^ ((g.seq + k) & 0xff)) & 0xff;
          while (d) {
            bits += d & 1;
            d >>= 1;
          }
        }
        if (bits > 0) flipped++;
        assert.ok(bits <= 1, 'at most one bit flipped');
      }
      // Corruption may hit the header bytes too; the payload flips are a subset.
      assert.ok(flipped > 40 && flipped <= link.ab.stats.corrupted, `${flipped} of ${link.ab.stats.corrupted}`);
    }
    {
      const { clock, got, send } = setup({ delayNs: 1_000_000, reorder: 0.2, reorderDelayNs: 3_000_000 });
      send(500, 100_000);
      clock.advance(1_000_000_000);
      assert.equal(got.length, 500);
      let inversions = 0;
      for (let i = 1; i < got.length; i++) if ((got[i] as Arrival).seq < (got[i - 1] as Arrival).seq) inversions++;
      assert.ok(inversions > 20, `${inversions} reorderings`);
    }
  });

  it('adds jitter without reordering', () => {
    const { clock, got, send } = setup({ delayNs: 2_000_000, jitterNs: 1_000_000 });
    send(300, 50_000);
    clock.advance(1_000_000_000);
    assert.equal(got.length, 300);
    for (let i = 1; i < got.length; i++) assert.ok((got[i] as Arrival).seq > (got[i - 1] as Arrival).seq);
    const delays = new Set(got.map((g, i) => g.t - i * 50_000));
    assert.ok(delays.size > 10, 'delays vary');
  });
});
