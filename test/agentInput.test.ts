import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aiwmTokens } from '../agents/aiwm/token.js';
import {
  boundDetail,
  cutText,
  limitReply,
  MAX_DETAIL_CHARS,
  MAX_METADATA_BYTES,
} from '../agents/replyLimits.js';
import { decodeBridgeV1 } from '../agents/bridgeV1/exchange.js';
import {
  MAX_STREAM_CHUNKS,
  StreamAssembler,
  StreamError,
  unifiedDialect,
} from '../agents/unified/exchange.js';
import type { AgentTurn } from '../agents/types.js';
import { parseConfig } from '../config/load.js';
import { startMockAiwm, type MockAiwm } from '../sandbox/mockAiwm.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * Issue 11: what an agent sends is bounded. Frames past `maxFrameBytes` are not read (ws's own
 * default is 100 MiB), streams and replies past `maxReplyChars` are cut with a note, and no reply
 * is too large for a Temporal signal (2 MB) or a Chatwoot message (150,000 characters).
 */
const CHATWOOT_LIMIT = 150_000;

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

describe('agent input bounds (pure)', () => {
  it('config: sane defaults, and maxReplyChars no larger than Chatwoot takes', () => {
    const config = parseConfig({
      chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: 't' },
      agents: [{ id: 'a', transport: 'ws', url: 'ws://x' }],
    });
    expect(config.agents[0]).toMatchObject({
      maxFrameBytes: 1_048_576,
      maxReplyChars: CHATWOOT_LIMIT,
    });
    expect(() =>
      parseConfig({
        chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: 't' },
        agents: [{ id: 'a', transport: 'ws', url: 'ws://x', maxReplyChars: 200_000 }],
      }),
    ).toThrow(/agents\.0\.maxReplyChars: Chatwoot takes messages of at most 150,000 characters/);
  });

  it('a reply over maxReplyChars is cut, with a note for the team', () => {
    const reply = { content: 'a'.repeat(1_000), final: true, metadata: { usage: { x: 1 } } };
    const limited = limitReply(reply, { agentId: 'bot', maxReplyChars: 100 }, 0);
    expect(limited.content).toHaveLength(100);
    expect(limited.content.endsWith('…')).toBe(true);
    expect(limited.metadata).toMatchObject({
      usage: { x: 1 },
      privateNote: expect.stringMatching(/was 1,000 characters long and was cut to 100/),
    });
    expect(
      limitReply({ ...reply, content: 'short' }, { agentId: 'bot', maxReplyChars: 100 }, 0),
    ).toEqual({ ...reply, content: 'short' });
  });

  it('metadata too large to carry is left out but for the keys the bridge reads', () => {
    const metadata = { handoff: true, blob: 'b'.repeat(MAX_METADATA_BYTES) };
    const limited = limitReply(
      { content: 'ok', final: true, metadata },
      { agentId: 'bot', maxReplyChars: 100 },
      2,
    );
    expect(limited.metadata).toEqual({
      handoff: true,
      privateNote: expect.stringMatching(/metadata \([\d,]+ bytes\) was left out/),
    });
  });

  it("an agent's error text is cut before it becomes a failure detail (hand-off note, history)", () => {
    const event = boundDetail(
      decodeBridgeV1(JSON.stringify({ error: { code: 'x', message: 'e'.repeat(500_000) } })),
    );
    expect(event).toMatchObject({ type: 'AGENT_ERROR', retryable: true });
    expect('detail' in event && event.detail?.length).toBe(MAX_DETAIL_CHARS);
    const keepalive = boundDetail({ type: 'KEEPALIVE', detail: 's'.repeat(10_000) });
    expect('detail' in keepalive && keepalive.detail?.length).toBe(MAX_DETAIL_CHARS);
    expect(boundDetail({ type: 'SENT' })).toEqual({ type: 'SENT' });
  });

  it('never cuts between the halves of a surrogate pair', () => {
    const cut = cutText('ab😀cd', 4);
    expect(cut).toBe('ab…');
    expect(cutText('abc', 3)).toBe('abc');
  });

  it('a stream past maxChars keeps no more than that, and comes out cut with a note', () => {
    const streams = new StreamAssembler({ agentId: 'u', maxChars: 1_000 });
    for (let index = 0; index < 99; index += 1) streams.add('s', index, 'y'.repeat(100), false);
    const done = streams.add('s', 99, 'y'.repeat(100), true);
    expect(done?.text).toHaveLength(1_000);
    expect(done?.note).toMatch(/was 10,000 characters long and was cut to 1,000/);
  });

  it('a stream chunk index past the bound is refused at once (it would make flush loop)', () => {
    const dialect = unifiedDialect(turn, { agentId: 'u', maxChars: 1_000 });
    const huge = JSON.stringify({
      type: 'agent_streaming',
      message_id: 'm',
      message: 'x',
      stream_index: 2 ** 40,
      is_streaming: true,
    });
    expect(dialect.decode(huge)).toEqual([
      { type: 'PROTOCOL_ERROR', detail: expect.stringMatching(/past the limit of 10000 chunks/) },
    ]);
    expect(MAX_STREAM_CHUNKS).toBe(10_000);
    const streams = new StreamAssembler();
    for (let i = 0; i < 32; i += 1) streams.add(`s${i}`, 0, 'x', false);
    expect(() => streams.add('one-too-many', 0, 'x', false)).toThrow(StreamError);
  });
});

describe('agent input bounds, end to end (ws agents)', () => {
  let stack: Stack;
  const inbox = { big: 41, bigFrames: 42, stream: 43 };

  beforeAll(async () => {
    stack = await startStack({
      agents: {
        // 2.5 M characters in one frame: past the default 1 MiB frame bound.
        big: 'big?chars=2500000',
        // The same, read (frames up to 4 MiB): the reply is over Temporal's 2 MB limit.
        bigframes: { path: 'big?chars=2500000', maxFrameBytes: 4 * 1_048_576 },
        // 40 chunks of 10,000 characters: a 400,000-character stream.
        stream: 'unified/bigstream?chunks=40&chunkChars=10000',
      },
      routes: { [inbox.big]: 'big', [inbox.bigFrames]: 'bigframes', [inbox.stream]: 'stream' },
    });
  });
  afterAll(() => stack?.stop());

  it('a frame over maxFrameBytes is not read: one attempt, then hand-off naming the setting', async () => {
    const { json } = await stack.sendMessage({ conversationId: 701, inboxId: inbox.big });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts).toHaveLength(1);
    expect(report.reason).toMatch(/frame over 1048576 bytes \(the agent's maxFrameBytes\)/);
  });

  it("a reply over Temporal's 2 MB limit is cut to what Chatwoot takes, with a note: delivered once", async () => {
    const { json } = await stack.sendMessage({ conversationId: 702, inboxId: inbox.bigFrames });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts).toHaveLength(1);
    const [reply, note] = stack.chatwoot.messages(stack.accountId, 702);
    expect(reply).toMatchObject({ private: false });
    expect(reply?.content).toHaveLength(CHATWOOT_LIMIT);
    expect(note).toMatchObject({
      private: true,
      content: expect.stringMatching(/was 2,500,005 characters long and was cut to 150,000/),
    });
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('a stream past maxReplyChars is cut with a note', async () => {
    const { json } = await stack.sendMessage({ conversationId: 703, inboxId: inbox.stream });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    const [reply, note] = stack.chatwoot.messages(stack.accountId, 703);
    expect(reply?.content).toHaveLength(CHATWOOT_LIMIT);
    expect(note?.content).toMatch(/was 400,000 characters long and was cut to 150,000/);
  });
});

describe('agent input bounds, end to end (AIWM)', () => {
  let aiwm: MockAiwm;
  let stack: Stack;

  beforeAll(async () => {
    aiwm = await startMockAiwm({ agents: { big: 'big?chars=2000000' } });
    stack = await startStack({
      agentConfigs: [
        {
          id: 'big',
          transport: 'socketio',
          apiBase: aiwm.apiBase,
          url: aiwm.url,
          secret: aiwm.secret,
          connectTimeoutMs: 1_000,
          settleMs: 300,
          releaseQuietMs: 100,
        },
      ],
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await aiwm?.close();
    aiwmTokens.clear();
  });

  it('a Socket.IO packet over maxFrameBytes: one attempt, then hand-off naming the setting', async () => {
    const { json } = await stack.sendMessage({ conversationId: 711 });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts).toHaveLength(1);
    expect(report.reason).toMatch(/over 1048576 bytes \(the agent's maxFrameBytes\)/);
  });
});
