import { createServer, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  agentRequestSchema,
  type AgentErrorFrame,
  type AgentRequest,
  type AgentResponse,
} from '../agents/bridgeV1/protocol.js';
import type { UserMessage } from '../agents/unified/protocol.js';
import { metadataParam } from './mockReplyFields.js';
import { mockRichReply } from './mockRichReplies.js';
import { serveUnified, unifiedLedger } from './mockUnifiedAgent.js';
import { scriptedReply } from './scriptedReply.js';

/**
 * Mock `bridge-v1` agents for tests, the demo and the benchmark. The URL path picks a
 * behaviour (`/echo`, `/multi?count=3`, `/drop?after=1`…); see `behaviours` below.
 * Paths under `/unified/` speak the `unified` protocol instead (sandbox/mockUnifiedAgent.ts).
 */
export interface MockAgentServer {
  readonly port: number;
  /** `url('multi?count=3')` → `ws://127.0.0.1:PORT/multi?count=3`. */
  url(behaviour: string): string;
  /** Every valid request received, in arrival order. */
  readonly requests: AgentRequest[];
  /** Every valid `user_message` received on `/unified/...` paths, in arrival order. */
  readonly unifiedRequests: UserMessage[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Sockets open right now (a bridge that closes its sockets brings this back to 0). */
  readonly openConnections: number;
  /** false: stop listening and kill open sockets; true: listen again on the same port. */
  setAvailable(available: boolean): Promise<void>;
  close(): Promise<void>;
}

export interface MockAgentOptions {
  port?: number;
  host?: string;
  agentId?: string;
}

/** What a behaviour gets to work with for one connection. */
interface Exchange {
  ws: WebSocket;
  request: AgentRequest;
  params: URLSearchParams;
  /** Resolves after `ms`, or rejects once the socket is gone (so loops stop early). */
  wait(ms: number): Promise<void>;
  /** A `response` frame; `metadata` is added to the mock's own (agent_id, confidence…). */
  reply(content: string, final: boolean, metadata?: Record<string, unknown>): void;
  fail(code: string, message: string, retryable: boolean): void;
}

type Behaviour = (exchange: Exchange) => Promise<void> | void;

function intParam(params: URLSearchParams, name: string, fallback: number): number {
  const value = Number.parseInt(params.get(name) ?? '', 10);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

/** Sends `count` numbered replies `delayMs` apart; the last one is final unless told otherwise. */
async function sendNumbered(
  ex: Exchange,
  count: number,
  { upTo = count, finalLast = true }: { upTo?: number; finalLast?: boolean } = {},
): Promise<void> {
  const delayMs = intParam(ex.params, 'delayMs', 20);
  for (let i = 1; i <= upTo; i++) {
    if (i > 1) await ex.wait(delayMs);
    ex.reply(`reply ${i}/${count}: ${ex.request.content}`, finalLast && i === count);
  }
}

/** Message ids whose first `/drop` connection has already been cut. */
type DropLedger = Set<string>;

function behaviours(dropped: DropLedger): Record<string, Behaviour> {
  return {
    echo: (ex) => ex.reply(`echo: ${ex.request.content}`, true),
    multi: (ex) => sendNumbered(ex, intParam(ex.params, 'count', 3)),
    slow: async (ex) => {
      await ex.wait(intParam(ex.params, 'delayMs', 1000));
      ex.reply(`echo: ${ex.request.content}`, true);
    },
    error: (ex) => {
      const code = ex.params.get('code') ?? 'agent_error';
      ex.fail(code, `mock agent failed with ${code}`, ex.params.get('retryable') !== 'false');
      ex.ws.close(1000);
    },
    drop: async (ex) => {
      const count = intParam(ex.params, 'count', 3);
      if (dropped.has(ex.request.message_id)) return sendNumbered(ex, count);
      dropped.add(ex.request.message_id);
      await sendNumbered(ex, count, { upTo: intParam(ex.params, 'after', 1), finalLast: false });
      // No close frame: the client sees an abnormal closure (1006), like a crashed agent.
      ex.ws.terminate();
    },
    close: async (ex) => {
      await sendNumbered(ex, intParam(ex.params, 'count', 2), { finalLast: false });
      ex.ws.close(1000);
    },
    silent: () => undefined,
    /** Answers, then asks for a human (`metadata.handoff`). */
    handoff: (ex) => {
      ex.ws.send(
        JSON.stringify({
          message_id: ex.request.message_id,
          content: 'Let me get a colleague for you.',
          response_type: 'final',
          metadata: { handoff: true },
        }),
      );
    },
    garbage: (ex) => ex.ws.send('this is not json {'),
    /**
     * Interactive content (`?kind=select|form|cards|article|invalid|long…`,
     * sandbox/mockRichReplies.ts), or `rich: …` with the reply fields given as JSON in
     * `metadata` (`content_type`, `content_attributes`, `attachments`, `actions`).
     */
    rich: (ex) => {
      if (!ex.params.has('kind')) {
        return ex.reply(`rich: ${ex.request.content}`, true, metadataParam(ex.params));
      }
      const reply = mockRichReply(ex.params.get('kind'), ex.request);
      ex.ws.send(
        JSON.stringify({
          message_id: ex.request.message_id,
          content: reply.content,
          response_type: 'final',
          metadata: reply.metadata,
        }),
      );
    },
    /**
     * `count` replies (default 1), the `at`-th (default the first) with `metadata.actions` = the
     * `actions` parameter (JSON), the last final.
     */
    actions: async (ex) => {
      const count = Math.max(1, intParam(ex.params, 'count', 1));
      const at = intParam(ex.params, 'at', 1);
      for (let i = 1; i <= count; i += 1) {
        if (i > 1) await ex.wait(20);
        ex.ws.send(
          JSON.stringify({
            message_id: ex.request.message_id,
            conversation_id: ex.request.conversation_id,
            content: i === 1 ? `done: ${ex.request.content}` : `and ${i}/${count}`,
            response_type: i === count ? 'final' : 'partial',
            metadata:
              i === at ? { actions: JSON.parse(ex.params.get('actions') ?? '[]') as unknown } : {},
          }),
        );
      }
    },
    /** One final reply of `chars` characters (a runaway agent): `big: xxxx…`. */
    big: (ex) => ex.reply(`big: ${'x'.repeat(intParam(ex.params, 'chars', 2_500_000))}`, true),
    /** Answers with a file: a receipt as inline base64 (metadata `attachments`). */
    receipt: (ex) => {
      const receipt = `Receipt\n\nYou asked: ${ex.request.content}\nTotal: 42.00 EUR\n`;
      ex.ws.send(
        JSON.stringify({
          message_id: ex.request.message_id,
          conversation_id: ex.request.conversation_id,
          content: 'Here is your receipt.',
          response_type: 'final',
          metadata: {
            agent_id: agentIdOf(ex),
            is_final: true,
            attachments: [
              {
                data: Buffer.from(receipt).toString('base64'),
                file_name: 'receipt.txt',
                content_type: 'text/plain',
              },
            ],
          },
        } satisfies AgentResponse),
      );
    },
    /** Answers with the text and metadata the customer's message spells (see `scriptedReply`). */
    scripted: (ex) => {
      const script = scriptedReply(ex.request.content);
      ex.ws.send(
        JSON.stringify({
          message_id: ex.request.message_id,
          conversation_id: ex.request.conversation_id,
          content: script.content,
          response_type: 'final',
          metadata: { agent_id: agentIdOf(ex), is_final: true, ...script.metadata },
        } satisfies AgentResponse),
      );
    },
  };
}

export async function startMockAgent(options: MockAgentOptions = {}): Promise<MockAgentServer> {
  const host = options.host ?? '127.0.0.1';
  const agentId = options.agentId ?? 'mock';
  const requests: AgentRequest[] = [];
  const table = behaviours(new Set());
  const unified = unifiedLedger();
  let port = options.port ?? 0; // becomes the bound port after the first listen
  let connections = 0;
  let listening = false;

  const server = createServer((_req, res) => res.writeHead(426).end('WebSocket only\n'));
  // perMessageDeflate off (the default, stated here): the benchmark pushes many tiny frames.
  const wss = new WebSocketServer({ server, perMessageDeflate: false });

  // Listen failures reach the caller through listen(); ws re-emits them here too.
  wss.on('error', () => undefined);
  wss.on('connection', (ws, req) => {
    connections++;
    // A client sending a broken frame must not crash the mock (unhandled 'error' throws).
    ws.on('error', () => undefined);
    ws.once('message', (data, isBinary) => {
      const url = new URL(req.url ?? '/', 'ws://mock');
      if (url.pathname.startsWith('/unified/')) {
        void serveUnified(ws, url, isBinary ? '' : rawText(data), unified);
      } else {
        void handleRequest(ws, req, data, isBinary);
      }
    });
  });

  async function handleRequest(
    ws: WebSocket,
    req: IncomingMessage,
    data: RawData,
    isBinary: boolean,
  ) {
    const started = Date.now();
    const gone = new AbortController();
    ws.once('close', () => gone.abort());

    const send = (frame: AgentResponse | AgentErrorFrame) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
    };
    const fail = (
      messageId: string | undefined,
      code: string,
      message: string,
      retryable: boolean,
    ) => send({ message_id: messageId, error: { code, message, retryable } });

    const parsed = agentRequestSchema.safeParse(parseJson(isBinary ? '' : rawText(data)));
    if (!parsed.success) {
      fail(undefined, 'bad_request', 'frame is not a valid AgentRequest', false);
      ws.close(1000);
      return;
    }
    const request = parsed.data;
    requests.push(request);

    const url = new URL(req.url ?? '/', 'ws://mock');
    const behaviour = table[url.pathname.replace(/^\/+|\/+$/g, '')];
    if (!behaviour) {
      fail(request.message_id, 'unknown_behaviour', `no mock behaviour at ${url.pathname}`, false);
      ws.close(1000);
      return;
    }

    const exchange: Exchange = {
      ws,
      request,
      params: url.searchParams,
      wait: (ms) => sleep(ms, undefined, { signal: gone.signal }),
      fail: (code, message, retryable) => fail(request.message_id, code, message, retryable),
      reply: (content, final, extra = {}) =>
        send({
          message_id: request.message_id,
          conversation_id: request.conversation_id,
          content,
          response_type: final ? 'final' : 'partial',
          metadata: {
            agent_id: agentId,
            processing_time_ms: Date.now() - started,
            confidence: 0.9,
            is_final: final,
            ...extra,
          },
        }),
    };
    try {
      await behaviour(exchange);
    } catch (error) {
      // The socket went away mid-behaviour (client closed, setAvailable(false)): nothing to do.
      if (!gone.signal.aborted) throw error;
    }
  }

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Re-listening on the bound port keeps every url() handed out valid.
      server.listen(port, host, () => {
        server.off('error', reject);
        listening = true;
        resolve();
      });
    });

  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      // terminate() destroys each socket at once, so server.close() does not wait on them.
      for (const client of wss.clients) client.terminate();
      server.close(() => resolve());
    });

  await listen();
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : port;

  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    port,
    url: (behaviour) => `ws://${urlHost}:${port}/${behaviour.replace(/^\/+/, '')}`,
    requests,
    unifiedRequests: unified.requests,
    get connections() {
      return connections;
    },
    get openConnections() {
      return wss.clients.size;
    },
    setAvailable: (available) =>
      available ? (listening ? Promise.resolve() : listen()) : stopListening(),
    close: async () => {
      await stopListening();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function agentIdOf(ex: Exchange): string {
  return ex.params.get('agentId') ?? 'mock';
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString('utf8');
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
  const agent = await startMockAgent({
    port: Number(process.env.PORT ?? 9001),
    host: process.env.HOST,
  });
  for (const behaviour of [
    'echo',
    'multi?count=3',
    'slow?delayMs=2000',
    'error?code=boom',
    'drop?after=1',
    'close?count=2',
    'silent',
    'garbage',
    'rich?metadata=%7B%22content_type%22%3A%22input_select%22%7D',
    'unified/echo',
    'unified/multi?count=3',
    'unified/stream?parts=3&order=2,0,1',
    'unified/slow?delayMs=3000&progressMs=500',
    'unified/error?code=rate_limited',
    'unified/dead?after=1',
  ]) {
    console.log(`mock agent: ${agent.url(behaviour)}`);
  }
  const shutdown = () => void agent.close().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
