import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitOrGiveUp, type TurnLock } from './turnLock.js';
import {
  acquireLeaseUpdate,
  type AcquireLeaseRequest,
  agentLeaseWorkflow,
  agentLeaseWorkflowId,
  releaseLeaseSignal,
} from '../workflows/agentLease.js';

/** Pause before asking again after an error or while the lease workflow continues as new. */
const RETRY_PAUSE_MS = 200;
const RELEASE_DEADLINE_MS = 5_000;

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
      // Bounded, so nothing keeps calling Temporal after the exchange is over.
      const release = async () => {
        try {
          await client.withDeadline(Date.now() + RELEASE_DEADLINE_MS, () =>
            client.workflow.getHandle(workflowId).signal(releaseLeaseSignal, { token }),
          );
        } catch (error) {
          // The lease lapses on its own after leaseMs.
          warn('releasing an agent lease failed', { workflowId, error: String(error) });
        }
      };
      const deadline = Date.now() + waitMs;
      let failing = false; // the last request to Temporal failed
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) return failing ? 'unavailable' : 'timeout';
        const request = askForLease(client, workflowId, taskQueue, key, {
          holderId,
          token,
          leaseMs,
          waitUntil: deadline,
        });
        const answer = await waitOrGiveUp(request.answer, left, signal);
        if (answer === 'cancelled' || answer === 'timeout') {
          // Leave the line (or give back a lease granted this instant), then stop asking. A
          // request Temporal never accepted is withdrawn in the background, in case it arrives.
          const withdrawn = release();
          if (request.accepted()) await withdrawn;
          request.stop();
          return answer === 'timeout' && !request.accepted() ? 'unavailable' : answer;
        }
        if (answer.granted) return { release };
        if ('reason' in answer && answer.reason !== 'draining') return 'timeout';
        if ('error' in answer && !failing) {
          // Once per run of failures, not once per retry.
          warn('asking for an agent lease failed; asking again', {
            workflowId,
            error: String(answer.error),
          });
        }
        failing = 'error' in answer;
        await sleep(Math.min(RETRY_PAUSE_MS, Math.max(0, deadline - Date.now())));
      }
    },
  };
}

/**
 * One request for the lease: accepted by the lease workflow first, then answered when granted,
 * given up or drained. Accepted is kept apart so a Temporal that never takes the request is told
 * from a long line. `stop` cancels its calls.
 */
function askForLease(
  client: Client,
  workflowId: string,
  taskQueue: string,
  key: string,
  request: AcquireLeaseRequest,
) {
  const calls = new AbortController();
  let accepted = false;
  const start = new WithStartWorkflowOperation(agentLeaseWorkflow, {
    workflowId,
    taskQueue,
    args: [{ key }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `one turn at a time for ${key}`,
  });
  // It fails along with the request, which reports the failure.
  start.workflowHandle().catch(() => undefined);
  const answer = client
    .withAbortSignal(calls.signal, async () => {
      const update = await client.workflow.startUpdateWithStart(acquireLeaseUpdate, {
        args: [request],
        waitForStage: 'ACCEPTED',
        startWorkflowOperation: start,
      });
      accepted = true;
      return update.result();
    })
    .catch((error: unknown) => ({ granted: false as const, error }));
  return { answer, accepted: () => accepted, stop: () => calls.abort() };
}
