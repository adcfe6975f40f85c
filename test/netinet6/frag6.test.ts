/*
 * IPv6 fragmentation and reassembly (src/netinet6/ip6_output.ts ip6_fragment,
 * src/netinet6/frag6.ts; RFC 8200 §4.5, RFC 5722, RFC 6946, RFC 7112): bit-exact transfers
 * over a simulated link with reordering and with loss (timeouts, counters, memory back to
 * its baseline), and hand-made fragments for overlaps, duplicates, atomic fragments, length
 * and offset errors, incomplete first fragments, the sysctl bounds and ICMPv6 time exceeded.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simlink_create } from '../../src/net/if_sim.js';
import { icmp6_send_echo, type Icmp6EchoReply } from '../../src/netinet6/raw_ip6.js';
import { nd6_add_static } from '../../src/netinet6/nd6.js';
import { a6, addr6, cat, echoReq, fakeEther, fragHdr, icmpOf, inject, ip6, mbufsInUse, SEC, VirtualClock, vnet } from './helpers.js';

const ME = a6('2001:db8::1');
const PEER = a6('2001:db8::2');
const PEER_MAC = Uint8Array.of(0x02, 0xbb, 0, 0, 0, 2);

function node() {
  const clock = new VirtualClock();
  const V = vnet('v', clock, 3);
  const f = fakeEther(V);
  addr6(V, f.ifp, '2001:db8::1');
  nd6_add_static(V, f.ifp, PEER, PEER_MAC);
  clock.advance(3 * SEC);
  f.clear();
  return { clock, V, f };
}

/** Split the payload of `pkt` (an IPv6 packet with no extension headers) into fragments. */
function fragments(pkt: Uint8Array, pieces: [number, number, boolean][], ident: number): Uint8Array[] {
  const nxt = pkt[6] as number;
  const payload = pkt.subarray(40);
  return pieces.map(([off, len, more]) => {
    const hdr = Uint8Array.from(pkt.subarray(0, 40));
    hdr[6] = 44;
    const data = payload.subarray(off, off + len);
    const f = cat(hdr, fragHdr(nxt, off, more, ident), data);
    f[4] = ((8 + data.length) >> 8) & 0xff;
    f[5] = (8 + data.length) & 0xff;
    return f;
  });
}

function bigEcho(n: number, seq = 1): Uint8Array {
  return echoReq(
    PEER,
    ME,
    0x99,
    seq,
    Uint8Array.from({ length: n }, (_, i) => (i * 13 + seq) & 0xff),
  );
}

describe('fragmentation over a simulated link', () => {
  it('reassembles bit-exact under reordering', () => {
    const clock = new VirtualClock();
    const A = vnet('a', clock, 31);
    const B = vnet('b', clock, 32);
    const link = simlink_create(A, B, { delayNs: 1_000_000, reorder: 0.4, reorderDelayNs: 3_000_000 }, { seed: 7 });
    addr6(A, link.a, '2001:db8::a');
    addr6(B, link.b, '2001:db8::b');
    clock.advance(3 * SEC);
    // Resolve the neighbour first: the hold queue (nd6_maxqueuelen) holds 16 fragments.
    icmp6_send_echo(A, null, a6('2001:db8::b'), 1, 999, new Uint8Array(8));
    clock.advance(SEC);
    const got: Icmp6EchoReply[] = [];
    A.rawip6.listenEcho(1, (r) => got.push(r));
    const datas: Uint8Array[] = [];
    for (let s = 0; s < 20; s++) {
      const d = Uint8Array.from({ length: 3000 + s * 397 }, (_, i) => (i * 31 + s) & 0xff);
      datas.push(d);
      assert.equal(icmp6_send_echo(A, null, a6('2001:db8::b'), 1, s, d), 0);
    }
    clock.advance(5 * SEC);
    assert.equal(got.length, 20);
    for (const r of got) assert.deepEqual(r.data, datas[r.seq], `seq ${r.seq} bit-exact`);
    assert.ok(A.inet6.stat.ip6s_ofragments > 40);
    assert.equal(B.inet6.stat.ip6s_reassembled, 20);
    assert.equal(A.inet6.stat.ip6s_reassembled, 20);
    assert.equal(B.frag6.packets, 0);
    assert.equal(B.inet6.stat.ip6s_fragdropped, 0);
  });

  it('under loss: what arrives is bit-exact, the rest times out, counters add up, memory comes back', () => {
    const clock = new VirtualClock();
    const A = vnet('a', clock, 41);
    const B = vnet('b', clock, 42);
    const link = simlink_create(A, B, { delayNs: 1_000_000 }, { seed: 9 });
    addr6(A, link.a, '2001:db8::a');
    addr6(B, link.b, '2001:db8::b');
    clock.advance(3 * SEC);
    // Resolve neighbours first, then make A→B lossy.
    icmp6_send_echo(A, null, a6('2001:db8::b'), 2, 999, new Uint8Array(8));
    clock.advance(SEC);
    const baseB = mbufsInUse(B);
    link.set({ loss: 0.15 }, 'ab');
    const got: Icmp6EchoReply[] = [];
    A.rawip6.listenEcho(2, (r) => got.push(r));
    const datas: Uint8Array[] = [];
    for (let s = 0; s < 30; s++) {
      const d = Uint8Array.from({ length: 6000 }, (_, i) => (i * 7 + s * 3) & 0xff);
      datas.push(d);
      icmp6_send_echo(A, null, a6('2001:db8::b'), 2, s, d);
    }
    clock.advance(2 * SEC);
    assert.ok(got.length > 0 && got.length < 30, `some lost (${got.length} answered)`);
    for (const r of got) assert.deepEqual(r.data, datas[r.seq]);
    assert.ok(B.frag6.packets > 0, 'incomplete packets wait');
    const st = B.inet6.stat;
    // net.inet6.ip6.fragttl (60 s) later everything incomplete is gone.
    clock.advance(61 * SEC);
    assert.equal(B.frag6.packets, 0);
    assert.equal(B.frag6.queued, 0);
    assert.ok(st.ip6s_fragtimeout > 0);
    assert.equal(st.ip6s_reassembled, got.length);
    // Time exceeded (reassembly) went back for the packets whose first fragment arrived.
    assert.ok(B.icmp6.stat.icp6s_otime_exceed_reassembly > 0);
    assert.ok(B.icmp6.stat.icp6s_otime_exceed_reassembly <= 30 - got.length);
    assert.equal(mbufsInUse(B), baseB, 'no mbuf leaked');
  });

  it('fragments locally generated packets at the link MTU with the unfragmentable part in each', () => {
    const { V, f } = node();
    const data = new Uint8Array(4000);
    assert.equal(icmp6_send_echo(V, null, PEER, 5, 1, data), 0);
    const frags = f.ip6();
    assert.equal(frags.length, 3);
    let total = 0;
    const ids = new Set<number>();
    for (const p of frags) {
      assert.ok(p.length <= 1500);
      assert.equal(p[6], 44, 'Fragment header follows the IPv6 header');
      assert.equal(p[40], 58, 'next header of the fragmentable part');
      ids.add(((p[44] as number) << 24) | ((p[45] as number) << 16) | ((p[46] as number) << 8) | (p[47] as number));
      total += p.length - 48;
      const offlg = ((p[42] as number) << 8) | (p[43] as number);
      if (offlg & 1) assert.equal((p.length - 48) % 8, 0);
    }
    assert.equal(ids.size, 1);
    assert.equal(total, 8 + data.length);
    assert.equal(V.inet6.stat.ip6s_fragmented, 1);
    assert.equal(V.inet6.stat.ip6s_ofragments, 3);
  });
});

describe('reassembly rules (hand-made fragments)', () => {
  it('reassembles out of order, ignores an exact duplicate', () => {
    const { V, f, clock } = node();
    const pkt = bigEcho(3000);
    const fr = fragments(
      pkt,
      [
        [0, 1232, true],
        [1232, 1232, true],
        [2464, 3008 - 2464, false],
      ],
      0x1111,
    );
    inject(V, f.ifp, fr[2] as Uint8Array);
    inject(V, f.ifp, fr[0] as Uint8Array);
    inject(V, f.ifp, fr[0] as Uint8Array); // exact duplicate
    assert.equal(V.inet6.stat.ip6s_fragdropped, 1);
    inject(V, f.ifp, fr[1] as Uint8Array);
    assert.equal(V.inet6.stat.ip6s_reassembled, 1);
    assert.equal(V.icmp6.stat.icp6s_inhist[128], 1);
    clock.advance(SEC);
    assert.equal(V.icmp6.stat.icp6s_reflect, 1, 'the reassembled echo request was answered');
    assert.equal(f.ip6().length, 3, 'with a reply fragmented to the link MTU');
  });

  it('drops the whole packet on overlapping fragments (RFC 5722)', () => {
    const { V, f } = node();
    const pkt = bigEcho(3000);
    const fr = fragments(
      pkt,
      [
        [0, 1232, true],
        [1224, 1240, true], // overlaps the first by 8 bytes
        [1232, 1232, true],
        [2464, 3008 - 2464, false],
      ],
      0x2222,
    );
    inject(V, f.ifp, fr[0] as Uint8Array);
    inject(V, f.ifp, fr[1] as Uint8Array);
    assert.equal(V.frag6.packets, 0, 'queue dropped');
    assert.equal(V.inet6.stat.ip6s_fragdropped, 2);
    inject(V, f.ifp, fr[2] as Uint8Array);
    inject(V, f.ifp, fr[3] as Uint8Array);
    assert.equal(V.inet6.stat.ip6s_reassembled, 0, 'never reassembled from the remains');
  });

  it('processes an atomic fragment as a whole packet (RFC 6946)', () => {
    const { V, f } = node();
    const pkt = echoReq(PEER, ME, 1, 1, new Uint8Array(16));
    const [atomic] = fragments(pkt, [[0, pkt.length - 40, false]], 0x3333);
    inject(V, f.ifp, atomic as Uint8Array);
    assert.equal(V.inet6.stat.ip6s_atomicfrags, 1);
    assert.equal(V.frag6.packets, 0);
    assert.equal(V.icmp6.stat.icp6s_inhist[128], 1);
  });

  it('sends parameter problems for bad lengths and offsets', () => {
    const { V, f } = node();
    const pkt = bigEcho(3000);
    // Not a multiple of 8 with M set: pointer at the Payload Length field (4).
    const [odd] = fragments(pkt, [[0, 1001, true]], 0x4444);
    inject(V, f.ifp, odd as Uint8Array);
    let pp = icmpOf(f.ip6()).filter((x) => x.type === 4);
    assert.equal(pp.length, 1);
    assert.equal((pp[0] as { msg: Uint8Array }).msg[1], 0);
    assert.equal((pp[0] as { msg: Uint8Array }).msg[7], 4);
    f.clear();
    // Offset + length beyond 65535: pointer at the Fragment Offset field (42).
    const hdr = Uint8Array.from(pkt.subarray(0, 40));
    hdr[6] = 44;
    const big = cat(hdr, fragHdr(58, 65528, false, 0x5555), new Uint8Array(16));
    big[4] = 0;
    big[5] = 24;
    inject(V, f.ifp, big);
    pp = icmpOf(f.ip6()).filter((x) => x.type === 4);
    assert.equal(pp.length, 1);
    assert.equal((pp[0] as { msg: Uint8Array }).msg[7], 42);
    f.clear();
    // First fragment without the whole header chain (RFC 7112): code 3.
    const ext = cat(hdr, fragHdr(60, 0, true, 0x6666), Uint8Array.of(58, 20, 0, 0, 0, 0, 0, 0));
    ext[4] = 0;
    ext[5] = 16;
    inject(V, f.ifp, ext);
    pp = icmpOf(f.ip6()).filter((x) => x.type === 4);
    assert.equal(pp.length, 1);
    assert.equal((pp[0] as { msg: Uint8Array }).msg[1], 3);
    assert.equal(V.frag6.packets, 0);
  });

  it('times out with ICMPv6 time exceeded (code 1) only when the first fragment arrived', () => {
    const { V, f, clock } = node();
    const pkt = bigEcho(3000);
    const fr = fragments(
      pkt,
      [
        [0, 1232, true],
        [1232, 1232, true],
        [2464, 3008 - 2464, false],
      ],
      0x7777,
    );
    inject(V, f.ifp, fr[0] as Uint8Array);
    const fr2 = fragments(bigEcho(3000, 2), [[1232, 1232, true]], 0x8888);
    inject(V, f.ifp, fr2[0] as Uint8Array);
    assert.equal(V.frag6.packets, 2);
    clock.advance(59 * SEC);
    assert.equal(V.frag6.packets, 2);
    clock.advance(2 * SEC);
    assert.equal(V.frag6.packets, 0);
    assert.equal(V.inet6.stat.ip6s_fragtimeout, 2);
    const te = icmpOf(f.ip6()).filter((x) => x.type === 3);
    assert.equal(te.length, 1);
    assert.equal((te[0] as { msg: Uint8Array }).msg[1], 1);
    // It quotes the first fragment.
    const q = (te[0] as { msg: Uint8Array }).msg.subarray(8);
    assert.equal(q[6], 44);
  });

  it('bounds memory with maxfragsperpacket, maxfragpackets and maxfrags', () => {
    const { V, f } = node();
    V.sysctl.set('net.inet6.ip6.maxfragsperpacket', 4);
    V.sysctl.set('net.inet6.ip6.maxfragpackets', 3);
    const pkt = bigEcho(3000);
    const many = fragments(
      pkt,
      Array.from({ length: 6 }, (_, i) => [i * 64, 64, true] as [number, number, boolean]),
      0x9999,
    );
    for (const x of many) inject(V, f.ifp, x);
    assert.equal(V.frag6.packets, 1, 'the 5th fragment dropped the packet; the 6th started a new one');
    assert.ok(V.inet6.stat.ip6s_fragoverflow >= 1);
    for (let i = 0; i < 6; i++) inject(V, f.ifp, fragments(bigEcho(100, i), [[0, 64, true]], 0xa000 + i)[0] as Uint8Array);
    assert.equal(V.frag6.packets, 3, 'net.inet6.ip6.maxfragpackets');
    assert.ok(V.inet6.stat.ip6s_fragoverflow >= 4);
    V.sysctl.set('net.inet6.ip6.maxfrags', 0);
    inject(V, f.ifp, fragments(bigEcho(100, 9), [[0, 64, true]], 0xb000)[0] as Uint8Array);
    assert.equal(V.frag6.packets, 3);
    assert.equal(V.sysctl.get('net.inet6.ip6.frag6_nfragpackets'), 3);
  });

  it('drops fragments whose ends disagree', () => {
    const { V, f } = node();
    const pkt = bigEcho(3000);
    const a = fragments(pkt, [[2464, 3008 - 2464, false]], 0xc000);
    const b = fragments(pkt, [[1232, 1240, false]], 0xc000);
    inject(V, f.ifp, a[0] as Uint8Array);
    inject(V, f.ifp, b[0] as Uint8Array);
    assert.equal(V.frag6.packets, 0);
    assert.equal(V.inet6.stat.ip6s_fragdropped, 2);
    void ip6;
  });
});
