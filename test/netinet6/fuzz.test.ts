/*
 * Property tests for IPv6 input (fast-check): random bytes and mutations of well-formed
 * packets (echo, ND messages, fragments, extension-header chains, unknown next headers)
 * injected into ip6_input never throw, never produce an ICMPv6 error larger than 1280 bytes,
 * keep reassembly and the neighbour cache within their bounds, and leave no mbuf behind
 * once the timers have run.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { nd6_add_static } from '../../src/netinet6/nd6.js';
import { a6, addr6, cat, echoReq, fakeEther, fragHdr, icmp6, icmpOf, inject, ip6, llOpt, mbufsInUse, optsHdr, SEC, VirtualClock, vnet } from './helpers.js';

const ME = a6('2001:db8::1');
const PEER = a6('2001:db8::2');
const PEER_MAC = Uint8Array.of(0x02, 0xbb, 0, 0, 0, 2);
const LL = a6('fe80::2');

function templates(): Uint8Array[] {
  const sn = a6('ff02::1:ff00:1');
  const nd = (src: Uint8Array, dst: Uint8Array, body: Uint8Array) =>
    ip6({ src, dst, nxt: 58, hlim: 255 }, icmp6(src, dst, body[0] as number, body[1] as number, body.subarray(4, 8), body.subarray(8)));
  const echo = echoReq(PEER, ME, 1, 1, new Uint8Array(64));
  const frag = (off: number, more: boolean, id: number) => {
    const e = echoReq(PEER, ME, 1, 1, new Uint8Array(2000));
    const hdr = Uint8Array.from(e.subarray(0, 40));
    hdr[6] = 44;
    const data = e.subarray(40 + off, 40 + Math.min(off + 1024, e.length - 40));
    const p = cat(hdr, fragHdr(58, off, more, id), data);
    p[4] = ((8 + data.length) >> 8) & 0xff;
    p[5] = (8 + data.length) & 0xff;
    return p;
  };
  const ra = new Uint8Array(16 + 8 + 32);
  ra[0] = 134;
  ra[4] = 64;
  ra[7] = 0xff;
  ra.set(llOpt(1, PEER_MAC), 16);
  ra[24] = 3;
  ra[25] = 4;
  ra[26] = 64;
  ra[27] = 0xc0;
  ra[31] = 100;
  ra[35] = 50;
  ra.set(a6('2001:db8:9::'), 40);
  return [
    echo,
    nd(PEER, ME, cat(Uint8Array.of(135, 0, 0, 0, 0, 0, 0, 0), ME, llOpt(1, PEER_MAC))),
    nd(a6('::'), sn, cat(Uint8Array.of(135, 0, 0, 0, 0, 0, 0, 0), ME)),
    nd(PEER, ME, cat(Uint8Array.of(136, 0, 0, 0, 0x60, 0, 0, 0), PEER, llOpt(2, PEER_MAC))),
    nd(LL, a6('ff02::1'), ra),
    nd(LL, ME, cat(Uint8Array.of(137, 0, 0, 0, 0, 0, 0, 0), a6('fe80::9'), a6('2001:db8:5::1'), llOpt(2, PEER_MAC))),
    frag(0, true, 7),
    frag(1024, false, 7),
    frag(0, false, 9),
    ip6(
      { src: PEER, dst: ME, nxt: 0 },
      cat(optsHdr(60, Uint8Array.of(0x1e, 2, 0, 0)), optsHdr(43, new Uint8Array(0)), Uint8Array.of(58, 0, 0, 0, 0, 0, 0, 0), icmp6(PEER, ME, 128, 0, 1)),
    ),
    ip6({ src: PEER, dst: ME, nxt: 253 }, new Uint8Array(40)),
    ip6({ src: PEER, dst: ME, nxt: 58 }, icmp6(PEER, ME, 2, 0, 1280, echoReq(ME, PEER, 1, 1, new Uint8Array(40)))),
    ip6({ src: PEER, dst: ME, nxt: 58 }, icmp6(PEER, ME, 1, 4, 0, ip6({ src: ME, dst: PEER, nxt: 17 }, new Uint8Array(16)))),
  ];
}

type Mutation = { kind: 'flip'; at: number; val: number } | { kind: 'trunc'; len: number } | { kind: 'extend'; n: number } | { kind: 'plen'; v: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(2100), val: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('trunc' as const), len: fc.nat(2100) }),
  fc.record({ kind: fc.constant('extend' as const), n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('plen' as const), v: fc.integer({ min: 0, max: 0xffff }) }),
);

function mutate(p: Uint8Array, ms: Mutation[]): Uint8Array {
  let q: Uint8Array = Uint8Array.from(p);
  for (const m of ms) {
    if (m.kind === 'flip') {
      if (q.length > 0) q[m.at % q.length] = m.val;
    } else if (m.kind === 'trunc') q = q.slice(0, m.len % (q.length + 1));
    else if (m.kind === 'extend') q = cat(q, new Uint8Array(m.n).fill(m.n));
    else if (q.length >= 6) {
      q[4] = m.v >> 8;
      q[5] = m.v & 0xff;
    }
  }
  return q;
}

function setup() {
  const clock = new VirtualClock();
  const V = vnet('fuzz', clock, 77);
  V.sysctl.set('net.inet6.ip6.accept_rtadv', true);
  const f = fakeEther(V);
  addr6(V, f.ifp, '2001:db8::1');
  nd6_add_static(V, f.ifp, PEER, PEER_MAC);
  V.sysctl.set('net.inet6.icmp6.errppslimit', 0);
  clock.advance(5 * SEC);
  f.clear();
  return { clock, V, f };
}

function checkOutput(f: ReturnType<typeof fakeEther>): void {
  for (const fr of f.frames) assert.ok(fr.length <= 14 + f.ifp.if_mtu, `frame of ${fr.length} bytes`);
  for (const e of icmpOf(f.ip6())) if (e.type < 128) assert.ok(e.pkt.length <= 1280, 'RFC 4443 §2.4(c)');
  f.clear();
}

describe('ip6_input fuzz', () => {
  it('random bytes never throw', () => {
    const { clock, V, f } = setup();
    const base = mbufsInUse(V);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.boolean(), fc.boolean(), (bytes, v6, mcast) => {
        if (v6 && bytes.length > 0) bytes[0] = (bytes[0] as number & 0x0f) | 0x60;
        inject(V, f.ifp, bytes, mcast);
        checkOutput(f);
      }),
      { numRuns: 3000, seed: 1 },
    );
    clock.advance(200 * SEC);
    assert.equal(V.inet6.stat.ip6s_total, 3000);
    assert.equal(mbufsInUse(V), base, 'no mbuf left behind');
  });

  it('mutated well-formed packets never throw and memory stays bounded', () => {
    const { clock, V, f } = setup();
    V.sysctl.set('net.inet6.ip6.maxfragpackets', 32);
    V.sysctl.set('net.inet6.icmp6.nd6_maxentries', 64);
    const tpl = templates();
    const base = mbufsInUse(V);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: tpl.length - 1 }),
        fc.array(mutation, { minLength: 0, maxLength: 4 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
        (i, ms, mcast, step) => {
          const p = mutate(tpl[i] as Uint8Array, ms);
          inject(V, f.ifp, p, mcast);
          // Loopback-received packets take other paths (::1 is allowed there).
          if (step === 3 && V.loif !== null) inject(V, V.loif, p);
          if (step === 0) clock.advance(SEC / 10);
          checkOutput(f);
          assert.ok(V.frag6.packets <= 32);
          assert.ok(V.nd6.size <= 64);
          assert.ok(V.frag6.queued <= V.frag6.maxfrags);
        },
      ),
      { numRuns: 4000, seed: 2 },
    );
    // The inputs reached deep: deliveries, ND, reassembly and errors all happened.
    const st = V.inet6.stat;
    assert.ok(
      st.ip6s_delivered > 500 && st.ip6s_fragments > 100 && st.ip6s_reassembled > 0,
      JSON.stringify({ d: st.ip6s_delivered, f: st.ip6s_fragments, r: st.ip6s_reassembled }),
    );
    assert.ok((V.icmp6.stat.icp6s_inhist[135] as number) > 100 && V.icmp6.stat.icp6s_error > 100);
    clock.advance(200 * SEC);
    assert.equal(V.frag6.packets, 0);
    assert.equal(mbufsInUse(V), base, 'no mbuf left behind');
  });

  it('forwarding enabled: mutated packets for others never throw', () => {
    const { clock, V, f } = setup();
    V.sysctl.set('net.inet6.ip6.forwarding', true);
    V.rt.add6(a6('2001:db8:100::'), 48, { ifp: f.ifp, gateway: PEER });
    const pkts = [
      echoReq(PEER, a6('2001:db8:100::5'), 1, 1, new Uint8Array(1500)),
      echoReq(PEER, a6('2001:db8:200::5'), 1, 1),
      echoReq(LL, a6('2001:db8:100::5'), 1, 1),
    ];
    const base = mbufsInUse(V);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: pkts.length - 1 }), fc.array(mutation, { maxLength: 3 }), (i, ms) => {
        inject(V, f.ifp, mutate(pkts[i] as Uint8Array, ms));
        checkOutput(f);
      }),
      { numRuns: 2000, seed: 3 },
    );
    clock.advance(200 * SEC);
    assert.equal(mbufsInUse(V), base);
  });
});
