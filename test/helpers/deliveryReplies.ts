import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { OutboxPost } from '../../workflows/pullShared.js';
import type { AgentReply } from '../../workflows/shared.js';

/**
 * What a delivery workflow was handed, read from its recorded history (plain payloads: the test
 * stack runs without encryption unless told): the replies the exchange activity signalled
 * (bridge-v1, unified, AIWM) and the outbox posts a pull agent made (accepted updates).
 */
export async function deliveryReplies(
  temporal: Client,
  workflowId: string,
): Promise<{ signalled: AgentReply[]; pulled: OutboxPost[] }> {
  const { events } = await temporal.workflow.getHandle(workflowId).fetchHistory();
  const signalled: AgentReply[] = [];
  const pulled: OutboxPost[] = [];
  for (const event of events ?? []) {
    const signal = event.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName === 'agentReply' && signal.input?.payloads?.[0]) {
      signalled.push(defaultPayloadConverter.fromPayload<AgentReply>(signal.input.payloads[0]));
    }
    const update = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (update?.name === 'agentOutbox' && update.args?.payloads?.[0]) {
      pulled.push(defaultPayloadConverter.fromPayload<OutboxPost>(update.args.payloads[0]));
    }
  }
  return { signalled, pulled };
}
