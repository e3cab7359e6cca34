import type { FastifyInstance, FastifyRequest } from 'fastify';
import { classify } from '../chatwoot/events.js';
import { verifyWebhook } from '../chatwoot/signature.js';
import { bodyPresenceProblem, parseBody } from '../chatwoot/webhookBody.js';
import type { BridgeConfig } from '../config/schema.js';
import type { ApiMetrics } from '../observability/metrics.js';
import type { AfterOutageCheck } from './afterOutage.js';
import type { ConversationGateway } from './conversations.js';
import { handOver, parseWait, webhookErrorHandler, type WebhookAnswer } from './webhookHandover.js';

interface WebhookDeps {
  /** Secrets and the body limit: fixed at start-up. */
  config: BridgeConfig;
  /** The configuration in force now (a reload replaces routes and agents); default: `config`. */
  current?: () => BridgeConfig;
  conversations: ConversationGateway;
  metrics: ApiMetrics;
  afterOutage?: AfterOutageCheck;
}

/**
 * `POST /webhook/chatwoot`: verify, classify (chatwoot/events.ts), hand over (webhookHandover.ts),
 * answer. 200 only once Temporal holds the event (or it is ignored); `webhook.retryStatus` when
 * it could not be made durable within `webhook.answerBudgetMs`; 4xx naming a sender's mistake.
 */
export function webhookRoutes(
  app: FastifyInstance,
  { config, current = () => config, conversations, metrics, afterOutage }: WebhookDeps,
): void {
  // Secrets and the body limit stay as at start-up (reloads keep them, config/live.ts); the
  // depth limit, answer budget and retry status are read per request so a reload applies.
  const { webhook } = config;
  // Raw bytes whatever the type: the signature covers them, and the route names a wrong type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  // The answer budget counts from the first byte, body upload included.
  const receivedAt = new WeakMap<FastifyRequest, number>();
  app.addHook('onRequest', (request, _reply, done) => {
    receivedAt.set(request, Date.now());
    done();
  });

  app.post<{ Querystring: { token?: string; wait?: string } }>(
    '/webhook/chatwoot',
    {
      errorHandler: webhookErrorHandler(
        {
          maxBodyBytes: webhook.maxBodyBytes,
          get retryStatus() {
            return current().webhook.retryStatus;
          },
        },
        metrics,
      ),
    },
    async (request, reply) => {
      const send = ({ status, body }: WebhookAnswer) => reply.code(status).send(body);
      // No body at all reaches no parser: an empty buffer, refused below like an empty body.
      const raw = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
      const problem = bodyPresenceProblem(raw, request.headers['content-type']);
      if (problem) return send(problem);
      const signature = verifyWebhook(
        {
          rawBody: raw,
          signature: header(request.headers['x-chatwoot-signature']),
          timestamp: header(request.headers['x-chatwoot-timestamp']),
          urlToken: request.query.token,
        },
        webhook.secrets,
        { toleranceSeconds: webhook.toleranceSeconds },
      );
      if (!signature.ok) {
        request.log.warn({ reason: signature.reason }, 'webhook rejected');
        metrics.webhookRejected(signature.reason);
        return send({ status: 401, body: { error: 'unauthorized', reason: signature.reason } });
      }
      const live = current();
      const body = parseBody(raw, live.webhook.maxDepth);
      if (!body.ok) return send(body);
      const waitMs = parseWait(request.query.wait, live.conversation.maxWaitMs);
      if (typeof waitMs === 'object') return send(waitMs);
      const decision = classify(body.json, live);
      // `X-Chatwoot-Delivery` is kept across Chatwoot's retries: it ties them together in logs.
      const delivery = header(request.headers['x-chatwoot-delivery']);
      const log = request.log.child({ chatwootDelivery: delivery, event: decision.event });
      const timing = { receivedAt: receivedAt.get(request) ?? Date.now(), waitMs };
      return send(
        await handOver(decision, timing, {
          conversations,
          metrics,
          webhook: live.webhook,
          log,
          ...(afterOutage ? { afterOutage } : {}),
        }),
      );
    },
  );
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
