/*
 * Packet bytes for the packetdrill runner: builds the IPv4/IPv6 datagrams the runner
 * injects (TCP, UDP, TCP-over-UDP, ICMP/ICMPv6 errors quoting our own packets) with
 * correct checksums, and parses the datagrams the stack sends into plain field records the
 * runner compares with the script. Also formats packets in packetdrill's short notation
 * for error messages and traces.
 *
 * Addresses are byte arrays (4 or 16 bytes, network order). Nothing here knows about
 * sequence-number mapping: the runner hands in live values.
 */

import { get16, get32, set16, set32 } from '../wire/bytes.js';
import { cksumFinish, cksumPartial, inCksum } from '../wire/checksum.js';
import { inet_ntop6 } from '../wire/addr.js';
import type { TcpOption } from './ast.js';

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

// TCP flag bits (th_flags, with AE as bit 8 of the 12-bit field)
export const TH_FIN = 0x01;
export const TH_SYN = 0x02;
export const TH_RST = 0x04;
export const TH_PUSH = 0x08;
export const TH_ACK = 0x10;
export const TH_URG = 0x20;
export const TH_ECE = 0x40;
export const TH_CWR = 0x80;
export const TH_AE = 0x100;

const FLAG_CHARS: [string, number][] = [
  ['F', TH_FIN],
  ['S', TH_SYN],
  ['R', TH_RST],
  ['P', TH_PUSH],
  ['.', TH_ACK],
  ['U', TH_URG],
  ['E', TH_ECE],
  ['W', TH_CWR],
  ['A', TH_AE],
];

/** Script flag letters → th_flags bits. */
export function flagsFromScript(s: string): number {
  let f = 0;
  for (const ch of s) {
    const e = FLAG_CHARS.find(([c]) => c === ch);
    if (e) f |= e[1];
  }
  return f;
}

/** th_flags bits → packetdrill letters (S, F, R, P, E, W, A, U, then '.'). */
export function flagsToScript(f: number): string {
  let s = '';
  for (const [c, b] of [
    ['S', TH_SYN],
    ['F', TH_FIN],
    ['R', TH_RST],
    ['P', TH_PUSH],
    ['E', TH_ECE],
    ['W', TH_CWR],
    ['A', TH_AE],
    ['U', TH_URG],
  ] as [string, number][])
    if (f & b) s += c;
  if (f & TH_ACK) s += '.';
  return s === '' ? '-' : s;
}

export interface IpFields {
  /** ToS / traffic class byte. */
  tos: number;
  /** TTL / hop limit. */
  ttl: number;
  flowlabel: number;
}

export interface TcpFields {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  win: number;
  urg: number;
  options: Uint8Array;
  payloadLen: number;
}

/** Encode TCP options exactly as written (the author pads with nop/eol). */
export function encodeTcpOptions(opts: readonly TcpOption[]): Uint8Array {
  const out: number[] = [];
  const u16 = (v: number) => out.push((v >>> 8) & 0xff, v & 0xff);
  const u32 = (v: number) => out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  for (const o of opts) {
    switch (o.kind) {
      case 'nop':
        out.push(1);
        break;
      case 'eol':
        out.push(0);
        break;
      case 'mss':
        out.push(2, 4);
        u16(o.value);
        break;
      case 'wscale':
        out.push(3, 3, o.value);
        break;
      case 'sackOK':
        out.push(4, 2);
        break;
      case 'sack':
        out.push(5, 2 + 8 * o.blocks.length);
        for (const [l, r] of o.blocks) {
          u32(l >>> 0);
          u32(r >>> 0);
        }
        break;
      case 'ts':
        out.push(8, 10);
        u32(o.val >>> 0);
        u32(o.ecr >>> 0);
        break;
      case 'fo':
        out.push(34, 2 + o.cookie.length, ...o.cookie);
        break;
      case 'foexp':
        out.push(254, 4 + o.cookie.length, 0xf9, 0x89, ...o.cookie);
        break;
      case 'md5':
        out.push(19, 18, ...(o.digest ?? new Uint8Array(16)));
        break;
      case 'generic':
        out.push(o.optKind, 2 + o.data.length, ...o.data);
        break;
      case 'exp':
        out.push(254, 4 + o.data.length);
        u16(o.exid);
        out.push(...o.data);
        break;
      case 'raw':
        out.push(...o.data);
        break;
      case 'accecn': {
        out.push(o.name === 'AccECN1' ? 174 : 172, 2 + 3 * o.fields.length);
        for (const [, v] of o.fields) out.push((v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
        break;
      }
    }
  }
  return Uint8Array.from(out);
}

/** Offset of the TS option's val field within an options block, or -1. */
export function findTsOption(opts: Uint8Array): number {
  let i = 0;
  while (i < opts.length) {
    const k = opts[i] as number;
    if (k === 0) break;
    if (k === 1) {
      i++;
      continue;
    }
    if (i + 1 >= opts.length) break;
    const l = opts[i + 1] as number;
    if (l < 2 || i + l > opts.length) break;
    if (k === 8 && l === 10) return i + 2;
    i += l;
  }
  return -1;
}

function ipHeader(src: Uint8Array, dst: Uint8Array, proto: number, l4len: number, ip: IpFields): Uint8Array {
  if (src.length === 4) {
    const h = new Uint8Array(20);
    h[0] = 0x45;
    h[1] = ip.tos & 0xff;
    set16(h, 2, 20 + l4len);
    set16(h, 4, 0);
    set16(h, 6, 0);
    h[8] = ip.ttl & 0xff;
    h[9] = proto;
    h.set(src, 12);
    h.set(dst, 16);
    set16(h, 10, inCksum(h, 0, 20));
    return h;
  }
  const h = new Uint8Array(40);
  set32(h, 0, ((6 << 28) | ((ip.tos & 0xff) << 20) | (ip.flowlabel & 0xfffff)) >>> 0);
  set16(h, 4, l4len);
  h[6] = proto;
  h[7] = ip.ttl & 0xff;
  h.set(src, 8);
  h.set(dst, 24);
  return h;
}

function pseudo(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  let s = cksumPartial(src, 0, src.length);
  s += cksumPartial(dst, 0, dst.length);
  s += proto + (len & 0xffff) + Math.floor(len / 0x10000);
  return s;
}

function l4Checksum(src: Uint8Array, dst: Uint8Array, proto: number, seg: Uint8Array, field: number, udp: boolean): void {
  set16(seg, field, 0);
  let c = cksumFinish(pseudo(src, dst, proto, seg.length) + cksumPartial(seg, 0, seg.length));
  if (c === 0 && udp) c = 0xffff;
  set16(seg, field, c);
}

export function tcpSegment(t: TcpFields): Uint8Array {
  const hlen = 20 + t.options.length;
  const seg = new Uint8Array(hlen + t.payloadLen);
  set16(seg, 0, t.sport);
  set16(seg, 2, t.dport);
  set32(seg, 4, t.seq >>> 0);
  set32(seg, 8, t.ack >>> 0);
  seg[12] = ((hlen / 4) << 4) | ((t.flags >> 8) & 1);
  seg[13] = t.flags & 0xff;
  set16(seg, 14, t.win);
  set16(seg, 18, t.urg);
  seg.set(t.options, 20);
  return seg;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length);
  o.set(a, 0);
  o.set(b, a.length);
  return o;
}

/** A complete TCP datagram (optionally tunnelled in UDP) with checksums. */
export function buildTcp(src: Uint8Array, dst: Uint8Array, ip: IpFields, t: TcpFields, udpEncap: { sport: number; dport: number } | null): Uint8Array {
  const seg = tcpSegment(t);
  if (udpEncap === null) {
    l4Checksum(src, dst, IPPROTO_TCP, seg, 16, false);
    return concat(ipHeader(src, dst, IPPROTO_TCP, seg.length, ip), seg);
  }
  // RFC 8682-style TCP over UDP (FreeBSD net.inet.tcp.udp_tunneling_port): the TCP
  // checksum is zero, the UDP checksum covers the whole payload.
  const udp = new Uint8Array(8 + seg.length);
  set16(udp, 0, udpEncap.sport);
  set16(udp, 2, udpEncap.dport);
  set16(udp, 4, udp.length);
  udp.set(seg, 8);
  l4Checksum(src, dst, IPPROTO_UDP, udp, 6, true);
  return concat(ipHeader(src, dst, IPPROTO_UDP, udp.length, ip), udp);
}

export function buildUdp(src: Uint8Array, dst: Uint8Array, ip: IpFields, sport: number, dport: number, payloadLen: number): Uint8Array {
  const udp = new Uint8Array(8 + payloadLen);
  set16(udp, 0, sport);
  set16(udp, 2, dport);
  set16(udp, 4, udp.length);
  l4Checksum(src, dst, IPPROTO_UDP, udp, 6, true);
  return concat(ipHeader(src, dst, IPPROTO_UDP, udp.length, ip), udp);
}

/**
 * An ICMP (v4) or ICMPv6 error quoting `quoted` (an IP header plus the first bytes of its
 * transport header). `rest` is the 4-byte field after the checksum (MTU, pointer, ...).
 */
export function buildIcmp(src: Uint8Array, dst: Uint8Array, ip: IpFields, type: number, code: number, rest: number, quoted: Uint8Array): Uint8Array {
  const v6 = src.length === 16;
  const msg = new Uint8Array(8 + quoted.length);
  msg[0] = type;
  msg[1] = code;
  set32(msg, 4, rest >>> 0);
  msg.set(quoted, 8);
  if (v6) l4Checksum(src, dst, IPPROTO_ICMPV6, msg, 2, false);
  else set16(msg, 2, inCksum(msg, 0, msg.length));
  return concat(ipHeader(src, dst, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, msg.length, ip), msg);
}

/**
 * The header of a packet we "sent" as quoted in an ICMP error: the IP header (total length
 * as if the whole segment were there) and the first `l4bytes` bytes of `l4`.
 */
export function quotedHeader(src: Uint8Array, dst: Uint8Array, proto: number, l4: Uint8Array, fullL4Len: number, l4bytes: number): Uint8Array {
  const h = ipHeader(src, dst, proto, fullL4Len, { tos: 0, ttl: 64, flowlabel: 0 });
  return concat(h, l4.subarray(0, Math.min(l4bytes, l4.length)));
}

// ---- parsing outbound packets ----

export interface ParsedTcp {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  doff: number;
  flags: number;
  /** The 3 reserved bits above AE. */
  reserved: number;
  win: number;
  cksum: number;
  urg: number;
  options: Uint8Array;
  payload: Uint8Array;
  cksumOk: boolean;
}

export interface ParsedPacket {
  version: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  tos: number;
  ttl: number;
  flowlabel: number;
  proto: number;
  ihl: number;
  /** IPv4 total length / IPv6 payload length. */
  ipLen: number;
  ipCksumOk: boolean;
  /** Transport bytes (after the IP header). */
  l4: Uint8Array;
  /** Outer UDP ports when TCP is tunnelled in UDP. */
  udpEncap: { sport: number; dport: number } | null;
  tcp: ParsedTcp | null;
  udp: { sport: number; dport: number; len: number; payload: Uint8Array; cksumOk: boolean } | null;
  icmp: { type: number; code: number } | null;
}

function parseTcp(seg: Uint8Array, src: Uint8Array, dst: Uint8Array, checkCksum: boolean): ParsedTcp | null {
  if (seg.length < 20) return null;
  const doff = ((seg[12] as number) >> 4) * 4;
  if (doff < 20 || doff > seg.length) return null;
  let cksumOk = true;
  if (checkCksum) cksumOk = cksumFinish(pseudo(src, dst, IPPROTO_TCP, seg.length) + cksumPartial(seg, 0, seg.length)) === 0;
  return {
    sport: get16(seg, 0),
    dport: get16(seg, 2),
    seq: get32(seg, 4),
    ack: get32(seg, 8),
    doff,
    flags: (seg[13] as number) | (((seg[12] as number) & 1) << 8),
    reserved: ((seg[12] as number) >> 1) & 7,
    win: get16(seg, 14),
    cksum: get16(seg, 16),
    urg: get16(seg, 18),
    options: seg.slice(20, doff),
    payload: seg.subarray(doff),
    cksumOk,
  };
}

/** Parse an IP datagram the stack sent. `udpEncapPort` > 0: UDP to/from it carries TCP. */
export function parsePacket(b: Uint8Array, tcpOverUdp: boolean): ParsedPacket | null {
  if (b.length < 1) return null;
  const v = (b[0] as number) >> 4;
  let p: ParsedPacket;
  if (v === 4) {
    if (b.length < 20) return null;
    const ihl = ((b[0] as number) & 0xf) * 4;
    const tot = get16(b, 2);
    if (ihl < 20 || tot < ihl || tot > b.length) return null;
    p = {
      version: 4,
      src: b.slice(12, 16),
      dst: b.slice(16, 20),
      tos: b[1] as number,
      ttl: b[8] as number,
      flowlabel: 0,
      proto: b[9] as number,
      ihl,
      ipLen: tot,
      ipCksumOk: inCksum(b, 0, ihl) === 0,
      l4: b.slice(ihl, tot),
      udpEncap: null,
      tcp: null,
      udp: null,
      icmp: null,
    };
  } else if (v === 6) {
    if (b.length < 40) return null;
    const plen = get16(b, 4);
    if (40 + plen > b.length) return null;
    const w = get32(b, 0);
    p = {
      version: 6,
      src: b.slice(8, 24),
      dst: b.slice(24, 40),
      tos: (w >>> 20) & 0xff,
      ttl: b[7] as number,
      flowlabel: w & 0xfffff,
      proto: b[6] as number,
      ihl: 40,
      ipLen: plen,
      ipCksumOk: true,
      l4: b.slice(40, 40 + plen),
      udpEncap: null,
      tcp: null,
      udp: null,
      icmp: null,
    };
  } else return null;
  const l4 = p.l4;
  if (p.proto === IPPROTO_TCP) {
    p.tcp = parseTcp(l4, p.src, p.dst, true);
  } else if (p.proto === IPPROTO_UDP && l4.length >= 8) {
    const len = get16(l4, 4);
    const ck = get16(l4, 6);
    const ok = ck === 0 || cksumFinish(pseudo(p.src, p.dst, IPPROTO_UDP, l4.length) + cksumPartial(l4, 0, l4.length)) === 0;
    if (tcpOverUdp) {
      p.udpEncap = { sport: get16(l4, 0), dport: get16(l4, 2) };
      p.tcp = parseTcp(l4.subarray(8), p.src, p.dst, false);
    } else {
      p.udp = { sport: get16(l4, 0), dport: get16(l4, 2), len, payload: l4.subarray(8), cksumOk: ok };
    }
  } else if ((p.proto === IPPROTO_ICMP || p.proto === IPPROTO_ICMPV6) && l4.length >= 4) {
    p.icmp = { type: l4[0] as number, code: l4[1] as number };
  }
  return p;
}

// ---- formatting ----

export function addrToString(a: Uint8Array): string {
  return a.length === 4 ? `${a[0]}.${a[1]}.${a[2]}.${a[3]}` : inet_ntop6(a);
}

/** TCP options in packetdrill notation (`mss 1460,nop,wscale 6,...`). */
export function optionsToString(o: Uint8Array): string {
  const parts: string[] = [];
  let i = 0;
  while (i < o.length) {
    const k = o[i] as number;
    if (k === 0) {
      parts.push('eol');
      i++;
      continue;
    }
    if (k === 1) {
      parts.push('nop');
      i++;
      continue;
    }
    const l = o[i + 1] ?? 0;
    if (l < 2 || i + l > o.length) {
      parts.push(`<bad option ${k} len ${l}>`);
      break;
    }
    const d = o.subarray(i + 2, i + l);
    const hex = Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
    if (k === 2 && l === 4) parts.push(`mss ${get16(o, i + 2)}`);
    else if (k === 3 && l === 3) parts.push(`wscale ${o[i + 2]}`);
    else if (k === 4 && l === 2) parts.push('sackOK');
    else if (k === 5) {
      const b: string[] = [];
      for (let j = i + 2; j + 8 <= i + l; j += 8) b.push(`${get32(o, j)}:${get32(o, j + 4)}`);
      parts.push(`sack ${b.join(' ')}`);
    } else if (k === 8 && l === 10) parts.push(`TS val ${get32(o, i + 2)} ecr ${get32(o, i + 6)}`);
    else if (k === 34) parts.push(hex ? `FO ${hex}` : 'FO');
    else if (k === 254 && l >= 4 && get16(o, i + 2) === 0xf989) parts.push(l > 4 ? `FOEXP ${hex.slice(4)}` : 'FOEXP');
    else if (k === 19 && l === 18) parts.push(`md5 ${hex}`);
    else parts.push(`gen-${k} ${hex}`);
    i += l;
  }
  return parts.join(',');
}
