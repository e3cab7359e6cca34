import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * Names and shapes for pull agents (seed 003), shared by the workflows, the offer activity and
 * the HTTP API. Pure definitions only: this file is bundled into workflow code.
 *
 * A pull agent's pending turns live in its inbox workflow `agent-inbox:{taskQueue}:{agentId}`;
 * each turn's replies go straight to the turn's delivery workflow, whose workflow id is the
 * turn's `message_id` as the agent sees it.
 */

/**
 * The inbox runs on the bridge's workflow task queue, which is part of its identity: a bridge
 * sharing the namespace with another (or renamed to a new queue) never sends its agents' turns
 * to an inbox no worker of its own serves.
 */
export function agentInboxWorkflowId(agentId: string, taskQueue: string): string {
  return `agent-inbox:${taskQueue}:${agentId}`;
}

/** One turn as the agent receives it (the `bridge-v1` request with an opaque `message_id`). */
export type PullTurn = { message_id: string } & Record<string, unknown>;

export interface InboxEntry {
  /** The delivery workflow id; also the turn's `message_id`. */
  turnId: string;
  /** The delivery's exchange attempt that offered it; a newer attempt offers it again. */
  attempt: number;
  offeredAt: number;
  /** Unset while pending; set once an inbox request handed it to the agent. */
  deliveredAt?: number;
  turn: PullTurn;
}

export interface AgentInboxInput {
  agentId: string;
  /** Carried over by continue-as-new. */
  entries?: InboxEntry[];
  /** Continue as new after this many history events (default 5,000). */
  continueAfterEvents?: number;
}

export interface TurnOffer {
  turnId: string;
  attempt: number;
  turn: PullTurn;
}

export interface TakeTurnsRequest {
  /** Wait up to this long for a turn when none is pending (0: answer at once). */
  waitMs: number;
  limit: number;
}

export interface InboxState {
  pending: Array<{ turnId: string; attempt: number }>;
  delivered: Array<{ turnId: string; attempt: number }>;
}

export const turnOfferedSignal = defineSignal<[TurnOffer]>('turnOffered');
/** The delivery is over: the turn leaves the inbox, wherever it was. */
export const turnClosedSignal = defineSignal<[string]>('turnClosed');
/** Long-poll: the pending turns (up to `limit`), marked delivered; waits when there are none. */
export const takeTurnsUpdate = defineUpdate<PullTurn[], [TakeTurnsRequest]>('takeTurns');
export const inboxStateQuery = defineQuery<InboxState>('inboxState');

/** What a pull agent posts to its outbox, as handed to the turn's delivery workflow. */
export type OutboxPost =
  | {
      agentId: string;
      kind: 'reply';
      content: string;
      final: boolean;
      /** The reply's 0-based position in the answer, when the agent numbers its replies. */
      sequence?: number;
      /** The agent's reply metadata (reply fields: content_type, attachments, actions…). */
      metadata?: Record<string, unknown>;
    }
  | { agentId: string; kind: 'error'; code: string; message: string; retryable: boolean };

export interface OutboxResult {
  duplicate: boolean;
  /** The reply's position among this turn's replies (replies only). */
  index?: number;
}

/** Why an outbox post was refused (the ApplicationFailure type the validator throws). */
export const OUTBOX_REJECTIONS = {
  /** The turn does not exist for this agent. */
  unknownTurn: 'UnknownTurn',
  /** The answer is over (final reply, reply cap, timeout or hand-off). */
  turnClosed: 'TurnClosed',
  /** The same `sequence` came with different content. */
  sequenceConflict: 'SequenceConflict',
} as const;

export interface PullRepliesState {
  agentId: string;
  open: boolean;
  replies: Array<{ content: string; sequence?: number }>;
}

export const outboxUpdate = defineUpdate<OutboxResult, [OutboxPost]>('agentOutbox');
/** Read after the delivery has closed, to tell a late duplicate from a late new reply. */
export const pullRepliesQuery = defineQuery<PullRepliesState>('pullReplies');

/** The existing reply a post repeats: same `sequence`, or (without one) the same content. */
export function findDuplicate(
  replies: PullRepliesState['replies'],
  post: { content: string; sequence?: number },
): { index: number; conflict: boolean } | undefined {
  const index =
    post.sequence === undefined
      ? replies.findIndex((reply) => reply.content === post.content)
      : replies.findIndex((reply) => reply.sequence === post.sequence);
  if (index < 0) return undefined;
  return { index, conflict: replies[index]?.content !== post.content };
}
