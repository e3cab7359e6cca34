import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTemporalCluster, type TemporalCluster } from '../workers/temporalCluster.js';

// A real server creates no namespace and no search attributes: what an operator finds on a
// fresh self-hosted cluster. Serving processes only read; `chatwoot-bridge setup` creates.
const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const WORKER = entry('../workers/worker.ts');
const CLI = entry('../cli/chatwoot-bridge.ts');
const dir = mkdtempSync(join(tmpdir(), 'bridge-setup-'));
let cluster: TemporalCluster;

beforeAll(async () => {
  cluster = await startTemporalCluster({ searchAttributes: {} });
}, 240_000);
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function configFile(namespace: string): string {
  const file = join(dir, `${namespace}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: 'x' },
      webhook: { secrets: ['a-webhook-secret'] },
      agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:1' }],
      temporal: { address: cluster.address, namespace, retentionDays: 3 },
      metrics: { workerPort: 0, temporalSdkPort: 0 },
    }),
  );
  return file;
}

/** Runs an entry point with `args`; `output()` is what it wrote so far, `exited` its code. */
function run(path: string, args: string[], namespace: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], {
    env: {
      ...process.env,
      BRIDGE_CONFIG: configFile(namespace),
      WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'),
      TEMPORAL_ADDRESS: '',
      TEMPORAL_NAMESPACE: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr])
    stream.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, exited, output: () => output };
}

describe('chatwoot-bridge setup and the read-only start-up check', () => {
  it('a worker stops naming the missing attributes; setup adds them and it starts', async () => {
    const refused = run(WORKER, [], 'default');
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain('lacks the search attributes ChatwootAccountId');
    expect(refused.output()).toContain('npm run setup');
    expect(refused.output()).toContain('tcld namespace search-attributes add');

    const setup = run(CLI, ['setup'], 'default');
    expect(await setup.exited).toBe(0);
    expect(setup.output()).toMatch(
      /found namespace "default"; search attributes added: .*DeliveryStatus/,
    );

    const worker = run(WORKER, [], 'default');
    try {
      await expect.poll(worker.output, { timeout: 60_000 }).toContain('worker started');
    } finally {
      worker.child.kill('SIGKILL');
    }
  }, 180_000);

  it('a worker stops when the namespace is missing; setup creates it', async () => {
    const refused = run(WORKER, [], 'bridge-fresh');
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain('namespace "bridge-fresh" does not exist');

    const setup = run(CLI, ['setup'], 'bridge-fresh');
    expect(await setup.exited).toBe(0);
    expect(setup.output()).toContain('created namespace "bridge-fresh" (retention 3 days)');
    // Again: nothing left to add.
    const again = run(CLI, ['setup'], 'bridge-fresh');
    expect(await again.exited).toBe(0);
    expect(again.output()).toContain('search attributes all present');

    const worker = run(WORKER, [], 'bridge-fresh');
    try {
      await expect.poll(worker.output, { timeout: 60_000 }).toContain('worker started');
    } finally {
      worker.child.kill('SIGKILL');
    }
  }, 180_000);
});
