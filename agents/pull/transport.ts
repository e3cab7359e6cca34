import type { PullAgentConfig } from '../../config/schema.js';
import type { AgentTransport } from '../types.js';

/**
 * `transport: "pull"` agents (seed 003) fetch their turns over HTTP (api/pullAgents.ts) and the
 * delivery workflow waits for their replies itself (workflows/pullExchange.ts): there is no
 * exchange activity to run. The turn they get is the `bridge-v1` request
 * (activities/pullAgents.ts).
 */
export const pullTransport: AgentTransport<PullAgentConfig> = {
  id: 'pull',
  serves: (agent): agent is PullAgentConfig => agent.transport === 'pull',
  runExchange: (agent) =>
    Promise.reject(
      new Error(`agent "${agent.id}" pulls its turns over HTTP; there is no exchange to run`),
    ),
};
