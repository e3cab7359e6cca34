import { Worker, type InjectedSinks } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BridgeSinks } from '../workflows/sinks.js';
import { conversationStateQuery, conversationWorkflowId } from '../workflows/shared.js';
import { eventually } from './helpers/eventually.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * A customer asking for a person, end to end: signed webhooks into the real app, the actor on
 * the suite's Temporal dev server, the fake Chatwoot, and mock agents of two protocols
 * (bridge-v1 on inbox 7, unified on inbox 8) that must never get the request.
 */
const ACK = 'A member of our team will reply here shortly.';
const humanRequest = {
  phrases: { en: ['human', 'agent', 'talk to someone'], de: ['mensch', 'mitarbeiter'] },
  acknowledgement: { en: ACK, de: 'Ein Mitarbeiter meldet sich gleich.' },
  label: 'human',
};

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    agents: { echo: 'echo', unified: 'unified/echo', slow: 'slow?delayMs=1500' },
    routeList: [
      { inboxId: 7, agentId: 'echo', humanRequest },
      { inboxId: 8, agentId: 'unified', humanRequest },
      { inboxId: 9, agentId: 'slow', humanRequest },
    ],
  });
});
afterAll(() => stack?.stop());

const PROTOCOLS = [
  { protocol: 'bridge-v1', inboxId: 7 },
  { protocol: 'unified', inboxId: 8 },
] as const;

/** What the mock agents were asked, of either protocol. */
const agentGot = () => [
  ...stack.agentServer.requests.map((request) => request.content),
  ...stack.agentServer.unifiedRequests.map((request) => request.message),
];
const posted = (conversationId: number) => stack.chatwoot.messages(stack.accountId, conversationId);
const publicPosts = (conversationId: number) =>
  posted(conversationId)
    .filter((message) => !message.private)
    .map((message) => message.content);
const notes = (conversationId: number) =>
  posted(conversationId)
    .filter((message) => message.private)
    .map((message) => message.content);
const state = (conversationId: number) =>
  stack.temporal.workflow
    .getHandle(conversationWorkflowId(stack.accountId, conversationId))
    .query(conversationStateQuery);

let nextConversation = 500;
/** Conversations handed over here: their actors' histories must replay. */
const handedOverIds: number[] = [];

async function handedOver(conversationId: number, notesExpected = 1) {
  handedOverIds.push(conversationId);
  await stack.chatwoot.waitFor(() => notes(conversationId).length >= notesExpected, {
    description: `private note in conversation ${conversationId}`,
  });
  expect(stack.chatwoot.statusChanges(stack.accountId, conversationId)).toContain('open');
  const view = await state(conversationId);
  expect(view.state).toBe('paused');
}

/** A message the bot answers, so the conversation's actor is known to be done with it. */
async function answered(
  conversationId: number,
  inboxId: number,
  content: string,
  status: 'open' | 'pending' = 'open',
) {
  await stack.sendMessage({ conversationId, inboxId, content, status });
  await stack.chatwoot.waitFor(() => publicPosts(conversationId).includes(`echo: ${content}`), {
    description: `"${content}" answered in ${conversationId}`,
  });
}

describe.each(PROTOCOLS)('a customer asks for a person ($protocol)', ({ inboxId }) => {
  it('the phrase hands over at once: acknowledgement, opened, private note; the agent gets no turn', async () => {
    const id = (nextConversation += 1);
    const text = 'I want to talk to a human';
    const { json } = await stack.sendMessage({ conversationId: id, inboxId, content: text });
    expect(json).toMatchObject({ result: 'accepted' });
    expect(json).not.toHaveProperty('workflowId');
    await handedOver(id);
    expect(publicPosts(id)).toEqual([ACK]);
    expect(notes(id)[0]).toMatch(/asked for a person .*"human"/);
    expect((await state(id)).pausedReason).toMatch(/asked for a person/);
    // The bot stays paused: a later message is held, not sent to the agent.
    const later = `are you still there ${id}?`;
    const { payload } = await stack.sendMessage({ conversationId: id, inboxId, content: later });
    await eventually(async () => (await state(id)).heldMessageIds.includes(payload.id as number), {
      description: 'the later message held',
    });
    expect(agentGot().filter((content) => content.includes(text) || content === later)).toEqual([]);
    expect(publicPosts(id)).toEqual([ACK]);
  }, 30_000);

  it('a sentence that does not ask for a person goes to the agent', async () => {
    const id = (nextConversation += 1);
    await answered(id, inboxId, `my human resources department ${id} needs an invoice`);
    expect(notes(id)).toEqual([]);
    expect(stack.chatwoot.statusChanges(stack.accountId, id)).toEqual([]);
  }, 30_000);

  it('the label hands over (no acknowledgement); the bot resumes as after a takeover', async () => {
    const id = (nextConversation += 1);
    await answered(id, inboxId, `first question ${id}`);
    const { json } = await stack.sendEvent('conversation_updated', {
      conversationId: id,
      inboxId,
      status: 'pending',
      changes: { label_list: [[], ['human']] },
    });
    expect(json).toMatchObject({ result: 'accepted' });
    await handedOver(id);
    expect(publicPosts(id)).toEqual([`echo: first question ${id}`]);
    expect(notes(id)[0]).toMatch(/label "human" was added/);
    const held = `hello? ${id}`;
    const { payload } = await stack.sendMessage({ conversationId: id, inboxId, content: held });
    await eventually(async () => (await state(id)).heldMessageIds.includes(payload.id as number));
    expect(agentGot()).not.toContain(held);
    // The team gives it back (pending again): the bot answers again.
    await stack.sendEvent('conversation_status_changed', {
      conversationId: id,
      inboxId,
      status: 'pending',
      previousStatus: 'open',
    });
    await eventually(async () => (await state(id)).state !== 'paused');
    // As Chatwoot sends it now: pending (an `open` payload would pause it again, missed open).
    await answered(id, inboxId, `back to the bot ${id}`, 'pending');
  }, 30_000);
});

describe('a customer asks for a person: order and retries', () => {
  it('a retried webhook of the request hands over once', async () => {
    const id = (nextConversation += 1);
    const messageId = 9_000_000 + id;
    const send = () =>
      stack.sendMessage({ conversationId: id, inboxId: 7, messageId, content: 'agent please' });
    const answers = await Promise.all([send(), send()]);
    const again = await send();
    for (const { json } of [...answers, again]) expect(json).toMatchObject({ result: 'accepted' });
    await handedOver(id);
    // The actor dropped the copies: give it time to have posted a second round, if any.
    await answered(
      (nextConversation += 1),
      7,
      'an unrelated conversation, so the worker had time for more',
    );
    expect(publicPosts(id)).toEqual([ACK]);
    expect(notes(id)).toHaveLength(1);
    expect(stack.chatwoot.statusChanges(stack.accountId, id)).toEqual(['open']);
  }, 30_000);

  it('a turn already running finishes first; the acknowledgement follows its reply', async () => {
    const id = (nextConversation += 1);
    await stack.sendMessage({ conversationId: id, inboxId: 9, content: `slow question ${id}` });
    await eventually(async () => (await state(id).catch(() => undefined))?.state === 'delivering');
    await stack.sendMessage({ conversationId: id, inboxId: 9, content: 'talk to someone' });
    await handedOver(id);
    expect(publicPosts(id)).toEqual([`echo: slow question ${id}`, ACK]);
    expect(agentGot()).not.toContain('talk to someone');
  }, 30_000);

  it('a caller waiting for a reply (?wait=) is answered at once: accepted, nothing to wait for', async () => {
    const id = (nextConversation += 1);
    const { response, json } = await stack.sendMessage(
      { conversationId: id, inboxId: 7, content: 'human' },
      { query: '?wait=4000' },
    );
    expect(response.statusCode).toBe(202);
    expect(json).toMatchObject({ result: 'accepted' });
    await handedOver(id);
  }, 30_000);

  it('in the language of the browser (Chatwoot: additional_attributes.browser_language)', async () => {
    const id = (nextConversation += 1);
    await stack.sendMessage({
      conversationId: id,
      inboxId: 7,
      content: 'Mitarbeiter!',
      browserLanguage: 'de-DE',
    });
    await handedOver(id);
    expect(publicPosts(id)).toEqual(['Ein Mitarbeiter meldet sich gleich.']);
  }, 30_000);
});

describe('a customer asks for a person: the histories', () => {
  const sinks: InjectedSinks<BridgeSinks> = {
    bridgeMetrics: {
      deliveryFinished: { fn: () => undefined },
      duplicateDropped: { fn: () => undefined },
    },
  };

  it('every actor that handed over replays against the workflow bundle (deterministic)', async () => {
    expect(handedOverIds.length).toBeGreaterThanOrEqual(5);
    for (const id of handedOverIds) {
      const workflowId = conversationWorkflowId(stack.accountId, id);
      const history = await stack.temporal.workflow.getHandle(workflowId).fetchHistory();
      await Worker.runReplayHistory(
        { workflowBundle: { codePath: inject('workflowBundlePath') }, sinks },
        history,
        workflowId,
      );
    }
  }, 60_000);
});
