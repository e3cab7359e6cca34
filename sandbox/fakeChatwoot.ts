/**
 * A fake Chatwoot Application API for tests, the benchmark and the demo.
 *
 * Every request is checked against Chatwoot's own OpenAPI document, so a bridge
 * that drifts from the real API fails here rather than in production. Only the
 * endpoints the bridge calls have handlers; the validator itself is generic.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  AGENT_BOT_ERROR_ACTIVITY,
  filterConversations,
  toListedConversation,
  type ConversationListing,
  type ListedAssignee,
  type ListedContact,
} from './fakeChatwootListing.js';
import {
  apiAttachment,
  attachmentProblem,
  isMultipart,
  parseMultipartMessage,
  storeAttachment,
  type StoredAttachment,
  type UploadedPart,
} from './fakeChatwootMultipart.js';
import { contentAttributeErrors, type SubmittedValues } from './fakeChatwootContent.js';
import { FakeConversationActions, type ThrottleSpec } from './fakeChatwootActions.js';

// ajv and ajv-formats are CommonJS; under NodeNext their default import is the module object.
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

/**
 * Chatwoot's own OpenAPI document: the project's reference copy beside the repository when it is
 * there, else the copy vendored here (same file, chatwoot/chatwoot swagger/swagger.json), so a
 * clone on its own still validates. CHATWOOT_SWAGGER_PATH overrides both.
 */
const REFERENCE_SWAGGER = new URL('../../shared/reference/chatwoot/swagger.json', import.meta.url);
const VENDORED_SWAGGER = new URL('./chatwoot-swagger.json', import.meta.url);
const DEFAULT_SWAGGER =
  process.env.CHATWOOT_SWAGGER_PATH ??
  (existsSync(REFERENCE_SWAGGER) ? REFERENCE_SWAGGER : VENDORED_SWAGGER);

export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  status: number;
  at: number;
  fault?: string;
}

export interface StoredMessage {
  id: number;
  account_id: number;
  conversation_id: number;
  inbox_id: number;
  content: string;
  message_type: 'incoming' | 'outgoing' | 'activity' | 'template';
  private: boolean;
  source_id: string | null;
  content_type: string;
  content_attributes: Record<string, unknown>;
  created_at: number;
  /** The sender's kind: set by the catch-up helpers, or the API token's owner for outgoing messages (see `setTokenOwner`). */
  sender_type?: 'Contact' | 'User' | 'AgentBot' | null;
  sender?: { id: number; name: string; email?: string | null; phone_number?: string | null };
  /** `failed` once the agent bot's webhook for it failed for good (default `sent`). */
  status?: 'sent' | 'failed';
  /** Files posted with it (multipart create). */
  attachments?: StoredAttachment[];
}

/** A contact as the fake stores it; `contact_inboxes` links it to inboxes by `source_id`. */
export interface StoredContact {
  id: number;
  account_id: number;
  name: string;
  email: string | null;
  phone_number: string | null;
  identifier: string | null;
  contact_inboxes: Array<{ source_id: string; inbox_id: number }>;
  created_at: number;
}

/** A conversation created through the API (those merely posted to have no record here). */
export interface StoredConversation {
  id: number;
  account_id: number;
  inbox_id: number;
  contact_id: number;
  source_id: string;
  status: string;
  created_at: number;
}

export interface Violation {
  method: string;
  path: string;
  errors: string[];
}

export interface FaultSpec {
  /** Respond with this status instead of applying the request. */
  status?: number;
  /** Sent as `Retry-After` (seconds) with the faulted response. */
  retryAfterSeconds?: number;
  /** Hold the response this long; combined with nothing else the request is still applied. */
  delayMs?: number;
  /** Destroy the socket without answering. */
  drop?: boolean;
  /** With `drop`: apply the request first, so the work happens but the response is lost. */
  afterApply?: boolean;
  /** How many matching requests this fault affects (default 1). */
  count?: number;
  match?: { method?: string; pathIncludes?: string };
  /** Recorded as the call's `fault` instead of the generic name. */
  label?: string;
}

/**
 * Channel send services of Chatwoot (`Base::SendOnChannelService` and its subclasses) as they
 * treat an outgoing, public message right after it is created: one that already has a
 * `source_id` is taken for a message that came from the channel and is NOT sent to the customer;
 * any other is sent, and the provider's message id is written into its `source_id`.
 */
export type ChannelKind =
  'twilio_sms' | 'twilio_whatsapp' | 'whatsapp_cloud' | 'facebook' | 'instagram' | 'tiktok';

/** What the customer's channel received (or was kept from receiving) for one message. */
export interface ChannelDelivery {
  messageId: number;
  accountId: number;
  conversationId: number;
  content: string;
  /** The provider's id now in the message's `source_id`; absent when the message was not sent. */
  providerId?: string;
  /** Why it was not sent. */
  skipped?: 'source_id present';
}

export interface FakeChatwootOptions {
  port?: number;
  host?: string;
  apiAccessToken?: string;
  /** A user's token: accepted everywhere, and the only one allowed to list conversations. */
  userApiAccessToken?: string;
  swaggerPath?: string | URL;
  /** Inboxes that exist (others answer 404, as in Chatwoot). Default: inbox 1. */
  inboxes?: number[];
  /** Rack::Attack-like throttle: 429 above `limit` requests per `periodMs` and account. */
  throttle?: ThrottleSpec;
}

// ---------------------------------------------------------------------------
// Swagger-driven request validation

interface ParamSpec {
  name: string;
  in: string;
  required?: boolean;
  schema?: { type?: string | string[]; enum?: unknown[] };
}

export interface SwaggerOperation {
  template: string;
  method: string;
  operationId: string;
  /** Literal segments as strings, `{param}` segments as their parameter name wrapped in an object. */
  segments: Array<string | { param: string }>;
  params: ParamSpec[];
  /** Header carrying the API key, when the operation is secured. */
  authHeader: string | undefined;
  /** Ajv `$ref` to the JSON body schema inside the registered document. */
  bodyRef: string | undefined;
  bodyRequired: boolean;
  bodyValidator?: ValidateFunction;
}

export interface MatchedOperation {
  operation: SwaggerOperation;
  pathParams: Record<string, string>;
}

type Json = Record<string, unknown>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const DOC_ID = 'chatwoot';

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** JSON Pointer escaping, then URI-encoding because the pointer lives in a `$ref` fragment. */
const pointerSegment = (key: string): string =>
  encodeURIComponent(key.replace(/~/g, '~0').replace(/\//g, '~1'));

export class SwaggerValidator {
  private static readonly cache = new Map<string, SwaggerValidator>();
  private readonly ajv: InstanceType<typeof Ajv2020>;
  /** Ordered so that literal segments win over templated ones at the first difference. */
  private readonly operations: SwaggerOperation[] = [];

  /** Parsing and registering the 400 kB document is the slow part: do it once per file. */
  static load(path: string | URL = DEFAULT_SWAGGER): SwaggerValidator {
    const file = path instanceof URL ? fileURLToPath(path) : path;
    let validator = SwaggerValidator.cache.get(file);
    if (!validator) {
      validator = new SwaggerValidator(JSON.parse(readFileSync(file, 'utf8')) as Json);
      SwaggerValidator.cache.set(file, validator);
    }
    return validator;
  }

  constructor(private readonly doc: Json) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    // Registered whole so `#/components/...` refs resolve; not meta-validated since it is not a schema.
    this.ajv.addSchema(doc, DOC_ID, undefined, false);

    const paths = isObject(doc.paths) ? doc.paths : {};
    for (const [template, item] of Object.entries(paths)) {
      if (!isObject(item)) continue;
      const shared = this.params(item.parameters);
      for (const method of HTTP_METHODS) {
        const op = item[method];
        if (isObject(op)) this.operations.push(this.operation(template, method, op, shared));
      }
    }
    this.operations.sort((a, b) => compareSpecificity(a.segments, b.segments));
  }

  match(method: string, path: string): MatchedOperation | undefined {
    const parts = path.split('/');
    const verb = method.toLowerCase();
    for (const operation of this.operations) {
      if (operation.method !== verb || operation.segments.length !== parts.length) continue;
      const pathParams: Record<string, string> = {};
      const matches = operation.segments.every((segment, i) => {
        const part = parts[i] ?? '';
        if (typeof segment === 'string') return segment === part;
        pathParams[segment.param] = decodeURIComponent(part);
        return part !== '';
      });
      if (matches) return { operation, pathParams };
    }
    return undefined;
  }

  /** Errors for path params (`path`) and for query and body (`request`); empty when valid. */
  validate(
    matched: MatchedOperation,
    query: Record<string, string>,
    body: unknown,
  ): { path: string[]; request: string[] } {
    const { operation, pathParams } = matched;
    const path: string[] = [];
    const request: string[] = [];
    for (const param of operation.params) {
      const source = param.in === 'path' ? pathParams : param.in === 'query' ? query : undefined;
      if (!source) continue; // headers and cookies are not checked
      const value = source[param.name];
      const errors = param.in === 'path' ? path : request;
      if (value === undefined) {
        if (param.required) errors.push(`${param.in} parameter ${param.name} is required`);
        continue;
      }
      const problem = scalarProblem(value, param.schema);
      if (problem) errors.push(`${param.in} parameter ${param.name} ${problem}`);
    }
    if (operation.bodyRef) {
      if (body === undefined) {
        if (operation.bodyRequired) request.push('body is required');
      } else {
        const validate = (operation.bodyValidator ??= this.ajv.compile({
          $ref: operation.bodyRef,
        }));
        if (!validate(body)) request.push(...(validate.errors ?? []).map(formatError));
      }
    }
    return { path, request };
  }

  /** Checks a response body against the documented schema for that status (used by tests). */
  responseErrors(matched: MatchedOperation, status: number, body: unknown): string[] {
    const { template, method } = matched.operation;
    const ref = `${DOC_ID}#/paths/${pointerSegment(template)}/${method}/responses/${status}/content/application~1json/schema`;
    const validate = this.ajv.getSchema(ref) ?? this.ajv.compile({ $ref: ref });
    return validate(body) ? [] : (validate.errors ?? []).map(formatError);
  }

  private operation(
    template: string,
    method: string,
    op: Json,
    shared: ParamSpec[],
  ): SwaggerOperation {
    // Operation-level parameters override path-level ones with the same name and location.
    const own = this.params(op.parameters);
    const params = [
      ...shared.filter((p) => !own.some((o) => o.name === p.name && o.in === p.in)),
      ...own,
    ];
    const requestBody = isObject(op.requestBody) ? op.requestBody : undefined;
    const hasJsonBody = isObject(requestBody?.content) && 'application/json' in requestBody.content;
    return {
      template,
      method,
      operationId: typeof op.operationId === 'string' ? op.operationId : `${method} ${template}`,
      segments: template
        .split('/')
        .map((s) => (/^\{[^}]+\}$/.test(s) ? { param: s.slice(1, -1) } : s)),
      params,
      authHeader: this.authHeader(op.security ?? this.doc.security),
      bodyRef: hasJsonBody
        ? `${DOC_ID}#/paths/${pointerSegment(template)}/${method}/requestBody/content/application~1json/schema`
        : undefined,
      bodyRequired: requestBody?.required === true,
    };
  }

  private params(list: unknown): ParamSpec[] {
    if (!Array.isArray(list)) return [];
    return list
      .map((entry) => this.resolve(entry))
      .filter((p): p is Json => isObject(p) && typeof p.name === 'string')
      .map((p) => p as unknown as ParamSpec);
  }

  /** First apiKey-in-header scheme any security requirement names. */
  private authHeader(security: unknown): string | undefined {
    const components = isObject(this.doc.components) ? this.doc.components : {};
    const schemes = isObject(components.securitySchemes) ? components.securitySchemes : {};
    if (!Array.isArray(security)) return undefined;
    for (const requirement of security) {
      if (!isObject(requirement)) continue;
      for (const name of Object.keys(requirement)) {
        const scheme = schemes[name];
        if (isObject(scheme) && scheme.type === 'apiKey' && scheme.in === 'header') {
          return String(scheme.name).toLowerCase();
        }
      }
    }
    return undefined;
  }

  /** Follows a local `#/...` reference inside the document. */
  private resolve(value: unknown): unknown {
    if (!isObject(value) || typeof value.$ref !== 'string' || !value.$ref.startsWith('#/')) {
      return value;
    }
    let node: unknown = this.doc;
    for (const raw of value.$ref.slice(2).split('/')) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      node = isObject(node) ? node[key] : undefined;
    }
    return node;
  }
}

function compareSpecificity(
  a: Array<string | { param: string }>,
  b: Array<string | { param: string }>,
): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const aLiteral = typeof a[i] === 'string';
    if (aLiteral !== (typeof b[i] === 'string')) return aLiteral ? -1 : 1;
  }
  return 0;
}

/** Path and query values arrive as strings; check them against their declared scalar schema. */
function scalarProblem(value: string, schema: ParamSpec['schema']): string | undefined {
  const types = schema?.type === undefined ? [] : [schema.type].flat();
  if (types.includes('integer') && !/^-?\d+$/.test(value))
    return `must be an integer, got "${value}"`;
  if (types.includes('number') && (value.trim() === '' || !Number.isFinite(Number(value)))) {
    return `must be a number, got "${value}"`;
  }
  if (types.includes('boolean') && value !== 'true' && value !== 'false') {
    return `must be a boolean, got "${value}"`;
  }
  if (schema?.enum && !schema.enum.some((e) => String(e) === value)) {
    return `must be one of ${schema.enum.map(String).join(', ')}, got "${value}"`;
  }
  return undefined;
}

function formatError(error: ErrorObject): string {
  const where = `body${error.instancePath}`;
  const allowed = error.keyword === 'enum' ? (error.params as { allowedValues?: unknown[] }) : {};
  const suffix = allowed.allowedValues ? `: ${allowed.allowedValues.map(String).join(', ')}` : '';
  return `${where} ${error.message ?? 'is invalid'}${suffix}`;
}

// ---------------------------------------------------------------------------
// The fake server

const ACCOUNT = '/api/v1/accounts/{account_id}';
const CONVERSATION = `${ACCOUNT}/conversations/{conversation_id}`;
/** Conversations created through the API are numbered from here, clear of ids tests pick. */
const FIRST_CREATED_CONVERSATION_ID = 900_001;
/** Chatwoot's contact search page size. */
const CONTACT_SEARCH_PAGE_SIZE = 15;
const MESSAGE_TYPE_CODES = { incoming: 0, outgoing: 1, activity: 2, template: 3 } as const;
/** Largest multipart body taken: one file at Chatwoot's 40 MB limit and the form around it. */
const MULTIPART_BODY_LIMIT = 41 * 1_048_576;

interface Conversation {
  /** Set for conversations created through the API. */
  record?: StoredConversation;
  messages: StoredMessage[];
  typing: Array<'on' | 'off'>;
  status: string;
  statusChanges: string[];
  /** Set for conversations the listing shows (seeded by the catch-up helpers). */
  listing?: ConversationListing;
}

interface HandlerContext {
  /** The conversation named in the path (made on first use, as posting to any id works here). */
  readonly conversation: Conversation;
  accountId: number;
  conversationId: number;
  pathParams: Record<string, string>;
  query: Record<string, string>;
  body: Json;
  /** `attachments[]` parts of a multipart create. */
  files: UploadedPart[];
}

interface Outcome {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  fault?: string;
  drop?: boolean;
}

type Handler = (ctx: HandlerContext) => Outcome;

interface ActiveFault extends FaultSpec {
  remaining: number;
}

export class FakeChatwoot {
  readonly calls: RecordedCall[] = [];
  readonly violations: Violation[] = [];
  private readonly app: FastifyInstance;
  private readonly events = new EventEmitter().setMaxListeners(0);
  private readonly conversations = new Map<string, Conversation>();
  private readonly stored: StoredMessage[] = [];
  private readonly storedContacts: StoredContact[] = [];
  private readonly inboxIds: Set<number>;
  private faults: ActiveFault[] = [];
  // Never reset, so ids keep increasing across reset() like a real database sequence.
  private nextMessageId = 1;
  private nextContactId = 1;
  private nextConversationId = FIRST_CREATED_CONVERSATION_ID;
  private nextAttachmentId = 1;
  private address = '';
  /** Channel mode (see `useChannel`); undefined = an API inbox, where `source_id` stays as posted. */
  private channel: ChannelKind | undefined;
  private tokenOwner: 'AgentBot' | 'User' = 'AgentBot';
  private readonly deliveries: ChannelDelivery[] = [];

  private readonly handlers = new Map<string, Handler>([
    [`post ${CONVERSATION}/messages`, (ctx) => this.createMessage(ctx)],
    [`get ${CONVERSATION}/messages`, (ctx) => this.listMessages(ctx)],
    [`post ${CONVERSATION}/toggle_typing_status`, (ctx) => this.toggleTyping(ctx)],
    [`post ${CONVERSATION}/toggle_status`, (ctx) => this.toggleStatus(ctx)],
    [`get ${ACCOUNT}/contacts/search`, (ctx) => this.searchContacts(ctx)],
    [`post ${ACCOUNT}/contacts`, (ctx) => this.createContact(ctx)],
    [`post ${ACCOUNT}/contacts/{id}/contact_inboxes`, (ctx) => this.createContactInbox(ctx)],
    [`get ${ACCOUNT}/contacts/{id}/conversations`, (ctx) => this.contactConversations(ctx)],
    [`post ${ACCOUNT}/conversations`, (ctx) => this.createConversation(ctx)],
    [`get ${ACCOUNT}/conversations`, (ctx) => this.listConversations(ctx)],
  ]);
  /** Operations an agent-bot token may not call (Chatwoot answers 401 to them). */
  private readonly userOnly = new Set([`get ${ACCOUNT}/conversations`]);

  static async start(options: FakeChatwootOptions = {}): Promise<FakeChatwoot> {
    const fake = new FakeChatwoot(
      SwaggerValidator.load(options.swaggerPath),
      options.apiAccessToken ?? 'test-token',
      options.inboxes ?? [1],
      options.userApiAccessToken ?? 'test-user-token',
    );
    const host = options.host ?? '127.0.0.1';
    await fake.app.listen({ port: options.port ?? 0, host });
    const address = fake.app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    fake.address = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    if (options.throttle) fake.conversationActions.setThrottle(options.throttle);
    return fake;
  }

  private constructor(
    readonly validator: SwaggerValidator,
    private readonly apiAccessToken: string,
    inboxes: number[],
    private readonly userApiAccessToken: string,
  ) {
    this.inboxIds = new Set(inboxes);
    // Closing must not wait for keep-alive sockets or requests parked in a delay fault.
    this.app = Fastify({ logger: false, forceCloseConnections: true });
    // Bodies are parsed here rather than by Fastify, so malformed ones are recorded as violations.
    this.app.removeAllContentTypeParsers();
    this.app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
      done(null, body);
    });
    // Files stay bytes; room for Chatwoot's 40 MB per file plus the form around it.
    this.app.addContentTypeParser(
      'multipart/form-data',
      { parseAs: 'buffer', bodyLimit: MULTIPART_BODY_LIMIT },
      (_req, body, done) => done(null, body),
    );
    this.app.all('/*', (request, reply) => this.handle(request, reply));
    this.registerConversationActions();
  }

  get url(): string {
    return this.address;
  }

  messages(accountId: number, conversationId: number): StoredMessage[] {
    return [...(this.conversations.get(`${accountId}:${conversationId}`)?.messages ?? [])];
  }

  allMessages(): StoredMessage[] {
    return [...this.stored];
  }

  /** Contacts created through the API (or `addContact`), oldest first. */
  contacts(accountId?: number): StoredContact[] {
    return this.storedContacts.filter((c) => accountId === undefined || c.account_id === accountId);
  }

  /** Conversations created through the API, oldest first. */
  createdConversations(accountId?: number): StoredConversation[] {
    return [...this.conversations.values()]
      .map((conversation) => conversation.record)
      .filter((record): record is StoredConversation => record !== undefined)
      .filter((record) => accountId === undefined || record.account_id === accountId)
      .sort((a, b) => a.id - b.id);
  }

  addInbox(inboxId: number): void {
    this.inboxIds.add(inboxId);
  }

  /** Seeds a contact, as if created in Chatwoot's UI; linked to `inboxIds` when given. */
  addContact(
    accountId: number,
    fields: Partial<Pick<StoredContact, 'name' | 'email' | 'phone_number' | 'identifier'>>,
    inboxIds: number[] = [],
  ): StoredContact {
    const contact = this.storeContact(accountId, fields);
    for (const inboxId of inboxIds) this.linkContact(contact, inboxId);
    return contact;
  }

  /**
   * Stores a message the way Chatwoot itself does, not through the API (so injected faults never
   * touch it): a customer's message arriving through a channel, or an activity line.
   */
  addMessage(
    accountId: number,
    conversationId: number,
    fields: Pick<StoredMessage, 'content' | 'message_type'> & Partial<StoredMessage>,
  ): StoredMessage {
    const conversation = this.conversation(accountId, conversationId);
    const message: StoredMessage = {
      private: false,
      source_id: null,
      content_type: 'text',
      content_attributes: {},
      inbox_id: conversation.record?.inbox_id ?? 1,
      created_at: Math.floor(Date.now() / 1000),
      ...fields,
      id: this.nextMessageId++,
      account_id: accountId,
      conversation_id: conversationId,
    };
    conversation.messages.push(message);
    this.stored.push(message);
    this.events.emit('message', message);
    this.events.emit('change');
    return message;
  }

  /** Changes a conversation's status as Chatwoot itself does (e.g. after a failed bot webhook). */
  setStatus(accountId: number, conversationId: number, status: string): void {
    const conversation = this.conversation(accountId, conversationId);
    conversation.status = status;
    conversation.statusChanges.push(status);
    this.events.emit('change');
  }

  typing(accountId: number, conversationId: number): Array<'on' | 'off'> {
    return [...(this.conversations.get(`${accountId}:${conversationId}`)?.typing ?? [])];
  }

  status(accountId: number, conversationId: number): string {
    return this.conversations.get(`${accountId}:${conversationId}`)?.status ?? 'pending';
  }

  statusChanges(accountId: number, conversationId: number): string[] {
    return [...(this.conversations.get(`${accountId}:${conversationId}`)?.statusChanges ?? [])];
  }

  injectFault(fault: FaultSpec): void {
    this.faults.push({ ...fault, remaining: fault.count ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  // -------------------------------------------------------------------------
  // Conversation actions and the throttle (sandbox/fakeChatwootActions.ts)

  /** Labels, priority, custom attributes, assignment and snooze per conversation; the throttle. */
  readonly conversationActions = new FakeConversationActions();

  /** Rack::Attack-like throttle (undefined: off); 429s are recorded calls with `fault: throttled`. */
  throttle(spec: ThrottleSpec | undefined): void {
    this.conversationActions.setThrottle(spec);
  }

  private registerConversationActions(): void {
    const actions = this.conversationActions;
    const routes: Array<[string, Handler]> = [
      [`get ${CONVERSATION}/labels`, (c) => actions.listLabels(c.accountId, c.conversationId)],
      [
        `post ${CONVERSATION}/labels`,
        (c) => actions.setLabels(c.accountId, c.conversationId, c.body),
      ],
      [
        `post ${CONVERSATION}/toggle_priority`,
        (c) => actions.togglePriority(c.accountId, c.conversationId, c.body),
      ],
      [
        `post ${CONVERSATION}/custom_attributes`,
        (c) => actions.setCustomAttributes(c.accountId, c.conversationId, c.body),
      ],
      [
        `post ${CONVERSATION}/assignments`,
        (c) => actions.assign(c.accountId, c.conversationId, c.body),
      ],
    ];
    for (const [key, handler] of routes) this.handlers.set(key, handler);
    // Snoozing is a status change with a time: record the time, then change the status.
    const toggleStatus = this.handlers.get(`post ${CONVERSATION}/toggle_status`)!;
    this.handlers.set(`post ${CONVERSATION}/toggle_status`, (c) => {
      actions.recordStatus(c.accountId, c.conversationId, c.body);
      return toggleStatus(c);
    });
    // Agent-bot tokens get 401 on labels (swagger: userApiKey only; not in BOT_ACCESSIBLE_ENDPOINTS).
    this.userOnly.add(`get ${CONVERSATION}/labels`);
    this.userOnly.add(`post ${CONVERSATION}/labels`);
  }

  // -------------------------------------------------------------------------
  // Channel mode, token owner and late commits (kept apart from the routes)

  /**
   * Every conversation behaves like one on this channel from now on (undefined: back to an API
   * inbox): public outgoing messages are "sent" right after create, before the `message` event
   * (the fake's outgoing webhook) and before any listing sees them.
   */
  useChannel(kind: ChannelKind | undefined): void {
    this.channel = kind;
  }

  /** Whose token the bridge uses: an agent bot's (default) or a user's (`sender_type: User`). */
  setTokenOwner(owner: 'agent_bot' | 'user'): void {
    this.tokenOwner = owner === 'user' ? 'User' : 'AgentBot';
  }

  /** What the channel did with each message (channel mode only), oldest first. */
  channelDeliveries(accountId?: number, conversationId?: number): ChannelDelivery[] {
    return this.deliveries.filter(
      (d) =>
        (accountId === undefined || d.accountId === accountId) &&
        (conversationId === undefined || d.conversationId === conversationId),
    );
  }

  /** The texts the customer actually received on the channel, in order. */
  customerReceived(accountId: number, conversationId: number): string[] {
    return this.channelDeliveries(accountId, conversationId)
      .filter((d) => d.providerId !== undefined)
      .map((d) => d.content);
  }

  /**
   * The next `count` matching requests are applied only `afterMs` after they arrived and never
   * answered: with `afterMs` past the client's timeout, the client gave up on a create that
   * Chatwoot (still processing) commits a moment later.
   */
  injectLateCommit(spec: { afterMs: number; count?: number; match?: FaultSpec['match'] }): void {
    this.injectFault({
      delayMs: spec.afterMs,
      drop: true,
      afterApply: true,
      count: spec.count ?? 1,
      match: spec.match ?? { method: 'POST', pathIncludes: '/messages' },
      label: `late-commit:${spec.afterMs}ms`,
    });
  }

  /** `Base::SendOnChannelService#perform` for one just-created message. */
  private sendOnChannel(message: StoredMessage): void {
    const kind = this.channel;
    if (!kind || message.private) return;
    if (message.message_type !== 'outgoing' && message.message_type !== 'template') return;
    const delivery: ChannelDelivery = {
      messageId: message.id,
      accountId: message.account_id,
      conversationId: message.conversation_id,
      content: message.content,
    };
    if (message.source_id) {
      // `outgoing_message_originated_from_channel?`: a source_id means "came from the channel".
      this.deliveries.push({ ...delivery, skipped: 'source_id present' });
      return;
    }
    const providerId = providerMessageId(kind);
    message.source_id = providerId;
    this.deliveries.push({ ...delivery, providerId });
  }

  on(event: 'message', listener: (message: StoredMessage) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: 'message', listener: (message: StoredMessage) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** Resolves once `predicate` holds; re-checked after every request and on a short poll. */
  async waitFor(
    predicate: () => boolean,
    options: { timeoutMs?: number; description?: string } = {},
  ): Promise<void> {
    if (predicate()) return;
    const timeoutMs = options.timeoutMs ?? 15_000;
    await new Promise<void>((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearInterval(poll);
        clearTimeout(timer);
        this.events.off('change', check);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        try {
          if (predicate()) finish();
        } catch (error) {
          finish(
            error instanceof Error
              ? error
              : new Error(`waitFor predicate threw ${JSON.stringify(error)}`),
          );
        }
      };
      // The poll covers predicates over state outside this fake (e.g. a workflow's progress).
      const poll = setInterval(check, 25);
      const timer = setTimeout(() => {
        finish(
          new Error(
            `FakeChatwoot.waitFor timed out after ${timeoutMs} ms: ${options.description ?? 'condition never held'} ` +
              `(${this.calls.length} calls, ${this.stored.length} messages, ${this.violations.length} violations)`,
          ),
        );
      }, timeoutMs);
      this.events.on('change', check);
    });
  }

  reset(): void {
    this.calls.length = 0;
    this.violations.length = 0;
    this.stored.length = 0;
    this.storedContacts.length = 0;
    this.conversations.clear();
    this.faults = [];
    this.deliveries.length = 0;
    this.channel = undefined;
    this.tokenOwner = 'AgentBot';
    this.conversationActions.reset();
  }

  async close(): Promise<void> {
    await this.app.close();
  }

  private async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const rawUrl = request.raw.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    const query = Object.fromEntries(
      new URLSearchParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1)),
    );
    const call: RecordedCall = {
      method: request.method,
      path,
      query,
      headers: { ...request.headers },
      body: undefined,
      status: 0,
      at: Date.now(),
    };
    const outcome = await this.process(request, call);
    call.fault = outcome.fault;
    if (outcome.drop) {
      // No response at all: the client sees a reset connection.
      void reply.hijack();
      request.raw.socket.destroy();
    } else {
      call.status = outcome.status;
      void reply
        .code(outcome.status)
        .headers(outcome.headers ?? {})
        .send(outcome.body);
    }
    this.calls.push(call);
    this.events.emit('change');
  }

  /** Route → auth → swagger validation → fault → handler, in the order real Chatwoot would reject. */
  private async process(request: FastifyRequest, call: RecordedCall): Promise<Outcome> {
    const { method, path } = call;
    // Rack::Attack answers before routing and authentication.
    const throttled = this.conversationActions.throttled(path);
    if (throttled) return { ...throttled, fault: 'throttled' };
    const matched = this.validator.match(method, path);
    if (!matched) {
      this.violations.push({
        method,
        path,
        errors: [`no swagger operation for ${method} ${path}`],
      });
      return { status: 404, body: { error: 'Not Found' } };
    }

    const { operation } = matched;
    if (operation.authHeader) {
      const token = request.headers[operation.authHeader];
      const isUser = token === this.userApiAccessToken;
      if (!isUser && token !== this.apiAccessToken) {
        return { status: 401, body: { error: 'Invalid Access Token' } };
      }
      if (!isUser && this.userOnly.has(`${operation.method} ${operation.template}`)) {
        return { status: 401, body: { error: 'You are not authorized to do this action' } };
      }
    }

    const multipart = isMultipart(request.headers['content-type'])
      ? await this.multipartBody(request, matched)
      : undefined;
    const parsed = multipart ?? parseBody(request);
    // A multipart call is recorded with its files' names, types and sizes beside the fields.
    call.body = multipart?.recorded ?? parsed.body;
    if (parsed.error) {
      this.violations.push({ method, path, errors: [parsed.error] });
      return { status: 400, body: { message: parsed.error } };
    }
    const errors = this.validator.validate(matched, call.query, parsed.body);
    if (errors.path.length > 0 || errors.request.length > 0) {
      const all = [...errors.path, ...errors.request];
      this.violations.push({ method, path, errors: all });
      // A non-numeric id never finds a record in Rails: that is a 404, not a 422.
      const status = errors.path.length > 0 ? 404 : 422;
      return {
        status,
        body: { message: `Request does not match ${operation.operationId}`, errors: all },
      };
    }

    const handler = this.handlers.get(`${operation.method} ${operation.template}`);
    if (!handler) {
      // Valid per swagger, but the bridge started using an endpoint this fake does not model.
      const error = `${operation.operationId} is valid but has no handler in FakeChatwoot`;
      this.violations.push({ method, path, errors: [error] });
      return { status: 501, body: { error } };
    }

    const fault = this.takeFault(method, path);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.status) {
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined
          ? {}
          : { 'retry-after': String(fault.retryAfterSeconds) };
      return {
        status: fault.status,
        body: { error: 'Injected fault' },
        headers,
        fault: `status:${fault.status}`,
      };
    }
    if (fault?.drop && !fault.afterApply)
      return { status: 0, body: undefined, drop: true, fault: 'drop' };

    const accountId = Number(matched.pathParams.account_id);
    const conversationId = Number(matched.pathParams.conversation_id);
    const conversationOf = () => this.conversation(accountId, conversationId);
    const outcome = handler({
      get conversation() {
        return conversationOf();
      },
      accountId,
      conversationId,
      pathParams: matched.pathParams,
      query: call.query,
      body: isObject(parsed.body) ? parsed.body : {},
      files: multipart?.files ?? [],
    });
    if (fault?.drop) return { ...outcome, drop: true, fault: fault.label ?? 'drop-after-apply' };
    return fault?.delayMs
      ? { ...outcome, fault: fault.label ?? `delay:${fault.delayMs}ms` }
      : outcome;
  }

  /**
   * A multipart body: only message creates take one (the dashboard's file upload); its fields
   * become the JSON body the swagger describes, its files are kept apart.
   */
  private async multipartBody(
    request: FastifyRequest,
    matched: MatchedOperation,
  ): Promise<{ body: unknown; error?: string; files: UploadedPart[]; recorded?: unknown }> {
    const { operation } = matched;
    if (operation.operationId !== 'create-a-new-message-in-a-conversation') {
      return { body: undefined, files: [], error: `${operation.operationId} takes JSON only` };
    }
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const form = await parseMultipartMessage(raw, request.headers['content-type'] ?? '');
    const recorded = {
      ...form.body,
      'attachments[]': form.files.map((file) => ({
        file_name: file.fileName,
        content_type: file.contentType,
        size: file.bytes.length,
      })),
    };
    const error = form.errors.length > 0 ? form.errors.join('; ') : undefined;
    return { body: form.body, files: form.files, recorded, ...(error ? { error } : {}) };
  }

  /** Faults apply in injection order; each is used up after `count` matching requests. */
  private takeFault(method: string, path: string): ActiveFault | undefined {
    const fault = this.faults.find(
      (f) =>
        (!f.match?.method || f.match.method.toUpperCase() === method) &&
        (!f.match?.pathIncludes || path.includes(f.match.pathIncludes)),
    );
    if (fault && --fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault);
    return fault;
  }

  private conversation(accountId: number, conversationId: number): Conversation {
    const key = `${accountId}:${conversationId}`;
    let conversation = this.conversations.get(key);
    if (!conversation) {
      conversation = { messages: [], typing: [], status: 'pending', statusChanges: [] };
      this.conversations.set(key, conversation);
    }
    return conversation;
  }

  private createMessage({
    conversation,
    accountId,
    conversationId,
    body,
    files,
  }: HandlerContext): Outcome {
    // Attachment validation fails the whole create (`record_invalid`), nothing is saved.
    const refused = files.map(attachmentProblem).filter(Boolean);
    if (refused.length > 0) {
      return { status: 422, body: { message: 'Attachments is invalid', attributes: refused } };
    }
    const refusedRich = this.refusedContent(accountId, conversationId, body);
    if (refusedRich) return refusedRich;
    const message: StoredMessage = {
      id: this.nextMessageId++,
      account_id: accountId,
      conversation_id: conversationId,
      inbox_id: conversation.record?.inbox_id ?? 1,
      content: String(body.content),
      message_type: body.message_type === 'incoming' ? 'incoming' : 'outgoing',
      private: body.private === true,
      // Not in swagger's create payload, but Chatwoot persists it and the bridge relies on that.
      source_id: typeof body.source_id === 'string' ? body.source_id : null,
      content_type: typeof body.content_type === 'string' ? body.content_type : 'text',
      content_attributes: isObject(body.content_attributes) ? body.content_attributes : {},
      created_at: Math.floor(Date.now() / 1000),
      sender_type: body.message_type === 'incoming' ? 'Contact' : this.tokenOwner,
      ...(files.length > 0
        ? {
            attachments: files.map((file) =>
              storeAttachment(file, this.nextAttachmentId++, this.address),
            ),
          }
        : {}),
    };
    // The answer is rendered before Chatwoot's send job runs; the webhook and listings come after.
    const answer = toApiMessage(message);
    this.sendOnChannel(message);
    conversation.messages.push(message);
    this.stored.push(message);
    this.events.emit('message', message);
    return { status: 200, body: answer };
  }

  /** Chatwoot's paging: `after` gives up to 100, `before` and the default the latest 20. */
  private listMessages({ conversation, query }: HandlerContext): Outcome {
    const after = query.after === undefined ? undefined : Number(query.after);
    const before = query.before === undefined ? undefined : Number(query.before);
    const inRange = conversation.messages.filter(
      (m) => (after === undefined || m.id > after) && (before === undefined || m.id < before),
    );
    const page =
      after !== undefined
        ? inRange.slice(0, before === undefined ? 100 : 1000)
        : inRange.slice(-20);
    return { status: 200, body: { meta: {}, payload: page.map(toApiMessage) } };
  }

  private toggleTyping({ conversation, body }: HandlerContext): Outcome {
    conversation.typing.push(body.typing_status === 'on' ? 'on' : 'off');
    return { status: 200, body: {} };
  }

  private toggleStatus({ conversation, conversationId, body }: HandlerContext): Outcome {
    conversation.status = String(body.status);
    conversation.statusChanges.push(conversation.status);
    return {
      status: 200,
      body: {
        meta: {},
        payload: {
          success: true,
          current_status: conversation.status,
          conversation_id: conversationId,
        },
      },
    };
  }

  // -------------------------------------------------------------------------
  // Interactive messages and their answers (sandbox/fakeChatwootContent.ts)

  /** `ContentAttributeValidator` on create: 422 with Chatwoot's messages, recorded as a violation. */
  private refusedContent(
    accountId: number,
    conversationId: number,
    body: Json,
  ): Outcome | undefined {
    const contentType = typeof body.content_type === 'string' ? body.content_type : 'text';
    const attributes = isObject(body.content_attributes) ? body.content_attributes : {};
    const errors = contentAttributeErrors(contentType, attributes);
    if (errors.length === 0) return undefined;
    const path = `/api/v1/accounts/${accountId}/conversations/${conversationId}/messages`;
    this.violations.push({ method: 'POST', path, errors });
    return {
      status: 422,
      body: { message: errors.join(', '), attributes: ['content_attributes'] },
    };
  }

  /**
   * The customer answers an interactive message in the widget: `submitted_values` is stored in
   * its `content_attributes`, beside what was there (the bridge's marker stays). Returns the
   * updated message, whose `message_updated` webhook the caller sends
   * (sandbox/chatwootWebhooks.ts `messageUpdatedPayload`).
   */
  submitValues(
    accountId: number,
    conversationId: number,
    messageId: number,
    submittedValues: SubmittedValues,
  ): StoredMessage {
    const message = this.messages(accountId, conversationId).find((m) => m.id === messageId);
    if (!message) throw new Error(`no message ${messageId} in conversation ${conversationId}`);
    message.content_attributes = {
      ...message.content_attributes,
      submitted_values: submittedValues,
    };
    this.events.emit('change');
    return message;
  }

  // -------------------------------------------------------------------------
  // Contacts and API-created conversations (proactive messages)

  /** Chatwoot's search: a substring of name, email or phone (any case), identifier, or the id. */
  private searchContacts({ accountId, query }: HandlerContext): Outcome {
    const q = (query.q ?? '').trim();
    if (!q) return { status: 422, body: { error: 'Specify search string with parameter q' } };
    const lower = q.toLowerCase();
    const page = Math.max(1, Number(query.page ?? 1) || 1);
    const found = this.contacts(accountId).filter(
      (c) =>
        c.name.toLowerCase().includes(lower) ||
        (c.email ?? '').toLowerCase().includes(lower) ||
        (c.phone_number ?? '').toLowerCase().includes(lower) ||
        (c.identifier ?? '').includes(q) ||
        (/^\d+$/.test(q) && c.id === Number(q)),
    );
    const slice = found.slice(
      (page - 1) * CONTACT_SEARCH_PAGE_SIZE,
      page * CONTACT_SEARCH_PAGE_SIZE,
    );
    return {
      status: 200,
      body: {
        meta: { count: found.length, current_page: page },
        payload: slice.map((c) => this.toApiContact(c)),
      },
    };
  }

  /** Like Chatwoot: unknown inbox → 404 and nothing saved; a taken email etc. → 422. */
  private createContact({ accountId, body }: HandlerContext): Outcome {
    const inboxId = body.inbox_id === undefined ? undefined : Number(body.inbox_id);
    if (inboxId !== undefined && !this.inboxIds.has(inboxId)) return notFound();
    const fields = {
      name: optionalString(body.name),
      email: optionalString(body.email)?.toLowerCase(),
      phone_number: optionalString(body.phone_number),
      identifier: optionalString(body.identifier),
    };
    for (const key of ['email', 'phone_number', 'identifier'] as const) {
      const value = fields[key];
      if (value && this.contacts(accountId).some((c) => c[key] === value)) {
        const label =
          key === 'phone_number' ? 'Phone number' : key[0]!.toUpperCase() + key.slice(1);
        return {
          status: 422,
          body: { message: `${label} has already been taken`, attributes: [key] },
        };
      }
    }
    const contact = this.storeContact(accountId, fields);
    const link = inboxId === undefined ? undefined : this.linkContact(contact, inboxId);
    // Chatwoot's view (contacts/create.json.jbuilder), which differs from its swagger schema.
    return {
      status: 200,
      body: {
        payload: {
          contact: this.toApiContact(contact),
          contact_inbox: {
            inbox: link ? apiInbox(link.inbox_id) : null,
            source_id: link?.source_id ?? null,
          },
        },
      },
    };
  }

  private createContactInbox({ accountId, pathParams, body }: HandlerContext): Outcome {
    const contact = this.findContact(accountId, Number(pathParams.id));
    const inboxId = Number(body.inbox_id);
    if (!contact || !this.inboxIds.has(inboxId)) return notFound();
    const link = this.linkContact(contact, inboxId, optionalString(body.source_id));
    return { status: 200, body: { source_id: link.source_id, inbox: apiInbox(inboxId) } };
  }

  private contactConversations({ accountId, pathParams }: HandlerContext): Outcome {
    const contactId = Number(pathParams.id);
    if (!this.findContact(accountId, contactId)) return notFound();
    const payload = this.createdConversations(accountId)
      .filter((record) => record.contact_id === contactId)
      .map((record) => this.toApiConversation(record));
    return { status: 200, body: { payload } };
  }

  /** Needs the contact's `source_id` in that inbox, like Chatwoot's conversation builder. */
  private createConversation({ accountId, body }: HandlerContext): Outcome {
    const inboxId = body.inbox_id === undefined ? undefined : Number(body.inbox_id);
    const contactId = body.contact_id === undefined ? undefined : Number(body.contact_id);
    if (inboxId !== undefined && !this.inboxIds.has(inboxId)) return notFound();
    if (contactId !== undefined && !this.findContact(accountId, contactId)) return notFound();
    const sourceId = String(body.source_id);
    const owner = this.contacts(accountId).find((c) =>
      c.contact_inboxes.some(
        (link) =>
          link.source_id === sourceId && (inboxId === undefined || link.inbox_id === inboxId),
      ),
    );
    const link = owner?.contact_inboxes.find((l) => l.source_id === sourceId);
    if (!owner || !link) return notFound();
    let id = this.nextConversationId++;
    while (this.conversations.has(`${accountId}:${id}`)) id = this.nextConversationId++;
    const record: StoredConversation = {
      id,
      account_id: accountId,
      inbox_id: link.inbox_id,
      contact_id: owner.id,
      source_id: sourceId,
      status: typeof body.status === 'string' ? body.status : 'open',
      created_at: Math.floor(Date.now() / 1000),
    };
    const conversation = this.conversation(accountId, id);
    conversation.record = record;
    conversation.status = record.status;
    return { status: 200, body: this.toApiConversation(record) };
  }

  private storeContact(
    accountId: number,
    fields: Partial<Pick<StoredContact, 'name' | 'email' | 'phone_number' | 'identifier'>>,
  ): StoredContact {
    const contact: StoredContact = {
      id: this.nextContactId++,
      account_id: accountId,
      name: fields.name ?? fields.email ?? fields.phone_number ?? fields.identifier ?? 'Contact',
      email: fields.email ?? null,
      phone_number: fields.phone_number ?? null,
      identifier: fields.identifier ?? null,
      contact_inboxes: [],
      created_at: Math.floor(Date.now() / 1000),
    };
    this.storedContacts.push(contact);
    return contact;
  }

  /** One link per contact and inbox, as Chatwoot's ContactInboxBuilder keeps it. */
  private linkContact(
    contact: StoredContact,
    inboxId: number,
    sourceId?: string,
  ): StoredContact['contact_inboxes'][number] {
    const existing = contact.contact_inboxes.find((link) => link.inbox_id === inboxId);
    if (existing) return existing;
    const link = { source_id: sourceId ?? randomUUID(), inbox_id: inboxId };
    contact.contact_inboxes.push(link);
    return link;
  }

  private findContact(accountId: number, contactId: number): StoredContact | undefined {
    return this.contacts(accountId).find((c) => c.id === contactId);
  }

  private toApiContact(contact: StoredContact): Json {
    return {
      id: contact.id,
      name: contact.name,
      email: contact.email,
      phone_number: contact.phone_number,
      identifier: contact.identifier,
      availability_status: 'offline',
      thumbnail: '',
      additional_attributes: {},
      custom_attributes: {},
      last_activity_at: null,
      created_at: contact.created_at,
      contact_inboxes: contact.contact_inboxes.map((link) => ({
        source_id: link.source_id,
        inbox: apiInbox(link.inbox_id),
      })),
    };
  }

  private toApiConversation(record: StoredConversation): Json {
    const conversation = this.conversations.get(`${record.account_id}:${record.id}`);
    const last = conversation?.messages.at(-1);
    return {
      id: record.id,
      account_id: record.account_id,
      inbox_id: record.inbox_id,
      status: conversation?.status ?? record.status,
      contact_inbox: { source_id: record.source_id },
      messages: [],
      timestamp: last?.created_at ?? record.created_at,
      last_activity_at: last?.created_at ?? record.created_at,
      created_at: record.created_at,
      unread_count: 0,
      additional_attributes: {},
      custom_attributes: {},
      labels: [],
    };
  }

  // -------------------------------------------------------------------------
  // Conversation listing and agent-bot webhook failures (catch-up)

  /**
   * Seeds a conversation the listing shows. A new conversation in an agent-bot inbox is pending
   * (the bot has it); `typedAssignee` renders Chatwoot 4.16+'s `meta.assignee_type`.
   */
  seedConversation(
    accountId: number,
    conversationId: number,
    options: {
      inboxId?: number;
      contact?: Partial<ListedContact>;
      status?: string;
      assignee?: ListedAssignee;
      typedAssignee?: boolean;
      labels?: string[];
    } = {},
  ): void {
    const conversation = this.conversation(accountId, conversationId);
    conversation.status = options.status ?? conversation.status;
    conversation.listing = {
      accountId,
      conversationId,
      inboxId: options.inboxId ?? conversation.listing?.inboxId ?? 1,
      contact: {
        id: options.contact?.id ?? 1_000 + conversationId,
        // The same contact the webhook fixtures (chatwootWebhooks.ts) name.
        name: options.contact?.name ?? `Customer ${1_000 + conversationId}`,
        email: options.contact?.email ?? null,
        phone_number: options.contact?.phone_number ?? null,
      },
      ...(options.assignee ? { assignee: options.assignee } : {}),
      typedAssignee: options.typedAssignee ?? false,
      createdAt: Math.floor(Date.now() / 1000),
      labels: options.labels ?? [],
    };
    this.events.emit('change');
  }

  /**
   * A customer writes: stored as Chatwoot stores it before it sends the webhook (which the test
   * then sends, or not). `createdAt` (unix seconds) backdates it.
   */
  addCustomerMessage(
    accountId: number,
    conversationId: number,
    content: string,
    options: { createdAt?: number } = {},
  ): StoredMessage {
    const conversation = this.conversation(accountId, conversationId);
    if (!conversation.listing) this.seedConversation(accountId, conversationId);
    const contact = conversation.listing!.contact;
    return this.addSeeded(accountId, conversationId, {
      content,
      message_type: 'incoming',
      sender_type: 'Contact',
      sender: { ...contact },
      ...(options.createdAt !== undefined ? { created_at: options.createdAt } : {}),
    });
  }

  /**
   * The agent bot's webhook for this message failed for good (refused, reset, timed out, a
   * status other than 429/500, or three failed tries): like `Webhooks::ErrorHandler`, the message
   * is marked failed and a pending conversation is opened with Chatwoot's activity message,
   * unless the account keeps conversations pending on bot failure.
   */
  failWebhook(
    accountId: number,
    messageId: number,
    options: { keepPendingOnBotFailure?: boolean } = {},
  ): void {
    const message = this.stored.find((m) => m.id === messageId && m.account_id === accountId);
    if (!message) throw new Error(`failWebhook: no message ${messageId} in account ${accountId}`);
    message.status = 'failed';
    const conversation = this.conversation(accountId, message.conversation_id);
    if (conversation.status !== 'pending' || options.keepPendingOnBotFailure) return;
    conversation.status = 'open';
    conversation.statusChanges.push('open');
    this.addSeeded(accountId, message.conversation_id, {
      content: AGENT_BOT_ERROR_ACTIVITY,
      message_type: 'activity',
    });
  }

  /** A human agent replies in public; as in Chatwoot 4.16+, that opens a bot-held conversation. */
  addHumanReply(
    accountId: number,
    conversationId: number,
    content: string,
    agent: { id: number; name: string } = { id: 3, name: 'Agent Smith' },
  ): StoredMessage {
    const conversation = this.conversation(accountId, conversationId);
    if (conversation.status === 'pending') conversation.status = 'open';
    // 4.16+: the reply clears the bot owner (it does not assign the replier).
    if (conversation.listing?.assignee && conversation.listing.assignee.type !== 'User') {
      delete conversation.listing.assignee;
    }
    return this.addSeeded(accountId, conversationId, {
      content,
      message_type: 'outgoing',
      sender_type: 'User',
      sender: { ...agent },
    });
  }

  /** A human assigns the conversation (Chatwoot writes an activity message for it). */
  assignConversation(
    accountId: number,
    conversationId: number,
    assignee: ListedAssignee | null,
    by = 'Agent Smith',
  ): void {
    const conversation = this.conversation(accountId, conversationId);
    if (!conversation.listing) this.seedConversation(accountId, conversationId);
    if (assignee) conversation.listing!.assignee = assignee;
    else delete conversation.listing!.assignee;
    this.addSeeded(accountId, conversationId, {
      content: assignee
        ? `Assigned to ${assignee.name} by ${by}`
        : `Conversation unassigned by ${by}`,
      message_type: 'activity',
    });
  }

  /** A human changes the status in Chatwoot's UI (with its activity message). */
  changeStatusByHuman(
    accountId: number,
    conversationId: number,
    status: string,
    by = 'Agent Smith',
  ): void {
    const conversation = this.conversation(accountId, conversationId);
    conversation.status = status;
    conversation.statusChanges.push(status);
    this.addSeeded(accountId, conversationId, {
      content: `Conversation was marked ${status} by ${by}`,
      message_type: 'activity',
    });
  }

  private addSeeded(
    accountId: number,
    conversationId: number,
    fields: Partial<StoredMessage> & Pick<StoredMessage, 'content' | 'message_type'>,
  ): StoredMessage {
    const conversation = this.conversation(accountId, conversationId);
    const message: StoredMessage = {
      id: this.nextMessageId++,
      account_id: accountId,
      conversation_id: conversationId,
      inbox_id: conversation.listing?.inboxId ?? conversation.record?.inbox_id ?? 1,
      private: false,
      source_id: null,
      content_type: 'text',
      content_attributes: {},
      created_at: Math.floor(Date.now() / 1000),
      ...fields,
    };
    conversation.messages.push(message);
    this.stored.push(message);
    this.events.emit('change');
    return message;
  }

  /** `GET /conversations`: like `ConversationFinder`, newest activity first, 25 a page. */
  private listConversations({ accountId, query }: HandlerContext): Outcome {
    const listed = [...this.conversations.values()]
      .map((conversation) => ({ conversation, listing: this.listingOf(conversation) }))
      .filter(
        (entry): entry is { conversation: Conversation; listing: ConversationListing } =>
          entry.listing?.accountId === accountId,
      )
      .map((entry) => ({ ...entry, status: entry.conversation.status }));
    const { page, counts } = filterConversations(
      listed,
      {
        status: query.status,
        inboxId: query.inbox_id === undefined ? undefined : Number(query.inbox_id),
        assigneeType: query.assignee_type,
        page: Math.max(1, Number(query.page ?? 1) || 1),
      },
      (entry) => this.lastActivityAt(entry.conversation, entry.listing),
    );
    const payload = page.map((entry) => {
      const last = entry.conversation.messages.at(-1);
      return toListedConversation(
        entry.listing,
        entry.status,
        this.lastActivityAt(entry.conversation, entry.listing),
        last ? toApiMessage(last) : undefined,
      );
    });
    return { status: 200, body: { data: { meta: counts, payload } } };
  }

  /** Seeded conversations, and those created through the API (proactive messages). */
  private listingOf(conversation: Conversation): ConversationListing | undefined {
    if (conversation.listing) return conversation.listing;
    const record = conversation.record;
    if (!record) return undefined;
    const contact = this.findContact(record.account_id, record.contact_id);
    return {
      accountId: record.account_id,
      conversationId: record.id,
      inboxId: record.inbox_id,
      contact: {
        id: record.contact_id,
        name: contact?.name ?? 'Contact',
        email: contact?.email ?? null,
        phone_number: contact?.phone_number ?? null,
      },
      typedAssignee: false,
      createdAt: record.created_at,
      labels: [],
    };
  }

  private lastActivityAt(conversation: Conversation, listing: ConversationListing): number {
    return Math.max(listing.createdAt, ...conversation.messages.map((m) => m.created_at));
  }
}

/** A message id in the provider's own format (Twilio SID, WhatsApp `wamid`, Meta `m_`…). */
function providerMessageId(kind: ChannelKind): string {
  const hex = randomUUID().replace(/-/g, '');
  switch (kind) {
    case 'twilio_sms':
    case 'twilio_whatsapp':
      return `SM${hex}`;
    case 'whatsapp_cloud':
      return `wamid.${Buffer.from(hex).toString('base64')}`;
    case 'facebook':
    case 'instagram':
      return `m_${hex}`;
    case 'tiktok':
      return `tt-${hex}`;
  }
}

/** Chatwoot's answer to a record it cannot find (RecordNotFound). */
function notFound(): Outcome {
  return { status: 404, body: { error: 'Resource could not be found' } };
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** The slice of Chatwoot's inbox view the bridge reads. */
function apiInbox(inboxId: number): Json {
  return {
    id: inboxId,
    name: `Inbox ${inboxId}`,
    channel_type: 'Channel::Api',
    channel_id: inboxId,
    avatar_url: '',
  };
}

function parseBody(request: FastifyRequest): { body: unknown; error?: string } {
  const raw = request.body;
  if (typeof raw !== 'string' || raw === '') return { body: undefined };
  if (!/\bjson\b/i.test(request.headers['content-type'] ?? '')) return { body: raw };
  try {
    return { body: JSON.parse(raw) as unknown };
  } catch (error) {
    return { body: raw, error: `body is not valid JSON: ${(error as Error).message}` };
  }
}

/** The API renders `message_type` as its integer code, unlike webhooks which use the name. */
function toApiMessage(message: StoredMessage): Json {
  const sent = message.message_type !== 'incoming' && message.message_type !== 'activity';
  return {
    ...message,
    message_type: MESSAGE_TYPE_CODES[message.message_type],
    updated_at: message.created_at,
    processed_message_content: message.content,
    sender_type:
      message.sender_type !== undefined
        ? message.sender_type
        : sent
          ? 'AgentBot'
          : message.message_type === 'incoming'
            ? 'Contact'
            : null,
    sender_id: message.sender?.id ?? (message.message_type === 'activity' ? null : 1),
    status: message.status ?? 'sent',
    additional_attributes: {},
    external_source_ids: {},
    ...(message.attachments
      ? { attachments: message.attachments.map((file) => apiAttachment(file, message)) }
      : {}),
  };
}

// `tsx sandbox/fakeChatwoot.ts` runs it standalone for the demo and manual poking.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const fake = await FakeChatwoot.start({
    port: Number(process.env.PORT ?? 3000),
    host: process.env.HOST,
    apiAccessToken: process.env.CHATWOOT_API_ACCESS_TOKEN,
  });
  console.log(`Fake Chatwoot listening on ${fake.url}`);
  const stop = (): void => void fake.close().then(() => process.exit(0));
  process.once('SIGINT', stop).once('SIGTERM', stop);
}
