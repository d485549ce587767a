#!/usr/bin/env node
// Builds datamover_cxl.node (build/Release, or build/Debug with --debug) with core's shared builder.
//   node scripts/build-native.mjs [--debug] [--asan] [--optional]
// It compiles core's engine kit in (binding.gyp: packages/core/native, found through @datamover/core).
// --asan: the sanitized addon goes to build-asan/ (the normal one is rebuilt); load it with
// DATAMOVER_CXL_ADDON=build-asan/datamover_cxl.node LD_PRELOAD=$(gcc -print-file-name=libasan.so).
import { fileURLToPath } from 'node:url';
import { buildAddon } from '@datamover/core/build-addon';

buildAddon({
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  fallback: 'the cxl backend will report itself unavailable and why',
  args: process.argv.slice(2),
  asanCopy: 'datamover_cxl.node',
});
