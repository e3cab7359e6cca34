import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../api/app.js';
import { parseConfig } from '../config/load.js';
import { createJsonLogger, TemporalJsonLogger } from '../observability/logging.js';

const SECRETS = {
  webhook: 'webhook-secret-for-redaction-01',
  chatwoot: 'chatwoot-token-for-redaction-01',
  aiwm: 'aiwm-secret-for-redaction-0123',
  pull: 'pull-key-for-redaction-0123456',
  header: 'ws-agent-header-value-0123456',
  operator: 'operator-key-for-redaction-0123',
};

const config = parseConfig({
  chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: SECRETS.chatwoot },
  webhook: { secrets: [SECRETS.webhook] },
  agents: [
    {
      id: 'ws',
      transport: 'ws',
      url: 'ws://127.0.0.1:1',
      headers: { authorization: `Bearer ${SECRETS.header}` },
    },
    { id: 'aiwm', transport: 'socketio', apiBase: 'http://127.0.0.1:1', secret: SECRETS.aiwm },
    { id: 'pull', transport: 'pull', apiKey: SECRETS.pull },
  ],
  api: { operatorKeys: [SECRETS.operator] },
});

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe('redaction in every logger', () => {
  it('the worker and SDK logger scrubs configured secrets wherever they appear', () => {
    const { lines, stream } = capture();
    const logger = createJsonLogger({ destination: stream, secretsFrom: () => config });
    logger.info({ headers: { authorization: `Bearer ${SECRETS.header}` } }, 'upgrade');
    logger.warn({ token: 'an-aiwm-access-token-value' }, 'token fetched');
    logger.error({ err: new Error(`AIWM refused secret ${SECRETS.aiwm}`) }, 'connect failed');
    new TemporalJsonLogger(logger).warn(`activity failed: key "${SECRETS.pull}"`, {
      workflowId: 'message:1:2:3',
      detail: { nested: { deeper: SECRETS.chatwoot } },
    });
    const log = lines.join('\n');
    for (const secret of [...Object.values(SECRETS), 'an-aiwm-access-token-value']) {
      expect(log).not.toContain(secret);
    }
    expect(log).toContain('[redacted]');
    expect(lines).toHaveLength(4);
  });

  it('the API logs the path without its query, and no credential header', async () => {
    const { lines, stream } = capture();
    const app = buildApp({
      config,
      logger: { level: 'info', stream },
      startDelivery: () => Promise.reject(new Error('not used')),
    });
    await app.inject({
      method: 'POST',
      url: `/webhook/chatwoot?token=${SECRETS.webhook}`,
      payload: {},
    });
    await app.inject({
      method: 'GET',
      url: '/agents/status',
      headers: { authorization: `Bearer ${SECRETS.operator}` },
    });
    await app.close();
    const log = lines.join('\n');
    expect(log).toContain('"url":"/webhook/chatwoot"');
    for (const secret of Object.values(SECRETS)) expect(log).not.toContain(secret);
  });
});
