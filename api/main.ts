import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { LiveConfig, reloadOnHangup } from '../config/live.js';
import { loadConfig } from '../config/load.js';
import type { BridgeConfig } from '../config/schema.js';
import { buildApp } from './app.js';

/** Runs the HTTP API against a Temporal cluster. Connects lazily so it starts even while Temporal is down. */
export async function startApi(
  config: BridgeConfig,
  address: string,
  live: LiveConfig = new LiveConfig(config),
) {
  const connection = Connection.lazy({ address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const app = buildApp({ config, temporal, live });
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
  const config = loadConfig();
  const live = new LiveConfig(config);
  reloadOnHangup(live, 'api');
  const api = await startApi(config, config.temporal.address ?? 'localhost:7233', live);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void api.close().then(() => process.exit(0)));
  }
}
