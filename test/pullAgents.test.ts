import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../api/app.js';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { agentInboxWorkflow } from '../workflows/agentInbox.js';
import {
  agentInboxWorkflowId,
  inboxStateQuery,
  turnClosedSignal,
  turnOfferedSignal,
  type PullTurn,
} from '../workflows/pullShared.js';
import { deliveryStateQuery } from '../workflows/shared.js';
import { pullAgent, type PullAgent } from './helpers/pullAgent.js';
import { startStack, type Stack } from './helpers/stack.js';

const KEY = 'pull-agent-key-0123456789';
const SLOW_KEY = 'slow-pull-agent-key-0123456789';

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('pull agents (real Temporal, real HTTP app, fake Chatwoot)', () => {
  let stack: Stack;
  let agent: PullAgent;
  /** Answers within 800 ms or the attempt fails: for the timeout and comeback cases. */
  let hasty: PullAgent;

  beforeAll(async () => {
    stack = await startStack({
      agents: {
        puller: { transport: 'pull', apiKey: KEY, longPollMs: 10_000 },
        echo: 'echo',
        fresh: { transport: 'pull', apiKey: `fresh-${KEY}` },
        renewing: { transport: 'pull', apiKey: `renewing-${KEY}` },
        hasty: { transport: 'pull', apiKey: SLOW_KEY, replyTimeoutMs: 800, longPollMs: 5_000 },
      },
      routes: { 7: 'puller', 8: 'hasty' },
    });
    agent = pullAgent(stack.app, 'puller', KEY);
    hasty = pullAgent(stack.app, 'hasty', SLOW_KEY);
  });
  afterAll(() => stack?.stop());

  const inbox = (agentId: string) =>
    stack.temporal.workflow
      .getHandle(agentInboxWorkflowId(agentId, stack.config.temporal.taskQueue))
      .query(inboxStateQuery);

  it('happy path: the agent takes the turn and its final reply is posted', async () => {
    const { json } = await stack.sendMessage({ conversationId: 501, content: 'Where is it?' });
    const workflowId = json.workflowId as string;
    const [turn, ...rest] = await agent.pollUntilTurn();
    expect(rest).toEqual([]);
    expect(turn).toMatchObject({
      message_id: workflowId,
      conversation_id: '501',
      content: 'Where is it?',
      metadata: expect.objectContaining({ attempt: 1, replies_received: 0 }),
    });
    const posted = await agent.reply(turn!, 'It is on its way.', { final: true });
    expect(posted).toEqual({
      status: 200,
      json: { status: 'accepted', duplicate: false, index: 0 },
    });
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts).toEqual([{ attempt: 1, outcome: 'completed', detail: 'final' }]);
    expect(stack.chatwoot.messages(stack.accountId, 501)).toEqual([
      expect.objectContaining({
        content: 'It is on its way.',
        source_id: null,
        content_attributes: { [MARKER_ATTRIBUTE]: bridgeSourceId(workflowId, 0) },
      }),
    ]);
    expect(stack.chatwoot.typing(stack.accountId, 501)).toEqual(['on', 'off']);
    expect((await inbox('puller')).delivered.map((entry) => entry.turnId)).not.toContain(
      workflowId,
    );
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('long poll: a poll waiting before the message arrives returns it', async () => {
    const empty = await agent.poll({ wait: 200 });
    expect(empty).toMatchObject({ status: 200, messages: [] });
    // An agent polling before any turn was ever offered starts its own inbox.
    const first = await pullAgent(stack.app, 'fresh', `fresh-${KEY}`).poll({ wait: 0 });
    expect(first).toMatchObject({ status: 200, messages: [] });
    expect(await inbox('fresh')).toEqual({ pending: [], delivered: [] });

    const waiting = agent.poll({ wait: 10_000 });
    // Give the poll time to reach the inbox workflow before the message exists.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { json } = await stack.sendMessage({ conversationId: 502, content: 'ping' });
    const { status, messages } = await waiting;
    expect(status).toBe(200);
    expect(messages.map((turn) => turn.message_id)).toEqual([json.workflowId]);
    await agent.reply(messages[0]!, 'pong', { final: true });
    expect((await stack.result(json.workflowId as string)).outcome).toBe('delivered');
    expect(stack.chatwoot.messages(stack.accountId, 502).map((m) => m.content)).toEqual(['pong']);
  });

  it('several replies are posted in order, the answer ends on final', async () => {
    const { json } = await stack.sendMessage({ conversationId: 503, content: 'tell me more' });
    const [turn] = await agent.pollUntilTurn();
    for (const [sequence, content] of ['one', 'two', 'three'].entries()) {
      const posted = await agent.reply(turn!, content, { sequence, final: sequence === 2 });
      expect(posted.json).toMatchObject({ duplicate: false, index: sequence });
    }
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.replies.map((r) => r.status)).toEqual(['posted', 'posted', 'posted']);
    expect(stack.chatwoot.messages(stack.accountId, 503).map((m) => m.content)).toEqual([
      'one',
      'two',
      'three',
    ]);
    // The answer is over: a new reply is refused, not silently dropped.
    const late = await agent.reply(turn!, 'four', { sequence: 3 });
    expect(late).toMatchObject({ status: 409, json: { error: 'turn_closed' } });
  });

  it('a repeated outbox post is acknowledged as a duplicate and posted once', async () => {
    const { json } = await stack.sendMessage({ conversationId: 504, content: 'hello' });
    const workflowId = json.workflowId as string;
    const [turn] = await agent.pollUntilTurn();
    expect((await agent.reply(turn!, 'Hi there!')).json).toMatchObject({ duplicate: false });
    // The agent lost the response and posts again; then again by sequence-less content.
    expect(await agent.reply(turn!, 'Hi there!')).toEqual({
      status: 200,
      json: { status: 'duplicate', duplicate: true, index: 0 },
    });
    await agent.reply(turn!, 'Anything else?', { final: true });
    expect((await stack.result(workflowId)).outcome).toBe('delivered');
    // After the delivery has closed, a late repeat is still recognised.
    expect(await agent.reply(turn!, 'Anything else?', { final: true })).toMatchObject({
      status: 200,
      json: { duplicate: true, index: 1 },
    });
    expect(stack.chatwoot.messages(stack.accountId, 504).map((m) => m.content)).toEqual([
      'Hi there!',
      'Anything else?',
    ]);
  });

  it('the same sequence with different content is a conflict', async () => {
    const { json } = await stack.sendMessage({ conversationId: 505, content: 'numbers' });
    const [turn] = await agent.pollUntilTurn();
    await agent.reply(turn!, 'first', { sequence: 0 });
    const conflict = await agent.reply(turn!, 'other', { sequence: 0 });
    expect(conflict).toMatchObject({ status: 409, json: { error: 'sequence_conflict' } });
    await agent.reply(turn!, 'last', { sequence: 1, final: true });
    await stack.result(json.workflowId as string);
    expect(stack.chatwoot.messages(stack.accountId, 505).map((m) => m.content)).toEqual([
      'first',
      'last',
    ]);
  });

  it('checks keys, agents and fields: 401, 404, 400 naming the field', async () => {
    const wrong = await agent.poll({ wait: 0 }, 'not-the-key-of-this-agent');
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({ error: 'unauthorized' });
    expect((await agent.poll({ wait: 0 }, null)).status).toBe(401);
    // Another agent's key is not this agent's key.
    expect((await agent.poll({ wait: 0 }, SLOW_KEY)).status).toBe(401);
    expect((await agent.post({ message_id: 'x', content: 'y' }, 'wrong-key')).status).toBe(401);

    const nobody = pullAgent(stack.app, 'nobody', KEY);
    expect((await nobody.poll()).json).toMatchObject({ error: 'unknown_agent' });
    expect((await nobody.poll()).status).toBe(404);
    // A WebSocket agent has no inbox either.
    expect((await pullAgent(stack.app, 'echo', KEY).poll()).status).toBe(404);

    expect((await agent.poll({ wait: 'soon' })).json).toMatchObject({ field: 'wait' });
    expect((await agent.poll({ limit: 0 })).json).toMatchObject({ field: 'limit' });
    const noContent = await agent.post({ message_id: 'message:1:1:1' });
    expect(noContent).toMatchObject({ status: 400, json: { field: 'content' } });
    const badFinal = await agent.post({ message_id: 'm', content: 'x', final: 'yes' });
    expect(badFinal.json).toMatchObject({ field: 'final' });
    const badError = await agent.post({ message_id: 'm', error: { message: 'no code' } });
    expect(badError.json).toMatchObject({ field: 'error.code' });

    const unknown = await agent.post({ message_id: 'message:1:1:404', content: 'hello?' });
    expect(unknown).toMatchObject({ status: 404, json: { error: 'unknown_message' } });
  });

  it("one agent cannot answer another agent's turn", async () => {
    const { json } = await stack.sendMessage({ conversationId: 506, content: 'mine' });
    const [turn] = await agent.pollUntilTurn();
    const intruder = await hasty.reply(turn!, 'not yours', { final: true });
    expect(intruder).toMatchObject({ status: 404, json: { error: 'unknown_message' } });
    await agent.reply(turn!, 'yours truly', { final: true });
    await stack.result(json.workflowId as string);
    expect(stack.chatwoot.messages(stack.accountId, 506).map((m) => m.content)).toEqual([
      'yours truly',
    ]);
  });

  it('an error the agent marks not retryable hands off at once', async () => {
    const { json } = await stack.sendMessage({ conversationId: 507, content: 'do the thing' });
    const [turn] = await agent.pollUntilTurn();
    const posted = await agent.post({
      message_id: turn!.message_id,
      error: { code: 'unsupported_request', message: 'cannot do that', retryable: false },
    });
    expect(posted.status).toBe(200);
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts).toHaveLength(1);
    expect(report.reason).toMatch(/unsupported_request/);
    expect(
      stack.chatwoot.messages(stack.accountId, 507).map((m) => [m.private, m.content]),
    ).toEqual([
      [false, stack.config.delivery.fallbackMessage],
      [true, expect.stringContaining('unsupported_request')],
    ]);
    expect(stack.chatwoot.statusChanges(stack.accountId, 507)).toEqual(['open']);
  });

  it('a retryable error: the turn is offered again and the answer completes', async () => {
    const { json } = await stack.sendMessage({ conversationId: 510, content: 'retry me' });
    const [turn] = await agent.pollUntilTurn();
    const failed = await agent.post({
      message_id: turn!.message_id,
      error: { code: 'busy', message: 'try later' },
    });
    expect(failed).toMatchObject({ status: 200, json: { duplicate: false } });
    const [again] = await agent.pollUntilTurn();
    expect(again).toMatchObject({
      message_id: turn!.message_id,
      metadata: expect.objectContaining({ attempt: 2, replies_received: 0 }),
    });
    await agent.reply(again!, 'done now', { final: true });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts).toEqual([
      { attempt: 1, outcome: 'failed', detail: expect.stringMatching(/agent error busy/) },
      { attempt: 2, outcome: 'completed', detail: 'final' },
    ]);
    expect(stack.chatwoot.messages(stack.accountId, 510).map((m) => m.content)).toEqual([
      'done now',
    ]);
  });

  it('an agent that stops polling, back inside the window, still gets the turn', async () => {
    const { json } = await stack.sendMessage({ conversationId: 508, inboxId: 8, content: 'back?' });
    const workflowId = json.workflowId as string;
    // The first attempt times out while nobody polls.
    const handle = await stack.workflow(workflowId);
    await eventually(async () => (await handle.query(deliveryStateQuery)).attempt > 1);
    // The workflow counts attempt 2 a moment before it withdraws attempt 1 from the inbox and
    // offers attempt 2: a poll in between may still return attempt 1. Poll until the re-offer.
    let turn: PullTurn | undefined;
    for (let polls = 0; polls < 10; polls += 1) {
      [turn] = await hasty.pollUntilTurn();
      if ((turn!.metadata as { attempt: number }).attempt > 1) break;
    }
    expect(turn!.message_id).toBe(workflowId);
    expect(turn!.metadata).toMatchObject({ attempt: expect.any(Number) });
    expect((turn!.metadata as { attempt: number }).attempt).toBeGreaterThan(1);
    await hasty.reply(turn!, 'I am back', { final: true });
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts[0]).toMatchObject({
      outcome: 'failed',
      detail: expect.stringMatching(/did not take and answer/),
    });
    expect(stack.chatwoot.messages(stack.accountId, 508).map((m) => m.content)).toEqual([
      'I am back',
    ]);
  });

  it('an agent that never takes the turn: retried, then handed off, turn withdrawn', async () => {
    const { json } = await stack.sendMessage({ conversationId: 509, inboxId: 8, content: 'hi?' });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts.length).toBeGreaterThan(1);
    expect(report.reason).toMatch(/agent unavailable/);
    const messages = stack.chatwoot.messages(stack.accountId, 509);
    expect(messages.map((m) => [m.private, m.content])).toEqual([
      [false, stack.config.delivery.fallbackMessage],
      [true, expect.stringContaining('to the team: ')],
    ]);
    expect(stack.chatwoot.statusChanges(stack.accountId, 509)).toEqual(['open']);
    const state = await inbox('hasty');
    expect([...state.pending, ...state.delivered].map((e) => e.turnId)).not.toContain(workflowId);
    // Nothing is handed out for a delivery that is over.
    expect((await hasty.poll({ wait: 0 })).messages).toEqual([]);
  });

  it('the inbox continues as new before its history grows, keeping its turns', async () => {
    const handle = await stack.temporal.workflow.start(agentInboxWorkflow, {
      workflowId: agentInboxWorkflowId('renewing', stack.config.temporal.taskQueue),
      taskQueue: stack.config.temporal.taskQueue,
      args: [{ agentId: 'renewing', continueAfterEvents: 40 }],
    });
    for (const id of ['turn-a', 'turn-b']) {
      await handle.signal(turnOfferedSignal, {
        turnId: id,
        attempt: 1,
        turn: { message_id: id, content: id },
      });
    }
    // Each signal adds history; closing turns the inbox never had changes nothing else.
    let signals = 0;
    while ((await handle.describe()).runId === handle.firstExecutionRunId) {
      expect(signals).toBeLessThan(200);
      await handle.signal(turnClosedSignal, `unknown-${(signals += 1)}`);
    }
    const renewing = pullAgent(stack.app, 'renewing', `renewing-${KEY}`);
    const { messages } = await renewing.poll({ wait: 0 });
    expect(messages.map((turn) => turn.message_id)).toEqual(['turn-a', 'turn-b']);
    expect((await renewing.poll({ wait: 0 })).messages).toEqual([]);
  });

  it('answers 503 when Temporal is unreachable, so the agent retries', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1' });
    const app = buildApp({
      config: { ...stack.config, temporal: { ...stack.config.temporal, startTimeoutMs: 500 } },
      temporal: new Client({ connection }),
      logger: false,
    });
    const cut = pullAgent(app, 'puller', KEY);
    const polled = await cut.poll({ wait: 0 });
    expect(polled).toMatchObject({ status: 503, json: { error: 'temporal_unavailable' } });
    const posted = await cut.post({ message_id: 'message:1:1:1', content: 'hello' });
    expect(posted).toMatchObject({ status: 503, json: { error: 'temporal_unavailable' } });
    await app.close();
  });
});
