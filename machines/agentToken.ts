import { assign, setup } from 'xstate';

/**
 * The life of one AIWM agent token in a worker process:
 * idle → acquiring → valid.active → valid.refreshing (before expiry) → valid.active …,
 * ending in expired (nobody refreshed it in time) or failed (the endpoint refused or is down);
 * both start over on the next ACQUIRE.
 *
 * The machine decides; agents/aiwm/token.ts does the HTTP call through the `requestToken` action
 * and feeds the answer back as ISSUED, REJECTED or UNAVAILABLE. Delays come from the context,
 * so tests walk the machine on a simulated clock.
 */

export interface AgentTokenInput {
  /** Ask for a new token this long before the current one expires. */
  refreshMarginMs: number;
  /** After a refresh the endpoint could not answer, try again this soon (default 5 s). */
  refreshRetryMs?: number;
}

export type AgentTokenEvent =
  /** Somebody needs a token and there is none. */
  | { type: 'ACQUIRE' }
  | { type: 'ISSUED'; token: string; expiresInMs: number }
  /** The endpoint refused the credentials (401/403/404): asking again will not help. */
  | { type: 'REJECTED'; detail: string }
  /** The endpoint did not answer usefully (network, timeout, 5xx): it may later. */
  | { type: 'UNAVAILABLE'; detail: string }
  /** The Socket.IO server refused this token: drop it, unless a newer one replaced it already. */
  | { type: 'INVALIDATE'; token: string };

export interface AgentTokenContext {
  refreshMarginMs: number;
  refreshRetryMs: number;
  token?: string;
  /** Lifetime of the current token, as the endpoint gave it. */
  lifetimeMs: number;
  /** Delay before the next refresh attempt. */
  refreshInMs: number;
  /** Tokens received so far. */
  issued: number;
  failure?: { detail: string; retryable: boolean };
}

export type AgentTokenPhase = 'idle' | 'acquiring' | 'active' | 'refreshing' | 'expired' | 'failed';

/** setTimeout fires at once for anything longer (about 24.8 days): clamp instead. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * When to refresh a token that lives `lifetimeMs`: `marginMs` before it expires, but never in
 * its first half, so a margin longer than the lifetime cannot turn into a refresh loop.
 */
export function refreshDelayMs(lifetimeMs: number, marginMs: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(lifetimeMs - marginMs, lifetimeMs / 2));
}

export const agentTokenMachine = setup({
  types: {
    context: {} as AgentTokenContext,
    events: {} as AgentTokenEvent,
    input: {} as AgentTokenInput,
  },
  actions: {
    // Implemented by the token cache via `agentTokenMachine.provide(...)`.
    requestToken: () => {},
    storeToken: assign(({ context, event }) => {
      if (event.type !== 'ISSUED') return {};
      return {
        token: event.token,
        lifetimeMs: Math.min(MAX_TIMER_MS, event.expiresInMs),
        refreshInMs: refreshDelayMs(event.expiresInMs, context.refreshMarginMs),
        issued: context.issued + 1,
        failure: undefined,
      };
    }),
    dropToken: assign({ token: undefined }),
    recordFailure: assign(({ event }, params: { retryable: boolean }) => ({
      token: undefined,
      failure: {
        detail: 'detail' in event ? event.detail : 'token request failed',
        retryable: params.retryable,
      },
    })),
    // A refresh the endpoint could not answer: the token still works, try again soon.
    retrySoon: assign({
      refreshInMs: ({ context }) => Math.min(context.refreshRetryMs, context.lifetimeMs / 4),
    }),
  },
  guards: {
    isCurrentToken: ({ context, event }) =>
      event.type === 'INVALIDATE' && event.token === context.token,
  },
  delays: {
    refreshDelay: ({ context }) => context.refreshInMs,
    tokenLifetime: ({ context }) => context.lifetimeMs,
  },
}).createMachine({
  id: 'agentToken',
  context: ({ input }) => ({
    refreshMarginMs: input.refreshMarginMs,
    refreshRetryMs: input.refreshRetryMs ?? 5_000,
    lifetimeMs: 0,
    refreshInMs: 0,
    issued: 0,
  }),
  initial: 'idle',
  states: {
    idle: { on: { ACQUIRE: 'acquiring' } },
    acquiring: {
      entry: 'requestToken',
      on: {
        ISSUED: { target: 'valid', actions: 'storeToken' },
        REJECTED: {
          target: 'failed',
          actions: { type: 'recordFailure', params: { retryable: false } },
        },
        UNAVAILABLE: {
          target: 'failed',
          actions: { type: 'recordFailure', params: { retryable: true } },
        },
      },
    },
    valid: {
      initial: 'active',
      // Re-entered on every new token, which restarts this timer with the new lifetime.
      after: { tokenLifetime: { target: 'expired', actions: 'dropToken' } },
      on: {
        INVALIDATE: { guard: 'isCurrentToken', target: 'acquiring', actions: 'dropToken' },
      },
      states: {
        active: { after: { refreshDelay: 'refreshing' } },
        refreshing: {
          entry: 'requestToken',
          on: {
            ISSUED: { target: '#agentToken.valid', reenter: true, actions: 'storeToken' },
            REJECTED: {
              target: '#agentToken.failed',
              actions: { type: 'recordFailure', params: { retryable: false } },
            },
            UNAVAILABLE: { target: 'active', actions: 'retrySoon' },
          },
        },
      },
    },
    expired: { on: { ACQUIRE: 'acquiring' } },
    failed: { on: { ACQUIRE: 'acquiring' } },
  },
});

export function tokenPhaseOf(value: unknown): AgentTokenPhase {
  if (typeof value === 'string') return value as AgentTokenPhase;
  if (value && typeof value === 'object' && 'valid' in value)
    return (value as { valid: AgentTokenPhase }).valid;
  return 'idle';
}
