import { routeSettings } from '../api/deliveries.js';
import type { BridgeConfig, RouteConfig } from '../config/schema.js';
import { matchRoute, routingFacts, type RoutingFacts } from '../routing/matchRoute.js';
import {
  messageWorkflowId,
  type Attachment,
  type ConversationFacts,
  type ConversationSignal,
  type HumanRequest,
} from '../workflows/shared.js';
import {
  accountIdOf,
  changeOf,
  conversationWebhookSchema,
  webwidgetTriggeredSchema,
  type ConversationWebhook,
} from './conversationEventSchema.js';
import { conversationLanguageOf, detectHumanRequest, labelAdded } from './humanRequest.js';
import { conversationFacts } from './ownership.js';
import { isBridgeMessage } from './sourceId.js';
import { classifyMessageUpdate } from './submittedAnswer.js';
import {
  inboxIdOf,
  isContactSender,
  messageCreatedSchema,
  webhookEnvelopeSchema,
  type MessageCreatedWebhook,
} from './webhookSchema.js';

export interface ConversationTarget {
  accountId: number;
  conversationId: number;
  inboxId: number;
}

export type CustomerMessageEvent = Extract<ConversationSignal, { type: 'customer_message' }>;
export type GreetEvent = Extract<ConversationSignal, { type: 'greet' }>;

/**
 * What one verified webhook means, decided from the payload and the configuration alone:
 * - `customer_turn`: a customer message for an agent (`workflowId`: its own delivery, when the
 *   agent does not merge turns);
 * - `notify`: anything else the actor must know (human reply, status, owner); `start` when the
 *   conversation is routed to an agent, so an actor starts and keeps the state;
 * - `greet`: post the agent's greeting (starts the actor);
 * - `ignore`: nothing to do, and why; `invalid`: the payload breaks Chatwoot's shape (400).
 */
export type WebhookDecision = { event?: string } & (
  | {
      kind: 'customer_turn';
      target: ConversationTarget;
      signal: CustomerMessageEvent;
      workflowId?: string;
    }
  | { kind: 'notify'; target: ConversationTarget; signal: ConversationSignal; start: boolean }
  | { kind: 'greet'; target: ConversationTarget; signal: GreetEvent }
  | { kind: 'ignore'; reason: string }
  | { kind: 'invalid'; field: string; message: string }
);

export type CustomerTurnDecision = Extract<WebhookDecision, { kind: 'customer_turn' }>;

/** Conversation events the actor acts on (human takeover, resolve, greeting). */
const CONVERSATION_EVENTS = new Set([
  'conversation_created',
  'conversation_status_changed',
  'conversation_updated',
  'conversation_opened',
  'conversation_resolved',
]);

/** Pure: the same payload and configuration always give the same decision; never throws. */
export function classify(payload: unknown, config: BridgeConfig): WebhookDecision {
  const envelope = webhookEnvelopeSchema.safeParse(payload);
  if (!envelope.success) {
    return { kind: 'invalid', field: 'event', message: 'a string "event" is required' };
  }
  const { event } = envelope.data;
  const decision = (): WebhookDecision => {
    if (event === 'message_created') return classifyMessage(payload, config);
    // An answer to the bot's buttons or form is a turn; CSAT and other updates are ignored.
    if (event === 'message_updated') return classifyMessageUpdate(payload, config);
    if (CONVERSATION_EVENTS.has(event)) return classifyConversationEvent(event, payload, config);
    if (event === 'webwidget_triggered') return classifyWidget(payload, config);
    return { kind: 'ignore', reason: `event ${event} is not handled` };
  };
  return { event, ...decision() };
}

function classifyMessage(payload: unknown, config: BridgeConfig): WebhookDecision {
  const parsed = messageCreatedSchema.safeParse(payload);
  if (!parsed.success) return invalid(parsed.error);
  const message = parsed.data;
  const target: ConversationTarget = {
    accountId: message.account.id,
    conversationId: message.conversation.id,
    inboxId: inboxIdOf(message),
  };
  const matched = matchRoute(config.routes, routingFacts(message));
  const agentId = matched?.agentId;
  const conversation = conversationFacts(message.conversation, config.conversation.botAssigneeIds);
  // The marker in `content_attributes` (or, from older bridges, `source_id`) survives channels.
  if (isBridgeMessage(message)) return { kind: 'ignore', reason: 'own message' };
  if (isHumanReply(message)) {
    // A post whose marker was lost (older bridges on channels that rewrite `source_id`) comes
    // back as a human's: the actor also recognises its own messages by their Chatwoot id.
    const signal: ConversationSignal = {
      type: 'human_message',
      messageId: message.id,
      ...(message.sender?.name ? { senderName: message.sender.name } : {}),
      conversation,
    };
    return { kind: 'notify', target, signal, start: agentId !== undefined };
  }
  const skip = skipReason(message, agentId);
  if (skip || agentId === undefined) return { kind: 'ignore', reason: skip ?? 'not routed' };
  const route = routeSettings(config, agentId);
  const createdAtMs = epochMs(message.created_at);
  const signal: CustomerMessageEvent = {
    type: 'customer_message',
    route,
    message: {
      messageId: message.id,
      inboxId: target.inboxId,
      content: message.content ?? '',
      attachments: (message.attachments ?? []).map(knownAttachmentFields),
      sender: {
        ...(message.sender?.id !== undefined ? { id: message.sender.id } : {}),
        name: message.sender?.name ?? null,
        email: message.sender?.email ?? null,
        phone_number: message.sender?.phone_number ?? null,
      },
      ...(createdAtMs !== undefined ? { createdAtMs } : {}),
    },
    conversation,
  };
  const humanRequest = askedForHuman(message, matched);
  if (humanRequest) {
    // No turn, so no delivery workflow to name.
    return { kind: 'customer_turn', target, signal: { ...signal, humanRequest } };
  }
  return customerTurn(target, signal, route, message.id);
}

/**
 * A customer turn for the actor. Merged turns run under their newest message's id, so only a
 * single one can name its delivery workflow now.
 */
export function customerTurn(
  target: ConversationTarget,
  signal: CustomerMessageEvent,
  route: { debounce?: unknown; abortOnNewer: boolean },
  messageId: number,
): WebhookDecision {
  const merges = route.debounce !== undefined || route.abortOnNewer;
  return {
    kind: 'customer_turn',
    target,
    signal,
    ...(merges
      ? {}
      : { workflowId: messageWorkflowId(target.accountId, target.conversationId, messageId) }),
  };
}

function classifyConversationEvent(
  event: string,
  body: unknown,
  config: BridgeConfig,
): WebhookDecision {
  const parsed = conversationWebhookSchema.safeParse(body);
  if (!parsed.success) return invalid(parsed.error);
  const payload = parsed.data;
  const accountId = accountIdOf(payload) ?? config.chatwoot.accountId;
  if (accountId === undefined) {
    return { kind: 'ignore', reason: 'no account id in the payload; set chatwoot.accountId' };
  }
  const target = { accountId, conversationId: payload.id, inboxId: payload.inbox_id };
  const matched = matchRoute(config.routes, conversationRoutingFacts(payload));
  const agentId = matched?.agentId;
  if (event === 'conversation_created') return greeting(config, target, agentId, event);
  const facts = conversationFacts(payload, config.conversation.botAssigneeIds);
  const signal = conversationSignal(event, payload, facts, config);
  const byLabel = event === 'conversation_updated' && labelRequest(payload, matched, facts, config);
  // A label asks for a person, unless the same change already gave the conversation to one.
  if (
    byLabel &&
    !(signal?.type === 'assignee_changed' && !signal.toBot && signal.assigneeId !== null)
  ) {
    return { kind: 'notify', target, signal: byLabel, start: true };
  }
  if (!signal) return { kind: 'ignore', reason: `${event} does not concern the bot` };
  return { kind: 'notify', target, signal, start: agentId !== undefined };
}

function classifyWidget(body: unknown, config: BridgeConfig): WebhookDecision {
  const parsed = webwidgetTriggeredSchema.safeParse(body);
  if (!parsed.success) return invalid(parsed.error);
  const payload = parsed.data;
  const conversation = payload.current_conversation;
  if (!conversation) return { kind: 'ignore', reason: 'the widget has no conversation yet' };
  const accountId = payload.account?.id ?? config.chatwoot.accountId;
  if (accountId === undefined) {
    return { kind: 'ignore', reason: 'no account id in the payload; set chatwoot.accountId' };
  }
  const inboxId = conversation.inbox_id ?? payload.inbox.id;
  const agentId = agentFor(
    config,
    conversationRoutingFacts({ ...conversation, inbox_id: inboxId }),
  );
  const target = { accountId, conversationId: conversation.id, inboxId };
  return greeting(config, target, agentId, 'webwidget_triggered');
}

function greeting(
  config: BridgeConfig,
  target: ConversationTarget,
  agentId: string | undefined,
  trigger: GreetEvent['trigger'],
): WebhookDecision {
  const agent = config.agents.find((candidate) => candidate.id === agentId);
  if (!agentId || !agent?.greeting.length)
    return { kind: 'ignore', reason: 'no greeting configured' };
  const signal: GreetEvent = {
    type: 'greet',
    trigger,
    greeting: agent.greeting,
    route: routeSettings(config, agentId),
  };
  return { kind: 'greet', target, signal };
}

/** What a conversation-level webhook means to the actor, or undefined when nothing. */
function conversationSignal(
  event: string,
  payload: ConversationWebhook,
  conversation: ConversationFacts,
  config: BridgeConfig,
): ConversationSignal | undefined {
  switch (event) {
    case 'conversation_resolved':
      return { type: 'resolved', conversation };
    case 'conversation_opened':
      return { type: 'status_changed', status: 'open', conversation };
    case 'conversation_status_changed': {
      const change = changeOf(payload, 'status');
      const status = typeof change?.after === 'string' ? change.after : payload.status;
      if (!status) return undefined;
      const previousStatus = typeof change?.before === 'string' ? change.before : undefined;
      return status === 'resolved'
        ? { type: 'resolved', conversation }
        : {
            type: 'status_changed',
            status,
            ...(previousStatus ? { previousStatus } : {}),
            conversation,
          };
    }
    case 'conversation_updated':
      return assigneeChange(payload, conversation, config.conversation.botAssigneeIds);
  }
  return undefined;
}

/**
 * A change of owner. Old payloads list `assignee_id`; Chatwoot 4.16+ also lists
 * `assignee_agent_bot_id` when the agent bot (or Captain) takes or loses the conversation. The
 * change is the event; `meta` (the state when Chatwoot sent it) tells a bot from a person when
 * the change alone cannot. An assignment to the bot resumes it; it is not a human takeover.
 */
function assigneeChange(
  payload: ConversationWebhook,
  conversation: ConversationFacts,
  botAssigneeIds: readonly number[],
): ConversationSignal | undefined {
  const user = changeOf(payload, 'assignee_id');
  const bot = changeOf(payload, 'assignee_agent_bot_id');
  if (!user && !bot) return undefined;
  const botAfter = wholeNumber(bot?.after);
  const userAfter = wholeNumber(user?.after);
  let owner: 'human' | 'bot' | 'none';
  let assigneeId: number | null;
  if (botAfter !== undefined) [owner, assigneeId] = ['bot', botAfter];
  else if (userAfter !== undefined) {
    owner = botAssigneeIds.includes(userAfter) ? 'bot' : 'human';
    assigneeId = userAfter;
  } else {
    owner = conversation.owner === 'bot' ? 'bot' : 'none';
    assigneeId = owner === 'bot' ? (payload.meta?.assignee?.id ?? null) : null;
  }
  const assignee = payload.meta?.assignee;
  const name = conversation.ownerName ?? assignee?.available_name ?? assignee?.name ?? undefined;
  return {
    type: 'assignee_changed',
    assigneeId,
    ...(owner === 'human' && name ? { assigneeName: name } : {}),
    toBot: owner === 'bot',
    conversation: {
      ...conversation,
      owner,
      ...(owner === 'human' && name ? { ownerName: name } : {}),
    },
  };
}

/** The customer's message asks for a person (`routes[].humanRequest`), or undefined. */
function askedForHuman(
  message: MessageCreatedWebhook,
  route: RouteConfig | undefined,
): HumanRequest | undefined {
  if (!route?.humanRequest || !message.content) return undefined;
  const match = detectHumanRequest(
    message.content,
    route.humanRequest,
    conversationLanguageOf(message),
  );
  if (!match) return undefined;
  return {
    reason: `the customer asked for a person ("${match.phrase}")`,
    ...(match.acknowledgement !== undefined ? { acknowledgement: match.acknowledgement } : {}),
    note: `The customer asked for a person (message ${message.id}, "${match.phrase}"): handed to the team without asking the AI agent "${route.agentId}". The bot stays quiet until the conversation is back in pending or assigned to the bot.`,
    key: `message-${message.id}`,
  };
}

/** A `conversation_updated` that adds the route's `humanRequest.label`: a hand-over, no acknowledgement. */
function labelRequest(
  payload: ConversationWebhook,
  route: RouteConfig | undefined,
  conversation: ConversationFacts,
  config: BridgeConfig,
): ConversationSignal | undefined {
  const settings = route?.humanRequest;
  if (!route || !settings?.enabled || settings.label === undefined) return undefined;
  if (!labelAdded(changeOf(payload, 'label_list'), settings.label)) return undefined;
  // A retried webhook carries the same `updated_at`: the same key, so the same posts.
  const updatedAt =
    typeof payload.updated_at === 'number' ? Math.round(payload.updated_at * 1000) : 0;
  return {
    type: 'human_requested',
    request: {
      reason: `label "${settings.label}" added`,
      note: `The label "${settings.label}" was added: handed to the team without asking the AI agent "${route.agentId}". The bot stays quiet until the conversation is back in pending or assigned to the bot.`,
      key: `label-${updatedAt}`,
    },
    route: routeSettings(config, route.agentId),
    conversation,
  };
}

/** A public reply by a human agent (not the bridge's own, by marker): the bot must go quiet. */
function isHumanReply(message: MessageCreatedWebhook): boolean {
  return message.message_type === 'outgoing' && !message.private && message.sender?.type === 'user';
}

/** Why a valid `message_created` webhook is not for the agent, or undefined when it is. */
function skipReason(
  message: MessageCreatedWebhook,
  agentId: string | undefined,
): string | undefined {
  if (message.private) return 'private note';
  if (message.message_type !== 'incoming') return `${message.message_type} message`;
  if (!isContactSender(message.sender)) return `sent by ${message.sender?.type ?? 'unknown'}`;
  if (!message.content?.trim() && !message.attachments?.length) return 'empty message';
  if (!agentId) return `inbox ${inboxIdOf(message)} is not routed to an agent (no route matches)`;
  return undefined;
}

function agentFor(config: BridgeConfig, facts: RoutingFacts): string | undefined {
  return matchRoute(config.routes, facts)?.agentId;
}

/**
 * Only the attachment fields the bridge knows, each of the right type: whatever else a sender
 * puts there (any depth, any size) never reaches Temporal.
 */
function knownAttachmentFields(attachment: Record<string, unknown>): Attachment {
  const known: Attachment = {};
  if (typeof attachment.id === 'number') known.id = attachment.id;
  if (typeof attachment.file_type === 'string') known.file_type = attachment.file_type;
  if (typeof attachment.data_url === 'string') known.data_url = attachment.data_url;
  if (typeof attachment.thumb_url === 'string') known.thumb_url = attachment.thumb_url;
  // What else Chatwoot says of a file: the agent may use it (a voice note's size, its transcript).
  if (typeof attachment.extension === 'string') known.extension = attachment.extension;
  if (typeof attachment.file_size === 'number') known.file_size = attachment.file_size;
  if (typeof attachment.width === 'number') known.width = attachment.width;
  if (typeof attachment.height === 'number') known.height = attachment.height;
  if (typeof attachment.transcribed_text === 'string') {
    known.transcribed_text = attachment.transcribed_text;
  }
  return known;
}

/** Chatwoot's `created_at`: ISO text in `Message#webhook_data`, unix seconds in push data. */
function epochMs(value: unknown): number | undefined {
  const ms =
    typeof value === 'string'
      ? Date.parse(value)
      : typeof value === 'number'
        ? value < 1e12
          ? value * 1000
          : value
        : Number.NaN;
  return Number.isFinite(ms) && ms > 0 ? Math.round(ms) : undefined;
}

function wholeNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

/** Routing facts of a conversation-level payload (greetings are routed like messages). */
function conversationRoutingFacts(conversation: {
  inbox_id: number;
  labels?: unknown;
  custom_attributes?: unknown;
  meta?: unknown;
}): RoutingFacts {
  const meta = record(conversation.meta);
  const team = record(meta.team);
  const sender = record(meta.sender);
  return {
    inboxId: conversation.inbox_id,
    labels: Array.isArray(conversation.labels)
      ? conversation.labels.filter((label): label is string => typeof label === 'string')
      : [],
    ...(typeof team.id === 'number' ? { teamId: team.id } : {}),
    conversationAttributes: record(conversation.custom_attributes),
    contactAttributes: record(sender.custom_attributes),
  };
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function invalid(error: {
  issues: Array<{ path: PropertyKey[]; message: string }>;
}): WebhookDecision {
  const issue = error.issues[0];
  const field = issue?.path.map(String).join('.') || '(root)';
  return { kind: 'invalid', field, message: `${field}: ${issue?.message ?? 'invalid'}` };
}
