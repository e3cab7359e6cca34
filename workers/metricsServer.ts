import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../observability/metrics.js';

export interface MetricsServerOptions {
  registries: Registry[];
  port: number;
  host?: string;
  /** `GET /health` answers 200 while this holds, 503 otherwise. Default: always. */
  healthy?: () => boolean;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The worker process has no HTTP API, yet its activities do the work worth measuring: this
 * serves `GET /metrics` (Prometheus text) and `GET /health` for scrapers and container checks.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const healthy = options.healthy ?? (() => true);
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET' && path === '/metrics') {
      renderMetrics(options.registries).then(
        (text) => response.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(text),
        (error: unknown) => response.writeHead(500).end(`metrics failed: ${String(error)}\n`),
      );
    } else if (request.method === 'GET' && path === '/health') {
      const ok = healthy();
      response
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ok ? 'ok' : 'not running' }));
    } else {
      response.writeHead(404).end('GET /metrics or /health\n');
    }
  });
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    url: `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
