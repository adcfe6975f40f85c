/*
 * Routing tables (src/net/route.ts, Stack.addRoute): longest-prefix match for both
 * families checked against a naive model under random inserts and deletes (fast-check),
 * at 100k routes, connected and host routes from addresses, static/default/reject/
 * blackhole routes, per-route MTU (clamped to the interface MTU, as FreeBSD's ip_output
 * does) driving fragmentation and EMSGSIZE, and PCB route caches revalidated when the
 * table changes.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Stack } from '../../src/api/stack.js';
import { PrefixTrie, type Rtentry } from '../../src/net/route.js';
import { sockaddr_in } from '../../src/netinet/in.js';
import { ip_mtu_for } from '../../src/netinet/ip_output.js';
import { IP_DONTFRAG } from '../../src/netinet/ip_ctloutput.js';
import { ip6_mtu_for } from '../../src/netinet6/ip6_output.js';
import { EHOSTUNREACH, EMSGSIZE, ENETUNREACH } from '../../src/sys/errno.js';
import { SOCK_DGRAM } from '../../src/sys/protosw.js';
import { type Socket, soconnect, socreate, sosend, sosetopt } from '../../src/sys/socket.js';
import { inet_pton6 } from '../../src/wire/addr.js';
import { IPPROTO_IP } from '../../src/wire/ipv4.js';
import { fakeEther, ip, parse4, pattern, SEC, VirtualClock, vnet } from './helpers.js';

function bytesOf(a: number): Uint8Array {
  return Uint8Array.of(a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff);
}

function mask(b: Uint8Array, plen: number): Uint8Array {
  const o = Uint8Array.from(b);
  for (let i = 0; i < o.length; i++) {
    const bits = Math.max(0, Math.min(8, plen - 8 * i));
    o[i] = (o[i] as number) & ((0xff00 >> bits) & 0xff);
  }
  return o;
}

function rt(dst: Uint8Array, plen: number, family: number): Rtentry {
  return {
    family,
    dst: mask(dst, plen),
    plen,
    flags: 1,
    nhop: { nh_ifp: null as never, nh_ifa: null, nh_flags: 0, nh_mtu: 0, gw4: 0, gw6: null },
    use: 0,
    expire: 0,
    id: -1,
  };
}

function key(b: Uint8Array, plen: number): string {
  return `${[...mask(b, plen)].join('.')}/${plen}`;
}

/** The naive model: the longest prefix among all present that covers the address. */
function naive(present: Map<string, number>, addr: Uint8Array): number {
  for (let plen = addr.length * 8; plen >= 0; plen--) if (present.has(key(addr, plen))) return plen;
  return -1;
}

function modelTest(width: number, runs: number): void {
  const addrArb = fc.uint8Array({ minLength: width, maxLength: width });
  // Addresses drawn from a few clusters so that prefixes nest and collide.
  const clustered = fc.tuple(fc.nat(3), addrArb).map(([c, a]) => {
    const b = Uint8Array.from(a);
    b[0] = [10, 10, 192, 0][c] as number;
    if (c < 2) b[1] = c;
    return b;
  });
  const op = fc.oneof(
    fc.record({ add: fc.constant(true), a: clustered, plen: fc.integer({ min: 0, max: width * 8 }) }),
    fc.record({ add: fc.constant(false), i: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), fc.array(clustered, { minLength: 1, maxLength: 60 }), (ops, queries) => {
      const t = new PrefixTrie(width);
      const present = new Map<string, number>();
      const keys: [Uint8Array, number][] = [];
      for (const o of ops) {
        if (o.add) {
          const k = key(o.a, o.plen);
          const ok = t.insert(rt(o.a, o.plen, width === 4 ? 2 : 28));
          assert.equal(ok, !present.has(k), 'insert reports duplicates');
          if (ok) {
            present.set(k, o.plen);
            keys.push([o.a, o.plen]);
          }
        } else if (keys.length > 0) {
          const [a, plen] = keys.splice(o.i % keys.length, 1)[0] as [Uint8Array, number];
          assert.ok(t.remove(mask(a, plen), plen));
          present.delete(key(a, plen));
        }
      }
      assert.equal(t.size, present.size);
      for (const q of queries) {
        const got = t.lookup(q);
        assert.equal(got === null ? -1 : got.plen, naive(present, q));
        if (got) assert.deepEqual([...mask(q, got.plen)], [...got.dst]);
        if (width === 4) {
          const n = ((q[0] as number) << 24) | ((q[1] as number) << 16) | ((q[2] as number) << 8) | (q[3] as number);
          assert.equal(t.lookup4(n >>> 0), got);
        }
      }
    }),
    { numRuns: runs },
  );
}

describe('longest-prefix match', () => {
  it('IPv4 agrees with a naive model under random inserts and deletes', () => modelTest(4, 300));
  it('IPv6 agrees with a naive model under random inserts and deletes', () => modelTest(16, 150));

  it('stays correct with 100k routes installed (random destinations)', () => {
    const t = new PrefixTrie(4);
    const present = new Map<string, number>();
    let x = 12345;
    const rnd = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    while (t.size < 100_000) {
      const a = bytesOf(rnd());
      const plen = 8 + (rnd() % 25);
      if (t.insert(rt(a, plen, 2))) present.set(key(a, plen), plen);
    }
    t.insert(rt(new Uint8Array(4), 0, 2));
    present.set(key(new Uint8Array(4), 0), 0);
    for (let i = 0; i < 5000; i++) {
      const a = rnd();
      const got = t.lookup4(a);
      assert.equal(got?.plen ?? -1, naive(present, bytesOf(a)));
    }
  });
});

describe('routes in a stack', () => {
  function host() {
    const clock = new VirtualClock();
    const V = vnet('a', clock, 71);
    const fe = fakeEther(V);
    const fe2 = fakeEther(V);
    V.inet.addAddress(fe.ifp, ip('10.0.0.1'), 24);
    V.inet.addAddress(fe2.ifp, ip('10.1.0.1'), 24);
    for (const [f, g] of [
      [fe, '10.0.0.254'],
      [fe2, '10.1.0.254'],
    ] as const)
      V.arp.addStatic(f.ifp, ip(g), Uint8Array.of(2, 0, 0, 0, 0, 0xfe));
    fe.clear();
    fe2.clear();
    return { clock, V, fe, fe2 };
  }

  function udpTo(V: ReturnType<typeof host>['V'], dst: string, port = 9): Socket {
    const so = socreate(V, 2, SOCK_DGRAM, 17).so as Socket;
    assert.equal(soconnect(so, sockaddr_in(ip(dst), port)), 0);
    return so;
  }

  it('installs connected and local host routes with an address and removes them with it', () => {
    const { V, fe } = host();
    assert.equal(V.rt.inet.lookup4(ip('10.0.0.77'))?.plen, 24);
    const local = V.rt.inet.lookup4(ip('10.0.0.1'));
    assert.equal(local?.plen, 32);
    assert.equal(local?.nhop.nh_ifp, V.loif, 'our own address is reached through lo0');
    assert.equal(V.inet.deleteAddress(fe.ifp, ip('10.0.0.1')), 0);
    assert.equal(V.rt.inet.lookup4(ip('10.0.0.77')), null);
    assert.equal(V.rt.inet.lookup4(ip('10.0.0.1')), null);
  });

  it('default and static routes: the most specific wins, and a connected socket follows table changes', () => {
    const { V, fe, fe2 } = host();
    const so0 = socreate(V, 2, SOCK_DGRAM, 17).so as Socket;
    assert.equal(soconnect(so0, sockaddr_in(ip('172.16.5.5'), 9)), ENETUNREACH, 'no route yet');
    assert.equal(sosend(so0, sockaddr_in(ip('172.16.5.5'), 9), pattern(4), 0, 4, 0).error, ENETUNREACH);
    V.rt.add4(0, 0, { ifp: fe.ifp, gateway: ip('10.0.0.254') });
    const so = udpTo(V, '172.16.5.5');
    assert.equal(sosend(so, null, pattern(4), 0, 4, 0).error, 0);
    assert.equal(fe.ip4().length, 1);
    V.rt.add4(ip('172.16.0.0'), 12, { ifp: fe2.ifp, gateway: ip('10.1.0.254') });
    assert.equal(sosend(so, null, pattern(4), 0, 4, 0).error, 0);
    assert.equal(fe2.ip4().length, 1, 'the cached route was revalidated against the new table');
    V.rt.del4(ip('172.16.0.0'), 12);
    assert.equal(sosend(so, null, pattern(4), 0, 4, 0).error, 0);
    assert.equal(fe.ip4().length, 2);
  });

  it('reject routes refuse with EHOSTUNREACH, blackhole routes swallow silently', () => {
    const { V, fe } = host();
    V.rt.add4(ip('192.0.2.0'), 24, { ifp: fe.ifp, flags: 0x8 });
    V.rt.add4(ip('198.51.100.0'), 24, { ifp: fe.ifp, flags: 0x1000 });
    assert.equal(sosend(udpTo(V, '192.0.2.1'), null, pattern(4), 0, 4, 0).error, EHOSTUNREACH);
    assert.equal(sosend(udpTo(V, '198.51.100.1'), null, pattern(4), 0, 4, 0).error, 0);
    assert.equal(fe.ip4().length, 0);
  });

  it('per-route MTU: datagrams are fragmented to it, DF datagrams above it refused', () => {
    const { V, fe } = host();
    V.rt.add4(ip('203.0.113.0'), 24, { ifp: fe.ifp, gateway: ip('10.0.0.254'), mtu: 600 });
    assert.equal(ip_mtu_for(V, ip('203.0.113.9')), 600);
    assert.equal(ip_mtu_for(V, ip('10.0.0.9')), 1500);
    const so = udpTo(V, '203.0.113.9');
    assert.equal(sosend(so, null, pattern(1000), 0, 1000, 0).error, 0);
    const frags = fe.ip4().map(parse4);
    assert.equal(frags.length, 2);
    assert.ok(frags.every((f) => f.len <= 600));
    assert.equal(sosetopt(so, { level: IPPROTO_IP, name: IP_DONTFRAG, value: 1 }), 0);
    assert.equal(sosend(so, null, pattern(1000), 0, 1000, 0).error, EMSGSIZE);
    assert.equal(sosend(so, null, pattern(500), 0, 500, 0).error, 0);
  });

  it('a route MTU above the interface MTU is clamped to the interface (FreeBSD ip_output)', () => {
    const { V, fe } = host();
    V.rt.add4(ip('203.0.113.0'), 24, { ifp: fe.ifp, gateway: ip('10.0.0.254'), mtu: 9000 });
    assert.equal(ip_mtu_for(V, ip('203.0.113.9')), 1500);
    assert.equal(sosend(udpTo(V, '203.0.113.9'), null, pattern(3000), 0, 3000, 0).error, 0);
    const frags = fe.ip4().map(parse4);
    assert.ok(frags.length >= 3);
    assert.ok(frags.every((f) => f.len <= 1500));
  });

  it('Stack.addRoute/deleteRoute for both families, with gateway lookup and per-route MTU', () => {
    const clock = new VirtualClock();
    const s = new Stack({ clock, seed: 5 });
    const [e] = Stack.epair(s, new Stack({ clock, seed: 6 }));
    s.addAddress(e, '10.0.0.1/24');
    s.addAddress(e, '2001:db8::1/64');
    clock.advance(3 * SEC);
    assert.throws(() => s.addRoute('10.9.0.0/16', '192.0.2.1'), { code: 'ENETUNREACH' }, 'gateway unreachable');
    s.addRoute('default', '10.0.0.254');
    s.addRoute('10.8.0.0/16', '10.0.0.253', { mtu: 1280 });
    s.addRoute('2001:db8:9::/48', '2001:db8::fe', { mtu: 1300 });
    assert.equal(s.vnet.rt.inet.lookup4(ip('8.8.8.8'))?.nhop.gw4, ip('10.0.0.254'));
    assert.equal(s.vnet.rt.inet.lookup4(ip('10.8.1.1'))?.nhop.gw4, ip('10.0.0.253'));
    assert.equal(ip_mtu_for(s.vnet, ip('10.8.1.1')), 1280);
    assert.equal(ip6_mtu_for(s.vnet, inet_pton6('2001:db8:9::5') as Uint8Array), 1300);
    assert.throws(() => s.addRoute('10.8.0.0/16', '10.0.0.253'), { code: 'EEXIST' });
    s.deleteRoute('10.8.0.0/16');
    assert.equal(s.vnet.rt.inet.lookup4(ip('10.8.1.1'))?.plen, 0);
    s.deleteRoute('2001:db8:9::/48');
    assert.throws(() => s.deleteRoute('10.8.0.0/16'), { code: 'ESRCH' });
  });
});
