import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { bridgeV1Request } from '../agents/bridgeV1/protocol.js';
import { turnFromMessage } from '../agents/turn.js';
import { agentInboxWorkflow } from '../workflows/agentInbox.js';
import { agentInboxWorkflowId, turnOfferedSignal, type PullTurn } from '../workflows/pullShared.js';
import type { MessageDeliveryInput } from '../workflows/shared.js';

export interface OfferTurnInput {
  agentId: string;
  attempt: number;
  /** Replies the delivery already has: a redelivered turn tells the agent where it stands. */
  repliesReceived: number;
  message: MessageDeliveryInput;
  /** The task queue of the bridge's workflows (the inbox workflow runs there). */
  workflowTaskQueue: string;
}

/**
 * The turn as a pull agent sees it: the `bridge-v1` request, with the delivery workflow id as
 * its opaque `message_id` (the agent echoes it on the outbox) and the Chatwoot message id in
 * `metadata.chatwoot_message_id`.
 */
export function pullTurn(turnId: string, input: OfferTurnInput): PullTurn {
  const request = bridgeV1Request(turnFromMessage(input.agentId, input.attempt, input.message));
  return {
    ...request,
    message_id: turnId,
    metadata: { ...request.metadata, replies_received: input.repliesReceived },
  };
}

export function createPullAgentActivities({ temporal }: { temporal: Client }) {
  return {
    /** Puts one turn in the agent's inbox workflow, starting the inbox if it is not running. */
    async offerTurn(input: OfferTurnInput): Promise<void> {
      const turnId = Context.current().info.workflowExecution?.workflowId;
      if (!turnId) throw ApplicationFailure.nonRetryable('offerTurn must run inside a workflow');
      await temporal.workflow.signalWithStart(agentInboxWorkflow, {
        workflowId: agentInboxWorkflowId(input.agentId, input.workflowTaskQueue),
        taskQueue: input.workflowTaskQueue,
        args: [{ agentId: input.agentId }],
        signal: turnOfferedSignal,
        signalArgs: [{ turnId, attempt: input.attempt, turn: pullTurn(turnId, input) }],
        staticSummary: `inbox of pull agent ${input.agentId}`,
      });
    },
  };
}
