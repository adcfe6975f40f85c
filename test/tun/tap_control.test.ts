/*
 * The driver beyond the basics: TAP mode (Ethernet frames, ARP and ND with the Linux
 * kernel), a flood bigger than the receive ring (drops counted in if_iqdrops, timers keep
 * running while packets pour in), and `bsdnet tun --control` read by `bsdnet netstat
 * --attach`.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { tun_softc } from '../../src/net/if_tun.js';
import { BSD4, BSD6, have, LINUX4, Netns, run, TUNNAME, TunLab, tunSkipReason, waitFor, waitOutput } from './helpers.js';

const skip = tunSkipReason() ?? (have('ping') && have('python3') ? false : 'needs ping and python3');
const BIN = fileURLToPath(new URL('../../../bin/bsdnet.js', import.meta.url));

describe('tun: TAP, floods, control channel', { skip }, () => {
  it('TAP mode: ARP and ND with Linux, ping both families', async () => {
    const lab = new TunLab({ tun: { mode: 'tap' } });
    try {
      assert.equal(lab.ifp.if_hdrlen, 14);
      const r4 = await lab.ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', BSD4], { timeoutMs: 15_000 });
      assert.match(r4.stdout, /3 packets transmitted, 3 received/, r4.stdout + r4.stderr);
      // bsdnet's IPv6 address on an Ethernet link goes through duplicate address detection first.
      let r6 = await lab.ns.exec('ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', BSD6], { timeoutMs: 15_000 });
      for (let i = 0; i < 5 && !/3 received/.test(r6.stdout); i++) {
        r6 = await lab.ns.exec('ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', BSD6], { timeoutMs: 15_000 });
      }
      assert.match(r6.stdout, /3 packets transmitted, 3 received/, r6.stdout + r6.stderr);
      const neigh = lab.ns.ip('neigh', 'show', 'dev', TUNNAME);
      const mac = [...lab.ifp.if_lladdr].map((b) => b.toString(16).padStart(2, '0')).join(':');
      assert.ok(neigh.includes(mac), `Linux learned bsdnet's MAC ${mac}: ${neigh}`);
      assert.ok(lab.V.arp.stat.rxrequests > 0, 'Linux resolved bsdnet with ARP');
    } finally {
      lab.close();
    }
  });

  it('a flood beyond the ring: drops are counted, and timers keep firing during it', async () => {
    const lab = new TunLab({ tun: { ringBytes: 256 * 1024, rxBatch: 64 } });
    try {
      let ticks = 0;
      const timer = setInterval(() => {
        ticks++;
      }, 50);
      const flood = [
        'import socket, time',
        's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        `s.connect((${JSON.stringify(BSD4)}, 9))`,
        'b = bytes(1372)',
        'end = time.time() + 2',
        'n = 0',
        'while time.time() < end:',
        '    for _ in range(64):',
        '        try:',
        '            s.send(b); n += 1',
        '        except OSError:',
        '            pass',
        "print('sent', n)",
      ].join('\n');
      const r = await lab.ns.exec('python3', ['-c', flood], { timeoutMs: 20_000 });
      clearInterval(timer);
      assert.match(r.stdout, /sent \d+/);
      const sent = Number(/sent (\d+)/.exec(r.stdout)?.[1]);
      // Every packet the stack saw came through the driver and was counted.
      const d = lab.ifp.if_data;
      assert.ok(await waitFor(() => d.ipackets + d.iqdrops > 0, 2000));
      const st = tun_softc(lab.ifp)?.stats();
      assert.equal(st?.ringBytes, 256 * 1024);
      assert.equal(d.iqdrops, st?.ringDrops, 'ring drops are the interface input drops');
      assert.ok(d.ipackets <= sent);
      // 2 s of flood: the 50 ms timer must have run throughout (not only after the flood).
      assert.ok(ticks >= 20, `only ${ticks} timer ticks during a 2 s flood`);
      // Port 9 has no socket: bsdnet answered (rate-limited) port unreachables.
      assert.ok(lab.V.udp.stat.udps_noport > 0);
    } finally {
      lab.close();
    }
  });

  it('`bsdnet tun --control PATH` is readable by `bsdnet netstat --attach PATH`', async () => {
    const ns = new Netns();
    const sock = `/tmp/bsdnet-tun-${ns.name}.sock`;
    const child = spawn(
      process.execPath,
      [BIN, 'tun', '--name', TUNNAME, '--netns', ns.name, '--addr', `${BSD4}/24`, '--gw', LINUX4, '--configure-host', '--control', sock],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      await waitOutput(child, 'ready', 10_000);
      const p = await ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', BSD4], { timeoutMs: 10_000 });
      assert.match(p.stdout, /2 received/);
      const r = await run(process.execPath, [BIN, 'netstat', '--attach', sock, '-i'], { timeoutMs: 10_000 });
      assert.equal(r.code, 0, r.stderr);
      const line = r.stdout.split('\n').find((l) => l.startsWith(TUNNAME));
      assert.ok(line, `netstat -i lists ${TUNNAME}:\n${r.stdout}`);
      const s = await run(process.execPath, [BIN, 'sysctl', '--attach', sock, 'net.link.tun.rxring'], { timeoutMs: 10_000 });
      assert.match(s.stdout, /net\.link\.tun\.rxring: 4194304/);
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      ns.close();
    }
  });
});
