/*
 * The routing tables as sysctl nodes (the role of BSD net/rtsock.c's sysctl_rtsock, which
 * `netstat -r` reads through net.route.0.<af>.dump).
 *
 * bsdnet names them plainly:
 *   net.route.table   struct rt_entry[]: every route of both families, IPv4 first, each
 *                     { family: 2 | 28, dst: "10.0.0.0" | "2001:db8::", plen,
 *                       gateway: "10.0.0.1" | "fe80::1" | null (directly connected),
 *                       flags: RTF_* bits, ifname, ifindex, mtu (the route's, or the
 *                       interface's when the route has none), use (packets routed),
 *                       expire: seconds until the route expires, 0 = never }
 *   net.route.stats   struct rtstat { rts_unreach, rts_added, rts_deleted }
 *   net.route.count   number of routes (both families)
 */

import type { Vnet } from '../vnet.js';
import { inet_ntoa4, inet_ntop6 } from '../wire/addr.js';
import type { Rtentry } from './route.js';

export interface RtRecord {
  [k: string]: string | number | null;
  family: number;
  dst: string;
  plen: number;
  gateway: string | null;
  flags: number;
  ifname: string;
  ifindex: number;
  mtu: number;
  use: number;
  expire: number;
}

function addrText(family: number, a: Uint8Array): string {
  if (family === 2) return inet_ntoa4((((a[0] as number) << 24) | ((a[1] as number) << 16) | ((a[2] as number) << 8) | (a[3] as number)) >>> 0);
  return inet_ntop6(a);
}

function compare(a: Rtentry, b: Rtentry): number {
  for (let i = 0; i < a.dst.length; i++) {
    const d = (a.dst[i] as number) - (b.dst[i] as number);
    if (d !== 0) return d;
  }
  return a.plen - b.plen;
}

/** One route as a record; `nowNs` is the clock reading used for `expire`. */
export function rtRecord(rt: Rtentry, nowNs: number): RtRecord {
  const nh = rt.nhop;
  let gateway: string | null = null;
  if (rt.family === 2 && nh.nh_flags & 0x200) gateway = inet_ntoa4(nh.gw4);
  else if (rt.family !== 2 && nh.gw6 !== null) gateway = inet_ntop6(nh.gw6);
  return {
    family: rt.family,
    dst: addrText(rt.family, rt.dst),
    plen: rt.plen,
    gateway,
    flags: rt.flags,
    ifname: nh.nh_ifp.if_xname,
    ifindex: nh.nh_ifp.if_index,
    mtu: nh.nh_mtu > 0 ? nh.nh_mtu : nh.nh_ifp.if_mtu,
    use: rt.use,
    expire: rt.expire > 0 ? Math.max(0, Math.ceil((rt.expire - nowNs) / 1e9)) : 0,
  };
}

/** Declare net.route.* on `V` (called once at Vnet construction). */
export function route_sysctl_init(V: Vnet): void {
  const s = V.sysctl;
  s.node('net.route', 'routing tables');
  s.struct(
    'net.route.table',
    () => {
      const now = V.clock.now();
      const v4 = V.rt.inet.all().sort(compare);
      const v6 = V.rt.inet6.all().sort(compare);
      return [...v4, ...v6].map((rt) => rtRecord(rt, now));
    },
    { descr: 'Routing tables of both families (netstat -r)', type: 'rt_entry' },
  );
  s.struct('net.route.stats', () => ({ ...V.rt.stats }), { descr: 'Routing statistics (struct rtstat, net/route.h)', type: 'rtstat' });
  s.int('net.route.count', { get: () => V.rt.inet.size + V.rt.inet6.size }, { descr: 'Number of routes in the tables', readonly: true });
}
