import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChatwootClient, ChatwootRequestError } from '../chatwoot/client.js';
import { MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { FakeChatwoot } from '../sandbox/fakeChatwoot.js';
import { pngBytes, sha256 } from './helpers/fileServer.js';

const TOKEN = 'multipart-token';
const path = (conversationId: number, action = 'messages') =>
  `/api/v1/accounts/1/conversations/${conversationId}/${action}`;

let fake: FakeChatwoot;
let client: ChatwootClient;
beforeAll(async () => {
  fake = await FakeChatwoot.start({ apiAccessToken: TOKEN });
  client = new ChatwootClient({ baseUrl: fake.url, apiAccessToken: TOKEN, timeoutMs: 5_000 });
});
afterAll(() => fake?.close());
beforeEach(() => fake.reset());

const post = (form: FormData, conversationId = 5, action = 'messages') =>
  fetch(fake.url + path(conversationId, action), {
    method: 'POST',
    headers: { api_access_token: TOKEN },
    body: form,
  });

const file = (bytes: Buffer, type: string) => new Blob([new Uint8Array(bytes)], { type });

describe('multipart message creates in the fake Chatwoot', () => {
  it("takes the bridge's multipart create as Chatwoot does: fields, marker, files", async () => {
    const png = pngBytes(5_000);
    const message = await client.createMessageWithFiles(
      1,
      5,
      {
        content: 'Here you go',
        message_type: 'outgoing',
        private: false,
        content_type: 'text',
        content_attributes: { [MARKER_ATTRIBUTE]: 'chatwoot-bridge:message:1:5:9#0' },
      },
      [
        { fileName: 'a.png', contentType: 'image/png', bytes: new Uint8Array(png) },
        { fileName: 'b.pdf', contentType: 'application/pdf', bytes: new Uint8Array([1, 2, 3]) },
      ],
    );
    expect(message).toMatchObject({
      content: 'Here you go',
      private: false,
      content_attributes: { [MARKER_ATTRIBUTE]: 'chatwoot-bridge:message:1:5:9#0' },
      attachments: [
        { file_type: 'image', extension: 'png', file_size: 5_000, message_id: message.id },
        { file_type: 'file', extension: 'pdf', file_size: 3 },
      ],
    });
    expect(message.attachments?.[0]?.data_url).toMatch(/\/a\.png$/);
    expect(fake.messages(1, 5)[0]?.attachments).toMatchObject([
      { file_name: 'a.png', content_type: 'image/png', file_size: 5_000, sha256: sha256(png) },
      { file_name: 'b.pdf', content_type: 'application/pdf', file_size: 3 },
    ]);
    // The listing (what the bridge's look-up reads) shows the marker and the files too.
    const [listed] = await client.listMessages(1, 5);
    expect(listed).toMatchObject({
      content_attributes: { [MARKER_ATTRIBUTE]: 'chatwoot-bridge:message:1:5:9#0' },
      attachments: [{ file_type: 'image' }, { file_type: 'file' }],
    });
    expect(fake.calls[0]?.body).toMatchObject({
      private: false,
      'attachments[]': [
        { file_name: 'a.png', content_type: 'image/png', size: 5_000 },
        { file_name: 'b.pdf', content_type: 'application/pdf', size: 3 },
      ],
    });
    expect(fake.violations).toEqual([]);
  });

  it('checks the fields against the swagger as the JSON body they stand for', async () => {
    const form = new FormData();
    form.append('message_type', 'sideways');
    form.append('attachments[]', file(pngBytes(10), 'image/png'), 'a.png');
    const response = await post(form);
    expect(response.status).toBe(422);
    expect(fake.violations[0]?.errors).toEqual(
      expect.arrayContaining([
        "body must have required property 'content'",
        'body/message_type must be equal to one of the allowed values: outgoing, incoming',
      ]),
    );
    expect(fake.messages(1, 5)).toEqual([]);
  });

  it('refuses what only multipart can get wrong: attributes not JSON, files elsewhere, text as a file', async () => {
    const form = new FormData();
    form.append('content', 'x');
    form.append('private', 'yes');
    form.append('content_attributes', '{not json');
    form.append('file', file(pngBytes(10), 'image/png'), 'a.png');
    form.append('attachments[]', 'blob-signed-id');
    const response = await post(form);
    expect(response.status).toBe(400);
    expect(fake.violations[0]?.errors[0]?.split('; ')).toEqual([
      'private must be "true" or "false", got "yes"',
      'content_attributes must be a JSON object in a string',
      'file part "file": Chatwoot reads files only from attachments[]',
      'attachments[] holds text, not a file',
    ]);
  });

  it("answers 422 for a file type Chatwoot's Attachment validation refuses, saving nothing", async () => {
    const form = new FormData();
    form.append('content', 'x');
    form.append('attachments[]', file(Buffer.from('<html>'), 'text/html'), 'page.html');
    const response = await post(form);
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ message: 'Attachments is invalid' });
    expect(fake.messages(1, 5)).toEqual([]);
    // Chatwoot's answer, not the bridge's mistake: no violation.
    expect(fake.violations).toEqual([]);
  });

  it('takes multipart only where Chatwoot does for the bridge: message creates', async () => {
    const form = new FormData();
    form.append('typing_status', 'on');
    const response = await post(form, 5, 'toggle_typing_status');
    expect(response.status).toBe(400);
    expect(fake.violations[0]?.errors).toEqual([
      'toggle-typing-status-of-a-conversation takes JSON only',
    ]);
  });

  it('rejects the client call with the status (a 422 is not retried)', async () => {
    const error = await client
      .createMessageWithFiles(1, 5, { content: 'x', message_type: 'outgoing', private: false }, [
        { fileName: 'x.exe', contentType: 'application/x-msdownload', bytes: new Uint8Array([1]) },
      ])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChatwootRequestError);
    expect((error as ChatwootRequestError).status).toBe(422);
    expect((error as ChatwootRequestError).retryable).toBe(false);
  });
});
