/** The shapes a backend author deals with: targets, region fixtures, cases and their outcomes. */
import type { Backend, Capabilities, Mover, OperationSupport, Region, SpaceKind } from '@datamover/core';

/** The case groups, in report order. */
export const GROUPS = ['content', 'refusals', 'ordering', 'cancellation', 'lifetimes', 'load', 'faults', 'plans', 'strided'] as const;
export type Group = (typeof GROUPS)[number];

export interface FixtureOptions {
  /** Register the region read-only. */
  readOnly?: boolean;
  /**
   * Bytes of guard band to keep just before and just after the region, filled with noise the
   * suite checks afterwards (a transfer must not touch them). 0 or absent: none.
   */
  guard?: number;
  /** Page-aligned memory and offsets (what DMA engines and O_DIRECT want). */
  aligned?: boolean;
  /** Initial contents (exactly `size` bytes); zeroes when absent. */
  contents?: Uint8Array;
  /** A hint for host memory: back it with a SharedArrayBuffer (true) or an ArrayBuffer (false). */
  shared?: boolean;
}

/**
 * A region of some kind plus out-of-band access to its bytes, so the suite can seed sources and
 * check destinations without trusting the backend under test.
 */
export interface Fixture {
  readonly region: Region;
  readonly size: number;
  /** Reads `length` bytes at `offset` of the region without the Mover; a copy. */
  read(offset?: number, length?: number): Promise<Uint8Array>;
  /** Writes bytes into the region without the Mover. */
  write(data: Uint8Array, offset?: number): Promise<void>;
  /** The guard bands just outside the region (only when created with `guard`). */
  guards?(): Promise<{ before: Uint8Array; after: Uint8Array }>;
  /** Releases what the fixture holds (temp files, device memory). The region may already be released or moved. */
  dispose(): Promise<void>;
}

/** Creates regions of one kind on a Mover. */
export type KindFactory = (mover: Mover, size: number, options: FixtureOptions) => Promise<Fixture>;

export interface KindProvider {
  create: KindFactory;
  /** Largest region this kind can create cheaply (a sparse file can be huge); default 256 MiB. */
  maxCheapBytes?: number;
  /** Whether `readOnly` fixtures are supported (default true). */
  readOnly?: boolean;
}

/**
 * How a worker thread builds the same backend: a module (absolute path, file URL, or a package
 * name the worker can import), the name of an exported factory function, and its arguments
 * (structured-cloneable).
 */
export interface WorkerFactorySpec {
  readonly module: string;
  readonly export: string;
  readonly args?: readonly unknown[];
}

/** What the suite needs to test one backend. */
export interface ConformanceTarget {
  /** Name shown in reports (defaults to the backend's name). */
  readonly name?: string;
  /** Makes a fresh backend instance; called once per Mover the suite opens. */
  readonly factory: () => Backend;
  /** Lets the multi-producer case build the backend inside worker threads. Without it that case is skipped. */
  readonly worker?: WorkerFactorySpec;
  /**
   * Region factories for kinds the suite cannot create through the public API alone (dax, gpu,
   * remote), or replacements for the built-in host and file ones. A claimed kind without a
   * factory is skipped with a reason.
   */
  readonly kinds?: Partial<Record<SpaceKind, KindFactory | KindProvider>>;
  /**
   * Backends opened beside the target's in the `plans` group (e.g. soft for host and file), so
   * transfers between kinds no single backend joins form multi-hop routes. Default none.
   */
  readonly companions?: () => Backend[];
  /** Longer soaks (the sustained-load case runs 10x longer). */
  readonly long?: boolean;
  /** Scales heavy cases down, with the reason printed in the report (e.g. an engine on the JS thread). */
  readonly trim?: Trim;
  /** Seed for every random choice (default 1); the report records it. */
  readonly seed?: number;
  /** Groups to run (default all). */
  readonly groups?: readonly Group[];
  /** Directory for temp files (default the OS temp directory). */
  readonly tmpdir?: string;
}

export interface Trim {
  readonly reason: string;
  /** Largest transfer size the content cases use. */
  readonly maxSize?: number;
  /** Descriptors in the sustained-load case. */
  readonly loadDescriptors?: number;
  /** Register/deregister cycles in the leak case. */
  readonly cycles?: number;
}

/** A case: one assertion-bearing test, shared by the vitest adapter and the programmatic runner. */
export interface CaseDef {
  readonly group: Group;
  readonly name: string;
  readonly timeoutMs: number;
  /** Known before running: why this case cannot run for this backend. */
  readonly skip?: string;
  run(ctx: CaseContextApi): Promise<void>;
}

export interface OpenOptions {
  /** A different backend instance to open (e.g. a fault-injecting wrapper); default the target's factory(). */
  backend?: Backend;
  ringEntries?: number;
  /** Backends opened after it (the target's companions, in the plans group). */
  companions?: readonly Backend[];
  /** The Mover's staging pool (`Mover.open({ staging })`). */
  staging?: { bytes: number; count: number };
}

/** What a case can use. */
export interface CaseContextApi {
  readonly targetName: string;
  readonly caps: Capabilities;
  readonly long: boolean;
  readonly trim: Trim | undefined;
  readonly seed: number;
  /** A fresh backend from the target's factory. */
  backend(): Backend;
  /** Fresh instances of the target's companion backends (empty without any). */
  companions(): Backend[];
  /** Opens a Mover on the backend; closed (and checked to close) when the case ends. */
  open(options?: OpenOptions): Promise<Mover>;
  /** A region of `kind` with out-of-band access; disposed when the case ends. */
  fixture(mover: Mover, kind: SpaceKind, size: number, options?: FixtureOptions): Promise<Fixture>;
  /** Whether the suite can create regions of `kind` (built in, or given by the target). */
  hasKind(kind: SpaceKind): boolean;
  provider(kind: SpaceKind): KindProvider | undefined;
  /** Descriptors the Mover has published into its rings so far (counts what reached the engine). */
  published(mover: Mover): number;
  /** Whether the backend claims this combination. */
  claims(op: OperationSupport['op'], src: SpaceKind | null, dst: SpaceKind | null): boolean;
  /** A fresh path in this case's temp directory. */
  tempPath(name: string): string;
  readonly workerSpec: WorkerFactorySpec | undefined;
  /** Ends the case as skipped, with the reason. */
  skip(reason: string): never;
  /** Records that one check inside a passing case could not run here, and why. */
  skipCheck(what: string, reason: string): void;
  /** Adds a line to the case's report (measurements, what was trimmed). */
  note(text: string): void;
  /** A seeded random source for this case. */
  rng(salt?: string): import('./data.js').Rng;
}

export type CaseStatus = 'passed' | 'failed' | 'skipped';

export interface CaseOutcome {
  readonly group: Group;
  readonly name: string;
  readonly status: CaseStatus;
  readonly durationMs: number;
  /** Why it was skipped. */
  readonly reason?: string;
  /** Why it failed. */
  readonly error?: string;
  /** Checks inside the case that could not run here. */
  readonly skippedChecks?: readonly { what: string; reason: string }[];
  readonly notes?: readonly string[];
}
