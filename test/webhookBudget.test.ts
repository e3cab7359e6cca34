import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, type Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../api/app.js';
import { messageCreatedPayload, signWebhook } from '../sandbox/chatwootWebhooks.js';
import { messageWorkflowId } from '../workflows/shared.js';
import { connectClient, plainConnection } from '../temporal/connection.js';
import { startSlowProxy, type SlowProxy } from './helpers/slowProxy.js';
import { startStack, WEBHOOK_SECRET, type Stack } from './helpers/stack.js';

/**
 * The webhook's answer budget against a slowed Temporal: the suite's dev server behind a TCP
 * proxy that adds latency or stalls. The worker talks to the server directly; only the API's
 * client goes through the proxy.
 */
describe('webhook answer budget (Temporal slowed by a proxy)', () => {
  const ANSWER_BUDGET_MS = 1_500;
  let stack: Stack;
  let proxy: SlowProxy;
  let connection: Connection;
  let app: FastifyInstance;

  beforeAll(async () => {
    stack = await startStack({
      agents: { echo: 'echo', slow: 'slow?delayMs=2500' },
      routes: { 7: 'echo', 8: 'slow' },
    });
    proxy = await startSlowProxy(stack.config.temporal.address as string);
    connection = await connectClient(plainConnection(proxy.address, 'default'));
    app = buildApp({
      config: {
        ...stack.config,
        webhook: { ...stack.config.webhook, answerBudgetMs: ANSWER_BUDGET_MS },
        // Far longer than the budget (and the test timeout): only the budget can end a hang.
        temporal: { ...stack.config.temporal, startTimeoutMs: 600_000 },
      },
      temporal: new Client({ connection, namespace: stack.config.temporal.namespace }),
      logger: false,
    });
  });
  afterEach(() => proxy.setMode({ kind: 'pass' }));
  afterAll(async () => {
    await app?.close();
    await connection?.close();
    await proxy?.close();
    await stack?.stop();
  });

  function post(
    conversationId: number,
    messageId: number,
    {
      inboxId = 7,
      query = '',
      via = app,
    }: { inboxId?: number; query?: string; via?: FastifyInstance } = {},
  ) {
    const body = JSON.stringify(
      messageCreatedPayload({
        accountId: stack.accountId,
        conversationId,
        messageId,
        inboxId,
        content: `m${messageId}`,
      }),
    );
    return via.inject({
      method: 'POST',
      url: `/webhook/chatwoot${query}`,
      headers: { 'content-type': 'application/json', ...signWebhook(body, WEBHOOK_SECRET) },
      payload: body,
    });
  }

  const replies = (conversationId: number) =>
    stack.chatwoot.messages(stack.accountId, conversationId).map((message) => message.content);

  it('answers the retried status within the budget while Temporal hangs, and the retry is answered once', async () => {
    proxy.setMode({ kind: 'stall' });
    const stalled = await post(401, 40_101);
    expect(stalled.statusCode).toBe(500);
    expect(stalled.json()).toMatchObject({ error: 'temporal_unavailable' });
    expect(stalled.json<{ reason: string }>().reason).toMatch(/not accepted/);

    // Chatwoot's retry, 3 s later, once Temporal answers again.
    proxy.setMode({ kind: 'pass' });
    const retried = await post(401, 40_101);
    expect(retried.statusCode).toBe(200);
    await stack.result(messageWorkflowId(stack.accountId, 401, 40_101));
    await expect.poll(() => replies(401)).toEqual(['echo: m40101']);
  });

  it('?wait=: answers 202 without the reply when the reply cannot come within the budget; the message is still answered', async () => {
    proxy.setMode({ kind: 'delay', ms: 100 });
    const response = await post(402, 40_201, { inboxId: 8, query: '?wait=4000' });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toMatchObject({
      result: 'accepted',
      workflowId: messageWorkflowId(stack.accountId, 402, 40_201),
    });
    await stack.result(messageWorkflowId(stack.accountId, 402, 40_201));
    await expect.poll(() => replies(402)).toEqual(['echo: m40201']);
  });

  it('?wait=: answers the retried status, not 202, when the message itself was not accepted in time', async () => {
    proxy.setMode({ kind: 'stall' });
    const response = await post(403, 40_301, { query: '?wait=4000' });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toMatchObject({ error: 'temporal_unavailable' });
  });

  it('under a burst that Temporal cannot take in time, answers only 200 or the retried status, and loses nothing', async () => {
    // Every call takes at least two crossings of 600 ms, longer than the 1 s a start may take
    // (`temporal.startTimeoutMs`): starts miss their time although Temporal is up.
    const busy = buildApp({
      config: {
        ...stack.config,
        webhook: { ...stack.config.webhook, answerBudgetMs: ANSWER_BUDGET_MS },
        temporal: { ...stack.config.temporal, startTimeoutMs: 1_000 },
      },
      temporal: new Client({ connection, namespace: stack.config.temporal.namespace }),
      logger: false,
    });
    proxy.setMode({ kind: 'delay', ms: 600 });
    const conversations = Array.from({ length: 16 }, (_, index) => 410 + index);
    const first = await Promise.all(conversations.map((id) => post(id, id * 100, { via: busy })));
    await busy.close();
    for (const response of first) expect([200, 500]).toContain(response.statusCode);

    // Chatwoot retries what got 500 (here once Temporal is fast again); 200 is never retried.
    proxy.setMode({ kind: 'pass' });
    const refused = conversations.filter((_, index) => first[index]?.statusCode === 500);
    for (const id of refused) expect((await post(id, id * 100)).statusCode).toBe(200);
    for (const id of conversations) {
      await stack.result(messageWorkflowId(stack.accountId, id, id * 100));
      await expect.poll(() => replies(id)).toEqual([`echo: m${id * 100}`]);
    }
  });
});
