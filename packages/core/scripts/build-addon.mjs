// Builds a backend's native addon with node-gyp: the one build script every backend package
// runs from its own scripts/build-native.mjs (install, build:native).
//   flags: --debug, --asan (an AddressSanitizer build; see `asanCopy`), --optional (install: a
//   failed build exits 0 so the package still installs and its probe() says why).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

const FLAGS = ['--debug', '--asan', '--optional'];

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
 * @param {object} o
 * @param {string} o.packageDir   the backend package's folder (holds binding.gyp)
 * @param {string} o.fallback     what happens when an optional build fails, for the message
 * @param {string[]} o.args       the script's command-line flags
 * @param {string} [o.asanCopy]   with --asan: copy the sanitized addon build/Release/<asanCopy> to
 *                                build-asan/ and rebuild the normal addon, so both exist
 */
export function buildAddon({ packageDir, fallback, args, asanCopy }) {
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
  const nodeGyp = findNodeGyp(packageDir);
  if (nodeGyp === undefined) fail('node-gyp not found on PATH or in node_modules; run `pnpm install` first');

  const build = (asan, debug) => {
    // binding.gyp reads DATAMOVER_ASAN (its own gyp variable: Node's common.gypi already has `asan`).
    const env = { ...process.env, DATAMOVER_ASAN: asan ? '1' : '0' };
    // A fresh machine has no ~/.npmrc with nodedir; Debian's nodejs package ships the headers in /usr.
    if (!env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
    const gypArgs = [...nodeGyp.prefix, 'rebuild', '--loglevel=warn', ...(debug ? ['--debug'] : [])];
    const result = spawnSync(nodeGyp.command, gypArgs, { cwd: packageDir, env, stdio: 'inherit' });
    if (result.error !== undefined || result.status !== 0) {
      fail(`node-gyp rebuild failed (${result.error?.message ?? (result.signal ? `signal ${result.signal}` : `exit code ${result.status}`)})`);
    }
  };

  const asan = args.includes('--asan');
  if (asan && asanCopy) {
    build(true, false);
    mkdirSync(join(packageDir, 'build-asan'), { recursive: true });
    copyFileSync(join(packageDir, 'build', 'Release', asanCopy), join(packageDir, 'build-asan', asanCopy));
    build(false, args.includes('--debug'));
  } else build(asan, args.includes('--debug'));
}
