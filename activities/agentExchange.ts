import { ApplicationFailure, Context, log, type Info as ActivityInfo } from '@temporalio/activity';
import proto from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { temporalTurnLock } from '../agents/temporalTurnLock.js';
import { jsonBytes } from '../agents/replyLimits.js';
import { runAgentExchange } from '../agents/registry.js';
import { turnFromMessage } from '../agents/turn.js';
import type { AgentLookup } from '../config/live.js';
import type { ChatwootClient } from '../chatwoot/client.js';
import { bridgeSourceId } from '../chatwoot/sourceId.js';
import { plainReplyText } from '../workflows/replyPosts.js';
import type { ConversationRef, SolePostOutcome } from './chatwoot.js';
import type { ConnectionPhase } from '../machines/connection.js';
import type { WorkerMetrics } from '../observability/metrics.js';
import {
  agentReplySignal,
  type AgentReply,
  type ExchangePost,
  type ExchangeResult,
  type MessageDeliveryInput,
} from '../workflows/shared.js';

/** Phases in which the agent has the customer's message. */
const AGENT_HAS_IT = new Set<ConnectionPhase>(['sending', 'awaitingReply', 'streaming']);

/** An exchange shorter than this sends no heartbeat (the interval is shorter when the timeout is). */
const FIRST_HEARTBEAT_AFTER_MS = 1_000;

/** Clock margin: no post from the exchange this close to when the server may give it up. */
const SEND_MARGIN_MS = 1_000;

/** Well inside Temporal's 2 MB payload limit, codec overhead included. */
const RESULT_BUDGET_BYTES = 1_048_576;

export interface AgentExchangeInput {
  agentId: string;
  attempt: number;
  /** Replies 0..skipReplies-1 already reached the workflow in an earlier attempt: do not resend them. */
  skipReplies: number;
  message: MessageDeliveryInput;
  /**
   * This activity turns Chatwoot's typing indicator on when it starts and off when it ends, so
   * the workflow does not spend two local-activity markers on it (messageDeliveryV2Workflow).
   */
  manageTyping?: boolean;
  /**
   * When the attempt's one and only reply is plain text, the exchange posts it itself under this
   * marker, as `createMessage`'s first attempt would: one activity (a billed action) less.
   */
  postSoleReply?: { sourceId: string; splitRepliesAtChars?: number };
  /**
   * The exchange posts each plain reply itself as it arrives, under the reply's marker, before
   * handing it over (messageDeliveryV4Workflow): no post activity for them. It stops at the first
   * reply it cannot post (not plain, refused, or too late): the workflow posts that one and every
   * later one, so they stay in order.
   */
  postReplies?: { splitRepliesAtChars?: number };
}

export interface AgentExchangeDeps {
  /** Looked up per exchange, so a configuration reload reaches the next exchange. */
  agents: AgentLookup;
  /** Used to hand each reply to the calling workflow as soon as it arrives. */
  temporal: Client;
  /** Relays the agent's own typing indicator, for transports that report one. */
  chatwoot?: ChatwootClient;
  /** Exchange latency by outcome and reply counts, by agent. */
  metrics?: WorkerMetrics;
  /** The bridge's workflow task queue, where the agent lease workflows run. */
  workflowTaskQueue: string;
  /** Posts a sole plain reply (`postSoleReply`); unset: the workflow posts every reply. */
  soleReplyPoster?: (
    input: ConversationRef & { content: string; sourceId: string },
  ) => Promise<SolePostOutcome>;
}

export function createAgentExchangeActivity({
  agents,
  temporal,
  chatwoot,
  metrics,
  workflowTaskQueue,
  soleReplyPoster,
}: AgentExchangeDeps) {
  return {
    async agentExchange(input: AgentExchangeInput): Promise<ExchangeResult> {
      const context = Context.current();
      const agent = agents.get(input.agentId);
      if (!agent) {
        // Retryable: with split processes the API may have reloaded a new agent before this
        // worker did (SIGHUP); the workflow's retry window gives the worker time to catch up.
        throw ApplicationFailure.create({
          message: `agent "${input.agentId}" is not configured on this worker (reload its configuration)`,
          type: 'UnknownAgent',
          details: [{ unreportedPosts: 0 }],
        });
      }
      const workflowId = context.info.workflowExecution?.workflowId;
      if (!workflowId)
        throw ApplicationFailure.nonRetryable('agentExchange must run inside a workflow');
      const workflow = temporal.workflow.getHandle(workflowId);
      // Kept: strays may be reported after this activity returned (the AIWM quiet period).
      const logger = context.log;

      // Heartbeats carry progress; the interval keeps a silent-but-alive exchange from timing out.
      // Each one that reaches the server is a billed action, so an exchange that ends within the
      // first interval sends none.
      let progress: { phase: ConnectionPhase; replies: number; activity?: string } = {
        phase: 'idle',
        replies: 0,
      };
      const heartbeatEvery = Math.max(
        100,
        Math.floor((context.info.heartbeatTimeoutMs ?? 30_000) / 3),
      );
      const firstBeatAt = Date.now() + Math.min(FIRST_HEARTBEAT_AFTER_MS, heartbeatEvery);
      const beat = () => {
        if (Date.now() >= firstBeatAt) context.heartbeat(progress);
      };
      const timer = setInterval(beat, heartbeatEvery);

      // The agent's typing, relayed in order; awaited before returning so the workflow's own
      // "typing off" always comes last.
      let typing: Promise<void> = Promise.resolve();
      let typingNow: boolean | undefined;
      const relayTyping = (on: boolean) => {
        if (!chatwoot || on === typingNow) return;
        typingNow = on;
        const { accountId, conversationId } = input.message;
        typing = typing
          .then(() => chatwoot.toggleTyping(accountId, conversationId, on ? 'on' : 'off'))
          .catch((error: unknown) => {
            log.warn('relaying the agent typing indicator failed', {
              error: error instanceof Error ? error.message : String(error),
            });
          });
      };

      // Typing on once the agent has the message (an agent that is down shows no typing).
      let typingStarted = false;
      const startTyping = (phase: ConnectionPhase) => {
        if (!input.manageTyping || typingStarted || !AGENT_HAS_IT.has(phase)) return;
        typingStarted = true;
        relayTyping(true);
      };

      /**
       * A create is sent only while the server cannot have given this attempt up (its heartbeat
       * timeout counted from the schedule, as if no heartbeat had arrived) and nobody cancelled
       * it: one sent later could race the workflow's own post. Sent before then, it has settled
       * by the time the workflow's post looks (the late-commit grace after it saw this attempt
       * end); a margin for the clocks.
       */
      const { info } = context;
      const givenUpAt =
        info.currentAttemptScheduledTimestampMs +
        Math.min(info.heartbeatTimeoutMs || Infinity, info.startToCloseTimeoutMs);
      const mayStillPost = async () =>
        !context.cancellationSignal.aborted &&
        Date.now() + SEND_MARGIN_MS < givenUpAt &&
        (await notCancelled(temporal, info));
      const post = async (content: string, sourceId: string): Promise<ExchangePost> => {
        const sentAtMs = Date.now();
        const outcome = await soleReplyPoster!({
          accountId: input.message.accountId,
          conversationId: input.message.conversationId,
          content,
          sourceId,
        });
        if (outcome.posted) return { chatwootMessageId: outcome.chatwootMessageId };
        logger.warn('posting the reply from the exchange failed; the workflow posts it', {
          error: outcome.error,
        });
        return exchangePostFailure(outcome, sentAtMs);
      };

      /** The attempt's only reply, when plain, posted here (V3). */
      const postSoleReply = async (
        received: AgentReply[],
        signals: number,
      ): Promise<ExchangeResult['soleReply']> => {
        const sole = received[0];
        const asked = input.postSoleReply;
        if (!asked || !soleReplyPoster || !sole || received.length !== 1 || signals > 0) return;
        if (sole.index !== 0 || input.skipReplies !== 0) return;
        const content = plainReplyText(sole, asked.splitRepliesAtChars);
        if (content === undefined || !(await mayStillPost())) return;
        return { index: 0, ...(await post(content, asked.sourceId)) };
      };

      /** Each plain reply posted here as it arrives, in order, until one is not (V4). */
      let postingOpen = input.postReplies !== undefined && soleReplyPoster !== undefined;
      let nextToPost = input.skipReplies;
      /** Creates sent whose outcome the workflow has not been handed (by signal or result). */
      let unreportedPosts = 0;
      const postAsItArrives = async (reply: AgentReply): Promise<ExchangePost | undefined> => {
        if (!postingOpen) return undefined;
        const content =
          reply.index === nextToPost
            ? plainReplyText(reply, input.postReplies?.splitRepliesAtChars)
            : undefined;
        if (content === undefined || !(await mayStillPost())) {
          postingOpen = false;
          return undefined;
        }
        nextToPost += 1;
        unreportedPosts += 1;
        const outcome = await post(content, bridgeSourceId(workflowId, reply.index));
        // Not posted: the workflow posts it, and the ones after it must follow it.
        if (outcome.chatwootMessageId === undefined) postingOpen = false;
        return outcome;
      };

      const replies: AgentReply[] = [];
      let signalled = 0;
      let resultBytes = 0;
      const startedAt = performance.now();
      let outcome = 'error'; // until the exchange returns
      try {
        const output = await runAgentExchange(
          agent,
          turnFromMessage(input.agentId, input.attempt, input.message),
          {
            signal: context.cancellationSignal,
            onPhase: (phase, count, activity) => {
              progress = { phase, replies: count, ...(activity ? { activity } : {}) };
              startTyping(phase);
              beat();
            },
            onTyping: relayTyping,
            onStrayMessage: (stray) => {
              metrics?.aiwmStrayMessage(input.agentId, stray.reason);
              logger.warn('AIWM message dropped: it belongs to no running turn', {
                agentId: input.agentId,
                reason: stray.reason,
                aiwmMessageId: stray.messageId,
                aiwmConversationId: stray.conversationId,
              });
            },
            // A later exchange of this delivery takes over its lease (its worker may be gone).
            turnLock: temporalTurnLock({
              client: temporal,
              taskQueue: workflowTaskQueue,
              holderId: workflowId,
              token: `${workflowId}/${context.info.activityId}#${context.info.attempt}`,
              warn: (message, fields) => {
                log.warn(message, fields);
              },
            }),
            onReply: async (reply, index) => {
              metrics?.agentReply(input.agentId);
              if (index < input.skipReplies) return;
              const received: AgentReply = { attempt: input.attempt, index, ...reply };
              const postedByExchange = await postAsItArrives(received);
              const agentReply = postedByExchange ? { ...received, postedByExchange } : received;
              resultBytes += jsonBytes(agentReply);
              const fitsResult = resultBytes <= RESULT_BUDGET_BYTES;
              // The final reply comes back with the result, a moment later, instead of costing a
              // signal; the workflow posts by index, so a (non-conforming) later one still waits.
              if (!(reply.final && fitsResult)) {
                signalled += 1;
                await workflow.signal(agentReplySignal, agentReply);
                if (postedByExchange) unreportedPosts -= 1;
              }
              // The result repeats the replies as a safety net, within Temporal's payload limit:
              // past the budget the (accepted) signals alone carry them.
              if (fitsResult) replies.push(agentReply);
            },
          },
        );
        outcome = output.outcome === 'failed' ? output.reason : output.outcome;
        if (output.outcome === 'failed') {
          if (output.reason === 'cancelled' && context.cancellationSignal.aborted) {
            throw context.cancellationSignal.reason ?? new Error('cancelled');
          }
          throw ApplicationFailure.create({
            type: `Agent_${output.reason}`,
            message: `${output.detail} (after ${output.replies} replies)`,
            nonRetryable: !output.retryable,
            details: [{ reason: output.reason, replies: output.replies, unreportedPosts }],
          });
        }
        const soleReply = await postSoleReply(replies, signalled);
        return { endReason: output.endReason, replies, ...(soleReply ? { soleReply } : {}) };
      } finally {
        clearInterval(timer);
        if (typingStarted) relayTyping(false);
        await typing;
        metrics?.agentExchangeFinished(input.agentId, outcome, performance.now() - startedAt);
      }
    },
  };
}

/**
 * Whether nobody has asked this activity to stop. A cancellation (a human took the conversation,
 * a newer message aborted the turn) reaches a running activity only with a heartbeat's answer,
 * seconds later; the workflow's own posts stop at once, so the exchange asks the server before
 * each post. In doubt (the server cannot be asked), no: the workflow posts the reply.
 */
async function notCancelled(temporal: Client, info: ActivityInfo): Promise<boolean> {
  const { workflowExecution: execution, workflowNamespace: namespace, activityId } = info;
  try {
    const { pendingActivities } = await temporal.workflowService.describeWorkflowExecution({
      namespace,
      execution,
    });
    const self = pendingActivities?.find((pending) => pending.activityId === activityId);
    return (
      self !== undefined &&
      self.state !==
        proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
    );
  } catch (error) {
    log.warn('could not ask Temporal whether the exchange was cancelled; the workflow posts', {
      error: error instanceof Error ? error.message : String(error),
    });
    return false;
  }
}

/** A create the exchange sent that did not come back with an id: what the workflow's post needs. */
function exchangePostFailure(
  outcome: Exclude<SolePostOutcome, { posted: true }>,
  sentAtMs: number,
): ExchangePost {
  // No answer: the create may still commit; the workflow's post looks before it posts.
  if (!outcome.answered) {
    return { error: outcome.error, uncertainCreate: { sentAtMs, untilMs: Date.now() } };
  }
  return {
    error: outcome.error,
    ...(outcome.retryable ? {} : { failedForGood: true }),
    ...(outcome.retryAfterMs !== undefined
      ? { notBeforeMs: Date.now() + outcome.retryAfterMs }
      : {}),
  };
}
