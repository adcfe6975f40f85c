/*
 * PcbInfo internals: the exact-match bucket table (growth keeps every chain findable, the
 * seed differs per Vnet) and the intrusive creation-order list (walks that survive removal,
 * and removed PCBs that let go of the rest of the list).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../../src/kern/clock.js';
import type { Inpcb, PcbInfo } from '../../src/netinet/in_pcb.js';
import { Vnet } from '../../src/vnet.js';

function mk(seed = 1): { V: Vnet; info: PcbInfo } {
  const V = new Vnet({ clock: new VirtualClock(), seed, loopback: false });
  return { V, info: V.tcp.info };
}

function connected(info: PcbInfo, faddr: number, fport: number, lport: number): Inpcb {
  const inp = info.alloc(null, false);
  inp.inp_laddr = 0x0a000001;
  inp.inp_lport = lport;
  inp.inp_faddr = faddr >>> 0;
  inp.inp_fport = fport;
  info.rehash(inp);
  return inp;
}

test('in_pcb: exact table grows and every connected PCB stays findable; freed ones are gone', () => {
  const { V, info } = mk();
  const base = info.count;
  const all: Inpcb[] = [];
  for (let i = 0; i < 5000; i++) all.push(connected(info, 0xc6120000 + (i >> 8), 443, 1024 + (i & 0xff)));
  for (let i = 0; i < 5000; i++) assert.equal(info.lookup4(0xc6120000 + (i >> 8), 443, 0x0a000001, 1024 + (i & 0xff), false), all[i]);
  // Free the even ones: odd ones still found, even ones not.
  for (let i = 0; i < 5000; i += 2) info.free(all[i] as Inpcb);
  for (let i = 0; i < 5000; i++) {
    const r = info.lookup4(0xc6120000 + (i >> 8), 443, 0x0a000001, 1024 + (i & 0xff), false);
    assert.equal(r, i & 1 ? all[i] : null, `tuple ${i}`);
  }
  assert.equal(info.count, base + 2500);
  V.destroy();
});

test('in_pcb: the exact-table hash is seeded per Vnet', () => {
  const a = mk(1);
  const b = mk(2);
  const pa = connected(a.info, 0xc6120001, 443, 5000);
  const pb = connected(b.info, 0xc6120001, 443, 5000);
  assert.notEqual(pa.inp_hkey, pb.inp_hkey);
  a.V.destroy();
  b.V.destroy();
});

test('in_pcb: list walks survive removal; a removed PCB lets go of the list afterwards', () => {
  const { V, info } = mk();
  const ps = [1, 2, 3, 4, 5].map((k) => connected(info, 0xc6120000, 443, 2000 + k));
  // Remove the PCB the walk stands on, and one ahead of it: the walk goes on and skips it.
  const seen: number[] = [];
  for (const p of info.list) {
    if (p.inp_lport < 2001) continue;
    seen.push(p.inp_lport);
    if (p.inp_lport === 2002) {
      info.free(p);
      info.free(ps[3] as Inpcb); // 2004
    }
  }
  assert.deepEqual(seen, [2001, 2002, 2003, 2005]);
  // An abandoned walk (break) ends cleanly too; after it, a removal clears the forward link.
  for (const p of info.list) if (p.inp_lport === 2001) break;
  info.free(ps[0] as Inpcb);
  assert.equal(ps[0]?.inp_listnext, null);
  assert.equal([...info.list].filter((p) => p.inp_lport > 2000).length, 2);
  V.destroy();
});
