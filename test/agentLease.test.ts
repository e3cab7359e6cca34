import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseKey } from '../agents/aiwm/exchange.js';
import { temporalTurnLock } from '../agents/temporalTurnLock.js';
import type { TurnLease } from '../agents/turnLock.js';
import {
  acquireLeaseUpdate,
  agentLeaseWorkflow,
  agentLeaseWorkflowId,
  leaseStateQuery,
} from '../workflows/agentLease.js';
import { lazyClient, plainConnection } from '../temporal/connection.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * The lease that serialises turns with one-turn-at-a-time agents (AIWM) across worker processes:
 * the `agent-lease` workflow on the real dev server, driven through the lock the exchange uses.
 */
describe('agent lease (one turn at a time, across processes)', () => {
  let stack: Stack;
  const warnings: string[] = [];

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const taskQueue = () => stack.config.temporal.taskQueue;
  const lock = (holderId: string, token = `${holderId}#1`) =>
    temporalTurnLock({
      client: stack.temporal,
      taskQueue: taskQueue(),
      holderId,
      token,
      warn: (message) => warnings.push(message),
    });
  const acquire = (key: string, holderId: string, options: Partial<LeaseOptions> = {}) =>
    lock(holderId, options.token).acquire({
      key,
      waitMs: options.waitMs ?? 20_000,
      leaseMs: options.leaseMs ?? 60_000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  const handle = (key: string) =>
    stack.temporal.workflow.getHandle(agentLeaseWorkflowId(taskQueue(), key));
  const state = (key: string) => handle(key).query(leaseStateQuery);
  const granted = (result: Awaited<ReturnType<typeof acquire>>): TurnLease => {
    if (typeof result === 'string') throw new Error(`expected the lease, got ${result}`);
    return result;
  };

  it("is keyed by the AIWM agent and its server, without the URL's credentials or query", () => {
    expect(leaseKey('support', 'wss://user:secret@aiwm.example/dev/chat?token=abc')).toBe(
      'support@wss://aiwm.example/dev/chat',
    );
  });

  it('grants one holder at a time, in the order they asked', async () => {
    const key = randomUUID();
    const a = granted(await acquire(key, 'a'));
    const order: string[] = [];
    const b = acquire(key, 'b').then((lease) => (order.push('b'), granted(lease)));
    await expect.poll(async () => (await state(key)).waiting).toEqual(['b']);
    const c = acquire(key, 'c').then((lease) => (order.push('c'), granted(lease)));
    await expect.poll(async () => (await state(key)).waiting).toEqual(['b', 'c']);
    expect((await state(key)).holder?.holderId).toBe('a');

    await a.release();
    const bLease = await b;
    expect(order).toEqual(['b']);
    expect(await state(key)).toMatchObject({ holder: { holderId: 'b' }, waiting: ['c'] });
    await bLease.release();
    await (await c).release();
    expect(order).toEqual(['b', 'c']);
    expect(await state(key)).toEqual({ waiting: [] });
  });

  it('a request that waits too long gives up and leaves the line', async () => {
    const key = randomUUID();
    const a = granted(await acquire(key, 'a'));
    // Long enough for the request to be taken in line: "timeout", not "unavailable".
    expect(await acquire(key, 'b', { waitMs: 2_000 })).toBe('timeout');
    await expect.poll(() => state(key)).toMatchObject({ holder: { holderId: 'a' }, waiting: [] });
    await a.release();
  });

  it('a cancelled request leaves the line at once', async () => {
    const key = randomUUID();
    const a = granted(await acquire(key, 'a'));
    const abort = new AbortController();
    const b = acquire(key, 'b', { signal: abort.signal });
    await expect.poll(async () => (await state(key)).waiting).toEqual(['b']);
    abort.abort();
    expect(await b).toBe('cancelled');
    await expect.poll(async () => (await state(key)).waiting).toEqual([]);
    // The next in line is not held up by the request that left.
    await a.release();
    await granted(await acquire(key, 'c', { waitMs: 5_000 })).release();
  });

  it('a holder that never releases (its worker died) loses the lease after leaseMs', async () => {
    const key = randomUUID();
    granted(await acquire(key, 'lost', { leaseMs: 500 }));
    const b = granted(await acquire(key, 'b', { waitMs: 10_000 }));
    expect((await state(key)).holder?.holderId).toBe('b');
    await b.release();
  });

  it("a delivery's next exchange takes over its own lease; the old token releases nothing", async () => {
    const key = randomUUID();
    granted(await acquire(key, 'delivery', { token: 'delivery#1' }));
    const second = granted(await acquire(key, 'delivery', { token: 'delivery#2', waitMs: 1_000 }));
    expect((await state(key)).holder).toMatchObject({ holderId: 'delivery', token: 'delivery#2' });
    // The first attempt's late release must not free the second attempt's lease.
    await handle(key).signal('releaseLease', { token: 'delivery#1' });
    expect((await state(key)).holder?.token).toBe('delivery#2');
    await second.release();
    expect((await state(key)).holder).toBeUndefined();
  });

  it("a retry whose first answer was lost takes its orphaned request's place, not the line behind it", async () => {
    const key = randomUUID();
    const a = granted(await acquire(key, 'a'));
    // The first ask was accepted by the lease workflow, then its answer was lost
    // (update.result() failed): nobody waits for it any more.
    await handle(key).startUpdate(acquireLeaseUpdate, {
      args: [{ holderId: 'b', token: 'b#1', leaseMs: 60_000, waitUntil: Date.now() + 60_000 }],
      waitForStage: 'ACCEPTED',
    });
    await expect.poll(async () => (await state(key)).waiting).toEqual(['b']);
    // The retry asks again with the same token: one place in line, not two.
    const retry = acquire(key, 'b', { token: 'b#1', waitMs: 5_000 });
    await expect.poll(async () => (await state(key)).waiting).toEqual(['b']);
    await a.release();
    const lease = granted(await retry);
    expect((await state(key)).holder).toMatchObject({ holderId: 'b', token: 'b#1' });
    await lease.release();
    expect(await state(key)).toEqual({ waiting: [] });
  });

  it('says "unavailable", not "busy", when Temporal does not answer within the wait', async () => {
    const connection = lazyClient(plainConnection('127.0.0.1:1', 'default'));
    const client = new Client({ connection });
    const unreachable = temporalTurnLock({
      client,
      taskQueue: taskQueue(),
      holderId: 'a',
      token: 'a#1',
      warn: () => undefined,
    });
    expect(await unreachable.acquire({ key: randomUUID(), waitMs: 1_000, leaseMs: 1_000 })).toBe(
      'unavailable',
    );
    // Its withdrawal may still be retrying: closing ends it (test/connectionClose.test.ts).
    await connection.close();
  });

  it('continues as new when its history grows, keeping the holder; requests follow it', async () => {
    const key = randomUUID();
    const first = await stack.temporal.workflow.start(agentLeaseWorkflow, {
      workflowId: agentLeaseWorkflowId(taskQueue(), key),
      taskQueue: taskQueue(),
      args: [{ key, continueAfterEvents: 20 }],
    });
    const holder = granted(await acquire(key, 'holder'));
    // Each request that gives up adds a handful of events.
    for (let i = 0; i < 8; i += 1) {
      expect(typeof (await acquire(key, `waiter-${i}`, { waitMs: 300 }))).toBe('string');
    }
    const latest = await handle(key).describe();
    expect(latest.runId).not.toBe(first.firstExecutionRunId);
    expect((await state(key)).holder?.holderId).toBe('holder');
    await holder.release();
    await granted(await acquire(key, 'after', { waitMs: 5_000 })).release();
    expect(await state(key)).toEqual({ waiting: [] });
  });
});

interface LeaseOptions {
  token: string;
  waitMs: number;
  leaseMs: number;
  signal: AbortSignal;
}
