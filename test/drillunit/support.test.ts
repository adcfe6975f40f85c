/*
 * Tests for the runner's helpers: packet building and parsing (src/drill/packet.ts), the
 * code-block evaluator (code.ts), shell emulation (shell.ts) and the symbol table
 * (symbols.ts).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CodeAssertion, CodeEnv, checkCode, parseCode } from '../../src/drill/code.js';
import {
  buildIcmp,
  buildTcp,
  buildUdp,
  encodeTcpOptions,
  findTsOption,
  flagsFromScript,
  flagsToScript,
  optionsToString,
  parsePacket,
  quotedHeader,
} from '../../src/drill/packet.js';
import { classify } from '../../src/drill/shell.js';
import { lookupSymbol } from '../../src/drill/symbols.js';
import { inCksum } from '../../src/wire/checksum.js';

const L4 = Uint8Array.from([192, 168, 0, 1]);
const R4 = Uint8Array.from([192, 0, 2, 1]);
const L6 = Uint8Array.from([0xfd, 0x3d, 0xfa, 0x7b, 0xd1, 0x7d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const R6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const IP = { tos: 0x02, ttl: 255, flowlabel: 0 };
const pos = { line: 1, col: 1 };

describe('packet', () => {
  it('flags round-trip in packetdrill notation', () => {
    for (const f of ['S', 'S.', 'F.', 'R', 'R.', 'P.', '.', 'SEW', 'SE.']) assert.equal(flagsToScript(flagsFromScript(f)), f);
  });

  it('TCP options encode exactly as written and print back', () => {
    const o = encodeTcpOptions([
      { kind: 'mss', value: 1460, pos },
      { kind: 'nop', pos },
      { kind: 'wscale', value: 6, pos },
      { kind: 'sackOK', pos },
      { kind: 'ts', val: 100, ecr: 0, ecrAbsolute: false, valIgnore: false, pos },
    ]);
    assert.equal(o.length, 20);
    assert.equal(optionsToString(o), 'mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0');
    assert.equal(findTsOption(o), 12);
    assert.equal(
      optionsToString(
        encodeTcpOptions([
          { kind: 'fo', cookie: Uint8Array.from([1, 2, 3, 4]), pos },
          { kind: 'nop', pos },
          { kind: 'nop', pos },
        ]),
      ),
      'FO 01020304,nop,nop',
    );
  });

  it('TCP/IPv4 and TCP/IPv6 build with valid checksums and parse back', () => {
    const t = {
      sport: 40000,
      dport: 8080,
      seq: 0xfffffff0,
      ack: 7,
      flags: flagsFromScript('P.'),
      win: 1000,
      urg: 0,
      options: new Uint8Array([1, 1, 1, 1]),
      payloadLen: 10,
    };
    for (const [src, dst] of [
      [R4, L4],
      [R6, L6],
    ] as const) {
      const b = buildTcp(src, dst, IP, t, null);
      const p = parsePacket(b, false);
      assert.ok(p?.tcp);
      assert.equal(p.tos, 0x02);
      assert.equal(p.ipCksumOk, true);
      assert.equal(p.tcp.cksumOk, true);
      assert.deepEqual(
        [p.tcp.sport, p.tcp.dport, p.tcp.seq, p.tcp.ack, p.tcp.win, p.tcp.doff, p.tcp.payload.length],
        [40000, 8080, 0xfffffff0, 7, 1000, 24, 10],
      );
    }
  });

  it('TCP over UDP and plain UDP', () => {
    const t = { sport: 1, dport: 2, seq: 1, ack: 1, flags: flagsFromScript('.'), win: 5, urg: 0, options: new Uint8Array(0), payloadLen: 0 };
    const enc = parsePacket(buildTcp(R4, L4, IP, t, { sport: 9811, dport: 9812 }), true);
    assert.deepEqual(enc?.udpEncap, { sport: 9811, dport: 9812 });
    assert.equal(enc?.tcp?.sport, 1);
    const u = parsePacket(buildUdp(R6, L6, IP, 53, 1053, 7), false);
    assert.deepEqual([u?.udp?.sport, u?.udp?.len, u?.udp?.cksumOk], [53, 15, true]);
  });

  it('ICMP errors quote the original header', () => {
    const seg = new Uint8Array(20);
    const q = quotedHeader(L4, R4, 6, seg, 20, 8);
    assert.equal(q.length, 28);
    const b = buildIcmp(R4, L4, IP, 3, 13, 0, q);
    assert.equal(inCksum(b, 20, b.length - 20), 0);
    const p6 = parsePacket(buildIcmp(R6, L6, IP, 2, 0, 1280, quotedHeader(L6, R6, 6, seg, 20, 8)), false);
    assert.deepEqual(p6?.icmp, { type: 2, code: 0 });
  });
});

describe('code evaluator', () => {
  it('asserts over snapshot variables with FreeBSD constants; state carries over', () => {
    const env = new CodeEnv();
    env.vars.set('tcpi_state', 4);
    env.vars.set('TCPI_ESTABLISHED', 4);
    env.vars.set('tcpi_options', 7);
    env.vars.set('TCPI_OPT_TIMESTAMPS', 1);
    env.vars.set('TCPI_OPT_SACK', 2);
    env.vars.set('TCPI_OPT_WSCALE', 4);
    env.run(parseCode('assert tcpi_state == TCPI_ESTABLISHED'));
    env.run(parseCode('assert tcpi_options == 0 | (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE)'));
    env.run(parseCode('cwnd = 10\ncwnd += 1'));
    env.run(parseCode('assert cwnd == 11, "cwnd"\nassert 1 < cwnd <= 11 and not False'));
    assert.throws(
      () => env.run(parseCode('assert tcpi_state == 5')),
      (e: CodeAssertion) => /tcpi_state=4/.test(e.message),
    );
    assert.throws(() => env.run(parseCode('assert nosuch == 1')), /NameError/);
  });

  it('reports what it cannot evaluate', () => {
    assert.equal(checkCode('assert tcpi_snd_cwnd == 10000'), null);
    assert.match(checkCode('for i in range(3): pass') ?? '', /'for'/);
    assert.match(checkCode('import os') ?? '', /'import'/);
  });
});

describe('shell emulation', () => {
  it('recognises the FreeBSD suite idioms, names anything else', () => {
    assert.equal(classify('sysctl -w net.inet.tcp.rfc1323=1'), null);
    assert.equal(classify('sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1'), null);
    assert.equal(classify('sockstat -6 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 0'), null);
    assert.equal(classify('tcpdrop -s TIME_WAIT'), null);
    assert.equal(classify('kldstat -q -m tcpmd5 || kldload tcpmd5'), 'kldstat');
    assert.equal(classify('sockstat -4 -P udp'), 'sockstat -P udp');
  });
});

describe('symbols (FreeBSD values)', () => {
  it('socket, TCP and fcntl constants', () => {
    const want: Record<string, number> = {
      SOL_SOCKET: 0xffff,
      SOCK_STREAM: 1,
      IPPROTO_TCP: 6,
      AF_INET6: 28,
      SO_RCVBUF: 0x1002,
      SO_ERROR: 0x1007,
      SO_REUSEADDR: 4,
      TCP_NODELAY: 1,
      TCP_MAXSEG: 2,
      TCP_NOPUSH: 4,
      TCP_NOOPT: 8,
      TCP_MD5SIG: 16,
      TCP_INFO: 32,
      TCP_CONGESTION: 64,
      TCP_KEEPINIT: 128,
      TCP_KEEPIDLE: 256,
      TCP_KEEPINTVL: 512,
      TCP_KEEPCNT: 1024,
      TCP_FASTOPEN: 1025,
      TCP_FUNCTION_BLK: 8192,
      TCP_REMOTE_UDP_ENCAPS_PORT: 71,
      IP_TOS: 3,
      IP_TTL: 4,
      IPV6_TCLASS: 61,
      IPV6_UNICAST_HOPS: 4,
      IPV6_USE_MIN_MTU: 42,
      F_GETFL: 3,
      F_SETFL: 4,
      O_RDWR: 2,
      O_NONBLOCK: 4,
      MSG_PEEK: 2,
      SHUT_WR: 1,
      EINPROGRESS: 36,
      EWOULDBLOCK: 35,
      ECONNRESET: 54,
      ETIMEDOUT: 60,
      ECONNREFUSED: 61,
      EHOSTUNREACH: 65,
      TCPI_SYN_RECEIVED: 3,
      TCPI_TIME_WAIT: 10,
      TCPI_OPT_ECN: 8,
      IPTOS_DSCP_CS1: 0x20,
      IPTOS_DSCP_CS7: 0xe0,
      POLLIN: 1,
      POLLOUT: 4,
    };
    for (const [k, v] of Object.entries(want)) assert.equal(lookupSymbol(k), v, k);
    assert.equal(lookupSymbol('NO_SUCH_THING'), undefined);
  });
});
