import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Stage } from './breakdown.js';
import type { PathResult } from './measure.js';
import type { BenchOptions } from './options.js';
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
    ['Temporal server CPU (% core)', ms(baseline.childCpuPercent), ms(bridge.childCpuPercent)],
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
      `${options.conversations} conversations`,
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
  if (Object.keys(options.workerOptions).length > 0)
    lines.push(`worker options: ${JSON.stringify(options.workerOptions)}`);
  if (Object.keys(options.dynamicConfig).length > 0)
    lines.push(`dev server dynamic config: ${JSON.stringify(options.dynamicConfig)}`);
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
