import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporalConversationGateway } from '../api/conversations.js';
import { chatwootRetryPolicy, routeSettings } from '../api/deliveries.js';
import {
  ChatwootClient,
  ChatwootRequestError,
  type ChatwootListedConversation,
  type ChatwootListedMessage,
} from '../chatwoot/client.js';
import { bridgeSourceId, carriesMarker, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import type { BridgeConfig } from '../config/schema.js';
import type { WorkerMetrics } from '../observability/metrics.js';
import { matchRoute, type RoutingFacts } from '../routing/matchRoute.js';
import {
  catchUpScheduleId,
  type CatchUpPlan,
  type CatchUpReport,
  type MissedConversation,
} from '../workflows/catchUpShared.js';
import { deliveredIds } from '../temporal/deliveredIds.js';
import {
  CATCH_UP_NOTE_PART,
  handoffNote,
  deliveryCandidates,
  needsOlderPage,
  ownerOf,
  planConversation,
  worthReading,
} from './catchUpPlan.js';

/** Chatwoot's page size for the conversation list. */
const CONVERSATION_PAGE_SIZE = 25;
/** A run reads at most this many pages per status and inbox; the rest waits for the next run. */
const MAX_CONVERSATION_PAGES = 40;
/** Pages of messages read back per conversation to reach its last reply. */
const MAX_MESSAGE_PAGES = 5;
/** Conversations one run acts on (its history and this activity's result stay small). */
const MAX_CONVERSATIONS_PER_RUN = 100;
/** `last_activity_at` has whole seconds, and a write may commit a moment late: overlap runs. */
const CURSOR_OVERLAP_MS = 10_000;

export interface CatchUpDeps {
  temporal: Client;
  current: () => BridgeConfig;
  /** Posts with the bot's own token (notes and status changes appear as the bot's). */
  chatwoot: ChatwootClient;
  metrics: WorkerMetrics;
}

export function createCatchUpActivities({ temporal, current, chatwoot, metrics }: CatchUpDeps) {
  /** Listing needs the catch-up user token; built per call so a reload's token applies. */
  const lister = (config: BridgeConfig) => {
    const token = config.catchUp.apiAccessToken;
    if (!token) {
      throw ApplicationFailure.nonRetryable(
        'catch-up is off: set catchUp.apiAccessToken (a Chatwoot user token; agent-bot tokens cannot list conversations)',
        'CatchUpOff',
      );
    }
    return new ChatwootClient({
      baseUrl: config.chatwoot.baseUrl,
      apiAccessToken: token,
      timeoutMs: config.delivery.chatwootRequestTimeoutMs,
      observe: (call) => metrics.chatwootCall(call),
    });
  };

  return {
    /**
     * Lists the account's pending and open conversations with activity since the previous run,
     * reads their newest messages and decides, for each, what the catch-up does.
     */
    async planCatchUp(input: { accountId: number; workflowId: string }): Promise<CatchUpPlan> {
      const config = current();
      const client = lister(config);
      const listedAtMs = Date.now();
      const previous = await previousCursor(temporal, input.accountId, input.workflowId);
      const sinceMs = previous ?? listedAtMs - config.catchUp.firstRunLookbackMs;
      const { conversations, complete } = await listActive(
        client,
        input.accountId,
        routedInboxes(config),
        sinceMs - CURSOR_OVERLAP_MS,
      );

      const missed: MissedConversation[] = [];
      let leftAlone = 0;
      let finished = complete;
      for (const conversation of conversations) {
        if (missed.length >= MAX_CONVERSATIONS_PER_RUN) {
          finished = false; // the next run covers the same window again
          break;
        }
        Context.current().heartbeat(conversation.id);
        const agentId = matchRoute(config.routes, routingFactsOf(conversation))?.agentId;
        if (!agentId || !worthReading(conversation, config.conversation.botAssigneeIds)) {
          leftAlone += 1;
          continue;
        }
        const nowMs = Date.now();
        const { maxAgeMs } = config.catchUp;
        const messages = await newestMessages(
          client,
          input.accountId,
          conversation,
          nowMs - maxAgeMs,
        );
        // Each candidate checked on its own: replies lag, so position says nothing.
        const delivered = await deliveredIds(
          temporal,
          input.accountId,
          conversation.id,
          deliveryCandidates(messages, nowMs, maxAgeMs),
        );
        const decision = planConversation({
          conversation,
          messages,
          botAssigneeIds: config.conversation.botAssigneeIds,
          nowMs,
          maxAgeMs,
          delivered,
        });
        if (decision.action === 'leave') {
          leftAlone += 1;
          continue;
        }
        const pendingMessages = decision.action === 'back_to_pending' ? [] : decision.messages;
        missed.push({
          conversationId: conversation.id,
          inboxId: conversation.inbox_id,
          agentId,
          action: decision.action,
          reopened: decision.action === 'answer' && decision.reopened,
          owner:
            ownerOf(conversation, config.conversation.botAssigneeIds) === 'bot' ? 'bot' : 'none',
          messages: pendingMessages.map((message) => ({
            messageId: message.id,
            content: message.content ?? '',
            attachments: message.attachments ?? [],
            createdAtMs: message.created_at * 1000,
          })),
          sender: senderOf(conversation, pendingMessages),
        });
      }
      metrics.catchUpRun();
      return {
        sinceMs,
        listedAtMs,
        complete: finished,
        conversations: missed,
        leftAlone,
        chatwootPolicy: chatwootRetryPolicy(config.delivery),
      };
    },

    /**
     * Hands missed messages to their conversation actor exactly as the webhook does: the same
     * signal-with-start, event and ids, so the actor drops any it has seen and a message id never
     * starts a second delivery.
     */
    async handMissedMessages(input: {
      accountId: number;
      conversation: MissedConversation;
    }): Promise<number> {
      const config = current();
      const { conversation } = input;
      if (!config.agents.some((agent) => agent.id === conversation.agentId)) {
        throw ApplicationFailure.nonRetryable(
          `agent ${conversation.agentId} is no longer configured`,
          'UnknownAgent',
        );
      }
      const route = routeSettings(config, conversation.agentId);
      const gateway = temporalConversationGateway(temporal, current);
      const target = {
        accountId: input.accountId,
        conversationId: conversation.conversationId,
        inboxId: conversation.inboxId,
      };
      // Pending again (it was, or the catch-up just set it): an actor that paused when Chatwoot
      // opened it on the bot's failure resumes, as on Chatwoot's own status webhook, which may
      // come late or be lost in the same outage.
      await gateway.notify(
        target,
        {
          type: 'status_changed',
          status: 'pending',
          ...(conversation.reopened ? { previousStatus: 'open' } : {}),
          conversation: { status: 'pending', owner: conversation.owner },
        },
        { start: true },
      );
      Context.current().heartbeat('status');
      for (const message of conversation.messages) {
        await gateway.sendCustomerMessage(target, {
          type: 'customer_message',
          route,
          message: {
            messageId: message.messageId,
            inboxId: conversation.inboxId,
            content: message.content,
            attachments: message.attachments,
            sender: conversation.sender,
            createdAtMs: message.createdAtMs,
          },
          // Pending: Chatwoot-opened ones are set back to pending before they are handed over.
          conversation: { status: 'pending', owner: conversation.owner },
        });
        Context.current().heartbeat(message.messageId);
      }
      metrics.catchUpMessages('answered', conversation.messages.length);
      log.info('missed messages handed to the conversation actor', {
        ...target,
        messageIds: conversation.messages.map((message) => message.messageId),
      });
      return conversation.messages.length;
    },

    /**
     * Too late to answer: a private note saying what was missed (once: it carries a marker a
     * retry looks for), then the conversation is opened for the team.
     */
    async handMissedToTeam(input: {
      accountId: number;
      conversation: MissedConversation;
    }): Promise<void> {
      const config = current();
      const { accountId, conversation } = input;
      const { conversationId } = conversation;
      const last = conversation.messages.at(-1)?.messageId ?? 0;
      const sourceId = bridgeSourceId(
        `catch-up:${accountId}:${conversationId}`,
        `${CATCH_UP_NOTE_PART}-${last}`,
      );
      const newest = await callChatwoot(() =>
        lister(config).listConversationMessages(accountId, conversationId),
      );
      if (!newest.some((message) => carriesMarker(message, sourceId))) {
        const asListed: ChatwootListedMessage[] = conversation.messages.map((message) => ({
          id: message.messageId,
          content: message.content,
          message_type: 0,
          created_at: Math.floor(message.createdAtMs / 1000),
          attachments: message.attachments,
        }));
        await callChatwoot(() =>
          chatwoot.createMessage(accountId, conversationId, {
            content: handoffNote(asListed, config.catchUp.maxAgeMs),
            message_type: 'outgoing',
            private: true,
            content_type: 'text',
            // A private note is never sent to the channel, so `source_id` is safe here too.
            content_attributes: { [MARKER_ATTRIBUTE]: sourceId },
            source_id: sourceId,
          }),
        );
      }
      await callChatwoot(() => chatwoot.toggleStatus(accountId, conversationId, 'open'));
      metrics.catchUpMessages('handed_to_team', conversation.messages.length);
      log.info('missed messages too old: conversation handed to the team', {
        accountId,
        conversationId,
        messageIds: conversation.messages.map((message) => message.messageId),
      });
    },
  };
}

export type CatchUpActivities = ReturnType<typeof createCatchUpActivities>;

/** Inboxes to list: the routes' own, or every inbox when a route matches on anything else. */
function routedInboxes(config: BridgeConfig): Array<number | undefined> {
  const inboxIds = config.routes.map((route) => route.inboxId);
  if (inboxIds.length === 0 || inboxIds.some((id) => id === undefined)) return [undefined];
  return [...new Set(inboxIds)];
}

/**
 * Pending and open conversations whose last activity is at or after `sinceMs`. The list comes
 * newest activity first, so paging stops at the first older one.
 */
async function listActive(
  client: ChatwootClient,
  accountId: number,
  inboxes: Array<number | undefined>,
  sinceMs: number,
): Promise<{ conversations: ChatwootListedConversation[]; complete: boolean }> {
  const found = new Map<number, ChatwootListedConversation>();
  let complete = true;
  for (const inboxId of inboxes) {
    for (const status of ['pending', 'open'] as const) {
      for (let page = 1; ; page++) {
        if (page > MAX_CONVERSATION_PAGES) {
          complete = false;
          break;
        }
        const listed = await callChatwoot(() =>
          client.listConversations(accountId, {
            status,
            page,
            ...(inboxId === undefined ? {} : { inboxId }),
          }),
        );
        Context.current().heartbeat({ status, page });
        const recent = listed.filter((c) => c.last_activity_at * 1000 >= sinceMs);
        for (const conversation of recent) found.set(conversation.id, conversation);
        if (listed.length < CONVERSATION_PAGE_SIZE || recent.length < listed.length) break;
      }
    }
  }
  return { conversations: [...found.values()], complete };
}

/** The newest messages, oldest first, reading back until the last reply is among them. */
async function newestMessages(
  client: ChatwootClient,
  accountId: number,
  conversation: ChatwootListedConversation,
  recentSinceMs: number,
): Promise<ChatwootListedMessage[]> {
  let messages: ChatwootListedMessage[] = [];
  let before: number | undefined;
  for (let page = 0; page < MAX_MESSAGE_PAGES; page++) {
    const older = await callChatwoot(() =>
      client.listConversationMessages(accountId, conversation.id, before),
    );
    messages = [...older, ...messages];
    if (!needsOlderPage(conversation.status, messages, older.length, recentSinceMs)) break;
    before = older[0]?.id;
  }
  return messages;
}

/**
 * Where the previous run stopped: the cursor of the newest finished run the schedule remembers.
 * Undefined on the first run (or when none of the remembered runs finished).
 */
async function previousCursor(
  temporal: Client,
  accountId: number,
  currentWorkflowId: string,
): Promise<number | undefined> {
  let actions;
  try {
    actions = (await temporal.schedule.getHandle(catchUpScheduleId(accountId)).describe()).info
      .recentActions;
  } catch (error) {
    log.warn('catch-up schedule not found; looking back the first-run window', {
      accountId,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
  for (const action of [...actions].reverse()) {
    const run = action.action;
    if (run.type !== 'startWorkflow' || run.workflow.workflowId === currentWorkflowId) continue;
    const handle = temporal.workflow.getHandle(
      run.workflow.workflowId,
      run.workflow.firstExecutionRunId,
    );
    try {
      const description = await handle.describe();
      if (description.status.name !== 'COMPLETED') continue;
      const report = (await handle.result()) as CatchUpReport;
      if (typeof report?.cursorMs === 'number') return report.cursorMs;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  return undefined;
}

function routingFactsOf(conversation: ChatwootListedConversation): RoutingFacts {
  const teamId = conversation.meta?.team?.id;
  return {
    inboxId: conversation.inbox_id,
    labels: conversation.labels ?? [],
    ...(typeof teamId === 'number' ? { teamId } : {}),
    conversationAttributes: conversation.custom_attributes ?? {},
    contactAttributes: conversation.meta?.sender?.custom_attributes ?? {},
  };
}

/** The contact, as the webhook's `sender` would name it. */
function senderOf(
  conversation: ChatwootListedConversation,
  messages: ChatwootListedMessage[],
): MissedConversation['sender'] {
  const contact = messages.find((m) => m.sender_type === 'Contact' && m.sender)?.sender;
  const sender = contact ?? conversation.meta?.sender ?? {};
  return {
    ...(sender.id !== undefined ? { id: sender.id } : {}),
    name: sender.name ?? null,
    email: sender.email ?? null,
    phone_number: sender.phone_number ?? null,
  };
}

/** A Chatwoot 4xx will not get better by retrying: fail the activity for good. */
async function callChatwoot<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ChatwootRequestError && !error.retryable) {
      throw ApplicationFailure.nonRetryable(error.message, 'ChatwootRejected');
    }
    throw error;
  }
}
