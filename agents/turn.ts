import { defaultSessionId, type MessageDeliveryInput } from '../workflows/shared.js';
import type { AgentTurn } from './types.js';

/** The turn for one delivery workflow's input. */
export function turnFromMessage(
  agentId: string,
  attempt: number,
  message: Omit<MessageDeliveryInput, 'policy'>,
): AgentTurn {
  return {
    agentId,
    attempt,
    sessionId: message.sessionId ?? defaultSessionId(message),
    accountId: message.accountId,
    conversationId: message.conversationId,
    inboxId: message.inboxId,
    messageId: message.messageId,
    messageIds: message.mergedMessageIds ?? [message.messageId],
    content: message.content,
    attachments: message.attachments,
    sender: message.sender,
    ...(message.submittedValues ? { submittedValues: message.submittedValues } : {}),
  };
}
