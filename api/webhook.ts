import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  accountIdOf,
  changeOf,
  conversationWebhookSchema,
  webwidgetTriggeredSchema,
} from '../chatwoot/conversationEventSchema.js';
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
import { matchRoute, routingFacts, type RoutingFacts } from '../routing/matchRoute.js';
import { messageWorkflowId, type ConversationSignal } from '../workflows/shared.js';
import type { ConversationGateway, ConversationTarget } from './conversations.js';
import { routeSettings, TemporalUnavailableError } from './deliveries.js';

interface WebhookDeps {
  /** Secrets and limits: fixed at start-up. */
  config: BridgeConfig;
  /** The configuration in force now (a reload replaces routes and agents); default: `config`. */
  current?: () => BridgeConfig;
  conversations: ConversationGateway;
  metrics: ApiMetrics;
}

/** Conversation events the actor acts on (human takeover, resolve, greeting). */
const CONVERSATION_EVENTS = new Set([
  'conversation_created',
  'conversation_status_changed',
  'conversation_updated',
  'conversation_opened',
  'conversation_resolved',
]);

/**
 * `POST /webhook/chatwoot`: verify, validate, filter, then hand the event to the conversation's
 * actor. Answers 200 only once Temporal has durably accepted it (or the event is ignored).
 * `?wait=<ms>` (customer messages): answer with the first reply when it comes in time.
 */
export function webhookRoutes(
  app: FastifyInstance,
  { config, current = () => config, conversations, metrics }: WebhookDeps,
): void {
  // Keep the raw bytes: the signature covers the body exactly as sent.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body);
  });

  app.post<{ Querystring: { token?: string; wait?: string } }>(
    '/webhook/chatwoot',
    async (request, reply) => {
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
      const live = current();
      const agentFor = (facts: RoutingFacts) => matchRoute(live.routes, facts)?.agentId;
      const waitMs = parseWait(request.query.wait, live.conversation.maxWaitMs);
      if (waitMs instanceof Error) return badRequest(reply, 'wait', waitMs.message);

      let json: unknown;
      try {
        json = JSON.parse(rawBody.toString('utf8'));
      } catch {
        return badRequest(reply, '(body)', 'body is not valid JSON');
      }
      const envelope = webhookEnvelopeSchema.safeParse(json);
      if (!envelope.success) return badRequest(reply, 'event', 'a string "event" is required');
      const { event } = envelope.data;
      const ignore = (reason: string) => {
        metrics.webhookIgnored(reason);
        return ignored(reply, reason);
      };
      const log = request.log.child({
        // Kept by Chatwoot across its retries: ties the retries of one delivery together in logs.
        chatwootDelivery: header(request.headers['x-chatwoot-delivery']),
        event,
      });

      try {
        if (event === 'message_created') return await onMessageCreated(json, waitMs);
        if (CONVERSATION_EVENTS.has(event)) return await onConversationEvent(json);
        if (event === 'webwidget_triggered') return await onWidgetTriggered(json);
        return ignore(`event ${event} is not handled`);
      } catch (error) {
        if (!(error instanceof TemporalUnavailableError)) throw error;
        log.error({ err: error }, 'Temporal unavailable; asking Chatwoot to retry');
        metrics.webhookRejected('temporal unavailable');
        return reply.code(503).header('retry-after', '5').send({
          error: 'temporal_unavailable',
          reason: 'the event was not accepted; retry later',
        });
      }

      async function onMessageCreated(body: unknown, wait: number | undefined) {
        const parsed = messageCreatedSchema.safeParse(body);
        if (!parsed.success) return invalid(reply, parsed.error);
        const message = parsed.data;
        const target: ConversationTarget = {
          accountId: message.account.id,
          conversationId: message.conversation.id,
          inboxId: inboxIdOf(message),
        };
        const messageLog = log.child({ ...target, messageId: message.id });

        const human = humanMessage(message);
        if (human) {
          const result = await conversations.notify(target, human, { start: false });
          messageLog.info({ delivered: result.delivered }, 'human agent replied');
          return reply.send({
            result: result.delivered ? 'accepted' : 'ignored',
            reason: result.delivered ? 'human agent replied' : 'no active conversation actor',
            conversationWorkflowId: result.conversationWorkflowId,
          });
        }
        const agentId = agentFor(routingFacts(message));
        const skip = skipReason(message, agentId);
        if (skip) {
          messageLog.info({ reason: skip }, 'webhook ignored');
          return ignore(skip);
        }
        const route = routeSettings(live, agentId as string);
        const result = await conversations.sendCustomerMessage(
          target,
          {
            type: 'customer_message',
            route,
            message: {
              messageId: message.id,
              inboxId: target.inboxId,
              content: message.content ?? '',
              attachments: message.attachments ?? [],
              sender: {
                id: message.sender?.id,
                name: message.sender?.name ?? null,
                email: message.sender?.email ?? null,
                phone_number: message.sender?.phone_number ?? null,
              },
            },
          },
          wait,
        );
        // Merged turns run under their newest message's id; single ones under their own.
        const ownWorkflowId =
          route.debounce || route.abortOnNewer
            ? undefined
            : messageWorkflowId(target.accountId, target.conversationId, message.id);
        messageLog.info(
          { conversationWorkflowId: result.conversationWorkflowId, status: result.status },
          'message accepted',
        );
        metrics.webhookAccepted(route.agentId);
        if (result.reply) {
          return reply.send({
            result: 'replied',
            reply: { content: result.reply.content },
            workflowId: result.reply.workflowId,
            conversationWorkflowId: result.conversationWorkflowId,
          });
        }
        return reply.code(wait ? 202 : 200).send({
          result: 'accepted',
          ...(ownWorkflowId ? { workflowId: ownWorkflowId } : {}),
          conversationWorkflowId: result.conversationWorkflowId,
        });
      }

      async function onConversationEvent(body: unknown) {
        const parsed = conversationWebhookSchema.safeParse(body);
        if (!parsed.success) return invalid(reply, parsed.error);
        const payload = parsed.data;
        const accountId = accountIdOf(payload) ?? live.chatwoot.accountId;
        if (accountId === undefined) {
          return ignore('no account id in the payload; set chatwoot.accountId');
        }
        const target = { accountId, conversationId: payload.id, inboxId: payload.inbox_id };
        const signal = conversationSignal(event, payload, live);
        if (!signal) return ignore(`${event} does not concern the bot`);
        if (signal === 'greet') {
          const agentId = agentFor(conversationRoutingFacts(payload));
          const agent = live.agents.find((candidate) => candidate.id === agentId);
          if (!agentId || !agent?.greeting.length) return ignore('no greeting configured');
          return greet(target, agentId, agent.greeting, 'conversation_created');
        }
        const result = await conversations.notify(target, signal, { start: false });
        log.info({ ...target, delivered: result.delivered, signal: signal.type }, 'event routed');
        return reply.send({
          result: result.delivered ? 'accepted' : 'ignored',
          ...(result.delivered ? {} : { reason: 'no active conversation actor' }),
          conversationWorkflowId: result.conversationWorkflowId,
        });
      }

      async function onWidgetTriggered(body: unknown) {
        const parsed = webwidgetTriggeredSchema.safeParse(body);
        if (!parsed.success) return invalid(reply, parsed.error);
        const payload = parsed.data;
        const conversation = payload.current_conversation;
        if (!conversation) return ignore('the widget has no conversation yet');
        const accountId = payload.account?.id ?? live.chatwoot.accountId;
        if (accountId === undefined) {
          return ignore('no account id in the payload; set chatwoot.accountId');
        }
        const inboxId = conversation.inbox_id ?? payload.inbox.id;
        const agentId = agentFor(conversationRoutingFacts({ ...conversation, inbox_id: inboxId }));
        const agent = live.agents.find((candidate) => candidate.id === agentId);
        if (!agentId || !agent?.greeting.length) return ignore('no greeting configured');
        return greet(
          { accountId, conversationId: conversation.id, inboxId },
          agentId,
          agent.greeting,
          'webwidget_triggered',
        );
      }

      async function greet(
        target: ConversationTarget,
        agentId: string,
        greeting: string[],
        trigger: 'conversation_created' | 'webwidget_triggered',
      ) {
        const signal: ConversationSignal = {
          type: 'greet',
          trigger,
          greeting,
          route: routeSettings(live, agentId),
        };
        const result = await conversations.notify(target, signal, { start: true });
        log.info({ ...target, trigger }, 'greeting requested');
        return reply.send({
          result: 'accepted',
          conversationWorkflowId: result.conversationWorkflowId,
        });
      }
    },
  );
}

/** A public reply by a human agent: the bot must go quiet. */
function humanMessage(message: MessageCreatedWebhook): ConversationSignal | undefined {
  if (message.message_type !== 'outgoing' || message.private) return undefined;
  if (isBridgeSourceId(message.source_id)) return undefined;
  if (message.sender?.type !== 'user') return undefined;
  return {
    type: 'human_message',
    messageId: message.id,
    senderName: message.sender.name ?? undefined,
  };
}

/** What a conversation-level webhook means to the actor, or undefined when nothing. */
function conversationSignal(
  event: string,
  payload: ReturnType<typeof conversationWebhookSchema.parse>,
  config: BridgeConfig,
): ConversationSignal | 'greet' | undefined {
  switch (event) {
    case 'conversation_created':
      return 'greet';
    case 'conversation_resolved':
      return { type: 'resolved' };
    case 'conversation_opened':
      return { type: 'status_changed', status: 'open' };
    case 'conversation_status_changed': {
      const change = changeOf(payload, 'status');
      const status = typeof change?.after === 'string' ? change.after : payload.status;
      if (!status) return undefined;
      const previousStatus = typeof change?.before === 'string' ? change.before : undefined;
      return status === 'resolved'
        ? { type: 'resolved' }
        : { type: 'status_changed', status, ...(previousStatus ? { previousStatus } : {}) };
    }
    case 'conversation_updated': {
      const change = changeOf(payload, 'assignee_id');
      if (!change) return undefined;
      const assigneeId = typeof change.after === 'number' ? change.after : null;
      const assignee = payload.meta?.assignee;
      return {
        type: 'assignee_changed',
        assigneeId,
        ...(assignee?.name ? { assigneeName: assignee.name } : {}),
        toBot: assigneeId !== null && config.conversation.botAssigneeIds.includes(assigneeId),
      };
    }
  }
  return undefined;
}

/** Why a valid `message_created` webhook is not for the agent, or undefined when it is. */
function skipReason(
  message: MessageCreatedWebhook,
  agentId: string | undefined,
): string | undefined {
  if (isBridgeSourceId(message.source_id)) return 'own message';
  if (message.private) return 'private note';
  if (message.message_type !== 'incoming') return `${message.message_type} message`;
  if (!isContactSender(message.sender)) return `sent by ${message.sender?.type ?? 'unknown'}`;
  if (!message.content?.trim() && !message.attachments?.length) return 'empty message';
  if (!agentId) return `inbox ${inboxIdOf(message)} is not routed to an agent (no route matches)`;
  return undefined;
}

/** Routing facts of a conversation-level payload (greetings are routed like messages). */
function conversationRoutingFacts(conversation: {
  inbox_id: number;
  labels?: unknown;
  custom_attributes?: unknown;
  meta?: unknown;
}): RoutingFacts {
  const meta = (conversation.meta ?? {}) as {
    team?: { id?: unknown } | null;
    sender?: { custom_attributes?: unknown } | null;
  };
  const record = (value: unknown) =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  return {
    inboxId: conversation.inbox_id,
    labels: Array.isArray(conversation.labels)
      ? conversation.labels.filter((label): label is string => typeof label === 'string')
      : [],
    ...(typeof meta.team?.id === 'number' ? { teamId: meta.team.id } : {}),
    conversationAttributes: record(conversation.custom_attributes),
    contactAttributes: record(meta.sender?.custom_attributes),
  };
}

/** `?wait=` in milliseconds, capped below Chatwoot's 5 s; absent or 0: do not wait. */
function parseWait(value: string | undefined, maxWaitMs: number): number | undefined | Error {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) return new Error('must be a whole number of milliseconds');
  const ms = Number(value);
  return ms === 0 ? undefined : Math.min(ms, maxWaitMs);
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function invalid(
  reply: FastifyReply,
  error: { issues: Array<{ path: PropertyKey[]; message: string }> },
) {
  const issue = error.issues[0];
  return badRequest(
    reply,
    issue?.path.map(String).join('.') || '(root)',
    issue?.message ?? 'invalid',
  );
}

function badRequest(reply: FastifyReply, field: string, message: string) {
  return reply.code(400).send({ error: 'invalid_payload', field, message: `${field}: ${message}` });
}

function ignored(reply: FastifyReply, reason: string) {
  return reply.code(200).send({ result: 'ignored', reason });
}
