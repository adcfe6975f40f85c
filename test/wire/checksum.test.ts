/*
 * Internet checksum (RFC 1071), incremental update (RFC 1624) and pseudo-header sums,
 * checked against a naive DataView reference and the RFC examples.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { cksumFinish, cksumFold, cksumPartial, cksumUpdate16, cksumUpdate32, inCksum, pseudoSum4, pseudoSum6 } from '../../src/wire/checksum.js';
import { hex, readPcap } from './fixtures/a_util.js';

/** Naive reference: big-endian 16-bit words through a DataView, odd byte padded with zero. */
function naiveSum(b: Uint8Array, off: number, len: number): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let s = 0;
  let i = 0;
  for (; i + 1 < len; i += 2) s += dv.getUint16(off + i, false);
  if (i < len) s += dv.getUint8(off + i) * 256;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}
const naiveCksum = (b: Uint8Array, off: number, len: number): number => ~naiveSum(b, off, len) & 0xffff;

/** fold(x) ≡ x (mod 0xffff), in 1..0xffff for x > 0 (end-around carry). */
const refFold = (x: number): number => (x === 0 ? 0 : ((x - 1) % 0xffff) + 1);

describe('RFC 1071 checksum', () => {
  test('RFC 1071 §3 numerical example: 00 01 f2 03 f4 f5 f6 f7', () => {
    const b = hex`0001 f203 f4f5 f6f7`;
    // §3: the unfolded sum is 2ddf0, folded ddf2; the checksum is its complement 220d.
    assert.equal(cksumPartial(b, 0, 8), 0x2ddf0);
    assert.equal(cksumFold(cksumPartial(b, 0, 8)), 0xddf2);
    assert.equal(inCksum(b, 0, 8), 0x220d);
  });

  test('a range that contains its own checksum verifies to 0', () => {
    const b = hex`0001 f203 f4f5 f6f7 220d`;
    assert.equal(inCksum(b, 0, 10), 0);
  });

  test('empty range and a single byte (odd length pads with zero, RFC 1071 §4.1)', () => {
    const b = hex`ab`;
    assert.equal(cksumPartial(b, 0, 0), 0);
    assert.equal(inCksum(b, 0, 0), 0xffff);
    assert.equal(cksumPartial(b, 0, 1), 0xab00);
    assert.equal(inCksum(b, 0, 1), 0x54ff);
  });

  test('odd lengths 0..300 at alignment offsets 0..7 match the naive reference', () => {
    const base = new Uint8Array(4096 + 16);
    for (let i = 0; i < base.length; i++) base[i] = (i * 151 + 7) & 0xff;
    for (let align = 0; align < 8; align++) {
      // A view whose byteOffset is `align`, so the word fast path sees every alignment.
      const v = new Uint8Array(base.buffer, align, base.length - align);
      for (let len = 0; len <= 300; len++) {
        assert.equal(inCksum(v, 0, len), naiveCksum(v, 0, len), `align ${align} len ${len}`);
        assert.equal(inCksum(v, 3, len), naiveCksum(v, 3, len), `align ${align} off 3 len ${len}`);
      }
    }
  });

  test('property: any bytes, offset and length agree with the naive reference', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2000 }), fc.nat(7), fc.nat(7), (data, align, off) => {
        const buf = new Uint8Array(data.length + 16);
        const v = new Uint8Array(buf.buffer, align, data.length + 8);
        v.set(data, off);
        assert.equal(inCksum(v, off, data.length), naiveCksum(v, off, data.length));
      }),
    );
  });

  test('all-ones data (largest partial sums) over 64 KiB and 1 MiB match the reference', () => {
    for (const n of [65535, 65536, 1 << 20, (1 << 20) + 3]) {
      const b = new Uint8Array(n).fill(0xff);
      assert.equal(inCksum(b, 0, n), naiveCksum(b, 0, n), `n ${n}`);
    }
  });

  test('a SharedArrayBuffer-backed range takes the byte path and agrees', () => {
    const b = new Uint8Array(new SharedArrayBuffer(1000));
    for (let i = 0; i < b.length; i++) b[i] = (i * 37) & 0xff;
    assert.equal(inCksum(b, 1, 999), naiveCksum(b, 1, 999));
  });

  test('partial sums over even-length pieces add up to the whole (initial argument)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.nat(300), (data, k0) => {
        const k = Math.min(k0 * 2, data.length - (data.length & 1));
        const whole = cksumFold(cksumPartial(data, 0, data.length));
        const parts = cksumFold(cksumPartial(data, k, data.length - k, cksumPartial(data, 0, k)));
        assert.equal(parts, whole);
      }),
    );
  });

  test('cksumFold is end-around-carry reduction for sums up to 2^53', () => {
    for (const x of [0, 1, 0xffff, 0x10000, 0x1fffe, 0xffffffff, 2 ** 32, 2 ** 36, 2 ** 48, 2 ** 52, 2 ** 53 - 1]) {
      assert.equal(cksumFold(x), refFold(x), `fold ${x}`);
    }
    fc.assert(fc.property(fc.maxSafeNat(), (x) => cksumFold(x) === refFold(x)));
  });

  test('cksumFinish complements the fold', () => {
    assert.equal(cksumFinish(0x2ddf0), 0x220d);
    assert.equal(cksumFinish(0), 0xffff);
    assert.equal(cksumFinish(0xffff), 0);
  });
});

describe('RFC 1624 incremental update', () => {
  // Word 0 holds the checksum; word 1 is kept non-zero, as in any real header, so the
  // data never sums to zero (the one case where eqn. 3 yields 0x0000 and a full
  // recomputation 0xffff, both meaning zero: RFC 1624 §3).
  const dataArb = fc.uint8Array({ minLength: 8, maxLength: 64 }).map((d) => {
    const b = d.length & 1 ? d.subarray(0, d.length - 1) : d;
    b[2] |= 0x40;
    return b;
  });

  test("RFC 1624 §4 example: m 0x5555 → m' 0x3285 with HC 0xdd2f gives HC' 0x0000 (eqn. 3)", () => {
    // The other header octets sum to 0xcd7a, so HC = ~(0xcd7a + 0x5555) = 0xdd2f and a full
    // recomputation gives ~(0xcd7a + 0x3285) = ~0xffff = 0x0000 (RFC 1624 §4).
    assert.equal(cksumUpdate16(0xdd2f, 0x5555, 0x3285), 0x0000);
  });

  test('property: cksumUpdate16 equals a full recomputation', () => {
    fc.assert(
      fc.property(dataArb, fc.nat(), fc.integer({ min: 0, max: 0xffff }), (d, k0, mPrime) => {
        const b = Uint8Array.from(d);
        b[0] = 0;
        b[1] = 0;
        const hc = inCksum(b, 0, b.length);
        b[0] = hc >>> 8;
        b[1] = hc & 0xff;
        const k = 2 + 2 * (k0 % ((b.length - 2) / 2)); // any word but the checksum
        const m = (b[k]! << 8) | b[k + 1]!;
        b[k] = mPrime >>> 8;
        b[k + 1] = mPrime & 0xff;
        const inc = cksumUpdate16(hc, m, mPrime);
        b[0] = 0;
        b[1] = 0;
        if (cksumPartial(b, 0, b.length) === 0) return; // all-zero data: ±0 ambiguity, see above
        assert.equal(inc, inCksum(b, 0, b.length));
        b[0] = inc >>> 8;
        b[1] = inc & 0xff;
        assert.equal(inCksum(b, 0, b.length), 0);
      }),
    );
  });

  test('property: cksumUpdate32 equals a full recomputation', () => {
    fc.assert(
      fc.property(dataArb, fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), (d, k0, mPrime) => {
        if (d.length < 6) return;
        const b = Uint8Array.from(d);
        b[0] = 0;
        b[1] = 0;
        const hc = inCksum(b, 0, b.length);
        const k = 2 + 2 * (k0 % ((b.length - 4) / 2)); // a 32-bit field after the checksum
        const dv = new DataView(b.buffer);
        const m = dv.getUint32(k);
        dv.setUint32(k, mPrime);
        const inc = cksumUpdate32(hc, m, mPrime);
        if (cksumPartial(b, 0, b.length) === 0) return;
        assert.equal(inc, inCksum(b, 0, b.length));
      }),
    );
  });

  test('IPv4 TTL decrement on a real header (RFC 1624 / RFC 1812 §5.3.1)', () => {
    // Echo request 10.77.0.1 → 10.77.0.2 captured on a veth (see a_veth-v4.pcap).
    const ip = hex`4500 0054 393d 4000 4001 eccf 0a4d 0001 0a4d 0002`;
    assert.equal(inCksum(ip, 0, 20), 0);
    const hc = (ip[10]! << 8) | ip[11]!;
    const m = (ip[8]! << 8) | ip[9]!;
    ip[8]!--;
    const mPrime = (ip[8]! << 8) | ip[9]!;
    const inc = cksumUpdate16(hc, m, mPrime);
    ip[10] = inc >>> 8;
    ip[11] = inc & 0xff;
    assert.equal(inCksum(ip, 0, 20), 0);
    assert.equal(inc, 0xedcf);
  });
});

describe('pseudo-headers', () => {
  const naivePseudo4 = (src: number, dst: number, proto: number, len: number): Uint8Array => {
    const p = new Uint8Array(12);
    const dv = new DataView(p.buffer);
    dv.setUint32(0, src);
    dv.setUint32(4, dst);
    dv.setUint8(9, proto);
    dv.setUint16(10, len);
    return p;
  };
  const naivePseudo6 = (src: Uint8Array, dst: Uint8Array, nxt: number, len: number): Uint8Array => {
    const p = new Uint8Array(40);
    p.set(src, 0);
    p.set(dst, 16);
    const dv = new DataView(p.buffer);
    dv.setUint32(32, len);
    dv.setUint8(39, nxt);
    return p;
  };

  test('property: pseudoSum4 folds like the 12-byte pseudo-header (RFC 768)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.nat(255), fc.nat(0xffff), (s, d, p, l) => {
        assert.equal(cksumFold(pseudoSum4(s, d, p, l)), naiveSum(naivePseudo4(s, d, p, l), 0, 12));
      }),
    );
  });

  test('property: pseudoSum6 folds like the 40-byte pseudo-header (RFC 8200 §8.1)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.nat(255),
        fc.integer({ min: 0, max: 0xffffffff }),
        (s, d, n, l) => {
          assert.equal(cksumFold(pseudoSum6(s, 0, d, 0, n, l)), naiveSum(naivePseudo6(s, d, n, l), 0, 40));
        },
      ),
    );
  });

  test('pseudoSum6 reads addresses at offsets (e.g. straight from an IPv6 header)', () => {
    const hdr = new Uint8Array(40);
    for (let i = 8; i < 40; i++) hdr[i] = i * 3;
    assert.equal(pseudoSum6(hdr, 8, hdr, 24, 17, 10), pseudoSum6(hdr.slice(8, 24), 0, hdr.slice(24, 40), 0, 17, 10));
  });

  test('real UDP datagrams verify with the pseudo-header sums (Linux captures)', () => {
    const frames = readPcap('a_veth-v4.pcap');
    // Frame 4: 10.77.0.1:40000 → 10.77.0.2:9 "hello bsdnet", UDP at 34, 20 bytes.
    const f4 = frames[4]!;
    assert.equal(cksumFinish(cksumPartial(f4, 34, 20, pseudoSum4(0x0a4d0001, 0x0a4d0002, 17, 20))), 0);
    // Frame 12: fd00:77::1 → fd00:77::2 port 9, UDP at 54, 23 bytes (odd).
    const f12 = frames[12]!;
    assert.equal(cksumFinish(cksumPartial(f12, 54, 23, pseudoSum6(f12, 22, f12, 38, 17, 23))), 0);
  });
});
