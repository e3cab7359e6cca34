import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { carriesMarker, bridgeSourceId } from '../chatwoot/sourceId.js';
import { resetDeliveryToStart, scheduledActivities } from './helpers/resetDelivery.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * A delivery whose agent sends one plain reply lets the exchange activity post it (one activity,
 * a billed action, less); every other reply, and every doubt about that post, goes through the
 * workflow's own posts, which never leave a second copy.
 */
describe('the exchange posts a sole plain reply itself', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { echo: 'echo', multi: 'multi?count=2' },
      routes: { 7: 'echo', 8: 'multi' },
    });
  });
  afterAll(() => stack?.stop());

  it('one plain reply: posted by the exchange, no post activity, one copy with its marker', async () => {
    const { json } = await stack.sendMessage({ conversationId: 701, content: 'hi' });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    expect(await scheduledActivities(stack, workflowId)).toEqual(['agentExchange']);
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

  it('two replies: the workflow posts each, in order', async () => {
    const { json } = await stack.sendMessage({ conversationId: 702, inboxId: 8, content: 'two' });
    const workflowId = json.workflowId as string;
    expect((await stack.result(workflowId)).outcome).toBe('delivered');
    expect(await scheduledActivities(stack, workflowId)).toEqual([
      'agentExchange',
      'createMessage',
      'createMessage',
    ]);
    expect(stack.chatwoot.messages(stack.accountId, 702)).toHaveLength(2);
  });

  it("Chatwoot refuses the exchange's create: the workflow posts the reply, once", async () => {
    stack.chatwoot.injectFault({
      status: 500,
      match: { method: 'POST', pathIncludes: '/conversations/703/messages' },
    });
    const { json } = await stack.sendMessage({ conversationId: 703, content: 'refused' });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    expect(await scheduledActivities(stack, workflowId)).toEqual([
      'agentExchange',
      'createMessage',
    ]);
    const messages = stack.chatwoot.messages(stack.accountId, 703);
    expect(messages.map((m) => m.content)).toEqual(['echo: refused']);
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
    const { json } = await stack.sendMessage({ conversationId: 704, content: 'lost answer' });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    expect(await scheduledActivities(stack, workflowId)).toEqual([
      'agentExchange',
      'createMessage',
    ]);
    const messages = stack.chatwoot.messages(stack.accountId, 704);
    expect(messages.map((m) => m.content)).toEqual(['echo: lost answer']);
    expect(report.replies[0]).toMatchObject({
      status: 'posted',
      alreadyPosted: true,
      chatwootMessageId: messages[0]!.id,
    });
  });

  it('a reset delivery whose reply the exchange posted posts nothing again', async () => {
    const { json } = await stack.sendMessage({ conversationId: 705, content: 'reset me' });
    const workflowId = json.workflowId as string;
    expect((await stack.result(workflowId)).outcome).toBe('delivered');
    const before = stack.chatwoot.messages(stack.accountId, 705);
    expect(before).toHaveLength(1);

    const again = await resetDeliveryToStart(stack, workflowId);
    expect(again.outcome).toBe('delivered');
    expect(stack.chatwoot.messages(stack.accountId, 705)).toEqual(before);
    expect(again.replies[0]).toMatchObject({
      alreadyPosted: true,
      chatwootMessageId: before[0]!.id,
    });
  });
});
