import { patched } from '@temporalio/workflow';
import type { CreateMessageInput } from '../activities/chatwoot.js';
import type { AgentReply, ReplyReport } from './shared.js';

/**
 * Files in agent replies (metadata `attachments`, issue 13): the workflow only hands the
 * agent's entries to the post, which fetches and checks them when it runs (activities/
 * attachments.ts), so no file bytes are written to history beyond what the reply carried.
 */

/** Replies with attachments carry them into their post (histories from before replay without). */
export const REPLY_ATTACHMENTS_PATCH = 'reply-attachments';

/** The post-input fields for `reply`'s files; none when it has none. */
export function replyFiles(
  reply: AgentReply,
  agentId: string,
  has: (change: string) => boolean = patched,
): Pick<CreateMessageInput, 'attachments' | 'agentId'> {
  const { attachments } = reply.metadata;
  if (attachments === undefined || attachments === null) return {};
  if (!has(REPLY_ATTACHMENTS_PATCH)) return {};
  // Not a list: one entry, which the post refuses with the reason.
  return { attachments: Array.isArray(attachments) ? attachments : [attachments], agentId };
}

/**
 * The private note for a posted reply: the agent's own note (reasoning, cut text) and, when
 * some of its files were not posted, which and why.
 */
export function noteWithFiles(
  privateNote: string | undefined,
  report: Pick<ReplyReport, 'index' | 'attachments'>,
  agentId: string,
): string | undefined {
  const missing = (report.attachments ?? []).filter((file) => file.status !== 'posted');
  if (missing.length === 0) return privateNote;
  const files = missing.map((file) => `${file.fileName} (${file.reason ?? file.status})`);
  const which = missing.length === 1 ? '1 file' : `${missing.length} files`;
  const line = `Reply ${report.index + 1} of AI agent "${agentId}" was posted without ${which}: ${files.join('; ')}.`;
  return privateNote ? `${privateNote}\n\n${line}` : line;
}
