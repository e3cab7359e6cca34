import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * A Twilio SMS inbox and a user token: Chatwoot sends each reply to the provider and writes the
 * provider's message id into `source_id` before the webhook goes out and listings see it.
 */
describe('posting on a channel that overwrites source_id (user token)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { echo: 'echo', multi: 'multi?count=3&delayMs=20' },
      // The default configuration: its posts must reach the customer on such a channel.
      routes: { 7: 'echo', 8: 'multi' },
    });
    stack.chatwoot.useChannel('twilio_sms');
    stack.chatwoot.setTokenOwner('user');
  });
  afterAll(() => stack?.stop());

  it('a retried post after a lost response leaves one copy, and the customer gets it once', async () => {
    stack.chatwoot.injectFault({
      drop: true,
      afterApply: true,
      count: 1,
      match: { method: 'POST', pathIncludes: '/conversations/501/messages' },
    });
    const { json } = await stack.sendMessage({ conversationId: 501, content: 'over sms' });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    const messages = stack.chatwoot.messages(stack.accountId, 501);
    expect(messages.map((m) => m.content)).toEqual(['echo: over sms']);
    expect(stack.chatwoot.customerReceived(stack.accountId, 501)).toEqual(['echo: over sms']);
    // The marker survived where the channel does not write; source_id is Twilio's SID now.
    expect(messages[0]!.source_id).toMatch(/^SM/);
    expect(messages[0]!.content_attributes[MARKER_ATTRIBUTE]).toBe(bridgeSourceId(workflowId, 0));
    expect(report.replies).toEqual([
      expect.objectContaining({
        index: 0,
        status: 'posted',
        alreadyPosted: true,
        chatwootMessageId: messages[0]!.id,
      }),
    ]);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('reports the Chatwoot id of every reply, so the bridge knows its own messages', async () => {
    const { json } = await stack.sendMessage({ conversationId: 502, inboxId: 8, content: 'hi' });
    const report = await stack.result(json.workflowId as string);
    const messages = stack.chatwoot.messages(stack.accountId, 502);
    expect(messages.map((m) => m.content)).toEqual([
      'reply 1/3: hi',
      'reply 2/3: hi',
      'reply 3/3: hi',
    ]);
    expect(report.replies.map((r) => r.chatwootMessageId)).toEqual(messages.map((m) => m.id));
    expect(stack.chatwoot.customerReceived(stack.accountId, 502)).toHaveLength(3);
    expect(stack.chatwoot.violations).toEqual([]);
  });
});
