import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetDeliveryToStart } from './helpers/resetDelivery.js';
import { startStack, type Stack } from './helpers/stack.js';

/** The stack's client times a request out after 1 s; Chatwoot may still commit it after that. */
describe('a create Chatwoot commits after the bridge gave up on it', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { echo: 'echo', multi: 'multi?count=3&delayMs=20' },
      routes: { 7: 'echo', 8: 'multi' },
    });
  });
  afterAll(() => stack?.stop());

  it('the retry waits the late commit out and finds it: one copy', async () => {
    const path = '/conversations/601/messages';
    // Committed 1.6 s after it arrived: the client gave up at 1 s, the retry came at once.
    stack.chatwoot.injectLateCommit({
      afterMs: 1_600,
      match: { method: 'POST', pathIncludes: path },
    });
    const { json } = await stack.sendMessage({ conversationId: 601, content: 'slow chatwoot' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    // However fast the delivery was, count copies only once the late create has committed.
    await stack.chatwoot.waitFor(
      () => stack.chatwoot.calls.some((call) => call.fault?.startsWith('late-commit') ?? false),
      { description: 'the late create committed' },
    );
    const messages = stack.chatwoot.messages(stack.accountId, 601);
    expect(messages.map((m) => m.content)).toEqual(['echo: slow chatwoot']);
    expect(report.replies).toEqual([
      expect.objectContaining({
        status: 'posted',
        alreadyPosted: true,
        chatwootMessageId: messages[0]!.id,
      }),
    ]);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('a reset delivery (Temporal reset to its first workflow task) posts nothing again', async () => {
    const { json } = await stack.sendMessage({ conversationId: 602, inboxId: 8, content: 'reset' });
    const workflowId = json.workflowId as string;
    const first = await stack.result(workflowId);
    expect(first.outcome).toBe('delivered');
    const before = stack.chatwoot.messages(stack.accountId, 602);
    expect(before).toHaveLength(3);

    const again = await resetDeliveryToStart(stack, workflowId);

    expect(again.outcome).toBe('delivered');
    expect(stack.chatwoot.messages(stack.accountId, 602)).toEqual(before);
    expect(again.replies.map((r) => [r.alreadyPosted, r.chatwootMessageId])).toEqual(
      before.map((m) => [true, m.id]),
    );
    expect(stack.chatwoot.violations).toEqual([]);
  });
});
