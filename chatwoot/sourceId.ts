/**
 * Every message the bridge creates in Chatwoot carries a marker derived from the workflow id and
 * the part (reply index, `fallback`, …). It is kept in two places:
 * - `content_attributes.chatwoot_bridge_marker`: Chatwoot persists it, returns it in listings
 *   and webhooks, and no channel send service touches it (they merge `external_error` etc.);
 * - `source_id` (optional, see `chatwoot.markerInSourceId`): what older bridges relied on. It is
 *   not a safe key alone: it is not unique, and Chatwoot's channel services (Twilio, WhatsApp,
 *   Facebook, Instagram, TikTok, Telegram, Line, SMS, email) treat a message that already has a
 *   `source_id` as one that came from the channel and do not send it to the customer; a message
 *   without one gets the provider's message id written into `source_id` once it is sent.
 * The marker makes posting idempotent (a retry looks for it first) and lets the webhook know the
 * bridge's own messages (loop guard). Pure functions: safe to use inside workflow code.
 */
export const SOURCE_ID_PREFIX = 'chatwoot-bridge:';

/** The `content_attributes` key that holds the marker. */
export const MARKER_ATTRIBUTE = 'chatwoot_bridge_marker';

/** `part` is the reply index, or a name such as `fallback` / `handoff-note`. */
export function bridgeSourceId(workflowId: string, part: number | string): string {
  return `${SOURCE_ID_PREFIX}${workflowId}#${part}`;
}

export function isBridgeSourceId(sourceId: string | null | undefined): boolean {
  return typeof sourceId === 'string' && sourceId.startsWith(SOURCE_ID_PREFIX);
}

/** The parts of a Chatwoot message (API listing or webhook) that can carry the marker. */
export interface MarkedMessage {
  source_id?: string | null;
  content_attributes?: Record<string, unknown> | null;
}

/** The bridge marker a message carries, wherever it survived; undefined for anyone else's. */
export function bridgeMarkerOf(message: MarkedMessage): string | undefined {
  const attribute = message.content_attributes?.[MARKER_ATTRIBUTE];
  if (typeof attribute === 'string' && isBridgeSourceId(attribute)) return attribute;
  return isBridgeSourceId(message.source_id) ? (message.source_id ?? undefined) : undefined;
}

/** The loop guard: true for any message the bridge created (also after a channel rewrote `source_id`). */
export function isBridgeMessage(message: MarkedMessage): boolean {
  return bridgeMarkerOf(message) !== undefined;
}

/** True when `message` is the copy of the post marked `marker`. */
export function carriesMarker(message: MarkedMessage, marker: string): boolean {
  return message.content_attributes?.[MARKER_ATTRIBUTE] === marker || message.source_id === marker;
}
