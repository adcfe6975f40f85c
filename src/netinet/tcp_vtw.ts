/*
 * Vestigial TIME_WAIT (VTW), after NetBSD's sys/netinet/tcp_vtw.c (Coyote Point Systems): a
 * "FIN cache". When a connection that no socket refers to any more reaches TIME_WAIT, the TCP
 * layer copies the few fields TIME_WAIT still needs into a compact vestige here and frees the
 * socket, inpcb and tcpcb. Segments for that 4-tuple are then answered from the vestige until
 * 2×MSL (per MSLT class, tcp_mslt.ts) runs out. This module owns the data structures; the TCP
 * layer owns the TIME_WAIT semantics (RFC 793/1337/6191/7323) that it implements from them.
 *
 * ## Memory layout (no per-entry objects, no JS references)
 *
 * Per address family (allocated on first use, or when the enable bit is written):
 *   - record arena: one Uint32Array, `entries` records of 6 words (IPv4, 24 B) or 9 words
 *     (IPv6, 36 B):  faddr (1 or 4 words) | lport<<16|fport | snd_nxt | rcv_nxt | ts_recent |
 *     misc, where misc = rcv_wnd:16 | lid:10 | TS:1 | REUSEADDR:1 | REUSEPORT:1 | V6ONLY:1 |
 *     class:2. The local address is interned: `lid` indexes a small table of the local
 *     addresses in use (≤ 1023 per family; lid 0 marks a free slot), so a record carries
 *     2 bytes instead of 4 or 16.
 *   - class rings: the arena is split into one FIFO ring per MSL class (one classless ring
 *     when MSLT is off, as NetBSD's arena 0; else remote/local/loopback, entries/3 each).
 *     Allocation order is expiry order. A full ring evicts its oldest slot (`kill` if live).
 *     Deleted records leave holes that the oldest-hand reclaims.
 *   - expiry: instead of a time per record, each ring keeps a small ring of batches
 *     (end sequence, expiry) — consecutive insertions whose expiries fall in the same 200 ms
 *     callout interval share one batch, so expiry costs no per-record bytes and entries still
 *     go at the first 200 ms callout run at or after their own 2×MSL (the callout is aligned
 *     to multiples of 200 ms of the Vnet clock). For lifetimes over ~100 s the interval grows
 *     to lifetime/512 (entries live at most that much longer).
 *   - full (4-tuple) hash: NetBSD fat pointers. 64-byte lines (Uint32Array, 16 words): one
 *     header word (next line | count) and 15 tags. A tag is (hash check bits | idx+1): the
 *     narrow index of the record plus the high bits of the keyed hash, so a probe only reads a
 *     record when the check bits match (`losing`). Chains are kept packed (a delete moves the
 *     head line's last tag into the hole), so a bucket of n entries spans ⌈n/15⌉ lines. There
 *     are entries/32 buckets and a preallocated pool of entries/15 + buckets lines, which can
 *     never run out. Lookups touch ~2–3 lines whatever the fill.
 *   - port hash: the port-in-use table for bind/connect, keyed by (SO_REUSEPORT, lid, local
 *     port), in 64-byte lines of 8 (key, count) slots, linear probing. Counting instead of
 *     one tag per vestige keeps it O(1) when a server port holds a million vestiges (a
 *     per-vestige port chain would be that long); it grows by doubling with the distinct
 *     (local address, port) pairs: 1 MB for 60k ports, ~1 byte per vestige at 1M, but ~16 at
 *     64k vestiges on 60k distinct ports.
 *   Measured (bench/vtw.ts, heap + ArrayBuffers per vestige): IPv4 31.5 B and IPv6 43.5 B at
 *   1M; 50.5 B and 61 B at 64k (fixed costs and the port table weigh more there).
 *   The 4-tuple hash is HalfSipHash-1-3 (32-bit SipHash, as Linux's hsiphash) keyed with a
 *   per-Vnet secret drawn from V.rng, so remote peers cannot aim at one bucket. The port
 *   table's keys are the host's own (local address, port) pairs, which peers cannot choose:
 *   it spreads them with a seeded murmur3 finaliser.
 *
 * ## API for the TCP layer (indices are numbers; IPv6 indices have VTW_V6 set)
 *
 *   vtw_init(V): Vtw                       create (registers the sysctls); V.vtw = it
 *   vtw.enabled4 / vtw.enabled6            bit 0 of net.inet.tcp.vtw.enable / net.inet6.tcp6.vtw.enable
 *   vtw.mslt                               the MSLT state: classify4/6(), mslNs(cls), mslTicks(cls)
 *   vtw.insert4(laddr, lport, faddr, fport, snd_nxt, rcv_nxt, rcv_wnd, ts_recent, flags, cls, lifetimeNs?) → idx | -1
 *   vtw.insert6(laddr, laoff, lport, faddr, faoff, fport, snd_nxt, rcv_nxt, rcv_wnd, ts_recent, flags, cls, lifetimeNs?) → idx | -1
 *        flags: VTW_F_TS | VTW_F_REUSEADDR | VTW_F_REUSEPORT | VTW_F_V6ONLY; cls: MSLT class;
 *        lifetime defaults to 2 × mslt.mslNs(cls). -1: disabled, or no room (local address
 *        table full, class layout has no ring for it): keep the full TIME_WAIT PCB.
 *        An existing vestige for the same 4-tuple is replaced.
 *   vtw.lookup4(laddr, lport, faddr, fport) → idx | -1            (no allocation)
 *   vtw.lookup6(laddr, laoff, lport, faddr, faoff, fport) → idx | -1
 *   vtw.restart(idx, lifetimeNs?) → new idx                        (FIN retransmit: youngest again)
 *   vtw.del(idx)                                                    (RST at rcv_nxt, SYN reuse)
 *   vtw.expire()                                                    (what the 200 ms callout runs)
 *   accessors: snd_nxt(idx) rcv_nxt(idx) rcv_wnd(idx) ts_recent(idx) hasTimestamps(idx)
 *     reuseAddr(idx) reusePort(idx) v6only(idx) mslClass(idx) expireAt(idx) lport(idx)
 *     fport(idx) laddr4(idx) faddr4(idx) laddr6(idx, out, off) faddr6(idx, out, off)
 *     isV6(idx) isLive(idx); set_ts_recent(idx, v)
 *   vtw.portInUse(family, laddr, lport, reuseport?, laoff?) → number of vestiges holding the
 *     port (laddr unspecified = any local address); with reuseport, only those that would
 *     still conflict (without SO_REUSEPORT themselves), as NetBSD's in_pcbbind_port.
 *   PcbShadow (in_pcb.ts): tupleInUse(...), bindConflict(...) — push vtw into
 *     tcbinfo.shadows and bind()/connect() see vestiges as a full TIME_WAIT PCB.
 *   vtw.forEach(fn), vtw.count4, vtw.count6, vtw.table() (netstat -V), vtw.stats.
 *
 * ## What a vestige stores, and why
 *   - addresses and ports: the demultiplexing key.
 *   - snd_nxt, rcv_nxt: the ACK that TIME_WAIT sends (seq = snd_nxt, ack = rcv_nxt); RST
 *     acceptance (seq == rcv_nxt); RFC 6191 / tcp_twcheck SYN reuse (SYN seq > rcv_nxt);
 *     the new incarnation's ISN should exceed the old snd_nxt (RFC 6191 §2).
 *   - rcv_wnd: the window field of that ACK, already scaled (FreeBSD tw->last_win =
 *     (rcv_adv − rcv_nxt) >> rcv_scale, capped at 65535). So neither scale factor is kept.
 *   - ts_recent + TS flag: TSecr of the ACK, PAWS on segments that hit the vestige, and the
 *     RFC 6191 timestamp test for a new SYN (SYN TSval > ts_recent). ts_recent_age is not kept:
 *     TIME_WAIT is far shorter than the 24-day PAWS idle limit; the TCP layer should clear the
 *     TS flag at insertion if ts_recent is already older than that. The TSval we send is
 *     tcp_ts_getticks() + ts_offset, where ts_offset must be the RFC 7323 §5.4 keyed hash of
 *     the 4-tuple (so it is recomputed, not stored).
 *   - reuse flags: SO_REUSEADDR and SO_REUSEPORT of the closed socket, v6only. The owner uid
 *     (NetBSD) is not kept: bsdnet has one credential (inp_uid is always 0).
 *   - class and expiry (via the ring batch); a FIN retransmission restarts 2×MSL with
 *     restart(), which re-queues the vestige at the ring tail under a new index.
 *
 * Sysctls: net.inet.tcp.vtw.enable (1: on by default in bsdnet; NetBSD ships 0),
 * net.inet6.tcp6.vtw.enable (1), net.inet.tcp.vtw.entries (65536, power of two, settable:
 * the tables are rebuilt keeping live vestiges in expiry order), net.inet.tcp.vtw.stats
 * (struct vtw_stats: ins, del, kill, look[2], hit[2], miss[2], probe[2], losing[2],
 * max_chain[2], max_probe[2], max_loss[2], [0] = full hash, [1] = port hash), and
 * net.inet.tcp.vtw.table (netstat -V). MSLT's sysctls are in tcp_mslt.ts.
 */

import type { Callout } from '../kern/kern_timeout.js';
import type { SysctlStruct } from '../kern/kern_sysctl.js';
import type { Vnet } from '../vnet.js';
import { SO_REUSEPORT, SO_REUSEPORT_LB } from '../sys/socket.js';
import { AF_INET, AF_INET6, ntoa, ntop6 } from './in.js';
import type { PcbShadow } from './in_pcb.js';
import { MSLT_CLASS_NAMES, MSLT_CLASSLESS, MSLT_LOOPBACK, MSLT_REMOTE, Mslt } from './tcp_mslt.js';
import { field } from '../kern/kern_sysctl.js';
import { hsiphash } from '../kern/siphash.js';

/** Set in the index of an IPv6 vestige. */
export const VTW_V6 = 0x40000000;

// Insert flags (public).
export const VTW_F_TS = 0x1;
export const VTW_F_REUSEADDR = 0x2;
export const VTW_F_REUSEPORT = 0x4;
export const VTW_F_V6ONLY = 0x8;

/** Callout period: hz/5. */
export const VTW_CALLOUT_NS = 200_000_000;
/** NetBSD FATP_NTAGS for 64-byte lines. */
export const FATP_NTAGS = 15;
/** Words per fat-pointer line (64 bytes). */
const LINE_WORDS = 16;
/** Local addresses per family a vestige can refer to. */
export const VTW_MAX_LIDS = 1023;
export const VTW_ENTRIES_DEFAULT = 65536;
export const VTW_ENTRIES_MIN = 16;
export const VTW_ENTRIES_MAX = 1 << 22;
/** Expiry batches per class ring. */
const BCAP = 1024;

// misc word layout
const M_WND = 0xffff;
const M_LID_SHIFT = 16;
const M_LID = 0x3ff;
const M_FLAG_SHIFT = 26;
const M_CLASS_SHIFT = 30;
const M_LIVE = M_LID << M_LID_SHIFT;

/** Big-endian 32-bit word as int32 (stored into Uint32Arrays, where the sign does not matter). */
function be32(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function log2ceil(n: number): number {
  let b = 0;
  while (2 ** b < n) b++;
  return b;
}

/** VTW statistics (struct vtw_stats, netinet/tcp_vtw.h); pairs are [full hash, port hash]. */
export class VtwStats {
  ins = 0;
  del = 0;
  kill = 0;
  readonly look = new Float64Array(2);
  readonly hit = new Float64Array(2);
  readonly miss = new Float64Array(2);
  readonly probe = new Float64Array(2);
  readonly losing = new Float64Array(2);
  readonly max_chain = new Float64Array(2);
  readonly max_probe = new Float64Array(2);
  readonly max_loss = new Float64Array(2);
  /** Inserts refused for lack of room (local address table full, no ring for the class). */
  nomem = 0;

  toJSON(): Record<string, number | number[]> {
    const a = (x: Float64Array) => [x[0], x[1]];
    return {
      ins: this.ins,
      del: this.del,
      kill: this.kill,
      look: a(this.look),
      hit: a(this.hit),
      miss: a(this.miss),
      probe: a(this.probe),
      losing: a(this.losing),
      max_chain: a(this.max_chain),
      max_probe: a(this.max_probe),
      max_loss: a(this.max_loss),
      nomem: this.nomem,
    };
  }
}

/**
 * Interned local addresses (1..VTW_MAX_LIDS), reference counted by the vestiges that use
 * them; open addressing over a small index with backward-shift deletion. Lookups take the
 * address from `key` (w words), so nothing is allocated.
 */
class LidTable {
  readonly w: number;
  readonly key: Uint32Array;
  readonly addr: Uint32Array;
  readonly refs = new Uint32Array(VTW_MAX_LIDS + 1);
  private readonly index = new Uint16Array(2048);
  private readonly freeList = new Uint16Array(VTW_MAX_LIDS);
  private nfree = VTW_MAX_LIDS;
  /** Live lids, for wildcard port queries. */
  readonly live = new Uint16Array(VTW_MAX_LIDS);
  private readonly livePos = new Uint16Array(VTW_MAX_LIDS + 1);
  nlive = 0;
  /** The lid last found or referenced (0: none); it always has references. */
  private memo = 0;

  constructor(w: number) {
    this.w = w;
    this.key = new Uint32Array(w);
    this.addr = new Uint32Array((VTW_MAX_LIDS + 1) * w);
    for (let i = 0; i < VTW_MAX_LIDS; i++) this.freeList[i] = VTW_MAX_LIDS - i;
  }

  private homeOf(a: Uint32Array, o: number): number {
    let h = 0x9e3779b9;
    for (let i = 0; i < this.w; i++) h = Math.imul(h ^ a[o + i], 0x85ebca6b) ^ (h >>> 13);
    return (h ^ (h >>> 16)) & 2047;
  }

  private eq(lid: number): boolean {
    const o = lid * this.w;
    for (let i = 0; i < this.w; i++) if (this.addr[o + i] !== this.key[i]) return false;
    return true;
  }

  /** The lid of the address in `key`, or 0. */
  find(): number {
    // Most hosts use one or two local addresses: the last one found is usually the answer.
    const m = this.memo;
    if (m !== 0 && this.eq(m)) return m;
    for (let s = this.homeOf(this.key, 0); ; s = (s + 1) & 2047) {
      const lid = this.index[s];
      if (lid === 0) return 0;
      if (this.eq(lid)) {
        this.memo = lid;
        return lid;
      }
    }
  }

  /** Take a reference on the address in `key`, interning it; 0 if the table is full. */
  ref(): number {
    const m = this.memo;
    if (m !== 0 && this.eq(m)) {
      this.refs[m]++;
      return m;
    }
    let s = this.homeOf(this.key, 0);
    for (; ; s = (s + 1) & 2047) {
      const lid = this.index[s];
      if (lid === 0) break;
      if (this.eq(lid)) {
        this.refs[lid]++;
        this.memo = lid;
        return lid;
      }
    }
    if (this.nfree === 0) return 0;
    const lid = this.freeList[--this.nfree];
    this.addr.set(this.key, lid * this.w);
    this.refs[lid] = 1;
    this.index[s] = lid;
    this.livePos[lid] = this.nlive;
    this.live[this.nlive++] = lid;
    this.memo = lid;
    return lid;
  }

  unref(lid: number): void {
    if (--this.refs[lid] !== 0) return;
    if (lid === this.memo) this.memo = 0;
    // Remove from the index (backward shift).
    let i = this.homeOf(this.addr, lid * this.w);
    while (this.index[i] !== lid) i = (i + 1) & 2047;
    for (let j = (i + 1) & 2047; this.index[j] !== 0; j = (j + 1) & 2047) {
      const k = this.homeOf(this.addr, this.index[j] * this.w);
      // Move j back to i if its home is not cyclically in (i, j].
      if (i <= j ? k <= i || k > j : k <= i && k > j) {
        this.index[i] = this.index[j];
        i = j;
      }
    }
    this.index[i] = 0;
    const p = this.livePos[lid];
    const last = this.live[--this.nlive];
    this.live[p] = last;
    this.livePos[last] = p;
    this.freeList[this.nfree++] = lid;
  }
}

/** Port-table key bit: the vestiges counted under this key have SO_REUSEPORT. */
const PK_RP = 1 << 26;

/**
 * Port-in-use counts keyed by (SO_REUSEPORT << 26 | lid << 16 | lport), in 64-byte lines of
 * eight 2-word slots (key, count); linear probing over slots, backward-shift deletion,
 * doubling at 75% load. Key 0 marks an empty slot (lids start at 1).
 */
class PortTable {
  private readonly seed: number;
  slots: Uint32Array;
  nslots: number;
  used = 0;

  constructor(seed: number, nslots = 128) {
    this.seed = seed;
    this.nslots = nslots;
    this.slots = new Uint32Array(nslots * 2);
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  private home(key: number): number {
    // The keys are this host's own (local address, port) pairs: ephemeral ports it chose at
    // random, ports it listens on. Remote peers cannot pick them, so a seeded mix (murmur3's
    // finaliser) spreads them; no keyed PRF per probe (a deletion re-homes a whole run).
    let h = key ^ this.seed;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    // Start probing at the first slot of a 64-byte line.
    return h & (this.nslots - 1) & ~7;
  }

  /** Count under `key` (0 if absent); probes counted into stats. */
  count(key: number, st: VtwStats): number {
    let probes = 0;
    let n = 0;
    const sl = this.slots;
    const mask = this.nslots - 1;
    for (let s = this.home(key); ; s = (s + 1) & mask) {
      const k = sl[2 * s];
      probes++;
      if (k === 0) break;
      if (k === key) {
        n = sl[2 * s + 1];
        break;
      }
    }
    st.probe[1] += probes;
    if (probes > st.max_probe[1]) st.max_probe[1] = probes;
    return n;
  }

  add(key: number): void {
    if ((this.used + 1) * 4 > this.nslots * 3) this.grow();
    const sl = this.slots;
    const mask = this.nslots - 1;
    for (let s = this.home(key); ; s = (s + 1) & mask) {
      const k = sl[2 * s];
      if (k === key) {
        sl[2 * s + 1]++;
        return;
      }
      if (k === 0) {
        sl[2 * s] = key;
        sl[2 * s + 1] = 1;
        this.used++;
        return;
      }
    }
  }

  sub(key: number): void {
    const sl = this.slots;
    const mask = this.nslots - 1;
    let i = this.home(key);
    while (sl[2 * i] !== key) {
      if (sl[2 * i] === 0) return;
      i = (i + 1) & mask;
    }
    if (--sl[2 * i + 1] !== 0) return;
    // Backward-shift delete: pull later keys of the run back over the hole.
    for (let j = (i + 1) & mask; sl[2 * j] !== 0; j = (j + 1) & mask) {
      const h = this.home(sl[2 * j]);
      if (i <= j ? h <= i || h > j : h <= i && h > j) {
        sl[2 * i] = sl[2 * j];
        sl[2 * i + 1] = sl[2 * j + 1];
        i = j;
      }
    }
    sl[2 * i] = 0;
    sl[2 * i + 1] = 0;
    this.used--;
  }

  private grow(): void {
    const old = this.slots;
    const oldN = this.nslots;
    this.nslots *= 2;
    this.slots = new Uint32Array(this.nslots * 2);
    const sl = this.slots;
    const mask = this.nslots - 1;
    for (let o = 0; o < oldN; o++) {
      const key = old[2 * o];
      if (key === 0) continue;
      let s = this.home(key);
      while (sl[2 * s] !== 0) s = (s + 1) & mask;
      sl[2 * s] = key;
      sl[2 * s + 1] = old[2 * o + 1];
    }
  }
}

/** One class ring: a FIFO of arena slots [base, base + cap) with expiry batches. */
class Ring {
  base = 0;
  cap = 0;
  /** Slot offset (within the ring) of the oldest used slot. */
  hpos = 0;
  /** Used slots (live vestiges and holes). */
  n = 0;
  /** Sequence numbers: seqHead is the oldest used slot's, seqTail the next allocation's. */
  seqHead = 0;
  seqTail = 0;
  /** Expiry batches (a ring of BCAP): end sequence (exclusive), expiry (ns), interval key. */
  readonly bend = new Float64Array(BCAP);
  readonly bexp = new Float64Array(BCAP);
  readonly bkey = new Float64Array(BCAP);
  bhead = 0;
  bcount = 0;

  reset(base: number, cap: number): void {
    this.base = base;
    this.cap = cap;
    this.hpos = 0;
    this.n = 0;
    this.seqHead = 0;
    this.seqTail = 0;
    this.bhead = 0;
    this.bcount = 0;
  }

  /** Record that sequence seqTail-1 expires at `e` (ns), with batch interval `gran`. */
  addExpiry(e: number, gran: number): void {
    const key = Math.ceil(e / gran);
    if (this.bcount > 0) {
      const last = (this.bhead + this.bcount - 1) % BCAP;
      if (this.bkey[last] >= key || this.bcount === BCAP) {
        this.bend[last] = this.seqTail;
        if (e > this.bexp[last]) this.bexp[last] = e;
        return;
      }
    }
    const t = (this.bhead + this.bcount) % BCAP;
    this.bend[t] = this.seqTail;
    this.bexp[t] = e;
    this.bkey[t] = key;
    this.bcount++;
  }

  /** Expiry of the slot with sequence `seq` (ns). */
  expiryOf(seq: number): number {
    let lo = 0;
    let hi = this.bcount - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.bend[(this.bhead + mid) % BCAP] > seq) hi = mid;
      else lo = mid + 1;
    }
    return this.bexp[(this.bhead + lo) % BCAP];
  }
}

/** The tables of one address family. */
class VtwFam {
  readonly v6: boolean;
  /** Words of foreign address (1 or 4) and of a record (F + 5). */
  readonly F: number;
  readonly W: number;
  readonly entries: number;
  readonly rec: Uint32Array;
  readonly rings: Ring[] = [new Ring(), new Ring(), new Ring(), new Ring()];
  readonly classless: boolean;
  readonly lids: LidTable;
  readonly ports: PortTable;
  // Full hash (fat pointers).
  readonly nb: number;
  readonly bmask: number;
  readonly anchors: Int32Array;
  readonly lines: Uint32Array;
  readonly nlines: number;
  private freeLine = 0;
  readonly idxBits: number;
  readonly idxMask: number;
  linesUsed = 0;
  /** Hash input scratch: faddr words, ports, lid. */
  readonly hw: Uint32Array;
  readonly k0: number;
  readonly k1: number;
  live = 0;

  constructor(v6: boolean, entries: number, classless: boolean, k0: number, k1: number) {
    this.v6 = v6;
    this.F = v6 ? 4 : 1;
    this.W = this.F + 5;
    this.entries = entries;
    this.classless = classless;
    this.k0 = k0;
    this.k1 = k1;
    this.rec = new Uint32Array(entries * this.W);
    if (classless) this.rings[0].reset(0, entries);
    else {
      const c = Math.floor(entries / 3);
      this.rings[MSLT_REMOTE].reset(0, c);
      this.rings[2].reset(c, c);
      this.rings[MSLT_LOOPBACK].reset(2 * c, entries - 2 * c);
    }
    this.lids = new LidTable(this.F);
    this.ports = new PortTable(k0 ^ k1 ^ 0x5bd1e995);
    this.nb = Math.max(4, 2 ** log2ceil(Math.ceil(entries / 32)));
    this.bmask = this.nb - 1;
    this.anchors = new Int32Array(this.nb);
    this.nlines = Math.ceil(entries / FATP_NTAGS) + this.nb;
    this.lines = new Uint32Array((this.nlines + 1) * LINE_WORDS);
    // Free list of lines 1..nlines through the header word.
    for (let l = 1; l < this.nlines; l++) this.lines[l * LINE_WORDS] = (l + 1) << 4;
    this.freeLine = 1;
    this.idxBits = log2ceil(entries + 1);
    this.idxMask = 2 ** this.idxBits - 1;
    this.hw = new Uint32Array(this.F + 2);
  }

  /** Bytes held by this family's structures (typed-array backing stores). */
  get bytes(): number {
    let b = this.rec.byteLength + this.anchors.byteLength + this.lines.byteLength + this.ports.bytes;
    b += this.lids.addr.byteLength + this.lids.refs.byteLength + 2048 * 2 + VTW_MAX_LIDS * 2 * 3;
    b += 4 * BCAP * 8 * 3;
    return b;
  }

  ringOf(cls: number): Ring {
    if (this.classless) return this.rings[0];
    return this.rings[cls === MSLT_CLASSLESS ? MSLT_REMOTE : cls];
  }

  /** Hash of the record tuple in hw (faddr words, ports, lid). */
  hash(): number {
    return hsiphash(this.k0, this.k1, this.hw, this.F + 2);
  }

  /** Load hw from record i. */
  loadHw(i: number): void {
    const o = i * this.W;
    const F = this.F;
    for (let k = 0; k < F; k++) this.hw[k] = this.rec[o + k];
    this.hw[F] = this.rec[o + F];
    this.hw[F + 1] = (this.rec[o + F + 4] >>> M_LID_SHIFT) & M_LID;
  }

  /** Find the record whose tuple is in hw (lid in hw[F+1]); -1 if none. */
  find(st: VtwStats, h: number = this.hash()): number {
    const check = h >>> this.idxBits;
    const F = this.F;
    const W = this.W;
    const rec = this.rec;
    const lines = this.lines;
    const hw = this.hw;
    const ports = hw[F];
    const lid = hw[F + 1];
    let L = this.anchors[h & this.bmask];
    let probes = 0;
    let loss = 0;
    let chain = 0;
    let found = -1;
    outer: while (L !== 0) {
      chain++;
      const off = L * LINE_WORDS;
      const hdr = lines[off];
      const cnt = hdr & 15;
      for (let s = 1; s <= cnt; s++) {
        const tag = lines[off + s];
        probes++;
        if (tag >>> this.idxBits !== check) continue;
        loss++;
        const i = (tag & this.idxMask) - 1;
        const o = i * W;
        if (rec[o + F] !== ports || ((rec[o + F + 4] >>> M_LID_SHIFT) & M_LID) !== lid) continue;
        let k = 0;
        while (k < F && rec[o + k] === hw[k]) k++;
        if (k === F) {
          found = i;
          break outer;
        }
      }
      L = hdr >>> 4;
    }
    st.probe[0] += probes;
    st.losing[0] += loss;
    if (chain > st.max_chain[0]) st.max_chain[0] = chain;
    if (probes > st.max_probe[0]) st.max_probe[0] = probes;
    if (loss > st.max_loss[0]) st.max_loss[0] = loss;
    return found;
  }

  /** The fat-pointer tag of record i whose tuple hashes to h: hash check bits | idx+1. */
  private tagOf(i: number, h: number): number {
    return ((h & ~this.idxMask) | (i + 1)) >>> 0;
  }

  /** Hash record i (tuple in hw) into the full table. */
  hashIn(i: number, h: number): boolean {
    const tag = this.tagOf(i, h);
    const b = h & this.bmask;
    const head = this.anchors[b];
    const lines = this.lines;
    if (head !== 0) {
      const hdr = lines[head * LINE_WORDS];
      const cnt = hdr & 15;
      if (cnt < FATP_NTAGS) {
        lines[head * LINE_WORDS + 1 + cnt] = tag;
        lines[head * LINE_WORDS] = hdr + 1;
        return true;
      }
    }
    const L = this.freeLine;
    if (L === 0) return false;
    this.freeLine = lines[L * LINE_WORDS] >>> 4;
    lines[L * LINE_WORDS] = ((head << 4) | 1) >>> 0;
    lines[L * LINE_WORDS + 1] = tag;
    this.anchors[b] = L;
    this.linesUsed++;
    return true;
  }

  /** Remove record i's tag (tuple hash h) from the full table, keeping the chain packed. */
  hashOut(i: number, h: number): void {
    const tag = this.tagOf(i, h);
    const b = h & this.bmask;
    const lines = this.lines;
    const head = this.anchors[b];
    for (let L = head; L !== 0; L = lines[L * LINE_WORDS] >>> 4) {
      const off = L * LINE_WORDS;
      const cnt = lines[off] & 15;
      for (let s = 1; s <= cnt; s++) {
        if (lines[off + s] !== tag) continue;
        // Fill the hole with the head line's last tag.
        const hoff = head * LINE_WORDS;
        const hdr = lines[hoff];
        const hcnt = hdr & 15;
        lines[off + s] = lines[hoff + hcnt];
        lines[hoff + hcnt] = 0;
        if (hcnt === 1) {
          this.anchors[b] = hdr >>> 4;
          lines[hoff] = (this.freeLine << 4) >>> 0;
          this.freeLine = head;
          this.linesUsed--;
        } else lines[hoff] = hdr - 1;
        return;
      }
    }
  }
}

/** The VTW state of a Vnet. */
export class Vtw implements PcbShadow {
  private readonly V: Vnet;
  readonly mslt: Mslt;
  readonly stats = new VtwStats();
  /** net.inet.tcp.vtw.enable / net.inet6.tcp6.vtw.enable (bit 0 = on). */
  enable4 = 1;
  enable6 = 1;
  /** net.inet.tcp.vtw.entries: records per family (power of two). */
  entries = VTW_ENTRIES_DEFAULT;
  private f4: VtwFam | null = null;
  private f6: VtwFam | null = null;
  private readonly k0: number;
  private readonly k1: number;
  private readonly timer: Callout<Vtw>;

  constructor(V: Vnet, opts: { entries?: number } = {}) {
    this.V = V;
    if (opts.entries !== undefined) {
      if (!validEntries(opts.entries)) throw new RangeError(`vtw: entries must be a power of two in [${VTW_ENTRIES_MIN}, ${VTW_ENTRIES_MAX}]`);
      this.entries = opts.entries;
    }
    this.k0 = V.rng.u32();
    this.k1 = V.rng.u32();
    this.timer = V.callwheel.callout<Vtw>();
    this.mslt = new Mslt(V);
    this.mslt.onEnableChange = () => this.relayout(this.entries);
    const s = V.sysctl;
    s.node('net.inet.tcp.vtw', 'Vestigial TIME_WAIT');
    s.node('net.inet6.tcp6.vtw', 'Vestigial TIME_WAIT');
    s.int('net.inet.tcp.vtw.enable', field(this, 'enable4'), {
      descr: 'Enable Vestigial TIME_WAIT',
      min: 0,
      max: 31,
      onChange: (v) => (v & 1 ? this.fam(false) : undefined),
    });
    s.int('net.inet6.tcp6.vtw.enable', field(this, 'enable6'), {
      descr: 'Enable Vestigial TIME_WAIT',
      min: 0,
      max: 31,
      onChange: (v) => (v & 1 ? this.fam(true) : undefined),
    });
    s.int('net.inet.tcp.vtw.entries', field(this, 'entries'), {
      descr: 'Maximum number of vestigial TIME_WAIT entries',
      min: VTW_ENTRIES_MIN,
      max: VTW_ENTRIES_MAX,
      check: (v) => (validEntries(v) ? null : 'must be a power of two'),
      onChange: (v) => this.relayout(v, true),
    });
    s.struct('net.inet.tcp.vtw.stats', () => this.stats.toJSON(), { descr: 'Vestigial TIME_WAIT statistics (struct vtw_stats)', type: 'vtw_stats' });
    s.struct('net.inet.tcp.vtw.table', () => this.table() as unknown as SysctlStruct, {
      descr: 'Vestigial TIME_WAIT entries (netstat -V)',
      type: 'vtw',
      skip: true,
    });
    V.onDestroy(() => this.timer.stop());
  }

  get enabled4(): boolean {
    return (this.enable4 & 1) !== 0;
  }

  get enabled6(): boolean {
    return (this.enable6 & 1) !== 0;
  }

  /** Live vestiges per family. */
  get count4(): number {
    return this.f4 ? this.f4.live : 0;
  }

  get count6(): number {
    return this.f6 ? this.f6.live : 0;
  }

  /** Bytes held by the VTW tables of a family (0 if not allocated). */
  bytes(v6: boolean): number {
    const f = v6 ? this.f6 : this.f4;
    return f ? f.bytes : 0;
  }

  /** The family's tables, allocating them on first use. */
  private fam(v6: boolean): VtwFam {
    let f = v6 ? this.f6 : this.f4;
    // Tables sized early (entries written) follow an mslt.enable set without the sysctl.
    if (f !== null && f.classless === this.mslt.enable) {
      this.relayout(this.entries);
      f = v6 ? this.f6 : this.f4;
    }
    if (f === null) {
      f = new VtwFam(v6, this.entries, !this.mslt.enable, this.k0, this.k1);
      if (v6) this.f6 = f;
      else this.f4 = f;
    }
    return f;
  }

  private famOf(idx: number): VtwFam {
    const f = idx & VTW_V6 ? this.f6 : this.f4;
    if (f === null) throw new RangeError(`vtw: no such vestige ${idx}`);
    return f;
  }

  // --- insertion ---

  insert4(
    laddr: number,
    lport: number,
    faddr: number,
    fport: number,
    snd_nxt: number,
    rcv_nxt: number,
    rcv_wnd: number,
    ts_recent: number,
    flags: number,
    cls: number,
    lifetimeNs?: number,
  ): number {
    if (!this.enabled4) return -1;
    const f = this.fam(false);
    f.lids.key[0] = laddr >>> 0;
    f.hw[0] = faddr >>> 0;
    f.hw[1] = ((lport << 16) | fport) >>> 0;
    const e = this.V.clock.now() + (lifetimeNs ?? 2 * this.mslt.mslNs(cls));
    return this.insertHw(f, snd_nxt, rcv_nxt, rcv_wnd, ts_recent, flags, cls, e);
  }

  insert6(
    laddr: Uint8Array,
    laoff: number,
    lport: number,
    faddr: Uint8Array,
    faoff: number,
    fport: number,
    snd_nxt: number,
    rcv_nxt: number,
    rcv_wnd: number,
    ts_recent: number,
    flags: number,
    cls: number,
    lifetimeNs?: number,
  ): number {
    if (!this.enabled6) return -1;
    const f = this.fam(true);
    for (let k = 0; k < 4; k++) {
      f.lids.key[k] = be32(laddr, laoff + 4 * k);
      f.hw[k] = be32(faddr, faoff + 4 * k);
    }
    f.hw[4] = ((lport << 16) | fport) >>> 0;
    const e = this.V.clock.now() + (lifetimeNs ?? 2 * this.mslt.mslNs(cls));
    const i = this.insertHw(f, snd_nxt, rcv_nxt, rcv_wnd, ts_recent, flags, cls, e);
    return i < 0 ? i : i | VTW_V6;
  }

  /**
   * Insert the vestige whose local address is in f.lids.key and faddr/ports in f.hw[0..F],
   * expiring at `e` (ns). Returns the arena index or -1.
   */
  private insertHw(f: VtwFam, snd: number, rcv: number, wnd: number, tsr: number, flags: number, cls: number, e: number): number {
    const st = this.stats;
    const ring = f.ringOf(cls & 3);
    if (ring.cap === 0) {
      st.nomem++;
      return -1;
    }
    const F = f.F;
    const lid = f.lids.ref();
    if (lid === 0) {
      st.nomem++;
      return -1;
    }
    f.hw[F + 1] = lid;
    // One hash of the tuple serves the duplicate check and the insertion (a replaced vestige
    // has the same tuple, so the same hash; eviction below saves and restores hw).
    const h = f.hash();
    // Replace a vestige of the same tuple (a stale one must not shadow the new one). Only
    // possible when the local address was already interned (our reference is not its first).
    if (f.lids.refs[lid] > 1) {
      const old = f.find(st, h);
      if (old >= 0) this.remove(f, old, false);
    }
    const ports = f.hw[F];
    // Make room: the oldest slot of the class goes (NetBSD vtw_age; `kill` if live).
    if (ring.n === ring.cap) this.evictOldest(f, ring);
    const i = ring.base + ((ring.hpos + ring.n) % ring.cap);
    ring.n++;
    ring.seqTail++;
    ring.addExpiry(e, this.gran(e - this.V.clock.now()));
    const o = i * f.W;
    const rec = f.rec;
    for (let k = 0; k < F; k++) rec[o + k] = f.hw[k];
    rec[o + F] = ports;
    rec[o + F + 1] = snd >>> 0;
    rec[o + F + 2] = rcv >>> 0;
    rec[o + F + 3] = tsr >>> 0;
    rec[o + F + 4] = ((Math.min(wnd, M_WND) & M_WND) | (lid << M_LID_SHIFT) | ((flags & 0xf) << M_FLAG_SHIFT) | ((cls & 3) << M_CLASS_SHIFT)) >>> 0;
    f.hashIn(i, h);
    f.ports.add(((flags & VTW_F_REUSEPORT ? PK_RP : 0) | (lid << 16) | (ports >>> 16)) >>> 0);
    f.live++;
    st.ins++;
    this.arm();
    return i;
  }

  /** Batch interval for a lifetime: 200 ms, or lifetime/512 for long lifetimes. */
  private gran(lifetime: number): number {
    const g = Math.ceil(lifetime / (BCAP / 2) / VTW_CALLOUT_NS) * VTW_CALLOUT_NS;
    return Math.max(VTW_CALLOUT_NS, g);
  }

  /** Free the oldest slot of a ring (kill if it holds a live vestige). */
  private evictOldest(f: VtwFam, ring: Ring): void {
    const i = ring.base + ring.hpos;
    if (f.rec[i * f.W + f.F + 4] & M_LIVE) {
      this.saveHw(f);
      this.remove(f, i, true);
      this.restoreHw(f);
    }
    this.popHead(ring);
  }

  private readonly hwSave = new Uint32Array(8);
  private readonly keySave = new Uint32Array(4);

  private saveHw(f: VtwFam): void {
    this.hwSave.set(f.hw);
    this.keySave.set(f.lids.key);
  }

  private restoreHw(f: VtwFam): void {
    for (let k = 0; k < f.hw.length; k++) f.hw[k] = this.hwSave[k];
    for (let k = 0; k < f.F; k++) f.lids.key[k] = this.keySave[k];
  }

  private popHead(ring: Ring): void {
    ring.hpos = ring.hpos + 1 === ring.cap ? 0 : ring.hpos + 1;
    ring.n--;
    ring.seqHead++;
    while (ring.bcount > 0 && ring.bend[ring.bhead] <= ring.seqHead) {
      ring.bhead = (ring.bhead + 1) % BCAP;
      ring.bcount--;
    }
  }

  /** Unhash record i and mark its slot free (a hole until the ring's oldest hand passes). */
  private remove(f: VtwFam, i: number, kill: boolean): void {
    const o = i * f.W;
    const misc = f.rec[o + f.F + 4];
    const lid = (misc >>> M_LID_SHIFT) & M_LID;
    f.loadHw(i);
    f.hashOut(i, f.hash());
    f.ports.sub(((((misc >>> M_FLAG_SHIFT) & VTW_F_REUSEPORT) !== 0 ? PK_RP : 0) | (lid << 16) | (f.rec[o + f.F] >>> 16)) >>> 0);
    f.lids.unref(lid);
    f.rec[o + f.F + 4] = misc & ~M_LIVE;
    f.live--;
    if (kill) this.stats.kill++;
    else this.stats.del++;
  }

  // --- lookup ---

  lookup4(laddr: number, lport: number, faddr: number, fport: number): number {
    const st = this.stats;
    st.look[0]++;
    const f = this.f4;
    if (f === null || f.live === 0) {
      st.miss[0]++;
      return -1;
    }
    f.lids.key[0] = laddr >>> 0;
    const lid = f.lids.find();
    if (lid === 0) {
      st.miss[0]++;
      return -1;
    }
    f.hw[0] = faddr >>> 0;
    f.hw[1] = ((lport << 16) | fport) >>> 0;
    f.hw[2] = lid;
    const i = f.find(st);
    if (i < 0) st.miss[0]++;
    else st.hit[0]++;
    return i;
  }

  lookup6(laddr: Uint8Array, laoff: number, lport: number, faddr: Uint8Array, faoff: number, fport: number): number {
    const st = this.stats;
    st.look[0]++;
    const f = this.f6;
    if (f === null || f.live === 0) {
      st.miss[0]++;
      return -1;
    }
    const key = f.lids.key;
    key[0] = be32(laddr, laoff);
    key[1] = be32(laddr, laoff + 4);
    key[2] = be32(laddr, laoff + 8);
    key[3] = be32(laddr, laoff + 12);
    const lid = f.lids.find();
    if (lid === 0) {
      st.miss[0]++;
      return -1;
    }
    const hw = f.hw;
    hw[0] = be32(faddr, faoff);
    hw[1] = be32(faddr, faoff + 4);
    hw[2] = be32(faddr, faoff + 8);
    hw[3] = be32(faddr, faoff + 12);
    hw[4] = ((lport << 16) | fport) >>> 0;
    hw[5] = lid;
    const i = f.find(st);
    if (i < 0) {
      st.miss[0]++;
      return -1;
    }
    st.hit[0]++;
    return i | VTW_V6;
  }

  /**
   * Vestiges holding local port `lport` on `laddr` (unspecified = any local address, the
   * wildcard bind). With `reuseport`, only those without SO_REUSEPORT count (NetBSD
   * in_pcbbind_port: a vestige is no obstacle when both sides set SO_REUSEPORT).
   */
  portInUse(family: number, laddr: number | Uint8Array, lport: number, reuseport = false, laoff = 0): number {
    const st = this.stats;
    st.look[1]++;
    const f = family === AF_INET6 ? this.f6 : this.f4;
    let n = 0;
    if (f !== null && f.live !== 0) {
      let wild: boolean;
      if (family === AF_INET6) {
        const a = laddr as Uint8Array;
        let z = true;
        for (let k = 0; k < 4; k++) {
          const w = be32(a, laoff + 4 * k);
          f.lids.key[k] = w;
          if (w !== 0) z = false;
        }
        wild = z;
      } else {
        f.lids.key[0] = (laddr as number) >>> 0;
        wild = (laddr as number) >>> 0 === 0;
      }
      if (wild) {
        for (let j = 0; j < f.lids.nlive; j++) n += this.portCount(f, f.lids.live[j], lport, reuseport);
      } else {
        const lid = f.lids.find();
        if (lid !== 0) n = this.portCount(f, lid, lport, reuseport);
      }
    }
    if (n > 0) st.hit[1]++;
    else st.miss[1]++;
    return n;
  }

  private portCount(f: VtwFam, lid: number, lport: number, reuseport: boolean): number {
    const key = ((lid << 16) | lport) >>> 0;
    const n = f.ports.count(key, this.stats);
    return reuseport ? n : n + f.ports.count(key | PK_RP, this.stats);
  }

  // --- PcbShadow (in_pcb.ts) ---

  /** Is the 4-tuple held by a vestige (connect-time uniqueness, in_pcb_lport_dest)? */
  tupleInUse(family: number, faddr: number | Uint8Array, fport: number, laddr: number | Uint8Array, lport: number): boolean {
    if (family === AF_INET) return this.lookup4(laddr as number, lport, faddr as number, fport) >= 0;
    if (family === AF_INET6) return this.lookup6(laddr as Uint8Array, 0, lport, faddr as Uint8Array, 0, fport) >= 0;
    return false;
  }

  /**
   * bind() against vestiges, as against a full TIME_WAIT PCB in in_pcb.ts bindCheck: a
   * TIME_WAIT PCB is connected, so only a wildcard lookup (no SO_REUSEADDR/SO_REUSEPORT on
   * the binding socket) finds it, and then it conflicts (the binding socket has no
   * SO_REUSEPORT to share). A dual-stack IPv6 socket binding :: must also ask with AF_INET.
   */
  bindConflict(family: number, laddr: number | Uint8Array, lport: number, so_options: number, wildcard: boolean): boolean {
    if (!wildcard) return false;
    return this.portInUse(family, laddr, lport, (so_options & (SO_REUSEPORT | SO_REUSEPORT_LB)) !== 0) > 0;
  }

  // --- changes ---

  /** Delete a vestige (RST at rcv_nxt, a new SYN taking the tuple over). */
  del(idx: number): void {
    const f = this.famOf(idx);
    const i = idx & ~VTW_V6;
    if (i < 0 || i >= f.entries || !(f.rec[i * f.W + f.F + 4] & M_LIVE)) return;
    this.remove(f, i, false);
  }

  /**
   * Restart 2×MSL (a retransmitted FIN): the vestige becomes the youngest of its class
   * under a new index, which is returned (NetBSD vtw_restart). -1 if it could not be
   * re-queued (then it is gone).
   */
  restart(idx: number, lifetimeNs?: number): number {
    const f = this.famOf(idx);
    const i = idx & ~VTW_V6;
    const o = i * f.W;
    const F = f.F;
    const misc = f.rec[o + F + 4];
    if (!(misc & M_LIVE)) return -1;
    const lid = (misc >>> M_LID_SHIFT) & M_LID;
    for (let k = 0; k < F; k++) f.lids.key[k] = f.lids.addr[lid * F + k];
    for (let k = 0; k <= F; k++) f.hw[k] = f.rec[o + k];
    const snd = f.rec[o + F + 1];
    const rcv = f.rec[o + F + 2];
    const tsr = f.rec[o + F + 3];
    const cls = misc >>> M_CLASS_SHIFT;
    const flags = (misc >>> M_FLAG_SHIFT) & 0xf;
    const e = this.V.clock.now() + (lifetimeNs ?? 2 * this.mslt.mslNs(cls));
    const r = this.insertHw(f, snd, rcv, misc & M_WND, tsr, flags, cls, e);
    return r < 0 || !f.v6 ? r : r | VTW_V6;
  }

  /** Update ts_recent (RFC 7323 §4.3 on an acceptable segment). */
  set_ts_recent(idx: number, v: number): void {
    const f = this.famOf(idx);
    f.rec[(idx & ~VTW_V6) * f.W + f.F + 3] = v >>> 0;
  }

  // --- expiry ---

  /** Free every vestige whose 2×MSL has run out (vtw_tick's work), oldest first. */
  expire(): void {
    const now = this.V.clock.now();
    for (const f of [this.f4, this.f6]) {
      if (f === null) continue;
      for (const ring of f.rings) {
        while (ring.bcount > 0 && ring.bexp[ring.bhead] <= now) {
          const end = ring.bend[ring.bhead];
          while (ring.seqHead < end) {
            const i = ring.base + ring.hpos;
            if (f.rec[i * f.W + f.F + 4] & M_LIVE) this.remove(f, i, false);
            this.popHead(ring);
          }
        }
      }
    }
  }

  /** Used slots (live and holes) across both families: the callout runs while any exist. */
  private used(): number {
    let n = 0;
    for (const f of [this.f4, this.f6]) if (f) for (const r of f.rings) n += r.n;
    return n;
  }

  private arm(): void {
    if (this.timer.pending()) return;
    // Aligned to multiples of 200 ms of the Vnet clock, so that batching expiries by 200 ms
    // interval never delays an entry past the run that per-entry expiry would have used.
    const now = this.V.clock.now();
    this.timer.resetNs(VTW_CALLOUT_NS - (now % VTW_CALLOUT_NS), vtwTick, this);
  }

  /** The callout handler (vtw_tick). */
  tick(): void {
    if (!this.timer.ack()) return;
    this.expire();
    if (this.used() > 0) this.arm();
  }

  /**
   * Re-lay out the tables (entries changed, or MSLT switched between classless and
   * per-class rings): live vestiges are re-inserted in expiry order with their expiry kept;
   * if the new rings are smaller the oldest are killed. `size` (a write of entries) also
   * allocates the tables of enabled families that have none yet.
   */
  private relayout(entries: number, size = false): void {
    for (const v6 of [false, true]) {
      const f = v6 ? this.f6 : this.f4;
      if (f === null) {
        // Writing entries sizes the tables now (as writing enable does, NetBSD-style), so the
        // large typed-array allocation — and the full GC V8 runs when external memory grows by
        // tens of MB — happen at configuration time, not under the first connection to close.
        if (size && (v6 ? this.enabled6 : this.enabled4)) this.fam(v6);
        continue;
      }
      const items: { e: number; i: number }[] = [];
      for (const ring of f.rings) {
        for (let k = 0; k < ring.n; k++) {
          const i = ring.base + ((ring.hpos + k) % ring.cap);
          if (f.rec[i * f.W + f.F + 4] & M_LIVE) items.push({ e: ring.expiryOf(ring.seqHead + k), i });
        }
      }
      items.sort((a, b) => a.e - b.e);
      const nf = new VtwFam(v6, entries, !this.mslt.enable, this.k0, this.k1);
      if (v6) this.f6 = nf;
      else this.f4 = nf;
      const st = this.stats;
      const ins = st.ins;
      for (const { e, i } of items) {
        const o = i * f.W;
        const F = f.F;
        const misc = f.rec[o + F + 4];
        const lid = (misc >>> M_LID_SHIFT) & M_LID;
        for (let k = 0; k < F; k++) nf.lids.key[k] = f.lids.addr[lid * F + k];
        for (let k = 0; k <= F; k++) nf.hw[k] = f.rec[o + k];
        this.insertHw(nf, f.rec[o + F + 1], f.rec[o + F + 2], misc & M_WND, f.rec[o + F + 3], (misc >>> M_FLAG_SHIFT) & 0xf, misc >>> M_CLASS_SHIFT, e);
      }
      st.ins = ins; // re-insertions are not new vestiges
    }
  }

  // --- accessors ---

  private m(idx: number): number {
    const f = this.famOf(idx);
    return f.rec[(idx & ~VTW_V6) * f.W + f.F + 4];
  }

  private w(idx: number, k: number): number {
    const f = this.famOf(idx);
    return f.rec[(idx & ~VTW_V6) * f.W + f.F + k];
  }

  isV6(idx: number): boolean {
    return (idx & VTW_V6) !== 0;
  }

  isLive(idx: number): boolean {
    const f = idx & VTW_V6 ? this.f6 : this.f4;
    const i = idx & ~VTW_V6;
    return f !== null && i >= 0 && i < f.entries && (f.rec[i * f.W + f.F + 4] & M_LIVE) !== 0;
  }

  lport(idx: number): number {
    return this.w(idx, 0) >>> 16;
  }

  fport(idx: number): number {
    return this.w(idx, 0) & 0xffff;
  }

  snd_nxt(idx: number): number {
    return this.w(idx, 1);
  }

  rcv_nxt(idx: number): number {
    return this.w(idx, 2);
  }

  ts_recent(idx: number): number {
    return this.w(idx, 3);
  }

  /** The window field to advertise (already scaled by rcv_scale). */
  rcv_wnd(idx: number): number {
    return this.m(idx) & M_WND;
  }

  private flag(idx: number, fl: number): boolean {
    return ((this.m(idx) >>> M_FLAG_SHIFT) & fl) !== 0;
  }

  hasTimestamps(idx: number): boolean {
    return this.flag(idx, VTW_F_TS);
  }

  reuseAddr(idx: number): boolean {
    return this.flag(idx, VTW_F_REUSEADDR);
  }

  reusePort(idx: number): boolean {
    return this.flag(idx, VTW_F_REUSEPORT);
  }

  v6only(idx: number): boolean {
    return this.flag(idx, VTW_F_V6ONLY);
  }

  mslClass(idx: number): number {
    return this.m(idx) >>> M_CLASS_SHIFT;
  }

  /** When the vestige expires (Vnet clock, ns): the end of its expiry batch. */
  expireAt(idx: number): number {
    const f = this.famOf(idx);
    const i = idx & ~VTW_V6;
    for (const ring of f.rings) {
      if (ring.cap === 0 || i < ring.base || i >= ring.base + ring.cap) continue;
      const k = (i - ring.base - ring.hpos + ring.cap) % ring.cap;
      return ring.expiryOf(ring.seqHead + k);
    }
    return 0;
  }

  laddr4(idx: number): number {
    const f = this.famOf(idx);
    return f.lids.addr[(this.m(idx) >>> M_LID_SHIFT) & M_LID];
  }

  faddr4(idx: number): number {
    const f = this.famOf(idx);
    return f.rec[(idx & ~VTW_V6) * f.W];
  }

  laddr6(idx: number, out: Uint8Array, off = 0): Uint8Array {
    const f = this.famOf(idx);
    const lid = (this.m(idx) >>> M_LID_SHIFT) & M_LID;
    for (let k = 0; k < 4; k++) put32(out, off + 4 * k, f.lids.addr[lid * 4 + k]);
    return out;
  }

  faddr6(idx: number, out: Uint8Array, off = 0): Uint8Array {
    const f = this.famOf(idx);
    const o = (idx & ~VTW_V6) * f.W;
    for (let k = 0; k < 4; k++) put32(out, off + 4 * k, f.rec[o + k]);
    return out;
  }

  /** Call fn for every live vestige, oldest first per class (netstat -a). */
  forEach(fn: (idx: number) => void): void {
    for (const f of [this.f4, this.f6]) {
      if (f === null) continue;
      for (const ring of f.rings) {
        for (let k = 0; k < ring.n; k++) {
          const i = ring.base + ((ring.hpos + k) % ring.cap);
          if (f.rec[i * f.W + f.F + 4] & M_LIVE) fn(f.v6 ? i | VTW_V6 : i);
        }
      }
    }
  }

  /** netstat -V: the tables, their classes and every vestige. */
  table(): VtwTable {
    const now = this.V.clock.now();
    const fams: VtwTableFamily[] = [];
    for (const f of [this.f4, this.f6]) {
      if (f === null) continue;
      const list: VtwTableEntry[] = [];
      const b16 = new Uint8Array(16);
      const b16f = new Uint8Array(16);
      this.forEachIn(f, (idx) => {
        list.push({
          idx,
          class: MSLT_CLASS_NAMES[this.mslClass(idx)],
          laddr: f.v6 ? ntop6(this.laddr6(idx, b16)) : ntoa(this.laddr4(idx)),
          lport: this.lport(idx),
          faddr: f.v6 ? ntop6(this.faddr6(idx, b16f)) : ntoa(this.faddr4(idx)),
          fport: this.fport(idx),
          snd_nxt: this.snd_nxt(idx),
          rcv_nxt: this.rcv_nxt(idx),
          rcv_wnd: this.rcv_wnd(idx),
          ts_recent: this.hasTimestamps(idx) ? this.ts_recent(idx) : null,
          reuse_addr: this.reuseAddr(idx),
          reuse_port: this.reusePort(idx),
          v6only: this.v6only(idx),
          expire_ms: Math.max(0, Math.round((this.expireAt(idx) - now) / 1e6)),
        });
      });
      fams.push({
        family: f.v6 ? 'inet6' : 'inet',
        entries: f.entries,
        live: f.live,
        bytes: f.bytes,
        fatp_lines: f.nlines,
        fatp_used: f.linesUsed,
        buckets: f.nb,
        classes: f.rings.map((r, c) => ({ class: MSLT_CLASS_NAMES[c], cap: r.cap, used: r.n, msl_ms: this.mslt.mslTicks(c) * 500 })).filter((c) => c.cap > 0),
        list,
      });
    }
    return { stats: this.stats.toJSON(), families: fams };
  }

  private forEachIn(f: VtwFam, fn: (idx: number) => void): void {
    for (const ring of f.rings) {
      for (let k = 0; k < ring.n; k++) {
        const i = ring.base + ((ring.hpos + k) % ring.cap);
        if (f.rec[i * f.W + f.F + 4] & M_LIVE) fn(f.v6 ? i | VTW_V6 : i);
      }
    }
  }
}

export interface VtwTableEntry {
  idx: number;
  class: string;
  laddr: string;
  lport: number;
  faddr: string;
  fport: number;
  snd_nxt: number;
  rcv_nxt: number;
  rcv_wnd: number;
  ts_recent: number | null;
  reuse_addr: boolean;
  reuse_port: boolean;
  v6only: boolean;
  expire_ms: number;
}

export interface VtwTableFamily {
  family: 'inet' | 'inet6';
  entries: number;
  live: number;
  bytes: number;
  fatp_lines: number;
  fatp_used: number;
  buckets: number;
  classes: { class: string; cap: number; used: number; msl_ms: number }[];
  list: VtwTableEntry[];
}

export interface VtwTable {
  stats: Record<string, number | number[]>;
  families: VtwTableFamily[];
}

function validEntries(v: number): boolean {
  return Number.isInteger(v) && v >= VTW_ENTRIES_MIN && v <= VTW_ENTRIES_MAX && (v & (v - 1)) === 0;
}

function vtwTick(vtw: Vtw): void {
  vtw.tick();
}

/** Create the VTW (and MSLT) state of a Vnet; the TCP layer stores it as V.vtw. */
export function vtw_init(V: Vnet, opts: { entries?: number } = {}): Vtw {
  return new Vtw(V, opts);
}
