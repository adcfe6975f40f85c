/*
 * IP-level socket options for internet PCBs (BSD ip_ctloutput in netinet/ip_output.c and
 * ip6_ctloutput in netinet6/ip6_output.c), shared by UDP, TCP and raw sockets.
 *
 * IPPROTO_IP: IP_TOS, IP_TTL, IP_MINTTL, IP_DONTFRAG, IP_HDRINCL (raw), multicast
 * interface/TTL/loop and group membership. IPPROTO_IPV6: IPV6_UNICAST_HOPS, IPV6_TCLASS,
 * IPV6_V6ONLY (only before bind), IPV6_DONTFRAG, IPV6_USE_MIN_MTU, multicast options.
 * Option numbers are FreeBSD's.
 */

import type { Sockopt, SockoptResult } from '../sys/protosw.js';
import type { Socket } from '../sys/socket.js';
import { EINVAL, ENOPROTOOPT, EADDRNOTAVAIL } from '../sys/errno.js';
import { IPPROTO_IP, IPPROTO_IPV6 } from '../wire/ipv4.js';
import { IN_MULTICAST } from './in.js';
import { IN6P_IPV6_V6ONLY, INP_DONTFRAG, INP_HDRINCL, INP_RECVTOS, INP_RECVTTL, type Inpcb } from './in_pcb.js';

// IPPROTO_IP options (netinet/in.h)
export const IP_OPTIONS = 1;
export const IP_HDRINCL = 2;
export const IP_TOS = 3;
export const IP_TTL = 4;
export const IP_RECVOPTS = 5;
export const IP_RECVDSTADDR = 7;
export const IP_MULTICAST_IF = 9;
export const IP_MULTICAST_TTL = 10;
export const IP_MULTICAST_LOOP = 11;
export const IP_ADD_MEMBERSHIP = 12;
export const IP_DROP_MEMBERSHIP = 13;
export const IP_RECVIF = 20;
export const IP_RECVTTL = 65;
export const IP_MINTTL = 66;
export const IP_DONTFRAG = 67;
export const IP_RECVTOS = 68;
// IPPROTO_IPV6 options (netinet6/in6.h)
export const IPV6_UNICAST_HOPS = 4;
export const IPV6_MULTICAST_IF = 9;
export const IPV6_MULTICAST_HOPS = 10;
export const IPV6_MULTICAST_LOOP = 11;
export const IPV6_JOIN_GROUP = 12;
export const IPV6_LEAVE_GROUP = 13;
export const IPV6_V6ONLY = 27;
export const IPV6_USE_MIN_MTU = 42;
export const IPV6_RECVTCLASS = 57;
export const IPV6_TCLASS = 61;
export const IPV6_DONTFRAG = 62;

/** bsdnet flag on the PCB: IPV6_USE_MIN_MTU requested. */
export const IN6P_USE_MIN_MTU = 0x00400000;

function num(v: Sockopt['value']): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number.NaN;
}

/**
 * Handle an IPPROTO_IP or IPPROTO_IPV6 option on `inp`. Returns null when the level is
 * neither (the caller's own options follow).
 */
export function ip_ctloutput(so: Socket, inp: Inpcb, op: 'get' | 'set', sopt: Sockopt): SockoptResult | null {
  const V = so.so_vnet;
  if (sopt.level === IPPROTO_IP) {
    const v = num(sopt.value);
    switch (sopt.name) {
      case IP_TOS:
        if (op === 'get') return { error: 0, value: inp.inp_ip_tos };
        if (!(v >= 0 && v <= 255)) return { error: EINVAL };
        inp.inp_ip_tos = v;
        return { error: 0 };
      case IP_TTL:
        if (op === 'get') return { error: 0, value: inp.inp_ip_ttl || V.inet.defttl };
        if (v === -1) {
          inp.inp_ip_ttl = V.inet.defttl;
          return { error: 0 };
        }
        if (!(v >= 1 && v <= 255)) return { error: EINVAL };
        inp.inp_ip_ttl = v;
        return { error: 0 };
      case IP_MINTTL:
        if (op === 'get') return { error: 0, value: inp.inp_ip_minttl };
        if (!(v >= 0 && v <= 255)) return { error: EINVAL };
        inp.inp_ip_minttl = v;
        return { error: 0 };
      case IP_HDRINCL:
      case IP_DONTFRAG:
      case IP_RECVTTL:
      case IP_RECVTOS: {
        const flag = sopt.name === IP_HDRINCL ? INP_HDRINCL : sopt.name === IP_DONTFRAG ? INP_DONTFRAG : sopt.name === IP_RECVTTL ? INP_RECVTTL : INP_RECVTOS;
        if (op === 'get') return { error: 0, value: inp.inp_flags & flag ? 1 : 0 };
        if (Number.isNaN(v)) return { error: EINVAL };
        if (v) inp.inp_flags |= flag;
        else inp.inp_flags &= ~flag;
        return { error: 0 };
      }
      case IP_MULTICAST_TTL:
      case IP_MULTICAST_LOOP: {
        inp.inp_moptions ??= { ifp: null, ttl: 1, loop: true };
        const mo = inp.inp_moptions;
        if (op === 'get') return { error: 0, value: sopt.name === IP_MULTICAST_TTL ? mo.ttl : mo.loop ? 1 : 0 };
        if (sopt.name === IP_MULTICAST_TTL) {
          if (!(v >= 0 && v <= 255)) return { error: EINVAL };
          mo.ttl = v;
        } else {
          if (Number.isNaN(v)) return { error: EINVAL };
          mo.loop = v !== 0;
        }
        return { error: 0 };
      }
      case IP_MULTICAST_IF: {
        inp.inp_moptions ??= { ifp: null, ttl: 1, loop: true };
        if (op === 'get') {
          const ia = inp.inp_moptions.ifp ? V.inet.ifaOnIfp(inp.inp_moptions.ifp) : undefined;
          return { error: 0, value: ia ? ia.ia_addr : 0 };
        }
        if (v === 0) {
          inp.inp_moptions.ifp = null;
          return { error: 0 };
        }
        const ia = V.inet.ifaWithAddr(v);
        if (ia === undefined) return { error: EADDRNOTAVAIL };
        inp.inp_moptions.ifp = ia.ifa_ifp;
        return { error: 0 };
      }
      case IP_ADD_MEMBERSHIP:
      case IP_DROP_MEMBERSHIP: {
        if (op === 'get') return { error: ENOPROTOOPT };
        const req = sopt.value as { multiaddr?: number; interface?: number } | undefined;
        const group = req && typeof req === 'object' ? Number(req.multiaddr) >>> 0 : Number.NaN;
        if (!IN_MULTICAST(group)) return { error: EINVAL };
        const ifaddr = Number(req?.interface ?? 0) >>> 0;
        let ifp = ifaddr ? V.inet.ifaWithAddr(ifaddr)?.ifa_ifp : undefined;
        if (ifp === undefined && !ifaddr) ifp = V.rt.inet.lookup4(group)?.nhop.nh_ifp ?? V.inet.addrs.find((ia) => !(ia.ifa_ifp.if_flags & 0x8))?.ifa_ifp;
        if (ifp === undefined) return { error: EADDRNOTAVAIL };
        if (sopt.name === IP_ADD_MEMBERSHIP) V.inet.joinGroup(ifp, group);
        else V.inet.leaveGroup(ifp, group);
        return { error: 0 };
      }
      default:
        return { error: ENOPROTOOPT };
    }
  }
  if (sopt.level === IPPROTO_IPV6) {
    const v = num(sopt.value);
    switch (sopt.name) {
      case IPV6_UNICAST_HOPS:
        if (op === 'get') return { error: 0, value: inp.in6p_hops >= 0 ? inp.in6p_hops : V.inet6.hlim };
        if (!(v >= -1 && v <= 255)) return { error: EINVAL };
        inp.in6p_hops = v;
        return { error: 0 };
      case IPV6_TCLASS:
        if (op === 'get') return { error: 0, value: inp.in6p_tclass };
        if (!(v >= -1 && v <= 255)) return { error: EINVAL };
        inp.in6p_tclass = v === -1 ? 0 : v;
        return { error: 0 };
      case IPV6_V6ONLY:
        if (op === 'get') return { error: 0, value: inp.inp_flags & IN6P_IPV6_V6ONLY ? 1 : 0 };
        // Only before the socket is bound (FreeBSD: EINVAL once bound).
        if (inp.inp_lport !== 0) return { error: EINVAL };
        if (Number.isNaN(v)) return { error: EINVAL };
        if (v) inp.inp_flags |= IN6P_IPV6_V6ONLY;
        else inp.inp_flags &= ~IN6P_IPV6_V6ONLY;
        return { error: 0 };
      case IPV6_DONTFRAG:
      case IPV6_USE_MIN_MTU: {
        const flag = sopt.name === IPV6_DONTFRAG ? INP_DONTFRAG : IN6P_USE_MIN_MTU;
        if (op === 'get') return { error: 0, value: inp.inp_flags & flag ? 1 : 0 };
        if (Number.isNaN(v)) return { error: EINVAL };
        if (v) inp.inp_flags |= flag;
        else inp.inp_flags &= ~flag;
        return { error: 0 };
      }
      case IPV6_MULTICAST_HOPS:
      case IPV6_MULTICAST_LOOP: {
        inp.in6p_moptions ??= { ifp: null, hops: 1, loop: true };
        const mo = inp.in6p_moptions;
        if (op === 'get') return { error: 0, value: sopt.name === IPV6_MULTICAST_HOPS ? mo.hops : mo.loop ? 1 : 0 };
        if (sopt.name === IPV6_MULTICAST_HOPS) {
          if (!(v >= -1 && v <= 255)) return { error: EINVAL };
          mo.hops = v === -1 ? 1 : v;
        } else {
          if (Number.isNaN(v)) return { error: EINVAL };
          mo.loop = v !== 0;
        }
        return { error: 0 };
      }
      case IPV6_MULTICAST_IF: {
        inp.in6p_moptions ??= { ifp: null, hops: 1, loop: true };
        if (op === 'get') return { error: 0, value: inp.in6p_moptions.ifp?.if_index ?? 0 };
        if (v === 0) {
          inp.in6p_moptions.ifp = null;
          return { error: 0 };
        }
        const ifp = V.ifnet.byindex(v);
        if (ifp === undefined) return { error: EADDRNOTAVAIL };
        inp.in6p_moptions.ifp = ifp;
        return { error: 0 };
      }
      case IPV6_JOIN_GROUP:
      case IPV6_LEAVE_GROUP: {
        if (op === 'get') return { error: ENOPROTOOPT };
        const req = sopt.value as { multiaddr?: Uint8Array; interface?: number } | undefined;
        const group = req?.multiaddr;
        if (!(group instanceof Uint8Array) || group.length !== 16 || group[0] !== 0xff) return { error: EINVAL };
        const ifp = req?.interface ? V.ifnet.byindex(req.interface) : V.rt.inet6.lookup(group)?.nhop.nh_ifp;
        if (ifp === undefined) return { error: EADDRNOTAVAIL };
        if (sopt.name === IPV6_JOIN_GROUP) V.inet6.joinGroup(ifp, group);
        else V.inet6.leaveGroup(ifp, group);
        return { error: 0 };
      }
      default:
        return { error: ENOPROTOOPT };
    }
  }
  return null;
}
