import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Client } from '@temporalio/client';
import type { BridgeConfig } from '../config/schema.js';
import { startMessageDelivery } from './deliveries.js';
import { pullAgentRoutes } from './pullAgents.js';
import { webhookRoutes, type StartDelivery } from './webhook.js';

export type AppDeps = {
  config: BridgeConfig;
  logger?: FastifyServerOptions['logger'];
} & (
  | { temporal: Client }
  /** Another way to accept a message (the benchmark's no-Temporal baseline). */
  | { startDelivery: StartDelivery }
);

/** The HTTP side of the bridge: Chatwoot's webhook and a health check. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const { config, logger = true } = deps;
  const startDelivery: StartDelivery =
    'startDelivery' in deps
      ? deps.startDelivery
      : (input) => startMessageDelivery(deps.temporal, config, input);
  const app = Fastify({ logger, bodyLimit: config.webhook.maxBodyBytes });

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

  void app.register((scope, _options, done) => {
    webhookRoutes(scope, {
      config,
      startDelivery,
    });
    done();
  });
  if ('temporal' in deps) {
    const { temporal } = deps;
    void app.register((scope, _options, done) => {
      pullAgentRoutes(scope, { config, temporal });
      done();
    });
  }

  return app;
}
