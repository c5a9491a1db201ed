import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/buildOnce.ts'],
    // The real VGG-19 on the wasm backend is CPU-bound: one file per core keeps timings sane on 2-core machines.
    pool: 'forks',
    maxWorkers: 2,
    // Memory tests collect garbage before they measure, so that what they see is what the code holds.
    execArgv: ['--expose-gc'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
