import type { Client } from '@temporalio/client';
import { ChatwootClient } from '../chatwoot/client.js';
import type { LiveConfig } from '../config/live.js';
import type { BridgeConfig } from '../config/schema.js';
import { WorkerMetrics } from '../observability/metrics.js';
import { createAgentExchangeActivity } from './agentExchange.js';
import { createCatchUpActivities } from './catchUp.js';
import { createChatwootActivities, createSoleReplyPoster } from './chatwoot.js';
import { createConversationActionActivities } from './conversationActions.js';
import { createProactiveActivities } from './proactive.js';
import { createPullAgentActivities } from './pullAgents.js';

export interface ActivityDeps {
  config: BridgeConfig;
  temporal: Client;
  /** When given, agents are looked up in the configuration in force (reloads apply). */
  live?: LiveConfig;
  /** Default: a registry of their own. */
  metrics?: WorkerMetrics;
}

/**
 * All activities, built from their dependencies so tests can point them at local servers.
 * Two groups, because they run on separate task queues (see workers/worker.ts).
 */
export function createActivities({ config, temporal, live, ...deps }: ActivityDeps) {
  const metrics = deps.metrics ?? new WorkerMetrics();
  const chatwoot = new ChatwootClient({
    baseUrl: config.chatwoot.baseUrl,
    apiAccessToken: config.chatwoot.apiAccessToken,
    timeoutMs: config.delivery.chatwootRequestTimeoutMs,
    observe: (call) => metrics.chatwootCall(call),
  });
  const agents = live?.agents ?? new Map(config.agents.map((agent) => [agent.id, agent]));
  // Agent actions may need a user token (labels on most Chatwoot versions): their own client.
  const actionsChatwoot = config.chatwoot.actionsApiAccessToken
    ? new ChatwootClient({
        baseUrl: config.chatwoot.baseUrl,
        apiAccessToken: config.chatwoot.actionsApiAccessToken,
        timeoutMs: config.delivery.chatwootRequestTimeoutMs,
        observe: (call) => metrics.chatwootCall(call),
      })
    : chatwoot;
  return {
    chatwoot: {
      ...createConversationActionActivities(actionsChatwoot),
      ...createChatwootActivities(chatwoot, {
        markerInSourceId: config.chatwoot.markerInSourceId,
        requestTimeoutMs: config.delivery.chatwootRequestTimeoutMs,
        attachmentPolicy: (agentId) => agents.get(agentId)?.attachments,
      }),
      ...createProactiveActivities(chatwoot),
      ...createCatchUpActivities({
        temporal,
        current: () => live?.current() ?? config,
        chatwoot,
        metrics,
      }),
    },
    agents: {
      ...createAgentExchangeActivity({
        agents,
        temporal,
        chatwoot,
        metrics,
        workflowTaskQueue: config.temporal.taskQueue,
        soleReplyPoster: createSoleReplyPoster(chatwoot, config.chatwoot.markerInSourceId),
      }),
      ...createPullAgentActivities({ temporal }),
    },
  };
}

type ActivityGroups = ReturnType<typeof createActivities>;
export type BridgeActivities = ActivityGroups['chatwoot'] & ActivityGroups['agents'];
