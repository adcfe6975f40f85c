/*
 * IPv4 per-Vnet state and interface addresses (BSD netinet/in_var.h, in.c, ip_var.h).
 *
 * InetVars holds what FreeBSD keeps in VNET globals for IPv4: the statistics block
 * (ipstat), the tunables (net.inet.ip.*), the list and hash of interface addresses, and
 * the protocol input table (ip_protox). Adding an address (in_aifaddr) installs the
 * connected route for its subnet and a host route for the address itself through the
 * loopback interface, and announces it (gratuitous ARP) through the hook the link layer
 * registers.
 */

import type { Ifaddr, Ifnet } from '../net/if.js';
import { IFF_BROADCAST, IFF_LOOPBACK, IFF_POINTOPOINT } from '../net/if.js';
import { RTF_LOCAL, RTF_PINNED, RTF_STATIC, type Rtentry } from '../net/route.js';
import type { Protosw } from '../sys/protosw.js';
import { EADDRNOTAVAIL, EEXIST, EINVAL } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { AF_INET, IN_MULTICAST, INADDR_ANY, INADDR_BROADCAST, in_prefixmask } from './in.js';
import { field } from '../kern/kern_sysctl.js';

/** An IPv4 address on an interface (struct in_ifaddr). */
export class InIfaddr implements Ifaddr {
  readonly ifa_ifp: Ifnet;
  readonly family = AF_INET;
  readonly addr: Uint8Array;
  readonly prefixlen: number;
  dstaddr: Uint8Array | null;
  flags = 0;
  /** The address, netmask, subnet and broadcast address as numbers. */
  readonly ia_addr: number;
  readonly ia_mask: number;
  readonly ia_subnet: number;
  readonly ia_broadaddr: number;

  constructor(ifp: Ifnet, addr: number, plen: number, broadaddr?: number) {
    this.ifa_ifp = ifp;
    this.ia_addr = addr >>> 0;
    this.prefixlen = plen;
    this.ia_mask = in_prefixmask(plen);
    this.ia_subnet = (addr & this.ia_mask) >>> 0;
    this.ia_broadaddr = broadaddr !== undefined ? broadaddr >>> 0 : plen >= 31 ? 0 : (this.ia_subnet | ~this.ia_mask) >>> 0;
    this.addr = Uint8Array.of(addr >>> 24, (addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff);
    const b = this.ia_broadaddr;
    this.dstaddr = ifp.if_flags & IFF_BROADCAST ? Uint8Array.of(b >>> 24, (b >>> 16) & 0xff, (b >>> 8) & 0xff, b & 0xff) : null;
  }
}

/** IPv4 statistics (struct ipstat, netinet/ip_var.h), FreeBSD names. */
export class IpStat {
  ips_total = 0; // total packets received
  ips_badsum = 0; // checksum bad
  ips_tooshort = 0; // packet too short
  ips_toosmall = 0; // not enough data
  ips_badhlen = 0; // ip header length < data size
  ips_badlen = 0; // ip length < ip header length
  ips_fragments = 0; // fragments received
  ips_fragdropped = 0; // frags dropped (dups, out of space)
  ips_fragtimeout = 0; // fragments timed out
  ips_forward = 0; // packets forwarded
  ips_fastforward = 0;
  ips_cantforward = 0; // packets rcvd for unreachable dest
  ips_redirectsent = 0; // packets forwarded on same net
  ips_noproto = 0; // unknown or unsupported protocol
  ips_delivered = 0; // datagrams delivered to upper level
  ips_localout = 0; // total ip packets generated here
  ips_odropped = 0; // lost packets due to nobufs, etc.
  ips_reassembled = 0; // total packets reassembled ok
  ips_fragmented = 0; // datagrams successfully fragmented
  ips_ofragments = 0; // output fragments created
  ips_cantfrag = 0; // don't fragment flag was set, etc.
  ips_badoptions = 0; // error in option processing
  ips_noroute = 0; // packets discarded due to no route
  ips_badvers = 0; // ip version != 4
  ips_rawout = 0; // total raw ip packets generated
  ips_toolong = 0; // ip length > max ip packet size
  ips_notmember = 0; // multicasts for unregistered grps
  ips_nogif = 0;
  ips_badaddr = 0; // invalid address on header
}

/** The hooks the link layer and protocols register with IPv4. */
export interface InetHooks {
  /** Called after an address is added (gratuitous ARP). */
  addrAdded: ((ia: InIfaddr) => void)[];
  addrRemoved: ((ia: InIfaddr) => void)[];
}

export class InetVars {
  readonly V: Vnet;
  readonly stat = new IpStat();
  /** net.inet.ip.forwarding */
  forwarding = false;
  /** net.inet.ip.ttl */
  defttl = 64;
  /** net.inet.ip.redirect: send ICMP redirects when forwarding back out the same interface. */
  sendredirects = true;
  /** net.inet.ip.sourceroute / accept_sourceroute */
  sourceroute = false;
  accept_sourceroute = false;
  /** net.inet.ip.check_interface: drop packets for an address of another interface. */
  check_interface = false;
  /** net.inet.ip.random_id: randomised IP IDs. */
  random_id = false;
  /** net.inet.ip.rfc6864: atomic datagrams (DF, unfragmented) carry IP ID 0. */
  rfc6864 = true;
  /** net.inet.ip.portrange.* (ephemeral port range, FreeBSD defaults). */
  portrange_first = 10000;
  portrange_last = 65535;
  portrange_lowfirst = 1023;
  portrange_lowlast = 600;
  portrange_randomized = true;
  /** Next IP ID (sequential mode). */
  ip_id = 0;
  /** Interface addresses, in the order added. */
  readonly addrs: InIfaddr[] = [];
  /** Bumped when an address is added or removed (validates cached isBroadcast answers). */
  addrgen = 0;
  /** Address → interface address, for "is this mine" in ip_input. */
  private readonly byAddr = new Map<number, InIfaddr>();
  /** Protocol input table (ip_protox): protocol number → protosw. */
  readonly protox: (Protosw | undefined)[] = new Array(256);
  readonly hooks: InetHooks = { addrAdded: [], addrRemoved: [] };
  /** Multicast groups joined per interface index, with a reference count per group. */
  readonly mcast = new Map<number, Map<number, number>>();

  constructor(V: Vnet) {
    this.V = V;
    this.ip_id = V.rng.u32() & 0xffff;
    const s = V.sysctl;
    s.node('net.inet', 'Internet Family');
    s.node('net.inet.ip', 'IP');
    const bool = (
      name: string,
      key: 'forwarding' | 'sendredirects' | 'sourceroute' | 'accept_sourceroute' | 'check_interface' | 'random_id' | 'rfc6864' | 'portrange_randomized',
      descr: string,
    ) =>
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
    bool('net.inet.ip.forwarding', 'forwarding', 'Enable IP forwarding between interfaces');
    bool('net.inet.ip.redirect', 'sendredirects', 'Enable sending IP redirects');
    bool('net.inet.ip.sourceroute', 'sourceroute', 'Enable forwarding source routed IP packets');
    bool('net.inet.ip.accept_sourceroute', 'accept_sourceroute', 'Enable accepting source routed IP packets');
    bool('net.inet.ip.check_interface', 'check_interface', 'Verify packet arrives on correct interface');
    bool('net.inet.ip.random_id', 'random_id', 'Assign random ip_id values');
    bool('net.inet.ip.rfc6864', 'rfc6864', 'Use constant IP ID for atomic datagrams');
    s.int('net.inet.ip.ttl', field(this, 'defttl'), { descr: 'Maximum TTL on IP packets', min: 1, max: 255 });
    s.node('net.inet.ip.portrange', 'IP Ports');
    const port = (name: string, key: 'portrange_first' | 'portrange_last' | 'portrange_lowfirst' | 'portrange_lowlast', descr: string) =>
      s.int(
        name,
        {
          get: () => this[key],
          set: (v) => {
            this[key] = v;
          },
        },
        { descr, min: 1, max: 65535 },
      );
    port('net.inet.ip.portrange.lowfirst', 'portrange_lowfirst', 'First port of the low (reserved) range');
    port('net.inet.ip.portrange.lowlast', 'portrange_lowlast', 'Last port of the low (reserved) range');
    port('net.inet.ip.portrange.first', 'portrange_first', 'First ephemeral port');
    port('net.inet.ip.portrange.last', 'portrange_last', 'Last ephemeral port');
    bool('net.inet.ip.portrange.randomized', 'portrange_randomized', 'Enable random port allocation');
    s.struct('net.inet.ip.stats', () => ({ ...this.stat }), { descr: 'IP statistics (struct ipstat, netinet/ip_var.h)', type: 'ipstat' });
    s.struct(
      'net.inet.ip.addrs',
      () => this.addrs.map((ia) => ({ ifname: ia.ifa_ifp.if_xname, addr: ia.ia_addr, prefixlen: ia.prefixlen, broadaddr: ia.ia_broadaddr })),
      { descr: 'IPv4 interface addresses', type: 'in_ifaddr' },
    );
  }

  /** The interface address with exactly this address, if any (ifa_ifwithaddr). */
  ifaWithAddr(a: number): InIfaddr | undefined {
    return this.byAddr.get(a >>> 0);
  }

  /** True if `a` is one of our unicast addresses (in_localip). */
  isLocal(a: number): boolean {
    return this.byAddr.has(a >>> 0);
  }

  /** The first address on `ifp`, if any. */
  ifaOnIfp(ifp: Ifnet): InIfaddr | undefined {
    for (const ia of this.addrs) if (ia.ifa_ifp === ifp) return ia;
    return undefined;
  }

  /** An address of ours on the subnet containing `a` (in_localaddr / ifa_ifwithnet). */
  ifaWithNet(a: number): InIfaddr | undefined {
    let best: InIfaddr | undefined;
    for (const ia of this.addrs) {
      if (ia.ifa_ifp.if_flags & IFF_LOOPBACK) continue;
      if ((a & ia.ia_mask) >>> 0 === ia.ia_subnet && (best === undefined || ia.prefixlen > best.prefixlen)) best = ia;
    }
    return best;
  }

  /**
   * Is `a` a broadcast address for interface `ifp` (in_broadcast)? The limited broadcast,
   * INADDR_ANY, and the subnet-directed broadcast of any address on the interface.
   */
  isBroadcast(a: number, ifp: Ifnet | null): boolean {
    a >>>= 0;
    if (a === INADDR_BROADCAST || a === INADDR_ANY) return true;
    if (ifp === null || !(ifp.if_flags & IFF_BROADCAST)) return false;
    for (const ia of this.addrs) {
      if (ia.ifa_ifp !== ifp) continue;
      if (ia.ia_broadaddr !== 0 && a === ia.ia_broadaddr) return true;
      // The all-zeros host of the subnet (old-style broadcast), if the prefix is not /31-/32.
      if (ia.prefixlen < 31 && a === ia.ia_subnet) return true;
    }
    return false;
  }

  /** Join/leave an IPv4 multicast group on an interface (membership used by ip_input). */
  joinGroup(ifp: Ifnet, group: number): void {
    let s = this.mcast.get(ifp.if_index);
    if (!s) this.mcast.set(ifp.if_index, (s = new Map()));
    s.set(group >>> 0, (s.get(group >>> 0) ?? 0) + 1);
  }

  leaveGroup(ifp: Ifnet, group: number): void {
    const s = this.mcast.get(ifp.if_index);
    const n = s?.get(group >>> 0) ?? 0;
    if (n <= 1) s?.delete(group >>> 0);
    else s?.set(group >>> 0, n - 1);
  }

  isMember(ifp: Ifnet, group: number): boolean {
    return group >>> 0 === 0xe0000001 || (this.mcast.get(ifp.if_index)?.has(group >>> 0) ?? false);
  }

  /** Next IP ID (ip_newid). */
  newId(): number {
    if (this.random_id) return this.V.rng.u32() & 0xffff;
    this.ip_id = (this.ip_id + 1) & 0xffff;
    return this.ip_id;
  }

  /**
   * Add an address to an interface (SIOCAIFADDR): connected route for the subnet, host
   * route through the loopback interface, then the address-added hooks (gratuitous ARP).
   */
  addAddress(ifp: Ifnet, addr: number, plen: number, opts: { broadaddr?: number } = {}): { error: number; ia: InIfaddr | null } {
    addr >>>= 0;
    if (!Number.isInteger(plen) || plen < 0 || plen > 32) return { error: EINVAL, ia: null };
    if (IN_MULTICAST(addr) || addr === INADDR_ANY || addr === INADDR_BROADCAST) return { error: EINVAL, ia: null };
    if (this.byAddr.has(addr)) return { error: EEXIST, ia: null };
    const ia = new InIfaddr(ifp, addr, plen, opts.broadaddr);
    this.addrs.push(ia);
    this.addrgen++;
    this.byAddr.set(addr, ia);
    ifp.if_addrhead.push(ia);
    const rt = this.V.rt;
    // Connected route (not for a /32, and not on loopback where the host route suffices).
    if (plen < 32 && !(ifp.if_flags & IFF_POINTOPOINT)) {
      if (!rt.get4(ia.ia_subnet, plen)) rt.add4(ia.ia_subnet, plen, { ifp, ifa: ia, flags: RTF_PINNED });
    }
    // Host route for the local address, delivered through loopback.
    const lo = this.V.loif;
    if (!rt.get4(addr, 32)) {
      if (ifp.if_flags & IFF_LOOPBACK || lo === null) rt.add4(addr, 32, { ifp, ifa: ia, flags: RTF_LOCAL | RTF_PINNED });
      else rt.add4(addr, 32, { ifp: lo, ifa: ia, flags: RTF_LOCAL | RTF_STATIC | RTF_PINNED });
    }
    for (const h of this.hooks.addrAdded) h(ia);
    return { error: 0, ia };
  }

  /** Remove an address (SIOCDIFADDR) and the routes it installed. */
  deleteAddress(ifp: Ifnet, addr: number): number {
    addr >>>= 0;
    const ia = this.byAddr.get(addr);
    if (ia === undefined || ia.ifa_ifp !== ifp) return EADDRNOTAVAIL;
    for (const h of this.hooks.addrRemoved) h(ia);
    this.byAddr.delete(addr);
    this.addrs.splice(this.addrs.indexOf(ia), 1);
    this.addrgen++;
    const hi = ifp.if_addrhead.indexOf(ia);
    if (hi >= 0) ifp.if_addrhead.splice(hi, 1);
    const rt = this.V.rt;
    const host: Rtentry | undefined = rt.get4(addr, 32);
    if (host && host.nhop.nh_ifa === ia) rt.del4(addr, 32);
    const net = rt.get4(ia.ia_subnet, ia.prefixlen);
    if (net && net.nhop.nh_ifa === ia) {
      rt.del4(ia.ia_subnet, ia.prefixlen);
      // Another address on the same subnet takes the connected route over.
      const other = this.addrs.find((x) => x.ia_subnet === ia.ia_subnet && x.prefixlen === ia.prefixlen);
      if (other) rt.add4(other.ia_subnet, other.prefixlen, { ifp: other.ifa_ifp, ifa: other, flags: RTF_PINNED });
    }
    return 0;
  }

  /** Remove every address of an interface (detach). */
  purgeIfp(ifp: Ifnet): void {
    for (const ia of this.addrs.filter((x) => x.ifa_ifp === ifp)) this.deleteAddress(ifp, ia.ia_addr);
    this.mcast.delete(ifp.if_index);
  }
}
