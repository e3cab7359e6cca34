import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { startStack, type Stack } from './helpers/stack.js';

const workerEntry = fileURLToPath(new URL('../workers/worker.ts', import.meta.url));

describe('worker crash', () => {
  let stack: Stack;
  let configPath: string;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    // Slow stream: 4 replies, 600 ms apart, so the kill lands mid-stream.
    stack = await startStack({
      agents: { slow: 'multi?count=4&delayMs=600' },
      routes: { 7: 'slow' },
      worker: false,
    });
    configPath = join(mkdtempSync(join(tmpdir(), 'bridge-crash-')), 'config.json');
    writeFileSync(configPath, JSON.stringify(stack.config));
  });
  afterAll(async () => {
    for (const worker of workers) worker.kill('SIGKILL');
    await stack?.stop();
  });

  /** The production entry point (`npm run worker`) in its own process, so it can really die. */
  function startWorkerProcess(): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', workerEntry], {
      env: {
        ...process.env,
        BRIDGE_CONFIG: configPath,
        WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    workers.push(child);
    return child;
  }

  it('SIGKILL mid-stream, restart: every reply in Chatwoot exactly once', async () => {
    const first = startWorkerProcess();
    const { json } = await stack.sendMessage({ conversationId: 401, content: 'crash' });
    const workflowId = json.workflowId as string;

    await stack.chatwoot.waitFor(() => stack.chatwoot.messages(1, 401).length >= 1, {
      timeoutMs: 30_000,
      description: 'first reply posted before the kill',
    });
    first.kill('SIGKILL');
    const postedBeforeKill = stack.chatwoot.messages(1, 401).length;
    expect(postedBeforeKill).toBeLessThan(4);

    startWorkerProcess();
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    const messages = stack.chatwoot.messages(1, 401);
    expect(messages.map((m) => m.content)).toEqual([
      'reply 1/4: crash',
      'reply 2/4: crash',
      'reply 3/4: crash',
      'reply 4/4: crash',
    ]);
    expect(new Set(messages.map((m) => m.source_id)).size).toBe(4);
    expect(report.attempts.length).toBeGreaterThanOrEqual(2);
    expect(stack.chatwoot.typing(1, 401).at(-1)).toBe('off');
  }, 90_000);
});
