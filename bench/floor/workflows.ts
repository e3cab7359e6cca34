/**
 * Temporal's floor: a parent per conversation fed by signal-with-start, one child per message
 * with the bridge delivery's shape (bench/floor/shape.ts), and activities that do nothing.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import {
  condition,
  defineSignal,
  executeChild,
  proxyActivities,
  patched,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { FloorActivities } from './activities.js';
import { exchangePostsReplies, signalledReplies, type DeliveryShape } from './shape.js';

export interface FloorMessage {
  messageId: number;
  replies: number;
  shape: DeliveryShape;
}

export const floorMessageSignal = defineSignal<[FloorMessage]>('floorMessage');
export const floorReplySignal = defineSignal<[number]>('floorReply');

/** Search attribute the floor upserts, as the bridge upserts its delivery status. */
const status = defineSearchAttributeKey('DeliveryStatus', SearchAttributeType.KEYWORD);

export const floorAgentQueue = (taskQueue: string) => `${taskQueue}-agents`;

/** Like the conversation actor: messages in arrival order, one child at a time. */
export async function floorConversationWorkflow(): Promise<void> {
  const queue: FloorMessage[] = [];
  setHandler(floorMessageSignal, (message) => {
    queue.push(message);
  });
  for (;;) {
    await condition(() => queue.length > 0);
    const message = queue.shift() as FloorMessage;
    await executeChild(floorDeliveryWorkflow, {
      workflowId: `floor-message:${message.messageId}`,
      args: [message],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      parentClosePolicy: 'ABANDON',
    });
  }
}

const typing = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '10 seconds' });
const posts = proxyActivities<FloorActivities>({ startToCloseTimeout: '10 seconds' });

export async function floorDeliveryWorkflow(message: FloorMessage): Promise<void> {
  const { shape, replies } = message;
  let received = 0;
  setHandler(floorReplySignal, () => {
    received += 1;
  });
  const exchange = proxyActivities<FloorActivities>({
    taskQueue: floorAgentQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '30 seconds',
    heartbeatTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });
  const upsert = (value: string) => upsertSearchAttributes([{ key: status, value }]);

  for (let i = 0; i < shape.patches; i++) patched(`floor-patch-${i}`);
  for (let i = 0; i < shape.localActivitiesBefore; i++) await typing.floorTyping();
  for (let i = 0; i < shape.upsertsBefore; i++) upsert('exchanging');
  const signalled = signalledReplies(shape, replies);
  let exchangeDone = false;
  const exchanged = exchange
    .floorExchange({
      heartbeats: shape.exchangeHeartbeats,
      replies: signalled,
      signalsPerReply: shape.signalsPerReply,
      ...(exchangePostsReplies(shape, replies)
        ? { post: { messageId: message.messageId, replies } }
        : {}),
    })
    .finally(() => {
      exchangeDone = true;
    });
  for (let reply = 0; reply < replies; reply++) {
    // Posted as it arrives, while the exchange still runs, as the bridge does.
    await condition(() =>
      reply < signalled ? received >= (reply + 1) * shape.signalsPerReply : exchangeDone,
    );
    if (exchangePostsReplies(shape, replies)) continue;
    for (let i = 0; i < shape.postsPerReply; i++)
      await posts.floorPost(message.messageId, reply, shape.postHeartbeats);
  }
  await exchanged;
  for (let i = 0; i < shape.localActivitiesAfter; i++) await typing.floorTyping();
  for (let i = 0; i < shape.upsertsAfter; i++) upsert('delivered');
}
