import type { Logger as SdkLogger, LogLevel, LogMetadata } from '@temporalio/common';
import {
  pino,
  stdSerializers,
  type DestinationStream,
  type Logger,
  type LoggerOptions,
} from 'pino';
import type { BridgeConfig } from '../config/schema.js';

/**
 * Where secrets may sit in a log line's fields: request headers, and the names the bridge and
 * its agents give credentials. Values elsewhere are caught by the scrubber below.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.api_access_token',
  'req.headers["x-api-key"]',
  'req.headers["x-chatwoot-signature"]',
  'headers.authorization',
  'headers.api_access_token',
  'headers["x-api-key"]',
  ...[
    'authorization',
    'api_access_token',
    'apiAccessToken',
    'apiKey',
    'accessToken',
    'token',
    'secret',
    'secrets',
    'password',
  ].flatMap((key) => [key, `*.${key}`]),
];

/** Secrets shorter than this are not scrubbed by value (they would blank ordinary words). */
const MIN_SCRUBBED_LENGTH = 8;

/**
 * Every credential a configuration holds: webhook secrets, API and operator keys, Chatwoot's
 * token, AIWM secrets, pull-agent keys, ws agent header values and URL passwords.
 */
export function configuredSecrets(config: BridgeConfig): string[] {
  const urlPassword = (url: string | undefined) => {
    try {
      return url ? decodeURIComponent(new URL(url).password) : '';
    } catch {
      return '';
    }
  };
  const fromAgents = config.agents.flatMap((agent) => {
    switch (agent.transport) {
      case 'socketio':
        return [agent.secret, urlPassword(agent.apiBase), urlPassword(agent.url)];
      case 'pull':
        return [agent.apiKey];
      case 'ws':
        return [...Object.values(agent.headers), urlPassword(agent.url)];
    }
  });
  return [
    ...config.webhook.secrets,
    config.chatwoot.apiAccessToken,
    config.chatwoot.actionsApiAccessToken,
    ...config.api.keys,
    ...config.api.operatorKeys,
    ...config.api.metricsKeys,
    ...config.api.codec.keys,
    ...(config.temporal.encryption?.keys.map((entry) => entry.key) ?? []),
    urlPassword(config.chatwoot.baseUrl),
    config.temporal.apiKey,
    config.temporal.tls?.clientKeyData,
    ...fromAgents,
  ].filter((secret): secret is string => typeof secret === 'string' && secret.length > 0);
}

/**
 * Replaces every configured secret, as written and as JSON escapes it, in a finished log line:
 * the last guard, whatever field or message a secret ended up in. Secrets of every
 * configuration seen are kept, so a rotated-out secret still logged by older work is caught.
 */
export class SecretScrubber {
  readonly #known = new Set<string>();
  #seen: BridgeConfig | undefined;
  #pattern: RegExp | undefined;

  constructor(private readonly current: () => BridgeConfig | undefined) {}

  scrub(line: string): string {
    const config = this.current();
    if (config && config !== this.#seen) {
      this.#seen = config;
      for (const secret of configuredSecrets(config)) {
        if (secret.length < MIN_SCRUBBED_LENGTH) continue;
        this.#known.add(secret);
        this.#known.add(JSON.stringify(secret).slice(1, -1));
        this.#known.add(encodeURIComponent(secret));
      }
      const alternatives = [...this.#known]
        .sort((a, b) => b.length - a.length)
        .map((secret) => secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      this.#pattern = alternatives.length ? new RegExp(alternatives.join('|'), 'g') : undefined;
    }
    return this.#pattern ? line.replace(this.#pattern, '[redacted]') : line;
  }
}

/** pino options every logger of the bridge shares: field redaction and the secret scrubber. */
export function redactingOptions(current?: () => BridgeConfig | undefined): LoggerOptions {
  const scrubber = current ? new SecretScrubber(current) : undefined;
  return {
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(scrubber ? { hooks: { streamWrite: (line: string) => scrubber.scrub(line) } } : {}),
  };
}

/**
 * One JSON object per line on stdout, the same format the API's Fastify logger writes, so the
 * API and the worker can be shipped and queried alike. `secretsFrom` (the configuration in
 * force) lets the logger scrub configured secrets from every line.
 */
export function createJsonLogger(
  options: {
    name?: string;
    level?: string;
    destination?: DestinationStream;
    secretsFrom?: () => BridgeConfig | undefined;
  } = {},
): Logger {
  return pino(
    {
      name: options.name ?? 'chatwoot-bridge',
      level: options.level ?? 'info',
      ...redactingOptions(options.secretsFrom),
    },
    options.destination,
  );
}

/** How an app logs: `true` (stdout), pino options (e.g. a test's `stream`), or `false`. */
export type ApiLoggerSetting = boolean | (LoggerOptions & { stream?: DestinationStream });

/** The path of a request URL: query strings carry `?token=` secrets and never reach the log. */
export function pathOnly(url: string | undefined): string {
  return (url ?? '').split('?')[0] ?? '';
}

/**
 * Fastify's logger options: the shared redaction, and a request serializer that logs the
 * method, the path without its query string, and the client's address (no headers).
 */
export function apiLoggerOptions(
  setting: ApiLoggerSetting,
  current: () => BridgeConfig | undefined,
): false | (LoggerOptions & { stream?: DestinationStream }) {
  if (setting === false) return false;
  const given = setting === true ? {} : setting;
  return {
    ...redactingOptions(current),
    ...given,
    serializers: {
      req: (request: {
        method?: string;
        url?: string;
        hostname?: string;
        ip?: string;
        socket?: { remotePort?: number };
      }) => ({
        method: request.method,
        url: pathOnly(request.url),
        host: request.hostname,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
      ...given.serializers,
    },
  };
}

const PINO_LEVELS = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
} as const satisfies Record<LogLevel, string>;

/**
 * The Temporal SDK's `Logger`, written through pino: the SDK's own messages, the Rust core's
 * (forwarded), and what workflows and activities log through their context loggers.
 */
export class TemporalJsonLogger implements SdkLogger {
  constructor(private readonly logger: Logger) {}

  log(level: LogLevel, message: string, meta: LogMetadata = {}): void {
    this.logger[PINO_LEVELS[level]](logFields(meta), message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * The SDK's attributes (workflow and activity loggers carry `workflowId`), plus the Chatwoot
 * conversation the workflow is about, so every line about a message can be found by it.
 * Symbol keys (the SDK's internal timestamp) and task tokens are dropped; errors keep their
 * message and stack.
 */
export function logFields(meta: LogMetadata): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    // An activity's task token lets its holder complete the activity: not for log storage.
    if (key === 'taskToken') continue;
    fields[key] = value instanceof Error ? stdSerializers.err(value) : value;
  }
  if (typeof meta.workflowId === 'string') Object.assign(fields, conversationOf(meta.workflowId));
  return fields;
}

/**
 * Chatwoot ids from the bridge's workflow ids: `message:{account}:{conversation}:{message}`
 * (workflows/shared.ts `messageWorkflowId`) and `conversation:{account}:{conversation}`.
 */
export function conversationOf(workflowId: string): {
  accountId?: number;
  conversationId?: number;
  messageId?: number;
} {
  const [kind, ...ids] = workflowId.split(':');
  if (kind !== 'message' && kind !== 'conversation') return {};
  const [accountId, conversationId, messageId] = ids.map((id) =>
    /^\d+$/.test(id) ? Number(id) : undefined,
  );
  return {
    ...(accountId !== undefined ? { accountId } : {}),
    ...(conversationId !== undefined ? { conversationId } : {}),
    ...(kind === 'message' && messageId !== undefined ? { messageId } : {}),
  };
}
