import { createHash, timingSafeEqual } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ProactiveRequestError,
  type ProactiveMessageRequest,
  sendOptionsFromConfig,
  sendProactiveMessage,
} from '../client/proactive.js';
import type { BridgeConfig } from '../config/schema.js';
import { TemporalUnavailableError } from './deliveries.js';

interface MessagesDeps {
  config: BridgeConfig;
  temporal: Client;
}

/**
 * `POST /api/v1/messages`: an external system (or an agent) sends a message into Chatwoot.
 * Answers 202 once Temporal has durably accepted the work; the message is posted by a worker.
 */
export function messageRoutes(app: FastifyInstance, { config, temporal }: MessagesDeps): void {
  const keys = config.api.keys.map(digest);

  // Checked before the body is read: unauthenticated callers cost nothing.
  app.addHook('onRequest', async (request, reply) => {
    if (keys.length === 0) {
      return reply.code(401).send({
        error: 'unauthorized',
        message: 'no API keys are configured: set api.keys (or BRIDGE_API_KEYS) to use this API',
      });
    }
    const presented = bearerToken(request);
    if (presented === undefined || !keys.some((key) => timingSafeEqual(key, digest(presented)))) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({
        error: 'unauthorized',
        message: 'send a configured key as "Authorization: Bearer <key>"',
      });
    }
  });

  // Parsed here so malformed JSON gets the same 400 shape as any other invalid field.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    done(null, body);
  });

  app.post('/api/v1/messages', async (request, reply) => {
    let body: unknown;
    try {
      body = JSON.parse(typeof request.body === 'string' ? request.body : '');
    } catch {
      return badRequest(reply, '(body)', 'body is not valid JSON');
    }
    const idempotencyKey = request.headers['idempotency-key'];
    if (Array.isArray(idempotencyKey)) {
      return badRequest(reply, 'Idempotency-Key', 'send the header once');
    }
    try {
      // Validated inside, with errors naming the field.
      const result = await sendProactiveMessage(temporal, body as ProactiveMessageRequest, {
        ...sendOptionsFromConfig(config),
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      });
      request.log.info(result, 'proactive message accepted');
      return reply.code(202).send(result);
    } catch (error) {
      if (error instanceof ProactiveRequestError) {
        const field = error.field === 'idempotencyKey' ? 'Idempotency-Key' : error.field;
        return badRequest(reply, field, error.detail);
      }
      if (!(error instanceof TemporalUnavailableError)) throw error;
      request.log.error({ err: error }, 'Temporal unavailable; proactive message not accepted');
      return reply.code(503).header('retry-after', '5').send({
        error: 'temporal_unavailable',
        reason: 'the message was not accepted; retry later with the same Idempotency-Key',
      });
    }
  });
}

function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/** Fixed-length digests, so the constant-time comparison does not leak the key's length. */
function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

function badRequest(reply: FastifyReply, field: string, message: string) {
  return reply.code(400).send({ error: 'invalid_payload', field, message: `${field}: ${message}` });
}
