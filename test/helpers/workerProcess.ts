import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import type { BridgeConfig } from '../../config/schema.js';

const workerEntry = fileURLToPath(new URL('../../workers/worker.ts', import.meta.url));

/**
 * The production worker entry point (`npm run worker`) in child processes, each with its own
 * copy of `config`, so a test can really kill one (SIGKILL) and start another.
 */
export function workerProcesses(config: BridgeConfig) {
  const configPath = join(mkdtempSync(join(tmpdir(), 'bridge-worker-')), 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const children: ChildProcess[] = [];
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
      children.push(child);
      return child;
    },
    killAll(): void {
      for (const child of children) child.kill('SIGKILL');
    },
  };
}
