import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyPluginCallback } from 'fastify';
import { probeAgent } from '../agents/probe.js';
import { temporalTurnLock } from '../agents/temporalTurnLock.js';
import type { LiveConfig } from '../config/live.js';
import { ConfigError } from '../config/load.js';
import { readAgentStatus } from './agentStatus.js';
import { HttpError } from './plugins/errorShape.js';

export interface AgentOpsOptions {
  live: LiveConfig;
  /** Absent in apps built without Temporal: `/agents/status` then answers 503. */
  temporal?: Client;
}

/** How long `/agents/status` waits for Temporal visibility before answering 503. */
const STATUS_DEADLINE_MS = 10_000;
const DEFAULT_PROBE_CONTENT = 'ping';

/**
 * Operator endpoints: agent status, a live probe through the real transport, and a
 * configuration reload. Every route needs `Authorization: Bearer <api.operatorKeys[i]>`
 * (the bearer-keys plugin); with no keys configured they are switched off (403).
 */
export const agentOpsRoutes: FastifyPluginCallback<AgentOpsOptions> = (
  app,
  { live, temporal },
  done,
) => {
  app.addHook('onRequest', app.requireKey('operator'));

  app.get('/agents/status', async (request, reply) => {
    if (!temporal) {
      return reply.code(503).send({
        error: 'status_unavailable',
        message: 'agent status is read from Temporal, and this app has no Temporal client',
      });
    }
    try {
      return await temporal.withDeadline(Date.now() + STATUS_DEADLINE_MS, () =>
        readAgentStatus(temporal, live.current()),
      );
    } catch (error) {
      request.log.error({ err: error }, 'agent status: Temporal visibility unavailable');
      return reply.code(503).send({
        error: 'temporal_unavailable',
        message: `agent status could not be read from Temporal: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  });

  app.route<{ Params: { agentId: string }; Querystring: { content?: string } }>({
    // GET as listed in the design; POST as in its curl example.
    method: ['GET', 'POST'],
    url: '/api/v1/agents/test/:agentId',
    schema: {
      params: {
        type: 'object',
        properties: { agentId: { type: 'string', minLength: 1, maxLength: 200 } },
      },
      querystring: {
        type: 'object',
        properties: { content: { type: 'string', minLength: 1, maxLength: 4_000 } },
      },
    },
    handler: async (request, reply) => {
      const { agents } = live.current();
      const agent = agents.find((candidate) => candidate.id === request.params.agentId);
      if (!agent) {
        return reply.code(404).send({
          error: 'unknown_agent',
          message: `no agent "${request.params.agentId}" (known: ${agents.map((a) => a.id).join(', ')})`,
        });
      }
      // A caller that gives up closes the agent's socket too.
      const abort = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) abort.abort();
      };
      reply.raw.once('close', onClose);
      try {
        // A probe waits its turn like a delivery, so its answer never reaches a customer.
        const probeId = `probe:${randomUUID()}`;
        const turnLock =
          temporal &&
          temporalTurnLock({
            client: temporal,
            taskQueue: live.current().temporal.taskQueue,
            holderId: probeId,
            token: probeId,
            warn: (message, fields) => request.log.warn(fields, message),
          });
        const result = await probeAgent(agent, request.query.content ?? DEFAULT_PROBE_CONTENT, {
          signal: abort.signal,
          ...(turnLock ? { turnLock } : {}),
        });
        request.log.info(
          { agentId: agent.id, outcome: result.outcome, timings: result.timings },
          'agent probed',
        );
        // 502: the bridge is fine, the agent behind it is not.
        return reply.code(result.outcome === 'completed' ? 200 : 502).send(result);
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  });

  app.post('/api/v1/agents/reload', (request, reply) => {
    try {
      const { config, restartRequired } = live.reload();
      request.log.info(
        { agents: config.agents.length, routes: config.routes.length, restartRequired },
        'configuration reloaded',
      );
      return reply.send({
        result: 'reloaded',
        agents: config.agents.map((agent) => agent.id),
        routes: config.routes.length,
        restartRequired,
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      request.log.warn({ err: error }, 'configuration reload refused; the previous one stays');
      throw new HttpError(400, 'invalid_config', error.message);
    }
  });

  done();
};
