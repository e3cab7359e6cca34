import type { AgentConfig } from '../config/schema.js';
import type { ConnectionOutput, ConnectionPhase, ReplyPayload } from '../machines/connection.js';
import type { Attachment, SenderInfo, SubmittedAnswer } from '../workflows/shared.js';
import type { TurnLock } from './turnLock.js';

/**
 * The shapes every agent transport shares. Each protocol lives in its own folder
 * (agents/bridgeV1/, agents/unified/, agents/aiwm/, agents/pull/) behind {@link AgentTransport};
 * agents/registry.ts lists them. No protocol imports the registry.
 */

/** One turn handed to an agent: what the customer said, whatever the transport. */
export interface AgentTurn {
  agentId: string;
  /** Exchange attempt (1-based); the same turn is resent on a retry. */
  attempt: number;
  /** Stable across the turns of one agent session (see machines/session.ts). */
  sessionId: string;
  accountId: number;
  conversationId: number;
  inboxId: number;
  /** The turn's identity: the newest Chatwoot message it carries. */
  messageId: number;
  /** Every Chatwoot message merged into this turn, oldest first (one unless debounced). */
  messageIds: number[];
  content: string;
  attachments: Attachment[];
  sender: SenderInfo;
  /** The turn answers the bot's buttons or form (sent to agents as `metadata.submitted_values`). */
  submittedValues?: SubmittedAnswer;
}

export interface ExchangeHooks {
  /** Called once per reply, in order; the next reply waits until the previous call resolved. */
  onReply(reply: ReplyPayload, index: number): Promise<void> | void;
  /** Called on every state change; `activity` is what the agent last said it was doing. */
  onPhase?(phase: ConnectionPhase, replies: number, activity?: string): void;
  /** The agent started or stopped typing (transports that report it); best effort. */
  onTyping?(on: boolean): void;
  signal?: AbortSignal;
  /**
   * An AIWM message that belongs to no running turn was dropped (a late part, another turn's
   * answer): log and count it. May be called after the exchange returned (the quiet period).
   */
  onStrayMessage?(stray: StrayMessage): void;
  /**
   * Serialises turns for agents that take one at a time (AIWM). The worker passes a lease kept in
   * Temporal, which holds across processes; without one, turns are serialised in this process.
   */
  turnLock?: TurnLock;
}

/**
 * One way of talking to agents. `serves` picks the configured agents it speaks to; the
 * registry hands each of those agents' exchanges to `runExchange`, which sends the turn, hands
 * every reply to `hooks.onReply` in order, and ends as the connection machine decides.
 */
export interface AgentTransport<A extends AgentConfig = AgentConfig> {
  /** Names the transport in logs and errors. */
  readonly id: string;
  serves(agent: AgentConfig): agent is A;
  // A method (not a function property), so a transport for one kind of agent still fits the
  // registry's list; `serves` guards the call.
  runExchange(agent: A, turn: AgentTurn, hooks: ExchangeHooks): Promise<ConnectionOutput>;
}

/** Why an AIWM message was dropped as belonging to no running turn (agents/aiwm/turn.ts). */
export type StrayReason =
  /** Before our own message was acknowledged or echoed: an earlier turn's late answer. */
  | 'before_turn'
  /** After this turn's answer ended (the lease is still held): this turn's own late part. */
  | 'after_turn'
  /** Names another turn's id. */
  | 'other_turn'
  /** Names no turn id, where the agent is configured to echo one. */
  | 'no_turn_id'
  /** From another AIWM conversation than this turn's. */
  | 'other_conversation';

export interface StrayMessage {
  reason: StrayReason;
  /** AIWM ids only: a stray's text is a customer's answer and stays out of logs. */
  messageId: string;
  conversationId: string;
}
