import type { Client } from '@temporalio/client';
import type { FastifyPluginCallback } from 'fastify';
import {
  ProactiveRequestError,
  type ProactiveMessageRequest,
  sendOptionsFromConfig,
  sendProactiveMessage,
} from '../client/proactive.js';
import type { LiveConfig } from '../config/live.js';
import { TemporalUnavailableError } from './deliveries.js';
import { HttpError, invalidField } from './plugins/errorShape.js';

interface MessagesDeps {
  live: LiveConfig;
  temporal: Client;
}

/**
 * `POST /api/v1/messages`: an external system (or an agent) sends a message into Chatwoot.
 * Answers 202 once Temporal has durably accepted the work; the message is posted by a worker.
 * The fields are validated by `sendProactiveMessage` (shared with the typed client and the
 * CLI), which names the field at fault.
 */
export const messageRoutes: FastifyPluginCallback<MessagesDeps> = (
  app,
  { live, temporal },
  done,
) => {
  app.post<{ Body: ProactiveMessageRequest; Headers: { 'idempotency-key'?: string } }>(
    '/api/v1/messages',
    {
      // Checked before the body is read: unauthenticated callers cost nothing.
      onRequest: app.requireKey('proactive'),
      schema: {
        body: { type: 'object' },
        headers: {
          type: 'object',
          properties: { 'idempotency-key': { type: 'string' } },
        },
      },
    },
    async (request, reply) => {
      const idempotencyKey = request.headers['idempotency-key'];
      try {
        const result = await sendProactiveMessage(temporal, request.body, {
          ...sendOptionsFromConfig(live.current()),
          ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
        });
        request.log.info(result, 'proactive message accepted');
        return await reply.code(202).send(result);
      } catch (error) {
        if (error instanceof ProactiveRequestError) {
          const field = error.field === 'idempotencyKey' ? 'Idempotency-Key' : error.field;
          throw invalidField('invalid_payload', field, error.detail);
        }
        if (!(error instanceof TemporalUnavailableError)) throw error;
        request.log.error({ err: error }, 'Temporal unavailable; proactive message not accepted');
        throw new HttpError(
          503,
          'temporal_unavailable',
          'the message was not accepted; retry later with the same Idempotency-Key',
          undefined,
          { 'retry-after': '5' },
        );
      }
    },
  );
  done();
};
