import { z } from 'zod';
import type { AgentTurn } from '../types.js';
import { answerMetadata } from '../answerMetadata.js';

/**
 * The `unified` WebSocket protocol (seed 001): typed `WebSocketMessage` frames. The bridge sends
 * one `user_message` per connection; the agent answers with `agent_message` frames, streams
 * (`agent_streaming` chunks numbered by `stream_index`), `status_update` / `progress_update`
 * while it works, and ends with `agent_complete` or `error_message`.
 *
 * Agents written against the seed's Pydantic model send `null` for unset fields, so every
 * optional field here also accepts `null`.
 */

const metadataSchema = z.record(z.string(), z.unknown());

/** What the bridge sends: one customer turn. */
export const userMessageSchema = z.object({
  type: z.literal('user_message'),
  message_id: z.string(),
  timestamp: z.string(),
  session_id: z.string(),
  /** The agent's id in the bridge configuration. */
  agent: z.string(),
  message: z.string(),
  metadata: metadataSchema,
});

const frameBase = z
  .object({
    message_id: z.string().nullish(),
    timestamp: z.string().nullish(),
    session_id: z.string().nullish(),
    metadata: metadataSchema.nullish(),
  })
  .loose();

export const agentMessageFrameSchema = frameBase.extend({
  type: z.literal('agent_message'),
  message: z.string(),
});

/**
 * One chunk of a streamed reply. Chunks of one stream share a `message_id` and are numbered from
 * 0 by `stream_index`; they may arrive in any order. The last chunk carries
 * `is_streaming: false` (every other chunk `true`), or the stream ends with `agent_complete`.
 */
export const agentStreamingFrameSchema = frameBase.extend({
  type: z.literal('agent_streaming'),
  message: z.string(),
  stream_index: z.number().int().min(0),
  is_streaming: z.boolean().nullish(),
});

/** The answer is over; a non-empty `message` is posted as its last reply. */
export const agentCompleteFrameSchema = frameBase.extend({
  type: z.literal('agent_complete'),
  message: z.string().nullish(),
});

export const errorMessageFrameSchema = frameBase.extend({
  type: z.literal('error_message'),
  error_code: z.string().nullish(),
  message: z.string().nullish(),
  error_details: metadataSchema.nullish(),
});

/** Status and progress keep a slow agent's exchange alive (they restart the reply/idle timers). */
export const statusUpdateFrameSchema = frameBase.extend({
  type: z.literal('status_update'),
  status: z.string().nullish(),
  message: z.string().nullish(),
});

export const progressUpdateFrameSchema = frameBase.extend({
  type: z.literal('progress_update'),
  progress: z.number().min(0).max(1).nullish(),
  status: z.string().nullish(),
  message: z.string().nullish(),
});

/** The seed's other frame types mean nothing for a Chatwoot conversation: read and ignored. */
export const IGNORED_TYPES = [
  'system_message',
  'warning_message',
  'session_created',
  'session_updated',
  'session_expired',
  'file_selected',
  'file_processing',
  'file_complete',
  'file_error',
  'question_answer',
  'visualization_data',
  'analysis_result',
  'workflow_generated',
  'sop_generated',
] as const;

export const ignoredFrameSchema = frameBase.extend({ type: z.enum(IGNORED_TYPES) });

export const agentFrameSchema = z.discriminatedUnion('type', [
  agentMessageFrameSchema,
  agentStreamingFrameSchema,
  agentCompleteFrameSchema,
  errorMessageFrameSchema,
  statusUpdateFrameSchema,
  progressUpdateFrameSchema,
  ignoredFrameSchema,
]);

export type UserMessage = z.infer<typeof userMessageSchema>;
export type UnifiedAgentFrame = z.infer<typeof agentFrameSchema>;
export type ErrorMessageFrame = z.infer<typeof errorMessageFrameSchema>;

/**
 * `error_code`s that a retry of the same message cannot fix: the bridge hands off at once.
 * Compared case-insensitively, `-` and spaces read as `_`. Every other code (timeouts, rate
 * limits, overload, internal errors, unknown codes) is retried inside the agent retry window.
 * `error_details.retryable` (a boolean), when present, overrides this table.
 */
export const NON_RETRYABLE_ERROR_CODES: ReadonlySet<string> = new Set([
  'bad_request',
  'invalid_message',
  'validation_error',
  'unauthorized',
  'forbidden',
  'not_found',
  'agent_not_found',
  'unsupported',
  'unsupported_message',
  'message_too_large',
  'content_rejected',
  'content_filtered',
]);

export function normalizeErrorCode(code: string | null | undefined): string {
  return (code ?? 'unspecified')
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

export function isRetryableError(frame: ErrorMessageFrame): boolean {
  const flag = frame.error_details?.retryable;
  if (typeof flag === 'boolean') return flag;
  return !NON_RETRYABLE_ERROR_CODES.has(normalizeErrorCode(frame.error_code));
}

/** The `user_message` for one turn (the same on every attempt but for `metadata.attempt`). */
export function unifiedUserMessage(turn: AgentTurn, now: Date = new Date()): UserMessage {
  return {
    type: 'user_message',
    message_id: String(turn.messageId),
    timestamp: now.toISOString(),
    session_id: turn.sessionId,
    agent: turn.agentId,
    message: turn.content,
    metadata: {
      attempt: turn.attempt,
      chatwoot_message_id: turn.messageId,
      account_id: turn.accountId,
      conversation_id: turn.conversationId,
      inbox_id: turn.inboxId,
      sender: turn.sender,
      attachments: turn.attachments,
      ...(turn.messageIds.length > 1 ? { merged_message_ids: turn.messageIds } : {}),
      ...answerMetadata(turn),
    },
  };
}
