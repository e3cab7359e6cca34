import { readdirSync, readFileSync } from 'node:fs';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';

/**
 * Delivery histories recorded by the code from before the posting patch (overwritten source_ids,
 * late commits, resets, reply gaps): a lost response and its retried post, a reply gap, and a
 * hand-off with fallback and note. Deliveries in flight at the deploy must replay unchanged.
 */
const DIR = new URL('./replay/', import.meta.url);
const recorded = readdirSync(DIR).filter((name) => name.startsWith('messageDelivery-'));

describe('delivery histories recorded before the posting patch replay with this code', () => {
  it('has recorded histories to replay', () => {
    expect(recorded.length).toBeGreaterThanOrEqual(3);
  });

  it.each(recorded)('%s', async (name) => {
    // Saved with JSON.stringify(await handle.fetchHistory()): protobufjs's own object form.
    const history = temporal.api.history.v1.History.fromObject(
      JSON.parse(readFileSync(new URL(name, DIR), 'utf8')) as Record<string, unknown>,
    );
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') } },
      history,
    );
  });
});
