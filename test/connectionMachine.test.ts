import { describe, expect, it, vi } from 'vitest';
import { createActor, SimulatedClock, type AnyStateNode } from 'xstate';
import { getSimplePaths, getStateNodes } from '@xstate/graph';
import {
  connectionMachine,
  phaseOf,
  type ConnectionEvent,
  type ConnectionInput,
  type ConnectionOutput,
  type ConnectionPhase,
  type ReplyPayload,
} from '../machines/connection.js';
import { activeIds, declaredEdges, untakenEdges } from './helpers/machineWalk.js';

const INPUT: ConnectionInput = {
  connectTimeoutMs: 100,
  replyTimeoutMs: 200,
  idleTimeoutMs: 300,
  totalTimeoutMs: 1_000,
  maxResponses: 3,
};
/** `closing` gives the socket layer this long (hard-coded in the machine) to report the close. */
const CLOSE_GRACE_MS = 1_000;

const ALL_PHASES: ConnectionPhase[] = [
  'idle',
  'connecting',
  'sending',
  'awaitingReply',
  'streaming',
  'closing',
  'closed',
  'failed',
];

const reply = (content: string, final = false): ConnectionEvent => ({
  type: 'REPLY',
  reply: { content, final, metadata: { n: content } },
});

/** A live actor on a simulated clock, with every I/O action recorded. */
function harness(overrides: Partial<ConnectionInput> = {}) {
  const openSocket = vi.fn<() => void>();
  const sendRequest = vi.fn<() => void>();
  const closeSocket = vi.fn<() => void>();
  const deliverReply = vi.fn<(params: { reply: ReplyPayload; index: number }) => void>();
  const clock = new SimulatedClock();
  const actor = createActor(
    connectionMachine.provide({
      actions: {
        openSocket: () => openSocket(),
        sendRequest: () => sendRequest(),
        closeSocket: () => closeSocket(),
        deliverReply: (_, params) => deliverReply(params),
      },
    }),
    { clock, input: { ...INPUT, ...overrides } },
  );
  actor.start();
  const send = (...events: ConnectionEvent[]) => events.forEach((event) => actor.send(event));
  return {
    actor,
    clock,
    send,
    openSocket,
    sendRequest,
    closeSocket,
    deliverReply,
    phase: () => phaseOf(actor.getSnapshot().value),
    output: () => actor.getSnapshot().output,
    /** START, CONNECTED, SENT: the request is out and the agent has not answered yet. */
    toAwaitingReply() {
      send({ type: 'START' }, { type: 'CONNECTED' }, { type: 'SENT' });
      expect(phaseOf(actor.getSnapshot().value)).toBe('awaitingReply');
    },
  };
}

describe('connectionMachine: model-based walk with @xstate/graph', () => {
  // Delayed transitions are ordinary events named `xstate.after.<delay>.<state id>`; taking them
  // from the machine keeps the walk honest if a timeout is added or renamed.
  // They are not in ConnectionEvent; AnyStateNode types `eventType` loosely, so they pass as one.
  const afterEvents: ConnectionEvent[] = getStateNodes(connectionMachine.root).flatMap(
    (node: AnyStateNode) => node.after.map((t) => ({ type: t.eventType })),
  );
  const events: ConnectionEvent[] = [
    { type: 'START' },
    { type: 'CONNECTED' },
    { type: 'CONNECT_FAILED', detail: 'ECONNREFUSED' },
    { type: 'CONNECT_FAILED', detail: 'secret refused (HTTP 401)', retryable: false },
    { type: 'SENT' },
    reply('part'),
    reply('done', true),
    { type: 'AGENT_ERROR', detail: 'agent error busy', retryable: true },
    { type: 'AGENT_ERROR', detail: 'agent error bad_input', retryable: false },
    { type: 'PROTOCOL_ERROR', detail: 'not JSON' },
    { type: 'SOCKET_CLOSED', clean: true },
    { type: 'SOCKET_CLOSED', clean: false, detail: 'socket closed (1006)' },
    { type: 'CANCEL' },
    { type: 'KEEPALIVE', detail: 'thinking' },
    { type: 'COMPLETE' },
    ...new Map(afterEvents.map((event) => [event.type, event])).values(),
  ];
  const paths = getSimplePaths(connectionMachine, { input: INPUT, events });

  /** Ids of the state nodes a value is in, e.g. connection.active and connection.active.sending. */

  it('generates paths from every event, including each timeout', () => {
    expect(afterEvents.map((event) => event.type).sort()).toEqual(
      [
        'xstate.after.1000.connection.closing',
        'xstate.after.connectTimeout.connection.active.connecting',
        'xstate.after.ackTimeout.connection.active.sending',
        'xstate.after.idleTimeout.connection.active.streaming',
        'xstate.after.replyTimeout.connection.active.awaitingReply',
        'xstate.after.totalTimeout.connection.active',
        'xstate.after.totalTimeout.connection.active',
      ].sort(),
    );
    expect(paths.length).toBeGreaterThan(40);
  });

  it('reaches every state node, and the machine has no others', () => {
    const reached = new Set(paths.flatMap((path) => path.steps.map((s) => phaseOf(s.state.value))));
    expect([...reached].sort()).toEqual([...ALL_PHASES].sort());
    const leaves = getStateNodes(connectionMachine.root)
      .filter((node: AnyStateNode) => node.type === 'atomic' || node.type === 'final')
      .map((node: AnyStateNode) => node.key);
    expect(leaves.sort()).toEqual([...ALL_PHASES].sort());
  });

  it('takes every transition, each guarded branch included', () => {
    const steps = paths.flatMap((path) =>
      path.steps.slice(1).map((step, i) => ({
        from: [
          connectionMachine.id,
          ...activeIds(connectionMachine.id, path.steps[i]!.state.value),
        ],
        event: step.event.type,
        to: [connectionMachine.id, ...activeIds(connectionMachine.id, step.state.value)],
      })),
    );
    const edges = declaredEdges(connectionMachine);
    // Both branches of every guarded event are separate edges, and must each be taken.
    const branches = (event: string) => edges.filter((edge) => edge.event === event).length;
    expect(branches('xstate.after.totalTimeout.connection.active')).toBe(2);
    expect(branches('REPLY')).toBeGreaterThanOrEqual(2);
    const untaken = untakenEdges(connectionMachine, steps);
    expect(untaken).toEqual([]);
  });

  /** What the spec says a finished exchange reports, from the steps that led there. */
  function expectedOutput(pathEvents: ConnectionEvent[], phases: ConnectionPhase[]) {
    const replies = pathEvents.filter((event) => event.type === 'REPLY').length;
    const last = pathEvents.length - 1;
    const lastEvent = pathEvents[last]!;
    const from = phases[last - 1]!;
    if (from === 'streaming' && lastEvent.type === 'SOCKET_CLOSED' && lastEvent.clean) {
      return { outcome: 'completed', endReason: 'agent_closed', replies };
    }
    if (from !== 'closing') {
      const timeout = /^xstate\.after\.(\w+)Timeout\./.exec(lastEvent.type)?.[1];
      const reasons: Record<string, string> = {
        CANCEL: 'cancelled',
        AGENT_ERROR: 'agent_error',
        PROTOCOL_ERROR: 'protocol_error',
        COMPLETE: 'completed_without_reply',
        CONNECT_FAILED: 'connect_failed',
        SOCKET_CLOSED:
          from === 'connecting'
            ? 'connect_failed'
            : from === 'streaming'
              ? 'dropped'
              : 'closed_before_reply',
      };
      const reason = timeout ? `${timeout}_timeout` : reasons[lastEvent.type];
      const retryable =
        lastEvent.type === 'AGENT_ERROR'
          ? lastEvent.retryable
          : lastEvent.type === 'CONNECT_FAILED'
            ? (lastEvent.retryable ?? true)
            : !['CANCEL', 'PROTOCOL_ERROR', 'COMPLETE'].includes(lastEvent.type);
      const detail = ('detail' in lastEvent && lastEvent.detail) || reason?.replaceAll('_', ' ');
      return { outcome: 'failed', reason, detail, retryable, replies };
    }
    // Reached `closed` through `closing`: the step that entered `closing` decided why.
    const entered = phases.indexOf('closing');
    const cause = pathEvents[entered]!;
    const endReason =
      cause.type === 'COMPLETE'
        ? 'final'
        : cause.type === 'REPLY'
          ? cause.reply.final
            ? 'final'
            : replies === INPUT.maxResponses
              ? 'max_responses'
              : 'closed before the cap'
          : cause.type.includes('idleTimeout')
            ? 'idle_timeout'
            : 'total_timeout';
    return { outcome: 'completed', endReason, replies };
  }

  it('reports the right output at the end of every path that finishes', () => {
    const finished = paths.filter((path) => path.state.status === 'done');
    expect(finished.length).toBeGreaterThan(30);
    const seen = new Set<string>();
    for (const path of finished) {
      const pathEvents = path.steps.map((step) => step.event);
      const phases = path.steps.map((step) => phaseOf(step.state.value));
      const output = path.state.output as ConnectionOutput;
      expect(output, pathEvents.map((e) => e.type).join(' → ')).toEqual(
        expectedOutput(pathEvents, phases),
      );
      seen.add(output.outcome === 'failed' ? output.reason : output.endReason);
    }
    expect([...seen].sort()).toEqual(
      [
        'ack_timeout',
        'agent_closed',
        'agent_error',
        'cancelled',
        'closed_before_reply',
        'completed_without_reply',
        'connect_failed',
        'connect_timeout',
        'dropped',
        'final',
        'idle_timeout',
        'max_responses',
        'protocol_error',
        'reply_timeout',
        'total_timeout',
      ].sort(),
    );
  });

  it('runs the I/O actions a live actor would, along every path', () => {
    for (const path of paths) {
      const h = harness();
      const pathEvents = path.steps.slice(1).map((step) => step.event);
      h.send(...pathEvents);
      const phases = path.steps.map((step) => phaseOf(step.state.value));
      const label = pathEvents.map((e) => e.type).join(' → ');
      expect(h.actor.getSnapshot().value, label).toEqual(path.state.value);
      expect(h.openSocket, label).toHaveBeenCalledTimes(phases.includes('connecting') ? 1 : 0);
      expect(h.sendRequest, label).toHaveBeenCalledTimes(phases.includes('sending') ? 1 : 0);
      expect(h.deliverReply, label).toHaveBeenCalledTimes(
        pathEvents.filter((e) => e.type === 'REPLY').length,
      );
      const closes = phases.includes('closing') || phases.includes('failed') ? 1 : 0;
      expect(h.closeSocket, label).toHaveBeenCalledTimes(closes);
      h.actor.stop();
    }
  });
});

describe('connectionMachine: timeouts on a simulated clock', () => {
  it('fails with connect_timeout when the socket does not open in time', () => {
    const h = harness();
    h.send({ type: 'START' });
    h.clock.increment(INPUT.connectTimeoutMs - 1);
    expect(h.phase()).toBe('connecting');
    h.clock.increment(1);
    expect(h.phase()).toBe('failed');
    expect(h.output()).toEqual({
      outcome: 'failed',
      reason: 'connect_timeout',
      detail: 'connect timeout',
      retryable: true,
      replies: 0,
    });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('fails with ack_timeout when the request is not acknowledged in time', () => {
    const h = harness({ ackTimeoutMs: 50 });
    h.send({ type: 'START' }, { type: 'CONNECTED' });
    h.clock.increment(49);
    expect(h.phase()).toBe('sending');
    h.clock.increment(1);
    expect(h.output()).toEqual({
      outcome: 'failed',
      reason: 'ack_timeout',
      detail: 'ack timeout',
      retryable: true,
      replies: 0,
    });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('bounds sending by replyTimeoutMs when no ackTimeoutMs is given', () => {
    const h = harness();
    h.send({ type: 'START' }, { type: 'CONNECTED' });
    h.clock.increment(INPUT.replyTimeoutMs - 1);
    expect(h.phase()).toBe('sending');
    h.clock.increment(1);
    expect(h.output()).toMatchObject({ outcome: 'failed', reason: 'ack_timeout' });
  });

  it('an acknowledgement in time stops the ack timer; the reply timer takes over', () => {
    const h = harness({ ackTimeoutMs: 50 });
    h.send({ type: 'START' }, { type: 'CONNECTED' });
    h.clock.increment(40);
    h.send({ type: 'SENT' });
    h.clock.increment(INPUT.replyTimeoutMs - 1);
    expect(h.phase()).toBe('awaitingReply');
    h.clock.increment(1);
    expect(h.output()).toMatchObject({ outcome: 'failed', reason: 'reply_timeout' });
  });

  it('fails with reply_timeout when the agent never answers', () => {
    const h = harness();
    h.toAwaitingReply();
    h.clock.increment(INPUT.replyTimeoutMs - 1);
    expect(h.phase()).toBe('awaitingReply');
    h.clock.increment(1);
    expect(h.output()).toMatchObject({
      outcome: 'failed',
      reason: 'reply_timeout',
      retryable: true,
    });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('closes after idleTimeout once the agent has replied, and completes with idle_timeout', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send(reply('one'));
    h.clock.increment(INPUT.idleTimeoutMs - 1);
    expect(h.phase()).toBe('streaming');
    h.clock.increment(1);
    expect(h.phase()).toBe('closing');
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
    h.send({ type: 'SOCKET_CLOSED', clean: true });
    expect(h.phase()).toBe('closed');
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'idle_timeout', replies: 1 });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('restarts the idle timer on every reply', () => {
    const h = harness({ maxResponses: 10 });
    h.toAwaitingReply();
    h.send(reply('one'));
    h.clock.increment(INPUT.idleTimeoutMs - 50);
    h.send(reply('two'));
    h.clock.increment(INPUT.idleTimeoutMs - 50);
    expect(h.phase()).toBe('streaming');
    h.clock.increment(50);
    expect(h.phase()).toBe('closing');
  });

  it('KEEPALIVE restarts the reply timer, then the idle timer, but not the total timer', () => {
    const h = harness({ totalTimeoutMs: 10_000 });
    h.toAwaitingReply();
    for (let i = 0; i < 3; i += 1) {
      h.clock.increment(INPUT.replyTimeoutMs - 50);
      h.send({ type: 'KEEPALIVE', detail: `progress ${i}` });
    }
    expect(h.phase()).toBe('awaitingReply');
    expect(h.actor.getSnapshot().context.activity).toBe('progress 2');
    h.send(reply('one'));
    for (let i = 0; i < 3; i += 1) {
      h.clock.increment(INPUT.idleTimeoutMs - 50);
      h.send({ type: 'KEEPALIVE', detail: 'still working' });
    }
    expect(h.phase()).toBe('streaming');
    h.clock.increment(INPUT.idleTimeoutMs);
    expect(h.output()).toBeUndefined();
    h.send({ type: 'SOCKET_CLOSED', clean: true });
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'idle_timeout', replies: 1 });

    const bounded = harness();
    bounded.toAwaitingReply();
    for (let elapsed = 0; elapsed < INPUT.totalTimeoutMs; elapsed += 100) {
      bounded.send({ type: 'KEEPALIVE', detail: 'forever' });
      bounded.clock.increment(100);
    }
    expect(bounded.output()).toMatchObject({ outcome: 'failed', reason: 'total_timeout' });
  });

  it('COMPLETE ends the answer after replies, and fails (not retryable) before any', () => {
    const h = harness({ maxResponses: 10 });
    h.toAwaitingReply();
    h.send(reply('one'), { type: 'COMPLETE' }, { type: 'SOCKET_CLOSED', clean: true });
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'final', replies: 1 });

    const empty = harness();
    empty.toAwaitingReply();
    empty.send({ type: 'COMPLETE' });
    expect(empty.output()).toMatchObject({
      outcome: 'failed',
      reason: 'completed_without_reply',
      retryable: false,
    });
  });

  it('finishes closing on its own when the socket layer never reports the close', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send(reply('one'));
    h.clock.increment(INPUT.idleTimeoutMs);
    h.clock.increment(CLOSE_GRACE_MS - 1);
    expect(h.phase()).toBe('closing');
    h.clock.increment(1);
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'idle_timeout', replies: 1 });
  });

  it('completes with total_timeout when the total time runs out after some replies', () => {
    // A long idle timeout, so only the total timeout can end this exchange.
    const h = harness({ idleTimeoutMs: 5_000, maxResponses: 10 });
    h.toAwaitingReply();
    h.clock.increment(100);
    h.send(reply('one'));
    h.clock.increment(INPUT.totalTimeoutMs - 101);
    expect(h.phase()).toBe('streaming');
    h.clock.increment(1);
    expect(h.phase()).toBe('closing');
    h.clock.increment(CLOSE_GRACE_MS);
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'total_timeout', replies: 1 });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('fails with total_timeout when the total time runs out before any reply', () => {
    const h = harness({ replyTimeoutMs: 5_000 });
    h.toAwaitingReply();
    h.clock.increment(INPUT.totalTimeoutMs);
    expect(h.output()).toEqual({
      outcome: 'failed',
      reason: 'total_timeout',
      detail: 'total timeout',
      retryable: true,
      replies: 0,
    });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('cancels its timers once finished', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send(reply('last', true), { type: 'SOCKET_CLOSED', clean: true });
    const before = h.output();
    h.clock.increment(INPUT.totalTimeoutMs * 10);
    expect(h.output()).toEqual(before);
    expect(before).toEqual({ outcome: 'completed', endReason: 'final', replies: 1 });
  });
});

describe('connectionMachine: replies and endings', () => {
  it('stops at maxResponses, delivering exactly that many replies with indexes 0..n-1', () => {
    const h = harness({ maxResponses: 4 });
    h.toAwaitingReply();
    for (let i = 0; i < 6; i++) h.send(reply(`r${i}`));
    expect(h.phase()).toBe('closing');
    expect(h.deliverReply.mock.calls.map(([params]) => params)).toEqual(
      [0, 1, 2, 3].map((index) => ({
        index,
        reply: { content: `r${index}`, final: false, metadata: { n: `r${index}` } },
      })),
    );
    h.send({ type: 'SOCKET_CLOSED', clean: true });
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'max_responses', replies: 4 });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('stops after the first reply when maxResponses is 1', () => {
    const h = harness({ maxResponses: 1 });
    h.toAwaitingReply();
    h.send(reply('only'));
    expect(h.phase()).toBe('closing');
    h.clock.increment(CLOSE_GRACE_MS);
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'max_responses', replies: 1 });
  });

  it('completes with final on a final reply, even before the cap', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send(reply('a'), reply('b', true));
    expect(h.phase()).toBe('closing');
    expect(h.deliverReply).toHaveBeenCalledTimes(2);
    expect(h.deliverReply).toHaveBeenLastCalledWith({
      index: 1,
      reply: { content: 'b', final: true, metadata: { n: 'b' } },
    });
    h.send({ type: 'SOCKET_CLOSED', clean: false });
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'final', replies: 2 });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('completes with agent_closed when the agent closes cleanly while streaming', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send(reply('a'), { type: 'SOCKET_CLOSED', clean: true });
    expect(h.phase()).toBe('closed');
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'agent_closed', replies: 1 });
    // The agent already closed the socket: nothing left to close.
    expect(h.closeSocket).not.toHaveBeenCalled();
  });

  it('fails retryably with dropped when the socket drops while streaming', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send(reply('a'), { type: 'SOCKET_CLOSED', clean: false, detail: 'socket closed (1006)' });
    expect(h.output()).toEqual({
      outcome: 'failed',
      reason: 'dropped',
      detail: 'socket closed (1006)',
      retryable: true,
      replies: 1,
    });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('fails with closed_before_reply when the socket closes, even cleanly, before any reply', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send({ type: 'SOCKET_CLOSED', clean: true });
    expect(h.output()).toMatchObject({ outcome: 'failed', reason: 'closed_before_reply' });
  });

  it('fails not retryable on an agent error frame that says so', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send({ type: 'AGENT_ERROR', detail: 'agent error bad_input: no', retryable: false });
    expect(h.output()).toEqual({
      outcome: 'failed',
      reason: 'agent_error',
      detail: 'agent error bad_input: no',
      retryable: false,
      replies: 0,
    });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('fails retryably on an agent error frame that allows a retry, even mid-stream', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send(reply('a'), { type: 'AGENT_ERROR', detail: 'agent error busy', retryable: true });
    expect(h.output()).toMatchObject({ reason: 'agent_error', retryable: true, replies: 1 });
  });

  it('fails not retryable on a protocol error', () => {
    const h = harness();
    h.send({ type: 'START' }, { type: 'CONNECTED' });
    h.send({ type: 'PROTOCOL_ERROR', detail: 'agent sent a binary frame' });
    expect(h.output()).toEqual({
      outcome: 'failed',
      reason: 'protocol_error',
      detail: 'agent sent a binary frame',
      retryable: false,
      replies: 0,
    });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('fails not retryable with cancelled on CANCEL', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send(reply('a'), { type: 'CANCEL' });
    expect(h.output()).toEqual({
      outcome: 'failed',
      reason: 'cancelled',
      detail: 'cancelled',
      retryable: false,
      replies: 1,
    });
    expect(h.closeSocket).toHaveBeenCalledTimes(1);
  });

  it('fails with connect_failed, keeping the error detail', () => {
    const h = harness();
    h.send({ type: 'START' }, { type: 'CONNECT_FAILED', detail: 'connect ECONNREFUSED' });
    expect(h.output()).toEqual({
      outcome: 'failed',
      reason: 'connect_failed',
      detail: 'connect ECONNREFUSED',
      retryable: true,
      replies: 0,
    });
    expect(h.sendRequest).not.toHaveBeenCalled();
  });

  it('fails not retryable when the connection is refused for good', () => {
    const h = harness();
    h.send(
      { type: 'START' },
      { type: 'CONNECT_FAILED', detail: 'secret refused (HTTP 401)', retryable: false },
    );
    expect(h.output()).toEqual({
      outcome: 'failed',
      reason: 'connect_failed',
      detail: 'secret refused (HTTP 401)',
      retryable: false,
      replies: 0,
    });
  });

  it('delivers a reply that arrives before the request is reported written', () => {
    const h = harness();
    h.send({ type: 'START' }, { type: 'CONNECTED' });
    expect(h.phase()).toBe('sending');
    h.send(reply('fast'));
    expect(h.phase()).toBe('streaming');
    expect(h.deliverReply).toHaveBeenCalledWith({
      index: 0,
      reply: { content: 'fast', final: false, metadata: { n: 'fast' } },
    });
    // The late SENT changes nothing; the exchange carries on as usual.
    h.send({ type: 'SENT' }, reply('end', true), { type: 'SOCKET_CLOSED', clean: true });
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'final', replies: 2 });
  });

  it('ignores events that do not belong to the current phase', () => {
    const h = harness();
    h.send({ type: 'CONNECTED' }, reply('early'), { type: 'CANCEL' });
    expect(h.phase()).toBe('idle');
    expect(h.openSocket).not.toHaveBeenCalled();
    expect(h.deliverReply).not.toHaveBeenCalled();
    h.send({ type: 'START' }, { type: 'SENT' });
    expect(h.phase()).toBe('connecting');
    expect(h.sendRequest).not.toHaveBeenCalled();
    h.send({ type: 'CONNECTED' }, { type: 'SENT' }, { type: 'CONNECTED' }, { type: 'START' });
    expect(h.phase()).toBe('awaitingReply');
    expect(h.openSocket).toHaveBeenCalledTimes(1);
    expect(h.sendRequest).toHaveBeenCalledTimes(1);
  });

  it('ignores replies and errors once closing', () => {
    const h = harness();
    h.toAwaitingReply();
    h.send(reply('last', true));
    expect(h.phase()).toBe('closing');
    h.send(reply('straggler'), { type: 'AGENT_ERROR', detail: 'late', retryable: false });
    h.send({ type: 'CANCEL' });
    expect(h.phase()).toBe('closing');
    expect(h.deliverReply).toHaveBeenCalledTimes(1);
    h.send({ type: 'SOCKET_CLOSED', clean: true });
    expect(h.output()).toEqual({ outcome: 'completed', endReason: 'final', replies: 1 });
  });
});

describe('phaseOf', () => {
  it('names top-level and nested phases', () => {
    expect(phaseOf('idle')).toBe('idle');
    expect(phaseOf('closing')).toBe('closing');
    expect(phaseOf('failed')).toBe('failed');
    expect(phaseOf({ active: 'streaming' })).toBe('streaming');
    expect(phaseOf({ active: 'connecting' })).toBe('connecting');
  });

  it('falls back to idle for values that are not states', () => {
    expect(phaseOf(undefined)).toBe('idle');
    expect(phaseOf(null)).toBe('idle');
    expect(phaseOf({ other: 'x' })).toBe('idle');
  });

  it('matches a live actor as it moves', () => {
    const h = harness();
    const seen = [h.phase()];
    h.actor.subscribe((snapshot) => seen.push(phaseOf(snapshot.value)));
    h.toAwaitingReply();
    h.send(reply('a'), reply('b', true), { type: 'SOCKET_CLOSED', clean: true });
    expect(seen).toEqual([
      'idle',
      'connecting',
      'sending',
      'awaitingReply',
      'streaming',
      'closing',
      'closed',
    ]);
  });
});
