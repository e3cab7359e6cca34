import type { DeliveryPolicy } from './shared.js';

/** Chatwoot calls: retried with backoff (5xx, 429, network) for the policy's retry window. */
export function chatwootOptions(
  policy: Pick<
    DeliveryPolicy,
    | 'chatwootAttemptTimeoutMs'
    | 'chatwootRetryWindowMs'
    | 'chatwootRetryInitialIntervalMs'
    | 'chatwootRetryMaxIntervalMs'
  >,
) {
  return {
    startToCloseTimeout: policy.chatwootAttemptTimeoutMs,
    scheduleToCloseTimeout: policy.chatwootRetryWindowMs,
    retry: {
      initialInterval: policy.chatwootRetryInitialIntervalMs,
      maximumInterval: policy.chatwootRetryMaxIntervalMs,
      backoffCoefficient: 2,
    },
  } as const;
}
