/**
 * Chatwoot as a chaos run sees it: the fake Chatwoot (which the bridge calls) plus the agent
 * bot's webhooks Chatwoot sends for what happens in it. A customer message is stored first and
 * then announced; the bridge's own messages (replies, private notes) and every status change
 * are announced too, as Chatwoot's AgentBotListener does, each from its own parallel job.
 */
import { AgentBotSender, type AgentBotSenderOptions } from '../chatwootSender.js';
import {
  conversationEventPayload,
  messageCreatedPayload,
  type ConversationStatus,
} from '../chatwootWebhooks.js';
import type { FakeChatwoot, StoredMessage } from '../fakeChatwoot.js';

export interface ChatwootSideOptions extends Omit<AgentBotSenderOptions, 'chatwoot'> {
  chatwoot: FakeChatwoot;
  /** The fake's access token: conversations are opened through its API, as a channel would. */
  apiAccessToken: string;
  accountId: number;
  inboxId: number;
}

/** A customer and their conversation, as Chatwoot stores them. */
export interface Customer {
  conversationId: number;
  contactId: number;
}

/** How often status changes are looked for (Chatwoot announces them as they commit). */
const STATUS_POLL_MS = 50;

export class ChatwootSide {
  readonly sender: AgentBotSender;
  private readonly storedAt = new Map<number, number>();
  private readonly knownStatusChanges = new Map<number, number>();
  private readonly statusPoll: NodeJS.Timeout;
  private readonly onMessage = (message: StoredMessage) => this.announce(message);

  private readonly contactOf = new Map<number, number>();

  constructor(private readonly options: ChatwootSideOptions) {
    this.sender = new AgentBotSender(options);
    options.chatwoot.on('message', this.onMessage);
    this.statusPoll = setInterval(() => this.announceStatusChanges(), STATUS_POLL_MS);
  }

  /**
   * A new customer in the bot's inbox: a contact and a pending conversation, created through the
   * fake's API so the conversation is a full record (listings, inbox, contact) like Chatwoot's.
   */
  async newCustomer(name: string): Promise<Customer> {
    const { chatwoot, accountId, inboxId, apiAccessToken } = this.options;
    const contact = chatwoot.addContact(accountId, { name }, [inboxId]);
    const sourceId = contact.contact_inboxes[0]?.source_id;
    const response = await fetch(`${chatwoot.url}/api/v1/accounts/${accountId}/conversations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', api_access_token: apiAccessToken },
      body: JSON.stringify({
        source_id: sourceId,
        inbox_id: inboxId,
        contact_id: contact.id,
        status: 'pending',
      }),
    });
    const body = (await response.json()) as { id?: number };
    if (!response.ok || typeof body.id !== 'number') {
      throw new Error(`the fake Chatwoot did not create a conversation: ${JSON.stringify(body)}`);
    }
    this.contactOf.set(body.id, contact.id);
    this.knownStatusChanges.set(body.id, chatwoot.statusChanges(accountId, body.id).length);
    return { conversationId: body.id, contactId: contact.id };
  }

  /** The customer writes: Chatwoot stores the message, then its webhook job is enqueued. */
  customerWrites(conversationId: number, content: string): StoredMessage {
    const { chatwoot, accountId, inboxId } = this.options;
    return chatwoot.addMessage(accountId, conversationId, {
      content,
      message_type: 'incoming',
      inbox_id: inboxId,
    });
  }

  /** Date.now() when the fake stored the message. */
  storedAtOf(messageId: number): number | undefined {
    return this.storedAt.get(messageId);
  }

  close(): void {
    this.options.chatwoot.off('message', this.onMessage);
    clearInterval(this.statusPoll);
  }

  /** `message_created` to the bot, for every message but activity lines (`webhook_sendable?`). */
  private announce(message: StoredMessage): void {
    this.storedAt.set(message.id, Date.now());
    if (message.account_id !== this.options.accountId) return;
    if (message.message_type === 'activity') return;
    const incoming = message.message_type === 'incoming';
    this.sender.enqueue(
      messageCreatedPayload({
        accountId: message.account_id,
        conversationId: message.conversation_id,
        inboxId: this.options.inboxId,
        contactId: this.contactOf.get(message.conversation_id),
        messageId: message.id,
        content: message.content,
        messageType: incoming ? 'incoming' : 'outgoing',
        private: message.private,
        sender: incoming ? 'contact' : 'agent_bot',
        sourceId: message.source_id,
        contentAttributes: message.content_attributes,
        status: this.statusOf(message.conversation_id),
      }),
    );
  }

  private announceStatusChanges(): void {
    const { chatwoot, accountId, inboxId } = this.options;
    for (const [conversationId, known] of this.knownStatusChanges) {
      const changes = chatwoot.statusChanges(accountId, conversationId);
      for (let i = known; i < changes.length; i++) {
        this.sender.enqueue(
          conversationEventPayload('conversation_status_changed', {
            accountId,
            conversationId,
            inboxId,
            contactId: this.contactOf.get(conversationId),
            status: changes[i] as ConversationStatus,
            previousStatus: (changes[i - 1] ?? 'pending') as ConversationStatus,
          }),
        );
      }
      this.knownStatusChanges.set(conversationId, changes.length);
    }
  }

  private statusOf(conversationId: number): ConversationStatus {
    return this.options.chatwoot.status(
      this.options.accountId,
      conversationId,
    ) as ConversationStatus;
  }
}
