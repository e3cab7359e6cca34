import { routeSettings } from '../api/deliveries.js';
import type { BridgeConfig } from '../config/schema.js';
import { matchRoute, routingFacts } from '../routing/matchRoute.js';
import type { SubmittedAnswer } from '../workflows/shared.js';
import {
  customerTurn,
  type ConversationTarget,
  type CustomerMessageEvent,
  type WebhookDecision,
} from './events.js';
import { conversationFacts } from './ownership.js';
import { isBridgeMessage } from './sourceId.js';
import { inboxIdOf, messageCreatedSchema, type MessageCreatedWebhook } from './webhookSchema.js';

/**
 * `message_updated`: Chatwoot sends the whole message again after any update of it. Only one
 * kind is a turn for the agent: the customer answered one of the bot's own interactive messages
 * (`input_select` buttons, a `form`) in the widget, which writes the answer into that message's
 * `content_attributes.submitted_values` (Api::V1::Widget::MessagesController#update). The turn
 * runs under the bot message's id: a retried webhook, or a later update of the same message
 * (a delivery status, a `source_id` written after the send) that still carries the answer, is
 * a duplicate the conversation actor drops, so each answer is one turn. Everything else (CSAT
 * ratings, edits, statuses, answers to messages the bot did not send) is ignored, with a reason.
 */
export function classifyMessageUpdate(payload: unknown, config: BridgeConfig): WebhookDecision {
  // The same `Message#webhook_data` as `message_created`, read with the same schema.
  const parsed = messageCreatedSchema.safeParse({ ...asRecord(payload), event: 'message_created' });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || '(root)';
    return { kind: 'invalid', field, message: `${field}: ${issue?.message ?? 'invalid'}` };
  }
  const message = parsed.data;
  const contentType = message.content_type ?? 'text';
  if (contentType === 'input_csat') {
    return { kind: 'ignore', reason: 'CSAT survey response (input_csat): not a turn' };
  }
  if (!isBridgeMessage(message)) {
    return { kind: 'ignore', reason: 'update of a message the bot did not send: not a turn' };
  }
  if (contentType !== 'input_select' && contentType !== 'form') {
    return { kind: 'ignore', reason: `update of the bot's ${contentType} message: not an answer` };
  }
  const values = submittedValues(message.content_attributes?.submitted_values);
  if (values.length === 0) {
    return { kind: 'ignore', reason: 'update without submitted values (status, source id…)' };
  }
  const agentId = matchRoute(config.routes, routingFacts(message))?.agentId;
  if (agentId === undefined) return { kind: 'ignore', reason: 'not routed' };
  const target: ConversationTarget = {
    accountId: message.account.id,
    conversationId: message.conversation.id,
    inboxId: inboxIdOf(message),
  };
  const answer: SubmittedAnswer = { messageId: message.id, contentType, values };
  const route = routeSettings(config, agentId);
  const signal: CustomerMessageEvent = {
    type: 'customer_message',
    route,
    message: {
      messageId: message.id,
      inboxId: target.inboxId,
      content: answerText(answer),
      attachments: [],
      sender: contactOf(message),
      submittedValues: answer,
    },
    conversation: conversationFacts(message.conversation, config.conversation.botAssigneeIds),
  };
  return customerTurn(target, signal, route, message.id);
}

/** The answer as the agent reads it: `Selected: Blue`, `Form: name=Ada, email=ada@example.com`. */
export function answerText(answer: SubmittedAnswer): string {
  if (answer.contentType === 'input_select') {
    return `Selected: ${answer.values.map((v) => v.title ?? text(v.value)).join(', ')}`;
  }
  return `Form: ${answer.values.map((v) => `${v.name ?? v.title ?? '?'}=${text(v.value)}`).join(', ')}`;
}

/** Most fields a form answer keeps, and the longest text kept per value. */
const MAX_VALUES = 50;
const MAX_VALUE_CHARS = 2_000;

/** `[{name?, title?, value}]` with only those keys, each of a plain type; anything else dropped. */
function submittedValues(raw: unknown): SubmittedAnswer['values'] {
  if (!Array.isArray(raw)) return [];
  const values: SubmittedAnswer['values'] = [];
  for (const entry of raw.slice(0, MAX_VALUES)) {
    if (typeof entry !== 'object' || entry === null || !('value' in entry)) continue;
    const { name, title, value } = entry as Record<string, unknown>;
    values.push({
      ...(typeof name === 'string' ? { name: name.slice(0, MAX_VALUE_CHARS) } : {}),
      ...(typeof title === 'string' ? { title: title.slice(0, MAX_VALUE_CHARS) } : {}),
      value: plain(value),
    });
  }
  return values;
}

function plain(value: unknown): unknown {
  if (typeof value === 'string') return value.slice(0, MAX_VALUE_CHARS);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  return text(value).slice(0, MAX_VALUE_CHARS);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

/** The update's sender is the bot; the customer is the conversation's contact (`meta.sender`). */
function contactOf(message: MessageCreatedWebhook): CustomerMessageEvent['message']['sender'] {
  const sender = asRecord(asRecord(message.conversation.meta).sender);
  const field = (key: string) => (typeof sender[key] === 'string' ? sender[key] : null);
  return {
    ...(typeof sender.id === 'number' ? { id: sender.id } : {}),
    name: field('name'),
    email: field('email'),
    phone_number: field('phone_number'),
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
