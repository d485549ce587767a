import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The lab/ folder (this file is lab/dist/util.js once built). */
export const LAB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Cache (kernel, initramfs, KVM probe result) and per-run work folders, both inside lab/. */
export function cacheDir(): string {
  return process.env['LAB_CACHE_DIR'] ? resolve(process.env['LAB_CACHE_DIR']) : join(LAB_DIR, '.cache');
}
export function workRoot(): string {
  return join(LAB_DIR, '.work');
}

/**
 * A failure the user must act on (a missing package, no permission, a guest that did not boot).
 * `unavailable` marks "QEMU cannot run on this machine at all": test suites skip on it.
 */
export class LabError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
    readonly unavailable = false,
  ) {
    super(message);
    this.name = 'LabError';
  }
}

let verbose = false;
export function setVerbose(v: boolean): void {
  verbose = v;
}
export function isVerbose(): boolean {
  return verbose;
}

/** Progress and diagnostics go to stderr so the command's own output stays clean on stdout. */
export function info(msg: string): void {
  process.stderr.write(`lab: ${msg}\n`);
}
export function debug(msg: string): void {
  if (verbose) process.stderr.write(`lab: ${msg}\n`);
}

/** Runs a program to completion; throws a LabError naming the command when it fails. */
export function run(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): string {
  debug(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new LabError(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${String(r.stdout ?? '')}${String(r.stderr ?? '')}`.trim();
    throw new LabError(`${[cmd, ...args].join(' ')} failed (exit ${r.status ?? r.signal})`, out.slice(-4000));
  }
  return String(r.stdout ?? '');
}

/** Like run() but streams output to stderr (long installs and downloads). */
export function runStreaming(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<void> {
  debug(`$ ${[cmd, ...args].join(' ')}`);
  return new Promise((resolveP, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let tail = '';
    const keep = (b: Buffer): void => {
      tail = (tail + b.toString('utf8')).slice(-4000);
      if (verbose) process.stderr.write(b);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e) => reject(new LabError(`cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code, sig) => {
      if (code === 0) resolveP();
      else reject(new LabError(`${[cmd, ...args].join(' ')} failed (exit ${code ?? sig})`, tail.trim()));
    });
  });
}

/** Finds an executable on PATH (plus the sbin folders, which a non-root PATH may lack). */
export function which(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function fileExists(p: string): boolean {
  return existsSync(p);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Single-quotes a string for POSIX sh. */
export function shQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
