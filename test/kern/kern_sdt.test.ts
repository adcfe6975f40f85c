/*
 * Tests for trace probes (src/kern/kern_sdt.ts): disabled probes cost a field load, DTrace
 * pattern matching, late declaration, unsubscribe, and throwing listeners.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Probe, Trace } from '../../src/kern/kern_sdt.js';

function probes(t: Trace) {
  return {
    state: t.probe('tcp', 'kernel', 'tcp_state_change', 'state-change'),
    tcpSend: t.probe('tcp', 'kernel', 'tcp_output', 'send'),
    tcpRecv: t.probe('tcp', 'kernel', 'tcp_input', 'receive'),
    udpSend: t.probe('udp', 'kernel', 'udp_send', 'send'),
    ipSend: t.probe('ip', 'kernel', 'ip_output', 'send'),
  };
}

function enabledIds(t: Trace): string[] {
  return t
    .list()
    .filter((p) => p.enabled)
    .map((p) => p.id)
    .sort();
}

describe('trace probes', () => {
  it('probes nobody listens to are disabled; fire() on them is harmless', () => {
    const t = new Trace();
    const p = probes(t);
    for (const x of Object.values(p)) assert.equal(x.enabled, false);
    p.state.fire(1, 2, 3);
    assert.equal(t.probe('tcp', 'kernel', 'tcp_state_change', 'state-change'), p.state, 'declaring again returns the same probe');
    assert.equal(p.state.id, 'tcp:kernel:tcp_state_change:state-change');
  });

  it('subscribing with a full pattern enables exactly the matching probes and delivers the arguments', () => {
    const t = new Trace();
    const p = probes(t);
    const got: [string, readonly unknown[]][] = [];
    t.subscribe('tcp:::state-change', (probe, args) => got.push([probe.name, args]));
    assert.deepEqual(enabledIds(t), ['tcp:kernel:tcp_state_change:state-change']);
    if (p.state.enabled) p.state.fire('tp', 1, 4);
    if (p.tcpSend.enabled) p.tcpSend.fire('x');
    assert.deepEqual(got, [['state-change', ['tp', 1, 4]]]);
  });

  for (const [pattern, want] of [
    ['tcp:::', ['tcp:kernel:tcp_input:receive', 'tcp:kernel:tcp_output:send', 'tcp:kernel:tcp_state_change:state-change']],
    // Fewer than four fields name the rightmost ones, as in dtrace -n: 'send' is a probe name.
    ['send', ['ip:kernel:ip_output:send', 'tcp:kernel:tcp_output:send', 'udp:kernel:udp_send:send']],
    ['tcp_output:send', ['tcp:kernel:tcp_output:send']],
    ['tcp', []],
    [':::send', ['ip:kernel:ip_output:send', 'tcp:kernel:tcp_output:send', 'udp:kernel:udp_send:send']],
    ['tcp:*:*:send', ['tcp:kernel:tcp_output:send']],
    ['*:kernel:*_send:', ['udp:kernel:udp_send:send']],
    ['t*p:::*e', ['tcp:kernel:tcp_input:receive', 'tcp:kernel:tcp_state_change:state-change']],
    [
      '::',
      [
        'ip:kernel:ip_output:send',
        'tcp:kernel:tcp_input:receive',
        'tcp:kernel:tcp_output:send',
        'tcp:kernel:tcp_state_change:state-change',
        'udp:kernel:udp_send:send',
      ],
    ],
    ['tcp:kernel:tcp_output:receive', []],
    ['tc:::', []],
    ['ip.:::', []],
  ] as const) {
    it(`pattern '${pattern}' matches ${want.length} probes`, () => {
      const t = new Trace();
      probes(t);
      t.subscribe(pattern, () => {});
      assert.deepEqual(enabledIds(t), [...want]);
    });
  }

  it('a pattern with more than four fields is refused', () => {
    const t = new Trace();
    assert.throws(() => t.subscribe('a:b:c:d:e', () => {}), /bad probe pattern/);
  });

  it('probes declared after subscribe are enabled and delivered', () => {
    const t = new Trace();
    const got: string[] = [];
    t.subscribe('tcp:::', (p) => got.push(p.name));
    const late = t.probe('tcp', 'kernel', 'tcp_timer', 'timer');
    const other = t.probe('udp', 'kernel', 'udp_input', 'receive');
    assert.equal(late.enabled, true);
    assert.equal(other.enabled, false);
    late.fire();
    assert.deepEqual(got, ['timer']);
  });

  it('unsubscribe disables probes no other subscription needs', () => {
    const t = new Trace();
    const p = probes(t);
    const a: string[] = [];
    const b: string[] = [];
    const offA = t.subscribe('tcp:::', (x) => a.push(x.name));
    const offB = t.subscribe(':::send', (x) => b.push(x.name));
    offA();
    assert.equal(p.state.enabled, false);
    assert.equal(p.tcpSend.enabled, true, 'still wanted by the second subscription');
    p.tcpSend.fire();
    assert.deepEqual([a, b], [[], ['send']]);
    offB();
    assert.deepEqual(enabledIds(t), []);
    offB(); // idempotent
  });

  it('one listener under two patterns: removing one subscription keeps the other', () => {
    const t = new Trace();
    const p = probes(t);
    const got: string[] = [];
    const l = (x: Probe): void => {
      got.push(x.id);
    };
    const offTcp = t.subscribe('tcp:::', l);
    t.subscribe('udp:::', l);
    t.subscribe(':::send', l); // overlaps tcp_output:send: delivered once, not twice
    p.tcpSend.fire();
    assert.deepEqual(got, ['tcp:kernel:tcp_output:send']);
    offTcp();
    assert.equal(p.udpSend.enabled, true);
    assert.equal(p.tcpSend.enabled, true, 'still matched by :::send');
    assert.equal(p.state.enabled, false);
    p.udpSend.fire();
    p.tcpSend.fire();
    p.state.fire();
    assert.deepEqual(got, ['tcp:kernel:tcp_output:send', 'udp:kernel:udp_send:send', 'tcp:kernel:tcp_output:send']);
  });

  it('a throwing listener is removed and counted; the others still run', () => {
    const t = new Trace();
    const p = probes(t);
    const got: string[] = [];
    t.subscribe('tcp:::', () => {
      throw new Error('bad listener');
    });
    t.subscribe('tcp:::', (x) => got.push(x.name));
    assert.doesNotThrow(() => p.tcpSend.fire());
    assert.equal(t.listenerErrors, 1);
    assert.deepEqual(got, ['send']);
    p.tcpSend.fire();
    p.state.fire();
    assert.equal(t.listenerErrors, 1, 'removed after the first throw');
    assert.deepEqual(got, ['send', 'send', 'state-change']);
    assert.equal(p.tcpSend.listeners.length, 1);
    const late = t.probe('tcp', 'kernel', 'x', 'y');
    assert.equal(late.listeners.length, 1, 'the removed listener is not attached to later probes');
  });
});
