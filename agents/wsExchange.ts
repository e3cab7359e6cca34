import { createActor, toPromise } from 'xstate';
import WebSocket from 'ws';
import type { WsAgentConfig } from '../config/schema.js';
import {
  connectionMachine,
  phaseOf,
  type ConnectionEvent,
  type ConnectionOutput,
} from '../machines/connection.js';
import type { ExchangeHooks } from './transport.js';
import { agentFrameSchema, isAgentError, isFinalResponse, type AgentRequest } from './bridgeV1.js';

/**
 * One `bridge-v1` exchange over one WebSocket: connect, send the request, collect replies until
 * `final`, close, the reply cap or a timeout. The connection machine decides; this function
 * only wires the socket to it.
 */
export async function runBridgeV1Exchange(
  agent: WsAgentConfig,
  request: AgentRequest,
  hooks: ExchangeHooks,
): Promise<ConnectionOutput> {
  let socket: WebSocket | undefined;
  let socketClosed: Promise<void> = Promise.resolve();
  let deliveries: Promise<void> = Promise.resolve();
  let deliveryError: Error | undefined;

  const actor = createActor(
    connectionMachine.provide({
      actions: {
        openSocket: () => {
          socket = new WebSocket(agent.url, {
            headers: agent.headers,
            handshakeTimeout: agent.connectTimeoutMs,
          });
          const opened = socket;
          socketClosed = new Promise((resolve) => opened.once('close', () => resolve()));
          socket.on('open', () => send({ type: 'CONNECTED' }));
          socket.on('error', (error) => send({ type: 'CONNECT_FAILED', detail: error.message }));
          socket.on('close', (code, reason) =>
            send({
              type: 'SOCKET_CLOSED',
              clean: code === 1000 || code === 1001,
              detail: `socket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`,
            }),
          );
          socket.on('message', (data, isBinary) => send(parseFrame(data, isBinary)));
        },
        sendRequest: () => {
          socket?.send(JSON.stringify(request), (error) =>
            send(
              error
                ? { type: 'SOCKET_CLOSED', clean: false, detail: error.message }
                : { type: 'SENT' },
            ),
          );
        },
        closeSocket: () => closeSocket(socket),
        deliverReply: (_, { reply, index }) => {
          deliveries = deliveries
            .then(() => hooks.onReply(reply, index))
            .catch((error: unknown) => {
              deliveryError ??=
                error instanceof Error
                  ? error
                  : new Error('reply hand-off failed', { cause: error });
              send({ type: 'CANCEL' });
            });
        },
      },
    }),
    { input: agent },
  );

  function send(event: ConnectionEvent): void {
    if (actor.getSnapshot().status === 'active') actor.send(event);
  }

  const onAbort = () => send({ type: 'CANCEL' });
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  actor.subscribe((snapshot) => hooks.onPhase?.(phaseOf(snapshot.value), snapshot.context.replies));
  actor.start();
  actor.send({ type: 'START' });
  if (hooks.signal?.aborted) onAbort();

  try {
    const output = await toPromise(actor);
    await deliveries;
    if (deliveryError) throw deliveryError;
    return output;
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
    socket?.removeAllListeners('message');
    // Return only once the socket is really gone: a cancelled exchange leaves nothing open.
    closeSocket(socket);
    await socketClosed;
  }
}

function parseFrame(data: WebSocket.RawData, isBinary: boolean): ConnectionEvent {
  if (isBinary) return { type: 'PROTOCOL_ERROR', detail: 'agent sent a binary frame' };
  let json: unknown;
  try {
    json = JSON.parse(rawToString(data));
  } catch {
    return { type: 'PROTOCOL_ERROR', detail: 'agent sent a frame that is not JSON' };
  }
  const parsed = agentFrameSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      type: 'PROTOCOL_ERROR',
      detail: `agent frame invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'unknown'}`,
    };
  }
  const frame = parsed.data;
  if (isAgentError(frame)) {
    return {
      type: 'AGENT_ERROR',
      detail: `agent error ${frame.error.code}: ${frame.error.message}`,
      retryable: frame.error.retryable,
    };
  }
  return {
    type: 'REPLY',
    reply: { content: frame.content, final: isFinalResponse(frame), metadata: frame.metadata },
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
