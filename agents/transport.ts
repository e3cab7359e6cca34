import type { AgentConfig } from '../config/schema.js';
import type { ConnectionOutput, ConnectionPhase, ReplyPayload } from '../machines/connection.js';
import {
  defaultSessionId,
  type Attachment,
  type MessageDeliveryInput,
  type SenderInfo,
  type SubmittedAnswer,
} from '../workflows/shared.js';
import { bridgeV1Request } from './bridgeV1.js';
import { runSocketioExchange } from './socketioExchange.js';
import { runUnifiedExchange } from './unifiedExchange.js';
import { runBridgeV1Exchange } from './wsExchange.js';
import type { TurnLock } from './turnLock.js';
import type { StrayMessage } from './aiwmTurn.js';

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

/** Runs one exchange with the agent over its configured transport. */
export function runAgentExchange(
  agent: AgentConfig,
  turn: AgentTurn,
  hooks: ExchangeHooks,
): Promise<ConnectionOutput> {
  switch (agent.transport) {
    case 'ws':
      return agent.protocol === 'unified'
        ? runUnifiedExchange(agent, turn, hooks)
        : runBridgeV1Exchange(agent, bridgeV1Request(turn), hooks);
    case 'socketio':
      return runSocketioExchange(agent, turn, hooks);
    case 'pull':
      // The delivery workflow waits for a pull agent's replies itself (workflows/pullExchange.ts).
      return Promise.reject(
        new Error(`agent "${agent.id}" pulls its turns over HTTP; there is no exchange to run`),
      );
  }
}

/** The turn for one delivery workflow's input. */
export function turnFromMessage(
  agentId: string,
  attempt: number,
  message: Omit<MessageDeliveryInput, 'policy'>,
): AgentTurn {
  return {
    agentId,
    attempt,
    sessionId: message.sessionId ?? defaultSessionId(message),
    accountId: message.accountId,
    conversationId: message.conversationId,
    inboxId: message.inboxId,
    messageId: message.messageId,
    messageIds: message.mergedMessageIds ?? [message.messageId],
    content: message.content,
    attachments: message.attachments,
    sender: message.sender,
    ...(message.submittedValues ? { submittedValues: message.submittedValues } : {}),
  };
}
