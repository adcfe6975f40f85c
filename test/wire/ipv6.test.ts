/*
 * Tests for the IPv6 codec (src/wire/ipv6.ts): Ip6View, the extension-header walker, the
 * option cursor and parseIp6/emitIp6, on packets captured from Linux 6.18 (MLDv2 reports with
 * a hop-by-hop Router Alert, fragments of `ping -6 -s 3000`, destination options sent through
 * IPV6_DSTOPTS, a segment routing header from `ip -6 route ... encap seg6`), plus constructed
 * routing type 0 and 2, AH and jumbogram layouts.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cksumFinish, cksumPartial } from '../../src/wire/checksum.js';
import { IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ICMPV6, IPPROTO_ROUTING, IPPROTO_UDP } from '../../src/wire/ipv4.js';
import {
  emitIp6,
  IP6_EXT_MAX,
  IP6_WALK_EHBH,
  IP6_WALK_EHDRTRUNC,
  IP6_WALK_ETOOMANY,
  IP6_WALK_ETRUNC,
  IP6_WALK_EVERSION,
  IP6_WALK_OK,
  IP6OPT_NEXT_DONE,
  IP6OPT_NEXT_ETRUNC,
  IP6OPT_NEXT_OK,
  IP6OPT_PADN,
  IP6OPT_ROUTER_ALERT,
  IP6OPT_TYPE,
  IP6OPT_TYPE_DISCARD,
  IP6OPT_TYPE_ICMP,
  IP6OPT_TYPE_SKIP,
  type Ip6ExtHeader,
  Ip6ExtChain,
  Ip6FragView,
  type Ip6Option,
  Ip6OptCursor,
  type Ip6Repr,
  Ip6View,
  ip6_exthdr_walk,
  ip6ExtLen,
  ip6ReprLen,
  parseIp6,
} from '../../src/wire/ipv6.js';
import { captureL3, filled, hex, ip6 } from './fixtures/b_util.js';

/* ---------------------------------------------------------------------------------------- */
/* Fixtures captured from Linux (b_ipv6_icmp6.pcap; frame numbers are 1-based)               */
/* ---------------------------------------------------------------------------------------- */

const CAP = captureL3('b_ipv6_icmp6.pcap');
const frame = (n: number): Uint8Array => CAP[n - 1] as Uint8Array;

// Router's MLDv2 report when its link came up (#2): hop-by-hop header with Router Alert.
const MLD_HBH = hex`
  6000 0000           # version 6, traffic class 0, flow label 0
  0060                # payload length 96
  00                  # next header: hop-by-hop options
  01                  # hop limit 1
  fe80 0000 0000 0000 0000 00ff fe00 0001   # src fe80::ff:fe00:1
  ff02 0000 0000 0000 0000 0000 0000 0016   # dst ff02::16 (all MLDv2 routers)
  3a                  # HBH: next header ICMPv6
  00                  # HBH: length 0 (8 bytes)
  0502 0000           # Router Alert (RFC 2711), value 0 = MLD
  0100                # PadN, 2 octets
  8f00 69b6 0000 0004 # ICMPv6 MLDv2 report, 4 records
  0400 0000 ff02 0000 0000 0000 0000 0001 ff00 0000
  0400 0000 ff02 0000 0000 0000 0000 0001 ff00 0001
  0400 0000 ff05 0000 0000 0000 0000 0000 0000 0002
  0400 0000 ff02 0000 0000 0000 0000 0000 0000 0002
`;

// Echo request to the router's link-local address (#15): no extension headers.
const ECHO_LL = frame(15);

// Last fragment of `ping -6 -s 3000` (#23).
const FRAG_LAST = hex`
  600b eb99 0078 2c40                        # flow 0xbeb99, payload 120, next header Fragment, hlim 64
  2001 0db8 0001 0000 0000 00ff fe00 000a    # src 2001:db8:1::ff:fe00:a
  2001 0db8 0001 0000 0000 0000 0000 0001    # dst 2001:db8:1::1
  3a                  # fragment: next header ICMPv6
  00                  # reserved
  0b50                # offset 362 × 8 = 2896, M = 0
  c94a 851d           # identification
  48494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f
  707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798
  999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7
`;
// First fragment (#21, 1496 bytes): the fragment header with M = 1, then the ICMPv6 header.
const FRAG_FIRST = frame(21);

// UDP with a destination options header set through IPV6_DSTOPTS (#40).
const DSTOPTS_UDP = hex`
  6002 695c 001e 3c40                        # payload 30, next header Destination Options
  2001 0db8 0001 0000 0000 00ff fe00 000a
  2001 0db8 0002 0000 0000 0000 0000 000b
  11                  # next header UDP
  01                  # length 1 (16 bytes)
  1e 04 dead beef     # option type 0x1e (RFC 4727 experiment, action 00 = skip), 4 bytes
  00                  # Pad1
  01 05 0000 0000 00  # PadN, 7 octets
  cb45 0009 000e 90a2 6473 746f 7074         # UDP 52037 → 9, "dstopt"
`;

// Echo request with a segment routing header, `encap seg6 mode inline` (#41).
const SRH = frame(41);

/* ---------------------------------------------------------------------------------------- */
/* Constructed fixtures                                                                      */
/* ---------------------------------------------------------------------------------------- */

// Routing type 0 (RFC 2460 §4.4) with two addresses, deprecated by RFC 5095; then no next header.
const RT0 = hex`
  6000 0000 0028 2b40
  2001 0db8 0000 0000 0000 0000 0000 0001
  2001 0db8 0000 0000 0000 0000 0000 0002
  3b 04 00 02 0000 0000                      # nxt 59, len 4, type 0, segments left 2, reserved
  2001 0db8 0000 0000 0000 0000 0000 0003
  2001 0db8 0000 0000 0000 0000 0000 0004
`;
// Routing type 2 (RFC 6275 §6.4) then AH (RFC 4302: 12-byte fixed part + 12-byte ICV) then UDP.
const RT2_AH = hex`
  6a12 3456 0038 2b40                        # traffic class 0xa1, flow 0x23456, payload 56
  2001 0db8 0000 0000 0000 0000 0000 0001
  2001 0db8 0000 0000 0000 0000 0000 0002
  33 02 02 01 0000 0000                      # nxt AH, len 2, type 2, segments left 1
  2001 0db8 0000 0000 0000 0000 0000 00aa    # home address
  11 04 0000 0000 1000 0000 0001             # AH: nxt UDP, len 4 ((4+2)×4 = 24 bytes), SPI, seq
  0102 0304 0506 0708 090a 0b0c              # ICV
  1234 5678 0008 0000                        # UDP header, no data
`;

/* ---------------------------------------------------------------------------------------- */
/* helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

function parseOk(pkt: Uint8Array): Ip6Repr {
  const r = parseIp6(pkt, 0, pkt.length);
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

function walk(pkt: Uint8Array, off = 0, len = pkt.length): [number, Ip6ExtChain] {
  const c = new Ip6ExtChain();
  return [ip6_exthdr_walk(pkt, off, len, c), c];
}

/** Emit the headers into a 0xa5 buffer with guard bytes; returns them. */
function emitted(repr: Ip6Repr): Uint8Array {
  const n = ip6ReprLen(repr);
  const out = filled(n + 8);
  assert.equal(emitIp6(repr, out, 4), n);
  assert.equal(out[3], 0xa5);
  assert.equal(out[4 + n], 0xa5);
  return out.subarray(4, 4 + n);
}

function options(pkt: Uint8Array, hdrOff: number, hdrLen: number): [number, number, number][] {
  const c = new Ip6OptCursor().attach(pkt, hdrOff, hdrLen);
  const out: [number, number, number][] = [];
  for (let r = c.next(); r === IP6OPT_NEXT_OK; r = c.next()) out.push([c.type, c.optOff, c.dataLen]);
  return out;
}

/* ---------------------------------------------------------------------------------------- */
/* deconstruct                                                                               */
/* ---------------------------------------------------------------------------------------- */

describe('Ip6View', () => {
  it('the pasted fixtures are the captured frames', () => {
    assert.deepEqual(MLD_HBH, frame(2));
    assert.deepEqual(FRAG_LAST, frame(23));
    assert.deepEqual(DSTOPTS_UDP, frame(40));
  });

  it('reads the fixed header of the MLD report', () => {
    const v = Ip6View.checked(MLD_HBH, 0, MLD_HBH.length);
    assert.ok(v);
    assert.equal(v.version, 6);
    assert.equal(v.tc, 0);
    assert.equal(v.flow, 0);
    assert.equal(v.plen, 96);
    assert.equal(v.nxt, IPPROTO_HOPOPTS);
    assert.equal(v.hlim, 1);
    assert.deepEqual(v.src(), ip6('fe80::ff:fe00:1'));
    assert.deepEqual(v.dst(), ip6('ff02::16'));
    assert.ok(v.srcEquals(ip6('fe80::ff:fe00:1')));
    assert.ok(!v.dstEquals(ip6('ff02::1')));
    assert.ok(v.dstIsMulticast());
    assert.ok(!v.srcIsMulticast());
    assert.ok(!v.srcIsUnspecified());
    assert.equal(v.payloadOff, 40);
  });

  it('traffic class and flow label share the first word without clobbering each other', () => {
    const v = new Ip6View(RT2_AH);
    assert.equal(v.version, 6);
    assert.equal(v.tc, 0xa1);
    assert.equal(v.ecn, 1);
    assert.equal(v.flow, 0x23456);
    const buf = filled(40);
    const w = new Ip6View(buf);
    w.version = 6;
    w.tc = 0xff;
    w.flow = 0;
    assert.deepEqual(buf.subarray(0, 4), hex`6ff0 0000`);
    w.tc = 0;
    w.flow = 0xfffff;
    assert.deepEqual(buf.subarray(0, 4), hex`600f ffff`);
    w.tc = 0x5a;
    assert.equal(w.flow, 0xfffff);
    assert.equal(w.version, 6);
    w.version = 4;
    assert.equal(w.tc, 0x5a);
  });

  it('copies, compares and sets addresses without touching neighbours', () => {
    const v = new Ip6View(ECHO_LL.slice());
    const a = filled(20);
    v.copySrcTo(a, 2);
    assert.deepEqual(a.subarray(2, 18), ip6('fe80::ff:fe00:a'));
    assert.equal(a[18], 0xa5);
    v.setDst(a, 2);
    assert.ok(v.dstEquals(ip6('fe80::ff:fe00:a')));
    assert.equal(v.hlim, 64);
    const d = new Uint8Array(16);
    v.copyDstTo(d);
    assert.deepEqual(d, ip6('fe80::ff:fe00:a'));
    v.setSrc(new Uint8Array(16));
    assert.ok(v.srcIsUnspecified());
  });

  it('pseudoSum matches the ICMPv6 checksum of the capture', () => {
    const v = new Ip6View(ECHO_LL);
    assert.equal(cksumFinish(cksumPartial(ECHO_LL, 40, v.plen, v.pseudoSum(IPPROTO_ICMPV6, v.plen))), 0);
  });

  it('checked() refuses short buffers and payload lengths beyond the data', () => {
    assert.equal(Ip6View.checked(MLD_HBH, 0, 39), null);
    assert.equal(Ip6View.checked(MLD_HBH, 0, MLD_HBH.length - 1), null);
    assert.equal(Ip6View.checked(MLD_HBH, 1, MLD_HBH.length), null);
    assert.ok(Ip6View.checked(MLD_HBH, 0, MLD_HBH.length));
  });

  it('Ip6FragView reads and writes the fragment fields', () => {
    const f = new Ip6FragView().attach(FRAG_FIRST, 40);
    assert.equal(f.nxt, IPPROTO_ICMPV6);
    assert.equal(f.offset, 0);
    assert.equal(f.more, true);
    assert.equal(f.ident, 0xc94a851d);
    const g = new Ip6FragView().attach(FRAG_LAST.slice(), 40);
    assert.equal(g.offset, 2896);
    assert.equal(g.more, false);
    g.more = true;
    assert.equal(g.offset, 2896);
    g.offset = 8;
    assert.equal(g.more, true);
    assert.equal(g.offset, 8);
    g.ident = 0xffffffff;
    assert.equal(g.ident, 0xffffffff);
    assert.equal(g.nxt, IPPROTO_ICMPV6);
  });
});

describe('ip6_exthdr_walk and Ip6OptCursor on captured packets', () => {
  it('hop-by-hop header of the MLD report', () => {
    const [r, c] = walk(MLD_HBH);
    assert.equal(r, IP6_WALK_OK);
    assert.equal(c.n, 1);
    assert.equal(c.types[0], IPPROTO_HOPOPTS);
    assert.equal(c.offs[0], 40);
    assert.equal(c.lens[0], 8);
    assert.equal(c.nxt, IPPROTO_ICMPV6);
    assert.equal(c.upOff, 48);
    assert.equal(c.end, 136);
    assert.equal(c.fragOff, -1);
    assert.equal(c.rtOff, -1);
    assert.deepEqual(options(MLD_HBH, 40, 8), [
      [IP6OPT_ROUTER_ALERT, 42, 2],
      [IP6OPT_PADN, 46, 0],
    ]);
  });

  it('no extension headers', () => {
    const [r, c] = walk(ECHO_LL);
    assert.equal(r, IP6_WALK_OK);
    assert.equal(c.n, 0);
    assert.equal(c.nxt, IPPROTO_ICMPV6);
    assert.equal(c.upOff, 40);
  });

  it('first fragment: walks on to the ICMPv6 header; later fragment: stops at the fragment data', () => {
    let [r, c] = walk(FRAG_FIRST);
    assert.equal(r, IP6_WALK_OK);
    assert.equal(c.n, 1);
    assert.equal(c.fragOff, 40);
    assert.equal(c.nxt, IPPROTO_ICMPV6);
    assert.equal(c.upOff, 48);
    assert.equal(FRAG_FIRST[48], 128, 'echo request type after the fragment header');
    [r, c] = walk(frame(22));
    assert.equal(r, IP6_WALK_OK);
    assert.equal(c.fragOff, 40);
    assert.equal(c.upOff, 48);
    [r, c] = walk(FRAG_LAST);
    assert.equal(r, IP6_WALK_OK);
    assert.equal(c.types[0], IPPROTO_FRAGMENT);
    assert.equal(c.nxt, IPPROTO_ICMPV6);
    assert.equal(c.upOff, 48);
    assert.equal(c.end, 160);
  });

  it('destination options: unknown type kept with its RFC 8200 §4.2 action bits', () => {
    const [r, c] = walk(DSTOPTS_UDP);
    assert.equal(r, IP6_WALK_OK);
    assert.equal(c.types[0], IPPROTO_DSTOPTS);
    assert.equal(c.lens[0], 16);
    assert.equal(c.nxt, IPPROTO_UDP);
    assert.equal(c.upOff, 56);
    const opts = options(DSTOPTS_UDP, 40, 16);
    assert.deepEqual(opts, [
      [0x1e, 42, 4],
      [0, 48, 0],
      [IP6OPT_PADN, 49, 5],
    ]);
    assert.equal(IP6OPT_TYPE(0x1e), IP6OPT_TYPE_SKIP);
    assert.equal(IP6OPT_TYPE(0x5e), IP6OPT_TYPE_DISCARD);
    assert.equal(IP6OPT_TYPE(0xc2), IP6OPT_TYPE_ICMP);
  });

  it('segment routing header', () => {
    const [r, c] = walk(SRH);
    assert.equal(r, IP6_WALK_OK);
    assert.equal(c.types[0], IPPROTO_ROUTING);
    assert.equal(c.rtOff, 40);
    assert.equal(c.lens[0], 40);
    assert.equal(c.nxt, IPPROTO_ICMPV6);
    assert.equal(c.upOff, 80);
  });

  it('routing type 2 then AH (length in 4-octet units)', () => {
    const [r, c] = walk(RT2_AH);
    assert.equal(r, IP6_WALK_OK);
    assert.deepEqual(Array.from(c.types.subarray(0, c.n)), [IPPROTO_ROUTING, IPPROTO_AH]);
    assert.deepEqual(Array.from(c.lens.subarray(0, c.n)), [24, 24]);
    assert.equal(c.nxt, IPPROTO_UDP);
    assert.equal(c.upOff, 88);
  });

  it('every IPv6 packet of the capture walks cleanly, and its headers re-emit byte for byte', () => {
    let n = 0;
    for (const pkt of CAP) {
      const [r, c] = walk(pkt);
      assert.equal(r, IP6_WALK_OK);
      const repr = parseOk(pkt);
      assert.equal(repr.nxt, c.nxt);
      assert.deepEqual(emitted(repr), pkt.subarray(0, c.upOff));
      n++;
    }
    assert.equal(n, 48);
  });
});

describe('parseIp6', () => {
  it('MLD report with hop-by-hop Router Alert', () => {
    assert.deepEqual(parseOk(MLD_HBH), {
      tc: 0,
      flow: 0,
      hlim: 1,
      src: ip6('fe80::ff:fe00:1'),
      dst: ip6('ff02::16'),
      ext: [
        {
          kind: 'hbh',
          options: [
            { kind: 'routerAlert', value: 0 },
            { kind: 'padN', n: 2 },
          ],
        },
      ],
      nxt: IPPROTO_ICMPV6,
      payloadLen: 88,
    });
  });

  it('fragments', () => {
    const last = parseOk(FRAG_LAST);
    assert.equal(last.flow, 0xbeb99);
    assert.deepEqual(last.ext, [{ kind: 'frag', offset: 2896, more: false, ident: 0xc94a851d }]);
    assert.equal(last.nxt, IPPROTO_ICMPV6);
    assert.equal(last.payloadLen, 112);
    const first = parseOk(FRAG_FIRST);
    assert.deepEqual(first.ext, [{ kind: 'frag', offset: 0, more: true, ident: 0xc94a851d }]);
    assert.equal(first.payloadLen, 1448);
  });

  it('destination options', () => {
    const r = parseOk(DSTOPTS_UDP);
    assert.deepEqual(r.ext, [
      {
        kind: 'dstopts',
        options: [{ kind: 'unknown', type: 0x1e, data: hex`dead beef` }, { kind: 'pad1' }, { kind: 'padN', n: 7 }],
      },
    ]);
    assert.equal(r.nxt, IPPROTO_UDP);
    assert.equal(r.payloadLen, 14);
  });

  it('segment routing header kept raw with its type and segments left', () => {
    const r = parseOk(SRH);
    const h = r.ext[0];
    assert.ok(h?.kind === 'rt');
    assert.equal(h.type, 4);
    assert.equal(h.segLeft, 1);
    assert.equal(h.data.length, 36);
    assert.deepEqual(h.data.subarray(4, 20), ip6('2001:db8:2::b'));
    assert.deepEqual(h.data.subarray(20), ip6('2001:db8:1::1'));
    assert.deepEqual(r.dst, ip6('2001:db8:1::1'));
  });

  it('routing type 0 is parsed and flagged deprecated (RFC 5095)', () => {
    const r = parseOk(RT0);
    assert.deepEqual(r.ext, [{ kind: 'rt0', deprecated: true, segLeft: 2, addrs: [ip6('2001:db8::3'), ip6('2001:db8::4')] }]);
    assert.equal(r.nxt, 59);
    assert.equal(r.payloadLen, 0);
  });

  it('routing type 2 and AH', () => {
    const r = parseOk(RT2_AH);
    assert.deepEqual(r.ext, [
      { kind: 'rt2', segLeft: 1, addr: ip6('2001:db8::aa') },
      { kind: 'ah', data: hex`0000 0000 1000 0000 0001 0102 0304 0506 0708 090a 0b0c` },
    ]);
    assert.equal(r.tc, 0xa1);
    assert.equal(r.flow, 0x23456);
    assert.equal(r.payloadLen, 8);
  });

  it('jumbogram: payload length 0 and a Jumbo Payload option (RFC 2675)', () => {
    const total = 40 + 8 + 70000;
    const pkt = new Uint8Array(total);
    pkt.set(hex`6000 0000 0000 0040`);
    pkt.set(hex`11 00 c204 0001 1178`, 40); // HBH: nxt UDP, Jumbo 70008
    const r = parseOk(pkt);
    assert.deepEqual(r.ext, [{ kind: 'hbh', options: [{ kind: 'jumbo', payloadLen: 70008 }] }]);
    assert.equal(r.payloadLen, 70000);
    assert.deepEqual(emitted(r), pkt.subarray(0, 48));
    const [w, c] = walk(pkt);
    assert.equal(w, IP6_WALK_OK);
    assert.equal(c.end, total);
    // non-zero payload length with a jumbo option, jumbo beyond the data
    const bad1 = pkt.slice(0, 48 + 8);
    bad1[5] = 16;
    assert.equal(parseIp6(bad1, 0, bad1.length).ok, false);
    assert.equal(parseIp6(pkt, 0, total - 1).ok, false);
  });
});

/* ---------------------------------------------------------------------------------------- */
/* construct                                                                                 */
/* ---------------------------------------------------------------------------------------- */

describe('emitIp6', () => {
  it('builds the MLD report headers from a hand-written repr', () => {
    const repr: Ip6Repr = {
      tc: 0,
      flow: 0,
      hlim: 1,
      src: ip6('fe80::ff:fe00:1'),
      dst: ip6('ff02::16'),
      ext: [{ kind: 'hbh', options: [{ kind: 'routerAlert', value: 0 }] }],
      nxt: IPPROTO_ICMPV6,
      payloadLen: 88,
    };
    // emit pads with PadN(2) itself, as Linux did
    assert.deepEqual(emitted(repr), MLD_HBH.subarray(0, 48));
  });

  it('rebuilds every constructed and captured fixture byte for byte', () => {
    for (const pkt of [MLD_HBH, ECHO_LL, FRAG_LAST, FRAG_FIRST, DSTOPTS_UDP, SRH, RT0, RT2_AH]) {
      const r = parseOk(pkt);
      const [, c] = walk(pkt);
      assert.deepEqual(emitted(r), pkt.subarray(0, c.upOff));
    }
  });

  it('pads options with Pad1 or PadN to a multiple of 8', () => {
    const base: Ip6Repr = { tc: 0, flow: 0, hlim: 64, src: new Uint8Array(16), dst: new Uint8Array(16), ext: [], nxt: 59, payloadLen: 0 };
    const one = emitted({ ...base, ext: [{ kind: 'dstopts', options: [{ kind: 'unknown', type: 0x3e, data: hex`0102 03` }] }] });
    assert.deepEqual(one.subarray(40), hex`3b 00 3e03 0102 03 00`);
    const pad = emitted({ ...base, ext: [{ kind: 'dstopts', options: [] }] });
    assert.deepEqual(pad.subarray(40), hex`3b 00 0104 0000 0000`);
  });

  it('throws RangeError for reprs it cannot encode (caller bugs)', () => {
    const base: Ip6Repr = { tc: 0, flow: 0, hlim: 64, src: new Uint8Array(16), dst: new Uint8Array(16), ext: [], nxt: 59, payloadLen: 0 };
    const buf = new Uint8Array(4096);
    const bad = (r: Partial<Ip6Repr>) => assert.throws(() => emitIp6({ ...base, ...r }, buf, 0), RangeError);
    bad({ flow: 0x100000 });
    bad({ tc: 256 });
    bad({ src: new Uint8Array(4) });
    bad({ payloadLen: 65536 });
    bad({
      ext: [
        { kind: 'dstopts', options: [] },
        { kind: 'hbh', options: [] },
      ],
    });
    bad({
      ext: [
        { kind: 'frag', offset: 8, more: false, ident: 1 },
        { kind: 'dstopts', options: [] },
      ],
    });
    bad({ ext: [{ kind: 'frag', offset: 9, more: false, ident: 1 }] });
    bad({ ext: [{ kind: 'rt', type: 4, segLeft: 0, data: new Uint8Array(5) }] });
    bad({ ext: [{ kind: 'rt', type: 0, segLeft: 0, data: new Uint8Array(4) }] });
    bad({ ext: [{ kind: 'ah', data: new Uint8Array(3) }] });
    bad({ ext: [{ kind: 'hbh', options: [{ kind: 'jumbo', payloadLen: 5 }] }] });
    bad({ ext: [{ kind: 'hbh', options: [{ kind: 'unknown', type: 5, data: hex`0000` }] }] });
    bad({ ext: [{ kind: 'hbh', options: [{ kind: 'padN', n: 1 }] }] });
    assert.throws(() => emitIp6(base, new Uint8Array(39), 0), RangeError);
  });
});

/* ---------------------------------------------------------------------------------------- */
/* rejection                                                                                 */
/* ---------------------------------------------------------------------------------------- */

describe('malformed packets are rejected, not thrown', () => {
  const fixed = (plen: number, nxt: number) => {
    const b = new Uint8Array(40);
    b.set(hex`6000 0000`);
    b[4] = plen >>> 8;
    b[5] = plen & 0xff;
    b[6] = nxt;
    b[7] = 64;
    return b;
  };
  const pkt = (nxt: number, rest: Uint8Array) => {
    const out = new Uint8Array(40 + rest.length);
    out.set(fixed(rest.length, nxt));
    out.set(rest, 40);
    return out;
  };

  it('truncated fixed header, payload length beyond the data, wrong version', () => {
    assert.equal(walk(MLD_HBH, 0, 39)[0], IP6_WALK_ETRUNC);
    assert.equal(walk(MLD_HBH, 0, 100)[0], IP6_WALK_ETRUNC);
    assert.equal(walk(MLD_HBH, 100, 100)[0], IP6_WALK_ETRUNC);
    const v4 = MLD_HBH.slice();
    v4[0] = 0x45;
    assert.equal(walk(v4)[0], IP6_WALK_EVERSION);
    assert.equal(parseIp6(v4, 0, v4.length).ok, false);
  });

  it('an extension header running past the payload', () => {
    const p = pkt(IPPROTO_DSTOPTS, hex`3b 01 0000 0000 0000`); // claims 16 bytes, has 8
    assert.equal(walk(p)[0], IP6_WALK_EHDRTRUNC);
    assert.equal(parseIp6(p, 0, p.length).ok, false);
    const q = pkt(IPPROTO_FRAGMENT, hex`3b 00 0000`);
    assert.equal(walk(q)[0], IP6_WALK_EHDRTRUNC);
  });

  it('hop-by-hop not first: errPtr points at the Next Header field that named it', () => {
    const p = pkt(IPPROTO_DSTOPTS, hex`00 00 0104 0000 0000  3b 00 0104 0000 0000`);
    const [r, c] = walk(p);
    assert.equal(r, IP6_WALK_EHBH);
    assert.equal(c.errPtr, 40);
    assert.equal(parseIp6(p, 0, p.length).ok, false);
  });

  it(`more than ${IP6_EXT_MAX} extension headers`, () => {
    const hdrs = new Uint8Array(8 * (IP6_EXT_MAX + 1));
    for (let i = 0; i <= IP6_EXT_MAX; i++) hdrs.set(i < IP6_EXT_MAX ? hex`3c 00 0104 0000 0000` : hex`3b 00 0104 0000 0000`, 8 * i);
    const p = pkt(IPPROTO_DSTOPTS, hdrs);
    assert.equal(walk(p)[0], IP6_WALK_ETOOMANY);
    assert.equal(walk(pkt(IPPROTO_DSTOPTS, hdrs.subarray(8)))[0], IP6_WALK_OK);
  });

  const optionCases: [string, Uint8Array][] = [
    ['option running past its header', hex`3b 00 0106 0000 0000`],
    ['option type as the last byte', hex`3b 00 0103 0000 00 1e`],
    ['PadN with non-zero data (RFC 4942 §2.1.9.5)', hex`3b 00 0104 0000 0100`],
    ['Router Alert of 3 bytes', hex`3b 00 0503 0000 00 00`],
    ['Jumbo Payload of 3 bytes', hex`3b 00 c203 0000 00 00`],
  ];
  for (const [name, hdr] of optionCases) {
    it(name, () => {
      const p = pkt(IPPROTO_DSTOPTS, hdr);
      assert.equal(walk(p)[0], IP6_WALK_OK, 'the walker does not look inside options');
      assert.equal(parseIp6(p, 0, p.length).ok, false);
    });
  }

  it('the option cursor reports the truncated option', () => {
    const h = hex`3b 00 00 0106 0000 00`;
    const c = new Ip6OptCursor().attach(h, 0, 8);
    assert.equal(c.next(), IP6OPT_NEXT_OK);
    assert.equal(c.next(), IP6OPT_NEXT_ETRUNC);
    assert.equal(c.optOff, 3);
    const d = new Ip6OptCursor().attach(hex`3b 00 0104 0000 0000`, 0, 8);
    assert.equal(d.next(), IP6OPT_NEXT_OK);
    assert.equal(d.next(), IP6OPT_NEXT_DONE);
  });

  it('routing type 0 with an odd length, routing type 2 with length 4', () => {
    const rt0 = pkt(IPPROTO_ROUTING, hex`3b 01 00 00 0000 0000  0000 0000 0000 0000`);
    assert.equal(parseIp6(rt0, 0, rt0.length).ok, false);
    const rt2 = new Uint8Array(40);
    rt2.set(hex`3b 04 02 01`);
    const p2 = pkt(IPPROTO_ROUTING, rt2);
    assert.equal(parseIp6(p2, 0, p2.length).ok, false);
  });

  it('payload length 0 with hop-by-hop but no Jumbo option', () => {
    const p = pkt(IPPROTO_HOPOPTS, hex`3b 00 0104 0000 0000`);
    p[5] = 0;
    assert.equal(walk(p)[0], IP6_WALK_OK);
    assert.equal(parseIp6(p, 0, p.length).ok, false);
  });

  it('every truncation of every fixture is rejected or parsed, never thrown', () => {
    for (const p of [MLD_HBH, ECHO_LL, FRAG_LAST, DSTOPTS_UDP, SRH, RT0, RT2_AH]) {
      const need = 40 + (((p[4] as number) << 8) | (p[5] as number));
      for (let n = 0; n <= p.length; n++) {
        const r = parseIp6(p, 0, n);
        assert.equal(r.ok, n >= need, `length ${n}`);
        assert.equal(walk(p, 0, n)[0] === IP6_WALK_OK, n >= need);
      }
    }
  });
});

/* ---------------------------------------------------------------------------------------- */
/* properties                                                                                */
/* ---------------------------------------------------------------------------------------- */

const u8 = fc.integer({ min: 0, max: 0xff });
const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
const KNOWN_OPTS = new Set([0, 1, 5, 0xc2]);

const optArb: fc.Arbitrary<Ip6Option> = fc.oneof(
  fc.constant<Ip6Option>({ kind: 'pad1' }),
  fc.integer({ min: 2, max: 12 }).map((n): Ip6Option => ({ kind: 'padN', n })),
  fc.integer({ min: 0, max: 0xffff }).map((value): Ip6Option => ({ kind: 'routerAlert', value })),
  fc.record({ type: u8.filter((t) => !KNOWN_OPTS.has(t)), data: fc.uint8Array({ maxLength: 20 }) }).map((u): Ip6Option => ({ kind: 'unknown', ...u })),
);

/** Options followed by the padding emit would add, written out (canonical form). */
const optsArb = fc.array(optArb, { maxLength: 6 }).map((opts) => {
  let n = 2;
  for (const o of opts) n += o.kind === 'pad1' ? 1 : o.kind === 'padN' ? o.n : o.kind === 'unknown' ? 2 + o.data.length : o.kind === 'routerAlert' ? 4 : 6;
  const pad = (8 - (n % 8)) % 8;
  if (pad === 1) opts.push({ kind: 'pad1' });
  else if (pad > 1) opts.push({ kind: 'padN', n: pad });
  return opts;
});

const extArb: fc.Arbitrary<Ip6ExtHeader> = fc.oneof(
  optsArb.map((options): Ip6ExtHeader => ({ kind: 'dstopts', options })),
  fc.record({ segLeft: u8, addrs: fc.array(addr, { maxLength: 3 }) }).map((r): Ip6ExtHeader => ({ kind: 'rt0', deprecated: true, ...r })),
  fc.record({ segLeft: u8, addr }).map((r): Ip6ExtHeader => ({ kind: 'rt2', ...r })),
  fc
    .record({ type: u8.filter((t) => t !== 0 && t !== 2), segLeft: u8, k: fc.integer({ min: 0, max: 4 }) })
    .chain(({ k, ...r }) => fc.uint8Array({ minLength: 8 * k + 4, maxLength: 8 * k + 4 }).map((data): Ip6ExtHeader => ({ kind: 'rt', ...r, data }))),
  fc.record({ more: fc.boolean(), ident: fc.integer({ min: 0, max: 0xffffffff }) }).map((r): Ip6ExtHeader => ({ kind: 'frag', offset: 0, ...r })),
  fc
    .integer({ min: 1, max: 6 })
    .chain((k) => fc.uint8Array({ minLength: 4 * k + 2, maxLength: 4 * k + 2 }))
    .map((data): Ip6ExtHeader => ({ kind: 'ah', data })),
);

const reprArb: fc.Arbitrary<Ip6Repr> = fc
  .record({
    tc: u8,
    flow: fc.integer({ min: 0, max: 0xfffff }),
    hlim: u8,
    src: addr,
    dst: addr,
    hbh: fc.option(optsArb),
    mid: fc.array(extArb, { maxLength: 5 }),
    lastFrag: fc.option(
      fc.record({ offset: fc.integer({ min: 1, max: 8191 }).map((x) => x * 8), more: fc.boolean(), ident: fc.integer({ min: 0, max: 0xffffffff }) }),
    ),
    nxt: fc.constantFrom(6, 17, 58, 59, 50, 4, 41, 200, 255),
    payloadLen: fc.integer({ min: 0, max: 64 }),
  })
  .map(({ hbh, mid, lastFrag, ...r }) => {
    const ext: Ip6ExtHeader[] = [];
    if (hbh) ext.push({ kind: 'hbh', options: hbh });
    ext.push(...mid);
    if (lastFrag) ext.push({ kind: 'frag', ...lastFrag });
    return { ...r, ext };
  });

describe('properties', () => {
  it('parse(emit(r)) deep-equals r, and the walker finds the headers emit wrote', () => {
    fc.assert(
      fc.property(reprArb, (r) => {
        const h = emitted(r);
        const pkt = new Uint8Array(h.length + r.payloadLen);
        pkt.set(h);
        const p = parseIp6(pkt, 0, pkt.length);
        if (!p.ok) assert.fail(p.error);
        assert.deepEqual(p.value, r);
        const [w, c] = walk(pkt);
        assert.equal(w, IP6_WALK_OK);
        assert.equal(c.n, r.ext.length);
        let at = 40;
        r.ext.forEach((e, i) => {
          assert.equal(c.offs[i], at);
          assert.equal(c.lens[i], ip6ExtLen(e));
          at += ip6ExtLen(e);
        });
        assert.equal(c.upOff, at);
        assert.equal(c.nxt, r.nxt);
      }),
      { numRuns: 1000 },
    );
  });

  it('arbitrary bytes never throw out of parseIp6, the walker, the view or the option cursor', () => {
    const chain = new Ip6ExtChain();
    const cur = new Ip6OptCursor();
    fc.assert(
      fc.property(
        fc.constantFrom(IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_AH, 58, 59),
        fc.uint8Array({ maxLength: 120 }),
        fc.boolean(),
        (nxt, rest, fixLen) => {
          const b = new Uint8Array(40 + rest.length);
          b.set(hex`6000 0000`);
          const plen = fixLen ? rest.length : (rest[0] ?? 0) * 2;
          b[4] = plen >>> 8;
          b[5] = plen & 0xff;
          b[6] = nxt;
          b.set(rest, 40);
          for (const len of [b.length, b.length >> 1, 40]) {
            const r = parseIp6(b, 0, len);
            const w = ip6_exthdr_walk(b, 0, len, chain);
            if (r.ok) assert.equal(w, IP6_WALK_OK);
            Ip6View.checked(b, 0, len);
            for (let i = 0; i < chain.n; i++) {
              if (chain.types[i] !== IPPROTO_HOPOPTS && chain.types[i] !== IPPROTO_DSTOPTS) continue;
              cur.attach(b, chain.offs[i] as number, chain.lens[i] as number);
              let guard = 0;
              while (cur.next() === IP6OPT_NEXT_OK) assert.ok(++guard <= 2048);
            }
          }
        },
      ),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(100), (b, off) => {
        parseIp6(b, off, b.length - off);
        ip6_exthdr_walk(b, off, b.length - off, chain);
      }),
    );
  });

  it('single-byte corruptions of valid packets never throw', () => {
    fc.assert(
      fc.property(reprArb, fc.nat(), u8, (r, pos, val) => {
        const h = emitted(r);
        const pkt = new Uint8Array(h.length + r.payloadLen);
        pkt.set(h);
        pkt[pos % pkt.length] = val;
        parseIp6(pkt, 0, pkt.length);
        for (let n = 0; n <= pkt.length; n += 7) parseIp6(pkt, 0, n);
      }),
      { numRuns: 500 },
    );
  });

  it('Ip6View getters agree with a naive DataView reference', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 40, maxLength: 48 }), (b) => {
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const v = new Ip6View(b);
        const w0 = dv.getUint32(0);
        assert.equal(v.version, w0 >>> 28);
        assert.equal(v.tc, (w0 >>> 20) & 0xff);
        assert.equal(v.flow, w0 & 0xfffff);
        assert.equal(v.plen, dv.getUint16(4));
        assert.equal(v.nxt, dv.getUint8(6));
        assert.equal(v.hlim, dv.getUint8(7));
      }),
    );
  });
});
