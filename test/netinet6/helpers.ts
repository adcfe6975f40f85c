/*
 * Helpers for the IPv6 tests: Vnets on a shared virtual clock, a fake Ethernet interface
 * that records what the stack transmits, injection of hand-built frames and packets, and
 * builders for IPv6 headers, extension headers and ICMPv6/ND messages with checksums.
 */

import { VirtualClock } from '../../src/kern/clock.js';
import { type Mbuf, m_freem, m_tobytes } from '../../src/mbuf/mbuf.js';
import { IFF_DRV_RUNNING, IFF_UP, Ifnet } from '../../src/net/if.js';
import { ether_ifattach } from '../../src/net/if_ethersubr.js';
import { inet_pton6 } from '../../src/wire/addr.js';
import { get16, set16 } from '../../src/wire/bytes.js';
import { cksumFinish, cksumPartial, pseudoSum6 } from '../../src/wire/checksum.js';
import { Vnet } from '../../src/vnet.js';
import { ip6_input } from '../../src/netinet6/ip6_input.js';
import { IN6_IFF_NODAD } from '../../src/netinet6/in6_var.js';

export const SEC = 1_000_000_000;

export function a6(s: string): Uint8Array {
  const a = inet_pton6(s);
  if (a === null) throw new Error(`bad address ${s}`);
  return a;
}

/** A Vnet on `clock` (a new one if omitted). */
export function vnet(name: string, clock: VirtualClock, seed = 1): Vnet {
  return new Vnet({ name, clock, seed });
}

/** Settle: run timers and soft work for `ns` of virtual time. */
export function run(clock: VirtualClock, ns: number): void {
  clock.advance(ns);
}

/** A fake Ethernet interface whose transmitted frames are recorded in `frames`. */
export interface FakeEther {
  ifp: Ifnet;
  frames: Uint8Array[];
  /** The IPv6 packets (Ethernet header stripped) of the recorded frames of EtherType 0x86dd. */
  ip6(): Uint8Array[];
  clear(): void;
}

let fakeUnit = 0;

export function fakeEther(V: Vnet, mac: Uint8Array = Uint8Array.of(0x02, 0, 0, 0, 0, 0x10 + (fakeUnit & 0x7f)), mtu = 1500): FakeEther {
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
    frames,
    ip6: () => frames.filter((f) => get16(f, 12) === 0x86dd).map((f) => f.subarray(14)),
    clear: () => {
      frames.length = 0;
    },
  };
}

/** Give `ifp` a ready (no DAD) address. */
export function addr6(V: Vnet, ifp: Ifnet, addr: string, plen = 64): void {
  const r = V.inet6.addAddress(ifp, a6(addr), plen, IN6_IFF_NODAD);
  if (r.error !== 0) throw new Error(`addAddress ${addr}: ${r.error}`);
}

/** Make the link-local address of `ifp` usable at once (skip its DAD). */
export function llReady(V: Vnet, ifp: Ifnet): Uint8Array {
  const ia = V.inet6.addrs.find((x) => x.ifa_ifp === ifp && x.addr[0] === 0xfe);
  if (ia === undefined) throw new Error('no link-local address');
  ia.flags &= ~0x02;
  return ia.addr;
}

/** Inject an IPv6 packet as if received on `ifp` (straight into ip6_input). */
export function inject(V: Vnet, ifp: Ifnet, pkt: Uint8Array, mcast = false): void {
  const m = V.mbufs.devget(pkt, 0, pkt.length, ifp, 16) as Mbuf;
  if (mcast) m.m_flags |= 0x20;
  ip6_input(m);
}

/** Inject an Ethernet frame carrying `pkt` to `ifp` (through ether_input). */
export function injectFrame(V: Vnet, ifp: Ifnet, src: Uint8Array, dst: Uint8Array, pkt: Uint8Array): void {
  const f = new Uint8Array(14 + pkt.length);
  f.set(dst, 0);
  f.set(src, 6);
  set16(f, 12, 0x86dd);
  f.set(pkt, 14);
  const m = V.mbufs.devget(f, 0, f.length, ifp, 0) as Mbuf;
  ifp.if_input(ifp, m);
}

export interface Ip6Spec {
  src: Uint8Array;
  dst: Uint8Array;
  nxt: number;
  hlim?: number;
  /** Override the payload length field. */
  plen?: number;
  version?: number;
}

/** An IPv6 packet: 40-byte header + payload (payload length = payload size unless given). */
export function ip6(spec: Ip6Spec, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p[0] = (spec.version ?? 6) << 4;
  set16(p, 4, spec.plen ?? payload.length);
  p[6] = spec.nxt;
  p[7] = spec.hlim ?? 64;
  p.set(spec.src, 8);
  p.set(spec.dst, 24);
  p.set(payload, 40);
  return p;
}

/** Concatenate byte arrays. */
export function cat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, x) => s + x.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

/** An ICMPv6 message (type, code, 4 bytes of rest-of-header, body) with its checksum. */
export function icmp6(
  src: Uint8Array,
  dst: Uint8Array,
  type: number,
  code: number,
  rest: Uint8Array | number,
  body: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  m[0] = type;
  m[1] = code;
  if (typeof rest === 'number') {
    m[4] = rest >>> 24;
    m[5] = (rest >>> 16) & 0xff;
    m[6] = (rest >>> 8) & 0xff;
    m[7] = rest & 0xff;
  } else m.set(rest.subarray(0, 4), 4);
  m.set(body, 8);
  icmp6Sum(src, dst, m);
  return m;
}

/** (Re)compute the ICMPv6 checksum of message `m` between src and dst. */
export function icmp6Sum(src: Uint8Array, dst: Uint8Array, m: Uint8Array): Uint8Array {
  set16(m, 2, 0);
  const ps = pseudoSum6(src, 0, dst, 0, 58, m.length);
  set16(m, 2, cksumFinish(cksumPartial(m, 0, m.length, ps)));
  return m;
}

/** A whole ICMPv6 packet (IPv6 header + message). */
export function icmp6Pkt(src: Uint8Array, dst: Uint8Array, type: number, code: number, rest: Uint8Array | number, body?: Uint8Array, hlim = 64): Uint8Array {
  return ip6({ src, dst, nxt: 58, hlim }, icmp6(src, dst, type, code, rest, body));
}

/** An echo request packet. */
export function echoReq(src: Uint8Array, dst: Uint8Array, id: number, seq: number, data: Uint8Array = new Uint8Array(8), hlim = 64): Uint8Array {
  return icmp6Pkt(src, dst, 128, 0, (id << 16) | seq, data, hlim);
}

/** An options header (hop-by-hop or destination) with the given options, padded to 8. */
export function optsHdr(nxt: number, opts: Uint8Array): Uint8Array {
  let len = 2 + opts.length;
  const pad = (8 - (len % 8)) % 8;
  len += pad;
  const h = new Uint8Array(len);
  h[0] = nxt;
  h[1] = len / 8 - 1;
  h.set(opts, 2);
  if (pad === 1) h[2 + opts.length] = 0;
  else if (pad >= 2) {
    h[2 + opts.length] = 1;
    h[3 + opts.length] = pad - 2;
  }
  return h;
}

/** A Fragment header. */
export function fragHdr(nxt: number, offset: number, more: boolean, ident: number): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = nxt;
  set16(h, 2, (offset & 0xfff8) | (more ? 1 : 0));
  h[4] = ident >>> 24;
  h[5] = (ident >>> 16) & 0xff;
  h[6] = (ident >>> 8) & 0xff;
  h[7] = ident & 0xff;
  return h;
}

/** An ND link-layer address option (type 1 source, 2 target). */
export function llOpt(type: number, mac: Uint8Array): Uint8Array {
  const o = new Uint8Array(8);
  o[0] = type;
  o[1] = 1;
  o.set(mac, 2);
  return o;
}

/** The ICMPv6 messages (type, code, message bytes, IPv6 packet) found in recorded packets. */
export function icmpOf(pkts: Uint8Array[]): { type: number; code: number; msg: Uint8Array; pkt: Uint8Array }[] {
  const out: { type: number; code: number; msg: Uint8Array; pkt: Uint8Array }[] = [];
  for (const p of pkts) {
    if (p.length < 48 || p[6] !== 58) continue;
    const msg = p.subarray(40, 40 + get16(p, 4));
    out.push({ type: msg[0] as number, code: msg[1] as number, msg, pkt: p });
  }
  return out;
}

/** Mbufs and clusters in use (leak checks). */
export function mbufsInUse(V: Vnet): number {
  const mb = V.mbufs;
  return mb.zone_mbuf.used + mb.zone_clust.used + mb.zone_jumbop.used + mb.zone_jumbo9.used + mb.zone_jumbo16.used;
}

export { VirtualClock };
