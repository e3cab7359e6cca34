import { describe, expect, it } from 'vitest';
import { LiveConfig } from '../config/live.js';
import { ConfigError, parseConfig } from '../config/load.js';

const base = {
  chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: 'x' },
  agents: [
    { id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:9001/echo' },
    { id: 'old', transport: 'ws', url: 'ws://127.0.0.1:9001/old' },
  ],
  routes: [{ inboxId: 7, agentId: 'old' }],
};

describe('LiveConfig', () => {
  it('puts the next configuration in force and keeps reaching agents a reload removed', () => {
    const next = parseConfig({
      ...base,
      agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:9002/echo' }],
      routes: [{ inboxId: 7, agentId: 'echo' }],
    });
    const live = new LiveConfig(parseConfig(base), () => next);
    live.reload();
    expect(live.current().routes).toEqual([{ inboxId: 7, agentId: 'echo' }]);
    expect(live.agents.get('echo')).toMatchObject({ url: 'ws://127.0.0.1:9002/echo' });
    // A delivery started before the reload still finds its agent.
    expect(live.agents.get('old')).toMatchObject({ id: 'old' });
    expect(live.current().agents.map((agent) => agent.id)).toEqual(['echo']);
    expect(live.agents.get('never')).toBeUndefined();
  });

  it('adds no empty section for a restart-only key that was never set (the next reload stays valid)', () => {
    const live = new LiveConfig(parseConfig(base));
    live.replace(parseConfig(base));
    expect(live.current().temporal.encryption).toBeUndefined();
    expect(live.current().temporal).not.toHaveProperty('tls');
    // What a reload writes back out must parse again (test/reloadDoors.test.ts reloads twice).
    expect(() => parseConfig(JSON.parse(JSON.stringify(live.current())))).not.toThrow();
  });

  it('keeps the configuration in force when the new one is invalid', () => {
    const first = parseConfig(base);
    const live = new LiveConfig(first, () => parseConfig({ ...base, agents: [] }));
    expect(() => live.reload()).toThrow(ConfigError);
    expect(live.current()).toBe(first);
  });

  it('keeps restart-only sections and names the ones that changed', () => {
    const live = new LiveConfig(parseConfig(base));
    const result = live.replace(
      parseConfig({
        ...base,
        webhook: { secrets: ['rotated'] },
        temporal: { taskQueue: 'elsewhere' },
        delivery: { fallbackMessage: 'Back soon' },
      }),
    );
    expect(result.restartRequired).toEqual(['webhook.secrets', 'temporal.taskQueue']);
    expect(live.current().webhook.secrets).toEqual([]);
    expect(live.current().temporal.taskQueue).toBe('chatwoot-bridge');
    expect(live.current().delivery.fallbackMessage).toBe('Back soon');
  });
});
