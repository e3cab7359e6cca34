import { z } from 'zod';
import type { SocketioAgentConfig } from '../../config/schema.js';

/**
 * The AIWM agent protocol over Socket.IO (seed 004), as the bridge and the mock server
 * (sandbox/mockAiwm.ts) both see it: the token endpoint and every event either side emits.
 * Server payloads are parsed leniently (`loose`): AIWM may add fields.
 */

/** `POST {apiBase}/agents/{agentId}/connect` body. */
export const tokenRequestSchema = z.object({ secret: z.string() });

/** Its answer; the seed also lists `instruction`, `settings` and `mcpServers`, unused here. */
export const tokenResponseSchema = z
  .object({
    accessToken: z.string().min(1),
    /** Seconds. */
    expiresIn: z.number().positive(),
    tokenType: z.string().optional(),
  })
  .loose();

export const roleSchema = z.enum(['user', 'assistant', 'system', 'tool']);

export const thinkingSchema = z
  .object({
    content: z.string(),
    visible: z.boolean().optional(),
    duration: z.number().optional(),
  })
  .loose();

export const toolCallSchema = z
  .object({
    id: z.string(),
    type: z.string().optional(),
    function: z.object({ name: z.string(), arguments: z.string().optional() }).loose(),
  })
  .loose();

export const toolResultSchema = z
  .object({
    toolCallId: z.string().optional(),
    toolName: z.string(),
    result: z.unknown().optional(),
    success: z.boolean().optional(),
    error: z.string().optional(),
    executionTime: z.number().optional(),
  })
  .loose();

export const usageSchema = z
  .object({
    promptTokens: z.number(),
    completionTokens: z.number(),
    totalTokens: z.number(),
  })
  .loose();

/** Client → server `message:send`. */
export const sendMessageSchema = z
  .object({
    conversationId: z.string().optional(),
    role: roleSchema,
    content: z.string().min(1, 'content is required'),
    attachments: z.array(z.string()).optional(),
    thinking: thinkingSchema.optional(),
    toolCalls: z.array(toolCallSchema).optional(),
    toolResults: z.array(toolResultSchema).optional(),
    usage: usageSchema.optional(),
    latency: z.number().optional(),
    /** Bridge extension, not in seed 004: this message ends the answer. */
    final: z.boolean().optional(),
    /**
     * Bridge extension, not in seed 004: `turnId` names this turn (see {@link turnIdOf});
     * `attachments` has the customer's files whole (Chatwoot's `file_type`, `data_url`…), where
     * the seed's `attachments` above has only their URLs.
     */
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

/** Server → client `message:new`: a message anybody posted into the conversation. */
export const newMessageSchema = z
  .object({
    _id: z.string(),
    conversationId: z.string(),
    role: roleSchema,
    content: z.string().default(''),
    participantId: z.string().optional(),
    type: z.enum(['text', 'thinking', 'tool_call', 'tool_result', 'error', 'system']).optional(),
    attachments: z.array(z.string()).optional(),
    thinking: thinkingSchema.optional(),
    toolCalls: z.array(toolCallSchema).optional(),
    toolResults: z.array(toolResultSchema).optional(),
    usage: usageSchema.optional(),
    /** Milliseconds. */
    latency: z.number().optional(),
    status: z.string().optional(),
    /** Sent with `type: 'error'` by the seed's example agent. */
    error: z.string().optional(),
    /** Bridge extension, not in seed 004: the agent's answer is complete. */
    final: z.boolean().optional(),
    /**
     * Bridge extension, not in seed 004: an agent that supports it echoes the asking message's
     * `metadata.turnId` here, so an answer is tied to its turn whenever it comes. The reply
     * fields (`content_type`, `content_attributes`, `attachments`, `actions`; see
     * agents/replyFields.ts) go here too, as in every other protocol.
     */
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

/** The turn id an agent echoed in a message's metadata, if any. */
export function turnIdOf(message: { metadata?: Record<string, unknown> | undefined }) {
  const turnId = message.metadata?.turnId;
  return typeof turnId === 'string' ? turnId : undefined;
}

export const messageSentSchema = z
  .object({
    success: z.boolean().optional(),
    messageId: z.string().optional(),
    timestamp: z.string().optional(),
  })
  .loose();

export const messageErrorSchema = z
  .object({
    success: z.literal(false).optional(),
    error: z.string(),
    timestamp: z.string().optional(),
    /** Bridge extension: the server may say a resend could succeed (default: it cannot). */
    retryable: z.boolean().optional(),
  })
  .loose();

export const typingSchema = z
  .object({
    type: z.string().optional(),
    userId: z.string().optional(),
    agentId: z.string().optional(),
    conversationId: z.string().optional(),
    isTyping: z.boolean(),
  })
  .loose();

export const presenceSchema = z
  .object({
    type: z.string().optional(),
    userId: z.string().optional(),
    agentId: z.string().optional(),
    conversationId: z.string().optional(),
    status: z.string().optional(),
  })
  .loose();

export const joinConversationSchema = z.object({ conversationId: z.string() });

export type TokenResponse = z.infer<typeof tokenResponseSchema>;
export type SendMessage = z.infer<typeof sendMessageSchema>;
export type NewMessage = z.infer<typeof newMessageSchema>;
export type MessageSent = z.infer<typeof messageSentSchema>;
export type MessageError = z.infer<typeof messageErrorSchema>;
export type TypingEvent = z.infer<typeof typingSchema>;
export type PresenceEvent = z.infer<typeof presenceSchema>;
export type Usage = z.infer<typeof usageSchema>;
export type ToolCall = z.infer<typeof toolCallSchema>;
export type ToolResult = z.infer<typeof toolResultSchema>;

/** Where one configured agent's token endpoint and Socket.IO server are, with defaults applied. */
export function aiwmEndpoints(agent: SocketioAgentConfig): {
  tokenUrl: string;
  socketUrl: string;
  agentId: string;
} {
  const agentId = agent.agentId ?? agent.id;
  const base = agent.apiBase.replace(/\/+$/, '');
  return {
    tokenUrl: `${base}/agents/${encodeURIComponent(agentId)}/connect`,
    socketUrl: agent.url ?? agent.apiBase,
    agentId,
  };
}

/** Reasoning and tool use gathered for one reply (from the reply itself and messages before it). */
export interface ReplyExtras {
  thinking: string[];
  toolCalls: ToolCall[];
  toolResults: ToolResult[];
}

export const emptyExtras = (): ReplyExtras => ({ thinking: [], toolCalls: [], toolResults: [] });

/** A private note is for people: keep each part readable and the whole well inside Chatwoot's limits. */
const PART_LIMIT = 2_000;
const NOTE_LIMIT = 8_000;

function clip(text: string, limit: number): string {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The private note for one reply's reasoning and tool use, or undefined when there is none. */
export function privateNoteText(agentId: string, extras: ReplyExtras): string | undefined {
  const parts: string[] = [];
  if (extras.thinking.length > 0) {
    parts.push(`Reasoning:\n${extras.thinking.map((t) => clip(t, PART_LIMIT)).join('\n\n')}`);
  }
  if (extras.toolCalls.length > 0) {
    const calls = extras.toolCalls.map(
      (call) => `- ${call.function.name}(${clip(call.function.arguments ?? '', PART_LIMIT)})`,
    );
    parts.push(`Tool calls:\n${calls.join('\n')}`);
  }
  if (extras.toolResults.length > 0) {
    const results = extras.toolResults.map((result) => {
      const status = result.success === false ? `failed: ${result.error ?? 'no reason'}` : 'ok';
      const time = result.executionTime === undefined ? '' : ` in ${result.executionTime} ms`;
      const body =
        result.result === undefined ? '' : ` → ${clip(asText(result.result), PART_LIMIT)}`;
      return `- ${result.toolName}: ${status}${time}${body}`;
    });
    parts.push(`Tool results:\n${results.join('\n')}`);
  }
  if (parts.length === 0) return undefined;
  return clip(`AI agent "${agentId}":\n\n${parts.join('\n\n')}`, NOTE_LIMIT);
}

/** Adds a message's own reasoning and tool use to what was gathered so far. */
export function gatherExtras(extras: ReplyExtras, message: NewMessage): void {
  if (message.thinking?.content) extras.thinking.push(message.thinking.content);
  if (message.type === 'thinking' && message.content) extras.thinking.push(message.content);
  extras.toolCalls.push(...(message.toolCalls ?? []));
  extras.toolResults.push(...(message.toolResults ?? []));
}
