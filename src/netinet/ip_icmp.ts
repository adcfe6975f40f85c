/*
 * ICMP for IPv4 (BSD netinet/ip_icmp.c; RFC 792, RFC 1122 §3.2.2, RFC 1191, RFC 1812).
 *
 * icmp_error() answers a datagram we cannot deliver or forward. Per RFC 1122 §3.2.2 it
 * never answers an ICMP error, a non-first fragment, a link-level broadcast or multicast,
 * or a datagram whose source is not a unicast host; it quotes the offending IP header and
 * the first 8 bytes of its payload (the whole TCP header for TCP, net.inet.icmp.quotelen);
 * it is rate limited per type (net.inet.icmp.icmplim per second, badport_bandlim()).
 *
 * icmp_input() answers echo and timestamp requests (not sent to broadcast unless
 * net.inet.icmp.bmcastecho), hands errors to the protocol of the quoted datagram
 * (pr_ctlinput), learns path MTUs from "fragmentation needed" into the host cache, and
 * installs host routes from redirects unless net.inet.icmp.drop_redirect is set. Echo
 * replies and everything else also reach raw ICMP sockets (rip_input).
 */

import type { Callout } from '../kern/kern_timeout.js';
import { M_BCAST, M_MCAST, type Mbuf, m_copydata, m_freem } from '../mbuf/mbuf.js';
import { RTF_DYNAMIC, RTF_MODIFIED } from '../net/route.js';
import {
  type CtlInput,
  PRC_MSGSIZE,
  PRC_PARAMPROB,
  PRC_TIMXCEED_INTRANS,
  PRC_TIMXCEED_REASS,
  PRC_UNREACH_ADMIN_PROHIB,
  PRC_UNREACH_HOST,
  PRC_UNREACH_NET,
  PRC_UNREACH_PORT,
  PRC_UNREACH_PROTOCOL,
  PRC_UNREACH_SRCFAIL,
} from '../sys/protosw.js';
import type { Vnet } from '../vnet.js';
import { get16, get32, set16, set32 } from '../wire/bytes.js';
import { inCksum } from '../wire/checksum.js';
import {
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  ICMP_MASKREQ,
  ICMP_MINLEN,
  ICMP_OFF_CODE,
  ICMP_OFF_GWADDR,
  ICMP_OFF_NEXTMTU,
  ICMP_OFF_PPTR,
  ICMP_OFF_SUM,
  ICMP_OFF_TYPE,
  ICMP_PARAMPROB,
  ICMP_REDIRECT,
  ICMP_SOURCEQUENCH,
  ICMP_TIMXCEED,
  ICMP_TIMXCEED_REASS,
  ICMP_TSTAMP,
  ICMP_TSTAMPREPLY,
  ICMP_UNREACH,
  ICMP_UNREACH_FILTER_PROHIB,
  ICMP_UNREACH_HOST,
  ICMP_UNREACH_HOST_PRECEDENCE,
  ICMP_UNREACH_HOST_PROHIB,
  ICMP_UNREACH_HOST_UNKNOWN,
  ICMP_UNREACH_ISOLATED,
  ICMP_UNREACH_NEEDFRAG,
  ICMP_UNREACH_NET,
  ICMP_UNREACH_NET_PROHIB,
  ICMP_UNREACH_NET_UNKNOWN,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PRECEDENCE_CUTOFF,
  ICMP_UNREACH_PROTOCOL,
  ICMP_UNREACH_SRCFAIL,
  ICMP_UNREACH_TOSHOST,
  ICMP_UNREACH_TOSNET,
} from '../wire/icmp.js';
import { IP_HDR_LEN, IP_OFF_DST, IP_OFF_LEN, IP_OFF_OFF, IP_OFF_P, IP_OFF_SRC, IP_OFF_VHL, IP_OFFMASK, IPPROTO_ICMP, IPPROTO_TCP } from '../wire/ipv4.js';
import { AF_INET, IN_EXPERIMENTAL, IN_MULTICAST, IN_ZERONET, INADDR_ANY, INADDR_BROADCAST, sockaddr_in } from './in.js';
import { ip_output } from './ip_output.js';
import { field } from '../kern/kern_sysctl.js';

export const ICMP_MAXTYPE = 40;

/** ICMP statistics (struct icmpstat, netinet/icmp_var.h). */
export class IcmpStat {
  icps_error = 0; // # of calls to icmp_error
  icps_oldshort = 0; // no error 'cuz old ip too short
  icps_oldicmp = 0; // no error 'cuz old was icmp
  icps_outhist = new Array<number>(ICMP_MAXTYPE + 1).fill(0);
  icps_badcode = 0; // icmp_code out of range
  icps_tooshort = 0; // packet < ICMP_MINLEN
  icps_checksum = 0; // bad checksum
  icps_badlen = 0; // calculated bound mismatch
  icps_reflect = 0; // number of responses
  icps_inhist = new Array<number>(ICMP_MAXTYPE + 1).fill(0);
  icps_bmcastecho = 0; // b/mcast echo requests dropped
  icps_bmcasttstamp = 0; // b/mcast tstamp requests dropped
  icps_badaddr = 0; // bad return address
  icps_noroute = 0; // no route back
  /** bsdnet: errors suppressed by the rate limit (badport_bandlim). */
  icps_ratelimited = 0;
}

// badport_bandlim() classes (netinet/icmp_var.h)
export const BANDLIM_ICMP_UNREACH = 0;
export const BANDLIM_ICMP_ECHO = 1;
export const BANDLIM_ICMP_TSTAMP = 2;
export const BANDLIM_RST_CLOSEDPORT = 3;
export const BANDLIM_RST_OPENPORT = 4;
export const BANDLIM_ICMP6_UNREACH = 5;
export const BANDLIM_SCTP_OOTB = 6;
export const BANDLIM_MAX = 7;
const BANDLIM_NAMES = ['icmp unreach', 'icmp ping', 'icmp tstamp', 'closed port RST', 'open port RST', 'icmp6 unreach', 'sctp ootb'];

export class IcmpVars {
  readonly stat = new IcmpStat();
  /** net.inet.icmp.icmplim: responses per second per class (0 = unlimited). */
  icmplim = 200;
  /** net.inet.icmp.icmplim_output: log when limiting. */
  icmplim_output = true;
  bmcastecho = false;
  tstamprepl = true;
  drop_redirect = false;
  log_redirect = false;
  /** net.inet.icmp.quotelen: bytes of payload quoted after the IP header. */
  quotelen = 8;
  /** Redirect-learned host routes expire after this many seconds. */
  redirtimeout = 600;
  /** Per-class counts in the current one-second window. */
  private readonly rateCount = new Int32Array(BANDLIM_MAX);
  private readonly rateWindow = new Float64Array(BANDLIM_MAX);
  /** Log lines produced by the limiter (tests read them; nothing is printed). */
  readonly log: string[] = [];
  private readonly V: Vnet;
  /** Expires redirect-learned host routes (FreeBSD's route expiry for RTF_DYNAMIC). */
  private readonly redirTimer: Callout<IcmpVars>;

  constructor(V: Vnet) {
    this.V = V;
    this.redirTimer = V.callwheel.callout<IcmpVars>();
    const s = V.sysctl;
    s.node('net.inet.icmp', 'ICMP');
    s.int('net.inet.icmp.icmplim', field(this, 'icmplim'), { descr: 'Maximum number of ICMP responses per second', min: 0, max: 1_000_000 });
    const bool = (name: string, key: 'icmplim_output' | 'bmcastecho' | 'tstamprepl' | 'drop_redirect' | 'log_redirect', descr: string) =>
      s.bool(
        name,
        {
          get: () => this[key],
          set: (v) => {
            this[key] = v;
          },
        },
        { descr },
      );
    bool('net.inet.icmp.icmplim_output', 'icmplim_output', 'Enable logging of ICMP response rate limiting');
    bool('net.inet.icmp.bmcastecho', 'bmcastecho', 'Reply to broadcast/multicast ICMP echo and timestamp requests');
    bool('net.inet.icmp.tstamprepl', 'tstamprepl', 'Respond to ICMP Timestamp packets');
    bool('net.inet.icmp.drop_redirect', 'drop_redirect', 'Ignore ICMP redirects');
    bool('net.inet.icmp.log_redirect', 'log_redirect', 'Log ICMP redirects');
    s.int('net.inet.icmp.quotelen', field(this, 'quotelen'), { descr: 'Number of bytes from original packet to quote in ICMP reply', min: 8, max: 1500 });
    s.int('net.inet.icmp.redirtimeout', field(this, 'redirtimeout'), { descr: 'Delay in seconds before expiring redirect route', min: 0, max: 86400 });
    s.struct('net.inet.icmp.stats', () => ({ ...this.stat, icps_outhist: [...this.stat.icps_outhist], icps_inhist: [...this.stat.icps_inhist] }), {
      descr: 'ICMP statistics (struct icmpstat, netinet/icmp_var.h)',
      type: 'icmpstat',
    });
  }

  /** Schedule the expiry of dynamic (redirect) routes at the earliest `expire`. */
  armRedirectExpiry(): void {
    let next = Infinity;
    for (const rt of this.V.rt.inet.all()) if (rt.flags & RTF_DYNAMIC && rt.expire > 0 && rt.expire < next) next = rt.expire;
    if (next === Infinity) this.redirTimer.stop();
    else this.redirTimer.resetNs(Math.max(0, next - this.V.clock.now()), redirExpire, this);
  }

  /** @internal delete redirect routes whose lifetime is over (RFC 1122 §3.3.1.2: they are a cache). */
  expireRedirects(): void {
    if (!this.redirTimer.ack()) return;
    const now = this.V.clock.now();
    for (const rt of this.V.rt.inet.all()) {
      if (rt.flags & RTF_DYNAMIC && rt.expire > 0 && rt.expire <= now) this.V.rt.del4(get32(rt.dst, 0), rt.plen);
    }
    this.armRedirectExpiry();
  }

  /**
   * Rate limit (badport_bandlim): true when a response of class `which` must be suppressed
   * because icmplim responses have already been sent in the current second.
   */
  bandlim(now: number, which: number): boolean {
    if (this.icmplim <= 0 || which < 0 || which >= BANDLIM_MAX) return false;
    const win = this.rateWindow[which] as number;
    if (now - win >= 1e9) {
      const over = (this.rateCount[which] as number) - this.icmplim;
      if (over > 0 && this.icmplim_output) {
        this.log.push(`Limiting ${BANDLIM_NAMES[which]} response from ${this.rateCount[which]} to ${this.icmplim} packets/sec`);
        if (this.log.length > 100) this.log.shift();
      }
      this.rateWindow[which] = now;
      this.rateCount[which] = 0;
    }
    const n = ((this.rateCount[which] as number) + 1) | 0;
    this.rateCount[which] = n;
    if (n > this.icmplim) {
      this.stat.icps_ratelimited++;
      return true;
    }
    return false;
  }
}

function redirExpire(ic: IcmpVars): void {
  ic.expireRedirects();
}

/** Is this class of ICMP message an error (not a query)? */
function icmp_iserror(type: number): boolean {
  return type === ICMP_UNREACH || type === ICMP_SOURCEQUENCH || type === ICMP_REDIRECT || type === ICMP_TIMXCEED || type === ICMP_PARAMPROB;
}

/**
 * Send an ICMP error about datagram `n` (icmp_error). `n` starts at its IP header and is
 * consumed. `dest` is the gateway for redirects, `mtu` the next-hop MTU for NEEDFRAG,
 * `pptr` the pointer for parameter problems.
 */
export function icmp_error(V: Vnet, n: Mbuf, type: number, code: number, dest: number, mtu: number, pptr = 0): void {
  const ic = V.icmp;
  const st = ic.stat;
  if (type !== ICMP_REDIRECT) st.icps_error++;
  const hn = V.mbufs.pullup(n, Math.min(n.len, IP_HDR_LEN));
  if (hn === null) return;
  n = hn;
  const b = n.m_buf;
  const o = n.m_data;
  if (n.len < IP_HDR_LEN) {
    st.icps_oldshort++;
    m_freem(n);
    return;
  }
  const ohlen = ((b[o + IP_OFF_VHL] as number) & 0xf) << 2;
  const oipLen = get16(b, o + IP_OFF_LEN);
  const osrc = get32(b, o + IP_OFF_SRC);
  // RFC 1122 §3.2.2: never about a non-first fragment.
  if (get16(b, o + IP_OFF_OFF) & IP_OFFMASK) {
    m_freem(n);
    return;
  }
  // Never about an ICMP error (queries are fine).
  if ((b[o + IP_OFF_P] as number) === IPPROTO_ICMP && type !== ICMP_REDIRECT && n.len >= ohlen + ICMP_MINLEN) {
    const otype = get8chain(n, ohlen);
    if (otype < 0 || icmp_iserror(otype)) {
      st.icps_oldicmp++;
      m_freem(n);
      return;
    }
  }
  // Never to a broadcast/multicast, nor to a source that is not a unicast host.
  if (n.m_flags & (M_BCAST | M_MCAST) || IN_MULTICAST(osrc) || osrc === INADDR_BROADCAST || IN_ZERONET(osrc) || IN_EXPERIMENTAL(osrc)) {
    m_freem(n);
    return;
  }
  if (V.inet.isBroadcast(osrc, n.rcvif)) {
    m_freem(n);
    return;
  }
  if (oipLen < ohlen + 8 && n.len < ohlen + 8) {
    st.icps_oldshort++;
    m_freem(n);
    return;
  }
  const which = type === ICMP_UNREACH ? BANDLIM_ICMP_UNREACH : -1;
  if (which >= 0 && ic.bandlim(V.clock.now(), which)) {
    m_freem(n);
    return;
  }
  // How much to quote: the IP header, then quotelen bytes (the whole TCP header for TCP).
  let quote = ic.quotelen;
  if ((b[o + IP_OFF_P] as number) === IPPROTO_TCP && n.len >= ohlen + 13) {
    const thl = (get8chain(n, ohlen + 12) >> 4) << 2;
    if (thl > quote) quote = thl;
  }
  let icmplen = Math.min(ohlen + quote, oipLen, n.len);
  // Keep the error within 576 bytes (RFC 1812 §4.3.2.3 / minimum reassembly size).
  icmplen = Math.min(icmplen, 576 - IP_HDR_LEN - ICMP_MINLEN);

  const m = V.mbufs.getm(IP_HDR_LEN + ICMP_MINLEN + icmplen, 16);
  if (m === null) {
    m_freem(n);
    return;
  }
  const total = IP_HDR_LEN + ICMP_MINLEN + icmplen;
  const mb = m.m_buf;
  const mo = m.m_data;
  if (m.m_buf.length - mo < total) {
    m_freem(m);
    m_freem(n);
    return;
  }
  m.m_len = total;
  m.len = total;
  const icp = mo + IP_HDR_LEN;
  mb.fill(0, mo, icp + ICMP_MINLEN);
  mb[icp + ICMP_OFF_TYPE] = type;
  mb[icp + ICMP_OFF_CODE] = code;
  if (type === ICMP_REDIRECT) set32(mb, icp + ICMP_OFF_GWADDR, dest);
  else if (type === ICMP_UNREACH && code === ICMP_UNREACH_NEEDFRAG) set16(mb, icp + ICMP_OFF_NEXTMTU, mtu);
  else if (type === ICMP_PARAMPROB) mb[icp + ICMP_OFF_PPTR] = pptr;
  m_copydata(n, 0, icmplen, mb, icp + ICMP_MINLEN);
  set16(mb, icp + ICMP_OFF_SUM, inCksum(mb, icp, ICMP_MINLEN + icmplen));
  if (type <= ICMP_MAXTYPE) st.icps_outhist[type] = (st.icps_outhist[type] ?? 0) + 1;
  // IP header: back to the source, from the address it was sent to if it is ours.
  const odst = get32(b, o + IP_OFF_DST);
  const src = V.inet.isLocal(odst) ? odst : INADDR_ANY;
  build_ip_header(mb, mo, total, IPPROTO_ICMP, src, osrc, V.inet.defttl);
  m.rcvif = null;
  m_freem(n);
  ip_output(V, m, 0, null);
}

function get8chain(m: Mbuf, off: number): number {
  for (let x: Mbuf | null = m; x !== null; x = x.m_next) {
    if (off < x.m_len) return x.m_buf[x.m_data + off] as number;
    off -= x.m_len;
  }
  return -1;
}

/** Write a 20-byte IPv4 header (no options) at b[o]. The checksum is left to ip_output. */
export function build_ip_header(b: Uint8Array, o: number, len: number, proto: number, src: number, dst: number, ttl: number, tos = 0, df = false): void {
  b[o] = 0x45;
  b[o + 1] = tos;
  set16(b, o + 2, len);
  set16(b, o + 4, 0);
  set16(b, o + 6, df ? 0x4000 : 0);
  b[o + 8] = ttl;
  b[o + 9] = proto;
  set16(b, o + 10, 0);
  set32(b, o + 12, src);
  set32(b, o + 16, dst);
}

/** Map an ICMP unreachable code to a PRC_* command (inetctlerrmap). */
function unreachToPrc(code: number): number {
  switch (code) {
    case ICMP_UNREACH_NET:
    case ICMP_UNREACH_NET_UNKNOWN:
    case ICMP_UNREACH_ISOLATED:
    case ICMP_UNREACH_TOSNET:
      return PRC_UNREACH_NET;
    case ICMP_UNREACH_HOST:
    case ICMP_UNREACH_HOST_UNKNOWN:
    case ICMP_UNREACH_TOSHOST:
      return PRC_UNREACH_HOST;
    case ICMP_UNREACH_PROTOCOL:
      return PRC_UNREACH_PROTOCOL;
    case ICMP_UNREACH_PORT:
      return PRC_UNREACH_PORT;
    case ICMP_UNREACH_SRCFAIL:
      return PRC_UNREACH_SRCFAIL;
    case ICMP_UNREACH_NEEDFRAG:
      return PRC_MSGSIZE;
    case ICMP_UNREACH_NET_PROHIB:
    case ICMP_UNREACH_HOST_PROHIB:
    case ICMP_UNREACH_FILTER_PROHIB:
    case ICMP_UNREACH_HOST_PRECEDENCE:
    case ICMP_UNREACH_PRECEDENCE_CUTOFF:
      return PRC_UNREACH_ADMIN_PROHIB;
    default:
      return -1;
  }
}

/** RFC 1191 §7 plateau table: the next smaller MTU for a datagram of `len` bytes. */
export function ip_next_mtu(len: number): number {
  const plateaus = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1280, 1006, 508, 296, 68];
  for (const p of plateaus) if (p < len) return p;
  return 68;
}

/** The ICMP protocol input routine (pr_input). `off` is the ICMP header offset. */
export function icmp_input(m0: Mbuf, off: number, _proto: number): void {
  const V = (m0.rcvif as NonNullable<Mbuf['rcvif']>).if_vnet;
  const ic = V.icmp;
  const st = ic.stat;
  const b0 = m0.m_buf;
  const o0 = m0.m_data;
  const ipLen = get16(b0, o0 + IP_OFF_LEN);
  const icmplen = ipLen - off;
  if (icmplen < ICMP_MINLEN) {
    st.icps_tooshort++;
    m_freem(m0);
    return;
  }
  const m = V.mbufs.pullup(m0, Math.min(off + icmplen, off + ICMP_MINLEN + IP_HDR_LEN + 8 + 40, ipLen));
  if (m === null) {
    st.icps_tooshort++;
    return;
  }
  // Verify the checksum over the whole message (chain-aware).
  const sumOk = chainCksum(m, off, icmplen) === 0;
  if (!sumOk) {
    st.icps_checksum++;
    m_freem(m);
    return;
  }
  const b = m.m_buf;
  const o = m.m_data;
  const icp = o + off;
  const type = b[icp + ICMP_OFF_TYPE] as number;
  const code = b[icp + ICMP_OFF_CODE] as number;
  if (type <= ICMP_MAXTYPE) st.icps_inhist[type] = (st.icps_inhist[type] as number) + 1;
  const src = get32(b, o + IP_OFF_SRC);
  const dst = get32(b, o + IP_OFF_DST);

  switch (type) {
    case ICMP_UNREACH:
    case ICMP_TIMXCEED:
    case ICMP_PARAMPROB: {
      let cmd: number;
      if (type === ICMP_UNREACH) cmd = unreachToPrc(code);
      else if (type === ICMP_TIMXCEED) cmd = code === ICMP_TIMXCEED_REASS ? PRC_TIMXCEED_REASS : code === 0 ? PRC_TIMXCEED_INTRANS : -1;
      else cmd = code <= 2 ? PRC_PARAMPROB : -1;
      if (cmd < 0) {
        st.icps_badcode++;
        break;
      }
      icmp_notify(V, m, off, icmplen, type, code, cmd);
      break;
    }
    case ICMP_SOURCEQUENCH:
      // RFC 6633: source quench is deprecated and ignored.
      break;
    case ICMP_ECHO:
    case ICMP_TSTAMP: {
      const bcast = m.m_flags & (M_BCAST | M_MCAST) || IN_MULTICAST(dst) || V.inet.isBroadcast(dst, m.rcvif);
      if (bcast && !ic.bmcastecho) {
        if (type === ICMP_ECHO) st.icps_bmcastecho++;
        else st.icps_bmcasttstamp++;
        break;
      }
      if (type === ICMP_TSTAMP) {
        if (!ic.tstamprepl || icmplen < 20) break;
        if (ic.bandlim(V.clock.now(), BANDLIM_ICMP_TSTAMP)) break;
        b[icp + ICMP_OFF_TYPE] = ICMP_TSTAMPREPLY;
        const ms = Math.floor((V.clock.wallEpochNs + V.clock.now()) / 1e6) % 86_400_000;
        set32(b, icp + 12, ms); // receive timestamp
        set32(b, icp + 16, ms); // transmit timestamp
      } else {
        if (ic.bandlim(V.clock.now(), BANDLIM_ICMP_ECHO)) break;
        b[icp + ICMP_OFF_TYPE] = ICMP_ECHOREPLY;
      }
      icmp_reflect(V, m, off, icmplen);
      return;
    }
    case ICMP_REDIRECT:
      icmp_redirect(V, m, off, icmplen, code, src);
      break;
    case ICMP_MASKREQ:
      // Address mask replies are off (net.inet.icmp.maskrepl=0).
      break;
    default:
      break;
  }
  // Everything (replies included) is also offered to raw ICMP sockets.
  V.rawip.input(m, off, IPPROTO_ICMP);
}

function chainCksum(m: Mbuf, off: number, len: number): number {
  // Fast path: contiguous.
  if (m.m_len >= off + len) return inCksum(m.m_buf, m.m_data + off, len);
  const tmp = new Uint8Array(len);
  m_copydata(m, off, len, tmp, 0);
  return inCksum(tmp, 0, len);
}

/** Deliver an ICMP error to the protocol of the quoted datagram (pr_ctlinput). */
function icmp_notify(V: Vnet, m: Mbuf, off: number, icmplen: number, type: number, code: number, cmd: number): void {
  const st = V.icmp.stat;
  // The quoted datagram: IP header (≥ 20) and at least 8 bytes of its payload.
  if (icmplen < ICMP_MINLEN + IP_HDR_LEN + 8) {
    st.icps_badlen++;
    return;
  }
  const quoted = new Uint8Array(icmplen - ICMP_MINLEN);
  m_copydata(m, off + ICMP_MINLEN, quoted.length, quoted, 0);
  const qhl = ((quoted[0] as number) & 0xf) << 2;
  if ((quoted[0] as number) >> 4 !== 4 || qhl < IP_HDR_LEN || quoted.length < qhl + 8) {
    st.icps_badlen++;
    return;
  }
  const qsrc = get32(quoted, IP_OFF_SRC);
  const qdst = get32(quoted, IP_OFF_DST);
  let mtu = 0;
  if (cmd === PRC_MSGSIZE) {
    mtu = get16(m.m_buf, m.m_data + off + ICMP_OFF_NEXTMTU);
    // RFC 1191 §7: an old router sends 0; guess from the quoted length.
    if (mtu === 0) mtu = ip_next_mtu(get16(quoted, IP_OFF_LEN));
    if (mtu < 68) mtu = 68; // RFC 1191 §3: never below 68
    // Only about datagrams we sent (RFC 5927 §4.1 sanity check), only when the quoted
    // datagram really did not fit, and never raising a learned estimate (RFC 1191 §6.3).
    const cur = V.hostcache.getMtu(AF_INET, qdst, null);
    if (V.inet.isLocal(qsrc) && mtu < get16(quoted, IP_OFF_LEN) && (cur === 0 || mtu < cur)) V.hostcache.updateMtu(AF_INET, qdst, null, mtu);
  }
  const proto = quoted[IP_OFF_P] as number;
  const pr = V.inet.protox[proto];
  if (pr?.pr_ctlinput) {
    const ctl: CtlInput = {
      cmd,
      icmpType: type,
      icmpCode: code,
      mtu,
      family: AF_INET,
      src: sockaddr_in(qsrc, get16(quoted, qhl)),
      dst: sockaddr_in(qdst, get16(quoted, qhl + 2)),
      quoted,
      off: qhl,
    };
    pr.pr_ctlinput(ctl);
  }
}

/**
 * Accept a redirect (RFC 1122 §3.2.2.2): only from the current first-hop gateway for the
 * destination, only to a gateway on a directly connected network, never when forwarding.
 * Installs a dynamic host route that expires after net.inet.icmp.redirtimeout.
 */
function icmp_redirect(V: Vnet, m: Mbuf, off: number, icmplen: number, code: number, from: number): void {
  const ic = V.icmp;
  if (ic.drop_redirect || V.inet.forwarding || code > 3 || icmplen < ICMP_MINLEN + IP_HDR_LEN) return;
  const b = m.m_buf;
  const gw = get32(b, m.m_data + off + ICMP_OFF_GWADDR);
  const target = get32(b, m.m_data + off + ICMP_MINLEN + IP_OFF_DST);
  const cur = V.rt.inet.lookup4(target);
  if (cur === null || !(cur.flags & 0x2) || cur.nhop.gw4 !== from) return; // must come from our gateway
  const ia = V.inet.ifaWithNet(gw);
  if (ia === undefined || V.inet.isLocal(gw)) return;
  const existing = V.rt.get4(target, 32);
  if (existing && !(existing.flags & RTF_DYNAMIC)) return;
  if (existing) V.rt.del4(target, 32);
  V.rt.add4(target, 32, {
    ifp: ia.ifa_ifp,
    ifa: ia,
    gateway: gw,
    flags: RTF_DYNAMIC | RTF_MODIFIED,
    expire: ic.redirtimeout > 0 ? V.clock.now() + ic.redirtimeout * 1e9 : 0,
  });
  if (ic.redirtimeout > 0) ic.armRedirectExpiry();
  // Cached routes revalidate against the routing table generation, so PCBs pick the new
  // host route up on their next send (the job PRC_REDIRECT_HOST does in BSD).
}

/**
 * Send a reply back to the source of `m` (icmp_reflect): addresses swapped, from the
 * address the request was sent to if it is ours (else the receiving interface's address),
 * with a fresh TTL and checksum.
 */
function icmp_reflect(V: Vnet, m: Mbuf, off: number, icmplen: number): void {
  const st = V.icmp.stat;
  const b = m.m_buf;
  const o = m.m_data;
  const osrc = get32(b, o + IP_OFF_SRC);
  const odst = get32(b, o + IP_OFF_DST);
  if (IN_MULTICAST(osrc) || IN_EXPERIMENTAL(osrc) || IN_ZERONET(osrc)) {
    st.icps_badaddr++;
    m_freem(m);
    return;
  }
  let src = odst;
  if (!V.inet.isLocal(odst)) {
    const ia = (m.rcvif ? V.inet.ifaOnIfp(m.rcvif) : undefined) ?? V.inet.ifaWithNet(osrc);
    src = ia ? ia.ia_addr : INADDR_ANY;
  }
  // Drop IP options: the reply gets a plain 20-byte header.
  if (off > IP_HDR_LEN) {
    b.copyWithin(o + IP_HDR_LEN, o + off, o + off + Math.min(icmplen, m.m_len - off));
    m.m_len -= off - IP_HDR_LEN;
    m.len -= off - IP_HDR_LEN;
    off = IP_HDR_LEN;
  }
  const icp = o + off;
  set16(b, icp + ICMP_OFF_SUM, 0);
  const sum = chainCksum(m, off, icmplen);
  set16(b, icp + ICMP_OFF_SUM, sum);
  const t = b[icp] as number;
  if (t <= ICMP_MAXTYPE) st.icps_outhist[t] = (st.icps_outhist[t] as number) + 1;
  st.icps_reflect++;
  build_ip_header(b, o, off + icmplen, IPPROTO_ICMP, src, osrc, V.inet.defttl);
  m.csum_flags = 0;
  m.csum_unfilled = 0; // the reflected packet's own checksums are computed above
  m.m_flags &= ~(M_BCAST | M_MCAST);
  m.rcvif = null;
  ip_output(V, m, 0, null);
}

/** Build and send an ICMP echo request (the kernel side of ping, used by raw-less callers). */
export function icmp_send_echo(V: Vnet, src: number, dst: number, id: number, seq: number, data: Uint8Array, ttl = 64): number {
  const len = IP_HDR_LEN + ICMP_MINLEN + data.length;
  const m = V.mbufs.getm(len, 16);
  if (m === null) return 55;
  if (m.m_buf.length - m.m_data < len) {
    m_freem(m);
    return 40;
  }
  const b = m.m_buf;
  const o = m.m_data;
  m.m_len = len;
  m.len = len;
  const icp = o + IP_HDR_LEN;
  b[icp] = ICMP_ECHO;
  b[icp + 1] = 0;
  set16(b, icp + 2, 0);
  set16(b, icp + 4, id);
  set16(b, icp + 6, seq);
  b.set(data, icp + 8);
  set16(b, icp + 2, inCksum(b, icp, ICMP_MINLEN + data.length));
  build_ip_header(b, o, len, IPPROTO_ICMP, src, dst, ttl);
  return ip_output(V, m, 0x20, null);
}
