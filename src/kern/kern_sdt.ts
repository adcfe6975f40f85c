/*
 * Trace probes (BSD SDT / DTrace providers): named `provider:module:function:name`.
 *
 * A probe is a small object created once by the code that fires it. Call sites test the
 * `enabled` field first, so a probe nobody listens to costs one property load:
 *
 *     if (P_STATE_CHANGE.enabled) P_STATE_CHANGE.fire(tp, oldState, newState);
 *
 * Subscriptions use DTrace-style patterns: each of the four fields may be empty (matches
 * anything) or a glob with `*`; as with `dtrace -n`, a pattern with fewer than four fields
 * names the rightmost ones ("send" is a probe name, "tcp_output:send" function:name).
 * Subscribing enables every matching probe, including probes declared later. Listeners must not throw; an exception from a listener is caught, counted
 * and the listener is removed, so tracing can never break the stack.
 */

export type ProbeListener = (probe: Probe, args: readonly unknown[]) => void;

/** A probe's arguments as JSON-able values (the probe's own encoder, else primitives only). */
export function encodeProbeArgs(p: Probe, args: readonly unknown[]): unknown[] {
  if (p.encode !== null) return p.encode(args);
  return args.map((a) => (typeof a === 'number' || typeof a === 'string' || typeof a === 'boolean' ? a : null));
}

export class Probe {
  readonly provider: string;
  readonly module: string;
  readonly func: string;
  readonly name: string;
  readonly id: string;
  /** True when at least one listener is attached: test this before fire(). */
  enabled = false;
  listeners: ProbeListener[] = [];
  /**
   * How the provider turns this probe's arguments into plain JSON values for consumers in
   * another process (`bsdnet trace --attach`); null: numbers, strings and booleans pass,
   * anything else becomes null.
   */
  encode: ((args: readonly unknown[]) => unknown[]) | null = null;
  private readonly owner: Trace;

  constructor(owner: Trace, provider: string, module: string, func: string, name: string) {
    this.owner = owner;
    this.provider = provider;
    this.module = module;
    this.func = func;
    this.name = name;
    this.id = `${provider}:${module}:${func}:${name}`;
  }

  fire(...args: unknown[]): void {
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) {
      const l = ls[i] as ProbeListener;
      try {
        l(this, args);
      } catch {
        this.owner.listenerErrors++;
        this.owner.unsubscribeListener(l);
      }
    }
  }
}

interface Subscription {
  pattern: [RegExp, RegExp, RegExp, RegExp];
  listener: ProbeListener;
}

function parsePattern(pattern: string): Subscription['pattern'] {
  const parts = pattern.split(':');
  if (parts.length > 4) throw new Error(`trace: bad probe pattern '${pattern}'`);
  while (parts.length < 4) parts.unshift('');
  return parts.map(globToRegExp) as Subscription['pattern'];
}

function globToRegExp(g: string): RegExp {
  if (g === '' || g === '*') return /^.*$/;
  return new RegExp(`^${g.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

export class Trace {
  private readonly probes = new Map<string, Probe>();
  private subs: Subscription[] = [];
  listenerErrors = 0;

  /** Declare (or fetch) a probe. */
  probe(provider: string, module: string, func: string, name: string): Probe {
    const id = `${provider}:${module}:${func}:${name}`;
    let p = this.probes.get(id);
    if (p === undefined) {
      p = new Probe(this, provider, module, func, name);
      this.probes.set(id, p);
      for (const s of this.subs) if (matches(s, p)) this.attach(p, s.listener);
    }
    return p;
  }

  /** The declared probes a pattern matches (throws on a malformed pattern). */
  match(pattern: string): Probe[] {
    const sub: Subscription = { pattern: parsePattern(pattern), listener: () => undefined };
    return this.list().filter((p) => matches(sub, p));
  }

  /** All declared probes (for `bsdnet trace -l`). */
  list(): Probe[] {
    return [...this.probes.values()];
  }

  /**
   * Listen to every probe matching `pattern` ("tcp:::state-change", "tcp:*:*:send", "::"...).
   * Returns a function that removes the subscription.
   */
  subscribe(pattern: string, listener: ProbeListener): () => void {
    const sub: Subscription = { pattern: parsePattern(pattern), listener };
    this.subs.push(sub);
    for (const p of this.probes.values()) if (matches(sub, p)) this.attach(p, listener);
    return () => this.unsubscribe(sub);
  }

  /** Remove one subscription; its listener stays on probes another of its subscriptions matches. */
  private unsubscribe(sub: Subscription): void {
    const i = this.subs.indexOf(sub);
    if (i < 0) return;
    this.subs = this.subs.filter((s) => s !== sub);
    const l = sub.listener;
    for (const p of this.probes.values()) {
      if (!matches(sub, p) || !p.listeners.includes(l)) continue;
      if (this.subs.some((s) => s.listener === l && matches(s, p))) continue;
      this.detach(p, l);
    }
  }

  /** Remove a listener from every subscription and probe. */
  unsubscribeListener(listener: ProbeListener): void {
    this.subs = this.subs.filter((s) => s.listener !== listener);
    for (const p of this.probes.values()) if (p.listeners.includes(listener)) this.detach(p, listener);
  }

  private detach(p: Probe, l: ProbeListener): void {
    p.listeners = p.listeners.filter((x) => x !== l);
    p.enabled = p.listeners.length > 0;
  }

  private attach(p: Probe, l: ProbeListener): void {
    if (!p.listeners.includes(l)) p.listeners = [...p.listeners, l];
    p.enabled = true;
  }
}

function matches(s: Subscription, p: Probe): boolean {
  const [a, b, c, d] = s.pattern;
  return a.test(p.provider) && b.test(p.module) && c.test(p.func) && d.test(p.name);
}
