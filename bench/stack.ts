import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, type WorkerOptions } from '@temporalio/worker';
import { buildApp } from '../api/app.js';
import { parseConfig } from '../config/load.js';
import { FakeChatwoot } from '../sandbox/fakeChatwoot.js';
import { startMockAgent } from '../sandbox/mockAgents.js';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  LOW_LATENCY_DYNAMIC_CONFIG,
  startDevServer,
} from '../workers/devServer.js';
import { createBridgeWorker } from '../workers/worker.js';
import { startDirectBridge } from './directBridge.js';

export const WEBHOOK_SECRET = 'bench-webhook-secret';
export const INBOX_ID = 7;
const API_TOKEN = 'bench-token';

export interface StackSettings {
  workerOptions: Partial<WorkerOptions>;
  dynamicConfig: Record<string, string | number | boolean>;
}

/**
 * Everything both paths need, started once: Temporal dev server, fake Chatwoot, echo agent,
 * the bridge (API on a loopback port + in-process worker) and the direct baseline.
 * Delivery and worker settings are the production defaults unless an experiment overrides them.
 */
export async function startBenchStack(settings: StackSettings) {
  // Before any worker or native connection exists, or the SDK logs every state change.
  Runtime.install({ logger: new DefaultLogger('WARN') });

  const [server, chatwoot, agentServer] = await Promise.all([
    startDevServer({
      ui: false,
      searchAttributes: BRIDGE_SEARCH_ATTRIBUTES,
      // The same server tuning `npm start` uses; experiments may add or override values.
      dynamicConfig: { ...LOW_LATENCY_DYNAMIC_CONFIG, ...settings.dynamicConfig },
    }),
    FakeChatwoot.start({ apiAccessToken: API_TOKEN }),
    startMockAgent(),
  ]);
  const stops: Array<() => Promise<void>> = [
    () => server.stop(),
    () => chatwoot.close(),
    () => agentServer.close(),
  ];
  const stop = async () => {
    // Reverse start order: the bridge drains before its dependencies go away.
    for (const fn of stops.reverse()) await fn();
  };

  try {
    const config = parseConfig({
      chatwoot: { baseUrl: chatwoot.url, apiAccessToken: API_TOKEN },
      webhook: { secrets: [WEBHOOK_SECRET] },
      agents: [{ id: 'echo', transport: 'ws', url: agentServer.url('echo') }],
      routes: [{ inboxId: INBOX_ID, agentId: 'echo' }],
      temporal: { address: server.address, taskQueue: `bench-${randomUUID()}` },
    });

    const bridgeWorker = await createBridgeWorker({
      config,
      address: server.address,
      workerOptions: settings.workerOptions,
    });
    const running = bridgeWorker.run();
    stops.push(async () => {
      await bridgeWorker.shutdown();
      await running;
    });

    const connection = await Connection.connect({ address: server.address });
    stops.push(() => connection.close());
    const temporal = new Client({ connection, namespace: config.temporal.namespace });
    const api = buildApp({ config, temporal, logger: false });
    await api.listen({ host: '127.0.0.1', port: 0 });
    stops.push(() => api.close());

    const direct = await startDirectBridge(config);
    stops.push(() => direct.close());

    return {
      config,
      chatwoot,
      temporal,
      bridgeWebhookUrl: `${listenUrl(api.server.address())}/webhook/chatwoot`,
      direct,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export type BenchStack = Awaited<ReturnType<typeof startBenchStack>>;

function listenUrl(address: string | AddressInfo | null): string {
  if (typeof address !== 'object' || !address) throw new Error('API is not listening');
  return `http://127.0.0.1:${address.port}`;
}
