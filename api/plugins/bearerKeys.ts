import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginCallback, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { LiveConfig } from '../../config/live.js';
import type { BridgeConfig } from '../../config/schema.js';
import { HttpError } from './errorShape.js';

/** The doors a bearer key opens; each reads its keys from the configuration in force. */
export type KeyDoor = 'operator' | 'proactive' | 'pull' | 'metrics' | 'codec';

declare module 'fastify' {
  interface FastifyInstance {
    /** An `onRequest` hook that lets through only requests with a key of `door`. */
    requireKey(door: KeyDoor): onRequestHookHandler;
  }
}

/** Where a door's keys come from, or why the door is shut whatever the key. */
type DoorKeys = { keys: readonly string[]; realm: string } | { open: true } | HttpError;

function doorKeys(door: KeyDoor, config: BridgeConfig, request: FastifyRequest): DoorKeys {
  switch (door) {
    case 'operator':
      return config.api.operatorKeys.length
        ? { keys: config.api.operatorKeys, realm: 'chatwoot-bridge operator API' }
        : new HttpError(
            403,
            'operator_api_disabled',
            'no operator keys configured: set api.operatorKeys or BRIDGE_OPERATOR_KEYS',
          );
    case 'proactive':
      return config.api.keys.length
        ? { keys: config.api.keys, realm: 'chatwoot-bridge messages API' }
        : new HttpError(
            401,
            'unauthorized',
            'no API keys are configured: set api.keys (or BRIDGE_API_KEYS) to use this API',
          );
    case 'metrics':
      // Off by default: Prometheus scrapers usually sit on a private network.
      return config.api.metricsKeys.length
        ? { keys: config.api.metricsKeys, realm: 'chatwoot-bridge metrics' }
        : { open: true };
    case 'codec':
      if (config.api.codec.keys.length) {
        return { keys: config.api.codec.keys, realm: 'chatwoot-bridge codec' };
      }
      return config.api.codec.allowWithoutKey
        ? { open: true }
        : new HttpError(
            403,
            'codec_endpoint_disabled',
            'no codec keys configured: set api.codec.keys (or api.codec.allowWithoutKey behind your own access control)',
          );
    case 'pull': {
      const agentId = (request.params as { agentId?: string }).agentId;
      const agent = config.agents.find(
        (candidate) => candidate.id === agentId && candidate.transport === 'pull',
      );
      return agent?.transport === 'pull'
        ? { keys: [agent.apiKey], realm: 'pull-agents' }
        : new HttpError(404, 'unknown_agent', `no pull agent "${agentId ?? ''}"`);
    }
  }
}

/**
 * Bearer keys for every door but the webhook (which Chatwoot signs): `Authorization: Bearer
 * <key>`, compared as fixed-length digests against every key in force, so neither a key's
 * length nor which key is close shows in the timing. Keys are read per request from the live
 * configuration: a reload adds, rotates and revokes them at once.
 */
export const bearerKeysPlugin: FastifyPluginCallback<{ live: LiveConfig }> = fp<{
  live: LiveConfig;
}>(
  (app, { live }, done) => {
    app.decorate('requireKey', (door: KeyDoor): onRequestHookHandler => {
      return (request, _reply, next) => {
        const found = doorKeys(door, live.current(), request);
        if (found instanceof HttpError) return next(found);
        if ('open' in found) return next();
        const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
        if (presented !== undefined && matchesAny(presented, found.keys)) return next();
        request.log.warn({ door }, 'bearer key refused');
        next(
          new HttpError(
            401,
            'unauthorized',
            presented === undefined
              ? 'send a configured key as "Authorization: Bearer <key>"'
              : `wrong key for ${door === 'pull' ? 'this agent' : `the ${door} API`}`,
            undefined,
            { 'www-authenticate': `Bearer realm="${found.realm}"` },
          ),
        );
      };
    });
    done();
  },
  { name: 'bearer-keys' },
);

/** Every key is compared (no early exit), each as a digest of equal length. */
export function matchesAny(presented: string, keys: readonly string[]): boolean {
  const given = digest(presented);
  return keys.map((key) => timingSafeEqual(digest(key), given)).includes(true);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
