import { describe, expect, inject, it } from 'vitest';
import { failures, formatReport } from '../sandbox/chaos/report.js';
import { runChaos } from '../sandbox/chaos/run.js';
import { keepLogsOnFailure } from './helpers/chaosLogs.js';

/**
 * The production shape on the PostgreSQL-backed server: the API and two workers as separate
 * processes, workers killed mid-run, a bridge outage catch-up must repair, an agent outage and
 * Chatwoot faults. (The Temporal restart runs on the dev server: this run shares the suite's.)
 */
describe('chaos run on the Temporal cluster', () => {
  it('API and two worker processes, two worker kills, a bridge outage: none lost, doubled or out of order', async () => {
    const report = await runChaos({
      seed: 21,
      messages: 40,
      conversations: 4,
      rate: 4,
      burst: 3,
      burstGapMs: 20,
      workers: 2,
      agentDelayMs: 50,
      kills: 2,
      temporalRestarts: 0,
      temporalDownMs: 0,
      agentOutageMs: 3_000,
      chatwoot5xx: 2,
      chatwoot429: 1,
      lostResponses: 2,
      bridgeOutageMs: 8_000,
      drainTimeoutMs: 60_000,
      idleTimeoutMs: 30_000,
      catchUpIntervalMs: 5_000,
      accountId: 600_000 + Math.floor(Math.random() * 100_000),
      temporalAddress: inject('temporalAddress'),
      workflowBundlePath: inject('workflowBundlePath'),
      keepFiles: true,
    });
    const summary = formatReport(report);
    keepLogsOnFailure(report);
    expect(report.faults.map((fault) => fault.kind)).toEqual(
      expect.arrayContaining(['worker-kill', 'bridge-outage']),
    );
    expect(report.tally, summary).toMatchObject({
      sent: 40,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
    });
    expect(failures(report), summary).toBe(0);
  }, 110_000);
});
