import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const API = entry('../api/main.ts');
const WORKER = entry('../workers/worker.ts');
const dir = mkdtempSync(join(tmpdir(), 'bridge-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(webhook: Record<string, unknown>): string {
  const file = join(dir, `config-${Math.random()}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: 'x' },
      webhook,
      agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:1' }],
      // Nothing listens here: a process that got past its checks would wait or fail later.
      temporal: { address: '127.0.0.1:1' },
      metrics: { workerPort: 0, temporalSdkPort: 0 },
    }),
  );
  return file;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs an entry point; resolves with its exit code and stderr once it exits. */
function run(path: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', path], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stderr })),
  );
  return { child, exited };
}

describe('start-up without webhook secrets', () => {
  it.each([
    ['npm run api', API],
    ['npm run worker', WORKER],
  ])('%s refuses, naming webhook.allowUnsigned', async (name, path) => {
    const { exited } = run(path, { BRIDGE_CONFIG: configFile({ secrets: [] }) });
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    expect(stderr).toContain(name);
    expect(stderr).toContain('webhook.allowUnsigned: true');
  });

  it('npm run api starts when webhook.allowUnsigned says so', async () => {
    const port = await freePort();
    const { child, exited } = run(API, {
      BRIDGE_CONFIG: configFile({ secrets: [], allowUnsigned: true }),
      PORT: String(port),
    });
    try {
      await expect
        .poll(
          () =>
            fetch(`http://127.0.0.1:${port}/health`).then(
              (r) => r.status,
              () => 0,
            ),
          {
            timeout: 30_000,
          },
        )
        .toBe(200);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
