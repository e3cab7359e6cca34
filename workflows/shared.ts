import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * Names and shapes shared by the workflows, the activities and the clients that start them.
 * Only pure definitions here: this file is bundled into workflow code.
 */

export type Attachment = {
  id?: number;
  file_type?: string;
  data_url?: string;
  thumb_url?: string;
};

export type SenderInfo = {
  id?: number;
  name?: string | null;
  email?: string | null;
  phone_number?: string | null;
};

/** How hard to try, taken from the configuration when the workflow starts (so replays agree). */
export interface DeliveryPolicy {
  agentRetryWindowMs: number;
  agentRetryInitialIntervalMs: number;
  agentRetryMaxIntervalMs: number;
  exchangeHeartbeatTimeoutMs: number;
  /** Upper bound on one exchange attempt (connect + total timeout + margin). */
  exchangeAttemptTimeoutMs: number;
  /** Upper bound on one Chatwoot activity attempt (a look-up plus a post). */
  chatwootAttemptTimeoutMs: number;
  chatwootRetryWindowMs: number;
  chatwootRetryInitialIntervalMs: number;
  chatwootRetryMaxIntervalMs: number;
  fallbackMessage: string;
  /** Set for pull agents: the workflow itself waits for their replies, within these limits. */
  pull?: PullLimits;
}

export interface PullLimits {
  replyTimeoutMs: number;
  idleTimeoutMs: number;
  totalTimeoutMs: number;
  maxResponses: number;
}

export interface MessageDeliveryInput {
  accountId: number;
  conversationId: number;
  inboxId: number;
  messageId: number;
  agentId: string;
  /** Empty when only attachments came. */
  content: string;
  attachments: Attachment[];
  sender: SenderInfo;
  policy: DeliveryPolicy;
  /** Agent session id (from the conversation actor); default: one per agent and conversation. */
  sessionId?: string;
  /** Messages merged into this turn by the actor's debounce, oldest first (ends with `messageId`). */
  mergedMessageIds?: number[];
}

/** The session id used when no conversation actor assigned one. */
export function defaultSessionId(
  input: Pick<MessageDeliveryInput, 'agentId' | 'accountId' | 'conversationId'>,
): string {
  return `${input.agentId}:${input.accountId}:${input.conversationId}`;
}

/** One reply from the agent, handed from the exchange activity to its workflow as it arrives. */
export interface AgentReply {
  /** Exchange attempt that produced it; replies from a superseded attempt are ignored. */
  attempt: number;
  /** 0-based position in the agent's answer. */
  index: number;
  content: string;
  final: boolean;
  metadata: Record<string, unknown>;
}

export interface ExchangeResult {
  endReason: string;
  /** Every reply of this attempt from `skipReplies` on (the workflow also got them as signals). */
  replies: AgentReply[];
}

export type DeliveryStatus =
  'received' | 'exchanging' | 'retrying' | 'delivered' | 'handed_off' | 'failed';

export interface ReplyReport {
  index: number;
  status: 'posted' | 'failed';
  chatwootMessageId?: number;
  /** The post found its own earlier copy (same `source_id`) and did not post again. */
  alreadyPosted?: boolean;
  error?: string;
}

export interface AttemptReport {
  attempt: number;
  outcome: 'completed' | 'failed';
  detail: string;
}

export interface DeliveryReport {
  workflowId: string;
  agentId: string;
  outcome: 'delivered' | 'handed_off' | 'failed';
  reason?: string;
  replies: ReplyReport[];
  attempts: AttemptReport[];
  timings: {
    startedAt: string;
    firstReplyPostedAt?: string;
    completedAt: string;
    durationMs: number;
  };
}

export const agentReplySignal = defineSignal<[AgentReply]>('agentReply');
export const deliveryStateQuery = defineQuery<{
  status: DeliveryStatus;
  attempt: number;
  repliesReceived: number;
  repliesPosted: number;
}>('deliveryState');

/** Agent exchanges run on their own task queue, beside the bridge's main one. */
export function agentTaskQueue(taskQueue: string): string {
  return `${taskQueue}-agents`;
}

export function messageWorkflowId(
  accountId: number,
  conversationId: number,
  messageId: number,
): string {
  return `message:${accountId}:${conversationId}:${messageId}`;
}
