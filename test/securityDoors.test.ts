import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../api/app.js';
import { parseConfig } from '../config/load.js';
import { messageCreatedPayload, signWebhook } from '../sandbox/chatwootWebhooks.js';

const SECRET = 'webhook-secret-for-door-tests';
const OPERATOR_KEY = 'operator-key-for-door-tests-0123';
const API_KEY = 'proactive-key-for-door-tests-0123';
const METRICS_KEY = 'metrics-key-for-door-tests-01234';
const LIMIT = 3;

const config = parseConfig({
  chatwoot: {
    baseUrl: 'http://127.0.0.1:1',
    apiAccessToken: 'chatwoot-token-for-tests',
    accountId: 1,
  },
  webhook: { secrets: [SECRET] },
  agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:1' }],
  routes: [{ inboxId: 7, agentId: 'echo' }],
  api: {
    operatorKeys: [OPERATOR_KEY],
    keys: [API_KEY],
    metricsKeys: [METRICS_KEY],
    failedAuthLimit: { max: LIMIT, windowMs: 60_000 },
  },
});

let nextMessageId = 1;
function webhook(app: FastifyInstance, remoteAddress: string, secret = SECRET) {
  const body = JSON.stringify(messageCreatedPayload({ messageId: nextMessageId++, inboxId: 7 }));
  return app.inject({
    method: 'POST',
    url: '/webhook/chatwoot',
    remoteAddress,
    headers: { 'content-type': 'application/json', ...signWebhook(body, secret) },
    payload: body,
  });
}

const operator = (app: FastifyInstance, remoteAddress: string, key: string) =>
  app.inject({
    method: 'POST',
    url: '/api/v1/agents/reload',
    remoteAddress,
    headers: { authorization: `Bearer ${key}` },
  });

describe('failed authentication is rate-limited per address', () => {
  // No Temporal: customer messages go to a stub delivery; the doors are the real ones.
  const started: string[] = [];
  const app = buildApp({
    config,
    logger: false,
    startDelivery: (input) => {
      started.push(String(input.messageId));
      return Promise.resolve({ workflowId: `direct:${input.messageId}` });
    },
  });
  afterAll(() => app.close());

  it('forged webhooks: 401 up to the limit, then 429 with Retry-After', async () => {
    const answers = [];
    for (let i = 0; i <= LIMIT; i += 1) answers.push(await webhook(app, '10.0.0.1', 'forged'));
    expect(answers.map((answer) => answer.statusCode)).toEqual([401, 401, 401, 429]);
    const refused = answers.at(-1)!;
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.json()).toMatchObject({ error: 'too_many_failures' });
  });

  it('a correctly signed webhook from that same address is never refused', async () => {
    const before = started.length;
    for (let i = 0; i < LIMIT * 2; i += 1) {
      expect((await webhook(app, '10.0.0.1')).statusCode).toBe(200);
    }
    expect(started.length - before).toBe(LIMIT * 2);
    // ...while its forged ones still are.
    expect((await webhook(app, '10.0.0.1', 'forged')).statusCode).toBe(429);
  });

  it('another address has its own count', async () => {
    expect((await webhook(app, '10.0.0.2', 'forged')).statusCode).toBe(401);
  });

  it('wrong bearer keys count too; the right key from that address still works', async () => {
    const answers = [];
    for (let i = 0; i <= LIMIT; i += 1) answers.push(await operator(app, '10.0.0.3', 'wrong-key'));
    expect(answers.map((answer) => answer.statusCode)).toEqual([401, 401, 401, 429]);
    expect((await operator(app, '10.0.0.3', OPERATOR_KEY)).statusCode).not.toBe(429);
  });

  it('a client that made no failures is never limited', async () => {
    for (let i = 0; i < LIMIT * 3; i += 1) {
      expect((await webhook(app, '10.0.0.4')).statusCode).toBe(200);
    }
  });
});

describe('bearer keys on every door, one error shape', () => {
  let connection: Connection;
  let app: FastifyInstance;
  beforeAll(() => {
    // Nothing here reaches Temporal: the doors answer first.
    connection = Connection.lazy({ address: '127.0.0.1:1' });
    app = buildApp({
      config,
      temporal: new Client({ connection, namespace: 'default' }),
      logger: false,
    });
  });
  afterAll(async () => {
    await app.close();
    await connection.close();
  });

  it('/metrics asks for a metrics key when api.metricsKeys is set', async () => {
    const none = await app.inject({ method: 'GET', url: '/metrics' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ error: 'unauthorized', message: expect.any(String) });
    const wrong = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(wrong.statusCode).toBe(401);
    const right = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${METRICS_KEY}` },
    });
    expect(right.statusCode).toBe(200);
    expect(right.body).toContain('# HELP');
  });

  it('/metrics is open by default', async () => {
    const open = buildApp({
      config: parseConfig({ ...config, api: { ...config.api, metricsKeys: [] } }),
      logger: false,
      startDelivery: () => Promise.reject(new Error('not used')),
    });
    expect((await open.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    await open.close();
  });

  it.each([
    ['malformed JSON', '{"content":', 'application/json', 400, 'invalid_payload'],
    ['no body', '', 'application/json', 400, 'invalid_payload'],
    ['a JSON array', '[1]', 'application/json', 400, 'invalid_payload'],
    ['a text body', 'hello', 'text/plain', 415, 'unsupported_media_type'],
    ['an XML body', '<a/>', 'application/xml', 415, 'unsupported_media_type'],
  ])(
    'proactive API: %s answers in the shared shape',
    async (_name, payload, type, status, code) => {
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/messages',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': type },
        payload,
      });
      expect(response.statusCode).toBe(status);
      expect(response.json()).toMatchObject({ error: code, message: expect.any(String) });
    },
  );

  it('an unknown route answers 404 in the shared shape, without echoing the query', async () => {
    const response = await app.inject({ method: 'GET', url: `/nowhere?token=${SECRET}` });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: 'not_found' });
    expect(response.body).not.toContain(SECRET);
  });

  it('pull-agent doors validate the query by schema, naming the field', async () => {
    const pull = buildApp({
      config: parseConfig({
        ...config,
        agents: [
          ...config.agents,
          { id: 'p', transport: 'pull', apiKey: 'pull-key-0123456789abcdef' },
        ],
      }),
      temporal: new Client({ connection, namespace: 'default' }),
      logger: false,
    });
    const response = await pull.inject({
      method: 'GET',
      url: '/api/v1/agents/p/inbox?wait=soon',
      headers: { authorization: 'Bearer pull-key-0123456789abcdef' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'invalid_request', field: 'wait' });
    await pull.close();
  });
});
