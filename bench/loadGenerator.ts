import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageCreatedPayload, signWebhook } from '../sandbox/chatwootWebhooks.js';

/** Where replies show up, keyed by their content. */
export interface Replies {
  /** Register before sending, so a very fast reply cannot slip past. Resolves with its time. */
  expect(key: string): Promise<number>;
  /** performance.now() of the first such reply, if any arrived. */
  repliedAt(key: string): number | undefined;
}

/** One path under test: how a message is handed over, and the reply that answers it. */
export interface Target {
  name: string;
  /** Keeps this path's conversations and replies apart from the others'. */
  accountId: number;
  /** Hands one message over, recording its acknowledgement on the sample. */
  send(sample: Sample): Promise<void>;
  /** The reply whose arrival answers the message (the last one when there are several). */
  answeredBy(sample: Sample): string;
  replies: Replies;
}

export interface LoadSettings {
  count: number;
  rate: number;
  concurrency: number;
  conversations: number;
  /** Conversation ids start after this one (idle-actor batches take fresh conversations). */
  conversationOffset?: number;
  timeoutMs: number;
}

/** A path fed by signed Chatwoot `message_created` webhooks over real HTTP. */
export function webhookTarget(options: {
  name: string;
  webhookUrl: string;
  accountId: number;
  inboxId: number;
  secret: string;
  replies: Replies;
  /** Default: the echo agent's `echo: <content>`. */
  answeredBy?: (sample: Sample) => string;
}): Target {
  return {
    name: options.name,
    accountId: options.accountId,
    replies: options.replies,
    answeredBy: options.answeredBy ?? ((sample) => `echo: ${sample.content}`),
    send: (sample) => sendWebhook(options, sample),
  };
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
      conversationId: (settings.conversationOffset ?? 0) + (messageId % settings.conversations) + 1,
      content: `bench ${target.name} message ${messageId}`,
      sentAt: 0,
    };
    samples.push(sample);
    const reply = target.replies.expect(target.answeredBy(sample));
    replies.push(reply);
    inFlight.push(
      target
        .send(sample)
        .then(() => withTimeout(reply, settings.timeoutMs))
        .finally(() => slots.release()),
    );
  }
  const lastSentAt = performance.now();
  await Promise.all(inFlight);
  // Messages whose slot timed out early may still answer until the shared deadline.
  await withTimeout(Promise.all(replies), lastSentAt + settings.timeoutMs - performance.now());
  for (const sample of samples)
    sample.repliedAt = target.replies.repliedAt(target.answeredBy(sample));
  return { samples, startedAt, lastSentAt };
}

async function sendWebhook(
  target: { webhookUrl: string; accountId: number; inboxId: number; secret: string },
  sample: Sample,
): Promise<void> {
  const body = JSON.stringify(
    messageCreatedPayload({
      accountId: target.accountId,
      conversationId: sample.conversationId,
      inboxId: target.inboxId,
      messageId: sample.messageId,
      content: sample.content,
    }),
  );
  sample.sentAt = performance.now();
  try {
    const response = await fetch(target.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signWebhook(body, target.secret) },
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
