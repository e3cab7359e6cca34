import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { AgentConfig } from '../config/schema.js';
import type { ConnectionPhase, EndReason, FailureReason } from '../machines/connection.js';
import { runAgentExchange } from './registry.js';
import type { TurnLock } from './turnLock.js';

/** Phases only reached once the connection is open. */
const CONNECTED_PHASES = new Set<ConnectionPhase>(['sending', 'awaitingReply', 'streaming']);

export interface ProbeReply {
  index: number;
  content: string;
  final: boolean;
  metadata: Record<string, unknown>;
  /** Since the probe started. */
  atMs: number;
}

export interface ProbeResult {
  agentId: string;
  transport: AgentConfig['transport'];
  outcome: 'completed' | 'failed';
  endReason?: EndReason;
  reason?: FailureReason;
  detail?: string;
  replies: ProbeReply[];
  timings: {
    /** Connection open (absent when it never opened). */
    connectMs?: number;
    /** First reply received (absent without replies). */
    firstReplyMs?: number;
    /** Whole exchange, socket closed. */
    totalMs: number;
  };
}

/**
 * One real exchange with an agent, outside any workflow and without Chatwoot: the operator's
 * "is this agent answering, and how fast?". The turn uses conversation/message id 0 and a
 * fresh `probe:` session id, so an agent can tell it from customer traffic.
 */
export async function probeAgent(
  agent: AgentConfig,
  content: string,
  options: { signal?: AbortSignal; turnLock?: TurnLock } = {},
): Promise<ProbeResult> {
  const { signal, turnLock } = options;
  const startedAt = performance.now();
  const since = () => Math.round(performance.now() - startedAt);
  const replies: ProbeReply[] = [];
  let connectMs: number | undefined;

  const output = await runAgentExchange(
    agent,
    {
      agentId: agent.id,
      attempt: 1,
      sessionId: `probe:${randomUUID()}`,
      accountId: 0,
      conversationId: 0,
      inboxId: 0,
      messageId: 0,
      messageIds: [0],
      content,
      attachments: [],
      sender: { name: 'chatwoot-bridge probe' },
    },
    {
      ...(signal ? { signal } : {}),
      ...(turnLock ? { turnLock } : {}),
      onPhase: (phase) => {
        if (connectMs === undefined && CONNECTED_PHASES.has(phase)) connectMs = since();
      },
      onReply: (reply, index) => {
        replies.push({ index, ...reply, atMs: since() });
      },
    },
  );

  const timings: ProbeResult['timings'] = {
    ...(connectMs !== undefined ? { connectMs } : {}),
    ...(replies[0] ? { firstReplyMs: replies[0].atMs } : {}),
    totalMs: since(),
  };
  const base = { agentId: agent.id, transport: agent.transport, replies, timings };
  return output.outcome === 'completed'
    ? { ...base, outcome: 'completed', endReason: output.endReason }
    : { ...base, outcome: 'failed', reason: output.reason, detail: output.detail };
}
