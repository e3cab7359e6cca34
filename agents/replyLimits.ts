import type { ConnectionEvent, ReplyPayload } from '../machines/connection.js';

/**
 * Bounds on what one agent reply may carry on into Temporal and Chatwoot. A reply travels as a
 * signal (Temporal refuses payloads over 2 MB) and becomes a Chatwoot message (at most 150,000
 * characters): a reply over either would fail on every retry until hand-off. Over the bounds,
 * the text is cut with a visible "…" and the team gets a private note saying so; agent
 * metadata too large to carry is left out but for the keys the bridge reads.
 */

/** Agent metadata larger than this (as JSON) is not carried whole. */
export const MAX_METADATA_BYTES = 64 * 1_024;
/** The metadata keys the bridge itself reads (workflows/replyExtras.ts, handoff, AIWM ids). */
const KEPT_KEYS = ['handoff', 'usage', 'latencyMs', 'privateNote', 'aiwm'] as const;
const NOTE_LIMIT = 8_000;

/** `text` cut to at most `limit` characters, never between the halves of a surrogate pair. */
export function cutText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let end = Math.max(0, limit - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** The team's note for a reply cut to `maxReplyChars`. */
export function cutNote(agentId: string, chars: number, maxReplyChars: number, index?: number) {
  const which = index === undefined ? 'A reply' : `Reply ${index + 1}`;
  return `${which} of AI agent "${agentId}" was ${chars.toLocaleString('en')} characters long and was cut to ${maxReplyChars.toLocaleString('en')} (the agent's maxReplyChars).`;
}

/** The reply as handed on: text at most `maxReplyChars`, metadata at most MAX_METADATA_BYTES. */
export function limitReply(
  reply: ReplyPayload,
  limits: { agentId: string; maxReplyChars: number },
  index: number,
): ReplyPayload {
  const notes: string[] = [];
  let { content, metadata } = reply;
  if (content.length > limits.maxReplyChars) {
    notes.push(cutNote(limits.agentId, content.length, limits.maxReplyChars, index));
    content = cutText(content, limits.maxReplyChars);
  }
  const size = jsonBytes(metadata);
  if (size > MAX_METADATA_BYTES) {
    notes.push(
      `Its metadata (${size.toLocaleString('en')} bytes) was left out but for ${KEPT_KEYS.join(', ')}.`,
    );
    metadata = keptMetadata(metadata);
  }
  if (notes.length === 0) return reply;
  const earlier = typeof metadata.privateNote === 'string' ? `${metadata.privateNote}\n\n` : '';
  return {
    ...reply,
    content,
    metadata: { ...metadata, privateNote: cutText(`${earlier}${notes.join(' ')}`, NOTE_LIMIT) },
  };
}

function keptMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const key of KEPT_KEYS) {
    const value = metadata[key];
    if (value === undefined) continue;
    if (typeof value === 'string') kept[key] = cutText(value, NOTE_LIMIT);
    else if (jsonBytes(value) <= 4_096) kept[key] = value;
  }
  return kept;
}

/** UTF-8 size of a value as JSON (what a Temporal payload holds); Infinity if it has none. */
export function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** The failure detail for a frame over `maxFrameBytes`: final, the same answer would be as large. */
export function frameTooLarge(maxFrameBytes: number): string {
  return `agent sent a frame over ${maxFrameBytes} bytes (the agent's maxFrameBytes); it was not read`;
}

/**
 * `ws` refused a frame over its `maxPayload` (it closes the socket with 1009). Socket.IO hands on
 * ws's ErrorEvent (not an Error) with the error inside.
 */
export function isFrameTooLarge(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const {
    code,
    message,
    error: inner,
  } = error as { code?: unknown; message?: unknown; error?: unknown };
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return true;
  if (typeof message === 'string' && /max payload size exceeded/i.test(message)) return true;
  return inner !== undefined && inner !== error && isFrameTooLarge(inner);
}

/** Agent-given text in a failure or progress detail (error messages, status): enough to read. */
export const MAX_DETAIL_CHARS = 1_000;

/**
 * The event with its `detail` cut to MAX_DETAIL_CHARS: details become failure messages, the
 * hand-off note in Chatwoot and heartbeat progress, none of which takes an agent's megabyte.
 */
export function boundDetail(event: ConnectionEvent): ConnectionEvent {
  if (!('detail' in event) || typeof event.detail !== 'string') return event;
  if (event.detail.length <= MAX_DETAIL_CHARS) return event;
  return { ...event, detail: cutText(event.detail, MAX_DETAIL_CHARS) };
}
