import type { WsAgentConfig } from '../config/schema.js';
import type { ConnectionEvent, ConnectionOutput } from '../machines/connection.js';
import type { AgentTurn, ExchangeHooks } from './transport.js';
import {
  agentFrameSchema,
  isRetryableError,
  normalizeErrorCode,
  unifiedUserMessage,
  type UnifiedAgentFrame,
} from './unified.js';
import { invalidFrame, parseJson, runWsExchange } from './wsExchange.js';

/** One `unified` exchange (seed 001) over the shared WebSocket handling of wsExchange.ts. */
export function runUnifiedExchange(
  agent: WsAgentConfig,
  turn: AgentTurn,
  hooks: ExchangeHooks,
): Promise<ConnectionOutput> {
  return runWsExchange(agent, unifiedDialect(turn), hooks);
}

export function unifiedDialect(turn: AgentTurn): {
  request: ReturnType<typeof unifiedUserMessage>;
  decode(text: string): ConnectionEvent[];
} {
  const streams = new StreamAssembler();
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
      return done === undefined ? [chunk] : [chunk, reply(done)];
    }
    case 'agent_complete': {
      const flushed = streams.flush().map((content) => reply(content));
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

/**
 * Puts streamed chunks back together: chunks of one stream (same `message_id`) are ordered by
 * `stream_index`, whatever order they arrived in. A stream is whole once its last chunk
 * (`is_streaming: false`) and every chunk before it have arrived; `flush()` (on
 * `agent_complete`) ends the streams still open. A repeated chunk index is ignored.
 */
export class StreamAssembler {
  private readonly open = new Map<string, { chunks: Map<number, string>; last?: number }>();

  /** The whole text when this chunk completes its stream, else undefined. */
  add(key: string, index: number, text: string, isLast: boolean): string | undefined {
    let stream = this.open.get(key);
    if (!stream) {
      stream = { chunks: new Map() };
      this.open.set(key, stream);
    }
    if (isLast) {
      const beyond = [...stream.chunks.keys()].find((seen) => seen > index);
      if (stream.last !== undefined && stream.last !== index) {
        throw new StreamError(
          `stream ${key || '(no message_id)'} has two last chunks (${stream.last} and ${index})`,
        );
      }
      if (beyond !== undefined) {
        throw new StreamError(
          `stream ${key || '(no message_id)'} has chunk ${beyond} after its last chunk ${index}`,
        );
      }
      stream.last = index;
    } else if (stream.last !== undefined && index > stream.last) {
      throw new StreamError(
        `stream ${key || '(no message_id)'} has chunk ${index} after its last chunk ${stream.last}`,
      );
    }
    if (!stream.chunks.has(index)) stream.chunks.set(index, text);
    if (stream.last === undefined || stream.chunks.size !== stream.last + 1) return undefined;
    this.open.delete(key);
    return join(stream.chunks);
  }

  /** The text of every stream still open, oldest first; a stream with a missing chunk is an error. */
  flush(): string[] {
    const texts = [...this.open].map(([key, stream]) => {
      const count = Math.max(...stream.chunks.keys()) + 1;
      for (let index = 0; index < count; index += 1) {
        if (!stream.chunks.has(index)) {
          throw new StreamError(
            `stream ${key || '(no message_id)'} ended without chunk ${index} of ${count}`,
          );
        }
      }
      return join(stream.chunks);
    });
    this.open.clear();
    return texts;
  }
}

function join(chunks: Map<number, string>): string {
  return [...chunks]
    .sort(([a], [b]) => a - b)
    .map(([, text]) => text)
    .join('');
}
