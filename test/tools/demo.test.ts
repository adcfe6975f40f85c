/*
 * The demo (`npm start` = `bsdnet demo`), run as a newcomer runs it but smaller: a 1 MiB
 * download over node:http through the router. Its output must show the download, the tools'
 * views of the stacks, and the files it wrote — which must exist: a pcap that parses (and
 * that tshark reads, if installed), a black-box log dump, and an SVG plot.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parsePcap } from '../../src/net/pcap.js';
import type { TcpLogDump } from '../../src/netinet/tcp_log_buf.js';
import { bsdnet, haveTshark, tmpDir } from './helpers.js';

describe('bsdnet demo', () => {
  it('downloads over node:http through the router, shows netstat, and writes a pcap, a black-box log and a plot', { timeout: 90_000 }, async () => {
    const tmp = tmpDir();
    try {
      const out = join(tmp.dir, 'out');
      const r = await bsdnet(['demo', '--size', '1', '--out', out], { timeoutMs: 80_000 });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.equal(r.stderr, '', 'nothing on stderr (vega warnings included)');
      const o = r.stdout;
      assert.match(o, /^bsdnet demo: three TCP\/IP stacks in one Node\.js process\n/);
      assert.match(o, /\[#{30}\] 100% {2}1\.0 MiB \/ 1\.0 MiB/);
      assert.match(o, /done: 1\.0 MiB in \d+\.\d\d s = \d+\.\d Mbit\/s \(HTTP 200\)/);
      assert.match(o, /\n {4}tcp4 +0 +0 10\.2\.0\.2\.80 +\*\.\* +LISTEN\n/);
      assert.match(o, /\n {4}tcp4 +\d+ +\d+ 10\.2\.0\.2\.80 +10\.1\.0\.2\.\d+ +ESTABLISHED\n/);
      assert.match(o, /\n {4}tcp4 +0 +0 10\.2\.0\.2\.80 +10\.1\.0\.2\.\d+ +TIME_WAIT\n/);
      assert.match(o, /\n {4}tcp:\n {4}\t\d+ packets sent\n/);
      assert.match(o, /Vestigial TIME_WAIT entries \(inet\):\n.*\n {4}tcp4 +10\.2\.0\.2\.80 +10\.1\.0\.2\.\d+ +remote/);
      const pcap = join(out, 'client.pcap');
      const log = join(out, 'server-bblog.json');
      const svg = join(out, 'cwnd-rtt.svg');
      for (const f of [pcap, log, svg]) {
        assert.ok(o.includes(`\n  ${f}\n`), `the output names ${f}`);
        assert.ok(existsSync(f), f);
      }
      const cap = parsePcap(new Uint8Array(readFileSync(pcap)));
      assert.equal(cap.linktype, 1);
      const n = Number(/(\d+) packets captured on the client's interface/.exec(o)?.[1]);
      assert.equal(cap.records.length, n);
      assert.ok(n > 700, `${n} packets for 1 MiB`);
      if (haveTshark()) {
        const t = spawnSync('tshark', ['-r', pcap, '-Y', 'http.response.code == 200'], { encoding: 'utf8' });
        assert.equal(t.status, 0, t.stderr);
        assert.match(t.stdout, /HTTP\/1\.1 200 OK/);
      }
      const dump = JSON.parse(readFileSync(log, 'utf8')) as TcpLogDump;
      assert.equal(dump.stack, 'server');
      assert.ok(dump.sessions.length >= 2);
      assert.match(readFileSync(svg, 'utf8'), /^<svg[^>]*>.*congestion window/s);
    } finally {
      tmp.cleanup();
    }
  });

  it('rejects bad options with the usage and status 2', async () => {
    const r = await bsdnet(['demo', '--size', '0']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--size 0: out of range\nusage: bsdnet demo/);
  });
});
