/**
 * `npm run bench`: the same signed webhooks through a direct baseline (no Temporal) and then
 * through the bridge (API process → Temporal → worker processes), measuring webhook sent →
 * reply stored, the Temporal actions each message costs (the server's own `action` counter) and
 * the CPU each process spends; then Temporal's floor (bench/floor/: the same shape with
 * activities that do nothing) and, if asked, idle conversation actors.
 * Exits 1 if the bridge lost or duplicated a reply.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { agentTaskQueue, messageWorkflowId } from '../workflows/shared.js';
import { latencyBreakdown } from './breakdown.js';
import { historyShape, shapeDifferences } from './deliveryShape.js';
import { FloorPosts, floorTarget } from './floor/path.js';
import {
  bundleFloorWorkflows,
  startFloorWorker,
  type FloorWorkerProcess,
} from './floor/process.js';
import { BRIDGE_DELIVERY_SHAPE, expectedHistoryShape } from './floor/shape.js';
import { watchIdle, type IdlePopulation } from './idleActors.js';
import {
  drive,
  MessageIds,
  webhookTarget,
  type LoadSettings,
  type Sample,
  type Target,
} from './loadGenerator.js';
import {
  auditChatwootReplies,
  evaluate,
  startProbe,
  type ProcessRoles,
  type ReplyAudit,
} from './measure.js';
import { parseOptions, type BenchOptions } from './options.js';
import {
  compare,
  costOf,
  formatBreakdown,
  formatCosts,
  formatIdle,
  formatReport,
  machine,
  writeResults,
  type PathCost,
} from './report.js';
import { ReplyTracker } from './replyTracker.js';
import { settledActionCounts, actionDelta, totalActions } from './serverActions.js';
import { round } from './stats.js';
import {
  INBOX_ID,
  MULTI_INBOX_ID,
  MULTI_REPLIES,
  startBenchStack,
  WEBHOOK_SECRET,
  type BenchStack,
} from './stack.js';

interface PathUnderTest {
  target: Target;
  /** Resolves once the path has no work left, so late duplicates would already be stored. */
  settle(): Promise<void>;
  audit(samples: Sample[]): ReplyAudit;
  /** Processes whose CPU this path spends (the bench process is always counted). */
  roles: ProcessRoles;
  /** Count the server's actions over the measured phase. */
  actions: boolean;
}

const ACCOUNTS = { baseline: 1, bridge: 2, multi: 3, idle: 4, floor: 5, floorMulti: 6 } as const;

const options = parseOptions();
const startedAt = new Date().toISOString();
console.log(
  `starting Temporal (${options.server}), ${options.workers} worker process(es), the API process, fake Chatwoot and mock agents…`,
);
const stack = await startBenchStack(options);
const tracker = new ReplyTracker(stack.chatwoot);
const ids = new MessageIds();
const serverRoles = () => {
  const pids = stack.temporal.pids();
  return {
    server: [pids.server],
    ...(stack.temporal.kind === 'cluster' ? { postgres: [pids.postgres] } : {}),
  };
};
const bridgeRoles: ProcessRoles = () => ({
  ...serverRoles(),
  api: [stack.api.pid],
  workers: stack.workers.map((worker) => worker.pid),
});

try {
  const webhook = (name: string, accountId: number, inboxId = INBOX_ID) => ({
    name,
    accountId,
    inboxId,
    webhookUrl: stack.bridgeWebhookUrl,
    secret: WEBHOOK_SECRET,
    replies: tracker,
  });
  const echoReplies = (sample: Sample) => [`echo: ${sample.content}`];
  const multiReplies = (sample: Sample) =>
    Array.from(
      { length: MULTI_REPLIES },
      (_, i) => `reply ${i + 1}/${MULTI_REPLIES}: ${sample.content}`,
    );
  const baselinePath: PathUnderTest = {
    target: webhookTarget({
      ...webhook('baseline', ACCOUNTS.baseline),
      webhookUrl: stack.direct.webhookUrl,
    }),
    settle: () => stack.direct.idle(),
    audit: auditChatwootReplies(stack.chatwoot, ACCOUNTS.baseline, echoReplies),
    roles: bridgeRoles,
    actions: false,
  };
  const bridgePath: PathUnderTest = {
    target: webhookTarget(webhook('bridge', ACCOUNTS.bridge)),
    settle: () => untilNoDeliveriesRun(stack, options.timeoutMs),
    audit: auditChatwootReplies(stack.chatwoot, ACCOUNTS.bridge, echoReplies),
    roles: bridgeRoles,
    actions: true,
  };
  const multiPath: PathUnderTest = {
    target: webhookTarget({
      ...webhook('bridge-multi', ACCOUNTS.multi, MULTI_INBOX_ID),
      answeredBy: (sample) => multiReplies(sample).at(-1) as string,
    }),
    settle: () => bridgePath.settle(),
    audit: auditChatwootReplies(stack.chatwoot, ACCOUNTS.multi, multiReplies),
    roles: bridgeRoles,
    actions: true,
  };

  const baseline = await runPath(baselinePath, options);
  const bridge = await runPath(bridgePath, options);
  const multi =
    options.multiMessages > 0
      ? await runPath(multiPath, { ...options, messages: options.multiMessages })
      : undefined;
  const comparison = compare(baseline.result, bridge.result);
  const bridgeWorkflows = await countWorkflows(stack);
  const breakdown = await latencyBreakdown(stack.client, ACCOUNTS.bridge, bridge.measured.samples);
  const shapes = await compareShapes(bridge.measured.samples, multi?.measured.samples);

  let floor: Awaited<ReturnType<typeof runFloor>> | undefined;
  if (options.floor) {
    console.log('floor: stopping the bridge processes, starting the floor worker(s)…');
    await stack.bridgeProcesses(false);
    floor = await runFloor(options);
    if (options.idleActors.length > 0) await stack.bridgeProcesses(true);
  }
  const idle = options.idleActors.length > 0 ? await runIdleActors(options) : [];

  const costs: PathCost[] = [
    costOf('bridge', bridge.result, bridge.actions),
    ...(multi ? [costOf(`bridge, ${MULTI_REPLIES} replies`, multi.result, multi.actions)] : []),
    ...(floor ? [costOf('floor', floor.single.result, floor.single.actions)] : []),
    ...(floor?.multi
      ? [costOf(`floor, ${MULTI_REPLIES} replies`, floor.multi.result, floor.multi.actions)]
      : []),
  ];

  console.log(`\n${formatReport(options, baseline.result, bridge.result, comparison)}`);
  console.log(formatCosts(costs));
  shapes.push(...heartbeatDifference(costs));
  if (shapes.length > 0) {
    console.log(
      `\nWARNING: the floor's shape (bench/floor/shape.ts) differs from the bridge delivery:`,
    );
    for (const line of shapes) console.log(`  ${line}`);
  }
  console.log(formatBreakdown(breakdown));
  if (idle.length > 0) console.log(formatIdle(idle));
  console.log(
    `bridge workflows: ${bridgeWorkflows.total} total, ${bridgeWorkflows.notDelivered} not delivered` +
      (bridgeWorkflows.notDelivered > 0
        ? ` (${Object.entries(bridgeWorkflows.notDeliveredByStatus)
            .filter(([, n]) => n > 0)
            .map(([status, n]) => `${n} ${status}`)
            .join(', ')})`
        : ''),
  );
  if (stack.direct.failures.length > 0) {
    console.log(`baseline delivery failures: ${stack.direct.failures.length}`);
  }

  const file = await writeResults({
    startedAt,
    config: options,
    machine: machine(),
    server: stack.temporal.kind,
    runs: {
      baseline: baseline.result,
      bridge: bridge.result,
      ...(multi ? { bridgeMulti: multi.result } : {}),
      ...(floor ? { floor: floor.single.result } : {}),
      ...(floor?.multi ? { floorMulti: floor.multi.result } : {}),
    },
    ...comparison,
    costs,
    floorShape: BRIDGE_DELIVERY_SHAPE,
    floorShapeDifferences: shapes,
    idleActors: idle,
    bridgeWorkflows,
    bridgeBreakdown: breakdown,
    baselineFailures: stack.direct.failures.slice(0, 20),
  });
  console.log(`results: ${file}`);

  const failed = [bridge.result, multi?.result].some(
    (run) => run && run.lost + run.duplicated + run.duplicateMarkers > 0,
  );
  if (failed) console.error('FAIL: the bridge lost or duplicated replies');
  process.exitCode = failed ? 1 : 0;
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  tracker.close();
  await stack.stop();
}

async function runPath(path: PathUnderTest, opts: BenchOptions) {
  const settings: LoadSettings = {
    count: opts.warmup,
    rate: opts.rate,
    concurrency: opts.concurrency,
    conversations: opts.conversations,
    timeoutMs: opts.timeoutMs,
  };
  const name = path.target.name;
  // Every conversation opened before measuring: the measured phase costs what a message to an
  // open conversation costs (a first message's actor start is measured with the idle actors).
  settings.count = Math.max(opts.warmup, opts.conversations);
  console.log(`${name}: ${settings.count} warmup messages…`);
  const warmup = await drive(path.target, settings, ids);
  await path.settle();

  console.log(`${name}: ${opts.messages} measured messages…`);
  const actionsBefore = path.actions ? await settledCounts() : undefined;
  const probe = startProbe(path.roles);
  const measured = await drive(path.target, { ...settings, count: opts.messages }, ids);
  await path.settle();
  // After the settle: a delivery's last steps (typing off, status) are part of its cost.
  const reading = probe();
  const actions = actionsBefore ? actionDelta(actionsBefore, await settledCounts()) : undefined;
  const result = evaluate(name, { warmup, measured }, (samples) => path.audit(samples), reading);
  return { result, measured, actions };
}

function settledCounts() {
  return settledActionCounts(stack.temporal.metricsUrl, stack.temporal.namespace);
}

/** Temporal's floor on the same server: one floor worker process per bridge worker process. */
async function runFloor(opts: BenchOptions) {
  const taskQueue = `floor-${randomUUID()}`;
  const bundlePath = join(mkdtempSync(join(tmpdir(), 'bridge-floor-')), 'floor-workflows.js');
  await bundleFloorWorkflows(bundlePath);
  const posts = new FloorPosts();
  const workers: FloorWorkerProcess[] = [];
  try {
    for (let i = 0; i < opts.workers; i++) {
      workers.push(
        await startFloorWorker({
          address: stack.temporal.address,
          namespace: stack.temporal.namespace,
          taskQueue,
          bundlePath,
          onPosted: (messageId, reply, at) => posts.posted(messageId, reply, at),
        }),
      );
    }
    const floorPath = (name: string, accountId: number, replies: number): PathUnderTest => ({
      target: floorTarget({
        name,
        client: stack.client,
        taskQueue,
        accountId,
        replies,
        shape: BRIDGE_DELIVERY_SHAPE,
        posts,
      }),
      settle: () => untilNoneRunning(stack, 'WorkflowType="floorDeliveryWorkflow"', opts.timeoutMs),
      audit: posts.audit(replies),
      roles: () => ({ ...serverRoles(), workers: workers.map((worker) => worker.pid) }),
      actions: true,
    });
    const single = await runPath(floorPath('floor', ACCOUNTS.floor, 1), opts);
    const multi =
      opts.multiMessages > 0
        ? await runPath(floorPath('floor-multi', ACCOUNTS.floorMulti, MULTI_REPLIES), {
            ...opts,
            messages: opts.multiMessages,
          })
        : undefined;
    return { single, multi };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
  }
}

/** Grows the idle population to each size in turn and watches it. */
async function runIdleActors(opts: BenchOptions): Promise<IdlePopulation[]> {
  const target = webhookTarget({
    name: 'idle',
    accountId: ACCOUNTS.idle,
    inboxId: INBOX_ID,
    webhookUrl: stack.bridgeWebhookUrl,
    secret: WEBHOOK_SECRET,
    replies: tracker,
  });
  const readings: IdlePopulation[] = [];
  let opened = 0;
  for (const size of opts.idleActors) {
    const add = size - opened;
    console.log(`idle actors: opening ${add} more (${size} in all), one message each…`);
    const actionsBefore = await settledCounts();
    const phase = await drive(
      target,
      {
        count: add,
        rate: 0,
        concurrency: opts.concurrency,
        conversations: add,
        conversationOffset: opened,
        timeoutMs: opts.timeoutMs,
      },
      ids,
    );
    await untilNoDeliveriesRun(stack, opts.timeoutMs);
    const opening = actionDelta(actionsBefore, await settledCounts());
    const unanswered = phase.samples.filter((sample) => sample.repliedAt === undefined).length;
    if (unanswered > 0) console.warn(`idle actors: ${unanswered} messages got no reply`);
    opened = size;
    console.log(`idle actors: watching ${size} idle actors for ${opts.idleSeconds} s…`);
    readings.push({
      ...(await watchIdle({
        client: stack.client,
        accountId: ACCOUNTS.idle,
        conversationIds: Array.from({ length: size }, (_, i) => i + 1),
        idleSeconds: opts.idleSeconds,
        roles: bridgeRoles,
        workerPids: () => stack.workers.map((worker) => worker.pid),
      })),
      // A conversation's first message: the actor's start on top of the delivery.
      firstMessageActions: round(totalActions(opening) / add, 2),
      firstMessageActionsByType: Object.fromEntries(
        Object.entries(opening).map(([type, value]) => [type, round(value / add, 2)]),
      ),
    });
  }
  return readings;
}

/** The floor's shape against the history of a measured bridge delivery (one and several replies). */
async function compareShapes(single: Sample[], multi: Sample[] | undefined): Promise<string[]> {
  const agentQueue = agentTaskQueue(stack.config.temporal.taskQueue);
  const check = async (accountId: number, samples: Sample[], replies: number, label: string) => {
    const sample = samples.find((candidate) => candidate.repliedAt !== undefined);
    if (!sample) return [];
    const id = messageWorkflowId(accountId, sample.conversationId, sample.messageId);
    const bridgeShape = await historyShape(stack.client, id, agentQueue);
    return shapeDifferences(bridgeShape, expectedHistoryShape(BRIDGE_DELIVERY_SHAPE, replies)).map(
      (line) => `${label}: ${line}`,
    );
  };
  return [
    ...(await check(ACCOUNTS.bridge, single, 1, '1 reply')),
    ...(multi ? await check(ACCOUNTS.multi, multi, MULTI_REPLIES, `${MULTI_REPLIES} replies`) : []),
  ];
}

/** Heartbeats leave no history event: their actions tell whether the floor beats like the bridge. */
function heartbeatDifference(costs: PathCost[]): string[] {
  const type = 'grpc_RecordActivityTaskHeartbeat';
  const pairs = [
    ['bridge', 'floor'],
    [`bridge, ${MULTI_REPLIES} replies`, `floor, ${MULTI_REPLIES} replies`],
  ] as const;
  return pairs.flatMap(([bridgePath, floorPath]) => {
    const bridge = costs.find((cost) => cost.path === bridgePath)?.actionsPerMessageByType;
    const floor = costs.find((cost) => cost.path === floorPath)?.actionsPerMessageByType;
    if (!bridge || !floor) return [];
    const [a, b] = [bridge[type] ?? 0, floor[type] ?? 0];
    return Math.abs(a - b) > 0.25
      ? [`${bridgePath}: heartbeat actions per message: bridge ${a}, floor ${b}`]
      : [];
  });
}

/**
 * The bridge's deliveries are done: nothing runs on its task queue but the conversation actors
 * (which stay open). By elimination, so a renamed or versioned delivery workflow is waited for too.
 */
function untilNoDeliveriesRun(bench: BenchStack, timeoutMs: number) {
  const queue = `TaskQueue="${bench.config.temporal.taskQueue}"`;
  return untilNoneRunning(bench, `${queue} AND WorkflowType!="conversationWorkflow"`, timeoutMs);
}

/** Polls visibility until no workflow matching `filter` runs (bounded). */
async function untilNoneRunning(bench: BenchStack, filter: string, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  const query = `${filter} AND ExecutionStatus="Running"`;
  while (performance.now() < deadline) {
    const { count } = await bench.client.workflow.count(query);
    if (count === 0) return;
    await sleep(250);
  }
  console.warn(`workflows (${filter}) still running after ${timeoutMs} ms`);
}

async function countWorkflows(bench: BenchStack) {
  // Statuses a delivery records when it did not simply deliver (a delivered one records none).
  const NOT_DELIVERED = ['handed_off', 'failed', 'retrying'] as const;
  const deliveries = `TaskQueue="${bench.config.temporal.taskQueue}" AND WorkflowType!="conversationWorkflow"`;
  const [total, ...byStatus] = await Promise.all([
    bench.client.workflow.count(deliveries),
    ...NOT_DELIVERED.map((status) =>
      bench.client.workflow.count(`${deliveries} AND DeliveryStatus="${status}"`),
    ),
  ]);
  const notDeliveredByStatus = Object.fromEntries(
    NOT_DELIVERED.map((status, i) => [status, byStatus[i]?.count ?? 0]),
  );
  const notDelivered = Object.values(notDeliveredByStatus).reduce((sum, n) => sum + n, 0);
  return { total: total.count, notDelivered, notDeliveredByStatus };
}
