import { describe, expect, it } from 'vitest';
import { pullTurn } from '../activities/pullAgents.js';
import { bridgeV1Request } from '../agents/bridgeV1/protocol.js';
import { turnFromMessage } from '../agents/turn.js';
import { unifiedUserMessage } from '../agents/unified/protocol.js';
import { classify } from '../chatwoot/events.js';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { contentAttributeErrors } from '../sandbox/fakeChatwootContent.js';
import { messageUpdatedPayload, type MessageOptions } from '../sandbox/chatwootWebhooks.js';
import { planReplyPosts } from '../workflows/replyPosts.js';
import { richContentOf } from '../workflows/richContent.js';
import type { AgentReply, MessageDeliveryInput } from '../workflows/shared.js';
import { classifierConfig } from './helpers/eventsConfig.js';

const config = classifierConfig();
const marker = { [MARKER_ATTRIBUTE]: bridgeSourceId('message:1:42:1000', 0) };
const select = {
  items: [
    { title: 'Blue', value: 'blue' },
    { title: 'Red', value: 'red' },
  ],
};

/** The bot's own interactive message, updated in Chatwoot (the widget's answer, a status…). */
const botMessageUpdate = (options: MessageOptions = {}) =>
  messageUpdatedPayload({
    conversationId: 42,
    messageId: 1005,
    inboxId: 7,
    messageType: 'outgoing',
    sender: 'agent_bot',
    content: 'Which colour?',
    contentType: 'input_select',
    ...options,
  });

describe('message_updated: answers to the bot become turns, nothing else does', () => {
  it('an answer to the bot buttons is a customer turn under the bot message id, values kept', () => {
    const decision = classify(
      botMessageUpdate({
        contentAttributes: { ...marker, ...select, submitted_values: [select.items[0]] },
      }),
      config,
    );
    expect(decision).toMatchObject({
      event: 'message_updated',
      kind: 'customer_turn',
      target: { accountId: 1, conversationId: 42, inboxId: 7 },
      workflowId: 'message:1:42:1005',
      signal: {
        type: 'customer_message',
        route: { agentId: 'echo' },
        message: {
          messageId: 1005,
          content: 'Selected: Blue',
          attachments: [],
          submittedValues: {
            messageId: 1005,
            contentType: 'input_select',
            values: [{ title: 'Blue', value: 'blue' }],
          },
        },
      },
    });
  });

  it('a form answer reads as name=value pairs and keeps the fields', () => {
    const decision = classify(
      botMessageUpdate({
        contentType: 'form',
        contentAttributes: {
          ...marker,
          items: [
            { name: 'name', type: 'text', label: 'Name' },
            { name: 'email', type: 'email', label: 'Email' },
          ],
          submitted_values: [
            { name: 'name', value: 'Ada' },
            { name: 'email', value: 'ada@example.com', extra: { deep: true } },
          ],
        },
      }),
      config,
    );
    expect(decision.kind).toBe('customer_turn');
    if (decision.kind !== 'customer_turn') return;
    expect(decision.signal.message.content).toBe('Form: name=Ada, email=ada@example.com');
    expect(decision.signal.message.submittedValues?.values).toEqual([
      { name: 'name', value: 'Ada' },
      { name: 'email', value: 'ada@example.com' },
    ]);
  });

  it.each([
    [
      'a CSAT rating',
      botMessageUpdate({
        contentType: 'input_csat',
        contentAttributes: { submitted_values: { csat_survey_response: { rating: 5 } } },
      }),
      'CSAT survey response (input_csat): not a turn',
    ],
    [
      'a CSAT rating on a message carrying the marker',
      botMessageUpdate({
        contentType: 'input_csat',
        contentAttributes: { ...marker, submitted_values: { csat_survey_response: { rating: 1 } } },
      }),
      'CSAT survey response (input_csat): not a turn',
    ],
    [
      "an edit of a customer's message",
      messageUpdatedPayload({ conversationId: 42, messageId: 1003, inboxId: 7, content: 'edited' }),
      'update of a message the bot did not send: not a turn',
    ],
    [
      "a human agent's select answered (not the bot's)",
      botMessageUpdate({
        sender: 'user',
        contentAttributes: { ...select, submitted_values: [select.items[0]] },
      }),
      'update of a message the bot did not send: not a turn',
    ],
    [
      "a status change of the bot's text reply",
      botMessageUpdate({ contentType: 'text', contentAttributes: marker }),
      "update of the bot's text message: not an answer",
    ],
    [
      "the bot's buttons updated before any answer (source id written after the send)",
      botMessageUpdate({ contentAttributes: { ...marker, ...select } }),
      'update without submitted values (status, source id…)',
    ],
    [
      'an answer on an inbox no route matches',
      botMessageUpdate({
        inboxId: 99,
        contentAttributes: { ...marker, ...select, submitted_values: [select.items[1]] },
      }),
      'not routed',
    ],
  ])('%s is ignored with a reason', (_name, payload, reason) => {
    expect(classify(payload, config)).toEqual({ event: 'message_updated', kind: 'ignore', reason });
  });

  it('a malformed message_updated is a 400 naming the field', () => {
    expect(classify({ event: 'message_updated', id: 'x' }, config)).toMatchObject({
      kind: 'invalid',
    });
  });
});

describe('rich content: what Chatwoot would refuse or could not render is refused', () => {
  const reply = (metadata: Record<string, unknown>, content = 'Which colour?'): AgentReply => ({
    attempt: 1,
    index: 0,
    content,
    final: true,
    metadata,
  });

  it.each([
    ['input_select', select],
    [
      'cards',
      {
        items: [
          {
            title: 'Plan A',
            description: 'Cheap',
            media_url: 'https://example.com/a.png',
            actions: [
              { type: 'link', text: 'Open', uri: 'https://example.com/a' },
              { type: 'postback', text: 'Choose', payload: 'plan_a' },
            ],
          },
        ],
      },
    ],
    [
      'form',
      {
        items: [
          { name: 'email', type: 'email', label: 'Email', placeholder: 'you@example.com' },
          {
            name: 'topic',
            type: 'select',
            label: 'Topic',
            options: [{ label: 'Billing', value: 'billing' }],
          },
        ],
      },
    ],
    ['article', { items: [{ title: 'Reset your password', link: 'https://example.com/kb/1' }] }],
  ])('a valid %s is accepted (and Chatwoot agrees)', (type, attributes) => {
    expect(richContentOf({ content_type: type, content_attributes: attributes })).toEqual({
      kind: 'valid',
      rich: { contentType: type, contentAttributes: attributes },
    });
    expect(contentAttributeErrors(type, attributes)).toEqual([]);
  });

  it.each([
    ['input_select', {}, 'input_select: content_attributes.items: a non-empty list is required'],
    [
      'input_select',
      { items: [{ title: 'Blue' }] },
      'input_select: content_attributes.items[0].value: a non-empty string is required',
    ],
    [
      'input_select',
      { items: [{ title: 'Blue', value: 'b', colour: 'x' }] },
      'input_select: content_attributes.items[0]: colour not allowed (allowed: title, value)',
    ],
    [
      'cards',
      { items: [{ title: 'Plan A' }] },
      'cards: content_attributes.items[0].actions: a non-empty list is required',
    ],
    [
      'cards',
      { items: [{ title: 'Plan A', actions: [{ type: 'link', text: 'Open' }] }] },
      'cards: content_attributes.items[0].actions[0].uri: required for a link',
    ],
    [
      'form',
      { items: [{ type: 'text', label: 'Name' }] },
      'form: content_attributes.items[0].name: a non-empty string is required',
    ],
    [
      'form',
      { items: [{ name: 'a', type: 'date' }] },
      'form: content_attributes.items[0].type: one of text, text_area, email, select is required',
    ],
    [
      'article',
      { items: [{ title: 'Reset' }] },
      'article: content_attributes.items[0].link: a non-empty string (URL) is required',
    ],
    ['buttons', select, 'content_type "buttons" is not one of input_select, cards, form, article'],
  ])('%s %j is refused: %s', (type, attributes, error) => {
    expect(richContentOf({ content_type: type, content_attributes: attributes })).toEqual({
      kind: 'invalid',
      error,
    });
  });

  it('content_attributes that is not an object is refused', () => {
    expect(richContentOf({ content_type: 'form', content_attributes: [1] })).toEqual({
      kind: 'invalid',
      error: 'content_attributes: an object is required for form',
    });
  });

  it('plans a valid rich reply as one post carrying it; an invalid one as plain text or nothing', () => {
    expect(
      planReplyPosts(reply({ content_type: 'input_select', content_attributes: select })),
    ).toEqual({
      posts: [
        {
          part: 0,
          content: 'Which colour?',
          label: '',
          rich: { contentType: 'input_select', contentAttributes: select },
        },
      ],
    });
    const invalid = { content_type: 'input_select', content_attributes: { items: [] } };
    expect(planReplyPosts(reply(invalid))).toEqual({
      posts: [{ part: 0, content: 'Which colour?', label: '' }],
      contentError: 'input_select: content_attributes.items: a non-empty list is required',
    });
    expect(planReplyPosts(reply(invalid, ' '))).toEqual({
      posts: [],
      contentError: 'input_select: content_attributes.items: a non-empty list is required',
    });
  });

  it('a long rich reply is split, the buttons on the last part, each part with its marker part', () => {
    const text = `${'First paragraph. '.repeat(8).trim()}\n\n${'Second one. '.repeat(8).trim()}`;
    const plan = planReplyPosts(
      { ...reply({ content_type: 'input_select', content_attributes: select }, text), index: 2 },
      150,
    );
    expect(plan.posts.map((post) => [post.part, post.label, post.rich?.contentType])).toEqual([
      [2, ' (part 1/2)', undefined],
      ['2.1', ' (part 2/2)', 'input_select'],
    ]);
  });
});

describe('an answer turn tells every protocol its values (metadata.submitted_values)', () => {
  const answer = {
    messageId: 1005,
    contentType: 'input_select' as const,
    values: [{ title: 'Blue', value: 'blue' }],
  };
  const message = {
    accountId: 1,
    conversationId: 42,
    inboxId: 7,
    messageId: 1005,
    agentId: 'echo',
    content: 'Selected: Blue',
    attachments: [],
    sender: { name: 'Ada', email: null, phone_number: null },
    submittedValues: answer,
  };
  const expected = {
    submitted_values: {
      message_id: 1005,
      content_type: 'input_select',
      values: [{ title: 'Blue', value: 'blue' }],
    },
  };

  it('bridge-v1, unified and pull requests carry it; a plain turn carries none', () => {
    const turn = turnFromMessage('echo', 1, message);
    expect(bridgeV1Request(turn).metadata).toMatchObject(expected);
    expect(unifiedUserMessage(turn).metadata).toMatchObject(expected);
    const policy = {} as MessageDeliveryInput['policy'];
    const pull = pullTurn('message:1:42:1005', {
      agentId: 'echo',
      attempt: 1,
      repliesReceived: 0,
      message: { ...message, policy },
      workflowTaskQueue: 'q',
    });
    expect(pull.metadata).toMatchObject(expected);
    const { submittedValues: _none, ...plain } = message;
    expect(bridgeV1Request(turnFromMessage('echo', 1, plain)).metadata).not.toHaveProperty(
      'submitted_values',
    );
  });
});
