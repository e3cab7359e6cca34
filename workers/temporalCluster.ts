// A real Temporal server (all four services, PostgreSQL persistence and visibility, several
// history shards) for the cluster test run and benchmarks: what docker-compose.yml starts,
// without Docker. Binaries are built once with `go install` into .cache/temporal-server/.
import { execFile, spawn } from 'node:child_process';
import { access, constants, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { stringify } from 'yaml';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  ensureSearchAttributes,
  freePort,
  type SearchAttributeTypeName,
} from './devServer.js';
import { goInstall } from './goInstall.js';
import { startPostgres, type Postgres } from './postgres.js';

const run = promisify(execFile);

/** The server version docker-compose.yml runs; CI tests this one. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
/** Schema versions the embedded PostgreSQL schemas of that server are at. */
const SCHEMA_VERSIONS = { temporal: '1.18', visibility: '1.9' } as const;
const DEFAULT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const READY_TIMEOUT_MS = 90_000;

export interface TemporalClusterOptions {
  /** Default 4 (the real server's minimum worth testing: more than one shard). */
  historyShards?: number;
  namespace?: string;
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  dynamicConfig?: Record<string, string | number | boolean>;
  log?: (line: string) => void;
  /** Frontend TLS with these PEM files (paths); without it the frontend speaks plain TCP. */
  tls?: ClusterTlsOptions;
}

export interface ClusterTlsOptions {
  /** The frontend's certificate (its names must cover 127.0.0.1) and key. */
  certFile: string;
  keyFile: string;
  /** The CA that signed the server's certificate (and, with mTLS, the clients'). */
  caFile: string;
  /** mTLS: a client's certificate from `caFile` is required; the cluster's own calls use this pair. */
  requireClientCert?: { clientCertFile: string; clientKeyFile: string };
}

export interface TemporalCluster {
  address: string;
  namespace: string;
  /** What a client needs to reach the frontend (TLS settings when the cluster has them). */
  connectionOptions: ConnectionOptions;
  /** The server's Prometheus endpoint (the `action` counter Temporal Cloud bills lives here). */
  metricsUrl: string;
  /** Process ids of the server and of PostgreSQL's postmaster (benchmarks read their CPU time). */
  pids(): { server?: number; postgres?: number };
  /** Stops the server, keeping PostgreSQL: a restart finds its history again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Paths of `server` and `sql` built for {@link TEMPORAL_SERVER_VERSION}, building them once. */
export async function ensureTemporalServer(
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  projectRoot = DEFAULT_ROOT,
): Promise<{ server: string; sql: string }> {
  const gobin = path.join(projectRoot, '.cache', 'temporal-server', TEMPORAL_SERVER_VERSION);
  const binaries = { server: path.join(gobin, 'server'), sql: path.join(gobin, 'sql') };
  for (const [name, cmd] of [
    ['server', 'cmd/server'],
    ['sql', 'cmd/tools/sql'],
  ] as const) {
    if (await isExecutable(binaries[name])) continue;
    await goInstall({
      goPackage: `go.temporal.io/server/${cmd}@${TEMPORAL_SERVER_VERSION}`,
      gobin,
      label: `Temporal server ${name} ${TEMPORAL_SERVER_VERSION}`,
      log,
      withoutGo: `build go.temporal.io/server/${cmd}@${TEMPORAL_SERVER_VERSION} elsewhere into ${gobin}.`,
    });
  }
  return binaries;
}

export async function startTemporalCluster(
  options: TemporalClusterOptions = {},
): Promise<TemporalCluster> {
  const log = options.log ?? (() => {});
  const namespace = options.namespace ?? 'default';
  const binaries = await ensureTemporalServer(log);
  const postgres = await startPostgres({ log });
  const root = await mkdtemp(path.join(tmpdir(), 'bridge-temporal-'));
  try {
    await setUpSchemas(binaries.sql, postgres);
    const ports = await allocatePorts();
    await writeServerConfig(root, postgres, ports, options);
    let server = spawnServer(binaries.server, root, log);
    const address = `127.0.0.1:${ports.frontend}`;
    const connectionOptions: ConnectionOptions = { address, tls: await clientTls(options.tls) };
    await waitForFrontend(connectionOptions, server.exited);
    await registerNamespace(connectionOptions, namespace);
    const connection = await Connection.connect(connectionOptions);
    try {
      await ensureSearchAttributes(
        connection,
        namespace,
        options.searchAttributes ?? BRIDGE_SEARCH_ATTRIBUTES,
      );
    } finally {
      await connection.close();
    }
    const stopServer = async () => {
      await server.stop();
    };
    return {
      address,
      namespace,
      connectionOptions,
      metricsUrl: `http://127.0.0.1:${ports.metrics}/metrics`,
      pids: () => ({ server: server.pid, postgres: postgres.pid() }),
      async restart() {
        await stopServer();
        server = spawnServer(binaries.server, root, log);
        await waitForFrontend(connectionOptions, server.exited);
      },
      async stop() {
        await stopServer();
        await postgres.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await postgres.stop();
    throw error;
  }
}

async function setUpSchemas(sqlTool: string, postgres: Postgres): Promise<void> {
  for (const [database, schema] of [
    ['temporal', 'temporal'],
    ['temporal_visibility', 'visibility'],
  ] as const) {
    const common = [
      '--plugin',
      'postgres12',
      '--ep',
      postgres.host,
      '-p',
      String(postgres.port),
      '-u',
      postgres.user,
      '--db',
      database,
    ];
    await run(sqlTool, [...common, 'create-database']);
    await run(sqlTool, [
      ...common,
      'setup-schema',
      '-v',
      SCHEMA_VERSIONS[schema],
      '--schema-name',
      `postgresql/v12/${schema}`,
    ]);
  }
}

type Ports = Record<
  'frontend' | 'frontendHttp' | 'history' | 'matching' | 'worker' | 'metrics',
  number
> & { membership: Record<'frontend' | 'history' | 'matching' | 'worker', number> };

async function allocatePorts(): Promise<Ports> {
  const taken = new Set<number>();
  // Membership ports are stored in a PostgreSQL smallint: they must stay below 32768.
  const next = async (below = 65536) => {
    for (;;) {
      const port = below > 60000 ? await freePort() : 20000 + Math.floor(Math.random() * 12000);
      if (!taken.has(port) && port < below && (await isPortFree(port))) {
        taken.add(port);
        return port;
      }
    }
  };
  const membership = () => next(32768);
  return {
    frontend: await next(),
    frontendHttp: await next(),
    history: await next(),
    matching: await next(),
    worker: await next(),
    metrics: await next(),
    membership: {
      frontend: await membership(),
      history: await membership(),
      matching: await membership(),
      worker: await membership(),
    },
  };
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The server's own config: the same settings docker-compose.yml gives its server. */
async function writeServerConfig(
  root: string,
  postgres: Postgres,
  ports: Ports,
  options: TemporalClusterOptions,
): Promise<void> {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      password: '',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number, extra = {}) => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra },
  });
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: options.historyShards ?? DEFAULT_HISTORY_SHARDS,
      datastores: { default: store('temporal', 20), visibility: store('temporal_visibility', 10) },
    },
    global: {
      ...(options.tls ? { tls: frontendTls(options.tls) } : {}),
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: {
        prometheus: {
          framework: 'tally',
          timerType: 'histogram',
          listenAddress: `127.0.0.1:${ports.metrics}`,
        },
      },
    },
    services: {
      frontend: service(ports.frontend, ports.membership.frontend, {
        httpPort: ports.frontendHttp,
      }),
      history: service(ports.history, ports.membership.history),
      matching: service(ports.matching, ports.membership.matching),
      worker: service(ports.worker, ports.membership.worker),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: path.join(root, 'dynamicconfig.yaml'), pollInterval: '10s' },
  };
  await mkdir(path.join(root, 'config'), { recursive: true });
  await writeFile(path.join(root, 'config', 'development.yaml'), stringify(config));
  const dynamic = Object.fromEntries(
    Object.entries({ ...CLUSTER_DYNAMIC_CONFIG, ...options.dynamicConfig }).map(([key, value]) => [
      key,
      [{ value, constraints: {} }],
    ]),
  );
  await writeFile(path.join(root, 'dynamicconfig.yaml'), stringify(dynamic));
}

/** History shards of the test cluster and of docker-compose.yml's server (fixed for a cluster's life). */
export const DEFAULT_HISTORY_SHARDS = 4;

/**
 * What the bridge relies on, on by default in 1.29 but stated so an upgrade cannot drop it.
 * docker-compose.yml mounts the same values from config/temporal-dynamicconfig.yaml (a test
 * keeps the two equal).
 */
export const CLUSTER_DYNAMIC_CONFIG = {
  'frontend.enableUpdateWorkflowExecution': true,
  'frontend.enableExecuteMultiOperation': true,
  'frontend.workerVersioningWorkflowAPIs': true,
  'system.enableEagerWorkflowStart': true,
  // Timers fire on time instead of up to a second late (the actor's 300 ms reorder window).
  'history.timerProcessorMaxTimeShift': '10ms',
} as const satisfies Record<string, boolean | number | string>;

function spawnServer(binary: string, root: string, log: (line: string) => void) {
  const child = spawn(
    binary,
    ['--root', root, '--config', 'config', '--env', 'development', 'start'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const tail: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        log(line);
        tail.push(readableLogLine(line));
        if (tail.length > 40) tail.shift();
      }
    });
  }
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    // 'close', not 'exit': the last lines (the reason it stopped) arrive after the exit.
    child.once('close', (code, signal) =>
      reject(
        new Error(
          `Temporal server exited (${signal ?? `code ${code}`}):\n${tail.slice(-15).join('\n')}`,
        ),
      ),
    );
  });
  exited.catch(() => {});
  return {
    pid: child.pid,
    exited,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** The server logs JSON with stack traces; an error message needs only what and why. */
function readableLogLine(line: string): string {
  try {
    const entry = JSON.parse(line) as { level?: string; msg?: string; error?: string };
    return `${entry.level ?? ''}: ${entry.msg ?? ''}${entry.error ? ` (${entry.error})` : ''}`;
  } catch {
    return line;
  }
}

/** The server's `global.tls` section: TLS on the frontend only (internode stays plain). */
function frontendTls(tls: ClusterTlsOptions) {
  const client = { serverName: '127.0.0.1', rootCaFiles: [tls.caFile] };
  const mutual = tls.requireClientCert;
  return {
    frontend: {
      server: {
        certFile: tls.certFile,
        keyFile: tls.keyFile,
        requireClientAuth: Boolean(mutual),
        ...(mutual ? { clientCaFiles: [tls.caFile] } : {}),
      },
      client,
    },
    // The system worker calls the frontend too: with mTLS it needs a client certificate.
    ...(mutual
      ? {
          systemWorker: {
            certFile: mutual.clientCertFile,
            keyFile: mutual.clientKeyFile,
            client,
          },
        }
      : {}),
  };
}

async function clientTls(tls: ClusterTlsOptions | undefined): Promise<ConnectionOptions['tls']> {
  if (!tls) return undefined;
  const mutual = tls.requireClientCert;
  return {
    serverRootCACertificate: await readFile(tls.caFile),
    ...(mutual
      ? {
          clientCertPair: {
            crt: await readFile(mutual.clientCertFile),
            key: await readFile(mutual.clientKeyFile),
          },
        }
      : {}),
  };
}

async function waitForFrontend(options: ConnectionOptions, exited: Promise<never>): Promise<void> {
  const address = options.address;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await Promise.race([exited, probe(options)]);
      return;
    } catch (error) {
      lastError = error;
      if (error instanceof Error && error.message.startsWith('Temporal server exited')) throw error;
    }
    await sleep(250);
  }
  throw new Error(`Temporal server at ${address} not ready: ${String(lastError)}`);
}

async function probe(options: ConnectionOptions): Promise<void> {
  const connection = await Connection.connect({ ...options, connectTimeout: 1_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    // The frontend answers before history owns its shards; a namespace call proves both.
    await connection.workflowService.listNamespaces({ pageSize: 1 });
  } finally {
    await connection.close();
  }
}

/** The real server creates no namespace; the bridge's setup would, so the test cluster does. */
async function registerNamespace(options: ConnectionOptions, namespace: string): Promise<void> {
  const connection = await Connection.connect(options);
  try {
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
    } catch (error) {
      if (!/already exists/i.test(String(error))) throw error;
    }
    // Namespaces reach every service through a cache refreshed every few seconds.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace });
        await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(250);
      }
    }
  } finally {
    await connection.close();
  }
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

// `npx tsx workers/temporalCluster.ts`: start a cluster and keep it until Ctrl-C.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cluster = await startTemporalCluster({ log: (line) => process.stderr.write(`${line}\n`) });
  console.log(
    `Temporal cluster at ${cluster.address} (metrics ${cluster.metricsUrl}); Ctrl-C stops it`,
  );
  process.once('SIGINT', () => void cluster.stop().then(() => process.exit(0)));
}
