/**
 * Records real workflow histories for the replay test (test/replay.test.ts): runs a set of
 * conversation scenarios through the whole bridge (webhook app, worker, fake Chatwoot, mock
 * agents) on a fresh Temporal dev server, and writes each actor run and its message deliveries
 * to test/replay/<label>/ as history JSON (the format `temporal workflow show --output json`
 * writes), with the other workflow types beside them: an AIWM turn lease, a pull agent's inbox,
 * a proactive message held until its `sendAt`, and a catch-up run.
 *
 *   npx tsx scripts/captureHistories.ts <label>
 *
 * Capture with the code as it is deployed, before a change to a workflow, under a new label:
 * the replay test then proves the changed code still replays what the deployed code recorded.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { historyJson } from '../test/helpers/replayHistories.js';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { buildApp } from '../api/app.js';
import { temporalConversationGateway } from '../api/conversations.js';
import { routeSettings } from '../api/deliveries.js';
import { awaitWorkflow } from '../client/awaitWorkflow.js';
import { LiveConfig } from '../config/live.js';
import { parseConfig } from '../config/load.js';
import {
  conversationEventPayload,
  messageCreatedPayload,
  signWebhook,
  type ConversationEvent,
  type ConversationOptions,
  type MessageOptions,
} from '../sandbox/chatwootWebhooks.js';
import { FakeChatwoot } from '../sandbox/fakeChatwoot.js';
import { startMockAgent } from '../sandbox/mockAgents.js';
import { richPath } from '../sandbox/mockReplyFields.js';
import { sendLikeAgentBot } from '../test/helpers/agentBotSender.js';
import { pullAgent } from '../test/helpers/pullAgent.js';
import { temporalTurnLock } from '../agents/temporalTurnLock.js';
import type { TurnLease } from '../agents/turnLock.js';
import { agentLeaseWorkflowId, leaseStateQuery } from '../workflows/agentLease.js';
import { catchUpScheduleId } from '../workflows/catchUpShared.js';
import { agentInboxWorkflowId } from '../workflows/pullShared.js';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  LOW_LATENCY_DYNAMIC_CONFIG,
  startDevServer,
} from '../workers/devServer.js';
import { createBridgeWorker } from '../workers/worker.js';
import {
  conversationStateQuery,
  conversationWorkflowId,
  messageWorkflowId,
  type ConversationFacts,
  type ConversationSignal,
  type ConversationView,
} from '../workflows/shared.js';

const SECRET = 'capture-secret';
const TOKEN = 'capture-token';
const USER_TOKEN = 'capture-user-token';
const API_KEY = 'capture-api-key-0123456789';
const PULL_KEY = 'capture-pull-key-0123456789';
const ACCOUNT = 1;

const label = process.argv[2];
if (!label || !/^[a-z0-9-]+$/.test(label)) {
  console.error('usage: tsx scripts/captureHistories.ts <label> (lowercase letters, digits, -)');
  process.exit(2);
}
const outDir = fileURLToPath(new URL(`../test/replay/${label}/`, import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

Runtime.install({ logger: new DefaultLogger('ERROR') });
const server = await startDevServer({
  ui: false,
  searchAttributes: BRIDGE_SEARCH_ATTRIBUTES,
  // Few events per run, so one scenario records an actor that continued-as-new.
  dynamicConfig: { ...LOW_LATENCY_DYNAMIC_CONFIG, 'limit.historyCount.suggestContinueAsNew': 40 },
});
const chatwoot = await FakeChatwoot.start({
  apiAccessToken: TOKEN,
  userApiAccessToken: USER_TOKEN,
});
const agents = await startMockAgent();
const RICH_REPLY = {
  content_type: 'input_select',
  content_attributes: { items: [{ title: 'Blue', value: 'blue' }] },
  attachments: [
    {
      data: Buffer.from('receipt').toString('base64'),
      file_name: 'receipt.txt',
      content_type: 'text/plain',
    },
  ],
  actions: [{ type: 'add_labels', labels: ['vip'] }],
};
const agent = (id: string, path: string, extra: Record<string, unknown> = {}) => ({
  id,
  transport: 'ws',
  protocol: 'bridge-v1',
  url: agents.url(path),
  connectTimeoutMs: 1_000,
  replyTimeoutMs: 3_000,
  idleTimeoutMs: 3_000,
  totalTimeoutMs: 10_000,
  maxResponses: 5,
  ...extra,
});
const config = parseConfig({
  chatwoot: {
    baseUrl: chatwoot.url,
    apiAccessToken: TOKEN,
    accountId: ACCOUNT,
    actionsApiAccessToken: USER_TOKEN,
  },
  conversation: { botAssigneeIds: [42] },
  webhook: { secrets: [SECRET] },
  agents: [
    agent('held', 'echo', { debounce: { quietMs: 600_000, maxWaitMs: 1_200_000, maxBatch: 46 } }),
    agent('echo', 'echo', { greeting: ['Hi! I am the shop assistant.'] }),
    agent('burst', 'echo', { debounce: { quietMs: 5_000, maxWaitMs: 10_000, maxBatch: 4 } }),
    agent('aborting', 'slow?delayMs=2500', {
      abortOnNewer: true,
      replyTimeoutMs: 10_000,
      totalTimeoutMs: 20_000,
    }),
    agent('handoff', 'handoff'),
    agent('slow', 'slow?delayMs=1500'),
    agent('multi', 'multi?count=2&delayMs=1000'),
    // Buttons, a file and a label in one reply: the workflow's posts, notes and actions.
    agent('richer', richPath(RICH_REPLY), { allowedActions: ['add_labels'] }),
    agent('three', 'multi?count=3&delayMs=200'),
    { id: 'puller', transport: 'pull', apiKey: PULL_KEY, longPollMs: 5_000 },
  ],
  routes: [
    { inboxId: 7, agentId: 'held' },
    { inboxId: 8, agentId: 'echo' },
    { inboxId: 9, agentId: 'burst' },
    { inboxId: 10, agentId: 'aborting' },
    { inboxId: 11, agentId: 'handoff' },
    { inboxId: 12, agentId: 'slow' },
    { inboxId: 13, agentId: 'multi' },
    { inboxId: 14, agentId: 'puller' },
    { inboxId: 15, agentId: 'slow', humanRequest: { label: 'human' } },
    { inboxId: 16, agentId: 'richer' },
    { inboxId: 17, agentId: 'three' },
  ],
  delivery: {
    agentRetryWindowMs: 4_000,
    agentRetryInitialIntervalMs: 100,
    agentRetryMaxIntervalMs: 500,
    exchangeHeartbeatTimeoutMs: 2_000,
    chatwootRetryWindowMs: 20_000,
    chatwootRetryInitialIntervalMs: 50,
    chatwootRetryMaxIntervalMs: 200,
    chatwootRequestTimeoutMs: 1_000,
  },
  temporal: { address: server.address, taskQueue: `capture-${randomUUID()}` },
  metrics: { workerPort: 0, temporalSdkPort: 0 },
  api: { keys: [API_KEY] },
  // The start-up run finds nothing; the catch-up scenario triggers one of its own at the end.
  catchUp: { apiAccessToken: USER_TOKEN, intervalMs: 3_600_000 },
});
const connection = await Connection.connect({ address: server.address });
const temporal = new Client({ connection, namespace: config.temporal.namespace });
const live = new LiveConfig(config);
const app = buildApp({ config, temporal, live, logger: false });
const worker = await createBridgeWorker({ config, address: server.address, live });
const workerRun = worker.run();

let nextMessageId = 10_000;
async function post(payload: Record<string, unknown>, query = '') {
  const body = JSON.stringify(payload);
  // Retried like Chatwoot's agent-bot job does, for a dev server slow under load.
  for (let attempt = 1; ; attempt += 1) {
    const response = await app.inject({
      method: 'POST',
      url: `/webhook/chatwoot${query}`,
      headers: { 'content-type': 'application/json', ...signWebhook(body, SECRET) },
      payload: body,
    });
    if (response.statusCode < 300) return response.json<Record<string, unknown>>();
    if (response.statusCode < 500 || attempt === 3) {
      throw new Error(`webhook answered ${response.statusCode}: ${response.body}`);
    }
    await sleep(1_000);
  }
}
const send = async (message: MessageOptions, query = '') => {
  const messageId = (nextMessageId += 1);
  await post(messageCreatedPayload({ accountId: ACCOUNT, messageId, ...message }), query);
  return messageId;
};
const event = (kind: ConversationEvent, options: ConversationOptions) =>
  post(conversationEventPayload(kind, { accountId: ACCOUNT, ...options }));
const state = (conversationId: number): Promise<ConversationView> =>
  temporal.workflow
    .getHandle(conversationWorkflowId(ACCOUNT, conversationId))
    .query(conversationStateQuery);
/** Waits for a message's delivery to end, however it ends (a cancelled one included). */
async function delivered(conversationId: number, messageId: number): Promise<void> {
  const handle = await awaitWorkflow(
    temporal,
    messageWorkflowId(ACCOUNT, conversationId, messageId),
  );
  await handle.result().catch(() => undefined);
}
const replies = (conversationId: number) => chatwoot.messages(ACCOUNT, conversationId).length;

// Signal-level events, as the webhook sends them once it fills the conversation facts.
const gateway = temporalConversationGateway(temporal, () => config);
const HUMAN: ConversationFacts = { status: 'open', owner: 'human', ownerName: 'Agent Smith' };
const target = (conversationId: number, inboxId: number) => ({
  accountId: ACCOUNT,
  conversationId,
  inboxId,
});
async function customer(
  conversationId: number,
  inboxId: number,
  agentId: string,
  facts?: ConversationFacts,
) {
  const messageId = (nextMessageId += 1);
  await gateway.sendCustomerMessage(target(conversationId, inboxId), {
    type: 'customer_message',
    message: { messageId, inboxId, content: `m${messageId}`, attachments: [], sender: {} },
    route: routeSettings(config, agentId),
    ...(facts ? { conversation: facts } : {}),
  });
  return messageId;
}
const notify = (conversationId: number, inboxId: number, event: ConversationSignal) =>
  gateway.notify(target(conversationId, inboxId), event, { start: true });

/** A workflow a scenario ran besides its conversation's actor and deliveries. */
interface OtherWorkflow {
  /** Names the file: `<scenario>.<kind>.run<n>.json`. */
  kind: string;
  workflowId: string;
}
interface Scenario {
  /** Its actor and every delivery of this conversation are saved. */
  conversationId?: number;
  run: () => Promise<void>;
  others?: () => Promise<OtherWorkflow[]> | OtherWorkflow[];
}

/** Each scenario ends with its actor waiting for the next event (or completed). */
const scenarios: Record<string, Scenario> = {
  'continued-as-new': {
    conversationId: 901,
    async run() {
      let last = 0;
      for (let i = 0; i < 46; i += 1) last = await send({ conversationId: 901, inboxId: 7 });
      await delivered(901, last);
      await until(async () => (await state(901)).counters.runs > 1, 'continue-as-new');
    },
  },
  'human-takeover': {
    conversationId: 902,
    async run() {
      await delivered(902, await send({ conversationId: 902, inboxId: 8, content: 'one' }));
      await send({ conversationId: 902, inboxId: 8, messageType: 'outgoing', sender: 'user' });
      await until(async () => (await state(902)).state === 'paused', 'paused');
      await send({ conversationId: 902, inboxId: 8, content: 'held' });
      await until(async () => (await state(902)).heldMessageIds.length === 1, 'held');
      await event('conversation_updated', {
        conversationId: 902,
        inboxId: 8,
        changes: { assignee_id: [null, 3] },
      });
      await event('conversation_status_changed', {
        conversationId: 902,
        inboxId: 8,
        status: 'pending',
        previousStatus: 'open',
      });
      await until(async () => (await state(902)).state === 'idle', 'resumed');
      // Pending again, as Chatwoot's payload now says (an `open` one would pause it: missed open).
      await delivered(
        902,
        await send({ conversationId: 902, inboxId: 8, content: 'three', status: 'pending' }),
      );
    },
  },
  'debounce-burst': {
    conversationId: 903,
    async run() {
      let last = 0;
      for (const content of ['Hi', 'my order', 'is', 'late']) {
        last = await send({ conversationId: 903, inboxId: 9, content });
      }
      await delivered(903, last);
    },
  },
  'abort-on-newer': {
    conversationId: 904,
    async run() {
      await send({ conversationId: 904, inboxId: 10, content: 'first' });
      await until(() => agents.requests.some((r) => r.conversation_id === '904'), 'agent');
      await delivered(904, await send({ conversationId: 904, inboxId: 10, content: 'second' }));
    },
  },
  'delivery-retries': {
    conversationId: 905,
    async run() {
      chatwoot.injectFault({
        status: 500,
        count: 2,
        match: { method: 'POST', pathIncludes: '/conversations/905/messages' },
      });
      await delivered(905, await send({ conversationId: 905, inboxId: 8, content: 'retry me' }));
    },
  },
  'hand-off': {
    conversationId: 906,
    async run() {
      await delivered(906, await send({ conversationId: 906, inboxId: 11, content: 'help' }));
      await until(async () => (await state(906)).state === 'paused', 'paused');
    },
  },
  greeting: {
    conversationId: 907,
    async run() {
      await event('conversation_created', { conversationId: 907, inboxId: 8 });
      await until(() => replies(907) === 1, 'greeting');
      await event('webwidget_triggered', { conversationId: 907, inboxId: 8 });
      await delivered(907, await send({ conversationId: 907, inboxId: 8, content: 'hello' }));
    },
  },
  'resolve-then-message': {
    conversationId: 908,
    async run() {
      await send({ conversationId: 908, inboxId: 12, content: 'slow one' });
      await until(() => agents.requests.some((r) => r.conversation_id === '908'), 'agent');
      await event('conversation_resolved', { conversationId: 908, inboxId: 8, status: 'resolved' });
      await delivered(908, await send({ conversationId: 908, inboxId: 12, content: 'again' }));
    },
  },
  'wait-for-reply': {
    conversationId: 909,
    async run() {
      await send({ conversationId: 909, inboxId: 8, content: 'sync' }, '?wait=4000');
      await delivered(909, await send({ conversationId: 909, inboxId: 12 }, '?wait=200'));
    },
  },
  'concurrent-burst': {
    conversationId: 910,
    async run() {
      // Sent at once: the actor sees them in whatever order Temporal took them.
      const ids = Array.from({ length: 5 }, () => (nextMessageId += 1)).reverse();
      await Promise.all(
        ids.map((messageId, i) =>
          sleep(i * 5).then(() =>
            post(
              messageCreatedPayload({
                accountId: ACCOUNT,
                conversationId: 910,
                inboxId: 12,
                messageId,
              }),
            ),
          ),
        ),
      );
      await until(() => replies(910) === ids.length, 'every reply', 60_000);
    },
  },
};

Object.assign(scenarios, {
  'facts-human-owner': {
    conversationId: 911,
    async run() {
      await customer(911, 8, 'echo', HUMAN);
      await until(async () => (await state(911)).state === 'paused', 'paused');
    },
  },
  'takeover-starts-actor': {
    conversationId: 912,
    async run() {
      await delivered(912, await customer(912, 8, 'echo'));
      await notify(912, 8, { type: 'resolved' });
      await notify(912, 8, {
        type: 'status_changed',
        status: 'open',
        previousStatus: 'resolved',
        conversation: HUMAN,
      });
      await notify(912, 8, {
        type: 'human_message',
        messageId: (nextMessageId += 1),
        conversation: HUMAN,
      });
      await customer(912, 8, 'echo');
      await until(
        async () => (await state(912).catch(() => undefined))?.heldMessageIds.length === 1,
        'held',
      );
    },
  },
  'own-message-during-turn': {
    conversationId: 913,
    async run() {
      const first = await customer(913, 13, 'multi');
      await until(() => replies(913) === 1, 'first reply');
      const own = chatwoot.messages(ACCOUNT, 913)[0]?.id as number;
      await notify(913, 13, { type: 'human_message', messageId: own });
      await delivered(913, first);
      // A person's reply after that still pauses the bot.
      await notify(913, 13, { type: 'human_message', messageId: (nextMessageId += 1) });
      await until(async () => (await state(913)).state === 'paused', 'paused');
    },
  },
  'rich-file-actions': {
    conversationId: 920,
    async run() {
      chatwoot.conversationActions.defineLabels(ACCOUNT, ['vip']);
      await delivered(920, await customer(920, 16, 'richer'));
    },
  },
  'three-replies': {
    conversationId: 921,
    async run() {
      await delivered(921, await customer(921, 17, 'three'));
    },
  },
  'bot-owner-assignment': {
    conversationId: 914,
    async run() {
      await delivered(914, await customer(914, 8, 'echo', { status: 'open', owner: 'bot' }));
      await notify(914, 8, {
        type: 'assignee_changed',
        assigneeId: 77,
        toBot: false,
        conversation: { status: 'pending', owner: 'bot' },
      });
      await delivered(914, await customer(914, 8, 'echo'));
    },
  },
} satisfies typeof scenarios);

// The workflow types besides actor and delivery, each through the path the bridge uses it by.
const LEASE_KEY = 'capture@wss://aiwm.example/chat';
const leaseWorkflowId = agentLeaseWorkflowId(config.temporal.taskQueue, LEASE_KEY);
const leaseState = () => temporal.workflow.getHandle(leaseWorkflowId).query(leaseStateQuery);
/** Leases as the AIWM exchange takes them (agents/temporalTurnLock.ts). */
const acquireLease = (holderId: string, waitMs = 20_000) =>
  temporalTurnLock({
    client: temporal,
    taskQueue: config.temporal.taskQueue,
    holderId,
    token: `${holderId}#1`,
    warn: (message) => console.warn(message),
  }).acquire({ key: LEASE_KEY, waitMs, leaseMs: 60_000 });
const granted = (lease: Awaited<ReturnType<typeof acquireLease>>): TurnLease => {
  if (typeof lease === 'string') throw new Error(`expected the lease, got ${lease}`);
  return lease;
};
let proactiveWorkflowId = '';

Object.assign(scenarios, {
  lease: {
    async run() {
      const first = granted(await acquireLease('message:1:918:1'));
      const second = acquireLease('message:1:918:2');
      await until(async () => (await leaseState()).waiting.length === 1, 'a holder in line');
      // A third asker gives up waiting in line while the first still holds it.
      const third = await acquireLease('message:1:918:3', 300);
      if (third !== 'timeout') throw new Error('expected the third asker to give up waiting');
      await first.release();
      await granted(await second).release();
      await until(async () => (await leaseState()).holder === undefined, 'the lease free');
    },
    others: () => [{ kind: 'lease', workflowId: leaseWorkflowId }],
  },
  'pull-inbox': {
    conversationId: 915,
    async run() {
      const puller = pullAgent(app, 'puller', PULL_KEY);
      const messageId = await send({ conversationId: 915, inboxId: 14, content: 'pull me' });
      const [turn] = await puller.pollUntilTurn();
      if (!turn) throw new Error('no turn');
      for (const [sequence, content] of ['one', 'two'].entries()) {
        const answer = await puller.postUntilAnswered({
          message_id: turn.message_id,
          content,
          sequence,
          final: sequence === 1,
        });
        if (answer.status !== 200) throw new Error(`outbox answered ${answer.status}`);
      }
      await delivered(915, messageId);
    },
    others: () => [
      { kind: 'inbox', workflowId: agentInboxWorkflowId('puller', config.temporal.taskQueue) },
    ],
  },
  'proactive-send-at': {
    async run() {
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/messages',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        payload: JSON.stringify({
          accountId: ACCOUNT,
          conversationId: 916,
          content: 'Reminder: your appointment',
          sendAt: new Date(Date.now() + 2_000).toISOString(),
        }),
      });
      if (response.statusCode !== 202) {
        throw new Error(`proactive answered ${response.statusCode}: ${response.body}`);
      }
      proactiveWorkflowId = response.json<{ workflowId: string }>().workflowId;
      await temporal.workflow.getHandle(proactiveWorkflowId).result();
    },
    others: () => [{ kind: 'proactive', workflowId: proactiveWorkflowId }],
  },
  'human-request': {
    conversationId: 919,
    async run() {
      const notes = () => chatwoot.messages(ACCOUNT, 919).filter((m) => m.private).length;
      // Asked while a turn runs: the turn finishes, then the hand-over.
      const first = await send({ conversationId: 919, inboxId: 15, content: 'slow question' });
      await until(() => agents.requests.some((r) => r.conversation_id === '919'), 'agent');
      await send({ conversationId: 919, inboxId: 15, content: 'talk to someone' });
      await delivered(919, first);
      await until(() => notes() === 1, 'the hand-over note');
      await send({ conversationId: 919, inboxId: 15, content: 'held' });
      await until(async () => (await state(919)).heldMessageIds.length === 1, 'held');
      await event('conversation_status_changed', {
        conversationId: 919,
        inboxId: 15,
        status: 'pending',
        previousStatus: 'open',
      });
      await until(async () => (await state(919)).state === 'idle', 'resumed');
      // The label trigger: a hand-over without an acknowledgement.
      await event('conversation_updated', {
        conversationId: 919,
        inboxId: 15,
        status: 'pending',
        changes: { label_list: [[], ['human']] },
      });
      await until(() => notes() === 2, 'the label hand-over note');
    },
  },
} satisfies typeof scenarios);

/**
 * Catch-up, after the others (it reads every conversation of the account): a customer message
 * whose webhook Chatwoot gave up on is found by a run of the account's schedule and answered.
 */
const catchUp: Scenario = {
  conversationId: 917,
  async run() {
    chatwoot.seedConversation(ACCOUNT, 917, { inboxId: 8 });
    const missed = chatwoot.addCustomerMessage(ACCOUNT, 917, 'written while the bridge was down');
    const refused = await sendLikeAgentBot(chatwoot, await closedPortUrl(), missed, {
      secret: SECRET,
    });
    if (refused !== 'failed') throw new Error(`expected the webhook to fail, got ${refused}`);
    const schedule = temporal.schedule.getHandle(catchUpScheduleId(ACCOUNT));
    const runs = async () => (await schedule.describe()).info;
    await until(async () => (await runs()).runningActions.length === 0, 'the start-up run');
    const before = (await runs()).recentActions.length;
    await schedule.trigger();
    await until(async () => (await runs()).recentActions.length > before, 'the triggered run');
    await until(async () => (await runs()).runningActions.length === 0, 'the triggered run to end');
    await until(
      () => chatwoot.messages(ACCOUNT, 917).some((m) => m.content?.startsWith('echo:')),
      'the missed message answered',
    );
    await delivered(917, missed.id);
  },
  async others() {
    // One workflow id per schedule run: the start-up run, then the triggered one.
    const ids: string[] = [];
    for await (const run of temporal.workflow.list({ query: `WorkflowType = "catchUpWorkflow"` })) {
      ids.push(run.workflowId);
    }
    return ids
      .reverse()
      .map((workflowId, index) => ({ kind: `schedule-${index + 1}`, workflowId }));
  },
};

/** Where the bridge's webhook was: nothing listens there any more (connection refused). */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/webhook/chatwoot`;
}

async function capture(name: string, scenario: Scenario): Promise<void> {
  await scenario.run();
  // Let the actor finish the workflow task of its last event.
  await sleep(1_000);
  if (scenario.conversationId !== undefined) {
    await save(name, conversationWorkflowId(ACCOUNT, scenario.conversationId));
  }
  for (const { kind, workflowId } of (await scenario.others?.()) ?? []) {
    await saveRuns(name, kind, workflowId);
  }
  console.log(`captured ${name}`);
}

mkdirSync(outDir, { recursive: true });
let failed = false;
try {
  const results = await Promise.allSettled(
    Object.entries(scenarios).map(([name, scenario]) => capture(name, scenario)),
  );
  results.push(...(await Promise.allSettled([capture('catch-up', catchUp)])));
  for (const result of results) {
    if (result.status === 'rejected') {
      failed = true;
      console.error(result.reason);
    }
  }
} finally {
  await worker.shutdown();
  await workerRun;
  await app.close();
  await connection.close();
  await agents.close();
  await chatwoot.close();
  await server.stop();
}
if (failed) process.exit(1);

/** Writes every run of the actor and each of its message deliveries. */
async function save(name: string, actorId: string): Promise<void> {
  const workflowIds = [actorId];
  for await (const child of temporal.workflow.list({
    query: `ChatwootConversationId = "${actorId.split(':')[2]}"`,
  })) {
    if (child.workflowId.startsWith('message:')) workflowIds.push(child.workflowId);
  }
  for (const workflowId of [...new Set(workflowIds)]) {
    const kind = workflowId.startsWith('message:')
      ? `delivery-${workflowId.split(':')[3]}`
      : 'actor';
    await saveRuns(name, kind, workflowId);
  }
}

/** Writes every run of one workflow id, oldest first. */
async function saveRuns(name: string, kind: string, workflowId: string): Promise<void> {
  const runs: string[] = [];
  for await (const run of temporal.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    runs.push(run.runId);
  }
  for (const [index, runId] of runs.reverse().entries()) {
    const history = await temporal.workflow.getHandle(workflowId, runId).fetchHistory();
    const file = `${outDir}${name}.${kind}.run${index + 1}.json`;
    writeFileSync(file, historyJson(history) + '\n');
  }
}
