import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  type Client,
  type ScheduleOptions,
} from '@temporalio/client';
import { catchUpAccountIds, type BridgeConfig } from '../config/schema.js';
import { catchUpScheduleId, type CatchUpInput } from '../workflows/catchUpShared.js';
import { searchAttributes } from '../workflows/searchAttributes.js';

export interface StartupLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

/**
 * Creates (or updates to the current settings) one catch-up Schedule per account, then starts a
 * run at once so what was missed while the bridge was down is found now rather than an interval
 * later. Idempotent: every worker does it at start; concurrent runs are skipped, never doubled.
 * Without `catchUp.apiAccessToken` catch-up is off: the accounts' schedules are removed.
 */
export async function ensureCatchUpSchedules(
  temporal: Client,
  config: BridgeConfig,
  logger: StartupLogger,
): Promise<string[]> {
  const accountIds = catchUpAccountIds(config);
  if (!config.catchUp.apiAccessToken) {
    logger.info(
      'catch-up is off: set catchUp.apiAccessToken (a Chatwoot user token; agent-bot tokens cannot list conversations) to find messages missed while the bridge was down',
      { accountIds },
    );
    for (const accountId of accountIds) await removeSchedule(temporal, accountId);
    return [];
  }
  const scheduleIds: string[] = [];
  for (const accountId of accountIds) {
    const options = scheduleOptions(config, accountId);
    const handle = temporal.schedule.getHandle(options.scheduleId);
    try {
      await temporal.schedule.create(options);
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
      await handle.update((previous) => ({
        ...previous,
        spec: options.spec,
        action: options.action,
        policies: { ...previous.policies, ...options.policies },
        state: { ...previous.state, paused: false },
      }));
    }
    await handle.trigger('SKIP');
    scheduleIds.push(options.scheduleId);
  }
  logger.info('catch-up scheduled', {
    accountIds,
    intervalMs: config.catchUp.intervalMs,
    maxAgeMs: config.catchUp.maxAgeMs,
  });
  return scheduleIds;
}

function scheduleOptions(config: BridgeConfig, accountId: number) {
  const input: CatchUpInput = { accountId };
  return {
    scheduleId: catchUpScheduleId(accountId),
    spec: { intervals: [{ every: config.catchUp.intervalMs }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'catchUpWorkflow',
      workflowId: catchUpScheduleId(accountId),
      taskQueue: config.temporal.taskQueue,
      args: [input],
      staticSummary: `catch-up of account ${accountId}: messages whose webhook Chatwoot gave up on`,
      typedSearchAttributes: [{ key: searchAttributes.accountId, value: String(accountId) }],
    },
    // Temporal's smallest catch-up window is 10 s; a missed tick older than that is skipped.
    policies: {
      overlap: 'SKIP' as const,
      catchupWindow: Math.max(10_000, config.catchUp.intervalMs),
    },
  } satisfies ScheduleOptions;
}

async function removeSchedule(temporal: Client, accountId: number): Promise<void> {
  try {
    await temporal.schedule.getHandle(catchUpScheduleId(accountId)).delete();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
}
