import { ApplicationFailure, Context, log } from '@temporalio/activity';
import {
  ChatwootRequestError,
  type ChatwootClient,
  type ConversationStatus,
} from '../chatwoot/client.js';

export interface ConversationRef {
  accountId: number;
  conversationId: number;
}

export interface CreateMessageInput extends ConversationRef {
  content: string;
  private: boolean;
  /** The bridge's marker; makes the post idempotent across retries. */
  sourceId: string;
}

export function createChatwootActivities(chatwoot: ChatwootClient) {
  return {
    /**
     * Posts one message. A retry first looks for its own earlier copy (same `source_id`):
     * the earlier attempt may have been applied even though its response was lost.
     */
    async createMessage(
      input: CreateMessageInput,
    ): Promise<{ chatwootMessageId: number; alreadyPosted: boolean }> {
      if (Context.current().info.attempt > 1) {
        const existing = await findBySourceId(chatwoot, input);
        if (existing !== undefined) return { chatwootMessageId: existing, alreadyPosted: true };
      }
      const message = await callChatwoot(() =>
        chatwoot.createMessage(input.accountId, input.conversationId, {
          content: input.content,
          message_type: 'outgoing',
          private: input.private,
          content_type: 'text',
          source_id: input.sourceId,
        }),
      );
      return { chatwootMessageId: message.id, alreadyPosted: false };
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

/** Enough for a busy conversation; the look-up stops earlier once it passes the first attempt. */
const MAX_PAGES_SEARCHED = 10;

/**
 * Looks for a message carrying `sourceId`, newest first, page by page, back to the time this
 * activity was first scheduled: nothing older can be an earlier attempt's post.
 */
async function findBySourceId(
  chatwoot: ChatwootClient,
  input: CreateMessageInput,
): Promise<number | undefined> {
  const firstScheduledSeconds = Math.floor(Context.current().info.scheduledTimestampMs / 1000) - 1;
  try {
    let beforeId: number | undefined;
    for (let page = 0; page < MAX_PAGES_SEARCHED; page += 1) {
      const messages = await chatwoot.listMessages(input.accountId, input.conversationId, beforeId);
      const found = messages.find((message) => message.source_id === input.sourceId);
      if (found) return found.id;
      const oldest = messages[0];
      if (!oldest || (oldest.created_at ?? 0) < firstScheduledSeconds) return undefined;
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
