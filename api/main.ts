import { pathToFileURL } from 'node:url';
import { Client } from '@temporalio/client';
import { LiveConfig, reloadOnHangup } from '../config/live.js';
import { configOrExit, loadConfig, requireWebhookSecrets } from '../config/load.js';
import type { BridgeConfig } from '../config/schema.js';
import { bridgeDataConverter } from '../codec/dataConverter.js';
import { ApiMetrics } from '../observability/metrics.js';
import { tracingOrExit, type Tracing } from '../observability/tracing.js';
import {
  lazyClient,
  plainConnection,
  resolveTemporalConnection,
  type TemporalConnectionSettings,
} from '../temporal/connection.js';
import { checkNamespaceInBackground } from '../temporal/namespace.js';
import { buildApp, type AppDeps } from './app.js';

/** Runs the HTTP API against a Temporal cluster. Connects lazily so it starts even while Temporal is down. */
export async function startApi(
  config: BridgeConfig,
  /** An address (plain TCP) or the settings of temporal/connection.ts. */
  temporalAt: string | TemporalConnectionSettings,
  live: LiveConfig = new LiveConfig(config),
  options: Pick<AppDeps, 'extraMetrics'> & { tracing?: Tracing } = {},
) {
  const { tracing, ...appOptions } = options;
  const settings =
    typeof temporalAt === 'string'
      ? plainConnection(temporalAt, config.temporal.namespace)
      : temporalAt;
  const connection = lazyClient(settings);
  const temporal = new Client({
    connection,
    namespace: settings.namespace,
    dataConverter: bridgeDataConverter(config),
    ...(tracing ? { interceptors: tracing.clientInterceptors } : {}),
  });
  // The process's CPU and memory series come with the API's registry (one per process).
  const metrics = new ApiMetrics({ processMetrics: true });
  const app = buildApp({ config, temporal, live, metrics, tracer: tracing?.tracer, ...appOptions });
  await app.listen({ port: config.http.port, host: config.http.host });
  return {
    app,
    async close() {
      await app.close();
      await connection.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = configOrExit(() => {
    const loaded = loadConfig();
    requireWebhookSecrets(loaded, 'npm run api');
    return loaded;
  });
  const live = new LiveConfig(config);
  reloadOnHangup(live, 'api');
  const connection = resolveTemporalConnection(config);
  checkNamespaceInBackground(connection);
  const tracing = tracingOrExit();
  const api = await startApi(config, connection, live, { tracing });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(
      signal,
      () =>
        void api.close().then(async () => {
          await tracing?.shutdown();
          process.exit(0);
        }),
    );
  }
}
