/**
 * The one addon loader and native-error mapper. The real addon here is ref-napi's prebuilt binary
 * (a devDependency of core, shipped for several platforms): one that loads on this machine, and
 * one built for another platform as the mismatched binary.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DatamoverError, ErrorCode, InvalidArgumentError } from '../src/errors.js';
import { addonLoader, nativeCaller, nativeError, packageInfo, prebuildPath, runtimePlatform } from '../src/native-loader.js';

const prebuilds = join(dirname(createRequire(import.meta.url).resolve('ref-napi/package.json')), 'prebuilds');
const here = join(prebuilds, `${process.platform}-${process.arch}`, 'node.napi.node');
/** A binary for another OS: Mach-O on Linux, ELF elsewhere. */
const foreign = join(prebuilds, process.platform === 'linux' ? 'darwin-x64' : 'linux-x64', 'node.napi.node');

const root = mkdtempSync(join(tmpdir(), 'dm-loader-'));
writeFileSync(join(root, 'package.json'), JSON.stringify({ name: '@datamover/backend-fake', version: '3.4.5' }));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.DATAMOVER_FAKE_ADDON;
});

interface RefAddon {
  address(buffer: unknown): number;
}

describe('addonLoader', () => {
  it('a missing binary: one message with both files looked for, the platform, Node ABI and N-API, and how to build it', () => {
    const loader = addonLoader<RefAddon>({ name: 'fake', packageRoot: root });
    expect(loader.path).toBe(join(root, 'build', 'Release', 'datamover_fake.node'));
    expect(loader.prebuild).toBe(join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'datamover_fake.node'));
    expect(loader.env).toBe('DATAMOVER_FAKE_ADDON');
    const r = loader.load();
    expect('error' in r && r.error).toContain(
      `native addon not built: no ${loader.path} nor ${loader.prebuild} for ${process.platform}-${process.arch}, Node ${process.versions.node} (ABI ${process.versions.modules}, N-API ${process.versions.napi})`,
    );
    expect('error' in r && r.error).toContain('`pnpm --filter @datamover/backend-fake build:native`');
    expect(loader.load()).toBe(r); // loaded once
  });

  it("installed in a consumer's node_modules, the advice is npm's and pnpm's rebuild, not a workspace command", () => {
    const installed = join(root, 'node_modules', '@datamover', 'backend-fake');
    mkdirSync(installed, { recursive: true });
    writeFileSync(join(installed, 'package.json'), JSON.stringify({ name: '@datamover/backend-fake', version: '3.4.5' }));
    const r = addonLoader<RefAddon>({ name: 'fake', packageRoot: installed }).load();
    expect('error' in r && r.error).toContain('`npm rebuild @datamover/backend-fake --build-from-source`, or with pnpm `pnpm approve-builds` then `pnpm rebuild @datamover/backend-fake`');
    expect('error' in r && r.error).not.toContain('--filter');
  });

  it.skipIf(!existsSync(here) || !existsSync(foreign))('the prebuilt binary loads when there is no build from source; a build from source that does not load falls through to it', () => {
    const pkg = mkdtempSync(join(tmpdir(), 'dm-prebuilt-'));
    try {
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@datamover/backend-fake', version: '1.0.0' }));
      const prebuild = prebuildPath(pkg, 'fake');
      mkdirSync(dirname(prebuild), { recursive: true });
      copyFileSync(here, prebuild);
      const alone = addonLoader<RefAddon>({ name: 'fake', packageRoot: pkg }).load();
      expect('path' in alone && alone.path).toBe(prebuild);
      expect(typeof ('addon' in alone && alone.addon.address)).toBe('function');

      mkdirSync(join(pkg, 'build', 'Release'), { recursive: true });
      copyFileSync(foreign, join(pkg, 'build', 'Release', 'datamover_fake.node'));
      const past = addonLoader<RefAddon>({ name: 'fake', packageRoot: pkg }).load();
      expect('path' in past && past.path).toBe(prebuild);
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  });

  it.skipIf(!existsSync(here) || !existsSync(foreign))('a build from source wins over the prebuilt binary; a prebuild that does not load is named in the one message', () => {
    const pkg = mkdtempSync(join(tmpdir(), 'dm-prebuilt-'));
    try {
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@datamover/backend-fake', version: '1.0.0' }));
      const prebuild = prebuildPath(pkg, 'fake');
      mkdirSync(dirname(prebuild), { recursive: true });
      copyFileSync(foreign, prebuild);
      const broken = addonLoader<RefAddon>({ name: 'fake', packageRoot: pkg }).load();
      expect('error' in broken && broken.error).toMatch(
        new RegExp(`^native addon does not load on ${process.platform}-${process.arch}, .*: ${prebuild.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not load \\(built for another platform or Node, or broken\\): .*; build it from source`),
      );

      const local = join(pkg, 'build', 'Release', 'datamover_fake.node');
      mkdirSync(dirname(local), { recursive: true });
      copyFileSync(here, local);
      const built = addonLoader<RefAddon>({ name: 'fake', packageRoot: pkg }).load();
      expect('path' in built && built.path).toBe(local);
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  });

  it('a platform the backend does not run on is named before any file is looked at', () => {
    const other = process.platform === 'linux' ? 'darwin' : 'linux';
    const r = addonLoader({ name: 'fake', packageRoot: root, requires: { platforms: [other], why: 'its kernel interfaces' } }).load();
    expect(r).toEqual({ error: `the fake backend needs ${other} (its kernel interfaces); this is ${runtimePlatform()}` });
  });

  it.skipIf(!existsSync(here))('an alternate build through DATAMOVER_<NAME>_ADDON is the one loaded', () => {
    process.env.DATAMOVER_FAKE_ADDON = here;
    const loader = addonLoader<RefAddon>({ name: 'fake', packageRoot: root });
    expect(loader.path).toBe(here);
    const r = loader.load();
    expect(r).toHaveProperty('addon');
    expect(typeof ('addon' in r && r.addon.address)).toBe('function');
  });

  it.skipIf(!existsSync(foreign))('a binary built for another platform: says so, names the variable it came from and how to rebuild', () => {
    process.env.DATAMOVER_FAKE_ADDON = foreign;
    const r = addonLoader<RefAddon>({ name: 'fake', packageRoot: root, what: 'fake engine' }).load();
    expect('error' in r && r.error).toMatch(/^fake engine does not load on linux-x64, Node .*: .*darwin-x64\/node\.napi\.node \(from DATAMOVER_FAKE_ADDON\) does not load \(built for another platform or Node, or broken\): .*invalid ELF header.*; build it from source .*with `pnpm --filter @datamover\/backend-fake build:native`/);
  });
});

describe('native errors', () => {
  const map = { backend: 'fake', label: 'fake engine', codes: { ENGINE_CLOSED: ErrorCode.MOVER_CLOSED } };

  it.skipIf(!existsSync(here))('a throw inside the addon arrives as a DatamoverError whose stack starts at the caller', () => {
    const addon = createRequire(import.meta.url)(here) as RefAddon;
    const call = nativeCaller(map);
    function registerSomething(): number {
      return call(() => addon.address(5), 'address');
    }
    let error: unknown;
    try {
      registerSomething();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatamoverError);
    const e = error as DatamoverError;
    expect(e.code).toBe(ErrorCode.DEVICE_ERROR); // the addon's error has no code: the documented default
    expect(e.message).toBe('fake engine: address: Buffer instance expected');
    expect(e.detail).toEqual({ backend: 'fake' });
    expect((e.cause as Error).message).toBe('Buffer instance expected');
    // The first frame is the backend's call, then the test that made it.
    const frames = e.stack!.split('\n').filter((l) => l.trimStart().startsWith('at '));
    expect(frames[0]).toContain('registerSomething');
    expect(e.stack).toContain('native-loader.test.ts');
  });

  it('the code an addon error carries: a core code, or one the backend maps, else DEVICE_ERROR; errno kept', () => {
    const coded = (code: string, errno?: number) => Object.assign(new Error('no'), { code, ...(errno === undefined ? {} : { errno }) });
    expect(nativeError(coded('ENGINE_CLOSED'), map).code).toBe(ErrorCode.MOVER_CLOSED);
    const oob = nativeError(coded('OUT_OF_BOUNDS', 22), map);
    expect(oob).toBeInstanceOf(InvalidArgumentError);
    expect(oob.detail).toEqual({ backend: 'fake', errno: 22 });
    expect(nativeError(coded('SOMETHING_ELSE'), map).code).toBe(ErrorCode.DEVICE_ERROR);
    expect(nativeError('a string', map).message).toBe('fake engine: a string');
    const already = new DatamoverError(ErrorCode.IO_ERROR, 'as it was');
    expect(nativeError(already, map)).toBe(already);
  });

  it('a backend reading of its own errors is tried first', () => {
    const own = new DatamoverError(ErrorCode.OUT_OF_MEMORY, 'mine');
    const seen: string[] = [];
    const withOwn = { ...map, own: (e: unknown, label: string) => (seen.push(label), (e as { code?: string }).code === 'LIB' ? own : undefined) };
    expect(nativeError(Object.assign(new Error('x'), { code: 'LIB' }), withOwn, 'cudaMalloc')).toBe(own);
    expect(nativeError(Object.assign(new Error('x'), { code: 'ENGINE_CLOSED' }), withOwn).code).toBe(ErrorCode.MOVER_CLOSED);
    expect(seen).toEqual(['fake engine: cudaMalloc', 'fake engine']);
  });
});

it('packageInfo reads the version from package.json', () => {
  expect(packageInfo(root)).toEqual({ name: '@datamover/backend-fake', version: '3.4.5' });
  expect(packageInfo(new URL('..', import.meta.url)).name).toBe('@datamover/core');
});
