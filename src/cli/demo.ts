/*
 * bsdnet demo: what `npm start` shows a newcomer.
 *
 * Three stack instances in this process — client, router, server — joined by simulated
 * Ethernet links: a fast LAN between client and router, and a WAN with delay, a bottleneck
 * and a little loss between router and server. The router forwards (net.inet.ip.forwarding=1);
 * the server runs an unmodified node:http server over bsdnet sockets, and the client
 * downloads a file with node:http, showing a progress bar and the throughput. Then the
 * operator's tools show what happened, exactly as on a BSD host: `netstat -an`, the TCP part
 * of `netstat -s`, and the vestigial TIME_WAIT table once the connections have closed. The
 * client's packets are written to a pcap file, and the server's black-box log of the download
 * to JSON and to an SVG plot of its sequence numbers, congestion window and RTT.
 *
 *   bsdnet demo [--size MIB] [--out DIR] [--loss PERCENT] [--delay MS]
 */

import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { Stack } from '../api/stack.js';
import { BpfTap } from '../net/bpf.js';
import { PcapWriter } from '../net/pcap.js';
import { netstatMain } from './netstat.js';
import { errText, parseArgs, type ToolIO } from './toolargs.js';
import { traceMain } from './trace.js';

const USAGE = 'usage: bsdnet demo [--size MIB] [--out DIR] [--loss PERCENT] [--delay MS]\n';

/** An http.Agent whose connections are bsdnet sockets of `stack`. */
class StackAgent extends http.Agent {
  constructor(
    private readonly stack: Stack,
    opts: http.AgentOptions,
  ) {
    super(opts);
  }
  override createConnection(options: { port?: number | string | null; host?: string | null }): Duplex {
    return this.stack.net.connect({ port: Number(options.port), host: options.host ?? '127.0.0.1' });
  }
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

function bar(done: number, total: number, width = 30): string {
  const k = Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(k)}${'-'.repeat(width - k)}]`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run one of the tools against an in-process stack and return what it printed. */
async function tool(fn: (argv: string[], io: ToolIO) => Promise<number>, stack: Stack, argv: string[]): Promise<string> {
  let out = '';
  let err = '';
  const io: ToolIO = {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    vnet: stack.vnet,
  };
  const status = await fn(argv, io);
  if (status !== 0) throw new Error(`${argv.join(' ')}: ${err.trim()}`);
  return out + err;
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function get(agent: http.Agent, path: string, onData?: (n: number) => void): Promise<{ status: number; bytes: number }> {
  return new Promise((res, rej) => {
    const req = http.get({ host: '10.2.0.2', port: 80, path, agent }, (r) => {
      let bytes = 0;
      r.on('data', (d: Buffer) => {
        bytes += d.length;
        onData?.(bytes);
      });
      r.on('end', () => res({ status: r.statusCode ?? 0, bytes }));
      r.on('error', rej);
    });
    req.on('error', rej);
  });
}

export async function demoMain(argv: string[]): Promise<number> {
  let size = 4;
  let outDir = 'demo-output';
  let lossPct = 0.1;
  let delayMs = 10;
  try {
    const a = parseArgs('demo', argv, { flags: 'h', withArg: '', long: ['help'], longArg: ['size', 'out', 'loss', 'delay'] });
    if (a.count.get('h') || a.count.get('help')) {
      process.stdout.write(USAGE);
      return 0;
    }
    const num = (k: string, dflt: number, ok: (v: number) => boolean): number => {
      const v = a.value.get(k);
      if (v === undefined) return dflt;
      const n = Number(v);
      if (!ok(n)) throw new Error(`demo: --${k} ${v}: out of range`);
      return n;
    };
    size = num('size', size, (v) => v > 0 && v <= 256);
    lossPct = num('loss', lossPct, (v) => v >= 0 && v <= 10);
    delayMs = num('delay', delayMs, (v) => v >= 0 && v <= 500);
    outDir = a.value.get('out') ?? outDir;
    if (a.operands.length > 0) throw new Error(`demo: unexpected argument '${a.operands[0]}'`);
  } catch (e) {
    process.stderr.write(`${errText(e)}\n${USAGE}`);
    return 2;
  }
  const out = (s = ''): void => {
    process.stdout.write(`${s}\n`);
  };
  const t0 = Date.now();
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const pcapPath = resolve(dir, 'client.pcap');
  const logPath = resolve(dir, 'server-bblog.json');
  const svgPath = resolve(dir, 'cwnd-rtt.svg');

  // --- the network ---
  const client = new Stack({ name: 'client' });
  const router = new Stack({ name: 'router' });
  const server = new Stack({ name: 'server' });
  const lan = Stack.link(client, router, { delayNs: 100_000, rateBps: 1e9 }, { seed: 1 });
  const wan = Stack.link(router, server, { delayNs: delayMs * 1e6, rateBps: 100e6, queueLimit: 400, loss: lossPct / 100 }, { seed: 2 });
  client.addAddress(lan.a, '10.1.0.2/24');
  router.addAddress(lan.b, '10.1.0.1/24');
  router.addAddress(wan.a, '10.2.0.1/24');
  server.addAddress(wan.b, '10.2.0.2/24');
  client.addRoute('default', '10.1.0.1');
  server.addRoute('default', '10.2.0.1');
  router.sysctlSet('net.inet.ip.forwarding', 1);
  // Short TIME_WAIT for the demo: MSL 1 s for peers beyond a router (NetBSD MSLT "remote").
  for (const s of [client, server]) s.sysctlSet('net.inet.tcp.mslt.remote', 2);
  // The server's black-box log records every connection (FreeBSD BBLog).
  server.sysctlSet('net.inet.tcp.bb.log_auto_all', 1);

  out('bsdnet demo: three TCP/IP stacks in one Node.js process');
  out();
  out(
    `  client ${lan.a.if_xname} 10.1.0.2 ──LAN 1 Gbit/s, 0.1 ms── 10.1.0.1 ${lan.b.if_xname} router ${wan.a.if_xname} 10.2.0.1 ──WAN 100 Mbit/s, ${delayMs} ms, ${lossPct}% loss── 10.2.0.2 ${wan.b.if_xname} server`,
  );
  out();
  out('  The router forwards between the subnets; the server runs node:http on bsdnet sockets.');
  out();

  // Capture the client's side to pcap (what `bsdnet tcpdump -w` does over the control channel).
  const pcap = PcapWriter.toFile(pcapPath, 1);
  const tap = new BpfTap(lan.a, (data, len, _dir, tsNs) => pcap.write(tsNs, data, 0, len));

  // --- the server: an unmodified node:http server fed by a bsdnet listener ---
  const body = Buffer.alloc(1 << 20);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 13) & 0xff;
  const httpServer = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const m = /^\/file\?mib=(\d+(?:\.\d+)?)$/.exec(req.url ?? '');
    if (m === null) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`hello from ${server.name} over bsdnet, ${req.socket.remoteAddress}\n`);
      return;
    }
    const total = Math.round(Number(m[1]) * 1048576);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total, connection: 'close' });
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const n = Math.min(body.length, total - sent);
        sent += n;
        if (!res.write(body.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  const listener = server.net.createServer((sock) => httpServer.emit('connection', sock));
  await new Promise<void>((r) => listener.listen(80, '10.2.0.2', () => r()));

  let status = 0;
  try {
    // --- the download ---
    const agent = new StackAgent(client, { keepAlive: false });
    const total = Math.round(size * 1048576);
    const tty = process.stdout.isTTY === true;
    out(`Downloading ${mib(total)} from http://10.2.0.2/file with node:http over bsdnet ...`);
    const start = Date.now();
    let nextStep = 0.25;
    const show = (n: number): void => {
      const secs = (Date.now() - start) / 1000;
      const rate = secs > 0 ? (n * 8) / secs / 1e6 : 0;
      const line = `  ${bar(n, total)} ${String(Math.floor((n / total) * 100)).padStart(3)}%  ${mib(n)} / ${mib(total)}  ${rate.toFixed(1)} Mbit/s`;
      if (tty) process.stdout.write(`\r${line}`);
      else if (n / total >= nextStep || n === total) {
        out(line);
        while (n / total >= nextStep) nextStep += 0.25;
      }
    };
    const r = await get(agent, `/file?mib=${size}`, show);
    if (tty) out();
    const secs = (Date.now() - start) / 1000;
    if (r.status !== 200 || r.bytes !== total) throw new Error(`download failed: status ${r.status}, ${r.bytes} of ${total} bytes`);
    out(`  done: ${mib(r.bytes)} in ${secs.toFixed(2)} s = ${((r.bytes * 8) / secs / 1e6).toFixed(1)} Mbit/s (HTTP ${r.status})`);
    out();

    // A keep-alive connection stays open, so netstat has every kind of socket to show.
    const keep = new StackAgent(client, { keepAlive: true });
    await get(keep, '/hello');
    await sleep(200);

    out('$ bsdnet netstat -an          (on the server: the listener, the idle keep-alive connection, and the download in TIME_WAIT)');
    out(indent(await tool(netstatMain, server, ['-an'])));
    out();
    out('$ bsdnet netstat -an          (on the client)');
    out(indent(await tool(netstatMain, client, ['-an'])));
    out();
    out("$ bsdnet netstat -ss -p tcp   (the server's TCP statistics; -ss leaves out the zero lines)");
    out(indent(await tool(netstatMain, server, ['-ss', '-p', 'tcp'])));
    out();

    // Close the keep-alive connection; the server's side of it becomes a vestige as well.
    keep.destroy();
    agent.destroy();
    await sleep(300);
    out('$ bsdnet netstat -V           (the server after the connections closed: vestigial TIME_WAIT entries)');
    const vtw = await tool(netstatMain, server, ['-V']);
    // The lookup counters are long; the table is what matters here.
    const from = vtw.indexOf('\ninet:');
    out(indent(`${vtw.slice(0, vtw.indexOf('vtw statistics:')).trimEnd()}\n${from >= 0 ? vtw.slice(from + 1) : vtw}`));
    out("    (each vestige holds a closed connection's TIME_WAIT in a few dozen bytes instead of a whole control block;");
    out('     with net.inet.tcp.mslt.remote=2 they expire after 2 s)');
    out();

    // --- files ---
    tap.detach();
    pcap.close();
    await tool(traceMain, server, ['dump', '-o', logPath]);
    const plotted = await tool(traceMain, server, ['plot', logPath, '-o', svgPath]);
    out('Files written:');
    out(`  ${pcapPath}`);
    out(`      ${pcap.packets} packets captured on the client's interface; open it with Wireshark, or: tshark -r ${pcapPath}`);
    out(`  ${logPath}`);
    out(
      `      the server's TCP black-box log (last ${server.sysctlGet('net.inet.tcp.bb.log_session_limit')} events per connection), from \`bsdnet trace dump\``,
    );
    out(`  ${svgPath}`);
    out(`      ${plotted.replace(/^trace: /, '').trim()}`);
    out('      sequence numbers, congestion window and RTT of the download over time, from `bsdnet trace plot`');
    out();
    out(
      `Finished in ${((Date.now() - t0) / 1000).toFixed(1)} s. Next: \`npx bsdnet help\` lists the tools; the README shows how to attach them to your own stacks.`,
    );
  } catch (e) {
    process.stderr.write(`demo: ${errText(e)}\n`);
    status = 1;
  } finally {
    tap.detach();
    pcap.close();
    listener.close();
    httpServer.close();
    client.destroy();
    router.destroy();
    server.destroy();
  }
  return status;
}
