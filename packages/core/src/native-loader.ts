/**
 * Backend-facing: the one way a backend package finds, loads and calls its native addon.
 *
 * A backend named `x` loads, in order, the first of these that loads here:
 * `build/Release/datamover_x.node` (a build from source: the user's explicit choice, and in a
 * checkout never shadowed by a stale prebuild) and `prebuilds/<platform>-<arch>/datamover_x.node`
 * (the N-API binary shipped in the package, one per platform for every Node version). The
 * environment variable `DATAMOVER_X_ADDON` names the one file to load instead (the sanitizer
 * builds in build-sanitize/, a debug build). A missing or mismatched binary becomes one message
 * naming the platform, Node's ABI and N-API versions, the files looked for and the command that
 * builds it from source where the package lives (a checkout, or a consumer's node_modules); an
 * error thrown by the addon becomes a DatamoverError whose stack starts at the backend's call.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatamoverError, datamoverError, ErrorCode, type ErrorDetail } from './errors.js';

/** A loaded addon and the file it came from, or why it cannot be loaded (probe() reports the reason). */
export type AddonLoad<T> = { readonly addon: T; readonly path: string } | { readonly error: string };

export interface AddonLoader<T> {
  /** Where a build from source goes (build/Release/datamover_<name>.node), or `$DATAMOVER_<NAME>_ADDON`. */
  readonly path: string;
  /** The prebuilt binary for this platform: prebuilds/<platform>-<arch>/datamover_<name>.node. */
  readonly prebuild: string;
  /** The environment variable that selects another build. */
  readonly env: string;
  /** Loads the addon once; later calls return the same answer. */
  load(): AddonLoad<T>;
}

export interface AddonSpec {
  /** The backend's short name: `soft` loads datamover_soft.node, overridden by DATAMOVER_SOFT_ADDON. */
  readonly name: string;
  /** The package's folder (holds package.json, build/ and prebuilds/), e.g. `new URL('..', import.meta.url)`. */
  readonly packageRoot: string | URL;
  /** What the addon is, for messages (default `native addon`). */
  readonly what?: string;
  /** Platforms the addon runs on, with why, e.g. `{ platforms: ['linux'], why: 'device-DAX, mmap, move_pages' }`. */
  readonly requires?: { readonly platforms: readonly NodeJS.Platform[]; readonly why: string };
}

/** The package's name and version, from its package.json. */
export function packageInfo(packageRoot: string | URL): { readonly name: string; readonly version: string } {
  const { name, version } = JSON.parse(readFileSync(join(rootPath(packageRoot), 'package.json'), 'utf8')) as { name: string; version: string };
  return { name, version };
}

/** This process's platform as a binary must match it: `linux-x64, Node 20.20.2 (ABI 115, N-API 9)`. */
export function runtimePlatform(): string {
  const v = process.versions;
  return `${process.platform}-${process.arch}, Node ${v.node} (ABI ${v.modules}, N-API ${v.napi})`;
}

/** The prebuilt binary's path inside a package: prebuilds/<platform>-<arch>/datamover_<name>.node. */
export function prebuildPath(packageRoot: string | URL, name: string): string {
  return join(rootPath(packageRoot), 'prebuilds', `${process.platform}-${process.arch}`, `datamover_${name}.node`);
}

/**
 * The command that builds package `name` from source where it lives: in a consumer's
 * node_modules, npm's or pnpm's rebuild (pnpm 10 first needs the build script approved); in a
 * checkout of the repository, the workspace's build:native.
 */
export function buildFromSource(packageRoot: string | URL, name: string): string {
  const needs = '(needs a C++17 compiler, make and Python)';
  if (rootPath(packageRoot).includes(`${sep}node_modules${sep}`)) {
    return `build it from source ${needs} with \`npm rebuild ${name} --build-from-source\`, or with pnpm \`pnpm approve-builds\` then \`pnpm rebuild ${name}\``;
  }
  return `build it from source ${needs} with \`pnpm --filter ${name} build:native\``;
}

/** The loader of one backend's addon. */
export function addonLoader<T>(spec: AddonSpec): AddonLoader<T> {
  const root = rootPath(spec.packageRoot);
  const env = `DATAMOVER_${spec.name.toUpperCase()}_ADDON`;
  const alternate = process.env[env];
  const path = alternate || join(root, 'build', 'Release', `datamover_${spec.name}.node`);
  const prebuild = prebuildPath(root, spec.name);
  const what = spec.what ?? 'native addon';
  const rebuild = () => buildFromSource(root, packageInfo(root).name);
  const candidates = alternate ? [path] : [path, prebuild];
  const named = (file: string) => (alternate ? `${file} (from ${env})` : file);
  let loaded: AddonLoad<T> | undefined;
  const load = (): AddonLoad<T> => {
    if (spec.requires && !spec.requires.platforms.includes(process.platform)) {
      return { error: `the ${spec.name} backend needs ${spec.requires.platforms.join(' or ')} (${spec.requires.why}); this is ${runtimePlatform()}` };
    }
    const failures: string[] = [];
    for (const file of candidates.filter((f) => existsSync(f))) {
      try {
        return { addon: createRequire(join(root, 'package.json'))(file) as T, path: file };
      } catch (e) {
        failures.push(`${named(file)} does not load (built for another platform or Node, or broken): ${(e as Error).message}`);
      }
    }
    if (failures.length === 0) {
      return { error: `${what} not built: no ${candidates.map(named).join(' nor ')} for ${runtimePlatform()}; ${rebuild()}` };
    }
    return { error: `${what} does not load on ${runtimePlatform()}: ${failures.join('; ')}; ${rebuild()}` };
  };
  return {
    path,
    prebuild,
    env,
    load: () => (loaded ??= load()),
  };
}

/** How one backend's native errors map onto DatamoverErrors. */
export interface NativeErrorMap {
  readonly backend: string;
  /** Prefixed to the addon's message, e.g. `soft native engine`. */
  readonly label: string;
  /** The addon's own codes that mean a core code (e.g. ENGINE_CLOSED → MOVER_CLOSED). */
  readonly codes?: Readonly<Record<string, ErrorCode>>;
  /** The backend's own reading of an error, tried first (gds: a CUDA or cuFile error keeps the library's code); `label` ends with the call's `what`. */
  readonly own?: (e: unknown, label: string) => DatamoverError | undefined;
}

/**
 * An error thrown by an addon, as a DatamoverError: `map.own`'s answer, else its `code` when that
 * is a core code or one of `map.codes`, else DEVICE_ERROR (the default for an error with no code);
 * a numeric `errno` goes to `detail`; the original is the `cause`. `what` names the failed call.
 */
export function nativeError(e: unknown, map: NativeErrorMap, what?: string): DatamoverError {
  if (e instanceof DatamoverError) return e;
  const label = what === undefined ? map.label : `${map.label}: ${what}`;
  const own = map.own?.(e, label);
  if (own) return own;
  const { code, errno, message } = (e ?? {}) as { code?: unknown; errno?: unknown; message?: unknown };
  const known = typeof code === 'string' ? (map.codes?.[code] ?? (code in ErrorCode ? (code as ErrorCode) : undefined)) : undefined;
  const detail: ErrorDetail = { backend: map.backend, ...(typeof errno === 'number' ? { errno } : {}) };
  return datamoverError(known ?? ErrorCode.DEVICE_ERROR, `${label}: ${typeof message === 'string' ? message : String(e)}`, { cause: e, detail });
}

/** A caller of the addon: runs `f`, and re-throws what it throws as nativeError() does, with the caller's stack. */
export function nativeCaller(map: NativeErrorMap): <R>(f: () => R, what?: string) => R {
  const call = <R>(f: () => R, what?: string): R => {
    try {
      return f();
    } catch (e) {
      const error = nativeError(e, map, what);
      Error.captureStackTrace(error, call);
      throw error;
    }
  };
  return call;
}

/**
 * A JavaScript callback the addon calls from its own thread (a thread-safe function): dropped once
 * `dropped()` (a call queued before close() may still arrive), and an exception it throws is
 * re-thrown from a microtask, since Node 20 swallows one thrown into a thread-safe call.
 */
export function threadCallback<A extends unknown[]>(f: (...args: A) => void, dropped: () => boolean): (...args: A) => void {
  return (...args) => {
    if (dropped()) return;
    try {
      f(...args);
    } catch (e) {
      queueMicrotask(() => {
        throw e;
      });
    }
  };
}

function rootPath(root: string | URL): string {
  return typeof root === 'string' ? root : fileURLToPath(root);
}
