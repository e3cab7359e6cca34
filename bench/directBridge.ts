import { runAgentExchange } from '../agents/registry.js';
import { turnFromMessage } from '../agents/turn.js';
import { buildApp } from '../api/app.js';
import { ChatwootClient } from '../chatwoot/client.js';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import type { AgentConfig, BridgeConfig } from '../config/schema.js';
import { messageWorkflowId, type MessageDeliveryInput } from '../workflows/shared.js';

export interface DirectBridge {
  webhookUrl: string;
  /** Deliveries that threw (agent or Chatwoot failure): the baseline never retries. */
  readonly failures: string[];
  /** Resolves once no delivery is running. */
  idle(): Promise<void>;
  /** Waits for in-flight deliveries, then closes the server. */
  close(): Promise<void>;
}

/**
 * The baseline: the bridge's own HTTP app (signature, schema, filters), but a message is handed
 * straight to the agent and its replies to Chatwoot in this process, with no Temporal in
 * between; a crash would lose the work.
 */
export async function startDirectBridge(config: BridgeConfig): Promise<DirectBridge> {
  const agents = new Map(config.agents.map((agent) => [agent.id, agent]));
  const chatwoot = new ChatwootClient({
    baseUrl: config.chatwoot.baseUrl,
    apiAccessToken: config.chatwoot.apiAccessToken,
    timeoutMs: config.delivery.chatwootRequestTimeoutMs,
  });
  const failures: string[] = [];
  const inFlight = new Set<Promise<void>>();

  const app = buildApp({
    config,
    logger: false,
    // "Accepted" here means queued in memory; the real bridge waits for Temporal instead.
    startDelivery: (input) => {
      const delivery = deliver(agents.get(input.agentId) as AgentConfig, input)
        .catch((error: unknown) => {
          failures.push(error instanceof Error ? error.message : String(error));
        })
        .finally(() => inFlight.delete(delivery));
      inFlight.add(delivery);
      const workflowId = messageWorkflowId(input.accountId, input.conversationId, input.messageId);
      return Promise.resolve({ workflowId, duplicate: false });
    },
  });

  async function deliver(agent: AgentConfig, message: Omit<MessageDeliveryInput, 'policy'>) {
    const { accountId, conversationId } = message;
    const workflowId = messageWorkflowId(accountId, conversationId, message.messageId);
    const output = await runAgentExchange(agent, turnFromMessage(agent.id, 1, message), {
      onReply: async (reply, index) => {
        // Marked like the bridge's posts, so duplicate checks read both paths alike.
        await chatwoot.createMessage(accountId, conversationId, {
          content: reply.content,
          message_type: 'outgoing',
          private: false,
          content_type: 'text',
          content_attributes: { [MARKER_ATTRIBUTE]: bridgeSourceId(workflowId, index) },
        });
      },
    });
    if (output.outcome === 'failed') throw new Error(`${output.reason}: ${output.detail}`);
  }

  async function idle(): Promise<void> {
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  }

  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    webhookUrl: `http://127.0.0.1:${port}/webhook/chatwoot`,
    failures,
    idle,
    async close() {
      await idle();
      await app.close();
    },
  };
}
