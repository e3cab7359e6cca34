import type { CreateMessageResult } from '../activities/chatwoot.js';
import { richContentOf, type RichContent } from './richContent.js';
import { splitReply } from './replySplit.js';
import type { AgentReply, ReplyReport } from './shared.js';

/**
 * What one agent reply becomes in Chatwoot: its text, cut into parts at
 * `splitRepliesAtChars`, and the interactive content (buttons, cards, form, article) it asked
 * for, carried by the last part so the customer reads the text before answering. Each part is
 * its own post with its own marker, so a retried post never doubles a part. Pure: bundled into
 * workflow code (messageDelivery.ts calls it behind `patched('rich-replies')`).
 */

export interface PlannedPost {
  /** The marker's part: the reply index for the first part (as before), `{index}.{n}` after. */
  part: number | string;
  content: string;
  /** ` (part 2/3)` for the activity summary; empty for a reply in one part. */
  label: string;
  rich?: RichContent;
}

export interface ReplyPlan {
  posts: PlannedPost[];
  /** The interactive content the agent asked for was refused: why (posted as text, or not at all). */
  contentError?: string;
}

export function planReplyPosts(reply: AgentReply, splitRepliesAtChars?: number): ReplyPlan {
  const check = richContentOf(reply.metadata);
  const contentError = check.kind === 'invalid' ? check.error : undefined;
  // An invalid interactive reply goes out as the text it had; with no text, not at all.
  if (contentError !== undefined && !reply.content.trim()) return { posts: [], contentError };
  const parts = splitReply(reply.content, splitRepliesAtChars);
  const posts = parts.map((content, n): PlannedPost => ({
    part: n === 0 ? reply.index : `${reply.index}.${n}`,
    content,
    label: parts.length > 1 ? ` (part ${n + 1}/${parts.length})` : '',
  }));
  if (check.kind === 'valid') (posts.at(-1) as PlannedPost).rich = check.rich;
  return { posts, ...(contentError !== undefined ? { contentError } : {}) };
}

/** The report fields of a reply posted by plan (`invalid`: nothing could be posted). */
export type PlannedReplyOutcome =
  | ({ status: 'posted' } & Pick<
      ReplyReport,
      'chatwootMessageId' | 'alreadyPosted' | 'parts' | 'contentError' | 'contentType'
    >)
  | { status: 'invalid'; error: string };

/** Posts the parts in order (a failure throws, as a single post did); reports them. */
export async function postPlannedReply(
  plan: ReplyPlan,
  post: (planned: PlannedPost) => Promise<CreateMessageResult>,
): Promise<PlannedReplyOutcome> {
  if (plan.posts.length === 0) {
    return { status: 'invalid', error: `not posted: ${plan.contentError ?? 'no content'}` };
  }
  const results: CreateMessageResult[] = [];
  for (const planned of plan.posts) results.push(await post(planned));
  const first = results[0] as CreateMessageResult;
  const rich = plan.posts.at(-1)?.rich;
  return {
    status: 'posted',
    chatwootMessageId: first.chatwootMessageId,
    alreadyPosted: first.alreadyPosted,
    ...(results.length > 1 ? { parts: results } : {}),
    ...(rich ? { contentType: rich.contentType } : {}),
    ...(plan.contentError !== undefined
      ? { contentError: `posted as plain text: ${plan.contentError}` }
      : {}),
  };
}

/**
 * The text of a reply that is one plain post: no interactive content, no parts, no files, no
 * private note and no actions to run after it. Undefined otherwise. The agent exchange may post
 * such a reply itself; any other goes through the workflow's posts.
 */
export function plainReplyText(
  reply: AgentReply,
  splitRepliesAtChars?: number,
): string | undefined {
  const { attachments, actions, privateNote } = reply.metadata;
  if (attachments !== undefined && attachments !== null) return undefined;
  if (actions !== undefined && actions !== null) return undefined;
  if (typeof privateNote === 'string' && privateNote.trim()) return undefined;
  const plan = planReplyPosts(reply, splitRepliesAtChars);
  const [only] = plan.posts;
  if (plan.posts.length !== 1 || !only || only.rich || plan.contentError !== undefined) {
    return undefined;
  }
  return only.content.trim() ? only.content : undefined;
}
