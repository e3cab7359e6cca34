import type { proxyActivities } from '@temporalio/workflow';
import type { BridgeActivities } from '../activities/index.js';
import { bridgeSourceId } from '../chatwoot/sourceId.js';
import { chatwootOptions, lateCommitGraceMs, postOptions } from './activityOptions.js';
import type { DeliveryPolicy, HumanRequest } from './shared.js';

/** What the conversation machine's `startHandOver` carries: the request and how hard to try. */
export interface HandOverOrder {
  request: HumanRequest;
  policy: DeliveryPolicy;
}

type Chatwoot = ReturnType<typeof proxyActivities<BridgeActivities>>;

/**
 * A customer asked for a person: the acknowledgement (if any), the conversation opened, a private
 * note saying why. Each step is its own activity, retried like a post; the posts carry markers
 * derived from the actor and the request's key, so a retry or a rerun never posts twice.
 * Returns the Chatwoot ids of what it posted (the actor's own messages).
 */
export async function handOverToTeam(
  chatwoot: Chatwoot,
  conversation: { accountId: number; conversationId: number; actorId: string },
  { request, policy }: HandOverOrder,
): Promise<number[]> {
  const { accountId, conversationId, actorId } = conversation;
  const post = (summary: string, part: string, content: string, isPrivate: boolean) =>
    chatwoot.createMessage.executeWithOptions({ ...postOptions(policy), summary }, [
      {
        accountId,
        conversationId,
        content,
        private: isPrivate,
        sourceId: bridgeSourceId(actorId, `human-request-${request.key}-${part}`),
        lateCommitGraceMs: lateCommitGraceMs(policy),
      },
    ]);
  const posted: number[] = [];
  if (request.acknowledgement !== undefined) {
    const ack = await post(
      'acknowledge: the customer asked for a person',
      'ack',
      request.acknowledgement,
      false,
    );
    posted.push(ack.chatwootMessageId);
  }
  await chatwoot.setConversationStatus.executeWithOptions(
    { ...chatwootOptions(policy), summary: 'open conversation for a human' },
    [{ accountId, conversationId, status: 'open' }],
  );
  const note = await post('private note: why the bot handed over', 'note', request.note, true);
  posted.push(note.chatwootMessageId);
  return posted;
}
