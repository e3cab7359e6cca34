import type { Logger as SdkLogger, LogLevel, LogMetadata } from '@temporalio/common';
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';

/**
 * One JSON object per line on stdout, the same format the API's Fastify logger writes, so the
 * API and the worker can be shipped and queried alike.
 */
export function createJsonLogger(
  options: { name?: string; level?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    { name: options.name ?? 'chatwoot-bridge', level: options.level ?? 'info' },
    options.destination,
  );
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
