import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A seeded shuffle, so a failing run can be told apart from a flaky one by its seed. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i -= 1) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Sends like Chatwoot's agent-bot job (`AgentBots::WebhookJob`): 500 and 429 are retried, up to
 * three attempts, the same message each time. The job waits 3 s between attempts; here 500 ms.
 * Under this test's burst the webhook may answer 500 (`webhook.answerBudgetMs`) by design.
 */
async function sendLikeAgentBot(send: () => Promise<{ response: { statusCode: number } }>) {
  let status = 0;
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    status = (await send()).response.statusCode;
    if (status !== 500 && status !== 429) break;
    if (attempt < 3) await sleep(500);
  }
  return status;
}

const contents = (stack: Stack, conversationId: number) =>
  stack.chatwoot.messages(stack.accountId, conversationId).map((message) => message.content);

describe('turns go to the agent in the order Chatwoot created the messages', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { slow: 'slow?delayMs=400', burst: 'echo' },
      routes: { 7: 'slow', 8: 'burst' },
      agentSettings: { burst: { debounce: { quietMs: 600, maxWaitMs: 3_000, maxBatch: 8 } } },
    });
  });
  afterAll(() => stack?.stop());

  it('20 conversations, bursts of 8 sent from parallel jobs in shuffled order: replies in creation order', async () => {
    const conversations = Array.from({ length: 20 }, (_, i) => 1_100 + i);
    const base = Math.floor(Math.random() * 1_000_000) * 1_000;
    await Promise.all(
      conversations.map(async (conversationId, c) => {
        // Chatwoot created m0…m7 10 ms apart; its parallel jobs deliver them in any order.
        const ids = Array.from({ length: 8 }, (_, i) => base + c * 10 + i);
        const order = shuffled(ids, conversationId);
        await Promise.all(
          order.map(async (messageId, slot) => {
            await sleep(slot * 10);
            const status = await sendLikeAgentBot(() =>
              stack.sendMessage({ conversationId, messageId, content: `m${messageId - ids[0]!}` }),
            );
            expect(status).toBe(200);
          }),
        );
      }),
    );
    const expected = Array.from({ length: 8 }, (_, i) => `echo: m${i}`);
    await stack.chatwoot.waitFor(
      () => conversations.every((id) => contents(stack, id).length === expected.length),
      { timeoutMs: 90_000, description: 'eight replies in each of 20 conversations' },
    );
    const outOfOrder = conversations.filter(
      (id) => JSON.stringify(contents(stack, id)) !== JSON.stringify(expected),
    );
    expect(outOfOrder.map((id) => [id, contents(stack, id)])).toEqual([]);
  }, 120_000);

  it('a debounced burst signalled newest first is merged in creation order', async () => {
    const conversationId = 1_200;
    const base = Math.floor(Math.random() * 1_000_000) * 1_000;
    const ids = Array.from({ length: 5 }, (_, i) => base + i);
    for (const messageId of [...ids].reverse()) {
      await stack.sendMessage({
        conversationId,
        inboxId: 8,
        messageId,
        content: `part ${messageId - base}`,
      });
    }
    await stack.chatwoot.waitFor(() => contents(stack, conversationId).length === 1, {
      description: 'one merged reply',
    });
    expect(contents(stack, conversationId)).toEqual([
      `echo: ${ids.map((_, i) => `part ${i}`).join('\n')}`,
    ]);
    const turn = stack.agentServer.requests.find(
      (r) => r.conversation_id === String(conversationId),
    );
    expect(turn?.metadata.merged_message_ids).toEqual(ids);
  }, 30_000);

  it('a message handed over late (catch-up) takes its place; one older than the sent turn goes next', async () => {
    const conversationId = 1_201;
    const base = Math.floor(Math.random() * 1_000_000) * 1_000;
    const send = (offset: number) =>
      stack.sendMessage({ conversationId, messageId: base + offset, content: `m${offset}` });
    await send(5);
    await stack.chatwoot.waitFor(
      () => stack.agentServer.requests.some((r) => r.conversation_id === String(conversationId)),
      { description: 'the first turn at the agent' },
    );
    // While m5 is answered: m8 arrives, then m7 and m3 come late (m3 is older than m5).
    await send(8);
    await send(7);
    await send(3);
    // Patient: on a loaded machine a post may wait out the late-commit grace before its retry.
    await stack.chatwoot.waitFor(() => contents(stack, conversationId).length === 4, {
      timeoutMs: 45_000,
      description: 'four replies',
    });
    expect(contents(stack, conversationId)).toEqual([
      'echo: m5',
      'echo: m3',
      'echo: m7',
      'echo: m8',
    ]);
  }, 60_000);
});
