// Starts Temporal's local dev server (`temporal server start-dev`) as a child process, for
// development, tests and benchmarks, and registers the bridge's search attributes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
// CommonJS package: Node's ESM loader exposes only its default export.
import proto from '@temporalio/proto';
import { ensureTemporalCli } from './temporalCli.js';

export type SearchAttributeTypeName =
  'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

/** Attributes the bridge's workflows upsert; they must exist before the first workflow runs. */
export const BRIDGE_SEARCH_ATTRIBUTES = {
  ChatwootAccountId: 'Keyword',
  ChatwootConversationId: 'Keyword',
  ChatwootInboxId: 'Keyword',
  ChatwootMessageId: 'Keyword',
  AgentId: 'Keyword',
  DeliveryStatus: 'Keyword',
} as const satisfies Record<string, SearchAttributeTypeName>;

/**
 * The dev server polls its transfer queue at 20/s by default, which adds tens of milliseconds to
 * every workflow and activity dispatch under load; a single-node embedded server can poll faster.
 */
export const LOW_LATENCY_DYNAMIC_CONFIG = {
  'history.transferProcessorMaxPollRPS': 1000,
  // The dev server rereads search attributes from its database on every visibility read so that
  // ones added at run time show at once; the bridge registers its own at start (--search-attribute).
  'system.forceSearchAttributesCacheRefreshOnRead': false,
  // A timer fires up to this late (default 1 s): the actor's 300 ms reorder window took a second.
  'history.timerProcessorMaxTimeShift': '10ms',
} as const satisfies Record<string, number | boolean | string>;

export interface DevServerOptions {
  /** Default: `await ensureTemporalCli()`. */
  cliPath?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** gRPC port. Default: a free port. */
  port?: number;
  /** Serve the web UI. Default true. */
  ui?: boolean;
  /** Default: port + 1000 if free, else a free port. */
  uiPort?: number;
  /** SQLite file so work survives a restart. Default: in-memory. */
  dbFilename?: string;
  /** Default 'default'. */
  namespace?: string;
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  /** Passed as `--dynamic-config-value key=<JSON value>`. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** The web UI decodes payloads through this codec server (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
  /** Default 'warn'. */
  logLevel?: string;
  /** Serve the server's Prometheus metrics (its `action` counter, …) on this port. */
  metricsPort?: number;
  /** Receives the server's output lines. Default: discard. */
  log?: (line: string) => void;
}

export interface DevServer {
  /** gRPC address, `host:port`. */
  address: string;
  uiUrl?: string;
  namespace: string;
  /** The server's Prometheus endpoint, when started with `metricsPort`. */
  metricsUrl?: string;
  /** The server process (benchmarks read its CPU time). */
  pid?: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cliPath = options.cliPath ?? (await ensureTemporalCli());
  const host = options.host ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const ui = options.ui ?? true;
  // Explicit ports are checked up front: otherwise the readiness probe could reach whatever
  // already listens there and report success while our server failed to bind.
  if (options.port !== undefined) await assertPortFree(host, options.port);
  if (ui && options.uiPort !== undefined) await assertPortFree(host, options.uiPort);
  const port = options.port ?? (await freePort(host));
  const uiPort = ui ? (options.uiPort ?? (await preferredPort(host, port + 1000))) : undefined;
  if (options.dbFilename)
    await mkdir(path.dirname(path.resolve(options.dbFilename)), { recursive: true });

  const args = ['server', 'start-dev', '--ip', host, '--port', String(port)];
  args.push(...(uiPort === undefined ? ['--headless'] : ['--ui-port', String(uiPort)]));
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  if (options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  if (options.metricsPort !== undefined) args.push('--metrics-port', String(options.metricsPort));
  args.push('--namespace', namespace, '--log-level', options.logLevel ?? 'warn');
  for (const [name, type] of Object.entries(options.searchAttributes ?? {})) {
    args.push('--search-attribute', `${name}=${type}`);
  }
  for (const [key, value] of Object.entries(options.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }

  const child = spawn(cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = captureOutput(child, options.log ?? (() => {}));
  // A leaked dev server would hold its ports and keep CI jobs alive.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const stop = once(async () => {
    process.off('exit', killOnExit);
    await terminate(child);
  });

  const address = `${formatHost(host)}:${port}`;
  try {
    await waitUntilReady(child, address, namespace, Object.keys(options.searchAttributes ?? {}));
  } catch (error) {
    await stop();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Temporal dev server (${cliPath} ${args.join(' ')}) did not start: ${reason}\n${output()}`,
    );
  }

  const uiHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const uiUrl = uiPort === undefined ? undefined : `http://${formatHost(uiHost)}:${uiPort}`;
  const metricsUrl =
    options.metricsPort === undefined
      ? undefined
      : `http://${formatHost(uiHost)}:${options.metricsPort}/metrics`;
  return { address, uiUrl, namespace, metricsUrl, pid: child.pid, stop };
}

/**
 * Registers any of `attributes` missing from `namespace`, for clusters not started by
 * {@link startDevServer}. Returns the names it added.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  attributes: Record<string, SearchAttributeTypeName> = BRIDGE_SEARCH_ATTRIBUTES,
): Promise<string[]> {
  const existing = await listSearchAttributeNames(connection, namespace);
  const missing = Object.entries(attributes).filter(([name]) => !existing.has(name));
  if (missing.length === 0) return [];
  const searchAttributes = Object.fromEntries(
    missing.map(([name, type]) => [name, INDEXED_VALUE_TYPES[type]]),
  );
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } catch (error) {
    // Another process may have registered them between our list and add.
    if (!/already exists/i.test(error instanceof Error ? error.message : String(error)))
      throw error;
  }
  return missing.map(([name]) => name);
}

const { IndexedValueType } = proto.temporal.api.enums.v1;
const INDEXED_VALUE_TYPES: Record<
  SearchAttributeTypeName,
  proto.temporal.api.enums.v1.IndexedValueType
> = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Text: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Double: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  Bool: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

async function listSearchAttributeNames(
  connection: Connection,
  namespace: string,
): Promise<Set<string>> {
  const response = await connection.operatorService.listSearchAttributes({ namespace });
  return new Set(Object.keys(response.customAttributes ?? {}));
}

/** Polls until the frontend answers and the requested search attributes are visible. */
async function waitUntilReady(
  child: ChildProcess,
  address: string,
  namespace: string,
  searchAttributes: string[],
): Promise<void> {
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject); // e.g. the binary cannot be executed
    child.once('exit', (code, signal) =>
      reject(new Error(`server exited early (${signal ?? `code ${code}`})`)),
    );
  });
  exited.catch(() => {}); // only observed through Promise.race below
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) await exited;
    try {
      await Promise.race([exited, probe(address, namespace, searchAttributes)]);
      return;
    } catch (error) {
      if (child.exitCode !== null || child.signalCode !== null) throw error;
      lastError = error;
    }
    await sleep(200);
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s (last error: ${reason})`);
}

async function probe(
  address: string,
  namespace: string,
  searchAttributes: string[],
): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    const visible = await listSearchAttributeNames(connection, namespace);
    const missing = searchAttributes.filter((name) => !visible.has(name));
    if (missing.length > 0)
      throw new Error(`search attributes not visible yet: ${missing.join(', ')}`);
  } finally {
    await connection.close();
  }
}

/** Forwards output lines to `log`, keeping a tail for error messages. */
function captureOutput(child: ChildProcess, log: (line: string) => void): () => string {
  const tail: string[] = [];
  // Always listening: an unhandled 'error' event (e.g. spawn ENOENT) would crash the parent.
  child.on('error', (error) => tail.push(`spawn error: ${error.message}`));
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        log(line);
        tail.push(line);
        if (tail.length > 50) tail.shift();
      }
    });
  }
  return () =>
    tail.length ? `server output (last lines):\n${tail.join('\n')}` : '(no server output)';
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** A port the OS reports free right now (the server binds it moments later). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function preferredPort(host: string, port: number): Promise<number> {
  return port <= 65535 && (await isPortFree(host, port)) ? port : freePort(host);
}

async function assertPortFree(host: string, port: number): Promise<void> {
  if (!(await isPortFree(host, port))) throw new Error(`Port ${host}:${port} is already in use.`);
}

function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let promise: Promise<void> | undefined;
  return () => (promise ??= fn());
}
