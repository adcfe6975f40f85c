/*
 * bsdnet's own packetdrill scripts: every `.pkt` under test/drill/ (folders by area:
 * handshake, data, close, retransmit, sack, timers, options, errors, udp) must PASS
 * against the stack (an `.exfail` beside a script marks a known failure: XFAIL).
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { collectScripts, formatResult, isPassed, runFile } from '../../src/drill/suite.js';

// Compiled to dist/test/drill/; the scripts stay in the source tree.
const root = new URL('../../../test/drill/', import.meta.url).pathname;

describe('packetdrill scripts (test/drill)', () => {
  const files = existsSync(root) ? collectScripts([root]) : [];
  it('found the scripts', () => {
    assert.ok(files.length > 0, `no .pkt files under ${root}`);
  });
  for (const { file, root: r } of files) {
    it(file.slice(root.length), () => {
      const res = runFile(file, r);
      assert.ok(isPassed(res.verdict), [formatResult(res), ...res.details].join('\n    '));
    });
  }
});
