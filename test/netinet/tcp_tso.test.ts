/*
 * TSO over the epair (tcp_mss sets TF_TSO when the route's interface has IFCAP_TSO4/6; the
 * epair carries the burst whole, like a veth pair): bursts larger than the MTU appear on an
 * on-link path, never through a gateway (a router would have to forward them onto a link
 * that cannot carry them), and data arrives intact both ways.
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Stack } from '../../src/api/stack.js';
import { VirtualClock } from '../../src/kern/clock.js';
import { BPF_D_OUT, BpfTap } from '../../src/net/bpf.js';
import type { Ifnet } from '../../src/net/if.js';
import { AF_INET, parseAddress, sockaddr_in } from '../../src/netinet/in.js';
import { SOCK_STREAM } from '../../src/sys/protosw.js';
import { type Socket, soaccept, sobind, soconnect, socreate, solisten, soreceive, sosend } from '../../src/sys/socket.js';

function transfer(clock: VirtualClock, client: Stack, server: Stack, dst: string, size: number): { ok: boolean } {
  const ls = socreate(server.vnet, AF_INET, SOCK_STREAM, 0).so as Socket;
  sobind(ls, sockaddr_in(0, 9000));
  solisten(ls, 1);
  const cs = socreate(client.vnet, AF_INET, SOCK_STREAM, 0).so as Socket;
  soconnect(cs, parseAddress(dst, 9000) as NonNullable<ReturnType<typeof parseAddress>>);
  clock.advance(2_000_000_000);
  const ss = soaccept(ls).so as Socket;
  assert.ok(ss, 'accepted');
  const data = new Uint8Array(size).map((_, i) => (i * 131) & 0xff);
  const h1 = createHash('sha256').update(data).digest('hex');
  const h2 = createHash('sha256');
  const buf = new Uint8Array(65536);
  let sent = 0;
  let got = 0;
  for (let it = 0; it < 200_000 && got < size; it++) {
    if (sent < size) sent += sosend(cs, null, data, sent, Math.min(65536, size - sent), 0).sent;
    clock.advance(1_000_000);
    for (let r = soreceive(ss, buf, 0); r.len > 0; r = soreceive(ss, buf, 0)) {
      h2.update(buf.subarray(0, r.len));
      got += r.len;
    }
  }
  return { ok: got === size && h2.digest('hex') === h1 };
}

function maxFrame(ifp: Ifnet): { max: () => number } {
  let max = 0;
  new BpfTap(ifp, (_d, len) => {
    if (len > max) max = len;
  }).direction = BPF_D_OUT;
  return { max: () => max };
}

describe('TSO over epair', () => {
  it('sends bursts larger than the MTU to an on-link peer, intact', () => {
    const clock = new VirtualClock();
    const a = new Stack({ name: 'a', clock, seed: 1 });
    const b = new Stack({ name: 'b', clock, seed: 2 });
    const [ia, ib] = Stack.epair(a, b);
    a.addAddress(ia, '10.5.0.1/24');
    b.addAddress(ib, '10.5.0.2/24');
    a.setUp(ia, true);
    b.setUp(ib, true);
    const f = maxFrame(ia);
    assert.ok(transfer(clock, a, b, '10.5.0.2', 4 << 20).ok);
    assert.ok(f.max() > 1514, `largest frame ${f.max()}`);
  });

  it('keeps segments within the MTU through a gateway, so a router can forward them', () => {
    const clock = new VirtualClock();
    const h1 = new Stack({ name: 'h1', clock, seed: 1 });
    const r = new Stack({ name: 'r', clock, seed: 2 });
    const h2 = new Stack({ name: 'h2', clock, seed: 3 });
    const [i1, ir1] = Stack.epair(h1, r);
    const link = Stack.link(r, h2, { delayNs: 1_000_000 });
    h1.addAddress(i1, '10.1.0.2/24');
    r.addAddress(ir1, '10.1.0.1/24');
    r.addAddress(link.a, '10.2.0.1/24');
    h2.addAddress(link.b, '10.2.0.2/24');
    for (const [s, i] of [
      [h1, i1],
      [r, ir1],
      [r, link.a],
      [h2, link.b],
    ] as const)
      s.setUp(i, true);
    h1.addRoute('default', '10.1.0.1');
    h2.addRoute('default', '10.2.0.1');
    r.sysctlSet('net.inet.ip.forwarding', true);
    const f = maxFrame(i1);
    assert.ok(transfer(clock, h1, h2, '10.2.0.2', 2 << 20).ok, 'through the router');
    assert.ok(f.max() <= 1514, `largest frame ${f.max()}`);
    assert.equal(r.vnet.inet.stat.ips_cantfrag, 0);
  });
});
