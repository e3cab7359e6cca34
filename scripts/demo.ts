/**
 * `npm run demo`: the whole bridge on this machine, with nothing to configure. Starts the
 * embedded Temporal dev server (with its web UI), a worker, the HTTP API, a fake Chatwoot and
 * mock agents; sends a few customer messages through the signed webhook and one proactive
 * message through the API; prints what reached Chatwoot with a Temporal UI link per workflow;
 * then keeps running until Ctrl-C (`--exit`: stop after printing).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { buildApp } from '../api/app.js';
import { awaitWorkflow } from '../client/awaitWorkflow.js';
import { parseConfig } from '../config/load.js';
import {
  messageCreatedPayload,
  messageUpdatedPayload,
  signWebhook,
} from '../sandbox/chatwootWebhooks.js';
import { FakeChatwoot } from '../sandbox/fakeChatwoot.js';
import { startMockAgent } from '../sandbox/mockAgents.js';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  LOW_LATENCY_DYNAMIC_CONFIG,
  startDevServer,
} from '../workers/devServer.js';
import { createBridgeWorker } from '../workers/worker.js';
import type { ProactiveReport } from '../workflows/proactiveTypes.js';
import type { DeliveryReport } from '../workflows/shared.js';

const HELP = `Usage: npm run demo [-- options]

  --exit                stop once the sample messages have been printed
  --temporal-port N     Temporal gRPC port (default 7233; 0 = any free port)
  --ui-port N           Temporal web UI port (default 8233; 0 = any free port)
  --api-port N          the bridge's HTTP API (default 8000; 0 = any free port)
  --chatwoot-port N     the fake Chatwoot (default 3000; 0 = any free port)
  --agent-port N        the mock agents (default 9001; 0 = any free port)`;

const ACCOUNT_ID = 1;
const WEBHOOK_SECRET = 'demo-webhook-secret';
const API_KEY = 'demo-api-key-change-me';
const CHATWOOT_TOKEN = 'demo-chatwoot-token';
const CHATWOOT_USER_TOKEN = 'demo-chatwoot-user-token';
const HOST = '127.0.0.1';
const RESULT_TIMEOUT_MS = 60_000;

/** A reply with buttons, and the customer's choice going back to the agent as its own turn. */
const RICH_SAMPLE = { conversationId: 104, inboxId: 4, content: 'Which colours do you have?' };

/** Customer messages: inbox 1 is answered by the echo agent, inbox 2 by one that replies three times. */
const SAMPLES = [
  { conversationId: 101, inboxId: 1, content: 'Hi, where is my order #1234?' },
  { conversationId: 102, inboxId: 2, content: 'Can you explain your pricing plans?' },
  { conversationId: 103, inboxId: 1, content: 'Do you ship to Canada?' },
  // Inbox 5: an agent that answers with a file (README "Files in agent replies").
  { conversationId: 105, inboxId: 5, content: 'Can I have a receipt for order #1234?' },
  // Inbox 6: an agent that labels the conversation (README "Agent actions").
  { conversationId: 106, inboxId: 6, content: 'I would like to upgrade to the premium plan.' },
];
/** The action the concierge agent asks for with its reply (allowed by its `allowedActions`). */
const LABEL_ACTION = { type: 'add_labels', labels: ['premium'] };
const PROACTIVE = {
  inboxId: 3,
  contact: { email: 'jane@example.com', name: 'Jane Doe' },
  content: 'Hi Jane, your order #1234 has shipped and arrives on Friday.',
};

const { values: args } = parseArgs({
  options: {
    exit: { type: 'boolean', default: false },
    'temporal-port': { type: 'string', default: '7233' },
    'ui-port': { type: 'string', default: '8233' },
    'api-port': { type: 'string', default: '8000' },
    'chatwoot-port': { type: 'string', default: '3000' },
    'agent-port': { type: 'string', default: '9001' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

function port(name: keyof typeof args): number {
  const value = String(args[name]);
  if (!/^\d+$/.test(value) || Number(value) > 65_535) {
    console.error(`--${name} must be a port number (0 = any free port), got "${value}"`);
    process.exit(2);
  }
  return Number(value);
}

/** 0 lets the dev server pick; anything else must be free. */
const preferred = (value: number): number | undefined => (value === 0 ? undefined : value);

// The SDK logs every worker state change (and an idle agents queue) below ERROR.
Runtime.install({ logger: new DefaultLogger('ERROR') });

const stops: Array<() => Promise<unknown>> = [];
async function stopAll(): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
}

try {
  await run();
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`demo failed: ${message}`);
  if (/already in use/.test(message)) {
    console.error('Pick other ports, or let the demo choose: npm run demo -- --temporal-port 0 …');
  }
  await stopAll();
  process.exit(1);
}

async function run(): Promise<void> {
  console.log('Starting the Temporal dev server, fake Chatwoot and mock agents…');
  const [devServer, chatwoot, agents] = await Promise.all([
    startDevServer({
      host: HOST,
      port: preferred(port('temporal-port')),
      uiPort: preferred(port('ui-port')),
      searchAttributes: BRIDGE_SEARCH_ATTRIBUTES,
      dynamicConfig: LOW_LATENCY_DYNAMIC_CONFIG,
    }),
    FakeChatwoot.start({
      host: HOST,
      port: port('chatwoot-port'),
      apiAccessToken: CHATWOOT_TOKEN,
      // Labels take a user's token in Chatwoot (README "Agent actions").
      userApiAccessToken: CHATWOOT_USER_TOKEN,
      inboxes: [1, 2, 3],
    }),
    startMockAgent({ host: HOST, port: port('agent-port'), agentId: 'demo' }),
  ]);
  stops.push(
    () => devServer.stop(),
    () => chatwoot.close(),
    () => agents.close(),
  );
  // Chatwoot keeps only labels the account has created.
  chatwoot.conversationActions.defineLabels(ACCOUNT_ID, LABEL_ACTION.labels);

  const config = parseConfig({
    chatwoot: {
      baseUrl: chatwoot.url,
      apiAccessToken: CHATWOOT_TOKEN,
      actionsApiAccessToken: CHATWOOT_USER_TOKEN,
      accountId: ACCOUNT_ID,
    },
    webhook: { secrets: [WEBHOOK_SECRET] },
    api: { keys: [API_KEY] },
    agents: [
      { id: 'echo', transport: 'ws', url: agents.url('echo') },
      { id: 'storyteller', transport: 'ws', url: agents.url('multi?count=3&delayMs=400') },
      { id: 'clerk', transport: 'ws', url: agents.url('receipt') },
      { id: 'picker', transport: 'ws', url: agents.url('rich?kind=select') },
      {
        id: 'concierge',
        transport: 'ws',
        url: agents.url(`actions?actions=${encodeURIComponent(JSON.stringify([LABEL_ACTION]))}`),
        allowedActions: ['add_labels'],
      },
    ],
    routes: [
      { inboxId: 1, agentId: 'echo' },
      { inboxId: 2, agentId: 'storyteller' },
      { inboxId: 5, agentId: 'clerk' },
      { inboxId: RICH_SAMPLE.inboxId, agentId: 'picker' },
      { inboxId: 6, agentId: 'concierge' },
    ],
    http: { host: HOST, port: port('api-port') },
    temporal: { address: devServer.address },
  });
  const configPath = join(mkdtempSync(join(tmpdir(), 'chatwoot-bridge-demo-')), 'config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  console.log('Bundling the workflows and starting the worker…');
  const worker = await createBridgeWorker({ config, address: devServer.address });
  const running = worker.run();
  stops.push(() => worker.shutdown().then(() => running));

  const connection = await Connection.connect({ address: devServer.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const app = buildApp({ config, temporal, logger: false });
  await app.listen({ host: HOST, port: config.http.port });
  stops.push(
    () => app.close(),
    () => connection.close(),
  );
  const address = app.server.address();
  const apiUrl = `http://${HOST}:${typeof address === 'object' && address ? address.port : config.http.port}`;

  console.log(`
chatwoot-bridge demo
  Temporal UI    ${devServer.uiUrl ?? '(none)'}
  Temporal       ${devServer.address} (namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue})
  Bridge API     ${apiUrl}/webhook/chatwoot · ${apiUrl}/api/v1/messages
  Fake Chatwoot  ${chatwoot.url}
  Mock agents    ${agents.url('echo')} · ${agents.url('multi?count=3')}
`);

  const deliveries = await Promise.all(
    SAMPLES.map(async (sample, index) => {
      const payload = messageCreatedPayload({
        accountId: ACCOUNT_ID,
        messageId: 5_000 + index,
        ...sample,
      });
      return { ...sample, workflowId: await sendWebhook(apiUrl, payload) };
    }),
  );

  const proactiveResponse = await fetch(`${apiUrl}/api/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${API_KEY}`,
      'idempotency-key': `demo-${Date.now()}`,
    },
    body: JSON.stringify(PROACTIVE),
  });
  const proactive = (await proactiveResponse.json()) as { workflowId?: string };
  if (proactiveResponse.status !== 202 || !proactive.workflowId) {
    throw new Error(
      `POST /api/v1/messages answered ${proactiveResponse.status}: ${JSON.stringify(proactive)}`,
    );
  }

  const result = <T>(workflowId: string) =>
    withTimeout(
      awaitWorkflow(temporal, workflowId).then((handle) => handle.result() as Promise<T>),
      `workflow ${workflowId} did not finish`,
    );
  const uiLink = (workflowId: string) =>
    devServer.uiUrl
      ? `${devServer.uiUrl}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(workflowId)}`
      : workflowId;

  for (const delivery of deliveries) {
    const report = await result<DeliveryReport>(delivery.workflowId);
    console.log(
      `Conversation ${delivery.conversationId} (inbox ${delivery.inboxId} → ${report.agentId}): ${report.outcome}`,
    );
    console.log(`  customer: ${delivery.content}`);
    for (const message of chatwoot.messages(ACCOUNT_ID, delivery.conversationId)) {
      console.log(`  posted:   ${message.content}`);
      for (const file of message.attachments ?? []) {
        console.log(
          `  file:     ${file.file_name} (${file.content_type}, ${file.file_size} bytes)`,
        );
      }
    }
    for (const action of report.actions ?? []) {
      console.log(`  action:   ${action.summary ?? action.type}: ${action.status}`);
    }
    const { labels } = chatwoot.conversationActions.state(ACCOUNT_ID, delivery.conversationId);
    if (labels.length > 0) console.log(`  labels:   ${labels.join(', ')}`);
    console.log(`  workflow: ${delivery.workflowId}`);
    console.log(`            ${uiLink(delivery.workflowId)}\n`);
  }

  await showButtonsAndChoice({ apiUrl, chatwoot, result, uiLink });

  const report = await result<ProactiveReport>(proactive.workflowId);
  console.log(
    `Proactive message to ${PROACTIVE.contact.email} (inbox ${PROACTIVE.inboxId}): ${report.outcome}` +
      (report.reason ? ` (${report.reason})` : ''),
  );
  if (report.conversationId !== undefined) {
    const created = [
      report.contactCreated ? 'contact created' : '',
      report.conversationCreated ? 'conversation created' : '',
    ].filter(Boolean);
    console.log(
      `  conversation ${report.conversationId}${created.length ? ` (${created.join(', ')})` : ''}`,
    );
    for (const message of chatwoot.messages(ACCOUNT_ID, report.conversationId)) {
      console.log(`  posted:   ${message.content}`);
    }
  }
  console.log(`  workflow: ${proactive.workflowId}`);
  console.log(`            ${uiLink(proactive.workflowId)}\n`);

  if (args.exit) {
    await stopAll();
    process.exit(0);
  }

  console.log(`Everything keeps running; press Ctrl-C to stop. Send another message with:
  curl -X POST ${apiUrl}/api/v1/messages -H 'authorization: Bearer ${API_KEY}' \\
       -H 'content-type: application/json' -d '{"conversationId": 101, "content": "Anything else?"}'
  BRIDGE_CONFIG=${configPath} npx chatwoot-bridge send --conversation 101 --text "Anything else?"`);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      console.log('\nStopping…');
      void stopAll().then(() => process.exit(0));
    });
  }
}

function withTimeout<T>(promise: Promise<T>, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${message} within ${RESULT_TIMEOUT_MS / 1000} s`)),
      RESULT_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A reply with buttons, and the customer's choice going back to the agent as its own turn. */
async function showButtonsAndChoice({
  apiUrl,
  chatwoot,
  result,
  uiLink,
}: {
  apiUrl: string;
  chatwoot: FakeChatwoot;
  result: <T>(workflowId: string) => Promise<T>;
  uiLink: (workflowId: string) => string;
}): Promise<void> {
  const { conversationId, inboxId } = RICH_SAMPLE;
  const post = (payload: Record<string, unknown>) => sendWebhook(apiUrl, payload);
  const asked = await post(
    messageCreatedPayload({ accountId: ACCOUNT_ID, messageId: 5_100, ...RICH_SAMPLE }),
  );
  const report = await result<DeliveryReport>(asked);
  console.log(
    `Conversation ${conversationId} (inbox ${inboxId} → ${report.agentId}): ${report.outcome}`,
  );
  console.log(`  customer: ${RICH_SAMPLE.content}`);
  const [buttons] = chatwoot.messages(ACCOUNT_ID, conversationId);
  if (!buttons) throw new Error('the agent posted no buttons');
  const items = (buttons.content_attributes.items ?? []) as Array<{ title: string; value: string }>;
  console.log(
    `  posted:   ${buttons.content} [${buttons.content_type}: ${items.map((i) => i.title).join(' | ')}]`,
  );
  console.log(`  workflow: ${asked}`);
  console.log(`            ${uiLink(asked)}`);

  // The customer clicks the first button in the widget; Chatwoot sends message_updated.
  const answered = chatwoot.submitValues(ACCOUNT_ID, conversationId, buttons.id, [items[0]!]);
  const answer = await post(
    messageUpdatedPayload({
      accountId: ACCOUNT_ID,
      conversationId,
      inboxId,
      messageId: answered.id,
      content: answered.content,
      messageType: 'outgoing',
      sender: 'agent_bot',
      contentType: answered.content_type,
      contentAttributes: answered.content_attributes,
    }),
  );
  await result<DeliveryReport>(answer);
  console.log(`  customer: clicked "${items[0]!.title}" (message_updated → its own turn)`);
  for (const message of chatwoot.messages(ACCOUNT_ID, conversationId).slice(1)) {
    console.log(`  posted:   ${message.content}`);
  }
  console.log(`  workflow: ${answer}`);
  console.log(`            ${uiLink(answer)}\n`);
}

/** Posts a signed webhook to the bridge; the delivery workflow it names. */
async function sendWebhook(apiUrl: string, payload: Record<string, unknown>): Promise<string> {
  const body = JSON.stringify(payload);
  const response = await fetch(`${apiUrl}/webhook/chatwoot`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signWebhook(body, WEBHOOK_SECRET) },
    body,
  });
  const json = (await response.json()) as { workflowId?: string };
  if (!response.ok || !json.workflowId) {
    throw new Error(`webhook answered ${response.status}: ${JSON.stringify(json)}`);
  }
  return json.workflowId;
}
