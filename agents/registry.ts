import type { AgentConfig } from '../config/schema.js';
import type { ConnectionOutput } from '../machines/connection.js';
import { aiwmTransport } from './aiwm/transport.js';
import { bridgeV1Transport } from './bridgeV1/transport.js';
import { pullTransport } from './pull/transport.js';
import type { AgentTransport, AgentTurn, ExchangeHooks } from './types.js';
import { unifiedTransport } from './unified/transport.js';

/** Every transport the bridge speaks: a new one is added here and in its own folder. */
export const AGENT_TRANSPORTS: readonly AgentTransport[] = [
  bridgeV1Transport,
  unifiedTransport,
  aiwmTransport,
  pullTransport,
];

/** The transport that speaks to a configured agent. */
export function transportFor(agent: AgentConfig): AgentTransport {
  const transport = AGENT_TRANSPORTS.find((candidate) => candidate.serves(agent));
  if (!transport) {
    throw new Error(`no transport speaks to agent "${agent.id}" (transport "${agent.transport}")`);
  }
  return transport;
}

/** Runs one exchange with the agent over its configured transport. */
export function runAgentExchange(
  agent: AgentConfig,
  turn: AgentTurn,
  hooks: ExchangeHooks,
): Promise<ConnectionOutput> {
  return transportFor(agent).runExchange(agent, turn, hooks);
}
