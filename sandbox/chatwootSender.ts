/**
 * Sends webhooks the way Chatwoot's agent-bot webhook job does (`AgentBots::WebhookJob` and
 * `Webhooks::Trigger`, Chatwoot 4.x), so the bridge can be tested against Chatwoot's real
 * delivery semantics rather than a friendly client:
 *
 * - every event is its own background job, and jobs run in parallel (Sidekiq threads), so two
 *   webhooks of one conversation may overtake each other;
 * - each attempt is a fresh connection, signed with its own timestamp, with the same
 *   `X-Chatwoot-Delivery`, and times out after 5 s (`WEBHOOK_TIMEOUT`);
 * - only 429 and 500 are retried: 3 attempts in all, 3 s apart (plus ActiveJob's default 15 %
 *   jitter); any other status, a timeout, a refused or reset connection is final;
 * - when a `message_created` delivery fails for good and its conversation is pending, Chatwoot
 *   opens the conversation and writes the activity message "Conversation was marked open by
 *   system due to an error with the agent bot" (unless the account keeps conversations pending
 *   on bot failure). Older versions also mark the message failed; the sender records that.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { signWebhook } from './chatwootWebhooks.js';
import type { FakeChatwoot } from './fakeChatwoot.js';

/** Chatwoot's activity line when it gives up on the bot (`agent_bot.error_moved_to_open`). */
export const BOT_ERROR_ACTIVITY =
  'Conversation was marked open by system due to an error with the agent bot.';

/** Statuses `Webhooks::Trigger` turns into a `RetryableError` for agent bots. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500]);

/** Events whose failure `Webhooks::Trigger#handle_error` acts on. */
const ERROR_HANDLED_EVENTS = new Set(['message_created', 'message_updated']);

export interface AgentBotSenderOptions {
  /** The agent bot's `outgoing_url`. */
  url: string;
  /** The agent bot's secret: attempts are signed when set (Chatwoot ≥ 4.13). */
  secret?: string;
  /** Where Chatwoot's own reaction to a failed delivery lands. */
  chatwoot: FakeChatwoot;
  /** Sidekiq threads running jobs at once. Default 10 (Chatwoot's default concurrency). */
  threads?: number;
  /** Default 5000 (`WEBHOOK_TIMEOUT`). */
  requestTimeoutMs?: number;
  /** Default 3 (`RETRY_ATTEMPTS`). */
  attempts?: number;
  /** Default 3000 (`wait: 3.seconds`). */
  retryWaitMs?: number;
  /** ActiveJob's jitter: up to this fraction of the wait is added. Default 0.15. */
  retryJitter?: number;
  /** A job waits up to this long in the queue before a thread picks it up. Default 20. */
  pickupJitterMs?: number;
  /** `account.keep_pending_on_bot_failure`. Default false. */
  keepPendingOnBotFailure?: boolean;
  /** Uniform in [0, 1); default Math.random (a chaos run passes a seeded one). */
  random?: () => number;
  /** Default: a random UUID per job. */
  deliveryId?: () => string;
}

export interface AttemptRecord {
  startedAt: number;
  durationMs: number;
  status?: number;
  error?: string;
}

/** One webhook job: what was sent, each attempt, and how it ended. */
export interface WebhookJob {
  deliveryId: string;
  event: string;
  accountId?: number;
  conversationId?: number;
  messageId?: number;
  enqueuedAt: number;
  attempts: AttemptRecord[];
  outcome?: 'delivered' | 'gave_up';
  /** Set when Chatwoot reacted to the failure by opening the conversation. */
  openedConversation?: boolean;
  finishedAt?: number;
}

type Payload = Record<string, unknown>;

export class AgentBotSender {
  readonly jobs: WebhookJob[] = [];
  /** Messages an older Chatwoot would show as failed (`Messages::StatusUpdateService`). */
  readonly failedMessageIds = new Set<number>();
  private readonly queue: Array<() => Promise<void>> = [];
  private readonly idleWaiters: Array<() => void> = [];
  private busy = 0;
  private scheduled = 0;
  private readonly threads: number;
  private readonly random: () => number;

  constructor(private readonly options: AgentBotSenderOptions) {
    this.threads = options.threads ?? 10;
    this.random = options.random ?? Math.random;
  }

  /** `AgentBots::WebhookJob.perform_later(url, payload, :agent_bot_webhook, ...)`. */
  enqueue(payload: Payload): WebhookJob {
    const ids = idsOf(payload);
    const job: WebhookJob = {
      deliveryId: this.options.deliveryId?.() ?? randomUUID(),
      event: String(payload.event),
      ...ids,
      enqueuedAt: Date.now(),
      attempts: [],
    };
    this.jobs.push(job);
    // Serialised once, when enqueued, as ActiveJob does.
    const body = JSON.stringify(payload);
    this.schedule(this.jitter(this.options.pickupJitterMs ?? 20), () => this.perform(job, body));
    return job;
  }

  /** Jobs still queued, running or waiting for their retry. */
  get pending(): number {
    return this.queue.length + this.busy + this.scheduled;
  }

  /** Resolves once every job has finished (delivered or given up). */
  async idle(): Promise<void> {
    if (this.pending === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private async perform(job: WebhookJob, body: string): Promise<void> {
    const attempt = await this.post(job, body);
    job.attempts.push(attempt);
    if (attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300) {
      job.outcome = 'delivered';
      job.finishedAt = Date.now();
      return;
    }
    const retryable = attempt.status !== undefined && RETRYABLE_STATUSES.has(attempt.status);
    if (retryable && job.attempts.length < (this.options.attempts ?? 3)) {
      const wait = this.options.retryWaitMs ?? 3_000;
      const delay = wait + this.random() * wait * (this.options.retryJitter ?? 0.15);
      this.schedule(delay, () => this.perform(job, body));
      return;
    }
    job.outcome = 'gave_up';
    job.finishedAt = Date.now();
    this.handleFailure(job, JSON.parse(body) as Payload);
  }

  /** `Webhooks::Trigger#handle_error` for agent-bot webhooks. */
  private handleFailure(job: WebhookJob, payload: Payload): void {
    if (!ERROR_HANDLED_EVENTS.has(job.event)) return;
    const { accountId, conversationId, messageId } = job;
    if (accountId === undefined || conversationId === undefined || messageId === undefined) return;
    const { chatwoot } = this.options;
    if (!chatwoot.messages(accountId, conversationId).some((m) => m.id === messageId)) return;
    if (chatwoot.status(accountId, conversationId) !== 'pending') return;
    this.failedMessageIds.add(messageId);
    if (this.options.keepPendingOnBotFailure) return;
    chatwoot.setStatus(accountId, conversationId, 'open');
    chatwoot.addMessage(accountId, conversationId, {
      content: BOT_ERROR_ACTIVITY,
      message_type: 'activity',
      inbox_id: typeof payload.inbox === 'object' ? Number((payload.inbox as Payload).id) : 1,
    });
    job.openedConversation = true;
  }

  /** One attempt: a new connection, as RestClient/SafeFetch make one per request. */
  private post(job: WebhookJob, body: string): Promise<AttemptRecord> {
    const startedAt = Date.now();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      'x-chatwoot-delivery': job.deliveryId,
    };
    if (this.options.secret) {
      const signed = signWebhook(body, this.options.secret);
      headers['x-chatwoot-signature'] = signed['x-chatwoot-signature'];
      headers['x-chatwoot-timestamp'] = signed['x-chatwoot-timestamp'];
    }
    const timeoutMs = this.options.requestTimeoutMs ?? 5_000;
    return new Promise((resolve) => {
      const done = (result: Omit<AttemptRecord, 'startedAt' | 'durationMs'>) =>
        resolve({ startedAt, durationMs: Date.now() - startedAt, ...result });
      const request = http.request(
        this.options.url,
        { method: 'POST', headers, agent: false, signal: AbortSignal.timeout(timeoutMs) },
        (response) => {
          response.resume();
          response.once('end', () => done({ status: response.statusCode }));
          response.once('error', (error) => done({ error: describe(error) }));
        },
      );
      request.once('error', (error) => done({ error: describe(error) }));
      request.end(body);
    });
  }

  private jitter(maxMs: number): number {
    return maxMs > 0 ? this.random() * maxMs : 0;
  }

  /** Puts a run of the job back on the queue after `delayMs` (Sidekiq's scheduled set). */
  private schedule(delayMs: number, run: () => Promise<void>): void {
    this.scheduled += 1;
    void sleep(delayMs).then(() => {
      this.scheduled -= 1;
      this.queue.push(run);
      this.drain();
    });
  }

  private drain(): void {
    while (this.busy < this.threads && this.queue.length > 0) {
      const run = this.queue.shift() as () => Promise<void>;
      this.busy += 1;
      void run()
        .catch((error: unknown) => console.error('webhook job crashed', error))
        .finally(() => {
          this.busy -= 1;
          this.drain();
          if (this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
        });
    }
  }
}

function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timeout';
  return code ?? error.message;
}

/** The ids a failure handler needs, from a message or conversation payload. */
function idsOf(payload: Payload): Pick<WebhookJob, 'accountId' | 'conversationId' | 'messageId'> {
  const account = payload.account as Payload | undefined;
  const conversation = payload.conversation as Payload | undefined;
  if (String(payload.event).startsWith('message_')) {
    return {
      accountId: numberOr(account?.id),
      conversationId: numberOr(conversation?.id),
      messageId: numberOr(payload.id),
    };
  }
  return { accountId: numberOr(account?.id), conversationId: numberOr(payload.id) };
}

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}
