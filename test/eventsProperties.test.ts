import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classify } from '../chatwoot/events.js';
import { bridgeSourceId, isBridgeSourceId } from '../chatwoot/sourceId.js';
import {
  conversationEventPayload,
  messageCreatedPayload,
  type ConversationEvent,
  type MessageOptions,
} from '../sandbox/chatwootWebhooks.js';
import { classifierConfig, ROUTED_INBOXES } from './helpers/eventsConfig.js';

/** Seeded, so a failure is reproducible; the seed is printed by fast-check when one fails. */
const runs = { seed: 20261201, numRuns: 500 };
const config = classifierConfig();
const KINDS = ['customer_turn', 'notify', 'greet', 'ignore', 'invalid'];

/** The documented rules for `message_created`, written independently of the classifier. */
function expectedKind(
  options: Required<Pick<MessageOptions, 'messageType' | 'private' | 'inboxId'>> & MessageOptions,
): string {
  const sender = options.sender === undefined ? 'contact' : options.sender;
  if (isBridgeSourceId(options.sourceId)) return 'ignore';
  if (options.messageType === 'outgoing' && !options.private && sender === 'user') return 'notify';
  if (options.private) return 'ignore';
  if (options.messageType !== 'incoming') return 'ignore';
  if (sender !== 'contact' && sender !== null) return 'ignore';
  const hasText = typeof options.content === 'string' && options.content.trim() !== '';
  if (!hasText && !options.attachments?.length) return 'ignore';
  if (!ROUTED_INBOXES.includes(options.inboxId)) return 'ignore';
  return 'customer_turn';
}

const messageOptions = fc.record({
  conversationId: fc.integer({ min: 1, max: 1_000_000 }),
  messageId: fc.integer({ min: 1, max: 1_000_000_000 }),
  inboxId: fc.constantFrom(7, 8, 9, 99),
  messageType: fc.constantFrom('incoming', 'outgoing', 'activity', 'template'),
  private: fc.boolean(),
  sender: fc.constantFrom('contact', 'user', 'agent_bot', null),
  content: fc.oneof(fc.constant(null), fc.constant(''), fc.constant('  '), fc.string()),
  sourceId: fc.oneof(
    fc.constant(null),
    fc.constant(bridgeSourceId('message:1:2:3', 0)),
    fc.constant('SM0123456789'),
    fc.string(),
  ),
  attachments: fc.option(
    fc.array(
      fc.record({
        id: fc.nat(),
        file_type: fc.constantFrom('image', 'file', 'audio'),
        data_url: fc.webUrl(),
      }),
      { maxLength: 3 },
    ),
    { nil: undefined },
  ),
  status: fc.constantFrom('open', 'pending', 'resolved', 'snoozed'),
  assignee: fc.option(
    fc.record({
      kind: fc.constantFrom('user', 'agent_bot', 'captain'),
      id: fc.integer({ min: 1, max: 20 }),
    }),
    { nil: null },
  ),
}) satisfies fc.Arbitrary<MessageOptions>;

/** A JSON path into a payload and a value to put there (or `undefined`: delete the key). */
const mutation = fc.record({
  path: fc.array(
    fc.oneof(
      fc.constantFrom(
        'event',
        'id',
        'account',
        'conversation',
        'inbox',
        'sender',
        'attachments',
        'message_type',
        'private',
        'content',
        'source_id',
        'meta',
        'assignee',
        'assignee_type',
        'status',
        'changed_attributes',
        'inbox_id',
        '0',
        'type',
        'created_at',
      ),
      fc.string({ maxLength: 4 }),
    ),
    { minLength: 1, maxLength: 4 },
  ),
  value: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 })),
});

function mutate(payload: Record<string, unknown>, path: string[], value: unknown): void {
  let node: unknown = payload;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node !== 'object' || node === null) return;
  const last = path[path.length - 1] as string;
  if (value === undefined) delete (node as Record<string, unknown>)[last];
  else (node as Record<string, unknown>)[last] = value;
}

describe('classify: properties', () => {
  it('never throws on arbitrary JSON, and always decides one of its kinds', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        expect(KINDS).toContain(classify(value, config).kind);
      }),
      runs,
    );
  });

  it('never throws on objects that look like Chatwoot events', () => {
    const events = fc.constantFrom(
      'message_created',
      'conversation_created',
      'conversation_updated',
      'conversation_status_changed',
      'conversation_resolved',
      'conversation_opened',
      'webwidget_triggered',
      'message_updated',
    );
    fc.assert(
      fc.property(
        events,
        fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 })),
        (event, rest) => {
          expect(KINDS).toContain(classify({ ...rest, event }, config).kind);
        },
      ),
      runs,
    );
  });

  it('accepts a message as a customer turn exactly when the documented rules do', () => {
    fc.assert(
      fc.property(messageOptions, (options) => {
        const decision = classify(messageCreatedPayload(options), config);
        expect(decision.kind).toBe(expectedKind(options));
        if (decision.kind === 'notify') {
          expect(decision.start).toBe(ROUTED_INBOXES.includes(options.inboxId));
          expect(decision.signal).toMatchObject({
            type: 'human_message',
            messageId: options.messageId,
          });
        }
        if (decision.kind === 'customer_turn') {
          expect(decision.signal.message.messageId).toBe(options.messageId);
          expect(decision.signal.conversation?.status).toBe(options.status);
          const owner =
            options.assignee === null
              ? 'none'
              : options.assignee.kind === 'user' && options.assignee.id !== 9
                ? 'human'
                : 'bot';
          expect(decision.signal.conversation?.owner).toBe(owner);
        }
      }),
      runs,
    );
  });

  it('never throws on mutated payloads, and a customer turn still satisfies every rule', () => {
    fc.assert(
      fc.property(
        messageOptions,
        fc.array(mutation, { minLength: 1, maxLength: 5 }),
        (options, mutations) => {
          const payload = messageCreatedPayload(options);
          for (const { path, value } of mutations) mutate(payload, path, value);
          const decision = classify(payload, config);
          expect(KINDS).toContain(decision.kind);
          if (decision.kind !== 'customer_turn') return;
          const sender = payload.sender as Record<string, unknown> | null | undefined;
          expect(payload.event).toBe('message_created');
          expect(payload.message_type).toBe('incoming');
          expect(payload.private === undefined || payload.private === false).toBe(true);
          expect(sender == null || sender.type === undefined || sender.type === 'contact').toBe(
            true,
          );
          expect(isBridgeSourceId(payload.source_id as string | null)).toBe(false);
          const content = typeof payload.content === 'string' ? payload.content.trim() : '';
          expect(
            content !== '' ||
              (Array.isArray(payload.attachments) && payload.attachments.length > 0),
          ).toBe(true);
          expect(ROUTED_INBOXES).toContain(decision.target.inboxId);
          // Only known, bounded fields go on to Temporal.
          for (const attachment of decision.signal.message.attachments) {
            expect(
              Object.keys(attachment).every((key) =>
                [
                  'id',
                  'file_type',
                  'data_url',
                  'thumb_url',
                  'extension',
                  'file_size',
                  'width',
                  'height',
                  'transcribed_text',
                ].includes(key),
              ),
            ).toBe(true);
          }
        },
      ),
      runs,
    );
  });

  it('never throws on mutated conversation events', () => {
    const events = fc.constantFrom<ConversationEvent>(
      'conversation_created',
      'conversation_opened',
      'conversation_resolved',
      'conversation_status_changed',
      'conversation_updated',
      'webwidget_triggered',
    );
    fc.assert(
      fc.property(events, fc.array(mutation, { maxLength: 5 }), (event, mutations) => {
        const payload = conversationEventPayload(event, { accountId: 1, inboxId: 7 });
        for (const { path, value } of mutations) mutate(payload, path, value);
        const decision = classify(payload, config);
        expect(KINDS).toContain(decision.kind);
        if (decision.kind === 'notify' && decision.signal.type === 'assignee_changed') {
          // An assignment is to the bot exactly when the new owner is the bot.
          expect(decision.signal.toBot).toBe(decision.signal.conversation?.owner === 'bot');
        }
      }),
      runs,
    );
  });
});
