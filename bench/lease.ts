/**
 * What the cross-process turn lease costs an AIWM exchange: acquire + release through the
 * `agent-lease` workflow, against the in-process lock it replaced, in the same process run.
 *
 *   npm run bench:lease -- [--cycles N] [--contenders K]
 *
 * Uncontended: one holder takes and gives back the lease N times. Contended: K holders share
 * one key, each taking it N/K times; "hand-over" is the time from one release to the next grant.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { temporalTurnLock } from '../agents/temporalTurnLock.js';
import { InProcessTurnLock, type TurnLock } from '../agents/turnLock.js';
import { parseConfig } from '../config/load.js';
import { LOW_LATENCY_DYNAMIC_CONFIG, startDevServer } from '../workers/devServer.js';
import { createBridgeWorker } from '../workers/worker.js';
import { round, summarize } from './stats.js';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '200' },
    contenders: { type: 'string', default: '4' },
  },
});
const cycles = Number(values.cycles);
const contenders = Number(values.contenders);
if (!(cycles >= 1) || !(contenders >= 2)) throw new Error('--cycles ≥ 1, --contenders ≥ 2');

Runtime.install({ logger: new DefaultLogger('WARN') });
const server = await startDevServer({ ui: false, dynamicConfig: LOW_LATENCY_DYNAMIC_CONFIG });
const config = parseConfig({
  chatwoot: { baseUrl: 'http://127.0.0.1:9', apiAccessToken: 'unused' },
  webhook: { secrets: ['unused-webhook-secret'] },
  // Never called: the benchmark only takes and gives back leases.
  agents: [{ id: 'unused', transport: 'ws', url: 'ws://127.0.0.1:9' }],
  routes: [{ inboxId: 1, agentId: 'unused' }],
  temporal: { address: server.address, taskQueue: `bench-lease-${randomUUID()}` },
});
const worker = await createBridgeWorker({ config, address: server.address });
const running = worker.run();
const connection = await Connection.connect({ address: server.address });
const client = new Client({ connection });

const local = new InProcessTurnLock();
const leased = (holderId: string): TurnLock => {
  let n = 0;
  return {
    acquire: (request) =>
      temporalTurnLock({
        client,
        taskQueue: config.temporal.taskQueue,
        holderId,
        token: `${holderId}#${(n += 1)}`,
        warn: (message, fields) => console.warn(message, fields),
      }).acquire(request),
  };
};

/** One holder, N cycles: ms per acquire and per release. */
async function uncontended(lock: TurnLock) {
  const key = randomUUID();
  const acquire: number[] = [];
  const release: number[] = [];
  for (let i = 0; i < cycles; i += 1) {
    const t0 = performance.now();
    const lease = await lock.acquire({ key, waitMs: 10_000, leaseMs: 60_000 });
    if (typeof lease === 'string') throw new Error(`not granted: ${lease}`);
    const t1 = performance.now();
    await lease.release();
    acquire.push(t1 - t0);
    release.push(performance.now() - t1);
  }
  return { acquire: summarize(acquire), release: summarize(release) };
}

/** K holders on one key: ms from a release to the next grant, and turns per second. */
async function contended(locks: TurnLock[]) {
  const key = randomUUID();
  const handOver: number[] = [];
  let releasedAt: number | undefined;
  let holding = 0;
  let overlaps = 0;
  const started = performance.now();
  await Promise.all(
    locks.map(async (lock) => {
      for (let i = 0; i < Math.ceil(cycles / locks.length); i += 1) {
        const lease = await lock.acquire({ key, waitMs: 60_000, leaseMs: 60_000 });
        if (typeof lease === 'string') throw new Error(`not granted: ${lease}`);
        if ((holding += 1) > 1) overlaps += 1;
        if (releasedAt !== undefined) handOver.push(performance.now() - releasedAt);
        holding -= 1;
        releasedAt = performance.now();
        await lease.release();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { handOver: summarize(handOver), turnsPerSecond: cycles / seconds, overlaps };
}

const show = (label: string, s: ReturnType<typeof summarize>) =>
  `${label.padEnd(34)} p50 ${round(s.p50, 3)} ms · p95 ${round(s.p95, 3)} ms · max ${round(s.max, 1)} ms`;

try {
  await uncontended(leased('warm-up')); // bundle, first workflow start, connections
  const base = await uncontended(local);
  const lease = await uncontended(leased('bench'));
  const baseBusy = await contended(Array.from({ length: contenders }, () => local));
  const leaseBusy = await contended(
    Array.from({ length: contenders }, (_, i) => leased(`bench-${i}`)),
  );
  console.log(`${cycles} cycles; contended: ${contenders} holders on one key`);
  console.log(show('in-process lock: acquire', base.acquire));
  console.log(show('lease (Temporal): acquire', lease.acquire));
  console.log(show('in-process lock: release', base.release));
  console.log(show('lease (Temporal): release', lease.release));
  console.log(show('in-process lock: hand-over', baseBusy.handOver));
  console.log(show('lease (Temporal): hand-over', leaseBusy.handOver));
  console.log(
    `turns/s, contended: in-process ${round(baseBusy.turnsPerSecond, 1)} · lease ${round(leaseBusy.turnsPerSecond, 1)} · overlaps ${baseBusy.overlaps}/${leaseBusy.overlaps}`,
  );
  console.log(
    `lease acquire + release p50, added per AIWM exchange: ${round(lease.acquire.p50 + lease.release.p50 - base.acquire.p50 - base.release.p50, 2)} ms`,
  );
} finally {
  await connection.close();
  await worker.shutdown();
  await running;
  await server.stop();
}
