import { createHash, timingSafeEqual } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { BridgeConfig, PullAgentConfig } from '../config/schema.js';
import { agentInboxWorkflow } from '../workflows/agentInbox.js';
import {
  agentInboxWorkflowId,
  findDuplicate,
  OUTBOX_REJECTIONS,
  outboxUpdate,
  pullRepliesQuery,
  takeTurnsUpdate,
  type OutboxPost,
  type OutboxResult,
} from '../workflows/pullShared.js';

export interface PullAgentDeps {
  config: BridgeConfig;
  temporal: Client;
}

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;

const wholeNumber = (max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((value) => value <= max, `must be at most ${max}`);

const inboxQuerySchema = z
  .object({
    /** Milliseconds; above the agent's `longPollMs` it is cut to that. */
    wait: wholeNumber(Number.MAX_SAFE_INTEGER).optional(),
    limit: wholeNumber(MAX_LIMIT)
      .refine((value) => value >= 1, 'must be at least 1')
      .optional(),
  })
  .loose();

const replyBodySchema = z.object({
  message_id: z.string().min(1, 'is required'),
  content: z.string().min(1, 'must not be empty'),
  final: z.boolean().default(false),
  /** Optional 0-based position of the reply in the answer; makes retried posts safe to dedupe. */
  sequence: z.number().int().min(0).optional(),
});

const errorBodySchema = z.object({
  message_id: z.string().min(1, 'is required'),
  error: z.object({
    code: z.string().min(1, 'is required'),
    message: z.string().default(''),
    /** false: retrying will not help, hand the conversation to humans at once. */
    retryable: z.boolean().default(true),
  }),
});

/**
 * The HTTP side of pull agents (seed 003), for agents that cannot host a socket:
 * `GET /api/v1/agents/{agentId}/inbox?wait=<ms>&limit=<n>` long-polls pending turns and
 * `POST /api/v1/agents/{agentId}/outbox` posts a reply (or an error) to one turn. Each agent
 * authenticates with its own bearer key. Nothing is kept in this process: turns wait in the
 * agent's inbox workflow and replies go straight to the turn's delivery workflow.
 */
export function pullAgentRoutes(app: FastifyInstance, { config, temporal }: PullAgentDeps): void {
  // Temporal and a worker must answer within this (beyond the long-poll wait), else 503: retry.
  const answerWithinMs = config.temporal.startTimeoutMs;
  const agents = new Map(
    config.agents
      .filter((agent): agent is PullAgentConfig => agent.transport === 'pull')
      .map((agent) => [agent.id, agent]),
  );

  /** The agent named in the path when the request carries its key; otherwise answers 404/401. */
  function authenticate(
    request: FastifyRequest<{ Params: { agentId: string } }>,
    reply: FastifyReply,
  ): PullAgentConfig | undefined {
    const agent = agents.get(request.params.agentId);
    if (!agent) {
      void reply.code(404).send({
        error: 'unknown_agent',
        message: `no pull agent "${request.params.agentId}"`,
      });
      return undefined;
    }
    const presented = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
    if (!presented || !sameSecret(presented, agent.apiKey)) {
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="pull-agents"')
        .send({
          error: 'unauthorized',
          message: presented ? 'wrong API key for this agent' : 'missing bearer API key',
        });
      return undefined;
    }
    return agent;
  }

  app.get<{ Params: { agentId: string } }>(
    '/api/v1/agents/:agentId/inbox',
    async (request, reply) => {
      const agent = authenticate(request, reply);
      if (!agent) return reply;
      const query = inboxQuerySchema.safeParse(request.query);
      if (!query.success) return badRequest(reply, query.error);
      const waitMs = Math.min(query.data.wait ?? agent.longPollMs, agent.longPollMs);
      const limit = query.data.limit ?? DEFAULT_LIMIT;
      try {
        const messages = await temporal.withDeadline(Date.now() + waitMs + answerWithinMs, () =>
          temporal.workflow.executeUpdateWithStart(takeTurnsUpdate, {
            args: [{ waitMs, limit }],
            startWorkflowOperation: new WithStartWorkflowOperation(agentInboxWorkflow, {
              workflowId: agentInboxWorkflowId(agent.id, config.temporal.taskQueue),
              taskQueue: config.temporal.taskQueue,
              workflowIdConflictPolicy: 'USE_EXISTING',
              args: [{ agentId: agent.id }],
              staticSummary: `inbox of pull agent ${agent.id}`,
            }),
          }),
        );
        return reply.send({ messages });
      } catch (error) {
        return unavailable(request, reply, error);
      }
    },
  );

  app.post<{ Params: { agentId: string } }>(
    '/api/v1/agents/:agentId/outbox',
    async (request, reply) => {
      const agent = authenticate(request, reply);
      if (!agent) return reply;
      const body: unknown = request.body;
      const isError = typeof body === 'object' && body !== null && 'error' in body;
      const parsed = isError ? errorBodySchema.safeParse(body) : replyBodySchema.safeParse(body);
      if (!parsed.success) return badRequest(reply, parsed.error);
      const turnId = parsed.data.message_id;
      const post: OutboxPost =
        'error' in parsed.data
          ? { agentId: agent.id, kind: 'error', ...parsed.data.error }
          : {
              agentId: agent.id,
              kind: 'reply',
              content: parsed.data.content,
              final: parsed.data.final,
              ...(parsed.data.sequence !== undefined ? { sequence: parsed.data.sequence } : {}),
            };
      const unknownTurn = () =>
        reply.code(404).send({
          error: 'unknown_message',
          message: `no turn ${turnId} for agent ${agent.id}`,
        });

      let result: OutboxResult;
      try {
        result = await temporal.withDeadline(Date.now() + answerWithinMs, () =>
          temporal.workflow.getHandle(turnId).executeUpdate(outboxUpdate, { args: [post] }),
        );
      } catch (error) {
        if (error instanceof WorkflowUpdateFailedError) {
          const cause = error.cause instanceof ApplicationFailure ? error.cause : undefined;
          if (cause?.type === OUTBOX_REJECTIONS.turnClosed) return closed(reply, cause.message);
          if (cause?.type === OUTBOX_REJECTIONS.sequenceConflict) {
            return reply.code(409).send({ error: 'sequence_conflict', message: cause.message });
          }
          // Wrong agent, or a workflow that takes no outbox posts.
          return unknownTurn();
        }
        if (!(error instanceof WorkflowNotFoundError)) return unavailable(request, reply, error);
        // The delivery is over (or never was): a late repeat is still a duplicate.
        const settled = await lateDuplicate(temporal, turnId, agent.id, post, answerWithinMs);
        if (settled === 'unknown') return unknownTurn();
        if (settled === 'unavailable') return unavailable(request, reply, error);
        if (settled === 'closed') return closed(reply, `the answer to ${turnId} is over`);
        result = settled;
      }
      request.log.info(
        { agentId: agent.id, turnId, kind: post.kind, ...result },
        'pull agent outbox post',
      );
      return reply.send({ status: result.duplicate ? 'duplicate' : 'accepted', ...result });
    },
  );
}

/** A post to a delivery that has finished: duplicate, closed, unknown, or no answer now. */
async function lateDuplicate(
  temporal: Client,
  turnId: string,
  agentId: string,
  post: OutboxPost,
  answerWithinMs: number,
): Promise<OutboxResult | 'closed' | 'unknown' | 'unavailable'> {
  try {
    const state = await temporal.withDeadline(Date.now() + answerWithinMs, () =>
      temporal.workflow.getHandle(turnId).query(pullRepliesQuery),
    );
    if (state.agentId !== agentId) return 'unknown';
    if (post.kind === 'error') return 'closed';
    const duplicate = findDuplicate(state.replies, post);
    return duplicate && !duplicate.conflict
      ? { duplicate: true, index: duplicate.index }
      : 'closed';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return 'unknown';
    // A workflow without the query (not a pull delivery) is unknown to this agent.
    if (error instanceof Error && /query/i.test(error.name)) return 'unknown';
    return 'unavailable';
  }
}

/** Compares keys in constant time (hashing first evens out the lengths). */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function badRequest(reply: FastifyReply, error: z.ZodError) {
  const issue = error.issues[0];
  const field = issue?.path.map(String).join('.') || '(body)';
  return reply.code(400).send({
    error: 'invalid_request',
    field,
    message: `${field}: ${issue?.message ?? 'invalid'}`,
  });
}

function closed(reply: FastifyReply, message: string) {
  return reply.code(409).send({ error: 'turn_closed', message });
}

function unavailable(request: FastifyRequest, reply: FastifyReply, error: unknown) {
  request.log.error({ err: error }, 'Temporal did not answer for a pull agent');
  return reply.code(503).header('retry-after', '1').send({
    error: 'temporal_unavailable',
    message: 'not processed; retry later',
  });
}
