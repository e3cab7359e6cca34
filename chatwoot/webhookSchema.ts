import { z } from 'zod';

/**
 * Chatwoot webhook payloads, as Chatwoot really sends them. Only what the bridge reads is
 * required; everything else passes through untouched (`loose`).
 * - top-level `message_type` is a string (inside `conversation.messages[]` it is an integer);
 * - `sender` may be null; a contact sender has no `type`, users have `type: "user"`,
 *   agent bots `type: "agent_bot"`;
 * - `content` may be null when only attachments came.
 */

const id = z.number().int().nonnegative();

export const webhookEnvelopeSchema = z.object({ event: z.string().min(1) }).loose();

/**
 * Read only for routing: a malformed value counts as absent instead of rejecting the customer's
 * message (the message then falls through to the routes that do not need it).
 */
const lenient = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);
const customAttributesSchema = lenient(z.record(z.string(), z.unknown()).nullable());

export const webhookSenderSchema = z
  .object({
    id: id.optional(),
    name: z.string().nullish(),
    email: z.string().nullish(),
    phone_number: z.string().nullish(),
    identifier: z.string().nullish(),
    type: z.string().optional(),
    custom_attributes: customAttributesSchema,
  })
  .loose();

/**
 * Who a conversation is assigned to (`meta.assignee`): a user (`type: "user"`) or, since
 * Chatwoot 4.16, the typed AI owner: an agent bot (`"agent_bot"`) or Captain
 * (`"captain_assistant"`). Malformed counts as unknown rather than refusing the event.
 */
export const assigneeSchema = z
  .object({
    id: id.optional().catch(undefined),
    name: z.string().nullish().catch(undefined),
    available_name: z.string().nullish().catch(undefined),
    type: z.string().nullish().catch(undefined),
  })
  .loose();

/** The ownership part of `meta`: `assignee_type` is `User`, `AgentBot`, `Captain::Assistant` or null (4.16+). */
export const ownershipMetaShape = {
  assignee: lenient(assigneeSchema.nullable()),
  assignee_type: lenient(z.string().nullable()),
};

/** `conversation.meta` (Conversation#push_meta): the contact, the assigned team and the owner. */
const conversationMetaSchema = z
  .object({
    sender: lenient(z.object({ custom_attributes: customAttributesSchema }).loose().nullable()),
    team: lenient(z.object({ id }).loose().nullable()),
    ...ownershipMetaShape,
  })
  .loose();

export type OwnershipMeta = {
  assignee?: z.infer<typeof assigneeSchema> | null;
  assignee_type?: string | null;
};

/** Each field read leniently: a malformed one is left out rather than refusing the message. */
export const webhookAttachmentSchema = z
  .object({
    id: lenient(id),
    file_type: lenient(z.string()),
    data_url: lenient(z.string()),
    thumb_url: lenient(z.string()),
  })
  .loose();

export const messageCreatedSchema = z
  .object({
    event: z.literal('message_created'),
    id,
    content: z.string().nullable().optional(),
    message_type: z.string(),
    private: z.boolean().default(false),
    source_id: z.string().nullish(),
    content_type: z.string().nullish(),
    content_attributes: z.record(z.string(), z.unknown()).nullish(),
    sender: webhookSenderSchema.nullish(),
    attachments: z.array(webhookAttachmentSchema).nullish(),
    account: z.object({ id }).loose(),
    inbox: z.object({ id }).loose().optional(),
    conversation: z
      .object({
        id,
        inbox_id: id.optional(),
        status: lenient(z.string()),
        labels: lenient(z.array(z.string()).nullable()),
        team_id: lenient(id.nullable()),
        custom_attributes: customAttributesSchema,
        meta: lenient(conversationMetaSchema.nullable()),
      })
      .loose(),
  })
  .loose()
  .refine(
    (message) => message.inbox?.id !== undefined || message.conversation.inbox_id !== undefined,
    {
      message: 'inbox.id or conversation.inbox_id is required',
      path: ['inbox', 'id'],
    },
  );

export type MessageCreatedWebhook = z.infer<typeof messageCreatedSchema>;
export type WebhookSender = z.infer<typeof webhookSenderSchema>;

export function inboxIdOf(message: MessageCreatedWebhook): number {
  // The refinement above guarantees one of the two is present.
  return (message.inbox?.id ?? message.conversation.inbox_id) as number;
}

/** Contacts are the only senders without a `type` (or, in some versions, `type: "contact"`). */
export function isContactSender(sender: WebhookSender | null | undefined): boolean {
  return sender == null || sender.type === undefined || sender.type === 'contact';
}
