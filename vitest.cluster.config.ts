import { readdirSync, readFileSync } from 'node:fs';
import { defineConfig, mergeConfig, type ViteUserConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * `npm run test:cluster`: every suite that talks to the suite's Temporal server, run against the
 * real server on PostgreSQL (test/globalSetup.ts starts it). Suites that need no Temporal, or
 * the dev server's web UI, already ran in `npm test`.
 */
const TALKS_TO_TEMPORAL = /\binject\(\s*'temporalAddress'|\bstartStack\(/;
const suites = readdirSync('test')
  .filter((file) => file.endsWith('.test.ts') && !file.includes('.browser.'))
  .filter(
    (file) =>
      file.endsWith('.cluster.test.ts') ||
      TALKS_TO_TEMPORAL.test(readFileSync(`test/${file}`, 'utf8')),
  )
  .map((file) => `test/${file}`);

// Assigned, not merged: mergeConfig would append these to the base suite's lists.
const config: ViteUserConfig = mergeConfig(base, defineConfig({}));
config.test = {
  ...config.test,
  include: suites,
  exclude: ['**/node_modules/**'],
  reporters: process.env.CI
    ? ['default', ['json', { outputFile: '.cache/vitest-cluster-results.json' }]]
    : ['default'],
};
export default config;
