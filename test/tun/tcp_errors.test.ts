/*
 * TCP errors against the Linux kernel across a TUN device, as Node error codes on bsdnet's
 * node:net-style sockets:
 *  - connection refused: Linux answers a SYN to a closed port with RST (RFC 9293 §3.10.7.1);
 *    bsdnet's connect fails with ECONNREFUSED (FreeBSD tcp_input: RST in SYN-SENT).
 *  - peer reset: Linux closes with SO_LINGER {1, 0}, which sends RST (RFC 9293 §3.10.4
 *    ABORT); bsdnet's established socket fails with ECONNRESET.
 *  - keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6): with setKeepAlive(true, 1000) and
 *    net.inet.tcp.keepintvl 1 s / keepcnt 3, Linux answers bsdnet's probes and the idle
 *    connection lives on; Linux's own keepalive probes (1 s) are answered by bsdnet. Once
 *    Linux is unreachable (nftables drops everything on the device) the probes go
 *    unanswered and bsdnet's socket fails with ETIMEDOUT.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import type { Socket } from '../../src/api/net.js';
import { finished, LINUX4, LINUX6, sleep, TUNNAME, TunLab, tcpSkip, waitOutput, within } from './helpers.js';

type NodeErr = Error & { code?: string };

function errorOf(sock: Socket, ms: number, what: string): Promise<NodeErr> {
  return within(ms, new Promise<NodeErr>((resolve) => sock.once('error', (e: NodeErr) => resolve(e))), what);
}

describe('tun: TCP errors against Linux', { skip: tcpSkip('python3', 'nft') }, () => {
  for (const family of [4, 6] as const) {
    it(`connection refused (IPv${family}): ECONNREFUSED`, { timeout: 30_000 }, async () => {
      const lab = new TunLab({ routes: true });
      try {
        const sock = lab.stack.net.connect({ port: 9, host: family === 4 ? LINUX4 : LINUX6 });
        const e = await errorOf(sock, 10_000, 'connect error');
        assert.equal(e.code, 'ECONNREFUSED', e.message);
        assert.equal(lab.V.tcp.stat.tcps_connattempt > 0, true);
      } finally {
        lab.close();
      }
    });
  }

  it('peer reset (Linux SO_LINGER 0 close): ECONNRESET', { timeout: 30_000 }, async () => {
    const lab = new TunLab({ routes: true });
    try {
      const py = lab.ns.spawn('python3', [
        '-c',
        [
          'import socket, struct',
          's = socket.socket()',
          's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
          `s.bind((${JSON.stringify(LINUX4)}, 7001))`,
          's.listen(1)',
          "print('ready', flush=True)",
          'c, a = s.accept()',
          'd = c.recv(100)',
          "c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))",
          'c.close()',
          "print('reset', len(d), flush=True)",
        ].join('\n'),
      ]);
      await waitOutput(py, 'ready');
      const done = finished(py, 10_000, 'python3 resetter');
      const sock = lab.stack.net.connect({ port: 7001, host: LINUX4 });
      await within(5000, once(sock, 'connect'), 'connect');
      const err = errorOf(sock, 10_000, 'reset error');
      sock.write('hello');
      assert.match(await done, /reset 5/);
      const e = await err;
      assert.equal(e.code, 'ECONNRESET', e.message);
      assert.ok(lab.V.tcp.stat.tcps_drops > 0 || lab.V.tcp.stat.tcps_closed > 0);
    } finally {
      lab.close();
    }
  });

  it('keepalive: Linux answers probes, then Linux unreachable → ETIMEDOUT', { timeout: 60_000 }, async () => {
    const lab = new TunLab({ routes: true });
    try {
      // Linux also probes (idle 1 s, interval 1 s, 2 probes): it keeps the connection only if
      // bsdnet answers them (RFC 1122 §4.2.3.6: a probe is answered with an ACK).
      const py = lab.ns.spawn('python3', [
        '-c',
        [
          'import socket, time',
          's = socket.socket()',
          's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
          `s.bind((${JSON.stringify(LINUX4)}, 7002))`,
          's.listen(1)',
          "print('ready', flush=True)",
          'c, a = s.accept()',
          'c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)',
          'c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)',
          'c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)',
          'c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)',
          'time.sleep(6)',
          "print('alive', c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), flush=True)",
          'time.sleep(30)',
        ].join('\n'),
      ]);
      await waitOutput(py, 'ready');
      lab.stack.sysctlSet('net.inet.tcp.keepintvl', 1000);
      lab.stack.sysctlSet('net.inet.tcp.keepcnt', 3);
      const sock = lab.stack.net.connect({ port: 7002, host: LINUX4 });
      await within(5000, once(sock, 'connect'), 'connect');
      sock.setKeepAlive(true, 1000);
      const errors: NodeErr[] = [];
      sock.on('error', (e: NodeErr) => errors.push(e));
      const st = lab.V.tcp.stat;
      const probes0 = st.tcps_keepprobe;
      // Idle for 6 s: bsdnet probes every second after 1 s idle; with keepcnt 3 it would
      // drop the connection after 4 s if Linux did not answer.
      const alive = await waitOutput(py, 'alive', 15_000);
      assert.match(alive, /alive 0/, 'Linux kept the connection: bsdnet answered its probes');
      assert.ok(st.tcps_keepprobe - probes0 >= 3, `bsdnet sent keepalive probes (${st.tcps_keepprobe - probes0})`);
      assert.equal(errors.length, 0, `no error while Linux answers: ${errors.map((e) => e.code).join(',')}`);
      assert.ok(!sock.destroyed);
      // Now Linux goes silent: everything on its side of the device is dropped.
      execFileSync('ip', ['netns', 'exec', lab.ns.name, 'nft', '-f', '-'], {
        input: `table inet blackhole {\n  chain in {\n    type filter hook input priority -10; policy accept;\n    iifname "${TUNNAME}" drop\n  }\n  chain out {\n    type filter hook output priority -10; policy accept;\n    oifname "${TUNNAME}" drop\n  }\n}\n`,
      });
      const drops0 = st.tcps_keepdrops;
      const t0 = Date.now();
      assert.ok(
        await within(
          15_000,
          (async () => {
            while (errors.length === 0) await sleep(50);
            return true;
          })(),
          'keepalive timeout',
        ),
      );
      const took = Date.now() - t0;
      assert.equal(errors[0]?.code, 'ETIMEDOUT', errors[0]?.message);
      assert.equal(st.tcps_keepdrops - drops0, 1);
      // keepidle 1 s + keepcnt 3 × keepintvl 1 s after the last answered probe.
      assert.ok(took <= 6000, `dropped within keepidle + keepcnt·keepintvl (${took} ms)`);
    } finally {
      lab.close();
    }
  });
});
