/*
 * Zones: fixed-size object pools with a limit (BSD UMA, sys/vm/uma_core.c).
 *
 * A zone hands out items of one kind from a free list and takes them back; items are
 * constructed lazily up to the zone's limit and then recycled forever, so steady-state
 * traffic allocates nothing. At the limit alloc() returns null and counts a failure, which
 * the caller turns into a drop (ENOBUFS) with its own counter. The counters are what
 * `netstat -m` shows.
 */

export interface ZoneStats {
  name: string;
  /** Item size in bytes (for memory accounting). */
  size: number;
  limit: number;
  /** Items handed out and not yet returned. */
  used: number;
  /** Items constructed and sitting on the free list. */
  free: number;
  /** Successful allocations. */
  requests: number;
  /** Allocations refused at the limit. */
  fails: number;
  /** Items returned. */
  frees: number;
}

export class Zone<T> {
  readonly name: string;
  readonly size: number;
  limit: number;
  private readonly ctor: () => T;
  private readonly freeList: T[] = [];
  used = 0;
  requests = 0;
  fails = 0;
  frees = 0;

  constructor(name: string, size: number, limit: number, ctor: () => T) {
    this.name = name;
    this.size = size;
    this.limit = limit;
    this.ctor = ctor;
  }

  /** An item, or null at the limit (counted in `fails`). */
  alloc(): T | null {
    if (this.used >= this.limit) {
      this.fails++;
      return null;
    }
    this.used++;
    this.requests++;
    const f = this.freeList;
    return f.length > 0 ? (f.pop() as T) : this.ctor();
  }

  /** Return an item. The caller must not touch it afterwards. */
  free(item: T): void {
    this.used--;
    this.frees++;
    this.freeList.push(item);
  }

  /** Drop cached free items (memory pressure / uma_reclaim). */
  reclaim(): number {
    const n = this.freeList.length;
    this.freeList.length = 0;
    return n;
  }

  stats(): ZoneStats {
    return {
      name: this.name,
      size: this.size,
      limit: this.limit,
      used: this.used,
      free: this.freeList.length,
      requests: this.requests,
      fails: this.fails,
      frees: this.frees,
    };
  }
}

/** The zones of one Vnet, by name, in creation order. */
export class ZoneRegistry {
  private readonly zones = new Map<string, Zone<unknown>>();

  create<T>(name: string, size: number, limit: number, ctor: () => T): Zone<T> {
    if (this.zones.has(name)) throw new Error(`uma: zone ${name} exists`);
    const z = new Zone<T>(name, size, limit, ctor);
    this.zones.set(name, z as Zone<unknown>);
    return z;
  }

  get(name: string): Zone<unknown> | undefined {
    return this.zones.get(name);
  }

  all(): Zone<unknown>[] {
    return [...this.zones.values()];
  }
}
