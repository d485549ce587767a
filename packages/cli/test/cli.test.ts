/**
 * The built `datamover` command, run as a child process against real temp files. Assertions are
 * on contents and exit codes only, never on timings.
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const MiB = 1024 * 1024;

let dir: string;

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function randomFile(name: string, size: number): Buffer {
  const data = randomFillSync(Buffer.alloc(size));
  const path = join(dir, name);
  writeFileSync(path, data);
  return data;
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm build)`);
  dir = mkdtempSync(join(tmpdir(), 'datamover-cli-test-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('datamover info', () => {
  it('lists soft and soft-ts with availability, and capabilities for the available ones', () => {
    const r = run(['info']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^soft\s+(yes|no)\s/m);
    expect(r.stdout).toMatch(/^soft-ts\s+yes\s/m);
    expect(r.stdout).toContain('Capabilities of soft-ts');
    expect(r.stdout).toMatch(/copy\s+.*file → file/);
  });

  it('--json reports every known backend, with a reason when unavailable', () => {
    const r = run(['info', '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      backends: { id: string; name: string; available: boolean; reason?: string; capabilities: { operations: { op: string; src: string | null; dst: string | null }[] } | null }[];
      nativeAddon: { loaded: boolean };
    };
    const ids = report.backends.map((b) => b.id);
    expect(ids).toEqual(expect.arrayContaining(['soft', 'soft-ts']));
    for (const b of report.backends) {
      if (!b.available) expect(b.reason).toBeTruthy();
      else if (b.id.startsWith('soft')) expect(b.capabilities?.operations).toContainEqual({ op: 'copy', src: 'file', dst: 'file' });
      else expect(b.capabilities?.operations.length).toBeGreaterThan(0);
    }
    const native = report.backends.find((b) => b.id === 'soft')!;
    expect(native.available).toBe(report.nativeAddon.loaded);
  });
});

describe('datamover copy', () => {
  const length = 5 * MiB + 3;

  for (const [label, extra] of [
    ['default engine', []],
    ['ts engine', ['--engine', 'ts']],
    ['via host staging', ['--via-host']],
  ] as const) {
    it(`moves a 5 MiB + 3 byte range between offsets (${label})`, () => {
      const src = randomFile(`src-${label}.bin`, length + 5000);
      const dst = join(dir, `dst-${label}.bin`);
      const r = run(['copy', join(dir, `src-${label}.bin`), dst, '--offset', '1000', '--length', String(length), '--dst-offset', '77', '--chunk', '1MiB', ...extra]);
      expect(r.stderr).not.toMatch(/^error/m);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/copied 5\.0 MiB \(5242883 bytes\)/);
      expect(r.stdout).toMatch(/engine\)/);
      const out = readFileSync(dst);
      expect(out.length).toBe(77 + length);
      expect(out.subarray(0, 77).every((b) => b === 0)).toBe(true);
      expect(Buffer.compare(out.subarray(77), src.subarray(1000, 1000 + length))).toBe(0);
    });
  }

  it('copies a whole file by default, into an existing longer file without truncating it', () => {
    const src = randomFile('whole.bin', 3 * MiB + 1);
    const dst = join(dir, 'whole-dst.bin');
    const before = randomFile('whole-dst.bin', 4 * MiB);
    const r = run(['copy', join(dir, 'whole.bin'), dst]);
    expect(r.status).toBe(0);
    const out = readFileSync(dst);
    expect(out.length).toBe(4 * MiB);
    expect(Buffer.compare(out.subarray(0, src.length), src)).toBe(0);
    expect(Buffer.compare(out.subarray(src.length), before.subarray(src.length))).toBe(0);
  });

  it('--verify checks crc32c of both ranges', () => {
    randomFile('verify.bin', 2 * MiB + 17);
    const r = run(['copy', join(dir, 'verify.bin'), join(dir, 'verify-dst.bin'), '--verify', '--chunk', '512KiB']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/verified: crc32c 0x[0-9a-f]{8} of source and destination ranges match/);
    expect(Buffer.compare(readFileSync(join(dir, 'verify.bin')), readFileSync(join(dir, 'verify-dst.bin')))).toBe(0);
  });

  it('copies an empty range', () => {
    writeFileSync(join(dir, 'empty.bin'), Buffer.alloc(0));
    const r = run(['copy', join(dir, 'empty.bin'), join(dir, 'empty-dst.bin'), '--verify']);
    expect(r.status).toBe(0);
    expect(statSync(join(dir, 'empty-dst.bin')).size).toBe(0);
  });

  it('prints a plain final line on stderr when stderr is not a TTY', () => {
    randomFile('plain.bin', 4096);
    const r = run(['copy', join(dir, 'plain.bin'), join(dir, 'plain-dst.bin')]);
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr).toMatch(/^copy .* 4\.0 KiB in /m);
  });
});

describe('bad arguments exit 1 with a code', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['no command', () => [], /usage: datamover/],
    ['an unknown command', () => ['frobnicate'], /^error INVALID_ARGUMENT: unknown command "frobnicate"/m],
    ['copy without a destination', () => ['copy', join(dir, 'x')], /^error INVALID_ARGUMENT: copy takes a source and a destination/m],
    ['an unknown option', () => ['copy', 'a', 'b', '--bogus'], /^error INVALID_ARGUMENT: .*--bogus/m],
    ['a size that is not a size', () => ['copy', 'a', 'b', '--chunk', '12 parsecs'], /^error INVALID_SIZE: --chunk/m],
    ['a fractional byte count', () => ['copy', 'a', 'b', '--length', '1.5'], /^error INVALID_SIZE: --length/m],
    ['a chunk over 4 GiB', () => ['copy', 'a', 'b', '--chunk', '5GiB'], /^error INVALID_SIZE: --chunk must be/m],
    ['an unknown engine', () => ['copy', 'a', 'b', '--engine', 'warp'], /^error INVALID_ARGUMENT: --engine/m],
    ['a missing source file', () => ['copy', join(dir, 'does-not-exist'), join(dir, 'y')], /^error IO_ERROR: .*ENOENT/m],
    ['a range past the end of the source', () => ['copy', join(dir, 'small.bin'), join(dir, 'y'), '--length', '1MiB'], /^error OUT_OF_BOUNDS:/m],
    ['overlapping ranges of one file', () => ['copy', join(dir, 'small.bin'), join(dir, 'small.bin'), '--dst-offset', '10'], /^error OVERLAPPING_RANGES:/m],
    ['an option info does not take', () => ['info', '--fast'], /^error INVALID_ARGUMENT:/m],
    ['bench with an unknown engine', () => ['bench', '--engine', 'warp'], /^error INVALID_ARGUMENT: --engine/m],
  ];
  beforeAll(() => {
    randomFile('small.bin', 1000);
  });
  for (const [what, args, message] of cases) {
    it(what, () => {
      const r = run(args());
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain('error INTERNAL');
    });
  }

  it('leaves an overlapping destination untouched', () => {
    const before = readFileSync(join(dir, 'small.bin'));
    run(['copy', join(dir, 'small.bin'), join(dir, 'small.bin'), '--dst-offset', '10']);
    expect(Buffer.compare(readFileSync(join(dir, 'small.bin')), before)).toBe(0);
  });
});

describe('datamover explain', () => {
  it('prints a direct plan for file → file and a two-hop plan for file → dax, writing nothing', () => {
    const data = randomFile('explain-src.bin', 8192);
    writeFileSync(join(dir, 'explain-dst.bin'), Buffer.alloc(8192));
    const direct = run(['explain', join(dir, 'explain-src.bin'), `file:${join(dir, 'explain-dst.bin')}`]);
    expect(direct.status).toBe(0);
    expect(direct.stdout).toContain('1 hop(s), 0 host copy(ies)');
    expect(direct.stdout).toContain('chosen: direct: soft copies file→file itself');
    const staged = run(['explain', join(dir, 'explain-src.bin'), `dax:${join(dir, 'explain-dst.bin')}`]);
    expect(staged.status).toBe(0);
    expect(staged.stdout).toMatch(/hop 1: soft: file .* → host \(staging\), 8192 bytes, stages through host\n {2}hop 2: cxl: host \(staging\) → dax/);
    expect(staged.stdout).toContain('file→dax direct: soft copies no file→dax');
    expect(readFileSync(join(dir, 'explain-dst.bin'))).toEqual(Buffer.alloc(8192));
    expect(readFileSync(join(dir, 'explain-src.bin'))).toEqual(data);
  });

  it('refuses an end it cannot name', () => {
    const r = run(['explain', 'gpu:0', 'host:16']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error INVALID_ARGUMENT: source "gpu:0"/);
  });
});

describe('datamover demo', () => {
  it('runs every check on every available backend, exits 0 and removes its temp files', () => {
    const tmp = join(dir, 'demo-tmp');
    mkdirSync(tmp);
    const r = run(['demo'], { TMPDIR: tmp });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^soft-ts\s+yes/m);
    expect(r.stdout).not.toMatch(/\bFAIL\b/);
    for (const step of ['fill', 'copy', 'compare', 'crc32c', 'write-immediate', 'copy 64 MiB', 'file round trip', 'batch 10,000 copies']) {
      expect(r.stdout).toContain(step);
    }
    expect(r.stdout).toMatch(/all checks passed on \d backend\(s\)/);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('help', () => {
  it('prints usage and exits 0', () => {
    const r = run(['help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('datamover copy <src> <dst>');
  });
});
