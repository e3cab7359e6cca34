import { z } from 'zod';
import type { AgentTurn } from '../types.js';
import { answerMetadata } from '../answerMetadata.js';

/**
 * The `bridge-v1` protocol (seed 000): one WebSocket connection per customer message.
 * The bridge sends one `AgentRequest`; the agent answers with zero or more `AgentResponse`
 * frames and may send an `AgentError` frame instead. The exchange ends on a `final`
 * response, when the agent closes the socket, or on a timeout.
 */

/** A customer's file, with Chatwoot's own fields (workflows/shared.ts `Attachment`). */
export const attachmentSchema = z
  .object({
    id: z.number().optional(),
    /** `image`, `audio` (a voice note), `video`, `file`, `location`, … */
    file_type: z.string().optional(),
    /** Where to fetch the file. */
    data_url: z.string().optional(),
    thumb_url: z.string().optional(),
    extension: z.string().nullish(),
    file_size: z.number().optional(),
    transcribed_text: z.string().optional(),
  })
  .loose();

export const agentRequestSchema = z.object({
  message_id: z.string(),
  conversation_id: z.string(),
  inbox_id: z.string(),
  account_id: z.string(),
  session_id: z.string(),
  content: z.string(),
  attachments: z.array(attachmentSchema),
  sender: z
    .object({
      id: z.number().optional(),
      name: z.string().nullish(),
      email: z.string().nullish(),
      phone_number: z.string().nullish(),
    })
    .loose(),
  metadata: z.record(z.string(), z.unknown()),
});

export const agentResponseSchema = z.object({
  message_id: z.string().optional(),
  conversation_id: z.string().optional(),
  content: z.string(),
  response_type: z.enum(['partial', 'final']).default('partial'),
  metadata: z
    .object({
      agent_id: z.string().optional(),
      processing_time_ms: z.number().optional(),
      confidence: z.number().optional(),
      is_final: z.boolean().optional(),
      handoff: z.boolean().optional(),
    })
    .loose()
    .default({}),
});

export const agentErrorSchema = z.object({
  message_id: z.string().optional(),
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** false: retrying the same message will not help (the bridge hands off at once). */
    retryable: z.boolean().default(true),
  }),
});

export const agentFrameSchema = z.union([agentErrorSchema, agentResponseSchema]);

export type AgentRequest = z.infer<typeof agentRequestSchema>;
export type AgentResponse = z.infer<typeof agentResponseSchema>;
export type AgentErrorFrame = z.infer<typeof agentErrorSchema>;
export type AgentFrame = z.infer<typeof agentFrameSchema>;

export function isAgentError(frame: AgentFrame): frame is AgentErrorFrame {
  return 'error' in frame;
}

export function isFinalResponse(response: AgentResponse): boolean {
  return response.response_type === 'final' || response.metadata.is_final === true;
}

/** The request frame for one turn (the same on every attempt but for `metadata.attempt`). */
export function bridgeV1Request(turn: AgentTurn): AgentRequest {
  return {
    message_id: String(turn.messageId),
    conversation_id: String(turn.conversationId),
    inbox_id: String(turn.inboxId),
    account_id: String(turn.accountId),
    session_id: turn.sessionId,
    content: turn.content,
    attachments: turn.attachments,
    sender: turn.sender,
    metadata: {
      attempt: turn.attempt,
      chatwoot_message_id: turn.messageId,
      ...(turn.messageIds.length > 1 ? { merged_message_ids: turn.messageIds } : {}),
      ...answerMetadata(turn),
    },
  };
}
