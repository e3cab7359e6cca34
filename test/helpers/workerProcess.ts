import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import type { BridgeConfig } from '../../config/schema.js';

const workerEntry = fileURLToPath(new URL('../../workers/worker.ts', import.meta.url));

/**
 * Runs the production worker entry point (`npm run worker`) in child processes, so a test can
 * really kill one (SIGKILL) and start another.
 */
export function workerProcesses(config: BridgeConfig) {
  const configPath = join(mkdtempSync(join(tmpdir(), 'bridge-worker-')), 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const started: ChildProcess[] = [];
  return {
    start(): ChildProcess {
      const child = spawn(process.execPath, ['--import', 'tsx', workerEntry], {
        env: {
          ...process.env,
          BRIDGE_CONFIG: configPath,
          WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'),
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      started.push(child);
      return child;
    },
    killAll(): void {
      for (const child of started) child.kill('SIGKILL');
    },
  };
}
