import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  AiwmTokenCache,
  AiwmTokenError,
  requestAiwmToken,
  type AiwmTokenSource,
} from '../agents/aiwm/token.js';
import { startMockAiwm, type MockAiwm } from '../sandbox/mockAiwm.js';

/** The token cache against the mock AIWM's real HTTP token endpoint. */
describe('AIWM token cache', () => {
  let aiwm: MockAiwm;
  const caches: AiwmTokenCache[] = [];
  beforeAll(async () => {
    aiwm = await startMockAiwm({ agents: { alpha: 'echo', beta: 'echo', gamma: 'echo' } });
  });
  afterEach(() => caches.forEach((cache) => cache.clear()));
  afterAll(() => aiwm?.close());

  const source = (agentId: string, overrides: Partial<AiwmTokenSource> = {}): AiwmTokenSource => ({
    tokenUrl: `${aiwm.apiBase}/agents/${agentId}/connect`,
    agentId,
    secret: aiwm.secret,
    refreshMarginMs: 60_000,
    requestTimeoutMs: 1_000,
    ...overrides,
  });
  const newCache = (clock?: SimulatedClock) => {
    const cache = clock ? new AiwmTokenCache(requestAiwmToken, clock) : new AiwmTokenCache();
    caches.push(cache);
    return cache;
  };
  const failureOf = async (promise: Promise<unknown>): Promise<AiwmTokenError> => {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(AiwmTokenError);
    return error as AiwmTokenError;
  };

  it('callers arriving together share one request and one token', async () => {
    const cache = newCache();
    const tokens = await Promise.all([1, 2, 3].map(() => cache.get(source('alpha'))));
    expect(new Set(tokens).size).toBe(1);
    expect(aiwm.tokenRequestsFor('alpha')).toBe(1);
    expect(await cache.get(source('alpha'))).toBe(tokens[0]);
    expect(aiwm.tokenRequestsFor('alpha')).toBe(1);
    expect(cache.phase(source('alpha'))).toBe('active');
  });

  it('a wrong secret is not retryable, and nothing asks again until the next caller', async () => {
    const cache = newCache();
    const wrong = source('beta', { secret: 'wrong' });
    const error = await failureOf(cache.get(wrong));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/AIWM refused the secret of agent "beta" \(HTTP 401/);
    expect(cache.phase(wrong)).toBe('failed');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(aiwm.tokenRequestsFor('beta')).toBe(1);
    await failureOf(cache.get(wrong));
    expect(aiwm.tokenRequestsFor('beta')).toBe(2);
  });

  it('an unknown agent is not retryable and names the agent id', async () => {
    const error = await failureOf(newCache().get(source('nobody')));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/AIWM does not know agent "nobody" \(HTTP 404/);
  });

  it('an unreachable endpoint is retryable and says why', async () => {
    // A port that was just free: nothing listens there.
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const error = await failureOf(
      newCache().get(
        source('alpha', { tokenUrl: `http://127.0.0.1:${port}/agents/alpha/connect` }),
      ),
    );
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/unreachable: ECONNREFUSED/);
  });

  it('a refused token is replaced once, however many callers report it', async () => {
    const cache = newCache();
    const before = aiwm.tokenRequestsFor('gamma');
    const first = await cache.get(source('gamma'));
    cache.invalidate(source('gamma'), first);
    cache.invalidate(source('gamma'), first);
    const [second, third] = await Promise.all([
      cache.get(source('gamma')),
      cache.get(source('gamma')),
    ]);
    expect(second).not.toBe(first);
    expect(third).toBe(second);
    expect(aiwm.tokenRequestsFor('gamma') - before).toBe(2);
  });

  it('refreshes in the background before expiry; callers get the new token without waiting', async () => {
    aiwm.setExpiresIn('alpha', 10);
    const clock = new SimulatedClock();
    const cache = newCache(clock);
    const alpha = source('alpha', { refreshMarginMs: 2_000 });
    const first = await cache.get(alpha);
    const before = aiwm.tokenRequestsFor('alpha');
    clock.increment(8_000);
    expect(cache.phase(alpha)).toBe('refreshing');
    // The old token is served while the refresh is out.
    expect(await cache.get(alpha)).toBe(first);
    // The refresh is a real HTTP call: wait for its answer.
    for (let i = 0; i < 100 && cache.phase(alpha) !== 'active'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(cache.phase(alpha)).toBe('active');
    const second = await cache.get(alpha);
    expect(second).not.toBe(first);
    expect(aiwm.tokenRequestsFor('alpha') - before).toBe(1);
  });
});
