import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { messageCreatedPayload, signWebhook } from '../sandbox/chatwootWebhooks.js';
import { startMockAiwm, type MockAiwm } from '../sandbox/mockAiwm.js';
import { eventually } from './helpers/eventually.js';
import { API_TOKEN, startStack, WEBHOOK_SECRET, type Stack } from './helpers/stack.js';

const OPERATOR_KEY = 'operator-key-never-logged-0123456';
const API_KEY = 'proactive-key-never-logged-012345';
const METRICS_KEY = 'metrics-key-never-logged-01234567';
const PULL_KEY = 'pull-key-never-logged-0123456789a';
const AIWM_SECRET = 'aiwm-secret-never-logged-0123456';

const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * `npm run api` and `npm run worker` as deployed, their stdout and stderr captured, while
 * webhooks with `?token=`, signed webhooks, bearer-key calls and an AIWM exchange go through:
 * no configured secret, key or AIWM token may show up in what they write.
 */
describe('no secret in the log', () => {
  let stack: Stack;
  let aiwm: MockAiwm;
  let dir: string;
  const children: ChildProcess[] = [];
  const output: string[] = [];
  let apiUrl = '';

  function start(path: string, env: Record<string, string>) {
    const child = spawn(process.execPath, ['--import', 'tsx', path], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
    children.push(child);
    return child;
  }

  beforeAll(async () => {
    aiwm = await startMockAiwm({ secret: AIWM_SECRET, agents: { helper: 'echo' } });
    stack = await startStack({
      agents: { echo: 'echo', puller: { transport: 'pull', apiKey: PULL_KEY } },
      agentConfigs: [
        {
          id: 'aiwm',
          transport: 'socketio',
          apiBase: aiwm.apiBase,
          url: aiwm.url,
          agentId: 'helper',
          secret: AIWM_SECRET,
          settleMs: 300,
        },
      ],
      routes: { 7: 'echo', 8: 'aiwm' },
      api: { operatorKeys: [OPERATOR_KEY], keys: [API_KEY], metricsKeys: [METRICS_KEY] },
      worker: false,
    });
    dir = mkdtempSync(join(tmpdir(), 'bridge-logs-'));
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    const configFile = join(dir, 'bridge.json');
    writeFileSync(
      configFile,
      JSON.stringify({ ...stack.config, http: { port, host: '127.0.0.1' } }),
    );
    const env = { BRIDGE_CONFIG: configFile, WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath') };
    start(entry('../workers/worker.ts'), env);
    start(entry('../api/main.ts'), env);
    await eventually(
      async () =>
        (await fetch(`${apiUrl}/health`).then(
          (r) => r.status,
          () => 0,
        )) === 200,
      { timeoutMs: 30_000, description: 'npm run api to answer /health' },
    );
    await eventually(() => output.join('').includes('worker started'), {
      timeoutMs: 60_000,
      description: 'npm run worker to start',
    });
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await stack?.stop();
    await aiwm?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let messageId = Math.floor(Math.random() * 1_000_000) * 100;
  async function webhook(
    inboxId: number,
    conversationId: number,
    how: 'token' | 'signed' | 'forged',
  ) {
    const body = JSON.stringify(
      messageCreatedPayload({
        accountId: stack.accountId,
        messageId: (messageId += 1),
        inboxId,
        conversationId,
        content: 'hello',
      }),
    );
    const query =
      how === 'token'
        ? `?token=${WEBHOOK_SECRET}`
        : how === 'forged'
          ? '?token=guess-0123456789'
          : '';
    return fetch(`${apiUrl}/webhook/chatwoot${query}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(how === 'signed' ? signWebhook(body, WEBHOOK_SECRET) : {}),
      },
      body,
    });
  }

  const call = (path: string, key: string, init: RequestInit = {}) =>
    fetch(`${apiUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${key}`, ...(init.headers ?? {}) },
    });

  it('runs the traffic, and the captured log holds none of the secrets', async () => {
    expect((await webhook(7, 901, 'token')).status).toBe(200);
    expect((await webhook(8, 902, 'signed')).status).toBe(200);
    expect((await webhook(7, 903, 'forged')).status).toBe(401);
    expect((await call('/metrics', METRICS_KEY)).status).toBe(200);
    expect((await call('/api/v1/agents/puller/inbox?wait=0', PULL_KEY)).status).toBe(200);
    expect((await call('/agents/status', OPERATOR_KEY)).status).toBe(200);
    const proactive = await call('/api/v1/messages', API_KEY, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ conversationId: 901, content: 'news' }),
    });
    expect(proactive.status).toBe(202);
    expect(
      (await call('/api/v1/messages', 'a-wrong-key-0123456789', { method: 'POST' })).status,
    ).toBe(401);

    // Both deliveries answered: the worker used the AIWM secret and got a token.
    await expect
      .poll(() => stack.chatwoot.messages(stack.accountId, 901).length)
      .toBeGreaterThan(1);
    await expect
      .poll(() => stack.chatwoot.messages(stack.accountId, 902).length)
      .toBeGreaterThan(0);
    expect(aiwm.tokens.length).toBeGreaterThan(0);

    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) => new Promise((resolve) => child.once('exit', resolve))),
    );
    const log = output.join('');
    // The capture holds the requests (path only) and the worker's lines.
    expect(log).toContain('"url":"/webhook/chatwoot"');
    expect(log).toContain('worker started');
    const secrets = {
      WEBHOOK_SECRET,
      API_TOKEN,
      OPERATOR_KEY,
      API_KEY,
      METRICS_KEY,
      PULL_KEY,
      AIWM_SECRET,
      ...Object.fromEntries(
        aiwm.tokens.map((token, index) => [`aiwm token ${index}`, token.token]),
      ),
    };
    const found = Object.entries(secrets).filter(([, secret]) => log.includes(secret));
    expect(found.map(([name]) => name)).toEqual([]);
  }, 120_000);
});
