import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  inboxStateQuery,
  takeTurnsUpdate,
  turnClosedSignal,
  turnOfferedSignal,
  type AgentInboxInput,
  type InboxEntry,
  type PullTurn,
} from './pullShared.js';

/** A turn nobody closed (its delivery was terminated by hand) is dropped after a day. */
const STALE_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * The inbox of one pull agent, `agent-inbox:{taskQueue}:{agentId}`: long-lived, durable, no state outside
 * Temporal. Delivery workflows offer turns (signal-with-start from an activity) and close them
 * when done; the HTTP API takes pending turns with a long-polling Update. A turn handed out but
 * not answered is offered again by its delivery's next attempt, so a lost inbox response costs
 * one reply timeout, never the turn.
 */
export async function agentInboxWorkflow(input: AgentInboxInput): Promise<void> {
  const entries = new Map<string, InboxEntry>(
    (input.entries ?? []).map((entry) => [entry.turnId, entry]),
  );
  let draining = false;

  const pending = () => [...entries.values()].filter((entry) => entry.deliveredAt === undefined);

  setHandler(turnOfferedSignal, ({ turnId, attempt, turn }) => {
    const existing = entries.get(turnId);
    // A retried offer of the same attempt changes nothing.
    if (existing && existing.attempt >= attempt) return;
    entries.set(turnId, { turnId, attempt, offeredAt: Date.now(), turn });
  });

  setHandler(turnClosedSignal, (turnId) => {
    entries.delete(turnId);
  });

  setHandler(
    takeTurnsUpdate,
    async ({ waitMs, limit }): Promise<PullTurn[]> => {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const taken = pending().slice(0, limit);
        if (taken.length > 0 || draining) {
          const now = Date.now();
          for (const entry of taken) entry.deliveredAt = now;
          return taken.map((entry) => entry.turn);
        }
        const left = deadline - Date.now();
        if (left <= 0) return [];
        // Another poller may take what woke us: loop and wait out the rest of the time.
        await condition(() => pending().length > 0 || draining, left);
      }
    },
    {
      validator: ({ waitMs, limit }) => {
        if (!Number.isInteger(waitMs) || waitMs < 0) {
          throw ApplicationFailure.nonRetryable('waitMs must be a whole number ≥ 0', 'BadRequest');
        }
        if (!Number.isInteger(limit) || limit < 1) {
          throw ApplicationFailure.nonRetryable('limit must be a whole number ≥ 1', 'BadRequest');
        }
      },
    },
  );

  setHandler(inboxStateQuery, () => {
    const view = (entry: InboxEntry) => ({ turnId: entry.turnId, attempt: entry.attempt });
    const all = [...entries.values()];
    return {
      pending: all.filter((entry) => entry.deliveredAt === undefined).map(view),
      delivered: all.filter((entry) => entry.deliveredAt !== undefined).map(view),
    };
  });

  // Every long poll adds events: start afresh before the history grows large.
  const limit = input.continueAfterEvents ?? 5_000;
  await condition(
    () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= limit,
  );
  // Waiting polls answer now (with whatever is pending) so every handler can finish first.
  draining = true;
  await condition(allHandlersFinished);
  const now = Date.now();
  await continueAsNew<typeof agentInboxWorkflow>({
    ...input,
    entries: [...entries.values()].filter((entry) => now - entry.offeredAt < STALE_AFTER_MS),
  });
}
