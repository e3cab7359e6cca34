import type { Client } from '@temporalio/client';
import { ChatwootClient } from '../chatwoot/client.js';
import type { BridgeConfig } from '../config/schema.js';
import { createAgentExchangeActivity } from './agentExchange.js';
import { createChatwootActivities } from './chatwoot.js';

export interface ActivityDeps {
  config: BridgeConfig;
  temporal: Client;
}

/** All activities, built from their dependencies so tests can point them at local servers. */
export function createActivities({ config, temporal }: ActivityDeps) {
  const chatwoot = new ChatwootClient({
    baseUrl: config.chatwoot.baseUrl,
    apiAccessToken: config.chatwoot.apiAccessToken,
    timeoutMs: config.delivery.chatwootRequestTimeoutMs,
  });
  return {
    ...createAgentExchangeActivity({
      agents: new Map(config.agents.map((agent) => [agent.id, agent])),
      temporal,
    }),
    ...createChatwootActivities(chatwoot),
  };
}

export type BridgeActivities = ReturnType<typeof createActivities>;
