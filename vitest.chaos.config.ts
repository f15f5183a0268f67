import { defineConfig } from 'vitest/config';

/**
 * The chaos suite (chaos/, `pnpm test:chaos`): one stack of real processes
 * for every scenario, so one file, run alone. Not part of `pnpm test`, whose
 * include does not match chaos/.
 */
export default defineConfig({
  test: {
    include: ['chaos/**/*.chaos.ts'],
    globalSetup: ['./vitest.global-setup.ts'],
    testTimeout: 240_000,
    hookTimeout: 240_000,
    fileParallelism: false,
  },
});
