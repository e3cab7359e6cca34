import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook } from '../sandbox/chatwootWebhooks.js';
import { pullAgent } from './helpers/pullAgent.js';
import { startStack, WEBHOOK_SECRET, type Stack } from './helpers/stack.js';

const OPERATOR_KEY = 'operator-key-for-reload-0123456789';
const API_KEY = 'proactive-key-before-reload-0123';
const ROTATED_API_KEY = 'proactive-key-after-reload-01234';
const PULL_KEY = 'pull-key-before-reload-012345678';
const ROTATED_PULL_KEY = 'pull-key-after-reload-0123456789';
const NEW_AGENT_KEY = 'pull-key-of-the-new-agent-012345';

/** A reload reaches every door: pull-agent routes and keys, and `api.keys`. */
describe('reload reaches pull agents and API keys', () => {
  let stack: Stack;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bridge-reload-doors-'));
    file = join(dir, 'bridge.json');
    stack = await startStack({
      agents: { echo: 'echo', puller: { transport: 'pull', apiKey: PULL_KEY } },
      routes: { 7: 'echo' },
      api: { operatorKeys: [OPERATOR_KEY], keys: [API_KEY] },
      configFile: file,
    });
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The running configuration with `change` applied, written where the reload reads it. */
  async function reloadWith(change: (config: Record<string, unknown>) => void) {
    const next = structuredClone(stack.live.current()) as unknown as Record<string, unknown>;
    change(next);
    writeFileSync(file, JSON.stringify(next));
    const response = await stack.app.inject({
      method: 'POST',
      url: '/api/v1/agents/reload',
      headers: { authorization: `Bearer ${OPERATOR_KEY}` },
    });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ restartRequired: string[] }>();
  }

  const proactive = (key: string) =>
    stack.app.inject({
      method: 'POST',
      url: '/api/v1/messages',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      // Invalid on purpose: past the key check it answers 400, and nothing is sent.
      payload: { content: 'x' },
    });

  type Agents = Array<Record<string, unknown>>;

  it('a new pull agent gets its inbox, a rotated agent key replaces the old one', async () => {
    expect((await pullAgent(stack.app, 'newbie', NEW_AGENT_KEY).poll({ wait: 0 })).status).toBe(
      404,
    );
    await reloadWith((config) => {
      const agents = config.agents as Agents;
      const puller = agents.find((agent) => agent.id === 'puller') as Record<string, unknown>;
      puller.apiKey = ROTATED_PULL_KEY;
      agents.push({ id: 'newbie', transport: 'pull', apiKey: NEW_AGENT_KEY });
    });
    expect((await pullAgent(stack.app, 'newbie', NEW_AGENT_KEY).poll({ wait: 0 })).status).toBe(
      200,
    );
    expect((await pullAgent(stack.app, 'puller', PULL_KEY).poll({ wait: 0 })).status).toBe(401);
    expect((await pullAgent(stack.app, 'puller', ROTATED_PULL_KEY).poll({ wait: 0 })).status).toBe(
      200,
    );
  });

  it('a rotated API key replaces the old one, a revoked one stops at once', async () => {
    expect((await proactive(API_KEY)).statusCode).toBe(400);
    await reloadWith((config) => {
      (config.api as Record<string, unknown>).keys = [ROTATED_API_KEY];
    });
    expect((await proactive(API_KEY)).statusCode).toBe(401);
    expect((await proactive(ROTATED_API_KEY)).statusCode).toBe(400);
    await reloadWith((config) => {
      (config.api as Record<string, unknown>).keys = [];
    });
    expect((await proactive(ROTATED_API_KEY)).statusCode).toBe(401);
  });

  it('a removed pull agent loses its door', async () => {
    await reloadWith((config) => {
      config.agents = (config.agents as Agents).filter((agent) => agent.id !== 'newbie');
    });
    expect((await pullAgent(stack.app, 'newbie', NEW_AGENT_KEY).poll({ wait: 0 })).status).toBe(
      404,
    );
  });

  it("the webhook's depth limit is read per request: a reload applies to the next webhook", async () => {
    // Twelve levels of nesting: within the default limit (32), past a reloaded one of 8.
    let nested: Record<string, unknown> = { leaf: true };
    for (let level = 0; level < 11; level += 1) nested = { nested };
    const body = JSON.stringify({ event: 'conversation_updated', nested });
    const post = () =>
      stack.app.inject({
        method: 'POST',
        url: '/webhook/chatwoot',
        headers: { 'content-type': 'application/json', ...signWebhook(body, WEBHOOK_SECRET) },
        payload: body,
      });
    expect((await post()).json<{ message?: string }>().message ?? '').not.toMatch(/maxDepth/);
    const { restartRequired } = await reloadWith((config) => {
      (config.webhook as Record<string, unknown>).maxDepth = 8;
    });
    expect(restartRequired).toEqual([]);
    const refused = await post();
    expect(refused.statusCode).toBe(400);
    expect(refused.json<{ message: string }>().message).toMatch(/webhook\.maxDepth/);
  });

  it('names every restart-only key that changed, by its full path', async () => {
    const { restartRequired } = await reloadWith((config) => {
      (config.webhook as Record<string, unknown>).secrets = ['a-rotated-webhook-secret'];
      (config.delivery as Record<string, unknown>).chatwootRequestTimeoutMs = 1_234;
      (config.delivery as Record<string, unknown>).fallbackMessage = 'Back soon';
    });
    expect(restartRequired).toEqual(['webhook.secrets', 'delivery.chatwootRequestTimeoutMs']);
    expect(stack.live.current().delivery.fallbackMessage).toBe('Back soon');
    expect(stack.live.current().webhook.secrets).toEqual(stack.config.webhook.secrets);
  });
});
