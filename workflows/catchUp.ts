import { log, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { BridgeActivities } from '../activities/index.js';
import { chatwootOptions } from './activityOptions.js';
import {
  describeCatchUp,
  type CatchUpInput,
  type CatchUpReport,
  type MissedConversation,
} from './catchUpShared.js';

const planner = proxyActivities<BridgeActivities>({
  // Lists pages of conversations and their messages: long, but it heartbeats every page.
  startToCloseTimeout: '10 minutes',
  // Above one Chatwoot request (10 s by default): a killed worker's run is retried soon, since
  // the schedule skips every run while this one waits.
  heartbeatTimeout: '30 seconds',
  // A short retry: the schedule skips its runs while this one waits, and the next run reads
  // the same window again anyway (a Chatwoot 429 or 5xx storm must not hold catch-up back).
  retry: { initialInterval: '1 second', maximumInterval: '4 seconds', maximumAttempts: 4 },
});
const handOver = proxyActivities<BridgeActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});
/** Signals only, each heartbeated: a killed worker's attempt is retried in seconds, not a minute. */
const toActors = proxyActivities<BridgeActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 10 },
});

/**
 * One catch-up run for one account, started by its Schedule: find the customer messages whose
 * webhook Chatwoot gave up on and hand each to its conversation actor, as the webhook would have;
 * too old ones go to the team. Safe to run twice over the same window: the actor drops message
 * ids it has seen, and a message id never starts a second delivery.
 */
export async function catchUpWorkflow(input: CatchUpInput): Promise<CatchUpReport> {
  const { accountId } = input;
  setCurrentDetails('listing conversations with activity since the last run');
  const plan = await planner.planCatchUp({ accountId, workflowId: workflowInfo().workflowId });
  const chatwoot = chatwootOptions(plan.chatwootPolicy);
  const tally = {
    caughtUpMessages: 0,
    caughtUpConversations: 0,
    handedToTeamMessages: 0,
    handedToTeamConversations: 0,
    backToPending: 0,
  };
  let failures = 0;

  const show = (doing?: string) => {
    const base = describeCatchUp({ ...tally, sinceMs: plan.sinceMs, cursorMs: 0, leftAlone: 0 });
    setCurrentDetails(doing ? `${base}; ${doing}` : base);
  };

  for (const conversation of plan.conversations) {
    show(`now conversation ${conversation.conversationId}`);
    try {
      await catchUpConversation(accountId, conversation, chatwoot);
      if (conversation.action === 'answer') {
        tally.caughtUpMessages += conversation.messages.length;
        tally.caughtUpConversations += 1;
      } else if (conversation.action === 'hand_to_team') {
        tally.handedToTeamMessages += conversation.messages.length;
        tally.handedToTeamConversations += 1;
      } else {
        tally.backToPending += 1;
      }
    } catch (error) {
      // One conversation must not stop the others; the next run covers this window again.
      failures += 1;
      log.error('catch-up of a conversation failed', {
        conversationId: conversation.conversationId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  const finished = plan.complete && failures === 0;
  const counts = {
    ...tally,
    sinceMs: plan.sinceMs,
    cursorMs: finished ? plan.listedAtMs : plan.sinceMs,
    leftAlone: plan.leftAlone,
  };
  const summary =
    describeCatchUp(counts) +
    (failures ? `; ${failures} conversation(s) failed, retried next run` : '') +
    (plan.complete ? '' : '; more conversations than one run reads, continued next run');
  setCurrentDetails(summary);
  return { ...counts, summary };
}

async function catchUpConversation(
  accountId: number,
  conversation: MissedConversation,
  chatwoot: ReturnType<typeof chatwootOptions>,
): Promise<void> {
  const { conversationId } = conversation;
  const ref = { accountId, conversationId };
  switch (conversation.action) {
    case 'answer': {
      // Chatwoot opened it only because the bot's webhook failed: the bot takes it back.
      if (conversation.reopened) {
        await handOver.setConversationStatus.executeWithOptions(
          {
            ...chatwoot,
            summary: `conversation ${conversationId} back to pending (the bot answers)`,
          },
          [{ ...ref, status: 'pending' }],
        );
      }
      await toActors.handMissedMessages.executeWithOptions(
        {
          summary: `hand ${conversation.messages.length} missed message(s) of conversation ${conversationId} to ${conversation.agentId}`,
        },
        [{ accountId, conversation }],
      );
      return;
    }
    case 'hand_to_team':
      await handOver.handMissedToTeam.executeWithOptions(
        {
          ...chatwoot,
          summary: `conversation ${conversationId}: ${conversation.messages.length} message(s) too old, to the team`,
        },
        [{ accountId, conversation }],
      );
      return;
    case 'back_to_pending':
      await handOver.setConversationStatus.executeWithOptions(
        {
          ...chatwoot,
          summary: `conversation ${conversationId} back to pending (the bot answered)`,
        },
        [{ ...ref, status: 'pending' }],
      );
  }
}
