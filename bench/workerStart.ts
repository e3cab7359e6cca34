/**
 * `npm run bench:worker-start [-- --restarts N]`: how long a restarted worker takes until it
 * polls (its `worker started` line, logged just before polling), started as production starts
 * it (`npm run worker` with `WORKFLOW_BUNDLE_PATH` from `npm run build`) and, as the baseline in
 * the same run, bundling at start (development, `npm start`). Own dev server, own task queue.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../config/load.js';
import { buildWorkflowBundle } from '../workers/bundle.js';
import { startDevServer } from '../workers/devServer.js';
import { summarize } from './stats.js';

const START_TIMEOUT_MS = 60_000;

function timeToPoll(env: NodeJS.ProcessEnv): Promise<number> {
  const began = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/worker.ts'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no "worker started" within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('"worker started"')) {
        clearTimeout(timer);
        const ms = performance.now() - began;
        child.once('exit', () => resolve(ms));
        child.kill('SIGTERM');
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!output.includes('"worker started"')) {
        reject(new Error(`worker exited (${code}) before polling:\n${output.slice(-2000)}`));
      }
    });
  });
}

const { values } = parseArgs({ options: { restarts: { type: 'string', default: '5' } } });
const restarts = Number(values.restarts);
const dir = mkdtempSync(join(tmpdir(), 'bridge-worker-start-'));
const server = await startDevServer({ ui: false, dbFilename: join(dir, 'temporal.sqlite') });
try {
  const bundlePath = join(dir, 'workflow-bundle.js');
  await buildWorkflowBundle(bundlePath);
  const configPath = join(dir, 'config.json');
  const config = {
    chatwoot: { baseUrl: 'http://127.0.0.1:9', apiAccessToken: 'unused', accountId: 1 },
    agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:9' }],
    routes: [{ inboxId: 1, agentId: 'echo' }],
    temporal: { address: server.address, taskQueue: 'worker-start-bench' },
    metrics: { workerPort: 0, temporalSdkPort: 0 },
  };
  parseConfig(config);
  writeFileSync(configPath, JSON.stringify(config));
  const env = { ...process.env, BRIDGE_CONFIG: configPath, LOG_LEVEL: 'info' };
  const rows: Array<{ start: string; ms: number[] }> = [
    { start: 'prebuilt bundle (production)', ms: [] },
    { start: 'bundling at start (baseline)', ms: [] },
  ];
  // Interleaved, so both see the same machine.
  for (let i = 0; i < restarts; i += 1) {
    rows[0]!.ms.push(await timeToPoll({ ...env, WORKFLOW_BUNDLE_PATH: bundlePath }));
    rows[1]!.ms.push(await timeToPoll(env));
  }
  const baseline = summarize(rows[1]!.ms).p50;
  for (const row of rows) {
    const { p50, max } = summarize(row.ms);
    console.log(
      `${row.start.padEnd(30)} p50 ${(p50 / 1000).toFixed(2)} s, max ${(max / 1000).toFixed(2)} s, ${(p50 / baseline).toFixed(2)}× baseline (${restarts} restarts)`,
    );
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
