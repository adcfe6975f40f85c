/*
 * sysctl: the per-Vnet MIB tree (BSD kern_sysctl.c).
 *
 * Every tunable and every statistic of a stack instance is a node here, declared by the code
 * that owns the variable (next to it, BSD style). Nodes are typed:
 *   - int (with an inclusive range), bool, string: values read and written through accessors
 *     bound to the owning module's state, so hot paths read plain fields, never the tree;
 *   - struct (opaque): a read-only snapshot (statistics blocks, PCB lists, tables), returned
 *     as a JSON-able value;
 *   - action: writing a value runs a function (net.inet.tcp.hostcache.purgenow);
 *   - node: an interior node.
 * Each node has an OID number (assigned in registration order under its parent, with the BSD
 * numbers for the top levels), and list() walks the tree in OID order, which is `sysctl -a`
 * order. Setting a bad value is refused with a SysctlError (ENOENT, EPERM, EINVAL) and
 * changes nothing.
 *
 * The tree is the only window the tools (netstat, sysctl) have on a stack, locally or over
 * the control channel, so every value must be serialisable: numbers, booleans, strings and
 * plain objects/arrays of those.
 */

export type SysctlKind = 'node' | 'int' | 'bool' | 'string' | 'struct' | 'action';

/** Value types that cross the sysctl boundary. */
export type SysctlValue = number | boolean | string | SysctlStruct;
export type SysctlStruct = { [k: string]: SysctlJson } | SysctlJson[];
export type SysctlJson = number | boolean | string | null | SysctlJson[] | { [k: string]: SysctlJson };

export const CTLFLAG_RD = 0x1;
export const CTLFLAG_WR = 0x2;
export const CTLFLAG_RW = CTLFLAG_RD | CTLFLAG_WR;
/** Only settable before the instance starts carrying traffic (boot tunable); still RW here. */
export const CTLFLAG_TUN = 0x4;
/** Skip in `sysctl -a` (like CTLFLAG_SKIP). */
export const CTLFLAG_SKIP = 0x8;

export class SysctlError extends Error {
  readonly code: 'ENOENT' | 'EPERM' | 'EINVAL' | 'EISDIR' | 'EEXIST';
  readonly sysctl: string;
  constructor(code: SysctlError['code'], name: string, message: string) {
    super(`sysctl ${name}: ${message}`);
    this.name = 'SysctlError';
    this.code = code;
    this.sysctl = name;
  }
}

export interface SysctlNodeInfo {
  name: string;
  oid: number[];
  kind: SysctlKind;
  descr: string;
  writable: boolean;
  /** BSD format string: I (int), IU (unsigned), Q (64-bit counter), A (string), S,<type> (struct), N (node). */
  fmt: string;
  min?: number;
  max?: number;
}

interface Accessor<T> {
  get(): T;
  set?(v: T): void;
}

export class SysctlNode {
  readonly name: string; // last component
  readonly fullName: string;
  readonly number: number;
  readonly kind: SysctlKind;
  descr: string;
  flags: number;
  fmt: string;
  min = -Infinity;
  max = Infinity;
  readonly parent: SysctlNode | null;
  readonly children = new Map<string, SysctlNode>();
  nextChildNumber = 100; // dynamically assigned OIDs start here (OID_AUTO)
  getter: (() => SysctlValue) | null = null;
  setter: ((v: SysctlValue) => void) | null = null;

  constructor(parent: SysctlNode | null, name: string, num: number, kind: SysctlKind, descr: string, flags: number, fmt: string) {
    this.parent = parent;
    this.name = name;
    this.fullName = parent?.fullName ? `${parent.fullName}.${name}` : name;
    this.number = num;
    this.kind = kind;
    this.descr = descr;
    this.flags = flags;
    this.fmt = fmt;
  }

  get writable(): boolean {
    return (this.flags & CTLFLAG_WR) !== 0;
  }

  oid(): number[] {
    const out: number[] = [];
    for (let n: SysctlNode | null = this; n?.parent; n = n.parent) out.unshift(n.number);
    return out;
  }

  info(): SysctlNodeInfo {
    const i: SysctlNodeInfo = {
      name: this.fullName,
      oid: this.oid(),
      kind: this.kind,
      descr: this.descr,
      writable: this.writable,
      fmt: this.fmt,
    };
    if (this.kind === 'int') {
      i.min = this.min;
      i.max = this.max;
    }
    return i;
  }
}

/** Well-known top-level OIDs (sys/sysctl.h). */
const TOP_OIDS: Record<string, number> = { kern: 1, vm: 2, vfs: 3, net: 4, debug: 5, hw: 6, machdep: 7, user: 8, p1003_1b: 9, security: 10 };

export interface IntOpts {
  descr: string;
  min?: number;
  max?: number;
  /** Read-only (CTLFLAG_RD). */
  readonly?: boolean;
  /** Called after a successful set (e.g. to resize a table). May throw SysctlError to refuse. */
  onChange?: (v: number) => void;
  /** Extra validation; return an error message to refuse. */
  check?: (v: number) => string | null;
  unsigned?: boolean;
  /** Counter-style 64-bit (fmt Q). */
  counter?: boolean;
  oid?: number;
}

export interface BoolOpts {
  descr: string;
  readonly?: boolean;
  onChange?: (v: boolean) => void;
  oid?: number;
}

export interface StringOpts {
  descr: string;
  readonly?: boolean;
  check?: (v: string) => string | null;
  onChange?: (v: string) => void;
  oid?: number;
}

/** Bind a sysctl to `obj[key]` (a plain field of a module's per-Vnet state). */
export function field<O extends object, K extends keyof O>(obj: O, key: K): Accessor<O[K]> {
  return {
    get: () => obj[key],
    set: (v: O[K]) => {
      obj[key] = v;
    },
  };
}

export class Sysctl {
  readonly root = new SysctlNode(null, '', 0, 'node', 'root', CTLFLAG_RD, 'N');

  /** Find a node by dotted name; undefined if absent. */
  find(name: string): SysctlNode | undefined {
    if (name === '') return this.root;
    let n: SysctlNode | undefined = this.root;
    for (const part of name.split('.')) {
      n = n.children.get(part);
      if (n === undefined) return undefined;
    }
    return n;
  }

  /** Create interior nodes as needed and return the parent of `name`'s leaf. */
  private parentOf(name: string): { parent: SysctlNode; leaf: string } {
    if (!/^[A-Za-z0-9_%-]+(\.[A-Za-z0-9_%-]+)*$/.test(name)) throw new SysctlError('EINVAL', name, 'bad sysctl name');
    const parts = name.split('.');
    const leaf = parts.pop() as string;
    let n = this.root;
    for (const p of parts) {
      let c = n.children.get(p);
      if (c === undefined) {
        const num = n === this.root && TOP_OIDS[p] !== undefined ? (TOP_OIDS[p] as number) : n.nextChildNumber++;
        c = new SysctlNode(n, p, num, 'node', '', CTLFLAG_RD, 'N');
        n.children.set(p, c);
      } else if (c.kind !== 'node') {
        throw new SysctlError('EEXIST', name, `${c.fullName} is not a node`);
      }
      n = c;
    }
    if (n.children.has(leaf)) throw new SysctlError('EEXIST', name, 'already registered');
    return { parent: n, leaf };
  }

  private add(name: string, kind: SysctlKind, descr: string, flags: number, fmt: string, oid?: number): SysctlNode {
    const { parent, leaf } = this.parentOf(name);
    // Top-level names keep their BSD numbers whether declared explicitly or implied.
    const top = parent === this.root ? TOP_OIDS[leaf] : undefined;
    const num = oid ?? top ?? parent.nextChildNumber++;
    const node = new SysctlNode(parent, leaf, num, kind, descr, flags, fmt);
    parent.children.set(leaf, node);
    return node;
  }

  /** Declare (or describe) an interior node. */
  node(name: string, descr: string): SysctlNode {
    const n = this.find(name);
    if (n) {
      if (n.kind !== 'node') throw new SysctlError('EEXIST', name, 'not a node');
      n.descr = descr;
      return n;
    }
    return this.add(name, 'node', descr, CTLFLAG_RD, 'N');
  }

  /** An integer with an inclusive range. */
  int(name: string, acc: Accessor<number>, opts: IntOpts): SysctlNode {
    const writable = !opts.readonly && acc.set !== undefined;
    const fmt = opts.counter ? 'Q' : opts.unsigned ? 'IU' : 'I';
    const n = this.add(name, 'int', opts.descr, writable ? CTLFLAG_RW : CTLFLAG_RD, fmt, opts.oid);
    n.min = opts.min ?? (opts.unsigned || opts.counter ? 0 : -(2 ** 31));
    n.max = opts.max ?? (opts.counter ? Number.MAX_SAFE_INTEGER : opts.unsigned ? 2 ** 32 - 1 : 2 ** 31 - 1);
    n.getter = acc.get;
    if (writable) {
      const set = acc.set as (v: number) => void;
      n.setter = (v) => {
        const num = v as number;
        const msg = opts.check?.(num) ?? null;
        if (msg !== null) throw new SysctlError('EINVAL', name, msg);
        const old = acc.get();
        set(num);
        if (opts.onChange) {
          try {
            opts.onChange(num);
          } catch (e) {
            set(old);
            throw e;
          }
        }
      };
    }
    return n;
  }

  bool(name: string, acc: Accessor<boolean>, opts: BoolOpts): SysctlNode {
    const writable = !opts.readonly && acc.set !== undefined;
    const n = this.add(name, 'bool', opts.descr, writable ? CTLFLAG_RW : CTLFLAG_RD, 'I', opts.oid);
    n.min = 0;
    n.max = 1;
    n.getter = acc.get;
    if (writable) {
      const set = acc.set as (v: boolean) => void;
      n.setter = (v) => {
        const old = acc.get();
        set(v as boolean);
        if (opts.onChange) {
          try {
            opts.onChange(v as boolean);
          } catch (e) {
            set(old);
            throw e;
          }
        }
      };
    }
    return n;
  }

  string(name: string, acc: Accessor<string>, opts: StringOpts): SysctlNode {
    const writable = !opts.readonly && acc.set !== undefined;
    const n = this.add(name, 'string', opts.descr, writable ? CTLFLAG_RW : CTLFLAG_RD, 'A', opts.oid);
    n.getter = acc.get;
    if (writable) {
      const set = acc.set as (v: string) => void;
      n.setter = (v) => {
        const s = v as string;
        const msg = opts.check?.(s) ?? null;
        if (msg !== null) throw new SysctlError('EINVAL', name, msg);
        const old = acc.get();
        set(s);
        if (opts.onChange) {
          try {
            opts.onChange(s);
          } catch (e) {
            set(old);
            throw e;
          }
        }
      };
    }
    return n;
  }

  /** A read-only structured value (fmt "S,<type>"), e.g. net.inet.tcp.stats. */
  struct(name: string, get: () => SysctlStruct, opts: { descr: string; type: string; skip?: boolean }): SysctlNode {
    const n = this.add(name, 'struct', opts.descr, CTLFLAG_RD | (opts.skip ? CTLFLAG_SKIP : 0), `S,${opts.type}`);
    n.getter = get;
    return n;
  }

  /** Writing any value runs `fn(value)`; reading returns 0. */
  action(name: string, fn: (v: number) => void, opts: { descr: string }): SysctlNode {
    const n = this.add(name, 'action', opts.descr, CTLFLAG_RW, 'I');
    n.getter = () => 0;
    n.setter = (v) => fn(v as number);
    return n;
  }

  /** Remove a node and everything under it (module unload, interface detach). */
  remove(name: string): boolean {
    const n = this.find(name);
    if (!n?.parent) return false;
    n.parent.children.delete(n.name);
    return true;
  }

  private leaf(name: string): SysctlNode {
    const n = this.find(name);
    if (n === undefined) throw new SysctlError('ENOENT', name, 'unknown oid');
    return n;
  }

  /** Read a leaf. Interior nodes are refused with EISDIR. */
  get(name: string): SysctlValue {
    const n = this.leaf(name);
    if (n.kind === 'node' || n.getter === null) throw new SysctlError('EISDIR', name, 'is a node');
    return n.getter();
  }

  /**
   * Set a leaf from a typed value or from its text form (as typed on a command line).
   * Refuses unknown names (ENOENT), read-only nodes (EPERM), and bad or out-of-range values
   * (EINVAL); a refused set changes nothing. Returns the old value.
   */
  set(name: string, value: SysctlValue | string): SysctlValue {
    const n = this.leaf(name);
    if (n.kind === 'node') throw new SysctlError('EISDIR', name, 'is a node');
    if (!n.writable || n.setter === null) throw new SysctlError('EPERM', name, 'read-only');
    const old = n.getter ? n.getter() : 0;
    switch (n.kind) {
      case 'int':
      case 'action': {
        const v = parseIntValue(value);
        if (v === null) throw new SysctlError('EINVAL', name, `invalid integer '${String(value)}'`);
        if (n.kind === 'int' && (v < n.min || v > n.max)) {
          throw new SysctlError('EINVAL', name, `value ${v} out of range [${n.min}, ${n.max}]`);
        }
        n.setter(v);
        break;
      }
      case 'bool': {
        const v = parseBoolValue(value);
        if (v === null) throw new SysctlError('EINVAL', name, `invalid boolean '${String(value)}' (use 0 or 1)`);
        n.setter(v);
        break;
      }
      case 'string': {
        if (typeof value !== 'string') throw new SysctlError('EINVAL', name, 'expected a string');
        n.setter(value);
        break;
      }
      default:
        throw new SysctlError('EPERM', name, 'read-only');
    }
    return old;
  }

  /** Describe a node. */
  describe(name: string): SysctlNodeInfo {
    return this.leaf(name).info();
  }

  /**
   * Leaves under `prefix` (or everything) in OID order: the `sysctl -a` walk. Nodes flagged
   * SKIP are included only when named directly as the prefix or `all` is set.
   */
  list(prefix = '', opts: { all?: boolean } = {}): SysctlNode[] {
    const start = this.leaf(prefix);
    const out: SysctlNode[] = [];
    const walk = (n: SysctlNode): void => {
      if (n.kind !== 'node') {
        if (n === start || opts.all || !(n.flags & CTLFLAG_SKIP)) out.push(n);
        return;
      }
      const kids = [...n.children.values()].sort((a, b) => a.number - b.number);
      for (const c of kids) walk(c);
    };
    walk(start);
    return out;
  }
}

function parseIntValue(v: SysctlValue | string): number | null {
  if (typeof v === 'number') return Number.isInteger(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (!/^[-+]?(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(s)) return null;
  const neg = s.startsWith('-');
  const body = s.replace(/^[-+]/, '');
  const n = body.startsWith('0x') || body.startsWith('0X') ? Number.parseInt(body, 16) : Number.parseInt(body, 10);
  if (!Number.isSafeInteger(n)) return null;
  return neg ? -n : n;
}

function parseBoolValue(v: SysctlValue | string): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 0 ? false : v === 1 ? true : null;
  if (typeof v !== 'string') return null;
  const s = v.trim().toLowerCase();
  if (s === '1' || s === 'true' || s === 'on' || s === 'yes') return true;
  if (s === '0' || s === 'false' || s === 'off' || s === 'no') return false;
  return null;
}
