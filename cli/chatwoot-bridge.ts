/**
 * `chatwoot-bridge send …`: sends a proactive message through the bridge's Temporal workers,
 * the same way `POST /api/v1/messages` does. Prints the workflow id on stdout.
 * `chatwoot-bridge setup`: creates the namespace and search attributes (admin, once).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, type Connection } from '@temporalio/client';
import { bridgeDataConverter } from '../codec/dataConverter.js';
import { TemporalUnavailableError } from '../api/deliveries.js';
import {
  prepareProactiveMessage,
  ProactiveRequestError,
  sendOptionsFromConfig,
  sendProactiveMessage,
  type ProactiveMessageRequest,
} from '../client/proactive.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { BridgeConfig } from '../config/schema.js';
import {
  connectClient,
  describeConnection,
  resolveTemporalConnection,
  TemporalConnectionError,
} from '../temporal/connection.js';
import { setUpNamespace } from '../temporal/namespace.js';
import type { ProactiveReport } from '../workflows/proactiveTypes.js';

const USAGE = `Usage:
  chatwoot-bridge setup
  \`npm run setup\`: creates the Temporal namespace (if missing, keeping closed workflows
  temporal.retentionDays) and the bridge's search attributes. Needs admin access to a
  self-hosted cluster; run it once per namespace (again after an upgrade: it adds only what
  is missing). On Temporal Cloud use tcld or the Cloud UI instead (see the README).

  chatwoot-bridge send --text TEXT --conversation ID [options]
  chatwoot-bridge send --text TEXT --inbox ID (--contact-email E | --contact-phone P | --contact-identifier I) [--contact-name N] [options]

Options:
  --account ID           Chatwoot account (default: chatwoot.accountId from the configuration)
  --send-at ISO          send at this time, e.g. 2030-01-01T09:00:00Z (a past time sends now)
  --idempotency-key K    the same key twice sends one message (default: a random UUID)
  --private              a private note for the team instead of a message to the contact
  --agent ID             the agent on whose behalf it is sent (searchable as AgentId)
  --wait                 wait until it is posted and print the result as JSON

The configuration comes from BRIDGE_CONFIG (default config/example.json); Temporal's own
variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
TEMPORAL_PROFILE of temporal.toml) and TEMPORAL_TASK_QUEUE override it. Exit codes: 0 sent, 1 failed, 2 usage.`;

/** Request fields as the flags that set them, for error messages. */
const FLAGS: Record<string, string> = {
  accountId: '--account',
  conversationId: '--conversation',
  inboxId: '--inbox',
  contact: '--contact-email, --contact-phone or --contact-identifier',
  'contact.email': '--contact-email',
  'contact.phone_number': '--contact-phone',
  'contact.identifier': '--contact-identifier',
  'contact.name': '--contact-name',
  content: '--text',
  sendAt: '--send-at',
  agentId: '--agent',
  idempotencyKey: '--idempotency-key',
};

const exampleConfig = fileURLToPath(new URL('../config/example.json', import.meta.url));

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'setup') {
    if (rest.length > 0) throw new UsageError(`setup takes no arguments (got ${rest.join(' ')})`);
    return setup(readConfig());
  }
  if (command !== 'send') throw new UsageError(`unknown command "${command}"`);
  const { values } = parseSendArgs(rest);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }

  const request = toRequest(values);
  const config = readConfig();
  const options = {
    ...sendOptionsFromConfig(config),
    ...(values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {}),
  };
  // Bad flags are reported before any connection is attempted.
  prepareProactiveMessage(request, options);
  const settings = resolveTemporalConnection(config);
  let connection: Connection;
  try {
    connection = await connectClient(settings, { connectTimeoutMs: 5_000 });
  } catch (error) {
    console.error(
      `cannot reach Temporal at ${describeConnection(settings)}: ${errorMessage(error)}`,
    );
    return 1;
  }
  try {
    const client = new Client({
      connection,
      namespace: settings.namespace,
      dataConverter: bridgeDataConverter(config),
    });
    const { workflowId, duplicate } = await sendProactiveMessage(client, request, options);
    console.log(workflowId);
    if (duplicate) console.error('already sent with this idempotency key: nothing new started');
    if (!values.wait) return 0;
    const report = (await client.workflow.getHandle(workflowId).result()) as ProactiveReport;
    console.log(JSON.stringify(report));
    return report.outcome === 'delivered' ? 0 : 1;
  } finally {
    await connection.close();
  }
}

async function setup(config: BridgeConfig): Promise<number> {
  const settings = resolveTemporalConnection(config);
  let connection: Connection;
  try {
    connection = await connectClient(settings, { connectTimeoutMs: 5_000 });
  } catch (error) {
    console.error(
      `cannot reach Temporal at ${describeConnection(settings)}: ${errorMessage(error)}`,
    );
    return 1;
  }
  try {
    const report = await setUpNamespace(connection, settings.namespace, {
      retentionDays: config.temporal.retentionDays,
    });
    console.log(
      `${report.namespaceCreated ? 'created' : 'found'} namespace "${settings.namespace}"` +
        (report.namespaceCreated ? ` (retention ${config.temporal.retentionDays} days)` : '') +
        `; search attributes ${report.searchAttributesAdded.length > 0 ? `added: ${report.searchAttributesAdded.join(', ')}` : 'all present'}`,
    );
    return 0;
  } catch (error) {
    console.error(
      `setup of namespace "${settings.namespace}" at ${describeConnection(settings)} failed: ` +
        `${errorMessage(error)}\n(It needs admin access to a self-hosted cluster; on Temporal ` +
        'Cloud add the search attributes with tcld or the Cloud UI, see the README.)',
    );
    return 1;
  } finally {
    await connection.close();
  }
}

function parseSendArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        text: { type: 'string' },
        conversation: { type: 'string' },
        inbox: { type: 'string' },
        'contact-email': { type: 'string' },
        'contact-phone': { type: 'string' },
        'contact-identifier': { type: 'string' },
        'contact-name': { type: 'string' },
        account: { type: 'string' },
        'send-at': { type: 'string' },
        'idempotency-key': { type: 'string' },
        private: { type: 'boolean', default: false },
        agent: { type: 'string' },
        wait: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
}

type SendValues = ReturnType<typeof parseSendArgs>['values'];

function toRequest(values: SendValues): ProactiveMessageRequest {
  const id = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  const contact = {
    email: values['contact-email'],
    phone_number: values['contact-phone'],
    identifier: values['contact-identifier'],
    name: values['contact-name'],
  };
  const hasContact = Object.values(contact).some((value) => value !== undefined);
  return dropUndefined({
    accountId: id(values.account),
    conversationId: id(values.conversation),
    inboxId: id(values.inbox),
    contact: hasContact ? dropUndefined(contact) : undefined,
    content: values.text ?? '',
    private: values.private,
    sendAt: values['send-at'],
    agentId: values.agent,
  }) as ProactiveMessageRequest;
}

function dropUndefined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(record).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

function readConfig(): BridgeConfig {
  if (!process.env.BRIDGE_CONFIG) {
    console.error(`BRIDGE_CONFIG is not set: using ${exampleConfig}.`);
  }
  return loadConfig({ ...process.env, BRIDGE_CONFIG: process.env.BRIDGE_CONFIG ?? exampleConfig });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (error instanceof ProactiveRequestError) {
    const flag = FLAGS[error.field];
    console.error(`${flag ? `${flag} (${error.field})` : error.field}: ${error.detail}`);
    process.exitCode = 2;
  } else if (
    error instanceof ConfigError ||
    error instanceof TemporalUnavailableError ||
    error instanceof TemporalConnectionError
  ) {
    console.error(error.message);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
