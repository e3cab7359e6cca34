import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../api/app.js';
import { parseConfig } from '../config/load.js';
import { messageCreatedPayload, signWebhook } from '../sandbox/chatwootWebhooks.js';
import { freePort } from '../workers/devServer.js';
import { startMetricsServer, type MetricsServer } from '../workers/metricsServer.js';
import { parsePrometheus, sampleValue, type Sample } from './helpers/prometheus.js';
import { startStack, WEBHOOK_SECRET, type Stack } from './helpers/stack.js';

const P = 'chatwoot_bridge_';
const MESSAGES_ROUTE = '/api/v1/accounts/:id/conversations/:id/messages';

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return parsePrometheus(await response.text());
}

describe('metrics', () => {
  let stack: Stack;
  let workerMetrics: MetricsServer;
  beforeAll(async () => {
    stack = await startStack({
      agents: {
        echo: 'echo',
        multi: 'multi?count=2&delayMs=10',
        broken: 'error?code=boom&retryable=false',
      },
      routes: { 7: 'echo', 8: 'multi', 9: 'broken' },
    });
    const worker = stack.bridgeWorker;
    if (!worker) throw new Error('the stack runs a worker');
    workerMetrics = await startMetricsServer({
      registries: [worker.metrics.registry],
      port: 0,
      host: '127.0.0.1',
      healthy: () => worker.isRunning(),
    });
  });
  afterAll(async () => {
    await workerMetrics?.close();
    await stack?.stop();
  });

  function post(body: string, headers: Record<string, string> = {}) {
    return stack.app.inject({
      method: 'POST',
      url: '/webhook/chatwoot',
      headers: { 'content-type': 'application/json', ...headers },
      payload: body,
    });
  }
  const signed = (body: string) => post(body, signWebhook(body, WEBHOOK_SECRET));

  async function apiSamples(): Promise<Sample[]> {
    const response = await stack.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheus(response.body);
  }

  it('counts webhooks received, accepted, deduplicated, ignored and rejected, by reason', async () => {
    const delivered = await stack.sendMessage({ conversationId: 601, content: 'hello' });
    expect(delivered.json.result).toBe('accepted');
    // Chatwoot's retry: accepted here, dropped by the conversation actor.
    const again = await signed(JSON.stringify(delivered.payload));
    expect(again.json()).toMatchObject({ result: 'accepted' });
    expect((await stack.sendMessage({ conversationId: 602, private: true })).json.result).toBe(
      'ignored',
    );
    expect((await stack.sendMessage({ conversationId: 603, inboxId: 99 })).json.result).toBe(
      'ignored',
    );
    expect((await signed(JSON.stringify({ event: 'conversation_typing_on' }))).statusCode).toBe(
      200,
    );
    expect(
      (await stack.sendMessage({ conversationId: 604 }, { secret: 'wrong' })).response.statusCode,
    ).toBe(401);
    expect((await signed(JSON.stringify({ event: 'message_created' }))).statusCode).toBe(400);
    const huge = JSON.stringify(messageCreatedPayload({ content: 'x'.repeat(1_100_000) }));
    expect((await signed(huge)).statusCode).toBe(413);
    await stack.result(delivered.json.workflowId as string);

    const samples = await apiSamples();
    expect(sampleValue(samples, `${P}webhooks_received_total`)).toBe(8);
    expect(sampleValue(samples, `${P}webhooks_accepted_total`, { agent: 'echo' })).toBe(2);
    const ignored = (reason: string) =>
      sampleValue(samples, `${P}webhooks_ignored_total`, { reason });
    expect(ignored('private note')).toBe(1);
    // Ids never become label values: one series for every unrouted inbox.
    expect(ignored('inbox N is not routed to an agent (no route matches)')).toBe(1);
    expect(ignored('event conversation_typing_on is not handled')).toBe(1);
    // The duplicate is counted where it is recognised: by the worker running the actor.
    await expect
      .poll(async () =>
        sampleValue(
          await scrape(`${workerMetrics.url}/metrics`),
          `${P}messages_deduplicated_total`,
          {
            reason: 'message already received',
          },
        ),
      )
      .toBe(1);
    const rejected = (reason: string) =>
      sampleValue(samples, `${P}webhooks_rejected_total`, { reason });
    expect(rejected('signature mismatch')).toBe(1);
    expect(rejected('invalid payload')).toBe(1);
    expect(rejected('payload too large')).toBe(1);
  });

  it('counts deliveries, agent exchanges, replies and Chatwoot calls on the worker registry', async () => {
    // One 500 from Chatwoot on the first post of conversation 612: retried, and counted.
    stack.chatwoot.injectFault({
      status: 500,
      match: { method: 'POST', pathIncludes: '/conversations/612/messages' },
    });
    const multi = await stack.sendMessage({ conversationId: 612, inboxId: 8, content: 'two' });
    const broken = await stack.sendMessage({ conversationId: 613, inboxId: 9, content: 'fail' });
    expect((await stack.result(multi.json.workflowId as string)).outcome).toBe('delivered');
    expect((await stack.result(broken.json.workflowId as string)).outcome).toBe('handed_off');

    const url = `${workerMetrics.url}/metrics`;
    // The sink runs as the worker completes the workflow task; the client may see the result first.
    await expect
      .poll(async () =>
        sampleValue(await scrape(url), `${P}deliveries_total`, { outcome: 'handed_off' }),
      )
      .toBe(1);
    const samples = await scrape(url);
    const value = (name: string, labels: Record<string, string>) =>
      sampleValue(samples, `${P}${name}`, labels);
    expect(value('deliveries_total', { agent: 'multi', outcome: 'delivered' })).toBe(1);
    expect(value('deliveries_total', { agent: 'broken', outcome: 'handed_off' })).toBe(1);
    expect(value('agent_replies_total', { agent: 'multi' })).toBe(2);
    expect(value('agent_replies_total', { agent: 'broken' })).toBe(0);
    expect(
      value('agent_exchange_duration_seconds_count', { agent: 'multi', outcome: 'completed' }),
    ).toBe(1);
    expect(
      value('agent_exchange_duration_seconds_count', { agent: 'broken', outcome: 'agent_error' }),
    ).toBe(1);
    const posts = (status: string) =>
      value('chatwoot_request_duration_seconds_count', {
        method: 'POST',
        route: MESSAGES_ROUTE,
        status,
      });
    expect(posts('500')).toBe(1);
    // Two replies, then the fallback message and the private note of the handoff.
    expect(posts('200')).toBeGreaterThanOrEqual(4);
    expect(
      value('chatwoot_request_duration_seconds_count', {
        route: '/api/v1/accounts/:id/conversations/:id/toggle_typing_status',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(4);
    expect(
      value('chatwoot_request_duration_seconds_count', {
        route: '/api/v1/accounts/:id/conversations/:id/toggle_status',
        status: '200',
      }),
    ).toBe(1);

    const health = await fetch(`${workerMetrics.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('serves the API and worker registries as one page when they share a process', async () => {
    const worker = stack.bridgeWorker;
    if (!worker) throw new Error('the stack runs a worker');
    const app = buildApp({
      config: stack.config,
      temporal: stack.temporal,
      logger: false,
      extraMetrics: [worker.metrics.registry],
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/metrics' });
      const names = new Set(parsePrometheus(response.body).map((sample) => sample.name));
      expect(names).toContain(`${P}webhooks_received_total`);
      expect(names).toContain(`${P}deliveries_total`);
      expect(names).toContain(`${P}chatwoot_request_duration_seconds_bucket`);
      const helpLines = response.body.split('\n').filter((line) => line.startsWith('# HELP'));
      expect(new Set(helpLines).size).toBe(helpLines.length);
    } finally {
      await app.close();
    }
  });
});

describe('readiness', () => {
  it('is ready while Temporal answers for the namespace', async () => {
    const stack = await startStack({ worker: false });
    try {
      const health = await stack.app.inject({ method: 'GET', url: '/health' });
      expect(health.json()).toEqual({ status: 'ok' });
      const response = await stack.app.inject({ method: 'GET', url: '/ready' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({
        ready: true,
        checks: { config: { ok: true }, temporal: { ok: true } },
      });
    } finally {
      await stack.stop();
    }
  });

  it('answers 503 naming Temporal when its address does not answer', async () => {
    const closedPort = await freePort();
    const connection = Connection.lazy({ address: `127.0.0.1:${closedPort}` });
    const temporal = new Client({ connection });
    const config = parseConfig({
      chatwoot: { baseUrl: 'http://127.0.0.1:9', apiAccessToken: 't' },
      agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:9' }],
      temporal: { address: `127.0.0.1:${closedPort}`, startTimeoutMs: 1_000 },
    });
    const app = buildApp({ config, temporal, logger: false });
    try {
      const response = await app.inject({ method: 'GET', url: '/ready' });
      expect(response.statusCode).toBe(503);
      const body = response.json<{
        ready: boolean;
        failing: string;
        checks: { temporal: { ok: boolean; error: string } };
      }>();
      expect(body).toMatchObject({ ready: false, failing: 'temporal' });
      expect(body.checks.temporal).toMatchObject({ ok: false });
      expect(body.checks.temporal.error).toMatch(/namespace "default" not reachable/);
      // Liveness does not depend on Temporal: the process itself is fine.
      expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await app.close();
      await connection.close();
    }
  });
});

describe('worker process (npm run worker)', () => {
  const workerEntry = fileURLToPath(new URL('../workers/worker.ts', import.meta.url));
  let stack: Stack;
  let child: ChildProcess | undefined;
  const stdout: string[] = [];

  beforeAll(async () => {
    // The first connection drops after one reply: a retry, and a warning logged by the workflow.
    stack = await startStack({
      agents: { flaky: 'drop?after=1&count=2' },
      routes: { 7: 'flaky' },
      worker: false,
    });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await stack?.stop();
  });

  it('logs JSON lines naming the workflow and conversation, and serves its own and the SDK metrics', async () => {
    const [workerPort, temporalSdkPort] = [await freePort(), await freePort()];
    const configPath = join(mkdtempSync(join(tmpdir(), 'bridge-worker-')), 'config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        ...stack.config,
        metrics: { workerPort, temporalSdkPort, host: '127.0.0.1' },
      }),
    );
    const worker = spawn(process.execPath, ['--import', 'tsx', workerEntry], {
      env: {
        ...process.env,
        BRIDGE_CONFIG: configPath,
        WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child = worker;
    let partial = '';
    worker.stdout.setEncoding('utf8');
    worker.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      stdout.push(...lines.filter(Boolean));
    });
    const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));

    const { json } = await stack.sendMessage({ conversationId: 621, content: 'flaky' });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts.length).toBe(2);

    const workerUrl = `http://127.0.0.1:${workerPort}`;
    await expect
      .poll(async () =>
        sampleValue(await scrape(`${workerUrl}/metrics`), `${P}deliveries_total`, {
          agent: 'flaky',
          outcome: 'delivered',
        }),
      )
      .toBe(1);
    const samples = await scrape(`${workerUrl}/metrics`);
    expect(
      sampleValue(samples, `${P}agent_exchange_duration_seconds_count`, { outcome: 'dropped' }),
    ).toBe(1);
    // The worker process's registry carries the process series.
    expect(samples.some((sample) => sample.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect((await fetch(`${workerUrl}/health`)).status).toBe(200);

    // The Temporal SDK's own metrics, exported by its Rust core.
    const sdk = await scrape(`http://127.0.0.1:${temporalSdkPort}/metrics`);
    expect(sdk.some((sample) => sample.name.startsWith('temporal_'))).toBe(true);
    expect(
      sampleValue(sdk, 'temporal_workflow_completed', {
        task_queue: stack.config.temporal.taskQueue,
      }),
    ).toBeGreaterThanOrEqual(1);

    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    if (partial) stdout.push(partial);

    // Every stdout line is one JSON object.
    const lines = stdout.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    const aboutMessage = lines.filter((line) => line.workflowId === workflowId);
    const finished = aboutMessage.find((line) => line.msg === 'delivery finished');
    expect(finished).toMatchObject({
      accountId: stack.accountId,
      conversationId: 621,
      messageId: Number(workflowId.split(':')[3]),
      outcome: 'delivered',
      agentId: 'flaky',
      level: 30,
    });
    const warning = aboutMessage.find((line) => line.msg === 'agent exchange failed');
    expect(warning).toMatchObject({ conversationId: 621, sdkComponent: 'workflow', level: 40 });
  }, 90_000);
});
