import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyWebhook, type SignedRequest } from '../chatwoot/signature.js';

const NOW = 1_750_000_000;
const TOLERANCE = 300;
const OPTIONS = { toleranceSeconds: TOLERANCE, nowSeconds: NOW };
const SECRET = 'whsec-current';
const OLD_SECRET = 'whsec-previous';
const BODY = JSON.stringify({ event: 'message_created', id: 42, content: 'Héllo ✓' });

/** Chatwoot's scheme, computed here independently: HMAC-SHA256 over "<timestamp>.<raw body>". */
function sign(body: string | Buffer, secret: string, timestamp: number | string = NOW): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`);
  hmac.update(body);
  return `sha256=${hmac.digest('hex')}`;
}

function signed(overrides: Partial<SignedRequest> = {}): SignedRequest {
  return { rawBody: BODY, signature: sign(BODY, SECRET), timestamp: String(NOW), ...overrides };
}

describe('verifyWebhook: signed requests', () => {
  it('accepts a valid signature over a string body', () => {
    expect(verifyWebhook(signed(), [SECRET], OPTIONS)).toEqual({ ok: true, method: 'signature' });
  });

  it('accepts a valid signature over a Buffer body, byte for byte', () => {
    const raw = Buffer.from(BODY, 'utf8');
    const request = { rawBody: raw, signature: sign(raw, SECRET), timestamp: String(NOW) };
    expect(verifyWebhook(request, [SECRET], OPTIONS)).toEqual({ ok: true, method: 'signature' });
  });

  it('accepts upper-case hex and surrounding whitespace in the header', () => {
    const signature = ` sha256=${sign(BODY, SECRET).slice('sha256='.length).toUpperCase()} `;
    expect(verifyWebhook(signed({ signature }), [SECRET], OPTIONS)).toMatchObject({ ok: true });
  });

  it('accepts a signature made with any configured secret (rotation)', () => {
    const secrets = ['whsec-other', SECRET, OLD_SECRET];
    for (const secret of [SECRET, OLD_SECRET]) {
      const request = signed({ signature: sign(BODY, secret) });
      expect(verifyWebhook(request, secrets, OPTIONS), secret).toEqual({
        ok: true,
        method: 'signature',
      });
    }
  });

  it('rejects a signature made with a secret that is not configured', () => {
    const request = signed({ signature: sign(BODY, 'whsec-attacker') });
    expect(verifyWebhook(request, [SECRET, OLD_SECRET], OPTIONS)).toEqual({
      ok: false,
      reason: 'signature mismatch',
    });
  });

  it('rejects a tampered body', () => {
    const request = signed({ rawBody: BODY.replace('42', '43') });
    expect(verifyWebhook(request, [SECRET], OPTIONS)).toEqual({
      ok: false,
      reason: 'signature mismatch',
    });
  });

  it('rejects a signature replayed with another timestamp', () => {
    // Signed at NOW, presented as NOW + 1: the timestamp is part of what is signed.
    const request = signed({ timestamp: String(NOW + 1) });
    expect(verifyWebhook(request, [SECRET], OPTIONS)).toMatchObject({
      ok: false,
      reason: 'signature mismatch',
    });
  });

  it.each([
    ['no prefix', sign(BODY, SECRET).slice('sha256='.length)],
    ['another algorithm', sign(BODY, SECRET).replace('sha256=', 'sha1=')],
    ['a short digest', sign(BODY, SECRET).slice(0, -2)],
    ['a long digest', `${sign(BODY, SECRET)}00`],
    ['non-hex characters', `sha256=${'z'.repeat(64)}`],
  ])('rejects a malformed header: %s', (_, signature) => {
    expect(verifyWebhook(signed({ signature }), [SECRET], OPTIONS)).toEqual({
      ok: false,
      reason: 'malformed X-Chatwoot-Signature',
    });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not a number', 'yesterday'],
    ['fractional', `${NOW}.5`],
  ])('rejects a %s timestamp', (_, timestamp) => {
    expect(verifyWebhook(signed({ timestamp }), [SECRET], OPTIONS)).toEqual({
      ok: false,
      reason: 'missing or malformed X-Chatwoot-Timestamp',
    });
  });

  it.each([
    ['too old', NOW - TOLERANCE - 1],
    ['in the future', NOW + TOLERANCE + 1],
  ])('rejects a correctly signed request %s', (_, timestamp) => {
    const request = signed({
      timestamp: String(timestamp),
      signature: sign(BODY, SECRET, timestamp),
    });
    expect(verifyWebhook(request, [SECRET], OPTIONS)).toEqual({
      ok: false,
      reason: 'X-Chatwoot-Timestamp outside the allowed window',
    });
  });

  it.each([
    ['at the old edge', NOW - TOLERANCE],
    ['at the future edge', NOW + TOLERANCE],
  ])('accepts a correctly signed request %s of the window', (_, timestamp) => {
    const request = signed({
      timestamp: String(timestamp),
      signature: sign(BODY, SECRET, timestamp),
    });
    expect(verifyWebhook(request, [SECRET], OPTIONS)).toEqual({ ok: true, method: 'signature' });
  });

  it('uses the real clock when nowSeconds is not given', () => {
    const now = Math.floor(Date.now() / 1000);
    const fresh = signed({ timestamp: String(now), signature: sign(BODY, SECRET, now) });
    const stale = signed({ timestamp: String(NOW), signature: sign(BODY, SECRET, NOW) });
    const options = { toleranceSeconds: TOLERANCE };
    expect(verifyWebhook(fresh, [SECRET], options)).toEqual({ ok: true, method: 'signature' });
    expect(verifyWebhook(stale, [SECRET], options)).toMatchObject({ ok: false });
  });
});

describe('verifyWebhook: ?token= fallback', () => {
  const unsigned = (urlToken?: string): SignedRequest => ({ rawBody: BODY, urlToken });

  it('accepts any configured secret as the token', () => {
    for (const token of [SECRET, OLD_SECRET]) {
      expect(verifyWebhook(unsigned(token), [SECRET, OLD_SECRET], OPTIONS)).toEqual({
        ok: true,
        method: 'token',
      });
    }
  });

  it('rejects a wrong token of the same length', () => {
    const wrong = SECRET.replace('current', 'CURRENT');
    expect(wrong).toHaveLength(SECRET.length);
    expect(verifyWebhook(unsigned(wrong), [SECRET], OPTIONS)).toEqual({
      ok: false,
      reason: 'token mismatch',
    });
  });

  it('rejects a token of a different length, including a prefix of the secret', () => {
    for (const token of [`${SECRET}x`, SECRET.slice(0, -1), 'x']) {
      expect(verifyWebhook(unsigned(token), [SECRET], OPTIONS), token).toEqual({
        ok: false,
        reason: 'token mismatch',
      });
    }
  });

  it('rejects a request with neither signature nor token', () => {
    expect(verifyWebhook(unsigned(), [SECRET], OPTIONS)).toEqual({
      ok: false,
      reason: 'missing X-Chatwoot-Signature (or ?token=)',
    });
    expect(verifyWebhook(unsigned(''), [SECRET], OPTIONS)).toMatchObject({ ok: false });
  });

  it('checks the signature, not the token, when both are present', () => {
    const badSignature = signed({ signature: sign(BODY, 'whsec-attacker'), urlToken: SECRET });
    expect(verifyWebhook(badSignature, [SECRET], OPTIONS)).toEqual({
      ok: false,
      reason: 'signature mismatch',
    });
    const goodSignature = signed({ urlToken: 'wrong-token' });
    expect(verifyWebhook(goodSignature, [SECRET], OPTIONS)).toEqual({
      ok: true,
      method: 'signature',
    });
  });
});

describe('verifyWebhook: no secrets configured', () => {
  it('lets every request through, signed or not', () => {
    const requests: SignedRequest[] = [
      { rawBody: BODY },
      signed({ signature: sign(BODY, 'anything') }),
      { rawBody: BODY, signature: 'garbage' },
      { rawBody: BODY, urlToken: 'whatever' },
    ];
    for (const request of requests) {
      expect(verifyWebhook(request, [], OPTIONS)).toEqual({ ok: true, method: 'none' });
    }
  });
});
