import { createActor, toPromise } from 'xstate';
import WebSocket from 'ws';
import type { WsAgentConfig } from '../../config/schema.js';
import {
  connectionMachine,
  phaseOf,
  type ConnectionEvent,
  type ConnectionOutput,
} from '../../machines/connection.js';
import type { ExchangeHooks } from '../types.js';
import { replyHandOff } from '../replyHandOff.js';
import { boundDetail, frameTooLarge, isFrameTooLarge } from '../replyLimits.js';

/**
 * What a WebSocket protocol adds to the shared socket handling: the frame it sends once the
 * socket is open, and how it reads the agent's text frames into connection-machine events.
 */
export interface WsDialect {
  request: unknown;
  /** Events for one text frame, in order (may be none, e.g. a stream chunk still incomplete). */
  decode(text: string): ConnectionEvent[];
}

/**
 * One exchange over one WebSocket: connect, send the request, feed the agent's frames to the
 * connection machine until it ends (final reply, close, reply cap, timeout, cancel). The machine
 * decides; this function only wires the socket to it. A ping every `pingIntervalMs` that is not
 * answered by the next one means the connection is dead: the socket is cut and the exchange
 * fails as dropped (retryable), instead of an idle timeout passing for the end of the answer.
 */
export async function runWsExchange(
  agent: WsAgentConfig,
  dialect: WsDialect,
  hooks: ExchangeHooks,
): Promise<ConnectionOutput> {
  let socket: WebSocket | undefined;
  let socketClosed: Promise<void> = Promise.resolve();
  const handOff = replyHandOff(hooks, () => send({ type: 'CANCEL' }), {
    agentId: agent.id,
    maxReplyChars: agent.maxReplyChars,
  });
  let heartbeat: NodeJS.Timeout | undefined;
  let deadDetail: string | undefined;
  const pingIntervalMs = agent.pingIntervalMs ?? Math.max(50, Math.floor(agent.idleTimeoutMs / 3));

  const startHeartbeat = (opened: WebSocket) => {
    let awaitingPong = false;
    const alive = () => {
      awaitingPong = false;
    };
    opened.on('pong', alive);
    opened.on('message', alive);
    heartbeat = setInterval(() => {
      if (awaitingPong) {
        deadDetail = `no pong from the agent within ${pingIntervalMs} ms: connection presumed dead`;
        clearInterval(heartbeat);
        opened.terminate();
        return;
      }
      awaitingPong = true;
      opened.ping();
    }, pingIntervalMs);
  };

  const actor = createActor(
    connectionMachine.provide({
      actions: {
        openSocket: () => {
          socket = new WebSocket(agent.url, {
            headers: agent.headers,
            handshakeTimeout: agent.connectTimeoutMs,
            // ws's own default is 100 MiB: one agent could take the worker's memory.
            maxPayload: agent.maxFrameBytes,
          });
          const opened = socket;
          socketClosed = new Promise((resolve) => opened.once('close', () => resolve()));
          socket.on('open', () => {
            startHeartbeat(opened);
            send({ type: 'CONNECTED' });
          });
          socket.on('error', (error: Error & { code?: string }) => {
            if (isFrameTooLarge(error)) {
              // The same answer would be as large on every retry: fail for good, say why.
              send({ type: 'PROTOCOL_ERROR', detail: frameTooLarge(agent.maxFrameBytes) });
              return;
            }
            send({ type: 'CONNECT_FAILED', detail: error.message });
          });
          socket.on('close', (code, reason) => {
            clearInterval(heartbeat);
            send({
              type: 'SOCKET_CLOSED',
              clean: deadDetail === undefined && (code === 1000 || code === 1001),
              detail:
                deadDetail ??
                `socket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`,
            });
          });
          socket.on('message', (data, isBinary) => {
            const events: ConnectionEvent[] = isBinary
              ? [{ type: 'PROTOCOL_ERROR', detail: 'agent sent a binary frame' }]
              : dialect.decode(rawToString(data));
            events.forEach(send);
          });
        },
        sendRequest: () => {
          socket?.send(JSON.stringify(dialect.request), (error) =>
            send(
              error
                ? { type: 'SOCKET_CLOSED', clean: false, detail: error.message }
                : { type: 'SENT' },
            ),
          );
        },
        closeSocket: () => closeSocket(socket),
        deliverReply: (_, { reply, index }) => handOff.push(reply, index),
      },
    }),
    { input: agent },
  );

  function send(event: ConnectionEvent): void {
    if (actor.getSnapshot().status === 'active') actor.send(boundDetail(event));
  }

  const onAbort = () => send({ type: 'CANCEL' });
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  actor.subscribe((snapshot) =>
    hooks.onPhase?.(phaseOf(snapshot.value), snapshot.context.replies, snapshot.context.activity),
  );
  actor.start();
  actor.send({ type: 'START' });
  if (hooks.signal?.aborted) onAbort();

  try {
    const output = await toPromise(actor);
    await handOff.settled();
    return output;
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
    clearInterval(heartbeat);
    socket?.removeAllListeners('message');
    // Return only once the socket is really gone: a cancelled exchange leaves nothing open.
    closeSocket(socket);
    await socketClosed;
  }
}

/** The parsed frame, or undefined when the text is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A protocol error naming the first field that did not validate. */
export function invalidFrame(error: {
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>;
}): ConnectionEvent {
  const issue = error.issues[0];
  return {
    type: 'PROTOCOL_ERROR',
    detail: `agent frame invalid at ${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'unknown'}`,
  };
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function closeSocket(socket: WebSocket | undefined): void {
  if (!socket) return;
  if (socket.readyState === WebSocket.CONNECTING) {
    socket.terminate();
  } else if (socket.readyState === WebSocket.OPEN) {
    socket.close(1000, 'exchange complete');
    // An agent that never answers the close handshake must not hold the socket open.
    setTimeout(() => socket.terminate(), 1_000).unref();
  }
}
