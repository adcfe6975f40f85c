/*
 * UDP across a TUN device with the Linux kernel as the peer: a Linux client against a
 * bsdnet dgram echo server, a bsdnet dgram client against a Linux echo server (python3),
 * both families, datagram sizes from 1 byte to beyond the MTU (fragmented and reassembled
 * by each side for the other), and ICMP/ICMPv6 port unreachable from Linux surfacing on a
 * connected bsdnet socket as ECONNREFUSED.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RemoteInfo, UdpSocket } from '../../src/api/dgram.js';
import { BSD4, BSD6, have, LINUX4, LINUX6, pyUdpEcho, TunLab, tunSkipReason, waitFor, waitOutput } from './helpers.js';

const skip = tunSkipReason() ?? (have('python3') ? false : 'needs python3');

const SIZES = [1, 100, 1372, 1472, 1473, 3000, 8000, 20000];

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

/** A python3 client: sends each size to addr:port, expects the same bytes back. */
function pyClient(family: 4 | 6, addr: string, port: number): string {
  return [
    'import socket, sys',
    `s = socket.socket(socket.AF_INET${family === 6 ? '6' : ''}, socket.SOCK_DGRAM)`,
    's.settimeout(2)',
    'ok = 0',
    `for k, n in enumerate(${JSON.stringify(SIZES)}):`,
    '    d = bytes(((i * 7 + k) & 0xff) for i in range(n))',
    '    for attempt in range(3):',
    `        s.sendto(d, (${JSON.stringify(addr)}, ${port}))`,
    '        try:',
    '            r, a = s.recvfrom(65535)',
    '        except socket.timeout:',
    '            continue',
    '        break',
    '    else:',
    "        print('timeout', n); sys.exit(1)",
    "    if r != d: print('mismatch', n, len(r)); sys.exit(1)",
    '    ok += 1',
    "print('ok', ok)",
  ].join('\n');
}

async function echoServer(lab: TunLab, type: 'udp4' | 'udp6', addr: string, port: number): Promise<UdpSocket> {
  const s = lab.stack.dgram.createSocket(type);
  s.on('message', (msg: Buffer, rinfo: RemoteInfo) => s.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => s.bind(port, addr, resolve));
  return s;
}

describe('tun: UDP', { skip }, () => {
  it('Linux client ↔ bsdnet echo server, IPv4 and IPv6, 1 B to 20000 B datagrams', async () => {
    const lab = new TunLab();
    try {
      const s4 = await echoServer(lab, 'udp4', BSD4, 7);
      const s6 = await echoServer(lab, 'udp6', BSD6, 7);
      const r4 = await lab.ns.exec('python3', ['-c', pyClient(4, BSD4, 7)], { timeoutMs: 30_000 });
      assert.equal(r4.stdout.trim(), `ok ${SIZES.length}`, r4.stdout + r4.stderr);
      const r6 = await lab.ns.exec('python3', ['-c', pyClient(6, BSD6, 7)], { timeoutMs: 30_000 });
      assert.equal(r6.stdout.trim(), `ok ${SIZES.length}`, r6.stdout + r6.stderr);
      // Linux fragmented the big ones to the device MTU; bsdnet reassembled and fragmented back.
      assert.ok(lab.V.inet.stat.ips_reassembled > 0, 'bsdnet reassembled what Linux fragmented');
      assert.ok(lab.V.inet.stat.ips_fragmented > 0, 'bsdnet fragmented its replies');
      s4.close();
      s6.close();
    } finally {
      lab.close();
    }
  });

  for (const family of [4, 6] as const) {
    it(`bsdnet client ↔ Linux echo server (python3), IPv${family}`, async () => {
      const lab = new TunLab();
      try {
        const linux = family === 4 ? LINUX4 : LINUX6;
        const py = pyUdpEcho(lab.ns, family, linux, 9000, SIZES.length * 3, 20);
        await waitOutput(py, 'ready');
        const s = lab.stack.dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
        const got = new Map<number, Buffer>();
        s.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
          assert.equal(rinfo.address, linux);
          assert.equal(rinfo.port, 9000);
          got.set(msg.length, msg);
        });
        for (let k = 0; k < SIZES.length; k++) {
          const n = SIZES[k] as number;
          const d = pattern(n, k);
          for (let attempt = 0; attempt < 3 && !got.has(n); attempt++) {
            s.send(d, 9000, linux);
            await waitFor(() => got.has(n), 2000, 5);
          }
          assert.ok(got.get(n)?.equals(d), `echo of ${n} bytes`);
        }
        s.close();
        if (family === 4) {
          const st = lab.V.inet.stat;
          assert.ok(st.ips_fragmented > 0, 'bsdnet fragmented the datagrams beyond the MTU');
        }
      } finally {
        lab.close();
      }
    });
  }

  for (const family of [4, 6] as const) {
    it(`ICMP${family === 6 ? 'v6' : ''} port unreachable from Linux reaches a connected socket as ECONNREFUSED (IPv${family})`, async () => {
      const lab = new TunLab();
      try {
        const s = lab.stack.dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
        const errors: (Error & { code?: string })[] = [];
        s.on('error', (e: Error) => errors.push(e));
        await new Promise<void>((resolve) => s.connect(9, family === 4 ? LINUX4 : LINUX6, resolve));
        s.send(Buffer.from('anyone there?'));
        assert.ok(await waitFor(() => errors.length > 0, 3000), 'an error was emitted');
        assert.equal(errors[0]?.code, 'ECONNREFUSED');
        s.close();
      } finally {
        lab.close();
      }
    });
  }
});
