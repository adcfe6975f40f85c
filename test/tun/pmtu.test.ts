/*
 * Path MTU with the Linux kernel on the path.
 *
 * Topology: bsdnet ─tun─ R (Linux router, the test's namespace) ─veth, MTU 1280─ P (a second
 * namespace). bsdnet's default routes point at R.
 *  - IPv6: a 1400-byte datagram to P makes R send Packet Too Big (MTU 1280); bsdnet records
 *    it in the host cache and fragments its next datagrams to 1280 at the source; P's
 *    echo (fragmented by P) is reassembled by bsdnet.
 *  - IPv4: a datagram with DF (IP_DONTFRAG) makes R send "fragmentation needed" with
 *    next-hop MTU 1280; bsdnet records it in the host cache.
 *  - Lowering the MTU of the Linux device itself (`ip link set bt0 mtu 1280`) reaches the
 *    bsdnet interface, which then fragments to it (both families), and Linux reassembles.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RemoteInfo } from '../../src/api/dgram.js';
import { AF_INET, AF_INET6, parseAddress, type SockaddrIn } from '../../src/netinet/in.js';
import { IP_DONTFRAG } from '../../src/netinet/ip_ctloutput.js';
import { SOCK_DGRAM } from '../../src/sys/protosw.js';
import { socreate, soclose, sosend, sosetopt } from '../../src/sys/socket.js';
import { IPPROTO_IP, IPPROTO_UDP } from '../../src/wire/ipv4.js';
import { have, LINUX4, LINUX6, Netns, pyUdpEcho, TUNNAME, TunLab, tunSkipReason, waitFor, waitOutput } from './helpers.js';

const skip = tunSkipReason() ?? (have('python3') ? false : 'needs python3');

const P4 = '10.97.0.2';
const P6 = 'fd00:97::2';

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + 5) & 0xff;
  return b;
}

/** R (the lab's namespace) forwards between the tun and a 1280-MTU veth to P. */
function routerLab(): { lab: TunLab; p: Netns; close: () => void } {
  const lab = new TunLab({ routes: true });
  let p: Netns | null = null;
  try {
    p = new Netns('bsdnet-tp');
    const r = lab.ns;
    r.sysctl('net.ipv4.ip_forward', '1');
    r.sysctl('net.ipv6.conf.all.forwarding', '1');
    r.ip('link', 'add', 'vR', 'mtu', '1280', 'type', 'veth', 'peer', 'name', 'vP', 'mtu', '1280', 'netns', p.name);
    r.ip('addr', 'add', '10.97.0.1/24', 'dev', 'vR');
    r.ip('-6', 'addr', 'add', 'fd00:97::1/64', 'dev', 'vR', 'nodad');
    r.ip('link', 'set', 'vR', 'up');
    p.ip('addr', 'add', `${P4}/24`, 'dev', 'vP');
    p.ip('-6', 'addr', 'add', `${P6}/64`, 'dev', 'vP', 'nodad');
    p.ip('link', 'set', 'vP', 'up');
    p.ip('route', 'add', 'default', 'via', '10.97.0.1');
    p.ip('-6', 'route', 'add', 'default', 'via', 'fd00:97::1');
  } catch (e) {
    p?.close();
    lab.close();
    throw e;
  }
  const pp = p;
  return {
    lab,
    p: pp,
    close: () => {
      try {
        lab.close();
      } finally {
        pp.close();
      }
    },
  };
}

describe('tun: path MTU', { skip }, () => {
  it('IPv6: Packet Too Big from a Linux router → host cache → source fragmentation; echo reassembled', async () => {
    const { lab, p, close } = routerLab();
    try {
      const py = pyUdpEcho(p, 6, P6, 9000, 20, 20);
      await waitOutput(py, 'ready');
      const V = lab.V;
      const s = lab.stack.dgram.createSocket('udp6');
      const d = pattern(1400);
      let echo: Buffer | null = null;
      s.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
        if (rinfo.address === P6) echo = msg;
      });
      s.on('error', () => undefined);
      const dst = (parseAddress(P6) as { addr: Uint8Array }).addr;
      for (let i = 0; i < 10 && echo === null; i++) {
        s.send(d, 9000, P6);
        await waitFor(() => echo !== null, 400, 5);
      }
      assert.ok(echo !== null && (echo as Buffer).equals(d), 'the 1400-byte datagram was echoed intact');
      assert.equal(V.hostcache.getMtu(AF_INET6, 0, dst), 1280, 'host cache learned the path MTU');
      assert.ok((V.icmp6.stat.icp6s_inhist[2] ?? 0) >= 1, 'a Packet Too Big arrived');
      assert.ok(V.inet6.stat.ip6s_fragmented >= 1, 'bsdnet fragmented at the source');
      assert.ok(V.inet6.stat.ip6s_reassembled >= 1, 'bsdnet reassembled the echo');
      s.close();
    } finally {
      close();
    }
  });

  it('IPv4: fragmentation needed (DF) from a Linux router → host cache entry with the next-hop MTU', async () => {
    const { lab, close } = routerLab();
    try {
      const V = lab.V;
      const { so } = socreate(V, AF_INET, SOCK_DGRAM, IPPROTO_UDP);
      assert.ok(so);
      assert.equal(sosetopt(so, { level: IPPROTO_IP, name: IP_DONTFRAG, value: 1 }), 0);
      const dst = parseAddress(P4, 9000) as SockaddrIn;
      const d = pattern(1400);
      for (let i = 0; i < 5 && V.hostcache.getMtu(AF_INET, dst.addr, null) === 0; i++) {
        sosend(so, dst, d, 0, d.length, 0);
        await waitFor(() => V.hostcache.getMtu(AF_INET, dst.addr, null) !== 0, 500, 5);
      }
      assert.equal(V.hostcache.getMtu(AF_INET, dst.addr, null), 1280);
      assert.ok((V.icmp.stat.icps_inhist[3] ?? 0) >= 1, 'an ICMP unreachable arrived');
      soclose(so);
    } finally {
      close();
    }
  });

  it('the mtu option sets the device MTU, and both sides agree', () => {
    const lab = new TunLab({ tun: { mtu: 1400 } });
    try {
      assert.equal(lab.ifp.if_mtu, 1400);
      assert.match(lab.ns.ip('link', 'show', TUNNAME), /mtu 1400/);
    } finally {
      lab.close();
    }
  });

  it('lowering the Linux device MTU reaches the bsdnet interface, which fragments to it (both families)', async () => {
    const lab = new TunLab();
    try {
      const V = lab.V;
      assert.equal(lab.ifp.if_mtu, 1500);
      lab.ns.ip('link', 'set', TUNNAME, 'mtu', '1280');
      assert.ok(await waitFor(() => lab.ifp.if_mtu === 1280, 3000), `if_mtu ${lab.ifp.if_mtu}`);
      for (const family of [4, 6] as const) {
        const linux = family === 4 ? LINUX4 : LINUX6;
        const py = pyUdpEcho(lab.ns, family, linux, 9000, 10, 20);
        await waitOutput(py, 'ready');
        const s = lab.stack.dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
        let echo: Buffer | null = null;
        s.on('message', (msg: Buffer) => {
          echo = msg;
        });
        const d = pattern(1400);
        const f0 = family === 4 ? V.inet.stat.ips_fragmented : V.inet6.stat.ip6s_fragmented;
        for (let i = 0; i < 3 && echo === null; i++) {
          s.send(d, 9000, linux);
          await waitFor(() => echo !== null, 1000, 5);
        }
        assert.ok(echo !== null && (echo as Buffer).equals(d), `IPv${family}: echo intact`);
        const f1 = family === 4 ? V.inet.stat.ips_fragmented : V.inet6.stat.ip6s_fragmented;
        assert.ok(f1 > f0, `IPv${family}: bsdnet fragmented to the new MTU`);
        s.close();
      }
    } finally {
      lab.close();
    }
  });
});
