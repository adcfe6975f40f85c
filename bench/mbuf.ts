/*
 * bench mbuf: cost of the packet-buffer primitives on the real allocator of a Vnet:
 * mbuf get/free, cluster get/free, a 3-header prepend, and m_copym of a 1448-byte cluster
 * segment (what tcp_output does per segment).
 */

import { VirtualClock } from '../src/kern/clock.js';
import { MCLBYTES, m_freem, m_free } from '../src/mbuf/mbuf.js';
import { Vnet } from '../src/vnet.js';
import { type BenchContext, type BenchResult, nsPerOp, round } from './harness.js';

export async function bench(ctx: BenchContext): Promise<BenchResult> {
  const V = new Vnet({ clock: new VirtualClock(), seed: 1, loopback: false });
  const mb = V.mbufs;
  const n = Math.floor(2_000_000 * ctx.scale);
  const mbufNs = nsPerOp((k) => {
    for (let i = 0; i < k; i++) m_free(mb.gethdr()!);
  }, n);
  const clNs = nsPerOp((k) => {
    for (let i = 0; i < k; i++) m_free(mb.getcl(MCLBYTES)!);
  }, n);
  const prependNs = nsPerOp((k) => {
    for (let i = 0; i < k; i++) {
      let m = mb.getcl(MCLBYTES)!;
      m.m_data = 1000;
      m.m_len = 100;
      m.len = 100;
      m = mb.prepend(m, 20)!; // TCP
      m = mb.prepend(m, 20)!; // IP
      m = mb.prepend(m, 14)!; // Ethernet
      m_freem(m);
    }
  }, n);
  const seg = mb.getcl(MCLBYTES)!;
  seg.m_len = 1448;
  seg.len = 1448;
  const copymNs = nsPerOp((k) => {
    for (let i = 0; i < k; i++) m_freem(mb.copym(seg, 0, 1448));
  }, n);
  m_freem(seg);
  const r = {
    mbuf_alloc_free_ns: round(mbufNs, 1),
    cluster_alloc_free_ns: round(clNs, 1),
    prepend_3_headers_ns: round(prependNs, 1),
    copym_1448_ns: round(copymNs, 1),
  };
  ctx.log(
    `mbuf get+free ${r.mbuf_alloc_free_ns} ns, cluster get+free ${r.cluster_alloc_free_ns} ns, 3 prepends ${r.prepend_3_headers_ns} ns, m_copym ${r.copym_1448_ns} ns`,
  );
  V.destroy();
  return r;
}
