/*
 * IPv4 fragment reassembly (BSD netinet/ip_reass.c; RFC 791 §3.2, RFC 815).
 *
 * Fragments are queued per datagram, keyed by (source, destination, protocol, ID), in
 * offset order. Overlaps are resolved as FreeBSD does: data already queued before the new
 * fragment wins; queued fragments the new one overlaps from the front are trimmed or, if
 * fully covered, discarded. A datagram is complete when the fragments cover 0..end without
 * holes and the last one (MF clear) has arrived.
 *
 * Memory is bounded three ways, each a sysctl with a counter for the drops it causes:
 * net.inet.ip.maxfragpackets (datagrams being reassembled), net.inet.ip.maxfragsperpacket
 * (fragments per datagram), net.inet.ip.maxfrags (fragments in all). Incomplete datagrams
 * expire after net.inet.ip.fragttl seconds; if the first fragment had arrived, the sender
 * gets an ICMP time-exceeded (reassembly) (RFC 1122 §3.3.2).
 */

import type { Callout } from '../kern/kern_timeout.js';
import { CSUM_DATA_VALID, CSUM_IP_CHECKED, CSUM_IP_VALID, CSUM_PSEUDO_HDR, type Mbuf, m_adj, m_cat, m_freem, M_PKTHDR } from '../mbuf/mbuf.js';
import type { Vnet } from '../vnet.js';
import { get16, get32, set16 } from '../wire/bytes.js';
import { inCksum } from '../wire/checksum.js';
import { ICMP_TIMXCEED, ICMP_TIMXCEED_REASS } from '../wire/icmp.js';
import { IP_MAXPACKET, IP_MF, IP_OFF_DST, IP_OFF_ID, IP_OFF_LEN, IP_OFF_OFF, IP_OFF_P, IP_OFF_SRC, IP_OFF_SUM, IP_OFF_VHL, IP_OFFMASK } from '../wire/ipv4.js';
import { icmp_error } from './ip_icmp.js';

/** One fragment in a queue: its byte range within the datagram's payload. */
interface Frag {
  m: Mbuf; // starts at the fragment's IP header
  hlen: number;
  off: number; // payload offset (bytes)
  len: number; // payload length (bytes), after trimming
  more: boolean;
}

/** A datagram being reassembled (struct ipq). */
interface Ipq {
  key: string;
  src: number;
  dst: number;
  p: number;
  id: number;
  frags: Frag[];
  expire: number; // clock ns
  firstSeen: boolean;
  total: number; // payload length once the last fragment is known, else -1
}

export class IpReass {
  private readonly V: Vnet;
  private readonly queues = new Map<string, Ipq>();
  private nfrags = 0;
  /** net.inet.ip.maxfragpackets */
  maxfragpackets = 1024;
  /** net.inet.ip.maxfragsperpacket */
  maxfragsperpacket = 16;
  /** net.inet.ip.maxfrags */
  maxfrags = 8192;
  /** net.inet.ip.fragttl (seconds) */
  fragttl = 30;
  private readonly timer: Callout<IpReass>;

  constructor(V: Vnet) {
    this.V = V;
    this.timer = V.callwheel.callout<IpReass>();
    const s = V.sysctl;
    const int = (name: string, key: 'maxfragpackets' | 'maxfragsperpacket' | 'maxfrags' | 'fragttl', descr: string, min: number, max: number) =>
      s.int(
        name,
        {
          get: () => this[key],
          set: (v) => {
            this[key] = v;
          },
        },
        { descr, min, max },
      );
    int('net.inet.ip.maxfragpackets', 'maxfragpackets', 'Maximum number of IPv4 fragment reassembly queue entries', 0, 1 << 20);
    int('net.inet.ip.maxfragsperpacket', 'maxfragsperpacket', 'Maximum number of IPv4 fragments allowed per packet', 1, 1 << 16);
    int('net.inet.ip.maxfrags', 'maxfrags', 'Maximum number of IPv4 fragments allowed across all reassembly queues', 0, 1 << 22);
    int('net.inet.ip.fragttl', 'fragttl', 'IP fragment life time on reassembly queue (seconds)', 1, 3600);
    s.int('net.inet.ip.fragpackets', { get: () => this.queues.size }, { descr: 'Current number of IPv4 fragment reassembly queue entries', readonly: true });
    s.int('net.inet.ip.curfrags', { get: () => this.nfrags }, { descr: 'Current number of IPv4 fragments across all reassembly queues', readonly: true });
  }

  get queued(): number {
    return this.nfrags;
  }

  get packets(): number {
    return this.queues.size;
  }

  private drop(q: Ipq, count: boolean): void {
    this.queues.delete(q.key);
    for (const f of q.frags) {
      m_freem(f.m);
      this.nfrags--;
      if (count) this.V.inet.stat.ips_fragdropped++;
    }
    q.frags = [];
  }

  /** Expire overdue queues (ipreass_slowtimo); runs from the callout. */
  slowtimo(): void {
    if (!this.timer.ack()) return;
    const now = this.V.clock.now();
    for (const q of [...this.queues.values()]) {
      if (q.expire > now) continue;
      this.V.inet.stat.ips_fragtimeout += q.frags.length;
      const first = q.firstSeen ? q.frags.find((f) => f.off === 0) : undefined;
      if (first !== undefined) {
        // Send the error about the first fragment; the rest are freed.
        q.frags.splice(q.frags.indexOf(first), 1);
        this.nfrags--;
        this.drop(q, false);
        icmp_error(this.V, first.m, ICMP_TIMXCEED, ICMP_TIMXCEED_REASS, 0, 0);
      } else {
        this.drop(q, false);
      }
    }
    this.arm();
  }

  private arm(): void {
    if (this.queues.size === 0) return;
    let next = Infinity;
    for (const q of this.queues.values()) if (q.expire < next) next = q.expire;
    this.timer.resetNs(Math.max(0, next - this.V.clock.now()), reassTick, this);
  }

  /**
   * Queue fragment `m` (starting at its IP header). Returns the reassembled datagram (one
   * chain starting at an IP header with the total length and offset fixed) or null.
   */
  reass(m: Mbuf): Mbuf | null {
    const V = this.V;
    const st = V.inet.stat;
    st.ips_fragments++;
    const b = m.m_buf;
    const o = m.m_data;
    const hlen = ((b[o + IP_OFF_VHL] as number) & 0xf) << 2;
    const ipLen = get16(b, o + IP_OFF_LEN);
    const offw = get16(b, o + IP_OFF_OFF);
    const more = (offw & IP_MF) !== 0;
    const off = (offw & IP_OFFMASK) << 3;
    let len = ipLen - hlen;
    // RFC 791: every fragment but the last carries a multiple of 8 bytes; a fragment must
    // carry data; and the datagram cannot exceed 65535 bytes.
    if ((more && (len === 0 || (len & 7) !== 0)) || off + len > IP_MAXPACKET - hlen) {
      st.ips_toosmall++;
      st.ips_fragdropped++;
      m_freem(m);
      return null;
    }
    if (this.maxfrags === 0 || this.maxfragpackets === 0) {
      st.ips_fragdropped++;
      m_freem(m);
      return null;
    }
    const src = get32(b, o + IP_OFF_SRC);
    const dst = get32(b, o + IP_OFF_DST);
    const p = b[o + IP_OFF_P] as number;
    const id = get16(b, o + IP_OFF_ID);
    const key = `${src},${dst},${p},${id}`;
    let q = this.queues.get(key);
    if (q === undefined) {
      if (this.queues.size >= this.maxfragpackets) {
        // Make room by dropping the oldest queue (FreeBSD ipq_reuse).
        const oldest = this.queues.values().next().value as Ipq;
        this.drop(oldest, true);
      }
      q = { key, src, dst, p, id, frags: [], expire: V.clock.now() + this.fragttl * 1e9, firstSeen: false, total: -1 };
      this.queues.set(key, q);
      if (!this.timer.pending()) this.arm();
    }
    if (q.frags.length >= this.maxfragsperpacket || this.nfrags >= this.maxfrags) {
      // Over a limit: the whole datagram is given up (FreeBSD drops the queue).
      st.ips_fragdropped++;
      m_freem(m);
      this.drop(q, true);
      return null;
    }
    if (!more) {
      if (q.total >= 0 && q.total !== off + len) {
        // Two different ends: corrupt datagram.
        st.ips_fragdropped++;
        m_freem(m);
        this.drop(q, true);
        return null;
      }
      q.total = off + len;
    }
    if (off === 0) q.firstSeen = true;

    // Find the insertion point: first fragment starting after us.
    const frags = q.frags;
    let i = 0;
    while (i < frags.length && (frags[i] as Frag).off <= off) i++;
    let start = off;
    let end = off + len;
    // The preceding fragment may already hold the head of our data.
    if (i > 0) {
      const prev = frags[i - 1] as Frag;
      const prevEnd = prev.off + prev.len;
      if (prevEnd >= end) {
        st.ips_fragdropped++;
        m_freem(m); // entirely duplicate
        return null;
      }
      if (prevEnd > start) {
        trimFront(m, hlen, prevEnd - start);
        start = prevEnd;
      }
    }
    len = end - start;
    // Trim or drop following fragments we overlap.
    while (i < frags.length) {
      const next = frags[i] as Frag;
      if (next.off >= end) break;
      const overlap = end - next.off;
      if (overlap < next.len) {
        trimFront(next.m, next.hlen, overlap);
        next.off += overlap;
        next.len -= overlap;
        break;
      }
      frags.splice(i, 1);
      m_freem(next.m);
      this.nfrags--;
      st.ips_fragdropped++;
    }
    frags.splice(i, 0, { m, hlen, off: start, len, more });
    this.nfrags++;
    end = start + len;

    // Complete? Contiguous from 0 to total.
    if (q.total < 0) return null;
    let next = 0;
    for (const f of frags) {
      if (f.off !== next) return null;
      next = f.off + f.len;
    }
    if (next !== q.total) return null;

    // Reassemble: the first fragment's header, then every fragment's data.
    this.queues.delete(key);
    const first = frags[0] as Frag;
    const head = first.m;
    trimTail(head, first.hlen + first.len);
    for (let k = 1; k < frags.length; k++) {
      const f = frags[k] as Frag;
      m_adj(f.m, f.hlen);
      trimTail(f.m, f.len);
      f.m.m_flags &= ~M_PKTHDR;
      m_cat(head, f.m);
    }
    this.nfrags -= frags.length;
    q.frags = [];
    const total = first.hlen + q.total;
    head.len = total;
    const hb = head.m_buf;
    const ho = head.m_data;
    set16(hb, ho + IP_OFF_LEN, total);
    set16(hb, ho + IP_OFF_OFF, get16(hb, ho + IP_OFF_OFF) & ~(IP_MF | IP_OFFMASK));
    set16(hb, ho + IP_OFF_SUM, 0);
    set16(hb, ho + IP_OFF_SUM, inCksum(hb, ho, first.hlen));
    head.csum_flags = head.csum_flags & (CSUM_IP_CHECKED | CSUM_IP_VALID) & ~(CSUM_DATA_VALID | CSUM_PSEUDO_HDR);
    st.ips_reassembled++;
    if (this.queues.size === 0) this.timer.stop();
    return head;
  }

  /** Drop everything (instance teardown). */
  flush(): void {
    for (const q of [...this.queues.values()]) this.drop(q, false);
    this.timer.stop();
  }
}

function reassTick(r: IpReass): void {
  r.slowtimo();
}

/** Remove `n` payload bytes right after the `hlen`-byte IP header of fragment `m`. */
function trimFront(m: Mbuf, hlen: number, n: number): void {
  // Walk to the payload and advance it by n bytes, preserving the header bytes in place.
  let skip = hlen;
  let x: Mbuf | null = m;
  while (x !== null && skip >= x.m_len) {
    skip -= x.m_len;
    x = x.m_next;
  }
  let remaining = n;
  while (x !== null && remaining > 0) {
    const avail = x.m_len - skip;
    if (avail <= 0) {
      x = x.m_next;
      skip = 0;
      continue;
    }
    const k = Math.min(avail, remaining);
    if (skip === 0) {
      x.m_data += k;
      x.m_len -= k;
    } else {
      // Payload starts mid-mbuf after the header: close the gap.
      x.m_buf.copyWithin(x.m_data + skip, x.m_data + skip + k, x.m_data + x.m_len);
      x.m_len -= k;
    }
    remaining -= k;
    if (m.m_flags & M_PKTHDR) m.len -= k;
  }
}

/** Keep only the first `len` bytes of a chain. */
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

/** Queue a fragment in the instance's reassembly state (ip_reass). */
export function ip_reass(V: Vnet, m: Mbuf): Mbuf | null {
  return V.ipreass.reass(m);
}
