import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CONFIG_ENV_VARS, loadConfig, parseConfig } from '../config/load.js';
import type { BridgeConfig } from '../config/schema.js';
import { SANDBOX_DEFAULTS } from '../sandbox/serve.js';
import { defaultBundlePath } from '../workers/bundle.js';
import { BRIDGE_SEARCH_ATTRIBUTES } from '../workers/devServer.js';
import {
  CLUSTER_DYNAMIC_CONFIG,
  DEFAULT_HISTORY_SHARDS,
  TEMPORAL_SERVER_VERSION,
} from '../workers/temporalCluster.js';

// No Docker engine here: the deployment files are checked by reading them.

const root = new URL('../', import.meta.url);
const repoPath = (file: string) => fileURLToPath(new URL(file, root));
const read = (file: string) => readFileSync(repoPath(file), 'utf8');

type Env = Record<string, string>;

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Env;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }>;
  container_name?: string;
  deploy?: { replicas?: number };
  healthcheck?: { test?: string[] | string };
  stop_grace_period?: string;
}
interface ComposeFile {
  services: Record<string, Service>;
}

/** What `docker compose` does to `$$`, `${VAR}`, `${VAR:-default}` and `${VAR:?error}`. */
function interpolate(text: string, env: Env): string {
  const variable = /\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g;
  return text.replace(variable, (whole: string, name?: string, op?: string, arg: string = '') => {
    if (whole === '$$' || name === undefined) return '$';
    const value = env[name];
    const unset = op?.startsWith(':') ? !value : value === undefined;
    if (!unset) return value as string;
    if (op?.endsWith('?')) throw new Error(`${name} is required: ${arg}`);
    return op ? arg : '';
  });
}

function interpolateAll(value: unknown, env: Env): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((item) => interpolateAll(item, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolateAll(item, env)]),
    );
  }
  return value;
}

/** One compose file, YAML anchors and merge keys resolved, interpolated, lists normalized. */
function loadCompose(file: string, env: Env): ComposeFile {
  const raw = parse(read(file), { merge: true }) as ComposeFile;
  const compose = interpolateAll(raw, env) as ComposeFile;
  for (const service of Object.values(compose.services)) {
    if (Array.isArray(service.depends_on)) {
      service.depends_on = Object.fromEntries(
        (service.depends_on as string[]).map((name) => [name, { condition: 'service_started' }]),
      );
    }
    if (Array.isArray(service.environment)) {
      service.environment = Object.fromEntries(
        (service.environment as string[]).map((entry) => {
          const [key, ...rest] = entry.split('=');
          return [key as string, rest.join('=')];
        }),
      );
    }
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      (service.environment as Env)[key] = String(value);
    }
  }
  return compose;
}

const volumeTarget = (volume: string) => volume.split(':')[1] as string;

/** `docker compose -f base -f override`: maps merge, volumes merge by target, lists append. */
function mergeCompose(base: ComposeFile, override: ComposeFile): ComposeFile {
  const services = structuredClone(base.services);
  for (const [name, extra] of Object.entries(override.services)) {
    const service = (services[name] ??= {});
    for (const [key, value] of Object.entries(extra) as [keyof Service, unknown][]) {
      if (key === 'environment' || key === 'depends_on') {
        Object.assign((service[key] ??= {}), value);
      } else if (key === 'volumes') {
        const added = value as string[];
        const targets = new Set(added.map(volumeTarget));
        service.volumes = [
          ...(service.volumes ?? []).filter((volume) => !targets.has(volumeTarget(volume))),
          ...added,
        ];
      } else if (key === 'ports') {
        service.ports = [...(service.ports ?? []), ...(value as string[])];
      } else {
        (service as Record<string, unknown>)[key] = value;
      }
    }
  }
  return { services };
}

function parseEnvFile(file: string): Env {
  const env: Env = {};
  for (const line of read(file).split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) env[match[1] as string] = match[2] as string;
  }
  return env;
}

const packageJson = JSON.parse(read('package.json')) as {
  version: string;
  scripts: Record<string, string>;
};
const BRIDGE_SERVICES = ['bridge-api', 'bridge-worker'];
/** Stand-ins for what an operator must export before `docker compose up`. */
const OPERATOR_ENV: Env = {
  CHATWOOT_BASE_URL: 'https://chatwoot.example.org',
  CHATWOOT_API_TOKEN: 'operator-token',
  CHATWOOT_WEBHOOK_SECRET: 'operator-secret',
};

/** The configuration a bridge service runs with: its mounted file under its environment. */
function bridgeConfig(service: Service): BridgeConfig {
  const env = service.environment ?? {};
  const configPath = env.BRIDGE_CONFIG;
  expect(configPath, 'BRIDGE_CONFIG is set').toBeTruthy();
  const mount = (service.volumes ?? []).find((volume) => volumeTarget(volume) === configPath);
  expect(mount, `a volume is mounted at ${configPath}`).toBeDefined();
  const source = (mount as string).split(':')[0] as string;
  expect(existsSync(repoPath(source)), `${source} exists in the repository`).toBe(true);
  return parseConfig(JSON.parse(read(source)), env, source);
}

/** Compose durations (`40s`, `1m30s`, `500ms`) in milliseconds. */
function durationMs(value: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|m|s)/g)];
  expect(parts.map((part) => part[0]).join(''), `"${value}" is a compose duration`).toBe(value);
  return parts.reduce(
    (total, [, amount, unit]) => total + Number(amount) * units[unit as string]!,
    0,
  );
}

function commandText(value: string[] | string | undefined): string {
  return Array.isArray(value) ? value.join(' ') : (value ?? '');
}

function expectPinned(service: string, image: string | undefined): void {
  expect(image, `${service} has an image`).toBeTruthy();
  const match = /^([\w./-]+)(?::([\w.-]+))?(?:@sha256:[0-9a-f]{64})?$/.exec(image as string);
  expect(match, `${service}: "${image}" is name:tag or name@digest`).not.toBeNull();
  const [, , tag] = match as RegExpExecArray;
  const digest = (image as string).includes('@sha256:');
  expect(digest || (tag !== undefined && tag !== 'latest'), `${service}: ${image} is pinned`).toBe(
    true,
  );
}

function expectDependenciesExist(compose: ComposeFile): void {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      expect(Object.keys(compose.services), `${name} depends on ${dependency}`).toContain(
        dependency,
      );
      expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(
        condition ?? 'service_started',
      );
      if (condition === 'service_healthy') {
        const check = compose.services[dependency]?.healthcheck?.test;
        expect(check, `${dependency} has a healthcheck to wait for`).toBeDefined();
      }
    }
  }
}

describe('docker-compose.yml (production-like)', () => {
  const compose = loadCompose('docker-compose.yml', OPERATOR_ENV);
  const { services } = compose;
  const api = services['bridge-api'] as Service;
  const worker = services['bridge-worker'] as Service;

  it('has the expected services, every image pinned', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'bridge-api',
        'bridge-worker',
        'postgresql',
        'temporal',
        'temporal-search-attributes',
        'temporal-ui',
      ].sort(),
    );
    for (const [name, service] of Object.entries(services)) expectPinned(name, service.image);
    expect(services.temporal?.image).toMatch(/^temporalio\/auto-setup:/);
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:/);
    // The bridge's own image is built here and tagged with the package's version.
    for (const name of BRIDGE_SERVICES) {
      expect(services[name]?.build).toBeDefined();
      expect(services[name]?.image).toBe(`chatwoot-bridge:${packageJson.version}`);
    }
  });

  it('runs the Temporal server CI tests: same version, shards and dynamic config as the test cluster', () => {
    const temporal = services.temporal as Service;
    expect(temporal.image).toBe(`temporalio/auto-setup:${TEMPORAL_SERVER_VERSION.slice(1)}`);
    expect(services['temporal-search-attributes']?.image).toMatch(
      new RegExp(`^temporalio/admin-tools:${TEMPORAL_SERVER_VERSION.slice(1)}-`),
    );
    const env = temporal.environment ?? {};
    expect(env.DB).toBe('postgres12');
    expect(Number(env.NUM_HISTORY_SHARDS)).toBe(DEFAULT_HISTORY_SHARDS);
    // auto-setup reads DYNAMIC_CONFIG_FILE_PATH relative to /etc/temporal.
    const target = `/etc/temporal/${env.DYNAMIC_CONFIG_FILE_PATH}`;
    const mount = (temporal.volumes ?? []).find((volume) => volumeTarget(volume) === target);
    expect(mount, `a volume mounted at ${target}`).toBeDefined();
    const file = parse(read((mount as string).split(':')[0] as string)) as Record<
      string,
      Array<{ value: unknown; constraints?: unknown }>
    >;
    const values = Object.fromEntries(
      Object.entries(file).map(([key, entries]) => [key, entries[0]?.value]),
    );
    expect(values).toEqual(CLUSTER_DYNAMIC_CONFIG);
  });

  it('refuses to start without the Chatwoot secrets, naming the missing variable', () => {
    const { CHATWOOT_API_TOKEN: _omitted, ...withoutToken } = OPERATOR_ENV;
    expect(() => loadCompose('docker-compose.yml', withoutToken)).toThrow(
      /CHATWOOT_API_TOKEN is required/,
    );
  });

  it('configures the bridge only through variables config/load.ts reads and a mounted file that parses', () => {
    for (const name of BRIDGE_SERVICES) {
      const service = services[name] as Service;
      for (const variable of Object.keys(service.environment ?? {})) {
        expect(CONFIG_ENV_VARS, `${name} sets ${variable}`).toContain(variable);
      }
      const config = bridgeConfig(service);
      expect(config.chatwoot).toMatchObject({
        baseUrl: OPERATOR_ENV.CHATWOOT_BASE_URL,
        apiAccessToken: OPERATOR_ENV.CHATWOOT_API_TOKEN,
      });
      expect(config.webhook.secrets).toEqual([OPERATOR_ENV.CHATWOOT_WEBHOOK_SECRET]);
      // Temporal is reached by its service name on the port the server listens on.
      const [host, port] = (config.temporal.address as string).split(':');
      expect(Object.keys(services)).toContain(host);
      expect(services[host as string]?.ports ?? []).toContain(`${port}:${port}`);
    }
    expect(bridgeConfig(api)).toEqual(bridgeConfig(worker));
  });

  it('has consistent ports: API = http.port, UI on 8080 talking to the same Temporal', () => {
    const config = bridgeConfig(api);
    expect(api.ports).toEqual([`${config.http.port}:${config.http.port}`]);
    expect(services['temporal-ui']?.ports).toEqual(['8080:8080']);
    expect(services['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe(config.temporal.address);
    expect(services['temporal-search-attributes']?.environment).toMatchObject({
      TEMPORAL_ADDRESS: config.temporal.address,
      TEMPORAL_NAMESPACE: config.temporal.namespace,
    });
  });

  it('lets the worker scale: no container name, no host port, several replicas, health on its metrics port', () => {
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    expect(worker.deploy?.replicas).toBeGreaterThanOrEqual(2);
    const config = bridgeConfig(worker);
    expect(config.metrics.workerPort).toBeGreaterThan(0);
    expect(commandText(worker.healthcheck?.test)).toContain(
      `127.0.0.1:${config.metrics.workerPort}/health`,
    );
    for (const name of BRIDGE_SERVICES) {
      const script = commandText(services[name]?.command);
      expect(Object.keys(packageJson.scripts), `${name} runs npm run ${script}`).toContain(script);
    }
    expect(commandText(api.command)).toBe('api');
    expect(commandText(worker.command)).toBe('worker');
  });

  it('gives a stopping worker more time than its shutdown grace before killing it', () => {
    const config = bridgeConfig(worker);
    expect(worker.stop_grace_period, 'bridge-worker sets stop_grace_period').toBeDefined();
    // Compose's default (10 s) would SIGKILL a worker still letting an agent finish.
    expect(durationMs(worker.stop_grace_period as string)).toBeGreaterThan(
      config.worker.shutdownGraceMs + 5_000,
    );
  });

  it('registers every search attribute the workflows use, before the bridge starts', () => {
    const job = services['temporal-search-attributes'] as Service;
    const script = commandText(job.command);
    for (const [name, type] of Object.entries(BRIDGE_SEARCH_ATTRIBUTES)) {
      expect(script).toContain(`${name}=${type}`);
    }
    expect(script).toContain('temporal operator search-attribute create');
    for (const name of BRIDGE_SERVICES) {
      expect(services[name]?.depends_on?.['temporal-search-attributes']).toEqual({
        condition: 'service_completed_successfully',
      });
    }
  });

  it('depends only on services that exist', () => {
    expectDependenciesExist(compose);
  });
});

describe('docker-compose.test.yml (with the sandbox)', () => {
  const testEnv = parseEnvFile('config/compose.test.env');
  const compose = mergeCompose(
    loadCompose('docker-compose.yml', testEnv),
    loadCompose('docker-compose.test.yml', testEnv),
  );
  const { services } = compose;
  const sandbox = services.sandbox as Service;

  it('adds the sandbox, built from the same image, runnable with the env file', () => {
    expect(Object.keys(services)).toContain('sandbox');
    expectPinned('sandbox', sandbox.image);
    expect(sandbox.image).toBe(services['bridge-api']?.image);
    expect(commandText(sandbox.entrypoint)).toContain('sandbox/serve.ts');
    for (const variable of Object.keys(sandbox.environment ?? {})) {
      expect(Object.keys(SANDBOX_DEFAULTS), `sandbox/serve.ts reads ${variable}`).toContain(
        variable,
      );
    }
    expectDependenciesExist(compose);
  });

  it('points the bridge at the fake Chatwoot and the mock agents, with matching credentials', () => {
    const env = sandbox.environment ?? {};
    const chatwootPort = env.FAKE_CHATWOOT_PORT ?? SANDBOX_DEFAULTS.FAKE_CHATWOOT_PORT;
    const agentPort = env.MOCK_AGENT_PORT ?? SANDBOX_DEFAULTS.MOCK_AGENT_PORT;
    expect(sandbox.ports).toEqual([`${chatwootPort}:${chatwootPort}`]);
    for (const name of BRIDGE_SERVICES) {
      const service = services[name] as Service;
      expect(service.volumes).toEqual(['./config/compose.test.json:/config/bridge.json:ro']);
      expect(service.depends_on?.sandbox).toBeDefined();
      const config = bridgeConfig(service);
      expect(new URL(config.chatwoot.baseUrl)).toMatchObject({
        hostname: 'sandbox',
        port: chatwootPort,
      });
      expect(config.chatwoot.apiAccessToken).toBe(env.FAKE_CHATWOOT_TOKEN);
      expect(config.webhook.secrets).toEqual([testEnv.CHATWOOT_WEBHOOK_SECRET]);
      for (const agent of config.agents) {
        expect(agent.transport).toBe('ws');
        const url = agent.transport === 'ws' ? agent.url : '';
        expect(new URL(url)).toMatchObject({ hostname: 'sandbox', port: agentPort });
      }
      expect(config.routes.length).toBeGreaterThan(0);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() && !line.trim().startsWith('#'));
  const instruction = (name: string) =>
    instructions
      .filter((line) => line.startsWith(`${name} `))
      .map((line) => line.slice(name.length + 1).trim());

  it('builds on a pinned glibc Node 20 image (the Temporal native module has no musl build)', () => {
    const bases = instruction('FROM').map((from) => from.split(/\s+/)[0] as string);
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) {
      expectPinned('Dockerfile', base);
      expect(base).not.toMatch(/alpine/);
      expect(base).toMatch(
        /^node:20\.\d+\.\d+-(bookworm|bullseye|trixie)(-slim)?(@sha256:[0-9a-f]{64})?$/,
      );
    }
  });

  it('installs with npm ci, runs as a non-root user, checks /health, runs npm run api|worker', () => {
    expect(instruction('RUN').join('\n')).toMatch(/npm ci\b/);
    const user = instruction('USER').at(-1);
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(instruction('HEALTHCHECK').join(' ')).toMatch(/\/health/);
    expect(JSON.parse(instruction('ENTRYPOINT')[0] as string)).toEqual(['npm', 'run', '--silent']);
    const [script] = JSON.parse(instruction('CMD')[0] as string) as string[];
    expect(script).toBe('api');
    expect(packageJson.scripts).toHaveProperty('api');
    expect(packageJson.scripts).toHaveProperty('worker');
  });

  it('builds the workflow bundle once, from the copied sources, and points the workers at it', () => {
    const runs = instructions.filter((line) => /^(RUN|COPY) /.test(line));
    const build = runs.findIndex((line) => /^RUN .*npm run build\b/.test(line));
    const copySources = runs.findIndex((line) => /^COPY \. \.?/.test(line));
    expect(build, 'RUN npm run build').toBeGreaterThan(-1);
    expect(build, 'the bundle is built after the sources are copied').toBeGreaterThan(copySources);
    expect(packageJson.scripts.build).toBe('tsx workers/bundle.ts');
    const env = instruction('ENV').join(' ');
    const workdir = instruction('WORKDIR').at(-1) as string;
    const bundle = relative(fileURLToPath(root), defaultBundlePath);
    expect(env).toContain(`WORKFLOW_BUNDLE_PATH=${workdir}/${bundle}`);
    // A bundle from the developer's machine never reaches the image.
    expect(read('.dockerignore').split('\n')).toContain('dist');
  });

  it('keeps local state out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', '.git', '.data', '.cache', 'test-output']) {
      expect(ignored).toContain(entry);
    }
  });
});

describe('CONFIG_ENV_VARS', () => {
  const base = JSON.parse(read('config/compose.json')) as unknown;
  const samples: Record<(typeof CONFIG_ENV_VARS)[number], string> = {
    BRIDGE_CONFIG: repoPath('config/compose.json'),
    CHATWOOT_BASE_URL: 'http://chatwoot.internal:3000',
    CHATWOOT_API_TOKEN: 'from-env',
    CHATWOOT_WEBHOOK_SECRET: 'one,two',
    PORT: '8123',
    TEMPORAL_ADDRESS: 'temporal.internal:7233',
    TEMPORAL_NAMESPACE: 'bridge',
    TEMPORAL_TASK_QUEUE: 'bridge-queue',
  };

  it('lists only variables that change the configuration', () => {
    const plain = parseConfig(base);
    for (const [name, value] of Object.entries(samples)) {
      if (name === 'BRIDGE_CONFIG') {
        expect(loadConfig({ BRIDGE_CONFIG: value })).toEqual(plain);
        expect(() => loadConfig({})).toThrow(/BRIDGE_CONFIG/);
      } else {
        expect(parseConfig(base, { [name]: value }), name).not.toEqual(plain);
      }
    }
  });
});
