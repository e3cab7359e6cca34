import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config/load.js';
import {
  describeConnection,
  resolveTemporalConnection,
  TemporalConnectionError,
} from '../temporal/connection.js';

const dir = mkdtempSync(join(tmpdir(), 'bridge-envconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const toml = join(dir, 'temporal.toml');
writeFileSync(
  toml,
  [
    '[profile.default]',
    'address = "from-toml:7233"',
    '[profile.cloud]',
    'address = "ns.acct.tmprl.cloud:7233"',
    'namespace = "ns.acct"',
    'api_key = "toml-key"',
  ].join('\n'),
);
const config = (temporal: Record<string, unknown> = {}) =>
  parseConfig({
    chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: 'x' },
    agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:1' }],
    temporal: { configFile: toml, ...temporal },
  });

describe('resolveTemporalConnection', () => {
  it('takes temporal.toml, then BRIDGE_CONFIG, then TEMPORAL_* variables', () => {
    expect(resolveTemporalConnection(config(), {}).address).toBe('from-toml:7233');
    expect(resolveTemporalConnection(config({ address: 'bridge:7233' }), {}).address).toBe(
      'bridge:7233',
    );
    expect(
      resolveTemporalConnection(config({ address: 'bridge:7233' }), { TEMPORAL_ADDRESS: 'env:1' })
        .address,
    ).toBe('env:1');
  });

  it('a Cloud profile brings namespace and API key, and TLS with them', () => {
    const settings = resolveTemporalConnection(config(), { TEMPORAL_PROFILE: 'cloud' });
    expect(settings).toMatchObject({ namespace: 'ns.acct', apiKey: 'toml-key', tls: true });
    expect(describeConnection(settings)).toBe(
      'ns.acct.tmprl.cloud:7233 namespace "ns.acct", TLS, API key',
    );
    expect(describeConnection(settings)).not.toContain('toml-key');
  });

  it('names an unknown profile and an unreadable certificate', () => {
    expect(() => resolveTemporalConnection(config(), { TEMPORAL_PROFILE: 'nope' })).toThrow(
      TemporalConnectionError,
    );
    expect(() =>
      resolveTemporalConnection(
        config({ tls: { serverCaCertPath: join(dir, 'missing.pem') } }),
        {},
      ),
    ).toThrow(/cannot read the Temporal TLS server CA at .*missing\.pem/);
  });
});

describe('temporal.tls in BRIDGE_CONFIG', () => {
  it('refuses a certificate without its key, and path and data together', () => {
    expect(() => config({ tls: { clientCertPath: '/x.pem' } })).toThrow(ConfigError);
    expect(() => config({ tls: { clientCertPath: '/x.pem' } })).toThrow(
      /temporal\.tls\.clientKeyPath.*both a client certificate and its key/,
    );
    expect(() => config({ tls: { serverCaCertPath: '/a', serverCaCertData: 'b' } })).toThrow(
      /set serverCaCertPath or serverCaCertData, not both/,
    );
  });
});
