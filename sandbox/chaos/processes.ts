/**
 * The bridge's production entry points (`npm run api`, `npm run worker`) as child processes a
 * chaos run can SIGKILL and start again, and the Temporal dev server on a fixed port with a
 * database file, so it can be stopped and restarted with its state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CONFIG_ENV_VARS } from '../../config/load.js';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  LOW_LATENCY_DYNAMIC_CONFIG,
  freePort,
  startDevServer,
  type DevServer,
} from '../../workers/devServer.js';

const ENTRIES = {
  api: fileURLToPath(new URL('../../api/main.ts', import.meta.url)),
  worker: fileURLToPath(new URL('../../workers/worker.ts', import.meta.url)),
} as const;

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;

export interface BridgeProcessOptions {
  kind: keyof typeof ENTRIES;
  name: string;
  configPath: string;
  workflowBundlePath?: string;
  /** Both output streams are appended here. */
  logPath: string;
  /** Extra `node` flags (the benchmark's `--cpu-prof`). */
  nodeArgs?: string[];
  /** Resolves once the process serves (API: `/health` answers; worker: it says it started). */
  healthUrl?: string;
  /** Called when the process exits without being told to (a supervisor would restart it). */
  onUnexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** One API or worker process that can be killed and started again, any number of times. */
export class BridgeProcess {
  private child: ChildProcess | undefined;
  private expectingExit = false;
  private serving = false;
  private readonly log: WriteStream;

  constructor(private readonly options: BridgeProcessOptions) {
    this.log = createWriteStream(options.logPath, { flags: 'a' });
  }

  get name(): string {
    return this.options.name;
  }

  /** The running process's id (benchmarks read its CPU time and memory). */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && !this.child.signalCode;
  }

  /** Started, ready, and not killed since. */
  get ready(): boolean {
    return this.serving && this.running;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.expectingExit = false;
    const env: NodeJS.ProcessEnv = { ...process.env };
    // The file is the whole configuration: no override from the caller's environment.
    for (const name of CONFIG_ENV_VARS) delete env[name];
    env.BRIDGE_CONFIG = this.options.configPath;
    if (this.options.workflowBundlePath) env.WORKFLOW_BUNDLE_PATH = this.options.workflowBundlePath;
    const child = spawn(
      process.execPath,
      [...(this.options.nodeArgs ?? []), '--import', 'tsx', ENTRIES[this.options.kind]],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.log.write(`--- ${new Date().toISOString()} ${this.name} started (pid ${child.pid})\n`);
    let started = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      if (!started && chunk.includes('worker started')) started = true;
    });
    child.stderr?.on('data', (chunk: Buffer) => this.log.write(chunk));
    child.once('exit', (code, signal) => {
      this.serving = false;
      this.log.write(`--- ${new Date().toISOString()} ${this.name} exited (${signal ?? code})\n`);
      if (!this.expectingExit) this.options.onUnexpectedExit?.(code, signal);
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode) {
        throw new Error(`${this.name} exited while starting; see ${this.options.logPath}`);
      }
      if (this.options.healthUrl ? await answers(this.options.healthUrl) : started) {
        this.serving = true;
        return;
      }
      await sleep(100);
    }
    throw new Error(`${this.name} not ready after ${READY_TIMEOUT_MS / 1000} s`);
  }

  /** SIGKILL: no shutdown hook runs, in-flight work is abandoned mid-step. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM, then SIGKILL if it does not exit in time. */
  async stop(): Promise<void> {
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), STOP_GRACE_MS);
    await this.signal('SIGTERM');
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop();
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.expectingExit = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** A dev server that keeps its port and its SQLite file across restarts. */
export class RestartableTemporal {
  private server: DevServer | undefined;

  private constructor(
    readonly address: string,
    private readonly port: number,
    private readonly dbFilename: string,
  ) {}

  static async start(dbFilename: string): Promise<RestartableTemporal> {
    const port = await freePort();
    const temporal = new RestartableTemporal(`127.0.0.1:${port}`, port, dbFilename);
    await temporal.up();
    return temporal;
  }

  async restart(downMs: number): Promise<void> {
    await this.down();
    await sleep(downMs);
    await this.up();
  }

  async down(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  private async up(): Promise<void> {
    this.server = await startDevServer({
      port: this.port,
      ui: false,
      dbFilename: this.dbFilename,
      searchAttributes: BRIDGE_SEARCH_ATTRIBUTES,
      dynamicConfig: LOW_LATENCY_DYNAMIC_CONFIG,
    });
  }
}
