import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeChatwoot } from '../sandbox/fakeChatwoot.js';

const TOKEN = 'secret-token';
let fake: FakeChatwoot;

beforeAll(async () => {
  fake = await FakeChatwoot.start({ apiAccessToken: TOKEN, inboxes: [1, 3] });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await fetch(fake.url + path, {
    method,
    headers: {
      api_access_token: TOKEN,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Json };
}

type Json = Record<string, unknown>;
interface CreatedContact {
  payload: { contact: Json & { id: number }; contact_inbox: { source_id: string } };
}

/** The response must match the schema Chatwoot's swagger documents for it. */
function expectDocumented(method: string, path: string, status: number, body: unknown): void {
  const route = fake.validator.match(method, path);
  expect(route).toBeDefined();
  expect(fake.validator.responseErrors(route!, status, body)).toEqual([]);
}

describe('FakeChatwoot contacts and conversations', () => {
  it('creates a contact with its contact inbox, shaped like Chatwoot, and finds it by search', async () => {
    const created = await call('POST', '/api/v1/accounts/1/contacts', {
      inbox_id: 3,
      name: 'Ada',
      email: 'Ada@Example.com',
    });
    expect(created.status).toBe(200);
    const { contact, contact_inbox } = (created.json as unknown as CreatedContact).payload;
    const sourceId = contact_inbox.source_id;
    expect(contact).toMatchObject({ name: 'Ada', email: 'ada@example.com' });
    expect(sourceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(contact.contact_inboxes).toEqual([
      expect.objectContaining({ source_id: sourceId, inbox: expect.objectContaining({ id: 3 }) }),
    ]);

    const search = await call('GET', '/api/v1/accounts/1/contacts/search?q=example.COM');
    expect(search.status).toBe(200);
    expect((search.json.payload as Json[]).map((c) => c.id)).toEqual([contact.id]);
    expectDocumented('GET', '/api/v1/accounts/1/contacts/search', 200, search.json);
    expect((await call('GET', '/api/v1/accounts/2/contacts/search?q=ada')).json.payload).toEqual(
      [],
    );
    expect(fake.violations).toEqual([]);
  });

  it('answers 422 for a taken email and for a search without q', async () => {
    await call('POST', '/api/v1/accounts/1/contacts', { inbox_id: 1, email: 'x@example.com' });
    const again = await call('POST', '/api/v1/accounts/1/contacts', {
      inbox_id: 1,
      email: 'X@example.com',
    });
    expect(again.status).toBe(422);
    expect(again.json.message).toContain('Email');
    expect(fake.contacts(1)).toHaveLength(1);
    expect((await call('GET', '/api/v1/accounts/1/contacts/search')).status).toBe(422);
  });

  it('answers 404 for an unknown inbox or contact and saves nothing', async () => {
    const contact = await call('POST', '/api/v1/accounts/1/contacts', {
      inbox_id: 99,
      email: 'ghost@example.com',
    });
    expect(contact.status).toBe(404);
    expect(fake.contacts()).toEqual([]);

    const known = fake.addContact(1, { identifier: 'crm-1' });
    const link = await call('POST', `/api/v1/accounts/1/contacts/${known.id}/contact_inboxes`, {
      inbox_id: 99,
    });
    expect(link.status).toBe(404);
    expect(known.contact_inboxes).toEqual([]);
    const missing = await call('POST', '/api/v1/accounts/1/contacts/424242/contact_inboxes', {
      inbox_id: 1,
    });
    expect(missing.status).toBe(404);
    expect((await call('GET', '/api/v1/accounts/1/contacts/424242/conversations')).status).toBe(
      404,
    );
    const conversation = await call('POST', '/api/v1/accounts/1/conversations', {
      source_id: 'no-such-source',
      inbox_id: 1,
    });
    expect(conversation.status).toBe(404);
    expect(fake.createdConversations()).toEqual([]);
    expect(fake.violations).toEqual([]);
  });

  it('links a contact to an inbox, opens a conversation there and lists it', async () => {
    const known = fake.addContact(1, { phone_number: '+15550001111' });
    const link = await call('POST', `/api/v1/accounts/1/contacts/${known.id}/contact_inboxes`, {
      inbox_id: 3,
    });
    expect(link.status).toBe(200);
    expectDocumented(
      'POST',
      `/api/v1/accounts/1/contacts/${known.id}/contact_inboxes`,
      200,
      link.json,
    );

    const created = await call('POST', '/api/v1/accounts/1/conversations', {
      source_id: link.json.source_id,
      inbox_id: 3,
      contact_id: known.id,
    });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ account_id: 1, inbox_id: 3, status: 'open' });
    expectDocumented('POST', '/api/v1/accounts/1/conversations', 200, created.json);
    const conversationId = created.json.id as number;

    const posted = await call(
      'POST',
      `/api/v1/accounts/1/conversations/${conversationId}/messages`,
      {
        content: 'Hello',
        message_type: 'outgoing',
        private: false,
      },
    );
    expect(posted.json.inbox_id).toBe(3);

    const listed = await call('GET', `/api/v1/accounts/1/contacts/${known.id}/conversations`);
    expect(listed.json.payload).toEqual([
      expect.objectContaining({ id: conversationId, inbox_id: 3, status: 'open' }),
    ]);
    expectDocumented(
      'GET',
      `/api/v1/accounts/1/contacts/${known.id}/conversations`,
      200,
      listed.json,
    );
    expect(fake.createdConversations(1)).toEqual([
      expect.objectContaining({ id: conversationId, contact_id: known.id }),
    ]);
    expect(fake.violations).toEqual([]);
  });
});
