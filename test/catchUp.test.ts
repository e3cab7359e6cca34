import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ScheduleNotFoundError } from '@temporalio/client';
import { BOT_ERROR_ACTIVITY, planConversation, worthReading } from '../activities/catchUpPlan.js';
import type { ChatwootListedConversation, ChatwootListedMessage } from '../chatwoot/client.js';
import { isBridgeMessage } from '../chatwoot/sourceId.js';
import { LiveConfig } from '../config/live.js';
import { parseConfig } from '../config/load.js';
import { catchUpAccountIds } from '../config/schema.js';
import type { StoredMessage } from '../sandbox/fakeChatwoot.js';
import { createBridgeWorker, type BridgeWorker } from '../workers/worker.js';
import { catchUpScheduleId, type CatchUpReport } from '../workflows/catchUpShared.js';
import { conversationStateQuery, conversationWorkflowId } from '../workflows/shared.js';
import { eventually } from './helpers/eventually.js';
import { parsePrometheus, sampleValue } from './helpers/prometheus.js';
import { sendLikeAgentBot } from './helpers/agentBotSender.js';
import { startStack, WEBHOOK_SECRET, type Stack } from './helpers/stack.js';

const USER_TOKEN = 'test-user-token';
const INBOX = 7;
const MAX_AGE_MS = 10 * 60_000;

let stack: Stack;
let worker: BridgeWorker;
const startupLines: string[] = [];

/** A logger that keeps what the worker says at start-up. */
function recordingLogger(lines: string[]) {
  return {
    info: (message: string) => void lines.push(message),
    warn: (message: string) => void lines.push(message),
  };
}

beforeAll(async () => {
  stack = await startStack({ worker: false });
  const config = parseConfig({
    ...stack.config,
    catchUp: {
      apiAccessToken: USER_TOKEN,
      // Long: the test starts runs itself, so a timer run never races an assertion.
      intervalMs: 3_600_000,
      maxAgeMs: MAX_AGE_MS,
      firstRunLookbackMs: 3_600_000,
    },
  });
  worker = await createBridgeWorker({
    config,
    address: inject('temporalAddress'),
    workflowBundlePath: inject('workflowBundlePath'),
    live: new LiveConfig(config),
    logger: recordingLogger(startupLines),
  });
  void worker.run();
  // The start-up run: let it finish so each test's own run sees what that test seeded.
  await eventually(
    async () => {
      const { runs, running } = await scheduleRuns();
      return runs.length > 0 && running === 0;
    },
    { description: 'the start-up catch-up run' },
  );
});

afterAll(async () => {
  await stack?.temporal.schedule
    .getHandle(catchUpScheduleId(stack.accountId))
    .delete()
    .catch(() => undefined);
  await worker?.shutdown();
  await stack?.stop();
});

/** Runs of the account's schedule seen so far (ids may repeat within a second: keep run ids). */
async function scheduleRuns(): Promise<{
  runs: Array<{ workflowId: string; runId: string }>;
  running: number;
}> {
  const description = await stack.temporal.schedule
    .getHandle(catchUpScheduleId(stack.accountId))
    .describe();
  return {
    runs: description.info.recentActions.flatMap((action) =>
      action.action.type === 'startWorkflow'
        ? [
            {
              workflowId: action.action.workflow.workflowId,
              runId: action.action.workflow.firstExecutionRunId,
            },
          ]
        : [],
    ),
    running: description.info.runningActions.length,
  };
}

/** Starts one catch-up run (after any run still going) and waits for its report. */
async function runCatchUp(): Promise<CatchUpReport & { staticSummary?: string }> {
  await expect.poll(async () => (await scheduleRuns()).running, { timeout: 30_000 }).toBe(0);
  const before = new Set((await scheduleRuns()).runs.map((run) => run.runId));
  await stack.temporal.schedule.getHandle(catchUpScheduleId(stack.accountId)).trigger('SKIP');
  let run: { workflowId: string; runId: string } | undefined;
  await expect
    .poll(
      async () => {
        run = (await scheduleRuns()).runs.find((candidate) => !before.has(candidate.runId));
        return run;
      },
      { timeout: 30_000 },
    )
    .toBeDefined();
  const handle = stack.temporal.workflow.getHandle(run!.workflowId, run!.runId);
  const report = (await handle.result()) as CatchUpReport;
  // What the Temporal UI shows for the run.
  const staticSummary = await (await handle.describe()).staticSummary();
  return { ...report, staticSummary };
}

/** Where the bridge's API was: nothing listens there any more (connection refused). */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/webhook/chatwoot`;
}

/**
 * A customer message written while the bridge's API was down: Chatwoot stores it, its agent-bot
 * webhook is refused, and Chatwoot gives up (message failed, conversation opened).
 */
async function missedMessage(
  conversationId: number,
  content: string,
  createdAt?: number,
): Promise<StoredMessage> {
  const message = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, content, {
    ...(createdAt !== undefined ? { createdAt } : {}),
  });
  const outcome = await sendLikeAgentBot(stack.chatwoot, await closedPortUrl(), message, {
    secret: WEBHOOK_SECRET,
  });
  expect(outcome).toBe('failed');
  return message;
}

function botReplies(conversationId: number): StoredMessage[] {
  return stack.chatwoot
    .messages(stack.accountId, conversationId)
    .filter((m) => m.message_type === 'outgoing' && !m.private && isBridgeMessage(m));
}

describe('catch-up', () => {
  it('is scheduled at start-up, and says so', () => {
    expect(startupLines.some((line) => line.startsWith('catch-up scheduled'))).toBe(true);
  });

  it('answers once what was missed while the bridge was down, and gives the conversation back to the bot', async () => {
    const conversationId = 201;
    stack.chatwoot.seedConversation(stack.accountId, conversationId, { inboxId: INBOX });
    await missedMessage(conversationId, 'where is my parcel?');
    await missedMessage(conversationId, 'it was due yesterday');
    // What Chatwoot did on the failure: opened it, with its activity message.
    expect(stack.chatwoot.status(stack.accountId, conversationId)).toBe('open');
    expect(
      stack.chatwoot
        .messages(stack.accountId, conversationId)
        .filter((m) => m.message_type === 'incoming')
        .map((m) => m.status),
    ).toEqual(['failed', 'failed']);
    expect(
      stack.chatwoot.messages(stack.accountId, conversationId).map((m) => m.content),
    ).toContain(BOT_ERROR_ACTIVITY);

    const report = await runCatchUp();
    expect(report, JSON.stringify(report)).toMatchObject({ caughtUpMessages: 2 });
    expect(report.summary).toBe('caught up 2 messages in 1 conversation');
    expect(report.staticSummary).toBe(
      `catch-up of account ${stack.accountId}: messages whose webhook Chatwoot gave up on`,
    );
    await expect
      .poll(() => botReplies(conversationId).map((m) => m.content), { timeout: 20_000 })
      .toEqual(['echo: where is my parcel?', 'echo: it was due yesterday']);
    expect(stack.chatwoot.status(stack.accountId, conversationId)).toBe('pending');

    // A second run finds nothing new to answer there: every message was answered once.
    await runCatchUp();
    expect(botReplies(conversationId)).toHaveLength(2);

    const samples = parsePrometheus(await worker.metrics.registry.metrics());
    expect(
      sampleValue(samples, 'chatwoot_bridge_catch_up_messages_total', { outcome: 'answered' }),
    ).toBeGreaterThanOrEqual(2);
    expect(sampleValue(samples, 'chatwoot_bridge_catch_up_runs_total')).toBeGreaterThanOrEqual(2);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it.each([
    ['heard', 211],
    ['lost in the outage too', 212],
  ] as const)(
    'answers, once and in creation order, what the actor held when Chatwoot opened the conversation on the bot failure (status webhook %s)',
    async (statusWebhook, conversationId) => {
      stack.chatwoot.seedConversation(stack.accountId, conversationId, { inboxId: INBOX });
      const actor = stack.temporal.workflow.getHandle(
        conversationWorkflowId(stack.accountId, conversationId),
      );
      const first = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, 'hi');
      await stack.sendMessage({
        conversationId,
        messageId: first.id,
        content: 'hi',
        status: 'pending',
      });
      await expect.poll(() => botReplies(conversationId).length, { timeout: 20_000 }).toBe(1);

      // The bridge was down for this one: Chatwoot gave up, opened the conversation and says so
      // through the webhook once the bridge is back (previous status pending: the actor pauses).
      const refused = await missedMessage(conversationId, 'my parcel?');
      if (statusWebhook === 'heard') {
        await stack.sendEvent('conversation_status_changed', {
          conversationId,
          status: 'open',
          previousStatus: 'pending',
        });
      }
      // The customer writes again; this webhook arrives, and the paused actor holds it.
      const held = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, 'hello?');
      await stack.sendMessage({
        conversationId,
        messageId: held.id,
        content: 'hello?',
        status: 'open',
      });
      await expect
        .poll(async () => (await actor.query(conversationStateQuery)).heldMessageIds, {
          timeout: 20_000,
        })
        .toContain(held.id);

      const report = await runCatchUp();
      expect(report, JSON.stringify(report)).toMatchObject({ caughtUpMessages: 2 });
      expect(stack.chatwoot.status(stack.accountId, conversationId)).toBe('pending');
      // Chatwoot's webhook for the status the catch-up set, through the real route.
      await stack.sendEvent('conversation_status_changed', {
        conversationId,
        status: 'pending',
        previousStatus: 'open',
      });
      await expect
        .poll(() => botReplies(conversationId).map((m) => m.content), { timeout: 20_000 })
        .toEqual(['echo: hi', `echo: ${refused.content}`, 'echo: hello?']);
      await runCatchUp();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(botReplies(conversationId)).toHaveLength(3);
    },
  );

  it('does not answer again a message the webhook already delivered', async () => {
    const conversationId = 202;
    stack.chatwoot.seedConversation(stack.accountId, conversationId, { inboxId: INBOX });
    const message = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, 'hello');
    const { response } = await stack.sendMessage({
      conversationId,
      messageId: message.id,
      content: 'hello',
    });
    expect(response.statusCode).toBe(200);
    // Caught up while the answer is still on its way, and again once it is posted.
    await runCatchUp();
    await expect.poll(() => botReplies(conversationId).length, { timeout: 20_000 }).toBe(1);
    await runCatchUp();
    expect(botReplies(conversationId).map((m) => m.content)).toEqual(['echo: hello']);
  });

  it('leaves alone a conversation a human took over after the failure', async () => {
    const [replied, assigned, statusChanged, humanOwned] = [203, 204, 205, 206];
    for (const id of [replied, assigned, statusChanged]) {
      stack.chatwoot.seedConversation(stack.accountId, id, { inboxId: INBOX });
      await missedMessage(id, `help me (${id})`);
    }
    stack.chatwoot.addHumanReply(stack.accountId, replied, 'I am on it');
    stack.chatwoot.assignConversation(stack.accountId, assigned, {
      id: 3,
      name: 'Agent Smith',
      type: 'User',
    });
    stack.chatwoot.changeStatusByHuman(stack.accountId, statusChanged, 'open');
    // Chatwoot 4.16+: pending, but typed as owned by a human user.
    stack.chatwoot.seedConversation(stack.accountId, humanOwned, {
      inboxId: INBOX,
      assignee: { id: 3, name: 'Agent Smith', type: 'User' },
      typedAssignee: true,
    });
    stack.chatwoot.addCustomerMessage(stack.accountId, humanOwned, 'are you there?');

    await runCatchUp();
    for (const id of [replied, assigned, statusChanged, humanOwned]) {
      expect(botReplies(id)).toEqual([]);
    }
    expect(stack.chatwoot.status(stack.accountId, replied)).toBe('open');
    expect(stack.chatwoot.status(stack.accountId, assigned)).toBe('open');
  });

  it('answers a pending conversation Chatwoot 4.16+ types as the agent bot’s', async () => {
    const conversationId = 207;
    stack.chatwoot.seedConversation(stack.accountId, conversationId, {
      inboxId: INBOX,
      assignee: { id: 9, name: 'Support bot', type: 'AgentBot' },
      typedAssignee: true,
    });
    // Kept pending on bot failure (the account setting): no activity message, still the bot's.
    const message = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, 'hi bot');
    stack.chatwoot.failWebhook(stack.accountId, message.id, { keepPendingOnBotFailure: true });

    await runCatchUp();
    await expect
      .poll(() => botReplies(conversationId).map((m) => m.content), { timeout: 20_000 })
      .toEqual(['echo: hi bot']);
  });

  it('answers a message Chatwoot gave up on even when the bot has answered a newer one since', async () => {
    const conversationId = 213;
    stack.chatwoot.seedConversation(stack.accountId, conversationId, { inboxId: INBOX });
    // Kept pending on bot failure: the refused message leaves no activity behind.
    const refused = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, 'first');
    stack.chatwoot.failWebhook(stack.accountId, refused.id, { keepPendingOnBotFailure: true });
    // The bridge is back: the next message's webhook arrives and the bot answers it, so the
    // conversation's newest message is a bot reply.
    const later = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, 'second');
    await stack.sendMessage({ conversationId, messageId: later.id, content: 'second' });
    await expect.poll(() => botReplies(conversationId).length, { timeout: 20_000 }).toBe(1);

    const report = await runCatchUp();
    expect(report, JSON.stringify(report)).toMatchObject({ caughtUpMessages: 1 });
    await expect
      .poll(
        () =>
          botReplies(conversationId)
            .map((m) => m.content)
            .sort(),
        { timeout: 20_000 },
      )
      .toEqual(['echo: first', 'echo: second']);
  });

  it('hands a message older than maxAgeMs to the team instead of answering it late', async () => {
    const conversationId = 208;
    stack.chatwoot.seedConversation(stack.accountId, conversationId, { inboxId: INBOX });
    const longAgo = Math.floor((Date.now() - 2 * MAX_AGE_MS) / 1000);
    await missedMessage(conversationId, 'anyone?', longAgo);

    const report = await runCatchUp();
    expect(report.handedToTeamConversations).toBeGreaterThanOrEqual(1);
    const notes = stack.chatwoot
      .messages(stack.accountId, conversationId)
      .filter((m) => m.private && isBridgeMessage(m));
    expect(notes).toHaveLength(1);
    expect(notes[0]?.content).toContain('missed 1 customer message(s)');
    expect(notes[0]?.content).toContain('anyone?');
    expect(stack.chatwoot.status(stack.accountId, conversationId)).toBe('open');
    expect(botReplies(conversationId)).toEqual([]);

    // Handed over once: the next run leaves it with the team.
    await runCatchUp();
    expect(
      stack.chatwoot
        .messages(stack.accountId, conversationId)
        .filter((m) => m.private && isBridgeMessage(m)),
    ).toHaveLength(1);
  });

  it('serves the conversation list only to a user token, in Chatwoot’s documented shape', async () => {
    const path = `/api/v1/accounts/${stack.accountId}/conversations?status=pending&inbox_id=${INBOX}&page=1`;
    const asBot = await fetch(new URL(path, stack.chatwoot.url), {
      headers: { api_access_token: stack.config.chatwoot.apiAccessToken },
    });
    expect(asBot.status).toBe(401);
    const asUser = await fetch(new URL(path, stack.chatwoot.url), {
      headers: { api_access_token: USER_TOKEN },
    });
    expect(asUser.status).toBe(200);
    const body = (await asUser.json()) as { data: { payload: unknown[] } };
    const matched = stack.chatwoot.validator.match(
      'GET',
      `/api/v1/accounts/${stack.accountId}/conversations`,
    );
    expect(matched).toBeDefined();
    expect(stack.chatwoot.validator.responseErrors(matched!, 200, body)).toEqual([]);
    expect(body.data.payload.length).toBeGreaterThan(0);
  });

  it('is off without a token, and the start-up log says so', async () => {
    const accountId = stack.accountId + 1;
    const lines: string[] = [];
    const config = parseConfig({
      ...stack.config,
      chatwoot: { ...stack.config.chatwoot, accountId },
      catchUp: {},
    });
    const off = await createBridgeWorker({
      config,
      address: inject('temporalAddress'),
      workflowBundlePath: inject('workflowBundlePath'),
      logger: recordingLogger(lines),
    });
    await off.shutdown();
    expect(lines.some((line) => /^catch-up is off: set catchUp\.apiAccessToken/.test(line))).toBe(
      true,
    );
    await expect(
      stack.temporal.schedule.getHandle(catchUpScheduleId(accountId)).describe(),
    ).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });
});

describe('catch-up decisions', () => {
  const now = 1_800_000_000_000;
  const at = (secondsAgo: number) => Math.floor(now / 1000) - secondsAgo;
  const conversation = (
    status: string,
    meta: ChatwootListedConversation['meta'] = {},
  ): ChatwootListedConversation => ({
    id: 1,
    inbox_id: INBOX,
    status,
    last_activity_at: at(0),
    meta,
  });
  const incoming = (id: number, secondsAgo = 5): ChatwootListedMessage => ({
    id,
    content: `customer ${id}`,
    message_type: 0,
    created_at: at(secondsAgo),
    sender_type: 'Contact',
  });
  const activity = (id: number, content: string): ChatwootListedMessage => ({
    id,
    content,
    message_type: 2,
    created_at: at(4),
  });
  const botReply: ChatwootListedMessage = {
    id: 2,
    content: 'answer',
    message_type: 1,
    created_at: at(50),
    source_id: 'chatwoot-bridge:message:1:1:1#0',
    sender_type: 'AgentBot',
  };
  const plan = (
    c: ChatwootListedConversation,
    messages: ChatwootListedMessage[],
    delivered: readonly number[] = [],
  ) =>
    planConversation({
      conversation: c,
      messages,
      botAssigneeIds: [42],
      nowMs: now,
      maxAgeMs: 60_000,
      delivered: new Set(delivered),
    });
  const replyTo = (id: number, to: number): ChatwootListedMessage => ({
    ...botReply,
    id,
    source_id: `chatwoot-bridge:message:1:1:${to}#0`,
    created_at: at(2),
  });
  const human = (id: number): ChatwootListedMessage => ({
    id,
    content: 'on it',
    message_type: 1,
    created_at: at(3),
    sender_type: 'User',
  });

  // Replies lag: the reply to an older message lands after newer ones the bot never saw.
  it.each([
    [
      'pending, a late reply to an older message after refused ones',
      conversation('pending'),
      [incoming(1, 30), incoming(3, 20), incoming(4, 10), replyTo(5, 1)],
      [1],
      [3, 4],
    ],
    [
      'pending, every message before the late reply delivered',
      conversation('pending'),
      [incoming(1, 30), incoming(3, 20), replyTo(5, 1)],
      [1, 3],
      [],
    ],
    [
      'open by the failure, the bot answered an older message after it',
      conversation('open'),
      [incoming(1, 30), incoming(3, 20), activity(4, BOT_ERROR_ACTIVITY), replyTo(5, 1)],
      [1],
      [3],
    ],
    [
      'pending, messages a human answered are his',
      conversation('pending'),
      [incoming(1, 30), incoming(3, 20), human(4), incoming(6, 1)],
      [],
      [6],
    ],
    [
      'pending, answered long ago: not a missed message',
      conversation('pending'),
      [incoming(1, 3_600), replyTo(5, 3)],
      [],
      [],
    ],
  ] as const)('%s', (_name, c, messages, delivered, missedIds) => {
    const decision = plan(c, [...messages], delivered);
    const ids = decision.action === 'answer' ? decision.messages.map((m) => m.id) : [];
    expect(ids).toEqual(missedIds);
  });

  it.each([
    [
      'pending, a customer message after the last reply',
      conversation('pending'),
      [incoming(1, 100), botReply, incoming(3)],
      'answer',
    ],
    ['pending, answered already', conversation('pending'), [incoming(1, 100), botReply], 'leave'],
    [
      'pending, assigned to a human (old payload)',
      conversation('pending', { assignee: { id: 3 } }),
      [incoming(3)],
      'leave',
    ],
    [
      'pending, assigned to a bot user',
      conversation('pending', { assignee: { id: 42 } }),
      [incoming(3)],
      'answer',
    ],
    [
      'pending, typed AgentBot owner (4.16+)',
      conversation('pending', { assignee: { id: 3 }, assignee_type: 'AgentBot' }),
      [incoming(3)],
      'answer',
    ],
    [
      'pending, typed Captain owner (4.16+)',
      conversation('pending', { assignee: { id: 3 }, assignee_type: 'Captain::Assistant' }),
      [incoming(3)],
      'answer',
    ],
    [
      'open by the bot failure',
      conversation('open'),
      [botReply, incoming(3), activity(4, BOT_ERROR_ACTIVITY)],
      'answer',
    ],
    ['open by a human', conversation('open'), [botReply, incoming(3)], 'leave'],
    [
      'open by the failure, then assigned',
      conversation('open'),
      [incoming(3), activity(4, BOT_ERROR_ACTIVITY), activity(5, 'Assigned to Ann by Bob')],
      'leave',
    ],
    [
      'open by the failure, then the bot answered',
      conversation('open'),
      [incoming(1, 100), activity(3, BOT_ERROR_ACTIVITY), { ...botReply, id: 5 }],
      'back_to_pending',
    ],
    [
      'open by the failure, then a human replied',
      conversation('open'),
      [
        incoming(3),
        activity(4, BOT_ERROR_ACTIVITY),
        { id: 5, content: 'on it', message_type: 1, created_at: at(3), sender_type: 'User' },
      ],
      'leave',
    ],
    [
      'open by the failure, then the bot handed off',
      conversation('open'),
      [
        incoming(3),
        activity(4, BOT_ERROR_ACTIVITY),
        {
          id: 5,
          content: 'why',
          message_type: 1,
          private: true,
          created_at: at(3),
          source_id: 'chatwoot-bridge:message:1:1:3#handoff-note',
        },
      ],
      'leave',
    ],
    [
      'open by the failure, customer wrote again after the bot answered',
      conversation('open'),
      [incoming(1, 100), activity(3, BOT_ERROR_ACTIVITY), { ...botReply, id: 5 }, incoming(6)],
      'answer',
    ],
    ['too old', conversation('pending'), [incoming(3, 3_600)], 'hand_to_team'],
    ['resolved', conversation('resolved'), [incoming(3)], 'leave'],
  ] as const)('%s', (_name, c, messages, action) => {
    expect(plan(c, [...messages]).action).toBe(action);
  });

  it.each([
    ['pending, the customer wrote last', 'pending', {}, incoming(3), true],
    // A reply to a newer message may sit above an older one whose webhook Chatwoot gave up on.
    ['pending, the bot answered last', 'pending', {}, botReply, true],
    [
      'pending, a human answered last',
      'pending',
      {},
      { ...botReply, source_id: null, sender_type: 'User' },
      false,
    ],
    ['pending, no message listed', 'pending', {}, undefined, true],
    ['open, the failure activity last', 'open', {}, activity(4, BOT_ERROR_ACTIVITY), true],
    ['open, the bot answered last', 'open', {}, botReply, true],
    [
      'open, a human answered last',
      'open',
      {},
      { ...botReply, source_id: null, sender_type: 'User' },
      false,
    ],
    ['open, another activity last', 'open', {}, activity(4, 'Assigned to Ann by Bob'), false],
    ['assigned to a human', 'pending', { assignee: { id: 3 } }, incoming(3), false],
  ] as const)('worth reading: %s', (_name, status, meta, last, expected) => {
    const listed = { ...conversation(status, meta), messages: last ? [last] : [] };
    expect(worthReading(listed, [42])).toBe(expected);
  });
});

describe('catch-up configuration', () => {
  const base = {
    chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: 'bot-token' },
    agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:9001' }],
    routes: [{ inboxId: 7, agentId: 'echo' }],
  };

  it('is off by default, with a minute between runs and half an hour before the team takes over', () => {
    const config = parseConfig(base);
    expect(config.catchUp).toEqual({
      intervalMs: 60_000,
      maxAgeMs: 1_800_000,
      firstRunLookbackMs: 3_600_000,
      afterOutageMs: 30_000,
    });
    expect(catchUpAccountIds(config)).toEqual([]);
  });

  it('takes the accounts from chatwoot.accountId unless catchUp.accountIds names them', () => {
    const withAccount = { ...base, chatwoot: { ...base.chatwoot, accountId: 3 } };
    expect(catchUpAccountIds(parseConfig(withAccount))).toEqual([3]);
    expect(
      catchUpAccountIds(parseConfig({ ...withAccount, catchUp: { accountIds: [4, 5] } })),
    ).toEqual([4, 5]);
  });

  it('says what to fix when a token comes without an account, or the interval is too short', () => {
    expect(() => parseConfig({ ...base, catchUp: { apiAccessToken: 'user-token' } })).toThrow(
      /catchUp\.accountIds: catch-up needs to know the accounts: set catchUp\.accountIds or chatwoot\.accountId/,
    );
    expect(() =>
      parseConfig({
        ...base,
        chatwoot: { ...base.chatwoot, accountId: 1 },
        catchUp: { intervalMs: 10 },
      }),
    ).toThrow(/catchUp\.intervalMs: use at least 1000 ms/);
  });
});
