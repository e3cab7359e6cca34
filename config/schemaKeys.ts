import type { z } from 'zod';

/**
 * Reading the configuration schema as data: which keys it has (for the reload's list of live
 * and restart-only keys) and which keys a file has that it does not (a start-up warning, since
 * sections are `.loose()` and a misspelt key would otherwise do nothing, silently).
 */

type AnySchema = z.core.$ZodType;
interface Def {
  type: string;
  shape?: Record<string, AnySchema>;
  innerType?: AnySchema;
  in?: AnySchema;
  element?: AnySchema;
  options?: AnySchema[];
  discriminator?: string;
  values?: unknown[];
  getter?: () => AnySchema;
}

const defOf = (schema: AnySchema): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schema under wrappers that change nothing about keys (default, optional, pipe…). */
function unwrap(schema: AnySchema): AnySchema {
  for (;;) {
    const def = defOf(schema);
    if (def.innerType) schema = def.innerType;
    else if (def.type === 'pipe' && def.in) schema = def.in;
    else if (def.type === 'lazy' && def.getter) schema = def.getter();
    else return schema;
  }
}

/**
 * Every configuration key as a dotted path, down to the leaves; a list (`agents`, `routes`,
 * `webhook.secrets`) or a map (`headers`) counts as one key.
 */
export function schemaKeyPaths(schema: AnySchema, prefix = ''): string[] {
  const def = defOf(unwrap(schema));
  if (def.type !== 'object' || !def.shape) return prefix ? [prefix] : [];
  return Object.entries(def.shape).flatMap(([key, child]) =>
    schemaKeyPaths(child, prefix ? `${prefix}.${key}` : key),
  );
}

export interface UnknownKey {
  /** Where the key is, e.g. `agents.0.catchup`. */
  path: string;
  /** The known key at that level closest in spelling. */
  closest?: string;
}

/** Keys of `raw` the schema does not know, each with the closest known key beside it. */
export function unknownKeys(raw: unknown, schema: AnySchema, path: string[] = []): UnknownKey[] {
  const inner = unwrap(schema);
  const def = defOf(inner);
  if (def.type === 'array' && def.element && Array.isArray(raw)) {
    const element = def.element;
    return raw.flatMap((item, index) => unknownKeys(item, element, [...path, String(index)]));
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [];
  if (def.type === 'union' && def.options) {
    const option = pickOption(raw as Record<string, unknown>, def);
    return option ? unknownKeys(raw, option, path) : [];
  }
  if (def.type !== 'object' || !def.shape) return [];
  const shape = def.shape;
  const known = Object.keys(shape);
  return Object.entries(raw as Record<string, unknown>).flatMap(([key, value]) => {
    const child = shape[key];
    if (child) return unknownKeys(value, child, [...path, key]);
    const closest = closestKey(key, known);
    return [{ path: [...path, key].join('.'), ...(closest ? { closest } : {}) }];
  });
}

/** The union member `raw` is meant to be: by discriminator (`transport`), else the first object. */
function pickOption(raw: Record<string, unknown>, def: Def): AnySchema | undefined {
  const options = def.options ?? [];
  if (def.discriminator) {
    const tag = raw[def.discriminator];
    return options.find((option) => {
      const field = defOf(unwrap(option)).shape?.[def.discriminator as string];
      return field !== undefined && (defOf(unwrap(field)).values ?? []).includes(tag);
    });
  }
  return options.find((option) => defOf(unwrap(option)).type === 'object');
}

/** The known key nearest in edit distance, ignoring case (`catchup` → `catchUp`). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  return best?.key;
}

/** Levenshtein distance, two rows at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}
