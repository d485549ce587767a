import { defineConfig } from 'vitest/config';

// .ci/run sets DATAMOVER_TEST_SUMMARY to also get a JSON report it can summarise.
const summary = process.env.DATAMOVER_TEST_SUMMARY;

export default defineConfig({
  test: {
    // Native code runs in forked children: a crash kills one child, not the run.
    pool: 'forks',
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'scripts/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: summary ? ['default', 'json'] : ['default'],
    ...(summary ? { outputFile: { json: summary } } : {}),
  },
});
