import { rateLimitedAccountIds, type AgentConfig, type BridgeConfig } from '../config/schema.js';
import type {
  AgentRouteSettings,
  ChatwootRetryPolicy,
  DeliveryPolicy,
} from '../workflows/shared.js';

/**
 * Temporal did not durably accept the work (down, slow, overloaded): the caller answers a status
 * its sender retries (the webhook: `webhook.retryStatus`; the proactive API: 503).
 */
export class TemporalUnavailableError extends Error {
  override name = 'TemporalUnavailableError';
}

/** Temporal cannot encode what it was given: the sender's mistake (4xx), never an outage. */
export class RejectedPayloadError extends Error {
  override name = 'RejectedPayloadError';
}

/** How hard to try each Chatwoot call, fixed when a workflow starts. */
export function chatwootRetryPolicy(delivery: BridgeConfig['delivery']): ChatwootRetryPolicy {
  return {
    chatwootAttemptTimeoutMs: delivery.chatwootRequestTimeoutMs * 2 + 1_000,
    chatwootRetryWindowMs: delivery.chatwootRetryWindowMs,
    chatwootRetryInitialIntervalMs: delivery.chatwootRetryInitialIntervalMs,
    chatwootRetryMaxIntervalMs: delivery.chatwootRetryMaxIntervalMs,
  };
}

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
    exchangeAttemptTimeoutMs: exchangeAttemptTimeoutMs(agent),
    agentQueueScheduleToStartMs: delivery.agentQueueScheduleToStartMs,
    offerScheduleToCloseMs: delivery.offerScheduleToCloseMs,
    ...chatwootRetryPolicy(delivery),
    fallbackMessage: delivery.fallbackMessage,
    ...(agent.splitRepliesAtChars !== undefined
      ? { splitRepliesAtChars: agent.splitRepliesAtChars }
      : {}),
    ...(agent.allowedActions.length > 0 ? { allowedActions: [...agent.allowedActions] } : {}),
    ...(config.chatwoot.maxCallsPerSecond !== undefined
      ? { chatwootRateLimit: { accountIds: rateLimitedAccountIds(config) } }
      : {}),
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
 * The longest one exchange attempt may take: connect, the exchange, and a margin. A Socket.IO
 * (AIWM) attempt may first wait up to `totalTimeoutMs` for its turn with the agent and then ask
 * for a token, so it gets that time too rather than timing out while it answers.
 */
function exchangeAttemptTimeoutMs(agent: AgentConfig): number {
  const exchange = agent.connectTimeoutMs + agent.totalTimeoutMs + 5_000;
  return agent.transport === 'socketio'
    ? exchange + agent.totalTimeoutMs + agent.connectTimeoutMs
    : exchange;
}

/** What the conversation actor needs to know about the agent a message is routed to. */
export function routeSettings(config: BridgeConfig, agentId: string): AgentRouteSettings {
  const agent = config.agents.find((candidate) => candidate.id === agentId);
  if (!agent) throw new Error(`unknown agent ${agentId}`);
  return {
    agentId,
    ...(agent.debounce ? { debounce: agent.debounce } : {}),
    abortOnNewer: agent.abortOnNewer,
    ...(agent.sessionIdleMs !== undefined ? { sessionIdleMs: agent.sessionIdleMs } : {}),
    policy: deliveryPolicy(config, agentId),
  };
}
