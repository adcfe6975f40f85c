/*
 * IPv4 header and options (RFC 791): fixtures captured from Linux (a_veth-v4.pcap on a veth
 * pair with transmit checksum offload off; a_lo-v4.pcap on loopback for ping -T), with the
 * Ethernet header removed.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { inCksum } from '../../src/wire/checksum.js';
import {
  emitIpv4,
  IPOPT_COPIED,
  IPOPT_LSRR,
  IPOPT_NOP,
  IPOPT_RR,
  IPOPT_SECURITY,
  IPOPT_SSRR,
  IPOPT_TS,
  IPOPT_TS_TSANDADDR,
  IPOPT_TS_TSONLY,
  IPPROTO_ICMP,
  IPPROTO_UDP,
  type Ipv4Option,
  type Ipv4Repr,
  Ipv4View,
  ipv4OptionsLen,
  ipv4ReprLen,
  parseIpv4,
  parseIpv4Options,
} from '../../src/wire/ipv4.js';
import { assertResult, filled, hex, prefixes, readPcap, rec } from './fixtures/a_util.js';

const A1 = 0x0a4d0001; // 10.77.0.1
const A2 = 0x0a4d0002; // 10.77.0.2
const B2 = 0x0a4d0102; // 10.77.1.2
const LO = 0x7f000001;

/** Echo request 10.77.0.1 → 10.77.0.2 (frame 2), header and 64-byte ICMP message. */
const ECHO = hex`
  45             # version 4, IHL 5
  00             # TOS
  0054           # total length 84
  393d           # id
  4000           # flags DF, offset 0
  40             # TTL 64
  01             # protocol ICMP
  eccf           # header checksum
  0a4d0001       # src 10.77.0.1
  0a4d0002       # dst 10.77.0.2
  0800b69e19a90001c42a026b00000000954e0d0000000000101112131415161718191a1b1c1d1e1f
  202122232425262728292a2b2c2d2e2f3031323334353637`;

/** ping -R request (frame 41): NOP, then Record Route with 9 slots, pointer 8. */
const RR_REQUEST = hex`
  4f 00 007c 4112 4000 40 01 a875 0a4d0001 0a4d0002   # IHL 15: 40 bytes of options
  01             # NOP
  07 27 08       # RR, length 39, pointer 8 (one slot used)
  0a4d0001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
  080004021be10001cd2a026b0000000040b3090000000000   # ICMP echo request (64 bytes)
  101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637`;

/** Its echo reply (frame 42): three addresses recorded, then EOL. */
const RR_REPLY = hex`
  4f 00 007c 01b7 0000 40 01 56e8 0a4d0002 0a4d0001
  07 27 10       # RR, length 39, pointer 16
  0a4d0001 0a4d0002 0a4d0002 00000000 00000000 00000000 00000000 00000000 00000000
  00             # EOL
  00000c021be10001cd2a026b0000000040b3090000000000   # ICMP echo reply (64 bytes)
  101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637`;

/** ping -T tsonly on loopback (a_lo-v4.pcap frame 4): Internet Timestamp, flag 0. */
const TS_ONLY = hex`
  4f 00 007c c87c 4000 40 01 d6bb 7f000001 7f000001
  44 28 09 00    # TS, length 40, pointer 9, overflow 0, flag 0 (timestamps only)
  050f410f 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
  0800f7f615ca0001952a026b0000000088d50b0000000000   # ICMP echo request (64 bytes)
  101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637`;

/** ping -T tsandaddr on loopback (frame 6): flag 1, address/timestamp pairs. */
const TS_ADDR = hex`
  4e 00 0078 c87e 4000 40 01 54bd 7f000001 7f000001
  44 24 0d 01    # TS, length 36, pointer 13, overflow 0, flag 1 (address + timestamp)
  7f000001 050f4111 00000000 00000000 00000000 00000000 00000000 00000000
  080068ed15cb0001952a026b0000000017de0b0000000000   # ICMP echo request (64 bytes)
  101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637`;

/** UDP with IP_OPTIONS loose source route (frame 18). */
const LSRR = hex`
  47 00 0028 7404 4000 40 11 d912 0a4d0001 0a4d0102
  83 07 04 0a4d0002   # LSRR, length 7, pointer 4, route [10.77.0.2]
  00                  # EOL
  9c4a0009000c6f006c737272`;

/** Strict source route (frame 19). */
const SSRR = hex`
  48 00 002c 4da6 4000 40 11 aa5d 0a4d0001 0a4d0002
  89 0b 04 0a4d0102 0a4d0002   # SSRR, length 11, pointer 4, route [10.77.1.2, 10.77.0.2]
  00
  9c4a0009000c690073737272`;

/** Router alert (frame 20, RFC 2113). */
const RA = hex`
  46 00 0022 4e0e 4000 40 11 431c 0a4d0001 0a4d0002
  94 04 0000     # RA, length 4, value 0 (examine packet)
  9c4a0009000adc887261`;

/** Security option (frame 24; RFC 791 S=Confidential, C/H/TCC 0), NOP, EOL and a whole word of padding. */
const SECURITY = hex`
  49 00 002f 4e8c 4000 40 11 6053 0a4d0001 0a4d0002   # IHL 9: 16 bytes of options
  82 0b          # security, length 11
  f135 0000 0000 000000   # S, C, H, TCC
  01             # NOP
  00 000000      # EOL, padding
  9c4a0009000b7882736563`;

/** An unknown option type 158 (frame 26), kept raw. */
const UNKNOWN = hex`
  47 00 002b 4ef3 4000 40 11 2ff7 0a4d0001 0a4d0002
  01             # NOP
  9e 06 deadbeef # type 158, length 6
  00             # EOL
  9c4a0009000f908b756e6b6e6f776e`;

/** RR with pointer 2 (< 4), sent raw; Linux answered with a parameter problem at octet 22 (frame 16). */
const BAD_RR_POINTER = hex`
  46 00 0024 1234 0000 40 11 49f6 0a4d0001 0a4d0002
  07 03 02       # RR, length 3 (no slots), pointer 2
  00             # EOL
  9c430009000c00007070210a`;

const base = (over: Partial<Ipv4Repr>): Ipv4Repr => ({
  tos: 0,
  id: 0,
  rf: false,
  df: true,
  mf: false,
  fragOff: 0,
  ttl: 64,
  proto: IPPROTO_UDP,
  src: A1,
  dst: A2,
  options: [],
  ...over,
});

describe('IPv4 fixtures', () => {
  test('echo request: every field', () => {
    const r = parseIpv4(ECHO);
    assert.ok(r.ok);
    assert.deepEqual(r.value.repr, base({ id: 0x393d, proto: IPPROTO_ICMP }));
    assert.equal(r.value.headerLen, 20);
    assert.equal(r.value.payloadOff, 20);
    assert.equal(r.value.payloadLen, 64);
  });

  test('echo request: view getters', () => {
    const v = Ipv4View.checked(ECHO)!;
    assert.equal(v.version, 4);
    assert.equal(v.headerLen, 20);
    assert.equal(v.tos, 0);
    assert.equal(v.dscp, 0);
    assert.equal(v.ecn, 0);
    assert.equal(v.totalLen, 84);
    assert.equal(v.id, 0x393d);
    assert.equal(v.ipOff, 0x4000);
    assert.equal(v.df, true);
    assert.equal(v.mf, false);
    assert.equal(v.rf, false);
    assert.equal(v.fragOff, 0);
    assert.equal(v.isFragment, false);
    assert.equal(v.ttl, 64);
    assert.equal(v.proto, IPPROTO_ICMP);
    assert.equal(v.checksum, 0xeccf);
    assert.equal(v.src, A1);
    assert.equal(v.dst, A2);
    assert.ok(v.verifyChecksum());
    assert.equal(v.options().length, 0);
    assert.deepEqual(v.payload(), ECHO.subarray(20));
  });

  test('the fixtures are the captured bytes', () => {
    const veth = readPcap('a_veth-v4.pcap');
    const lo = readPcap('a_lo-v4.pcap');
    const pairs: [Uint8Array, Uint8Array][] = [
      [ECHO, veth[2]!],
      [RR_REQUEST, veth[41]!],
      [RR_REPLY, veth[42]!],
      [LSRR, veth[18]!],
      [SSRR, veth[19]!],
      [RA, veth[20]!],
      [SECURITY, veth[24]!],
      [UNKNOWN, veth[26]!],
      [BAD_RR_POINTER, veth[16]!],
      [TS_ONLY, lo[4]!],
      [TS_ADDR, lo[6]!],
    ];
    for (const [fixture, frame] of pairs) assert.deepEqual(frame.subarray(14, 14 + fixture.length), fixture);
  });

  test('record route: request and reply', () => {
    const q = parseIpv4(RR_REQUEST);
    assert.ok(q.ok);
    assert.equal(q.value.headerLen, 60);
    assert.equal(q.value.payloadLen, 64);
    assert.deepEqual(q.value.repr.options, [{ kind: 'nop' }, { kind: 'rr', pointer: 8, route: [A1, 0, 0, 0, 0, 0, 0, 0, 0] }]);
    const p = parseIpv4(RR_REPLY);
    assert.ok(p.ok);
    assert.deepEqual(p.value.repr.options, [{ kind: 'rr', pointer: 16, route: [A1, A2, A2, 0, 0, 0, 0, 0, 0] }]);
    assert.equal(p.value.repr.df, false);
    assert.equal(Ipv4View.checked(RR_REPLY)!.options().length, 40);
  });

  test('timestamps: flag 0 and flag 1', () => {
    const a = parseIpv4(TS_ONLY);
    assert.ok(a.ok);
    assert.deepEqual(a.value.repr.options, [{ kind: 'ts', pointer: 9, overflow: 0, flag: IPOPT_TS_TSONLY, words: [0x050f410f, 0, 0, 0, 0, 0, 0, 0, 0] }]);
    assert.equal(a.value.repr.src, LO);
    const b = parseIpv4(TS_ADDR);
    assert.ok(b.ok);
    assert.deepEqual(b.value.repr.options, [{ kind: 'ts', pointer: 13, overflow: 0, flag: IPOPT_TS_TSANDADDR, words: [LO, 0x050f4111, 0, 0, 0, 0, 0, 0] }]);
    assert.equal(b.value.headerLen, 56);
  });

  test('source routes, router alert, security, unknown', () => {
    const opts = (b: Uint8Array): Ipv4Option[] => {
      const r = parseIpv4(b);
      assert.ok(r.ok, r.ok ? '' : r.error);
      return r.value.repr.options;
    };
    assert.deepEqual(opts(LSRR), [{ kind: 'lsrr', pointer: 4, route: [A2] }]);
    assert.deepEqual(opts(SSRR), [{ kind: 'ssrr', pointer: 4, route: [B2, A2] }]);
    assert.deepEqual(opts(RA), [{ kind: 'ra', value: 0 }]);
    // 12 bytes of options and then a whole word of padding: the EOL is kept.
    assert.deepEqual(opts(SECURITY), [{ kind: 'security', data: hex`f135 0000 0000 000000` }, { kind: 'nop' }, { kind: 'eol' }]);
    assert.deepEqual(opts(UNKNOWN), [{ kind: 'nop' }, { kind: 'unknown', type: 158, data: hex`deadbeef` }]);
    // A pointer below 4 is a semantic error for ip_dooptions, not a structural one.
    assert.deepEqual(opts(BAD_RR_POINTER), [{ kind: 'rr', pointer: 2, route: [] }]);
  });

  test('option type bits (RFC 791 §3.1)', () => {
    assert.equal(IPOPT_COPIED(IPOPT_LSRR), true);
    assert.equal(IPOPT_COPIED(IPOPT_SSRR), true);
    assert.equal(IPOPT_COPIED(IPOPT_SECURITY), true);
    assert.equal(IPOPT_COPIED(IPOPT_RR), false);
    assert.equal(IPOPT_COPIED(IPOPT_TS), false);
  });
});

describe('IPv4 construct (emit on a 0xa5-filled buffer)', () => {
  const all: [string, Uint8Array][] = [
    ['echo', ECHO],
    ['rr request', RR_REQUEST],
    ['rr reply', RR_REPLY],
    ['ts only', TS_ONLY],
    ['ts and addr', TS_ADDR],
    ['lsrr', LSRR],
    ['ssrr', SSRR],
    ['ra', RA],
    ['security', SECURITY],
    ['unknown', UNKNOWN],
    ['bad rr pointer', BAD_RR_POINTER],
  ];
  for (const [name, pkt] of all) {
    test(name, () => {
      const r = parseIpv4(pkt, 0, pkt.length);
      assert.ok(r.ok);
      const { repr, headerLen, payloadLen } = r.value;
      assert.equal(ipv4ReprLen(repr), headerLen);
      const buf = filled(headerLen + 3);
      assert.equal(emitIpv4(repr, buf, 0, payloadLen), headerLen);
      assert.deepEqual(buf.subarray(0, headerLen), pkt.subarray(0, headerLen));
      assert.deepEqual(buf.subarray(headerLen), filled(3));
    });
  }

  test('from a repr written by hand', () => {
    const buf = filled(20);
    emitIpv4(base({ id: 0x393d, proto: IPPROTO_ICMP }), buf, 0, 64);
    assert.deepEqual(buf, ECHO.subarray(0, 20));
  });

  test('view setters and fillChecksum rebuild the echo header', () => {
    const v = new Ipv4View().attach(filled(84));
    v.version = 4;
    v.headerLen = 20;
    v.tos = 0xff;
    v.dscp = 0;
    v.ecn = 0;
    v.totalLen = 84;
    v.id = 0x393d;
    v.ipOff = 0;
    v.rf = true;
    v.rf = false;
    v.mf = true;
    v.mf = false;
    v.fragOff = 8 * 0x1fff;
    v.fragOff = 0;
    v.df = true;
    v.ttl = 64;
    v.proto = IPPROTO_ICMP;
    v.src = A1;
    v.dst = A2;
    v.checksum = 0x1234;
    v.fillChecksum();
    assert.deepEqual(v.buf.subarray(0, 20), ECHO.subarray(0, 20));
    v.ttl = 63;
    assert.equal(v.verifyChecksum(), false);
  });

  test('fragment fields', () => {
    const buf = new Uint8Array(20);
    emitIpv4(base({ df: false, mf: true, fragOff: 1480 }), buf, 0, 0);
    const v = Ipv4View.checked(buf)!;
    assert.equal(v.ipOff, 0x2000 | 185);
    assert.equal(v.fragOff, 1480);
    assert.ok(v.isFragment);
  });

  test('emit pads options with EOL to a 4-byte boundary', () => {
    const opts: Ipv4Option[] = [{ kind: 'nop' }];
    assert.equal(ipv4OptionsLen(opts), 4);
    const buf = filled(24);
    assert.equal(emitIpv4(base({ options: opts }), buf, 0, 0), 24);
    assert.deepEqual(buf.subarray(20), Uint8Array.of(IPOPT_NOP, 0, 0, 0));
    const r = parseIpv4(buf);
    assert.ok(r.ok);
    assert.deepEqual(r.value.repr.options, opts);
  });
});

describe('IPv4 rejections', () => {
  test('every truncation is rejected (total length beyond the data)', () => {
    for (const pkt of [ECHO, RR_REQUEST, SECURITY, TS_ADDR]) {
      for (const p of prefixes(pkt)) {
        const r = parseIpv4(p);
        assert.equal(r.ok, false, `prefix ${p.length}`);
        assert.equal(Ipv4View.checked(p), null);
      }
    }
  });

  test('link-layer padding after the total length is accepted and excluded', () => {
    const padded = new Uint8Array(ECHO.length + 6);
    padded.set(ECHO);
    const r = parseIpv4(padded);
    assert.ok(r.ok);
    assert.equal(r.value.payloadLen, 64);
    assert.equal(Ipv4View.checked(padded)!.payload().length, 64);
  });

  const edit = (pkt: Uint8Array, i: number, v: number, fix = true): Uint8Array => {
    const b = Uint8Array.from(pkt);
    b[i] = v;
    if (fix) {
      const hl = Math.max(20, Math.min((b[0]! & 15) << 2 || 20, b.length));
      b[10] = 0;
      b[11] = 0;
      const c = inCksum(b, 0, hl);
      b[10] = c >>> 8;
      b[11] = c & 0xff;
    }
    return b;
  };
  const why = (b: Uint8Array): string => {
    const r = parseIpv4(b);
    assertResult(r);
    return r.ok ? 'ok' : r.error;
  };

  test('impossible lengths and versions', () => {
    assert.equal(why(edit(ECHO, 0, 0x65)), 'bad version');
    assert.equal(why(edit(ECHO, 0, 0x44)), 'bad header length'); // IHL 4
    assert.equal(why(edit(ECHO, 0, 0x40)), 'bad header length');
    assert.equal(why(edit(ECHO, 3, 19)), 'bad total length'); // total 19 < IHL
    assert.equal(why(edit(ECHO, 3, 85)), 'truncated packet');
    assert.equal(why(edit(ECHO, 2, 0xff)), 'truncated packet');
    assert.equal(why(edit(ECHO.subarray(0, 20), 0, 0x4f)), 'truncated header'); // IHL 15 in 20 bytes
    assert.equal(Ipv4View.checked(edit(ECHO, 0, 0x44)), null);
    assert.equal(Ipv4View.checked(edit(ECHO, 0, 0x65)), null);
  });

  test('bad header checksum, and verification off', () => {
    const b = edit(ECHO, 8, 63, false);
    assert.equal(why(b), 'bad checksum');
    assert.ok(parseIpv4(b, 0, b.length, false).ok);
    assert.equal(Ipv4View.checked(b)!.verifyChecksum(), false);
  });

  test('malformed options', () => {
    // Options area of RR_REQUEST starts at 20: NOP at 20, RR type 21, length 22, pointer 23.
    assert.equal(why(edit(RR_REQUEST, 22, 1)), 'bad option length');
    assert.equal(why(edit(RR_REQUEST, 22, 0)), 'bad option length');
    assert.equal(why(edit(RR_REQUEST, 22, 40)), 'bad option length'); // runs past the header
    assert.equal(why(edit(RR_REQUEST, 22, 38)), 'bad route option length'); // not 3 + 4n
    assert.equal(why(edit(RR_REQUEST, 21, IPOPT_TS)), 'bad timestamp option length'); // 39 is not 4 + 4n
    assert.equal(why(edit(RA, 21, 3)), 'bad router alert length');
    // A lone type octet at the end of the area (not EOL/NOP) has no length.
    assert.equal(why(edit(LSRR, 27, 0x44)), 'truncated option');
    const r = parseIpv4Options(Uint8Array.of(7), 0, 1);
    assert.equal(r.ok, false);
  });

  test('ranges outside the buffer', () => {
    assert.equal(parseIpv4(ECHO, 1).ok, false);
    assert.equal(parseIpv4(ECHO, 0, 85).ok, false);
    assert.equal(parseIpv4(ECHO, -1, 20).ok, false);
    assert.equal(parseIpv4(ECHO, 0.5, 20).ok, false);
    assert.equal(Ipv4View.checked(ECHO, 0, 85), null);
    assert.equal(Ipv4View.checked(ECHO, 70, 20), null);
  });
});

describe('IPv4 properties', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const byte = fc.integer({ min: 0, max: 255 });
  const known = new Set([0, 1, 7, 68, 130, 131, 137, 148]);
  const optionArb: fc.Arbitrary<Ipv4Option> = fc.oneof(
    fc.constant<Ipv4Option>({ kind: 'nop' }),
    rec({ kind: fc.constantFrom('rr' as const, 'lsrr' as const, 'ssrr' as const), pointer: byte, route: fc.array(u32, { maxLength: 9 }) }),
    rec({
      kind: fc.constant('ts' as const),
      pointer: byte,
      overflow: fc.integer({ min: 0, max: 15 }),
      flag: fc.integer({ min: 0, max: 15 }),
      words: fc.array(u32, { maxLength: 9 }),
    }),
    rec({ kind: fc.constant('ra' as const), value: fc.integer({ min: 0, max: 0xffff }) }),
    rec({ kind: fc.constant('security' as const), data: fc.uint8Array({ maxLength: 20 }) }),
    rec({ kind: fc.constant('unknown' as const), type: byte.filter((t) => !known.has(t)), data: fc.uint8Array({ maxLength: 12 }) }),
  );
  // Options that fit in 40 bytes; an EOL only where it is canonical (see Ipv4Option).
  const optionsArb = fc.tuple(fc.array(optionArb, { maxLength: 6 }), fc.boolean()).map(([opts, eol]) => {
    const out: Ipv4Option[] = [];
    let n = 0;
    for (const o of opts) {
      const len = optLen(o);
      if (n + len > 40) break;
      out.push(o);
      n += len;
    }
    if (eol && n % 4 === 0 && n + 4 <= 40) out.push({ kind: 'eol' });
    return out;
  });
  const reprArb: fc.Arbitrary<Ipv4Repr> = rec({
    tos: byte,
    id: fc.integer({ min: 0, max: 0xffff }),
    rf: fc.boolean(),
    df: fc.boolean(),
    mf: fc.boolean(),
    fragOff: fc.integer({ min: 0, max: 0x1fff }).map((x) => x * 8),
    ttl: byte,
    proto: byte,
    src: u32,
    dst: u32,
    options: optionsArb,
  });

  test('parse(emit(r)) = r', () => {
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 64 }), (repr, payload) => {
        const hl = ipv4ReprLen(repr);
        assert.ok(hl <= 60);
        const buf = new Uint8Array(hl + payload.length);
        assert.equal(emitIpv4(repr, buf, 0, payload.length), hl);
        buf.set(payload, hl);
        const r = parseIpv4(buf);
        assert.ok(r.ok, r.ok ? '' : r.error);
        assert.deepEqual(r.value.repr, repr);
        assert.equal(r.value.headerLen, hl);
        assert.equal(r.value.payloadLen, payload.length);
        assert.ok(Ipv4View.checked(buf)!.verifyChecksum());
      }),
    );
  });

  test('view getters agree with a naive DataView reference', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (b) => {
        const v = new Ipv4View().attach(b);
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        assert.equal(v.version, dv.getUint8(0) >> 4);
        assert.equal(v.headerLen, (dv.getUint8(0) & 15) * 4);
        assert.equal(v.totalLen, dv.getUint16(2));
        assert.equal(v.id, dv.getUint16(4));
        assert.equal(v.fragOff, (dv.getUint16(6) & 0x1fff) * 8);
        assert.equal(v.df, (dv.getUint16(6) & 0x4000) !== 0);
        assert.equal(v.checksum, dv.getUint16(10));
        assert.equal(v.src, dv.getUint32(12));
        assert.equal(v.dst, dv.getUint32(16));
      }),
    );
  });

  test('arbitrary bytes never throw; checked() keeps accessors in range', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (b, verify) => {
        if (b.length > 0) b[0] = (b[0]! & 0x0f) | 0x40; // mostly version 4, to get past the first check
        const r = parseIpv4(b, 0, b.length, verify);
        assertResult(r);
        const v = Ipv4View.checked(b);
        if (v) {
          assert.ok(v.headerLen + v.payload().length <= b.length);
          assert.equal(v.options().length, v.headerLen - 20);
        }
        if (r.ok) assert.ok(v);
      }),
    );
  });

  test('mutations and truncations of captured packets never throw', () => {
    const corpus = [ECHO, RR_REQUEST, RR_REPLY, TS_ONLY, TS_ADDR, LSRR, SSRR, RA, SECURITY, UNKNOWN, BAD_RR_POINTER];
    fc.assert(
      fc.property(fc.constantFrom(...corpus), fc.array(fc.tuple(fc.nat(59), byte), { maxLength: 4 }), fc.nat(), (pkt, edits, cut) => {
        const m = Uint8Array.from(pkt);
        for (const [i, v] of edits) m[i % m.length] = v;
        assertResult(parseIpv4(m.subarray(0, cut % (m.length + 1)), 0, undefined, false));
      }),
    );
  });
});

function optLen(o: Ipv4Option): number {
  switch (o.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'rr':
    case 'lsrr':
    case 'ssrr':
      return 3 + 4 * o.route.length;
    case 'ts':
      return 4 + 4 * o.words.length;
    case 'ra':
      return 4;
    default:
      return 2 + o.data.length;
  }
}
