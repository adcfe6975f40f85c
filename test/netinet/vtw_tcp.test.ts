/*
 * VTW and MSLT wired into TCP (tcp_timewait.ts tcp_tw_vestige / tcp_vtw_twcheck, the VTW
 * block of tcp_input.ts, in_pcb.ts shadows): two Stacks on an epair in virtual time, through
 * the socket layer, IPv4 and IPv6, each scenario run with VTW on and off.
 *   - an active close whose socket is gone leaves a vestige (the tcpcb is freed) that the PCB
 *     list shows as TIME_WAIT, vestigial;
 *   - a retransmitted FIN is answered with an ACK byte for byte identical to the full-tcpcb
 *     TIME_WAIT path (RFC 9293 §3.10.7.4; RFC 7323 timestamps);
 *   - a new SYN with a higher sequence number takes the tuple over (RFC 6191 / tcp_twcheck);
 *   - bind() to the port is EADDRINUSE without SO_REUSEADDR, allowed with it;
 *   - TIME_WAIT lasts 2 × the MSL of the MSLT class (local subnet: 2 × 5 s) either way.
 * And the conformance sample's TIME_WAIT packetdrill scripts pass with VTW on and off.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Stack } from '../../src/api/stack.js';
import { isPassed, runFile } from '../../src/drill/suite.js';
import { VirtualClock } from '../../src/kern/clock.js';
import { BPF_D_IN, BPF_D_OUT, BpfTap } from '../../src/net/bpf.js';
import type { Ifnet } from '../../src/net/if.js';
import { AF_INET, AF_INET6, parseAddress, type Sockaddr } from '../../src/netinet/in.js';
import type { Inpcb } from '../../src/netinet/in_pcb.js';
import { TCPS_TIME_WAIT } from '../../src/netinet/tcp_fsm.js';
import { tcp_pcblist, tcp_states } from '../../src/netinet/tcp_subr.js';
import { EADDRINUSE } from '../../src/sys/errno.js';
import { SOCK_STREAM } from '../../src/sys/protosw.js';
import {
  SO_REUSEADDR,
  SOL_SOCKET,
  SS_ISCONNECTED,
  type Socket,
  soaccept,
  sobind,
  soclose,
  soconnect,
  socreate,
  solisten,
  sosetopt,
} from '../../src/sys/socket.js';
import type { Vnet } from '../../src/vnet.js';
import { IPPROTO_TCP } from '../../src/wire/ipv4.js';

const MS = 1_000_000;
const SEC = 1_000_000_000;
const PORT = 8080;

interface Fam {
  name: string;
  af: number;
  a: string;
  b: string;
  plen: number;
  /** Offset of the TCP header in an Ethernet frame, and of the IP next-protocol byte. */
  tcpOff: number;
  protoOff: number;
}

const FAMS: Fam[] = [
  { name: 'IPv4', af: AF_INET, a: '10.0.0.1', b: '10.0.0.2', plen: 24, tcpOff: 14 + 20, protoOff: 14 + 9 },
  { name: 'IPv6', af: AF_INET6, a: '2001:db8::1', b: '2001:db8::2', plen: 64, tcpOff: 14 + 40, protoOff: 14 + 6 },
];

interface Net {
  clock: VirtualClock;
  a: Stack;
  b: Stack;
  ia: Ifnet;
  ib: Ifnet;
}

function addr(s: string, port: number): Sockaddr {
  const a = parseAddress(s, port);
  assert.ok(a);
  return a;
}

function net(f: Fam, vtw: boolean): Net {
  const clock = new VirtualClock();
  const a = new Stack({ name: 'a', clock, seed: 11 });
  const b = new Stack({ name: 'b', clock, seed: 12 });
  const [ia, ib] = Stack.epair(a, b);
  a.addAddress(ia, `${f.a}/${f.plen}`);
  b.addAddress(ib, `${f.b}/${f.plen}`);
  a.setUp(ia, true);
  b.setUp(ib, true);
  for (const s of [a, b]) {
    s.vnet.sysctl.set('net.inet.tcp.vtw.enable', vtw ? 1 : 0);
    s.vnet.sysctl.set('net.inet6.tcp6.vtw.enable', vtw ? 1 : 0);
  }
  clock.advance(3 * SEC); // let IPv6 DAD finish
  return { clock, a, b, ia, ib };
}

function sock(s: Stack, af: number): Socket {
  const r = socreate(s.vnet, af, SOCK_STREAM, IPPROTO_TCP);
  assert.equal(r.error, 0);
  assert.ok(r.so);
  return r.so;
}

function run(n: Net, ns: number): void {
  for (let t = 0; t < ns; t += 10 * MS) n.clock.advance(10 * MS);
}

/** Connect a → b:PORT (from `lport` if given), accept on `ls`. */
function connectPair(n: Net, f: Fam, ls: Socket, lport = 0, reuse = false): { c: Socket; s: Socket } {
  const c = sock(n.a, f.af);
  if (reuse) assert.equal(sosetopt(c, { level: SOL_SOCKET, name: SO_REUSEADDR, value: 1 }), 0);
  if (lport !== 0) assert.equal(sobind(c, addr(f.a, lport)), 0);
  assert.equal(soconnect(c, addr(f.b, PORT)), 0);
  for (let i = 0; i < 200; i++) {
    n.clock.advance(MS);
    const acc = soaccept(ls);
    if (acc.so !== null) {
      for (let j = 0; j < 200 && !(c.so_state & SS_ISCONNECTED); j++) n.clock.advance(MS);
      assert.ok(c.so_state & SS_ISCONNECTED);
      return { c, s: acc.so };
    }
  }
  assert.fail('not connected');
}

function listen(n: Net, f: Fam): Socket {
  const ls = sock(n.b, f.af);
  assert.equal(sobind(ls, addr(f.b, PORT)), 0);
  assert.equal(solisten(ls, 16), 0);
  return ls;
}

function tw(V: Vnet): number {
  return tcp_states(V)[TCPS_TIME_WAIT] as number;
}

function vestiges(V: Vnet, f: Fam): number {
  return f.af === AF_INET ? V.vtw.count4 : V.vtw.count6;
}

/** TCP flags of an Ethernet frame carrying TCP (or -1). */
function tcpFlags(f: Fam, frame: Uint8Array): number {
  if (frame[f.protoOff] !== IPPROTO_TCP) return -1;
  return frame[f.tcpOff + 13] as number;
}

/**
 * a actively closes a connection to b (both sockets closed), so a ends in TIME_WAIT with no
 * socket; b's FIN is captured as it reaches a, replayed after 1 s, and a's answer captured.
 */
function activeClose(f: Fam, vtw: boolean) {
  const n = net(f, vtw);
  const ls = listen(n, f);
  const { c, s } = connectPair(n, f, ls);
  const lport = (c.so_pcb as Inpcb).inp_lport;
  const fins: Uint8Array[] = [];
  const outs: Uint8Array[] = [];
  const tin = new BpfTap(n.ia, (d, len) => {
    const fr = d.slice(0, len);
    if (tcpFlags(f, fr) >= 0 && tcpFlags(f, fr) & 0x01) fins.push(fr);
  });
  tin.direction = BPF_D_IN;
  soclose(c);
  run(n, 100 * MS);
  soclose(s);
  run(n, 100 * MS);
  assert.equal(fins.length, 1, 'b sent one FIN');
  const afterClose = { tw: tw(n.a.vnet), vestiges: vestiges(n.a.vnet, f), pcbs: n.a.vnet.tcp.info.list.size };
  const list = tcp_pcblist(n.a.vnet).filter((r) => r.t_state === TCPS_TIME_WAIT);
  // Replay b's FIN 1 s later: a must ACK it (and restart 2MSL).
  run(n, SEC);
  const tout = new BpfTap(n.ia, (d, len) => outs.push(d.slice(0, len)));
  tout.direction = BPF_D_OUT;
  const st = n.a.vnet.tcp.stat;
  const responds0 = st.tcps_tw_responds;
  const fin = fins[0] as Uint8Array;
  const m = n.a.vnet.mbufs.devget(fin, 0, fin.length, n.ia);
  assert.ok(m);
  m.rcvif = n.ia;
  n.ia.if_input(n.ia, m);
  run(n, 10 * MS);
  tout.detach();
  tin.detach();
  return { n, lport, afterClose, list, outs, responds: st.tcps_tw_responds - responds0 };
}

for (const f of FAMS) {
  describe(`VTW in TCP (${f.name})`, () => {
    it('an active close whose socket is gone leaves a vestige, listed as TIME_WAIT, vestigial', () => {
      const on = activeClose(f, true);
      assert.equal(on.afterClose.vestiges, 1);
      assert.equal(on.afterClose.tw, 1);
      assert.equal(on.afterClose.pcbs, 0, 'tcpcb and PCB freed');
      assert.equal(on.list.length, 1);
      assert.equal(on.list[0]?.vestigial, true);
      assert.equal(on.list[0]?.state, 'TIME_WAIT');
      assert.equal(on.list[0]?.lport, on.lport);
      assert.equal(on.list[0]?.fport, PORT);
      const off = activeClose(f, false);
      assert.equal(off.afterClose.vestiges, 0);
      assert.equal(off.afterClose.tw, 1);
      assert.equal(off.afterClose.pcbs, 1, 'full TIME_WAIT tcpcb');
      assert.equal(off.list[0]?.vestigial, false);
    });

    it('answers a retransmitted FIN with the same ACK bytes as the full TIME_WAIT tcpcb', () => {
      const on = activeClose(f, true);
      const off = activeClose(f, false);
      assert.equal(on.outs.length, 1);
      assert.equal(off.outs.length, 1);
      assert.equal(on.responds, 1);
      assert.equal(off.responds, 1);
      const ack = on.outs[0] as Uint8Array;
      assert.equal(tcpFlags(f, ack), 0x10, 'a bare ACK');
      // Timestamps are on by default: the ACK carries TSopt (NOP NOP TS = 12 option bytes).
      assert.equal(((ack[f.tcpOff + 12] as number) >> 4) * 4, 32);
      assert.deepEqual(Buffer.from(ack).toString('hex'), Buffer.from(off.outs[0] as Uint8Array).toString('hex'));
    });

    it('keeps TIME_WAIT for 2 × the MSLT class MSL (local subnet: 10 s), restarted by the FIN', () => {
      for (const v of [true, false]) {
        const r = activeClose(f, v);
        // The FIN replay at ~1.2 s restarted 2MSL: gone 10 s after it, not before.
        run(r.n, 9 * SEC);
        assert.equal(tw(r.n.a.vnet), 1, `still in TIME_WAIT (vtw ${v})`);
        run(r.n, 1500 * MS);
        assert.equal(tw(r.n.a.vnet), 0, `expired (vtw ${v})`);
        assert.equal(vestiges(r.n.a.vnet, f), 0);
        assert.equal(r.n.a.vnet.tcp.info.list.size, 0);
      }
    });

    it('bind() to the port of a vestige: EADDRINUSE, unless SO_REUSEADDR (as a full TIME_WAIT PCB)', () => {
      for (const v of [true, false]) {
        const r = activeClose(f, v);
        const s1 = sock(r.n.a, f.af);
        assert.equal(sobind(s1, addr(f.af === AF_INET ? '0.0.0.0' : '::', r.lport)), EADDRINUSE, `wildcard (vtw ${v})`);
        const s2 = sock(r.n.a, f.af);
        assert.equal(sobind(s2, addr(f.a, r.lport)), EADDRINUSE, `specific (vtw ${v})`);
        const s3 = sock(r.n.a, f.af);
        assert.equal(sosetopt(s3, { level: SOL_SOCKET, name: SO_REUSEADDR, value: 1 }), 0);
        assert.equal(sobind(s3, addr(f.a, r.lport)), 0, `SO_REUSEADDR (vtw ${v})`);
        if (f.af === AF_INET) {
          // A dual-stack IPv6 socket binding :: claims the IPv4 port too.
          const s4 = sock(r.n.a, AF_INET6);
          assert.equal(sobind(s4, addr('::', r.lport)), EADDRINUSE, `dual-stack :: (vtw ${v})`);
        }
      }
    });

    it('a new SYN with a higher sequence number takes the tuple over (RFC 6191)', () => {
      for (const v of [true, false]) {
        // b (the server) closes first: b holds the TIME_WAIT, a reconnects from the same port.
        const n = net(f, v);
        const ls = listen(n, f);
        const { c, s } = connectPair(n, f, ls);
        const lport = (c.so_pcb as Inpcb).inp_lport;
        soclose(s);
        run(n, 100 * MS);
        soclose(c);
        run(n, 100 * MS);
        assert.equal(tw(n.b.vnet), 1);
        assert.equal(vestiges(n.b.vnet, f), v ? 1 : 0);
        run(n, 2 * SEC);
        const recycles0 = n.b.vnet.tcp.stat.tcps_tw_recycles;
        const again = connectPair(n, f, ls, lport, true);
        assert.equal(n.b.vnet.tcp.stat.tcps_tw_recycles - recycles0, 1, `recycled (vtw ${v})`);
        assert.equal(vestiges(n.b.vnet, f), 0);
        assert.equal((again.s.so_pcb as Inpcb).inp_fport, lport);
      }
    });

    it('tcpdrop -s TIME_WAIT deletes vestiges', () => {
      const r = activeClose(f, true);
      assert.equal(vestiges(r.n.a.vnet, f), 1);
      r.n.a.vnet.sysctl.set('net.inet.tcp.drop_timewait', 1);
      assert.equal(vestiges(r.n.a.vnet, f), 0);
      assert.equal(tw(r.n.a.vnet), 0);
    });
  });
}

describe('TIME_WAIT packetdrill scripts with VTW on and off', () => {
  const root = join(process.cwd(), 'conformance', 'freebsd-tcp-testsuite');
  const passing = readFileSync(join(process.cwd(), 'conformance', 'passing.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  // The scripts about TIME_WAIT: those named so, and those that reach it and check it.
  const scripts = passing.filter((p) => {
    if (/time-?wait/i.test(p)) return true;
    return /TIME.?WAIT/i.test(readFileSync(join(root, p), 'utf8'));
  });
  it('selects the TIME_WAIT scripts of the sample', () => {
    assert.ok(scripts.length >= 30, `${scripts.length} scripts`);
  });
  for (const on of [1, 0]) {
    it(`all pass with net.inet.tcp.vtw.enable=${on}`, () => {
      const sysctls = [
        { name: 'net.inet.tcp.vtw.enable', value: String(on) },
        { name: 'net.inet6.tcp6.vtw.enable', value: String(on) },
      ];
      const bad: string[] = [];
      for (const p of scripts) {
        const r = runFile(join(root, p), root, { sysctls });
        if (!isPassed(r.verdict)) bad.push(`${p}: ${r.verdict} ${r.message}`);
      }
      assert.deepEqual(bad, []);
    });
  }
});
