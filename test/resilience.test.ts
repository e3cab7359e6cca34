import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bridgeMarkerOf,
  bridgeSourceId,
  isBridgeMessage,
  type MarkedMessage,
} from '../chatwoot/sourceId.js';
import { deliveryStateQuery } from '../workflows/shared.js';
import { eventually } from './helpers/eventually.js';
import { startStack, type Stack } from './helpers/stack.js';

/** Faults on both sides: Chatwoot errors and an agent that is down, drops or refuses. */
describe('delivery under faults', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: {
        echo: 'echo',
        multi: 'multi?count=3&delayMs=20',
        drop: 'drop?after=1&count=3',
        broken: 'error?code=bad_input&retryable=false',
      },
      routes: { 7: 'echo', 8: 'multi', 9: 'drop', 10: 'broken' },
    });
  });
  afterEach(async () => {
    stack.chatwoot.clearFaults();
    await stack.agentServer.setAvailable(true);
  });
  afterAll(() => stack?.stop());

  const postsTo = (conversationId: number) =>
    stack.chatwoot.calls.filter(
      (call) =>
        call.method === 'POST' &&
        call.path ===
          `/api/v1/accounts/${stack.accountId}/conversations/${conversationId}/messages`,
    );

  it('Chatwoot 500 ×3 then OK: exactly one post per reply', async () => {
    stack.chatwoot.injectFault({
      status: 500,
      count: 3,
      match: { method: 'POST', pathIncludes: '/conversations/301/messages' },
    });
    const { json } = await stack.sendMessage({ conversationId: 301, inboxId: 8, content: 'storm' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(stack.chatwoot.messages(stack.accountId, 301).map((m) => m.content)).toEqual([
      'reply 1/3: storm',
      'reply 2/3: storm',
      'reply 3/3: storm',
    ]);
    expect(postsTo(301).filter((call) => call.status === 500)).toHaveLength(3);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('Chatwoot 429 with Retry-After: waits as told, then delivers', async () => {
    stack.chatwoot.injectFault({
      status: 429,
      retryAfterSeconds: 1,
      count: 1,
      match: { method: 'POST', pathIncludes: '/conversations/302/messages' },
    });
    const { json } = await stack.sendMessage({ conversationId: 302, content: 'slow down' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(stack.chatwoot.messages(stack.accountId, 302).map((m) => m.content)).toEqual([
      'echo: slow down',
    ]);
    const [limited, accepted] = postsTo(302);
    expect(limited?.status).toBe(429);
    expect(accepted?.status).toBe(200);
    // The retry policy alone would have retried after 50 ms.
    expect((accepted?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(900);
  });

  it('a post applied whose response was lost is not posted again', async () => {
    stack.chatwoot.injectFault({
      drop: true,
      afterApply: true,
      count: 1,
      match: { method: 'POST', pathIncludes: '/conversations/303/messages' },
    });
    const { json } = await stack.sendMessage({ conversationId: 303, content: 'lost ack' });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    expect(report.replies).toEqual([
      expect.objectContaining({ index: 0, status: 'posted', alreadyPosted: true }),
    ]);
    expect(stack.chatwoot.messages(stack.accountId, 303).map(bridgeMarkerOf)).toEqual([
      bridgeSourceId(workflowId, 0),
    ]);
  });

  it('finds its earlier copy even when newer messages pushed it off the first page', async () => {
    const path = '/conversations/309/messages';
    stack.chatwoot.injectFault({
      drop: true,
      afterApply: true,
      count: 1,
      match: { method: 'POST', pathIncludes: path },
    });
    // The retry's look-up is held back while a busy conversation moves on by 25 messages.
    stack.chatwoot.injectFault({
      delayMs: 800,
      count: 1,
      match: { method: 'GET', pathIncludes: path },
    });
    const busy: Array<Promise<Response>> = [];
    const onMessage = (message: { conversation_id: number } & MarkedMessage) => {
      if (message.conversation_id !== 309 || !isBridgeMessage(message)) return;
      stack.chatwoot.off('message', onMessage);
      for (let n = 1; n <= 25; n += 1) {
        busy.push(
          fetch(`${stack.chatwoot.url}/api/v1/accounts/${stack.accountId}${path}`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              api_access_token: stack.config.chatwoot.apiAccessToken,
            },
            body: JSON.stringify({ content: `human message ${n}`, message_type: 'outgoing' }),
          }),
        );
      }
    };
    stack.chatwoot.on('message', onMessage);

    const { json } = await stack.sendMessage({ conversationId: 309, content: 'busy' });
    const report = await stack.result(json.workflowId as string);
    await Promise.all(busy);
    expect(report.replies).toEqual([
      expect.objectContaining({ status: 'posted', alreadyPosted: true }),
    ]);
    const mine = stack.chatwoot.messages(stack.accountId, 309).filter(isBridgeMessage);
    expect(mine.map((m) => m.content)).toEqual(['echo: busy']);
    expect(stack.chatwoot.messages(stack.accountId, 309)).toHaveLength(26);
  });

  it('Chatwoot 4xx fails fast and is recorded', async () => {
    stack.chatwoot.injectFault({
      status: 404,
      count: 1,
      match: { method: 'POST', pathIncludes: '/conversations/304/messages' },
    });
    const { json } = await stack.sendMessage({ conversationId: 304, content: 'gone' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('failed');
    expect(report.replies).toEqual([
      expect.objectContaining({
        index: 0,
        status: 'failed',
        error: expect.stringContaining('404'),
      }),
    ]);
    expect(postsTo(304)).toHaveLength(1);
    expect(stack.chatwoot.typing(stack.accountId, 304)).toEqual(['on', 'off']);
  });

  it('agent refusing connections, back inside the window: delivered', async () => {
    await stack.agentServer.setAvailable(false);
    const { json } = await stack.sendMessage({ conversationId: 305, content: 'anyone there?' });
    // Back once the bridge has seen it fail, whatever the machine's speed.
    const delivery = await stack.workflow(json.workflowId as string);
    await eventually(async () => (await delivery.query(deliveryStateQuery)).status === 'retrying');
    await stack.agentServer.setAvailable(true);
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts.length).toBeGreaterThan(1);
    expect(report.attempts[0]).toMatchObject({
      outcome: 'failed',
      detail: expect.stringMatching(/ECONNREFUSED/),
    });
    expect(stack.chatwoot.messages(stack.accountId, 305).map((m) => m.content)).toEqual([
      'echo: anyone there?',
    ]);
  });

  it('agent down past the window: fallback message, conversation opened, private note', async () => {
    await stack.agentServer.setAvailable(false);
    const { json } = await stack.sendMessage({ conversationId: 306, content: 'hello?' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.reason).toMatch(/agent unavailable/);
    const messages = stack.chatwoot.messages(stack.accountId, 306);
    expect(messages.map((m) => [m.private, m.content])).toEqual([
      [false, stack.config.delivery.fallbackMessage],
      [true, expect.stringContaining('handed message')],
    ]);
    expect(stack.chatwoot.statusChanges(stack.accountId, 306)).toEqual(['open']);
    // The agent never had the message: no typing was shown.
    expect(stack.chatwoot.typing(stack.accountId, 306)).toEqual([]);
  });

  it('agent dropping mid-stream: the retry completes the answer, no reply twice', async () => {
    const { json } = await stack.sendMessage({ conversationId: 307, inboxId: 9, content: 'drop' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(stack.chatwoot.messages(stack.accountId, 307).map((m) => m.content)).toEqual([
      'reply 1/3: drop',
      'reply 2/3: drop',
      'reply 3/3: drop',
    ]);
  });

  it('agent error frame that cannot be retried: hands off at once', async () => {
    const { json } = await stack.sendMessage({ conversationId: 308, inboxId: 10, content: 'bad' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts).toHaveLength(1);
    expect(report.reason).toMatch(/bad_input/);
    expect(stack.chatwoot.statusChanges(stack.accountId, 308)).toEqual(['open']);
  });
});
