import rateLimit from '@fastify/rate-limit';

import fp from 'fastify-plugin';
import type { LiveConfig } from '../../config/live.js';

/**
 * Failed authentication is rate-limited per client address, and only failed authentication:
 * the limiter is consulted once a request has been answered 401 (a wrong or missing bearer
 * key, a webhook whose signature or `?token=` does not match), never before the check. Past
 * `api.failedAuthLimit.max` failures within `windowMs`, the address's failing requests are
 * answered 429 with `Retry-After`; a correctly signed webhook or a correct key from the same
 * address still goes through, since it is never a 401.
 */
export const failedAuthLimitPlugin = fp<{ live: LiveConfig }>(
  async (app, { live }) => {
    const limits = () => live.current().api.failedAuthLimit;
    await app.register(rateLimit, {
      // No route is limited as such: only the counting below, on failures.
      global: false,
      max: () => limits().max,
      timeWindow: () => limits().windowMs,
    });
    const countFailure = app.createRateLimit();

    app.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode !== 401 || limits().max === 0) return payload;
      const limit = await countFailure(request);
      if (limit.isAllowed || !limit.isExceeded) return payload;
      request.log.warn(
        { remoteAddress: request.ip, retryAfterSeconds: limit.ttlInSeconds },
        'too many failed authentications from this address',
      );
      void reply
        .code(429)
        .header('retry-after', String(limit.ttlInSeconds))
        .header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify({
        error: 'too_many_failures',
        message: `more than ${limit.max} failed authentications from this address; retry in ${limit.ttlInSeconds} s`,
      });
    });
  },
  { name: 'failed-auth-limit' },
);
