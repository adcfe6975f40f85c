/*
 * ARP (src/netinet/if_ether.ts; RFC 826, RFC 5227): resolution through the cache states
 * (incomplete → reachable → stale → verified or deleted), the bounded hold queue, request
 * rate limiting and resolution failure (EHOSTDOWN for net.link.ether.inet.wait seconds),
 * gratuitous ARP on address add, duplicate address detection (logged, counted, defended),
 * probes, address moves and permanent entries — on a fake interface whose frames the test
 * reads and writes, and between two instances on a simulated Ethernet.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Stack } from '../../src/api/stack.js';
import { ARP_LLINFO_INCOMPLETE, ARP_LLINFO_REACHABLE, ARP_LLINFO_STALE } from '../../src/netinet/if_ether.js';
import { EHOSTDOWN } from '../../src/sys/errno.js';
import { get16, get32 } from '../../src/wire/bytes.js';
import { arpPkt, fakeEther, injectFrame, ip, parse4, rawIcmp, SEC, VirtualClock, vnet } from './helpers.js';

const ME = ip('10.0.0.1');
const PEER = ip('10.0.0.2');
const PEER_MAC = Uint8Array.of(0x02, 0xbb, 0, 0, 0, 2);
const OTHER_MAC = Uint8Array.of(0x02, 0xcc, 0, 0, 0, 3);
const BCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

function setup() {
  const clock = new VirtualClock();
  const V = vnet('a', clock, 31);
  const fe = fakeEther(V);
  const r = V.inet.addAddress(fe.ifp, ME, 24);
  assert.equal(r.error, 0);
  return { clock, V, fe };
}

function arpFields(p: Uint8Array) {
  return { op: get16(p, 6), sha: p.subarray(8, 14), spa: get32(p, 14), tha: p.subarray(18, 24), tpa: get32(p, 24) };
}

function reply(V: ReturnType<typeof setup>['V'], fe: ReturnType<typeof setup>['fe'], mac = PEER_MAC, spa = PEER) {
  injectFrame(fe.ifp, mac, fe.mac, 0x0806, arpPkt(2, mac, spa, fe.mac, ME));
  void V;
}

describe('ARP', () => {
  it('announces a new address with a gratuitous ARP request (spa = tpa, RFC 5227 §3)', () => {
    const { fe } = setup();
    const a = fe.arp();
    assert.equal(a.length, 1);
    const f = arpFields((a[0] as { pkt: Uint8Array }).pkt);
    assert.deepEqual([...(a[0] as { dst: Uint8Array }).dst], [...BCAST]);
    assert.equal(f.op, 1);
    assert.equal(f.spa, ME);
    assert.equal(f.tpa, ME);
    assert.deepEqual([...f.sha], [...fe.mac]);
  });

  it('resolves: broadcast request, entry incomplete with the packet held, then reachable and the packet sent', () => {
    const { clock, V, fe } = setup();
    fe.clear();
    const p = rawIcmp(V);
    assert.equal(p.ping(PEER, 1, 1), 0);
    const req = fe.arp();
    assert.equal(req.length, 1);
    const f = arpFields((req[0] as { pkt: Uint8Array }).pkt);
    assert.equal(f.op, 1);
    assert.equal(f.spa, ME);
    assert.equal(f.tpa, PEER);
    assert.deepEqual([...f.tha], [0, 0, 0, 0, 0, 0]);
    assert.equal(fe.ip4().length, 0, 'nothing sent before resolution');
    const la = V.arp.lookup(fe.ifp, PEER);
    assert.equal(la?.state, ARP_LLINFO_INCOMPLETE);
    assert.equal(la?.holdCount, 1);
    assert.equal(V.arp.list()[0]?.lladdr, '(incomplete)');
    reply(V, fe);
    clock.advance(0);
    assert.equal(la?.state, ARP_LLINFO_REACHABLE);
    assert.equal(la?.holdCount, 0);
    const out = fe.frames.filter((x) => get16(x, 12) === 0x0800);
    assert.equal(out.length, 1);
    assert.deepEqual([...(out[0] as Uint8Array).subarray(0, 6)], [...PEER_MAC], 'sent to the resolved address');
    assert.equal(parse4((out[0] as Uint8Array).subarray(14)).dst, PEER);
    assert.equal(V.arp.list()[0]?.state, 'reachable');
    assert.equal(V.arp.list()[0]?.expire_s, 1200, 'net.link.ether.inet.max_age');
  });

  it('bounds the hold queue (net.link.ether.inet.maxhold), dropping the oldest, and flushes in order', () => {
    const { clock, V, fe } = setup();
    assert.equal(V.sysctl.get('net.link.ether.inet.maxhold'), 16);
    V.sysctl.set('net.link.ether.inet.maxhold', 4);
    fe.clear();
    const p = rawIcmp(V);
    for (let s = 0; s < 10; s++) assert.equal(p.ping(PEER, 1, s), 0);
    assert.equal(fe.arp().length, 1, 'one request however many packets wait (rate limit)');
    assert.equal(V.arp.lookup(fe.ifp, PEER)?.holdCount, 4);
    assert.equal(V.arp.stat.dropped, 6);
    reply(V, fe);
    clock.advance(0);
    const seqs = fe.ip4().map((x) => get16(parse4(x).payload, 6));
    assert.deepEqual(seqs, [6, 7, 8, 9], 'the newest packets survive, in order');
  });

  it('retransmits once a second, then gives up after maxtries: held packets dropped, EHOSTDOWN for `wait` seconds', () => {
    const { clock, V, fe } = setup();
    fe.clear();
    const p = rawIcmp(V);
    p.ping(PEER, 1, 0);
    p.ping(PEER, 1, 1);
    clock.advance(SEC / 2);
    assert.equal(fe.arp().length, 1);
    clock.advance(SEC / 2);
    assert.equal(fe.arp().length, 2, 'second request after one second');
    clock.advance(10 * SEC);
    assert.equal(fe.arp().length, 5, 'net.link.ether.inet.maxtries = 5');
    const la = V.arp.lookup(fe.ifp, PEER);
    assert.equal(la?.down, true);
    assert.equal(la?.holdCount, 0);
    assert.equal(V.arp.stat.dropped, 2);
    assert.equal(p.ping(PEER, 1, 2), EHOSTDOWN, 'refused at once during the hold-down');
    assert.equal(fe.arp().length, 5, 'no request during the hold-down');
    clock.advance(20 * SEC);
    assert.equal(V.arp.lookup(fe.ifp, PEER), undefined, 'forgotten after net.link.ether.inet.wait');
    assert.equal(p.ping(PEER, 1, 3), 0);
    assert.equal(fe.arp().length, 6, 'a fresh resolution');
  });

  it('expires reachable entries to stale after max_age; a stale entry is used and verified by unicast', () => {
    const { clock, V, fe } = setup();
    V.sysctl.set('net.link.ether.inet.max_age', 60);
    const p = rawIcmp(V);
    p.ping(PEER, 1, 0);
    reply(V, fe);
    clock.advance(0);
    const la = V.arp.lookup(fe.ifp, PEER);
    assert.equal(la?.state, ARP_LLINFO_REACHABLE);
    clock.advance(61 * SEC);
    assert.equal(la?.state, ARP_LLINFO_STALE);
    fe.clear();
    p.ping(PEER, 1, 1);
    assert.equal(fe.ip4().length, 1, 'a stale entry is still used');
    const req = fe.arp();
    assert.equal(req.length, 1);
    assert.deepEqual([...(req[0] as { dst: Uint8Array }).dst], [...PEER_MAC], 'verification request is unicast');
    reply(V, fe);
    clock.advance(0);
    assert.equal(la?.state, ARP_LLINFO_REACHABLE);
  });

  it('deletes a stale entry nobody verified after `wait` seconds (counted in timeouts)', () => {
    const { clock, V, fe } = setup();
    V.sysctl.set('net.link.ether.inet.max_age', 60);
    rawIcmp(V).ping(PEER, 1, 0);
    reply(V, fe);
    clock.advance(61 * SEC);
    assert.equal(V.arp.lookup(fe.ifp, PEER)?.state, ARP_LLINFO_STALE);
    clock.advance(21 * SEC);
    assert.equal(V.arp.lookup(fe.ifp, PEER), undefined);
    assert.equal(V.arp.stat.timeouts, 1);
  });

  it('answers a request for our address and learns the asker; ignores requests for others', () => {
    const { clock, V, fe } = setup();
    fe.clear();
    injectFrame(fe.ifp, PEER_MAC, BCAST, 0x0806, arpPkt(1, PEER_MAC, PEER, null, ME));
    clock.advance(0);
    const a = fe.arp();
    assert.equal(a.length, 1);
    const f = arpFields((a[0] as { pkt: Uint8Array }).pkt);
    assert.equal(f.op, 2);
    assert.equal(f.spa, ME);
    assert.equal(f.tpa, PEER);
    assert.deepEqual([...f.tha], [...PEER_MAC]);
    assert.deepEqual([...(a[0] as { dst: Uint8Array }).dst], [...PEER_MAC], 'the reply is unicast');
    assert.equal(V.arp.lookup(fe.ifp, PEER)?.state, ARP_LLINFO_REACHABLE);
    injectFrame(fe.ifp, OTHER_MAC, BCAST, 0x0806, arpPkt(1, OTHER_MAC, ip('10.0.0.3'), null, ip('10.0.0.4')));
    clock.advance(0);
    assert.equal(fe.arp().length, 1, 'no answer for someone else');
    assert.equal(V.arp.lookup(fe.ifp, ip('10.0.0.3')), undefined, 'not learned (RFC 826: only merge if present)');
    assert.equal(V.arp.stat.rxrequests, 2);
  });

  it('updates an existing entry from a gratuitous ARP and logs the move', () => {
    const { clock, V, fe } = setup();
    rawIcmp(V).ping(PEER, 1, 0);
    reply(V, fe);
    clock.advance(0);
    injectFrame(fe.ifp, OTHER_MAC, BCAST, 0x0806, arpPkt(1, OTHER_MAC, PEER, null, PEER));
    clock.advance(0);
    assert.deepEqual([...(V.arp.lookup(fe.ifp, PEER)?.lladdr ?? [])], [...OTHER_MAC]);
    assert.ok(V.arp.log.some((l) => l.includes('moved from')));
  });

  it('detects a duplicate of our address: logged, counted (dupips) and defended', () => {
    const { clock, V, fe } = setup();
    fe.clear();
    injectFrame(fe.ifp, OTHER_MAC, BCAST, 0x0806, arpPkt(1, OTHER_MAC, ME, null, ME));
    clock.advance(0);
    assert.equal(V.arp.stat.dupips, 1);
    assert.ok(V.arp.log.some((l) => l.includes('is using my IP address 10.0.0.1')));
    const a = fe.arp();
    assert.equal(a.length, 1, 'defence');
    assert.equal(arpFields((a[0] as { pkt: Uint8Array }).pkt).spa, ME);
    assert.deepEqual([...(a[0] as { dst: Uint8Array }).dst], [...BCAST]);
    // RFC 5227 §2.4 (c): at most one defence per DEFEND_INTERVAL (10 s).
    injectFrame(fe.ifp, OTHER_MAC, BCAST, 0x0806, arpPkt(1, OTHER_MAC, ME, null, ME));
    clock.advance(5 * SEC);
    assert.equal(V.arp.stat.dupips, 2);
    assert.equal(fe.arp().length, 1, 'no second defence within 10 s');
    // A reply claiming our address is counted but never answered (no defence ping-pong).
    injectFrame(fe.ifp, OTHER_MAC, fe.mac, 0x0806, arpPkt(2, OTHER_MAC, ME, fe.mac, ME));
    clock.advance(10 * SEC);
    assert.equal(V.arp.stat.dupips, 3);
    assert.equal(fe.arp().length, 1);
    injectFrame(fe.ifp, OTHER_MAC, BCAST, 0x0806, arpPkt(1, OTHER_MAC, ME, null, ME));
    clock.advance(0);
    assert.equal(fe.arp().length, 2, 'defends again after the interval');
  });

  it('answers an RFC 5227 probe (sender 0.0.0.0) for our address without learning anything', () => {
    const { clock, V, fe } = setup();
    fe.clear();
    injectFrame(fe.ifp, OTHER_MAC, BCAST, 0x0806, arpPkt(1, OTHER_MAC, 0, null, ME));
    clock.advance(0);
    const a = fe.arp();
    assert.equal(a.length, 1);
    assert.equal(arpFields((a[0] as { pkt: Uint8Array }).pkt).op, 2);
    assert.equal(V.arp.lookup(fe.ifp, 0), undefined);
    assert.equal(V.arp.stat.dupips, 0);
  });

  it('keeps permanent entries (arp -s): used without requests, never modified, the attempt logged', () => {
    const { clock, V, fe } = setup();
    V.arp.addStatic(fe.ifp, PEER, PEER_MAC);
    fe.clear();
    rawIcmp(V).ping(PEER, 1, 0);
    assert.equal(fe.arp().length, 0);
    assert.equal(fe.ip4().length, 1);
    injectFrame(fe.ifp, OTHER_MAC, fe.mac, 0x0806, arpPkt(2, OTHER_MAC, PEER, fe.mac, ME));
    clock.advance(3000 * SEC);
    assert.deepEqual([...(V.arp.lookup(fe.ifp, PEER)?.lladdr ?? [])], [...PEER_MAC]);
    assert.equal(V.arp.lookup(fe.ifp, PEER)?.state, ARP_LLINFO_REACHABLE, 'permanent entries do not age');
    assert.ok(V.arp.log.some((l) => l.includes('attempts to modify permanent entry')));
  });

  it('two stacks: adding an address already in use is detected on both sides', () => {
    const clock = new VirtualClock();
    const a = new Stack({ name: 'a', clock, seed: 1 });
    const b = new Stack({ name: 'b', clock, seed: 2 });
    const link = Stack.link(a, b, { delayNs: 1000 });
    a.addAddress(link.a, '10.0.0.1/24');
    clock.advance(SEC);
    b.addAddress(link.b, '10.0.0.1/24');
    clock.advance(SEC);
    assert.equal(a.vnet.arp.stat.dupips, 1, 'a hears b announce our address');
    assert.equal(b.vnet.arp.stat.dupips, 1, 'b hears a defend it');
    clock.advance(60 * SEC);
    assert.equal(a.vnet.arp.stat.dupips, 1, 'and that is the end of it: no defence storm');
    assert.equal(b.vnet.arp.stat.dupips, 1);
    assert.ok(a.vnet.arp.log.some((l) => l.includes('is using my IP address')));
  });

  it('two stacks: ARP entries on both sides after one exchange (the target learns the asker)', () => {
    const clock = new VirtualClock();
    const a = new Stack({ name: 'a', clock, seed: 1 });
    const b = new Stack({ name: 'b', clock, seed: 2 });
    const link = Stack.link(a, b, { delayNs: 100_000 });
    a.addAddress(link.a, '10.0.0.1/24');
    b.addAddress(link.b, '10.0.0.2/24');
    rawIcmp(a.vnet).ping(PEER, 1, 1);
    clock.advance(SEC);
    assert.equal(a.vnet.arp.lookup(link.a, PEER)?.state, ARP_LLINFO_REACHABLE);
    assert.deepEqual([...(a.vnet.arp.lookup(link.a, PEER)?.lladdr ?? [])], [...link.b.if_lladdr.subarray(0, 6)]);
    assert.equal(b.vnet.arp.lookup(link.b, ME)?.state, ARP_LLINFO_REACHABLE);
    assert.equal(b.vnet.arp.stat.txrequests, 1, "b's reply needs no request of its own (only its gratuitous ARP)");
  });
});
