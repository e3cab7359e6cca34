import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { OutboxPost } from '../../workflows/pullShared.js';
import type { AgentReply, ExchangeResult } from '../../workflows/shared.js';

/**
 * What a delivery workflow was handed, read from its recorded history (plain payloads: the test
 * stack runs without encryption unless told): the replies of the exchange activity (bridge-v1,
 * unified, AIWM), whether they came as signals or in its result, once each and in order; and
 * the outbox posts a pull agent made (accepted updates).
 */
export async function deliveryReplies(
  temporal: Client,
  workflowId: string,
): Promise<{ received: AgentReply[]; pulled: OutboxPost[] }> {
  const { events } = await temporal.workflow.getHandle(workflowId).fetchHistory();
  const replies = new Map<string, AgentReply>();
  const add = (reply: AgentReply) => replies.set(`${reply.attempt}:${reply.index}`, reply);
  const exchanges = new Set<string>();
  const pulled: OutboxPost[] = [];
  for (const event of events ?? []) {
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'agentExchange') {
      exchanges.add(String(event.eventId));
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed?.result?.payloads?.[0] && exchanges.has(String(completed.scheduledEventId))) {
      defaultPayloadConverter
        .fromPayload<ExchangeResult>(completed.result.payloads[0])
        .replies.forEach(add);
    }
    const signal = event.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName === 'agentReply' && signal.input?.payloads?.[0]) {
      add(defaultPayloadConverter.fromPayload<AgentReply>(signal.input.payloads[0]));
    }
    const update = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (update?.name === 'agentOutbox' && update.args?.payloads?.[0]) {
      pulled.push(defaultPayloadConverter.fromPayload<OutboxPost>(update.args.payloads[0]));
    }
  }
  const received = [...replies.values()].sort((a, b) => a.attempt - b.attempt || a.index - b.index);
  return { received, pulled };
}
