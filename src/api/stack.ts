/*
 * Stack: the public face of one bsdnet instance.
 *
 * A Stack owns a Vnet and offers what a Node developer expects: `stack.dgram` (like
 * node:dgram), `stack.net` (like node:net, added by the TCP layer), sysctl access, and
 * ifconfig/route-style helpers to give interfaces addresses and add routes. Static helpers
 * join stacks with simulated links or epairs.
 *
 * Keeping the process alive: as in Node, a bound or connected socket keeps the event loop
 * running unless unref()'d. Sockets take a reference on their Stack; while any is held the
 * Stack keeps one ref'd host timer.
 */

import type { Clock } from '../kern/clock.js';
import { type Ifnet, IFF_DRV_RUNNING, IFF_UP } from '../net/if.js';
import { epair_create } from '../net/if_epair.js';
import { type SimLink, type SimLinkParams, simlink_create } from '../net/if_sim.js';
import { vlan_create } from '../net/if_vlan.js';
import { RTF_STATIC, type Rtentry } from '../net/route.js';
import { AF_INET, formatAddress, in6_prefix_mask, in_prefixmask, parseAddress } from '../netinet/in.js';
import { errnoName } from '../sys/errno.js';
import type { SysctlValue } from '../kern/kern_sysctl.js';
import { Vnet, type VnetOptions } from '../vnet.js';
import { type ControlServer, listenControl } from './control.js';
import { DgramApi } from './dgram.js';
import { NetApi } from './net.js';

export interface StackOptions extends VnetOptions {}

export interface AddressSpec {
  /** "10.0.0.1/24", "2001:db8::1/64" (the prefix length defaults to /32 or /128). */
  address: string;
}

function parseCidr(cidr: string): { family: number; addr: number | Uint8Array; plen: number } {
  const slash = cidr.indexOf('/');
  const text = slash >= 0 ? cidr.slice(0, slash) : cidr;
  const sa = parseAddress(text);
  if (sa === null) throw Object.assign(new TypeError(`invalid address '${cidr}'`), { code: 'ERR_INVALID_ARG_VALUE' });
  const max = sa.family === AF_INET ? 32 : 128;
  const plen = slash >= 0 ? Number(cidr.slice(slash + 1)) : max;
  if (!Number.isInteger(plen) || plen < 0 || plen > max)
    throw Object.assign(new TypeError(`invalid prefix length in '${cidr}'`), { code: 'ERR_INVALID_ARG_VALUE' });
  return { family: sa.family, addr: sa.family === AF_INET ? sa.addr : sa.addr, plen };
}

export class Stack {
  readonly vnet: Vnet;
  readonly dgram: DgramApi;
  readonly net: NetApi;
  private refs = 0;
  private keepAlive: NodeJS.Timeout | null = null;

  constructor(opts: StackOptions = {}) {
    this.vnet = new Vnet(opts);
    this.dgram = new DgramApi(this);
    this.net = new NetApi(this);
  }

  get name(): string {
    return this.vnet.name;
  }

  get clock(): Clock {
    return this.vnet.clock;
  }

  /** Look an interface up by name; throws if it does not exist. */
  interface(name: string): Ifnet {
    const ifp = this.vnet.ifnet.byname(name);
    if (ifp === undefined) throw Object.assign(new Error(`no such interface: ${name}`), { code: 'ENXIO' });
    return ifp;
  }

  private ifpOf(i: Ifnet | string): Ifnet {
    return typeof i === 'string' ? this.interface(i) : i;
  }

  /** Give an interface an address ("10.0.0.1/24" or "2001:db8::1/64"), like ifconfig. */
  addAddress(i: Ifnet | string, cidr: string): void {
    const ifp = this.ifpOf(i);
    const c = parseCidr(cidr);
    const r = c.family === AF_INET ? this.vnet.inet.addAddress(ifp, c.addr as number, c.plen) : this.vnet.inet6.addAddress(ifp, c.addr as Uint8Array, c.plen);
    if (r.error !== 0) throw Object.assign(new Error(`ifconfig ${ifp.if_xname} ${cidr}: ${errnoName(r.error)}`), { code: errnoName(r.error) });
  }

  /** Remove an address from an interface. */
  deleteAddress(i: Ifnet | string, addr: string): void {
    const ifp = this.ifpOf(i);
    const c = parseCidr(addr);
    const e = c.family === AF_INET ? this.vnet.inet.deleteAddress(ifp, c.addr as number) : this.vnet.inet6.deleteAddress(ifp, c.addr as Uint8Array);
    if (e !== 0) throw Object.assign(new Error(`ifconfig ${ifp.if_xname} -alias ${addr}: ${errnoName(e)}`), { code: errnoName(e) });
  }

  /**
   * Add a static route: `dest` is "default", "0.0.0.0/0", "::/0", "10.1.0.0/16"...;
   * `gateway` an address, or null for a route straight out of `opts.interface`.
   */
  addRoute(dest: string, gateway: string | null, opts: { interface?: Ifnet | string; mtu?: number; reject?: boolean; blackhole?: boolean } = {}): Rtentry {
    const V = this.vnet;
    let d = dest;
    const v6 = gateway?.includes(':') || dest.includes(':');
    if (d === 'default') d = v6 ? '::/0' : '0.0.0.0/0';
    const c = parseCidr(d);
    let ifp: Ifnet | undefined = opts.interface !== undefined ? this.ifpOf(opts.interface) : undefined;
    let gw: number | Uint8Array | null = null;
    if (gateway !== null) {
      const g = parseAddress(gateway);
      if (g === null || g.family !== c.family) throw Object.assign(new TypeError(`invalid gateway '${gateway}'`), { code: 'ERR_INVALID_ARG_VALUE' });
      gw = g.family === AF_INET ? g.addr : g.addr;
      if (ifp === undefined) {
        const rt = g.family === AF_INET ? V.rt.inet.lookup4(g.addr) : V.rt.inet6.lookup(g.addr);
        if (g.family !== AF_INET && g.scope_id) ifp = V.ifnet.byindex(g.scope_id);
        ifp ??= rt?.nhop.nh_ifp;
      }
    }
    if (ifp === undefined) throw Object.assign(new Error(`route add ${dest}: gateway unreachable`), { code: 'ENETUNREACH' });
    const flags = RTF_STATIC | (opts.reject ? 0x8 : 0) | (opts.blackhole ? 0x1000 : 0);
    const spec = { ifp, gateway: gw, flags, mtu: opts.mtu ?? 0 };
    const rt =
      c.family === AF_INET
        ? V.rt.add4((c.addr as number) & in_prefixmask(c.plen), c.plen, spec)
        : V.rt.add6(in6_prefix_mask(Uint8Array.from(c.addr as Uint8Array), c.plen), c.plen, spec);
    if (rt === null) throw Object.assign(new Error(`route add ${dest}: route already in table`), { code: 'EEXIST' });
    return rt;
  }

  deleteRoute(dest: string): void {
    const V = this.vnet;
    let d = dest;
    if (d === 'default') d = '0.0.0.0/0';
    const c = parseCidr(d);
    const rt =
      c.family === AF_INET
        ? V.rt.del4((c.addr as number) & in_prefixmask(c.plen), c.plen)
        : V.rt.del6(in6_prefix_mask(Uint8Array.from(c.addr as Uint8Array), c.plen), c.plen);
    if (rt === null) throw Object.assign(new Error(`route delete ${dest}: not in table`), { code: 'ESRCH' });
  }

  /** Bring an interface up or down. */
  setUp(i: Ifnet | string, up: boolean): void {
    const ifp = this.ifpOf(i);
    if (up) ifp.if_flags |= IFF_UP | IFF_DRV_RUNNING;
    else ifp.if_flags &= ~IFF_UP;
  }

  /** Create a VLAN interface on `parent`. */
  addVlan(parent: Ifnet | string, vid: number): Ifnet {
    return vlan_create(this.ifpOf(parent), vid);
  }

  /** Read a sysctl. */
  sysctlGet(name: string): SysctlValue {
    return this.vnet.sysctl.get(name);
  }

  /** Write a sysctl (throws SysctlError with code ENOENT/EPERM/EINVAL). */
  sysctlSet(name: string, value: SysctlValue | string): SysctlValue {
    return this.vnet.sysctl.set(name, value);
  }

  /**
   * Serve this stack's sysctl tree and packet taps on a Unix-domain socket (the control
   * channel that `bsdnet sysctl|netstat|tcpdump --attach PATH` use; see control.ts).
   */
  listenControl(path: string): Promise<ControlServer> {
    return listenControl(this.vnet, path);
  }

  /** Addresses of all interfaces, as text (for diagnostics). */
  addresses(): { ifname: string; address: string; prefixlen: number }[] {
    const out: { ifname: string; address: string; prefixlen: number }[] = [];
    for (const ifp of this.vnet.ifnet.all()) {
      for (const ifa of ifp.if_addrhead) {
        out.push({
          ifname: ifp.if_xname,
          address: ifa.family === AF_INET ? [...ifa.addr].join('.') : formatAddress({ family: 28, port: 0, addr: ifa.addr, flowinfo: 0, scope_id: 0 }),
          prefixlen: ifa.prefixlen,
        });
      }
    }
    return out;
  }

  /** @internal a socket wants the process kept alive. */
  ref(): void {
    if (this.refs++ === 0 && this.keepAlive === null) this.keepAlive = setInterval(() => undefined, 1 << 30);
  }

  /** @internal */
  unref(): void {
    if (this.refs > 0 && --this.refs === 0 && this.keepAlive !== null) {
      clearInterval(this.keepAlive);
      this.keepAlive = null;
    }
  }

  destroy(): void {
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.keepAlive = null;
    this.refs = 0;
    this.vnet.destroy();
  }

  /** Join two stacks with a simulated Ethernet link (delay, loss, rate...). */
  static link(a: Stack, b: Stack, params: Partial<SimLinkParams> = {}, opts: { seed?: number } = {}): SimLink {
    return simlink_create(a.vnet, b.vnet, params, opts);
  }

  /** Join two stacks with an epair (an in-process cable that passes mbufs). */
  static epair(a: Stack, b: Stack, opts: { mtu?: number } = {}): [Ifnet, Ifnet] {
    return epair_create(a.vnet, b.vnet, opts);
  }
}
