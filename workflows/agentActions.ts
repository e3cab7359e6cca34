import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  patched,
  proxyActivities,
} from '@temporalio/workflow';
import type { BridgeActivities } from '../activities/index.js';
import { chatwootOptions } from './activityOptions.js';
import type { AgentReply, MessageDeliveryInput } from './shared.js';

/**
 * Agent actions: what a reply's `metadata.actions` asks the bridge to do to the conversation
 * (labels, priority, custom attributes, assignment, snooze, resolve, open). Each allowed action
 * runs after its reply is posted, as its own Chatwoot activity; the others are refused.
 * Workflow code: pure, no I/O.
 */

export const AGENT_ACTION_TYPES = [
  'add_labels',
  'remove_labels',
  'set_priority',
  'set_custom_attributes',
  'assign_team',
  'assign_agent',
  'snooze',
  'resolve',
  'open',
] as const;

export type AgentActionType = (typeof AGENT_ACTION_TYPES)[number];

export type ConversationPriority = 'urgent' | 'high' | 'medium' | 'low';

export type AgentAction =
  | { type: 'add_labels' | 'remove_labels'; labels: string[] }
  | { type: 'set_priority'; priority: ConversationPriority | null }
  | { type: 'set_custom_attributes'; attributes: Record<string, unknown> }
  | { type: 'assign_team'; team_id: number }
  | { type: 'assign_agent'; assignee_id: number }
  /** `until`: ISO-8601. */
  | { type: 'snooze'; until: string }
  | { type: 'resolve' }
  | { type: 'open' };

/** One action's line in the delivery report. */
export interface ActionReport {
  /** The reply that asked for it (0-based). */
  replyIndex: number;
  /** The type the agent asked for (as sent, when it is not one the bridge knows). */
  type: string;
  /** `refused`: not in the agent's `allowedActions`, or malformed; never sent to Chatwoot. */
  status: 'done' | 'refused' | 'failed';
  /** What was done, e.g. "add labels vip, refund". */
  summary?: string;
  error?: string;
}

/** The patch that runs actions: replies recorded before it replay without them. */
export const AGENT_ACTIONS_PATCH = 'agent-actions';

const PRIORITIES = new Set<unknown>(['urgent', 'high', 'medium', 'low', null]);

/** Checks one entry of `metadata.actions`: the action, or why it is malformed. */
export function parseAgentAction(
  value: unknown,
): { ok: true; action: AgentAction } | { ok: false; type: string; error: string } {
  if (!isRecord(value) || typeof value.type !== 'string') {
    return { ok: false, type: 'unknown', error: 'an action is an object with a string "type"' };
  }
  const { type } = value;
  const bad = (error: string) => ({ ok: false as const, type, error });
  switch (type) {
    case 'add_labels':
    case 'remove_labels': {
      const { labels } = value;
      if (
        !Array.isArray(labels) ||
        labels.length === 0 ||
        !labels.every((label) => typeof label === 'string' && label.trim() !== '')
      ) {
        return bad('"labels" must be a non-empty array of label names');
      }
      return { ok: true, action: { type, labels: labels.map((label: string) => label.trim()) } };
    }
    case 'set_priority':
      if (!PRIORITIES.has(value.priority)) {
        return bad('"priority" must be "urgent", "high", "medium", "low" or null');
      }
      return {
        ok: true,
        action: { type, priority: value.priority as ConversationPriority | null },
      };
    case 'set_custom_attributes':
      if (!isRecord(value.attributes) || Object.keys(value.attributes).length === 0) {
        return bad('"attributes" must be an object with at least one key');
      }
      return { ok: true, action: { type, attributes: value.attributes } };
    case 'assign_team':
      if (!isPositiveInteger(value.team_id)) return bad('"team_id" must be a positive integer');
      return { ok: true, action: { type, team_id: value.team_id } };
    case 'assign_agent':
      if (!isPositiveInteger(value.assignee_id)) {
        return bad('"assignee_id" must be a positive integer (a Chatwoot user id)');
      }
      return { ok: true, action: { type, assignee_id: value.assignee_id } };
    case 'snooze': {
      const until = typeof value.until === 'string' ? Date.parse(value.until) : Number.NaN;
      if (!ISO_DATE_TIME.test(String(value.until)) || Number.isNaN(until)) {
        return bad('"until" must be an ISO-8601 date and time, e.g. "2026-12-02T09:00:00Z"');
      }
      return { ok: true, action: { type, until: value.until as string } };
    }
    case 'resolve':
    case 'open':
      return { ok: true, action: { type } };
    default:
      return bad(`unknown action; use one of ${AGENT_ACTION_TYPES.join(', ')}`);
  }
}

/** Date, `T`, time, and a zone (`Z` or an offset): a time that means the same everywhere. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** "add labels vip, refund": the activity's summary and the report's. */
export function actionSummary(action: AgentAction): string {
  switch (action.type) {
    case 'add_labels':
      return `add labels ${action.labels.join(', ')}`;
    case 'remove_labels':
      return `remove labels ${action.labels.join(', ')}`;
    case 'set_priority':
      return `set priority ${action.priority ?? 'none'}`;
    case 'set_custom_attributes':
      return `set custom attributes ${Object.keys(action.attributes).join(', ')}`;
    case 'assign_team':
      return `assign team ${action.team_id}`;
    case 'assign_agent':
      return `assign agent ${action.assignee_id}`;
    case 'snooze':
      return `snooze until ${action.until}`;
    case 'resolve':
      return 'resolve conversation';
    case 'open':
      return 'open conversation';
  }
}

/** What to run and what to refuse, in the order the agent gave them. */
export function planAgentActions(
  reply: Pick<AgentReply, 'index' | 'metadata'>,
  allowed: readonly string[],
): Array<{ run: AgentAction } | { report: ActionReport }> {
  const listed = reply.metadata.actions;
  if (listed === undefined) return [];
  if (!Array.isArray(listed)) {
    return [
      {
        report: {
          replyIndex: reply.index,
          type: 'unknown',
          status: 'refused',
          error: '"actions" must be an array of actions',
        },
      },
    ];
  }
  return listed.map((entry) => {
    const parsed = parseAgentAction(entry);
    if (!parsed.ok) {
      return {
        report: {
          replyIndex: reply.index,
          type: parsed.type,
          status: 'refused' as const,
          error: parsed.error,
        },
      };
    }
    if (!allowed.includes(parsed.action.type)) {
      return {
        report: {
          replyIndex: reply.index,
          type: parsed.action.type,
          status: 'refused' as const,
          summary: actionSummary(parsed.action),
          error: `not in this agent's allowedActions`,
        },
      };
    }
    return { run: parsed.action };
  });
}

/**
 * Actions that hand the conversation on (assignment to a person, snooze, resolve, open). Their
 * webhooks come back to the conversation actor as a takeover or a resolve, which cancels the
 * running turn: they wait until every reply of the turn is posted, so none is cut off.
 */
const HANDING_ON = new Set<AgentActionType>(['assign_agent', 'snooze', 'resolve', 'open']);

/**
 * The delivery workflow's side: `afterPost` runs a posted reply's actions (behind the
 * `agent-actions` patch) and keeps those that hand the conversation on for `afterReplies`, once
 * the turn's replies are all posted; `report` is what goes into the delivery report.
 */
export function createAgentActions(
  input: Pick<MessageDeliveryInput, 'accountId' | 'conversationId' | 'policy'>,
  /** Whether a change is in force (a workflow version may pass its own; default `patched`). */
  has: (change: string) => boolean = patched,
) {
  const { policy } = input;
  const reports: ActionReport[] = [];
  const handingOn: Array<{ replyIndex: number; action: AgentAction }> = [];
  const options = chatwootOptions(policy);
  const { runConversationAction } = proxyActivities<BridgeActivities>(options);
  const run = async (replyIndex: number, action: AgentAction) => {
    const summary = actionSummary(action);
    try {
      await runConversationAction.executeWithOptions({ ...options, summary }, [
        { accountId: input.accountId, conversationId: input.conversationId, action },
      ]);
      reports.push({ replyIndex, type: action.type, status: 'done', summary });
    } catch (error) {
      if (isCancellation(error)) throw error;
      const message = failureMessage(error);
      reports.push({ replyIndex, type: action.type, status: 'failed', summary, error: message });
    }
  };
  return {
    async afterPost(reply: AgentReply): Promise<void> {
      if (reply.metadata.actions === undefined || !has(AGENT_ACTIONS_PATCH)) return;
      for (const step of planAgentActions(reply, policy.allowedActions ?? [])) {
        if ('report' in step) reports.push(step.report);
        else if (HANDING_ON.has(step.run.type)) {
          handingOn.push({ replyIndex: reply.index, action: step.run });
        } else await run(reply.index, step.run);
      }
    },
    /**
     * The kept actions, in order, once the turn's replies are posted; not run when the exchange
     * failed (the bridge hands the conversation to the team itself then).
     */
    async afterReplies(exchangeOk: boolean): Promise<void> {
      for (const { replyIndex, action } of handingOn.splice(0)) {
        if (exchangeOk) await run(replyIndex, action);
        else {
          reports.push({
            replyIndex,
            type: action.type,
            status: 'failed',
            summary: actionSummary(action),
            error: 'not run: the agent failed and the bridge handed the conversation to the team',
          });
        }
      }
    },
    /** `{ actions }` for the delivery report, or nothing when no reply asked for any. */
    report(): { actions?: ActionReport[] } {
      return reports.length > 0 ? { actions: [...reports] } : {};
    },
  };
}

function failureMessage(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return cause.message;
  return cause instanceof Error ? cause.message : String(cause);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}
