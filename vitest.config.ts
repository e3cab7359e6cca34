import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Suites that start their own Temporal cluster (PostgreSQL, TLS) run in `npm run test:cluster`.
    exclude: ['**/node_modules/**', 'test/**/*.cluster.test.ts'],
    // One real Temporal dev server for the whole run, plus a workflow bundle built once.
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // expect.poll waits on real servers and a real browser: allow for a busy two-core machine.
    expect: { poll: { timeout: 15_000, interval: 100 } },
    // Two cores: a couple of files at a time keeps real-time timeouts honest.
    maxWorkers: 2,
    // CI also writes a JSON summary, which .ci/run turns into a plain "N passed, N failed" line.
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: '.cache/vitest-results.json' }]]
      : ['default'],
  },
});
