import { createHmac, randomUUID } from 'node:crypto';

/**
 * Webhook bodies shaped like the ones Chatwoot POSTs (account webhooks, API inboxes and
 * agent bots all send the same payloads). Two Chatwoot quirks are reproduced on purpose:
 * - top-level `message_type` is the enum NAME ('incoming'), while `conversation.messages[]`
 *   carries the raw integer (0), because they come from `webhook_data` vs `push_event_data`;
 * - a contact's `webhook_data` has no `type` key, users have 'user', bots 'agent_bot'.
 */

export type MessageType = 'incoming' | 'outgoing' | 'activity' | 'template';
export type ConversationStatus = 'open' | 'pending' | 'resolved' | 'snoozed';
export type SenderKind = 'contact' | 'user' | 'agent_bot';

/**
 * Who the conversation is assigned to. A `user` is a person (or, on old installs, a user that
 * stands for the bot); `agent_bot` and `captain` are the typed AI owners of Chatwoot 4.16+.
 */
export interface AssigneeOption {
  kind: 'user' | 'agent_bot' | 'captain';
  id?: number;
  name?: string;
}

/**
 * How `conversation.meta` reports the owner: `legacy` (before Chatwoot 4.16: a user assignee,
 * no `assignee_type`) or `typed` (4.16+, PRs #14875 / #15421: `assignee` may be the agent bot or
 * Captain, and `assignee_type` is `User`, `AgentBot` or `Captain::Assistant`). Default: `typed`.
 */
export type OwnershipShape = 'legacy' | 'typed';

interface OwnershipOptions {
  /** Default: nobody (`null`), or on `conversation_updated` the user its `assignee_id` change names. */
  assignee?: AssigneeOption | null;
  ownership?: OwnershipShape;
}

export interface MessageOptions extends OwnershipOptions {
  accountId?: number;
  conversationId?: number;
  inboxId?: number;
  messageId?: number;
  /** Defaults to 1000 + conversationId, so each conversation has its own contact. */
  contactId?: number;
  content?: string | null;
  messageType?: MessageType;
  private?: boolean;
  sender?: SenderKind | null;
  sourceId?: string | null;
  /** The message's `content_attributes` (where the bridge keeps its marker); default `{}`. */
  contentAttributes?: Record<string, unknown>;
  /** `text` (default), `input_select`, `form`, `input_csat`, … */
  contentType?: string;
  attachments?: Array<{ id: number; file_type: string; data_url: string }>;
  status?: ConversationStatus;
  /** The conversation's labels (what routes with `labels` look at). */
  labels?: string[];
  /** The team the conversation is assigned to (`conversation.meta.team`). */
  teamId?: number | null;
  /** `conversation.custom_attributes`. */
  conversationAttributes?: Record<string, unknown>;
  /** The contact's `custom_attributes` (in `sender` and `conversation.meta.sender`). */
  contactAttributes?: Record<string, unknown>;
  /**
   * What a web widget conversation records of the browser's Accept-Language
   * (`conversation.additional_attributes.browser_language`, Widget::BaseController).
   */
  browserLanguage?: string;
}

/** Conversation details that routes can match on. */
type RoutingDetails = Pick<
  MessageOptions,
  'labels' | 'teamId' | 'conversationAttributes' | 'contactAttributes'
>;

export interface ConversationOptions extends OwnershipOptions {
  accountId?: number;
  conversationId?: number;
  inboxId?: number;
  contactId?: number;
  status?: ConversationStatus;
  /** For status_changed; defaults to 'pending' → status. */
  previousStatus?: ConversationStatus;
  /** Rails-style `{attr: [before, after]}`, turned into Chatwoot's changed_attributes list. */
  changes?: Record<string, [unknown, unknown]>;
}

export type ConversationEvent =
  | 'conversation_created'
  | 'conversation_opened'
  | 'conversation_resolved'
  | 'conversation_status_changed'
  | 'conversation_updated'
  | 'webwidget_triggered';

type Json = Record<string, unknown>;

const MESSAGE_TYPE_CODES: Record<MessageType, number> = {
  incoming: 0,
  outgoing: 1,
  activity: 2,
  template: 3,
};
const SENDER_TYPES: Record<SenderKind, string> = {
  contact: 'Contact',
  user: 'User',
  agent_bot: 'AgentBot',
};
export const USER_ID = 3;
export const AGENT_BOT_ID = 5;
export const CAPTAIN_ID = 8;

let lastMessageId = 0;

interface Ids {
  accountId: number;
  conversationId: number;
  inboxId: number;
  contactId: number;
}

function resolveIds(options: {
  accountId?: number;
  conversationId?: number;
  inboxId?: number;
  contactId?: number;
}): Ids {
  const conversationId = options.conversationId ?? 1;
  return {
    accountId: options.accountId ?? 1,
    conversationId,
    inboxId: options.inboxId ?? 7,
    contactId: options.contactId ?? 1000 + conversationId,
  };
}

const unixNow = () => Math.floor(Date.now() / 1000);
const account = (ids: Ids) => ({ id: ids.accountId, name: 'Acme Support' });
const inbox = (ids: Ids) => ({ id: ids.inboxId, name: 'API inbox' });
const contactName = (ids: Ids) => `Customer ${ids.contactId}`;
const contactSourceId = (ids: Ids) =>
  `00000000-0000-4000-8000-${String(ids.contactId).padStart(12, '0')}`;

/** `Contact#webhook_data`: note the absent `type`. */
function contactWebhookData(ids: Ids, customAttributes: Json = {}): Json {
  return {
    account: account(ids),
    additional_attributes: {},
    avatar: '',
    custom_attributes: customAttributes,
    email: `customer${ids.contactId}@example.com`,
    id: ids.contactId,
    identifier: null,
    name: contactName(ids),
    phone_number: null,
    thumbnail: '',
  };
}

/** `Contact#push_event_data`, used inside `conversation.meta` and `messages[]`: has `type`. */
function contactPushData(ids: Ids, customAttributes: Json = {}): Json {
  return {
    additional_attributes: {},
    custom_attributes: customAttributes,
    email: `customer${ids.contactId}@example.com`,
    id: ids.contactId,
    identifier: null,
    name: contactName(ids),
    phone_number: null,
    thumbnail: '',
    type: 'contact',
  };
}

function senderWebhookData(
  kind: SenderKind | null,
  ids: Ids,
  contactAttributes: Json = {},
): Json | null {
  if (kind === 'contact') return contactWebhookData(ids, contactAttributes);
  if (kind === 'user') {
    return { id: USER_ID, name: 'Agent Smith', email: 'agent@example.com', type: 'user' };
  }
  if (kind === 'agent_bot') return { id: AGENT_BOT_ID, name: 'Bridge bot', type: 'agent_bot' };
  return null;
}

function senderPushData(
  kind: SenderKind | null,
  ids: Ids,
  contactAttributes: Json = {},
): Json | undefined {
  if (kind === 'contact') return contactPushData(ids, contactAttributes);
  if (kind === 'user') {
    return {
      id: USER_ID,
      name: 'Agent Smith',
      available_name: 'Agent Smith',
      avatar_url: '',
      type: 'user',
      availability_status: 'online',
      thumbnail: '',
    };
  }
  if (kind === 'agent_bot') {
    return { id: AGENT_BOT_ID, name: 'Bridge bot', avatar_url: '', type: 'agent_bot' };
  }
  return undefined;
}

function senderId(kind: SenderKind | null, ids: Ids): number | null {
  if (kind === 'contact') return ids.contactId;
  if (kind === 'user') return USER_ID;
  if (kind === 'agent_bot') return AGENT_BOT_ID;
  return null;
}

/** `Attachment#push_event_data`. */
function attachmentData(
  attachment: { id: number; file_type: string; data_url: string },
  messageId: number,
  ids: Ids,
): Json {
  return {
    id: attachment.id,
    message_id: messageId,
    file_type: attachment.file_type,
    account_id: ids.accountId,
    extension: null,
    data_url: attachment.data_url,
    thumb_url: attachment.file_type === 'image' ? attachment.data_url : '',
    file_size: 1024,
    width: null,
    height: null,
  };
}

function contactInbox(ids: Ids): Json {
  const created = new Date(Date.now() - 3_600_000).toISOString();
  return {
    id: ids.contactId,
    contact_id: ids.contactId,
    inbox_id: ids.inboxId,
    source_id: contactSourceId(ids),
    created_at: created,
    updated_at: created,
    hmac_verified: false,
    pubsub_token: `pubsub-${ids.contactId}`,
  };
}

/** `User#push_event_data`. */
function userPushData(id: number, name: string): Json {
  return {
    id,
    name,
    available_name: name,
    avatar_url: '',
    type: 'user',
    availability_status: 'online',
    thumbnail: '',
  };
}

/**
 * The owner part of `Conversation#push_meta`: `assignee` is `assigned_entity.push_event_data`
 * (`AgentBot` → `type: "agent_bot"`, `Captain::Assistant` → `type: "captain_assistant"`, `User`
 * → `type: "user"`), `assignee_type` the typed owner's class (4.16+ only).
 */
function ownerMeta(options: OwnershipOptions): Json {
  const assignee = options.assignee ?? null;
  const shape = options.ownership ?? 'typed';
  if (shape === 'legacy') {
    if (assignee && assignee.kind !== 'user') {
      throw new Error('before Chatwoot 4.16 only users can be assignees');
    }
    return {
      assignee: assignee
        ? userPushData(assignee.id ?? USER_ID, assignee.name ?? 'Agent Smith')
        : null,
    };
  }
  if (!assignee) return { assignee: null, assignee_type: null };
  switch (assignee.kind) {
    case 'user':
      return {
        assignee: userPushData(assignee.id ?? USER_ID, assignee.name ?? 'Agent Smith'),
        assignee_type: 'User',
      };
    case 'agent_bot':
      return {
        assignee: {
          id: assignee.id ?? AGENT_BOT_ID,
          name: assignee.name ?? 'Bridge bot',
          avatar_url: '',
          type: 'agent_bot',
        },
        assignee_type: 'AgentBot',
      };
    case 'captain':
      return {
        assignee: {
          id: assignee.id ?? CAPTAIN_ID,
          name: assignee.name ?? 'Captain',
          avatar_url: '',
          description: 'Captain assistant',
          created_at: new Date(Date.now() - 86_400_000).toISOString(),
          type: 'captain_assistant',
        },
        assignee_type: 'Captain::Assistant',
      };
  }
}

/**
 * `Conversation#webhook_data` (Conversations::EventDataPresenter#push_data). `messages` holds
 * at most the last public, non-activity message, as Chatwoot's `messages.chat.last`.
 */
function conversationWebhookData(
  ids: Ids,
  status: ConversationStatus,
  lastChatMessage?: Json,
  routing: RoutingDetails = {},
  ownership: OwnershipOptions = {},
): Json {
  const now = unixNow();
  return {
    additional_attributes: {},
    can_reply: true,
    channel: 'Channel::Api',
    contact_inbox: contactInbox(ids),
    id: ids.conversationId,
    inbox_id: ids.inboxId,
    messages: lastChatMessage ? [lastChatMessage] : [],
    labels: routing.labels ?? [],
    meta: {
      sender: contactPushData(ids, routing.contactAttributes),
      ...ownerMeta(ownership),
      // `Team#push_event_data`.
      team: routing.teamId != null ? { id: routing.teamId, name: `Team ${routing.teamId}` } : null,
      hmac_verified: false,
    },
    status,
    custom_attributes: routing.conversationAttributes ?? {},
    snoozed_until: null,
    unread_count: lastChatMessage ? 1 : 0,
    first_reply_created_at: null,
    priority: null,
    waiting_since: now,
    agent_last_seen_at: 0,
    contact_last_seen_at: 0,
    last_activity_at: now,
    timestamp: now,
    created_at: now - 3600,
    updated_at: Date.now() / 1000,
  };
}

/** Body of a `message_created` webhook: `Message#webhook_data` plus `event`. */
export function messageCreatedPayload(options: MessageOptions = {}): Record<string, unknown> {
  const ids = resolveIds(options);
  const id = options.messageId ?? ++lastMessageId;
  const content = options.content === undefined ? 'Hello' : options.content;
  const messageType = options.messageType ?? 'incoming';
  const isPrivate = options.private ?? false;
  const sender = options.sender === undefined ? 'contact' : options.sender;
  const sourceId = options.sourceId ?? null;
  const contentAttributes = options.contentAttributes ?? {};
  const attachments = options.attachments?.map((a) => attachmentData(a, id, ids));
  const createdAt = new Date();

  // `Message#push_event_data`: integer message_type, unix created_at.
  const pushData: Json = {
    id,
    content,
    account_id: ids.accountId,
    inbox_id: ids.inboxId,
    conversation_id: ids.conversationId,
    message_type: MESSAGE_TYPE_CODES[messageType],
    created_at: Math.floor(createdAt.getTime() / 1000),
    updated_at: createdAt.toISOString(),
    private: isPrivate,
    status: 'sent',
    source_id: sourceId,
    content_type: options.contentType ?? 'text',
    content_attributes: contentAttributes,
    sender_type: sender ? SENDER_TYPES[sender] : null,
    sender_id: senderId(sender, ids),
    external_source_ids: {},
    additional_attributes: {},
    processed_message_content: content,
    sentiment: {},
    conversation: {
      assignee_id: options.assignee?.kind === 'user' ? (options.assignee.id ?? USER_ID) : null,
      unread_count: 1,
      last_activity_at: Math.floor(createdAt.getTime() / 1000),
      contact_inbox: { source_id: contactSourceId(ids) },
    },
    ...(attachments ? { attachments } : {}),
    ...(sender ? { sender: senderPushData(sender, ids, options.contactAttributes) } : {}),
  };
  const isChat = !isPrivate && messageType !== 'activity';
  const conversation = conversationWebhookData(
    ids,
    options.status ?? 'open',
    isChat ? pushData : undefined,
    options,
    options,
  );
  if (options.browserLanguage !== undefined) {
    conversation.additional_attributes = { browser_language: options.browserLanguage };
  }

  return {
    account: account(ids),
    additional_attributes: {},
    content_attributes: contentAttributes,
    content_type: options.contentType ?? 'text',
    content,
    conversation,
    created_at: createdAt.toISOString(),
    id,
    inbox: inbox(ids),
    message_type: messageType,
    private: isPrivate,
    sender: senderWebhookData(sender, ids, options.contactAttributes),
    source_id: sourceId,
    ...(attachments ? { attachments } : {}),
    event: 'message_created',
  };
}

/**
 * Body of a `message_updated` webhook: Chatwoot sends the whole message again
 * (`Message#webhook_data` plus `event`) after any update of it: the customer's answer to an
 * interactive message (`content_attributes.submitted_values`), a CSAT rating, a delivery status,
 * a `source_id` a channel wrote after sending, an edit.
 */
export function messageUpdatedPayload(options: MessageOptions = {}): Record<string, unknown> {
  return { ...messageCreatedPayload(options), event: 'message_updated' };
}

/**
 * The owner a change list leads to, for payloads whose `meta` must agree with their changes:
 * an `assignee_agent_bot_id` set names the agent bot, an `assignee_id` set names that user.
 */
function assigneeNamedBy(
  changes: Record<string, [unknown, unknown]> | undefined,
): AssigneeOption | null {
  const bot = changes?.assignee_agent_bot_id?.[1];
  if (typeof bot === 'number') return { kind: 'agent_bot', id: bot };
  const user = changes?.assignee_id?.[1];
  return typeof user === 'number' ? { kind: 'user', id: user } : null;
}

/**
 * `conversation_updated` as Chatwoot 4.16+ sends it when an assignment moves the conversation
 * between the bot (agent bot or Captain, typed owner) and a person: the human assignee and the
 * bot owner change together, and `meta` names the new owner.
 */
export function ownerChangedPayload(
  to: AssigneeOption | null,
  from: AssigneeOption | null,
  options: Omit<ConversationOptions, 'changes' | 'assignee' | 'ownership'> = {},
): Record<string, unknown> {
  const userId = (a: AssigneeOption | null) => (a?.kind === 'user' ? (a.id ?? USER_ID) : null);
  const botId = (a: AssigneeOption | null) =>
    a?.kind === 'agent_bot'
      ? (a.id ?? AGENT_BOT_ID)
      : a?.kind === 'captain'
        ? (a.id ?? CAPTAIN_ID)
        : null;
  const changes: Record<string, [unknown, unknown]> = {};
  if (userId(from) !== userId(to)) changes.assignee_id = [userId(from), userId(to)];
  if (botId(from) !== botId(to)) changes.assignee_agent_bot_id = [botId(from), botId(to)];
  return conversationEventPayload('conversation_updated', {
    ...options,
    changes,
    assignee: to,
    ownership: 'typed',
  });
}

/** Chatwoot sends `changed_attributes` as `[{attr: {previous_value, current_value}}]`. */
function changedAttributes(changes: Record<string, [unknown, unknown]>): Json[] {
  return Object.entries(changes).map(([name, [before, after]]) => ({
    [name]: { previous_value: before, current_value: after },
  }));
}

/** Bodies of conversation-level webhooks (and `webwidget_triggered`, which is contact-inbox level). */
export function conversationEventPayload(
  event: ConversationEvent,
  options: ConversationOptions = {},
): Record<string, unknown> {
  const ids = resolveIds(options);
  const status = options.status ?? 'open';
  const changes =
    options.changes ??
    (event === 'conversation_updated' ? { assignee_id: [null, USER_ID] } : undefined);
  const conversation = conversationWebhookData(
    ids,
    status,
    undefined,
    {},
    {
      ...options,
      assignee: options.assignee === undefined ? assigneeNamedBy(changes) : options.assignee,
    },
  );

  switch (event) {
    case 'conversation_created':
    case 'conversation_opened':
    case 'conversation_resolved':
      return { ...conversation, event };
    case 'conversation_status_changed':
      return {
        ...conversation,
        event,
        changed_attributes: changedAttributes(
          options.changes ?? { status: [options.previousStatus ?? 'pending', status] },
        ),
      };
    case 'conversation_updated':
      return {
        ...conversation,
        event,
        changed_attributes: changedAttributes(changes ?? {}),
      };
    case 'webwidget_triggered':
      // `ContactInbox#webhook_data` plus the widget's event_info.
      return {
        id: ids.contactId,
        contact: contactWebhookData(ids),
        inbox: inbox(ids),
        account: account(ids),
        current_conversation: conversation,
        source_id: contactSourceId(ids),
        event,
        event_info: {
          initiated_at: { timestamp: new Date().toString() },
          referer: 'https://shop.example.com/help',
          widget_language: null,
          browser_language: 'en',
          browser: {
            browser_name: 'Firefox',
            browser_version: '128.0',
            device_name: 'Unknown',
            platform_name: 'Linux',
            platform_version: null,
          },
        },
      };
  }
}

/** Headers Chatwoot (≥ 4.11) adds: HMAC-SHA256 over "<timestamp>.<raw body>". */
export function signWebhook(
  body: string,
  secret: string,
  timestampSeconds: number = unixNow(),
): {
  'x-chatwoot-signature': string;
  'x-chatwoot-timestamp': string;
  'x-chatwoot-delivery': string;
} {
  const timestamp = String(timestampSeconds);
  const digest = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return {
    'x-chatwoot-signature': `sha256=${digest}`,
    'x-chatwoot-timestamp': timestamp,
    'x-chatwoot-delivery': randomUUID(),
  };
}
