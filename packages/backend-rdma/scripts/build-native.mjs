#!/usr/bin/env node
// Builds datamover_rdma.node (build/Release, or build/Debug with --debug) with core's shared builder.
//   node scripts/build-native.mjs [--debug] [--sanitize] [--optional]
// --sanitize: an ASan + UBSan build in build-sanitize/build/Release (.ci/sanitized shows how it is loaded).
// Without rdma-core headers binding.gyp builds a stub whose probe() says so.
import { fileURLToPath } from 'node:url';
import { buildAddon } from '@datamover/core/build-addon';

buildAddon({
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  fallback: 'the rdma backend will report itself unavailable',
  args: process.argv.slice(2),
});
