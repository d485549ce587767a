import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The lab suite (`pnpm test:lab`), kept out of the host run: each test boots QEMU guests.
// Guests run one at a time (this machine kind has 2 cores, and TCG uses them all).
// .ci/run sets LAB_TEST_SUMMARY to also get a JSON report it can summarise.
const summary = process.env['LAB_TEST_SUMMARY'];

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['lab/test/**/*.test.ts', 'packages/*/lab/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['lab/test/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    reporters: summary ? ['default', 'json'] : ['default'],
    ...(summary ? { outputFile: { json: summary } } : {}),
  },
});
