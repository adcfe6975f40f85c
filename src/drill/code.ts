/*
 * The `%{ ... }%` code-block mini-evaluator: the subset of Python that packetdrill code
 * blocks use, evaluated over TCP_INFO snapshots instead of shelling out to python3.
 *
 * As in packetdrill (code.c), the snapshot is taken at the event's time and the code runs
 * after the last event: for each block in order, every tcpi_* field of its snapshot and the
 * TCPI_* constants are assigned, then the block's statements run; variables carry over
 * between blocks. Supported statements: `assert EXPR[, msg]`, `NAME = EXPR`, `NAME op= EXPR`,
 * `print(...)`, `pass`; expressions: integers, True/False/None, names, parentheses, unary
 * `- + ~ not`, `* / // % + - << >> & ^ |`, chained comparisons, `and`, `or`. Anything else
 * is reported as unsupported, naming it (checkCode does this before the script runs).
 */

export class CodeUnsupported extends Error {}
export class CodeAssertion extends Error {}

type Val = number | boolean | null | string;

interface Tok {
  k: 'num' | 'name' | 'op' | 'str' | 'end';
  v: string;
}

const OPS = [
  '//=',
  '<<=',
  '>>=',
  '**',
  '//',
  '<<',
  '>>',
  '<=',
  '>=',
  '==',
  '!=',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '|=',
  '&=',
  '^=',
  '(',
  ')',
  ',',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<',
  '>',
  '|',
  '&',
  '^',
  '~',
  '=',
  ':',
];

function tokenize(line: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '#') break;
    const num = /^(0x[0-9a-fA-F]+|[0-9]+)/.exec(line.slice(i));
    if (num) {
      out.push({ k: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    const nm = /^[A-Za-z_][A-Za-z0-9_]*/.exec(line.slice(i));
    if (nm) {
      out.push({ k: 'name', v: nm[0] });
      i += nm[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new CodeUnsupported(`unterminated string in '${line}'`);
      out.push({ k: 'str', v: line.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    const op = OPS.find((o) => line.startsWith(o, i));
    if (op === undefined) throw new CodeUnsupported(`unsupported character '${c}' in '${line}'`);
    out.push({ k: 'op', v: op });
    i += op.length;
  }
  out.push({ k: 'end', v: '' });
  return out;
}

type Node =
  | { t: 'num'; v: number }
  | { t: 'const'; v: Val }
  | { t: 'str'; v: string }
  | { t: 'name'; v: string }
  | { t: 'un'; op: string; a: Node }
  | { t: 'bin'; op: string; a: Node; b: Node }
  | { t: 'cmp'; ops: string[]; items: Node[] }
  | { t: 'call'; name: string; args: Node[] };

class ExprParser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}
  peek(): Tok {
    return this.toks[this.i] as Tok;
  }
  take(): Tok {
    return this.toks[this.i++] as Tok;
  }
  isOp(v: string): boolean {
    const t = this.peek();
    return t.k === 'op' && t.v === v;
  }
  isName(v: string): boolean {
    const t = this.peek();
    return t.k === 'name' && t.v === v;
  }
  atEnd(): boolean {
    return this.peek().k === 'end';
  }
  expr(): Node {
    return this.or();
  }
  private or(): Node {
    let a = this.and();
    while (this.isName('or')) {
      this.take();
      a = { t: 'bin', op: 'or', a, b: this.and() };
    }
    return a;
  }
  private and(): Node {
    let a = this.not();
    while (this.isName('and')) {
      this.take();
      a = { t: 'bin', op: 'and', a, b: this.not() };
    }
    return a;
  }
  private not(): Node {
    if (this.isName('not')) {
      this.take();
      return { t: 'un', op: 'not', a: this.not() };
    }
    return this.cmp();
  }
  private cmp(): Node {
    const first = this.bitor();
    const ops: string[] = [];
    const items: Node[] = [first];
    for (;;) {
      const t = this.peek();
      if (t.k === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
        this.take();
        ops.push(t.v);
        items.push(this.bitor());
      } else if (t.k === 'name' && (t.v === 'in' || t.v === 'is')) {
        throw new CodeUnsupported(`'${t.v}' comparisons are not supported`);
      } else break;
    }
    return ops.length === 0 ? first : { t: 'cmp', ops, items };
  }
  private binLevel(ops: string[], next: () => Node): Node {
    let a = next();
    while (this.peek().k === 'op' && ops.includes(this.peek().v)) {
      const op = this.take().v;
      a = { t: 'bin', op, a, b: next() };
    }
    return a;
  }
  private bitor(): Node {
    return this.binLevel(['|'], () => this.bitxor());
  }
  private bitxor(): Node {
    return this.binLevel(['^'], () => this.bitand());
  }
  private bitand(): Node {
    return this.binLevel(['&'], () => this.shift());
  }
  private shift(): Node {
    return this.binLevel(['<<', '>>'], () => this.arith());
  }
  private arith(): Node {
    return this.binLevel(['+', '-'], () => this.term());
  }
  private term(): Node {
    return this.binLevel(['*', '/', '//', '%'], () => this.unary());
  }
  private unary(): Node {
    const t = this.peek();
    if (t.k === 'op' && (t.v === '-' || t.v === '+' || t.v === '~')) {
      this.take();
      return { t: 'un', op: t.v, a: this.unary() };
    }
    return this.power();
  }
  private power(): Node {
    const a = this.atom();
    if (this.isOp('**')) {
      this.take();
      return { t: 'bin', op: '**', a, b: this.unary() };
    }
    return a;
  }
  private atom(): Node {
    const t = this.take();
    if (t.k === 'num') return { t: 'num', v: Number(t.v) };
    if (t.k === 'str') return { t: 'str', v: t.v };
    if (t.k === 'name') {
      if (t.v === 'True') return { t: 'const', v: true };
      if (t.v === 'False') return { t: 'const', v: false };
      if (t.v === 'None') return { t: 'const', v: null };
      if (this.isOp('(')) {
        this.take();
        const args: Node[] = [];
        if (!this.isOp(')')) {
          for (;;) {
            args.push(this.expr());
            if (!this.isOp(',')) break;
            this.take();
          }
        }
        if (!this.isOp(')')) throw new CodeUnsupported(`expected ')' after arguments of ${t.v}()`);
        this.take();
        return { t: 'call', name: t.v, args };
      }
      return { t: 'name', v: t.v };
    }
    if (t.k === 'op' && t.v === '(') {
      const e = this.expr();
      if (!this.isOp(')')) throw new CodeUnsupported("expected ')'");
      this.take();
      return e;
    }
    throw new CodeUnsupported(`unexpected '${t.v || 'end of line'}' in expression`);
  }
}

type Stmt =
  | { t: 'assert'; e: Node; msg: Node | null; text: string; line: number }
  | { t: 'assign'; name: string; op: string; e: Node; line: number }
  | { t: 'print'; line: number }
  | { t: 'expr'; e: Node; line: number };

/** Parse a code block into statements; throws CodeUnsupported naming what it cannot handle. */
export function parseCode(code: string): Stmt[] {
  const out: Stmt[] = [];
  const lines = code.split(/\n|;/);
  for (let li = 0; li < lines.length; li++) {
    const raw = lines[li] as string;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const toks = tokenize(line);
    const first = toks[0] as Tok;
    if (
      first.k === 'name' &&
      ['if', 'for', 'while', 'def', 'import', 'from', 'else', 'elif', 'try', 'with', 'class', 'return', 'global', 'lambda'].includes(first.v)
    )
      throw new CodeUnsupported(`Python '${first.v}' statements are not supported by the code-block evaluator`);
    if (first.k === 'name' && first.v === 'pass') continue;
    if (first.k === 'name' && first.v === 'print') {
      out.push({ t: 'print', line: li });
      continue;
    }
    const p = new ExprParser(toks);
    if (first.k === 'name' && first.v === 'assert') {
      p.take();
      const e = p.expr();
      let msg: Node | null = null;
      if (p.isOp(',')) {
        p.take();
        msg = p.expr();
      }
      if (!p.atEnd()) throw new CodeUnsupported(`unexpected '${p.peek().v}' in '${line}'`);
      out.push({ t: 'assert', e, msg, text: line, line: li });
      continue;
    }
    const second = toks[1] as Tok;
    if (first.k === 'name' && second.k === 'op' && ['=', '+=', '-=', '*=', '/=', '//=', '%=', '|=', '&=', '^=', '<<=', '>>='].includes(second.v)) {
      p.take();
      p.take();
      const e = p.expr();
      if (!p.atEnd()) throw new CodeUnsupported(`unexpected '${p.peek().v}' in '${line}'`);
      out.push({ t: 'assign', name: first.v, op: second.v, e, line: li });
      continue;
    }
    const e = p.expr();
    if (!p.atEnd()) throw new CodeUnsupported(`unsupported statement '${line}'`);
    out.push({ t: 'expr', e, line: li });
  }
  return out;
}

function truthy(v: Val): boolean {
  return v !== null && v !== false && v !== 0 && v !== '';
}

function num(v: Val, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new CodeUnsupported(`${what}: not a number`);
}

function binop(op: string, x: Val, y: Val): Val {
  if (op === '+' && typeof x === 'string' && typeof y === 'string') return x + y;
  const a = num(x, op);
  const b = num(y, op);
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '//':
      return Math.floor(a / b);
    case '%':
      return a - b * Math.floor(a / b);
    case '**':
      return a ** b;
    case '<<':
      return a * 2 ** b;
    case '>>':
      return Math.floor(a / 2 ** b);
    case '|':
      return Number(BigInt(a) | BigInt(b));
    case '&':
      return Number(BigInt(a) & BigInt(b));
    case '^':
      return Number(BigInt(a) ^ BigInt(b));
  }
  throw new CodeUnsupported(`operator ${op}`);
}

export class CodeEnv {
  readonly vars = new Map<string, Val>();

  eval(n: Node): Val {
    switch (n.t) {
      case 'num':
        return n.v;
      case 'const':
        return n.v;
      case 'str':
        return n.v;
      case 'name': {
        if (!this.vars.has(n.v)) throw new CodeAssertion(`NameError: name '${n.v}' is not defined`);
        return this.vars.get(n.v) as Val;
      }
      case 'un': {
        const a = this.eval(n.a);
        if (n.op === 'not') return !truthy(a);
        if (n.op === '-') return -num(a, '-');
        if (n.op === '+') return num(a, '+');
        return Number(~BigInt(num(a, '~')));
      }
      case 'bin': {
        if (n.op === 'and') {
          const a = this.eval(n.a);
          return truthy(a) ? this.eval(n.b) : a;
        }
        if (n.op === 'or') {
          const a = this.eval(n.a);
          return truthy(a) ? a : this.eval(n.b);
        }
        return binop(n.op, this.eval(n.a), this.eval(n.b));
      }
      case 'cmp': {
        let left = this.eval(n.items[0] as Node);
        for (let i = 0; i < n.ops.length; i++) {
          const right = this.eval(n.items[i + 1] as Node);
          const op = n.ops[i] as string;
          let ok: boolean;
          if (op === '==')
            ok =
              left === right || (typeof left !== 'string' && typeof right !== 'string' && left !== null && right !== null && num(left, op) === num(right, op));
          else if (op === '!=')
            ok = !(
              left === right ||
              (typeof left !== 'string' && typeof right !== 'string' && left !== null && right !== null && num(left, op) === num(right, op))
            );
          else {
            const a = num(left, op);
            const b = num(right, op);
            ok = op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
          }
          if (!ok) return false;
          left = right;
        }
        return true;
      }
      case 'call': {
        const args = n.args.map((a) => this.eval(a));
        switch (n.name) {
          case 'abs':
            return Math.abs(num(args[0] ?? null, 'abs'));
          case 'min':
            return Math.min(...args.map((a) => num(a, 'min')));
          case 'max':
            return Math.max(...args.map((a) => num(a, 'max')));
          case 'int':
            return Math.trunc(num(args[0] ?? null, 'int'));
          case 'bool':
            return truthy(args[0] ?? null);
        }
        throw new CodeUnsupported(`function ${n.name}() is not supported`);
      }
    }
  }

  /** Run a parsed block; throws CodeAssertion with the failing statement. */
  run(stmts: Stmt[]): void {
    for (const s of stmts) {
      switch (s.t) {
        case 'assert': {
          const v = this.eval(s.e);
          if (!truthy(v)) {
            const msg = s.msg ? ` (${String(this.eval(s.msg))})` : '';
            throw new CodeAssertion(`AssertionError: ${s.text}${msg}${this.explain(s.e)}`);
          }
          break;
        }
        case 'assign': {
          const v = this.eval(s.e);
          if (s.op === '=') this.vars.set(s.name, v);
          else {
            if (!this.vars.has(s.name)) throw new CodeAssertion(`NameError: name '${s.name}' is not defined`);
            this.vars.set(s.name, binop(s.op.slice(0, -1), this.vars.get(s.name) as Val, v));
          }
          break;
        }
        case 'print':
        case 'expr':
          break;
      }
    }
  }

  /** For a failed comparison, show the values of the names involved. */
  private explain(n: Node): string {
    const names = new Set<string>();
    const walk = (x: Node): void => {
      if (x.t === 'name') names.add(x.v);
      else if (x.t === 'un') walk(x.a);
      else if (x.t === 'bin') {
        walk(x.a);
        walk(x.b);
      } else if (x.t === 'cmp') x.items.forEach(walk);
      else if (x.t === 'call') x.args.forEach(walk);
    };
    walk(n);
    const parts = [...names].filter((k) => !/^TCPI_/.test(k)).map((k) => `${k}=${String(this.vars.get(k))}`);
    return parts.length > 0 ? ` [${parts.join(', ')}]` : '';
  }
}

/** Null if the block can be evaluated; else what is unsupported. */
export function checkCode(code: string): string | null {
  try {
    parseCode(code);
    return null;
  } catch (e) {
    if (e instanceof CodeUnsupported) return e.message;
    throw e;
  }
}
