import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  messageErrorSchema,
  messageSentSchema,
  newMessageSchema,
  presenceSchema,
  typingSchema,
} from '../agents/aiwm/protocol.js';
import { AiwmTurn } from '../agents/aiwm/turn.js';
import { agentFrameSchema as bridgeV1FrameSchema } from '../agents/bridgeV1/protocol.js';
import {
  agentFrameSchema as unifiedFrameSchema,
  IGNORED_TYPES,
} from '../agents/unified/protocol.js';
import { MAX_STREAM_CHUNKS, unifiedDialect } from '../agents/unified/exchange.js';
import type { AgentTurn } from '../agents/types.js';
import { decodeBridgeV1 } from '../agents/bridgeV1/exchange.js';
import type { ConnectionEvent } from '../machines/connection.js';

/**
 * The agent protocol codecs under arbitrary and mutated frames (issue 11): the parser never
 * throws, and it accepts exactly what the documented rules accept. Each rule is written out
 * here from the seed documents, apart from the zod schemas, and checked against the codec and
 * the schema both. Seeded and bounded, so a run is quick and repeatable.
 */
const RUNS = { seed: 1_100, numRuns: 400 };

// ---- the documented rules, written out ------------------------------------------------------

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const optional = (v: Json, check: (x: Json) => boolean) => v === undefined || check(v);
/** Seed 001's Pydantic agents send null for unset fields. */
const nullish = (v: Json, check: (x: Json) => boolean) => v === undefined || v === null || check(v);
const isString = (v: Json) => typeof v === 'string';
const isNumber = (v: Json) => typeof v === 'number' && Number.isFinite(v);
const isBoolean = (v: Json) => typeof v === 'boolean';

/** Seed 000: an `AgentError` frame or an `AgentResponse` frame. */
function bridgeV1Accepts(frame: Json): boolean {
  if (!isObject(frame)) return false;
  const error = frame.error;
  const isError =
    optional(frame.message_id, isString) &&
    isObject(error) &&
    isString(error.code) &&
    isString(error.message) &&
    optional(error.retryable, isBoolean);
  if (isError) return true;
  const metadata = frame.metadata;
  return (
    optional(frame.message_id, isString) &&
    optional(frame.conversation_id, isString) &&
    isString(frame.content) &&
    optional(frame.response_type, (v) => v === 'partial' || v === 'final') &&
    optional(
      metadata,
      (m) =>
        isObject(m) &&
        optional(m.agent_id, isString) &&
        optional(m.processing_time_ms, isNumber) &&
        optional(m.confidence, isNumber) &&
        optional(m.is_final, isBoolean) &&
        optional(m.handoff, isBoolean),
    )
  );
}

/** Seed 001: a typed `WebSocketMessage` frame the bridge reads. */
function unifiedAccepts(frame: Json): boolean {
  if (!isObject(frame)) return false;
  const base =
    nullish(frame.message_id, isString) &&
    nullish(frame.timestamp, isString) &&
    nullish(frame.session_id, isString) &&
    nullish(frame.metadata, isObject);
  if (!base) return false;
  const text = (key: string) => nullish(frame[key], isString);
  switch (frame.type) {
    case 'agent_message':
      return isString(frame.message);
    case 'agent_streaming':
      return (
        isString(frame.message) &&
        Number.isSafeInteger(frame.stream_index) &&
        (frame.stream_index as number) >= 0 &&
        nullish(frame.is_streaming, isBoolean)
      );
    case 'agent_complete':
      return text('message');
    case 'error_message':
      return text('error_code') && text('message') && nullish(frame.error_details, isObject);
    case 'status_update':
      return text('status') && text('message');
    case 'progress_update':
      return (
        nullish(frame.progress, (p) => isNumber(p) && (p as number) >= 0 && (p as number) <= 1) &&
        text('status') &&
        text('message')
      );
    default:
      return (IGNORED_TYPES as readonly Json[]).includes(frame.type);
  }
}

const ROLES = ['user', 'assistant', 'system', 'tool'];
const TYPES = ['text', 'thinking', 'tool_call', 'tool_result', 'error', 'system'];

/** Seed 004: a `message:new` event (the fields the bridge reads; the generator adds no others). */
function aiwmMessageAccepts(event: Json): boolean {
  if (!isObject(event)) return false;
  return (
    isString(event._id) &&
    isString(event.conversationId) &&
    ROLES.includes(event.role as string) &&
    optional(event.content, isString) &&
    optional(event.participantId, isString) &&
    optional(event.type, (t) => TYPES.includes(t as string)) &&
    optional(event.attachments, (a) => Array.isArray(a) && a.every(isString)) &&
    optional(event.latency, isNumber) &&
    optional(event.status, isString) &&
    optional(event.error, isString) &&
    optional(event.final, isBoolean) &&
    optional(event.metadata, isObject)
  );
}

// ---- generators: each field right, wrong or missing -----------------------------------------

/** A valid value, any JSON value instead, or the key left out. */
const field = <T>(valid: fc.Arbitrary<T>) =>
  fc.option(fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: fc.jsonValue() }), {
    nil: undefined,
  });
const text = fc.string({ maxLength: 20 });
const withoutUndefined = (record: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
/** Some extra key with any value: every frame may carry fields the bridge does not know. */
const extras = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), {
  maxKeys: 2,
});

const bridgeV1Frame = fc
  .record({
    message_id: field(text),
    conversation_id: field(text),
    content: field(text),
    response_type: field(fc.constantFrom('partial', 'final', 'done')),
    metadata: field(
      fc.record({
        agent_id: field(text),
        processing_time_ms: field(fc.double({ noNaN: true, noDefaultInfinity: true })),
        confidence: field(fc.double({ noNaN: true, noDefaultInfinity: true })),
        is_final: field(fc.boolean()),
        handoff: field(fc.boolean()),
      }),
    ),
    error: field(
      fc.record({ code: field(text), message: field(text), retryable: field(fc.boolean()) }),
    ),
    extra: extras,
  })
  .map(({ extra, ...frame }) => ({ ...extra, ...withoutUndefined(frame) }));

const unifiedFrame = fc
  .record({
    type: fc.oneof(
      fc.constantFrom(
        'agent_message',
        'agent_streaming',
        'agent_complete',
        'error_message',
        'status_update',
        'progress_update',
        ...IGNORED_TYPES,
      ),
      fc.jsonValue(),
    ),
    message_id: field(fc.option(text, { nil: null })),
    timestamp: field(fc.option(text, { nil: null })),
    metadata: field(fc.option(fc.dictionary(text, fc.jsonValue({ maxDepth: 1 })), { nil: null })),
    message: field(fc.option(text, { nil: null })),
    stream_index: field(
      fc.oneof(fc.nat({ max: 5 }), fc.integer(), fc.constant(MAX_STREAM_CHUNKS), fc.double()),
    ),
    is_streaming: field(fc.option(fc.boolean(), { nil: null })),
    error_code: field(fc.option(text, { nil: null })),
    error_details: field(fc.option(fc.dictionary(text, fc.boolean()), { nil: null })),
    status: field(fc.option(text, { nil: null })),
    progress: field(fc.option(fc.double({ min: -1, max: 2, noNaN: true }), { nil: null })),
    extra: extras,
  })
  .map(({ extra, ...frame }) => ({ ...extra, ...withoutUndefined(frame) }));

const aiwmMessage = fc
  .record({
    _id: field(text),
    conversationId: field(fc.constantFrom('c1', 'c2')),
    role: field(fc.constantFrom(...ROLES, 'agent')),
    content: field(text),
    participantId: field(fc.constantFrom('agent', 'assistant', 'someone')),
    type: field(fc.constantFrom(...TYPES, 'image')),
    attachments: field(fc.array(text, { maxLength: 2 })),
    latency: field(fc.double({ noNaN: true, noDefaultInfinity: true })),
    status: field(text),
    error: field(text),
    final: field(fc.boolean()),
    metadata: field(fc.dictionary(fc.constantFrom('turnId', 'x'), fc.jsonValue({ maxDepth: 1 }))),
  })
  .map(withoutUndefined);

/** A frame's JSON text, sometimes cut short or with a byte flipped: what a broken agent sends. */
const mutatedText = <T>(frames: fc.Arbitrary<T>) =>
  fc.oneof(
    frames.map((frame) => JSON.stringify(frame)),
    fc
      .tuple(
        frames.map((frame) => JSON.stringify(frame)),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1 }),
      )
      .map(([json, at, char]) => {
        const i = at % Math.max(1, json.length);
        return json.slice(0, i) + char + json.slice(i + 1);
      }),
    fc
      .tuple(
        frames.map((frame) => JSON.stringify(frame)),
        fc.nat(),
      )
      .map(([json, at]) => json.slice(0, at % Math.max(1, json.length))),
    fc.string(),
    fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null'),
  );

const parsed = (text: string): { ok: true; value: Json } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) as Json };
  } catch {
    return { ok: false };
  }
};
const isInvalidFrame = (event: ConnectionEvent) =>
  event.type === 'PROTOCOL_ERROR' && /not JSON|frame invalid/.test(event.detail);

const turn: AgentTurn = {
  agentId: 'u',
  attempt: 1,
  sessionId: 's',
  accountId: 1,
  conversationId: 2,
  inboxId: 3,
  messageId: 4,
  messageIds: [4],
  content: 'hi',
  attachments: [],
  sender: {},
};

// ---- the properties -------------------------------------------------------------------------

describe('bridge-v1 codec (seed 000)', () => {
  it('never throws, and accepts exactly the documented frames', () => {
    fc.assert(
      fc.property(mutatedText(bridgeV1Frame), (text) => {
        const event = decodeBridgeV1(text);
        const json = parsed(text);
        const documented = json.ok && bridgeV1Accepts(json.value);
        expect(event.type === 'REPLY' || event.type === 'AGENT_ERROR').toBe(documented);
        if (json.ok) expect(bridgeV1FrameSchema.safeParse(json.value).success).toBe(documented);
        if (!documented) expect(isInvalidFrame(event)).toBe(true);
      }),
      RUNS,
    );
  });

  it('an accepted response keeps its text and says final exactly when the frame does', () => {
    fc.assert(
      fc.property(bridgeV1Frame, (frame) => {
        const event = decodeBridgeV1(JSON.stringify(frame));
        if (event.type !== 'REPLY') return;
        const f = frame as {
          content: string;
          response_type?: string;
          metadata?: { is_final?: boolean };
        };
        expect(event.reply.content).toBe(f.content);
        expect(event.reply.final).toBe(
          f.response_type === 'final' || f.metadata?.is_final === true,
        );
      }),
      RUNS,
    );
  });
});

describe('unified codec (seed 001)', () => {
  it('never throws, and accepts exactly the documented frames', () => {
    fc.assert(
      fc.property(mutatedText(unifiedFrame), (text) => {
        const events = unifiedDialect(turn, { agentId: 'u', maxChars: 1_000 }).decode(text);
        const json = parsed(text);
        const documented = json.ok && unifiedAccepts(json.value);
        expect(events.some(isInvalidFrame)).toBe(!documented);
        if (json.ok) {
          const schema = unifiedFrameSchema.safeParse(json.value).success;
          // The schema and the written rule agree but for the chunk bound, which the assembler adds.
          const frame = (isObject(json.value) ? json.value : {}) as {
            type?: unknown;
            stream_index?: unknown;
          };
          const pastBound =
            frame.type === 'agent_streaming' &&
            typeof frame.stream_index === 'number' &&
            frame.stream_index >= MAX_STREAM_CHUNKS;
          expect(schema).toBe(documented);
          if (documented && pastBound) {
            expect(events).toEqual([expect.objectContaining({ type: 'PROTOCOL_ERROR' })]);
          }
        }
      }),
      RUNS,
    );
  });

  it('any sequence of frames through one exchange never throws; streams stay within the bound', () => {
    const chunkFrame = fc.record({
      index: fc.nat({ max: 4 }),
      last: fc.boolean(),
      stream: fc.constantFrom('a', 'b'),
    });
    fc.assert(
      fc.property(
        fc.array(fc.oneof(mutatedText(unifiedFrame), chunkFrame), { maxLength: 12 }),
        (frames) => {
          const dialect = unifiedDialect(turn, { agentId: 'u', maxChars: 50 });
          for (const frame of frames) {
            const text =
              typeof frame === 'string'
                ? frame
                : JSON.stringify({
                    type: 'agent_streaming',
                    message_id: frame.stream,
                    message: `${frame.stream}${frame.index}`,
                    stream_index: frame.index,
                    is_streaming: !frame.last,
                  });
            for (const event of dialect.decode(text)) {
              expect(typeof event.type).toBe('string');
              // Assembled streams are cut at maxChars (agent_message text is cut on hand-off).
              if (event.type === 'REPLY' && typeof frame !== 'string') {
                expect(event.reply.content.length).toBeLessThanOrEqual(50);
              }
            }
          }
          dialect.decode(JSON.stringify({ type: 'agent_complete' }));
        },
      ),
      RUNS,
    );
  });
});

describe('AIWM events (seed 004)', () => {
  it('message:new: accepted exactly as documented; the turn filter never throws on it', () => {
    fc.assert(
      fc.property(fc.oneof(aiwmMessage, fc.jsonValue()), fc.boolean(), (event, acked) => {
        const result = newMessageSchema.safeParse(event);
        expect(result.success).toBe(aiwmMessageAccepts(event));
        if (!result.success) return;
        const answer = new AiwmTurn({
          correlation: 'ordering',
          turnId: 't1',
          ownIds: new Set(['agent']),
          conversationId: () => 'c1',
        });
        answer.sent('hi');
        if (acked) answer.acknowledged('m1');
        const verdict = answer.classify(result.data);
        if (typeof verdict === 'object') {
          expect(verdict.messageId).toBe(result.data._id);
          // Only an assistant's or a tool's message can be a stray.
          expect(['assistant', 'tool']).toContain(result.data.role);
        }
        if (verdict === 'ours') {
          expect(acked).toBe(true);
          expect(result.data.conversationId).toBe('c1');
        }
      }),
      RUNS,
    );
  });

  it('the other server events never throw and keep their one required field', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (event) => {
        const object = isObject(event) ? event : undefined;
        expect(typingSchema.safeParse(event).success).toBe(
          object !== undefined &&
            isBoolean(object.isTyping) &&
            ['type', 'userId', 'agentId', 'conversationId'].every((k) =>
              optional(object[k], isString),
            ),
        );
        expect(messageErrorSchema.safeParse(event).success).toBe(
          object !== undefined &&
            isString(object.error) &&
            optional(object.success, (v) => v === false) &&
            optional(object.timestamp, isString) &&
            optional(object.retryable, isBoolean),
        );
        expect(messageSentSchema.safeParse(event).success).toBe(
          object !== undefined &&
            optional(object.success, isBoolean) &&
            optional(object.messageId, isString) &&
            optional(object.timestamp, isString),
        );
        expect(presenceSchema.safeParse(event).success).toBe(
          object !== undefined &&
            ['type', 'userId', 'agentId', 'conversationId', 'status'].every((k) =>
              optional(object[k], isString),
            ),
        );
      }),
      RUNS,
    );
  });
});
