import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Stage } from './breakdown.js';
import type { IdlePopulation } from './idleActors.js';
import type { PathResult } from './measure.js';
import type { BenchOptions } from './options.js';
import { DOLLARS_PER_MILLION_ACTIONS, totalActions, type ActionCounts } from './serverActions.js';
import { round } from './stats.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export interface Comparison {
  /** bridge / baseline. */
  ratios: { p50: number; p95: number; p99: number; throughput: number };
  addedP50Ms: number;
}

export function compare(baseline: PathResult, bridge: PathResult): Comparison {
  const ratio = (a: number, b: number) => round(a / b);
  return {
    ratios: {
      p50: ratio(bridge.latencyMs.p50, baseline.latencyMs.p50),
      p95: ratio(bridge.latencyMs.p95, baseline.latencyMs.p95),
      p99: ratio(bridge.latencyMs.p99, baseline.latencyMs.p99),
      throughput: ratio(bridge.throughput, baseline.throughput),
    },
    addedP50Ms: round(bridge.latencyMs.p50 - baseline.latencyMs.p50),
  };
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryMb: Math.round(os.totalmem() / 2 ** 20),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
  };
}

type Row = [label: string, baseline: string, bridge: string, ratio?: string];

export function formatReport(
  options: BenchOptions,
  baseline: PathResult,
  bridge: PathResult,
  comparison: Comparison,
): string {
  const info = machine();
  const ms = (value: number) => value.toFixed(1);
  const latencyRow = (label: string, key: keyof PathResult['latencyMs'], ratio?: number): Row => [
    label,
    ms(baseline.latencyMs[key]),
    ms(bridge.latencyMs[key]),
    ratio === undefined ? '' : `×${ratio.toFixed(2)}`,
  ];
  const countRow = (
    label: string,
    key: 'lost' | 'duplicated' | 'duplicateMarkers' | 'unexpected' | 'httpErrors',
  ): Row => [label, String(baseline[key]), String(bridge[key])];
  const rows: Row[] = [
    ['', 'baseline', 'bridge', 'bridge/base'],
    [
      'throughput (msg/s)',
      baseline.throughput.toFixed(2),
      bridge.throughput.toFixed(2),
      `×${comparison.ratios.throughput.toFixed(2)}`,
    ],
    [
      'replied / measured',
      `${baseline.replied}/${baseline.messages}`,
      `${bridge.replied}/${bridge.messages}`,
    ],
    latencyRow('latency p50 (ms)', 'p50', comparison.ratios.p50),
    latencyRow('latency p90 (ms)', 'p90'),
    latencyRow('latency p95 (ms)', 'p95', comparison.ratios.p95),
    latencyRow('latency p99 (ms)', 'p99', comparison.ratios.p99),
    latencyRow('latency max (ms)', 'max'),
    latencyRow('latency mean (ms)', 'mean'),
    ['webhook ack p50 (ms)', ms(baseline.ackMs.p50), ms(bridge.ackMs.p50)],
    ['webhook ack p99 (ms)', ms(baseline.ackMs.p99), ms(bridge.ackMs.p99)],
    countRow('lost', 'lost'),
    countRow('duplicated', 'duplicated'),
    countRow('duplicate markers', 'duplicateMarkers'),
    countRow('unexpected replies', 'unexpected'),
    countRow('webhook errors', 'httpErrors'),
    ['machine CPU busy (%)', ms(baseline.machineCpuPercent), ms(bridge.machineCpuPercent)],
    ['bench process CPU (% core)', ms(baseline.processCpuPercent), ms(bridge.processCpuPercent)],
    ...Object.keys(bridge.cpuMsPerMessage).map((role): Row => [
      `CPU ms/msg: ${role}`,
      ms(baseline.cpuMsPerMessage[role] ?? NaN),
      ms(bridge.cpuMsPerMessage[role] ?? NaN),
    ]),
    ['event loop lag p99 (ms)', ms(baseline.eventLoopLagMs.p99), ms(bridge.eventLoopLagMs.p99)],
    ['load average (1 min)', baseline.loadAverage.toFixed(2), bridge.loadAverage.toFixed(2)],
  ];

  const widths = [0, 1, 2, 3].map((column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: Row) =>
    row
      .map((cell, column) =>
        column === 0
          ? (cell ?? '').padEnd(widths[0] ?? 0)
          : (cell ?? '').padStart(widths[column] ?? 0),
      )
      .join('   ')
      .trimEnd();

  return [
    `chatwoot-bridge bench: ${options.messages} messages per path (+${options.warmup} warmup), ` +
      `rate ${options.rate === 0 ? 'unlimited' : `${options.rate}/s`}, concurrency ${options.concurrency}, ` +
      `${options.conversations} conversations, Temporal ${options.server}, ${options.workers} worker process(es)`,
    `machine: ${info.cpus} × ${info.cpuModel}, ${info.totalMemoryMb} MB, node ${info.node}`,
    ...experiments(options),
    '',
    ...rows.map(line),
    '',
    `added p50 latency (bridge − baseline): ${comparison.addedP50Ms.toFixed(1)} ms`,
  ].join('\n');
}

/** The bridge's timeline, one line per history event, as medians after the webhook was sent. */
export function formatBreakdown(stages: Stage[]): string {
  const width = Math.max(...stages.map((stage) => stage.event.length));
  return [
    '',
    'bridge timeline (median ms after webhook sent, sampled workflows):',
    ...stages.map(
      (stage) => `  ${stage.event.padEnd(width)}  ${stage.medianMs.toFixed(1).padStart(7)}`,
    ),
  ].join('\n');
}

/** Non-default settings, so a pasted table says what it measured. */
function experiments(options: BenchOptions): string[] {
  const lines: string[] = [];
  if (Object.keys(options.config).length > 0)
    lines.push(`bridge config: ${JSON.stringify(options.config)}`);
  if (Object.keys(options.dynamicConfig).length > 0)
    lines.push(`Temporal dynamic config: ${JSON.stringify(options.dynamicConfig)}`);
  return lines;
}

export async function writeResults(result: Record<string, unknown>): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  // ISO 8601 basic-ish: colons are awkward in file names on some systems.
  const stamp = new Date().toISOString().replace(/:/g, '-');
  const file = path.join(RESULTS_DIR, `${stamp}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** What one message costs on a path: Temporal actions (and their price) and CPU per process. */
export interface PathCost {
  path: string;
  messages: number;
  throughput: number;
  p50Ms: number;
  p95Ms: number;
  lost: number;
  duplicated: number;
  actionsPerMessage: number;
  /** Per message, by the counter's `action_type`. */
  actionsPerMessageByType: Record<string, number>;
  /** At Temporal Cloud's first-tier price. */
  dollarsPerMillionMessages: number;
  cpuMsPerMessage: Record<string, number>;
}

export function costOf(path: string, run: PathResult, actions: ActionCounts | undefined): PathCost {
  const perMessage = (value: number) => round(value / run.messages, 3);
  const total = actions ? totalActions(actions) : NaN;
  return {
    path,
    messages: run.messages,
    throughput: run.throughput,
    p50Ms: run.latencyMs.p50,
    p95Ms: run.latencyMs.p95,
    lost: run.lost,
    duplicated: run.duplicated,
    actionsPerMessage: perMessage(total),
    actionsPerMessageByType: Object.fromEntries(
      Object.entries(actions ?? {})
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([type, value]) => [type, perMessage(value)]),
    ),
    dollarsPerMillionMessages: round(perMessage(total) * DOLLARS_PER_MILLION_ACTIONS),
    cpuMsPerMessage: run.cpuMsPerMessage,
  };
}

/** The cost table: one column per path, and bridge ÷ floor when both ran. */
export function formatCosts(costs: PathCost[]): string {
  const bridge = costs.find((cost) => cost.path === 'bridge');
  const floor = costs.find((cost) => cost.path === 'floor');
  const types = [
    ...new Set(costs.flatMap((cost) => Object.keys(cost.actionsPerMessageByType))),
  ].sort();
  const roles = [...new Set(costs.flatMap((cost) => Object.keys(cost.cpuMsPerMessage)))];
  const fixed = (value: number | undefined, digits = 2) =>
    value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);
  const ratio = (pick: (cost: PathCost) => number | undefined, inverse = false) => {
    if (!bridge || !floor) return '';
    const [a, b] = [pick(bridge), pick(floor)];
    if (a === undefined || b === undefined || !b) return '';
    return `×${(inverse ? b / a : a / b).toFixed(2)}`;
  };
  const rows: string[][] = [
    ['', ...costs.map((cost) => cost.path), ...(floor && bridge ? ['bridge/floor'] : [])],
    ['throughput (msg/s)', ...costs.map((c) => fixed(c.throughput)), ratio((c) => c.throughput)],
    ['latency p50 (ms)', ...costs.map((c) => fixed(c.p50Ms, 1)), ratio((c) => c.p50Ms)],
    ['latency p95 (ms)', ...costs.map((c) => fixed(c.p95Ms, 1)), ratio((c) => c.p95Ms)],
    ['lost / duplicated', ...costs.map((c) => `${c.lost}/${c.duplicated}`), ''],
    [
      'Temporal actions / msg',
      ...costs.map((c) => fixed(c.actionsPerMessage)),
      ratio((c) => c.actionsPerMessage),
    ],
    ...types.map((type) => [
      `  ${type}`,
      ...costs.map((c) => fixed(c.actionsPerMessageByType[type] ?? 0)),
      '',
    ]),
    [
      `$ per million msgs (at $${DOLLARS_PER_MILLION_ACTIONS}/M actions)`,
      ...costs.map((c) => fixed(c.dollarsPerMillionMessages, 0)),
      '',
    ],
    ...roles.map((role) => [
      `CPU ms/msg: ${role}`,
      ...costs.map((c) => fixed(c.cpuMsPerMessage[role])),
      ratio((c) => c.cpuMsPerMessage[role]),
    ]),
  ];
  return [
    '',
    "what a message costs (measured phases; actions from the server's `action` counter):",
    ...table(rows),
  ].join('\n');
}

/** Idle populations side by side, with the last one over the first (the 2× target). */
export function formatIdle(readings: IdlePopulation[]): string {
  const first = readings[0];
  const last = readings.at(-1);
  const roles = Object.keys(first?.cpuMsPerS ?? {});
  const growth = (pick: (reading: IdlePopulation) => number) =>
    first && last && readings.length > 1 && pick(first)
      ? `×${(pick(last) / pick(first)).toFixed(2)}`
      : '';
  const rows: string[][] = [
    [
      'idle actors',
      ...readings.map((r) => String(r.actors)),
      readings.length > 1 ? 'last/first' : '',
    ],
    ['watched (s)', ...readings.map((r) => r.idleSeconds.toFixed(0)), ''],
    [
      'worker RSS start (MB)',
      ...readings.map((r) => r.workerRssMb.start.toFixed(0)),
      growth((r) => r.workerRssMb.start),
    ],
    [
      'worker RSS end (MB)',
      ...readings.map((r) => r.workerRssMb.end.toFixed(0)),
      growth((r) => r.workerRssMb.end),
    ],
    ...roles.map((role) => [
      `CPU ms/s: ${role}`,
      ...readings.map((r) => (r.cpuMsPerS[role] ?? NaN).toFixed(1)),
      growth((r) => r.cpuMsPerS[role] ?? NaN),
    ]),
    ['actors with a pending timer', ...readings.map((r) => String(r.actorsWithTimer)), ''],
    ['actions per first message', ...readings.map((r) => r.firstMessageActions.toFixed(2)), ''],
    ['actors not answering the query', ...readings.map((r) => String(r.actorsUnanswered)), ''],
  ];
  return [
    '',
    'idle conversation actors (one answered message each, then nothing):',
    ...table(rows),
  ].join('\n');
}

function table(rows: string[][]): string[] {
  const columns = Math.max(...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  return rows.map((row) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('   ')
      .trimEnd(),
  );
}
