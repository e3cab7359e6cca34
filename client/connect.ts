import { Client } from '@temporalio/client';
import type { BridgeConfig } from '../config/schema.js';
import { connectClient, resolveTemporalConnection } from '../temporal/connection.js';

/**
 * A Temporal client for the typed client functions (e.g. sendProactiveMessage), connected the
 * way the bridge's own processes are: temporal.toml profile, BRIDGE_CONFIG's `temporal`
 * section, TEMPORAL_* variables. Close it with `client.connection.close()`.
 */
export async function connectBridgeClient(
  config: BridgeConfig,
  env: Record<string, string | undefined> = process.env,
): Promise<Client> {
  const settings = resolveTemporalConnection(config, env);
  const connection = await connectClient(settings);
  return new Client({ connection, namespace: settings.namespace });
}
