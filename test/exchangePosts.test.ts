import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { carriesMarker, bridgeSourceId } from '../chatwoot/sourceId.js';
import { resetDeliveryToStart, scheduledActivities } from './helpers/resetDelivery.js';
import { searchAttributes } from '../workflows/searchAttributes.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * The exchange activity posts each plain reply itself as it arrives (one activity, a billed
 * action, less per reply); the first reply it cannot post, every reply after it, and every doubt
 * about one of its posts go through the workflow's own posts, which keep the order and never
 * leave a second copy.
 */
describe('the exchange posts plain replies itself', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: {
        echo: 'echo',
        multi: 'multi?count=3',
        two: 'multi?count=2',
        middle: 'actions?count=3&at=2&actions=[]',
        drop: 'drop?count=3&after=1',
      },
      routes: { 7: 'echo', 8: 'multi', 9: 'two', 10: 'middle', 11: 'drop' },
    });
  });
  afterAll(() => stack?.stop());

  const contents = (conversationId: number) =>
    stack.chatwoot.messages(stack.accountId, conversationId).map((m) => m.content);
  /** Sends a customer message and awaits its delivery, which must succeed. */
  async function deliver(message: Parameters<Stack['sendMessage']>[0]) {
    const { json } = await stack.sendMessage(message);
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    return { workflowId, report, activities: await scheduledActivities(stack, workflowId) };
  }
  /** Message listings (the posts' look-ups for an earlier copy) for one conversation. */
  const lookups = (conversationId: number) =>
    stack.chatwoot.calls.filter(
      (call) =>
        call.method === 'GET' && call.path.endsWith(`/conversations/${conversationId}/messages`),
    );

  it('one plain reply: posted by the exchange, no post activity, one copy with its marker', async () => {
    const { workflowId, report, activities } = await deliver({
      conversationId: 701,
      content: 'hi',
    });
    expect(activities).toEqual(['agentExchange']);
    const messages = stack.chatwoot.messages(stack.accountId, 701);
    expect(messages.map((m) => m.content)).toEqual(['echo: hi']);
    expect(carriesMarker(messages[0]!, bridgeSourceId(workflowId, 0))).toBe(true);
    expect(report.replies).toEqual([
      expect.objectContaining({
        index: 0,
        status: 'posted',
        alreadyPosted: false,
        chatwootMessageId: messages[0]!.id,
      }),
    ]);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it("with the production timeouts too (Chatwoot's request timeout as long as the heartbeat's)", async () => {
    const production = await startStack({
      delivery: { chatwootRequestTimeoutMs: 10_000, exchangeHeartbeatTimeoutMs: 10_000 },
    });
    try {
      const { json } = await production.sendMessage({ conversationId: 706, content: 'defaults' });
      const workflowId = json.workflowId as string;
      expect((await production.result(workflowId)).outcome).toBe('delivered');
      expect(await scheduledActivities(production, workflowId)).toEqual(['agentExchange']);
      expect(production.chatwoot.messages(production.accountId, 706)).toHaveLength(1);
    } finally {
      await production.stop();
    }
  });

  it('three plain replies: each posted by the exchange as it arrives, in order, no post activity', async () => {
    const { workflowId, report, activities } = await deliver({
      conversationId: 702,
      inboxId: 8,
      content: 'three',
    });
    expect(activities).toEqual(['agentExchange']);
    const messages = stack.chatwoot.messages(stack.accountId, 702);
    expect(messages.map((m) => m.content)).toEqual([
      'reply 1/3: three',
      'reply 2/3: three',
      'reply 3/3: three',
    ]);
    messages.forEach((message, index) =>
      expect(carriesMarker(message, bridgeSourceId(workflowId, index))).toBe(true),
    );
    expect(report.replies).toEqual(
      messages.map((message, index): unknown =>
        expect.objectContaining({ index, status: 'posted', chatwootMessageId: message.id }),
      ),
    );
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('a reply it cannot post (actions to run after it): the workflow posts that one and the rest, in order', async () => {
    const { activities } = await deliver({ conversationId: 707, inboxId: 10, content: 'mid' });
    expect(activities).toEqual(['agentExchange', 'createMessage', 'createMessage']);
    expect(contents(707)).toEqual(['done: mid', 'and 2/3', 'and 3/3']);
  });

  it("Chatwoot refuses the exchange's first create: the workflow posts every reply, once, in order", async () => {
    stack.chatwoot.injectFault({
      status: 500,
      match: { method: 'POST', pathIncludes: '/conversations/703/messages' },
    });
    const { report, activities } = await deliver({
      conversationId: 703,
      inboxId: 8,
      content: 'no',
    });
    expect(activities).toEqual([
      'agentExchange',
      'createMessage',
      'createMessage',
      'createMessage',
    ]);
    const messages = stack.chatwoot.messages(stack.accountId, 703);
    expect(messages.map((m) => m.content)).toEqual([
      'reply 1/3: no',
      'reply 2/3: no',
      'reply 3/3: no',
    ]);
    expect(report.replies[0]).toMatchObject({
      status: 'posted',
      chatwootMessageId: messages[0]!.id,
    });
  });

  it("the exchange's create is answered by nobody but committed: the workflow finds it, one copy", async () => {
    // Applied, then the socket is destroyed: the exchange cannot know the reply is in Chatwoot.
    stack.chatwoot.injectFault({
      drop: true,
      afterApply: true,
      match: { method: 'POST', pathIncludes: '/conversations/704/messages' },
    });
    const { report, activities } = await deliver({
      conversationId: 704,
      inboxId: 9,
      content: 'lost',
    });
    expect(activities).toEqual(['agentExchange', 'createMessage', 'createMessage']);
    const messages = stack.chatwoot.messages(stack.accountId, 704);
    expect(messages.map((m) => m.content)).toEqual(['reply 1/2: lost', 'reply 2/2: lost']);
    expect(report.replies[0]).toMatchObject({
      status: 'posted',
      alreadyPosted: true,
      chatwootMessageId: messages[0]!.id,
    });
  });

  it('the agent drops after a reply the exchange posted and handed over: the retry resumes, no look-up', async () => {
    const { workflowId, activities } = await deliver({
      conversationId: 708,
      inboxId: 11,
      content: 'cut',
    });
    expect(activities).toEqual([
      'agentExchange',
      'agentExchange',
      'createMessage',
      'createMessage',
    ]);
    expect(contents(708)).toEqual(['reply 1/3: cut', 'reply 2/3: cut', 'reply 3/3: cut']);
    // The failed attempt said it had handed over every create: the later posts wait for nothing.
    expect(lookups(708)).toEqual([]);
    // Delivered after a retry: no `retrying` left for a search to find, as for any delivered one.
    const description = await (await stack.workflow(workflowId)).describe();
    expect(description.typedSearchAttributes.get(searchAttributes.deliveryStatus)).toBeUndefined();
  });

  it('a reset delivery whose replies the exchange posted posts nothing again', async () => {
    const { json } = await stack.sendMessage({ conversationId: 705, inboxId: 8, content: 'again' });
    const workflowId = json.workflowId as string;
    expect((await stack.result(workflowId)).outcome).toBe('delivered');
    const before = stack.chatwoot.messages(stack.accountId, 705);
    expect(before).toHaveLength(3);

    const again = await resetDeliveryToStart(stack, workflowId);
    expect(again.outcome).toBe('delivered');
    expect(stack.chatwoot.messages(stack.accountId, 705)).toEqual(before);
    expect(again.replies).toEqual(
      before.map((message): unknown =>
        expect.objectContaining({ alreadyPosted: true, chatwootMessageId: message.id }),
      ),
    );
  });
});

/**
 * A cancellation reaches a running activity only with a heartbeat's answer (every 8 s with the
 * default 10 s heartbeat timeout); the exchange asks the server before each post instead, so a
 * human who takes the conversation mid-answer gets no more bot replies.
 */
describe('the exchange posts nothing once its delivery is cancelled', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { slow: 'multi?count=3&delayMs=1500' },
      routes: { 7: 'slow' },
      delivery: { exchangeHeartbeatTimeoutMs: 10_000 },
    });
  });
  afterAll(() => stack?.stop());

  it('assigned to a human after two replies: the third is not posted', async () => {
    const { json } = await stack.sendMessage({ conversationId: 709, content: 'long answer' });
    const workflowId = json.workflowId as string;
    await stack.chatwoot.waitFor(() => stack.chatwoot.messages(stack.accountId, 709).length >= 2, {
      description: 'two replies posted',
    });
    await stack.sendEvent('conversation_updated', {
      conversationId: 709,
      changes: { assignee_id: [null, 3] },
    });
    // The delivery waits for its exchange to end, whenever that learns of the cancel.
    await expect(stack.result(workflowId)).rejects.toThrow();
    expect(stack.chatwoot.messages(stack.accountId, 709).map((m) => m.content)).toEqual([
      'reply 1/3: long answer',
      'reply 2/3: long answer',
    ]);
  });
});
