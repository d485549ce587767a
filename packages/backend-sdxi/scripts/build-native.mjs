#!/usr/bin/env node
// Builds datamover_sdxi.node (build/Release, or build/Debug with --debug) with core's shared builder.
//   node scripts/build-native.mjs [--debug] [--asan] [--optional]
// --asan also leaves an AddressSanitizer copy in build-asan/; load it with
//   DATAMOVER_SDXI_ADDON=$PWD/build-asan/datamover_sdxi.node LD_PRELOAD=$(gcc -print-file-name=libasan.so)
import { fileURLToPath } from 'node:url';
import { buildAddon } from '@datamover/core/build-addon';

buildAddon({
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  fallback: 'the sdxi backend will report itself unavailable',
  args: process.argv.slice(2),
  asanCopy: 'datamover_sdxi.node',
});
