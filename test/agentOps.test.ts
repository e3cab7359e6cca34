import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus, AgentStatusReport } from '../api/agentStatus.js';
import { buildApp } from '../api/app.js';
import type { ProbeResult } from '../agents/probe.js';
import { parseConfig } from '../config/load.js';
import { startStack, type Stack } from './helpers/stack.js';

const OPERATOR_KEY = 'operator-key-for-tests-0123456789';
const auth = { authorization: `Bearer ${OPERATOR_KEY}` };

describe('operator key', () => {
  const config = parseConfig({
    chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: 'x' },
    agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:1' }],
    api: { operatorKeys: [OPERATOR_KEY, 'second-operator-key-0123456789'] },
  });
  // No Temporal needed to check who may ask.
  const app = buildApp({
    config,
    logger: false,
    startDelivery: () => Promise.reject(new Error('not used')),
  });
  afterAll(() => app.close());

  const endpoints = [
    ['GET', '/agents/status'],
    ['GET', '/api/v1/agents/test/echo'],
    ['POST', '/api/v1/agents/reload'],
  ] as const;

  it.each(endpoints)(
    '%s %s answers 401 without a key, asking for a bearer token',
    async (method, url) => {
      const response = await app.inject({ method, url });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(response.json()).toMatchObject({ error: 'unauthorized' });
    },
  );

  it.each(endpoints)('%s %s answers 401 to a wrong key', async (method, url) => {
    for (const authorization of [
      `Bearer ${OPERATOR_KEY}x`,
      'Bearer wrong',
      OPERATOR_KEY,
      `Basic ${OPERATOR_KEY}`,
    ]) {
      const response = await app.inject({ method, url, headers: { authorization } });
      expect(response.statusCode).toBe(401);
    }
  });

  it('lets any configured key through', async () => {
    for (const key of config.api.operatorKeys) {
      const response = await app.inject({
        method: 'GET',
        url: '/agents/status',
        headers: { authorization: `Bearer ${key}` },
      });
      // Past the key check: this app has no Temporal client to read the status from.
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ error: 'status_unavailable' });
    }
  });

  it('switches the endpoints off (403) when no key is configured', async () => {
    const closed = buildApp({
      config: { ...config, api: { ...config.api, operatorKeys: [] } },
      logger: false,
      startDelivery: () => Promise.reject(new Error('not used')),
    });
    for (const [method, url] of endpoints) {
      const response = await closed.inject({ method, url, headers: auth });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({
        error: 'operator_api_disabled',
        message: expect.stringContaining('api.operatorKeys'),
      });
    }
    await closed.close();
  });
});

describe('GET /agents/status (real Temporal visibility)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { echo: 'echo', spare: 'echo' },
      routes: { 7: 'echo' },
      api: { operatorKeys: [OPERATOR_KEY] },
      delivery: { agentRetryWindowMs: 600, agentRetryMaxIntervalMs: 200 },
    });
  });
  afterAll(() => stack?.stop());

  async function status(): Promise<AgentStatusReport> {
    const response = await stack.app.inject({
      method: 'GET',
      url: '/agents/status',
      headers: auth,
    });
    expect(response.statusCode).toBe(200);
    return response.json<AgentStatusReport>();
  }

  /** Visibility is eventually consistent: ask until the finished deliveries show up. */
  async function statusOnce(agentId: string, deliveries: number): Promise<AgentStatus> {
    for (let tries = 0; ; tries += 1) {
      const found = (await status()).agents.find((agent) => agent.id === agentId);
      if ((found && found.recent.deliveries >= deliveries) || tries >= 100) {
        expect(found).toBeDefined();
        return found as AgentStatus;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('reports the last success and failure, consecutive failures and latency', async () => {
    const ok = await stack.sendMessage({ conversationId: 401, content: 'first' });
    expect((await stack.result(ok.json.workflowId as string)).outcome).toBe('delivered');

    await stack.agentServer.setAvailable(false);
    const down = await stack.sendMessage({ conversationId: 402, content: 'second' });
    expect((await stack.result(down.json.workflowId as string)).outcome).toBe('handed_off');
    await stack.agentServer.setAvailable(true);

    const echo = await statusOnce('echo', 2);
    expect(echo).toMatchObject({
      id: 'echo',
      transport: 'ws',
      state: 'failing',
      consecutiveFailures: 1,
      lastSuccess: { workflowId: ok.json.workflowId, detail: 'final' },
      lastFailure: {
        workflowId: down.json.workflowId,
        detail: expect.stringMatching(/^agent unavailable for .*ECONNREFUSED/),
      },
      recent: { deliveries: 2, answered: 1, notAnswered: 1 },
      latency: { samples: 1 },
      inFlight: 0,
      retrying: 0,
    });
    expect(echo.recent.failedAttempts).toBeGreaterThan(0);
    expect(echo.latency.firstReplyMsP50).toEqual(expect.any(Number));
    expect(echo.latency.deliveryMsP50).toEqual(expect.any(Number));
    expect(Date.parse(echo.lastFailure?.at ?? '')).toBeGreaterThanOrEqual(
      Date.parse(echo.lastSuccess?.at ?? ''),
    );

    // An agent nothing was sent to is idle, not failing.
    const spare = (await status()).agents.find((agent) => agent.id === 'spare');
    expect(spare).toMatchObject({
      state: 'idle',
      lastSuccess: null,
      lastFailure: null,
      consecutiveFailures: 0,
      latency: { samples: 0, firstReplyMsP50: null },
    });

    // The next answered message ends the failure streak.
    const again = await stack.sendMessage({ conversationId: 403, content: 'third' });
    await stack.result(again.json.workflowId as string);
    const recovered = await statusOnce('echo', 3);
    expect(recovered).toMatchObject({
      state: 'ok',
      consecutiveFailures: 0,
      lastSuccess: { workflowId: again.json.workflowId },
      lastFailure: { workflowId: down.json.workflowId },
    });
  });
});

describe('GET /api/v1/agents/test/:agentId (probe)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: {
        echo: 'echo',
        multi: 'multi?count=2&delayMs=10',
        broken: 'error?code=overloaded&retryable=false',
      },
      routes: { 7: 'echo' },
      api: { operatorKeys: [OPERATOR_KEY] },
      worker: false,
    });
  });
  afterAll(() => stack?.stop());

  const probe = (agentId: string, query = '', method: 'GET' | 'POST' = 'GET') =>
    stack.app.inject({ method, url: `/api/v1/agents/test/${agentId}${query}`, headers: auth });

  it('talks to the agent over its real transport and returns its replies and timings', async () => {
    const response = await probe('multi', '?content=hello');
    expect(response.statusCode).toBe(200);
    const result = response.json<ProbeResult>();
    expect(result).toMatchObject({
      agentId: 'multi',
      transport: 'ws',
      outcome: 'completed',
      endReason: 'final',
    });
    expect(result.replies.map((reply) => [reply.index, reply.content, reply.final])).toEqual([
      [0, 'reply 1/2: hello', false],
      [1, 'reply 2/2: hello', true],
    ]);
    const { connectMs, firstReplyMs, totalMs } = result.timings;
    expect(connectMs).toEqual(expect.any(Number));
    expect(firstReplyMs).toBeGreaterThanOrEqual(connectMs as number);
    expect(totalMs).toBeGreaterThanOrEqual(firstReplyMs as number);

    // The agent got a probe turn, recognisable as such.
    const request = stack.agentServer.requests.at(-1);
    expect(request).toMatchObject({ content: 'hello', conversation_id: '0', message_id: '0' });
    expect(request?.session_id).toMatch(/^probe:/);
  });

  it('posts nothing to Chatwoot', async () => {
    const before = stack.chatwoot.calls.length;
    expect((await probe('echo')).statusCode).toBe(200);
    expect((await probe('echo', '', 'POST')).json()).toMatchObject({
      replies: [{ content: 'echo: ping' }],
    });
    expect(stack.chatwoot.calls.length).toBe(before);
    expect(stack.chatwoot.allMessages()).toEqual([]);
  });

  it('answers 502 with the reason when the agent fails', async () => {
    const response = await probe('broken');
    expect(response.statusCode).toBe(502);
    expect(response.json()).toMatchObject({
      outcome: 'failed',
      reason: 'agent_error',
      detail: expect.stringContaining('overloaded'),
      replies: [],
    });
  });

  it('answers 404 for an unknown agent, listing the known ones', async () => {
    const response = await probe('nobody');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      error: 'unknown_agent',
      message: 'no agent "nobody" (known: echo, multi, broken)',
    });
  });
});

describe('POST /api/v1/agents/reload', () => {
  let stack: Stack;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bridge-reload-test-'));
    file = join(dir, 'bridge.json');
    stack = await startStack({
      agents: { echo: 'echo' },
      routes: { 7: 'echo' },
      api: { operatorKeys: [OPERATOR_KEY] },
      configFile: file,
    });
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const reload = () =>
    stack.app.inject({ method: 'POST', url: '/api/v1/agents/reload', headers: auth });

  /** The running configuration plus an agent `multi` and a route for inbox 9 to it. */
  const withInbox9 = () => ({
    ...stack.config,
    agents: [
      ...stack.config.agents,
      { id: 'multi', transport: 'ws', url: stack.agentServer.url('multi?count=2') },
    ],
    routes: [...stack.config.routes, { inboxId: 9, agentId: 'multi' }],
  });

  it('puts a valid file in force: a new agent and route take effect for new messages', async () => {
    const before = await stack.sendMessage({ conversationId: 501, inboxId: 9 });
    expect(before.json).toMatchObject({ result: 'ignored' });

    writeFileSync(file, JSON.stringify(withInbox9()));
    const response = await reload();
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      result: 'reloaded',
      agents: ['echo', 'multi'],
      routes: 2,
      restartRequired: [],
    });

    const after = await stack.sendMessage({ conversationId: 502, inboxId: 9, content: 'new' });
    expect(after.json.result).toBe('accepted');
    expect((await stack.result(after.json.workflowId as string)).outcome).toBe('delivered');
    expect(stack.chatwoot.messages(stack.accountId, 502).map((m) => m.content)).toEqual([
      'reply 1/2: new',
      'reply 2/2: new',
    ]);
  });

  it('refuses an invalid file with 400 and keeps the configuration in force', async () => {
    writeFileSync(
      file,
      JSON.stringify({ ...withInbox9(), routes: [{ inboxId: 9, agentId: 'nobody' }] }),
    );
    const response = await reload();
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      error: 'invalid_config',
      message: expect.stringContaining('routes.0.agentId: no agent with id "nobody"'),
    });

    writeFileSync(file, '{ "agents": [');
    const broken = await reload();
    expect(broken.statusCode).toBe(400);
    expect(broken.json<{ message: string }>().message).toContain('is not valid JSON');

    // Still the routes of the last good reload.
    const still = await stack.sendMessage({ conversationId: 503, inboxId: 9, content: 'kept' });
    await stack.result(still.json.workflowId as string);
    expect(stack.chatwoot.messages(stack.accountId, 503).map((m) => m.content)).toEqual([
      'reply 1/2: kept',
      'reply 2/2: kept',
    ]);
  });

  it('keeps settings that need a restart, and says which', async () => {
    const port = stack.live.current().http.port;
    writeFileSync(file, JSON.stringify({ ...withInbox9(), http: { port: port + 1 } }));
    const response = await reload();
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ restartRequired: ['http.port'] });
    expect(stack.live.current().http.port).toBe(port);
  });
});
