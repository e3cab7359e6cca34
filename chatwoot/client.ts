/** Minimal Chatwoot Application API client: only the calls the bridge makes. */
import { messageFormData, type UploadFile } from './multipart.js';

export interface CreateMessageBody {
  content: string;
  message_type: 'outgoing';
  private: boolean;
  /** `text`, or one of Chatwoot's interactive types (workflows/richContent.ts). */
  content_type?: 'text' | 'input_select' | 'cards' | 'form' | 'article';
  content_attributes?: Record<string, unknown>;
  source_id?: string;
}

export interface ChatwootMessage {
  id: number;
  /** Unix seconds. */
  created_at?: number;
  content?: string | null;
  source_id?: string | null;
  /** Where the bridge's marker lives (see chatwoot/sourceId.ts); channels leave it alone. */
  content_attributes?: Record<string, unknown> | null;
  private?: boolean;
  /** `outgoing` etc. as the API's integer code (1 = outgoing). */
  message_type?: number | string;
  /** Files of the message; `data_url` ends with the file name. */
  attachments?: Array<{ id?: number; file_type?: string; data_url?: string; file_size?: number }>;
}

export type ConversationStatus = 'open' | 'resolved' | 'pending' | 'snoozed';

/** A contact's link to one inbox; `source_id` identifies the contact there. */
export interface ChatwootContactInbox {
  source_id: string;
  inbox?: { id?: number } | null;
}

export interface ChatwootContact {
  id: number;
  name?: string | null;
  email?: string | null;
  phone_number?: string | null;
  identifier?: string | null;
  contact_inboxes?: ChatwootContactInbox[];
}

export interface CreateContactBody {
  inbox_id: number;
  name?: string;
  email?: string;
  phone_number?: string;
  identifier?: string;
}

export interface ChatwootConversation {
  id: number;
  inbox_id?: number;
  status?: string;
  /** Unix seconds. */
  last_activity_at?: number;
}

/** A response Chatwoot gave with a non-2xx status, or a request that never got one. */
export class ChatwootRequestError extends Error {
  override name = 'ChatwootRequestError';
  constructor(
    message: string,
    /** Undefined when no response arrived (network error, timeout). */
    readonly status: number | undefined,
    /** From `Retry-After`, when Chatwoot sent one. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }

  /** 5xx, 408, 429 and network errors may succeed later; other 4xx will not. */
  get retryable(): boolean {
    return (
      this.status === undefined || this.status >= 500 || this.status === 408 || this.status === 429
    );
  }
}

/** What one call looked like, for metrics: the status, or why no response came. */
export interface ChatwootCallObservation {
  method: string;
  path: string;
  status: number | 'network_error' | 'timeout';
  durationMs: number;
}

export class ChatwootClient {
  constructor(
    private readonly options: {
      baseUrl: string;
      apiAccessToken: string;
      timeoutMs: number;
      observe?: (call: ChatwootCallObservation) => void;
    },
  ) {}

  createMessage(
    accountId: number,
    conversationId: number,
    body: CreateMessageBody,
  ): Promise<ChatwootMessage> {
    return this.request('POST', this.conversationPath(accountId, conversationId, 'messages'), body);
  }

  /** The same create with files: Chatwoot's multipart form (chatwoot/multipart.ts). */
  createMessageWithFiles(
    accountId: number,
    conversationId: number,
    body: CreateMessageBody,
    files: UploadFile[],
  ): Promise<ChatwootMessage> {
    const path = this.conversationPath(accountId, conversationId, 'messages');
    return this.request('POST', path, messageFormData(body, files));
  }

  /**
   * One page of messages, ascending: the latest 20 by default, the 20 before `beforeId` when
   * given (Chatwoot's own paging).
   */
  async listMessages(
    accountId: number,
    conversationId: number,
    beforeId?: number,
  ): Promise<ChatwootMessage[]> {
    const query = beforeId === undefined ? '' : `?before=${beforeId}`;
    const page = await this.request<{ payload?: ChatwootMessage[] }>(
      'GET',
      this.conversationPath(accountId, conversationId, 'messages') + query,
    );
    return page.payload ?? [];
  }

  async toggleTyping(
    accountId: number,
    conversationId: number,
    typingStatus: 'on' | 'off',
  ): Promise<void> {
    await this.request(
      'POST',
      this.conversationPath(accountId, conversationId, 'toggle_typing_status'),
      {
        typing_status: typingStatus,
      },
    );
  }

  async toggleStatus(
    accountId: number,
    conversationId: number,
    status: ConversationStatus,
  ): Promise<void> {
    await this.request('POST', this.conversationPath(accountId, conversationId, 'toggle_status'), {
      status,
    });
  }

  /**
   * One page (15) of contacts whose name, email, phone number or identifier contains `query`:
   * a fuzzy search, so callers check for an exact match themselves.
   */
  async searchContacts(accountId: number, query: string, page = 1): Promise<ChatwootContact[]> {
    const params = new URLSearchParams({ q: query, page: String(page) });
    const result = await this.request<{ payload?: ChatwootContact[] }>(
      'GET',
      `/api/v1/accounts/${accountId}/contacts/search?${params.toString()}`,
    );
    return result.payload ?? [];
  }

  /** Creates a contact and its contact inbox (`inbox_id`) in one call. */
  async createContact(
    accountId: number,
    body: CreateContactBody,
  ): Promise<{ contact: ChatwootContact; sourceId: string | undefined }> {
    // Chatwoot answers `{payload: {contact, contact_inbox}}` (its jbuilder view, not the swagger).
    const result = await this.request<{
      payload?: { contact?: ChatwootContact; contact_inbox?: { source_id?: string | null } };
    }>('POST', `/api/v1/accounts/${accountId}/contacts`, body);
    const contact = result.payload?.contact;
    // A retry searches first and finds the contact if it was created after all.
    if (!contact) throw new Error('POST contacts answered without a contact');
    return { contact, sourceId: result.payload?.contact_inbox?.source_id ?? undefined };
  }

  createContactInbox(
    accountId: number,
    contactId: number,
    inboxId: number,
  ): Promise<ChatwootContactInbox> {
    const path = `/api/v1/accounts/${accountId}/contacts/${contactId}/contact_inboxes`;
    return this.request('POST', path, { inbox_id: inboxId });
  }

  async listContactConversations(
    accountId: number,
    contactId: number,
  ): Promise<ChatwootConversation[]> {
    const result = await this.request<{ payload?: ChatwootConversation[] }>(
      'GET',
      `/api/v1/accounts/${accountId}/contacts/${contactId}/conversations`,
    );
    return result.payload ?? [];
  }

  createConversation(
    accountId: number,
    body: { source_id: string; inbox_id: number; contact_id: number },
  ): Promise<ChatwootConversation> {
    return this.request('POST', `/api/v1/accounts/${accountId}/conversations`, body);
  }

  // -------------------------------------------------------------------------------------------
  // Listing (catch-up): needs a user token; agent-bot tokens may not list conversations.

  /**
   * One page (25) of an account's conversations, newest activity first (Chatwoot's `latest`
   * order), filtered by status and inbox. Answers `{data: {meta, payload}}`.
   */
  async listConversations(
    accountId: number,
    filter: { status: ConversationStatus | 'all'; inboxId?: number; page?: number },
  ): Promise<ChatwootListedConversation[]> {
    const params = new URLSearchParams({ status: filter.status, page: String(filter.page ?? 1) });
    if (filter.inboxId !== undefined) params.set('inbox_id', String(filter.inboxId));
    const result = await this.request<{ data?: { payload?: ChatwootListedConversation[] } }>(
      'GET',
      `/api/v1/accounts/${accountId}/conversations?${params.toString()}`,
    );
    return result.data?.payload ?? [];
  }

  /** Like {@link listMessages}, with the fields catch-up reads (type, sender, status). */
  async listConversationMessages(
    accountId: number,
    conversationId: number,
    beforeId?: number,
  ): Promise<ChatwootListedMessage[]> {
    const query = beforeId === undefined ? '' : `?before=${beforeId}`;
    const page = await this.request<{ payload?: ChatwootListedMessage[] }>(
      'GET',
      this.conversationPath(accountId, conversationId, 'messages') + query,
    );
    return page.payload ?? [];
  }

  // -------------------------------------------------------------------------------------------
  // Conversation actions (agent actions, activities/conversationActions.ts). Labels need a user
  // token on Chatwoot versions whose agent-bot tokens may not call them (see the README).

  /** The conversation's labels: `{payload: string[]}`. */
  async listLabels(accountId: number, conversationId: number): Promise<string[]> {
    const result = await this.request<{ payload?: string[] }>(
      'GET',
      this.conversationPath(accountId, conversationId, 'labels'),
    );
    return result.payload ?? [];
  }

  /**
   * Replaces the conversation's labels with `labels` (Chatwoot drops those not defined in the
   * account) and answers the labels it now has.
   */
  async replaceLabels(
    accountId: number,
    conversationId: number,
    labels: string[],
  ): Promise<string[]> {
    const result = await this.request<{ payload?: string[] }>(
      'POST',
      this.conversationPath(accountId, conversationId, 'labels'),
      { labels },
    );
    return result.payload ?? [];
  }

  /** `none` clears the priority. */
  async setPriority(
    accountId: number,
    conversationId: number,
    priority: 'urgent' | 'high' | 'medium' | 'low' | 'none',
  ): Promise<void> {
    await this.request(
      'POST',
      this.conversationPath(accountId, conversationId, 'toggle_priority'),
      { priority },
    );
  }

  /**
   * Sets these custom attributes, keeping the others (`merge: true`; Chatwoot versions without
   * the flag replace the whole set).
   */
  async mergeCustomAttributes(
    accountId: number,
    conversationId: number,
    attributes: Record<string, unknown>,
  ): Promise<void> {
    await this.request(
      'POST',
      this.conversationPath(accountId, conversationId, 'custom_attributes'),
      { custom_attributes: attributes, merge: true },
    );
  }

  /** Assigns a user (`assignee_id`) or a team (`team_id`). */
  async assign(
    accountId: number,
    conversationId: number,
    to: { assignee_id: number } | { team_id: number },
  ): Promise<void> {
    await this.request('POST', this.conversationPath(accountId, conversationId, 'assignments'), to);
  }

  /** Snoozes until `untilSeconds` (Unix seconds); the customer's next message reopens it anyway. */
  async snooze(accountId: number, conversationId: number, untilSeconds: number): Promise<void> {
    await this.request('POST', this.conversationPath(accountId, conversationId, 'toggle_status'), {
      status: 'snoozed',
      snoozed_until: untilSeconds,
    });
  }

  private conversationPath(accountId: number, conversationId: number, action: string): string {
    return `/api/v1/accounts/${accountId}/conversations/${conversationId}/${action}`;
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = new URL(
      path,
      this.options.baseUrl.endsWith('/') ? this.options.baseUrl : `${this.options.baseUrl}/`,
    );
    let response: Response;
    const startedAt = performance.now();
    const observe = (status: ChatwootCallObservation['status']) =>
      this.options.observe?.({ method, path, status, durationMs: performance.now() - startedAt });
    try {
      response = await fetch(url, {
        method,
        headers: {
          api_access_token: this.options.apiAccessToken,
          accept: 'application/json',
          // A FormData body brings its own multipart content type (with the boundary).
          ...(body === undefined || body instanceof FormData
            ? {}
            : { 'content-type': 'application/json' }),
        },
        body: body === undefined || body instanceof FormData ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      observe(
        error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network_error',
      );
      const cause =
        error instanceof Error
          ? error.cause instanceof Error
            ? error.cause.message
            : error.message
          : String(error);
      throw new ChatwootRequestError(`${method} ${path} failed: ${cause}`, undefined, undefined);
    }
    const text = await response.text();
    observe(response.status);
    if (!response.ok) {
      throw new ChatwootRequestError(
        `${method} ${path} → ${response.status}: ${text.slice(0, 300)}`,
        response.status,
        parseRetryAfter(response.headers.get('retry-after')),
      );
    }
    return (text ? JSON.parse(text) : {}) as T;
  }
}

/** `Retry-After` is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A message as the API lists it: `message_type` is the integer code (0 in, 1 out, 2 activity, 3 template). */
export interface ChatwootListedMessage {
  id: number;
  content?: string | null;
  message_type: number;
  private?: boolean;
  /** Unix seconds. */
  created_at: number;
  source_id?: string | null;
  /** Where the bridge's marker lives (see chatwoot/sourceId.ts). */
  content_attributes?: Record<string, unknown> | null;
  status?: string | null;
  sender_type?: string | null;
  sender_id?: number | null;
  sender?: {
    id?: number;
    name?: string | null;
    email?: string | null;
    phone_number?: string | null;
  } | null;
  attachments?: Array<{ id?: number; file_type?: string; data_url?: string; thumb_url?: string }>;
}

/**
 * A conversation as the list endpoint renders it. Before Chatwoot 4.16 `meta.assignee` is always
 * a user; since 4.16 (PRs #14875, #15421) `meta.assignee_type` says whether the owner is a `User`,
 * an `AgentBot` or a `Captain::Assistant`.
 */
export interface ChatwootListedConversation {
  id: number;
  inbox_id: number;
  status: string;
  /** Unix seconds. */
  last_activity_at: number;
  labels?: string[];
  custom_attributes?: Record<string, unknown>;
  /** The conversation's newest message only. */
  messages?: ChatwootListedMessage[];
  meta?: {
    sender?: {
      id?: number;
      name?: string | null;
      email?: string | null;
      phone_number?: string | null;
      custom_attributes?: Record<string, unknown>;
    } | null;
    assignee?: { id?: number; name?: string | null } | null;
    assignee_type?: string | null;
    team?: { id?: number } | null;
  };
}
