/*
 * IPv4 fragmentation and reassembly (src/netinet/ip_output.ts ip_fragment,
 * src/netinet/ip_reass.ts; RFC 791 §3.2, RFC 815, RFC 1122 §3.3.2): fragments in every
 * order, duplicated and overlapping, give back the datagram bit-exact; incomplete
 * datagrams expire after net.inet.ip.fragttl with ICMP time exceeded (reassembly) when the
 * first fragment came; bogus fragments are counted and dropped; floods stay within
 * net.inet.ip.maxfragpackets / maxfragsperpacket / maxfrags; and oversize UDP datagrams
 * cross a simulated Ethernet with reordering and loss and arrive bit-exact or not at all.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AF_INET, sockaddr_in } from '../../src/netinet/in.js';
import { SOCK_DGRAM } from '../../src/sys/protosw.js';
import { type Socket, SO_RCVBUF, SO_SNDBUF, SOL_SOCKET, sobind, socreate, soreceive, sosend, sosetopt } from '../../src/sys/socket.js';
import type { Vnet } from '../../src/vnet.js';
import { get16, set16 } from '../../src/wire/bytes.js';
import { fakeEther, fixIpSum, icmpOf, inject, ip, mbufsInUse, pattern, SEC, twoStacks, udpPkt, VirtualClock, vnet } from './helpers.js';

const ME = ip('10.0.0.1');
const PEER = ip('10.0.0.2');

/** Split an IPv4 datagram into fragments carrying `chunk` payload bytes each (multiple of 8). */
function fragment(pkt: Uint8Array, chunk: number): Uint8Array[] {
  const hlen = ((pkt[0] as number) & 0xf) << 2;
  const payload = pkt.subarray(hlen, get16(pkt, 2));
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += chunk) {
    const n = Math.min(chunk, payload.length - off);
    const f = new Uint8Array(hlen + n);
    f.set(pkt.subarray(0, hlen));
    f.set(payload.subarray(off, off + n), hlen);
    set16(f, 2, hlen + n);
    set16(f, 6, ((off >> 3) & 0x1fff) | (off + n < payload.length ? 0x2000 : 0));
    out.push(fixIpSum(f));
  }
  return out;
}

/** A fragment with an explicit payload offset, length and MF flag, cut from `pkt`. */
function piece(pkt: Uint8Array, off: number, len: number, more: boolean): Uint8Array {
  const f = new Uint8Array(20 + len);
  f.set(pkt.subarray(0, 20));
  f.set(pkt.subarray(20 + off, 20 + off + len), 20);
  set16(f, 2, 20 + len);
  set16(f, 6, (off >> 3) | (more ? 0x2000 : 0));
  return fixIpSum(f);
}

function host() {
  const clock = new VirtualClock();
  const V = vnet('a', clock, 51);
  const fe = fakeEther(V);
  V.inet.addAddress(fe.ifp, ME, 24);
  V.arp.addStatic(fe.ifp, PEER, Uint8Array.of(2, 0xbb, 0, 0, 0, 2));
  const so = udpBound(V, 7000);
  fe.clear();
  return { clock, V, fe, so };
}

function udpBound(V: Vnet, port: number): Socket {
  const r = socreate(V, AF_INET, SOCK_DGRAM, 17);
  const so = r.so as Socket;
  assert.equal(sosetopt(so, { level: SOL_SOCKET, name: SO_RCVBUF, value: 1 << 20 }), 0);
  assert.equal(sosetopt(so, { level: SOL_SOCKET, name: SO_SNDBUF, value: 70000 }), 0);
  assert.equal(sobind(so, sockaddr_in(0, port)), 0);
  return so;
}

function drain(so: Socket): Uint8Array[] {
  const out: Uint8Array[] = [];
  const buf = new Uint8Array(70000);
  for (;;) {
    const r = soreceive(so, buf, 0);
    if (r.error !== 0) break;
    out.push(buf.slice(0, r.len));
  }
  return out;
}

describe('IPv4 reassembly', () => {
  it('reassembles fragments delivered in any order, with duplicates, bit-exact (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4000 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.array(fc.nat(), { minLength: 0, maxLength: 6 }),
        fc.nat(),
        (size, chunk8, id, dups, seed) => {
          const { clock, V, fe, so } = host();
          const data = pattern(size, seed + 1);
          const pkt = udpPkt(PEER, ME, 5555, 7000, data, { id });
          const frags = fragment(pkt, chunk8 * 8);
          fc.pre(frags.length >= 2 && frags.length <= 16);
          // A deterministic shuffle, then some duplicates inserted.
          const order = frags.map((_, i) => i);
          let x = seed | 1;
          for (let i = order.length - 1; i > 0; i--) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            const j = x % (i + 1);
            [order[i], order[j]] = [order[j] as number, order[i] as number];
          }
          for (const d of dups) order.splice(d % (order.length + 1), 0, order[d % order.length] as number);
          for (const i of order) inject(V, fe.ifp, frags[i] as Uint8Array);
          const got = drain(so);
          // Duplicates after completion may complete the datagram once more (as on a real
          // network); every delivery is bit-exact.
          assert.ok(got.length >= 1 && got.length <= 1 + dups.length);
          for (const g of got) assert.deepEqual(Buffer.from(g), Buffer.from(data));
          // A duplicate arriving after completion starts a new queue, which expires.
          clock.advance(31 * SEC);
          assert.equal(V.ipreass.packets, 0);
          assert.equal(V.ipreass.queued, 0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('resolves overlaps: earlier data is kept, later fragments covered entirely are dequeued', () => {
    const { V, fe, so } = host();
    const data = pattern(200, 3);
    const pkt = udpPkt(PEER, ME, 5555, 7000, data);
    const total = 208;
    inject(V, fe.ifp, piece(pkt, 64, 64, true)); // [64,128)
    inject(V, fe.ifp, piece(pkt, 96, 16, true)); // covered entirely: duplicate
    inject(V, fe.ifp, piece(pkt, 40, 120, true)); // [40,160): overlaps both sides
    inject(V, fe.ifp, piece(pkt, 0, 48, true)); // [0,48)
    inject(V, fe.ifp, piece(pkt, 152, total - 152, false)); // [152,208)
    const got = drain(so);
    assert.equal(got.length, 1);
    assert.deepEqual(Buffer.from(got[0] as Uint8Array), Buffer.from(data));
    assert.ok(V.inet.stat.ips_fragdropped >= 1);
    assert.equal(V.inet.stat.ips_reassembled, 1);
  });

  it('expires an incomplete datagram after net.inet.ip.fragttl with ICMP time exceeded (reassembly) if the first fragment came', () => {
    const { clock, V, fe } = host();
    assert.equal(V.sysctl.get('net.inet.ip.fragttl'), 30);
    const pkt = udpPkt(PEER, ME, 5555, 7000, pattern(100), { id: 1 });
    const pkt2 = udpPkt(PEER, ME, 5555, 7000, pattern(100), { id: 2 });
    inject(V, fe.ifp, piece(pkt, 0, 48, true));
    inject(V, fe.ifp, piece(pkt2, 48, 60, false));
    assert.equal(V.sysctl.get('net.inet.ip.fragpackets'), 2);
    assert.equal(V.sysctl.get('net.inet.ip.curfrags'), 2);
    clock.advance(29 * SEC);
    assert.equal(icmpOf(fe.ip4()).length, 0);
    clock.advance(2 * SEC);
    const e = icmpOf(fe.ip4());
    assert.equal(e.length, 1, 'only for the datagram whose first fragment arrived');
    assert.equal(e[0]?.type, 11);
    assert.equal(e[0]?.code, 1);
    assert.equal(V.inet.stat.ips_fragtimeout, 2);
    assert.equal(V.ipreass.packets, 0);
    assert.equal(V.ipreass.queued, 0);
  });

  it('drops bogus fragments: not a multiple of 8 with MF, empty, beyond 65535, two different ends', () => {
    const { V, fe, so } = host();
    const pkt = udpPkt(PEER, ME, 5555, 7000, pattern(300));
    const before = mbufsInUse(V);
    inject(V, fe.ifp, piece(pkt, 0, 20, true));
    assert.equal(V.inet.stat.ips_toosmall, 1);
    const empty = piece(pkt, 8, 0, true);
    inject(V, fe.ifp, empty);
    assert.equal(V.inet.stat.ips_toosmall, 2);
    const far = piece(pkt, 0, 64, true);
    set16(far, 6, 0x2000 | 8189); // offset 65512 + 64 bytes > 65535
    inject(V, fe.ifp, fixIpSum(far));
    assert.equal(V.inet.stat.ips_toosmall, 3);
    inject(V, fe.ifp, piece(pkt, 0, 64, true));
    inject(V, fe.ifp, piece(pkt, 200, 40, false));
    inject(V, fe.ifp, piece(pkt, 200, 48, false));
    assert.equal(V.ipreass.packets, 0, 'two ends: the whole datagram is given up');
    assert.equal(drain(so).length, 0);
    assert.equal(mbufsInUse(V), before);
  });

  it('bounds fragments per datagram (net.inet.ip.maxfragsperpacket, FreeBSD 16)', () => {
    const { V, fe, so } = host();
    assert.equal(V.sysctl.get('net.inet.ip.maxfragsperpacket'), 16);
    const data = pattern(17 * 8 - 8, 4);
    const frags = fragment(udpPkt(PEER, ME, 5555, 7000, data), 8);
    assert.equal(frags.length, 17);
    for (const f of frags) inject(V, fe.ifp, f);
    assert.equal(drain(so).length, 0);
    assert.ok(V.inet.stat.ips_fragdropped >= 16);
    assert.equal(V.ipreass.queued <= 1, true);
    V.sysctl.set('net.inet.ip.maxfragsperpacket', 32);
    for (const f of frags) inject(V, fe.ifp, f);
    assert.equal(drain(so).length, 1);
  });

  it('a flood of distinct datagrams stays within maxfragpackets and maxfrags, and memory is returned', () => {
    const { clock, V, fe } = host();
    const before = mbufsInUse(V);
    V.sysctl.set('net.inet.ip.maxfragpackets', 100);
    for (let id = 0; id < 5000; id++) {
      const pkt = udpPkt(PEER, ME, 5555, 7000, pattern(64), { id: id & 0xffff });
      inject(V, fe.ifp, piece(pkt, 0, 16, true));
      assert.ok(V.ipreass.packets <= 100);
    }
    assert.equal(V.ipreass.packets, 100);
    assert.ok(V.inet.stat.ips_fragdropped >= 4900);
    V.sysctl.set('net.inet.ip.maxfragpackets', 1024);
    V.sysctl.set('net.inet.ip.maxfrags', 50);
    for (let id = 0; id < 300; id++) {
      const pkt = udpPkt(PEER, ME, 5556, 7000, pattern(64), { id });
      inject(V, fe.ifp, piece(pkt, 0, 16, true));
      assert.ok(V.ipreass.queued <= 150);
    }
    clock.advance(31 * SEC);
    assert.equal(V.ipreass.packets, 0);
    assert.equal(V.ipreass.queued, 0);
    V.sysctl.set('net.inet.icmp.icmplim', 0);
    assert.equal(mbufsInUse(V), before, 'every fragment freed');
  });
});

describe('IPv4 fragmentation end to end', () => {
  it('sends an oversize UDP datagram as fragments that reassemble bit-exact (two stacks)', () => {
    const { clock, a, b } = twoStacks();
    b.sysctlSet('net.inet.ip.maxfragsperpacket', 64);
    const rx = udpBound(b.vnet, 9000);
    const tx = udpBound(a.vnet, 0);
    for (const size of [1473, 3000, 8192, 65507]) {
      const data = pattern(size, size);
      const r = sosend(tx, sockaddr_in(PEER, 9000), data, 0, size, 0);
      assert.equal(r.error, 0, `send ${size}`);
      clock.advance(SEC);
      const got = drain(rx);
      assert.equal(got.length, 1, `size ${size}`);
      assert.ok(Buffer.from(got[0] as Uint8Array).equals(Buffer.from(data)), `bit-exact ${size}`);
    }
    assert.equal(sosend(tx, sockaddr_in(PEER, 9000), pattern(65508), 0, 65508, 0).error, 40, 'EMSGSIZE beyond 65507');
    assert.ok(a.vnet.inet.stat.ips_ofragments >= 45 + 6 + 2 + 2);
    assert.equal(b.vnet.inet.stat.ips_reassembled, 4);
  });

  it('the FreeBSD default of 16 fragments per datagram drops a 64 KB datagram over Ethernet', () => {
    const { clock, a, b } = twoStacks();
    const rx = udpBound(b.vnet, 9000);
    const tx = udpBound(a.vnet, 0);
    // Resolve ARP first: the hold queue (16 packets) would otherwise eat the fragments.
    sosend(tx, sockaddr_in(PEER, 9000), pattern(10), 0, 10, 0);
    clock.advance(SEC);
    assert.equal(drain(rx).length, 1);
    assert.equal(sosend(tx, sockaddr_in(PEER, 9000), pattern(60000), 0, 60000, 0).error, 0);
    clock.advance(SEC);
    assert.equal(drain(rx).length, 0);
    assert.ok(b.vnet.inet.stat.ips_fragdropped > 0);
    clock.advance(40 * SEC);
    assert.equal(b.vnet.ipreass.packets, 0);
  });

  it('under reordering, duplication and loss: every delivered datagram is bit-exact, the rest time out', () => {
    const { clock, a, b, link } = twoStacks();
    const rx = udpBound(b.vnet, 9000);
    const tx = udpBound(a.vnet, 0);
    // Resolve ARP first on a clean link.
    sosend(tx, sockaddr_in(PEER, 9000), pattern(10), 0, 10, 0);
    clock.advance(SEC);
    drain(rx);
    link.set({ reorder: 0.3, reorderDelayNs: 2_000_000, duplicate: 0.05, loss: 0.03, delayNs: 1_000_000 }, 'ab');
    const sent = new Map<number, Uint8Array>();
    const got: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const size = 2000 + ((i * 977) % 9000);
      const data = pattern(size, i + 100);
      data[0] = i & 0xff;
      data[1] = i >> 8;
      sent.set(i, data);
      assert.equal(sosend(tx, sockaddr_in(PEER, 9000), data, 0, size, 0).error, 0);
      clock.advance(3_000_000);
      got.push(...drain(rx));
    }
    clock.advance(SEC);
    got.push(...drain(rx));
    assert.ok(got.length > 100 && got.length < 200, `delivered ${got.length}`);
    const seen = new Set<number>();
    for (const g of got) {
      const i = (g[0] as number) | ((g[1] as number) << 8);
      assert.ok(Buffer.from(g).equals(Buffer.from(sent.get(i) as Uint8Array)), `datagram ${i} bit-exact`);
      seen.add(i);
    }
    assert.ok(link.ab.stats.reordered > 0 && link.ab.stats.lost > 0);
    clock.advance(31 * SEC);
    assert.equal(b.vnet.ipreass.packets, 0, 'incomplete ones expired');
    assert.equal(b.vnet.ipreass.queued, 0);
  });
});
