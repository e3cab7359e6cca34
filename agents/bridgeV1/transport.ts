import type { WsAgentConfig } from '../../config/schema.js';
import type { AgentTransport } from '../types.js';
import { runBridgeV1Exchange } from './exchange.js';
import { bridgeV1Request } from './protocol.js';

/** `transport: "ws"` agents speaking `bridge-v1` (seed 000), the default WebSocket protocol. */
export const bridgeV1Transport: AgentTransport<WsAgentConfig> = {
  id: 'bridge-v1',
  serves: (agent): agent is WsAgentConfig =>
    agent.transport === 'ws' && agent.protocol !== 'unified',
  runExchange: (agent, turn, hooks) => runBridgeV1Exchange(agent, bridgeV1Request(turn), hooks),
};
