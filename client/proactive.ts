import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { z } from 'zod';
import { chatwootRetryPolicy, TemporalUnavailableError } from '../api/deliveries.js';
import { markdownText } from '../workflows/markdownText.js';
import { previewText } from '../workflows/searchAttributes.js';
import { deliverySchema, type BridgeConfig } from '../config/schema.js';
import { proactiveMessageWorkflow } from '../workflows/index.js';
import {
  describeContact,
  proactiveWorkflowId,
  type ProactiveMessageInput,
  type ProactiveTarget,
} from '../workflows/proactiveTypes.js';
import { searchAttributes } from '../workflows/searchAttributes.js';
import type { ChatwootRetryPolicy } from '../workflows/shared.js';

/** Chatwoot's own rule for phone numbers (E.164). */
const E164 = /^\+[1-9]\d{1,14}$/;
const positiveId = z.number().int().positive();

const contactSchema = z
  .strictObject({
    identifier: z.string().trim().min(1).optional(),
    email: z.email().optional(),
    phone_number: z.string().regex(E164, 'must be E.164, e.g. +4915112345678').optional(),
    name: z.string().trim().min(1).optional(),
  })
  .refine((c) => Boolean(c.identifier ?? c.email ?? c.phone_number), {
    message: 'give identifier, email or phone_number',
  });

/**
 * A proactive message as callers describe it (the body of `POST /api/v1/messages`): either
 * `conversationId`, or `inboxId` plus `contact`.
 */
export const proactiveMessageSchema = z
  .strictObject({
    /** Default: `chatwoot.accountId` from the configuration. */
    accountId: positiveId.optional(),
    conversationId: positiveId.optional(),
    inboxId: positiveId.optional(),
    contact: contactSchema.optional(),
    content: z
      .string()
      .max(150_000)
      .refine((text) => text.trim() !== '', 'must not be empty'),
    private: z.boolean().default(false),
    /** ISO 8601 with a time zone; a past time sends at once. */
    sendAt: z.iso.datetime({ offset: true }).optional(),
    agentId: z.string().min(1).max(200).optional(),
  })
  .superRefine((message, ctx) => {
    if (message.conversationId !== undefined) {
      for (const field of ['inboxId', 'contact'] as const) {
        if (message[field] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: 'give either conversationId, or inboxId with contact, not both',
          });
        }
      }
      return;
    }
    if (message.inboxId === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['conversationId'],
        message: 'required (or inboxId with contact)',
      });
    } else if (message.contact === undefined) {
      ctx.addIssue({ code: 'custom', path: ['contact'], message: 'required with inboxId' });
    }
  });

export type ProactiveMessageRequest = z.input<typeof proactiveMessageSchema>;

/** A request the bridge cannot send; `field` names what to fix (API answers 400). */
export class ProactiveRequestError extends Error {
  override name = 'ProactiveRequestError';
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

export interface SendProactiveOptions {
  /** The bridge workers' task queue (`temporal.taskQueue`). */
  taskQueue: string;
  /** Same key twice → the same workflow and one message. Default: a random UUID. */
  idempotencyKey?: string;
  /** Used when the request names no `accountId`. */
  defaultAccountId?: number;
  /** How hard to retry Chatwoot; default: the configuration's defaults. */
  policy?: ChatwootRetryPolicy;
  /** Give up (TemporalUnavailableError) when Temporal has not accepted the start by then. */
  startTimeoutMs?: number;
}

export interface SendProactiveResult {
  workflowId: string;
  /** A workflow with this idempotency key already existed: nothing new was started. */
  duplicate: boolean;
}

/** The options the bridge's own API and CLI use, taken from its configuration. */
export function sendOptionsFromConfig(
  config: BridgeConfig,
): Omit<SendProactiveOptions, 'idempotencyKey'> {
  return {
    taskQueue: config.temporal.taskQueue,
    defaultAccountId: config.chatwoot.accountId,
    policy: chatwootRetryPolicy(config.delivery),
    startTimeoutMs: config.temporal.startTimeoutMs,
  };
}

/** Printable ASCII without spaces, so the key reads well inside the workflow id. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * Checks a request without contacting anyone and turns it into the workflow's input (with its
 * idempotency key). Throws ProactiveRequestError naming the field to fix.
 */
export function prepareProactiveMessage(
  request: ProactiveMessageRequest,
  options: SendProactiveOptions,
): { input: ProactiveMessageInput; idempotencyKey: string } {
  const parsed = proactiveMessageSchema.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // An unknown key (often a typo such as `conversation_id`) is named itself.
    const path = [
      ...(issue?.path ?? []),
      ...(issue?.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : []),
    ];
    throw new ProactiveRequestError(path.join('.') || '(body)', issue?.message ?? 'is invalid');
  }
  const message = parsed.data;
  const accountId = message.accountId ?? options.defaultAccountId;
  if (accountId === undefined) {
    throw new ProactiveRequestError('accountId', 'required (no chatwoot.accountId configured)');
  }
  const idempotencyKey = options.idempotencyKey ?? randomUUID();
  if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw new ProactiveRequestError(
      'idempotencyKey',
      'use 1 to 200 printable characters without spaces',
    );
  }
  const target: ProactiveTarget =
    message.conversationId !== undefined
      ? { conversationId: message.conversationId }
      : { inboxId: message.inboxId as number, contact: message.contact ?? {} };
  return {
    idempotencyKey,
    input: {
      accountId,
      target,
      content: message.content,
      private: message.private,
      ...(message.agentId ? { agentId: message.agentId } : {}),
      ...(message.sendAt ? { sendAt: message.sendAt } : {}),
      policy: options.policy ?? chatwootRetryPolicy(deliverySchema.parse({})),
    },
  };
}

/**
 * Starts the proactive message workflow. Resolves once Temporal has durably accepted it; the
 * message itself is posted by the bridge's workers (at `sendAt`, when given).
 */
export async function sendProactiveMessage(
  client: Client,
  request: ProactiveMessageRequest,
  options: SendProactiveOptions,
): Promise<SendProactiveResult> {
  const { input, idempotencyKey } = prepareProactiveMessage(request, options);
  const delayMs = input.sendAt ? Date.parse(input.sendAt) - Date.now() : 0;
  const workflowId = proactiveWorkflowId(input.accountId, idempotencyKey);

  try {
    const start = () =>
      client.workflow.start(proactiveMessageWorkflow, {
        workflowId,
        taskQueue: options.taskQueue,
        args: [input],
        // Completed or not, the key stays taken for the namespace's retention period.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        ...(delayMs > 0 ? { startDelay: delayMs } : {}),
        staticSummary: summarize(input),
        typedSearchAttributes: initialSearchAttributes(input, delayMs > 0),
      });
    await (options.startTimeoutMs === undefined
      ? start()
      : client.withDeadline(Date.now() + options.startTimeoutMs, start));
    return { workflowId, duplicate: false };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      return { workflowId, duplicate: true };
    }
    throw new TemporalUnavailableError(
      `Temporal did not accept ${workflowId}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** `proactive → conversation 12: "Hello..."` or `proactive → inbox 3, email a@b.c: "Hello..."`. */
function summarize(input: ProactiveMessageInput): string {
  const where =
    'conversationId' in input.target
      ? `conversation ${input.target.conversationId}`
      : `inbox ${input.target.inboxId}, ${markdownText(describeContact(input.target.contact))}`;
  const kind = input.private ? ' (private note)' : '';
  return `proactive → ${where}${kind}: "${markdownText(previewText(input.content))}"`;
}

function initialSearchAttributes(
  input: ProactiveMessageInput,
  delayed: boolean,
): SearchAttributePair[] {
  const { target } = input;
  return [
    { key: searchAttributes.accountId, value: String(input.accountId) },
    ...('conversationId' in target
      ? [{ key: searchAttributes.conversationId, value: String(target.conversationId) }]
      : [{ key: searchAttributes.inboxId, value: String(target.inboxId) }]),
    ...(input.agentId ? [{ key: searchAttributes.agentId, value: input.agentId }] : []),
    { key: searchAttributes.deliveryStatus, value: delayed ? 'scheduled' : 'sending' },
  ];
}
