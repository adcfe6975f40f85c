/*
 * Ethernet II, 802.1Q/802.1ad tags, 802.2 LLC and SNAP: fixtures from the Linux stack
 * (veth captures; a spanning-tree BPDU from a Linux bridge), plus VLAN and SNAP frames built
 * by hand from a captured frame (the capture machine's kernel has no CONFIG_VLAN_8021Q).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ETHER_BROADCAST,
  ETHER_IS_BROADCAST,
  ETHER_IS_MULTICAST,
  ETHERTYPE_ARP,
  ETHERTYPE_IP,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  EVL_CFIOFTAG,
  EVL_MAKETAG,
  EVL_PRIOFTAG,
  EVL_VLANOFTAG,
  type EtherRepr,
  EtherView,
  emitEther,
  etherReprLen,
  LLC_8021D_LSAP,
  LLC_UI,
  type LlcRepr,
  LlcView,
  parseEther,
  VlanView,
} from '../../src/wire/ethernet.js';
import { assertResult, filled, hex, prefixes, readPcap, rec } from './fixtures/a_util.js';

const MAC_A = hex`02005e10000a`;
const MAC_B = hex`02005e10000b`;

// The ICMP echo request 10.77.0.1 → 10.77.0.2 of frame 2 in a_veth-v4.pcap (84 bytes).
const IP_ECHO = hex`
  45000054393d40004001eccf0a4d00010a4d0002
  0800b69e19a90001c42a026b00000000954e0d0000000000101112131415161718191a1b1c1d1e1f
  202122232425262728292a2b2c2d2e2f3031323334353637`;

/** Frame 0 of a_veth-v4.pcap: ARP who-has 10.77.0.2 tell 10.77.0.1. */
const ARP_FRAME = hex`
  ffffffffffff   # dst: broadcast
  02005e10000a   # src
  0806           # type: ARP
  0001 0800 06 04 0001 02005e10000a 0a4d0001 000000000000 0a4d0002  # ARP body (28)`;

/** Frame 2: Ethernet II carrying IPv4. */
const IP_FRAME = hex`
  02005e10000b   # dst
  02005e10000a   # src
  0800           # type: IPv4
  ${Buffer.from(IP_ECHO).toString('hex')}`;

/** a_stp-bpdu.pcap frame 0: an 802.3 frame with an LLC header, sent by a Linux bridge. */
const BPDU_FRAME = hex`
  0180c2000000   # dst: bridge group address
  02005e100201   # src: the bridge port
  0026           # length: 38 bytes of LLC data
  42 42 03       # LLC: DSAP 0x42, SSAP 0x42 (spanning tree), control UI
  0000 00 00 00  # BPDU: protocol id, version, type config, flags
  8000 02005e100200  # root id
  00000000           # root path cost
  8000 02005e100200  # bridge id
  8001 0000 1400 0100 0f00  # port id, message age, max age 20 s, hello 1 s, forward delay 15 s`;

/** IP_FRAME with an 802.1Q tag inserted (IEEE 802.1Q-2018 §9.6): PCP 5, DEI 0, VID 10. */
const VLAN_FRAME = hex`
  02005e10000b 02005e10000a
  8100           # TPID: C-tag
  a00a           # TCI: PCP 5 (101), DEI 0, VID 10
  0800           # encapsulated type: IPv4
  ${Buffer.from(IP_ECHO).toString('hex')}`;

/** IP_FRAME with an 802.1ad S-tag (VID 100) outside a C-tag (VID 20, DEI set). */
const QINQ_FRAME = hex`
  02005e10000b 02005e10000a
  88a8 0064      # S-tag: PCP 0, DEI 0, VID 100
  8100 1014      # C-tag: PCP 0, DEI 1, VID 20
  0800
  ${Buffer.from(IP_ECHO).toString('hex')}`;

/** The same IP packet in RFC 1042 encapsulation: 802.3 length + LLC/SNAP with OUI 0. */
const SNAP_FRAME = hex`
  02005e10000b 02005e10000a
  005c           # length: 8 (LLC/SNAP) + 84
  aa aa 03       # LLC: SNAP SAPs, control UI
  000000 0800    # SNAP: OUI 0, EtherType IPv4
  ${Buffer.from(IP_ECHO).toString('hex')}`;

/** An LLC I-format PDU (two-octet control field, IEEE 802.2 §5.2), padded to 60 bytes. */
const LLC_I_FRAME = hex`
  0180c2000000 02005e100201
  0007           # length: 4 (LLC) + 3
  f0 f0 0a0b     # DSAP/SSAP 0xf0 (NetBIOS), control N(S)=5, N(R)=5
  616263         # "abc"
  ${'00'.repeat(39)}  # padding to the 60-byte minimum`;

describe('Ethernet fixtures', () => {
  test('ARP frame: header fields', () => {
    const r = parseEther(ARP_FRAME);
    assert.ok(r.ok);
    assert.deepEqual(r.value.repr, { dst: ETHER_BROADCAST, src: MAC_A, vlans: [], etherType: ETHERTYPE_ARP, llc: null });
    assert.equal(r.value.headerLen, 14);
    assert.equal(r.value.payloadOff, 14);
    assert.equal(r.value.payloadLen, 28);
  });

  test('IPv4 frame: view accessors', () => {
    const v = EtherView.checked(IP_FRAME);
    assert.ok(v);
    assert.deepEqual(v.dst(), MAC_B);
    assert.deepEqual(v.src(), MAC_A);
    assert.ok(v.dstEquals(MAC_B));
    assert.ok(v.srcEquals(MAC_A));
    assert.ok(!v.dstEquals(MAC_A));
    assert.equal(v.etherType, ETHERTYPE_IP);
    assert.equal(v.isMulticast, false);
    assert.equal(v.isBroadcast, false);
    assert.deepEqual(v.payload(), IP_ECHO);
    const a = EtherView.checked(ARP_FRAME)!;
    assert.equal(a.isBroadcast, true);
    assert.equal(a.isMulticast, true);
  });

  test('802.3 + LLC (spanning tree BPDU from a Linux bridge)', () => {
    const r = parseEther(BPDU_FRAME);
    assert.ok(r.ok);
    const { repr, headerLen, payloadOff, payloadLen } = r.value;
    assert.deepEqual(repr.dst, hex`0180c2000000`);
    assert.equal(repr.etherType, null);
    assert.deepEqual(repr.llc, { dsap: LLC_8021D_LSAP, ssap: LLC_8021D_LSAP, control: LLC_UI, controlLen: 1, snap: null });
    assert.equal(headerLen, 17);
    assert.equal(payloadOff, 17);
    assert.equal(payloadLen, 35);
    const v = EtherView.checked(BPDU_FRAME)!;
    assert.equal(v.etherType, 38);
    assert.ok(ETHER_IS_MULTICAST(v.dst()));
    const l = LlcView.checked(BPDU_FRAME, 14, 38)!;
    assert.equal(l.dsap, 0x42);
    assert.equal(l.ssap, 0x42);
    assert.equal(l.control, LLC_UI);
    assert.equal(l.controlLen, 1);
    assert.equal(l.isSnap, false);
    assert.equal(l.headerLen, 3);
    assert.equal(l.payload().length, 35);
  });

  test('802.3 padding is excluded by the length field', () => {
    const padded = new Uint8Array(60);
    padded.set(BPDU_FRAME);
    const r = parseEther(padded);
    assert.ok(r.ok);
    assert.equal(r.value.payloadLen, 35);
  });

  test('802.1Q tag: PCP, DEI, VID and the encapsulated type', () => {
    const r = parseEther(VLAN_FRAME);
    assert.ok(r.ok);
    assert.deepEqual(r.value.repr.vlans, [{ tpid: ETHERTYPE_VLAN, pcp: 5, dei: false, vid: 10 }]);
    assert.equal(r.value.repr.etherType, ETHERTYPE_IP);
    assert.equal(r.value.headerLen, 18);
    assert.equal(r.value.payloadLen, 84);
    const e = EtherView.checked(VLAN_FRAME)!;
    assert.equal(e.etherType, ETHERTYPE_VLAN);
    const t = VlanView.checked(VLAN_FRAME, 14)!;
    assert.equal(t.tci, 0xa00a);
    assert.equal(t.pcp, 5);
    assert.equal(t.dei, false);
    assert.equal(t.vid, 10);
    assert.equal(t.etherType, ETHERTYPE_IP);
    assert.deepEqual(t.payload(), IP_ECHO);
  });

  test('802.1ad S-tag outside an 802.1Q C-tag (Q-in-Q)', () => {
    const r = parseEther(QINQ_FRAME);
    assert.ok(r.ok);
    assert.deepEqual(r.value.repr.vlans, [
      { tpid: ETHERTYPE_QINQ, pcp: 0, dei: false, vid: 100 },
      { tpid: ETHERTYPE_VLAN, pcp: 0, dei: true, vid: 20 },
    ]);
    assert.equal(r.value.repr.etherType, ETHERTYPE_IP);
    assert.equal(r.value.headerLen, 22);
    assert.equal(r.value.payloadOff, 22);
  });

  test('RFC 1042 SNAP encapsulation', () => {
    const r = parseEther(SNAP_FRAME);
    assert.ok(r.ok);
    assert.equal(r.value.repr.etherType, null);
    assert.deepEqual(r.value.repr.llc, { dsap: 0xaa, ssap: 0xaa, control: 3, controlLen: 1, snap: { oui: 0, type: ETHERTYPE_IP } });
    assert.equal(r.value.headerLen, 22);
    assert.equal(r.value.payloadLen, 84);
    assert.deepEqual(SNAP_FRAME.subarray(r.value.payloadOff, r.value.payloadOff + r.value.payloadLen), IP_ECHO);
    const l = LlcView.checked(SNAP_FRAME, 14, 92)!;
    assert.ok(l.isSnap);
    assert.equal(l.oui, 0);
    assert.equal(l.snapType, ETHERTYPE_IP);
    assert.equal(l.headerLen, 8);
  });

  test('LLC I-format PDU with a two-octet control field', () => {
    const r = parseEther(LLC_I_FRAME);
    assert.ok(r.ok);
    assert.deepEqual(r.value.repr.llc, { dsap: 0xf0, ssap: 0xf0, control: 0x0a0b, controlLen: 2, snap: null });
    assert.equal(r.value.headerLen, 18);
    assert.equal(r.value.payloadLen, 3);
    const l = LlcView.checked(LLC_I_FRAME, 14, 7)!;
    assert.equal(l.controlLen, 2);
    assert.equal(l.control, 0x0a0b);
  });
});

describe('Ethernet construct (emit on a 0xa5-filled buffer)', () => {
  const cases: [string, Uint8Array, number][] = [
    ['ARP', ARP_FRAME, 28],
    ['IPv4', IP_FRAME, 84],
    ['BPDU', BPDU_FRAME, 35],
    ['802.1Q', VLAN_FRAME, 84],
    ['Q-in-Q', QINQ_FRAME, 84],
    ['SNAP', SNAP_FRAME, 84],
  ];
  for (const [name, frame, plen] of cases) {
    test(name, () => {
      const r = parseEther(frame);
      assert.ok(r.ok);
      const hl = etherReprLen(r.value.repr);
      assert.equal(hl, r.value.headerLen);
      const buf = filled(hl + plen);
      assert.equal(emitEther(r.value.repr, buf, 0, plen), hl);
      assert.deepEqual(buf.subarray(0, hl), frame.subarray(0, hl));
      assert.ok(
        buf.subarray(hl).every((b) => b === 0xa5),
        'emit wrote past the header',
      );
    });
  }

  test('a repr written by hand', () => {
    const repr: EtherRepr = { dst: MAC_B, src: MAC_A, vlans: [{ tpid: ETHERTYPE_VLAN, pcp: 5, dei: false, vid: 10 }], etherType: ETHERTYPE_IP, llc: null };
    const buf = filled(18);
    emitEther(repr, buf, 0, 84);
    assert.deepEqual(buf, VLAN_FRAME.subarray(0, 18));
  });

  test('view setters', () => {
    const buf = filled(18);
    const v = new EtherView().attach(buf);
    v.setDst(MAC_B);
    v.setSrc(Uint8Array.of(0, 0, ...MAC_A), 2);
    v.etherType = ETHERTYPE_VLAN;
    const t = new VlanView().attach(buf, 14);
    t.tci = 0;
    t.pcp = 5;
    t.vid = 10;
    t.dei = true;
    t.dei = false;
    t.etherType = ETHERTYPE_IP;
    assert.deepEqual(buf, VLAN_FRAME.subarray(0, 18));
    const l = new LlcView().attach(filled(8));
    l.dsap = 0xaa;
    l.ssap = 0xaa;
    l.control = LLC_UI;
    l.oui = 0x00000c;
    l.snapType = 0x2000;
    assert.deepEqual(l.buf, hex`aaaa03 00000c 2000`);
  });

  test('TCI helpers (FreeBSD EVL_* macros)', () => {
    const tci = EVL_MAKETAG(4094, 7, 1);
    assert.equal(tci, 0xfffe);
    assert.equal(EVL_VLANOFTAG(tci), 4094);
    assert.equal(EVL_PRIOFTAG(tci), 7);
    assert.equal(EVL_CFIOFTAG(tci), 1);
    assert.ok(ETHER_IS_BROADCAST(ETHER_BROADCAST));
    assert.ok(!ETHER_IS_BROADCAST(MAC_A));
  });
});

describe('Ethernet rejections', () => {
  test('every truncation of the header is rejected, never thrown', () => {
    for (const f of [ARP_FRAME, VLAN_FRAME, QINQ_FRAME, SNAP_FRAME, BPDU_FRAME, LLC_I_FRAME]) {
      const r0 = parseEther(f);
      assert.ok(r0.ok);
      for (const p of prefixes(f)) {
        const r = parseEther(p);
        assertResult(r);
        // Ethernet II payloads may be cut anywhere; a cut header or 802.3 data must fail.
        if (p.length < r0.value.headerLen || (r0.value.repr.llc !== null && p.length < r0.value.payloadOff + r0.value.payloadLen)) {
          assert.equal(r.ok, false, `prefix ${p.length}`);
        }
      }
    }
  });

  test('impossible lengths and type/length values', () => {
    const bad = (f: Uint8Array, why: string): void => {
      const r = parseEther(f);
      assert.equal(r.ok, false, why);
    };
    const withType = (t: number): Uint8Array => {
      const f = Uint8Array.from(BPDU_FRAME);
      f[12] = t >>> 8;
      f[13] = t & 0xff;
      return f;
    };
    bad(withType(1501), 'type/length 1501 is neither (802.3 §3.2.6)');
    bad(withType(0x05ff), 'type/length 1535');
    bad(withType(39), '802.3 length beyond the frame');
    bad(withType(2), 'LLC header longer than the 802.3 length');
    bad(withType(0), 'empty 802.3 data');
    const snap = Uint8Array.from(SNAP_FRAME);
    snap[13] = 7; // SNAP needs 8
    bad(snap, 'SNAP header longer than the 802.3 length');
    const is = Uint8Array.from(LLC_I_FRAME);
    is[13] = 3; // I-format LLC needs 4
    bad(is, 'two-octet control beyond the 802.3 length');
    bad(QINQ_FRAME.subarray(0, 19), 'second tag cut');
    assert.ok(parseEther(withType(1500)).ok === false); // 1500 bytes are not there
    assert.ok(parseEther(withType(0x0600)).ok); // the smallest EtherType
  });

  test('ranges outside the buffer are rejected', () => {
    for (const [off, len] of [
      [-1, 20],
      [0, 99],
      [90, 20],
      [1.5, 20],
      [0, -1],
      [Number.NaN, 20],
    ] as [number, number][]) {
      assert.equal(parseEther(IP_FRAME, off, len).ok, false, `${off},${len}`);
    }
    assert.equal(EtherView.checked(IP_FRAME, 90, 14), null);
    assert.equal(EtherView.checked(IP_FRAME, 0, 13), null);
    assert.equal(VlanView.checked(IP_FRAME, 96), null);
    assert.equal(LlcView.checked(SNAP_FRAME, 14, 7), null, 'SNAP needs 8 bytes');
    assert.equal(LlcView.checked(LLC_I_FRAME, 14, 3), null, 'I-format needs 4 bytes');
  });

  test('a frame at an offset inside a larger buffer', () => {
    const big = filled(IP_FRAME.length + 10);
    big.set(IP_FRAME, 7);
    const r = parseEther(big, 7, IP_FRAME.length);
    assert.ok(r.ok);
    assert.equal(r.value.payloadOff, 21);
    assert.equal(r.value.payloadLen, 84);
  });
});

describe('Ethernet properties', () => {
  const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 });
  const byte = fc.integer({ min: 0, max: 255 });
  const vlanArb = rec({
    tpid: fc.constantFrom(ETHERTYPE_VLAN, ETHERTYPE_QINQ),
    pcp: fc.integer({ min: 0, max: 7 }),
    dei: fc.boolean(),
    vid: fc.integer({ min: 0, max: 4095 }),
  });
  const typeArb = fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== ETHERTYPE_VLAN && t !== ETHERTYPE_QINQ);
  const llcArb: fc.Arbitrary<LlcRepr> = fc.oneof(
    rec({ oui: fc.integer({ min: 0, max: 0xffffff }), type: fc.integer({ min: 0, max: 0xffff }) }).map((snap) => ({
      dsap: 0xaa,
      ssap: 0xaa,
      control: LLC_UI,
      controlLen: 1 as const,
      snap,
    })),
    rec({ dsap: byte, ssap: byte, c: fc.integer({ min: 0, max: 63 }) })
      .map(({ dsap, ssap, c }) => ({ dsap, ssap, control: (c << 2) | 3, controlLen: 1 as const, snap: null }))
      .filter((l) => !(l.dsap === 0xaa && l.ssap === 0xaa && l.control === LLC_UI)),
    rec({ dsap: byte, ssap: byte, c0: byte.filter((c) => (c & 3) !== 3), c1: byte }).map(({ dsap, ssap, c0, c1 }) => ({
      dsap,
      ssap,
      control: (c0 << 8) | c1,
      controlLen: 2 as const,
      snap: null,
    })),
  );
  const reprArb: fc.Arbitrary<EtherRepr> = fc
    .record({
      dst: macArb,
      src: macArb,
      vlans: fc.array(vlanArb, { maxLength: 3 }),
      body: fc.oneof(
        typeArb.map((t) => ({ etherType: t as number | null, llc: null as LlcRepr | null })),
        llcArb.map((l) => ({ etherType: null as number | null, llc: l as LlcRepr | null })),
      ),
    })
    .map(({ dst, src, vlans, body }) => ({ dst, src, vlans, ...body }));

  test('parse(emit(r)) = r', () => {
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 100 }), (repr, payload) => {
        const hl = etherReprLen(repr);
        const buf = new Uint8Array(hl + payload.length);
        assert.equal(emitEther(repr, buf, 0, payload.length), hl);
        buf.set(payload, hl);
        const r = parseEther(buf);
        assert.ok(r.ok, r.ok ? '' : r.error);
        assert.deepEqual(r.value.repr, repr);
        assert.equal(r.value.headerLen, hl);
        assert.equal(r.value.payloadOff, hl);
        assert.equal(r.value.payloadLen, payload.length);
      }),
    );
  });

  test('arbitrary bytes and ranges never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: -2, max: 82 }), fc.integer({ min: -2, max: 82 }), (b, off, len) => {
        assertResult(parseEther(b));
        assertResult(parseEther(b, off, len));
        const v = EtherView.checked(b, off, len);
        if (v) assert.equal(v.dst().length + v.src().length, 12);
        const l = LlcView.checked(b, off, len);
        if (l) assert.ok(l.headerLen <= l.len);
      }),
    );
  });

  test('captured frames parse, and mutations of them never throw', () => {
    const corpus = [
      ...readPcap('a_veth-v4.pcap'),
      ...readPcap('a_stp-bpdu.pcap'),
      ...readPcap('a_lo-v4.pcap'),
      ...readPcap('a_udp-zero-sum.pcap'),
      VLAN_FRAME,
      QINQ_FRAME,
      SNAP_FRAME,
      LLC_I_FRAME,
    ];
    for (const f of corpus) assert.ok(parseEther(f).ok);
    fc.assert(
      fc.property(fc.constantFrom(...corpus), fc.array(fc.tuple(fc.nat(), byte), { maxLength: 6 }), fc.nat(), (f, edits, cut) => {
        const m = Uint8Array.from(f);
        for (const [i, v] of edits) m[i % m.length] = v;
        assertResult(parseEther(m.subarray(0, cut % (m.length + 1))));
      }),
    );
  });
});
