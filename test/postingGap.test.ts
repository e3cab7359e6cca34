import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReplySignal, deliveryStateQuery } from '../workflows/shared.js';
import { eventually } from './helpers/eventually.js';
import { startStack, type Stack } from './helpers/stack.js';

describe('a gap in reply indices', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { slow: 'slow?delayMs=1500' },
      routes: { 7: 'slow' },
    });
  });
  afterAll(() => stack?.stop());

  it('posts the replies after the gap in order once the exchange ends, and reports the missing one', async () => {
    const { json } = await stack.sendMessage({ conversationId: 701, content: 'gap' });
    const workflowId = json.workflowId as string;
    const delivery = await stack.workflow(workflowId);
    await eventually(async () => (await delivery.query(deliveryStateQuery)).attempt === 1, {
      description: 'exchange attempt 1 running',
    });
    // Reply 0 comes from the agent (after 1.5 s); reply 2 arrives, reply 1 never does.
    await delivery.signal(agentReplySignal, {
      attempt: 1,
      index: 2,
      content: 'the third part',
      final: false,
      metadata: {},
    });
    const report = await stack.result(workflowId);

    const messages = stack.chatwoot.messages(stack.accountId, 701);
    expect(messages.map((m) => m.content)).toEqual(['echo: gap', 'the third part']);
    expect(report.replies).toEqual([
      expect.objectContaining({ index: 0, status: 'posted', chatwootMessageId: messages[0]!.id }),
      expect.objectContaining({ index: 1, status: 'missing' }),
      expect.objectContaining({ index: 2, status: 'posted', chatwootMessageId: messages[1]!.id }),
    ]);
    expect(report.outcome).toBe('failed');
    expect(report.reason).toMatch(/reply 2 never arrived/);
    expect(stack.chatwoot.typing(stack.accountId, 701)).toEqual(['on', 'off']);
  });
});
