/*
 * `bsdnet drill`: run packetdrill scripts against bsdnet in virtual time.
 *
 *   bsdnet drill [--define NAME[=VALUE]]... [--ip-version ipv4|ipv6|ipv4-mapped-ipv6]
 *                [--json] [--verbose] [--trace[=FILE.pcap]] [--seed N]
 *                [--name=value (any packetdrill option, e.g. --tolerance_usecs=10000)]...
 *                PATH...
 *
 * One line per script (PASS / FAIL with the first mismatch / XFAIL / XPASS / UNSUPPORTED
 * naming the construct / ERROR with line and column), then a summary per folder and a
 * closing `N passed, N failed`. Exit status 0 only if nothing failed. --json prints the
 * same as one JSON document.
 */

import { PcapWriter } from '../net/pcap.js';
import { collectScripts, type FileResult, formatResult, runFile, summarise } from '../drill/suite.js';

const USAGE = `usage: bsdnet drill [options] PATH...

Runs packetdrill scripts (.pkt files, or folders of them) against a fresh bsdnet stack each,
in virtual time.

options:
  --define NAME[=VALUE], -D NAME[=VALUE]
                       define a symbol (for #ifdef and word substitution); FreeBSD is
                       always defined
  --ip-version V       ipv4, ipv6 or ipv4-mapped-ipv6 (overrides the scripts' --ip_version)
  --json               print the results as JSON
  --verbose            print details and warnings for every script
  --trace[=FILE.pcap]  print every packet both ways with its virtual time; with a file name,
                       also write them to a pcap file (raw IP)
  --seed N             RNG seed of the stack (default 1)
  --sysctl NAME=VALUE  set a sysctl on each script's fresh stack before it runs (e.g.
                       net.inet.tcp.vtw.enable=0); repeatable
  --NAME=VALUE         any packetdrill option (e.g. --tolerance_usecs=10000); wins over the
                       script's
  -h, --help           this text
`;

const JSON_KEYS = ['path', 'folder', 'verdict', 'line', 'col', 'kind', 'message', 'details', 'warnings', 'virtualUsecs'] as const;

export async function drillMain(argv: string[]): Promise<number> {
  const defines: string[] = [];
  const cliOptions: { name: string; value: string | null }[] = [];
  const paths: string[] = [];
  let json = false;
  let verbose = false;
  let trace = false;
  let pcapPath: string | null = null;
  let seed = 1;
  const sysctls: { name: string; value: string }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') ? (eq > 0 ? a.slice(2, eq) : a.slice(2)) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : null;
    const value = (): string => {
      if (inline !== null) return inline;
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    try {
      if (a === '-h' || a === '--help') {
        process.stdout.write(USAGE);
        return 0;
      } else if (a === '-D') defines.push(value());
      else if (a.startsWith('-D') && !a.startsWith('--')) defines.push(a.slice(2));
      else if (a.startsWith('--') && name === 'define') defines.push(value());
      else if (a.startsWith('--') && (name === 'ip-version' || name === 'ip_version')) cliOptions.push({ name: 'ip_version', value: value() });
      else if (a === '--json') json = true;
      else if (a === '--verbose' || a === '-v') verbose = true;
      else if (a.startsWith('--') && name === 'trace') {
        trace = true;
        if (inline !== null && inline !== '') pcapPath = inline;
      } else if (a.startsWith('--') && name === 'seed') seed = Number(value());
      else if (a.startsWith('--') && name === 'sysctl') {
        const kv = value();
        const k = kv.indexOf('=');
        if (k <= 0) throw new Error(`--sysctl needs NAME=VALUE, not '${kv}'`);
        sysctls.push({ name: kv.slice(0, k), value: kv.slice(k + 1) });
      } else if (a.startsWith('--') && eq > 0) cliOptions.push({ name: name.replace(/-/g, '_'), value: inline });
      else if (a.startsWith('-') && a !== '-') {
        process.stderr.write(`bsdnet drill: unknown option '${a}'\n${USAGE}`);
        return 2;
      } else paths.push(a);
    } catch (e) {
      process.stderr.write(`bsdnet drill: ${(e as Error).message}\n`);
      return 2;
    }
  }
  if (paths.length === 0) {
    process.stderr.write(`bsdnet drill: no script given\n${USAGE}`);
    return 2;
  }
  let files: { file: string; root: string }[];
  try {
    files = collectScripts(paths);
  } catch (e) {
    process.stderr.write(`bsdnet drill: ${(e as Error).message}\n`);
    return 2;
  }
  const out = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };
  const pcap = pcapPath !== null ? PcapWriter.toFile(pcapPath, 101) : null;
  const results: FileResult[] = [];
  for (const { file, root } of files) {
    if (trace && !json) out(`# ${file}`);
    const r = runFile(file, root, {
      defines,
      cliOptions,
      seed,
      sysctls,
      pcap,
      trace: trace && !json ? (l) => out(`  ${l}`) : null,
    });
    results.push(r);
    if (!json) {
      out(formatResult(r));
      const showDetails = r.verdict !== 'PASS' && r.verdict !== 'XPASS';
      if (showDetails || verbose) for (const d of r.details) out(`    ${d}`);
      if (verbose) for (const w of r.warnings) out(`    ${w}`);
    }
  }
  pcap?.close();
  const sum = summarise(results);
  if (json) {
    const doc = {
      results: results.map((r) => Object.fromEntries(JSON_KEYS.map((k) => [k, r[k]]))),
      folders: Object.fromEntries(sum.folders),
      passed: sum.passed,
      failed: sum.failed,
    };
    out(JSON.stringify(doc, null, 2));
  } else {
    if (sum.folders.size > 1 || files.length > 1) {
      out('');
      for (const [folder, f] of sum.folders) {
        const extra: string[] = [];
        if (f.unsupported) extra.push(`${f.unsupported} unsupported`);
        if (f.errors) extra.push(`${f.errors} errors`);
        if (f.xfail) extra.push(`${f.xfail} xfail`);
        if (f.xpass) extra.push(`${f.xpass} xpass`);
        out(`${folder}: ${f.passed} passed, ${f.failed} failed${extra.length ? ` (${extra.join(', ')})` : ''}`);
      }
    }
    out(`${sum.passed} passed, ${sum.failed} failed`);
  }
  return sum.failed === 0 ? 0 : 1;
}
