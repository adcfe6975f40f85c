/*
 * `bsdnet tcpdump`: capture a stack's packets through its control channel (the bpf taps of
 * one interface), to a pcap file or as one line per packet in tcpdump's style.
 *
 *   bsdnet tcpdump --attach PATH [-i IF] [-w FILE] [-c N] [-eSn] [expression]
 *   bsdnet tcpdump -r FILE [-w FILE] [-c N] [-eSn] [expression]
 *
 *   -i IF    interface (default: the first interface that is up and not a loopback)
 *   -w FILE  write a pcap file (nanosecond timestamps; tshark and Wireshark read it)
 *   -r FILE  read a pcap file instead of capturing
 *   -c N     stop after N packets (that pass the filter)
 *   -e       print the link-level header;  -S  absolute TCP sequence numbers
 *   -n       accepted (addresses are never resolved)
 *   expression   a pcap-filter subset: host, port, net, tcp udp icmp icmp6 arp ip ip6,
 *                and/or/not, parentheses (see pktfilter.ts)
 *
 * Capturing needs a running stack: --attach PATH (or an in-process stack handed in by the
 * caller); there is nothing to capture on a fresh instance, so without either the command
 * says so and fails. It runs until -c is reached, the interface goes away, the channel
 * closes, or SIGINT; then it prints tcpdump's counters on stderr.
 */

import { readFileSync } from 'node:fs';
import { type CaptureHandle, localControl, type SysctlSource } from '../api/control.js';
import { LINKTYPE_ETHERNET, LINKTYPE_NULL, LINKTYPE_RAW, PcapWriter, parsePcap } from '../net/pcap.js';
import { compileFilter, type Filter, FilterSyntaxError } from './pktfilter.js';
import { PacketPrinter, tsText } from './pktprint.js';
import { errText, type ParsedArgs, parseArgs, processIO, type ToolIO } from './toolargs.js';
import { connectControl } from '../api/control.js';

const USAGE = `usage: bsdnet tcpdump --attach PATH [-i interface] [-w file] [-c count] [-eSn] [expression]
       bsdnet tcpdump -r file [-w file] [-c count] [-eSn] [expression]
`;

function linkName(lt: number): string {
  if (lt === LINKTYPE_ETHERNET) return 'EN10MB (Ethernet)';
  if (lt === LINKTYPE_NULL) return 'NULL (BSD loopback)';
  if (lt === LINKTYPE_RAW) return 'RAW (Raw IP)';
  return String(lt);
}

interface Sink {
  packet(tsNs: number, data: Uint8Array): void;
  close(): void;
}

function makeSink(io: ToolIO, printer: PacketPrinter, linktype: number, wfile: string | undefined): Sink {
  if (wfile !== undefined) {
    const w = PcapWriter.toFile(wfile, linktype);
    return {
      packet: (ts, d) => {
        w.write(ts, d, 0, d.length);
        w.flush();
      },
      close: () => w.close(),
    };
  }
  return {
    packet: (ts, d) => io.out(`${tsText(ts)} ${printer.decode(d).text}\n`),
    close: () => undefined,
  };
}

export async function tcpdumpMain(argv: string[], io: ToolIO = processIO()): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs('tcpdump', argv, { flags: 'eSnh', withArg: 'icwr', long: ['help'], longArg: ['attach'] });
  } catch (e) {
    io.err(`${errText(e)}\n${USAGE}`);
    return 2;
  }
  const has = (k: string): boolean => (args.count.get(k) ?? 0) > 0;
  if (has('h') || has('help')) {
    io.out(USAGE);
    return 0;
  }
  let limit = Number.POSITIVE_INFINITY;
  const cv = args.value.get('c');
  if (cv !== undefined) {
    if (!/^\d+$/.test(cv) || Number(cv) < 1) {
      io.err(`tcpdump: invalid packet count '${cv}'\n`);
      return 2;
    }
    limit = Number(cv);
  }
  let filter: Filter;
  try {
    filter = compileFilter(args.operands.join(' '));
  } catch (e) {
    if (e instanceof FilterSyntaxError) {
      io.err(`tcpdump: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const rfile = args.value.get('r');
  const wfile = args.value.get('w');
  const setup = (lt: number): PacketPrinter => {
    const p = new PacketPrinter(lt);
    p.absoluteSeq = has('S');
    p.linkHeader = has('e');
    return p;
  };

  if (rfile !== undefined) {
    let file: { linktype: number; records: { tsNs: number; data: Uint8Array }[] };
    try {
      file = parsePcap(new Uint8Array(readFileSync(rfile)));
    } catch (e) {
      io.err(`tcpdump: ${rfile}: ${errText(e)}\n`);
      return 1;
    }
    const printer = setup(file.linktype);
    io.err(`reading from file ${rfile}, link-type ${linkName(file.linktype)}\n`);
    let sink: Sink;
    try {
      sink = makeSink(io, printer, file.linktype, wfile);
    } catch (e) {
      io.err(`tcpdump: ${errText(e)}\n`);
      return 1;
    }
    let n = 0;
    for (const r of file.records) {
      if (n >= limit) break;
      const { sum, text } = printer.decode(r.data);
      if (!filter(sum)) continue;
      n++;
      if (wfile !== undefined) sink.packet(r.tsNs, r.data);
      else io.out(`${tsText(r.tsNs)} ${text}\n`);
    }
    sink.close();
    return 0;
  }

  const attach = args.value.get('attach');
  let src: SysctlSource;
  let closeSrc: () => void = () => undefined;
  if (attach !== undefined) {
    try {
      const c = await connectControl(attach);
      src = c;
      closeSrc = () => c.close();
    } catch (e) {
      io.err(`tcpdump: ${errText(e)}\n`);
      return 1;
    }
  } else if (io.vnet !== undefined) {
    src = localControl(io.vnet);
  } else {
    io.err('tcpdump: no stack to capture from: give --attach PATH (the control socket of a running stack, see Stack.listenControl) or -r FILE\n');
    return 1;
  }
  try {
    return await capture(src, args, io, filter, limit, wfile, setup);
  } catch (e) {
    io.err(`tcpdump: ${errText(e)}\n`);
    return 1;
  } finally {
    closeSrc();
  }
}

async function capture(
  src: SysctlSource,
  args: ParsedArgs,
  io: ToolIO,
  filter: Filter,
  limit: number,
  wfile: string | undefined,
  setup: (lt: number) => PacketPrinter,
): Promise<number> {
  let ifname = args.value.get('i');
  if (ifname === undefined) {
    const list = (await src.get('net.link.ifdata')) as { name: string; flags: number }[];
    const pick = list.find((i) => i.flags & 0x1 && !(i.flags & 0x8)) ?? list[0];
    if (pick === undefined) throw new Error('no interfaces to capture on');
    ifname = pick.name;
  }
  let sink: Sink | null = null;
  let printer: PacketPrinter | null = null;
  let n = 0;
  let received = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const pending: { tsNs: number; data: Uint8Array }[] = [];
  const onFrame = (f: { tsNs: number; data: Uint8Array }): void => {
    if (n >= limit) return;
    if (printer === null || sink === null) {
      pending.push(f); // frames that arrive before the subscription's answer
      return;
    }
    received++;
    const { sum } = printer.decode(f.data);
    if (!filter(sum)) return;
    n++;
    sink.packet(f.tsNs, f.data);
    if (n >= limit) done();
  };
  let handle: CaptureHandle;
  try {
    handle = await src.capture(ifname, onFrame);
  } catch (e) {
    throw new Error(`${ifname}: ${errText(e)}`);
  }
  printer = setup(handle.linktype);
  try {
    sink = makeSink(io, printer, handle.linktype, wfile);
  } catch (e) {
    await handle.stop();
    throw e;
  }
  io.err(`tcpdump: listening on ${ifname}, link-type ${linkName(handle.linktype)}, snapshot length 262144 bytes\n`);
  for (const f of pending.splice(0)) onFrame(f);
  const onSigint = (): void => done();
  const cli = io.interrupt === undefined;
  if (cli) process.once('SIGINT', onSigint);
  let ended = '';
  await Promise.race([finished, handle.ended.then((r) => void (ended = r)), io.interrupt ?? new Promise<void>(() => undefined)]);
  if (cli) process.off('SIGINT', onSigint);
  let dropped = 0;
  if (ended === '') {
    try {
      dropped = (await handle.stop()).dropped;
    } catch {
      // The channel went away while stopping: nothing more to report.
    }
  }
  (sink as Sink).close();
  io.err(
    `\n${n} packet${n === 1 ? '' : 's'} captured\n${received} packet${received === 1 ? '' : 's'} received by filter\n${dropped} packet${dropped === 1 ? '' : 's'} dropped by kernel\n`,
  );
  if (ended !== '' && ended !== 'stopped') io.err(`tcpdump: capture ended: ${ended}\n`);
  return 0;
}
