import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';

/**
 * A workflow's handle once it exists. Message-delivery workflows are started by their
 * conversation actor a moment after the webhook was accepted, so a caller holding the id from
 * the webhook's answer may ask before the workflow is there.
 */
export async function awaitWorkflow(
  client: Client,
  workflowId: string,
  { timeoutMs = 20_000, pollMs = 50 } = {},
): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(workflowId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await handle.describe();
      return handle;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}
