#!/usr/bin/env node
// Builds datamover_cxl.node (build/Release, or build/Debug with --debug) with core's shared builder.
//   node scripts/build-native.mjs [--debug] [--sanitize] [--optional]
// --sanitize: an ASan + UBSan build in build-sanitize/build/Release (.ci/sanitized shows how it is loaded).
// It compiles core's engine kit in (binding.gyp: packages/core/native, found through @datamover/core).
import { fileURLToPath } from 'node:url';
import { buildAddon } from '@datamover/core/build-addon';

buildAddon({
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  fallback: 'the cxl backend will report itself unavailable and why',
  args: process.argv.slice(2),
});
