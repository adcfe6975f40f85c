/*
 * The control channel end to end: a stack in a CHILD process (child_stack.ts) serves its
 * sysctl tree on a Unix socket, and `node bin/bsdnet.js sysctl|netstat|tcpdump --attach`
 * read it. Every output is checked against the child's state as the channel reports it
 * (connectControl), writes go through and obey the node's range, errors exit non-zero, and
 * the captured pcap is checked by parsing it and, if installed, by tshark.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ControlClient, connectControl } from '../../src/api/control.js';
import { parsePcap } from '../../src/net/pcap.js';
import { bsdnet, type Child, haveTshark, startChild, tmpDir } from './helpers.js';

describe('--attach to a stack in a child process', () => {
  let child: Child;
  let tmp: ReturnType<typeof tmpDir>;
  let sock: string;
  let client: ControlClient;

  before(async () => {
    tmp = tmpDir();
    sock = join(tmp.dir, 'ctl.sock');
    child = await startChild(sock);
    client = await connectControl(sock);
  });

  after(async () => {
    client?.close();
    await child?.stop();
    tmp?.cleanup();
  });

  it('the channel answers get/list/describe with the child stack’s tree', async () => {
    assert.equal(client.name, 'host');
    assert.equal(await client.get('kern.hostname'), 'host');
    const info = await client.describe('net.inet.ip.ttl');
    assert.deepEqual({ kind: info.kind, writable: info.writable, min: info.min, max: info.max }, { kind: 'int', writable: true, min: 1, max: 255 });
    const nodes = await client.list('net.inet.udp', { values: true });
    assert.ok(nodes.some((n) => n.name === 'net.inet.udp.maxdgram' && n.value === 9216));
    await assert.rejects(client.get('no.such'), (e: Error & { code?: string }) => e.code === 'ENOENT');
  });

  it('sysctl reads, writes (type and range enforced) and refuses read-only nodes through --attach', async () => {
    let r = await bsdnet(['sysctl', '--attach', sock, 'kern.hostname', 'net.inet.ip.ttl']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `kern.hostname: host\nnet.inet.ip.ttl: ${await client.get('net.inet.ip.ttl')}\n`);
    r = await bsdnet(['sysctl', '--attach', sock, 'net.inet.ip.ttl=33']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'net.inet.ip.ttl: 64 -> 33\n');
    assert.equal(await client.get('net.inet.ip.ttl'), 33);
    r = await bsdnet(['sysctl', '--attach', sock, 'net.inet.ip.ttl=1000']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'sysctl: net.inet.ip.ttl: value 1000 out of range [1, 255]\n');
    assert.equal(await client.get('net.inet.ip.ttl'), 33);
    r = await bsdnet(['sysctl', '--attach', sock, 'kern.ostype=x']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "sysctl: oid 'kern.ostype' is read only\n");
    await assert.rejects(client.set('net.inet.udp.stats', '1'), (e: Error & { code?: string }) => e.code === 'EPERM');
    await assert.rejects(client.set('net.inet.udp.checksum', 'maybe'), (e: Error & { code?: string }) => e.code === 'EINVAL');
    r = await bsdnet(['sysctl', '--attach', sock, '-a']);
    assert.equal(r.status, 0);
    const names = (await client.list('')).filter((n) => n.kind !== 'struct').map((n) => n.name);
    assert.deepEqual(
      r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.slice(0, l.indexOf(':'))),
      names,
    );
  });

  it('netstat -an lists the child’s UDP sockets of both families', async () => {
    const r = await bsdnet(['netstat', '-an', '--attach', sock]);
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout
      .split('\n')
      .slice(2)
      .filter((l) => l !== '')
      .map((l) => l.split(/ +/).slice(0, 5));
    const port = child.info.connectedPort;
    assert.deepEqual(rows.map((x) => `${x[0]} ${x[3]} ${x[4]}`).sort(), ['udp4 *.5353 *.*', `udp4 10.0.0.1.${port} 10.0.0.2.9999`, 'udp46 *.7000 *.*'].sort());
    const pcbs = (await client.get('net.inet.udp.pcblist')) as unknown[];
    assert.equal(rows.length, pcbs.length);
  });

  it('netstat -s -p udp, -rn, -i -b and -m read the child’s counters, routes and interfaces', async () => {
    const st = await bsdnet(['netstat', '-s', '-p', 'udp', '--attach', sock]);
    assert.equal(st.status, 0, st.stderr);
    const m = /\t(\d+) datagrams? output\n/.exec(st.stdout);
    assert.ok(m, st.stdout);
    const after = ((await client.get('net.inet.udp.stats')) as { udps_opackets: number }).udps_opackets;
    assert.ok(Number(m[1]) > 0 && Number(m[1]) <= after, `${m[1]} vs ${after}`);

    const rt = await bsdnet(['netstat', '-rn', '--attach', sock]);
    assert.equal(rt.status, 0, rt.stderr);
    assert.match(rt.stdout, /^192\.168\.0\.0\/16 +10\.0\.0\.254 +UGS +epair0a$/m);
    assert.match(rt.stdout, /^2001:db8::\/64 +link#2 +U +epair0a$/m);

    const ib = await bsdnet(['netstat', '-ib', '--attach', sock]);
    assert.equal(ib.status, 0, ib.stderr);
    const row = ib.stdout.split('\n').find((l) => l.startsWith(`${child.info.ifname} `) && l.includes('<Link#')) as string;
    const ifd = ((await client.get('net.link.ifdata')) as { name: string; obytes: number; opackets: number }[]).find((i) => i.name === child.info.ifname);
    assert.ok(row && ifd);
    const f = row.split(/ +/);
    // Opkts / Obytes were read before our own read: no more than now, and traffic is flowing.
    assert.ok(Number(f[8]) > 0 && Number(f[8]) <= ifd.opackets);
    assert.ok(Number(f[10]) > 0 && Number(f[10]) <= ifd.obytes);

    const mb = await bsdnet(['netstat', '-m', '--attach', sock]);
    assert.equal(mb.status, 0, mb.stderr);
    assert.match(mb.stdout, /^\d+\/\d+\/\d+ mbufs in use \(current\/cache\/total\)$/m);
  });

  it('tcpdump prints the child’s packets in tcpdump style and stops after -c', async () => {
    const r = await bsdnet(['tcpdump', '--attach', sock, '-i', child.info.ifname, '-c', '3', 'udp', 'and', 'port', '9999']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    for (const l of lines)
      assert.match(l, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{6} IP 10\\.0\\.0\\.1\\.${child.info.connectedPort} > 10\\.0\\.0\\.2\\.9999: UDP, length 5$`));
    assert.match(r.stderr, /^tcpdump: listening on epair0a, link-type EN10MB \(Ethernet\), snapshot length 262144 bytes\n/);
    assert.match(r.stderr, /\n3 packets captured\n/);
  });

  it('tcpdump -w writes a pcap that parses and that tshark reads', async (t) => {
    const file = join(tmp.dir, 'cap.pcap');
    const r = await bsdnet(['tcpdump', '--attach', sock, '-i', child.info.ifname, '-c', '4', '-w', file, 'udp']);
    assert.equal(r.status, 0, r.stderr);
    const p = parsePcap(new Uint8Array(readFileSync(file)));
    assert.equal(p.linktype, 1);
    assert.equal(p.records.length, 4);
    for (const rec of p.records) {
      assert.equal(rec.data.length, 14 + 20 + 8 + 5);
      assert.equal(Buffer.from(rec.data.subarray(42)).toString(), 'hello');
    }
    // -r reads it back in tcpdump style.
    const rd = await bsdnet(['tcpdump', '-r', file, '-c', '2']);
    assert.equal(rd.status, 0, rd.stderr);
    assert.equal(rd.stdout.trimEnd().split('\n').length, 2);
    assert.match(rd.stdout, /IP 10\.0\.0\.1\.\d+ > 10\.0\.0\.2\.9999: UDP, length 5\n/);
    if (!haveTshark()) {
      t.diagnostic('tshark is not installed: skipping the tshark check (.ci/run installs it)');
      return;
    }
    const ts = spawnSync(
      'tshark',
      ['-r', file, '-T', 'fields', '-e', 'ip.src', '-e', 'udp.dstport', '-e', 'udp.checksum.status', '-o', 'udp.check_checksum:TRUE'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(ts.status, 0, ts.stderr);
    const rows = ts.stdout.trimEnd().split('\n');
    assert.equal(rows.length, 4);
    for (const row of rows) assert.deepEqual(row.split('\t'), ['10.0.0.1', '9999', '1']); // 1: checksum good
  });

  it('errors: missing socket path, a path nobody listens on, bad flags, unknown interface', async () => {
    const missing = join(tmp.dir, 'nope.sock');
    for (const tool of ['sysctl', 'netstat', 'tcpdump']) {
      const args = tool === 'sysctl' ? ['kern.hostname'] : [];
      const r = await bsdnet([tool, '--attach', missing, ...args]);
      assert.equal(r.status, 1, tool);
      assert.equal(r.stderr, `${tool}: cannot attach to ${missing}: no such control socket\n`);
    }
    const notSock = join(tmp.dir, 'plain');
    writeFileSync(notSock, 'x');
    const ns = await bsdnet(['netstat', '--attach', notSock]);
    assert.equal(ns.status, 1);
    assert.match(ns.stderr, /^netstat: cannot attach to .*plain: /);
    const bad = await bsdnet(['tcpdump', '--attach', sock, '-Y']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^tcpdump: unknown option '-Y'\nusage:/);
    const noif = await bsdnet(['tcpdump', '--attach', sock, '-i', 'em9', '-c', '1']);
    assert.equal(noif.status, 1);
    assert.equal(noif.stderr, 'tcpdump: em9: no such interface: em9\n');
    const nostack = await bsdnet(['tcpdump', '-c', '1']);
    assert.equal(nostack.status, 1);
    assert.match(nostack.stderr, /^tcpdump: no stack to capture from: give --attach PATH/);
    const unknown = await bsdnet(['frobnicate']);
    assert.equal(unknown.status, 2);
    assert.ok(existsSync(sock), 'the child keeps serving');
  });
});
