import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import {
  conversationMachine,
  conversationStateOf,
  type ConversationEvent,
  type ConversationInput,
  type DebounceSettings,
  type QueuedMessage,
} from '../machines/conversation.js';
import { leafIds, untakenEdges, walk } from './helpers/machineWalk.js';

type Snapshot = ReturnType<typeof initialTransition<typeof conversationMachine>>[0];

const DEBOUNCE: DebounceSettings = { quietMs: 100, maxWaitMs: 1_000, maxBatch: 3 };
const FAR_FUTURE = 1e13;
let nextId = 1;

function message(
  receivedAt: number,
  options: { debounce?: DebounceSettings; abortOnNewer?: boolean; id?: number } = {},
): ConversationEvent {
  const queued: QueuedMessage = {
    messageId: options.id ?? nextId++,
    receivedAt,
    abortOnNewer: options.abortOnNewer ?? false,
    payload: {},
    ...(options.debounce ? { debounce: options.debounce } : {}),
  };
  return { type: 'MESSAGE', message: queued };
}

/** Feeds events one by one, returning the final snapshot and the effects asked for. */
function run(events: ConversationEvent[], start?: Snapshot, input: ConversationInput = {}) {
  let [snapshot] = start
    ? [start]
    : initialTransition(conversationMachine, { resumeAfterIdleMs: 500, ...input });
  const effects: string[] = [];
  for (const event of events) {
    const [next, actions] = transition(conversationMachine, snapshot, event);
    snapshot = next;
    effects.push(
      ...actions.map((action) => action.type).filter((type) => !type.startsWith('xstate.')),
    );
  }
  return { snapshot, effects, state: conversationStateOf(snapshot.value) };
}

const finished = (
  snapshot: Snapshot,
  outcome: 'delivered' | 'handed_off' | 'cancelled' = 'delivered',
  turnSeq = snapshot.context.turnSeq,
): ConversationEvent => ({ type: 'TURN_FINISHED', turnSeq, outcome, at: 0 });

describe('conversation machine: every state and transition', () => {
  it('walks every declared transition through the pure transition API', () => {
    const walkFrom = (input: ConversationInput) =>
      walk(
        conversationMachine,
        input,
        (snapshot: Snapshot) => [
          message(0),
          message(0, { debounce: DEBOUNCE }),
          message(0, { abortOnNewer: true }),
          { type: 'TICK', at: FAR_FUTURE },
          finished(snapshot),
          finished(snapshot, 'handed_off'),
          finished(snapshot, 'cancelled'),
          finished(snapshot, 'delivered', snapshot.context.turnSeq - 1),
          { type: 'HUMAN_ACTIVE', reason: 'a human replied', at: 0 },
          { type: 'HUMAN_ACTIVE', reason: 'conversation open', at: 0, statusOnly: true },
          { type: 'BOT_RESUMED', reason: 'back in pending' },
          { type: 'RESOLVED', reason: 'resolved' },
          { type: 'HUMAN_REQUESTED', reason: 'asked for a person', at: 0, request: 'r' },
        ],
        (snapshot: Snapshot) =>
          JSON.stringify({
            value: snapshot.value,
            queue: Math.min(snapshot.context.queue.length, 3),
            debounced: snapshot.context.queue.at(-1)?.debounce !== undefined,
            aborting: snapshot.context.aborting,
            turn: snapshot.context.turn.length > 0,
            due: snapshot.context.dueAt !== undefined,
            handOver: snapshot.context.handOverPending !== undefined,
            statusOnly: snapshot.context.statusOnlyPaused === true,
          }),
      );
    // Arrival order (actors recorded before the reorder window) and creation order with it.
    const walks = [
      walkFrom({ resumeAfterIdleMs: 50 }),
      walkFrom({ resumeAfterIdleMs: 50, orderByCreation: true, reorderWindowMs: 20 }),
      walkFrom({ resumeAfterIdleMs: 50, statusOnlyPauses: true }),
    ];
    const steps = walks.flatMap((one) => one.steps);
    const states = walks.flatMap((one) => one.states);
    const reached = new Set(steps.flatMap((step) => step.to));
    expect(leafIds(conversationMachine).filter((id) => !reached.has(id))).toEqual([]);
    expect(untakenEdges(conversationMachine, steps)).toEqual([]);
    expect(states.some((snapshot) => snapshot.status === 'done')).toBe(true);
  });
});

describe('conversation machine: behaviour', () => {
  it('without debounce: one turn per message, in order, the next once the first finished', () => {
    const first = run([message(0), message(10)]);
    expect(first.state).toBe('delivering');
    expect(first.effects).toEqual(['startTurn']);
    expect(first.snapshot.context.turn).toHaveLength(1);
    expect(first.snapshot.context.queue).toHaveLength(1);
    const second = run([finished(first.snapshot)], first.snapshot);
    expect(second.effects).toEqual(['startTurn']);
    expect(second.snapshot.context.turnSeq).toBe(2);
    expect(second.snapshot.context.queue).toEqual([]);
    expect(run([finished(second.snapshot)], second.snapshot).state).toBe('idle');
  });

  it('debounce: collects until the quiet window, capped by the maximum wait', () => {
    const { snapshot, state, effects } = run([
      message(0, { debounce: DEBOUNCE }),
      message(60, { debounce: DEBOUNCE }),
    ]);
    expect(state).toBe('collecting');
    expect(effects).toEqual([]);
    expect(snapshot.context.dueAt).toBe(160);
    expect(run([{ type: 'TICK', at: 159 }], snapshot).state).toBe('collecting');
    const due = run([{ type: 'TICK', at: 160 }], snapshot);
    expect(due.effects).toEqual(['startTurn']);
    expect(due.snapshot.context.turn.map((m) => m.receivedAt)).toEqual([0, 60]);

    // A customer who keeps typing: the first message's maximum wait wins over the quiet window.
    const busy = run(
      [0, 90, 180, 270].map((at) =>
        message(at, { debounce: { ...DEBOUNCE, maxWaitMs: 300, maxBatch: 10 } }),
      ),
    );
    expect(busy.snapshot.context.dueAt).toBe(300);
  });

  it('debounce: a full batch goes at once', () => {
    const { state, snapshot } = run([0, 1, 2].map((at) => message(at, { debounce: DEBOUNCE })));
    expect(state).toBe('delivering');
    expect(snapshot.context.turn).toHaveLength(3);
  });

  it('abort-on-newer: cancels the running turn, then sends old and new as one turn', () => {
    const started = run([message(0, { abortOnNewer: true })]);
    const newer = run([message(5, { abortOnNewer: true })], started.snapshot);
    expect(newer.effects).toEqual(['cancelTurn']);
    expect(newer.snapshot.context.aborting).toBe(true);
    const merged = run([finished(newer.snapshot, 'cancelled')], newer.snapshot);
    expect(merged.effects).toEqual(['startTurn']);
    expect(merged.snapshot.context.turn.map((m) => m.receivedAt)).toEqual([0, 5]);
  });

  it('a late report from an earlier turn is not taken for the current one', () => {
    const two = run([message(0), message(1)]);
    const next = run([finished(two.snapshot)], two.snapshot);
    const stale = run([finished(next.snapshot, 'delivered', 1)], next.snapshot);
    expect(stale.state).toBe('delivering');
    expect(stale.effects).toEqual([]);
  });

  it('human takeover: cancels the turn, holds messages, resumes on pending or after the idle time', () => {
    const delivering = run([message(0), message(1)]);
    const paused = run(
      [{ type: 'HUMAN_ACTIVE', reason: 'Agent Smith replied', at: 100 }],
      delivering.snapshot,
    );
    expect(paused.effects).toEqual(['cancelTurn']);
    expect(paused.state).toBe('paused');
    expect(paused.snapshot.context.dueAt).toBe(600);
    const held = run([message(200)], paused.snapshot);
    expect(held.effects).toEqual([]);
    expect(held.snapshot.context.heldMessageIds).toHaveLength(2);
    // More human activity pushes the resume back.
    const busy = run([{ type: 'HUMAN_ACTIVE', reason: 'again', at: 400 }], held.snapshot);
    expect(busy.snapshot.context.dueAt).toBe(900);
    expect(run([{ type: 'TICK', at: 899 }], busy.snapshot).state).toBe('paused');
    expect(run([{ type: 'TICK', at: 900 }], busy.snapshot).state).toBe('idle');
    const resumed = run([{ type: 'BOT_RESUMED', reason: 'pending' }], held.snapshot);
    expect(resumed.state).toBe('idle');
    expect(resumed.snapshot.context.heldMessageIds).toEqual([]);
  });

  it('an agent handoff pauses the conversation', () => {
    const delivering = run([message(0)]);
    const handedOff = run(
      [
        {
          type: 'TURN_FINISHED',
          turnSeq: 1,
          outcome: 'handed_off',
          reason: 'the agent asked for a human',
          at: 5,
        },
      ],
      delivering.snapshot,
    );
    expect(handedOff.state).toBe('paused');
    expect(handedOff.snapshot.context.pausedReason).toBe('the agent asked for a human');
  });

  it('resolved: cancels a running turn and ends', () => {
    const resolved = run([message(0), { type: 'RESOLVED', reason: 'resolved' }]);
    expect(resolved.effects).toEqual(['startTurn', 'cancelTurn']);
    expect(resolved.state).toBe('closed');
    expect(resolved.snapshot.status).toBe('done');
  });

  it('survives a JSON round trip (continue-as-new), deadline included', () => {
    const collecting = run([message(0, { debounce: DEBOUNCE })]);
    const carried = JSON.parse(
      JSON.stringify({ value: collecting.snapshot.value, context: collecting.snapshot.context }),
    ) as Parameters<typeof conversationMachine.resolveState>[0];
    const restored = conversationMachine.resolveState(carried);
    expect(conversationStateOf(restored.value)).toBe('collecting');
    const due = run([{ type: 'TICK', at: 100 }], restored);
    expect(due.effects).toEqual(['startTurn']);
    expect(due.state).toBe('delivering');
  });
});

describe('conversation machine: a status-only pause lets the running turn finish', () => {
  const input: ConversationInput = { statusOnlyPauses: true };
  const open = {
    type: 'HUMAN_ACTIVE',
    reason: 'conversation open',
    at: 5,
    statusOnly: true,
  } as const;

  it('pauses without cancelling; the turn reports in the pause; a resume goes back to idle', () => {
    const running = run([message(0, { id: 1 }), message(1, { id: 2 })], undefined, input);
    const paused = run([open], running.snapshot);
    expect(paused.state).toBe('paused');
    expect(paused.effects).toEqual([]);
    // The queued message is held; the one being answered is still answered.
    expect(paused.snapshot.context.heldMessageIds).toEqual([2]);
    const reported = run([finished(paused.snapshot)], paused.snapshot);
    expect(reported.snapshot.context.turn).toEqual([]);
    // The kept message is the bot's again.
    const resumed = run([{ type: 'BOT_RESUMED', reason: 'pending' }], reported.snapshot);
    expect(resumed.effects).toEqual(['startTurn']);
    expect(resumed.snapshot.context.turn.map((m) => m.messageId)).toEqual([2]);
  });

  it('a resume before the turn reported waits for it instead of starting another', () => {
    const running = run([message(0, { id: 1 })], undefined, input);
    const resumed = run(
      [open, { type: 'BOT_RESUMED', reason: 'pending' }, message(9, { id: 3 })],
      running.snapshot,
    );
    expect(resumed.state).toBe('delivering');
    expect(resumed.effects).toEqual([]);
    const next = run([finished(resumed.snapshot)], resumed.snapshot);
    expect(next.effects).toEqual(['startTurn']);
    expect(next.snapshot.context.turn.map((m) => m.messageId)).toEqual([3]);
  });

  it('keeps the waiting messages and those that come meanwhile; a resume answers them in order', () => {
    const ordered: ConversationInput = { ...input, orderByCreation: true };
    const running = run([message(0, { id: 10 }), message(1, { id: 12 })], undefined, ordered);
    const paused = run([open, message(6, { id: 11 }), message(7, { id: 11 })], running.snapshot);
    expect(paused.snapshot.context.keptMessages?.map((m) => m.messageId)).toEqual([12, 11]);
    const resumed = run(
      [finished(paused.snapshot), { type: 'BOT_RESUMED', reason: 'pending' }],
      paused.snapshot,
    );
    const waiting = (snapshot: Snapshot) =>
      [...snapshot.context.turn, ...snapshot.context.queue].map((m) => m.messageId);
    expect(waiting(resumed.snapshot)).toEqual([11, 12]);
    // The same hand-over again (catch-up) is not queued twice.
    const again = run([message(9, { id: 11 }), message(9, { id: 12 })], resumed.snapshot);
    expect(waiting(again.snapshot)).toEqual([11, 12]);
  });

  it('kept messages wait a reorder window from the resume, so catch-up can hand older ones first', () => {
    const windowed: ConversationInput = { ...input, orderByCreation: true, reorderWindowMs: 300 };
    const idle = run([message(0, { id: 30 }), { type: 'TICK', at: 300 }], undefined, windowed);
    const paused = run([open, finished(idle.snapshot), message(10, { id: 32 })], idle.snapshot);
    const resumed = run(
      [{ type: 'BOT_RESUMED', reason: 'pending', at: 5_000 }, message(5_010, { id: 31 })],
      paused.snapshot,
    );
    expect(resumed.state).toBe('reordering');
    const first = run([{ type: 'TICK', at: 5_400 }], resumed.snapshot);
    expect(first.snapshot.context.turn.map((m) => m.messageId)).toEqual([31]);
  });

  it('a human acting during a status-only pause makes the kept messages his', () => {
    const running = run([message(0, { id: 20 }), message(1, { id: 21 })], undefined, input);
    const human = { type: 'HUMAN_ACTIVE', reason: 'Ann replied', at: 6 } as const;
    const taken = run([open, human, { type: 'BOT_RESUMED', reason: 'pending' }], running.snapshot);
    expect(taken.snapshot.context.queue).toEqual([]);
  });

  it('a human reply still cancels the running turn; without the setting every pause cancels', () => {
    const running = run([message(0, { id: 1 })], undefined, input);
    const human = { type: 'HUMAN_ACTIVE', reason: 'Ann replied', at: 5 } as const;
    expect(run([human], running.snapshot).effects).toEqual(['cancelTurn']);
    const old = run([message(0, { id: 1 })]);
    expect(run([open], old.snapshot).effects).toEqual(['cancelTurn']);
  });
});

describe('conversation machine: creation order', () => {
  const ordered: ConversationInput = { orderByCreation: true, reorderWindowMs: 300 };
  const ids = (queue: QueuedMessage[]) => queue.map((m) => m.messageId);

  it('an idle queue waits the reorder window, so a message overtaken in flight goes first', () => {
    const waiting = run([message(0, { id: 102 }), message(40, { id: 101 })], undefined, ordered);
    expect(waiting.state).toBe('reordering');
    expect(waiting.effects).toEqual([]);
    expect(waiting.snapshot.context.dueAt).toBe(300);
    expect(ids(waiting.snapshot.context.queue)).toEqual([101, 102]);
    expect(run([{ type: 'TICK', at: 299 }], waiting.snapshot).state).toBe('reordering');
    const first = run([{ type: 'TICK', at: 300 }], waiting.snapshot);
    expect(first.effects).toEqual(['startTurn']);
    expect(ids(first.snapshot.context.turn)).toEqual([101]);
    // The rest waited long enough already: due at once, sent with the next tick.
    const next = run([finished(first.snapshot), { type: 'TICK', at: 700 }], first.snapshot);
    expect(ids(next.snapshot.context.turn)).toEqual([102]);
  });

  it('with a sliding window, each arrival extends the wait, up to five windows after the first', () => {
    const sliding: ConversationInput = { ...ordered, reorderSliding: true };
    // A burst slowed in flight: gaps under the window, the whole spread over it.
    const burst = run(
      [message(0, { id: 104 }), message(250, { id: 102 }), message(500, { id: 103 })],
      undefined,
      sliding,
    );
    expect(burst.state).toBe('reordering');
    expect(burst.snapshot.context.dueAt).toBe(800);
    const late = run([{ type: 'TICK', at: 700 }, message(700, { id: 101 })], burst.snapshot);
    expect(late.state).toBe('reordering');
    const first = run([{ type: 'TICK', at: 1_000 }], late.snapshot);
    expect(ids(first.snapshot.context.turn)).toEqual([101]);
    // A stream that never pauses still goes after five windows.
    const stream = run(
      Array.from({ length: 10 }, (_, i) => message(i * 200, { id: 400 - i })),
      undefined,
      sliding,
    );
    expect(stream.snapshot.context.dueAt).toBe(1_500);
  });

  it('messages queued behind a running turn go in creation order, an older one next', () => {
    const running = run(
      [message(0, { id: 205 }), { type: 'TICK', at: 300 }, message(310, { id: 209 })],
      undefined,
      ordered,
    );
    expect(ids(running.snapshot.context.turn)).toEqual([205]);
    // 203 was created before the turn's 205 but arrived late: it cannot be un-answered; next.
    const late = run([message(320, { id: 207 }), message(330, { id: 203 })], running.snapshot);
    expect(ids(late.snapshot.context.queue)).toEqual([203, 207, 209]);
  });

  it('a debounced burst is merged in creation order; an aborted turn merges in order too', () => {
    const burst = run(
      [303, 301, 302].map((id, at) => message(at, { id, debounce: DEBOUNCE })),
      undefined,
      ordered,
    );
    expect(ids(burst.snapshot.context.turn)).toEqual([301, 302, 303]);

    const aborting = run(
      [message(0, { id: 402, abortOnNewer: true }), { type: 'TICK', at: 300 }],
      undefined,
      ordered,
    );
    const newer = run([message(310, { id: 401, abortOnNewer: true })], aborting.snapshot);
    const merged = run([finished(newer.snapshot, 'cancelled')], newer.snapshot);
    expect(ids(merged.snapshot.context.turn)).toEqual([401, 402]);
  });

  it('window 0: no wait; without creation order (older actors): arrival order, as recorded', () => {
    const noWindow = run([message(0, { id: 502 }), message(1, { id: 501 })], undefined, {
      orderByCreation: true,
      reorderWindowMs: 0,
    });
    expect(noWindow.state).toBe('delivering');
    expect(ids(noWindow.snapshot.context.turn)).toEqual([502]);
    const arrival = run([
      message(0, { id: 602 }),
      message(1, { id: 601 }),
      message(2, { id: 600 }),
    ]);
    expect(ids(arrival.snapshot.context.queue)).toEqual([601, 600]);
  });
});

describe('conversation machine: creation order, any arrival order (property)', () => {
  /**
   * Drives the machine as the actor does: messages arrive at given times, a TICK when a
   * deadline is due, each turn takes `turnMs`. Returns each turn's ids and what had arrived
   * unsent when it started.
   */
  function simulate(arrivals: Array<{ id: number; at: number }>, turnMs: number, windowMs: number) {
    let [snapshot] = initialTransition(conversationMachine, {
      orderByCreation: true,
      reorderWindowMs: windowMs,
    });
    const pending = [...arrivals].sort((a, b) => a.at - b.at);
    const waiting = new Set<number>();
    const turns: Array<{ ids: number[]; waiting: number[] }> = [];
    let turnEndsAt: number | undefined;
    const step = (event: ConversationEvent) => {
      const [next, actions] = transition(conversationMachine, snapshot, event);
      snapshot = next;
      if (actions.some((action) => action.type === 'startTurn')) {
        const ids = snapshot.context.turn.map((m) => m.messageId);
        turns.push({ ids, waiting: [...waiting] });
        for (const id of ids) waiting.delete(id);
        turnEndsAt = (('at' in event ? event.at : 0) ?? 0) + turnMs;
      }
    };
    for (let guard = 0; guard < 1_000; guard += 1) {
      const candidates = [pending[0]?.at, snapshot.context.dueAt, turnEndsAt].filter(
        (at): at is number => at !== undefined,
      );
      if (candidates.length === 0) break;
      const now = Math.min(...candidates);
      if (turnEndsAt === now) {
        turnEndsAt = undefined;
        step({
          type: 'TURN_FINISHED',
          turnSeq: snapshot.context.turnSeq,
          outcome: 'delivered',
          at: now,
        });
      } else if (pending[0]?.at === now) {
        const { id } = pending.shift() as { id: number; at: number };
        waiting.add(id);
        const queued: QueuedMessage = {
          messageId: id,
          receivedAt: now,
          abortOnNewer: false,
          payload: {},
        };
        step({ type: 'MESSAGE', message: queued });
      } else {
        step({ type: 'TICK', at: now });
      }
    }
    return turns;
  }

  const arrivalsOf = fc
    .uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 12 })
    .chain((ids) =>
      fc.tuple(
        fc.constant(ids),
        fc.array(fc.nat(3_000), { minLength: ids.length, maxLength: ids.length }),
      ),
    )
    .map(([ids, times]) => ids.map((id, i) => ({ id, at: times[i] as number })));

  it('every message goes once, and each turn takes the oldest message waiting', () => {
    fc.assert(
      fc.property(
        arrivalsOf,
        fc.integer({ min: 1, max: 1_000 }),
        fc.nat(500),
        (arrivals, turnMs, windowMs) => {
          const turns = simulate(arrivals, turnMs, windowMs);
          expect(turns.flatMap((turn) => turn.ids).sort((a, b) => a - b)).toEqual(
            arrivals.map((a) => a.id).sort((a, b) => a - b),
          );
          for (const turn of turns) expect(turn.ids[0]).toBe(Math.min(...turn.waiting));
        },
      ),
    );
  });

  it('a burst that arrives within the reorder window goes in creation order, however shuffled', () => {
    fc.assert(
      fc.property(arrivalsOf, fc.integer({ min: 1, max: 1_000 }), (arrivals, turnMs) => {
        const within = arrivals.map((a) => ({ ...a, at: a.at % 300 }));
        const turns = simulate(within, turnMs, 300);
        expect(turns.flatMap((turn) => turn.ids)).toEqual(
          within.map((a) => a.id).sort((a, b) => a - b),
        );
      }),
    );
  });
});

describe('conversation machine: a customer asks for a person', () => {
  const input: ConversationInput = { statusOnlyPauses: true, orderByCreation: true };
  const asks = (at: number, request: unknown = { key: `message-${at}` }): ConversationEvent => ({
    type: 'HUMAN_REQUESTED',
    reason: 'the customer asked for a person ("human")',
    at,
    request,
  });
  /** Like `run`, with each effect's params (the hand-over's request). */
  function runWithParams(events: ConversationEvent[], start: Snapshot) {
    let snapshot = start;
    const effects: Array<{ type: string; params?: unknown }> = [];
    for (const event of events) {
      const [next, actions] = transition(conversationMachine, snapshot, event);
      snapshot = next;
      for (const action of actions) {
        if (!action.type.startsWith('xstate.')) {
          effects.push({ type: action.type, params: (action as { params?: unknown }).params });
        }
      }
    }
    return { snapshot, effects, state: conversationStateOf(snapshot.value) };
  }

  it('idle: pauses and hands over at once; later messages are held, never a turn', () => {
    const idle = run([], undefined, input);
    const asked = runWithParams([asks(10, { key: 'message-7' })], idle.snapshot);
    expect(asked.state).toBe('paused');
    expect(asked.effects).toEqual([
      { type: 'startHandOver', params: { request: { key: 'message-7' } } },
    ]);
    expect(asked.snapshot.context.pausedReason).toMatch(/asked for a person/);
    // Idle resume counts from the request, as from a human's activity.
    expect(asked.snapshot.context.dueAt).toBe(510);
    const later = run([message(20, { id: 8 })], asked.snapshot);
    expect(later.effects).toEqual([]);
    expect(later.snapshot.context.heldMessageIds).toEqual([8]);
    // The bot resumes as after a human takeover; the next message is a turn again.
    const resumed = run([{ type: 'BOT_RESUMED', reason: 'pending' }, message(30)], later.snapshot);
    expect(resumed.effects).toEqual(['startTurn']);
  });

  it("a running turn finishes first (not cancelled); then the hand-over; what waited is the team's", () => {
    const running = run([message(0, { id: 1 }), message(1, { id: 2 })], undefined, input);
    const asked = runWithParams([asks(5)], running.snapshot);
    expect(asked.state).toBe('paused');
    expect(asked.effects).toEqual([]);
    expect(asked.snapshot.context.heldMessageIds).toEqual([2]);
    expect(asked.snapshot.context.handOverPending).toEqual({ key: 'message-5' });
    const reported = runWithParams([finished(asked.snapshot)], asked.snapshot);
    expect(reported.effects).toEqual([
      { type: 'startHandOver', params: { request: { key: 'message-5' } } },
    ]);
    expect(reported.snapshot.context.handOverPending).toBeUndefined();
    expect(reported.snapshot.context.turn).toEqual([]);
    // The held message is not the bot's when it resumes (a human takeover's pause).
    const resumed = run([{ type: 'BOT_RESUMED', reason: 'pending' }], reported.snapshot);
    expect(resumed.effects).toEqual([]);
    expect(resumed.state).toBe('idle');
  });

  it('the same without the status-only setting (an actor started before it): no cancel either', () => {
    const running = run([message(0, { id: 1 })]);
    const asked = runWithParams([asks(5)], running.snapshot);
    expect(asked.effects).toEqual([]);
    const reported = runWithParams([finished(asked.snapshot)], asked.snapshot);
    expect(reported.effects.map((effect) => effect.type)).toEqual(['startHandOver']);
  });

  it('the running turn handed off itself (the agent asked, or failed): no second hand-over', () => {
    const running = run([message(0, { id: 1 })], undefined, input);
    const asked = run([asks(5)], running.snapshot);
    const handedOff = run([finished(asked.snapshot, 'handed_off')], asked.snapshot);
    expect(handedOff.effects).toEqual([]);
    expect(handedOff.snapshot.context.handOverPending).toBeUndefined();
    expect(handedOff.state).toBe('paused');
  });

  it('a resume before the turn reported drops the hand-over and waits for the turn', () => {
    const running = run([message(0, { id: 1 })], undefined, input);
    const resumed = run(
      [asks(5), { type: 'BOT_RESUMED', reason: 'pending' }, message(9, { id: 3 })],
      running.snapshot,
    );
    expect(resumed.state).toBe('delivering');
    expect(resumed.snapshot.context.handOverPending).toBeUndefined();
    const next = run([finished(resumed.snapshot)], resumed.snapshot);
    expect(next.effects).toEqual(['startTurn']);
  });

  it('messages waiting for the reorder window or a burst go to the team, not the agent', () => {
    const windowed = run([message(0, { id: 40 })], undefined, { ...input, reorderWindowMs: 300 });
    expect(windowed.state).toBe('reordering');
    const asked = run([asks(10), { type: 'TICK', at: 400 }], windowed.snapshot);
    expect(asked.effects).toEqual(['startHandOver']);
    expect(asked.snapshot.context.heldMessageIds).toEqual([40]);
    const collecting = run([message(0, { id: 41, debounce: DEBOUNCE })], undefined, input);
    expect(collecting.state).toBe('collecting');
    const burst = run([asks(10), { type: 'TICK', at: 400 }], collecting.snapshot);
    expect(burst.effects).toEqual(['startHandOver']);
    expect(burst.state).toBe('paused');
  });

  it('paused by a person: they are there already, nothing more; asking twice hands over once', () => {
    const human = run([{ type: 'HUMAN_ACTIVE', reason: 'Ann replied', at: 5 }], undefined, input);
    const asked = run([asks(50)], human.snapshot);
    expect(asked.effects).toEqual([]);
    expect(asked.snapshot.context.dueAt).toBe(550);
    const twice = run([asks(10), asks(20)], undefined, input);
    expect(twice.effects).toEqual(['startHandOver']);
  });

  it("paused by the status alone (Chatwoot opened it on a bot failure): hands over, and the kept messages become the team's", () => {
    const open = {
      type: 'HUMAN_ACTIVE',
      reason: 'conversation open',
      at: 5,
      statusOnly: true,
    } as const;
    const running = run([message(0, { id: 1 }), message(1, { id: 2 })], undefined, input);
    const paused = run([open, finished(running.snapshot)], running.snapshot);
    expect(paused.snapshot.context.keptMessages?.map((m) => m.messageId)).toEqual([2]);
    const asked = run([asks(10)], paused.snapshot);
    expect(asked.effects).toEqual(['startHandOver']);
    expect(asked.snapshot.context.pausedReason).toMatch(/asked for a person/);
    expect(asked.snapshot.context.keptMessages).toEqual([]);
    const resumed = run([{ type: 'BOT_RESUMED', reason: 'pending' }], asked.snapshot);
    expect(resumed.effects).toEqual([]);
    // With the turn still running, the hand-over waits for its report.
    const stillRunning = run([open, asks(10)], running.snapshot);
    expect(stillRunning.effects).toEqual([]);
    const reported = run([finished(stillRunning.snapshot)], stillRunning.snapshot);
    expect(reported.effects).toEqual(['startHandOver']);
  });

  it('a pending hand-over survives a JSON round trip (continue-as-new)', () => {
    const running = run([message(0, { id: 1 })], undefined, input);
    const asked = run([asks(5)], running.snapshot);
    const carried = JSON.parse(
      JSON.stringify({ value: asked.snapshot.value, context: asked.snapshot.context }),
    ) as Parameters<typeof conversationMachine.resolveState>[0];
    const restored = conversationMachine.resolveState(carried);
    const reported = runWithParams([finished(restored)], restored);
    expect(reported.effects).toEqual([
      { type: 'startHandOver', params: { request: { key: 'message-5' } } },
    ]);
  });
});
