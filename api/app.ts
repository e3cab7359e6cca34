import type { Tracer } from '@opentelemetry/api';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import { LiveConfig } from '../config/live.js';
import type { BridgeConfig } from '../config/schema.js';
import { ApiMetrics, METRICS_CONTENT_TYPE, renderMetrics } from '../observability/metrics.js';
import type { MessageDeliveryInput } from '../workflows/shared.js';
import { apiLoggerOptions, type ApiLoggerSetting } from '../observability/logging.js';
import { agentOpsRoutes } from './agentOps.js';
import { codecRoutes } from './codec.js';
import { temporalConversationGateway, type ConversationGateway } from './conversations.js';
import { messageRoutes } from './messages.js';
import { pullAgentRoutes } from './pullAgents.js';
import { checkReadiness } from './readiness.js';
import { bearerKeysPlugin } from './plugins/bearerKeys.js';
import { errorShapePlugin } from './plugins/errorShape.js';
import { failedAuthLimitPlugin } from './plugins/failedAuthLimit.js';
import { AfterOutageCheck } from './afterOutage.js';
import { traceRequests } from './tracingHooks.js';
import { webhookRoutes } from './webhook.js';

/** Hands one customer message straight to a delivery (the benchmark's no-Temporal baseline). */
export type StartDelivery = (
  input: Omit<MessageDeliveryInput, 'policy'>,
) => Promise<{ workflowId: string }>;

export type AppDeps = {
  config: BridgeConfig;
  /** The configuration in force, swapped by a reload; default: holds `config`, reloads BRIDGE_CONFIG. */
  live?: LiveConfig;
  /** `true` (default): JSON lines on stdout; pino options (a test's capture stream); `false`: none. */
  logger?: ApiLoggerSetting;
  /** Default: a registry of this app's own. */
  metrics?: ApiMetrics;
  /** More registries served on `/metrics` with the app's own (`npm start`: the worker's). */
  extraMetrics?: Registry[];
  /** OpenTelemetry (observability/tracing.ts): a span per webhook request; default: none. */
  tracer?: Tracer;
} & (
  | { temporal: Client }
  /** Another way to accept a message (the benchmark's no-Temporal baseline). */
  | { startDelivery: StartDelivery }
);

/**
 * The HTTP side of the bridge: Chatwoot's webhook, proactive messages, the operator endpoints,
 * health, readiness and metrics.
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  const { config } = deps;
  const live = deps.live ?? new LiveConfig(config);
  const conversations: ConversationGateway =
    'startDelivery' in deps
      ? directGateway(deps.startDelivery)
      : temporalConversationGateway(deps.temporal, () => live.current());
  const app = Fastify({
    logger: apiLoggerOptions(deps.logger ?? true, () => live.current()),
    bodyLimit: config.webhook.maxBodyBytes,
  });
  const metrics = deps.metrics ?? new ApiMetrics();
  const registries = [metrics.registry, ...(deps.extraMetrics ?? [])];
  const temporal = 'temporal' in deps ? deps.temporal : undefined;
  // Every door takes JSON only: Fastify's default text/plain parser would hand a signed webhook
  // sent as text to the route as if it were JSON.
  app.removeContentTypeParser('text/plain');

  // Cross-cutting first: their hooks and handlers reach every route registered after them.
  void app.register(errorShapePlugin, { maxBodyBytes: config.webhook.maxBodyBytes });
  void app.register(bearerKeysPlugin, { live });
  void app.register(failedAuthLimitPlugin, { live });

  void app.register((scope, _options, done) => {
    scope.get('/health', () => ({ status: 'ok' }));
    scope.get('/ready', async (_request, reply) => {
      const readiness = await checkReadiness(live.current(), temporal);
      return reply.code(readiness.ready ? 200 : 503).send(readiness);
    });
    scope.get('/metrics', { onRequest: scope.requireKey('metrics') }, async (_request, reply) =>
      reply.type(METRICS_CONTENT_TYPE).send(await renderMetrics(registries)),
    );
    done();
  });

  void app.register((scope, _options, done) => {
    countWebhookRequests(scope, metrics);
    if (deps.tracer) traceRequests(scope, deps.tracer);
    webhookRoutes(scope, {
      config,
      conversations,
      current: () => live.current(),
      metrics,
      ...(temporal
        ? {
            afterOutage: new AfterOutageCheck({ temporal, current: () => live.current(), metrics }),
          }
        : {}),
    });
    done();
  });
  if (temporal) void app.register(pullAgentRoutes, { live, temporal });
  void app.register(agentOpsRoutes, { live, ...(temporal ? { temporal } : {}) });
  // Proactive messages need Temporal itself (the benchmark's baseline has none).
  if (temporal) void app.register(messageRoutes, { live, temporal });
  // The Temporal UI's codec server (temporal.encryption): it needs the keys, not Temporal.
  void app.register(codecRoutes, { live, prefix: '/codec' });

  return app;
}

/** Customer messages go straight to `startDelivery`; other events reach no actor. */
function directGateway(startDelivery: StartDelivery): ConversationGateway {
  return {
    async sendCustomerMessage(target, { message, route }) {
      const { workflowId } = await startDelivery({
        ...target,
        ...message,
        inboxId: message.inboxId,
        agentId: route.agentId,
      });
      return { status: 'accepted', conversationWorkflowId: workflowId };
    },
    notify: (target) =>
      Promise.resolve({
        delivered: false,
        conversationWorkflowId: `direct:${target.accountId}:${target.conversationId}`,
      }),
  };
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
