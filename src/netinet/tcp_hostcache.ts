/*
 * The host cache (FreeBSD netinet/tcp_hostcache.c): per-destination metrics that outlive
 * connections — the path MTU learned from ICMP "fragmentation needed" / ICMPv6 "packet
 * too big" (RFC 1191, RFC 8201), and the RTT, RTT variance, slow-start threshold and
 * congestion window TCP saves at close and reuses for new connections to the same host.
 *
 * Entries are keyed by address family and address; the table is bounded
 * (net.inet.tcp.hostcache.cachelimit) and entries expire after
 * net.inet.tcp.hostcache.expire seconds without use, pruned every prune interval.
 * net.inet.tcp.hostcache.purgenow=1 flushes everything (the packetdrill scripts rely on
 * this to start from a clean slate).
 */

import type { Callout } from '../kern/kern_timeout.js';
import type { Vnet } from '../vnet.js';
import { AF_INET, ntoa, ntop6 } from './in.js';
import { field } from '../kern/kern_sysctl.js';

export interface HcMetrics {
  /** Path MTU learned from ICMP (0 = unknown). */
  mtu: number;
  /** Smoothed RTT and variance in microseconds (0 = unknown). */
  rtt: number;
  rttvar: number;
  ssthresh: number;
  cwnd: number;
  sendpipe: number;
  recvpipe: number;
}

interface HcEntry extends HcMetrics {
  family: number;
  key: number | string;
  addr: string;
  /** Expiry (clock ns). */
  expire: number;
  hits: number;
  updates: number;
}

export class HostCache {
  private readonly V: Vnet;
  private readonly entries = new Map<number | string, HcEntry>();
  enable = true;
  cachelimit = 15360;
  /** seconds */
  expire = 3600;
  /** seconds between prunes */
  prune = 300;
  /** Entries dropped because the cache was full. */
  bucketoverflows = 0;
  private readonly timer: Callout<HostCache>;

  constructor(V: Vnet) {
    this.V = V;
    this.timer = V.callwheel.callout<HostCache>();
    const s = V.sysctl;
    s.node('net.inet.tcp', 'TCP');
    s.node('net.inet.tcp.hostcache', 'TCP Host cache');
    s.bool(
      'net.inet.tcp.hostcache.enable',
      {
        get: () => this.enable,
        set: (v) => {
          this.enable = v;
          if (!v) this.purge();
        },
      },
      { descr: 'Enable the TCP hostcache' },
    );
    s.int('net.inet.tcp.hostcache.cachelimit', field(this, 'cachelimit'), { descr: 'Overall entry limit for hostcache', min: 0, max: 1 << 24 });
    s.int('net.inet.tcp.hostcache.expire', field(this, 'expire'), { descr: 'Expire time of TCP hostcache entries (seconds)', min: 1, max: 1 << 24 });
    s.int('net.inet.tcp.hostcache.prune', field(this, 'prune'), { descr: 'Time between purge runs (seconds)', min: 1, max: 1 << 24 });
    s.int('net.inet.tcp.hostcache.count', { get: () => this.entries.size }, { descr: 'Current number of entries in hostcache', readonly: true });
    s.int(
      'net.inet.tcp.hostcache.bucketoverflow',
      { get: () => this.bucketoverflows },
      { descr: 'Entries dropped because the cache was full', readonly: true, counter: true },
    );
    s.action('net.inet.tcp.hostcache.purgenow', () => this.purge(), { descr: 'Immediately purge all entries' });
    s.struct('net.inet.tcp.hostcache.list', () => this.list(), { descr: 'List of all hostcache entries', type: 'hc_metrics' });
  }

  /** An IPv4 entry is keyed by the address as a number (no string built per lookup), IPv6 by a string. */
  private static key(family: number, a4: number, a6: Uint8Array | null): number | string {
    if (family === AF_INET) return a4 >>> 0;
    let s = '6:';
    for (let i = 0; i < 16; i++) s += String.fromCharCode((a6 as Uint8Array)[i] as number);
    return s;
  }

  private get(family: number, a4: number, a6: Uint8Array | null, create: boolean): HcEntry | undefined {
    if (!this.enable) return undefined;
    const key = HostCache.key(family, a4, a6);
    let e = this.entries.get(key);
    const now = this.V.clock.now();
    if (e !== undefined && e.expire <= now) {
      this.entries.delete(key);
      e = undefined;
    }
    if (e === undefined && create) {
      if (this.entries.size >= this.cachelimit) {
        // Evict the least recently inserted entry (Map order).
        const oldest = this.entries.keys().next().value as number | string | undefined;
        if (oldest === undefined) return undefined;
        this.entries.delete(oldest);
        this.bucketoverflows++;
      }
      e = {
        family,
        key,
        addr: family === AF_INET ? ntoa(a4) : ntop6(a6 as Uint8Array),
        mtu: 0,
        rtt: 0,
        rttvar: 0,
        ssthresh: 0,
        cwnd: 0,
        sendpipe: 0,
        recvpipe: 0,
        expire: 0,
        hits: 0,
        updates: 0,
      };
      this.entries.set(key, e);
      if (!this.timer.pending()) this.timer.resetNs(this.prune * 1e9, hcPrune, this);
    }
    if (e !== undefined) e.expire = now + this.expire * 1e9;
    return e;
  }

  /** Metrics for a destination (tcp_hc_get), or null. */
  lookup(family: number, a4: number, a6: Uint8Array | null): HcMetrics | null {
    const e = this.get(family, a4, a6, false);
    if (e === undefined) return null;
    e.hits++;
    return e;
  }

  /** The learned path MTU (tcp_hc_getmtu), 0 if none. */
  getMtu(family: number, a4: number, a6: Uint8Array | null): number {
    return this.lookup(family, a4, a6)?.mtu ?? 0;
  }

  /** Record a path MTU (tcp_hc_updatemtu). */
  updateMtu(family: number, a4: number, a6: Uint8Array | null, mtu: number): void {
    const e = this.get(family, a4, a6, true);
    if (e === undefined) return;
    e.mtu = mtu;
    e.updates++;
  }

  /** Merge metrics saved by a closing connection (tcp_hc_update). */
  update(family: number, a4: number, a6: Uint8Array | null, m: Partial<HcMetrics>): void {
    const e = this.get(family, a4, a6, true);
    if (e === undefined) return;
    // FreeBSD averages with the old value when there is one.
    const avg = (old: number, v: number | undefined): number => (v === undefined || v <= 0 ? old : old > 0 ? Math.floor((old + v) / 2) : v);
    e.rtt = avg(e.rtt, m.rtt);
    e.rttvar = avg(e.rttvar, m.rttvar);
    e.ssthresh = avg(e.ssthresh, m.ssthresh);
    e.cwnd = avg(e.cwnd, m.cwnd);
    if (m.sendpipe) e.sendpipe = m.sendpipe;
    if (m.recvpipe) e.recvpipe = m.recvpipe;
    if (m.mtu) e.mtu = m.mtu;
    e.updates++;
  }

  purge(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /** @internal prune expired entries (tcp_hc_purge). */
  pruneExpired(): void {
    if (!this.timer.ack()) return;
    const now = this.V.clock.now();
    for (const [k, e] of this.entries) if (e.expire <= now) this.entries.delete(k);
    if (this.entries.size > 0) this.timer.resetNs(this.prune * 1e9, hcPrune, this);
  }

  list(): {
    family: number;
    addr: string;
    mtu: number;
    rtt: number;
    rttvar: number;
    ssthresh: number;
    cwnd: number;
    hits: number;
    updates: number;
    expire_s: number;
  }[] {
    const now = this.V.clock.now();
    return [...this.entries.values()].map((e) => ({
      family: e.family,
      addr: e.addr,
      mtu: e.mtu,
      rtt: e.rtt,
      rttvar: e.rttvar,
      ssthresh: e.ssthresh,
      cwnd: e.cwnd,
      hits: e.hits,
      updates: e.updates,
      expire_s: Math.max(0, Math.round((e.expire - now) / 1e9)),
    }));
  }
}

function hcPrune(hc: HostCache): void {
  hc.pruneExpired();
}
