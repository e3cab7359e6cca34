import type { Client } from '@temporalio/client';
import { ChatwootClient } from '../chatwoot/client.js';
import type { BridgeConfig } from '../config/schema.js';
import { createAgentExchangeActivity } from './agentExchange.js';
import { createChatwootActivities } from './chatwoot.js';
import { createPullAgentActivities } from './pullAgents.js';

export interface ActivityDeps {
  config: BridgeConfig;
  temporal: Client;
}

/**
 * All activities, built from their dependencies so tests can point them at local servers.
 * Two groups, because they run on separate task queues (see workers/worker.ts).
 */
export function createActivities({ config, temporal }: ActivityDeps) {
  const chatwoot = new ChatwootClient({
    baseUrl: config.chatwoot.baseUrl,
    apiAccessToken: config.chatwoot.apiAccessToken,
    timeoutMs: config.delivery.chatwootRequestTimeoutMs,
  });
  return {
    chatwoot: createChatwootActivities(chatwoot),
    agents: {
      ...createAgentExchangeActivity({
        agents: new Map(config.agents.map((agent) => [agent.id, agent])),
        temporal,
      }),
      ...createPullAgentActivities({ temporal }),
    },
  };
}

type ActivityGroups = ReturnType<typeof createActivities>;
export type BridgeActivities = ActivityGroups['chatwoot'] & ActivityGroups['agents'];
