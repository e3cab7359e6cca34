/**
 * The reply fields every protocol carries unchanged in a reply's metadata (the issue 13
 * contract): Chatwoot's interactive `content_type` with its `content_attributes`, files
 * (`attachments`) and conversation `actions`. Transports only pass them on; the delivery
 * workflow validates and acts on them.
 */
export const REPLY_FIELD_KEYS = [
  'content_type',
  'content_attributes',
  'attachments',
  'actions',
] as const;

export type ReplyFieldKey = (typeof REPLY_FIELD_KEYS)[number];

/** The reply fields present in an agent's metadata, as the agent sent them. */
export function replyFieldsOf(
  metadata: Record<string, unknown> | null | undefined,
): Partial<Record<ReplyFieldKey, unknown>> {
  const fields: Partial<Record<ReplyFieldKey, unknown>> = {};
  if (!metadata) return fields;
  for (const key of REPLY_FIELD_KEYS) {
    if (metadata[key] !== undefined) fields[key] = metadata[key];
  }
  return fields;
}
