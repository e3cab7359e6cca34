import type { SocketioAgentConfig } from '../../config/schema.js';
import type { AgentTransport } from '../types.js';
import { runSocketioExchange } from './exchange.js';

/** `transport: "socketio"` agents: AIWM over Socket.IO (seed 004). */
export const aiwmTransport: AgentTransport<SocketioAgentConfig> = {
  id: 'aiwm',
  serves: (agent): agent is SocketioAgentConfig => agent.transport === 'socketio',
  runExchange: (agent, turn, hooks) => runSocketioExchange(agent, turn, hooks),
};
