import type { Client } from '@temporalio/client';
import type { FastifyBaseLogger } from 'fastify';
import { deliveryCandidates } from '../activities/catchUpPlan.js';
import { ChatwootClient, type ChatwootListedMessage } from '../chatwoot/client.js';
import type { CustomerTurnDecision } from '../chatwoot/events.js';
import type { BridgeConfig } from '../config/schema.js';
import type { ApiMetrics } from '../observability/metrics.js';
import { deliveredIds } from '../temporal/deliveredIds.js';
import type { CallLimits, ConversationGateway } from './conversations.js';

/** Time kept back from the webhook's own deadline for the message it brought. */
const KEEP_FOR_OWN_MESSAGE_MS = 1_500;
/** The most a gap check may take, however much budget is left. */
const MAX_CHECK_MS = 1_000;
/** Message ids remembered through one window (accepted or handed over here): bounded. */
const MAX_KNOWN = 20_000;

/**
 * After an outage (the API just started, or it asked Chatwoot to retry), the next customer
 * message of a conversation may be newer than one whose webhook Chatwoot is still retrying or
 * gave up on. Before handing it over, the older ones Chatwoot holds without a delivery are handed
 * over first, so the actor answers them in creation order; their own webhook, if it comes, is a
 * duplicate the actor drops. Outside that window nothing is read: no cost per message.
 *
 * It reads messages with the catch-up token (agent-bot tokens cannot list), so without one it is
 * off. Whatever fails here only costs the order: the message is handed over all the same, and
 * the catch-up schedule still finds anything missed.
 */
export class AfterOutageCheck {
  private troubleAt: number;
  /**
   * Messages this process already made durable during the window (their webhook, or an earlier
   * check): not read back or handed again, so a burst costs one hand-over per missed message,
   * not one per later webhook.
   */
  private readonly known = new Set<string>();

  constructor(
    private readonly deps: {
      temporal: Client;
      current: () => BridgeConfig;
      metrics: ApiMetrics;
      now?: () => number;
    },
  ) {
    this.troubleAt = this.now();
  }

  /** The webhook asked Chatwoot to retry: the window opens again. */
  noteRefused(): void {
    this.troubleAt = this.now();
  }

  /** Whether a customer message arriving now is checked for older missed ones. */
  active(): boolean {
    const { catchUp } = this.deps.current();
    const open =
      catchUp.apiAccessToken !== undefined &&
      catchUp.afterOutageMs > 0 &&
      this.now() - this.troubleAt < catchUp.afterOutageMs;
    if (!open) this.known.clear();
    return open;
  }

  /** The webhook made this message durable. */
  noteAccepted(decision: CustomerTurnDecision): void {
    if (this.known.size < MAX_KNOWN && this.active()) this.known.add(keyOf(decision, undefined));
  }

  /** Hands over, oldest first, the conversation's earlier customer messages with no delivery. */
  async handOlderFirst(
    decision: CustomerTurnDecision,
    limits: CallLimits,
    conversations: ConversationGateway,
    log: FastifyBaseLogger,
  ): Promise<void> {
    if (!this.active()) return;
    const checkBy = Math.min(
      (limits.deadlineAt ?? Infinity) - KEEP_FOR_OWN_MESSAGE_MS,
      this.now() + MAX_CHECK_MS,
    );
    if (checkBy <= this.now()) return;
    try {
      const missed = await withDeadline(this.olderMissed(decision), checkBy - this.now());
      for (const message of missed) {
        await conversations.sendCustomerMessage(decision.target, missedSignal(decision, message), {
          ...limits,
          deadlineAt: checkBy,
        });
        if (this.known.size < MAX_KNOWN) this.known.add(keyOf(decision, message.id));
      }
      if (missed.length > 0) {
        this.deps.metrics.olderMessagesHandedFirst(missed.length);
        log.info(
          { messageIds: missed.map((message) => message.id) },
          'older messages without a delivery handed over first (after an outage)',
        );
      }
    } catch (error) {
      log.warn(
        { error: error instanceof Error ? error.message : String(error) },
        'gap check after an outage failed; the message goes on, catch-up covers the rest',
      );
    }
  }

  private async olderMissed(decision: CustomerTurnDecision): Promise<ChatwootListedMessage[]> {
    const config = this.deps.current();
    const { accountId, conversationId } = decision.target;
    const client = new ChatwootClient({
      baseUrl: config.chatwoot.baseUrl,
      apiAccessToken: config.catchUp.apiAccessToken as string,
      timeoutMs: MAX_CHECK_MS,
    });
    const messages = await client.listConversationMessages(accountId, conversationId);
    const own = decision.signal.message.messageId;
    const older = olderCandidates(messages, own, this.now(), config.catchUp.maxAgeMs).filter(
      (message) => !this.known.has(keyOf(decision, message.id)),
    );
    if (older.length === 0) return [];
    const delivered = await deliveredIds(this.deps.temporal, accountId, conversationId, older);
    return older.filter((message) => !delivered.has(message.id));
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

/** Customer messages older than `messageId` that the bot may still owe an answer, oldest first. */
export function olderCandidates(
  messages: ChatwootListedMessage[],
  messageId: number,
  nowMs: number,
  maxAgeMs: number,
): ChatwootListedMessage[] {
  return deliveryCandidates(messages, nowMs, maxAgeMs)
    .filter((message) => message.id < messageId)
    .sort((a, b) => a.id - b.id);
}

function keyOf(decision: CustomerTurnDecision, messageId: number | undefined): string {
  const { accountId, conversationId } = decision.target;
  return `${accountId}:${conversationId}:${messageId ?? decision.signal.message.messageId}`;
}

/** The missed message, as its own webhook would have handed it over. */
function missedSignal(decision: CustomerTurnDecision, message: ChatwootListedMessage) {
  return {
    ...decision.signal,
    message: {
      ...decision.signal.message,
      messageId: message.id,
      content: message.content ?? '',
      attachments: message.attachments ?? [],
      createdAtMs: message.created_at * 1000,
    },
  };
}

async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
