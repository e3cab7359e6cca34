import type { AgentReply, ReplyReport } from './shared.js';

/**
 * What a transport may attach to a reply beyond its text (agents/aiwm/exchange.ts does):
 * a private note for the team, and token usage and latency for the delivery report.
 * Pure: bundled into workflow code.
 */
export function replyExtras(reply: AgentReply): {
  privateNote?: string;
  report: Pick<ReplyReport, 'usage' | 'latencyMs'>;
} {
  const { privateNote, usage, latencyMs } = reply.metadata;
  const report: Pick<ReplyReport, 'usage' | 'latencyMs'> = {};
  if (isUsage(usage)) {
    report.usage = {
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      totalTokens: usage.totalTokens,
    };
  }
  if (typeof latencyMs === 'number') report.latencyMs = latencyMs;
  return {
    ...(typeof privateNote === 'string' && privateNote.trim() ? { privateNote } : {}),
    report,
  };
}

function isUsage(value: unknown): value is NonNullable<ReplyReport['usage']> {
  if (!value || typeof value !== 'object') return false;
  const usage = value as Record<string, unknown>;
  return ['promptTokens', 'completionTokens', 'totalTokens'].every(
    (key) => typeof usage[key] === 'number',
  );
}
