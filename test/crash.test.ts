import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.js';
import { workerProcesses } from './helpers/workerProcess.js';

describe('worker crash', () => {
  let stack: Stack;
  let workers: ReturnType<typeof workerProcesses>;

  beforeAll(async () => {
    // Slow stream: 4 replies, 600 ms apart, so the kill lands mid-stream.
    stack = await startStack({
      agents: { slow: 'multi?count=4&delayMs=600' },
      routes: { 7: 'slow' },
      worker: false,
    });
    workers = workerProcesses(stack.config);
  });
  afterAll(async () => {
    workers?.killAll();
    await stack?.stop();
  });

  it('SIGKILL mid-stream, restart: every reply in Chatwoot exactly once', async () => {
    const first = workers.start();
    const { json } = await stack.sendMessage({ conversationId: 401, content: 'crash' });
    const workflowId = json.workflowId as string;

    await stack.chatwoot.waitFor(() => stack.chatwoot.messages(stack.accountId, 401).length >= 1, {
      timeoutMs: 30_000,
      description: 'first reply posted before the kill',
    });
    first.kill('SIGKILL');
    const postedBeforeKill = stack.chatwoot.messages(stack.accountId, 401).length;
    expect(postedBeforeKill).toBeLessThan(4);

    workers.start();
    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    const messages = stack.chatwoot.messages(stack.accountId, 401);
    expect(messages.map((m) => m.content)).toEqual([
      'reply 1/4: crash',
      'reply 2/4: crash',
      'reply 3/4: crash',
      'reply 4/4: crash',
    ]);
    expect(new Set(messages.map((m) => m.source_id)).size).toBe(4);
    expect(report.attempts.length).toBeGreaterThanOrEqual(2);
    expect(stack.chatwoot.typing(stack.accountId, 401).at(-1)).toBe('off');
  }, 90_000);
});
