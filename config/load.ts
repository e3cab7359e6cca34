import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { bridgeConfigSchema, type BridgeConfig } from './schema.js';
import { unknownKeys, type UnknownKey } from './schemaKeys.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Every environment variable the configuration reads (deployment files may set only these). */
export const CONFIG_ENV_VARS = [
  'BRIDGE_CONFIG',
  'CHATWOOT_BASE_URL',
  'CHATWOOT_API_TOKEN',
  'CHATWOOT_WEBHOOK_SECRET',
  'PORT',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_TASK_QUEUE',
] as const;

/**
 * Reads `BRIDGE_CONFIG` (a JSON file), applies the environment overrides and validates the
 * result. Keys the schema does not know are accepted but each gets a warning naming the
 * closest known key, so a misspelt setting does not go unnoticed.
 */
export function loadConfig(
  env: Env = process.env,
  warn: (message: string) => void = (message) => console.warn(message),
): BridgeConfig {
  const path = env.BRIDGE_CONFIG;
  if (!path) {
    throw new ConfigError(
      'BRIDGE_CONFIG is not set: point it at a JSON configuration file (see README, "Configuration").',
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`BRIDGE_CONFIG=${path} cannot be read: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`BRIDGE_CONFIG=${path} is not valid JSON: ${(error as Error).message}`);
  }
  const config = parseConfig(raw, env, path);
  for (const key of unknownKeys(raw, bridgeConfigSchema)) warn(unknownKeyWarning(path, key));
  return config;
}

export function unknownKeyWarning(source: string, key: UnknownKey): string {
  return `${source}: unknown configuration key "${key.path}" is ignored${key.closest ? ` (did you mean "${key.closest}"?)` : ''}`;
}

/**
 * `npm run api` and `npm run worker` serve production: without webhook secrets anyone who can
 * reach `/webhook/chatwoot` could start deliveries, so they refuse to start unless the
 * configuration says that is meant (`webhook.allowUnsigned: true`).
 */
export function requireWebhookSecrets(config: BridgeConfig, processName: string): void {
  if (config.webhook.secrets.length > 0 || config.webhook.allowUnsigned) return;
  throw new ConfigError(
    `${processName}: no webhook secret configured, so anyone could post webhooks. Set webhook.secrets ` +
      '(or CHATWOOT_WEBHOOK_SECRET), or set webhook.allowUnsigned: true to accept unsigned webhooks on purpose.',
  );
}

/** Validates a configuration object; environment variables win over the file. */
export function parseConfig(raw: unknown, env: Env = {}, source = 'configuration'): BridgeConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${source}: the top level must be a JSON object`);
  }
  const merged = applyEnvOverrides(structuredClone(raw) as Record<string, unknown>, env);
  const result = bridgeConfigSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(`${source} is invalid:\n${formatIssues(result.error)}`);
  }
  return result.data;
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `  - ${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('\n');
}

function section(raw: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = raw[key];
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return value as Record<string, unknown>;
  }
  const created: Record<string, unknown> = {};
  raw[key] = created;
  return created;
}

function applyEnvOverrides(raw: Record<string, unknown>, env: Env): Record<string, unknown> {
  if (env.CHATWOOT_BASE_URL) section(raw, 'chatwoot').baseUrl = env.CHATWOOT_BASE_URL;
  if (env.CHATWOOT_API_TOKEN) section(raw, 'chatwoot').apiAccessToken = env.CHATWOOT_API_TOKEN;
  if (env.CHATWOOT_WEBHOOK_SECRET) {
    const secrets = env.CHATWOOT_WEBHOOK_SECRET.split(',')
      .map((secret) => secret.trim())
      .filter(Boolean);
    // A blank value must not silently switch signature checks off.
    if (secrets.length === 0) {
      throw new ConfigError(
        'CHATWOOT_WEBHOOK_SECRET is set but holds no secret; unset it or give one',
      );
    }
    section(raw, 'webhook').secrets = secrets;
  }
  const operatorKeys = keyList(env, 'BRIDGE_OPERATOR_KEYS');
  if (operatorKeys) section(raw, 'api').operatorKeys = operatorKeys;
  const apiKeys = keyList(env, 'BRIDGE_API_KEYS');
  if (apiKeys) section(raw, 'api').keys = apiKeys;
  if (env.PORT) {
    if (!/^\d+$/.test(env.PORT.trim())) {
      throw new ConfigError(`PORT must be a decimal port number, got "${env.PORT}"`);
    }
    section(raw, 'http').port = Number(env.PORT);
  }
  if (env.TEMPORAL_ADDRESS) section(raw, 'temporal').address = env.TEMPORAL_ADDRESS;
  if (env.TEMPORAL_NAMESPACE) section(raw, 'temporal').namespace = env.TEMPORAL_NAMESPACE;
  if (env.TEMPORAL_TASK_QUEUE) section(raw, 'temporal').taskQueue = env.TEMPORAL_TASK_QUEUE;
  if (env.BRIDGE_ENCRYPTION_KEYS) {
    section(raw, 'temporal').encryption = encryptionFromEnv(env.BRIDGE_ENCRYPTION_KEYS);
  }
  return raw;
}

/**
 * `BRIDGE_ENCRYPTION_KEYS=id:base64key[,id:base64key...]`, the current key first: the
 * environment's way to give `temporal.encryption` (it replaces the file's).
 */
function encryptionFromEnv(value: string): Record<string, unknown> {
  const keys = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const colon = item.indexOf(':');
      if (colon <= 0) {
        throw new ConfigError(
          'BRIDGE_ENCRYPTION_KEYS: write each key as id:base64key, comma-separated, the current key first',
        );
      }
      return { id: item.slice(0, colon), key: item.slice(colon + 1) };
    });
  if (keys.length === 0) {
    throw new ConfigError('BRIDGE_ENCRYPTION_KEYS is set but holds no key; unset it or give one');
  }
  return { keys, currentKeyId: keys[0]?.id };
}

/** A comma-separated list of keys from the environment; set but empty is a mistake. */
function keyList(env: Env, name: string): string[] | undefined {
  const value = env[name];
  if (!value) return undefined;
  const keys = value
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  if (keys.length === 0)
    throw new ConfigError(`${name} is set but holds no key; unset it or give one`);
  return keys;
}

/** A configuration mistake ends the process with its message, not a stack trace. */
export function configOrExit(read: () => BridgeConfig): BridgeConfig {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
