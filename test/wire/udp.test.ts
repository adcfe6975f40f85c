/*
 * UDP (RFC 768) over IPv4 and IPv6: fixtures captured from Linux on a veth pair with
 * transmit checksum offload off (a_veth-v4.pcap; a_udp-zero-sum.pcap holds datagrams whose
 * checksum computes to 0 and is therefore sent as 0xffff).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { inet_pton6 } from '../../src/wire/addr.js';
import { emitUdp4, emitUdp6, parseUdp4, parseUdp6, UDP_HDR_LEN, type UdpRepr, UdpView, udpChecksum4, udpChecksum6, udpReprLen } from '../../src/wire/udp.js';
import { assertResult, filled, hex, prefixes, readPcap, rec } from './fixtures/a_util.js';

const A1 = 0x0a4d0001; // 10.77.0.1
const A2 = 0x0a4d0002; // 10.77.0.2
const S6 = inet_pton6('fd00:77::1')!;
const D6 = inet_pton6('fd00:77::2')!;

/** Frame 4: 10.77.0.1:40000 → 10.77.0.2:9, "hello bsdnet". */
const UDP4 = hex`
  9c40           # source port 40000
  0009           # destination port 9 (discard)
  0014           # length 20
  de97           # checksum
  68656c6c6f206273646e6574   # "hello bsdnet"`;

/** Frame 6: sent with SO_NO_CHECK: checksum 0, "none" (RFC 768). */
const UDP4_NOSUM = hex`
  9c41 0007 0013
  0000           # no checksum
  6e6f20636865636b73756d     # "no checksum" (11 bytes, odd)`;

/** Frame 8: three data bytes (the odd byte is padded with zero for the sum). */
const UDP4_ODD = hex`9c42 0035 000b 7b5f 6f6464`;

/** a_udp-zero-sum.pcap frame 0: data chosen so the sum is 0xffff; sent as 0xffff. */
const UDP4_ZERO = hex`
  9c44 0009 000a
  ffff           # computed 0, transmitted as all ones (RFC 768)
  4ef0`;

/** Frame 12: fd00:77::1:40006 → fd00:77::2:9, "hello v6 bsdnet". */
const UDP6 = hex`
  9c46 0009 0017
  3829
  68656c6c6f207636206273646e6574`;

/** a_udp-zero-sum.pcap frame 1: the IPv6 case of a computed 0 (RFC 8200 §8.1). */
const UDP6_ZERO = hex`9c45 0009 000a ffff 6899`;

describe('UDP fixtures', () => {
  test('the fixtures are the captured bytes', () => {
    const f = readPcap('a_veth-v4.pcap');
    const z = readPcap('a_udp-zero-sum.pcap');
    assert.deepEqual(f[4]!.subarray(34), UDP4);
    assert.deepEqual(f[6]!.subarray(34), UDP4_NOSUM);
    assert.deepEqual(f[8]!.subarray(34), UDP4_ODD);
    assert.deepEqual(z[0]!.subarray(34), UDP4_ZERO);
    assert.deepEqual(f[12]!.subarray(54), UDP6);
    assert.deepEqual(z[1]!.subarray(54), UDP6_ZERO);
    // The IPv6 addresses in the captured header.
    assert.deepEqual(f[12]!.subarray(22, 38), S6);
    assert.deepEqual(f[12]!.subarray(38, 54), D6);
  });

  test('IPv4: fields', () => {
    const r = parseUdp4(UDP4, 0, UDP4.length, A1, A2);
    assert.ok(r.ok);
    assert.deepEqual(r.value, { repr: { srcPort: 40000, dstPort: 9 }, payloadOff: 8, payloadLen: 12, checksummed: true });
    const v = UdpView.checked(UDP4)!;
    assert.equal(v.srcPort, 40000);
    assert.equal(v.dstPort, 9);
    assert.equal(v.length, 20);
    assert.equal(v.checksum, 0xde97);
    assert.equal(new TextDecoder().decode(v.payload()), 'hello bsdnet');
    assert.ok(v.verifyChecksum4(A1, A2));
    assert.ok(!v.verifyChecksum4(A1, A1));
  });

  test('IPv4: a zero checksum means none (RFC 768)', () => {
    const r = parseUdp4(UDP4_NOSUM, 0, UDP4_NOSUM.length, A1, A2);
    assert.ok(r.ok);
    assert.equal(r.value.checksummed, false);
    assert.equal(r.value.payloadLen, 11);
    assert.ok(UdpView.checked(UDP4_NOSUM)!.verifyChecksum4(0, 0));
  });

  test('IPv4: odd length and the 0xffff case verify', () => {
    assert.ok(parseUdp4(UDP4_ODD, 0, UDP4_ODD.length, A1, A2).ok);
    const z = parseUdp4(UDP4_ZERO, 0, UDP4_ZERO.length, A1, A2);
    assert.ok(z.ok);
    assert.equal(z.value.checksummed, true);
  });

  test('IPv6: fields and the mandatory checksum', () => {
    const r = parseUdp6(UDP6, 0, UDP6.length, S6, D6);
    assert.ok(r.ok);
    assert.deepEqual(r.value, { repr: { srcPort: 40006, dstPort: 9 }, payloadOff: 8, payloadLen: 15, checksummed: true });
    assert.ok(parseUdp6(UDP6_ZERO, 0, UDP6_ZERO.length, S6, D6).ok);
    const v = UdpView.checked(UDP6)!;
    assert.ok(v.verifyChecksum6(S6, D6));
    assert.ok(
      !v.verifyChecksum6(
        D6,
        S6.map((x, i) => (i === 15 ? x ^ 1 : x)),
      ),
    );
  });

  test('parse inside the captured frames, with the addresses read from the IP header', () => {
    const f = readPcap('a_veth-v4.pcap')[12]!;
    const r = parseUdp6(f, 54, 23, f.subarray(22, 38), f.subarray(38, 54));
    assert.ok(r.ok);
    assert.equal(r.value.payloadOff, 62);
  });
});

describe('UDP construct (payload in place, header emitted on 0xa5)', () => {
  const build4 = (dgram: Uint8Array, withChecksum = true): Uint8Array => {
    const buf = filled(dgram.length + 2);
    buf.set(dgram.subarray(8), 9);
    const repr: UdpRepr = { srcPort: (dgram[0]! << 8) | dgram[1]!, dstPort: (dgram[2]! << 8) | dgram[3]! };
    assert.equal(emitUdp4(repr, buf, 1, dgram.length - 8, A1, A2, withChecksum), 8);
    assert.equal(buf[0], 0xa5);
    assert.equal(buf[buf.length - 1], 0xa5);
    return buf.subarray(1, 1 + dgram.length);
  };
  test('IPv4', () => assert.deepEqual(build4(UDP4), UDP4));
  test('IPv4 odd length', () => assert.deepEqual(build4(UDP4_ODD), UDP4_ODD));
  test('IPv4 without checksum', () => assert.deepEqual(build4(UDP4_NOSUM, false), UDP4_NOSUM));
  test('IPv4 computed zero is sent as 0xffff', () => assert.deepEqual(build4(UDP4_ZERO), UDP4_ZERO));

  for (const [name, dgram] of [
    ['IPv6', UDP6],
    ['IPv6 computed zero is sent as 0xffff', UDP6_ZERO],
  ] as const) {
    test(name, () => {
      const buf = filled(dgram.length);
      buf.set(dgram.subarray(8), 8);
      emitUdp6({ srcPort: (dgram[0]! << 8) | dgram[1]!, dstPort: 9 }, buf, 0, dgram.length - 8, S6, D6);
      assert.deepEqual(buf, dgram);
    });
  }

  test('view setters and fillChecksum', () => {
    const b = Uint8Array.from(UDP4);
    const v = new UdpView().attach(b);
    v.checksum = 0;
    v.fillChecksum4(A1, A2);
    assert.deepEqual(b, UDP4);
    v.srcPort = 1;
    v.dstPort = 2;
    v.length = 20;
    assert.ok(!v.verifyChecksum4(A1, A2));
    const b6 = Uint8Array.from(UDP6);
    const v6 = new UdpView().attach(b6);
    v6.checksum = 0x1234;
    v6.fillChecksum6(S6, D6);
    assert.deepEqual(b6, UDP6);
    assert.equal(udpReprLen({ srcPort: 0, dstPort: 0 }), UDP_HDR_LEN);
  });
});

describe('UDP rejections', () => {
  test('IPv6 zero checksum is rejected (RFC 8200 §8.1), IPv4 zero is not', () => {
    const b = Uint8Array.from(UDP6);
    b[6] = 0;
    b[7] = 0;
    assert.deepEqual(parseUdp6(b, 0, b.length, S6, D6), { ok: false, error: 'zero checksum' });
    assert.equal(parseUdp6(b, 0, b.length, S6, D6, false).ok, true);
    assert.equal(UdpView.checked(b)!.verifyChecksum6(S6, D6), false);
  });

  test('bad checksums, unless verification is off', () => {
    const b = Uint8Array.from(UDP4);
    b[10] ^= 0x20;
    assert.deepEqual(parseUdp4(b, 0, b.length, A1, A2), { ok: false, error: 'bad checksum' });
    assert.ok(parseUdp4(b, 0, b.length, A1, A2, false).ok);
    assert.deepEqual(parseUdp4(UDP4, 0, UDP4.length, A2, A1 + 1), { ok: false, error: 'bad checksum' }, 'wrong pseudo-header');
    assert.deepEqual(parseUdp6(UDP6, 0, UDP6.length, D6, D6), { ok: false, error: 'bad checksum' });
  });

  test('every truncation is rejected', () => {
    for (const d of [UDP4, UDP4_NOSUM, UDP6]) {
      for (const p of prefixes(d)) {
        assert.equal(parseUdp4(p, 0, p.length, A1, A2, false).ok, false, `prefix ${p.length}`);
        assert.equal(parseUdp6(p, 0, p.length, S6, D6, false).ok, false);
        assert.equal(UdpView.checked(p), null);
      }
    }
  });

  test('impossible length fields', () => {
    const withLen = (n: number): Uint8Array => {
      const b = Uint8Array.from(UDP4);
      b[4] = n >>> 8;
      b[5] = n & 0xff;
      return b;
    };
    assert.deepEqual(parseUdp4(withLen(7), 0, 20, A1, A2, false), { ok: false, error: 'bad length' });
    assert.deepEqual(parseUdp4(withLen(0), 0, 20, A1, A2, false), { ok: false, error: 'bad length' });
    assert.deepEqual(parseUdp4(withLen(21), 0, 20, A1, A2, false), { ok: false, error: 'truncated datagram' });
    assert.equal(UdpView.checked(withLen(7)), null);
    assert.equal(UdpView.checked(withLen(21)), null);
  });

  test('bytes beyond the length field (IP padding) are not UDP data', () => {
    const b = new Uint8Array(UDP4.length + 3).fill(0xee);
    b.set(UDP4);
    const r = parseUdp4(b, 0, b.length, A1, A2);
    assert.ok(r.ok);
    assert.equal(r.value.payloadLen, 12);
    assert.equal(UdpView.checked(b)!.payload().length, 12);
  });

  test('ranges outside the buffer', () => {
    assert.equal(parseUdp4(UDP4, 0, 21, A1, A2).ok, false);
    assert.equal(parseUdp4(UDP4, -1, 8, A1, A2).ok, false);
    assert.equal(parseUdp6(UDP6, 20, 8, S6, D6).ok, false);
    assert.equal(UdpView.checked(UDP4, 13), null);
  });
});

describe('UDP properties', () => {
  const u16 = fc.integer({ min: 0, max: 0xffff });
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const addr6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const reprArb: fc.Arbitrary<UdpRepr> = rec({ srcPort: u16, dstPort: u16 });

  /** Naive RFC 768 checksum: pseudo-header and datagram in one buffer, DataView words. */
  const naive = (pseudo: Uint8Array, d: Uint8Array): number => {
    const all = new Uint8Array(pseudo.length + d.length + 1);
    all.set(pseudo);
    all.set(d, pseudo.length);
    all[pseudo.length + 6] = 0;
    all[pseudo.length + 7] = 0;
    const dv = new DataView(all.buffer);
    let s = 0;
    for (let i = 0; i + 1 < all.length; i += 2) s += dv.getUint16(i);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return ~s & 0xffff || 0xffff;
  };

  test('IPv4: parse(emit(r)) = r; the checksum matches a naive reference and is never 0', () => {
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 200 }), u32, u32, (repr, payload, src, dst) => {
        const buf = new Uint8Array(8 + payload.length);
        buf.set(payload, 8);
        emitUdp4(repr, buf, 0, payload.length, src, dst);
        const pseudo = new Uint8Array(12);
        const pv = new DataView(pseudo.buffer);
        pv.setUint32(0, src);
        pv.setUint32(4, dst);
        pv.setUint16(8, 17);
        pv.setUint16(10, buf.length);
        const sum = (buf[6]! << 8) | buf[7]!;
        assert.equal(sum, naive(pseudo, buf));
        assert.notEqual(sum, 0);
        assert.equal(udpChecksum4(buf, 0, buf.length, src, dst), sum);
        const r = parseUdp4(buf, 0, buf.length, src, dst);
        assert.ok(r.ok, r.ok ? '' : r.error);
        assert.deepEqual(r.value.repr, repr);
        assert.equal(r.value.payloadLen, payload.length);
      }),
    );
  });

  test('IPv6: parse(emit(r)) = r; the checksum matches a naive reference', () => {
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 200 }), addr6, addr6, (repr, payload, src, dst) => {
        const buf = new Uint8Array(8 + payload.length);
        buf.set(payload, 8);
        emitUdp6(repr, buf, 0, payload.length, src, dst);
        const pseudo = new Uint8Array(40);
        pseudo.set(src);
        pseudo.set(dst, 16);
        const pv = new DataView(pseudo.buffer);
        pv.setUint32(32, buf.length);
        pv.setUint8(39, 17);
        const sum = (buf[6]! << 8) | buf[7]!;
        assert.equal(sum, naive(pseudo, buf));
        assert.equal(udpChecksum6(buf, 0, buf.length, src, dst), sum);
        const r = parseUdp6(buf, 0, buf.length, src, dst);
        assert.ok(r.ok, r.ok ? '' : r.error);
        assert.deepEqual(r.value.repr, repr);
      }),
    );
  });

  test('arbitrary bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: -1, max: 41 }), fc.integer({ min: -1, max: 41 }), fc.boolean(), (b, off, len, verify) => {
        assertResult(parseUdp4(b, off, len, A1, A2, verify));
        assertResult(parseUdp6(b, off, len, S6, D6, verify));
        const v = UdpView.checked(b, off, len);
        if (v) assert.ok(v.payload().length === v.length - 8);
      }),
    );
  });

  test('mutations and truncations of captured datagrams never throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(UDP4, UDP4_NOSUM, UDP4_ODD, UDP4_ZERO, UDP6, UDP6_ZERO),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (d, edits, cut) => {
          const m = Uint8Array.from(d);
          for (const [i, v] of edits) m[i % m.length] = v;
          const n = cut % (m.length + 1);
          assertResult(parseUdp4(m, 0, n, A1, A2));
          assertResult(parseUdp6(m, 0, n, S6, D6));
        },
      ),
    );
  });
});
