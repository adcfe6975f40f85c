/*
 * ping6 between Vnets (icmp6_send_echo, echo replies via RawIp6.listenEcho and raw ICMPv6
 * sockets): link-local with a zone, global, all-nodes multicast, ::1 and our own address
 * through lo0, RFC 6724 source selection, and the errors of in6_selectsrc.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epair_create } from '../../src/net/if_epair.js';
import { AF_INET6, ntop6, sockaddr_in6 } from '../../src/netinet/in.js';
import { EADDRNOTAVAIL, EHOSTUNREACH } from '../../src/sys/errno.js';
import { SOCK_RAW } from '../../src/sys/protosw.js';
import { socreate, soreceive, sosend } from '../../src/sys/socket.js';
import { in6_selectsrc } from '../../src/netinet6/in6_src.js';
import { IN6_IFF_DEPRECATED } from '../../src/netinet6/in6_var.js';
import { icmp6_send_echo, type Icmp6EchoReply } from '../../src/netinet6/raw_ip6.js';
import { a6, addr6, icmp6, SEC, VirtualClock, vnet } from './helpers.js';

function setup() {
  const clock = new VirtualClock();
  const A = vnet('a', clock, 11);
  const B = vnet('b', clock, 12);
  const [ea, eb] = epair_create(A, B);
  addr6(A, ea, '2001:db8:1::a');
  addr6(B, eb, '2001:db8:1::b');
  clock.advance(3 * SEC);
  const llA = A.inet6.ifaOnIfp(ea, true)?.addr as Uint8Array;
  const llB = B.inet6.ifaOnIfp(eb, true)?.addr as Uint8Array;
  return { clock, A, B, ea, eb, llA, llB };
}

describe('ping6', () => {
  it('pings link-local addresses both ways (the zone is the interface index)', () => {
    const { clock, A, B, ea, eb, llA, llB } = setup();
    const ra: Icmp6EchoReply[] = [];
    const rb: Icmp6EchoReply[] = [];
    A.rawip6.listenEcho(0x1234, (r) => ra.push(r));
    B.rawip6.listenEcho(0x4321, (r) => rb.push(r));
    const data = Uint8Array.from({ length: 56 }, (_, i) => i);
    for (let s = 0; s < 3; s++) {
      assert.equal(icmp6_send_echo(A, null, llB, 0x1234, s, data, undefined, ea.if_index), 0);
      assert.equal(icmp6_send_echo(B, null, llA, 0x4321, s, data, undefined, eb.if_index), 0);
    }
    clock.advance(SEC);
    assert.deepEqual(
      ra.map((r) => r.seq),
      [0, 1, 2],
    );
    assert.deepEqual(
      rb.map((r) => r.seq),
      [0, 1, 2],
    );
    const r0 = ra[0] as Icmp6EchoReply;
    assert.equal(ntop6(r0.src), ntop6(llB));
    assert.equal(ntop6(r0.dst), ntop6(llA), 'a link-local destination gets a link-local source');
    assert.deepEqual([...r0.data], [...data]);
    assert.equal(r0.hlim, 64);
    assert.equal(r0.ifp, ea);
    assert.equal(B.icmp6.stat.icp6s_reflect, 3);
  });

  it('a link-local destination without a zone is unreachable', () => {
    const { A, llB } = setup();
    assert.equal(icmp6_send_echo(A, null, llB, 1, 1, new Uint8Array(4)), EHOSTUNREACH);
    assert.equal(in6_selectsrc(A, llB, 0).error, EHOSTUNREACH);
  });

  it('pings global addresses with the global source of the connected prefix', () => {
    const { clock, A, B } = setup();
    const got: Icmp6EchoReply[] = [];
    A.rawip6.listenEcho(7, (r) => got.push(r));
    assert.equal(icmp6_send_echo(A, null, a6('2001:db8:1::b'), 7, 1, new Uint8Array(100)), 0);
    clock.advance(SEC);
    assert.equal(got.length, 1);
    assert.equal(ntop6((got[0] as Icmp6EchoReply).dst), '2001:db8:1::a');
    assert.equal(ntop6((got[0] as Icmp6EchoReply).src), '2001:db8:1::b');
    assert.equal(B.inet6.stat.ip6s_delivered >= 1, true);
  });

  it('pings ff02::1: every node on the link answers, ourselves included (loopback copy)', () => {
    const { clock, A, ea, llB } = setup();
    const got: Icmp6EchoReply[] = [];
    A.rawip6.listenEcho(9, (r) => got.push(r));
    assert.equal(icmp6_send_echo(A, null, a6('ff02::1'), 9, 1, new Uint8Array(8), undefined, ea.if_index), 0);
    clock.advance(SEC);
    const srcs = got.map((r) => ntop6(r.src)).sort();
    assert.ok(srcs.includes(ntop6(llB)), `B answered: ${srcs}`);
    assert.equal(got.length, 2, 'B and A itself');
  });

  it('pings ::1 and our own addresses through lo0', () => {
    const { clock, A, ea } = setup();
    const got: Icmp6EchoReply[] = [];
    A.rawip6.listenEcho(5, (r) => got.push(r));
    assert.equal(icmp6_send_echo(A, null, a6('::1'), 5, 1, new Uint8Array(8)), 0);
    assert.equal(icmp6_send_echo(A, null, a6('2001:db8:1::a'), 5, 2, new Uint8Array(8)), 0);
    const ll = A.inet6.ifaOnIfp(ea, true)?.addr as Uint8Array;
    assert.equal(icmp6_send_echo(A, null, ll, 5, 3, new Uint8Array(8), undefined, ea.if_index), 0);
    clock.advance(SEC);
    assert.deepEqual(got.map((r) => [ntop6(r.src), r.seq]).sort(), [
      ['2001:db8:1::a', 2],
      ['::1', 1],
      [ntop6(ll), 3],
    ]);
    assert.ok(got.every((r) => r.ifp === A.loif));
  });

  it('a raw ICMPv6 socket sends an echo request (checksum by the kernel) and reads the reply', () => {
    const { clock, A } = setup();
    const { error, so } = socreate(A, AF_INET6, SOCK_RAW, 58);
    assert.equal(error, 0);
    assert.ok(so);
    const req = icmp6(new Uint8Array(16), new Uint8Array(16), 128, 0, (0x77 << 16) | 1, Uint8Array.of(1, 2, 3, 4));
    req[2] = req[3] = 0; // the kernel computes it (RFC 3542 §3.1)
    const s = sosend(so, sockaddr_in6(a6('2001:db8:1::b')), req, 0, req.length, 0);
    assert.equal(s.error, 0);
    clock.advance(SEC);
    const buf = new Uint8Array(256);
    // The socket sees every ICMPv6 message: the NS/NA of resolution may come first.
    let reply: Uint8Array | null = null;
    for (let i = 0; i < 10 && reply === null; i++) {
      const r = soreceive(so, buf, 0);
      if (r.error !== 0) break;
      if (buf[0] === 129) {
        reply = buf.slice(0, r.len);
        assert.equal(r.from?.family, AF_INET6);
      }
    }
    assert.ok(reply, 'echo reply received');
    assert.deepEqual([...reply.subarray(8)], [1, 2, 3, 4]);
  });
});

describe('in6_selectsrc (RFC 6724)', () => {
  it('prefers the same address, then appropriate scope, then non-deprecated, then longest match', () => {
    const { A, ea } = setup();
    addr6(A, ea, '2001:db8:2::a', 64);
    // Rule 1: the same address.
    assert.equal(ntop6(in6_selectsrc(A, a6('2001:db8:1::a'), 0).addr as Uint8Array), '2001:db8:1::a');
    // Rule 8: longest matching prefix.
    A.rt.add6(a6('2001:db8:3::'), 64, { ifp: ea, gateway: a6('fe80::1') });
    const r = in6_selectsrc(A, a6('2001:db8:2::99'), 0);
    assert.equal(ntop6(r.addr as Uint8Array), '2001:db8:2::a');
    assert.equal(r.ifp, ea);
    // Rule 3: avoid deprecated.
    const ia = A.inet6.ifaWithAddr(a6('2001:db8:2::a'));
    assert.ok(ia);
    ia.flags |= IN6_IFF_DEPRECATED;
    assert.equal(ntop6(in6_selectsrc(A, a6('2001:db8:2::99'), 0).addr as Uint8Array), '2001:db8:1::a');
    // Rule 2: a global destination never gets a link-local source while a global exists.
    assert.notEqual((in6_selectsrc(A, a6('2001:db8:3::1'), 0).addr as Uint8Array)[0], 0xfe);
    // No route: EHOSTUNREACH; no usable address: EADDRNOTAVAIL.
    assert.equal(in6_selectsrc(A, a6('2001:db9::1'), 0).error, EHOSTUNREACH);
    const { A: C, ea: ec } = setup();
    for (const x of [...C.inet6.addrs]) if (x.ifa_ifp === ec) C.inet6.removeIfa(x);
    C.rt.add6(a6('2001:db8:9::'), 64, { ifp: ec });
    assert.equal(in6_selectsrc(C, a6('2001:db8:9::1'), 0).error, EADDRNOTAVAIL);
  });
});
