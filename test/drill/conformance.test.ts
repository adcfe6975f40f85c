/*
 * The conformance ratchet in CI: every script listed in conformance/passing.txt (the vendored
 * FreeBSD tcp-testsuite sample, see scripts/conformance.js) must still pass.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runFile } from '../../src/drill/suite.js';

const root = new URL('../../../', import.meta.url).pathname;
const suite = join(root, 'conformance', 'freebsd-tcp-testsuite');
const passing = readFileSync(join(root, 'conformance', 'passing.txt'), 'utf8')
  .split('\n')
  .filter(Boolean);

describe('FreeBSD conformance sample: scripts in conformance/passing.txt', () => {
  it('lists a substantial part of the sample', () => {
    assert.ok(passing.length >= 250, `only ${passing.length} scripts listed`);
  });
  for (const rel of passing) {
    it(rel, () => {
      const r = runFile(join(suite, rel), suite);
      assert.ok(r.verdict === 'PASS' || r.verdict === 'XFAIL', `${r.verdict} at line ${r.line}: ${r.message}`);
    });
  }
});
