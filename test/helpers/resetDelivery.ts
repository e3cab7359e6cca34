import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import type { DeliveryReport } from '../../workflows/shared.js';
import type { Stack } from './stack.js';

const EventType = temporal.api.enums.v1.EventType;

/** Resets a finished delivery to its first workflow task (an operator's rerun) and awaits it. */
export async function resetDeliveryToStart(
  stack: Stack,
  workflowId: string,
): Promise<DeliveryReport> {
  const handle = await stack.workflow(workflowId);
  const { runId } = await handle.describe();
  const history = await handle.fetchHistory();
  const firstTask = history.events?.find(
    (event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  );
  const { runId: resetRunId } = await stack.temporal.workflowService.resetWorkflowExecution({
    namespace: stack.config.temporal.namespace,
    workflowExecution: { workflowId, runId },
    reason: 'test: rerun the delivery from its start',
    workflowTaskFinishEventId: firstTask!.eventId,
    requestId: randomUUID(),
  });
  if (!resetRunId) throw new Error('the reset started no run');
  return (await stack.temporal.workflow
    .getHandle(workflowId, resetRunId)
    .result()) as DeliveryReport;
}

/** The activity types a workflow scheduled, in order. */
export async function scheduledActivities(stack: Stack, workflowId: string): Promise<string[]> {
  const history = await (await stack.workflow(workflowId)).fetchHistory();
  return (history.events ?? [])
    .filter((event) => event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    .map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? '?');
}
