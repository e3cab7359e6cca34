import { readFileSync } from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import { ConfigError } from '../config/load.js';
import type { BridgeConfig, EncryptionConfig } from '../config/schema.js';
import { AesGcmPayloadCodec, type EncryptionKey } from './aesGcm.js';

/**
 * The payload codec of `temporal.encryption`, or none when encryption is off. Key files are
 * read once, here: a wrong file stops the process at start-up, not at the first payload.
 * Messages name key ids and files, never key material.
 */
export function payloadCodecFor(config: BridgeConfig): AesGcmPayloadCodec | undefined {
  const encryption = config.temporal.encryption;
  if (!encryption) return undefined;
  const keys = encryption.keys.map(readKey);
  return new AesGcmPayloadCodec(keys, currentKeyId(encryption));
}

/**
 * What every Client and Worker the bridge creates passes as `dataConverter`, so workflow
 * inputs and results, signals, updates, queries, activity inputs and results, memos and
 * user metadata (static summaries, details) all go through the codec. Search attributes never
 * do (Temporal indexes them): they carry ids only.
 */
export function bridgeDataConverter(config: BridgeConfig): DataConverter {
  const codec = payloadCodecFor(config);
  return codec ? { payloadCodecs: [codec] } : {};
}

function currentKeyId(encryption: EncryptionConfig): string {
  // The schema requires currentKeyId when there is more than one key.
  return encryption.currentKeyId ?? (encryption.keys[0]?.id as string);
}

function readKey(entry: EncryptionConfig['keys'][number]): EncryptionKey {
  let text = entry.key;
  if (entry.keyFile !== undefined) {
    try {
      text = readFileSync(entry.keyFile, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `temporal.encryption key "${entry.id}": keyFile ${entry.keyFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  const trimmed = (text ?? '').trim();
  const key = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== 32) {
    throw new ConfigError(
      `temporal.encryption key "${entry.id}"${entry.keyFile ? ` (keyFile ${entry.keyFile})` : ''} must hold 32 bytes in base64: make one with "openssl rand -base64 32"`,
    );
  }
  return { id: entry.id, key: new Uint8Array(key) };
}
