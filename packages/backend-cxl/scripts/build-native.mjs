#!/usr/bin/env node
// Builds the cxl engine (build/Release/datamover_cxl.node, or build/Debug with --debug). It compiles
// the soft backend's executor and memory primitives in (binding.gyp), so @datamover/backend-soft must
// be installed beside it.
//   node scripts/build-native.mjs [--debug] [--asan] [--optional]
// --asan compiles with -fsanitize=address; load it with LD_PRELOAD=$(gcc -print-file-name=libasan.so).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--debug' && a !== '--asan' && a !== '--optional');
// --optional (the package's install step): a machine without a compiler still installs; the
// cxl backend's probe() then says it is unavailable and why.
const optional = args.includes('--optional');
if (unknown.length > 0) {
  console.error(`build-native: unknown argument(s) ${unknown.join(' ')}; usage: build-native.mjs [--debug] [--asan]`);
  process.exit(2);
}

// node-gyp from PATH (pnpm/npm put one there when running package scripts), else the local one.
function findNodeGyp() {
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

const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) {
  console.error('build-native: node-gyp not found on PATH or in node_modules; run `pnpm install` first');
  process.exit(optional ? 0 : 1);
}

const env = { ...process.env, DATAMOVER_ASAN: args.includes('--asan') ? '1' : '0' };
// A fresh machine has no ~/.npmrc with nodedir; Debian's nodejs package ships the headers in /usr.
if (!env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';

const gypArgs = [...nodeGyp.prefix, 'rebuild', '--loglevel=warn', ...(args.includes('--debug') ? ['--debug'] : [])];
const result = spawnSync(nodeGyp.command, gypArgs, { cwd: packageDir, env, stdio: 'inherit' });
if (result.error !== undefined || result.status !== 0) {
  const why = result.error?.message ?? (result.signal ? `signal ${result.signal}` : `exit code ${result.status}`);
  console.error(`build-native: node-gyp rebuild failed (${why})${optional ? '; the cxl backend will report itself unavailable and why' : ''}`);
  process.exit(optional ? 0 : 1);
}
