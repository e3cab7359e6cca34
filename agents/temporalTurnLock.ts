import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitOrGiveUp, type TurnLease, type TurnLock } from './turnLock.js';
import {
  acquireLeaseUpdate,
  agentLeaseWorkflow,
  agentLeaseWorkflowId,
  releaseLeaseSignal,
} from '../workflows/agentLease.js';

/** Pause before asking again after an error or while the lease workflow continues as new. */
const RETRY_PAUSE_MS = 200;

/**
 * A turn lock kept by the `agent-lease` workflow of each key, so it holds across every worker
 * process. `holderId` names the delivery (a later exchange of the same delivery takes over its
 * own lease at once); `token` names this one exchange, and only it releases the lease.
 */
export function temporalTurnLock(options: {
  client: Client;
  /** The bridge's workflow task queue: the lease workflow runs there. */
  taskQueue: string;
  holderId: string;
  token: string;
  /** Where trouble talking to Temporal is reported (the activity's or the request's logger). */
  warn: (message: string, fields: Record<string, unknown>) => void;
}): TurnLock {
  const { client, taskQueue, holderId, token, warn } = options;
  return {
    async acquire({ key, waitMs, leaseMs, signal }) {
      const workflowId = agentLeaseWorkflowId(taskQueue, key);
      const release = async () => {
        try {
          await client.workflow.getHandle(workflowId).signal(releaseLeaseSignal, { token });
        } catch (error) {
          // The lease lapses on its own after leaseMs.
          warn('releasing an agent lease failed', { workflowId, error: String(error) });
        }
      };
      const lease: TurnLease = { release };
      const deadline = Date.now() + waitMs;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) return 'timeout';
        const ask = client.workflow.executeUpdateWithStart(acquireLeaseUpdate, {
          args: [{ holderId, token, leaseMs, waitMs: left }],
          startWorkflowOperation: new WithStartWorkflowOperation(agentLeaseWorkflow, {
            workflowId,
            taskQueue,
            args: [{ key }],
            workflowIdConflictPolicy: 'USE_EXISTING',
            staticSummary: `one turn at a time for ${key}`,
          }),
        });
        const answer = await waitOrGiveUp(
          ask.catch((error: unknown) => ({ granted: false as const, error })),
          left,
          signal,
        );
        if (answer === 'cancelled' || answer === 'timeout') {
          // Leave the line now; and should the lease be granted meanwhile, give it back.
          await release();
          void ask.then(
            (late) => (late.granted ? release() : undefined),
            () => undefined,
          );
          return answer;
        }
        if (answer.granted) return lease;
        if ('reason' in answer && answer.reason !== 'draining') return 'timeout';
        if ('error' in answer) {
          warn('asking for an agent lease failed; asking again', {
            workflowId,
            error: String(answer.error),
          });
        }
        await sleep(Math.min(RETRY_PAUSE_MS, Math.max(0, deadline - Date.now())));
      }
    },
  };
}
