/**
 * The memory-registration cache. ibv_reg_mr pins pages and costs microseconds to milliseconds per
 * call (registration cost is the first complaint in NIXL's and UCX's trackers), so local regions
 * reuse registrations: the cache keys by allocation (the ArrayBuffer or SharedArrayBuffer behind
 * a view) and byte range, and a region whose bytes lie inside an existing registration of the same
 * allocation reuses it. Unreferenced registrations stay cached (bounded by count and bytes, least
 * recently used first out) and are dropped when a larger registration covers them.
 *
 * Pure TypeScript over two callbacks, so the logic is tested without a NIC.
 */

export interface CacheStats {
  /** ibv_reg_mr calls made. */
  registrations: number;
  /** Acquisitions answered by an existing registration. */
  hits: number;
  /** Bytes passed to ibv_reg_mr, in total. */
  bytesRegistered: number;
  /** Bytes registered now (cached or in use). */
  liveBytes: number;
  /** Time spent in ibv_reg_mr, milliseconds. */
  registrationMs: number;
  deregistrations: number;
}

export interface CacheEntry<M> {
  readonly allocation: object;
  /** Byte range inside the allocation. */
  readonly start: number;
  readonly end: number;
  readonly mr: M;
  refs: number;
  lastUse: number;
}

export interface CacheOptions<M> {
  /** Registers [offset, offset + length) of `allocation` (a view over exactly those bytes). */
  register(view: Uint8Array): M;
  /** Drops a registration no region uses. */
  deregister(mr: M): void;
  /** Unreferenced registrations kept at most (default 64). */
  maxIdle?: number;
  /** Unreferenced bytes kept at most (default 256 MiB). */
  maxIdleBytes?: number;
}

export class RegistrationCache<M> {
  readonly #byAllocation = new Map<object, CacheEntry<M>[]>();
  readonly #opts: Required<CacheOptions<M>>;
  #clock = 0;
  readonly stats: CacheStats = { registrations: 0, hits: 0, bytesRegistered: 0, liveBytes: 0, registrationMs: 0, deregistrations: 0 };

  constructor(options: CacheOptions<M>) {
    this.#opts = { maxIdle: 64, maxIdleBytes: 256 * 2 ** 20, ...options };
  }

  /** A registration covering `view`'s bytes: an existing one (a hit) or a new one. */
  acquire(view: Uint8Array): { entry: CacheEntry<M>; hit: boolean } {
    const allocation = view.buffer as object;
    const start = view.byteOffset;
    const end = start + view.byteLength;
    const list = this.#byAllocation.get(allocation) ?? [];
    // Smallest covering registration: keeps large ones free to be evicted when idle.
    let best: CacheEntry<M> | undefined;
    for (const e of list) if (e.start <= start && end <= e.end && (!best || e.end - e.start < best.end - best.start)) best = e;
    if (best) {
      best.refs++;
      best.lastUse = ++this.#clock;
      this.stats.hits++;
      return { entry: best, hit: true };
    }
    const t0 = performance.now();
    const mr = this.#opts.register(view);
    this.stats.registrationMs += performance.now() - t0;
    this.stats.registrations++;
    this.stats.bytesRegistered += end - start;
    this.stats.liveBytes += end - start;
    const entry: CacheEntry<M> = { allocation, start, end, mr, refs: 1, lastUse: ++this.#clock };
    // Idle registrations the new one covers are redundant now.
    const keep: CacheEntry<M>[] = [];
    for (const e of list) {
      if (e.refs === 0 && start <= e.start && e.end <= end) this.#drop(e);
      else keep.push(e);
    }
    keep.push(entry);
    this.#byAllocation.set(allocation, keep);
    return { entry, hit: false };
  }

  /** Gives back one reference; idle registrations beyond the limits are deregistered. */
  release(entry: CacheEntry<M>): void {
    if (entry.refs <= 0) throw new Error('registration cache: release without acquire');
    entry.refs--;
    if (entry.refs === 0) this.trim();
  }

  /** Deregisters idle registrations until the limits hold (all of them with `all`). */
  trim(all = false): void {
    const idle = [...this.#entries()].filter((e) => e.refs === 0).sort((a, b) => a.lastUse - b.lastUse);
    let bytes = idle.reduce((n, e) => n + (e.end - e.start), 0);
    let count = idle.length;
    for (const e of idle) {
      if (!all && count <= this.#opts.maxIdle && bytes <= this.#opts.maxIdleBytes) break;
      this.#remove(e);
      count--;
      bytes -= e.end - e.start;
    }
  }

  /** Registrations held now. */
  get size(): number {
    let n = 0;
    for (const l of this.#byAllocation.values()) n += l.length;
    return n;
  }

  /** Deregisters everything (the engine is closing); entries still referenced are dropped too. */
  clear(): void {
    for (const e of [...this.#entries()]) this.#remove(e);
  }

  *#entries(): Iterable<CacheEntry<M>> {
    for (const l of this.#byAllocation.values()) yield* l;
  }

  #remove(e: CacheEntry<M>): void {
    const list = this.#byAllocation.get(e.allocation);
    if (list) {
      const i = list.indexOf(e);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#byAllocation.delete(e.allocation);
    }
    this.#drop(e);
  }

  #drop(e: CacheEntry<M>): void {
    this.stats.liveBytes -= e.end - e.start;
    this.stats.deregistrations++;
    this.#opts.deregister(e.mr);
  }
}
