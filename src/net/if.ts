/*
 * Network interfaces (BSD sys/net/if.c, if_var.h).
 *
 * An Ifnet is one interface of one Vnet: name, index, type, MTU, flags, capabilities, link
 * address, protocol addresses, counters, packet taps, and three entry points:
 *   if_output(ifp, m, dst, ro)  protocol → link layer (ether_output, looutput): adds the
 *                               link header, resolves the next hop;
 *   if_transmit(ifp, m)         link layer → driver: puts the frame on the wire;
 *   if_input(ifp, m)            driver → link layer (ether_input): demultiplexes upwards.
 * All return an errno (0 = accepted). The driver owns the mbuf once if_transmit is called,
 * whatever it returns.
 *
 * Drivers count packets and bytes (if_inc_counter); the link layer counts drops it makes.
 * Per-address-family state (ARP/ND tables, IPv4/IPv6 interface data) hangs off if_afdata,
 * filled in by netinet/netinet6 when they attach.
 */

import type { Mbuf } from '../mbuf/mbuf.js';
import type { Vnet } from '../vnet.js';
import type { BpfTap } from './bpf.js';

// if_flags (net/if.h)
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_DEBUG = 0x4;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_DRV_RUNNING = 0x40;
export const IFF_RUNNING = IFF_DRV_RUNNING;
export const IFF_NOARP = 0x80;
export const IFF_PROMISC = 0x100;
export const IFF_ALLMULTI = 0x200;
export const IFF_SIMPLEX = 0x800;
export const IFF_MULTICAST = 0x8000;

// if_type (net/if_types.h)
export const IFT_OTHER = 0x1;
export const IFT_ETHER = 0x6;
export const IFT_LOOP = 0x18;
export const IFT_PROPVIRTUAL = 0x35;
export const IFT_L2VLAN = 0x87;
export const IFT_TUNNEL = 0x83;

// if_capabilities (net/if.h)
export const IFCAP_RXCSUM = 0x00001;
export const IFCAP_TXCSUM = 0x00002;
export const IFCAP_VLAN_MTU = 0x00008;
export const IFCAP_VLAN_HWTAGGING = 0x00010;
export const IFCAP_TSO4 = 0x00100;
export const IFCAP_TSO6 = 0x00200;
export const IFCAP_LRO = 0x00400;
export const IFCAP_RXCSUM_IPV6 = 0x200000;
export const IFCAP_TXCSUM_IPV6 = 0x400000;
export const IFCAP_HWCSUM = IFCAP_RXCSUM | IFCAP_TXCSUM;

export const LINK_STATE_UNKNOWN = 0;
export const LINK_STATE_DOWN = 1;
export const LINK_STATE_UP = 2;

export const ETHER_ADDR_LEN = 6;
export const ETHERMTU = 1500;

/** Counters (if_data, ifi_*). */
export class IfCounters {
  ipackets = 0;
  ierrors = 0;
  opackets = 0;
  oerrors = 0;
  collisions = 0;
  ibytes = 0;
  obytes = 0;
  imcasts = 0;
  omcasts = 0;
  /** Dropped on input (queue full, no buffer). */
  iqdrops = 0;
  /** Dropped on output (queue full, no buffer). */
  oqdrops = 0;
  /** Destined for an unsupported protocol. */
  noproto = 0;
}

/** A protocol address on an interface (struct ifaddr), filled in by netinet/netinet6. */
export interface Ifaddr {
  ifa_ifp: Ifnet;
  /** AF_INET (2) or AF_INET6 (28). */
  family: number;
  /** The address (4 or 16 bytes). */
  addr: Uint8Array;
  prefixlen: number;
  /** Broadcast (v4) or destination (point-to-point) address, if any. */
  dstaddr: Uint8Array | null;
  /** IN6_IFF_* / IFA_* flags. */
  flags: number;
}

export type IfOutputFn = (ifp: Ifnet, m: Mbuf, dst: unknown, ro: unknown) => number;
export type IfTransmitFn = (ifp: Ifnet, m: Mbuf) => number;
export type IfInputFn = (ifp: Ifnet, m: Mbuf) => void;

function noOutput(_ifp: Ifnet, m: Mbuf): number {
  void m;
  return 6; // ENXIO: not attached to a link layer
}

export class Ifnet {
  readonly if_vnet: Vnet;
  if_index = 0;
  readonly if_xname: string;
  readonly if_dname: string;
  readonly if_dunit: number;
  if_type = IFT_OTHER;
  if_mtu = ETHERMTU;
  if_flags = 0;
  if_capabilities = 0;
  if_capenable = 0;
  /** Checksum/TSO work the driver does for the stack (CSUM_* bits). */
  if_hwassist = 0;
  if_link_state = LINK_STATE_UNKNOWN;
  /** Link header length (14 for Ethernet). */
  if_hdrlen = 0;
  /** Link-level address (6 bytes for Ethernet; empty for point-to-point). */
  if_lladdr: Uint8Array = new Uint8Array(0);
  if_broadcastaddr: Uint8Array = new Uint8Array(0);
  /** Link-level multicast addresses joined (for receive filtering). */
  if_multiaddrs: Uint8Array[] = [];
  readonly if_addrhead: Ifaddr[] = [];
  readonly if_data = new IfCounters();
  if_bpf: BpfTap[] = [];
  if_output: IfOutputFn = noOutput;
  if_transmit: IfTransmitFn = noOutput;
  if_input: IfInputFn = (_ifp, m) => {
    void m;
  };
  /** Per-address-family data: set by the protocol families when they attach. */
  readonly if_afdata: { inet?: unknown; inet6?: unknown } = {};
  /** VLAN children by VID (on a trunk/parent interface). */
  if_vlantrunk: Map<number, Ifnet> | null = null;
  /** For a VLAN interface: the parent and the tag. */
  if_vlanparent: Ifnet | null = null;
  if_vlantag = 0;
  /** Driver hook run at detach. */
  if_detachfn: ((ifp: Ifnet) => void) | null = null;
  /** A short description of the driver and its state, for tools. */
  if_description = '';
  /** Driver-private state. */
  if_softc: unknown = null;
  /** Set once detached: a late packet or timer must find the interface gone. */
  if_dead = false;

  constructor(vnet: Vnet, dname: string, dunit: number, xname?: string) {
    this.if_vnet = vnet;
    this.if_dname = dname;
    this.if_dunit = dunit;
    this.if_xname = xname ?? `${dname}${dunit}`;
  }

  get up(): boolean {
    return (this.if_flags & IFF_UP) !== 0 && (this.if_flags & IFF_DRV_RUNNING) !== 0;
  }
}

/** Add to interface counters (if_inc_counter). */
export function if_inc_ipackets(ifp: Ifnet, bytes: number): void {
  ifp.if_data.ipackets++;
  ifp.if_data.ibytes += bytes;
}

export function if_inc_opackets(ifp: Ifnet, bytes: number): void {
  ifp.if_data.opackets++;
  ifp.if_data.obytes += bytes;
}

/** Format a link-level address as xx:xx:xx:xx:xx:xx. */
export function ether_sprintf(a: Uint8Array): string {
  let s = '';
  for (let i = 0; i < a.length; i++) s += (i ? ':' : '') + (a[i] as number).toString(16).padStart(2, '0');
  return s;
}

/** Parse xx:xx:xx:xx:xx:xx; null if malformed. */
export function ether_aton(s: string): Uint8Array | null {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6) return null;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    const p = parts[i] as string;
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) return null;
    out[i] = Number.parseInt(p, 16);
  }
  return out;
}

/** The interfaces of one Vnet (ifnet list, if_index allocation, name lookup). */
export class IfnetList {
  private readonly byIndex: (Ifnet | null)[] = [null];
  private readonly byName = new Map<string, Ifnet>();
  /** Hooks run when an interface attaches/detaches (protocol families, routing). */
  readonly attachHooks: ((ifp: Ifnet) => void)[] = [];
  readonly detachHooks: ((ifp: Ifnet) => void)[] = [];

  /** Smallest unit number `u` (from `from`) with no interface named dname+u (or +u+'a'/'b'). */
  freeUnit(dname: string, from = 0): number {
    const used = new Set<number>();
    const re = new RegExp(`^${dname}(\\d+)[ab]?$`);
    for (const n of this.byName.keys()) {
      const m = re.exec(n);
      if (m) used.add(Number(m[1]));
    }
    let u = from;
    while (used.has(u)) u++;
    return u;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Attach an interface (if_attach): assigns if_index, runs protocol attach hooks. */
  attach(ifp: Ifnet): void {
    if (this.byName.has(ifp.if_xname)) throw new Error(`if_attach: interface ${ifp.if_xname} exists`);
    ifp.if_index = this.byIndex.length;
    this.byIndex.push(ifp);
    this.byName.set(ifp.if_xname, ifp);
    for (const h of this.attachHooks) h(ifp);
  }

  /** Detach (if_detach): protocol hooks first, then the driver's. */
  detach(ifp: Ifnet): void {
    if (this.byName.get(ifp.if_xname) !== ifp) return;
    for (const h of this.detachHooks) h(ifp);
    ifp.if_flags &= ~(IFF_UP | IFF_DRV_RUNNING);
    ifp.if_dead = true;
    this.byName.delete(ifp.if_xname);
    this.byIndex[ifp.if_index] = null;
    ifp.if_detachfn?.(ifp);
    for (const t of ifp.if_bpf) t.detach();
    ifp.if_bpf = [];
  }

  byname(name: string): Ifnet | undefined {
    return this.byName.get(name);
  }

  byindex(idx: number): Ifnet | undefined {
    return this.byIndex[idx] ?? undefined;
  }

  /** Attached interfaces in index order. */
  all(): Ifnet[] {
    return this.byIndex.filter((i): i is Ifnet => i !== null);
  }
}
