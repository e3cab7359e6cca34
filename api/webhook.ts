import type { FastifyInstance, FastifyReply } from 'fastify';
import { verifyWebhook } from '../chatwoot/signature.js';
import { isBridgeSourceId } from '../chatwoot/sourceId.js';
import {
  inboxIdOf,
  isContactSender,
  messageCreatedSchema,
  webhookEnvelopeSchema,
  type MessageCreatedWebhook,
} from '../chatwoot/webhookSchema.js';
import type { BridgeConfig } from '../config/schema.js';
import type { ApiMetrics } from '../observability/metrics.js';
import type { StartResult } from './deliveries.js';
import { TemporalUnavailableError } from './deliveries.js';
import type { MessageDeliveryInput } from '../workflows/shared.js';

export type StartDelivery = (input: Omit<MessageDeliveryInput, 'policy'>) => Promise<StartResult>;

interface WebhookDeps {
  config: BridgeConfig;
  startDelivery: StartDelivery;
  metrics: ApiMetrics;
}

/**
 * `POST /webhook/chatwoot`: verify, validate, filter, then hand the message to Temporal.
 * Answers 200 only once Temporal has durably accepted the work (or the event is ignored).
 */
export function webhookRoutes(
  app: FastifyInstance,
  { config, startDelivery, metrics }: WebhookDeps,
): void {
  const routes = new Map(config.routes.map((route) => [route.inboxId, route.agentId]));

  // Keep the raw bytes: the signature covers the body exactly as sent.
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
    if (!check.ok) {
      request.log.warn({ reason: check.reason }, 'webhook rejected');
      metrics.webhookRejected(check.reason);
      return reply.code(401).send({ error: 'unauthorized', reason: check.reason });
    }

    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return badRequest(reply, '(body)', 'body is not valid JSON');
    }
    const envelope = webhookEnvelopeSchema.safeParse(json);
    if (!envelope.success) return badRequest(reply, 'event', 'a string "event" is required');
    if (envelope.data.event !== 'message_created') {
      metrics.webhookIgnored(`event ${envelope.data.event} is not handled`);
      return ignored(reply, `event ${envelope.data.event} is not handled`);
    }

    const parsed = messageCreatedSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return badRequest(reply, issue?.path.join('.') || '(root)', issue?.message ?? 'invalid');
    }
    const message = parsed.data;
    const log = request.log.child({
      // Kept by Chatwoot across its retries: ties the retries of one delivery together in logs.
      chatwootDelivery: header(request.headers['x-chatwoot-delivery']),
      accountId: message.account.id,
      conversationId: message.conversation.id,
      messageId: message.id,
    });

    const skip = skipReason(message, routes);
    if (skip) {
      log.info({ reason: skip }, 'webhook ignored');
      metrics.webhookIgnored(skip);
      return ignored(reply, skip);
    }
    const inboxId = inboxIdOf(message);
    try {
      const result = await startDelivery({
        accountId: message.account.id,
        conversationId: message.conversation.id,
        inboxId,
        messageId: message.id,
        agentId: routes.get(inboxId) as string,
        content: message.content ?? '',
        attachments: message.attachments ?? [],
        sender: {
          id: message.sender?.id,
          name: message.sender?.name ?? null,
          email: message.sender?.email ?? null,
          phone_number: message.sender?.phone_number ?? null,
        },
      });
      log.info({ workflowId: result.workflowId, duplicate: result.duplicate }, 'message accepted');
      metrics.webhookAccepted(routes.get(inboxId) as string, result.duplicate);
      return reply.send({
        result: result.duplicate ? 'duplicate' : 'started',
        workflowId: result.workflowId,
      });
    } catch (error) {
      if (!(error instanceof TemporalUnavailableError)) throw error;
      log.error({ err: error }, 'Temporal unavailable; asking Chatwoot to retry');
      metrics.webhookRejected('temporal unavailable');
      return reply.code(503).header('retry-after', '5').send({
        error: 'temporal_unavailable',
        reason: 'the message was not accepted; retry later',
      });
    }
  });
}

/** Why a valid `message_created` webhook is not for the agent, or undefined when it is. */
function skipReason(
  message: MessageCreatedWebhook,
  routes: Map<number, string>,
): string | undefined {
  if (isBridgeSourceId(message.source_id)) return 'own message';
  if (message.private) return 'private note';
  if (message.message_type !== 'incoming') return `${message.message_type} message`;
  if (!isContactSender(message.sender)) return `sent by ${message.sender?.type ?? 'unknown'}`;
  if (!message.content?.trim() && !message.attachments?.length) return 'empty message';
  const inboxId = inboxIdOf(message);
  if (!routes.has(inboxId)) return `inbox ${inboxId} is not routed to an agent`;
  return undefined;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function badRequest(reply: FastifyReply, field: string, message: string) {
  return reply.code(400).send({ error: 'invalid_payload', field, message: `${field}: ${message}` });
}

function ignored(reply: FastifyReply, reason: string) {
  return reply.code(200).send({ result: 'ignored', reason });
}
