import { ValueError } from '@temporalio/common';
import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ConversationTarget, CustomerMessageEvent } from '../chatwoot/events.js';
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
import { RejectedPayloadError, TemporalUnavailableError } from './deliveries.js';

export type { ConversationTarget, CustomerMessageEvent } from '../chatwoot/events.js';

/**
 * How long a call may take: `deadlineAt` (epoch ms) bounds every Temporal call, and `signal`
 * aborts them (the webhook's answer budget ran out).
 */
export interface CallLimits {
  deadlineAt?: number;
  signal?: AbortSignal;
}

/** How the webhook hands events to conversation actors (Temporal, or the benchmark's baseline). */
export interface ConversationGateway {
  /**
   * Queues a customer message; with `waitMs`, waits (bounded) for its first reply. Resolves only
   * once Temporal holds the message; `accepted` after a wait means durable, no reply yet.
   */
  sendCustomerMessage(
    target: ConversationTarget,
    event: CustomerMessageEvent,
    options?: CallLimits & { waitMs?: number },
  ): Promise<SubmitMessageResult>;
  /**
   * Tells the actor about anything else. `start: false` reaches only a running actor (a status
   * change for a conversation the bot never saw needs no actor); answers whether one got it.
   */
  notify(
    target: ConversationTarget,
    event: ConversationSignal,
    options: CallLimits & { start: boolean },
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

  /**
   * One Temporal call within `temporal.startTimeoutMs` (plus `extraMs`) and the caller's limits.
   * The call is raced against its deadline, so a connection that hangs before the gRPC deadline
   * applies (`waiting for metadata filters`) cannot hold the caller past it.
   */
  const within = async <T>(
    what: string,
    limits: CallLimits,
    extraMs: number,
    call: () => Promise<T>,
  ): Promise<T> => {
    const startedAt = Date.now();
    const ownDeadline = startedAt + current().temporal.startTimeoutMs + extraMs;
    const deadline = Math.min(ownDeadline, limits.deadlineAt ?? ownDeadline);
    const abort = new AbortController();
    const onAbort = () => abort.abort(limits.signal?.reason);
    limits.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => abort.abort(new Error(`no answer within ${deadline - startedAt} ms`)),
      Math.max(0, deadline - startedAt),
    );
    const aborted = new Promise<never>((_resolve, reject) => {
      abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error), {
        once: true,
      });
    });
    try {
      if (limits.signal?.aborted) onAbort();
      return await Promise.race([
        client.withAbortSignal(abort.signal, () => client.withDeadline(deadline, call)),
        aborted,
      ]);
    } catch (error) {
      throw classifyFailure(what, error);
    } finally {
      clearTimeout(timer);
      limits.signal?.removeEventListener('abort', onAbort);
      if (!abort.signal.aborted) abort.abort(new Error('done'));
    }
  };

  const signalWithStart = (
    target: ConversationTarget,
    event: ConversationSignal,
    limits: CallLimits,
  ) => {
    const options = startOptions(target);
    return within(options.workflowId, limits, 0, () =>
      client.workflow.signalWithStart(conversationWorkflow, {
        ...options,
        signal: conversationEventSignal,
        signalArgs: [event],
      }),
    ).then(() => options.workflowId);
  };

  return {
    async sendCustomerMessage(target, event, { waitMs, ...limits } = {}) {
      if (!waitMs) {
        const conversationWorkflowId = await signalWithStart(target, event, limits);
        return { status: 'accepted', conversationWorkflowId };
      }
      const options = startOptions(target);
      // Durable once the actor accepted the update (the message is then in its inbox)...
      const update = await within(options.workflowId, limits, 0, () =>
        client.workflow.startUpdateWithStart(submitMessageUpdate, {
          args: [{ event, waitMs }],
          waitForStage: 'ACCEPTED',
          startWorkflowOperation: new WithStartWorkflowOperation(conversationWorkflow, {
            ...options,
            workflowIdConflictPolicy: 'USE_EXISTING',
          }),
        }),
      );
      // ...and the reply is a bonus: past the limits, the message is still on its way.
      try {
        return await within(options.workflowId, limits, waitMs, () => update.result());
      } catch (error) {
        if (error instanceof RejectedPayloadError) throw error;
        return { status: 'accepted', conversationWorkflowId: options.workflowId };
      }
    },

    async notify(target, event, { start, ...limits }) {
      if (start) {
        const conversationWorkflowId = await signalWithStart(target, event, limits);
        return { delivered: true, conversationWorkflowId };
      }
      const workflowId = conversationWorkflowId(target.accountId, target.conversationId);
      try {
        await within(workflowId, limits, 0, () =>
          client.workflow.getHandle(workflowId).signal(conversationEventSignal, event),
        );
        return { delivered: true, conversationWorkflowId: workflowId };
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) {
          return { delivered: false, conversationWorkflowId: workflowId };
        }
        throw error;
      }
    },
  };
}

/**
 * Why a call failed: a workflow that does not exist (passed on as is), a value Temporal cannot
 * encode (the sender's mistake, never an outage), or Temporal not accepting in time.
 */
function classifyFailure(what: string, error: unknown): Error {
  if (error instanceof WorkflowNotFoundError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ValueError) {
    return new RejectedPayloadError(`Temporal cannot encode the event for ${what}: ${message}`, {
      cause: error,
    });
  }
  return new TemporalUnavailableError(`Temporal did not accept ${what}: ${message}`, {
    cause: error,
  });
}
