/*
 * HTTP between bsdnet and Linux across a TUN device.
 *  - `bsdnet tun --serve-http --echo` (the CLI, in its own process) with Linux `curl` as the
 *    client over IPv4 and IPv6: GET /bytes/N checked by SHA-256 against payloadSha256, a
 *    POST upload hashed by bsdnet's server, and the TCP echo through socat.
 *  - bsdnet's HTTP client (node:http with createConnection → stack.net.connect) fetching a
 *    file from Linux's `python3 -m http.server`, over IPv4 and IPv6, checked by SHA-256.
 */

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { payloadSha256 } from '../../src/cli/tun.js';
import { BSD4, BSD6, LINUX4, LINUX6, Netns, TunLab, tcpSkip, waitOutput, within } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/bsdnet.js', import.meta.url));
const MiB = 1 << 20;

describe('tun: HTTP with Linux', { skip: tcpSkip('curl', 'socat', 'python3') }, () => {
  it('curl (Linux) ↔ bsdnet tun --serve-http/--echo, IPv4 and IPv6', { timeout: 120_000 }, async () => {
    const ns = new Netns();
    const cli = ns.spawn(process.execPath, [
      BIN,
      'tun',
      '--name',
      'bh0',
      '--netns',
      ns.name,
      '--addr',
      `${BSD4}/24`,
      '--addr6',
      `${BSD6}/64`,
      '--gw',
      LINUX4,
      '--gw6',
      LINUX6,
      '--configure-host',
      '--serve-http',
      '80',
      '--echo',
      '7',
    ]);
    try {
      await waitOutput(cli, 'ready (Ctrl-C to stop)', 15_000);
      const index = await ns.exec('curl', ['-sS', '-m', '10', `http://${BSD4}/`]);
      assert.equal(index.code, 0, index.stderr);
      assert.match(index.stdout, /GET \/bytes\/N/);
      const n = 64 * MiB;
      const want = payloadSha256(n);
      for (const url of [`http://${BSD4}/bytes/${n}`, `http://[${BSD6}]/bytes/${n}`]) {
        const r = await ns.exec('sh', ['-c', `curl -sS -m 60 -g '${url}' | sha256sum`], { timeoutMs: 70_000 });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.split(' ')[0], want, `SHA-256 of ${url}`);
      }
      // Upload: Linux curl POSTs 32 MiB; bsdnet's server answers the SHA-256 it received.
      const up = randomBytes(32 * MiB);
      const upSha = createHash('sha256').update(up).digest('hex');
      for (const host of [BSD4, `[${BSD6}]`]) {
        const r = await ns.exec('curl', ['-sS', '-m', '60', '-g', '-H', 'Expect:', '--data-binary', '@-', `http://${host}/sha256`], {
          input: up,
          timeoutMs: 70_000,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), `${upSha} ${up.length}`, `upload to ${host}`);
      }
      // TCP echo (RFC 862) through socat, both families.
      const msg = randomBytes(256 * 1024);
      for (const target of [`TCP4:${BSD4}:7`, `TCP6:[${BSD6}]:7`]) {
        const r = await ns.exec('socat', ['-t', '5', '-T', '10', '-', target], { input: msg, timeoutMs: 20_000 });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(Buffer.from(r.stdout, 'latin1').equals(msg), `echo through ${target}`);
      }
    } finally {
      if (cli.exitCode === null) {
        const exited = new Promise<void>((r) => cli.once('exit', () => r()));
        cli.kill('SIGINT');
        await within(10_000, exited, 'bsdnet tun exit').catch(() => cli.kill('SIGKILL'));
      }
      ns.close();
    }
  });

  for (const family of [4, 6] as const) {
    it(`bsdnet node:http client ← Linux python3 -m http.server, IPv${family}`, { timeout: 60_000 }, async () => {
      const lab = new TunLab({ routes: true });
      const dir = mkdtempSync(join(tmpdir(), 'bsdnet-http-'));
      try {
        const body = randomBytes(16 * MiB);
        writeFileSync(join(dir, 'blob'), body);
        const linux = family === 4 ? LINUX4 : LINUX6;
        const py = lab.ns.spawn('python3', ['-u', '-m', 'http.server', '8000', '--bind', linux, '--directory', dir]);
        await waitOutput(py, 'Serving HTTP', 10_000);
        const stack = lab.stack;
        const res = await within(
          40_000,
          new Promise<{ status: number; sha: string; len: number }>((resolve, reject) => {
            const req = http.request(
              {
                host: linux,
                port: 8000,
                path: '/blob',
                createConnection: () => stack.net.connect({ port: 8000, host: linux }),
              },
              (r) => {
                const h = createHash('sha256');
                let len = 0;
                r.on('data', (d: Buffer) => {
                  h.update(d);
                  len += d.length;
                });
                r.on('end', () => resolve({ status: r.statusCode ?? 0, sha: h.digest('hex'), len }));
                r.on('error', reject);
              },
            );
            req.on('error', reject);
            req.end();
          }),
          'HTTP GET from Linux',
        );
        assert.equal(res.status, 200);
        assert.equal(res.len, body.length);
        assert.equal(res.sha, createHash('sha256').update(body).digest('hex'));
      } finally {
        lab.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
