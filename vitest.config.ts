import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Native code runs in forked children: a crash kills one child, not the run.
    pool: 'forks',
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
