/*
 * A three-Vnet topology with a forwarding router between two prefixes
 * (src/netinet6/ip6_input.ts ip6_forward, icmp6.ts):
 *
 *   H1 2001:db8:1::10 —(MTU 1500)— 2001:db8:1::1 R 2001:db8:2::1 —(MTU 1280)— 2001:db8:2::20 H2
 *
 * Checks forwarding with hop-limit decrement, time exceeded at hop-limit expiry, Packet Too
 * Big from the router (routers never fragment) updating the sender's host cache, source
 * fragmentation at the learned path MTU and reassembly at both ends, no-route and
 * beyond-scope errors, and forwarding turned off.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epair_create } from '../../src/net/if_epair.js';
import { AF_INET6, ntop6 } from '../../src/netinet/in.js';
import { ip6_mtu_for } from '../../src/netinet6/ip6_output.js';
import { icmp6_send_echo, type Icmp6EchoReply } from '../../src/netinet6/raw_ip6.js';
import { a6, addr6, echoReq, icmp6Sum, inject, ip6, SEC, VirtualClock, vnet } from './helpers.js';

function topology() {
  const clock = new VirtualClock();
  const H1 = vnet('h1', clock, 21);
  const R = vnet('r', clock, 22);
  const H2 = vnet('h2', clock, 23);
  const [h1e, r1] = epair_create(H1, R);
  const [r2, h2e] = epair_create(R, H2, { mtu: 1280 });
  R.sysctl.set('net.inet6.ip6.forwarding', true);
  addr6(H1, h1e, '2001:db8:1::10');
  addr6(R, r1, '2001:db8:1::1');
  addr6(R, r2, '2001:db8:2::1');
  addr6(H2, h2e, '2001:db8:2::20');
  clock.advance(3 * SEC);
  const rll1 = R.inet6.ifaOnIfp(r1, true)?.addr as Uint8Array;
  const rll2 = R.inet6.ifaOnIfp(r2, true)?.addr as Uint8Array;
  H1.rt.add6(a6('::'), 0, { ifp: h1e, gateway: rll1 });
  H2.rt.add6(a6('::'), 0, { ifp: h2e, gateway: rll2 });
  return { clock, H1, R, H2, h1e, r1, r2, h2e };
}

const H2A = a6('2001:db8:2::20');

describe('IPv6 forwarding', () => {
  it('forwards between the prefixes, decrementing the hop limit', () => {
    const { clock, H1, R, H2 } = topology();
    const got: Icmp6EchoReply[] = [];
    H1.rawip6.listenEcho(1, (r) => got.push(r));
    assert.equal(icmp6_send_echo(H1, null, H2A, 1, 1, new Uint8Array(32)), 0);
    clock.advance(SEC);
    assert.equal(got.length, 1);
    const r = got[0] as Icmp6EchoReply;
    assert.equal(ntop6(r.src), '2001:db8:2::20');
    assert.equal(ntop6(r.dst), '2001:db8:1::10');
    assert.equal(r.hlim, 63, 'one router on the way back');
    assert.equal(R.inet6.stat.ip6s_forward, 2);
    assert.equal(H2.icmp6.stat.icp6s_reflect, 1);
  });

  it('sends time exceeded when the hop limit runs out', () => {
    const { clock, H1, R } = topology();
    assert.equal(icmp6_send_echo(H1, null, H2A, 2, 1, new Uint8Array(8), 1), 0);
    clock.advance(SEC);
    assert.equal(R.icmp6.stat.icp6s_otime_exceed_transit, 1);
    assert.equal(R.inet6.stat.ip6s_cantforward, 1);
    assert.equal(H1.icmp6.stat.icp6s_inhist[3], 1, 'H1 received the time exceeded');
  });

  it('sends Packet Too Big instead of fragmenting; the sender learns the path MTU and fragments', () => {
    const { clock, H1, R, H2 } = topology();
    const got: Icmp6EchoReply[] = [];
    H1.rawip6.listenEcho(3, (r) => got.push(r));
    const data = Uint8Array.from({ length: 1400 }, (_, i) => (i * 7) & 0xff);
    assert.equal(ip6_mtu_for(H1, H2A), 1500);
    assert.equal(icmp6_send_echo(H1, null, H2A, 3, 1, data), 0);
    clock.advance(SEC);
    assert.equal(got.length, 0, 'the first one is lost');
    assert.equal(R.inet6.stat.ip6s_cantfrag, 1);
    assert.equal(R.icmp6.stat.icp6s_opacket_too_big, 1);
    assert.equal(R.inet6.stat.ip6s_fragmented, 0, 'routers never fragment');
    assert.equal(H1.hostcache.getMtu(AF_INET6, 0, H2A), 1280, 'host cache updated');
    assert.equal(H1.icmp6.stat.icp6s_pmtuchg, 1);
    assert.equal(ip6_mtu_for(H1, H2A), 1280);
    // Again: H1 fragments to 1280, H2 reassembles and answers (fragmenting its reply too).
    assert.equal(icmp6_send_echo(H1, null, H2A, 3, 2, data), 0);
    clock.advance(SEC);
    assert.equal(got.length, 1);
    assert.deepEqual([...(got[0] as Icmp6EchoReply).data], [...data], 'bit-exact after two reassemblies');
    assert.equal(H1.inet6.stat.ip6s_fragmented, 1);
    assert.equal(H2.inet6.stat.ip6s_reassembled, 1);
    assert.equal(H2.inet6.stat.ip6s_fragmented, 1);
    assert.equal(H1.inet6.stat.ip6s_reassembled, 1);
    assert.ok(R.inet6.stat.ip6s_forward >= 4);
  });

  it('a Packet Too Big below 1280 is taken as 1280 (RFC 8201 §4) and one about a packet not ours is ignored', () => {
    const { H1, h1e } = topology();
    // Hand-made PTB claiming MTU 600 about a packet H1 sent to H2.
    const quoted = echoReq(a6('2001:db8:1::10'), H2A, 1, 1, new Uint8Array(1300));
    const body = quoted.subarray(0, 1232);
    const ptb = (mtu: number, q: Uint8Array) => {
      const msg = new Uint8Array(8 + q.length);
      msg[0] = 2;
      msg[4] = mtu >>> 24;
      msg[5] = (mtu >>> 16) & 0xff;
      msg[6] = (mtu >>> 8) & 0xff;
      msg[7] = mtu & 0xff;
      msg.set(q, 8);
      return msg;
    };
    const src = a6('2001:db8:1::1');
    const dst = a6('2001:db8:1::10');
    const send = (msg: Uint8Array) => inject(H1, h1e, ip6({ src, dst, nxt: 58 }, icmp6Sum(src, dst, msg)));
    send(ptb(600, body));
    assert.equal(H1.hostcache.getMtu(AF_INET6, 0, H2A), 1280);
    // A PTB about a packet with a source that is not ours: ignored.
    const other = echoReq(a6('2001:db8:1::77'), a6('2001:db8:2::30'), 1, 1, new Uint8Array(100));
    send(ptb(1300, other));
    assert.equal(H1.hostcache.getMtu(AF_INET6, 0, a6('2001:db8:2::30')), 0);
    assert.equal(H1.icmp6.stat.icp6s_pmtuignored, 1);
  });

  it('answers destination unreachable (no route) and beyond scope', () => {
    const { clock, H1, R, r1, h1e } = topology();
    icmp6_send_echo(H1, null, a6('2001:db8:99::1'), 4, 1, new Uint8Array(8));
    clock.advance(SEC);
    assert.equal(R.icmp6.stat.icp6s_odst_unreach_noroute, 1);
    assert.equal(R.inet6.stat.ip6s_noroute, 1);
    assert.equal(H1.icmp6.stat.icp6s_inhist[1], 1);
    // A link-local source must not leave its link (RFC 4007 §9).
    const ll = H1.inet6.ifaOnIfp(h1e, true)?.addr as Uint8Array;
    inject(R, r1, echoReq(ll, H2A, 5, 1));
    assert.equal(R.icmp6.stat.icp6s_odst_unreach_beyondscope, 1);
    assert.equal(R.inet6.stat.ip6s_badscope, 1);
  });

  it('drops packets for others when forwarding is off', () => {
    const { clock, H1, R } = topology();
    R.sysctl.set('net.inet6.ip6.forwarding', false);
    const got: Icmp6EchoReply[] = [];
    H1.rawip6.listenEcho(6, (r) => got.push(r));
    icmp6_send_echo(H1, null, H2A, 6, 1, new Uint8Array(8));
    clock.advance(SEC);
    assert.equal(got.length, 0);
    assert.equal(R.inet6.stat.ip6s_cantforward, 1);
    assert.equal(R.inet6.stat.ip6s_forward, 0);
  });
});
