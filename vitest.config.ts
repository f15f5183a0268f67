import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Every package keeps its tests in its own test/ folder.
    include: [
      '*/test/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'extracted/*/test/**/*.test.ts',
      'deploy/test/**/*.test.ts',
    ],
    globalSetup: ['./vitest.global-setup.ts'],
    testTimeout: 30_000,
    // Long enough for a beforeAll that waits for the flags lock while another file holds it.
    hookTimeout: 240_000,
    // Two cores: more workers than that only adds contention on Postgres.
    maxWorkers: 2,
  },
});
