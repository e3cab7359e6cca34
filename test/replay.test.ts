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

  it('has histories of every recorded scenario', () => {
    expect(histories.length).toBeGreaterThan(20);
    expect(histories.some(({ file }) => file.includes('continued-as-new.actor.run2'))).toBe(true);
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
