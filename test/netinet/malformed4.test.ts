/*
 * Malformed IPv4, UDP and ARP input (src/netinet/ip_input.ts, udp_usrreq.ts, if_ether.ts;
 * RFC 791, RFC 1122 §3.2.1, RFC 768): every kind of bad packet is dropped and counted in
 * its FreeBSD-named counter, nothing throws, nothing leaks; then fast-check throws random
 * bytes and mutations of well-formed datagrams and frames at the stack and checks the same
 * and that reassembly and the ARP cache stay within their bounds.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { sockaddr_in } from '../../src/netinet/in.js';
import { SOCK_DGRAM } from '../../src/sys/protosw.js';
import { type Socket, sobind, socreate, soreceive } from '../../src/sys/socket.js';
import { set16 } from '../../src/wire/bytes.js';
import {
  arpPkt,
  cat,
  fakeEther,
  fixIpSum,
  icmpPkt,
  inject,
  injectFrame,
  ip,
  ip4,
  mbufsInUse,
  pattern,
  SEC,
  udp,
  udpPkt,
  VirtualClock,
  vnet,
} from './helpers.js';

const ME = ip('10.0.0.1');
const PEER = ip('10.0.0.2');
const PEER_MAC = Uint8Array.of(0x02, 0xbb, 0, 0, 0, 2);

function setup() {
  const clock = new VirtualClock();
  const V = vnet('a', clock, 61);
  const fe = fakeEther(V);
  V.inet.addAddress(fe.ifp, ME, 24);
  V.arp.addStatic(fe.ifp, PEER, PEER_MAC);
  const so = socreate(V, 2, SOCK_DGRAM, 17).so as Socket;
  sobind(so, sockaddr_in(0, 7000));
  fe.clear();
  return { clock, V, fe, so };
}

function received(so: Socket): number {
  let n = 0;
  const buf = new Uint8Array(70000);
  while (soreceive(so, buf, 0).error === 0) n++;
  return n;
}

describe('malformed IPv4 headers', () => {
  const cases: [string, (V: ReturnType<typeof setup>) => void, string][] = [
    ['shorter than a header', ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ME, 1, 7000, pattern(8)).subarray(0, 19)), 'ips_tooshort'],
    ['version 6 in an IPv4 frame', ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ME, 1, 7000, pattern(8), { version: 6 })), 'ips_badvers'],
    ['header length below 20', ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ME, 1, 7000, pattern(8), { hl: 4 })), 'ips_badhlen'],
    [
      'header length beyond the packet',
      ({ V, fe }) => inject(V, fe.ifp, fixIpSum(Uint8Array.from(udpPkt(PEER, ME, 1, 7000, new Uint8Array(0), { hl: 15 }).subarray(0, 28)))),
      'ips_badhlen',
    ],
    ['bad header checksum', ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ME, 1, 7000, pattern(8), { badsum: true })), 'ips_badsum'],
    ['total length below the header', ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ME, 1, 7000, pattern(8), { len: 12 })), 'ips_badlen'],
    ['total length beyond the frame', ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ME, 1, 7000, pattern(8), { len: 200 })), 'ips_tooshort'],
    ['multicast source', ({ V, fe }) => inject(V, fe.ifp, udpPkt(ip('224.1.2.3'), ME, 1, 7000, pattern(8))), 'ips_badaddr'],
    ['broadcast source', ({ V, fe }) => inject(V, fe.ifp, udpPkt(ip('255.255.255.255'), ME, 1, 7000, pattern(8))), 'ips_badaddr'],
    ['class E source', ({ V, fe }) => inject(V, fe.ifp, udpPkt(ip('240.0.0.9'), ME, 1, 7000, pattern(8))), 'ips_badaddr'],
    ['loopback source from a wire', ({ V, fe }) => inject(V, fe.ifp, udpPkt(ip('127.0.0.1'), ME, 1, 7000, pattern(8))), 'ips_badaddr'],
    ['loopback destination from a wire', ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ip('127.0.0.1'), 1, 7000, pattern(8))), 'ips_badaddr'],
    [
      'option length running past the header',
      ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ME, 1, 7000, pattern(8), { opts: Uint8Array.of(1, 1, 0x44, 12) })),
      'ips_badoptions',
    ],
    [
      'option length below 2',
      ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ME, 1, 7000, pattern(8), { opts: Uint8Array.of(0x94, 1, 0, 0) })),
      'ips_badoptions',
    ],
    ['not for us and not forwarding', ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ip('10.0.0.9'), 1, 7000, pattern(8))), 'ips_cantforward'],
    ['multicast group not joined', ({ V, fe }) => inject(V, fe.ifp, udpPkt(PEER, ip('239.1.1.1'), 1, 7000, pattern(8))), 'ips_notmember'],
  ];
  for (const [name, fn, counter] of cases) {
    it(`${name} → ipstat.${counter}`, () => {
      const s = setup();
      const before = mbufsInUse(s.V);
      fn(s);
      assert.equal((s.V.inet.stat as unknown as Record<string, number>)[counter], 1);
      assert.equal(s.V.inet.stat.ips_delivered, 0);
      assert.equal(received(s.so), 0);
      assert.equal(mbufsInUse(s.V), before, 'freed');
    });
  }

  it('trims link-layer padding beyond the total length and delivers the datagram', () => {
    const { V, fe, so } = setup();
    inject(V, fe.ifp, cat(udpPkt(PEER, ME, 1, 7000, pattern(4)), new Uint8Array(30)));
    assert.equal(received(so), 1);
  });

  it('skips unknown options safely and delivers (RFC 791: options are optional)', () => {
    const { V, fe, so } = setup();
    inject(V, fe.ifp, udpPkt(PEER, ME, 1, 7000, pattern(8), { opts: Uint8Array.of(0x99, 4, 1, 2, 1, 1, 1, 0) }));
    assert.equal(received(so), 1);
  });
});

describe('malformed UDP', () => {
  const cases: [string, Uint8Array, string][] = [
    ['shorter than a UDP header', ip4({ src: PEER, dst: ME, p: 17 }, pattern(6)), 'udps_hdrops'],
    ['UDP length beyond the IP payload', ip4({ src: PEER, dst: ME, p: 17 }, udp(PEER, ME, 1, 7000, pattern(8), { len: 40 })), 'udps_badlen'],
    ['UDP length below 8', ip4({ src: PEER, dst: ME, p: 17 }, udp(PEER, ME, 1, 7000, pattern(8), { len: 7 })), 'udps_badlen'],
  ];
  for (const [name, pkt, counter] of cases) {
    it(`${name} → udpstat.${counter}`, () => {
      const { V, fe, so } = setup();
      const before = mbufsInUse(V);
      inject(V, fe.ifp, pkt);
      assert.equal((V.udp.stat as unknown as Record<string, number>)[counter], 1);
      assert.equal(received(so), 0);
      assert.equal(fe.ip4().length, 0, 'no ICMP for a malformed datagram');
      assert.equal(mbufsInUse(V), before);
    });
  }

  it('bad checksum → udps_badsum; zero checksum means none over IPv4 (udps_nosum)', () => {
    const { V, fe, so } = setup();
    const u = udp(PEER, ME, 1, 7000, pattern(20));
    u[6] = (u[6] as number) ^ 0xff;
    inject(V, fe.ifp, ip4({ src: PEER, dst: ME, p: 17 }, u));
    assert.equal(V.udp.stat.udps_badsum, 1);
    assert.equal(received(so), 0);
    inject(V, fe.ifp, ip4({ src: PEER, dst: ME, p: 17 }, udp(PEER, ME, 1, 7000, pattern(20), { nosum: true })));
    assert.equal(V.udp.stat.udps_nosum, 1);
    assert.equal(received(so), 1);
  });

  it('a UDP length shorter than the IP payload is trimmed to the UDP length', () => {
    const { V, fe, so } = setup();
    const u = udp(PEER, ME, 1, 7000, pattern(20));
    inject(V, fe.ifp, ip4({ src: PEER, dst: ME, p: 17 }, cat(u, new Uint8Array(12))));
    const buf = new Uint8Array(100);
    const r = soreceive(so, buf, 0);
    assert.equal(r.error, 0);
    assert.equal(r.len, 20);
  });
});

describe('malformed ARP', () => {
  it('counts short packets, wrong hardware/protocol types and lengths, bad opcodes and broadcast senders', () => {
    const { V, fe } = setup();
    const good = arpPkt(1, PEER_MAC, PEER, null, ME);
    const mut = (at: number, v: number) => {
      const a = Uint8Array.from(good);
      a[at] = v;
      return a;
    };
    const before = mbufsInUse(V);
    injectFrame(fe.ifp, PEER_MAC, fe.mac, 0x0806, good.subarray(0, 20));
    assert.equal(V.arp.stat.badlen, 1);
    for (const [at, v] of [
      [1, 6], // hardware type 6
      [3, 0xdd], // protocol 0x08dd
      [4, 8], // hardware length 8
      [5, 16], // protocol length 16
      [7, 9], // opcode 9
    ] as const)
      injectFrame(fe.ifp, PEER_MAC, fe.mac, 0x0806, mut(at, v));
    const bsha = Uint8Array.from(good);
    bsha.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 8);
    injectFrame(fe.ifp, PEER_MAC, fe.mac, 0x0806, bsha);
    assert.equal(V.arp.stat.badformat, 6);
    assert.equal(fe.arp().length, 0, 'nothing answered');
    assert.equal(mbufsInUse(V), before);
  });
});

describe('fuzzing IPv4 input (fast-check)', () => {
  type Mutation =
    | { kind: 'flip'; at: number; val: number }
    | { kind: 'trunc'; len: number }
    | { kind: 'extend'; n: number }
    | { kind: 'field'; at: number; v: number };
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(1600), val: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('trunc' as const), len: fc.nat(1600) }),
    fc.record({ kind: fc.constant('extend' as const), n: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('field' as const), at: fc.constantFrom(0, 2, 6, 8, 9, 20, 24, 26), v: fc.integer({ min: 0, max: 0xffff }) }),
  );
  function mutate(p: Uint8Array, ms: Mutation[], resum: boolean): Uint8Array {
    let q: Uint8Array = Uint8Array.from(p);
    for (const m of ms) {
      if (m.kind === 'flip') {
        if (q.length > 0) q[m.at % q.length] = m.val;
      } else if (m.kind === 'trunc') q = q.subarray(0, m.len % (q.length + 1));
      else if (m.kind === 'extend') q = cat(q, pattern(m.n, m.n));
      else if (q.length >= m.at + 2) set16(q, m.at, m.v);
    }
    // Half the time fix the header checksum so the mutation reaches the layers above.
    if (resum && q.length >= 20) fixIpSum(q);
    return q;
  }
  function templates(): Uint8Array[] {
    const big = udpPkt(PEER, ME, 5, 7000, pattern(1200), { id: 77 });
    const frag = (off: number, len: number, more: boolean) => {
      const f = new Uint8Array(20 + len);
      f.set(big.subarray(0, 20));
      f.set(big.subarray(20 + off, 20 + off + len), 20);
      set16(f, 2, 20 + len);
      set16(f, 6, (off >> 3) | (more ? 0x2000 : 0));
      return fixIpSum(f);
    };
    return [
      udpPkt(PEER, ME, 5, 7000, pattern(40)),
      udpPkt(PEER, ME, 5, 9999, pattern(40)),
      udpPkt(PEER, ip('10.0.0.255'), 5, 7000, pattern(40)),
      icmpPkt(PEER, ME, 8, 0, 1, pattern(32)),
      icmpPkt(PEER, ME, 3, 4, 1000, udpPkt(ME, PEER, 7000, 5, pattern(1400)).subarray(0, 48)),
      icmpPkt(PEER, ME, 5, 1, ip('10.0.0.3'), udpPkt(ME, ip('10.5.0.1'), 7000, 5, pattern(8))),
      icmpPkt(PEER, ME, 13, 0, 1, new Uint8Array(12)),
      udpPkt(PEER, ME, 5, 7000, pattern(16), { opts: Uint8Array.of(7, 7, 4, 0, 0, 0, 0, 0) }),
      frag(0, 400, true),
      frag(400, 400, true),
      frag(800, 408, false),
      ip4({ src: PEER, dst: ME, p: 99 }, pattern(30)),
    ];
  }

  it('never throws, never leaks, keeps reassembly bounded, for random mutations and raw bytes', () => {
    const tpl = templates();
    const { clock, V, fe, so } = setup();
    V.sysctl.set('net.inet.ip.maxfragpackets', 64);
    V.sysctl.set('net.inet.ip.maxfrags', 256);
    const base = mbufsInUse(V);
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ t: fc.nat(tpl.length - 1), ms: fc.array(mutation, { maxLength: 4 }), resum: fc.boolean(), frame: fc.boolean() }),
            fc.record({ raw: fc.uint8Array({ maxLength: 200 }) }),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        (pkts) => {
          for (const p of pkts) {
            if ('raw' in p) {
              inject(V, fe.ifp, p.raw);
              injectFrame(fe.ifp, PEER_MAC, fe.mac, 0x0806, p.raw);
              continue;
            }
            const q = mutate(tpl[p.t] as Uint8Array, p.ms, p.resum);
            if (p.frame) injectFrame(fe.ifp, PEER_MAC, fe.mac, 0x0800, q);
            else inject(V, fe.ifp, q);
          }
          clock.advance(1_000_000);
          received(so);
          fe.clear();
          assert.ok(V.ipreass.packets <= 64);
          assert.ok(V.ipreass.queued <= 256 + 16);
        },
      ),
      { numRuns: 400 },
    );
    // Let reassembly and ARP timers run out; every buffer must be back.
    clock.advance(60 * SEC);
    received(so);
    assert.equal(V.ipreass.packets, 0);
    assert.equal(mbufsInUse(V), base);
  });
});
