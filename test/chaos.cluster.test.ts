import { describe, inject, it } from 'vitest';
import { runChaos } from '../sandbox/chaos/run.js';
import { CI_CHAOS, expectClean } from './helpers/chaosLogs.js';

/**
 * The production shape on the PostgreSQL-backed server: the API and two workers as separate
 * processes, workers killed mid-run, a bridge outage catch-up must repair, an agent outage and
 * Chatwoot faults. (The Temporal restart runs on the dev server: this run shares the suite's.)
 */
describe('chaos run on the Temporal cluster', () => {
  it('API and two worker processes, two worker kills, a bridge outage: none lost, doubled or out of order', async () => {
    const report = await runChaos({
      ...CI_CHAOS,
      seed: 21,
      kills: 2,
      temporalRestarts: 0,
      accountId: 600_000 + Math.floor(Math.random() * 100_000),
      temporalAddress: inject('temporalAddress'),
      workflowBundlePath: inject('workflowBundlePath'),
    });
    expectClean(report, ['worker-kill', 'bridge-outage']);
  }, 110_000);
});
