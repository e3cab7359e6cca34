import type { Attachment, ChatwootRetryPolicy, SenderInfo } from './shared.js';

/**
 * Names and shapes shared by the catch-up workflow, its activities and the worker that
 * schedules it. Pure definitions: this file is bundled into workflow code.
 */

/** One Schedule per Chatwoot account; its runs are `catch-up:{accountId}-{time}`. */
export function catchUpScheduleId(accountId: number): string {
  return `catch-up:${accountId}`;
}

export interface CatchUpInput {
  accountId: number;
}

/** A customer message the bot never saw, as the webhook would have handed it over. */
export interface MissedMessage {
  messageId: number;
  content: string;
  attachments: Attachment[];
  createdAtMs: number;
}

export interface MissedConversation {
  conversationId: number;
  inboxId: number;
  agentId: string;
  action: 'answer' | 'hand_to_team' | 'back_to_pending';
  /** Chatwoot opened it because the bot's webhook failed: it goes back to pending with the bot. */
  reopened: boolean;
  /** `bot`: typed bot owner or a bot user assigned; `none`: unassigned (old Chatwoot). */
  owner: 'bot' | 'none';
  /** Oldest first. */
  messages: MissedMessage[];
  sender: SenderInfo;
}

export interface CatchUpPlan {
  /** The window this run covered: conversations with activity since `sinceMs`. */
  sinceMs: number;
  /** When the listing started: where the next run continues from. */
  listedAtMs: number;
  /** False when the listing stopped at its page cap: the next run covers this window again. */
  complete: boolean;
  conversations: MissedConversation[];
  /** Conversations looked at and left alone (a human has them, nothing missed...). */
  leftAlone: number;
  /** Read from the configuration in force when the run started. */
  chatwootPolicy: ChatwootRetryPolicy;
}

export interface CatchUpReport {
  sinceMs: number;
  /** Where the next run continues from (`sinceMs` again when this run could not finish the window). */
  cursorMs: number;
  caughtUpMessages: number;
  caughtUpConversations: number;
  handedToTeamMessages: number;
  handedToTeamConversations: number;
  backToPending: number;
  leftAlone: number;
  summary: string;
}

/** "caught up 3 messages in 2 conversations", plus what went to the team. */
export function describeCatchUp(report: Omit<CatchUpReport, 'summary'>): string {
  const parts = [
    `caught up ${plural(report.caughtUpMessages, 'message')} in ${plural(report.caughtUpConversations, 'conversation')}`,
  ];
  if (report.handedToTeamConversations > 0) {
    parts.push(
      `handed ${plural(report.handedToTeamMessages, 'old message')} in ${plural(report.handedToTeamConversations, 'conversation')} to the team`,
    );
  }
  if (report.backToPending > 0) {
    parts.push(`${plural(report.backToPending, 'conversation')} back to pending`);
  }
  return parts.join('; ');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
