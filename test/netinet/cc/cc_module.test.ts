/*
 * Registration of the built-in algorithms (src/netinet/cc/cc_module.ts): newreno and cubic in
 * the Vnet's registry, cubic the default as in FreeBSD 14, selectable through
 * net.inet.tcp.cc.algorithm, and safe to register twice.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../../src/kern/clock.js';
import { CcVars } from '../../../src/netinet/cc/cc.js';
import { cubic } from '../../../src/netinet/cc/cc_cubic.js';
import { BUILTIN_CC_ALGORITHMS, registerCcAlgorithms } from '../../../src/netinet/cc/cc_module.js';
import { newreno } from '../../../src/netinet/cc/cc_newreno.js';
import { TcpVars } from '../../../src/netinet/tcp_var.js';
import { Vnet } from '../../../src/vnet.js';

/** A Vnet with TCP's and CC's per-Vnet state, attached as the stack will attach them. */
function vnet(): { V: Vnet; cc: CcVars } {
  const V = new Vnet({ clock: new VirtualClock(), seed: 1, loopback: false });
  const ext = V as unknown as { tcp?: TcpVars; cc?: CcVars };
  if (ext.tcp === undefined) ext.tcp = new TcpVars(V);
  if (ext.cc === undefined) ext.cc = new CcVars(V);
  return { V, cc: ext.cc };
}

describe('registerCcAlgorithms', () => {
  it('registers newreno and cubic and makes cubic the default', () => {
    const { V, cc } = vnet();
    registerCcAlgorithms(V);
    assert.deepEqual(BUILTIN_CC_ALGORITHMS, [newreno, cubic]);
    assert.equal(cc.get('newreno'), newreno);
    assert.equal(cc.get('cubic'), cubic);
    assert.equal(cc.default, cubic);
    assert.equal(V.sysctl.get('net.inet.tcp.cc.algorithm'), 'cubic');
    assert.equal(V.sysctl.get('net.inet.tcp.cc.available'), 'newreno, cubic');
  });

  it('lets net.inet.tcp.cc.algorithm choose among them, and refuses unknown names', () => {
    const { V, cc } = vnet();
    registerCcAlgorithms(V);
    V.sysctl.set('net.inet.tcp.cc.algorithm', 'newreno');
    assert.equal(cc.default, newreno);
    assert.throws(() => V.sysctl.set('net.inet.tcp.cc.algorithm', 'bbr'));
    assert.equal(cc.default, newreno);
  });

  it('can run twice without error and without undoing the administrator’s choice', () => {
    const { V, cc } = vnet();
    registerCcAlgorithms(V);
    V.sysctl.set('net.inet.tcp.cc.algorithm', 'newreno');
    registerCcAlgorithms(V);
    assert.equal(cc.default, newreno);
    assert.deepEqual(cc.names(), ['newreno', 'cubic']);
  });

  it('keeps instances apart: tunables are per Vnet', () => {
    const a = vnet();
    const b = vnet();
    registerCcAlgorithms(a.V);
    registerCcAlgorithms(b.V);
    a.V.sysctl.set('net.inet.tcp.cc.hystartplusplus.css_rounds', 9);
    assert.equal(b.V.sysctl.get('net.inet.tcp.cc.hystartplusplus.css_rounds'), 5);
    assert.notEqual(a.cc.hystart, b.cc.hystart);
  });
});
