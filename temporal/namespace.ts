// The namespace the bridge needs, and its search attributes: created once by an admin
// (`chatwoot-bridge setup`), only read by serving processes, which need no admin rights.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from '@temporalio/client';
import { isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import {
  connectClient,
  describeConnection,
  type TemporalConnectionSettings,
} from './connection.js';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  ensureSearchAttributes,
  type SearchAttributeTypeName,
} from '../workers/devServer.js';

/** gRPC status codes (@grpc/grpc-js is not a direct dependency). */
const grpcStatus = { NOT_FOUND: 5, PERMISSION_DENIED: 7, UNIMPLEMENTED: 12 } as const;
const codeOf = (error: unknown): number | undefined =>
  isGrpcServiceError(error) ? Number(error.code) : undefined;
const SETUP_COMMAND = 'npm run setup (chatwoot-bridge setup)';

/** The namespace is missing, or lacks search attributes: what to run to fix it is in the message. */
export class NamespaceNotReadyError extends Error {
  constructor(
    message: string,
    readonly missing: string[],
  ) {
    super(message);
  }
}

/**
 * Read-only start-up check for workers and the API: the namespace exists and has every search
 * attribute the bridge writes. Throws {@link NamespaceNotReadyError} naming what is missing.
 */
export async function checkNamespace(
  connection: Connection,
  namespace: string,
  attributes: Record<string, SearchAttributeTypeName> = BRIDGE_SEARCH_ATTRIBUTES,
): Promise<void> {
  let aliases: Set<string>;
  try {
    const described = await connection.workflowService.describeNamespace({ namespace });
    aliases = new Set(Object.values(described.config?.customSearchAttributeAliases ?? {}));
  } catch (error) {
    if (codeOf(error) === grpcStatus.NOT_FOUND) {
      throw new NamespaceNotReadyError(
        `Temporal namespace "${namespace}" does not exist. On a self-hosted cluster run ` +
          `${SETUP_COMMAND} once, with admin access; on Temporal Cloud create the namespace ` +
          `(tcld namespace create, or the Cloud UI) and add the search attributes.`,
        [],
      );
    }
    throw error;
  }
  const known = new Set([...aliases, ...(await listedAttributes(connection, namespace))]);
  const missing = Object.keys(attributes).filter((name) => !known.has(name));
  if (missing.length === 0) return;
  const pairs = missing.map((name) => `${name}=${attributes[name]}`);
  throw new NamespaceNotReadyError(
    `Temporal namespace "${namespace}" lacks the search attribute${missing.length > 1 ? 's' : ''} ` +
      `${missing.join(', ')}. On a self-hosted cluster run ${SETUP_COMMAND} once, with admin ` +
      `access. On Temporal Cloud add them with \`tcld namespace search-attributes add ` +
      `--namespace ${namespace} ${pairs.map((pair) => `--search-attribute "${pair}"`).join(' ')}\`` +
      ` or in the Cloud UI (Namespaces → ${namespace} → Search attributes), all of type Keyword.`,
    missing,
  );
}

/** Listing is a read, allowed to namespace readers; where refused, the aliases above answer. */
async function listedAttributes(connection: Connection, namespace: string): Promise<string[]> {
  try {
    const response = await connection.operatorService.listSearchAttributes({ namespace });
    return Object.keys(response.customAttributes ?? {});
  } catch (error) {
    if (
      codeOf(error) === grpcStatus.PERMISSION_DENIED ||
      codeOf(error) === grpcStatus.UNIMPLEMENTED
    )
      return [];
    throw error;
  }
}

export interface SetupReport {
  namespaceCreated: boolean;
  searchAttributesAdded: string[];
}

/**
 * `chatwoot-bridge setup`: creates the namespace (when missing, with `retentionDays`) and the
 * search attributes on a self-hosted cluster. Safe to run again: it adds only what is missing.
 */
export async function setUpNamespace(
  connection: Connection,
  namespace: string,
  options: {
    retentionDays: number;
    attributes?: Record<string, SearchAttributeTypeName>;
  },
): Promise<SetupReport> {
  let namespaceCreated = false;
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (error) {
    if (!(codeOf(error) === grpcStatus.NOT_FOUND)) throw error;
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs(`${options.retentionDays} days`),
      });
      namespaceCreated = true;
    } catch (registerError) {
      // Another setup may have created it meanwhile.
      if (!/already exists/i.test(String(registerError))) throw registerError;
    }
    // A new namespace reaches every service through a cache refreshed every few seconds.
    await eventually(() => connection.operatorService.listSearchAttributes({ namespace }));
  }
  const attributes = options.attributes ?? BRIDGE_SEARCH_ATTRIBUTES;
  const searchAttributesAdded = await eventually(() =>
    ensureSearchAttributes(connection, namespace, attributes),
  );
  await eventually(() => checkNamespace(connection, namespace, attributes));
  return { namespaceCreated, searchAttributesAdded };
}

async function eventually<T>(attempt: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      if (codeOf(error) === grpcStatus.PERMISSION_DENIED) throw error;
      await sleep(250);
    }
  }
}

/**
 * Start-up of a serving process: when the namespace is not ready, one line says what is
 * missing and how to add it, and the process exits 1 (a restart loop would not fix it).
 */
export async function exitUnlessNamespaceReady(
  settings: TemporalConnectionSettings,
): Promise<void> {
  const connection = await connectClient(settings);
  try {
    await checkNamespace(connection, settings.namespace);
  } catch (error) {
    if (!(error instanceof NamespaceNotReadyError)) throw error;
    console.error(`${error.message} (Temporal at ${describeConnection(settings)})`);
    process.exit(1);
  } finally {
    await connection.close();
  }
}

/**
 * The API's variant: it starts while Temporal is down (webhooks answer 500 and Chatwoot
 * retries), so the check runs beside start-up; an unreachable server only warns.
 */
export function checkNamespaceInBackground(settings: TemporalConnectionSettings): void {
  exitUnlessNamespaceReady(settings).catch((error: unknown) => {
    console.warn(
      `could not check Temporal namespace "${settings.namespace}" at ` +
        `${describeConnection(settings)}: ${error instanceof Error ? error.message : String(error)}`,
    );
  });
}
