/*
 * The node:dgram-compatible API (src/api/dgram.ts over src/netinet/udp_usrreq.ts,
 * in_pcb.ts, src/sys/socket.ts) between two Stacks on a simulated Ethernet, in virtual
 * time: bind/listening, send callbacks, 'message' with rinfo, connect/remoteAddress,
 * errors with Node codes (EADDRINUSE, ECONNREFUSED after a port unreachable, EACCES for
 * broadcast without setBroadcast, EMSGSIZE, ERR_SOCKET_*), SO_REUSEADDR/SO_REUSEPORT,
 * ephemeral ports in net.inet.ip.portrange.first..last, broadcast, v4-mapped addresses on
 * udp6 sockets and ipv6Only, TTL and buffer sizes — for udp4 and udp6.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { RemoteInfo, UdpSocket } from '../../src/api/dgram.js';
import { destroyStacks, MS, pattern, settle, tick, twoStacks } from '../netinet/helpers.js';

afterEach(destroyStacks);

type Msg = { msg: Buffer; rinfo: RemoteInfo };

function collect(s: UdpSocket): Msg[] {
  const got: Msg[] = [];
  s.on('message', (msg: Buffer, rinfo: RemoteInfo) => got.push({ msg, rinfo }));
  return got;
}

function errors(s: UdpSocket): (Error & { code?: string })[] {
  const errs: (Error & { code?: string })[] = [];
  s.on('error', (e: Error) => errs.push(e));
  return errs;
}

function sendP(s: UdpSocket, ...args: unknown[]): Promise<{ err: (Error & { code?: string }) | null; n: number }> {
  return new Promise((resolve) => s.send(...(args as [Buffer]), (err: Error | null, n: number) => resolve({ err, n })));
}

for (const fam of ['udp4', 'udp6'] as const) {
  const A = fam === 'udp4' ? '10.0.0.1' : '2001:db8::1';
  const B = fam === 'udp4' ? '10.0.0.2' : '2001:db8::2';
  const FAMILY = fam === 'udp4' ? 'IPv4' : 'IPv6';

  describe(`dgram ${fam}`, () => {
    it("binds, emits 'listening', receives with rinfo, and send callbacks report the bytes", async () => {
      const { clock, a, b } = twoStacks();
      const srv = b.dgram.createSocket(fam);
      let listening = false;
      srv.bind(4000, () => {
        listening = true;
      });
      await tick();
      assert.ok(listening);
      assert.deepEqual(srv.address(), { address: fam === 'udp4' ? '0.0.0.0' : '::', family: FAMILY, port: 4000 });
      const got = collect(srv);
      const cli = a.dgram.createSocket(fam);
      const p = sendP(cli, Buffer.from('hello'), 4000, B);
      await settle(clock, 50 * MS);
      const r = await p;
      assert.equal(r.err, null);
      assert.equal(r.n, 5);
      assert.equal(got.length, 1);
      const m = got[0] as Msg;
      assert.equal(m.msg.toString(), 'hello');
      assert.equal(m.rinfo.address, A);
      assert.equal(m.rinfo.family, FAMILY);
      assert.equal(m.rinfo.size, 5);
      const cport = cli.address().port;
      assert.equal(m.rinfo.port, cport);
      assert.ok(cport >= 10000 && cport <= 65535, `ephemeral port ${cport} in net.inet.ip.portrange`);
      // Reply to the sender.
      const back = collect(cli);
      srv.send('world', m.rinfo.port, m.rinfo.address);
      await settle(clock, 50 * MS);
      assert.equal(back[0]?.msg.toString(), 'world');
      assert.equal(back[0]?.rinfo.address, B);
      cli.close();
      srv.close();
    });

    it('send(msg, offset, length, port, address) and arrays of buffers', async () => {
      const { clock, a, b } = twoStacks();
      const srv = b.dgram.createSocket(fam).bind(4001);
      const got = collect(srv);
      const cli = a.dgram.createSocket(fam);
      cli.send(Buffer.from('0123456789'), 2, 3, 4001, B);
      cli.send([Buffer.from('ab'), 'cd'], 4001, B);
      await settle(clock, 50 * MS);
      assert.deepEqual(
        got.map((g) => g.msg.toString()),
        ['234', 'abcd'],
      );
    });

    it('connect: remoteAddress, sends without an address, and filters other senders', async () => {
      const { clock, a, b } = twoStacks();
      const srv = b.dgram.createSocket(fam).bind(4002);
      const other = b.dgram.createSocket(fam).bind(4003);
      const got = collect(srv);
      const cli = a.dgram.createSocket(fam);
      let connected = false;
      cli.connect(4002, B, () => {
        connected = true;
      });
      await tick();
      assert.ok(connected);
      assert.deepEqual(cli.remoteAddress(), { address: B, family: FAMILY, port: 4002 });
      assert.throws(() => cli.send('x', 4002, B), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
      assert.throws(() => cli.connect(4002, B), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
      cli.send('via connect');
      await settle(clock, 50 * MS);
      assert.equal(got[0]?.msg.toString(), 'via connect');
      const heard = collect(cli);
      other.send('stranger', cli.address().port, A);
      srv.send('peer', cli.address().port, A);
      await settle(clock, 50 * MS);
      assert.deepEqual(
        heard.map((h) => h.msg.toString()),
        ['peer'],
        'a connected socket only hears its peer',
      );
      cli.disconnect();
      assert.throws(() => cli.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
    });

    it('a connected socket gets ECONNREFUSED after an ICMP port unreachable', async () => {
      const { clock, a } = twoStacks();
      const cli = a.dgram.createSocket(fam);
      const errs = errors(cli);
      cli.connect(4999, B);
      await tick();
      cli.send('anyone?');
      await settle(clock, 50 * MS);
      assert.equal(errs.length, 1);
      assert.equal(errs[0]?.code, 'ECONNREFUSED');
      assert.equal((errs[0] as { syscall?: string }).syscall, 'recvmsg');
      // An unconnected socket is not told (FreeBSD udp_ctlinput).
      const un = a.dgram.createSocket(fam);
      const errs2 = errors(un);
      un.send('anyone?', 4999, B);
      await settle(clock, 50 * MS);
      assert.equal(errs2.length, 0);
    });

    it('EADDRINUSE without reuse; SO_REUSEADDR and SO_REUSEPORT let sockets share a port', async () => {
      const { b } = twoStacks();
      const s1 = b.dgram.createSocket(fam).bind(5000);
      const s2 = b.dgram.createSocket(fam);
      const errs = errors(s2);
      s2.bind(5000);
      await tick();
      assert.equal(errs[0]?.code, 'EADDRINUSE');
      assert.equal((errs[0] as { syscall?: string }).syscall, 'bind');
      s1.close();
      const r1 = b.dgram.createSocket({ type: fam, reusePort: true }).bind(5001);
      const r2 = b.dgram.createSocket({ type: fam, reusePort: true });
      const e2 = errors(r2);
      r2.bind(5001);
      await tick();
      assert.equal(e2.length, 0);
      assert.equal(r2.address().port, 5001);
      const n1 = b.dgram.createSocket({ type: fam, reuseAddr: true }).bind(5002, B);
      const n2 = b.dgram.createSocket({ type: fam, reuseAddr: true });
      const e3 = errors(n2);
      n2.bind(5002);
      await tick();
      assert.equal(e3.length, 0, 'SO_REUSEADDR: a wildcard beside a specific address');
      void r1;
      void n1;
    });

    it('binding an address that is not ours is EADDRNOTAVAIL; bad ports are ERR_SOCKET_BAD_PORT', async () => {
      const { b } = twoStacks();
      const s = b.dgram.createSocket(fam);
      const errs = errors(s);
      s.bind(6000, A);
      await tick();
      assert.equal(errs[0]?.code, 'EADDRNOTAVAIL');
      const t = b.dgram.createSocket(fam);
      assert.throws(() => t.bind(70000), { code: 'ERR_SOCKET_BAD_PORT' });
      assert.throws(() => t.send('x', 0, A), { code: 'ERR_SOCKET_BAD_PORT' });
      t.bind(0);
      await tick();
      assert.throws(() => t.bind(0), { code: 'ERR_SOCKET_ALREADY_BOUND' });
      t.close();
      assert.throws(() => t.send('x', 1, A), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
      assert.throws(() => t.close(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    });

    it('ephemeral ports are random within net.inet.ip.portrange.first..last', async () => {
      const { a } = twoStacks();
      a.sysctlSet('net.inet.ip.portrange.first', 20000);
      a.sysctlSet('net.inet.ip.portrange.last', 20063);
      const ports = new Set<number>();
      const socks: UdpSocket[] = [];
      for (let i = 0; i < 64; i++) {
        const s = a.dgram.createSocket(fam).bind(0);
        socks.push(s);
        ports.add(s.address().port);
      }
      assert.equal(ports.size, 64, 'all distinct');
      assert.ok([...ports].every((p) => p >= 20000 && p <= 20063));
      const s = a.dgram.createSocket(fam);
      const errs = errors(s);
      s.bind(0);
      await tick();
      assert.equal(errs[0]?.code, 'EADDRNOTAVAIL', 'range exhausted');
      const seq = [...socks.slice(0, 8)].map((x) => x.address().port);
      assert.notDeepEqual(
        seq,
        [...seq].sort((x, y) => x - y),
        'randomised, not sequential',
      );
    });

    it('a datagram larger than 65507 (IPv4) / 65527 (IPv6) bytes is EMSGSIZE; a large one crosses bit-exact', async () => {
      const { clock, a, b } = twoStacks();
      b.sysctlSet('net.inet.ip.maxfragsperpacket', 64);
      b.sysctlSet('net.inet6.ip6.maxfragsperpacket', 64);
      const srv = b.dgram.createSocket({ type: fam, recvBufferSize: 1 << 20 }).bind(4010);
      const got = collect(srv);
      const cli = a.dgram.createSocket(fam);
      // Resolve the neighbour first (the hold queue is 16 packets).
      cli.send('x', 4010, B);
      await settle(clock, 50 * MS);
      const data = pattern(30000, 77);
      const r = sendP(cli, data, 4010, B);
      await settle(clock, 50 * MS);
      assert.equal((await r).err, null);
      assert.equal(got.length, 2);
      assert.ok((got[1] as Msg).msg.equals(Buffer.from(data)));
      const max = fam === 'udp4' ? 65507 : 65527;
      const r2 = await sendP(cli, Buffer.alloc(max + 1), 4010, B);
      assert.equal(r2.err?.code, 'EMSGSIZE');
    });

    it('setTTL / buffer sizes: validated, applied, readable', async () => {
      const { clock, a, b, link } = twoStacks();
      const srv = b.dgram.createSocket(fam).bind(4020);
      const cli = a.dgram.createSocket(fam);
      assert.throws(() => cli.setTTL(7), { code: 'EBADF' }, 'not bound yet');
      cli.bind(0);
      assert.equal(cli.setTTL(7), 7);
      assert.throws(() => cli.setTTL(0), { code: 'EINVAL' });
      const seen: number[] = [];
      link.ab.stats.delivered = 0;
      const orig = link.b.if_input;
      link.b.if_input = (ifp, m) => {
        const bytes = Uint8Array.from(m.m_buf.subarray(m.m_data, m.m_data + Math.min(m.m_len, 60)));
        const et = (bytes[12] as number) * 256 + (bytes[13] as number);
        if (et === 0x0800 && bytes[23] === 17) seen.push(bytes[22] as number);
        if (et === 0x86dd && bytes[20] === 17) seen.push(bytes[21] as number);
        orig(ifp, m);
      };
      cli.send('ttl', 4020, B);
      await settle(clock, 50 * MS);
      assert.deepEqual(seen, [7]);
      cli.setRecvBufferSize(100000);
      assert.equal(cli.getRecvBufferSize(), 100000);
      cli.setSendBufferSize(70000);
      assert.equal(cli.getSendBufferSize(), 70000);
      assert.throws(() => cli.setRecvBufferSize(1 << 30), { code: 'ERR_SOCKET_BUFFER_SIZE' }, 'above kern.ipc.maxsockbuf');
      srv.close();
    });
  });
}

describe('dgram udp4 only', () => {
  it('broadcast needs setBroadcast (EACCES before), reaches every reuseAddr listener (SO_REUSEPORT as libuv on BSD)', async () => {
    const { clock, a, b } = twoStacks();
    const l1 = b.dgram.createSocket({ type: 'udp4', reuseAddr: true }).bind(4100);
    const l2 = b.dgram.createSocket({ type: 'udp4', reuseAddr: true }).bind(4100);
    const g1 = collect(l1);
    const g2 = collect(l2);
    const cli = a.dgram.createSocket('udp4').bind(0);
    await tick();
    const r = await sendP(cli, 'all', 4100, '10.0.0.255');
    assert.equal(r.err?.code, 'EACCES');
    cli.setBroadcast(true);
    cli.send('all', 4100, '10.0.0.255');
    // As on FreeBSD, the limited broadcast needs a route (route add 255.255.255.255 -iface).
    const r2 = await sendP(cli, 'nobody', 4100, '255.255.255.255');
    assert.equal(r2.err?.code, 'EHOSTUNREACH');
    a.addRoute('255.255.255.255/32', null, { interface: a.vnet.ifnet.byname('sim0') });
    cli.send('everyone', 4100, '255.255.255.255');
    await settle(clock, 50 * MS);
    assert.deepEqual(
      g1.map((g) => g.msg.toString()),
      ['all', 'everyone'],
    );
    assert.deepEqual(
      g2.map((g) => g.msg.toString()),
      ['all', 'everyone'],
    );
    assert.equal(g1[0]?.rinfo.address, '10.0.0.1');
  });

  it('udp4 refuses IPv6 addresses with EINVAL; unresolvable names ENOTFOUND', async () => {
    const { a } = twoStacks();
    const s = a.dgram.createSocket('udp4');
    const r = await sendP(s, 'x', 1, '2001:db8::2');
    assert.equal(r.err?.code, 'EINVAL');
    const r2 = await sendP(s, 'x', 1, 'no.such.host');
    assert.equal(r2.err?.code, 'ENOTFOUND');
  });
});

describe('dgram udp6 and IPv4', () => {
  it('a dual-stack udp6 socket receives IPv4 datagrams from a v4-mapped address and answers them', async () => {
    const { clock, a, b } = twoStacks();
    const srv = b.dgram.createSocket('udp6').bind(4200);
    const got = collect(srv);
    const cli = a.dgram.createSocket('udp4');
    const back = collect(cli);
    cli.send('v4', 4200, '10.0.0.2');
    await settle(clock, 50 * MS);
    assert.equal(got.length, 1);
    assert.equal(got[0]?.rinfo.address, '::ffff:10.0.0.1');
    assert.equal(got[0]?.rinfo.family, 'IPv6');
    srv.send('back', got[0]?.rinfo.port as number, '::ffff:10.0.0.1');
    await settle(clock, 50 * MS);
    assert.equal(back[0]?.msg.toString(), 'back');
    assert.equal(back[0]?.rinfo.address, '10.0.0.2');
  });

  it('ipv6Only refuses IPv4: the v4 sender gets a port unreachable', async () => {
    const { clock, a, b } = twoStacks();
    const srv = b.dgram.createSocket({ type: 'udp6', ipv6Only: true }).bind(4201);
    const got = collect(srv);
    const cli = a.dgram.createSocket('udp4');
    const errs = errors(cli);
    cli.connect(4201, '10.0.0.2');
    await tick();
    cli.send('v4');
    await settle(clock, 50 * MS);
    assert.equal(got.length, 0);
    assert.equal(errs[0]?.code, 'ECONNREFUSED');
    // And a v4-mapped destination from a v6-only socket is refused.
    const r = await sendP(srv, 'x', 4000, '::ffff:10.0.0.1');
    assert.ok(r.err !== null);
  });

  it('udp4 and a dual-stack udp6 socket on the same port conflict; with ipv6Only they do not', async () => {
    const { b } = twoStacks();
    b.dgram.createSocket('udp4').bind(4300);
    const s6 = b.dgram.createSocket('udp6');
    const errs = errors(s6);
    s6.bind(4300);
    await tick();
    assert.equal(errs[0]?.code, 'EADDRINUSE');
    const o6 = b.dgram.createSocket({ type: 'udp6', ipv6Only: true });
    const e2 = errors(o6);
    o6.bind(4300);
    await tick();
    assert.equal(e2.length, 0);
  });
});

describe('dgram on the wire', () => {
  it('IPv4 UDP checksums are computed on a simulated link (no offload) and verified by the receiver', async () => {
    const { clock, a, b, link } = twoStacks({ corrupt: 0 });
    const srv = b.dgram.createSocket('udp4').bind(4400);
    const got = collect(srv);
    const cli = a.dgram.createSocket('udp4');
    cli.send('warm-up', 4400, '10.0.0.2');
    await settle(clock, 50 * MS);
    link.set({ corrupt: 1 }, 'ab');
    for (let i = 0; i < 20; i++) cli.send(pattern(200, i), 4400, '10.0.0.2');
    await settle(clock, 50 * MS);
    assert.equal(got.length, 1, 'every corrupted datagram was caught');
    assert.ok(link.ab.stats.corrupted >= 20);
    assert.ok(b.vnet.udp.stat.udps_badsum + b.vnet.inet.stat.ips_badsum > 0, 'caught by the UDP or IP checksum');
  });
});
