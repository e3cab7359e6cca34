import { describe, expect, it } from 'vitest';
import type { AgentTurn } from '../agents/types.js';
import {
  isRetryableError,
  userMessageSchema,
  type ErrorMessageFrame,
} from '../agents/unified/protocol.js';
import { StreamAssembler, StreamError, unifiedDialect } from '../agents/unified/exchange.js';
import { ConfigError, parseConfig } from '../config/load.js';

const turn: AgentTurn = {
  agentId: 'guide',
  attempt: 2,
  sessionId: 'guide:1:9',
  accountId: 1,
  conversationId: 9,
  inboxId: 7,
  messageId: 1234,
  messageIds: [1233, 1234],
  content: 'hello',
  attachments: [],
  sender: { id: 5, name: 'Ada' },
};

describe('unified protocol: frames', () => {
  const decode = (frame: unknown) => unifiedDialect(turn).decode(JSON.stringify(frame));

  it('sends a valid user_message carrying the turn', () => {
    const { request } = unifiedDialect(turn);
    expect(userMessageSchema.parse(request)).toEqual(request);
    expect(request).toMatchObject({
      type: 'user_message',
      message_id: '1234',
      session_id: 'guide:1:9',
      agent: 'guide',
      message: 'hello',
      metadata: { attempt: 2, chatwoot_message_id: 1234, merged_message_ids: [1233, 1234] },
    });
  });

  it('accepts the nulls a Pydantic agent sends for unset fields', () => {
    const pydantic = {
      type: 'agent_message',
      message_id: null,
      timestamp: '2025-01-01T00:00:00',
      session_token: null,
      session_id: null,
      agent: null,
      message: 'hi',
      data: null,
      metadata: null,
      error_code: null,
      progress: null,
      is_streaming: false,
      stream_index: null,
    };
    expect(decode(pydantic)).toEqual([
      { type: 'REPLY', reply: { content: 'hi', final: false, metadata: {} } },
    ]);
  });

  it('status and progress keep the exchange alive; other seed types are ignored', () => {
    expect(decode({ type: 'status_update', status: 'searching' })).toEqual([
      { type: 'KEEPALIVE', detail: 'searching' },
    ]);
    expect(decode({ type: 'progress_update', progress: 0.4, status: 'reading' })).toEqual([
      { type: 'KEEPALIVE', detail: 'reading 40%' },
    ]);
    expect(decode({ type: 'session_updated' })).toEqual([]);
    expect(decode({ type: 'progress_update', progress: 7 })).toEqual([
      expect.objectContaining({
        type: 'PROTOCOL_ERROR',
        detail: expect.stringMatching(/progress/),
      }),
    ]);
  });

  it('unknown types, missing fields and non-JSON are protocol errors', () => {
    expect(decode({ type: 'telepathy' })[0]).toMatchObject({ type: 'PROTOCOL_ERROR' });
    expect(decode({ type: 'agent_message' })[0]).toMatchObject({
      type: 'PROTOCOL_ERROR',
      detail: expect.stringMatching(/message/),
    });
    expect(unifiedDialect(turn).decode('{oops')[0]).toMatchObject({ type: 'PROTOCOL_ERROR' });
  });

  it('agent_complete: flushes open streams, a message is the final reply, else COMPLETE', () => {
    const dialect = unifiedDialect(turn);
    const chunk = (stream_index: number, message: string) =>
      dialect.decode(
        JSON.stringify({ type: 'agent_streaming', message_id: 's', message, stream_index }),
      );
    expect(chunk(1, 'world')).toEqual([{ type: 'KEEPALIVE', detail: 'streaming (chunk 1)' }]);
    chunk(0, 'hello ');
    expect(dialect.decode(JSON.stringify({ type: 'agent_complete' }))).toEqual([
      { type: 'REPLY', reply: { content: 'hello world', final: false, metadata: {} } },
      { type: 'COMPLETE' },
    ]);
    expect(decode({ type: 'agent_complete', message: 'bye' })).toEqual([
      { type: 'REPLY', reply: { content: 'bye', final: true, metadata: {} } },
    ]);
  });

  it('error_message: codes a retry cannot fix are final, the rest retry; details override', () => {
    const error = (frame: Partial<ErrorMessageFrame>) =>
      isRetryableError({ type: 'error_message', ...frame });
    expect(error({ error_code: 'INVALID-MESSAGE' })).toBe(false);
    expect(error({ error_code: 'unauthorized' })).toBe(false);
    expect(error({ error_code: 'rate_limited' })).toBe(true);
    expect(error({ error_code: 'something_new' })).toBe(true);
    expect(error({})).toBe(true);
    expect(error({ error_code: 'timeout', error_details: { retryable: false } })).toBe(false);
    expect(error({ error_code: 'forbidden', error_details: { retryable: true } })).toBe(true);
    expect(decode({ type: 'error_message', error_code: 'Bad Request', message: 'no' })).toEqual([
      { type: 'AGENT_ERROR', detail: 'agent error bad_request: no', retryable: false },
    ]);
  });
});

describe('unified protocol: stream assembly', () => {
  it('orders chunks by stream_index and completes once the last and all before it arrived', () => {
    const streams = new StreamAssembler();
    expect(streams.add('a', 2, 'C', true)).toBeUndefined();
    expect(streams.add('a', 0, 'A', false)).toBeUndefined();
    expect(streams.add('a', 0, 'A again', false)).toBeUndefined();
    expect(streams.add('a', 1, 'B', false)).toEqual({ text: 'ABC' });
    expect(streams.flush()).toEqual([]);
  });

  it('keeps streams with different message ids apart', () => {
    const streams = new StreamAssembler();
    streams.add('a', 0, 'a0', false);
    expect(streams.add('b', 0, 'b-only', true)).toEqual({ text: 'b-only' });
    streams.add('a', 1, 'a1', false);
    expect(streams.flush()).toEqual([{ text: 'a0a1' }]);
  });

  it('refuses streams that contradict themselves or have a hole', () => {
    const twoLasts = new StreamAssembler();
    twoLasts.add('a', 1, 'x', true);
    expect(() => twoLasts.add('a', 2, 'y', true)).toThrow(StreamError);
    const beyond = new StreamAssembler();
    beyond.add('a', 1, 'x', true);
    expect(() => beyond.add('a', 3, 'y', false)).toThrow(/after its last chunk/);
    const hole = new StreamAssembler();
    hole.add('a', 0, 'x', false);
    hole.add('a', 2, 'z', false);
    expect(() => hole.flush()).toThrow(/without chunk 1 of 3/);
  });
});

describe('configuration of unified and pull agents', () => {
  const base = {
    chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: 't' },
    routes: [],
  };
  const withAgent = (agent: Record<string, unknown>) =>
    parseConfig({ ...base, agents: [{ id: 'a', ...agent }] });

  it('accepts a unified agent and a pull agent with their defaults', () => {
    const unified = withAgent({ transport: 'ws', protocol: 'unified', url: 'ws://x/agent' });
    expect(unified.agents[0]).toMatchObject({ transport: 'ws', protocol: 'unified' });
    const pull = withAgent({ transport: 'pull', apiKey: 'k'.repeat(32) });
    expect(pull.agents[0]).toMatchObject({ transport: 'pull', longPollMs: 25_000 });
  });

  it('names the field to fix', () => {
    expect(() =>
      withAgent({ transport: 'ws', protocol: 'unified', url: 'ws://x', pingIntervalMs: 20_000 }),
    ).toThrow(/agents\.0\.pingIntervalMs: must be at most half of idleTimeoutMs/);
    expect(() => withAgent({ transport: 'ws', protocol: 'v2', url: 'ws://x' })).toThrow(
      /agents\.0\.protocol/,
    );
    expect(() => withAgent({ transport: 'pull', apiKey: 'short' })).toThrow(
      /agents\.0\.apiKey: use a key of at least 16 characters/,
    );
    expect(() => withAgent({ transport: 'pull' })).toThrow(ConfigError);
  });
});
