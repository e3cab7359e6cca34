/**
 * The `rich` behaviour of every mock agent (bridge-v1, unified, AIWM) answers with reply metadata
 * given in its URL: `rich?metadata=<JSON>`, e.g. the reply fields `content_type`,
 * `content_attributes`, `attachments` and `actions`. One helper, so all mocks read it alike.
 */
export function metadataParam(params: URLSearchParams): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(params.get('metadata') ?? '{}');
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** The behaviour path for a mock agent answering with `metadata` (`unified/rich?…` for unified). */
export function richPath(metadata: Record<string, unknown>, prefix = ''): string {
  return `${prefix}rich?metadata=${encodeURIComponent(JSON.stringify(metadata))}`;
}
