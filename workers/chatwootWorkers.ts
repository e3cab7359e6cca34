import { Worker, type WorkerOptions } from '@temporalio/worker';
import { rateLimitedAccountIds, type BridgeConfig } from '../config/schema.js';
import { chatwootTaskQueues } from '../workflows/chatwootQueue.js';

/**
 * With `chatwoot.maxCallsPerSecond` set: one worker per rate-limited Chatwoot task queue (the
 * shared one and one per account in `chatwoot.rateLimitAccountIds`), each asking the server for
 * that many activities per second on its queue. The server enforces the limit across every
 * poller of the queue, so ten worker processes still make at most that many calls a second.
 * Unset: none (deliveries then keep their Chatwoot calls on the main queue).
 */
export async function createRateLimitedChatwootWorkers(
  config: BridgeConfig,
  options: Omit<WorkerOptions, 'taskQueue' | 'maxTaskQueueActivitiesPerSecond'>,
): Promise<Worker[]> {
  const limit = config.chatwoot.maxCallsPerSecond;
  if (limit === undefined) return [];
  const queues = chatwootTaskQueues(config.temporal.taskQueue, rateLimitedAccountIds(config));
  return Promise.all(
    queues.map((taskQueue) =>
      Worker.create({ ...options, taskQueue, maxTaskQueueActivitiesPerSecond: limit }),
    ),
  );
}
