import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageCreatedPayload, signWebhook } from '../sandbox/chatwootWebhooks.js';
import type { ReplyTracker } from './replyTracker.js';

/** One path under test: where its webhooks go and the account that keeps its replies apart. */
export interface Target {
  name: string;
  webhookUrl: string;
  accountId: number;
}

export interface LoadSettings {
  count: number;
  rate: number;
  concurrency: number;
  conversations: number;
  timeoutMs: number;
  inboxId: number;
  secret: string;
}

export interface Sample {
  messageId: number;
  conversationId: number;
  content: string;
  /** performance.now() when the webhook request started. */
  sentAt: number;
  /** Webhook response time. */
  ackMs?: number;
  httpStatus?: number;
  httpError?: string;
  /** performance.now() when the fake Chatwoot stored the reply. */
  repliedAt?: number;
}

export interface PhaseResult {
  samples: Sample[];
  startedAt: number;
  lastSentAt: number;
}

/** Message ids stay unique across phases and paths, so workflow ids never collide. */
export class MessageIds {
  private next = 1;
  take(): number {
    return this.next++;
  }
}

/**
 * Sends `count` signed `message_created` webhooks over real HTTP: paced at `rate`, at most
 * `concurrency` awaiting their reply at once. A message frees its slot on its reply or after
 * `timeoutMs`; after the last send, stragglers get `timeoutMs` more before they count as lost.
 */
export async function drive(
  target: Target,
  settings: LoadSettings,
  tracker: ReplyTracker,
  ids: MessageIds,
): Promise<PhaseResult> {
  const slots = new Semaphore(settings.concurrency);
  const samples: Sample[] = [];
  const replies: Promise<number>[] = [];
  const inFlight: Promise<unknown>[] = [];
  const startedAt = performance.now();
  const interval = settings.rate > 0 ? 1000 / settings.rate : 0;

  for (let i = 0; i < settings.count; i++) {
    // Open-loop pacing against the schedule, so one slow send does not shift the rest.
    const due = startedAt + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    await slots.acquire();
    const messageId = ids.take();
    const sample: Sample = {
      messageId,
      conversationId: (messageId % settings.conversations) + 1,
      content: `bench ${target.name} message ${messageId}`,
      sentAt: 0,
    };
    samples.push(sample);
    const reply = tracker.expect(`echo: ${sample.content}`);
    replies.push(reply);
    inFlight.push(
      send(target, settings, sample)
        .then(() => withTimeout(reply, settings.timeoutMs))
        .finally(() => slots.release()),
    );
  }
  const lastSentAt = performance.now();
  await Promise.all(inFlight);
  // Messages whose slot timed out early may still answer until the shared deadline.
  await withTimeout(Promise.all(replies), lastSentAt + settings.timeoutMs - performance.now());
  for (const sample of samples) sample.repliedAt = tracker.repliedAt(`echo: ${sample.content}`);
  return { samples, startedAt, lastSentAt };
}

async function send(target: Target, settings: LoadSettings, sample: Sample): Promise<void> {
  const body = JSON.stringify(
    messageCreatedPayload({
      accountId: target.accountId,
      conversationId: sample.conversationId,
      inboxId: settings.inboxId,
      messageId: sample.messageId,
      content: sample.content,
    }),
  );
  sample.sentAt = performance.now();
  try {
    const response = await fetch(target.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signWebhook(body, settings.secret) },
      body,
    });
    await response.arrayBuffer();
    sample.httpStatus = response.status;
  } catch (error) {
    sample.httpError = error instanceof Error ? error.message : String(error);
  }
  sample.ackMs = performance.now() - sample.sentAt;
}

/** Resolves with the promise's value, or undefined after `ms`; never leaves a timer behind. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  const abort = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: abort.signal }).catch(() => undefined),
    ]);
  } finally {
    abort.abort();
  }
}

class Semaphore {
  private readonly waiters: Array<() => void> = [];
  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free += 1;
  }
}
