/*
 * Helpers for the IPv4 tests: Vnets and Stacks on a shared virtual clock, a fake Ethernet
 * interface that records what the stack transmits, injection of hand-built frames and
 * datagrams, builders for IPv4/UDP/ICMP/ARP with correct checksums, and the topologies the
 * tests share (two hosts on a simulated Ethernet; two subnets joined by a router).
 */

import { Stack } from '../../src/api/stack.js';
import { VirtualClock } from '../../src/kern/clock.js';
import { type Mbuf, m_freem, m_tobytes } from '../../src/mbuf/mbuf.js';
import { IFF_DRV_RUNNING, IFF_UP, Ifnet } from '../../src/net/if.js';
import { ether_ifattach } from '../../src/net/if_ethersubr.js';
import type { SimLink, SimLinkParams } from '../../src/net/if_sim.js';
import { AF_INET, sockaddr_in } from '../../src/netinet/in.js';
import { ip_input } from '../../src/netinet/ip_input.js';
import { SOCK_RAW } from '../../src/sys/protosw.js';
import { type Socket, socreate, soreceive, sosend } from '../../src/sys/socket.js';
import { get16, get32, set16, set32 } from '../../src/wire/bytes.js';
import { cksumFinish, cksumPartial, inCksum, pseudoSum4 } from '../../src/wire/checksum.js';
import { Vnet } from '../../src/vnet.js';

export const SEC = 1_000_000_000;
export const MS = 1_000_000;

/** "10.0.0.1" → 0x0a000001. */
export function ip(s: string): number {
  const p = s.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad address ${s}`);
  return (((p[0] as number) << 24) | ((p[1] as number) << 16) | ((p[2] as number) << 8) | (p[3] as number)) >>> 0;
}

export function vnet(name: string, clock: VirtualClock, seed = 1, loopback = true): Vnet {
  return new Vnet({ name, clock, seed, loopback });
}

/** Mbufs and clusters in use (leak checks). */
export function mbufsInUse(V: Vnet): number {
  const mb = V.mbufs;
  return mb.zone_mbuf.used + mb.zone_clust.used + mb.zone_jumbop.used + mb.zone_jumbo9.used + mb.zone_jumbo16.used;
}

/** A fake Ethernet interface whose transmitted frames are recorded. */
export interface FakeEther {
  ifp: Ifnet;
  mac: Uint8Array;
  frames: Uint8Array[];
  /** IPv4 packets (Ethernet header stripped) of the recorded frames. */
  ip4(): Uint8Array[];
  /** ARP packets (Ethernet header stripped) with their Ethernet destination. */
  arp(): { dst: Uint8Array; pkt: Uint8Array }[];
  clear(): void;
}

let fakeUnit = 0;

export function fakeEther(V: Vnet, mac: Uint8Array = Uint8Array.of(0x02, 0, 0, 0, 0x44, 0x10 + (fakeUnit & 0x7f)), mtu = 1500): FakeEther {
  const ifp = new Ifnet(V, 'fake', V.ifnet.freeUnit('fake'));
  fakeUnit++;
  ether_ifattach(ifp, mac);
  ifp.if_mtu = mtu;
  const frames: Uint8Array[] = [];
  ifp.if_transmit = (_i, m) => {
    frames.push(m_tobytes(m));
    m_freem(m);
    return 0;
  };
  ifp.if_flags |= IFF_UP | IFF_DRV_RUNNING;
  V.ifnet.attach(ifp);
  return {
    ifp,
    mac,
    frames,
    ip4: () => frames.filter((f) => get16(f, 12) === 0x0800).map((f) => f.subarray(14)),
    arp: () => frames.filter((f) => get16(f, 12) === 0x0806).map((f) => ({ dst: f.subarray(0, 6), pkt: f.subarray(14) })),
    clear: () => {
      frames.length = 0;
    },
  };
}

/** Inject an IPv4 datagram as if received on `ifp` (straight into ip_input). */
export function inject(V: Vnet, ifp: Ifnet, pkt: Uint8Array, flags = 0): void {
  const m = V.mbufs.devget(pkt, 0, pkt.length, ifp, 16) as Mbuf;
  m.m_flags |= flags;
  ip_input(m);
}

/** Inject an Ethernet frame (through ether_input). */
export function injectFrame(ifp: Ifnet, src: Uint8Array, dst: Uint8Array, type: number, payload: Uint8Array): void {
  const f = new Uint8Array(14 + payload.length);
  f.set(dst, 0);
  f.set(src, 6);
  set16(f, 12, type);
  f.set(payload, 14);
  const m = ifp.if_vnet.mbufs.devget(f, 0, f.length, ifp, 0) as Mbuf;
  ifp.if_input(ifp, m);
}

export interface Ip4Spec {
  src: number;
  dst: number;
  p: number;
  ttl?: number;
  id?: number;
  /** Flags and fragment offset word (IP_DF, IP_MF | offset/8). */
  off?: number;
  tos?: number;
  /** Options (padded to a multiple of 4 by the caller). */
  opts?: Uint8Array;
  /** Override the total length field. */
  len?: number;
  /** Override the version nibble / header length nibble. */
  version?: number;
  hl?: number;
  /** Leave a wrong header checksum. */
  badsum?: boolean;
}

/** An IPv4 datagram with a correct header checksum (unless told otherwise). */
export function ip4(spec: Ip4Spec, payload: Uint8Array): Uint8Array {
  const opts = spec.opts ?? new Uint8Array(0);
  const hlen = 20 + opts.length;
  const p = new Uint8Array(hlen + payload.length);
  p[0] = ((spec.version ?? 4) << 4) | (spec.hl ?? hlen >> 2);
  p[1] = spec.tos ?? 0;
  set16(p, 2, spec.len ?? p.length);
  set16(p, 4, spec.id ?? 0x1234);
  set16(p, 6, spec.off ?? 0);
  p[8] = spec.ttl ?? 64;
  p[9] = spec.p;
  set32(p, 12, spec.src);
  set32(p, 16, spec.dst);
  p.set(opts, 20);
  p.set(payload, hlen);
  set16(p, 10, inCksum(p, 0, hlen));
  if (spec.badsum) p[10] = (p[10] as number) ^ 0x5a;
  return p;
}

/** Recompute the header checksum of a datagram in place. */
export function fixIpSum(p: Uint8Array): Uint8Array {
  const hlen = ((p[0] as number) & 0xf) << 2;
  set16(p, 10, 0);
  set16(p, 10, inCksum(p, 0, Math.min(hlen, p.length)));
  return p;
}

/** A UDP datagram (header + payload) with its checksum over the IPv4 pseudo-header. */
export function udp(src: number, dst: number, sport: number, dport: number, payload: Uint8Array, opts: { nosum?: boolean; len?: number } = {}): Uint8Array {
  const u = new Uint8Array(8 + payload.length);
  set16(u, 0, sport);
  set16(u, 2, dport);
  set16(u, 4, opts.len ?? u.length);
  u.set(payload, 8);
  if (!opts.nosum) {
    let s = cksumFinish(cksumPartial(u, 0, u.length, pseudoSum4(src, dst, 17, u.length)));
    if (s === 0) s = 0xffff;
    set16(u, 6, s);
  }
  return u;
}

/** A whole UDP/IPv4 datagram. */
export function udpPkt(src: number, dst: number, sport: number, dport: number, payload: Uint8Array, spec: Partial<Ip4Spec> = {}): Uint8Array {
  return ip4({ src, dst, p: 17, ...spec }, udp(src, dst, sport, dport, payload));
}

/** An ICMP message: type, code, the 4 bytes after the checksum, body; checksum filled. */
export function icmp(type: number, code: number, rest: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  m[0] = type;
  m[1] = code;
  set32(m, 4, rest >>> 0);
  m.set(body, 8);
  set16(m, 2, inCksum(m, 0, m.length));
  return m;
}

export function icmpPkt(src: number, dst: number, type: number, code: number, rest: number, body?: Uint8Array, spec: Partial<Ip4Spec> = {}): Uint8Array {
  return ip4({ src, dst, p: 1, ...spec }, icmp(type, code, rest, body));
}

/** An ARP packet for Ethernet/IPv4. `tha` null = zeros. */
export function arpPkt(op: number, sha: Uint8Array, spa: number, tha: Uint8Array | null, tpa: number): Uint8Array {
  const a = new Uint8Array(28);
  set16(a, 0, 1);
  set16(a, 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  set16(a, 6, op);
  a.set(sha, 8);
  set32(a, 14, spa);
  if (tha) a.set(tha, 18);
  set32(a, 24, tpa);
  return a;
}

/** Parsed view of a recorded IPv4 packet. */
export interface Ip4View {
  src: number;
  dst: number;
  p: number;
  ttl: number;
  id: number;
  off: number;
  len: number;
  hlen: number;
  payload: Uint8Array;
  pkt: Uint8Array;
}

export function parse4(pkt: Uint8Array): Ip4View {
  const hlen = ((pkt[0] as number) & 0xf) << 2;
  const len = get16(pkt, 2);
  return {
    src: get32(pkt, 12),
    dst: get32(pkt, 16),
    p: pkt[9] as number,
    ttl: pkt[8] as number,
    id: get16(pkt, 4),
    off: get16(pkt, 6),
    len,
    hlen,
    payload: pkt.subarray(hlen, len),
    pkt,
  };
}

/** The ICMP messages among recorded IPv4 packets. */
export function icmpOf(pkts: Uint8Array[]): { type: number; code: number; msg: Uint8Array; ip: Ip4View }[] {
  return pkts
    .map(parse4)
    .filter((v) => v.p === 1 && v.payload.length >= 8)
    .map((v) => ({ type: v.payload[0] as number, code: v.payload[1] as number, msg: v.payload, ip: v }));
}

/** Concatenate byte arrays. */
export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, x) => s + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Let Node run nextTick/setImmediate callbacks (API events are emitted asynchronously). */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Advance virtual time in steps, letting API callbacks run between steps. */
export async function settle(clock: VirtualClock, ns = 10 * MS, steps = 4): Promise<void> {
  for (let i = 0; i < steps; i++) {
    clock.advance(ns / steps);
    await tick();
  }
  clock.advance(0);
  await tick();
}

/** Stacks made by the topology helpers, so tests can destroy them (bound sockets keep Node alive). */
const live: Stack[] = [];

/** Destroy every Stack the helpers created (use in afterEach). */
export function destroyStacks(): void {
  for (const s of live.splice(0)) s.destroy();
}

/** Two Stacks on one simulated Ethernet: a 10.0.0.1/24 (+ 2001:db8::1/64), b .2. */
export function twoStacks(params: Partial<SimLinkParams> = {}): { clock: VirtualClock; a: Stack; b: Stack; link: SimLink } {
  const clock = new VirtualClock();
  const a = new Stack({ name: 'a', clock, seed: 101 });
  const b = new Stack({ name: 'b', clock, seed: 102 });
  live.push(a, b);
  const link = Stack.link(a, b, params, { seed: 7 });
  a.addAddress(link.a, '10.0.0.1/24');
  b.addAddress(link.b, '10.0.0.2/24');
  a.addAddress(link.a, '2001:db8::1/64');
  b.addAddress(link.b, '2001:db8::2/64');
  clock.advance(3 * SEC); // DAD on the IPv6 addresses
  return { clock, a, b, link };
}

/**
 * Two subnets joined by a router:
 *   h1 10.1.0.10 —sim0— 10.1.0.1 r 10.2.0.1 —sim1 (mtu2)— 10.2.0.20 h2
 * Default routes on the hosts point at the router; forwarding is on in r.
 */
export function routed(opts: { mtu2?: number; link1?: Partial<SimLinkParams>; link2?: Partial<SimLinkParams> } = {}) {
  const clock = new VirtualClock();
  const h1 = new Stack({ name: 'h1', clock, seed: 201 });
  const r = new Stack({ name: 'r', clock, seed: 202 });
  const h2 = new Stack({ name: 'h2', clock, seed: 203 });
  live.push(h1, r, h2);
  const l1 = Stack.link(h1, r, opts.link1 ?? {}, { seed: 11 });
  const l2 = Stack.link(r, h2, { ...(opts.link2 ?? {}), mtu: opts.mtu2 ?? 1500 }, { seed: 12 });
  h1.addAddress(l1.a, '10.1.0.10/24');
  r.addAddress(l1.b, '10.1.0.1/24');
  r.addAddress(l2.a, '10.2.0.1/24');
  h2.addAddress(l2.b, '10.2.0.20/24');
  h1.addRoute('default', '10.1.0.1');
  h2.addRoute('default', '10.2.0.1');
  r.sysctlSet('net.inet.ip.forwarding', true);
  return { clock, h1, r, h2, l1, l2 };
}

export { VirtualClock };

/** A raw ICMP socket (ping's): send echo requests, read every ICMP datagram (IP header included). */
export function rawIcmp(V: Vnet): { so: Socket; ping(dst: number, id: number, seq: number, data?: Uint8Array): number; recv(): Ip4View[] } {
  const r = socreate(V, AF_INET, SOCK_RAW, 1);
  if (r.error !== 0 || r.so === null) throw new Error(`socreate: ${r.error}`);
  const so = r.so;
  return {
    so,
    ping(dst, id, seq, data = new Uint8Array(56)) {
      const m = icmp(8, 0, ((id & 0xffff) << 16) | (seq & 0xffff), data);
      return sosend(so, sockaddr_in(dst), m, 0, m.length, 0).error;
    },
    recv() {
      const out: Ip4View[] = [];
      const buf = new Uint8Array(65536);
      for (;;) {
        const x = soreceive(so, buf, 0);
        if (x.error !== 0) break;
        out.push(parse4(buf.slice(0, x.len)));
      }
      return out;
    },
  };
}
