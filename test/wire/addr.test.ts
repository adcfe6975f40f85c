/*
 * Address text helpers: IPv4 dotted quads, IPv6 (RFC 4291 §2.2 input, RFC 5952 output),
 * MAC addresses.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ether_aton, ether_ntoa, inet_aton4, inet_ntoa4, inet_ntop6, inet_pton6 } from '../../src/wire/addr.js';

const v6 = (groups: number[]): Uint8Array => {
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    b[2 * i] = g >>> 8;
    b[2 * i + 1] = g & 0xff;
  });
  return b;
};

describe('IPv4 text', () => {
  test('dotted quads to numbers', () => {
    assert.equal(inet_aton4('0.0.0.0'), 0);
    assert.equal(inet_aton4('127.0.0.1'), 0x7f000001);
    assert.equal(inet_aton4('10.77.0.2'), 0x0a4d0002);
    assert.equal(inet_aton4('255.255.255.255'), 0xffffffff);
    assert.equal(inet_aton4('192.0.2.33'), 0xc0000221);
  });

  test('everything but four decimal parts 0..255 is rejected', () => {
    for (const s of [
      '',
      '1',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '1.2.3.-4',
      '01.2.3.4',
      '1.2.3.04',
      '1..3.4',
      '.1.2.3',
      '1.2.3.',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '0x1.2.3.4',
      '1.2.3.4/24',
      '１.2.3.4',
      '999.1.1.1',
    ]) {
      assert.equal(inet_aton4(s), null, JSON.stringify(s));
    }
  });

  test('numbers to dotted quads', () => {
    assert.equal(inet_ntoa4(0x7f000001), '127.0.0.1');
    assert.equal(inet_ntoa4(0xffffffff), '255.255.255.255');
    assert.equal(inet_ntoa4(0), '0.0.0.0');
  });

  test('property: aton(ntoa(n)) = n', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => inet_aton4(inet_ntoa4(n)) === n));
  });

  test('property: arbitrary strings never throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        const r = inet_aton4(s);
        assert.ok(r === null || (Number.isInteger(r) && r >= 0 && r <= 0xffffffff));
      }),
    );
  });
});

describe('IPv6 text', () => {
  test('RFC 4291 §2.2 forms parse', () => {
    const a = v6([0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a]);
    assert.deepEqual(inet_pton6('2001:DB8:0:0:8:800:200C:417A'), a);
    assert.deepEqual(inet_pton6('2001:db8::8:800:200c:417a'), a);
    assert.deepEqual(inet_pton6('2001:0db8:0000:0000:0008:0800:200c:417a'), a);
    assert.deepEqual(inet_pton6('FF01::101'), v6([0xff01, 0, 0, 0, 0, 0, 0, 0x101]));
    assert.deepEqual(inet_pton6('::1'), v6([0, 0, 0, 0, 0, 0, 0, 1]));
    assert.deepEqual(inet_pton6('::'), new Uint8Array(16));
    assert.deepEqual(inet_pton6('1::'), v6([1, 0, 0, 0, 0, 0, 0, 0]));
    assert.deepEqual(inet_pton6('::13.1.68.3'), v6([0, 0, 0, 0, 0, 0, 0x0d01, 0x4403]));
    assert.deepEqual(inet_pton6('::FFFF:129.144.52.38'), v6([0, 0, 0, 0, 0, 0xffff, 0x8190, 0x3426]));
    assert.deepEqual(inet_pton6('0:0:0:0:0:0:13.1.68.3'), v6([0, 0, 0, 0, 0, 0, 0x0d01, 0x4403]));
    // '::' may stand for a single zero group on input (RFC 5952 §4.2.2 only forbids emitting it).
    assert.deepEqual(inet_pton6('1:2:3:4:5:6:7::'), v6([1, 2, 3, 4, 5, 6, 7, 0]));
    assert.deepEqual(inet_pton6('::2:3:4:5:6:7:8'), v6([0, 2, 3, 4, 5, 6, 7, 8]));
  });

  test('malformed text is rejected', () => {
    for (const s of [
      '',
      ':',
      ':::',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '12345::',
      ':1::',
      '1:',
      '::1:',
      'g::',
      '1:2:3:4:5:6:7:8::',
      '::1:2:3:4:5:6:7:8',
      '1.2.3.4',
      '::1.2.3',
      '::256.1.1.1',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::1.2.3.4:5',
      'fe80::1%eth0',
      '2001:db8::/32',
      ' ::1',
    ]) {
      assert.equal(inet_pton6(s), null, JSON.stringify(s));
    }
  });

  test('RFC 5952 §4 canonical output', () => {
    // §4.1 leading zeros suppressed; §4.3 lowercase.
    assert.equal(inet_ntop6(inet_pton6('2001:0DB8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
    // §4.2.1 the longest run is shortened as far as possible.
    assert.equal(inet_ntop6(inet_pton6('2001:db8:0:0:0:0:2:1')!), '2001:db8::2:1');
    // §4.2.2 a single zero group is not shortened.
    assert.equal(inet_ntop6(inet_pton6('2001:db8:0:1:1:1:1:1')!), '2001:db8:0:1:1:1:1:1');
    // §4.2.3 the longest run wins; on a tie the first.
    assert.equal(inet_ntop6(inet_pton6('2001:0:0:1:0:0:0:1')!), '2001:0:0:1::1');
    assert.equal(inet_ntop6(inet_pton6('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
    assert.equal(inet_ntop6(new Uint8Array(16)), '::');
    assert.equal(inet_ntop6(v6([0, 0, 0, 0, 0, 0, 0, 1])), '::1');
    assert.equal(inet_ntop6(v6([1, 0, 0, 0, 0, 0, 0, 0])), '1::');
    assert.equal(inet_ntop6(v6([0xfe80, 0, 0, 0, 0x5eff, 0xfe10, 0, 0x0a])), 'fe80::5eff:fe10:0:a');
    // §5 IPv4-mapped addresses in mixed notation.
    assert.equal(inet_ntop6(inet_pton6('::ffff:192.0.2.1')!), '::ffff:192.0.2.1');
    assert.equal(inet_ntop6(v6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1])), '::ffff:127.0.0.1');
  });

  test('an address at an offset (inside a header)', () => {
    const hdr = new Uint8Array(40);
    hdr.set(inet_pton6('fd00:77::2')!, 24);
    assert.equal(inet_ntop6(hdr, 24), 'fd00:77::2');
  });

  test('property: pton6(ntop6(a)) = a', () => {
    const groupArb = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(groupArb, { minLength: 8, maxLength: 8 }), (g) => {
        const a = v6(g);
        assert.deepEqual(inet_pton6(inet_ntop6(a)), a);
      }),
    );
  });

  test('property: ntop6 agrees with the WHATWG URL serializer outside ::ffff:0:0/96', () => {
    // The URL standard's IPv6 serializer follows RFC 5952 §4 but never uses dotted quads.
    const groupArb = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(groupArb, { minLength: 8, maxLength: 8 }), (g) => {
        const a = v6(g);
        const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
        fc.pre(!mapped);
        assert.equal(`[${inet_ntop6(a)}]`, new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]/`).hostname);
      }),
    );
  });

  test('property: arbitrary strings never throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50, unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%/ g'.split('')) }), (s) => {
        const r = inet_pton6(s);
        assert.ok(r === null || r.length === 16);
      }),
    );
  });
});

describe('MAC text', () => {
  test('ether_ntoa / ether_aton', () => {
    const mac = Uint8Array.of(0x02, 0x00, 0x5e, 0x10, 0x00, 0x0a);
    assert.equal(ether_ntoa(mac), '02:00:5e:10:00:0a');
    assert.deepEqual(ether_aton('02:00:5e:10:00:0a'), mac);
    assert.deepEqual(ether_aton('2:0:5E:10:0:A'), mac);
    assert.deepEqual(ether_aton('02-00-5e-10-00-0a'), mac);
    assert.equal(ether_ntoa(Uint8Array.of(9, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 2), 'ff:ff:ff:ff:ff:ff');
    for (const s of ['', '02:00:5e:10:00', '02:00:5e:10:00:0a:0b', '02:00:5e:10:00:100', 'g2:00:5e:10:00:0a', '02::5e:10:00:0a']) {
      assert.equal(ether_aton(s), null, s);
    }
  });

  test('property: aton(ntoa(m)) = m', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (m) => assert.deepEqual(ether_aton(ether_ntoa(m)), m)));
  });
});
