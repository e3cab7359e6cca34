import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { loadConfig } from '../config/load.js';
import type { BridgeConfig } from '../config/schema.js';
import { ensureSearchAttributes } from './devServer.js';

export interface BridgeWorkerOptions {
  config: BridgeConfig;
  address: string;
  /** A prebuilt workflow bundle (tests build one once per run); default: bundle from source. */
  workflowBundlePath?: string;
  workerOptions?: Partial<WorkerOptions>;
}

export interface BridgeWorker {
  worker: Worker;
  /** Resolves when the worker has shut down. */
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** A worker for the bridge's task queue, with activities wired to Chatwoot, the agents and Temporal. */
export async function createBridgeWorker(options: BridgeWorkerOptions): Promise<BridgeWorker> {
  const { config, address } = options;
  const nativeConnection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  const temporal = new Client({
    connection: clientConnection,
    namespace: config.temporal.namespace,
  });
  const bundlePath = options.workflowBundlePath ?? process.env.WORKFLOW_BUNDLE_PATH;

  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath }),
    activities: createActivities({ config, temporal }),
    ...options.workerOptions,
  });

  let running: Promise<void> | undefined;
  const run = () => {
    running ??= worker.run().finally(async () => {
      await clientConnection.close();
      await nativeConnection.close();
    });
    return running;
  };
  return {
    worker,
    run,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = loadConfig();
  const address = config.temporal.address ?? 'localhost:7233';
  const connection = await Connection.connect({ address });
  await ensureSearchAttributes(connection, config.temporal.namespace);
  await connection.close();
  const bridgeWorker = await createBridgeWorker({ config, address });
  // The SDK shuts the worker down gracefully on SIGINT/SIGTERM.
  await bridgeWorker.run();
}
