import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aiwmTokens } from '../agents/aiwm/token.js';
import { startMockAiwm, type MockAiwm } from '../sandbox/mockAiwm.js';
import { parsePrometheus, sampleValue } from './helpers/prometheus.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * Issue 11's worst finding: all customers of one AIWM agent share its one AIWM conversation, so
 * a part of customer A's answer that comes after A's turn ended must never be posted to the
 * customer whose turn is running then. The mock agent answers in two parts, 2 s apart, longer
 * than `settleMs`, and goes on answering after the asking socket left, as a real agent does.
 */
describe('AIWM answers never cross customers', () => {
  let aiwm: MockAiwm;
  let stack: Stack;
  const inbox = { ordering: 31, turnId: 32, conversation: 33, elsewhere: 34 };
  const STRAYS = 'chatwoot_bridge_aiwm_stray_messages_total';

  const agent = (id: string, aiwmAgentId: string, overrides: Record<string, unknown>) => ({
    id,
    transport: 'socketio',
    apiBase: aiwm.apiBase,
    url: aiwm.url,
    agentId: aiwmAgentId,
    secret: aiwm.secret,
    connectTimeoutMs: 1_000,
    replyTimeoutMs: 3_000,
    totalTimeoutMs: 15_000,
    settleMs: 1_000,
    ackTimeoutMs: 1_000,
    ...overrides,
  });

  beforeAll(async () => {
    aiwm = await startMockAiwm({
      agents: {
        ordering: 'twoPart?gapMs=2000',
        turnid: 'twoPart?gapMs=2000&echoTurnId=true',
        rooms: 'twoPart?gapMs=2000',
        elsewhere: 'echo?answerInOwn=true',
      },
    });
    stack = await startStack({
      agentConfigs: [
        // Nothing to correlate by but order: the lease is held until the agent has been quiet.
        agent('ordering', 'ordering', { releaseQuietMs: 2_500 }),
        // The agent echoes the turn id: no hold needed, a late part is known by its id.
        agent('turnid', 'turnid', { correlation: 'turnId', releaseQuietMs: 0 }),
        // One AIWM conversation per Chatwoot conversation.
        agent('rooms', 'rooms', { correlation: 'conversation' }),
        agent('elsewhere', 'elsewhere', { correlation: 'conversation', replyTimeoutMs: 500 }),
      ],
      routes: {
        [inbox.elsewhere]: 'elsewhere',
        [inbox.ordering]: 'ordering',
        [inbox.turnId]: 'turnid',
        [inbox.conversation]: 'rooms',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await aiwm?.close();
    aiwmTokens.clear();
  });

  const contents = (conversationId: number) =>
    stack.chatwoot.messages(stack.accountId, conversationId).map((m) => m.content);
  const strays = async (labels: Record<string, string>) =>
    sampleValue(
      parsePrometheus(await stack.bridgeWorker!.metrics.registry.metrics()),
      STRAYS,
      labels,
    );

  /** A asks; once A's first part is posted, B asks while A's answer is still coming. */
  async function twoCustomers(inboxId: number, a: number, b: number) {
    const first = await stack.sendMessage({ conversationId: a, inboxId, content: `A${a}` });
    await stack.chatwoot.waitFor(() => contents(a).length > 0, { description: "A's first part" });
    const second = await stack.sendMessage({ conversationId: b, inboxId, content: `B${b}` });
    const reports = await Promise.all([
      stack.result(first.json.workflowId as string),
      stack.result(second.json.workflowId as string),
    ]);
    expect(reports.map((report) => report.outcome)).toEqual(['delivered', 'delivered']);
    // Past the moment A's second part came (2 s after A's first), and B's.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    return { a: contents(a), b: contents(b) };
  }

  it("ordering only: A's late part is held back, dropped and counted, never posted to B", async () => {
    const { a, b } = await twoCustomers(inbox.ordering, 601, 602);
    expect(b.filter((text) => text?.includes('A601'))).toEqual([]);
    expect(a.filter((text) => !text?.includes('A601'))).toEqual([]);
    expect(a[0]).toBe('part 1/2 for A601');
    expect(b[0]).toBe('part 1/2 for B602');
    await expect
      .poll(() => strays({ agent: 'ordering', reason: 'after_turn' }))
      .toBeGreaterThanOrEqual(1);
  });

  it("turn id echoed: A's late part, heard in B's turn, is known by its id and dropped", async () => {
    const { a, b } = await twoCustomers(inbox.turnId, 611, 612);
    expect(b.filter((text) => text?.includes('A611'))).toEqual([]);
    expect(a.filter((text) => !text?.includes('A611'))).toEqual([]);
    expect(b[0]).toBe('part 1/2 for B612');
    await expect
      .poll(() => strays({ agent: 'turnid', reason: 'other_turn' }))
      .toBeGreaterThanOrEqual(1);
  });

  it('one AIWM conversation per Chatwoot conversation: each customer hears only its own room', async () => {
    const { a, b } = await twoCustomers(inbox.conversation, 621, 622);
    expect(b.filter((text) => text?.includes('A621'))).toEqual([]);
    expect(a.filter((text) => !text?.includes('A621'))).toEqual([]);
    const rooms = aiwm.received
      .filter((message) => message.agentId === 'rooms')
      .map((message) => message.conversationId);
    expect(rooms).toEqual([`chatwoot-${stack.accountId}-621`, `chatwoot-${stack.accountId}-622`]);
  });

  it('an agent that answers in its own conversation instead: nothing posted, the reason says so', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 623,
      inboxId: inbox.elsewhere,
      content: 'hi',
    });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.reason).toMatch(
      /the agent answered in AIWM conversation "conversation-elsewhere", not in "chatwoot-\d+-623"/,
    );
    expect(contents(623)).not.toContain('echo: hi');
    expect(await strays({ agent: 'elsewhere', reason: 'other_conversation' })).toBeGreaterThan(0);
  });
});

describe('AIWM conversation per Chatwoot conversation, refused by the server', () => {
  let aiwm: MockAiwm;
  let stack: Stack;

  beforeAll(async () => {
    aiwm = await startMockAiwm({
      agents: { rooms: 'echo', elsewhere: 'echo?answerInOwn=true' },
      joinConversations: false,
    });
    stack = await startStack({
      routes: { 7: 'rooms', 8: 'elsewhere' },
      agentConfigs: [
        {
          id: 'elsewhere',
          transport: 'socketio',
          apiBase: aiwm.apiBase,
          url: aiwm.url,
          secret: aiwm.secret,
          correlation: 'conversation',
          connectTimeoutMs: 1_000,
          replyTimeoutMs: 500,
          settleMs: 300,
        },
        {
          id: 'rooms',
          transport: 'socketio',
          apiBase: aiwm.apiBase,
          url: aiwm.url,
          secret: aiwm.secret,
          correlation: 'conversation',
          connectTimeoutMs: 1_000,
          settleMs: 300,
        },
      ],
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await aiwm?.close();
    aiwmTokens.clear();
  });

  it('hands off at once, naming the setting', async () => {
    const { json } = await stack.sendMessage({ conversationId: 631, content: 'hello' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts).toHaveLength(1);
    expect(report.reason).toMatch(/No conversation found/);
    expect(report.reason).toMatch(/correlation: "conversation"/);
  });

  it('an agent that answers in its own conversation instead: nothing posted, the reason says so', async () => {
    // This server lets nobody join, so `elsewhere` is told by its own room: its answers come
    // from conversation-elsewhere, never the joined one.
    const { json } = await stack.sendMessage({ conversationId: 632, inboxId: 8, content: 'hi' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(stack.chatwoot.messages(stack.accountId, 632).map((m) => m.content)).not.toContain(
      'echo: hi',
    );
  });
});
