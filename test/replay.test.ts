import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { recordedHistories } from './helpers/replayHistories.js';

const replayDir = fileURLToPath(new URL('./replay/', import.meta.url));
Runtime.install({ logger: new DefaultLogger('ERROR') });

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
      { workflowBundle: { codePath: inject('workflowBundlePath') }, replayName: 'replay-test' },
      histories.map(({ workflowId, history }) => ({ workflowId, history })),
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
