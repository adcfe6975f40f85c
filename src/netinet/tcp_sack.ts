/*
 * TCP Selective Acknowledgments (FreeBSD netinet/tcp_sack.c, plus the SACK/PRR helpers of
 * tcp_input.c: tcp_do_prr_ack, tcp_newreno_partial_ack, tcp_record_dsack).
 *
 * Receiver side (RFC 2018, RFC 2883): tp.sackblks holds up to MAX_SACK_BLKS (6) blocks as
 * (start, end) pairs, tp.rcv_numsacks of them valid. The first block is the most recent
 * one (RFC 2018 §4), preceded only by a D-SACK block when the last segment carried
 * duplicate data (RFC 2883 §4). tcp_output copies the first 4 (3 with timestamps) into the
 * SACK option and calls tcp_clean_dsack_blocks once the ACK is sent.
 *
 * Sender side (RFC 6675): tp.snd_holes is the scoreboard, the un-SACKed ranges between
 * snd_una and snd_fack in sequence order. tcp_sack_doack folds a cumulative ACK and the
 * SACK blocks of one segment into it, keeping the sackhint totals (sacked_bytes,
 * hole_bytes, lost_bytes per RFC 6675 IsLost, delivered_data) that tcp_compute_pipe and
 * PRR (RFC 6937) use; tcp_sack_output picks the next hole to retransmit.
 *
 * Holes are bounded per connection (net.inet.tcp.sack.maxholes, 128) and per Vnet
 * (net.inet.tcp.sack.globalmaxholes, 65536); hitting either counts tcps_sack_sboverflow and
 * the SACK information that needed the hole is ignored, as in FreeBSD.
 *
 * Mirrors freebsd-src main (the version with sackstatus_t, hole_bytes/lost_bytes and the
 * RFC 6675 rescue retransmission). The scratch arrays live in the per-Vnet SackVars, so
 * nothing here allocates per packet except the holes themselves.
 */

import type { Vnet } from '../vnet.js';
import { type TcpOptsScratch, TCP_MAX_SACK, TOF_SACK } from '../wire/tcp.js';
import { CC_NDUPACK, IN_CONGRECOVERY, IN_FASTRECOVERY, IN_RECOVERY, tcp_compute_pipe, tcp_maxseg } from './cc/cc.js';
import { tcp_output } from './tcp_output.js';
import { SEQ_GEQ, SEQ_GT, SEQ_LEQ, SEQ_LT, SEQ_MAX, SEQ_MIN } from './tcp_seq.js';
import { tcp_timer_activate } from './tcp_timer.js';
import {
  type SackHole,
  type TcpCb,
  TF2_ECN_PERMIT,
  TF2_ECN_SND_CWR,
  TF_ACKNOW,
  TF_CONGRECOVERY,
  TF_FASTRECOVERY,
  TF_LRD,
  TF_SACK_PERMIT,
  TF_SENTFIN,
  TT_REXMT,
  NO_HOLES,
} from './tcp_var.js';
import { field } from '../kern/kern_sysctl.js';

/** Receiver SACK blocks kept per connection (tcp_var.h MAX_SACK_BLKS). */
export const MAX_SACK_BLKS = 6;

/** tcp_sack_doack results (sackstatus_t): no new SACK information. */
export const SACK_NOCHANGE = 0;
/** The scoreboard changed (new SACKed data). */
export const SACK_CHANGE = 1;
/** The change shows further loss: a hole was split, or SACK data had to be dismissed. */
export const SACK_NEWLOSS = 2;
export type SackStatus = typeof SACK_NOCHANGE | typeof SACK_CHANGE | typeof SACK_NEWLOSS;

/** Duplicate-ACK threshold (tcp_input.c tcprexmtthresh, RFC 5681 §3.2 / RFC 6675 DupThresh). */
export const tcprexmtthresh = 3;

/**
 * Per-Vnet SACK limits and scratch space (net.inet.tcp.sack.*). The stack stores it as
 * V.tcp.sack; tcp_sack_init creates and registers it.
 */
export class SackVars {
  /** net.inet.tcp.sack.maxholes: holes per connection. */
  maxholes = 128;
  /** net.inet.tcp.sack.globalmaxholes: holes over all connections of the Vnet. */
  globalmaxholes = 65536;
  /** net.inet.tcp.sack.globalholes (read-only): holes currently allocated. */
  globalholes = 0;
  /** tcp_sack_doack: the cumulative-ACK block plus up to 4 option blocks. */
  readonly doackBlocks = new Uint32Array(2 * (TCP_MAX_SACK + 1));
  /** Receiver list rebuilds (saved_blks[]). */
  readonly savedBlks = new Uint32Array(2 * MAX_SACK_BLKS);
}

declare module './tcp_var.js' {
  interface TcpVars {
    /** SACK limits (net.inet.tcp.sack.*), set by tcp_sack_init(). */
    sack?: SackVars;
  }
}

/**
 * Create the Vnet's SackVars and declare net.inet.tcp.sack.{maxholes,globalmaxholes,
 * globalholes}. Returns the existing object if V.tcp.sack is already set; attaches the new
 * one to V.tcp.sack when V.tcp exists.
 */
export function tcp_sack_init(V: Vnet): SackVars {
  const tcp = (V as { tcp?: { sack?: SackVars } }).tcp;
  if (tcp?.sack !== undefined) return tcp.sack;
  const sv = new SackVars();
  const s = V.sysctl;
  s.node('net.inet.tcp.sack', 'TCP SACK');
  s.int('net.inet.tcp.sack.maxholes', field(sv, 'maxholes'), { descr: 'Maximum number of TCP SACK holes allowed per connection', min: 0 });
  s.int('net.inet.tcp.sack.globalmaxholes', field(sv, 'globalmaxholes'), { descr: 'Global maximum number of TCP SACK holes', min: 0 });
  s.int('net.inet.tcp.sack.globalholes', { get: () => sv.globalholes }, { descr: 'Global number of TCP SACK holes currently allocated', readonly: true });
  if (tcp !== undefined) tcp.sack = sv;
  return sv;
}

function sackVars(V: Vnet): SackVars {
  return V.tcp.sack ?? tcp_sack_init(V);
}

/* ---------------------------------------------------------------------------------------- */
/* Receiver side: the SACK blocks we advertise (RFC 2018 §4, RFC 2883 §4)                    */
/* ---------------------------------------------------------------------------------------- */

/** True if the first block is a D-SACK block (at or below rcv_nxt) (tcp_dsack_block_exists). */
export function tcp_dsack_block_exists(tp: TcpCb): boolean {
  if (tp.rcv_numsacks === 0) return false;
  return SEQ_LEQ(tp.sackblks[1] as number, tp.rcv_nxt);
}

/**
 * Report duplicate data [rcv_start, rcv_end) (tcp_update_dsack_list). Called after data
 * processing when the segment duplicated data already received (RFC 2883 §4):
 *  - the D-SACK block goes first: the whole range if it lies below rcv_nxt, otherwise the
 *    part that overlaps the lowest-starting SACK block it touches (RFC 2883 §4.2);
 *  - next the SACK block that contains the segment (the union of the segment and every
 *    block it touches), unless it is at or below rcv_nxt or equal to the D-SACK block,
 *    or the segment exactly repeated a block (then the block is repeated, RFC 2883 §4.2
 *    example 3);
 *  - then the other blocks above rcv_nxt in their previous order, up to MAX_SACK_BLKS.
 * For plain out-of-order data this yields the segment's (merged) block first, then the
 * others: the RFC 2018 §4 order.
 */
export function tcp_update_dsack_list(tp: TcpCb, rcv_start: number, rcv_end: number): void {
  if (!SEQ_LT(rcv_start, rcv_end)) return;
  rcv_start >>>= 0;
  rcv_end >>>= 0;
  const blk = tp.sackblks;
  const saved = sackVars(tp.t_vnet).savedBlks;
  const rcv_nxt = tp.rcv_nxt;
  const num = tp.rcv_numsacks;
  // Data entirely below rcv_nxt is a duplicate of delivered data; so is data ending at
  // rcv_nxt while a D-SACK block ending there is being reported.
  if (SEQ_LT(rcv_end, rcv_nxt) || (rcv_end === rcv_nxt && num > 0 && blk[1] === rcv_nxt)) {
    saved[0] = rcv_start;
    saved[1] = rcv_end;
  } else {
    saved[0] = saved[1] = 0;
  }
  let head_s = 0;
  let head_e = 0;
  let mid_s = rcv_start;
  let mid_e = rcv_end;
  let identical = false;
  for (let i = 0; i < num; i++) {
    const start = blk[2 * i] as number;
    const end = blk[2 * i + 1] as number;
    if (SEQ_LT(rcv_end, start)) continue; // segment left of the block
    if (SEQ_GT(rcv_start, end)) continue; // segment right of the block
    if (SEQ_GT(rcv_nxt, end)) {
      // A block below rcv_nxt (an earlier D-SACK): report the overlap with it.
      const os = SEQ_MAX(rcv_start, start);
      const oe = SEQ_MIN(rcv_end, end);
      if (os !== oe && (SEQ_GT(head_s, os) || head_s === head_e)) {
        head_s = os;
        head_e = oe;
      }
      continue;
    }
    // The lowest-starting block overlapping the segment gives the D-SACK range.
    if ((head_s === head_e || SEQ_LT(start, head_s)) && SEQ_GT(end, rcv_start) && SEQ_LEQ(start, rcv_end)) {
      head_s = start;
      head_e = end;
    }
    mid_s = SEQ_MIN(mid_s, start);
    mid_e = SEQ_MAX(mid_e, end);
    if (mid_s === start && mid_e === end) identical = true;
  }
  if (SEQ_LT(head_s, head_e)) {
    // The overlapping range is the duplicate part.
    saved[0] = SEQ_MAX(rcv_start, head_s);
    saved[1] = SEQ_MIN(rcv_end, head_e);
  }
  let n = 1;
  // Second, unless already acknowledged, the SACK block that contains the D-SACK block.
  if ((SEQ_LT(rcv_nxt, mid_e) && !(mid_s === saved[0] && mid_e === saved[1])) || identical) {
    saved[2 * n] = mid_s;
    saved[2 * n + 1] = mid_e;
    n++;
  }
  for (let j = 0; j < num && n < MAX_SACK_BLKS; j++) {
    const s = blk[2 * j] as number;
    const e = blk[2 * j + 1] as number;
    if ((SEQ_LT(e, mid_s) || SEQ_GT(s, mid_e)) && SEQ_GT(s, rcv_nxt)) {
      saved[2 * n] = s;
      saved[2 * n + 1] = e;
      n++;
    }
  }
  let k = 0;
  for (let i = 0; i < n; i++) {
    const s = saved[2 * i] as number;
    const e = saved[2 * i + 1] as number;
    // An empty initial entry (no D-SACK range) is dropped here.
    if (SEQ_LT(s, e)) {
      blk[2 * k] = s;
      blk[2 * k + 1] = e;
      k++;
    }
  }
  tp.rcv_numsacks = k;
}

/**
 * Update the SACK list for newly received data [rcv_start, rcv_end) (tcp_update_sack_list).
 * The new block goes first (RFC 2018 §4: the first block reports the most recent segment);
 * blocks it touches merge into it, except that a block it overlaps without sharing an edge
 * splits into the overlap (reported first, as a D-SACK) and the union (kept among the
 * others). Blocks at or below rcv_nxt are dropped. With MAX_SACK_BLKS blocks already
 * kept, the oldest (last) one is evicted.
 *
 * tcp_input also calls it with the duplicate range of a segment that starts below
 * rcv_nxt (a D-SACK block), and with an empty range ending at the current D-SACK block to
 * keep that block first while dropping the blocks rcv_nxt has passed.
 */
export function tcp_update_sack_list(tp: TcpCb, rcv_start: number, rcv_end: number): void {
  if (SEQ_GT(rcv_start, rcv_end)) return;
  rcv_start >>>= 0;
  rcv_end >>>= 0;
  const blk = tp.sackblks;
  const saved = sackVars(tp.t_vnet).savedBlks;
  const rcv_nxt = tp.rcv_nxt;
  const num = tp.rcv_numsacks;
  let head_s: number;
  let head_e: number;
  if (rcv_start === rcv_end && num >= 1 && rcv_end === blk[1]) {
    // Keep the D-SACK block below rcv_nxt (the todrop range) at the head.
    head_s = blk[0] as number;
    head_e = blk[1] as number;
  } else {
    head_s = rcv_start;
    head_e = rcv_end;
  }
  let num_saved = 0;
  for (let i = 0; i < num; i++) {
    let start = blk[2 * i] as number;
    let end = blk[2 * i + 1] as number;
    if (SEQ_GEQ(start, end) || SEQ_LEQ(start, rcv_nxt)) {
      // Empty, or already cumulatively acknowledged: discard.
      continue;
    }
    if (SEQ_LEQ(head_s, end) && SEQ_GEQ(head_e, start)) {
      if (head_s === end) {
        head_s = start; // |-| then |---|: merge
      } else if (head_e === start) {
        head_e = end; // |---| then |-|: merge
      } else {
        // Overlap: the head shrinks to the duplicate part, the block grows to the union.
        if (SEQ_LT(head_s, start)) {
          const t = start;
          start = head_s;
          head_s = t;
        }
        if (SEQ_GT(head_e, end)) {
          const t = end;
          end = head_e;
          head_e = t;
        }
        if (head_s !== start || head_e !== end) num_saved = saveBlock(saved, num_saved, start, end);
      }
    } else {
      num_saved = saveBlock(saved, num_saved, start, end);
    }
  }
  let num_head = 0;
  if (SEQ_LT(rcv_start, rcv_end)) {
    // Out-of-order (or duplicate) data: its block goes to the top of the list.
    blk[0] = head_s;
    blk[1] = head_e;
    num_head = 1;
    if (num_saved >= MAX_SACK_BLKS) num_saved--; // evict the oldest block
  }
  if (rcv_start === rcv_end && rcv_start === blk[1]) num_head = 1;
  if (num_head + num_saved > MAX_SACK_BLKS) num_saved = MAX_SACK_BLKS - num_head;
  for (let i = 0; i < num_saved; i++) {
    blk[2 * (num_head + i)] = saved[2 * i] as number;
    blk[2 * (num_head + i) + 1] = saved[2 * i + 1] as number;
  }
  tp.rcv_numsacks = num_head + num_saved;
}

/** Append a block to saved[], replacing the previous one if this block covers it. */
function saveBlock(saved: Uint32Array, n: number, start: number, end: number): number {
  if (n >= 1 && SEQ_GEQ(saved[2 * (n - 1)] as number, start) && SEQ_LEQ(saved[2 * (n - 1) + 1] as number, end)) n--;
  if (n >= MAX_SACK_BLKS) return n;
  saved[2 * n] = start;
  saved[2 * n + 1] = end;
  return n + 1;
}

/**
 * Drop the D-SACK blocks (and any block rcv_nxt has passed) once they have been sent
 * (tcp_clean_dsack_blocks): a D-SACK block is reported once (RFC 2883 §4).
 */
export function tcp_clean_dsack_blocks(tp: TcpCb): void {
  const blk = tp.sackblks;
  const rcv_nxt = tp.rcv_nxt;
  let k = 0;
  for (let i = 0; i < tp.rcv_numsacks; i++) {
    const start = blk[2 * i] as number;
    const end = blk[2 * i + 1] as number;
    if (SEQ_GEQ(start, end) || SEQ_LEQ(start, rcv_nxt)) continue;
    blk[2 * k] = start;
    blk[2 * k + 1] = end;
    k++;
  }
  tp.rcv_numsacks = k;
}

/** Delete all receiver-side SACK information (tcp_clean_sackreport). */
export function tcp_clean_sackreport(tp: TcpCb): void {
  tp.rcv_numsacks = 0;
  if (tp.has_sackblks) tp.sackblks.fill(0);
}

/* ---------------------------------------------------------------------------------------- */
/* Sender side: the scoreboard (RFC 6675)                                                    */
/* ---------------------------------------------------------------------------------------- */

/** A new hole, or null at the per-connection or per-Vnet bound (tcp_sackhole_alloc). */
function tcp_sackhole_alloc(tp: TcpCb, sv: SackVars, start: number, end: number): SackHole | null {
  if (tp.snd_holes.length >= sv.maxholes || sv.globalholes >= sv.globalmaxholes) {
    tp.t_vnet.tcp.stat.tcps_sack_sboverflow++;
    return null;
  }
  sv.globalholes++;
  return { start: start >>> 0, end: end >>> 0, rxmit: start >>> 0 };
}

/**
 * Insert a hole after holes[after] (-1: at the tail) (tcp_sackhole_insert). Returns the
 * hole or null when over the bounds.
 */
function tcp_sackhole_insert(tp: TcpCb, sv: SackVars, start: number, end: number, after: number): SackHole | null {
  const hole = tcp_sackhole_alloc(tp, sv, start, end);
  if (hole === null) return null;
  let holes = tp.snd_holes;
  if (holes === NO_HOLES) holes = tp.snd_holes = [];
  if (after < 0 || after >= holes.length - 1) {
    holes.push(hole);
  } else {
    // Shift the tail up by one and put the hole in place (no temporary arrays).
    holes.push(hole);
    for (let i = holes.length - 1; i > after + 1; i--) holes[i] = holes[i - 1] as SackHole;
    holes[after + 1] = hole;
  }
  if (tp.sackhint.nexthole === null) tp.sackhint.nexthole = hole;
  return hole;
}

/** Remove holes[idx] (tcp_sackhole_remove): the hint moves to the next hole. */
function tcp_sackhole_remove(tp: TcpCb, sv: SackVars, idx: number): void {
  const holes = tp.snd_holes;
  const hole = holes[idx] as SackHole;
  if (tp.sackhint.nexthole === hole) tp.sackhint.nexthole = idx + 1 < holes.length ? (holes[idx + 1] as SackHole) : null;
  for (let i = idx; i < holes.length - 1; i++) holes[i] = holes[i + 1] as SackHole;
  holes.pop();
  sv.globalholes--;
}

/**
 * Count a D-SACK the peer reported (tcp_subr.c tcp_record_dsack): tcps_dsack_count,
 * tcps_dsack_bytes, t_dsack_pack and t_dsack_bytes.
 */
export function tcp_record_dsack(tp: TcpCb, start: number, end: number): void {
  const st = tp.t_vnet.tcp.stat;
  st.tcps_dsack_count++;
  tp.t_dsack_pack++;
  if (SEQ_GT(end, start)) {
    const n = (end - start) | 0;
    tp.t_dsack_bytes += n;
    st.tcps_dsack_bytes += n;
  } else {
    // A reversed block (FreeBSD adds it to t_dsack_tlp_bytes, which the TcpCb lacks).
    st.tcps_dsack_bytes += (start - end) | 0;
  }
}

/**
 * Process the cumulative ACK and the SACK option of one segment (tcp_sack_doack).
 *
 * If holes exist, [snd_una, th_ack) counts as a SACK block. Option blocks count only if
 * they are well formed and lie within (max(snd_una, th_ack), snd_max]; a block at or below
 * th_ack is a D-SACK (RFC 2883 §4: its first block reports duplicate data) and is only
 * counted. The blocks are sorted and merged into the scoreboard in one sweep from the
 * highest hole down: holes are removed, trimmed or split, a new hole is appended between
 * snd_fack and a block beyond it, and snd_fack advances to the highest SACKed byte.
 *
 * sackhint afterwards: sacked_bytes (SACKed bytes above snd_una), hole_bytes, lost_bytes
 * (hole bytes with DupThresh discontiguous SACKed ranges or more than (DupThresh - 1) * MSS
 * SACKed bytes above them: RFC 6675 §4 IsLost), delivered_data (bytes newly SACKed or
 * acked by this ACK, for PRR) and last_sack_ack (highest block end).
 *
 * Returns SACK_NOCHANGE for an ACK without a SACK option or without new information,
 * SACK_NEWLOSS when a hole was split or SACK data had to be dismissed, else SACK_CHANGE.
 * Counts tcps_sack_rcv_blocks (once per SACK option, as FreeBSD's tcp_dooptions does).
 */
export function tcp_sack_doack(tp: TcpCb, to: TcpOptsScratch, th_ack: number): SackStatus {
  const V = tp.t_vnet;
  const sv = sackVars(V);
  const sb = sv.doackBlocks;
  const holes = tp.snd_holes;
  const sh = tp.sackhint;
  th_ack >>>= 0;
  let nblk = 0;
  let sack_changed: SackStatus = SACK_NOCHANGE;
  let delivered_data = 0;
  let left_edge_delta = 0;
  let loss_hiack = 0;
  let loss_thresh = 0;
  let loss_sblks = 0;
  let notlost_bytes = 0;
  const maxseg = tp.t_maxseg;
  const lossLimit = (tcprexmtthresh - 1) * maxseg;

  // [SND.UNA, SEG.ACK) acts as a SACK block while holes exist; the advance of snd_una is
  // always delivered data.
  if (SEQ_LT(tp.snd_una, th_ack) && holes.length > 0) {
    left_edge_delta = (th_ack - tp.snd_una) | 0;
    sb[0] = tp.snd_una;
    sb[1] = th_ack;
    nblk = 1;
    // Pull snd_fack forward if only D-SACK blocks got us here.
    if (SEQ_LT(tp.snd_fack, th_ack)) {
      delivered_data += (th_ack - tp.snd_una) | 0;
      tp.snd_fack = th_ack;
      sack_changed = SACK_CHANGE;
    }
  }
  if (to.flags & TOF_SACK) {
    V.tcp.stat.tcps_sack_rcv_blocks++;
    const n = Math.min(to.nsacks, TCP_MAX_SACK);
    for (let i = 0; i < n; i++) {
      const start = to.sackBlocks[2 * i] as number;
      const end = to.sackBlocks[2 * i + 1] as number;
      if (
        SEQ_GT(end, start) &&
        SEQ_GT(start, tp.snd_una) &&
        SEQ_GT(start, th_ack) &&
        SEQ_LT(start, tp.snd_max) &&
        SEQ_GT(end, tp.snd_una) &&
        SEQ_LEQ(end, tp.snd_max)
      ) {
        sb[2 * nblk] = start;
        sb[2 * nblk + 1] = end;
        nblk++;
      } else if (SEQ_LEQ(start, th_ack) && SEQ_LEQ(end, th_ack)) {
        // A D-SACK block (RFC 2883 §4).
        tcp_record_dsack(tp, start, end);
      }
    }
  }
  // SND.UNA not advanced and no valid SACK block.
  if (nblk === 0) return sack_changed;

  // Sort by end so one sweep of the scoreboard suffices (at most 5 blocks).
  for (let i = 0; i < nblk; i++) {
    for (let j = i + 1; j < nblk; j++) {
      if (SEQ_GT(sb[2 * i + 1] as number, sb[2 * j + 1] as number)) {
        const s = sb[2 * i] as number;
        const e = sb[2 * i + 1] as number;
        sb[2 * i] = sb[2 * j] as number;
        sb[2 * i + 1] = sb[2 * j + 1] as number;
        sb[2 * j] = s;
        sb[2 * j + 1] = e;
      }
    }
  }
  if (holes.length === 0) {
    // Empty scoreboard: snd_fack may be stale; holes get created below.
    tp.snd_fack = SEQ_MAX(tp.snd_una, th_ack);
    sh.sacked_bytes = 0;
    sh.hole_bytes = 0;
  }
  // Walk blocks and holes from their tails (typically the highest blocks change).
  let bi = nblk - 1;
  let bs = sb[2 * bi] as number;
  let be = sb[2 * bi + 1] as number;
  sh.last_sack_ack = be;
  if (SEQ_LT(tp.snd_fack, bs)) {
    // The highest block is beyond fack. A last hole reaching fack is a successful rescue
    // retransmission (RFC 6675 §4 NextSeg rule 4): move that hole up to the new block.
    const last = holes.length > 0 ? (holes[holes.length - 1] as SackHole) : null;
    if (last !== null && SEQ_LEQ(tp.snd_fack, last.end)) {
      sh.hole_bytes -= (last.end - last.start) | 0;
      last.start = SEQ_MAX(tp.snd_fack, SEQ_MAX(tp.snd_una, th_ack));
      last.end = bs;
      last.rxmit = last.start;
      delivered_data += (be - bs) | 0;
      sh.hole_bytes += (last.end - last.start) | 0;
      tp.snd_fack = be;
      bi--;
      sack_changed = SACK_NEWLOSS;
    } else {
      // Append a hole between fack and the block; lower blocks beyond the old fack split it
      // in the sweep below.
      const temp = tcp_sackhole_insert(tp, sv, tp.snd_fack, bs, -1);
      if (temp !== null) {
        delivered_data += (be - bs) | 0;
        sh.hole_bytes += (temp.end - temp.start) | 0;
        tp.snd_fack = be;
        bi--;
        sack_changed = SACK_CHANGE;
      } else {
        // No hole for this block: skip the blocks entirely beyond fack and trim the
        // scoreboard with the rest (which includes the th_ack block).
        while (bi >= 0 && SEQ_LT(tp.snd_fack, sb[2 * bi] as number)) bi--;
        if (bi >= 0 && SEQ_LT(tp.snd_fack, sb[2 * bi + 1] as number)) {
          delivered_data += ((sb[2 * bi + 1] as number) - tp.snd_fack) | 0;
          tp.snd_fack = sb[2 * bi + 1] as number;
          // The scoreboard did not grow, but SACK data had to be dismissed.
          sack_changed = SACK_NEWLOSS;
        }
      }
    }
  } else if (SEQ_LT(tp.snd_fack, be)) {
    // fack advances.
    delivered_data += (be - tp.snd_fack) | 0;
    tp.snd_fack = be;
    sack_changed = SACK_CHANGE;
  }

  let ci = holes.length - 1;
  loss_hiack = tp.snd_fack;
  // One sweep: blocks and holes are both sorted. Holes passed without change feed the
  // RFC 6675 IsLost() estimate: a hole is lost once DupThresh SACKed ranges or more than
  // (DupThresh - 1) * SMSS SACKed bytes lie above it.
  while (ci >= 0) {
    const cur = holes[ci] as SackHole;
    if (bi < 0) {
      if (loss_sblks >= tcprexmtthresh || loss_thresh > lossLimit) break;
      loss_thresh += (loss_hiack - cur.end) | 0;
      loss_hiack = cur.start;
      loss_sblks++;
      if (!(loss_sblks >= tcprexmtthresh || loss_thresh > lossLimit)) notlost_bytes += (cur.end - cur.start) | 0;
      else break;
      ci--;
      continue;
    }
    bs = sb[2 * bi] as number;
    be = sb[2 * bi + 1] as number;
    if (SEQ_GEQ(bs, cur.end)) {
      // The block SACKs data beyond this hole: next block.
      bi--;
      continue;
    }
    if (SEQ_LEQ(be, cur.start)) {
      // The block SACKs data before this hole: previous hole.
      loss_thresh += (loss_hiack - cur.end) | 0;
      loss_hiack = cur.start;
      loss_sblks++;
      if (!(loss_sblks >= tcprexmtthresh || loss_thresh > lossLimit)) notlost_bytes += (cur.end - cur.start) | 0;
      ci--;
      continue;
    }
    sh.sack_bytes_rexmit -= (SEQ_MIN(cur.rxmit, cur.end) - cur.start) | 0;
    sack_changed = SACK_CHANGE;
    if (SEQ_LEQ(bs, cur.start)) {
      // The block covers at least the beginning of the hole.
      if (SEQ_GEQ(be, cur.end)) {
        // The whole hole: delete it; the block may cover the previous hole too.
        delivered_data += (cur.end - cur.start) | 0;
        sh.hole_bytes -= (cur.end - cur.start) | 0;
        tcp_sackhole_remove(tp, sv, ci);
        ci--;
        continue;
      }
      // Move the start of the hole forward.
      delivered_data += (be - cur.start) | 0;
      sh.hole_bytes -= (be - cur.start) | 0;
      cur.start = be;
      cur.rxmit = SEQ_MAX(cur.rxmit, cur.start);
    } else if (SEQ_GEQ(be, cur.end)) {
      // The block covers the end of the hole: move the end back.
      delivered_data += (cur.end - bs) | 0;
      sh.hole_bytes -= (cur.end - bs) | 0;
      cur.end = bs;
      cur.rxmit = SEQ_MIN(cur.rxmit, cur.end);
      if (tp.t_flags & TF_LRD && SEQ_GEQ(cur.rxmit, cur.end)) cur.rxmit = tp.snd_recover;
    } else {
      // The block SACKs the middle of the hole: split it.
      const temp = tcp_sackhole_insert(tp, sv, be, cur.end, ci);
      sack_changed = SACK_NEWLOSS;
      if (temp !== null) {
        if (SEQ_GT(cur.rxmit, temp.rxmit)) {
          temp.rxmit = cur.rxmit;
          sh.sack_bytes_rexmit += (SEQ_MIN(temp.rxmit, temp.end) - temp.start) | 0;
        }
        sh.hole_bytes -= (be - bs) | 0;
        loss_thresh += (loss_hiack - temp.end) | 0;
        loss_hiack = temp.start;
        loss_sblks++;
        if (!(loss_sblks >= tcprexmtthresh || loss_thresh > lossLimit)) notlost_bytes += (temp.end - temp.start) | 0;
        cur.end = bs;
        cur.rxmit = SEQ_MIN(cur.rxmit, cur.end);
        if (tp.t_flags & TF_LRD && SEQ_GEQ(cur.rxmit, cur.end)) cur.rxmit = tp.snd_recover;
        delivered_data += (be - bs) | 0;
      }
    }
    sh.sack_bytes_rexmit += (SEQ_MIN(cur.rxmit, cur.end) - cur.start) | 0;
    // Done with the hole if the block reached its start, else with the block.
    if (SEQ_LEQ(bs, cur.start)) {
      loss_thresh += (loss_hiack - cur.end) | 0;
      loss_hiack = cur.start;
      loss_sblks++;
      if (!(loss_sblks >= tcprexmtthresh || loss_thresh > lossLimit)) notlost_bytes += (cur.end - cur.start) | 0;
      ci--;
    } else {
      bi--;
    }
  }
  // An ACK without SACK blocks that only moved the left edge is a plain cumulative ACK:
  // no dupack, and needed for the RFC 6675 rescue retransmission.
  if (!(to.flags & TOF_SACK)) sack_changed = SACK_NOCHANGE;
  sh.delivered_data = delivered_data;
  sh.sacked_bytes += delivered_data - left_edge_delta;
  sh.lost_bytes = sh.hole_bytes - notlost_bytes;
  return sack_changed;
}

/** Free the whole scoreboard and reset the hints (tcp_free_sackholes). */
export function tcp_free_sackholes(tp: TcpCb): void {
  const holes = tp.snd_holes;
  const n = holes.length;
  if (n > 0) {
    const sv = sackVars(tp.t_vnet);
    sv.globalholes -= n;
    holes.length = 0;
  }
  const sh = tp.sackhint_p;
  if (sh === null) return; // never made: already all zeros
  sh.nexthole = null;
  sh.sack_bytes_rexmit = 0;
  sh.delivered_data = 0;
  sh.sacked_bytes = 0;
  sh.hole_bytes = 0;
  sh.lost_bytes = 0;
}

/**
 * Mark every hole for retransmission again (tcp_resend_sackholes): after an RTO the
 * scoreboard is kept (RFC 2018 errata / RFC 6675 §5.1) and resent from its first hole.
 */
export function tcp_resend_sackholes(tp: TcpCb): void {
  const holes = tp.snd_holes;
  for (let i = 0; i < holes.length; i++) {
    const p = holes[i] as SackHole;
    p.rxmit = p.start;
  }
  tp.sackhint.nexthole = holes.length > 0 ? (holes[0] as SackHole) : null;
  tp.sackhint.sack_bytes_rexmit = 0;
}

/**
 * A partial ACK during SACK recovery without PRR (tcp_sack_partialack): cwnd allows the
 * retransmissions in flight plus one segment, two if at least two were acked, never more
 * than ssthresh, and an ACK goes out now. RFC 6675 §4 NextSeg rule 4 (rescue
 * retransmission, with net.inet.tcp.sack.revised): after a cumulative ACK that emptied
 * the scoreboard below snd_recover, a hole is made for the last segment below snd_recover
 * (FIN excluded) so it is resent. Calls tcp_output. snd_una is not yet updated.
 */
export function tcp_sack_partialack(tp: TcpCb, th_ack: number, maxseg = 0): void {
  const V = tp.t_vnet;
  if (maxseg === 0) maxseg = tcp_maxseg(tp);
  tcp_timer_activate(tp, TT_REXMT, 0);
  tp.t_rtttime = 0;
  // One or two segments, by how much new data was acked.
  const acked = (th_ack - tp.snd_una) | 0;
  const num_segs = Math.floor(acked / maxseg) >= 2 ? 2 : 1;
  const cw = tp.sackhint.sack_bytes_rexmit + ((tp.snd_nxt - tp.snd_recover) | 0) + num_segs * maxseg;
  // (A negative sum is a huge unsigned value in FreeBSD, so it is clamped to ssthresh.)
  tp.snd_cwnd = cw < 0 || cw > tp.snd_ssthresh ? tp.snd_ssthresh : cw;
  tp.t_flags |= TF_ACKNOW;
  if (V.tcp.do_newsack && SEQ_LT(th_ack, tp.snd_recover) && tp.snd_holes.length === 0 && tp.sackhint.delivered_data > 0) {
    // Exclude the FIN's sequence number; no hole if only the FIN is outstanding.
    let highdata = tp.snd_max;
    if (tp.t_flags & TF_SENTFIN) highdata = (highdata - 1) >>> 0;
    highdata = SEQ_MIN(highdata, tp.snd_recover);
    if (SEQ_LT(th_ack, highdata)) {
      tp.snd_fack = th_ack >>> 0;
      const temp = tcp_sackhole_insert(tp, sackVars(V), SEQ_MAX(th_ack, (highdata - maxseg) >>> 0), highdata, -1);
      if (temp !== null) tp.sackhint.hole_bytes += (temp.end - temp.start) | 0;
    }
  }
  tcp_output(tp);
}

/**
 * The next hole to retransmit, or null (tcp_sack_output). The hint moves past holes whose
 * every byte has been retransmitted (rxmit == end); bytes already retransmitted from holes
 * are tp.sackhint.sack_bytes_rexmit (tcp_output adds what it resends, tcp_sack_doack takes
 * out what gets SACKed). Without net.inet.tcp.sack.revised a hole at or beyond snd_fack is
 * refused.
 */
export function tcp_sack_output(tp: TcpCb): SackHole | null {
  let hole = tp.sackhint.nexthole;
  if (hole === null) return null;
  if (SEQ_GEQ(hole.rxmit, hole.end)) {
    const holes = tp.snd_holes;
    let i = holes.indexOf(hole);
    if (i < 0) return null;
    for (;;) {
      if (++i >= holes.length) return null;
      hole = holes[i] as SackHole;
      if (SEQ_LT(hole.rxmit, hole.end)) {
        tp.sackhint.nexthole = hole;
        break;
      }
    }
  }
  if (!tp.t_vnet.tcp.do_newsack) {
    const fack = tp.snd_fack;
    if (SEQ_GEQ(hole.start, hole.end) || SEQ_GEQ(hole.start, fack) || SEQ_GEQ(hole.end, fack) || SEQ_GEQ(hole.rxmit, fack)) return null;
  }
  return hole;
}

/**
 * After an RTO, move snd_nxt past SACKed data (tcp_sack_adjust): if snd_nxt lies between
 * two holes it moves to the start of the next hole; if past the last hole, to snd_fack.
 */
export function tcp_sack_adjust(tp: TcpCb): void {
  const holes = tp.snd_holes;
  if (holes.length === 0) return;
  if (SEQ_GEQ(tp.snd_nxt, tp.snd_fack)) return; // beyond any SACKed block already
  let cur = holes[0] as SackHole;
  for (let i = 1; i < holes.length; i++) {
    const p = holes[i] as SackHole;
    if (SEQ_LT(tp.snd_nxt, cur.end)) return;
    if (SEQ_GEQ(tp.snd_nxt, p.start)) {
      cur = p;
    } else {
      tp.snd_nxt = p.start;
      return;
    }
  }
  if (SEQ_LT(tp.snd_nxt, cur.end)) return;
  tp.snd_nxt = tp.snd_fack;
}

/**
 * Lost Retransmission Detection (tcp_sack_lost_retransmission, net.inet.tcp.sack.lrd):
 * in recovery, when snd_fack passes snd_recover and the first hole was completely
 * retransmitted before what is now SACKed, that retransmission was lost. Every hole
 * retransmitted below snd_fack is resent, and recovery restarts with a fresh congestion
 * response (cwnd from ssthresh, CC_NDUPACK), counting tcps_sack_lostrexmt.
 */
export function tcp_sack_lost_retransmission(tp: TcpCb, th_ack: number): void {
  const holes = tp.snd_holes;
  if (!IN_RECOVERY(tp) || !SEQ_GT(tp.snd_fack, tp.snd_recover) || holes.length === 0) return;
  const first = holes[0] as SackHole;
  if (!(SEQ_GEQ(first.rxmit, first.end) && SEQ_GEQ(tp.snd_fack, first.rxmit))) return;
  tp.t_vnet.tcp.stat.tcps_sack_lostrexmt++;
  // Restart from the first hole, including holes that were completely resent.
  tp.sackhint.nexthole = first;
  for (let i = 0; i < holes.length; i++) {
    const h = holes[i] as SackHole;
    if (SEQ_GEQ(tp.snd_fack, h.rxmit) && SEQ_GEQ(h.rxmit, h.end)) h.rxmit = h.start;
  }
  // cwnd = ssthresh before the new reduction so it does not shrink excessively; leave
  // recovery formally and let the CC module set ssthresh.
  tp.snd_cwnd = tp.snd_ssthresh;
  tp.t_flags &= ~(TF_FASTRECOVERY | TF_CONGRECOVERY);
  cc_cong_signal_ndupack(tp, th_ack);
  // A safe cwnd until SACK or PRR processing adjusts it; recover_fs as if this reduction
  // had started it (uint32 arithmetic, as FreeBSD).
  tp.snd_cwnd = tcp_maxseg(tp);
  tp.sackhint.recover_fs = ((((tp.snd_max - tp.snd_una) | 0) - tp.sackhint.recover_fs) | 0) >>> 0;
}

/**
 * tcp_input.c cc_cong_signal(tp, th, CC_NDUPACK), which tcp_sack_lost_retransmission
 * calls: a new recovery point, CWR for ECN, then the algorithm's cong_signal hook.
 */
function cc_cong_signal_ndupack(tp: TcpCb, th_ack: number): void {
  if (!IN_FASTRECOVERY(tp)) {
    tp.snd_recover = tp.snd_max;
    if (tp.t_flags2 & TF2_ECN_PERMIT) tp.t_flags2 |= TF2_ECN_SND_CWR;
  }
  const algo = tp.cc_algo;
  if (algo?.cong_signal !== undefined) {
    tp.t_ccv.curack = th_ack >>> 0;
    algo.cong_signal(tp.t_ccv, CC_NDUPACK);
  }
}

/* ---------------------------------------------------------------------------------------- */
/* Recovery helpers of tcp_input.c                                                           */
/* ---------------------------------------------------------------------------------------- */

/**
 * SACK loss recovery applies (tcp_input.c tcp_is_sack_recovery): SACK was negotiated and
 * this ACK carries SACK blocks or the scoreboard is not empty (so recovery starts only on a
 * duplicate ACK with SACK blocks, and completes if the peer reneges).
 */
export function tcp_is_sack_recovery(tp: TcpCb, to: TcpOptsScratch | null): boolean {
  return (tp.t_flags & TF_SACK_PERMIT) !== 0 && ((to !== null && (to.flags & TOF_SACK) !== 0) || tp.snd_holes.length > 0);
}

/** ceil(a * b / c) for non-negative integers, exact beyond 2^53 (howmany of a 64-bit product). */
function howmanyMul(a: number, b: number, c: number): number {
  const p = a * b;
  if (p <= Number.MAX_SAFE_INTEGER) return Math.ceil(p / c);
  const bc = BigInt(c);
  return Number((BigInt(a) * BigInt(b) + bc - 1n) / bc);
}

/**
 * Proportional Rate Reduction for one ACK in recovery (tcp_input.c tcp_do_prr_ack,
 * RFC 6937 with the RFC 6937bis heuristics). It sets snd_cwnd so that the next
 * tcp_output sends snd_cnt segments:
 *   pipe >= ssthresh: proportional part, ceil(prr_delivered * ssthresh / RecoverFS)
 *     - prr_out (+ MSS - 1, rounded down to segments);
 *   pipe <  ssthresh: slow-start reduction bound (PRR-SSRB), min(ssthresh - pipe, limit),
 *     limit = max(prr_delivered - prr_out, DeliveredData) + MSS, or only
 *     prr_delivered - prr_out when the ACK shows new loss (SACK_NEWLOSS) or delivered
 *     nothing (ACK-splitting defence).
 * With SACK, DeliveredData is sackhint.delivered_data and pipe is tcp_compute_pipe
 * (net.inet.tcp.sack.revised) or snd_nxt - snd_fack + sack_bytes_rexmit; without, one MSS
 * per duplicate ACK. `maxseg` 0 means tcp_maxseg(tp). `to` is the segment's options
 * (tcp_is_sack_recovery); without it only the scoreboard decides. th_ack is unused, as in
 * FreeBSD.
 */
export function tcp_do_prr_ack(tp: TcpCb, th_ack: number, sack_changed: number, maxseg: number, to: TcpOptsScratch | null = null): void {
  void th_ack;
  const V = tp.t_vnet;
  const sh = tp.sackhint;
  if (maxseg === 0) maxseg = tcp_maxseg(tp);
  let del_data = 0;
  let pipe: number;
  const sackRecovery = tcp_is_sack_recovery(tp, to);
  // DeliveredData of this ACK and an estimate of the bytes in the network.
  if (sackRecovery || (IN_CONGRECOVERY(tp) && !IN_FASTRECOVERY(tp))) {
    del_data = sh.delivered_data;
    if (V.tcp.do_newsack) pipe = tcp_compute_pipe(tp);
    else pipe = ((tp.snd_nxt - tp.snd_fack) | 0) + sh.sack_bytes_rexmit;
  } else {
    if (sh.prr_delivered < tcprexmtthresh * maxseg + ((tp.snd_recover - tp.snd_una) | 0)) del_data = maxseg;
    pipe = Math.max(0, ((tp.snd_max - tp.snd_una) | 0) - Math.min(Math.floor(0x7fffffff / 65536), tp.t_dupacks) * maxseg);
  }
  sh.prr_delivered += del_data;
  let snd_cnt: number;
  if (pipe >= tp.snd_ssthresh) {
    // RFC 6937 §3: proportional rate reduction.
    if (sh.recover_fs === 0) sh.recover_fs = Math.max(1, (tp.snd_nxt - tp.snd_una) | 0);
    snd_cnt = howmanyMul(sh.prr_delivered, tp.snd_ssthresh, sh.recover_fs) - sh.prr_out + maxseg - 1;
  } else {
    // RFC 6937 §3 PRR-SSRB, with the 6937bis conservative cases.
    let limit: number;
    if (sack_changed === SACK_NEWLOSS || del_data === 0) limit = sh.prr_delivered - sh.prr_out;
    else limit = Math.max(sh.prr_delivered - sh.prr_out, del_data) + maxseg;
    snd_cnt = Math.min(tp.snd_ssthresh - pipe, limit);
  }
  snd_cnt = Math.floor(Math.max(snd_cnt, 0) / maxseg);
  // cwnd that lets tcp_output send snd_cnt segments (beyond SACK retransmissions).
  let cwnd = tp.snd_cwnd;
  if (IN_FASTRECOVERY(tp)) {
    if (sackRecovery) cwnd = ((tp.snd_nxt - tp.snd_recover) | 0) + sh.sack_bytes_rexmit + snd_cnt * maxseg;
    else cwnd = ((tp.snd_max - tp.snd_una) | 0) + snd_cnt * maxseg;
  } else if (IN_CONGRECOVERY(tp)) {
    cwnd = pipe - del_data + snd_cnt * maxseg;
  }
  tp.snd_cwnd = Math.max(maxseg, cwnd);
}

/**
 * A partial ACK in NewReno fast recovery (tcp_input.c tcp_newreno_partial_ack, RFC 6582
 * §3.2 step 5): retransmit the first unacknowledged segment at once (snd_nxt = th_ack and
 * cwnd one segment beyond what this ACK acknowledged, for one tcp_output call), then
 * restore snd_nxt and deflate cwnd by the amount acked, adding back one MSS. t_dupacks is
 * kept. snd_una is not yet updated.
 */
export function tcp_newreno_partial_ack(tp: TcpCb, th_ack: number): void {
  th_ack >>>= 0;
  const onxt = tp.snd_nxt;
  const ocwnd = tp.snd_cwnd;
  const maxseg = tcp_maxseg(tp);
  const acked = (th_ack - tp.snd_una) | 0;
  tcp_timer_activate(tp, TT_REXMT, 0);
  tp.t_rtttime = 0;
  tp.snd_nxt = th_ack;
  tp.snd_cwnd = maxseg + acked;
  tp.t_flags |= TF_ACKNOW;
  tcp_output(tp);
  tp.snd_cwnd = ocwnd;
  if (SEQ_GT(onxt, tp.snd_nxt)) tp.snd_nxt = onxt;
  // Partial window deflation.
  tp.snd_cwnd = tp.snd_cwnd > acked ? tp.snd_cwnd - acked : 0;
  tp.snd_cwnd += maxseg;
}
