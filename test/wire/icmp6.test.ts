/*
 * Tests for the ICMPv6 and Neighbor Discovery codec (src/wire/icmp6.ts): Icmp6View,
 * NdOptCursor and parseIcmp6/emitIcmp6, on messages captured from Linux 6.18 and radvd on veth
 * links between network namespaces: router solicitation/advertisement (prefix information,
 * RDNSS, MTU, source link-layer address), DAD and address-resolution neighbour solicitations
 * (one with an RFC 7527 nonce option), solicited advertisements, a redirect with a redirected
 * header, echo, and every error type (packet too big, time exceeded, unreachable route and
 * port, parameter problem).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  emitIcmp6,
  ICMP6_DST_UNREACH_NOPORT,
  ICMP6_DST_UNREACH_NOROUTE,
  ICMP6_ECHO_REQUEST,
  ICMP6_PARAMPROB_NEXTHEADER,
  ICMP6_TIME_EXCEED_TRANSIT,
  ICMPV6_PLD_MAXLEN,
  type Icmp6Pseudo,
  type Icmp6Repr,
  Icmp6View,
  icmp6ReprLen,
  MLDV2_LISTENER_REPORT,
  ND_NA_FLAG_OVERRIDE,
  ND_NA_FLAG_ROUTER,
  ND_NA_FLAG_SOLICITED,
  ND_OPT_MTU,
  ND_OPT_NEXT_DONE,
  ND_OPT_NEXT_ETRUNC,
  ND_OPT_NEXT_EZERO,
  ND_OPT_NEXT_OK,
  ND_OPT_PI_FLAG_AUTO,
  ND_OPT_PI_FLAG_ONLINK,
  ND_OPT_PREFIX_INFORMATION,
  ND_OPT_RDNSS,
  ND_OPT_SOURCE_LINKADDR,
  ND_RA_FLAG_OTHER,
  ND_ROUTER_ADVERT,
  type NdOption,
  NdOptCursor,
  ndOptionLen,
  parseIcmp6,
} from '../../src/wire/icmp6.js';
import { Ip6ExtChain, ip6_exthdr_walk } from '../../src/wire/ipv6.js';
import { captureL3, filled, hex, ip6 } from './fixtures/b_util.js';

/* ---------------------------------------------------------------------------------------- */
/* Fixtures captured from Linux (b_ipv6_icmp6.pcap; frame numbers are 1-based)               */
/* ---------------------------------------------------------------------------------------- */

const CAP = captureL3('b_ipv6_icmp6.pcap');
const frame = (n: number): Uint8Array => CAP[n - 1] as Uint8Array;

const MAC_R = hex`0200 0000 0001`; // router bw_r0
const MAC_A = hex`0200 0000 000a`; // host bw_a0

// radvd's unsolicited router advertisement (#1).
const RA = hex`
  6005 5100 0068 3aff                          # IPv6: payload 104, ICMPv6, hop limit 255
  fe80 0000 0000 0000 0000 00ff fe00 0001      # src fe80::ff:fe00:1
  ff02 0000 0000 0000 0000 0000 0000 0001      # dst ff02::1
  86 00 3bdf          # type 134 router advertisement, code 0, checksum
  40                  # cur hop limit 64
  40                  # flags: O (other configuration)
  0708                # router lifetime 1800 s
  0000 7530           # reachable time 30000 ms
  0000 03e8           # retrans timer 1000 ms
  03 04               # prefix information, length 4 (32 bytes)
  40 c0               # prefix length 64, flags L|A
  0001 5180           # valid lifetime 86400
  0000 3840           # preferred lifetime 14400
  0000 0000           # reserved
  2001 0db8 0001 0000 0000 0000 0000 0000      # prefix 2001:db8:1::
  19 05 0000          # RDNSS (RFC 8106), length 5 (2 servers), reserved
  0000 0258           # lifetime 600
  2001 0db8 0001 0000 0000 0000 0000 0053
  2001 0db8 0001 0000 0000 0000 0000 0054
  05 01 0000 0000 05dc                         # MTU 1500
  01 01 0200 0000 0001                         # source link-layer address
`;

// Duplicate address detection probe (#7): from ::, with a nonce option (type 14, RFC 7527).
const NS_DAD = hex`
  6000 0000 0020 3aff
  0000 0000 0000 0000 0000 0000 0000 0000      # src :: (RFC 4862 §5.4.2)
  ff02 0000 0000 0000 0000 0001 ff00 000a      # solicited-node multicast
  87 00 f992 0000 0000                         # neighbour solicitation, reserved
  2001 0db8 0001 0000 0000 00ff fe00 000a      # target
  0e 01 dbc6 7e85 ebf1                         # nonce option: unknown to the codec, kept raw
`;

// Router solicitation with the source link-layer address (#10).
const RS = hex`
  6000 0000 0010 3aff
  fe80 0000 0000 0000 0000 00ff fe00 000a
  ff02 0000 0000 0000 0000 0000 0000 0002      # all routers
  85 00 7b1a 0000 0000
  01 01 0200 0000 000a
`;

// Address resolution (#13) and the router's solicited answer (#14).
const NS = hex`
  6000 0000 0020 3aff
  fe80 0000 0000 0000 0000 00ff fe00 000a
  ff02 0000 0000 0000 0000 0001 ff00 0001
  87 00 7c87 0000 0000
  fe80 0000 0000 0000 0000 00ff fe00 0001      # target fe80::ff:fe00:1
  01 01 0200 0000 000a                         # source link-layer address
`;
const NA = hex`
  6000 0000 0020 3aff
  fe80 0000 0000 0000 0000 00ff fe00 0001
  fe80 0000 0000 0000 0000 00ff fe00 000a
  88 00 9b13
  e0 00 0000          # flags R|S|O, reserved
  fe80 0000 0000 0000 0000 00ff fe00 0001      # target
  02 01 0200 0000 0001                         # target link-layer address
`;

// Redirect (#38): the router tells the host to reach 2001:db8:5::1 via fe80::ff:fe00:a.
const REDIRECT = frame(38);
const REDIRECT_HEAD = hex`
  6000 0000 00a0 3aff
  fe80 0000 0000 0000 0000 00ff fe00 0001
  2001 0db8 0001 0000 0000 00ff fe00 000a
  89 00 0c86 0000 0000                         # redirect, reserved
  fe80 0000 0000 0000 0000 00ff fe00 000a      # target (better first hop)
  2001 0db8 0005 0000 0000 0000 0000 0001      # destination
  02 01 0200 0000 000a                         # target link-layer address
  04 0e 0000 0000 0000                         # redirected header, length 14, reserved
  6001 71ee 0040 3a40                          # ... the invoking packet follows (104 bytes)
`;

// Echo reply to `ping -p 0102030405 -s 24` (#20).
const ECHO_REPLY = hex`
  600c 2197 0020 3a40
  2001 0db8 0001 0000 0000 0000 0000 0001
  2001 0db8 0001 0000 0000 00ff fe00 000a
  81 00 9d82          # echo reply, code 0, checksum
  1643 0001           # identifier 0x1643, sequence 1
  a32a 026b 0000 0000 b3bb 0d00 0000 0000 0203 0405 0102 0304   # data (timestamp + pattern)
`;

// Parameter problem (#36): next header 200 unknown, pointer 6.
const PARAMPROB = hex`
  6008 91c1 0038 3a40
  2001 0db8 0001 0000 0000 0000 0000 0001
  2001 0db8 0001 0000 0000 00ff fe00 000a
  04 01 4b1e          # parameter problem, code 1 (unrecognised next header)
  0000 0006           # pointer 6: the Next Header field
  600a c302 0008 c840 # invoking packet: IPv6 with next header 200 ...
  2001 0db8 0001 0000 0000 00ff fe00 000a
  2001 0db8 0001 0000 0000 0000 0000 0001
  0102 0304 0506 0708
`;

const PTB = frame(28); // packet too big, MTU 1280, invoking packet cut to fit 1280 bytes
const TIME_EXCEEDED = frame(30);
const UNREACH_ROUTE = frame(32);
const UNREACH_PORT = frame(34);

/* ---------------------------------------------------------------------------------------- */
/* helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/**
 * The ICMPv6 part of an IPv6 packet (after any extension headers) and its pseudo-header.
 * RFC 8200 §8.1: with a routing header, the pseudo-header carries the FINAL destination
 * (for a segment routing header, RFC 8754 §2, Segment List[0]).
 */
function icmpOf(pkt: Uint8Array): { msg: Uint8Array; pseudo: Icmp6Pseudo } {
  const c = new Ip6ExtChain();
  assert.equal(ip6_exthdr_walk(pkt, 0, pkt.length, c), 0);
  assert.equal(c.nxt, 58);
  let dst = pkt.slice(24, 40);
  for (let i = 0; i < c.n; i++) {
    const o = c.offs[i] as number;
    if (c.types[i] === 43 && pkt[o + 2] === 4) dst = pkt.slice(o + 8, o + 24);
  }
  return { msg: pkt.subarray(c.upOff, c.end), pseudo: { src: pkt.slice(8, 24), dst } };
}

function parseOk(pkt: Uint8Array): Icmp6Repr {
  const { msg, pseudo } = icmpOf(pkt);
  const r = parseIcmp6(msg, 0, msg.length, pseudo);
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

function emitted(repr: Icmp6Repr, pseudo?: Icmp6Pseudo): Uint8Array {
  const n = icmp6ReprLen(repr);
  const out = filled(n + 8);
  assert.equal(emitIcmp6(repr, out, 4, pseudo), n);
  assert.equal(out[3], 0xa5);
  assert.equal(out[4 + n], 0xa5);
  return out.subarray(4, 4 + n);
}

/* ---------------------------------------------------------------------------------------- */
/* deconstruct                                                                               */
/* ---------------------------------------------------------------------------------------- */

describe('Icmp6View', () => {
  it('the pasted fixtures are the captured frames', () => {
    assert.deepEqual(RA, frame(1));
    assert.deepEqual(NS_DAD, frame(7));
    assert.deepEqual(RS, frame(10));
    assert.deepEqual(NS, frame(13));
    assert.deepEqual(NA, frame(14));
    assert.deepEqual(REDIRECT.subarray(0, REDIRECT_HEAD.length), REDIRECT_HEAD);
    assert.deepEqual(ECHO_REPLY, frame(20));
    assert.deepEqual(PARAMPROB, frame(36));
  });

  it('router advertisement fields and checksum', () => {
    const { msg, pseudo } = icmpOf(RA);
    const v = Icmp6View.checked(msg, 0, msg.length);
    assert.ok(v);
    assert.equal(v.type, ND_ROUTER_ADVERT);
    assert.equal(v.code, 0);
    assert.equal(v.sum, 0x3bdf);
    assert.equal(v.curHopLimit, 64);
    assert.equal(v.raFlags, ND_RA_FLAG_OTHER);
    assert.equal(v.routerLifetime, 1800);
    assert.equal(v.reachableTime, 30000);
    assert.equal(v.retransTimer, 1000);
    assert.equal(v.ndOptOff, 16);
    assert.ok(v.verifyChecksum(pseudo.src, 0, pseudo.dst, 0));
    assert.ok(v.verifyChecksum(RA, 8, RA, 24, msg.length));
    assert.equal(v.verifyChecksum(ip6('fe80::ff:fe00:2'), 0, pseudo.dst, 0), false, 'another source');
  });

  it('neighbour advertisement flags and target, redirect target and destination', () => {
    const na = new Icmp6View(icmpOf(NA).msg);
    assert.equal(na.naFlags, ND_NA_FLAG_ROUTER | ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE);
    assert.deepEqual(na.target(), ip6('fe80::ff:fe00:1'));
    assert.ok(na.targetEquals(ip6('fe80::ff:fe00:1')));
    assert.equal(na.ndOptOff, 24);
    const rd = new Icmp6View(icmpOf(REDIRECT).msg);
    assert.ok(rd.targetEquals(ip6('fe80::ff:fe00:a')));
    assert.ok(rd.redirectDstEquals(ip6('2001:db8:5::1')));
    assert.deepEqual(rd.redirectDst(), ip6('2001:db8:5::1'));
    assert.equal(rd.ndOptOff, 40);
    const t = new Uint8Array(18);
    rd.copyTargetTo(t, 2);
    assert.deepEqual(t.subarray(2), ip6('fe80::ff:fe00:a'));
  });

  it('echo identifier and sequence, packet too big MTU, parameter problem pointer', () => {
    const e = new Icmp6View(icmpOf(ECHO_REPLY).msg);
    assert.equal(e.id, 0x1643);
    assert.equal(e.seq, 1);
    assert.equal(e.bodyOff, 8);
    assert.equal(e.ndOptOff, -1);
    assert.equal(new Icmp6View(icmpOf(PTB).msg).mtu, 1280);
    assert.equal(new Icmp6View(icmpOf(PARAMPROB).msg).pointer, 6);
  });

  it('setters and fillChecksum rebuild the captured neighbour solicitation', () => {
    const { msg, pseudo } = icmpOf(NS);
    const buf = filled(msg.length);
    const v = new Icmp6View(buf);
    v.type = 135;
    v.code = 0;
    v.data32 = 0;
    v.setTarget(ip6('fe80::ff:fe00:1'));
    buf.set(hex`0101 0200 0000 000a`, 24);
    v.fillChecksum(pseudo.src, 0, pseudo.dst, 0);
    assert.deepEqual(buf, msg);
    v.curHopLimit = 1;
    v.raFlags = 2;
    v.routerLifetime = 3;
    v.reachableTime = 4;
    v.retransTimer = 5;
    v.naFlags = 6;
    v.id = 7;
    v.seq = 8;
    v.mtu = 0x01020304;
    assert.equal(v.pointer, 0x01020304);
    v.setRedirectDst(ip6('::1'), 0);
  });

  it('checked() enforces the minimum length of each type', () => {
    const { msg } = icmpOf(NS);
    assert.ok(Icmp6View.checked(msg, 0, 24));
    assert.equal(Icmp6View.checked(msg, 0, 23), null);
    assert.equal(Icmp6View.checked(msg, 0, 7), null);
    assert.equal(Icmp6View.checked(icmpOf(RA).msg, 0, 15), null);
    assert.equal(Icmp6View.checked(icmpOf(REDIRECT).msg, 0, 39), null);
    assert.ok(Icmp6View.checked(icmpOf(RS).msg, 0, 8));
    assert.equal(Icmp6View.checked(msg, 40, 24), null);
  });
});

describe('NdOptCursor', () => {
  it('walks the router advertisement options', () => {
    const { msg } = icmpOf(RA);
    const c = new NdOptCursor().attach(msg, 16, msg.length - 16);
    const seen: [number, number, number][] = [];
    let r: number;
    while ((r = c.next()) === ND_OPT_NEXT_OK) seen.push([c.type, c.optOff, c.optLen]);
    assert.equal(r, ND_OPT_NEXT_DONE);
    assert.deepEqual(seen, [
      [ND_OPT_PREFIX_INFORMATION, 16, 32],
      [ND_OPT_RDNSS, 48, 40],
      [ND_OPT_MTU, 88, 8],
      [ND_OPT_SOURCE_LINKADDR, 96, 8],
    ]);
  });

  it('reports length 0 (RFC 4861 §4.6) and options running past the message', () => {
    const c = new NdOptCursor();
    c.attach(hex`0101 0200 0000 000a  0100 0000 0000 0000`, 0, 16);
    assert.equal(c.next(), ND_OPT_NEXT_OK);
    assert.equal(c.next(), ND_OPT_NEXT_EZERO);
    assert.equal(c.optOff, 8);
    c.attach(hex`0102 0200 0000 000a`, 0, 8);
    assert.equal(c.next(), ND_OPT_NEXT_ETRUNC);
    c.attach(hex`01`, 0, 1);
    assert.equal(c.next(), ND_OPT_NEXT_ETRUNC);
    c.attach(hex`0101 0200 0000 000a`, 0, 100);
    assert.equal(c.next(), ND_OPT_NEXT_OK, 'attach clamps to the buffer');
    assert.equal(c.next(), ND_OPT_NEXT_DONE);
  });
});

describe('parseIcmp6 on captured messages', () => {
  it('router advertisement with prefix information, RDNSS, MTU and SLLA', () => {
    assert.deepEqual(parseOk(RA), {
      kind: 'routerAdvert',
      curHopLimit: 64,
      flags: ND_RA_FLAG_OTHER,
      routerLifetime: 1800,
      reachableTime: 30000,
      retransTimer: 1000,
      options: [
        {
          kind: 'prefixInfo',
          prefixLen: 64,
          flags: ND_OPT_PI_FLAG_ONLINK | ND_OPT_PI_FLAG_AUTO,
          validLifetime: 86400,
          preferredLifetime: 14400,
          prefix: ip6('2001:db8:1::'),
        },
        { kind: 'rdnss', lifetime: 600, servers: [ip6('2001:db8:1::53'), ip6('2001:db8:1::54')] },
        { kind: 'mtu', mtu: 1500 },
        { kind: 'sourceLinkAddr', addr: MAC_R },
      ],
    });
  });

  it('router solicitations with and without SLLA', () => {
    assert.deepEqual(parseOk(RS), { kind: 'routerSolicit', options: [{ kind: 'sourceLinkAddr', addr: MAC_A }] });
    assert.deepEqual(parseOk(frame(42)), { kind: 'routerSolicit', options: [] });
  });

  it('neighbour solicitations: DAD with a nonce, address resolution with SLLA', () => {
    assert.deepEqual(parseOk(NS_DAD), {
      kind: 'neighborSolicit',
      target: ip6('2001:db8:1::ff:fe00:a'),
      options: [{ kind: 'unknown', type: 14, data: hex`dbc6 7e85 ebf1` }],
    });
    assert.deepEqual(parseOk(NS), { kind: 'neighborSolicit', target: ip6('fe80::ff:fe00:1'), options: [{ kind: 'sourceLinkAddr', addr: MAC_A }] });
  });

  it('neighbour advertisements with R/S/O and TLLA, and solicited only without options', () => {
    assert.deepEqual(parseOk(NA), {
      kind: 'neighborAdvert',
      flags: ND_NA_FLAG_ROUTER | ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE,
      target: ip6('fe80::ff:fe00:1'),
      options: [{ kind: 'targetLinkAddr', addr: MAC_R }],
    });
    assert.deepEqual(parseOk(frame(45)), { kind: 'neighborAdvert', flags: ND_NA_FLAG_SOLICITED, target: ip6('2001:db8:1::ff:fe00:a'), options: [] });
  });

  it('redirect with TLLA and the redirected header', () => {
    const r = parseOk(REDIRECT);
    assert.ok(r.kind === 'redirect');
    assert.deepEqual(r.target, ip6('fe80::ff:fe00:a'));
    assert.deepEqual(r.dst, ip6('2001:db8:5::1'));
    assert.deepEqual(r.options[0], { kind: 'targetLinkAddr', addr: MAC_A });
    const rh = r.options[1];
    assert.ok(rh?.kind === 'redirectedHeader');
    assert.equal(rh.data.length, 104);
    assert.deepEqual(rh.data, frame(37), 'the invoking echo request, whole');
  });

  it('echo reply: data is a view of the input', () => {
    const r = parseOk(ECHO_REPLY);
    assert.deepEqual(r, { kind: 'echoReply', id: 0x1643, seq: 1, data: hex`a32a 026b 0000 0000 b3bb 0d00 0000 0000 0203 0405 0102 0304` });
    assert.ok(r.kind === 'echoReply' && r.data.buffer === ECHO_REPLY.buffer);
    const req = parseOk(frame(19));
    assert.ok(req.kind === 'echoRequest');
  });

  it('errors carry the invoking packet', () => {
    const ptb = parseOk(PTB);
    assert.ok(ptb.kind === 'packetTooBig');
    assert.equal(ptb.mtu, 1280);
    assert.equal(ptb.invoking.length, ICMPV6_PLD_MAXLEN, 'Linux fills the minimum MTU exactly (RFC 4443 §2.4(c))');
    assert.deepEqual(ptb.invoking.subarray(0, 40), frame(27).subarray(0, 40));

    const te = parseOk(TIME_EXCEEDED);
    assert.ok(te.kind === 'timeExceeded');
    assert.equal(te.code, ICMP6_TIME_EXCEED_TRANSIT);
    assert.equal(te.invoking[7], 1, 'hop limit 1 in the invoking packet');

    const ur = parseOk(UNREACH_ROUTE);
    assert.ok(ur.kind === 'dstUnreach');
    assert.equal(ur.code, ICMP6_DST_UNREACH_NOROUTE);
    assert.deepEqual(ur.invoking.subarray(24, 40), ip6('2001:db8:3::1'));

    const up = parseOk(UNREACH_PORT);
    assert.ok(up.kind === 'dstUnreach');
    assert.equal(up.code, ICMP6_DST_UNREACH_NOPORT);
    assert.deepEqual(
      up.invoking,
      frame(33)
        .subarray(0, 53)
        .map((b, i) => (i === 7 ? 63 : b)),
      'the UDP datagram, hop limit decremented by the router',
    );

    assert.deepEqual(parseOk(PARAMPROB), {
      kind: 'paramProblem',
      code: ICMP6_PARAMPROB_NEXTHEADER,
      pointer: 6,
      invoking: frame(35),
    });
  });

  it('with a segment routing header the checksum covers the final destination (RFC 8200 §8.1)', () => {
    const { msg, pseudo } = icmpOf(frame(41));
    assert.ok(parseIcmp6(msg, 0, msg.length, pseudo).ok);
    assert.deepEqual(pseudo.dst, ip6('2001:db8:2::b'));
    assert.equal(parseIcmp6(msg, 0, msg.length, { src: pseudo.src, dst: frame(41).slice(24, 40) }).ok, false);
  });

  it('MLDv2 reports are kept raw as `other`', () => {
    const r = parseOk(frame(2));
    assert.ok(r.kind === 'other');
    assert.equal(r.type, MLDV2_LISTENER_REPORT);
    assert.equal(r.body.length, 84);
  });

  it('every ICMPv6 message of the capture verifies and re-emits byte for byte', () => {
    let n = 0;
    for (const pkt of CAP) {
      const c = new Ip6ExtChain();
      ip6_exthdr_walk(pkt, 0, pkt.length, c);
      if (c.nxt !== 58 || c.fragOff >= 0) continue;
      const { msg, pseudo } = icmpOf(pkt);
      assert.deepEqual(emitted(parseOk(pkt), pseudo), msg);
      n++;
    }
    assert.ok(n >= 35, `${n} messages`);
  });
});

/* ---------------------------------------------------------------------------------------- */
/* construct                                                                                 */
/* ---------------------------------------------------------------------------------------- */

describe('emitIcmp6', () => {
  it('builds the captured RA, NS, NA, redirect, echo and parameter problem from hand-written reprs', () => {
    const cases: [Uint8Array, Icmp6Repr][] = [
      [
        RA,
        {
          kind: 'routerAdvert',
          curHopLimit: 64,
          flags: ND_RA_FLAG_OTHER,
          routerLifetime: 1800,
          reachableTime: 30000,
          retransTimer: 1000,
          options: [
            { kind: 'prefixInfo', prefixLen: 64, flags: 0xc0, validLifetime: 86400, preferredLifetime: 14400, prefix: ip6('2001:db8:1::') },
            { kind: 'rdnss', lifetime: 600, servers: [ip6('2001:db8:1::53'), ip6('2001:db8:1::54')] },
            { kind: 'mtu', mtu: 1500 },
            { kind: 'sourceLinkAddr', addr: MAC_R },
          ],
        },
      ],
      [NS_DAD, { kind: 'neighborSolicit', target: ip6('2001:db8:1::ff:fe00:a'), options: [{ kind: 'unknown', type: 14, data: hex`dbc6 7e85 ebf1` }] }],
      [NS, { kind: 'neighborSolicit', target: ip6('fe80::ff:fe00:1'), options: [{ kind: 'sourceLinkAddr', addr: MAC_A }] }],
      [NA, { kind: 'neighborAdvert', flags: 0xe0, target: ip6('fe80::ff:fe00:1'), options: [{ kind: 'targetLinkAddr', addr: MAC_R }] }],
      [RS, { kind: 'routerSolicit', options: [{ kind: 'sourceLinkAddr', addr: MAC_A }] }],
      [
        REDIRECT,
        {
          kind: 'redirect',
          target: ip6('fe80::ff:fe00:a'),
          dst: ip6('2001:db8:5::1'),
          options: [
            { kind: 'targetLinkAddr', addr: MAC_A },
            { kind: 'redirectedHeader', data: frame(37) },
          ],
        },
      ],
      [ECHO_REPLY, { kind: 'echoReply', id: 0x1643, seq: 1, data: hex`a32a 026b 0000 0000 b3bb 0d00 0000 0000 0203 0405 0102 0304` }],
      [PARAMPROB, { kind: 'paramProblem', code: 1, pointer: 6, invoking: frame(35) }],
    ];
    for (const [pkt, repr] of cases) {
      const { msg, pseudo } = icmpOf(pkt);
      assert.deepEqual(emitted(repr, pseudo), msg, repr.kind);
    }
  });

  it('pads link-layer addresses and redirected headers to 8 octets; no pseudo-header leaves the checksum 0', () => {
    const out = emitted({ kind: 'routerSolicit', options: [{ kind: 'sourceLinkAddr', addr: hex`0102 0304 0506 0708` }] });
    assert.deepEqual(out, hex`8500 0000 0000 0000  0102 0102 0304 0506 0708 0000 0000 0000`);
    const rh = emitted({ kind: 'neighborAdvert', flags: 0, target: new Uint8Array(16), options: [{ kind: 'redirectedHeader', data: hex`60` }] });
    assert.deepEqual(rh.subarray(24), hex`0402 0000 0000 0000 6000 0000 0000 0000`);
  });

  it('throws RangeError for reprs it cannot encode (caller bugs)', () => {
    const buf = new Uint8Array(2000);
    const bad = (r: Icmp6Repr) => assert.throws(() => emitIcmp6(r, buf, 0), RangeError);
    bad({ kind: 'echoRequest', id: 65536, seq: 0, data: new Uint8Array(0) });
    bad({ kind: 'packetTooBig', code: 0, mtu: -1, invoking: new Uint8Array(0) });
    bad({ kind: 'dstUnreach', code: 256, invoking: new Uint8Array(0) });
    bad({ kind: 'other', type: ICMP6_ECHO_REQUEST, code: 0, body: new Uint8Array(4) });
    bad({ kind: 'other', type: 200, code: 0, body: new Uint8Array(3) });
    bad({ kind: 'neighborSolicit', target: new Uint8Array(4), options: [] });
    bad({ kind: 'routerSolicit', options: [{ kind: 'rdnss', lifetime: 1, servers: [] }] });
    bad({ kind: 'routerSolicit', options: [{ kind: 'unknown', type: 1, data: new Uint8Array(6) }] });
    bad({ kind: 'routerSolicit', options: [{ kind: 'sourceLinkAddr', addr: new Uint8Array(2100) }] });
    bad({
      kind: 'routerSolicit',
      options: [{ kind: 'prefixInfo', prefixLen: 64, flags: 0, validLifetime: 0, preferredLifetime: 0, prefix: new Uint8Array(8) }],
    });
    assert.throws(() => emitIcmp6({ kind: 'routerSolicit', options: [] }, new Uint8Array(7), 0), RangeError);
    assert.throws(() => emitIcmp6({ kind: 'routerSolicit', options: [] }, buf, 0, { src: new Uint8Array(4), dst: new Uint8Array(16) }), RangeError);
  });
});

/* ---------------------------------------------------------------------------------------- */
/* rejection                                                                                 */
/* ---------------------------------------------------------------------------------------- */

describe('malformed messages are rejected, not thrown', () => {
  const rej = (m: Uint8Array, pseudo?: Icmp6Pseudo) => {
    const r = parseIcmp6(m, 0, m.length, pseudo);
    assert.equal(r.ok, false);
    return r.ok ? '' : r.error;
  };

  it('short messages for their type', () => {
    rej(hex`8000 0000 0000 00`);
    rej(hex`8700 0000 0000 0000 fe80 0000 0000 0000 0000 0000 0000`); // NS of 20 bytes
    rej(hex`8600 0000 4000 0000 0000 0000 0000`); // RA of 14 bytes
    rej(icmpOf(REDIRECT).msg.subarray(0, 39));
  });

  it('a bad checksum or bad pseudo-header addresses', () => {
    const { msg, pseudo } = icmpOf(NA);
    assert.match(rej(msg, { src: pseudo.src, dst: ip6('fe80::ff:fe00:b') }), /checksum/);
    assert.match(rej(msg, { src: new Uint8Array(15), dst: pseudo.dst }), /pseudo/);
  });

  it('ND messages with a non-zero code, echo with a non-zero code', () => {
    const ns = icmpOf(NS).msg.slice();
    ns[1] = 1;
    assert.match(rej(ns), /code/);
    const echo = icmpOf(ECHO_REPLY).msg.slice();
    echo[1] = 3;
    assert.match(rej(echo), /code/);
  });

  it('ND option of length 0, running past the message, or of an impossible length', () => {
    const ns = (opts: string) => hex`8700 0000 0000 0000 fe80 0000 0000 0000 0000 0000 0000 0001 ${opts}`;
    assert.match(rej(ns('0100 0000 0000 0000')), /length 0/);
    assert.match(rej(ns('0102 0000 0000 000a')), /past/);
    assert.match(rej(ns('01')), /past/);
    assert.match(rej(ns(`0303 ${'00'.repeat(22)}`)), /prefix/);
    assert.match(rej(ns(`0502 ${'00'.repeat(14)}`)), /MTU/);
    assert.match(rej(ns(`1902 ${'00'.repeat(14)}`)), /RDNSS/);
    assert.match(rej(ns(`1904 ${'00'.repeat(30)}`)), /RDNSS/);
    const rdnss1 = ns(`1903 ${'00'.repeat(22)}`);
    assert.ok(parseIcmp6(rdnss1, 0, rdnss1.length).ok);
  });

  it('range outside the buffer', () => {
    const { msg } = icmpOf(NS);
    rej(msg.subarray(0, 0));
    assert.equal(parseIcmp6(msg, 10, msg.length).ok, false);
    assert.equal(parseIcmp6(msg, -1, 8).ok, false);
  });

  it('every truncation of every captured message is rejected or parsed, never thrown', () => {
    for (const pkt of CAP) {
      const c = new Ip6ExtChain();
      ip6_exthdr_walk(pkt, 0, pkt.length, c);
      if (c.nxt !== 58 || c.fragOff >= 0) continue;
      const { msg } = icmpOf(pkt);
      const view = new Icmp6View(msg);
      for (let n = 0; n <= msg.length; n++) {
        const r = parseIcmp6(msg, 0, n);
        if (view.ndOptOff < 0) assert.equal(r.ok, n >= 8, `type ${view.type} length ${n}`);
        else if (n < msg.length) {
          // an ND message cut inside an option, or before its fixed part ends, is rejected
          let end = view.ndOptOff;
          const ends = new Set([end]);
          while (end < msg.length) {
            end += (msg[end + 1] as number) * 8;
            ends.add(end);
          }
          assert.equal(r.ok, ends.has(n), `type ${view.type} length ${n}`);
        } else assert.ok(r.ok);
      }
    }
  });
});

/* ---------------------------------------------------------------------------------------- */
/* properties                                                                                */
/* ---------------------------------------------------------------------------------------- */

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
/** Lengths that need no padding: 8k + 6 for link-layer/unknown bodies, 8k for redirected data. */
const body6 = fc.integer({ min: 0, max: 3 }).chain((k) => fc.uint8Array({ minLength: 8 * k + 6, maxLength: 8 * k + 6 }));
const KNOWN_ND = new Set([1, 2, 3, 4, 5, 25]);

const ndOptArb: fc.Arbitrary<NdOption> = fc.oneof(
  body6.map((a): NdOption => ({ kind: 'sourceLinkAddr', addr: a })),
  body6.map((a): NdOption => ({ kind: 'targetLinkAddr', addr: a })),
  fc
    .record({ prefixLen: u8, flags: u8, validLifetime: u32, preferredLifetime: u32, prefix: addr }, { noNullPrototype: true })
    .map((p): NdOption => ({ kind: 'prefixInfo', ...p })),
  fc
    .integer({ min: 0, max: 8 })
    .chain((k) => fc.uint8Array({ minLength: 8 * k, maxLength: 8 * k }))
    .map((data): NdOption => ({ kind: 'redirectedHeader', data })),
  u32.map((mtu): NdOption => ({ kind: 'mtu', mtu })),
  fc.record({ lifetime: u32, servers: fc.array(addr, { minLength: 1, maxLength: 3 }) }).map((r): NdOption => ({ kind: 'rdnss', ...r })),
  fc.record({ type: u8.filter((t) => !KNOWN_ND.has(t)), data: body6 }).map((r): NdOption => ({ kind: 'unknown', ...r })),
);
const ndOpts = fc.array(ndOptArb, { maxLength: 4 });
const MODELLED = new Set([1, 2, 3, 4, 128, 129, 133, 134, 135, 136, 137]);

const reprArb: fc.Arbitrary<Icmp6Repr> = fc.oneof(
  fc.record({ code: u8, invoking: fc.uint8Array({ maxLength: 64 }) }).map((r): Icmp6Repr => ({ kind: 'dstUnreach', ...r })),
  fc.record({ code: u8, mtu: u32, invoking: fc.uint8Array({ maxLength: 64 }) }).map((r): Icmp6Repr => ({ kind: 'packetTooBig', ...r })),
  fc.record({ code: u8, invoking: fc.uint8Array({ maxLength: 64 }) }).map((r): Icmp6Repr => ({ kind: 'timeExceeded', ...r })),
  fc.record({ code: u8, pointer: u32, invoking: fc.uint8Array({ maxLength: 64 }) }).map((r): Icmp6Repr => ({ kind: 'paramProblem', ...r })),
  fc
    .record({ req: fc.boolean(), id: u16, seq: u16, data: fc.uint8Array({ maxLength: 64 }) })
    .map(({ req, ...r }): Icmp6Repr => ({ kind: req ? 'echoRequest' : 'echoReply', ...r })),
  ndOpts.map((options): Icmp6Repr => ({ kind: 'routerSolicit', options })),
  fc
    .record({ curHopLimit: u8, flags: u8, routerLifetime: u16, reachableTime: u32, retransTimer: u32, options: ndOpts })
    .map((r): Icmp6Repr => ({ kind: 'routerAdvert', ...r })),
  fc.record({ target: addr, options: ndOpts }).map((r): Icmp6Repr => ({ kind: 'neighborSolicit', ...r })),
  fc.record({ flags: u8, target: addr, options: ndOpts }).map((r): Icmp6Repr => ({ kind: 'neighborAdvert', ...r })),
  fc.record({ target: addr, dst: addr, options: ndOpts }).map((r): Icmp6Repr => ({ kind: 'redirect', ...r })),
  fc
    .record({ type: u8.filter((t) => !MODELLED.has(t)), code: u8, body: fc.uint8Array({ minLength: 4, maxLength: 40 }) })
    .map((r): Icmp6Repr => ({ kind: 'other', ...r })),
);

describe('properties', () => {
  const pseudo: Icmp6Pseudo = { src: ip6('fe80::1'), dst: ip6('ff02::1') };

  it('parse(emit(r)) deep-equals r, checksum included', () => {
    fc.assert(
      fc.property(reprArb, (r) => {
        const m = emitted(r, pseudo);
        const p = parseIcmp6(m, 0, m.length, pseudo);
        if (!p.ok) assert.fail(p.error);
        assert.deepEqual(p.value, r);
      }),
      { numRuns: 2000 },
    );
  });

  it('the option cursor agrees with parseIcmp6 on valid messages', () => {
    fc.assert(
      fc.property(reprArb, (r) => {
        const m = emitted(r);
        const v = new Icmp6View(m);
        if (v.ndOptOff < 0) return;
        const c = new NdOptCursor().attach(m, v.ndOptOff, m.length - v.ndOptOff);
        const seen: number[] = [];
        let at = v.ndOptOff;
        while (c.next() === ND_OPT_NEXT_OK) {
          assert.equal(c.optOff, at);
          at += c.optLen;
          seen.push(c.optLen);
        }
        assert.ok('options' in r);
        assert.deepEqual(seen, r.options.map(ndOptionLen));
      }),
      { numRuns: 1000 },
    );
  });

  it('arbitrary bytes and corrupted messages never throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3, 4, 128, 129, 130, 133, 134, 135, 136, 137, 143, 255), fc.uint8Array({ maxLength: 120 }), (type, rest) => {
        const m = new Uint8Array(1 + rest.length);
        m[0] = type;
        m.set(rest, 1);
        for (let n = 0; n <= m.length; n++) parseIcmp6(m, 0, n, n % 3 === 0 ? pseudo : undefined);
        Icmp6View.checked(m, 0, m.length);
        const c = new NdOptCursor().attach(m, 8, m.length - 8);
        let guard = 0;
        while (c.next() === ND_OPT_NEXT_OK) assert.ok(++guard < 100);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(reprArb, fc.nat(), u8, (r, pos, val) => {
        const m = emitted(r).slice();
        m[pos % m.length] = val;
        parseIcmp6(m, 0, m.length);
      }),
      { numRuns: 1000 },
    );
  });

  it('Icmp6View getters agree with a naive DataView reference', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 40, maxLength: 48 }), (b) => {
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const v = new Icmp6View(b);
        assert.equal(v.type, dv.getUint8(0));
        assert.equal(v.code, dv.getUint8(1));
        assert.equal(v.sum, dv.getUint16(2));
        assert.equal(v.mtu, dv.getUint32(4));
        assert.equal(v.id, dv.getUint16(4));
        assert.equal(v.seq, dv.getUint16(6));
        assert.equal(v.routerLifetime, dv.getUint16(6));
        assert.equal(v.reachableTime, dv.getUint32(8));
        assert.equal(v.retransTimer, dv.getUint32(12));
      }),
    );
  });
});
