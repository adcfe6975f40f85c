/*
 * Tests for netisr dispatch (src/net/netisr.ts): direct, deferred and hybrid dispatch,
 * queue limits and drops, ordering, unregistering, and the net.isr.* sysctls.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Mbuf, m_byte, m_freem } from '../../src/mbuf/mbuf.js';
import { NETISR_DISPATCH_DEFERRED, NETISR_DISPATCH_DIRECT, NETISR_DISPATCH_HYBRID, type Netisr } from '../../src/net/netisr.js';
import { ENOBUFS, ENOENT } from '../../src/sys/errno.js';
import type { Vnet } from '../../src/vnet.js';
import { packet, vnets } from '../helpers/net.js';

const P = 13;

function setup(dispatch?: number, qlimit?: number): { V: Vnet; isr: Netisr; got: number[]; drain: () => number } {
  const { clock, V } = vnets(1);
  const v = V[0]!;
  const got: number[] = [];
  v.netisr.register({
    name: 't',
    proto: P,
    dispatch,
    qlimit,
    handler: (m: Mbuf) => {
      got.push(m_byte(m, 0));
      m_freem(m);
    },
  });
  return { V: v, isr: v.netisr, got, drain: () => clock.drain() };
}

function work(isr: Netisr) {
  return isr.workStats().find((w) => w.proto === P)!;
}

describe('netisr', () => {
  it('direct dispatch (the default policy) runs the handler on the caller’s stack', () => {
    const { V, isr, got } = setup();
    assert.equal(V.sysctl.get('net.isr.dispatch'), 'direct');
    assert.equal(isr.dispatch(P, packet(V, [1])), 0);
    assert.deepEqual(got, [1]);
    const w = work(isr);
    assert.deepEqual([w.dispatched, w.handled, w.queued, w.qdrops], [1, 1, 0, 0]);
  });

  it('deferred dispatch queues and runs from soft work, in order', () => {
    const { V, isr, got, drain } = setup();
    V.sysctl.set('net.isr.dispatch', 'deferred');
    for (let i = 1; i <= 5; i++) assert.equal(isr.dispatch(P, packet(V, [i])), 0);
    assert.deepEqual(got, []);
    assert.equal(work(isr).len, 5);
    drain();
    assert.deepEqual(got, [1, 2, 3, 4, 5]);
    const w = work(isr);
    assert.deepEqual([w.len, w.watermark, w.queued, w.handled, w.dispatched], [0, 5, 5, 5, 0]);
  });

  it('a per-protocol policy overrides the global one', () => {
    const { V, isr, got, drain } = setup(NETISR_DISPATCH_DEFERRED);
    isr.dispatch(P, packet(V, [1]));
    assert.deepEqual(got, []);
    drain();
    assert.deepEqual(got, [1]);
    const d = setup(NETISR_DISPATCH_DIRECT);
    d.V.sysctl.set('net.isr.dispatch', 'deferred');
    d.isr.dispatch(P, packet(d.V, [2]));
    assert.deepEqual(d.got, [2]);
  });

  it('a burst into a stalled queue drops exactly offered − qlimit, counted, and frees them', () => {
    const { V, isr, got, drain } = setup(NETISR_DISPATCH_DEFERRED, 10);
    const used0 = V.mbufs.zone_mbuf.stats().used;
    const errs: number[] = [];
    for (let i = 0; i < 25; i++) errs.push(isr.dispatch(P, packet(V, [i])));
    assert.equal(errs.filter((e) => e === 0).length, 10);
    assert.equal(errs.filter((e) => e === ENOBUFS).length, 15);
    assert.equal(work(isr).qdrops, 15);
    assert.equal(V.mbufs.zone_mbuf.stats().used - used0, 10, 'dropped packets were freed');
    drain();
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'tail drop: the first ten survive');
    assert.equal(V.mbufs.zone_mbuf.stats().used, used0);
  });

  it('queue() always queues, whatever the policy; setQlimit clamps', () => {
    const { V, isr, got, drain } = setup();
    isr.queue(P, packet(V, [7]));
    assert.deepEqual(got, []);
    drain();
    assert.deepEqual(got, [7]);
    isr.setQlimit(P, 0);
    assert.equal(isr.protoStats().find((p) => p.proto === P)?.qlimit, 1);
    isr.setQlimit(P, 1e9);
    assert.equal(isr.protoStats().find((p) => p.proto === P)?.qlimit, isr.maxqlimit);
  });

  it('hybrid dispatches directly when the queue is empty, and queues behind waiting packets', () => {
    const { V, isr, got, drain } = setup(NETISR_DISPATCH_HYBRID);
    isr.dispatch(P, packet(V, [1]));
    assert.deepEqual(got, [1]);
    isr.queue(P, packet(V, [2]));
    isr.dispatch(P, packet(V, [3]));
    assert.deepEqual(got, [1], 'queued behind packet 2');
    drain();
    assert.deepEqual(got, [1, 2, 3]);
    const w = work(isr);
    assert.deepEqual([w.hybrid_dispatched, w.dispatched, w.queued], [1, 1, 2]);
  });

  it('hybrid keeps order when a handler dispatches more while the queue is being drained', () => {
    const { clock, V } = vnets(1);
    const v = V[0]!;
    const got: number[] = [];
    v.netisr.register({
      name: 't',
      proto: P,
      dispatch: NETISR_DISPATCH_HYBRID,
      handler: (m: Mbuf) => {
        const b = m_byte(m, 0);
        got.push(b);
        m_freem(m);
        // Packet 1's processing produces packet 10 (like a reassembled datagram or a
        // looped-back reply): it must not overtake packet 2, still queued.
        if (b === 1) v.netisr.dispatch(P, packet(v, [10]));
      },
    });
    v.netisr.queue(P, packet(v, [1]));
    v.netisr.queue(P, packet(v, [2]));
    clock.drain();
    assert.deepEqual(got, [1, 2, 10]);
  });

  it('dispatch to an unregistered protocol frees the packet and returns ENOENT', () => {
    const { V, isr } = setup();
    const used = V.mbufs.zone_mbuf.stats().used;
    assert.equal(isr.dispatch(12, packet(V, [1])), ENOENT);
    assert.equal(isr.queue(12, packet(V, [1])), ENOENT);
    assert.equal(V.mbufs.zone_mbuf.stats().used, used);
  });

  it('unregister frees queued packets once, and a queue run already scheduled does nothing', () => {
    const { V, isr, got, drain } = setup(NETISR_DISPATCH_DEFERRED);
    const used = V.mbufs.zone_mbuf.stats().used;
    const frees = V.mbufs.zone_mbuf.stats().frees;
    isr.dispatch(P, packet(V, [1]));
    isr.dispatch(P, packet(V, [2]));
    isr.unregister(P);
    assert.equal(isr.isRegistered(P), false);
    drain();
    assert.deepEqual(got, [], 'the handler never sees freed packets');
    assert.equal(V.mbufs.zone_mbuf.stats().used, used);
    assert.equal(V.mbufs.zone_mbuf.stats().frees - frees, 2, 'each freed exactly once');
  });

  it('registration is checked', () => {
    const { isr } = setup();
    assert.throws(() => isr.register({ name: 'dup', proto: P, handler: () => {} }), /already registered/);
    assert.throws(() => isr.register({ name: 'bad', proto: 0, handler: () => {} }), /bad protocol/);
    assert.throws(() => isr.register({ name: 'bad', proto: 16, handler: () => {} }), /bad protocol/);
  });

  it('net.isr sysctls: policy names, limits, read-only values and statistics', () => {
    const { V, isr } = setup();
    const s = V.sysctl;
    for (const p of ['deferred', 'hybrid', 'direct']) {
      s.set('net.isr.dispatch', p);
      assert.equal(s.get('net.isr.dispatch'), p);
    }
    s.set('net.isr.dispatch', 'hybrid');
    assert.equal(isr.dispatchPolicy, NETISR_DISPATCH_HYBRID);
    assert.throws(() => s.set('net.isr.dispatch', 'sometimes'), { code: 'EINVAL' });
    assert.throws(() => s.set('net.isr.dispatch', 'default'), { code: 'EINVAL' });
    assert.equal(s.get('net.isr.dispatch'), 'hybrid');
    assert.equal(s.get('net.isr.defaultqlimit'), 256);
    s.set('net.isr.defaultqlimit', 64);
    isr.register({ name: 'later', proto: 12, handler: (m) => m_freem(m) });
    assert.equal(isr.protoStats().find((p) => p.proto === 12)?.qlimit, 64, 'new registrations use the default');
    assert.throws(() => s.set('net.isr.defaultqlimit', 0), { code: 'EINVAL' });
    assert.throws(() => s.set('net.isr.defaultqlimit', 10241), { code: 'EINVAL' });
    for (const [name, value] of [
      ['net.isr.maxthreads', 1],
      ['net.isr.numthreads', 1],
      ['net.isr.bindthreads', 0],
      ['net.isr.maxqlimit', 10240],
      ['net.isr.maxprot', 16],
    ] as const) {
      assert.equal(s.get(name), value);
      assert.throws(() => s.set(name, 2), { code: 'EPERM' });
    }
    const proto = s.get('net.isr.proto') as { name: string; proto: number }[];
    assert.ok(proto.some((p) => p.name === 't' && p.proto === P));
    const w = s.get('net.isr.work') as { proto: number; handled: number }[];
    assert.ok(w.some((x) => x.proto === P));
  });
});
