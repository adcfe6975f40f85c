/*
 * Packet decoding for `bsdnet tcpdump`: one frame (Ethernet, BSD loopback DLT_NULL or raw
 * IP) → a summary that the filter expression tests, and one line in tcpdump's style:
 *
 *   12:34:56.789012 IP 10.0.0.1.5000 > 10.0.0.2.53: UDP, length 5
 *   12:34:56.789012 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 1, length 64
 *   12:34:56.789012 ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28
 *   12:34:56.789012 ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28
 *   12:34:56.789012 IP6 fe80::1 > ff02::1: ICMP6, neighbor solicitation, who has fe80::2, length 32
 *   12:34:56.789012 IP 10.0.0.1.1234 > 10.0.0.2.80: Flags [S.], seq 1, ack 2, win 65535,
 *                   options [mss 1460,nop,wscale 6,sackOK,TS val 1 ecr 0], length 0
 *
 * Relative TCP sequence numbers are printed the way tcpdump does (unless -S): the first
 * packet with ACK of a conversation (or a SYN|ACK) records both directions' initial numbers
 * and later packets print offsets from them. Truncated or malformed packets print what could
 * be decoded followed by "[|proto]", as tcpdump does; nothing here throws on bad input.
 */

import { LINKTYPE_ETHERNET, LINKTYPE_NULL, LINKTYPE_RAW } from '../net/pcap.js';
import { inet_ntoa4, inet_ntop6 } from '../wire/addr.js';

/** What the filter sees of a packet. */
export interface PktSummary {
  /** 'ip' | 'ip6' | 'arp' | 'other' */
  net: string;
  /** Transport: 'tcp' | 'udp' | 'icmp' | 'icmp6' | '' */
  proto: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** For matching `net`: the numeric IPv4 addresses (-1 if not IPv4). */
  src4: number;
  dst4: number;
}

const ETHERTYPE_IP = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;

const u16 = (b: Uint8Array, o: number): number => ((b[o] as number) << 8) | (b[o + 1] as number);
const u32 = (b: Uint8Array, o: number): number =>
  (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
const mac = (b: Uint8Array, o: number): string => {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + (b[o + i] as number).toString(16).padStart(2, '0');
  return s;
};

/** tcpdump's default timestamp: local time HH:MM:SS.uuuuuu. */
export function tsText(tsNs: number): string {
  const ms = Math.floor(tsNs / 1e6);
  const d = new Date(ms);
  const us = Math.floor((tsNs % 1e9) / 1e3);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(us).padStart(6, '0')}`;
}

/** Per-capture decoder state (relative TCP sequence numbers). */
export class PacketPrinter {
  /** -S: print absolute TCP sequence numbers. */
  absoluteSeq = false;
  /** -e: print the link-level header. */
  linkHeader = false;
  private readonly tcpSeq = new Map<string, { isnA: number; isnB: number }>();

  constructor(readonly linktype: number) {}

  /** Decode a frame: its filter summary and its line (without timestamp). */
  decode(data: Uint8Array): { sum: PktSummary; text: string } {
    const sum: PktSummary = { net: 'other', proto: '', src: '', dst: '', sport: -1, dport: -1, src4: -1, dst4: -1 };
    let text: string;
    try {
      text = this.link(data, sum);
    } catch {
      text = `[|${sum.net}]`;
    }
    return { sum, text };
  }

  private link(b: Uint8Array, sum: PktSummary): string {
    if (this.linktype === LINKTYPE_ETHERNET) {
      if (b.length < 14) return `[|ether] length ${b.length}`;
      let type = u16(b, 12);
      let off = 14;
      let vlan = '';
      while ((type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) && off + 4 <= b.length) {
        const tci = u16(b, off);
        vlan += `vlan ${tci & 0xfff}, p ${tci >> 13}, `;
        type = u16(b, off + 2);
        off += 4;
      }
      const prefix = this.linkHeader
        ? `${mac(b, 6)} > ${mac(b, 0)}, ${vlan}ethertype ${etherName(type)} (0x${type.toString(16).padStart(4, '0')}), length ${b.length}: `
        : '';
      return prefix + this.ether(type, b, off, sum);
    }
    if (this.linktype === LINKTYPE_NULL) {
      if (b.length < 4) return '[|null]';
      // 4-byte address family in the capturing host's byte order: accept either.
      const le = (b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16) | ((b[3] as number) << 24);
      const be = u32(b, 0);
      const af = le < 256 ? le : be;
      const prefix = this.linkHeader ? `AF ${af === 2 ? 'IPv4' : 'IPv6'} (${af}), length ${b.length}: ` : '';
      if (af === 2) return prefix + this.ip(b, 4, sum);
      if (af === 24 || af === 28 || af === 30 || af === 10) return prefix + this.ip6(b, 4, sum);
      return `${prefix}AF ${af}, length ${b.length}`;
    }
    if (this.linktype === LINKTYPE_RAW) {
      const v = b.length > 0 ? (b[0] as number) >> 4 : 0;
      if (v === 4) return this.ip(b, 0, sum);
      if (v === 6) return this.ip6(b, 0, sum);
      return `unknown IP version ${v}, length ${b.length}`;
    }
    return `linktype ${this.linktype}, length ${b.length}`;
  }

  private ether(type: number, b: Uint8Array, off: number, sum: PktSummary): string {
    if (type === ETHERTYPE_IP) return this.ip(b, off, sum);
    if (type === ETHERTYPE_IPV6) return this.ip6(b, off, sum);
    if (type === ETHERTYPE_ARP) return this.arp(b, off, sum);
    return `ethertype ${etherName(type)} (0x${type.toString(16).padStart(4, '0')}), length ${b.length - off}`;
  }

  private arp(b: Uint8Array, o: number, sum: PktSummary): string {
    sum.net = 'arp';
    if (b.length < o + 28) return '[|ARP]';
    const op = u16(b, o + 6);
    if (u16(b, o) !== 1 || u16(b, o + 2) !== ETHERTYPE_IP || b[o + 4] !== 6 || b[o + 5] !== 4) return `ARP, unknown hardware/protocol, length ${b.length - o}`;
    const sha = mac(b, o + 8);
    const spa = u32(b, o + 14);
    const tpa = u32(b, o + 24);
    sum.src = inet_ntoa4(spa);
    sum.dst = inet_ntoa4(tpa);
    sum.src4 = spa;
    sum.dst4 = tpa;
    const len = b.length - o;
    // Ethernet minimum frames carry padding after the 28 ARP bytes: tcpdump reports 28... plus padding as length.
    if (op === 1) return `ARP, Request who-has ${sum.dst} tell ${sum.src}, length ${len}`;
    if (op === 2) return `ARP, Reply ${sum.src} is-at ${sha}, length ${len}`;
    return `ARP, op ${op}, length ${len}`;
  }

  private ip(b: Uint8Array, o: number, sum: PktSummary): string {
    sum.net = 'ip';
    if (b.length < o + 20) return '[|ip]';
    const hl = ((b[o] as number) & 0xf) * 4;
    const total = u16(b, o + 2);
    const fragOff = u16(b, o + 6);
    const p = b[o + 9] as number;
    const src = u32(b, o + 12);
    const dst = u32(b, o + 16);
    sum.src = inet_ntoa4(src);
    sum.dst = inet_ntoa4(dst);
    sum.src4 = src;
    sum.dst4 = dst;
    const end = Math.min(b.length, o + total);
    const l4 = o + hl;
    const plen = total - hl;
    if (hl < 20 || end < l4) return `IP ${sum.src} > ${sum.dst}: [|ip]`;
    if ((fragOff & 0x1fff) !== 0) {
      return `IP ${sum.src} > ${sum.dst}: ${protoName(p)}${(fragOff & 0x2000) !== 0 ? ' (frag)' : ''}`;
    }
    return this.transport('IP', p, b, l4, end, plen, sum, 4);
  }

  private ip6(b: Uint8Array, o: number, sum: PktSummary): string {
    sum.net = 'ip6';
    if (b.length < o + 40) return '[|ip6]';
    const plen = u16(b, o + 4);
    let nxt = b[o + 6] as number;
    sum.src = inet_ntop6(b.subarray(o + 8, o + 24));
    sum.dst = inet_ntop6(b.subarray(o + 24, o + 40));
    const end = Math.min(b.length, o + 40 + plen);
    let off = o + 40;
    let frag = false;
    // Walk the extension headers (hop-by-hop, routing, fragment, destination options).
    for (let n = 0; n < 8 && (nxt === 0 || nxt === 43 || nxt === 44 || nxt === 60); n++) {
      if (off + 8 > end) return `IP6 ${sum.src} > ${sum.dst}: [|ip6]`;
      if (nxt === 44) {
        frag = true;
        const fo = u16(b, off + 2) & 0xfff8;
        if (fo !== 0) return `IP6 ${sum.src} > ${sum.dst}: frag (${fo}|${end - off - 8})`;
        nxt = b[off] as number;
        off += 8;
        continue;
      }
      const next = b[off] as number;
      off += ((b[off + 1] as number) + 1) * 8;
      nxt = next;
    }
    void frag;
    return this.transport('IP6', nxt, b, off, end, end - off, sum, 6);
  }

  private transport(ipname: string, p: number, b: Uint8Array, o: number, end: number, plen: number, sum: PktSummary, v: number): string {
    const hosts = `${sum.src} > ${sum.dst}`;
    if (p === 17) {
      sum.proto = 'udp';
      if (end - o < 8) return `${ipname} ${hosts}: [|udp]`;
      sum.sport = u16(b, o);
      sum.dport = u16(b, o + 2);
      const ulen = u16(b, o + 4);
      return `${ipname} ${sum.src}.${sum.sport} > ${sum.dst}.${sum.dport}: UDP, length ${Math.max(0, ulen - 8)}`;
    }
    if (p === 6) {
      sum.proto = 'tcp';
      return this.tcp(ipname, b, o, end, plen, sum);
    }
    if (p === 1 && v === 4) {
      sum.proto = 'icmp';
      return `${ipname} ${hosts}: ${icmp(b, o, end, plen)}`;
    }
    if (p === 58 && v === 6) {
      sum.proto = 'icmp6';
      return `${ipname} ${hosts}: ${icmp6(b, o, end, plen)}`;
    }
    return `${ipname} ${hosts}: ${protoName(p)} ${plen}`;
  }

  private tcp(ipname: string, b: Uint8Array, o: number, end: number, plen: number, sum: PktSummary): string {
    if (end - o < 20) return `${ipname} ${sum.src} > ${sum.dst}: [|tcp]`;
    sum.sport = u16(b, o);
    sum.dport = u16(b, o + 2);
    let seq = u32(b, o + 4);
    let ack = u32(b, o + 8);
    const doff = ((b[o + 12] as number) >> 4) * 4;
    const flags = b[o + 13] as number;
    const win = u16(b, o + 14);
    const urp = u16(b, o + 18);
    const head = `${ipname} ${sum.src}.${sum.sport} > ${sum.dst}.${sum.dport}: Flags [${tcpFlags(flags)}]`;
    if (doff < 20 || o + doff > end) return `${head} [bad hdr length ${doff}]`;
    const len = plen - doff;
    if (!this.absoluteSeq && flags & 0x10) {
      const a = `${sum.src}.${sum.sport}`;
      const z = `${sum.dst}.${sum.dport}`;
      const rev = a > z;
      const key = rev ? `${z}>${a}` : `${a}>${z}`;
      const th = this.tcpSeq.get(key);
      if (th === undefined || flags & 0x02) {
        // New conversation: remember both directions' numbers (tcpdump's tcp_seq_hash).
        this.tcpSeq.set(key, rev ? { isnA: (ack - 1) >>> 0, isnB: seq } : { isnA: seq, isnB: (ack - 1) >>> 0 });
      } else if (rev) {
        seq = (seq - th.isnB) >>> 0;
        ack = (ack - th.isnA) >>> 0;
      } else {
        seq = (seq - th.isnA) >>> 0;
        ack = (ack - th.isnB) >>> 0;
      }
    }
    let s = head;
    if (len > 0 || flags & 0x07) {
      s += `, seq ${seq}`;
      if (len > 0) s += `:${(seq + len) >>> 0}`;
    }
    if (flags & 0x10) s += `, ack ${ack}`;
    s += `, win ${win}`;
    if (flags & 0x20) s += `, urg ${urp}`;
    if (doff > 20) s += `, options [${tcpOptions(b, o + 20, o + doff)}]`;
    s += `, length ${len}`;
    return s;
  }
}

function etherName(t: number): string {
  switch (t) {
    case ETHERTYPE_IP:
      return 'IPv4';
    case ETHERTYPE_IPV6:
      return 'IPv6';
    case ETHERTYPE_ARP:
      return 'ARP';
    case ETHERTYPE_VLAN:
      return '802.1Q';
    default:
      return 'Unknown';
  }
}

function protoName(p: number): string {
  switch (p) {
    case 1:
      return 'ICMP';
    case 2:
      return 'IGMP';
    case 6:
      return 'tcp';
    case 17:
      return 'udp';
    case 58:
      return 'ICMP6';
    default:
      return `ip-proto-${p}`;
  }
}

function tcpFlags(f: number): string {
  let s = '';
  if (f & 0x01) s += 'F';
  if (f & 0x02) s += 'S';
  if (f & 0x04) s += 'R';
  if (f & 0x08) s += 'P';
  if (f & 0x10) s += '.';
  if (f & 0x20) s += 'U';
  if (f & 0x40) s += 'E';
  if (f & 0x80) s += 'W';
  return s === '' ? 'none' : s;
}

function tcpOptions(b: Uint8Array, o: number, end: number): string {
  const out: string[] = [];
  while (o < end) {
    const kind = b[o] as number;
    if (kind === 0) {
      out.push('eol');
      break;
    }
    if (kind === 1) {
      out.push('nop');
      o++;
      continue;
    }
    if (o + 1 >= end) {
      out.push('[|tcp]');
      break;
    }
    const len = b[o + 1] as number;
    if (len < 2 || o + len > end) {
      out.push(`bad opt`);
      break;
    }
    switch (kind) {
      case 2:
        out.push(len === 4 ? `mss ${u16(b, o + 2)}` : 'mss [bad length]');
        break;
      case 3:
        out.push(len === 3 ? `wscale ${b[o + 2]}` : 'wscale [bad length]');
        break;
      case 4:
        out.push('sackOK');
        break;
      case 5: {
        let s = 'sack';
        const n = Math.floor((len - 2) / 8);
        s += ` ${n} `;
        for (let i = 0; i < n; i++) s += `{${u32(b, o + 2 + i * 8)}:${u32(b, o + 6 + i * 8)}}`;
        out.push(s);
        break;
      }
      case 8:
        out.push(len === 10 ? `TS val ${u32(b, o + 2)} ecr ${u32(b, o + 6)}` : 'TS [bad length]');
        break;
      case 30:
        out.push(`mptcp ${len}`);
        break;
      case 34:
        out.push(`tfo${len > 2 ? ' cookie' : ' cookiereq'}`);
        break;
      default:
        out.push(`unknown-${kind}`);
    }
    o += len;
  }
  return out.join(',');
}

function icmp(b: Uint8Array, o: number, end: number, plen: number): string {
  if (end - o < 4) return '[|icmp]';
  const type = b[o] as number;
  const code = b[o + 1] as number;
  const idseq = (): string => (end - o >= 8 ? `, id ${u16(b, o + 4)}, seq ${u16(b, o + 6)}` : '');
  switch (type) {
    case 0:
      return `ICMP echo reply${idseq()}, length ${plen}`;
    case 8:
      return `ICMP echo request${idseq()}, length ${plen}`;
    case 3: {
      // The quoted datagram names the unreachable host (and port for UDP/TCP).
      const q = o + 8;
      if (end - q >= 20) {
        const qhl = ((b[q] as number) & 0xf) * 4;
        const qdst = inet_ntoa4(u32(b, q + 16));
        const qp = b[q + 9] as number;
        if (code === 3 && end - q >= qhl + 4) return `ICMP ${qdst} ${qp === 6 ? 'tcp' : 'udp'} port ${u16(b, q + qhl + 2)} unreachable, length ${plen}`;
        if (code === 1) return `ICMP host ${qdst} unreachable, length ${plen}`;
        if (code === 0) return `ICMP net ${qdst} unreachable, length ${plen}`;
        if (code === 2) return `ICMP ${qdst} protocol ${qp} unreachable, length ${plen}`;
        if (code === 4) return `ICMP ${qdst} unreachable - need to frag (mtu ${u16(b, o + 6)}), length ${plen}`;
      }
      return `ICMP unreachable code ${code}, length ${plen}`;
    }
    case 5:
      return `ICMP redirect${end - o >= 8 ? ` to ${inet_ntoa4(u32(b, o + 4))}` : ''}, length ${plen}`;
    case 11:
      return `ICMP time exceeded ${code === 0 ? 'in-transit' : 'reassembly'}, length ${plen}`;
    case 12:
      return `ICMP parameter problem - octet ${b[o + 4] ?? 0}, length ${plen}`;
    case 13:
      return `ICMP time stamp query${idseq()}, length ${plen}`;
    case 14:
      return `ICMP time stamp reply${idseq()}, length ${plen}`;
    default:
      return `ICMP type-#${type}, length ${plen}`;
  }
}

function icmp6(b: Uint8Array, o: number, end: number, plen: number): string {
  if (end - o < 4) return 'ICMP6, [|icmp6]';
  const type = b[o] as number;
  const code = b[o + 1] as number;
  const idseq = (): string => (end - o >= 8 ? `, id ${u16(b, o + 4)}, seq ${u16(b, o + 6)}` : '');
  const target = (): string => (end - o >= 24 ? inet_ntop6(b.subarray(o + 8, o + 24)) : '?');
  switch (type) {
    case 1:
      return `ICMP6, destination unreachable, ${['unreachable route', 'unreachable prohibited', 'beyond scope', 'unreachable address', 'unreachable port'][code] ?? `code ${code}`}, length ${plen}`;
    case 2:
      return `ICMP6, packet too big, mtu ${end - o >= 8 ? u32(b, o + 4) : 0}, length ${plen}`;
    case 3:
      return `ICMP6, time exceeded ${code === 0 ? 'in-transit' : 'reassembly'}, length ${plen}`;
    case 4:
      return `ICMP6, parameter problem, ${['erroneous - octet', 'next header - octet', 'option - octet'][code] ?? 'code'} ${end - o >= 8 ? u32(b, o + 4) : 0}, length ${plen}`;
    case 128:
      return `ICMP6, echo request${idseq()}, length ${plen}`;
    case 129:
      return `ICMP6, echo reply${idseq()}, length ${plen}`;
    case 133:
      return `ICMP6, router solicitation, length ${plen}`;
    case 134:
      return `ICMP6, router advertisement, length ${plen}`;
    case 135:
      return `ICMP6, neighbor solicitation, who has ${target()}, length ${plen}`;
    case 136:
      return `ICMP6, neighbor advertisement, tgt is ${target()}, length ${plen}`;
    case 137:
      return `ICMP6, redirect, ${target()}, length ${plen}`;
    case 130:
      return `ICMP6, multicast listener query, length ${plen}`;
    case 131:
      return `ICMP6, multicast listener report, length ${plen}`;
    case 132:
      return `ICMP6, multicast listener done, length ${plen}`;
    case 143:
      return `ICMP6, multicast listener report v2, length ${plen}`;
    default:
      return `ICMP6, type ${type}, length ${plen}`;
  }
}
