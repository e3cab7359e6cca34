import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import type { BridgeConfig } from '../../config/schema.js';

const workerEntry = fileURLToPath(new URL('../../workers/worker.ts', import.meta.url));

/**
 * The production worker entry point (`npm run worker`) in child processes, each with its own
 * copy of `config`, so a test can really stop one (SIGKILL, SIGTERM) and start another.
 */
export function workerProcesses(config: BridgeConfig, extraEnv: NodeJS.ProcessEnv = {}) {
  const configPath = join(mkdtempSync(join(tmpdir(), 'bridge-worker-')), 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const children: ChildProcess[] = [];
  const readiness = new WeakMap<ChildProcess, Promise<void>>();
  const output = new WeakMap<ChildProcess, string[]>();
  const start = (): ChildProcess => {
    const child = spawn(process.execPath, ['--import', 'tsx', workerEntry], {
      env: {
        ...process.env,
        BRIDGE_CONFIG: configPath,
        WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'),
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    // Always read its log lines (a full pipe would block the child's writes).
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const logged: string[] = [];
    output.set(child, logged);
    const ready = new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        logged.push(line);
        if (line.includes('"worker started"')) resolve();
      });
      child.once('exit', (code) =>
        reject(new Error(`worker process exited with ${String(code)} before it was ready`)),
      );
    });
    ready.catch(() => undefined);
    readiness.set(child, ready);
    return child;
  };
  return {
    start,
    /** Starts a worker process and resolves once it logs that both of its workers poll. */
    async startReady(): Promise<ChildProcess> {
      const child = start();
      await readiness.get(child);
      return child;
    },
    /** What the process wrote to stdout so far (JSON log lines). */
    logs(child: ChildProcess): string[] {
      return output.get(child) ?? [];
    },
    killAll(): void {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
