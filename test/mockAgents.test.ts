import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type RawData } from 'ws';
import type { AgentRequest } from '../agents/bridgeV1/protocol.js';
import {
  conversationEventPayload,
  messageCreatedPayload,
  signWebhook,
} from '../sandbox/chatwootWebhooks.js';
import { startMockAgent, type MockAgentServer } from '../sandbox/mockAgents.js';

interface Outcome {
  frames: Array<Record<string, unknown>>;
  raw: string[];
  closeCode: number;
}

// Client sockets keep ws's default binaryType 'nodebuffer', so frames arrive as Buffers.
const text = (data: RawData) => (data as Buffer).toString('utf8');

let seq = 0;
function request(overrides: Partial<AgentRequest> = {}): AgentRequest {
  seq++;
  return {
    message_id: `m-${seq}`,
    conversation_id: 'c-1',
    inbox_id: '7',
    account_id: '1',
    session_id: 's-1',
    content: 'hi',
    attachments: [],
    sender: { id: 42, name: 'Ada' },
    metadata: {},
    ...overrides,
  };
}

/**
 * Sends one frame and records everything until the socket closes. With `closeOnFinal` the
 * client closes after a final reply, as the bridge does (echo waits for that).
 */
function exchange(url: string, frame: unknown, { closeOnFinal = false } = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const outcome: Outcome = { frames: [], raw: [], closeCode: 0 };
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)));
    ws.on('message', (data) => {
      outcome.raw.push(text(data));
      try {
        const parsed = JSON.parse(text(data)) as Record<string, unknown>;
        outcome.frames.push(parsed);
        if (closeOnFinal && parsed.response_type === 'final') ws.close(1000);
      } catch {
        ws.close(1000);
      }
    });
    ws.on('close', (code) => resolve({ ...outcome, closeCode: code }));
    ws.on('error', reject);
  });
}

function connectError(url: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      ws.close();
      resolve(undefined);
    });
    ws.on('error', (error) => resolve(error));
  });
}

describe('mock agents', () => {
  let agent: MockAgentServer;
  beforeAll(async () => {
    agent = await startMockAgent({ agentId: 'mock-test' });
  });
  afterAll(async () => {
    await agent.close();
  });

  it('builds URLs on its port', () => {
    expect(agent.port).toBeGreaterThan(0);
    expect(agent.url('multi?count=3')).toBe(`ws://127.0.0.1:${agent.port}/multi?count=3`);
  });

  it('echo answers once, final, with the request ids, and records the request', async () => {
    const req = request({ content: 'where is my order?' });
    const before = agent.connections;
    const { frames } = await exchange(agent.url('echo'), req, { closeOnFinal: true });
    expect(frames).toEqual([
      {
        message_id: req.message_id,
        conversation_id: 'c-1',
        content: 'echo: where is my order?',
        response_type: 'final',
        metadata: expect.objectContaining({ agent_id: 'mock-test', is_final: true }) as unknown,
      },
    ]);
    expect(agent.requests.at(-1)).toEqual(req);
    expect(agent.connections).toBe(before + 1);
  });

  it('multi sends N replies in order, only the last final', async () => {
    const { frames } = await exchange(agent.url('multi?count=3&delayMs=5'), request(), {
      closeOnFinal: true,
    });
    expect(frames.map((f) => f.content)).toEqual([
      'reply 1/3: hi',
      'reply 2/3: hi',
      'reply 3/3: hi',
    ]);
    expect(frames.map((f) => f.response_type)).toEqual(['partial', 'partial', 'final']);
  });

  it('drop cuts the first connection abruptly, then behaves like multi', async () => {
    const req = request();
    const url = agent.url('drop?after=2&count=3&delayMs=5');
    const first = await exchange(url, req);
    expect(first.closeCode).toBe(1006);
    expect(first.frames.map((f) => f.content)).toEqual(['reply 1/3: hi', 'reply 2/3: hi']);
    expect(first.frames.every((f) => f.response_type === 'partial')).toBe(true);

    const second = await exchange(url, req, { closeOnFinal: true });
    expect(second.frames).toHaveLength(3);
    expect(second.frames.at(-1)).toMatchObject({
      content: 'reply 3/3: hi',
      response_type: 'final',
    });

    // Another message id gets its own first (dropped) connection.
    expect((await exchange(url, request())).closeCode).toBe(1006);
  });

  it('close sends partials only, then closes cleanly', async () => {
    const { frames, closeCode } = await exchange(agent.url('close?count=2&delayMs=5'), request());
    expect(frames.map((f) => f.response_type)).toEqual(['partial', 'partial']);
    expect(closeCode).toBe(1000);
  });

  it('error sends an error frame and closes', async () => {
    const req = request();
    const outcome = await exchange(agent.url('error?code=rate_limited&retryable=false'), req);
    expect(outcome.frames).toEqual([
      {
        message_id: req.message_id,
        error: { code: 'rate_limited', message: expect.any(String) as unknown, retryable: false },
      },
    ]);
    expect(outcome.closeCode).toBe(1000);
    const retryable = await exchange(agent.url('error?code=busy'), request());
    expect(retryable.frames[0]).toMatchObject({ error: { code: 'busy', retryable: true } });
  });

  it('rejects an invalid request with bad_request', async () => {
    const outcome = await exchange(agent.url('echo'), { message_id: 'x' });
    expect(outcome.frames[0]).toMatchObject({ error: { code: 'bad_request', retryable: false } });
    const notJson = await exchange(agent.url('echo'), 'not json');
    expect(notJson.frames[0]).toMatchObject({ error: { code: 'bad_request' } });
  });

  it('slow waits before its final reply', async () => {
    const started = Date.now();
    const { frames } = await exchange(agent.url('slow?delayMs=80'), request(), {
      closeOnFinal: true,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect(frames).toMatchObject([{ content: 'echo: hi', response_type: 'final' }]);
  });

  it('garbage sends a non-JSON frame; silent sends nothing', async () => {
    const garbage = await exchange(agent.url('garbage'), request());
    expect(garbage.raw).toHaveLength(1);
    expect(() => {
      JSON.parse(garbage.raw[0] ?? '');
    }).toThrow();

    const ws = new WebSocket(agent.url('silent'));
    const received: string[] = [];
    ws.on('message', (data) => received.push(text(data)));
    await new Promise((resolve) => ws.on('open', resolve));
    ws.send(JSON.stringify(request()));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual([]);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it('setAvailable(false) refuses connections and kills open ones; true serves the same port', async () => {
    const port = agent.port;
    const open = new WebSocket(agent.url('silent'));
    await new Promise((resolve) => open.on('open', resolve));
    const killed = new Promise<number>((resolve) => open.on('close', resolve));

    await agent.setAvailable(false);
    expect(await killed).toBe(1006);
    expect((await connectError(agent.url('echo')))?.code).toBe('ECONNREFUSED');

    await agent.setAvailable(true);
    expect(agent.port).toBe(port);
    const { frames } = await exchange(agent.url('echo'), request(), { closeOnFinal: true });
    expect(frames[0]).toMatchObject({ response_type: 'final' });
  });
});

describe('chatwoot webhook payloads', () => {
  it('message_created: string message_type on top, integer inside conversation.messages', () => {
    const payload = messageCreatedPayload({ conversationId: 12, content: 'Need help' });
    expect(payload).toMatchObject({
      event: 'message_created',
      message_type: 'incoming',
      content: 'Need help',
      private: false,
      account: { id: 1 },
      inbox: { id: 7 },
      conversation: { id: 12, inbox_id: 7, status: 'open' },
    });
    expect(typeof payload.created_at).toBe('string');
    const conversation = payload.conversation as { messages: Array<Record<string, unknown>> };
    expect(conversation.messages).toHaveLength(1);
    expect(conversation.messages[0]).toMatchObject({ id: payload.id, message_type: 0 });
  });

  it('message ids increment by default', () => {
    const first = messageCreatedPayload().id as number;
    expect(messageCreatedPayload().id).toBe(first + 1);
  });

  it('sender shapes: contact has no type, user and bot do, null allowed', () => {
    const contact = messageCreatedPayload().sender as Record<string, unknown>;
    expect(contact).toHaveProperty('id');
    expect(contact).not.toHaveProperty('type');
    expect(messageCreatedPayload({ messageType: 'outgoing', sender: 'user' }).sender).toMatchObject(
      {
        type: 'user',
      },
    );
    const bot = messageCreatedPayload({ messageType: 'outgoing', sender: 'agent_bot' });
    expect(bot).toMatchObject({ message_type: 'outgoing', sender: { type: 'agent_bot' } });
    expect(messageCreatedPayload({ sender: null }).sender).toBeNull();
  });

  it('attachment-only and private messages', () => {
    const withFile = messageCreatedPayload({
      content: null,
      attachments: [{ id: 9, file_type: 'image', data_url: 'https://files.example/x.png' }],
    });
    expect(withFile.content).toBeNull();
    expect(withFile.attachments).toEqual([
      expect.objectContaining({
        id: 9,
        file_type: 'image',
        data_url: 'https://files.example/x.png',
      }),
    ]);
    const note = messageCreatedPayload({ private: true, messageType: 'outgoing', sender: 'user' });
    expect(note.private).toBe(true);
    expect((note.conversation as { messages: unknown[] }).messages).toEqual([]);
  });

  it('conversation events carry event and changed_attributes', () => {
    const changed = conversationEventPayload('conversation_status_changed', { status: 'resolved' });
    expect(changed).toMatchObject({
      event: 'conversation_status_changed',
      status: 'resolved',
      changed_attributes: [{ status: { previous_value: 'pending', current_value: 'resolved' } }],
    });
    expect(conversationEventPayload('conversation_created')).toMatchObject({
      event: 'conversation_created',
      id: 1,
    });
    expect(conversationEventPayload('webwidget_triggered')).toMatchObject({
      event: 'webwidget_triggered',
      current_conversation: { id: 1 },
      event_info: { browser_language: 'en' },
    });
  });

  it('signature verifies with node:crypto over "<timestamp>.<body>"', () => {
    const body = JSON.stringify(messageCreatedPayload());
    const headers = signWebhook(body, 's3cret', 1_700_000_000);
    const expected = createHmac('sha256', 's3cret').update(`1700000000.${body}`).digest('hex');
    expect(headers['x-chatwoot-timestamp']).toBe('1700000000');
    expect(headers['x-chatwoot-signature']).toBe(`sha256=${expected}`);
    expect(headers['x-chatwoot-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    expect(signWebhook(body, 'other', 1_700_000_000)['x-chatwoot-signature']).not.toBe(
      headers['x-chatwoot-signature'],
    );
  });
});
