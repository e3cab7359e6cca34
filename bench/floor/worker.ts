/**
 * A floor worker process (bench/floor/): the floor workflows and their do-nothing activities on
 * FLOOR_TASK_QUEUE, the exchange on its own queue as the bridge's agent exchanges are, in one
 * process like `npm run worker`. Started by the benchmark with FLOOR_TEMPORAL_ADDRESS and
 * FLOOR_BUNDLE_PATH (a bundle from bundleWorkflowCode).
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createFloorActivities } from './activities.js';
import { floorAgentQueue } from './workflows.js';

import { FLOOR_WORKER_READY } from './ready.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (the benchmark starts this process)`);
  return value;
};
const address = env('FLOOR_TEMPORAL_ADDRESS');
const taskQueue = env('FLOOR_TASK_QUEUE');
const codePath = env('FLOOR_BUNDLE_PATH');
const namespace = process.env.FLOOR_NAMESPACE ?? 'default';

Runtime.install({ logger: new DefaultLogger('ERROR') });
const nativeConnection = await NativeConnection.connect({ address });
const connection = await Connection.connect({ address });
const client = new Client({ connection, namespace });
const activities = createFloorActivities(client);
const workers = await Promise.all([
  Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowBundle: { codePath },
    activities: { floorTyping: activities.floorTyping, floorPost: activities.floorPost },
  }),
  Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue: floorAgentQueue(taskQueue),
    activities: { floorExchange: activities.floorExchange },
    // As the bridge's agent worker.
    maxConcurrentActivityTaskExecutions: 500,
  }),
]);
process.stdout.write(`${FLOOR_WORKER_READY}\n`);
// The SDK's runtime shuts both down on SIGTERM.
await Promise.all(workers.map((worker) => worker.run()));
await connection.close();
await nativeConnection.close();
