import type { Client } from '@temporalio/client';
import { deliveryStateQuery } from '../../workflows/shared.js';
import { eventually } from './eventually.js';

/**
 * Resolves once the delivery has started its attempt `attempt` (so every earlier one has ended),
 * whenever that is: the actor's reorder window and a loaded machine move the first attempt.
 */
export async function untilDeliveryAttempt(
  temporal: Client,
  workflowId: string,
  attempt: number,
): Promise<void> {
  await eventually(
    async () => {
      try {
        const state = await temporal.workflow.getHandle(workflowId).query(deliveryStateQuery);
        return state.attempt >= attempt;
      } catch {
        return false; // not started yet: the actor starts it after its reorder window
      }
    },
    { timeoutMs: 60_000, intervalMs: 100, description: `attempt ${attempt} of ${workflowId}` },
  );
}
