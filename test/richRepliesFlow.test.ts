import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { messageUpdatedPayload, signWebhook } from '../sandbox/chatwootWebhooks.js';
import { conversationStateQuery, conversationWorkflowId } from '../workflows/shared.js';
import { startMockAiwm, type MockAiwm } from '../sandbox/mockAiwm.js';
import { parsePrometheus, sampleValue } from './helpers/prometheus.js';
import { startStack, WEBHOOK_SECRET, type Stack } from './helpers/stack.js';

/**
 * Interactive replies, the customer's answers to them and long replies in parts, end to end:
 * real Temporal, real agent sockets (bridge-v1, unified, Socket.IO), the fake Chatwoot checking every
 * create against Chatwoot's OpenAPI document and its content-attribute rules.
 */
describe('rich replies and their answers (bridge-v1 and unified)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: {
        select: 'rich?kind=select',
        uselect: 'unified/rich?kind=select',
        form: 'unified/rich?kind=form',
        cards: 'rich?kind=cards',
        invalid: 'rich?kind=invalid',
        empty: 'rich?kind=invalid-empty',
        long: 'rich?kind=long-select',
        ulong: 'unified/rich?kind=long',
      },
      routeList: [
        { inboxId: 7, agentId: 'select' },
        { inboxId: 8, agentId: 'uselect' },
        { inboxId: 9, agentId: 'form' },
        { inboxId: 10, agentId: 'cards' },
        { inboxId: 11, agentId: 'invalid' },
        { inboxId: 12, agentId: 'empty' },
        { inboxId: 13, agentId: 'long' },
        { inboxId: 14, agentId: 'ulong' },
      ],
      agentSettings: { long: { splitRepliesAtChars: 200 }, ulong: { splitRepliesAtChars: 200 } },
    });
  });
  afterAll(() => stack?.stop());

  const messagesOf = (conversationId: number) =>
    stack.chatwoot.messages(stack.accountId, conversationId);
  /** Requests that reached an agent, both protocols, as `{content, metadata}`. */
  const agentTurns = () => [
    ...stack.agentServer.requests.map((r) => ({ content: r.content, metadata: r.metadata })),
    ...stack.agentServer.unifiedRequests.map((r) => ({ content: r.message, metadata: r.metadata })),
  ];

  it.each([
    ['bridge-v1', 7, 201],
    ['unified', 8, 202],
  ])(
    '%s: buttons are posted with the marker beside them; the choice comes back once, as its own turn',
    async (_protocol, inboxId, conversationId) => {
      const { json } = await stack.sendMessage({ conversationId, inboxId, content: 'Colours?' });
      const report = await stack.result(json.workflowId as string);
      expect(report.outcome).toBe('delivered');
      expect(report.replies).toMatchObject([{ status: 'posted', contentType: 'input_select' }]);
      const [buttons] = messagesOf(conversationId);
      expect(buttons).toMatchObject({
        content: 'Which colour would you like?',
        content_type: 'input_select',
        content_attributes: {
          items: [
            { title: 'Blue', value: 'blue' },
            { title: 'Red', value: 'red' },
          ],
          [MARKER_ATTRIBUTE]: bridgeSourceId(json.workflowId as string, 0),
        },
      });

      // The customer picks Blue in the widget; Chatwoot sends message_updated (and retries it).
      const answered = stack.chatwoot.submitValues(stack.accountId, conversationId, buttons!.id, [
        { title: 'Blue', value: 'blue' },
      ]);
      const first = await stack.sendMessageUpdated(answered, inboxId);
      expect(first.response.statusCode).toBe(200);
      expect(first.json).toMatchObject({
        result: 'accepted',
        workflowId: stack.messageWorkflowId(buttons!.id, conversationId),
      });
      const again = await stack.sendMessageUpdated(answered, inboxId);
      expect(again.json.result).toBe('accepted');

      const answerReport = await stack.result(first.json.workflowId as string);
      expect(answerReport.outcome).toBe('delivered');
      expect(messagesOf(conversationId).map((m) => m.content)).toEqual([
        'Which colour would you like?',
        'you chose: Selected: Blue',
      ]);
      const answerTurns = agentTurns().filter(
        (turn) =>
          (turn.metadata.submitted_values as { message_id?: number } | undefined)?.message_id ===
          buttons!.id,
      );
      expect(answerTurns).toEqual([
        {
          content: 'Selected: Blue',
          metadata: expect.objectContaining({
            submitted_values: {
              message_id: buttons!.id,
              content_type: 'input_select',
              values: [{ title: 'Blue', value: 'blue' }],
            },
          }) as unknown,
        },
      ]);
      // The second webhook was one the actor dropped, not a second turn.
      const actor = stack.temporal.workflow.getHandle(
        conversationWorkflowId(stack.accountId, conversationId),
      );
      await expect
        .poll(async () => (await actor.query(conversationStateQuery)).counters)
        .toMatchObject({ duplicatesIgnored: 1, turnsStarted: 2 });
      expect(stack.chatwoot.violations).toEqual([]);
    },
  );

  it('unified: a form answer reaches the agent as name=value pairs with the fields', async () => {
    const conversationId = 203;
    const { json } = await stack.sendMessage({ conversationId, inboxId: 9, content: 'Call me' });
    await stack.result(json.workflowId as string);
    const [form] = messagesOf(conversationId);
    expect(form).toMatchObject({ content_type: 'form' });
    const answered = stack.chatwoot.submitValues(stack.accountId, conversationId, form!.id, [
      { name: 'name', value: 'Ada' },
      { name: 'email', value: 'ada@example.com' },
    ]);
    const { json: update } = await stack.sendMessageUpdated(answered, 9);
    await stack.result(update.workflowId as string);
    expect(messagesOf(conversationId).at(-1)?.content).toBe(
      'you chose: Form: name=Ada, email=ada@example.com',
    );
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('bridge-v1: cards are posted as Chatwoot cards', async () => {
    const { json } = await stack.sendMessage({ conversationId: 204, inboxId: 10 });
    await stack.result(json.workflowId as string);
    expect(messagesOf(204)[0]).toMatchObject({
      content_type: 'cards',
      content_attributes: { items: [{ title: 'Business' }] },
    });
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('invalid interactive content is posted as plain text, the error in the report; with no text, not at all', async () => {
    const { json } = await stack.sendMessage({ conversationId: 205, inboxId: 11 });
    const report = await stack.result(json.workflowId as string);
    expect(report.replies).toEqual([
      expect.objectContaining({
        status: 'posted',
        contentError:
          'posted as plain text: input_select: content_attributes.items[0].value: a non-empty string is required',
      }),
    ]);
    expect(messagesOf(205)).toMatchObject([
      { content: 'Pick one: blue or red', content_type: 'text' },
    ]);

    const { json: empty } = await stack.sendMessage({ conversationId: 206, inboxId: 12 });
    const emptyReport = await stack.result(empty.workflowId as string);
    expect(emptyReport.replies).toEqual([
      {
        index: 0,
        status: 'invalid',
        error:
          'not posted: cards: content_attributes.items[0].actions: a non-empty list is required',
      },
    ]);
    expect(messagesOf(206)).toEqual([]);
    // Chatwoot never saw a message it would refuse.
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it.each([
    ['bridge-v1', 13, 207],
    ['unified', 14, 208],
  ])(
    '%s: a long reply goes out in parts at splitRepliesAtChars, each part once even when a post is retried',
    async (protocol, inboxId, conversationId) => {
      // The first part's answer is lost after Chatwoot saved it: the retry must find it, not repost.
      stack.chatwoot.injectFault({
        drop: true,
        afterApply: true,
        match: { method: 'POST', pathIncludes: `/conversations/${conversationId}/messages` },
      });
      const { json } = await stack.sendMessage({ conversationId, inboxId, content: 'Plans?' });
      const workflowId = json.workflowId as string;
      const report = await stack.result(workflowId);
      expect(report.outcome).toBe('delivered');
      const posted = messagesOf(conversationId);
      expect(posted.length).toBeGreaterThan(2);
      for (const message of posted) expect(message.content.length).toBeLessThanOrEqual(200);
      expect(posted.map((m) => m.content_attributes[MARKER_ATTRIBUTE])).toEqual(
        posted.map((_, n) => bridgeSourceId(workflowId, n === 0 ? 0 : `0.${n}`)),
      );
      expect(new Set(posted.map((m) => m.content)).size).toBe(posted.length);
      expect(posted[0]!.content).toBe(
        'Thanks for asking about our plans. Here is everything you need to know before choosing.',
      );
      expect(
        posted.some((m) => m.content.includes('[the help centre](https://example.com/help)')),
      ).toBe(true);
      const [reply] = report.replies;
      expect(reply).toMatchObject({
        status: 'posted',
        chatwootMessageId: posted[0]!.id,
        alreadyPosted: true,
        parts: posted.map((m, n) => ({ chatwootMessageId: m.id, alreadyPosted: n === 0 })),
      });
      // The buttons (bridge-v1's reply has them) come with the last part only.
      const types = posted.map((m) => m.content_type);
      expect(types).toEqual(
        posted.map((_, n) =>
          protocol === 'bridge-v1' && n === posted.length - 1 ? 'input_select' : 'text',
        ),
      );
      expect(stack.chatwoot.violations).toEqual([]);
    },
  );

  it('CSAT ratings and other updates are a 200 "ignored" with a reason, counted, never a turn', async () => {
    const conversationId = 209;
    const turnsBefore = agentTurns().length;
    const updates: Array<[Record<string, unknown>, string]> = [
      [
        messageUpdatedPayload({
          accountId: stack.accountId,
          conversationId,
          inboxId: 7,
          messageType: 'template',
          sender: null,
          content: 'Please rate the conversation',
          contentType: 'input_csat',
          contentAttributes: { submitted_values: { csat_survey_response: { rating: 5 } } },
        }),
        'CSAT survey response (input_csat): not a turn',
      ],
      [
        messageUpdatedPayload({
          accountId: stack.accountId,
          conversationId,
          inboxId: 7,
          content: 'edited text',
        }),
        'update of a message the bot did not send: not a turn',
      ],
    ];
    for (const [payload, reason] of updates) {
      const response = await stack.app.inject({
        method: 'POST',
        url: '/webhook/chatwoot',
        headers: { 'content-type': 'application/json', ...signed(payload) },
        payload: JSON.stringify(payload),
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ result: 'ignored', reason });
    }
    const metrics = await stack.app.inject({ method: 'GET', url: '/metrics' });
    const samples = parsePrometheus(metrics.body);
    for (const [, reason] of updates) {
      expect(
        sampleValue(samples, 'chatwoot_bridge_webhooks_ignored_total', { reason }),
      ).toBeGreaterThanOrEqual(1);
    }
    expect(agentTurns().length).toBe(turnsBefore);
    expect(messagesOf(conversationId)).toEqual([]);
  });

  const signed = (payload: Record<string, unknown>) =>
    signWebhook(JSON.stringify(payload), WEBHOOK_SECRET);
});

describe('an answer through Socket.IO (AIWM)', () => {
  let stack: Stack;
  let aiwm: MockAiwm;
  beforeAll(async () => {
    aiwm = await startMockAiwm({ agents: { echo: 'echo' } });
    stack = await startStack({
      agentConfigs: [
        {
          id: 'aiwm-echo',
          transport: 'socketio',
          apiBase: aiwm.apiBase,
          url: aiwm.url,
          agentId: 'echo',
          secret: aiwm.secret,
          connectTimeoutMs: 1_000,
          replyTimeoutMs: 3_000,
          totalTimeoutMs: 10_000,
          settleMs: 300,
          ackTimeoutMs: 1_000,
          releaseQuietMs: 200,
        },
      ],
      routeList: [{ inboxId: 7, agentId: 'aiwm-echo' }],
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await aiwm?.close();
  });

  it("the customer's choice reaches the agent with metadata.submitted_values", async () => {
    const conversationId = 301;
    // The bridge's own buttons (its marker), as an earlier turn posted them.
    const buttons = stack.chatwoot.addMessage(stack.accountId, conversationId, {
      content: 'Which colour would you like?',
      message_type: 'outgoing',
      content_type: 'input_select',
      content_attributes: {
        items: [{ title: 'Blue', value: 'blue' }],
        [MARKER_ATTRIBUTE]: bridgeSourceId('message:earlier:turn', 0),
      },
    });
    const answered = stack.chatwoot.submitValues(stack.accountId, conversationId, buttons.id, [
      { title: 'Blue', value: 'blue' },
    ]);
    const { json } = await stack.sendMessageUpdated(answered);
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    const sent = aiwm.received.filter((message) => message.content === 'Selected: Blue');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.metadata).toMatchObject({
      submitted_values: {
        message_id: buttons.id,
        content_type: 'input_select',
        values: [{ title: 'Blue', value: 'blue' }],
      },
    });
    expect(stack.chatwoot.messages(stack.accountId, conversationId).at(-1)?.content).toContain(
      'Selected: Blue',
    );
  });
});
