/**
 * Runs one case: builds its context (Movers, fixtures, temp directory, seeded randomness),
 * enforces its time limit, cleans up and checks that every Mover it opened closes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mover, type Backend, type Capabilities, type OperationSupport, type Ring, type SpaceKind } from '@datamover/core';
import { CaseSkipped, ConformanceFailure, describeError, within } from './check.js';
import { hash32, Rng } from './data.js';
import { fileProvider, hostProvider } from './fixtures.js';
import type { CaseContextApi, CaseDef, CaseOutcome, ConformanceTarget, Fixture, FixtureOptions, KindFactory, KindProvider, OpenOptions, Trim, WorkerFactorySpec } from './types.js';

/** A target with its capabilities read and its kind providers resolved. */
export interface ResolvedTarget {
  readonly name: string;
  readonly target: ConformanceTarget;
  readonly caps: Capabilities;
  readonly providers: ReadonlyMap<SpaceKind, KindProvider>;
  readonly seed: number;
}

export function resolveTarget(target: ConformanceTarget): ResolvedTarget {
  const probe = target.factory();
  const caps = probe.capabilities();
  const providers = new Map<SpaceKind, KindProvider>();
  providers.set('host', hostProvider);
  providers.set('file', fileProvider(() => currentTmp()));
  for (const [kind, p] of Object.entries(target.kinds ?? {}) as [SpaceKind, KindFactory | KindProvider | undefined][]) {
    if (p) providers.set(kind, typeof p === 'function' ? { create: p } : p);
  }
  return { name: target.name ?? probe.name, target, caps, providers, seed: target.seed ?? 1 };
}

/** Temp directory of the running case (file fixtures are created there). */
let activeTmp: string | undefined;
function currentTmp(): string {
  if (!activeTmp) throw new Error('conformance: a file fixture was created outside a case');
  return activeTmp;
}

class Context implements CaseContextApi {
  readonly #rt: ResolvedTarget;
  readonly #movers: Mover[] = [];
  readonly #rings = new WeakMap<Mover, Ring[]>();
  readonly #fixtures: Fixture[] = [];
  readonly #tmp: string;
  readonly skipped: { what: string; reason: string }[] = [];
  readonly notes: string[] = [];
  #files = 0;

  constructor(
    rt: ResolvedTarget,
    readonly caseName: string,
    tmp: string,
  ) {
    this.#rt = rt;
    this.#tmp = tmp;
  }

  get targetName(): string {
    return this.#rt.name;
  }
  get caps(): Capabilities {
    return this.#rt.caps;
  }
  get long(): boolean {
    return this.#rt.target.long ?? false;
  }
  get trim(): Trim | undefined {
    return this.#rt.target.trim;
  }
  get seed(): number {
    return this.#rt.seed;
  }
  get workerSpec(): WorkerFactorySpec | undefined {
    return this.#rt.target.worker;
  }

  backend(): Backend {
    return this.#rt.target.factory();
  }
  companions(): Backend[] {
    return this.#rt.target.companions?.() ?? [];
  }

  async open(options: OpenOptions = {}): Promise<Mover> {
    const inner = options.backend ?? this.backend();
    const rings: Ring[] = [];
    // A pass-through spy: it only records the rings the Mover creates, to count what reached the engine.
    const spy: Backend = {
      name: inner.name,
      version: inner.version,
      kind: inner.kind,
      ...(inner.ringEntries === undefined ? {} : { ringEntries: inner.ringEntries }),
      probe: () => inner.probe(),
      capabilities: () => inner.capabilities(),
      open: (ring, onProgress) => {
        rings.push(ring);
        return inner.open(ring, onProgress);
      },
    };
    const m = await Mover.open({
      backends: [spy, ...(options.companions ?? [])],
      ...(options.ringEntries === undefined ? {} : { ringEntries: options.ringEntries }),
      ...(options.staging === undefined ? {} : { staging: options.staging }),
    });
    this.#rings.set(m, rings);
    this.#movers.push(m);
    return m;
  }

  published(m: Mover): number {
    return (this.#rings.get(m) ?? []).reduce((n, r) => n + r.writeIndex, 0);
  }

  async fixture(m: Mover, kind: SpaceKind, size: number, options: FixtureOptions = {}): Promise<Fixture> {
    const p = this.#rt.providers.get(kind);
    if (!p) this.skip(`no region factory for kind '${kind}' (pass kinds.${kind} to the suite)`);
    const f = await p.create(m, size, options);
    this.#fixtures.push(f);
    return f;
  }

  hasKind(kind: SpaceKind): boolean {
    return this.#rt.providers.has(kind);
  }
  provider(kind: SpaceKind): KindProvider | undefined {
    return this.#rt.providers.get(kind);
  }

  claims(op: OperationSupport['op'], src: SpaceKind | null, dst: SpaceKind | null): boolean {
    return this.caps.operations.some((o) => o.op === op && o.src === src && o.dst === dst);
  }

  tempPath(name: string): string {
    return join(this.#tmp, `${this.#files++}-${name}`);
  }

  skip(reason: string): never {
    throw new CaseSkipped(reason);
  }
  skipCheck(what: string, reason: string): void {
    if (!this.skipped.some((s) => s.what === what && s.reason === reason)) this.skipped.push({ what, reason });
  }
  note(text: string): void {
    this.notes.push(text);
  }
  rng(salt = ''): Rng {
    return new Rng(hash32(`${this.#rt.seed}:${this.caseName}:${salt}`));
  }

  /** Disposes fixtures and closes every Mover; a close that hangs is a failure. */
  async cleanup(): Promise<string | undefined> {
    let problem: string | undefined;
    for (const m of this.#movers) {
      try {
        await within(m.close(), 20_000, 'Mover.close() after the case');
      } catch (e) {
        problem ??= describeError(e);
      }
    }
    for (const f of this.#fixtures) {
      try {
        await f.dispose();
      } catch (e) {
        problem ??= `fixture dispose: ${describeError(e)}`;
      }
    }
    return problem;
  }
}

/**
 * Runs one case to an outcome. Never throws: failures, skips, timeouts and cleanup problems
 * all become the outcome.
 */
export async function runCase(rt: ResolvedTarget, c: CaseDef): Promise<CaseOutcome> {
  const t0 = performance.now();
  const base = { group: c.group, name: c.name };
  if (c.skip) return { ...base, status: 'skipped', durationMs: 0, reason: c.skip };
  const tmp = mkdtempSync(join(rt.target.tmpdir ?? tmpdir(), 'dm-conformance-'));
  activeTmp = tmp;
  const ctx = new Context(rt, c.name, tmp);
  let status: CaseOutcome['status'] = 'passed';
  let reason: string | undefined;
  let error: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConformanceFailure(`timed out after ${c.timeoutMs} ms`)), c.timeoutMs);
    });
    await Promise.race([c.run(ctx), limit]);
  } catch (e) {
    if (e instanceof CaseSkipped) {
      status = 'skipped';
      reason = e.reason;
    } else {
      status = 'failed';
      error = formatError(e);
    }
  } finally {
    clearTimeout(timer);
  }
  const problem = await ctx.cleanup();
  if (problem && status !== 'failed') {
    status = 'failed';
    error = `cleanup: ${problem}`;
  }
  activeTmp = undefined;
  rmSync(tmp, { recursive: true, force: true });
  return {
    ...base,
    status,
    durationMs: Math.round(performance.now() - t0),
    ...(reason === undefined ? {} : { reason }),
    ...(error === undefined ? {} : { error }),
    ...(ctx.skipped.length ? { skippedChecks: ctx.skipped } : {}),
    ...(ctx.notes.length ? { notes: ctx.notes } : {}),
  };
}

function formatError(e: unknown): string {
  const head = describeError(e);
  const cause = (e as { cause?: unknown } | undefined)?.cause;
  const stack = e instanceof Error && !(e instanceof ConformanceFailure) ? `\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}` : '';
  return cause === undefined ? `${head}${stack}` : `${head} [cause: ${describeError(cause)}]${stack}`;
}
