import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { runAgentExchange, turnFromMessage } from '../agents/transport.js';
import type { AgentConfig } from '../config/schema.js';
import type { ConnectionPhase } from '../machines/connection.js';
import {
  agentReplySignal,
  type AgentReply,
  type ExchangeResult,
  type MessageDeliveryInput,
} from '../workflows/shared.js';

export interface AgentExchangeInput {
  agentId: string;
  attempt: number;
  /** Replies 0..skipReplies-1 already reached the workflow in an earlier attempt: do not resend them. */
  skipReplies: number;
  message: MessageDeliveryInput;
}

export interface AgentExchangeDeps {
  agents: ReadonlyMap<string, AgentConfig>;
  /** Used to hand each reply to the calling workflow as soon as it arrives. */
  temporal: Client;
}

export function createAgentExchangeActivity({ agents, temporal }: AgentExchangeDeps) {
  return {
    async agentExchange(input: AgentExchangeInput): Promise<ExchangeResult> {
      const context = Context.current();
      const agent = agents.get(input.agentId);
      if (!agent) {
        throw ApplicationFailure.nonRetryable(
          `agent "${input.agentId}" is not configured on this worker`,
          'UnknownAgent',
        );
      }
      const workflowId = context.info.workflowExecution?.workflowId;
      if (!workflowId)
        throw ApplicationFailure.nonRetryable('agentExchange must run inside a workflow');
      const workflow = temporal.workflow.getHandle(workflowId);

      // Heartbeats carry progress; the interval keeps a silent-but-alive exchange from timing out.
      let progress: { phase: ConnectionPhase; replies: number; activity?: string } = {
        phase: 'idle',
        replies: 0,
      };
      const beat = () => context.heartbeat(progress);
      const heartbeatEvery = Math.max(
        100,
        Math.floor((context.info.heartbeatTimeoutMs ?? 30_000) / 3),
      );
      const timer = setInterval(beat, heartbeatEvery);

      const replies: AgentReply[] = [];
      try {
        const output = await runAgentExchange(
          agent,
          turnFromMessage(input.agentId, input.attempt, input.message),
          {
            signal: context.cancellationSignal,
            onPhase: (phase, count, activity) => {
              progress = { phase, replies: count, ...(activity ? { activity } : {}) };
              beat();
            },
            onReply: async (reply, index) => {
              if (index < input.skipReplies) return;
              const agentReply: AgentReply = { attempt: input.attempt, index, ...reply };
              replies.push(agentReply);
              await workflow.signal(agentReplySignal, agentReply);
            },
          },
        );
        if (output.outcome === 'failed') {
          if (output.reason === 'cancelled' && context.cancellationSignal.aborted) {
            throw context.cancellationSignal.reason ?? new Error('cancelled');
          }
          throw ApplicationFailure.create({
            type: `Agent_${output.reason}`,
            message: `${output.detail} (after ${output.replies} replies)`,
            nonRetryable: !output.retryable,
            details: [{ reason: output.reason, replies: output.replies }],
          });
        }
        return { endReason: output.endReason, replies };
      } finally {
        clearInterval(timer);
      }
    },
  };
}
