import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { messageWorkflowId } from '../workflows/shared.js';

/**
 * Ids of the messages whose delivery workflow exists. A message merged into a newer one's turn
 * has none of its own: it is handed over again, and the actor drops the id it has seen.
 */
export async function deliveredIds(
  temporal: Client,
  accountId: number,
  conversationId: number,
  messages: ReadonlyArray<{ id: number }>,
): Promise<Set<number>> {
  const result = new Set<number>();
  for (const message of messages) {
    try {
      await temporal.workflow
        .getHandle(messageWorkflowId(accountId, conversationId, message.id))
        .describe();
      result.add(message.id);
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  return result;
}
