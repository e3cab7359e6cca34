import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { floorReplySignal } from './workflows.js';

/** Stdout line a floor post writes, so the benchmark times it like a reply Chatwoot stored. */
export const POSTED_LINE = 'floor posted';

/** Activities that do nothing but what the shape counts (heartbeats, signals). */
export function createFloorActivities(client: Client) {
  return {
    floorTyping: (): Promise<void> => Promise.resolve(),
    floorExchange: async ({ heartbeats, signals }: { heartbeats: number; signals: number }) => {
      const context = Context.current();
      for (let i = 0; i < heartbeats; i++) context.heartbeat(i);
      const workflowId = context.info.workflowExecution?.workflowId;
      if (!workflowId) throw new Error('floorExchange runs inside a workflow');
      const handle = client.workflow.getHandle(workflowId);
      for (let i = 0; i < signals; i++) await handle.signal(floorReplySignal, i);
    },
    floorPost: (messageId: number, reply: number): Promise<void> => {
      process.stdout.write(`${POSTED_LINE} ${messageId} ${reply} ${Date.now()}\n`);
      return Promise.resolve();
    },
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;
