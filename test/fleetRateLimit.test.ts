import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config/load.js';
import { rateLimitedAccountIds } from '../config/schema.js';
import { chatwootTaskQueue, chatwootTaskQueues } from '../workflows/chatwootQueue.js';
import { startStack } from './helpers/stack.js';
import { workerProcesses } from './helpers/workerProcess.js';

/** Chatwoot's throttle here: at most this many requests per second and account (fixed windows). */
// Low enough that the unlimited burst exceeds it however slow the machine runs it.
const CHATWOOT_LIMIT = { limit: 10, periodMs: 1_000 };
const CONVERSATIONS = 20;
const REPLIES = 5;

interface Figures {
  calls: number;
  throttled: number;
  throttledByEndpoint: Record<string, number>;
}

/**
 * Two worker processes deliver 20 turns of 5 replies each (100 posts, plus typing) against a fake
 * Chatwoot that answers 429 above 10 requests a second: once without a fleet limit, once with
 * `chatwoot.maxCallsPerSecond: 5`. Every reply is posted once either way; the 429s are counted.
 */
async function deliverBurst(maxCallsPerSecond: number | undefined): Promise<Figures> {
  const stack = await startStack({
    worker: false,
    agents: { multi: `multi?count=${REPLIES}&delayMs=5` },
    agentTimeouts: { maxResponses: REPLIES },
    // Room for every retry of a throttled call.
    delivery: { chatwootRetryWindowMs: 120_000 },
    chatwoot: maxCallsPerSecond === undefined ? {} : { maxCallsPerSecond },
  });
  const workers = workerProcesses(stack.config);
  try {
    await Promise.all([workers.startReady(), workers.startReady()]);
    stack.chatwoot.throttle(CHATWOOT_LIMIT);
    const conversationIds = Array.from({ length: CONVERSATIONS }, (_, i) => 700 + i);
    const started = await Promise.all(
      conversationIds.map((conversationId) =>
        stack.sendMessage({ conversationId, content: `turn ${conversationId}` }),
      ),
    );
    const reports = await Promise.all(
      started.map(({ json }) => stack.result(json.workflowId as string)),
    );
    expect(reports.map((report) => report.outcome)).toEqual(conversationIds.map(() => 'delivered'));
    // Nothing lost, nothing twice, in order.
    for (const conversationId of conversationIds) {
      expect(
        stack.chatwoot.messages(stack.accountId, conversationId).map((m) => m.content),
      ).toEqual(
        Array.from(
          { length: REPLIES },
          (_, i) => `reply ${i + 1}/${REPLIES}: turn ${conversationId}`,
        ),
      );
    }
    const calls = stack.chatwoot.calls.filter((call) =>
      call.path.startsWith(`/api/v1/accounts/${stack.accountId}/`),
    );
    const throttled = calls.filter((call) => call.status === 429);
    const throttledByEndpoint: Record<string, number> = {};
    for (const call of throttled) {
      const endpoint = `${call.method} ${call.path.split('/').pop() ?? ''}`;
      throttledByEndpoint[endpoint] = (throttledByEndpoint[endpoint] ?? 0) + 1;
    }
    return { calls: calls.length, throttled: throttled.length, throttledByEndpoint };
  } finally {
    workers.killAll();
    await stack.stop();
  }
}

describe('the rate-limited Chatwoot task queues', () => {
  const config = (chatwoot: Record<string, unknown>) =>
    parseConfig({
      chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: 'x', ...chatwoot },
      agents: [{ id: 'a', transport: 'ws', url: 'ws://127.0.0.1:1' }],
    });

  it('one queue per listed account, one shared by the others', () => {
    expect(chatwootTaskQueue('bridge', 7, [7, 9])).toBe('bridge-chatwoot-7');
    expect(chatwootTaskQueue('bridge', 8, [7, 9])).toBe('bridge-chatwoot');
    expect(chatwootTaskQueues('bridge', [7, 9])).toEqual([
      'bridge-chatwoot',
      'bridge-chatwoot-7',
      'bridge-chatwoot-9',
    ]);
  });

  it('the limited accounts: rateLimitAccountIds, else chatwoot.accountId, else none', () => {
    expect(rateLimitedAccountIds(config({ rateLimitAccountIds: [3, 4], accountId: 1 }))).toEqual([
      3, 4,
    ]);
    expect(rateLimitedAccountIds(config({ accountId: 1 }))).toEqual([1]);
    expect(rateLimitedAccountIds(config({}))).toEqual([]);
  });

  it('a limit must be a positive number', () => {
    expect(config({}).chatwoot.maxCallsPerSecond).toBeUndefined();
    expect(config({ maxCallsPerSecond: 0.5 }).chatwoot.maxCallsPerSecond).toBe(0.5);
    expect(() => config({ maxCallsPerSecond: 0 })).toThrow(ConfigError);
    expect(() => config({ maxCallsPerSecond: -1 })).toThrow(/positive number of calls per second/);
  });
});

describe('one Chatwoot rate limit for the whole fleet (chatwoot.maxCallsPerSecond)', () => {
  it('two worker processes: far fewer 429s with the limit, and nothing lost either way', async () => {
    const unlimited = await deliverBurst(undefined);
    const limited = await deliverBurst(5);
    // The figures for the README and the report.
    console.log(
      `fleet rate limit, 2 workers, ${CONVERSATIONS}×${REPLIES} replies, Chatwoot ${CHATWOOT_LIMIT.limit}/s:`,
      JSON.stringify({ unlimited, limited }),
    );
    expect(unlimited.throttledByEndpoint['POST messages'] ?? 0).toBeGreaterThan(0);
    expect(limited.throttledByEndpoint['POST messages'] ?? 0).toBeLessThan(
      unlimited.throttledByEndpoint['POST messages'] ?? 0,
    );
    expect(limited.throttled).toBeLessThan(unlimited.throttled);
  }, 300_000);
});
