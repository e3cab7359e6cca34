// How every process of the bridge (worker, API, CLI, typed client) reaches Temporal: Temporal's
// own client configuration (`temporal.toml` profiles, TEMPORAL_* variables, read by
// @temporalio/envconfig) plus the same keys in BRIDGE_CONFIG's `temporal` section.
import { readFileSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow/index.js';
import {
  loadClientConfigProfile,
  type ClientConfigProfile,
  type ClientConfigTLS,
} from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import type { BridgeConfig } from '../config/schema.js';
import { closeSafeRetryInterceptor } from './closeSafeRetry.js';

type Env = Record<string, string | undefined>;

/** Everything a connection needs; `apiKey` and key material stay out of logs (see describe). */
export interface TemporalConnectionSettings {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?: TLSConfig | boolean;
  metadata?: Record<string, string>;
}

export class TemporalConnectionError extends Error {}

const DEFAULT_ADDRESS = 'localhost:7233';

/**
 * The connection settings in force, lowest precedence first: the `temporal.toml` profile
 * (TEMPORAL_PROFILE or temporal.profile), BRIDGE_CONFIG's `temporal` section, then Temporal's
 * environment variables. A namespace left at "default" in BRIDGE_CONFIG takes the profile's.
 */
export function resolveTemporalConnection(
  config: BridgeConfig,
  env: Env = process.env,
): TemporalConnectionSettings {
  const vars = definedOnly(env);
  const bridge = config.temporal;
  let fromFile: ClientConfigProfile;
  let fromEnv: ClientConfigProfile;
  try {
    const profile = bridge.profile ?? vars.TEMPORAL_PROFILE;
    const configFile = bridge.configFile ?? vars.TEMPORAL_CONFIG_FILE;
    fromFile = loadClientConfigProfile({
      profile,
      configSource: configFile ? { path: configFile } : undefined,
      disableEnv: true,
      overrideEnvVars: vars,
    });
    fromEnv = loadClientConfigProfile({ disableFile: true, overrideEnvVars: vars });
  } catch (error) {
    throw new TemporalConnectionError(
      `Temporal client configuration (temporal.toml / TEMPORAL_* variables) is invalid: ${message(error)}`,
    );
  }

  const tls = mergeTls(fromFile.tls, bridgeTls(config), fromEnv.tls);
  const apiKey = fromEnv.apiKey ?? bridge.apiKey ?? fromFile.apiKey;
  const settings: TemporalConnectionSettings = {
    address: fromEnv.address ?? bridge.address ?? fromFile.address ?? DEFAULT_ADDRESS,
    namespace:
      fromEnv.namespace ??
      (bridge.namespace !== 'default' ? bridge.namespace : undefined) ??
      fromFile.namespace ??
      'default',
    ...(apiKey ? { apiKey } : {}),
    metadata: { ...fromFile.grpcMeta, ...fromEnv.grpcMeta },
  };
  // An API key means TLS, as Temporal's own clients do, unless TLS is explicitly off.
  const tlsConfig = toTls(tls);
  if (tlsConfig !== undefined) settings.tls = tlsConfig;
  else if (apiKey) settings.tls = true;
  return settings;
}

/** The settings for an address picked by the bridge itself (the embedded dev server). */
export function plainConnection(address: string, namespace: string): TemporalConnectionSettings {
  return { address, namespace };
}

/** One line for logs: where, which namespace, how it authenticates. Never the key itself. */
export function describeConnection(settings: TemporalConnectionSettings): string {
  const tls = settings.tls;
  const how =
    tls === undefined || tls === false
      ? 'plain TCP'
      : tls === true
        ? 'TLS'
        : tls.clientCertPair
          ? 'mTLS'
          : tls.serverRootCACertificate
            ? 'TLS (own CA)'
            : 'TLS';
  return `${settings.address} namespace "${settings.namespace}", ${how}${settings.apiKey ? ', API key' : ''}`;
}

/** A client connection (API, CLI, typed client, the worker's own client calls). */
export async function connectClient(
  settings: TemporalConnectionSettings,
  options: { connectTimeoutMs?: number } = {},
): Promise<Connection> {
  return Connection.connect({
    ...clientOptions(settings),
    interceptors: [closeSafeRetryInterceptor()],
    ...(options.connectTimeoutMs ? { connectTimeout: options.connectTimeoutMs } : {}),
  });
}

/** A client connection that connects on first use, so a process starts while Temporal is down. */
export function lazyClient(settings: TemporalConnectionSettings): Connection {
  return Connection.lazy({
    ...clientOptions(settings),
    interceptors: [closeSafeRetryInterceptor()],
  });
}

/** The connection a worker polls on. */
export function connectWorker(settings: TemporalConnectionSettings): Promise<NativeConnection> {
  return NativeConnection.connect(clientOptions(settings));
}

function clientOptions(settings: TemporalConnectionSettings) {
  return {
    address: settings.address,
    ...(settings.tls !== undefined ? { tls: settings.tls } : {}),
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
    ...(settings.metadata && Object.keys(settings.metadata).length > 0
      ? { metadata: settings.metadata }
      : {}),
  };
}

function bridgeTls(config: BridgeConfig): ClientConfigTLS | undefined {
  const tls = config.temporal.tls;
  if (!tls) return undefined;
  const source = (path?: string, data?: string) => (path ? { path } : data ? { data } : undefined);
  return {
    disabled: !tls.enabled,
    serverName: tls.serverName,
    serverCACert: source(tls.serverCaCertPath, tls.serverCaCertData),
    clientCert: source(tls.clientCertPath, tls.clientCertData),
    clientKey: source(tls.clientKeyPath, tls.clientKeyData),
  };
}

/** Later sources win key by key; a source that says nothing about TLS changes nothing. */
function mergeTls(...sources: (ClientConfigTLS | undefined)[]): ClientConfigTLS | undefined {
  let merged: ClientConfigTLS | undefined;
  for (const source of sources) {
    if (!source) continue;
    merged = { ...merged };
    for (const [key, value] of Object.entries(source) as [keyof ClientConfigTLS, never][]) {
      if (value !== undefined) merged[key] = value;
    }
  }
  return merged;
}

function toTls(tls: ClientConfigTLS | undefined): TLSConfig | boolean | undefined {
  if (!tls) return undefined;
  if (tls.disabled) return false;
  return {
    ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    ...(tls.serverCACert ? { serverRootCACertificate: read(tls.serverCACert, 'server CA') } : {}),
    ...(tls.clientCert && tls.clientKey
      ? {
          clientCertPair: {
            crt: read(tls.clientCert, 'client certificate'),
            key: read(tls.clientKey, 'client key'),
          },
        }
      : {}),
  };
}

function read(source: NonNullable<ClientConfigTLS['clientCert']>, what: string): Buffer {
  if ('data' in source) return Buffer.from(source.data);
  try {
    return readFileSync(source.path);
  } catch (error) {
    throw new TemporalConnectionError(
      `cannot read the Temporal TLS ${what} at ${source.path}: ${message(error)}`,
    );
  }
}

/** An empty variable counts as unset (`TEMPORAL_ADDRESS=` in a compose file or shell). */
function definedOnly(env: Env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => Boolean(entry[1])),
  );
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
