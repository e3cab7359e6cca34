import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationWorkflowId } from '../workflows/shared.js';
import { startStack, type Stack } from './helpers/stack.js';

const CODEC_KEY = 'codec-key-for-the-temporal-ui';
const API_KEY = 'proactive-key-0123456789';
const UI_ORIGIN = 'http://127.0.0.1:8233';
const PROACTIVE_INBOX = 3;

/** What a customer wrote and who they are: none of it may reach Temporal readable. */
const customerText = 'Please call me back about invoice 7731, my number is +1 415 555 0199';
const proactiveEmail = 'jane.doe.codec@example.org';
const proactivePhone = '+4915199887766';
const proactiveName = 'Jane Codec-Doe';
const proactiveText = 'Your refund for invoice 7731 is on its way';

type RawPayload = { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null };

/** Every event of a workflow's current run, as the server stores it: no codec in the way. */
async function rawHistory(temporal: Client, workflowId: string) {
  const events: unknown[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await temporal.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId },
      nextPageToken,
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

/** Every string and every byte field (read as UTF-8) in a history: what a database reader sees. */
function readableText(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value);
  else if (value instanceof Uint8Array) into.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const item of value) readableText(item, into);
  else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) readableText(item, into);
  }
  return into;
}

const asJson = (payload: RawPayload) => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([name, bytes]) => [
      name,
      Buffer.from(bytes).toString('base64'),
    ]),
  ),
  data: Buffer.from(payload.data ?? []).toString('base64'),
});

/** One message through webhook, actor, delivery, agent and Chatwoot; one proactive message. */
async function runCustomerTraffic(stack: Stack) {
  stack.chatwoot.addInbox(PROACTIVE_INBOX);
  const { payload } = await stack.sendMessage({ content: customerText });
  const messageId = (payload as { id: number }).id;
  const messageWorkflow = stack.messageWorkflowId(messageId);
  expect(await stack.result(messageWorkflow)).toMatchObject({ outcome: 'delivered' });

  const proactive = await stack.app.inject({
    method: 'POST',
    url: '/api/v1/messages',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    payload: {
      accountId: stack.accountId,
      inboxId: PROACTIVE_INBOX,
      contact: { email: proactiveEmail, phone_number: proactivePhone, name: proactiveName },
      content: proactiveText,
    },
  });
  expect(proactive.statusCode).toBe(202);
  const proactiveWorkflow = proactive.json<{ workflowId: string }>().workflowId;
  await stack.temporal.workflow.getHandle(proactiveWorkflow).result();

  const workflowIds = [
    messageWorkflow,
    conversationWorkflowId(stack.accountId, 1),
    proactiveWorkflow,
  ];
  const histories = await Promise.all(workflowIds.map((id) => rawHistory(stack.temporal, id)));
  return {
    messageWorkflow,
    histories,
    text: readableText(histories).join('\n'),
    secrets: [
      customerText,
      'invoice 7731',
      '415 555 0199',
      // The webhook's sender, as Chatwoot sends it (the fake's contact of conversation 1).
      `Customer ${1000 + 1}`,
      `customer${1000 + 1}@example.com`,
      proactiveEmail,
      proactivePhone,
      proactiveName,
      proactiveText,
    ],
  };
}

describe('customer data in Temporal, with the payload codec on', () => {
  let stack: Stack;
  let traffic: Awaited<ReturnType<typeof runCustomerTraffic>>;

  beforeAll(async () => {
    stack = await startStack({
      encryption: {
        keys: [
          { id: 'old', key: randomBytes(32).toString('base64') },
          { id: 'current', key: randomBytes(32).toString('base64') },
        ],
        currentKeyId: 'current',
      },
      api: { keys: [API_KEY], codec: { keys: [CODEC_KEY], corsOrigins: [UI_ORIGIN] } },
    });
    traffic = await runCustomerTraffic(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('stores no customer text, name, e-mail or phone number in any history', () => {
    expect(traffic.text).toContain('binary/encrypted');
    for (const secret of traffic.secrets) expect(traffic.text, secret).not.toContain(secret);
    // Search attributes stay readable (Temporal indexes them): they carry ids only.
    const started = traffic.histories[0]?.[0] as {
      workflowExecutionStartedEventAttributes: {
        searchAttributes: { indexedFields: Record<string, RawPayload> };
      };
    };
    const { indexedFields } = started.workflowExecutionStartedEventAttributes.searchAttributes;
    const conversation = indexedFields.ChatwootConversationId?.data;
    expect(Buffer.from(conversation ?? []).toString()).toBe('"1"');
    // And the agent's echo did reach Chatwoot in clear.
    const posted = stack.chatwoot.messages(stack.accountId, 1).map((m) => m.content);
    expect(posted.join('\n')).toContain('invoice 7731');
  });

  it('decodes what the worker wrote through POST /codec/decode (the Temporal UI)', async () => {
    const started = traffic.histories[0]?.[0] as {
      workflowExecutionStartedEventAttributes: {
        input: { payloads: RawPayload[] };
      };
      userMetadata?: { summary?: RawPayload };
    };
    const payloads = [
      ...started.workflowExecutionStartedEventAttributes.input.payloads,
      ...(started.userMetadata?.summary ? [started.userMetadata.summary] : []),
    ].map(asJson);
    const response = await stack.app.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: {
        authorization: `Bearer ${CODEC_KEY}`,
        'x-namespace': 'default',
        origin: UI_ORIGIN,
      },
      payload: { payloads },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    const decoded = response.json<{ payloads: Array<ReturnType<typeof asJson>> }>().payloads;
    const texts = decoded.map((payload) => Buffer.from(payload.data, 'base64').toString('utf8'));
    expect(texts[0]).toContain(customerText);
    expect(Buffer.from(decoded[0]?.metadata.encoding ?? '', 'base64').toString()).toBe(
      'json/plain',
    );
    // The static summary is user metadata: encrypted too, and the UI decodes it the same way.
    expect(texts.length).toBe(2);
    expect(texts[1]).toContain('Please call me back');
  });

  it('encodes for the UI (start or signal from the UI) what it decodes again', async () => {
    const plain = {
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from(JSON.stringify('typed in the UI')).toString('base64'),
    };
    const call = (direction: string, payloads: unknown[]) =>
      stack.app.inject({
        method: 'POST',
        url: `/codec/${direction}`,
        headers: { authorization: `Bearer ${CODEC_KEY}`, 'x-namespace': 'default' },
        payload: { payloads },
      });
    const encoded = (await call('encode', [plain])).json<{ payloads: unknown[] }>().payloads;
    expect(JSON.stringify(encoded)).not.toContain(plain.data);
    const decoded = (await call('decode', encoded)).json<{ payloads: unknown[] }>().payloads;
    expect(decoded).toEqual([plain]);
  });

  it('refuses without the codec key, and a payload it cannot decrypt with a 422', async () => {
    const payload = { payloads: [] };
    const none = await stack.app.inject({ method: 'POST', url: '/codec/decode', payload });
    expect(none.statusCode).toBe(401);
    const wrong = await stack.app.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { authorization: 'Bearer not-the-codec-key-at-all' },
      payload,
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).not.toContain(CODEC_KEY);

    const tampered = {
      metadata: {
        encoding: Buffer.from('binary/encrypted').toString('base64'),
        'encryption-key-id': Buffer.from('current').toString('base64'),
      },
      data: randomBytes(64).toString('base64'),
    };
    const refused = await stack.app.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { authorization: `Bearer ${CODEC_KEY}` },
      payload: { payloads: [tampered] },
    });
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ error: 'payload_not_decodable' });
    const malformed = await stack.app.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { authorization: `Bearer ${CODEC_KEY}` },
      payload: { payloads: [{ data: 'not base64!' }] },
    });
    expect(malformed.statusCode).toBe(400);
  });

  it("answers the UI's CORS preflight for the configured origin only", async () => {
    const preflight = (origin: string) =>
      stack.app.inject({
        method: 'OPTIONS',
        url: '/codec/decode',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-namespace',
        },
      });
    const allowed = await preflight(UI_ORIGIN);
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    expect(String(allowed.headers['access-control-allow-headers']).toLowerCase()).toContain(
      'x-namespace',
    );
    const other = await preflight('http://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('customer data in Temporal, with the payload codec off (the dev default)', () => {
  let stack: Stack;
  afterAll(async () => {
    await stack?.stop();
  });

  it('is readable in the history: what the codec is for (and proof the scan above sees text)', async () => {
    stack = await startStack({ api: { keys: [API_KEY] } });
    const traffic = await runCustomerTraffic(stack);
    expect(traffic.text).not.toContain('binary/encrypted');
    for (const secret of traffic.secrets) expect(traffic.text, secret).toContain(secret);
  });
});
