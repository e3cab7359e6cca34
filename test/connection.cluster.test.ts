import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { resolveTemporalConnection, describeConnection } from '../temporal/connection.js';
import { startTemporalCluster } from '../workers/temporalCluster.js';
import { createBridgeWorker } from '../workers/worker.js';

// Certificates made here with Debian's openssl: a CA, the frontend's (for 127.0.0.1), a client's.
const dir = mkdtempSync(join(tmpdir(), 'bridge-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
openssl(
  ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=bridge-test-ca'],
  ...['-keyout', file('ca.key'), '-out', file('ca.pem')],
);
function signed(name: string, extensions: string): void {
  openssl(
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`],
    ...['-keyout', file(`${name}.key`), '-out', file(`${name}.csr`)],
  );
  writeFileSync(file(`${name}.ext`), extensions);
  openssl(
    ...[
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
    ],
    ...[
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      file(`${name}.ext`),
      '-out',
      file(`${name}.pem`),
    ],
  );
}
signed('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
signed('client', 'extendedKeyUsage=clientAuth\n');

function bridgeConfig(temporal: Record<string, unknown>) {
  return parseConfig({
    chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: 'x' },
    agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:1' }],
    temporal,
    metrics: { workerPort: 0, temporalSdkPort: 0 },
  });
}

/** A bridge worker on `settings` reaches the polling state, then shuts down. */
async function workerPolls(config: ReturnType<typeof bridgeConfig>, env: Record<string, string>) {
  const connection = resolveTemporalConnection(config, env);
  const worker = await createBridgeWorker({
    config,
    address: connection.address,
    connection,
    workflowBundlePath: inject('workflowBundlePath'),
  });
  const running = worker.run();
  try {
    await expect.poll(() => worker.isRunning(), { timeout: 30_000 }).toBe(true);
  } finally {
    await worker.shutdown();
    await running;
  }
  return connection;
}

describe('connecting over TLS', () => {
  it('TLS-only (a server CA from TEMPORAL_TLS_SERVER_CA_CERT_PATH): a worker polls', async () => {
    const cluster = await startTemporalCluster({
      tls: { certFile: file('server.pem'), keyFile: file('server.key'), caFile: file('ca.pem') },
    });
    try {
      // Plain TCP is refused by a TLS frontend.
      await expect(
        Connection.connect({ address: cluster.address, connectTimeout: 2_000 }),
      ).rejects.toThrow();
      const connection = await workerPolls(bridgeConfig({}), {
        TEMPORAL_ADDRESS: cluster.address,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.pem'),
      });
      expect(describeConnection(connection)).toContain('TLS (own CA)');
    } finally {
      await cluster.stop();
    }
  }, 240_000);

  it('mTLS (client certificate in BRIDGE_CONFIG temporal.tls): a worker polls', async () => {
    const cluster = await startTemporalCluster({
      tls: {
        certFile: file('server.pem'),
        keyFile: file('server.key'),
        caFile: file('ca.pem'),
        requireClientCert: {
          clientCertFile: file('client.pem'),
          clientKeyFile: file('client.key'),
        },
      },
    });
    try {
      const config = bridgeConfig({
        address: cluster.address,
        tls: {
          serverCaCertPath: file('ca.pem'),
          clientCertPath: file('client.pem'),
          clientKeyPath: file('client.key'),
        },
      });
      const connection = await workerPolls(config, {});
      expect(describeConnection(connection)).toContain('mTLS');
      // Without the client certificate the server refuses the call.
      const withoutCert = bridgeConfig({
        address: cluster.address,
        tls: { serverCaCertPath: file('ca.pem') },
      });
      await expect(workerPolls(withoutCert, {})).rejects.toThrow();
    } finally {
      await cluster.stop();
    }
  }, 240_000);
});
