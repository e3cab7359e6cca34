import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';

/**
 * One turn at a time with an agent that cannot tell concurrent turns apart (AIWM gives an agent
 * one conversation that all its sockets hear). The lease lives in Temporal, so it holds across
 * every worker process and API replica, and outlives any of them.
 */

export interface LeaseHolder {
  /** The delivery workflow (or probe) that holds the lease. */
  holderId: string;
  /** One exchange attempt of that holder; only this token releases the lease. */
  token: string;
  /** Workflow time at which the lease lapses if its holder never releases it (a lost worker). */
  expiresAt: number;
}

export interface AgentLeaseInput {
  /** What is leased, e.g. `support@wss://aiwm.example/chat`. */
  key: string;
  /** Carried across continue-as-new. */
  holder?: LeaseHolder;
  /** Continue-as-new after this many history events (default 5,000, or when Temporal suggests). */
  continueAfterEvents?: number;
}

export interface AcquireLeaseRequest {
  holderId: string;
  token: string;
  /** How long the lease lasts unless released: the longest one exchange can take, and a margin. */
  leaseMs: number;
  /**
   * When to give up waiting in line (epoch ms): a deadline rather than a duration, so a request
   * that reaches the workflow late gives up when its asker does.
   */
  waitUntil: number;
}

export type AcquireLeaseResult =
  | { granted: true }
  /** `draining`: the lease workflow is continuing as new; ask again (the new run answers). */
  | { granted: false; reason: 'timeout' | 'withdrawn' | 'draining' };

export interface LeaseState {
  holder?: { holderId: string; token: string; expiresInMs: number };
  waiting: string[];
}

export const acquireLeaseUpdate = defineUpdate<AcquireLeaseResult, [AcquireLeaseRequest]>(
  'acquireLease',
);
/** Releases the lease held with `token`, or withdraws a request still waiting with it. */
export const releaseLeaseSignal = defineSignal<[{ token: string }]>('releaseLease');
export const leaseStateQuery = defineQuery<LeaseState>('leaseState');

export function agentLeaseWorkflowId(taskQueue: string, key: string): string {
  return `agent-lease:${taskQueue}:${key}`;
}

export async function agentLeaseWorkflow(input: AgentLeaseInput): Promise<void> {
  let holder = input.holder;
  /** Requests in arrival order; the first one takes the lease when it is free. */
  const waiting: AcquireLeaseRequest[] = [];
  let draining = false;

  const grant = (request: AcquireLeaseRequest) => {
    holder = {
      holderId: request.holderId,
      token: request.token,
      expiresAt: Date.now() + request.leaseMs,
    };
  };

  setHandler(
    acquireLeaseUpdate,
    async (request): Promise<AcquireLeaseResult> => {
      if (draining) return { granted: false, reason: 'draining' };
      // Its asker has given up already: granting it would hold the lease for nobody.
      const waitMs = request.waitUntil - Date.now();
      if (waitMs <= 0) return { granted: false, reason: 'timeout' };
      const free = holder === undefined && waiting.length === 0;
      // A later attempt of the holder itself (its worker was lost mid-exchange) takes over at once.
      if (free || holder?.holderId === request.holderId) {
        grant(request);
        return { granted: true };
      }
      // The same token asking again: its asker lost the answer to the first request (which
      // nobody awaits now). The new request takes the orphan's place in line, so it is not
      // left waiting behind its own orphan's lease.
      const orphan = waiting.findIndex((queued) => queued.token === request.token);
      if (orphan >= 0 && patched('lease-dedupe-by-token')) waiting[orphan] = request;
      else waiting.push(request);
      const inLine = () => waiting.includes(request);
      const turn = await condition(
        () => !inLine() || draining || (holder === undefined && waiting[0] === request),
        waitMs,
      );
      if (!inLine()) return { granted: false, reason: 'withdrawn' };
      waiting.splice(waiting.indexOf(request), 1);
      if (draining) return { granted: false, reason: 'draining' };
      if (!turn) return { granted: false, reason: 'timeout' };
      grant(request);
      return { granted: true };
    },
    {
      validator: ({ leaseMs, waitUntil }) => {
        if (!(leaseMs > 0) || !Number.isFinite(waitUntil)) {
          throw new Error('leaseMs must be > 0 and waitUntil a time');
        }
      },
    },
  );

  setHandler(releaseLeaseSignal, ({ token }) => {
    if (holder?.token === token) holder = undefined;
    const index = waiting.findIndex((request) => request.token === token);
    if (index >= 0) waiting.splice(index, 1);
  });

  setHandler(leaseStateQuery, () => ({
    ...(holder && {
      holder: {
        holderId: holder.holderId,
        token: holder.token,
        expiresInMs: Math.max(0, holder.expiresAt - Date.now()),
      },
    }),
    waiting: waiting.map((request) => request.holderId),
  }));

  const limit = input.continueAfterEvents ?? 5_000;
  const timeToContinue = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= limit;

  while (!timeToContinue()) {
    const current = holder;
    if (current === undefined) {
      await condition(() => holder !== undefined || timeToContinue());
      continue;
    }
    const left = current.expiresAt - Date.now();
    const changed =
      left > 0 && (await condition(() => holder !== current || timeToContinue(), left));
    if (!changed && holder === current) {
      log.warn('lease lapsed: its holder never released it', { holderId: current.holderId });
      holder = undefined;
    }
  }
  // Waiting requests answer "draining" and ask the next run; the holder is carried over.
  draining = true;
  await condition(allHandlersFinished);
  await continueAsNew<typeof agentLeaseWorkflow>({ ...input, holder });
}
