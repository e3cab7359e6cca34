import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { conversationStateQuery, conversationWorkflowId } from '../workflows/shared.js';
import { readProcTable, treeCpuMs, treeRssMb } from './processTree.js';
import type { ProcessRoles } from './measure.js';
import { round } from './stats.js';

export interface IdleReading {
  /** Idle actors of this population (each answered one message, then had nothing to do). */
  actors: number;
  idleSeconds: number;
  /** Sum over the worker processes, at the start and at the end of the idle window. */
  workerRssMb: { start: number; end: number };
  /** CPU ms per second of the idle window, per role (server, postgres, api, workers, bench). */
  cpuMsPerS: Record<string, number>;
  /** Actors of this population whose query reports a pending timer (`nextTimerAt`). */
  actorsWithTimer: number;
  /** Actors that did not answer the query (closed, or the query failed). */
  actorsUnanswered: number;
}

export interface IdlePopulation extends IdleReading {
  /** Actions per message while the new actors of this population were opened (first messages). */
  firstMessageActions: number;
  firstMessageActionsByType: Record<string, number>;
}

/** Watches an idle population: memory and CPU over `idleSeconds`, then asks each actor for its timers. */
export async function watchIdle(options: {
  client: Client;
  accountId: number;
  conversationIds: number[];
  idleSeconds: number;
  roles: ProcessRoles;
  workerPids: () => Array<number | undefined>;
}): Promise<IdleReading> {
  const rss = () => {
    const table = readProcTable();
    return round(options.workerPids().reduce((sum: number, pid) => sum + treeRssMb(pid, table), 0));
  };
  const cpu = () => {
    const table = readProcTable();
    return Object.fromEntries(
      Object.entries(options.roles()).map(([role, pids]) => [
        role,
        pids.reduce((sum: number, pid) => sum + treeCpuMs(pid, table), 0),
      ]),
    );
  };
  const rssStart = rss();
  const cpuBefore = cpu();
  const startedAt = Date.now();
  await sleep(options.idleSeconds * 1000);
  const seconds = (Date.now() - startedAt) / 1000;
  const cpuAfter = cpu();
  const rssEnd = rss();
  // After the window: a query replays an actor the worker no longer caches.
  const timers = await countTimers(options.client, options.accountId, options.conversationIds);
  return {
    actors: options.conversationIds.length,
    idleSeconds: round(seconds, 1),
    workerRssMb: { start: rssStart, end: rssEnd },
    cpuMsPerS: Object.fromEntries(
      Object.entries(cpuAfter).map(([role, ms]) => [
        role,
        round((ms - (cpuBefore[role] ?? NaN)) / seconds),
      ]),
    ),
    ...timers,
  };
}

const QUERY_CONCURRENCY = 16;

async function countTimers(client: Client, accountId: number, conversationIds: number[]) {
  let actorsWithTimer = 0;
  let actorsUnanswered = 0;
  const queue = [...conversationIds];
  const next = async (): Promise<void> => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      try {
        const view = await client.workflow
          .getHandle(conversationWorkflowId(accountId, id))
          .query(conversationStateQuery);
        if (view.nextTimerAt !== undefined) actorsWithTimer += 1;
      } catch {
        actorsUnanswered += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: QUERY_CONCURRENCY }, next));
  return { actorsWithTimer, actorsUnanswered };
}
