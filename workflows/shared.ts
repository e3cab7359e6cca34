import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ActionReport } from './agentActions.js';

/**
 * Names and shapes shared by the workflows, the activities and the clients that start them.
 * Only pure definitions here: this file is bundled into workflow code.
 */

/**
 * A customer's file as Chatwoot's webhook describes it (`Attachment#push_event_data`):
 * `file_type` is `image`, `audio`, `video`, `file`, `location`, … and `data_url` is where to
 * fetch it. Chatwoot gives no MIME type or file name: the download's Content-Type and the last
 * segment of `data_url` say them.
 */
export type Attachment = {
  id?: number;
  file_type?: string;
  data_url?: string;
  thumb_url?: string;
  /** Chatwoot's other fields, when the payload has them (older payloads lack some). */
  extension?: string | null;
  file_size?: number;
  width?: number | null;
  height?: number | null;
  /** Chatwoot's own transcript of a voice note, where its audio transcription is on. */
  transcribed_text?: string;
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
  /** An agent-queue activity no worker picked up within this long fails (absent: older starts). */
  agentQueueScheduleToStartMs?: number;
  /** Upper bound on offering a turn to a pull agent, retries included (absent: older starts). */
  offerScheduleToCloseMs?: number;
  /** Upper bound on one Chatwoot activity attempt (a look-up plus a post). */
  chatwootAttemptTimeoutMs: number;
  chatwootRetryWindowMs: number;
  chatwootRetryInitialIntervalMs: number;
  chatwootRetryMaxIntervalMs: number;
  fallbackMessage: string;
  /** Replies longer than this are posted as several messages (unset: one message per reply). */
  splitRepliesAtChars?: number;
  /** Set for pull agents: the workflow itself waits for their replies, within these limits. */
  pull?: PullLimits;
  /** Agent actions this agent may ask for (workflows/agentActions.ts); absent or empty: none. */
  allowedActions?: string[];
  /**
   * Set when `chatwoot.maxCallsPerSecond` is: Chatwoot calls go to rate-limited task queues
   * (workflows/chatwootQueue.ts), one per listed account, one shared by the others.
   */
  chatwootRateLimit?: { accountIds: number[] };
  /** The task queue of this workflow's Chatwoot activities (set by the workflow itself). */
  chatwootTaskQueue?: string;
}

export interface PullLimits {
  replyTimeoutMs: number;
  idleTimeoutMs: number;
  totalTimeoutMs: number;
  maxResponses: number;
}

/** The part of the policy every Chatwoot call follows (also used by proactive messages). */
export type ChatwootRetryPolicy = Pick<
  DeliveryPolicy,
  | 'chatwootAttemptTimeoutMs'
  | 'chatwootRetryWindowMs'
  | 'chatwootRetryInitialIntervalMs'
  | 'chatwootRetryMaxIntervalMs'
>;

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
  /** Signal the parent actor when the first reply is posted (a `?wait=` caller is waiting). */
  notifyFirstReply?: boolean;
  /** The turn answers the bot's interactive message (buttons, form): what the customer chose. */
  submittedValues?: SubmittedAnswer;
}

/**
 * A customer's answer to one of the bot's interactive messages (chatwoot/submittedAnswer.ts):
 * Chatwoot's `content_attributes.submitted_values` of that message, as the agent receives it.
 */
export interface SubmittedAnswer {
  /** The bot's message the customer answered (its Chatwoot id; also the turn's message id). */
  messageId: number;
  contentType: 'input_select' | 'form';
  /** `[{title, value}]` for a select, `[{name, value}]` per form field. */
  values: Array<{ name?: string; title?: string; value: unknown }>;
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
  /** The exchange posted this reply itself (`postReplies`, V4), or tried. */
  postedByExchange?: ExchangePost;
}

/**
 * What the exchange's own post of a reply came to: with an id it is in Chatwoot; otherwise the
 * workflow posts it, after `uncertainCreate`'s grace when set.
 */
export interface ExchangePost {
  chatwootMessageId?: number;
  error?: string;
  /** Chatwoot refused it for good (a 4xx): the reply failed, as a post would have. */
  failedForGood?: boolean;
  /** Chatwoot's `Retry-After`: the workflow's post waits until then (epoch ms). */
  notBeforeMs?: number;
  uncertainCreate?: { sentAtMs: number; untilMs: number };
}

export interface ExchangeResult {
  endReason: string;
  /** Every reply of this attempt from `skipReplies` on (the workflow also got them as signals). */
  replies: AgentReply[];
  /** The exchange posted its sole reply itself (`postSoleReply`, V3), or tried. */
  soleReply?: ExchangePost & { index: number };
}

export type DeliveryStatus =
  'received' | 'exchanging' | 'retrying' | 'delivered' | 'handed_off' | 'failed';

export interface ReplyReport {
  index: number;
  /**
   * `missing`: the agent never sent this index, though later ones came (they were posted);
   * `invalid`: interactive content Chatwoot would refuse, with no text to post instead.
   */
  status: 'posted' | 'failed' | 'missing' | 'invalid';
  /** Set for every posted reply, also one found already posted: the bridge's own message. */
  chatwootMessageId?: number;
  /** The post found its own earlier copy (its marker) and did not post again. */
  alreadyPosted?: boolean;
  error?: string;
  /** Token usage the agent reported for this reply (AIWM). */
  usage?: { promptTokens: number; completionTokens: number; totalTokens: number };
  /** The agent's own response time for this reply, in ms (AIWM `latency`). */
  latencyMs?: number;
  /** The private note with the agent's reasoning and tool use (when the agent shows thinking). */
  note?: 'posted' | 'failed';
  /** A reply split at `splitRepliesAtChars`: every part's post, in order (the first is above). */
  parts?: Array<{ chatwootMessageId: number; alreadyPosted: boolean }>;
  /** The interactive content posted with the (last part of the) reply. */
  contentType?: 'input_select' | 'cards' | 'form' | 'article';
  /** The interactive content the agent asked for was refused, and why. */
  contentError?: string;
  /** The files the agent sent with this reply (metadata `attachments`), each posted or why not. */
  attachments?: AttachmentReport[];
}

/** One file of a reply: posted with its message, or refused (config) or failed (download). */
export interface AttachmentReport {
  fileName: string;
  status: 'posted' | 'refused' | 'failed';
  contentType?: string;
  /** Size posted. */
  bytes?: number;
  /** Why it was not posted. */
  reason?: string;
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
  /** The agent actions the replies asked for, in order (absent: none asked for). */
  actions?: ActionReport[];
  attempts: AttemptReport[];
  timings: {
    startedAt: string;
    firstReplyPostedAt?: string;
    completedAt: string;
    durationMs: number;
  };
}

/** Every message-delivery workflow type, newest first: runs of each may still be open. */
export const MESSAGE_DELIVERY_TYPES = [
  'messageDeliveryV4Workflow',
  'messageDeliveryV3Workflow',
  'messageDeliveryV2Workflow',
  'messageDeliveryWorkflow',
] as const;

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

// ---------------------------------------------------------------------------------------------
// Conversation actor (workflows/conversation.ts)

/** Settings of the agent a message is routed to, fixed when the message reaches the actor. */
export interface AgentRouteSettings {
  agentId: string;
  debounce?: { quietMs: number; maxWaitMs: number; maxBatch: number };
  abortOnNewer: boolean;
  sessionIdleMs?: number;
  policy: DeliveryPolicy;
}

/** A customer message as the actor queues it. */
export interface InboundMessage {
  messageId: number;
  inboxId: number;
  content: string;
  attachments: Attachment[];
  sender: SenderInfo;
  /** When Chatwoot created the message (epoch ms), if the payload said; order is by id first. */
  createdAtMs?: number;
  /** Set when this "message" is the customer's answer to the bot's interactive message. */
  submittedValues?: SubmittedAnswer;
}

/**
 * What a webhook payload says about its conversation, so an actor that starts (or restarts) on
 * any event knows whether the bot may speak. Old payloads (assignee only) and Chatwoot 4.16+
 * typed owners (agent bot / Captain) are both read into this one shape.
 */
export interface ConversationFacts {
  /** Chatwoot's status in the payload: `open`, `pending`, `resolved`, `snoozed`. */
  status?: string;
  /** Who owns the conversation: a human user, the bot (agent bot, Captain or a bot user), nobody. */
  owner?: 'human' | 'bot' | 'none';
  /** The human owner's name, for the actor's details. */
  ownerName?: string;
}

/**
 * A customer asked for a person (by what they wrote, or a label the team's automation added):
 * the actor hands the conversation to the team instead of giving the agent a turn.
 */
export interface HumanRequest {
  /** Why, in a few words: the actor's paused reason. */
  reason: string;
  /** Posted to the customer first; unset: nothing is posted to the customer. */
  acknowledgement?: string;
  /** The private note for the team. */
  note: string;
  /** Unique per request in the conversation (`message-1001`, `label-…`): the posts' markers. */
  key: string;
}

/** Everything the webhook tells a conversation actor. */
export type ConversationSignal =
  | {
      type: 'customer_message';
      message: InboundMessage;
      route: AgentRouteSettings;
      conversation?: ConversationFacts;
      /**
       * The message asks for a person: handed to the team, no turn. A customer message still, so
       * an actor of an older deploy answers it as one instead of dropping an unknown event.
       */
      humanRequest?: HumanRequest;
    }
  /** A label added to the conversation asks for a person (`routes[].humanRequest.label`). */
  | {
      type: 'human_requested';
      request: HumanRequest;
      route: AgentRouteSettings;
      conversation?: ConversationFacts;
    }
  /** A human agent wrote in the conversation (outgoing, public, not the bridge's own). */
  | {
      type: 'human_message';
      messageId: number;
      senderName?: string;
      conversation?: ConversationFacts;
    }
  | {
      type: 'status_changed';
      status: string;
      previousStatus?: string;
      conversation?: ConversationFacts;
    }
  /** `toBot`: the assignee is one of the users that stand for the bot. */
  | {
      type: 'assignee_changed';
      assigneeId: number | null;
      assigneeName?: string;
      toBot: boolean;
      conversation?: ConversationFacts;
    }
  | { type: 'resolved'; conversation?: ConversationFacts }
  | {
      type: 'greet';
      trigger: 'conversation_created' | 'webwidget_triggered';
      route: AgentRouteSettings;
      greeting: string[];
    };

export interface ConversationActorSettings {
  /** Paused this long with no human activity → the bot resumes (unset: never). */
  resumeAfterIdleMs?: number;
  /** How many message ids the actor remembers to drop duplicates (carried across continue-as-new). */
  dedupeLimit: number;
  /**
   * How long a message reaching an idle queue waits for older ones overtaken in flight
   * (0: no wait; unset, an actor started before the setting existed: the default, 300 ms).
   */
  reorderWindowMs?: number;
}

export interface ConversationActorInput {
  accountId: number;
  conversationId: number;
  settings: ConversationActorSettings;
  /** State carried over by continue-as-new (absent on a fresh actor); any version. */
  carried?: CarriedConversationState | CarriedConversationStateV1;
}

/** State carried over by continue-as-new, as the current code writes it. */
export interface CarriedConversationState {
  version: 2;
  conversation: { value: unknown; context: unknown };
  session: { value: unknown; context: unknown };
  seenMessageIds: number[];
  /** Events received but not handled yet (e.g. a message that came after the resolve). */
  pendingEvents: ConversationSignal[];
  counters: ConversationCounters;
  /**
   * Chatwoot ids of messages the bridge posted in this conversation (newest last, bounded):
   * their webhooks may come back as a human's when the channel overwrote `source_id`.
   */
  ownMessageIds: number[];
}

/** The carried state written before it had a version (kept so those actors restart). */
export interface CarriedConversationStateV1 {
  version?: undefined;
  conversation: { value: unknown; context: unknown };
  session: { value: unknown; context: unknown };
  seenMessageIds: number[];
  pendingEvents: ConversationSignal[];
  counters: ConversationCounters;
}

export interface ConversationCounters {
  messagesReceived: number;
  duplicatesIgnored: number;
  turnsStarted: number;
  runs: number;
}

export interface ConversationView {
  state: string;
  queueLength: number;
  turnMessageIds: number[];
  /** Message-delivery children started and not finished (a cancelled one may be winding down). */
  turnsRunning: number;
  pausedReason?: string;
  heldMessageIds: number[];
  sessionId?: string;
  sessionState: string;
  nextTimerAt?: string;
  counters: ConversationCounters;
}

export interface SubmitMessageResult {
  /** `replied`: the first reply was posted within the wait; `accepted`: still on its way. */
  status: 'replied' | 'accepted';
  conversationWorkflowId: string;
  reply?: { content: string; workflowId: string };
}

/** Sent by a message-delivery child to its actor when the turn's first reply was posted. */
export interface ReplyPostedNotice {
  workflowId: string;
  messageIds: number[];
  index: number;
  content: string;
}

export const conversationEventSignal = defineSignal<[ConversationSignal]>('conversationEvent');
export const replyPostedSignal = defineSignal<[ReplyPostedNotice]>('replyPosted');
export const submitMessageUpdate = defineUpdate<
  SubmitMessageResult,
  [{ event: Extract<ConversationSignal, { type: 'customer_message' }>; waitMs: number }]
>('submitMessage');
export const conversationStateQuery = defineQuery<ConversationView>('conversationState');

export function conversationWorkflowId(accountId: number, conversationId: number): string {
  return `conversation:${accountId}:${conversationId}`;
}
