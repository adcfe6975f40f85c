/*
 * netisr: dispatch of inbound packets from the link layer to protocol input routines
 * (FreeBSD sys/net/netisr.c).
 *
 * Protocols register a handler under a netisr protocol number. A packet is either
 * dispatched directly (the handler runs now, on the caller's stack: the default, as in
 * FreeBSD, net.isr.dispatch=direct) or queued to the protocol's bounded queue and handled
 * later from soft work (deferred). Hybrid dispatches directly unless the queue holds packets
 * or is being run (to keep order, and so a handler never re-enters itself). A full queue
 * drops the packet and counts `qdrops` (the caller gets ENOBUFS).
 *
 * One workstream (net.isr.maxthreads=1): JavaScript runs the stack on one thread. The
 * counters and sysctls keep FreeBSD's names so `netstat -Q` reads the same.
 */

import type { SoftTask } from '../kern/clock.js';
import { m_freem, type Mbuf } from '../mbuf/mbuf.js';
import { ENOBUFS, ENOENT } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { field } from '../kern/kern_sysctl.js';

export const NETISR_IP = 1;
export const NETISR_IGMP = 2;
export const NETISR_ROUTE = 3;
export const NETISR_ARP = 4;
export const NETISR_ETHER = 5;
export const NETISR_IPV6 = 6;
export const NETISR_EPAIR = 8;
export const NETISR_IP_DIRECT = 9;
export const NETISR_IPV6_DIRECT = 10;
export const NETISR_MAXPROT = 16;

export const NETISR_DISPATCH_DEFAULT = 0;
export const NETISR_DISPATCH_DEFERRED = 1;
export const NETISR_DISPATCH_HYBRID = 2;
export const NETISR_DISPATCH_DIRECT = 3;

const DISPATCH_NAMES = ['default', 'deferred', 'hybrid', 'direct'] as const;

export type NetisrHandler = (m: Mbuf) => void;

export interface NetisrRegistration {
  name: string;
  proto: number;
  handler: NetisrHandler;
  /** Queue limit (defaults to net.isr.defaultqlimit). */
  qlimit?: number;
  /** Per-protocol dispatch policy override. */
  dispatch?: number;
}

/** Per-protocol state: its queue (linked by m_nextpkt) and counters. */
class NetisrProto implements SoftTask {
  queued = false;
  readonly name: string;
  readonly proto: number;
  readonly handler: NetisrHandler;
  qlimit: number;
  dispatch: number;
  head: Mbuf | null = null;
  tail: Mbuf | null = null;
  len = 0;
  watermark = 0;
  dispatched = 0;
  hybrid_dispatched = 0;
  qdrops = 0;
  queued_count = 0;
  handled = 0;
  /** True while the handler runs from the queue or a hybrid direct dispatch (NWS_RUNNING). */
  running = false;
  private readonly owner: Netisr;

  constructor(owner: Netisr, r: NetisrRegistration, qlimit: number) {
    this.owner = owner;
    this.name = r.name;
    this.proto = r.proto;
    this.handler = r.handler;
    this.qlimit = qlimit;
    this.dispatch = r.dispatch ?? NETISR_DISPATCH_DEFAULT;
  }

  enqueue(m: Mbuf): number {
    if (this.len >= this.qlimit) {
      this.qdrops++;
      m_freem(m);
      return ENOBUFS;
    }
    m.m_nextpkt = null;
    if (this.tail) this.tail.m_nextpkt = m;
    else this.head = m;
    this.tail = m;
    this.len++;
    this.queued_count++;
    if (this.len > this.watermark) this.watermark = this.len;
    this.owner.schedule(this);
    return 0;
  }

  /**
   * Run the packets queued when the run started (later arrivals wait for the next run, for
   * fairness). They stay on the queue until handled, so a hybrid dispatch from a handler
   * queues behind them instead of overtaking them.
   */
  runSoft(): void {
    let n = this.len;
    const wasRunning = this.running;
    this.running = true;
    try {
      while (n-- > 0 && this.head !== null) {
        const m: Mbuf = this.head;
        this.head = m.m_nextpkt;
        if (this.head === null) this.tail = null;
        this.len--;
        m.m_nextpkt = null;
        this.handled++;
        this.handler(m);
      }
    } finally {
      this.running = wasRunning;
    }
  }

  /** Free everything queued (unregister). */
  flush(): void {
    let m = this.head;
    this.head = this.tail = null;
    this.len = 0;
    while (m !== null) {
      const n: Mbuf | null = m.m_nextpkt;
      m.m_nextpkt = null;
      m_freem(m);
      m = n;
    }
  }
}

export class Netisr {
  /** net.isr.dispatch: global policy. */
  dispatchPolicy: number = NETISR_DISPATCH_DIRECT;
  maxqlimit = 10240;
  defaultqlimit = 256;
  private readonly protos: (NetisrProto | null)[] = new Array(NETISR_MAXPROT).fill(null);
  private readonly vnet: Vnet;

  constructor(vnet: Vnet) {
    this.vnet = vnet;
    const s = vnet.sysctl;
    s.node('net.isr', 'netisr');
    s.string(
      'net.isr.dispatch',
      {
        get: () => DISPATCH_NAMES[this.dispatchPolicy] as string,
        set: (v) => {
          this.dispatchPolicy = DISPATCH_NAMES.indexOf(v as (typeof DISPATCH_NAMES)[number]);
        },
      },
      {
        descr: 'netisr dispatch policy',
        check: (v) => (v === 'direct' || v === 'deferred' || v === 'hybrid' ? null : "must be 'direct', 'deferred' or 'hybrid'"),
      },
    );
    s.int('net.isr.maxthreads', { get: () => 1 }, { descr: 'Use at most this many CPUs for netisr processing', readonly: true });
    s.int('net.isr.bindthreads', { get: () => 0 }, { descr: 'Bind netisr threads to CPUs.', readonly: true });
    s.int('net.isr.maxqlimit', { get: () => this.maxqlimit }, { descr: 'Maximum netisr per-protocol, per-CPU queue depth.', readonly: true });
    s.int('net.isr.defaultqlimit', field(this, 'defaultqlimit'), {
      descr: 'Default netisr per-protocol, per-CPU queue limit if not set by protocol',
      min: 1,
      max: 10240,
    });
    s.int('net.isr.maxprot', { get: () => NETISR_MAXPROT }, { descr: 'Compile-time limit on the number of protocols supported by netisr.', readonly: true });
    s.int('net.isr.numthreads', { get: () => 1 }, { descr: 'Number of extant netisr threads.', readonly: true });
    s.struct('net.isr.proto', () => this.protoStats(), { descr: 'Return list of protocols registered with netisr', type: 'sysctl_netisr_proto' });
    s.struct('net.isr.work', () => this.workStats(), { descr: 'Return list of workstream-protocol pairs', type: 'sysctl_netisr_work' });
  }

  register(r: NetisrRegistration): void {
    if (r.proto <= 0 || r.proto >= NETISR_MAXPROT) throw new Error(`netisr_register: bad protocol ${r.proto}`);
    if (this.protos[r.proto]) throw new Error(`netisr_register: ${r.name} (${r.proto}) already registered`);
    const q = Math.min(r.qlimit ?? this.defaultqlimit, this.maxqlimit);
    this.protos[r.proto] = new NetisrProto(this, r, q);
  }

  unregister(proto: number): void {
    const p = this.protos[proto];
    if (!p) return;
    // Its queue run may still be scheduled: leave it nothing to do.
    p.flush();
    this.protos[proto] = null;
  }

  isRegistered(proto: number): boolean {
    return this.protos[proto] != null;
  }

  setQlimit(proto: number, qlimit: number): void {
    const p = this.protos[proto];
    if (p) p.qlimit = Math.max(1, Math.min(qlimit, this.maxqlimit));
  }

  /** Hand a packet to its protocol according to the dispatch policy (netisr_dispatch). */
  dispatch(proto: number, m: Mbuf): number {
    const p = this.protos[proto];
    if (!p) {
      m_freem(m);
      return ENOENT;
    }
    const policy = p.dispatch !== NETISR_DISPATCH_DEFAULT ? p.dispatch : this.dispatchPolicy;
    if (policy === NETISR_DISPATCH_DEFERRED) return p.enqueue(m);
    if (policy === NETISR_DISPATCH_HYBRID) {
      if (p.len > 0 || p.running) return p.enqueue(m);
      p.hybrid_dispatched++;
      p.dispatched++;
      p.handled++;
      p.running = true;
      try {
        p.handler(m);
      } finally {
        p.running = false;
      }
      return 0;
    }
    p.dispatched++;
    p.handled++;
    p.handler(m);
    return 0;
  }

  /** Queue a packet for later processing regardless of policy (netisr_queue). */
  queue(proto: number, m: Mbuf): number {
    const p = this.protos[proto];
    if (!p) {
      m_freem(m);
      return ENOENT;
    }
    return p.enqueue(m);
  }

  /** @internal */
  schedule(t: SoftTask): void {
    this.vnet.clock.defer(t);
  }

  protoStats(): { name: string; proto: number; qlimit: number; policy: string; dispatch: string }[] {
    return this.protos
      .filter((p): p is NetisrProto => p !== null)
      .map((p) => ({ name: p.name, proto: p.proto, qlimit: p.qlimit, policy: 'flow', dispatch: DISPATCH_NAMES[p.dispatch] as string }));
  }

  workStats(): {
    wsid: number;
    proto: number;
    name: string;
    len: number;
    watermark: number;
    dispatched: number;
    hybrid_dispatched: number;
    qdrops: number;
    queued: number;
    handled: number;
  }[] {
    return this.protos
      .filter((p): p is NetisrProto => p !== null)
      .map((p) => ({
        wsid: 0,
        proto: p.proto,
        name: p.name,
        len: p.len,
        watermark: p.watermark,
        dispatched: p.dispatched,
        hybrid_dispatched: p.hybrid_dispatched,
        qdrops: p.qdrops,
        queued: p.queued_count,
        handled: p.handled,
      }));
  }
}
