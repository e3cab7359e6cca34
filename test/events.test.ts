import { describe, expect, it } from 'vitest';
import { classify, type WebhookDecision } from '../chatwoot/events.js';
import { bridgeConfigSchema } from '../config/schema.js';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import {
  AGENT_BOT_ID,
  CAPTAIN_ID,
  conversationEventPayload,
  messageCreatedPayload,
  ownerChangedPayload,
  USER_ID,
  type MessageOptions,
} from '../sandbox/chatwootWebhooks.js';
import { classifierConfig } from './helpers/eventsConfig.js';

/** The classifier is pure: every case is a payload and a configuration, no server. */
const config = classifierConfig();
const message = (options: MessageOptions = {}) =>
  messageCreatedPayload({ conversationId: 42, messageId: 1001, inboxId: 7, ...options });
const decide = (payload: unknown) => classify(payload, config);

function kindAndReason(decision: WebhookDecision): string {
  if (decision.kind === 'ignore') return `ignore: ${decision.reason}`;
  if (decision.kind === 'invalid') return `invalid: ${decision.field}`;
  if (decision.kind === 'notify') {
    return `notify ${decision.signal.type}${decision.start ? ' (start)' : ''}`;
  }
  return decision.kind;
}

describe('classify: message_created', () => {
  it('turns a customer message on a routed inbox into a customer turn, with its facts', () => {
    const payload = message({
      content: 'Where is my order?',
      attachments: [{ id: 4, file_type: 'image', data_url: 'https://files.test/a.png' }],
    });
    const decision = decide(payload);
    expect(decision).toMatchObject({
      event: 'message_created',
      kind: 'customer_turn',
      target: { accountId: 1, conversationId: 42, inboxId: 7 },
      workflowId: 'message:1:42:1001',
      signal: {
        type: 'customer_message',
        route: { agentId: 'echo' },
        message: {
          messageId: 1001,
          inboxId: 7,
          content: 'Where is my order?',
          attachments: [
            {
              id: 4,
              file_type: 'image',
              data_url: 'https://files.test/a.png',
              thumb_url: 'https://files.test/a.png',
            },
          ],
          sender: { id: 1042, name: 'Customer 1042', email: 'customer1042@example.com' },
          createdAtMs: Date.parse(payload.created_at as string),
        },
        conversation: { status: 'open', owner: 'none' },
      },
    });
  });

  it('gives no own workflow id to a turn an agent may merge (debounce)', () => {
    const decision = decide(message({ inboxId: 8 }));
    expect(decision).toMatchObject({
      kind: 'customer_turn',
      signal: { route: { agentId: 'merging' } },
    });
    expect(decision).not.toHaveProperty('workflowId');
  });

  it('leaves out createdAtMs when the payload has no usable created_at', () => {
    const payload = { ...message(), created_at: 'yesterday' };
    const decision = decide(payload);
    expect(decision.kind).toBe('customer_turn');
    if (decision.kind === 'customer_turn')
      expect(decision.signal.message).not.toHaveProperty('createdAtMs');
  });

  it.each<[string, MessageOptions, string]>([
    ['a customer text', {}, 'customer_turn'],
    [
      'an attachment without text',
      { content: null, attachments: [{ id: 1, file_type: 'file', data_url: 'https://f.test/x' }] },
      'customer_turn',
    ],
    ['a message from a sender that is null', { sender: null }, 'customer_turn'],
    [
      "the bridge's own message",
      {
        messageType: 'outgoing',
        sender: 'agent_bot',
        sourceId: bridgeSourceId('message:1:42:1000', 0),
      },
      'ignore: own message',
    ],
    // The marker's default place: `source_id` would keep Chatwoot from sending the reply.
    [
      "the bridge's own message, marked in content_attributes, source_id the channel's",
      {
        messageType: 'outgoing',
        sender: 'user',
        sourceId: 'SM0123456789abcdef',
        contentAttributes: { [MARKER_ATTRIBUTE]: bridgeSourceId('message:1:42:1000', 0) },
      },
      'ignore: own message',
    ],
    [
      "the bridge's own message, marked in content_attributes only",
      {
        messageType: 'outgoing',
        sender: 'agent_bot',
        contentAttributes: { [MARKER_ATTRIBUTE]: bridgeSourceId('message:1:42:1000', 0) },
      },
      'ignore: own message',
    ],
    [
      'a private note',
      { messageType: 'outgoing', sender: 'user', private: true },
      'ignore: private note',
    ],
    [
      "a human agent's public reply",
      { messageType: 'outgoing', sender: 'user' },
      'notify human_message (start)',
    ],
    // Channels overwrite `source_id` with the provider's id: still a human message for the actor,
    // which drops its own by Chatwoot id.
    [
      'a user reply whose source_id a channel overwrote',
      { messageType: 'outgoing', sender: 'user', sourceId: 'SM0123456789abcdef' },
      'notify human_message (start)',
    ],
    [
      'a human reply in an unrouted inbox',
      { messageType: 'outgoing', sender: 'user', inboxId: 99 },
      'notify human_message',
    ],
    [
      "an agent bot's message without the marker",
      { messageType: 'outgoing', sender: 'agent_bot' },
      'ignore: outgoing message',
    ],
    ['an activity message', { messageType: 'activity', sender: null }, 'ignore: activity message'],
    ['a template message', { messageType: 'template', sender: null }, 'ignore: template message'],
    ['an incoming message from an agent bot', { sender: 'agent_bot' }, 'ignore: sent by agent_bot'],
    ['an empty message', { content: '   ' }, 'ignore: empty message'],
    [
      'an unrouted inbox',
      { inboxId: 99 },
      'ignore: inbox 99 is not routed to an agent (no route matches)',
    ],
  ])('%s → %s', (_name, options, expected) => {
    expect(kindAndReason(decide(message(options)))).toBe(expected);
  });

  it('sends a human reply to the actor with its message id and the conversation facts', () => {
    const decision = decide(
      message({
        messageType: 'outgoing',
        sender: 'user',
        status: 'open',
        assignee: { kind: 'user' },
      }),
    );
    expect(decision).toMatchObject({
      kind: 'notify',
      start: true,
      signal: {
        type: 'human_message',
        messageId: 1001,
        senderName: 'Agent Smith',
        conversation: { status: 'open', owner: 'human', ownerName: 'Agent Smith' },
      },
    });
  });

  it("names the first field that breaks Chatwoot's shape", () => {
    const { account: _account, ...withoutAccount } = message();
    expect(decide(withoutAccount)).toMatchObject({ kind: 'invalid', field: 'account' });
    const { inbox: _inbox, conversation, ...rest } = message();
    const { inbox_id: _inboxId, ...conversationWithoutInbox } = conversation as Record<
      string,
      unknown
    >;
    expect(decide({ ...rest, conversation: conversationWithoutInbox })).toMatchObject({
      kind: 'invalid',
      field: 'inbox.id',
    });
    expect(decide({ id: 1 })).toMatchObject({ kind: 'invalid', field: 'event' });
    expect(decide('message_created')).toMatchObject({ kind: 'invalid', field: 'event' });
  });

  it('passes only the known, well-typed attachment and sender fields on', () => {
    const payload = message({
      attachments: [{ id: 1, file_type: 'image', data_url: 'https://f.test/a' }],
    });
    const attachment = (payload.attachments as Array<Record<string, unknown>>)[0] as Record<
      string,
      unknown
    >;
    Object.assign(attachment, {
      extra: { deep: { deeper: [1, 2, 3] } },
      thumb_url: 42,
      file_size: 1024,
    });
    Object.assign(payload.sender as Record<string, unknown>, { extra: { a: { b: 1 } } });
    const decision = decide(payload);
    if (decision.kind !== 'customer_turn')
      throw new Error(`expected a customer turn, got ${decision.kind}`);
    expect(decision.signal.message.attachments).toEqual([
      { id: 1, file_type: 'image', data_url: 'https://f.test/a', file_size: 1024 },
    ]);
    expect(Object.keys(decision.signal.message.sender).sort()).toEqual([
      'email',
      'id',
      'name',
      'phone_number',
    ]);
  });

  it('ignores events it does not handle, naming them', () => {
    expect(decide({ event: 'conversation_typing_on' })).toEqual({
      event: 'conversation_typing_on',
      kind: 'ignore',
      reason: 'event conversation_typing_on is not handled',
    });
  });
});

describe('classify: who owns the conversation (old and Chatwoot 4.16+ payloads)', () => {
  it.each<[string, MessageOptions, object]>([
    ['nobody (typed)', {}, { owner: 'none' }],
    ['nobody (legacy)', { ownership: 'legacy' }, { owner: 'none' }],
    [
      'a person (legacy)',
      { ownership: 'legacy', assignee: { kind: 'user', name: 'Ana' } },
      { owner: 'human', ownerName: 'Ana' },
    ],
    [
      'a person (typed)',
      { assignee: { kind: 'user', name: 'Ana' } },
      { owner: 'human', ownerName: 'Ana' },
    ],
    [
      'a user standing for the bot (legacy, botAssigneeIds)',
      { ownership: 'legacy', assignee: { kind: 'user', id: 9 } },
      { owner: 'bot' },
    ],
    [
      'the agent bot (typed owner)',
      { status: 'pending', assignee: { kind: 'agent_bot' } },
      { status: 'pending', owner: 'bot' },
    ],
    [
      'Captain (typed owner)',
      { status: 'pending', assignee: { kind: 'captain' } },
      { status: 'pending', owner: 'bot' },
    ],
  ])('%s', (_name, options, facts) => {
    const decision = decide(message(options));
    if (decision.kind !== 'customer_turn')
      throw new Error(`expected a customer turn, got ${decision.kind}`);
    expect(decision.signal.conversation).toEqual({ status: options.status ?? 'open', ...facts });
  });

  it('leaves the owner unknown when the payload has no ownership data', () => {
    const payload = message();
    delete ((payload.conversation as Record<string, unknown>).meta as Record<string, unknown>)
      .assignee;
    delete ((payload.conversation as Record<string, unknown>).meta as Record<string, unknown>)
      .assignee_type;
    const decision = decide(payload);
    if (decision.kind !== 'customer_turn')
      throw new Error(`expected a customer turn, got ${decision.kind}`);
    expect(decision.signal.conversation).toEqual({ status: 'open' });
  });

  it('reads a typed owner from assignee_type even when assignee is missing', () => {
    const payload = message();
    const meta = (payload.conversation as Record<string, unknown>).meta as Record<string, unknown>;
    delete meta.assignee;
    meta.assignee_type = 'Captain::Assistant';
    const decision = decide(payload);
    if (decision.kind !== 'customer_turn')
      throw new Error(`expected a customer turn, got ${decision.kind}`);
    expect(decision.signal.conversation).toEqual({ status: 'open', owner: 'bot' });
  });
});

describe('classify: conversation events', () => {
  const event = (
    name: Parameters<typeof conversationEventPayload>[0],
    options: Parameters<typeof conversationEventPayload>[1] = {},
  ) =>
    decide(
      conversationEventPayload(name, { conversationId: 42, accountId: 1, inboxId: 7, ...options }),
    );

  it('greets on conversation_created when the routed agent has a greeting, else ignores it', () => {
    expect(event('conversation_created', { inboxId: 8 })).toMatchObject({
      kind: 'greet',
      target: { accountId: 1, conversationId: 42, inboxId: 8 },
      signal: {
        type: 'greet',
        trigger: 'conversation_created',
        greeting: ['Hello! How can I help?'],
        route: { agentId: 'merging' },
      },
    });
    expect(event('conversation_created')).toMatchObject({
      kind: 'ignore',
      reason: 'no greeting configured',
    });
  });

  it('greets on webwidget_triggered, and ignores a widget without a conversation', () => {
    expect(event('webwidget_triggered', { inboxId: 8 })).toMatchObject({
      kind: 'greet',
      signal: { trigger: 'webwidget_triggered' },
    });
    const payload = conversationEventPayload('webwidget_triggered', { inboxId: 8 });
    expect(decide({ ...payload, current_conversation: null })).toMatchObject({
      kind: 'ignore',
      reason: 'the widget has no conversation yet',
    });
  });

  it('keeps a resolve, with its facts; the actor starts only in a routed inbox', () => {
    expect(event('conversation_resolved', { status: 'resolved' })).toMatchObject({
      kind: 'notify',
      start: true,
      signal: { type: 'resolved', conversation: { status: 'resolved', owner: 'none' } },
    });
    expect(event('conversation_resolved', { inboxId: 99 })).toMatchObject({
      kind: 'notify',
      start: false,
    });
  });

  it.each<[string, Parameters<typeof conversationEventPayload>[1], object]>([
    [
      'pending → open',
      { status: 'open', previousStatus: 'pending' },
      { type: 'status_changed', status: 'open', previousStatus: 'pending' },
    ],
    [
      'open → pending',
      { status: 'pending', previousStatus: 'open' },
      { type: 'status_changed', status: 'pending', previousStatus: 'open' },
    ],
    ['open → resolved', { status: 'resolved', previousStatus: 'open' }, { type: 'resolved' }],
    [
      'snoozed, no change list',
      { status: 'snoozed', changes: {} },
      { type: 'status_changed', status: 'snoozed' },
    ],
  ])('conversation_status_changed %s', (_name, options, signal) => {
    expect(event('conversation_status_changed', options)).toMatchObject({
      kind: 'notify',
      start: true,
      signal,
    });
  });

  it('conversation_opened is a status change to open', () => {
    expect(event('conversation_opened')).toMatchObject({
      kind: 'notify',
      signal: { type: 'status_changed', status: 'open', conversation: { status: 'open' } },
    });
  });

  it.each<[string, Record<string, unknown>, object]>([
    [
      'legacy: assigned to a person',
      conversationEventPayload('conversation_updated', {
        ownership: 'legacy',
        changes: { assignee_id: [null, USER_ID] },
      }),
      {
        assigneeId: USER_ID,
        assigneeName: 'Agent Smith',
        toBot: false,
        conversation: { owner: 'human', ownerName: 'Agent Smith' },
      },
    ],
    [
      'legacy: assigned to a user standing for the bot',
      conversationEventPayload('conversation_updated', {
        ownership: 'legacy',
        changes: { assignee_id: [USER_ID, 9] },
      }),
      { assigneeId: 9, toBot: true, conversation: { owner: 'bot' } },
    ],
    [
      'legacy: unassigned',
      conversationEventPayload('conversation_updated', {
        ownership: 'legacy',
        changes: { assignee_id: [USER_ID, null] },
      }),
      { assigneeId: null, toBot: false, conversation: { owner: 'none' } },
    ],
    [
      '4.16: a person hands the conversation to the agent bot',
      ownerChangedPayload({ kind: 'agent_bot' }, { kind: 'user' }, { status: 'pending' }),
      { assigneeId: AGENT_BOT_ID, toBot: true, conversation: { status: 'pending', owner: 'bot' } },
    ],
    [
      '4.16: a person hands the conversation to Captain',
      ownerChangedPayload({ kind: 'captain' }, { kind: 'user' }, { status: 'pending' }),
      { assigneeId: CAPTAIN_ID, toBot: true, conversation: { owner: 'bot' } },
    ],
    [
      '4.16: a person takes the conversation over from the agent bot',
      ownerChangedPayload({ kind: 'user', name: 'Ana' }, { kind: 'agent_bot' }, { status: 'open' }),
      {
        assigneeId: USER_ID,
        assigneeName: 'Ana',
        toBot: false,
        conversation: { status: 'open', owner: 'human', ownerName: 'Ana' },
      },
    ],
    [
      '4.16: the bot owner is cleared, nobody assigned',
      ownerChangedPayload(null, { kind: 'agent_bot' }),
      { assigneeId: null, toBot: false, conversation: { owner: 'none' } },
    ],
  ])('conversation_updated, %s', (_name, payload, signal) => {
    expect(decide({ ...payload, account_id: 1 })).toMatchObject({
      kind: 'notify',
      start: true,
      signal: { type: 'assignee_changed', ...signal },
    });
  });

  it('ignores a conversation_updated that changes no owner', () => {
    expect(event('conversation_updated', { changes: { label_list: [[], ['vip']] } })).toMatchObject(
      {
        kind: 'ignore',
        reason: 'conversation_updated does not concern the bot',
      },
    );
  });

  it('takes the account from the configuration when the payload has none, else ignores', () => {
    const payload = conversationEventPayload('conversation_resolved', { inboxId: 7 });
    const withoutAccount = { ...payload, messages: [] };
    expect(classify(withoutAccount, config)).toMatchObject({
      kind: 'notify',
      target: { accountId: 1 },
    });
    const noDefault = classifierConfig({
      chatwoot: { baseUrl: 'http://chatwoot.test', apiAccessToken: 'token' },
    });
    expect(classify(withoutAccount, noDefault)).toMatchObject({
      kind: 'ignore',
      reason: 'no account id in the payload; set chatwoot.accountId',
    });
  });
});

describe('webhook configuration', () => {
  it('allows only the statuses Chatwoot retries, and a budget below its 5 s', () => {
    const issues = (webhook: Record<string, unknown>) =>
      bridgeConfigSchema
        .safeParse({ ...baseConfig(), webhook })
        .error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    expect(issues({ retryStatus: 503 })).toEqual([
      'webhook.retryStatus: use 500 or 429: the only statuses Chatwoot retries',
    ]);
    expect(issues({ answerBudgetMs: 5_000 })).toEqual([
      "webhook.answerBudgetMs: must stay below Chatwoot's 5 s request timeout",
    ]);
    expect(issues({ retryStatus: 429, answerBudgetMs: 2_000 })).toBeUndefined();
  });
});

function baseConfig() {
  return {
    chatwoot: { baseUrl: 'http://chatwoot.test', apiAccessToken: 'token' },
    agents: [{ id: 'echo', transport: 'ws', url: 'ws://agent.test/echo' }],
  };
}
