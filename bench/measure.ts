import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { bridgeMarkerOf } from '../chatwoot/sourceId.js';
import type { FakeChatwoot } from '../sandbox/fakeChatwoot.js';
import type { PhaseResult, Sample } from './loadGenerator.js';
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
  /** Same for this process's children, i.e. the Temporal dev server (Linux only). */
  childCpuPercent: number;
  /** Main-thread event-loop lag beyond the sampling interval. */
  eventLoopLagMs: { p50: number; p99: number; max: number };
  /** 1-minute load average at the end of the phase: other tenants show up here. */
  loadAverage: number;
}

const LOOP_RESOLUTION_MS = 10;
/** Linux USER_HZ; /proc reports CPU times in these ticks. */
const CLOCK_TICKS_PER_S = 100;

/** CPU and event-loop readings over one phase. */
export function startProbe() {
  const cpusBefore = cpuTimes();
  const processBefore = process.cpuUsage();
  const childrenBefore = childCpuSeconds();
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
      childCpuPercent: round((100_000 * (childCpuSeconds() - childrenBefore)) / wallMs, 1),
      eventLoopLagMs: {
        p50: lag(loop.percentile(50)),
        p99: lag(loop.percentile(99)),
        max: lag(loop.max),
      },
      loadAverage: round(os.loadavg()[0] ?? NaN),
    };
  };
}

/** utime + stime of this process's direct children, from /proc; NaN elsewhere. */
function childCpuSeconds(): number {
  try {
    let ticks = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // exited while we looked
      }
      // Fields after the parenthesised command: state ppid … utime(14) stime(15).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks / CLOCK_TICKS_PER_S;
  } catch {
    return NaN;
  }
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
  accountId: number,
  phases: { warmup: PhaseResult; measured: PhaseResult },
  chatwoot: FakeChatwoot,
  probe: ProbeReading,
): PathResult {
  const { measured } = phases;
  const all = [...phases.warmup.samples, ...measured.samples];
  const replied = measured.samples.filter(
    (sample): sample is Sample & { repliedAt: number } => sample.repliedAt !== undefined,
  );
  const lastReply = Math.max(...replied.map((sample) => sample.repliedAt));
  const durationMs = replied.length ? lastReply - measured.startedAt : NaN;
  const audit = auditReplies(chatwoot, accountId, all);

  return {
    name,
    messages: measured.samples.length,
    replied: replied.length,
    throughput: round((1000 * replied.length) / durationMs),
    durationS: round(durationMs / 1000),
    latencyMs: rounded(summarize(replied.map((sample) => sample.repliedAt - sample.sentAt))),
    ackMs: rounded(summarize(measured.samples.map((sample) => sample.ackMs ?? NaN))),
    lost: all.filter((sample) => sample.repliedAt === undefined).length,
    ...audit,
    httpErrors: all.filter(
      (sample) => sample.httpError !== undefined || (sample.httpStatus ?? 0) >= 300,
    ).length,
    ...probe,
  };
}

/** Reads what the fake Chatwoot stored for this path's account. */
function auditReplies(chatwoot: FakeChatwoot, accountId: number, samples: Sample[]) {
  const stored = chatwoot
    .allMessages()
    .filter((message) => message.account_id === accountId && message.message_type === 'outgoing');
  const byContent = countBy(stored.map((message) => message.content));
  const byMarker = countBy(stored.flatMap((message) => bridgeMarkerOf(message) ?? []));
  const expected = new Set(samples.map((sample) => `echo: ${sample.content}`));
  return {
    duplicated: samples.filter((sample) => (byContent.get(`echo: ${sample.content}`) ?? 0) > 1)
      .length,
    duplicateMarkers: [...byMarker.values()].filter((count) => count > 1).length,
    unexpected: stored.filter((message) => !expected.has(message.content)).length,
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
