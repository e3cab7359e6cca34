import { proxySinks, type Sinks } from '@temporalio/workflow';

/**
 * Calls from workflow code out to the worker running it. The worker skips them while replaying
 * history, so each is made once per real event: what metrics need, without I/O in workflows.
 */
export interface BridgeSinks extends Sinks {
  bridgeMetrics: {
    deliveryFinished(agentId: string, outcome: string): void;
  };
}

export const { bridgeMetrics } = proxySinks<BridgeSinks>();
