/*
 * `bsdnet tcpdump` pieces: the tcpdump-style line for each common protocol (from real
 * captured traffic and from hand-built frames for TCP, ICMP and ICMPv6), relative TCP
 * sequence numbers, the filter expression language, and an in-process capture of a real
 * stack (ARP resolution, then the UDP datagrams) through the same capture interface the
 * control channel serves.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFilter, FilterSyntaxError } from '../../src/cli/pktfilter.js';
import { PacketPrinter, tsText } from '../../src/cli/pktprint.js';
import { tcpdumpMain } from '../../src/cli/tcpdump.js';
import { LINKTYPE_ETHERNET, LINKTYPE_NULL, LINKTYPE_RAW } from '../../src/net/pcap.js';
import { captured, hosts, settle } from './helpers.js';

const MAC_A = [2, 0, 0, 0, 0, 1];
const MAC_B = [2, 0, 0, 0, 0, 2];

function eth(type: number, payload: number[]): Uint8Array {
  return Uint8Array.from([...MAC_B, ...MAC_A, type >> 8, type & 255, ...payload]);
}

function ip4(proto: number, src: number[], dst: number[], payload: number[]): number[] {
  const len = 20 + payload.length;
  return [0x45, 0, len >> 8, len & 255, 0, 1, 0x40, 0, 64, proto, 0, 0, ...src, ...dst, ...payload];
}

function tcp(sport: number, dport: number, seq: number, ack: number, flags: number, win: number, opts: number[] = [], data: number[] = []): number[] {
  const doff = (20 + opts.length) / 4;
  const be32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return [sport >> 8, sport & 255, dport >> 8, dport & 255, ...be32(seq), ...be32(ack), doff << 4, flags, win >> 8, win & 255, 0, 0, 0, 0, ...opts, ...data];
}

const A = [10, 0, 0, 1];
const B = [10, 0, 0, 2];

describe('tcpdump lines', () => {
  it('TCP: flags, absolute then relative seq/ack as tcpdump prints them, window, options, length', () => {
    const p = new PacketPrinter(LINKTYPE_ETHERNET);
    const synOpts = [2, 4, 5, 0xb4, 1, 3, 3, 6, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0];
    const syn = eth(0x800, ip4(6, A, B, tcp(40000, 80, 1000, 0, 0x02, 65535, synOpts)));
    assert.equal(
      p.decode(syn).text,
      'IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 65535, options [mss 1460,nop,wscale 6,sackOK,TS val 1 ecr 0], length 0',
    );
    const synack = eth(0x800, ip4(6, B, A, tcp(80, 40000, 5000, 1001, 0x12, 65160, [2, 4, 5, 0xb4])));
    assert.equal(p.decode(synack).text, 'IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 5000, ack 1001, win 65160, options [mss 1460], length 0');
    const ack = eth(0x800, ip4(6, A, B, tcp(40000, 80, 1001, 5001, 0x10, 502)));
    assert.equal(p.decode(ack).text, 'IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 502, length 0');
    const data = eth(0x800, ip4(6, A, B, tcp(40000, 80, 1001, 5001, 0x18, 502, [1, 1, 5, 10, 0, 0, 0x13, 0x88, 0, 0, 0x17, 0x70], [1, 2, 3, 4, 5])));
    assert.equal(p.decode(data).text, 'IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 1:6, ack 1, win 502, options [nop,nop,sack 1 {5000:6000}], length 5');
    const fin = eth(0x800, ip4(6, B, A, tcp(80, 40000, 5001, 1006, 0x11, 509)));
    assert.equal(p.decode(fin).text, 'IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [F.], seq 1, ack 6, win 509, length 0');
    const rst = eth(0x800, ip4(6, A, B, tcp(40000, 81, 7, 0, 0x04, 0)));
    assert.equal(p.decode(rst).text, 'IP 10.0.0.1.40000 > 10.0.0.2.81: Flags [R], seq 7, win 0, length 0');
    const abs = new PacketPrinter(LINKTYPE_ETHERNET);
    abs.absoluteSeq = true;
    abs.decode(synack);
    assert.equal(abs.decode(ack).text, 'IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 5001, win 502, length 0');
  });

  it('ICMP echo, port unreachable, time exceeded; UDP; ARP; -e; DLT_NULL and raw IP; truncated input', () => {
    const p = new PacketPrinter(LINKTYPE_ETHERNET);
    const echo = [8, 0, 0, 0, 0, 7, 0, 1, ...new Array(56).fill(0)];
    assert.equal(p.decode(eth(0x800, ip4(1, A, B, echo))).text, 'IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 1, length 64');
    assert.equal(p.decode(eth(0x800, ip4(1, B, A, [0, ...echo.slice(1)]))).text, 'IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 7, seq 1, length 64');
    const quoted = ip4(17, A, B, [0x9c, 0x40, 0, 9, 0, 8, 0, 0]);
    assert.equal(
      p.decode(eth(0x800, ip4(1, B, A, [3, 3, 0, 0, 0, 0, 0, 0, ...quoted]))).text,
      'IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 9 unreachable, length 36',
    );
    assert.equal(
      p.decode(eth(0x800, ip4(1, B, A, [11, 0, 0, 0, 0, 0, 0, 0, ...quoted]))).text,
      'IP 10.0.0.2 > 10.0.0.1: ICMP time exceeded in-transit, length 36',
    );
    const udp = ip4(17, A, B, [0x13, 0x88, 0, 53, 0, 13, 0, 0, 1, 2, 3, 4, 5]);
    assert.equal(p.decode(eth(0x800, udp)).text, 'IP 10.0.0.1.5000 > 10.0.0.2.53: UDP, length 5');
    const arpReq = [0, 1, 8, 0, 6, 4, 0, 1, ...MAC_A, ...A, 0, 0, 0, 0, 0, 0, ...B];
    assert.equal(p.decode(eth(0x806, arpReq)).text, 'ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28');
    const arpRep = [0, 1, 8, 0, 6, 4, 0, 2, ...MAC_B, ...B, ...MAC_A, ...A];
    assert.equal(p.decode(eth(0x806, arpRep)).text, 'ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28');
    const e = new PacketPrinter(LINKTYPE_ETHERNET);
    e.linkHeader = true;
    assert.equal(
      e.decode(eth(0x800, udp)).text,
      '02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype IPv4 (0x0800), length 47: IP 10.0.0.1.5000 > 10.0.0.2.53: UDP, length 5',
    );
    const lo = new PacketPrinter(LINKTYPE_NULL);
    assert.equal(lo.decode(Uint8Array.from([2, 0, 0, 0, ...udp])).text, 'IP 10.0.0.1.5000 > 10.0.0.2.53: UDP, length 5');
    const raw = new PacketPrinter(LINKTYPE_RAW);
    assert.equal(raw.decode(Uint8Array.from(udp)).text, 'IP 10.0.0.1.5000 > 10.0.0.2.53: UDP, length 5');
    // Truncated and garbage input never throws.
    assert.equal(p.decode(Uint8Array.from([1, 2, 3])).text, '[|ether] length 3');
    assert.equal(p.decode(eth(0x800, [0x45, 0, 0])).text, '[|ip]');
    assert.match(p.decode(eth(0x800, ip4(6, A, B, [0, 80]))).text, /\[\|tcp\]$/);
  });

  it('IPv6: UDP, ICMPv6 echo, neighbor solicitation/advertisement, through extension headers', () => {
    const p = new PacketPrinter(LINKTYPE_ETHERNET);
    const a6 = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const b6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const ip6 = (nxt: number, payload: number[]): number[] => [0x60, 0, 0, 0, payload.length >> 8, payload.length & 255, nxt, 255, ...a6, ...b6, ...payload];
    assert.equal(p.decode(eth(0x86dd, ip6(17, [0x13, 0x88, 0, 53, 0, 9, 0, 0, 7]))).text, 'IP6 fe80::1.5000 > 2001:db8::2.53: UDP, length 1');
    assert.equal(p.decode(eth(0x86dd, ip6(58, [128, 0, 0, 0, 0, 3, 0, 9]))).text, 'IP6 fe80::1 > 2001:db8::2: ICMP6, echo request, id 3, seq 9, length 8');
    assert.equal(
      p.decode(eth(0x86dd, ip6(58, [135, 0, 0, 0, 0, 0, 0, 0, ...b6]))).text,
      'IP6 fe80::1 > 2001:db8::2: ICMP6, neighbor solicitation, who has 2001:db8::2, length 24',
    );
    assert.equal(
      p.decode(eth(0x86dd, ip6(58, [136, 0, 0, 0, 0x60, 0, 0, 0, ...b6]))).text,
      'IP6 fe80::1 > 2001:db8::2: ICMP6, neighbor advertisement, tgt is 2001:db8::2, length 24',
    );
    // Hop-by-hop options header (router alert) in front of ICMPv6.
    const hbh = [58, 0, 5, 2, 0, 0, 1, 0];
    assert.equal(p.decode(eth(0x86dd, ip6(0, [...hbh, 129, 0, 0, 0, 0, 3, 0, 9]))).text, 'IP6 fe80::1 > 2001:db8::2: ICMP6, echo reply, id 3, seq 9, length 8');
  });

  it('timestamps are local HH:MM:SS.uuuuuu', () => {
    const d = new Date(2024, 0, 2, 3, 4, 5, 678);
    assert.equal(tsText(d.getTime() * 1e6 + 901_000), '03:04:05.678901');
  });
});

describe('tcpdump filter expressions', () => {
  const p = new PacketPrinter(LINKTYPE_ETHERNET);
  const udp = p.decode(eth(0x800, ip4(17, A, B, [0x13, 0x88, 0, 53, 0, 8, 0, 0]))).sum;
  const tcpSum = p.decode(eth(0x800, ip4(6, B, A, tcp(80, 40000, 1, 0, 2, 100)))).sum;
  const arp = p.decode(eth(0x806, [0, 1, 8, 0, 6, 4, 0, 1, ...MAC_A, ...A, 0, 0, 0, 0, 0, 0, ...B])).sum;
  const cases: [string, boolean, boolean, boolean][] = [
    ['', true, true, true],
    ['udp', true, false, false],
    ['tcp', false, true, false],
    ['arp', false, false, true],
    ['ip', true, true, false],
    ['not ip', false, false, true],
    ['host 10.0.0.1', true, true, true],
    ['src host 10.0.0.1', true, false, true],
    ['dst host 10.0.0.1', false, true, false],
    ['port 53', true, false, false],
    ['port 80 or port 53', true, true, false],
    ['tcp port 53', false, false, false],
    ['udp and dst port 53', true, false, false],
    ['src port 40000', false, false, false],
    ['dst port 40000', false, true, false],
    ['net 10.0.0.0/24 and not arp', true, true, false],
    ['!(udp || tcp)', false, false, true],
    ['ip and (port 53 or port 80)', true, true, false],
    ['icmp', false, false, false],
  ];
  for (const [expr, u, t, a] of cases) {
    it(`'${expr}'`, () => {
      const f = compileFilter(expr);
      assert.deepEqual([f(udp), f(tcpSum), f(arp)], [u, t, a]);
    });
  }
  it('syntax errors name the problem', () => {
    for (const bad of ['port', 'host nothere', 'port 70000', '(udp', 'udp)', 'frob', 'and udp']) {
      assert.throws(() => compileFilter(bad), FilterSyntaxError, bad);
    }
  });
});

describe('tcpdump capturing an in-process stack', () => {
  it('shows ARP resolution then the UDP datagrams, stops at -c, and prints the counters', async () => {
    const h = await hosts();
    try {
      const c = captured(h.host);
      const run = tcpdumpMain(['-i', 'epair0a', '-c', '4', 'arp or udp'], c.io);
      await settle();
      for (let i = 0; i < 3; i++) h.conn.send('hello');
      h.clock.advance(10e6);
      assert.equal(await run, 0, c.err());
      const lines = c
        .out()
        .trimEnd()
        .split('\n')
        .map((l) => l.slice(16));
      const port = h.conn.address().port;
      assert.deepEqual(lines, [
        'ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28',
        `ARP, Reply 10.0.0.2 is-at ${[...h.pb.if_lladdr].map((b) => b.toString(16).padStart(2, '0')).join(':')}, length 28`,
        `IP 10.0.0.1.${port} > 10.0.0.2.9999: UDP, length 5`,
        `IP 10.0.0.1.${port} > 10.0.0.2.9999: UDP, length 5`,
      ]);
      assert.match(c.err(), /\n4 packets captured\n/);
      assert.equal(h.ha.if_bpf.length, 0, 'the tap is detached after the capture');
    } finally {
      h.destroy();
    }
  });

  it('stops on interrupt; bad -c and bad expressions are refused', async () => {
    const h = await hosts();
    try {
      let stop: () => void = () => undefined;
      const c = captured(
        h.host,
        new Promise<void>((r) => {
          stop = r;
        }),
      );
      const run = tcpdumpMain(['-i', 'epair0a'], c.io);
      await settle();
      stop();
      assert.equal(await run, 0);
      assert.match(c.err(), /\n0 packets captured\n/);
      const bad = captured(h.host);
      assert.equal(await tcpdumpMain(['-c', 'x'], bad.io), 2);
      const expr = captured(h.host);
      assert.equal(await tcpdumpMain(['-i', 'epair0a', 'port', 'x'], expr.io), 1);
      assert.equal(expr.err(), "tcpdump: bad port 'x'\n");
    } finally {
      h.destroy();
    }
  });
});
