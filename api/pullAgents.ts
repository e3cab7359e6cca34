import {
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import { limitReply } from '../agents/replyLimits.js';
import type { LiveConfig } from '../config/live.js';
import type { PullAgentConfig } from '../config/schema.js';
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
import { HttpError } from './plugins/errorShape.js';

export interface PullAgentDeps {
  live: LiveConfig;
  temporal: Client;
}

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;

type AgentParams = { agentId: string };

const agentParams = {
  type: 'object',
  required: ['agentId'],
  properties: { agentId: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

const inboxQuery = {
  type: 'object',
  properties: {
    /** Milliseconds; above the agent's `longPollMs` it is cut to that. */
    wait: { type: 'integer', minimum: 0 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT },
  },
} as const;

interface OutboxBody {
  message_id: string;
  content?: string;
  final?: boolean;
  /** Optional 0-based position of the reply in the answer; makes retried posts safe to dedupe. */
  sequence?: number;
  /** Optional, as in the other protocols: `content_type`, `content_attributes`, `attachments`, `actions`. */
  metadata?: Record<string, unknown>;
  error?: {
    code: string;
    message?: string;
    /** false: retrying will not help, hand the conversation to humans at once. */
    retryable?: boolean;
  };
}

/** A reply (`content`), or an error report (`error`) for one turn. */
const outboxBody = {
  type: 'object',
  required: ['message_id'],
  properties: {
    message_id: { type: 'string', minLength: 1, maxLength: 500 },
  },
  if: { required: ['error'] },
  then: {
    properties: {
      error: {
        type: 'object',
        required: ['code'],
        properties: {
          code: { type: 'string', minLength: 1, maxLength: 200 },
          message: { type: 'string' },
          retryable: { type: 'boolean' },
        },
      },
    },
  },
  else: {
    required: ['content'],
    properties: {
      content: { type: 'string', minLength: 1 },
      final: { type: 'boolean' },
      sequence: { type: 'integer', minimum: 0 },
      metadata: { type: 'object' },
    },
  },
} as const;

/**
 * The HTTP side of pull agents (seed 003), for agents that cannot host a socket:
 * `GET /api/v1/agents/{agentId}/inbox?wait=<ms>&limit=<n>` long-polls pending turns and
 * `POST /api/v1/agents/{agentId}/outbox` posts a reply (or an error) to one turn. Each agent
 * authenticates with its own bearer key (the bearer-keys plugin, reading the configuration in
 * force: a reload adds agents and rotates keys at once). Nothing is kept in this process: turns
 * wait in the agent's inbox workflow and replies go straight to the turn's delivery workflow.
 */
export const pullAgentRoutes: FastifyPluginCallback<PullAgentDeps> = (
  app,
  { live, temporal },
  done,
) => {
  /** The agent the bearer-keys plugin let through, as configured now. */
  const agentOf = (request: FastifyRequest<{ Params: AgentParams }>): PullAgentConfig => {
    const agent = live
      .current()
      .agents.find((candidate) => candidate.id === request.params.agentId);
    if (agent?.transport !== 'pull') {
      throw new HttpError(404, 'unknown_agent', `no pull agent "${request.params.agentId}"`);
    }
    return agent;
  };
  // Temporal and a worker must answer within this (beyond the long-poll wait), else 503: retry.
  const answerWithinMs = () => live.current().temporal.startTimeoutMs;
  const { taskQueue } = live.current().temporal;

  app.get<{ Params: AgentParams; Querystring: { wait?: number; limit?: number } }>(
    '/api/v1/agents/:agentId/inbox',
    {
      onRequest: app.requireKey('pull'),
      schema: { params: agentParams, querystring: inboxQuery },
    },
    async (request, reply) => {
      const agent = agentOf(request);
      const waitMs = Math.min(request.query.wait ?? agent.longPollMs, agent.longPollMs);
      const limit = request.query.limit ?? DEFAULT_LIMIT;
      try {
        const messages = await temporal.withDeadline(Date.now() + waitMs + answerWithinMs(), () =>
          temporal.workflow.executeUpdateWithStart(takeTurnsUpdate, {
            args: [{ waitMs, limit }],
            startWorkflowOperation: new WithStartWorkflowOperation(agentInboxWorkflow, {
              workflowId: agentInboxWorkflowId(agent.id, taskQueue),
              taskQueue,
              workflowIdConflictPolicy: 'USE_EXISTING',
              args: [{ agentId: agent.id }],
              staticSummary: `inbox of pull agent ${agent.id}`,
            }),
          }),
        );
        return await reply.send({ messages });
      } catch (error) {
        return unavailable(request, error);
      }
    },
  );

  app.post<{ Params: AgentParams; Body: OutboxBody }>(
    '/api/v1/agents/:agentId/outbox',
    {
      onRequest: app.requireKey('pull'),
      schema: { params: agentParams, body: outboxBody },
    },
    async (request, reply) => {
      const agent = agentOf(request);
      const body = request.body;
      const turnId = body.message_id;
      const post: OutboxPost = body.error
        ? {
            agentId: agent.id,
            kind: 'error',
            code: body.error.code,
            message: body.error.message ?? '',
            retryable: body.error.retryable ?? true,
          }
        : {
            agentId: agent.id,
            kind: 'reply',
            content: body.content as string,
            final: body.final ?? false,
            ...(body.sequence !== undefined ? { sequence: body.sequence } : {}),
            ...(body.metadata ? { metadata: boundedMetadata(agent.id, body.metadata) } : {}),
          };
      const unknownTurn = () =>
        new HttpError(404, 'unknown_message', `no turn ${turnId} for agent ${agent.id}`);

      let result: OutboxResult;
      try {
        result = await temporal.withDeadline(Date.now() + answerWithinMs(), () =>
          temporal.workflow.getHandle(turnId).executeUpdate(outboxUpdate, { args: [post] }),
        );
      } catch (error) {
        if (error instanceof WorkflowUpdateFailedError) {
          const cause = error.cause instanceof ApplicationFailure ? error.cause : undefined;
          if (cause?.type === OUTBOX_REJECTIONS.turnClosed) throw closed(cause.message);
          if (cause?.type === OUTBOX_REJECTIONS.sequenceConflict) {
            throw new HttpError(409, 'sequence_conflict', cause.message);
          }
          // Wrong agent, or a workflow that takes no outbox posts.
          throw unknownTurn();
        }
        if (!(error instanceof WorkflowNotFoundError)) return unavailable(request, error);
        // The delivery is over (or never was): a late repeat is still a duplicate.
        const settled = await lateDuplicate(temporal, turnId, agent.id, post, answerWithinMs());
        if (settled === 'unknown') throw unknownTurn();
        if (settled === 'unavailable') return unavailable(request, error);
        if (settled === 'closed') throw closed(`the answer to ${turnId} is over`);
        result = settled;
      }
      request.log.info(
        { agentId: agent.id, turnId, kind: post.kind, ...result },
        'pull agent outbox post',
      );
      return reply.send({ status: result.duplicate ? 'duplicate' : 'accepted', ...result });
    },
  );
  done();
};

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

/** The metadata within the bounds every protocol's replies keep (agents/replyLimits.ts). */
function boundedMetadata(agentId: string, metadata: Record<string, unknown>) {
  const reply = { content: '', final: false, metadata };
  return limitReply(reply, { agentId, maxReplyChars: Number.POSITIVE_INFINITY }, 0).metadata;
}

function closed(message: string) {
  return new HttpError(409, 'turn_closed', message);
}

function unavailable(request: FastifyRequest, error: unknown): never {
  request.log.error({ err: error }, 'Temporal did not answer for a pull agent');
  throw new HttpError(503, 'temporal_unavailable', 'not processed; retry later', undefined, {
    'retry-after': '1',
  });
}
