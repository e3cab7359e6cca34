import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type InjectedSinks,
} from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { describe, expect, inject, it } from 'vitest';
import { workflowsPath } from '../workers/worker.js';
import * as bridgeWorkflows from '../workflows/index.js';
import type { BridgeSinks } from '../workflows/sinks.js';
import { recordedHistories } from './helpers/replayHistories.js';

const replayDir = fileURLToPath(new URL('./replay/', import.meta.url));
const alwaysPatched = fileURLToPath(new URL('./helpers/alwaysPatched.ts', import.meta.url));
// The unpatched replay below fails on purpose: core's warnings about it are expected noise.
Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
});
/** The workflows report metrics through sinks; a replay only needs them to exist. */
const sinks: InjectedSinks<BridgeSinks> = {
  bridgeMetrics: {
    deliveryFinished: { fn: () => undefined },
    duplicateDropped: { fn: () => undefined },
  },
};

/**
 * Histories recorded by earlier versions of the workflows (scripts/captureHistories.ts) replay
 * against the code of this commit: a change that would break a running actor after a deploy
 * fails here. Changes in behaviour go behind `patched()`.
 */
describe('replay of recorded histories', () => {
  const histories = recordedHistories(replayDir);

  // The newest capture (`v<n>/`, the highest n) was recorded with the code of its commit.
  const newest = `v${Math.max(
    ...histories.flatMap(({ file }) => /^v(\d+)\//.exec(file)?.[1] ?? []).map(Number),
  )}/`;
  const newestFiles = histories.filter(({ file }) => file.startsWith(newest));
  const workflowType = (history: (typeof histories)[number]['history']) =>
    history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;

  it('has histories of every recorded scenario', () => {
    expect(histories.length).toBeGreaterThan(20);
    expect(histories.some(({ file }) => file.includes('continued-as-new.actor.run2'))).toBe(true);
  });

  it('the newest capture has a history of every workflow type the worker runs', () => {
    const types = new Set(newestFiles.map(({ history }) => workflowType(history)));
    // Kept only so the runs they recorded replay: nothing starts them now, older captures hold them.
    const retired = new Set([
      'messageDeliveryWorkflow',
      'messageDeliveryV2Workflow',
      'messageDeliveryV3Workflow',
    ]);
    const started = Object.keys(bridgeWorkflows).filter((type) => !retired.has(type));
    expect([...types].sort()).toEqual(started.sort());
    const recorded = new Set(histories.map(({ history }) => workflowType(history)));
    for (const type of retired) expect(recorded, type).toContain(type);
  });

  it('the newest capture covers the cases an upgrade must not break', () => {
    const files = newestFiles.map(({ file }) => file.slice(newest.length));
    const cases = [
      'continued-as-new.actor.run2', // an actor across continue-as-new
      'human-takeover.actor', // paused by a human, then resumed
      'abort-on-newer.delivery',
      'delivery-retries.delivery', // Chatwoot 500s, retried
      'hand-off.delivery',
      'lease.lease',
      'pull-inbox.inbox',
      'proactive-send-at.proactive',
      'catch-up.schedule',
    ];
    expect(cases.filter((name) => !files.some((file) => file.startsWith(name)))).toEqual([]);
    // `sendAt` is the proactive workflow's start delay.
    const proactive = newestFiles.find(({ file }) => file.includes('.proactive.'))?.history;
    expect(
      proactive?.events?.[0]?.workflowExecutionStartedEventAttributes?.firstWorkflowTaskBackoff,
    ).toBeTruthy();
  });

  it('every recorded history replays against the current workflow bundle', async () => {
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      {
        workflowBundle: { codePath: inject('workflowBundlePath') },
        replayName: 'replay-test',
        sinks,
      },
      histories.map(({ workflowId, history }) => ({ workflowId, history })),
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('the same changes without patched() fail on what the old code recorded', async () => {
    // The current workflows, bundled with a `patched()` that is always true: new behaviour
    // applied to histories recorded before it, exactly what a change without a patch does.
    const { code } = await bundleWorkflowCode({
      workflowsPath,
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
      webpackConfigHook: (config) => ({
        ...config,
        resolve: {
          ...config.resolve,
          alias: {
            ...(config.resolve?.alias as Record<string, string>),
            '@temporalio/workflow$': alwaysPatched,
          },
        },
      }),
    });
    const old = histories.filter(({ file }) => file.startsWith('v1/') && file.includes('.actor.'));
    const violations: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { code }, replayName: 'unpatched-replay', sinks },
      old.map(({ workflowId, history }) => ({ workflowId, history })),
    )) {
      if (result.error instanceof DeterminismViolationError) violations.push(result.workflowId);
    }
    // Actors that started a turn right away now wait the reorder window first: another command.
    expect(violations).toEqual(
      expect.arrayContaining(['v1/human-takeover.actor.run1.json', 'v1/hand-off.actor.run1.json']),
    );
  }, 180_000);
});
