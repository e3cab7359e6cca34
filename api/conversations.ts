import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { BridgeConfig } from '../config/schema.js';
import { conversationWorkflow } from '../workflows/index.js';
import { searchAttributes } from '../workflows/searchAttributes.js';
import {
  conversationEventSignal,
  conversationWorkflowId,
  submitMessageUpdate,
  type ConversationActorInput,
  type ConversationSignal,
  type SubmitMessageResult,
} from '../workflows/shared.js';
import { TemporalUnavailableError } from './deliveries.js';

export type CustomerMessageEvent = Extract<ConversationSignal, { type: 'customer_message' }>;

export interface ConversationTarget {
  accountId: number;
  conversationId: number;
  inboxId: number;
}

/** How the webhook hands events to conversation actors (Temporal, or the benchmark's baseline). */
export interface ConversationGateway {
  /** Queues a customer message; with `waitMs`, waits (bounded) for its first reply. */
  sendCustomerMessage(
    target: ConversationTarget,
    event: CustomerMessageEvent,
    waitMs?: number,
  ): Promise<SubmitMessageResult>;
  /**
   * Tells the actor about anything else. `start: false` reaches only a running actor (a status
   * change for a conversation the bot never saw needs no actor); answers whether one got it.
   */
  notify(
    target: ConversationTarget,
    event: ConversationSignal,
    options: { start: boolean },
  ): Promise<{ delivered: boolean; conversationWorkflowId: string }>;
}

/** The real gateway: signal-with-start, update-with-start and plain signals to the actor. */
export function temporalConversationGateway(
  client: Client,
  current: () => BridgeConfig,
): ConversationGateway {
  const startOptions = (target: ConversationTarget) => {
    const config = current();
    const workflowId = conversationWorkflowId(target.accountId, target.conversationId);
    const input: ConversationActorInput = {
      accountId: target.accountId,
      conversationId: target.conversationId,
      settings: {
        resumeAfterIdleMs: config.conversation.resumeAfterIdleMs,
        dedupeLimit: config.conversation.dedupeLimit,
        reorderWindowMs: config.conversation.reorderWindowMs,
      },
    };
    return {
      workflowId,
      taskQueue: config.temporal.taskQueue,
      args: [input] as [ConversationActorInput],
      staticSummary: `conversation ${target.conversationId} (account ${target.accountId}, inbox ${target.inboxId})`,
      typedSearchAttributes: [
        { key: searchAttributes.accountId, value: String(target.accountId) },
        { key: searchAttributes.conversationId, value: String(target.conversationId) },
        { key: searchAttributes.inboxId, value: String(target.inboxId) },
      ],
    };
  };

  const withDeadline = async <T>(what: string, extraMs: number, call: () => Promise<T>) => {
    try {
      const timeoutMs = current().temporal.startTimeoutMs + extraMs;
      return await client.withDeadline(Date.now() + timeoutMs, call);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw error;
      throw new TemporalUnavailableError(
        `Temporal did not accept ${what}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  };

  return {
    async sendCustomerMessage(target, event, waitMs) {
      const options = startOptions(target);
      if (!waitMs) {
        await withDeadline(options.workflowId, 0, () =>
          client.workflow.signalWithStart(conversationWorkflow, {
            ...options,
            signal: conversationEventSignal,
            signalArgs: [event],
          }),
        );
        return { status: 'accepted', conversationWorkflowId: options.workflowId };
      }
      return withDeadline(options.workflowId, waitMs, () =>
        client.workflow.executeUpdateWithStart(submitMessageUpdate, {
          args: [{ event, waitMs }],
          startWorkflowOperation: new WithStartWorkflowOperation(conversationWorkflow, {
            ...options,
            workflowIdConflictPolicy: 'USE_EXISTING',
          }),
        }),
      );
    },

    async notify(target, event, { start }) {
      const options = startOptions(target);
      if (start) {
        await withDeadline(options.workflowId, 0, () =>
          client.workflow.signalWithStart(conversationWorkflow, {
            ...options,
            signal: conversationEventSignal,
            signalArgs: [event],
          }),
        );
        return { delivered: true, conversationWorkflowId: options.workflowId };
      }
      try {
        await withDeadline(options.workflowId, 0, () =>
          client.workflow.getHandle(options.workflowId).signal(conversationEventSignal, event),
        );
        return { delivered: true, conversationWorkflowId: options.workflowId };
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) {
          return { delivered: false, conversationWorkflowId: options.workflowId };
        }
        throw error;
      }
    },
  };
}
