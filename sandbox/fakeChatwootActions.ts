/**
 * The fake Chatwoot's conversation actions (labels, priority, custom attributes, assignment,
 * snooze) and its Rack::Attack-like throttle, kept apart from the request machinery in
 * fakeChatwoot.ts. Behaviour follows Chatwoot's source:
 * - `POST …/labels` replaces the conversation's labels with the posted ones that are defined in
 *   the account (LabelConcern#valid_labels: others are dropped silently) and answers
 *   `{payload: [labels]}`; `GET …/labels` answers the same shape.
 * - `POST …/toggle_priority` sets the priority (`none` clears it) and answers 200 with no body.
 * - `POST …/custom_attributes` replaces the attributes, or merges them with `merge: true`
 *   (ConversationCustomAttributesConcern), and answers `{custom_attributes}`.
 * - `POST …/assignments` assigns `assignee_id` (a team is then ignored) or `team_id`; it answers
 *   the user (or the team).
 * - Rack::Attack throttles with fixed windows (a counter per `period`, keyed here on the
 *   account) and answers `429 Retry later` with no `Retry-After` by default.
 */

type Json = Record<string, unknown>;

export interface ConversationActionState {
  labels: string[];
  priority: 'urgent' | 'high' | 'medium' | 'low' | null;
  customAttributes: Json;
  assigneeId: number | null;
  teamId: number | null;
  /** Unix seconds, from `toggle_status` with `snoozed_until`. */
  snoozedUntil: number | null;
}

/** Like Rack::Attack's `throttle(name, limit:, period:)`, keyed on the account in the path. */
export interface ThrottleSpec {
  limit: number;
  periodMs: number;
}

export interface ActionOutcome {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export class FakeConversationActions {
  private readonly states = new Map<string, ConversationActionState>();
  private readonly accountLabels = new Map<number, Set<string>>();
  private throttle: ThrottleSpec | undefined;
  private readonly windows = new Map<string, { window: number; count: number }>();

  reset(): void {
    this.states.clear();
    this.accountLabels.clear();
    this.throttle = undefined;
    this.windows.clear();
  }

  /** What the conversation's labels, priority, attributes, assignee, team and snooze are now. */
  state(accountId: number, conversationId: number): ConversationActionState {
    const key = `${accountId}:${conversationId}`;
    let state = this.states.get(key);
    if (!state) {
      state = {
        labels: [],
        priority: null,
        customAttributes: {},
        assigneeId: null,
        teamId: null,
        snoozedUntil: null,
      };
      this.states.set(key, state);
    }
    return state;
  }

  /** Labels created in the account (Settings → Labels): only these can be put on a conversation. */
  defineLabels(accountId: number, titles: string[]): void {
    const defined = this.accountLabels.get(accountId) ?? new Set<string>();
    for (const title of titles) defined.add(title);
    this.accountLabels.set(accountId, defined);
  }

  /** Answers 429 above `limit` requests per `periodMs` and account (undefined: no throttle). */
  setThrottle(spec: ThrottleSpec | undefined): void {
    this.throttle = spec;
    this.windows.clear();
  }

  /** The throttle's answer for this request, if it is over the limit (counted either way). */
  throttled(path: string, now = Date.now()): ActionOutcome | undefined {
    if (!this.throttle) return undefined;
    const account = /^\/api\/v1\/accounts\/(\d+)\//.exec(path)?.[1] ?? 'none';
    const window = Math.floor(now / this.throttle.periodMs);
    const entry = this.windows.get(account);
    const counter = entry && entry.window === window ? entry : { window, count: 0 };
    counter.count += 1;
    this.windows.set(account, counter);
    if (counter.count <= this.throttle.limit) return undefined;
    return { status: 429, body: 'Retry later\n', headers: { 'content-type': 'text/plain' } };
  }

  listLabels(accountId: number, conversationId: number): ActionOutcome {
    return { status: 200, body: { payload: [...this.state(accountId, conversationId).labels] } };
  }

  setLabels(accountId: number, conversationId: number, body: Json): ActionOutcome {
    const posted = Array.isArray(body.labels) ? body.labels.map(String) : [];
    const defined = this.accountLabels.get(accountId) ?? new Set<string>();
    const state = this.state(accountId, conversationId);
    state.labels = [...new Set(posted.filter((label) => defined.has(label)))];
    return { status: 200, body: { payload: [...state.labels] } };
  }

  togglePriority(accountId: number, conversationId: number, body: Json): ActionOutcome {
    const priority = body.priority;
    this.state(accountId, conversationId).priority =
      priority === 'none' || priority === undefined
        ? null
        : (priority as ConversationActionState['priority']);
    return { status: 200, body: undefined };
  }

  setCustomAttributes(accountId: number, conversationId: number, body: Json): ActionOutcome {
    const state = this.state(accountId, conversationId);
    const posted = isObject(body.custom_attributes) ? body.custom_attributes : {};
    state.customAttributes =
      body.merge === true || body.merge === 'true'
        ? { ...state.customAttributes, ...posted }
        : { ...posted };
    return { status: 200, body: { custom_attributes: { ...state.customAttributes } } };
  }

  assign(accountId: number, conversationId: number, body: Json): ActionOutcome {
    const state = this.state(accountId, conversationId);
    if (body.assignee_id !== undefined) {
      state.assigneeId = Number(body.assignee_id);
      return {
        status: 200,
        body: {
          id: state.assigneeId,
          name: `Agent ${state.assigneeId}`,
          email: `agent${state.assigneeId}@example.com`,
          role: 'agent',
          availability_status: 'online',
        },
      };
    }
    if (body.team_id !== undefined) {
      state.teamId = Number(body.team_id);
      return {
        status: 200,
        body: {
          id: state.teamId,
          name: `team ${state.teamId}`,
          allow_auto_assign: true,
          account_id: accountId,
        },
      };
    }
    return { status: 200, body: undefined };
  }

  /** `toggle_status` with `snoozed_until` (Unix seconds) records when the snooze ends. */
  recordStatus(accountId: number, conversationId: number, body: Json): void {
    const state = this.state(accountId, conversationId);
    state.snoozedUntil =
      body.status === 'snoozed' && typeof body.snoozed_until === 'number'
        ? body.snoozed_until
        : null;
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
