/*
 * packetdrill parser: tokens → Script AST (ast.ts), with line/column on every error.
 *
 * A recursive-descent rendering of Google packetdrill's parser.y plus the NPLab extensions
 * the FreeBSD suite uses: options, optional init/cleanup commands, events with absolute,
 * relative (`+t`), wildcard (`*`) and range (`a~b`, `+a~+b`) times, blocking `start...end`
 * system calls; TCP/UDP/ICMP packet lines with ip info (`[ect0]`, `(tos 0x20)`, `(ttl 64)`,
 * `(hlim 64)`), NPLab `a:b(n)!` and `...(n)`, `ecr N!`, `/udp(sport > dport)`; system
 * calls with packetdrill expressions; `` `commands` `` and `%{ code }%`.
 *
 * `--define`d words are replaced by their value as the parser reads them. Constructs that
 * parse but cannot run (SCTP, GRE/MPLS encapsulation, udplite...) are kept as 'other'
 * packets or flagged `unsupported`, never rejected, so the whole suite parses.
 */

import type {
  EventBody,
  EventTime,
  Expr,
  IcmpEchoed,
  IcmpPacket,
  IpInfo,
  Packet,
  PortPair,
  Pos,
  Script,
  ScriptEvent,
  ScriptOption,
  SeqSpec,
  StructField,
  Syscall,
  TcpOption,
  TcpPacket,
  UdpPacket,
} from './ast.js';
import { DEFAULT_PP_DEFINES, DrillSyntaxError, lex, preprocess, type Token } from './lexer.js';

export { DrillSyntaxError } from './lexer.js';

export interface ParseOptions {
  /** Command-line defines (NAME or NAME=value); they win over the script's. */
  defines?: Map<string, string>;
  /** Symbols defined for `#ifdef` besides the defines (default: FreeBSD). */
  ppDefines?: readonly string[];
}

/** Split `NAME=value` (value may be empty → "1"? no: packetdrill requires a value; a bare NAME defines it as 1). */
export function splitDefine(s: string): [string, string] {
  const i = s.indexOf('=');
  if (i < 0) return [s, '1'];
  return [s.slice(0, i), s.slice(i + 1)];
}

/** Collect `--define=NAME=value` / `-D` option lines from raw text (before preprocessing). */
function scriptDefines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const m = /^\s*(?:--define|-D)[= ]\s*([A-Za-z0-9_]+(?:=[^\s/]*)?)/.exec(raw);
    if (m) {
      const [k, v] = splitDefine(m[1] as string);
      out.set(k, v);
    }
  }
  return out;
}

const TCP_FLAG_CHARS = /^[SFRPEWAU.]+$/;

function hexBytes(s: string, pos: Pos): Uint8Array {
  let h = s.startsWith('0x') || s.startsWith('0X') ? s.slice(2) : s;
  if (!/^[0-9a-fA-F]*$/.test(h)) throw new DrillSyntaxError(pos.line, pos.col, `bad hex string '${s}'`);
  if (h.length % 2 === 1) h = `0${h}`;
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

class Parser {
  private toks: Token[];
  private i = 0;
  private readonly defines: Map<string, string>;

  constructor(toks: Token[], defines: Map<string, string>) {
    this.toks = toks;
    this.defines = defines;
  }

  // ---- token helpers ----

  private peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    this.substituteDefine();
    return t;
  }

  /** Replace a defined word at the cursor by the tokens of its value. */
  private substituteDefine(): void {
    for (let guard = 0; guard < 32; guard++) {
      const t = this.toks[this.i] as Token;
      if (t.kind !== 'word' || !this.defines.has(t.text)) return;
      const val = this.defines.get(t.text) as string;
      let vt: Token[];
      try {
        vt = lex(val).slice(0, -1);
      } catch (e) {
        throw new DrillSyntaxError(t.line, t.col, `bad value for define ${t.text}: ${(e as Error).message}`);
      }
      for (const x of vt) {
        x.line = t.line;
        x.col = t.col;
      }
      this.toks = [...this.toks.slice(0, this.i), ...vt, ...this.toks.slice(this.i + 1)];
    }
  }

  private pos(t: Token = this.peek()): Pos {
    return { line: t.line, col: t.col };
  }

  private err(msg: string, t: Token = this.peek()): never {
    throw new DrillSyntaxError(t.line, t.col, msg);
  }

  private describe(t: Token): string {
    if (t.kind === 'eof') return 'end of file';
    if (t.kind === 'string') return `string "${t.text}"`;
    if (t.kind === 'command') return 'backquoted command';
    if (t.kind === 'code') return 'code block';
    return `'${t.text}'`;
  }

  private isP(c: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'punct' && t.text === c;
  }

  private isW(w: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'word' && t.text === w;
  }

  private expectP(c: string, what?: string): Token {
    if (!this.isP(c)) this.err(`expected '${c}'${what ? ` ${what}` : ''} but found ${this.describe(this.peek())}`);
    return this.next();
  }

  private expectW(w: string): Token {
    if (!this.isW(w)) this.err(`expected '${w}' but found ${this.describe(this.peek())}`);
    return this.next();
  }

  /** An integer (decimal or hex). */
  private intTok(what: string): Token {
    const t = this.peek();
    if (t.kind === 'int' || t.kind === 'hex') return this.next();
    this.err(`expected ${what} (an integer) but found ${this.describe(t)}`);
  }

  private int(what: string): number {
    return this.intTok(what).num;
  }

  private u32(what: string): number {
    const t = this.intTok(what);
    if (t.num < 0 || t.num > 0xffffffff || !Number.isInteger(t.num)) this.err(`${what} ${t.text} out of range 0..4294967295`, t);
    return t.num;
  }

  private u16(what: string): number {
    const t = this.intTok(what);
    if (t.num < 0 || t.num > 0xffff) this.err(`${what} ${t.text} out of range 0..65535`, t);
    return t.num;
  }

  private u8(what: string): number {
    const t = this.intTok(what);
    if (t.num < 0 || t.num > 0xff) this.err(`${what} ${t.text} out of range 0..255`, t);
    return t.num;
  }

  /** Skip to the first token of the next line (for constructs parsed only shallowly). */
  private skipLine(line: number): void {
    while (this.peek().kind !== 'eof' && this.peek().line === line) this.next();
  }

  // ---- script ----

  parse(): Script {
    this.substituteDefine();
    const options: ScriptOption[] = [];
    while (this.peek().kind === 'option') {
      const t = this.next();
      options.push({ name: t.text, value: t.value, pos: this.pos(t) });
    }
    let initCommand: Script['initCommand'] = null;
    if (this.peek().kind === 'command') {
      const t = this.next();
      initCommand = { command: t.text, pos: this.pos(t) };
    }
    const events: ScriptEvent[] = [];
    let cleanupCommand: Script['cleanupCommand'] = null;
    while (this.peek().kind !== 'eof') {
      const t = this.peek();
      if (t.kind === 'command' && this.peek(1).kind === 'eof' && events.length > 0) {
        this.next();
        cleanupCommand = { command: t.text, pos: this.pos(t) };
        break;
      }
      if (t.kind === 'option') this.err(`option --${t.text} must come before the first event`);
      events.push(this.event());
    }
    return { options, initCommand, events, cleanupCommand, unsupported: [] };
  }

  private timeValue(what: string): number {
    const t = this.peek();
    if (t.kind === 'int' || t.kind === 'float') {
      this.next();
      if (t.num < 0) this.err(`negative ${what}`, t);
      return Math.round(t.num * 1e6);
    }
    this.err(`expected ${what} but found ${this.describe(t)}`);
  }

  private eventTime(): EventTime {
    if (this.isP('*')) {
      this.next();
      return { kind: 'any', usecs: 0, endUsecs: 0 };
    }
    if (this.isP('+')) {
      this.next();
      const start = this.timeValue('a relative time');
      if (this.isP('~')) {
        this.next();
        this.expectP('+', 'in a relative time range (+a~+b)');
        const end = this.timeValue('the end of the time range');
        if (end < start) this.err('time range ends before it starts');
        return { kind: 'relRange', usecs: start, endUsecs: end };
      }
      return { kind: 'rel', usecs: start, endUsecs: start };
    }
    const t = this.peek();
    if (t.kind !== 'int' && t.kind !== 'float') this.err(`expected an event time but found ${this.describe(t)}`);
    const start = this.timeValue('an event time');
    if (this.isP('~')) {
      this.next();
      const end = this.timeValue('the end of the time range');
      if (end < start) this.err('time range ends before it starts');
      return { kind: 'absRange', usecs: start, endUsecs: end };
    }
    return { kind: 'abs', usecs: start, endUsecs: start };
  }

  private event(): ScriptEvent {
    const first = this.peek();
    const pos = this.pos(first);
    const time = this.eventTime();
    let endUsecs: number | null = null;
    if (this.peek().kind === 'ellipsis') {
      this.next();
      endUsecs = this.timeValue('the end time of a blocking system call');
    }
    const t = this.peek();
    let body: EventBody;
    if (t.kind === 'punct' && (t.text === '<' || t.text === '>')) {
      if (endUsecs !== null) this.err('a packet cannot have a system call end time (...)', t);
      body = { type: 'packet', packet: this.packet() };
    } else if (t.kind === 'command') {
      this.next();
      body = { type: 'command', command: t.text, pos: this.pos(t) };
    } else if (t.kind === 'code') {
      this.next();
      body = { type: 'code', code: t.text, pos: this.pos(t) };
    } else if (t.kind === 'word' && this.isP('(', 1)) {
      const call = this.syscall();
      call.endUsecs = endUsecs;
      body = { type: 'syscall', call };
    } else {
      this.err(`expected a packet, system call, command or code block but found ${this.describe(t)}`, t);
    }
    if ((time.kind === 'any' || time.kind === 'absRange' || time.kind === 'relRange') && !(body.type === 'packet' && body.packet.dir === 'out')) {
      throw new DrillSyntaxError(pos.line, pos.col, `'${time.kind === 'any' ? '*' : '~'}' times are only allowed for outbound packets`);
    }
    return { time, body, line: pos.line, pos, unsupported: null };
  }

  // ---- packets ----

  private packet(): Packet {
    const dt = this.next();
    const dir = dt.text === '<' ? 'in' : 'out';
    const pos = this.pos(dt);
    const line = dt.line;
    // Encapsulation prefixes: ipv4/ipv6 A > B:, gre ...:, mpls ...:
    if ((this.isW('ipv4') || this.isW('ipv6') || this.isW('gre') || this.isW('mpls')) && !this.isP('(', 1)) {
      const what = this.peek().text;
      this.skipLine(line);
      return { proto: 'other', dir, what: `${what} encapsulation`, pos };
    }
    const ip = this.ipInfo();
    const t = this.peek();
    if (t.kind === 'word') {
      if (t.text === 'udp') return this.udpPacket(dir, ip, pos);
      if (t.text === 'icmp') return this.icmpPacket(dir, ip, pos);
      if (t.text === 'sctp' || t.text === 'udplite' || t.text === 'gre' || t.text === 'mpls') {
        this.skipLine(line);
        return { proto: 'other', dir, what: `${t.text} packets`, pos };
      }
    }
    return this.tcpPacket(dir, ip, pos);
  }

  /** `[ect0]`, `(tos 0x20)`, `(ttl 64)`, `[ect0, flowlabel 0x1]`, ... — or null. */
  private ipInfo(): IpInfo | null {
    const open = this.peek();
    if (!(open.kind === 'punct' && (open.text === '[' || open.text === '('))) return null;
    const w = this.peek(1);
    const IP_WORDS = ['ect0', 'ect1', 'ce', 'noecn', 'ect01', 'tos', 'ttl', 'hlim', 'flowlabel', 'dscp', 'ecn', 'class', 'flow_label', 'hoplimit'];
    if (w.kind !== 'word' || !IP_WORDS.includes(w.text)) return null;
    this.next();
    const close = open.text === '[' ? ']' : ')';
    const info: IpInfo = { pos: this.pos(open) };
    for (;;) {
      const k = this.next();
      if (k.kind !== 'word') this.err(`expected ip info (ect0, tos N, ttl N, ...) but found ${this.describe(k)}`, k);
      switch (k.text) {
        case 'ect0':
        case 'ect1':
        case 'ce':
        case 'noecn':
        case 'ect01':
          info.ecn = k.text;
          break;
        case 'tos':
          info.tos = this.u8('tos');
          break;
        case 'class':
          info.tos = this.u8('traffic class');
          break;
        case 'ttl':
          info.ttl = this.u8('ttl');
          break;
        case 'hlim':
        case 'hoplimit':
          info.hlim = this.u8('hop limit');
          break;
        case 'flowlabel':
        case 'flow_label':
          info.flowlabel = this.int('flow label');
          break;
        case 'dscp':
          info.dscp = this.int('dscp');
          break;
        case 'ecn': {
          const e = this.next();
          if (e.kind === 'word' && ['ect0', 'ect1', 'ce', 'noecn', 'ect01'].includes(e.text)) info.ecn = e.text as IpInfo['ecn'];
          else if (e.kind === 'int' || e.kind === 'hex') info.ecn = (['noecn', 'ect1', 'ect0', 'ce'] as const)[e.num & 3];
          else this.err(`expected an ECN codepoint but found ${this.describe(e)}`, e);
          break;
        }
        default:
          this.err(`unknown ip info '${k.text}'`, k);
      }
      if (this.isP(',')) {
        this.next();
        continue;
      }
      break;
    }
    this.expectP(close, 'to close the ip info');
    return info;
  }

  private portPair(): PortPair {
    const src = this.u16('source port');
    this.expectP('>');
    const dst = this.u16('destination port');
    return { src, dst };
  }

  private udpEncap(): PortPair | null {
    if (!(this.isP('/') && this.isW('udp', 1))) return null;
    this.next();
    this.next();
    this.expectP('(');
    const p = this.portPair();
    this.expectP(')');
    return p;
  }

  private seqSpec(): SeqSpec {
    const pos = this.pos();
    if (this.peek().kind === 'ellipsis') {
      this.next();
      this.expectP('(');
      const len = this.u32('segment length');
      this.expectP(')');
      return { start: 0, end: len, len, absolute: false, ignore: true, pos };
    }
    const start = this.u32('starting sequence number');
    this.expectP(':', 'in the sequence range start:end(len)');
    const end = this.u32('ending sequence number');
    this.expectP('(');
    const len = this.u32('segment length');
    this.expectP(')');
    if ((end - start) >>> 0 !== len)
      throw new DrillSyntaxError(pos.line, pos.col, `inconsistent TCP sequence numbers and payload length: ${start}:${end}(${len})`);
    let absolute = false;
    if (this.isP('!')) {
      this.next();
      absolute = true;
    }
    return { start, end, len, absolute, ignore: false, pos };
  }

  private tcpPacket(dir: 'in' | 'out', ip: IpInfo | null, pos: Pos): TcpPacket {
    let ports: PortPair | null = null;
    if ((this.peek().kind === 'int' || this.peek().kind === 'hex') && this.isP('>', 1)) ports = this.portPair();
    // Flags: a run of WORD and '.' tokens made of S F R P E W A U C and '.', or '-'.
    const ft = this.peek();
    let flags = '';
    if (this.isP('-')) {
      this.next();
    } else {
      while ((this.peek().kind === 'word' && TCP_FLAG_CHARS.test(this.peek().text)) || this.isP('.')) flags += this.next().text;
      if (flags === '' && this.peek().kind === 'int' && /^[0-7]$/.test(this.peek().text) && (this.isP('.', 1) || this.peek(1).kind === 'int')) {
        flags = this.next().text;
        while (this.isP('.') || (this.peek().kind === 'word' && TCP_FLAG_CHARS.test(this.peek().text))) flags += this.next().text;
      }
      if (flags === '') this.err(`expected TCP flags (S, F, R, P, ., ...) but found ${this.describe(ft)}`, ft);
    }
    const seq = this.seqSpec();
    const pkt: TcpPacket = {
      proto: 'tcp',
      dir,
      ip,
      ports,
      flags,
      flagsPos: this.pos(ft),
      seq,
      ack: null,
      win: null,
      urg: null,
      options: null,
      udpEncap: null,
      pos,
    };
    for (;;) {
      if (this.isW('ack') && pkt.ack === null) {
        this.next();
        pkt.ack = this.u32('ack number');
      } else if (this.isW('win') && pkt.win === null) {
        this.next();
        pkt.win = this.u16('window');
      } else if (this.isW('urg') && pkt.urg === null) {
        this.next();
        pkt.urg = this.u16('urgent pointer');
      } else break;
    }
    if (this.isP('<')) pkt.options = this.tcpOptions();
    if (this.isP('[')) {
      // NPLab `[cause_code N, pen N]` (SCTP-over-UDP causes): accepted and ignored.
      const t = this.peek();
      this.skipBalanced('[', ']');
      void t;
    }
    pkt.udpEncap = this.udpEncap();
    if (dir === 'in' && pkt.win === null) throw new DrillSyntaxError(pos.line, pos.col, 'inbound TCP packets must specify a window (win N)');
    return pkt;
  }

  private skipBalanced(open: string, close: string): void {
    let depth = 0;
    do {
      const t = this.next();
      if (t.kind === 'eof') this.err(`unbalanced '${open}'`, t);
      if (t.kind === 'punct' && t.text === open) depth++;
      if (t.kind === 'punct' && t.text === close) depth--;
    } while (depth > 0);
  }

  private cookie(): Uint8Array {
    const t = this.peek();
    if (t.kind === 'int' || t.kind === 'hex' || t.kind === 'word') {
      if (t.kind === 'word' && !/^[0-9a-fA-F]+$/.test(t.text)) return new Uint8Array(0);
      if (t.kind === 'int' && t.text.startsWith('-')) return new Uint8Array(0);
      this.next();
      return hexBytes(t.text, this.pos(t));
    }
    return new Uint8Array(0);
  }

  private tcpOptions(): TcpOption[] | 'nocheck' {
    this.expectP('<');
    if (this.peek().kind === 'ellipsis') {
      this.next();
      this.expectP('>', 'after <...');
      return 'nocheck';
    }
    const opts: TcpOption[] = [];
    for (;;) {
      opts.push(this.tcpOption());
      if (this.isP(',')) {
        this.next();
        continue;
      }
      break;
    }
    this.expectP('>', 'to close the TCP options');
    let len = 0;
    for (const o of opts) len += optionLength(o);
    if (len % 4 !== 0) {
      const p = opts[0]?.pos ?? this.pos();
      throw new DrillSyntaxError(p.line, p.col, `TCP options are ${len} bytes long, not a multiple of 4: pad them with nop or eol`);
    }
    if (len > 40) {
      const p = opts[0]?.pos ?? this.pos();
      throw new DrillSyntaxError(p.line, p.col, `TCP options are ${len} bytes long: more than the 40 bytes that fit in a TCP header`);
    }
    return opts;
  }

  private tcpOption(): TcpOption {
    const t = this.peek();
    const pos = this.pos(t);
    if (t.kind === 'word') {
      switch (t.text) {
        case 'nop':
          this.next();
          return { kind: 'nop', pos };
        case 'eol':
          this.next();
          return { kind: 'eol', pos };
        case 'mss':
          this.next();
          return { kind: 'mss', value: this.u16('MSS'), pos };
        case 'wscale':
          this.next();
          return { kind: 'wscale', value: this.u8('window scale'), pos };
        case 'sackOK':
          this.next();
          return { kind: 'sackOK', pos };
        case 'sack': {
          this.next();
          const blocks: [number, number][] = [];
          while (this.peek().kind === 'int' && this.isP(':', 1)) {
            const l = this.u32('SACK block start');
            this.expectP(':');
            const r = this.u32('SACK block end');
            blocks.push([l, r]);
          }
          if (blocks.length > 4) throw new DrillSyntaxError(pos.line, pos.col, 'at most 4 SACK blocks fit in a TCP header');
          return { kind: 'sack', blocks, pos };
        }
        case 'TS': {
          this.next();
          this.expectW('val');
          let valIgnore = false;
          let val = 0;
          if (this.peek().kind === 'ellipsis') {
            this.next();
            valIgnore = true;
          } else val = this.u32('TS val');
          this.expectW('ecr');
          const ecr = this.u32('TS ecr');
          let ecrAbsolute = false;
          if (this.isP('!')) {
            this.next();
            ecrAbsolute = true;
          }
          return { kind: 'ts', val, ecr, ecrAbsolute, valIgnore, pos };
        }
        case 'FO':
          this.next();
          return { kind: 'fo', cookie: this.cookie(), pos };
        case 'FOEXP':
          this.next();
          return { kind: 'foexp', cookie: this.cookie(), pos };
        case 'md5': {
          this.next();
          if (this.isW('valid')) {
            this.next();
            return { kind: 'md5', digest: null, pos };
          }
          const d = this.cookie();
          if (d.length !== 16) throw new DrillSyntaxError(pos.line, pos.col, 'an md5 option needs a 16-byte hex digest or "valid"');
          return { kind: 'md5', digest: d, pos };
        }
        case 'ECN': {
          this.next();
          const fields: [string, number][] = [];
          while (this.peek().kind === 'word' && ['e0b', 'e1b', 'ceb'].includes(this.peek().text)) {
            const f = this.next().text;
            fields.push([f, this.int(f)]);
          }
          return { kind: 'accecn', name: 'ECN', fields, pos };
        }
        case 'AccECN0':
        case 'AccECN1': {
          this.next();
          const fields: [string, number][] = [];
          while (this.peek().kind === 'word' && ['ee0b', 'eceb', 'ee1b'].includes(this.peek().text)) {
            const f = this.next().text;
            fields.push([f, this.int(f)]);
          }
          return { kind: 'accecn', name: t.text, fields, pos };
        }
        case 'gen':
        case 'exp': {
          this.next();
          // gen-<kind> lexes as WORD 'gen' INT '-34'; exp-<ExID> may be '-' HEX.
          let v: number;
          const n = this.peek();
          if (n.kind === 'int' && n.text.startsWith('-')) {
            this.next();
            v = -n.num;
          } else {
            this.expectP('-', `after ${t.text}`);
            v = this.int(t.text === 'gen' ? 'option kind' : 'experiment id');
          }
          const data = this.cookie();
          if (t.text === 'gen') {
            if (v < 0 || v > 255) throw new DrillSyntaxError(pos.line, pos.col, `option kind ${v} out of range`);
            return { kind: 'generic', optKind: v, data, pos };
          }
          if (v < 0 || v > 0xffff) throw new DrillSyntaxError(pos.line, pos.col, `experiment id ${v} out of range`);
          return { kind: 'exp', exid: v, data, pos };
        }
        default:
          if (/^[0-9a-fA-F]+$/.test(t.text)) {
            this.next();
            return { kind: 'raw', data: hexBytes(t.text, pos), pos };
          }
          this.err(`unknown TCP option '${t.text}'`, t);
      }
    }
    if (t.kind === 'int' || t.kind === 'hex') {
      this.next();
      return { kind: 'raw', data: hexBytes(t.text, pos), pos };
    }
    this.err(`expected a TCP option but found ${this.describe(t)}`, t);
  }

  private udpPacket(dir: 'in' | 'out', ip: IpInfo | null, pos: Pos): UdpPacket {
    this.expectW('udp');
    let ports: PortPair | null = null;
    if (!this.isP('(')) ports = this.portPair();
    this.expectP('(');
    const len = this.u16('UDP payload length');
    this.expectP(')');
    return { proto: 'udp', dir, ip, ports, len, pos };
  }

  private icmpPacket(dir: 'in' | 'out', ip: IpInfo | null, pos: Pos): IcmpPacket {
    this.expectW('icmp');
    const tt = this.next();
    if (tt.kind !== 'word' && tt.kind !== 'int') this.err(`expected an ICMP type but found ${this.describe(tt)}`, tt);
    const pkt: IcmpPacket = { proto: 'icmp', dir, ip, icmpType: tt.text, icmpCode: null, mtu: null, id: null, echoed: null, pos };
    const c = this.peek();
    if ((c.kind === 'word' && c.text !== 'mtu' && c.text !== 'id') || c.kind === 'int') {
      this.next();
      pkt.icmpCode = c.text;
    }
    for (;;) {
      if (this.isW('mtu') && pkt.mtu === null) {
        this.next();
        pkt.mtu = this.u32('MTU');
      } else if (this.isW('id') && pkt.id === null) {
        this.next();
        pkt.id = this.u16('ICMP id');
      } else break;
    }
    if (this.isP('[')) {
      this.next();
      pkt.echoed = this.icmpEchoed();
      this.expectP(']', 'to close the echoed header');
    }
    return pkt;
  }

  private icmpEchoed(): IcmpEchoed {
    const t = this.peek();
    if (t.kind === 'word' && (t.text === 'udp' || t.text === 'raw') && this.isP('(', 1)) {
      this.next();
      this.next();
      const len = this.u16('length');
      this.expectP(')');
      return { kind: t.text, len };
    }
    if (t.kind === 'word' && (t.text === 'sctp' || t.text === 'udplite')) {
      this.next();
      if (this.isP('(')) this.skipBalanced('(', ')');
      return { kind: 'other', what: `${t.text} echoed in ICMP` };
    }
    const seq = this.seqSpec();
    return { kind: 'tcp', seq, udpEncap: this.udpEncap() };
  }

  // ---- system calls ----

  private syscall(): Syscall {
    const nt = this.next();
    const pos = this.pos(nt);
    this.expectP('(');
    const args: Expr[] = [];
    if (!this.isP(')')) {
      for (;;) {
        args.push(this.expr());
        if (this.isP(',')) {
          this.next();
          continue;
        }
        break;
      }
    }
    this.expectP(')', `to close the arguments of ${nt.text}()`);
    this.expectP('=', `after ${nt.text}(...): every system call needs '= result'`);
    const result = this.expr();
    let errno: string | null = null;
    let errnoPos: Pos | null = null;
    const e = this.peek();
    if (e.kind === 'word' && e.line === nt.line && /^E[A-Z0-9]+$/.test(e.text)) {
      this.next();
      errno = e.text;
      errnoPos = this.pos(e);
    }
    let note: string | null = null;
    if (this.isP('(') && this.peek().line === nt.line) {
      const start = this.peek();
      const parts: string[] = [];
      let depth = 0;
      do {
        const t = this.next();
        if (t.kind === 'eof') this.err("unterminated '(' note", start);
        if (t.kind === 'punct' && t.text === '(') depth++;
        else if (t.kind === 'punct' && t.text === ')') depth--;
        if (depth > 0 && !(t.kind === 'punct' && t.text === '(' && depth === 1)) parts.push(t.text);
      } while (depth > 0);
      note = parts.join(' ');
    }
    return { name: nt.text, args, result, errno, errnoPos, note, endUsecs: null, pos };
  }

  private expr(): Expr {
    let left = this.unary();
    while (this.isP('|') || this.isP('&')) {
      const op = this.next().text as '|' | '&';
      const right = this.unary();
      left = { type: 'binop', op, left, right, pos: left.pos };
    }
    return left;
  }

  private unary(): Expr {
    if (this.isP('-')) {
      const t = this.next();
      return { type: 'neg', operand: this.primary(), pos: this.pos(t) };
    }
    return this.primary();
  }

  private primary(): Expr {
    const t = this.peek();
    const pos = this.pos(t);
    switch (t.kind) {
      case 'int':
      case 'hex':
        this.next();
        return { type: 'int', value: t.num, raw: t.text, pos };
      case 'float':
        this.err(`unexpected number ${t.text}: expressions take integers`, t);
        break;
      case 'ellipsis':
        this.next();
        return { type: 'ellipsis', pos };
      case 'string': {
        let value = '';
        while (this.peek().kind === 'string') value += this.next().text;
        let ellipsis = false;
        if (this.peek().kind === 'ellipsis') {
          this.next();
          ellipsis = true;
        }
        return { type: 'string', value, ellipsis, pos };
      }
      case 'ipv4':
      case 'ipv6':
        this.next();
        return { type: 'addr', value: t.text, pos };
      case 'word': {
        this.next();
        if (this.isP('(')) {
          this.next();
          const args: Expr[] = [];
          if (!this.isP(')')) {
            for (;;) {
              args.push(this.expr());
              if (!this.isP(',')) break;
              this.next();
            }
          }
          this.expectP(')', `to close ${t.text}(...)`);
          return { type: 'call', name: t.text, args, pos };
        }
        return { type: 'word', name: t.text, pos };
      }
      case 'punct':
        if (t.text === '[') {
          this.next();
          const items: Expr[] = [];
          if (!this.isP(']')) {
            for (;;) {
              items.push(this.expr());
              if (!this.isP(',')) break;
              this.next();
            }
          }
          this.expectP(']', 'to close the list');
          return { type: 'list', items, pos };
        }
        if (t.text === '{') return this.struct();
        break;
      default:
        break;
    }
    this.err(`expected an expression but found ${this.describe(t)}`, t);
  }

  private struct(): Expr {
    const open = this.expectP('{');
    const fields: StructField[] = [];
    if (!this.isP('}')) {
      for (;;) {
        const t = this.peek();
        const fpos = this.pos(t);
        if (t.kind === 'word' && this.isP('=', 1)) {
          this.next();
          this.next();
          fields.push({ name: t.text, param: null, value: this.expr(), pos: fpos });
        } else if (t.kind === 'word' && this.isP('(', 1) && this.looksLikeParamField()) {
          this.next();
          this.next();
          const param = this.expr();
          this.expectP(')');
          this.expectP('=');
          fields.push({ name: t.text, param, value: this.expr(), pos: fpos });
        } else {
          fields.push({ name: null, param: null, value: this.expr(), pos: fpos });
        }
        if (!this.isP(',')) break;
        this.next();
      }
    }
    this.expectP('}', 'to close the struct');
    return { type: 'struct', fields, pos: this.pos(open) };
  }

  /** `name(expr)=` (msg_iov(1)=...) rather than a function call. */
  private looksLikeParamField(): boolean {
    let depth = 0;
    for (let k = 1; k < 64; k++) {
      const t = this.peek(k);
      if (t.kind === 'eof') return false;
      if (t.kind === 'punct' && t.text === '(') depth++;
      if (t.kind === 'punct' && t.text === ')') {
        depth--;
        if (depth === 0) return this.isP('=', k + 1);
      }
    }
    return false;
  }
}

function optionLength(o: TcpOption): number {
  switch (o.kind) {
    case 'nop':
    case 'eol':
      return 1;
    case 'mss':
      return 4;
    case 'wscale':
      return 3;
    case 'sackOK':
      return 2;
    case 'sack':
      return 2 + 8 * o.blocks.length;
    case 'ts':
      return 10;
    case 'fo':
      return 2 + o.cookie.length;
    case 'foexp':
      return 4 + o.cookie.length;
    case 'md5':
      return 18;
    case 'generic':
      return 2 + o.data.length;
    case 'exp':
      return 4 + o.data.length;
    case 'raw':
      return o.data.length;
    case 'accecn':
      return 2 + 3 * o.fields.length;
  }
}

/**
 * Parse a script. Throws DrillSyntaxError (line, col) on malformed input. `defines` from
 * the command line win over the script's `--define` options.
 */
export function parseScript(text: string, opts: ParseOptions = {}): Script {
  const defines = scriptDefines(text);
  for (const [k, v] of opts.defines ?? []) defines.set(k, v);
  const pp = new Set<string>([...(opts.ppDefines ?? DEFAULT_PP_DEFINES), ...defines.keys()]);
  const toks = lex(preprocess(text, pp));
  return new Parser(toks, defines).parse();
}
