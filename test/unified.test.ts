import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { untilDeliveryAttempt } from './helpers/deliveryState.js';
import { startStack, type Stack } from './helpers/stack.js';

describe('unified WebSocket agents (real Temporal, real sockets, fake Chatwoot)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: {
        echo: 'unified/echo',
        multi: 'unified/multi?count=3&delayMs=30',
        stream: 'unified/stream?parts=4&order=3,1,0,2',
        streamEnd: 'unified/stream?parts=3&order=1,2,0&end=complete',
        refuses: 'unified/error?code=invalid_message',
        busy: 'unified/error?code=overloaded',
        slow: {
          path: 'unified/slow?delayMs=2400&progressMs=200&first=1',
          replyTimeoutMs: 800,
          idleTimeoutMs: 800,
          pingIntervalMs: 300,
        },
        silent: { path: 'unified/silent', replyTimeoutMs: 800 },
        dead: { path: 'unified/dead?after=1&count=2', pingIntervalMs: 200 },
        drop: 'unified/drop?after=1&count=3',
        garbage: 'unified/garbage',
      },
      routes: {
        7: 'echo',
        8: 'multi',
        9: 'stream',
        10: 'streamEnd',
        11: 'refuses',
        12: 'busy',
        13: 'slow',
        14: 'silent',
        15: 'dead',
        16: 'drop',
        17: 'garbage',
      },
    });
  });
  afterEach(async () => {
    await stack.agentServer.setAvailable(true);
  });
  afterAll(() => stack?.stop());

  const contents = (conversationId: number) =>
    stack.chatwoot.messages(stack.accountId, conversationId).map((m) => m.content);

  it('happy path: user_message out, agent_message posted, agent_complete ends it', async () => {
    const { json } = await stack.sendMessage({ conversationId: 601, content: 'Where is it?' });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts).toEqual([{ attempt: 1, outcome: 'completed', detail: 'final' }]);
    expect(stack.chatwoot.messages(stack.accountId, 601)).toEqual([
      expect.objectContaining({
        content: 'echo: Where is it?',
        source_id: null,
        content_attributes: { [MARKER_ATTRIBUTE]: bridgeSourceId(workflowId, 0) },
      }),
    ]);
    expect(stack.agentServer.unifiedRequests.at(-1)).toMatchObject({
      type: 'user_message',
      agent: 'echo',
      message: 'Where is it?',
      session_id: `echo_${stack.accountId}_601_1`,
      metadata: { attempt: 1, conversation_id: 601, inbox_id: 7 },
    });
    expect(stack.chatwoot.typing(stack.accountId, 601)).toEqual(['on', 'off']);
    expect(stack.agentServer.openConnections).toBe(0);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('several agent_message frames are posted in order, each once', async () => {
    const { json } = await stack.sendMessage({ conversationId: 602, inboxId: 8, content: 'hi' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(contents(602)).toEqual(['reply 1/3: hi', 'reply 2/3: hi', 'reply 3/3: hi']);
  });

  it('streamed chunks, out of order, become one message', async () => {
    const content = 'please stream this answer';
    const { json } = await stack.sendMessage({ conversationId: 603, inboxId: 9, content });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(contents(603)).toEqual([`streamed echo: ${content}`]);
  });

  it('a stream ended by agent_complete (no last-chunk marker) is one message too', async () => {
    const { json } = await stack.sendMessage({ conversationId: 604, inboxId: 10, content: 'abc' });
    expect((await stack.result(json.workflowId as string)).outcome).toBe('delivered');
    expect(contents(604)).toEqual(['streamed echo: abc']);
  });

  it('error_message with a code a retry cannot fix: hands off at once', async () => {
    const { json } = await stack.sendMessage({ conversationId: 605, inboxId: 11, content: 'x' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts).toHaveLength(1);
    expect(report.reason).toMatch(/invalid_message/);
    expect(
      stack.chatwoot.messages(stack.accountId, 605).map((m) => [m.private, m.content]),
    ).toEqual([
      [false, stack.config.delivery.fallbackMessage],
      [true, expect.stringContaining('invalid_message')],
    ]);
    expect(stack.chatwoot.statusChanges(stack.accountId, 605)).toEqual(['open']);
  });

  it('error_message with a passing code (overloaded): retried, then handed off', async () => {
    const { json } = await stack.sendMessage({ conversationId: 606, inboxId: 12, content: 'x' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts.length).toBeGreaterThan(1);
    expect(report.attempts.every((a) => /agent error overloaded/.test(a.detail))).toBe(true);
    expect(report.reason).toMatch(/agent unavailable/);
  });

  it('agent unreachable, back inside the window: delivered', async () => {
    await stack.agentServer.setAvailable(false);
    const { json } = await stack.sendMessage({ conversationId: 607, content: 'anyone?' });
    // Back only once the first attempt has failed, however late it started.
    await untilDeliveryAttempt(stack.temporal, json.workflowId as string, 2);
    await stack.agentServer.setAvailable(true);
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts[0]).toMatchObject({
      outcome: 'failed',
      detail: expect.stringMatching(/ECONNREFUSED/),
    });
    expect(contents(607)).toEqual(['echo: anyone?']);
  });

  it('an agent that never answers: reply timeouts, then hand-off', async () => {
    const { json } = await stack.sendMessage({ conversationId: 608, inboxId: 14, content: '?' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts.length).toBeGreaterThan(1);
    expect(report.attempts[0]?.detail).toMatch(/reply timeout/);
    expect(
      stack.chatwoot.messages(stack.accountId, 608).map((m) => [m.private, m.content]),
    ).toEqual([
      [false, stack.config.delivery.fallbackMessage],
      [true, expect.stringContaining('to the team: ')],
    ]);
    expect(stack.chatwoot.statusChanges(stack.accountId, 608)).toEqual(['open']);
  });

  it('status and progress updates keep a slow agent alive past its idle timeout', async () => {
    // 2.4 s of work between two replies, with reply and idle timeouts of 0.8 s.
    const { json } = await stack.sendMessage({ conversationId: 609, inboxId: 13, content: 'sum' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts).toEqual([{ attempt: 1, outcome: 'completed', detail: 'final' }]);
    expect(contents(609)).toEqual(['working on: sum', 'done: sum']);
  });

  it('a dead connection (no pong) fails the attempt; the retry completes the answer', async () => {
    const { json } = await stack.sendMessage({ conversationId: 610, inboxId: 15, content: 'z' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(report.attempts[0]?.detail).toMatch(/no pong/);
    expect(contents(610)).toEqual(['reply 1/2: z', 'reply 2/2: z']);
  });

  it('a socket dropped mid-answer: the retry completes it, no reply twice', async () => {
    const { json } = await stack.sendMessage({ conversationId: 611, inboxId: 16, content: 'd' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(contents(611)).toEqual(['reply 1/3: d', 'reply 2/3: d', 'reply 3/3: d']);
  });

  it('a frame that is not JSON fails without retry and hands off', async () => {
    const { json } = await stack.sendMessage({ conversationId: 612, inboxId: 17, content: 'g' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts).toEqual([
      { attempt: 1, outcome: 'failed', detail: expect.stringMatching(/not JSON/) },
    ]);
  });
});
