import { describe, expect, it, vi } from 'vitest';
import { createActor, SimulatedClock, type AnyStateNode } from 'xstate';
import { getSimplePaths, getStateNodes } from '@xstate/graph';
import {
  agentTokenMachine,
  refreshDelayMs,
  tokenPhaseOf,
  type AgentTokenEvent,
  type AgentTokenInput,
  type AgentTokenPhase,
} from '../machines/agentToken.js';
import { activeIds, declaredEdges, untakenEdges } from './helpers/machineWalk.js';

const INPUT: AgentTokenInput = { refreshMarginMs: 200, refreshRetryMs: 50 };
const LIFETIME_MS = 1_000;

const ALL_PHASES: AgentTokenPhase[] = [
  'idle',
  'acquiring',
  'active',
  'refreshing',
  'expired',
  'failed',
];

const issued = (token = 't1', expiresInMs = LIFETIME_MS): AgentTokenEvent => ({
  type: 'ISSUED',
  token,
  expiresInMs,
});

/** A live actor on a simulated clock, with every token request recorded. */
function harness(input: AgentTokenInput = INPUT) {
  const requestToken = vi.fn<() => void>();
  const clock = new SimulatedClock();
  const actor = createActor(agentTokenMachine.provide({ actions: { requestToken } }), {
    clock,
    input,
  });
  actor.start();
  const send = (...events: AgentTokenEvent[]) => events.forEach((event) => actor.send(event));
  return {
    actor,
    clock,
    send,
    requestToken,
    phase: () => tokenPhaseOf(actor.getSnapshot().value),
    context: () => actor.getSnapshot().context,
  };
}

describe('agentTokenMachine: model-based walk with @xstate/graph', () => {
  // Delayed transitions are events named `xstate.after.<delay>.<state id>`; taken from the machine.
  const afterEvents: AgentTokenEvent[] = getStateNodes(agentTokenMachine.root).flatMap(
    (node: AnyStateNode) => node.after.map((t) => ({ type: t.eventType })),
  );
  const events: AgentTokenEvent[] = [
    { type: 'ACQUIRE' },
    issued('t1'),
    { type: 'REJECTED', detail: 'HTTP 401' },
    { type: 'UNAVAILABLE', detail: 'ECONNREFUSED' },
    { type: 'INVALIDATE', token: 't1' },
    { type: 'INVALIDATE', token: 'an older token' },
    ...afterEvents,
  ];
  // The issue counter grows forever: states are told apart by their value and refresh delay, and
  // by whether a token was ever replaced (so a refresh leads somewhere new: simple paths never
  // revisit a state).
  const paths = getSimplePaths(agentTokenMachine, {
    input: INPUT,
    events,
    serializeState: (state) =>
      JSON.stringify([state.value, state.context.refreshInMs, state.context.issued > 1]),
  });

  it('generates paths from every event, including each timer', () => {
    expect(afterEvents.map((event) => event.type).sort()).toEqual([
      'xstate.after.refreshDelay.agentToken.valid.active',
      'xstate.after.tokenLifetime.agentToken.valid',
    ]);
    expect(paths.length).toBeGreaterThan(20);
  });

  it('reaches every state, and the machine has no others', () => {
    const reached = new Set(
      paths.flatMap((path) => path.steps.map((s) => tokenPhaseOf(s.state.value))),
    );
    expect([...reached].sort()).toEqual([...ALL_PHASES].sort());
    const leaves = getStateNodes(agentTokenMachine.root)
      .filter((node: AnyStateNode) => node.type === 'atomic')
      .map((node: AnyStateNode) => node.key);
    expect(leaves.sort()).toEqual([...ALL_PHASES].sort());
  });

  it('takes every transition', () => {
    const steps = paths.flatMap((path) =>
      path.steps.slice(1).map((step, i) => ({
        from: [
          agentTokenMachine.id,
          ...activeIds(agentTokenMachine.id, path.steps[i]!.state.value),
        ],
        event: step.event.type,
        to: [agentTokenMachine.id, ...activeIds(agentTokenMachine.id, step.state.value)],
      })),
    );
    const edges = declaredEdges(agentTokenMachine);
    expect(edges).toHaveLength(12);
    const untaken = untakenEdges(agentTokenMachine, steps);
    expect(untaken).toEqual([]);
  });

  it('holds a token exactly while valid, and asks the endpoint on each acquire or refresh', () => {
    for (const path of paths) {
      const h = harness();
      const pathEvents = path.steps.slice(1).map((step) => step.event);
      const label = pathEvents.map((e) => e.type).join(' → ') || '(start)';
      let requests = 0;
      path.steps.forEach((step, i) => {
        if (i > 0) h.send(step.event);
        const phase = tokenPhaseOf(step.state.value);
        const previous = i > 0 ? tokenPhaseOf(path.steps[i - 1]!.state.value) : undefined;
        // Entering acquiring/refreshing (or re-entering valid from refreshing) sends one request.
        if ((phase === 'acquiring' || phase === 'refreshing') && previous !== phase) requests += 1;
        const context = h.context();
        expect(h.phase(), label).toBe(phase);
        expect(context.token !== undefined, label).toBe(
          phase === 'active' || phase === 'refreshing',
        );
        if (phase === 'failed') expect(context.failure, label).toBeDefined();
        if (context.token !== undefined) expect(context.failure, label).toBeUndefined();
      });
      expect(h.requestToken, label).toHaveBeenCalledTimes(requests);
      const last = pathEvents.at(-1);
      if (h.phase() === 'failed') {
        expect(h.context().failure, label).toEqual({
          detail: last && 'detail' in last ? last.detail : undefined,
          retryable: last?.type === 'UNAVAILABLE',
        });
      }
      h.actor.stop();
    }
  });
});

describe('agentTokenMachine: timers on a simulated clock', () => {
  it('refreshes refreshMarginMs before expiry, and the new token restarts the lifetime', () => {
    const h = harness();
    h.send({ type: 'ACQUIRE' }, issued('t1'));
    expect(h.phase()).toBe('active');
    h.clock.increment(LIFETIME_MS - INPUT.refreshMarginMs - 1);
    expect(h.phase()).toBe('active');
    h.clock.increment(1);
    expect(h.phase()).toBe('refreshing');
    expect(h.requestToken).toHaveBeenCalledTimes(2);
    // The old token is still served while the refresh is out.
    expect(h.context().token).toBe('t1');
    h.send(issued('t2'));
    expect(h.phase()).toBe('active');
    expect(h.context()).toMatchObject({ token: 't2', issued: 2 });
    // Past the first token's expiry: the second one is still valid.
    h.clock.increment(INPUT.refreshMarginMs + 100);
    expect(h.context().token).toBe('t2');
  });

  it('never refreshes in the first half of a token life, whatever the margin', () => {
    const h = harness({ refreshMarginMs: 60_000 });
    h.send({ type: 'ACQUIRE' }, issued('t1', 2_000));
    h.clock.increment(999);
    expect(h.phase()).toBe('active');
    h.clock.increment(1);
    expect(h.phase()).toBe('refreshing');
    expect(refreshDelayMs(2_000, 60_000)).toBe(1_000);
    expect(refreshDelayMs(86_400_000, 60_000)).toBe(86_340_000);
  });

  it('clamps timers a Node timer cannot hold (tokens living longer than 24.8 days)', () => {
    const thirtyDays = 30 * 86_400_000;
    expect(refreshDelayMs(thirtyDays, 60_000)).toBe(2_147_483_647);
    const h = harness();
    h.send({ type: 'ACQUIRE' }, issued('t1', thirtyDays));
    h.clock.increment(1_000);
    expect(h.phase()).toBe('active');
    expect(h.context().lifetimeMs).toBe(2_147_483_647);
  });

  it('a refresh the endpoint cannot answer keeps the token and tries again soon', () => {
    const h = harness();
    h.send({ type: 'ACQUIRE' }, issued('t1'));
    h.clock.increment(LIFETIME_MS - INPUT.refreshMarginMs);
    h.send({ type: 'UNAVAILABLE', detail: '503' });
    expect(h.phase()).toBe('active');
    expect(h.context().token).toBe('t1');
    h.clock.increment(INPUT.refreshRetryMs! - 1);
    expect(h.phase()).toBe('active');
    h.clock.increment(1);
    expect(h.phase()).toBe('refreshing');
    expect(h.requestToken).toHaveBeenCalledTimes(3);
  });

  it('expires when no refresh succeeded in time', () => {
    const h = harness();
    h.send({ type: 'ACQUIRE' }, issued('t1'));
    h.clock.increment(LIFETIME_MS - 1);
    expect(h.phase()).toBe('refreshing');
    h.clock.increment(1);
    expect(h.phase()).toBe('expired');
    expect(h.context().token).toBeUndefined();
    h.send({ type: 'ACQUIRE' });
    expect(h.phase()).toBe('acquiring');
  });

  it('a refused secret fails without retrying on its own', () => {
    const h = harness();
    h.send({ type: 'ACQUIRE' }, { type: 'REJECTED', detail: 'HTTP 401' });
    expect(h.phase()).toBe('failed');
    expect(h.context().failure).toEqual({ detail: 'HTTP 401', retryable: false });
    h.clock.increment(3_600_000);
    expect(h.requestToken).toHaveBeenCalledTimes(1);
    h.send({ type: 'ACQUIRE' }, issued('t1'));
    expect(h.phase()).toBe('active');
    expect(h.context().failure).toBeUndefined();
  });

  it('drops the current token when the server refuses it, but not for an older token', () => {
    const h = harness();
    h.send({ type: 'ACQUIRE' }, issued('t1'));
    h.send({ type: 'INVALIDATE', token: 'older' });
    expect(h.phase()).toBe('active');
    h.send({ type: 'INVALIDATE', token: 't1' });
    expect(h.phase()).toBe('acquiring');
    expect(h.context().token).toBeUndefined();
    // A second caller refused with the same token changes nothing: one new request only.
    h.send({ type: 'INVALIDATE', token: 't1' });
    expect(h.requestToken).toHaveBeenCalledTimes(2);
  });

  it('ignores answers nobody is waiting for', () => {
    const h = harness();
    h.send(issued('stray'), { type: 'REJECTED', detail: 'x' });
    expect(h.phase()).toBe('idle');
    h.send({ type: 'ACQUIRE' }, issued('t1'), issued('late duplicate'));
    expect(h.context().token).toBe('t1');
  });
});

describe('tokenPhaseOf', () => {
  it('names top-level and nested states', () => {
    expect(tokenPhaseOf('idle')).toBe('idle');
    expect(tokenPhaseOf({ valid: 'refreshing' })).toBe('refreshing');
    expect(tokenPhaseOf(undefined)).toBe('idle');
  });
});
