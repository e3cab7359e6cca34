import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { inject } from 'vitest';
import { buildApp } from '../../api/app.js';
import { bridgeDataConverter } from '../../codec/dataConverter.js';
import { awaitWorkflow } from '../../client/awaitWorkflow.js';
import { LiveConfig } from '../../config/live.js';
import type { Tracing } from '../../observability/tracing.js';
import { loadConfig, parseConfig } from '../../config/load.js';
import type { AgentConfig, BridgeConfig } from '../../config/schema.js';
import {
  conversationEventPayload,
  messageCreatedPayload,
  messageUpdatedPayload,
  signWebhook,
  type ConversationEvent,
  type ConversationOptions,
  type MessageOptions,
} from '../../sandbox/chatwootWebhooks.js';
import { connectClient, plainConnection } from '../../temporal/connection.js';
import { FakeChatwoot, type StoredMessage } from '../../sandbox/fakeChatwoot.js';
import { startMockAgent, type MockAgentServer } from '../../sandbox/mockAgents.js';
import { createBridgeWorker, type BridgeWorker } from '../../workers/worker.js';
import { messageWorkflowId, type DeliveryReport } from '../../workflows/shared.js';

export const WEBHOOK_SECRET = 'test-webhook-secret';
export const API_TOKEN = 'test-token';

/**
 * A mock agent behaviour path (`'multi?count=3'`; under `unified/` the unified protocol), or
 * an object: `path` plus config overrides for that agent (`{ transport: 'pull', apiKey }` needs
 * no path).
 */
export type StackAgent = string | ({ path?: string } & Record<string, unknown>);

export interface StackOptions {
  /** Agent id → mock agent, e.g. `{ echo: 'echo', multi: 'multi?count=3', u: 'unified/echo' }`. */
  agents?: Record<string, StackAgent>;
  /** Agent configurations used as given (any transport), after the mock ws agents. */
  agentConfigs?: Array<Record<string, unknown> & { id: string }>;
  /** Inbox id → agent id. */
  routes?: Record<number, string>;
  delivery?: Partial<BridgeConfig['delivery']>;
  agentTimeouts?: Partial<
    Pick<
      BridgeConfig['agents'][number],
      'connectTimeoutMs' | 'replyTimeoutMs' | 'idleTimeoutMs' | 'totalTimeoutMs' | 'maxResponses'
    >
  >;
  /** Start without an in-process worker (a test may run its own, e.g. in a child process). */
  worker?: boolean;
  /** Extra settings per agent id (debounce, abortOnNewer, greeting, sessionIdleMs, ...). */
  agentSettings?: Record<string, Partial<AgentConfig>>;
  conversation?: Partial<BridgeConfig['conversation']>;
  /** Routes as written in a configuration file (labels, teams, default…); wins over `routes`. */
  routeList?: Array<Record<string, unknown>>;
  /** The `api` section (operator keys…). */
  api?: Record<string, unknown>;
  /** The file a configuration reload reads (`BRIDGE_CONFIG`); app and worker share the reload. */
  configFile?: string;
  /** Extra `chatwoot` settings (e.g. `markerInSourceId`). */
  chatwoot?: Record<string, unknown>;
  /** Another Temporal server than the suite's (default: the suite's dev server). */
  temporalAddress?: string;
  /** `temporal.encryption`: the payload codec's keys (unset: plain payloads). */
  encryption?: Record<string, unknown>;
  /** The `catchUp` section (its token also turns on the webhook's after-outage check). */
  catchUp?: Record<string, unknown>;
  /** OpenTelemetry for the app's client, the webhook route and the worker (test/tracing.test.ts). */
  tracing?: Tracing;
}

/** Fast, real-time friendly defaults: retries in milliseconds instead of seconds. */
export const fastDelivery: Partial<BridgeConfig['delivery']> = {
  agentRetryWindowMs: 4_000,
  agentRetryInitialIntervalMs: 100,
  agentRetryMaxIntervalMs: 500,
  exchangeHeartbeatTimeoutMs: 2_000,
  chatwootRetryWindowMs: 20_000,
  chatwootRetryInitialIntervalMs: 50,
  chatwootRetryMaxIntervalMs: 200,
  chatwootRequestTimeoutMs: 1_000,
};

/**
 * A whole bridge on loopback: the suite's Temporal dev server, a worker on its own task queue,
 * the HTTP app, a fake Chatwoot and a mock agent server.
 */
export async function startStack(options: StackOptions = {}) {
  quietSdkLogs();
  const chatwoot = await FakeChatwoot.start({ apiAccessToken: API_TOKEN });
  const agentServer: MockAgentServer = await startMockAgent();
  const agents = options.agents ?? (options.agentConfigs ? {} : { echo: 'echo' });
  const explicitAgents = options.agentConfigs ?? [];
  const routes = options.routes ?? {
    7: [...Object.keys(agents), ...explicitAgents.map((agent) => agent.id)][0] as string,
  };
  const address = options.temporalAddress ?? inject('temporalAddress');
  const accountId = 1_000 + Math.floor(Math.random() * 1_000_000);
  const config = parseConfig({
    chatwoot: { baseUrl: chatwoot.url, apiAccessToken: API_TOKEN, accountId, ...options.chatwoot },
    conversation: options.conversation ?? {},
    webhook: { secrets: [WEBHOOK_SECRET] },
    agents: Object.entries(agents)
      .map(([id, spec]): Record<string, unknown> => {
        const { path = '', ...overrides } = typeof spec === 'string' ? { path: spec } : spec;
        return {
          id,
          ...(overrides.transport === 'pull'
            ? {}
            : {
                transport: 'ws',
                protocol: path.startsWith('unified/') ? 'unified' : 'bridge-v1',
                url: agentServer.url(path),
              }),
          connectTimeoutMs: 1_000,
          replyTimeoutMs: 3_000,
          idleTimeoutMs: 3_000,
          totalTimeoutMs: 10_000,
          maxResponses: 5,
          ...options.agentTimeouts,
          ...options.agentSettings?.[id],
          ...overrides,
        };
      })
      .concat(explicitAgents),
    routes:
      options.routeList ??
      Object.entries(routes).map(([inboxId, agentId]) => ({
        inboxId: Number(inboxId),
        agentId,
      })),
    ...(options.api ? { api: options.api } : {}),
    ...(options.catchUp ? { catchUp: options.catchUp } : {}),
    delivery: { ...fastDelivery, ...options.delivery },
    temporal: {
      address,
      taskQueue: `test-${randomUUID()}`,
      ...(options.encryption ? { encryption: options.encryption } : {}),
    },
    // Worker processes started from this config (crash test) must not fight over fixed ports.
    metrics: { workerPort: 0, temporalSdkPort: 0 },
  });

  const connection = await connectClient(plainConnection(address, config.temporal.namespace));
  const temporal = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: bridgeDataConverter(config),
    ...(options.tracing ? { interceptors: options.tracing.clientInterceptors } : {}),
  });
  const configFile = options.configFile;
  const live = configFile
    ? new LiveConfig(config, () => loadConfig({ BRIDGE_CONFIG: configFile }))
    : new LiveConfig(config);
  const app = buildApp({ config, temporal, live, logger: false, tracer: options.tracing?.tracer });

  let bridgeWorker: BridgeWorker | undefined;
  if (options.worker !== false) {
    bridgeWorker = await createBridgeWorker({
      config,
      address,
      workflowBundlePath: inject('workflowBundlePath'),
      live,
      tracing: options.tracing,
    });
    void bridgeWorker.run();
  }

  let nextMessageId = Math.floor(Math.random() * 1_000_000) * 100;

  const workflow = (workflowId: string) => awaitWorkflow(temporal, workflowId);

  async function postWebhook(
    payload: Record<string, unknown>,
    sign: { secret?: string; timestamp?: number; query?: string } = {},
  ) {
    const body = JSON.stringify(payload);
    const response = await app.inject({
      method: 'POST',
      url: `/webhook/chatwoot${sign.query ?? ''}`,
      headers: {
        'content-type': 'application/json',
        ...signWebhook(body, sign.secret ?? WEBHOOK_SECRET, sign.timestamp),
      },
      payload: body,
    });
    return { response, json: response.json<Record<string, unknown>>() };
  }

  return {
    /**
     * This stack's Chatwoot account. Actors are keyed by account and conversation in the one
     * shared dev server, so each stack gets its own account: test files can reuse conversation
     * ids without reaching each other's long-lived actors.
     */
    accountId,
    config,
    live,
    chatwoot,
    agentServer,
    temporal,
    app,
    bridgeWorker,
    /** Posts a signed `message_created` webhook through the real HTTP app (in-process). */
    async sendMessage(
      message: MessageOptions = {},
      sign: { secret?: string; timestamp?: number; query?: string } = {},
    ) {
      const payload = messageCreatedPayload({
        accountId,
        messageId: (nextMessageId += 1),
        inboxId: 7,
        ...message,
      });
      return { payload, ...(await postWebhook(payload, sign)) };
    },
    /**
     * Posts the signed `message_updated` webhook Chatwoot sends once a stored message changed
     * (e.g. `chatwoot.submitValues`: the customer answered the bot's buttons or form).
     */
    async sendMessageUpdated(message: StoredMessage, inboxId = 7) {
      const payload = messageUpdatedPayload({
        accountId,
        conversationId: message.conversation_id,
        inboxId,
        messageId: message.id,
        content: message.content,
        messageType: message.message_type,
        private: message.private,
        sender: message.message_type === 'incoming' ? 'contact' : 'agent_bot',
        sourceId: message.source_id,
        contentType: message.content_type,
        contentAttributes: message.content_attributes,
      });
      return { payload, ...(await postWebhook(payload)) };
    },
    /** Posts a signed conversation-level webhook (status change, assignment, created, widget). */
    async sendEvent(event: ConversationEvent, options: ConversationOptions = {}) {
      const payload = conversationEventPayload(event, { accountId, inboxId: 7, ...options });
      return { payload, ...(await postWebhook(payload)) };
    },
    /** The message workflow id the actor uses for a message (or a merged turn's newest). */
    messageWorkflowId(messageId: number, conversationId = 1): string {
      return messageWorkflowId(accountId, conversationId, messageId);
    },
    /** A workflow's handle once it exists (the actor starts message workflows a moment later). */
    workflow,
    async result(workflowId: string): Promise<DeliveryReport> {
      return (await workflow(workflowId)).result() as Promise<DeliveryReport>;
    },
    async stop() {
      await bridgeWorker?.shutdown();
      await app.close();
      await connection.close();
      await agentServer.close();
      await chatwoot.close();
    },
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

let runtimeInstalled = false;
/** The SDK logs every worker state change at INFO; tests only want errors. */
function quietSdkLogs(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}
