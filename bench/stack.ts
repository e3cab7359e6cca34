import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { bridgeDataConverter } from '../codec/dataConverter.js';
import { parseConfig } from '../config/load.js';
import { BridgeProcess } from '../sandbox/chaos/processes.js';
import { FakeChatwoot } from '../sandbox/fakeChatwoot.js';
import { startMockAgent } from '../sandbox/mockAgents.js';
import { buildWorkflowBundle } from '../workers/bundle.js';
import { freePort } from '../workers/devServer.js';
import { closeSafeRetryInterceptor } from '../temporal/closeSafeRetry.js';
import { startDirectBridge } from './directBridge.js';
import { startBenchTemporal, type ServerKind } from './temporalServer.js';

export const WEBHOOK_SECRET = 'bench-webhook-secret';
/** Routed to the echo agent (one reply). */
export const INBOX_ID = 7;
/** Routed to the `multi` agent: {@link MULTI_REPLIES} replies per message. */
export const MULTI_INBOX_ID = 8;
export const MULTI_REPLIES = 3;
const API_TOKEN = 'bench-token';

export interface StackSettings {
  server: ServerKind;
  /** Worker processes (`npm run worker`), each with both of the bridge's workers. */
  workers: number;
  /** Temporal server dynamic config over the bench's defaults. */
  dynamicConfig: Record<string, string | number | boolean>;
  /** Merged (deeply) into the bridge's configuration file: experiments with config keys. */
  config: Record<string, unknown>;
  /** V8 CPU profiles of the API and worker processes go here (unset: none). */
  cpuProfDir?: string;
}

/**
 * Everything the paths need, started once: a Temporal server (dev or cluster), the fake
 * Chatwoot and the mock agents in this process, the bridge as its production processes (one
 * `npm run api`, N `npm run worker`, from a config file) and the direct baseline in this process.
 * Delivery and worker settings are the production defaults unless an experiment overrides them.
 */
export async function startBenchStack(settings: StackSettings) {
  // Before any native connection exists, or the SDK logs every state change.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const runDir = mkdtempSync(join(tmpdir(), 'bridge-bench-'));
  const stops: Array<() => Promise<void>> = [() => rm(runDir, { recursive: true, force: true })];
  const stop = async () => {
    // Reverse start order: the bridge drains before its dependencies go away.
    for (const fn of stops.reverse()) await fn().catch((error: unknown) => console.error(error));
  };

  try {
    const [temporal, chatwoot, agentServer] = await Promise.all([
      startBenchTemporal(settings.server, settings.dynamicConfig),
      FakeChatwoot.start({ apiAccessToken: API_TOKEN }),
      startMockAgent(),
      // With its manifest: workers refuse a bundle whose sources they cannot check.
      buildWorkflowBundle(join(runDir, 'workflows.js')),
    ]);
    stops.push(
      () => temporal.stop(),
      () => chatwoot.close(),
      () => agentServer.close(),
    );

    const apiPort = await freePort();
    const raw = deepMerge(
      {
        chatwoot: { baseUrl: chatwoot.url, apiAccessToken: API_TOKEN },
        webhook: { secrets: [WEBHOOK_SECRET] },
        agents: [
          { id: 'echo', transport: 'ws', url: agentServer.url('echo') },
          { id: 'multi', transport: 'ws', url: agentServer.url(`multi?count=${MULTI_REPLIES}`) },
        ],
        routes: [
          { inboxId: INBOX_ID, agentId: 'echo' },
          { inboxId: MULTI_INBOX_ID, agentId: 'multi' },
        ],
        http: { port: apiPort, host: '127.0.0.1' },
        temporal: {
          address: temporal.address,
          namespace: temporal.namespace,
          taskQueue: `bench-${randomUUID()}`,
        },
        metrics: { workerPort: 0, temporalSdkPort: 0 },
      },
      settings.config,
    );
    const config = parseConfig(raw);
    const configPath = join(runDir, 'config.json');
    writeFileSync(configPath, JSON.stringify(raw, null, 2));

    const nodeArgs = settings.cpuProfDir
      ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`]
      : [];
    const api = new BridgeProcess({
      kind: 'api',
      nodeArgs,
      name: 'api',
      configPath,
      logPath: join(runDir, 'api.log'),
      healthUrl: `http://127.0.0.1:${apiPort}/health`,
      onUnexpectedExit: (code, signal) =>
        console.error(`api exited by itself (${signal ?? code}); see ${runDir}/api.log`),
    });
    const workers = Array.from(
      { length: settings.workers },
      (_, i) =>
        new BridgeProcess({
          kind: 'worker',
          name: `worker-${i + 1}`,
          nodeArgs,
          configPath,
          workflowBundlePath: join(runDir, 'workflows.js'),
          logPath: join(runDir, `worker-${i + 1}.log`),
          onUnexpectedExit: (code, signal) =>
            console.error(
              `worker-${i + 1} exited by itself (${signal ?? code}); see ${runDir}/worker-${i + 1}.log`,
            ),
        }),
    );
    stops.push(() => Promise.all([api, ...workers].map((process) => process.close())).then());
    await Promise.all([api.start(), ...workers.map((worker) => worker.start())]);

    const connection = await Connection.connect({
      ...temporal.connectionOptions,
      interceptors: [closeSafeRetryInterceptor()],
    });
    stops.push(() => connection.close());
    // The bridge's codec: queries and histories read what the bridge wrote.
    const client = new Client({
      connection,
      namespace: temporal.namespace,
      dataConverter: bridgeDataConverter(config),
    });

    const direct = await startDirectBridge(config);
    stops.push(() => direct.close());

    return {
      config,
      runDir,
      chatwoot,
      temporal,
      client,
      api,
      workers,
      bridgeWebhookUrl: `http://127.0.0.1:${apiPort}/webhook/chatwoot`,
      direct,
      /** Stops the bridge's processes (the floor runs without them) or starts them again. */
      async bridgeProcesses(up: boolean) {
        const all = [api, ...workers];
        await Promise.all(all.map((process) => (up ? process.start() : process.stop())));
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export type BenchStack = Awaited<ReturnType<typeof startBenchStack>>;

function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = merged[key];
    merged[key] =
      isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
