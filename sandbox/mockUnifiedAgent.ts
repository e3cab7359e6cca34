import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { metadataParam } from './mockReplyFields.js';
import {
  userMessageSchema,
  type UnifiedAgentFrame,
  type UserMessage,
} from '../agents/unified/protocol.js';
import { scriptedReply } from './scriptedReply.js';
import { mockRichReply } from './mockRichReplies.js';

/**
 * Mock `unified` agents (seed 001), served by sandbox/mockAgents.ts under `/unified/...`:
 * the path after `/unified/` picks a behaviour, query parameters tune it (see `behaviours`).
 */

/** What a behaviour gets to work with for one connection. */
interface UnifiedExchange {
  ws: WebSocket;
  request: UserMessage;
  params: URLSearchParams;
  /** Resolves after `ms`, or rejects once the socket is gone (so loops stop early). */
  wait(ms: number): Promise<void>;
  send(frame: UnifiedAgentFrame): void;
  /** `agent_message` frame. */
  say(message: string, metadata?: Record<string, unknown>): void;
  complete(): void;
}

type UnifiedBehaviour = (exchange: UnifiedExchange) => Promise<void> | void;

/** Per-server memory: message ids whose first connection was already cut (drop, dead). */
export interface UnifiedLedger {
  requests: UserMessage[];
  firstSeen: Set<string>;
}

function intParam(params: URLSearchParams, name: string, fallback: number): number {
  const value = Number.parseInt(params.get(name) ?? '', 10);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

/** `count` numbered replies `delayMs` apart, up to `upTo`. */
async function numbered(ex: UnifiedExchange, count: number, upTo = count): Promise<void> {
  const delayMs = intParam(ex.params, 'delayMs', 20);
  for (let i = 1; i <= upTo; i += 1) {
    if (i > 1) await ex.wait(delayMs);
    ex.say(`reply ${i}/${count}: ${ex.request.message}`);
  }
}

/** Splits `text` into `parts` chunks of nearly equal length (none empty unless the text is short). */
function chunk(text: string, parts: number): string[] {
  const size = Math.ceil(text.length / parts);
  return Array.from({ length: parts }, (_, i) => text.slice(i * size, (i + 1) * size));
}

function behaviours(ledger: UnifiedLedger): Record<string, UnifiedBehaviour> {
  /** true the first time this message id reaches this behaviour. */
  const first = (ex: UnifiedExchange, name: string) => {
    const key = `${name}:${ex.request.message_id}`;
    if (ledger.firstSeen.has(key)) return false;
    ledger.firstSeen.add(key);
    return true;
  };
  return {
    echo: (ex) => {
      ex.say(`echo: ${ex.request.message}`);
      ex.complete();
    },
    /** Interactive content (`?kind=select|form|cards|article|invalid|long…`, sandbox/mockRichReplies.ts). */
    /** `?kind=` interactive samples (sandbox/mockRichReplies.ts), or `?metadata=` reply fields. */
    rich: (ex) => {
      if (!ex.params.has('kind')) {
        ex.say(`rich: ${ex.request.message}`, metadataParam(ex.params));
        ex.complete();
        return;
      }
      const { message, metadata } = ex.request;
      const reply = mockRichReply(ex.params.get('kind'), { content: message, metadata });
      ex.send({
        type: 'agent_message',
        message_id: `reply-${ex.request.message_id}`,
        session_id: ex.request.session_id,
        message: reply.content,
        metadata: reply.metadata,
      });
      ex.complete();
    },
    multi: async (ex) => {
      await numbered(ex, intParam(ex.params, 'count', 3));
      ex.complete();
    },
    /** One `agent_message` whose `metadata.actions` is the `actions` parameter (JSON). */
    actions: (ex) => {
      ex.send({
        type: 'agent_message',
        message_id: `reply-${ex.request.message_id}`,
        session_id: ex.request.session_id,
        message: `done: ${ex.request.message}`,
        metadata: { actions: JSON.parse(ex.params.get('actions') ?? '[]') as unknown },
      });
      ex.complete();
    },
    /**
     * `streamed echo: …` in `parts` chunks, sent in `order` (e.g. `2,0,1`); the last index says
     * `is_streaming: false` unless `end=complete` (then `agent_complete` ends the stream).
     */
    stream: async (ex) => {
      const parts = Math.max(1, intParam(ex.params, 'parts', 3));
      const chunks = chunk(`streamed echo: ${ex.request.message}`, parts);
      const order = (ex.params.get('order') ?? '')
        .split(',')
        .filter(Boolean)
        .map((n) => Number.parseInt(n, 10));
      const sequence = order.length ? order : chunks.map((_, i) => i);
      const endByComplete = ex.params.get('end') === 'complete';
      for (const [position, index] of sequence.entries()) {
        if (position > 0) await ex.wait(intParam(ex.params, 'delayMs', 10));
        ex.send({
          type: 'agent_streaming',
          message_id: `stream-${ex.request.message_id}`,
          message: chunks[index] ?? '',
          stream_index: index,
          is_streaming: endByComplete || index !== parts - 1,
        });
      }
      ex.complete();
    },
    /** One stream of `chunks` chunks of `chunkChars` characters each (a runaway stream). */
    bigstream: (ex) => {
      const chunks = Math.max(1, intParam(ex.params, 'chunks', 100));
      const text = 'y'.repeat(intParam(ex.params, 'chunkChars', 10_000));
      for (let index = 0; index < chunks; index += 1) {
        ex.send({
          type: 'agent_streaming',
          message_id: `big-${ex.request.message_id}`,
          message: text,
          stream_index: index,
          is_streaming: index !== chunks - 1,
        });
      }
      ex.complete();
    },
    error: (ex) => {
      const retryable = ex.params.get('retryable');
      ex.send({
        type: 'error_message',
        error_code: ex.params.get('code') ?? 'internal_error',
        message: `mock agent failed with ${ex.params.get('code') ?? 'internal_error'}`,
        ...(retryable === null ? {} : { error_details: { retryable: retryable !== 'false' } }),
      });
      ex.ws.close(1000);
    },
    /**
     * Works for `delayMs`, saying so every `progressMs` (status, then progress 0..1); with
     * `first=1` it answers once at the start. Then `done: …` and `agent_complete`.
     */
    slow: async (ex) => {
      const delayMs = intParam(ex.params, 'delayMs', 2_000);
      const progressMs = Math.max(10, intParam(ex.params, 'progressMs', 300));
      ex.send({ type: 'status_update', status: 'thinking' });
      if (ex.params.get('first') === '1') ex.say(`working on: ${ex.request.message}`);
      for (let elapsed = progressMs; elapsed < delayMs; elapsed += progressMs) {
        await ex.wait(progressMs);
        ex.send({ type: 'progress_update', status: 'working', progress: elapsed / delayMs });
      }
      await ex.wait(delayMs % progressMs || progressMs);
      ex.say(`done: ${ex.request.message}`);
      ex.complete();
    },
    silent: () => undefined,
    /**
     * First connection per message: `after` replies, then the agent hangs without closing
     * (stops reading, so pings go unanswered). Later connections: `count` replies, complete.
     */
    dead: async (ex) => {
      const count = intParam(ex.params, 'count', 2);
      if (!first(ex, 'dead')) {
        await numbered(ex, count);
        ex.complete();
        return;
      }
      await numbered(ex, count, intParam(ex.params, 'after', 1));
      ex.ws.pause();
    },
    /** First connection per message: `after` replies, then the socket is cut (1006). */
    drop: async (ex) => {
      const count = intParam(ex.params, 'count', 3);
      if (!first(ex, 'drop')) {
        await numbered(ex, count);
        ex.complete();
        return;
      }
      await numbered(ex, count, intParam(ex.params, 'after', 1));
      ex.ws.terminate();
    },
    garbage: (ex) => ex.ws.send('this is not json {'),
    /** `rich: …` carrying the reply fields given as JSON in `metadata`, then `agent_complete`. */
    /** Answers with the text and metadata the customer's message spells (see `scriptedReply`). */
    scripted: (ex) => {
      const script = scriptedReply(ex.request.message);
      ex.send({
        type: 'agent_message',
        message_id: `reply-${ex.request.message_id}`,
        session_id: ex.request.session_id,
        message: script.content,
        metadata: script.metadata,
      });
      ex.complete();
    },
  };
}

export function unifiedLedger(): UnifiedLedger {
  return { requests: [], firstSeen: new Set() };
}

/** Serves one connection whose first frame (`text`) arrived on `/unified/<behaviour>`. */
export async function serveUnified(
  ws: WebSocket,
  url: URL,
  text: string,
  ledger: UnifiedLedger,
): Promise<void> {
  const gone = new AbortController();
  ws.once('close', () => gone.abort());
  const send = (frame: UnifiedAgentFrame) => {
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ timestamp: new Date().toISOString(), ...frame }));
    }
  };
  const refuse = (code: string, message: string) => {
    send({ type: 'error_message', error_code: code, message });
    ws.close(1000);
  };

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return refuse('bad_request', 'frame is not JSON');
  }
  const parsed = userMessageSchema.safeParse(json);
  if (!parsed.success) return refuse('bad_request', 'frame is not a valid user_message');
  const request = parsed.data;
  ledger.requests.push(request);

  const name = url.pathname.replace(/^\/unified\/+|\/+$/g, '');
  const behaviour = behaviours(ledger)[name];
  if (!behaviour) return refuse('not_found', `no mock unified behaviour at ${url.pathname}`);

  const exchange: UnifiedExchange = {
    ws,
    request,
    params: url.searchParams,
    wait: (ms) => sleep(ms, undefined, { signal: gone.signal }),
    send,
    say: (message, metadata) =>
      send({
        type: 'agent_message',
        message_id: `reply-${request.message_id}`,
        session_id: request.session_id,
        message,
        ...(metadata ? { metadata } : {}),
      }),
    complete: () => send({ type: 'agent_complete', message_id: `reply-${request.message_id}` }),
  };
  try {
    await behaviour(exchange);
  } catch (error) {
    // The socket went away mid-behaviour: nothing left to do.
    if (!gone.signal.aborted) throw error;
  }
}
