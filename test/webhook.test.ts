import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { buildApp } from '../api/app.js';
import { temporalConversationGateway } from '../api/conversations.js';
import { RejectedPayloadError } from '../api/deliveries.js';
import { handOver } from '../api/webhookHandover.js';
import { classify } from '../chatwoot/events.js';
import { ApiMetrics } from '../observability/metrics.js';
import { bridgeSourceId } from '../chatwoot/sourceId.js';
import {
  messageCreatedPayload,
  signWebhook,
  conversationEventPayload,
  ownerChangedPayload,
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
      'outgoing human message in an unrouted inbox without an actor',
      { messageType: 'outgoing' as const, sender: 'user' as const, inboxId: 99 },
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

  it('keeps a human reply in a routed inbox without an actor: the actor starts and holds it', async () => {
    const { response, json } = await stack.sendMessage({
      conversationId: 210,
      messageType: 'outgoing',
      sender: 'user',
    });
    expect(response.statusCode).toBe(200);
    expect(json).toMatchObject({
      result: 'accepted',
      conversationWorkflowId: `conversation:${stack.accountId}:210`,
    });
    const actor = stack.temporal.workflow.getHandle(`conversation:${stack.accountId}:210`);
    expect((await actor.describe()).status.name).toBe('RUNNING');
  });

  it('Chatwoot 4.16+: a person taking over from the agent bot pauses the bot; handing it back to the bot resumes it', async () => {
    const conversationId = 211;
    const first = await stack.sendMessage({
      conversationId,
      content: 'one',
      status: 'pending',
      assignee: { kind: 'agent_bot' },
    });
    await stack.result(first.json.workflowId as string);
    const actor = stack.temporal.workflow.getHandle(
      `conversation:${stack.accountId}:${conversationId}`,
    );
    const owner = async (payload: Record<string, unknown>) => {
      const body = JSON.stringify(payload);
      expect((await post(body, signWebhook(body, WEBHOOK_SECRET))).json()).toMatchObject({
        result: 'accepted',
      });
    };
    const ids = { accountId: stack.accountId, conversationId, inboxId: 7 };
    await owner(
      ownerChangedPayload({ kind: 'user' }, { kind: 'agent_bot' }, { ...ids, status: 'open' }),
    );
    await eventually(async () => (await actor.query(conversationStateQuery)).state === 'paused', {
      description: 'the bot paused by the takeover',
    });
    // Typed bot owner again (the assignee_id goes to null): not a takeover, the bot resumes.
    await owner(
      ownerChangedPayload({ kind: 'agent_bot' }, { kind: 'user' }, { ...ids, status: 'pending' }),
    );
    await eventually(async () => (await actor.query(conversationStateQuery)).state === 'idle', {
      description: 'the bot resumed by the assignment to it',
    });
    const three = await stack.sendMessage({
      conversationId,
      content: 'three',
      status: 'pending',
      assignee: { kind: 'agent_bot' },
    });
    await stack.result(three.json.workflowId as string);
    expect(stack.chatwoot.messages(stack.accountId, conversationId).map((m) => m.content)).toEqual([
      'echo: one',
      'echo: three',
    ]);
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

  it.each([500, 429] as const)(
    'answers %i (webhook.retryStatus) when Temporal is unreachable, so Chatwoot retries',
    async (retryStatus) => {
      const connection = Connection.lazy({ address: '127.0.0.1:1' });
      const app = buildApp({
        config: {
          ...stack.config,
          webhook: { ...stack.config.webhook, retryStatus },
          temporal: { ...stack.config.temporal, startTimeoutMs: 500 },
        },
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
      expect(response.statusCode).toBe(retryStatus);
      expect(response.json()).toMatchObject({ error: 'temporal_unavailable' });
      expect(response.json<{ message?: string; reason?: string }>().reason).toMatch(/not accepted/);
      await app.close();
      await expectNoWorkflow(209, 9009);
    },
  );
});

describe('webhook bodies: a 4xx naming the problem, never a 5xx', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ agents: { echo: 'echo' }, routes: { 7: 'echo' } });
  });
  afterAll(() => stack?.stop());

  const signedMessage = (conversationId: number, messageId: number) => {
    const body = JSON.stringify(
      messageCreatedPayload({ accountId: stack.accountId, conversationId, messageId }),
    );
    return { body, headers: signWebhook(body, WEBHOOK_SECRET) };
  };

  it('answers 400 to a missing body, with or without a signature', async () => {
    const bare = await stack.app.inject({ method: 'POST', url: '/webhook/chatwoot' });
    expect(bare.statusCode).toBe(400);
    expect(bare.json()).toMatchObject({ error: 'invalid_body' });
    expect(bare.json<{ message?: string; reason?: string }>().message).toMatch(/body is required/);
    const signed = await stack.app.inject({
      method: 'POST',
      url: '/webhook/chatwoot',
      headers: signWebhook('', WEBHOOK_SECRET),
    });
    expect(signed.statusCode).toBe(400);
    expect(signed.json<{ message?: string; reason?: string }>().message).toMatch(
      /body is required/,
    );
  });

  it('answers 400 to an empty JSON body', async () => {
    const response = await stack.app.inject({
      method: 'POST',
      url: '/webhook/chatwoot',
      headers: { 'content-type': 'application/json', ...signWebhook('', WEBHOOK_SECRET) },
      payload: '',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ message?: string; reason?: string }>().message).toMatch(
      /body is required/,
    );
  });

  it('answers 415 naming the content type when the body is not JSON-typed', async () => {
    const { body, headers } = signedMessage(301, 9301);
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
      const response = await stack.app.inject({
        method: 'POST',
        url: '/webhook/chatwoot',
        headers: { ...headers, 'content-type': contentType },
        payload: body,
      });
      expect(response.statusCode).toBe(415);
      expect(response.json<{ message?: string; reason?: string }>().message).toContain(contentType);
    }
  });

  it('answers 400 to a body that is not UTF-8', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"event":"message_created","content":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    const headers = signWebhook(bytes.toString('latin1'), WEBHOOK_SECRET);
    const digest = createHmac('sha256', WEBHOOK_SECRET)
      .update(Buffer.concat([Buffer.from(`${headers['x-chatwoot-timestamp']}.`), bytes]))
      .digest('hex');
    const response = await stack.app.inject({
      method: 'POST',
      url: '/webhook/chatwoot',
      headers: {
        ...headers,
        'x-chatwoot-signature': `sha256=${digest}`,
        'content-type': 'application/json',
      },
      payload: bytes,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ message?: string; reason?: string }>().message).toMatch(/UTF-8/);
  });

  it('answers 400 to JSON nested deeper than webhook.maxDepth', async () => {
    const payload = messageCreatedPayload({
      accountId: stack.accountId,
      conversationId: 302,
      messageId: 9302,
    });
    payload.content_attributes = { deep: DEEP };
    const body = withDeep(payload, stack.config.webhook.maxDepth + 1);
    const response = await post(stack, body, signWebhook(body, WEBHOOK_SECRET));
    expect(response.statusCode).toBe(400);
    expect(response.json<{ message?: string; reason?: string }>().message).toMatch(
      /nested deeper than/,
    );
  });

  it('passes only the known fields of attachments and sender on: a key nested 5,000 deep is not an outage', async () => {
    const app = buildApp({
      config: { ...stack.config, webhook: { ...stack.config.webhook, maxDepth: 10_000 } },
      temporal: stack.temporal,
      logger: false,
    });
    const payload = messageCreatedPayload({
      accountId: stack.accountId,
      conversationId: 303,
      messageId: 9303,
      content: 'deep',
      attachments: [{ id: 1, file_type: 'image', data_url: 'https://files.example.com/a.png' }],
    });
    (payload.attachments as Array<Record<string, unknown>>)[0]!.extra = DEEP;
    (payload.sender as Record<string, unknown>).extra = DEEP;
    const body = withDeep(payload, 5_000);
    const response = await post(app, body, signWebhook(body, WEBHOOK_SECRET));
    await app.close();
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ result: 'accepted' });
    await stack.result(messageWorkflowId(stack.accountId, 303, 9303));
    expect(stack.chatwoot.messages(stack.accountId, 303).map((m) => m.content)).toEqual([
      'echo: deep',
    ]);
  });
});

describe("payloads Temporal cannot encode: the sender's mistake, never an outage", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ agents: { echo: 'echo' }, routes: { 7: 'echo' } });
  });
  afterAll(() => stack?.stop());

  it('the gateway reports an unencodable event as RejectedPayloadError, and the webhook answers 422', async () => {
    const gateway = temporalConversationGateway(stack.temporal, () => stack.config);
    const decision = classify(
      messageCreatedPayload({ accountId: stack.accountId, conversationId: 304, messageId: 9304 }),
      stack.config,
    );
    if (decision.kind !== 'customer_turn')
      throw new Error(`expected a customer turn, got ${decision.kind}`);
    // What the classifier never lets through: a value nested too deep for Temporal's JSON encoder.
    let deep: Record<string, unknown> = {};
    for (let level = 0; level < 100_000; level += 1) deep = { next: deep };
    const signal = {
      ...decision.signal,
      message: { ...decision.signal.message, attachments: [{ id: 1, extra: deep }] },
    };
    await expect(gateway.sendCustomerMessage(decision.target, signal)).rejects.toBeInstanceOf(
      RejectedPayloadError,
    );
    const metrics = new ApiMetrics();
    const answer = await handOver(
      { ...decision, signal },
      { receivedAt: Date.now(), waitMs: undefined },
      { conversations: gateway, metrics, webhook: stack.config.webhook, log: silentLog },
    );
    expect(answer).toMatchObject({ status: 422, body: { error: 'unprocessable_payload' } });
    await expect(
      stack.temporal.workflow.getHandle(`conversation:${stack.accountId}:304`).describe(),
    ).rejects.toThrow(/not found/i);
  });
});

const DEEP = '(deep value)';

const silentLog = pino({ level: 'silent' });

/** The payload as JSON with every `DEEP` placeholder replaced by objects nested `depth` levels. */
function withDeep(payload: Record<string, unknown>, depth: number): string {
  const deep = `${'{"next":'.repeat(depth)}"bottom"${'}'.repeat(depth)}`;
  return JSON.stringify(payload).replaceAll(JSON.stringify(DEEP), deep);
}

function post(
  target: { inject: FastifyInstance['inject'] } | Stack,
  body: string,
  headers: Record<string, string>,
) {
  const app = 'app' in target ? target.app : target;
  return app.inject({
    method: 'POST',
    url: '/webhook/chatwoot',
    headers: { 'content-type': 'application/json', ...headers },
    payload: body,
  });
}
