import { loadConfig } from './load.js';
import type { AgentConfig, BridgeConfig } from './schema.js';

/** Finds an agent's settings by id (a `Map` is one). */
export interface AgentLookup {
  get(agentId: string): AgentConfig | undefined;
}

/**
 * Sections whose values are built into long-lived things at start-up (the HTTP listener and
 * its body limit, the webhook's secrets, the Chatwoot client, the Temporal connection): a reload
 * keeps their old values and says a restart is needed to change them.
 */
const RESTART_ONLY = ['chatwoot', 'webhook', 'http', 'temporal'] as const;

export interface ReloadResult {
  config: BridgeConfig;
  /** Sections that differ in the new file but keep their old values until a restart. */
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

  /** Puts a validated configuration in force (restart-only sections keep their old values). */
  replace(next: BridgeConfig): ReloadResult {
    const previous = this.#current;
    const restartRequired = RESTART_ONLY.filter(
      (key) => JSON.stringify(next[key]) !== JSON.stringify(previous[key]),
    );
    const kept = Object.fromEntries(RESTART_ONLY.map((key) => [key, previous[key]])) as Pick<
      BridgeConfig,
      (typeof RESTART_ONLY)[number]
    >;
    const merged: BridgeConfig = { ...next, ...kept };
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
