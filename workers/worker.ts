import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@temporalio/client';
import { Runtime, Worker, type InjectedSinks, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { bridgeDataConverter } from '../codec/dataConverter.js';
import { LiveConfig, reloadOnHangup } from '../config/live.js';
import { configOrExit, loadConfig, requireWebhookSecrets } from '../config/load.js';
import type { BridgeConfig } from '../config/schema.js';
import { createJsonLogger } from '../observability/logging.js';
import { WorkerMetrics } from '../observability/metrics.js';
import { installWorkerRuntime } from '../observability/runtime.js';
import { tracingOrExit, type Tracing } from '../observability/tracing.js';
import { agentTaskQueue } from '../workflows/shared.js';
import type { BridgeSinks } from '../workflows/sinks.js';
import { StaleBundleError, verifyWorkflowBundle, workflowInterceptorModules } from './bundle.js';
import { ensureCatchUpSchedules, type StartupLogger } from './catchUpSchedules.js';
import { createRateLimitedChatwootWorkers } from './chatwootWorkers.js';
import { DeploymentConfigError, versioningWorkerOptions } from './deploymentOptions.js';
import {
  connectClient,
  connectWorker,
  plainConnection,
  resolveTemporalConnection,
  type TemporalConnectionSettings,
} from '../temporal/connection.js';
import { exitUnlessNamespaceReady } from '../temporal/namespace.js';
import { startMetricsServer } from './metricsServer.js';

export interface BridgeWorkerOptions {
  config: BridgeConfig;
  address: string;
  /** How to reach Temporal (TLS, API key); default: plain TCP to `address`. */
  connection?: TemporalConnectionSettings;
  /**
   * A workflow bundle built by `npm run build` (or workers/bundle.ts's buildWorkflowBundle), checked
   * against the installed sources; default: WORKFLOW_BUNDLE_PATH, else bundle from source at start.
   */
  workflowBundlePath?: string;
  workerOptions?: Partial<WorkerOptions>;
  /** The configuration in force: agents are looked up there, so reloads reach new exchanges. */
  live?: LiveConfig;
  /** Default: a registry of this worker's own. */
  metrics?: WorkerMetrics;
  /** Start-up messages (whether catch-up is on); default: the Temporal runtime's logger. */
  logger?: StartupLogger;
  /** OpenTelemetry (observability/tracing.ts); default: none, nothing traced. */
  tracing?: Tracing;
}

export interface BridgeWorker {
  /** Resolves when both workers have shut down. */
  run(): Promise<void>;
  shutdown(): Promise<void>;
  /** Deliveries, agent exchanges and Chatwoot calls made by this worker's activities. */
  metrics: WorkerMetrics;
  /** Both workers are polling. */
  isRunning(): boolean;
}

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/**
 * The bridge's workers, in one process: one for workflows and Chatwoot calls, one for agent
 * exchanges on their own task queue. Exchanges hold a slot for as long as an agent talks, so
 * giving them their own slots means a crowd of slow agents never delays a reply's post.
 */
export async function createBridgeWorker(options: BridgeWorkerOptions): Promise<BridgeWorker> {
  const { config, address, tracing } = options;
  const bundlePath = options.workflowBundlePath ?? (process.env.WORKFLOW_BUNDLE_PATH || undefined);
  // Never run workflow code other than the installed sources: a stale bundle stops the start,
  // before any connection (it needs no Temporal to say so, nor to wait for one).
  if (bundlePath) verifyWorkflowBundle(bundlePath);
  // Every payload this process writes or reads goes through the codec (temporal.encryption).
  const dataConverter = bridgeDataConverter(config);
  const settings = options.connection ?? plainConnection(address, config.temporal.namespace);
  const nativeConnection = await connectWorker(settings);
  const clientConnection = await connectClient(settings);
  const temporal = new Client({
    connection: clientConnection,
    namespace: config.temporal.namespace,
    dataConverter,
    ...(tracing ? { interceptors: tracing.clientInterceptors } : {}),
  });
  const metrics = options.metrics ?? new WorkerMetrics();
  const activities = createActivities({ config, temporal, live: options.live, metrics });
  const sinks: InjectedSinks<BridgeSinks> = {
    bridgeMetrics: {
      deliveryFinished: {
        fn: ({ workflowId, runId }, agentId, outcome) => {
          metrics.deliveryFinished(agentId, outcome);
          // One line per delivery, with the ids the logger turns into the conversation's.
          Runtime.instance().logger.info('delivery finished', {
            sdkComponent: 'workflow',
            workflowId,
            runId,
            agentId,
            outcome,
          });
        },
      },
      duplicateDropped: {
        fn: (_info, reason) => metrics.messageDeduplicated(reason),
      },
    },
  };
  const common = {
    connection: nativeConnection,
    namespace: config.temporal.namespace,
    dataConverter,
    // Activity spans (both queues), children of the workflow's StartActivity span.
    ...(tracing ? { interceptors: tracing.workerInterceptors } : {}),
  };
  // On SIGTERM both stop polling and let what is in flight finish (an agent still answering)
  // within the grace time; what is still running then is cancelled and resumed elsewhere.
  const shared: Partial<WorkerOptions> = {
    shutdownGraceTime: config.worker.shutdownGraceMs,
    // Both poll as one Worker Deployment version when worker.deployment is set.
    ...versioningWorkerOptions(config.worker.deployment, bundlePath),
    ...options.workerOptions,
  };

  const workers = await Promise.all([
    Worker.create({
      ...common,
      taskQueue: config.temporal.taskQueue,
      // The workflow interceptors are in every bundle (workers/bundle.ts): bundled from source
      // the same way, so both paths run the same workflow code.
      ...(bundlePath
        ? { workflowBundle: { codePath: bundlePath } }
        : {
            workflowsPath,
            interceptors: { ...common.interceptors, workflowModules: workflowInterceptorModules },
          }),
      activities: activities.chatwoot,
      sinks: { ...sinks, ...tracing?.workflowSinks },
      maxCachedWorkflows: config.worker.maxCachedWorkflows,
      ...(config.worker.maxConcurrentWorkflowTasks !== undefined
        ? { maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks }
        : {}),
      ...shared,
    }),
    Worker.create({
      ...common,
      taskQueue: agentTaskQueue(config.temporal.taskQueue),
      activities: activities.agents,
      maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentExchanges,
      ...shared,
    }),
  ]);
  // chatwoot.maxCallsPerSecond: the fleet-wide limited Chatwoot queues (workers/chatwootWorkers.ts).
  workers.push(
    ...(await createRateLimitedChatwootWorkers(config, {
      ...common,
      activities: activities.chatwoot,
      ...shared,
    })),
  );

  const logger = options.logger ?? Runtime.instance().logger;
  try {
    await ensureCatchUpSchedules(temporal, config, logger);
  } catch (error) {
    // The worker still serves deliveries; the next start (or deploy) tries again.
    logger.warn('catch-up schedules could not be created', {
      error: error instanceof Error ? error.message : String(error),
    });
  }

  let running: Promise<void> | undefined;
  const run = () => {
    running ??= Promise.all(workers.map((worker) => worker.run()))
      .then(() => undefined)
      .finally(async () => {
        await clientConnection.close();
        await nativeConnection.close();
      });
    return running;
  };
  return {
    run,
    async shutdown() {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
    metrics,
    isRunning: () => workers.every((worker) => worker.getState() === 'RUNNING'),
  };
}

/** A stale bundle stops the start before anything connects: no Temporal is needed to say so. */
function exitOnStaleBundle(
  bundlePath: string | undefined,
  logger: { error(message: string): void },
): void {
  try {
    if (bundlePath) verifyWorkflowBundle(bundlePath);
  } catch (error) {
    if (!(error instanceof StaleBundleError)) throw error;
    logger.error(error.message);
    process.exit(1);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = configOrExit(() => {
    const loaded = loadConfig();
    requireWebhookSecrets(loaded, 'npm run worker');
    return loaded;
  });
  const live = new LiveConfig(config);
  // Every line, the SDK's and the Rust core's included, is scrubbed of configured secrets.
  const logger = createJsonLogger({
    name: 'chatwoot-bridge-worker',
    secretsFrom: () => live.current(),
  });
  installWorkerRuntime(config, logger);
  exitOnStaleBundle(process.env.WORKFLOW_BUNDLE_PATH || undefined, logger);
  const connection = resolveTemporalConnection(config);
  // Read only: the namespace and its search attributes come from `npm run setup`.
  await exitUnlessNamespaceReady(connection);
  reloadOnHangup(live, 'worker');
  const metrics = new WorkerMetrics({ processMetrics: true });
  const tracing = tracingOrExit();
  const bridgeWorker = await createBridgeWorker({
    config: { ...config, temporal: { ...config.temporal, namespace: connection.namespace } },
    address: connection.address,
    connection,
    live,
    metrics,
    tracing,
  }).catch((error: unknown) => {
    if (!(error instanceof StaleBundleError || error instanceof DeploymentConfigError)) throw error;
    logger.error(error.message);
    process.exit(1);
  });
  const { host, workerPort } = config.metrics;
  const metricsServer = workerPort
    ? await startMetricsServer({
        registries: [metrics.registry],
        port: workerPort,
        host,
        healthy: () => bridgeWorker.isRunning(),
      })
    : undefined;
  logger.info(
    { taskQueue: config.temporal.taskQueue, metrics: metricsServer?.url },
    'worker started',
  );
  // The SDK's runtime shuts both workers down on SIGINT/SIGTERM, within worker.shutdownGraceMs.
  await bridgeWorker.run();
  await metricsServer?.close();
  await tracing?.shutdown();
}
