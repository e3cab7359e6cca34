/**
 * One chaos run: a whole bridge on loopback (Temporal dev server, API and worker processes, the
 * fake Chatwoot, an echo agent), customer messages written on a seeded schedule and announced by
 * an agent-bot webhook sender that behaves like Chatwoot's, and faults struck on the same seeded
 * schedule. Ends by itself: once every message is answered or handed off, or when nothing has
 * moved for `idleTimeoutMs`, or at `drainTimeoutMs` after the last message.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../../config/load.js';
import { freePort } from '../../workers/devServer.js';
import { buildWorkflowBundle } from '../../workers/bundle.js';
import { FakeChatwoot } from '../fakeChatwoot.js';
import { startMockAgent, type MockAgentServer } from '../mockAgents.js';
import { ChatwootSide } from './chatwootSide.js';
import {
  FIRST_CONVERSATION_ID,
  planRun,
  type FaultOptions,
  type PlannedFault,
  type WorkloadOptions,
} from './plan.js';
import { BridgeProcess, RestartableTemporal } from './processes.js';
import { SeededRandom } from './random.js';
import { customerText, tally, type MessageOutcome, type SentMessage, type Tally } from './tally.js';

export interface ChaosOptions extends WorkloadOptions, FaultOptions {
  /** Worker processes (replicas). */
  workers: number;
  /** The echo agent waits this long before answering (0 = at once). */
  agentDelayMs: number;
  /** After the last message, give up waiting for replies after this long. */
  drainTimeoutMs: number;
  /** …or once nothing has been answered for this long (and no fault is still running). */
  idleTimeoutMs: number;
  /** How often the bridge's catch-up runs (`catchUp.intervalMs`, once that exists). */
  catchUpIntervalMs: number;
  /** Chatwoot account of the run (default 1); a shared Temporal server wants one of its own. */
  accountId?: number;
  /** Use this Temporal server instead of starting one (no Temporal restart is then possible). */
  temporalAddress?: string;
  /** A prebuilt workflow bundle; default: bundled for this run. */
  workflowBundlePath?: string;
  /** Keep the run's directory (configuration, logs, Temporal database) afterwards. */
  keepFiles?: boolean;
  /** Progress lines; default: none. */
  log?: (line: string) => void;
}

export interface FaultRecord {
  kind: PlannedFault['kind'];
  plannedAtMs: number;
  atMs: number;
  detail: string;
}

export interface ChaosReport {
  options: Omit<ChaosOptions, 'log'>;
  startedAt: string;
  durationMs: number;
  /** From the first message written to the last. */
  sendWindowMs: number;
  tally: Tally;
  /** From the last message written until the last one was answered or handed off; unset if some never were. */
  drainMs?: number;
  /** Why the wait for replies ended: all settled, nothing moved for `idleTimeoutMs`, or `drainTimeoutMs`. */
  endedBy: 'drained' | 'idle' | 'deadline';
  webhooks: {
    jobs: number;
    customerMessages: number;
    delivered: number;
    retried: number;
    gaveUp: number;
    customerMessagesGivenUp: number;
    conversationsOpenedByChatwoot: number;
    messagesMarkedFailed: number;
    /** Outcome of every attempt: HTTP status or network error. */
    attempts: Record<string, number>;
  };
  faults: FaultRecord[];
  /** Every customer message: when it was written, what its webhook got, what became of it. */
  messages: Array<{
    /** The customer's number in the plan (`c<n>` in the text). */
    conversationId: number;
    chatwootConversationId: number;
    index: number;
    messageId: number;
    atMs: number;
    webhook: string;
    outcome: MessageOutcome;
  }>;
  unexpectedExits: string[];
  /** Where the logs are (when kept). */
  runDir?: string;
}

const INBOX_ID = 7;
const API_TOKEN = 'chaos-token';
const WEBHOOK_SECRET = 'chaos-webhook-secret';
/** A user's token (listing conversations needs one): the fake Chatwoot's default user token. */
const CATCH_UP_TOKEN = 'test-user-token';
const SETTLE_MS = 3_000;
const RESTART_AFTER_CRASH_MS = 1_000;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  if (options.temporalAddress && options.temporalRestarts > 0) {
    throw new Error(
      'a Temporal restart needs the run to start its own server: drop temporalAddress',
    );
  }
  const plan = planRun(options, options);
  const accountId = options.accountId ?? 1;
  const random = new SeededRandom(options.seed);
  const runDir = mkdtempSync(join(tmpdir(), 'bridge-chaos-'));
  const startedAt = Date.now();
  const cleanups: Array<() => Promise<void> | void> = [];
  const background: Array<Promise<unknown>> = [];
  const unexpectedExits: string[] = [];
  let closing = false;

  try {
    const chatwoot = await FakeChatwoot.start({ apiAccessToken: API_TOKEN, inboxes: [INBOX_ID] });
    cleanups.push(() => chatwoot.close());
    const agents: MockAgentServer = await startMockAgent();
    cleanups.push(() => agents.close());

    let temporal: RestartableTemporal | undefined;
    let temporalAddress = options.temporalAddress;
    if (!temporalAddress) {
      log('starting the Temporal dev server');
      temporal = await RestartableTemporal.start(join(runDir, 'temporal.sqlite'));
      cleanups.push(() => temporal?.down());
      temporalAddress = temporal.address;
    }
    let bundlePath = options.workflowBundlePath;
    if (!bundlePath) {
      log('bundling the workflows');
      // With its manifest: workers refuse a bundle whose sources they cannot check.
      bundlePath = join(runDir, 'workflows.js');
      await buildWorkflowBundle(bundlePath);
    }

    const apiPort = await freePort();
    const configPath = join(runDir, 'config.json');
    writeFileSync(
      configPath,
      JSON.stringify(
        bridgeConfig({
          chatwootUrl: chatwoot.url,
          agentUrl: agents.url(
            options.agentDelayMs > 0 ? `slow?delayMs=${options.agentDelayMs}` : 'echo',
          ),
          apiPort,
          temporalAddress,
          taskQueue: `chaos-${options.seed}-${startedAt}`,
          catchUpIntervalMs: options.catchUpIntervalMs,
          accountId,
        }),
        null,
        2,
      ),
    );

    // What a supervisor (systemd, Kubernetes) does for a process that dies by itself.
    const restartAfterCrash = (
      process: BridgeProcess,
      code: number | null,
      signal: string | null,
    ) => {
      unexpectedExits.push(
        `${process.name} exited (${signal ?? code}) at ${Date.now() - startedAt} ms`,
      );
      log(`${process.name} exited by itself (${signal ?? code}); restarting it`);
      if (closing) return;
      background.push(
        sleep(RESTART_AFTER_CRASH_MS).then(() => (closing ? undefined : startQuietly(process))),
      );
    };
    const startQuietly = (process: BridgeProcess) =>
      process
        .start()
        .catch((error: unknown) => log(`${process.name} did not start: ${String(error)}`));

    const api: BridgeProcess = new BridgeProcess({
      kind: 'api',
      name: 'api',
      configPath,
      logPath: join(runDir, 'api.log'),
      healthUrl: `http://127.0.0.1:${apiPort}/health`,
      onUnexpectedExit: (code, signal) => restartAfterCrash(api, code, signal),
    });
    const workers: BridgeProcess[] = Array.from({ length: options.workers }, (_, i) => {
      const worker: BridgeProcess = new BridgeProcess({
        kind: 'worker',
        name: `worker-${i + 1}`,
        configPath,
        workflowBundlePath: bundlePath,
        logPath: join(runDir, `worker-${i + 1}.log`),
        onUnexpectedExit: (code, signal) => restartAfterCrash(worker, code, signal),
      });
      return worker;
    });
    cleanups.push(async () => {
      closing = true;
      await Promise.all([api, ...workers].map((process) => process.close()));
    });
    log(`starting the API and ${workers.length} worker process(es)`);
    await Promise.all([api.start(), ...workers.map((worker) => worker.start())]);

    const senderRandom = random.fork('sender');
    const side = new ChatwootSide({
      chatwoot,
      apiAccessToken: API_TOKEN,
      accountId,
      inboxId: INBOX_ID,
      url: `http://127.0.0.1:${apiPort}/webhook/chatwoot`,
      secret: WEBHOOK_SECRET,
      random: () => senderRandom.next(),
      deliveryId: () => senderRandom.uuid(),
    });
    cleanups.push(() => side.close());
    // The plan numbers customers 1..M; Chatwoot numbers their conversations its own way.
    const chatwootIdOf = new Map<number, number>();
    for (let i = 0; i < options.conversations; i++) {
      const customer = await side.newCustomer(`Chaos customer ${FIRST_CONVERSATION_ID + i}`);
      chatwootIdOf.set(FIRST_CONVERSATION_ID + i, customer.conversationId);
    }

    const faults: FaultRecord[] = [];
    const strike = async (fault: PlannedFault, atMs: number): Promise<void> => {
      const record = (detail: string) => {
        faults.push({ kind: fault.kind, plannedAtMs: fault.atMs, atMs, detail });
        log(`t=${(atMs / 1000).toFixed(1)}s ${fault.kind}: ${detail}`);
      };
      switch (fault.kind) {
        case 'worker-kill': {
          // A worker that serves: killing one still starting up would test nothing.
          const serving = () => workers.filter((worker) => worker.ready);
          const waitUntil = Date.now() + 30_000;
          while (serving().length === 0 && Date.now() < waitUntil && !closing) await sleep(100);
          const candidates = serving();
          const victim = candidates[fault.victim % Math.max(candidates.length, 1)];
          if (!victim) return record('no worker serving; nothing to kill');
          await victim.kill();
          record(`SIGKILL ${victim.name}, restart in ${fault.restartAfterMs} ms`);
          await sleep(fault.restartAfterMs);
          if (!closing) await startQuietly(victim);
          return;
        }
        case 'temporal-restart': {
          if (!temporal) return record('skipped: the run does not own its Temporal server');
          record(`stopping Temporal, down ${fault.downMs} ms + restart time`);
          const began = Date.now();
          await temporal.restart(fault.downMs);
          log(`Temporal back after ${Date.now() - began} ms`);
          return;
        }
        case 'agent-outage':
          await agents.setAvailable(false);
          record(`agent down for ${fault.durationMs} ms`);
          await sleep(fault.durationMs);
          await agents.setAvailable(true);
          return;
        case 'chatwoot-5xx':
          chatwoot.injectFault({ status: fault.status, count: fault.count });
          return record(`next ${fault.count} bridge calls answer ${fault.status}`);
        case 'chatwoot-429':
          chatwoot.injectFault({ status: 429, count: fault.count });
          return record(`next ${fault.count} bridge calls answer 429 (no Retry-After)`);
        case 'lost-response':
          chatwoot.injectFault({
            drop: true,
            afterApply: true,
            count: fault.count,
            match: { method: 'POST', pathIncludes: '/messages' },
          });
          return record(`next ${fault.count} posted message(s) saved, response lost`);
        case 'bridge-outage':
          await api.kill();
          record(`API killed for ${fault.durationMs} ms`);
          await sleep(fault.durationMs);
          if (!closing) await startQuietly(api);
          return;
      }
    };

    // The script: messages and faults in time order, against one clock.
    log(
      `sending ${plan.messages.length} messages over ${options.conversations} conversations ` +
        `in ${(plan.sendWindowMs / 1000).toFixed(1)} s, ${plan.faults.length} fault(s)`,
    );
    const sent: SentMessage[] = [];
    const t0 = Date.now();
    const events = [
      ...plan.messages.map((message) => ({ atMs: message.atMs, message })),
      ...plan.faults.map((fault) => ({ atMs: fault.atMs, fault })),
    ].sort((a, b) => a.atMs - b.atMs);
    for (const event of events) {
      const wait = t0 + event.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      if ('message' in event) {
        const { conversationId, index } = event.message;
        const stored = side.customerWrites(
          chatwootIdOf.get(conversationId) as number,
          customerText(conversationId, index),
        );
        sent.push({ conversationId, index, messageId: stored.id, sentAt: Date.now() });
      } else {
        const { kind } = event.fault;
        background.push(
          strike(event.fault, Date.now() - t0).catch((error: unknown) =>
            log(`${kind} failed: ${String(error)}`),
          ),
        );
      }
    }
    const lastSentAt = Date.now();

    // Drain: until everything is answered or handed off, or nothing moves any more.
    const count = (): Tally =>
      tally(
        sent,
        (id) => chatwoot.messages(accountId, chatwootIdOf.get(id) as number),
        (id) => side.storedAtOf(id),
      );
    let current = count();
    let progress = current.answered + current.handedOff;
    let lastProgressAt = Date.now();
    let faultsDone = false;
    void Promise.all(background).then(() => (faultsDone = true));
    const deadline = lastSentAt + options.drainTimeoutMs;
    let endedBy: ChaosReport['endedBy'] = 'deadline';
    while (Date.now() < deadline) {
      await sleep(250);
      current = count();
      if (current.lost === 0 && side.sender.pending === 0) {
        endedBy = 'drained';
        break;
      }
      const now = current.answered + current.handedOff;
      if (now !== progress || !faultsDone || side.sender.pending > 0) {
        if (now !== progress) progress = now;
        lastProgressAt = Date.now();
      } else if (Date.now() - lastProgressAt > options.idleTimeoutMs) {
        log(`nothing answered for ${options.idleTimeoutMs / 1000} s: stopping`);
        endedBy = 'idle';
        break;
      }
    }
    // Late copies (a retried post after a lost response) would show up now.
    await sleep(SETTLE_MS);
    const final = count();
    const drainMs =
      final.lost === 0 && final.lastSettledAt !== undefined
        ? Math.max(0, final.lastSettledAt - lastSentAt)
        : undefined;

    closing = true;
    await Promise.race([Promise.allSettled(background), sleep(10_000)]);
    const jobs = side.sender.jobs;
    const jobOf = new Map(jobs.map((job) => [job.messageId, job]));
    const customerJobs = sent.flatMap((m) => jobOf.get(m.messageId) ?? []);
    const attempts: Record<string, number> = {};
    for (const job of jobs) {
      for (const attempt of job.attempts) {
        const key =
          attempt.status === undefined ? (attempt.error ?? 'error') : String(attempt.status);
        attempts[key] = (attempts[key] ?? 0) + 1;
      }
    }
    const { log: _log, ...recorded } = options;
    return {
      options: recorded,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Date.now() - startedAt,
      sendWindowMs: lastSentAt - t0,
      tally: final,
      ...(drainMs === undefined ? {} : { drainMs }),
      endedBy,
      webhooks: {
        jobs: jobs.length,
        customerMessages: customerJobs.length,
        delivered: jobs.filter((job) => job.outcome === 'delivered').length,
        retried: jobs.filter((job) => job.attempts.length > 1).length,
        gaveUp: jobs.filter((job) => job.outcome === 'gave_up').length,
        customerMessagesGivenUp: customerJobs.filter((job) => job.outcome === 'gave_up').length,
        conversationsOpenedByChatwoot: jobs.filter((job) => job.openedConversation).length,
        messagesMarkedFailed: side.sender.failedMessageIds.size,
        attempts,
      },
      faults,
      messages: sent.map((message) => ({
        conversationId: message.conversationId,
        chatwootConversationId: chatwootIdOf.get(message.conversationId) as number,
        index: message.index,
        messageId: message.messageId,
        atMs: message.sentAt - t0,
        webhook: (jobOf.get(message.messageId)?.attempts ?? [])
          .map((attempt) => attempt.status ?? attempt.error)
          .join(' → '),
        outcome: final.outcomes[message.messageId] ?? 'lost',
      })),
      unexpectedExits,
      ...(options.keepFiles ? { runDir } : {}),
    };
  } finally {
    closing = true;
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log(`cleanup failed: ${String(error)}`);
      }
    }
    if (!options.keepFiles) rmSync(runDir, { recursive: true, force: true });
  }
}

interface BridgeConfigInput {
  chatwootUrl: string;
  agentUrl: string;
  apiPort: number;
  temporalAddress: string;
  taskQueue: string;
  catchUpIntervalMs: number;
  accountId: number;
}

/**
 * The bridge's configuration for the run: production behaviour with retry intervals in
 * milliseconds rather than seconds, so a run drains in minutes. Checked here with the real
 * schema, so a typo fails before any process starts.
 */
function bridgeConfig(input: BridgeConfigInput): Record<string, unknown> {
  const raw = {
    chatwoot: { baseUrl: input.chatwootUrl, apiAccessToken: API_TOKEN, accountId: input.accountId },
    webhook: { secrets: [WEBHOOK_SECRET] },
    agents: [
      {
        id: 'echo',
        transport: 'ws',
        url: input.agentUrl,
        connectTimeoutMs: 1_000,
        replyTimeoutMs: 5_000,
        idleTimeoutMs: 5_000,
        totalTimeoutMs: 15_000,
      },
    ],
    routes: [{ inboxId: INBOX_ID, agentId: 'echo' }],
    delivery: {
      agentRetryWindowMs: 120_000,
      agentRetryInitialIntervalMs: 200,
      agentRetryMaxIntervalMs: 2_000,
      exchangeHeartbeatTimeoutMs: 3_000,
      chatwootRetryWindowMs: 120_000,
      chatwootRetryInitialIntervalMs: 100,
      chatwootRetryMaxIntervalMs: 1_000,
      chatwootRequestTimeoutMs: 2_000,
    },
    http: { port: input.apiPort, host: '127.0.0.1' },
    temporal: { address: input.temporalAddress, taskQueue: input.taskQueue },
    metrics: { workerPort: 0, temporalSdkPort: 0 },
    // Read by the catch-up once it exists; ignored (unknown keys are allowed) until then.
    catchUp: { apiAccessToken: CATCH_UP_TOKEN, intervalMs: input.catchUpIntervalMs },
  };
  parseConfig(raw);
  return raw;
}
