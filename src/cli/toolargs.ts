/*
 * What the operator's tools (sysctl, netstat, tcpdump) share: BSD-style option parsing
 * (clustered short flags, option arguments, --long[=value]), where output goes, and how a
 * tool reaches a stack — over the control channel with `--attach PATH`, or in-process.
 *
 * Tools only ever see a SysctlSource (src/api/control.ts): the same code reads a stack in
 * this process and one in another process. Without --attach a tool reads the stack the
 * caller handed it (tests, the demo) or else a fresh default instance (lo0 only), which is
 * what a freshly booted BSD host would show.
 */

import { connectControl, localControl, type SysctlSource } from '../api/control.js';
import type { Vnet } from '../vnet.js';

/** Where a tool writes, and optionally an in-process stack to read without --attach. */
export interface ToolIO {
  out(s: string): void;
  err(s: string): void;
  /** Read this instance when no --attach is given. */
  vnet?: Vnet;
  /** Resolves when the tool should stop a long-running capture (tcpdump), like SIGINT. */
  interrupt?: Promise<void>;
}

export function processIO(): ToolIO {
  return {
    out: (s) => {
      process.stdout.write(s);
    },
    err: (s) => {
      process.stderr.write(s);
    },
  };
}

/** A usage error: the message goes to stderr with the usage text, exit status 2. */
export class UsageError extends Error {}

export interface OptSpec {
  /** Short flags without an argument, e.g. "anrs". */
  flags: string;
  /** Short options that take an argument, e.g. "pic". */
  withArg: string;
  /** Long options without an argument (e.g. "json"). */
  long: string[];
  /** Long options with an argument (e.g. "attach"). */
  longArg: string[];
}

export interface ParsedArgs {
  /** Count of each flag given (so -ss gives s: 2). */
  count: Map<string, number>;
  /** Last value of each option with an argument. */
  value: Map<string, string>;
  operands: string[];
}

/** Parse `argv` getopt-style: options first, operands after (and after `--`). */
export function parseArgs(tool: string, argv: string[], spec: OptSpec): ParsedArgs {
  const count = new Map<string, number>();
  const value = new Map<string, string>();
  const operands: string[] = [];
  const bump = (k: string): void => {
    count.set(k, (count.get(k) ?? 0) + 1);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (spec.longArg.includes(name)) {
        let v: string | undefined = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined || v === '') throw new UsageError(`${tool}: option '--${name}' requires an argument`);
        value.set(name, v);
        v = undefined;
      } else if (spec.long.includes(name) && eq < 0) {
        bump(name);
      } else {
        throw new UsageError(`${tool}: unknown option '${a}'`);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j] as string;
        if (spec.withArg.includes(c)) {
          const rest = a.slice(j + 1);
          const v = rest !== '' ? rest : argv[++i];
          if (v === undefined) throw new UsageError(`${tool}: option '-${c}' requires an argument`);
          value.set(c, v);
          break;
        }
        if (!spec.flags.includes(c)) throw new UsageError(`${tool}: unknown option '-${c}'`);
        bump(c);
      }
      continue;
    }
    operands.push(a);
  }
  return { count, value, operands };
}

/**
 * Open the stack a tool reads: `attach` (a control socket path) if given, else `io.vnet`,
 * else a fresh default instance. The returned close() releases whatever was opened.
 */
export async function openSource(io: ToolIO, attach: string | undefined): Promise<{ src: SysctlSource; close: () => void }> {
  if (attach !== undefined) {
    const c = await connectControl(attach);
    return { src: c, close: () => c.close() };
  }
  if (io.vnet !== undefined) return { src: localControl(io.vnet), close: () => undefined };
  // A fresh instance, as a freshly booted host: lo0 with its addresses and routes.
  const { Vnet } = await import('../vnet.js');
  const V = new Vnet({ name: 'bsdnet' });
  return { src: localControl(V), close: () => V.destroy() };
}

/** The message of an error thrown by a source or a tool. */
export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Format a JSON-able value on one line (sysctl struct values, --json). */
export function jsonLine(v: unknown): string {
  return JSON.stringify(v);
}
