/*
 * Tests for epair (src/net/if_epair.ts): frames cross between two Vnets from soft work (no
 * re-entrancy), counters, the receive queue bound, checksum offload, teardown.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CSUM_DATA_VALID, CSUM_IP_UDP, M_VLANTAG, type Mbuf, m_freem } from '../../src/mbuf/mbuf.js';
import { BPF_D_OUT, BpfTap } from '../../src/net/bpf.js';
import { IFF_UP, Ifnet } from '../../src/net/if.js';
import { epair_create } from '../../src/net/if_epair.js';
import { ether_output_frame } from '../../src/net/if_ethersubr.js';
import { ENETDOWN, ENOBUFS } from '../../src/sys/errno.js';
import { ETHERTYPE_TEST, frame, packet, testProto, vnets } from '../helpers/net.js';

function pair(opts: { qlimit?: number; mtu?: number } = {}) {
  const { clock, V } = vnets(2);
  const [va, vb] = V as [(typeof V)[0], (typeof V)[0]];
  const gotA = testProto(va);
  const gotB = testProto(vb);
  const [a, b] = epair_create(va, vb, opts);
  return { clock, va, vb, a, b, gotA, gotB };
}

describe('epair', () => {
  it('creates epairNa/epairNb in two Vnets with the smallest unit free in both', () => {
    const { va, vb, a, b } = pair();
    assert.equal(a.if_xname, 'epair0a');
    assert.equal(b.if_xname, 'epair0b');
    assert.equal(va.ifnet.byname('epair0a'), a);
    assert.equal(vb.ifnet.byname('epair0b'), b);
    assert.ok(a.up && b.up);
    assert.equal(a.if_lladdr[0], 0x02, 'locally administered unicast');
    assert.notDeepEqual(a.if_lladdr, b.if_lladdr);
    const [a1, b1] = epair_create(va, vb);
    assert.deepEqual([a1.if_xname, b1.if_xname], ['epair1a', 'epair1b']);
    // A unit used on only one side is skipped on both.
    vb.ifnet.attach(new Ifnet(vb, 'epair', 2, 'epair2b'));
    const [a3] = epair_create(va, vb);
    assert.equal(a3.if_xname, 'epair3a');
  });

  it('frames cross both ways, delivered from soft work, never on the sender’s stack', () => {
    const { clock, va, vb, a, b, gotA, gotB } = pair();
    const payload = [9, 8, 7, 6];
    assert.equal(ether_output_frame(a, packet(va, payload), b.if_lladdr, ETHERTYPE_TEST), 0);
    assert.equal(gotB.length, 0, 'not delivered synchronously');
    clock.drain();
    assert.equal(gotB.length, 1);
    assert.deepEqual(gotB[0]?.bytes, payload);
    assert.equal(gotB[0]?.rcvif, 'epair0b');
    ether_output_frame(b, packet(vb, [1]), a.if_lladdr, ETHERTYPE_TEST);
    clock.advance(0);
    assert.deepEqual(gotA[0]?.bytes, [1]);
    const fl = frame(b.if_lladdr, a.if_lladdr, ETHERTYPE_TEST, payload).length;
    assert.deepEqual([a.if_data.opackets, a.if_data.obytes, b.if_data.ipackets, b.if_data.ibytes], [1, fl, 1, fl]);
    assert.deepEqual([b.if_data.opackets, a.if_data.ipackets], [1, 1]);
    // Every mbuf went home to its own Vnet's zone.
    assert.equal(va.mbufs.zone_mbuf.stats().used, 0);
    assert.equal(vb.mbufs.zone_mbuf.stats().used, 0);
  });

  it('a receiver that answers from its input handler does not re-enter the sender', () => {
    const { clock, va, vb, a, b } = pair();
    const log: string[] = [];
    let depth = 0;
    vb.netisr.unregister(14);
    vb.netisr.register({
      name: 'echo',
      proto: 14,
      handler: (m: Mbuf) => {
        depth++;
        log.push(`b-in depth=${depth}`);
        m_freem(m);
        ether_output_frame(b, packet(vb, [2]), a.if_lladdr, ETHERTYPE_TEST);
        log.push('b-sent');
        depth--;
      },
    });
    va.netisr.unregister(14);
    va.netisr.register({
      name: 'sink',
      proto: 14,
      handler: (m: Mbuf) => {
        log.push(`a-in depth=${depth}`);
        m_freem(m);
      },
    });
    ether_output_frame(a, packet(va, [1]), b.if_lladdr, ETHERTYPE_TEST);
    log.push('a-sent');
    clock.drain();
    assert.deepEqual(log, ['a-sent', 'b-in depth=1', 'b-sent', 'a-in depth=0']);
  });

  it('a burst beyond the receive queue bound is tail-dropped and counted', () => {
    const { clock, va, vb, a, b, gotB } = pair({ qlimit: 8 });
    const errs: number[] = [];
    for (let i = 0; i < 20; i++) errs.push(ether_output_frame(a, packet(va, [i]), b.if_lladdr, ETHERTYPE_TEST));
    assert.equal(errs.filter((e) => e === ENOBUFS).length, 12);
    assert.equal(a.if_data.oqdrops, 12);
    assert.equal(a.if_data.opackets, 8);
    clock.drain();
    assert.deepEqual(
      gotB.map((g) => g.bytes[0]),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(va.mbufs.zone_mbuf.stats().used, 0);
    assert.equal(vb.mbufs.zone_mbuf.stats().used, 0);
  });

  it('the receiver is told offloaded checksums are valid; transmit requests and VLAN metadata do not cross', () => {
    const { clock, va, a, b, gotB } = pair();
    const m = packet(va, [0, 1, 2, 3]);
    m.csum_flags = CSUM_IP_UDP;
    m.csum_data = 6;
    m.m_flags |= M_VLANTAG;
    m.ether_vtag = 77;
    ether_output_frame(a, m, b.if_lladdr, ETHERTYPE_TEST);
    clock.drain();
    assert.ok((gotB[0]?.csum_flags ?? 0) & CSUM_DATA_VALID);
    assert.equal((gotB[0]?.csum_flags ?? 0) & CSUM_IP_UDP, 0);
    assert.equal((gotB[0]?.flags ?? 0) & M_VLANTAG, 0);
    assert.equal(gotB[0]?.vtag, 0);
  });

  it('stamps the receive time from the receiver’s clock', () => {
    const { clock, va, a, b, gotB } = pair();
    clock.advance(12_345);
    ether_output_frame(a, packet(va, [1]), b.if_lladdr, ETHERTYPE_TEST);
    clock.drain();
    assert.equal(gotB[0]?.rcv_tstmp, 12_345);
  });

  it('taps see the frame on the sending side as it leaves', () => {
    const { clock, va, a, b } = pair();
    const seen: [number, number][] = [];
    new BpfTap(a, (_d, len, dir) => seen.push([len, dir]));
    ether_output_frame(a, packet(va, [1, 2, 3]), b.if_lladdr, ETHERTYPE_TEST);
    clock.drain();
    assert.deepEqual(seen, [[17, BPF_D_OUT]]);
  });

  it('a receiver that is down drops (iqdrops); a detached peer refuses (ENETDOWN); queued frames die with the interface', () => {
    const { clock, va, vb, a, b, gotB } = pair();
    b.if_flags &= ~IFF_UP;
    assert.equal(ether_output_frame(a, packet(va, [1]), b.if_lladdr, ETHERTYPE_TEST), 0);
    clock.drain();
    assert.equal(gotB.length, 0);
    assert.equal(b.if_data.iqdrops, 1);
    b.if_flags |= IFF_UP;
    ether_output_frame(a, packet(va, [2]), b.if_lladdr, ETHERTYPE_TEST);
    vb.ifnet.detach(b);
    clock.drain();
    assert.equal(gotB.length, 0);
    assert.equal(va.mbufs.zone_mbuf.stats().used, 0, 'the queued frame was freed');
    assert.equal(ether_output_frame(a, packet(va, [3]), b.if_lladdr, ETHERTYPE_TEST), ENETDOWN);
    assert.equal(a.if_data.oerrors, 1);
    assert.equal(va.mbufs.zone_mbuf.stats().used, 0);
  });
});
