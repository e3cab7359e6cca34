import Fastify from 'fastify';
import type { AgentRequest } from '../agents/bridgeV1.js';
import { runBridgeV1Exchange } from '../agents/wsExchange.js';
import { ChatwootClient } from '../chatwoot/client.js';
import { verifyWebhook } from '../chatwoot/signature.js';
import { bridgeSourceId, isBridgeSourceId } from '../chatwoot/sourceId.js';
import {
  inboxIdOf,
  isContactSender,
  messageCreatedSchema,
  type MessageCreatedWebhook,
} from '../chatwoot/webhookSchema.js';
import type { AgentConfig, BridgeConfig } from '../config/schema.js';
import { messageWorkflowId } from '../workflows/shared.js';

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
 * The baseline: the bridge's webhook → agent → Chatwoot path with no Temporal in between.
 * Same signature check, payload schema, exchange and Chatwoot client as the real bridge; the
 * work runs in this process right after the webhook is answered, so a crash would lose it.
 */
export async function startDirectBridge(config: BridgeConfig): Promise<DirectBridge> {
  const agents = new Map(config.agents.map((agent) => [agent.id, agent]));
  const routes = new Map(config.routes.map((route) => [route.inboxId, agents.get(route.agentId)]));
  const chatwoot = new ChatwootClient({
    baseUrl: config.chatwoot.baseUrl,
    apiAccessToken: config.chatwoot.apiAccessToken,
    timeoutMs: config.delivery.chatwootRequestTimeoutMs,
  });
  const failures: string[] = [];
  const inFlight = new Set<Promise<void>>();

  const app = Fastify({ logger: false, bodyLimit: config.webhook.maxBodyBytes });
  // The signature covers the raw bytes.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body);
  });

  app.post<{ Querystring: { token?: string } }>('/webhook/chatwoot', async (request, reply) => {
    const rawBody = request.body as Buffer;
    const check = verifyWebhook(
      {
        rawBody,
        signature: header(request.headers['x-chatwoot-signature']),
        timestamp: header(request.headers['x-chatwoot-timestamp']),
        urlToken: request.query.token,
      },
      config.webhook.secrets,
      { toleranceSeconds: config.webhook.toleranceSeconds },
    );
    if (!check.ok) return reply.code(401).send({ error: 'unauthorized', reason: check.reason });

    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return reply.code(400).send({ error: 'invalid_payload' });
    }
    const parsed = messageCreatedSchema.safeParse(json);
    if (!parsed.success) return reply.code(400).send({ error: 'invalid_payload' });
    const message = parsed.data;
    const agent = routes.get(inboxIdOf(message));
    if (!agent || !isForAgent(message)) return reply.send({ result: 'ignored' });

    // "Accepted" here means queued in memory; the real bridge waits for Temporal instead.
    const delivery = deliver(agent, message)
      .catch((error: unknown) => {
        failures.push(error instanceof Error ? error.message : String(error));
      })
      .finally(() => inFlight.delete(delivery));
    inFlight.add(delivery);
    return reply.send({ result: 'started' });
  });

  async function deliver(agent: AgentConfig, message: MessageCreatedWebhook): Promise<void> {
    const accountId = message.account.id;
    const conversationId = message.conversation.id;
    const workflowId = messageWorkflowId(accountId, conversationId, message.id);
    const output = await runBridgeV1Exchange(agent, agentRequest(agent, message), {
      onReply: async (reply, index) => {
        // Same source_id as the bridge, so duplicate checks read both paths alike.
        await chatwoot.createMessage(accountId, conversationId, {
          content: reply.content,
          message_type: 'outgoing',
          private: false,
          content_type: 'text',
          source_id: bridgeSourceId(workflowId, index),
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

/** The bridge's own filter, minus the parts the benchmark never exercises. */
function isForAgent(message: MessageCreatedWebhook): boolean {
  return (
    !isBridgeSourceId(message.source_id) &&
    !message.private &&
    message.message_type === 'incoming' &&
    isContactSender(message.sender) &&
    Boolean(message.content?.trim() || message.attachments?.length)
  );
}

/** The request the exchange activity builds, attempt 1. */
function agentRequest(agent: AgentConfig, message: MessageCreatedWebhook): AgentRequest {
  const accountId = message.account.id;
  const conversationId = message.conversation.id;
  return {
    message_id: String(message.id),
    conversation_id: String(conversationId),
    inbox_id: String(inboxIdOf(message)),
    account_id: String(accountId),
    session_id: `${agent.id}:${accountId}:${conversationId}`,
    content: message.content ?? '',
    attachments: message.attachments ?? [],
    sender: {
      id: message.sender?.id,
      name: message.sender?.name ?? null,
      email: message.sender?.email ?? null,
      phone_number: message.sender?.phone_number ?? null,
    },
    metadata: { attempt: 1, chatwoot_message_id: message.id },
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
