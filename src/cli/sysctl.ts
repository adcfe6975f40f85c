/*
 * `bsdnet sysctl`: read and write a stack's MIB, as sysctl(8) does.
 *
 *   bsdnet sysctl [--attach PATH] [-adNnoq] [--json] [NAME[=VALUE] ...]
 *
 *   -a       every node (opaque struct nodes only with -o, as on FreeBSD)
 *   NAME     a leaf's value, or every leaf under an interior node
 *   NAME=V   set a leaf; prints "NAME: old -> new"
 *   -d       descriptions instead of values
 *   -N       names only
 *   -n       values only
 *   -o       include opaque (struct) nodes in -a / subtree listings
 *   -q       quiet about unknown names
 *   --json   one JSON object: {name: value} (with -d: {name: {descr, kind, fmt, writable,
 *            min, max}}; for writes: {name: {old, new}})
 *   --attach PATH   the stack behind a control socket (else a fresh default instance)
 *
 * Output follows sysctl(8): "name: value"; booleans print as 0/1 (they are ints on BSD),
 * struct values as one line of JSON. Errors (unknown oid, read-only, bad value) go to stderr
 * and make the exit status 1, after the other names have been processed.
 */

import type { SysctlListEntry, SysctlSource } from '../api/control.js';
import type { SysctlValue } from '../kern/kern_sysctl.js';
import { errText, jsonLine, openSource, parseArgs, processIO, type ToolIO, UsageError } from './toolargs.js';

const USAGE = `usage: bsdnet sysctl [--attach PATH] [-dNnoq] [--json] name[=value] ...
       bsdnet sysctl [--attach PATH] [-dNno] [--json] -a
`;

function valueText(v: SysctlValue | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'object') return jsonLine(v);
  return String(v);
}

function jsonValue(v: SysctlValue | undefined): SysctlValue | null {
  return v === undefined ? null : v;
}

export async function sysctlMain(argv: string[], io: ToolIO = processIO()): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs('sysctl', argv, { flags: 'adNnoqh', withArg: '', long: ['json', 'help'], longArg: ['attach'] });
  } catch (e) {
    io.err(`${errText(e)}\n${USAGE}`);
    return 2;
  }
  const has = (k: string): boolean => (args.count.get(k) ?? 0) > 0;
  if (has('h') || has('help')) {
    io.out(USAGE);
    return 0;
  }
  const all = has('a');
  if (!all && args.operands.length === 0) {
    io.err(`sysctl: no names given\n${USAGE}`);
    return 2;
  }
  if (has('d') && has('N')) {
    io.err(`sysctl: -d and -N are mutually exclusive\n${USAGE}`);
    return 2;
  }
  let opened: Awaited<ReturnType<typeof openSource>>;
  try {
    opened = await openSource(io, args.value.get('attach'));
  } catch (e) {
    io.err(`sysctl: ${errText(e)}\n`);
    return 1;
  }
  try {
    return await run(opened.src, args, io, all);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${e.message}\n${USAGE}`);
      return 2;
    }
    io.err(`sysctl: ${errText(e)}\n`);
    return 1;
  } finally {
    opened.close();
  }
}

async function run(src: SysctlSource, args: ReturnType<typeof parseArgs>, io: ToolIO, all: boolean): Promise<number> {
  const has = (k: string): boolean => (args.count.get(k) ?? 0) > 0;
  const json = has('json');
  const descr = has('d');
  const namesOnly = has('N');
  const valuesOnly = has('n');
  const opaque = has('o');
  const quiet = has('q');
  let status = 0;
  const out: Record<string, unknown> = {};

  const show = (nodes: SysctlListEntry[], direct: boolean): void => {
    for (const n of nodes) {
      // Opaque nodes are suppressed in walks unless -o (FreeBSD); a struct named directly shows.
      if (n.kind === 'struct' && !direct && !opaque && !descr && !namesOnly) continue;
      if (json) {
        out[n.name] = descr
          ? { descr: n.descr, kind: n.kind, fmt: n.fmt, writable: n.writable, ...(n.min !== undefined ? { min: n.min, max: n.max } : {}) }
          : namesOnly
            ? true
            : jsonValue(n.value);
        continue;
      }
      if (namesOnly) io.out(`${n.name}\n`);
      else if (descr) io.out(valuesOnly ? `${n.descr}\n` : `${n.name}: ${n.descr}\n`);
      else io.out(valuesOnly ? `${valueText(n.value)}\n` : `${n.name}: ${valueText(n.value)}\n`);
    }
  };

  if (all) {
    show(await src.list('', { values: !namesOnly && !descr }), false);
  }
  for (const op of args.operands) {
    const eq = op.indexOf('=');
    const name = eq >= 0 ? op.slice(0, eq) : op;
    if (name === '') throw new UsageError(`sysctl: bad name '${op}'`);
    try {
      if (eq >= 0) {
        if (all) throw new UsageError('sysctl: cannot set values with -a');
        const { old, value } = await src.set(name, op.slice(eq + 1));
        if (json) out[name] = { old, new: value };
        else io.out(valuesOnly ? `${valueText(value)}\n` : `${name}: ${valueText(old)} -> ${valueText(value)}\n`);
        continue;
      }
      const nodes = await src.list(name, { values: !namesOnly && !descr, all: true });
      show(nodes, nodes.length === 1 && nodes[0]?.name === name);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      status = 1;
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT') {
        if (!quiet) io.err(`sysctl: unknown oid '${name}'\n`);
      } else if (code === 'EPERM') io.err(`sysctl: oid '${name}' is read only\n`);
      else io.err(`sysctl: ${name}: ${errText(e).replace(/^sysctl [^:]*: /, '')}\n`);
    }
  }
  if (json) io.out(`${JSON.stringify(out, null, 2)}\n`);
  return status;
}
