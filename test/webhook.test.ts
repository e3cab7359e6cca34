import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { buildApp } from '../api/app.js';
import { bridgeSourceId } from '../chatwoot/sourceId.js';
import {
  messageCreatedPayload,
  signWebhook,
  conversationEventPayload,
} from '../sandbox/chatwootWebhooks.js';
import { conversationStateQuery, messageWorkflowId } from '../workflows/shared.js';
import { eventually } from './helpers/eventually.js';
import { startStack, WEBHOOK_SECRET, type Stack } from './helpers/stack.js';

describe('webhook ingress', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ agents: { echo: 'echo' }, routes: { 7: 'echo' } });
  });
  afterAll(() => stack?.stop());

  async function expectNoWorkflow(conversationId: number, messageId: number) {
    const handle = stack.temporal.workflow.getHandle(
      messageWorkflowId(stack.accountId, conversationId, messageId),
    );
    await expect(handle.describe()).rejects.toThrow(/not found/i);
  }

  function post(body: string, headers: Record<string, string>, url = '/webhook/chatwoot') {
    return stack.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...headers },
      payload: body,
    });
  }

  it('delivers a message sent twice once, and posts one set of replies', async () => {
    const payload = messageCreatedPayload({
      accountId: stack.accountId,
      conversationId: 201,
      messageId: 9001,
      inboxId: 7,
      content: 'twice',
    });
    const body = JSON.stringify(payload);
    const first = await post(body, signWebhook(body, WEBHOOK_SECRET));
    const second = await post(body, signWebhook(body, WEBHOOK_SECRET));
    expect(first.json()).toMatchObject({
      result: 'accepted',
      workflowId: messageWorkflowId(stack.accountId, 201, 9001),
      conversationWorkflowId: `conversation:${stack.accountId}:201`,
    });
    // Chatwoot's retry is accepted too: the actor drops it by message id.
    expect(second.json()).toMatchObject({ result: 'accepted' });
    await stack.result(messageWorkflowId(stack.accountId, 201, 9001));
    // And again after completion: still one delivery.
    const third = await post(body, signWebhook(body, WEBHOOK_SECRET));
    expect(third.json()).toMatchObject({ result: 'accepted' });
    const actor = stack.temporal.workflow.getHandle(`conversation:${stack.accountId}:201`);
    await eventually(
      async () => (await actor.query(conversationStateQuery)).counters.duplicatesIgnored === 2,
      { description: 'both copies dropped by the actor' },
    );
    expect(stack.chatwoot.messages(stack.accountId, 201).map((m) => m.content)).toEqual([
      'echo: twice',
    ]);
  });

  it('rejects a wrong signature with 401 and starts nothing', async () => {
    const body = JSON.stringify(
      messageCreatedPayload({
        accountId: stack.accountId,
        conversationId: 202,
        messageId: 9002,
      }),
    );
    const response = await post(body, signWebhook(body, 'not-the-secret'));
    expect(response.statusCode).toBe(401);
    await expectNoWorkflow(202, 9002);
  });

  it('rejects a missing signature and a stale timestamp with 401', async () => {
    const body = JSON.stringify(
      messageCreatedPayload({
        accountId: stack.accountId,
        conversationId: 203,
        messageId: 9003,
      }),
    );
    expect((await post(body, {})).statusCode).toBe(401);
    const stale = signWebhook(body, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 3_600);
    expect((await post(body, stale)).statusCode).toBe(401);
    await expectNoWorkflow(203, 9003);
  });

  it('accepts the URL token fallback for unsigned installs', async () => {
    const body = JSON.stringify(
      messageCreatedPayload({
        accountId: stack.accountId,
        conversationId: 204,
        messageId: 9004,
        content: 'token',
      }),
    );
    const response = await post(body, {}, `/webhook/chatwoot?token=${WEBHOOK_SECRET}`);
    expect(response.json()).toMatchObject({ result: 'accepted' });
    await stack.result(messageWorkflowId(stack.accountId, 204, 9004));
    expect((await post(body, {}, '/webhook/chatwoot?token=wrong')).statusCode).toBe(401);
  });

  it('answers 400 naming the field for a malformed payload', async () => {
    const payload = messageCreatedPayload({
      accountId: stack.accountId,
      conversationId: 205,
      messageId: 9005,
    });
    delete (payload as { account?: unknown }).account;
    const body = JSON.stringify(payload);
    const response = await post(body, signWebhook(body, WEBHOOK_SECRET));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'invalid_payload', field: 'account' });

    const notJson = '{"event": "message_created",';
    const broken = await post(notJson, signWebhook(notJson, WEBHOOK_SECRET));
    expect(broken.statusCode).toBe(400);
    await expectNoWorkflow(205, 9005);
  });

  it('answers 413 for an oversized body', async () => {
    const payload = messageCreatedPayload({
      accountId: stack.accountId,
      conversationId: 206,
      messageId: 9006,
      content: 'x'.repeat(1_100_000),
    });
    const body = JSON.stringify(payload);
    const response = await post(body, signWebhook(body, WEBHOOK_SECRET));
    expect(response.statusCode).toBe(413);
    await expectNoWorkflow(206, 9006);
  });

  it.each([
    ['unrouted inbox', { inboxId: 99 }, /inbox 99 is not routed/],
    [
      'own message',
      {
        messageType: 'outgoing' as const,
        sender: 'agent_bot' as const,
        sourceId: bridgeSourceId('message:1:1:1', 0),
      },
      /own message/,
    ],
    [
      'private note',
      { private: true, sender: 'user' as const, messageType: 'outgoing' as const },
      /private note/,
    ],
    [
      'outgoing human message',
      { messageType: 'outgoing' as const, sender: 'user' as const },
      /no active conversation actor/,
    ],
    ['activity message', { messageType: 'activity' as const, sender: null }, /activity message/],
  ])('ignores an %s with 200 and a reason, starting nothing', async (_name, options, reason) => {
    const messageId = 9100 + Math.floor(Math.random() * 800);
    const { response, json } = await stack.sendMessage({
      conversationId: 207,
      messageId,
      ...options,
    });
    expect(response.statusCode).toBe(200);
    expect(json).toMatchObject({ result: 'ignored' });
    expect(json.reason).toMatch(reason);
    await expectNoWorkflow(207, messageId);
  });

  it('ignores events the bridge does not act on, with a reason', async () => {
    const created = JSON.stringify(
      conversationEventPayload('conversation_created', { conversationId: 208 }),
    );
    const response = await post(created, signWebhook(created, WEBHOOK_SECRET));
    expect(response.json()).toMatchObject({ result: 'ignored', reason: 'no greeting configured' });
    const typing = JSON.stringify({ event: 'conversation_typing_on', conversation: { id: 208 } });
    const other = await post(typing, signWebhook(typing, WEBHOOK_SECRET));
    expect(other.json()).toMatchObject({
      result: 'ignored',
      reason: 'event conversation_typing_on is not handled',
    });
  });

  it('answers 503 when Temporal is unreachable, so Chatwoot retries', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1' });
    const app = buildApp({
      config: { ...stack.config, temporal: { ...stack.config.temporal, startTimeoutMs: 500 } },
      temporal: new Client({ connection }),
      logger: false,
    });
    const body = JSON.stringify(
      messageCreatedPayload({
        accountId: stack.accountId,
        conversationId: 209,
        messageId: 9009,
      }),
    );
    const response = await app.inject({
      method: 'POST',
      url: '/webhook/chatwoot',
      headers: { 'content-type': 'application/json', ...signWebhook(body, WEBHOOK_SECRET) },
      payload: body,
    });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error: 'temporal_unavailable' });
    await app.close();
    await expectNoWorkflow(209, 9009);
  });
});
