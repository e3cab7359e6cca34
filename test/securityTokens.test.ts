import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { verifyWebhook } from '../chatwoot/signature.js';

// The real comparison, observed: which buffers reach it tells whether lengths can leak.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const compare = vi.mocked(crypto.timingSafeEqual);
const OPTIONS = { toleranceSeconds: 300 };
const SECRETS = ['a-short-one', 'a-much-longer-webhook-secret-value'];

describe('?token= comparison', () => {
  it('compares fixed-length digests against every secret, whatever the length given', () => {
    for (const token of ['x', 'a-short-onf', 'y'.repeat(500)]) {
      const before = compare.mock.calls.length;
      expect(verifyWebhook({ rawBody: '{}', urlToken: token }, SECRETS, OPTIONS)).toEqual({
        ok: false,
        reason: 'token mismatch',
      });
      // One comparison per secret, all of equal (digest) length: the time says nothing.
      const calls = compare.mock.calls.slice(before);
      expect(calls).toHaveLength(SECRETS.length);
      for (const [a, b] of calls) {
        expect([(a as Buffer).length, (b as Buffer).length]).toEqual([32, 32]);
      }
    }
  });

  it('still accepts each configured secret', () => {
    for (const secret of SECRETS) {
      expect(verifyWebhook({ rawBody: '{}', urlToken: secret }, SECRETS, OPTIONS)).toEqual({
        ok: true,
        method: 'token',
      });
    }
  });
});
