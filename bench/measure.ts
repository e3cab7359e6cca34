import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { bridgeMarkerOf } from '../chatwoot/sourceId.js';
import type { FakeChatwoot } from '../sandbox/fakeChatwoot.js';
import type { PhaseResult, Sample } from './loadGenerator.js';
import { readProcTable, treeCpuMs } from './processTree.js';
import { round, summarize, type LatencySummary } from './stats.js';

export interface PathResult {
  name: string;
  /** Measured messages (warmup excluded). */
  messages: number;
  replied: number;
  /** Replied measured messages per second, first send → last reply. */
  throughput: number;
  durationS: number;
  /** Webhook sent → reply stored by the fake Chatwoot. */
  latencyMs: LatencySummary;
  /** Webhook sent → HTTP response. */
  ackMs: LatencySummary;
  /** Sent messages (warmup included) with no reply before the deadline. */
  lost: number;
  /** Sent messages (warmup included) that got more than one reply. */
  duplicated: number;
  /** Bridge markers stored more than once. */
  duplicateMarkers: number;
  /** Outgoing messages matching no sent message (fallbacks, hand-off notes…). */
  unexpected: number;
  /** Webhooks answered with a non-2xx status or not answered at all. */
  httpErrors: number;
  /** Busy share of all CPUs during the measured phase (includes the Temporal server). */
  machineCpuPercent: number;
  /** This process's CPU time (all threads) over wall time, in % of one core. */
  processCpuPercent: number;
  /** CPU ms each process (tree) used during the measured phase: server, API, workers… (Linux). */
  cpuMs: Record<string, number>;
  /** The same per measured message. */
  cpuMsPerMessage: Record<string, number>;
  /** Main-thread event-loop lag beyond the sampling interval. */
  eventLoopLagMs: { p50: number; p99: number; max: number };
  /** 1-minute load average at the end of the phase: other tenants show up here. */
  loadAverage: number;
}

const LOOP_RESOLUTION_MS = 10;

/** Root pids of the processes whose CPU a phase reports, by role (`server`, `api`, `workers`…). */
export type ProcessRoles = () => Record<string, Array<number | undefined>>;

/** CPU ms per role so far: the sum of each root's process tree, `bench` for this process. */
function roleCpuMs(roles: ProcessRoles): Record<string, number> {
  const table = readProcTable();
  const own = process.cpuUsage();
  const readings: Record<string, number> = { bench: (own.user + own.system) / 1000 };
  for (const [role, pids] of Object.entries(roles())) {
    readings[role] = pids.reduce((sum: number, pid) => sum + treeCpuMs(pid, table), 0);
  }
  return readings;
}

/** CPU and event-loop readings over one phase. */
export function startProbe(roles: ProcessRoles = () => ({})) {
  const cpusBefore = cpuTimes();
  const processBefore = process.cpuUsage();
  const rolesBefore = roleCpuMs(roles);
  const wallBefore = performance.now();
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  return () => {
    loop.disable();
    const wallMs = performance.now() - wallBefore;
    const cpus = cpuTimes();
    const used = process.cpuUsage(processBefore);
    const total = cpus.total - cpusBefore.total;
    // The histogram holds whole timer intervals; the lag is what exceeds the resolution.
    const lag = (ns: number) => round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS));
    return {
      machineCpuPercent: round(total ? (100 * (cpus.busy - cpusBefore.busy)) / total : NaN, 1),
      processCpuPercent: round((100 * (used.user + used.system)) / 1000 / wallMs, 1),
      cpuMs: Object.fromEntries(
        Object.entries(roleCpuMs(roles)).map(([role, ms]) => [
          role,
          round(ms - (rolesBefore[role] ?? NaN), 0),
        ]),
      ),
      eventLoopLagMs: {
        p50: lag(loop.percentile(50)),
        p99: lag(loop.percentile(99)),
        max: lag(loop.max),
      },
      loadAverage: round(os.loadavg()[0] ?? NaN),
    };
  };
}

export type ProbeReading = ReturnType<ReturnType<typeof startProbe>>;

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** Latency and throughput from the measured phase; loss and duplicates over every message sent. */
export function evaluate(
  name: string,
  phases: { warmup: PhaseResult; measured: PhaseResult },
  audit: (samples: Sample[]) => ReplyAudit,
  probe: ProbeReading,
): PathResult {
  const { measured } = phases;
  const all = [...phases.warmup.samples, ...measured.samples];
  const replied = measured.samples.filter(
    (sample): sample is Sample & { repliedAt: number } => sample.repliedAt !== undefined,
  );
  const lastReply = Math.max(...replied.map((sample) => sample.repliedAt));
  const durationMs = replied.length ? lastReply - measured.startedAt : NaN;

  return {
    name,
    messages: measured.samples.length,
    replied: replied.length,
    throughput: round((1000 * replied.length) / durationMs),
    durationS: round(durationMs / 1000),
    latencyMs: rounded(summarize(replied.map((sample) => sample.repliedAt - sample.sentAt))),
    ackMs: rounded(summarize(measured.samples.map((sample) => sample.ackMs ?? NaN))),
    lost: all.filter((sample) => sample.repliedAt === undefined).length,
    ...audit(all),
    httpErrors: all.filter(
      (sample) => sample.httpError !== undefined || (sample.httpStatus ?? 0) >= 300,
    ).length,
    ...probe,
    cpuMsPerMessage: Object.fromEntries(
      Object.entries(probe.cpuMs).map(([role, ms]) => [role, round(ms / measured.samples.length)]),
    ),
  };
}

export interface ReplyAudit {
  /** Sent messages with one of their replies stored more than once. */
  duplicated: number;
  /** Bridge markers stored more than once. */
  duplicateMarkers: number;
  /** Stored replies matching no sent message. */
  unexpected: number;
}

/** Reads what the fake Chatwoot stored for one account: every expected reply exactly once. */
export function auditChatwootReplies(
  chatwoot: FakeChatwoot,
  accountId: number,
  expectedReplies: (sample: Sample) => string[],
) {
  return (samples: Sample[]): ReplyAudit => {
    const stored = chatwoot
      .allMessages()
      .filter((message) => message.account_id === accountId && message.message_type === 'outgoing');
    return auditStored(
      stored.map((message) => message.content),
      stored.flatMap((message) => bridgeMarkerOf(message) ?? []),
      samples,
      expectedReplies,
    );
  };
}

/** Duplicates and strays among stored reply keys (contents, markers). */
export function auditStored(
  contents: string[],
  markers: string[],
  samples: Sample[],
  expectedReplies: (sample: Sample) => string[],
): ReplyAudit {
  const byContent = countBy(contents);
  const byMarker = countBy(markers);
  const expected = new Set(samples.flatMap(expectedReplies));
  return {
    duplicated: samples.filter((sample) =>
      expectedReplies(sample).some((reply) => (byContent.get(reply) ?? 0) > 1),
    ).length,
    duplicateMarkers: [...byMarker.values()].filter((count) => count > 1).length,
    unexpected: contents.filter((content) => !expected.has(content)).length,
  };
}

function countBy(keys: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

function rounded(summary: LatencySummary): LatencySummary {
  const { count, ...rest } = summary;
  return {
    count,
    ...(Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, round(value)])) as Omit<
      LatencySummary,
      'count'
    >),
  };
}
