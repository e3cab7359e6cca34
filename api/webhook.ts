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
import type { BridgeConfig, RouteConfig } from '../config/schema.js';
import { matchRoute, routingFacts } from '../routing/matchRoute.js';
import type { StartResult } from './deliveries.js';
import { TemporalUnavailableError } from './deliveries.js';
import type { MessageDeliveryInput } from '../workflows/shared.js';

export type StartDelivery = (input: Omit<MessageDeliveryInput, 'policy'>) => Promise<StartResult>;

interface WebhookDeps {
  config: BridgeConfig;
  startDelivery: StartDelivery;
  /** The routes in force now (a configuration reload replaces them); default: `config.routes`. */
  routes?: () => readonly RouteConfig[];
}

/**
 * `POST /webhook/chatwoot`: verify, validate, filter, then hand the message to Temporal.
 * Answers 200 only once Temporal has durably accepted the work (or the event is ignored).
 */
export function webhookRoutes(
  app: FastifyInstance,
  { config, startDelivery, routes = () => config.routes }: WebhookDeps,
): void {
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

    const route = matchRoute(routes(), routingFacts(message));
    const skip = skipReason(message, route);
    if (skip) {
      log.info({ reason: skip }, 'webhook ignored');
      return ignored(reply, skip);
    }
    const inboxId = inboxIdOf(message);
    try {
      const result = await startDelivery({
        accountId: message.account.id,
        conversationId: message.conversation.id,
        inboxId,
        messageId: message.id,
        agentId: (route as RouteConfig).agentId,
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
      return reply.send({
        result: result.duplicate ? 'duplicate' : 'started',
        workflowId: result.workflowId,
      });
    } catch (error) {
      if (!(error instanceof TemporalUnavailableError)) throw error;
      log.error({ err: error }, 'Temporal unavailable; asking Chatwoot to retry');
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
  route: RouteConfig | undefined,
): string | undefined {
  if (isBridgeSourceId(message.source_id)) return 'own message';
  if (message.private) return 'private note';
  if (message.message_type !== 'incoming') return `${message.message_type} message`;
  if (!isContactSender(message.sender)) return `sent by ${message.sender?.type ?? 'unknown'}`;
  if (!message.content?.trim() && !message.attachments?.length) return 'empty message';
  if (!route) return `inbox ${inboxIdOf(message)} is not routed to an agent (no route matches)`;
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
