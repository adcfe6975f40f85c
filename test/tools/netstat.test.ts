/*
 * `bsdnet netstat` (src/cli/netstat.ts) against real in-process stacks: sockets (-a, -n,
 * -p, -x, --json), statistics (-s, -ss/-z, -p), routes (-r), interfaces (-i, -b), mbufs
 * (-m); usage and runtime errors. TCP (sockets in every state, -s -p tcp, -V, -x) is in
 * netstat_tcp.test.ts.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Stack } from '../../src/api/stack.js';
import { netstatMain } from '../../src/cli/netstat.js';
import { captured, hosts, settle } from './helpers.js';

async function netstat(s: Stack | undefined, argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const c = captured(s);
  const status = await netstatMain(argv, c.io);
  return { status, out: c.out(), err: c.err() };
}

describe('bsdnet netstat (in-process)', () => {
  it('-a lists every UDP socket (bound, dual-stack, connected) with the stack’s addresses and ports; without -a only connected ones', async () => {
    const h = await hosts();
    try {
      const port = h.conn.address().port;
      const r = await netstat(h.host, ['-an']);
      assert.equal(r.status, 0, r.err);
      const lines = r.out.split('\n');
      assert.equal(lines[0], 'Active Internet connections (including servers)');
      assert.match(lines[1] as string, /^Proto Recv-Q Send-Q Local Address +Foreign Address +\(state\)$/);
      const rows = lines.slice(2).filter((l) => l !== '');
      assert.deepEqual(
        rows.map((l) => l.split(/ +/)).sort(),
        [
          ['udp4', '0', '0', '*.5353', '*.*'],
          ['udp4', '0', '0', `10.0.0.1.${port}`, '10.0.0.2.9999'],
          ['udp46', '0', '0', '*.7000', '*.*'],
        ].sort(),
      );
      assert.equal(rows.length, (h.host.sysctlGet('net.inet.udp.pcblist') as unknown[]).length);
      const plain = await netstat(h.host, ['-n']);
      assert.equal(plain.status, 0);
      assert.equal(plain.out.split('\n')[0], 'Active Internet connections');
      assert.deepEqual(
        plain.out
          .split('\n')
          .slice(2)
          .filter((l) => l !== '')
          .map((l) => l.split(/ +/)),
        [['udp4', '0', '0', `10.0.0.1.${port}`, '10.0.0.2.9999']],
      );
      // -f inet6 keeps the dual-stack socket only; -p raw shows no UDP.
      const six = await netstat(h.host, ['-a', '-f', 'inet6']);
      assert.deepEqual(
        six.out
          .split('\n')
          .slice(2)
          .filter((l) => l !== '')
          .map((l) => l.split(/ +/)[0]),
        ['udp46'],
      );
      const raw = await netstat(h.host, ['-a', '-p', 'raw']);
      assert.equal(raw.status, 0);
      assert.equal(
        raw.out
          .split('\n')
          .slice(2)
          .filter((l) => l !== '').length,
        0,
      );
    } finally {
      h.destroy();
    }
  });

  it('Recv-Q and -x show the socket buffers as the stack has them; --json gives the same rows', async () => {
    const h = await hosts();
    try {
      // Fill the peer's receive buffer: no 'message' listener reads it... the API may; compare with pcblist either way.
      for (let i = 0; i < 3; i++) h.conn.send('hello');
      h.clock.advance(10e6);
      await settle();
      const r = await netstat(h.peer, ['-anx']);
      assert.equal(r.status, 0, r.err);
      const row = r.out.split('\n').find((l) => l.includes('10.0.0.2.9999')) as string;
      assert.ok(row, r.out);
      const f = row.split(/ +/);
      const rec = (h.peer.sysctlGet('net.inet.udp.pcblist') as Record<string, number>[]).find((x) => x.lport === 9999) as Record<string, number>;
      assert.deepEqual(f.slice(0, 4), ['udp4', String(rec.rcvq), String(rec.sndq), '10.0.0.2.9999']);
      assert.deepEqual(f.slice(5, 13).map(Number), [
        rec.rcv_hiwat,
        rec.snd_hiwat,
        rec.rcv_lowat,
        rec.snd_lowat,
        rec.rcv_mbcnt,
        rec.snd_mbcnt,
        rec.rcv_mbmax,
        rec.snd_mbmax,
      ]);
      assert.equal(rec.rcv_hiwat, h.sink.getRecvBufferSize());
      assert.equal(rec.snd_hiwat, h.sink.getSendBufferSize());
      const j = await netstat(h.host, ['-a', '--json']);
      const rows = JSON.parse(j.out) as { name: string; lport: number; faddr: string; fport: number }[];
      assert.deepEqual(
        rows.map((x) => `${x.name} ${x.lport} ${x.faddr}.${x.fport}`).sort(),
        [`udp4 ${h.conn.address().port} 10.0.0.2.9999`, 'udp4 5353 0.0.0.0.0', 'udp46 7000 ::.0'].sort(),
      );
    } finally {
      h.destroy();
    }
  });

  it('-s prints the protocols’ counters in BSD wording; -ss and -z suppress zero lines; -p selects', async () => {
    const h = await hosts();
    try {
      for (let i = 0; i < 4; i++) h.conn.send('hello');
      h.clock.advance(10e6);
      await settle();
      const udp = h.host.sysctlGet('net.inet.udp.stats') as Record<string, number>;
      assert.equal(udp.udps_opackets, 4);
      const r = await netstat(h.host, ['-s', '-p', 'udp']);
      assert.equal(r.status, 0, r.err);
      assert.ok(r.out.startsWith('udp:\n'));
      assert.ok(r.out.includes('\t4 datagrams output\n'), r.out);
      assert.ok(r.out.includes('\t0 with incomplete header\n'), 'single -s shows zero lines');
      const z = await netstat(h.host, ['-ss', '-p', 'udp']);
      assert.equal(z.out, 'udp:\n\t4 datagrams output\n');
      const z2 = await netstat(h.host, ['-s', '-z', '-p', 'udp']);
      assert.equal(z2.out, z.out);
      // Every protocol with a stats node, in FreeBSD's order; TCP only once it exists.
      const all = await netstat(h.host, ['-ss']);
      const heads = all.out.split('\n').filter((l) => /^[a-z0-9]+:$/.test(l));
      const expected = ['udp:', 'ip:', 'icmp:', 'arp:', 'ip6:', 'icmp6:', 'rip6:'];
      if (h.host.vnet.sysctl.find('net.inet.tcp.stats')) expected.unshift('tcp:');
      assert.deepEqual(heads, expected);
      const ip = h.host.sysctlGet('net.inet.ip.stats') as Record<string, number>;
      assert.ok(all.out.includes(`\t${ip.ips_localout} packets sent from this host\n`));
      const arp = h.host.sysctlGet('net.link.ether.arp.stats') as Record<string, number>;
      assert.ok(arp.txrequests >= 1);
      assert.ok(all.out.includes(`\t${arp.txrequests} ARP request${arp.txrequests === 1 ? '' : 's'} sent\n`), all.out);
      // Peer side: histograms print only non-zero entries.
      const icmp6 = await netstat(h.host, ['-s', '-p', 'icmp6']);
      const hist = (h.host.sysctlGet('net.inet6.icmp6.stats') as { icp6s_outhist: number[] }).icp6s_outhist;
      if ((hist[135] ?? 0) > 0) assert.ok(icmp6.out.includes(`\t\tneighbor solicitation: ${hist[135]}\n`), icmp6.out);
      const j = await netstat(h.host, ['-s', '-p', 'ip', '--json']);
      assert.deepEqual(JSON.parse(j.out), { ip });
    } finally {
      h.destroy();
    }
  });

  it('-r shows both routing tables with BSD flags; -f selects; --json is net.route.table', async () => {
    const h = await hosts();
    try {
      const r = await netstat(h.host, ['-rn']);
      assert.equal(r.status, 0, r.err);
      const lines = r.out.split('\n');
      assert.equal(lines[0], 'Routing tables');
      const row = (dst: string): string[] => (lines.find((l) => l.startsWith(`${dst} `)) ?? '').trim().split(/ +/);
      assert.deepEqual(row('192.168.0.0/16'), ['192.168.0.0/16', '10.0.0.254', 'UGS', 'epair0a']);
      assert.deepEqual(row('10.0.0.0/24'), ['10.0.0.0/24', `link#${h.ha.if_index}`, 'U', 'epair0a']);
      assert.deepEqual(row('127.0.0.1'), ['127.0.0.1', 'link#1', 'UH', 'lo0']);
      assert.deepEqual(row('2001:db8:99::/48'), ['2001:db8:99::/48', '2001:db8::fe', 'UGS', 'epair0a']);
      assert.ok(lines.includes('Internet:') && lines.includes('Internet6:'));
      // Every route of the stack is a row.
      const table = h.host.sysctlGet('net.route.table') as unknown[];
      const rows = lines.filter((l) => /^[0-9a-f:.]+(\/\d+)? /.test(l) || l.startsWith('default '));
      assert.equal(rows.length, table.length);
      assert.equal(table.length, h.host.sysctlGet('net.route.count'));
      const v4 = await netstat(h.host, ['-rn', '-f', 'inet']);
      assert.ok(!v4.out.includes('Internet6:'));
      h.host.addRoute('default', '10.0.0.254');
      const d = await netstat(h.host, ['-rnW']);
      assert.match(d.out, /^default +10\.0\.0\.254 +UGS +0 +1500 +epair0a$/m);
      const j = await netstat(h.host, ['-r', '--json']);
      assert.deepEqual(JSON.parse(j.out), h.host.sysctlGet('net.route.table'));
    } finally {
      h.destroy();
    }
  });

  it('-i and -ib show every interface with MTU, link address, addresses and the driver counters', async () => {
    const h = await hosts();
    try {
      for (let i = 0; i < 5; i++) h.conn.send('hello');
      h.clock.advance(10e6);
      await settle();
      const d = h.ha.if_data;
      assert.ok(d.opackets >= 5);
      const r = await netstat(h.host, ['-i']);
      assert.equal(r.status, 0, r.err);
      const lines = r.out.trimEnd().split('\n');
      assert.deepEqual(lines[0]?.split(/ +/), ['Name', 'Mtu', 'Network', 'Address', 'Ipkts', 'Ierrs', 'Idrop', 'Opkts', 'Oerrs', 'Coll']);
      const link = lines.find((l) => l.startsWith('epair0a ') && l.includes('<Link#')) as string;
      const mac = [...h.ha.if_lladdr].map((b) => b.toString(16).padStart(2, '0')).join(':');
      assert.deepEqual(link.split(/ +/), [
        'epair0a',
        '1500',
        `<Link#${h.ha.if_index}>`,
        mac,
        ...[d.ipackets, d.ierrors, d.iqdrops, d.opackets, d.oerrors, d.collisions].map(String),
      ]);
      assert.ok(lines.some((l) => /^epair0a +- +10\.0\.0\.0\/24 +10\.0\.0\.1 /.test(l)));
      assert.ok(lines.some((l) => /^epair0a +- +2001:db8::\/64 +2001:db8::1 /.test(l)));
      assert.ok(lines.some((l) => /^lo0 +16384 +<Link#1>/.test(l)));
      const b = await netstat(h.host, ['-ib']);
      const bl = b.out.split('\n').find((l) => l.startsWith('epair0a ') && l.includes('<Link#')) as string;
      assert.deepEqual(bl.split(/ +/).slice(4), [d.ipackets, d.ierrors, d.iqdrops, d.ibytes, d.opackets, d.oerrors, d.obytes, d.collisions].map(String));
      // A downed interface is marked with '*'.
      h.host.setUp(h.ha, false);
      const down = await netstat(h.host, ['-i']);
      assert.match(down.out, /^epair0a\* +1500 /m);
      const j = await netstat(h.host, ['-i', '--json']);
      assert.deepEqual(JSON.parse(j.out), h.host.sysctlGet('net.link.ifdata'));
    } finally {
      h.destroy();
    }
  });

  it('-m shows mbuf and zone usage from vm.zone', async () => {
    const h = await hosts();
    try {
      const r = await netstat(h.host, ['-m']);
      assert.equal(r.status, 0, r.err);
      const zones = h.host.sysctlGet('vm.zone') as { name: string; used: number; free: number; limit: number; requests: number }[];
      const m = zones.find((z) => z.name === 'mbuf') as (typeof zones)[0];
      const c = zones.find((z) => z.name === 'mbuf_cluster') as (typeof zones)[0];
      assert.ok(r.out.startsWith(`${m.used}/${m.free}/${m.used + m.free} mbufs in use (current/cache/total)\n`), r.out);
      assert.ok(r.out.includes(`${c.used}/${c.free}/${c.used + c.free}/${c.limit} mbuf clusters in use (current/cache/total/max)\n`));
      for (const z of zones) assert.match(r.out, new RegExp(`^${z.name}: +\\d+ +${z.limit} +${z.used} +${z.free} +${z.requests} `, 'm'));
    } finally {
      h.destroy();
    }
  });

  it('errors: unknown flag, unknown protocol, two modes (status 2); missing control socket (status 1)', async () => {
    for (const argv of [['-Q'], ['-p', 'bogus'], ['-r', '-i'], ['-f', 'ipx'], ['extra']]) {
      const r = await netstat(undefined, argv);
      assert.equal(r.status, 2, argv.join(' '));
      assert.match(r.err, /usage: bsdnet netstat/);
    }
    const r = await netstat(undefined, ['-an', '--attach', '/nonexistent/bsdnet.sock']);
    assert.equal(r.status, 1);
    assert.equal(r.err, 'netstat: cannot attach to /nonexistent/bsdnet.sock: no such control socket\n');
  });
});
