import type { Client } from '@temporalio/client';
import type { BridgeConfig } from '../config/schema.js';

export type CheckResult = { ok: true; detail?: string } | { ok: false; error: string };

export interface Readiness {
  ready: boolean;
  /** The first check that failed, so a 503 names what to fix. */
  failing?: string;
  checks: Record<string, CheckResult>;
}

/**
 * `GET /ready`: can this instance accept webhooks right now? The configuration was validated at
 * start-up (the app cannot exist without it); Temporal must answer for the namespace within
 * `temporal.startTimeoutMs`, the same budget a webhook gets before it is refused with 503.
 */
export async function checkReadiness(
  config: BridgeConfig,
  temporal: Client | undefined,
): Promise<Readiness> {
  const checks: Record<string, CheckResult> = {
    config: {
      ok: true,
      detail: `${config.agents.length} agent(s), ${config.routes.length} route(s)`,
    },
  };
  if (temporal) checks.temporal = await checkTemporal(config, temporal);
  const failing = Object.entries(checks).find(([, result]) => !result.ok)?.[0];
  return { ready: failing === undefined, ...(failing ? { failing } : {}), checks };
}

async function checkTemporal(config: BridgeConfig, temporal: Client): Promise<CheckResult> {
  const { namespace, startTimeoutMs } = config.temporal;
  try {
    await temporal.withDeadline(Date.now() + startTimeoutMs, () =>
      temporal.workflowService.describeNamespace({ namespace }),
    );
    return { ok: true, detail: `namespace "${namespace}" reachable` };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `namespace "${namespace}" not reachable: ${reason}` };
  }
}
