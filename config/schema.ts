import { z } from 'zod';
import { routeIssues } from '../routing/validateRoutes.js';
import { AGENT_ACTION_TYPES } from '../workflows/agentActions.js';

/** Merge a burst of short customer messages into one agent turn (off unless set). */
export const debounceSchema = z
  .object({
    /** Send once the customer has been quiet this long. */
    quietMs: z.number().int().positive().default(1_500),
    /** Never hold the first message of a burst longer than this. */
    maxWaitMs: z.number().int().positive().default(10_000),
    /** Send at once when this many messages are waiting. */
    maxBatch: z.number().int().positive().default(10),
  })
  .loose();

/** TLS to the Temporal frontend, as in Temporal's `temporal.toml` (paths or PEM text). */
export const temporalTlsSchema = z
  .object({
    /** false: plain TCP even with an API key (a local proxy). */
    enabled: z.boolean().default(true),
    /** The name in the server's certificate, when it differs from the address's host. */
    serverName: z.string().min(1).optional(),
    serverCaCertPath: z.string().min(1).optional(),
    serverCaCertData: z.string().min(1).optional(),
    clientCertPath: z.string().min(1).optional(),
    clientCertData: z.string().min(1).optional(),
    clientKeyPath: z.string().min(1).optional(),
    clientKeyData: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((tls, ctx) => {
    for (const name of ['serverCaCert', 'clientCert', 'clientKey'] as const) {
      if (tls[`${name}Path`] && tls[`${name}Data`]) {
        ctx.addIssue({
          code: 'custom',
          path: [`${name}Data`],
          message: `set ${name}Path or ${name}Data, not both`,
        });
      }
    }
    const cert = Boolean(tls.clientCertPath || tls.clientCertData);
    const key = Boolean(tls.clientKeyPath || tls.clientKeyData);
    if (cert !== key) {
      ctx.addIssue({
        code: 'custom',
        path: [cert ? 'clientKeyPath' : 'clientCertPath'],
        message: 'mTLS needs both a client certificate and its key (clientCert… and clientKey…)',
      });
    }
  });

/**
 * Files an agent sends with its replies (metadata `attachments`, see activities/attachments.ts).
 * Safe by default: no URL is fetched until `allowedHosts` lists hosts; small inline files pass.
 */
export const agentAttachmentsSchema = z
  .object({
    /** Hosts URLs may name: `files.example.com`, or `*.example.com` for its subdomains. */
    allowedHosts: z
      .array(
        z
          .string()
          .regex(
            /^(\*\.)?[A-Za-z0-9.-]+$|^\[?[0-9A-Fa-f:.]+\]?$/,
            'give a host name (files.example.com), a *.example.com pattern or an IP address',
          ),
      )
      .default([]),
    allowedSchemes: z
      .array(z.enum(['https', 'http'], { error: "use 'https' (or 'http' on a trusted network)" }))
      .default(['https']),
    /**
     * Private, loopback or reserved addresses (IPs or CIDRs) that may still be reached; any
     * other such address is refused whatever the host name says (SSRF guard).
     */
    allowedAddresses: z
      .array(
        z
          .string()
          .refine(
            (entry) => /^[0-9A-Fa-f:.]+(\/\d{1,3})?$/.test(entry) && entry.split('/')[0] !== '',
            'give an IP address (127.0.0.1) or a CIDR (10.0.0.0/8)',
          ),
      )
      .default([]),
    /** Largest file posted (Chatwoot's own default limit is 40 MB). */
    maxBytes: z
      .number()
      .int()
      .positive()
      .max(40 * 1_048_576, 'Chatwoot refuses files over 40 MB unless configured otherwise')
      .default(10 * 1_048_576),
    /**
     * Largest inline (base64 `data`) file, decoded. Inline files travel in the reply itself, in
     * the workflow history (the reply's fields have their own bound, agents/replyLimits.ts).
     */
    maxInlineBytes: z
      .number()
      .int()
      .positive()
      .max(524_288, 'inline files live in workflow history: give a URL for larger files')
      .default(262_144),
    /** Content types posted (`image/*` matches every image type). */
    allowedTypes: z
      .array(
        z.string().regex(/^[\w.+-]+\/([\w.+-]+|\*)$/, 'give a type such as image/png or image/*'),
      )
      .default(['image/*', 'audio/*', 'video/*', 'application/pdf', 'text/plain', 'text/csv']),
    /** One download, from connect to the last byte (capped by what is left of the post attempt). */
    timeoutMs: z.number().int().positive().max(120_000).default(10_000),
    /** Files beyond this many in one reply are not posted. */
    maxFiles: z.number().int().positive().max(20).default(5),
  })
  .loose();

/** Settings every agent has, whatever its transport. */
export const agentCommonSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "." or "-"'),
    /** Time allowed to connect to the agent. */
    connectTimeoutMs: z.number().int().positive().default(2_000),
    /** Time allowed between sending the message and the first reply. */
    replyTimeoutMs: z.number().int().positive().default(30_000),
    /** Time allowed between two replies once the agent has started answering. */
    idleTimeoutMs: z.number().int().positive().default(30_000),
    /** Upper bound on one whole exchange. */
    totalTimeoutMs: z.number().int().positive().default(120_000),
    /** Replies beyond this many are not read; the exchange ends there. */
    maxResponses: z.number().int().positive().default(5),
    /**
     * Agent actions this agent may ask for in a reply's `metadata.actions` (least privilege:
     * none by default); any other is reported `refused` and never sent to Chatwoot.
     */
    allowedActions: z
      .array(
        z.enum(AGENT_ACTION_TYPES, {
          error: `use action types from: ${AGENT_ACTION_TYPES.join(', ')}`,
        }),
      )
      .default([]),
    /** Conversation actor: merge bursts into one turn (unset: every message is its own turn). */
    debounce: debounceSchema.optional(),
    /** Conversation actor: a newer customer message cancels the exchange still answering. */
    abortOnNewer: z.boolean().default(false),
    /** Posted when a conversation is created or the web widget opens (empty: no greeting). */
    greeting: z.array(z.string().min(1)).default([]),
    /** A conversation quiet this long starts a new agent session (unset: one session per conversation). */
    sessionIdleMs: z.number().int().positive().optional(),
    /** Largest frame read from the agent (WebSocket message, Socket.IO packet); a larger one fails the exchange. */
    maxFrameBytes: z
      .number()
      .int()
      .min(1_024)
      .max(64 * 1_048_576)
      .default(1_048_576),
    /**
     * Longest reply text (characters) handed on; a longer reply or stream is cut there, with a
     * note. At most Chatwoot's own limit on a message (150,000).
     */
    maxReplyChars: z
      .number()
      .int()
      .min(100)
      .max(150_000, 'Chatwoot takes messages of at most 150,000 characters')
      .default(150_000),
    /** Files in replies: where they may come from, how large, which types. */
    attachments: agentAttachmentsSchema.default(agentAttachmentsSchema.parse({})),
    /**
     * A reply longer than this (characters) is posted as several messages, cut at paragraph,
     * then sentence, then word boundaries (workflows/replySplit.ts). Unset: one message per reply.
     */
    splitRepliesAtChars: z
      .number()
      .int()
      .min(100, 'splitRepliesAtChars: at least 100 characters (or leave it unset: no splitting)')
      .max(150_000, 'splitRepliesAtChars: Chatwoot takes messages of at most 150,000 characters')
      .optional(),
  })
  .loose();

/**
 * An agent reached over a WebSocket, one connection per turn: seed 000's `bridge-v1` frames or
 * seed 001's `unified` typed frames (see agents/unified/protocol.ts).
 */
export const wsAgentSchema = agentCommonSchema.extend({
  transport: z.literal('ws'),
  protocol: z.enum(['bridge-v1', 'unified']).default('bridge-v1'),
  url: z.string().regex(/^wss?:\/\//, 'must start with ws:// or wss://'),
  headers: z.record(z.string(), z.string()).default({}),
  /** WebSocket ping interval; no pong by the next ping = dead connection (unset: idleTimeoutMs / 3). */
  pingIntervalMs: z.number().int().min(50).optional(),
});

/** An agent that cannot host a socket: it long-polls the bridge for turns and posts replies (seed 003). */
export const pullAgentSchema = agentCommonSchema.extend({
  transport: z.literal('pull'),
  /** Bearer key this agent presents on /api/v1/agents/{id}/inbox and /outbox. */
  apiKey: z.string().min(16, 'use a key of at least 16 characters'),
  /** Longest an inbox request may wait for a turn before answering with an empty list. */
  longPollMs: z.number().int().min(0).max(120_000).default(25_000),
});

/**
 * An AIWM agent reached over Socket.IO (seed 004): a token from `POST {apiBase}/agents/{agentId}/connect`,
 * then one Socket.IO connection per turn. See agents/aiwm/exchange.ts.
 */
export const socketioAgentSchema = agentCommonSchema
  .extend({
    transport: z.literal('socketio'),
    /** Where the token endpoint lives: `POST {apiBase}/agents/{agentId}/connect`. */
    apiBase: z.url({ protocol: /^https?$/ }),
    /** The Socket.IO server; its path is the namespace (e.g. `https://host/chat`). Default: `apiBase`. */
    url: z.url({ protocol: /^(https?|wss?)$/ }).optional(),
    /** The agent's id in AIWM. Default: this agent's `id`. */
    agentId: z.string().min(1).optional(),
    secret: z.string().min(1, 'set the AIWM agent secret'),
    /** Talk in this AIWM conversation instead of the one `presence:update` names. */
    conversationId: z.string().min(1).optional(),
    /** The answer is complete once no assistant message came for this long. */
    settleMs: z.number().int().positive().default(3_000),
    /** No `message:sent` acknowledgement within this long: the attempt fails (and is retried). */
    ackTimeoutMs: z.number().int().positive().default(5_000),
    /** Fetch a new token this long before the current one expires. */
    tokenRefreshMarginMs: z.number().int().nonnegative().default(60_000),
    /** Post the agent's reasoning and tool calls as private notes (visible to the team only). */
    showThinking: z.boolean().default(false),
    /**
     * How an answer is tied to the turn that asked (agents/aiwm/turn.ts): `ordering` (what seed 004
     * gives: acknowledgement and order, plus the quiet period below), `turnId` (the agent echoes
     * `metadata.turnId`), `conversation` (one AIWM conversation per Chatwoot conversation, joined
     * with `conversation:join`; the server must allow it and the agent answer where asked).
     */
    correlation: z.enum(['ordering', 'turnId', 'conversation']).default('ordering'),
    /** `correlation: conversation`: the AIWM conversation id; `{accountId}`, `{conversationId}`, `{inboxId}`. */
    conversationTemplate: z
      .string()
      .regex(/\{conversationId\}/, 'must contain {conversationId}')
      .default('chatwoot-{accountId}-{conversationId}'),
    /**
     * After an answer ends, the turn lease is kept until the agent has been quiet this long, so a
     * late part reaches no other customer's turn (it is dropped, logged and counted). Default:
     * 5,000 with `correlation: ordering`, 0 otherwise.
     */
    releaseQuietMs: z.number().int().nonnegative().optional(),
  })
  .superRefine((agent, ctx) => {
    if (agent.correlation === 'conversation' && agent.conversationId !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['conversationId'],
        message:
          'remove it: with correlation "conversation" each Chatwoot conversation gets its own (conversationTemplate)',
      });
    }
  });

/** One AI agent the bridge can talk to; `transport` picks the schema. */
export const agentConfigSchema = z.discriminatedUnion('transport', [
  wsAgentSchema,
  socketioAgentSchema,
  pullAgentSchema,
]);

const LANGUAGE_CODE = /^[a-z]{2,3}$/;
const LANGUAGE_MESSAGE =
  'use a lower-case two- or three-letter language code, such as "en" or "de"';
/** A language code: lower-case two or three letters, e.g. `en`, `de`, `pt`. */
const languageKey = z.string().regex(LANGUAGE_CODE, LANGUAGE_MESSAGE);
/** Values per language code; a wrong code is named, with what to write instead. */
const byLanguage = <T extends z.ZodType>(value: T) =>
  z.record(z.string(), value).superRefine((map, ctx) => {
    for (const key of Object.keys(map)) {
      if (!LANGUAGE_CODE.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: LANGUAGE_MESSAGE });
      }
    }
  });

const DEFAULT_HUMAN_PHRASES = {
  en: ['human', 'agent', 'operator', 'real person', 'talk to someone', 'speak to someone'],
};
const DEFAULT_TRAILING_WORDS = {
  en: ['please', 'pls', 'plz', 'now', 'asap', 'thanks', 'thank', 'you', 'thx'],
};
const DEFAULT_ACKNOWLEDGEMENT = {
  en: 'Of course: I am handing you over to a member of our team. They will reply here as soon as they can.',
};

/**
 * A customer asking for a person (chatwoot/humanRequest.ts) is handed to the team at once: no
 * turn goes to the agent; an acknowledgement is posted, the conversation opened, a private note
 * left. Off unless the route has this key (`{}`: the English defaults).
 */
export const humanRequestSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Per language: words or phrases that, ending a short message, ask for a person. */
    phrases: byLanguage(
      z
        .array(
          z
            .string()
            .refine((phrase) => /[\p{L}\p{N}]/u.test(phrase), 'a phrase needs a letter or digit'),
        )
        .min(1, 'list at least one phrase, or remove the language'),
    ).default(DEFAULT_HUMAN_PHRASES),
    /** Per language: words that may follow the phrase at the end ("human please", "agent now"). */
    trailingWords: byLanguage(z.array(z.string().min(1))).default(DEFAULT_TRAILING_WORDS),
    /** Only messages of at most this many words count: a longer one is a question for the agent. */
    maxWords: z.number().int().min(1).max(100).default(12),
    /** Per language: posted to the customer before the hand-over (`{}`: none). */
    acknowledgement: byLanguage(
      z.string().min(1, 'write the acknowledgement, or remove the language'),
    ).default(DEFAULT_ACKNOWLEDGEMENT),
    /** The acknowledgement's language when the conversation's has none. */
    defaultLanguage: languageKey.default('en'),
    /** Adding this label to the conversation hands it over too (no acknowledgement). */
    label: z.string().min(1, 'name the label, or remove "label"').optional(),
  })
  .loose()
  .superRefine((settings, ctx) => {
    const languages = Object.keys(settings.acknowledgement);
    if (languages.length > 0 && !languages.includes(settings.defaultLanguage)) {
      ctx.addIssue({
        code: 'custom',
        path: ['acknowledgement', settings.defaultLanguage],
        message: `add an acknowledgement in "${settings.defaultLanguage}" (defaultLanguage), or set defaultLanguage to one of ${languages.join(', ')}`,
      });
    }
  });

/** A custom attribute value to match (compared as text: `42` matches `"42"`). */
const attributeValueSchema = z.union([z.string(), z.number(), z.boolean()]);

/**
 * Which agent answers a conversation. Every matcher given must hold (`labels`: any of them);
 * routes are tried in order and the first match wins. `default: true` (no matchers) catches
 * whatever no other route matched.
 */
export const routeSchema = z
  .object({
    agentId: z.string(),
    inboxId: z.number().int().nonnegative().optional(),
    /** The conversation carries at least one of these labels (case-insensitive). */
    labels: z
      .array(z.string().min(1))
      .min(1, 'list at least one label, or remove "labels"')
      .optional(),
    /** The conversation is assigned to this team. */
    teamId: z.number().int().nonnegative().optional(),
    /** A conversation or contact custom attribute has this value. */
    customAttribute: z
      .object({ name: z.string().min(1), value: attributeValueSchema })
      .loose()
      .optional(),
    default: z.boolean().optional(),
    /** Customers asking for a person are handed to the team (unset: off; see humanRequestSchema). */
    humanRequest: humanRequestSchema.optional(),
  })
  .loose();

/** A base64 text of exactly 32 bytes (an AES-256 key), e.g. from `openssl rand -base64 32`. */
const isAes256KeyText = (value: string) =>
  /^[A-Za-z0-9+/]+={0,2}$/.test(value.trim()) && Buffer.from(value, 'base64').length === 32;

/** One payload encryption key: given inline (base64) or in a file holding the base64 text. */
export const encryptionKeySchema = z
  .object({
    /** Written into every payload it encrypts (`encryption-key-id`); never reuse an id for another key. */
    id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "." or "-"'),
    key: z
      .string()
      .refine(isAes256KeyText, 'must be 32 bytes in base64 (openssl rand -base64 32)')
      .optional(),
    keyFile: z.string().min(1, 'give the path of a file holding the base64 key').optional(),
  })
  .loose()
  .superRefine((entry, ctx) => {
    if ((entry.key === undefined) === (entry.keyFile === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['key'],
        message: `key "${entry.id}": give exactly one of key (base64) or keyFile`,
      });
    }
  });

/**
 * Customer data in Temporal: every payload the bridge writes is AES-256-GCM encrypted (see
 * codec/aesGcm.ts). Unset: payloads are plain JSON (the embedded dev server's default).
 */
export const encryptionSchema = z
  .object({
    /** Every key that may still be needed to read a history; new payloads use `currentKeyId`. */
    keys: z
      .array(encryptionKeySchema)
      .min(1, 'list at least one key, or remove temporal.encryption'),
    /** The key new payloads are encrypted with (default: the only key). */
    currentKeyId: z.string().optional(),
  })
  .loose()
  .superRefine((encryption, ctx) => {
    const ids = encryption.keys.map((entry) => entry.id);
    ids.forEach((id, index) => {
      if (ids.indexOf(id) !== index) {
        ctx.addIssue({
          code: 'custom',
          path: ['keys', index, 'id'],
          message: `key id "${id}" is listed twice: give every key its own id`,
        });
      }
    });
    if (encryption.currentKeyId === undefined && ids.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['currentKeyId'],
        message: `several keys: set currentKeyId to the one new payloads use (one of ${ids.join(', ')})`,
      });
    }
    if (encryption.currentKeyId !== undefined && !ids.includes(encryption.currentKeyId)) {
      ctx.addIssue({
        code: 'custom',
        path: ['currentKeyId'],
        message: `no key with id "${encryption.currentKeyId}" (known: ${ids.join(', ')})`,
      });
    }
  });

/** The codec endpoint the Temporal UI and CLI decode payloads through (api/codec.ts). */
export const codecEndpointSchema = z
  .object({
    /** Bearer keys for `POST /codec/encode|decode`; none: the endpoint answers 403. */
    keys: z.array(z.string().min(16, 'use at least 16 characters')).default([]),
    /**
     * No keys: answer without one. Only where something else guards the endpoint (a private
     * network, an authenticating proxy): the Temporal UI sends no bearer key of its own, only
     * the signed-in user's access token when told to pass it.
     */
    allowWithoutKey: z.boolean().default(false),
    /** Browser origins allowed to call it (the Temporal UI's, e.g. `http://localhost:8233`). */
    corsOrigins: z
      .array(
        z
          .url({ protocol: /^https?$/ })
          .refine(
            (url) => new URL(url).origin === url,
            'give an origin only: scheme, host and port, no path or trailing slash',
          ),
      )
      .default([]),
  })
  .loose();

/** Operator endpoints (`/agents/status`, `/api/v1/agents/...`). */
export const operatorApiSchema = z
  .object({
    /** Bearer keys for `POST /api/v1/messages` (proactive messages); none: every call is 401. */
    keys: z.array(z.string().min(16, 'use at least 16 characters')).default([]),
    /** Bearer tokens accepted by the operator endpoints; none: those endpoints answer 403. */
    operatorKeys: z.array(z.string().min(16, 'use at least 16 characters')).default([]),
    /** Bearer keys for the API's `GET /metrics`; none (the default): `/metrics` is open. */
    metricsKeys: z.array(z.string().min(16, 'use at least 16 characters')).default([]),
    /**
     * Failed authentications (401s: wrong keys, bad webhook signatures) allowed per client
     * address within `windowMs`; past that its failing requests answer 429. 0: no limit.
     */
    failedAuthLimit: z
      .object({
        max: z.number().int().nonnegative().default(20),
        windowMs: z.number().int().positive().default(60_000),
      })
      .loose()
      .default({ max: 20, windowMs: 60_000 }),
    /** The Temporal UI's codec endpoint (`/codec/encode`, `/codec/decode`). */
    codec: codecEndpointSchema.default(codecEndpointSchema.parse({})),
    /** `/agents/status` looks at this many recent deliveries per agent... */
    statusSampleSize: z.number().int().positive().max(200).default(20),
    /** ...finished within this look-back. */
    statusLookbackMs: z.number().int().positive().default(86_400_000),
  })
  .loose();

/** How hard the bridge tries before it hands a conversation to humans. */
export const deliverySchema = z
  .object({
    /** Agent down or failing: keep retrying (durable timers) for this long, then hand off. */
    agentRetryWindowMs: z.number().int().positive().default(600_000),
    agentRetryInitialIntervalMs: z.number().int().positive().default(1_000),
    agentRetryMaxIntervalMs: z.number().int().positive().default(60_000),
    /** A worker that stops heartbeating for this long is presumed dead; the exchange moves on. */
    exchangeHeartbeatTimeoutMs: z.number().int().positive().default(10_000),
    /**
     * Agent-queue activities (exchange, offer to a pull agent) not picked up by a worker polling
     * `{taskQueue}-agents` within this long fail; the agent retry window and hand-off follow.
     */
    agentQueueScheduleToStartMs: z
      .number()
      .int()
      .min(1_000, 'use at least 1000 ms')
      .default(60_000),
    /** Offering a turn to a pull agent, retries included, gives up after this long. */
    offerScheduleToCloseMs: z.number().int().min(1_000, 'use at least 1000 ms').default(120_000),
    /** Chatwoot calls (5xx, 429, network): retry with backoff for this long. */
    chatwootRetryWindowMs: z.number().int().positive().default(3_600_000),
    chatwootRetryInitialIntervalMs: z.number().int().positive().default(1_000),
    chatwootRetryMaxIntervalMs: z.number().int().positive().default(60_000),
    chatwootRequestTimeoutMs: z.number().int().positive().default(10_000),
    fallbackMessage: z
      .string()
      .min(1)
      .default(
        'Sorry, our assistant is unavailable right now. A member of our team will reply soon.',
      ),
  })
  .loose();

/**
 * A Worker Deployment version: `name` groups the bridge's workers across deploys, `buildId` names
 * this build. Temporal joins them as `name.buildId` and reserves `__` prefixes.
 */
export const deploymentSchema = z
  .object({
    name: z
      .string()
      .min(1, 'name the Worker Deployment, e.g. "chatwoot-bridge", or remove worker.deployment')
      .max(255, 'use at most 255 characters')
      .refine((name) => !/[.:]/.test(name), "a deployment name may not contain '.' or ':'")
      .refine((name) => !name.startsWith('__'), "names starting with '__' are Temporal's own"),
    /**
     * This build's id, e.g. the image tag or commit. Unset: derived from the workflow bundle's
     * manifest (`npm run build`), so the same workflow code always gets the same id.
     */
    buildId: z
      .string()
      .min(1, 'set a build id (e.g. the commit), or remove buildId to use the bundle hash')
      .max(255, 'use at most 255 characters')
      .refine((id) => !id.startsWith('__'), "build ids starting with '__' are Temporal's own")
      .optional(),
    /**
     * What workflows started on this version do when a newer version becomes current:
     * `AUTO_UPGRADE` moves them on (their changes must be behind `patched()`), `PINNED` keeps
     * each one on the version it started on until it completes.
     */
    defaultVersioningBehavior: z
      .enum(['AUTO_UPGRADE', 'PINNED'], { error: "use 'AUTO_UPGRADE' or 'PINNED'" })
      .default('AUTO_UPGRADE'),
  })
  .loose();

/** Worker processes (`npm run worker`, `npm start`); read at start. */
/**
 * Enough for the conversations a worker serves at once and their deliveries; 10,000 idle actors
 * then keep the worker's memory within twice that of 100 (README "What a message costs").
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 300;

export const workerSchema = z
  .object({
    /**
     * On SIGTERM/SIGINT a worker stops polling and gives the exchanges and tasks in flight this
     * long to finish before it cancels them and exits (keep it below the orchestrator's kill
     * delay, e.g. compose's `stop_grace_period`).
     */
    shutdownGraceMs: z
      .number()
      .int()
      .min(0)
      .max(3_600_000, 'use at most 3600000 ms (one hour)')
      .default(30_000),
    /**
     * Worker Versioning (README "Changing workflow code safely"): the workers poll as one version
     * of a Temporal Worker Deployment, so a deploy can ramp new workflow code and drain the old.
     * Unset: off, every worker takes every task.
     */
    deployment: deploymentSchema.optional(),
    /**
     * Workflow runs kept in memory between their tasks. Each open conversation actor is one; a
     * run evicted is replayed from its history on its next event, so this bounds memory, not how
     * many conversations the worker serves. The SDK's own default grows with the heap (about
     * 2,300 runs for a 4 GB heap), so idle actors alone would fill gigabytes.
     */
    maxCachedWorkflows: z.number().int().min(0).default(DEFAULT_MAX_CACHED_WORKFLOWS),
    /** Workflow tasks this process runs at once (unset: the SDK's default, 40). */
    maxConcurrentWorkflowTasks: z.number().int().positive().optional(),
    /** Agent exchanges this process runs at once: mostly idle sockets, many fit. */
    maxConcurrentExchanges: z.number().int().positive().default(500),
  })
  .loose()
  // The SDK would change either quietly, with a warning in the log.
  .superRefine((worker, ctx) => {
    const cache = worker.maxCachedWorkflows;
    if (cache === 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxCachedWorkflows'],
        message: 'use 0 (no cache) or at least 2',
      });
    }
    const tasks = worker.maxConcurrentWorkflowTasks;
    if (cache > 0 && tasks === 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxConcurrentWorkflowTasks'],
        message: 'at least 2 while workflow runs are cached (worker.maxCachedWorkflows > 0)',
      });
    }
    if (cache > 0 && tasks !== undefined && tasks > cache) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxConcurrentWorkflowTasks'],
        message: `at most worker.maxCachedWorkflows (${cache}): a task needs its run in the cache; raise the cache or lower the tasks`,
      });
    }
  });

/** The conversation actor: human takeover, dedupe, synchronous callers. */
export const conversationSchema = z
  .object({
    /** A bot paused by a human resumes after this long without human activity (unset: never). */
    resumeAfterIdleMs: z.number().int().positive().optional(),
    /** Chatwoot user ids that stand for the bot: assigning the conversation to one resumes it. */
    botAssigneeIds: z.array(z.number().int().positive()).default([]),
    /** Message ids each actor remembers to drop duplicate webhooks (kept across continue-as-new). */
    dedupeLimit: z.number().int().positive().default(500),
    /**
     * A message reaching an idle actor waits this long for older messages overtaken in flight
     * (Chatwoot sends webhooks from parallel jobs), so turns go in creation order; 0: no wait.
     */
    reorderWindowMs: z
      .number()
      .int()
      .min(0, 'must be 0 (off) or a wait in ms')
      .max(5_000, 'a few hundred ms is enough; every first reply waits this long')
      .default(300),
    /** Upper bound on `?wait=`; Chatwoot gives up on a webhook after 5 s. */
    maxWaitMs: z
      .number()
      .int()
      .positive()
      .max(4_900, "must stay below Chatwoot's 5 s")
      .default(4_500),
  })
  .loose();

/**
 * Catch-up: a Temporal Schedule per account finds customer messages whose webhook Chatwoot gave
 * up on (bridge or Temporal down) and hands them to their conversation actor, or to the team
 * when they are too old. Listing conversations needs a user token (agent-bot tokens cannot).
 */
export const catchUpSchema = z
  .object({
    /** A Chatwoot user's access token (an administrator sees every inbox); unset: catch-up is off. */
    apiAccessToken: z
      .string()
      .min(
        1,
        'set a Chatwoot user access token, or remove catchUp.apiAccessToken to turn catch-up off',
      )
      .optional(),
    /** Accounts to catch up (default: `chatwoot.accountId`). */
    accountIds: z
      .array(z.number().int().positive())
      .min(1, 'list at least one account id, or remove catchUp.accountIds')
      .optional(),
    /** How often each account's schedule runs (it also runs once when a worker starts). */
    intervalMs: z.number().int().min(1_000, 'use at least 1000 ms').default(60_000),
    /** A missed message older than this goes to the team (opened + private note) instead of the bot. */
    maxAgeMs: z.number().int().positive().default(1_800_000),
    /** The very first run (no earlier run to continue from) looks back this far. */
    firstRunLookbackMs: z.number().int().positive().default(3_600_000),
    /**
     * For this long after the API starts or asks Chatwoot to retry, each customer message first
     * hands over older ones of its conversation that have no delivery (Chatwoot still retrying
     * them, or given up): answered in creation order. Chatwoot's retries span about 21 s; 0: off.
     */
    afterOutageMs: z.number().int().min(0).max(600_000).default(30_000),
  })
  .loose();

/**
 * The webhook ingress. Chatwoot waits 5 s for an answer and its agent-bot job retries only 429
 * and 500 (3 attempts, 3 s apart); account webhooks are never retried.
 */
export const webhookSchema = z
  .object({
    /** Any of these may sign a webhook (rotation); also accepted as `?token=` for unsigned installs. */
    secrets: z.array(z.string().min(1)).default([]),
    maxBodyBytes: z.number().int().positive().default(1_048_576),
    /** Bodies whose JSON nests objects/arrays deeper than this get 400 (Chatwoot's own stay below 10). */
    maxDepth: z
      .number()
      .int()
      .min(8, 'Chatwoot payloads nest about 7 levels: allow at least 8')
      .default(32),
    /** Signed webhooks older or newer than this are rejected (replay protection). */
    toleranceSeconds: z.number().int().positive().default(300),
    /** Every answer, Temporal calls included, leaves within this long (Chatwoot gives up at 5 s). */
    answerBudgetMs: z
      .number()
      .int()
      .min(100, 'allow Temporal at least 100 ms')
      .max(4_900, "must stay below Chatwoot's 5 s request timeout")
      .default(4_000),
    /**
     * `npm run api` and `npm run worker` refuse to start without `secrets` unless this says
     * unsigned webhooks (anyone who can reach the URL) are meant to be accepted.
     */
    allowUnsigned: z.boolean().default(false),
    /** Answer to an event the bridge could not make durable: one of the two statuses Chatwoot retries. */
    retryStatus: z
      .union([z.literal(500), z.literal(429)], {
        error: 'use 500 or 429: the only statuses Chatwoot retries',
      })
      .default(500),
  })
  .loose();

export const bridgeConfigSchema = z
  .object({
    chatwoot: z
      .object({
        baseUrl: z.url({ protocol: /^https?$/ }),
        apiAccessToken: z.string().min(1, 'set chatwoot.apiAccessToken or CHATWOOT_API_TOKEN'),
        /**
         * The account assumed where none is given: conversation-level webhooks carry no
         * account id, and proactive messages may name none.
         */
        accountId: z.number().int().positive().optional(),
        /**
         * Also put the bridge's marker in `source_id` (it is always in `content_attributes`).
         * Chatwoot does not send a message that has a `source_id` to Twilio, WhatsApp, Facebook,
         * Instagram, TikTok, Telegram, Line, SMS or email customers: set true only when every
         * routed inbox is an API or website inbox and something reads the marker there.
         */
        markerInSourceId: z.boolean().default(false),
        /**
         * Token for agent actions (labels, priority, ...); default: `apiAccessToken`. Agent-bot
         * tokens may not change labels: give a user's token (an agent) here for those.
         */
        actionsApiAccessToken: z
          .string()
          .min(1, 'set a Chatwoot user access token, or remove chatwoot.actionsApiAccessToken')
          .optional(),
        /**
         * One rate limit for the whole fleet: at most this many Chatwoot calls per second from
         * deliveries, across every worker process (Temporal's task-queue rate limit). Per
         * account for those in `rateLimitAccountIds`; all other accounts share one such limit.
         * Unset: no limit, calls go out as fast as deliveries make them.
         */
        maxCallsPerSecond: z
          .number()
          .positive('use a positive number of calls per second, or remove the key')
          .optional(),
        /** Accounts with a limit of their own (default: `chatwoot.accountId` when set). */
        rateLimitAccountIds: z.array(z.number().int().positive()).optional(),
      })
      .loose(),
    webhook: webhookSchema.default(webhookSchema.parse({})),
    agents: z.array(agentConfigSchema).min(1, 'configure at least one agent'),
    routes: z.array(routeSchema).default([]),
    api: operatorApiSchema.default(operatorApiSchema.parse({})),
    delivery: deliverySchema.default(deliverySchema.parse({})),
    conversation: conversationSchema.default(conversationSchema.parse({})),
    http: z
      .object({
        port: z.number().int().min(0).max(65_535).default(8_000),
        host: z.string().default('0.0.0.0'),
      })
      .loose()
      .default({ port: 8_000, host: '0.0.0.0' }),
    temporal: z
      .object({
        /** Unset: `npm start` runs an embedded dev server. */
        address: z.string().optional(),
        namespace: z.string().default('default'),
        taskQueue: z.string().default('chatwoot-bridge'),
        /** Longest one Temporal call may take to accept work (webhooks: capped by webhook.answerBudgetMs). */
        startTimeoutMs: z.number().int().positive().default(3_000),
        /** Encrypt every payload (production default; unset: plain, as on the embedded dev server). */
        encryption: encryptionSchema.optional(),
        /** A profile of Temporal's `temporal.toml` (default: TEMPORAL_PROFILE, else "default"). */
        profile: z.string().min(1).optional(),
        /** That file (default: TEMPORAL_CONFIG_FILE, else Temporal's own location). */
        configFile: z.string().min(1).optional(),
        /** Temporal Cloud API key (or TEMPORAL_API_KEY); turns TLS on. Never logged. */
        apiKey: z.string().min(1, 'set an API key, or remove temporal.apiKey').optional(),
        tls: temporalTlsSchema.optional(),
        /** `chatwoot-bridge setup`: how long closed workflows stay in a namespace it creates. */
        retentionDays: z.number().int().min(1).max(3650).default(7),
      })
      .loose()
      .default({
        namespace: 'default',
        taskQueue: 'chatwoot-bridge',
        startTimeoutMs: 3_000,
        retentionDays: 7,
      }),
    /** Prometheus endpoints of worker processes (the API serves its own on `/metrics`). */
    metrics: z
      .object({
        /** `npm run worker` serves the bridge's worker metrics and `/health` here; 0: off. */
        workerPort: z.number().int().min(0).max(65_535).default(9464),
        /** The Temporal SDK's own metrics from worker processes (and `npm start`); 0: off. */
        temporalSdkPort: z.number().int().min(0).max(65_535).default(9465),
        host: z.string().default('0.0.0.0'),
      })
      .loose()
      .default({ workerPort: 9464, temporalSdkPort: 9465, host: '0.0.0.0' }),
    catchUp: catchUpSchema.default(catchUpSchema.parse({})),
    worker: workerSchema.default(workerSchema.parse({})),
  })
  .loose()
  .superRefine((config, ctx) => {
    const { agentQueueScheduleToStartMs, offerScheduleToCloseMs } = config.delivery;
    if (offerScheduleToCloseMs < agentQueueScheduleToStartMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['delivery', 'offerScheduleToCloseMs'],
        message: `must be at least delivery.agentQueueScheduleToStartMs (${agentQueueScheduleToStartMs}): an offer may first wait that long for an agent worker`,
      });
    }
    if (
      config.catchUp.apiAccessToken &&
      !config.catchUp.accountIds &&
      config.chatwoot.accountId === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['catchUp', 'accountIds'],
        message:
          'catch-up needs to know the accounts: set catchUp.accountIds or chatwoot.accountId',
      });
    }
    const agentIds = new Set(config.agents.map((agent) => agent.id));
    config.routes.forEach((route, index) => {
      if (!agentIds.has(route.agentId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', index, 'agentId'],
          message: `no agent with id "${route.agentId}" (known: ${[...agentIds].join(', ')})`,
        });
      }
    });
    for (const issue of routeIssues(config.routes)) {
      ctx.addIssue({ code: 'custom', path: ['routes', ...issue.path], message: issue.message });
    }
    config.agents.forEach((agent, index) => {
      // Two missed pings must fit in the idle timeout, or a dead socket looks like a finished answer.
      if (agent.transport === 'ws' && (agent.pingIntervalMs ?? 0) * 2 > agent.idleTimeoutMs) {
        ctx.addIssue({
          code: 'custom',
          path: ['agents', index, 'pingIntervalMs'],
          message: `must be at most half of idleTimeoutMs (${agent.idleTimeoutMs}) so a dead connection is noticed within the idle timeout`,
        });
      }
    });
  });

export type BridgeConfig = z.infer<typeof bridgeConfigSchema>;
export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type WsAgentConfig = z.infer<typeof wsAgentSchema>;
export type SocketioAgentConfig = z.infer<typeof socketioAgentSchema>;
export type PullAgentConfig = z.infer<typeof pullAgentSchema>;
export type DeliveryConfig = z.infer<typeof deliverySchema>;
export type AgentAttachmentsConfig = z.infer<typeof agentAttachmentsSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;
export type ConversationConfig = z.infer<typeof conversationSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type HumanRequestConfig = z.infer<typeof humanRequestSchema>;
export type CatchUpConfig = z.infer<typeof catchUpSchema>;
export type WorkerConfig = z.infer<typeof workerSchema>;
export type DeploymentConfig = z.infer<typeof deploymentSchema>;
export type EncryptionConfig = z.infer<typeof encryptionSchema>;

/** The accounts catch-up runs for: `catchUp.accountIds`, else `chatwoot.accountId`, else none. */
export function catchUpAccountIds(config: BridgeConfig): number[] {
  return (
    config.catchUp.accountIds ?? (config.chatwoot.accountId ? [config.chatwoot.accountId] : [])
  );
}

/** Accounts with a Chatwoot rate limit of their own: `chatwoot.rateLimitAccountIds`, else `chatwoot.accountId`. */
export function rateLimitedAccountIds(config: BridgeConfig): number[] {
  return (
    config.chatwoot.rateLimitAccountIds ??
    (config.chatwoot.accountId ? [config.chatwoot.accountId] : [])
  );
}
