/*
 * A simulated Ethernet link between two interfaces (possibly in two Vnets sharing a clock):
 * the test bench for everything that crosses a network.
 *
 * Each direction models a bottleneck and a path:
 *   - a bounded transmit queue drained at `rateBps` (serialisation delay len*8/rate); a frame
 *     that finds the queue full is tail-dropped (`qdrops`);
 *   - propagation delay `delayNs`, plus uniform `jitterNs` that never reorders;
 *   - random loss, duplication, corruption (one bit flipped in a private copy) and
 *     reordering (a frame held back an extra `reorderDelayNs`), each with a probability.
 * Decisions come from a per-direction RNG seeded from `seed`, and time from the sending
 * Vnet's clock and callout wheel, so a run repeats exactly.
 *
 * Unlike epair this is a "real wire": it offers no checksum offload, so the stack computes
 * every checksum and corruption is caught where a real receiver would catch it.
 */

import { NS_PER_SEC } from '../kern/clock.js';
import type { Callout } from '../kern/kern_timeout.js';
import { Rng } from '../kern/random.js';
import { type Mbuf, m_freem } from '../mbuf/mbuf.js';
import { ENETDOWN } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { ETHER_HDR_LEN, ETHER_VLAN_ENCAP_LEN } from '../wire/ethernet.js';
import { bpf_mtap, BPF_D_OUT } from './bpf.js';
import { ether_ifattach } from './if_ethersubr.js';
import { IFF_DRV_RUNNING, IFF_UP, Ifnet, if_inc_ipackets, if_inc_opackets } from './if.js';

export interface SimLinkParams {
  /** One-way propagation delay (ns). */
  delayNs: number;
  /** Extra delay drawn uniformly from [0, jitterNs] (never reorders). */
  jitterNs: number;
  /** Probability a frame is lost. */
  loss: number;
  /** Probability a frame is delivered twice. */
  duplicate: number;
  /** Probability a frame has one bit flipped. */
  corrupt: number;
  /** Probability a frame is held back by reorderDelayNs (arrives after later frames). */
  reorder: number;
  reorderDelayNs: number;
  /** Bottleneck rate in bits/s; 0 = infinitely fast (no queue). */
  rateBps: number;
  /** Bottleneck queue bound in frames. */
  queueLimit: number;
  /** MTU of both interfaces. */
  mtu: number;
}

export const SIMLINK_DEFAULTS: SimLinkParams = {
  delayNs: 0,
  jitterNs: 0,
  loss: 0,
  duplicate: 0,
  corrupt: 0,
  reorder: 0,
  reorderDelayNs: 0,
  rateBps: 0,
  queueLimit: 1000,
  mtu: 1500,
};

export class SimLinkStats {
  /** Frames offered by the sender. */
  sent = 0;
  /** Frames handed to the receiver (duplicates included). */
  delivered = 0;
  lost = 0;
  qdrops = 0;
  duplicated = 0;
  corrupted = 0;
  reordered = 0;
  /** Frames larger than the MTU allows. */
  toobig = 0;
  /** Frames in flight or queued when the receiver was gone/down. */
  dropped_down = 0;
  bytes = 0;
  /** Highest backlog seen in the bottleneck queue (frames). */
  maxq = 0;
}

/** A binary min-heap of frames keyed by (arrival time, sequence). */
class ArrivalHeap {
  t: number[] = [];
  seq: number[] = [];
  m: Mbuf[] = [];
  get size(): number {
    return this.t.length;
  }
  private less(i: number, j: number): boolean {
    const a = this.t[i] as number;
    const b = this.t[j] as number;
    return a < b || (a === b && (this.seq[i] as number) < (this.seq[j] as number));
  }
  private swap(i: number, j: number): void {
    const t = this.t;
    const s = this.seq;
    const m = this.m;
    [t[i], t[j]] = [t[j] as number, t[i] as number];
    [s[i], s[j]] = [s[j] as number, s[i] as number];
    [m[i], m[j]] = [m[j] as Mbuf, m[i] as Mbuf];
  }
  push(time: number, seq: number, m: Mbuf): void {
    this.t.push(time);
    this.seq.push(seq);
    this.m.push(m);
    let i = this.t.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  peekTime(): number {
    return this.t.length ? (this.t[0] as number) : Infinity;
  }
  pop(): Mbuf {
    const top = this.m[0] as Mbuf;
    const last = this.t.length - 1;
    this.swap(0, last);
    this.t.pop();
    this.seq.pop();
    this.m.pop();
    let i = 0;
    const n = this.t.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let s = i;
      if (l < n && this.less(l, s)) s = l;
      if (r < n && this.less(r, s)) s = r;
      if (s === i) break;
      this.swap(i, s);
      i = s;
    }
    return top;
  }
}

/** One direction of a simulated link. */
export class SimDirection {
  readonly from: Ifnet;
  readonly to: Ifnet;
  params: SimLinkParams;
  readonly stats = new SimLinkStats();
  private readonly rng: Rng;
  private readonly inflight = new ArrivalHeap();
  private seq = 0;
  /** Time the bottleneck finishes sending everything accepted so far. */
  private busyUntil = 0;
  /** Departure times of frames still in the bottleneck queue (FIFO ring). */
  private departs: Float64Array;
  private dhead = 0;
  private dlen = 0;
  /** Latest arrival scheduled in order (jitter never reorders). */
  private lastArrival = 0;
  private readonly callout: Callout<SimDirection>;

  constructor(from: Ifnet, to: Ifnet, params: SimLinkParams, seed: number) {
    this.from = from;
    this.to = to;
    this.params = params;
    this.rng = new Rng(seed);
    this.departs = new Float64Array(Math.max(16, params.queueLimit));
    this.callout = from.if_vnet.callwheel.callout<SimDirection>();
  }

  /** Frames waiting in the bottleneck queue at time `now`. */
  backlog(now: number): number {
    while (this.dlen > 0 && (this.departs[this.dhead] as number) <= now) {
      this.dhead = (this.dhead + 1) % this.departs.length;
      this.dlen--;
    }
    return this.dlen;
  }

  /** Frames accepted and not yet delivered. */
  get inFlight(): number {
    return this.inflight.size;
  }

  transmit(m: Mbuf): void {
    const p = this.params;
    const st = this.stats;
    const V = this.from.if_vnet;
    const now = V.clock.now();
    st.sent++;
    const len = m.len;
    if (len > p.mtu + ETHER_HDR_LEN + ETHER_VLAN_ENCAP_LEN) {
      st.toobig++;
      this.from.if_data.oerrors++;
      m_freem(m);
      return;
    }
    let depart = now;
    if (p.rateBps > 0) {
      const q = this.backlog(now);
      if (q >= p.queueLimit) {
        st.qdrops++;
        this.from.if_data.oqdrops++;
        m_freem(m);
        return;
      }
      depart = Math.max(now, this.busyUntil) + (len * 8 * NS_PER_SEC) / p.rateBps;
      this.busyUntil = depart;
      if (this.dlen === this.departs.length) {
        const bigger = new Float64Array(this.departs.length * 2);
        for (let i = 0; i < this.dlen; i++) bigger[i] = this.departs[(this.dhead + i) % this.departs.length] as number;
        this.departs = bigger;
        this.dhead = 0;
      }
      this.departs[(this.dhead + this.dlen) % this.departs.length] = depart;
      this.dlen++;
      if (this.dlen > st.maxq) st.maxq = this.dlen;
    }
    st.bytes += len;
    // Loss happens on the path after the bottleneck (the frame used its slot).
    if (p.loss > 0 && this.rng.random() < p.loss) {
      st.lost++;
      m_freem(m);
      return;
    }
    let arrive = depart + p.delayNs;
    if (p.jitterNs > 0) arrive += this.rng.random() * p.jitterNs;
    if (arrive < this.lastArrival) arrive = this.lastArrival;
    this.lastArrival = arrive;
    let frame: Mbuf = m;
    if (p.corrupt > 0 && this.rng.random() < p.corrupt) {
      const d = V.mbufs.dup(m);
      m_freem(m);
      if (d === null) {
        st.lost++;
        return;
      }
      frame = d;
      const bit = this.rng.range(0, frame.len * 8 - 1);
      let off = bit >> 3;
      for (let x: Mbuf | null = frame; x !== null; x = x.m_next) {
        if (off < x.m_len) {
          x.m_buf[x.m_data + off] = (x.m_buf[x.m_data + off] as number) ^ (1 << (bit & 7));
          break;
        }
        off -= x.m_len;
      }
      st.corrupted++;
    }
    if (p.reorder > 0 && this.rng.random() < p.reorder) {
      arrive += p.reorderDelayNs;
      st.reordered++;
    }
    if (p.duplicate > 0 && this.rng.random() < p.duplicate) {
      const d = V.mbufs.dup(frame);
      if (d !== null) {
        st.duplicated++;
        this.inflight.push(arrive, this.seq++, d);
      }
    }
    this.inflight.push(arrive, this.seq++, frame);
    this.arm();
  }

  private arm(): void {
    const t = this.inflight.peekTime();
    if (t === Infinity) return;
    const wheel = this.from.if_vnet.callwheel;
    const now = this.from.if_vnet.clock.now();
    const ticks = wheel.nsToTicks(t - now);
    if (this.callout.pending() && this.callout.c_time <= wheel.ticks() + ticks) return;
    this.callout.reset(ticks, simDeliver, this);
  }

  /** @internal deliver everything that has arrived. */
  deliver(): void {
    const to = this.to;
    const now = this.from.if_vnet.clock.now();
    const tnow = to.if_vnet.clock.now();
    while (this.inflight.size > 0 && this.inflight.peekTime() <= now) {
      const m = this.inflight.pop();
      if (to.if_dead || !(to.if_flags & IFF_UP)) {
        this.stats.dropped_down++;
        m_freem(m);
        continue;
      }
      this.stats.delivered++;
      if_inc_ipackets(to, m.len);
      m.rcvif = to;
      m.rcv_tstmp = tnow;
      m.csum_flags = 0;
      to.if_input(to, m);
    }
    this.arm();
  }

  /** Drop everything in flight (link destroyed). */
  flush(): void {
    this.callout.stop();
    while (this.inflight.size > 0) m_freem(this.inflight.pop());
  }
}

function simDeliver(d: SimDirection): void {
  d.deliver();
}

function sim_transmit(ifp: Ifnet, m: Mbuf): number {
  const d = ifp.if_softc as SimDirection;
  if (!(ifp.if_flags & IFF_UP)) {
    ifp.if_data.oerrors++;
    m_freem(m);
    return ENETDOWN;
  }
  if (ifp.if_bpf.length > 0) bpf_mtap(ifp, m, BPF_D_OUT);
  if_inc_opackets(ifp, m.len);
  d.transmit(m);
  return 0;
}

export class SimLink {
  readonly a: Ifnet;
  readonly b: Ifnet;
  /** a → b */
  readonly ab: SimDirection;
  /** b → a */
  readonly ba: SimDirection;

  constructor(a: Ifnet, b: Ifnet, ab: SimDirection, ba: SimDirection) {
    this.a = a;
    this.b = b;
    this.ab = ab;
    this.ba = ba;
  }

  /** Change parameters of both directions (or one, with `dir`). */
  set(params: Partial<SimLinkParams>, dir: 'ab' | 'ba' | 'both' = 'both'): void {
    if (dir !== 'ba') this.ab.params = { ...this.ab.params, ...params };
    if (dir !== 'ab') this.ba.params = { ...this.ba.params, ...params };
    if (params.mtu !== undefined) {
      this.a.if_mtu = params.mtu;
      this.b.if_mtu = params.mtu;
    }
  }

  destroy(): void {
    this.ab.flush();
    this.ba.flush();
    this.a.if_vnet.ifnet.detach(this.a);
    this.b.if_vnet.ifnet.detach(this.b);
  }
}

/**
 * Join `va` and `vb` with a simulated Ethernet link: creates sim<N> in each (up), with the
 * given parameters in both directions (override per direction with `ab`/`ba`).
 */
export function simlink_create(
  va: Vnet,
  vb: Vnet,
  params: Partial<SimLinkParams> = {},
  opts: { seed?: number; ab?: Partial<SimLinkParams>; ba?: Partial<SimLinkParams>; names?: [string, string] } = {},
): SimLink {
  const p = { ...SIMLINK_DEFAULTS, ...params };
  const ua = va.ifnet.freeUnit('sim');
  const ub = vb === va ? ua + 1 : vb.ifnet.freeUnit('sim');
  const a = new Ifnet(va, 'sim', ua, opts.names?.[0]);
  const b = new Ifnet(vb, 'sim', ub, opts.names?.[1]);
  const seed = opts.seed ?? va.rng.u32();
  const ab = new SimDirection(a, b, { ...p, ...opts.ab }, seed);
  const ba = new SimDirection(b, a, { ...p, ...opts.ba }, (seed ^ 0x5bd1e995) >>> 0);
  for (const [ifp, dir, last] of [
    [a, ab, 0x01],
    [b, ba, 0x02],
  ] as const) {
    const mac = ifp.if_vnet.rng.fill(new Uint8Array(6));
    mac[0] = 0x02;
    mac[5] = last;
    ether_ifattach(ifp, mac);
    ifp.if_mtu = dir.params.mtu;
    ifp.if_softc = dir;
    ifp.if_transmit = sim_transmit;
    ifp.if_flags |= IFF_UP | IFF_DRV_RUNNING;
    ifp.if_description = 'simulated link';
    ifp.if_vnet.ifnet.attach(ifp);
  }
  return new SimLink(a, b, ab, ba);
}
