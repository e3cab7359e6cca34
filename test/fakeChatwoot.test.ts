import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeChatwoot, type StoredMessage } from '../sandbox/fakeChatwoot.js';

const TOKEN = 'secret-token';
const conversationPath = (conversationId: number, action: string): string =>
  `/api/v1/accounts/1/conversations/${conversationId}/${action}`;

let fake: FakeChatwoot;

beforeAll(async () => {
  fake = await FakeChatwoot.start({ apiAccessToken: TOKEN });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

function request(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  token: string | null = TOKEN, // null sends no token header
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.api_access_token = token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(fake.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const postMessage = (conversationId: number, body: Record<string, unknown>): Promise<Response> =>
  request('POST', conversationPath(conversationId, 'messages'), body);

describe('FakeChatwoot messages', () => {
  it('creates a message in Chatwoot API shape and lists it back with its source_id', async () => {
    const seen: StoredMessage[] = [];
    const onMessage = (message: StoredMessage): number => seen.push(message);
    fake.on('message', onMessage);

    const response = await postMessage(7, {
      content: 'Hello from the bot',
      message_type: 'outgoing',
      private: false,
      content_type: 'text',
      content_attributes: { reply_index: 0 },
      source_id: 'bridge:message:1:7:42:0',
    });
    expect(response.status).toBe(200);
    const created = (await response.json()) as Record<string, unknown>;
    expect(created).toMatchObject({
      content: 'Hello from the bot',
      account_id: 1,
      conversation_id: 7,
      message_type: 1,
      private: false,
      status: 'sent',
      source_id: 'bridge:message:1:7:42:0',
      content_attributes: { reply_index: 0 },
      sender_type: 'AgentBot',
    });
    expect(typeof created.id).toBe('number');
    expect(typeof created.created_at).toBe('number');

    // The fake's own answer must satisfy the response schema in Chatwoot's swagger.
    const route = fake.validator.match('POST', conversationPath(7, 'messages'));
    expect(route).toBeDefined();
    expect(fake.validator.responseErrors(route!, 200, created)).toEqual([]);

    await postMessage(7, { content: 'second', source_id: 'bridge:message:1:7:42:1' });
    const list = await request('GET', conversationPath(7, 'messages'));
    expect(list.status).toBe(200);
    const page = (await list.json()) as { meta: unknown; payload: Array<Record<string, unknown>> };
    expect(page.meta).toEqual({});
    expect(page.payload.map((m) => m.source_id)).toEqual([
      'bridge:message:1:7:42:0',
      'bridge:message:1:7:42:1',
    ]);
    expect(
      fake.validator.responseErrors(
        fake.validator.match('GET', conversationPath(7, 'messages'))!,
        200,
        page,
      ),
    ).toEqual([]);

    const after = await request(
      'GET',
      `${conversationPath(7, 'messages')}?after=${String(created.id)}`,
    );
    const afterPage = (await after.json()) as { payload: Array<{ content: string }> };
    expect(afterPage.payload.map((m) => m.content)).toEqual(['second']);

    expect(fake.messages(1, 7).map((m) => m.content)).toEqual(['Hello from the bot', 'second']);
    expect(fake.messages(1, 8)).toEqual([]);
    expect(seen.map((m) => m.source_id)).toEqual([
      'bridge:message:1:7:42:0',
      'bridge:message:1:7:42:1',
    ]);
    expect(fake.violations).toEqual([]);
  });

  it('pages like Chatwoot: latest 20 by default, up to 100 after, 20 before', async () => {
    for (let i = 0; i < 25; i++) await postMessage(9, { content: `m${i}` });
    const ids = fake.messages(1, 9).map((m) => m.id);
    expect(ids).toHaveLength(25);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);

    const list = async (query: string): Promise<number[]> => {
      const response = await request('GET', conversationPath(9, 'messages') + query);
      return ((await response.json()) as { payload: Array<{ id: number }> }).payload.map(
        (m) => m.id,
      );
    };
    expect(await list('')).toEqual(ids.slice(5));
    expect(await list(`?after=${ids[0]}`)).toEqual(ids.slice(1));
    expect(await list(`?before=${ids[22]}`)).toEqual(ids.slice(2, 22));
    expect(await list(`?after=${ids[3]}&before=${ids[6]}`)).toEqual(ids.slice(4, 6));
  });

  it('keeps message ids increasing across conversations', async () => {
    await postMessage(1, { content: 'a' });
    await postMessage(2, { content: 'b' });
    await postMessage(1, { content: 'c' });
    const ids = fake.allMessages().map((m) => m.id);
    expect(ids).toHaveLength(3);
    expect(ids[0]! < ids[1]! && ids[1]! < ids[2]!).toBe(true);
    expect(fake.messages(1, 1).map((m) => m.content)).toEqual(['a', 'c']);
  });
});

describe('FakeChatwoot auth and swagger validation', () => {
  it('rejects a wrong or missing api_access_token with 401', async () => {
    const wrong = await request('POST', conversationPath(3, 'messages'), { content: 'x' }, 'nope');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'Invalid Access Token' });
    const missing = await request('GET', conversationPath(3, 'messages'), undefined, null);
    expect(missing.status).toBe(401);
    expect(fake.allMessages()).toEqual([]);
    expect(fake.calls.map((c) => c.status)).toEqual([401, 401]);
  });

  it('answers 422 and records a violation for a body that breaks the swagger schema', async () => {
    const missingContent = await postMessage(3, { message_type: 'outgoing' });
    expect(missingContent.status).toBe(422);
    const nonsense = await postMessage(3, { content: 'x', message_type: 'nonsense' });
    expect(nonsense.status).toBe(422);
    const body = (await nonsense.json()) as { message: string; errors: string[] };
    expect(body.errors.join('\n')).toContain('message_type');

    const badStatus = await request('POST', conversationPath(3, 'toggle_status'), {
      status: 'closed',
    });
    expect(badStatus.status).toBe(422);

    expect(fake.violations).toHaveLength(3);
    expect(fake.violations[0]!.errors.join('\n')).toContain("'content'");
    expect(fake.violations[1]!.errors.join('\n')).toMatch(/message_type.*outgoing, incoming/);
    expect(fake.allMessages()).toEqual([]);
    expect(fake.status(1, 3)).toBe('pending');
  });

  it('answers 404 and records a violation for paths swagger does not know or non-integer ids', async () => {
    const unknown = await request('POST', conversationPath(3, 'send_reply'), { content: 'x' });
    expect(unknown.status).toBe(404);
    const wrongMethod = await request('GET', conversationPath(3, 'toggle_status'));
    expect(wrongMethod.status).toBe(404);
    const notAnId = await request('POST', '/api/v1/accounts/1/conversations/abc/messages', {
      content: 'x',
    });
    expect(notAnId.status).toBe(404);

    expect(fake.violations.map((v) => `${v.method} ${v.path}`)).toEqual([
      `POST ${conversationPath(3, 'send_reply')}`,
      `GET ${conversationPath(3, 'toggle_status')}`,
      'POST /api/v1/accounts/1/conversations/abc/messages',
    ]);
    expect(fake.violations[2]!.errors.join('\n')).toContain('conversation_id must be an integer');
  });

  it('answers 501 for a swagger-valid endpoint it does not model', async () => {
    const response = await request('GET', '/api/v1/accounts/1/conversations/3');
    expect(response.status).toBe(501);
    expect(fake.violations).toHaveLength(1);
    expect(fake.violations[0]!.errors[0]).toContain('has no handler');
  });
});

describe('FakeChatwoot typing and status', () => {
  it('records typing toggles and status changes per conversation', async () => {
    expect(fake.status(1, 4)).toBe('pending');
    const on = await request('POST', conversationPath(4, 'toggle_typing_status'), {
      typing_status: 'on',
    });
    expect(on.status).toBe(200);
    expect(await on.json()).toEqual({});
    await request('POST', conversationPath(4, 'toggle_typing_status'), {
      typing_status: 'off',
      is_private: false,
    });

    const open = await request('POST', conversationPath(4, 'toggle_status'), { status: 'open' });
    expect(open.status).toBe(200);
    expect(await open.json()).toEqual({
      meta: {},
      payload: { success: true, current_status: 'open', conversation_id: 4 },
    });
    await request('POST', conversationPath(4, 'toggle_status'), {
      status: 'snoozed',
      snoozed_until: 1_900_000_000,
    });

    expect(fake.typing(1, 4)).toEqual(['on', 'off']);
    expect(fake.typing(1, 5)).toEqual([]);
    expect(fake.status(1, 4)).toBe('snoozed');
    expect(fake.statusChanges(1, 4)).toEqual(['open', 'snoozed']);
    expect(fake.violations).toEqual([]);
  });
});

describe('FakeChatwoot fault injection', () => {
  it('fails the next N matching requests with 500 without applying them, then succeeds', async () => {
    fake.injectFault({
      status: 500,
      count: 2,
      match: { method: 'POST', pathIncludes: '/messages' },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await postMessage(5, { content: 'retry me', source_id: 'sid-1' })).status);
    }
    expect(statuses).toEqual([500, 500, 200]);
    expect(fake.messages(1, 5).map((m) => m.source_id)).toEqual(['sid-1']);
    expect(fake.calls.map((c) => c.fault)).toEqual(['status:500', 'status:500', undefined]);
  });

  it('only consumes faults on matching requests', async () => {
    fake.injectFault({ status: 503, count: 1, match: { pathIncludes: 'toggle_typing_status' } });
    expect((await postMessage(5, { content: 'unaffected' })).status).toBe(200);
    const typing = await request('POST', conversationPath(5, 'toggle_typing_status'), {
      typing_status: 'on',
    });
    expect(typing.status).toBe(503);
    expect(fake.typing(1, 5)).toEqual([]);
  });

  it('sends Retry-After with an injected 429', async () => {
    fake.injectFault({ status: 429, count: 1, retryAfterSeconds: 7 });
    const limited = await postMessage(5, { content: 'slow down' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(fake.allMessages()).toEqual([]);
    expect((await postMessage(5, { content: 'slow down' })).status).toBe(200);
  });

  it('drops the connection, before or after applying the request', async () => {
    fake.injectFault({ drop: true, count: 1 });
    await expect(postMessage(6, { content: 'lost', source_id: 'sid-lost' })).rejects.toThrow();
    expect(fake.allMessages()).toEqual([]);

    fake.injectFault({ drop: true, afterApply: true, count: 1 });
    await expect(postMessage(6, { content: 'posted', source_id: 'sid-posted' })).rejects.toThrow();
    expect(fake.messages(1, 6).map((m) => m.source_id)).toEqual(['sid-posted']);
    expect(fake.calls.map((c) => [c.status, c.fault])).toEqual([
      [0, 'drop'],
      [0, 'drop-after-apply'],
    ]);
  });

  it('delays a response but still applies the request', async () => {
    fake.injectFault({ delayMs: 200, count: 1, match: { pathIncludes: '/messages' } });
    const started = performance.now();
    const response = await postMessage(6, { content: 'eventually' });
    expect(response.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(fake.messages(1, 6).map((m) => m.content)).toEqual(['eventually']);

    const fast = performance.now();
    await postMessage(6, { content: 'quick' });
    expect(performance.now() - fast).toBeLessThan(150);
  });

  it('clearFaults drops pending faults', async () => {
    fake.injectFault({ status: 500, count: 5 });
    fake.clearFaults();
    expect((await postMessage(6, { content: 'fine' })).status).toBe(200);
  });
});

describe('FakeChatwoot helpers', () => {
  it('waitFor resolves on a new message and times out with the description', async () => {
    const waiting = fake.waitFor(() => fake.messages(1, 11).length === 1, { timeoutMs: 2000 });
    await postMessage(11, { content: 'arrived' });
    await expect(waiting).resolves.toBeUndefined();

    await expect(
      fake.waitFor(() => fake.messages(1, 12).length > 0, {
        timeoutMs: 100,
        description: 'a reply in conversation 12',
      }),
    ).rejects.toThrow(/timed out after 100 ms: a reply in conversation 12/);
  });

  it('reset clears calls, messages, violations and faults', async () => {
    await postMessage(13, { content: 'x' });
    await request('GET', '/nowhere');
    fake.injectFault({ status: 500, count: 1 });
    fake.reset();
    expect(fake.calls).toEqual([]);
    expect(fake.allMessages()).toEqual([]);
    expect(fake.violations).toEqual([]);
    expect((await postMessage(13, { content: 'y' })).status).toBe(200);
  });
});

describe('FakeChatwoot channel mode (Chatwoot channel send services)', () => {
  it('sends a message without source_id to the channel and writes the provider id into it', async () => {
    fake.useChannel('twilio_sms');
    fake.setTokenOwner('user');
    const seen: StoredMessage[] = [];
    const onMessage = (message: StoredMessage): number => seen.push(message);
    fake.on('message', onMessage);
    const marker = { chatwoot_bridge_marker: 'chatwoot-bridge:message:1:7:42#0' };
    const created = await postMessage(7, {
      content: 'Hello over SMS',
      message_type: 'outgoing',
      content_attributes: marker,
    });
    fake.off('message', onMessage);
    expect(created.status).toBe(200);
    const answer = (await created.json()) as Record<string, unknown>;
    // Chatwoot's send job runs right after the create: the webhook and listings see the SID.
    expect(answer.source_id).toBeNull();
    expect(seen.map((m) => m.source_id)).toEqual([expect.stringMatching(/^SM[0-9a-f]{32}$/)]);
    const page = (await (await request('GET', conversationPath(7, 'messages'))).json()) as {
      payload: Array<Record<string, unknown>>;
    };
    expect(page.payload).toEqual([
      expect.objectContaining({
        source_id: seen[0]!.source_id,
        content_attributes: marker,
        sender_type: 'User',
      }),
    ]);
    expect(fake.customerReceived(1, 7)).toEqual(['Hello over SMS']);
  });

  it('does not send a message that already has a source_id (taken for one from the channel)', async () => {
    fake.useChannel('whatsapp_cloud');
    await postMessage(8, { content: 'marked', message_type: 'outgoing', source_id: 'mine' });
    await postMessage(8, { content: 'note', message_type: 'outgoing', private: true });
    await postMessage(8, { content: 'plain', message_type: 'outgoing' });
    expect(fake.customerReceived(1, 8)).toEqual(['plain']);
    expect(fake.channelDeliveries(1, 8)).toEqual([
      expect.objectContaining({ content: 'marked', skipped: 'source_id present' }),
      expect.objectContaining({ content: 'plain', providerId: expect.stringMatching(/^wamid\./) }),
    ]);
    expect(fake.messages(1, 8).map((m) => m.source_id)).toEqual([
      'mine',
      null,
      expect.stringMatching(/^wamid\./),
    ]);
  });

  it('commits a create after the client gave up on it (late commit)', async () => {
    fake.injectLateCommit({ afterMs: 400, match: { pathIncludes: '/conversations/9/messages' } });
    const started = Date.now();
    await expect(
      fetch(fake.url + conversationPath(9, 'messages'), {
        method: 'POST',
        headers: { api_access_token: TOKEN, 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'slow create' }),
        signal: AbortSignal.timeout(100),
      }),
    ).rejects.toThrow();
    expect(fake.messages(1, 9)).toEqual([]);
    await fake.waitFor(() => fake.messages(1, 9).length === 1, { description: 'late commit' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(fake.calls.at(-1)).toMatchObject({ fault: 'late-commit:400ms' });
  });
});
