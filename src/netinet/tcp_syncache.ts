/*
 * The SYN cache and SYN cookies (FreeBSD netinet/tcp_syncache.c; RFC 4987 §3.3, §3.6).
 *
 * A SYN to a listener does not create a socket: it creates a small entry here and a SYN-ACK
 * goes out. The handshake's ACK (syncache_expand) turns the entry into a socket on the
 * listener's queue, in SYN_RECEIVED, and tcp_do_segment then processes that ACK.
 *
 * Bounds (FreeBSD's defaults, net.inet.tcp.syncache.*): 512 buckets of at most 30 entries
 * (cachelimit 15360); a full bucket drops its oldest entry (tcps_sc_bucketoverflow). The
 * SYN-ACK is retransmitted after 1 s, then with backoff plus slop (+2.2 s, +4.2 s), at most
 * rexmtlimit (3) times; then the entry goes (tcps_sc_stale).
 *
 * SYN cookies (net.inet.tcp.syncookies, on by default): the ISS of every SYN-ACK is a cookie
 * — a keyed MAC of the connection's addresses, ports and the peer's ISN, with 8 bits that
 * encode the peer's MSS (3), window scale (3), SACK-permitted (1) and which of the two
 * secrets was used (1). When a bucket has overflowed recently (16 s) or with syncookies_only,
 * no entry is kept and a returning ACK is validated by its cookie alone; so a SYN flood does
 * not stop legitimate connections. The secrets rotate every 16 s (SYNCOOKIE_LIFETIME).
 */

import { hsiphash, SipHash, sipKeyFromBytes } from '../kern/siphash.js';
import { type Mbuf, MAX_LINKHDR } from '../mbuf/mbuf.js';
import type { CtlInput } from '../sys/protosw.js';
import { type Socket, SS_ISCONNECTED, sbspace, sonewconn } from '../sys/socket.js';
import type { Vnet } from '../vnet.js';
import { get32 } from '../wire/bytes.js';
import { IP_HDR_LEN } from '../wire/ipv4.js';
import { IP6_HDR_LEN } from '../wire/ipv6.js';
import {
  TCP_HDR_LEN,
  TCP_MAX_WINSHIFT,
  TCP_MAXWIN,
  TH_ACK,
  TH_CWR,
  TH_ECE,
  TH_FIN,
  TH_SYN,
  TOF_MSS,
  TOF_SACKPERM,
  TOF_SCALE,
  TOF_TS,
  type TcpOptsScratch,
} from '../wire/tcp.js';
import { AF_INET, AF_INET6, ntoa, ntop6 } from './in.js';
import { INP_IPV4, INP_IPV6, INP_IPV6PROTO, Inpcb } from './in_pcb.js';
import { TCPS_SYN_RECEIVED } from './tcp_fsm.js';
import { tcp_ack_war_check, tcp_mss } from './tcp_input.js';
import type { TcpSeg } from './tcp_var.js';
import { inp_isv6, tcp_addoptions, tcp_ip_output, tcp_mssopt, tcp_ts_getticks } from './tcp_output.js';
import { SEQ_GEQ, SEQ_GT, SEQ_LEQ, SEQ_LT } from './tcp_seq.js';
import { type TcpPcbRecord, tcp_new_ts_offset, tcp_set_cc, tcp_state_change } from './tcp_subr.js';
import { msToTicks, TCPT_RANGESET, TP_KEEPINIT, tcp_timer_activate, tcptv_rexmtmax } from './tcp_timer.js';
import {
  tcp_backoff,
  type TcpCb,
  TF2_ECN_PERMIT,
  TF_NODELAY,
  TF_NOOPT,
  TF_NOPUSH,
  TF_RCVD_SCALE,
  TF_RCVD_TSTMP,
  TF_REQ_SCALE,
  TF_REQ_TSTMP,
  TF_SACK_PERMIT,
  TT_KEEP,
} from './tcp_var.js';
import { field } from '../kern/kern_sysctl.js';

const SCF_NOOPT = 0x01;
const SCF_WINSCALE = 0x02;
const SCF_TIMESTAMP = 0x04;
const SCF_UNREACH = 0x10;
const SCF_SACK = 0x80;
const SCF_ECN = 0x100;

/** Seconds a cookie secret lives; an overflow makes cookies the only path for this long. */
const SYNCOOKIE_LIFETIME = 16;
/** MSS values a cookie can carry (tcp_sc_msstab) and window scales (tcp_sc_wstab). */
const tcp_sc_msstab = [216, 536, 1200, 1360, 1400, 1440, 1452, 1460];
const tcp_sc_wstab = [0, 0, 1, 2, 4, 6, 7, 8];

/** A SYN cache entry (struct syncache). */
class SynEnt {
  v6 = false;
  laddr = 0;
  faddr = 0;
  laddr6: Uint8Array | null = null;
  faddr6: Uint8Array | null = null;
  scope = 0;
  lport = 0;
  fport = 0;
  irs = 0;
  iss = 0;
  wnd = 0;
  peer_mss = 0;
  flags = 0;
  requested_r_scale = 0;
  requested_s_scale = 0;
  tsreflect = 0;
  tsoff = 0;
  rxmits = 0;
  rxttime = 0;
  ip_ttl = 0;
  ip_tos = 0;
  hops = -1;
  t_challenge_ack_end = 0;
  t_challenge_ack_cnt = 0;
  bucket = 0;
}

export class SynCache {
  readonly V: Vnet;
  hashsize = 512;
  bucket_limit = 30;
  cache_limit = 512 * 30;
  rexmt_limit = 3;
  count = 0;
  private readonly buckets: SynEnt[][] = [];
  /** Last overflow (seconds of uptime) per bucket (sch_last_overflow). */
  private readonly lastOverflow: Float64Array;
  private readonly callout;
  private readonly words = new Uint32Array(12);
  /** Bucket hash key (HalfSipHash-1-3, as FreeBSD keys its syncache hash with a secret). */
  private readonly hk0: number;
  private readonly hk1: number;
  private readonly secrets: SipHash[];
  private oddeven = 0;
  private secretsAt = 0;
  private readonly tmpl: Inpcb;

  constructor(V: Vnet) {
    this.V = V;
    for (let i = 0; i < this.hashsize; i++) this.buckets.push([]);
    this.lastOverflow = new Float64Array(this.hashsize).fill(-1e9);
    this.callout = V.callwheel.callout<SynCache>();
    this.hk0 = V.rng.u32();
    this.hk1 = V.rng.u32();
    this.secrets = [this.newSecret(), this.newSecret()];
    this.tmpl = new Inpcb(V.tcp.info, null);
    const s = V.sysctl;
    const t = V.tcp;
    s.node('net.inet.tcp.syncache', 'TCP SYN cache');
    s.int('net.inet.tcp.syncache.bucketlimit', { get: () => this.bucket_limit }, { descr: 'Per-bucket hash limit for syncache', readonly: true });
    s.int('net.inet.tcp.syncache.cachelimit', { get: () => this.cache_limit }, { descr: 'Overall entry limit for syncache', readonly: true });
    s.int('net.inet.tcp.syncache.count', { get: () => this.count }, { descr: 'Current number of entries in syncache', readonly: true });
    s.int('net.inet.tcp.syncache.hashsize', { get: () => this.hashsize }, { descr: 'Size of TCP syncache hashtable', readonly: true });
    s.int('net.inet.tcp.syncache.rexmtlimit', field(this, 'rexmt_limit'), { descr: 'Limit on SYN/ACK retransmissions', min: 0, max: 12 });
    s.bool('net.inet.tcp.syncache.rst_on_sock_fail', field(t, 'sc_rst_sock_fail'), { descr: 'Send reset on socket allocation failure' });
    s.bool('net.inet.tcp.syncookies', field(t, 'syncookies'), { descr: 'Use TCP SYN cookies if the syncache overflows' });
    s.bool('net.inet.tcp.syncookies_only', field(t, 'syncookies_only'), { descr: 'Use only TCP SYN cookies' });
    // sockstat / netstat show embryonic connections as SYN_RCVD.
    t.pcblistHooks.push(() => this.pcblist());
    V.onDestroy(() => {
      if (this.callout.pending()) this.callout.stop();
    });
  }

  private newSecret(): SipHash {
    const k = new Uint8Array(16);
    this.V.rng.fill(k);
    return new SipHash(sipKeyFromBytes(k, 0));
  }

  /** Rotate the cookie secrets every SYNCOOKIE_LIFETIME seconds (syncookie_reseed), lazily. */
  private reseed(): void {
    const now = this.uptime();
    while (now - this.secretsAt >= SYNCOOKIE_LIFETIME) {
      this.secretsAt += SYNCOOKIE_LIFETIME;
      this.oddeven ^= 1;
      this.secrets[this.oddeven] = this.newSecret();
    }
  }

  uptime(): number {
    return this.V.clock.now() / 1e9;
  }

  private fillWords(
    v6: boolean,
    laddr: number,
    faddr: number,
    l6: Uint8Array | null,
    f6: Uint8Array | null,
    lport: number,
    fport: number,
    lo: number,
    fo: number,
  ): number {
    const w = this.words;
    w[0] = (lport << 16) | fport;
    if (v6) {
      for (let i = 0; i < 4; i++) w[1 + i] = get32(l6 as Uint8Array, lo + i * 4);
      for (let i = 0; i < 4; i++) w[5 + i] = get32(f6 as Uint8Array, fo + i * 4);
      return 9;
    }
    w[1] = laddr;
    w[2] = faddr;
    return 3;
  }

  /** The bucket of the segment's connection (syncache_hashbucket). */
  bucketOf(s: TcpSeg): number {
    const b = s.m.m_buf;
    const o = s.m.m_data;
    const n = s.isv6
      ? this.fillWords(true, 0, 0, b, b, s.th_dport, s.th_sport, o + 24, o + 8)
      : this.fillWords(false, get32(b, o + 16), get32(b, o + 12), null, null, s.th_dport, s.th_sport, 0, 0);
    return hsiphash(this.hk0, this.hk1, this.words, n) & (this.hashsize - 1);
  }

  /** Find the entry of the segment's connection (syncache_lookup). */
  lookup(s: TcpSeg, bucket: number): SynEnt | null {
    const b = s.m.m_buf;
    const o = s.m.m_data;
    for (const sc of this.buckets[bucket] as SynEnt[]) {
      if (sc.lport !== s.th_dport || sc.fport !== s.th_sport || sc.v6 !== s.isv6) continue;
      if (s.isv6) {
        if (eq16(sc.laddr6 as Uint8Array, b, o + 24) && eq16(sc.faddr6 as Uint8Array, b, o + 8)) return sc;
      } else if (sc.laddr === get32(b, o + 16) && sc.faddr === get32(b, o + 12)) return sc;
    }
    return null;
  }

  insert(sc: SynEnt): void {
    const V = this.V;
    const bucket = this.buckets[sc.bucket] as SynEnt[];
    if (bucket.length >= this.bucket_limit) {
      // The bucket is full: drop its oldest entry and remember the overflow (cookies take over).
      const old = bucket.pop() as SynEnt;
      this.count--;
      void old;
      this.lastOverflow[sc.bucket] = this.uptime();
      V.tcp.stat.tcps_sc_bucketoverflow++;
    }
    if (this.count >= this.cache_limit) {
      // Cache full: drop the oldest entry of this bucket, or refuse.
      V.tcp.stat.tcps_sc_cacheoverflow++;
      this.lastOverflow[sc.bucket] = this.uptime();
      if (bucket.length === 0) return;
      bucket.pop();
      this.count--;
    }
    bucket.unshift(sc);
    this.count++;
    V.tcp.stat.tcps_sc_added++;
    this.timeout(sc, true);
  }

  remove(sc: SynEnt): void {
    const bucket = this.buckets[sc.bucket] as SynEnt[];
    const i = bucket.indexOf(sc);
    if (i >= 0) {
      bucket.splice(i, 1);
      this.count--;
    }
  }

  /** Schedule the entry's next SYN-ACK retransmission (syncache_timeout). */
  timeout(sc: SynEnt, arm: boolean): void {
    const V = this.V;
    const t = V.tcp;
    let rexmt: number;
    if (sc.rxmits === 0) rexmt = msToTicks(V, t.rexmit_initial);
    else rexmt = TCPT_RANGESET(V, msToTicks(V, t.rexmit_initial) * (tcp_backoff[sc.rxmits] as number), msToTicks(V, t.rexmit_min), tcptv_rexmtmax(V));
    sc.rxttime = V.callwheel.ticks() + rexmt;
    sc.rxmits++;
    if (arm) this.arm(sc.rxttime);
  }

  private arm(due: number): void {
    const c = this.callout;
    const now = this.V.callwheel.ticks();
    if (c.pending() && c.c_time <= due) return;
    c.reset(Math.max(1, due - now), syncache_timer, this);
  }

  /** Retransmit SYN-ACKs that are due; drop entries past the limit (syncache_timer). */
  timer(): void {
    const V = this.V;
    const now = V.callwheel.ticks();
    let next = Infinity;
    for (const bucket of this.buckets) {
      for (let i = bucket.length - 1; i >= 0; i--) {
        const sc = bucket[i] as SynEnt;
        if (sc.rxttime > now) {
          next = Math.min(next, sc.rxttime);
          continue;
        }
        if (sc.rxmits > this.rexmt_limit) {
          bucket.splice(i, 1);
          this.count--;
          V.tcp.stat.tcps_sc_stale++;
          continue;
        }
        this.respond(sc, null, TH_SYN | TH_ACK);
        V.tcp.stat.tcps_sc_retransmitted++;
        this.timeout(sc, false);
        next = Math.min(next, sc.rxttime);
      }
    }
    if (next !== Infinity) this.arm(next);
  }

  /** Send a SYN-ACK (or, for a challenge, an ACK) for an entry (syncache_respond). */
  respond(sc: SynEnt, rcvm: Mbuf | null, flags: number): number {
    const V = this.V;
    const inp = this.tmpl;
    inp.inp_lport = sc.lport;
    inp.inp_fport = sc.fport;
    if (sc.v6) {
      inp.inp_vflag = INP_IPV6 | INP_IPV6PROTO;
      inp.in6p_laddr = sc.laddr6 as Uint8Array;
      inp.in6p_faddr = sc.faddr6 as Uint8Array;
      inp.in6p_hops = sc.hops;
      inp.in6p_tclass = sc.ip_tos;
      inp.in6p_scope = sc.scope;
    } else {
      inp.inp_vflag = INP_IPV4;
      inp.inp_laddr = sc.laddr;
      inp.inp_faddr = sc.faddr;
      inp.inp_ip_ttl = sc.ip_ttl;
      inp.inp_ip_tos = sc.ip_tos;
    }
    inp.inp_route.invalidate();
    void rcvm;
    const scratch = V.tcp.out;
    const to = scratch.to;
    to.reset();
    let optlen = 0;
    if (!(sc.flags & SCF_NOOPT) && flags & TH_SYN) {
      to.mss = tcp_mssopt(V, inp);
      to.flags |= TOF_MSS;
      if (sc.flags & SCF_WINSCALE) {
        to.wscale = sc.requested_r_scale;
        to.flags |= TOF_SCALE;
      }
      if (sc.flags & SCF_SACK) to.flags |= TOF_SACKPERM;
    }
    if (sc.flags & SCF_TIMESTAMP && !(sc.flags & SCF_NOOPT)) {
      to.tsval = (sc.tsoff + tcp_ts_getticks(V)) >>> 0;
      to.tsecr = sc.tsreflect;
      to.flags |= TOF_TS;
    }
    if (to.flags) optlen = tcp_addoptions(to, scratch.opt);
    if (sc.flags & SCF_ECN && flags & TH_SYN) flags |= TH_ECE;
    const hlen = (sc.v6 ? IP6_HDR_LEN : IP_HDR_LEN) + TCP_HDR_LEN + optlen;
    const m = V.mbufs.gethdr();
    if (m === null) return 55; // ENOBUFS
    m.m_data = MAX_LINKHDR;
    m.m_len = hlen;
    m.len = hlen;
    const seq = flags & TH_SYN ? sc.iss : (sc.iss + 1) >>> 0;
    const p = V.tcp.probes.send;
    if (p.enabled) p.fire(null, seq, 0, flags);
    const err = tcp_ip_output(V, inp, m, seq, (sc.irs + 1) >>> 0, flags, sc.wnd, 0, optlen ? scratch.opt : null, optlen, sc.ip_tos & ~3, 0);
    V.tcp.stat.tcps_sndtotal++;
    V.tcp.stat.tcps_sndacks++;
    return err;
  }

  /** The 24-bit MAC of a cookie (syncookie_mac). */
  private mac(sc: SynEnt, irs: number, cookieBits: number, secret: number): number {
    const n = this.fillWords(sc.v6, sc.laddr, sc.faddr, sc.laddr6, sc.faddr6, sc.lport, sc.fport, 0, 0);
    const w = this.words;
    w[n] = irs >>> 0;
    w[n + 1] = cookieBits;
    return (this.secrets[secret] as SipHash).hash32(w, n + 2) >>> 0;
  }

  /** The ISS of a SYN-ACK: a SYN cookie (syncookie_generate). */
  cookieGenerate(sc: SynEnt): number {
    this.reseed();
    let i = tcp_sc_msstab.length - 1;
    while (i > 0 && (tcp_sc_msstab[i] as number) > sc.peer_mss) i--;
    let cookie = i;
    if (sc.flags & SCF_WINSCALE) {
      let j = tcp_sc_wstab.length - 1;
      while (j > 0 && (tcp_sc_wstab[j] as number) > sc.requested_s_scale) j--;
      cookie |= j << 3;
    }
    if (sc.flags & SCF_SACK) cookie |= 0x40;
    cookie |= this.oddeven << 7;
    const hash = this.mac(sc, sc.irs, cookie, this.oddeven);
    this.V.tcp.stat.tcps_sc_sendcookie++;
    return ((hash & ~0xff) | ((cookie ^ (hash >>> 24)) & 0xff)) >>> 0;
  }

  /** Validate a returning cookie and rebuild the entry (syncookie_expand). */
  cookieExpand(sc: SynEnt, th_seq: number, th_ack: number, to: TcpOptsScratch, lso: Socket): boolean {
    this.reseed();
    const ack = (th_ack - 1) >>> 0;
    const seq = (th_seq - 1) >>> 0;
    const cookie = (ack & 0xff) ^ (ack >>> 24);
    const secret = (cookie >> 7) & 1;
    const hash = this.mac(sc, seq, cookie & 0xff, secret);
    if ((ack & ~0xff) >>> 0 !== (hash & ~0xff) >>> 0) return false;
    sc.irs = seq;
    sc.iss = ack;
    sc.peer_mss = tcp_sc_msstab[cookie & 7] as number;
    const wsidx = (cookie >> 3) & 7;
    if (wsidx > 0) {
      sc.requested_s_scale = tcp_sc_wstab[wsidx] as number;
      sc.requested_r_scale = wscaleFor(this.V);
      sc.flags |= SCF_WINSCALE;
    }
    if (cookie & 0x40) sc.flags |= SCF_SACK;
    if (to.flags & TOF_TS) {
      sc.flags |= SCF_TIMESTAMP;
      sc.tsreflect = to.tsval;
    }
    sc.wnd = Math.min(Math.max(sbspace(lso.so_rcv), 0), TCP_MAXWIN);
    return true;
  }

  /** ICMP error about a SYN-ACK (syncache_unreach). */
  unreach(ctl: CtlInput, sport: number, dport: number, seq: number): void {
    for (const bucket of this.buckets) {
      for (const sc of bucket) {
        if (sc.lport !== sport || sc.fport !== dport || sc.iss !== seq) continue;
        // Two errors, after three retransmissions, end the attempt.
        if (!(sc.flags & SCF_UNREACH) || sc.rxmits < this.rexmt_limit + 1) {
          sc.flags |= SCF_UNREACH;
          return;
        }
        this.remove(sc);
        this.V.tcp.stat.tcps_sc_unreach++;
        void ctl;
        return;
      }
    }
  }

  /** The entries as PCB-list records (state SYN_RCVD, no socket). */
  pcblist(): TcpPcbRecord[] {
    const out: TcpPcbRecord[] = [];
    for (const bucket of this.buckets) {
      for (const sc of bucket) {
        out.push({
          family: sc.v6 ? AF_INET6 : AF_INET,
          laddr: sc.v6 ? ntop6(sc.laddr6 as Uint8Array) : ntoa(sc.laddr),
          lport: sc.lport,
          faddr: sc.v6 ? ntop6(sc.faddr6 as Uint8Array) : ntoa(sc.faddr),
          fport: sc.fport,
          state: 'SYN_RCVD',
          t_state: TCPS_SYN_RECEIVED,
          rcvq: 0,
          sndq: 0,
          so_options: 0,
          listening: false,
          vestigial: false,
        });
      }
    }
    return out;
  }

  /** Entries, for tests and the PCB list. */
  entries(): number {
    return this.count;
  }
}

function syncache_timer(sc: SynCache): void {
  sc.timer();
}

function eq16(a: Uint8Array, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[bo + i]) return false;
  return true;
}

/** The smallest window shift that lets the window reach kern.ipc.maxsockbuf. */
function wscaleFor(V: Vnet): number {
  const max = V.socket.maxsockbuf;
  let w = 0;
  // TCP_MAXWIN << TCP_MAX_WINSHIFT < 2^30: a shift, not 2 ** w.
  while (w < TCP_MAX_WINSHIFT && TCP_MAXWIN << w < max) w++;
  return w;
}

function entryFromSeg(_V: Vnet, s: TcpSeg, lsoInp: Inpcb): SynEnt {
  const sc = new SynEnt();
  const b = s.m.m_buf;
  const o = s.m.m_data;
  sc.v6 = s.isv6;
  if (s.isv6) {
    sc.laddr6 = b.slice(o + 24, o + 40);
    sc.faddr6 = b.slice(o + 8, o + 24);
    sc.scope = s.m.rcvif ? s.m.rcvif.if_index : 0;
    sc.hops = lsoInp.in6p_hops;
    sc.ip_tos = lsoInp.in6p_tclass;
  } else {
    sc.laddr = get32(b, o + 16);
    sc.faddr = get32(b, o + 12);
    sc.ip_ttl = lsoInp.inp_ip_ttl;
    sc.ip_tos = lsoInp.inp_ip_tos;
  }
  sc.lport = s.th_dport;
  sc.fport = s.th_sport;
  return sc;
}

/**
 * A SYN arrived at a listener (syncache_add): retransmitted SYNs refresh their entry and get
 * a new SYN-ACK; otherwise a new entry (or, under overflow, only a cookie) and a SYN-ACK.
 */
export function syncache_add(V: Vnet, linp: Inpcb, ltp: TcpCb, to: TcpOptsScratch, s: TcpSeg): void {
  const scache = V.tcp.syncache;
  const t = V.tcp;
  const st = t.stat;
  const lso = linp.inp_socket as Socket;
  const bucket = scache.bucketOf(s);
  const old = t.syncookies_only ? null : scache.lookup(s, bucket);
  if (old !== null) {
    // A retransmitted SYN (RFC 9293 §3.10.7.2): refresh and resend the SYN-ACK.
    st.tcps_sc_dupsyn++;
    if (old.flags & SCF_TIMESTAMP && to.flags & TOF_TS) old.tsreflect = to.tsval;
    else old.flags &= ~SCF_TIMESTAMP;
    if (old.flags & SCF_ECN && (s.thflags & (TH_ECE | TH_CWR)) !== (TH_ECE | TH_CWR)) old.flags &= ~SCF_ECN;
    if (scache.respond(old, s.m, TH_SYN | TH_ACK) === 0) {
      old.rxmits = 0;
      scache.timeout(old, true);
    }
    return;
  }
  const sc = entryFromSeg(V, s, linp);
  sc.bucket = bucket;
  sc.irs = s.th_seq;
  sc.wnd = Math.min(Math.max(sbspace(lso.so_rcv), 0), TCP_MAXWIN);
  sc.peer_mss = to.flags & TOF_MSS ? to.mss : 0;
  if (t.rfc1323 && !(ltp.t_flags & TF_NOOPT)) {
    if (to.flags & TOF_TS) {
      sc.tsreflect = to.tsval;
      sc.flags |= SCF_TIMESTAMP;
    }
    if (to.flags & TOF_SCALE) {
      sc.requested_r_scale = wscaleFor(V);
      sc.requested_s_scale = to.wscale;
      sc.flags |= SCF_WINSCALE;
    }
  }
  if (sc.flags & SCF_TIMESTAMP || t.syncookies) {
    const tmp = scache_tmpInp(V, sc);
    sc.tsoff = tcp_new_ts_offset(V, tmp);
  }
  if (t.do_sack && to.flags & TOF_SACKPERM) sc.flags |= SCF_SACK;
  if (ltp.t_flags & TF_NOOPT) sc.flags |= SCF_NOOPT;
  // RFC 3168 §6.1.1: an ECN-setup SYN has ECE and CWR.
  if (t.ecn_enable && (s.thflags & (TH_ECE | TH_CWR)) === (TH_ECE | TH_CWR)) sc.flags |= SCF_ECN;
  const cookieOnly = t.syncookies && (t.syncookies_only || scacheOverflowed(scache, bucket));
  sc.iss = t.syncookies ? scache.cookieGenerate(sc) : V.rng.u32();
  if (scache.respond(sc, s.m, TH_SYN | TH_ACK) === 0) {
    if (!cookieOnly) scache.insert(sc);
  } else {
    st.tcps_sc_dropped++;
  }
}

function scacheOverflowed(sc: SynCache, bucket: number): boolean {
  return ((sc as unknown as { lastOverflow: Float64Array }).lastOverflow[bucket] as number) >= sc.uptime() - SYNCOOKIE_LIFETIME;
}

/** A PCB carrying an entry's addresses (for the TS-offset hash). */
function scache_tmpInp(V: Vnet, sc: SynEnt): Inpcb {
  const inp = new Inpcb(V.tcp.info, null);
  inp.inp_lport = sc.lport;
  inp.inp_fport = sc.fport;
  if (sc.v6) {
    inp.inp_vflag = INP_IPV6 | INP_IPV6PROTO;
    inp.in6p_laddr = sc.laddr6 as Uint8Array;
    inp.in6p_faddr = sc.faddr6 as Uint8Array;
  } else {
    inp.inp_vflag = INP_IPV4;
    inp.inp_laddr = sc.laddr;
    inp.inp_faddr = sc.faddr;
  }
  return inp;
}

/**
 * The ACK of a handshake reached a listener (syncache_expand). result 1: a connection was
 * made (tp, or null if no socket could be had: listen queue full); 0: no entry or a bad ACK
 * (the caller answers with a RST after a second lookup); -1: drop silently.
 */
export function syncache_expand(V: Vnet, linp: Inpcb, to: TcpOptsScratch, s: TcpSeg): { result: number; tp: TcpCb | null } {
  const scache = V.tcp.syncache;
  const t = V.tcp;
  const st = t.stat;
  const lso = linp.inp_socket as Socket;
  const bucket = scache.bucketOf(s);
  let sc = t.syncookies_only ? null : scache.lookup(s, bucket);
  if (sc === null) {
    // No entry: maybe a returning SYN cookie (only if cookies are in use for this bucket).
    if (!t.syncookies) {
      st.tcps_sc_spurcookie++;
      return { result: 0, tp: null };
    }
    if (!t.syncookies_only && !scacheOverflowed(scache, bucket)) {
      st.tcps_sc_spurcookie++;
      return { result: 0, tp: null };
    }
    sc = entryFromSeg(V, s, linp);
    sc.bucket = bucket;
    if (!scache.cookieExpand(sc, s.th_seq, s.th_ack, to, lso)) {
      st.tcps_sc_failcookie++;
      return { result: 0, tp: null };
    }
    if (sc.flags & SCF_TIMESTAMP) sc.tsoff = tcp_new_ts_offset(V, scache_tmpInp(V, sc));
    st.tcps_sc_recvcookie++;
  } else {
    scache.remove(sc);
  }
  // The ACK must acknowledge our SYN-ACK exactly, and its sequence number be in the window.
  if (s.th_ack !== (sc.iss + 1) >>> 0) return { result: 0, tp: null };
  if (SEQ_LEQ(s.th_seq, sc.irs) || SEQ_GT(s.th_seq, (sc.irs + sc.wnd) >>> 0)) return { result: 0, tp: null };
  // RFC 7323 §3.2: timestamps negotiated but missing.
  if (sc.flags & SCF_TIMESTAMP && !(to.flags & TOF_TS) && !t.tolerate_missing_ts) return { result: -1, tp: null };
  const tp = syncache_socket(V, sc, linp);
  if (tp === null) st.tcps_sc_aborted++;
  else st.tcps_sc_completed++;
  return { result: 1, tp };
}

/** Create the connection's socket and tcpcb from an entry (syncache_socket). */
function syncache_socket(V: Vnet, sc: SynEnt, linp: Inpcb): TcpCb | null {
  const lso = linp.inp_socket as Socket;
  const ltp = linp.inp_ppcb as TcpCb;
  const so = sonewconn(lso, SS_ISCONNECTED);
  if (so === null) {
    V.tcp.stat.tcps_listendrop++;
    return null;
  }
  const inp = so.so_pcb as Inpcb;
  const tp = inp.inp_ppcb as TcpCb;
  inp.inp_lport = sc.lport;
  inp.inp_fport = sc.fport;
  if (sc.v6) {
    inp.inp_vflag = (inp.inp_vflag & INP_IPV6PROTO) | INP_IPV6;
    inp.in6p_laddr = sc.laddr6 as Uint8Array;
    inp.in6p_faddr = sc.faddr6 as Uint8Array;
    inp.in6p_scope = sc.scope;
    inp.in6p_hops = linp.in6p_hops;
    inp.in6p_tclass = linp.in6p_tclass;
  } else {
    // A v4 connection, possibly on a dual-stack (v6) listener: it is IPv4 on the wire.
    inp.inp_vflag = (inp.inp_vflag & INP_IPV6PROTO) | INP_IPV4;
    inp.inp_laddr = sc.laddr;
    inp.inp_faddr = sc.faddr;
    inp.inp_ip_ttl = linp.inp_ip_ttl;
    inp.inp_ip_tos = linp.inp_ip_tos;
  }
  inp.inp_flags |= linp.inp_flags & 0x00008000; // IN6P_IPV6_V6ONLY
  inp.inp_pcbinfo.rehash(inp);
  if (ltp.cc_algo !== tp.cc_algo && ltp.t_cc_name !== null) tcp_set_cc(tp, ltp.t_cc_name);
  tcp_state_change(tp, TCPS_SYN_RECEIVED);
  tp.iss = sc.iss;
  tp.irs = sc.irs;
  tp.rcv_nxt = tp.rcv_adv = (sc.irs + 1) >>> 0;
  // tcp_sendseqinit, then the SYN-ACK counts as sent.
  tp.snd_una = tp.snd_up = tp.snd_recover = sc.iss;
  tp.snd_nxt = tp.snd_max = (sc.iss + 1) >>> 0;
  tp.snd_wl1 = sc.irs;
  tp.rcv_up = (sc.irs + 1) >>> 0;
  tp.rcv_wnd = sc.wnd;
  tp.rcv_adv = (tp.rcv_adv + tp.rcv_wnd) >>> 0;
  tp.last_ack_sent = tp.rcv_nxt;
  tp.t_flags = (tp.t_flags & ~(TF_REQ_SCALE | TF_REQ_TSTMP | TF_SACK_PERMIT)) | (ltp.t_flags & (TF_NOPUSH | TF_NODELAY));
  if (sc.flags & SCF_NOOPT) tp.t_flags |= TF_NOOPT;
  else {
    if (sc.flags & SCF_WINSCALE) {
      tp.t_flags |= TF_REQ_SCALE | TF_RCVD_SCALE;
      tp.snd_scale = sc.requested_s_scale;
      tp.request_r_scale = sc.requested_r_scale;
    }
    if (sc.flags & SCF_TIMESTAMP) {
      tp.t_flags |= TF_REQ_TSTMP | TF_RCVD_TSTMP;
      tp.ts_recent = sc.tsreflect;
      tp.ts_recent_age = tcp_ts_getticks(V);
      tp.ts_offset = sc.tsoff;
    }
    if (sc.flags & SCF_SACK) tp.t_flags |= TF_SACK_PERMIT;
  }
  if (sc.flags & SCF_ECN) {
    tp.t_flags2 |= TF2_ECN_PERMIT;
    V.tcp.stat.tcps_ecn_shs++;
  }
  tcp_mss(tp, sc.peer_mss);
  // The SYN-ACK was retransmitted: start with a one-segment window (cc_conn_init).
  if (sc.rxmits > 1) tp.snd_cwnd = 1;
  tp.t_keepinit = ltp.t_keepinit;
  tp.t_keepidle = ltp.t_keepidle;
  tp.t_keepintvl = ltp.t_keepintvl;
  tp.t_keepcnt = ltp.t_keepcnt;
  tp.t_maxunacktime = ltp.t_maxunacktime;
  tcp_timer_activate(tp, TT_KEEP, TP_KEEPINIT(tp));
  V.tcp.stat.tcps_accepts++;
  void inp_isv6;
  return tp;
}

/**
 * A RST to a listener (syncache_chkrst; RFC 5961 §3.2 in SYN-RECEIVED): exactly at IRS+1 it
 * ends the attempt, elsewhere in the window it draws a challenge ACK; RSTs with ACK, SYN or
 * FIN are ignored.
 */
export function syncache_chkrst(V: Vnet, s: TcpSeg): void {
  const scache = V.tcp.syncache;
  const st = V.tcp.stat;
  // A RST with SYN or FIN is bogus; one with ACK is judged by its sequence number alone
  // (the conformance suite's rcv-rst-ack-syn-rcvd-via-listen-*).
  if (s.thflags & (TH_SYN | TH_FIN)) {
    st.tcps_badrst++;
    return;
  }
  const sc = scache.lookup(s, scache.bucketOf(s));
  if (sc === null) {
    st.tcps_badrst++;
    return;
  }
  const nxt = (sc.irs + 1) >>> 0;
  if (SEQ_GEQ(s.th_seq, nxt) && SEQ_LT(s.th_seq, (nxt + sc.wnd) >>> 0)) {
    if (V.tcp.insecure_rst || s.th_seq === nxt) {
      scache.remove(sc);
      st.tcps_sc_reset++;
    } else {
      st.tcps_badrst++;
      if (tcp_ack_war_check(V, sc)) {
        st.tcps_challenge_ack++;
        scache.respond(sc, s.m, TH_ACK);
      }
    }
  } else st.tcps_badrst++;
}

/** A SYN-ACK to a listener: drop any entry of that connection (syncache_badack). */
export function syncache_badack(V: Vnet, s: TcpSeg): void {
  const scache = V.tcp.syncache;
  const sc = scache.lookup(s, scache.bucketOf(s));
  if (sc !== null) {
    scache.remove(sc);
    V.tcp.stat.tcps_sc_badack++;
  }
}
