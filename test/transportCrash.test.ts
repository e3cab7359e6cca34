import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeMarkerOf } from '../chatwoot/sourceId.js';
import { pullAgent } from './helpers/pullAgent.js';
import { startStack, type Stack } from './helpers/stack.js';
import { workerProcesses } from './helpers/workerProcess.js';
import { killMidAnswer } from './helpers/killMidAnswer.js';

/** A worker SIGKILLed in the middle of an answer, for the unified and the pull transports. */

describe('worker crash during a unified exchange', () => {
  let stack: Stack;
  let workers: ReturnType<typeof workerProcesses>;
  beforeAll(async () => {
    // 4 agent_message frames, 600 ms apart, so the kill lands mid-answer.
    stack = await startStack({
      agents: { slow: 'unified/multi?count=4&delayMs=600' },
      routes: { 7: 'slow' },
      worker: false,
    });
    workers = workerProcesses(stack.config);
  });
  afterAll(async () => {
    workers?.killAll();
    await stack?.stop();
  });

  it('SIGKILL mid-answer, restart: every reply in Chatwoot exactly once', async () => {
    await killMidAnswer(stack, workers, 701);
  }, 90_000);
});

describe('worker crash while a pull agent answers', () => {
  const KEY = 'crash-pull-agent-key-0123456789';
  let stack: Stack;
  let workers: ReturnType<typeof workerProcesses>;
  beforeAll(async () => {
    stack = await startStack({
      // Long enough that the answer stays open while the next worker starts.
      agents: {
        puller: { transport: 'pull', apiKey: KEY, idleTimeoutMs: 30_000, totalTimeoutMs: 60_000 },
      },
      routes: { 7: 'puller' },
      worker: false,
    });
    workers = workerProcesses(stack.config);
  });
  afterAll(async () => {
    workers?.killAll();
    await stack?.stop();
  });

  it('SIGKILL between replies, restart: nothing lost, nothing posted twice', async () => {
    const agent = pullAgent(stack.app, 'puller', KEY);
    const first = workers.start();
    const { json } = await stack.sendMessage({ conversationId: 702, content: 'crash' });
    const [turn] = await agent.pollUntilTurn();
    const body = (sequence: number, final = false) => ({
      message_id: turn!.message_id,
      content: `part ${sequence + 1}`,
      sequence,
      final,
    });

    // A 200 means recorded; on a 503 (a loaded machine) the agent posts again, as agents must.
    expect(await agent.postUntilAnswered(body(0))).toMatchObject({ status: 200 });
    await stack.chatwoot.waitFor(() => stack.chatwoot.messages(stack.accountId, 702).length === 1, {
      timeoutMs: 30_000,
      description: 'first reply posted',
    });
    // Accepted, then the worker dies at once: its post to Chatwoot may or may not have happened.
    expect(await agent.postUntilAnswered(body(1))).toMatchObject({ status: 200 });
    first.kill('SIGKILL');

    workers.start();
    // The agent did not hear back for part 1 in time and sends it again: a duplicate.
    const again = await agent.postUntilAnswered(body(0));
    expect(again).toMatchObject({ status: 200, json: { duplicate: true, index: 0 } });
    const last = await agent.postUntilAnswered(body(2, true));
    expect(last).toMatchObject({ status: 200, json: { index: 2 } });

    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    const messages = stack.chatwoot.messages(stack.accountId, 702);
    expect(messages.map((m) => m.content)).toEqual(['part 1', 'part 2', 'part 3']);
    expect(new Set(messages.map(bridgeMarkerOf)).size).toBe(3);
    expect(stack.chatwoot.typing(stack.accountId, 702).at(-1)).toBe('off');
  }, 90_000);
});
