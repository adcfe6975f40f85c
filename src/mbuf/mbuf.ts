/*
 * mbufs: packet buffers (BSD sys/sys/mbuf.h, kern/uipc_mbuf.c).
 *
 * A packet is a chain of mbufs linked by m_next; packets in a queue are linked by
 * m_nextpkt. Each mbuf is a window (m_data, m_len) onto storage:
 *   - its own small internal array (MLEN bytes), or
 *   - a reference-counted cluster (M_EXT) from one of the cluster zones (2 KiB, 4 KiB,
 *     9 KiB, 16 KiB), shared between mbufs by m_copym() without copying bytes.
 * The first mbuf of a packet carries the packet header (M_PKTHDR): total length, receiving
 * interface, flow id, checksum-offload flags, VLAN tag, receive/transmit timestamps (ns) and
 * a list of tags.
 *
 * Headers are prepended into leading space (M_PREPEND) and stripped by advancing m_data
 * (m_adj), so a packet travels the stack without being copied. Shared storage is read-only:
 * a writer must check M_WRITABLE() first.
 *
 * Mbuf objects and clusters come from the owning Vnet's zones and go back there when freed
 * (an mbuf that crosses to another Vnet over an epair returns to its origin zone). Nothing
 * on the steady-state path allocates.
 *
 * Offsets are numbers; mtod() is spelled (m.m_buf, m.m_data). Code that needs a byte view
 * uses m.m_buf directly with m.m_data as the base offset.
 */

import type { Ifnet } from '../net/if.js';
import type { Zone, ZoneRegistry } from '../kern/uma.js';

export const MSIZE = 256;
export const MLEN = 224; // data bytes in an mbuf without a packet header (LP64 FreeBSD)
export const MHLEN = 168; // data bytes in an mbuf with a packet header
export const MINCLSIZE = MHLEN + 1;
export const MCLBYTES = 2048;
export const MJUMPAGESIZE = 4096;
export const MJUM9BYTES = 9216;
export const MJUM16BYTES = 16384;
/** Room left in front of data in a fresh header mbuf/cluster for link headers (max_linkhdr). */
export const MAX_LINKHDR = 16;

// m_flags
export const M_EXT = 0x00000001; // storage is a cluster
export const M_PKTHDR = 0x00000002; // start of a packet
export const M_EOR = 0x00000004; // end of record
export const M_RDONLY = 0x00000008; // storage is read-only
export const M_BCAST = 0x00000010; // link-level broadcast
export const M_MCAST = 0x00000020; // link-level multicast
export const M_PROMISC = 0x00000040; // not addressed to us
export const M_VLANTAG = 0x00000080; // ether_vtag is valid
export const M_LOOP = 0x00000100; // looped back (if_simloop)
export const M_FRAG = 0x00001000; // packet is a fragment of a larger packet
export const M_FIRSTFRAG = 0x00002000;
export const M_LASTFRAG = 0x00004000;
export const M_NOTIFICATION = 0x00008000;
export const M_COPYFLAGS = M_PKTHDR | M_EOR | M_RDONLY | M_BCAST | M_MCAST | M_PROMISC | M_VLANTAG | M_LOOP | M_FRAG | M_FIRSTFRAG | M_LASTFRAG;

// csum_flags: transmit requests (what the stack asks the interface to fill in)
export const CSUM_IP = 0x00000001; // IPv4 header checksum
export const CSUM_IP_UDP = 0x00000002;
export const CSUM_IP_TCP = 0x00000004;
export const CSUM_IP_TSO = 0x00000010;
export const CSUM_IP6_UDP = 0x00000200;
export const CSUM_IP6_TCP = 0x00000400;
export const CSUM_IP6_TSO = 0x00001000;
export const CSUM_UDP = CSUM_IP_UDP;
export const CSUM_TCP = CSUM_IP_TCP;
export const CSUM_DELAY_DATA = CSUM_IP_TCP | CSUM_IP_UDP;
export const CSUM_DELAY_DATA_IPV6 = CSUM_IP6_TCP | CSUM_IP6_UDP;
export const CSUM_DELAY_IP = CSUM_IP;
// csum_flags: receive results (what the interface has verified)
export const CSUM_L3_CALC = 0x01000000;
export const CSUM_L3_VALID = 0x02000000;
export const CSUM_L4_CALC = 0x04000000;
export const CSUM_L4_VALID = 0x08000000;
export const CSUM_IP_CHECKED = CSUM_L3_CALC;
export const CSUM_IP_VALID = CSUM_L3_VALID;
export const CSUM_DATA_VALID = CSUM_L4_VALID;
export const CSUM_PSEUDO_HDR = CSUM_L4_CALC;

/** A packet tag (m_tag): per-packet metadata that travels with the header. */
export interface MTag {
  type: number;
  next: MTag | null;
  data: unknown;
}

/** Reference-counted cluster storage. */
export class MbufCluster {
  readonly buf: Uint8Array;
  refcnt = 0;
  readonly zone: Zone<MbufCluster> | null;
  constructor(buf: Uint8Array, zone: Zone<MbufCluster> | null) {
    this.buf = buf;
    this.zone = zone;
  }
}

export class Mbuf {
  // --- m_hdr ---
  m_next: Mbuf | null = null;
  m_nextpkt: Mbuf | null = null;
  /** Storage this mbuf's data lives in (m_dat or m_ext.buf). */
  m_buf: Uint8Array;
  /** Offset of the first data byte in m_buf. */
  m_data = 0;
  m_len = 0;
  m_flags = 0;
  m_ext: MbufCluster | null = null;
  /** Internal storage (MLEN bytes), used when not M_EXT. */
  readonly m_dat: Uint8Array;
  readonly m_zone: Zone<Mbuf> | null;
  // --- m_pkthdr (valid when M_PKTHDR) ---
  len = 0;
  rcvif: Ifnet | null = null;
  flowid = 0;
  rsstype = 0;
  csum_flags = 0;
  /** For CSUM_L4_*: the checksum value, or the offset of the checksum field on transmit. */
  csum_data = 0;
  /**
   * Offloaded checksums a software link (epair) passed on without computing: the CSUM_* bits
   * and their csum_data as sent. Only packet taps read it, to show the frame as a NIC would
   * have put it on the wire.
   */
  csum_unfilled = 0;
  csum_unfilled_data = 0;
  ether_vtag = 0;
  /** Receive timestamp (ns on the receiving Vnet's clock), 0 if none. */
  rcv_tstmp = 0;
  /** Transmit timestamp (ns on the sending Vnet's clock), 0 if none. */
  snd_tstmp = 0;
  /** Lengths of the link, network and transport headers, when known. */
  l2hlen = 0;
  l3hlen = 0;
  l4hlen = 0;
  /** TSO segment size (payload per wire segment) when the stack sends a super-segment. */
  tso_segsz = 0;
  tags: MTag | null = null;

  constructor(dat: Uint8Array, zone: Zone<Mbuf> | null) {
    this.m_dat = dat;
    this.m_buf = dat;
    this.m_zone = zone;
  }

  /** Reset the packet header fields (m_pkthdr_init). */
  pkthdrInit(): void {
    this.len = 0;
    this.rcvif = null;
    this.flowid = 0;
    this.rsstype = 0;
    this.csum_flags = 0;
    this.csum_data = 0;
    this.csum_unfilled = 0;
    this.csum_unfilled_data = 0;
    this.ether_vtag = 0;
    this.rcv_tstmp = 0;
    this.snd_tstmp = 0;
    this.l2hlen = this.l3hlen = this.l4hlen = 0;
    this.tso_segsz = 0;
    this.tags = null;
  }

  /** A fresh Uint8Array view of this mbuf's data (allocates; not for hot paths). */
  mtod(): Uint8Array {
    return this.m_buf.subarray(this.m_data, this.m_data + this.m_len);
  }
}

/** Size of the storage an mbuf's data lives in. */
export function M_SIZE(m: Mbuf): number {
  return m.m_buf.length;
}

/** True if the storage may be written (not shared, not read-only). */
export function M_WRITABLE(m: Mbuf): boolean {
  return (m.m_flags & M_RDONLY) === 0 && (m.m_ext === null || m.m_ext.refcnt === 1);
}

export function M_LEADINGSPACE(m: Mbuf): number {
  return M_WRITABLE(m) ? m.m_data : 0;
}

export function M_TRAILINGSPACE(m: Mbuf): number {
  return M_WRITABLE(m) ? m.m_buf.length - (m.m_data + m.m_len) : 0;
}

/**
 * Copy packet-header fields from `from` to `to` (m_dup_pkthdr without tags deep copy).
 * M_RDONLY describes storage, not the packet: `to` keeps its own.
 */
export function m_dup_pkthdr(to: Mbuf, from: Mbuf): void {
  to.m_flags = (to.m_flags & (M_EXT | M_RDONLY)) | (from.m_flags & M_COPYFLAGS & ~M_RDONLY) | M_PKTHDR;
  to.len = from.len;
  to.rcvif = from.rcvif;
  to.flowid = from.flowid;
  to.rsstype = from.rsstype;
  to.csum_flags = from.csum_flags;
  to.csum_data = from.csum_data;
  to.csum_unfilled = from.csum_unfilled;
  to.csum_unfilled_data = from.csum_unfilled_data;
  to.ether_vtag = from.ether_vtag;
  to.rcv_tstmp = from.rcv_tstmp;
  to.snd_tstmp = from.snd_tstmp;
  to.l2hlen = from.l2hlen;
  to.l3hlen = from.l3hlen;
  to.l4hlen = from.l4hlen;
  to.tso_segsz = from.tso_segsz;
  to.tags = from.tags;
}

/** Move the packet header from `from` to `to` (M_MOVE_PKTHDR). */
export function m_move_pkthdr(to: Mbuf, from: Mbuf): void {
  m_dup_pkthdr(to, from);
  from.m_flags &= ~M_PKTHDR;
  from.tags = null;
  from.rcvif = null;
}

/** Free one mbuf; returns its successor (m_free). */
export function m_free(m: Mbuf): Mbuf | null {
  const n = m.m_next;
  const ext = m.m_ext;
  if (ext !== null) {
    if (--ext.refcnt === 0 && ext.zone !== null) ext.zone.free(ext);
    m.m_ext = null;
  }
  m.m_next = null;
  m.m_nextpkt = null;
  m.m_buf = m.m_dat;
  m.m_data = 0;
  m.m_len = 0;
  m.m_flags = 0;
  m.rcvif = null;
  m.tags = null;
  if (m.m_zone !== null) m.m_zone.free(m);
  return n;
}

/** Free a whole chain (m_freem). */
export function m_freem(m: Mbuf | null): void {
  while (m !== null) m = m_free(m);
}

/** Free a queue of packets linked by m_nextpkt. */
export function m_freem_list(m: Mbuf | null): void {
  while (m !== null) {
    const n = m.m_nextpkt;
    m.m_nextpkt = null;
    m_freem(m);
    m = n;
  }
}

/** Total data length of a chain (m_length). */
export function m_length(m: Mbuf | null): number {
  let n = 0;
  for (; m !== null; m = m.m_next) n += m.m_len;
  return n;
}

/** The last mbuf of a chain (m_last). */
export function m_last(m: Mbuf): Mbuf {
  while (m.m_next !== null) m = m.m_next;
  return m;
}

/** Recompute the header length from the chain (m_fixhdr). */
export function m_fixhdr(m: Mbuf): number {
  m.len = m_length(m);
  return m.len;
}

/**
 * Trim `req` bytes from the head (req > 0) or tail (req < 0) of a packet (m_adj).
 * Emptied mbufs stay in the chain with m_len 0, as in BSD.
 */
export function m_adj(mp: Mbuf, req: number): void {
  if (req >= 0) {
    let len = req;
    let m: Mbuf | null = mp;
    while (m !== null && len > 0) {
      if (m.m_len <= len) {
        len -= m.m_len;
        m.m_data += m.m_len;
        m.m_len = 0;
        m = m.m_next;
      } else {
        m.m_len -= len;
        m.m_data += len;
        len = 0;
      }
    }
    if (mp.m_flags & M_PKTHDR) mp.len -= req - len;
  } else {
    let len = -req;
    const total = m_length(mp);
    let keep = Math.max(0, total - len);
    if (mp.m_flags & M_PKTHDR) mp.len = keep;
    for (let m: Mbuf | null = mp; m !== null; m = m.m_next) {
      if (m.m_len >= keep) {
        m.m_len = keep;
        keep = 0;
        for (let r = m.m_next; r !== null; r = r.m_next) r.m_len = 0;
        break;
      }
      keep -= m.m_len;
    }
    len = 0;
  }
}

/** Copy `len` bytes starting at `off` in the chain into dst[dstOff...] (m_copydata). */
export function m_copydata(m: Mbuf, off: number, len: number, dst: Uint8Array, dstOff = 0): void {
  let mm: Mbuf | null = m;
  while (mm !== null && off >= mm.m_len) {
    off -= mm.m_len;
    mm = mm.m_next;
  }
  while (len > 0) {
    if (mm === null) throw new RangeError('m_copydata: chain too short');
    const n = Math.min(mm.m_len - off, len);
    dst.set(mm.m_buf.subarray(mm.m_data + off, mm.m_data + off + n), dstOff);
    dstOff += n;
    len -= n;
    off = 0;
    mm = mm.m_next;
  }
}

/** Read one byte at `off` in the chain. */
export function m_byte(m: Mbuf, off: number): number {
  let mm: Mbuf | null = m;
  while (mm !== null) {
    if (off < mm.m_len) return mm.m_buf[mm.m_data + off] as number;
    off -= mm.m_len;
    mm = mm.m_next;
  }
  throw new RangeError('m_byte: offset beyond chain');
}

/** Concatenate chain `n` to `m` (m_cat); `n` loses its packet header. */
export function m_cat(m: Mbuf, n: Mbuf): void {
  const last = m_last(m);
  n.m_flags &= ~M_PKTHDR;
  last.m_next = n;
}

/** Iterate over the data ranges of a chain from `off` for `len` bytes (m_apply). */
export function m_apply<S>(m: Mbuf, off: number, len: number, f: (state: S, buf: Uint8Array, start: number, n: number) => S, state: S): S {
  let mm: Mbuf | null = m;
  while (mm !== null && off >= mm.m_len) {
    off -= mm.m_len;
    mm = mm.m_next;
  }
  while (len > 0 && mm !== null) {
    const n = Math.min(mm.m_len - off, len);
    state = f(state, mm.m_buf, mm.m_data + off, n);
    len -= n;
    off = 0;
    mm = mm.m_next;
  }
  return state;
}

export interface MbufLimits {
  nmbufs: number;
  nmbclusters: number;
  nmbjumbop: number;
  nmbjumbo9: number;
  nmbjumbo16: number;
}

/** Limits derived from a memory budget as FreeBSD does from maxmbufmem (kern_mbuf.c). */
export function mbufLimitsFor(maxmbufmem: number): MbufLimits {
  const nmbclusters = Math.floor(maxmbufmem / MCLBYTES / 4);
  const nmbjumbop = Math.floor(maxmbufmem / MJUMPAGESIZE / 4);
  const nmbjumbo9 = Math.floor(maxmbufmem / MJUM9BYTES / 6);
  const nmbjumbo16 = Math.floor(maxmbufmem / MJUM16BYTES / 6);
  const nmbufs = Math.max(Math.floor(maxmbufmem / MSIZE / 5), nmbclusters + nmbjumbop + nmbjumbo9 + nmbjumbo16);
  return { nmbufs, nmbclusters, nmbjumbop, nmbjumbo9, nmbjumbo16 };
}

/** Number of items carved from one ArrayBuffer slab per zone refill. */
const SLAB_BYTES = 256 * 1024;

function slabAllocator(size: number): () => Uint8Array {
  let slab: ArrayBuffer | null = null;
  let off = 0;
  return () => {
    if (slab === null || off + size > slab.byteLength) {
      slab = new ArrayBuffer(Math.max(SLAB_BYTES, size));
      off = 0;
    }
    const u = new Uint8Array(slab, off, size);
    off += size;
    return u;
  };
}

/**
 * The mbuf allocator of one Vnet: the `mbuf` zone and the cluster zones, with FreeBSD's
 * names. Allocation failures return null and are counted by the zone ("requests denied").
 */
export class Mbufs {
  readonly zone_mbuf: Zone<Mbuf>;
  readonly zone_clust: Zone<MbufCluster>;
  readonly zone_jumbop: Zone<MbufCluster>;
  readonly zone_jumbo9: Zone<MbufCluster>;
  readonly zone_jumbo16: Zone<MbufCluster>;
  /** Count of packets dropped anywhere because an mbuf could not be had (m_drops). */
  drops = 0;

  constructor(zones: ZoneRegistry, limits: MbufLimits) {
    const dat = slabAllocator(MLEN);
    const mz: { z: Zone<Mbuf> | null } = { z: null };
    this.zone_mbuf = zones.create<Mbuf>('mbuf', MSIZE, limits.nmbufs, () => new Mbuf(dat(), mz.z));
    mz.z = this.zone_mbuf;
    this.zone_clust = this.clusterZone(zones, 'mbuf_cluster', MCLBYTES, limits.nmbclusters);
    this.zone_jumbop = this.clusterZone(zones, 'mbuf_jumbo_page', MJUMPAGESIZE, limits.nmbjumbop);
    this.zone_jumbo9 = this.clusterZone(zones, 'mbuf_jumbo_9k', MJUM9BYTES, limits.nmbjumbo9);
    this.zone_jumbo16 = this.clusterZone(zones, 'mbuf_jumbo_16k', MJUM16BYTES, limits.nmbjumbo16);
  }

  private clusterZone(zones: ZoneRegistry, name: string, size: number, limit: number): Zone<MbufCluster> {
    const alloc = slabAllocator(size);
    const holder: { z: Zone<MbufCluster> | null } = { z: null };
    const z = zones.create<MbufCluster>(name, size, limit, () => new MbufCluster(alloc(), holder.z));
    holder.z = z;
    return z;
  }

  /** A plain mbuf (m_get), or null. */
  get(): Mbuf | null {
    const m = this.zone_mbuf.alloc();
    if (m === null) return null;
    m.m_buf = m.m_dat;
    m.m_data = 0;
    m.m_len = 0;
    m.m_flags = 0;
    m.m_next = null;
    m.m_nextpkt = null;
    return m;
  }

  /** A packet-header mbuf (m_gethdr), or null. */
  gethdr(): Mbuf | null {
    const m = this.get();
    if (m === null) return null;
    m.m_flags = M_PKTHDR;
    m.pkthdrInit();
    return m;
  }

  /** The cluster zone that fits `size` bytes, or null if none does. */
  clusterZoneFor(size: number): Zone<MbufCluster> | null {
    if (size <= MCLBYTES) return this.zone_clust;
    if (size <= MJUMPAGESIZE) return this.zone_jumbop;
    if (size <= MJUM9BYTES) return this.zone_jumbo9;
    if (size <= MJUM16BYTES) return this.zone_jumbo16;
    return null;
  }

  /** Attach a cluster of at least `size` bytes to `m` (m_clget/m_cljget). */
  clget(m: Mbuf, size: number): boolean {
    const z = this.clusterZoneFor(size);
    if (z === null) return false;
    const c = z.alloc();
    if (c === null) return false;
    c.refcnt = 1;
    m.m_ext = c;
    m.m_buf = c.buf;
    m.m_data = 0;
    m.m_flags |= M_EXT;
    m.m_flags &= ~M_RDONLY;
    return true;
  }

  /** An mbuf with a cluster of at least `size` bytes (m_getjcl), with a header if `pkthdr`. */
  getcl(size = MCLBYTES, pkthdr = true): Mbuf | null {
    const m = pkthdr ? this.gethdr() : this.get();
    if (m === null) return null;
    if (!this.clget(m, size)) {
      m_free(m);
      return null;
    }
    return m;
  }

  /**
   * A packet with room for `len` bytes of data and `headroom` bytes in front: one mbuf if it
   * fits, else a chain of the largest clusters up to `maxClust` (m_getm2). m_len is 0 in
   * every mbuf; the caller fills them. Returns null (and frees what it got) on failure.
   */
  getm(len: number, headroom = MAX_LINKHDR, maxClust = MJUM16BYTES): Mbuf | null {
    if (maxClust > MJUM16BYTES) maxClust = MJUM16BYTES;
    const head = len + headroom <= MHLEN ? this.gethdr() : this.getcl(Math.min(len + headroom, maxClust), true);
    if (head === null) {
      this.drops++;
      return null;
    }
    head.m_data = headroom;
    let room = head.m_buf.length - headroom;
    let tail = head;
    while (room < len) {
      const want = len - room;
      const n = this.getcl(Math.min(want <= MCLBYTES ? MCLBYTES : want <= MJUMPAGESIZE ? MJUMPAGESIZE : maxClust, maxClust), false);
      if (n === null) {
        m_freem(head);
        this.drops++;
        return null;
      }
      tail.m_next = n;
      tail = n;
      room += n.m_buf.length;
    }
    return head;
  }

  /**
   * Copy `len` bytes of `src` (from `off`) into a new packet with `headroom` bytes of leading
   * space (m_devget): what a driver does with a received frame. Null on failure.
   */
  devget(src: Uint8Array, off: number, len: number, ifp: Ifnet | null, headroom = 0): Mbuf | null {
    const m = this.getm(len, headroom);
    if (m === null) return null;
    let done = 0;
    for (let n: Mbuf | null = m; n !== null && done < len; n = n.m_next) {
      const k = Math.min(n.m_buf.length - n.m_data, len - done);
      n.m_buf.set(src.subarray(off + done, off + done + k), n.m_data);
      n.m_len = k;
      done += k;
    }
    m.len = len;
    m.rcvif = ifp;
    return m;
  }

  /**
   * Make a copy of `len` bytes from offset `off` of a chain (m_copym). Cluster storage is
   * shared by reference (the copy is read-only); internal storage is copied. `len` may be
   * Infinity for "to the end". If `m` has a packet header and `off` is 0, the header is
   * copied too. Null on failure.
   */
  copym(m: Mbuf, off: number, len: number): Mbuf | null {
    const copyhdr = off === 0 && (m.m_flags & M_PKTHDR) !== 0;
    let mm: Mbuf | null = m;
    while (mm !== null && off > 0 && off >= mm.m_len) {
      off -= mm.m_len;
      mm = mm.m_next;
    }
    let top: Mbuf | null = null;
    let tail: Mbuf | null = null;
    while (len > 0 && mm !== null) {
      if (mm.m_len - off <= 0) {
        off = 0;
        mm = mm.m_next;
        continue;
      }
      const n: Mbuf | null = top === null && copyhdr ? this.gethdr() : this.get();
      if (n === null) {
        m_freem(top);
        this.drops++;
        return null;
      }
      if (top === null && copyhdr) {
        m_dup_pkthdr(n, m);
        n.len = len === Infinity ? m.len - off : len;
      }
      const k = Math.min(len, mm.m_len - off);
      if (mm.m_ext !== null) {
        n.m_ext = mm.m_ext;
        mm.m_ext.refcnt++;
        n.m_buf = mm.m_ext.buf;
        n.m_data = mm.m_data + off;
        // Read-only storage stays read-only in every reference to it (mb_dupcl).
        n.m_flags |= M_EXT | (mm.m_flags & M_RDONLY);
      } else {
        n.m_buf.set(mm.m_buf.subarray(mm.m_data + off, mm.m_data + off + k), 0);
        n.m_data = 0;
      }
      n.m_len = k;
      if (top === null) top = n;
      else (tail as Mbuf).m_next = n;
      tail = n;
      len -= k;
      off = 0;
      mm = mm.m_next;
    }
    if (len > 0 && len !== Infinity) {
      m_freem(top);
      throw new RangeError('m_copym: chain shorter than requested');
    }
    if (top === null) {
      // zero-length copy
      top = copyhdr ? this.gethdr() : this.get();
      if (top !== null && copyhdr) {
        m_dup_pkthdr(top, m);
        top.len = 0;
      }
    }
    return top;
  }

  /** Copy a whole packet sharing clusters (m_copypacket). */
  copypacket(m: Mbuf): Mbuf | null {
    return this.copym(m, 0, Infinity);
  }

  /** Deep copy of a packet into fresh, writable storage (m_dup). */
  dup(m: Mbuf, headroom = MAX_LINKHDR): Mbuf | null {
    const len = m.m_flags & M_PKTHDR ? m.len : m_length(m);
    const n = this.getm(len, headroom);
    if (n === null) return null;
    let off = 0;
    for (let d: Mbuf | null = n; d !== null && off < len; d = d.m_next) {
      const k = Math.min(d.m_buf.length - d.m_data, len - off);
      m_copydata(m, off, k, d.m_buf, d.m_data);
      d.m_len = k;
      off += k;
    }
    if (m.m_flags & M_PKTHDR) {
      m_dup_pkthdr(n, m);
      n.m_flags &= ~M_RDONLY;
    }
    n.len = len;
    return n;
  }

  /**
   * Prepend `len` bytes of space to a packet (M_PREPEND). Uses leading space when the storage
   * is writable, else links a new header mbuf in front. Returns the (possibly new) head, or
   * null after freeing the chain on failure.
   */
  prepend(m: Mbuf, len: number): Mbuf | null {
    if (M_LEADINGSPACE(m) >= len) {
      m.m_data -= len;
      m.m_len += len;
      if (m.m_flags & M_PKTHDR) m.len += len;
      return m;
    }
    const n = len <= MLEN ? this.get() : this.getcl(len, false);
    if (n === null) {
      m_freem(m);
      this.drops++;
      return null;
    }
    if (m.m_flags & M_PKTHDR) {
      m_move_pkthdr(n, m);
      n.len += len;
    }
    n.m_next = m;
    // Align to the end so that a further prepend finds leading space.
    n.m_data = n.m_buf.length - len;
    n.m_len = len;
    return n;
  }

  /**
   * Make the first `len` bytes of a packet contiguous in the first mbuf (m_pullup). Returns
   * the (possibly new) head, or null after freeing the chain if the packet is shorter than
   * `len` or memory is short.
   */
  pullup(m: Mbuf, len: number): Mbuf | null {
    if (m.m_len >= len) return m;
    const total = m.m_flags & M_PKTHDR ? m.len : m_length(m);
    if (total < len) {
      m_freem(m);
      return null;
    }
    let head: Mbuf;
    if (M_WRITABLE(m) && m.m_buf.length - m.m_data >= len) {
      head = m;
    } else {
      const n = len <= MLEN ? this.get() : this.getcl(len, false);
      if (n === null) {
        m_freem(m);
        this.drops++;
        return null;
      }
      if (m.m_flags & M_PKTHDR) m_move_pkthdr(n, m);
      n.m_data = 0;
      n.m_len = 0;
      n.m_next = m;
      head = n;
    }
    // Pull bytes from the following mbufs into head.
    let need = len - head.m_len;
    let src = head.m_next;
    while (need > 0 && src !== null) {
      const k = Math.min(need, src.m_len);
      head.m_buf.set(src.m_buf.subarray(src.m_data, src.m_data + k), head.m_data + head.m_len);
      head.m_len += k;
      src.m_data += k;
      src.m_len -= k;
      need -= k;
      if (src.m_len === 0) {
        const nx: Mbuf | null = src.m_next;
        src.m_next = null;
        m_free(src);
        head.m_next = nx;
        src = nx;
      }
    }
    return head;
  }

  /**
   * Split a packet at offset `len0`: `m` keeps the first `len0` bytes; the rest is returned
   * as a new packet (m_split). Clusters are shared, internal storage copied. Null on failure
   * (the original chain is left intact).
   */
  split(m: Mbuf, len0: number): Mbuf | null {
    let len = len0;
    let mm: Mbuf | null = m;
    while (mm !== null && len > mm.m_len) {
      len -= mm.m_len;
      mm = mm.m_next;
    }
    if (mm === null) return null;
    const remain = mm.m_len - len;
    const pkthdr = (m.m_flags & M_PKTHDR) !== 0;
    let n: Mbuf | null;
    if (remain === 0) {
      // Split falls on an mbuf boundary.
      const rest: Mbuf | null = mm.m_next;
      mm.m_next = null;
      if (!pkthdr) return rest;
      n = this.gethdr();
      if (n === null) {
        mm.m_next = rest;
        return null;
      }
      m_dup_pkthdr(n, m);
      n.len = m.len - len0;
      m.len = len0;
      n.m_next = rest;
      return n;
    }
    n = pkthdr ? this.gethdr() : this.get();
    if (n === null) return null;
    if (pkthdr) {
      m_dup_pkthdr(n, m);
      n.len = m.len - len0;
      m.len = len0;
    }
    if (mm.m_ext !== null) {
      n.m_ext = mm.m_ext;
      mm.m_ext.refcnt++;
      n.m_buf = mm.m_ext.buf;
      n.m_flags |= M_EXT | (mm.m_flags & M_RDONLY);
      n.m_data = mm.m_data + len;
    } else if (remain <= MLEN) {
      n.m_buf.set(mm.m_buf.subarray(mm.m_data + len, mm.m_data + mm.m_len), 0);
      n.m_data = 0;
    }
    n.m_len = remain;
    mm.m_len = len;
    n.m_next = mm.m_next;
    mm.m_next = null;
    return n;
  }

  /**
   * Append `len` bytes of `src` (from `off`) to the end of a chain, growing it with clusters
   * as needed (m_append). Returns false (chain unchanged in length beyond what fit) on
   * allocation failure.
   */
  append(m: Mbuf, src: Uint8Array, off: number, len: number): boolean {
    let last = m_last(m);
    let done = 0;
    const space = M_TRAILINGSPACE(last);
    if (space > 0) {
      const k = Math.min(space, len);
      last.m_buf.set(src.subarray(off, off + k), last.m_data + last.m_len);
      last.m_len += k;
      done = k;
    }
    while (done < len) {
      const want = len - done;
      const n = this.getcl(want <= MCLBYTES ? MCLBYTES : want <= MJUMPAGESIZE ? MJUMPAGESIZE : MJUM16BYTES, false);
      if (n === null) {
        if (m.m_flags & M_PKTHDR) m.len += done;
        this.drops++;
        return false;
      }
      const k = Math.min(n.m_buf.length, want);
      n.m_buf.set(src.subarray(off + done, off + done + k), 0);
      n.m_len = k;
      last.m_next = n;
      last = n;
      done += k;
    }
    if (m.m_flags & M_PKTHDR) m.len += len;
    return true;
  }

  /**
   * Overwrite bytes at `off` with `src` (m_copyback, within the existing chain). A range
   * beyond the chain throws RangeError before anything is written. The caller makes sure
   * the storage is writable (M_WRITABLE).
   */
  copyback(m: Mbuf, off: number, src: Uint8Array, srcOff = 0, len = src.length - srcOff): void {
    let mm: Mbuf | null = m;
    while (mm !== null && off >= mm.m_len) {
      off -= mm.m_len;
      mm = mm.m_next;
    }
    let avail = mm === null ? 0 : mm.m_len - off;
    for (let x = mm?.m_next ?? null; x !== null && avail < len; x = x.m_next) avail += x.m_len;
    if (avail < len) throw new RangeError('m_copyback: beyond chain');
    while (len > 0) {
      if (mm === null) throw new RangeError('m_copyback: beyond chain');
      const k = Math.min(mm.m_len - off, len);
      mm.m_buf.set(src.subarray(srcOff, srcOff + k), mm.m_data + off);
      srcOff += k;
      len -= k;
      off = 0;
      mm = mm.m_next;
    }
  }
}

/**
 * Flatten a packet into `dst` starting at dst[0]; returns the length (what a driver does at
 * the boundary to the outside world: the one copy).
 */
export function m_tobuf(m: Mbuf, dst: Uint8Array): number {
  let off = 0;
  for (let n: Mbuf | null = m; n !== null; n = n.m_next) {
    if (n.m_len === 0) continue;
    dst.set(n.m_buf.subarray(n.m_data, n.m_data + n.m_len), off);
    off += n.m_len;
  }
  return off;
}

/** The packet as a new Uint8Array (allocates: tests and slow paths only). */
export function m_tobytes(m: Mbuf): Uint8Array {
  const out = new Uint8Array(m_length(m));
  m_tobuf(m, out);
  return out;
}
