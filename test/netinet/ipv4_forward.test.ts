/*
 * IPv4 across two and three instances on simulated Ethernet (src/netinet/ip_input.ts
 * ip_forward, ip_output.ts, ip_icmp.ts, tcp_hostcache.ts):
 *
 *   h1 10.1.0.10 —— 10.1.0.1 r 10.2.0.1 —— 10.2.0.20 h2
 *
 * Ping on one link and across the router (TTL decremented once each way), forwarding off
 * by default, TTL expiry at the router drawing ICMP time exceeded (RFC 1812 §5.3.1) that
 * reaches a raw socket and a connected UDP socket, no route drawing ICMP unreachable,
 * DF + a smaller next-hop MTU drawing "fragmentation needed" with the MTU (RFC 1191) that
 * updates the sender's host cache, fragmentation at the router without DF, and redirects.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sockaddr_in } from '../../src/netinet/in.js';
import { INP_DONTFRAG, type Inpcb } from '../../src/netinet/in_pcb.js';
import { IPPROTO_IP } from '../../src/wire/ipv4.js';
import { IP_DONTFRAG, IP_TTL } from '../../src/netinet/ip_ctloutput.js';
import { AF_INET } from '../../src/netinet/in.js';
import { SOCK_DGRAM } from '../../src/sys/protosw.js';
import { EHOSTUNREACH, EMSGSIZE } from '../../src/sys/errno.js';
import { soconnect, socreate, soreceive, sosend, sosetopt } from '../../src/sys/socket.js';
import { ip, pattern, rawIcmp, routed, SEC, twoStacks } from './helpers.js';

const H2 = ip('10.2.0.20');
const R1 = ip('10.1.0.1');

function udpSocket(V: Parameters<typeof socreate>[0]) {
  const r = socreate(V, AF_INET, SOCK_DGRAM, 17);
  assert.equal(r.error, 0);
  return r.so as NonNullable<typeof r.so>;
}

describe('IPv4 on one link', () => {
  it('pings the neighbour: ARP resolves, the echo comes back with the data and TTL 64', () => {
    const { clock, a, b } = twoStacks();
    const p = rawIcmp(a.vnet);
    const data = pattern(56, 3);
    const req0 = a.vnet.arp.stat.txrequests; // the gratuitous ARP of the address counts too
    assert.equal(p.ping(ip('10.0.0.2'), 0x55, 1, data), 0);
    clock.advance(SEC);
    const replies = p.recv().filter((v) => v.payload[0] === 0);
    assert.equal(replies.length, 1);
    const r = replies[0] as NonNullable<(typeof replies)[0]>;
    assert.equal(r.src, ip('10.0.0.2'));
    assert.equal(r.dst, ip('10.0.0.1'));
    assert.equal(r.ttl, 64);
    assert.deepEqual([...r.payload.subarray(8)], [...data]);
    assert.equal(b.vnet.icmp.stat.icps_reflect, 1);
    assert.equal(b.vnet.icmp.stat.icps_inhist[8], 1);
    assert.equal(a.vnet.arp.stat.txrequests - req0, 1);
    assert.equal(a.vnet.arp.stat.rxreplies, 1);
  });

  it('pings its own address and 127.0.0.1 through lo0 without ARP', () => {
    const { clock, a } = twoStacks();
    const p = rawIcmp(a.vnet);
    const req0 = a.vnet.arp.stat.txrequests;
    assert.equal(p.ping(ip('10.0.0.1'), 1, 1), 0);
    assert.equal(p.ping(ip('127.0.0.1'), 1, 2), 0);
    clock.advance(SEC);
    const replies = p.recv().filter((v) => v.payload[0] === 0);
    assert.deepEqual(replies.map((v) => v.src).sort(), [ip('10.0.0.1'), ip('127.0.0.1')].sort());
    assert.equal(a.vnet.arp.stat.txrequests, req0);
  });
});

describe('IPv4 forwarding (three instances)', () => {
  it('forwards between the subnets, decrementing the TTL once each way', () => {
    const { clock, h1, r, h2 } = routed();
    const p = rawIcmp(h1.vnet);
    assert.equal(p.ping(H2, 7, 1, pattern(100)), 0);
    clock.advance(2 * SEC);
    const replies = p.recv().filter((v) => v.payload[0] === 0);
    assert.equal(replies.length, 1);
    assert.equal(replies[0]?.src, H2);
    assert.equal(replies[0]?.ttl, 63, 'one router on the way back');
    assert.equal(r.vnet.inet.stat.ips_forward, 2);
    assert.equal(h2.vnet.icmp.stat.icps_reflect, 1);
  });

  it('does not forward when net.inet.ip.forwarding is off (the default), counting ips_cantforward', () => {
    const { clock, h1, r } = routed();
    r.sysctlSet('net.inet.ip.forwarding', false);
    assert.equal(r.sysctlGet('net.inet.ip.forwarding'), false);
    const p = rawIcmp(h1.vnet);
    p.ping(H2, 7, 1);
    clock.advance(2 * SEC);
    assert.equal(p.recv().length, 0);
    assert.equal(r.vnet.inet.stat.ips_forward, 0);
    assert.equal(r.vnet.inet.stat.ips_cantforward, 1);
  });

  it('TTL expiry at the router: ICMP time exceeded in transit (RFC 1812 §5.3.1) from the router', () => {
    const { clock, h1, r, h2 } = routed();
    const p = rawIcmp(h1.vnet);
    sosetopt(p.so, { level: IPPROTO_IP, name: IP_TTL, value: 1 });
    p.ping(H2, 9, 1);
    clock.advance(2 * SEC);
    const got = p.recv();
    const te = got.filter((v) => v.payload[0] === 11);
    assert.equal(te.length, 1);
    const t = te[0] as NonNullable<(typeof te)[0]>;
    assert.equal(t.payload[1], 0, 'code 0: TTL exceeded in transit');
    assert.equal(t.src, R1, 'from the router address facing the sender');
    // The quote: the original header (TTL as received, 1) and 8 bytes of the echo request.
    const q = t.payload.subarray(8);
    assert.equal(q[9], 1);
    assert.equal(q[8], 1);
    assert.equal(q[20], 8, 'quoted ICMP echo request');
    assert.equal(r.vnet.icmp.stat.icps_outhist[11], 1);
    assert.equal(r.vnet.inet.stat.ips_cantforward, 1);
    assert.equal(h2.vnet.icmp.stat.icps_inhist[8], 0, 'never reached h2');
  });

  it('a connected UDP socket hears the time exceeded as EHOSTUNREACH (udp_ctlinput)', () => {
    const { clock, h1 } = routed();
    const so = udpSocket(h1.vnet);
    assert.equal(sosetopt(so, { level: IPPROTO_IP, name: IP_TTL, value: 1 }), 0);
    assert.equal(soconnect(so, sockaddr_in(H2, 5000)), 0);
    assert.equal(sosend(so, null, pattern(10), 0, 10, 0).error, 0);
    clock.advance(2 * SEC);
    const rr = soreceive(so, new Uint8Array(100), 0);
    assert.equal(rr.error, EHOSTUNREACH);
  });

  it('no route at the router: ICMP host unreachable and ips_noroute', () => {
    const { clock, h1, r } = routed();
    const p = rawIcmp(h1.vnet);
    p.ping(ip('10.9.9.9'), 9, 1);
    clock.advance(2 * SEC);
    const un = p.recv().filter((v) => v.payload[0] === 3);
    assert.equal(un.length, 1);
    assert.equal(un[0]?.payload[1], 1, 'host unreachable');
    assert.equal(r.vnet.inet.stat.ips_noroute, 1);
  });

  it('fragments at the router when the next hop has a smaller MTU and DF is clear', () => {
    const { clock, h1, r, h2 } = routed({ mtu2: 576 });
    const p = rawIcmp(h1.vnet);
    const data = pattern(1400, 9);
    p.ping(H2, 3, 1, data);
    clock.advance(2 * SEC);
    const replies = p.recv().filter((v) => v.payload[0] === 0);
    assert.equal(replies.length, 1, 'h2 reassembled, answered; the reply was fragmented by h2 and reassembled by h1');
    assert.deepEqual([...(replies[0]?.payload.subarray(8) ?? [])], [...data]);
    assert.equal(r.vnet.inet.stat.ips_fragmented, 1);
    assert.ok(r.vnet.inet.stat.ips_ofragments >= 3);
    assert.equal(h2.vnet.inet.stat.ips_reassembled, 1);
    assert.equal(h1.vnet.inet.stat.ips_reassembled, 1);
  });

  it('DF and a smaller next-hop MTU: frag-needed with the MTU (RFC 1191 §4) updates the host cache', () => {
    const { clock, h1, r } = routed({ mtu2: 1000 });
    const so = udpSocket(h1.vnet);
    assert.equal(sosetopt(so, { level: IPPROTO_IP, name: IP_DONTFRAG, value: 1 }), 0);
    assert.ok(((so.so_pcb as Inpcb).inp_flags & INP_DONTFRAG) !== 0);
    assert.equal(soconnect(so, sockaddr_in(H2, 5000)), 0);
    assert.equal(h1.vnet.hostcache.getMtu(AF_INET, H2, null), 0);
    assert.equal(sosend(so, null, pattern(1400), 0, 1400, 0).error, 0);
    clock.advance(2 * SEC);
    assert.equal(r.vnet.inet.stat.ips_cantfrag, 1);
    assert.equal(r.vnet.icmp.stat.icps_outhist[3], 1);
    assert.equal(h1.vnet.hostcache.getMtu(AF_INET, H2, null), 1000, 'learned path MTU');
    assert.equal(h1.vnet.icmp.stat.icps_inhist[3], 1);
    // The connected socket is told, as FreeBSD's udp_ctlinput does (inetctlerrmap).
    assert.equal(soreceive(so, new Uint8Array(10), 0).error, EMSGSIZE);
    // A DF datagram larger than the local MTU is refused at once.
    assert.equal(sosend(so, null, pattern(1600), 0, 1600, 0).error, EMSGSIZE);
    assert.equal(h1.vnet.inet.stat.ips_cantfrag, 1);
  });

  it('sends a redirect (RFC 1812 §5.2.7.2); the host installs a dynamic host route that expires (redirtimeout)', () => {
    const { clock, h1, r } = routed();
    // A third host on h1's subnet that r knows; h1 wrongly routes to it through r.
    const X = ip('10.1.0.99');
    h1.addRoute('10.1.0.96/28', '10.1.0.1');
    r.vnet.arp.addStatic(r.interface('sim0'), X, Uint8Array.of(2, 0, 0, 0, 0, 0x99));
    h1.sysctlSet('net.inet.icmp.redirtimeout', 60);
    const p = rawIcmp(h1.vnet);
    p.ping(X, 3, 1);
    clock.advance(2 * SEC);
    const red = p.recv().filter((v) => v.payload[0] === 5);
    assert.equal(red.length, 1);
    assert.equal(r.vnet.inet.stat.ips_redirectsent, 1);
    const rt = h1.vnet.rt.inet.lookup4(X);
    assert.equal(rt?.plen, 32);
    assert.equal(rt?.nhop.gw4, X, 'the redirect names the host itself as the next hop');
    assert.ok(((rt?.flags ?? 0) & 0x10) !== 0, 'RTF_DYNAMIC');
    clock.advance(61 * SEC);
    assert.equal(h1.vnet.rt.inet.lookup4(X)?.plen, 28, 'the redirect route expired');
  });

  it('ignores redirects when net.inet.icmp.drop_redirect is set, and from a router that is not our gateway', () => {
    const { clock, h1, r } = routed();
    const X = ip('10.1.0.99');
    h1.addRoute('10.1.0.96/28', '10.1.0.1');
    r.vnet.arp.addStatic(r.interface('sim0'), X, Uint8Array.of(2, 0, 0, 0, 0, 0x99));
    h1.sysctlSet('net.inet.icmp.drop_redirect', true);
    rawIcmp(h1.vnet).ping(X, 3, 1);
    clock.advance(2 * SEC);
    assert.equal(r.vnet.inet.stat.ips_redirectsent, 1);
    assert.equal(h1.vnet.rt.inet.lookup4(X)?.plen, 28);
  });
});
