import type { WsAgentConfig } from '../../config/schema.js';
import type { AgentTransport } from '../types.js';
import { runUnifiedExchange } from './exchange.js';

/** `transport: "ws"` agents speaking `unified` typed frames (seed 001). */
export const unifiedTransport: AgentTransport<WsAgentConfig> = {
  id: 'unified',
  serves: (agent): agent is WsAgentConfig =>
    agent.transport === 'ws' && agent.protocol === 'unified',
  runExchange: runUnifiedExchange,
};
