import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullTurn } from '../activities/pullAgents.js';
import { aiwmTokens } from '../agents/aiwm/token.js';
import { runAgentExchange } from '../agents/registry.js';
import { REPLY_FIELD_KEYS } from '../agents/replyFields.js';
import { limitReply, MAX_METADATA_BYTES, MAX_REPLY_FIELDS_BYTES } from '../agents/replyLimits.js';
import type { AgentTurn } from '../agents/types.js';
import { agentConfigSchema } from '../config/schema.js';
import { startMockAgent, type MockAgentServer } from '../sandbox/mockAgents.js';
import { richPath } from '../sandbox/mockReplyFields.js';
import { startMockAiwm, type MockAiwm } from '../sandbox/mockAiwm.js';
import { deliveryReplies } from './helpers/deliveryReplies.js';
import { pullAgent, type PullAgent } from './helpers/pullAgent.js';
import { startStack, type Stack } from './helpers/stack.js';
import type { MessageDeliveryInput } from '../workflows/shared.js';

/**
 * The reply fields of issue 13 (`content_type`, `content_attributes`, `attachments`, `actions`)
 * reach the delivery workflow unchanged from every protocol, and a customer's files reach every
 * agent with their type. The workflow's side (validating and acting on the fields) is tested
 * where it is built; here: what each transport hands on.
 */

const FIELDS = {
  content_type: 'input_select',
  content_attributes: {
    items: [
      { title: 'Track my order', value: 'track' },
      { title: 'Talk to a person', value: 'human' },
    ],
  },
  attachments: [{ data: 'aGVsbG8gd29ybGQ=', file_name: 'hello.txt', content_type: 'text/plain' }],
  actions: [
    { type: 'add_labels', labels: ['vip'] },
    { type: 'set_priority', priority: 'high' },
  ],
};

/** A customer's voice note, as Chatwoot's webhook describes it (sandbox/chatwootWebhooks.ts). */
const VOICE_NOTE = {
  id: 31,
  file_type: 'audio',
  data_url: 'https://chatwoot.example/rails/active_storage/blobs/redirect/voice.ogg',
};
/** What every agent gets for it: Chatwoot's fields (thumb_url is empty but for images). */
const VOICE_NOTE_TURN: unknown = expect.objectContaining({ ...VOICE_NOTE, thumb_url: '' });

const PULL_KEY = 'pull-key-for-reply-fields-tests';

describe('reply fields and customer files through every protocol (real Temporal, real agents)', () => {
  let aiwm: MockAiwm;
  let stack: Stack;
  let puller: PullAgent;
  const inbox = { bridgeV1: 7, unified: 8, aiwm: 9, pull: 10 };

  beforeAll(async () => {
    aiwm = await startMockAiwm({ agents: { rich: richPath(FIELDS) } });
    stack = await startStack({
      agents: {
        v1: richPath(FIELDS),
        u: richPath(FIELDS, 'unified/'),
        puller: { transport: 'pull', apiKey: PULL_KEY, longPollMs: 5_000 },
      },
      agentConfigs: [
        {
          id: 'aiwm',
          transport: 'socketio',
          apiBase: aiwm.apiBase,
          url: aiwm.url,
          agentId: 'rich',
          secret: aiwm.secret,
          connectTimeoutMs: 1_000,
          replyTimeoutMs: 3_000,
          totalTimeoutMs: 10_000,
          settleMs: 300,
          releaseQuietMs: 200,
        },
      ],
      routes: {
        [inbox.bridgeV1]: 'v1',
        [inbox.unified]: 'u',
        [inbox.aiwm]: 'aiwm',
        [inbox.pull]: 'puller',
      },
    });
    puller = pullAgent(stack.app, 'puller', PULL_KEY);
  });
  afterAll(async () => {
    await stack?.stop();
    await aiwm?.close();
    aiwmTokens.clear();
  });

  /** Sends a voice note with a line of text; resolves with the delivery's id once it is over. */
  async function voiceNote(inboxId: number, conversationId: number): Promise<string> {
    const { json } = await stack.sendMessage({
      inboxId,
      conversationId,
      content: 'Here is what I mean',
      attachments: [VOICE_NOTE],
    });
    return json.workflowId as string;
  }

  const withFields: unknown = expect.objectContaining(FIELDS);

  it('bridge-v1: the voice note goes out in `attachments`; the reply fields come back whole', async () => {
    const workflowId = await voiceNote(inbox.bridgeV1, 801);
    await stack.result(workflowId);
    const request = stack.agentServer.requests.find((r) => r.conversation_id === '801');
    expect(request?.attachments).toEqual([VOICE_NOTE_TURN]);
    const { received } = await deliveryReplies(stack.temporal, workflowId);
    expect(received).toEqual([
      expect.objectContaining({ content: 'rich: Here is what I mean', metadata: withFields }),
    ]);
  });

  it('unified: the voice note goes out in `metadata.attachments`; the reply fields come back whole', async () => {
    const workflowId = await voiceNote(inbox.unified, 802);
    await stack.result(workflowId);
    const request = stack.agentServer.unifiedRequests.find(
      (r) => r.metadata.conversation_id === 802,
    );
    expect(request?.metadata.attachments).toEqual([VOICE_NOTE_TURN]);
    const { received } = await deliveryReplies(stack.temporal, workflowId);
    expect(received).toEqual([
      expect.objectContaining({ content: 'rich: Here is what I mean', metadata: withFields }),
    ]);
  });

  it('AIWM: the voice note goes out as its URL and whole in `metadata.attachments`; the reply fields come back whole', async () => {
    const workflowId = await voiceNote(inbox.aiwm, 803);
    await stack.result(workflowId);
    expect(aiwm.received).toEqual([
      expect.objectContaining({
        content: 'Here is what I mean',
        attachments: [VOICE_NOTE.data_url],
        metadata: expect.objectContaining({ attachments: [VOICE_NOTE_TURN] }),
      }),
    ]);
    const { received } = await deliveryReplies(stack.temporal, workflowId);
    expect(received).toEqual([
      expect.objectContaining({
        content: 'rich: Here is what I mean',
        // The bridge's own keys stay beside them.
        metadata: expect.objectContaining({ ...FIELDS, aiwm: expect.any(Object) }),
      }),
    ]);
  });

  it('pull: the voice note is in the turn; `metadata` on the outbox reaches the delivery', async () => {
    const workflowId = await voiceNote(inbox.pull, 804);
    const [turn] = await puller.pollUntilTurn();
    expect(turn?.attachments).toEqual([VOICE_NOTE_TURN]);
    const note = 'The customer sent a voice note; transcribed by the agent.';
    const posted = await puller.reply(turn!, 'Got it, thanks.', {
      final: true,
      metadata: { ...FIELDS, privateNote: note },
    });
    expect(posted.status).toBe(200);
    await stack.result(workflowId);
    const { pulled } = await deliveryReplies(stack.temporal, workflowId);
    expect(pulled).toEqual([
      expect.objectContaining({ kind: 'reply', metadata: { ...FIELDS, privateNote: note } }),
    ]);
    // The workflow read that same metadata: its private note went to the team.
    await stack.chatwoot.waitFor(
      () =>
        stack.chatwoot
          .messages(stack.accountId, 804)
          .some((message) => message.private && message.content === note),
      { description: 'the private note from the pull reply metadata' },
    );
  });

  it('pull: a `metadata` that is not an object is refused with 400 naming it', async () => {
    const posted = await puller.post({ message_id: 'nobody', content: 'x', metadata: 'rich' });
    expect(posted.status).toBe(400);
    expect(JSON.stringify(posted.json)).toMatch(/metadata/);
  });
});

describe('reply fields survive the metadata cut (agents/replyLimits.ts)', () => {
  const limits = { agentId: 'bot', maxReplyChars: 1_000 };

  it('kept whole when the rest of the metadata is too large to carry', () => {
    const metadata = { ...FIELDS, handoff: false, blob: 'b'.repeat(MAX_METADATA_BYTES) };
    const limited = limitReply({ content: 'hi', final: true, metadata }, limits, 0);
    expect(limited.metadata).toEqual({
      ...FIELDS,
      handoff: false,
      privateNote: expect.stringMatching(/metadata \([\d,]+ bytes\) was left out/),
    });
    for (const key of REPLY_FIELD_KEYS) expect(limited.metadata[key]).toEqual(FIELDS[key]);
  });

  it('an inline file larger than the metadata bound is carried, and no note is added', () => {
    const big = 'A'.repeat(MAX_METADATA_BYTES * 2);
    const attachments = [{ data: big, file_name: 'photo.jpg', content_type: 'image/jpeg' }];
    const reply = { content: 'hi', final: true, metadata: { ...FIELDS, attachments } };
    expect(limitReply(reply, limits, 0)).toBe(reply);
  });

  it('fields over their own budget are left out with a note naming them; the others stay', () => {
    const huge = 'A'.repeat(MAX_REPLY_FIELDS_BYTES);
    const attachments = [{ data: huge, file_name: 'video.mp4', content_type: 'video/mp4' }];
    const limited = limitReply(
      { content: 'hi', final: true, metadata: { ...FIELDS, attachments } },
      limits,
      0,
    );
    expect(limited.metadata).toEqual({
      content_type: FIELDS.content_type,
      content_attributes: FIELDS.content_attributes,
      actions: FIELDS.actions,
      privateNote: expect.stringMatching(/attachments \([\d,]+ bytes\) was left out/),
    });
  });
});

describe("Chatwoot's attachment fields reach every agent as they came (the exchanges)", () => {
  /** Everything Chatwoot's push_event_data may say about a voice note. */
  const attachment = {
    id: 77,
    file_type: 'audio',
    data_url: 'https://chatwoot.example/rails/active_storage/blobs/redirect/abc/voice.ogg',
    thumb_url: '',
    extension: 'ogg',
    file_size: 48_213,
    width: null,
    height: null,
    transcribed_text: 'I would like to change my delivery address',
  };
  const turn: AgentTurn = {
    agentId: 'a',
    attempt: 1,
    sessionId: 'a:1:900',
    accountId: 1,
    conversationId: 900,
    inboxId: 7,
    messageId: 9001,
    messageIds: [9001],
    content: '',
    attachments: [attachment],
    sender: { id: 5, name: 'Ana' },
  };
  let agents: MockAgentServer;
  let aiwm: MockAiwm;
  beforeAll(async () => {
    agents = await startMockAgent();
    aiwm = await startMockAiwm({ agents: { rich: richPath(FIELDS) } });
  });
  afterAll(async () => {
    await agents?.close();
    await aiwm?.close();
    aiwmTokens.clear();
  });

  const timeouts = { connectTimeoutMs: 1_000, replyTimeoutMs: 3_000, totalTimeoutMs: 10_000 };
  async function exchange(config: Record<string, unknown>) {
    const agent = agentConfigSchema.parse({ id: 'a', ...timeouts, ...config });
    const replies: Array<Record<string, unknown>> = [];
    const output = await runAgentExchange(agent, turn, {
      onReply: (reply) => void replies.push(reply.metadata),
    });
    expect(output.outcome).toBe('completed');
    return replies;
  }

  it('bridge-v1 and unified: the attachment whole; the reply fields back', async () => {
    const v1 = await exchange({ transport: 'ws', url: agents.url(richPath(FIELDS)) });
    expect(agents.requests.at(-1)?.attachments).toEqual([attachment]);
    const unified = await exchange({
      transport: 'ws',
      protocol: 'unified',
      url: agents.url(richPath(FIELDS, 'unified/')),
    });
    expect(agents.unifiedRequests.at(-1)?.metadata.attachments).toEqual([attachment]);
    for (const metadata of [...v1, ...unified]) expect(metadata).toMatchObject(FIELDS);
  });

  it('AIWM: the URL in `attachments`, the attachment whole in `metadata`; the fields back', async () => {
    const replies = await exchange({
      transport: 'socketio',
      apiBase: aiwm.apiBase,
      url: aiwm.url,
      agentId: 'rich',
      secret: aiwm.secret,
      settleMs: 200,
      releaseQuietMs: 0,
    });
    expect(aiwm.received.at(-1)).toMatchObject({
      content: '(attachment)',
      attachments: [attachment.data_url],
      metadata: { attachments: [attachment] },
    });
    expect(replies).toEqual([expect.objectContaining(FIELDS)]);
  });

  it('pull: the turn in the inbox has the attachment whole', () => {
    const { agentId, accountId, conversationId, inboxId, messageId, content, sender } = turn;
    const offered = pullTurn('message:1:900:9001', {
      agentId,
      attempt: 1,
      repliesReceived: 0,
      message: {
        agentId,
        accountId,
        conversationId,
        inboxId,
        messageId,
        content,
        sender,
        attachments: [attachment],
        // The turn is built from the message alone: the delivery policy plays no part.
        policy: {} as MessageDeliveryInput['policy'],
      },
      workflowTaskQueue: 'q',
    });
    expect(offered.attachments).toEqual([attachment]);
  });
});
