import { fileURLToPath } from 'node:url';
import { startApi } from '../api/main.js';
import { LiveConfig, reloadOnHangup } from '../config/live.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { BridgeConfig } from '../config/schema.js';
import { createJsonLogger } from '../observability/logging.js';
import { installWorkerRuntime } from '../observability/runtime.js';
import { tracingOrExit } from '../observability/tracing.js';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  LOW_LATENCY_DYNAMIC_CONFIG,
  startDevServer,
  type DevServer,
} from './devServer.js';
import {
  plainConnection,
  resolveTemporalConnection,
  type TemporalConnectionSettings,
} from '../temporal/connection.js';
import { exitUnlessNamespaceReady } from '../temporal/namespace.js';
import { createBridgeWorker } from './worker.js';

/**
 * `npm start`: the whole bridge in one process. Without TEMPORAL_ADDRESS it runs an embedded
 * Temporal dev server (SQLite under .data/, so work survives a restart) with its web UI.
 */
const exampleConfig = fileURLToPath(new URL('../config/example.json', import.meta.url));

const configEnv = () => ({
  ...process.env,
  BRIDGE_CONFIG: process.env.BRIDGE_CONFIG ?? exampleConfig,
});

function readConfig(): BridgeConfig {
  if (!process.env.BRIDGE_CONFIG) {
    console.warn(
      `BRIDGE_CONFIG is not set: using ${exampleConfig} (an echo agent on ws://127.0.0.1:9001).`,
    );
  }
  try {
    return loadConfig(configEnv());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

const config = readConfig();
// The embedded dev mode warns only: it is for trying the bridge out, not for serving customers
// (`npm run api` and `npm run worker` refuse to start this way, see requireWebhookSecrets).
if (config.webhook.secrets.length === 0 && !config.webhook.allowUnsigned) {
  console.warn(
    'No webhook secret configured: anyone who can reach /webhook/chatwoot can start deliveries. ' +
      'Set webhook.secrets, or webhook.allowUnsigned: true to silence this (npm run api and npm run worker refuse to start without one of them).',
  );
}

let devServer: DevServer | undefined;
let connection: TemporalConnectionSettings;
if (!config.temporal.address) {
  devServer = await startDevServer({
    port: Number(process.env.TEMPORAL_DEV_PORT ?? 7233),
    uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
    dbFilename: process.env.TEMPORAL_DB_FILE ?? '.data/temporal.sqlite',
    namespace: config.temporal.namespace,
    searchAttributes: BRIDGE_SEARCH_ATTRIBUTES,
    dynamicConfig: LOW_LATENCY_DYNAMIC_CONFIG,
  });
  connection = plainConnection(devServer.address, config.temporal.namespace);
  console.log(
    `Embedded Temporal dev server on ${devServer.address}; web UI: ${devServer.uiUrl ?? '(none)'}`,
  );
} else {
  // An external cluster: read only, like npm run worker (npm run setup creates what is missing).
  connection = resolveTemporalConnection(config);
  await exitUnlessNamespaceReady(connection);
}
const address = connection.address;

// One holder for both halves: a reload (HTTP endpoint or SIGHUP) reaches the worker's agents too.
const live = new LiveConfig(config, () => loadConfig(configEnv()));
installWorkerRuntime(
  config,
  createJsonLogger({ name: 'chatwoot-bridge-worker', secretsFrom: () => live.current() }),
);
reloadOnHangup(live, 'bridge');
// OTEL_* variables: one trace from the webhook request through the workflows and activities.
const tracing = tracingOrExit();
const worker = await createBridgeWorker({ config, address, connection, live, tracing });
const running = worker.run();
// One process, one scrape: the API's /metrics also serves the worker's registry.
const api = await startApi(config, connection, live, {
  extraMetrics: [worker.metrics.registry],
  tracing,
});
console.log(
  `Bridge ready: POST http://${config.http.host}:${config.http.port}/webhook/chatwoot → task queue "${config.temporal.taskQueue}"`,
);

// The SDK already stops the worker on SIGINT/SIGTERM; close the rest once it has drained.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await api.close();
      await worker.shutdown();
      await devServer?.stop();
      await tracing?.shutdown();
      process.exit(0);
    })();
  });
}
await running;
