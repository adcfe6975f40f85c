/*
 * ARP: IPv4 over Ethernet address resolution (BSD netinet/if_ether.c, net/if_llatbl.c;
 * RFC 826, RFC 5227 for probes and announcements).
 *
 * The cache holds one entry per (interface, IPv4 address):
 *   INCOMPLETE  resolution in progress; packets wait on a bounded hold queue
 *               (net.link.ether.inet.maxhold, oldest dropped first); a request goes out at
 *               most once a second; after net.link.ether.inet.maxtries unanswered requests
 *               the held packets are dropped and senders get EHOSTDOWN (EHOSTUNREACH via a
 *               gateway) for net.link.ether.inet.wait seconds;
 *   REACHABLE   valid for net.link.ether.inet.max_age seconds (1200) from the last reply;
 *   STALE       past max_age: still used, but the next use sends a unicast request to
 *               verify it; unverified stale entries are deleted after `wait` seconds.
 *
 * Input answers requests for our addresses, learns senders that asked for us, updates
 * entries that exist, logs address moves, and detects duplicates: a packet whose sender
 * address is ours from another station is logged ("... is using my IP address ...") and
 * counted (dupips); we defend with a reply. Adding an address sends a gratuitous ARP.
 */

import type { Callout } from '../kern/kern_timeout.js';
import { M_BCAST, M_MCAST, type Mbuf, m_freem } from '../mbuf/mbuf.js';
import { ether_sprintf, IFF_NOARP, IFF_UP, type Ifnet } from '../net/if.js';
import { ether_output_frame, type LinkDst } from '../net/if_ethersubr.js';
import { NETISR_ARP } from '../net/netisr.js';
import { EHOSTDOWN, EHOSTUNREACH, ENOBUFS, EWOULDBLOCK } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import {
  ARP_ETHER_IP_LEN,
  ARP_OFF_HLN,
  ARP_OFF_HRD,
  ARP_OFF_OP,
  ARP_OFF_PLN,
  ARP_OFF_PRO,
  ARP_OFF_SHA,
  ARP_OFF_SPA,
  ARP_OFF_THA,
  ARP_OFF_TPA,
  ARPHRD_ETHER,
  ARPOP_REPLY,
  ARPOP_REQUEST,
} from '../wire/arp.js';
import { get16, get32, set16, set32 } from '../wire/bytes.js';
import { ETHER_BROADCAST, ETHERTYPE_ARP, ETHERTYPE_IP } from '../wire/ethernet.js';
import { AF_INET, ether_map_ip_multicast, IN_MULTICAST, INADDR_ANY, INADDR_BROADCAST, ntoa, type SockaddrIn } from './in.js';
import type { InIfaddr } from './in_var.js';

export const ARP_LLINFO_INCOMPLETE = 0;
export const ARP_LLINFO_REACHABLE = 1;
export const ARP_LLINFO_STALE = 2;
const STATE_NAMES = ['incomplete', 'reachable', 'stale'];
/** RFC 5227 §1.1 DEFEND_INTERVAL: minimum time between two defences of an address. */
const ARP_DEFEND_INTERVAL_NS = 10e9;

/** ARP statistics (struct arpstat, netinet/if_ether.h). */
export class ArpStat {
  txrequests = 0;
  txreplies = 0;
  rxrequests = 0;
  rxreplies = 0;
  received = 0;
  txerrors = 0;
  /** Packets dropped waiting for a reply (hold queue overflow, resolution failure). */
  dropped = 0;
  /** Entries removed by timeout. */
  timeouts = 0;
  /** Duplicate IP addresses detected. */
  dupips = 0;
  /** bsdnet: malformed ARP packets. */
  badlen = 0;
  badformat = 0;
}

export class Llentry {
  readonly ifp: Ifnet;
  readonly addr: number;
  readonly lladdr = new Uint8Array(6);
  state = ARP_LLINFO_INCOMPLETE;
  /** Requests sent in the current resolution attempt. */
  asked = 0;
  /** Clock ns of the last request (rate limiting). */
  lastRequest = -Infinity;
  /** Time the entry expires from its current state (ns). */
  expire = 0;
  /** Packets waiting for resolution (m_nextpkt list) and their count. */
  holdHead: Mbuf | null = null;
  holdTail: Mbuf | null = null;
  holdCount = 0;
  /** Resolution failed: refuse until `expire`. */
  down = false;
  /** A static (permanent) entry. */
  permanent = false;
  /** Removed from the table: a route cache holding it must look up again. */
  freed = false;
  readonly timer: Callout<Llentry>;
  /** @internal */
  readonly arp: ArpVars;

  constructor(arp: ArpVars, ifp: Ifnet, addr: number) {
    this.arp = arp;
    this.ifp = ifp;
    this.addr = addr >>> 0;
    this.timer = ifp.if_vnet.callwheel.callout<Llentry>();
  }
}

/** What the fast path of resolve() needs from a route cache (ip_output's RouteCache). */
export interface LleCache {
  lle: Llentry | null;
}

function lleTimer(la: Llentry): void {
  if (!la.timer.ack()) return;
  la.arp.timer(la);
}

export class ArpVars {
  private readonly V: Vnet;
  readonly stat = new ArpStat();
  /** Entries by interface index then address. */
  private readonly tables = new Map<number, Map<number, Llentry>>();
  // sysctls (net.link.ether.inet.*), FreeBSD defaults
  max_age = 1200;
  maxtries = 5;
  maxhold = 16;
  wait = 20;
  proxyall = false;
  log_arp_wrong_iface = true;
  log_arp_movements = true;
  log_arp_permanent_modify = true;
  allow_multicast = false;
  garp_rexmit_count = 0;
  /** Messages the kernel would log (bounded). */
  readonly log: string[] = [];
  private readonly edst = new Uint8Array(6);
  /** When we last defended each of our addresses (RFC 5227 §2.4 rate limit). */
  private readonly lastDefend = new Map<number, number>();

  constructor(V: Vnet) {
    this.V = V;
    const s = V.sysctl;
    s.node('net.link.ether.inet', 'IPv4 over Ethernet (ARP)');
    const int = (name: string, key: 'max_age' | 'maxtries' | 'maxhold' | 'wait' | 'garp_rexmit_count', descr: string, min: number, max: number) =>
      s.int(
        `net.link.ether.inet.${name}`,
        {
          get: () => this[key],
          set: (v) => {
            this[key] = v;
          },
        },
        { descr, min, max },
      );
    const bool = (
      name: string,
      key: 'proxyall' | 'log_arp_wrong_iface' | 'log_arp_movements' | 'log_arp_permanent_modify' | 'allow_multicast',
      descr: string,
    ) =>
      s.bool(
        `net.link.ether.inet.${name}`,
        {
          get: () => this[key],
          set: (v) => {
            this[key] = v;
          },
        },
        { descr },
      );
    int('max_age', 'max_age', 'ARP entry lifetime in seconds', 1, 86400 * 365);
    int('maxtries', 'maxtries', 'ARP resolution attempts before returning error', 1, 100);
    int('maxhold', 'maxhold', 'Number of packets to hold per ARP entry', 0, 1 << 16);
    int('wait', 'wait', 'Incomplete ARP entry lifetime in seconds', 1, 86400);
    int('garp_rexmit_count', 'garp_rexmit_count', 'Number of times to retransmit GARP packets', 0, 16);
    bool('proxyall', 'proxyall', 'Enable proxy ARP for all suitable requests');
    bool('log_arp_wrong_iface', 'log_arp_wrong_iface', 'Log arp packets arriving on the wrong interface');
    bool('log_arp_movements', 'log_arp_movements', 'Log arp replies from MACs different than the one in the cache');
    bool('log_arp_permanent_modify', 'log_arp_permanent_modify', 'Log arp replies from MACs different than the one in the permanent arp entry');
    bool('allow_multicast', 'allow_multicast', 'Accept multicast addresses');
    s.node('net.link.ether.arp', 'ARP');
    s.struct('net.link.ether.arp.stats', () => ({ ...this.stat }), { descr: 'ARP statistics (struct arpstat, netinet/if_ether.h)', type: 'arpstat' });
    s.struct('net.link.ether.inet.table', () => this.list(), { descr: 'ARP table (arp -a)', type: 'llentry' });
  }

  private logmsg(msg: string): void {
    this.log.push(msg);
    if (this.log.length > 256) this.log.shift();
  }

  private table(ifp: Ifnet): Map<number, Llentry> {
    let t = this.tables.get(ifp.if_index);
    if (!t) this.tables.set(ifp.if_index, (t = new Map()));
    return t;
  }

  lookup(ifp: Ifnet, addr: number): Llentry | undefined {
    return this.tables.get(ifp.if_index)?.get(addr >>> 0);
  }

  private create(ifp: Ifnet, addr: number): Llentry {
    const la = new Llentry(this, ifp, addr);
    this.table(ifp).set(addr >>> 0, la);
    return la;
  }

  private free(la: Llentry): void {
    la.freed = true;
    la.timer.stop();
    this.dropHeld(la);
    this.tables.get(la.ifp.if_index)?.delete(la.addr);
  }

  private dropHeld(la: Llentry): void {
    let m = la.holdHead;
    while (m !== null) {
      const n: Mbuf | null = m.m_nextpkt;
      m.m_nextpkt = null;
      m_freem(m);
      this.stat.dropped++;
      m = n;
    }
    la.holdHead = la.holdTail = null;
    la.holdCount = 0;
  }

  /** Add a static entry (arp -s). */
  addStatic(ifp: Ifnet, addr: number, lladdr: Uint8Array): Llentry {
    const la = this.lookup(ifp, addr) ?? this.create(ifp, addr);
    la.lladdr.set(lladdr);
    la.state = ARP_LLINFO_REACHABLE;
    la.permanent = true;
    la.down = false;
    la.timer.stop();
    this.flushHeld(la);
    return la;
  }

  delete(ifp: Ifnet, addr: number): boolean {
    const la = this.lookup(ifp, addr);
    if (la === undefined) return false;
    this.free(la);
    return true;
  }

  /** Remove every entry of an interface (detach or address change). */
  purgeIfp(ifp: Ifnet): void {
    const t = this.tables.get(ifp.if_index);
    if (!t) return;
    for (const la of [...t.values()]) this.free(la);
    this.tables.delete(ifp.if_index);
  }

  /** @internal the per-entry timer. */
  timer(la: Llentry): void {
    const now = this.V.clock.now();
    if (la.expire > now) {
      la.timer.resetNs(la.expire - now, lleTimer, la);
      return;
    }
    switch (la.state) {
      case ARP_LLINFO_INCOMPLETE:
        if (la.down) {
          // The hold-down period after a failed resolution is over: forget the entry.
          this.stat.timeouts++;
          this.free(la);
          return;
        }
        if (la.asked >= this.maxtries) {
          this.failDown(la);
          return;
        }
        // Retransmit the request, once a second.
        la.lastRequest = -Infinity;
        this.request(la.ifp, la, 0);
        la.expire = now + 1e9;
        la.timer.resetNs(1e9, lleTimer, la);
        return;
      case ARP_LLINFO_REACHABLE:
        la.state = ARP_LLINFO_STALE;
        la.expire = now + this.wait * 1e9;
        la.asked = 0;
        la.timer.resetNs(this.wait * 1e9, lleTimer, la);
        return;
      default:
        // Stale and not re-verified.
        this.stat.timeouts++;
        this.free(la);
    }
  }

  private failDown(la: Llentry): void {
    // maxtries requests went unanswered: drop the held packets and refuse for `wait` s.
    this.dropHeld(la);
    la.down = true;
    la.expire = this.V.clock.now() + this.wait * 1e9;
    la.timer.resetNs(this.wait * 1e9, lleTimer, la);
  }

  /**
   * Send an ARP request for la.addr (arprequest). `unicast` non-zero: to the cached
   * address (stale verification). Rate limited to one per second per entry.
   */
  private request(ifp: Ifnet, la: Llentry, unicast: number): void {
    const now = this.V.clock.now();
    if (now - la.lastRequest < 1e9) return;
    la.lastRequest = now;
    la.asked++;
    const ia = this.sourceFor(ifp, la.addr);
    if (ia === undefined) return;
    this.send(ifp, ARPOP_REQUEST, ia.ia_addr, la.addr, unicast ? la.lladdr : null);
  }

  /** Our address to use as sender when asking about `target` on `ifp`. */
  private sourceFor(ifp: Ifnet, target: number): InIfaddr | undefined {
    let first: InIfaddr | undefined;
    for (const ia of this.V.inet.addrs) {
      if (ia.ifa_ifp !== ifp) continue;
      if ((target & ia.ia_mask) >>> 0 === ia.ia_subnet) return ia;
      first ??= ia;
    }
    return first;
  }

  /** Build and transmit an ARP packet (sender is us). `tha` null → broadcast request. */
  send(ifp: Ifnet, op: number, spa: number, tpa: number, tha: Uint8Array | null): number {
    const m = this.V.mbufs.gethdr();
    if (m === null) {
      this.stat.txerrors++;
      return ENOBUFS;
    }
    m.m_data = 32;
    const b = m.m_buf;
    const o = m.m_data;
    set16(b, o + ARP_OFF_HRD, ARPHRD_ETHER);
    set16(b, o + ARP_OFF_PRO, ETHERTYPE_IP);
    b[o + ARP_OFF_HLN] = 6;
    b[o + ARP_OFF_PLN] = 4;
    set16(b, o + ARP_OFF_OP, op);
    b.set(ifp.if_lladdr.subarray(0, 6), o + ARP_OFF_SHA);
    set32(b, o + ARP_OFF_SPA, spa);
    if (tha) b.set(tha.subarray(0, 6), o + ARP_OFF_THA);
    else b.fill(0, o + ARP_OFF_THA, o + ARP_OFF_THA + 6);
    set32(b, o + ARP_OFF_TPA, tpa);
    m.m_len = ARP_ETHER_IP_LEN;
    m.len = ARP_ETHER_IP_LEN;
    if (op === ARPOP_REQUEST) this.stat.txrequests++;
    else this.stat.txreplies++;
    const dst = op === ARPOP_REQUEST && tha === null ? ETHER_BROADCAST : (tha as Uint8Array);
    if (dst === ETHER_BROADCAST) m.m_flags |= M_BCAST;
    const err = ether_output_frame(ifp, m, dst, ETHERTYPE_ARP);
    if (err !== 0) this.stat.txerrors++;
    return err;
  }

  /** Announce an address (gratuitous ARP, RFC 5227 §3: an ARP request with spa = tpa). */
  announce(ia: InIfaddr): void {
    const ifp = ia.ifa_ifp;
    if (ifp.if_hdrlen !== 14 || ifp.if_flags & IFF_NOARP || !(ifp.if_flags & IFF_UP)) return;
    this.send(ifp, ARPOP_REQUEST, ia.ia_addr, ia.ia_addr, null);
  }

  /**
   * The Ethernet resolver for AF_INET (arpresolve): 0 with `edst` filled, EWOULDBLOCK when
   * the packet was queued for resolution, or an errno after freeing it.
   */
  resolve(ifp: Ifnet, m: Mbuf, dst: LinkDst, ro: unknown, edst: Uint8Array): number {
    const addr = (dst as SockaddrIn).addr >>> 0;
    // Fast path (FreeBSD's nhop lle / arpresolve_fast): the route cache of the sender keeps
    // the entry it resolved last; a reachable entry for the same next hop and interface is
    // used without the table lookups. Anything else takes the full path below.
    const rc = ro as LleCache | null | undefined;
    if (rc !== null && rc !== undefined && !(m.m_flags & (M_BCAST | M_MCAST))) {
      const c = rc.lle;
      if (c !== null && c !== undefined && c.addr === addr && c.ifp === ifp && c.state === ARP_LLINFO_REACHABLE && !c.freed) {
        const l = c.lladdr;
        for (let i = 0; i < 6; i++) edst[i] = l[i] as number;
        return 0;
      }
    }
    if (m.m_flags & M_BCAST || addr === INADDR_BROADCAST || this.V.inet.isBroadcast(addr, ifp)) {
      edst.set(ETHER_BROADCAST);
      m.m_flags |= M_BCAST;
      return 0;
    }
    if (m.m_flags & M_MCAST || IN_MULTICAST(addr)) {
      ether_map_ip_multicast(addr, edst);
      m.m_flags |= M_MCAST;
      return 0;
    }
    if (ifp.if_flags & IFF_NOARP) {
      m_freem(m);
      return EHOSTUNREACH;
    }
    let la = this.lookup(ifp, addr);
    const now = this.V.clock.now();
    if (la !== undefined && la.state !== ARP_LLINFO_INCOMPLETE) {
      edst.set(la.lladdr);
      if (la.state === ARP_LLINFO_STALE && !la.permanent) this.request(ifp, la, 1);
      if (rc !== null && rc !== undefined && 'lle' in rc) rc.lle = la;
      return 0;
    }
    if (la === undefined) {
      la = this.create(ifp, addr);
      la.expire = now + 1e9;
      la.timer.resetNs(1e9, lleTimer, la);
    }
    if (la.down) {
      m_freem(m);
      this.stat.dropped++;
      return this.isGateway(addr) ? EHOSTUNREACH : EHOSTDOWN;
    }
    // Hold the packet; drop the oldest beyond maxhold (FreeBSD keeps the newest).
    m.m_nextpkt = null;
    if (la.holdTail) la.holdTail.m_nextpkt = m;
    else la.holdHead = m;
    la.holdTail = m;
    la.holdCount++;
    while (la.holdCount > this.maxhold && la.holdHead !== null) {
      const old = la.holdHead;
      la.holdHead = old.m_nextpkt;
      old.m_nextpkt = null;
      m_freem(old);
      la.holdCount--;
      this.stat.dropped++;
    }
    if (la.holdHead === null) la.holdTail = null;
    if (la.asked < this.maxtries) this.request(ifp, la, 0);
    return EWOULDBLOCK;
  }

  private isGateway(addr: number): boolean {
    for (const rt of this.V.rt.inet.all()) if (rt.nhop.gw4 === addr) return true;
    return false;
  }

  /** Send the packets held on an entry that just resolved. */
  private flushHeld(la: Llentry): void {
    let m = la.holdHead;
    la.holdHead = la.holdTail = null;
    la.holdCount = 0;
    while (m !== null) {
      const n: Mbuf | null = m.m_nextpkt;
      m.m_nextpkt = null;
      ether_output_frame(la.ifp, m, la.lladdr, ETHERTYPE_IP);
      m = n;
    }
  }

  /** The netisr handler for ARP packets (arpintr / in_arpinput). */
  input(m0: Mbuf): void {
    const ifp = m0.rcvif as Ifnet;
    const st = this.stat;
    st.received++;
    if (m0.len < ARP_ETHER_IP_LEN) {
      st.badlen++;
      m_freem(m0);
      return;
    }
    const m = this.V.mbufs.pullup(m0, ARP_ETHER_IP_LEN);
    if (m === null) {
      st.badlen++;
      return;
    }
    const b = m.m_buf;
    const o = m.m_data;
    if (get16(b, o + ARP_OFF_HRD) !== ARPHRD_ETHER || get16(b, o + ARP_OFF_PRO) !== ETHERTYPE_IP || b[o + ARP_OFF_HLN] !== 6 || b[o + ARP_OFF_PLN] !== 4) {
      st.badformat++;
      m_freem(m);
      return;
    }
    const op = get16(b, o + ARP_OFF_OP);
    if (op !== ARPOP_REQUEST && op !== ARPOP_REPLY) {
      st.badformat++;
      m_freem(m);
      return;
    }
    if (op === ARPOP_REQUEST) st.rxrequests++;
    else st.rxreplies++;
    const sha = b.slice(o + ARP_OFF_SHA, o + ARP_OFF_SHA + 6);
    const spa = get32(b, o + ARP_OFF_SPA);
    const tpa = get32(b, o + ARP_OFF_TPA);
    m_freem(m);

    // Our own packet looped back (e.g. a broadcast on a simplex interface): ignore.
    if (bytes6eq(sha, ifp.if_lladdr)) return;
    // A broadcast or multicast sender hardware address is bogus (FreeBSD logs and drops).
    if (sha[0] === 0xff || ((sha[0] as number) & 1 && !this.allow_multicast)) {
      st.badformat++;
      return;
    }
    const inet = this.V.inet;
    // Which of our addresses (on this interface) was asked about?
    let myaddr: InIfaddr | undefined;
    for (const ia of inet.addrs) if (ia.ifa_ifp === ifp && ia.ia_addr === tpa) myaddr = ia;
    const senderIsUs = inet.addrs.find((ia) => ia.ifa_ifp === ifp && ia.ia_addr === spa);
    if (senderIsUs !== undefined) {
      // Someone else claims our address (RFC 5227 §2.4): log, count, defend.
      st.dupips++;
      this.logmsg(`arp: ${ether_sprintf(sha)} is using my IP address ${ntoa(spa)} on ${ifp.if_xname}!`);
      // Defend only against requests (FreeBSD in_arpinput answers requests only, so two
      // hosts with the same address do not answer each other's defences forever), and at
      // most once per DEFEND_INTERVAL (RFC 5227 §2.4 (c), 10 s) per address.
      const now = this.V.clock.now();
      const last = this.lastDefend.get(spa);
      if (op === ARPOP_REQUEST && (last === undefined || now - last >= ARP_DEFEND_INTERVAL_NS)) {
        this.lastDefend.set(spa, now);
        this.send(ifp, ARPOP_REPLY, spa, spa, ETHER_BROADCAST);
      }
      return;
    }
    if (spa === INADDR_ANY) {
      // An RFC 5227 probe: answer if it is for one of our addresses (defence).
      if (myaddr !== undefined && op === ARPOP_REQUEST) this.send(ifp, ARPOP_REPLY, tpa, spa, sha);
      return;
    }
    // Update (or, when the request is for us, create) the sender's entry.
    let la = this.lookup(ifp, spa);
    if (la === undefined && myaddr !== undefined) la = this.create(ifp, spa);
    if (la !== undefined) {
      if (la.permanent) {
        if (!bytes6eq(la.lladdr, sha) && this.log_arp_permanent_modify) {
          this.logmsg(`arp: ${ether_sprintf(sha)} attempts to modify permanent entry for ${ntoa(spa)} on ${ifp.if_xname}`);
        }
      } else {
        if (la.state !== ARP_LLINFO_INCOMPLETE && !bytes6eq(la.lladdr, sha) && this.log_arp_movements) {
          this.logmsg(`arp: ${ntoa(spa)} moved from ${ether_sprintf(la.lladdr)} to ${ether_sprintf(sha)} on ${ifp.if_xname}`);
        }
        la.lladdr.set(sha);
        la.state = ARP_LLINFO_REACHABLE;
        la.asked = 0;
        la.down = false;
        la.expire = this.V.clock.now() + this.max_age * 1e9;
        la.timer.resetNs(this.max_age * 1e9, lleTimer, la);
        this.flushHeld(la);
      }
    }
    if (op !== ARPOP_REQUEST) return;
    if (myaddr !== undefined) {
      this.send(ifp, ARPOP_REPLY, tpa, spa, sha);
      return;
    }
    if (this.proxyall && inet.forwarding) {
      // Proxy ARP: answer for destinations we route through another interface.
      const rt = this.V.rt.inet.lookup4(tpa);
      if (rt !== null && rt.nhop.nh_ifp !== ifp && !(rt.flags & 0x4)) this.send(ifp, ARPOP_REPLY, tpa, spa, sha);
    }
  }

  /** The table for `arp -a` and the tools. */
  list(): { ifname: string; addr: string; lladdr: string; state: string; expire_s: number; permanent: boolean; held: number }[] {
    const now = this.V.clock.now();
    const out: { ifname: string; addr: string; lladdr: string; state: string; expire_s: number; permanent: boolean; held: number }[] = [];
    for (const t of this.tables.values()) {
      for (const la of t.values()) {
        out.push({
          ifname: la.ifp.if_xname,
          addr: ntoa(la.addr),
          lladdr: la.state === ARP_LLINFO_INCOMPLETE ? '(incomplete)' : ether_sprintf(la.lladdr),
          state: STATE_NAMES[la.state] as string,
          expire_s: la.permanent ? 0 : Math.max(0, Math.round((la.expire - now) / 1e9)),
          permanent: la.permanent,
          held: la.holdCount,
        });
      }
    }
    return out;
  }
}

function bytes6eq(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Register ARP with netisr and the Ethernet layer (called by inet_init). */
export function arp_init(V: Vnet): ArpVars {
  const arp = new ArpVars(V);
  V.netisr.register({ name: 'arp', proto: NETISR_ARP, handler: (m) => arp.input(m) });
  V.ether.register(ETHERTYPE_ARP, NETISR_ARP);
  V.ether.registerResolver(AF_INET, ETHERTYPE_IP, (ifp, m, dst, ro, edst) => arp.resolve(ifp, m, dst, ro, edst));
  V.inet.hooks.addrAdded.push((ia) => arp.announce(ia));
  return arp;
}
