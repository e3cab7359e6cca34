import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageCreatedSchema } from '../chatwoot/webhookSchema.js';
import type { RouteConfig } from '../config/schema.js';
import { matchRoute, routingFacts, type RoutingFacts } from '../routing/matchRoute.js';
import { messageCreatedPayload, type MessageOptions } from '../sandbox/chatwootWebhooks.js';
import { startStack, type Stack } from './helpers/stack.js';

const facts = (overrides: Partial<RoutingFacts> = {}): RoutingFacts => ({
  inboxId: 7,
  labels: [],
  conversationAttributes: {},
  contactAttributes: {},
  ...overrides,
});

const factsOf = (options: MessageOptions) =>
  routingFacts(messageCreatedSchema.parse(messageCreatedPayload(options)));

describe('matchRoute', () => {
  const routes: RouteConfig[] = [
    { inboxId: 7, labels: ['vip', 'priority'], agentId: 'vip' },
    { customAttribute: { name: 'plan', value: 'enterprise' }, agentId: 'billing' },
    { teamId: 4, agentId: 'team' },
    { customAttribute: { name: 'tier', value: 2 }, agentId: 'tier2' },
    { inboxId: 7, agentId: 'general' },
    { default: true, agentId: 'fallback' },
  ];
  const agentFor = (f: RoutingFacts, list = routes) => matchRoute(list, f)?.agentId;

  it('takes the first route whose matchers all hold', () => {
    expect(agentFor(facts({ labels: ['priority'] }))).toBe('vip');
    // Both the label route and the inbox route match: the earlier one wins.
    expect(
      agentFor(facts({ labels: ['vip'], conversationAttributes: { plan: 'enterprise' } })),
    ).toBe('vip');
    expect(agentFor(facts())).toBe('general');
  });

  it('needs every matcher of a route: a label on another inbox does not reach the label route', () => {
    expect(agentFor(facts({ inboxId: 8, labels: ['vip'] }))).toBe('fallback');
  });

  it('compares labels case-insensitively', () => {
    expect(agentFor(facts({ labels: ['VIP'] }))).toBe('vip');
  });

  it('matches a custom attribute on the conversation or on the contact, compared as text', () => {
    expect(agentFor(facts({ inboxId: 8, conversationAttributes: { plan: 'enterprise' } }))).toBe(
      'billing',
    );
    expect(agentFor(facts({ inboxId: 8, contactAttributes: { plan: 'enterprise' } }))).toBe(
      'billing',
    );
    expect(agentFor(facts({ inboxId: 8, contactAttributes: { tier: '2' } }))).toBe('tier2');
    expect(agentFor(facts({ inboxId: 8, contactAttributes: { plan: 'basic' } }))).toBe('fallback');
    expect(agentFor(facts({ inboxId: 8, contactAttributes: { plan: ['enterprise'] } }))).toBe(
      'fallback',
    );
  });

  it('matches the assigned team', () => {
    expect(agentFor(facts({ inboxId: 8, teamId: 4 }))).toBe('team');
    expect(agentFor(facts({ inboxId: 8, teamId: 5 }))).toBe('fallback');
  });

  it('applies the default route last wherever it stands, and nothing matches without one', () => {
    const defaultFirst: RouteConfig[] = [
      { default: true, agentId: 'fallback' },
      { inboxId: 7, agentId: 'general' },
    ];
    expect(agentFor(facts(), defaultFirst)).toBe('general');
    expect(agentFor(facts({ inboxId: 9 }), defaultFirst)).toBe('fallback');
    expect(agentFor(facts({ inboxId: 9 }), routes.slice(0, -1))).toBeUndefined();
  });

  it('never matches a route without matchers that is not the default', () => {
    expect(agentFor(facts(), [{ agentId: 'nobody' }])).toBeUndefined();
  });
});

describe('routingFacts (from a Chatwoot message_created webhook)', () => {
  it('reads inbox, labels, team and both kinds of custom attributes', () => {
    expect(
      factsOf({
        inboxId: 3,
        labels: ['billing', 'vip'],
        teamId: 4,
        conversationAttributes: { order: 'A-1' },
        contactAttributes: { plan: 'gold' },
      }),
    ).toEqual({
      inboxId: 3,
      labels: ['billing', 'vip'],
      teamId: 4,
      conversationAttributes: { order: 'A-1' },
      contactAttributes: { plan: 'gold' },
    });
  });

  it('gives empty facts for a conversation without labels, team or attributes', () => {
    expect(factsOf({ inboxId: 3 })).toEqual({
      inboxId: 3,
      labels: [],
      conversationAttributes: {},
      contactAttributes: {},
    });
  });

  it('takes contact attributes from conversation.meta.sender when a human wrote', () => {
    const f = factsOf({ sender: 'user', contactAttributes: { plan: 'gold' } });
    expect(f.contactAttributes).toEqual({ plan: 'gold' });
  });

  it('accepts a team_id on the conversation', () => {
    const payload = messageCreatedPayload({});
    (payload.conversation as Record<string, unknown>).team_id = 12;
    expect(routingFacts(messageCreatedSchema.parse(payload)).teamId).toBe(12);
  });

  it('treats malformed routing fields as absent instead of rejecting the message', () => {
    const payload = messageCreatedPayload({ inboxId: 3 });
    Object.assign(payload.conversation as Record<string, unknown>, {
      labels: 'vip',
      custom_attributes: 'gold',
      meta: { team: { id: 'four' }, sender: 42 },
    });
    const parsed = messageCreatedSchema.safeParse(payload);
    if (!parsed.success) throw new Error(`rejected: ${parsed.error.message}`);
    expect(routingFacts(parsed.data)).toEqual({
      inboxId: 3,
      labels: [],
      conversationAttributes: {},
      contactAttributes: {},
    });
  });
});

describe('routing through the whole bridge (real Temporal, mock agents, fake Chatwoot)', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Each agent answers in its own way, so the posted text says which one answered.
    stack = await startStack({
      agents: {
        general: 'echo',
        vip: 'multi?count=1',
        billing: 'multi?count=2',
        fallback: 'multi?count=3',
      },
      routeList: [
        { inboxId: 7, labels: ['vip'], agentId: 'vip' },
        { customAttribute: { name: 'plan', value: 'enterprise' }, agentId: 'billing' },
        { teamId: 4, agentId: 'billing' },
        { inboxId: 7, agentId: 'general' },
        { default: true, agentId: 'fallback' },
      ],
    });
  });
  afterAll(() => stack?.stop());

  async function repliesFor(conversationId: number, options: MessageOptions): Promise<string[]> {
    const { json } = await stack.sendMessage({ conversationId, content: 'hi', ...options });
    expect(json.result).toBe('accepted');
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    return stack.chatwoot.messages(stack.accountId, conversationId).map((m) => m.content);
  }

  it('sends a conversation labelled "vip" to the vip agent', async () => {
    expect(await repliesFor(301, { labels: ['support', 'vip'] })).toEqual(['reply 1/1: hi']);
  });

  it('sends a conversation custom attribute match to the billing agent', async () => {
    expect(await repliesFor(302, { conversationAttributes: { plan: 'enterprise' } })).toEqual([
      'reply 1/2: hi',
      'reply 2/2: hi',
    ]);
  });

  it('sends a contact custom attribute match to the billing agent', async () => {
    expect(
      await repliesFor(303, { inboxId: 8, contactAttributes: { plan: 'enterprise' } }),
    ).toEqual(['reply 1/2: hi', 'reply 2/2: hi']);
  });

  it('sends a conversation assigned to team 4 to the billing agent', async () => {
    expect(await repliesFor(304, { inboxId: 8, teamId: 4 })).toEqual([
      'reply 1/2: hi',
      'reply 2/2: hi',
    ]);
  });

  it('sends an unlabelled conversation on inbox 7 to the general agent', async () => {
    expect(await repliesFor(305, { labels: ['support'] })).toEqual(['echo: hi']);
  });

  it('sends what no other route matched to the default agent', async () => {
    expect(await repliesFor(306, { inboxId: 99, labels: ['vip'] })).toEqual([
      'reply 1/3: hi',
      'reply 2/3: hi',
      'reply 3/3: hi',
    ]);
    expect(stack.chatwoot.violations).toEqual([]);
  });
});

describe('routing without a default route', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { vip: 'echo' },
      routeList: [{ labels: ['vip'], agentId: 'vip' }],
      worker: false,
    });
  });
  afterAll(() => stack?.stop());

  it('ignores a message no route matches, saying so', async () => {
    const { response, json } = await stack.sendMessage({ conversationId: 311, labels: ['other'] });
    expect(response.statusCode).toBe(200);
    expect(json).toMatchObject({ result: 'ignored' });
    expect(json.reason).toMatch(/inbox 7 is not routed to an agent \(no route matches\)/);
  });
});
