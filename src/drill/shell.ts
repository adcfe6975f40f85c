/*
 * Shell-command emulation for packetdrill's backquoted commands. packetdrill runs them with
 * system(); bsdnet has no shell to run them in, so the idioms the FreeBSD suite uses are
 * recognised and carried out against the stack:
 *
 *   sysctl [-w] [-q] name=value ...     → V.sysctl.set (an unknown name fails loudly)
 *   sysctl [-n] name                    → prints the value
 *   sockstat -4|-6 [-P tcp] [-p PORT] [-s] [-l|-c]   → the TCP connection list
 *   grep [-c] [-v] [-w] [-q] PATTERN     (pipeline stages after sockstat/sysctl)
 *   tcpdrop -s STATE | -a               → drop connections
 *   true, false, :, echo ...
 * joined with `|`, `;`, `&&`, `||` and newlines. A pipeline's status is its last stage's.
 *
 * classify() tells, without running anything, whether a command is understood; anything
 * else makes the script UNSUPPORTED, naming the command.
 */

import { SysctlError } from '../kern/kern_sysctl.js';
import type { Vnet } from '../vnet.js';
import { tcpConnections, tcpDropState } from './tcpiface.js';

export interface ShellContext {
  V: Vnet;
  /** so_ids of sockets the script holds open (they show as "packetdril" in sockstat). */
  ownedSockets(): Set<number>;
}

export interface ShellResult {
  status: number;
  stdout: string;
  stderr: string;
}

const KNOWN = new Set(['sysctl', 'sockstat', 'grep', 'tcpdrop', 'true', 'false', ':', 'echo', 'wc']);

/** Split a command line into words (single/double quotes, backslash escapes). */
function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === "'" || c === '"') {
      const end = s.indexOf(c, i + 1);
      cur += s.slice(i + 1, end < 0 ? s.length : end);
      i = end < 0 ? s.length : end;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

interface Seq {
  op: ';' | '&&' | '||';
  pipeline: string[][];
}

/** Parse a command line into sequences of pipelines. */
function parseCommand(cmd: string): Seq[] {
  const seqs: Seq[] = [];
  let op: Seq['op'] = ';';
  let cur = '';
  let pipeline: string[][] = [];
  let quote: string | null = null;
  const endStage = () => {
    const w = words(cur);
    if (w.length > 0) pipeline.push(w);
    cur = '';
  };
  const endPipeline = (next: Seq['op']) => {
    endStage();
    if (pipeline.length > 0) seqs.push({ op, pipeline });
    pipeline = [];
    op = next;
  };
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i] as string;
    if (quote !== null) {
      if (c === quote) quote = null;
      cur += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      cur += c;
    } else if (c === '|' && cmd[i + 1] === '|') {
      endPipeline('||');
      i++;
    } else if (c === '&' && cmd[i + 1] === '&') {
      endPipeline('&&');
      i++;
    } else if (c === '|') endStage();
    else if (c === ';' || c === '\n') endPipeline(';');
    else cur += c;
  }
  endPipeline(';');
  return seqs;
}

/** Null if every command is understood; else the first unknown command (for UNSUPPORTED). */
export function classify(cmd: string): string | null {
  for (const s of parseCommand(cmd)) {
    for (const st of s.pipeline) {
      const name = st[0] as string;
      if (!KNOWN.has(name)) return name;
      if (name === 'sockstat' && st.includes('-P') && st[st.indexOf('-P') + 1] !== 'tcp') return `sockstat -P ${st[st.indexOf('-P') + 1]}`;
    }
  }
  return null;
}

function sysctlCmd(ctx: ShellContext, args: string[]): ShellResult {
  let quiet = false;
  let valueOnly = false;
  let out = '';
  let err = '';
  let status = 0;
  for (const a of args) {
    if (a.startsWith('-')) {
      if (a.includes('q')) quiet = true;
      if (a.includes('n')) valueOnly = true;
      continue;
    }
    const eq = a.indexOf('=');
    try {
      if (eq >= 0) {
        const name = a.slice(0, eq);
        const value = a.slice(eq + 1);
        const old = ctx.V.sysctl.set(name, value);
        if (!quiet) out += `${name}: ${String(old)} -> ${value}\n`;
      } else {
        const v = ctx.V.sysctl.get(a);
        const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
        out += valueOnly ? `${s}\n` : `${a}: ${s}\n`;
      }
    } catch (e) {
      const name = eq >= 0 ? a.slice(0, eq) : a;
      if (e instanceof SysctlError && e.code === 'ENOENT') err += `sysctl: unknown oid '${name}'\n`;
      else err += `sysctl: ${name}: ${(e as Error).message}\n`;
      status = 1;
    }
  }
  return { status, stdout: out, stderr: err };
}

function sockstatCmd(ctx: ShellContext, args: string[]): ShellResult {
  let fam: 4 | 6 | null = null;
  const ports: number[] = [];
  let listenOnly = false;
  let connectedOnly = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-4') fam = 4;
    else if (a === '-6') fam = 6;
    else if (a === '-p') {
      for (const p of (args[++i] ?? '').split(',')) ports.push(Number(p));
    } else if (a === '-P') i++;
    else if (a === '-l') listenOnly = true;
    else if (a === '-c') connectedOnly = true;
  }
  const owned = ctx.ownedSockets();
  let lines = 'USER     COMMAND    PID   FD  PROTO  LOCAL ADDRESS         FOREIGN ADDRESS       STATE\n';
  for (const c of tcpConnections(ctx.V)) {
    if (fam !== null && c.family !== fam) continue;
    if (ports.length > 0 && !ports.includes(c.lport) && !ports.includes(c.fport)) continue;
    if (listenOnly && c.state !== 'LISTEN') continue;
    if (connectedOnly && c.state === 'LISTEN') continue;
    const mine = c.soId === -1 || (c.soId !== null && owned.has(c.soId));
    const user = mine ? 'root     packetdril 1     3 ' : '?        ?          ?     ? ';
    const addr = (a: string, p: number) => (c.family === 6 ? `${a}.${p}` : `${a}:${p}`);
    lines += `${user} tcp${c.family}   ${addr(c.laddr, c.lport).padEnd(21)} ${addr(c.faddr, c.fport).padEnd(21)} ${c.state}\n`;
  }
  return { status: 0, stdout: lines, stderr: '' };
}

function grepCmd(args: string[], input: string): ShellResult {
  let count = false;
  let invert = false;
  let quiet = false;
  let word = false;
  let pattern: string | null = null;
  for (const a of args) {
    if (pattern === null && a.startsWith('-') && a.length > 1) {
      if (a.includes('c')) count = true;
      if (a.includes('v')) invert = true;
      if (a.includes('q')) quiet = true;
      if (a.includes('w')) word = true;
      continue;
    }
    if (pattern === null) pattern = a;
  }
  if (pattern === null) return { status: 2, stdout: '', stderr: 'grep: no pattern\n' };
  let re: RegExp;
  try {
    re = new RegExp(word ? `\\b(?:${pattern})\\b` : pattern);
  } catch {
    re = new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
  const lines = input.split('\n').filter((l, i, all) => !(l === '' && i === all.length - 1));
  const hits = lines.filter((l) => re.test(l) !== invert);
  const status = hits.length > 0 ? 0 : 1;
  if (quiet) return { status, stdout: '', stderr: '' };
  if (count) return { status, stdout: `${hits.length}\n`, stderr: '' };
  return { status, stdout: hits.map((l) => `${l}\n`).join(''), stderr: '' };
}

function tcpdropCmd(ctx: ShellContext, args: string[]): ShellResult {
  const si = args.indexOf('-s');
  if (si >= 0 && args[si + 1] !== undefined) {
    tcpDropState(ctx.V, args[si + 1] as string);
    return { status: 0, stdout: '', stderr: '' };
  }
  if (args.includes('-a')) {
    for (const st of ['SYN_SENT', 'SYN_RCVD', 'ESTABLISHED', 'CLOSE_WAIT', 'FIN_WAIT_1', 'CLOSING', 'LAST_ACK', 'FIN_WAIT_2', 'TIME_WAIT'])
      tcpDropState(ctx.V, st);
    return { status: 0, stdout: '', stderr: '' };
  }
  return { status: 1, stdout: '', stderr: 'tcpdrop: only -s STATE and -a are emulated\n' };
}

function runStage(ctx: ShellContext, argv: string[], input: string): ShellResult {
  const [name, ...args] = argv as [string, ...string[]];
  switch (name) {
    case 'sysctl':
      return sysctlCmd(ctx, args);
    case 'sockstat':
      return sockstatCmd(ctx, args);
    case 'grep':
      return grepCmd(args, input);
    case 'tcpdrop':
      return tcpdropCmd(ctx, args);
    case 'true':
    case ':':
      return { status: 0, stdout: '', stderr: '' };
    case 'false':
      return { status: 1, stdout: '', stderr: '' };
    case 'echo':
      return { status: 0, stdout: `${args.join(' ')}\n`, stderr: '' };
    case 'wc': {
      const n = input.split('\n').length - (input.endsWith('\n') ? 1 : 0);
      return { status: 0, stdout: `${args.includes('-l') ? n : input.length}\n`, stderr: '' };
    }
    default:
      return { status: 127, stdout: '', stderr: `${name}: command not emulated\n` };
  }
}

/** Run an emulated command line. Errors from the stack (a missing sysctl) become status 1. */
export function runCommand(ctx: ShellContext, cmd: string): ShellResult {
  let status = 0;
  let stdout = '';
  let stderr = '';
  for (const s of parseCommand(cmd)) {
    if (s.op === '&&' && status !== 0) continue;
    if (s.op === '||' && status === 0) continue;
    let input = '';
    for (const st of s.pipeline) {
      let r: ShellResult;
      try {
        r = runStage(ctx, st, input);
      } catch (e) {
        r = { status: 1, stdout: '', stderr: `${st[0]}: ${(e as Error).message}\n` };
      }
      input = r.stdout;
      stderr += r.stderr;
      status = r.status;
    }
    stdout += input;
  }
  return { status, stdout, stderr };
}
