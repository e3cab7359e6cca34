import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.js';
import { workerProcesses } from './helpers/workerProcess.js';
import { killMidAnswer } from './helpers/killMidAnswer.js';

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
    await killMidAnswer(stack, workers, 401);
    expect(stack.chatwoot.typing(stack.accountId, 401).at(-1)).toBe('off');
  }, 90_000);
});
