/*
 * Router discovery and SLAAC (src/netinet6/nd6_rtr.ts; RFC 4861 §6, RFC 4862 §5.5): a Vnet
 * advertising with nd6_ra_enable gives a host that accepts advertisements a default route,
 * an on-link prefix route, an autoconfigured address and the link MTU; hand-built
 * advertisements check the lifetime rules (RFC 4862 §5.5.3(e) two-hour rule), expiry,
 * deprecation, and the validity checks of §6.1.2.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epair_create } from '../../src/net/if_epair.js';
import { ntop6 } from '../../src/netinet/in.js';
import { set16, set32 } from '../../src/wire/bytes.js';
import { IN6_IFF_AUTOCONF, IN6_IFF_DEPRECATED, IN6_IFF_TENTATIVE } from '../../src/netinet6/in6_var.js';
import { nd6_ra_disable, nd6_ra_enable, nd6_set_accept_rtadv } from '../../src/netinet6/nd6_rtr.js';
import { icmp6_send_echo } from '../../src/netinet6/raw_ip6.js';
import { in6_ifmtu } from '../../src/netinet6/ip6_output.js';
import { a6, cat, fakeEther, icmp6Sum, icmpOf, inject, ip6, llOpt, SEC, VirtualClock, vnet } from './helpers.js';

const ROUTER_LL = a6('fe80::1');
const ROUTER_MAC = Uint8Array.of(0x02, 0xaa, 0, 0, 0, 1);

interface RaSpec {
  lifetime?: number;
  hlim?: number;
  curhop?: number;
  reachable?: number;
  retrans?: number;
  mtu?: number;
  prefixes?: { p: string; plen?: number; flags?: number; valid: number; preferred: number }[];
  src?: Uint8Array;
  extra?: Uint8Array;
}

function raPkt(s: RaSpec): Uint8Array {
  const src = s.src ?? ROUTER_LL;
  const dst = a6('ff02::1');
  const hdr = new Uint8Array(16);
  hdr[0] = 134;
  hdr[4] = s.curhop ?? 64;
  set16(hdr, 6, s.lifetime ?? 1800);
  set32(hdr, 8, s.reachable ?? 0);
  set32(hdr, 12, s.retrans ?? 0);
  const parts: Uint8Array[] = [hdr, llOpt(1, ROUTER_MAC)];
  if (s.mtu !== undefined) {
    const o = new Uint8Array(8);
    o[0] = 5;
    o[1] = 1;
    set32(o, 4, s.mtu);
    parts.push(o);
  }
  for (const p of s.prefixes ?? []) {
    const o = new Uint8Array(32);
    o[0] = 3;
    o[1] = 4;
    o[2] = p.plen ?? 64;
    o[3] = p.flags ?? 0xc0;
    set32(o, 4, p.valid);
    set32(o, 8, p.preferred);
    o.set(a6(p.p), 16);
    parts.push(o);
  }
  if (s.extra) parts.push(s.extra);
  const msg = icmp6Sum(src, dst, cat(...parts));
  return ip6({ src, dst, nxt: 58, hlim: s.hlim ?? 255 }, msg);
}

function host() {
  const clock = new VirtualClock();
  const H = vnet('h', clock, 5);
  H.sysctl.set('net.inet6.ip6.accept_rtadv', true);
  const f = fakeEther(H, Uint8Array.of(0x02, 0x11, 0x22, 0x33, 0x44, 0x55));
  clock.advance(3 * SEC);
  return { clock, H, f };
}

function autoconf(H: ReturnType<typeof host>['H']) {
  return H.inet6.addrs.filter((x) => x.flags & IN6_IFF_AUTOCONF);
}

describe('router advertisement → default route, SLAAC address, MTU', () => {
  it('between a router Vnet (nd6_ra_enable) and a host Vnet (accept_rtadv=1)', () => {
    const clock = new VirtualClock();
    const R = vnet('r', clock, 1);
    const H = vnet('h', clock, 2);
    H.sysctl.set('net.inet6.ip6.accept_rtadv', true);
    const [er, eh] = epair_create(R, H);
    nd6_ra_enable(R, er, {
      prefixes: [{ prefix: a6('2001:db8:1::'), plen: 64, onlink: true, autonomous: true, valid: 86400, preferred: 14400 }],
      mtu: 1400,
      lifetime: 1800,
      interval: 30,
    });
    clock.advance(20 * SEC);
    // Default route through the router's link-local address.
    const def = H.rt.get6(a6('::'), 0);
    assert.ok(def, 'default route installed');
    const rll = R.inet6.ifaOnIfp(er, true)?.addr as Uint8Array;
    assert.equal(ntop6(def.nhop.gw6 as Uint8Array), ntop6(rll));
    assert.equal(def.nhop.nh_ifp, eh);
    // On-link prefix route and SLAAC address prefix + EUI-64.
    assert.ok(H.rt.get6(a6('2001:db8:1::'), 64));
    const hll = H.inet6.ifaOnIfp(eh, true);
    assert.ok(hll);
    const ifid = hll.addr.subarray(8);
    const want = new Uint8Array(16);
    want.set(a6('2001:db8:1::').subarray(0, 8));
    want.set(ifid, 8);
    const ia = H.inet6.ifaWithAddr(want, 0, eh);
    assert.ok(ia, `SLAAC address ${ntop6(want)}`);
    assert.ok(ia.flags & IN6_IFF_AUTOCONF);
    assert.equal(ia.flags & IN6_IFF_TENTATIVE, 0, 'DAD completed');
    assert.equal(ia.vltime, 86400);
    assert.equal(ia.pltime, 14400);
    // MTU option.
    assert.equal(in6_ifmtu(eh), 1400);
    // The host solicited (RS) and the router answered.
    assert.ok((R.icmp6.stat.icp6s_inhist[133] as number) >= 1);
    assert.ok((H.icmp6.stat.icp6s_inhist[134] as number) >= 1);
    assert.equal(H.nd6.defrouters.length, 1);
    // The new address works end to end: ping the router's link-local from it... and the
    // router's global side via a static address.
    R.inet6.addAddress(er, a6('2001:db8:1::1'), 64);
    clock.advance(3 * SEC);
    const got: number[] = [];
    H.rawip6.listenEcho(3, (r) => got.push(r.seq));
    assert.equal(icmp6_send_echo(H, null, a6('2001:db8:1::1'), 3, 1, new Uint8Array(8)), 0);
    clock.advance(SEC);
    assert.deepEqual(got, [1]);
    // Stopping the router sends a final RA with lifetime 0: the default route goes.
    nd6_ra_disable(R, er);
    clock.advance(SEC);
    assert.equal(H.rt.get6(a6('::'), 0), undefined);
    assert.equal(H.nd6.defrouters.length, 0);
  });

  it('sends router solicitations after attach (up to MAX_RTR_SOLICITATIONS, RTR_SOLICITATION_INTERVAL apart)', () => {
    const { clock, f } = host();
    clock.advance(20 * SEC);
    const rs = icmpOf(f.ip6()).filter((x) => x.type === 133);
    assert.equal(rs.length, 3);
    for (const r of rs) {
      assert.equal(ntop6(r.pkt.subarray(24, 40)), 'ff02::2');
      assert.equal(r.pkt[7], 255);
    }
  });

  it('stops soliciting once an advertisement arrives', () => {
    const { clock, H, f } = host();
    inject(H, f.ifp, raPkt({}), true);
    f.clear();
    clock.advance(20 * SEC);
    assert.equal(icmpOf(f.ip6()).filter((x) => x.type === 133).length, 0);
  });
});

describe('RA processing rules', () => {
  it('installs and refreshes the default router, removes it at lifetime 0 or expiry', () => {
    const { clock, H, f } = host();
    inject(H, f.ifp, raPkt({ lifetime: 10 }), true);
    assert.ok(H.rt.get6(a6('::'), 0));
    inject(H, f.ifp, raPkt({ lifetime: 0 }), true);
    assert.equal(H.rt.get6(a6('::'), 0), undefined);
    inject(H, f.ifp, raPkt({ lifetime: 10 }), true);
    clock.advance(11 * SEC);
    assert.equal(H.rt.get6(a6('::'), 0), undefined, 'expired');
    assert.equal(H.nd6.defrouters.length, 0);
  });

  it('never replaces a static default route', () => {
    const { H, f } = host();
    const mine = H.rt.add6(a6('::'), 0, { ifp: f.ifp, gateway: a6('fe80::99') });
    inject(H, f.ifp, raPkt({}), true);
    assert.equal(H.rt.get6(a6('::'), 0), mine);
  });

  it('updates CurHopLimit, BaseReachableTime and RetransTimer', () => {
    const { H, f } = host();
    inject(H, f.ifp, raPkt({ curhop: 33, reachable: 20000, retrans: 2000 }), true);
    const x = H.inet6.ifextra(f.ifp);
    assert.equal(x.chlim, 33);
    assert.equal(x.basereachable, 20000);
    assert.ok(x.reachable >= 10000 && x.reachable <= 30000);
    assert.equal(x.retrans, 2000);
  });

  it('accepts an MTU option between 1280 and the link MTU only', () => {
    const { H, f } = host();
    inject(H, f.ifp, raPkt({ mtu: 1000 }), true);
    assert.equal(in6_ifmtu(f.ifp), 1500);
    inject(H, f.ifp, raPkt({ mtu: 9000 }), true);
    assert.equal(in6_ifmtu(f.ifp), 1500);
    inject(H, f.ifp, raPkt({ mtu: 1280 }), true);
    assert.equal(in6_ifmtu(f.ifp), 1280);
  });

  it('SLAAC lifetimes follow RFC 4862 §5.5.3(e), the two-hour rule included', () => {
    const { clock, H, f } = host();
    const pfx = (valid: number, preferred: number) => raPkt({ prefixes: [{ p: '2001:db8:5::', valid, preferred }] });
    inject(H, f.ifp, pfx(3600, 1800), true);
    const [ia] = autoconf(H);
    assert.ok(ia);
    assert.equal(ia.vltime, 3600);
    assert.equal(ia.pltime, 1800);
    // Remaining 3600 s ≤ 2 h, advertised 600 s: ignored.
    inject(H, f.ifp, pfx(600, 600), true);
    assert.equal(ia.vltime, 3600);
    assert.equal(ia.pltime, 600, 'the preferred lifetime is always taken');
    // More than the remaining lifetime: taken.
    inject(H, f.ifp, pfx(10000, 5000), true);
    assert.equal(ia.vltime, 10000);
    // Remaining 10000 s > 2 h, advertised 100 s: cut to two hours.
    inject(H, f.ifp, pfx(100, 50), true);
    assert.equal(ia.vltime, 7200);
    assert.equal(ia.pltime, 50);
    // More than two hours: taken.
    inject(H, f.ifp, pfx(8000, 100), true);
    assert.equal(ia.vltime, 8000);
    // Preferred lifetime runs out: deprecated (still valid).
    clock.advance(101 * SEC);
    assert.ok(ia.flags & IN6_IFF_DEPRECATED);
    assert.ok(H.inet6.addrs.includes(ia));
    // Valid lifetime runs out: the address is removed.
    clock.advance(8000 * SEC);
    assert.equal(H.inet6.addrs.includes(ia), false);
    assert.equal(autoconf(H).length, 0);
  });

  it('ignores prefixes that cannot autoconfigure (length ≠ 64, link-local, preferred > valid, A clear)', () => {
    const { H, f } = host();
    inject(H, f.ifp, raPkt({ prefixes: [{ p: '2001:db8:6::', plen: 48, valid: 100, preferred: 100 }] }), true);
    inject(H, f.ifp, raPkt({ prefixes: [{ p: 'fe80::', valid: 100, preferred: 100 }] }), true);
    inject(H, f.ifp, raPkt({ prefixes: [{ p: '2001:db8:7::', valid: 100, preferred: 200 }] }), true);
    inject(H, f.ifp, raPkt({ prefixes: [{ p: '2001:db8:8::', flags: 0x80, valid: 100, preferred: 100 }] }), true);
    assert.equal(autoconf(H).length, 0);
    // The /48 with L set is on-link nevertheless; the L-only /64 too.
    assert.ok(H.rt.get6(a6('2001:db8:6::'), 48));
    assert.ok(H.rt.get6(a6('2001:db8:8::'), 64));
    assert.equal(H.rt.get6(a6('2001:db8:7::'), 64), undefined);
    // An on-link prefix with valid lifetime 0 is removed.
    inject(H, f.ifp, raPkt({ prefixes: [{ p: '2001:db8:8::', flags: 0x80, valid: 0, preferred: 0 }] }), true);
    assert.equal(H.rt.get6(a6('2001:db8:8::'), 64), undefined);
  });

  it('drops invalid advertisements and counts them (§6.1.2)', () => {
    const { H, f } = host();
    const st = H.icmp6.stat;
    inject(H, f.ifp, raPkt({ hlim: 64 }), true);
    assert.equal(st.icp6s_invlhlim, 1);
    inject(H, f.ifp, raPkt({ src: a6('2001:db8::1') }), true);
    inject(H, f.ifp, raPkt({ extra: Uint8Array.of(9, 0, 0, 0, 0, 0, 0, 0) }), true); // option length 0
    assert.equal(st.icp6s_badra, 3);
    assert.equal(st.icp6s_nd_badopt, 1);
    assert.equal(H.rt.get6(a6('::'), 0), undefined);
  });

  it('ignores advertisements when accept_rtadv is off, and on routers', () => {
    const { H, f } = host();
    nd6_set_accept_rtadv(H, f.ifp, false);
    inject(H, f.ifp, raPkt({}), true);
    assert.equal(H.rt.get6(a6('::'), 0), undefined);
    nd6_set_accept_rtadv(H, f.ifp, true);
    H.sysctl.set('net.inet6.ip6.forwarding', true);
    inject(H, f.ifp, raPkt({}), true);
    assert.equal(H.rt.get6(a6('::'), 0), undefined);
    H.sysctl.set('net.inet6.ip6.forwarding', false);
    inject(H, f.ifp, raPkt({}), true);
    assert.ok(H.rt.get6(a6('::'), 0));
    assert.ok(Array.isArray(H.sysctl.get('net.inet6.icmp6.nd6_drlist')));
    assert.ok(Array.isArray(H.sysctl.get('net.inet6.icmp6.nd6_prlist')));
  });
});
