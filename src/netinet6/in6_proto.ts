/*
 * IPv6 domain initialisation (BSD netinet6/in6_proto.c, ip6_init, icmp6_init, nd6_init,
 * frag6_init, rip6_init).
 *
 * inet6_init() builds the IPv6 state of a Vnet — Inet6Vars, Icmp6Vars, Nd6Vars, Frag6,
 * RawIp6 — and wires it in: the transport input table entry for ICMPv6, the netisr
 * protocol NETISR_IPV6 and the Ethernet dispatch of ETHERTYPE_IPV6 to it, the ND resolver
 * for AF_INET6 on Ethernet, the raw IPv6 and ICMPv6 socket protocols, and the interface
 * attach/detach hooks (link-local addresses, DAD, router solicitation). The interfaces that
 * exist already (lo0) are attached on the spot: lo0 gets ::1/128 and fe80::1/64.
 */

import { NETISR_IPV6 } from '../net/netisr.js';
import { PR_ADDR, PR_ATOMIC, type Protosw, SOCK_RAW } from '../sys/protosw.js';
import type { Vnet } from '../vnet.js';
import { ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { IPPROTO_ICMPV6, IPPROTO_UDP } from '../wire/ipv4.js';
import { AF_INET6 } from '../netinet/in.js';
import { udp_protosw } from '../netinet/udp_usrreq.js';
import { Frag6 } from './frag6.js';
import { icmp6_input, Icmp6Vars } from './icmp6.js';
import { in6_addr_added, in6_addr_removed, in6_ifattach, in6_ifdetach } from './in6_ifattach.js';
import { Inet6Vars } from './in6_var.js';
import { ip6_init } from './ip6_input.js';
import { nd6_resolve, Nd6Vars } from './nd6.js';
import { RawIp6, rip6_protosw, rip6_usrreqs } from './raw_ip6.js';

/** ICMPv6: the transport entry (icmp6_input) and raw ICMPv6 sockets (SOCK_RAW, 58). */
export const icmp6_protosw: Protosw = {
  pr_type: SOCK_RAW,
  pr_domain: AF_INET6,
  pr_protocol: IPPROTO_ICMPV6,
  pr_flags: PR_ATOMIC | PR_ADDR,
  pr_name: 'icmp6',
  pr_input: icmp6_input,
  pr_ctloutput: rip6_protosw.pr_ctloutput,
  pr_usrreqs: rip6_usrreqs,
};

/** Build and wire the IPv6 layer of a Vnet (VNET_SYSINIT of the inet6 domain). */
export function inet6_init(V: Vnet): void {
  V.inet6 = new Inet6Vars(V);
  V.icmp6 = new Icmp6Vars(V);
  V.nd6 = new Nd6Vars(V);
  V.frag6 = new Frag6(V);
  V.rawip6 = new RawIp6(V);
  V.inet6.protox[IPPROTO_ICMPV6] = icmp6_protosw;
  V.inet6.hooks.addrAdded.push((ia) => in6_addr_added(V, ia));
  V.inet6.hooks.addrRemoved.push((ia) => in6_addr_removed(V, ia));
  ip6_init(V);
  V.ether.register(ETHERTYPE_IPV6, NETISR_IPV6);
  V.ether.registerResolver(AF_INET6, ETHERTYPE_IPV6, nd6_resolve);
  // Socket protocols: raw ICMPv6 first (socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)), then
  // the raw wildcard, as in FreeBSD's inet6sw.
  V.protosw.add(icmp6_protosw);
  V.protosw.add(rip6_protosw);
  // UDP over IPv6 (udp6_usrreq.c): the shared udbinfo lives in V.udp (inet_init ran first).
  const udp6 = udp_protosw(V, AF_INET6);
  V.inet6.protox[IPPROTO_UDP] = udp6;
  V.protosw.add(udp6);
  V.ifnet.attachHooks.push((ifp) => in6_ifattach(V, ifp));
  V.ifnet.detachHooks.push((ifp) => in6_ifdetach(V, ifp));
  V.onDestroy(() => {
    V.frag6.flush();
    V.nd6.destroy();
  });
  for (const ifp of V.ifnet.all()) in6_ifattach(V, ifp);
}
