/**
 * `npm run bench`: the same signed webhooks through a direct baseline (no Temporal) and then
 * through the bridge (API → Temporal → worker), measuring webhook sent → reply stored.
 * Exits 1 if the bridge lost or duplicated a reply.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { latencyBreakdown } from './breakdown.js';
import {
  drive,
  MessageIds,
  type LoadSettings,
  type PhaseResult,
  type Target,
} from './loadGenerator.js';
import { evaluate, startProbe, type PathResult } from './measure.js';
import { parseOptions, type BenchOptions } from './options.js';
import { compare, formatBreakdown, formatReport, machine, writeResults } from './report.js';
import { ReplyTracker } from './replyTracker.js';
import { INBOX_ID, startBenchStack, WEBHOOK_SECRET, type BenchStack } from './stack.js';

interface PathUnderTest {
  target: Target;
  /** Resolves once the path has no work left, so late duplicates would already be stored. */
  settle(): Promise<void>;
}

const options = parseOptions();
const startedAt = new Date().toISOString();
console.log('starting Temporal dev server, worker, API, fake Chatwoot and echo agent…');
const stack = await startBenchStack(options);
const tracker = new ReplyTracker(stack.chatwoot);
const ids = new MessageIds();

try {
  const baselinePath: PathUnderTest = {
    target: { name: 'baseline', webhookUrl: stack.direct.webhookUrl, accountId: 1 },
    settle: () => stack.direct.idle(),
  };
  const bridgePath: PathUnderTest = {
    target: { name: 'bridge', webhookUrl: stack.bridgeWebhookUrl, accountId: 2 },
    settle: () => untilNoWorkflowRuns(stack, options.timeoutMs),
  };

  const { result: baseline } = await runPath(baselinePath, options);
  const { result: bridge, measured } = await runPath(bridgePath, options);
  const comparison = compare(baseline, bridge);
  const bridgeWorkflows = await countWorkflows(stack);
  const breakdown = await latencyBreakdown(
    stack.temporal,
    bridgePath.target.accountId,
    measured.samples,
  );

  console.log(`\n${formatReport(options, baseline, bridge, comparison)}`);
  console.log(formatBreakdown(breakdown));
  console.log(
    `bridge workflows: ${bridgeWorkflows.total} total, ${bridgeWorkflows.notDelivered} not delivered`,
  );
  if (stack.direct.failures.length > 0) {
    console.log(`baseline delivery failures: ${stack.direct.failures.length}`);
  }

  const file = await writeResults({
    startedAt,
    config: options,
    machine: machine(),
    runs: { baseline, bridge },
    ...comparison,
    bridgeWorkflows,
    bridgeBreakdown: breakdown,
    baselineFailures: stack.direct.failures.slice(0, 20),
  });
  console.log(`results: ${file}`);

  const failed = bridge.lost + bridge.duplicated + bridge.duplicateMarkers > 0;
  if (failed) console.error('FAIL: the bridge lost or duplicated replies');
  process.exitCode = failed ? 1 : 0;
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  tracker.close();
  await stack.stop();
}

async function runPath(
  path: PathUnderTest,
  opts: BenchOptions,
): Promise<{ result: PathResult; measured: PhaseResult }> {
  const settings: LoadSettings = {
    count: opts.warmup,
    rate: opts.rate,
    concurrency: opts.concurrency,
    conversations: opts.conversations,
    timeoutMs: opts.timeoutMs,
    inboxId: INBOX_ID,
    secret: WEBHOOK_SECRET,
  };
  const name = path.target.name;
  console.log(`${name}: ${opts.warmup} warmup messages…`);
  const warmup = await drive(path.target, settings, tracker, ids);
  await path.settle();

  console.log(`${name}: ${opts.messages} measured messages…`);
  const probe = startProbe();
  const measured = await drive(path.target, { ...settings, count: opts.messages }, tracker, ids);
  const reading = probe();
  await path.settle();
  const result = evaluate(
    name,
    path.target.accountId,
    { warmup, measured },
    stack.chatwoot,
    reading,
  );
  return { result, measured };
}

/** Polls visibility until the bridge's task queue has no running workflow (bounded). */
async function untilNoWorkflowRuns(bench: BenchStack, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const query = `TaskQueue="${bench.config.temporal.taskQueue}" AND ExecutionStatus="Running"`;
  while (performance.now() < deadline) {
    const { count } = await bench.temporal.workflow.count(query);
    if (count === 0) return;
    await sleep(250);
  }
  console.warn(`bridge workflows still running after ${timeoutMs} ms`);
}

async function countWorkflows(bench: BenchStack) {
  const queue = `TaskQueue="${bench.config.temporal.taskQueue}"`;
  // The last replies are recorded a few ms before their workflows close, and visibility lags:
  // wait (bounded) until none is running before counting outcomes.
  for (let tries = 0; tries < 100; tries += 1) {
    const running = await bench.temporal.workflow.count(`${queue} AND ExecutionStatus="Running"`);
    if (running.count === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const [total, notDelivered] = await Promise.all([
    bench.temporal.workflow.count(queue),
    bench.temporal.workflow.count(`${queue} AND DeliveryStatus!="delivered"`),
  ]);
  return { total: total.count, notDelivered: notDelivered.count };
}
