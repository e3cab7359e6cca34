import {
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  agentInboxWorkflowId,
  findDuplicate,
  OUTBOX_REJECTIONS,
  outboxUpdate,
  pullRepliesQuery,
  turnClosedSignal,
  type OutboxPost,
  type PullRepliesState,
} from './pullShared.js';
import type { AgentReply, ExchangeResult, PullLimits } from './shared.js';

export interface PullExchangeOptions {
  agentId: string;
  turnId: string;
  limits: PullLimits;
  /** Puts the turn (again) in the agent's inbox; `repliesReceived` tells the agent where it stands. */
  offer(attempt: number, repliesReceived: number): Promise<void>;
  /** Hands one accepted reply to the delivery, which posts it. */
  accept(reply: AgentReply): void;
}

/** Pull replies carry the agent's metadata (the reply fields) from this patch on. */
export const PULL_REPLY_METADATA_PATCH = 'pull-reply-metadata';

interface AgentErrorPost {
  code: string;
  message: string;
  retryable: boolean;
}

/**
 * The delivery workflow's side of a pull agent (seed 003): instead of running a socket activity,
 * the workflow offers the turn to the agent's inbox and waits durably for the replies the agent
 * posts to its outbox (a validated, deduplicated Update). The limits mean what they mean for a
 * socket: the first reply within `replyTimeoutMs` of the offer (taking the turn included), at
 * most `idleTimeoutMs` between replies, `totalTimeoutMs` per attempt, `maxResponses` replies.
 *
 * Register it synchronously at the start of the workflow, so no early post finds no handler.
 */
export function createPullExchange(options: PullExchangeOptions) {
  const { agentId, limits } = options;
  const replies: PullRepliesState['replies'] = [];
  let open = true;
  let finalReceived = false;
  /** An error posted and not yet acted on; it fails the attempt that sees it. */
  let agentError: AgentErrorPost | undefined;
  /** The last error code posted since the turn was last offered: a repeat is a duplicate. */
  let lastErrorCode: string | undefined;
  /** Replies received when the last attempt failed: any beyond this answer the next attempt. */
  let repliesAtFailure = 0;
  let currentAttempt = 0;

  const answerOver = () => !open || finalReceived || replies.length >= limits.maxResponses;

  setHandler(
    outboxUpdate,
    (post) => {
      if (post.kind === 'error') {
        if (lastErrorCode === post.code) return { duplicate: true };
        lastErrorCode = post.code;
        agentError = { code: post.code, message: post.message, retryable: post.retryable };
        return { duplicate: false };
      }
      const duplicate = findDuplicate(replies, post);
      if (duplicate) return { duplicate: true, index: duplicate.index };
      const index = replies.length;
      replies.push({
        content: post.content,
        ...(post.sequence !== undefined ? { sequence: post.sequence } : {}),
      });
      if (post.final) finalReceived = true;
      options.accept({
        attempt: currentAttempt,
        index,
        content: post.content,
        final: post.final,
        metadata: {
          // Older workers dropped a post's metadata: their histories replay without it.
          ...(post.metadata && patched(PULL_REPLY_METADATA_PATCH) ? post.metadata : {}),
          ...(post.sequence !== undefined ? { sequence: post.sequence } : {}),
        },
      });
      return { duplicate: false, index };
    },
    { validator: validate },
  );
  setHandler(pullRepliesQuery, () => ({ agentId, open, replies }));

  /** Rejections are not recorded in history; the API turns them into 404 / 409. */
  function validate(post: OutboxPost): void {
    if (post.agentId !== agentId) {
      throw ApplicationFailure.nonRetryable(
        `no turn ${options.turnId} for agent ${post.agentId}`,
        OUTBOX_REJECTIONS.unknownTurn,
      );
    }
    if (post.kind === 'error') {
      if (answerOver() && lastErrorCode !== post.code) throw closed();
      return;
    }
    const duplicate = findDuplicate(replies, post);
    if (duplicate?.conflict) {
      throw ApplicationFailure.nonRetryable(
        `reply ${post.sequence} was already posted with different content`,
        OUTBOX_REJECTIONS.sequenceConflict,
      );
    }
    if (!duplicate && answerOver()) throw closed();
  }

  function closed() {
    return ApplicationFailure.nonRetryable(
      `the answer to ${options.turnId} is over: reply not posted`,
      OUTBOX_REJECTIONS.turnClosed,
    );
  }

  function fail(reason: string, message: string, retryable: boolean): never {
    repliesAtFailure = replies.length;
    throw ApplicationFailure.create({
      type: `Agent_${reason}`,
      message: `${message} (after ${replies.length} replies)`,
      nonRetryable: !retryable,
    });
  }

  return {
    /** One attempt: offer (unless replies came in meanwhile), then wait for the answer. */
    async attempt(attempt: number): Promise<ExchangeResult> {
      currentAttempt = attempt;
      const started = Date.now();
      const totalLeft = () => started + limits.totalTimeoutMs - Date.now();
      const heard = () => replies.length > repliesAtFailure || finalReceived;

      if (!heard()) {
        agentError = undefined;
        lastErrorCode = undefined;
        await options.offer(attempt, replies.length);
        const wait = Math.max(1, Math.min(limits.replyTimeoutMs, totalLeft()));
        if (!(await condition(() => heard() || agentError !== undefined, wait))) {
          fail(
            wait < limits.replyTimeoutMs ? 'total_timeout' : 'reply_timeout',
            `the agent did not take and answer the turn within ${wait} ms`,
            true,
          );
        }
      }
      for (;;) {
        if (agentError) {
          const { code, message, retryable } = agentError;
          agentError = undefined;
          fail('agent_error', `agent error ${code}: ${message}`, retryable);
        }
        if (finalReceived) return { endReason: 'final', replies: [] };
        if (replies.length >= limits.maxResponses) {
          return { endReason: 'max_responses', replies: [] };
        }
        const seen = replies.length;
        const wait = Math.min(limits.idleTimeoutMs, totalLeft());
        if (wait <= 0) return { endReason: 'total_timeout', replies: [] };
        const more = await condition(
          () => replies.length > seen || finalReceived || agentError !== undefined,
          wait,
        );
        if (!more) {
          return {
            endReason: wait < limits.idleTimeoutMs ? 'total_timeout' : 'idle_timeout',
            replies: [],
          };
        }
      }
    },

    /** No reply is accepted from now on: call in the same step that ends the exchange. */
    close(): void {
      open = false;
    },

    /** Takes the turn out of the agent's inbox (best effort: a stale entry expires anyway). */
    async withdraw(): Promise<void> {
      try {
        await getExternalWorkflowHandle(
          agentInboxWorkflowId(agentId, workflowInfo().taskQueue),
        ).signal(turnClosedSignal, options.turnId);
      } catch (error) {
        log.warn('could not take the turn out of the agent inbox', {
          agentId,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    },
  };
}

export type PullExchange = ReturnType<typeof createPullExchange>;
