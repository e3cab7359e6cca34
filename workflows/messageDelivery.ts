import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { TimeoutType } from '@temporalio/common';
import type { BridgeActivities } from '../activities/index.js';
import { bridgeSourceId } from '../chatwoot/sourceId.js';
import type { CreateMessageInput } from '../activities/chatwoot.js';
import type { AgentExchangeInput } from '../activities/agentExchange.js';
import { chatwootOptions, lateCommitGraceMs, postOptions } from './activityOptions.js';
import { AGENT_ACTIONS_PATCH, createAgentActions } from './agentActions.js';
import { CHATWOOT_TASK_QUEUE_PATCH, withChatwootTaskQueue } from './chatwootQueue.js';
import { createPullExchange } from './pullExchange.js';
import { replyExtras } from './replyExtras.js';
import { noteWithFiles, REPLY_ATTACHMENTS_PATCH, replyFiles } from './replyAttachments.js';
import { planReplyPosts, postPlannedReply, type PlannedPost } from './replyPosts.js';
import { searchAttributes } from './searchAttributes.js';
import { bridgeMetrics } from './sinks.js';
import {
  agentReplySignal,
  agentTaskQueue,
  replyPostedSignal,
  deliveryStateQuery,
  type AgentReply,
  type AttemptReport,
  type DeliveryReport,
  type DeliveryStatus,
  type ExchangePost,
  type MessageDeliveryInput,
  type ReplyReport,
} from './shared.js';

/**
 * One customer message: typing on → agent exchange (retried with backoff inside the agent
 * retry window) → each reply posted as it arrives → typing off, always. When the agent stays
 * down past the window: fallback message, conversation opened, private note saying why.
 *
 * The first version, kept so the deliveries it recorded replay; actors start
 * `messageDeliveryV2Workflow` now.
 */
export async function messageDeliveryWorkflow(
  input: MessageDeliveryInput,
): Promise<DeliveryReport> {
  return deliverMessage(input, { has: patched, lean: false });
}

/**
 * The same delivery for fewer Temporal actions (each one is billed): typing is set by the
 * exchange activity, the status is recorded only when it is not `delivered`, and no `patched()`
 * marker is written for the changes made to the first version: they are in force from its
 * start. A later change goes behind `has()` like any patch: two actions per message while it is
 * in the code (a marker and Temporal's own change-version search attribute).
 */
export async function messageDeliveryV2Workflow(
  input: MessageDeliveryInput,
): Promise<DeliveryReport> {
  return deliverMessage(input, { has: hasSinceV2, lean: true });
}

/**
 * V2, and the exchange posts a reply that is its only one and plain text itself: one activity,
 * a billed action, less per message. A new type rather than a patch: a patch costs two actions
 * per message, and a worker without this code cannot run this type at all, so it never posts a
 * reply a second time for want of knowing the exchange posted it.
 */
export async function messageDeliveryV3Workflow(
  input: MessageDeliveryInput,
): Promise<DeliveryReport> {
  return deliverMessage(input, { has: hasSinceV2, lean: true, repliesInExchange: 'sole' });
}

/**
 * V3, and the exchange posts every plain reply itself as it arrives, not only a sole one: each
 * reply after the first costs its signal alone. It posts them in order and stops at the first it
 * cannot post; the workflow posts that one and the rest, looking first for a copy whenever an
 * attempt ended without saying what it posted. A new type for the reason V3 is one.
 */
export async function messageDeliveryV4Workflow(
  input: MessageDeliveryInput,
): Promise<DeliveryReport> {
  return deliverMessage(input, { has: hasSinceV2, lean: true, repliesInExchange: 'every' });
}

/** V2 to V4: every change made to the first version is in force, later ones are patches. */
function hasSinceV2(change: string): boolean {
  return IN_V2_FROM_ITS_START.has(change) || patched(change);
}

/** Interactive replies (buttons, cards, forms, articles) and long replies in parts (2026-12). */
const RICH_REPLIES_PATCH = 'rich-replies';

/** Marker in content_attributes, late-commit grace, reset check, replies after a gap (2026-12). */
const POSTING_PATCH = 'posting-survives-channels-late-commits-resets';

/** A delivery that retried and then delivered clears its `retrying` status (2026-12). */
const DELIVERED_CLEARS_STATUS_PATCH = 'delivered-clears-retrying-status';

/** Changes made to the first version, in force in every V2 run (it has no history without them). */
const IN_V2_FROM_ITS_START = new Set([
  POSTING_PATCH,
  'agent-queue-bounds',
  'worker-shutdown-is-worker-loss',
  REPLY_ATTACHMENTS_PATCH,
  RICH_REPLIES_PATCH,
  AGENT_ACTIONS_PATCH,
  CHATWOOT_TASK_QUEUE_PATCH,
]);

/** What tells the two versions apart. */
interface DeliveryVersion {
  /** Whether a change made behind `patched(id)` is in force. */
  has: (change: string) => boolean;
  /** Typing inside the exchange, status recorded only when not delivered. */
  lean: boolean;
  /** The exchange posts a sole plain reply itself (V3), or every plain reply as it comes (V4). */
  repliesInExchange?: 'sole' | 'every';
}

async function deliverMessage(
  input: MessageDeliveryInput,
  version: DeliveryVersion,
): Promise<DeliveryReport> {
  const { has, lean } = version;
  // Chatwoot calls on the fleet's rate-limited queue when one is configured ('chatwoot-task-queue').
  const policy = withChatwootTaskQueue(input, has);
  const workflowId = workflowInfo().workflowId;
  const startedAt = Date.now();
  const chatwoot = chatwootActivities(policy);
  // Posts that survive overwritten source_ids, late commits and resets; replies after a gap.
  const robustPosting = has(POSTING_PATCH);
  // The exchange activity sets typing on and off itself (push agents, lean version).
  const typingInExchange = lean && !policy.pull;
  /** An exchange attempt ended without its activity's own cleanup (timeout, cancel, worker lost). */
  let typingMayBeOn = false;

  let status: DeliveryStatus = 'received';
  let attempt = 0;
  let exchangeDone = false;
  let firstReplyPostedAt: number | undefined;
  let actorNotified: Promise<void> = Promise.resolve();
  const received = new Map<number, AgentReply>();
  const replyReports: ReplyReport[] = [];
  const attempts: AttemptReport[] = [];

  /** What the exchange's own posts came to, by reply index (V3: its sole reply; V4: each). */
  const postedByExchange = new Map<number, ExchangePost>();
  /** An exchange attempt that asked to post ended without saying what it posted (V4). */
  let unreportedPosts: ExchangePost['uncertainCreate'];
  const acceptReply = (reply: AgentReply) => {
    // A superseded attempt (e.g. a worker presumed dead that is still running) must not add replies.
    if (reply.attempt !== attempt || received.has(reply.index)) return;
    received.set(reply.index, reply);
    if (reply.postedByExchange) postedByExchange.set(reply.index, reply.postedByExchange);
  };
  setHandler(agentReplySignal, acceptReply);
  // A pull agent posts its replies to its outbox instead: they are accepted whatever the attempt.
  const pull = policy.pull
    ? createPullExchange({
        agentId: input.agentId,
        turnId: workflowId,
        limits: policy.pull,
        offer: (n, repliesReceived) =>
          offerTurn(policy, has).executeWithOptions(
            {
              ...offerOptions(policy, has),
              summary: `offer turn to ${input.agentId}, attempt ${n}`,
            },
            [
              {
                agentId: input.agentId,
                attempt: n,
                repliesReceived,
                message: input,
                workflowTaskQueue: workflowInfo().taskQueue,
              },
            ],
          ),
        accept: (reply) => {
          if (!received.has(reply.index)) received.set(reply.index, reply);
        },
      })
    : undefined;
  setHandler(deliveryStateQuery, () => ({
    status,
    attempt,
    repliesReceived: received.size,
    repliesPosted: replyReports.filter((report) => report.status === 'posted').length,
  }));

  let recordedStatus: DeliveryStatus | undefined;
  const setStatus = (next: DeliveryStatus) => {
    status = next;
    // Lean: an upsert is a billed action; `exchanging` and `delivered` are left to the run's
    // own status (running, completed), the ones an operator searches for are recorded.
    if (lean && next === 'delivered' && recordedStatus !== undefined) {
      // Delivered after a retry: no status, as for any delivered message, so a search for
      // `retrying` finds only deliveries still retrying. Histories recorded before replay as
      // they ran (the marker is written only on this path).
      if (!has(DELIVERED_CLEARS_STATUS_PATCH)) return;
      recordedStatus = undefined;
      upsertSearchAttributes([{ key: searchAttributes.deliveryStatus, value: null }]);
      return;
    }
    if (lean && (next === 'exchanging' || next === 'delivered' || next === recordedStatus)) return;
    recordedStatus = next;
    upsertSearchAttributes([{ key: searchAttributes.deliveryStatus, value: next }]);
  };

  const conversation = { accountId: input.accountId, conversationId: input.conversationId };
  const agentActions = createAgentActions({ ...conversation, policy }, has);

  /**
   * The exchange may post replies itself (V3, V4), not in a reset run (the run before may have
   * posted them: the workflow's posts look first) nor when Chatwoot calls are on the fleet's
   * rate-limited queue.
   */
  const exchangeMayPost = (exchangeAttempt: number) => {
    const info = workflowInfo();
    return (
      version.repliesInExchange !== undefined &&
      !pull &&
      robustPosting &&
      policy.chatwootTaskQueue === undefined &&
      info.runId === info.originalExecutionRunId &&
      exchangeAttempt === 1
    );
  };
  /** When this run first ran past the reset point (reset runs only; a later value is safe). */
  let resetSeenAt: number | undefined;
  /** One message to create, with what a retry (or a reset run) needs to avoid a second copy. */
  const message = (
    fields: Pick<CreateMessageInput, 'content' | 'private' | 'sourceId'>,
  ): CreateMessageInput => {
    if (!robustPosting) return { ...conversation, ...fields };
    const info = workflowInfo();
    // A reset run replays this run's start, then reruns from an earlier point: what the run
    // before the reset posted after that point is in Chatwoot but not in this history. Only an
    // activity input depends on it, so replays stay deterministic whatever it is.
    const reset = info.runId !== info.originalExecutionRunId;
    if (reset && resetSeenAt === undefined && !info.unsafe.isReplaying) resetSeenAt = Date.now();
    return {
      ...conversation,
      ...fields,
      lateCommitGraceMs: lateCommitGraceMs(policy),
      ...(reset ? { earlierRun: { sinceMs: startedAt, untilMs: resetSeenAt ?? Date.now() } } : {}),
    };
  };
  const postingOptions = (summary: string) => ({
    ...(robustPosting ? postOptions(policy) : chatwootOptions(policy)),
    summary,
  });

  /** Exchange attempts until one completes, a failure cannot be retried, or the window closes. */
  const exchangeWithRetries = async (): Promise<ExchangeOutcome> => {
    // The window opens at the agent's first failure; a dead worker is not the agent's fault.
    let deadline: number | undefined;
    let workerLosses = 0;
    let backoff = policy.agentRetryInitialIntervalMs;
    for (;;) {
      attempt += 1;
      setStatus(attempt === 1 ? 'exchanging' : 'retrying');
      const asksToPost = exchangeMayPost(attempt);
      const attemptStartedAt = Date.now();
      try {
        if (typingInExchange) typingMayBeOn = true;
        const result = pull
          ? await pull.attempt(attempt)
          : await agentExchange(policy, has).executeWithOptions(
              {
                ...exchangeOptions(policy, has),
                summary: exchangeSummary(input.agentId, attempt, contiguousCount(received)),
              },
              [
                {
                  agentId: input.agentId,
                  attempt,
                  skipReplies: contiguousCount(received),
                  message: input,
                  ...(typingInExchange ? { manageTyping: true } : {}),
                  ...(asksToPost ? postingRequest(version, workflowId, policy) : {}),
                },
              ],
            );
        typingMayBeOn = false;
        if (result.soleReply) postedByExchange.set(result.soleReply.index, result.soleReply);
        // Signals normally arrive first; the result is the safety net if one was lost.
        result.replies.forEach(acceptReply);
        attempts.push({ attempt, outcome: 'completed', detail: result.endReason });
        return { ok: true };
      } catch (error) {
        // Cancelled and reported so by the activity (it waits for that): its cleanup ran.
        if (error instanceof ActivityFailure && error.cause instanceof CancelledFailure) {
          typingMayBeOn = false;
        }
        // An attempt asked to post that was lost (not one that failed on its own, before any
        // post) may have posted: the workflow's post then waits out the create and looks first.
        const window = { sentAtMs: attemptStartedAt, untilMs: Date.now() };
        if (asksToPost && version.repliesInExchange === 'sole' && !ranItsCleanup(error)) {
          postedByExchange.set(0, { uncertainCreate: window });
        }
        // V4: unless it failed on its own having handed over every create's outcome.
        if (asksToPost && version.repliesInExchange === 'every' && !reportedEveryPost(error)) {
          unreportedPosts = window;
        }
        if (isCancellation(error)) throw error;
        // The activity failed on its own: its cleanup (typing off) ran.
        if (ranItsCleanup(error)) typingMayBeOn = false;
        const failure = describeFailure(error);
        attempts.push({ attempt, outcome: 'failed', detail: failure.detail });
        log.warn('agent exchange failed', {
          attempt,
          detail: failure.detail,
          retryable: failure.retryable,
        });
        if (!failure.retryable) return { ok: false, reason: failure.detail };
        if (isWorkerLoss(error, has)) {
          workerLosses += 1;
          // A message that kills every worker that touches it must still end somewhere.
          if (workerLosses > MAX_WORKER_LOSSES) {
            return { ok: false, reason: `worker lost ${workerLosses} times during the exchange` };
          }
          continue;
        }
        const windowEnd = (deadline ??= Date.now() + policy.agentRetryWindowMs);
        if (Date.now() + backoff > windowEnd) {
          return {
            ok: false,
            reason: `agent unavailable for ${Math.round(policy.agentRetryWindowMs / 1000)} s (${attempt} attempts); last error: ${failure.detail}`,
          };
        }
        await sleep(backoff);
        backoff = Math.min(backoff * 2, policy.agentRetryMaxIntervalMs);
      }
    }
  };

  const postReply = async (reply: AgentReply) => {
    try {
      const files = replyFiles(reply, input.agentId, has);
      let filesReport: ReplyReport['attachments'];
      const post = async (part: PlannedPost, withFiles: boolean) => {
        // Posted by the exchange already; or it may have been: then the post looks first.
        const byExchange =
          part.part === reply.index
            ? (postedByExchange.get(reply.index) ??
              (unreportedPosts ? { uncertainCreate: unreportedPosts } : undefined))
            : undefined;
        if (byExchange?.chatwootMessageId !== undefined) {
          return { chatwootMessageId: byExchange.chatwootMessageId, alreadyPosted: false };
        }
        if (byExchange?.failedForGood) {
          throw ApplicationFailure.nonRetryable(byExchange.error ?? 'Chatwoot refused the reply');
        }
        const uncertain = byExchange?.uncertainCreate;
        const notBeforeMs = byExchange?.notBeforeMs;
        const result = await chatwoot.createMessage.executeWithOptions(
          postingOptions(`post reply ${reply.index + 1}${part.label} from ${input.agentId}`),
          [
            {
              ...message({
                content: part.content,
                private: false,
                sourceId: bridgeSourceId(workflowId, part.part),
              }),
              ...part.rich,
              ...(withFiles ? files : {}),
              ...(uncertain ? { uncertainCreate: uncertain } : {}),
              ...(notBeforeMs !== undefined ? { notBeforeMs } : {}),
            },
          ],
        );
        if (withFiles && result.attachments) filesReport = result.attachments;
        return result;
      };
      // Interactive content and long replies in parts (workflows/replyPosts.ts); files go with
      // the first part, a reply of files alone is one post without text.
      let posted;
      if (has(RICH_REPLIES_PATCH)) {
        const plan = planReplyPosts(reply, policy.splitRepliesAtChars);
        if (plan.posts.length === 0 && files.attachments) {
          plan.posts.push({ part: reply.index, content: '', label: '' });
        }
        posted = await postPlannedReply(plan, (part) => post(part, part === plan.posts[0]));
      } else {
        posted = await post({ part: reply.index, content: reply.content, label: '' }, true);
      }
      if ('error' in posted) return void replyReports.push({ index: reply.index, ...posted });
      if (firstReplyPostedAt === undefined) notifyActor(reply);
      firstReplyPostedAt ??= Date.now();
      const extras = replyExtras(reply);
      const report: ReplyReport = {
        index: reply.index,
        status: 'posted',
        ...posted,
        ...(filesReport ? { attachments: filesReport } : {}),
        ...extras.report,
      };
      replyReports.push(report);
      const note = noteWithFiles(extras.privateNote, report, input.agentId);
      if (note) report.note = await postNote(reply.index, note);
      // The reply's `metadata.actions`, each its own activity ('agent-actions' patch).
      await agentActions.afterPost(reply);
    } catch (error) {
      if (isCancellation(error)) throw error;
      const { detail } = describeFailure(error);
      log.error('reply could not be posted', { index: reply.index, detail });
      replyReports.push({ index: reply.index, status: 'failed', error: detail });
    }
  };

  /** The agent's reasoning and tool use for one reply, for the team only; never fails the delivery. */
  const postNote = async (index: number, content: string): Promise<'posted' | 'failed'> => {
    try {
      await chatwoot.createMessage.executeWithOptions(
        postingOptions(`private note for reply ${index + 1}`),
        [
          message({
            content,
            private: true,
            sourceId: bridgeSourceId(workflowId, `${index}-note`),
          }),
        ],
      );
      return 'posted';
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.warn('private note could not be posted', {
        index,
        detail: describeFailure(error).detail,
      });
      return 'failed';
    }
  };

  let outcome: DeliveryReport['outcome'] = 'delivered';
  let reason: string | undefined;
  if (!typingInExchange) await setTypingBestEffort({ ...conversation, typingStatus: 'on' });
  let exchange: Promise<ExchangeOutcome> = Promise.resolve({ ok: true });
  try {
    exchange = exchangeWithRetries().finally(() => {
      exchangeDone = true;
      pull?.close();
    });
    // Awaited below; this only keeps a cancellation from surfacing as an unhandled rejection.
    exchange.catch(ignore);
    // Post replies in order as they arrive, while the exchange is still running.
    let next = 0;
    for (; ; next += 1) {
      await condition(() => received.has(next) || exchangeDone);
      const reply = received.get(next);
      if (!reply) break;
      await postReply(reply);
    }
    const result = await exchange;
    // A reply index that never came must not hold back the ones after it: post them in order
    // once the exchange is over, and report each missing index.
    const missing: number[] = [];
    if (robustPosting) {
      const later = [...received.keys()].filter((index) => index > next).sort((a, b) => a - b);
      for (const index of later) {
        for (; next < index; next += 1) {
          if (!received.has(next)) missing.push(next);
        }
        await postReply(received.get(index)!);
        next = index + 1;
      }
      for (const index of missing) {
        log.error('agent reply never arrived; the replies after it were posted', { index });
        replyReports.push({ index, status: 'missing', error: 'the agent never sent this reply' });
      }
      replyReports.sort((a, b) => a.index - b.index);
    }
    // Assignment, snooze, resolve, open: after every reply (their webhooks end the turn).
    await agentActions.afterReplies(result.ok);
    const askedForHuman = [...received.values()].some((reply) => reply.metadata.handoff === true);
    if (!result.ok) {
      reason = result.reason;
      outcome = 'handed_off';
      await handOff(result.reason, replyReports.length === 0);
    } else if (askedForHuman) {
      reason = 'the agent asked for a human';
      outcome = 'handed_off';
      await handOff(reason, false);
    } else if (replyReports.some((report) => report.status === 'failed')) {
      outcome = 'failed';
      reason = 'some replies could not be posted to Chatwoot';
    } else if (missing.length > 0) {
      outcome = 'failed';
      reason = `agent ${missing.length === 1 ? 'reply' : 'replies'} ${missing.map((i) => i + 1).join(', ')} never arrived; the replies after ${missing.length === 1 ? 'it' : 'them'} were posted`;
    }
  } catch (error) {
    outcome = 'failed';
    // Let a cancelled exchange close its socket before the workflow ends.
    await CancellationScope.nonCancellable(() => exchange.then(ignore, ignore));
    throw error;
  } finally {
    // Typing must never stay on, also after a failure or a cancellation.
    await CancellationScope.nonCancellable(async () => {
      await pull?.withdraw();
      if (!typingInExchange || typingMayBeOn) {
        await setTypingBestEffort({ ...conversation, typingStatus: 'off' });
      }
      await actorNotified;
      setStatus(outcome);
      bridgeMetrics.deliveryFinished(input.agentId, outcome);
    });
  }

  const completedAt = Date.now();
  return {
    workflowId,
    agentId: input.agentId,
    outcome,
    ...(reason ? { reason } : {}),
    replies: replyReports,
    ...agentActions.report(),
    attempts,
    timings: {
      startedAt: new Date(startedAt).toISOString(),
      ...(firstReplyPostedAt
        ? { firstReplyPostedAt: new Date(firstReplyPostedAt).toISOString() }
        : {}),
      completedAt: new Date(completedAt).toISOString(),
      durationMs: completedAt - startedAt,
    },
  };

  /** Tells the conversation actor (if any) the first reply is out, for `?wait=` callers. */
  function notifyActor(reply: AgentReply): void {
    const parent = workflowInfo().parent;
    if (!parent || !input.notifyFirstReply) return;
    // Not awaited here (the next reply need not wait), but before the workflow ends: a signal
    // still in flight when its sender closes is dropped by Temporal.
    actorNotified = getExternalWorkflowHandle(parent.workflowId)
      .signal(replyPostedSignal, {
        workflowId,
        messageIds: input.mergedMessageIds ?? [input.messageId],
        index: reply.index,
        content: reply.content,
      })
      .catch((error: unknown) =>
        log.warn('actor not told of the first reply', { error: String(error) }),
      );
  }

  /** Humans take over: say sorry (unless the agent already answered), open, leave a note. */
  async function handOff(why: string, postFallback: boolean): Promise<void> {
    if (postFallback) {
      await chatwoot.createMessage.executeWithOptions(postingOptions('post fallback message'), [
        message({
          content: policy.fallbackMessage,
          private: false,
          sourceId: bridgeSourceId(workflowId, 'fallback'),
        }),
      ]);
    }
    await chatwoot.setConversationStatus.executeWithOptions(
      { ...chatwootOptions(policy), summary: 'open conversation for a human' },
      [{ ...conversation, status: 'open' }],
    );
    await chatwoot.createMessage.executeWithOptions(
      postingOptions('private note: why the bot handed off'),
      [
        message({
          content: `The AI agent "${input.agentId}" handed message ${input.messageId} to the team: ${why}.`,
          private: true,
          sourceId: bridgeSourceId(workflowId, 'handoff-note'),
        }),
      ],
    );
  }
}

type Has = DeliveryVersion['has'];

/** What the exchange is asked to post itself: its sole reply (V3) or every one it can (V4). */
function postingRequest(
  version: DeliveryVersion,
  workflowId: string,
  policy: MessageDeliveryInput['policy'],
): Pick<AgentExchangeInput, 'postSoleReply' | 'postReplies'> {
  const split =
    policy.splitRepliesAtChars !== undefined
      ? { splitRepliesAtChars: policy.splitRepliesAtChars }
      : {};
  return version.repliesInExchange === 'every'
    ? { postReplies: split }
    : { postSoleReply: { sourceId: bridgeSourceId(workflowId, 0), ...split } };
}

function exchangeOptions(policy: MessageDeliveryInput['policy'], has: Has) {
  const scheduleToStart = agentQueueScheduleToStart(policy, has);
  return {
    taskQueue: agentTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: policy.exchangeAttemptTimeoutMs,
    ...(scheduleToStart === undefined
      ? {}
      : {
          scheduleToStartTimeout: scheduleToStart,
          scheduleToCloseTimeout: scheduleToStart + policy.exchangeAttemptTimeoutMs,
        }),
    heartbeatTimeout: policy.exchangeHeartbeatTimeoutMs,
    // The workflow retries itself, with durable timers and a fresh `skipReplies` each time.
    retry: { maximumAttempts: 1 },
    // Wait for the activity to close its socket when the workflow is cancelled.
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  } as const;
}

/** Putting a turn in a pull agent's inbox is one quick signal; retried briefly, then the attempt fails. */
function offerOptions(policy: MessageDeliveryInput['policy'], has: Has) {
  const scheduleToStart = agentQueueScheduleToStart(policy, has);
  return {
    taskQueue: agentTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '10 seconds',
    ...(scheduleToStart === undefined
      ? {}
      : {
          scheduleToStartTimeout: scheduleToStart,
          scheduleToCloseTimeout: Math.max(
            policy.offerScheduleToCloseMs ?? DEFAULT_OFFER_SCHEDULE_TO_CLOSE_MS,
            scheduleToStart,
          ),
        }),
    retry: {
      initialInterval: policy.agentRetryInitialIntervalMs,
      maximumInterval: policy.agentRetryMaxIntervalMs,
      maximumAttempts: 5,
    },
  } as const;
}

/**
 * How long an agent-queue activity may wait for a worker polling `{taskQueue}-agents`; without
 * a bound a delivery with no agent worker waited forever, typing on. Histories recorded before
 * the bound replay without it; a start by an older API (no value in its policy) gets the default.
 */
function agentQueueScheduleToStart(
  policy: MessageDeliveryInput['policy'],
  has: Has,
): number | undefined {
  if (!has('agent-queue-bounds')) return undefined;
  return policy.agentQueueScheduleToStartMs ?? DEFAULT_AGENT_QUEUE_SCHEDULE_TO_START_MS;
}

// Same as config/schema.ts's defaults (workflow code cannot import the schema).
const DEFAULT_AGENT_QUEUE_SCHEDULE_TO_START_MS = 60_000;
const DEFAULT_OFFER_SCHEDULE_TO_CLOSE_MS = 120_000;

function offerTurn(policy: MessageDeliveryInput['policy'], has: Has) {
  return proxyActivities<BridgeActivities>(offerOptions(policy, has)).offerTurn;
}

function chatwootActivities(policy: MessageDeliveryInput['policy']) {
  return proxyActivities<BridgeActivities>(chatwootOptions(policy));
}

function agentExchange(policy: MessageDeliveryInput['policy'], has: Has) {
  return proxyActivities<BridgeActivities>(exchangeOptions(policy, has)).agentExchange;
}

/**
 * Typing indicators are cosmetic: a local activity (no task-queue round trip before the agent
 * is reached), a few quick tries, and a failure never fails the delivery.
 */
const typingOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3, initialInterval: '200 ms' },
} as const;
const typingIndicator = proxyLocalActivities<BridgeActivities>(typingOptions).setTyping;

async function setTypingBestEffort(
  args: Parameters<BridgeActivities['setTyping']>[0],
): Promise<void> {
  const summary = `typing ${args.typingStatus}`;
  try {
    await typingIndicator.executeWithOptions({ ...typingOptions, summary }, [args]);
  } catch (error) {
    if (isCancellation(error)) throw error;
    log.warn(`${summary} failed`, { detail: describeFailure(error).detail });
  }
}

/** "agent echo, attempt 1"; a retry that already has replies says where it picks up. */
function exchangeSummary(agentId: string, attempt: number, repliesKept: number): string {
  const resume = repliesKept > 0 ? `, resuming after reply ${repliesKept}` : '';
  return `agent ${agentId}, attempt ${attempt}${resume}`;
}

/** Replies 0..n-1 all received: the next attempt may skip that many. */
function contiguousCount(received: Map<number, AgentReply>): number {
  let count = 0;
  while (received.has(count)) count += 1;
  return count;
}

type ExchangeOutcome = { ok: true } | { ok: false; reason: string };

const MAX_WORKER_LOSSES = 5;

const ignore = () => undefined;

/**
 * The worker stopped heartbeating (it died or lost its connection), or it shut down (a deploy)
 * before the exchange finished: the agent may be fine.
 */
function isWorkerLoss(error: unknown, has: Has): boolean {
  if (!(error instanceof ActivityFailure)) return false;
  const { cause } = error;
  if (cause instanceof TimeoutFailure) return cause.timeoutType === TimeoutType.HEARTBEAT;
  // Older histories counted a shutdown as the agent's failure; they replay as they ran.
  return isWorkerShutdown(cause) && has('worker-shutdown-is-worker-loss');
}

/**
 * The exchange threw on its own and says every create it sent was handed over (by signal) first:
 * nothing it posted is unknown to the workflow.
 */
function reportedEveryPost(error: unknown): boolean {
  if (!ranItsCleanup(error)) return false;
  const [details] = ((error as ActivityFailure).cause as ApplicationFailure).details ?? [];
  return (details as { unreportedPosts?: unknown } | undefined)?.unreportedPosts === 0;
}

/** The activity itself threw (not a timeout, a cancel or a shutdown): its `finally` ran. */
function ranItsCleanup(error: unknown): boolean {
  if (!(error instanceof ActivityFailure)) return false;
  return error.cause instanceof ApplicationFailure && !isWorkerShutdown(error.cause);
}

/** Core's failure for an activity still running when its worker's shutdown grace time ended. */
function isWorkerShutdown(cause: unknown): boolean {
  return cause instanceof ApplicationFailure && cause.type === 'WorkerShutdown';
}

function describeFailure(error: unknown): { detail: string; retryable: boolean } {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof TimeoutFailure && cause.timeoutType === TimeoutType.SCHEDULE_TO_START) {
    const queue = agentTaskQueue(workflowInfo().taskQueue);
    return {
      detail: `no agent worker took the task (is a worker polling "${queue}"?)`,
      retryable: true,
    };
  }
  if (cause instanceof ApplicationFailure) {
    return { detail: cause.message, retryable: !cause.nonRetryable };
  }
  if (cause instanceof Error) return { detail: cause.message, retryable: true };
  return { detail: String(cause), retryable: true };
}
