import type { WsAgentConfig } from '../../config/schema.js';
import type { ConnectionEvent, ConnectionOutput } from '../../machines/connection.js';
import type { AgentTurn, ExchangeHooks } from '../types.js';
import {
  agentFrameSchema,
  isRetryableError,
  normalizeErrorCode,
  unifiedUserMessage,
  type UnifiedAgentFrame,
} from './protocol.js';
import { cutNote, cutText } from '../replyLimits.js';
import { invalidFrame, parseJson, runWsExchange } from '../ws/socket.js';

/** One `unified` exchange (seed 001) over the shared WebSocket handling of agents/ws/socket.ts. */
export function runUnifiedExchange(
  agent: WsAgentConfig,
  turn: AgentTurn,
  hooks: ExchangeHooks,
): Promise<ConnectionOutput> {
  return runWsExchange(
    agent,
    unifiedDialect(turn, { agentId: agent.id, maxChars: agent.maxReplyChars }),
    hooks,
  );
}

export function unifiedDialect(
  turn: AgentTurn,
  limits?: { agentId: string; maxChars: number },
): {
  request: ReturnType<typeof unifiedUserMessage>;
  decode(text: string): ConnectionEvent[];
} {
  const streams = new StreamAssembler(limits);
  return {
    request: unifiedUserMessage(turn),
    decode(text) {
      const json = parseJson(text);
      if (json === undefined) {
        return [{ type: 'PROTOCOL_ERROR', detail: 'agent sent a frame that is not JSON' }];
      }
      const parsed = agentFrameSchema.safeParse(json);
      if (!parsed.success) return [invalidFrame(parsed.error)];
      try {
        return frameEvents(parsed.data, streams);
      } catch (error) {
        if (!(error instanceof StreamError)) throw error;
        return [{ type: 'PROTOCOL_ERROR', detail: error.message }];
      }
    },
  };
}

/** Machine events for one valid frame. */
function frameEvents(frame: UnifiedAgentFrame, streams: StreamAssembler): ConnectionEvent[] {
  const metadata = frame.metadata ?? {};
  const reply = (content: string, final = false): ConnectionEvent => ({
    type: 'REPLY',
    reply: { content, final, metadata },
  });
  const assembled = ({ text, note }: AssembledReply): ConnectionEvent => ({
    type: 'REPLY',
    reply: {
      content: text,
      final: false,
      metadata: note ? { ...metadata, privateNote: note } : metadata,
    },
  });
  switch (frame.type) {
    case 'agent_message':
      return [reply(frame.message)];
    case 'agent_streaming': {
      const done = streams.add(
        frame.message_id ?? '',
        frame.stream_index,
        frame.message,
        frame.is_streaming === false,
      );
      const chunk: ConnectionEvent = {
        type: 'KEEPALIVE',
        detail: `streaming (chunk ${frame.stream_index})`,
      };
      return done === undefined ? [chunk] : [chunk, assembled(done)];
    }
    case 'agent_complete': {
      const flushed = streams.flush().map(assembled);
      return frame.message
        ? [...flushed, reply(frame.message, true)]
        : [...flushed, { type: 'COMPLETE' }];
    }
    case 'error_message':
      return [
        {
          type: 'AGENT_ERROR',
          detail: `agent error ${normalizeErrorCode(frame.error_code)}: ${frame.message ?? 'no message'}`,
          retryable: isRetryableError(frame),
        },
      ];
    case 'status_update':
      return [{ type: 'KEEPALIVE', detail: frame.status ?? frame.message ?? 'working' }];
    case 'progress_update': {
      const percent =
        typeof frame.progress === 'number' ? `${Math.round(frame.progress * 100)}%` : undefined;
      const words = [frame.status ?? frame.message, percent].filter(Boolean).join(' ');
      return [{ type: 'KEEPALIVE', detail: words || 'working' }];
    }
    default:
      return [];
  }
}

export class StreamError extends Error {
  override name = 'StreamError';
}

/** Streams one exchange may have open at once, and chunks one stream may have. */
export const MAX_OPEN_STREAMS = 32;
export const MAX_STREAM_CHUNKS = 10_000;

interface OpenStream {
  /** Index → the part of its text kept (all of it until the stream passes maxChars). */
  chunks: Map<number, { text: string; whole: boolean }>;
  last?: number;
  /** Characters kept, and characters the agent sent. */
  kept: number;
  sent: number;
}

/**
 * Puts streamed chunks back together: chunks of one stream (same `message_id`) are ordered by
 * `stream_index`, whatever order they arrived in. A stream is whole once its last chunk
 * (`is_streaming: false`) and every chunk before it have arrived; `flush()` (on
 * `agent_complete`) ends the streams still open. A repeated chunk index is ignored.
 *
 * Bounded: past `maxChars` characters a stream's text is no longer kept (the reply is cut there,
 * with a note), at most MAX_OPEN_STREAMS streams and MAX_STREAM_CHUNKS chunks per stream.
 */
export class StreamAssembler {
  private readonly open = new Map<string, OpenStream>();

  constructor(
    private readonly limits: { agentId: string; maxChars: number } = {
      agentId: 'agent',
      maxChars: Number.POSITIVE_INFINITY,
    },
  ) {}

  /** The whole reply when this chunk completes its stream, else undefined. */
  add(key: string, index: number, text: string, isLast: boolean): AssembledReply | undefined {
    const name = key || '(no message_id)';
    if (index >= MAX_STREAM_CHUNKS) {
      throw new StreamError(
        `stream ${name} has chunk ${index}, past the limit of ${MAX_STREAM_CHUNKS} chunks`,
      );
    }
    let stream = this.open.get(key);
    if (!stream) {
      if (this.open.size >= MAX_OPEN_STREAMS) {
        throw new StreamError(`more than ${MAX_OPEN_STREAMS} streams open at once`);
      }
      stream = { chunks: new Map(), kept: 0, sent: 0 };
      this.open.set(key, stream);
    }
    if (isLast) {
      const beyond = [...stream.chunks.keys()].find((seen) => seen > index);
      if (stream.last !== undefined && stream.last !== index) {
        throw new StreamError(`stream ${name} has two last chunks (${stream.last} and ${index})`);
      }
      if (beyond !== undefined) {
        throw new StreamError(`stream ${name} has chunk ${beyond} after its last chunk ${index}`);
      }
      stream.last = index;
    } else if (stream.last !== undefined && index > stream.last) {
      throw new StreamError(
        `stream ${name} has chunk ${index} after its last chunk ${stream.last}`,
      );
    }
    if (!stream.chunks.has(index)) {
      // One character over the limit is kept, so the reply is known to be cut.
      const room = Math.max(0, this.limits.maxChars + 1 - stream.kept);
      const kept = text.length <= room ? text : text.slice(0, room);
      stream.chunks.set(index, { text: kept, whole: kept.length === text.length });
      stream.kept += kept.length;
      stream.sent += text.length;
    }
    if (stream.last === undefined || stream.chunks.size !== stream.last + 1) return undefined;
    this.open.delete(key);
    return this.assemble(stream);
  }

  /** Every stream still open, oldest first; a stream with a missing chunk is an error. */
  flush(): AssembledReply[] {
    const replies = [...this.open].map(([key, stream]) => {
      const count = Math.max(...stream.chunks.keys()) + 1;
      for (let index = 0; index < count; index += 1) {
        if (!stream.chunks.has(index)) {
          throw new StreamError(
            `stream ${key || '(no message_id)'} ended without chunk ${index} of ${count}`,
          );
        }
      }
      return this.assemble(stream);
    });
    this.open.clear();
    return replies;
  }

  private assemble(stream: OpenStream): AssembledReply {
    const text = join(stream.chunks);
    if (stream.sent <= this.limits.maxChars) return { text };
    return {
      text: cutText(text, this.limits.maxChars),
      note: cutNote(this.limits.agentId, stream.sent, this.limits.maxChars),
    };
  }
}

/** A stream's text, and the note for the team when it had to be cut. */
export interface AssembledReply {
  text: string;
  note?: string;
}

/** The chunks in order, up to the first one only partly kept (what follows it cannot join on). */
function join(chunks: Map<number, { text: string; whole: boolean }>): string {
  const ordered = [...chunks].sort(([a], [b]) => a - b);
  const parts: string[] = [];
  for (const [, chunk] of ordered) {
    parts.push(chunk.text);
    if (!chunk.whole) break;
  }
  return parts.join('');
}
