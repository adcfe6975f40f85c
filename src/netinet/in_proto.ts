/*
 * The IPv4 domain (BSD netinet/in_proto.c): creates IPv4's per-Vnet state and registers
 * its protocols — the VNET_SYSINIT of the inet domain.
 *
 * Order: addresses/stats (InetVars), host cache, ICMP, reassembly, raw IP, UDP; then the
 * netisr handler, the Ethernet demux entries for IPv4 and ARP, the protocol switch
 * (ip_protox for input, the socket protosw table for socket()), interface detach hooks,
 * and 127.0.0.1/8 on lo0.
 */

import { NETISR_IP } from '../net/netisr.js';
import { PR_ATOMIC, PR_ADDR, type Protosw, SOCK_RAW } from '../sys/protosw.js';
import type { Vnet } from '../vnet.js';
import { ETHERTYPE_IP } from '../wire/ethernet.js';
import { IPPROTO_ICMP, IPPROTO_UDP } from '../wire/ipv4.js';
import { AF_INET, INADDR_LOOPBACK } from './in.js';
import { InetVars } from './in_var.js';
import { arp_init } from './if_ether.js';
import { IcmpVars, icmp_input } from './ip_icmp.js';
import { ip_init } from './ip_input.js';
import { IpReass } from './ip_reass.js';
import { RawIp, rip_protosw } from './raw_ip.js';
import { HostCache } from './tcp_hostcache.js';
import { UdpVars, udp_protosw } from './udp_usrreq.js';

export function inet_init(V: Vnet): void {
  V.inet = new InetVars(V);
  V.hostcache = new HostCache(V);
  V.icmp = new IcmpVars(V);
  V.ipreass = new IpReass(V);
  V.rawip = new RawIp(V);
  V.udp = new UdpVars(V);
  ip_init(V);
  V.ether.register(ETHERTYPE_IP, NETISR_IP);
  V.arp = arp_init(V);

  const icmp: Protosw = {
    pr_type: SOCK_RAW,
    pr_domain: AF_INET,
    pr_protocol: IPPROTO_ICMP,
    pr_flags: PR_ATOMIC | PR_ADDR,
    pr_name: 'icmp',
    pr_input: icmp_input,
    pr_usrreqs: rip_protosw.pr_usrreqs,
    pr_ctloutput: rip_protosw.pr_ctloutput,
  };
  V.inet.protox[IPPROTO_ICMP] = icmp;
  const udp = udp_protosw(V, AF_INET);
  V.inet.protox[IPPROTO_UDP] = udp;
  V.protosw.add(udp);
  V.protosw.add(icmp);
  V.protosw.add(rip_protosw);

  V.ifnet.detachHooks.push((ifp) => {
    V.arp.purgeIfp(ifp);
    V.inet.purgeIfp(ifp);
    V.rt.flushIfp(ifp);
  });
  V.onDestroy(() => V.ipreass.flush());
  if (V.loif) V.inet.addAddress(V.loif, INADDR_LOOPBACK, 8);
}
