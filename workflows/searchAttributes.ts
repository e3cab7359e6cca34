import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { markdownText } from './markdownText.js';

/** Keyword search attributes: find every delivery by account, conversation, inbox, message, agent or status. */
export const searchAttributes = {
  accountId: defineSearchAttributeKey('ChatwootAccountId', SearchAttributeType.KEYWORD),
  conversationId: defineSearchAttributeKey('ChatwootConversationId', SearchAttributeType.KEYWORD),
  inboxId: defineSearchAttributeKey('ChatwootInboxId', SearchAttributeType.KEYWORD),
  messageId: defineSearchAttributeKey('ChatwootMessageId', SearchAttributeType.KEYWORD),
  agentId: defineSearchAttributeKey('AgentId', SearchAttributeType.KEYWORD),
  deliveryStatus: defineSearchAttributeKey('DeliveryStatus', SearchAttributeType.KEYWORD),
};

/** The search attributes and summary a message-delivery workflow starts with. */
export function messageDeliveryStartOptions(
  input: {
    accountId: number;
    conversationId: number;
    inboxId: number;
    messageId: number;
    agentId: string;
    content: string;
    attachments: unknown[];
    sender: { id?: number; name?: string | null };
    mergedMessageIds?: number[];
  },
  { initialStatus = true }: { initialStatus?: boolean } = {},
) {
  return {
    staticSummary: summarizeMessage(input),
    staticDetails: detailMessage(input),
    typedSearchAttributes: [
      { key: searchAttributes.accountId, value: String(input.accountId) },
      { key: searchAttributes.conversationId, value: String(input.conversationId) },
      { key: searchAttributes.inboxId, value: String(input.inboxId) },
      { key: searchAttributes.messageId, value: String(input.messageId) },
      { key: searchAttributes.agentId, value: input.agentId },
      ...(initialStatus ? [{ key: searchAttributes.deliveryStatus, value: 'received' }] : []),
    ],
  };
}

function summarizeMessage(input: {
  conversationId: number;
  agentId: string;
  content: string;
  attachments: unknown[];
  mergedMessageIds?: number[];
}): string {
  const text = previewText(input.content);
  const preview = text ? `"${markdownText(text)}"` : `(${input.attachments.length} attachment(s))`;
  const merged = (input.mergedMessageIds?.length ?? 1) > 1;
  const count = merged ? ` (${input.mergedMessageIds?.length} messages merged)` : '';
  return `conversation ${input.conversationId} → ${input.agentId}: ${preview}${count}`;
}

/** The first words of a message, short enough for a workflow summary. */
export function previewText(content: string): string {
  const words = content.trim().split(/\s+/).slice(0, 8).join(' ');
  return words.length > 60 ? `${words.slice(0, 57)}...` : words;
}

/** The UI's "Details" panel (Markdown): where the message came from and who answers it. */
function detailMessage(input: Parameters<typeof messageDeliveryStartOptions>[0]): string {
  const from = input.sender.name
    ? markdownText(input.sender.name)
    : `contact ${input.sender.id ?? 'unknown'}`;
  const merged = input.mergedMessageIds?.length
    ? ` (merged: ${input.mergedMessageIds.join(', ')})`
    : '';
  return [
    `**Chatwoot** account ${input.accountId} · inbox ${input.inboxId} · conversation ${input.conversationId} · message ${input.messageId}${merged}`,
    `**From** ${from}${input.attachments.length ? ` · ${input.attachments.length} attachment(s)` : ''}`,
    `**Agent** ${input.agentId}`,
  ].join('\n\n');
}
