import { proxySinks, type Sinks } from '@temporalio/workflow';

/**
 * Calls from workflow code out to the worker running it. The worker skips them while replaying
 * history, so each is made once per real event: what metrics need, without I/O in workflows.
 */
export interface BridgeSinks extends Sinks {
  bridgeMetrics: {
    deliveryFinished(agentId: string, outcome: string): void;
    /** A conversation actor dropped a message it had already received or delivered. */
    duplicateDropped(reason: string): void;
  };
}

export const { bridgeMetrics } = proxySinks<BridgeSinks>();
