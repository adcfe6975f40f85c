/*
 * Interfaces as sysctl nodes (BSD net/if_mib.c: net.link.generic.system.ifcount and
 * net.link.generic.ifdata.<index>.general, which `netstat -i` and `ifconfig` read).
 *
 * bsdnet returns the whole list in one node:
 *   net.link.ifdata   struct ifdata[]: one record per attached interface, in index order:
 *     { index, name, type (IFT_*), mtu, flags (IFF_*), capabilities, capenable,
 *       link_state (0 unknown, 1 down, 2 up), lladdr ("02:00:00:00:00:01" or ""),
 *       description, hdrlen,
 *       addrs: [{ family: 2 | 28, addr, prefixlen, dstaddr (broadcast or peer) | null,
 *                 flags }],
 *       ipackets, ierrors, iqdrops, ibytes, imcasts,
 *       opackets, oerrors, oqdrops, obytes, omcasts, collisions, noproto }
 *   net.link.generic.system.ifcount   highest interface index in use
 */

import type { Vnet } from '../vnet.js';
import { inet_ntoa4, inet_ntop6 } from '../wire/addr.js';
import { ether_sprintf, type Ifaddr, type Ifnet } from './if.js';

function addrText(a: Uint8Array): string {
  if (a.length === 4) return inet_ntoa4((((a[0] as number) << 24) | ((a[1] as number) << 16) | ((a[2] as number) << 8) | (a[3] as number)) >>> 0);
  return inet_ntop6(a);
}

function ifaRecord(ifa: Ifaddr): { [k: string]: string | number | null } {
  return {
    family: ifa.family,
    addr: addrText(ifa.addr),
    prefixlen: ifa.prefixlen,
    dstaddr: ifa.dstaddr !== null && ifa.dstaddr.length > 0 ? addrText(ifa.dstaddr) : null,
    flags: ifa.flags,
  };
}

/** One interface as a record (see the file comment). */
export function ifdataRecord(ifp: Ifnet): { [k: string]: string | number | { [k: string]: string | number | null }[] } {
  const d = ifp.if_data;
  return {
    index: ifp.if_index,
    name: ifp.if_xname,
    type: ifp.if_type,
    mtu: ifp.if_mtu,
    flags: ifp.if_flags,
    capabilities: ifp.if_capabilities,
    capenable: ifp.if_capenable,
    link_state: ifp.if_link_state,
    lladdr: ifp.if_lladdr.length > 0 ? ether_sprintf(ifp.if_lladdr) : '',
    description: ifp.if_description,
    hdrlen: ifp.if_hdrlen,
    addrs: ifp.if_addrhead.map(ifaRecord),
    ipackets: d.ipackets,
    ierrors: d.ierrors,
    iqdrops: d.iqdrops,
    ibytes: d.ibytes,
    imcasts: d.imcasts,
    opackets: d.opackets,
    oerrors: d.oerrors,
    oqdrops: d.oqdrops,
    obytes: d.obytes,
    omcasts: d.omcasts,
    collisions: d.collisions,
    noproto: d.noproto,
  };
}

/** Declare net.link.ifdata and net.link.generic.system.ifcount on `V`. */
export function if_mib_init(V: Vnet): void {
  const s = V.sysctl;
  s.node('net.link', 'Link layers');
  s.struct('net.link.ifdata', () => V.ifnet.all().map(ifdataRecord), { descr: 'Interfaces: flags, MTU, addresses, counters (netstat -i)', type: 'ifdata' });
  s.node('net.link.generic', 'Generic link-management');
  s.node('net.link.generic.system', 'Variables global to all interfaces');
  s.int(
    'net.link.generic.system.ifcount',
    { get: () => V.ifnet.all().reduce((m, i) => Math.max(m, i.if_index), 0) },
    { descr: 'Number of configured interfaces', readonly: true },
  );
}
