import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatwootClient, ChatwootRequestError } from '../chatwoot/client.js';
import { parseConfig, ConfigError } from '../config/load.js';
import { FakeChatwoot } from '../sandbox/fakeChatwoot.js';
import { startMockAiwm, type MockAiwm } from '../sandbox/mockAiwm.js';
import { actionSummary, planAgentActions, type AgentAction } from '../workflows/agentActions.js';
import { pullAgent } from './helpers/pullAgent.js';
import { startStack, type Stack } from './helpers/stack.js';

const USER_TOKEN = 'test-user-token';

/** Every action that changes a conversation's fields (status actions are tested on their own). */
const FIELD_ACTIONS: AgentAction[] = [
  { type: 'add_labels', labels: ['vip', 'refund'] },
  { type: 'remove_labels', labels: ['old'] },
  { type: 'set_priority', priority: 'high' },
  { type: 'set_custom_attributes', attributes: { order_id: '42' } },
  { type: 'assign_team', team_id: 3 },
  { type: 'assign_agent', assignee_id: 12 },
];
const ALL_ACTIONS = [
  'add_labels',
  'remove_labels',
  'set_priority',
  'set_custom_attributes',
  'assign_team',
  'assign_agent',
  'snooze',
  'resolve',
  'open',
];

const actionsParam = (actions: unknown) => `actions=${encodeURIComponent(JSON.stringify(actions))}`;

describe('agent actions: parsing and the allow-list (workflows/agentActions.ts)', () => {
  const plan = (actions: unknown, allowed = ALL_ACTIONS) =>
    planAgentActions({ index: 0, metadata: { actions } }, allowed);

  it('runs well-formed allowed actions in the order given, with readable summaries', () => {
    expect(plan(FIELD_ACTIONS)).toEqual(FIELD_ACTIONS.map((action) => ({ run: action })));
    expect(FIELD_ACTIONS.map(actionSummary)).toEqual([
      'add labels vip, refund',
      'remove labels old',
      'set priority high',
      'set custom attributes order_id',
      'assign team 3',
      'assign agent 12',
    ]);
    expect(actionSummary({ type: 'snooze', until: '2026-12-02T09:00:00Z' })).toBe(
      'snooze until 2026-12-02T09:00:00Z',
    );
  });

  it.each([
    [{ type: 'add_labels', labels: [] }, '"labels" must be a non-empty array'],
    [{ type: 'add_labels', labels: ['ok', ' '] }, '"labels" must be a non-empty array'],
    [{ type: 'set_priority', priority: 'asap' }, '"priority" must be'],
    [{ type: 'set_custom_attributes', attributes: [] }, '"attributes" must be an object'],
    [{ type: 'assign_team', team_id: '3' }, '"team_id" must be a positive integer'],
    [{ type: 'assign_agent', assignee_id: 0 }, '"assignee_id" must be a positive integer'],
    [{ type: 'snooze', until: 'tomorrow' }, '"until" must be an ISO-8601'],
    [{ type: 'snooze', until: '2026-12-02 09:00' }, '"until" must be an ISO-8601'],
    [{ type: 'delete_conversation' }, 'unknown action; use one of add_labels'],
    ['resolve', 'an action is an object'],
  ])('refuses the malformed %j', (action, error) => {
    expect(plan([action])).toEqual([
      {
        report: expect.objectContaining({
          status: 'refused',
          error: expect.stringContaining(error),
        }),
      },
    ]);
  });

  it('refuses what the agent is not allowed to do; nothing is allowed by default', () => {
    expect(plan([{ type: 'resolve' }, { type: 'open' }], ['open'])).toEqual([
      {
        report: {
          replyIndex: 0,
          type: 'resolve',
          status: 'refused',
          summary: 'resolve conversation',
          error: "not in this agent's allowedActions",
        },
      },
      { run: { type: 'open' } },
    ]);
    expect(plan([{ type: 'open' }], [])).toEqual([
      { report: expect.objectContaining({ type: 'open', status: 'refused' }) },
    ]);
    expect(plan('resolve')).toEqual([
      { report: expect.objectContaining({ error: '"actions" must be an array of actions' }) },
    ]);
    expect(planAgentActions({ index: 0, metadata: {} }, ALL_ACTIONS)).toEqual([]);
  });

  it('the configuration takes only known action types, and none by default', () => {
    const base = {
      chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: 'x' },
      agents: [{ id: 'a', transport: 'ws', url: 'ws://127.0.0.1:1' }],
    };
    expect(parseConfig(base).agents[0]?.allowedActions).toEqual([]);
    expect(() =>
      parseConfig({ ...base, agents: [{ ...base.agents[0], allowedActions: ['delete'] }] }),
    ).toThrow(ConfigError);
    expect(() =>
      parseConfig({ ...base, agents: [{ ...base.agents[0], allowedActions: ['delete'] }] }),
    ).toThrow(/use action types from: add_labels/);
  });
});

describe('the fake Chatwoot speaks the action endpoints as Chatwoot does', () => {
  let fake: FakeChatwoot;
  let bot: ChatwootClient;
  let user: ChatwootClient;
  beforeAll(async () => {
    fake = await FakeChatwoot.start();
    const client = (apiAccessToken: string) =>
      new ChatwootClient({ baseUrl: fake.url, apiAccessToken, timeoutMs: 2_000 });
    bot = client('test-token');
    user = client(USER_TOKEN);
  });
  afterAll(() => fake?.close());

  it('POST labels replaces the set, keeping only labels defined in the account', async () => {
    fake.conversationActions.defineLabels(1, ['vip', 'old']);
    expect(await user.replaceLabels(1, 5, ['vip', 'old', 'nope'])).toEqual(['vip', 'old']);
    expect(await user.replaceLabels(1, 5, ['vip'])).toEqual(['vip']);
    expect(await user.listLabels(1, 5)).toEqual(['vip']);
    // Agent-bot tokens may not touch labels (swagger: userApiKey only).
    await expect(bot.listLabels(1, 5)).rejects.toMatchObject({ status: 401 });
    await user.setPriority(1, 5, 'urgent');
    await bot.mergeCustomAttributes(1, 5, { a: 1 });
    await bot.mergeCustomAttributes(1, 5, { b: 2 });
    await bot.assign(1, 5, { team_id: 4 });
    await bot.snooze(1, 5, 1_800_000_000);
    expect(fake.conversationActions.state(1, 5)).toEqual({
      labels: ['vip'],
      priority: 'urgent',
      customAttributes: { a: 1, b: 2 },
      assigneeId: null,
      teamId: 4,
      snoozedUntil: 1_800_000_000,
    });
    expect(fake.status(1, 5)).toBe('snoozed');
    expect(fake.violations).toEqual([]);
  });

  it('throttles like Rack::Attack: 429 "Retry later" above the limit in a window, per account', async () => {
    fake.throttle({ limit: 2, periodMs: 60_000 });
    try {
      await bot.toggleTyping(1, 6, 'on');
      await bot.toggleTyping(1, 6, 'off');
      const third = await bot.toggleTyping(1, 6, 'on').catch((error: unknown) => error);
      expect(third).toBeInstanceOf(ChatwootRequestError);
      expect(third).toMatchObject({ status: 429, retryAfterMs: undefined, retryable: true });
      expect((third as Error).message).toContain('Retry later');
      // Another account has its own counter.
      await bot.toggleTyping(2, 6, 'on');
      expect(fake.calls.filter((call) => call.status === 429)).toHaveLength(1);
    } finally {
      fake.throttle(undefined);
    }
  });
});

describe('agent actions through the delivery', () => {
  let stack: Stack;
  let aiwm: MockAiwm;
  const inbox = { v1: 7, unified: 8, aiwm: 9, pull: 10, limited: 11 } as const;
  const PULL_KEY = 'pull-agent-key-for-actions';

  beforeAll(async () => {
    aiwm = await startMockAiwm({ agents: { actor: `actions?${actionsParam(FIELD_ACTIONS)}` } });
    stack = await startStack({
      agents: {
        v1: `actions?${actionsParam(FIELD_ACTIONS)}`,
        unified: `unified/actions?${actionsParam(FIELD_ACTIONS)}`,
        pull: { transport: 'pull', apiKey: PULL_KEY },
        // May only label: the rest of what it asks for is refused.
        limited: `actions?${actionsParam([{ type: 'add_labels', labels: ['vip'] }, { type: 'resolve' }])}`,
        ghost: `actions?${actionsParam([
          { type: 'add_labels', labels: ['ghost'] },
          { type: 'set_priority', priority: 'low' },
        ])}`,
        later: `actions?count=3&${actionsParam([
          { type: 'resolve' },
          { type: 'add_labels', labels: ['vip'] },
        ])}`,
        status: `actions?${actionsParam([
          { type: 'snooze', until: '2030-01-01T00:00:00Z' },
          { type: 'resolve' },
        ])}`,
      },
      agentConfigs: [
        {
          id: 'aiwm',
          transport: 'socketio',
          apiBase: aiwm.apiBase,
          url: aiwm.url,
          agentId: 'actor',
          secret: aiwm.secret,
          connectTimeoutMs: 1_000,
          replyTimeoutMs: 3_000,
          totalTimeoutMs: 10_000,
          settleMs: 300,
          ackTimeoutMs: 1_000,
          releaseQuietMs: 200,
          allowedActions: ALL_ACTIONS,
        },
      ],
      agentSettings: {
        v1: { allowedActions: ALL_ACTIONS },
        unified: { allowedActions: ALL_ACTIONS },
        pull: { allowedActions: ALL_ACTIONS },
        limited: { allowedActions: ['add_labels'] },
        status: { allowedActions: ALL_ACTIONS },
        ghost: { allowedActions: ALL_ACTIONS },
        later: { allowedActions: ALL_ACTIONS },
      } as never,
      routes: {
        ...Object.fromEntries(Object.entries(inbox).map(([k, v]) => [v, k])),
        12: 'status',
        13: 'ghost',
        14: 'later',
      },
      // Labels need a user's token: agent-bot tokens get 401 there.
      chatwoot: { actionsApiAccessToken: USER_TOKEN },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await aiwm?.close();
  });

  /** Labels the account has, and a label the conversation already carries. */
  const prepare = (conversationId: number) => {
    stack.chatwoot.conversationActions.defineLabels(stack.accountId, [
      'vip',
      'refund',
      'old',
      'keep',
    ]);
    stack.chatwoot.conversationActions.state(stack.accountId, conversationId).labels = [
      'old',
      'keep',
    ];
  };

  const expectFieldActionsDone = async (workflowId: string, conversationId: number) => {
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    expect(report.actions).toEqual(
      FIELD_ACTIONS.map((action) => ({
        replyIndex: 0,
        type: action.type,
        status: 'done',
        summary: actionSummary(action),
      })),
    );
    expect(stack.chatwoot.conversationActions.state(stack.accountId, conversationId)).toEqual({
      labels: ['keep', 'vip', 'refund'],
      priority: 'high',
      customAttributes: { order_id: '42' },
      assigneeId: 12,
      teamId: 3,
      snoozedUntil: null,
    });
    // After the reply: the post comes first, then each action in order.
    const paths = stack.chatwoot.calls
      .filter((call) => call.path.includes(`/conversations/${conversationId}/`))
      .filter((call) => call.method === 'POST' && !call.path.endsWith('toggle_typing_status'))
      .map((call) => call.path.split('/').pop());
    expect(paths).toEqual([
      'messages',
      'labels',
      'labels',
      'toggle_priority',
      'custom_attributes',
      'assignments',
      'assignments',
    ]);
    expect(stack.chatwoot.violations).toEqual([]);
  };

  it.each([
    ['bridge-v1 (ws)', inbox.v1, 601],
    ['unified (ws)', inbox.unified, 602],
    ['AIWM (Socket.IO)', inbox.aiwm, 603],
  ])('%s: the reply is posted, then each action runs and is reported', async (_, inboxId, c) => {
    prepare(c);
    const { json } = await stack.sendMessage({ conversationId: c, inboxId, content: 'refund?' });
    await expectFieldActionsDone(json.workflowId as string, c);
  });

  it('pull: the reply posted to the outbox carries the actions', async () => {
    const c = 604;
    prepare(c);
    const agent = pullAgent(stack.app, 'pull', PULL_KEY);
    const { json } = await stack.sendMessage({
      conversationId: c,
      inboxId: inbox.pull,
      content: 'refund?',
    });
    const [turn] = await agent.pollUntilTurn();
    const posted = await agent.post({
      message_id: turn!.message_id,
      content: 'done: refund?',
      final: true,
      metadata: { actions: FIELD_ACTIONS },
    });
    expect(posted.status).toBe(200);
    await expectFieldActionsDone(json.workflowId as string, c);
  });

  it('an action the agent may not ask for is refused and never reaches Chatwoot', async () => {
    const c = 605;
    prepare(c);
    const { json } = await stack.sendMessage({ conversationId: c, inboxId: inbox.limited });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.actions).toEqual([
      { replyIndex: 0, type: 'add_labels', status: 'done', summary: 'add labels vip' },
      {
        replyIndex: 0,
        type: 'resolve',
        status: 'refused',
        summary: 'resolve conversation',
        error: "not in this agent's allowedActions",
      },
    ]);
    expect(stack.chatwoot.statusChanges(stack.accountId, c)).toEqual([]);
  });

  it('snooze and resolve set the status (snooze with its time in Unix seconds)', async () => {
    const c = 606;
    const { json } = await stack.sendMessage({ conversationId: c, inboxId: 12 });
    const report = await stack.result(json.workflowId as string);
    expect(report.actions?.map((action) => action.status)).toEqual(['done', 'done']);
    expect(stack.chatwoot.statusChanges(stack.accountId, c)).toEqual(['snoozed', 'resolved']);
    const snooze = stack.chatwoot.calls.find(
      (call) => call.path.endsWith(`/conversations/${c}/toggle_status`) && call.method === 'POST',
    );
    expect(snooze?.body).toEqual({ status: 'snoozed', snoozed_until: 1_893_456_000 });
  });

  it("actions that hand the conversation on wait for the turn's last reply; the others do not", async () => {
    // Chatwoot's webhook for a resolve (or a human assignment) ends the running turn in the
    // conversation actor: replies still to come would be cut off.
    const c = 609;
    prepare(c);
    const { json } = await stack.sendMessage({ conversationId: c, inboxId: 14, content: 'bye' });
    const report = await stack.result(json.workflowId as string);
    expect(report.replies.map((reply) => reply.status)).toEqual(['posted', 'posted', 'posted']);
    expect(report.actions).toEqual([
      { replyIndex: 0, type: 'add_labels', status: 'done', summary: 'add labels vip' },
      { replyIndex: 0, type: 'resolve', status: 'done', summary: 'resolve conversation' },
    ]);
    const writes = stack.chatwoot.calls
      .filter((call) => call.path.includes(`/conversations/${c}/`) && call.method === 'POST')
      .map((call) => call.path.split('/').pop())
      .filter((endpoint) => endpoint !== 'toggle_typing_status');
    expect(writes).toEqual(['messages', 'labels', 'messages', 'messages', 'toggle_status']);
    expect(stack.chatwoot.statusChanges(stack.accountId, c)).toEqual(['resolved']);
  });

  it('a label write whose answer was lost is not repeated: the retry finds its labels in place', async () => {
    const c = 607;
    prepare(c);
    stack.chatwoot.injectFault({
      drop: true,
      afterApply: true,
      match: { method: 'POST', pathIncludes: `/conversations/${c}/labels` },
    });
    stack.chatwoot.injectFault({
      status: 500,
      match: { method: 'POST', pathIncludes: `/conversations/${c}/toggle_priority` },
    });
    const { json } = await stack.sendMessage({ conversationId: c, inboxId: inbox.v1 });
    await expectFieldActionsDoneAfterRetries(json.workflowId as string, c);
  });

  const expectFieldActionsDoneAfterRetries = async (workflowId: string, c: number) => {
    const report = await stack.result(workflowId);
    expect(report.actions?.map((action) => action.status)).toEqual(FIELD_ACTIONS.map(() => 'done'));
    expect(stack.chatwoot.conversationActions.state(stack.accountId, c).labels).toEqual([
      'keep',
      'vip',
      'refund',
    ]);
    const labelWrites = stack.chatwoot.calls.filter(
      (call) => call.method === 'POST' && call.path.endsWith(`/conversations/${c}/labels`),
    );
    // add (answer lost), nothing again for add, then remove: two writes in all.
    expect(labelWrites.map((call) => call.body)).toEqual([
      { labels: ['old', 'keep', 'vip', 'refund'] },
      { labels: ['keep', 'vip', 'refund'] },
    ]);
  };

  it('a label the account does not have fails that action (reported); the next one still runs', async () => {
    const c = 608;
    const { json } = await stack.sendMessage({ conversationId: c, inboxId: 13 });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.actions).toEqual([
      {
        replyIndex: 0,
        type: 'add_labels',
        status: 'failed',
        summary: 'add labels ghost',
        error: expect.stringContaining('not defined in the Chatwoot account') as unknown,
      },
      { replyIndex: 0, type: 'set_priority', status: 'done', summary: 'set priority low' },
    ]);
    expect(report.actions?.[0]?.error).toContain('ghost');
    expect(stack.chatwoot.conversationActions.state(stack.accountId, c).priority).toBe('low');
  });
});
