import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { sessionMachine, type SessionEvent } from '../machines/session.js';
import { leafIds, untakenEdges, walk } from './helpers/machineWalk.js';

type Snapshot = ReturnType<typeof initialTransition<typeof sessionMachine>>[0];
const INPUT = { accountId: 3, conversationId: 44 };

function run(events: SessionEvent[], start?: Snapshot) {
  let [snapshot] = start ? [start] : initialTransition(sessionMachine, INPUT);
  const effects: string[] = [];
  for (const event of events) {
    const [next, actions] = transition(sessionMachine, snapshot, event);
    snapshot = next;
    effects.push(
      ...actions.map((action) => action.type).filter((type) => !type.startsWith('xstate.')),
    );
  }
  return { snapshot, effects, state: String(snapshot.value) };
}

describe('session machine: every state and transition', () => {
  it('walks every declared transition through the pure transition API', () => {
    const { steps } = walk(
      sessionMachine,
      INPUT,
      () => [
        { type: 'TURN', agentId: 'echo', idleMs: 100, at: 0 },
        { type: 'TURN', agentId: 'other', idleMs: 100, at: 0 },
        { type: 'GREET', agentId: 'echo', idleMs: 100, at: 0 },
        { type: 'GREET', agentId: 'other', idleMs: 100, at: 0 },
        { type: 'TICK', at: 1e13 },
        { type: 'CLOSE' },
      ],
      (snapshot: Snapshot) =>
        JSON.stringify({
          value: snapshot.value,
          agent: snapshot.context.agentId,
          greeted: snapshot.context.greetedSequence === snapshot.context.sequence,
        }),
    );
    const reached = new Set(steps.flatMap((step) => step.to));
    expect(leafIds(sessionMachine).filter((id) => !reached.has(id))).toEqual([]);
    expect(untakenEdges(sessionMachine, steps)).toEqual([]);
  });
});

describe('session machine: behaviour', () => {
  it('one session id for the conversation, kept across turns', () => {
    const { snapshot, state } = run([
      { type: 'TURN', agentId: 'echo', at: 0 },
      { type: 'TURN', agentId: 'echo', at: 10 },
    ]);
    expect(state).toBe('active');
    expect(snapshot.context.sessionId).toBe('echo_3_44_1');
  });

  it('expires after the idle time; the next turn starts session 2', () => {
    const active = run([{ type: 'TURN', agentId: 'echo', idleMs: 1_000, at: 0 }]);
    expect(active.snapshot.context.dueAt).toBe(1_000);
    expect(run([{ type: 'TICK', at: 999 }], active.snapshot).state).toBe('active');
    const expired = run([{ type: 'TICK', at: 1_000 }], active.snapshot);
    expect(expired.state).toBe('expired');
    const renewed = run(
      [{ type: 'TURN', agentId: 'echo', idleMs: 1_000, at: 5_000 }],
      expired.snapshot,
    );
    expect(renewed.snapshot.context.sessionId).toBe('echo_3_44_2');
    expect(renewed.snapshot.context.dueAt).toBe(6_000);
  });

  it('greets once per session, again in a new one', () => {
    const greeted = run([
      { type: 'GREET', agentId: 'echo', idleMs: 100, at: 0 },
      { type: 'GREET', agentId: 'echo', idleMs: 100, at: 10 },
      { type: 'TURN', agentId: 'echo', idleMs: 100, at: 20 },
    ]);
    expect(greeted.effects).toEqual(['greet']);
    const later = run(
      [
        { type: 'TICK', at: 500 },
        { type: 'GREET', agentId: 'echo', idleMs: 100, at: 600 },
      ],
      greeted.snapshot,
    );
    expect(later.effects).toEqual(['greet']);
    expect(later.snapshot.context.sessionId).toBe('echo_3_44_2');
  });

  it('another agent taking the conversation gets a session of its own', () => {
    const { snapshot } = run([
      { type: 'TURN', agentId: 'echo', at: 0 },
      { type: 'TURN', agentId: 'billing', at: 1 },
    ]);
    expect(snapshot.context.sessionId).toBe('billing_3_44_2');
  });

  it('closes for good when the conversation is resolved', () => {
    const closed = run([{ type: 'TURN', agentId: 'echo', at: 0 }, { type: 'CLOSE' }]);
    expect(closed.state).toBe('closed');
    expect(closed.snapshot.status).toBe('done');
  });
});
