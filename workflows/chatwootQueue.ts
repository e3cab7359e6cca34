import { patched, workflowInfo } from '@temporalio/workflow';
import type { DeliveryPolicy, MessageDeliveryInput } from './shared.js';

/**
 * One rate limit for the whole fleet: with `chatwoot.maxCallsPerSecond` set, a delivery's
 * Chatwoot activities go to a task queue of their own, which every worker polls with Temporal's
 * task-queue rate limit (`maxTaskQueueActivitiesPerSecond`, enforced by the server across all
 * pollers). Each account in `chatwoot.rateLimitAccountIds` has its own queue (its own limit);
 * every other account shares one. Workflow code: pure.
 */

/** `{taskQueue}-chatwoot-{accountId}` for a listed account, `{taskQueue}-chatwoot` for the rest. */
export function chatwootTaskQueue(
  workflowTaskQueue: string,
  accountId: number,
  limitedAccountIds: readonly number[],
): string {
  const shared = `${workflowTaskQueue}-chatwoot`;
  return limitedAccountIds.includes(accountId) ? `${shared}-${accountId}` : shared;
}

/** Every queue a worker polls for a configuration's limit: the shared one and each account's. */
export function chatwootTaskQueues(
  workflowTaskQueue: string,
  limitedAccountIds: readonly number[],
): string[] {
  return [
    `${workflowTaskQueue}-chatwoot`,
    ...limitedAccountIds.map((id) => chatwootTaskQueue(workflowTaskQueue, id, limitedAccountIds)),
  ];
}

/** The patch that moves a delivery's Chatwoot calls off the main queue. */
export const CHATWOOT_TASK_QUEUE_PATCH = 'chatwoot-task-queue';

/**
 * The delivery's policy with its Chatwoot task queue chosen. Only when the limit is configured
 * (histories recorded without it replay as they ran) and behind the patch.
 */
export function withChatwootTaskQueue(
  input: Pick<MessageDeliveryInput, 'accountId' | 'policy'>,
  /** Whether a change is in force (a workflow version may pass its own; default `patched`). */
  has: (change: string) => boolean = patched,
): DeliveryPolicy {
  const { policy } = input;
  if (!policy.chatwootRateLimit || !has(CHATWOOT_TASK_QUEUE_PATCH)) return policy;
  return {
    ...policy,
    chatwootTaskQueue: chatwootTaskQueue(
      workflowInfo().taskQueue,
      input.accountId,
      policy.chatwootRateLimit.accountIds,
    ),
  };
}
