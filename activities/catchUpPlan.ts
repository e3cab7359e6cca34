import type { ChatwootListedConversation, ChatwootListedMessage } from '../chatwoot/client.js';
import { isBridgeMessage } from '../chatwoot/sourceId.js';
import type { ConversationFacts } from '../workflows/shared.js';

/**
 * What catch-up does with one conversation, decided from its listing and newest messages alone
 * (pure, table-tested). Chatwoot's own words for an agent-bot webhook that failed for good
 * (`Webhooks::ErrorHandler`, `conversations.activity.agent_bot.error_moved_to_open`).
 */
export const BOT_ERROR_ACTIVITY =
  'Conversation was marked open by system due to an error with the agent bot.';

/** API message types (the list endpoints render the integer code). */
const INCOMING = 0;
const OUTGOING = 1;
const ACTIVITY = 2;
const TEMPLATE = 3;

/** A private note the catch-up leaves when it hands a conversation to the team. */
export const CATCH_UP_NOTE_PART = 'catch-up-handoff';

export type CatchUpDecision =
  | { action: 'leave'; reason: string }
  /** Customer messages the bot never saw; `reopened`: Chatwoot opened it on the bot's failure. */
  | { action: 'answer'; messages: ChatwootListedMessage[]; reopened: boolean }
  /** The same, but too old to answer now: the team takes the conversation. */
  | { action: 'hand_to_team'; messages: ChatwootListedMessage[] }
  /** The bot answered a conversation Chatwoot had opened on its failure: it is the bot's again. */
  | { action: 'back_to_pending' };

export interface PlanInput {
  conversation: ChatwootListedConversation;
  /** Newest messages, oldest first (enough pages to reach the last outgoing one). */
  messages: ChatwootListedMessage[];
  /** Chatwoot user ids that stand for the bot (`conversation.botAssigneeIds`). */
  botAssigneeIds: readonly number[];
  nowMs: number;
  maxAgeMs: number;
  /** Ids among `deliveryCandidates` whose delivery workflow exists (the bot has them). */
  delivered: ReadonlySet<number>;
}

/** Who owns the conversation, on payloads from before and after Chatwoot 4.16. */
export function ownerOf(
  conversation: ChatwootListedConversation,
  botAssigneeIds: readonly number[],
): NonNullable<ConversationFacts['owner']> {
  const assignee = conversation.meta?.assignee;
  const type = conversation.meta?.assignee_type;
  if (type === 'AgentBot' || type === 'Captain::Assistant') return 'bot';
  if (!assignee) return 'none';
  if (assignee.id !== undefined && botAssigneeIds.includes(assignee.id)) return 'bot';
  return 'human';
}

/** A public reply: what ends a customer's wait (private notes and activities do not). */
function isPublicReply(message: ChatwootListedMessage): boolean {
  return (
    (message.message_type === OUTGOING || message.message_type === TEMPLATE) && !message.private
  );
}

/** The bridge wrote it: its marker, or posted with an agent-bot token. */
function isBotMessage(message: ChatwootListedMessage): boolean {
  return (
    isBridgeMessage(message) ||
    message.sender_type === 'AgentBot' ||
    message.sender_type === 'Captain::Assistant'
  );
}

function isCustomerMessage(message: ChatwootListedMessage): boolean {
  if (message.message_type !== INCOMING || message.private) return false;
  if (message.sender_type && message.sender_type !== 'Contact') return false;
  return Boolean(message.content?.trim()) || (message.attachments?.length ?? 0) > 0;
}

/**
 * Customer messages the bot may have missed, oldest first: every one after the last public
 * reply, and, because a reply to an older message can land after newer ones, every recent one
 * (within `maxAgeMs`) before it too. Not those a human has replied after: they are his.
 */
export function deliveryCandidates(
  messages: ChatwootListedMessage[],
  nowMs: number,
  maxAgeMs: number,
): ChatwootListedMessage[] {
  const lastReply = messages.findLastIndex(isPublicReply);
  const lastHumanReply = messages.findLastIndex(
    (message) => isPublicReply(message) && !isBotMessage(message),
  );
  return messages.filter(
    (message, index) =>
      index > lastHumanReply &&
      isCustomerMessage(message) &&
      (index > lastReply || nowMs - message.created_at * 1000 <= maxAgeMs),
  );
}

/** Candidates without a delivery: whether they come before or after the last reply. */
function unansweredMessages(input: PlanInput): ChatwootListedMessage[] {
  return deliveryCandidates(input.messages, input.nowMs, input.maxAgeMs).filter(
    (message) => !input.delivered.has(message.id),
  );
}

export function planConversation(input: PlanInput): CatchUpDecision {
  const { conversation, messages } = input;
  const owner = ownerOf(conversation, input.botAssigneeIds);
  if (owner === 'human') return { action: 'leave', reason: 'assigned to a human' };

  if (conversation.status === 'pending') {
    return missed(input, unansweredMessages(input), false);
  }
  if (conversation.status !== 'open') {
    return { action: 'leave', reason: `${conversation.status} conversation` };
  }

  // Open: only when Chatwoot opened it because the bot's webhook failed, and nobody acted since.
  const failedAt = messages.findLastIndex(
    (message) => message.message_type === ACTIVITY && message.content === BOT_ERROR_ACTIVITY,
  );
  if (failedAt === -1) return { action: 'leave', reason: 'open, with the team' };
  const since = messages.slice(failedAt + 1);
  if (since.some((message) => isPublicReply(message) && !isBotMessage(message))) {
    return { action: 'leave', reason: 'a human replied after the bot failed' };
  }
  if (since.some((message) => message.message_type === ACTIVITY)) {
    return { action: 'leave', reason: 'assigned or status changed after the bot failed' };
  }
  if (since.some((message) => message.private && isBridgeMessage(message))) {
    return { action: 'leave', reason: 'already handed to the team' };
  }
  const unanswered = unansweredMessages(input);
  if (unanswered.length > 0) return missed(input, unanswered, true);
  if (since.some((message) => isPublicReply(message) && isBotMessage(message))) {
    return { action: 'back_to_pending' };
  }
  return { action: 'leave', reason: 'nothing unanswered' };
}

function missed(
  input: PlanInput,
  messages: ChatwootListedMessage[],
  reopened: boolean,
): CatchUpDecision {
  if (messages.length === 0) return { action: 'leave', reason: 'nothing unanswered' };
  const oldestMs = Math.min(...messages.map((message) => message.created_at * 1000));
  return input.nowMs - oldestMs > input.maxAgeMs
    ? { action: 'hand_to_team', messages }
    : { action: 'answer', messages, reopened };
}

/**
 * Whether the conversation's messages are worth reading, judged from the listing alone (it
 * carries the newest message): a busy desk has many open conversations a human is working on.
 */
export function worthReading(
  conversation: ChatwootListedConversation,
  botAssigneeIds: readonly number[],
): boolean {
  if (ownerOf(conversation, botAssigneeIds) === 'human') return false;
  const last = conversation.messages?.at(-1);
  if (!last) return conversation.status === 'pending';
  // A bot reply on top may answer a newer message than one whose webhook Chatwoot gave up on.
  if (conversation.status === 'pending') return !isPublicReply(last) || isBotMessage(last);
  if (conversation.status !== 'open') return false;
  return (
    (last.message_type === ACTIVITY && last.content === BOT_ERROR_ACTIVITY) ||
    isCustomerMessage(last) ||
    (isPublicReply(last) && isBotMessage(last))
  );
}

/**
 * Whether the newest page may end before the last reply (or the failure activity), or before
 * messages recent enough to be missed ones behind a late reply: read on.
 */
export function needsOlderPage(
  status: string,
  messages: ChatwootListedMessage[],
  pageLength: number,
  recentSinceMs: number,
): boolean {
  if (pageLength < 20) return false;
  if (!messages.some(isPublicReply)) return true;
  if ((messages[0]?.created_at ?? 0) * 1000 >= recentSinceMs) return true;
  return (
    status === 'open' &&
    !messages.some((m) => m.message_type === ACTIVITY && m.content === BOT_ERROR_ACTIVITY)
  );
}

/**
 * The private note for the team: what the customer wrote while nobody answered, so the person
 * who picks it up knows what was missed without scrolling.
 */
export function handoffNote(messages: ChatwootListedMessage[], maxAgeMs: number): string {
  const oldest = messages[0];
  const when = oldest ? new Date(oldest.created_at * 1000).toISOString() : 'earlier';
  const minutes = Math.round(maxAgeMs / 60_000);
  const lines = messages.slice(-5).map((message) => `- ${preview(message)}`);
  return [
    `The assistant was unavailable and missed ${messages.length} customer message(s), the oldest at ${when}.`,
    `That is older than ${minutes} minute(s), so it did not answer them late: over to the team.`,
    ...lines,
  ].join('\n');
}

function preview(message: ChatwootListedMessage): string {
  const text = (message.content ?? '').trim().replace(/\s+/g, ' ');
  if (!text) return `(${message.attachments?.length ?? 0} attachment(s))`;
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
