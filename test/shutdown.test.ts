import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeMarkerOf } from '../chatwoot/sourceId.js';
import { parseConfig } from '../config/load.js';
import { eventually } from './helpers/eventually.js';
import { startStack, type Stack } from './helpers/stack.js';
import { workerProcesses } from './helpers/workerProcess.js';

/**
 * A rolling deploy sends SIGTERM to a worker process while it streams an answer. The worker
 * stops polling, lets the exchange finish within `worker.shutdownGraceMs`, then exits; the
 * other worker process carries the delivery on. An exchange cut by the end of the grace time
 * is a lost worker, not a failing agent: it never opens the agent retry window.
 */
describe('graceful worker shutdown', () => {
  let stack: Stack;
  const sets: Array<ReturnType<typeof workerProcesses>> = [];

  beforeAll(async () => {
    stack = await startStack({
      // Three replies, 1.5 s apart: SIGTERM lands between the first and the last.
      agents: { slow: 'multi?count=3&delayMs=1500' },
      routes: { 7: 'slow' },
      worker: false,
      // Any agent failure would hand off at once: the window is shorter than the first backoff.
      delivery: { agentRetryWindowMs: 50, agentRetryInitialIntervalMs: 1_000 },
    });
  });
  afterAll(async () => {
    for (const set of sets) set.killAll();
    await stack?.stop();
  });

  /** Two worker processes with this grace time; SIGTERM to the one running the exchange. */
  async function sigtermMidAnswer(conversationId: number, shutdownGraceMs: number) {
    const workers = workerProcesses({
      ...stack.config,
      worker: { ...stack.config.worker, shutdownGraceMs },
    });
    sets.push(workers);
    const children = await Promise.all([workers.startReady(), workers.startReady()]);
    const posted = () => stack.chatwoot.messages(stack.accountId, conversationId);
    try {
      const { json } = await stack.sendMessage({ conversationId, content: 'deploy' });
      const workflowId = json.workflowId as string;
      await stack.chatwoot.waitFor(() => posted().length >= 1, {
        timeoutMs: 30_000,
        description: 'first reply posted before SIGTERM',
      });
      const exchanging = await exchangeWorker(workflowId, children);
      exchanging.kill('SIGTERM');
      const [exitCode] = (await once(exchanging, 'exit')) as [number | null];
      const report = await stack.result(workflowId);
      expect(posted().map((message) => message.content)).toEqual([
        'reply 1/3: deploy',
        'reply 2/3: deploy',
        'reply 3/3: deploy',
      ]);
      expect(new Set(posted().map((message) => bridgeMarkerOf(message))).size).toBe(3);
      expect(stack.chatwoot.typing(stack.accountId, conversationId).at(-1)).toBe('off');
      return { report, exitCode };
    } finally {
      // The next case starts its own pair on the same task queue.
      workers.killAll();
    }
  }

  /** The worker process whose agent worker runs the delivery's exchange (identity `pid@host`). */
  async function exchangeWorker(workflowId: string, children: ChildProcess[]) {
    let identity = '';
    await eventually(
      async () => {
        const { raw } = await stack.temporal.workflow.getHandle(workflowId).describe();
        identity = raw.pendingActivities?.[0]?.lastWorkerIdentity ?? '';
        return identity !== '';
      },
      { description: 'the exchange activity started on a worker' },
    );
    const child = children.find((candidate) => identity.startsWith(`${candidate.pid}@`));
    expect(child, `worker ${identity} is one of the test's processes`).toBeDefined();
    return child as ChildProcess;
  }

  it('an answer that fits the grace time reaches Chatwoot once, complete, in one attempt', async () => {
    const { report, exitCode } = await sigtermMidAnswer(901, 20_000);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts).toEqual([expect.objectContaining({ outcome: 'completed' })]);
    expect(exitCode).toBe(0);
  }, 90_000);

  it('an answer cut by the end of the grace time is a worker loss: resumed, never handed off', async () => {
    const { report } = await sigtermMidAnswer(902, 200);
    expect(report.outcome).toBe('delivered');
    expect(report.attempts.length).toBe(2);
    expect(report.attempts[0]).toMatchObject({ outcome: 'failed' });
    expect(report.attempts[0]?.detail).toMatch(/shut/i);
    expect(report.attempts[1]).toMatchObject({ outcome: 'completed' });
  }, 90_000);
});

describe('worker.shutdownGraceMs', () => {
  const base = {
    chatwoot: { baseUrl: 'http://chatwoot.test', apiAccessToken: 'token' },
    agents: [{ id: 'echo', transport: 'ws', url: 'ws://agent.test' }],
  };

  it('defaults to 30 s and names what to fix', () => {
    expect(parseConfig(base).worker.shutdownGraceMs).toBe(30_000);
    expect(() => parseConfig({ ...base, worker: { shutdownGraceMs: -1 } })).toThrow(
      /worker\.shutdownGraceMs/,
    );
    expect(() => parseConfig({ ...base, worker: { shutdownGraceMs: 7_200_000 } })).toThrow(
      /at most 3600000 ms/,
    );
  });
});
