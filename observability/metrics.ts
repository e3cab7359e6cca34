import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChatwootCallObservation } from '../chatwoot/client.js';

/**
 * The bridge's Prometheus series. Each app and each worker owns its own registry (never
 * prom-client's global one), so several bridges in one process — the tests, `npm start` — keep
 * their counts apart; {@link renderMetrics} serves several registries as one page.
 */
const PREFIX = 'chatwoot_bridge_';

/** Seconds: agent exchanges run from milliseconds (echo) to minutes (slow agents, streaming). */
const EXCHANGE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Seconds: one HTTP call to Chatwoot. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsOptions {
  /** Also collect Node's process metrics (CPU, memory, event loop): once per process. */
  processMetrics?: boolean;
}

/**
 * Reasons are the human-readable texts the webhook logs ("inbox 12 is not routed to an agent");
 * numbers become `N` so that a label never holds an id and the series stay few.
 */
export function reasonLabel(reason: string): string {
  return reason.replace(/\d+/g, 'N').trim().slice(0, 80) || 'unknown';
}

/**
 * Without a webhook secret anyone may post, so values taken from payloads (event names, sender
 * types) must not be able to grow a label without bound: past this many, they count as `other`.
 */
const MAX_REASONS_PER_SERIES = 50;

class LabelBudget {
  private readonly seen = new Set<string>();
  label(reason: string): string {
    const label = reasonLabel(reason);
    if (this.seen.has(label)) return label;
    if (this.seen.size >= MAX_REASONS_PER_SERIES) return 'other';
    this.seen.add(label);
    return label;
  }
}

/** A request path as a route, ids replaced: `/api/v1/accounts/:id/conversations/:id/messages`. */
export function routeLabel(path: string): string {
  return (path.split('?')[0] ?? path).replace(/\/\d+(?=\/|$)/g, '/:id');
}

/** The HTTP side: what happened to each webhook. */
export class ApiMetrics {
  readonly registry = new Registry();

  private readonly received = new Counter({
    name: `${PREFIX}webhooks_received_total`,
    help: 'Requests to POST /webhook/chatwoot.',
    registers: [this.registry],
  });
  private readonly rejected = new Counter({
    name: `${PREFIX}webhooks_rejected_total`,
    help: 'Webhooks refused (401 signature, 400 payload, 413 size, 503 Temporal down), by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly ignored = new Counter({
    name: `${PREFIX}webhooks_ignored_total`,
    help: 'Valid webhooks that are not for the agent (200 ignored), by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly accepted = new Counter({
    name: `${PREFIX}webhooks_accepted_total`,
    help: 'Customer messages handed to their conversation actor, by agent.',
    labelNames: ['agent'] as const,
    registers: [this.registry],
  });

  private readonly handedFirst = new Counter({
    name: `${PREFIX}webhooks_older_messages_handed_first_total`,
    help: 'After an outage: older customer messages without a delivery, handed over before a newer one.',
    registers: [this.registry],
  });

  private readonly rejectedReasons = new LabelBudget();
  private readonly ignoredReasons = new LabelBudget();

  olderMessagesHandedFirst(count: number): void {
    this.handedFirst.inc(count);
  }

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  webhookReceived(): void {
    this.received.inc();
  }
  webhookRejected(reason: string): void {
    this.rejected.inc({ reason: this.rejectedReasons.label(reason) });
  }
  webhookIgnored(reason: string): void {
    this.ignored.inc({ reason: this.ignoredReasons.label(reason) });
  }
  /**
   * Temporal took the message. A Chatwoot retry is accepted too: its conversation actor drops
   * it, and the worker counts it (`messages_deduplicated_total`).
   */
  webhookAccepted(agentId: string): void {
    this.accepted.inc({ agent: agentId });
  }
}

/** The worker side: deliveries, agent exchanges and Chatwoot calls (activities run here). */
export class WorkerMetrics {
  readonly registry = new Registry();

  private readonly deduplicated = new Counter({
    name: `${PREFIX}messages_deduplicated_total`,
    help: 'Customer messages a conversation actor dropped as duplicates (Chatwoot retries), by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly deliveries = new Counter({
    name: `${PREFIX}deliveries_total`,
    help: 'Finished delivery workflows, by agent and outcome (delivered, handed_off, failed).',
    labelNames: ['agent', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly exchangeSeconds = new Histogram({
    name: `${PREFIX}agent_exchange_duration_seconds`,
    help: 'One agent exchange attempt, connect to close, by agent and outcome (completed or the failure reason).',
    labelNames: ['agent', 'outcome'] as const,
    buckets: EXCHANGE_BUCKETS,
    registers: [this.registry],
  });
  private readonly replies = new Counter({
    name: `${PREFIX}agent_replies_total`,
    help: 'Replies received from agents, by agent.',
    labelNames: ['agent'] as const,
    registers: [this.registry],
  });
  private readonly aiwmStrays = new Counter({
    name: `${PREFIX}aiwm_stray_messages_total`,
    help: 'AIWM assistant messages dropped because they belong to no running turn (a late part, another turn), by agent and reason.',
    labelNames: ['agent', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly chatwootSeconds = new Histogram({
    name: `${PREFIX}chatwoot_request_duration_seconds`,
    help: 'Calls to the Chatwoot API, by method, route and status (HTTP code, network_error or timeout).',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  private readonly catchUpRuns = new Counter({
    name: `${PREFIX}catch_up_runs_total`,
    help: "Catch-up runs that listed their account's conversations.",
    registers: [this.registry],
  });
  private readonly caughtUp = new Counter({
    name: `${PREFIX}catch_up_messages_total`,
    help: 'Missed customer messages found by catch-up, by outcome (answered: handed to the bot; handed_to_team: too old).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  catchUpRun(): void {
    this.catchUpRuns.inc();
  }
  catchUpMessages(outcome: 'answered' | 'handed_to_team', count: number): void {
    this.caughtUp.inc({ outcome }, count);
  }
  messageDeduplicated(reason: string): void {
    this.deduplicated.inc({ reason: reasonLabel(reason) });
  }
  deliveryFinished(agentId: string, outcome: string): void {
    this.deliveries.inc({ agent: agentId, outcome });
  }
  agentReply(agentId: string): void {
    this.replies.inc({ agent: agentId });
  }
  agentExchangeFinished(agentId: string, outcome: string, durationMs: number): void {
    this.exchangeSeconds.observe({ agent: agentId, outcome }, durationMs / 1000);
  }
  /** `reason` is one of agents/aiwm/turn.ts's few `StrayReason`s. */
  aiwmStrayMessage(agentId: string, reason: string): void {
    this.aiwmStrays.inc({ agent: agentId, reason });
  }
  chatwootCall(sample: ChatwootCallObservation): void {
    this.chatwootSeconds.observe(
      { method: sample.method, route: routeLabel(sample.path), status: String(sample.status) },
      sample.durationMs / 1000,
    );
  }
}

/** The Prometheus text of several registries, as one scrape page. */
export function renderMetrics(registries: readonly Registry[]): Promise<string> {
  return registries.length === 1
    ? (registries[0] as Registry).metrics()
    : Registry.merge([...registries]).metrics();
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
