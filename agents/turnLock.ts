/**
 * Who may talk to an agent that takes one turn at a time. The worker's exchanges use a lease
 * kept in Temporal (activities/agentLease.ts), which holds across processes; the in-process lock
 * below serves code that runs outside a worker.
 */
export interface TurnLock {
  /**
   * Waits in line for `key` up to `waitMs`. The lease lasts `leaseMs` unless released first, so a
   * holder that vanished (its process was killed) frees it eventually. `unavailable`: whoever
   * keeps the leases (Temporal) did not answer until the wait was over.
   */
  acquire(request: {
    key: string;
    waitMs: number;
    leaseMs: number;
    signal?: AbortSignal;
  }): Promise<TurnLease | 'timeout' | 'cancelled' | 'unavailable'>;
}

export interface TurnLease {
  release(): Promise<void>;
}

/** Per-key mutual exclusion within this process, in arrival order, with a bounded wait. */
export class InProcessTurnLock implements TurnLock {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire({
    key,
    waitMs,
    signal,
  }: {
    key: string;
    waitMs: number;
    signal?: AbortSignal;
  }): Promise<TurnLease | 'timeout' | 'cancelled'> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    // Whoever comes next waits for this holder, even one that gives up waiting (it releases at once).
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    const outcome = await waitOrGiveUp(
      previous.then(() => 'acquired' as const),
      waitMs,
      signal,
    );
    if (outcome === 'acquired') {
      return {
        release: () => {
          release();
          return Promise.resolve();
        },
      };
    }
    release();
    return outcome;
  }
}

/** Races `work` against a timeout and an abort signal. */
export async function waitOrGiveUp<T>(
  work: Promise<T>,
  waitMs: number,
  signal?: AbortSignal,
): Promise<T | 'timeout' | 'cancelled'> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), waitMs))),
      new Promise<'cancelled'>((resolve) => {
        if (signal?.aborted) return resolve('cancelled');
        onAbort = () => resolve('cancelled');
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
