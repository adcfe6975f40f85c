/*
 * `bsdnet netstat` on real TCP state (tcp_scene.ts: LISTEN, ESTABLISHED, CLOSE_WAIT,
 * FIN_WAIT_2 and a vestigial TIME_WAIT): -an / -n rows against net.inet.tcp.pcblist and the
 * sockets' own ports, Recv-Q of unread data, -x socket buffers and timers, -s -p tcp in BSD
 * wording against net.inet.tcp.stats (every counter worded), the per-state counts, and -V
 * with the VTW table holding the client's vestige. Then the same through --attach to a
 * child process running the scene (child_tcp.ts).
 */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Stack } from '../../src/api/stack.js';
import { netstatMain, TCP_STATES } from '../../src/cli/netstat.js';
import { captured } from './helpers.js';
import { bsdnet, CHILD_TCP, type Child, startChild, tmpDir } from './helpers.js';
import { type TcpScene, tcpScene } from './tcp_scene.js';

async function netstat(s: Stack, argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const c = captured(s);
  const status = await netstatMain(argv, c.io);
  return { status, out: c.out(), err: c.err() };
}

const rowsOf = (out: string): string[][] =>
  out
    .split('\n')
    .slice(2)
    .filter((l) => l !== '')
    .map((l) => l.trim().split(/ +/));

type Pcb = { laddr: string; lport: number; faddr: string; fport: number; state: string; rcvq: number; vestigial: boolean; rcv_hiwat?: number };

describe('bsdnet netstat on TCP connections (in-process)', () => {
  let sc: TcpScene;
  before(async () => {
    sc = await tcpScene();
  });
  after(() => sc?.destroy());

  it('-an shows listeners, established, half-closed and TIME_WAIT (vestigial) connections as the pcblist has them', async () => {
    const srv = await netstat(sc.server, ['-an']);
    assert.equal(srv.status, 0, srv.err);
    const p = sc.ports;
    assert.deepEqual(rowsOf(srv.out), [
      ['tcp4', '0', '0', '10.0.0.2.8080', '*.*', 'LISTEN'],
      ['tcp46', '0', '0', '*.9090', '*.*', 'LISTEN'],
      ['tcp4', '0', '0', '10.0.0.2.7070', '*.*', 'LISTEN'],
      ['tcp4', '20000', '0', '10.0.0.2.8080', `10.0.0.1.${p.c1}`, 'ESTABLISHED'],
      ['tcp4', '0', '0', '10.0.0.2.8080', `10.0.0.1.${p.c2}`, 'ESTABLISHED'],
      ['tcp4', '0', '0', '10.0.0.2.8080', `10.0.0.1.${p.c3}`, 'CLOSE_WAIT'],
    ]);
    const cli = await netstat(sc.client, ['-an']);
    assert.deepEqual(rowsOf(cli.out), [
      ['tcp4', '0', '0', `10.0.0.1.${p.c1}`, '10.0.0.2.8080', 'ESTABLISHED'],
      ['tcp4', '0', '0', `10.0.0.1.${p.c2}`, '10.0.0.2.8080', 'ESTABLISHED'],
      ['tcp4', '0', '0', `10.0.0.1.${p.c3}`, '10.0.0.2.8080', 'FIN_WAIT_2'],
      ['tcp4', '0', '0', `10.0.0.1.${p.c4}`, '10.0.0.2.7070', 'TIME_WAIT'],
    ]);
    const pcbs = sc.client.sysctlGet('net.inet.tcp.pcblist') as unknown as Pcb[];
    assert.deepEqual(
      pcbs.map((r) => [r.lport, r.state, r.vestigial]),
      [
        [p.c1, 'ESTABLISHED', false],
        [p.c2, 'ESTABLISHED', false],
        [p.c3, 'FIN_WAIT_2', false],
        [p.c4, 'TIME_WAIT', true],
      ],
    );
    // Without -a: no listeners.
    const n = await netstat(sc.server, ['-n', '-p', 'tcp']);
    assert.deepEqual(
      rowsOf(n.out).map((r) => r[5]),
      ['ESTABLISHED', 'ESTABLISHED', 'CLOSE_WAIT'],
    );
  });

  it('-x shows each connection’s socket buffers and timers (keepalive armed on established connections)', async () => {
    const r = await netstat(sc.server, ['-anx']);
    assert.equal(r.status, 0, r.err);
    const lines = r.out.split('\n');
    assert.deepEqual(
      lines[1]?.trim().split(/ +/).slice(-13),
      [
        'R-HIWA',
        'S-HIWA',
        'R-LOWA',
        'S-LOWA',
        'R-BCNT',
        'S-BCNT',
        'R-BMAX',
        'S-BMAX',
        'rexmt',
        'persist',
        'keep',
        '2msl',
        'delack',
        'rcvtime',
        '(state)',
      ].slice(-13),
    );
    const pcbs = sc.server.sysctlGet('net.inet.tcp.pcblist') as unknown as (Pcb & Record<string, number>)[];
    const est = pcbs.find((x) => x.fport === sc.ports.c1) as Pcb & Record<string, number>;
    const row = lines
      .find((l) => l.includes(`10.0.0.1.${sc.ports.c1}`))
      ?.trim()
      .split(/ +/) as string[];
    assert.deepEqual(row.slice(5, 13).map(Number), [
      est.rcv_hiwat,
      est.snd_hiwat,
      est.rcv_lowat,
      est.snd_lowat,
      est.rcv_mbcnt,
      est.snd_mbcnt,
      est.rcv_mbmax,
      est.snd_mbmax,
    ]);
    assert.ok((est.rcv_hiwat as number) > 0 && (est.rcv_mbcnt as number) > 0, 'unread data holds mbufs');
    const keep = Number(row[15]);
    assert.ok(keep > 7000 && keep <= 7200, `keepalive timer ${row[15]} s (2 h idle)`);
  });

  it('-s -p tcp words every tcpstat counter as FreeBSD does and matches net.inet.tcp.stats; then the per-state counts', async () => {
    const r = await netstat(sc.server, ['-s', '-p', 'tcp']);
    assert.equal(r.status, 0, r.err);
    const st = sc.server.sysctlGet('net.inet.tcp.stats') as Record<string, number>;
    assert.ok(r.out.startsWith('tcp:\n'));
    assert.ok(r.out.includes(`\t${st.tcps_sndtotal} packets sent\n`));
    assert.ok(r.out.includes(`\t\t${st.tcps_sndacks} ack-only packets (${st.tcps_delack} delayed)\n`));
    assert.ok(r.out.includes(`\t\t${st.tcps_rcvpack} packets (${st.tcps_rcvbyte} bytes) received in-sequence\n`));
    assert.ok(st.tcps_rcvbyte >= 20000);
    assert.ok(r.out.includes(`\t${st.tcps_accepts} connection accepts\n`));
    assert.equal(st.tcps_accepts, 4);
    assert.ok(r.out.includes(`\t${st.tcps_sc_added} syncache entries added\n`));
    // No counter is left under its raw name.
    assert.deepEqual(
      r.out.split('\n').filter((l) => /^\t+\d+ tcps_/.test(l)),
      [],
    );
    const states = sc.server.sysctlGet('net.inet.tcp.states') as number[];
    const tail = r.out.slice(r.out.indexOf('TCP connection count by state:\n'));
    for (const [i, name] of TCP_STATES.entries()) {
      const k = states[i] as number;
      assert.ok(tail.includes(`\t${k} connection${k === 1 ? '' : 's'} in ${name} state\n`), name);
    }
    assert.equal(states[1], 3);
    // NetBSD: the vestigial TIME_WAIT statistics follow (net.inet.tcp.vtw.stats).
    const vst = sc.server.sysctlGet('net.inet.tcp.vtw.stats') as Record<string, number>;
    assert.ok(r.out.includes(`vtw statistics:\n\t\t${vst.ins} inserts\n`), r.out);
    // -ss: zero lines and zero states suppressed.
    const z = await netstat(sc.server, ['-ss', '-p', 'tcp']);
    assert.ok(!/\t0 /.test(z.out), z.out);
    assert.ok(z.out.includes('\t3 connections in LISTEN state\n'));
  });

  it('-V shows the VTW statistics and the client’s vestige in the table, class local, with its expiry', async () => {
    const r = await netstat(sc.client, ['-V']);
    assert.equal(r.status, 0, r.err);
    const vs = sc.client.sysctlGet('net.inet.tcp.vtw.stats') as Record<string, number>;
    assert.ok(r.out.includes(`\t\t${vs.ins} inserts\n`));
    assert.equal(vs.ins, 1);
    assert.match(r.out, /\ninet: 1 of \d+ entries in use/);
    const row = r.out
      .split('\n')
      .find((l) => l.startsWith('tcp4 '))
      ?.split(/ +/) as string[];
    assert.deepEqual(row.slice(0, 4), ['tcp4', `10.0.0.1.${sc.ports.c4}`, '10.0.0.2.7070', 'local']);
    const expire = Number.parseFloat(row[4] as string);
    assert.ok(expire > 0 && expire <= 10, `TIME_WAIT of a local peer lasts 2 x 5 s (${row[4]})`);
    // The server has no vestige: its table is not even allocated, and it says so.
    const s = await netstat(sc.server, ['-V']);
    assert.ok(s.out.includes('no VTW table allocated yet') || s.out.includes('inet: 0 of'), s.out);
  });
});

describe('bsdnet netstat --attach to a child process with TCP connections', () => {
  let child: Child;
  let tmp: ReturnType<typeof tmpDir>;
  let sock: string;
  before(async () => {
    tmp = tmpDir();
    sock = join(tmp.dir, 'tcp.sock');
    child = await startChild(sock, CHILD_TCP);
  });
  after(async () => {
    await child?.stop();
    tmp?.cleanup();
  });

  it('-an lists the child server’s listeners and connections; -s -p tcp and -V read its counters', async () => {
    const r = await bsdnet(['netstat', '-an', '--attach', sock]);
    assert.equal(r.status, 0, r.stderr);
    const rows = rowsOf(r.stdout);
    assert.deepEqual(
      rows.map((x) => [x[3], x[4], x[5]]),
      [
        ['10.0.0.2.8080', '*.*', 'LISTEN'],
        ['*.9090', '*.*', 'LISTEN'],
        ['10.0.0.2.7070', '*.*', 'LISTEN'],
        ['10.0.0.2.8080', `10.0.0.1.${child.info.c1}`, 'ESTABLISHED'],
        ['10.0.0.2.8080', `10.0.0.1.${child.info.c2}`, 'ESTABLISHED'],
        ['10.0.0.2.8080', `10.0.0.1.${child.info.c3}`, 'CLOSE_WAIT'],
      ],
    );
    assert.equal(rows[3]?.[1], '20000');
    const s = await bsdnet(['netstat', '-ss', '-p', 'tcp', '--attach', sock]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /^tcp:\n\t\d+ packets sent\n/);
    assert.ok(s.stdout.includes('\t4 connection accepts\n'));
    assert.ok(s.stdout.includes('\t2 connections in ESTABLISHED state\n'));
    const v = await bsdnet(['netstat', '-V', '--attach', sock]);
    assert.equal(v.status, 0, v.stderr);
    assert.ok(v.stdout.startsWith('TCP vestigial TIME_WAIT (VTW):\nnet.inet.tcp.vtw.enable: 1\n'));
  });
});
