/**
 * Every message the bridge creates in Chatwoot carries a `source_id` marker. Chatwoot stores it
 * and echoes it in webhooks, so the marker both makes posting idempotent (a retried post can
 * look for it first) and lets the webhook recognise the bridge's own messages (loop guard).
 * Pure string functions: safe to use inside workflow code.
 */
export const SOURCE_ID_PREFIX = 'chatwoot-bridge:';

/** `part` is the reply index, or a name such as `fallback` / `handoff-note`. */
export function bridgeSourceId(workflowId: string, part: number | string): string {
  return `${SOURCE_ID_PREFIX}${workflowId}#${part}`;
}

export function isBridgeSourceId(sourceId: string | null | undefined): boolean {
  return typeof sourceId === 'string' && sourceId.startsWith(SOURCE_ID_PREFIX);
}
