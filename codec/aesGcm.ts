import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';

/** What an encrypted payload says it is; the Temporal UI shows it for payloads it cannot decode. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** The metadata key naming the key a payload was encrypted with. */
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const text = new TextEncoder();
const untext = new TextDecoder();

/** One AES-256 key and the id payloads name it by. */
export interface EncryptionKey {
  id: string;
  /** 32 bytes. */
  key: Uint8Array;
}

/** A payload the codec cannot read: unknown key id, tampered or truncated ciphertext. */
export class PayloadDecryptionError extends Error {
  override name = 'PayloadDecryptionError';
}

/**
 * Encrypts every payload with AES-256-GCM under the current key and decrypts with any key it
 * knows, so keys rotate without rewriting histories: add the new key, make it current, keep
 * the old one until no open workflow (and no retained history you want to read) uses it.
 *
 * The whole original payload (its metadata too: `json/plain` and the like say what the data
 * is) is sealed; the outer payload carries only the encoding and the key id, which is also
 * authenticated (GCM additional data), so a payload cannot be relabelled to another key.
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  readonly #keys: Map<string, Uint8Array>;
  readonly #current: EncryptionKey;

  constructor(keys: readonly EncryptionKey[], currentKeyId: string) {
    this.#keys = new Map();
    for (const { id, key } of keys) {
      if (key.length !== 32) throw new Error(`encryption key "${id}" must be 32 bytes`);
      this.#keys.set(id, key);
    }
    const current = this.#keys.get(currentKeyId);
    if (!current) throw new Error(`current encryption key "${currentKeyId}" is not among the keys`);
    this.#current = { id: currentKeyId, key: current };
  }

  /** The id new payloads are encrypted with. */
  get currentKeyId(): string {
    return this.#current.id;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- a refusal must reject, not throw
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.#encrypt(payload));
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- a refusal must reject, not throw
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.#decrypt(payload));
  }

  #encrypt(payload: Payload): Payload {
    const { id, key } = this.#current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(text.encode(id));
    const sealed = Buffer.concat([cipher.update(serialize(payload)), cipher.final()]);
    return {
      metadata: { encoding: text.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: text.encode(id) },
      data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
    };
  }

  #decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    // Written before the codec was on (or by a client without it): readable as it is.
    if (!encoding || untext.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    if (!idBytes) throw new PayloadDecryptionError(`encrypted payload has no ${KEY_ID_METADATA}`);
    const id = untext.decode(idBytes);
    const key = this.#keys.get(id);
    if (!key) {
      throw new PayloadDecryptionError(
        `payload encrypted with key "${id}", which is not configured (known: ${[...this.#keys.keys()].join(', ')}): add it to temporal.encryption.keys`,
      );
    }
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`encrypted payload (key "${id}") is truncated`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(idBytes);
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    try {
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return deserialize(plain);
    } catch {
      throw new PayloadDecryptionError(
        `encrypted payload (key "${id}") failed authentication: it was altered or the key is wrong`,
      );
    }
  }
}

/** The sealed form of a payload: its metadata and data as base64 in JSON. */
function serialize(payload: Payload): Buffer {
  const metadata = Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, base64(value)]),
  );
  return Buffer.from(JSON.stringify({ metadata, data: base64(payload.data) }));
}

function deserialize(plain: Buffer): Payload {
  const parsed = JSON.parse(plain.toString('utf8')) as {
    metadata: Record<string, string>;
    data: string;
  };
  return {
    metadata: Object.fromEntries(
      Object.entries(parsed.metadata).map(([name, value]) => [name, fromBase64(value)]),
    ),
    data: fromBase64(parsed.data),
  };
}

const base64 = (bytes: Uint8Array | null | undefined) =>
  Buffer.from(bytes ?? new Uint8Array()).toString('base64');
const fromBase64 = (value: string) => new Uint8Array(Buffer.from(value, 'base64'));
