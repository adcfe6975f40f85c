/*
 * Tests for the interface list (src/net/if.ts): attach, detach, lookup, unit allocation,
 * hooks, and link-address formatting.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BpfTap } from '../../src/net/bpf.js';
import { ether_aton, ether_sprintf, IFF_DRV_RUNNING, IFF_UP, Ifnet } from '../../src/net/if.js';
import { vnets } from '../helpers/net.js';

describe('IfnetList', () => {
  it('attach assigns increasing indexes; byname/byindex/all find interfaces', () => {
    const { V } = vnets(1, { loopback: true });
    const v = V[0]!;
    const lo = v.ifnet.byname('lo0') as Ifnet;
    assert.equal(lo.if_index, 1);
    const a = new Ifnet(v, 'em', 0);
    const b = new Ifnet(v, 'em', 1);
    v.ifnet.attach(a);
    v.ifnet.attach(b);
    assert.deepEqual([a.if_index, b.if_index], [2, 3]);
    assert.equal(v.ifnet.byname('em1'), b);
    assert.equal(v.ifnet.byindex(2), a);
    assert.equal(v.ifnet.byindex(0), undefined);
    assert.equal(v.ifnet.byindex(99), undefined);
    assert.equal(v.ifnet.has('em0'), true);
    assert.deepEqual(
      v.ifnet.all().map((i) => i.if_xname),
      ['lo0', 'em0', 'em1'],
    );
    assert.throws(() => v.ifnet.attach(new Ifnet(v, 'em', 0)), /exists/);
  });

  it('detach runs protocol hooks, then the driver hook, marks the interface dead and drops its taps', () => {
    const { V } = vnets(1);
    const v = V[0]!;
    const log: string[] = [];
    v.ifnet.attachHooks.push((i) => log.push(`attach ${i.if_xname}`));
    v.ifnet.detachHooks.push((i) => log.push(`proto-detach ${i.if_xname} up=${i.up}`));
    const a = new Ifnet(v, 'em', 0);
    a.if_flags |= IFF_UP | IFF_DRV_RUNNING;
    a.if_detachfn = (i) => log.push(`driver-detach ${i.if_xname}`);
    v.ifnet.attach(a);
    const tap = new BpfTap(a, () => {});
    assert.equal(a.if_bpf.length, 1);
    v.ifnet.detach(a);
    assert.deepEqual(log, ['attach em0', 'proto-detach em0 up=true', 'driver-detach em0']);
    assert.equal(a.if_dead, true);
    assert.equal(a.up, false);
    assert.equal(a.if_bpf.length, 0);
    assert.equal(v.ifnet.byname('em0'), undefined);
    assert.equal(v.ifnet.byindex(a.if_index), undefined);
    assert.deepEqual(v.ifnet.all(), []);
    tap.detach();
    v.ifnet.detach(a); // twice: nothing happens
    assert.equal(log.length, 3);
    // The name is free again; the index is not reused.
    const a2 = new Ifnet(v, 'em', 0);
    v.ifnet.attach(a2);
    assert.ok(a2.if_index > a.if_index);
  });

  it('freeUnit finds the smallest free unit, counting epair-style a/b names', () => {
    const { V } = vnets(1);
    const v = V[0]!;
    assert.equal(v.ifnet.freeUnit('epair'), 0);
    v.ifnet.attach(new Ifnet(v, 'epair', 0, 'epair0a'));
    v.ifnet.attach(new Ifnet(v, 'epair', 2, 'epair2b'));
    v.ifnet.attach(new Ifnet(v, 'epairx', 1));
    assert.equal(v.ifnet.freeUnit('epair'), 1);
    assert.equal(v.ifnet.freeUnit('epair', 2), 3);
    v.ifnet.attach(new Ifnet(v, 'vlan', 0));
    assert.equal(v.ifnet.freeUnit('vlan'), 1);
    assert.equal(v.ifnet.freeUnit('vla'), 0, 'a prefix is not the same driver');
  });

  it('up requires both IFF_UP and IFF_DRV_RUNNING', () => {
    const { V } = vnets(1);
    const a = new Ifnet(V[0]!, 'em', 0);
    a.if_flags = IFF_UP;
    assert.equal(a.up, false);
    a.if_flags = IFF_UP | IFF_DRV_RUNNING;
    assert.equal(a.up, true);
  });

  it('ether_sprintf / ether_aton round-trip and reject malformed addresses', () => {
    const a = new Uint8Array([0x02, 0xab, 0, 0x10, 0xff, 1]);
    assert.equal(ether_sprintf(a), '02:ab:00:10:ff:01');
    assert.deepEqual(ether_aton('02:ab:00:10:ff:01'), a);
    assert.deepEqual(ether_aton('2-AB-0-10-FF-1'), a);
    for (const bad of ['', '02:ab:00:10:ff', '02:ab:00:10:ff:01:02', '02:ab:00:10:ff:1g', '002:ab:00:10:ff:01']) assert.equal(ether_aton(bad), null, bad);
  });
});
