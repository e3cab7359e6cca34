import { describe, expect, it } from 'vitest';
import { AGENT_TRANSPORTS, runAgentExchange, transportFor } from '../agents/registry.js';
import type { AgentTurn } from '../agents/types.js';
import { agentConfigSchema } from '../config/schema.js';

/** agents/registry.ts: every configured agent is spoken to by exactly one transport. */
describe('agent transport registry', () => {
  const configs = {
    'bridge-v1': { transport: 'ws', url: 'ws://127.0.0.1:1/echo' },
    unified: { transport: 'ws', protocol: 'unified', url: 'ws://127.0.0.1:1/unified/echo' },
    aiwm: { transport: 'socketio', apiBase: 'http://127.0.0.1:1', secret: 's' },
    pull: { transport: 'pull', apiKey: 'a-key-of-sixteen-chars' },
  };

  it.each(Object.entries(configs))('%s: exactly one transport serves it', (id, config) => {
    const agent = agentConfigSchema.parse({ id: 'a', ...config });
    expect(AGENT_TRANSPORTS.filter((transport) => transport.serves(agent))).toHaveLength(1);
    expect(transportFor(agent).id).toBe(id);
  });

  it('a bridge-v1 agent is the default for ws (no protocol given)', () => {
    const agent = agentConfigSchema.parse({ id: 'a', transport: 'ws', url: 'ws://x/echo' });
    expect(transportFor(agent).id).toBe('bridge-v1');
  });

  it('a pull agent has no exchange to run: the promise says so', async () => {
    const agent = agentConfigSchema.parse({ id: 'p', ...configs.pull });
    await expect(
      runAgentExchange(agent, {} as AgentTurn, { onReply: () => undefined }),
    ).rejects.toThrow('agent "p" pulls its turns over HTTP; there is no exchange to run');
  });
});
