import { bridgeConfigSchema, type BridgeConfig } from '../../config/schema.js';

/**
 * A configuration for classifier tests (no server): inbox 7 → `echo`, inbox 8 → `merging`
 * (debounced, greets), user 9 stands for the bot.
 */
export function classifierConfig(overrides: Record<string, unknown> = {}): BridgeConfig {
  return bridgeConfigSchema.parse({
    chatwoot: { baseUrl: 'http://chatwoot.test', apiAccessToken: 'token', accountId: 1 },
    agents: [
      { id: 'echo', transport: 'ws', url: 'ws://agent.test/echo' },
      {
        id: 'merging',
        transport: 'ws',
        url: 'ws://agent.test/merging',
        debounce: { quietMs: 500 },
        greeting: ['Hello! How can I help?'],
      },
    ],
    routes: [
      { inboxId: 7, agentId: 'echo' },
      { inboxId: 8, agentId: 'merging' },
    ],
    conversation: { botAssigneeIds: [9] },
    ...overrides,
  });
}

/** Inboxes `classifierConfig` routes to an agent. */
export const ROUTED_INBOXES = [7, 8];
