/*
 * Hostile TCP input (src/netinet/tcp_input.ts, tcp_syncache.ts): the test plays an off-path
 * attacker and a peer on a fake Ethernet interface, writing IPv4/TCP segments by hand (valid
 * IP headers, TCP checksums computed) that go through ip_input into tcp_input.
 *
 *   - RFC 5961 §3: an in-window RST that is not exactly at RCV.NXT does not reset, it draws a
 *     challenge ACK; §4: a SYN on a synchronised connection draws a challenge ACK; §5: data
 *     whose ACK lies outside [SND.UNA - MAX.SND.WND, SND.NXT] is dropped; §7: the challenge
 *     ACKs are rate-limited by net.inet.tcp.ack_war_cnt per ack_war_timewindow.
 *   - fast-check throws random and mutated segments at a listener and at an established
 *     connection: nothing throws, no mbuf leaks, the connection still carries data.
 *   - a SYN flood from random sources overflows the SYN cache; SYN cookies keep the listener
 *     serving a legitimate client.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { sockaddr_in } from '../../src/netinet/in.js';
import type { Inpcb } from '../../src/netinet/in_pcb.js';
import { TCPS_ESTABLISHED, TCPS_LISTEN } from '../../src/netinet/tcp_fsm.js';
import type { TcpCb } from '../../src/netinet/tcp_var.js';
import { ECONNRESET } from '../../src/sys/errno.js';
import { SOCK_STREAM } from '../../src/sys/protosw.js';
import { type Socket, soaccept, sobind, soclose, socreate, solisten, soreceive, sosend } from '../../src/sys/socket.js';
import { get16, get32, set16, set32 } from '../../src/wire/bytes.js';
import { cksumFinish, cksumPartial, pseudoSum4 } from '../../src/wire/checksum.js';
import { IPPROTO_TCP } from '../../src/wire/ipv4.js';
import { TH_ACK, TH_FIN, TH_PUSH, TH_RST, TH_SYN } from '../../src/wire/tcp.js';
import { RTF_STATIC } from '../../src/net/route.js';
import type { Vnet } from '../../src/vnet.js';
import { type FakeEther, fakeEther, inject, ip, ip4, MS, mbufsInUse, parse4, SEC, VirtualClock, vnet } from './helpers.js';

const ME = ip('10.0.0.1');
const PEER = ip('10.0.0.2');
const PEER_MAC = Uint8Array.of(0x02, 0xbb, 0, 0, 0, 2);
const LPORT = 80;

interface SegSpec {
  src?: number;
  dst?: number;
  sport: number;
  dport?: number;
  seq: number;
  ack?: number;
  flags: number;
  win?: number;
  opts?: Uint8Array;
  data?: Uint8Array;
  /** Override the data-offset nibble. */
  off?: number;
  badsum?: boolean;
}

/** A TCP segment in an IPv4 datagram, with correct IP and TCP checksums. */
function seg(s: SegSpec): Uint8Array {
  const opts = s.opts ?? new Uint8Array(0);
  const data = s.data ?? new Uint8Array(0);
  const hl = 20 + opts.length;
  const t = new Uint8Array(hl + data.length);
  set16(t, 0, s.sport);
  set16(t, 2, s.dport ?? LPORT);
  set32(t, 4, s.seq >>> 0);
  set32(t, 8, (s.ack ?? 0) >>> 0);
  t[12] = (s.off ?? hl >> 2) << 4;
  t[13] = s.flags & 0xff;
  set16(t, 14, s.win ?? 65535);
  t.set(opts, 20);
  t.set(data, hl);
  const src = s.src ?? PEER;
  const dst = s.dst ?? ME;
  set16(t, 16, cksumFinish(cksumPartial(t, 0, t.length, pseudoSum4(src, dst, IPPROTO_TCP, t.length))));
  if (s.badsum) t[16] = (t[16] as number) ^ 0x55;
  return ip4({ src, dst, p: IPPROTO_TCP }, t);
}

/** Recompute the TCP checksum of a whole IPv4/TCP datagram in place. */
function fixTcpSum(p: Uint8Array): Uint8Array {
  const v = parse4(p);
  const t = p.subarray(v.hlen, v.len);
  if (t.length < 18) return p;
  set16(t, 16, 0);
  set16(t, 16, cksumFinish(cksumPartial(t, 0, t.length, pseudoSum4(v.src, v.dst, IPPROTO_TCP, t.length))));
  return p;
}

interface Out {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  win: number;
  data: Uint8Array;
}

/** TCP segments the stack transmitted. */
function sent(fe: FakeEther): Out[] {
  return fe
    .ip4()
    .map(parse4)
    .filter((v) => v.p === IPPROTO_TCP)
    .map((v) => {
      const t = v.payload;
      const off = ((t[12] as number) >> 4) << 2;
      return {
        src: v.src,
        dst: v.dst,
        sport: get16(t, 0),
        dport: get16(t, 2),
        seq: get32(t, 4),
        ack: get32(t, 8),
        flags: t[13] as number,
        win: get16(t, 14),
        data: t.slice(off),
      };
    });
}

const MSS_OPT = Uint8Array.of(2, 4, 0x05, 0xb4);
/** MSS 1460, SACK permitted, timestamps, window scale 2. */
const SYN_OPTS = Uint8Array.of(2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 2);

function tpOf(so: Socket): TcpCb {
  return (so.so_pcb as Inpcb).inp_ppcb as TcpCb;
}

interface Host {
  clock: VirtualClock;
  V: Vnet;
  fe: FakeEther;
  ls: Socket;
  base: number;
}

function host(seed = 5): Host {
  const clock = new VirtualClock();
  const V = vnet('victim', clock, seed);
  const fe = fakeEther(V);
  V.inet.addAddress(fe.ifp, ME, 24);
  V.arp.addStatic(fe.ifp, PEER, PEER_MAC);
  clock.advance(SEC);
  fe.clear();
  const base = mbufsInUse(V);
  const r = socreate(V, 2, SOCK_STREAM, IPPROTO_TCP);
  assert.ok(r.so);
  const ls = r.so;
  assert.equal(sobind(ls, sockaddr_in(0, LPORT)), 0);
  assert.equal(solisten(ls, 128), 0);
  return { clock, V, fe, ls, base };
}

interface Conn {
  so: Socket;
  sport: number;
  /** The peer's next sequence number (= victim's rcv_nxt). */
  pseq: number;
  /** The victim's next sequence number (= what the peer acknowledges). */
  vseq: number;
}

/** Open a connection from PEER:sport to the listener with a handshake written by hand. */
function handshake(h: Host, sport: number, opts: Uint8Array = SYN_OPTS, src = PEER): Conn {
  h.fe.clear();
  const iss = 0x10000000 + sport * 7919;
  inject(h.V, h.fe.ifp, seg({ src, sport, seq: iss, flags: TH_SYN, opts }));
  const sa = sent(h.fe).find((o) => o.dport === sport && (o.flags & (TH_SYN | TH_ACK)) === (TH_SYN | TH_ACK));
  assert.ok(sa, 'SYN-ACK sent');
  assert.equal(sa.ack, (iss + 1) >>> 0);
  inject(h.V, h.fe.ifp, seg({ src, sport, seq: iss + 1, ack: sa.seq + 1, flags: TH_ACK, win: 65535 }));
  const acc = soaccept(h.ls);
  assert.ok(acc.so, `connection accepted (error ${acc.error})`);
  h.fe.clear();
  return { so: acc.so, sport, pseq: (iss + 1) >>> 0, vseq: (sa.seq + 1) >>> 0 };
}

/** The peer sends data at its next sequence number and the victim's socket receives it. */
function peerSends(h: Host, c: Conn, data: Uint8Array, loose = false): void {
  const tp = tpOf(c.so);
  inject(h.V, h.fe.ifp, seg({ sport: c.sport, seq: c.pseq, ack: tp.snd_nxt, flags: TH_ACK | TH_PUSH, data }));
  c.pseq = (c.pseq + data.length) >>> 0;
  const buf = new Uint8Array(data.length + (1 << 20));
  const r = soreceive(c.so, buf, 0);
  if (loose) {
    // Out-of-order data injected earlier (blind, in window) may complete behind ours.
    assert.ok(r.len >= data.length, `victim received ${r.len}/${data.length} (error ${r.error})`);
    c.pseq = tp.rcv_nxt;
  } else assert.equal(r.len, data.length, `victim received ${r.len}/${data.length} (error ${r.error})`);
  assert.deepEqual(buf.subarray(0, data.length), data);
}

/** The victim sends data and it comes out on the wire to the peer, which ACKs it as it comes. */
function victimSends(h: Host, c: Conn, data: Uint8Array): void {
  const tp = tpOf(c.so);
  h.fe.clear();
  const start = tp.snd_max;
  assert.equal(tp.snd_una, start, 'nothing outstanding before');
  assert.equal(sosend(c.so, null, data, 0, data.length, 0).sent, data.length);
  const got = new Uint8Array(data.length);
  let have = 0; // contiguous bytes received
  for (let round = 0; round < 100 && have < data.length; round++) {
    h.clock.advance(MS);
    for (const o of sent(h.fe).filter((x) => x.dport === c.sport && x.data.length > 0)) {
      const off = (o.seq - start) | 0;
      assert.ok(off >= 0 && off + o.data.length <= data.length, `segment outside the data: offset ${off}`);
      if (off <= have && off + o.data.length > have) {
        got.set(o.data, off);
        have = off + o.data.length;
      }
    }
    h.fe.clear();
    inject(h.V, h.fe.ifp, seg({ sport: c.sport, seq: c.pseq, ack: start + have, flags: TH_ACK }));
  }
  assert.equal(have, data.length, 'all data on the wire');
  assert.deepEqual(got, data, 'data on the wire');
  c.vseq = (start + data.length) >>> 0;
  assert.equal(tp.snd_una, c.vseq);
  h.fe.clear();
}

function acksTo(h: Host, sport: number): Out[] {
  return sent(h.fe).filter((o) => o.dport === sport && o.flags === TH_ACK);
}

describe('RFC 5961 blind injection', () => {
  it('§3: an in-window RST not at RCV.NXT draws a challenge ACK and does not reset; an exact one does', () => {
    const h = host();
    const c = handshake(h, 40000);
    peerSends(h, c, Uint8Array.of(1, 2, 3));
    const tp = tpOf(c.so);
    const st = h.V.tcp.stat;
    for (const off of [1, 1000, 30000]) {
      h.fe.clear();
      const ch0 = st.tcps_challenge_ack;
      inject(h.V, h.fe.ifp, seg({ sport: c.sport, seq: c.pseq + off, flags: TH_RST }));
      assert.equal(tp.t_state, TCPS_ESTABLISHED, `RST at RCV.NXT+${off} reset the connection`);
      assert.equal(c.so.so_error, 0);
      assert.equal(st.tcps_challenge_ack, ch0 + 1);
      const a = acksTo(h, c.sport);
      assert.equal(a.length, 1, 'one challenge ACK');
      assert.equal((a[0] as Out).ack, c.pseq, 'challenge ACK carries RCV.NXT');
      assert.equal((a[0] as Out).seq, c.vseq, 'challenge ACK carries SND.NXT');
      h.clock.advance(1100 * MS); // out of the rate-limit window
    }
    // Outside the window: silently dropped.
    h.fe.clear();
    inject(h.V, h.fe.ifp, seg({ sport: c.sport, seq: c.pseq - 5000, flags: TH_RST }));
    inject(h.V, h.fe.ifp, seg({ sport: c.sport, seq: c.pseq + 0x40000000, flags: TH_RST | TH_ACK, ack: c.vseq }));
    assert.equal(tp.t_state, TCPS_ESTABLISHED);
    assert.equal(sent(h.fe).length, 0, 'no answer to an out-of-window RST');
    // The connection still works both ways.
    peerSends(h, c, Uint8Array.of(4, 5, 6, 7));
    victimSends(h, c, new Uint8Array(3000).fill(9));
    // The exact RST resets it.
    inject(h.V, h.fe.ifp, seg({ sport: c.sport, seq: c.pseq, flags: TH_RST }));
    assert.equal(soreceive(c.so, new Uint8Array(10), 0).error, ECONNRESET);
  });

  it('§4: a SYN on an established connection draws a challenge ACK and does not reset', () => {
    const h = host();
    const c = handshake(h, 40001);
    const tp = tpOf(c.so);
    const st = h.V.tcp.stat;
    // In the window, before it, after it: never a reset, always a challenge ACK.
    for (const s of [c.pseq, c.pseq + 100, c.pseq - 100000, c.pseq + 0x7000000]) {
      h.fe.clear();
      const ch0 = st.tcps_challenge_ack;
      const syn0 = st.tcps_badsyn;
      inject(h.V, h.fe.ifp, seg({ sport: c.sport, seq: s, flags: TH_SYN, opts: SYN_OPTS }));
      assert.equal(tp.t_state, TCPS_ESTABLISHED);
      assert.equal(c.so.so_error, 0);
      assert.equal(st.tcps_badsyn, syn0 + 1);
      assert.equal(st.tcps_challenge_ack, ch0 + 1);
      const a = acksTo(h, c.sport);
      assert.equal(a.length, 1, 'one challenge ACK');
      assert.equal((a[0] as Out).ack, c.pseq);
      assert.equal(sent(h.fe).filter((o) => o.flags & TH_RST).length, 0, 'no RST sent');
      h.clock.advance(1100 * MS);
    }
    peerSends(h, c, Uint8Array.of(1));
    victimSends(h, c, Uint8Array.of(2));
  });

  const ackRange = (which: 'above' | 'below') => () => {
    const h = host();
    const c = handshake(h, 40002);
    victimSends(h, c, new Uint8Array(2000).fill(3)); // SND.UNA moves past the ISS
    const tp = tpOf(c.so);
    const bogus = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
    const cases: [string, number][] =
      which === 'above'
        ? [
            ['ACK above SND.NXT', tp.snd_nxt + 1],
            ['ACK far above SND.NXT', tp.snd_nxt + 0x20000000],
          ]
        : [
            ['ACK below SND.UNA - MAX.SND.WND', tp.snd_una - tp.max_sndwnd - 1],
            ['ACK far below SND.UNA', tp.snd_una - 0x20000000],
          ];
    for (const [what, ack] of cases) {
      h.fe.clear();
      const nxt0 = tp.rcv_nxt;
      inject(h.V, h.fe.ifp, seg({ sport: c.sport, seq: c.pseq, ack, flags: TH_ACK | TH_PUSH, data: bogus }));
      assert.equal(tp.rcv_nxt, nxt0, `${what}: data accepted (RCV.NXT moved)`);
      assert.equal(c.so.so_rcv.sb_ccc, 0, `${what}: data reached the socket`);
      assert.equal(tp.t_state, TCPS_ESTABLISHED);
      assert.ok(acksTo(h, c.sport).length <= 1, `${what}: at most one ACK in reply`);
      h.clock.advance(1100 * MS);
    }
    // An ACK inside the range is accepted.
    peerSends(h, c, Uint8Array.of(1, 2));
  };
  it('§5: in-window data whose ACK is above SND.NXT is dropped', ackRange('above'));
  // RFC 5961 §5.2 lower bound (tcps_rcvacktooold, net.inet.tcp.insecure_ack=0).
  it('§5: in-window data whose ACK is below SND.UNA - MAX.SND.WND is dropped', ackRange('below'));

  it('§7: challenge ACKs are limited to net.inet.tcp.ack_war_cnt per ack_war_timewindow', () => {
    const h = host();
    const c = handshake(h, 40003);
    const st = h.V.tcp.stat;
    assert.equal(h.V.sysctl.get('net.inet.tcp.ack_war_cnt'), 5);
    assert.equal(h.V.sysctl.get('net.inet.tcp.ack_war_timewindow'), 1000);
    const burst = (n: number) => {
      h.fe.clear();
      for (let i = 0; i < n; i++) inject(h.V, h.fe.ifp, seg({ sport: c.sport, seq: c.pseq + 1 + i, flags: i % 2 ? TH_SYN : TH_RST }));
      return acksTo(h, c.sport).length;
    };
    const drops0 = st.tcps_ack_war_drops;
    assert.equal(burst(50), 5, 'challenge ACKs in one window');
    assert.equal(st.tcps_ack_war_drops - drops0, 45);
    h.clock.advance(500 * MS);
    assert.equal(burst(10), 0, 'still the same window');
    h.clock.advance(600 * MS);
    assert.equal(burst(10), 5, 'a new window');
    h.V.sysctl.set('net.inet.tcp.ack_war_cnt', 2);
    h.clock.advance(1100 * MS);
    assert.equal(burst(10), 2, 'the sysctl is honoured');
    assert.equal(tpOf(c.so).t_state, TCPS_ESTABLISHED);
    peerSends(h, c, Uint8Array.of(1));
  });
});

// --- fuzzing ---

const flagsArb = fc.integer({ min: 0, max: 0x1ff });
const optsArb = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((o) => {
    const p = new Uint8Array((o.length + 3) & ~3);
    p.set(o);
    return p;
  }),
  // Structured options: SACK blocks, timestamps, window scale, MSS with random values.
  fc
    .tuple(fc.integer({ min: 0, max: 3 }), fc.array(fc.integer({ min: -70000, max: 70000 }), { minLength: 2, maxLength: 8 }), fc.nat())
    .map(([kind, vals, x]) => ({ kind, vals, x })),
);

interface Fuzz {
  target: 'listener' | 'conn' | 'random-port';
  flags: number;
  seqDelta: number;
  seqRandom: number | null;
  ackDelta: number;
  ackRandom: number | null;
  win: number;
  opts: Uint8Array | { kind: number; vals: number[]; x: number };
  data: Uint8Array;
  off: number | null;
  badsum: boolean;
  srcRandom: number;
  sportRandom: number;
}

const fuzzArb: fc.Arbitrary<Fuzz> = fc.record({
  target: fc.constantFrom('listener', 'conn', 'conn', 'random-port'),
  flags: flagsArb,
  seqDelta: fc.integer({ min: -70000, max: 140000 }),
  seqRandom: fc.option(fc.nat({ max: 0xffffffff }), { freq: 4 }),
  ackDelta: fc.integer({ min: -70000, max: 70000 }),
  ackRandom: fc.option(fc.nat({ max: 0xffffffff }), { freq: 4 }),
  win: fc.nat({ max: 0xffff }),
  opts: optsArb,
  data: fc.uint8Array({ maxLength: 1600 }),
  off: fc.option(fc.integer({ min: 0, max: 15 }), { freq: 8 }),
  badsum: fc.integer({ min: 0, max: 19 }).map((x) => x === 0),
  srcRandom: fc.nat({ max: 0xffffff }),
  sportRandom: fc.integer({ min: 1, max: 65535 }),
});

function structuredOpts(o: { kind: number; vals: number[]; x: number }, base: number): Uint8Array {
  switch (o.kind) {
    case 0: {
      // SACK blocks relative to SND.UNA (possibly bogus, overlapping, reversed).
      const n = Math.min(4, o.vals.length >> 1);
      const b = new Uint8Array(2 + 2 + 8 * n);
      b[0] = 1;
      b[1] = 1;
      b[2] = 5;
      b[3] = 2 + 8 * n;
      for (let i = 0; i < n; i++) {
        set32(b, 4 + 8 * i, base + (o.vals[2 * i] as number));
        set32(b, 8 + 8 * i, base + (o.vals[2 * i + 1] as number));
      }
      return b;
    }
    case 1: {
      const b = Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0);
      set32(b, 4, o.x);
      set32(b, 8, (o.vals[0] as number) >>> 0);
      return b;
    }
    case 2:
      return Uint8Array.of(1, 3, 3, o.x & 0xff);
    default:
      return Uint8Array.of(2, 4, (o.x >> 8) & 0xff, o.x & 0xff);
  }
}

/** Build the fuzz segment: blind (the attacker does not know the exact RCV.NXT/SND.NXT). */
function fuzzSeg(f: Fuzz, c: Conn, tp: TcpCb): Uint8Array {
  let seq = f.seqRandom ?? tp.rcv_nxt + f.seqDelta;
  let flags = f.flags;
  // A blind attacker does not hit RCV.NXT exactly: an exact RST or an in-order FIN would be
  // legitimate and end the connection (tested above), so shift those by one.
  if (seq >>> 0 === tp.rcv_nxt && flags & (TH_RST | TH_FIN)) seq++;
  if (flags & TH_FIN) flags &= ~TH_FIN;
  const ack = f.ackRandom ?? tp.snd_una + f.ackDelta;
  const opts = f.opts instanceof Uint8Array ? f.opts : structuredOpts(f.opts, tp.snd_una);
  const base = {
    seq,
    ack,
    flags,
    win: f.win,
    opts,
    data: f.data,
    badsum: f.badsum,
    ...(f.off === null ? {} : { off: f.off }),
  };
  switch (f.target) {
    case 'conn':
      return seg({ ...base, sport: c.sport });
    case 'listener':
      return seg({ ...base, src: (ip('172.16.0.0') | f.srcRandom) >>> 0, sport: f.sportRandom, flags: f.flags });
    default:
      return seg({ ...base, sport: c.sport, dport: f.sportRandom === LPORT ? 81 : f.sportRandom });
  }
}

/** After the abuse: the listener serves, the connection carries data, nothing leaks. */
function checkHealthy(h: Host, c: Conn): void {
  const tp = tpOf(c.so);
  assert.equal(tpOf(h.ls).t_state, TCPS_LISTEN);
  assert.equal(tp.t_state, TCPS_ESTABLISHED, `connection state ${tp.t_state}, so_error ${c.so.so_error}`);
  // The peer's view: data accepted in the stream so far (injected in-window data with an
  // acceptable ACK is legitimately part of it) is drained; then both directions work.
  const buf = new Uint8Array(1 << 20);
  while (soreceive(c.so, buf, 0).len > 0);
  c.pseq = tp.rcv_nxt;
  // A blind in-window pure ACK with an acceptable ACK legitimately moves snd_wl1 ahead (the
  // window-update rule of RFC 9293 §3.10.7.4), freezing the send window until the peer's
  // sequence numbers pass it: the peer sends that much data first.
  for (let i = 0; i < 100 && ((tp.snd_wl1 - tp.rcv_nxt) | 0) >= 0; i++) {
    const n = Math.min(1400, ((tp.snd_wl1 - tp.rcv_nxt) | 0) + 1);
    peerSends(h, c, new Uint8Array(n).fill(0x33), true);
  }
  // Acknowledge everything the victim sent (retransmissions of data the fuzz ACKed or not).
  for (let i = 0; i < 200 && (c.so.so_snd.sb_ccc > 0 || tp.snd_una !== tp.snd_max); i++) {
    inject(h.V, h.fe.ifp, seg({ sport: c.sport, seq: c.pseq, ack: tp.snd_max, flags: TH_ACK }));
    h.clock.advance(MS);
  }
  assert.equal(c.so.so_snd.sb_ccc, 0, 'the victim flushed what it had to send');
  c.vseq = tp.snd_max;
  peerSends(h, c, Uint8Array.of(0x42, 0x43), true);
  victimSends(h, c, new Uint8Array(5000).fill(0x17));
  const c2 = handshake(h, 50000 + (tp.rcv_nxt & 0x3ff));
  peerSends(h, c2, Uint8Array.of(1));
  soclose(c2.so);
}

function drain(h: Host, conns: Socket[]): void {
  for (const so of conns) soclose(so);
  soclose(h.ls);
  // Everything times out: retransmissions, SYN cache, FIN_WAIT, TIME_WAIT.
  for (let i = 0; i < 40; i++) h.clock.advance(30 * SEC);
  h.fe.clear();
  assert.equal(h.V.tcp.info.count, 0, 'PCBs left');
  assert.equal(h.V.socket.numopensockets, 0, 'sockets left');
  assert.equal(h.V.sysctl.get('net.inet.tcp.syncache.count'), 0);
  assert.ok(mbufsInUse(h.V) <= h.base, `mbufs in use ${mbufsInUse(h.V)}, baseline ${h.base}`);
}

describe('fuzzing tcp_input (fast-check)', () => {
  it('random segments against a listener and an established connection', () => {
    let seed = 100;
    fc.assert(
      fc.property(fc.array(fuzzArb, { minLength: 1, maxLength: 30 }), fc.boolean(), (fuzz, withData) => {
        const h = host(seed++);
        const c = handshake(h, 40100);
        const tp = tpOf(c.so);
        if (withData) {
          // Outstanding data so that ACKs and SACK blocks have something to chew on.
          assert.equal(sosend(c.so, null, new Uint8Array(20000).fill(5), 0, 20000, 0).sent, 20000);
        }
        for (const f of fuzz) {
          inject(h.V, h.fe.ifp, fuzzSeg(f, c, tp));
          h.clock.advance(MS);
        }
        h.clock.advance(300 * MS);
        checkHealthy(h, c);
        drain(h, [c.so]);
      }),
      { numRuns: 150, seed: 4242 },
    );
  });

  it('mutations of valid segments (header bytes, flags, lengths) with checksums recomputed', () => {
    let seed = 300;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('data', 'ack', 'syn', 'sack'),
            muts: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
            truncate: fc.option(fc.nat(), { freq: 5 }),
            fixSum: fc.integer({ min: 0, max: 9 }).map((x) => x !== 0),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        (ms) => {
          const h = host(seed++);
          const c = handshake(h, 40200);
          const tp = tpOf(c.so);
          assert.equal(sosend(c.so, null, new Uint8Array(8000).fill(6), 0, 8000, 0).sent, 8000);
          h.clock.advance(MS);
          for (const m of ms) {
            const sack = Uint8Array.of(1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0);
            set32(sack, 4, tp.snd_una + 1448);
            set32(sack, 8, tp.snd_una + 2896);
            const specs: Record<string, SegSpec> = {
              data: { sport: c.sport, seq: tp.rcv_nxt + 100, ack: tp.snd_una, flags: TH_ACK | TH_PUSH, data: new Uint8Array(300).fill(8) },
              ack: { sport: c.sport, seq: tp.rcv_nxt, ack: tp.snd_una, flags: TH_ACK },
              syn: { sport: 1000 + ((m.muts[0]?.[0] ?? 0) % 60000), src: ip('172.16.1.1'), seq: 1, flags: TH_SYN, opts: SYN_OPTS },
              sack: { sport: c.sport, seq: tp.rcv_nxt, ack: tp.snd_una, flags: TH_ACK, opts: sack },
            };
            const p = seg(specs[m.kind] as SegSpec);
            const hl = 20;
            const tlen = p.length - hl;
            for (const [pos, val] of m.muts) {
              // Mutate the TCP header (and the start of the options/payload), never the
              // IP header, so the segment reaches tcp_input.
              const at = hl + (pos % Math.min(tlen, 60));
              // Keep seq away from RCV.NXT exactness and drop FIN (legitimate closes).
              p[at] = val;
            }
            p[hl + 13] = (p[hl + 13] as number) & ~TH_FIN;
            const th = p.subarray(hl);
            if (get32(th, 4) === tp.rcv_nxt && th[13]! & TH_RST) set32(th, 4, tp.rcv_nxt + 1);
            let pkt = p;
            if (m.truncate !== null) {
              const n = hl + (m.truncate % (tlen + 1));
              pkt = Uint8Array.from(p.subarray(0, n));
              set16(pkt, 2, n);
              set16(pkt, 10, 0);
              // Header checksum of the shortened datagram.
              let s = 0;
              for (let i = 0; i < 20; i += 2) s += get16(pkt, i);
              while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
              set16(pkt, 10, ~s & 0xffff);
            }
            if (m.fixSum) fixTcpSum(pkt);
            inject(h.V, h.fe.ifp, pkt);
            h.clock.advance(MS);
          }
          h.clock.advance(300 * MS);
          checkHealthy(h, c);
          drain(h, [c.so]);
        },
      ),
      { numRuns: 150, seed: 777 },
    );
  });
});

describe('SYN flood', () => {
  it('thousands of SYNs from random sources overflow the SYN cache; cookies keep the listener serving', () => {
    const h = host(9);
    // SYN-ACKs to the spoofed sources leave through the peer as the default router.
    h.V.rt.add4(0, 0, { ifp: h.fe.ifp, gateway: PEER, flags: RTF_STATIC, mtu: 0 });
    const st = h.V.tcp.stat;
    const N = 30000;
    let rnd = 12345;
    const next = () => {
      rnd ^= rnd << 13;
      rnd ^= rnd >>> 17;
      rnd ^= rnd << 5;
      return rnd >>> 0;
    };
    for (let i = 0; i < N; i++) {
      const src = (ip('172.16.0.0') | (next() & 0xfffff)) >>> 0;
      inject(h.V, h.fe.ifp, seg({ src, sport: 1024 + (next() % 60000), seq: next(), flags: TH_SYN, opts: MSS_OPT }));
      if (i % 1000 === 999) {
        h.clock.advance(20 * MS);
        h.fe.clear();
      }
    }
    const cache = h.V.sysctl.get('net.inet.tcp.syncache.count') as number;
    const limit = h.V.sysctl.get('net.inet.tcp.syncache.cachelimit') as number;
    assert.ok(cache <= limit, `syncache ${cache} within its limit ${limit}`);
    assert.ok(st.tcps_sc_bucketoverflow + st.tcps_sc_cacheoverflow > 0, 'the SYN cache overflowed');
    assert.ok(st.tcps_sc_sendcookie >= N, `SYN-ACKs carried cookies: ${st.tcps_sc_sendcookie}`);
    assert.equal(h.ls.sol_qlen, 0, 'no spoofed connection completed');
    // A legitimate client (this one on the local network) connects in the middle of the flood.
    const rc0 = st.tcps_sc_recvcookie;
    const c = handshake(h, 33333, MSS_OPT);
    assert.equal(st.tcps_sc_recvcookie, rc0 + 1, 'the connection came back through its cookie');
    assert.equal(tpOf(c.so).t_state, TCPS_ESTABLISHED);
    assert.equal(tpOf(c.so).t_maxseg, 1460, 'MSS recovered from the cookie');
    peerSends(h, c, new Uint8Array(1000).fill(1));
    victimSends(h, c, new Uint8Array(1000).fill(2));
    // More flood, then the cache drains by itself (SYN-ACK retransmits give up).
    for (let i = 0; i < 40; i++) h.clock.advance(SEC);
    h.fe.clear();
    assert.equal(h.V.sysctl.get('net.inet.tcp.syncache.count'), 0);
    const c2 = handshake(h, 33334, MSS_OPT);
    peerSends(h, c2, Uint8Array.of(1));
    drain(h, [c.so, c2.so]);
  });
});
