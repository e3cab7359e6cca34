import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  conversationStateQuery,
  conversationWorkflowId,
  type DeliveryReport,
} from '../workflows/shared.js';
import { eventually } from './helpers/eventually.js';
import { startStack, type Stack } from './helpers/stack.js';
import { workerProcesses } from './helpers/workerProcess.js';

const actor = (stack: Stack, conversationId: number) =>
  stack.temporal.workflow.getHandle(conversationWorkflowId(stack.accountId, conversationId));

async function actorState(stack: Stack, conversationId: number) {
  return actor(stack, conversationId).query(conversationStateQuery);
}

const contents = (stack: Stack, conversationId: number) =>
  stack.chatwoot.messages(stack.accountId, conversationId).map((message) => message.content);

describe('conversation actor: ordering', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { multi: 'multi?count=2&delayMs=30', echo: 'echo' },
      routes: { 7: 'multi', 8: 'echo' },
    });
  });
  afterAll(() => stack?.stop());

  it('10 messages within 200 ms: every reply posted, in order, one turn at a time', async () => {
    const sent: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      const { json, payload } = await stack.sendMessage({ conversationId: 501, content: `m${i}` });
      expect(json.result).toBe('accepted');
      sent.push(payload.id as number);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await stack.result(stack.messageWorkflowId(sent.at(-1) as number, 501));
    const expected = sent.flatMap((_, i) => [`reply 1/2: m${i}`, `reply 2/2: m${i}`]);
    await stack.chatwoot.waitFor(() => contents(stack, 501).length === expected.length, {
      description: 'all 20 replies',
    });
    expect(contents(stack, 501)).toEqual(expected);
    // One agent session for the whole conversation.
    const sessions = new Set(
      stack.agentServer.requests
        .filter((request) => request.conversation_id === '501')
        .map((request) => request.session_id),
    );
    expect([...sessions]).toEqual([`multi_${stack.accountId}_501_1`]);
    expect(stack.chatwoot.violations).toEqual([]);
  }, 60_000);

  it('50 conversations at once: no cross-talk', async () => {
    const conversations = Array.from({ length: 50 }, (_, i) => 600 + i);
    await Promise.all(
      conversations.map(async (conversationId) => {
        await stack.sendMessage({ conversationId, inboxId: 8, content: `c${conversationId}-a` });
        await stack.sendMessage({ conversationId, inboxId: 8, content: `c${conversationId}-b` });
      }),
    );
    await stack.chatwoot.waitFor(
      () => conversations.every((id) => stack.chatwoot.messages(stack.accountId, id).length === 2),
      { timeoutMs: 60_000, description: 'two replies in each of 50 conversations' },
    );
    for (const id of conversations) {
      expect(contents(stack, id)).toEqual([`echo: c${id}-a`, `echo: c${id}-b`]);
    }
  }, 90_000);
});

describe('conversation actor: bursts', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { burst: 'echo', capped: 'echo', aborting: 'slow?delayMs=2500' },
      routes: { 7: 'burst', 8: 'capped', 9: 'aborting' },
      agentSettings: {
        // The fourth message fills the batch: one turn however slow the machine is.
        burst: { debounce: { quietMs: 5_000, maxWaitMs: 10_000, maxBatch: 4 } },
        capped: { debounce: { quietMs: 800, maxWaitMs: 1_500, maxBatch: 50 } },
        // Answers after 2.5 s: time enough for the newer message to arrive while it works.
        aborting: { abortOnNewer: true, replyTimeoutMs: 10_000, totalTimeoutMs: 20_000 },
      },
    });
  });
  afterAll(() => stack?.stop());

  it('debounce merges a burst into one agent turn, contents in order, attachments kept', async () => {
    const ids: number[] = [];
    for (const content of ['Hi', 'my order', 'is late']) {
      const { payload } = await stack.sendMessage({ conversationId: 701, content });
      ids.push(payload.id as number);
    }
    const { payload } = await stack.sendMessage({
      conversationId: 701,
      content: null,
      attachments: [{ id: 1, file_type: 'image', data_url: 'https://files.example/p.png' }],
    });
    ids.push(payload.id as number);
    const report = await stack.result(stack.messageWorkflowId(ids.at(-1) as number, 701));
    expect(report.outcome).toBe('delivered');
    expect(contents(stack, 701)).toEqual(['echo: Hi\nmy order\nis late']);
    const turns = stack.agentServer.requests.filter((r) => r.conversation_id === '701');
    expect(turns).toHaveLength(1);
    expect(turns[0]?.metadata.merged_message_ids).toEqual(ids);
    expect(turns[0]?.attachments).toHaveLength(1);
  }, 30_000);

  it('debounce respects the maximum wait while the customer keeps typing', async () => {
    let firstReplyWhileTyping = false;
    let typing = true;
    const onMessage = (message: { conversation_id: number }) => {
      if (message.conversation_id === 702 && typing) firstReplyWhileTyping = true;
    };
    stack.chatwoot.on('message', onMessage);
    const sent: string[] = [];
    // A message every 300 ms for 3.3 s: the 800 ms quiet window never comes.
    for (let i = 0; i < 12; i += 1) {
      sent.push(`part ${i}`);
      await stack.sendMessage({ conversationId: 702, inboxId: 8, content: `part ${i}` });
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    typing = false;
    await stack.chatwoot.waitFor(
      () => contents(stack, 702).join('\n').split('\n').length >= sent.length,
      { description: 'every part answered' },
    );
    stack.chatwoot.off('message', onMessage);
    expect(firstReplyWhileTyping).toBe(true);
    const turns = stack.agentServer.requests.filter((r) => r.conversation_id === '702');
    expect(turns.length).toBeGreaterThanOrEqual(2);
    // Every part went to the agent exactly once, in order.
    expect(turns.flatMap((turn) => turn.content.split('\n'))).toEqual(sent);
  }, 30_000);

  it('abort-on-newer: a newer message cancels the running exchange; the merged turn is sent', async () => {
    const first = await stack.sendMessage({ conversationId: 703, inboxId: 9, content: 'first' });
    await stack.chatwoot.waitFor(
      () => stack.agentServer.requests.some((r) => r.conversation_id === '703'),
      { description: 'agent reached with the first message' },
    );
    const second = await stack.sendMessage({ conversationId: 703, inboxId: 9, content: 'second' });
    const report = await stack.result(stack.messageWorkflowId(second.payload.id as number, 703));
    expect(report.outcome).toBe('delivered');
    expect(contents(stack, 703)).toEqual(['echo: first\nsecond']);
    const cancelled = await stack.workflow(
      stack.messageWorkflowId(first.payload.id as number, 703),
    );
    expect((await cancelled.describe()).status.name).toBe('CANCELLED');
    expect(stack.chatwoot.typing(stack.accountId, 703).at(-1)).toBe('off');
  }, 30_000);
});

describe('conversation actor: humans, handoff, resolve, greeting, wait', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { echo: 'echo', handoff: 'handoff', slow: 'slow?delayMs=2000' },
      routes: { 7: 'echo', 8: 'handoff', 9: 'slow' },
      agentSettings: { echo: { greeting: ['Hi! I am the shop assistant.'] } },
      conversation: { botAssigneeIds: [42] },
    });
  });
  afterAll(() => stack?.stop());

  it('a human reply pauses the bot; back in pending resumes it', async () => {
    await stack.result(
      (await stack.sendMessage({ conversationId: 801, content: 'one' })).json.workflowId as string,
    );
    const human = await stack.sendMessage({
      conversationId: 801,
      messageType: 'outgoing',
      sender: 'user',
      content: 'Hi, I am Agent Smith, I will take it from here.',
    });
    expect(human.json).toMatchObject({ result: 'accepted', reason: 'human agent replied' });
    await eventually(async () => (await actorState(stack, 801)).state === 'paused');

    const held = await stack.sendMessage({ conversationId: 801, content: 'two' });
    await eventually(async () =>
      (await actorState(stack, 801)).heldMessageIds.includes(held.payload.id as number),
    );
    expect((await actorState(stack, 801)).pausedReason).toMatch(/Agent Smith replied/);

    await stack.sendEvent('conversation_status_changed', {
      conversationId: 801,
      status: 'pending',
      previousStatus: 'open',
    });
    await eventually(async () => (await actorState(stack, 801)).state === 'idle');
    // Rendered after the hand-back, the payload says pending (as Chatwoot's would).
    const three = await stack.sendMessage({
      conversationId: 801,
      content: 'three',
      status: 'pending',
    });
    await stack.result(three.json.workflowId as string);
    expect(contents(stack, 801)).toEqual(['echo: one', 'echo: three']);
  }, 30_000);

  it('assignment to a human pauses; to the bot user resumes; leaving pending pauses', async () => {
    await stack.result(
      (await stack.sendMessage({ conversationId: 802, content: 'a' })).json.workflowId as string,
    );
    await stack.sendEvent('conversation_updated', {
      conversationId: 802,
      changes: { assignee_id: [null, 3] },
    });
    await eventually(async () => (await actorState(stack, 802)).state === 'paused');
    expect((await actorState(stack, 802)).pausedReason).toMatch(/assigned to/);
    await stack.sendEvent('conversation_updated', {
      conversationId: 802,
      changes: { assignee_id: [3, 42] },
    });
    await eventually(async () => (await actorState(stack, 802)).state === 'idle');
    await stack.sendEvent('conversation_status_changed', {
      conversationId: 802,
      status: 'open',
      previousStatus: 'pending',
    });
    await eventually(async () => (await actorState(stack, 802)).state === 'paused');
    expect((await actorState(stack, 802)).pausedReason).toBe('conversation open');
  }, 30_000);

  it('agent-requested handoff: reply posted, conversation opened, private note, bot paused', async () => {
    const { json } = await stack.sendMessage({ conversationId: 803, inboxId: 8, content: 'help' });
    const report: DeliveryReport = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.reason).toBe('the agent asked for a human');
    const messages = stack.chatwoot.messages(stack.accountId, 803);
    expect(messages.map((m) => [m.private, m.content])).toEqual([
      [false, 'Let me get a colleague for you.'],
      [true, expect.stringContaining('the agent asked for a human')],
    ]);
    expect(stack.chatwoot.statusChanges(stack.accountId, 803)).toEqual(['open']);
    await eventually(async () => (await actorState(stack, 803)).state === 'paused');
  }, 30_000);

  it('resolved completes the actor; a new message starts a new one', async () => {
    const one = await stack.sendMessage({ conversationId: 804, content: 'before' });
    await stack.result(one.json.workflowId as string);
    const firstRun = await actor(stack, 804).describe();
    await stack.sendEvent('conversation_status_changed', {
      conversationId: 804,
      status: 'resolved',
      previousStatus: 'open',
    });
    const closed = await stack.temporal.workflow
      .getHandle(conversationWorkflowId(stack.accountId, 804), firstRun.runId)
      .result();
    expect(closed).toMatchObject({ state: 'closed', sessionState: 'closed' });

    const two = await stack.sendMessage({ conversationId: 804, content: 'after' });
    await stack.result(two.json.workflowId as string);
    const secondRun = await actor(stack, 804).describe();
    expect(secondRun.runId).not.toBe(firstRun.runId);
    expect(contents(stack, 804)).toEqual(['echo: before', 'echo: after']);
  }, 30_000);

  it('resolved while the agent answers: the turn is cancelled; a message right after is answered', async () => {
    const slow = await stack.sendMessage({ conversationId: 808, inboxId: 9, content: 'slow one' });
    await stack.chatwoot.waitFor(
      () => stack.agentServer.requests.some((r) => r.conversation_id === '808'),
      { description: 'agent reached' },
    );
    await stack.sendEvent('conversation_resolved', { conversationId: 808, status: 'resolved' });
    const after = await stack.sendMessage({ conversationId: 808, inboxId: 9, content: 'again' });
    const cancelled = await stack.workflow(slow.json.workflowId as string);
    await expect(cancelled.result()).rejects.toThrow(/cancel/i);
    await stack.result(after.json.workflowId as string);
    expect(contents(stack, 808)).toEqual(['echo: again']);
    expect(stack.chatwoot.typing(stack.accountId, 808).at(-1)).toBe('off');
  }, 30_000);

  it('greets on conversation_created, once per session', async () => {
    const created = await stack.sendEvent('conversation_created', { conversationId: 805 });
    expect(created.json).toMatchObject({ result: 'accepted' });
    await stack.chatwoot.waitFor(() => contents(stack, 805).length === 1, {
      description: 'greeting posted',
    });
    await stack.sendEvent('webwidget_triggered', { conversationId: 805 });
    const reply = await stack.sendMessage({ conversationId: 805, content: 'hello' });
    await stack.result(reply.json.workflowId as string);
    expect(contents(stack, 805)).toEqual(['Hi! I am the shop assistant.', 'echo: hello']);
    expect((await actorState(stack, 805)).sessionId).toBe(`echo_${stack.accountId}_805_1`);
  }, 30_000);

  it('?wait= answers with the first reply when it comes in time, else 202', async () => {
    const quick = await stack.sendMessage(
      { conversationId: 806, content: 'sync please' },
      { query: '?wait=4000' },
    );
    expect(quick.response.statusCode).toBe(200);
    expect(quick.json).toMatchObject({
      result: 'replied',
      reply: { content: 'echo: sync please' },
      workflowId: stack.messageWorkflowId(quick.payload.id as number, 806),
    });

    const slow = await stack.sendMessage(
      { conversationId: 807, inboxId: 9, content: 'too slow' },
      { query: '?wait=300' },
    );
    expect(slow.response.statusCode).toBe(202);
    expect(slow.json).toMatchObject({
      result: 'accepted',
      conversationWorkflowId: conversationWorkflowId(stack.accountId, 807),
    });
    await stack.result(slow.json.workflowId as string);
    expect(contents(stack, 807)).toEqual(['echo: too slow']);

    const bad = await stack.sendMessage({ conversationId: 806 }, { query: '?wait=soon' });
    expect(bad.response.statusCode).toBe(400);
    expect(bad.json).toMatchObject({ field: 'wait' });
  }, 30_000);
});

describe('conversation actor: continue-as-new (threshold lowered in test/globalSetup.ts)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { held: 'echo', plain: 'echo', timed: 'echo' },
      routes: { 7: 'held', 8: 'plain', 9: 'timed' },
      agentSettings: {
        // Only a full batch (46) sends: nothing here depends on how fast the machine is.
        held: { debounce: { quietMs: 600_000, maxWaitMs: 1_200_000, maxBatch: 46 } },
        timed: { debounce: { quietMs: 1_500, maxWaitMs: 60_000, maxBatch: 100 } },
      },
    });
  });
  afterAll(() => stack?.stop());

  const runs = async (conversationId: number) =>
    (await actorState(stack, conversationId)).counters.runs;

  it('keeps the queue, the pending debounce deadline and the dedupe memory across runs', async () => {
    // Each signal adds at least one history event: 45 of them pass the threshold of 40.
    const parts = Array.from({ length: 45 }, (_, i) => `part ${i}`);
    const sent: Array<Record<string, unknown>> = [];
    for (const content of parts) {
      sent.push((await stack.sendMessage({ conversationId: 901, content })).payload);
    }
    await eventually(async () => (await runs(901)) > 1, { description: 'continue-as-new' });
    await eventually(async () => (await actorState(stack, 901)).queueLength === parts.length);
    const carried = await actorState(stack, 901);
    expect(carried.state).toBe('collecting');
    expect(carried.nextTimerAt).toEqual(expect.any(String));

    // Chatwoot retries an early message after the new run began: still dropped.
    const replay = sent[2] as Record<string, unknown>;
    await stack.sendMessage({
      conversationId: 901,
      messageId: replay.id as number,
      content: 'part 2',
    });
    await eventually(async () => (await actorState(stack, 901)).counters.duplicatesIgnored === 1);
    expect((await actorState(stack, 901)).queueLength).toBe(parts.length);

    // The 46th message fills the batch: one turn with every part, in order.
    const last = await stack.sendMessage({ conversationId: 901, content: 'part 45' });
    await stack.result(stack.messageWorkflowId(last.payload.id as number, 901));
    expect(contents(stack, 901)).toEqual([`echo: ${[...parts, 'part 45'].join('\n')}`]);
    const turns = stack.agentServer.requests.filter((r) => r.conversation_id === '901');
    expect(turns).toHaveLength(1);
    expect((await actorState(stack, 901)).counters.messagesReceived).toBe(parts.length + 1);
  }, 60_000);

  it('a debounce timer pending at continue-as-new fires in the new run', async () => {
    const conversationId = 903;
    const firstRun = (await stack.sendMessage({ conversationId, inboxId: 9, content: 'm0' }))
      .payload;
    const firstRunId = (await actor(stack, conversationId).describe()).runId;
    const sent = [firstRun];
    for (let i = 1; i < 45; i += 1) {
      sent.push(
        (await stack.sendMessage({ conversationId, inboxId: 9, content: `m${i}` })).payload,
      );
    }
    const newest = sent.at(-1)?.id as number;
    const delivery = await stack.workflow(stack.messageWorkflowId(newest, conversationId));
    await delivery.result();
    // Every message went in turns, each once, in order; the last turn was started by a later run.
    const turns = stack.agentServer.requests.filter(
      (r) => r.conversation_id === String(conversationId),
    );
    expect(turns.flatMap((turn) => turn.content.split('\n'))).toEqual(sent.map((_, i) => `m${i}`));
    const parent = (await delivery.describe()).parentExecution;
    expect(parent?.runId).toBeDefined();
    expect(parent?.runId).not.toBe(firstRunId);
  }, 60_000);

  it('keeps a paused conversation paused across runs', async () => {
    const first = await stack.sendMessage({ conversationId: 902, inboxId: 8, content: 'hello' });
    await stack.result(first.json.workflowId as string);
    await stack.sendMessage({
      conversationId: 902,
      messageType: 'outgoing',
      sender: 'user',
      content: 'human here',
    });
    await eventually(async () => (await actorState(stack, 902)).state === 'paused');
    const before = await runs(902);
    for (let i = 0; i < 45; i += 1) {
      await stack.sendMessage({ conversationId: 902, inboxId: 8, content: `while paused ${i}` });
    }
    await eventually(async () => (await runs(902)) > before, { description: 'continue-as-new' });
    const paused = await actorState(stack, 902);
    expect(paused.state).toBe('paused');
    expect(paused.pausedReason).toMatch(/replied/);
    expect(paused.heldMessageIds).toHaveLength(45);

    await stack.sendEvent('conversation_status_changed', {
      conversationId: 902,
      status: 'pending',
      previousStatus: 'open',
    });
    await eventually(async () => (await actorState(stack, 902)).state === 'idle');
    // Rendered after the status change, the payload says pending (as Chatwoot's would).
    const after = await stack.sendMessage({
      conversationId: 902,
      inboxId: 8,
      content: 'back',
      status: 'pending',
    });
    await stack.result(after.json.workflowId as string);
    expect(contents(stack, 902)).toEqual(['echo: hello', 'echo: back']);
  }, 60_000);
});

describe('conversation actor: worker killed mid-debounce', () => {
  let stack: Stack;
  let workers: ReturnType<typeof workerProcesses>;
  beforeAll(async () => {
    stack = await startStack({
      agents: { burst: 'echo' },
      agentSettings: { burst: { debounce: { quietMs: 1_500, maxWaitMs: 20_000, maxBatch: 20 } } },
      worker: false,
    });
    workers = workerProcesses(stack.config);
  });
  afterAll(async () => {
    workers?.killAll();
    await stack?.stop();
  });

  it('SIGKILL while a burst is collecting, restart: the burst is delivered once, as one turn', async () => {
    const first = workers.start();
    const ids: number[] = [];
    for (const content of ['one', 'two', 'three']) {
      ids.push((await stack.sendMessage({ conversationId: 951, content })).payload.id as number);
    }
    await eventually(async () => (await actorState(stack, 951)).queueLength === 3, {
      description: 'burst collected by the first worker',
    });
    first.kill('SIGKILL');
    workers.start();
    await stack.result(stack.messageWorkflowId(ids.at(-1) as number, 951));
    expect(contents(stack, 951)).toEqual(['echo: one\ntwo\nthree']);
    const turns = stack.agentServer.requests.filter((r) => r.conversation_id === '951');
    expect(turns).toHaveLength(1);
    expect(turns[0]?.metadata.merged_message_ids).toEqual(ids);
  }, 90_000);
});
