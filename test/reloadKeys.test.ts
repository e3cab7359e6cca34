import { describe, expect, it } from 'vitest';
import { RELOAD_BEHAVIOUR } from '../config/live.js';
import { bridgeConfigSchema } from '../config/schema.js';
import { schemaKeyPaths } from '../config/schemaKeys.js';

describe('every configuration key is applied live or listed as restart-only', () => {
  const schemaKeys = schemaKeyPaths(bridgeConfigSchema);

  it('reads the schema down to its leaves', () => {
    expect(schemaKeys).toEqual(
      expect.arrayContaining(['agents', 'routes', 'api.keys', 'webhook.secrets', 'http.port']),
    );
  });

  it.each(schemaKeys)('%s says what a reload does with it (config/live.ts)', (key) => {
    expect(Object.keys(RELOAD_BEHAVIOUR)).toContain(key);
  });

  it('lists no key the schema does not have', () => {
    expect(Object.keys(RELOAD_BEHAVIOUR).filter((key) => !schemaKeys.includes(key))).toEqual([]);
  });
});
