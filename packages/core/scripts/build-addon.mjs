// Builds a backend's native addon with node-gyp: the one build script every backend package
// runs from its own scripts/build-native.mjs (install, build:native).
//   flags: --debug, --sanitize (AddressSanitizer + UndefinedBehaviorSanitizer, built in
//   build-sanitize/ beside the normal build, which it never touches), --optional (install: skips
//   the build when the package's prebuilt binary for this platform loads, unless
//   `--build-from-source` / npm_config_build_from_source asks for one; a failed build exits 0 so
//   the package still installs and its probe() says why), --prebuild (pack: copies the fresh
//   build into prebuilds/<platform>-<arch>/, the file core's addonLoader looks for).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

const FLAGS = ['--debug', '--sanitize', '--optional', '--prebuild'];

/**
 * The sanitizer build's compiler and linker flags (also the gds tests' CPU mock of libcufile):
 * every undefined behaviour is fatal, and frame pointers give whole stacks. Node itself is not
 * instrumented, so a process loading such a build preloads libasan and libubsan (.ci/sanitized).
 */
export const SANITIZE_FLAGS = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer'];

/** node-gyp from PATH (pnpm/npm put one there when running package scripts), else the package's own. */
function findNodeGyp(packageDir) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'node-gyp');
    try {
      accessSync(candidate, constants.X_OK);
      return { command: candidate, prefix: [] };
    } catch {
      // not in this directory
    }
  }
  try {
    const script = createRequire(join(packageDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
    return { command: process.execPath, prefix: [script] };
  } catch {
    return undefined;
  }
}

/**
 * node-gyp always builds in ./build, so a sanitizer build runs in build-sanitize/, which links
 * binding.gyp and native/ from the package: the normal build/ is left as it was.
 */
function sanitizeDir(packageDir) {
  const dir = join(packageDir, 'build-sanitize');
  mkdirSync(dir, { recursive: true });
  for (const entry of ['binding.gyp', 'native']) {
    if (!existsSync(join(dir, entry))) symlinkSync(join('..', entry), join(dir, entry));
  }
  return dir;
}

/** The package's prebuilds/<platform>-<arch>/ folder. */
function prebuildDir(packageDir) {
  return join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`);
}

/** True when the package ships a binary for this platform and every one of them loads in this Node. */
function prebuildLoads(packageDir) {
  const dir = prebuildDir(packageDir);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  const load = createRequire(join(packageDir, 'package.json'));
  try {
    for (const f of files) load(join(dir, f));
    return files.length > 0;
  } catch {
    return false;
  }
}

/** Replaces prebuilds/<platform>-<arch>/ with the addons node-gyp just built in build/Release. */
function copyPrebuild(packageDir) {
  const release = join(packageDir, 'build', 'Release');
  const dir = prebuildDir(packageDir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(release).filter((n) => n.endsWith('.node'))) copyFileSync(join(release, f), join(dir, f));
}

/** `flags` appended to a variable of the build's environment (node-gyp's Makefiles read CFLAGS, CXXFLAGS, LDFLAGS). */
function withFlags(value, flags) {
  return [value, ...flags].filter((f) => f).join(' ');
}

/**
 * @param {object} o
 * @param {string} o.packageDir   the backend package's folder (holds binding.gyp and native/)
 * @param {string} o.fallback     what happens when an optional build fails, for the message
 * @param {string[]} o.args       the script's command-line flags
 */
export function buildAddon({ packageDir, fallback, args }) {
  const unknown = args.filter((a) => !FLAGS.includes(a));
  if (unknown.length > 0) {
    console.error(`build-native: unknown argument(s) ${unknown.join(' ')}; usage: build-native.mjs [${FLAGS.join('] [')}]`);
    process.exit(2);
  }
  const optional = args.includes('--optional');
  const fail = (why) => {
    console.error(`build-native: ${why}${optional ? `; ${fallback}` : ''}`);
    process.exit(optional ? 0 : 1);
  };
  const fromSource = ['true', '1'].includes(process.env.npm_config_build_from_source ?? '');
  if (optional && !fromSource && prebuildLoads(packageDir)) {
    console.error(`build-native: using the prebuilt binary in ${prebuildDir(packageDir)} (build from source: npm rebuild --build-from-source)`);
    return;
  }
  const nodeGyp = findNodeGyp(packageDir);
  if (nodeGyp === undefined) fail('node-gyp not found on PATH or in node_modules; run `pnpm install` first');

  const sanitize = args.includes('--sanitize');
  const env = { ...process.env };
  if (sanitize) {
    for (const v of ['CFLAGS', 'CXXFLAGS', 'LDFLAGS']) env[v] = withFlags(env[v], SANITIZE_FLAGS);
  }
  // A fresh machine has no ~/.npmrc with nodedir; Debian's nodejs package ships the headers in /usr.
  if (!env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
  const gypArgs = [...nodeGyp.prefix, 'rebuild', '--loglevel=warn', ...(args.includes('--debug') ? ['--debug'] : [])];
  const cwd = sanitize ? sanitizeDir(packageDir) : packageDir;
  const result = spawnSync(nodeGyp.command, gypArgs, { cwd, env, stdio: 'inherit' });
  if (result.error !== undefined || result.status !== 0) {
    fail(`node-gyp rebuild failed (${result.error?.message ?? (result.signal ? `signal ${result.signal}` : `exit code ${result.status}`)})`);
  }
  if (args.includes('--prebuild')) {
    if (sanitize || args.includes('--debug')) fail('--prebuild ships a release build: drop --debug and --sanitize');
    copyPrebuild(packageDir);
  }
}
