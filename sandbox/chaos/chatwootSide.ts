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
  accountId: number;
  inboxId: number;
  conversationIds: number[];
}

/** How often status changes are looked for (Chatwoot announces them as they commit). */
const STATUS_POLL_MS = 50;

export class ChatwootSide {
  readonly sender: AgentBotSender;
  private readonly storedAt = new Map<number, number>();
  private readonly knownStatusChanges = new Map<number, number>();
  private readonly statusPoll: NodeJS.Timeout;
  private readonly onMessage = (message: StoredMessage) => this.announce(message);

  constructor(private readonly options: ChatwootSideOptions) {
    this.sender = new AgentBotSender(options);
    options.chatwoot.on('message', this.onMessage);
    for (const id of options.conversationIds) this.knownStatusChanges.set(id, 0);
    this.statusPoll = setInterval(() => this.announceStatusChanges(), STATUS_POLL_MS);
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
        messageId: message.id,
        content: message.content,
        messageType: incoming ? 'incoming' : 'outgoing',
        private: message.private,
        sender: incoming ? 'contact' : 'agent_bot',
        sourceId: message.source_id,
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
