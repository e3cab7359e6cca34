/**
 * What a chaos run counts, from what ended up in the fake Chatwoot: each customer message is
 * answered (its echo was posted), handed off (the bridge gave it to the team), or lost; copies
 * beyond the first are duplicates; a reply posted after the reply to a message the customer
 * wrote later is out of order.
 */
import type { StoredMessage } from '../fakeChatwoot.js';

export interface SentMessage {
  conversationId: number;
  /** Order of writing within the conversation, from 0. */
  index: number;
  /** Chatwoot's id of the customer message. */
  messageId: number;
  /** Date.now() when it was written. */
  sentAt: number;
}

export interface ConversationTally {
  conversationId: number;
  sent: number;
  answered: number;
  duplicated: number;
  outOfOrder: number;
  /** The customer-side index each reply answered, in the order the replies were posted. */
  replyOrder: number[];
}

export interface Tally {
  sent: number;
  answered: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  handedOff: number;
  conversations: number;
  conversationsInOrder: number;
  /** Date.now() when the last sent message was answered or handed off (undefined: none was). */
  lastSettledAt?: number;
  /** Up to 50 of them, for the report. */
  lostMessages: Array<Pick<SentMessage, 'conversationId' | 'index' | 'messageId'>>;
  perConversation: ConversationTally[];
  /** Customer message id → what became of it. */
  outcomes: Record<number, MessageOutcome>;
}

export type MessageOutcome = 'answered' | 'handed off' | 'lost';

/** The customer text of a message: the echo agent answers with `echo: <this>`. */
export function customerText(conversationId: number, index: number): string {
  return `chaos c${conversationId} #${index}`;
}

const CUSTOMER_TEXT = /chaos c(\d+) #(\d+)/;
const HANDOFF_NOTE = /handed message (\d+)\b/;

export function tally(
  sent: SentMessage[],
  conversationMessages: (conversationId: number) => StoredMessage[],
  storedAt: (messageId: number) => number | undefined,
): Tally {
  const byConversation = new Map<number, SentMessage[]>();
  for (const message of sent) {
    const list = byConversation.get(message.conversationId) ?? [];
    list.push(message);
    byConversation.set(message.conversationId, list);
  }
  const result: Tally = {
    sent: sent.length,
    answered: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    handedOff: 0,
    conversations: byConversation.size,
    conversationsInOrder: 0,
    lostMessages: [],
    perConversation: [],
    outcomes: {},
  };
  const settle = (at: number | undefined) => {
    if (at !== undefined) result.lastSettledAt = Math.max(result.lastSettledAt ?? 0, at);
  };

  for (const [conversationId, written] of [...byConversation].sort((a, b) => a[0] - b[0])) {
    const stored = conversationMessages(conversationId);
    const copies = new Map<number, StoredMessage[]>();
    const handedOff = new Map<number, number | undefined>();
    let handoffAt: number | undefined;
    const replyOrder: number[] = [];
    for (const message of stored) {
      if (message.message_type !== 'outgoing') continue;
      if (message.private) {
        const handoff = HANDOFF_NOTE.exec(message.content);
        if (handoff) {
          handedOff.set(Number(handoff[1]), storedAt(message.id));
          handoffAt ??= storedAt(message.id);
        }
        continue;
      }
      const match = CUSTOMER_TEXT.exec(message.content);
      if (!match || Number(match[1]) !== conversationId) continue;
      const index = Number(match[2]);
      const list = copies.get(index) ?? [];
      if (list.length === 0) replyOrder.push(index);
      list.push(message);
      copies.set(index, list);
    }

    const conversation: ConversationTally = {
      conversationId,
      sent: written.length,
      answered: 0,
      duplicated: 0,
      outOfOrder: 0,
      replyOrder,
    };
    let highest = -1;
    for (const index of replyOrder) {
      if (index < highest) conversation.outOfOrder += 1;
      highest = Math.max(highest, index);
    }
    for (const message of written) {
      const replies = copies.get(message.index) ?? [];
      if (replies.length > 0) {
        conversation.answered += 1;
        result.outcomes[message.messageId] = 'answered';
        conversation.duplicated += replies.length - 1;
        settle(storedAt((replies[0] as StoredMessage).id));
      } else if (handedOff.has(message.messageId)) {
        result.handedOff += 1;
        result.outcomes[message.messageId] = 'handed off';
        settle(handedOff.get(message.messageId));
      } else if (handoffAt !== undefined && message.sentAt > handoffAt) {
        // Written after the bridge handed the conversation to the team: theirs to answer.
        result.handedOff += 1;
        result.outcomes[message.messageId] = 'handed off';
      } else {
        result.lost += 1;
        result.outcomes[message.messageId] = 'lost';
        if (result.lostMessages.length < 50) {
          result.lostMessages.push({
            conversationId,
            index: message.index,
            messageId: message.messageId,
          });
        }
      }
    }
    result.answered += conversation.answered;
    result.duplicated += conversation.duplicated;
    result.outOfOrder += conversation.outOfOrder;
    if (conversation.outOfOrder === 0) result.conversationsInOrder += 1;
    result.perConversation.push(conversation);
  }
  return result;
}
