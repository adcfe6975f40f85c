/*
 * Tests for the packetdrill lexer and parser (src/drill/lexer.ts, parser.ts): every construct
 * of the grammar in specs/packetdrill.md §2, error positions (line and column), the NPLab
 * #ifdef preprocessor and --define substitution.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Expr, IcmpPacket, Script, TcpPacket, UdpPacket } from '../../src/drill/ast.js';
import { DrillSyntaxError, lex, preprocess } from '../../src/drill/lexer.js';
import { parseScript } from '../../src/drill/parser.js';

function ev(s: Script, i: number) {
  const e = s.events[i];
  assert.ok(e, `event ${i}`);
  return e;
}

function tcp(s: Script, i: number): TcpPacket {
  const b = ev(s, i).body;
  assert.equal(b.type, 'packet');
  if (b.type !== 'packet' || b.packet.proto !== 'tcp') throw new Error('not a tcp packet');
  return b.packet;
}

function call(s: Script, i: number) {
  const b = ev(s, i).body;
  if (b.type !== 'syscall') throw new Error('not a syscall');
  return b.call;
}

function parseErr(text: string): DrillSyntaxError {
  try {
    parseScript(text);
  } catch (e) {
    if (e instanceof DrillSyntaxError) return e;
    throw e;
  }
  assert.fail(`expected a syntax error for: ${text}`);
}

describe('lexer', () => {
  it('numbers: integer, negative, float (.1 yes, 1. no), hex, raw text kept', () => {
    const t = lex('10 -1 0.25 .1 0x1F 0102030405060708 1.');
    assert.deepEqual(
      t.map((x) => [x.kind, x.text]),
      [
        ['int', '10'],
        ['int', '-1'],
        ['float', '0.25'],
        ['float', '.1'],
        ['hex', '0x1F'],
        ['int', '0102030405060708'],
        ['int', '1'],
        ['punct', '.'],
        ['eof', ''],
      ],
    );
    assert.equal(t[4]?.num, 31);
  });

  it('addresses: IPv4 and IPv6 literals, but 1:1001 is a sequence range', () => {
    assert.deepEqual(
      lex('192.0.2.1 2001:db8::1 fd3d:fa7b:d17d::1 ::ffff:192.0.2.1').map((x) => x.kind),
      ['ipv4', 'ipv6', 'ipv6', 'ipv6', 'eof'],
    );
    assert.deepEqual(
      lex('1:1001(1000)').map((x) => x.text),
      ['1', ':', '1001', '(', '1000', ')', ''],
    );
  });

  it('comments, strings with escapes, backquoted commands, code blocks (trimmed), ellipsis', () => {
    const t = lex('a // c\n/* multi\nline */ "x\\ty" `cmd -w` %{  assert x == 1\t}% ...');
    assert.deepEqual(
      t.map((x) => [x.kind, x.text]),
      [
        ['word', 'a'],
        ['string', 'x\ty'],
        ['command', 'cmd -w'],
        ['code', 'assert x == 1'],
        ['ellipsis', '...'],
        ['eof', ''],
      ],
    );
    assert.equal(t[1]?.line, 3, 'line numbers count through comments');
  });

  it('options: --name=value to the end of the line, --flag', () => {
    const t = lex('--tolerance_usecs=10000 // c\n--strict_segments\n--non_fatal=packet,syscall');
    assert.deepEqual(
      t.filter((x) => x.kind === 'option').map((x) => [x.text, x.value]),
      [
        ['tolerance_usecs', '10000'],
        ['strict_segments', null],
        ['non_fatal', 'packet,syscall'],
      ],
    );
  });

  it('reports unterminated constructs and bad characters with line:col', () => {
    assert.throws(
      () => lex('a\n  "abc'),
      (e: DrillSyntaxError) => e.line === 2 && e.col === 3,
    );
    assert.throws(
      () => lex('x %{ y'),
      (e: DrillSyntaxError) => e.line === 1 && e.col === 3,
    );
    assert.throws(
      () => lex('a\n b ` c'),
      (e: DrillSyntaxError) => e.line === 2 && e.col === 4,
    );
  });
});

describe('preprocessor (#ifdef)', () => {
  const text = 'a\n#ifdef STANDARD\nb\n#endif\n#ifdef FreeBSD\nc\n#endif\nd';
  it('keeps FreeBSD blocks, drops undefined ones, keeps line numbers', () => {
    const out = preprocess(text, new Set(['FreeBSD']));
    assert.deepEqual(out.split('\n'), ['a', '', '', '', '', 'c', '', 'd']);
  });
  it('a define enables a block; #ifndef and #else work', () => {
    assert.deepEqual(preprocess(text, new Set(['STANDARD'])).split('\n'), ['a', '', 'b', '', '', '', '', 'd']);
    assert.deepEqual(preprocess('#ifndef X\n1\n#else\n2\n#endif', new Set()).split('\n'), ['', '1', '', '', '']);
    assert.deepEqual(preprocess('#ifdef X\n1\n#else\n2\n#endif', new Set(['X'])).split('\n'), ['', '1', '', '', '']);
  });
  it('unbalanced directives are errors', () => {
    assert.throws(() => preprocess('#ifdef A\nx', new Set()), /without #endif/);
    assert.throws(
      () => preprocess('x\n#endif', new Set()),
      (e: DrillSyntaxError) => e.line === 2,
    );
    assert.throws(() => preprocess('#frob', new Set()), /unknown preprocessor directive/);
  });
  it('parseScript defines FreeBSD and honours script and command-line defines', () => {
    const s = 'x\n#ifdef FreeBSD\n0 close(3) = 0\n#endif\n#ifdef STANDARD\n+0 close(4) = 0\n#endif\n'.replace(/^x\n/, '');
    assert.equal(parseScript(s).events.length, 1);
    assert.equal(parseScript(s, { defines: new Map([['STANDARD', '1']]) }).events.length, 2);
    assert.equal(parseScript(`--define=STANDARD=1\n${s}`).events.length, 2);
  });
});

describe('parser: script structure', () => {
  it('options, init command, events, cleanup command', () => {
    const s = parseScript('--ip_version=ipv6\n--mtu=9000\n`init cmd`\n0 close(3) = 0\n+1 close(4) = 0\n`cleanup`\n');
    assert.deepEqual(
      s.options.map((o) => [o.name, o.value]),
      [
        ['ip_version', 'ipv6'],
        ['mtu', '9000'],
      ],
    );
    assert.equal(s.initCommand?.command, 'init cmd');
    assert.equal(s.cleanupCommand?.command, 'cleanup');
    assert.equal(s.events.length, 2);
  });

  it('a backquoted command with a time is an event, not a cleanup command', () => {
    const s = parseScript('0 close(3) = 0\n+0 `sysctl -w a=1`\n');
    assert.equal(s.cleanupCommand, null);
    assert.equal(ev(s, 1).body.type, 'command');
  });

  it('times: absolute, relative (space after +), wildcard, ranges, blocking end time', () => {
    const s = parseScript(
      [
        '0 close(3) = 0',
        '+ 0.5 close(3) = 0',
        '.1 close(3) = 0',
        '* > S 0:0(0) win 1',
        '1~2 > S 0:0(0) win 1',
        '+1~+2 > S 0:0(0) win 1',
        '+.1...0.200 connect(3, ..., ...) = 0',
        '1.00...6.00 accept(3, ..., ...) = 4',
      ].join('\n'),
    );
    assert.deepEqual(
      s.events.map((e) => [e.time.kind, e.time.usecs, e.time.endUsecs]),
      [
        ['abs', 0, 0],
        ['rel', 500000, 500000],
        ['abs', 100000, 100000],
        ['any', 0, 0],
        ['absRange', 1000000, 2000000],
        ['relRange', 1000000, 2000000],
        ['rel', 100000, 100000],
        ['abs', 1000000, 1000000],
      ],
    );
    assert.equal(call(s, 6).endUsecs, 200000);
    assert.equal(call(s, 7).endUsecs, 6000000);
  });

  it('* and ~ are only for outbound packets', () => {
    assert.match(parseErr('* close(3) = 0').message, /only allowed for outbound packets/);
    assert.match(parseErr('1~2 < S 0:0(0) win 1').message, /only allowed for outbound packets/);
  });
});

describe('parser: TCP packets', () => {
  it('flags, seq, ack, win, urg and spacing', () => {
    const s = parseScript(
      '0 < S  0:0(0) win 32767\n+0 > S. 0:0(0) ack 1 win 65535\n+0 < F  . 1:1(0) ack 1 win 9 urg 3\n+0 > - 5:5(0) win 1\n+0 > SEW 0:0(0) win 1\n+0 >  P. 1:1001(1000) ack 1',
    );
    assert.equal(tcp(s, 0).flags, 'S');
    assert.equal(tcp(s, 1).flags, 'S.');
    assert.equal(tcp(s, 1).ack, 1);
    assert.equal(tcp(s, 2).flags, 'F.');
    assert.equal(tcp(s, 2).urg, 3);
    assert.equal(tcp(s, 3).flags, '');
    assert.equal(tcp(s, 4).flags, 'SEW');
    const p = tcp(s, 5);
    assert.deepEqual([p.seq.start, p.seq.end, p.seq.len, p.win], [1, 1001, 1000, null]);
  });

  it('NPLab sequence extensions: a:b(n)! and ...(n)', () => {
    const s = parseScript('0 > R. 0:0(0)! ack 2 win 0\n+0 > S. ...(0) ack 4 win 65535');
    assert.equal(tcp(s, 0).seq.absolute, true);
    assert.equal(tcp(s, 1).seq.ignore, true);
  });

  it('options: mss nop wscale sackOK sack TS FO FOEXP eol <...>, padding checked', () => {
    const s = parseScript(
      [
        '0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>',
        '+0 < . 1:1(0) ack 1 win 1 <nop,nop,sack 1:2 3:4 5:6>',
        '+0 > S 0:0(0) win 1 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0,FO 0102030405060708,eol,eol>',
        '+0 > S 0:0(0) win 1 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0,FO,eol,eol>',
        '+0 > S 0:0(0) win 1 <...>',
        '+0 < . 1:1(0) ack 1 win 1 <nop, nop, TS val 5 ecr 7!>',
        '+0 < S 0:0(0) win 1 <FOEXP abcd,nop,nop>',
      ].join('\n'),
    );
    const o = tcp(s, 0).options;
    assert.ok(Array.isArray(o));
    assert.deepEqual(
      o.map((x) => x.kind),
      ['mss', 'nop', 'wscale', 'sackOK', 'ts'],
    );
    const sack = (tcp(s, 1).options as { kind: string; blocks?: [number, number][] }[])[2];
    assert.deepEqual(sack?.blocks, [
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const fo = (tcp(s, 2).options as { kind: string; cookie?: Uint8Array }[]).find((x) => x.kind === 'fo');
    assert.deepEqual([...(fo?.cookie ?? [])], [1, 2, 3, 4, 5, 6, 7, 8]);
    const fo0 = (tcp(s, 3).options as { kind: string; cookie?: Uint8Array }[]).find((x) => x.kind === 'fo');
    assert.equal(fo0?.cookie?.length, 0);
    assert.equal(tcp(s, 4).options, 'nocheck');
    const ts = (tcp(s, 5).options as { kind: string; ecrAbsolute?: boolean }[]).find((x) => x.kind === 'ts');
    assert.equal(ts?.ecrAbsolute, true);
    assert.match(parseErr('0 > S 0:0(0) win 1 <mss 1460,sackOK,eol>').message, /multiple of 4/);
  });

  it('ip info: ECN marks, tos, ttl, hlim, flowlabel', () => {
    const s = parseScript(
      '0 < [ect0] S 0:0(0) win 1\n+0 > (tos 0x20) S 0:0(0) win 1\n+0 < (ttl 2) . 1:1(0) ack 1 win 1\n+0 > (hlim 64) R 0:0(0) win 0\n+0 > [ect01] . 1:1(0) ack 1\n+0 > [ce, flowlabel 0x1234] . 1:1(0) ack 1',
    );
    assert.equal(tcp(s, 0).ip?.ecn, 'ect0');
    assert.equal(tcp(s, 1).ip?.tos, 0x20);
    assert.equal(tcp(s, 2).ip?.ttl, 2);
    assert.equal(tcp(s, 3).ip?.hlim, 64);
    assert.equal(tcp(s, 4).ip?.ecn, 'ect01');
    assert.equal(tcp(s, 5).ip?.flowlabel, 0x1234);
  });

  it('explicit ports and NPLab /udp(sport > dport) encapsulation', () => {
    const s = parseScript('0 < 1234 > 80 S 0:0(0) win 1\n+0 > S 0:0(0) win 65535 <mss 1432,nop,wscale 6,sackOK,TS val 100 ecr 0>/udp(9811 > 1)');
    assert.deepEqual(tcp(s, 0).ports, { src: 1234, dst: 80 });
    assert.deepEqual(tcp(s, 1).udpEncap, { src: 9811, dst: 1 });
  });

  it('inbound TCP needs win; seq/len must agree', () => {
    const e = parseErr('0 close(3) = 0\n+0 < . 1:1(0) ack 1');
    assert.equal(e.line, 2);
    assert.match(e.message, /win/);
    const e2 = parseErr('0 < . 1:5(3) ack 1 win 1');
    assert.deepEqual([e2.line, e2.col], [1, 7]);
    assert.match(e2.message, /inconsistent/);
  });
});

describe('parser: UDP, ICMP and other packets', () => {
  it('udp lines', () => {
    const s = parseScript('0 < udp (10)\n+0 > udp 53 > 1053 (0)');
    const b0 = ev(s, 0).body;
    const b1 = ev(s, 1).body;
    assert.ok(b0.type === 'packet' && b1.type === 'packet');
    assert.equal((b0.packet as UdpPacket).len, 10);
    assert.deepEqual((b1.packet as UdpPacket).ports, { src: 53, dst: 1053 });
  });

  it('icmp lines: type, code, mtu, echoed seq / udp / encapsulated', () => {
    const s = parseScript(
      [
        '0 < icmp unreachable packet_filtered [4294967295:4294967295(0)]',
        '+0 <icmp packet_too_big mtu 1300 [1433:2865(1432)/udp(9811 > 1)]',
        '+0 < icmp unreachable port_unreachable [udp (20)]',
        '+0 < icmp echo_reply id 7',
        '+0 < icmp parameter_problem unknown_next_header [0:0(0)]',
      ].join('\n'),
    );
    const p = (i: number) => {
      const b = ev(s, i).body;
      if (b.type !== 'packet' || b.packet.proto !== 'icmp') throw new Error('icmp');
      return b.packet as IcmpPacket;
    };
    assert.deepEqual([p(0).icmpType, p(0).icmpCode], ['unreachable', 'packet_filtered']);
    assert.equal(p(0).echoed?.kind, 'tcp');
    assert.equal(p(1).mtu, 1300);
    assert.deepEqual(p(1).echoed?.kind === 'tcp' ? p(1).echoed : null, {
      kind: 'tcp',
      seq: (p(1).echoed as { seq: unknown }).seq,
      udpEncap: { src: 9811, dst: 1 },
    });
    assert.deepEqual(p(2).echoed, { kind: 'udp', len: 20 });
    assert.equal(p(3).id, 7);
    assert.equal(p(4).icmpCode, 'unknown_next_header');
  });

  it('SCTP and encapsulation prefixes parse as unsupported packets', () => {
    const s = parseScript('0 < sctp: INIT[flgs=0, tag=1, a_rwnd=1500, os=1, is=1, tsn=1]\n+0 < ipv4 1.1.1.1 > 2.2.2.2: S 0:0(0) win 1\n+0 close(3) = 0');
    const b = ev(s, 0).body;
    assert.ok(b.type === 'packet' && b.packet.proto === 'other');
    assert.equal(s.events.length, 3);
  });
});

describe('parser: system calls and expressions', () => {
  it('result, errno and the parenthesised note', () => {
    const s = parseScript('0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n+0 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)');
    const c = call(s, 0);
    assert.equal(c.name, 'connect');
    assert.deepEqual(c.result, { type: 'int', value: -1, raw: '-1', pos: c.result.pos });
    assert.equal(c.errno, 'EINPROGRESS');
    assert.equal(c.note, 'Operation now in progress');
    assert.equal(call(s, 1).note, 'flags O_RDWR');
  });

  it('expressions: ints, symbols, |, lists, strings, structs, function calls', () => {
    const s = parseScript(
      [
        '0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0',
        '+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0',
        '+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0',
        '+0 setsockopt(3, IPPROTO_TCP, TCP_FUNCTION_BLK, {function_set_name="rack", pcbcnt=0}, 36) = 0',
        '+0 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = 0',
        '+0 sendmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 100}], msg_flags=0}, 0) = 100',
        '+0 poll([{fd=3, events=POLLIN, revents=POLLOUT}], 1, 0) = 1',
        '+0 write(3, "abc" "def"..., 6) = 6',
      ].join('\n'),
    );
    const a = (i: number, j: number): Expr => call(s, i).args[j] as Expr;
    assert.equal(a(0, 2).type, 'binop');
    assert.equal(a(1, 3).type, 'list');
    const lin = a(2, 3);
    assert.ok(lin.type === 'struct');
    assert.deepEqual(
      lin.fields.map((f) => f.name),
      ['onoff', 'linger'],
    );
    const fb = a(3, 3);
    assert.ok(fb.type === 'struct' && fb.fields[0]?.value.type === 'string');
    const sa = a(4, 1);
    assert.ok(sa.type === 'struct' && sa.fields[1]?.value.type === 'call');
    const msg = a(5, 1);
    assert.ok(msg.type === 'struct');
    assert.equal(msg.fields[0]?.name, 'msg_name');
    assert.equal(msg.fields[1]?.param?.type, 'int');
    const str = a(7, 1);
    assert.ok(str.type === 'string');
    assert.deepEqual([str.value, str.ellipsis], ['abcdef', true]);
  });

  it('defines replace words (integers, strings, commands)', () => {
    const s = parseScript('--define=PORTFD=3\n--define=CMD=`true`\n0 close(PORTFD) = 0\n+0 CMD\n');
    assert.deepEqual(call(s, 0).args[0] && (call(s, 0).args[0] as { value: number }).value, 3);
    assert.equal(ev(s, 1).body.type, 'command');
  });

  it('errors carry the position of the offending token', () => {
    let e = parseErr('0 close(3) = 0\n+0 close(3 = 0');
    assert.deepEqual([e.line, e.col], [2, 12]);
    e = parseErr('0 close(3)');
    assert.match(e.message, /'= result'/);
    e = parseErr('0 close(3) = 0\n  +0 frob');
    assert.deepEqual([e.line, e.col], [2, 6]);
    e = parseErr('0 > S 0:0(0) win 1 <mss 1460,bogus 3,nop>');
    assert.deepEqual([e.line, e.col], [1, 30]);
    assert.match(e.message, /unknown TCP option 'bogus'/);
    e = parseErr('--mtu=1\n0 close(3) = 0\n--late=1');
    assert.equal(e.line, 3);
  });
});
