/**
 * `npm run fuzz [-- --cases N --seed S --concurrency C]`: a seeded fuzz run against the real
 * bridge as `npm start` runs it (one child process: embedded Temporal dev server, worker and
 * API), with the sandbox's fake Chatwoot and a mock agent. Every door gets valid, mutated,
 * forged, oversized and deeply nested requests. Reported: answers ≥ 500, crashes, the bridge's
 * RSS over time, message workflows started against the valid routed messages sent, and whether
 * any configured secret appears in what the bridge wrote.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import fc from 'fast-check';
import { messageCreatedPayload, signWebhook } from '../sandbox/chatwootWebhooks.js';
import { FakeChatwoot } from '../sandbox/fakeChatwoot.js';
import {
  conversationStateQuery,
  MESSAGE_DELIVERY_TYPES,
  messageWorkflowId,
} from '../workflows/shared.js';
import { startMockAgent } from '../sandbox/mockAgents.js';

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Use this Temporal server instead of the embedded one (the vitest version). */
  temporalAddress?: string;
  /** A prebuilt workflow bundle (the vitest version). */
  workflowBundlePath?: string;
  /** Progress lines on stderr. */
  verbose?: boolean;
  /** Stop sending new cases after this long (a busy machine); the report says how many ran. */
  maxMinutes?: number;
}

export interface FuzzReport {
  cases: number;
  seed: number;
  durationMs: number;
  /** Answers per request kind and status. */
  statuses: Record<string, Record<number, number>>;
  /** Answers ≥ 500, by kind and status (Temporal stayed up throughout). */
  serverErrors: Array<{ kind: string; status: number; count: number }>;
  /** Requests that got no HTTP answer at all (connection reset, timeout). */
  noAnswer: number;
  /** Why, by kind: the first words of the error, with counts. */
  noAnswerReasons: Record<string, number>;
  /** Valid requests answered otherwise than expected (401/429 for a correct key or signature…). */
  unexpected: Array<{ kind: string; status: number; count: number }>;
  crashed: boolean;
  exitCode: number | null;
  rssMiB: { samples: number[]; first: number; max: number; last: number };
  /** Distinct valid, routed customer messages sent (duplicates counted once). */
  validRoutedMessages: number;
  /** Message workflows no accepted valid message asked for (first 20). */
  extraWorkflows: string[];
  /** Accepted valid messages without their workflow (first 20). */
  missingWorkflows: string[];
  /** Deeply nested (but otherwise valid, routed) messages the bridge accepted with 2xx. */
  nestedAccepted: number;
  messageWorkflowsStarted: number;
  /**
   * Distinct customer messages the conversation actors took in (their `messagesReceived`): equal
   * to the valid routed messages sent when none was lost or doubled, even while a backlog of
   * turns (one at a time per conversation) has not started every delivery yet.
   */
  messagesInActors: number;
  /** Configured secrets found in the bridge's stdout/stderr (names only). */
  secretsInLog: string[];
  logBytes: number;
}

const SECRETS = {
  webhookSecret: 'fuzz-webhook-secret-0123456789',
  chatwootToken: 'fuzz-chatwoot-token-0123456789',
  apiKey: 'fuzz-proactive-key-0123456789ab',
  operatorKey: 'fuzz-operator-key-0123456789abc',
  metricsKey: 'fuzz-metrics-key-0123456789abcd',
  pullKey: 'fuzz-pull-agent-key-0123456789a',
  aiwmSecret: 'fuzz-aiwm-secret-0123456789abcd',
};
const ROUTED_INBOX = 7;
const UNROUTED_INBOX = 999;
const ACCOUNT = 1;
const MAX_BODY_BYTES = 65_536;
const CONVERSATIONS = 40;
/** Conversations of everything but valid messages, apart from the routed ones. */
const OTHER_CONVERSATIONS = 100_000;

type Kind =
  | 'valid'
  | 'validByToken'
  | 'duplicate'
  | 'mutatedKeptSignature'
  | 'mutatedResigned'
  | 'forged'
  | 'wrongToken'
  | 'oversized'
  | 'deeplyNested'
  | 'emptyBody'
  | 'notJson'
  | 'wrongContentType'
  | 'invalidUtf8'
  | 'conversationEvent'
  | 'proactive'
  | 'proactiveMutated'
  | 'wrongKey'
  | 'pullPoll'
  | 'pullPost'
  | 'operator'
  | 'metrics'
  | 'health'
  | 'randomPath';

/** A case as generated: which kind, plus the random parts the request is built from. */
interface Case {
  kind: Kind;
  conversation: number;
  mutations: Array<{ path: string[]; value: unknown; remove: boolean }>;
  junk: unknown;
  depth: number;
  pick: number;
  text: string;
}

const pathArb = fc.array(
  fc.oneof(
    fc.constantFrom('content', 'id', 'account', 'inbox', 'conversation', 'sender', 'message_type'),
    fc.constantFrom('attachments', 'private', 'source_id', 'event', 'created_at', '0', 'type'),
    fc.string({ maxLength: 8 }),
  ),
  { minLength: 1, maxLength: 4 },
);

const caseArb: fc.Arbitrary<Case> = fc.record({
  kind: fc.oneof(
    { weight: 12, arbitrary: fc.constant<Kind>('valid') },
    { weight: 3, arbitrary: fc.constant<Kind>('validByToken') },
    { weight: 3, arbitrary: fc.constant<Kind>('duplicate') },
    { weight: 10, arbitrary: fc.constant<Kind>('mutatedKeptSignature') },
    { weight: 12, arbitrary: fc.constant<Kind>('mutatedResigned') },
    { weight: 6, arbitrary: fc.constant<Kind>('forged') },
    { weight: 3, arbitrary: fc.constant<Kind>('wrongToken') },
    { weight: 1, arbitrary: fc.constant<Kind>('oversized') },
    { weight: 2, arbitrary: fc.constant<Kind>('deeplyNested') },
    { weight: 2, arbitrary: fc.constant<Kind>('emptyBody') },
    { weight: 3, arbitrary: fc.constant<Kind>('notJson') },
    { weight: 2, arbitrary: fc.constant<Kind>('wrongContentType') },
    { weight: 2, arbitrary: fc.constant<Kind>('invalidUtf8') },
    { weight: 4, arbitrary: fc.constant<Kind>('conversationEvent') },
    { weight: 1, arbitrary: fc.constant<Kind>('proactive') },
    { weight: 4, arbitrary: fc.constant<Kind>('proactiveMutated') },
    { weight: 6, arbitrary: fc.constant<Kind>('wrongKey') },
    { weight: 2, arbitrary: fc.constant<Kind>('pullPoll') },
    { weight: 4, arbitrary: fc.constant<Kind>('pullPost') },
    { weight: 1, arbitrary: fc.constant<Kind>('operator') },
    { weight: 2, arbitrary: fc.constant<Kind>('metrics') },
    { weight: 2, arbitrary: fc.constant<Kind>('health') },
    { weight: 3, arbitrary: fc.constant<Kind>('randomPath') },
  ),
  conversation: fc.integer({ min: 1, max: CONVERSATIONS }),
  mutations: fc.array(
    fc.record({
      path: pathArb,
      value: fc.oneof(
        fc.jsonValue({ maxDepth: 3 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.constantFrom(null, -1, 0, 2 ** 53, 1e308, '', [], {}, true),
      ),
      remove: fc.boolean(),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  junk: fc.jsonValue({ maxDepth: 4 }),
  depth: fc.integer({ min: 200, max: 6_000 }),
  pick: fc.nat({ max: 1_000_000 }),
  text: fc.string({ unit: 'grapheme', maxLength: 60 }),
});

interface Request {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** The message workflow a 2xx answer must lead to (valid, routed customer messages). */
  workflowId?: string;
}

/** Builds the HTTP request of a case; `valid` ids are recorded for the workflow count. */
class RequestBuilder {
  #nextMessageId = 1_000_000;
  readonly #sentBodies: string[] = [];
  /** The kind of case each routed message was built for, to name the source of a stray workflow. */
  readonly kindOf = new Map<string, Kind>();
  /** Every distinct valid, routed customer message built. */
  readonly validWorkflowIds = new Set<string>();

  build(fuzz: Case): Request {
    const json = { 'content-type': 'application/json' };
    const webhook = (body: string, headers: Record<string, string>, query = ''): Request => ({
      method: 'POST',
      path: `/webhook/chatwoot${query}`,
      headers: { ...json, ...headers },
      body,
    });
    const message = (inboxId: number, extra: Record<string, unknown> = {}) => {
      const id = (this.#nextMessageId += 1);
      const payload = messageCreatedPayload({
        accountId: ACCOUNT,
        messageId: id,
        inboxId,
        conversationId:
          inboxId === ROUTED_INBOX ? fuzz.conversation : OTHER_CONVERSATIONS + fuzz.conversation,
        content: fuzz.text.trim() ? fuzz.text : 'hello',
      });
      if (inboxId === ROUTED_INBOX) {
        this.kindOf.set(messageWorkflowId(ACCOUNT, fuzz.conversation, id), fuzz.kind);
      }
      return { id, payload: { ...payload, ...extra } as Record<string, unknown> };
    };
    const signed = (body: string) => signWebhook(body, SECRETS.webhookSecret);
    const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

    switch (fuzz.kind) {
      case 'valid':
      case 'validByToken': {
        const { id, payload } = message(ROUTED_INBOX);
        const body = JSON.stringify(payload);
        this.#sentBodies.push(body);
        if (this.#sentBodies.length > 200) this.#sentBodies.shift();
        const workflowId = messageWorkflowId(ACCOUNT, fuzz.conversation, id);
        this.validWorkflowIds.add(workflowId);
        return fuzz.kind === 'valid'
          ? { ...webhook(body, signed(body)), workflowId }
          : {
              ...webhook(body, {}, `?token=${encodeURIComponent(SECRETS.webhookSecret)}`),
              workflowId,
            };
      }
      case 'duplicate': {
        const body = this.#sentBodies[fuzz.pick % Math.max(1, this.#sentBodies.length)];
        if (!body) return this.build({ ...fuzz, kind: 'valid' });
        return webhook(body, signed(body));
      }
      case 'mutatedKeptSignature': {
        const { payload } = message(ROUTED_INBOX);
        const original = JSON.stringify(payload);
        const body = JSON.stringify(mutate(payload, fuzz.mutations));
        // Signed over the original: any change must fail the check.
        return webhook(body === original ? `${body} ` : body, signed(original));
      }
      case 'mutatedResigned': {
        // Correctly signed but not routed: whatever it becomes, no workflow may start.
        const { payload } = message(UNROUTED_INBOX);
        const mutated = mutate(payload, fuzz.mutations);
        unroute(mutated);
        const body = JSON.stringify(mutated);
        return webhook(body, signed(body));
      }
      case 'forged': {
        const { payload } = message(ROUTED_INBOX);
        const body = JSON.stringify(payload);
        const variants = [
          signWebhook(body, 'not-the-secret'),
          signWebhook(body, SECRETS.webhookSecret, Math.floor(Date.now() / 1000) - 3_600),
          { 'x-chatwoot-signature': 'sha256=zz', 'x-chatwoot-timestamp': '1' },
          { 'x-chatwoot-signature': `sha256=${'0'.repeat(64)}`, 'x-chatwoot-timestamp': 'now' },
          {},
        ];
        return webhook(body, variants[fuzz.pick % variants.length] as Record<string, string>);
      }
      case 'wrongToken': {
        const { payload } = message(ROUTED_INBOX);
        const guess = fuzz.text || SECRETS.webhookSecret.slice(0, -1);
        return webhook(JSON.stringify(payload), {}, `?token=${encodeURIComponent(guess)}`);
      }
      case 'oversized': {
        const { payload } = message(ROUTED_INBOX);
        const body = JSON.stringify({ ...payload, content: 'x'.repeat(MAX_BODY_BYTES + 1) });
        return webhook(body, signed(body));
      }
      case 'deeplyNested': {
        // Valid and routed, with an extra key nested thousands of levels deep (issue 11).
        const { id, payload } = message(ROUTED_INBOX);
        // Written as text: serialising that deep an object would overflow the stack here.
        const nested = `${'{"a":'.repeat(fuzz.depth)}"deep"${'}'.repeat(fuzz.depth)}`;
        const attachment = `[{"file_type":"file","data_url":"http://x/y","extra":${nested}}]`;
        const body = JSON.stringify({ ...payload, attachments: [] }).replace(
          '"attachments":[]',
          `"attachments":${attachment}`,
        );
        return {
          ...webhook(body, signed(body)),
          workflowId: messageWorkflowId(ACCOUNT, fuzz.conversation, id),
        };
      }
      case 'emptyBody':
        return webhook('', fuzz.pick % 2 ? signed('') : {});
      case 'notJson': {
        const bodies = ['{', '[1,2', 'null', '"text"', '12', '[]', JSON.stringify(fuzz.junk)];
        const body = bodies[fuzz.pick % bodies.length] as string;
        return webhook(body, signed(body));
      }
      case 'wrongContentType': {
        const { payload } = message(ROUTED_INBOX);
        const body = JSON.stringify(payload);
        const type = [
          'text/plain',
          'application/xml',
          'multipart/form-data',
          'application/x-www-form-urlencoded',
        ][fuzz.pick % 4] as string;
        return {
          ...webhook(body, signed(body)),
          headers: { 'content-type': type, ...signed(body) },
        };
      }
      case 'invalidUtf8': {
        const body = Buffer.concat([
          Buffer.from('{"event":"message_created","content":"'),
          Buffer.from([0xff, 0xfe, 0xc3]),
          Buffer.from('"}'),
        ]);
        return webhook(body as unknown as string, signed(body.toString('latin1')));
      }
      case 'conversationEvent': {
        const events = [
          'conversation_status_changed',
          'conversation_updated',
          'conversation_created',
          'webwidget_triggered',
          'message_updated',
        ];
        const body = JSON.stringify({
          event: events[fuzz.pick % events.length],
          id: OTHER_CONVERSATIONS + fuzz.conversation,
          inbox_id: UNROUTED_INBOX,
          account: { id: ACCOUNT },
          status: 'open',
          junk: fuzz.junk,
        });
        return webhook(body, signed(body));
      }
      case 'proactive':
        return {
          method: 'POST',
          path: '/api/v1/messages',
          headers: { ...json, ...bearer(SECRETS.apiKey), 'idempotency-key': `fuzz-${fuzz.pick}` },
          body: JSON.stringify({
            accountId: ACCOUNT,
            conversationId: fuzz.conversation,
            content: 'news',
          }),
        };
      case 'proactiveMutated':
        return {
          method: 'POST',
          path: '/api/v1/messages',
          headers: { ...json, ...bearer(SECRETS.apiKey) },
          body: JSON.stringify(
            mutate(
              { accountId: ACCOUNT, conversationId: fuzz.conversation, content: 'x' },
              fuzz.mutations,
            ),
          ),
        };
      case 'wrongKey': {
        const doors: Array<[string, string]> = [
          ['POST', '/api/v1/messages'],
          ['POST', '/api/v1/agents/reload'],
          ['GET', '/agents/status'],
          ['GET', '/api/v1/agents/test/echo'],
          ['GET', '/api/v1/agents/puller/inbox?wait=0'],
          ['POST', '/api/v1/agents/puller/outbox'],
          ['GET', '/metrics'],
        ];
        const [method, path] = doors[fuzz.pick % doors.length] as [string, string];
        const keys = [
          '',
          'Bearer',
          `Bearer ${headerSafe(fuzz.text)}`,
          `Bearer ${SECRETS.apiKey}x`,
          `Basic ${SECRETS.operatorKey}`,
        ];
        const authorization = keys[fuzz.pick % keys.length] as string;
        return {
          method,
          path,
          headers: { ...json, ...(authorization ? { authorization } : {}) },
          ...(method === 'POST' ? { body: '{}' } : {}),
        };
      }
      case 'pullPoll': {
        const queries = [
          'wait=0',
          'wait=0&limit=1',
          'wait=-1',
          'limit=1000',
          'wait=abc',
          `wait=0&x=${encodeURIComponent(fuzz.text)}`,
        ];
        return {
          method: 'GET',
          path: `/api/v1/agents/puller/inbox?${queries[fuzz.pick % queries.length]}`,
          headers: bearer(SECRETS.pullKey),
        };
      }
      case 'pullPost':
        return {
          method: 'POST',
          path: '/api/v1/agents/puller/outbox',
          headers: { ...json, ...bearer(SECRETS.pullKey) },
          body: JSON.stringify(
            mutate(
              { message_id: `message:1:1:${fuzz.pick}`, content: 'x', final: true },
              fuzz.mutations,
            ),
          ),
        };
      case 'operator': {
        const paths = ['/api/v1/agents/test/nobody', '/api/v1/agents/test/echo?content='];
        return {
          method: 'GET',
          path: paths[fuzz.pick % paths.length] as string,
          headers: bearer(SECRETS.operatorKey),
        };
      }
      case 'metrics':
        return { method: 'GET', path: '/metrics', headers: bearer(SECRETS.metricsKey) };
      case 'health':
        return { method: 'GET', path: fuzz.pick % 2 ? '/health' : '/ready', headers: {} };
      case 'randomPath':
        return {
          method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'][fuzz.pick % 5] as string,
          path: `/${encodeURIComponent(fuzz.text)}?token=${SECRETS.webhookSecret}`,
          headers: json,
          body: JSON.stringify(fuzz.junk),
        };
    }
  }
}

/** Any text as a header value can carry it: its UTF-8 bytes as Latin-1, no control characters. */
function headerSafe(text: string): string {
  return [...Buffer.from(text).toString('latin1')]
    .filter((char) => char.charCodeAt(0) >= 0x20 && char.charCodeAt(0) !== 0x7f)
    .join('');
}

/** Sets or removes values at paths (creating objects on the way); never throws. */
function mutate(
  value: Record<string, unknown>,
  mutations: Case['mutations'],
): Record<string, unknown> {
  const root = structuredClone(value);
  for (const { path, value: next, remove } of mutations) {
    let node: Record<string, unknown> = root;
    for (const key of path.slice(0, -1)) {
      const child = node[key];
      if (typeof child !== 'object' || child === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    const last = path.at(-1) as string;
    if (remove) delete node[last];
    else node[last] = next;
  }
  return root;
}

/** Points every inbox a mutated payload may name at the unrouted inbox. */
function unroute(payload: Record<string, unknown>): void {
  const inbox = payload.inbox;
  if (typeof inbox === 'object' && inbox !== null)
    (inbox as Record<string, unknown>).id = UNROUTED_INBOX;
  const conversation = payload.conversation;
  if (typeof conversation === 'object' && conversation !== null) {
    (conversation as Record<string, unknown>).inbox_id = UNROUTED_INBOX;
    // Nor may it reach a routed conversation's actor (a mutation may make it a human's reply).
    (conversation as Record<string, unknown>).id = OTHER_CONVERSATIONS;
  }
}

/** Which answers are wrong for a kind whatever else happens (≥ 500 is counted separately). */
function isUnexpected(kind: Kind, status: number): boolean {
  switch (kind) {
    case 'valid':
    case 'validByToken':
    case 'duplicate':
      return status !== 200;
    case 'mutatedKeptSignature':
    case 'forged':
    case 'wrongToken':
      return status !== 401 && status !== 429;
    case 'oversized':
      return status !== 413 && status !== 429;
    case 'wrongContentType':
      return status !== 415;
    case 'wrongKey':
      return status !== 401 && status !== 429 && status !== 400;
    case 'metrics':
    case 'pullPoll':
      return status === 401 || status === 429;
    default:
      return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

function rssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb ? Math.round(Number(kb) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one fuzz campaign against a fresh `npm start` and reports what it saw. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const log = (line: string) => options.verbose && process.stderr.write(`${line}\n`);
  const chatwoot = await FakeChatwoot.start({ apiAccessToken: SECRETS.chatwootToken });
  const agents = await startMockAgent();
  const dir = mkdtempSync(join(tmpdir(), 'bridge-fuzz-'));
  const [httpPort, devPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const taskQueue = `fuzz-${options.seed}-${Date.now()}`;
  const configFile = join(dir, 'bridge.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      chatwoot: {
        baseUrl: chatwoot.url,
        apiAccessToken: SECRETS.chatwootToken,
        accountId: ACCOUNT,
      },
      webhook: { secrets: [SECRETS.webhookSecret], maxBodyBytes: MAX_BODY_BYTES },
      agents: [
        { id: 'echo', transport: 'ws', url: agents.url('echo') },
        { id: 'puller', transport: 'pull', apiKey: SECRETS.pullKey },
        // Configured, never routed: its secret must stay out of the log all the same.
        {
          id: 'aiwm',
          transport: 'socketio',
          apiBase: 'http://127.0.0.1:1',
          secret: SECRETS.aiwmSecret,
        },
      ],
      routes: [{ inboxId: ROUTED_INBOX, agentId: 'echo' }],
      api: {
        keys: [SECRETS.apiKey],
        operatorKeys: [SECRETS.operatorKey],
        metricsKeys: [SECRETS.metricsKey],
      },
      http: { port: httpPort, host: '127.0.0.1' },
      temporal: {
        taskQueue,
        ...(options.temporalAddress ? { address: options.temporalAddress } : {}),
      },
      metrics: { workerPort: 0, temporalSdkPort: 0 },
    }),
  );

  const startEntry = fileURLToPath(new URL('../workers/start.ts', import.meta.url));
  const bridge: ChildProcess = spawn(process.execPath, ['--import', 'tsx', startEntry], {
    env: {
      ...process.env,
      BRIDGE_CONFIG: configFile,
      TEMPORAL_DEV_PORT: String(devPort),
      TEMPORAL_UI_PORT: String(uiPort),
      TEMPORAL_DB_FILE: join(dir, 'temporal.sqlite'),
      ...(options.workflowBundlePath ? { WORKFLOW_BUNDLE_PATH: options.workflowBundlePath } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exitCode: number | null = null;
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    bridge.once('exit', (code) => {
      exited = true;
      exitCode = code;
      resolve();
    }),
  );

  // The log is scanned as it streams (a 100,000-case run writes far too much to keep).
  const secretsInLog = new Set<string>();
  let tail = '';
  let logBytes = 0;
  let ready = false;
  const scan = (chunk: string) => {
    logBytes += chunk.length;
    const text = tail + chunk;
    for (const [name, secret] of Object.entries(SECRETS))
      if (text.includes(secret)) secretsInLog.add(name);
    if (text.includes('Bridge ready')) ready = true;
    tail = text.slice(-200);
  };
  bridge.stdout?.setEncoding('utf8').on('data', scan);
  bridge.stderr?.setEncoding('utf8').on('data', scan);

  const baseUrl = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 180_000;
  while (!ready && !exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (!ready) {
    bridge.kill('SIGKILL');
    await Promise.all([chatwoot.close(), agents.close()]);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the bridge did not start (exit code ${String(exitCode)})`);
  }
  log(`bridge ready on ${baseUrl} (pid ${bridge.pid})`);

  const statuses: Record<string, Record<number, number>> = {};
  const unexpected = new Map<string, number>();
  let noAnswer = 0;
  const noAnswerReasons = new Map<string, number>();
  let nestedAccepted = 0;
  const expectedWorkflows = new Set<string>();
  let extraWorkflows: string[] = [];
  let missingWorkflows: string[] = [];
  const rss: number[] = [];
  const sampleRss = () => {
    const value = bridge.pid ? rssMiB(bridge.pid) : undefined;
    if (value !== undefined) rss.push(value);
  };
  sampleRss();
  const sampler = setInterval(sampleRss, 5_000);

  const builder = new RequestBuilder();
  const BATCH = 1_000;
  let done = 0;
  let messageWorkflowsStarted = -1;
  let messagesInActors = -1;
  try {
    const stopAt = options.maxMinutes ? started + options.maxMinutes * 60_000 : Infinity;
    for (let batch = 0; done < options.cases && !exited && Date.now() < stopAt; batch += 1) {
      const size = Math.min(BATCH, options.cases - done);
      const cases = fc.sample(caseArb, { seed: options.seed + batch, numRuns: size });
      let next = 0;
      const worker = async () => {
        while (next < cases.length && !exited) {
          const fuzz = cases[next++] as Case;
          const request = builder.build(fuzz);
          let status = 0;
          try {
            const response = await fetch(`${baseUrl}${request.path}`, {
              method: request.method,
              headers: request.headers,
              ...(request.body !== undefined && request.method !== 'GET'
                ? { body: request.body }
                : {}),
              signal: AbortSignal.timeout(30_000),
            });
            status = response.status;
            const text = await response.text();
            if (request.workflowId && status >= 200 && status < 300) {
              expectedWorkflows.add(request.workflowId);
              if (fuzz.kind === 'deeplyNested') nestedAccepted += 1;
            }
            void text;
          } catch {
            noAnswer += 1;
          }
          const byStatus = (statuses[fuzz.kind] ??= {});
          byStatus[status] = (byStatus[status] ?? 0) + 1;
          if (status !== 0 && status < 500 && isUnexpected(fuzz.kind, status)) {
            const key = `${fuzz.kind} ${status}`;
            unexpected.set(key, (unexpected.get(key) ?? 0) + 1);
          }
        }
      };
      await Promise.all(Array.from({ length: options.concurrency }, worker));
      done += size;
      log(
        `${done}/${options.cases} cases, rss ${rss.at(-1) ?? '?'} MiB, ${Math.round((Date.now() - started) / 1000)} s`,
      );
    }

    // Message workflows started: visibility catches up a moment after the actors start them.
    const expected = expectedWorkflows.size;
    if (!exited) {
      const connection = await Connection.connect({
        address: options.temporalAddress ?? `127.0.0.1:${devPort}`,
      });
      const client = new Client({ connection });
      const types = MESSAGE_DELIVERY_TYPES.map((type) => `"${type}"`).join(', ');
      const query = `WorkflowType IN (${types}) AND TaskQueue = "${taskQueue}"`;
      let stableSince = Date.now();
      const waitUntil = Date.now() + 300_000;
      for (;;) {
        const { count } = await client.workflow.count(query);
        if (count !== messageWorkflowsStarted) stableSince = Date.now();
        messageWorkflowsStarted = count;
        if (count === expected && Date.now() - stableSince > 3_000) break;
        if (Date.now() - stableSince > 30_000 || Date.now() > waitUntil) break;
        await new Promise((r) => setTimeout(r, 1_000));
      }
      const started = new Set<string>();
      for await (const execution of client.workflow.list({ query }))
        started.add(execution.workflowId);
      messagesInActors = 0;
      const actors = `WorkflowType = "conversationWorkflow" AND TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`;
      for await (const actor of client.workflow.list({ query: actors })) {
        const state = await client.workflow
          .getHandle(actor.workflowId, actor.runId)
          .query(conversationStateQuery);
        messagesInActors += state.counters.messagesReceived;
      }
      extraWorkflows = [...started]
        .filter((id) => !expectedWorkflows.has(id))
        .map((id) => `${id} (${builder.kindOf.get(id) ?? 'unknown'})`)
        .slice(0, 20);
      missingWorkflows = [...expectedWorkflows].filter((id) => !started.has(id)).slice(0, 20);
      await connection.close();
    }
  } catch (error) {
    clearInterval(sampler);
    bridge.kill('SIGKILL');
    await Promise.all([chatwoot.close(), agents.close()]);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  clearInterval(sampler);
  sampleRss();

  const crashed = exited;
  bridge.kill('SIGTERM');
  await Promise.race([exit, new Promise((r) => setTimeout(r, 20_000))]);
  if (!exited) bridge.kill('SIGKILL');
  await Promise.all([chatwoot.close(), agents.close()]);
  rmSync(dir, { recursive: true, force: true });

  const serverErrors = Object.entries(statuses).flatMap(([kind, byStatus]) =>
    Object.entries(byStatus)
      .filter(([status]) => Number(status) >= 500)
      .map(([status, count]) => ({ kind, status: Number(status), count })),
  );
  return {
    cases: done,
    seed: options.seed,
    durationMs: Date.now() - started,
    statuses,
    serverErrors,
    noAnswer,
    noAnswerReasons: Object.fromEntries(noAnswerReasons),
    unexpected: [...unexpected].map(([key, count]) => {
      const [kind, status] = key.split(' ');
      return { kind: kind as string, status: Number(status), count };
    }),
    crashed,
    exitCode: crashed ? exitCode : null,
    rssMiB: {
      samples: rss,
      first: rss[0] ?? 0,
      max: Math.max(0, ...rss),
      last: rss.at(-1) ?? 0,
    },
    validRoutedMessages: builder.validWorkflowIds.size,
    extraWorkflows,
    missingWorkflows,
    nestedAccepted,
    messageWorkflowsStarted,
    messagesInActors,
    secretsInLog: [...secretsInLog],
    logBytes,
  };
}
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '20261201' },
      concurrency: { type: 'string', default: '16' },
      'max-minutes': { type: 'string' },
    },
  });
  const report = await runFuzz({
    cases: Number(values.cases),
    seed: Number(values.seed),
    concurrency: Number(values.concurrency),
    ...(values['max-minutes'] ? { maxMinutes: Number(values['max-minutes']) } : {}),
    verbose: true,
  });
  const { samples, ...rss } = report.rssMiB;
  const every = Math.max(1, Math.ceil(samples.length / 20));
  console.log(
    JSON.stringify(
      {
        ...report,
        rssMiB: { ...rss, everyNth: every, samples: samples.filter((_, i) => i % every === 0) },
      },
      null,
      2,
    ),
  );
  process.exit(report.crashed || report.serverErrors.length || report.secretsInLog.length ? 1 : 0);
}
