import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { writeFile } from 'node:fs/promises';
import { POSTED_LINE } from './activities.js';
import { FLOOR_WORKER_READY } from './ready.js';

const ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url));
const WORKFLOWS = fileURLToPath(new URL('./workflows.ts', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/** The floor's own workflow bundle, built once for every floor worker process. */
export async function bundleFloorWorkflows(bundlePath: string): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
  await writeFile(bundlePath, code);
}

export interface FloorWorkerProcess {
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * One floor worker process (bench/floor/worker.ts). `onPosted` gets each do-nothing post as
 * it runs (message id, reply index, epoch ms), the floor's "reply stored".
 */
export async function startFloorWorker(options: {
  address: string;
  namespace: string;
  taskQueue: string;
  bundlePath: string;
  onPosted: (messageId: number, reply: number, atEpochMs: number) => void;
}): Promise<FloorWorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
    env: {
      ...process.env,
      FLOOR_TEMPORAL_ADDRESS: options.address,
      FLOOR_NAMESPACE: options.namespace,
      FLOOR_TASK_QUEUE: options.taskQueue,
      FLOOR_BUNDLE_PATH: options.bundlePath,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`floor worker not ready after ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === FLOOR_WORKER_READY) {
        clearTimeout(timer);
        resolve();
      } else if (line.startsWith(POSTED_LINE)) {
        const [messageId, reply, at] = line.slice(POSTED_LINE.length).trim().split(' ');
        options.onPosted(Number(messageId), Number(reply), Number(at));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`floor worker exited (${signal ?? code}) before it was ready`));
    });
  });
  await ready;
  return {
    pid: child.pid,
    stop: async () => {
      process.off('exit', killOnExit);
      await terminate(child);
    },
  };
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
