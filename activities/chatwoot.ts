import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import {
  ChatwootRequestError,
  type ChatwootClient,
  type ChatwootMessage,
  type ConversationStatus,
} from '../chatwoot/client.js';
import { carriesMarker, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { agentAttachmentsSchema, type AgentAttachmentsConfig } from '../config/schema.js';
import type { AttachmentReport } from '../workflows/shared.js';
import { prepareAttachments, reportForEarlierCopy, type PreparedFiles } from './attachments.js';

export interface ConversationRef {
  accountId: number;
  conversationId: number;
}

export interface CreateMessageInput extends ConversationRef {
  content: string;
  private: boolean;
  /** The bridge's marker (`chatwoot-bridge:{workflowId}#{part}`); makes the post idempotent. */
  sourceId: string;
  /**
   * How long a create the bridge gave up on (no answer) may still commit in Chatwoot. A post that
   * may follow such a create waits until this has passed before it looks for the earlier copy.
   * Unset (older workflows, proactive messages): look at once.
   */
  lateCommitGraceMs?: number;
  /**
   * Set when the workflow was reset: an earlier run may have posted this part between `sinceMs`
   * and `untilMs` (the reset), so even a first attempt looks before it posts.
   */
  earlierRun?: { sinceMs: number; untilMs: number };
  /**
   * Set when the agent exchange tried to post this part itself and got no answer (or its attempt
   * was lost): a create sent between `sentAtMs` and `untilMs` may still commit, so even a first
   * attempt waits out the grace after `untilMs` and looks before it posts.
   */
  uncertainCreate?: { sentAtMs: number; untilMs: number };
  /** Chatwoot asked (`Retry-After`) not to be sent this create before then (epoch ms). */
  notBeforeMs?: number;
  /** The reply's metadata `attachments`, as the agent wrote them; fetched when posting. */
  attachments?: unknown[];
  /** Whose `attachments` policy applies. */
  agentId?: string;
  /** Interactive content (workflows/richContent.ts checked it); unset: plain text. */
  contentType?: 'input_select' | 'cards' | 'form' | 'article';
  /** Its `content_attributes`; the bridge's marker is added beside them. */
  contentAttributes?: Record<string, unknown>;
}

export interface CreateMessageResult {
  chatwootMessageId: number;
  /** An earlier attempt (or run) had posted it already; nothing was posted now. */
  alreadyPosted: boolean;
  /** Set when the input had attachments: each file, posted or why not. */
  attachments?: AttachmentReport[];
}

export interface ChatwootActivityOptions {
  /**
   * Also put the marker in `source_id` (what older bridges did; default false). Chatwoot's
   * channel services (Twilio, WhatsApp, Facebook, Instagram, TikTok, Telegram, Line, SMS, email)
   * do not send a message that has a `source_id` to the customer: only for API/website inboxes.
   */
  markerInSourceId?: boolean;
  /** The client's timeout per request: a post is not started when the attempt cannot wait for it. */
  requestTimeoutMs?: number;
  /** An agent's `attachments` settings (reloads apply); unknown agents get the defaults. */
  attachmentPolicy?: (agentId: string) => AgentAttachmentsConfig | undefined;
}

/** What one `createMessage` attempt leaves for the next one (heartbeat details). */
interface PostProgress {
  attempt: number;
  /** Chatwoot answered the create (any status): nothing of this attempt can commit later. */
  answered?: boolean;
  chatwootMessageId?: number;
  /** The attempt ended without sending a create, after waiting out the attempts before it. */
  notPosted?: boolean;
}

export function createChatwootActivities(
  chatwoot: ChatwootClient,
  options: ChatwootActivityOptions = {},
) {
  const markerInSourceId = options.markerInSourceId ?? false;
  const policyOf = (input: CreateMessageInput): AgentAttachmentsConfig =>
    (input.agentId === undefined ? undefined : options.attachmentPolicy?.(input.agentId)) ??
    DEFAULT_ATTACHMENTS;
  /**
   * The reply's files as bytes, fetched now (never in history), each download bounded by what
   * the attempt has left once the post's own request is set aside. A reply with no text and no
   * file left to post fails for good, saying why.
   */
  const filesFor = async (
    input: CreateMessageInput,
    deadline: number,
    signal: AbortSignal,
  ): Promise<PreparedFiles | undefined> => {
    if (!input.attachments?.length) return undefined;
    const policy = policyOf(input);
    const left = deadline - Date.now() - (options.requestTimeoutMs ?? 0) - DOWNLOAD_MARGIN_MS;
    const prepared = await prepareAttachments(input.attachments, policy, {
      timeoutMs: Math.max(1, Math.min(policy.timeoutMs, left)),
      signal,
    });
    if (prepared.files.length === 0 && input.content.trim() === '') {
      throw ApplicationFailure.create({
        type: 'AttachmentsNotSent',
        nonRetryable: true,
        message: `the reply has no text and none of its files could be sent: ${prepared.report
          .map((file) => `${file.fileName} (${file.reason ?? file.status})`)
          .join(', ')}`,
      });
    }
    return prepared;
  };
  return {
    /**
     * Posts one message, at most once per marker. When an earlier attempt or an earlier run may
     * have posted it (its answer lost, or a create still being processed after the bridge gave up
     * on it), it first waits out the late-commit grace, then looks for its marker.
     */
    async createMessage(input: CreateMessageInput): Promise<CreateMessageResult> {
      const context = Context.current();
      const { info } = context;
      const requestTimeoutMs = options.requestTimeoutMs ?? 0;
      const deadline = Date.now() + info.startToCloseTimeoutMs;
      const previous = previousProgress(info.attempt, info.heartbeatDetails);
      if (previous?.chatwootMessageId !== undefined) {
        return { chatwootMessageId: previous.chatwootMessageId, alreadyPosted: true };
      }
      /** Ends this attempt without posting; the next one knows it need not wait for this one. */
      const giveUp = (message: string, nextRetryDelayMs?: number): never => {
        context.heartbeat({ attempt: info.attempt, notPosted: true } satisfies PostProgress);
        throw ApplicationFailure.create({
          type: 'ChatwootPostDeferred',
          message,
          ...(nextRetryDelayMs !== undefined ? { nextRetryDelay: nextRetryDelayMs } : {}),
        });
      };
      if (info.attempt > 1 || input.earlierRun || input.uncertainCreate) {
        const waitMs = lateCommitsSettledAt(input, info, previous) - Date.now();
        // Room for a look-up and the post after the wait, within this attempt's timeout.
        if (waitMs > deadline - Date.now() - 2 * requestTimeoutMs) {
          giveUp(
            `waiting ${Math.ceil(waitMs / 1000)} s for creates Chatwoot may still commit before looking for this message`,
            waitMs,
          );
        }
        if (waitMs > 0) {
          log.info('waiting for creates Chatwoot may still commit before looking for them', {
            marker: input.sourceId,
            waitMs,
          });
          await sleep(waitMs, undefined, { signal: context.cancellationSignal });
        }
        const since = Math.min(
          info.scheduledTimestampMs,
          input.earlierRun?.sinceMs ?? Infinity,
          input.uncertainCreate?.sentAtMs ?? Infinity,
        );
        const existing = await findByMarker(chatwoot, input, since);
        if (existing !== undefined) {
          return {
            chatwootMessageId: existing.id,
            alreadyPosted: true,
            ...(input.attachments?.length
              ? { attachments: reportForEarlierCopy(input.attachments, policyOf(input), existing) }
              : {}),
          };
        }
      }
      const holdMs = (input.notBeforeMs ?? 0) - Date.now();
      if (holdMs > 0) {
        if (holdMs > deadline - Date.now() - requestTimeoutMs) {
          giveUp(`Chatwoot asked to wait ${Math.ceil(holdMs / 1000)} s (Retry-After)`, holdMs);
        }
        await sleep(holdMs, undefined, { signal: context.cancellationSignal });
      }
      const files = await filesFor(input, deadline, context.cancellationSignal);
      // A post sent after this attempt's deadline could commit after the next attempt looked.
      if (Date.now() + requestTimeoutMs > deadline) {
        giveUp('no time left in this attempt to wait for a create; the next attempt posts');
      }
      // No heartbeat before or after a create that succeeds: each one is a billed action, and a
      // next attempt without one waits out late commits and looks, as after `{ attempt }` alone.
      const progress: PostProgress = { attempt: info.attempt };
      try {
        const body = markedMessageBody(input, markerInSourceId);
        const message = files?.files.length
          ? await chatwoot.createMessageWithFiles(
              input.accountId,
              input.conversationId,
              body,
              files.files,
            )
          : await chatwoot.createMessage(input.accountId, input.conversationId, body);
        return {
          chatwootMessageId: message.id,
          alreadyPosted: false,
          ...(files ? { attachments: files.report } : {}),
        };
      } catch (error) {
        // Chatwoot's own answer (even a 500) means this create will not commit later. No answer,
        // or a proxy's (502/503/504: it gave up while Chatwoot may still be working), means it may.
        if (error instanceof ChatwootRequestError && answeredByChatwoot(error.status)) {
          context.heartbeat({ ...progress, answered: true } satisfies PostProgress);
        }
        throw toActivityFailure(error);
      }
    },

    async setTyping(input: ConversationRef & { typingStatus: 'on' | 'off' }): Promise<void> {
      await callChatwoot(() =>
        chatwoot.toggleTyping(input.accountId, input.conversationId, input.typingStatus),
      );
    },

    async setConversationStatus(
      input: ConversationRef & { status: ConversationStatus },
    ): Promise<void> {
      await callChatwoot(() =>
        chatwoot.toggleStatus(input.accountId, input.conversationId, input.status),
      );
    },
  };
}

/** The create request for a message: the bridge's marker beside the agent's attributes. */
function markedMessageBody(
  input: Pick<
    CreateMessageInput,
    'content' | 'private' | 'sourceId' | 'contentType' | 'contentAttributes'
  >,
  markerInSourceId: boolean,
) {
  return {
    content: input.content,
    message_type: 'outgoing',
    private: input.private,
    content_type: input.contentType ?? 'text',
    // The marker beside the agent's attributes, never instead of them (nor overwritten).
    content_attributes: { ...input.contentAttributes, [MARKER_ATTRIBUTE]: input.sourceId },
    ...(markerInSourceId ? { source_id: input.sourceId } : {}),
  } as const;
}

/** What posting a sole plain reply from inside the agent exchange came to. */
export type SolePostOutcome =
  | { posted: true; chatwootMessageId: number }
  /**
   * Chatwoot answered with an error: nothing was created. Retryable (5xx, 429): the workflow
   * posts it, not before `Retry-After`; otherwise the reply failed as a post would have.
   */
  | { posted: false; answered: true; error: string; retryable: boolean; retryAfterMs?: number }
  /** No answer: the create may still commit; the workflow's post looks before it posts. */
  | { posted: false; answered: false; error: string };

/**
 * One create of a plain public reply, as `createMessage`'s first attempt sends it, for the agent
 * exchange to post the reply it just received without another activity (and its billed action).
 */
export function createSoleReplyPoster(chatwoot: ChatwootClient, markerInSourceId = false) {
  return async (
    input: ConversationRef & { content: string; sourceId: string },
  ): Promise<SolePostOutcome> => {
    try {
      const message = await chatwoot.createMessage(
        input.accountId,
        input.conversationId,
        markedMessageBody({ ...input, private: false }, markerInSourceId),
      );
      return { posted: true, chatwootMessageId: message.id };
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      if (error instanceof ChatwootRequestError && answeredByChatwoot(error.status)) {
        return {
          posted: false,
          answered: true,
          error: detail,
          retryable: error.retryable,
          ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
        };
      }
      return { posted: false, answered: false, error: detail };
    }
  };
}

const DEFAULT_ATTACHMENTS = agentAttachmentsSchema.parse({});
/** Kept for the look-up's bookkeeping between the downloads and the post. */
const DOWNLOAD_MARGIN_MS = 250;

/** Statuses a proxy in front of Chatwoot answers while the request may still be processed. */
const MAYBE_STILL_PROCESSING = new Set([408, 502, 503, 504]);

function answeredByChatwoot(status: number | undefined): boolean {
  return status !== undefined && !MAYBE_STILL_PROCESSING.has(status);
}

/** The previous attempt's progress, if it was recorded (heartbeats are best effort). */
function previousProgress(attempt: number, details: unknown): PostProgress | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  const progress = details as Partial<PostProgress>;
  return progress.attempt === attempt - 1 ? (progress as PostProgress) : undefined;
}

/**
 * When every create that an earlier attempt or run may have sent has either committed or never
 * will. An earlier attempt never posts past its own deadline, so its create was sent before this
 * attempt was scheduled; an earlier run's before the reset plus one attempt's timeout. No wait
 * for the previous attempt when its heartbeat says it got an answer or posted nothing: it had
 * waited out its own predecessors first (heartbeats are best effort: without one, wait).
 */
function lateCommitsSettledAt(
  input: CreateMessageInput,
  info: {
    attempt: number;
    currentAttemptScheduledTimestampMs: number;
    startToCloseTimeoutMs: number;
  },
  previous: PostProgress | undefined,
): number {
  const grace = input.lateCommitGraceMs ?? 0;
  let settledAt = 0;
  if (info.attempt > 1 && !previous?.answered && !previous?.notPosted) {
    settledAt = info.currentAttemptScheduledTimestampMs + grace;
  }
  if (input.earlierRun) {
    settledAt = Math.max(settledAt, input.earlierRun.untilMs + info.startToCloseTimeoutMs + grace);
  }
  if (input.uncertainCreate) settledAt = Math.max(settledAt, input.uncertainCreate.untilMs + grace);
  return settledAt;
}

/** Enough for a busy conversation; the look-up stops earlier once it passes `sinceMs`. */
const MAX_PAGES_SEARCHED = 10;

/**
 * Looks for a message carrying the marker (in `content_attributes`, or in `source_id` where no
 * channel rewrote it), newest first, page by page, back to `sinceMs`: nothing older can be an
 * earlier copy.
 */
async function findByMarker(
  chatwoot: ChatwootClient,
  input: CreateMessageInput,
  sinceMs: number,
): Promise<ChatwootMessage | undefined> {
  const sinceSeconds = Math.floor(sinceMs / 1000) - 1;
  try {
    let beforeId: number | undefined;
    for (let page = 0; page < MAX_PAGES_SEARCHED; page += 1) {
      const messages = await chatwoot.listMessages(input.accountId, input.conversationId, beforeId);
      const found = messages.find((message) => carriesMarker(message, input.sourceId));
      if (found) return found;
      const oldest = messages[0];
      if (!oldest || (oldest.created_at ?? 0) < sinceSeconds) return undefined;
      beforeId = oldest.id;
    }
    return undefined;
  } catch (error) {
    // Agent-bot tokens may not list messages on older Chatwoot versions: post without the check.
    if (error instanceof ChatwootRequestError && !error.retryable) {
      log.warn('cannot list messages to check for an earlier copy; posting anyway', {
        error: error.message,
      });
      return undefined;
    }
    throw toActivityFailure(error);
  }
}

export async function callChatwoot<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toActivityFailure(error);
  }
}

/** 5xx, 408, 429 and network errors retry (429 after Retry-After when given); other 4xx fail fast. */
export function toActivityFailure(error: unknown): unknown {
  if (!(error instanceof ChatwootRequestError)) return error;
  return ApplicationFailure.create({
    type: error.status === undefined ? 'ChatwootUnreachable' : `ChatwootHttp${error.status}`,
    message: error.message,
    nonRetryable: !error.retryable,
    ...(error.retryAfterMs !== undefined ? { nextRetryDelay: error.retryAfterMs } : {}),
    details: [{ status: error.status ?? null }],
  });
}
