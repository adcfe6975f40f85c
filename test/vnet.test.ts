/*
 * Two Vnets in one process share nothing (DESIGN.md: state only inside a Vnet): the same
 * addresses, ports, sysctls, zones, timers and counters live independently in each, and
 * destroying one leaves the other working.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Stack } from '../src/api/stack.js';
import { VirtualClock } from '../src/kern/clock.js';
import { AF_INET, parseAddress, sockaddr_in } from '../src/netinet/in.js';
import { SOCK_STREAM } from '../src/sys/protosw.js';
import { soaccept, sobind, soconnect, socreate, solisten, soreceive, sosend } from '../src/sys/socket.js';
import { Vnet } from '../src/vnet.js';

describe('Vnet isolation', () => {
  it('keeps sysctls, zones, timers and counters per instance', () => {
    const clock = new VirtualClock();
    const a = new Vnet({ name: 'a', clock, seed: 1 });
    const b = new Vnet({ name: 'b', clock, seed: 1 });
    a.sysctl.set('net.inet.tcp.msl', 1234);
    assert.equal(a.sysctl.get('net.inet.tcp.msl'), 1234);
    assert.equal(b.sysctl.get('net.inet.tcp.msl'), 30000);
    const m = a.mbufs.get();
    assert.ok(m);
    const za = a.zones.all().find((z) => z.name === 'mbuf');
    const zb = b.zones.all().find((z) => z.name === 'mbuf');
    assert.ok(za && zb);
    assert.ok(za.used > zb.used, 'an allocation in a shows only in a');
    let fired = '';
    a.callwheel.callout<string>().reset(
      5,
      (x) => {
        fired += x;
      },
      'a',
    );
    clock.advance(10_000_000);
    assert.equal(fired, 'a');
    assert.notEqual(a.tcp, b.tcp);
    // Same seed, yet per-instance state objects: nothing is shared through module globals.
    assert.notEqual(a.tcp.stat, b.tcp.stat);
    assert.notEqual(a.tcp.info, b.tcp.info);
  });

  it('lets two instances use the same address and port, and survives the other being destroyed', () => {
    const clock = new VirtualClock();
    const mk = (n: string, seed: number) => new Stack({ name: n, clock, seed });
    // Two separate networks, each with hosts 10.0.0.1 and 10.0.0.2 listening on port 80.
    const nets = [0, 1].map((k) => {
      const c = mk(`c${k}`, 10 + k);
      const s = mk(`s${k}`, 20 + k);
      const [ic, is] = Stack.epair(c, s);
      c.addAddress(ic, '10.0.0.1/24');
      s.addAddress(is, '10.0.0.2/24');
      c.setUp(ic, true);
      s.setUp(is, true);
      const ls = socreate(s.vnet, AF_INET, SOCK_STREAM, 0).so;
      assert.ok(ls);
      assert.equal(sobind(ls, sockaddr_in(0, 80)), 0);
      assert.equal(solisten(ls, 5), 0);
      return { c, s, ls };
    });
    const conns = nets.map(({ c }) => {
      const so = socreate(c.vnet, AF_INET, SOCK_STREAM, 0).so;
      assert.ok(so);
      assert.equal(soconnect(so, parseAddress('10.0.0.2', 80) as NonNullable<ReturnType<typeof parseAddress>>), 0);
      return so;
    });
    clock.advance(100_000_000);
    const accepted = nets.map(({ ls }) => soaccept(ls).so);
    assert.ok(accepted[0] && accepted[1]);
    nets[0]?.s.destroy();
    nets[0]?.c.destroy();
    // The second network still carries data.
    const msg = new TextEncoder().encode('still here');
    assert.equal(sosend(conns[1] as NonNullable<(typeof conns)[1]>, null, msg, 0, msg.length, 0).sent, msg.length);
    clock.advance(100_000_000);
    const buf = new Uint8Array(64);
    const r = soreceive(accepted[1] as NonNullable<(typeof accepted)[1]>, buf, 0);
    assert.equal(new TextDecoder().decode(buf.subarray(0, r.len)), 'still here');
    assert.equal(nets[1]?.s.vnet.tcp.stat.tcps_accepts, 1);
  });
});
