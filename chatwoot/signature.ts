import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureCheck =
  { ok: true; method: 'signature' | 'token' | 'none' } | { ok: false; reason: string };

export interface SignedRequest {
  rawBody: Buffer | string;
  signature?: string;
  timestamp?: string;
  /** `?token=` from the webhook URL, for Chatwoot versions that do not sign. */
  urlToken?: string;
}

/**
 * Chatwoot signs webhooks with `X-Chatwoot-Signature: sha256=<hex>`, an HMAC-SHA256 over
 * `"{X-Chatwoot-Timestamp}.{raw body}"`. Any configured secret may match (key rotation).
 * Unsigned requests may instead carry one of the secrets as `?token=`.
 */
export function verifyWebhook(
  request: SignedRequest,
  secrets: readonly string[],
  options: { toleranceSeconds: number; nowSeconds?: number },
): SignatureCheck {
  if (secrets.length === 0) return { ok: true, method: 'none' };

  if (request.signature) {
    const match = /^sha256=([0-9a-f]{64})$/i.exec(request.signature.trim());
    if (!match?.[1]) return { ok: false, reason: 'malformed X-Chatwoot-Signature' };
    const timestamp = Number(request.timestamp);
    if (!request.timestamp || !Number.isInteger(timestamp)) {
      return { ok: false, reason: 'missing or malformed X-Chatwoot-Timestamp' };
    }
    const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
    if (Math.abs(now - timestamp) > options.toleranceSeconds) {
      return { ok: false, reason: 'X-Chatwoot-Timestamp outside the allowed window' };
    }
    const given = Buffer.from(match[1].toLowerCase(), 'hex');
    const signed = Buffer.concat([Buffer.from(`${request.timestamp}.`), toBuffer(request.rawBody)]);
    const valid = secrets.some((secret) =>
      timingSafeEqual(createHmac('sha256', secret).update(signed).digest(), given),
    );
    return valid ? { ok: true, method: 'signature' } : { ok: false, reason: 'signature mismatch' };
  }

  if (request.urlToken) {
    // Digests first: equal lengths for the constant-time compare, so timing tells nothing of
    // the secret's length; every secret is compared, so nothing tells which one is close.
    const given = digest(request.urlToken);
    const matches = secrets.map((secret) => timingSafeEqual(digest(secret), given));
    return matches.includes(true)
      ? { ok: true, method: 'token' }
      : { ok: false, reason: 'token mismatch' };
  }

  return { ok: false, reason: 'missing X-Chatwoot-Signature (or ?token=)' };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function toBuffer(body: Buffer | string): Buffer {
  return typeof body === 'string' ? Buffer.from(body) : body;
}
