/*
 * Neighbour discovery between Vnets (src/netinet6/nd6*.ts): link-local formation from the
 * MAC (RFC 4291 App. A) and DAD (RFC 4862 §5.4) including real duplicates between two
 * instances, address resolution with NS/NA, and the NUD state machine of RFC 4861 §7.3
 * driven through virtual time (REACHABLE → STALE → DELAY → PROBE → REACHABLE / freed),
 * resolution failure with the bounded hold queue and ICMPv6 address unreachable.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epair_create } from '../../src/net/if_epair.js';
import { ntop6 } from '../../src/netinet/in.js';
import { IN6_IFF_DUPLICATED, IN6_IFF_TENTATIVE, ND6_IFF_IFDISABLED } from '../../src/netinet6/in6_var.js';
import { ND6_LLINFO_DELAY, ND6_LLINFO_INCOMPLETE, ND6_LLINFO_PROBE, ND6_LLINFO_REACHABLE, ND6_LLINFO_STALE } from '../../src/netinet6/nd6.js';
import { icmp6_send_echo } from '../../src/netinet6/raw_ip6.js';
import { a6, addr6, fakeEther, icmpOf, SEC, VirtualClock, vnet } from './helpers.js';

function pair(seedA = 1, seedB = 2) {
  const clock = new VirtualClock();
  const A = vnet('a', clock, seedA);
  const B = vnet('b', clock, seedB);
  const [ea, eb] = epair_create(A, B);
  return { clock, A, B, ea, eb };
}

describe('link-local formation and DAD', () => {
  it('forms fe80::/64 + EUI-64 from the MAC, tentative until DAD completes', () => {
    const clock = new VirtualClock();
    const V = vnet('v', clock);
    const f = fakeEther(V, Uint8Array.of(0x00, 0x11, 0x22, 0x33, 0x44, 0x55));
    const ia = V.inet6.addrs.find((x) => x.ifa_ifp === f.ifp);
    assert.ok(ia);
    // RFC 4291 App. A: universal/local bit inverted, ff:fe in the middle.
    assert.equal(ntop6(ia.addr), 'fe80::211:22ff:fe33:4455');
    assert.equal(ia.prefixlen, 64);
    assert.ok(ia.flags & IN6_IFF_TENTATIVE);
    assert.equal(V.inet6.isLocal(ia.addr, 0, f.ifp), false, 'tentative addresses are not usable');
    // lo0 got ::1 and fe80::1 without DAD.
    assert.ok(V.inet6.isLocal(a6('::1')));
    assert.ok(V.inet6.addrs.some((x) => ntop6(x.addr) === 'fe80::1' && x.ifa_ifp === V.loif));
    clock.advance(3 * SEC);
    assert.equal(ia.flags & IN6_IFF_TENTATIVE, 0);
    assert.equal(V.inet6.isLocal(ia.addr, 0, f.ifp), true);
    // One DAD probe (net.inet6.ip6.dad_count=1): NS from ::, to the solicited-node group,
    // hop limit 255, a nonce option and no source link-layer address option.
    const ns = icmpOf(f.ip6()).filter((x) => x.type === 135);
    assert.equal(ns.length, 1);
    const p = ns[0]?.pkt as Uint8Array;
    assert.equal(ntop6(p.subarray(8, 24)), '::');
    assert.equal(ntop6(p.subarray(24, 40)), 'ff02::1:ff33:4455');
    assert.equal(p[7], 255);
    const msg = ns[0]?.msg as Uint8Array;
    assert.equal(ntop6(msg.subarray(8, 24)), 'fe80::211:22ff:fe33:4455');
    assert.equal(msg[24], 14, 'nonce option (RFC 7527)');
    // Ethernet destination 33:33:ff:33:44:55 (RFC 2464 §7).
    const fr = f.frames.find((x) => x[12] === 0x86 && x[13] === 0xdd) as Uint8Array;
    assert.deepEqual([...fr.subarray(0, 6)], [0x33, 0x33, 0xff, 0x33, 0x44, 0x55]);
  });

  it('sends net.inet6.ip6.dad_count probes RetransTimer apart', () => {
    const clock = new VirtualClock();
    const V = vnet('v', clock);
    V.sysctl.set('net.inet6.ip6.dad_count', 3);
    const f = fakeEther(V);
    clock.advance(10 * SEC);
    const ns = icmpOf(f.ip6()).filter((x) => x.type === 135);
    assert.equal(ns.length, 3);
    assert.ok(V.inet6.addrs.every((x) => !(x.flags & IN6_IFF_TENTATIVE)));
  });

  it('detects a real duplicate global address between two instances', () => {
    const { clock, A, B, ea, eb } = pair();
    clock.advance(3 * SEC);
    const g = a6('2001:db8::1');
    assert.equal(A.inet6.addAddress(ea, g, 64).error, 0);
    clock.advance(3 * SEC);
    const iaA = A.inet6.ifaWithAddr(g, 0, ea);
    assert.ok(iaA?.ready, 'A owns the address');
    // B tries the same address: A defends it with an NA, B marks it duplicated.
    assert.equal(B.inet6.addAddress(eb, g, 64).error, 0);
    clock.advance(3 * SEC);
    const iaB = B.inet6.ifaWithAddr(g, 0, eb);
    assert.ok(iaB);
    assert.ok(iaB.flags & IN6_IFF_DUPLICATED);
    assert.equal(iaB.flags & IN6_IFF_TENTATIVE, 0);
    assert.equal(B.inet6.isLocal(g), false, 'a duplicated address is never used');
    assert.equal(B.icmp6.stat.icp6s_dad_duplicated, 1);
    assert.ok(B.nd6.log.some((l) => l.includes('DAD detected duplicate IPv6 address 2001:db8::1')));
    assert.ok(A.inet6.ifaWithAddr(g, 0, ea)?.ready, 'the owner keeps it');
    assert.ok(B.nd6.log.length <= B.nd6.logmax);
  });

  it('two nodes probing the same address at once both detect the duplicate', () => {
    const { clock, A, B, ea, eb } = pair();
    clock.advance(3 * SEC);
    const g = a6('2001:db8::7');
    A.inet6.addAddress(ea, g, 64);
    B.inet6.addAddress(eb, g, 64);
    clock.advance(3 * SEC);
    assert.ok((A.inet6.ifaWithAddr(g, 0, ea)?.flags ?? 0) & IN6_IFF_DUPLICATED);
    assert.ok((B.inet6.ifaWithAddr(g, 0, eb)?.flags ?? 0) & IN6_IFF_DUPLICATED);
  });

  it('a duplicated hardware-derived link-local address disables IPv6 on the interface (RFC 4862 §5.4.5)', () => {
    const clock = new VirtualClock();
    const A = vnet('a', clock, 1);
    const B = vnet('b', clock, 2);
    const [ea, eb] = epair_create(A, B);
    void ea;
    // Give B's end the same MAC as A's, then re-run B's link-local DAD.
    const ll = B.inet6.addrs.find((x) => x.ifa_ifp === eb)?.addr as Uint8Array;
    clock.advance(3 * SEC);
    B.inet6.deleteAddress(eb, ll);
    eb.if_lladdr = Uint8Array.from(ea.if_lladdr);
    const llA = A.inet6.addrs.find((x) => x.ifa_ifp === ea)?.addr as Uint8Array;
    B.inet6.addAddress(eb, llA, 64);
    clock.advance(3 * SEC);
    assert.ok((B.inet6.ifaWithAddr(llA, 0, eb)?.flags ?? 0) & IN6_IFF_DUPLICATED);
    assert.ok(B.inet6.ifextra(eb).flags & ND6_IFF_IFDISABLED);
    assert.ok(B.nd6.log.some((l) => l.includes('possible hardware address duplication')));
  });

  it('dad_count=0 makes new addresses usable at once', () => {
    const clock = new VirtualClock();
    const V = vnet('v', clock);
    V.sysctl.set('net.inet6.ip6.dad_count', 0);
    const f = fakeEther(V);
    assert.ok(V.inet6.addrs.filter((x) => x.ifa_ifp === f.ifp).every((x) => x.ready));
  });
});

describe('address resolution and NUD (RFC 4861 §7)', () => {
  it('resolves a neighbour with NS/NA and walks REACHABLE → STALE → DELAY → PROBE → REACHABLE', () => {
    const { clock, A, B, ea, eb } = pair();
    addr6(A, ea, '2001:db8::a');
    addr6(B, eb, '2001:db8::b');
    clock.advance(3 * SEC);
    const replies: number[] = [];
    A.rawip6.listenEcho(1, (r) => replies.push(r.seq));
    assert.equal(icmp6_send_echo(A, null, a6('2001:db8::b'), 1, 1, new Uint8Array(16)), 0);
    let ln = A.nd6.lookup(ea, a6('2001:db8::b'));
    assert.equal(ln?.state, ND6_LLINFO_INCOMPLETE);
    assert.equal(ln?.holdCount, 1);
    clock.advance(100_000_000);
    assert.deepEqual(replies, [1]);
    ln = A.nd6.lookup(ea, a6('2001:db8::b'));
    assert.equal(ln?.state, ND6_LLINFO_REACHABLE, 'a solicited NA confirms reachability');
    assert.deepEqual([...(ln?.lladdr ?? [])], [...eb.if_lladdr]);
    // B learned A from the NS (STALE), then used it for the reply (DELAY).
    const lb = B.nd6.lookup(eb, a6('2001:db8::a'));
    assert.equal(lb?.state, ND6_LLINFO_DELAY);
    // ReachableTime is random in [15, 45] s: after 46 s the entry is STALE.
    clock.advance(46 * SEC);
    assert.equal(A.nd6.lookup(ea, a6('2001:db8::b'))?.state, ND6_LLINFO_STALE);
    // First use of a STALE entry: DELAY (the packet goes out at once).
    icmp6_send_echo(A, null, a6('2001:db8::b'), 1, 2, new Uint8Array(16));
    assert.equal(A.nd6.lookup(ea, a6('2001:db8::b'))?.state, ND6_LLINFO_DELAY);
    clock.advance(100_000_000);
    assert.deepEqual(replies, [1, 2]);
    // No upper-layer confirmation within nd6_delay (5 s): PROBE with a unicast NS, which
    // B answers with a solicited NA: REACHABLE again.
    clock.advance(4.7 * SEC);
    assert.equal(A.nd6.lookup(ea, a6('2001:db8::b'))?.state, ND6_LLINFO_DELAY);
    const nsOut = A.icmp6.stat.icp6s_outhist[135] as number;
    const nsIn = B.icmp6.stat.icp6s_inhist[135] as number;
    clock.advance(0.4 * SEC);
    assert.equal((A.icmp6.stat.icp6s_outhist[135] as number) - nsOut, 1, 'one probe');
    assert.ok((B.icmp6.stat.icp6s_inhist[135] as number) > nsIn);
    assert.equal(A.nd6.lookup(ea, a6('2001:db8::b'))?.state, ND6_LLINFO_REACHABLE);
  });

  it('frees an entry whose neighbour stops answering probes', () => {
    const { clock, A, B, ea, eb } = pair();
    addr6(A, ea, '2001:db8::a');
    addr6(B, eb, '2001:db8::b');
    clock.advance(3 * SEC);
    icmp6_send_echo(A, null, a6('2001:db8::b'), 1, 1, new Uint8Array(4));
    clock.advance(SEC);
    assert.equal(A.nd6.lookup(ea, a6('2001:db8::b'))?.state, ND6_LLINFO_REACHABLE);
    // B goes away (its interface is brought down).
    eb.if_flags &= ~1;
    clock.advance(46 * SEC);
    icmp6_send_echo(A, null, a6('2001:db8::b'), 1, 2, new Uint8Array(4));
    clock.advance(5 * SEC);
    assert.equal(A.nd6.lookup(ea, a6('2001:db8::b'))?.state, ND6_LLINFO_PROBE);
    clock.advance(4 * SEC);
    assert.equal(A.nd6.lookup(ea, a6('2001:db8::b')), undefined, 'freed after nd6_umaxtries probes');
  });

  it('gives up after nd6_mmaxtries multicast NS: held packets dropped, ICMPv6 address unreachable', () => {
    const clock = new VirtualClock();
    const V = vnet('v', clock);
    const f = fakeEther(V);
    addr6(V, f.ifp, '2001:db8::1');
    clock.advance(3 * SEC);
    f.clear();
    for (let i = 0; i < 20; i++) icmp6_send_echo(V, null, a6('2001:db8::99'), 9, i, new Uint8Array(8));
    const ln = V.nd6.lookup(f.ifp, a6('2001:db8::99'));
    assert.equal(ln?.holdCount, 16, 'net.inet6.icmp6.nd6_maxqueuelen bounds the hold queue');
    assert.equal(V.icmp6.stat.icp6s_dropped, 4);
    clock.advance(10 * SEC);
    const ns = icmpOf(f.ip6()).filter((x) => x.type === 135);
    assert.equal(ns.length, 3, 'MAX_MULTICAST_SOLICIT');
    // Each NS carries our link-layer address and goes to the solicited-node group.
    for (const n of ns) {
      assert.equal(ntop6(n.pkt.subarray(24, 40)), 'ff02::1:ff00:99');
      assert.equal(ntop6(n.pkt.subarray(8, 24)), '2001:db8::1');
      assert.equal(n.msg[24], 1);
    }
    assert.equal(V.nd6.lookup(f.ifp, a6('2001:db8::99')), undefined);
    assert.equal(V.icmp6.stat.icp6s_dropped, 20);
    assert.equal(V.icmp6.stat.icp6s_odst_unreach_addr, 1);
  });

  it('learns a neighbour from an NS with a source link-layer address (STALE) and answers it', () => {
    const { clock, A, B, ea, eb } = pair();
    addr6(A, ea, '2001:db8::a');
    addr6(B, eb, '2001:db8::b');
    clock.advance(3 * SEC);
    icmp6_send_echo(A, null, a6('2001:db8::b'), 3, 1, new Uint8Array(4));
    clock.advance(SEC);
    const lb = B.nd6.lookup(eb, a6('2001:db8::a'));
    assert.ok(lb);
    assert.deepEqual([...lb.lladdr], [...ea.if_lladdr]);
    assert.ok(B.nd6.list().some((e) => e.addr === '2001:db8::a'));
    assert.ok(Array.isArray(A.sysctl.get('net.inet6.icmp6.nd6_list')));
  });
});
