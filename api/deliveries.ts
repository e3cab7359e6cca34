import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { BridgeConfig } from '../config/schema.js';
import { messageDeliveryWorkflow } from '../workflows/index.js';
import { searchAttributes } from '../workflows/searchAttributes.js';
import {
  messageWorkflowId,
  type DeliveryPolicy,
  type MessageDeliveryInput,
} from '../workflows/shared.js';

/** Temporal did not durably accept the work: the caller should answer 503 so Chatwoot retries. */
export class TemporalUnavailableError extends Error {
  override name = 'TemporalUnavailableError';
}

export type StartResult = { workflowId: string; duplicate: boolean };

/** Everything the message workflow needs to know about how hard to try, fixed at start. */
export function deliveryPolicy(config: BridgeConfig, agentId: string): DeliveryPolicy {
  const agent = config.agents.find((candidate) => candidate.id === agentId);
  if (!agent) throw new Error(`unknown agent ${agentId}`);
  const { delivery } = config;
  return {
    agentRetryWindowMs: delivery.agentRetryWindowMs,
    agentRetryInitialIntervalMs: delivery.agentRetryInitialIntervalMs,
    agentRetryMaxIntervalMs: delivery.agentRetryMaxIntervalMs,
    exchangeHeartbeatTimeoutMs: delivery.exchangeHeartbeatTimeoutMs,
    exchangeAttemptTimeoutMs: agent.connectTimeoutMs + agent.totalTimeoutMs + 5_000,
    chatwootAttemptTimeoutMs: delivery.chatwootRequestTimeoutMs * 2 + 1_000,
    chatwootRetryWindowMs: delivery.chatwootRetryWindowMs,
    chatwootRetryInitialIntervalMs: delivery.chatwootRetryInitialIntervalMs,
    chatwootRetryMaxIntervalMs: delivery.chatwootRetryMaxIntervalMs,
    fallbackMessage: delivery.fallbackMessage,
    ...(agent.transport === 'pull'
      ? {
          pull: {
            replyTimeoutMs: agent.replyTimeoutMs,
            idleTimeoutMs: agent.idleTimeoutMs,
            totalTimeoutMs: agent.totalTimeoutMs,
            maxResponses: agent.maxResponses,
          },
        }
      : {}),
  };
}

/**
 * Starts the delivery workflow for one message. The workflow id is the message's identity, so
 * a second webhook for the same message (Chatwoot retry, duplicate event) starts nothing.
 */
export async function startMessageDelivery(
  client: Client,
  config: BridgeConfig,
  input: Omit<MessageDeliveryInput, 'policy'>,
): Promise<StartResult> {
  const workflowId = messageWorkflowId(input.accountId, input.conversationId, input.messageId);
  try {
    await client.withDeadline(Date.now() + config.temporal.startTimeoutMs, () =>
      client.workflow.start(messageDeliveryWorkflow, {
        workflowId,
        taskQueue: config.temporal.taskQueue,
        args: [{ ...input, policy: deliveryPolicy(config, input.agentId) }],
        // Completed or failed, the id stays taken for the namespace's retention period.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: summarize(input),
        typedSearchAttributes: [
          { key: searchAttributes.accountId, value: String(input.accountId) },
          { key: searchAttributes.conversationId, value: String(input.conversationId) },
          { key: searchAttributes.inboxId, value: String(input.inboxId) },
          { key: searchAttributes.messageId, value: String(input.messageId) },
          { key: searchAttributes.agentId, value: input.agentId },
          { key: searchAttributes.deliveryStatus, value: 'received' },
        ],
      }),
    );
    return { workflowId, duplicate: false };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError)
      return { workflowId, duplicate: true };
    throw new TemporalUnavailableError(
      `Temporal did not accept ${workflowId}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

function summarize(input: Omit<MessageDeliveryInput, 'policy'>): string {
  const words = input.content.trim().split(/\s+/).slice(0, 8).join(' ');
  const text = words.length > 60 ? `${words.slice(0, 57)}...` : words;
  const preview = text ? `"${text}"` : `(${input.attachments.length} attachment(s))`;
  return `conversation ${input.conversationId} → ${input.agentId}: ${preview}`;
}
