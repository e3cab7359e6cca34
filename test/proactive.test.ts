import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProactiveActivities } from '../activities/proactive.js';
import { buildApp } from '../api/app.js';
import { ChatwootClient } from '../chatwoot/client.js';
import { ConfigError, parseConfig } from '../config/load.js';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { FakeChatwoot } from '../sandbox/fakeChatwoot.js';
import type { ProactiveReport } from '../workflows/proactiveTypes.js';
import { searchAttributes } from '../workflows/searchAttributes.js';
import { API_TOKEN, startStack, type Stack } from './helpers/stack.js';

const API_KEY = 'test-api-key-0123456789';
const INBOX = 3;
const cliEntry = fileURLToPath(new URL('../bin/chatwoot-bridge.js', import.meta.url));

describe('proactive messages (real Temporal, fake Chatwoot)', () => {
  let stack: Stack;
  let app: FastifyInstance;

  beforeAll(async () => {
    stack = await startStack();
    stack.chatwoot.addInbox(INBOX);
    app = buildApp({
      config: { ...stack.config, api: { ...stack.config.api, keys: [API_KEY] } },
      temporal: stack.temporal,
      logger: false,
    });
  });
  afterAll(async () => {
    await app?.close();
    await stack?.stop();
  });

  async function send(
    body: unknown,
    headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` },
  ) {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/messages',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { response, json: response.json<Record<string, unknown>>() };
  }

  const result = (workflowId: string) =>
    stack.temporal.workflow.getHandle(workflowId).result() as Promise<ProactiveReport>;

  it('posts into an existing conversation, findable by its summary and search attributes', async () => {
    const { response, json } = await send({
      accountId: 1,
      conversationId: 501,
      content: 'Your order has shipped',
      agentId: 'echo',
    });
    expect(response.statusCode).toBe(202);
    expect(json).toMatchObject({ duplicate: false });
    const workflowId = json.workflowId as string;
    expect(workflowId).toMatch(/^proactive:1:[0-9a-f-]{36}$/);

    const report = await result(workflowId);
    expect(report).toMatchObject({ outcome: 'delivered', conversationId: 501, accountId: 1 });
    const messages = stack.chatwoot.messages(1, 501);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      content: 'Your order has shipped',
      message_type: 'outgoing',
      private: false,
      source_id: null,
      content_attributes: { [MARKER_ATTRIBUTE]: bridgeSourceId(workflowId, 0) },
    });
    expect(report.chatwootMessageId).toBe(messages[0]!.id);

    const description = await stack.temporal.workflow.getHandle(workflowId).describe();
    expect(await description.staticSummary()).toBe(
      'proactive → conversation 501: "Your order has shipped"',
    );
    const attributes = description.typedSearchAttributes;
    expect(attributes.get(searchAttributes.conversationId)).toBe('501');
    expect(attributes.get(searchAttributes.agentId)).toBe('echo');
    expect(attributes.get(searchAttributes.deliveryStatus)).toBe('delivered');
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('creates a new contact and its conversation, then reuses both for the next message', async () => {
    const first = await send({
      accountId: 1,
      inboxId: INBOX,
      contact: { email: 'new.customer@example.com', name: 'New Customer' },
      content: 'Welcome aboard!',
    });
    expect(first.response.statusCode).toBe(202);
    const report = await result(first.json.workflowId as string);
    expect(report).toMatchObject({
      outcome: 'delivered',
      inboxId: INBOX,
      contactCreated: true,
      conversationCreated: true,
    });

    const contact = stack.chatwoot.contacts(1).find((c) => c.email === 'new.customer@example.com');
    expect(contact).toMatchObject({ id: report.contactId, name: 'New Customer' });
    expect(contact?.contact_inboxes.map((link) => link.inbox_id)).toEqual([INBOX]);
    const conversation = stack.chatwoot
      .createdConversations(1)
      .find((c) => c.id === report.conversationId);
    expect(conversation).toMatchObject({ contact_id: contact?.id, inbox_id: INBOX });
    expect(stack.chatwoot.messages(1, report.conversationId!).map((m) => m.content)).toEqual([
      'Welcome aboard!',
    ]);
    const description = await stack.temporal.workflow
      .getHandle(first.json.workflowId as string)
      .describe();
    expect(description.typedSearchAttributes.get(searchAttributes.conversationId)).toBe(
      String(report.conversationId),
    );
    expect(description.typedSearchAttributes.get(searchAttributes.inboxId)).toBe(String(INBOX));

    // Same contact (any case), another message: found, not created again.
    const second = await send({
      accountId: 1,
      inboxId: INBOX,
      contact: { email: 'New.Customer@example.com' },
      content: 'A follow-up',
    });
    const followUp = await result(second.json.workflowId as string);
    expect(followUp).toMatchObject({
      outcome: 'delivered',
      contactId: report.contactId,
      conversationId: report.conversationId,
      contactCreated: false,
      conversationCreated: false,
    });
    expect(stack.chatwoot.contacts(1).filter((c) => c.email === contact?.email)).toHaveLength(1);
    expect(stack.chatwoot.messages(1, report.conversationId!).map((m) => m.content)).toEqual([
      'Welcome aboard!',
      'A follow-up',
    ]);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('finds an existing contact by phone number and links it to the inbox', async () => {
    const existing = stack.chatwoot.addContact(1, {
      name: 'Known Caller',
      phone_number: '+4915112345678',
    });
    const { json } = await send({
      accountId: 1,
      inboxId: INBOX,
      contact: { phone_number: '+4915112345678' },
      content: 'Note about this caller',
      private: true,
    });
    const report = await result(json.workflowId as string);
    expect(report).toMatchObject({
      outcome: 'delivered',
      contactId: existing.id,
      contactCreated: false,
      conversationCreated: true,
    });
    expect(existing.contact_inboxes.map((link) => link.inbox_id)).toEqual([INBOX]);
    expect(stack.chatwoot.messages(1, report.conversationId!)).toEqual([
      expect.objectContaining({ content: 'Note about this caller', private: true }),
    ]);
  });

  it('sends one message for the same Idempotency-Key, however often it is sent', async () => {
    const body = { accountId: 1, conversationId: 502, content: 'Only once, please' };
    const headers = { authorization: `Bearer ${API_KEY}`, 'idempotency-key': 'order-502-shipped' };
    const first = await send(body, headers);
    const second = await send(body, headers);
    expect(first.json).toEqual({ workflowId: 'proactive:1:order-502-shipped', duplicate: false });
    expect(second.response.statusCode).toBe(202);
    expect(second.json).toEqual({ workflowId: 'proactive:1:order-502-shipped', duplicate: true });

    await result('proactive:1:order-502-shipped');
    const third = await send(body, headers);
    expect(third.json).toMatchObject({ duplicate: true });
    expect(stack.chatwoot.messages(1, 502).map((m) => m.content)).toEqual(['Only once, please']);
  });

  it('holds a message with sendAt until that time; a past sendAt sends now', async () => {
    const sendAt = new Date(Date.now() + 2_000).toISOString();
    const { response, json } = await send({
      accountId: 1,
      conversationId: 503,
      content: 'Reminder: your appointment',
      sendAt,
    });
    expect(response.statusCode).toBe(202);
    const handle = stack.temporal.workflow.getHandle(json.workflowId as string);
    const scheduled = await handle.describe();
    expect(scheduled.typedSearchAttributes.get(searchAttributes.deliveryStatus)).toBe('scheduled');
    expect(stack.chatwoot.messages(1, 503)).toEqual([]);

    const report = (await handle.result()) as ProactiveReport;
    expect(report.outcome).toBe('delivered');
    const post = stack.chatwoot.calls.find(
      (call) => call.method === 'POST' && call.path.endsWith('/conversations/503/messages'),
    );
    expect(post?.at).toBeGreaterThanOrEqual(Date.parse(sendAt));
    expect(stack.chatwoot.messages(1, 503)).toHaveLength(1);

    const past = await send({
      accountId: 1,
      conversationId: 504,
      content: 'Already due',
      sendAt: '2020-01-01T00:00:00Z',
    });
    expect(await result(past.json.workflowId as string)).toMatchObject({ outcome: 'delivered' });
    expect(stack.chatwoot.messages(1, 504)).toHaveLength(1);
  });

  it('answers 401 for a missing or wrong key, and when no keys are configured', async () => {
    const body = { accountId: 1, conversationId: 505, content: 'Let me in' };
    const missing = await send(body, {});
    expect(missing.response.statusCode).toBe(401);
    const wrong = await send(body, { authorization: 'Bearer not-the-key-at-all-000' });
    expect(wrong.response.statusCode).toBe(401);
    expect(wrong.json).toMatchObject({ error: 'unauthorized' });

    const unconfigured = buildApp({
      config: stack.config,
      temporal: stack.temporal,
      logger: false,
    });
    const response = await unconfigured.inject({
      method: 'POST',
      url: '/api/v1/messages',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      payload: JSON.stringify(body),
    });
    await unconfigured.close();
    expect(response.statusCode).toBe(401);
    expect(response.json<{ message: string }>().message).toContain('api.keys');
    expect(stack.chatwoot.messages(1, 505)).toEqual([]);
  });

  it('reports an unknown inbox as a failed outcome with the reason, creating nothing', async () => {
    const { response, json } = await send({
      accountId: 1,
      inboxId: 99,
      contact: { identifier: 'crm-4711' },
      content: 'Hello from nowhere',
    });
    expect(response.statusCode).toBe(202);
    const report = await result(json.workflowId as string);
    expect(report).toMatchObject({ outcome: 'failed', reason: 'inbox 99 not found' });
    expect(stack.chatwoot.contacts(1).some((c) => c.identifier === 'crm-4711')).toBe(false);
    const description = await stack.temporal.workflow
      .getHandle(json.workflowId as string)
      .describe();
    expect(description.typedSearchAttributes.get(searchAttributes.deliveryStatus)).toBe('failed');
    // Not retried: one attempt at creating the contact.
    const creates = stack.chatwoot.calls.filter(
      (call) => call.method === 'POST' && call.path === '/api/v1/accounts/1/contacts',
    );
    expect(creates.filter((call) => call.status === 404)).toHaveLength(1);
  });

  it.each([
    ['not JSON', '{"accountId": 1,', '(body)'],
    [
      'a conversation id that is not a number',
      { conversationId: 'twelve', content: 'x' },
      'conversationId',
    ],
    ['no content', { accountId: 1, conversationId: 12 }, 'content'],
    ['an empty content', { accountId: 1, conversationId: 12, content: '  ' }, 'content'],
    ['no target', { accountId: 1, content: 'x' }, 'conversationId'],
    ['an inbox without contact', { accountId: 1, inboxId: 3, content: 'x' }, 'contact'],
    [
      'a contact without a key',
      { accountId: 1, inboxId: 3, contact: { name: 'N' }, content: 'x' },
      'contact',
    ],
    [
      'a bad email',
      { accountId: 1, inboxId: 3, contact: { email: 'nope' }, content: 'x' },
      'contact.email',
    ],
    [
      'a bad sendAt',
      { accountId: 1, conversationId: 12, content: 'x', sendAt: 'tomorrow' },
      'sendAt',
    ],
    ['a typo in a key', { accountId: 1, conversation_id: 12, content: 'x' }, 'conversation_id'],
  ])('answers 400 naming the field for %s', async (_name, body, field) => {
    const { response, json } = await send(body);
    expect(response.statusCode).toBe(400);
    expect(json).toMatchObject({ error: 'invalid_payload', field });
  });

  it('answers 400 naming accountId when the request names none and none is configured', async () => {
    const noAccount = buildApp({
      config: {
        ...stack.config,
        chatwoot: { ...stack.config.chatwoot, accountId: undefined },
        api: { ...stack.config.api, keys: [API_KEY] },
      },
      temporal: stack.temporal,
      logger: false,
    });
    const response = await noAccount.inject({
      method: 'POST',
      url: '/api/v1/messages',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      payload: { conversationId: 12, content: 'x' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'invalid_payload', field: 'accountId' });
    await noAccount.close();
  });

  it('answers 400 for an unusable Idempotency-Key', async () => {
    const { response, json } = await send(
      { accountId: 1, conversationId: 12, content: 'x' },
      { authorization: `Bearer ${API_KEY}`, 'idempotency-key': 'has spaces in it' },
    );
    expect(response.statusCode).toBe(400);
    expect(json).toMatchObject({ field: 'Idempotency-Key' });
  });

  it('answers 413 for a body over webhook.maxBodyBytes', async () => {
    const content = 'x'.repeat(stack.config.webhook.maxBodyBytes);
    const { response } = await send({ accountId: 1, conversationId: 12, content });
    expect(response.statusCode).toBe(413);
  });

  it('answers 503 when Temporal is unreachable', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1' });
    const down = buildApp({
      config: {
        ...stack.config,
        api: { ...stack.config.api, keys: [API_KEY] },
        temporal: { ...stack.config.temporal, startTimeoutMs: 500 },
      },
      temporal: new Client({ connection }),
      logger: false,
    });
    const response = await down.inject({
      method: 'POST',
      url: '/api/v1/messages',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      payload: JSON.stringify({ accountId: 1, conversationId: 506, content: 'x' }),
    });
    await down.close();
    await connection.close();
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
  });

  it('CLI: `chatwoot-bridge send` prints the workflow id and the message arrives', async () => {
    const configPath = join(mkdtempSync(join(tmpdir(), 'bridge-cli-')), 'config.json');
    writeFileSync(configPath, JSON.stringify(stack.config));
    const { code, stdout, stderr } = await run(
      process.execPath,
      [
        cliEntry,
        'send',
        '--account',
        '1',
        '--conversation',
        '507',
        '--text',
        'Sent from the command line',
        '--idempotency-key',
        `cli-${Date.now()}`,
      ],
      { BRIDGE_CONFIG: configPath },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const workflowId = stdout.trim();
    expect(workflowId).toMatch(/^proactive:1:cli-\d+$/);
    expect(await result(workflowId)).toMatchObject({ outcome: 'delivered' });
    expect(stack.chatwoot.messages(1, 507).map((m) => m.content)).toEqual([
      'Sent from the command line',
    ]);

    const bad = await run(process.execPath, [cliEntry, 'send', '--text', 'x', '--inbox', '3'], {
      BRIDGE_CONFIG: configPath,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--contact-email');
  });
});

function run(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('proactive activities against the fake Chatwoot', () => {
  let chatwoot: FakeChatwoot;
  let activities: ReturnType<typeof createProactiveActivities>;
  let client: ChatwootClient;
  beforeAll(async () => {
    chatwoot = await FakeChatwoot.start({ apiAccessToken: API_TOKEN, inboxes: [INBOX] });
    client = new ChatwootClient({
      baseUrl: chatwoot.url,
      apiAccessToken: API_TOKEN,
      timeoutMs: 2_000,
    });
    activities = createProactiveActivities(client);
  });
  afterAll(() => chatwoot?.close());

  it('two messages racing to create the same contact end up with one contact', async () => {
    // The first create is held back, so the second one lands first and the first gets 422.
    chatwoot.injectFault({ delayMs: 300, match: { method: 'POST', pathIncludes: '/contacts' } });
    const input = { accountId: 1, inboxId: INBOX, contact: { identifier: 'crm-race' } };
    const [a, b] = await Promise.all([
      activities.resolveContact(input),
      activities.resolveContact(input),
    ]);
    expect(a.contactId).toBe(b.contactId);
    expect(a.sourceId).toBe(b.sourceId);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(chatwoot.contacts(1).filter((c) => c.identifier === 'crm-race')).toHaveLength(1);
    expect(chatwoot.violations).toEqual([]);
  });

  it('reuses the unresolved conversation and opens a new one once it is resolved', async () => {
    const contact = await activities.resolveContact({
      accountId: 1,
      inboxId: INBOX,
      contact: { email: 'loyal@example.com' },
    });
    const input = { accountId: 1, inboxId: INBOX, ...contact };
    const first = await activities.findOrCreateConversation(input);
    expect(first.created).toBe(true);
    expect(await activities.findOrCreateConversation(input)).toEqual({
      conversationId: first.conversationId,
      created: false,
    });
    await client.toggleStatus(1, first.conversationId, 'resolved');
    const next = await activities.findOrCreateConversation(input);
    expect(next.created).toBe(true);
    expect(next.conversationId).not.toBe(first.conversationId);
  });
});

describe('proactive message configuration', () => {
  const base = {
    chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: 't' },
    agents: [{ id: 'echo', transport: 'ws', url: 'ws://localhost:9001' }],
  };

  it('takes API keys from BRIDGE_API_KEYS and refuses short or blank ones', () => {
    const config = parseConfig(base, {
      BRIDGE_API_KEYS: ' key-one-0123456789, key-two-0123456789 ',
    });
    expect(config.api.keys).toEqual(['key-one-0123456789', 'key-two-0123456789']);
    expect(parseConfig(base).api.keys).toEqual([]);
    expect(() => parseConfig({ ...base, api: { keys: ['short'] } })).toThrow(
      /api\.keys\.0: use at least 16 characters/,
    );
    expect(() => parseConfig(base, { BRIDGE_API_KEYS: ' , ' })).toThrow(ConfigError);
  });
});
