/*
 * `bsdnet trace` and the TCP black-box log (src/cli/trace.ts, src/netinet/tcp_log_buf.ts):
 * live probe events in-process and through --attach to a child process, -w recordings, the
 * net.inet.tcp.bb sysctls (auto port / all, ring size, global limit), `trace sessions`,
 * `trace dump` checked against the bytes the connections carried, `trace plot` to SVG with
 * vega, and the errors.
 */

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { once } from 'node:events';
import type { Stack } from '../../src/api/stack.js';
import { traceMain } from '../../src/cli/trace.js';
import type { TcpLogDump, TcpLogSessionInfo } from '../../src/netinet/tcp_log_buf.js';
import { bsdnet, CHILD_TCP, type Child, captured, startChild, tmpDir } from './helpers.js';
import { type TcpScene, tcpScene } from './tcp_scene.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function trace(s: Stack | undefined, argv: string[], interrupt?: Promise<void>): Promise<{ status: number; out: string; err: string }> {
  const c = captured(s, interrupt);
  const status = await traceMain(argv, c.io);
  return { status, out: c.out(), err: c.err() };
}

const LINE = /^ +\d+\.\d{6} #\d+ (send|receive|state-change|retransmit|cwnd-change|connect-\w+|accept-\w+) +/;

describe('bsdnet trace (in-process)', () => {
  let sc: TcpScene;
  let tmp: ReturnType<typeof tmpDir>;
  before(async () => {
    sc = await tcpScene();
    tmp = tmpDir();
  });
  after(() => {
    sc?.destroy();
    tmp?.cleanup();
  });

  it('prints -c N probe events as they fire, and -w records them as a black-box dump', async () => {
    const timer = setInterval(() => sc.c2.write('0123456789'), 5);
    const file = join(tmp.dir, 'live.json');
    let r: Awaited<ReturnType<typeof trace>>;
    try {
      r = await trace(sc.client, ['-c', '12', '-w', file]);
    } finally {
      clearInterval(timer);
    }
    assert.equal(r.status, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 12);
    for (const l of lines) assert.match(l, LINE);
    // The client sends c2's 10-byte writes (coalesced when they queue up) and gets their ACKs.
    const sends = lines.map((l) => / send +10\.0\.0\.1\.\d+ > 10\.0\.0\.2\.8080 \[P?\.\] seq \d+:\d+\((\d+)\)/.exec(l)).filter((m) => m !== null);
    assert.ok(sends.length > 0, r.out);
    for (const m of sends) assert.equal(Number(m[1]) % 10, 0, m[0]);
    assert.match(r.err, /^trace: \d+ probes enabled \(tcp:::\), recording to /);
    assert.match(r.err, /\n12 events traced, 0 dropped\n$/);
    const d = JSON.parse(readFileSync(file, 'utf8')) as TcpLogDump;
    assert.equal(d.format, 'bsdnet-bblog');
    const events = d.sessions.flatMap((s) => s.log);
    assert.equal(events.length, 12);
    const s2 = d.sessions.find((s) => s.lport === sc.ports.c2);
    assert.ok(s2, 'c2 recorded');
    for (const e of s2.log.filter((x) => x.event === 'send' && x.len > 0)) {
      assert.equal(e.len % 10, 0);
      assert.ok(e.snd_cwnd > 0 && e.t_srtt_us > 0, 'snapshot of the control block');
    }
  });

  it('-l lists the probes a pattern matches; a bad pattern or no match is an error', async () => {
    const l = await trace(sc.client, ['-l', '-n', 'tcp:::*-change']);
    assert.equal(l.status, 0, l.err);
    assert.deepEqual(
      l.out
        .trim()
        .split('\n')
        .slice(1)
        .map((x) => x.split(/ +/)[3]),
      ['cwnd-change', 'state-change'],
    );
    const bad = await trace(sc.client, ['-n', 'a:b:c:d:e', '-c', '1']);
    assert.equal(bad.status, 1);
    assert.match(bad.err, /bad probe pattern/);
    const none = await trace(sc.client, ['-n', 'nosuch:::', '-c', '1']);
    assert.equal(none.status, 1);
    assert.match(none.err, /no probe matches nosuch:::/);
  });

  it('the black box logs the connections to net.inet.tcp.bb.log_auto_port; sessions and dump show them with their bytes', async () => {
    const s = await trace(sc.server, ['sessions']);
    assert.equal(s.status, 0, s.err);
    const rows = s.out
      .trim()
      .split('\n')
      .map((l) => l.split(/ {2,}/));
    assert.deepEqual(rows[0], ['ID', 'Local Address', 'Foreign Address', 'State', 'Events', 'Logged', 'Ended']);
    assert.deepEqual(
      rows.slice(1).map((r) => [r[2], r[3]]),
      [
        [`10.0.0.1.${sc.ports.c1}`, 'ESTABLISHED'],
        [`10.0.0.1.${sc.ports.c2}`, 'ESTABLISHED'],
        [`10.0.0.1.${sc.ports.c3}`, 'CLOSE_WAIT'],
      ],
    );
    const list = sc.server.sysctlGet('net.inet.tcp.bb.sessions') as unknown as TcpLogSessionInfo[];
    const c1 = list.find((x) => x.fport === sc.ports.c1) as TcpLogSessionInfo;
    const file = join(tmp.dir, 'dump.json');
    const d = await trace(sc.server, ['dump', '--id', String(c1.id), '-o', file]);
    assert.equal(d.status, 0, d.err);
    assert.match(d.err, /wrote 1 session \(\d+ events\)/);
    const dump = JSON.parse(readFileSync(file, 'utf8')) as TcpLogDump;
    assert.equal(dump.stack, 'server');
    const log = dump.sessions[0]?.log ?? [];
    assert.equal(log[0]?.event, 'state-change');
    assert.equal(log[0]?.state, 'SYN_RCVD');
    // Every byte c1 sent arrived in a logged segment, in order, from irs+1.
    const data = log.filter((e) => e.event === 'receive' && e.len > 0);
    assert.equal(
      data.reduce((a, e) => a + e.len, 0),
      20000,
    );
    const irs = dump.sessions[0]?.irs as number;
    assert.equal(data[0]?.seq, (irs + 1) >>> 0);
    for (const e of log)
      for (const k of ['time_us', 'snd_una', 'snd_nxt', 'snd_max', 'snd_cwnd', 'snd_ssthresh', 'snd_wnd', 'rcv_nxt', 't_srtt_us', 'seq', 'len'])
        assert.equal(typeof (e as unknown as Record<string, unknown>)[k], 'number', k);
    // The dump of every session, to stdout.
    const all = await trace(sc.server, ['dump']);
    assert.equal((JSON.parse(all.out) as TcpLogDump).sessions.length, 3);
    const missing = await trace(sc.server, ['dump', '--id', '999']);
    assert.equal(missing.status, 1);
    assert.match(missing.err, /no black-box log session 999/);
  });

  it('keeps the last log_session_limit events per connection and drops old sessions beyond log_global_limit', async () => {
    const c = sc.client;
    c.sysctlSet('net.inet.tcp.bb.log_session_limit', 10);
    c.sysctlSet('net.inet.tcp.bb.log_auto_all', 1);
    const conn = c.net.connect(7070, '10.0.0.2');
    await once(conn, 'connect');
    conn.on('data', () => undefined);
    conn.write(Buffer.alloc(30000, 2));
    await sleep(100);
    const list = c.sysctlGet('net.inet.tcp.bb.sessions') as unknown as TcpLogSessionInfo[];
    const s = list.find((x) => x.lport === conn.localPort) as TcpLogSessionInfo;
    assert.equal(s.events, 10);
    assert.ok(s.logged > 10, `${s.logged} logged`);
    const log = c.sysctlGet(`net.inet.tcp.bb.log.${s.id}`) as unknown as { time_us: number }[];
    assert.equal(log.length, 10);
    for (let i = 1; i < log.length; i++) assert.ok((log[i]?.time_us as number) >= (log[i - 1]?.time_us as number), 'oldest first');
    const st = c.sysctlGet('net.inet.tcp.bb.stats') as Record<string, number>;
    assert.equal(st.overwritten, s.logged - 10);
    // A second connection beyond a global limit of 10 events evicts the first (ended or not).
    c.sysctlSet('net.inet.tcp.bb.log_global_limit', 10);
    conn.end();
    await once(conn, 'close');
    const conn2 = c.net.connect(7070, '10.0.0.2');
    await once(conn2, 'connect');
    await sleep(20);
    const after2 = c.sysctlGet('net.inet.tcp.bb.sessions') as unknown as TcpLogSessionInfo[];
    assert.deepEqual(
      after2.map((x) => x.lport),
      [conn2.localPort],
    );
    assert.equal(c.vnet.sysctl.find(`net.inet.tcp.bb.log.${s.id}`), undefined, 'its log node is gone');
    assert.ok((c.sysctlGet('net.inet.tcp.bb.stats') as Record<string, number>).evicted >= 1);
    conn2.destroy();
    c.sysctlSet('net.inet.tcp.bb.log_auto_all', 0);
  });

  it('plot renders a dump to SVG with vega (sequence, congestion window, RTT); bad input is an error', async () => {
    const file = join(tmp.dir, 'all.json');
    assert.equal((await trace(sc.server, ['dump', '-o', file])).status, 0);
    const svg = join(tmp.dir, 'p.svg');
    const r = await trace(undefined, ['plot', file, '-o', svg]);
    assert.equal(r.status, 0, r.err);
    const text = readFileSync(svg, 'utf8');
    assert.match(text, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const t of ['sequence space', 'congestion window', 'round-trip time', `10.0.0.1.${sc.ports.c1}`]) assert.ok(text.includes(t), t);
    assert.match(r.err, /plotted session \d+ \(10\.0\.0\.2\.8080 -> 10\.0\.0\.1\.\d+, \d+ events\)/);
    const noFile = await trace(undefined, ['plot', join(tmp.dir, 'none.json'), '-o', svg]);
    assert.equal(noFile.status, 1);
    assert.match(noFile.err, /none\.json: no such file/);
    const notLog = join(tmp.dir, 'x.json');
    writeFileSync(notLog, '{"a":1}');
    const nl = await trace(undefined, ['plot', notLog, '-o', svg]);
    assert.equal(nl.status, 1);
    assert.match(nl.err, /not a bsdnet black-box log/);
    const noOut = await trace(undefined, ['plot', file]);
    assert.equal(noOut.status, 2);
    assert.match(noOut.err, /-o OUT\.svg is required/);
    const badSub = await trace(undefined, ['bogus']);
    assert.equal(badSub.status, 2);
    assert.match(badSub.err, /unknown subcommand 'bogus'/);
    assert.ok(existsSync(svg));
  });
});

describe('bsdnet trace --attach to a child process', () => {
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

  it('streams the child’s probe events over the control channel', async () => {
    const r = await bsdnet(['trace', '-c', '6', '-n', 'tcp:::receive', '--attach', sock]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 6);
    for (const l of lines) {
      const m = /^ +\d+\.\d{6} #\d+ receive +10\.0\.0\.2\.8080 < 10\.0\.0\.1\.(\d+) \[P?\.\] seq \d+:\d+\((\d+)\)/.exec(l);
      assert.ok(m, l);
      assert.equal(Number(m[1]), child.info.c2);
      assert.equal(Number(m[2]) % 4, 0, 'the child sends "ping"s');
    }
    assert.match(r.stderr, /^trace: 1 probe enabled \(tcp:::receive\)\n/);
  });

  it('sessions and dump read the child’s black box through sysctl', async () => {
    const s = await bsdnet(['trace', 'sessions', '--json', '--attach', sock]);
    assert.equal(s.status, 0, s.stderr);
    const list = JSON.parse(s.stdout) as TcpLogSessionInfo[];
    assert.deepEqual(
      list.map((x) => x.fport),
      [child.info.c1, child.info.c2, child.info.c3],
    );
    const file = join(tmp.dir, 'child.json');
    const d = await bsdnet(['trace', 'dump', '--attach', sock, '-o', file]);
    assert.equal(d.status, 0, d.stderr);
    const dump = JSON.parse(readFileSync(file, 'utf8')) as TcpLogDump;
    const c2 = dump.sessions.find((x) => x.fport === child.info.c2);
    assert.ok(c2 && c2.log.filter((e) => e.event === 'receive' && e.len > 0 && e.len % 4 === 0).length > 0, 'c2’s pings are logged');
    const missing = await bsdnet(['trace', 'dump', '--attach', join(tmp.dir, 'nope.sock')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^trace: cannot attach to .*nope\.sock: no such control socket\n$/);
  });
});
