import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  LOW_LATENCY_DYNAMIC_CONFIG,
  startDevServer,
} from '../workers/devServer.js';
import { startTemporalCluster } from '../workers/temporalCluster.js';
import { buildWorkflowBundle } from '../workers/bundle.js';

/** Low on purpose; test/conversation.test.ts relies on it to force continue-as-new. */
export const SUGGEST_CONTINUE_AS_NEW_AFTER_EVENTS = 40;

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    /** The dev server's web UI (test/ui.browser.test.ts drives it in Chromium). */
    temporalUiUrl: string;
    workflowBundlePath: string;
  }
}

const dynamicConfig = {
  ...LOW_LATENCY_DYNAMIC_CONFIG,
  // Actors are told to continue-as-new after a few dozen events instead of thousands, so
  // every conversation test also exercises carrying the actor's state across runs.
  'limit.historyCount.suggestContinueAsNew': SUGGEST_CONTINUE_AS_NEW_AFTER_EVENTS,
};

/**
 * `BRIDGE_TEST_TEMPORAL=cluster` (npm run test:cluster): the real Temporal server on
 * PostgreSQL with several history shards instead of the dev server; it has no web UI.
 */
function startTemporal(): Promise<{ address: string; uiUrl?: string; stop(): Promise<void> }> {
  if (process.env.BRIDGE_TEST_TEMPORAL === 'cluster') {
    return startTemporalCluster({ searchAttributes: BRIDGE_SEARCH_ATTRIBUTES, dynamicConfig });
  }
  return startDevServer({ searchAttributes: BRIDGE_SEARCH_ATTRIBUTES, dynamicConfig });
}

export default async function setup(project: TestProject) {
  // Built like `npm run build` (with its manifest): every test worker checks it at start.
  const bundlePath = join(mkdtempSync(join(tmpdir(), 'bridge-bundle-')), 'workflows.js');
  const [server] = await Promise.all([startTemporal(), buildWorkflowBundle(bundlePath)]);
  project.provide('temporalAddress', server.address);
  project.provide('temporalUiUrl', server.uiUrl ?? '');
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await server.stop();
  };
}
