import type { FastifyError, FastifyPluginCallback, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The one shape every refusal of this API has, the webhook's included: a stable machine code,
 * the field at fault when there is one, and a sentence saying what to fix.
 */
export interface ErrorBody {
  error: string;
  field?: string;
  message: string;
}

/** An error a handler or hook throws to answer with `status` and the shape above. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** Extra response headers (`www-authenticate`, `retry-after`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A 400 naming the field at fault, worded as the webhook words its own: `field: message`. */
export function invalidField(code: string, field: string, message: string): HttpError {
  return new HttpError(400, code, `${field}: ${message}`, field);
}

export function sendError(reply: FastifyReply, error: HttpError): FastifyReply {
  return reply
    .code(error.statusCode)
    .headers(error.headers)
    .send({
      error: error.code,
      ...(error.field !== undefined ? { field: error.field } : {}),
      message: error.message,
    } satisfies ErrorBody);
}

/** Fastify's own refusals, reworded into the shape above. */
const FASTIFY_CODES: Record<string, { status: number; error: string; field?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, error: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'invalid_payload', field: '(body)' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'invalid_payload', field: '(body)' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, error: 'invalid_payload', field: '(body)' },
};

/**
 * One error handler for the whole app: schema validation and body parsing answer 4xx in the
 * shared shape, naming the field; anything unexpected is logged and answers a bare 500.
 */
export const errorShapePlugin: FastifyPluginCallback<{ maxBodyBytes: number }> = fp<{
  maxBodyBytes: number;
}>(
  (app, { maxBodyBytes }, done) => {
    app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
      if (error instanceof HttpError) return sendError(reply, error);
      if (error.validation) {
        const issue = error.validation[0];
        const missing = issue?.params?.missingProperty;
        const path = [
          ...(issue?.instancePath ?? '').split('/').filter(Boolean),
          ...(typeof missing === 'string' ? [missing] : []),
        ].join('.');
        const field = path || `(${error.validationContext ?? 'body'})`;
        const code = error.validationContext === 'body' ? 'invalid_payload' : 'invalid_request';
        return sendError(reply, invalidField(code, field, issue?.message ?? 'invalid'));
      }
      const known = error.code ? FASTIFY_CODES[error.code] : undefined;
      if (known) {
        const message = known.status === 413 ? `body exceeds ${maxBodyBytes} bytes` : error.message;
        return sendError(reply, new HttpError(known.status, known.error, message, known.field));
      }
      const status = error.statusCode ?? 500;
      if (status < 500) {
        return sendError(reply, new HttpError(status, snakeCase(error.code), error.message));
      }
      // A client's mistake never lands here; what does is ours, and its details stay in the log.
      request.log.error({ err: error }, 'request failed');
      return sendError(reply, new HttpError(500, 'internal_error', 'internal error'));
    });

    app.setNotFoundHandler((request, reply) =>
      sendError(
        reply,
        new HttpError(404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
      ),
    );
    done();
  },
  { name: 'error-shape' },
);

function snakeCase(code: string | undefined): string {
  return code ? code.replace(/^FST_ERR_/, '').toLowerCase() : 'bad_request';
}
