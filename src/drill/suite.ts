/*
 * Running packetdrill scripts from files: collect `.pkt` files under the given paths, parse
 * and run each against a fresh stack, apply the harness conventions (a `NAME.exfail` or
 * `NAME.timeout` file beside `NAME.pkt` marks an expected failure: FAIL becomes XFAIL, PASS
 * becomes XPASS), and summarise per folder. Used by `bsdnet drill`, the tests and the
 * conformance script.
 *
 * Counting: PASS, XFAIL and XPASS are passed; FAIL, UNSUPPORTED and ERROR are failed.
 */

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { DrillSyntaxError, parseScript, splitDefine } from './parser.js';
import { type PcapWriter, type RunResult, runScript, type Verdict } from './runner.js';

export interface FileResult extends RunResult {
  path: string;
  /** The folder it is summarised under (relative to the root given). */
  folder: string;
}

export interface SuiteOptions {
  defines?: string[];
  cliOptions?: { name: string; value: string | null }[];
  trace?: ((line: string) => void) | null;
  pcap?: PcapWriter | null;
  seed?: number;
  /** Sysctls preset on each script's fresh stack (NAME=VALUE handled by the caller). */
  sysctls?: { name: string; value: string }[];
}

export interface FolderSummary {
  passed: number;
  failed: number;
  unsupported: number;
  errors: number;
  xfail: number;
  xpass: number;
}

export function isPassed(v: Verdict): boolean {
  return v === 'PASS' || v === 'XFAIL' || v === 'XPASS';
}

/** All `.pkt` files under the paths (files given directly are kept), sorted per root. */
export function collectScripts(paths: string[]): { file: string; root: string }[] {
  const out: { file: string; root: string }[] = [];
  const walk = (dir: string, root: string): void => {
    const names = readdirSync(dir).sort();
    for (const n of names) {
      const p = join(dir, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p, root);
      else if (n.endsWith('.pkt')) out.push({ file: p, root });
    }
  };
  for (const p of paths) {
    const st = statSync(p);
    if (st.isDirectory()) walk(p, p);
    else out.push({ file: p, root: dirname(p) });
  }
  return out;
}

function expectedFailure(file: string): boolean {
  const base = file.replace(/\.pkt$/, '');
  return existsSync(`${base}.exfail`) || existsSync(`${base}.timeout`);
}

/** Parse and run one script file. */
export function runFile(file: string, root: string, opts: SuiteOptions = {}): FileResult {
  const folder = relative(root, dirname(file)) || '.';
  const defines = new Map<string, string>();
  for (const d of opts.defines ?? []) {
    const [k, v] = splitDefine(d);
    defines.set(k, v);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return {
      path: file,
      folder,
      verdict: 'ERROR',
      line: null,
      col: null,
      kind: 'parse',
      message: `cannot read: ${(e as Error).message}`,
      details: [],
      warnings: [],
      virtualUsecs: 0,
    };
  }
  let res: RunResult;
  try {
    const script = parseScript(text, { defines });
    res = runScript(script, { cliOptions: opts.cliOptions, trace: opts.trace, pcap: opts.pcap, seed: opts.seed, path: file, sysctls: opts.sysctls });
  } catch (e) {
    if (e instanceof DrillSyntaxError) {
      res = { verdict: 'ERROR', line: e.line, col: e.col, kind: 'parse', message: e.msg, details: [], warnings: [], virtualUsecs: 0 };
    } else throw e;
  }
  if (expectedFailure(file)) {
    if (res.verdict === 'FAIL') res = { ...res, verdict: 'XFAIL' };
    else if (res.verdict === 'PASS') res = { ...res, verdict: 'XPASS' };
  }
  return { ...res, path: file, folder };
}

export function summarise(results: FileResult[]): { folders: Map<string, FolderSummary>; passed: number; failed: number } {
  const folders = new Map<string, FolderSummary>();
  let passed = 0;
  let failed = 0;
  for (const r of results) {
    let f = folders.get(r.folder);
    if (f === undefined) {
      f = { passed: 0, failed: 0, unsupported: 0, errors: 0, xfail: 0, xpass: 0 };
      folders.set(r.folder, f);
    }
    if (isPassed(r.verdict)) {
      f.passed++;
      passed++;
    } else {
      f.failed++;
      failed++;
    }
    if (r.verdict === 'UNSUPPORTED') f.unsupported++;
    if (r.verdict === 'ERROR') f.errors++;
    if (r.verdict === 'XFAIL') f.xfail++;
    if (r.verdict === 'XPASS') f.xpass++;
  }
  return { folders: new Map([...folders].sort((a, b) => a[0].localeCompare(b[0]))), passed, failed };
}

/** The one-line report of a result (`PASS path`, `FAIL path:LINE: message`, ...). */
export function formatResult(r: FileResult): string {
  const where = r.line !== null ? `${r.path}:${r.line}${r.col !== null ? `:${r.col}` : ''}` : r.path;
  switch (r.verdict) {
    case 'PASS':
      return `PASS ${r.path}`;
    case 'XPASS':
      return `XPASS ${r.path} (expected to fail, passed)`;
    case 'XFAIL':
      return `XFAIL ${where}: ${r.message}`;
    default:
      return `${r.verdict} ${where}: ${r.message}`;
  }
}
