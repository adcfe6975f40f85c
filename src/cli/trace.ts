/*
 * `bsdnet trace`: a stack's trace probes, live, and its TCP black-box logs.
 *
 *   bsdnet trace [--attach PATH] [-n PATTERN]... [-c N] [-T SECONDS] [-w FILE.json] [-q] [--json]
 *       print each probe firing (default pattern tcp:::) until -c events, -T seconds or ^C;
 *       -w records the TCP events as a black-box log dump (the format `trace plot` reads)
 *   bsdnet trace -l [--attach PATH] [-n PATTERN]...   list the probes a pattern matches
 *   bsdnet trace sessions [--attach PATH] [--json]    the black-box log sessions a stack keeps
 *   bsdnet trace dump [--attach PATH] [--id N]... [-o FILE]   black-box logs as JSON
 *   bsdnet trace plot FILE.json [--id N] -o OUT.svg   sequence / cwnd / RTT of one connection
 *
 * The live trace uses the control channel's `trace` subscription (or the in-process stack);
 * sessions and dump read only sysctl (net.inet.tcp.bb.sessions, net.inet.tcp.bb.log.<id>).
 * Black-box logging is switched on by sysctl: net.inet.tcp.bb.log_auto_all=1 (every new
 * connection) or net.inet.tcp.bb.log_auto_port=PORT.
 */

import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { SysctlSource, TraceEvent, TraceHandle } from '../api/control.js';
import type { TcpLogDump, TcpLogEvent, TcpLogSessionInfo } from '../netinet/tcp_log_buf.js';
import { inetText } from './netstat.js';
import { errText, openSource, type ParsedArgs, parseArgs, processIO, type ToolIO, UsageError } from './toolargs.js';

const USAGE = `usage: bsdnet trace [--attach PATH] [-n PATTERN]... [-c N] [-T SECONDS] [-w FILE.json] [-q] [--json]
       bsdnet trace -l [--attach PATH] [-n PATTERN]...
       bsdnet trace sessions [--attach PATH] [--json]
       bsdnet trace dump [--attach PATH] [--id N]... [-o FILE.json]
       bsdnet trace plot FILE.json [--id N] -o OUT.svg
patterns are provider:module:function:name globs (default tcp:::); black-box logging is
enabled with sysctl net.inet.tcp.bb.log_auto_all=1 or net.inet.tcp.bb.log_auto_port=PORT
`;

type Rec = { [k: string]: unknown };

const U32 = 2 ** 32;
const rel = (v: number, base: number): number => (((v - base) % U32) + U32) % U32;
const n = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** One TCP probe record (tcp_log_buf.ts traceRecord) as a line, tcpdump-like. */
export function formatTcpEvent(name: string, r: Rec): string {
  if (r.conn === null || r.conn === undefined) {
    return `${name} (no control block) [${String(r.flags ?? '')}] seq ${n(r.seq)} len ${n(r.len)}`;
  }
  const local = inetText(String(r.laddr), n(r.lport));
  const foreign = inetText(String(r.faddr), n(r.fport));
  const iss = n(r.iss);
  const irs = n(r.irs);
  const snap = (): string => {
    const ss = n(r.snd_ssthresh);
    const srtt = n(r.t_srtt_us);
    return `cwnd ${n(r.snd_cwnd)} ssthresh ${ss >= 65535 * 16384 ? 'inf' : ss} wnd ${n(r.snd_wnd)} una ${rel(n(r.snd_una), iss)} srtt ${srtt > 0 ? `${(srtt / 1000).toFixed(1)}ms` : '-'}`;
  };
  const ev = String(r.event ?? name);
  const head = `#${n(r.conn)} ${ev.padEnd(19)}`;
  switch (ev) {
    case 'send':
    case 'retransmit': {
      const s = rel(n(r.seq), iss);
      return `${head} ${local} > ${foreign} [${String(r.flags)}] seq ${s}:${s + n(r.len)}(${n(r.len)}) ack ${rel(n(r.rcv_nxt), irs)} ${String(r.state)} ${snap()}`;
    }
    case 'receive': {
      const s = rel(n(r.seq), irs);
      return `${head} ${local} < ${foreign} [${String(r.flags)}] seq ${s}:${s + n(r.len)}(${n(r.len)}) ack ${rel(n(r.ack), iss)} ${String(r.state)} ${snap()}`;
    }
    case 'state-change':
      return `${head} ${local} ${foreign} ${String(r.old_state)} -> ${String(r.state)}`;
    case 'cwnd-change':
      return `${head} ${local} ${foreign} ${String(r.state)} ${snap()}`;
    default:
      return `${head} ${local} ${foreign} ${String(r.state)}`;
  }
}

/** Group recorded TCP trace records into a dump (the black-box log format). */
export class TraceRecorder {
  private readonly sessions = new Map<number, TcpLogSessionInfo & { log: TcpLogEvent[] }>();
  constructor(private readonly stack: string) {}

  add(r: Rec): void {
    if (typeof r.conn !== 'number') return;
    let s = this.sessions.get(r.conn);
    const e = { ...r } as Rec;
    for (const k of ['conn', 'laddr', 'lport', 'faddr', 'fport', 'iss', 'irs']) delete e[k];
    const ev = e as unknown as TcpLogEvent;
    if (s === undefined) {
      s = {
        id: r.conn,
        laddr: String(r.laddr),
        lport: n(r.lport),
        faddr: String(r.faddr),
        fport: n(r.fport),
        iss: n(r.iss),
        irs: n(r.irs),
        state: ev.state,
        start_us: ev.time_us,
        ended: false,
        events: 0,
        logged: 0,
        log: [],
      };
      this.sessions.set(r.conn, s);
    }
    if (s.iss === 0) s.iss = n(r.iss);
    if (s.irs === 0) s.irs = n(r.irs);
    s.state = ev.state;
    s.ended = ev.state === 'TIME_WAIT' || ev.state === 'CLOSED';
    s.log.push(ev);
    s.events++;
    s.logged++;
  }

  dump(): TcpLogDump {
    return { format: 'bsdnet-bblog', version: 1, stack: this.stack, sessions: [...this.sessions.values()] };
  }
}

async function live(src: SysctlSource, args: ParsedArgs, patterns: string[], io: ToolIO): Promise<number> {
  const count = (k: string): number => args.count.get(k) ?? 0;
  const limit = args.value.has('c') ? Number(args.value.get('c')) : Number.POSITIVE_INFINITY;
  if (!(limit > 0)) throw new UsageError(`trace: -c ${args.value.get('c')}: not a positive count`);
  const seconds = args.value.has('T') ? Number(args.value.get('T')) : undefined;
  if (seconds !== undefined && !(seconds > 0)) throw new UsageError(`trace: -T ${args.value.get('T')}: not a positive number of seconds`);
  const wfile = args.value.get('w');
  const quiet = count('q') > 0;
  const json = count('json') > 0;
  const rec = new TraceRecorder(src.label);
  let seen = 0;
  let t0: number | undefined;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const onEvent = (e: TraceEvent): void => {
    if (seen >= limit) return;
    seen++;
    t0 ??= e.ts;
    const a0 = e.args[0];
    const isTcp = e.probe.startsWith('tcp:') && a0 !== null && typeof a0 === 'object';
    if (isTcp) rec.add(a0 as Rec);
    if (json) io.out(`${JSON.stringify(e)}\n`);
    else if (!quiet) {
      const t = ((e.ts - t0) / 1e9).toFixed(6).padStart(11);
      const name = e.probe.split(':')[3] ?? e.probe;
      io.out(`${t} ${isTcp ? formatTcpEvent(name, a0 as Rec) : `${e.probe} ${JSON.stringify(e.args)}`}\n`);
    }
    if (seen >= limit) done();
  };
  const handles: TraceHandle[] = [];
  try {
    for (const p of patterns) handles.push(await src.trace(p, onEvent));
  } catch (e) {
    for (const h of handles) await h.stop().catch(() => undefined);
    throw new Error(`cannot trace: ${errText(e)}`);
  }
  const matched = [...new Set(handles.flatMap((h) => h.probes))];
  if (matched.length === 0) {
    for (const h of handles) await h.stop().catch(() => undefined);
    throw new Error(`no probe matches ${patterns.join(', ')} (list them with: bsdnet trace -l)`);
  }
  io.err(`trace: ${matched.length} probe${matched.length === 1 ? '' : 's'} enabled (${patterns.join(', ')})${wfile ? `, recording to ${wfile}` : ''}\n`);
  const cli = io.interrupt === undefined;
  const onSigint = (): void => done();
  if (cli) process.once('SIGINT', onSigint);
  const timer = seconds !== undefined ? setTimeout(done, seconds * 1000) : undefined;
  let ended = '';
  await Promise.race([finished, io.interrupt ?? new Promise<void>(() => undefined), ...handles.map((h) => h.ended.then((r) => void (ended = r)))]);
  if (timer) clearTimeout(timer);
  if (cli) process.off('SIGINT', onSigint);
  let dropped = 0;
  for (const h of handles) {
    try {
      dropped += (await h.stop()).dropped;
    } catch {
      // The channel went away: nothing more to stop.
    }
  }
  if (wfile !== undefined) writeFileSync(wfile, `${JSON.stringify(rec.dump())}\n`);
  io.err(`\n${seen} event${seen === 1 ? '' : 's'} traced, ${dropped} dropped\n`);
  if (ended !== '' && ended !== 'stopped') io.err(`trace: ended: ${ended}\n`);
  return 0;
}

async function listProbes(src: SysctlSource, patterns: string[], io: ToolIO): Promise<number> {
  const ids = new Set<string>();
  for (const p of patterns) {
    const h = await src.trace(p, () => undefined);
    for (const id of h.probes) ids.add(id);
    await h.stop();
  }
  io.out(`${'PROVIDER'.padEnd(10)} ${'MODULE'.padEnd(10)} ${'FUNCTION'.padEnd(20)} NAME\n`);
  for (const id of [...ids].sort()) {
    const [p, m, f, name] = id.split(':');
    io.out(`${String(p).padEnd(10)} ${String(m).padEnd(10)} ${String(f).padEnd(20)} ${name}\n`);
  }
  return 0;
}

async function sessions(src: SysctlSource, json: boolean, io: ToolIO): Promise<number> {
  if (!(await src.exists('net.inet.tcp.bb.sessions'))) throw new Error('this stack has no TCP black-box log (net.inet.tcp.bb)');
  const list = (await src.get('net.inet.tcp.bb.sessions')) as unknown as TcpLogSessionInfo[];
  if (json) {
    io.out(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  if (list.length === 0) {
    const auto = await src.get('net.inet.tcp.bb.log_auto_all');
    io.out(`no black-box log sessions${auto === 0 ? ' (logging is off: sysctl net.inet.tcp.bb.log_auto_all=1 turns it on)' : ''}\n`);
    return 0;
  }
  const rows = list.map((s) => [
    String(s.id),
    inetText(s.laddr, s.lport),
    inetText(s.faddr, s.fport),
    s.state,
    String(s.events),
    String(s.logged),
    s.ended ? 'yes' : 'no',
  ]);
  const head = ['ID', 'Local Address', 'Foreign Address', 'State', 'Events', 'Logged', 'Ended'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]): string =>
    `${r
      .map((c, i) => c.padEnd(w[i] as number))
      .join('  ')
      .trimEnd()}\n`;
  io.out(line(head));
  for (const r of rows) io.out(line(r));
  return 0;
}

async function dump(src: SysctlSource, args: ParsedArgs, ids: number[], io: ToolIO): Promise<number> {
  if (!(await src.exists('net.inet.tcp.bb.sessions'))) throw new Error('this stack has no TCP black-box log (net.inet.tcp.bb)');
  const list = (await src.get('net.inet.tcp.bb.sessions')) as unknown as TcpLogSessionInfo[];
  const want = ids.length > 0 ? ids : list.map((s) => s.id);
  const out: TcpLogDump = { format: 'bsdnet-bblog', version: 1, stack: String(await src.get('kern.hostname')), sessions: [] };
  for (const id of want) {
    const info = list.find((s) => s.id === id);
    if (info === undefined) throw new Error(`no black-box log session ${id} (sessions: ${list.map((s) => s.id).join(', ') || 'none'})`);
    const log = (await src.get(`net.inet.tcp.bb.log.${id}`)) as unknown as TcpLogEvent[];
    out.sessions.push({ ...info, log });
  }
  const text = `${JSON.stringify(out)}\n`;
  const o = args.value.get('o');
  if (o === undefined) io.out(text);
  else {
    writeFileSync(o, text);
    const events = out.sessions.reduce((a, s) => a + s.log.length, 0);
    io.err(`trace: wrote ${out.sessions.length} session${out.sessions.length === 1 ? '' : 's'} (${events} events) to ${o}\n`);
  }
  return 0;
}

async function plot(args: ParsedArgs, file: string | undefined, id: number | undefined, io: ToolIO): Promise<number> {
  if (file === undefined) throw new UsageError('trace plot: which log? (bsdnet trace plot FILE.json -o OUT.svg)');
  const o = args.value.get('o');
  if (o === undefined) throw new UsageError('trace plot: -o OUT.svg is required');
  const { parseDump, plotSvg } = await import('./trace_plot.js');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errText(e)}`);
  }
  const d = parseDump(text, file);
  const { svg, session } = await plotSvg(d, id === undefined ? {} : { id });
  writeFileSync(o, svg);
  io.err(
    `trace: plotted session ${session.id} (${inetText(session.laddr, session.lport)} -> ${inetText(session.faddr, session.fport)}, ${session.log.length} events) to ${o}\n`,
  );
  return 0;
}

export async function traceMain(argv: string[], io: ToolIO = processIO()): Promise<number> {
  let args: ParsedArgs;
  const ids: number[] = [];
  const patterns: string[] = [];
  try {
    // --id and -n may repeat: collect them before the generic parser keeps the last one.
    const rest: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i] as string;
      if (a === '--id' || a === '-n') {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`trace: option '${a}' requires an argument`);
        if (a === '-n') patterns.push(v);
        else {
          const id = Number(v);
          if (!Number.isInteger(id) || id < 1) throw new UsageError(`trace: --id ${v}: not a session id`);
          ids.push(id);
        }
      } else if (a.startsWith('--id=')) {
        const id = Number(a.slice(5));
        if (!Number.isInteger(id) || id < 1) throw new UsageError(`trace: ${a}: not a session id`);
        ids.push(id);
      } else rest.push(a);
    }
    args = parseArgs('trace', rest, { flags: 'lqh', withArg: 'cTwo', long: ['json', 'help'], longArg: ['attach'] });
  } catch (e) {
    io.err(`${errText(e)}\n${USAGE}`);
    return 2;
  }
  const c = (k: string): number => args.count.get(k) ?? 0;
  if (c('h') || c('help')) {
    io.out(USAGE);
    return 0;
  }
  const [sub, ...operands] = args.operands;
  if (sub !== undefined && !['sessions', 'dump', 'plot'].includes(sub)) {
    io.err(`trace: unknown subcommand '${sub}'\n${USAGE}`);
    return 2;
  }
  if ((sub === 'plot' ? operands.length > 1 : operands.length > 0) || (sub === undefined && args.operands.length > 0)) {
    io.err(`trace: unexpected argument '${sub === 'plot' ? operands[1] : operands[0]}'\n${USAGE}`);
    return 2;
  }
  try {
    if (sub === 'plot') return await plot(args, operands[0], ids.length > 0 ? ids[ids.length - 1] : undefined, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${e.message}\n${USAGE}`);
      return 2;
    }
    io.err(`trace: ${errText(e)}\n`);
    return 1;
  }
  let opened: Awaited<ReturnType<typeof openSource>>;
  try {
    opened = await openSource(io, args.value.get('attach'));
  } catch (e) {
    io.err(`trace: ${errText(e)}\n`);
    return 1;
  }
  try {
    if (sub === 'sessions') return await sessions(opened.src, c('json') > 0, io);
    if (sub === 'dump') return await dump(opened.src, args, ids, io);
    const pats = patterns.length > 0 ? patterns : ['tcp:::'];
    if (c('l')) return await listProbes(opened.src, pats, io);
    return await live(opened.src, args, pats, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${e.message}\n${USAGE}`);
      return 2;
    }
    io.err(`trace: ${errText(e)}\n`);
    return 1;
  } finally {
    opened.close();
  }
}
