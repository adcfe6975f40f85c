/*
 * Tests for Ethernet input/output (src/net/if_ethersubr.ts), 802.1Q VLANs (src/net/if_vlan.ts)
 * and the loopback interface (src/net/if_loop.ts).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CSUM_DATA_VALID,
  CSUM_IP_UDP,
  CSUM_IP_VALID,
  M_BCAST,
  M_LOOP,
  M_MCAST,
  M_PROMISC,
  M_VLANTAG,
  type Mbuf,
  m_freem,
  m_tobytes,
} from '../../src/mbuf/mbuf.js';
import { BPF_D_IN, BpfTap } from '../../src/net/bpf.js';
import { IFF_PROMISC, IFF_UP, IFT_L2VLAN } from '../../src/net/if.js';
import { epair_create } from '../../src/net/if_epair.js';
import { ether_output, ether_output_frame, isBroadcast } from '../../src/net/if_ethersubr.js';
import { if_simloop, looutput } from '../../src/net/if_loop.js';
import { vlan_create } from '../../src/net/if_vlan.js';
import { LINKTYPE_NULL } from '../../src/net/pcap.js';
import { NETISR_IP, NETISR_IPV6 } from '../../src/net/netisr.js';
import { EAFNOSUPPORT, ENETDOWN, EWOULDBLOCK } from '../../src/sys/errno.js';
import { get16 } from '../../src/wire/bytes.js';
import { BROADCAST, ETHERTYPE_TEST, ETHERTYPE_UNHANDLED, etherIf, frame, input, llcFrame, mac, packet, testProto, vlanFrame, vnets } from '../helpers/net.js';

const OURS = mac(0x11);
const PEER = mac(0x22);
const OTHER = mac(0x33);
const PAYLOAD = [1, 2, 3, 4, 5, 6, 7, 8];

function setup() {
  const { clock, V } = vnets(1);
  const v = V[0]!;
  const got = testProto(v);
  const { ifp, sent } = etherIf(v, 'em0', OURS);
  const taps: { bytes: number[]; dir: number }[] = [];
  new BpfTap(ifp, (d, len, dir) => taps.push({ bytes: [...d.subarray(0, len)], dir }));
  return { clock, V: v, ifp, sent, got, taps, st: v.ether.stats };
}

describe('ether_input', () => {
  it('delivers frames for our address, header stripped, rcvif set', () => {
    const { ifp, got, taps, st } = setup();
    input(ifp, frame(OURS, PEER, ETHERTYPE_TEST, PAYLOAD));
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]?.bytes, PAYLOAD);
    assert.equal(got[0]?.rcvif, 'em0');
    assert.equal(got[0]?.l2hlen, 14);
    assert.equal((got[0]?.flags ?? 0) & (M_BCAST | M_MCAST | M_PROMISC), 0);
    assert.equal(taps.length, 1);
    assert.equal(taps[0]?.dir, BPF_D_IN);
    assert.equal(ifp.if_data.imcasts, 0);
    assert.deepEqual({ ...st }, { runts: 0, notours: 0, novlan: 0, llcdrop: 0, badtype: 0, noproto: 0 });
  });

  it('broadcast and multicast are accepted, flagged and counted', () => {
    const { ifp, got } = setup();
    input(ifp, frame(BROADCAST, PEER, ETHERTYPE_TEST, PAYLOAD));
    input(ifp, frame(new Uint8Array([0x01, 0x00, 0x5e, 0, 0, 1]), PEER, ETHERTYPE_TEST, PAYLOAD));
    assert.equal(got.length, 2);
    assert.equal((got[0]?.flags ?? 0) & (M_BCAST | M_MCAST), M_BCAST);
    assert.equal((got[1]?.flags ?? 0) & (M_BCAST | M_MCAST), M_MCAST);
    assert.equal(ifp.if_data.imcasts, 2);
    assert.equal(isBroadcast(BROADCAST, 0), true);
    assert.equal(isBroadcast(OURS, 0), false);
  });

  it('unicast for another station is dropped and counted (still seen by the tap)', () => {
    const { V, ifp, got, taps, st } = setup();
    const used = V.mbufs.zone_mbuf.stats().used;
    input(ifp, frame(OTHER, PEER, ETHERTYPE_TEST, PAYLOAD));
    assert.equal(got.length, 0);
    assert.equal(st.notours, 1);
    assert.equal(taps.length, 1);
    assert.equal(V.mbufs.zone_mbuf.stats().used, used, 'freed');
  });

  it('promiscuous mode taps frames for other stations but does not pass them up', () => {
    const { V, ifp, got, taps, st } = setup();
    ifp.if_flags |= IFF_PROMISC;
    const used = V.mbufs.zone_mbuf.stats().used;
    input(ifp, frame(OTHER, PEER, ETHERTYPE_TEST, PAYLOAD));
    assert.equal(got.length, 0);
    assert.equal(taps.length, 1);
    assert.equal(st.notours, 0);
    assert.equal(V.mbufs.zone_mbuf.stats().used, used);
    input(ifp, frame(OURS, PEER, ETHERTYPE_TEST, PAYLOAD));
    assert.equal(got.length, 1, 'our own frames still go up');
  });

  it('runts are dropped and counted', () => {
    const { ifp, got, st } = setup();
    input(ifp, new Uint8Array(13));
    assert.equal(got.length, 0);
    assert.equal(st.runts, 1);
    assert.equal(ifp.if_data.ierrors, 1);
  });

  it('a frame whose header spans mbufs is pulled up and delivered', () => {
    const { V, ifp, got } = setup();
    const f = frame(OURS, PEER, ETHERTYPE_TEST, PAYLOAD);
    const a = packet(V, f.subarray(0, 5), 0);
    const b = packet(V, f.subarray(5), 0);
    a.m_next = b;
    b.m_flags = 0;
    a.len = f.length;
    ifp.if_input(ifp, a);
    assert.deepEqual(got[0]?.bytes, PAYLOAD);
  });

  it('unknown EtherTypes are counted as noproto', () => {
    const { V, ifp, got, st } = setup();
    const used = V.mbufs.zone_mbuf.stats().used;
    input(ifp, frame(OURS, PEER, ETHERTYPE_UNHANDLED, PAYLOAD));
    assert.equal(got.length, 0);
    assert.equal(st.noproto, 1);
    assert.equal(ifp.if_data.noproto, 1);
    assert.equal(V.mbufs.zone_mbuf.stats().used, used);
  });

  it('type/length values 1501..1535 are invalid: dropped and counted', () => {
    const { ifp, got, st } = setup();
    for (const t of [1501, 1535, 0x5ff]) input(ifp, frame(OURS, PEER, t, PAYLOAD));
    assert.equal(got.length, 0);
    assert.equal(st.badtype, 3);
    assert.equal(st.llcdrop, 0);
  });

  it('802.2 SNAP with OUI 0 is demultiplexed by its EtherType', () => {
    const { ifp, got, st } = setup();
    input(ifp, llcFrame(OURS, PEER, [0xaa, 0xaa, 0x03, 0, 0, 0, ETHERTYPE_TEST >> 8, ETHERTYPE_TEST & 0xff], PAYLOAD));
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]?.bytes, PAYLOAD);
    assert.equal(got[0]?.l2hlen, 22);
    assert.equal(st.llcdrop, 0);
  });

  it('other 802.2 frames (STP, SNAP with another OUI, too short for SNAP) are dropped and counted', () => {
    const { V, ifp, got, st } = setup();
    const used = V.mbufs.zone_mbuf.stats().used;
    input(ifp, llcFrame(OURS, PEER, [0x42, 0x42, 0x03], [0, 0, 0, 0, 0, 0, 0, 0]));
    input(ifp, llcFrame(OURS, PEER, [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00], PAYLOAD));
    input(ifp, llcFrame(OURS, PEER, [0xaa, 0xaa, 0x03], [0, 0]));
    assert.equal(got.length, 0);
    assert.equal(st.llcdrop, 3);
    assert.equal(ifp.if_data.noproto, 3);
    assert.equal(V.mbufs.zone_mbuf.stats().used, used, 'all freed');
  });
});

describe('VLAN (802.1Q)', () => {
  it('a tagged frame is stripped and delivered on the VLAN interface with its VID and priority', () => {
    const { V, ifp, got, taps } = setup();
    const vl = vlan_create(ifp, 5);
    assert.equal(vl.if_type, IFT_L2VLAN);
    assert.equal(vl.if_mtu, 1496);
    assert.deepEqual(vl.if_lladdr, OURS);
    const vtaps: number[][] = [];
    new BpfTap(vl, (d, len) => vtaps.push([...d.subarray(0, len)]));
    input(ifp, vlanFrame(OURS, PEER, 0xa005, ETHERTYPE_TEST, PAYLOAD));
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]?.bytes, PAYLOAD);
    assert.equal(got[0]?.rcvif, vl.if_xname);
    assert.equal(got[0]?.vtag, 0xa005);
    assert.ok((got[0]?.flags ?? 0) & M_VLANTAG);
    assert.equal(vl.if_data.ipackets, 1);
    assert.equal(taps.length, 1, 'the parent tap sees the tagged frame');
    assert.equal(get16(Uint8Array.from(taps[0]!.bytes), 12), 0x8100);
    assert.deepEqual(vtaps, [[...frame(OURS, PEER, ETHERTYPE_TEST, PAYLOAD)]], 'the VLAN tap sees it untagged');
    assert.equal(V.mbufs.zone_mbuf.stats().used, 0);
  });

  it('an unknown VID (or a VLAN interface that is down) is dropped and counted', () => {
    const { V, ifp, got, st } = setup();
    const vl = vlan_create(ifp, 5);
    input(ifp, vlanFrame(OURS, PEER, 6, ETHERTYPE_TEST, PAYLOAD));
    vl.if_flags &= ~IFF_UP;
    input(ifp, vlanFrame(OURS, PEER, 5, ETHERTYPE_TEST, PAYLOAD));
    assert.equal(got.length, 0);
    assert.equal(st.novlan, 2);
    assert.equal(ifp.if_data.noproto, 2);
    assert.equal(V.mbufs.zone_mbuf.stats().used, 0);
  });

  it('tag stripping never writes into storage shared with another reference', () => {
    const { V, ifp, got } = setup();
    vlan_create(ifp, 7);
    const f = vlanFrame(OURS, PEER, 7, ETHERTYPE_TEST, new Uint8Array(300).fill(9));
    const m = V.mbufs.devget(f, 0, f.length, ifp) as Mbuf; // cluster storage
    const keep = V.mbufs.copypacket(m) as Mbuf;
    ifp.if_input(ifp, m);
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]?.bytes, [...new Uint8Array(300).fill(9)]);
    assert.deepEqual(m_tobytes(keep), f, 'the other reference still sees the tagged frame');
    m_freem(keep);
  });

  it('VLAN output inserts the tag after the source address (both prepend paths)', () => {
    const { V, ifp, sent } = setup();
    const vl = vlan_create(ifp, 100);
    // Leading space available: the tag goes into the same mbuf.
    ether_output_frame(vl, packet(V, PAYLOAD, 32), PEER, ETHERTYPE_TEST);
    // No leading space: a new mbuf is linked in front and the addresses pulled up into it.
    ether_output_frame(vl, packet(V, PAYLOAD, 14), PEER, ETHERTYPE_TEST);
    const want = [...vlanFrame(PEER, OURS, 100, ETHERTYPE_TEST, PAYLOAD)];
    assert.equal(sent.length, 2);
    assert.deepEqual([...(sent[0] as Uint8Array)], want);
    assert.deepEqual([...(sent[1] as Uint8Array)], want);
    assert.equal(vl.if_data.opackets, 2);
    assert.throws(() => vlan_create(ifp, 100), /already/);
    assert.throws(() => vlan_create(ifp, 4095), RangeError);
    assert.throws(() => vlan_create(ifp, 0), RangeError);
  });

  it('VLAN output on a detached parent fails with ENETDOWN and frees the packet', () => {
    const { V, ifp } = setup();
    const vl = vlan_create(ifp, 9);
    V.ifnet.detach(ifp);
    const used = V.mbufs.zone_mbuf.stats().used;
    assert.equal(ether_output_frame(vl, packet(V, PAYLOAD), PEER, ETHERTYPE_TEST), ENETDOWN);
    assert.equal(V.mbufs.zone_mbuf.stats().used, used - 0);
    assert.equal(vl.if_data.oerrors, 1);
  });

  it('round trip through an epair between two Vnets, tag on the wire', () => {
    const { clock, V } = vnets(2);
    const [va, vb] = V as [(typeof V)[0], (typeof V)[0]];
    const got = testProto(vb);
    const [a, b] = epair_create(va, vb);
    const wire: number[][] = [];
    new BpfTap(a, (d, len) => wire.push([...d.subarray(0, len)]));
    const vla = vlan_create(a, 42);
    const vlb = vlan_create(b, 42);
    vlan_create(b, 43);
    assert.equal(ether_output_frame(vla, packet(va, PAYLOAD), b.if_lladdr, ETHERTYPE_TEST), 0);
    clock.drain();
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]?.bytes, PAYLOAD);
    assert.equal(got[0]?.rcvif, vlb.if_xname);
    assert.equal((got[0]?.vtag ?? 0) & 0xfff, 42);
    assert.equal(wire.length, 1);
    assert.deepEqual(wire[0], [...vlanFrame(b.if_lladdr, a.if_lladdr, 42, ETHERTYPE_TEST, PAYLOAD)]);
  });
});

describe('ether_output', () => {
  it('resolves the next hop through the family resolver, prepends the header, transmits', () => {
    const { V, ifp, sent } = setup();
    const calls: number[] = [];
    V.ether.registerResolver(99, ETHERTYPE_TEST, (_ifp, _m, dst, _ro, edst) => {
      calls.push(dst.family);
      edst.set(PEER);
      return 0;
    });
    assert.equal(ether_output(ifp, packet(V, PAYLOAD), { family: 99 }, null), 0);
    assert.deepEqual(calls, [99]);
    assert.deepEqual([...(sent[0] as Uint8Array)], [...frame(PEER, OURS, ETHERTYPE_TEST, PAYLOAD)]);
  });

  it('a resolver that holds the packet (EWOULDBLOCK) is success; errors are returned', () => {
    const { V, ifp, sent } = setup();
    const held: Mbuf[] = [];
    V.ether.registerResolver(98, ETHERTYPE_TEST, (_i, m) => {
      held.push(m);
      return EWOULDBLOCK;
    });
    assert.equal(ether_output(ifp, packet(V, PAYLOAD), { family: 98 }, null), 0);
    assert.equal(held.length, 1);
    assert.equal(sent.length, 0);
    const used = V.mbufs.zone_mbuf.stats().used;
    assert.equal(ether_output(ifp, packet(V, PAYLOAD), { family: 97 }, null), EAFNOSUPPORT);
    assert.equal(V.mbufs.zone_mbuf.stats().used, used, 'freed on EAFNOSUPPORT');
    ifp.if_flags &= ~IFF_UP;
    assert.equal(ether_output(ifp, packet(V, PAYLOAD), { family: 98 }, null), ENETDOWN);
    assert.equal(V.mbufs.zone_mbuf.stats().used, used);
    assert.equal(ifp.if_data.oerrors, 1);
  });

  it('broadcast and multicast destinations flag the packet', () => {
    const { V, ifp } = setup();
    const seen: number[] = [];
    ifp.if_transmit = (_i, m) => {
      seen.push(m.m_flags & (M_BCAST | M_MCAST));
      m_freem(m);
      return 0;
    };
    ether_output_frame(ifp, packet(V, PAYLOAD), BROADCAST, ETHERTYPE_TEST);
    ether_output_frame(ifp, packet(V, PAYLOAD), new Uint8Array([0x33, 0x33, 0, 0, 0, 1]), ETHERTYPE_TEST);
    ether_output_frame(ifp, packet(V, PAYLOAD), PEER, ETHERTYPE_TEST);
    assert.deepEqual(seen, [M_BCAST, M_MCAST, 0]);
  });
});

describe('loopback', () => {
  function lo() {
    const { clock, V } = vnets(1, { loopback: true });
    const v = V[0]!;
    const got: { bytes: number[]; flags: number; csum: number; rcvif: string | null; proto: number }[] = [];
    for (const proto of [NETISR_IP, NETISR_IPV6]) {
      v.netisr.unregister(proto);
      v.netisr.register({
        name: `t${proto}`,
        proto,
        handler: (m) => {
          got.push({ bytes: [...m_tobytes(m)], flags: m.m_flags, csum: m.csum_flags, rcvif: m.rcvif?.if_xname ?? null, proto });
          m_freem(m);
        },
      });
    }
    return { clock, V: v, lo0: v.loif!, got };
  }

  it('looutput queues to the protocol (never on the sender’s stack), marks checksums valid, counts both ways', () => {
    const { clock, V, lo0, got } = lo();
    const taps: number[][] = [];
    const tap = new BpfTap(lo0, (d, len) => taps.push([...d.subarray(0, len)]));
    assert.equal(tap.linktype, LINKTYPE_NULL);
    const m = packet(V, [0x45, 0, 0, 20]);
    m.csum_flags = CSUM_IP_UDP;
    assert.equal(looutput(lo0, m, { family: 2 }, null), 0);
    assert.equal(looutput(lo0, packet(V, [0x60, 0, 0, 0]), { family: 28 }, null), 0);
    assert.equal(got.length, 0, 'queued, not dispatched');
    clock.drain();
    assert.equal(got.length, 2);
    assert.deepEqual(got[0]?.bytes, [0x45, 0, 0, 20]);
    assert.equal(got[0]?.proto, NETISR_IP);
    assert.equal(got[1]?.proto, NETISR_IPV6);
    assert.equal(got[0]?.rcvif, 'lo0');
    assert.ok((got[0]?.flags ?? 0) & M_LOOP);
    assert.equal((got[0]?.csum ?? 0) & (CSUM_IP_VALID | CSUM_DATA_VALID), CSUM_IP_VALID | CSUM_DATA_VALID);
    assert.equal((got[0]?.csum ?? 0) & CSUM_IP_UDP, 0, 'transmit requests do not survive the turnaround');
    assert.deepEqual([lo0.if_data.opackets, lo0.if_data.ipackets, lo0.if_data.obytes], [2, 2, 8]);
    assert.deepEqual(taps, [
      [2, 0, 0, 0, 0x45, 0, 0, 20],
      [28, 0, 0, 0, 0x60, 0, 0, 0],
    ]);
  });

  it('refuses when down or for an unknown family, freeing the packet', () => {
    const { V, lo0 } = lo();
    const used = V.mbufs.zone_mbuf.stats().used;
    assert.equal(looutput(lo0, packet(V, [1]), { family: 7 }, null), EAFNOSUPPORT);
    lo0.if_flags &= ~IFF_UP;
    assert.equal(looutput(lo0, packet(V, [1]), { family: 2 }, null), ENETDOWN);
    assert.equal(lo0.if_data.oerrors, 2);
    assert.equal(V.mbufs.zone_mbuf.stats().used, used);
  });

  it('if_simloop counts an input drop when the protocol queue is full', () => {
    const { V, lo0 } = lo();
    V.netisr.setQlimit(NETISR_IP, 2);
    for (let i = 0; i < 5; i++) if_simloop(lo0, packet(V, [i]), 2);
    assert.equal(lo0.if_data.iqdrops, 3);
  });
});
