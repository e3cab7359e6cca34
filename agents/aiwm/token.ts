import { createActor, waitFor, type Actor, type ActorOptions } from 'xstate';
import {
  agentTokenMachine,
  tokenPhaseOf,
  type AgentTokenPhase,
} from '../../machines/agentToken.js';
import { tokenResponseSchema } from './protocol.js';

/**
 * AIWM agent tokens, one per agent per worker process, shared by all its exchanges: fetched on
 * first use, refreshed in the background before they expire (machines/agentToken.ts), dropped
 * when the Socket.IO server refuses them.
 */

export interface AiwmTokenSource {
  /** `POST` here with `{secret}` (see aiwmEndpoints). */
  tokenUrl: string;
  agentId: string;
  secret: string;
  refreshMarginMs: number;
  /** One call to the token endpoint may take this long. */
  requestTimeoutMs: number;
}

/** No token: `retryable` says whether asking again later can help. */
export class AiwmTokenError extends Error {
  override name = 'AiwmTokenError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** One call to the token endpoint. Refused credentials are not retryable; an outage is. */
export async function requestAiwmToken(
  source: AiwmTokenSource,
): Promise<{ accessToken: string; expiresInMs: number }> {
  let response: Response;
  try {
    response = await fetch(source.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ secret: source.secret }),
      signal: AbortSignal.timeout(source.requestTimeoutMs),
    });
  } catch (error) {
    throw new AiwmTokenError(
      `AIWM token endpoint ${source.tokenUrl} unreachable: ${networkDetail(error)}`,
      true,
    );
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) {
    const said = text ? `: ${text.slice(0, 200)}` : '';
    const status = `HTTP ${response.status}${said}`;
    if (response.status === 401 || response.status === 403) {
      throw new AiwmTokenError(
        `AIWM refused the secret of agent "${source.agentId}" (${status}); check the agent's "secret"`,
        false,
      );
    }
    if (response.status === 404) {
      throw new AiwmTokenError(
        `AIWM does not know agent "${source.agentId}" (${status}); check the agent's "agentId"`,
        false,
      );
    }
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    throw new AiwmTokenError(`AIWM token endpoint answered ${status}`, retryable);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = tokenResponseSchema.safeParse(json);
  if (!parsed.success) {
    throw new AiwmTokenError(
      'AIWM token endpoint answered without {accessToken, expiresIn > 0}',
      true,
    );
  }
  return { accessToken: parsed.data.accessToken, expiresInMs: parsed.data.expiresIn * 1_000 };
}

function networkDetail(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? cause?.message ?? error.message;
}

type Clock = NonNullable<ActorOptions<typeof agentTokenMachine>['clock']>;

/** Background timers must not keep a worker process alive. */
const unrefClock: Clock = {
  setTimeout: (fn: (...args: unknown[]) => void, ms: number) => setTimeout(fn, ms).unref(),
  clearTimeout: (id: unknown) => clearTimeout(id as NodeJS.Timeout),
};

type TokenActor = Actor<typeof agentTokenMachine>;

export class AiwmTokenCache {
  private readonly actors = new Map<string, TokenActor>();

  constructor(
    private readonly request: typeof requestAiwmToken = requestAiwmToken,
    private readonly clock: Clock = unrefClock,
  ) {}

  /** A valid token, fetched if there is none; rejects with AiwmTokenError. */
  async get(source: AiwmTokenSource, signal?: AbortSignal): Promise<string> {
    const actor = this.actor(source);
    const current = actor.getSnapshot();
    if (current.matches('valid') && current.context.token) return current.context.token;
    // Callers arriving while a request is out wait for that request instead of sending another.
    if (!current.matches('acquiring')) actor.send({ type: 'ACQUIRE' });
    const settled = await waitFor(
      actor,
      (snapshot) => snapshot.matches('valid') || snapshot.matches('failed'),
      { timeout: Infinity, ...(signal ? { signal } : {}) },
    );
    if (settled.matches('valid') && settled.context.token) return settled.context.token;
    const failure = settled.context.failure ?? { detail: 'no token', retryable: true };
    throw new AiwmTokenError(failure.detail, failure.retryable);
  }

  /** The Socket.IO server refused `token`: the next `get` fetches a new one (once, however many callers). */
  invalidate(source: AiwmTokenSource, token: string): void {
    this.actors.get(keyOf(source))?.send({ type: 'INVALIDATE', token });
  }

  phase(source: AiwmTokenSource): AgentTokenPhase {
    const actor = this.actors.get(keyOf(source));
    return actor ? tokenPhaseOf(actor.getSnapshot().value) : 'idle';
  }

  /** Stops every background refresh (worker shutdown, tests). */
  clear(): void {
    for (const actor of this.actors.values()) actor.stop();
    this.actors.clear();
  }

  private actor(source: AiwmTokenSource): TokenActor {
    const key = keyOf(source);
    let actor = this.actors.get(key);
    if (actor) return actor;
    const request = this.request;
    const created: TokenActor = createActor(
      agentTokenMachine.provide({
        actions: {
          requestToken: () => {
            request(source).then(
              ({ accessToken, expiresInMs }) =>
                created.send({ type: 'ISSUED', token: accessToken, expiresInMs }),
              (error: unknown) => {
                const detail = error instanceof Error ? error.message : String(error);
                const retryable = !(error instanceof AiwmTokenError) || error.retryable;
                created.send({ type: retryable ? 'UNAVAILABLE' : 'REJECTED', detail });
              },
            );
          },
        },
      }),
      { input: { refreshMarginMs: source.refreshMarginMs }, clock: this.clock },
    );
    actor = created;
    actor.start();
    this.actors.set(key, actor);
    return actor;
  }
}

/** A changed secret or endpoint is a different token. */
function keyOf(source: AiwmTokenSource): string {
  return JSON.stringify([source.tokenUrl, source.agentId, source.secret]);
}

/** The worker process's tokens. */
export const aiwmTokens = new AiwmTokenCache();
