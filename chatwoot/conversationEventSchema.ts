import { z } from 'zod';
import { ownershipMetaShape } from './webhookSchema.js';

/**
 * Conversation-level webhooks (`conversation_created`, `conversation_status_changed`,
 * `conversation_updated`, `conversation_opened`, `conversation_resolved`) carry the
 * conversation's `webhook_data` at the top level, and no account: the account comes from the
 * last message in `messages[]` when there is one, else from the configuration.
 * `webwidget_triggered` is contact-inbox level, with the conversation in `current_conversation`.
 */

const id = z.number().int().nonnegative();

export const conversationWebhookSchema = z
  .object({
    event: z.string(),
    id,
    inbox_id: id,
    status: z.string().optional().catch(undefined),
    account_id: id.optional(),
    account: z.object({ id }).loose().optional(),
    messages: z.array(z.object({ account_id: id.optional() }).loose()).nullish(),
    /** Read leniently: a malformed owner is unknown, not a reason to refuse the event. */
    meta: z.object(ownershipMetaShape).loose().optional().catch(undefined),
    /** `[{attribute: {previous_value, current_value}}]` */
    changed_attributes: z
      .array(
        z.record(
          z.string(),
          z.object({ previous_value: z.unknown(), current_value: z.unknown() }).loose(),
        ),
      )
      .nullish(),
  })
  .loose();

export const webwidgetTriggeredSchema = z
  .object({
    event: z.literal('webwidget_triggered'),
    account: z.object({ id }).loose().optional(),
    inbox: z.object({ id }).loose(),
    current_conversation: z.object({ id, inbox_id: id.optional() }).loose().nullish(),
  })
  .loose();

export type ConversationWebhook = z.infer<typeof conversationWebhookSchema>;

/** The change of one attribute, when the webhook lists it. */
export function changeOf(
  payload: ConversationWebhook,
  attribute: string,
): { before: unknown; after: unknown } | undefined {
  for (const change of payload.changed_attributes ?? []) {
    const entry = change[attribute];
    if (entry) return { before: entry.previous_value, after: entry.current_value };
  }
  return undefined;
}

export function accountIdOf(payload: ConversationWebhook): number | undefined {
  return (
    payload.account?.id ??
    payload.account_id ??
    payload.messages?.find((message) => message.account_id !== undefined)?.account_id
  );
}
