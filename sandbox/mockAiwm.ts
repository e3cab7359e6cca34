import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { Server, type Socket } from 'socket.io';
import {
  sendMessageSchema,
  tokenRequestSchema,
  type NewMessage,
  type SendMessage,
  type TokenResponse,
} from '../agents/aiwm/protocol.js';
import { metadataParam } from './mockReplyFields.js';
import { scriptedReply } from './scriptedReply.js';

/**
 * A mock AIWM (seed 004) for tests and the demo: the token endpoint
 * (`POST /agents/{agentId}/connect`) and the Socket.IO chat namespace on one port.
 *
 * Like AIWM, every agent has one conversation that all its sockets join, and the answer to a
 * `message:send` from a user goes to that whole room. Each agent's answer is a behaviour given
 * as `name?param=value` (`echo`, `multi?count=3&delayMs=30`, `error?reason=…`; see
 * `behaviours` below). Like a real agent, an answer goes on to the room whoever asked, also
 * after the asking socket has gone: a late part reaches whoever listens then.
 *
 * `echoTurnId=true` on any behaviour: the answers carry the asking message's `metadata.turnId`
 * (the bridge's correlation extension); `answerInOwn=true`: the answers go to the agent's own
 * conversation whatever conversation asked (as the seed's example agent does). `conversation:join` of any conversation is allowed
 * unless `joinConversations: false`, when a message sent into another conversation than the
 * agent's own gets `message:error` "No conversation found".
 */

export const ASSISTANT_ID = 'aiwm-assistant';

export interface MockAiwmOptions {
  port?: number;
  host?: string;
  /** The secret every agent accepts. */
  secret?: string;
  /** AIWM agent id → behaviour, e.g. `{ echo: 'echo', multi: 'multi?count=3' }`. */
  agents?: Record<string, string>;
  /** Token lifetime in seconds, for every agent unless `setExpiresIn` says otherwise. */
  expiresInSeconds?: number;
  /** The Socket.IO namespace (the path of `url`). */
  namespace?: string;
  /** false: only the agent's own auto conversation takes messages (default true). */
  joinConversations?: boolean;
}

export interface TokenRecord {
  agentId: string;
  token: string;
  issuedAt: number;
  expiresAt: number;
  revoked: boolean;
}

export interface HandshakeRecord {
  agentId?: string;
  token?: string;
  accepted: boolean;
  reason?: string;
}

export interface ReceivedMessage extends SendMessage {
  agentId: string;
  socketId: string;
}

export interface MockAiwm {
  /** For `apiBase`: the token endpoint is `${apiBase}/agents/{agentId}/connect`. */
  readonly apiBase: string;
  /** For `url`: the Socket.IO namespace. */
  readonly url: string;
  readonly secret: string;
  /** Every call to the token endpoint, with the status answered. */
  readonly tokenRequests: Array<{ agentId: string; status: number }>;
  readonly tokens: TokenRecord[];
  readonly handshakes: HandshakeRecord[];
  /** Every valid `message:send`, in arrival order. */
  readonly received: ReceivedMessage[];
  /** Sockets connected right now. */
  readonly openSockets: number;
  tokenRequestsFor(agentId: string): number;
  tokensIssuedFor(agentId: string): number;
  addAgent(agentId: string, behaviour: string): void;
  setExpiresIn(agentId: string, seconds: number): void;
  /** Every token the agent holds stops working (as if AIWM restarted with a new signing key). */
  revokeTokens(agentId: string): void;
  /** false: stop listening and drop every socket; true: listen again on the same port. */
  setAvailable(available: boolean): Promise<void>;
  close(): Promise<void>;
}

/** What a behaviour gets to work with for one user message. */
interface Turn {
  socket: Socket;
  message: ReceivedMessage;
  conversationId: string;
  params: URLSearchParams;
  /** Resolves after `ms`; rejects only when the mock server closes. */
  wait(ms: number): Promise<void>;
  ack(): void;
  reply(content: string, extra?: Partial<NewMessage>): void;
  typing(isTyping: boolean): void;
}

type Behaviour = (turn: Turn) => Promise<void> | void;

/** Set by the handshake check on every accepted socket. */
interface SocketData {
  agentId: string;
}

function intParam(params: URLSearchParams, name: string, fallback: number): number {
  const value = Number.parseInt(params.get(name) ?? '', 10);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

async function numbered(turn: Turn, count: number, upTo = count): Promise<void> {
  const delayMs = intParam(turn.params, 'delayMs', 20);
  const final = turn.params.get('final') === 'true';
  for (let i = 1; i <= upTo; i++) {
    if (i > 1) await turn.wait(delayMs);
    turn.reply(`reply ${i}/${count}: ${turn.message.content}`, {
      ...(final && i === count ? { final: true } : {}),
    });
  }
}

function behaviours(dropped: Set<string>): Record<string, Behaviour> {
  return {
    /** Answers with the text and metadata the user's message spells (see `scriptedReply`). */
    scripted: (turn) => {
      turn.ack();
      const script = scriptedReply(turn.message.content);
      const turnId = turn.message.metadata?.turnId;
      turn.reply(script.content, {
        final: true,
        metadata: { ...(typeof turnId === 'string' ? { turnId } : {}), ...script.metadata },
      });
    },
    echo: (turn) => {
      turn.ack();
      const final = turn.params.get('final') === 'true';
      turn.reply(`echo: ${turn.message.content}`, final ? { final: true } : {});
    },
    multi: (turn) => {
      turn.ack();
      return numbered(turn, intParam(turn.params, 'count', 3));
    },
    /** One answer whose `metadata.actions` is the `actions` parameter (JSON). */
    actions: (turn) => {
      turn.ack();
      const actions = JSON.parse(turn.params.get('actions') ?? '[]') as unknown;
      turn.reply(`done: ${turn.message.content}`, {
        final: true,
        ...({ metadata: { actions } } as Partial<NewMessage>),
      });
    },
    /**
     * An answer in two parts `gapMs` apart (a tool call, a second thought): the second part
     * comes whether or not anybody who asked is still listening.
     */
    twoPart: async (turn) => {
      turn.ack();
      turn.reply(`part 1/2 for ${turn.message.content}`);
      await turn.wait(intParam(turn.params, 'gapMs', 1_000));
      turn.reply(`part 2/2 for ${turn.message.content}`);
    },
    /** One answer of `chars` characters (a runaway agent). */
    big: (turn) => {
      turn.ack();
      turn.reply(`big: ${'z'.repeat(intParam(turn.params, 'chars', 2_500_000))}`);
    },
    slow: async (turn) => {
      turn.ack();
      await turn.wait(intParam(turn.params, 'delayMs', 1_000));
      turn.reply(`echo: ${turn.message.content}`);
    },
    /** The server refuses the message (`message:error`), as for a validation error. */
    error: (turn) => {
      turn.socket.emit('message:error', {
        success: false,
        error: turn.params.get('reason') ?? 'Validation failed',
        timestamp: new Date().toISOString(),
      });
    },
    /** Acknowledged, never answered. */
    silent: (turn) => turn.ack(),
    /** Never acknowledged. */
    noack: () => undefined,
    /** The first time a text comes: `after` replies, then the server drops the socket. */
    drop: async (turn) => {
      turn.ack();
      const count = intParam(turn.params, 'count', 3);
      if (dropped.has(turn.message.content)) return numbered(turn, count);
      dropped.add(turn.message.content);
      await numbered(turn, count, intParam(turn.params, 'after', 1));
      turn.socket.disconnect(true);
    },
    /** Typing on, the answer, typing off (the seed's example agent). */
    typing: async (turn) => {
      turn.ack();
      turn.typing(true);
      await turn.wait(intParam(turn.params, 'delayMs', 100));
      turn.reply(`echo: ${turn.message.content}`);
      turn.typing(false);
    },
    /** `rich: …` carrying the metadata given as JSON in `metadata` (the reply fields). */
    rich: (turn) => {
      turn.ack();
      turn.reply(`rich: ${turn.message.content}`, { metadata: metadataParam(turn.params) });
    },
    /** A reasoning step, then an answer carrying tool use, usage and latency. */
    thinking: async (turn) => {
      turn.ack();
      turn.reply('Let me look the order up first.', { type: 'thinking' });
      await turn.wait(20);
      turn.reply(`Your order is on its way (${turn.message.content}).`, {
        thinking: { content: 'The customer asks about an order.', visible: false, duration: 12 },
        toolCalls: [
          {
            id: 'call_1',
            type: 'mcp_tool',
            function: { name: 'order_lookup', arguments: '{"order":"42"}' },
          },
        ],
        toolResults: [
          {
            toolCallId: 'call_1',
            toolName: 'order_lookup',
            result: { status: 'shipped' },
            success: true,
            executionTime: 35,
          },
        ],
        usage: { promptTokens: 450, completionTokens: 120, totalTokens: 570 },
        latency: 2300,
      });
    },
  };
}

export async function startMockAiwm(options: MockAiwmOptions = {}): Promise<MockAiwm> {
  const host = options.host ?? '127.0.0.1';
  const secret = options.secret ?? 'aiwm-test-secret';
  const namespace = options.namespace ?? '/chat';
  const agents = new Map(Object.entries(options.agents ?? {}));
  const expiresIn = new Map<string, number>();
  const tokenRequests: MockAiwm['tokenRequests'] = [];
  const tokens: TokenRecord[] = [];
  const handshakes: HandshakeRecord[] = [];
  const received: ReceivedMessage[] = [];
  const table = behaviours(new Set());
  /** Aborted on close: the answers still going stop there. */
  const closing = new AbortController();
  let port = options.port ?? 0;
  let listening = false;

  const httpServer = createServer((req, res) => void handleHttp(req, res));
  const io = new Server(httpServer, { transports: ['websocket'], serveClient: false });
  const chat = io.of(namespace);

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const match = /^\/agents\/([^/]+)\/connect$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (req.method !== 'POST' || !match) return json(404, { message: 'Not found' });
    const agentId = decodeURIComponent(match[1] ?? '');
    const answer = (status: number, body: unknown) => {
      tokenRequests.push({ agentId, status });
      json(status, body);
    };
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = tokenRequestSchema.safeParse(parseJson(Buffer.concat(chunks).toString('utf8')));
    if (!body.success) return answer(400, { statusCode: 400, message: 'secret is required' });
    if (!agents.has(agentId)) return answer(404, { statusCode: 404, message: 'Agent not found' });
    if (body.data.secret !== secret) {
      return answer(401, { statusCode: 401, message: 'Invalid agent secret' });
    }
    const seconds = expiresIn.get(agentId) ?? options.expiresInSeconds ?? 3_600;
    const token = `${agentId}.${randomUUID()}`;
    const issuedAt = Date.now();
    tokens.push({
      agentId,
      token,
      issuedAt,
      expiresAt: issuedAt + seconds * 1_000,
      revoked: false,
    });
    const response: TokenResponse & Record<string, unknown> = {
      accessToken: token,
      expiresIn: seconds,
      tokenType: 'bearer',
      instruction: { id: 'instruction-1', systemPrompt: 'You are a helpful assistant.' },
      settings: {},
      mcpServers: {},
    };
    answer(200, response);
  }

  chat.use((socket, next) => {
    const token = tokenOf(socket);
    const record = tokens.find((candidate) => candidate.token === token);
    const refuse = (reason: string) => {
      handshakes.push({ agentId: record?.agentId, token, accepted: false, reason });
      next(Object.assign(new Error(reason), { data: { status: 401 } }));
    };
    if (!token) return refuse('Authentication token required');
    if (!record || record.revoked) return refuse('Invalid token');
    if (record.expiresAt <= Date.now()) return refuse('Token expired');
    handshakes.push({ agentId: record.agentId, token, accepted: true });
    (socket.data as SocketData).agentId = record.agentId;
    next();
  });

  chat.on('connection', (socket) => {
    const { agentId } = socket.data as SocketData;
    const conversationId = `conversation-${agentId}`;
    void socket.join(conversationId);
    // Others' presence first: a client must pick its own.
    socket.emit('presence:update', {
      type: 'agent',
      agentId: ASSISTANT_ID,
      conversationId,
      status: 'online',
    });
    chat
      .to(conversationId)
      .emit('presence:update', { type: 'agent', agentId, conversationId, status: 'online' });

    socket.on('conversation:join', (data: { conversationId?: unknown }) => {
      if (typeof data?.conversationId === 'string') void socket.join(data.conversationId);
    });

    socket.on('message:send', (data: unknown) => {
      const parsed = sendMessageSchema.safeParse(data);
      if (!parsed.success) {
        socket.emit('message:error', {
          success: false,
          error: `Validation failed: ${parsed.error.issues[0]?.message ?? 'invalid message'}`,
          timestamp: new Date().toISOString(),
        });
        return;
      }
      const room = parsed.data.conversationId ?? conversationId;
      if (options.joinConversations === false && room !== conversationId) {
        socket.emit('message:error', {
          success: false,
          error: `No conversation found: ${room}`,
          timestamp: new Date().toISOString(),
        });
        return;
      }
      const message: ReceivedMessage = { ...parsed.data, agentId, socketId: socket.id };
      received.push(message);
      const messageId = randomUUID();
      // Like AIWM, the sender hears its own message too.
      chat.to(room).emit('message:new', {
        _id: messageId,
        conversationId: room,
        role: parsed.data.role,
        content: parsed.data.content,
        participantId: agentId,
        type: 'text',
        ...(parsed.data.metadata ? { metadata: parsed.data.metadata } : {}),
        createdAt: new Date().toISOString(),
      } satisfies NewMessage & { createdAt: string });
      if (parsed.data.role !== 'user') return;

      const url = new URL(agents.get(agentId) ?? 'echo', 'mock://behaviour/');
      const behaviour = table[url.pathname.replace(/^\/+/, '')];
      if (!behaviour) {
        socket.emit('message:error', { success: false, error: `no behaviour ${url.pathname}` });
        return;
      }
      // `answerInOwn=true`: like the seed's example agent, answer in the agent's own conversation
      // whatever conversation the message came in.
      const answerRoom = url.searchParams.get('answerInOwn') === 'true' ? conversationId : room;
      const turnId = parsed.data.metadata?.turnId;
      const echo =
        url.searchParams.get('echoTurnId') === 'true' && typeof turnId === 'string'
          ? { metadata: { turnId } }
          : {};
      const turn: Turn = {
        socket,
        message,
        conversationId: room,
        params: url.searchParams,
        wait: (ms) => sleep(ms, undefined, { signal: closing.signal }),
        ack: () =>
          socket.emit('message:sent', {
            success: true,
            messageId,
            timestamp: new Date().toISOString(),
          }),
        reply: (content, extra = {}) => {
          chat.to(answerRoom).emit('message:new', {
            _id: randomUUID(),
            conversationId: answerRoom,
            role: 'assistant',
            content,
            participantId: ASSISTANT_ID,
            type: 'text',
            createdAt: new Date().toISOString(),
            ...echo,
            ...extra,
            // An echoed turn id stays beside the behaviour's own metadata.
            ...(echo.metadata || extra.metadata
              ? { metadata: { ...echo.metadata, ...extra.metadata } }
              : {}),
          });
        },
        typing: (isTyping) => {
          chat.to(room).emit('user:typing', {
            type: 'agent',
            agentId: ASSISTANT_ID,
            conversationId: room,
            isTyping,
          });
        },
      };
      void Promise.resolve()
        .then(() => behaviour(turn))
        .catch((error: unknown) => {
          // The mock server closed mid-answer: the answer stops there.
          if (!closing.signal.aborted) throw error;
        });
    });
  });

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, host, () => {
        httpServer.off('error', reject);
        listening = true;
        resolve();
      });
    });

  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      chat.disconnectSockets(true);
      io.engine.close();
      httpServer.close(() => resolve());
      httpServer.closeAllConnections();
    });

  await listen();
  const address = httpServer.address();
  port = typeof address === 'object' && address ? address.port : port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const apiBase = `http://${urlHost}:${port}`;

  return {
    apiBase,
    url: `${apiBase}${namespace}`,
    secret,
    tokenRequests,
    tokens,
    handshakes,
    received,
    get openSockets() {
      return chat.sockets.size;
    },
    tokenRequestsFor: (agentId) => tokenRequests.filter((r) => r.agentId === agentId).length,
    tokensIssuedFor: (agentId) => tokens.filter((t) => t.agentId === agentId).length,
    addAgent: (agentId, behaviour) => void agents.set(agentId, behaviour),
    setExpiresIn: (agentId, seconds) => void expiresIn.set(agentId, seconds),
    revokeTokens: (agentId) => {
      for (const record of tokens) if (record.agentId === agentId) record.revoked = true;
    },
    setAvailable: (available) =>
      available ? (listening ? Promise.resolve() : listen()) : stopListening(),
    close: async () => {
      closing.abort();
      await stopListening();
      await io.close();
    },
  };
}

/** The seed allows the token in `auth`, in the query string or as a bearer header. */
function tokenOf(socket: Socket): string | undefined {
  const auth = socket.handshake.auth as { token?: unknown };
  if (typeof auth.token === 'string') return auth.token;
  const query = socket.handshake.query.token;
  if (typeof query === 'string') return query;
  const header = socket.handshake.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const agents = {
    echo: 'echo',
    multi: 'multi?count=3&delayMs=300',
    twoPart: 'twoPart?gapMs=6000',
    typing: 'typing?delayMs=500',
    thinking: 'thinking',
    error: 'error?reason=Validation failed',
    silent: 'silent',
  };
  const aiwm = await startMockAiwm({
    port: Number(process.env.PORT ?? 9002),
    host: process.env.HOST,
    agents,
  });
  console.log(`mock AIWM: apiBase ${aiwm.apiBase}, url ${aiwm.url}, secret "${aiwm.secret}"`);
  console.log(`agents (agentId → behaviour): ${JSON.stringify(agents)}`);
  const shutdown = () => void aiwm.close().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
