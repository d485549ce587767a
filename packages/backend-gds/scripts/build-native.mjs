#!/usr/bin/env node
// Builds datamover_gds.node (build/Release, or build/Debug with --debug) with core's shared builder.
//   node scripts/build-native.mjs [--debug] [--sanitize] [--optional]
// --sanitize: an ASan + UBSan build in build-sanitize/build/Release (.ci/sanitized shows how it is loaded).
// It needs no CUDA headers or libraries: libcufile and the CUDA runtime are loaded at run time.
import { fileURLToPath } from 'node:url';
import { buildAddon } from '@datamover/core/build-addon';

buildAddon({
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  fallback: 'the gds backend will report itself unavailable (probe() says why)',
  args: process.argv.slice(2),
});
