import { randomUUID } from 'node:crypto';
import { createActor, toPromise } from 'xstate';
import { io, type Socket } from 'socket.io-client';
import type { SocketioAgentConfig } from '../../config/schema.js';
import {
  connectionMachine,
  phaseOf,
  type ConnectionEvent,
  type ConnectionOutput,
  type ReplyPayload,
} from '../../machines/connection.js';
import {
  aiwmEndpoints,
  emptyExtras,
  gatherExtras,
  messageErrorSchema,
  messageSentSchema,
  newMessageSchema,
  presenceSchema,
  privateNoteText,
  typingSchema,
  type NewMessage,
  type ReplyExtras,
  type SendMessage,
} from './protocol.js';
import { aiwmTokens, AiwmTokenError, type AiwmTokenCache, type AiwmTokenSource } from './token.js';
import { AiwmTurn } from './turn.js';
import type { AgentTurn, ExchangeHooks, StrayMessage } from '../types.js';
import { InProcessTurnLock } from '../turnLock.js';
import { replyHandOff } from '../replyHandOff.js';
import { replyFieldsOf } from '../replyFields.js';
import { boundDetail, frameTooLarge, isFrameTooLarge } from '../replyLimits.js';
import { answerMetadata } from '../answerMetadata.js';

/**
 * One AIWM exchange over one Socket.IO connection: token (cached) → connect → conversation id
 * (from `presence:update`, configured, or one per Chatwoot conversation) → `message:send` →
 * `message:sent` ack → collect the assistant's `message:new` until it settles (`settleMs`
 * without a new one), a `final` marker, `maxResponses` or a timeout. The connection machine
 * decides; this function wires the socket. Which messages are this turn's answer is decided by
 * agents/aiwm/turn.ts; once the answer is over, the lease is held until the agent has been
 * quiet for `releaseQuietMs` (in the background: the exchange returns at once), so a late part
 * is dropped instead of reaching the next customer's turn.
 */
export async function runSocketioExchange(
  agent: SocketioAgentConfig,
  turn: AgentTurn,
  hooks: ExchangeHooks,
  tokens: AiwmTokenCache = aiwmTokens,
): Promise<ConnectionOutput> {
  const endpoints = aiwmEndpoints(agent);
  const room = agent.correlation === 'conversation' ? aiwmConversationFor(agent, turn) : undefined;
  const quietMs = releaseQuietMs(agent);
  // AIWM gives an agent one conversation, and every socket of the agent hears all of it: two
  // turns at once would each collect the other's answers. One turn at a time per agent (per
  // AIWM conversation, when each Chatwoot conversation has its own).
  hooks.onPhase?.('idle', 0);
  const base = leaseKey(endpoints.agentId, endpoints.socketUrl);
  const lease = await (hooks.turnLock ?? localTurns).acquire({
    key: room ? `${base}#${room}` : base,
    waitMs: agent.totalTimeoutMs,
    leaseMs: leaseMsFor(agent),
    ...(hooks.signal ? { signal: hooks.signal } : {}),
  });
  if (lease === 'cancelled') return notStarted('cancelled', 'cancelled', false);
  if (lease === 'timeout' || lease === 'unavailable') {
    const why =
      lease === 'timeout'
        ? `AIWM agent "${endpoints.agentId}" stayed busy with other turns`
        : `Temporal, which keeps the turn lease of AIWM agent "${endpoints.agentId}", did not answer`;
    return notStarted('total_timeout', `${why} for ${agent.totalTimeoutMs} ms`, true);
  }
  const session = aiwmSession(agent, turn, hooks, tokens, room);
  let holding = false;
  try {
    return await session.run();
  } finally {
    if (quietMs > 0 && session.asked()) {
      // The agent may still be answering: keep the lease (and listen) until it is quiet.
      holding = true;
      void session
        .holdUntilQuiet(quietMs, agent.totalTimeoutMs)
        .finally(() => session.close())
        .then(() => lease.release());
    }
    if (!holding) {
      session.close();
      await lease.release();
    }
  }
}

/**
 * The longest one exchange holds the lease: a token request and a retry of it, the exchange,
 * the quiet period after it (at most totalTimeoutMs), and room to release. After that the lease
 * lapses (its worker is presumed lost).
 */
export function leaseMsFor(agent: SocketioAgentConfig): number {
  const hold = releaseQuietMs(agent) > 0 ? agent.totalTimeoutMs : 0;
  return 2 * agent.connectTimeoutMs + agent.totalTimeoutMs + hold + LEASE_MARGIN_MS;
}

export function releaseQuietMs(agent: SocketioAgentConfig): number {
  return agent.releaseQuietMs ?? (agent.correlation === 'ordering' ? DEFAULT_RELEASE_QUIET_MS : 0);
}

/** The AIWM conversation of one Chatwoot conversation (`correlation: conversation`). */
export function aiwmConversationFor(agent: SocketioAgentConfig, turn: AgentTurn): string {
  const values: Record<string, number> = {
    accountId: turn.accountId,
    conversationId: turn.conversationId,
    inboxId: turn.inboxId,
  };
  return agent.conversationTemplate.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}

function notStarted(
  reason: 'cancelled' | 'total_timeout',
  detail: string,
  retryable: boolean,
): ConnectionOutput {
  return { outcome: 'failed', reason, detail, retryable, replies: 0 };
}

/** One turn's socket: `run` the exchange, then `holdUntilQuiet` if need be, then `close`. */
function aiwmSession(
  agent: SocketioAgentConfig,
  turn: AgentTurn,
  hooks: ExchangeHooks,
  tokens: AiwmTokenCache,
  room: string | undefined,
) {
  const { tokenUrl, socketUrl, agentId } = aiwmEndpoints(agent);
  const source: AiwmTokenSource = {
    tokenUrl,
    agentId,
    secret: agent.secret,
    refreshMarginMs: agent.tokenRefreshMarginMs,
    requestTimeoutMs: agent.connectTimeoutMs,
  };
  const sockets: Socket[] = [];
  /** The conversation we join ourselves; otherwise the one AIWM's presence names. */
  const joined = room ?? agent.conversationId;
  let conversationId = joined;
  const answer = new AiwmTurn({
    correlation: agent.correlation,
    turnId: randomUUID(),
    ownIds: new Set([agentId]),
    conversationId: () => conversationId,
  });
  /** Set while the socket is held open after the answer: a late message restarts the quiet. */
  let heardLate: (() => void) | undefined;
  let socketReady = false;
  let connected = false;
  let requestSent = false;
  let extras: ReplyExtras = emptyExtras();
  const handOff = replyHandOff(hooks, () => send({ type: 'CANCEL' }), {
    agentId: agent.id,
    maxReplyChars: agent.maxReplyChars,
  });
  const connecting = new AbortController();

  const actor = createActor(
    connectionMachine.provide({
      actions: {
        // After this action returns: the token actor must not take a step inside another
        // actor's action (xstate warns, its flag being global).
        openSocket: () => queueMicrotask(() => void connect()),
        sendRequest: () => {
          const socket = sockets.at(-1);
          const message: SendMessage = {
            role: 'user',
            content: turn.content || '(attachment)',
            ...(conversationId ? { conversationId } : {}),
            ...(turn.attachments.length > 0
              ? { attachments: turn.attachments.flatMap((a) => (a.data_url ? [a.data_url] : [])) }
              : {}),
            // Seed 004's attachments are bare URLs: the whole of each (file_type…) goes with
            // the bridge's own metadata, so an agent can tell a voice note from a picture.
            metadata: {
              turnId: answer.turnId,
              ...(turn.attachments.length > 0 ? { attachments: turn.attachments } : {}),
              ...answerMetadata(turn),
            },
          };
          requestSent = true;
          answer.sent(message.content);
          socket?.emit('message:send', message);
        },
        // The socket stays open until close(): the quiet period after the answer listens on it.
        closeSocket: () => {
          answer.end();
          queueMicrotask(() => send({ type: 'SOCKET_CLOSED', clean: true }));
        },
        deliverReply: (_, { reply, index }) => handOff.push(reply, index),
      },
    }),
    {
      input: {
        connectTimeoutMs: agent.connectTimeoutMs,
        replyTimeoutMs: agent.replyTimeoutMs,
        // The answer is complete once the agent has been quiet for settleMs.
        idleTimeoutMs: agent.settleMs,
        totalTimeoutMs: agent.totalTimeoutMs,
        maxResponses: agent.maxResponses,
        ackTimeoutMs: agent.ackTimeoutMs,
      },
    },
  );

  const active = () => actor.getSnapshot().status === 'active';
  function send(event: ConnectionEvent): void {
    if (active()) actor.send(boundDetail(event));
  }

  /** Token, socket, and one fresh token plus one reconnect if the server refuses the token. */
  async function connect(): Promise<void> {
    for (let tries = 1; ; tries += 1) {
      let token: string;
      try {
        token = await tokens.get(source, connecting.signal);
      } catch (error) {
        if (connecting.signal.aborted) return;
        const retryable = !(error instanceof AiwmTokenError) || error.retryable;
        send({ type: 'CONNECT_FAILED', detail: errorText(error), retryable });
        return;
      }
      if (!active()) return;
      const result = await openSocket(token);
      if (result.ok) {
        socketReady = true;
        if (joined) sockets.at(-1)?.emit('conversation:join', { conversationId: joined });
        if (conversationId) markConnected();
        return;
      }
      if (result.tokenRefused && tries === 1) {
        tokens.invalidate(source, token);
        continue;
      }
      send({
        type: 'CONNECT_FAILED',
        detail: result.tokenRefused
          ? `AIWM refused a freshly issued token for agent "${agentId}": ${result.detail}`
          : result.detail,
        retryable: result.retryable,
      });
      return;
    }
  }

  function markConnected(): void {
    if (connected || !socketReady) return;
    connected = true;
    send({ type: 'CONNECTED' });
  }

  function openSocket(
    token: string,
  ): Promise<
    { ok: true } | { ok: false; detail: string; retryable: boolean; tokenRefused: boolean }
  > {
    const socket = io(socketUrl, {
      auth: { token },
      transports: ['websocket'],
      // One connection per attempt: Temporal retries, not the socket, and no shared managers.
      reconnection: false,
      forceNew: true,
      timeout: agent.connectTimeoutMs,
      // Passed on to the `ws` client: a larger packet closes the socket (1009) unread.
      maxPayload: agent.maxFrameBytes,
    } as Parameters<typeof io>[1]);
    sockets.push(socket);
    listen(socket);
    return new Promise((resolve) => {
      socket.once('connect', () => resolve({ ok: true }));
      socket.once('connect_error', (error: Error & { data?: unknown }) => {
        socket.close();
        const status = statusOf(error.data);
        resolve({
          ok: false,
          detail: `Socket.IO connect to ${socketUrl} failed: ${connectErrorText(error)}`,
          tokenRefused:
            status === 401 || (status === undefined && /token|jwt/i.test(error.message)),
          // 403: the agent is suspended or not allowed; retrying the same message will not help.
          retryable: status !== 403,
        });
      });
    });
  }

  /** An AIWM conversation the agent answered in instead of ours (`correlation: conversation`). */
  let answeredElsewhere: string | undefined;
  function stray(found: StrayMessage): void {
    if (found.reason === 'other_conversation' && room) answeredElsewhere = found.conversationId;
    hooks.onStrayMessage?.(found);
    if (found.reason === 'after_turn') heardLate?.();
  }

  function listen(socket: Socket): void {
    const isCurrent = () => sockets.at(-1) === socket;

    socket.on('presence:update', (data: unknown) => {
      const presence = presenceSchema.safeParse(data);
      if (!presence.success || !isCurrent()) return;
      const { agentId: who, conversationId: conversation } = presence.data;
      // Our own presence names the conversation AIWM put us in.
      if (who === agentId && conversation && !joined) {
        conversationId = conversation;
        markConnected();
      }
    });
    socket.on('message:sent', (data: unknown) => {
      if (!isCurrent() || !requestSent) return;
      const ack = messageSentSchema.safeParse(data);
      answer.acknowledged(ack.success ? ack.data.messageId : undefined);
      send({ type: 'SENT' });
    });
    socket.on('message:error', (data: unknown) => {
      if (!isCurrent()) return;
      const parsed = messageErrorSchema.safeParse(data);
      const reason = parsed.success ? parsed.data.error : 'no reason given';
      const hint =
        room && /no conversation|permission/i.test(reason)
          ? ` (correlation: "conversation" needs an AIWM server that lets the agent join conversation "${room}")`
          : '';
      send({
        type: 'AGENT_ERROR',
        detail: `AIWM message:error: ${reason}${hint}`,
        retryable: parsed.success ? (parsed.data.retryable ?? false) : false,
      });
    });
    socket.on('user:typing', (data: unknown) => {
      const typing = typingSchema.safeParse(data);
      if (!typing.success || !isCurrent() || !answer.inTurn || !active()) return;
      const who = typing.data.agentId ?? typing.data.userId;
      if (answer.isOwn(who) || !answer.inConversation(typing.data.conversationId)) return;
      hooks.onTyping?.(typing.data.isTyping);
    });
    socket.on('message:new', (data: unknown) => {
      if (!isCurrent()) return;
      const parsed = newMessageSchema.safeParse(data);
      if (!parsed.success) {
        if (answer.inTurn && (data as { role?: unknown } | null)?.role === 'assistant') {
          const issue = parsed.error.issues[0];
          send({
            type: 'PROTOCOL_ERROR',
            detail: `AIWM message:new invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'unknown'}`,
          });
        }
        return;
      }
      const message = parsed.data;
      const verdict = answer.classify(message);
      if (verdict === 'ignore') return;
      if (verdict !== 'ours') {
        // A tool message is part of an answer too, but only an assistant's is counted.
        if (message.role === 'assistant') stray(verdict);
        return;
      }
      if (message.role === 'tool') return gatherExtras(extras, message);
      if (message.type === 'error') {
        send({
          type: 'AGENT_ERROR',
          detail: `AIWM agent reported an error: ${message.error ?? message.content}`,
          retryable: false,
        });
        return;
      }
      gatherExtras(extras, message);
      const content = replyContent(message);
      // Reasoning and tool steps are not for the customer: keep them for the next reply's note.
      if (message.type === 'thinking' || message.type === 'tool_call') return;
      if (message.type === 'tool_result' || !content) return;
      send({ type: 'REPLY', reply: toReply(message, content, extras) });
      extras = emptyExtras();
    });
    socket.on('disconnect', (reason: string, details?: unknown) => {
      if (!isCurrent()) return;
      if (isFrameTooLarge((details as { description?: unknown } | undefined)?.description)) {
        send({ type: 'PROTOCOL_ERROR', detail: frameTooLarge(agent.maxFrameBytes) });
        return;
      }
      send({
        type: 'SOCKET_CLOSED',
        // Only our own close is clean: a server-side disconnect mid-answer is a drop to retry.
        clean: reason === 'io client disconnect',
        detail: `Socket.IO disconnected (${reason})`,
      });
    });
  }

  function toReply(message: NewMessage, content: string, gathered: ReplyExtras): ReplyPayload {
    const note = agent.showThinking ? privateNoteText(agent.id, gathered) : undefined;
    return {
      content,
      final: message.final === true,
      metadata: {
        // Rich content, files and actions the agent asked for (bridge extension, not in seed 004).
        ...replyFieldsOf(message.metadata),
        aiwm: { messageId: message._id, conversationId: message.conversationId },
        ...(message.usage ? { usage: message.usage } : {}),
        ...(message.latency !== undefined ? { latencyMs: message.latency } : {}),
        ...(note ? { privateNote: note } : {}),
      },
    };
  }

  async function run(): Promise<ConnectionOutput> {
    const onAbort = () => send({ type: 'CANCEL' });
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    actor.subscribe((snapshot) =>
      hooks.onPhase?.(phaseOf(snapshot.value), snapshot.context.replies),
    );
    actor.start();
    actor.send({ type: 'START' });
    if (hooks.signal?.aborted) onAbort();
    try {
      const output = await toPromise(actor);
      await handOff.settled();
      const clear = clarify(output, agent);
      if (clear.outcome === 'failed' && clear.reason === 'reply_timeout' && answeredElsewhere) {
        return {
          ...clear,
          detail: `${clear.detail}: the agent answered in AIWM conversation "${answeredElsewhere}", not in "${room}" (correlation: "conversation" needs an agent that answers where it is asked)`,
        };
      }
      return clear;
    } finally {
      hooks.signal?.removeEventListener('abort', onAbort);
      connecting.abort();
      answer.end();
    }
  }

  return {
    run,
    /** Our message went out: the agent may answer it, now or later. */
    asked: () => requestSent,
    /**
     * Keeps listening until the agent has said nothing for `quietMs` (at most `capMs`): what
     * it says meanwhile is a late part of this turn, dropped and reported as a stray. A socket
     * already gone cannot listen: the quiet period is then simply waited out.
     */
    holdUntilQuiet(quietMs: number, capMs: number): Promise<void> {
      answer.end();
      return new Promise<void>((resolve) => {
        let quiet: NodeJS.Timeout;
        const done = () => {
          clearTimeout(quiet);
          clearTimeout(cap);
          heardLate = undefined;
          resolve();
        };
        const cap = setTimeout(done, capMs);
        quiet = setTimeout(done, quietMs);
        heardLate = () => {
          clearTimeout(quiet);
          quiet = setTimeout(done, quietMs);
        };
      });
    },
    close(): void {
      for (const socket of sockets) {
        socket.removeAllListeners();
        socket.disconnect();
      }
    },
  };
}

/** Attachments AIWM sends are URLs or document references: list them under the text. */
function replyContent(message: NewMessage): string {
  const attachments = message.attachments ?? [];
  return [message.content.trim(), ...attachments].filter(Boolean).join('\n');
}

/** The machine's generic timeout names, said in this protocol's terms. */
function clarify(output: ConnectionOutput, agent: SocketioAgentConfig): ConnectionOutput {
  if (output.outcome !== 'failed') return output;
  if (output.reason === 'ack_timeout') {
    return { ...output, detail: `no message:sent acknowledgement within ${agent.ackTimeoutMs} ms` };
  }
  if (output.reason === 'reply_timeout') {
    return { ...output, detail: `no assistant message within ${agent.replyTimeoutMs} ms` };
  }
  return output;
}

function statusOf(data: unknown): number | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const { status, statusCode } = data as { status?: unknown; statusCode?: unknown };
  const value = status ?? statusCode;
  return typeof value === 'number' ? value : undefined;
}

/** socket.io-client hides the network cause (ECONNREFUSED…) in `description`. */
function connectErrorText(error: Error & { description?: unknown }): string {
  const description = error.description as
    { message?: string; error?: { code?: string; message?: string } } | undefined;
  const cause = description?.error?.code ?? description?.error?.message ?? description?.message;
  return cause && cause !== error.message ? `${error.message} (${cause})` : error.message;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What the lease is for: the AIWM agent at its server. The key becomes a workflow id shown in the
 * Temporal UI, so the URL's credentials and query (a token, say) stay out of it.
 */
export function leaseKey(agentId: string, socketUrl: string): string {
  try {
    const url = new URL(socketUrl);
    return `${agentId}@${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return `${agentId}@${socketUrl}`;
  }
}

/** Turns of exchanges run without a Temporal lease (outside a worker). */
const localTurns = new InProcessTurnLock();
const LEASE_MARGIN_MS = 10_000;
const DEFAULT_RELEASE_QUIET_MS = 5_000;
