import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { HistoryShape } from './floor/shape.js';

const { EventType } = proto.temporal.api.enums.v1;

/** The counts of one delivery's history the floor's shape must match (heartbeats leave none). */
export async function historyShape(
  client: Client,
  workflowId: string,
  /** The agent task queue's name: its activities count as `agent`, the rest as `workflow`. */
  agentQueue: string,
): Promise<HistoryShape> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const shape: HistoryShape = {
    patches: 0,
    localActivities: 0,
    upserts: 0,
    activitiesByQueue: {},
    signals: 0,
  };
  for (const event of history.events ?? []) {
    switch (event.eventType) {
      case EventType.EVENT_TYPE_MARKER_RECORDED:
        if (event.markerRecordedEventAttributes?.markerName === 'core_local_activity')
          shape.localActivities += 1;
        if (event.markerRecordedEventAttributes?.markerName === 'core_patch') shape.patches += 1;
        break;
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields =
          event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ??
          {};
        // The SDK's own upsert for a patch is counted with the patch.
        if (!Object.keys(fields).every((key) => key === 'TemporalChangeVersion'))
          shape.upserts += 1;
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        shape.signals += 1;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const name = event.activityTaskScheduledEventAttributes?.taskQueue?.name;
        const queue = name === agentQueue ? 'agent' : 'workflow';
        shape.activitiesByQueue[queue] = (shape.activitiesByQueue[queue] ?? 0) + 1;
        break;
      }
    }
  }
  return shape;
}

/** Where two shapes differ, one line each ("upserts: bridge 1, floor 2"); empty when equal. */
export function shapeDifferences(bridge: HistoryShape, floor: HistoryShape): string[] {
  const differences: string[] = [];
  const compare = (what: string, a: number, b: number) => {
    if (a !== b) differences.push(`${what}: bridge ${a}, floor ${b}`);
  };
  compare('patched() ids', bridge.patches, floor.patches);
  compare('local activities', bridge.localActivities, floor.localActivities);
  compare('search-attribute upserts', bridge.upserts, floor.upserts);
  compare('signals received', bridge.signals, floor.signals);
  const queues = new Set([
    ...Object.keys(bridge.activitiesByQueue),
    ...Object.keys(floor.activitiesByQueue),
  ]);
  for (const queue of queues) {
    compare(
      `activities on the ${queue} queue`,
      bridge.activitiesByQueue[queue] ?? 0,
      floor.activitiesByQueue[queue] ?? 0,
    );
  }
  return differences;
}
