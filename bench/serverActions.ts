import { setTimeout as sleep } from 'node:timers/promises';
import { parsePrometheus } from '../test/helpers/prometheus.js';

/** Temporal Cloud's first-tier price, in dollars per million actions. */
export const DOLLARS_PER_MILLION_ACTIONS = 50;

/** Action counts by `action_type` (e.g. `grpc_SignalWithStartWorkflowExecution`, `command_StartTimer`). */
export type ActionCounts = Record<string, number>;

/**
 * The server's own `action` counter (what Temporal Cloud bills), summed per `action_type` over
 * one namespace: the same type is reported by several services and operations.
 */
export function actionCounts(prometheusText: string, namespace: string): ActionCounts {
  const counts: ActionCounts = {};
  for (const sample of parsePrometheus(prometheusText)) {
    if (sample.name !== 'action' || sample.labels.namespace !== namespace) continue;
    const type = sample.labels.action_type ?? 'unlabelled';
    counts[type] = (counts[type] ?? 0) + sample.value;
  }
  return counts;
}

/** after − before, per type, dropping types that did not move. */
export function actionDelta(before: ActionCounts, after: ActionCounts): ActionCounts {
  const delta: ActionCounts = {};
  for (const [type, value] of Object.entries(after)) {
    const moved = value - (before[type] ?? 0);
    if (moved !== 0) delta[type] = moved;
  }
  return delta;
}

export function totalActions(counts: ActionCounts): number {
  return Object.values(counts).reduce((sum, value) => sum + value, 0);
}

/**
 * Reads the counter until two reads a reporting interval apart agree: the server flushes its
 * counters to the Prometheus page about once a second, so a read right after the work misses
 * the last actions.
 */
export async function settledActionCounts(
  metricsUrl: string,
  namespace: string,
  { intervalMs = 1_500, maxReads = 10 } = {},
): Promise<ActionCounts> {
  let previous = await readActionCounts(metricsUrl, namespace);
  for (let read = 1; read < maxReads; read += 1) {
    await sleep(intervalMs);
    const current = await readActionCounts(metricsUrl, namespace);
    if (totalActions(actionDelta(previous, current)) === 0) return current;
    previous = current;
  }
  return previous;
}

export async function readActionCounts(metricsUrl: string, namespace: string) {
  const response = await fetch(metricsUrl);
  if (!response.ok) throw new Error(`${metricsUrl} answered ${response.status}`);
  return actionCounts(await response.text(), namespace);
}
