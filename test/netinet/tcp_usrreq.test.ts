/*
 * TCP's socket interface (src/netinet/tcp_usrreq.ts) and its per-Vnet setup (tcp_init in
 * tcp_subr.ts), tested without a peer: the net.inet.tcp.* sysctls with FreeBSD's names,
 * defaults and ranges; IPPROTO_TCP options on unconnected sockets; bind/listen semantics;
 * and an active open whose SYN is captured on a fake Ethernet interface.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../src/kern/clock.js';
import { SysctlError } from '../../src/kern/kern_sysctl.js';
import { AF_INET, AF_INET6, in6_v4mapped, sockaddr_in, sockaddr_in6 } from '../../src/netinet/in.js';
import type { Inpcb } from '../../src/netinet/in_pcb.js';
import { IP_TTL } from '../../src/netinet/ip_ctloutput.js';
import { TCPS_CLOSED, TCPS_LISTEN, TCPS_SYN_SENT } from '../../src/netinet/tcp_fsm.js';
import { tcp_timer_active } from '../../src/netinet/tcp_timer.js';
import {
  TCP_CONGESTION,
  TCP_FASTOPEN,
  TCP_INFO,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINIT,
  TCP_KEEPINTVL,
  TCP_MAXSEG,
  TCP_MD5SIG,
  TCP_NODELAY,
  TCP_NOOPT,
  TCP_NOPUSH,
} from '../../src/netinet/tcp_usrreq.js';
import { type TcpCb, TF_NEEDFIN, TT_KEEP } from '../../src/netinet/tcp_var.js';
import { EACCES, EADDRINUSE, EAFNOSUPPORT, EINVAL, ENOPROTOOPT, EOPNOTSUPP, ESRCH } from '../../src/sys/errno.js';
import { SOCK_STREAM } from '../../src/sys/protosw.js';
import {
  SHUT_WR,
  SO_RCVBUF,
  SO_REUSEPORT,
  SO_SNDBUF,
  SOL_SOCKET,
  type Socket,
  sobind,
  soclose,
  soconnect,
  socreate,
  sogetopt,
  solisten,
  sosetopt,
  soshutdown,
  SS_ISCONNECTING,
} from '../../src/sys/socket.js';
import { Vnet } from '../../src/vnet.js';
import { inet_aton4 } from '../../src/wire/addr.js';
import { get16 } from '../../src/wire/bytes.js';
import { IPPROTO_IP, IPPROTO_TCP } from '../../src/wire/ipv4.js';
import { parseTcp, TH_ACK, TH_SYN } from '../../src/wire/tcp.js';
import { a6, addr6, fakeEther } from '../netinet6/helpers.js';

function vnet(): Vnet {
  return new Vnet({ clock: new VirtualClock(), seed: 7, name: 'tcp' });
}

function ip4(s: string): number {
  const a = inet_aton4(s);
  if (a === null) throw new Error(`bad address ${s}`);
  return a;
}

function sock(V: Vnet, family = AF_INET): Socket {
  const r = socreate(V, family, SOCK_STREAM, IPPROTO_TCP);
  assert.equal(r.error, 0);
  assert.ok(r.so);
  return r.so;
}

function tpOf(so: Socket): TcpCb {
  return (so.so_pcb as Inpcb).inp_ppcb as TcpCb;
}

function getopt(so: Socket, name: number, level = IPPROTO_TCP): unknown {
  const r = sogetopt(so, { level, name });
  assert.equal(r.error, 0, `getsockopt ${name}`);
  return r.value;
}

function info(so: Socket): Record<string, number> {
  return getopt(so, TCP_INFO) as Record<string, number>;
}

describe('net.inet.tcp sysctls', () => {
  it('have the FreeBSD defaults the conformance scripts assume (packetdrill.md §5.3)', () => {
    const V = vnet();
    const want: [string, number][] = [
      ['net.inet.tcp.rfc1323', 1],
      ['net.inet.tcp.sack.enable', 1],
      ['net.inet.tcp.ecn.enable', 2],
      ['net.inet.tcp.ecn.maxretries', 1],
      ['net.inet.tcp.blackhole', 0],
      ['net.inet.tcp.recvspace', 65536],
      ['net.inet.tcp.sendspace', 32768],
      ['net.inet.tcp.mssdflt', 536],
      ['net.inet.tcp.v6mssdflt', 1220],
      ['net.inet.tcp.minmss', 216],
      ['net.inet.tcp.initcwnd_segments', 10],
      ['net.inet.tcp.delacktime', 40],
      ['net.inet.tcp.delayed_ack', 1],
      ['net.inet.tcp.rexmit_initial', 1000],
      ['net.inet.tcp.rexmit_min', 30],
      ['net.inet.tcp.rexmit_slop', 200],
      ['net.inet.tcp.rexmit_drop_options', 0],
      ['net.inet.tcp.persmin', 5000],
      ['net.inet.tcp.persmax', 60000],
      ['net.inet.tcp.keepinit', 75000],
      ['net.inet.tcp.keepidle', 7200000],
      ['net.inet.tcp.keepintvl', 75000],
      ['net.inet.tcp.keepcnt', 8],
      ['net.inet.tcp.msl', 30000],
      ['net.inet.tcp.finwait2_timeout', 60000],
      ['net.inet.tcp.insecure_rst', 0],
      ['net.inet.tcp.insecure_syn', 0],
      ['net.inet.tcp.drop_synfin', 0],
      ['net.inet.tcp.icmp_may_rst', 1],
      ['net.inet.tcp.path_mtu_discovery', 1],
      ['net.inet.tcp.pmtud_blackhole_detection', 0],
      ['net.inet.tcp.tolerate_missing_ts', 1],
      ['net.inet.tcp.udp_tunneling_port', 0],
      ['net.inet.tcp.udp_tunneling_overhead', 8],
      ['net.inet.tcp.do_prr', 1],
      ['net.inet.tcp.rfc6675_pipe', 1],
      ['net.inet.tcp.rfc3042', 1],
      ['net.inet.tcp.rfc3390', 1],
      ['net.inet.tcp.abc_l_var', 2],
      ['net.inet.tcp.recvbuf_auto', 1],
      ['net.inet.tcp.sendbuf_auto', 1],
      ['net.inet.tcp.sendbuf_inc', 8192],
      ['net.inet.tcp.recvbuf_max', 2097152],
      ['net.inet.tcp.sendbuf_max', 2097152],
      ['net.inet.tcp.ack_war_timewindow', 1000],
      ['net.inet.tcp.ack_war_cnt', 5],
      ['net.inet.tcp.always_keepalive', 1],
      ['net.inet.tcp.tso', 1],
    ];
    for (const [name, v] of want) assert.equal(Number(V.sysctl.get(name)), v, name);
    assert.equal(V.sysctl.get('net.inet.tcp.cc.algorithm'), 'cubic');
  });

  it('refuse values FreeBSD refuses and features bsdnet lacks, changing nothing', () => {
    const V = vnet();
    const refused: [string, number][] = [
      ['net.inet.tcp.mssdflt', 215], // below TCP_MINMSS
      ['net.inet.tcp.v6mssdflt', 100],
      ['net.inet.tcp.delacktime', 0], // sysctl_msec_to_ticks: < 1 tick
      ['net.inet.tcp.msl', 0],
      ['net.inet.tcp.ecn.enable', 3], // AccECN
      ['net.inet.tcp.pmtud_blackhole_detection', 1],
      ['net.inet.tcp.udp_tunneling_port', 9811],
      ['net.inet.tcp.udp_tunneling_overhead', 7],
      ['net.inet.tcp.isn_reseed_interval', 60],
    ];
    for (const [name, v] of refused) {
      const before = V.sysctl.get(name);
      assert.throws(
        () => V.sysctl.set(name, v),
        (e: unknown) => e instanceof SysctlError && e.code === 'EINVAL',
        name,
      );
      assert.equal(V.sysctl.get(name), before, name);
    }
    V.sysctl.set('net.inet.tcp.mssdflt', 216);
    assert.equal(V.tcp.mssdflt, 216);
    V.sysctl.set('net.inet.tcp.msl', '15000');
    assert.equal(V.tcp.msl, 15000);
  });

  it('describe themselves with FreeBSD descriptions and units', () => {
    const V = vnet();
    assert.match(V.sysctl.describe('net.inet.tcp.keepidle').descr, /time before keepalive probes begin \(ms\)/);
    assert.equal(V.sysctl.describe('net.inet.tcp.mssdflt').descr, 'Default TCP Maximum Segment Size');
    assert.equal(V.sysctl.describe('net.inet.tcp.stats').fmt, 'S,tcpstat');
  });

  it('net.inet.tcp.stats, pcblist and states report the connections', () => {
    const V = vnet();
    const so = sock(V);
    assert.equal(sobind(so, sockaddr_in(0, 8080)), 0);
    assert.equal(solisten(so, 5), 0);
    const stats = V.sysctl.get('net.inet.tcp.stats') as Record<string, number>;
    assert.equal(stats.tcps_connattempt, 0);
    const list = V.sysctl.get('net.inet.tcp.pcblist') as Record<string, unknown>[];
    assert.equal(list.length, 1);
    const r = list[0] as Record<string, unknown>;
    assert.equal(r.state, 'LISTEN');
    assert.equal(r.lport, 8080);
    assert.equal(r.listening, true);
    assert.equal(r.so_id, so.so_id);
    assert.equal(r.rcvbuf, 65536);
    assert.equal(r.sndbuf, 32768);
    const states = V.sysctl.get('net.inet.tcp.states') as number[];
    assert.equal(states.length, 11);
    assert.equal(states[TCPS_LISTEN], 1);
    // tcpdrop -s LISTEN through the tools' sysctl.
    V.sysctl.set('net.inet.tcp.drop', TCPS_LISTEN);
    assert.equal(tpOf(so).t_state, TCPS_CLOSED);
    assert.throws(() => V.sysctl.set('net.inet.tcp.drop', 11));
    soclose(so);
    assert.equal((V.sysctl.get('net.inet.tcp.pcblist') as unknown[]).length, 0);
  });
});

describe('TCP protocol switch', () => {
  it('registers SOCK_STREAM/IPPROTO_TCP for IPv4 and IPv6 and the input tables', () => {
    const V = vnet();
    const p4 = V.protosw.find(AF_INET, SOCK_STREAM, 0);
    const p6 = V.protosw.find(AF_INET6, SOCK_STREAM, 0);
    assert.equal(p4?.pr_protocol, IPPROTO_TCP);
    assert.equal(p6?.pr_protocol, IPPROTO_TCP);
    assert.equal(p4?.pr_flags, 0x04 | 0x20 | 0x08);
    assert.equal(V.inet.protox[IPPROTO_TCP], p4);
    assert.equal(V.inet6.protox[IPPROTO_TCP], p6);
  });

  it('attach reserves sendspace/recvspace with autosizing, and counts the socket', () => {
    const V = vnet();
    const n = V.socket.numopensockets;
    const so = sock(V);
    assert.equal(getopt(so, SO_SNDBUF, SOL_SOCKET), 32768);
    assert.equal(getopt(so, SO_RCVBUF, SOL_SOCKET), 65536);
    assert.ok(so.so_snd.sb_flags & 0x800 && so.so_rcv.sb_flags & 0x800);
    assert.equal(V.socket.numopensockets, n + 1);
    soclose(so);
    assert.equal(V.socket.numopensockets, n);
    assert.equal(V.tcp.info.count, 0);
  });
});

describe('IPPROTO_TCP socket options (unconnected socket)', () => {
  it('TCP_NODELAY, TCP_NOPUSH, TCP_NOOPT read back as FreeBSD flag bits', () => {
    const V = vnet();
    const so = sock(V);
    for (const [name, bit] of [
      [TCP_NODELAY, 0x4],
      [TCP_NOPUSH, 0x1000],
      [TCP_NOOPT, 0x8],
    ] as const) {
      assert.equal(getopt(so, name), 0);
      assert.equal(sosetopt(so, { level: IPPROTO_TCP, name, value: 1 }), 0);
      assert.equal(getopt(so, name), bit);
      assert.equal(sosetopt(so, { level: IPPROTO_TCP, name, value: 0 }), 0);
      assert.equal(getopt(so, name), 0);
    }
  });

  it('TCP_MAXSEG starts at mssdflt and may only be lowered, not below minmss', () => {
    const V = vnet();
    const so = sock(V);
    assert.equal(getopt(so, TCP_MAXSEG), 536);
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_MAXSEG, value: 1000 }), EINVAL);
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_MAXSEG, value: 175 }), EINVAL); // 175 + 40 < 216
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_MAXSEG, value: 0 }), EINVAL);
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_MAXSEG, value: 500 }), 0);
    assert.equal(getopt(so, TCP_MAXSEG), 500);
    const s6 = sock(V, AF_INET6);
    assert.equal(getopt(s6, TCP_MAXSEG), 1220);
  });

  it('TCP_KEEP* are seconds, default to the sysctls and override them per socket', () => {
    const V = vnet();
    const so = sock(V);
    assert.equal(getopt(so, TCP_KEEPINIT), 75);
    assert.equal(getopt(so, TCP_KEEPIDLE), 7200);
    assert.equal(getopt(so, TCP_KEEPINTVL), 75);
    assert.equal(getopt(so, TCP_KEEPCNT), 8);
    V.sysctl.set('net.inet.tcp.keepidle', 15000);
    V.sysctl.set('net.inet.tcp.keepcnt', 2);
    assert.equal(getopt(so, TCP_KEEPIDLE), 15);
    assert.equal(getopt(so, TCP_KEEPCNT), 2);
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_KEEPIDLE, value: 1 }), 0);
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_KEEPINTVL, value: 3 }), 0);
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_KEEPINIT, value: 363 }), 0);
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_KEEPCNT, value: 5 }), 0);
    assert.equal(getopt(so, TCP_KEEPIDLE), 1);
    assert.equal(getopt(so, TCP_KEEPINTVL), 3);
    assert.equal(getopt(so, TCP_KEEPINIT), 363);
    assert.equal(getopt(so, TCP_KEEPCNT), 5);
    // ui > UINT_MAX / hz
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_KEEPIDLE, value: 4294968 }), EINVAL);
  });

  it('TCP_CONGESTION names the algorithm; unknown names are ESRCH', () => {
    const V = vnet();
    const so = sock(V);
    const name = (v: unknown) => new TextDecoder().decode(v as Uint8Array).replace(/\0+$/, '');
    assert.equal(name(getopt(so, TCP_CONGESTION)), 'cubic');
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_CONGESTION, value: new TextEncoder().encode('newreno') }), 0);
    assert.equal(name(getopt(so, TCP_CONGESTION)), 'newreno');
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_CONGESTION, value: new TextEncoder().encode('bogus\0') }), ESRCH);
    assert.equal(name(getopt(so, TCP_CONGESTION)), 'newreno');
  });

  it('TCP_INFO reports the CLOSED state and FreeBSD units; it cannot be set', () => {
    const V = vnet();
    const so = sock(V);
    const ti = info(so);
    assert.equal(ti.tcpi_state, TCPS_CLOSED);
    // FreeBSD sets TF_SACK_PERMIT in tcp_newtcpcb, so a fresh socket already reports it.
    assert.equal(ti.tcpi_options, 0x02);
    assert.equal(ti.tcpi_snd_mss, 536);
    assert.equal(ti.tcpi_rto, 1_000_000); // rexmit_initial, µs
    assert.equal(ti.tcpi_snd_cwnd, 65535 * 2 ** 14);
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_INFO, value: 0 }), EINVAL);
  });

  it('unimplemented and unknown options are ENOPROTOOPT; other levels reach IP', () => {
    const V = vnet();
    const so = sock(V);
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_MD5SIG, value: 1 }), ENOPROTOOPT);
    assert.equal(sosetopt(so, { level: IPPROTO_TCP, name: TCP_FASTOPEN, value: 1 }), ENOPROTOOPT);
    assert.equal(getopt(so, TCP_FASTOPEN), 0);
    assert.equal(sogetopt(so, { level: IPPROTO_TCP, name: 0x7777 }).error, ENOPROTOOPT);
    assert.equal(sosetopt(so, { level: IPPROTO_IP, name: IP_TTL, value: 4 }), 0);
    assert.equal(getopt(so, IP_TTL, IPPROTO_IP), 4);
  });
});

describe('bind and listen', () => {
  it('listen on an unbound socket picks an ephemeral port and enters LISTEN', () => {
    const V = vnet();
    const so = sock(V);
    assert.equal(solisten(so, 10), 0);
    const sa = so.so_proto.pr_usrreqs.pru_sockaddr(so);
    assert.ok(sa !== null && sa.port >= V.inet.portrange_first && sa.port <= V.inet.portrange_last);
    assert.equal(info(so).tcpi_state, TCPS_LISTEN);
    assert.equal(so.sol_qlimit, 10);
    // A listener does not connect.
    assert.equal(soconnect(so, sockaddr_in(ip4('127.0.0.1'), 80)), EOPNOTSUPP);
  });

  it('two listeners on one port without SO_REUSEADDR: EADDRINUSE', () => {
    const V = vnet();
    const a = sock(V);
    const b = sock(V);
    assert.equal(sobind(a, sockaddr_in(0, 5000)), 0);
    assert.equal(solisten(a, 5), 0);
    assert.equal(sobind(b, sockaddr_in(0, 5000)), EADDRINUSE);
    assert.equal(sobind(b, sockaddr_in(ip4('127.0.0.1'), 5000)), EADDRINUSE);
    // After the first closes, the port is free.
    soclose(a);
    assert.equal(sobind(b, sockaddr_in(0, 5000)), 0);
    assert.equal(solisten(b, 5), 0);
  });

  it('a dual-stack IPv6 listener on :: also holds the IPv4 port', () => {
    const V = vnet();
    const s6 = sock(V, AF_INET6);
    assert.equal(sobind(s6, sockaddr_in6(new Uint8Array(16), 6000)), 0);
    assert.equal(solisten(s6, 5), 0);
    const s4 = sock(V);
    assert.equal(sobind(s4, sockaddr_in(0, 6000)), EADDRINUSE);
  });

  it('multicast and broadcast addresses are refused', () => {
    const V = vnet();
    const so = sock(V);
    assert.equal(sobind(so, sockaddr_in(ip4('224.0.0.1'), 7000)), EAFNOSUPPORT);
    assert.equal(soconnect(so, sockaddr_in(ip4('224.0.0.1'), 80)), EAFNOSUPPORT);
    assert.equal(soconnect(so, sockaddr_in(0xffffffff, 80)), EACCES);
    const s6 = sock(V, AF_INET6);
    assert.equal(sobind(s6, sockaddr_in6(a6('ff02::1'), 7000)), EAFNOSUPPORT);
    assert.equal(sobind(s6, sockaddr_in6(in6_v4mapped(ip4('224.0.0.1')), 7000)), EAFNOSUPPORT);
    assert.equal(soconnect(s6, sockaddr_in(ip4('127.0.0.1'), 80)), EAFNOSUPPORT);
  });
});

describe('active open (no peer)', () => {
  function host(): { V: Vnet; frames: Uint8Array[] } {
    const V = vnet();
    const fe = fakeEther(V);
    assert.equal(V.inet.addAddress(fe.ifp, ip4('10.0.0.1'), 24).error, 0);
    V.arp.addStatic(fe.ifp, ip4('10.0.0.2'), Uint8Array.of(2, 0, 0, 0, 0, 2));
    fe.clear();
    return { V, frames: fe.frames };
  }

  function syns(frames: Uint8Array[]): { seq: number; win: number; flags: number; opts: string[]; sport: number; dport: number }[] {
    const out = [];
    for (const f of frames) {
      if (get16(f, 12) !== 0x0800 || f[14 + 9] !== IPPROTO_TCP) continue;
      const ihl = ((f[14] as number) & 0xf) * 4;
      const len = get16(f, 16) - ihl;
      const r = parseTcp(f, 14 + ihl, len);
      assert.ok(r.ok, r.ok ? '' : r.error);
      const t = r.value;
      out.push({
        seq: t.seq,
        win: t.win,
        flags: t.flags,
        sport: t.sport,
        dport: t.dport,
        opts: t.options.map((o) =>
          o.kind === 'mss' ? `mss ${o.mss}` : o.kind === 'wscale' ? `wscale ${o.shift}` : o.kind === 'timestamp' ? `TS ecr ${o.tsecr}` : o.kind,
        ),
      });
    }
    return out;
  }

  it('connect sends a FreeBSD SYN, enters SYN_SENT and arms the keepinit timer', () => {
    const { V, frames } = host();
    const fired: unknown[][] = [];
    V.trace.subscribe('tcp:::connect-request', (_p, args) => fired.push([...args]));
    const so = sock(V);
    assert.equal(soconnect(so, sockaddr_in(ip4('10.0.0.2'), 80)), 0);
    const tp = tpOf(so);
    assert.equal(tp.t_state, TCPS_SYN_SENT);
    assert.ok(so.so_state & SS_ISCONNECTING);
    assert.equal(V.tcp.stat.tcps_connattempt, 1);
    assert.ok(tcp_timer_active(tp, TT_KEEP));
    assert.equal(fired.length, 1);
    const s = syns(frames);
    assert.equal(s.length, 1);
    const syn = s[0] as (typeof s)[0];
    assert.equal(syn.flags & (TH_SYN | TH_ACK), TH_SYN);
    assert.equal(syn.dport, 80);
    assert.equal(syn.seq, tp.iss);
    assert.equal(syn.win, 65535);
    // <mss 1460,nop,wscale 6,sackOK,TS val ecr 0> (kern.ipc.maxsockbuf 2 MiB → wscale 6)
    assert.deepEqual(syn.opts, ['mss 1460', 'nop', 'wscale 6', 'sackPermitted', 'TS ecr 0']);
    assert.equal(tp.snd_una, tp.iss);
    assert.equal(tp.snd_max, (tp.iss + 1) >>> 0);
    assert.equal(info(so).tcpi_state, TCPS_SYN_SENT);
    const list = V.sysctl.get('net.inet.tcp.pcblist') as Record<string, unknown>[];
    assert.equal(list[0]?.state, 'SYN_SENT');
    assert.equal(list[0]?.faddr, '10.0.0.2');
  });

  it('the requested window scale follows kern.ipc.maxsockbuf exactly as FreeBSD', () => {
    for (const [max, scale] of [
      [73728, 1],
      [2097152, 6],
      [2147483647, 14],
    ] as const) {
      const { V } = host();
      V.sysctl.set('kern.ipc.maxsockbuf', max);
      const so = sock(V);
      assert.equal(soconnect(so, sockaddr_in(ip4('10.0.0.2'), 80)), 0);
      assert.equal(tpOf(so).request_r_scale, scale, `maxsockbuf ${max}`);
    }
  });

  it('the SYN is retransmitted after rexmit_initial', () => {
    const { V, frames } = host();
    const so = sock(V);
    assert.equal(soconnect(so, sockaddr_in(ip4('10.0.0.2'), 80)), 0);
    assert.equal(syns(frames).length, 1);
    (V.clock as VirtualClock).advance(999_000_000);
    assert.equal(syns(frames).length, 1);
    (V.clock as VirtualClock).advance(2_000_000);
    const s = syns(frames);
    assert.equal(s.length, 2);
    assert.equal(s[1]?.seq, s[0]?.seq);
  });

  it('a 4-tuple in use cannot be connected twice (EADDRINUSE)', () => {
    const { V } = host();
    const a = sock(V);
    const b = sock(V);
    // FreeBSD needs SO_REUSEPORT (not just SO_REUSEADDR) for two unconnected binds of one address.
    for (const so of [a, b]) assert.equal(sosetopt(so, { level: SOL_SOCKET, name: SO_REUSEPORT, value: 1 }), 0);
    assert.equal(sobind(a, sockaddr_in(ip4('10.0.0.1'), 40000)), 0);
    assert.equal(sobind(b, sockaddr_in(ip4('10.0.0.1'), 40000)), 0);
    assert.equal(soconnect(a, sockaddr_in(ip4('10.0.0.2'), 80)), 0);
    assert.equal(soconnect(b, sockaddr_in(ip4('10.0.0.2'), 80)), EADDRINUSE);
    // A different peer port is a different tuple.
    assert.equal(soconnect(b, sockaddr_in(ip4('10.0.0.2'), 81)), 0);
  });

  it('shutdown in SYN_SENT queues the FIN; close in SYN_SENT deletes the TCB', () => {
    const { V } = host();
    const so = sock(V);
    assert.equal(soconnect(so, sockaddr_in(ip4('10.0.0.2'), 80)), 0);
    assert.equal(soshutdown(so, SHUT_WR), 0);
    const tp = tpOf(so);
    assert.equal(tp.t_state, TCPS_SYN_SENT);
    assert.ok(tp.t_flags & TF_NEEDFIN);
    soclose(so);
    assert.equal(tp.t_state, TCPS_CLOSED);
    assert.ok(tp.t_freed);
    assert.equal(V.tcp.info.count, 0);
    assert.equal((V.sysctl.get('net.inet.tcp.pcblist') as unknown[]).length, 0);
  });

  it('IPv6: connect over a v4-mapped address goes out as IPv4; V6ONLY refuses it', () => {
    const { V, frames } = host();
    const so = sock(V, AF_INET6);
    assert.equal(soconnect(so, sockaddr_in6(in6_v4mapped(ip4('10.0.0.2')), 80)), 0);
    assert.equal(syns(frames).length, 1);
    const sa = so.so_proto.pr_usrreqs.pru_peeraddr(so);
    assert.equal(sa?.family, AF_INET6);
    const s2 = sock(V, AF_INET6);
    assert.equal(sosetopt(s2, { level: 41, name: 27, value: 1 }), 0); // IPV6_V6ONLY
    assert.equal(soconnect(s2, sockaddr_in6(in6_v4mapped(ip4('10.0.0.2')), 80)), EINVAL);
  });

  it('IPv6: connect to a global address enters SYN_SENT with its ISS (ND holds the SYN)', () => {
    const V = vnet();
    const fe = fakeEther(V);
    addr6(V, fe.ifp, '2001:db8::1');
    fe.clear();
    const so = sock(V, AF_INET6);
    assert.equal(soconnect(so, sockaddr_in6(a6('2001:db8::2'), 80)), 0);
    const tp = tpOf(so);
    assert.equal(tp.t_state, TCPS_SYN_SENT);
    // Neighbour discovery holds the SYN; the tcpcb has its tuple and ISS.
    assert.equal(tp.snd_max, (tp.iss + 1) >>> 0);
  });
});
