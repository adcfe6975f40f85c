/*
 * bsdnet bench NAME [--json]: run a benchmark from bench/ and print its figures; with
 * --json, exactly one JSON object on stdout (progress goes to stderr).
 */

import type { BenchContext, BenchResult } from '../../bench/harness.js';

type BenchFn = (ctx: BenchContext) => Promise<BenchResult>;

const BENCHES: Record<string, { descr: string; load: () => Promise<BenchFn> }> = {
  checksum: { descr: 'Internet checksum vs Buffer.copy throughput', load: async () => (await import('../../bench/checksum.js')).bench },
  mbuf: { descr: 'mbuf and cluster allocation, prepend, m_copym', load: async () => (await import('../../bench/mbuf.js')).bench },
  callout: { descr: 'callout wheel schedule/cancel/fire with 100k pending', load: async () => (await import('../../bench/callout.js')).bench },
  tcp: {
    descr: 'TCP over epair vs node:net loopback: throughput, conns/s, 1-byte RR latency, idle-connection heap',
    load: async () => (await import('../../bench/tcp.js')).bench,
  },
  tun: {
    descr: 'TUN driver pps (64/1400 B, both ways) and UDP echo vs Linux; veth Linux→Linux Gbit/s (root)',
    load: async () => (await import('../../bench/tun.js')).bench,
  },
  udp: {
    descr: 'UDP datagrams/s between two stacks over epair (dgram path), IPv4 lookups/s at 100k routes',
    load: async () => (await import('../../bench/udp.js')).bench,
  },
  vtw: { descr: 'vestigial TIME_WAIT: bytes per vestige, lookups and GC pauses at 1M', load: async () => (await import('../../bench/vtw.js')).bench },
};

/** Register an additional benchmark (used by later layers' bench modules). */
export function registerBench(name: string, descr: string, load: () => Promise<BenchFn>): void {
  BENCHES[name] = { descr, load };
}

export async function benchMain(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  if (args.includes('--list') || args.length === 0) {
    const names = Object.keys(BENCHES);
    if (args.length === 0 && !args.includes('--list')) process.stderr.write('usage: bsdnet bench NAME [--json]\n');
    for (const n of names) process.stdout.write(`${n.padEnd(12)} ${BENCHES[n]?.descr}\n`);
    return args.length === 0 ? 2 : 0;
  }
  const name = args[0] as string;
  const b = BENCHES[name];
  if (!b) {
    process.stderr.write(`bsdnet bench: unknown benchmark '${name}' (try --list)\n`);
    return 2;
  }
  const scale = Number(process.env.BSDNET_BENCH_SCALE ?? '1');
  const ctx: BenchContext = {
    json,
    args: args.slice(1),
    scale: Number.isFinite(scale) && scale > 0 ? scale : 1,
    log: (msg) => {
      if (!json) process.stdout.write(`${msg}\n`);
      else process.stderr.write(`${msg}\n`);
    },
  };
  const fn = await b.load();
  const result = await fn(ctx);
  const full = { bench: name, node: process.version, ...result };
  if (json) process.stdout.write(`${JSON.stringify(full)}\n`);
  else for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(36)} ${v}\n`);
  return 0;
}
