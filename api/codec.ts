import cors from '@fastify/cors';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyPluginAsync } from 'fastify';
import { PayloadDecryptionError } from '../codec/aesGcm.js';
import { payloadCodecFor } from '../codec/dataConverter.js';
import type { LiveConfig } from '../config/live.js';
import { HttpError } from './plugins/errorShape.js';

/** Payloads as Temporal's remote-codec contract sends them: proto3 JSON, every byte field base64. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}
interface CodecBody {
  payloads: JsonPayload[];
}

const base64 = { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$' } as const;
const bodySchema = {
  type: 'object',
  required: ['payloads'],
  properties: {
    payloads: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          metadata: { type: 'object', additionalProperties: base64 },
          data: base64,
        },
      },
    },
  },
} as const;

/** A workflow's whole history can be decoded in one call: more than the webhook's limit. */
const CODEC_BODY_LIMIT = 16 * 1_048_576;

/**
 * `POST /codec/encode` and `POST /codec/decode`: Temporal's remote-codec contract, so the
 * Temporal UI (`--ui-codec-endpoint`, or the UI's codec setting) and `temporal --codec-endpoint`
 * show customer text the workers stored encrypted. Same codec as the bridge's Clients and
 * Workers (temporal.encryption), bearer keys from `api.codec.keys`, CORS for
 * `api.codec.corsOrigins` (read live). Payloads of another namespace than the bridge's
 * (`X-Namespace`) are not the bridge's to touch: they come back as they were sent.
 */
export const codecRoutes: FastifyPluginAsync<{ live: LiveConfig }> = async (app, { live }) => {
  const config = live.current();
  // Built once: keys are restart-only, like the Temporal connection they serve.
  const codec = payloadCodecFor(config);

  await app.register(cors, {
    origin: (origin, callback) =>
      callback(null, origin !== undefined && live.current().api.codec.corsOrigins.includes(origin)),
    methods: ['POST'],
    allowedHeaders: ['Content-Type', 'Authorization', 'X-Namespace'],
    credentials: true,
    maxAge: 600,
  });

  const handle = (direction: 'encode' | 'decode') =>
    app.post<{ Body: CodecBody; Headers: { 'x-namespace'?: string } }>(
      `/${direction}`,
      {
        onRequest: app.requireKey('codec'),
        bodyLimit: CODEC_BODY_LIMIT,
        schema: { body: bodySchema },
      },
      async (request) => {
        const namespace = request.headers['x-namespace'];
        if (!codec || (namespace && namespace !== config.temporal.namespace)) {
          return { payloads: request.body.payloads };
        }
        const payloads = request.body.payloads.map(fromJson);
        return { payloads: (await run(codec, direction, payloads)).map(toJson) };
      },
    );
  handle('encode');
  handle('decode');
};

async function run(codec: PayloadCodec, direction: 'encode' | 'decode', payloads: Payload[]) {
  try {
    return direction === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
  } catch (error) {
    if (error instanceof PayloadDecryptionError) {
      throw new HttpError(422, 'payload_not_decodable', error.message, 'payloads');
    }
    throw error;
  }
}

function fromJson(payload: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, bytes(value)]),
    ),
    data: bytes(payload.data ?? ''),
  };
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, text(value)]),
    ),
    data: text(payload.data),
  };
}

const bytes = (value: string) => new Uint8Array(Buffer.from(value, 'base64'));
const text = (value: Uint8Array | null | undefined) =>
  Buffer.from(value ?? new Uint8Array()).toString('base64');
