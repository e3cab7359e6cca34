import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ChatwootClient } from '../chatwoot/client.js';
import type { AgentAction } from '../workflows/agentActions.js';
import { callChatwoot, type ConversationRef } from './chatwoot.js';

export interface ConversationActionInput extends ConversationRef {
  action: AgentAction;
}

/** What an attempt that changed the labels leaves for a retry (heartbeat details). */
interface LabelProgress {
  labelsApplied: true;
}

/**
 * One agent action on a conversation (workflows/agentActions.ts decides which run). Every action
 * sets a state rather than toggling one, so a retry after a lost answer does the same thing
 * again. Labels are the exception Chatwoot forces: its only write replaces the whole set, so
 * add/remove read the labels and write the set back; a retry whose previous attempt wrote it
 * (heartbeat) stops there, so it never re-adds a label someone removed in between.
 */
export function createConversationActionActivities(chatwoot: ChatwootClient) {
  return {
    async runConversationAction(input: ConversationActionInput): Promise<void> {
      const { accountId, conversationId, action } = input;
      switch (action.type) {
        case 'add_labels':
        case 'remove_labels':
          return changeLabels(chatwoot, input, action);
        case 'set_priority':
          return callChatwoot(() =>
            chatwoot.setPriority(accountId, conversationId, action.priority ?? 'none'),
          );
        case 'set_custom_attributes':
          return callChatwoot(() =>
            chatwoot.mergeCustomAttributes(accountId, conversationId, action.attributes),
          );
        case 'assign_team':
          return callChatwoot(() =>
            chatwoot.assign(accountId, conversationId, { team_id: action.team_id }),
          );
        case 'assign_agent':
          return callChatwoot(() =>
            chatwoot.assign(accountId, conversationId, { assignee_id: action.assignee_id }),
          );
        case 'snooze':
          return callChatwoot(() =>
            chatwoot.snooze(accountId, conversationId, Math.floor(Date.parse(action.until) / 1000)),
          );
        case 'resolve':
          return callChatwoot(() => chatwoot.toggleStatus(accountId, conversationId, 'resolved'));
        case 'open':
          return callChatwoot(() => chatwoot.toggleStatus(accountId, conversationId, 'open'));
      }
    },
  };
}

async function changeLabels(
  chatwoot: ChatwootClient,
  { accountId, conversationId }: ConversationRef,
  action: Extract<AgentAction, { type: 'add_labels' | 'remove_labels' }>,
): Promise<void> {
  const context = Context.current();
  if ((context.info.heartbeatDetails as Partial<LabelProgress> | undefined)?.labelsApplied) return;
  const current = await callChatwoot(() => chatwoot.listLabels(accountId, conversationId));
  const wanted =
    action.type === 'add_labels'
      ? [...new Set([...current, ...action.labels])]
      : current.filter((label) => !action.labels.includes(label));
  // Nothing to change: no write, so nobody's concurrent change can be lost.
  if (wanted.length === current.length && wanted.every((label) => current.includes(label))) {
    return;
  }
  // Read and write back to back: the window in which a team member's change could be lost.
  const now = await callChatwoot(() => chatwoot.replaceLabels(accountId, conversationId, wanted));
  context.heartbeat({ labelsApplied: true } satisfies LabelProgress);
  const missing = action.type === 'add_labels' ? action.labels.filter((l) => !now.includes(l)) : [];
  if (missing.length > 0) {
    // Chatwoot keeps only labels created in the account (Settings → Labels) and drops the rest.
    throw ApplicationFailure.create({
      type: 'LabelNotDefined',
      message: `not defined in the Chatwoot account (create them under Settings → Labels): ${missing.join(', ')}`,
      nonRetryable: true,
    });
  }
}
