/*
 * TCP segment reassembly (FreeBSD netinet/tcp_reass.c; RFC 9293 §3.10.7.4 "seventh, process
 * the segment text", RFC 9293 §3.4 sequence numbers).
 *
 * tp.t_segq holds the out-of-order data in sequence order, one entry per contiguous run:
 * a new segment is trimmed against what is queued and then appended to, prepended to,
 * replaces or merges with the entries it touches, so entries never overlap or abut after
 * a merge forward. When the run at rcv_nxt is complete it is appended to the receive
 * buffer, rcv_nxt advances, and the FIN is reported to the caller if it is now in order.
 *
 * Bounds (drops are counted, the peer retransmits):
 *  - the mbuf storage of the receive buffer plus the queue may not exceed sb_mbmax
 *    (tcps_rcvreassfull), except for the segment at rcv_nxt;
 *  - at most min(sb_hiwat / t_maxseg + 1, net.inet.tcp.reass.maxqueuelen (100)) entries
 *    per connection (tcps_rcvreassfull, and bsdnet's tcps_reass_overflow);
 *  - at most net.inet.tcp.reass.maxsegments entries in the Vnet (FreeBSD's zone limit;
 *    counted as tcps_rcvreassfull and tcps_reass_overflow, FreeBSD counts tcps_rcvmemdrop).
 *
 * As in FreeBSD 14 the socket is not woken here: delivering data sets TF_WAKESOR and the
 * caller calls tcp_handle_wakeup() once it is done with the segment (after the SACK update).
 * The SACK blocks are not touched here either: tcp_input updates them from the outcome
 * (tcp_update_sack_after_data in tcp_sack.ts), using the range tcp_reass reports in `out`.
 */

import { M_EXT, MSIZE, type Mbuf, m_adj, m_freem } from '../mbuf/mbuf.js';
import { SBS_CANTRCVMORE, sbappendstream, sorwakeup } from '../sys/socket.js';
import type { Vnet } from '../vnet.js';
import { TH_FIN } from '../wire/tcp.js';
import { TCPS_HAVEESTABLISHED } from './tcp_fsm.js';
import { SEQ_GEQ, SEQ_GT, SEQ_LEQ, SEQ_LT } from './tcp_seq.js';
import { NO_SEGS, type TcpCb, type TsegQent, TF_WAKESOR } from './tcp_var.js';
import { field } from '../kern/kern_sysctl.js';

/**
 * Where the segment ended up (FreeBSD's *seq_start / *tlenp): the queue entry now holding
 * it (its start and length), or the segment itself when delivered in order; tlen 0 when it
 * was dropped. tcp_input uses it for the D-SACK decisions. Keep one per stack.
 */
export class TcpReassOut {
  seq = 0;
  tlen = 0;
}

/** A queue entry (struct tseg_qent) with the chain's tail and its storage (tqe_last, tqe_mbuf_cnt). */
class TsegQ implements TsegQent {
  seq: number;
  len: number;
  flags: number;
  m: Mbuf;
  /** Last mbuf of the chain (new data is linked after it). */
  last: Mbuf;
  /** Storage charged for the chain (MSIZE per mbuf plus clusters). */
  mbufcnt: number;

  constructor(seq: number, len: number, flags: number, m: Mbuf, last: Mbuf, mbufcnt: number) {
    this.seq = seq;
    this.len = len;
    this.flags = flags;
    this.m = m;
    this.last = last;
    this.mbufcnt = mbufcnt;
  }
}

/** The entries of tp.t_segq; only this file creates them. */
function qent(tp: TcpCb, i: number): TsegQ {
  return tp.t_segq[i] as TsegQ;
}

/**
 * Declare net.inet.tcp.reass.{maxsegments,cursegments,maxqueuelen} on V, bound to
 * V.tcp.reass_* (idempotent).
 */
export function tcp_reass_init(V: Vnet): void {
  const s = V.sysctl;
  if (s.find('net.inet.tcp.reass.maxqueuelen') !== undefined) return;
  const tcp = V.tcp;
  s.node('net.inet.tcp.reass', 'TCP Segment Reassembly Queue');
  s.int('net.inet.tcp.reass.maxsegments', field(tcp, 'reass_maxsegments'), { descr: 'Global maximum number of TCP Segments in Reassembly Queue', min: 0 });
  s.int(
    'net.inet.tcp.reass.cursegments',
    { get: () => tcp.reass_cursegments },
    { descr: 'Global number of TCP Segments currently in Reassembly Queue', readonly: true },
  );
  s.int('net.inet.tcp.reass.maxqueuelen', field(tcp, 'reass_maxqueuelen'), {
    descr: 'Maximum number of TCP Segments per Reassembly Queue',
    min: 0,
    unsigned: true,
  });
}

/** Free the queue (tcp_reass_flush): connection teardown. */
export function tcp_reass_flush(tp: TcpCb): void {
  const q = tp.t_segq;
  const n = q.length;
  for (let i = 0; i < n; i++) m_freem(qent(tp, i).m);
  if (n > 0) q.length = 0;
  if (n > 0) tp.t_vnet.tcp.reass_cursegments -= n;
  tp.t_segqlen = 0;
  tp.t_segqmbuflen = 0;
}

/** Wake the reader if data was delivered (tcp_input.c tcp_handle_wakeup). */
export function tcp_handle_wakeup(tp: TcpCb): void {
  if (tp.t_flags & TF_WAKESOR) {
    tp.t_flags &= ~TF_WAKESOR;
    const so = tp.t_inpcb.inp_socket;
    if (so !== null) sorwakeup(so);
  }
}

/** Remove t_segq[i] (the entry's chain is the caller's business). */
function removeAt(tp: TcpCb, i: number): void {
  const q = tp.t_segq;
  for (let j = i; j < q.length - 1; j++) q[j] = q[j + 1] as TsegQent;
  q.pop();
  tp.t_segqlen--;
  tp.t_vnet.tcp.reass_cursegments--;
}

/** Insert an entry after t_segq[after] (-1: at the head). */
function insertAfter(tp: TcpCb, after: number, te: TsegQ): void {
  let q = tp.t_segq;
  if (q === NO_SEGS) q = tp.t_segq = [];
  q.push(te);
  for (let j = q.length - 1; j > after + 1; j--) q[j] = q[j - 1] as TsegQent;
  q[after + 1] = te;
}

/** Link a segment after entry `last` (tcp_reass_append). */
function reassAppend(tp: TcpCb, last: TsegQ, m: Mbuf, tlen: number, thflags: number, mlast: Mbuf, lenofoh: number): void {
  const st = tp.t_vnet.tcp.stat;
  last.len += tlen;
  last.flags |= thflags & TH_FIN; // keep the FIN
  last.last.m_next = m;
  last.last = mlast;
  last.mbufcnt += lenofoh;
  tp.t_rcvoopack++;
  st.tcps_rcvoopack++;
  st.tcps_rcvoobyte += tlen;
}

/**
 * Link a segment before entry `first` (tcp_reass_prepend); the part of `first` it
 * overlaps is trimmed from `first` (the new data wins).
 */
function reassPrepend(tp: TcpCb, first: TsegQ, m: Mbuf, seq: number, tlen: number, mlast: Mbuf, lenofoh: number): void {
  const st = tp.t_vnet.tcp.stat;
  const end = (seq + tlen) >>> 0;
  if (SEQ_GT(end, first.seq)) {
    const i = (end - first.seq) | 0;
    m_adj(first.m, i);
    first.len -= i;
    first.seq = (first.seq + i) >>> 0;
  }
  mlast.m_next = first.m;
  first.m = m;
  first.len += tlen;
  first.seq = seq;
  first.mbufcnt += lenofoh;
  tp.t_rcvoopack++;
  st.tcps_rcvoopack++;
  st.tcps_rcvoobyte += tlen;
}

/** Replace entry q's data with a segment that covers it (tcp_reass_replace). */
function reassReplace(tp: TcpCb, q: TsegQ, m: Mbuf, seq: number, len: number, mlast: Mbuf, mbufoh: number, flags: number): void {
  const st = tp.t_vnet.tcp.stat;
  m_freem(q.m);
  tp.t_segqmbuflen -= q.mbufcnt;
  q.mbufcnt = mbufoh;
  q.m = m;
  q.last = mlast;
  q.seq = seq;
  const len_dif = len > q.len ? len - q.len : 0;
  tp.t_rcvoopack++;
  st.tcps_rcvoopack++;
  st.tcps_rcvoobyte += len_dif;
  q.len = len;
  q.flags = flags & TH_FIN;
  tp.t_segqmbuflen += mbufoh;
}

/**
 * Merge the entries that entry `ei` now reaches into it (tcp_reass_merge_forward):
 * entries it covers are freed, one it overlaps is trimmed and joined.
 */
function reassMergeForward(tp: TcpCb, ei: number): void {
  const ent = qent(tp, ei);
  let max = (ent.seq + ent.len) >>> 0;
  while (ei + 1 < tp.t_segq.length) {
    const q = qent(tp, ei + 1);
    if (SEQ_GT(q.seq, max)) break; // beyond
    if (SEQ_GEQ(max, (q.seq + q.len) >>> 0)) {
      // Entirely covered.
      tp.t_segqmbuflen -= q.mbufcnt;
      m_freem(q.m);
      removeAt(tp, ei + 1);
      continue;
    }
    // Trim q to dovetail with ent, then merge it in (tcp_reass_merge_into).
    const i = (max - q.seq) | 0;
    m_adj(q.m, i);
    q.len -= i;
    q.seq = (q.seq + i) >>> 0;
    ent.last.m_next = q.m;
    ent.last = q.last;
    ent.len += q.len;
    ent.mbufcnt += q.mbufcnt;
    ent.flags |= q.flags & TH_FIN;
    removeAt(tp, ei + 1);
    max = (ent.seq + ent.len) >>> 0;
  }
}

function setOut(out: TcpReassOut | undefined, seq: number, tlen: number): void {
  if (out !== undefined) {
    out.seq = seq >>> 0;
    out.tlen = tlen;
  }
}

/**
 * Queue a segment and deliver what is in order (tcp_reass).
 *
 * `m` holds the segment's data (headers already dropped; 0 bytes for a FIN-only segment),
 * `tlen` bytes starting at `seq`, trimmed by the caller to [rcv_nxt, rcv_nxt + rcv_wnd).
 * With m null (and seq/tlen 0) nothing is queued: data that became in order is delivered,
 * as tcp_input does when the connection becomes established. The mbuf is always consumed.
 *
 * Rules (FreeBSD's, in order):
 *  - zero-length segments without FIN are dropped; so is a FIN-only segment before the
 *    connection is established (the peer will retransmit it);
 *  - a FIN that ends before the queued data does is ignored (dropped), as is data after a
 *    queued FIN;
 *  - data already queued is trimmed off the new segment (tcps_rcvduppack/rcvdupbyte when
 *    nothing is left); where the new segment starts before a queued entry, the new data
 *    replaces the overlapped old data;
 *  - a segment at rcv_nxt on an established connection goes straight to the socket;
 *    otherwise a new entry is made within the bounds (see the file header).
 * Data reaching the socket sets TF_WAKESOR. Returns TH_FIN if the FIN is now in order
 * (the caller then processes it), else 0. `out` receives the range the segment ended in.
 */
export function tcp_reass(tp: TcpCb, seq: number, tlen: number, thflags: number, m: Mbuf | null, out?: TcpReassOut): number {
  const V = tp.t_vnet;
  const st = V.tcp.stat;
  seq >>>= 0;
  setOut(out, seq, tlen);
  if (m === null) {
    if (tlen === 0 && thflags & TH_FIN) {
      // A FIN-only segment passed without an mbuf: queue it with an empty one.
      m = V.mbufs.get();
      if (m === null) {
        setOut(out, seq, 0);
        return 0;
      }
    } else {
      return tcp_reass_present(tp);
    }
  }
  const so = tp.t_inpcb.inp_socket;
  if (so === null) {
    m_freem(m);
    setOut(out, seq, 0);
    return 0;
  }
  // The caller trims data below rcv_nxt; should some remain, trim it here rather than
  // queue a stale entry.
  if (SEQ_LT(seq, tp.rcv_nxt)) {
    const d = (tp.rcv_nxt - seq) | 0;
    if (d >= tlen) {
      st.tcps_rcvduppack++;
      st.tcps_rcvdupbyte += tlen;
      m_freem(m);
      setOut(out, seq, 0);
      return 0;
    }
    m_adj(m, d);
    seq = tp.rcv_nxt;
    tlen -= d;
    st.tcps_rcvpartduppack++;
    st.tcps_rcvpartdupbyte += d;
    setOut(out, seq, tlen);
  }
  if (tlen === 0 && (!(thflags & TH_FIN) || !TCPS_HAVEESTABLISHED(tp.t_state))) {
    // Nothing to queue (a FIN before ESTABLISHED is left for the peer to retransmit).
    m_freem(m);
    return 0;
  }
  // Will it fit? Storage of the chain: MSIZE per mbuf plus its cluster.
  let lenofoh = 0;
  let mlast: Mbuf = m;
  for (let x: Mbuf | null = m; x !== null; x = x.m_next) {
    lenofoh += MSIZE + (x.m_flags & M_EXT ? x.m_buf.length : 0);
    mlast = x;
  }
  const sb = so.so_rcv;
  if ((seq !== tp.rcv_nxt || !TCPS_HAVEESTABLISHED(tp.t_state)) && sb.sb_mbcnt + tp.t_segqmbuflen + lenofoh > sb.sb_mbmax) {
    st.tcps_rcvreassfull++;
    m_freem(m);
    setOut(out, seq, 0);
    return 0;
  }
  const segq = tp.t_segq;
  const end = (seq + tlen) >>> 0;
  let p = -1; // predecessor for a new entry (-1: head)
  let qi: number; // the entry the segment joined
  // biome-ignore lint/suspicious/noConfusingLabels: a labelled block mirrors FreeBSD's goto new_entry
  place: {
    if (segq.length === 0) break place; // first segment: new entry at the head
    const lastIdx = segq.length - 1;
    const last = qent(tp, lastIdx);
    const lastEnd = (last.seq + last.len) >>> 0;
    if (thflags & TH_FIN && SEQ_LT(end, lastEnd)) {
      // A FIN below queued data: someone is gaming us.
      m_freem(m);
      setOut(out, seq, 0);
      return 0;
    }
    if (SEQ_GEQ(seq, last.seq) && SEQ_GEQ(lastEnd, seq)) {
      // Common case: the segment continues the last entry.
      if (SEQ_GT(lastEnd, seq)) {
        const i = (lastEnd - seq) | 0;
        if (i < tlen) {
          m_adj(m, i);
          tlen -= i;
          seq = lastEnd;
        } else {
          // Complete overlap.
          st.tcps_rcvduppack++;
          st.tcps_rcvdupbyte += tlen;
          m_freem(m);
          setOut(out, last.seq, last.len);
          return 0;
        }
      }
      if (last.flags & TH_FIN) {
        // Data after the FIN.
        m_freem(m);
        setOut(out, seq, 0);
        return 0;
      }
      reassAppend(tp, last, m, tlen, thflags, mlast, lenofoh);
      tp.t_segqmbuflen += lenofoh;
      setOut(out, last.seq, last.len);
      return 0;
    }
    if (SEQ_GT(seq, lastEnd)) {
      // Second common case: a gap, then more data at the end.
      if (last.flags & TH_FIN) {
        m_freem(m);
        setOut(out, seq, 0);
        return 0;
      }
      p = lastIdx;
      break place;
    }
    const first = qent(tp, 0);
    const firstEnd = (first.seq + first.len) >>> 0;
    if (SEQ_LT(seq, first.seq) && SEQ_GEQ(end, first.seq) && SEQ_LT(end, firstEnd)) {
      // The segment runs into the head entry: prepend it.
      reassPrepend(tp, first, m, seq, tlen, mlast, lenofoh);
      tp.t_segqmbuflen += lenofoh;
      setOut(out, first.seq, first.len);
      return tcp_reass_present(tp);
    }
    if (SEQ_LT(end, first.seq)) break place; // entirely before the head entry
    // The first entry starting after the segment (it exists: seq < last.seq here).
    qi = 0;
    while (qi < segq.length && !SEQ_GT(qent(tp, qi).seq, seq)) qi++;
    if (qi === segq.length) {
      p = lastIdx; // not reached (seq < last.seq), kept for safety
      break place;
    }
    p = qi - 1;
    const q = qent(tp, qi);
    const prev = p >= 0 ? qent(tp, p) : null;
    const prevEnd = prev !== null ? (prev.seq + prev.len) >>> 0 : 0;
    if (SEQ_LT(end, q.seq) && (prev === null || SEQ_GT(seq, prevEnd))) break place; // fits in between
    // Some overlap.
    if (prev !== null && SEQ_LEQ(seq, prevEnd)) {
      const i = (prevEnd - seq) | 0;
      if (i >= 0) {
        if (i >= tlen) {
          // Inside the previous entry: a duplicate.
          st.tcps_rcvduppack++;
          st.tcps_rcvdupbyte += tlen;
          m_freem(m);
          setOut(out, prev.seq, prev.len);
          return 0;
        }
        if (i > 0) {
          m_adj(m, i);
          tlen -= i;
          seq = (seq + i) >>> 0;
        }
      }
      if (seq !== prevEnd) {
        m_freem(m);
        setOut(out, seq, 0);
        return 0;
      }
      // Dovetails with the previous entry (after trimming): append.
      reassAppend(tp, prev, m, tlen, thflags, mlast, lenofoh);
      tp.t_segqmbuflen += lenofoh;
      qi = p;
    } else if (SEQ_GEQ(end, (q.seq + q.len) >>> 0)) {
      // The new data covers all of q: it replaces q.
      reassReplace(tp, q, m, seq, tlen, mlast, lenofoh, thflags);
    } else {
      // The new data runs into q without passing its end: prepend it to q.
      reassPrepend(tp, q, m, seq, tlen, mlast, lenofoh);
      tp.t_segqmbuflen += lenofoh;
    }
    reassMergeForward(tp, qi);
    const ent = qent(tp, qi);
    setOut(out, ent.seq, ent.len);
    return tcp_reass_present(tp);
  }

  // new_entry: nothing to combine with.
  if (seq === tp.rcv_nxt && TCPS_HAVEESTABLISHED(tp.t_state)) {
    // The missing segment itself: straight to the socket.
    tp.rcv_nxt = (tp.rcv_nxt + tlen) >>> 0;
    st.tcps_rcvoopack++;
    st.tcps_rcvoobyte += tlen;
    if (sb.sb_state & SBS_CANTRCVMORE) m_freem(m);
    else sbappendstream(V, sb, m);
    tp.t_flags |= TF_WAKESOR;
    return thflags & TH_FIN;
  }
  // Queue bound: a window's worth of segments, at most net.inet.tcp.reass.maxqueuelen.
  const perWindow = tp.t_maxseg > 0 ? Math.floor(sb.sb_hiwat / tp.t_maxseg) + 1 : Number.POSITIVE_INFINITY;
  if (tp.t_segqlen >= Math.min(perWindow, V.tcp.reass_maxqueuelen) || V.tcp.reass_cursegments >= V.tcp.reass_maxsegments) {
    st.tcps_rcvreassfull++;
    st.tcps_reass_overflow++;
    m_freem(m);
    setOut(out, seq, 0);
    return 0;
  }
  const te = new TsegQ(seq, tlen, thflags, m, mlast, lenofoh);
  tp.t_segqlen++;
  V.tcp.reass_cursegments++;
  tp.t_rcvoopack++;
  st.tcps_rcvoopack++;
  st.tcps_rcvoobyte += tlen;
  tp.t_segqmbuflen += lenofoh;
  insertAfter(tp, p, te);
  return tcp_reass_present(tp);
}

/**
 * Deliver the in-order entries at the head of the queue (tcp_reass "present"): advance
 * rcv_nxt through them, append their data to the receive buffer (dropped if the socket
 * cannot receive any more) and return TH_FIN if the last one carried the FIN.
 */
function tcp_reass_present(tp: TcpCb): number {
  if (!TCPS_HAVEESTABLISHED(tp.t_state)) return 0;
  const segq = tp.t_segq;
  if (segq.length === 0 || qent(tp, 0).seq !== tp.rcv_nxt) return 0;
  const so = tp.t_inpcb.inp_socket;
  const V = tp.t_vnet;
  let flags = 0;
  let k = 0;
  do {
    const q = qent(tp, k);
    tp.rcv_nxt = (tp.rcv_nxt + q.len) >>> 0;
    flags = q.flags & TH_FIN;
    if (so === null || so.so_rcv.sb_state & SBS_CANTRCVMORE) m_freem(q.m);
    else sbappendstream(V, so.so_rcv, q.m);
    tp.t_segqmbuflen -= q.mbufcnt;
    k++;
  } while (k < segq.length && qent(tp, k).seq === tp.rcv_nxt);
  for (let j = k; j < segq.length; j++) segq[j - k] = segq[j] as TsegQent;
  segq.length -= k;
  tp.t_segqlen -= k;
  V.tcp.reass_cursegments -= k;
  if (segq.length === 0) tp.t_segqmbuflen = 0;
  tp.t_flags |= TF_WAKESOR;
  return flags;
}
