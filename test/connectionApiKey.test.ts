import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { connectClient, resolveTemporalConnection } from '../temporal/connection.js';
import { createBridgeWorker } from '../workers/worker.js';

// A gRPC-level proxy in front of the suite's Temporal server: it forwards every call as is and
// records the `authorization` header each one arrived with.
const seen: (string | undefined)[] = [];
let proxy: http2.Http2Server;
let upstream: http2.ClientHttp2Session;

beforeAll(async () => {
  upstream = http2.connect(`http://${inject('temporalAddress')}`);
  proxy = http2.createServer();
  proxy.on('stream', (stream, headers) => {
    seen.push(headers.authorization);
    const forwarded = Object.fromEntries(
      Object.entries(headers).filter(
        ([name]) => !name.startsWith(':') || name === ':path' || name === ':method',
      ),
    );
    const call = upstream.request(forwarded);
    // Long polls end mid-call when the worker shuts down: whichever side goes first ends both.
    const open = () => !stream.destroyed && !stream.closed;
    call.on('response', (responseHeaders) => {
      const { ':status': status, ...rest } = responseHeaders;
      if (open()) stream.respond({ ':status': status, ...rest }, { waitForTrailers: true });
    });
    call.on('trailers', (trailers) =>
      stream.once('wantTrailers', () => {
        if (open()) stream.sendTrailers(trailers as http2.OutgoingHttpHeaders);
      }),
    );
    call.on('data', (chunk: Buffer) => {
      if (open()) stream.write(chunk);
    });
    call.on('end', () => {
      if (open()) stream.end();
    });
    call.on('error', () => stream.destroy());
    stream.on('data', (chunk: Buffer) => {
      if (!call.destroyed) call.write(chunk);
    });
    stream.on('end', () => {
      if (!call.destroyed) call.end();
    });
    stream.on('close', () => {
      if (!call.closed) call.close();
    });
    stream.on('error', () => call.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  upstream?.close();
  await new Promise((resolve) => proxy?.close(resolve));
});

describe('an API-key connection', () => {
  it('sends the key as a bearer token on every call, client and worker alike', async () => {
    const address = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const config = parseConfig({
      chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: 'x' },
      agents: [{ id: 'echo', transport: 'ws', url: 'ws://127.0.0.1:1' }],
      // The proxy speaks plain HTTP/2: TLS off (an API key turns it on otherwise).
      temporal: { address, tls: { enabled: false } },
      metrics: { workerPort: 0, temporalSdkPort: 0 },
    });
    const settings = resolveTemporalConnection(config, { TEMPORAL_API_KEY: 'key-for-the-test' });
    expect(settings.tls).toBe(false);

    const connection = await connectClient(settings);
    await connection.workflowService.getSystemInfo({});
    await connection.close();

    const worker = await createBridgeWorker({
      config,
      address,
      connection: settings,
      workflowBundlePath: inject('workflowBundlePath'),
    });
    const running = worker.run();
    try {
      await expect.poll(() => worker.isRunning(), { timeout: 30_000 }).toBe(true);
    } finally {
      await worker.shutdown();
      await running;
    }
    expect(seen.length).toBeGreaterThan(2);
    expect(new Set(seen)).toEqual(new Set(['Bearer key-for-the-test']));
  }, 120_000);
});
