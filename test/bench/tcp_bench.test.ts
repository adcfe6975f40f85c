/*
 * Smoke test for `bsdnet bench tcp` (bench/tcp.ts): the quick mode runs end to end and prints
 * one JSON object whose figures are positive numbers. No timing assertions: benchmarks are
 * scripts, not tests.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const BIN = fileURLToPath(new URL('../../../bin/bsdnet.js', import.meta.url));

const FIELDS = [
  'throughput_gbps',
  'node_loopback_gbps',
  'conns_per_s',
  'node_conns_per_s',
  'rr_median_us',
  'rr_p99_us',
  'node_rr_median_us',
  'idle_conn_heap_bytes_10k',
  'idle_conn_heap_bytes_100k',
];

describe('bench tcp --quick', () => {
  it('prints one JSON object with every figure a positive number', () => {
    const r = spawnSync(process.execPath, [BIN, 'bench', 'tcp', '--json', '--quick'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, BSDNET_BENCH_QUICK: '1' },
    });
    assert.equal(r.status, 0, `bench exited ${r.status ?? r.signal}: ${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'exactly one line on stdout');
    const res = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(res.bench, 'tcp');
    for (const f of FIELDS) {
      const v = res[f];
      assert.equal(typeof v, 'number', `${f} is a number (got ${JSON.stringify(v)})`);
      assert.ok(Number.isFinite(v as number) && (v as number) > 0, `${f} > 0 (got ${v})`);
    }
  });
});
