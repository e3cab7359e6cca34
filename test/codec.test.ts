import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadDecryptionError,
} from '../codec/aesGcm.js';
import { bridgeDataConverter, payloadCodecFor } from '../codec/dataConverter.js';
import { ConfigError, parseConfig } from '../config/load.js';
import { configuredSecrets } from '../observability/logging.js';

const key = () => new Uint8Array(randomBytes(32));
const customer = { content: 'My card 4111 is blocked', email: 'jane@example.com' };
const toPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const fromPayload = (payload: Payload): unknown => defaultPayloadConverter.fromPayload(payload);
const utf8 = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

const base = {
  chatwoot: { baseUrl: 'http://chatwoot.test', apiAccessToken: 'token' },
  agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:9001' }],
};
const withEncryption = (encryption: unknown) => parseConfig({ ...base, temporal: { encryption } });
const base64Key = () => randomBytes(32).toString('base64');

describe('AES-256-GCM payload codec', () => {
  it('round-trips a payload and hides its data and its original metadata', async () => {
    const codec = new AesGcmPayloadCodec([{ id: 'k1', key: key() }], 'k1');
    const [encoded] = await codec.encode([toPayload(customer)]);
    expect(utf8(encoded?.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(utf8(encoded?.metadata?.[KEY_ID_METADATA])).toBe('k1');
    expect(Object.keys(encoded?.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA]);
    expect(utf8(encoded?.data)).not.toContain('4111');
    expect(utf8(encoded?.data)).not.toContain('jane@');
    const [decoded] = await codec.decode([encoded as Payload]);
    expect(fromPayload(decoded as Payload)).toEqual(customer);
    expect(utf8(decoded?.metadata?.encoding)).toBe('json/plain');
  });

  it('encrypts the same value differently each time (fresh IV)', async () => {
    const codec = new AesGcmPayloadCodec([{ id: 'k1', key: key() }], 'k1');
    const [a, b] = await codec.encode([toPayload('same'), toPayload('same')]);
    expect(Buffer.from(a?.data ?? []).equals(Buffer.from(b?.data ?? []))).toBe(false);
  });

  it('rotates: the new key encodes, the old key still decodes what it wrote', async () => {
    const oldKey = { id: '2026-01', key: key() };
    const newKey = { id: '2026-06', key: key() };
    const before = new AesGcmPayloadCodec([oldKey], '2026-01');
    const [written] = await before.encode([toPayload(customer)]);

    const after = new AesGcmPayloadCodec([oldKey, newKey], '2026-06');
    expect(fromPayload((await after.decode([written as Payload]))[0] as Payload)).toEqual(customer);
    const [fresh] = await after.encode([toPayload('new')]);
    expect(utf8(fresh?.metadata?.[KEY_ID_METADATA])).toBe('2026-06');
    // Once the old key is dropped, what it wrote can no longer be read, and says why.
    const dropped = new AesGcmPayloadCodec([newKey], '2026-06');
    await expect(dropped.decode([written as Payload])).rejects.toThrow(
      /key "2026-01", which is not configured \(known: 2026-06\)/,
    );
  });

  it('refuses a payload whose key id it does not know', async () => {
    const [encoded] = await new AesGcmPayloadCodec([{ id: 'a', key: key() }], 'a').encode([
      toPayload('x'),
    ]);
    const other = new AesGcmPayloadCodec([{ id: 'b', key: key() }], 'b');
    await expect(other.decode([encoded as Payload])).rejects.toBeInstanceOf(PayloadDecryptionError);
  });

  it('refuses tampered ciphertext, a relabelled key id, a wrong key and a truncated payload', async () => {
    const k1 = key();
    const codec = new AesGcmPayloadCodec(
      [
        { id: 'k1', key: k1 },
        { id: 'k2', key: key() },
      ],
      'k1',
    );
    const [encoded] = (await codec.encode([toPayload(customer)])) as [Payload];
    const data = Buffer.from(encoded.data ?? []);

    const flipped = Buffer.from(data);
    flipped[20] = (flipped[20] ?? 0) ^ 1;
    await expect(codec.decode([{ ...encoded, data: flipped }])).rejects.toThrow(
      /failed authentication/,
    );

    const relabelled = {
      ...encoded,
      metadata: { ...encoded.metadata, [KEY_ID_METADATA]: Buffer.from('k2') },
    };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication/);

    const wrongKey = new AesGcmPayloadCodec([{ id: 'k1', key: key() }], 'k1');
    await expect(wrongKey.decode([encoded])).rejects.toThrow(/failed authentication/);

    await expect(codec.decode([{ ...encoded, data: data.subarray(0, 10) }])).rejects.toThrow(
      /truncated/,
    );
  });

  it('passes payloads written without the codec through unchanged', async () => {
    const codec = new AesGcmPayloadCodec([{ id: 'k1', key: key() }], 'k1');
    const plain = toPayload({ written: 'before encryption was on' });
    expect(await codec.decode([plain])).toEqual([plain]);
  });
});

describe('temporal.encryption configuration', () => {
  it('is off by default: no codec in the data converter', () => {
    expect(bridgeDataConverter(parseConfig(base))).toEqual({});
  });

  it('reads keys inline and from files, and encodes with currentKeyId', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-keys-'));
    const keyFile = join(dir, 'new.key');
    writeFileSync(keyFile, `${base64Key()}\n`);
    const config = withEncryption({
      keys: [
        { id: 'old', key: base64Key() },
        { id: 'new', keyFile },
      ],
      currentKeyId: 'new',
    });
    const codec = payloadCodecFor(config);
    expect(codec?.currentKeyId).toBe('new');
    const [encoded] = (await codec?.encode([toPayload('hi')])) ?? [];
    expect(utf8(encoded?.metadata?.[KEY_ID_METADATA])).toBe('new');
  });

  it.each([
    [{ keys: [] }, /list at least one key/],
    [{ keys: [{ id: 'a', key: 'c2hvcnQ=' }] }, /32 bytes in base64/],
    [{ keys: [{ id: 'a' }] }, /exactly one of key \(base64\) or keyFile/],
    [{ keys: [{ id: 'a', key: base64Key(), keyFile: '/k' }] }, /exactly one of/],
    [
      {
        keys: [
          { id: 'a', key: base64Key() },
          { id: 'b', key: base64Key() },
        ],
      },
      /set currentKeyId/,
    ],
    [
      {
        keys: [
          { id: 'a', key: base64Key() },
          { id: 'a', key: base64Key() },
        ],
        currentKeyId: 'a',
      },
      /listed twice/,
    ],
    [{ keys: [{ id: 'a', key: base64Key() }], currentKeyId: 'b' }, /no key with id "b"/],
  ])('refuses %j with a message saying what to fix', (encryption, message) => {
    expect(() => withEncryption(encryption)).toThrow(message);
  });

  it('names a bad key file without showing its content', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-keys-'));
    const keyFile = join(dir, 'bad.key');
    writeFileSync(keyFile, 'not-a-key-secret-text');
    const config = withEncryption({ keys: [{ id: 'a', keyFile }] });
    expect(() => payloadCodecFor(config)).toThrow(ConfigError);
    expect(() => payloadCodecFor(config)).toThrow(/keyFile .*bad\.key.*openssl rand -base64 32/);
    expect(() => payloadCodecFor(config)).not.toThrow(/not-a-key-secret-text/);
    const missing = withEncryption({ keys: [{ id: 'a', keyFile: join(dir, 'none') }] });
    expect(() => payloadCodecFor(missing)).toThrow(/cannot be read \(ENOENT\)/);
  });

  it('takes BRIDGE_ENCRYPTION_KEYS, current key first', () => {
    const [k1, k2] = [base64Key(), base64Key()];
    const config = parseConfig(base, { BRIDGE_ENCRYPTION_KEYS: `new:${k1}, old:${k2}` });
    expect(config.temporal.encryption).toMatchObject({
      currentKeyId: 'new',
      keys: [
        { id: 'new', key: k1 },
        { id: 'old', key: k2 },
      ],
    });
    expect(() => parseConfig(base, { BRIDGE_ENCRYPTION_KEYS: k1 })).toThrow(/id:base64key/);
    expect(() => parseConfig(base, { BRIDGE_ENCRYPTION_KEYS: ' , ' })).toThrow(/holds no key/);
  });

  it('counts encryption and codec keys as secrets, so logs scrub them', () => {
    const inline = base64Key();
    const config = parseConfig({
      ...base,
      temporal: { encryption: { keys: [{ id: 'a', key: inline }] } },
      api: { codec: { keys: ['codec-key-0123456789'] } },
    });
    expect(configuredSecrets(config)).toEqual(
      expect.arrayContaining([inline, 'codec-key-0123456789']),
    );
  });
});
