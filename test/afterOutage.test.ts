import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AfterOutageCheck, olderCandidates } from '../api/afterOutage.js';
import type { ChatwootListedMessage } from '../chatwoot/client.js';
import { isBridgeMessage } from '../chatwoot/sourceId.js';
import { parseConfig } from '../config/load.js';
import { ApiMetrics } from '../observability/metrics.js';
import { parsePrometheus, sampleValue } from './helpers/prometheus.js';
import { startStack, type Stack } from './helpers/stack.js';

const USER_TOKEN = 'test-user-token';

describe('after an outage, older missed messages go first', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      // Runs are never due during the test: what is answered here is the webhook's doing.
      catchUp: { apiAccessToken: USER_TOKEN, intervalMs: 3_600_000 },
    });
  });
  afterAll(() => stack?.stop());

  const replies = (conversationId: number) =>
    stack.chatwoot
      .messages(stack.accountId, conversationId)
      .filter((m) => m.message_type === 'outgoing' && !m.private && isBridgeMessage(m))
      .map((m) => m.content);

  it('a message Chatwoot gave up on during the outage is answered before the one written after it', async () => {
    const conversationId = 301;
    stack.chatwoot.seedConversation(stack.accountId, conversationId, { inboxId: 1 });
    // Kept pending on bot failure: nothing but the failed message shows the outage.
    const refused = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, 'first');
    stack.chatwoot.failWebhook(stack.accountId, refused.id, { keepPendingOnBotFailure: true });
    const later = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, 'second');
    const { response } = await stack.sendMessage({
      conversationId,
      messageId: later.id,
      content: 'second',
    });
    expect(response.statusCode).toBe(200);
    await expect
      .poll(() => replies(conversationId), { timeout: 20_000 })
      .toEqual(['echo: first', 'echo: second']);

    // Chatwoot's own retry of the refused one, arriving late: the actor drops it.
    await stack.sendMessage({ conversationId, messageId: refused.id, content: 'first' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(replies(conversationId)).toEqual(['echo: first', 'echo: second']);
    const samples = parsePrometheus(await stack.app.inject('/metrics').then((r) => r.body));
    expect(sampleValue(samples, 'chatwoot_bridge_webhooks_older_messages_handed_first_total')).toBe(
      1,
    );
  });

  it('hands each missed message over once, whatever number of webhooks follow it', async () => {
    const handedFirst = async () =>
      sampleValue(
        parsePrometheus(await stack.app.inject('/metrics').then((r) => r.body)),
        'chatwoot_bridge_webhooks_older_messages_handed_first_total',
      ) ?? 0;
    const before = await handedFirst();
    const conversationId = 303;
    stack.chatwoot.seedConversation(stack.accountId, conversationId, { inboxId: 1 });
    const refused = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, 'a');
    stack.chatwoot.failWebhook(stack.accountId, refused.id, { keepPendingOnBotFailure: true });
    for (const content of ['b', 'c', 'd']) {
      const message = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, content);
      await stack.sendMessage({ conversationId, messageId: message.id, content });
    }
    await expect
      .poll(() => replies(conversationId), { timeout: 20_000 })
      .toEqual(['echo: a', 'echo: b', 'echo: c', 'echo: d']);
    expect((await handedFirst()) - before).toBe(1);
  });

  it('hands nothing again that already has its delivery', async () => {
    const conversationId = 302;
    stack.chatwoot.seedConversation(stack.accountId, conversationId, { inboxId: 1 });
    for (const content of ['one', 'two']) {
      const message = stack.chatwoot.addCustomerMessage(stack.accountId, conversationId, content);
      await stack.sendMessage({ conversationId, messageId: message.id, content });
      await expect
        .poll(() => replies(conversationId).length, { timeout: 20_000 })
        .toBe(content === 'one' ? 1 : 2);
    }
    expect(replies(conversationId)).toEqual(['echo: one', 'echo: two']);
  });
});

describe('the after-outage window', () => {
  const config = (afterOutageMs: number, token = true) =>
    parseConfig({
      chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: 'bot-token', accountId: 1 },
      agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:9001' }],
      routes: [{ inboxId: 1, agentId: 'echo' }],
      catchUp: { ...(token ? { apiAccessToken: USER_TOKEN } : {}), afterOutageMs },
    });
  // The window is decided without Temporal; the client is never called here.
  const temporal = {} as Client;

  it('is open after start-up, closes, and opens again when the webhook asks Chatwoot to retry', () => {
    let now = 1_000_000;
    const check = new AfterOutageCheck({
      temporal,
      current: () => config(30_000),
      metrics: new ApiMetrics(),
      now: () => now,
    });
    expect(check.active()).toBe(true);
    now += 30_000;
    expect(check.active()).toBe(false);
    check.noteRefused();
    now += 29_999;
    expect(check.active()).toBe(true);
  });

  it('is off without the catch-up token, and with afterOutageMs 0', () => {
    for (const [ms, token] of [
      [30_000, false],
      [0, true],
    ] as const) {
      const check = new AfterOutageCheck({
        temporal,
        current: () => config(ms, token),
        metrics: new ApiMetrics(),
      });
      expect(check.active()).toBe(false);
    }
  });

  it('takes older customer messages the bot may owe, oldest first, not those a human answered', () => {
    const at = Math.floor(Date.now() / 1000);
    const incoming = (id: number): ChatwootListedMessage => ({
      id,
      content: `m${id}`,
      message_type: 0,
      private: false,
      created_at: at,
      sender_type: 'Contact',
    });
    const human: ChatwootListedMessage = {
      id: 12,
      content: 'a person here',
      message_type: 1,
      private: false,
      created_at: at,
      sender_type: 'User',
    };
    const messages = [incoming(11), human, incoming(14), incoming(13), incoming(15)];
    expect(olderCandidates(messages, 15, Date.now(), 600_000).map((m) => m.id)).toEqual([13, 14]);
  });
});
