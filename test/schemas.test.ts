import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nestingDepth, parseBody } from '../chatwoot/webhookBody.js';
import { bridgeConfigSchema } from '../config/schema.js';
import {
  agentErrorSchema,
  agentFrameSchema,
  agentRequestSchema,
  agentResponseSchema,
  isAgentError,
  isFinalResponse,
  type AgentFrame,
} from '../agents/bridgeV1/protocol.js';
import {
  inboxIdOf,
  isContactSender,
  messageCreatedSchema,
  type MessageCreatedWebhook,
} from '../chatwoot/webhookSchema.js';
import { messageCreatedPayload, type MessageOptions } from '../sandbox/chatwootWebhooks.js';

function parseMessage(payload: Record<string, unknown>): MessageCreatedWebhook {
  const result = messageCreatedSchema.safeParse(payload);
  if (!result.success) throw new Error(JSON.stringify(result.error.issues));
  return result.data;
}

function issuePaths(payload: unknown): string[] {
  const result = messageCreatedSchema.safeParse(payload);
  expect(result.success).toBe(false);
  return result.error?.issues.map((issue) => issue.path.join('.')) ?? [];
}

const payload = (options: MessageOptions = {}) =>
  messageCreatedPayload({ conversationId: 11, messageId: 501, inboxId: 7, ...options });

describe('messageCreatedSchema: Chatwoot payloads as sent', () => {
  it('parses an incoming contact message, keeping the fields it does not model', () => {
    const message = parseMessage(payload({ content: 'Where is my order?' }));
    expect(message).toMatchObject({
      event: 'message_created',
      id: 501,
      content: 'Where is my order?',
      message_type: 'incoming',
      private: false,
      account: { id: 1, name: 'Acme Support' },
      conversation: { id: 11, inbox_id: 7, status: 'open' },
    });
    // `loose`: untouched pass-through, including the integer message_type inside messages[].
    expect(message).toHaveProperty('created_at');
    expect(message.conversation).toMatchObject({ messages: [{ id: 501, message_type: 0 }] });
    expect(inboxIdOf(message)).toBe(7);
  });

  it('treats a contact sender, which has no type, as a contact', () => {
    const message = parseMessage(payload());
    expect(message.sender).toMatchObject({ id: 1011, name: 'Customer 1011' });
    expect(message.sender).not.toHaveProperty('type');
    expect(isContactSender(message.sender)).toBe(true);
  });

  it('treats a user (human agent) sender, type "user", as not a contact', () => {
    const message = parseMessage(payload({ messageType: 'outgoing', sender: 'user' }));
    expect(message.message_type).toBe('outgoing');
    expect(message.sender).toMatchObject({ id: 3, type: 'user' });
    expect(isContactSender(message.sender)).toBe(false);
  });

  it('treats an agent bot sender as not a contact', () => {
    const message = parseMessage(payload({ messageType: 'outgoing', sender: 'agent_bot' }));
    expect(isContactSender(message.sender)).toBe(false);
  });

  it('accepts sender: null', () => {
    const message = parseMessage(payload({ messageType: 'activity', sender: null }));
    expect(message.sender).toBeNull();
    expect(message.message_type).toBe('activity');
  });

  it('isContactSender: no type or "contact" is a contact, any other type is not', () => {
    expect(isContactSender({ id: 1 })).toBe(true);
    expect(isContactSender({ id: 1, type: 'contact' })).toBe(true);
    expect(isContactSender(null)).toBe(true);
    expect(isContactSender(undefined)).toBe(true);
    expect(isContactSender({ id: 1, type: 'user' })).toBe(false);
    expect(isContactSender({ id: 1, type: 'agent_bot' })).toBe(false);
  });

  it('accepts content: null when only attachments came', () => {
    const message = parseMessage(
      payload({
        content: null,
        attachments: [{ id: 9, file_type: 'image', data_url: 'https://cdn.example.com/a.png' }],
      }),
    );
    expect(message.content).toBeNull();
    expect(message.attachments).toEqual([
      expect.objectContaining({
        id: 9,
        file_type: 'image',
        data_url: 'https://cdn.example.com/a.png',
      }),
    ]);
  });

  it('accepts a message without content or attachments keys at all', () => {
    const { content: _content, ...rest } = payload();
    const message = parseMessage(rest);
    expect(message.content).toBeUndefined();
    expect(message.attachments).toBeUndefined();
  });

  it('defaults private to false when the key is missing, and keeps true', () => {
    const { private: _private, ...rest } = payload();
    expect(parseMessage(rest).private).toBe(false);
    expect(parseMessage(payload({ private: true })).private).toBe(true);
  });

  it('takes the inbox from conversation.inbox_id when there is no top-level inbox', () => {
    const { inbox: _inbox, ...rest } = payload({ inboxId: 12 });
    const message = parseMessage(rest);
    expect(message.inbox).toBeUndefined();
    expect(inboxIdOf(message)).toBe(12);
  });

  it('takes the inbox from inbox.id when conversation.inbox_id is missing', () => {
    const full = payload({ inboxId: 13 });
    const conversation = { ...(full.conversation as Record<string, unknown>) };
    delete conversation.inbox_id;
    expect(inboxIdOf(parseMessage({ ...full, conversation }))).toBe(13);
  });

  it('requires an inbox somewhere, reported at inbox.id', () => {
    const { inbox: _inbox, ...rest } = payload();
    const conversation = { ...(rest.conversation as Record<string, unknown>) };
    delete conversation.inbox_id;
    expect(issuePaths({ ...rest, conversation })).toEqual(['inbox.id']);
  });

  it('requires account, reported at account', () => {
    const { account: _account, ...rest } = payload();
    expect(issuePaths(rest)).toEqual(['account']);
  });

  it('rejects an integer top-level message_type (that shape belongs to messages[])', () => {
    expect(issuePaths({ ...payload(), message_type: 0 })).toEqual(['message_type']);
  });

  it('rejects other events and a missing conversation', () => {
    expect(issuePaths({ ...payload(), event: 'message_updated' })).toEqual(['event']);
    const { conversation: _conversation, ...rest } = payload();
    expect(issuePaths(rest)).toContain('conversation');
  });
});

const request = {
  message_id: '501',
  conversation_id: '11',
  inbox_id: '7',
  account_id: '1',
  session_id: 'cw-1-11',
  content: 'Hello',
  attachments: [{ id: 9, file_type: 'image', data_url: 'https://cdn.example.com/a.png' }],
  sender: { id: 1011, name: 'Customer 1011', email: null },
  metadata: { channel: 'api' },
};

describe('bridge-v1: agentRequestSchema', () => {
  it('accepts a full request', () => {
    expect(agentRequestSchema.parse(request)).toEqual(request);
  });

  it('requires string ids and every field', () => {
    expect(agentRequestSchema.safeParse({ ...request, message_id: 501 }).success).toBe(false);
    const { session_id: _session, ...withoutSession } = request;
    const result = agentRequestSchema.safeParse(withoutSession);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['session_id']);
  });
});

describe('bridge-v1: agentResponseSchema', () => {
  it('fills defaults: response_type partial, metadata {}', () => {
    const response = agentResponseSchema.parse({ content: 'Hi' });
    expect(response).toEqual({ content: 'Hi', response_type: 'partial', metadata: {} });
    expect(isFinalResponse(response)).toBe(false);
  });

  it('counts response_type final as final', () => {
    const response = agentResponseSchema.parse({ content: 'Bye', response_type: 'final' });
    expect(isFinalResponse(response)).toBe(true);
  });

  it('counts metadata.is_final as final, whatever the response_type', () => {
    const response = agentResponseSchema.parse({ content: 'Bye', metadata: { is_final: true } });
    expect(response.response_type).toBe('partial');
    expect(isFinalResponse(response)).toBe(true);
    const notFinal = agentResponseSchema.parse({ content: 'More', metadata: { is_final: false } });
    expect(isFinalResponse(notFinal)).toBe(false);
  });

  it('keeps extra metadata keys', () => {
    const response = agentResponseSchema.parse({
      content: 'Hi',
      metadata: { agent_id: 'echo', confidence: 0.9, trace: 'abc' },
    });
    expect(response.metadata).toEqual({ agent_id: 'echo', confidence: 0.9, trace: 'abc' });
  });
});

describe('bridge-v1: agentErrorSchema', () => {
  it('defaults retryable to true', () => {
    expect(agentErrorSchema.parse({ error: { code: 'busy', message: 'try later' } })).toEqual({
      error: { code: 'busy', message: 'try later', retryable: true },
    });
  });

  it('keeps retryable: false', () => {
    const frame = agentErrorSchema.parse({
      message_id: '501',
      error: { code: 'bad_input', message: 'cannot help', retryable: false },
    });
    expect(frame.error.retryable).toBe(false);
  });
});

describe('bridge-v1: agentFrameSchema', () => {
  it('tells error frames from responses', () => {
    const error = agentFrameSchema.parse({ error: { code: 'busy', message: 'later' } });
    expect(isAgentError(error)).toBe(true);
    expect(error).toEqual({ error: { code: 'busy', message: 'later', retryable: true } });

    const response = agentFrameSchema.parse({ content: 'Hi', response_type: 'final' });
    expect(isAgentError(response)).toBe(false);
    expect(response).toEqual({ content: 'Hi', response_type: 'final', metadata: {} });
  });

  it.each<[string, unknown]>([
    ['an empty object', {}],
    ['null', null],
    ['a bare string', 'Hi'],
    ['non-string content', { content: 42 }],
    ['an unknown response_type', { content: 'Hi', response_type: 'done' }],
    ['a non-boolean is_final', { content: 'Hi', metadata: { is_final: 'yes' } }],
    ['an error without a message', { error: { code: 'busy' } }],
    ['a non-boolean retryable', { error: { code: 'busy', message: 'x', retryable: 'no' } }],
    ['an error given as a string', { error: 'boom' }],
  ])('rejects %s', (_, frame) => {
    expect(agentFrameSchema.safeParse(frame).success).toBe(false);
  });

  it('narrows with isAgentError', () => {
    const frames: AgentFrame[] = [
      agentFrameSchema.parse({ content: 'a' }),
      agentFrameSchema.parse({ error: { code: 'x', message: 'y', retryable: false } }),
    ];
    const retryable = frames.map((frame) => (isAgentError(frame) ? frame.error.retryable : null));
    expect(retryable).toEqual([null, false]);
  });
});

describe('webhook bodies: parseBody and nestingDepth', () => {
  it('counts nesting of objects and arrays, not brackets inside strings', () => {
    expect(nestingDepth('{}')).toBe(1);
    expect(nestingDepth('{"a":[{"b":1}]}')).toBe(3);
    expect(nestingDepth('{"a":"[[[{{{"}')).toBe(1);
    expect(nestingDepth('{"a":"\\\\\\"[[["}')).toBe(1);
    expect(nestingDepth('"plain"')).toBe(0);
  });

  it('a Chatwoot payload nests well below the default limit', () => {
    const depth = nestingDepth(
      JSON.stringify(
        payload({ attachments: [{ id: 1, file_type: 'image', data_url: 'https://f.test/a' }] }),
      ),
    );
    expect(depth).toBeLessThan(bridgeConfigSchema.shape.webhook.parse(undefined).maxDepth);
    expect(depth).toBeGreaterThanOrEqual(5);
  });

  it('never throws on arbitrary bytes, and accepts exactly the valid UTF-8 JSON within the depth', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.json({ maxDepth: 6 }).map((text) => new TextEncoder().encode(text)),
        ),
        (bytes) => {
          const raw = Buffer.from(bytes);
          const result = parseBody(raw, 4);
          let expected: boolean;
          try {
            const text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
            JSON.parse(text);
            expected = nestingDepth(text) <= 4;
          } catch {
            expected = false;
          }
          expect(result.ok).toBe(expected);
        },
      ),
      { seed: 20261201, numRuns: 1_000 },
    );
  });
});
