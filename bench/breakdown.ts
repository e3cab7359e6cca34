import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { messageWorkflowId } from '../workflows/shared.js';
import type { Sample } from './loadGenerator.js';
import { round } from './stats.js';

const { EventType } = proto.temporal.api.enums.v1;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

export interface Stage {
  /** e.g. `WFT 2 started` or `agentExchange started`. */
  event: string;
  /** Median ms after the webhook was sent (same machine clock). */
  medianMs: number;
  /** Sampled workflows that had this event (later ordinals may be missing in some). */
  workflows: number;
}

/**
 * Where the bridge's latency goes: for a sample of messages, every workflow-history event
 * as ms after the webhook was sent, median per event, in time order, ending with the reply.
 */
export async function latencyBreakdown(
  temporal: Client,
  accountId: number,
  samples: Sample[],
  size = 50,
): Promise<Stage[]> {
  const picked = spread(
    samples.filter((sample) => sample.repliedAt !== undefined),
    size,
  );
  const offsets = new Map<string, number[]>();
  for (const sample of picked) {
    const sentEpoch = performance.timeOrigin + sample.sentAt;
    const workflowId = messageWorkflowId(accountId, sample.conversationId, sample.messageId);
    const history = await temporal.workflow.getHandle(workflowId).fetchHistory();
    const timeline = labelEvents(history.events ?? []);
    timeline.push(['reply stored by Chatwoot', performance.timeOrigin + (sample.repliedAt ?? 0)]);
    for (const [label, at] of timeline) {
      const list = offsets.get(label) ?? [];
      list.push(at - sentEpoch);
      offsets.set(label, list);
    }
  }
  return [...offsets]
    .map(([event, values]) => ({
      event,
      medianMs: round(median(values), 1),
      workflows: values.length,
    }))
    .sort((a, b) => a.medianMs - b.medianMs);
}

/** Names events so they line up across workflows: activity name and per-kind ordinal. */
function labelEvents(events: HistoryEvent[]): Array<[string, number]> {
  const activityNames = new Map<string, string>();
  const seen = new Map<string, number>();
  const labelled: Array<[string, number]> = [];
  for (const event of events) {
    const kind = eventKind(event, activityNames);
    if (!kind) continue;
    const n = (seen.get(kind) ?? 0) + 1;
    seen.set(kind, n);
    labelled.push([n > 1 ? `${kind} #${n}` : kind, epochMs(event)]);
  }
  return labelled;
}

function eventKind(event: HistoryEvent, activityNames: Map<string, string>): string | undefined {
  const id = String(event.eventId);
  switch (event.eventType) {
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
      return 'workflow started';
    case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
      return 'WFT scheduled';
    case EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
      return 'WFT started';
    case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
      return 'WFT completed';
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
      return 'signal received';
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      return 'workflow completed';
    case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
      const name = event.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
      activityNames.set(id, name);
      return `${name} scheduled`;
    }
    case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
      return `${activityNames.get(String(event.activityTaskStartedEventAttributes?.scheduledEventId))} started`;
    case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      return `${activityNames.get(String(event.activityTaskCompletedEventAttributes?.scheduledEventId))} completed`;
    default:
      return undefined;
  }
}

function epochMs(event: HistoryEvent): number {
  const time = event.eventTime;
  return Number(time?.seconds ?? 0) * 1000 + (time?.nanos ?? 0) / 1e6;
}

/** Evenly spaced picks, so the sample covers the whole run. */
function spread<T>(items: T[], size: number): T[] {
  if (items.length <= size) return items;
  const step = items.length / size;
  return Array.from({ length: size }, (_, i) => items[Math.floor(i * step)] as T);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}
