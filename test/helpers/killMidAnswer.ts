import { expect } from 'vitest';
import { bridgeMarkerOf } from '../../chatwoot/sourceId.js';
import type { DeliveryReport } from '../../workflows/shared.js';
import type { Stack } from './stack.js';
import type { workerProcesses } from './workerProcess.js';

/**
 * The worker-crash scenario every streaming transport must pass. The agent answers `crash`
 * with four replies ("reply i/4: crash"), slowly. A worker process is SIGKILLed once the first
 * reply is posted, then another started. Every reply reaches Chatwoot exactly once, in order.
 */
export async function killMidAnswer(
  stack: Stack,
  workers: ReturnType<typeof workerProcesses>,
  conversationId: number,
): Promise<DeliveryReport> {
  const posted = () => stack.chatwoot.messages(stack.accountId, conversationId);
  const first = workers.start();
  const { json } = await stack.sendMessage({ conversationId, content: 'crash' });
  await stack.chatwoot.waitFor(() => posted().length >= 1, {
    timeoutMs: 30_000,
    description: 'first reply posted before the kill',
  });
  first.kill('SIGKILL');
  expect(posted().length).toBeLessThan(4);

  workers.start();
  const report = await stack.result(json.workflowId as string);
  expect(report.outcome).toBe('delivered');
  expect(posted().map((m) => m.content)).toEqual([
    'reply 1/4: crash',
    'reply 2/4: crash',
    'reply 3/4: crash',
    'reply 4/4: crash',
  ]);
  expect(new Set(posted().map(bridgeMarkerOf)).size).toBe(4);
  expect(report.attempts.length).toBeGreaterThanOrEqual(2);
  return report;
}
