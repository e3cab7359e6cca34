/**
 * The fake Chatwoot's conversation listing and agent-bot failure behaviour (catch-up), kept apart
 * from the request machinery in fakeChatwoot.ts. Shapes follow Chatwoot's own views:
 * `conversations/index.json.jbuilder` (`{data: {meta, payload}}`, 25 a page, newest activity
 * first) and `conversations/partials/_conversation.json.jbuilder` (`meta.assignee`, and since
 * 4.16 `meta.assignee_type`).
 */

/** Chatwoot's `Webhooks::ErrorHandler` activity (`agent_bot.error_moved_to_open`). */
export const AGENT_BOT_ERROR_ACTIVITY =
  'Conversation was marked open by system due to an error with the agent bot.';

export const CONVERSATION_LIST_PAGE_SIZE = 25;

/** Who a conversation belongs to in the listing. */
export interface ListedAssignee {
  id: number;
  name: string;
  /** `User` (a human, or a bot user on old installs), `AgentBot` / `Captain::Assistant` (4.16+). */
  type: 'User' | 'AgentBot' | 'Captain::Assistant';
}

export interface ListedContact {
  id: number;
  name: string;
  email?: string | null;
  phone_number?: string | null;
}

/** What the listing knows of a conversation besides its messages and status. */
export interface ConversationListing {
  accountId: number;
  conversationId: number;
  inboxId: number;
  contact: ListedContact;
  assignee?: ListedAssignee;
  /** Render `meta.assignee_type` (Chatwoot 4.16+); false: the older payload (a user or nothing). */
  typedAssignee: boolean;
  createdAt: number;
  labels: string[];
}

type Json = Record<string, unknown>;

export interface ListFilter {
  status?: string;
  inboxId?: number;
  assigneeType?: string;
  page: number;
}

/** Filters like `ConversationFinder`: status (default open, `all`), inbox, assignee type. */
export function filterConversations<T extends { listing: ConversationListing; status: string }>(
  conversations: T[],
  filter: ListFilter,
  lastActivityAt: (conversation: T) => number,
): { page: T[]; counts: Json } {
  const status = filter.status ?? 'open';
  const matching = conversations.filter(
    (c) =>
      (status === 'all' || c.status === status) &&
      (filter.inboxId === undefined || c.listing.inboxId === filter.inboxId),
  );
  const assigned = matching.filter((c) => c.listing.assignee !== undefined);
  const byType =
    filter.assigneeType === 'assigned'
      ? assigned
      : filter.assigneeType === 'unassigned'
        ? matching.filter((c) => c.listing.assignee === undefined)
        : matching;
  const sorted = [...byType].sort((a, b) => lastActivityAt(b) - lastActivityAt(a));
  const start = (filter.page - 1) * CONVERSATION_LIST_PAGE_SIZE;
  return {
    page: sorted.slice(start, start + CONVERSATION_LIST_PAGE_SIZE),
    counts: {
      mine_count: 0,
      assigned_count: assigned.length,
      unassigned_count: matching.length - assigned.length,
      all_count: matching.length,
    },
  };
}

/** One conversation as the list endpoint renders it; `lastMessage` already in API shape. */
export function toListedConversation(
  listing: ConversationListing,
  status: string,
  lastActivityAt: number,
  lastMessage: Json | undefined,
): Json {
  const { contact, assignee } = listing;
  const meta: Json = {
    sender: {
      id: contact.id,
      name: contact.name,
      email: contact.email ?? null,
      phone_number: contact.phone_number ?? null,
      identifier: null,
      thumbnail: '',
      additional_attributes: {},
      custom_attributes: {},
      availability_status: 'offline',
      blocked: false,
      created_at: listing.createdAt,
      last_activity_at: lastActivityAt,
    },
    channel: 'Channel::Api',
    hmac_verified: false,
  };
  if (assignee && (assignee.type === 'User' || listing.typedAssignee)) {
    meta.assignee =
      assignee.type === 'User'
        ? {
            id: assignee.id,
            name: assignee.name,
            available_name: assignee.name,
            email: `agent${assignee.id}@example.com`,
            role: 'agent',
            confirmed: true,
            avatar_url: '',
          }
        : { id: assignee.id, name: assignee.name, avatar_url: '' };
    if (listing.typedAssignee) meta.assignee_type = assignee.type;
  }
  return {
    meta,
    id: listing.conversationId,
    messages: lastMessage ? [lastMessage] : [],
    account_id: listing.accountId,
    uuid: `00000000-0000-4000-8000-${String(listing.conversationId).padStart(12, '0')}`,
    additional_attributes: {},
    agent_last_seen_at: 0,
    assignee_last_seen_at: 0,
    can_reply: true,
    contact_last_seen_at: 0,
    custom_attributes: {},
    inbox_id: listing.inboxId,
    labels: listing.labels,
    muted: false,
    snoozed_until: null,
    status,
    created_at: listing.createdAt,
    timestamp: lastActivityAt,
    first_reply_created_at: 0,
    unread_count: 0,
    last_non_activity_message: lastMessage ?? null,
    last_activity_at: lastActivityAt,
    priority: null,
    waiting_since: 0,
    sla_policy_id: null,
  };
}
