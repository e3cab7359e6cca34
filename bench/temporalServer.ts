import type { ConnectionOptions } from '@temporalio/client';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  freePort,
  LOW_LATENCY_DYNAMIC_CONFIG,
  startDevServer,
} from '../workers/devServer.js';
import { startTemporalCluster } from '../workers/temporalCluster.js';

export type ServerKind = 'dev' | 'cluster';

/** The Temporal server a benchmark runs against, with what it needs to measure it. */
export interface BenchTemporal {
  kind: ServerKind;
  address: string;
  namespace: string;
  connectionOptions: ConnectionOptions;
  /** Prometheus page with the server's `action` counter. */
  metricsUrl: string;
  /** Root pids whose process trees are the server's CPU (PostgreSQL apart, on the cluster). */
  pids(): { server?: number; postgres?: number };
  stop(): Promise<void>;
}

/**
 * `dev`: the CLI dev server with `npm start`'s tuning (SQLite in memory, one process).
 * `cluster`: Temporal 1.29.1 on PostgreSQL, as `npm run test:cluster` and docker-compose run it.
 */
export async function startBenchTemporal(
  kind: ServerKind,
  dynamicConfig: Record<string, string | number | boolean>,
): Promise<BenchTemporal> {
  if (kind === 'cluster') {
    // Its log stays quiet: a failed start reports the last lines itself.
    const cluster = await startTemporalCluster({ dynamicConfig });
    return {
      kind,
      address: cluster.address,
      namespace: cluster.namespace,
      connectionOptions: cluster.connectionOptions,
      metricsUrl: cluster.metricsUrl,
      pids: () => cluster.pids(),
      stop: () => cluster.stop(),
    };
  }
  const server = await startDevServer({
    ui: false,
    searchAttributes: BRIDGE_SEARCH_ATTRIBUTES,
    // The same server tuning `npm start` uses; experiments may add or override values.
    dynamicConfig: { ...LOW_LATENCY_DYNAMIC_CONFIG, ...dynamicConfig },
    metricsPort: await freePort(),
  });
  return {
    kind,
    address: server.address,
    namespace: server.namespace,
    connectionOptions: { address: server.address },
    metricsUrl: server.metricsUrl as string,
    pids: () => ({ server: server.pid }),
    stop: () => server.stop(),
  };
}
