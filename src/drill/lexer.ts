/*
 * packetdrill lexer: script text → tokens with line and column.
 *
 * Follows Google packetdrill's lexer.l (and the NPLab fork's additions): `//` and `/* *\/`
 * comments, `--name[=value]` option lines, integers/floats/hex (longest match, like flex),
 * IPv4 and IPv6 address literals (the IPv6 pattern is crafted so that a sequence range such
 * as `1:1001` is not an address), "strings", `backquoted commands`, `%{ code }%` blocks
 * (spaces and tabs trimmed at both ends), `...`, words and one-character punctuation.
 *
 * Before lexing, the NPLab preprocessor runs over whole lines: `#ifdef NAME` / `#ifndef
 * NAME` / `#else` / `#endif` keep or blank lines (blanking keeps line numbers intact). A
 * name is defined if it is in the set handed in (FreeBSD, --define symbols).
 *
 * Every number token keeps its raw text: TCP Fast Open cookies such as `0102030405060708`
 * are written as digit strings that are really hex bytes.
 */

export type TokKind = 'int' | 'float' | 'hex' | 'word' | 'ipv4' | 'ipv6' | 'string' | 'command' | 'code' | 'option' | 'ellipsis' | 'punct' | 'eof';

export interface Token {
  kind: TokKind;
  /** Source text of the token (for strings/commands/code: the unescaped contents). */
  text: string;
  /** Numeric value for int/float/hex. */
  num: number;
  /** For options: the value after '=' (null for a bare `--flag`). */
  value: string | null;
  line: number;
  col: number;
}

export class DrillSyntaxError extends Error {
  readonly line: number;
  readonly col: number;
  readonly msg: string;
  constructor(line: number, col: number, msg: string) {
    super(`${line}:${col}: ${msg}`);
    this.line = line;
    this.col = col;
    this.msg = msg;
  }
}

/** The OS symbols a packetdrill build on FreeBSD defines for `#ifdef`. */
export const DEFAULT_PP_DEFINES: readonly string[] = ['FreeBSD'];

/**
 * Run the NPLab preprocessor: returns the text with excluded lines blanked.
 * Throws DrillSyntaxError on unbalanced directives.
 */
export function preprocess(text: string, defined: ReadonlySet<string>): string {
  const lines = text.split('\n');
  // Stack of [active-before, this-branch-active, seen-else]
  const stack: { outer: boolean; cond: boolean; line: number; elsed: boolean }[] = [];
  let active = true;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const t = raw.trim();
    if (t.startsWith('#')) {
      const m = /^#\s*(ifdef|ifndef|else|endif|if|elif|define|undef)\b\s*([A-Za-z0-9_]*)/.exec(t);
      if (m === null) {
        if (active) throw new DrillSyntaxError(i + 1, raw.indexOf('#') + 1, `unknown preprocessor directive '${t}'`);
        lines[i] = '';
        continue;
      }
      const dir = m[1] as string;
      const name = m[2] as string;
      const col = raw.indexOf('#') + 1;
      if (dir === 'ifdef' || dir === 'ifndef') {
        if (name === '') throw new DrillSyntaxError(i + 1, col, `#${dir} needs a name`);
        const isDef = defined.has(name);
        const cond = dir === 'ifdef' ? isDef : !isDef;
        stack.push({ outer: active, cond, line: i + 1, elsed: false });
        active = active && cond;
      } else if (dir === 'else') {
        const top = stack[stack.length - 1];
        if (top === undefined || top.elsed) throw new DrillSyntaxError(i + 1, col, '#else without #ifdef');
        top.elsed = true;
        active = top.outer && !top.cond;
      } else if (dir === 'endif') {
        const top = stack.pop();
        if (top === undefined) throw new DrillSyntaxError(i + 1, col, '#endif without #ifdef');
        active = top.outer;
      } else {
        throw new DrillSyntaxError(i + 1, col, `unsupported preprocessor directive #${dir}`);
      }
      lines[i] = '';
      continue;
    }
    if (!active) lines[i] = '';
  }
  const open = stack[stack.length - 1];
  if (open !== undefined) throw new DrillSyntaxError(open.line, 1, '#ifdef without #endif');
  return lines.join('\n');
}

// IPv6 address pattern from packetdrill's lexer.l (v0..v12).
const SEG = '[0-9a-fA-F]{1,4}';
const V4 = '[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+';
const V6_PARTS = [
  '[:][:]',
  `(?:${SEG}[:]){7}${SEG}`,
  `(?:${SEG}[:]){1,7}[:]`,
  `(?:${SEG}[:]){1,6}[:]${SEG}`,
  `(?:${SEG}[:]){1,5}(?:[:]${SEG}){1,2}`,
  `(?:${SEG}[:]){1,4}(?:[:]${SEG}){1,3}`,
  `(?:${SEG}[:]){1,3}(?:[:]${SEG}){1,4}`,
  `(?:${SEG}[:]){1,2}(?:[:]${SEG}){1,5}`,
  `${SEG}[:](?:(?:[:]${SEG}){1,6})`,
  `[:](?:[:]${SEG}){1,7}`,
  `[:][:]ffff[:]${V4}`,
  `[:][:]ffff[:](?:0){1,4}[:]${V4}`,
  `(?:${SEG}[:]){1,4}[:]${V4}`,
];

/** Candidate token patterns, in flex rule order (earlier wins on equal length). */
const PATTERNS: { kind: TokKind; re: RegExp }[] = [
  { kind: 'float', re: /-?[0-9]*\.[0-9]+/y },
  { kind: 'int', re: /-?[0-9]+/y },
  { kind: 'hex', re: /0x[0-9a-fA-F]+/y },
  { kind: 'word', re: /[A-Za-z0-9_]+/y },
  { kind: 'ipv4', re: new RegExp(V4, 'y') },
];
const V6_RES = V6_PARTS.map((p) => new RegExp(p, 'y'));

function longest(text: string, pos: number): { kind: TokKind; len: number } | null {
  let best: { kind: TokKind; len: number } | null = null;
  for (const p of PATTERNS) {
    p.re.lastIndex = pos;
    const m = p.re.exec(text);
    if (m !== null && m[0].length > 0 && (best === null || m[0].length > best.len)) best = { kind: p.kind, len: m[0].length };
  }
  for (const re of V6_RES) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (m !== null && (best === null || m[0].length > best.len)) best = { kind: 'ipv6', len: m[0].length };
  }
  return best;
}

const PUNCT = new Set([
  '+',
  '-',
  '*',
  '~',
  '<',
  '>',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '=',
  '|',
  '.',
  '!',
  '/',
  '&',
  ';',
  '?',
  '@',
  '%',
  '^',
  '$',
  "'",
  '\\',
  '#',
]);

function unescapeText(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/gs, (_all, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(Number.parseInt(e, 8));
    switch (e) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case '0':
        return '\0';
      default:
        return e;
    }
  });
}

/** Tokenize preprocessed script text. */
export function lex(text: string): Token[] {
  const toks: Token[] = [];
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  const n = text.length;
  const tok = (kind: TokKind, t: string, start: number, sline: number, scol: number, num = 0, value: string | null = null): void => {
    void start;
    toks.push({ kind, text: t, num, value, line: sline, col: scol });
  };
  const advanceTo = (end: number): void => {
    for (let i = pos; i < end; i++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    pos = end;
  };
  while (pos < n) {
    const c = text[pos] as string;
    const col = pos - lineStart + 1;
    if (c === '\n') {
      line++;
      pos++;
      lineStart = pos;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      pos++;
      continue;
    }
    if (c === '/' && text[pos + 1] === '/') {
      while (pos < n && text[pos] !== '\n') pos++;
      continue;
    }
    if (c === '/' && text[pos + 1] === '*') {
      const end = text.indexOf('*/', pos + 2);
      if (end < 0) throw new DrillSyntaxError(line, col, 'unterminated /* comment');
      advanceTo(end + 2);
      continue;
    }
    const sline = line;
    if (c === '"' || c === '`') {
      let i = pos + 1;
      while (i < n && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
      if (i >= n) throw new DrillSyntaxError(sline, col, c === '"' ? 'unterminated string' : 'unterminated backquoted command');
      const body = text.slice(pos + 1, i);
      advanceTo(i + 1);
      tok(c === '"' ? 'string' : 'command', unescapeText(body), pos, sline, col);
      continue;
    }
    if (c === '%' && text[pos + 1] === '{') {
      const end = text.indexOf('}%', pos + 2);
      if (end < 0) throw new DrillSyntaxError(sline, col, 'unterminated %{ code }% block');
      const body = text
        .slice(pos + 2, end)
        .replace(/^[ \t]+/, '')
        .replace(/[ \t]+$/, '');
      advanceTo(end + 2);
      tok('code', body, pos, sline, col);
      continue;
    }
    if (c === '-' && text[pos + 1] === '-' && /[A-Za-z0-9_]/.test(text[pos + 2] ?? '')) {
      // --name[=value]: the value runs to the end of the line (minus a // comment).
      let i = pos + 2;
      while (i < n && /[A-Za-z0-9_]/.test(text[i] as string)) i++;
      const name = text.slice(pos + 2, i);
      let value: string | null = null;
      if (text[i] === '=') {
        let j = i + 1;
        while (j < n && text[j] !== '\n' && !(text[j] === '/' && text[j + 1] === '/')) j++;
        value = text.slice(i + 1, j).trim();
        i = j;
      }
      tok('option', name, pos, sline, col, 0, value);
      pos = i;
      continue;
    }
    if (c === '.' && text[pos + 1] === '.' && text[pos + 2] === '.') {
      tok('ellipsis', '...', pos, sline, col);
      pos += 3;
      continue;
    }
    const m = longest(text, pos);
    if (m !== null) {
      const t = text.slice(pos, pos + m.len);
      let num = 0;
      if (m.kind === 'int') num = Number(t);
      else if (m.kind === 'float') num = Number.parseFloat(t);
      else if (m.kind === 'hex') num = Number.parseInt(t.slice(2), 16);
      tok(m.kind, t, pos, sline, col, num);
      pos += m.len;
      continue;
    }
    if (PUNCT.has(c)) {
      tok('punct', c, pos, sline, col);
      pos++;
      continue;
    }
    throw new DrillSyntaxError(line, col, `unexpected character '${c}'`);
  }
  toks.push({ kind: 'eof', text: '', num: 0, value: null, line, col: pos - lineStart + 1 });
  return toks;
}
