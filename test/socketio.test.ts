import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { aiwmEndpoints } from '../agents/aiwm/protocol.js';
import { aiwmTokens } from '../agents/aiwm/token.js';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { ConfigError, parseConfig } from '../config/load.js';
import { socketioAgentSchema } from '../config/schema.js';
import { startMockAiwm, type MockAiwm } from '../sandbox/mockAiwm.js';
import { untilDeliveryAttempt } from './helpers/deliveryState.js';
import { startStack, type Stack } from './helpers/stack.js';
import { workerProcesses } from './helpers/workerProcess.js';
import { agentTaskQueue } from '../workflows/shared.js';
import { temporalTurnLock } from '../agents/temporalTurnLock.js';
import { leaseKey } from '../agents/aiwm/exchange.js';
import { agentLeaseWorkflowId, leaseStateQuery } from '../workflows/agentLease.js';
import { killMidAnswer } from './helpers/killMidAnswer.js';

const OPERATOR_KEY = 'operator-key-for-socketio-tests';

/** One bridge agent per AIWM agent of the mock; the bridge id differs from AIWM's on purpose. */
function socketioAgent(
  aiwm: MockAiwm,
  aiwmAgentId: string,
  overrides: Record<string, unknown> = {},
) {
  return {
    id: `aiwm-${aiwmAgentId}`,
    transport: 'socketio',
    apiBase: aiwm.apiBase,
    url: aiwm.url,
    agentId: aiwmAgentId,
    secret: aiwm.secret,
    connectTimeoutMs: 1_000,
    replyTimeoutMs: 3_000,
    totalTimeoutMs: 10_000,
    settleMs: 300,
    ackTimeoutMs: 1_000,
    // Short, so turns do not queue for the default 5 s (test/aiwmCorrelation.test.ts covers it).
    releaseQuietMs: 200,
    ...overrides,
  };
}

const refusedHandshakes = (aiwm: MockAiwm, agentId: string) =>
  aiwm.handshakes.filter((h) => h.agentId === agentId && !h.accepted);

describe('Socket.IO (AIWM) agents through the durable delivery', () => {
  let aiwm: MockAiwm;
  let stack: Stack;
  const inbox = {
    echo: 7,
    multi: 8,
    error: 9,
    silent: 10,
    noack: 11,
    typing: 12,
    thinking: 13,
    fresh: 14,
    badsecret: 15,
    drop: 16,
    revoked: 17,
    busy: 18,
    quiet: 19,
  };

  beforeAll(async () => {
    aiwm = await startMockAiwm({
      agents: {
        echo: 'echo',
        multi: 'multi?count=3&delayMs=30',
        error: 'error?reason=Validation failed: content is required',
        silent: 'silent',
        noack: 'noack',
        typing: 'typing?delayMs=100',
        thinking: 'thinking',
        quiet: 'thinking',
        fresh: 'echo',
        badsecret: 'echo',
        drop: 'drop?after=1&count=3',
        revoked: 'echo',
        busy: 'slow?delayMs=300',
      },
    });
    aiwm.setExpiresIn('fresh', 2);
    stack = await startStack({
      agentConfigs: [
        // The bridge id is the AIWM agent id here: `agentId` defaults to it.
        { ...socketioAgent(aiwm, 'echo'), id: 'echo', agentId: undefined },
        socketioAgent(aiwm, 'multi'),
        socketioAgent(aiwm, 'error'),
        socketioAgent(aiwm, 'silent', { replyTimeoutMs: 500 }),
        socketioAgent(aiwm, 'noack', { ackTimeoutMs: 300 }),
        socketioAgent(aiwm, 'typing'),
        socketioAgent(aiwm, 'thinking', { showThinking: true }),
        socketioAgent(aiwm, 'quiet', { showThinking: false }),
        socketioAgent(aiwm, 'fresh', { tokenRefreshMarginMs: 1_000 }),
        socketioAgent(aiwm, 'badsecret', { secret: 'not-the-secret' }),
        socketioAgent(aiwm, 'drop'),
        socketioAgent(aiwm, 'revoked'),
        socketioAgent(aiwm, 'busy'),
      ],
      routes: Object.fromEntries(
        Object.entries(inbox).map(([name, id]) => [id, name === 'echo' ? 'echo' : `aiwm-${name}`]),
      ),
      api: { operatorKeys: [OPERATOR_KEY] },
    });
  });
  afterEach(() => aiwm.setAvailable(true));
  afterAll(async () => {
    await stack?.stop();
    await aiwm?.close();
    aiwmTokens.clear();
  });

  it('happy path: the customer turn goes out as message:send, the answer is posted', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 501,
      content: 'Where is my order?',
    });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts).toEqual([{ attempt: 1, outcome: 'completed', detail: 'idle_timeout' }]);
    const messages = stack.chatwoot.messages(stack.accountId, 501);
    expect(messages.map((m) => m.content)).toEqual(['echo: Where is my order?']);
    // The marker in content_attributes, none in source_id: Chatwoot's channels send the reply.
    expect(messages[0]).toMatchObject({
      private: false,
      source_id: null,
      content_attributes: { [MARKER_ATTRIBUTE]: bridgeSourceId(workflowId, 0) },
    });
    expect(aiwm.received.filter((m) => m.agentId === 'echo')).toEqual([
      expect.objectContaining({
        role: 'user',
        content: 'Where is my order?',
        conversationId: 'conversation-echo',
      }),
    ]);
    expect(stack.chatwoot.typing(stack.accountId, 501)).toEqual(['on', 'off']);
    expect(stack.chatwoot.violations).toEqual([]);
    await stack.chatwoot.waitFor(() => aiwm.openSockets === 0, { description: 'socket closed' });
  });

  it('several assistant messages: each posted once, in order', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 502,
      inboxId: inbox.multi,
      content: 'hi',
    });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.replies.map((r) => [r.index, r.status])).toEqual([
      [0, 'posted'],
      [1, 'posted'],
      [2, 'posted'],
    ]);
    expect(stack.chatwoot.messages(stack.accountId, 502).map((m) => m.content)).toEqual([
      'reply 1/3: hi',
      'reply 2/3: hi',
      'reply 3/3: hi',
    ]);
  });

  it('message:error: hands off at once with the server reason', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 503,
      inboxId: inbox.error,
      content: 'x',
    });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts).toHaveLength(1);
    expect(report.reason).toMatch(/message:error: Validation failed: content is required/);
    expect(
      stack.chatwoot.messages(stack.accountId, 503).map((m) => [m.private, m.content]),
    ).toEqual([
      [false, stack.config.delivery.fallbackMessage],
      [true, expect.stringContaining('Validation failed')],
    ]);
    expect(stack.chatwoot.statusChanges(stack.accountId, 503)).toEqual(['open']);
  });

  it('AIWM unreachable, back inside the retry window: delivered', async () => {
    await aiwm.setAvailable(false);
    const { json } = await stack.sendMessage({ conversationId: 504, content: 'anyone there?' });
    // Back only once the first attempt has failed, however late it started.
    await untilDeliveryAttempt(stack.temporal, json.workflowId as string, 2);
    await aiwm.setAvailable(true);
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts.length).toBeGreaterThan(1);
    expect(report.attempts[0]).toMatchObject({
      outcome: 'failed',
      detail: expect.stringMatching(/ECONNREFUSED/),
    });
    expect(stack.chatwoot.messages(stack.accountId, 504).map((m) => m.content)).toEqual([
      'echo: anyone there?',
    ]);
  });

  it('no answer: reply timeout on every attempt, then hand-off', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 505,
      inboxId: inbox.silent,
      content: 'hello?',
    });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts.length).toBeGreaterThan(1);
    for (const attempt of report.attempts) {
      expect(attempt).toMatchObject({
        outcome: 'failed',
        detail: expect.stringContaining('no assistant message within 500 ms'),
      });
    }
    expect(report.reason).toMatch(/agent unavailable/);
    expect(stack.chatwoot.messages(stack.accountId, 505).map((m) => m.private)).toEqual([
      false,
      true,
    ]);
  });

  it('no message:sent acknowledgement: the attempt fails and is retried', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 506,
      inboxId: inbox.noack,
      content: 'ack?',
    });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts.length).toBeGreaterThan(1);
    expect(report.attempts[0]?.detail).toMatch(/no message:sent acknowledgement within 300 ms/);
  });

  it('user:typing from the agent drives the Chatwoot typing indicator', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 507,
      inboxId: inbox.typing,
      content: 'type',
    });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    // The exchange's own on (the agent has the message), the agent's relayed off; a repeat of
    // the state already shown is not sent again.
    expect(stack.chatwoot.typing(stack.accountId, 507)).toEqual(['on', 'off']);
    expect(stack.chatwoot.messages(stack.accountId, 507).map((m) => m.content)).toEqual([
      'echo: type',
    ]);
  });

  it('thinking and tool use become a private note when showThinking; usage and latency reach the report', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 508,
      inboxId: inbox.thinking,
      content: 'order 42',
    });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    const messages = stack.chatwoot.messages(stack.accountId, 508);
    expect(messages.map((m) => [m.private, m.content_attributes[MARKER_ATTRIBUTE]])).toEqual([
      [false, bridgeSourceId(workflowId, 0)],
      [true, bridgeSourceId(workflowId, '0-note')],
    ]);
    expect(messages[0]?.content).toBe('Your order is on its way (order 42).');
    expect(messages[1]?.content).toContain('Let me look the order up first.');
    expect(messages[1]?.content).toContain('The customer asks about an order.');
    expect(messages[1]?.content).toContain('order_lookup({"order":"42"})');
    expect(messages[1]?.content).toContain('{"status":"shipped"}');
    expect(report.replies).toEqual([
      expect.objectContaining({
        index: 0,
        status: 'posted',
        note: 'posted',
        usage: { promptTokens: 450, completionTokens: 120, totalTokens: 570 },
        latencyMs: 2300,
      }),
    ]);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('without showThinking: no note, but usage and latency still reported', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 509,
      inboxId: inbox.quiet,
      content: 'order 43',
    });
    const report = await stack.result(json.workflowId as string);
    expect(
      stack.chatwoot.messages(stack.accountId, 509).map((m) => [m.private, m.content]),
    ).toEqual([[false, 'Your order is on its way (order 43).']]);
    expect(report.replies[0]).toMatchObject({ usage: { totalTokens: 570 }, latencyMs: 2300 });
    expect(report.replies[0]).not.toHaveProperty('note');
  });

  it('a token is refreshed before it expires: two messages across the expiry both delivered', async () => {
    const first = await stack.sendMessage({
      conversationId: 510,
      inboxId: inbox.fresh,
      content: 'one',
    });
    expect((await stack.result(first.json.workflowId as string)).outcome).toBe('delivered');
    const firstToken = aiwm.tokens.find((t) => t.agentId === 'fresh');
    expect(firstToken).toBeDefined();
    // Past the first token's expiry (2 s); the worker refreshed on its own meanwhile.
    await stack.chatwoot.waitFor(() => Date.now() > (firstToken?.expiresAt ?? 0) + 100, {
      timeoutMs: 5_000,
      description: 'first token expired',
    });
    expect(aiwm.tokensIssuedFor('fresh')).toBeGreaterThanOrEqual(2);

    const second = await stack.sendMessage({
      conversationId: 510,
      inboxId: inbox.fresh,
      content: 'two',
    });
    expect((await stack.result(second.json.workflowId as string)).outcome).toBe('delivered');
    expect(stack.chatwoot.messages(stack.accountId, 510).map((m) => m.content)).toEqual([
      'echo: one',
      'echo: two',
    ]);
    const used = aiwm.handshakes.filter((h) => h.agentId === 'fresh' && h.accepted);
    expect(used).toHaveLength(2);
    expect(used[1]?.token).not.toBe(firstToken?.token);
    // Never refused: the new token was there before the old one expired.
    expect(refusedHandshakes(aiwm, 'fresh')).toEqual([]);
  });

  it('a token the server refuses: one new token, one reconnect, delivered in the same attempt', async () => {
    const first = await stack.sendMessage({
      conversationId: 511,
      inboxId: inbox.revoked,
      content: 'a',
    });
    expect((await stack.result(first.json.workflowId as string)).outcome).toBe('delivered');
    expect(aiwm.tokensIssuedFor('revoked')).toBe(1);

    aiwm.revokeTokens('revoked');
    const second = await stack.sendMessage({
      conversationId: 511,
      inboxId: inbox.revoked,
      content: 'b',
    });
    const report = await stack.result(second.json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts).toHaveLength(1);
    expect(aiwm.tokensIssuedFor('revoked')).toBe(2);
    expect(refusedHandshakes(aiwm, 'revoked').map((h) => h.reason)).toEqual(['Invalid token']);
    expect(stack.chatwoot.messages(stack.accountId, 511).map((m) => m.content)).toEqual([
      'echo: a',
      'echo: b',
    ]);
  });

  it('a wrong secret fails clearly, hands off once, and asks for a token once', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 512,
      inboxId: inbox.badsecret,
      content: 'hello',
    });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('handed_off');
    expect(report.attempts).toHaveLength(1);
    expect(report.reason).toMatch(/AIWM refused the secret of agent "badsecret" \(HTTP 401/);
    expect(
      stack.chatwoot.messages(stack.accountId, 512).map((m) => [m.private, m.content]),
    ).toEqual([
      [false, stack.config.delivery.fallbackMessage],
      [true, expect.stringContaining('check the agent\'s "secret"')],
    ]);
    // Nothing keeps asking in the background either.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(aiwm.tokenRequestsFor('badsecret')).toBe(1);
    expect(aiwm.handshakes.filter((h) => h.agentId === 'badsecret')).toEqual([]);
  });

  it('the server drops the socket mid-answer: the retry completes it, no reply twice', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 513,
      inboxId: inbox.drop,
      content: 'drop',
    });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(report.attempts[0]?.detail).toMatch(/io server disconnect/);
    expect(stack.chatwoot.messages(stack.accountId, 513).map((m) => m.content)).toEqual([
      'reply 1/3: drop',
      'reply 2/3: drop',
      'reply 3/3: drop',
    ]);
  });

  it('two conversations at once on one AIWM agent: each gets only its own answer', async () => {
    const [a, b] = await Promise.all([
      stack.sendMessage({ conversationId: 514, inboxId: inbox.busy, content: 'for A' }),
      stack.sendMessage({ conversationId: 515, inboxId: inbox.busy, content: 'for B' }),
    ]);
    const reports = await Promise.all([
      stack.result(a.json.workflowId as string),
      stack.result(b.json.workflowId as string),
    ]);
    expect(reports.map((r) => r.outcome)).toEqual(['delivered', 'delivered']);
    expect(stack.chatwoot.messages(stack.accountId, 514).map((m) => m.content)).toEqual([
      'echo: for A',
    ]);
    expect(stack.chatwoot.messages(stack.accountId, 515).map((m) => m.content)).toEqual([
      'echo: for B',
    ]);
  });

  it('an operator probe waits its turn behind a delivery, so its answer reaches no customer', async () => {
    const key = leaseKey('busy', aiwm.url);
    const leaseId = agentLeaseWorkflowId(stack.config.temporal.taskQueue, key);
    const delivery = await temporalTurnLock({
      client: stack.temporal,
      taskQueue: stack.config.temporal.taskQueue,
      holderId: 'a-delivery',
      token: 'a-delivery#1',
      warn: () => undefined,
    }).acquire({ key, waitMs: 5_000, leaseMs: 30_000 });
    if (typeof delivery === 'string') throw new Error(`lease not granted: ${delivery}`);

    const probe = stack.app.inject({
      method: 'GET',
      url: '/api/v1/agents/test/aiwm-busy?content=probing',
      headers: { authorization: `Bearer ${OPERATOR_KEY}` },
    });
    const lease = stack.temporal.workflow.getHandle(leaseId);
    await expect
      .poll(async () => (await lease.query(leaseStateQuery)).waiting)
      .toEqual([expect.stringMatching(/^probe:/)]);
    // Nothing reached the agent while the delivery held the lease.
    expect(aiwm.received.filter((m) => m.content === 'probing')).toEqual([]);

    await delivery.release();
    const response = await probe;
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ replies: [{ content: 'echo: probing' }] });
    // Released once the agent has been quiet for releaseQuietMs.
    await expect.poll(async () => (await lease.query(leaseStateQuery)).holder).toBeUndefined();
  });
});

describe('Socket.IO (AIWM) agent: worker killed mid-exchange', () => {
  let aiwm: MockAiwm;
  let stack: Stack;
  let workers: ReturnType<typeof workerProcesses>;

  beforeAll(async () => {
    // 4 replies, 600 ms apart, so the kill lands mid-answer.
    aiwm = await startMockAiwm({ agents: { slow: 'multi?count=4&delayMs=600' } });
    stack = await startStack({
      agentConfigs: [socketioAgent(aiwm, 'slow', { settleMs: 1_500 })],
      worker: false,
    });
    workers = workerProcesses(stack.config);
  });
  afterAll(async () => {
    workers?.killAll();
    await stack?.stop();
    await aiwm?.close();
  });

  it('SIGKILL mid-answer, restart: every reply in Chatwoot exactly once', async () => {
    await killMidAnswer(stack, workers, 520);
    // The restarted worker asked again: the agent heard the message twice.
    expect(aiwm.received.map((m) => m.content)).toEqual(['crash', 'crash']);
    expect(stack.chatwoot.typing(stack.accountId, 520).at(-1)).toBe('off');
  }, 90_000);
});

describe('socketio agent configuration', () => {
  const base = {
    chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: 'x' },
    routes: [{ inboxId: 1, agentId: 'support' }],
  };
  const configError = (agent: Record<string, unknown>): string => {
    try {
      parseConfig({ ...base, agents: [{ id: 'support', transport: 'socketio', ...agent }] });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('the configuration was accepted');
  };

  it('names the field to fix', () => {
    expect(configError({ apiBase: 'ftp://x', secret: 's' })).toMatch(/agents\.0\.apiBase/);
    expect(configError({ apiBase: 'https://x' })).toMatch(/agents\.0\.secret/);
    expect(configError({ apiBase: 'https://x', secret: 's', settleMs: 0 })).toMatch(
      /agents\.0\.settleMs/,
    );
    expect(configError({ apiBase: 'https://x', secret: 's', url: 'not a url' })).toMatch(
      /agents\.0\.url/,
    );
    expect(
      configError({
        apiBase: 'https://x',
        secret: 's',
        correlation: 'conversation',
        conversationId: 'c',
      }),
    ).toMatch(/agents\.0\.conversationId: .*correlation "conversation"/);
    expect(
      configError({ apiBase: 'https://x', secret: 's', conversationTemplate: 'fixed' }),
    ).toMatch(/agents\.0\.conversationTemplate: must contain \{conversationId\}/);
  });

  it('defaults the Socket.IO url to apiBase and the AIWM agent id to the bridge id', () => {
    const agent = socketioAgentSchema.parse({
      id: 'support',
      transport: 'socketio',
      apiBase: 'https://api.example.com/dev/aiwm/',
      secret: 's',
    });
    expect(aiwmEndpoints(agent)).toEqual({
      tokenUrl: 'https://api.example.com/dev/aiwm/agents/support/connect',
      socketUrl: 'https://api.example.com/dev/aiwm/',
      agentId: 'support',
    });
    expect(agent).toMatchObject({
      settleMs: 3_000,
      ackTimeoutMs: 5_000,
      tokenRefreshMarginMs: 60_000,
      showThinking: false,
    });
  });

  it('uses the configured url and agent id', () => {
    const agent = socketioAgentSchema.parse({
      id: 'support',
      transport: 'socketio',
      apiBase: 'https://api.example.com/aiwm',
      url: 'wss://ws.example.com/chat',
      agentId: 'agent 7',
      secret: 's',
    });
    expect(aiwmEndpoints(agent)).toEqual({
      tokenUrl: 'https://api.example.com/aiwm/agents/agent%207/connect',
      socketUrl: 'wss://ws.example.com/chat',
      agentId: 'agent 7',
    });
  });
});

describe('Socket.IO (AIWM) agent served by two worker processes', () => {
  let aiwm: MockAiwm;
  let stack: Stack;
  let workers: ReturnType<typeof workerProcesses>;

  beforeAll(async () => {
    aiwm = await startMockAiwm({ agents: { busy: 'slow?delayMs=300' } });
    stack = await startStack({ agentConfigs: [socketioAgent(aiwm, 'busy')], worker: false });
    workers = workerProcesses(stack.config);
    workers.start();
    workers.start();
  });
  afterAll(async () => {
    workers?.killAll();
    await stack?.stop();
    await aiwm?.close();
  });

  it('conversations at once: each gets only its own answer, one turn at a time across processes', async () => {
    await bothWorkersPolling(stack);
    // Which process takes an exchange is up to Temporal's dispatch: a batch may all land on one.
    // Send batches until both processes have talked to the agent (each batch checked in full).
    const identities = new Set<string>();
    for (let batch = 0; batch < 4 && identities.size < 2; batch++) {
      const conversations = Array.from({ length: 10 }, (_, i) => 530 + batch * 10 + i);
      const sent = await Promise.all(
        conversations.map((conversationId) =>
          stack.sendMessage({ conversationId, content: `for ${conversationId}` }),
        ),
      );
      const workflowIds = sent.map(({ json }) => json.workflowId as string);
      const reports = await Promise.all(workflowIds.map((id) => stack.result(id)));
      expect(reports.map((report) => report.outcome)).toEqual(conversations.map(() => 'delivered'));
      for (const conversationId of conversations) {
        expect(
          stack.chatwoot.messages(stack.accountId, conversationId).map((m) => m.content),
        ).toEqual([`echo: for ${conversationId}`]);
      }
      for (const id of workflowIds) {
        for (const identity of await exchangeWorkers(stack, id)) identities.add(identity);
      }
    }
    // Both processes talked to the agent: the lease in Temporal, not a lock in one process, kept
    // their turns apart.
    expect(identities.size).toBe(2);
  }, 120_000);
});

/** Waits until two worker processes poll the agent activity queue. */
async function bothWorkersPolling(stack: Stack): Promise<void> {
  await expect
    .poll(
      async () => {
        const { pollers } = await stack.temporal.workflowService.describeTaskQueue({
          namespace: stack.config.temporal.namespace,
          taskQueue: { name: agentTaskQueue(stack.config.temporal.taskQueue) },
          taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
        });
        return new Set(pollers?.map((poller) => poller.identity)).size;
      },
      { timeout: 30_000 },
    )
    .toBe(2);
}

/** The identities of the workers that ran a delivery's agent exchanges. */
async function exchangeWorkers(stack: Stack, workflowId: string): Promise<string[]> {
  const { events } = await stack.temporal.workflow.getHandle(workflowId).fetchHistory();
  const exchanges = new Set(
    (events ?? [])
      .filter(
        (event) =>
          event.activityTaskScheduledEventAttributes?.activityType?.name === 'agentExchange',
      )
      .map((event) => String(event.eventId)),
  );
  return (events ?? [])
    .map((event) => event.activityTaskStartedEventAttributes)
    .filter((started) => started && exchanges.has(String(started.scheduledEventId)))
    .map((started) => started?.identity ?? '');
}
