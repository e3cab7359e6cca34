import Fastify, {
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import type { BridgeConfig } from '../config/schema.js';
import { ApiMetrics, METRICS_CONTENT_TYPE, renderMetrics } from '../observability/metrics.js';
import { startMessageDelivery } from './deliveries.js';
import { checkReadiness } from './readiness.js';
import { webhookRoutes, type StartDelivery } from './webhook.js';

export type AppDeps = {
  config: BridgeConfig;
  logger?: FastifyServerOptions['logger'];
  /** Default: a registry of this app's own. */
  metrics?: ApiMetrics;
  /** More registries served on `/metrics` with the app's own (`npm start`: the worker's). */
  extraMetrics?: Registry[];
} & (
  | { temporal: Client }
  /** Another way to accept a message (the benchmark's no-Temporal baseline). */
  | { startDelivery: StartDelivery }
);

/** The HTTP side of the bridge: Chatwoot's webhook, health, readiness and metrics. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const { config, logger = true } = deps;
  const startDelivery: StartDelivery =
    'startDelivery' in deps
      ? deps.startDelivery
      : (input) => startMessageDelivery(deps.temporal, config, input);
  const app = Fastify({ logger, bodyLimit: config.webhook.maxBodyBytes });
  const metrics = deps.metrics ?? new ApiMetrics();
  const registries = [metrics.registry, ...(deps.extraMetrics ?? [])];

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    const body =
      error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? {
            error: 'payload_too_large',
            message: `body exceeds ${config.webhook.maxBodyBytes} bytes`,
          }
        : {
            error: error.code ?? 'error',
            message: status >= 500 ? 'internal error' : error.message,
          };
    return reply.code(status).send(body);
  });

  app.get('/health', () => ({ status: 'ok' }));
  app.get('/ready', async (_request, reply) => {
    const readiness = await checkReadiness(config, 'temporal' in deps ? deps.temporal : undefined);
    return reply.code(readiness.ready ? 200 : 503).send(readiness);
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(METRICS_CONTENT_TYPE).send(await renderMetrics(registries)),
  );

  void app.register((scope, _options, done) => {
    countWebhookRequests(scope, metrics);
    webhookRoutes(scope, {
      config,
      startDelivery,
      metrics,
    });
    done();
  });

  return app;
}

/**
 * Counts every webhook request, and the refusals Fastify or the payload checks answer before
 * the handler decides anything; the handler counts its own decisions (api/webhook.ts).
 */
function countWebhookRequests(scope: FastifyInstance, metrics: ApiMetrics): void {
  const isWebhook = (request: FastifyRequest) => request.routeOptions.url === '/webhook/chatwoot';
  scope.addHook('onRequest', (request, _reply, done) => {
    if (isWebhook(request)) metrics.webhookReceived();
    done();
  });
  scope.addHook('onResponse', (request, reply, done) => {
    const reason = PRE_HANDLER_REFUSALS[reply.statusCode];
    if (reason && isWebhook(request)) metrics.webhookRejected(reason);
    done();
  });
}

const PRE_HANDLER_REFUSALS: Record<number, string> = {
  400: 'invalid payload',
  413: 'payload too large',
  415: 'unsupported content type',
};
