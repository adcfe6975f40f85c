/*
 * IPv6 fragment reassembly (BSD netinet6/frag6.c; RFC 8200 §4.5, RFC 5722, RFC 6946,
 * RFC 7112).
 *
 * ip6_input hands every packet with a Fragment header here. Atomic fragments (offset 0,
 * M clear) are not reassembled at all: they are processed as whole packets (RFC 6946 §4)
 * and counted (ip6s_atomicfrags). Other fragments are queued per original packet, keyed
 * by (source, destination, Identification):
 *   - a fragment whose length is not a multiple of 8 while more follow, or that would end
 *     past 65535 bytes, draws an ICMPv6 parameter problem (RFC 8200 §4.5);
 *   - a first fragment that does not hold the whole header chain draws a parameter problem
 *     code 3 (RFC 7112 §5);
 *   - an exact duplicate is dropped on its own; any other overlap drops the new fragment
 *     and the whole queue (RFC 5722 §3, RFC 8200 §4.5);
 *   - only the offset-0 fragment's unfragmentable part and Next Header are used.
 * Memory is bounded by net.inet6.ip6.maxfragpackets (packets in reassembly),
 * maxfragsperpacket and maxfrags (fragments), each refusal counted (ip6s_fragoverflow).
 * A packet not complete within net.inet6.ip6.fragttl seconds is dropped; if its first
 * fragment had arrived the source gets an ICMPv6 time exceeded, code 1 (RFC 8200 §4.5).
 */

import type { Callout } from '../kern/kern_timeout.js';
import { CSUM_DATA_VALID, CSUM_PSEUDO_HDR, M_BCAST, M_MCAST, type Mbuf, m_adj, m_cat, m_copydata, m_freem, M_PKTHDR } from '../mbuf/mbuf.js';
import type { Ifnet } from '../net/if.js';
import type { Vnet } from '../vnet.js';
import { get16, get32, set16 } from '../wire/bytes.js';
import { ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, ICMP6_TIME_EXCEED_REASSEMBLY, ICMP6_TIME_EXCEEDED } from '../wire/icmp6.js';
import { IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ROUTING } from '../wire/ipv4.js';
import { IP6_HDR_LEN, IP6_OFF_PLEN, IP6F_LEN, IP6F_OFF_IDENT, IP6F_OFF_OFFLG, IPV6_MAXPACKET } from '../wire/ipv6.js';
import { icmp6_error } from './icmp6.js';

/** RFC 7112 §5: first fragment lacks the upper-layer header (ICMPv6 parameter problem code 3). */
export const ICMP6_PARAMPROB_FIRSTFRAG_INCOMP_HDR = 3;

/** One queued fragment (struct ip6asfrag). `m` starts at its IPv6 header. */
interface Frag {
  m: Mbuf;
  /** Offset of the fragment data within m (after its Fragment header). */
  dataOff: number;
  /** Offset of the data within the original fragmentable part, and its length. */
  off: number;
  len: number;
  more: boolean;
}

/** A packet being reassembled (struct ip6q). */
interface Ip6q {
  key: string;
  frags: Frag[];
  expire: number;
  /** Fragmentable-part length once the last fragment arrived, else -1. */
  total: number;
  /** Offset of the Fragment header and of the Next Header byte preceding it, in the first fragment. */
  fragOff: number;
  nxtOff: number;
  /** Next Header from the offset-0 fragment, -1 until it arrives. */
  nxt: number;
}

export class Frag6 {
  private readonly V: Vnet;
  private readonly queues = new Map<string, Ip6q>();
  private nfrags = 0;
  /** net.inet6.ip6.maxfragpackets (FreeBSD: nmbclusters / 4). */
  maxfragpackets: number;
  /** net.inet6.ip6.maxfrags (FreeBSD: nmbclusters / 4). */
  maxfrags: number;
  /** net.inet6.ip6.maxfragsperpacket */
  maxfragsperpacket = 64;
  /** net.inet6.ip6.fragttl: seconds a packet may wait for its fragments (IPV6_FRAGTTL = 60 s). */
  fragttl = 60;
  private readonly timer: Callout<Frag6>;
  private readonly keyBuf = new Uint8Array(36);

  constructor(V: Vnet) {
    this.V = V;
    this.timer = V.callwheel.callout<Frag6>();
    this.maxfragpackets = Math.max(1, Math.floor(V.mbufLimits.nmbclusters / 4));
    this.maxfrags = Math.max(1, Math.floor(V.mbufLimits.nmbclusters / 4));
    const s = V.sysctl;
    const int = (name: string, key: 'maxfragpackets' | 'maxfragsperpacket' | 'maxfrags' | 'fragttl', descr: string, min: number, max: number) =>
      s.int(
        `net.inet6.ip6.${name}`,
        {
          get: () => this[key],
          set: (v) => {
            this[key] = v;
          },
        },
        { descr, min, max },
      );
    int('maxfragpackets', 'maxfragpackets', 'Default maximum number of outstanding fragmented IPv6 packets', 0, 1 << 22);
    int('maxfrags', 'maxfrags', 'Maximum allowed number of outstanding IPv6 packet fragments', 0, 1 << 22);
    int('maxfragsperpacket', 'maxfragsperpacket', 'Maximum allowed number of fragments per packet', 1, 1 << 16);
    int('fragttl', 'fragttl', 'IPv6 fragment life time on reassembly queue (seconds)', 1, 3600);
    s.int(
      'net.inet6.ip6.frag6_nfragpackets',
      { get: () => this.queues.size },
      { descr: 'Per-VNET number of IPv6 fragments across all reassembly queues.', readonly: true },
    );
    s.int('net.inet6.ip6.frag6_nfrags', { get: () => this.nfrags }, { descr: 'Global number of IPv6 fragments across all reassembly queues.', readonly: true });
  }

  /** Fragments held right now (all queues). */
  get queued(): number {
    return this.nfrags;
  }

  /** Packets being reassembled right now. */
  get packets(): number {
    return this.queues.size;
  }

  private drop(q: Ip6q, count: boolean): void {
    this.queues.delete(q.key);
    for (const f of q.frags) {
      m_freem(f.m);
      this.nfrags--;
      if (count) this.V.inet6.stat.ip6s_fragdropped++;
    }
    q.frags = [];
    if (this.queues.size === 0) this.timer.stop();
  }

  /** Expire overdue packets (frag6_slowtimo); runs from the callout. */
  slowtimo(): void {
    if (!this.timer.ack()) return;
    const V = this.V;
    const now = V.clock.now();
    for (const q of [...this.queues.values()]) {
      if (q.expire > now) continue;
      V.inet6.stat.ip6s_fragtimeout += q.frags.length;
      const first = q.frags.length > 0 && (q.frags[0] as Frag).off === 0 ? (q.frags[0] as Frag) : undefined;
      if (first !== undefined) {
        // RFC 8200 §4.5: time exceeded (reassembly) about the first fragment.
        q.frags.shift();
        this.nfrags--;
        this.drop(q, false);
        icmp6_error(V, first.m, ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_REASSEMBLY, 0);
      } else {
        this.drop(q, false);
      }
    }
    this.arm();
  }

  private arm(): void {
    if (this.queues.size === 0) {
      this.timer.stop();
      return;
    }
    let next = Infinity;
    for (const q of this.queues.values()) if (q.expire < next) next = q.expire;
    this.timer.resetNs(Math.max(0, next - this.V.clock.now()), frag6Tick, this);
  }

  private makeKey(b: Uint8Array, o: number, fo: number): string {
    const k = this.keyBuf;
    for (let i = 0; i < 32; i++) k[i] = b[o + 8 + i] as number;
    for (let i = 0; i < 4; i++) k[32 + i] = b[fo + IP6F_OFF_IDENT + i] as number;
    return String.fromCharCode.apply(null, k as unknown as number[]);
  }

  /**
   * Queue the fragment `m` (starting at its IPv6 header, contiguous through the Fragment
   * header at `off`; `nxtOff` is the offset of the Next Header byte that named it).
   * Returns the reassembled packet — the Fragment header removed, the Next Header byte at
   * `nxtOff` holding the real next header, the payload length fixed — or null.
   * Atomic fragments are the caller's business (see ip6_input).
   */
  input(m: Mbuf, off: number, nxtOff: number): Mbuf | null {
    const V = this.V;
    const st = V.inet6.stat;
    st.ip6s_fragments++;
    const b = m.m_buf;
    const o = m.m_data;
    const fo = o + off;
    const offlg = get16(b, fo + IP6F_OFF_OFFLG);
    const fragoff = offlg & 0xfff8;
    const more = (offlg & 1) !== 0;
    const plen = get16(b, o + IP6_OFF_PLEN);
    const dataOff = off + IP6F_LEN;
    const fraglen = IP6_HDR_LEN + plen - dataOff;
    // RFC 8200 §4.5: a non-last fragment's length is a multiple of 8; point at Payload Length.
    if (more && (fraglen <= 0 || (fraglen & 7) !== 0)) {
      st.ip6s_fragdropped++;
      icmp6_error(V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, IP6_OFF_PLEN);
      return null;
    }
    // The original packet cannot exceed 65535 bytes of payload; point at Fragment Offset.
    if (off - IP6_HDR_LEN + fragoff + fraglen > IPV6_MAXPACKET) {
      st.ip6s_fragdropped++;
      icmp6_error(V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, off + IP6F_OFF_OFFLG);
      return null;
    }
    if (fraglen <= 0) {
      // An empty last fragment carries nothing to reassemble.
      st.ip6s_fragdropped++;
      m_freem(m);
      return null;
    }
    // RFC 7112 §5: the first fragment must contain the whole header chain.
    if (fragoff === 0 && !firstFragComplete(m, dataOff, b[fo] as number, IP6_HDR_LEN + plen)) {
      st.ip6s_fragdropped++;
      icmp6_error(V, m, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_FIRSTFRAG_INCOMP_HDR, 0);
      return null;
    }
    if (this.maxfragpackets === 0 || this.maxfrags === 0) {
      st.ip6s_fragoverflow++;
      st.ip6s_fragdropped++;
      m_freem(m);
      return null;
    }
    const key = this.makeKey(b, o, fo);
    let q = this.queues.get(key);
    if (q === undefined) {
      if (this.queues.size >= this.maxfragpackets) {
        st.ip6s_fragoverflow++;
        st.ip6s_fragdropped++;
        m_freem(m);
        return null;
      }
      q = { key, frags: [], expire: V.clock.now() + this.fragttl * 1e9, total: -1, fragOff: -1, nxtOff: -1, nxt: -1 };
      this.queues.set(key, q);
      if (!this.timer.pending()) this.arm();
    }
    if (q.frags.length >= this.maxfragsperpacket || this.nfrags >= this.maxfrags) {
      st.ip6s_fragoverflow++;
      st.ip6s_fragdropped++;
      m_freem(m);
      this.drop(q, true);
      return null;
    }
    const end = fragoff + fraglen;
    if (!more) {
      if ((q.total >= 0 && q.total !== end) || q.frags.some((f) => f.off + f.len > end)) {
        // Two different ends, or data beyond the end: a corrupt packet.
        st.ip6s_fragdropped++;
        m_freem(m);
        this.drop(q, true);
        return null;
      }
      q.total = end;
    } else if (q.total >= 0 && end > q.total) {
      st.ip6s_fragdropped++;
      m_freem(m);
      this.drop(q, true);
      return null;
    }
    // Insertion point and overlap check (RFC 5722): exact duplicates are dropped alone,
    // any other overlap drops everything.
    const frags = q.frags;
    let i = 0;
    while (i < frags.length && (frags[i] as Frag).off < fragoff) i++;
    const cur = frags[i];
    if (cur !== undefined && cur.off === fragoff && cur.len === fraglen && cur.more === more) {
      st.ip6s_fragdropped++;
      m_freem(m);
      return null;
    }
    const prev = i > 0 ? (frags[i - 1] as Frag) : undefined;
    if ((prev !== undefined && prev.off + prev.len > fragoff) || (cur !== undefined && cur.off < end)) {
      st.ip6s_fragdropped++;
      m_freem(m);
      this.drop(q, true);
      return null;
    }
    frags.splice(i, 0, { m, dataOff, off: fragoff, len: fraglen, more });
    this.nfrags++;
    if (fragoff === 0) {
      q.fragOff = off;
      q.nxtOff = nxtOff;
      q.nxt = b[fo] as number;
    }

    // Complete? Contiguous from 0 to total.
    if (q.total < 0 || q.nxt < 0) return null;
    let next = 0;
    for (const f of frags) {
      if (f.off !== next) return null;
      next = f.off + f.len;
    }
    if (next !== q.total) return null;
    return this.reassemble(q);
  }

  private reassemble(q: Ip6q): Mbuf | null {
    const V = this.V;
    const st = V.inet6.stat;
    this.queues.delete(q.key);
    if (this.queues.size === 0) this.timer.stop();
    const frags = q.frags;
    q.frags = [];
    this.nfrags -= frags.length;
    const first = frags[0] as Frag;
    // New head: the first fragment's unfragmentable part, without the Fragment header.
    const ulen = q.fragOff;
    const head = ulen + 16 <= 168 ? V.mbufs.gethdr() : V.mbufs.getcl(ulen + 16, true);
    if (head === null) {
      for (const f of frags) m_freem(f.m);
      st.ip6s_fragdropped += frags.length;
      return null;
    }
    head.m_data = 16;
    m_copydata(first.m, 0, ulen, head.m_buf, head.m_data);
    head.m_len = ulen;
    head.len = ulen;
    head.rcvif = first.m.rcvif;
    head.m_flags |= first.m.m_flags & (M_BCAST | M_MCAST);
    head.rcv_tstmp = first.m.rcv_tstmp;
    head.m_buf[head.m_data + q.nxtOff] = q.nxt;
    for (const f of frags) {
      m_adj(f.m, f.dataOff);
      trimTail(f.m, f.len);
      f.m.m_flags &= ~M_PKTHDR;
      m_cat(head, f.m);
      head.len += f.len;
    }
    set16(head.m_buf, head.m_data + IP6_OFF_PLEN, head.len - IP6_HDR_LEN);
    // The transport checksum must be verified over the whole packet.
    head.csum_flags &= ~(CSUM_DATA_VALID | CSUM_PSEUDO_HDR);
    st.ip6s_reassembled++;
    return head;
  }

  /** Drop the packets whose fragments arrived on a detaching interface. */
  purgeIfp(ifp: Ifnet): void {
    for (const q of [...this.queues.values()]) if (q.frags.some((f) => f.m.rcvif === ifp)) this.drop(q, false);
  }

  /** Drop everything (instance teardown). */
  flush(): void {
    for (const q of [...this.queues.values()]) this.drop(q, false);
    this.timer.stop();
  }
}

function frag6Tick(f: Frag6): void {
  f.slowtimo();
}

/** Keep only the first `len` bytes of a chain (after m_adj from the front). */
function trimTail(m: Mbuf, len: number): void {
  let keep = len;
  for (let x: Mbuf | null = m; x !== null; x = x.m_next) {
    if (x.m_len >= keep) {
      x.m_len = keep;
      keep = 0;
      for (let r = x.m_next; r !== null; r = r.m_next) r.m_len = 0;
      break;
    }
    keep -= x.m_len;
  }
  if (m.m_flags & M_PKTHDR) m.len = len;
}

function byteAt(m: Mbuf, off: number): number {
  for (let x: Mbuf | null = m; x !== null; x = x.m_next) {
    if (off < x.m_len) return x.m_buf[x.m_data + off] as number;
    off -= x.m_len;
  }
  return -1;
}

/**
 * Does the first fragment (data from `off`, first header `nxt`, packet end `end`) hold
 * every extension header and at least the first bytes of the upper-layer header?
 */
function firstFragComplete(m: Mbuf, off: number, nxt: number, end: number): boolean {
  for (let n = 0; n < 32; n++) {
    if (nxt === IPPROTO_HOPOPTS || nxt === IPPROTO_ROUTING || nxt === IPPROTO_DSTOPTS || nxt === IPPROTO_AH) {
      if (off + 2 > end) return false;
      const l = byteAt(m, off + 1);
      const next = byteAt(m, off);
      if (l < 0 || next < 0) return false;
      off += nxt === IPPROTO_AH ? (l + 2) << 2 : (l + 1) << 3;
      nxt = next;
      if (off > end) return false;
    } else if (nxt === IPPROTO_FRAGMENT) {
      // A second Fragment header inside a fragment: not supported (nested fragmentation).
      return false;
    } else {
      return nxt === 59 /* IPPROTO_NONE */ || off < end;
    }
  }
  return false;
}

/** @internal read a fragment header's identification (for tests and tools). */
export function frag6_ident(b: Uint8Array, fragHdrOff: number): number {
  return get32(b, fragHdrOff + IP6F_OFF_IDENT);
}
