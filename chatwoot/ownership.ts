import type { ConversationFacts } from '../workflows/shared.js';
import type { OwnershipMeta } from './webhookSchema.js';

/** `meta.assignee.type` of the typed AI owners Chatwoot 4.16+ reports (PRs #14875, #15421). */
const AI_ASSIGNEE_TYPES = new Set(['agent_bot', 'captain_assistant']);

/**
 * What a payload says about its conversation: status and owner. Old payloads name a user
 * assignee only (a user listed in `conversation.botAssigneeIds` stands for the bot); Chatwoot
 * 4.16+ also names an agent bot or Captain as the typed owner (`meta.assignee_type` other than
 * `User`, or `meta.assignee.type` `agent_bot` / `captain_assistant`). Assigning the bot is not a
 * human takeover. A payload without ownership data leaves `owner` unset (unknown).
 */
export function conversationFacts(
  conversation: { status?: string | undefined; meta?: OwnershipMeta | null | undefined },
  botAssigneeIds: readonly number[],
): ConversationFacts {
  return {
    ...(conversation.status ? { status: conversation.status } : {}),
    ...ownerOf(conversation.meta ?? undefined, botAssigneeIds),
  };
}

function ownerOf(
  meta: OwnershipMeta | undefined,
  botAssigneeIds: readonly number[],
): Pick<ConversationFacts, 'owner' | 'ownerName'> {
  if (!meta) return {};
  const { assignee, assignee_type: assigneeType } = meta;
  if (typeof assigneeType === 'string' && assigneeType !== 'User') return { owner: 'bot' };
  if (assignee === undefined) return assigneeType === null ? { owner: 'none' } : {};
  if (assignee === null) return assigneeType === 'User' ? { owner: 'human' } : { owner: 'none' };
  if (assignee.type && AI_ASSIGNEE_TYPES.has(assignee.type)) return { owner: 'bot' };
  if (assignee.id !== undefined && botAssigneeIds.includes(assignee.id)) return { owner: 'bot' };
  // Any other assignee (a user, or a type this bridge does not know) is a person: stay quiet.
  const name = assignee.available_name ?? assignee.name;
  return { owner: 'human', ...(name ? { ownerName: name } : {}) };
}
