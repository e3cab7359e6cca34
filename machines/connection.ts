import { assign, setup } from 'xstate';

/**
 * The lifecycle of one agent connection (one customer message):
 * idle → connecting → sending → awaitingReply → streaming → closing → closed | failed.
 * Shared by the transports: `bridge-v1` over `ws` and AIWM over Socket.IO (where `sending` waits
 * for the server's `message:sent` acknowledgement, bounded by `ackTimeoutMs`).
 *
 * The machine decides; the exchange activity does the I/O through the named actions
 * (`openSocket`, `sendRequest`, `closeSocket`, `deliverReply`) and feeds socket events back.
 * Timeouts are `after` delays taken from the input, so the machine can be walked with a
 * simulated clock in tests.
 */

export interface ConnectionInput {
  connectTimeoutMs: number;
  replyTimeoutMs: number;
  idleTimeoutMs: number;
  totalTimeoutMs: number;
  maxResponses: number;
  /** Time allowed for the request to be acknowledged (`SENT`); default `replyTimeoutMs`. */
  ackTimeoutMs?: number;
}

export type FailureReason =
  | 'connect_failed'
  | 'connect_timeout'
  | 'ack_timeout'
  | 'reply_timeout'
  | 'total_timeout'
  | 'closed_before_reply'
  | 'dropped'
  | 'agent_error'
  | 'protocol_error'
  /** The agent said it was done (unified `agent_complete`) without having replied. */
  | 'completed_without_reply'
  | 'cancelled';

export type EndReason =
  'final' | 'max_responses' | 'agent_closed' | 'idle_timeout' | 'total_timeout';

export interface ReplyPayload {
  content: string;
  final: boolean;
  metadata: Record<string, unknown>;
}

export type ConnectionEvent =
  | { type: 'START' }
  | { type: 'CONNECTED' }
  /** `retryable: false`: connecting again will not help (e.g. the agent's credentials are refused). */
  | { type: 'CONNECT_FAILED'; detail: string; retryable?: boolean }
  | { type: 'SENT' }
  | { type: 'REPLY'; reply: ReplyPayload }
  | { type: 'AGENT_ERROR'; detail: string; retryable: boolean }
  | { type: 'PROTOCOL_ERROR'; detail: string }
  /** `clean`: the agent closed with a close frame (1000/1001); otherwise the socket dropped. */
  | { type: 'SOCKET_CLOSED'; clean: boolean; detail?: string }
  /** The agent is working (unified status/progress frames, stream chunks): restarts the reply or idle timer. */
  | { type: 'KEEPALIVE'; detail: string }
  /** The agent ended its answer without a final reply frame (unified `agent_complete`). */
  | { type: 'COMPLETE' }
  | { type: 'CANCEL' };

export interface ConnectionContext extends ConnectionInput {
  replies: number;
  /** What the agent last said it was doing (KEEPALIVE detail), reported in heartbeats. */
  activity?: string;
  endReason?: EndReason;
  failure?: { reason: FailureReason; detail: string; retryable: boolean };
}

export type ConnectionOutput =
  | { outcome: 'completed'; endReason: EndReason; replies: number }
  | {
      outcome: 'failed';
      reason: FailureReason;
      detail: string;
      retryable: boolean;
      replies: number;
    };

/** Named phases, as reported in activity heartbeats. */
export type ConnectionPhase =
  | 'idle'
  | 'connecting'
  | 'sending'
  | 'awaitingReply'
  | 'streaming'
  | 'closing'
  | 'closed'
  | 'failed';

// The reply index is the count before this reply: 0, 1, 2, ...
const replyParams = ({
  context,
  event,
}: {
  context: ConnectionContext;
  event: ConnectionEvent;
}) => ({
  reply: event.type === 'REPLY' ? event.reply : { content: '', final: false, metadata: {} },
  index: context.replies,
});

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
    output: {} as ConnectionOutput,
  },
  actions: {
    // Implemented by the exchange activity via `connectionMachine.provide(...)`.
    openSocket: () => {},
    sendRequest: () => {},
    closeSocket: () => {},
    deliverReply: (_, _params: { reply: ReplyPayload; index: number }) => {},
    recordFailure: assign(({ event }, params: { reason: FailureReason; retryable?: boolean }) => ({
      failure: {
        reason: params.reason,
        // An agent's error frame (or a refused connection) says itself whether a retry can help.
        retryable:
          event.type === 'AGENT_ERROR' ||
          (event.type === 'CONNECT_FAILED' && event.retryable !== undefined)
            ? (event.retryable ?? true)
            : (params.retryable ?? true),
        detail:
          'detail' in event && event.detail ? event.detail : params.reason.replaceAll('_', ' '),
      },
    })),
    recordEnd: assign((_, params: { endReason: EndReason }) => ({ endReason: params.endReason })),
    countReply: assign({ replies: ({ context }) => context.replies + 1 }),
    recordActivity: assign({
      activity: ({ context, event }) =>
        event.type === 'KEEPALIVE' ? event.detail : context.activity,
    }),
    endAfterReply: assign({
      endReason: ({ event }) =>
        event.type === 'REPLY' && event.reply.final ? 'final' : 'max_responses',
    }),
  },
  delays: {
    connectTimeout: ({ context }) => context.connectTimeoutMs,
    ackTimeout: ({ context }) => context.ackTimeoutMs ?? context.replyTimeoutMs,
    replyTimeout: ({ context }) => context.replyTimeoutMs,
    idleTimeout: ({ context }) => context.idleTimeoutMs,
    totalTimeout: ({ context }) => context.totalTimeoutMs,
  },
  guards: {
    isLastReply: ({ context, event }) =>
      event.type === 'REPLY' && (event.reply.final || context.replies + 1 >= context.maxResponses),
    hasReplies: ({ context }) => context.replies > 0,
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({ ...input, replies: 0 }),
  initial: 'idle',
  states: {
    idle: { on: { START: 'active' } },
    active: {
      initial: 'connecting',
      after: {
        totalTimeout: [
          {
            guard: 'hasReplies',
            target: 'closing',
            actions: { type: 'recordEnd', params: { endReason: 'total_timeout' } },
          },
          {
            target: 'failed',
            actions: { type: 'recordFailure', params: { reason: 'total_timeout' } },
          },
        ],
      },
      on: {
        CANCEL: {
          target: 'failed',
          actions: { type: 'recordFailure', params: { reason: 'cancelled', retryable: false } },
        },
        AGENT_ERROR: {
          target: 'failed',
          actions: { type: 'recordFailure', params: { reason: 'agent_error' } },
        },
        // Handled here, not only in awaitingReply/streaming: a fast agent's reply may arrive
        // before the socket reports the request as written. Entering `streaming` anew
        // restarts its idle timer; `active` itself is not re-entered, so the total timer runs on.
        REPLY: [
          {
            guard: 'isLastReply',
            target: 'closing',
            actions: [{ type: 'deliverReply', params: replyParams }, 'countReply', 'endAfterReply'],
          },
          {
            target: '.streaming',
            actions: [{ type: 'deliverReply', params: replyParams }, 'countReply'],
          },
        ],
        PROTOCOL_ERROR: {
          target: 'failed',
          actions: {
            type: 'recordFailure',
            params: { reason: 'protocol_error', retryable: false },
          },
        },
        COMPLETE: [
          {
            guard: 'hasReplies',
            target: 'closing',
            actions: { type: 'recordEnd', params: { endReason: 'final' } },
          },
          {
            target: 'failed',
            actions: {
              type: 'recordFailure',
              params: { reason: 'completed_without_reply', retryable: false },
            },
          },
        ],
      },
      states: {
        connecting: {
          entry: 'openSocket',
          after: {
            connectTimeout: {
              target: '#connection.failed',
              actions: { type: 'recordFailure', params: { reason: 'connect_timeout' } },
            },
          },
          on: {
            CONNECTED: 'sending',
            CONNECT_FAILED: {
              target: '#connection.failed',
              actions: { type: 'recordFailure', params: { reason: 'connect_failed' } },
            },
            SOCKET_CLOSED: {
              target: '#connection.failed',
              actions: { type: 'recordFailure', params: { reason: 'connect_failed' } },
            },
          },
        },
        sending: {
          entry: 'sendRequest',
          after: {
            ackTimeout: {
              target: '#connection.failed',
              actions: { type: 'recordFailure', params: { reason: 'ack_timeout' } },
            },
          },
          on: {
            SENT: 'awaitingReply',
            SOCKET_CLOSED: {
              target: '#connection.failed',
              actions: { type: 'recordFailure', params: { reason: 'closed_before_reply' } },
            },
          },
        },
        awaitingReply: {
          after: {
            replyTimeout: {
              target: '#connection.failed',
              actions: { type: 'recordFailure', params: { reason: 'reply_timeout' } },
            },
          },
          on: {
            // Re-entering restarts the reply timer; the total timer on `active` runs on.
            KEEPALIVE: { target: 'awaitingReply', reenter: true, actions: 'recordActivity' },
            SOCKET_CLOSED: {
              target: '#connection.failed',
              actions: { type: 'recordFailure', params: { reason: 'closed_before_reply' } },
            },
          },
        },
        streaming: {
          after: {
            idleTimeout: {
              target: '#connection.closing',
              actions: { type: 'recordEnd', params: { endReason: 'idle_timeout' } },
            },
          },
          on: {
            KEEPALIVE: { target: 'streaming', reenter: true, actions: 'recordActivity' },
            SOCKET_CLOSED: [
              {
                guard: ({ event }) => event.clean,
                target: '#connection.closed',
                actions: { type: 'recordEnd', params: { endReason: 'agent_closed' } },
              },
              {
                target: '#connection.failed',
                actions: { type: 'recordFailure', params: { reason: 'dropped' } },
              },
            ],
          },
        },
      },
    },
    closing: {
      entry: 'closeSocket',
      // The socket layer reports the close; either way we are done.
      on: { SOCKET_CLOSED: 'closed' },
      after: { 1_000: 'closed' },
    },
    closed: { type: 'final' },
    failed: { type: 'final', entry: 'closeSocket' },
  },
  output: ({ context }) =>
    context.failure
      ? { outcome: 'failed', ...context.failure, replies: context.replies }
      : {
          outcome: 'completed',
          endReason: context.endReason ?? 'agent_closed',
          replies: context.replies,
        },
});

export function phaseOf(value: unknown): ConnectionPhase {
  if (typeof value === 'string') return value as ConnectionPhase;
  if (value && typeof value === 'object' && 'active' in value)
    return (value as { active: ConnectionPhase }).active;
  return 'idle';
}
