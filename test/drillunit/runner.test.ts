/*
 * Tests for the packetdrill runner (src/drill/runner.ts, suite.ts): hand-made scripts that
 * must pass, and scripts that must FAIL for the right reason — wrong packet, wrong timing,
 * wrong return value, wrong errno, missing packet, failing command, failing code block — so
 * the runner is shown able to fail; UNSUPPORTED naming the construct; ERROR with position;
 * .exfail handling; the parse of the whole FreeBSD sample suite.
 */

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseScript } from '../../src/drill/parser.js';
import { type RunResult, runScript } from '../../src/drill/runner.js';
import { runFile, summarise } from '../../src/drill/suite.js';

function run(text: string, opts: Parameters<typeof runScript>[1] = {}): RunResult {
  return runScript(parseScript(text), opts);
}

const UDP_HEAD = '--tolerance_usecs=10000\n0.000 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 connect(3, ..., ...) = 0\n';

describe('runner: passing scripts', () => {
  it('UDP send/receive with timing', () => {
    const r = run(`${UDP_HEAD}+0.1 send(3, ..., 20, 0) = 20\n+0 > udp (20)\n+0.2 < udp (4)\n+0 recv(3, ..., 10, 0) = 4\n+0 close(3) = 0\n`);
    assert.equal(r.verdict, 'PASS', r.message);
    assert.equal(r.virtualUsecs, 300000);
  });

  it('ICMP port unreachable reaches a connected UDP socket as ECONNREFUSED', () => {
    const r = run(
      `${UDP_HEAD}+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n+0 send(3, ..., 20, 0) = 20\n+0 > udp (20)\n+0.1 < icmp unreachable port_unreachable [udp (20)]\n+0 recv(3, ..., 10, 0) = -1 ECONNREFUSED (Connection refused)\n+0 close(3) = 0\n`,
    );
    assert.equal(r.verdict, 'PASS', `${r.message} ${r.details.join(' ')}`);
  });

  it('sysctl commands set the stack; #ifdef FreeBSD blocks run', () => {
    const r = run(
      '0 `sysctl -w net.inet.udp.checksum=1`\n#ifdef FreeBSD\n+0 `sysctl -w kern.ipc.maxsockbuf=2097152`\n#endif\n#ifdef STANDARD\n+0 `false`\n#endif\n',
    );
    assert.equal(r.verdict, 'PASS', r.message);
  });

  it('getsockopt/setsockopt values and SO_ERROR', () => {
    const r = run(
      '0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n+0 getsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], [4]) = 0\n+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], 4) = 0\n+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0\n+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n+0 setsockopt(3, IPPROTO_IP, IP_TOS, [IPTOS_DSCP_CS1], 4) = 0\n+0 getsockopt(3, IPPROTO_IP, IP_TOS, [32], [4]) = 0\n+0 close(3) = 0\n',
    );
    assert.equal(r.verdict, 'PASS', r.message);
  });

  it('outbound ip info is checked when written: (tos 0x20)', () => {
    const ok = run(`${UDP_HEAD}+0 setsockopt(3, IPPROTO_IP, IP_TOS, [IPTOS_DSCP_CS1], 4) = 0\n+0 send(3, ..., 1, 0) = 1\n+0 > (tos 0x20) udp (1)\n`);
    assert.equal(ok.verdict, 'PASS', ok.message);
    const bad = run(`${UDP_HEAD}+0 send(3, ..., 1, 0) = 1\n+0 > (tos 0x20) udp (1)\n`);
    assert.equal(bad.verdict, 'FAIL');
    assert.match(bad.message, /tos: expected: 32 .* actual: 0/);
  });

  it("other sockets' packets are skipped while sniffing", () => {
    const r = run(
      '0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 connect(3, {sa_family=AF_INET, sin_port=htons(9999), sin_addr=inet_addr("192.0.2.1")}, 16) = 0\n+0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 4\n+0 connect(4, ..., ...) = 0\n+0 send(3, ..., 10, 0) = 10\n+0 send(4, ..., 20, 0) = 20\n+0 > udp (20)\n',
    );
    assert.equal(r.verdict, 'PASS', r.message);
  });
});

describe('runner: failures name the cause', () => {
  it('wrong packet: field, expected and actual, line number', () => {
    const r = run(`${UDP_HEAD}+0 send(3, ..., 20, 0) = 20\n+0 > udp (21)\n`);
    assert.equal(r.verdict, 'FAIL');
    assert.equal(r.kind, 'packet');
    assert.equal(r.line, 5);
    assert.match(r.message, /udp_len: expected: 29 .* actual: 28/);
    assert.ok(r.details.some((d) => /script packet: .*> udp \(21\)/.test(d)));
    assert.ok(r.details.some((d) => /actual packet: .*> udp \(20\)/.test(d)));
  });

  it('wrong timing: early and late packets, tolerance shown', () => {
    const early = run(`${UDP_HEAD}+0 send(3, ..., 20, 0) = 20\n+0.5 > udp (20)\n`);
    assert.equal(early.verdict, 'FAIL');
    assert.equal(early.kind, 'timing');
    assert.match(early.message, /expected outbound packet at 0\.500000 sec but happened at 0\.000000 sec; tolerance 0\.025000 sec/);
    const within = run(`${UDP_HEAD}+0 send(3, ..., 20, 0) = 20\n+0.009 > udp (20)\n`);
    assert.equal(within.verdict, 'PASS', within.message);
  });

  it('wrong return value', () => {
    const r = run(`${UDP_HEAD}+0 < udp (10)\n+0 recv(3, ..., 100, 0) = 11\n`);
    assert.equal(r.verdict, 'FAIL');
    assert.equal(r.kind, 'syscall');
    assert.equal(r.line, 5);
    assert.match(r.message, /expected result 11 but got 10/);
  });

  it('wrong errno', () => {
    const r = run(`${UDP_HEAD}+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n+0 recv(3, ..., 100, 0) = -1 ECONNREFUSED (Connection refused)\n`);
    assert.equal(r.verdict, 'FAIL');
    assert.equal(r.kind, 'errno');
    assert.match(r.message, /expected errno ECONNREFUSED .* but got EAGAIN/);
  });

  it('a call that fails where success is expected reports the errno', () => {
    const r = run('0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 listen(3, 1) = 0\n');
    assert.equal(r.verdict, 'FAIL');
    assert.match(r.message, /expected result 0 but got -1 with errno EOPNOTSUPP/);
  });

  it('missing packet', () => {
    const r = run(`${UDP_HEAD}+0.1 > udp (5)\n`);
    assert.equal(r.verdict, 'FAIL');
    assert.equal(r.kind, 'no-packet');
    assert.equal(r.line, 4);
  });

  it('failing command (unknown sysctl) and failing grep', () => {
    const r = run('0 `sysctl -w net.no.such.knob=1`\n');
    assert.equal(r.verdict, 'FAIL');
    assert.equal(r.kind, 'command');
    assert.match(r.message, /unknown oid 'net.no.such.knob'/);
    const g = run('0 `echo hello | grep -c bye | grep 1`\n');
    assert.equal(g.verdict, 'FAIL');
  });

  it('code blocks need TCP_INFO on the socket under test', () => {
    const r = run('0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 %{ assert tcpi_state == TCPI_CLOSED }%\n');
    assert.equal(r.verdict, 'FAIL');
    assert.equal(r.kind, 'code');
    assert.equal(r.line, 2);
  });

  it('non_fatal=syscall turns syscall mismatches into warnings', () => {
    const r = run(`--non_fatal=syscall\n${UDP_HEAD}+0 < udp (10)\n+0 recv(3, ..., 100, 0) = 11\n`);
    assert.equal(r.verdict, 'PASS', r.message);
    assert.equal(r.warnings.length, 1);
  });

  it('time going backwards and a non-zero first event are errors', () => {
    const back = run('0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n0.5 fcntl(3, F_GETFL) = 0x02\n0.2 close(3) = 0\n');
    assert.equal(back.verdict, 'ERROR');
    assert.equal(back.line, 3);
    assert.match(back.message, /time goes backward/);
    assert.equal(run('1 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n').verdict, 'ERROR');
  });
});

describe('runner: UNSUPPORTED names the construct', () => {
  const cases: [string, RegExp][] = [
    ['--tcp_md5_secret=foo\n0 close(3) = 0\n', /--tcp_md5_secret/],
    ['--udp_encapsulation=sctp\n0 close(3) = 0\n', /udp_encapsulation=sctp/],
    ['0 epoll_create(1) = 3\n', /epoll_create/],
    ['0 `kldload tcpmd5`\n', /kldload/],
    ['0 < sctp: DATA[flgs=0, len=20, tsn=1, sid=0, ssn=0, ppid=0]\n', /sctp/],
    ['0 setsockopt(3, SOL_SOCKET, SO_NO_SUCH, [1], 4) = 0\n', /SO_NO_SUCH/],
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ if tcpi_state: pass }%\n', /code block.*'if'/],
    ['0 > icmp echo_request\n', /outbound ICMP/],
  ];
  for (const [text, re] of cases) {
    it(re.source, () => {
      const r = run(text);
      assert.equal(r.verdict, 'UNSUPPORTED');
      assert.match(r.message, re);
      assert.equal(r.line !== null, true);
    });
  }
});

describe('suite: files, .exfail, summaries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drill-'));
  writeFileSync(join(dir, 'ok.pkt'), '0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 close(3) = 0\n');
  writeFileSync(join(dir, 'bad.pkt'), '0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 4\n+0 close(3) = 0\n');
  writeFileSync(join(dir, 'known.pkt'), '0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 close(4) = 0\n');
  writeFileSync(join(dir, 'known.exfail'), 'Bug.\n');
  writeFileSync(join(dir, 'syntax.pkt'), '0 close(3) = 0\n+0 close(3 = 0\n');
  it('verdicts', () => {
    const ok = runFile(join(dir, 'ok.pkt'), dir);
    assert.equal(ok.verdict, 'PASS');
    assert.equal(runFile(join(dir, 'bad.pkt'), dir).verdict, 'FAIL');
    assert.equal(runFile(join(dir, 'known.pkt'), dir).verdict, 'XFAIL');
    const syn = runFile(join(dir, 'syntax.pkt'), dir);
    assert.equal(syn.verdict, 'ERROR');
    assert.deepEqual([syn.line, syn.col], [2, 12]);
    const s = summarise([ok, runFile(join(dir, 'bad.pkt'), dir), runFile(join(dir, 'known.pkt'), dir), syn]);
    assert.equal(s.passed, 2);
    assert.equal(s.failed, 2);
  });
});

describe('the FreeBSD sample suite', () => {
  // The sample is vendored in conformance/ (see scripts/conformance.js), so this always runs.
  const root = new URL('../../../conformance/freebsd-tcp-testsuite/', import.meta.url).pathname;
  it('every sample script parses (zero ERRORs)', () => {
    assert.ok(existsSync(root), root);
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (n.endsWith('.pkt')) files.push(p);
      }
    };
    walk(root);
    assert.ok(files.length >= 300, `found ${files.length} scripts`);
    const errors: string[] = [];
    for (const f of files) {
      try {
        parseScript(readFileSync(f, 'utf8'));
      } catch (e) {
        errors.push(`${f}: ${(e as Error).message}`);
      }
    }
    assert.deepEqual(errors, []);
  });
});
