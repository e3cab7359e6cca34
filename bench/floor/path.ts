import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import type { Replies, Sample, Target } from '../loadGenerator.js';
import type { ReplyAudit } from '../measure.js';
import type { DeliveryShape } from './shape.js';
import { floorConversationWorkflow, floorMessageSignal } from './workflows.js';

/** What the floor workers' do-nothing posts reported, keyed `messageId:replyIndex`. */
export class FloorPosts implements Replies {
  private readonly firstAt = new Map<string, number>();
  private readonly waiting = new Map<string, (at: number) => void>();
  readonly counts = new Map<string, number>();

  /** Called for each post line of a floor worker (epoch ms, same machine clock). */
  posted(messageId: number, reply: number, atEpochMs: number): void {
    const key = floorReplyKey(messageId, reply);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (this.firstAt.has(key)) return;
    const at = atEpochMs - performance.timeOrigin;
    this.firstAt.set(key, at);
    this.waiting.get(key)?.(at);
    this.waiting.delete(key);
  }

  expect(key: string): Promise<number> {
    const at = this.firstAt.get(key);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve) => this.waiting.set(key, resolve));
  }

  repliedAt(key: string): number | undefined {
    return this.firstAt.get(key);
  }

  /** Replies of these samples posted more than once (the floor posts nothing else). */
  audit(replies: number) {
    return (samples: Sample[]): ReplyAudit => ({
      duplicated: samples.filter((sample) =>
        Array.from({ length: replies }, (_, i) => floorReplyKey(sample.messageId, i)).some(
          (key) => (this.counts.get(key) ?? 0) > 1,
        ),
      ).length,
      duplicateMarkers: 0,
      unexpected: 0,
    });
  }
}

export const floorReplyKey = (messageId: number, reply: number) => `${messageId}:${reply}`;

/** The floor path: the bench signals-with-start a parent per conversation, as the API does. */
export function floorTarget(options: {
  name: string;
  client: Client;
  taskQueue: string;
  accountId: number;
  replies: number;
  shape: DeliveryShape;
  posts: FloorPosts;
}): Target {
  const { client, taskQueue, accountId, replies, shape } = options;
  return {
    name: options.name,
    accountId,
    replies: options.posts,
    answeredBy: (sample) => floorReplyKey(sample.messageId, replies - 1),
    async send(sample: Sample) {
      sample.sentAt = performance.now();
      try {
        await client.workflow.signalWithStart(floorConversationWorkflow, {
          workflowId: `floor:${accountId}:${sample.conversationId}`,
          taskQueue,
          signal: floorMessageSignal,
          signalArgs: [{ messageId: sample.messageId, replies, shape }],
        });
        sample.httpStatus = 200;
      } catch (error) {
        sample.httpError = error instanceof Error ? error.message : String(error);
      }
      sample.ackMs = performance.now() - sample.sentAt;
    },
  };
}
