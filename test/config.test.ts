import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deliveryPolicy } from '../api/deliveries.js';
import { ConfigError, loadConfig, parseConfig, requireWebhookSecrets } from '../config/load.js';

/** The example from the docs. */
const EXAMPLE = {
  chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: 'x' },
  webhook: { secrets: ['s'] },
  agents: [
    {
      id: 'echo',
      transport: 'ws',
      protocol: 'bridge-v1',
      url: 'ws://127.0.0.1:9001',
      connectTimeoutMs: 2000,
      replyTimeoutMs: 30000,
      maxResponses: 5,
    },
  ],
  routes: [{ inboxId: 7, agentId: 'echo' }],
};

const example = (): Record<string, unknown> => structuredClone(EXAMPLE);
const agent = (overrides: Record<string, unknown> = {}) => ({ ...EXAMPLE.agents[0], ...overrides });

/** The ConfigError message for a configuration that must not parse. */
function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

const dir = mkdtempSync(join(tmpdir(), 'bridge-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function writeTemp(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('parseConfig', () => {
  it('parses the documented example and fills every default', () => {
    const config = parseConfig(example());
    expect(config.chatwoot).toEqual({
      baseUrl: 'http://localhost:3000',
      apiAccessToken: 'x',
      markerInSourceId: false,
    });
    expect(config.webhook).toEqual({
      secrets: ['s'],
      maxBodyBytes: 1_048_576,
      maxDepth: 32,
      toleranceSeconds: 300,
      allowUnsigned: false,
      answerBudgetMs: 4_000,
      retryStatus: 500,
    });
    expect(config.agents).toEqual([
      {
        id: 'echo',
        transport: 'ws',
        protocol: 'bridge-v1',
        url: 'ws://127.0.0.1:9001',
        allowedActions: [],
        connectTimeoutMs: 2000,
        replyTimeoutMs: 30000,
        idleTimeoutMs: 30_000,
        totalTimeoutMs: 120_000,
        maxResponses: 5,
        maxFrameBytes: 1_048_576,
        maxReplyChars: 150_000,
        abortOnNewer: false,
        greeting: [],
        headers: {},
        attachments: {
          allowedHosts: [],
          allowedSchemes: ['https'],
          allowedAddresses: [],
          maxBytes: 10_485_760,
          maxInlineBytes: 262_144,
          allowedTypes: [
            'image/*',
            'audio/*',
            'video/*',
            'application/pdf',
            'text/plain',
            'text/csv',
          ],
          timeoutMs: 10_000,
          maxFiles: 5,
        },
      },
    ]);
    expect(config.routes).toEqual([{ inboxId: 7, agentId: 'echo' }]);
    expect(config.http).toEqual({ port: 8_000, host: '0.0.0.0' });
    expect(config.temporal).toEqual({
      namespace: 'default',
      retentionDays: 7,
      taskQueue: 'chatwoot-bridge',
      startTimeoutMs: 3_000,
    });
    expect(config.temporal.address).toBeUndefined();
    expect(config.delivery).toMatchObject({
      agentRetryWindowMs: 600_000,
      exchangeHeartbeatTimeoutMs: 10_000,
      chatwootRetryWindowMs: 3_600_000,
      chatwootRequestTimeoutMs: 10_000,
    });
    expect(config.delivery.fallbackMessage.length).toBeGreaterThan(0);
    // Bounded, not the SDK's heap-sized default: idle actors must not fill the worker's memory.
    expect(config.worker).toMatchObject({ maxCachedWorkflows: 300, maxConcurrentExchanges: 500 });
  });

  it('fills agent defaults when only id, transport and url are given', () => {
    const config = parseConfig({
      ...example(),
      agents: [{ id: 'echo', transport: 'ws', url: 'wss://agent.example.com/ws' }],
    });
    expect(config.agents[0]).toMatchObject({
      protocol: 'bridge-v1',
      connectTimeoutMs: 2_000,
      replyTimeoutMs: 30_000,
      maxResponses: 5,
    });
    expect(config.webhook.secrets).toEqual(['s']);
  });

  it('allows and keeps extra keys at every level', () => {
    const config = parseConfig({
      ...example(),
      $comment: 'staging',
      chatwoot: { ...EXAMPLE.chatwoot, note: 'self-hosted' },
      agents: [agent({ owner: 'ml-team' })],
      routes: [{ inboxId: 7, agentId: 'echo', label: 'web widget' }],
    });
    expect(config).toMatchObject({
      $comment: 'staging',
      chatwoot: { note: 'self-hosted' },
      agents: [{ owner: 'ml-team' }],
      routes: [{ label: 'web widget' }],
    });
  });

  it('lets the environment win over the file', () => {
    const config = parseConfig(example(), {
      CHATWOOT_BASE_URL: 'https://chat.example.com',
      CHATWOOT_API_TOKEN: 'from-env',
      CHATWOOT_WEBHOOK_SECRET: 'new, old ,,',
      PORT: '9090',
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'bridge',
      TEMPORAL_TASK_QUEUE: 'bridge-q',
    });
    expect(config.chatwoot).toEqual({
      baseUrl: 'https://chat.example.com',
      apiAccessToken: 'from-env',
      markerInSourceId: false,
    });
    expect(config.webhook.secrets).toEqual(['new', 'old']);
    expect(config.http.port).toBe(9090);
    expect(config.temporal).toMatchObject({
      address: 'temporal.internal:7233',
      namespace: 'bridge',
      taskQueue: 'bridge-q',
    });
  });

  it('ignores unset and empty environment variables', () => {
    const config = parseConfig(example(), { CHATWOOT_BASE_URL: '', PORT: undefined });
    expect(config.chatwoot.baseUrl).toBe('http://localhost:3000');
    expect(config.http.port).toBe(8_000);
  });

  it('fills missing sections from the environment', () => {
    const { chatwoot: _chatwoot, ...withoutChatwoot } = example();
    const config = parseConfig(withoutChatwoot, {
      CHATWOOT_BASE_URL: 'http://chatwoot:3000',
      CHATWOOT_API_TOKEN: 'token',
    });
    expect(config.chatwoot).toEqual({
      baseUrl: 'http://chatwoot:3000',
      apiAccessToken: 'token',
      markerInSourceId: false,
    });
  });

  it('does not modify the object it was given', () => {
    const raw = example();
    parseConfig(raw, { CHATWOOT_API_TOKEN: 'from-env', PORT: '9090' });
    expect(raw).toEqual(EXAMPLE);
  });

  it('names PORT when it is not an integer', () => {
    expect(errorOf(() => parseConfig(example(), { PORT: 'eighty' }))).toMatch(/PORT.*"eighty"/);
  });

  it('names http.port when PORT is out of range', () => {
    expect(errorOf(() => parseConfig(example(), { PORT: '70000' }))).toContain('http.port');
  });

  it.each([
    ['not a URL', 'localhost:3000'],
    ['not http(s)', 'ftp://chatwoot.example.com'],
  ])('names chatwoot.baseUrl when it is %s', (_, baseUrl) => {
    const message = errorOf(() =>
      parseConfig({ ...example(), chatwoot: { ...EXAMPLE.chatwoot, baseUrl } }),
    );
    expect(message).toMatch(/^\s+- chatwoot\.baseUrl: /m);
  });

  it('names chatwoot.baseUrl when CHATWOOT_BASE_URL is bad, even with a good file', () => {
    const message = errorOf(() => parseConfig(example(), { CHATWOOT_BASE_URL: 'chatwoot' }));
    expect(message).toContain('chatwoot.baseUrl');
  });

  it('says how to set a missing API token', () => {
    const message = errorOf(() =>
      parseConfig({
        ...example(),
        chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: '' },
      }),
    );
    expect(message).toContain(
      'chatwoot.apiAccessToken: set chatwoot.apiAccessToken or CHATWOOT_API_TOKEN',
    );
  });

  it('names agents.0.url when it is not a WebSocket URL', () => {
    const message = errorOf(() =>
      parseConfig({ ...example(), agents: [agent({ url: 'http://127.0.0.1:9001' })] }),
    );
    expect(message).toContain('agents.0.url: must start with ws:// or wss://');
  });

  it('names the field of a bad second agent', () => {
    const message = errorOf(() =>
      parseConfig({ ...example(), agents: [agent(), agent({ id: 'b', maxResponses: 0 })] }),
    );
    expect(message).toContain('agents.1.maxResponses');
  });

  it('requires at least one agent', () => {
    const message = errorOf(() => parseConfig({ ...example(), agents: [], routes: [] }));
    expect(message).toContain('agents: configure at least one agent');
  });

  it('names routes.N.agentId for a route to an unknown agent, listing the known ones', () => {
    const message = errorOf(() =>
      parseConfig({
        ...example(),
        routes: [
          { inboxId: 7, agentId: 'echo' },
          { inboxId: 8, agentId: 'ehco' },
        ],
      }),
    );
    expect(message).toContain('routes.1.agentId: no agent with id "ehco" (known: echo)');
    expect(message).not.toContain('routes.0');
  });

  it('names routes.0.agentId for the documented example with a typo', () => {
    const message = errorOf(() =>
      parseConfig({ ...example(), routes: [{ inboxId: 7, agentId: 'missing' }] }),
    );
    expect(message).toContain('routes.0.agentId');
  });

  it('rejects an inbox routed twice, naming the second route', () => {
    const message = errorOf(() =>
      parseConfig({
        ...example(),
        routes: [
          { inboxId: 7, agentId: 'echo' },
          { inboxId: 7, agentId: 'echo' },
        ],
      }),
    );
    expect(message).toContain('routes.1.inboxId: inbox 7 is routed twice');
  });

  it.each([
    ['an array', []],
    ['null', null],
    ['a string', 'config'],
  ])('rejects %s at the top level', (_, raw) => {
    expect(errorOf(() => parseConfig(raw))).toContain('the top level must be a JSON object');
  });
});

describe('routes beyond inboxes', () => {
  const agents = [agent(), agent({ id: 'vip' })];
  const withRoutes = (routes: unknown[]) => ({ ...example(), agents, routes });

  it('accepts labels, team, custom attribute and a default route, keeping them as written', () => {
    const routes = [
      { inboxId: 7, labels: ['vip', 'priority'], agentId: 'vip' },
      { teamId: 4, agentId: 'vip' },
      { customAttribute: { name: 'plan', value: 'enterprise' }, agentId: 'vip' },
      { customAttribute: { name: 'tier', value: 2 }, agentId: 'vip' },
      { inboxId: 7, agentId: 'echo' },
      { default: true, agentId: 'echo' },
    ];
    expect(parseConfig(withRoutes(routes)).routes).toEqual(routes);
  });

  it('rejects a route with no matcher that is not the default, saying what to add', () => {
    const message = errorOf(() => parseConfig(withRoutes([{ agentId: 'echo' }])));
    expect(message).toContain(
      'routes.0: give at least one matcher (inboxId, labels, teamId, customAttribute) or mark the route "default": true',
    );
  });

  it('rejects an empty labels list', () => {
    const message = errorOf(() => parseConfig(withRoutes([{ labels: [], agentId: 'echo' }])));
    expect(message).toContain('routes.0.labels: list at least one label, or remove "labels"');
  });

  it('rejects two default routes, naming the second', () => {
    const message = errorOf(() =>
      parseConfig(
        withRoutes([
          { default: true, agentId: 'echo' },
          { default: true, agentId: 'vip' },
        ]),
      ),
    );
    expect(message).toContain(
      'routes.1.default: only one default route is allowed (routes.0 is one already)',
    );
  });

  it('rejects a default route that is not the last one', () => {
    const message = errorOf(() =>
      parseConfig(
        withRoutes([
          { default: true, agentId: 'echo' },
          { inboxId: 7, agentId: 'vip' },
        ]),
      ),
    );
    expect(message).toContain('routes.0.default: the default route must be the last one');
  });

  it('rejects a default route with matchers', () => {
    const message = errorOf(() =>
      parseConfig(withRoutes([{ default: true, inboxId: 7, agentId: 'echo' }])),
    );
    expect(message).toContain('routes.0.default: a default route matches every message');
  });

  it('rejects a route an earlier, looser route always wins over', () => {
    const message = errorOf(() =>
      parseConfig(
        withRoutes([
          { inboxId: 7, agentId: 'echo' },
          { inboxId: 7, labels: ['vip'], agentId: 'vip' },
        ]),
      ),
    );
    expect(message).toContain(
      'routes.1: can never match: routes.0 comes first and matches every message this route would',
    );
  });

  it('accepts the narrower route first and the looser one after it', () => {
    const routes = [
      { inboxId: 7, labels: ['vip'], agentId: 'vip' },
      { inboxId: 7, labels: ['vip', 'priority'], agentId: 'echo' },
      { inboxId: 7, agentId: 'echo' },
    ];
    expect(parseConfig(withRoutes(routes)).routes).toHaveLength(3);
  });

  it('names the unknown agent of a label route', () => {
    const message = errorOf(() => parseConfig(withRoutes([{ labels: ['vip'], agentId: 'gold' }])));
    expect(message).toContain('routes.0.agentId: no agent with id "gold" (known: echo, vip)');
  });

  it('names a custom attribute matcher without a name', () => {
    const message = errorOf(() =>
      parseConfig(withRoutes([{ customAttribute: { value: 'x' }, agentId: 'echo' }])),
    );
    expect(message).toContain('routes.0.customAttribute.name');
  });
});

describe('operator API settings', () => {
  it('has no operator keys by default (the endpoints are off)', () => {
    expect(parseConfig(example()).api).toEqual({
      keys: [],
      operatorKeys: [],
      metricsKeys: [],
      failedAuthLimit: { max: 20, windowMs: 60_000 },
      statusSampleSize: 20,
      statusLookbackMs: 86_400_000,
      codec: { keys: [], allowWithoutKey: false, corsOrigins: [] },
    });
  });

  it('takes operator keys from BRIDGE_OPERATOR_KEYS over the file', () => {
    const config = parseConfig(
      { ...example(), api: { operatorKeys: ['from-the-file-0123456789'] } },
      { BRIDGE_OPERATOR_KEYS: 'first-key-0123456789, second-key-0123456789' },
    );
    expect(config.api.operatorKeys).toEqual(['first-key-0123456789', 'second-key-0123456789']);
  });

  it('refuses short operator keys and an empty BRIDGE_OPERATOR_KEYS', () => {
    expect(
      errorOf(() => parseConfig({ ...example(), api: { operatorKeys: ['short'] } })),
    ).toContain('api.operatorKeys.0: use at least 16 characters');
    expect(errorOf(() => parseConfig(example(), { BRIDGE_OPERATOR_KEYS: ' , ' }))).toContain(
      'BRIDGE_OPERATOR_KEYS is set but holds no key',
    );
  });
});

describe('loadConfig', () => {
  it('reads the JSON file named by BRIDGE_CONFIG, with environment overrides', () => {
    const path = writeTemp('good.json', JSON.stringify(EXAMPLE));
    const config = loadConfig({ BRIDGE_CONFIG: path, TEMPORAL_NAMESPACE: 'prod' });
    expect(config).toEqual(parseConfig(example(), { TEMPORAL_NAMESPACE: 'prod' }));
    expect(config.temporal.namespace).toBe('prod');
  });

  it('says to set BRIDGE_CONFIG when it is unset or empty', () => {
    for (const env of [{}, { BRIDGE_CONFIG: '' }]) {
      const message = errorOf(() => loadConfig(env));
      expect(message).toMatch(/BRIDGE_CONFIG is not set/);
      expect(message).toMatch(/JSON configuration file/);
    }
  });

  it('names the file that cannot be read', () => {
    const path = join(dir, 'does-not-exist.json');
    const message = errorOf(() => loadConfig({ BRIDGE_CONFIG: path }));
    expect(message).toContain(`BRIDGE_CONFIG=${path} cannot be read`);
    expect(message).toContain('ENOENT');
  });

  it('names the file that is not valid JSON', () => {
    const path = writeTemp('broken.json', '{"chatwoot": {"baseUrl": "http://localhost:3000",}');
    const message = errorOf(() => loadConfig({ BRIDGE_CONFIG: path }));
    expect(message).toContain(`BRIDGE_CONFIG=${path} is not valid JSON`);
  });

  it('names the file and the field when the JSON is valid but the configuration is not', () => {
    const bad = { ...EXAMPLE, agents: [agent({ url: 'localhost:9001' })] };
    const path = writeTemp('invalid.json', JSON.stringify(bad));
    const message = errorOf(() => loadConfig({ BRIDGE_CONFIG: path }));
    expect(message).toContain(`${path} is invalid`);
    expect(message).toContain('agents.0.url');
  });
});

describe('environment values that would weaken the bridge', () => {
  const base = {
    chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: 'x' },
    webhook: { secrets: ['from-file'] },
    agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:9001' }],
  };

  it('refuses a CHATWOOT_WEBHOOK_SECRET that holds no secret instead of disabling the check', () => {
    expect(() => parseConfig(base, { CHATWOOT_WEBHOOK_SECRET: ' , ' })).toThrow(
      /CHATWOOT_WEBHOOK_SECRET/,
    );
  });

  it.each([
    [{ maxCachedWorkflows: 1 }, /worker.maxCachedWorkflows: use 0 \(no cache\) or at least 2/],
    [{ maxConcurrentWorkflowTasks: 1 }, /worker.maxConcurrentWorkflowTasks: at least 2 while/],
    [
      { maxConcurrentWorkflowTasks: 400 },
      /worker.maxConcurrentWorkflowTasks: at most worker.maxCachedWorkflows \(300\)/,
    ],
  ])('refuses a worker cache the SDK would quietly change: %j', (worker, message) => {
    expect(() => parseConfig({ ...base, worker })).toThrow(message);
  });

  it('takes as many workflow tasks as the cache holds, or any number without a cache', () => {
    const tasks = (worker: object) => parseConfig({ ...base, worker }).worker;
    expect(tasks({ maxConcurrentWorkflowTasks: 300 }).maxConcurrentWorkflowTasks).toBe(300);
    expect(tasks({ maxCachedWorkflows: 0, maxConcurrentWorkflowTasks: 400 })).toMatchObject({
      maxCachedWorkflows: 0,
      maxConcurrentWorkflowTasks: 400,
    });
  });

  it.each(['0x1f90', '1e3', ' '])('refuses PORT=%j', (port) => {
    expect(() => parseConfig(base, { PORT: port })).toThrow(/PORT must be a decimal port number/);
  });
});

describe('delivery policy', () => {
  it('gives an AIWM attempt time to wait its whole turn, fetch a token, then answer', () => {
    const timeouts = { connectTimeoutMs: 2_000, totalTimeoutMs: 30_000 };
    const config = parseConfig({
      ...example(),
      agents: [
        { id: 'ws', transport: 'ws', url: 'ws://127.0.0.1:9001', ...timeouts },
        {
          id: 'aiwm',
          transport: 'socketio',
          apiBase: 'http://127.0.0.1:9002',
          secret: 'aiwm-secret',
          ...timeouts,
        },
      ],
      routes: [{ inboxId: 7, agentId: 'ws' }],
    });
    const { connectTimeoutMs, totalTimeoutMs } = timeouts;
    const longestExchange = connectTimeoutMs + totalTimeoutMs;
    expect(deliveryPolicy(config, 'ws').exchangeAttemptTimeoutMs).toBeGreaterThan(longestExchange);
    // The turn's wait (up to totalTimeoutMs), a token request, then the exchange itself.
    expect(deliveryPolicy(config, 'aiwm').exchangeAttemptTimeoutMs).toBeGreaterThan(
      totalTimeoutMs + connectTimeoutMs + longestExchange,
    );
  });
});

describe('unknown configuration keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-unknown-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function load(raw: unknown): string[] {
    const file = join(dir, `config-${Math.random()}.json`);
    writeFileSync(file, JSON.stringify(raw));
    const warnings: string[] = [];
    loadConfig({ BRIDGE_CONFIG: file }, (message) => warnings.push(message));
    return warnings;
  }

  it('warns about each one, naming the closest known key', () => {
    const warnings = load({
      ...EXAMPLE,
      rotues: [],
      webhook: { secret: 'oops', secrets: ['s'] },
      delivery: { fallbackmessage: 'Soon' },
      agents: [
        {
          ...EXAMPLE.agents[0],
          replyTimeoutMS: 5,
          debounce: { quietms: 100 },
        },
        { id: 'aiwm', transport: 'socketio', apiBase: 'http://x', secret: 's', settlems: 1 },
      ],
    });
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringContaining('"rotues" is ignored (did you mean "routes"?)'),
        expect.stringContaining('"webhook.secret" is ignored (did you mean "secrets"?)'),
        expect.stringContaining(
          '"delivery.fallbackmessage" is ignored (did you mean "fallbackMessage"?)',
        ),
        expect.stringContaining(
          '"agents.0.replyTimeoutMS" is ignored (did you mean "replyTimeoutMs"?)',
        ),
        expect.stringContaining('"agents.0.debounce.quietms" is ignored (did you mean "quietMs"?)'),
        // Each transport knows its own keys.
        expect.stringContaining('"agents.1.settlems" is ignored (did you mean "settleMs"?)'),
      ]),
    );
    expect(warnings).toHaveLength(6);
  });

  it('says nothing about a file with known keys only', () => {
    expect(load(EXAMPLE)).toEqual([]);
    // Map values (headers) and route matchers are the user's own keys.
    expect(
      load({
        ...EXAMPLE,
        agents: [{ ...EXAMPLE.agents[0], headers: { 'X-Anything': 'v' } }],
      }),
    ).toEqual([]);
  });
});

describe('webhook secrets at start-up', () => {
  it('npm run api and npm run worker refuse to start without secrets, naming the setting', () => {
    const unsigned = parseConfig({ ...EXAMPLE, webhook: { secrets: [] } });
    expect(() => requireWebhookSecrets(unsigned, 'npm run api')).toThrow(ConfigError);
    expect(() => requireWebhookSecrets(unsigned, 'npm run api')).toThrow(
      /webhook\.secrets.*webhook\.allowUnsigned: true/,
    );
    const allowed = parseConfig({ ...EXAMPLE, webhook: { secrets: [], allowUnsigned: true } });
    expect(() => requireWebhookSecrets(allowed, 'npm run api')).not.toThrow();
    expect(() => requireWebhookSecrets(parseConfig(EXAMPLE), 'npm run worker')).not.toThrow();
  });
});
