/*
 * Vnet: one network-stack instance (FreeBSD VIMAGE's struct vnet).
 *
 * Every piece of per-instance state hangs off a Vnet: clock and callout wheel, sysctl tree,
 * trace probes, zones and mbufs, RNG, interfaces, netisr, and each protocol's state as the
 * layers above attach. There are no module-level mutable globals anywhere in the stack, so
 * any number of instances can live in one process without sharing anything — except a
 * clock, when the caller passes the same VirtualClock to several instances on purpose to
 * simulate a network in one timeline.
 *
 * Construction runs each subsystem's initialiser in dependency order (VNET_SYSINIT);
 * destroy() tears them down in reverse.
 */

import { type Clock, RealClock } from './kern/clock.js';
import { Callwheel } from './kern/kern_timeout.js';
import { Sysctl, field } from './kern/kern_sysctl.js';
import { Trace } from './kern/kern_sdt.js';
import { Rng } from './kern/random.js';
import { ZoneRegistry } from './kern/uma.js';
import { Mbufs, type MbufLimits, mbufLimitsFor } from './mbuf/mbuf.js';
import { IfnetList, type Ifnet } from './net/if.js';
import { EtherVars } from './net/if_ethersubr.js';
import { lo_create } from './net/if_loop.js';
import { Netisr } from './net/netisr.js';
import { if_mib_init } from './net/if_mib.js';
import { RouteTables } from './net/route.js';
import { route_sysctl_init } from './net/rtsock.js';
import type { ArpVars } from './netinet/if_ether.js';
import { inet_init } from './netinet/in_proto.js';
import type { InetVars } from './netinet/in_var.js';
import type { IcmpVars } from './netinet/ip_icmp.js';
import type { IpReass } from './netinet/ip_reass.js';
import type { RawIp } from './netinet/raw_ip.js';
import type { HostCache } from './netinet/tcp_hostcache.js';
import type { CcVars } from './netinet/cc/cc.js';
import type { TcpVars } from './netinet/tcp_var.js';
import type { Vtw } from './netinet/tcp_vtw.js';
import { tcp_init } from './netinet/tcp_subr.js';
import type { UdpVars } from './netinet/udp_usrreq.js';
import type { Frag6 } from './netinet6/frag6.js';
import type { Icmp6Vars } from './netinet6/icmp6.js';
import { inet6_init } from './netinet6/in6_proto.js';
import type { Inet6Vars } from './netinet6/in6_var.js';
import type { Nd6Vars } from './netinet6/nd6.js';
import type { RawIp6 } from './netinet6/raw_ip6.js';
import { ProtoswTable } from './sys/protosw.js';
import { SocketVars } from './sys/socket.js';

export interface VnetOptions {
  /** A name for diagnostics (`vnet0`, `client`, ...). */
  name?: string;
  /** Clock to use; several instances may share one VirtualClock. Default: a new RealClock. */
  clock?: Clock;
  /** RNG seed: a seeded instance is reproducible (ISNs, ports, link decisions). */
  seed?: number;
  /** Memory budget for packet buffers (bytes); zone limits derive from it like FreeBSD's maxmbufmem. */
  maxmbufmem?: number;
  /** Callout tick in ns (default 1 ms: hz=1000). */
  tickNs?: number;
  /** Create lo0 (default true). */
  loopback?: boolean;
}

/** Default packet-buffer budget: 512 MiB, from which zone limits are derived. */
export const DEFAULT_MAXMBUFMEM = 512 * 1024 * 1024;

export class Vnet {
  readonly name: string;
  readonly clock: Clock;
  readonly callwheel: Callwheel;
  readonly sysctl: Sysctl;
  readonly trace: Trace;
  readonly zones: ZoneRegistry;
  readonly mbufs: Mbufs;
  readonly mbufLimits: MbufLimits;
  readonly rng: Rng;
  readonly ifnet: IfnetList;
  readonly netisr: Netisr;
  readonly ether: EtherVars;
  /** lo0, if created. */
  readonly loif: Ifnet | null;
  /** Routing tables (both families). */
  readonly rt: RouteTables;
  /** Socket layer limits and counters, and the protocol switch table. */
  readonly socket: SocketVars;
  readonly protosw: ProtoswTable;
  // Protocol families, set by their initialisers (inet_init, inet6_init).
  inet!: InetVars;
  icmp!: IcmpVars;
  ipreass!: IpReass;
  hostcache!: HostCache;
  rawip!: RawIp;
  arp!: ArpVars;
  udp!: UdpVars;
  inet6!: Inet6Vars;
  icmp6!: Icmp6Vars;
  nd6!: Nd6Vars;
  frag6!: Frag6;
  rawip6!: RawIp6;
  tcp!: TcpVars;
  /** Vestigial TIME_WAIT and MSLT (tcp_vtw.ts), created by tcp_init. */
  vtw!: Vtw;
  cc!: CcVars;
  /** Set by destroy(). */
  dead = false;
  private readonly destructors: (() => void)[] = [];
  hostname: string;

  constructor(opts: VnetOptions = {}) {
    this.name = opts.name ?? 'vnet';
    this.hostname = this.name;
    this.clock = opts.clock ?? new RealClock();
    this.rng = new Rng(opts.seed);
    this.sysctl = new Sysctl();
    this.trace = new Trace();
    this.callwheel = new Callwheel(this.clock, opts.tickNs);
    this.zones = new ZoneRegistry();
    this.mbufLimits = mbufLimitsFor(opts.maxmbufmem ?? DEFAULT_MAXMBUFMEM);
    this.mbufs = new Mbufs(this.zones, this.mbufLimits);
    this.kernSysctls();
    this.ifnet = new IfnetList();
    this.netisr = new Netisr(this);
    this.ether = new EtherVars(this);
    this.rt = new RouteTables();
    route_sysctl_init(this);
    if_mib_init(this);
    this.socket = new SocketVars(this);
    this.protosw = new ProtoswTable();
    this.loif = opts.loopback === false ? null : lo_create(this);
    inet_init(this);
    inet6_init(this);
    tcp_init(this);
  }

  /** Register a teardown step (run in reverse order by destroy()). */
  onDestroy(fn: () => void): void {
    this.destructors.push(fn);
  }

  /** Tear the instance down: detach interfaces, stop timers, free everything. */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    for (let i = this.destructors.length - 1; i >= 0; i--) (this.destructors[i] as () => void)();
    for (const ifp of this.ifnet.all().reverse()) this.ifnet.detach(ifp);
    this.callwheel.destroy();
  }

  private kernSysctls(): void {
    const s = this.sysctl;
    s.node('kern', 'High kernel, proc, limits &c');
    s.string('kern.ostype', { get: () => 'bsdnet' }, { descr: 'Operating system type', readonly: true });
    s.string('kern.hostname', field(this, 'hostname'), { descr: 'Hostname', check: (v) => (v.length <= 255 ? null : 'too long') });
    s.int('kern.hz', { get: () => Math.round(1e9 / this.callwheel.tickNs) }, { descr: 'Number of clock ticks per second', readonly: true });
    s.int('kern.ticks', { get: () => this.callwheel.ticks() }, { descr: 'Ticks since the instance clock started', readonly: true });
    s.node('kern.ipc', 'IPC');
    const raiseOnly = (zone: () => { limit: number }) => ({
      get: () => zone().limit,
      set: (v: number) => {
        zone().limit = v;
      },
    });
    const check = (cur: () => number) => (v: number) => (v < cur() ? 'may only be raised' : null);
    s.int(
      'kern.ipc.nmbclusters',
      raiseOnly(() => this.mbufs.zone_clust),
      {
        descr: 'Maximum number of mbuf clusters allowed',
        min: 0,
        check: check(() => this.mbufs.zone_clust.limit),
      },
    );
    s.int(
      'kern.ipc.nmbjumbop',
      raiseOnly(() => this.mbufs.zone_jumbop),
      {
        descr: 'Maximum number of mbuf page size jumbo clusters allowed',
        min: 0,
        check: check(() => this.mbufs.zone_jumbop.limit),
      },
    );
    s.int(
      'kern.ipc.nmbjumbo9',
      raiseOnly(() => this.mbufs.zone_jumbo9),
      {
        descr: 'Maximum number of mbuf 9k jumbo clusters allowed',
        min: 0,
        check: check(() => this.mbufs.zone_jumbo9.limit),
      },
    );
    s.int(
      'kern.ipc.nmbjumbo16',
      raiseOnly(() => this.mbufs.zone_jumbo16),
      {
        descr: 'Maximum number of mbuf 16k jumbo clusters allowed',
        min: 0,
        check: check(() => this.mbufs.zone_jumbo16.limit),
      },
    );
    s.int(
      'kern.ipc.nmbufs',
      raiseOnly(() => this.mbufs.zone_mbuf),
      {
        descr: 'Maximum number of mbufs allowed',
        min: 0,
        check: check(() => this.mbufs.zone_mbuf.limit),
      },
    );
    s.int(
      'kern.ipc.maxmbufmem',
      { get: () => this.mbufLimits.nmbclusters * 2048 * 4 },
      { descr: 'Maximum real memory allocatable to various mbuf types', readonly: true },
    );
    s.struct('kern.ipc.mbufstats', () => ({ drops: this.mbufs.drops }), { descr: 'mbuf allocation failures', type: 'mbstat' });
    s.node('vm', 'Virtual memory');
    s.struct('vm.zone', () => this.zones.all().map((z) => ({ ...z.stats() })), { descr: 'Zone allocator statistics (netstat -m)', type: 'uma_stat' });
    s.struct('kern.callout.stats', () => ({ ...this.callwheel.stats }), { descr: 'Callout wheel statistics', type: 'callout_stats' });
  }
}
