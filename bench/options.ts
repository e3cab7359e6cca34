import { parseArgs } from 'node:util';
import type { WorkerOptions } from '@temporalio/worker';

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
  /** Experiments only: merged into `Worker.create` options. */
  workerOptions: Partial<WorkerOptions>;
  /** Dev server `--dynamic-config-value` entries added to (or overriding) the embedded server's tuning. */
  dynamicConfig: Record<string, string | number | boolean>;
}

const USAGE = `Usage: npm run bench -- [options]
  --messages N        measured messages per path (default 1000)
  --rate R            messages/s, 0 = as fast as concurrency allows (default 20)
  --concurrency C     messages in flight at once (default 20)
  --conversations K   distinct conversations (default 50)
  --warmup W          unmeasured messages per path first (default 20)
  --timeout MS        wait for replies after the last send (default 30000)
  --worker-options J  JSON merged into Worker.create options (experiments)
  --dynamic-config J  JSON of dev server dynamic config values, over npm start's tuning`;

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
      'worker-options': { type: 'string', default: '{}' },
      'dynamic-config': { type: 'string', default: '{}' },
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
    workerOptions: jsonObject('worker-options', values['worker-options']),
    dynamicConfig: jsonObject('dynamic-config', values['dynamic-config']) as Record<
      string,
      string | number | boolean
    >,
  };
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
