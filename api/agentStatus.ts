import type { Client } from '@temporalio/client';
import type { AgentConfig, BridgeConfig } from '../config/schema.js';
import { MESSAGE_DELIVERY_TYPES, type DeliveryReport } from '../workflows/shared.js';

/** One agent's health as seen from its recent deliveries. */
export interface AgentStatus {
  id: string;
  transport: AgentConfig['transport'];
  /** `ok`: last delivery answered and none retrying; `failing`; `idle`: nothing in the look-back. */
  state: 'ok' | 'failing' | 'idle';
  lastSuccess: OutcomeEvent | null;
  lastFailure: OutcomeEvent | null;
  /** Newest deliveries in a row the agent did not answer (within the sample). */
  consecutiveFailures: number;
  latency: {
    /** Deliveries with a reply posted that these figures come from. */
    samples: number;
    /** Message workflow started → first reply posted in Chatwoot. */
    firstReplyMsP50: number | null;
    firstReplyMsP95: number | null;
    /** Message workflow started → finished (all replies posted). */
    deliveryMsP50: number | null;
  };
  recent: {
    /** Finished deliveries looked at (newest first, at most `api.statusSampleSize`). */
    deliveries: number;
    answered: number;
    notAnswered: number;
    /** Failed exchange attempts in those deliveries, including ones a retry made good. */
    failedAttempts: number;
  };
  /** Deliveries running now, and how many of those are retrying a failing agent. */
  inFlight: number;
  retrying: number;
}

export interface OutcomeEvent {
  at: string;
  workflowId: string;
  detail: string;
}

export interface AgentStatusReport {
  generatedAt: string;
  /** Deliveries finished after this time are looked at. */
  since: string;
  sampleSize: number;
  agents: AgentStatus[];
}

/**
 * Agent health derived from Temporal visibility, so it is the same whichever process asks
 * and survives restarts: the newest finished deliveries (both workflow types) of each agent on this
 * bridge's task queue (bounded by count and look-back), their delivery reports (read from
 * the close event only), and counts of the running ones. Visibility is eventually consistent:
 * a delivery finished a moment ago may show up a moment later.
 */
export async function readAgentStatus(
  temporal: Client,
  config: BridgeConfig,
  now: Date = new Date(),
): Promise<AgentStatusReport> {
  const { statusSampleSize: sampleSize, statusLookbackMs } = config.api;
  const since = new Date(now.getTime() - statusLookbackMs).toISOString();
  const agents: AgentStatus[] = [];
  // One agent at a time keeps the number of concurrent history reads at the sample size.
  for (const agent of config.agents) {
    agents.push(await agentStatus(temporal, config, agent, since, sampleSize));
  }
  return { generatedAt: now.toISOString(), since, sampleSize, agents };
}

async function agentStatus(
  temporal: Client,
  config: BridgeConfig,
  agent: AgentConfig,
  since: string,
  sampleSize: number,
): Promise<AgentStatus> {
  const ofAgent = [
    `WorkflowType IN (${MESSAGE_DELIVERY_TYPES.map(quote).join(', ')})`,
    `TaskQueue = ${quote(config.temporal.taskQueue)}`,
    `AgentId = ${quote(agent.id)}`,
  ].join(' AND ');

  const finished: Array<{ workflowId: string; runId: string }> = [];
  const listing = temporal.workflow.list({
    query: `${ofAgent} AND CloseTime > ${quote(since)} AND ExecutionStatus = "Completed"`,
    pageSize: sampleSize,
  });
  for await (const execution of listing) {
    finished.push({ workflowId: execution.workflowId, runId: execution.runId });
    if (finished.length >= sampleSize) break;
  }
  const [reports, inFlight, retrying] = await Promise.all([
    Promise.all(
      finished.map(
        ({ workflowId, runId }) =>
          temporal.workflow.result(workflowId, runId, {
            followRuns: false,
          }) as Promise<DeliveryReport>,
      ),
    ),
    temporal.workflow.count(`${ofAgent} AND ExecutionStatus = "Running"`),
    temporal.workflow.count(
      `${ofAgent} AND ExecutionStatus = "Running" AND DeliveryStatus = "retrying"`,
    ),
  ]);
  return summarize(agent, reports, inFlight.count, retrying.count);
}

/** The status of one agent from its recent delivery reports (any order). */
function summarize(
  agent: Pick<AgentConfig, 'id' | 'transport'>,
  reports: readonly DeliveryReport[],
  inFlight = 0,
  retrying = 0,
): AgentStatus {
  const outcomes = reports
    .map(outcomeOf)
    .filter((outcome) => outcome !== undefined)
    .sort((a, b) => b.event.at.localeCompare(a.event.at));
  const lastSuccess = outcomes.find((outcome) => outcome.answered)?.event ?? null;
  const lastFailure = outcomes.find((outcome) => !outcome.answered)?.event ?? null;
  const firstAnswered = outcomes.findIndex((outcome) => outcome.answered);
  const consecutiveFailures = firstAnswered === -1 ? outcomes.length : firstAnswered;

  const answered = outcomes.filter((outcome) => outcome.answered);
  const firstReply = answered
    .map((outcome) => outcome.firstReplyMs)
    .filter((ms): ms is number => ms !== undefined);
  const delivery = answered.map((outcome) => outcome.deliveryMs);

  let state: AgentStatus['state'] = 'idle';
  if (consecutiveFailures > 0 || retrying > 0) state = 'failing';
  else if (outcomes.length > 0) state = 'ok';

  return {
    id: agent.id,
    transport: agent.transport,
    state,
    lastSuccess,
    lastFailure,
    consecutiveFailures,
    latency: {
      samples: answered.length,
      firstReplyMsP50: percentile(firstReply, 50),
      firstReplyMsP95: percentile(firstReply, 95),
      deliveryMsP50: percentile(delivery, 50),
    },
    recent: {
      deliveries: outcomes.length,
      answered: answered.length,
      notAnswered: outcomes.length - answered.length,
      failedAttempts: reports.reduce(
        (sum, report) => sum + report.attempts.filter((a) => a.outcome === 'failed').length,
        0,
      ),
    },
    inFlight,
    retrying,
  };
}

interface Outcome {
  /** The agent's last exchange attempt completed (whatever Chatwoot did with the replies). */
  answered: boolean;
  event: OutcomeEvent;
  firstReplyMs?: number;
  deliveryMs: number;
}

/** A delivery that never reached the agent (no attempt) says nothing about the agent. */
function outcomeOf(report: DeliveryReport): Outcome | undefined {
  const last = report.attempts.at(-1);
  if (!last) return undefined;
  const answered = last.outcome === 'completed';
  const { startedAt, firstReplyPostedAt, completedAt, durationMs } = report.timings;
  return {
    answered,
    event: {
      at: completedAt,
      workflowId: report.workflowId,
      detail: answered ? last.detail : (report.reason ?? last.detail),
    },
    ...(firstReplyPostedAt
      ? { firstReplyMs: Date.parse(firstReplyPostedAt) - Date.parse(startedAt) }
      : {}),
    deliveryMs: durationMs,
  };
}

/** Nearest-rank percentile; null without samples. */
function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** A visibility-query string literal. */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
