/*
 * Tests for the TCP codec (src/wire/tcp.ts): TcpView, the zero-allocation option walker
 * tcp_dooptions(), and parseTcp/emitTcp on segments captured from Linux 6.18 (ECN-setup SYNs,
 * MD5 signature, Fast Open, SACK blocks, v4 and v6 checksums) plus constructed layouts for
 * what Linux does not send here (AE, TCP-AO, experimental Fast Open, 4 SACK blocks,
 * packetdrill-style exact option lists).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  emitTcp,
  parseTcp,
  TCP_HDR_LEN,
  TCPOPT_ERR_KNOWNLEN,
  TCPOPT_ERR_LEN,
  TCPOPT_ERR_TRUNC,
  TCPOPT_OK,
  type TcpOption,
  TcpOptsScratch,
  type TcpPseudo,
  type TcpRepr,
  TcpView,
  tcp_dooptions,
  tcpHeaderLen,
  tcpOptionLen,
  tcpReprLen,
  TH_ACK,
  TH_AE,
  TH_CWR,
  TH_ECE,
  TH_PUSH,
  TH_SYN,
  TOF_AO,
  TOF_FASTOPEN,
  TOF_FASTOPEN_EXP,
  TOF_MSS,
  TOF_SACK,
  TOF_SACKPERM,
  TOF_SCALE,
  TOF_SIGNATURE,
  TOF_TS,
} from '../../src/wire/tcp.js';
import { captureL3, filled, hex, ip4 } from './fixtures/b_util.js';

/* ---------------------------------------------------------------------------------------- */
/* Fixtures captured from Linux (tcpdump on a veth, checksum offload off; b_tcp.pcap)        */
/* ---------------------------------------------------------------------------------------- */

const A4 = ip4('10.99.1.2');
const B4 = ip4('10.99.2.2');

// curl → python http.server, net.ipv4.tcp_ecn=1: the client's ECN-setup SYN (pcap #1).
const SYN4 = hex`
  4500 003c 1728 4000 4006 0bcb 0a63 0102 0a63 0202   # IPv4 10.99.1.2 → 10.99.2.2, 60 bytes
  8d64                # sport 36196
  1f90                # dport 8080
  001e ae0b           # seq
  0000 0000           # ack
  a0                  # data offset 10 (40 bytes), reserved 0, AE 0
  c2                  # CWR|ECE|SYN (RFC 3168 §6.1.1 ECN-setup SYN)
  faf0                # window 64240
  c6b7                # checksum
  0000                # urgent pointer
  0204 05b4           # MSS 1460
  0402                # SACK permitted
  080a 90e2 81ca 0000 0000   # timestamps val 0x90e281ca ecr 0
  01                  # NOP
  0303 0a             # window scale 10
`;

// The server's ECN-setup SYN-ACK (pcap #2).
const SYNACK4 = hex`
  4500 003c 0000 4000 3f06 23f3 0a63 0202 0a63 0102   # IPv4 10.99.2.2 → 10.99.1.2 (via a router: TTL 63)
  1f90 8d64           # sport 8080, dport 36196
  c5de d60d           # seq
  001e ae0c           # ack = SYN seq + 1
  a0 52               # data offset 10; ECE|ACK|SYN
  fe3c e002 0000      # window 65084, checksum, urp
  0204 04d8           # MSS 1240 (router link MTU 1280)
  0402                # SACK permitted
  080a 6468 e45e 90e2 81ca   # timestamps val, ecr = client's val
  01 0303 0a          # NOP, window scale 10
`;

// The HTTP request: PSH|ACK with the RFC 7323 Appendix A timestamp layout (pcap #4).
const GET4_PAYLOAD = new TextEncoder().encode('GET /index.html HTTP/1.1\r\nHost: 10.99.2.2:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n');
const GET4 = hex`
  4502 008c 172a 4000 4006 0b77 0a63 0102 0a63 0202   # IPv4, ECT(0), 140 bytes
  8d64 1f90           # sport 36196, dport 8080
  001e ae0c           # seq
  c5de d60e           # ack
  80 18               # data offset 8 (32 bytes); PSH|ACK
  003f a14d 0000      # window 63 (scaled), checksum, urp
  0101 080a 90e2 81ca 6468 e45e   # NOP NOP timestamps
  ${Buffer.from(GET4_PAYLOAD).toString('hex')}
`;

// IPv6 SYN (pcap #13): checksum over the IPv6 pseudo-header.
const SYN6 = hex`
  6002 c4b6 0028 0640                         # IPv6, flow 0x2c4b6, 40 bytes, TCP, hlim 64
  2001 0db8 0001 0000 0000 00ff fe00 000a     # src 2001:db8:1::ff:fe00:a
  2001 0db8 0002 0000 0000 0000 0000 000b     # dst 2001:db8:2::b
  aaf6 1f90           # sport 43766, dport 8080
  0d70 1055 0000 0000 # seq, ack 0
  a0 c2 fc94 690a 0000   # doff 10, CWR|ECE|SYN, window 64660, checksum, urp
  0204 04c4           # MSS 1220
  0402 080a 8258 1d60 0000 0000 01 0303 0a   # sackOK, TS, NOP, wscale 10
`;

// SYN with TCP_MD5SIG set on both ends (pcap #26): Linux puts the signature first.
const MD5SYN4 = hex`
  4500 0048 9f0d 4000 4006 83d9 0a63 0102 0a63 0202
  d288 2329           # sport 53896, dport 9001
  4781 adca 0000 0000
  d0 c2 faf0 229a 0000   # doff 13 (52 bytes), CWR|ECE|SYN
  01 01               # NOP NOP
  13 12 6256 5f02 8e11 dc10 9be6 0631 0f31 0d11   # MD5 signature (kind 19, len 18)
  0204 05b4           # MSS 1460
  01 01 0402          # NOP NOP SACK permitted
  01 0303 0a          # NOP window scale 10
`;

// Fast Open, net.ipv4.tcp_fastopen=3: cookie request on the first SYN (pcap #36) ...
const TFOREQ4 = hex`
  4500 0040 1032 4000 4006 12bd 0a63 0102 0a63 0202
  830a 232a 1147 7f24 0000 0000   # sport 33546, dport 9002, seq, ack
  b0 c2 faf0 7315 0000            # doff 11 (44 bytes), CWR|ECE|SYN
  0204 05b4 0402 080a 20f0 36d6 0000 0000 01 0303 0a
  22 02               # Fast Open (kind 34), empty cookie = request
  01 01               # NOP NOP
`;
// ... the cookie in the SYN-ACK (pcap #37) ...
const TFOCOOKIE4 = hex`
  4500 0048 0000 4000 3f06 23e7 0a63 0202 0a63 0102
  232a 830a e9dd e037 1147 7f25
  d0 52 fe3c 7930 0000            # doff 13, ECE|ACK|SYN
  0204 04d8 0402 080a 1da4 d139 20f0 36d6 01 0303 0a
  22 0a 586e 38e9 52e2 3aa6        # Fast Open cookie, 8 bytes
  01 01
`;
// ... and the next SYN carrying cookie and data (pcap #44).
const TFODATA4 = hex`
  4500 004c afd7 4000 4006 730b 0a63 0102 0a63 0202
  8316 232a a5f2 6f9b 0000 0000
  d0 c2 faf0 0726 0000
  0204 05b4 0402 080a 6fd1 ac29 0000 0000 01 0303 0a
  22 0a 586e 38e9 52e2 3aa6 01 01
  7466 6f31           # payload "tfo1"
`;

// A duplicate ACK with 3 SACK blocks after nftables dropped segments (pcap #149).
const SACK4 = hex`
  4500 0050 b568 4000 4006 6d76 0a63 0102 0a63 0202
  8d72 1f90 fbff c32d 3d5f 9e74
  f0 10 0046 9928 0000            # doff 15 (60 bytes), ACK, window 70
  0101 080a 3435 c534 25af 630c   # NOP NOP timestamps
  0101 051a                       # NOP NOP SACK, len 26 = 3 blocks
  3d5f f4cc 3d5f fe64             # block 1
  3d5f c9a0 3d5f f000             # block 2
  3d5f a340 3d5f c4d4             # block 3
`;

/* ---------------------------------------------------------------------------------------- */
/* Constructed fixtures                                                                      */
/* ---------------------------------------------------------------------------------------- */

// packetdrill: +0 < S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
const PD_SYN = hex`
  0400 0050 0000 0000 0000 0000
  a0 02 ffff 0000 0000
  0204 05b4 01 0303 06 0402 080a 0000 0064 0000 0000
`;
// packetdrill: <mss 1460,sackOK,eol,eol>
const PD_EOL = hex`
  0400 0050 0000 0001 0000 0000
  70 02 ffff 0000 0000
  0204 05b4 0402 00 00
`;
// AccECN (RFC 9768): AE|ACK with AE in bit 0 of byte 12; TCP-AO (RFC 5925 §2.2) KeyID 5,
// RNextKeyID 7, 12-byte MAC; experimental Fast Open (kind 254, ExID 0xF989) with a 4-byte cookie.
const AE_AO = hex`
  c350 01bb 0000 0001 0000 0002
  c1 10 2000 0000 0000           # doff 12 (48 bytes), AE set; ACK
  1d 10 05 07 0102 0304 0506 0708 090a 0b0c   # TCP-AO
  fe 08 f989 dead beef           # experimental Fast Open
  00 00 00 00                    # EOL and padding
`;
// Four SACK blocks need the whole option space without timestamps (RFC 2018 §3).
const SACK_4 = hex`
  0050 0400 0000 0001 0000 0002
  e0 10 0100 0000 0000           # doff 14 (56 bytes), ACK
  0101 0522                      # NOP NOP SACK, len 34 = 4 blocks
  0000 0010 0000 0020  0000 0030 0000 0040  0000 0050 0000 0060  ffff fff0 0000 0008
`;

/* ---------------------------------------------------------------------------------------- */
/* helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/** The TCP part of an IPv4 packet and its pseudo-header. */
function tcpOf4(pkt: Uint8Array): { seg: Uint8Array; pseudo: TcpPseudo } {
  const ihl = ((pkt[0] as number) & 0xf) * 4;
  const total = ((pkt[2] as number) << 8) | (pkt[3] as number);
  const dv = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  return { seg: pkt.subarray(ihl, total), pseudo: { af: 4, src: dv.getUint32(12), dst: dv.getUint32(16) } };
}

/** The TCP part of an IPv6 packet without extension headers, and its pseudo-header. */
function tcpOf6(pkt: Uint8Array): { seg: Uint8Array; pseudo: TcpPseudo } {
  const plen = ((pkt[4] as number) << 8) | (pkt[5] as number);
  return { seg: pkt.subarray(40, 40 + plen), pseudo: { af: 6, src: pkt.slice(8, 24), dst: pkt.slice(24, 40) } };
}

function parseOk(seg: Uint8Array, pseudo?: TcpPseudo): TcpRepr {
  const r = parseTcp(seg, 0, seg.length, pseudo);
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

function emitted(repr: TcpRepr, pseudo?: TcpPseudo): Uint8Array {
  const out = filled(tcpReprLen(repr) + 8);
  const n = emitTcp(repr, out, 4, repr.payload?.length ?? 0, pseudo);
  assert.equal(n, tcpReprLen(repr));
  assert.equal(out[3], 0xa5, 'emit wrote before its offset');
  assert.equal(out[4 + n], 0xa5, 'emit wrote past its length');
  return out.subarray(4, 4 + n);
}

const LINUX_SYN_OPTS = (mss: number, tsval: number, tsecr: number): TcpOption[] => [
  { kind: 'mss', mss },
  { kind: 'sackPermitted' },
  { kind: 'timestamp', tsval, tsecr },
  { kind: 'nop' },
  { kind: 'wscale', shift: 10 },
];

/* ---------------------------------------------------------------------------------------- */
/* deconstruct                                                                               */
/* ---------------------------------------------------------------------------------------- */

describe('TcpView on captured segments', () => {
  it('reads every field of the ECN-setup SYN', () => {
    const { seg } = tcpOf4(SYN4);
    const v = TcpView.checked(seg, 0, seg.length);
    assert.ok(v);
    assert.equal(v.sport, 36196);
    assert.equal(v.dport, 8080);
    assert.equal(v.seq, 0x001eae0b);
    assert.equal(v.ack, 0);
    assert.equal(v.doff, 10);
    assert.equal(v.hlen, 40);
    assert.equal(v.reserved, 0);
    assert.equal(v.flags, TH_CWR | TH_ECE | TH_SYN);
    assert.equal(v.win, 64240);
    assert.equal(v.sum, 0xc6b7);
    assert.equal(v.urp, 0);
    assert.equal(v.optOff, 20);
    assert.equal(v.optLen, 20);
    assert.equal(v.payloadLen, 0);
    assert.ok(v.verifyChecksum4(A4, B4, seg.length));
  });

  it('reads a uint32 sequence number above 2^31 without going negative', () => {
    const { seg } = tcpOf4(SACK4);
    const v = new TcpView(seg);
    assert.equal(v.seq, 0xfbffc32d);
    assert.ok(v.seq > 0);
  });

  it('verifies the IPv6 pseudo-header checksum and rejects a flipped bit', () => {
    const { seg } = tcpOf6(SYN6);
    const v = TcpView.checked(seg, 0, seg.length);
    assert.ok(v);
    assert.ok(v.verifyChecksum6(SYN6, 8, SYN6, 24, seg.length));
    const copy = SYN6.slice();
    (copy[40 + 7] as number) ^= 0x10;
    const w = new TcpView(copy, 40, seg.length);
    assert.equal(w.verifyChecksum6(copy, 8, copy, 24, seg.length), false);
  });

  it('fillChecksum4/6 reproduce the captured checksums', () => {
    for (const [pkt, of] of [
      [GET4, tcpOf4],
      [SYN6, tcpOf6],
    ] as const) {
      const { seg, pseudo } = of(pkt);
      const copy = seg.slice();
      const v = new TcpView(copy);
      v.sum = 0x1234;
      if (pseudo.af === 4) v.fillChecksum4(pseudo.src, pseudo.dst, copy.length);
      else v.fillChecksum6(pseudo.src, 0, pseudo.dst, 0, copy.length);
      assert.deepEqual(copy, seg);
    }
  });

  it('setters write only their field', () => {
    const buf = filled(20);
    const v = new TcpView(buf);
    v.hlen = 20;
    v.reserved = 0;
    v.flags = TH_AE | TH_ACK;
    assert.equal(buf[12], 0x51);
    assert.equal(buf[13], 0x10);
    v.seq = 0xfffffffe;
    assert.equal(v.seq, 0xfffffffe);
    v.flags = TH_SYN;
    assert.equal(buf[12], 0x50, 'clearing AE keeps the data offset');
    v.doff = 15;
    assert.equal(v.flags, TH_SYN);
    assert.equal(buf[0], 0xa5);
  });
});

describe('parseTcp on captured segments', () => {
  it('SYN: options in wire order, checksum verified', () => {
    const { seg, pseudo } = tcpOf4(SYN4);
    const r = parseOk(seg, pseudo);
    assert.deepEqual(r, {
      sport: 36196,
      dport: 8080,
      seq: 0x001eae0b,
      ack: 0,
      flags: TH_CWR | TH_ECE | TH_SYN,
      win: 64240,
      urp: 0,
      options: LINUX_SYN_OPTS(1460, 0x90e281ca, 0),
      payload: new Uint8Array(0),
    });
  });

  it('SYN-ACK', () => {
    const { seg, pseudo } = tcpOf4(SYNACK4);
    const r = parseOk(seg, pseudo);
    assert.equal(r.seq, 0xc5ded60d);
    assert.equal(r.ack, 0x001eae0c);
    assert.equal(r.flags, TH_ECE | TH_ACK | TH_SYN);
    assert.deepEqual(r.options, LINUX_SYN_OPTS(1240, 0x6468e45e, 0x90e281ca));
  });

  it('data segment: payload is a view of the input', () => {
    const { seg, pseudo } = tcpOf4(GET4);
    const r = parseOk(seg, pseudo);
    assert.equal(r.flags, TH_PUSH | TH_ACK);
    assert.equal(r.win, 63);
    assert.deepEqual(r.options, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', tsval: 0x90e281ca, tsecr: 0x6468e45e }]);
    assert.deepEqual(r.payload, GET4_PAYLOAD);
    assert.equal(r.payload?.buffer, seg.buffer);
  });

  it('IPv6 SYN', () => {
    const { seg, pseudo } = tcpOf6(SYN6);
    const r = parseOk(seg, pseudo);
    assert.equal(r.sport, 43766);
    assert.deepEqual(r.options, LINUX_SYN_OPTS(1220, 0x82581d60, 0));
  });

  it('MD5 signature option', () => {
    const { seg, pseudo } = tcpOf4(MD5SYN4);
    const r = parseOk(seg, pseudo);
    assert.deepEqual(r.options, [
      { kind: 'nop' },
      { kind: 'nop' },
      { kind: 'md5', digest: hex`6256 5f02 8e11 dc10 9be6 0631 0f31 0d11` },
      { kind: 'mss', mss: 1460 },
      { kind: 'nop' },
      { kind: 'nop' },
      { kind: 'sackPermitted' },
      { kind: 'nop' },
      { kind: 'wscale', shift: 10 },
    ]);
  });

  it('Fast Open: request, cookie, cookie with data', () => {
    const req = tcpOf4(TFOREQ4);
    assert.deepEqual(parseOk(req.seg, req.pseudo).options.slice(5), [{ kind: 'fastOpen', cookie: new Uint8Array(0) }, { kind: 'nop' }, { kind: 'nop' }]);
    const ck = tcpOf4(TFOCOOKIE4);
    assert.deepEqual(parseOk(ck.seg, ck.pseudo).options.slice(5, 6), [{ kind: 'fastOpen', cookie: hex`586e 38e9 52e2 3aa6` }]);
    const d = tcpOf4(TFODATA4);
    const r = parseOk(d.seg, d.pseudo);
    assert.deepEqual(r.options.slice(5, 6), [{ kind: 'fastOpen', cookie: hex`586e 38e9 52e2 3aa6` }]);
    assert.equal(new TextDecoder().decode(r.payload), 'tfo1');
  });

  it('three SACK blocks', () => {
    const { seg, pseudo } = tcpOf4(SACK4);
    const r = parseOk(seg, pseudo);
    assert.deepEqual(r.options.slice(3), [
      { kind: 'nop' },
      { kind: 'nop' },
      {
        kind: 'sack',
        blocks: [
          { start: 0x3d5ff4cc, end: 0x3d5ffe64 },
          { start: 0x3d5fc9a0, end: 0x3d5ff000 },
          { start: 0x3d5fa340, end: 0x3d5fc4d4 },
        ],
      },
    ]);
  });

  it('every TCP segment of the capture parses, verifies and re-emits byte for byte', () => {
    let n = 0;
    for (const pkt of captureL3('b_tcp.pcap')) {
      const isV6 = (pkt[0] as number) >>> 4 === 6;
      const { seg, pseudo } = isV6 ? tcpOf6(pkt) : tcpOf4(pkt);
      const r = parseOk(seg, pseudo);
      assert.deepEqual(emitted(r, pseudo), seg);
      const s = new TcpOptsScratch();
      const v = new TcpView(seg);
      assert.equal(tcp_dooptions(seg, v.optOff, v.optLen, s), TCPOPT_OK);
      n++;
    }
    assert.ok(n > 50);
  });
});

describe('parseTcp on constructed layouts', () => {
  it('packetdrill <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>', () => {
    assert.deepEqual(parseOk(PD_SYN).options, [
      { kind: 'mss', mss: 1460 },
      { kind: 'nop' },
      { kind: 'wscale', shift: 6 },
      { kind: 'sackPermitted' },
      { kind: 'timestamp', tsval: 100, tsecr: 0 },
    ]);
  });

  it('packetdrill <mss 1460,sackOK,eol,eol>', () => {
    assert.deepEqual(parseOk(PD_EOL).options, [{ kind: 'mss', mss: 1460 }, { kind: 'sackPermitted' }, { kind: 'eol' }, { kind: 'eol' }]);
  });

  it('AE flag, TCP-AO and experimental Fast Open', () => {
    const r = parseOk(AE_AO);
    assert.equal(r.flags, TH_AE | TH_ACK);
    assert.deepEqual(r.options, [
      { kind: 'ao', keyId: 5, rNextKeyId: 7, mac: hex`0102 0304 0506 0708 090a 0b0c` },
      { kind: 'fastOpenExp', cookie: hex`dead beef` },
      { kind: 'eol' },
      { kind: 'eol' },
      { kind: 'eol' },
      { kind: 'eol' },
    ]);
  });

  it('four SACK blocks', () => {
    const r = parseOk(SACK_4);
    const o = r.options[2];
    assert.ok(o?.kind === 'sack');
    assert.equal(o.blocks.length, 4);
    assert.deepEqual(o.blocks[3], { start: 0xfffffff0, end: 8 });
  });

  it('non-zero bytes after EOL are kept as padding; other experiments stay unknown', () => {
    const seg = hex`0001 0002 0000 0000 0000 0000 80 10 0000 0000 0000  fe 06 1234 abcd  00 07 08 09 0a 0b`;
    assert.deepEqual(parseOk(seg).options, [
      { kind: 'unknown', type: 254, data: hex`1234 abcd` },
      { kind: 'eol' },
      { kind: 'padding', data: hex`07 08 09 0a 0b` },
    ]);
    assert.deepEqual(emitted(parseOk(seg)), seg);
  });
});

/* ---------------------------------------------------------------------------------------- */
/* construct                                                                                 */
/* ---------------------------------------------------------------------------------------- */

describe('emitTcp', () => {
  it('rebuilds the captured SYN, data segment and v6 SYN byte for byte (checksums included)', () => {
    for (const [pkt, of] of [
      [SYN4, tcpOf4],
      [SYNACK4, tcpOf4],
      [GET4, tcpOf4],
      [SYN6, tcpOf6],
      [MD5SYN4, tcpOf4],
      [TFOREQ4, tcpOf4],
      [TFOCOOKIE4, tcpOf4],
      [TFODATA4, tcpOf4],
      [SACK4, tcpOf4],
    ] as const) {
      const { seg, pseudo } = of(pkt);
      assert.deepEqual(emitted(parseOk(seg, pseudo), pseudo), seg);
    }
  });

  it('builds the SYN from a hand-written repr', () => {
    const { seg, pseudo } = tcpOf4(SYN4);
    const repr: TcpRepr = {
      sport: 36196,
      dport: 8080,
      seq: 0x001eae0b,
      ack: 0,
      flags: TH_CWR | TH_ECE | TH_SYN,
      win: 64240,
      urp: 0,
      options: LINUX_SYN_OPTS(1460, 0x90e281ca, 0),
    };
    assert.equal(tcpHeaderLen(repr), 40);
    assert.deepEqual(emitted(repr, pseudo), seg);
  });

  it('produces packetdrill layouts exactly, and the AE/AO/exp-FO and 4-SACK layouts', () => {
    for (const seg of [PD_SYN, PD_EOL, AE_AO, SACK_4]) assert.deepEqual(emitted(parseOk(seg)), seg);
  });

  it('pads options to a multiple of 4 with EOL', () => {
    const repr: TcpRepr = {
      sport: 1,
      dport: 2,
      seq: 3,
      ack: 4,
      flags: TH_SYN,
      win: 5,
      urp: 0,
      options: [
        { kind: 'mss', mss: 536 },
        { kind: 'wscale', shift: 2 },
      ],
    };
    const out = emitted(repr);
    assert.equal(out.length, 28);
    assert.deepEqual(out.subarray(20), hex`0204 0218 0303 02 00`);
  });

  it('copies the payload after the header, or leaves a payload in place untouched', () => {
    const repr: TcpRepr = { sport: 1, dport: 2, seq: 3, ack: 4, flags: TH_ACK, win: 5, urp: 0, options: [], payload: hex`01 02 03` };
    assert.deepEqual(emitted(repr).subarray(20), hex`01 02 03`);
    const buf = filled(23);
    buf.set(hex`0a 0b 0c`, 20);
    const { payload: _, ...noPayload } = repr;
    assert.equal(emitTcp(noPayload, buf, 0, 3, { af: 4, src: A4, dst: B4 }), 23);
    assert.deepEqual(buf.subarray(20), hex`0a 0b 0c`);
    assert.ok(new TcpView(buf).verifyChecksum4(A4, B4, 23));
    // a payload that already sits after the header is not copied onto itself
    const inPlace = { ...repr, payload: buf.subarray(20, 23) };
    assert.equal(emitTcp(inPlace, buf, 0), 23);
    assert.deepEqual(buf.subarray(20), hex`0a 0b 0c`);
  });

  it('throws RangeError for reprs it cannot encode (caller bugs)', () => {
    const base: TcpRepr = { sport: 1, dport: 2, seq: 3, ack: 4, flags: 0, win: 5, urp: 0, options: [] };
    const buf = new Uint8Array(100);
    const bad = (r: Partial<TcpRepr>) => assert.throws(() => emitTcp({ ...base, ...r }, buf, 0), RangeError);
    bad({ sport: 65536 });
    bad({ seq: -1 });
    bad({ flags: 0x200 });
    bad({ options: [{ kind: 'eol' }, { kind: 'mss', mss: 1 }] });
    bad({ options: [{ kind: 'padding', data: hex`01` }] });
    bad({ options: [{ kind: 'eol' }, { kind: 'padding', data: hex`00 01` }] });
    bad({ options: [{ kind: 'sack', blocks: [] }] });
    bad({ options: [{ kind: 'fastOpen', cookie: new Uint8Array(3) }] });
    bad({ options: [{ kind: 'md5', digest: new Uint8Array(15) }] });
    bad({ options: [{ kind: 'unknown', type: 2, data: hex`0101` }] });
    bad({ options: [{ kind: 'unknown', type: 254, data: hex`f989` }] });
    bad({ options: new Array(41).fill({ kind: 'nop' }) });
    assert.throws(() => emitTcp(base, new Uint8Array(19), 0), RangeError);
    assert.throws(() => emitTcp(base, buf, 0, 0, { af: 6, src: new Uint8Array(4), dst: new Uint8Array(16) }), RangeError);
    assert.throws(() => emitTcp({ ...base, payload: hex`01` }, buf, 0, 2), RangeError);
  });
});

/* ---------------------------------------------------------------------------------------- */
/* rejection                                                                                 */
/* ---------------------------------------------------------------------------------------- */

describe('parseTcp rejects malformed segments without throwing', () => {
  const hdr = (doffFlags: string, opts: string) => hex`0001 0002 0000 0000 0000 0000 ${doffFlags} 0000 0000 0000 ${opts}`;
  const cases: [string, Uint8Array][] = [
    ['data offset 4', hdr('40 10', '')],
    ['data offset beyond the segment', hdr('60 10', '')],
    ['option without length byte', hdr('60 10', '010101 03')],
    ['option length 0', hdr('60 10', '0800 0000')],
    ['option length 1', hdr('60 10', '0201 0000')],
    ['option length past the header', hdr('60 10', '0206 0000')],
    ['MSS length 3', hdr('60 10', '0203 0001')],
    ['window scale length 4', hdr('60 10', '0304 0000')],
    ['SACK-permitted length 3', hdr('60 10', '0403 0001')],
    ['SACK with no blocks', hdr('60 10', '0502 0101')],
    ['SACK length 2+8n+1', hdr('90 10', '050b 0000 0001 0000 0002 00 0000 0000 0000')],
    ['timestamp length 8', hdr('80 10', '0808 0000 0000 0000 0000 0000')],
    ['MD5 length 10', hdr('80 10', '130a 0000 0000 0000 0000 0000')],
    ['TCP-AO length 3', hdr('60 10', '1d03 0000')],
    ['Fast Open cookie of 3 bytes', hdr('70 10', '2205 0102 0300 0000')],
    ['Fast Open cookie of 17 bytes', hdr('b0 10', `2213 ${'01'.repeat(17)} 000000 `)],
    ['experimental Fast Open cookie of 2 bytes', hdr('70 10', 'fe06 f989 0102 0000')],
  ];
  for (const [name, seg] of cases) {
    it(name, () => {
      const r = parseTcp(seg, 0, seg.length);
      assert.equal(r.ok, false, name);
    });
  }

  it('bad checksum, bad pseudo-header, truncated header, range outside the buffer', () => {
    const { seg, pseudo } = tcpOf4(SYN4);
    assert.equal(parseTcp(seg, 0, seg.length, { af: 4, src: A4, dst: B4 + 1 }).ok, false);
    assert.equal(parseTcp(seg, 0, seg.length, { af: 6, src: new Uint8Array(4), dst: new Uint8Array(16) }).ok, false);
    assert.ok(parseTcp(seg, 0, seg.length, pseudo).ok);
    assert.equal(parseTcp(seg, 0, 19).ok, false);
    assert.equal(parseTcp(seg, 30, 20).ok, false);
    assert.equal(parseTcp(seg, -1, 20).ok, false);
    assert.equal(parseTcp(seg, 0.5, 20).ok, false);
    assert.equal(parseTcp(seg, 0, Number.NaN).ok, false);
  });

  it('every truncation of every fixture is rejected or parsed, never thrown', () => {
    for (const pkt of [SYN4, SYNACK4, GET4, MD5SYN4, TFOREQ4, TFOCOOKIE4, TFODATA4, SACK4]) {
      const { seg } = tcpOf4(pkt);
      const hlen = new TcpView(seg).hlen;
      for (let n = 0; n <= seg.length; n++) {
        const r = parseTcp(seg, 0, n);
        assert.equal(r.ok, n >= hlen, `length ${n}`);
        assert.equal(TcpView.checked(seg, 0, n) !== null, n >= hlen);
      }
    }
  });
});

/* ---------------------------------------------------------------------------------------- */
/* tcp_dooptions                                                                             */
/* ---------------------------------------------------------------------------------------- */

describe('tcp_dooptions', () => {
  it('fills the scratch object from the captured SYN', () => {
    const { seg } = tcpOf4(SYN4);
    const s = new TcpOptsScratch();
    assert.equal(tcp_dooptions(seg, 20, 20, s), TCPOPT_OK);
    assert.equal(s.flags, TOF_MSS | TOF_SACKPERM | TOF_TS | TOF_SCALE);
    assert.equal(s.mss, 1460);
    assert.equal(s.wscale, 10);
    assert.equal(s.tsval, 0x90e281ca);
    assert.equal(s.tsecr, 0);
    assert.equal(s.errOff, -1);
  });

  it('SACK blocks, MD5 offset, Fast Open cookie offset, AO fields', () => {
    const s = new TcpOptsScratch();
    const sack = tcpOf4(SACK4).seg;
    assert.equal(tcp_dooptions(sack, 20, 40, s), TCPOPT_OK);
    assert.equal(s.flags, TOF_TS | TOF_SACK);
    assert.equal(s.nsacks, 3);
    assert.deepEqual(Array.from(s.sackBlocks.subarray(0, 6)), [0x3d5ff4cc, 0x3d5ffe64, 0x3d5fc9a0, 0x3d5ff000, 0x3d5fa340, 0x3d5fc4d4]);

    const md5 = tcpOf4(MD5SYN4).seg;
    assert.equal(tcp_dooptions(md5, 20, 32, s), TCPOPT_OK);
    assert.equal(s.flags & TOF_SIGNATURE, TOF_SIGNATURE);
    assert.equal(s.sigOff, 24);
    assert.deepEqual(md5.subarray(s.sigOff, s.sigOff + 16), hex`6256 5f02 8e11 dc10 9be6 0631 0f31 0d11`);

    const fo = tcpOf4(TFOCOOKIE4).seg;
    assert.equal(tcp_dooptions(fo, 20, 32, s), TCPOPT_OK);
    assert.equal(s.flags & (TOF_FASTOPEN | TOF_FASTOPEN_EXP), TOF_FASTOPEN);
    assert.equal(s.foLen, 8);
    assert.deepEqual(fo.subarray(s.foOff, s.foOff + s.foLen), hex`586e 38e9 52e2 3aa6`);

    const req = tcpOf4(TFOREQ4).seg;
    assert.equal(tcp_dooptions(req, 20, 24, s), TCPOPT_OK);
    assert.equal(s.flags & TOF_FASTOPEN, TOF_FASTOPEN);
    assert.equal(s.foLen, 0);

    assert.equal(tcp_dooptions(AE_AO, 20, 28, s), TCPOPT_OK);
    assert.equal(s.flags, TOF_AO | TOF_FASTOPEN | TOF_FASTOPEN_EXP);
    assert.equal(s.aoKeyId, 5);
    assert.equal(s.aoRNextKeyId, 7);
    assert.equal(s.aoMacOff, 24);
    assert.equal(s.aoMacLen, 12);
    assert.equal(s.foOff, 40); // kind, len, ExID, then the cookie
    assert.equal(s.foLen, 4);
  });

  it('stops at the first bad option, reports where, keeps what came before', () => {
    const s = new TcpOptsScratch();
    // MSS, then an option whose length runs past the end
    let b = hex`0204 05b4 0108 0a00`;
    assert.equal(tcp_dooptions(b, 0, b.length, s), TCPOPT_ERR_LEN);
    assert.equal(s.errOff, 5);
    assert.equal(s.flags, TOF_MSS);
    assert.equal(s.mss, 1460);
    // length 1
    b = hex`0101 0901`;
    assert.equal(tcp_dooptions(b, 0, b.length, s), TCPOPT_ERR_LEN);
    assert.equal(s.errOff, 2);
    assert.equal(s.flags, 0, 'reset from the previous call');
    // no room for the length byte
    b = hex`0101 01 03`;
    assert.equal(tcp_dooptions(b, 0, b.length, s), TCPOPT_ERR_TRUNC);
    assert.equal(s.errOff, 3);
    // known kind, wrong length
    b = hex`0402 0303 0a 0205 0000 00`;
    assert.equal(tcp_dooptions(b, 0, b.length, s), TCPOPT_ERR_KNOWNLEN);
    assert.equal(s.errOff, 5);
    assert.equal(s.flags, TOF_SACKPERM | TOF_SCALE);
    // outside the buffer
    assert.equal(tcp_dooptions(b, 4, 40, s), TCPOPT_ERR_LEN);
  });

  it('stops at EOL and ignores what follows', () => {
    const s = new TcpOptsScratch();
    const b = hex`0402 00 02 0405 b400`;
    assert.equal(tcp_dooptions(b, 0, b.length, s), TCPOPT_OK);
    assert.equal(s.flags, TOF_SACKPERM);
  });
});

/* ---------------------------------------------------------------------------------------- */
/* properties                                                                                */
/* ---------------------------------------------------------------------------------------- */

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u8 = fc.integer({ min: 0, max: 0xff });
const KNOWN = new Set([0, 1, 2, 3, 4, 5, 8, 19, 29, 34]);
const cookie = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 4, maxLength: 16 }));

/** Any option except eol/padding (those are placed by fitOptions). */
const optionArb: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: 'nop' }),
  u16.map((mss): TcpOption => ({ kind: 'mss', mss })),
  u8.map((shift): TcpOption => ({ kind: 'wscale', shift })),
  fc.constant<TcpOption>({ kind: 'sackPermitted' }),
  fc
    .array(fc.record({ start: u32, end: u32 }, { noNullPrototype: true }), { minLength: 1, maxLength: 4 })
    .map((blocks): TcpOption => ({ kind: 'sack', blocks })),
  fc.record({ tsval: u32, tsecr: u32 }).map((t): TcpOption => ({ kind: 'timestamp', ...t })),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((digest): TcpOption => ({ kind: 'md5', digest })),
  fc.record({ keyId: u8, rNextKeyId: u8, mac: fc.uint8Array({ maxLength: 20 }) }).map((a): TcpOption => ({ kind: 'ao', ...a })),
  cookie.map((c): TcpOption => ({ kind: 'fastOpen', cookie: c })),
  cookie.map((c): TcpOption => ({ kind: 'fastOpenExp', cookie: c })),
  fc
    .record({ type: u8.filter((t) => !KNOWN.has(t)), data: fc.uint8Array({ maxLength: 12 }) })
    .filter((u) => !(u.type === 254 && u.data.length >= 2 && u.data[0] === 0xf9 && u.data[1] === 0x89))
    .map((u): TcpOption => ({ kind: 'unknown', ...u })),
);

/** Keep the options that fit in 40 bytes, then end canonically: EOLs up to a multiple of 4,
 * optionally EOL + non-zero padding. */
function fitOptions(opts: TcpOption[], trailer: Uint8Array | null): TcpOption[] {
  const out: TcpOption[] = [];
  let n = 0;
  for (const o of opts) {
    const l = tcpOptionLen(o);
    if (n + l > 40) continue;
    out.push(o);
    n += l;
  }
  if (trailer && n + 2 <= 40) {
    out.push({ kind: 'eol' });
    n++;
    const k = (4 - (n % 4)) % 4 || 4; // n <= 39 here, so n + k <= 40
    const data = new Uint8Array(k).fill(7);
    data.set(trailer.subarray(0, k));
    if (data[0] === 0) data[0] = 1;
    out.push({ kind: 'padding', data });
    return out;
  }
  while (n % 4 !== 0) {
    out.push({ kind: 'eol' });
    n++;
  }
  return out;
}

const reprArb: fc.Arbitrary<TcpRepr> = fc
  .record({
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: fc.integer({ min: 0, max: 0x1ff }),
    win: u16,
    urp: u16,
    opts: fc.array(optionArb, { maxLength: 10 }),
    trailer: fc.option(fc.uint8Array({ minLength: 1, maxLength: 4 }), { freq: 5 }),
    payload: fc.uint8Array({ maxLength: 64 }),
  })
  .map(({ opts, trailer, ...r }) => ({ ...r, options: fitOptions(opts, trailer) }));

/** What tcp_dooptions should report for a canonical option list starting at `base`. */
function expectedScratch(options: TcpOption[], base: number): TcpOptsScratch {
  const s = new TcpOptsScratch();
  let at = base;
  for (const o of options) {
    if (o.kind === 'eol' || o.kind === 'padding') break;
    switch (o.kind) {
      case 'mss':
        s.flags |= TOF_MSS;
        s.mss = o.mss;
        break;
      case 'wscale':
        s.flags |= TOF_SCALE;
        s.wscale = o.shift;
        break;
      case 'sackPermitted':
        s.flags |= TOF_SACKPERM;
        break;
      case 'timestamp':
        s.flags |= TOF_TS;
        s.tsval = o.tsval;
        s.tsecr = o.tsecr;
        break;
      case 'sack':
        s.flags |= TOF_SACK;
        s.nsacks = o.blocks.length;
        o.blocks.forEach((b, i) => {
          s.sackBlocks[2 * i] = b.start;
          s.sackBlocks[2 * i + 1] = b.end;
        });
        break;
      case 'md5':
        s.flags |= TOF_SIGNATURE;
        s.sigOff = at + 2;
        break;
      case 'ao':
        s.flags |= TOF_AO;
        s.aoKeyId = o.keyId;
        s.aoRNextKeyId = o.rNextKeyId;
        s.aoMacOff = at + 4;
        s.aoMacLen = o.mac.length;
        break;
      case 'fastOpen':
        s.flags = (s.flags | TOF_FASTOPEN) & ~TOF_FASTOPEN_EXP;
        s.foOff = at + 2;
        s.foLen = o.cookie.length;
        break;
      case 'fastOpenExp':
        s.flags |= TOF_FASTOPEN | TOF_FASTOPEN_EXP;
        s.foOff = at + 4;
        s.foLen = o.cookie.length;
        break;
      default:
        break;
    }
    at += tcpOptionLen(o);
  }
  return s;
}

/** The fields tcp_dooptions promises, for comparison (sackBlocks only up to nsacks). */
function scratchView(s: TcpOptsScratch) {
  return {
    flags: s.flags,
    mss: s.flags & TOF_MSS ? s.mss : 0,
    wscale: s.flags & TOF_SCALE ? s.wscale : 0,
    tsval: s.flags & TOF_TS ? s.tsval : 0,
    tsecr: s.flags & TOF_TS ? s.tsecr : 0,
    sacks: Array.from(s.sackBlocks.subarray(0, 2 * s.nsacks)),
    sigOff: s.sigOff,
    ao: [s.aoKeyId, s.aoRNextKeyId, s.aoMacOff, s.aoMacLen],
    fo: [s.foOff, s.foLen],
    errOff: s.errOff,
  };
}

describe('properties', () => {
  it('parse(emit(r)) deep-equals r for canonical reprs, with and without checksum', () => {
    fc.assert(
      fc.property(reprArb, fc.boolean(), (r, v6) => {
        const pseudo: TcpPseudo = v6 ? { af: 6, src: new Uint8Array(16).fill(1), dst: new Uint8Array(16).fill(2) } : { af: 4, src: A4, dst: B4 };
        const bytes = emitted(r, pseudo);
        const p = parseTcp(bytes, 0, bytes.length, pseudo);
        if (!p.ok) assert.fail(p.error);
        assert.deepEqual(p.value, r);
      }),
      { numRuns: 2000 },
    );
  });

  it('the walker agrees with parseTcp on valid option lists', () => {
    fc.assert(
      fc.property(reprArb, (r) => {
        const bytes = emitted(r);
        const v = new TcpView(bytes);
        const s = new TcpOptsScratch();
        assert.equal(tcp_dooptions(bytes, v.optOff, v.optLen, s), TCPOPT_OK);
        const parsed = parseTcp(bytes, 0, bytes.length);
        assert.ok(parsed.ok);
        assert.deepEqual(scratchView(s), scratchView(expectedScratch(parsed.value.options, v.optOff)));
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary bytes never throw out of parseTcp, TcpView.checked or tcp_dooptions; walker and parser agree on validity', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(80), (b, cut) => {
        const len = Math.min(cut, b.length);
        const r = parseTcp(b, 0, len);
        const v = TcpView.checked(b, 0, len);
        assert.equal(v !== null, len >= TCP_HDR_LEN && (b[12] as number) >>> 4 >= 5 && ((b[12] as number) >>> 4) * 4 <= len);
        if (v) {
          const s = new TcpOptsScratch();
          const code = tcp_dooptions(b, v.optOff, v.optLen, s);
          // the strict parser rejects exactly when the walker finds a malformed option
          assert.equal(r.ok, code === TCPOPT_OK, r.ok ? 'parsed' : r.error);
          // the walker never reports an offset outside the options
          if (code !== TCPOPT_OK) assert.ok(s.errOff >= v.optOff && s.errOff < v.optOff + v.optLen);
        } else assert.equal(r.ok, false);
      }),
      { numRuns: 5000 },
    );
  });

  it('every truncation and single-byte corruption of a random valid segment never throws', () => {
    fc.assert(
      fc.property(reprArb, fc.nat(), u8, (r, pos, val) => {
        const bytes = emitted(r).slice();
        for (let n = 0; n <= bytes.length; n++) parseTcp(bytes, 0, n);
        bytes[pos % bytes.length] = val;
        parseTcp(bytes, 0, bytes.length);
        tcp_dooptions(bytes, 20, Math.min(40, bytes.length - 20), new TcpOptsScratch());
      }),
      { numRuns: 300 },
    );
  });

  it('TcpView getters agree with a naive DataView reference', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 40 }), fc.nat(20), (b, o) => {
        const off = o % (b.length - 19);
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const v = new TcpView(b, off, b.length - off);
        assert.equal(v.sport, dv.getUint16(off));
        assert.equal(v.dport, dv.getUint16(off + 2));
        assert.equal(v.seq, dv.getUint32(off + 4));
        assert.equal(v.ack, dv.getUint32(off + 8));
        assert.equal(v.hlen, (dv.getUint8(off + 12) >> 4) * 4);
        assert.equal(v.flags, dv.getUint16(off + 12) & 0x1ff);
        assert.equal(v.win, dv.getUint16(off + 14));
        assert.equal(v.sum, dv.getUint16(off + 16));
        assert.equal(v.urp, dv.getUint16(off + 18));
      }),
    );
  });
});
