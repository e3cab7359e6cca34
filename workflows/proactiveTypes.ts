/**
 * Names and shapes of the proactive (agent-initiated) message workflow, shared with the
 * activities, the client, the API and the CLI. Pure definitions: bundled into workflow code.
 */
import type { ChatwootRetryPolicy } from './shared.js';

/** How to find the contact; the first of identifier, email, phone number that matches wins. */
export interface ContactSelector {
  identifier?: string;
  email?: string;
  phone_number?: string;
  /** Only used when the contact is created. */
  name?: string;
}

/** An existing conversation, or a contact (found or created) in an inbox. */
export type ProactiveTarget =
  { conversationId: number } | { inboxId: number; contact: ContactSelector };

export interface ProactiveMessageInput {
  accountId: number;
  target: ProactiveTarget;
  content: string;
  /** A private note for the team instead of a message to the contact. */
  private: boolean;
  /** The agent on whose behalf the message is sent (for search and the report). */
  agentId?: string;
  /** When the caller asked for it to be sent (ISO); the start delay holds the workflow until then. */
  sendAt?: string;
  policy: ChatwootRetryPolicy;
}

/** `scheduled` while the start delay runs, `sending` once the workflow works on it. */
export type ProactiveStatus = 'scheduled' | 'sending' | 'delivered' | 'failed';

export interface ProactiveReport {
  workflowId: string;
  outcome: 'delivered' | 'failed';
  /** Why it failed, e.g. `inbox 99 not found`. */
  reason?: string;
  accountId: number;
  conversationId?: number;
  inboxId?: number;
  contactId?: number;
  contactCreated?: boolean;
  conversationCreated?: boolean;
  chatwootMessageId?: number;
  /** The post found its own earlier copy (same `source_id`) and did not post again. */
  alreadyPosted?: boolean;
  postedAt?: string;
}

export function proactiveWorkflowId(accountId: number, idempotencyKey: string): string {
  return `proactive:${accountId}:${idempotencyKey}`;
}

/** `email a@b.c` — how a selector reads in summaries and errors. */
export function describeContact(contact: ContactSelector): string {
  if (contact.identifier) return `identifier ${contact.identifier}`;
  if (contact.email) return `email ${contact.email}`;
  if (contact.phone_number) return `phone ${contact.phone_number}`;
  return 'contact';
}
