import { describe, expect, inject, it } from 'vitest';
import { runFuzz, type FuzzReport } from '../scripts/fuzz.js';

/** `npm run fuzz`, small: 300 seeded cases against a real `npm start` (on the suite's Temporal). */
describe('fuzz run (npm run fuzz, 300 cases)', () => {
  let report: FuzzReport;

  it('runs against npm start without a crash, a lost or extra workflow, or a secret in the log', async () => {
    report = await runFuzz({
      cases: 300,
      seed: 11,
      concurrency: 4,
      temporalAddress: inject('temporalAddress'),
      workflowBundlePath: inject('workflowBundlePath'),
    });
    expect(report.cases).toBe(300);
    expect(report.crashed).toBe(false);
    expect(report.noAnswerReasons).toEqual({});
    expect(report.secretsInLog).toEqual([]);
    expect(report.unexpected).toEqual([]);
    expect(report.validRoutedMessages).toBeGreaterThan(0);
    expect({ extra: report.extraWorkflows, missing: report.missingWorkflows }).toEqual({
      extra: [],
      missing: [],
    });
    expect(report.messageWorkflowsStarted).toBe(report.validRoutedMessages + report.nestedAccepted);
    expect(report.messagesInActors).toBe(report.validRoutedMessages + report.nestedAccepted);
    console.log(JSON.stringify({ ...report, rssMiB: { ...report.rssMiB, samples: undefined } }));
  }, 300_000);

  it('answers no request with a 5xx', () => {
    expect(report.serverErrors).toEqual([]);
  });
});
