import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  log,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BridgeActivities } from '../activities/index.js';
import { bridgeSourceId } from '../chatwoot/sourceId.js';
import { chatwootOptions } from './activityOptions.js';
import { markdownText } from './markdownText.js';
import {
  describeContact,
  type ProactiveMessageInput,
  type ProactiveReport,
  type ProactiveStatus,
} from './proactiveTypes.js';
import { searchAttributes } from './searchAttributes.js';

/** Must match activities/proactive.ts (not importable here: workflows import no activity code). */
const NOT_FOUND_FAILURE = 'ChatwootNotFound';

/**
 * A message the bridge sends on its own initiative (seed 000's agent-initiated flow):
 * resolve the conversation (an existing one, or a contact found or created in an inbox and
 * its conversation found or created) → post. Every step retries like any Chatwoot call; a
 * target that does not exist ends the workflow with `outcome: "failed"` and the reason.
 */
export async function proactiveMessageWorkflow(
  input: ProactiveMessageInput,
): Promise<ProactiveReport> {
  const { workflowId } = workflowInfo();
  const { accountId, target } = input;
  const options = chatwootOptions(input.policy);
  const chatwoot = proxyActivities<BridgeActivities>(options);
  const report: ProactiveReport = {
    workflowId,
    outcome: 'failed',
    accountId,
    ...('inboxId' in target ? { inboxId: target.inboxId } : {}),
  };
  setStatus('sending');

  let step = 'resolve the contact';
  try {
    let conversationId: number;
    if ('conversationId' in target) {
      conversationId = target.conversationId;
    } else {
      const { inboxId, contact } = target;
      const resolved = await chatwoot.resolveContact.executeWithOptions(
        {
          ...options,
          summary: `find or create contact (${markdownText(describeContact(contact))}) in inbox ${inboxId}`,
        },
        [{ accountId, inboxId, contact }],
      );
      report.contactId = resolved.contactId;
      report.contactCreated = resolved.created;

      step = 'find or create the conversation';
      const conversation = await chatwoot.findOrCreateConversation.executeWithOptions(
        {
          ...options,
          summary: `find or create the conversation of contact ${resolved.contactId} in inbox ${inboxId}`,
        },
        [{ accountId, inboxId, contactId: resolved.contactId, sourceId: resolved.sourceId }],
      );
      conversationId = conversation.conversationId;
      report.conversationCreated = conversation.created;
      upsertSearchAttributes([
        { key: searchAttributes.conversationId, value: String(conversationId) },
      ]);
    }
    report.conversationId = conversationId;

    step = 'post the message';
    const posted = await chatwoot.createMessage.executeWithOptions(
      {
        ...options,
        summary: `post ${input.private ? 'private note' : 'message'} to conversation ${conversationId}`,
      },
      [
        {
          accountId,
          conversationId,
          content: input.content,
          private: input.private,
          sourceId: bridgeSourceId(workflowId, 0),
        },
      ],
    );
    setStatus('delivered');
    return {
      ...report,
      outcome: 'delivered',
      chatwootMessageId: posted.chatwootMessageId,
      alreadyPosted: posted.alreadyPosted,
      postedAt: new Date().toISOString(),
    };
  } catch (error) {
    if (isCancellation(error)) throw error;
    const reason = failureReason(error, step, report.conversationId);
    log.warn('proactive message failed', { reason });
    setStatus('failed');
    return { ...report, outcome: 'failed', reason };
  }
}

function setStatus(status: ProactiveStatus): void {
  upsertSearchAttributes([{ key: searchAttributes.deliveryStatus, value: status }]);
}

/** `inbox 99 not found`, `conversation 12 not found`, or the step and Chatwoot's error. */
function failureReason(error: unknown, step: string, conversationId: number | undefined): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    if (cause.type === NOT_FOUND_FAILURE) return cause.message;
    if (cause.type === 'ChatwootHttp404' && conversationId !== undefined) {
      return `conversation ${conversationId} not found`;
    }
  }
  const detail = cause instanceof Error ? cause.message : String(cause);
  return `could not ${step}: ${detail}`;
}
