import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { agentAttachmentsSchema } from '../config/schema.js';
import { pngBytes, startFileServer } from './helpers/fileServer.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * Files in agent replies (metadata `attachments`), end to end: a mock agent of each protocol
 * sends the metadata the customer's message spells (the `scripted` behaviour), the bridge
 * fetches or decodes the files when it posts, and the fake Chatwoot takes them as Chatwoot
 * does (multipart `attachments[]`), checking every request.
 */

type FileServer = Awaited<ReturnType<typeof startFileServer>>;

/** Loopback must be allowed explicitly: the default refuses it (SSRF guard). */
const attachments = agentAttachmentsSchema.parse({
  allowedHosts: ['127.0.0.1'],
  allowedSchemes: ['http'],
  allowedAddresses: ['127.0.0.1'],
  maxBytes: 100_000,
});

const protocols = [
  { protocol: 'bridge-v1', inboxId: 7, agentId: 'v1' },
  { protocol: 'unified', inboxId: 8, agentId: 'uni' },
] as const;

describe.each(protocols)('files in $protocol replies', ({ inboxId, agentId }) => {
  let stack: Stack;
  let files: FileServer;
  const photo = pngBytes(20_000, 3);
  let photoHash: string;
  let conversation = 0;

  beforeAll(async () => {
    files = await startFileServer();
    photoHash = files.add('photo.png', 'image/png', photo);
    files.add('huge.png', 'image/png', pngBytes(250_000));
    stack = await startStack({
      agents: { v1: 'scripted', uni: 'unified/scripted' },
      routes: { 7: 'v1', 8: 'uni' },
      agentSettings: { v1: { attachments }, uni: { attachments } },
    });
    conversation = inboxId * 1_000;
  });
  afterAll(async () => {
    await stack?.stop();
    await files?.close();
  });

  /** The customer's message tells the scripted agent what to answer. */
  const ask = async (content: string, metadata: Record<string, unknown>) => {
    conversation += 1;
    const { json } = await stack.sendMessage({
      conversationId: conversation,
      inboxId,
      content: JSON.stringify({ content, metadata }),
    });
    const workflowId = json.workflowId as string;
    const report = await stack.result(workflowId);
    return {
      workflowId,
      report,
      messages: stack.chatwoot.messages(stack.accountId, conversation),
    };
  };

  it('downloads a URL and posts it as a file of the reply, with the marker', async () => {
    const { workflowId, report, messages } = await ask('Here is your photo', {
      attachments: [
        { url: files.url('/files/photo.png'), file_name: 'photo.png', content_type: 'image/png' },
      ],
    });
    expect(report.outcome).toBe('delivered');
    expect(report.replies[0]).toMatchObject({
      status: 'posted',
      attachments: [
        { fileName: 'photo.png', contentType: 'image/png', status: 'posted', bytes: 20_000 },
      ],
    });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      content: 'Here is your photo',
      private: false,
      content_attributes: { [MARKER_ATTRIBUTE]: bridgeSourceId(workflowId, 0) },
      attachments: [
        {
          file_type: 'image',
          file_name: 'photo.png',
          content_type: 'image/png',
          file_size: 20_000,
          sha256: photoHash,
        },
      ],
    });
    const post = stack.chatwoot.calls.find(
      (c) => c.method === 'POST' && c.path.endsWith('/messages'),
    );
    expect(post?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('decodes inline base64 and posts it', async () => {
    const text = Buffer.from('order 1234: 2 items\n');
    const { report, messages } = await ask('Your receipt', {
      attachments: [
        { data: text.toString('base64'), file_name: 'receipt.txt', content_type: 'text/plain' },
      ],
    });
    expect(report.replies[0]?.attachments).toEqual([
      { fileName: 'receipt.txt', contentType: 'text/plain', status: 'posted', bytes: text.length },
    ]);
    expect(messages.map((m) => [m.content, m.attachments?.map((a) => a.file_name)])).toEqual([
      ['Your receipt', ['receipt.txt']],
    ]);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('refuses a host the agent may not fetch from: the text is posted, the report and a note say why', async () => {
    const before = files.requests.length;
    const { report, messages } = await ask('See the attached invoice', {
      attachments: [
        {
          url: 'http://files.example.com/invoice.pdf',
          file_name: 'invoice.pdf',
          content_type: 'application/pdf',
        },
      ],
    });
    const reason = "host files.example.com is not in the agent's attachments.allowedHosts";
    expect(report.outcome).toBe('delivered');
    expect(report.replies[0]).toMatchObject({
      status: 'posted',
      note: 'posted',
      attachments: [{ fileName: 'invoice.pdf', status: 'refused', reason }],
    });
    expect(messages.map((m) => [m.private, m.content, m.attachments])).toEqual([
      [false, 'See the attached invoice', undefined],
      [
        true,
        `Reply 1 of AI agent "${agentId}" was posted without 1 file: invoice.pdf (${reason}).`,
        undefined,
      ],
    ]);
    expect(files.requests.length).toBe(before);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('refuses a file over maxBytes and posts the others', async () => {
    const { report, messages } = await ask('Two pictures', {
      attachments: [
        { url: files.url('/files/huge.png'), file_name: 'huge.png', content_type: 'image/png' },
        { url: files.url('/files/photo.png'), file_name: 'photo.png', content_type: 'image/png' },
      ],
    });
    expect(report.replies[0]?.attachments).toEqual([
      {
        fileName: 'huge.png',
        contentType: 'image/png',
        status: 'refused',
        reason: "file is 250,000 bytes, over the agent's attachments.maxBytes (100,000)",
      },
      { fileName: 'photo.png', contentType: 'image/png', status: 'posted', bytes: 20_000 },
    ]);
    const [reply, note] = messages;
    expect(reply?.attachments?.map((a) => a.file_name)).toEqual(['photo.png']);
    expect(note).toMatchObject({
      private: true,
      content: expect.stringContaining('huge.png (file is 250,000 bytes'),
    });
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('does not post a reply with no text when none of its files can be sent, and says why', async () => {
    const { report, messages } = await ask('', {
      attachments: [
        { url: 'http://files.example.com/a.png', file_name: 'a.png', content_type: 'image/png' },
      ],
    });
    expect(report.outcome).toBe('failed');
    expect(report.replies[0]).toEqual({
      index: 0,
      status: 'failed',
      error:
        "the reply has no text and none of its files could be sent: a.png (host files.example.com is not in the agent's attachments.allowedHosts)",
    });
    expect(messages).toEqual([]);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('posts once when the answer to the multipart create is lost: one message, one file', async () => {
    // Chatwoot stores the message, then the connection drops before the bridge hears back.
    stack.chatwoot.injectFault({
      drop: true,
      afterApply: true,
      match: { method: 'POST', pathIncludes: '/messages' },
    });
    const { report, messages } = await ask('Photo again', {
      attachments: [
        { url: files.url('/files/photo.png'), file_name: 'photo.png', content_type: 'image/png' },
      ],
    });
    expect(report.outcome).toBe('delivered');
    expect(report.replies[0]).toMatchObject({
      status: 'posted',
      alreadyPosted: true,
      attachments: [{ fileName: 'photo.png', status: 'posted' }],
    });
    expect(messages).toHaveLength(1);
    expect(messages[0]?.attachments?.map((a) => [a.file_name, a.sha256])).toEqual([
      ['photo.png', photoHash],
    ]);
    const creates = stack.chatwoot.calls.filter(
      (c) => c.method === 'POST' && c.path.endsWith(`/conversations/${conversation}/messages`),
    );
    expect(creates.map((c) => c.fault ?? 'answered')).toEqual(['drop-after-apply']);
    expect(stack.chatwoot.violations).toEqual([]);
  });
});
