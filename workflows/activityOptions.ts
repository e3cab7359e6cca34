import type { DeliveryPolicy } from './shared.js';

type ChatwootTimeouts = Pick<
  DeliveryPolicy,
  | 'chatwootAttemptTimeoutMs'
  | 'chatwootRetryWindowMs'
  | 'chatwootRetryInitialIntervalMs'
  | 'chatwootRetryMaxIntervalMs'
> &
  Pick<Partial<DeliveryPolicy>, 'chatwootTaskQueue'>;

/** Chatwoot calls: retried with backoff (5xx, 429, network) for the policy's retry window. */
export function chatwootOptions(policy: ChatwootTimeouts) {
  return {
    // The fleet's rate-limited queue, when the workflow chose one (workflows/chatwootQueue.ts).
    ...(policy.chatwootTaskQueue ? { taskQueue: policy.chatwootTaskQueue } : {}),
    startToCloseTimeout: policy.chatwootAttemptTimeoutMs,
    scheduleToCloseTimeout: policy.chatwootRetryWindowMs,
    retry: {
      initialInterval: policy.chatwootRetryInitialIntervalMs,
      maximumInterval: policy.chatwootRetryMaxIntervalMs,
      backoffCoefficient: 2,
    },
  } as const;
}

/**
 * How long a create whose answer never came may still commit in Chatwoot (it keeps processing
 * after the bridge's client gave up): one Chatwoot attempt's timeout, i.e. twice the request
 * timeout plus a second. A retried post waits this out before it looks for its earlier copy.
 */
export function lateCommitGraceMs(
  policy: Pick<DeliveryPolicy, 'chatwootAttemptTimeoutMs'>,
): number {
  return policy.chatwootAttemptTimeoutMs;
}

/** Posting a message: a Chatwoot call whose attempt also has room to wait out the grace. */
export function postOptions(policy: ChatwootTimeouts) {
  return {
    ...chatwootOptions(policy),
    startToCloseTimeout: policy.chatwootAttemptTimeoutMs + lateCommitGraceMs(policy),
  } as const;
}
