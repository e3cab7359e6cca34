import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  LOW_LATENCY_DYNAMIC_CONFIG,
  freePort,
  startDevServer,
  type DevServer,
} from '../workers/devServer.js';
import { eventually } from './helpers/eventually.js';
import { parsePrometheus } from './helpers/prometheus.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * What a message costs in Temporal actions (what Temporal Cloud bills), read from the server's
 * own `action` counter. A dev server of its own, so no other test's work is counted.
 */
describe('Temporal actions per message', () => {
  let server: DevServer;
  let metricsUrl: string;
  let stack: Stack;
  /** The same bridge with no reorder window (its timer is the actor's one action per message). */
  let noReorderStack: Stack;
  beforeAll(async () => {
    const metricsPort = await freePort();
    server = await startDevServer({
      ui: false,
      metricsPort,
      searchAttributes: BRIDGE_SEARCH_ATTRIBUTES,
      dynamicConfig: LOW_LATENCY_DYNAMIC_CONFIG,
    });
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    stack = await startStack({
      temporalAddress: server.address,
      agents: { echo: 'echo', multi: 'multi?count=3' },
      routes: { 7: 'echo', 8: 'multi' },
    });
    noReorderStack = await startStack({
      temporalAddress: server.address,
      conversation: { reorderWindowMs: 0 },
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await noReorderStack?.stop();
    await server?.stop();
  });

  /** The server's `action` counter by action type (summed over its other labels). */
  async function actions(): Promise<Map<string, number>> {
    const text = await (await fetch(metricsUrl)).text();
    const byType = new Map<string, number>();
    for (const sample of parsePrometheus(text)) {
      if (sample.name !== 'action') continue;
      const type = sample.labels.action_type ?? sample.labels.operation ?? 'unknown';
      byType.set(type, (byType.get(type) ?? 0) + sample.value);
    }
    return byType;
  }

  /** Actions counted while one message of `inbox` is answered, by type. */
  async function actionsForOneMessage(inboxId: number, conversationId: number, on = stack) {
    const before = await actions();
    const { json } = await on.sendMessage({ conversationId, inboxId, content: 'hello' });
    const report = await on.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    // The server publishes its counters every second or so: wait until two reads agree.
    let delta = new Map<string, number>();
    let settled = -1;
    let stableReads = 0;
    await eventually(
      async () => {
        const after = await actions();
        delta = new Map(
          [...after].map(([type, value]) => [type, value - (before.get(type) ?? 0)] as const),
        );
        const total = sum(delta);
        stableReads = total === settled ? stableReads + 1 : 0;
        settled = total;
        return stableReads >= 2;
      },
      { intervalMs: 1_500, timeoutMs: 30_000, description: 'the action counter to settle' },
    );
    return { report, delta: Object.fromEntries([...delta].filter(([, n]) => n > 0)) };
  }

  it('a message with one reply costs at most 5 actions, 4 without a reorder window', async () => {
    // The actor's first message also starts the actor: measure a later one.
    await actionsForOneMessage(7, 501);
    const { delta } = await actionsForOneMessage(7, 501);
    console.log('actions for a one-reply message:', delta);
    expect(total(delta)).toBeLessThanOrEqual(5);
    // No typing markers, status upserts, patch markers, heartbeats or reply signals.
    expect(Object.keys(delta).filter((type) => !ESSENTIAL.has(type))).toEqual([]);

    await actionsForOneMessage(7, 503, noReorderStack);
    const quick = await actionsForOneMessage(7, 503, noReorderStack);
    console.log('without a reorder window:', quick.delta);
    expect(total(quick.delta)).toBeLessThanOrEqual(4);
  });

  it('each extra plain reply costs 1 more: its signal (the exchange posts it)', async () => {
    await actionsForOneMessage(8, 502);
    const { report, delta } = await actionsForOneMessage(8, 502);
    expect(report.replies).toHaveLength(3);
    console.log('actions for a three-reply message:', delta);
    expect(total(delta)).toBeLessThanOrEqual(5 + 2 * 1);
    expect(delta.command_ScheduleActivityTask).toBe(1);
  });
});

/** What a one-reply message cannot do without: its signal, the window, the child, the exchange (which posts the reply). */
const ESSENTIAL = new Set([
  'grpc_SignalWithStartWorkflowExecution',
  'command_StartTimer',
  'command_StartChildWorkflowExecution',
  'command_StartChildWorkflowExecution_Extra',
  'command_ScheduleActivityTask',
]);

function total(delta: Record<string, number>): number {
  return sum(new Map(Object.entries(delta)));
}

function sum(values: Map<string, number>): number {
  let total = 0;
  for (const value of values.values()) total += value;
  return total;
}
