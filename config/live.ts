import { loadConfig } from './load.js';
import type { AgentConfig, BridgeConfig } from './schema.js';

/** Finds an agent's settings by id (a `Map` is one). */
export interface AgentLookup {
  get(agentId: string): AgentConfig | undefined;
}

/**
 * What a reload does with each configuration key, in one place: `live` keys take effect at once
 * everywhere they are read (new deliveries, the next request); `restart` keys are built into
 * long-lived things at start-up (the HTTP listener and its body limit, the webhook's secrets,
 * the Chatwoot client, the Temporal connection, metrics ports), so a reload keeps their old
 * values and names them in `restartRequired`. Lists and maps count as one key. A test
 * (test/reloadKeys.test.ts) fails when a schema key is missing here: add new keys as you add
 * them to config/schema.ts.
 */
export const RELOAD_BEHAVIOUR = {
  'chatwoot.baseUrl': 'restart',
  'chatwoot.apiAccessToken': 'restart',
  'chatwoot.accountId': 'live',
  // Handed to the Chatwoot activities when the worker starts.
  'chatwoot.markerInSourceId': 'restart',
  // The actions' Chatwoot client and the rate-limited workers are made when a worker starts.
  'chatwoot.actionsApiAccessToken': 'restart',
  'chatwoot.maxCallsPerSecond': 'restart',
  'chatwoot.rateLimitAccountIds': 'restart',
  'webhook.secrets': 'restart',
  'webhook.maxBodyBytes': 'restart',
  'webhook.toleranceSeconds': 'restart',
  'webhook.allowUnsigned': 'restart',
  // Read per request (api/webhook.ts): the next webhook gets the new limits and answers.
  'webhook.maxDepth': 'live',
  'webhook.answerBudgetMs': 'live',
  'webhook.retryStatus': 'live',
  // Agents and routes: new deliveries, pull-agent doors and their keys.
  agents: 'live',
  routes: 'live',
  'api.keys': 'live',
  'api.operatorKeys': 'live',
  'api.metricsKeys': 'live',
  'api.failedAuthLimit.max': 'live',
  'api.failedAuthLimit.windowMs': 'live',
  'api.statusSampleSize': 'live',
  'api.statusLookbackMs': 'live',
  // The codec endpoint's doors are read per request; its codec (the keys) is built at start-up.
  'api.codec.keys': 'live',
  'api.codec.allowWithoutKey': 'live',
  'api.codec.corsOrigins': 'live',
  // Delivery policies are fixed when a delivery starts: a reload reaches deliveries started after it.
  'delivery.agentRetryWindowMs': 'live',
  'delivery.agentRetryInitialIntervalMs': 'live',
  'delivery.agentRetryMaxIntervalMs': 'live',
  'delivery.exchangeHeartbeatTimeoutMs': 'live',
  'delivery.chatwootRetryWindowMs': 'live',
  'delivery.chatwootRetryInitialIntervalMs': 'live',
  'delivery.chatwootRetryMaxIntervalMs': 'live',
  // The worker's Chatwoot client is built with its timeout.
  'delivery.chatwootRequestTimeoutMs': 'restart',
  'delivery.fallbackMessage': 'live',
  // Copied into each delivery's policy when the webhook hands it over.
  'delivery.agentQueueScheduleToStartMs': 'live',
  'delivery.offerScheduleToCloseMs': 'live',
  // Given to the SDK's workers when they are created.
  'worker.shutdownGraceMs': 'restart',
  'worker.maxCachedWorkflows': 'restart',
  'worker.maxConcurrentWorkflowTasks': 'restart',
  'worker.maxConcurrentExchanges': 'restart',
  // The worker polls as this deployment version from its start to its end.
  'worker.deployment.name': 'restart',
  'worker.deployment.buildId': 'restart',
  'worker.deployment.defaultVersioningBehavior': 'restart',
  // Actor settings reach conversations whose actor starts after the reload.
  'conversation.resumeAfterIdleMs': 'live',
  'conversation.botAssigneeIds': 'live',
  'conversation.dedupeLimit': 'live',
  'conversation.maxWaitMs': 'live',
  'conversation.reorderWindowMs': 'live',
  'http.port': 'restart',
  'http.host': 'restart',
  'temporal.address': 'restart',
  'temporal.namespace': 'restart',
  'temporal.taskQueue': 'restart',
  'temporal.startTimeoutMs': 'restart',
  'temporal.encryption.keys': 'restart',
  'temporal.encryption.currentKeyId': 'restart',
  // The connection is made once, at start-up.
  'temporal.profile': 'restart',
  'temporal.configFile': 'restart',
  'temporal.apiKey': 'restart',
  'temporal.tls.enabled': 'restart',
  'temporal.tls.serverName': 'restart',
  'temporal.tls.serverCaCertPath': 'restart',
  'temporal.tls.serverCaCertData': 'restart',
  'temporal.tls.clientCertPath': 'restart',
  'temporal.tls.clientCertData': 'restart',
  'temporal.tls.clientKeyPath': 'restart',
  'temporal.tls.clientKeyData': 'restart',
  // Read by `chatwoot-bridge setup` only.
  'temporal.retentionDays': 'live',
  'metrics.workerPort': 'restart',
  'metrics.temporalSdkPort': 'restart',
  'metrics.host': 'restart',
  // Catch-up: the activities read these per run (a rotated token applies to the next run)...
  'catchUp.apiAccessToken': 'live',
  'catchUp.maxAgeMs': 'live',
  'catchUp.firstRunLookbackMs': 'live',
  'catchUp.afterOutageMs': 'live',
  // ...the schedules are made when a worker starts (workers/catchUpSchedules.ts), so setting or
  // removing the token turns catch-up on or off only then, and these take a restart.
  'catchUp.accountIds': 'restart',
  'catchUp.intervalMs': 'restart',
} as const satisfies Record<string, 'live' | 'restart'>;

const RESTART_ONLY = Object.entries(RELOAD_BEHAVIOUR)
  .filter(([, behaviour]) => behaviour === 'restart')
  .map(([key]) => key);

export interface ReloadResult {
  config: BridgeConfig;
  /** Keys (dotted paths) that differ in the new file but keep their old values until a restart. */
  restartRequired: string[];
}

/**
 * The configuration in force, swappable at run time (`POST /api/v1/agents/reload`, SIGHUP).
 * Code that must see a reload reads `current()` per use instead of keeping a copy.
 */
export class LiveConfig {
  #current: BridgeConfig;
  /** The newest settings of every agent ever configured here, removed ones included. */
  readonly #knownAgents = new Map<string, AgentConfig>();
  readonly #read: () => BridgeConfig;

  /** `read` produces the next configuration on reload (default: the `BRIDGE_CONFIG` file). */
  constructor(initial: BridgeConfig, read: () => BridgeConfig = () => loadConfig(process.env)) {
    this.#current = initial;
    this.#read = read;
    this.#remember(initial);
  }

  current(): BridgeConfig {
    return this.#current;
  }

  /**
   * An agent's settings: the current ones, or the last known ones of an agent a reload removed,
   * so deliveries started before the reload still reach it.
   */
  readonly agents: AgentLookup = {
    get: (agentId) =>
      this.#current.agents.find((agent) => agent.id === agentId) ?? this.#knownAgents.get(agentId),
  };

  /** Puts a validated configuration in force (restart-only keys keep their old values). */
  replace(next: BridgeConfig): ReloadResult {
    const previous = this.#current;
    const merged = structuredClone(next);
    const restartRequired: string[] = [];
    for (const key of RESTART_ONLY) {
      const path = key.split('.');
      const before = valueAt(previous, path);
      if (JSON.stringify(valueAt(next, path)) !== JSON.stringify(before)) restartRequired.push(key);
      setValueAt(merged, path, before);
    }
    this.#current = merged;
    this.#remember(merged);
    return { config: merged, restartRequired };
  }

  /** Reads the configuration again; throws (`ConfigError`) and keeps the old one when it is invalid. */
  reload(): ReloadResult {
    return this.replace(this.#read());
  }

  #remember(config: BridgeConfig): void {
    for (const agent of config.agents) this.#knownAgents.set(agent.id, agent);
  }
}

/**
 * Reloads on SIGHUP, the usual signal for it, in processes without the HTTP endpoint (the
 * worker) or as an alternative to it. A bad file is reported and changes nothing.
 */
export function reloadOnHangup(live: LiveConfig, label: string): void {
  process.on('SIGHUP', () => {
    try {
      const { config, restartRequired } = live.reload();
      console.log(
        `${label}: configuration reloaded (${config.agents.length} agents, ${config.routes.length} routes)` +
          (restartRequired.length ? `; restart to apply: ${restartRequired.join(', ')}` : ''),
      );
    } catch (error) {
      console.error(
        `${label}: configuration NOT reloaded, the previous one stays in force: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  });
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function setValueAt(root: object, path: readonly string[], value: unknown): void {
  let parent = root as Record<string, unknown>;
  for (const key of path.slice(0, -1)) {
    const child = parent[key];
    if (typeof child !== 'object' || child === null) {
      // Nothing to remove under a section that is not there; never invent an empty one (an
      // empty `temporal.encryption` would make the next reload invalid).
      if (value === undefined) return;
      parent[key] = {};
    }
    parent = parent[key] as Record<string, unknown>;
  }
  const last = path.at(-1) as string;
  if (value === undefined) delete parent[last];
  else parent[last] = value;
}
