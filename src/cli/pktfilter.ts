/*
 * A small pcap-filter(7) subset for `bsdnet tcpdump`:
 *
 *   expr      := and ( ('or' | '||') and )*
 *   and       := unary ( ('and' | '&&') unary )*          (juxtaposition also means and)
 *   unary     := ('not' | '!') unary | '(' expr ')' | primitive
 *   primitive := [src|dst] host ADDR | [src|dst] port N | [src|dst] net A.B.C.D/LEN
 *              | tcp | udp | icmp | icmp6 | arp | ip | ip6
 *              | (tcp|udp) [src|dst] port N                (protocol-qualified port)
 *
 * `host` matches the IP (or ARP sender/target) addresses, `port` the TCP/UDP ports. A bad
 * expression is a FilterSyntaxError naming the offending token.
 */

import { inet_aton4, inet_pton6 } from '../wire/addr.js';
import type { PktSummary } from './pktprint.js';

export class FilterSyntaxError extends Error {}

export type Filter = (p: PktSummary) => boolean;

const PROTOS = new Set(['tcp', 'udp', 'icmp', 'icmp6', 'arp', 'ip', 'ip6']);

function tokenize(s: string): string[] {
  const out: string[] = [];
  const re = /\s*(\(|\)|&&|\|\||!|[^\s()!]+)/g;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(s)) !== null) {
    out.push(m[1] as string);
    last = re.lastIndex;
  }
  if (s.slice(last).trim() !== '') throw new FilterSyntaxError(`syntax error near '${s.slice(last).trim()}'`);
  return out;
}

function sameAddr(text: string, want: string): boolean {
  if (text === want) return true;
  const a = inet_pton6(text);
  const b = inet_pton6(want);
  if (a === null || b === null) return false;
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compile an expression (the tcpdump operands joined by spaces); '' matches everything. */
export function compileFilter(expr: string): Filter {
  const toks = tokenize(expr);
  let i = 0;
  const peek = (): string | undefined => toks[i];
  const next = (): string => {
    const t = toks[i++];
    if (t === undefined) throw new FilterSyntaxError('unexpected end of expression');
    return t;
  };
  const startsUnary = (t: string | undefined): boolean => t !== undefined && t !== ')' && t !== 'and' && t !== '&&' && t !== 'or' && t !== '||';

  const primitive = (): Filter => {
    let t = next();
    let proto: string | null = null;
    if (PROTOS.has(t)) {
      const n = peek();
      if ((t === 'tcp' || t === 'udp') && (n === 'port' || n === 'src' || n === 'dst')) proto = t;
      else {
        const want = t;
        if (want === 'ip' || want === 'ip6' || want === 'arp') return (p) => p.net === want;
        return (p) => p.proto === want;
      }
      t = next();
    }
    let dir: 'src' | 'dst' | null = null;
    if (t === 'src' || t === 'dst') {
      dir = t;
      t = next();
    }
    if (t === 'host') {
      const a = next();
      if (inet_aton4(a) === null && inet_pton6(a) === null) throw new FilterSyntaxError(`bad host address '${a}'`);
      return (p) => (dir !== 'dst' && sameAddr(p.src, a)) || (dir !== 'src' && sameAddr(p.dst, a));
    }
    if (t === 'port') {
      const v = next();
      const port = /^\d+$/.test(v) ? Number(v) : Number.NaN;
      if (!(port >= 0 && port <= 65535)) throw new FilterSyntaxError(`bad port '${v}'`);
      return (p) =>
        (p.proto === 'tcp' || p.proto === 'udp') &&
        (proto === null || p.proto === proto) &&
        ((dir !== 'dst' && p.sport === port) || (dir !== 'src' && p.dport === port));
    }
    if (t === 'net') {
      const v = next();
      const [a, l] = v.split('/');
      const addr = inet_aton4(a ?? '');
      const plen = l === undefined ? 32 : Number(l);
      if (addr === null || !Number.isInteger(plen) || plen < 0 || plen > 32) throw new FilterSyntaxError(`bad net '${v}'`);
      const mask = plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
      const netw = (addr & mask) >>> 0;
      const inNet = (x: number): boolean => x >= 0 && (x & mask) >>> 0 === netw;
      return (p) => (dir !== 'dst' && inNet(p.src4)) || (dir !== 'src' && inNet(p.dst4));
    }
    throw new FilterSyntaxError(`syntax error near '${t}'`);
  };

  const unary = (): Filter => {
    const t = peek();
    if (t === 'not' || t === '!') {
      i++;
      const f = unary();
      return (p) => !f(p);
    }
    if (t === '(') {
      i++;
      const f = orExpr();
      if (next() !== ')') throw new FilterSyntaxError("missing ')'");
      return f;
    }
    return primitive();
  };

  const andExpr = (): Filter => {
    let f = unary();
    for (;;) {
      const t = peek();
      if (t === 'and' || t === '&&') i++;
      else if (!startsUnary(t)) break;
      const a = f;
      const b = unary();
      f = (p) => a(p) && b(p);
    }
    return f;
  };

  const orExpr = (): Filter => {
    let f = andExpr();
    while (peek() === 'or' || peek() === '||') {
      i++;
      const a = f;
      const b = andExpr();
      f = (p) => a(p) || b(p);
    }
    return f;
  };

  if (toks.length === 0) return () => true;
  const f = orExpr();
  if (i < toks.length) throw new FilterSyntaxError(`syntax error near '${toks[i]}'`);
  return f;
}
