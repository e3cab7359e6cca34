import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Keyword search attributes: find every delivery by account, conversation, inbox, message, agent or status. */
export const searchAttributes = {
  accountId: defineSearchAttributeKey('ChatwootAccountId', SearchAttributeType.KEYWORD),
  conversationId: defineSearchAttributeKey('ChatwootConversationId', SearchAttributeType.KEYWORD),
  inboxId: defineSearchAttributeKey('ChatwootInboxId', SearchAttributeType.KEYWORD),
  messageId: defineSearchAttributeKey('ChatwootMessageId', SearchAttributeType.KEYWORD),
  agentId: defineSearchAttributeKey('AgentId', SearchAttributeType.KEYWORD),
  deliveryStatus: defineSearchAttributeKey('DeliveryStatus', SearchAttributeType.KEYWORD),
};
