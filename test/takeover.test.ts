import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { temporalConversationGateway, type ConversationGateway } from '../api/conversations.js';
import { routeSettings } from '../api/deliveries.js';
import { conversationMachine } from '../machines/conversation.js';
import { sessionMachine } from '../machines/session.js';
import { migrateCarried } from '../workflows/conversationCarried.js';
import { conversationWorkflow } from '../workflows/index.js';
import {
  conversationStateQuery,
  conversationWorkflowId,
  type CarriedConversationStateV1,
  type ConversationFacts,
  type ConversationSignal,
} from '../workflows/shared.js';
import { eventually } from './helpers/eventually.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * Human takeover at the signal level, as the webhook now sends it: events for conversations
 * without an actor start one, and every event carries what its payload says about the
 * conversation (status, owner).
 */
const HUMAN: ConversationFacts = { status: 'open', owner: 'human', ownerName: 'Agent Smith' };

let stack: Stack;
let gateway: ConversationGateway;
let nextId = Math.floor(Math.random() * 1_000_000) * 100;

beforeAll(async () => {
  stack = await startStack({
    agents: { echo: 'echo', multi: 'multi?count=2&delayMs=1500', slow: 'slow?delayMs=1500' },
    routes: { 7: 'echo', 8: 'multi', 9: 'slow' },
  });
  gateway = temporalConversationGateway(stack.temporal, () => stack.config);
});
afterAll(() => stack?.stop());

const target = (conversationId: number, inboxId = 7) => ({
  accountId: stack.accountId,
  conversationId,
  inboxId,
});
const agentOf: Record<number, string> = { 7: 'echo', 8: 'multi', 9: 'slow' };

async function customer(
  conversationId: number,
  content: string,
  options: { facts?: ConversationFacts; inboxId?: number; messageId?: number } = {},
) {
  const inboxId = options.inboxId ?? 7;
  const messageId = options.messageId ?? (nextId += 1);
  await gateway.sendCustomerMessage(target(conversationId, inboxId), {
    type: 'customer_message',
    message: { messageId, inboxId, content, attachments: [], sender: { id: 5, name: 'Customer' } },
    route: routeSettings(stack.config, agentOf[inboxId] as string),
    ...(options.facts ? { conversation: options.facts } : {}),
  });
  return messageId;
}

const notify = (conversationId: number, event: ConversationSignal) =>
  gateway.notify(target(conversationId), event, { start: true });

const state = (conversationId: number) =>
  stack.temporal.workflow
    .getHandle(conversationWorkflowId(stack.accountId, conversationId))
    .query(conversationStateQuery);

const contents = (conversationId: number) =>
  stack.chatwoot.messages(stack.accountId, conversationId).map((message) => message.content);

async function answered(conversationId: number, count: number) {
  await stack.chatwoot.waitFor(() => contents(conversationId).length >= count, {
    description: `${count} replies in ${conversationId}`,
  });
}

async function heldBy(conversationId: number, messageId: number) {
  await eventually(
    async () => {
      const view = await state(conversationId).catch(() => undefined);
      return view?.state === 'paused' && view.heldMessageIds.includes(messageId);
    },
    { description: `message ${messageId} held by a paused actor` },
  );
}

describe('takeover that outlives the actor', () => {
  it('resolved, then a human reopens and replies, then the customer writes: the bot stays silent', async () => {
    const id = 1_301;
    await customer(id, 'before');
    await answered(id, 1);
    // Back to back, as Chatwoot's jobs send them: the resolved actor may still be closing.
    await notify(id, { type: 'resolved', conversation: { status: 'resolved', owner: 'none' } });
    await notify(id, {
      type: 'status_changed',
      status: 'open',
      previousStatus: 'resolved',
      conversation: HUMAN,
    });
    await notify(id, {
      type: 'human_message',
      messageId: (nextId += 1),
      senderName: 'Agent Smith',
      conversation: HUMAN,
    });
    const again = await customer(id, 'are you there?');
    await heldBy(id, again);
    expect(contents(id)).toEqual(['echo: before']);
  }, 30_000);

  it('the same after the resolved actor has ended: the takeover starts a paused actor', async () => {
    const id = 1_302;
    await customer(id, 'before');
    await answered(id, 1);
    const first = await stack.temporal.workflow
      .getHandle(conversationWorkflowId(stack.accountId, id))
      .describe();
    await notify(id, { type: 'resolved' });
    await stack.temporal.workflow
      .getHandle(conversationWorkflowId(stack.accountId, id), first.runId)
      .result();
    await notify(id, {
      type: 'human_message',
      messageId: (nextId += 1),
      senderName: 'Agent Smith',
      conversation: HUMAN,
    });
    const started = await state(id);
    expect(started.state).toBe('paused');
    // Cheap: no timer at all (no idle resume configured).
    expect(started.nextTimerAt).toBeUndefined();
    const again = await customer(id, 'hello?');
    await heldBy(id, again);
    expect(contents(id)).toEqual(['echo: before']);
  }, 30_000);

  it('a customer message whose payload says open and owned by a human is not answered', async () => {
    const id = 1_303;
    const message = await customer(id, 'hi', { facts: HUMAN });
    await heldBy(id, message);
    expect((await state(id)).pausedReason).toMatch(/Agent Smith owns the conversation/);
    expect(contents(id)).toEqual([]);
  }, 30_000);

  it('a bot owner is no takeover: an open conversation owned by the bot is answered, a bot assignment resumes', async () => {
    const id = 1_304;
    await customer(id, 'one', { facts: { status: 'open', owner: 'bot' } });
    await answered(id, 1);
    await notify(id, {
      type: 'assignee_changed',
      assigneeId: 77,
      assigneeName: 'Shop bot',
      toBot: false,
      conversation: { status: 'pending', owner: 'bot' },
    });
    await customer(id, 'two', { facts: { status: 'pending', owner: 'bot' } });
    await answered(id, 2);
    expect(contents(id)).toEqual(['echo: one', 'echo: two']);
    expect((await state(id)).state).not.toBe('paused');
  }, 30_000);

  it('no greeting in a conversation a human has taken', async () => {
    const id = 1_305;
    await notify(id, { type: 'human_message', messageId: (nextId += 1), conversation: HUMAN });
    await eventually(async () => (await state(id)).state === 'paused');
    await notify(id, {
      type: 'greet',
      trigger: 'webwidget_triggered',
      route: routeSettings(stack.config, 'echo'),
      greeting: ['Hi! I am the shop assistant.'],
    });
    await notify(id, { type: 'status_changed', status: 'pending', previousStatus: 'open' });
    await eventually(async () => (await state(id)).state !== 'paused');
    await customer(id, 'hello');
    await answered(id, 1);
    expect(contents(id)).toEqual(['echo: hello']);
  }, 30_000);
});

describe("the bridge's own messages come back without their source_id", () => {
  it('a human_message with the id of a reply the bridge posted does not pause the bot', async () => {
    const id = 1_401;
    await customer(id, 'one');
    await answered(id, 1);
    await eventually(async () => (await state(id)).turnsRunning === 0);
    const own = stack.chatwoot.messages(stack.accountId, id)[0]?.id as number;
    await notify(id, { type: 'human_message', messageId: own, senderName: 'API user' });
    await customer(id, 'two');
    await answered(id, 2);
    expect(contents(id)).toEqual(['echo: one', 'echo: two']);
  }, 30_000);

  it('its webhook may come while the turn still runs: held until the turn reports, then ignored', async () => {
    const id = 1_402;
    let firstReply: number | undefined;
    const onMessage = (message: { conversation_id: number; id: number }) => {
      if (message.conversation_id === id) firstReply ??= message.id;
    };
    stack.chatwoot.on('message', onMessage);
    await customer(id, 'one', { inboxId: 8 });
    await eventually(() => firstReply !== undefined, { description: 'first of two replies' });
    stack.chatwoot.off('message', onMessage);
    // Reply 2 comes 1.5 s later: the turn is still running when its first reply echoes back.
    await notify(id, { type: 'human_message', messageId: firstReply as number });
    expect((await state(id)).turnsRunning).toBe(1);
    await answered(id, 2);
    await customer(id, 'two', { inboxId: 8 });
    await answered(id, 4);
    expect(contents(id)).toEqual([
      'reply 1/2: one',
      'reply 2/2: one',
      'reply 1/2: two',
      'reply 2/2: two',
    ]);
  }, 30_000);

  it('a genuine human reply while a turn runs still pauses the bot once the turn reports', async () => {
    const id = 1_403;
    await customer(id, 'slow one', { inboxId: 9 });
    await stack.chatwoot.waitFor(
      () => stack.agentServer.requests.some((r) => r.conversation_id === String(id)),
      { description: 'agent reached' },
    );
    await notify(id, {
      type: 'human_message',
      messageId: (nextId += 1),
      senderName: 'Agent Smith',
    });
    await eventually(async () => (await state(id)).state === 'paused');
    expect((await state(id)).pausedReason).toMatch(/Agent Smith replied/);
    const later = await customer(id, 'still there?', { inboxId: 9 });
    await heldBy(id, later);
    expect(contents(id)).toEqual(['echo: slow one']);
  }, 30_000);
});

describe('a status change alone while a turn runs', () => {
  it.each([
    ['heard: the status webhook (pending → open)', 'webhook'],
    ['missed: the next customer message says open', 'payload'],
  ] as const)(
    'Chatwoot opening the conversation (%s) pauses the bot, lets the running answer finish and keeps what comes meanwhile',
    async (_name, how) => {
      const id = how === 'webhook' ? 1_411 : 1_412;
      await customer(id, 'slow one', { inboxId: 9, facts: { status: 'pending', owner: 'none' } });
      await stack.chatwoot.waitFor(
        () => stack.agentServer.requests.some((r) => r.conversation_id === String(id)),
        { description: 'agent reached' },
      );
      // What Chatwoot does when another webhook of this conversation fails for good.
      const opened: ConversationFacts = { status: 'open', owner: 'none' };
      let later: number | undefined;
      if (how === 'webhook') {
        await notify(id, {
          type: 'status_changed',
          status: 'open',
          previousStatus: 'pending',
          conversation: opened,
        });
      } else {
        later = await customer(id, 'hello?', { inboxId: 9, facts: opened });
      }
      await eventually(async () => (await state(id)).state === 'paused');
      // The answer in flight was not cancelled: the customer gets it.
      await answered(id, 1);
      expect(contents(id)).toEqual(['echo: slow one']);
      later ??= await customer(id, 'hello?', { inboxId: 9, facts: opened });
      await heldBy(id, later);
      // Back to pending (catch-up gives it back): the message kept meanwhile is answered.
      await notify(id, {
        type: 'status_changed',
        status: 'pending',
        previousStatus: 'open',
        conversation: { status: 'pending', owner: 'none' },
      });
      await answered(id, 2);
      expect(contents(id)).toEqual(['echo: slow one', 'echo: hello?']);
    },
    30_000,
  );
});

describe('carried state across continue-as-new', () => {
  it('an actor continued by the previous code (unversioned state) restarts on this code', async () => {
    const id = 1_501;
    const [fresh] = initialTransition(conversationMachine, {});
    const [paused] = transition(conversationMachine, fresh, {
      type: 'HUMAN_ACTIVE',
      reason: 'Agent Smith replied',
      at: Date.now(),
    });
    const [session] = initialTransition(sessionMachine, {
      accountId: stack.accountId,
      conversationId: id,
    });
    const seen = (nextId += 1);
    const pending = (nextId += 1);
    const carried: CarriedConversationStateV1 = {
      conversation: { value: paused.value, context: paused.context },
      session: { value: session.value, context: session.context },
      seenMessageIds: [seen],
      pendingEvents: [
        {
          type: 'customer_message',
          message: {
            messageId: pending,
            inboxId: 7,
            content: 'while paused',
            attachments: [],
            sender: {},
          },
          route: routeSettings(stack.config, 'echo'),
        },
      ],
      counters: { messagesReceived: 1, duplicatesIgnored: 0, turnsStarted: 1, runs: 3 },
    };
    await stack.temporal.workflow.start(conversationWorkflow, {
      workflowId: conversationWorkflowId(stack.accountId, id),
      taskQueue: stack.config.temporal.taskQueue,
      args: [
        {
          accountId: stack.accountId,
          conversationId: id,
          settings: { dedupeLimit: 500 },
          carried,
        },
      ],
    });
    await heldBy(id, pending);
    const restored = await state(id);
    expect(restored.pausedReason).toBe('Agent Smith replied');
    expect(restored.counters.runs).toBe(4);

    // Its memory came along: the old message is a duplicate; its own ids start empty.
    expect(migrateCarried(carried)).toMatchObject({ version: 2, ownMessageIds: [] });
    await customer(id, 'retried webhook', { messageId: seen });
    await eventually(async () => (await state(id)).counters.duplicatesIgnored === 1);
    await notify(id, { type: 'status_changed', status: 'pending', previousStatus: 'open' });
    await eventually(async () => (await state(id)).state !== 'paused');
    await customer(id, 'back');
    await answered(id, 1);
    expect(contents(id)).toEqual(['echo: back']);
  }, 30_000);

  it('refuses state written by a newer version instead of dropping it', () => {
    const newer = { version: 3 } as unknown as CarriedConversationStateV1;
    expect(() => migrateCarried(newer)).toThrow(/version 3; this code reads up to 2/);
  });
});
