import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    exclude: ['test/chaos/**', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The native trainer uses both cores; parallel test files would only fight over them.
    fileParallelism: false,
    pool: 'forks',
  },
});
