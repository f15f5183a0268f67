import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'monolith/test/**/*.test.ts',
      'migrations/test/**/*.test.ts',
      'scripts/test/**/*.test.ts',
    ],
    globalSetup: ['./vitest.global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers than that only adds contention on Postgres.
    maxWorkers: 2,
  },
});
