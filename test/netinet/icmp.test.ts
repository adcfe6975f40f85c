/*
 * ICMP for IPv4 (src/netinet/ip_icmp.ts; RFC 792, RFC 1122 §3.2.2, RFC 1812 §4.3.2):
 * echo and timestamp replies, broadcast echo refused unless net.inet.icmp.bmcastecho,
 * port and protocol unreachable, parameter problem, the rules for when no error may be
 * sent (about an ICMP error, a non-first fragment, a broadcast, a non-unicast source), the
 * quote (header + quotelen bytes, never beyond 576 bytes), rate limiting with
 * net.inet.icmp.icmplim per class and per second, and malformed ICMP input counted in
 * icmpstat.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Mbuf } from '../../src/mbuf/mbuf.js';
import { icmp_error } from '../../src/netinet/ip_icmp.js';
import { get16, get32 } from '../../src/wire/bytes.js';
import { inCksum } from '../../src/wire/checksum.js';
import { fakeEther, icmp, icmpOf, icmpPkt, inject, ip, ip4, mbufsInUse, pattern, SEC, udpPkt, VirtualClock, vnet } from './helpers.js';

const ME = ip('10.0.0.1');
const PEER = ip('10.0.0.2');
const PEER_MAC = Uint8Array.of(0x02, 0xbb, 0, 0, 0, 2);

function setup() {
  const clock = new VirtualClock();
  const V = vnet('a', clock, 41);
  const fe = fakeEther(V);
  V.inet.addAddress(fe.ifp, ME, 24);
  V.arp.addStatic(fe.ifp, PEER, PEER_MAC);
  fe.clear();
  return { clock, V, fe };
}

describe('ICMP echo and timestamp', () => {
  it('answers an echo request with the same id, sequence and data, checksum valid', () => {
    const { V, fe } = setup();
    const data = pattern(64, 5);
    inject(V, fe.ifp, icmpPkt(PEER, ME, 8, 0, 0x12340007, data));
    const out = icmpOf(fe.ip4());
    assert.equal(out.length, 1);
    const r = out[0] as (typeof out)[0];
    assert.equal(r.type, 0);
    assert.equal(get32(r.msg, 4), 0x12340007);
    assert.deepEqual([...r.msg.subarray(8)], [...data]);
    assert.equal(inCksum(r.msg, 0, r.msg.length), 0);
    assert.equal(r.ip.src, ME);
    assert.equal(r.ip.dst, PEER);
    assert.equal(inCksum(r.ip.pkt, 0, 20), 0, 'IP header checksum');
    assert.equal(V.icmp.stat.icps_reflect, 1);
    assert.equal(V.icmp.stat.icps_outhist[0], 1);
  });

  it('strips IP options from the reply', () => {
    const { V, fe } = setup();
    inject(V, fe.ifp, icmpPkt(PEER, ME, 8, 0, 1, pattern(8), { opts: Uint8Array.of(1, 1, 1, 0) }));
    const out = icmpOf(fe.ip4());
    assert.equal(out.length, 1);
    assert.equal(out[0]?.ip.hlen, 20);
    assert.equal(inCksum(out[0]?.msg as Uint8Array, 0, 16), 0);
  });

  it('ignores echo to a broadcast address unless net.inet.icmp.bmcastecho (icps_bmcastecho)', () => {
    const { V, fe } = setup();
    inject(V, fe.ifp, icmpPkt(PEER, ip('10.0.0.255'), 8, 0, 1));
    inject(V, fe.ifp, icmpPkt(PEER, ip('255.255.255.255'), 8, 0, 2));
    assert.equal(icmpOf(fe.ip4()).length, 0);
    assert.equal(V.icmp.stat.icps_bmcastecho, 2);
    V.sysctl.set('net.inet.icmp.bmcastecho', true);
    inject(V, fe.ifp, icmpPkt(PEER, ip('10.0.0.255'), 8, 0, 3));
    const out = icmpOf(fe.ip4());
    assert.equal(out.length, 1);
    assert.equal(out[0]?.ip.src, ME, 'answered from our unicast address');
  });

  it('answers a timestamp request (and not when net.inet.icmp.tstamprepl=0)', () => {
    const { V, fe } = setup();
    inject(V, fe.ifp, icmpPkt(PEER, ME, 13, 0, 0x00010001, new Uint8Array(12)));
    let out = icmpOf(fe.ip4());
    assert.equal(out.length, 1);
    assert.equal(out[0]?.type, 14);
    V.sysctl.set('net.inet.icmp.tstamprepl', false);
    fe.clear();
    inject(V, fe.ifp, icmpPkt(PEER, ME, 13, 0, 0x00010002, new Uint8Array(12)));
    out = icmpOf(fe.ip4());
    assert.equal(out.length, 0);
  });
});

describe('ICMP errors', () => {
  it('port unreachable for a closed UDP port quotes the header and 8 bytes (RFC 792)', () => {
    const { V, fe } = setup();
    const pkt = udpPkt(PEER, ME, 1234, 9999, pattern(100));
    inject(V, fe.ifp, pkt);
    const out = icmpOf(fe.ip4());
    assert.equal(out.length, 1);
    const e = out[0] as (typeof out)[0];
    assert.equal(e.type, 3);
    assert.equal(e.code, 3);
    assert.equal(e.msg.length, 8 + 28);
    assert.deepEqual([...e.msg.subarray(8)], [...pkt.subarray(0, 28)]);
    assert.equal(inCksum(e.msg, 0, e.msg.length), 0);
    assert.equal(e.ip.src, ME);
    assert.equal(V.udp.stat.udps_noport, 1);
    assert.equal(V.icmp.stat.icps_error, 1);
  });

  it('net.inet.icmp.quotelen quotes more, never beyond 576 bytes in all (RFC 1812 §4.3.2.3)', () => {
    const { V, fe } = setup();
    V.sysctl.set('net.inet.icmp.quotelen', 1500);
    inject(V, fe.ifp, udpPkt(PEER, ME, 1234, 9999, pattern(1400)));
    const e = icmpOf(fe.ip4())[0];
    assert.ok(e);
    assert.equal(e.ip.len, 576);
  });

  it('net.inet.udp.blackhole suppresses port unreachables', () => {
    const { V, fe } = setup();
    V.sysctl.set('net.inet.udp.blackhole', true);
    inject(V, fe.ifp, udpPkt(PEER, ME, 1234, 9999, pattern(10)));
    assert.equal(icmpOf(fe.ip4()).length, 0);
    assert.equal(V.udp.stat.udps_noport, 1);
  });

  it('protocol unreachable for an unknown protocol (ips_noproto)', () => {
    const { V, fe } = setup();
    inject(V, fe.ifp, ip4({ src: PEER, dst: ME, p: 253 }, pattern(20)));
    const e = icmpOf(fe.ip4());
    assert.equal(e.length, 1);
    assert.equal(e[0]?.type, 3);
    assert.equal(e[0]?.code, 2);
    assert.equal(V.inet.stat.ips_noproto, 1);
  });

  it('parameter problem pointing at a malformed option (ips_badoptions)', () => {
    const { V, fe } = setup();
    // A record-route option with a pointer below 4 (RFC 791: the smallest legal value).
    inject(V, fe.ifp, udpPkt(PEER, ME, 1, 2, pattern(8), { opts: Uint8Array.of(7, 7, 1, 0, 0, 0, 0, 0) }));
    const e = icmpOf(fe.ip4());
    assert.equal(e.length, 1);
    assert.equal(e[0]?.type, 12);
    assert.equal(e[0]?.msg[4], 22, 'pointer at the option offset byte');
    assert.equal(V.inet.stat.ips_badoptions, 1);
  });

  it('refuses source-routed datagrams by default with "source route failed"', () => {
    const { V, fe } = setup();
    inject(V, fe.ifp, udpPkt(PEER, ME, 1, 2, pattern(8), { opts: Uint8Array.of(131, 7, 4, 10, 0, 0, 9, 0) }));
    const e = icmpOf(fe.ip4());
    assert.equal(e.length, 1);
    assert.equal(e[0]?.type, 3);
    assert.equal(e[0]?.code, 5);
  });

  it('no error about a broadcast datagram, an ICMP error, a non-first fragment or a bad source (RFC 1122 §3.2.2)', () => {
    const { V, fe } = setup();
    // Broadcast to a closed port: counted, silent.
    inject(V, fe.ifp, udpPkt(PEER, ip('10.0.0.255'), 1, 9999, pattern(8)));
    assert.equal(V.udp.stat.udps_noportbcast, 1);
    const mk = (p: Uint8Array): Mbuf => {
      const m = V.mbufs.devget(p, 0, p.length, fe.ifp, 16) as Mbuf;
      return m;
    };
    const before = mbufsInUse(V);
    // An ICMP error about an ICMP error.
    icmp_error(V, mk(icmpPkt(PEER, ME, 3, 3, 0, pattern(28))), 3, 1, 0, 0);
    assert.equal(V.icmp.stat.icps_oldicmp, 1);
    // A non-first fragment.
    icmp_error(V, mk(udpPkt(PEER, ME, 1, 2, pattern(8), { off: 100 })), 3, 3, 0, 0);
    // A multicast, broadcast, zero-network or class E source.
    for (const src of ['224.0.0.5', '255.255.255.255', '0.1.2.3', '240.0.0.1', '10.0.0.255']) {
      icmp_error(V, mk(udpPkt(ip(src), ME, 1, 2, pattern(8))), 3, 3, 0, 0);
    }
    assert.equal(icmpOf(fe.ip4()).length, 0, 'nothing sent');
    assert.equal(mbufsInUse(V), before, 'every refused packet was freed');
    // But an error about an ICMP query is fine.
    icmp_error(V, mk(icmpPkt(PEER, ME, 8, 0, 0, pattern(8))), 3, 1, 0, 0);
    assert.equal(icmpOf(fe.ip4()).length, 1);
  });

  it('rate-limits errors per second with net.inet.icmp.icmplim and logs it; 0 means unlimited', () => {
    const { clock, V, fe } = setup();
    assert.equal(V.sysctl.get('net.inet.icmp.icmplim'), 200);
    V.sysctl.set('net.inet.icmp.icmplim', 10);
    for (let i = 0; i < 50; i++) inject(V, fe.ifp, udpPkt(PEER, ME, 1000 + i, 9999, pattern(8)));
    assert.equal(icmpOf(fe.ip4()).length, 10);
    assert.equal(V.icmp.stat.icps_ratelimited, 40);
    assert.equal(V.udp.stat.udps_noport, 50, 'every datagram still counted');
    clock.advance(SEC);
    for (let i = 0; i < 5; i++) inject(V, fe.ifp, udpPkt(PEER, ME, 1000 + i, 9999, pattern(8)));
    assert.equal(icmpOf(fe.ip4()).length, 15, 'a new second, a new budget');
    assert.ok(
      V.icmp.log.some((l) => l === 'Limiting icmp unreach response from 50 to 10 packets/sec'),
      V.icmp.log.join('|'),
    );
    V.sysctl.set('net.inet.icmp.icmplim', 0);
    fe.clear();
    for (let i = 0; i < 500; i++) inject(V, fe.ifp, udpPkt(PEER, ME, 1000 + i, 9999, pattern(8)));
    assert.equal(icmpOf(fe.ip4()).length, 500);
  });

  it('rate-limits echo replies in their own class', () => {
    const { V, fe } = setup();
    V.sysctl.set('net.inet.icmp.icmplim', 5);
    for (let i = 0; i < 8; i++) inject(V, fe.ifp, udpPkt(PEER, ME, 1000 + i, 9999, pattern(8)));
    for (let i = 0; i < 8; i++) inject(V, fe.ifp, icmpPkt(PEER, ME, 8, 0, i));
    const out = icmpOf(fe.ip4());
    assert.equal(out.filter((x) => x.type === 3).length, 5);
    assert.equal(out.filter((x) => x.type === 0).length, 5);
  });
});

describe('ICMP input validation', () => {
  it('counts and drops short messages, bad checksums, bad codes and short quotes', () => {
    const { V, fe } = setup();
    const before = mbufsInUse(V);
    inject(V, fe.ifp, ip4({ src: PEER, dst: ME, p: 1 }, Uint8Array.of(8, 0, 0, 0)));
    assert.equal(V.icmp.stat.icps_tooshort, 1);
    const bad = icmp(8, 0, 1, pattern(20));
    bad[2] = (bad[2] as number) ^ 1;
    inject(V, fe.ifp, ip4({ src: PEER, dst: ME, p: 1 }, bad));
    assert.equal(V.icmp.stat.icps_checksum, 1);
    inject(V, fe.ifp, icmpPkt(PEER, ME, 3, 99, 0, pattern(28)));
    assert.equal(V.icmp.stat.icps_badcode, 1);
    inject(V, fe.ifp, icmpPkt(PEER, ME, 3, 3, 0, pattern(10)));
    assert.equal(V.icmp.stat.icps_badlen, 1);
    // A quote that is not an IPv4 header.
    const q = pattern(28);
    q[0] = 0x65;
    inject(V, fe.ifp, icmpPkt(PEER, ME, 3, 3, 0, q));
    assert.equal(V.icmp.stat.icps_badlen, 2);
    assert.equal(fe.ip4().length, 0);
    assert.equal(mbufsInUse(V), before);
  });

  it('a frag-needed without an MTU (old router) guesses from the RFC 1191 plateau table', () => {
    const { V, fe } = setup();
    const quoted = udpPkt(ME, ip('10.9.0.1'), 5, 6, pattern(1472), { off: 0x4000 });
    inject(V, fe.ifp, icmpPkt(PEER, ME, 3, 4, 0, quoted.subarray(0, 28)));
    assert.equal(V.hostcache.getMtu(2, ip('10.9.0.1'), null), 1492);
    assert.equal(get16(quoted, 2), 1500);
  });
});

describe('frag-needed validation (RFC 1191 §6.3)', () => {
  it('ignores an MTU that the quoted datagram fitted, a raise of the estimate, and datagrams not from us', () => {
    const { V, fe } = setup();
    const D = ip('10.9.0.1');
    const quoted = (len: number, src = ME) => udpPkt(src, D, 5, 6, pattern(len - 28), { off: 0x4000 }).subarray(0, 28);
    inject(V, fe.ifp, icmpPkt(PEER, ME, 3, 4, 1400, quoted(1000)));
    assert.equal(V.hostcache.getMtu(2, D, null), 0, 'a 1000-byte datagram fits in 1400: bogus');
    inject(V, fe.ifp, icmpPkt(PEER, ME, 3, 4, 1200, quoted(1500)));
    assert.equal(V.hostcache.getMtu(2, D, null), 1200);
    inject(V, fe.ifp, icmpPkt(PEER, ME, 3, 4, 1400, quoted(1500)));
    assert.equal(V.hostcache.getMtu(2, D, null), 1200, 'never raised by a PTB');
    inject(V, fe.ifp, icmpPkt(PEER, ME, 3, 4, 20, quoted(1500)));
    assert.equal(V.hostcache.getMtu(2, D, null), 68, 'clamped to 68');
    inject(V, fe.ifp, icmpPkt(PEER, ME, 3, 4, 576, quoted(1500, ip('10.0.0.77'))));
    assert.equal(V.hostcache.getMtu(2, D, null), 68, 'not about a datagram of ours');
  });
});
