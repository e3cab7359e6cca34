import type { ConnectionEvent, ReplyPayload } from '../machines/connection.js';
import { REPLY_FIELD_KEYS, replyFieldsOf, type ReplyFieldKey } from './replyFields.js';

/**
 * Bounds on what one agent reply may carry on into Temporal and Chatwoot. A reply travels as a
 * signal (Temporal refuses payloads over 2 MB) and becomes a Chatwoot message (at most 150,000
 * characters): a reply over either would fail on every retry until hand-off. Over the bounds,
 * the text is cut with a visible "…" and the team gets a private note saying so; agent
 * metadata too large to carry is left out but for the keys the bridge reads and the reply
 * fields (content_type, content_attributes, attachments, actions), which have a budget of their own.
 */

/** Agent metadata larger than this (as JSON) is not carried whole (reply fields apart). */
export const MAX_METADATA_BYTES = 64 * 1_024;
/**
 * The reply fields (agents/replyFields.ts) together, as JSON: an inline file of a few hundred
 * kilobytes fits, and a reply still fits Temporal's 2 MB payload limit with its text. A field
 * over the budget is left out (the team is told); larger files go by URL.
 */
export const MAX_REPLY_FIELDS_BYTES = 768 * 1_024;
/** The metadata keys the bridge itself reads (workflows/replyExtras.ts, handoff, AIWM ids). */
const BRIDGE_KEYS = ['handoff', 'usage', 'latencyMs', 'privateNote', 'aiwm'] as const;
/** Kept when the rest is left out; the reply fields within their own budget. */
const KEPT_KEYS = [...BRIDGE_KEYS, ...REPLY_FIELD_KEYS] as const;
/** The smallest first: actions and the interactive type before a large inline file. */
const FIELDS_BY_SIZE: readonly ReplyFieldKey[] = [
  'actions',
  'content_type',
  'content_attributes',
  'attachments',
];
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
  const limited = limitMetadata(metadata);
  notes.push(...limited.notes);
  metadata = limited.metadata;
  if (notes.length === 0) return reply;
  const earlier = typeof metadata.privateNote === 'string' ? `${metadata.privateNote}\n\n` : '';
  return {
    ...reply,
    content,
    metadata: { ...metadata, privateNote: cutText(`${earlier}${notes.join(' ')}`, NOTE_LIMIT) },
  };
}

/**
 * Metadata bounded for Temporal: over MAX_METADATA_BYTES (reply fields apart) only the keys the
 * bridge reads are kept; the reply fields are kept whole within MAX_REPLY_FIELDS_BYTES. `notes`
 * say what was left out, for the team's private note. Unchanged metadata is returned as is.
 */
export function limitMetadata(metadata: Record<string, unknown>): {
  metadata: Record<string, unknown>;
  notes: string[];
} {
  const fields = replyFieldsOf(metadata);
  const rest = { ...metadata };
  for (const key of REPLY_FIELD_KEYS) delete rest[key];
  const notes: string[] = [];
  let carried = rest;
  const size = jsonBytes(rest);
  if (size > MAX_METADATA_BYTES) {
    notes.push(
      `Its metadata (${size.toLocaleString('en')} bytes) was left out but for ${KEPT_KEYS.join(', ')}.`,
    );
    carried = keptMetadata(rest);
  }
  let room = MAX_REPLY_FIELDS_BYTES;
  const kept: Record<string, unknown> = {};
  for (const key of FIELDS_BY_SIZE) {
    if (!(key in fields)) continue;
    const bytes = jsonBytes(fields[key]);
    if (bytes <= room) {
      kept[key] = fields[key];
      room -= bytes;
    } else {
      notes.push(
        `Its ${key} (${bytes.toLocaleString('en')} bytes) was left out: the reply fields may take ${MAX_REPLY_FIELDS_BYTES.toLocaleString('en')} bytes (send large files by URL).`,
      );
    }
  }
  if (notes.length === 0) return { metadata, notes };
  return { metadata: { ...carried, ...kept }, notes };
}

function keptMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const key of BRIDGE_KEYS) {
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
