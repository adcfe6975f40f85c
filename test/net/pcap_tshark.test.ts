/*
 * A packet tap writes pcap files that tshark decodes: a TCP exchange (handshake, data, FIN)
 * and a UDP datagram captured on an epair end, opened with `tshark -r`, every IPv4, TCP and
 * UDP checksum verified Good (the tap completes offloaded checksums as a NIC would).
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Stack } from '../../src/api/stack.js';
import { VirtualClock } from '../../src/kern/clock.js';
import { BpfTap } from '../../src/net/bpf.js';
import { PcapWriter } from '../../src/net/pcap.js';
import { AF_INET, parseAddress, sockaddr_in } from '../../src/netinet/in.js';
import { SOCK_DGRAM, SOCK_STREAM } from '../../src/sys/protosw.js';
import { soaccept, sobind, soclose, soconnect, socreate, solisten, soreceive, sosend } from '../../src/sys/socket.js';

const tshark = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
const skip = tshark.status === 0 ? false : 'tshark is not installed (CI installs it via .ci/run)';

describe('pcap from a tap, read by tshark', { skip }, () => {
  it('decodes TCP and UDP with good checksums', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bsdnet-pcap-'));
    try {
      const clock = new VirtualClock();
      const a = new Stack({ name: 'a', clock, seed: 1 });
      const b = new Stack({ name: 'b', clock, seed: 2 });
      const [ia, ib] = Stack.epair(a, b);
      a.addAddress(ia, '10.9.0.1/24');
      b.addAddress(ib, '10.9.0.2/24');
      a.setUp(ia, true);
      b.setUp(ib, true);
      const file = join(dir, 'cap.pcap');
      const tap = new BpfTap(ia, () => undefined);
      const w = PcapWriter.toFile(file, tap.linktype);
      tap.detach();
      new BpfTap(ia, (data, len, _dir, ts) => w.write(ts, data, 0, len));
      const ls = socreate(b.vnet, AF_INET, SOCK_STREAM, 0).so;
      assert.ok(ls);
      sobind(ls, sockaddr_in(0, 7));
      solisten(ls, 1);
      const cs = socreate(a.vnet, AF_INET, SOCK_STREAM, 0).so;
      assert.ok(cs);
      soconnect(cs, parseAddress('10.9.0.2', 7) as NonNullable<ReturnType<typeof parseAddress>>);
      clock.advance(50_000_000);
      const ss = soaccept(ls).so;
      assert.ok(ss);
      const payload = new Uint8Array(5000).map((_, i) => i & 0xff);
      sosend(cs, null, payload, 0, payload.length, 0);
      clock.advance(50_000_000);
      const buf = new Uint8Array(8192);
      let got = 0;
      for (let r = soreceive(ss, buf, 0); r.len > 0; r = soreceive(ss, buf, 0)) got += r.len;
      assert.equal(got, payload.length);
      soclose(cs);
      soclose(ss);
      const ur = socreate(b.vnet, AF_INET, SOCK_DGRAM, 0).so;
      assert.ok(ur);
      sobind(ur, sockaddr_in(0, 9));
      const us = socreate(a.vnet, AF_INET, SOCK_DGRAM, 0).so;
      assert.ok(us);
      const msg = new TextEncoder().encode('hello over udp');
      sosend(us, parseAddress('10.9.0.2', 9), msg, 0, msg.length, 0);
      clock.advance(1_000_000_000);
      w.close();
      const out = spawnSync(
        'tshark',
        [
          '-r',
          file,
          '-o',
          'ip.check_checksum:TRUE',
          '-o',
          'tcp.check_checksum:TRUE',
          '-o',
          'udp.check_checksum:TRUE',
          '-T',
          'fields',
          '-E',
          'separator=,',
          '-e',
          'frame.protocols',
          '-e',
          'ip.checksum.status',
          '-e',
          'tcp.checksum.status',
          '-e',
          'udp.checksum.status',
        ],
        { encoding: 'utf8' },
      );
      assert.equal(out.status, 0, out.stderr);
      const rows = out.stdout
        .trim()
        .split('\n')
        .filter((l) => l.includes(':ip:'));
      const tcpRows = rows.filter((r) => r.includes(':tcp'));
      const udpRows = rows.filter((r) => r.includes(':udp'));
      assert.ok(tcpRows.length >= 8, `${tcpRows.length} TCP frames`);
      assert.ok(udpRows.length >= 1, 'the UDP datagram');
      for (const r of rows) {
        const [, ipSt, tcpSt, udpSt] = r.split(',');
        assert.equal(ipSt?.split(';')[0], '1', `IP checksum of ${r}`);
        if (r.includes(':icmp')) continue; // quoted headers inside ICMP errors are not re-verified
        if (r.includes(':tcp')) assert.equal(tcpSt, '1', `TCP checksum of ${r}`);
        if (r.includes(':udp')) assert.equal(udpSt, '1', `UDP checksum of ${r}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
