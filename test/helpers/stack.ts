import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { inject } from 'vitest';
import { buildApp } from '../../api/app.js';
import { parseConfig } from '../../config/load.js';
import type { BridgeConfig } from '../../config/schema.js';
import {
  messageCreatedPayload,
  signWebhook,
  type MessageOptions,
} from '../../sandbox/chatwootWebhooks.js';
import { FakeChatwoot } from '../../sandbox/fakeChatwoot.js';
import { startMockAgent, type MockAgentServer } from '../../sandbox/mockAgents.js';
import { createBridgeWorker, type BridgeWorker } from '../../workers/worker.js';
import type { DeliveryReport } from '../../workflows/shared.js';

export const WEBHOOK_SECRET = 'test-webhook-secret';
export const API_TOKEN = 'test-token';

/**
 * A mock agent behaviour path (`'multi?count=3'`; under `unified/` the unified protocol), or
 * an object: `path` plus config overrides for that agent (`{ transport: 'pull', apiKey }` needs
 * no path).
 */
export type StackAgent = string | ({ path?: string } & Record<string, unknown>);

export interface StackOptions {
  /** Agent id → mock agent, e.g. `{ echo: 'echo', multi: 'multi?count=3', u: 'unified/echo' }`. */
  agents?: Record<string, StackAgent>;
  /** Inbox id → agent id. */
  routes?: Record<number, string>;
  delivery?: Partial<BridgeConfig['delivery']>;
  agentTimeouts?: Partial<
    Pick<
      BridgeConfig['agents'][number],
      'connectTimeoutMs' | 'replyTimeoutMs' | 'idleTimeoutMs' | 'totalTimeoutMs' | 'maxResponses'
    >
  >;
  /** Start without an in-process worker (a test may run its own, e.g. in a child process). */
  worker?: boolean;
}

/** Fast, real-time friendly defaults: retries in milliseconds instead of seconds. */
export const fastDelivery: Partial<BridgeConfig['delivery']> = {
  agentRetryWindowMs: 4_000,
  agentRetryInitialIntervalMs: 100,
  agentRetryMaxIntervalMs: 500,
  exchangeHeartbeatTimeoutMs: 2_000,
  chatwootRetryWindowMs: 20_000,
  chatwootRetryInitialIntervalMs: 50,
  chatwootRetryMaxIntervalMs: 200,
  chatwootRequestTimeoutMs: 1_000,
};

/**
 * A whole bridge on loopback: the suite's Temporal dev server, a worker on its own task queue,
 * the HTTP app, a fake Chatwoot and a mock agent server.
 */
export async function startStack(options: StackOptions = {}) {
  quietSdkLogs();
  const chatwoot = await FakeChatwoot.start({ apiAccessToken: API_TOKEN });
  const agentServer: MockAgentServer = await startMockAgent();
  const agents = options.agents ?? { echo: 'echo' };
  const routes = options.routes ?? { 7: Object.keys(agents)[0] as string };
  const address = inject('temporalAddress');
  const config = parseConfig({
    chatwoot: { baseUrl: chatwoot.url, apiAccessToken: API_TOKEN },
    webhook: { secrets: [WEBHOOK_SECRET] },
    agents: Object.entries(agents).map(([id, spec]) => {
      const { path = '', ...overrides } = typeof spec === 'string' ? { path: spec } : spec;
      return {
        id,
        ...(overrides.transport === 'pull'
          ? {}
          : {
              transport: 'ws',
              protocol: path.startsWith('unified/') ? 'unified' : 'bridge-v1',
              url: agentServer.url(path),
            }),
        connectTimeoutMs: 1_000,
        replyTimeoutMs: 3_000,
        idleTimeoutMs: 3_000,
        totalTimeoutMs: 10_000,
        maxResponses: 5,
        ...options.agentTimeouts,
        ...overrides,
      };
    }),
    routes: Object.entries(routes).map(([inboxId, agentId]) => ({
      inboxId: Number(inboxId),
      agentId,
    })),
    delivery: { ...fastDelivery, ...options.delivery },
    temporal: { address, taskQueue: `test-${randomUUID()}` },
  });

  const connection = await Connection.connect({ address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const app = buildApp({ config, temporal, logger: false });

  let bridgeWorker: BridgeWorker | undefined;
  if (options.worker !== false) {
    bridgeWorker = await createBridgeWorker({
      config,
      address,
      workflowBundlePath: inject('workflowBundlePath'),
    });
    void bridgeWorker.run();
  }

  let nextMessageId = Math.floor(Math.random() * 1_000_000) * 100;

  return {
    config,
    chatwoot,
    agentServer,
    temporal,
    app,
    bridgeWorker,
    /** Posts a signed `message_created` webhook through the real HTTP app (in-process). */
    async sendMessage(
      message: MessageOptions = {},
      sign: { secret?: string; timestamp?: number } = {},
    ) {
      const payload = messageCreatedPayload({
        messageId: (nextMessageId += 1),
        inboxId: 7,
        ...message,
      });
      const body = JSON.stringify(payload);
      const response = await app.inject({
        method: 'POST',
        url: '/webhook/chatwoot',
        headers: {
          'content-type': 'application/json',
          ...signWebhook(body, sign.secret ?? WEBHOOK_SECRET, sign.timestamp),
        },
        payload: body,
      });
      return { payload, response, json: response.json<Record<string, unknown>>() };
    },
    async result(workflowId: string): Promise<DeliveryReport> {
      return temporal.workflow.getHandle(workflowId).result() as Promise<DeliveryReport>;
    },
    async stop() {
      await bridgeWorker?.shutdown();
      await app.close();
      await connection.close();
      await agentServer.close();
      await chatwoot.close();
    },
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

let runtimeInstalled = false;
/** The SDK logs every worker state change at INFO; tests only want errors. */
function quietSdkLogs(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}
