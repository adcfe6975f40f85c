/*
 * TCP control block, statistics and per-Vnet variables (BSD netinet/tcp_var.h,
 * tcp_timer.h).
 *
 * The TcpCb keeps FreeBSD's field names (snd_una, rcv_nxt, t_srtt...) so this code can be
 * read beside tcp_input.c and tcp_output.c. Time is in ticks of the Vnet's callout wheel
 * (1 ms at hz=1000); t_srtt and t_rttvar are scaled fixed-point like FreeBSD's
 * (TCP_RTT_SHIFT, TCP_RTTVAR_SHIFT).
 *
 * Timers follow FreeBSD 14: one callout per connection and an array of due ticks, one per
 * timer kind (TT_DELACK, TT_REXMT, TT_PERSIST, TT_KEEP, TT_2MSL); the callout is armed for
 * the earliest.
 */

import type { TcpLogBuf } from './tcp_log_buf.js';
import type { Callout } from '../kern/kern_timeout.js';
import type { Probe } from '../kern/kern_sdt.js';
import type { Mbuf } from '../mbuf/mbuf.js';
import type { Vnet } from '../vnet.js';
import type { SipHash } from '../kern/siphash.js';
import { TcpOptsScratch } from '../wire/tcp.js';
import type { CcAlgo, CcVar } from './cc/cc.js';
import type { Inpcb } from './in_pcb.js';
import { PcbInfo } from './in_pcb.js';
import { TCPS_CLOSED } from './tcp_fsm.js';
import type { SynCache } from './tcp_syncache.js';
import type { TcpPcbRecord } from './tcp_subr.js';
import { TcpReassOut } from './tcp_reass.js';

// --- timers (tcp_timer.h) ---
export const TT_DELACK = 0;
export const TT_REXMT = 1;
export const TT_PERSIST = 2;
export const TT_KEEP = 3;
export const TT_2MSL = 4;
export const TT_N = 5;
export const TT_NAMES = ['delack', 'rexmt', 'persist', 'keep', '2msl'] as const;

export const TCP_MAXRXTSHIFT = 12; // maximum retransmits
export const TCP_RTT_SCALE = 32; // multiplier for srtt; 3 bits frac.
export const TCP_RTT_SHIFT = 5;
export const TCP_RTTVAR_SCALE = 16;
export const TCP_RTTVAR_SHIFT = 4;
export const TCP_DELTA_SHIFT = 2;
/** tcp_backoff[] (tcp_timer.c): used for SYN and data retransmits alike in FreeBSD 14. */
export const tcp_backoff: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512, 512];
export const tcp_totbackoff = 2559; // sum of tcp_backoff[]

// --- t_flags (tcp_var.h) ---
export const TF_ACKNOW = 0x00000001; // ack peer immediately
export const TF_DELACK = 0x00000002; // ack, but try to delay it
export const TF_NODELAY = 0x00000004; // don't delay packets to coalesce
export const TF_NOOPT = 0x00000008; // don't use tcp options
export const TF_SENTFIN = 0x00000010; // have sent FIN
export const TF_REQ_SCALE = 0x00000020; // have/will request window scaling
export const TF_RCVD_SCALE = 0x00000040; // other side has requested scaling
export const TF_REQ_TSTMP = 0x00000080; // have/will request timestamps
export const TF_RCVD_TSTMP = 0x00000100; // a timestamp was received in SYN
export const TF_SACK_PERMIT = 0x00000200; // other side said I could SACK
export const TF_NEEDSYN = 0x00000400; // send SYN (implicit state)
export const TF_NEEDFIN = 0x00000800; // send FIN (implicit state)
export const TF_NOPUSH = 0x00001000; // don't push
export const TF_PREVVALID = 0x00002000; // saved values for bad rxmit valid
export const TF_WAKESOR = 0x00004000; // wake up receive socket
export const TF_GPUTINPROG = 0x00008000;
export const TF_MORETOCOME = 0x00010000; // More data to be appended to sock
export const TF_SONOTCONN = 0x00020000; // socket is not connected
export const TF_LASTIDLE = 0x00040000; // connection was previously idle
export const TF_RXWIN0SENT = 0x00080000; // sent a receiver win 0 in response
export const TF_FASTRECOVERY = 0x00100000; // in NewReno Fast Recovery
export const TF_WASFRECOVERY = 0x00200000; // was in NewReno Fast Recovery
export const TF_SIGNATURE = 0x00400000; // require MD5 digests (RFC2385)
export const TF_FORCEDATA = 0x00800000; // force out a byte
export const TF_TSO = 0x01000000; // TSO enabled on this connection
export const TF_TOE = 0x02000000;
export const TF_CLOSED = 0x04000000; // close(2) was called
export const TF_SENTSYN = 0x08000000; // SYN was sent
export const TF_LRD = 0x10000000; // Lost Retransmission Detection
export const TF_CONGRECOVERY = 0x20000000; // congestion recovery mode
export const TF_WASCRECOVERY = 0x40000000; // was in congestion recovery
export const TF_FASTOPEN = 0x80000000; // TCP Fast Open indication

// --- t_flags2 ---
export const TF2_PLPMTU_BLACKHOLE = 0x00000001;
export const TF2_PLPMTU_PMTUD = 0x00000002;
export const TF2_PLPMTU_MAXSEGSNT = 0x00000004;
export const TF2_LOG_AUTO = 0x00000008;
export const TF2_DROP_AF_DATA = 0x00000010;
export const TF2_ECN_PERMIT = 0x00000020; // connection ECN-ready
export const TF2_ECN_SND_CWR = 0x00000040; // ECN CWR in queue
export const TF2_ECN_SND_ECE = 0x00000080; // ECN ECE in queue
export const TF2_ACE_PERMIT = 0x00000100; // Accurate ECN mode
export const TF2_FBYTES_COMPLETE = 0x00000400;
export const TF2_ECN_USE_ECT1 = 0x00000800;
export const TF2_TCP_ACCOUNTING = 0x00001000;
export const TF2_NO_ISS_CHECK = 0x00004000;
/** bsdnet: the tcpcb was torn down while one of its timers was invoking (TF_DEAD). */
export const TF2_DEAD = 0x80000000;

/** TCP_INFO tcpi_options bits (netinet/tcp.h). */
export const TCPI_OPT_TIMESTAMPS = 0x01;
export const TCPI_OPT_SACK = 0x02;
export const TCPI_OPT_WSCALE = 0x04;
export const TCPI_OPT_ECN = 0x08;
export const TCPI_OPT_TOE = 0x10;
export const TCPI_OPT_TFO = 0x20;
export const TCPI_OPT_ACE = 0x40;

/** A hole in the SACK scoreboard (struct sackhole). */
export interface SackHole {
  start: number; // start seq no. of hole
  end: number; // end seq no.
  rxmit: number; // next seq. no in hole to be retransmitted
}

/** SACK hints (struct sackhint). */
export class SackHint {
  nexthole: SackHole | null = null;
  sack_bytes_rexmit = 0;
  last_sack_ack = 0; // most recent/largest sacked ack
  delivered_data = 0;
  sacked_bytes = 0; // total sacked bytes reported by the receiver
  recover_fs = 0; // flight size at the start of loss recovery
  prr_delivered = 0; // total bytes delivered using PRR
  prr_out = 0; // bytes sent during IN_RECOVERY
  hole_bytes = 0; // current number of bytes in scoreboard holes
  lost_bytes = 0; // number of rfc6675 IsLost() bytes
}

/** What every connection without its own SackHint reads (never written). */
const SACKHINT_ZERO = new SackHint();

/** A queued out-of-order segment (struct tseg_qent). */
export interface TsegQent {
  seq: number;
  len: number;
  flags: number; // TH_FIN only matters
  m: Mbuf;
}

/** Shared empty scoreboard and reassembly queue (frozen: writers replace them with a new array first). */
export const NO_HOLES: SackHole[] = Object.freeze([]) as unknown as SackHole[];
export const NO_SEGS: TsegQent[] = Object.freeze([]) as unknown as TsegQent[];

/**
 * The cold part of a TcpCb: fields that most connections never set (bad-retransmit undo,
 * D-SACK, ECN, challenge-ACK rate limit, reassembly and retransmit statistics, user options).
 * A TcpCb reads them from TCPCB_COLD_DEFAULTS until one is written with a value other than
 * its default, which makes the connection's own TcpCbCold (about 250 bytes saved on every idle
 * connection).
 */
export class TcpCbCold {
  /** Timers committed to run but not yet run (callout race accounting). */
  t_timers_running = 0;
  t_dupacks = 0;
  t_pmtud_saved_maxseg = 0;
  t_badrxtwin = 0; // window for retransmit recovery
  t_softerror = 0; // possible error not yet reported
  snd_cwnd_prev = 0; // cwnd prior to retransmit (bad rexmit undo)
  snd_ssthresh_prev = 0;
  t_sndzerowin = 0; // zero-window updates sent
  t_sndrexmitpack = 0; // retransmit packets sent
  t_sndtlppack = 0;
  t_dsack_bytes = 0;
  t_dsack_pack = 0;
  t_segqlen = 0; // bytes queued
  t_segqmbuflen = 0;
  t_rcvoopack = 0;
  t_maxunacktime = 0;
  t_keepalive_probes = 0;
  t_ecn_retries = 0;
  t_ecn_ce_pending = false;
  t_rexmitbytes = 0;
  t_snd_rxt_pkts = 0;
  t_rcv_ooopack = 0;
  /** Peer's MSS offer (0 = none). */
  t_peer_mss = 0;
  /** User-set TCP_MAXSEG (0 = none). */
  t_user_maxseg = 0;
  /** Congestion control name chosen for this socket (null = system default). */
  t_cc_name: string | null = null;
  /** Black-box log ring, when enabled. */
  t_bblog: unknown = null;
  /** Segments sent by limited transmit (RFC 3042) since the last dupack run (snd_limited). */
  snd_limited = 0;
  /** RFC 5961 §7 challenge-ACK rate limit window (tick it ends) and count within it. */
  t_challenge_ack_end = 0;
  t_challenge_ack_cnt = 0;
  /** snd_recover before a retransmit timeout (bad-rexmit undo), as int32 (see TcpCb). */
  snd_recover_prev = 0;
}

/** The defaults every TcpCb without its own TcpCbCold reads (never written). */
const TCPCB_COLD_DEFAULTS = new TcpCbCold();

export class TcpCb {
  readonly t_vnet: Vnet;
  readonly t_inpcb: Inpcb;
  t_state = TCPS_CLOSED;
  t_flags = 0;
  t_flags2 = 0;
  /** Rarely used state (recovery undo, D-SACK and ECN counters, per-connection statistics...). */
  private _cold: TcpCbCold | null = null;
  // Timers: one callout and the due tick of each kind (0 = not armed).
  readonly t_callout: Callout<TcpCb>;
  // Five fields, not an array (an array costs 88 heap bytes, these 40): see timerDue().
  tt_delack = 0;
  tt_rexmt = 0;
  tt_persist = 0;
  tt_keep = 0;
  tt_2msl = 0;
  /** Largest send window the peer offered (max_sndwnd). */
  max_sndwnd = 0;
  t_maxseg = 0; // maximum segment size (payload + options)
  t_rxtshift = 0; // log(2) of rexmt exp. backoff
  t_rxtcur = 0; // current retransmit value (ticks)
  t_srtt = 0; // smoothed round-trip time (ticks << TCP_RTT_SHIFT)
  t_rttvar = 0; // variance in round-trip time (ticks << TCP_RTTVAR_SHIFT)
  t_rttmin = 0; // minimum rtt allowed (ticks)
  t_rttupdated = 0; // number of times rtt sampled
  t_rttlow = 0; // smallest observed RTT (ticks)
  t_rtttime = 0; // tick when rtt timing started (0 = not timing)
  private _t_rtseq = 0; // sequence number being timed
  t_starttime = 0; // tick the connection was created
  t_rcvtime = 0; // tick of last segment received (idle)
  t_sndtime = 0; // tick of last segment sent
  // send sequence variables (RFC 9293 §3.3.1)
  private _snd_una = 0; // sent but unacknowledged
  private _snd_max = 0; // highest sequence number sent
  private _snd_nxt = 0; // send next
  private _snd_up = 0; // send urgent pointer
  private _snd_wl1 = 0; // window update seg seq number
  private _snd_wl2 = 0; // window update seg ack number
  private _iss = 0; // initial send sequence number
  snd_wnd = 0; // send window
  private _snd_recover = 0; // for use in NewReno Fast Recovery
  snd_cwnd = 0; // congestion-controlled window (bytes)
  snd_ssthresh = 0; // snd_cwnd size threshold for slow start
  snd_scale = 0; // window scaling for send window
  requested_s_scale = 0; // pending window scaling (received)
  // receive sequence variables
  private _rcv_nxt = 0; // receive next
  private _rcv_adv = 0; // advertised window
  rcv_wnd = 0; // receive window
  private _rcv_up = 0; // receive urgent pointer
  private _irs = 0; // initial receive sequence number
  rcv_scale = 0; // window scaling for recv window
  request_r_scale = 0; // pending window scaling (requested)
  // timestamps (RFC 7323)
  private _ts_recent = 0; // timestamp echo data
  ts_recent_age = 0; // when last updated (ticks)
  private _ts_offset = 0; // our timestamp offset
  private _last_ack_sent = 0;
  // SACK (RFC 2018, RFC 6675)
  rcv_numsacks = 0; // # distinct sack blks present
  /** Receiver's blocks (start, end) pairs, MAX_SACK_BLKS=6; made on first use (see sackblks). */
  private _sackblks: Uint32Array | null = null;
  /** Sender scoreboard, in sequence order; the shared frozen NO_HOLES until the first hole. */
  snd_holes: SackHole[] = NO_HOLES;
  private _snd_fack = 0; // highest SACKed sequence
  /** SACK hints, made on first use of `sackhint` (only SACK processing and recovery need them). */
  private _sackhint: SackHint | null = null;
  // reassembly queue
  /** Out-of-order queue; the shared frozen NO_SEGS until the first out-of-order segment. */
  t_segq: TsegQent[] = NO_SEGS;
  // keepalive (per connection, in ticks)
  t_keepinit = 0;
  t_keepidle = 0;
  t_keepintvl = 0;
  t_keepcnt = 0;
  // congestion control
  cc_algo: CcAlgo | null = null;
  readonly t_ccv: CcVar;
  t_bytes_acked = 0; // ABC "bytes_acked" parameter
  // receive buffer autosizing (RFC 1323 style measurement, FreeBSD tcp_autorcvbuf)
  rfbuf_ts = 0; // recv buffer autoscaling timestamp
  rfbuf_cnt = 0; // recv buffer autoscaling byte count
  // ECN (RFC 3168)
  // statistics of this connection (TCP_INFO)
  t_sndbytes = 0;
  t_rcvbytes = 0;
  t_sndpack = 0;
  t_rcvpack = 0;
  // application-facing
  /** Set when the tcpcb is freed. */
  t_freed = false;
  /** HyStart++ round tracking: the round ends when snd_una passes t_round_end. */
  private _t_round_end = 0;
  /** HyStart++ round count (hot: the first ACK of every connection bumps it). */
  t_round_cnt = 0;

  // Sequence numbers and timestamps are uint32 to the code (the getters) but are stored as
  // int32 so they stay small integers: a uint32 above 2^31 in a field makes V8 box the field
  // as a heap number in every tcpcb (about 16 bytes each, per field).
  get t_rtseq(): number {
    return this._t_rtseq >>> 0;
  }
  set t_rtseq(v: number) {
    this._t_rtseq = v | 0;
  }
  get snd_una(): number {
    return this._snd_una >>> 0;
  }
  set snd_una(v: number) {
    this._snd_una = v | 0;
  }
  get snd_max(): number {
    return this._snd_max >>> 0;
  }
  set snd_max(v: number) {
    this._snd_max = v | 0;
  }
  get snd_nxt(): number {
    return this._snd_nxt >>> 0;
  }
  set snd_nxt(v: number) {
    this._snd_nxt = v | 0;
  }
  get snd_up(): number {
    return this._snd_up >>> 0;
  }
  set snd_up(v: number) {
    this._snd_up = v | 0;
  }
  get snd_wl1(): number {
    return this._snd_wl1 >>> 0;
  }
  set snd_wl1(v: number) {
    this._snd_wl1 = v | 0;
  }
  get snd_wl2(): number {
    return this._snd_wl2 >>> 0;
  }
  set snd_wl2(v: number) {
    this._snd_wl2 = v | 0;
  }
  get iss(): number {
    return this._iss >>> 0;
  }
  set iss(v: number) {
    this._iss = v | 0;
  }
  get snd_recover(): number {
    return this._snd_recover >>> 0;
  }
  set snd_recover(v: number) {
    this._snd_recover = v | 0;
  }
  get rcv_nxt(): number {
    return this._rcv_nxt >>> 0;
  }
  set rcv_nxt(v: number) {
    this._rcv_nxt = v | 0;
  }
  get rcv_adv(): number {
    return this._rcv_adv >>> 0;
  }
  set rcv_adv(v: number) {
    this._rcv_adv = v | 0;
  }
  get rcv_up(): number {
    return this._rcv_up >>> 0;
  }
  set rcv_up(v: number) {
    this._rcv_up = v | 0;
  }
  get irs(): number {
    return this._irs >>> 0;
  }
  set irs(v: number) {
    this._irs = v | 0;
  }
  get ts_recent(): number {
    return this._ts_recent >>> 0;
  }
  set ts_recent(v: number) {
    this._ts_recent = v | 0;
  }
  get ts_offset(): number {
    return this._ts_offset >>> 0;
  }
  set ts_offset(v: number) {
    this._ts_offset = v | 0;
  }
  get last_ack_sent(): number {
    return this._last_ack_sent >>> 0;
  }
  set last_ack_sent(v: number) {
    this._last_ack_sent = v | 0;
  }
  get snd_fack(): number {
    return this._snd_fack >>> 0;
  }
  set snd_fack(v: number) {
    this._snd_fack = v | 0;
  }
  get t_round_end(): number {
    return this._t_round_end >>> 0;
  }
  set t_round_end(v: number) {
    this._t_round_end = v | 0;
  }

  /** The SACK hints, made on first use (writers and recovery code use this). */
  get sackhint(): SackHint {
    let h = this._sackhint;
    if (h === null) h = this._sackhint = new SackHint();
    return h;
  }
  /** The SACK hints if made, else null (a connection without them has all-zero hints). */
  get sackhint_p(): SackHint | null {
    return this._sackhint;
  }
  /** The SACK hints for reading: all zeros (and no next hole) until they are made. */
  get sackhint_r(): Readonly<SackHint> {
    return this._sackhint ?? SACKHINT_ZERO;
  }

  /** Due tick of timer `which` (TT_DELACK...TT_2MSL), 0 when not armed. */
  timerDue(which: number): number {
    switch (which) {
      case TT_DELACK:
        return this.tt_delack;
      case TT_REXMT:
        return this.tt_rexmt;
      case TT_PERSIST:
        return this.tt_persist;
      case TT_KEEP:
        return this.tt_keep;
      default:
        return this.tt_2msl;
    }
  }
  setTimerDue(which: number, due: number): void {
    switch (which) {
      case TT_DELACK:
        this.tt_delack = due;
        break;
      case TT_REXMT:
        this.tt_rexmt = due;
        break;
      case TT_PERSIST:
        this.tt_persist = due;
        break;
      case TT_KEEP:
        this.tt_keep = due;
        break;
      default:
        this.tt_2msl = due;
    }
  }
  /** Disarm every timer (the callout is the caller's business). */
  timersClear(): void {
    this.tt_delack = 0;
    this.tt_rexmt = 0;
    this.tt_persist = 0;
    this.tt_keep = 0;
    this.tt_2msl = 0;
  }

  /** The receiver's SACK blocks, allocated on first use (most connections never need them). */
  get sackblks(): Uint32Array {
    let b = this._sackblks;
    if (b === null) b = this._sackblks = new Uint32Array(2 * 6);
    return b;
  }
  /** Whether the SACK block array exists (tcp_clean_sackreport need not make it). */
  get has_sackblks(): boolean {
    return this._sackblks !== null;
  }

  // Cold state (TcpCbCold): read through the shared defaults until a non-default write
  // makes this connection's own sub-object.
  get t_dupacks(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_dupacks;
  }
  set t_dupacks(v: number) {
    if (this._cold !== null) this._cold.t_dupacks = v;
    else if (v !== 0) this.cold().t_dupacks = v;
  }
  get t_pmtud_saved_maxseg(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_pmtud_saved_maxseg;
  }
  set t_pmtud_saved_maxseg(v: number) {
    if (this._cold !== null) this._cold.t_pmtud_saved_maxseg = v;
    else if (v !== 0) this.cold().t_pmtud_saved_maxseg = v;
  }
  get t_badrxtwin(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_badrxtwin;
  }
  set t_badrxtwin(v: number) {
    if (this._cold !== null) this._cold.t_badrxtwin = v;
    else if (v !== 0) this.cold().t_badrxtwin = v;
  }
  get t_softerror(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_softerror;
  }
  set t_softerror(v: number) {
    if (this._cold !== null) this._cold.t_softerror = v;
    else if (v !== 0) this.cold().t_softerror = v;
  }
  get snd_cwnd_prev(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).snd_cwnd_prev;
  }
  set snd_cwnd_prev(v: number) {
    if (this._cold !== null) this._cold.snd_cwnd_prev = v;
    else if (v !== 0) this.cold().snd_cwnd_prev = v;
  }
  get snd_ssthresh_prev(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).snd_ssthresh_prev;
  }
  set snd_ssthresh_prev(v: number) {
    if (this._cold !== null) this._cold.snd_ssthresh_prev = v;
    else if (v !== 0) this.cold().snd_ssthresh_prev = v;
  }
  get t_sndzerowin(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_sndzerowin;
  }
  set t_sndzerowin(v: number) {
    if (this._cold !== null) this._cold.t_sndzerowin = v;
    else if (v !== 0) this.cold().t_sndzerowin = v;
  }
  get t_sndrexmitpack(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_sndrexmitpack;
  }
  set t_sndrexmitpack(v: number) {
    if (this._cold !== null) this._cold.t_sndrexmitpack = v;
    else if (v !== 0) this.cold().t_sndrexmitpack = v;
  }
  get t_sndtlppack(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_sndtlppack;
  }
  set t_sndtlppack(v: number) {
    if (this._cold !== null) this._cold.t_sndtlppack = v;
    else if (v !== 0) this.cold().t_sndtlppack = v;
  }
  get t_dsack_bytes(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_dsack_bytes;
  }
  set t_dsack_bytes(v: number) {
    if (this._cold !== null) this._cold.t_dsack_bytes = v;
    else if (v !== 0) this.cold().t_dsack_bytes = v;
  }
  get t_dsack_pack(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_dsack_pack;
  }
  set t_dsack_pack(v: number) {
    if (this._cold !== null) this._cold.t_dsack_pack = v;
    else if (v !== 0) this.cold().t_dsack_pack = v;
  }
  get t_segqlen(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_segqlen;
  }
  set t_segqlen(v: number) {
    if (this._cold !== null) this._cold.t_segqlen = v;
    else if (v !== 0) this.cold().t_segqlen = v;
  }
  get t_segqmbuflen(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_segqmbuflen;
  }
  set t_segqmbuflen(v: number) {
    if (this._cold !== null) this._cold.t_segqmbuflen = v;
    else if (v !== 0) this.cold().t_segqmbuflen = v;
  }
  get t_rcvoopack(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_rcvoopack;
  }
  set t_rcvoopack(v: number) {
    if (this._cold !== null) this._cold.t_rcvoopack = v;
    else if (v !== 0) this.cold().t_rcvoopack = v;
  }
  get t_maxunacktime(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_maxunacktime;
  }
  set t_maxunacktime(v: number) {
    if (this._cold !== null) this._cold.t_maxunacktime = v;
    else if (v !== 0) this.cold().t_maxunacktime = v;
  }
  get t_keepalive_probes(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_keepalive_probes;
  }
  set t_keepalive_probes(v: number) {
    if (this._cold !== null) this._cold.t_keepalive_probes = v;
    else if (v !== 0) this.cold().t_keepalive_probes = v;
  }
  get t_ecn_retries(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_ecn_retries;
  }
  set t_ecn_retries(v: number) {
    if (this._cold !== null) this._cold.t_ecn_retries = v;
    else if (v !== 0) this.cold().t_ecn_retries = v;
  }
  get t_ecn_ce_pending(): boolean {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_ecn_ce_pending;
  }
  set t_ecn_ce_pending(v: boolean) {
    if (this._cold !== null) this._cold.t_ecn_ce_pending = v;
    else if (v !== false) this.cold().t_ecn_ce_pending = v;
  }
  get t_rexmitbytes(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_rexmitbytes;
  }
  set t_rexmitbytes(v: number) {
    if (this._cold !== null) this._cold.t_rexmitbytes = v;
    else if (v !== 0) this.cold().t_rexmitbytes = v;
  }
  get t_snd_rxt_pkts(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_snd_rxt_pkts;
  }
  set t_snd_rxt_pkts(v: number) {
    if (this._cold !== null) this._cold.t_snd_rxt_pkts = v;
    else if (v !== 0) this.cold().t_snd_rxt_pkts = v;
  }
  get t_rcv_ooopack(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_rcv_ooopack;
  }
  set t_rcv_ooopack(v: number) {
    if (this._cold !== null) this._cold.t_rcv_ooopack = v;
    else if (v !== 0) this.cold().t_rcv_ooopack = v;
  }
  get t_peer_mss(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_peer_mss;
  }
  set t_peer_mss(v: number) {
    if (this._cold !== null) this._cold.t_peer_mss = v;
    else if (v !== 0) this.cold().t_peer_mss = v;
  }
  get t_user_maxseg(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_user_maxseg;
  }
  set t_user_maxseg(v: number) {
    if (this._cold !== null) this._cold.t_user_maxseg = v;
    else if (v !== 0) this.cold().t_user_maxseg = v;
  }
  get t_cc_name(): string | null {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_cc_name;
  }
  set t_cc_name(v: string | null) {
    if (this._cold !== null) this._cold.t_cc_name = v;
    else if (v !== null) this.cold().t_cc_name = v;
  }
  get t_bblog(): unknown {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_bblog;
  }
  set t_bblog(v: unknown) {
    if (this._cold !== null) this._cold.t_bblog = v;
    else if (v !== null) this.cold().t_bblog = v;
  }
  get snd_limited(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).snd_limited;
  }
  set snd_limited(v: number) {
    if (this._cold !== null) this._cold.snd_limited = v;
    else if (v !== 0) this.cold().snd_limited = v;
  }
  get t_challenge_ack_end(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_challenge_ack_end;
  }
  set t_challenge_ack_end(v: number) {
    if (this._cold !== null) this._cold.t_challenge_ack_end = v;
    else if (v !== 0) this.cold().t_challenge_ack_end = v;
  }
  get t_challenge_ack_cnt(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_challenge_ack_cnt;
  }
  set t_challenge_ack_cnt(v: number) {
    if (this._cold !== null) this._cold.t_challenge_ack_cnt = v;
    else if (v !== 0) this.cold().t_challenge_ack_cnt = v;
  }
  get t_timers_running(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).t_timers_running;
  }
  set t_timers_running(v: number) {
    if (this._cold !== null) this._cold.t_timers_running = v;
    else if (v !== 0) this.cold().t_timers_running = v;
  }
  get snd_recover_prev(): number {
    return (this._cold ?? TCPCB_COLD_DEFAULTS).snd_recover_prev >>> 0;
  }
  set snd_recover_prev(v: number) {
    if (this._cold !== null) this._cold.snd_recover_prev = v | 0;
    else if ((v | 0) !== 0) this.cold().snd_recover_prev = v | 0;
  }
  /** This connection's cold sub-object, made on first use. */
  private cold(): TcpCbCold {
    let c = this._cold;
    if (c === null) c = this._cold = new TcpCbCold();
    return c;
  }

  constructor(V: Vnet, inp: Inpcb, ccv: CcVar) {
    this.t_vnet = V;
    this.t_inpcb = inp;
    this.t_callout = V.callwheel.callout<TcpCb>();
    this.t_ccv = ccv;
  }
}

/** TCP statistics (struct tcpstat, netinet/tcp_var.h), FreeBSD names. */
export class TcpStat {
  tcps_connattempt = 0; // connections initiated
  tcps_accepts = 0; // connections accepted
  tcps_connects = 0; // connections established
  tcps_drops = 0; // connections dropped
  tcps_conndrops = 0; // embryonic connections dropped
  tcps_minmssdrops = 0; // average minmss too low drops
  tcps_closed = 0; // conn. closed (includes drops)
  tcps_segstimed = 0; // segs where we tried to get rtt
  tcps_rttupdated = 0; // times we succeeded
  tcps_delack = 0; // delayed acks sent
  tcps_timeoutdrop = 0; // conn. dropped in rxmt timeout
  tcps_rexmttimeo = 0; // retransmit timeouts
  tcps_persisttimeo = 0; // persist timeouts
  tcps_keeptimeo = 0; // keepalive timeouts
  tcps_keepprobe = 0; // keepalive probes sent
  tcps_keepdrops = 0; // connections dropped in keepalive
  tcps_progdrops = 0; // drops due to no progress
  tcps_sndtotal = 0; // total packets sent
  tcps_sndpack = 0; // data packets sent
  tcps_sndbyte = 0; // data bytes sent
  tcps_sndrexmitpack = 0; // data packets retransmitted
  tcps_sndrexmitbyte = 0; // data bytes retransmitted
  tcps_sndrexmitbad = 0; // unnecessary packet retransmissions
  tcps_sndacks = 0; // ack-only packets sent
  tcps_sndprobe = 0; // window probes sent
  tcps_sndurg = 0; // packets sent with URG only
  tcps_sndwinup = 0; // window update-only packets sent
  tcps_sndctrl = 0; // control (SYN|FIN|RST) packets sent
  tcps_rcvtotal = 0; // total packets received
  tcps_rcvpack = 0; // packets received in sequence
  tcps_rcvbyte = 0; // bytes received in sequence
  tcps_rcvbadsum = 0; // packets received with ccksum errs
  tcps_rcvbadoff = 0; // packets received with bad offset
  tcps_rcvreassfull = 0; // packets dropped for no reass space
  tcps_rcvshort = 0; // packets received too short
  tcps_rcvduppack = 0; // duplicate-only packets received
  tcps_rcvdupbyte = 0; // duplicate-only bytes received
  tcps_rcvpartduppack = 0; // packets with some duplicate data
  tcps_rcvpartdupbyte = 0; // dup. bytes in part-dup. packets
  tcps_rcvoopack = 0; // out-of-order packets received
  tcps_rcvoobyte = 0; // out-of-order bytes received
  tcps_rcvpackafterwin = 0; // packets with data after window
  tcps_rcvbyteafterwin = 0; // bytes rcvd after window
  tcps_rcvafterclose = 0; // packets rcvd after "close"
  tcps_rcvwinprobe = 0; // rcvd window probe packets
  tcps_rcvdupack = 0; // rcvd duplicate acks
  tcps_rcvacktoomuch = 0; // rcvd acks for unsent data
  tcps_rcvackpack = 0; // rcvd ack packets
  tcps_rcvackbyte = 0; // bytes acked by rcvd acks
  tcps_rcvwinupd = 0; // rcvd window update packets
  tcps_pawsdrop = 0; // segments dropped due to PAWS
  tcps_predack = 0; // times hdr predict ok for acks
  tcps_preddat = 0; // times hdr predict ok for data pkts
  tcps_pcbcachemiss = 0;
  tcps_cachedrtt = 0; // times cached RTT in route updated
  tcps_cachedrttvar = 0; // times cached rttvar updated
  tcps_cachedssthresh = 0; // times cached ssthresh updated
  tcps_usedrtt = 0; // times RTT initialized from route
  tcps_usedrttvar = 0; // times RTTVAR initialized from rt
  tcps_usedssthresh = 0; // times ssthresh initialized from rt
  tcps_persistdrop = 0; // timeout in persist state
  tcps_badsyn = 0; // bogus SYN, e.g. premature ACK
  tcps_mturesent = 0; // resends due to MTU discovery
  tcps_listendrop = 0; // listen queue overflows
  tcps_badrst = 0; // ignored RSTs in the window
  tcps_sc_added = 0; // entry added to syncache
  tcps_sc_retransmitted = 0; // syncache entry was retransmitted
  tcps_sc_dupsyn = 0; // duplicate SYN packet
  tcps_sc_dropped = 0; // could not reply to packet
  tcps_sc_completed = 0; // successful extraction of entry
  tcps_sc_bucketoverflow = 0; // syncache per-bucket limit hit
  tcps_sc_cacheoverflow = 0; // syncache cache limit hit
  tcps_sc_reset = 0; // RST removed entry from syncache
  tcps_sc_stale = 0; // timed out or listen socket gone
  tcps_sc_aborted = 0; // syncache entry aborted
  tcps_sc_badack = 0; // removed due to bad ACK
  tcps_sc_unreach = 0; // ICMP unreachable received
  tcps_sc_zonefail = 0; // zalloc() failed
  tcps_sc_sendcookie = 0; // SYN cookie sent
  tcps_sc_recvcookie = 0; // SYN cookie received
  tcps_sc_spurcookie = 0; // SYN cookie spurious, rejected
  tcps_sc_failcookie = 0; // SYN cookie failed, rejected
  tcps_hc_added = 0; // entry added to hostcache
  tcps_hc_bucketoverflow = 0; // hostcache per bucket limit hit
  tcps_finwait2_drops = 0; // Drop FIN_WAIT_2 connection after time limit
  tcps_sack_recovery_episode = 0; // SACK recovery episodes
  tcps_sack_rexmits = 0; // SACK rexmit segments
  tcps_sack_rexmit_bytes = 0; // SACK rexmit bytes
  tcps_sack_rcv_blocks = 0; // SACK blocks (options) received
  tcps_sack_send_blocks = 0; // SACK blocks (options) sent
  tcps_sack_lostrexmt = 0; // SACK lost retransmission recovered
  tcps_sack_sboverflow = 0; // times scoreboard overflowed
  tcps_ecn_rcvce = 0; // ECN Congestion Experienced
  tcps_ecn_rcvect0 = 0; // ECN Capable Transport
  tcps_ecn_rcvect1 = 0; // ECN Capable Transport
  tcps_ecn_shs = 0; // ECN successful handshakes
  tcps_ecn_rcwnd = 0; // # times ECN reduced the cwnd
  tcps_sig_rcvgoodsig = 0; // Total matching signature received
  tcps_sig_rcvbadsig = 0; // Total bad signature received
  tcps_sig_err_buildsig = 0; // Failed to make signature
  tcps_sig_err_sigopt = 0; // No signature expected by socket
  tcps_sig_err_nosigopt = 0; // No signature provided by segment
  tcps_pmtud_blackhole_activated = 0;
  tcps_pmtud_blackhole_activated_min_mss = 0;
  tcps_pmtud_blackhole_failed = 0;
  tcps_tunneled_pkts = 0;
  tcps_tunneled_errs = 0;
  tcps_dsack_count = 0; // # of DSACK received
  tcps_dsack_bytes = 0; // # of DSACK bytes received
  tcps_dsack_tlp_bytes = 0;
  tcps_tw_recycles = 0; // Times time-wait was recycled
  tcps_tw_resets = 0; // Times time-wait sent a reset
  tcps_tw_responds = 0; // Times time-wait sent a valid ack
  tcps_ecn_sndect0 = 0; // ECN Capable Transport
  tcps_ecn_sndect1 = 0; // ECN Capable Transport
  tcps_tlpresends = 0;
  tcps_tlpresend_bytes = 0;
  tcps_rcvghostack = 0; // # of ACKs received for data not sent
  tcps_rcvacktooold = 0; // # of ACKs received for ancient data
  // bsdnet additions (documented; FreeBSD keeps some of these in other counters)
  /** RFC 5961 challenge ACKs sent (for RSTs and SYNs that fail the exact checks). */
  tcps_challenge_ack = 0;
  /** Challenge ACKs suppressed by the ack_war rate limit. */
  tcps_ack_war_drops = 0;
  /** tcpcbs freed by a timer handler after a racing close (NetBSD "delayed free of tcpcb"). */
  tcps_delayed_free = 0;
  /** Segments dropped because the reassembly queue was over its bound. */
  tcps_reass_overflow = 0;
}

/** Options to put on a segment (the output half of struct tcpopt). */
export class TcpOutOpts {
  flags = 0;
  mss = 0;
  wscale = 0;
  tsval = 0;
  tsecr = 0;
  nsacks = 0;
  sacks: Uint32Array | null = null;
  reset(): void {
    this.flags = 0;
    this.nsacks = 0;
    this.sacks = null;
  }
}

/** A parsed segment passed from tcp_input to tcp_do_segment (reused; no allocation). */
export class TcpSeg {
  m!: Mbuf;
  isv6 = false;
  /** Offset of the TCP header from m.m_data (the IP header length incl. extension headers). */
  off = 0;
  thflags = 0;
  th_seq = 0;
  th_ack = 0;
  th_win = 0;
  th_urp = 0;
  th_sport = 0;
  th_dport = 0;
  /** Bytes of IP + TCP header before the data (drop_hdrlen). */
  drop_hdrlen = 0;
  tlen = 0;
  iptos = 0;
  optOff = 0;
  optLen = 0;
}

/** Per-Vnet scratch for tcp_output (no per-segment allocation). */
export class TcpOutScratch {
  readonly to = new TcpOutOpts();
  readonly opt = new Uint8Array(40);
}

/**
 * The tcp provider's probes (DTrace tcp(4) names, plus bsdnet's retransmit/cwnd). Arguments:
 *   send, retransmit       (tp | null, seq, len, flags)   one segment leaving (retransmit: a
 *                                                          resent one, also seen by send)
 *   receive                (tp, seq, len, flags, ack)     before the segment is processed
 *   state-change           (tp, oldState, newState)
 *   cwnd-change            (tp, snd_cwnd, snd_ssthresh)
 *   connect-*, accept-*    (tp[, foreign sockaddr])
 */
export interface TcpProbes {
  send: Probe;
  receive: Probe;
  stateChange: Probe;
  connectRequest: Probe;
  connectEstablished: Probe;
  connectRefused: Probe;
  acceptEstablished: Probe;
  acceptRefused: Probe;
  retransmit: Probe;
  cwnd: Probe;
}

/**
 * TCP's per-Vnet variables: tunables (net.inet.tcp.*, FreeBSD names and defaults),
 * statistics and the PCB table. Values that are milliseconds in sysctl are kept in ms here
 * and converted to ticks where used.
 */
export class TcpVars {
  readonly V: Vnet;
  readonly stat = new TcpStat();
  readonly info: PcbInfo;
  // Options and features
  rfc1323 = true; // window scale and timestamps
  do_sack = true; // net.inet.tcp.sack.enable
  ecn_enable = 2; // 0 off, 1 on, 2 server side only (accept)
  ecn_maxretries = 1;
  blackhole = 0; // 0, 1 (SYN), 2 (all)
  log_in_vain = 0;
  recvspace = 65536;
  sendspace = 32768;
  mssdflt = 536;
  v6mssdflt = 1220;
  minmss = 216;
  initcwnd_segments = 10;
  delayed_ack = true;
  delacktime = 40; // ms
  rexmit_initial = 1000; // ms
  rexmit_min = 30; // ms
  rexmit_slop = 200; // ms
  rexmit_drop_options = false;
  persmin = 5000; // ms
  persmax = 60000; // ms
  keepinit = 75000; // ms
  keepidle = 7200000; // ms
  keepintvl = 75000; // ms
  keepcnt = 8;
  always_keepalive = true;
  msl = 30000; // ms
  finwait2_timeout = 60000; // ms
  fast_finwait2_recycle = false;
  insecure_rst = false;
  insecure_syn = false;
  /** net.inet.tcp.insecure_ack: accept ACKs outside the RFC 5961 §5.2 range. */
  insecure_ack = false;
  drop_synfin = false;
  icmp_may_rst = true;
  syncookies = true;
  syncookies_only = false;
  path_mtu_discovery = true;
  pmtud_blackhole_detection = 0;
  tolerate_missing_ts = true;
  ts_offset_per_conn = true;
  udp_tunneling_port = 0;
  udp_tunneling_overhead = 8;
  do_tso = true;
  recvbuf_auto = true;
  recvbuf_max = 2 * 1024 * 1024;
  sendbuf_auto = true;
  sendbuf_inc = 8192;
  sendbuf_max = 2 * 1024 * 1024;
  abc_l_var = 2;
  do_rfc3465 = true;
  do_rfc6675_pipe = true;
  do_prr = true;
  do_newsack = true;
  do_lrd = true;
  rfc3042 = true; // limited transmit
  rfc3390 = true;
  do_rfc6528 = true;
  ack_war_timewindow = 1000; // ms
  ack_war_cnt = 5;
  reass_maxqueuelen = 100; // segments per connection
  /** net.inet.tcp.reass.maxsegments (all connections). */
  reass_maxsegments = 65536;
  reass_cursegments = 0;
  isn_reseed_interval = 0;
  /** RFC 6528 secret for ISNs and the TS offset (rotated only by reseed). */
  readonly isn_secret = new Uint8Array(32);
  /** Per-Vnet challenge-ACK rate limit state. */
  ack_war_start = 0;
  ack_war_count = 0;
  readonly out = new TcpOutScratch();
  readonly probes: TcpProbes;
  /** The black-box log (tcp_log_buf.ts), created by tcp_init. */
  bblog!: TcpLogBuf;
  /** Scratch words for the ISN / TS-offset hashes. */
  readonly isn_words = new Uint32Array(16);
  /** Keyed hashes for RFC 6528 ISNs and RFC 7323 TS offsets (set by tcp_init). */
  isn_hash!: SipHash;
  ts_hash!: SipHash;
  /** tcp_new_ts_offset's last IPv4 host pair (as stored in isn_words) and its offset. */
  ts_memo_la = 0;
  ts_memo_fa = 0;
  ts_memo_off = 0;
  ts_memo_set = false;
  /** PCB used as the address template of responses to segments without a connection. */
  respond_template: Inpcb | null = null;
  /** The SYN cache (set by tcp_init). */
  syncache!: SynCache;
  /** Extra records for the PCB list (vestigial TIME_WAIT entries...). */
  readonly pcblistHooks: (() => TcpPcbRecord[])[] = [];
  readonly dropTimewaitHooks: (() => number)[] = [];
  /** tcp_input's option scratch (tcp_input never re-enters itself: output is queued). */
  readonly in_to = new TcpOptsScratch();
  /** The segment tcp_input is working on, and where tcp_reass says it ended (reused). */
  readonly in_seg = new TcpSeg();
  readonly reass_out = new TcpReassOut();
  /** net.inet.tcp.syncache.rst_on_sock_fail */
  sc_rst_sock_fail = true;
  /** Connections per state (net.inet.tcp.states, TCPSTATES_INC/DEC). */
  readonly tcps_states = new Int32Array(11);

  constructor(V: Vnet) {
    this.V = V;
    this.info = new PcbInfo(V, 'tcp');
    V.rng.fill(this.isn_secret);
    const t = V.trace;
    this.probes = {
      send: t.probe('tcp', 'kernel', 'tcp_output', 'send'),
      receive: t.probe('tcp', 'kernel', 'tcp_input', 'receive'),
      stateChange: t.probe('tcp', 'kernel', 'tcp_state_change', 'state-change'),
      connectRequest: t.probe('tcp', 'kernel', 'tcp_connect', 'connect-request'),
      connectEstablished: t.probe('tcp', 'kernel', 'tcp_input', 'connect-established'),
      connectRefused: t.probe('tcp', 'kernel', 'tcp_input', 'connect-refused'),
      acceptEstablished: t.probe('tcp', 'kernel', 'tcp_input', 'accept-established'),
      acceptRefused: t.probe('tcp', 'kernel', 'tcp_input', 'accept-refused'),
      retransmit: t.probe('tcp', 'kernel', 'tcp_output', 'retransmit'),
      cwnd: t.probe('tcp', 'kernel', 'cc', 'cwnd-change'),
    };
  }
}
