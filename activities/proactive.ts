import { ApplicationFailure } from '@temporalio/activity';
import {
  ChatwootRequestError,
  type ChatwootClient,
  type ChatwootContact,
} from '../chatwoot/client.js';
import type { ContactSelector } from '../workflows/proactiveTypes.js';
import { callChatwoot, toActivityFailure } from './chatwoot.js';

export interface ResolveContactInput {
  accountId: number;
  inboxId: number;
  contact: ContactSelector;
}

export interface ResolvedContact {
  contactId: number;
  /** The contact's `source_id` in the inbox, needed to open a conversation there. */
  sourceId: string;
  created: boolean;
}

export interface ConversationForContactInput {
  accountId: number;
  inboxId: number;
  contactId: number;
  sourceId: string;
}

/** Failure type of a contact, inbox or conversation that does not exist: never retried. */
export const NOT_FOUND_FAILURE = 'ChatwootNotFound';

/** Search pages (15 contacts each) read before concluding a contact does not exist. */
const MAX_SEARCH_PAGES = 5;
const SEARCH_PAGE_SIZE = 15;

/**
 * The steps before a proactive post. Each is find-then-create, so a retry after a lost
 * response finds what the earlier attempt created instead of creating it twice.
 */
export function createProactiveActivities(chatwoot: ChatwootClient) {
  return {
    /** Finds the contact by identifier, email or phone number, or creates it; links it to the inbox. */
    async resolveContact(input: ResolveContactInput): Promise<ResolvedContact> {
      const { accountId, inboxId } = input;
      let contact = await findContact(chatwoot, accountId, input.contact);
      let created = false;
      if (!contact) {
        try {
          const result = await chatwoot.createContact(accountId, {
            inbox_id: inboxId,
            ...definedFields(input.contact),
          });
          if (result.sourceId) {
            return { contactId: result.contact.id, sourceId: result.sourceId, created: true };
          }
          contact = result.contact;
          created = true;
        } catch (error) {
          notFound(error, `inbox ${inboxId} not found`);
          // 422: created meanwhile by another message to the same contact; use that one.
          contact = isStatus(error, 422)
            ? await findContact(chatwoot, accountId, input.contact)
            : undefined;
          if (!contact) throw toActivityFailure(error);
        }
      }
      const linked = contact.contact_inboxes?.find((link) => link.inbox?.id === inboxId);
      if (linked?.source_id) return { contactId: contact.id, sourceId: linked.source_id, created };
      try {
        const link = await chatwoot.createContactInbox(accountId, contact.id, inboxId);
        return { contactId: contact.id, sourceId: link.source_id, created };
      } catch (error) {
        notFound(error, `inbox ${inboxId} not found`);
        throw toActivityFailure(error);
      }
    },

    /**
     * The contact's latest unresolved conversation in the inbox, or a new one. A resolved
     * conversation is left closed: the message starts a fresh thread.
     */
    async findOrCreateConversation(
      input: ConversationForContactInput,
    ): Promise<{ conversationId: number; created: boolean }> {
      const { accountId, inboxId, contactId } = input;
      try {
        const conversations = await chatwoot.listContactConversations(accountId, contactId);
        const open = conversations
          .filter((c) => c.inbox_id === inboxId && c.status !== 'resolved')
          .sort((a, b) => (b.last_activity_at ?? 0) - (a.last_activity_at ?? 0) || b.id - a.id);
        const latest = open[0];
        if (latest) return { conversationId: latest.id, created: false };
        const conversation = await chatwoot.createConversation(accountId, {
          source_id: input.sourceId,
          inbox_id: inboxId,
          contact_id: contactId,
        });
        return { conversationId: conversation.id, created: true };
      } catch (error) {
        notFound(error, `contact ${contactId} or inbox ${inboxId} not found`);
        throw toActivityFailure(error);
      }
    },
  };
}

/** Chatwoot's search is fuzzy (substring of name, email, phone, identifier): keep exact matches. */
async function findContact(
  chatwoot: ChatwootClient,
  accountId: number,
  selector: ContactSelector,
): Promise<ChatwootContact | undefined> {
  const lookups: Array<[string | undefined, (contact: ChatwootContact) => boolean]> = [
    [selector.identifier, (c) => c.identifier === selector.identifier],
    [selector.email, (c) => c.email?.toLowerCase() === selector.email?.toLowerCase()],
    [selector.phone_number, (c) => c.phone_number === selector.phone_number],
  ];
  for (const [query, matches] of lookups) {
    if (!query) continue;
    for (let page = 1; page <= MAX_SEARCH_PAGES; page += 1) {
      const contacts = await callChatwoot(() => chatwoot.searchContacts(accountId, query, page));
      const found = contacts.find(matches);
      if (found) return found;
      if (contacts.length < SEARCH_PAGE_SIZE) break;
    }
  }
  return undefined;
}

function definedFields(selector: ContactSelector): ContactSelector {
  return Object.fromEntries(
    Object.entries(selector).filter(([, value]) => value !== undefined && value !== ''),
  );
}

function isStatus(error: unknown, status: number): boolean {
  return error instanceof ChatwootRequestError && error.status === status;
}

/** A 404 is final: fail without retrying, with a reason a person can act on. */
function notFound(error: unknown, reason: string): void {
  if (isStatus(error, 404)) {
    throw ApplicationFailure.create({
      type: NOT_FOUND_FAILURE,
      message: reason,
      nonRetryable: true,
    });
  }
}
