import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentAttachmentsSchema } from '../config/schema.js';
import { startMockAiwm, type MockAiwm } from '../sandbox/mockAiwm.js';
import { pngBytes, startFileServer } from './helpers/fileServer.js';
import { pullAgent } from './helpers/pullAgent.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * Files in replies from the two protocols that need no socket of the bridge's own: AIWM
 * (Socket.IO, the `scripted` mock behaviour) and pull agents (the outbox). Same metadata key,
 * same post, same report as test/attachments.test.ts.
 */

type FileServer = Awaited<ReturnType<typeof startFileServer>>;

const attachments = agentAttachmentsSchema.parse({
  allowedHosts: ['127.0.0.1'],
  allowedSchemes: ['http'],
  allowedAddresses: ['127.0.0.1'],
});
const PULL_KEY = 'pull-attachments-key-0123456789';

describe('files in AIWM and pull replies', () => {
  let stack: Stack;
  let aiwm: MockAiwm;
  let files: FileServer;
  let photoHash: string;
  let conversation = 4_000;

  beforeAll(async () => {
    files = await startFileServer();
    photoHash = files.add('photo.png', 'image/png', pngBytes(12_000, 5));
    aiwm = await startMockAiwm({ agents: { scripted: 'scripted' } });
    stack = await startStack({
      agents: { puller: { transport: 'pull', apiKey: PULL_KEY, attachments } },
      agentConfigs: [
        {
          id: 'aiwm',
          transport: 'socketio',
          apiBase: aiwm.apiBase,
          url: aiwm.url,
          agentId: 'scripted',
          secret: aiwm.secret,
          settleMs: 300,
          releaseQuietMs: 200,
          attachments,
        },
      ],
      routes: { 7: 'aiwm', 8: 'puller' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await aiwm?.close();
    await files?.close();
  });

  const photo = () => ({
    url: files.url('/files/photo.png'),
    file_name: 'photo.png',
    content_type: 'image/png',
  });
  const refused = {
    url: 'http://files.example.com/x.pdf',
    file_name: 'x.pdf',
    content_type: 'application/pdf',
  };

  const expectPhotoPosted = (conversationId: number, text: string) => {
    const [message, note] = stack.chatwoot.messages(stack.accountId, conversationId);
    expect(message).toMatchObject({
      content: text,
      private: false,
      attachments: [{ file_name: 'photo.png', content_type: 'image/png', sha256: photoHash }],
    });
    expect(note).toMatchObject({
      private: true,
      content: expect.stringContaining(
        "x.pdf (host files.example.com is not in the agent's attachments.allowedHosts)",
      ),
    });
    expect(stack.chatwoot.violations).toEqual([]);
  };

  it('AIWM: posts the downloaded file, refuses the host not allowed, says so', async () => {
    conversation += 1;
    const { json } = await stack.sendMessage({
      conversationId: conversation,
      inboxId: 7,
      content: JSON.stringify({
        content: 'From AIWM',
        metadata: { attachments: [photo(), refused] },
      }),
    });
    const report = await stack.result(json.workflowId as string);
    expect(report.replies[0]?.attachments?.map((a) => [a.fileName, a.status])).toEqual([
      ['photo.png', 'posted'],
      ['x.pdf', 'refused'],
    ]);
    expectPhotoPosted(conversation, 'From AIWM');
  });

  it('pull: posts the downloaded file, refuses the host not allowed, says so', async () => {
    conversation += 1;
    const agent = pullAgent(stack.app, 'puller', PULL_KEY);
    const { json } = await stack.sendMessage({ conversationId: conversation, inboxId: 8 });
    const [turn] = await agent.pollUntilTurn();
    const answer = await agent.post({
      message_id: turn?.message_id,
      content: 'From a pull agent',
      final: true,
      metadata: { attachments: [photo(), refused] },
    });
    expect(answer.status).toBe(200);
    const report = await stack.result(json.workflowId as string);
    expect(report.replies[0]?.attachments?.map((a) => [a.fileName, a.status])).toEqual([
      ['photo.png', 'posted'],
      ['x.pdf', 'refused'],
    ]);
    expectPhotoPosted(conversation, 'From a pull agent');
  });
});
