import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { expect } from 'vitest';
import { failures, formatReport } from '../../sandbox/chaos/report.js';
import type { runChaos } from '../../sandbox/chaos/run.js';

type ChaosOptions = Parameters<typeof runChaos>[0];
type ChaosReport = Awaited<ReturnType<typeof runChaos>>;

/**
 * The CI-size run both servers play: 40 messages in bursts over 4 conversations, API and two
 * worker processes, an agent outage, Chatwoot faults and a bridge outage catch-up repairs.
 */
export const CI_CHAOS = {
  messages: 40,
  conversations: 4,
  rate: 4,
  burst: 3,
  burstGapMs: 20,
  workers: 2,
  agentDelayMs: 50,
  temporalDownMs: 0,
  agentOutageMs: 3_000,
  chatwoot5xx: 2,
  chatwoot429: 1,
  lostResponses: 2,
  bridgeOutageMs: 8_000,
  drainTimeoutMs: 60_000,
  // Long enough for a catch-up run that meets a Chatwoot 429 or 5xx storm and retries.
  idleTimeoutMs: 30_000,
  catchUpIntervalMs: 5_000,
  keepFiles: true,
} as const satisfies Partial<ChaosOptions>;

/** None lost, doubled or out of order, and the named faults happened. */
export function expectClean(report: ChaosReport, faults: string[]): void {
  const summary = formatReport(report);
  keepLogsOnFailure(report);
  expect(report.faults.map((fault) => fault.kind)).toEqual(expect.arrayContaining(faults));
  expect(report.tally, summary).toMatchObject({
    sent: report.options.messages,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
  });
  expect(failures(report), summary).toBe(0);
}

/** A failed run's process logs go to `.cache/chaos-failed/` (CI prints the path); a passing run's are removed. */
export function keepLogsOnFailure(report: {
  runDir?: string;
  tally: { lost: number; duplicated: number; outOfOrder: number };
}) {
  if (!report.runDir) return;
  const { lost, duplicated, outOfOrder } = report.tally;
  if (lost + duplicated + outOfOrder > 0) {
    const target = join('.cache', 'chaos-failed', basename(report.runDir));
    mkdirSync(dirname(target), { recursive: true });
    cpSync(report.runDir, target, { recursive: true });
    console.error(`chaos run failed: its process logs are in ${target}`);
  }
  rmSync(report.runDir, { recursive: true, force: true });
}
