import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { WebhookDecision } from '../chatwoot/events.js';
import type { WebhookConfig } from '../config/schema.js';
import type { ApiMetrics } from '../observability/metrics.js';
import type { AfterOutageCheck } from './afterOutage.js';
import type { CallLimits, ConversationGateway } from './conversations.js';
import { RejectedPayloadError, TemporalUnavailableError } from './deliveries.js';

export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface HandoverDeps {
  conversations: ConversationGateway;
  metrics: ApiMetrics;
  webhook: Pick<WebhookConfig, 'answerBudgetMs' | 'retryStatus'>;
  log: FastifyBaseLogger;
  /** After an outage, older missed messages of the conversation go first (off without Temporal). */
  afterOutage?: AfterOutageCheck;
}

/** Time kept back from the budget for Temporal's answer to travel and ours to be written. */
const ANSWER_MARGIN_MS = 50;
/** Kept back from a `?wait=` so the actor's own "no reply yet" answer comes back in time. */
const REPLY_MARGIN_MS = 250;

class AnswerBudgetExceeded extends Error {
  override name = 'AnswerBudgetExceeded';
}

/**
 * Hands a decision to the conversation actor and says what to answer. Every answer leaves
 * within `webhook.answerBudgetMs` of `receivedAt`, whatever Temporal does: past it, the calls are
 * aborted and the answer is `webhook.retryStatus` (a status Chatwoot retries), unless the event
 * is already durable (a `?wait=` that got no reply in time: 202).
 */
export async function handOver(
  decision: WebhookDecision,
  { receivedAt, waitMs }: { receivedAt: number; waitMs: number | undefined },
  { conversations, metrics, webhook, log, afterOutage }: HandoverDeps,
): Promise<WebhookAnswer> {
  if (decision.kind === 'invalid') {
    return {
      status: 400,
      body: { error: 'invalid_payload', field: decision.field, message: decision.message },
    };
  }
  if (decision.kind === 'ignore') {
    log.info({ reason: decision.reason }, 'webhook ignored');
    metrics.webhookIgnored(decision.reason);
    return { status: 200, body: { result: 'ignored', reason: decision.reason } };
  }

  const answerBy = receivedAt + webhook.answerBudgetMs - ANSWER_MARGIN_MS;
  const budget = new AbortController();
  // Temporal calls stop a little earlier, so an event made durable in time is answered as such.
  const limits: CallLimits = { deadlineAt: answerBy - ANSWER_MARGIN_MS, signal: budget.signal };
  const timer = setTimeout(
    () => budget.abort(new AnswerBudgetExceeded(`${webhook.answerBudgetMs} ms`)),
    Math.max(0, answerBy - Date.now()),
  );
  const outOfTime = new Promise<never>((_resolve, reject) => {
    budget.signal.addEventListener('abort', () => reject(budget.signal.reason as Error), {
      once: true,
    });
  });
  const targetLog = log.child(decision.target);
  try {
    return await Promise.race([
      deliver(decision, waitMs, limits, { conversations, metrics, afterOutage }, targetLog),
      outOfTime,
    ]);
  } catch (error) {
    const answer = failure(error, webhook, metrics, targetLog);
    if (answer.status === webhook.retryStatus) afterOutage?.noteRefused();
    return answer;
  } finally {
    clearTimeout(timer);
    if (!budget.signal.aborted) budget.abort(new Error('answered'));
  }
}

async function deliver(
  decision: Exclude<WebhookDecision, { kind: 'invalid' | 'ignore' }>,
  waitMs: number | undefined,
  limits: CallLimits,
  {
    conversations,
    metrics,
    afterOutage,
  }: Pick<HandoverDeps, 'conversations' | 'metrics' | 'afterOutage'>,
  log: FastifyBaseLogger,
): Promise<WebhookAnswer> {
  if (decision.kind === 'customer_turn') {
    const { target, signal, workflowId } = decision;
    await afterOutage?.handOlderFirst(decision, limits, conversations, log);
    const wait =
      waitMs === undefined
        ? undefined
        : Math.max(
            1,
            Math.min(waitMs, (limits.deadlineAt as number) - Date.now() - REPLY_MARGIN_MS),
          );
    const result = await conversations.sendCustomerMessage(target, signal, {
      ...limits,
      ...(wait !== undefined ? { waitMs: wait } : {}),
    });
    afterOutage?.noteAccepted(decision);
    log.info({ messageId: signal.message.messageId, status: result.status }, 'message accepted');
    metrics.webhookAccepted(signal.route.agentId);
    if (result.reply) {
      return {
        status: 200,
        body: {
          result: 'replied',
          reply: { content: result.reply.content },
          workflowId: result.reply.workflowId,
          conversationWorkflowId: result.conversationWorkflowId,
        },
      };
    }
    return {
      status: wait !== undefined ? 202 : 200,
      body: {
        result: 'accepted',
        ...(workflowId ? { workflowId } : {}),
        conversationWorkflowId: result.conversationWorkflowId,
      },
    };
  }
  const start = decision.kind === 'greet' || decision.start;
  const result = await conversations.notify(decision.target, decision.signal, {
    ...limits,
    start,
  });
  log.info({ delivered: result.delivered, signal: decision.signal.type }, 'event routed');
  return {
    status: 200,
    body: {
      result: result.delivered ? 'accepted' : 'ignored',
      ...(!result.delivered
        ? { reason: 'no active conversation actor' }
        : decision.signal.type === 'human_message'
          ? { reason: 'human agent replied' }
          : {}),
      conversationWorkflowId: result.conversationWorkflowId,
    },
  };
}

/** Not made durable: the sender's mistake (422), or a status Chatwoot retries, saying why. */
function failure(
  error: unknown,
  webhook: HandoverDeps['webhook'],
  metrics: ApiMetrics,
  log: FastifyBaseLogger,
): WebhookAnswer {
  if (error instanceof RejectedPayloadError) {
    log.warn({ err: error }, 'webhook refused: Temporal cannot encode the event');
    metrics.webhookRejected('unencodable payload');
    return { status: 422, body: { error: 'unprocessable_payload', message: error.message } };
  }
  const retry = { status: webhook.retryStatus };
  if (error instanceof AnswerBudgetExceeded) {
    log.error(
      { budgetMs: webhook.answerBudgetMs },
      'Temporal did not accept the event within the answer budget; asking Chatwoot to retry',
    );
    metrics.webhookRejected('answer budget exceeded');
    return {
      ...retry,
      body: {
        error: 'temporal_unavailable',
        reason: `Temporal did not accept the event within the answer budget (webhook.answerBudgetMs = ${webhook.answerBudgetMs}); retry`,
      },
    };
  }
  if (error instanceof TemporalUnavailableError) {
    log.error({ err: error }, 'Temporal unavailable; asking Chatwoot to retry');
    metrics.webhookRejected('temporal unavailable');
    return {
      ...retry,
      body: {
        error: 'temporal_unavailable',
        reason: `the event was not accepted (${error.message}); retry`,
      },
    };
  }
  log.error({ err: error }, 'webhook failed unexpectedly; asking Chatwoot to retry');
  metrics.webhookRejected('internal error');
  return {
    ...retry,
    body: { error: 'internal_error', reason: 'the event was not accepted; retry' },
  };
}

/** `?wait=` in milliseconds, capped by `conversation.maxWaitMs`; absent or 0: do not wait. */
export function parseWait(
  value: string | undefined,
  maxWaitMs: number,
): number | undefined | WebhookAnswer {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) {
    const message = 'wait: must be a whole number of milliseconds';
    return { status: 400, body: { error: 'invalid_payload', field: 'wait', message } };
  }
  const ms = Number(value);
  return ms === 0 ? undefined : Math.min(ms, maxWaitMs);
}

/** Fastify's own refusals, reworded to name what to fix. */
const FASTIFY_REFUSALS: Record<
  string,
  (
    webhook: Pick<WebhookConfig, 'maxBodyBytes'>,
    request: FastifyRequest,
  ) => { error: string; message: string }
> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (webhook) => ({
    error: 'payload_too_large',
    message: `body exceeds ${webhook.maxBodyBytes} bytes (webhook.maxBodyBytes)`,
  }),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (_webhook, request) => ({
    error: 'unsupported_media_type',
    message: `content-type ${JSON.stringify(request.headers['content-type'] ?? '')} is not accepted: send application/json`,
  }),
};

/**
 * The route's error handler: Fastify's own refusals (413 over `webhook.maxBodyBytes`…) keep their
 * 4xx and name the problem; whatever fails unexpectedly is logged and answered with the status
 * Chatwoot retries, never another 5xx.
 */
export function webhookErrorHandler(
  webhook: Pick<WebhookConfig, 'maxBodyBytes' | 'retryStatus'>,
  metrics: ApiMetrics,
) {
  return (
    error: Error & { statusCode?: number; code?: string },
    request: FastifyRequest,
    reply: FastifyReply,
  ): void => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const named = FASTIFY_REFUSALS[error.code ?? '']?.(webhook, request);
      void reply
        .code(status)
        .send(named ?? { error: error.code ?? 'bad_request', message: error.message });
      return;
    }
    request.log.error({ err: error }, 'webhook failed unexpectedly; asking Chatwoot to retry');
    metrics.webhookRejected('internal error');
    void reply
      .code(webhook.retryStatus)
      .send({ error: 'internal_error', reason: 'the event was not accepted; retry' });
  };
}
