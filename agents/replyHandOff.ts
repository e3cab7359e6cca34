import type { ReplyPayload } from '../machines/connection.js';
import { limitReply } from './replyLimits.js';
import type { ExchangeHooks } from './types.js';

/**
 * Hands replies to `hooks.onReply` one at a time, in order, while the exchange goes on.
 * The first failure cancels the exchange (`onFailure`) and is thrown by `settled()`, so an
 * exchange never reports success for a reply the workflow did not get. Each reply is bounded
 * first (agents/replyLimits.ts), so none is too large for Temporal or Chatwoot.
 */
export function replyHandOff(
  hooks: ExchangeHooks,
  onFailure: () => void,
  limits: { agentId: string; maxReplyChars: number },
) {
  let queue: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  return {
    push(reply: ReplyPayload, index: number): void {
      queue = queue
        .then(() => hooks.onReply(limitReply(reply, limits, index), index))
        .catch((error: unknown) => {
          failure ??=
            error instanceof Error ? error : new Error('reply hand-off failed', { cause: error });
          onFailure();
        });
    },
    /** Resolves once every reply was handed off; throws the first failure. */
    async settled(): Promise<void> {
      await queue;
      if (failure) throw failure;
    },
  };
}
