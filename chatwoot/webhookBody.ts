/**
 * Turns the raw bytes of a webhook into JSON, or says precisely why not: Chatwoot always sends
 * `application/json`, UTF-8, a handful of levels deep, so anything else is the sender's mistake
 * and gets a 4xx naming it.
 */

/** A refusal, shaped as the answer to send. */
export type BodyProblem = { status: 400 | 415; body: { error: string; message: string } };

export type ReadBody = { ok: true; json: unknown } | ({ ok: false } & BodyProblem);

const problem = (status: 400 | 415, error: string, message: string) => ({
  status,
  body: { error, message },
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `application/json`, with or without parameters (`; charset=utf-8`), or any `+json` type. */
export function isJsonContentType(contentType: string | undefined): boolean {
  const type = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/** Checks before the signature: a body must be there, and be JSON-typed. */
export function bodyPresenceProblem(
  raw: Buffer,
  contentType: string | undefined,
): BodyProblem | undefined {
  if (raw.length === 0) return problem(400, 'invalid_body', 'a JSON body is required');
  if (!isJsonContentType(contentType)) {
    const given = contentType ?? '(none)';
    return problem(
      415,
      'unsupported_media_type',
      `content-type ${given} is not accepted: send application/json`,
    );
  }
  return undefined;
}

/** UTF-8, nested at most `maxDepth` levels, valid JSON. */
export function parseBody(raw: Buffer, maxDepth: number): ReadBody {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return { ok: false, ...problem(400, 'invalid_body', 'body is not valid UTF-8') };
  }
  const depth = nestingDepth(text);
  if (depth > maxDepth) {
    const message = `body is nested deeper than ${maxDepth} levels (webhook.maxDepth)`;
    return { ok: false, ...problem(400, 'invalid_body', message) };
  }
  try {
    return { ok: true, json: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, ...problem(400, 'invalid_payload', 'body is not valid JSON') };
  }
}

/**
 * The deepest nesting of objects and arrays in JSON text, in one pass without recursion (so a
 * hostile body cannot exhaust the stack before it is refused). Brackets inside strings do not
 * count; malformed text is left for `JSON.parse` to refuse.
 */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c /* \ */) index += 1;
      else if (char === 0x22 /* " */) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x7b /* { */ || char === 0x5b /* [ */) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (char === 0x7d /* } */ || char === 0x5d /* ] */) {
      depth -= 1;
    }
  }
  return deepest;
}
