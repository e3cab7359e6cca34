import { assign, setup } from 'xstate';

/**
 * The agent-side session of one conversation (seeds 002 and 004): none → active → expired →
 * active (a new session) …, and closed when the conversation is resolved.
 *
 * - The session id is created on the first turn or greeting, `{agentId}_{account}_{conversation}_{n}`,
 *   and stays the same for every turn until the session expires or the agent changes.
 * - A conversation quiet for `idleMs` expires the session; the next turn starts session n+1.
 * - A greeting (`conversation_created`, `webwidget_triggered`) is posted once per session.
 *
 * Pure like the conversation machine: no `after` delays; `dueAt` is carried as data and the
 * actor workflow sends `TICK` when its timer fires. Effects are the named action `greet`.
 * The Socket.IO transport's access-token lifecycle lives in machines/agentToken.ts: tokens
 * belong to a worker process, sessions to a conversation.
 */

export interface SessionInput {
  accountId: number;
  conversationId: number;
}

export interface SessionContext extends SessionInput {
  agentId?: string;
  /** How many sessions this conversation has had (the current one included). */
  sequence: number;
  sessionId?: string;
  idleMs?: number;
  lastActivityAt?: number;
  dueAt?: number;
  /** The session (by sequence) that was greeted, so a widget reopened twice greets once. */
  greetedSequence?: number;
}

export type SessionEvent =
  | { type: 'TURN'; agentId: string; idleMs?: number; at: number }
  | { type: 'GREET'; agentId: string; idleMs?: number; at: number }
  | { type: 'TICK'; at: number }
  | { type: 'CLOSE' };

function sameAgent(context: SessionContext, event: SessionEvent): boolean {
  return 'agentId' in event && event.agentId === context.agentId;
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionInput,
  },
  actions: {
    // Executed by the actor workflow: post the agent's greeting messages.
    greet: () => undefined,
    startSession: assign(({ context, event }) => {
      if (event.type !== 'TURN' && event.type !== 'GREET') return {};
      const sequence = context.sequence + 1;
      return {
        agentId: event.agentId,
        sequence,
        sessionId: `${event.agentId}_${context.accountId}_${context.conversationId}_${sequence}`,
        idleMs: event.idleMs,
        greetedSequence: undefined,
      };
    }),
    touch: assign(({ context, event }) => {
      if (event.type !== 'TURN' && event.type !== 'GREET') return {};
      return {
        lastActivityAt: event.at,
        idleMs: event.idleMs,
        dueAt: event.idleMs === undefined ? undefined : event.at + event.idleMs,
        greetedSequence: event.type === 'GREET' ? context.sequence : context.greetedSequence,
      };
    }),
    expire: assign({ dueAt: undefined }),
  },
  guards: {
    sameAgent: ({ context, event }) => sameAgent(context, event),
    sameAgentNotGreeted: ({ context, event }) =>
      sameAgent(context, event) && context.greetedSequence !== context.sequence,
    due: ({ context, event }) =>
      event.type === 'TICK' && context.dueAt !== undefined && event.at >= context.dueAt,
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ ...input, sequence: 0 }),
  initial: 'none',
  on: { CLOSE: '.closed' },
  states: {
    none: {
      on: {
        TURN: { target: 'active', actions: ['startSession', 'touch'] },
        GREET: { target: 'active', actions: ['startSession', 'touch', 'greet'] },
      },
    },
    active: {
      on: {
        TURN: [
          { guard: 'sameAgent', actions: 'touch' },
          // Another agent took the conversation over: it gets a session of its own.
          { target: 'active', reenter: true, actions: ['startSession', 'touch'] },
        ],
        GREET: [
          { guard: 'sameAgentNotGreeted', actions: ['touch', 'greet'] },
          { guard: 'sameAgent', actions: 'touch' },
          { target: 'active', reenter: true, actions: ['startSession', 'touch', 'greet'] },
        ],
        TICK: { guard: 'due', target: 'expired', actions: 'expire' },
      },
    },
    expired: {
      on: {
        TURN: { target: 'active', actions: ['startSession', 'touch'] },
        GREET: { target: 'active', actions: ['startSession', 'touch', 'greet'] },
      },
    },
    closed: { type: 'final' },
  },
});

export type SessionState = 'none' | 'active' | 'expired' | 'closed';
