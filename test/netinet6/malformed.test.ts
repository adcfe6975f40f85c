/*
 * Malformed and hostile IPv6 input (src/netinet6/ip6_input.ts, icmp6.ts, nd6_nbr.ts,
 * nd6_rtr.ts): every bad packet is dropped and counted under its named counter, without an
 * exception, and answered only as RFC 8200 §4 / RFC 4443 §2.4 allow — bad lengths and
 * addresses, truncated headers, bad extension-header chains, the four option actions of
 * §4.2, routing header type 0 (RFC 5095), unknown next headers, checksums, ND messages with
 * a hop limit other than 255 or bad options, the error-about-error rule and the rate limit.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ntop6 } from '../../src/netinet/in.js';
import { nd6_add_static } from '../../src/netinet6/nd6.js';
import { a6, addr6, cat, echoReq, fakeEther, icmp6, icmpOf, inject, ip6, llOpt, optsHdr, SEC, VirtualClock, vnet } from './helpers.js';

const ME = a6('2001:db8::1');
const PEER = a6('2001:db8::2');
const PEER_MAC = Uint8Array.of(0x02, 0xbb, 0, 0, 0, 2);

function node() {
  const clock = new VirtualClock();
  const V = vnet('v', clock, 4);
  const f = fakeEther(V, Uint8Array.of(0x02, 0, 0, 0, 0, 0x55));
  addr6(V, f.ifp, '2001:db8::1');
  nd6_add_static(V, f.ifp, PEER, PEER_MAC);
  clock.advance(3 * SEC);
  f.clear();
  const errors = () => icmpOf(f.ip6()).filter((x) => x.type < 128);
  return { clock, V, f, errors };
}

/** An echo request wrapped in extension headers (`hdrs` in order; first nxt = hdrs[0][0]). */
function withExt(first: number, hdrs: Uint8Array[], dst = ME, src = PEER): Uint8Array {
  const inner = icmp6(src, dst, 128, 0, 0x00010001, new Uint8Array(8));
  return ip6({ src, dst, nxt: first }, cat(...hdrs, inner));
}

describe('ip6_input validation', () => {
  it('drops short, wrong-version and length-mismatched packets', () => {
    const { V, f } = node();
    const st = V.inet6.stat;
    inject(V, f.ifp, new Uint8Array(20));
    assert.equal(st.ip6s_tooshort, 1);
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 59, version: 4 }, new Uint8Array(8)));
    assert.equal(st.ip6s_badvers, 1);
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 59, plen: 100 }, new Uint8Array(8)));
    assert.equal(st.ip6s_tooshort, 2);
    // Link-layer padding beyond the payload length is trimmed, and the packet delivered.
    const p = cat(echoReq(PEER, ME, 1, 1), new Uint8Array(30).fill(0xee));
    inject(V, f.ifp, p);
    assert.equal(V.icmp6.stat.icp6s_reflect, 1);
    assert.equal(V.icmp6.stat.icp6s_checksum, 0);
  });

  it('drops impossible addresses (ip6s_badscope) and groups not joined (ip6s_notmember)', () => {
    const { V, f, errors } = node();
    const st = V.inet6.stat;
    const bad = ['ff02::1', '::1', '::ffff:10.0.0.1'];
    for (const s of bad) inject(V, f.ifp, echoReq(a6(s), ME, 1, 1));
    inject(V, f.ifp, echoReq(PEER, a6('::1'), 1, 1));
    inject(V, f.ifp, echoReq(PEER, a6('::'), 1, 1));
    inject(V, f.ifp, echoReq(PEER, a6('ff01::1'), 1, 1), true);
    inject(V, f.ifp, echoReq(PEER, a6('ff00::1'), 1, 1), true);
    inject(V, f.ifp, echoReq(PEER, a6('::ffff:10.0.0.1'), 1, 1));
    assert.equal(st.ip6s_badscope, 8);
    inject(V, f.ifp, echoReq(PEER, a6('ff02::1234'), 1, 1), true);
    assert.equal(st.ip6s_notmember, 1);
    // A packet for our tentative address is neither ours nor forwarded.
    V.inet6.addAddress(f.ifp, a6('2001:db8::77'), 64);
    inject(V, f.ifp, echoReq(PEER, a6('2001:db8::77'), 1, 1));
    assert.equal(st.ip6s_badaddr, 1);
    assert.equal(errors().length, 0);
    assert.equal(V.icmp6.stat.icp6s_reflect, 0);
  });

  it('refuses hop-by-hop options anywhere but first (param problem code 1)', () => {
    const { V, f, errors } = node();
    inject(V, f.ifp, withExt(60, [optsHdr(0, new Uint8Array(0)), optsHdr(58, new Uint8Array(0))]));
    const e = errors();
    assert.equal(e.length, 1);
    assert.equal(e[0]?.type, 4);
    assert.equal(e[0]?.code, 1);
    assert.equal(e[0]?.msg[7], 40, 'pointer at the Next Header byte naming it');
    assert.equal(V.inet6.stat.ip6s_badoptions, 1);
  });

  it('drops truncated extension headers', () => {
    const { V, f, errors } = node();
    const h = optsHdr(58, new Uint8Array(0));
    h[1] = 10; // claims 88 bytes
    inject(V, f.ifp, withExt(0, [h]));
    assert.equal(V.inet6.stat.ip6s_tooshort, 1);
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 60 }, Uint8Array.of(58)));
    assert.equal(V.inet6.stat.ip6s_tooshort, 2);
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 44 }, Uint8Array.of(58, 0, 0)));
    assert.equal(V.inet6.stat.ip6s_tooshort, 3);
    assert.equal(errors().length, 0);
  });

  it('applies the four actions of unrecognised options (RFC 8200 §4.2)', () => {
    const { V, f, errors } = node();
    const opt = (t: number) => Uint8Array.of(t, 2, 0, 0);
    // 00: skip — delivered.
    inject(V, f.ifp, withExt(0, [optsHdr(58, opt(0x1e))]));
    assert.equal(V.icmp6.stat.icp6s_reflect, 1);
    // 01: discard silently.
    inject(V, f.ifp, withExt(60, [optsHdr(58, opt(0x5e))]));
    assert.equal(errors().length, 0);
    // 10: discard and report, even to a multicast destination.
    inject(V, f.ifp, withExt(0, [optsHdr(58, opt(0x9e))], a6('ff02::1')), true);
    let e = errors();
    assert.equal(e.length, 1);
    assert.equal(e[0]?.code, 2);
    assert.equal(e[0]?.msg[7], 42, 'pointer at the option');
    f.clear();
    // 11: discard and report only for a unicast destination.
    inject(V, f.ifp, withExt(60, [optsHdr(58, opt(0xde))], a6('ff02::1')), true);
    assert.equal(errors().length, 0);
    inject(V, f.ifp, withExt(60, [optsHdr(58, opt(0xde))]));
    e = errors();
    assert.equal(e.length, 1);
    assert.equal(e[0]?.code, 2);
    assert.equal(V.inet6.stat.ip6s_badoptions, 4);
    // An option running past its header: code 0.
    f.clear();
    const h = optsHdr(58, Uint8Array.of(0x1e, 9, 0, 0));
    inject(V, f.ifp, withExt(0, [h]));
    e = errors();
    assert.equal(e.length, 1);
    assert.equal(e[0]?.code, 0);
  });

  it('refuses a Jumbo Payload option (jumbograms unsupported: unrecognised option, code 2)', () => {
    const { V, f, errors } = node();
    const jumbo = optsHdr(58, Uint8Array.of(0xc2, 4, 0, 0, 0x10, 0));
    const p = withExt(0, [jumbo]);
    p[4] = 0;
    p[5] = 0;
    inject(V, f.ifp, p);
    const e = errors();
    assert.equal(e.length, 1);
    assert.equal(e[0]?.code, 2);
  });

  it('refuses routing header type 0 with segments left (RFC 5095), ignores it with none left', () => {
    const { V, f, errors } = node();
    const rh = (type: number, segleft: number) => {
      const h = new Uint8Array(24);
      h[0] = 58;
      h[1] = 2;
      h[2] = type;
      h[3] = segleft;
      h.set(a6('2001:db8::9'), 8);
      return h;
    };
    inject(V, f.ifp, withExt(43, [rh(0, 1)]));
    const e = errors();
    assert.equal(e.length, 1);
    assert.equal(e[0]?.type, 4);
    assert.equal(e[0]?.code, 0);
    assert.equal(e[0]?.msg[7], 42, 'pointer at the Routing Type');
    assert.equal(V.inet6.stat.ip6s_rthdr0, 1);
    inject(V, f.ifp, withExt(43, [rh(0, 0)]));
    assert.equal(V.icmp6.stat.icp6s_reflect, 1, 'segments left 0: processed as if absent');
    inject(V, f.ifp, withExt(43, [rh(4, 2)]));
    assert.equal(errors().length, 2, 'other unknown types with segments left are refused too');
  });

  it('bounds extension-header chains (net.inet6.ip6.hdrnestlimit)', () => {
    const { V, f } = node();
    const hdrs = Array.from({ length: 20 }, (_, i) => optsHdr(i === 19 ? 58 : 60, new Uint8Array(0)));
    inject(V, f.ifp, withExt(60, hdrs));
    assert.equal(V.inet6.stat.ip6s_toomanyhdr, 1);
    assert.equal(V.icmp6.stat.icp6s_reflect, 0);
  });

  it('answers an unknown next header with a parameter problem (code 1); No Next Header is silent', () => {
    const { V, f, errors } = node();
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 253 }, new Uint8Array(16)));
    const e = errors();
    assert.equal(e.length, 1);
    assert.equal(e[0]?.code, 1);
    assert.equal(e[0]?.msg[7], 6);
    assert.equal(V.inet6.stat.ip6s_noproto, 1);
    assert.equal(V.rawip6.stat.rip6s_nosock, 1);
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 59 }, new Uint8Array(16)));
    assert.equal(errors().length, 1);
  });
});

describe('ICMPv6 input and error rules', () => {
  it('drops bad checksums and short messages', () => {
    const { V, f } = node();
    const p = echoReq(PEER, ME, 1, 1);
    p[45] ^= 0xff;
    inject(V, f.ifp, p);
    assert.equal(V.icmp6.stat.icp6s_checksum, 1);
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 58 }, Uint8Array.of(128, 0, 0, 0)));
    assert.equal(V.icmp6.stat.icp6s_tooshort, 1);
    assert.equal(V.icmp6.stat.icp6s_reflect, 0);
  });

  it('never answers an ICMPv6 error, a packet from a non-unicast source, or a link-level multicast', () => {
    const { V, f, errors } = node();
    // An ICMPv6 error carrying an option that would normally be reported.
    const err = icmp6(PEER, ME, 1, 4, 0, new Uint8Array(48));
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 0 }, cat(optsHdr(58, Uint8Array.of(0xde, 2, 0, 0)), err)));
    // Unknown next header, received as a link-level multicast.
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 253 }, new Uint8Array(8)), true);
    // Unknown next header from the unspecified address.
    inject(V, f.ifp, ip6({ src: a6('::'), dst: ME, nxt: 253 }, new Uint8Array(8)));
    assert.equal(errors().length, 0);
    assert.equal(V.icmp6.stat.icp6s_canterror, 3);
  });

  it('rate-limits errors to net.inet6.icmp6.errppslimit per second', () => {
    const { clock, V, f, errors } = node();
    assert.equal(V.sysctl.get('net.inet6.icmp6.errppslimit'), 100);
    for (let i = 0; i < 150; i++) inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 253 }, new Uint8Array(8)));
    assert.equal(errors().length, 100);
    assert.equal(V.icmp6.stat.icp6s_toofreq, 50);
    clock.advance(SEC);
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 253 }, new Uint8Array(8)));
    assert.equal(errors().length, 101);
  });

  it('quotes at most what fits in 1280 bytes', () => {
    const { V, f, errors } = node();
    inject(V, f.ifp, ip6({ src: PEER, dst: ME, nxt: 253 }, new Uint8Array(3000)));
    const e = errors();
    assert.equal(e.length, 1);
    assert.equal(e[0]?.pkt.length, 1280);
    assert.equal(ntop6((e[0]!.pkt as Uint8Array).subarray(8, 24)), '2001:db8::1');
  });
});

describe('neighbour discovery validity checks (RFC 4861 §6.1, §7.1)', () => {
  const LL = a6('fe80::2');
  const nsMsg = (target: Uint8Array, opts: Uint8Array = new Uint8Array(0), code = 0) => cat(Uint8Array.of(135, code, 0, 0, 0, 0, 0, 0), target, opts);
  const naMsg = (target: Uint8Array, flags: number, opts: Uint8Array = new Uint8Array(0)) => cat(Uint8Array.of(136, 0, 0, 0, flags, 0, 0, 0), target, opts);
  const nd = (src: Uint8Array, dst: Uint8Array, body: Uint8Array, hlim = 255) => {
    const m = Uint8Array.from(body);
    // checksum
    const sum = icmp6(src, dst, m[0] as number, m[1] as number, m.subarray(4, 8), m.subarray(8));
    return ip6({ src, dst, nxt: 58, hlim }, sum);
  };

  it('drops ND messages whose hop limit is not 255 (icp6s_invlhlim)', () => {
    const { V, f } = node();
    const st = V.icmp6.stat;
    inject(V, f.ifp, nd(PEER, ME, nsMsg(ME, llOpt(1, PEER_MAC)), 64));
    inject(V, f.ifp, nd(PEER, ME, naMsg(PEER, 0x60, llOpt(2, PEER_MAC)), 254));
    inject(V, f.ifp, nd(LL, a6('ff02::2'), Uint8Array.of(133, 0, 0, 0, 0, 0, 0, 0), 1), true);
    inject(V, f.ifp, nd(LL, a6('ff02::1'), new Uint8Array([134, 0, 0, 0, 64, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0]), 64), true);
    assert.equal(st.icp6s_invlhlim, 3, 'RS is ignored by hosts before validation');
    assert.equal(st.icp6s_badns, 1);
    assert.equal(st.icp6s_badna, 1);
    assert.equal(st.icp6s_badra, 1);
    assert.equal(icmpOf(f.ip6()).length, 0);
  });

  it('drops malformed solicitations (icp6s_badns)', () => {
    const { V, f } = node();
    const st = V.icmp6.stat;
    const sn = a6('ff02::1:ff00:1');
    inject(V, f.ifp, nd(PEER, ME, nsMsg(ME, llOpt(1, PEER_MAC), 1))); // code ≠ 0
    inject(V, f.ifp, nd(PEER, ME, nsMsg(ME).subarray(0, 20))); // too short
    inject(V, f.ifp, nd(PEER, ME, nsMsg(a6('ff02::1')))); // multicast target
    inject(V, f.ifp, nd(a6('::'), ME, nsMsg(ME))); // DAD NS not to a solicited-node group
    inject(V, f.ifp, nd(a6('::'), sn, nsMsg(ME, llOpt(1, PEER_MAC))), true); // DAD NS with SLLA
    inject(V, f.ifp, nd(PEER, ME, nsMsg(ME, Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0)))); // option length 0
    inject(V, f.ifp, nd(PEER, ME, nsMsg(ME, cat(Uint8Array.of(1, 2), new Uint8Array(14))))); // SLLA of 14 bytes
    inject(V, f.ifp, nd(a6('2001:db9::5'), ME, nsMsg(ME, llOpt(1, PEER_MAC)))); // not a neighbour
    assert.equal(st.icp6s_badns, 8);
    assert.equal(st.icp6s_nd_badopt, 1);
    assert.equal(icmpOf(f.ip6()).length, 0, 'nothing answered');
    // A valid one is answered with a solicited NA carrying our link-layer address.
    inject(V, f.ifp, nd(PEER, ME, nsMsg(ME, llOpt(1, PEER_MAC))));
    const na = icmpOf(f.ip6()).filter((x) => x.type === 136);
    assert.equal(na.length, 1);
    assert.equal((na[0]?.msg[4] as number) & 0x60, 0x60, 'solicited and override');
    assert.equal(na[0]?.pkt[7], 255);
  });

  it('drops malformed advertisements (icp6s_badna)', () => {
    const { V, f } = node();
    const st = V.icmp6.stat;
    inject(V, f.ifp, nd(PEER, a6('ff02::1'), naMsg(PEER, 0x60, llOpt(2, PEER_MAC))), true); // S to multicast
    inject(V, f.ifp, nd(PEER, ME, naMsg(a6('ff02::1'), 0x20))); // multicast target
    inject(V, f.ifp, nd(PEER, ME, naMsg(PEER, 0x20).subarray(0, 16))); // short
    inject(V, f.ifp, nd(PEER, ME, naMsg(PEER, 0x20, Uint8Array.of(2, 0, 0, 0))));
    assert.equal(st.icp6s_badna, 4);
  });

  it('an NA claiming one of our addresses is logged, not believed', () => {
    const { V, f } = node();
    inject(V, f.ifp, nd(PEER, a6('ff02::1'), naMsg(ME, 0x20, llOpt(2, PEER_MAC))), true);
    assert.equal(V.icmp6.stat.icp6s_dupaddr_defended, 1);
    assert.ok(V.nd6.log.some((l) => l.includes('duplicate IP6 address 2001:db8::1')));
    assert.ok(V.inet6.isLocal(ME));
  });

  it('accepts a redirect only from the current first-hop router', () => {
    const { V, f } = node();
    const rtr = a6('fe80::1');
    V.rt.add6(a6('::'), 0, { ifp: f.ifp, gateway: rtr });
    const target = a6('fe80::99');
    const dest = a6('2001:db8:77::1');
    const redir = (src: Uint8Array) => nd(src, ME, cat(Uint8Array.of(137, 0, 0, 0, 0, 0, 0, 0), target, dest, llOpt(2, PEER_MAC)));
    inject(V, f.ifp, redir(a6('fe80::5')));
    assert.equal(V.icmp6.stat.icp6s_badredirect, 1);
    assert.equal(V.rt.get6(dest, 128), undefined);
    inject(V, f.ifp, redir(rtr));
    const rt = V.rt.get6(dest, 128);
    assert.ok(rt);
    assert.equal(ntop6(rt.nhop.gw6 as Uint8Array), 'fe80::99');
    assert.ok(V.nd6.lookup(f.ifp, target));
  });
});
