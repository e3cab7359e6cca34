import { Client, type Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { parseConfig } from '../config/load.js';
import { connectClient, plainConnection } from '../temporal/connection.js';
import { startStack, type Stack } from './helpers/stack.js';

/**
 * No worker polls `{taskQueue}-agents` (a deploy that forgot the agent workers, or all of them
 * gone): the exchange and the pull offer are never picked up. Their schedule-to-start bound
 * turns that into agent failures, so the delivery ends in the retry window and hands off.
 */
describe('agent-queue activities without an agent worker', () => {
  let stack: Stack;
  let worker: Worker;
  let running: Promise<void>;
  let connection: NativeConnection;
  let clientConnection: Connection;

  beforeAll(async () => {
    stack = await startStack({
      agents: { echo: 'echo', puller: { transport: 'pull', apiKey: 'puller-key-0123456789' } },
      routes: { 7: 'echo', 8: 'puller' },
      worker: false,
      delivery: {
        agentQueueScheduleToStartMs: 1_000,
        offerScheduleToCloseMs: 2_000,
        agentRetryWindowMs: 3_000,
        agentRetryInitialIntervalMs: 100,
        agentRetryMaxIntervalMs: 500,
      },
    });
    const address = inject('temporalAddress');
    connection = await NativeConnection.connect({ address });
    clientConnection = await connectClient(plainConnection(address, 'default'));
    const temporal = new Client({ connection: clientConnection });
    // The main queue only: workflows and Chatwoot calls, no agent activities anywhere.
    worker = await Worker.create({
      connection,
      namespace: stack.config.temporal.namespace,
      taskQueue: stack.config.temporal.taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: createActivities({ config: stack.config, temporal }).chatwoot,
    });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await clientConnection?.close();
    await connection?.close();
    await stack?.stop();
  });

  it.each([
    ['a socket agent (exchange)', 7, 951],
    ['a pull agent (offer)', 8, 952],
  ])(
    '%s: the delivery hands off within the retry window, typing off',
    async (_, inboxId, id) => {
      const { json } = await stack.sendMessage({
        conversationId: id,
        inboxId,
        content: 'anyone there?',
      });
      const report = await stack.result(json.workflowId as string);
      expect(report.outcome).toBe('handed_off');
      expect(report.reason).toMatch(/agent unavailable/);
      expect(report.reason).toContain(
        `is a worker polling "${stack.config.temporal.taskQueue}-agents"`,
      );
      expect(report.attempts.length).toBeGreaterThan(1);
      const messages = stack.chatwoot.messages(stack.accountId, id);
      expect(messages.map((message) => message.content)).toContain(
        stack.config.delivery.fallbackMessage,
      );
      expect(stack.chatwoot.status(stack.accountId, id)).toBe('open');
      expect(stack.chatwoot.typing(stack.accountId, id).at(-1)).toBe('off');
    },
    30_000,
  );
});

describe('agent-queue bounds configuration', () => {
  const base = {
    chatwoot: { baseUrl: 'http://chatwoot.test', apiAccessToken: 'token' },
    agents: [{ id: 'echo', transport: 'ws', url: 'ws://agent.test' }],
  };

  it('has defaults and refuses an offer bound shorter than the wait for a worker', () => {
    expect(parseConfig(base).delivery).toMatchObject({
      agentQueueScheduleToStartMs: 60_000,
      offerScheduleToCloseMs: 120_000,
    });
    expect(() =>
      parseConfig({
        ...base,
        delivery: { agentQueueScheduleToStartMs: 30_000, offerScheduleToCloseMs: 10_000 },
      }),
    ).toThrow(/offerScheduleToCloseMs.*at least delivery\.agentQueueScheduleToStartMs/);
    expect(() => parseConfig({ ...base, delivery: { agentQueueScheduleToStartMs: 10 } })).toThrow(
      /agentQueueScheduleToStartMs.*at least 1000 ms/,
    );
  });
});
