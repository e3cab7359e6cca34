import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { floorReplySignal } from './workflows.js';

/** Stdout line a floor post writes, so the benchmark times it like a reply Chatwoot stored. */
export const POSTED_LINE = 'floor posted';

/** Activities that do nothing but what the shape counts (heartbeats, signals). */
export function createFloorActivities(client: Client) {
  return {
    floorTyping: (): Promise<void> => Promise.resolve(),
    floorExchange: async (input: {
      heartbeats: number;
      replies: number;
      signalsPerReply: number;
      /** Post this message's replies here, each before its signal, as the bridge's exchange does. */
      post?: { messageId: number; replies: number };
    }) => {
      const context = Context.current();
      const workflowId = context.info.workflowExecution?.workflowId;
      if (!workflowId) throw new Error('floorExchange runs inside a workflow');
      for (let i = 0; i < input.heartbeats; i++) context.heartbeat(i);
      const handle = client.workflow.getHandle(workflowId);
      const total = input.post?.replies ?? input.replies;
      for (let reply = 0; reply < total; reply++) {
        if (input.post) {
          process.stdout.write(`${POSTED_LINE} ${input.post.messageId} ${reply} ${Date.now()}\n`);
        }
        if (reply >= input.replies) continue;
        for (let i = 0; i < input.signalsPerReply; i++)
          await handle.signal(floorReplySignal, reply);
      }
    },
    floorPost: (messageId: number, reply: number, heartbeats: number): Promise<void> => {
      for (let i = 0; i < heartbeats; i++) Context.current().heartbeat(i);
      process.stdout.write(`${POSTED_LINE} ${messageId} ${reply} ${Date.now()}\n`);
      return Promise.resolve();
    },
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;
