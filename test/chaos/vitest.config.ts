import { defineConfig } from 'vitest/config';

/** `npm run test:chaos`: the reliability suite (kills, corrupt files, hostile input, full disk, concurrency, soak, data-parallel chaos). */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    // Each file drives real trainers on both cores; running two at once would only skew the timings.
    fileParallelism: false,
    pool: 'forks',
    globalSetup: ['test/chaos/summary-setup.ts'],
  },
});
