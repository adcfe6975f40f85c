/*
 * Ping across a TUN device, both ways and both families, with the Linux kernel as the
 * peer: Linux `ping` answered by bsdnet, and bsdnet's echo requests (a raw ICMP socket for
 * IPv4, icmp6_send_echo for IPv6) answered by Linux. Also: the driver's counters, and the
 * device disappearing when the stack goes away.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AF_INET, ntop6, parseAddress, type SockaddrIn, sockaddr_in } from '../../src/netinet/in.js';
import { SOCK_RAW } from '../../src/sys/protosw.js';
import { socreate, soclose, soreceive, sosend } from '../../src/sys/socket.js';
import type { Icmp6EchoReply } from '../../src/netinet6/raw_ip6.js';
import { icmp6_send_echo } from '../../src/netinet6/raw_ip6.js';
import { tun_softc } from '../../src/net/if_tun.js';
import { get16, set16 } from '../../src/wire/bytes.js';
import { inCksum } from '../../src/wire/checksum.js';
import { IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { BSD4, BSD6, have, LINUX4, LINUX6, TUNNAME, TunLab, tunSkipReason, waitFor } from './helpers.js';

const skip = tunSkipReason() ?? (have('ping') ? false : 'needs ping (apt-get install iputils-ping)');

function v6(s: string): Uint8Array {
  const sa = parseAddress(s);
  if (sa === null || sa.family === AF_INET) throw new Error(`not IPv6: ${s}`);
  return sa.addr;
}

describe('tun: ping', { skip }, () => {
  it('Linux pings bsdnet (IPv4 and IPv6), the driver counts both ways', async () => {
    const lab = new TunLab();
    try {
      const r4 = await lab.ns.exec('ping', ['-c', '5', '-i', '0.2', '-W', '2', '-s', '1000', BSD4], { timeoutMs: 15_000 });
      assert.match(r4.stdout, /5 packets transmitted, 5 received/, r4.stdout + r4.stderr);
      const r6 = await lab.ns.exec('ping', ['-6', '-c', '5', '-i', '0.2', '-W', '2', BSD6], { timeoutMs: 15_000 });
      assert.match(r6.stdout, /5 packets transmitted, 5 received/, r6.stdout + r6.stderr);
      const d = lab.ifp.if_data;
      assert.ok(d.ipackets >= 10, `ipackets ${d.ipackets}`);
      assert.ok(d.opackets >= 10, `opackets ${d.opackets}`);
      assert.ok(d.ibytes >= 5 * 1028 + 5 * 104, `ibytes ${d.ibytes}`);
      assert.ok(d.obytes >= 5 * 1028 + 5 * 104, `obytes ${d.obytes}`);
      assert.equal(d.iqdrops, 0);
      assert.equal(d.oerrors, 0);
      assert.equal(lab.V.icmp.stat.icps_reflect >= 5, true);
      const st = tun_softc(lab.ifp)?.stats();
      assert.equal(st?.ringDrops, 0);
      assert.equal(st?.rxError, null);
      // Linux agrees on what crossed the device.
      const link = lab.ns.ip('-s', 'link', 'show', TUNNAME);
      assert.match(link, /RX:.*\n\s+\d+\s+(\d+)/);
    } finally {
      lab.close();
    }
  });

  it('bsdnet pings Linux over IPv4 (raw ICMP socket) and IPv6 (icmp6_send_echo)', async () => {
    const lab = new TunLab();
    try {
      const V = lab.V;
      // IPv4: echo requests built by hand on a raw socket; replies come back on it with
      // their IP header (BSD raw socket semantics).
      const { so } = socreate(V, AF_INET, SOCK_RAW, IPPROTO_ICMP);
      assert.ok(so);
      const dst = parseAddress(LINUX4) as SockaddrIn;
      const id = 0x4242;
      const replies = new Set<number>();
      const buf = new Uint8Array(2048);
      const payload = 56;
      for (let seq = 1; seq <= 3; seq++) {
        const p = new Uint8Array(8 + payload);
        p[0] = 8; // ICMP_ECHO
        set16(p, 4, id);
        set16(p, 6, seq);
        for (let i = 0; i < payload; i++) p[8 + i] = (i + seq) & 0xff;
        set16(p, 2, inCksum(p, 0, p.length));
        assert.equal(sosend(so, sockaddr_in(dst.addr), p, 0, p.length, 0).error, 0);
        await waitFor(
          () => {
            for (;;) {
              const r = soreceive(so, buf, 0);
              if (r.error !== 0 || r.len === 0) break;
              const hl = ((buf[0] as number) & 0xf) * 4;
              if (buf[hl] === 0 && get16(buf, hl + 4) === id) replies.add(get16(buf, hl + 6));
            }
            return replies.has(seq);
          },
          3000,
          10,
        );
      }
      soclose(so);
      assert.deepEqual([...replies].sort(), [1, 2, 3]);
      // IPv6.
      const got: Icmp6EchoReply[] = [];
      V.rawip6.listenEcho(0x77, (r) => got.push(r));
      const data = Uint8Array.from({ length: 100 }, (_, i) => i);
      for (let seq = 0; seq < 3; seq++) {
        assert.equal(icmp6_send_echo(V, null, v6(LINUX6), 0x77, seq, data), 0);
        await waitFor(() => got.some((r) => r.seq === seq), 3000, 10);
      }
      assert.deepEqual(
        got.map((r) => r.seq),
        [0, 1, 2],
      );
      assert.equal(ntop6((got[0] as Icmp6EchoReply).src), LINUX6);
      assert.deepEqual([...(got[0] as Icmp6EchoReply).data], [...data]);
    } finally {
      lab.close();
    }
  });

  it('the device goes away at once when the stack is destroyed', () => {
    const lab = new TunLab();
    try {
      assert.match(lab.ns.ip('link', 'show', TUNNAME), new RegExp(TUNNAME));
      const t0 = Date.now();
      lab.stack.destroy();
      const dt = Date.now() - t0;
      assert.ok(dt < 1500, `destroy took ${dt} ms`);
      assert.throws(() => lab.ns.ip('link', 'show', TUNNAME), /does not exist|Command failed/);
    } finally {
      lab.close();
    }
  });
});
