import { Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { BridgeConfig } from '../config/schema.js';
import { TemporalJsonLogger } from './logging.js';

/**
 * Sets up the Temporal SDK for a worker process: JSON logs through `logger` (including the Rust
 * core's, forwarded) and, unless `metrics.temporalSdkPort` is 0, the SDK's own Prometheus
 * metrics (task slots, poll and schedule-to-start latencies…) on that port at `/metrics`.
 * Once per process, before the first worker or native connection is created.
 */
export function installWorkerRuntime(config: BridgeConfig, logger: Logger): void {
  const { host, temporalSdkPort } = config.metrics;
  Runtime.install({
    logger: new TemporalJsonLogger(logger),
    telemetryOptions: {
      logging: { forward: {} },
      ...(temporalSdkPort
        ? { metrics: { prometheus: { bindAddress: `${bindHost(host)}:${temporalSdkPort}` } } }
        : {}),
    },
  });
}

function bindHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
