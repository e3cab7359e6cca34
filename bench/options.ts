import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ServerKind } from './temporalServer.js';

export interface BenchOptions {
  /** Measured messages per path. */
  messages: number;
  /** Messages per second; 0 = as fast as `concurrency` allows. */
  rate: number;
  /** Messages in flight at once, from webhook sent to reply recorded (or per-message timeout). */
  concurrency: number;
  conversations: number;
  /** Messages sent (and awaited) before measuring, per path; not counted in latency. */
  warmup: number;
  /** After the last send, how long a reply may still take before its message counts as lost. */
  timeoutMs: number;
  /** Experiments only: merged (deeply) into the bridge's configuration file. */
  config: Record<string, unknown>;
  /** Temporal dynamic config values over the server's tuning (dev: `--dynamic-config-value`). */
  dynamicConfig: Record<string, string | number | boolean>;
  server: ServerKind;
  /** Bridge (and floor) worker processes. */
  workers: number;
  /** Messages of the phase whose agent sends several replies (0: no such phase). */
  multiMessages: number;
  /** Run Temporal's floor (bench/floor/) with the same load. */
  floor: boolean;
  /** Idle conversation actors to open and watch, in increasing order (empty: none). */
  idleActors: number[];
  /** How long each idle population is watched. */
  idleSeconds: number;
  /** Write V8 CPU profiles of the API and worker processes here (`node --cpu-prof`); unset: off. */
  cpuProfDir?: string;
}

const USAGE = `Usage: npm run bench -- [options]
  --messages N        measured messages per path (default 1000)
  --rate R            messages/s, 0 = as fast as concurrency allows (default 20)
  --concurrency C     messages in flight at once (default 20)
  --conversations K   distinct conversations (default 50)
  --warmup W          unmeasured messages per path first (default 20)
  --timeout MS        wait for replies after the last send (default 30000)
  --server dev|cluster  Temporal dev server, or 1.29.1 on PostgreSQL as test:cluster (default dev)
  --workers N         worker processes, for the bridge and for the floor (default 1)
  --multi-messages M  messages of the 3-reply phase, 0 = skip (default 100)
  --no-floor          skip Temporal's floor (same shape, do-nothing activities)
  --idle-actors N,M   open N idle conversation actors and watch them, then grow to M… (default none)
  --idle-seconds S    how long each idle population is watched (default 60)
  --config J          JSON merged into the bridge's configuration file (experiments)
  --dynamic-config J  JSON of Temporal dynamic config values, over the server's tuning
  --cpu-prof DIR      write CPU profiles of the API and worker processes into DIR (node --cpu-prof)`;

export function parseOptions(argv: string[] = process.argv.slice(2)): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      messages: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '20' },
      concurrency: { type: 'string', default: '20' },
      conversations: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '20' },
      timeout: { type: 'string', default: '30000' },
      config: { type: 'string', default: '{}' },
      'dynamic-config': { type: 'string', default: '{}' },
      server: { type: 'string', default: 'dev' },
      workers: { type: 'string', default: '1' },
      'multi-messages': { type: 'string', default: '100' },
      'no-floor': { type: 'boolean', default: false },
      'idle-actors': { type: 'string', default: '' },
      'idle-seconds': { type: 'string', default: '60' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    messages: count('messages', values.messages, 1),
    rate: count('rate', values.rate, 0),
    concurrency: count('concurrency', values.concurrency, 1),
    conversations: count('conversations', values.conversations, 1),
    warmup: count('warmup', values.warmup, 0),
    timeoutMs: count('timeout', values.timeout, 1),
    config: jsonObject('config', values.config),
    dynamicConfig: jsonObject('dynamic-config', values['dynamic-config']) as Record<
      string,
      string | number | boolean
    >,
    server: serverKind(values.server),
    workers: count('workers', values.workers, 1),
    multiMessages: count('multi-messages', values['multi-messages'], 0),
    floor: !values['no-floor'],
    idleActors: idleActors(values['idle-actors']),
    idleSeconds: count('idle-seconds', values['idle-seconds'], 1),
    ...(values['cpu-prof'] ? { cpuProfDir: resolve(values['cpu-prof']) } : {}),
  };
}

function serverKind(raw: string): ServerKind {
  if (raw === 'dev' || raw === 'cluster') return raw;
  throw new Error(`--server must be "dev" or "cluster", got "${raw}"\n${USAGE}`);
}

/** "100,10000" → [100, 10000]: each population grows from the one before. */
function idleActors(raw: string): number[] {
  if (raw === '') return [];
  const counts = raw.split(',').map((part) => count('idle-actors', part.trim(), 1));
  if (counts.some((value, i) => i > 0 && value <= (counts[i - 1] as number))) {
    throw new Error(`--idle-actors must increase (e.g. 100,10000), got "${raw}"`);
  }
  return counts;
}

function count(name: string, raw: string, min: number): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    throw new Error(`--${name} must be a number ≥ ${min}, got "${raw}"\n${USAGE}`);
  }
  return value;
}

function jsonObject(name: string, raw: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`--${name} must be JSON, got ${raw}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`--${name} must be a JSON object, got ${raw}`);
  }
  return value as Record<string, unknown>;
}
