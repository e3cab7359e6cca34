import { and, assign, or, setup } from 'xstate';

/**
 * The lifecycle of one conversation, as the conversation actor workflow sees it:
 * active (idle → collecting → delivering → idle) ↔ paused (a human took over) → closed.
 *
 * The machine is pure: it runs inside a workflow through xstate's `initialTransition` /
 * `transition`, and it has no `after` delays. A restored actor would not re-arm them (xstate
 * issue 5331), so deadlines are plain numbers in the context (`dueAt`) that the workflow turns
 * into Temporal timers; when one fires, it sends `TICK` with the time.
 *
 * Effects are named actions the workflow executes: `startTurn` (run one message-delivery child
 * for `context.turn`), `cancelTurn` (cancel the running child), `startHandOver` (a customer asked
 * for a person: post the acknowledgement, open the conversation, leave a note; its `params`
 * carry the request, opaque to the machine).
 *
 * Order: with `orderByCreation`, the queue is kept in the order Chatwoot created the messages
 * (message id, then creation time), whatever order they arrived in, and a message reaching an
 * idle queue waits `reorderWindowMs` (state `reordering`) so one overtaken in flight still goes
 * first. With `reorderSliding`, each arrival restarts that wait (up to `REORDER_MAX_WINDOWS`
 * windows after the first): on a loaded host a burst's webhooks reach the actor spread out, gaps
 * short, the whole spread longer than one window. Without `orderByCreation` (actors recorded
 * before the change), arrival order, as before.
 */

export interface DebounceSettings {
  quietMs: number;
  maxWaitMs: number;
  maxBatch: number;
}

/** A customer message waiting for its turn; `payload` is opaque to the machine. */
export interface QueuedMessage<P = unknown> {
  messageId: number;
  receivedAt: number;
  /** When Chatwoot created the message (epoch ms), if known: second key of the order. */
  createdAtMs?: number;
  /** Debounce of the agent this message is routed to (unset: a turn per message). */
  debounce?: DebounceSettings;
  abortOnNewer: boolean;
  payload: P;
}

export interface ConversationContext {
  queue: QueuedMessage[];
  /** The messages of the turn being delivered (oldest first). */
  turn: QueuedMessage[];
  /** Numbers the turns, so a late report from a cancelled turn is not taken for the current one. */
  turnSeq: number;
  /** Set while a cancelled turn winds down: its messages join the next turn. */
  aborting: boolean;
  /** When the next `TICK` is due (debounce window or paused idle resume), if any. */
  dueAt?: number;
  pausedReason?: string;
  pausedAt?: number;
  /** Messages that came while paused: recorded, never sent to the agent. */
  heldMessageIds: number[];
  /** Paused this long with no human activity → the bot resumes (unset: never). */
  resumeAfterIdleMs?: number;
  closedReason?: string;
  /** Queue in creation order instead of arrival order (set by the workflow, behind a patch). */
  orderByCreation?: boolean;
  /** How long a message reaching an idle queue waits for older ones overtaken in flight. */
  reorderWindowMs?: number;
  /** The wait restarts at each arrival (set by the workflow, behind a patch). */
  reorderSliding?: boolean;
  /**
   * A pause on a status change alone (`statusOnly`: no human replied or took it; Chatwoot opens
   * a conversation itself when a bot webhook failed) lets the running turn finish and keeps the
   * waiting messages, answered in order when the bot resumes, unless a human acts meanwhile (set
   * by the workflow, behind a patch).
   */
  statusOnlyPauses?: boolean;
  /** The current pause is a status-only one: `keptMessages` go back to the queue on resume. */
  statusOnlyPaused?: boolean;
  keptMessages?: QueuedMessage[];
  /** A customer asked for a person while a turn ran: handed over once that turn reports. */
  handOverPending?: unknown;
}

export interface ConversationInput {
  resumeAfterIdleMs?: number;
  orderByCreation?: boolean;
  reorderWindowMs?: number;
  reorderSliding?: boolean;
  statusOnlyPauses?: boolean;
}

export type TurnOutcome = 'delivered' | 'handed_off' | 'failed' | 'cancelled' | 'duplicate';

export type ConversationEvent =
  | { type: 'MESSAGE'; message: QueuedMessage }
  | { type: 'TICK'; at: number }
  | { type: 'TURN_FINISHED'; turnSeq: number; outcome: TurnOutcome; reason?: string; at: number }
  /** `statusOnly`: only the status changed (Chatwoot opens it on a bot failure too). */
  | { type: 'HUMAN_ACTIVE'; reason: string; at: number; statusOnly?: boolean }
  /** `at`: kept messages wait a reorder window from then, for older ones handed over next. */
  | { type: 'BOT_RESUMED'; reason: string; at?: number }
  /**
   * A customer asked for a person: the bot pauses as for a human, and the hand-over starts now,
   * or once the running turn reports (its replies answer what came before). `request` is opaque.
   */
  | { type: 'HUMAN_REQUESTED'; reason: string; at: number; request: unknown }
  | { type: 'RESOLVED'; reason: string };

/** Messages kept in `heldMessageIds`: enough to explain a pause, bounded for long pauses. */
const HELD_LIMIT = 50;

/** Chatwoot's creation order: message id first (ids grow), then creation time. */
export function byCreation(a: QueuedMessage, b: QueuedMessage): number {
  return a.messageId - b.messageId || (a.createdAtMs ?? 0) - (b.createdAtMs ?? 0);
}

function ordered(context: ConversationContext, queue: QueuedMessage[]): QueuedMessage[] {
  return context.orderByCreation ? [...queue].sort(byCreation) : queue;
}

/** A sliding reorder wait never holds the first waiting message longer than this many windows. */
export const REORDER_MAX_WINDOWS = 5;

/**
 * The reorder window ends this long after the first of the waiting messages arrived, or, sliding,
 * after the last one (capped).
 */
function reorderDueAt(context: ConversationContext): number | undefined {
  if (context.queue.length === 0) return undefined;
  const arrivals = context.queue.map((message) => message.receivedAt);
  const window = context.reorderWindowMs ?? 0;
  const firstArrival = Math.min(...arrivals);
  if (!context.reorderSliding) return firstArrival + window;
  return Math.min(Math.max(...arrivals) + window, firstArrival + window * REORDER_MAX_WINDOWS);
}

/** Already queued, or in the running turn: a second hand-over of the same message. */
function isWaiting(context: ConversationContext, message: QueuedMessage): boolean {
  return [...context.queue, ...context.turn].some((m) => m.messageId === message.messageId);
}

function debounceOf(queue: QueuedMessage[]): DebounceSettings | undefined {
  // The newest message's agent decides (a route change mid-burst takes effect at once).
  return queue.at(-1)?.debounce;
}

/** When the collected burst is due: quiet window after the last message, capped by max wait. */
function burstDueAt(queue: QueuedMessage[]): number | undefined {
  const debounce = debounceOf(queue);
  const first = queue[0];
  const last = queue.at(-1);
  if (!debounce || !first || !last) return undefined;
  return Math.min(last.receivedAt + debounce.quietMs, first.receivedAt + debounce.maxWaitMs);
}

function burstIsFull(queue: QueuedMessage[]): boolean {
  const debounce = debounceOf(queue);
  return debounce !== undefined && queue.length >= debounce.maxBatch;
}

/** The next turn: the whole burst when debouncing (up to maxBatch), else the oldest message. */
function takeTurn(queue: QueuedMessage[]): { turn: QueuedMessage[]; rest: QueuedMessage[] } {
  const debounce = debounceOf(queue);
  const size = debounce ? Math.min(queue.length, debounce.maxBatch) : 1;
  return { turn: queue.slice(0, size), rest: queue.slice(size) };
}

export const conversationMachine = setup({
  types: {
    context: {} as ConversationContext,
    events: {} as ConversationEvent,
    input: {},
  },
  actions: {
    // Executed by the actor workflow (see workflows/conversation.ts); pure here.
    startTurn: () => undefined,
    cancelTurn: () => undefined,
    startHandOver: (_args, _params: { request: unknown }) => undefined,
    deferHandOver: assign({
      handOverPending: ({ event }) =>
        event.type === 'HUMAN_REQUESTED' ? event.request : undefined,
    }),
    clearHandOver: assign({ handOverPending: undefined }),
    enqueue: assign({
      queue: ({ context, event }) =>
        event.type === 'MESSAGE' && !(context.statusOnlyPauses && isWaiting(context, event.message))
          ? ordered(context, [...context.queue, event.message])
          : context.queue,
    }),
    scheduleReorder: assign({ dueAt: ({ context }) => reorderDueAt(context) }),
    scheduleBurst: assign({ dueAt: ({ context }) => burstDueAt(context.queue) }),
    takeTurn: assign(({ context }) => {
      const { turn, rest } = takeTurn(context.queue);
      return { turn, queue: rest, dueAt: undefined, turnSeq: context.turnSeq + 1 };
    }),
    /** A cancelled turn's messages go back in front, to be merged with the newer ones. */
    requeueAborted: assign(({ context }) => ({
      queue: [...context.turn.map((message) => ({ ...message })), ...context.queue],
      turn: [],
      aborting: false,
    })),
    mergeAll: assign(({ context }) => ({
      turn: ordered(context, context.queue),
      queue: [],
      dueAt: undefined,
      turnSeq: context.turnSeq + 1,
    })),
    finishTurn: assign({ turn: [], aborting: false }),
    markAborting: assign({ aborting: true }),
    pause: assign(({ context, event }) => {
      const at = ('at' in event ? event.at : undefined) ?? context.pausedAt ?? 0;
      const reason =
        event.type === 'HUMAN_ACTIVE' || event.type === 'HUMAN_REQUESTED'
          ? event.reason
          : event.type === 'TURN_FINISHED'
            ? (event.reason ?? 'handed off to the team')
            : 'paused';
      const keep =
        context.statusOnlyPauses === true &&
        event.type === 'HUMAN_ACTIVE' &&
        event.statusOnly === true;
      return {
        pausedReason: reason,
        pausedAt: at,
        // Kept for the bot when only the status changed; else the human now owns them.
        ...(context.statusOnlyPauses
          ? { statusOnlyPaused: keep, keptMessages: keep ? [...context.queue] : [] }
          : {}),
        heldMessageIds: [
          ...context.heldMessageIds,
          ...context.queue.map((message) => message.messageId),
        ].slice(-HELD_LIMIT),
        queue: [],
        dueAt: context.resumeAfterIdleMs === undefined ? undefined : at + context.resumeAfterIdleMs,
      };
    }),
    touchPause: assign(({ context, event }) => {
      if (event.type !== 'HUMAN_ACTIVE' && event.type !== 'HUMAN_REQUESTED') return {};
      // A human acted (or the customer asked for one) during a status-only pause: the kept
      // messages are the team's now.
      const humanActed =
        context.statusOnlyPaused === true &&
        (event.type === 'HUMAN_REQUESTED' || event.statusOnly !== true);
      return {
        ...(humanActed ? { statusOnlyPaused: false, keptMessages: [] } : {}),
        ...(event.type === 'HUMAN_REQUESTED' && humanActed ? { pausedReason: event.reason } : {}),
        pausedAt: event.at,
        dueAt:
          context.resumeAfterIdleMs === undefined
            ? undefined
            : event.at + context.resumeAfterIdleMs,
      };
    }),
    hold: assign(({ context, event }) => {
      if (event.type !== 'MESSAGE') return {};
      const kept = context.keptMessages ?? [];
      const keep =
        context.statusOnlyPaused === true &&
        !kept.some((message) => message.messageId === event.message.messageId);
      return {
        heldMessageIds: [...context.heldMessageIds, event.message.messageId].slice(-HELD_LIMIT),
        ...(keep ? { keptMessages: [...kept, event.message] } : {}),
      };
    }),
    resume: assign(({ context, event }) => ({
      pausedReason: undefined,
      ...(context.handOverPending !== undefined ? { handOverPending: undefined } : {}),
      pausedAt: undefined,
      dueAt: undefined,
      heldMessageIds: [],
      ...(context.statusOnlyPauses
        ? {
            // Messages kept through a status-only pause are the bot's again, in creation order,
            // as if they arrived now: catch-up hands the older missed ones right after.
            queue: ordered(context, [
              ...(context.keptMessages ?? []).map((message) =>
                'at' in event && event.at !== undefined
                  ? { ...message, receivedAt: event.at }
                  : message,
              ),
              ...context.queue,
            ]),
            keptMessages: [],
            statusOnlyPaused: false,
          }
        : {}),
    })),
    close: assign({
      closedReason: ({ event }) => (event.type === 'RESOLVED' ? event.reason : 'closed'),
      queue: [],
      dueAt: undefined,
    }),
  },
  guards: {
    burstWaiting: ({ context }) =>
      context.queue.length > 0 && debounceOf(context.queue) !== undefined,
    messageWaiting: ({ context }) => context.queue.length > 0,
    reorderWindow: ({ context }) =>
      context.orderByCreation === true &&
      (context.reorderWindowMs ?? 0) > 0 &&
      context.queue.length > 0 &&
      debounceOf(context.queue) === undefined,
    notDebouncing: ({ context }) => debounceOf(context.queue) === undefined,
    currentTurn: ({ context, event }) =>
      event.type === 'TURN_FINISHED' && event.turnSeq === context.turnSeq,
    currentTurnAborted: ({ context, event }) =>
      event.type === 'TURN_FINISHED' && event.turnSeq === context.turnSeq && context.aborting,
    currentTurnHandedOff: ({ context, event }) =>
      event.type === 'TURN_FINISHED' &&
      event.turnSeq === context.turnSeq &&
      event.outcome === 'handed_off',
    burstFull: ({ context }) => burstIsFull(context.queue),
    /** Full, or the newest message's agent does not debounce: no reason to wait. */
    burstReady: or(['burstFull', 'notDebouncing']),
    due: ({ context, event }) =>
      event.type === 'TICK' && context.dueAt !== undefined && event.at >= context.dueAt,
    abortOnNewer: ({ event }) => event.type === 'MESSAGE' && event.message.abortOnNewer,
    statusOnlyPause: ({ context, event }) =>
      context.statusOnlyPauses === true &&
      event.type === 'HUMAN_ACTIVE' &&
      event.statusOnly === true,
    /** Paused with the turn still running: it reports here, and a resume waits for it. */
    turnReportsInPause: ({ context, event }) =>
      context.statusOnlyPauses === true &&
      event.type === 'TURN_FINISHED' &&
      event.turnSeq === context.turnSeq,
    turnStillRunning: ({ context }) =>
      (context.statusOnlyPauses === true || context.handOverPending !== undefined) &&
      context.turn.length > 0,
    turnRunning: ({ context }) => context.turn.length > 0,
    /** Paused by the status alone: nobody on the team has acted yet. */
    statusOnlyPausedNow: ({ context }) => context.statusOnlyPaused === true,
    /** The turn a hand-over waited for reported (an agent's own hand-off already did it). */
    handOverAfterTurn: ({ context, event }) =>
      event.type === 'TURN_FINISHED' &&
      event.turnSeq === context.turnSeq &&
      context.handOverPending !== undefined &&
      event.outcome !== 'handed_off',
    handedOffInstead: ({ context, event }) =>
      event.type === 'TURN_FINISHED' &&
      event.turnSeq === context.turnSeq &&
      context.handOverPending !== undefined,
  },
}).createMachine({
  id: 'conversation',
  context: ({ input }: { input: ConversationInput }) => ({
    queue: [],
    turn: [],
    turnSeq: 0,
    aborting: false,
    heldMessageIds: [],
    resumeAfterIdleMs: input.resumeAfterIdleMs,
    ...(input.orderByCreation ? { orderByCreation: true } : {}),
    ...(input.reorderWindowMs ? { reorderWindowMs: input.reorderWindowMs } : {}),
    ...(input.reorderSliding ? { reorderSliding: true } : {}),
    ...(input.statusOnlyPauses ? { statusOnlyPauses: true } : {}),
  }),
  initial: 'active',
  states: {
    active: {
      initial: 'idle',
      on: {
        // The bot stops at once: a running turn is cancelled (replies posted so far stay).
        HUMAN_ACTIVE: [
          { guard: 'statusOnlyPause', target: 'paused', actions: 'pause' },
          { target: 'paused', actions: ['cancelTurn', 'pause'] },
        ],
        RESOLVED: { target: 'closed', actions: ['cancelTurn', 'close'] },
        // The customer asked for a person: a running turn finishes first (it answers what came
        // before); what waits behind it is the team's.
        HUMAN_REQUESTED: [
          { guard: 'turnRunning', target: 'paused', actions: ['pause', 'deferHandOver'] },
          {
            target: 'paused',
            actions: [
              'pause',
              {
                type: 'startHandOver',
                params: ({ event }) => ({
                  request: event.type === 'HUMAN_REQUESTED' ? event.request : undefined,
                }),
              },
            ],
          },
        ],
      },
      states: {
        idle: {
          always: [
            { guard: 'burstWaiting', target: 'collecting' },
            { guard: 'reorderWindow', target: 'reordering' },
            { guard: 'messageWaiting', target: 'delivering', actions: ['takeTurn', 'startTurn'] },
          ],
          on: { MESSAGE: { actions: 'enqueue' } },
        },
        /** A short wait at the head of an idle queue, for older messages still in flight. */
        reordering: {
          entry: 'scheduleReorder',
          always: [{ guard: 'burstWaiting', target: 'collecting' }],
          on: {
            // Unchanged unless sliding: the first arrival stays the first.
            MESSAGE: { actions: ['enqueue', 'scheduleReorder'] },
            TICK: { guard: 'due', target: 'delivering', actions: ['takeTurn', 'startTurn'] },
          },
        },
        collecting: {
          entry: 'scheduleBurst',
          always: [
            {
              guard: 'burstReady',
              target: 'delivering',
              actions: ['takeTurn', 'startTurn'],
            },
          ],
          on: {
            MESSAGE: { actions: ['enqueue', 'scheduleBurst'] },
            TICK: { guard: 'due', target: 'delivering', actions: ['takeTurn', 'startTurn'] },
          },
        },
        delivering: {
          on: {
            MESSAGE: [
              {
                guard: 'abortOnNewer',
                actions: ['enqueue', 'markAborting', 'cancelTurn'],
              },
              { actions: 'enqueue' },
            ],
            TURN_FINISHED: [
              // The cancelled turn and the newer messages go to the agent as one merged turn.
              {
                guard: 'currentTurnAborted',
                target: 'delivering',
                reenter: true,
                actions: ['requeueAborted', 'mergeAll', 'startTurn'],
              },
              {
                guard: 'currentTurnHandedOff',
                target: '#conversation.paused',
                actions: ['finishTurn', 'pause'],
              },
              { guard: 'currentTurn', target: 'idle', actions: 'finishTurn' },
            ],
          },
        },
      },
    },
    paused: {
      on: {
        MESSAGE: { actions: 'hold' },
        HUMAN_ACTIVE: { actions: 'touchPause' },
        // Paused by the status alone (Chatwoot opened it on a bot failure): nobody on the team
        // knows yet, so the hand-over still runs. Paused by a person: they are already there.
        HUMAN_REQUESTED: [
          {
            guard: and(['statusOnlyPausedNow', 'turnRunning']),
            actions: ['touchPause', 'deferHandOver'],
          },
          {
            guard: 'statusOnlyPausedNow',
            actions: [
              'touchPause',
              {
                type: 'startHandOver',
                params: ({ event }) => ({
                  request: event.type === 'HUMAN_REQUESTED' ? event.request : undefined,
                }),
              },
            ],
          },
          { actions: 'touchPause' },
        ],
        TURN_FINISHED: [
          {
            guard: 'handOverAfterTurn',
            actions: [
              'finishTurn',
              {
                type: 'startHandOver',
                params: ({ context }) => ({ request: context.handOverPending }),
              },
              'clearHandOver',
            ],
          },
          { guard: 'handedOffInstead', actions: ['finishTurn', 'clearHandOver'] },
          { guard: 'turnReportsInPause', actions: 'finishTurn' },
        ],
        TICK: [
          {
            guard: and(['due', 'turnStillRunning']),
            target: '#conversation.active.delivering',
            actions: 'resume',
          },
          { guard: 'due', target: 'active', actions: 'resume' },
        ],
        BOT_RESUMED: [
          {
            guard: 'turnStillRunning',
            target: '#conversation.active.delivering',
            actions: 'resume',
          },
          { target: 'active', actions: 'resume' },
        ],
        RESOLVED: { target: 'closed', actions: 'close' },
      },
    },
    closed: { type: 'final' },
  },
});

export type ConversationState =
  'idle' | 'reordering' | 'collecting' | 'delivering' | 'paused' | 'closed';

/** The flat state name shown in the Temporal UI and the query. */
export function conversationStateOf(value: unknown): ConversationState {
  if (value === 'paused' || value === 'closed') return value;
  if (typeof value === 'object' && value !== null && 'active' in value) {
    return (value as { active: 'idle' | 'reordering' | 'collecting' | 'delivering' }).active;
  }
  return 'idle';
}
