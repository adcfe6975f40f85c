/*
 * TCP options negotiated between bsdnet and the Linux kernel, read from a tshark capture on
 * the Linux side of the TUN device: MSS (RFC 9293 §3.7.1, from the device MTU: 1460 for
 * IPv4, 1440 for IPv6), window scale (RFC 7323 §2), SACK-permitted (RFC 2018 §2) and
 * timestamps (RFC 7323 §3) in both SYN and SYN-ACK, in both directions of connection set-up
 * and both families; timestamps then on every segment (RFC 7323 §3.2: once negotiated, sent
 * in every non-RST segment) with TSecr echoing the peer's TSval in the SYN-ACK.
 */

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import type { Socket } from '../../src/api/net.js';
import {
  BSD4,
  BSD6,
  bsdRecv,
  bsdSend,
  Capture,
  finished,
  LINUX4,
  LINUX6,
  parseSha,
  pySink,
  randomChunks,
  TUNNAME,
  TunLab,
  tcpSkip,
  waitOutput,
  within,
} from './helpers.js';

const FIELDS = [
  'ip.src',
  'ipv6.src',
  'tcp.srcport',
  'tcp.flags.syn',
  'tcp.flags.ack',
  'tcp.flags.reset',
  'tcp.options.mss_val',
  'tcp.options.wscale.shift',
  'tcp.options.sack_perm',
  'tcp.options.timestamp.tsval',
  'tcp.options.timestamp.tsecr',
  'tcp.len',
];

interface Seg {
  src: string;
  syn: boolean;
  ack: boolean;
  rst: boolean;
  mss: number | null;
  wscale: number | null;
  sackPerm: boolean;
  tsval: number | null;
  tsecr: number | null;
  len: number;
}

function segs(rows: string[][]): Seg[] {
  const num = (s: string | undefined): number | null => (s === undefined || s === '' ? null : Number(s));
  return rows.map((r) => ({
    src: r[0] || (r[1] as string),
    syn: r[3] === '1' || r[3] === 'True',
    ack: r[4] === '1' || r[4] === 'True',
    rst: r[5] === '1' || r[5] === 'True',
    mss: num(r[6]),
    wscale: num(r[7]),
    sackPerm: (r[8] ?? '') !== '',
    tsval: num(r[9]),
    tsecr: num(r[10]),
    len: num(r[11]) ?? 0,
  }));
}

/** Check the handshake and the timestamps of one connection's segments. */
function checkOptions(all: Seg[], client: string, server: string, mss: number): void {
  const syn = all.find((s) => s.syn && !s.ack && s.src === client);
  const synack = all.find((s) => s.syn && s.ack && s.src === server);
  assert.ok(syn, `SYN from ${client} captured`);
  assert.ok(synack, `SYN-ACK from ${server} captured`);
  for (const [what, s] of [
    ['SYN', syn],
    ['SYN-ACK', synack],
  ] as const) {
    assert.equal(s.mss, mss, `${what} MSS`);
    assert.ok(s.wscale !== null && s.wscale > 0 && s.wscale <= 14, `${what} window scale shift ${s.wscale} (RFC 7323 §2.3: at most 14)`);
    assert.ok(s.sackPerm, `${what} SACK-permitted`);
    assert.ok(s.tsval !== null, `${what} timestamps`);
  }
  assert.equal(synack.tsecr, syn.tsval, 'SYN-ACK TSecr echoes the SYN TSval');
  const rest = all.filter((s) => !s.syn && !s.rst);
  assert.ok(rest.length > 10, 'data segments captured');
  const noTs = rest.filter((s) => s.tsval === null);
  assert.equal(noTs.length, 0, `every non-SYN, non-RST segment carries timestamps (${noTs.length} without)`);
  const fromBsd = rest.filter((s) => s.src === (client === LINUX4 || client === LINUX6 ? server : client));
  assert.ok(
    fromBsd.some((s) => s.tsecr !== null && s.tsecr > 0),
    'bsdnet echoes Linux timestamps',
  );
}

describe('tun: TCP options negotiated with Linux (tshark)', { skip: tcpSkip('python3', 'tshark') }, () => {
  for (const family of [4, 6] as const) {
    const linux = family === 4 ? LINUX4 : LINUX6;
    const bsd = family === 4 ? BSD4 : BSD6;
    const mss = family === 4 ? 1460 : 1440;

    it(`IPv${family}: bsdnet connects to Linux`, { timeout: 60_000 }, async () => {
      const lab = new TunLab({ routes: true });
      const cap = new Capture(lab.ns, TUNNAME);
      try {
        await cap.start();
        const sink = pySink(lab.ns, family, linux, 6001);
        await waitOutput(sink, 'ready');
        const done = finished(sink, 30_000, 'python3 sink');
        const sock = lab.stack.net.connect({ port: 6001, host: linux });
        const sent = await within(30_000, bsdSend(sock, randomChunks(4 << 20)), 'send');
        assert.equal(parseSha(await done).sha, sent.sha);
        await cap.stop();
        checkOptions(segs(await cap.fields('tcp.port == 6001', FIELDS)), bsd, linux, mss);
      } finally {
        lab.close();
        cap.remove();
      }
    });

    it(`IPv${family}: Linux connects to bsdnet`, { timeout: 60_000 }, async () => {
      const lab = new TunLab({ routes: true });
      const cap = new Capture(lab.ns, TUNNAME);
      try {
        await cap.start();
        const got: Promise<{ sha: string; bytes: number }>[] = [];
        const srv = lab.stack.net.createServer((s: Socket) => got.push(bsdRecv(s)));
        srv.listen(6002, bsd);
        await once(srv, 'listening');
        const client = lab.ns.spawn('python3', [
          '-c',
          [
            'import hashlib, os, socket',
            `s = socket.create_connection((${JSON.stringify(bsd)}, 6002))`,
            'b = os.urandom(4 << 20)',
            's.sendall(b)',
            's.shutdown(socket.SHUT_WR)',
            's.recv(1)',
            "print('sha', hashlib.sha256(b).hexdigest(), len(b), flush=True)",
          ].join('\n'),
        ]);
        const out = await finished(client, 30_000, 'python3 client');
        assert.equal(got.length, 1);
        const r = await within(10_000, got[0] as Promise<{ sha: string; bytes: number }>, 'receive');
        assert.equal(r.sha, parseSha(out).sha);
        srv.close();
        await cap.stop();
        checkOptions(segs(await cap.fields('tcp.port == 6002', FIELDS)), linux, bsd, mss);
      } finally {
        lab.close();
        cap.remove();
      }
    });
  }
});
