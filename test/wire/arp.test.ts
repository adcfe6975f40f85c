/*
 * ARP (RFC 826) for Ethernet/IPv4: fixtures captured from Linux on a veth pair
 * (a_veth-v4.pcap frames 0, 1, 22, 23).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ARP_ETHER_IP_LEN, ARPHRD_ETHER, ARPOP_REPLY, ARPOP_REQUEST, type ArpRepr, ArpView, arpReprLen, emitArp, parseArp } from '../../src/wire/arp.js';
import { assertResult, filled, hex, prefixes, readPcap, rec } from './fixtures/a_util.js';

const MAC_A = hex`02005e10000a`;
const MAC_B = hex`02005e10000b`;

/** Frame 0 (after the 14-byte Ethernet header): who-has 10.77.0.2 tell 10.77.0.1. */
const REQUEST = hex`
  0001           # hrd: Ethernet
  0800           # pro: IPv4
  06             # hln
  04             # pln
  0001           # op: request
  02005e10000a   # sha
  0a4d0001       # spa: 10.77.0.1
  000000000000   # tha: unknown
  0a4d0002       # tpa: 10.77.0.2`;

/** Frame 1: 10.77.0.2 is-at 02:00:5e:10:00:0b. */
const REPLY = hex`
  0001 0800 06 04
  0002           # op: reply
  02005e10000b   # sha
  0a4d0002       # spa: 10.77.0.2
  02005e10000a   # tha
  0a4d0001       # tpa: 10.77.0.1`;

describe('ARP fixtures', () => {
  test('request: fields', () => {
    const r = parseArp(REQUEST);
    assert.ok(r.ok);
    assert.deepEqual(r.value, { op: ARPOP_REQUEST, sha: MAC_A, spa: 0x0a4d0001, tha: new Uint8Array(6), tpa: 0x0a4d0002 });
  });

  test('reply: fields through the view', () => {
    const v = ArpView.checked(REPLY);
    assert.ok(v);
    assert.equal(v.hrd, ARPHRD_ETHER);
    assert.equal(v.pro, 0x0800);
    assert.equal(v.hln, 6);
    assert.equal(v.pln, 4);
    assert.ok(v.isEtherIp);
    assert.equal(v.op, ARPOP_REPLY);
    assert.deepEqual(v.sha(), MAC_B);
    assert.deepEqual(v.tha(), MAC_A);
    assert.ok(v.shaEquals(MAC_B));
    assert.ok(v.thaEquals(MAC_A));
    assert.ok(!v.thaEquals(MAC_B));
    assert.equal(v.spa, 0x0a4d0002);
    assert.equal(v.tpa, 0x0a4d0001);
  });

  test('the captured frames carry exactly these bodies', () => {
    const frames = readPcap('a_veth-v4.pcap');
    assert.deepEqual(frames[0]!.subarray(14), REQUEST);
    assert.deepEqual(frames[1]!.subarray(14), REPLY);
    // Frames 22/23: the reverse exchange, started by 10.77.0.2.
    const r22 = parseArp(frames[22]!, 14);
    const r23 = parseArp(frames[23]!, 14);
    assert.ok(r22.ok && r23.ok);
    assert.equal(r22.value.op, ARPOP_REQUEST);
    assert.equal(r22.value.spa, 0x0a4d0002);
    assert.equal(r23.value.op, ARPOP_REPLY);
    assert.deepEqual(r23.value.sha, MAC_A);
  });

  test('parse copies the hardware addresses', () => {
    const b = Uint8Array.from(REQUEST);
    const r = parseArp(b);
    assert.ok(r.ok);
    b[8] = 0xff;
    assert.equal(r.value.sha[0], 0x02);
  });

  test('trailing Ethernet padding is ignored', () => {
    const padded = new Uint8Array(46);
    padded.set(REPLY);
    assert.ok(parseArp(padded).ok);
  });
});

describe('ARP construct', () => {
  for (const [name, bytes] of [
    ['request', REQUEST],
    ['reply', REPLY],
  ] as const) {
    test(name, () => {
      const r = parseArp(bytes);
      assert.ok(r.ok);
      const buf = filled(ARP_ETHER_IP_LEN + 4);
      assert.equal(emitArp(r.value, buf, 2), 28);
      assert.equal(arpReprLen(r.value), 28);
      assert.deepEqual(buf.subarray(2, 30), bytes);
      assert.equal(buf[0], 0xa5);
      assert.equal(buf[30], 0xa5);
    });
  }

  test('view setters rebuild the reply', () => {
    const v = new ArpView().attach(filled(28));
    v.hrd = ARPHRD_ETHER;
    v.pro = 0x0800;
    v.hln = 6;
    v.pln = 4;
    v.op = ARPOP_REPLY;
    v.setSha(MAC_B);
    v.spa = 0x0a4d0002;
    v.setTha(Uint8Array.of(9, ...MAC_A), 1);
    v.tpa = 0x0a4d0001;
    assert.deepEqual(v.buf, REPLY);
  });
});

describe('ARP rejections', () => {
  test('every truncation below 28 bytes is rejected', () => {
    for (const p of prefixes(REQUEST)) {
      const r = parseArp(p);
      assert.equal(r.ok, false, `prefix ${p.length}`);
      assert.equal(ArpView.checked(p), null);
    }
  });

  test('other hardware or protocol types, or address lengths', () => {
    const edit = (i: number, v: number): Uint8Array => {
      const b = Uint8Array.from(REQUEST);
      b[i] = v;
      return b;
    };
    assert.deepEqual(parseArp(edit(1, 6)), { ok: false, error: 'unsupported hardware type' }); // IEEE 802
    assert.deepEqual(parseArp(edit(2, 0x86)), { ok: false, error: 'unsupported protocol type' });
    assert.deepEqual(parseArp(edit(4, 8)), { ok: false, error: 'truncated addresses' }); // 8 + 2*(8+4) > 28
    assert.deepEqual(parseArp(edit(4, 4)), { ok: false, error: 'bad address length' });
    assert.deepEqual(parseArp(edit(5, 16)), { ok: false, error: 'truncated addresses' });
    const v = ArpView.checked(edit(5, 16))!;
    assert.equal(v.isEtherIp, false);
  });

  test('ranges outside the buffer', () => {
    assert.equal(parseArp(REQUEST, 1, 28).ok, false);
    assert.equal(parseArp(REQUEST, -1).ok, false);
    assert.equal(parseArp(REQUEST, 0, 29).ok, false);
    assert.equal(ArpView.checked(REQUEST, 1), null);
  });
});

describe('ARP properties', () => {
  const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 });
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const reprArb: fc.Arbitrary<ArpRepr> = rec({ op: fc.integer({ min: 0, max: 0xffff }), sha: macArb, spa: u32, tha: macArb, tpa: u32 });

  test('parse(emit(r)) = r', () => {
    fc.assert(
      fc.property(reprArb, (repr) => {
        const buf = new Uint8Array(28);
        emitArp(repr, buf, 0);
        const r = parseArp(buf);
        assert.ok(r.ok);
        assert.deepEqual(r.value, repr);
      }),
    );
  });

  test('arbitrary bytes never throw; the view agrees with parse', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        const r = parseArp(b);
        assertResult(r);
        const v = ArpView.checked(b);
        if (r.ok) {
          assert.ok(v?.isEtherIp);
          assert.equal(v.spa, r.value.spa);
          assert.equal(v.tpa, r.value.tpa);
          assert.deepEqual(v.sha(), r.value.sha);
        }
      }),
    );
  });

  test('mutated captures never throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(REQUEST, REPLY), fc.nat(27), fc.integer({ min: 0, max: 255 }), fc.nat(28), (f, i, v, cut) => {
        const m = Uint8Array.from(f);
        m[i] = v;
        assertResult(parseArp(m.subarray(0, cut)));
      }),
    );
  });
});
