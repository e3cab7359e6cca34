import { parseArgs } from 'node:util';
import type { ChaosOptions } from './run.js';

export interface ChaosCli {
  run: ChaosOptions;
  /** Exit 0 whatever the figures. */
  reportOnly: boolean;
  /** Where the JSON result goes. */
  resultsDir: string;
}

/** Every fault at once, as `npm run chaos` runs it. */
export const ALL_FAULTS = {
  kills: 3,
  temporalRestarts: 1,
  temporalDownMs: 2_000,
  agentOutageMs: 5_000,
  chatwoot5xx: 3,
  chatwoot429: 2,
  lostResponses: 3,
  bridgeOutageMs: 10_000,
} as const satisfies Partial<ChaosOptions>;

export const NO_FAULTS = {
  kills: 0,
  temporalRestarts: 0,
  temporalDownMs: 2_000,
  agentOutageMs: 0,
  chatwoot5xx: 0,
  chatwoot429: 0,
  lostResponses: 0,
  bridgeOutageMs: 0,
} as const satisfies Partial<ChaosOptions>;

export const DEFAULTS = {
  seed: 1,
  messages: 200,
  conversations: 20,
  rate: 10,
  burst: 3,
  burstGapMs: 20,
  workers: 2,
  agentDelayMs: 100,
  drainTimeoutMs: 120_000,
  idleTimeoutMs: 30_000,
  catchUpIntervalMs: 5_000,
} as const satisfies Partial<ChaosOptions>;

export const USAGE = `Usage: npm run chaos -- [options]
Workload
  --seed N                 schedule of messages and faults (default ${DEFAULTS.seed})
  --messages N             customer messages (default ${DEFAULTS.messages})
  --conversations M        conversations they are spread over (default ${DEFAULTS.conversations})
  --rate R                 messages per second (default ${DEFAULTS.rate})
  --burst B                a customer writes 1..B messages in a row (default ${DEFAULTS.burst}; 1 = never)
  --burst-gap-ms MS        ...this far apart (default ${DEFAULTS.burstGapMs})
  --workers W              worker processes (default ${DEFAULTS.workers})
  --agent-delay-ms MS      the echo agent thinks this long (default ${DEFAULTS.agentDelayMs})
Faults (--faults all is the default; with --faults none only those named below run)
  --faults all|none
  --kills N                worker SIGKILLs (all: ${ALL_FAULTS.kills})
  --temporal-restarts N    Temporal dev server restarts (all: ${ALL_FAULTS.temporalRestarts})
  --temporal-down-ms MS    extra time Temporal stays down on a restart (${ALL_FAULTS.temporalDownMs})
  --agent-outage-ms MS     one agent outage (all: ${ALL_FAULTS.agentOutageMs}; 0 = none)
  --chatwoot-5xx N         Chatwoot 5xx storms (all: ${ALL_FAULTS.chatwoot5xx})
  --chatwoot-429 N         Chatwoot 429 bursts (all: ${ALL_FAULTS.chatwoot429})
  --lost-responses N       posts saved by Chatwoot whose response is lost (all: ${ALL_FAULTS.lostResponses})
  --bridge-outage-ms MS    one API outage, longer than Chatwoot's retries (all: ${ALL_FAULTS.bridgeOutageMs}; 0 = none)
Run
  --drain-timeout-ms MS    longest wait for replies after the last message (default ${DEFAULTS.drainTimeoutMs})
  --idle-timeout-ms MS     stop once nothing was answered this long (default ${DEFAULTS.idleTimeoutMs})
  --catch-up-interval-ms MS  catchUp.intervalMs given to the bridge (default ${DEFAULTS.catchUpIntervalMs})
  --report-only            exit 0 even when messages were lost, duplicated or out of order
  --keep                   keep the run's directory (config, process logs, Temporal database)
  --results DIR            where the JSON result goes (default bench/results)`;

const NUMERIC = {
  seed: 'seed',
  messages: 'messages',
  conversations: 'conversations',
  rate: 'rate',
  burst: 'burst',
  'burst-gap-ms': 'burstGapMs',
  workers: 'workers',
  'agent-delay-ms': 'agentDelayMs',
  kills: 'kills',
  'temporal-restarts': 'temporalRestarts',
  'temporal-down-ms': 'temporalDownMs',
  'agent-outage-ms': 'agentOutageMs',
  'chatwoot-5xx': 'chatwoot5xx',
  'chatwoot-429': 'chatwoot429',
  'lost-responses': 'lostResponses',
  'bridge-outage-ms': 'bridgeOutageMs',
  'drain-timeout-ms': 'drainTimeoutMs',
  'idle-timeout-ms': 'idleTimeoutMs',
  'catch-up-interval-ms': 'catchUpIntervalMs',
} as const satisfies Record<string, keyof ChaosOptions>;

/** At least this much: a run needs one message, one conversation, one worker… */
const MINIMUM: Partial<Record<keyof typeof NUMERIC, number>> = {
  messages: 1,
  conversations: 1,
  rate: 0.01,
  burst: 1,
  workers: 1,
  'drain-timeout-ms': 1,
  'idle-timeout-ms': 1,
  'catch-up-interval-ms': 1,
};

export function parseChaosArgs(argv: string[]): ChaosCli | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...Object.fromEntries(Object.keys(NUMERIC).map((name) => [name, { type: 'string' }])),
      faults: { type: 'string' },
      'report-only': { type: 'boolean' },
      keep: { type: 'boolean' },
      results: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }) as { values: Record<string, string | boolean | undefined> };
  if (values.help) return 'help';
  const profile = values.faults ?? 'all';
  if (profile !== 'all' && profile !== 'none') {
    throw new Error(`--faults must be "all" or "none", got "${String(profile)}"\n${USAGE}`);
  }
  const run: ChaosOptions = { ...DEFAULTS, ...(profile === 'all' ? ALL_FAULTS : NO_FAULTS) };
  for (const [flag, key] of Object.entries(NUMERIC) as Array<
    [keyof typeof NUMERIC, keyof ChaosOptions]
  >) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    const value = Number(raw);
    const min = MINIMUM[flag] ?? 0;
    if (!Number.isFinite(value) || value < min) {
      throw new Error(`--${flag} must be a number ≥ ${min}, got "${raw}"\n${USAGE}`);
    }
    if (flag !== 'rate' && !Number.isInteger(value)) {
      throw new Error(`--${flag} must be a whole number, got "${raw}"`);
    }
    (run as unknown as Record<string, number>)[key] = value;
  }
  if (values.keep) run.keepFiles = true;
  return {
    run,
    reportOnly: values['report-only'] === true,
    resultsDir: typeof values.results === 'string' ? values.results : 'bench/results',
  };
}
