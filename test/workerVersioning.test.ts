import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LiveConfig } from '../config/live.js';
import { ConfigError, parseConfig } from '../config/load.js';
import { manifestPathFor } from '../workers/bundle.js';
import {
  buildIdFromBundle,
  DeploymentConfigError,
  workerDeploymentOptions,
} from '../workers/deploymentOptions.js';
import { ensureTemporalCli } from '../workers/temporalCli.js';
import { createBridgeWorker, type BridgeWorker } from '../workers/worker.js';
import { agentTaskQueue, conversationWorkflowId } from '../workflows/shared.js';
import { eventually } from './helpers/eventually.js';
import { startStack, type Stack } from './helpers/stack.js';

const run = promisify(execFile);
const { VersioningBehavior } = proto.temporal.api.enums.v1;
const base = {
  chatwoot: { baseUrl: 'http://127.0.0.1:1', apiAccessToken: 't', accountId: 1 },
  agents: [{ id: 'a', transport: 'ws', url: 'ws://127.0.0.1:1' }],
  routes: [{ inboxId: 1, agentId: 'a' }],
};
const configError = (worker: unknown) => {
  try {
    parseConfig({ ...base, worker });
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a configuration error');
};

describe('worker.deployment configuration', () => {
  it('is off by default', () => {
    expect(parseConfig(base).worker.deployment).toBeUndefined();
    expect(workerDeploymentOptions(undefined, inject('workflowBundlePath'))).toBeUndefined();
  });

  it('defaults to AUTO_UPGRADE and passes name and build id to the SDK', () => {
    const { worker } = parseConfig({
      ...base,
      worker: { deployment: { name: 'b', buildId: '7' } },
    });
    expect(workerDeploymentOptions(worker.deployment, undefined)).toEqual({
      useWorkerVersioning: true,
      version: { deploymentName: 'b', buildId: '7' },
      defaultVersioningBehavior: 'AUTO_UPGRADE',
    });
  });

  it('says what to fix in a bad deployment', () => {
    expect(configError({ deployment: { name: 'bridge.prod' } })).toContain(
      "worker.deployment.name: a deployment name may not contain '.' or ':'",
    );
    expect(configError({ deployment: { name: '' } })).toContain('name the Worker Deployment');
    expect(configError({ deployment: { name: 'b', buildId: '__x' } })).toContain(
      "build ids starting with '__' are Temporal's own",
    );
    expect(
      configError({ deployment: { name: 'b', defaultVersioningBehavior: 'pinned' } }),
    ).toContain("use 'AUTO_UPGRADE' or 'PINNED'");
  });

  it('derives the build id from the bundle manifest: same sources, same id', () => {
    const bundlePath = inject('workflowBundlePath');
    const id = buildIdFromBundle('b', bundlePath);
    expect(id).toMatch(/^bundle-[0-9a-f]{16}$/);
    expect(buildIdFromBundle('b', bundlePath)).toBe(id);

    // A copy of the manifest with one workflow source changed is another build.
    const copy = join(mkdtempSync(join(tmpdir(), 'bridge-buildid-')), 'workflows.js');
    const manifest = JSON.parse(readFileSync(manifestPathFor(bundlePath), 'utf8')) as {
      sources: Record<string, string>;
    };
    writeFileSync(manifestPathFor(copy), JSON.stringify(manifest));
    expect(buildIdFromBundle('b', copy)).toBe(id);
    manifest.sources['workflows/conversation.ts'] = '0'.repeat(64);
    writeFileSync(manifestPathFor(copy), JSON.stringify(manifest));
    expect(buildIdFromBundle('b', copy)).not.toBe(id);
  });

  it('refuses a deployment without build id when the worker bundles at start', () => {
    expect(() => buildIdFromBundle('b', undefined)).toThrow(DeploymentConfigError);
    expect(() => buildIdFromBundle('b', undefined)).toThrow(/set worker\.deployment\.buildId/);
  });
});

/**
 * A versioned worker on the suite's real dev server: it registers its version with both task
 * queues, serves a conversation once the version is made current with the Temporal CLI, and the
 * workflows it ran carry that version and their behaviour.
 */
describe('worker versioning on a real Temporal server', () => {
  let stack: Stack;
  let worker: BridgeWorker;
  let cli: string;
  // One deployment per run: the dev server outlives this file.
  const deploymentName = `bridge-test-${randomUUID()}`;
  let buildId: string;

  beforeAll(async () => {
    cli = await ensureTemporalCli();
    stack = await startStack({ worker: false });
    const config = parseConfig({
      ...stack.config,
      worker: { deployment: { name: deploymentName, defaultVersioningBehavior: 'PINNED' } },
    });
    buildId = buildIdFromBundle(deploymentName, inject('workflowBundlePath'));
    worker = await createBridgeWorker({
      config,
      address: inject('temporalAddress'),
      workflowBundlePath: inject('workflowBundlePath'),
      live: new LiveConfig(config),
    });
    void worker.run();
  });

  afterAll(async () => {
    await worker?.shutdown();
    await stack?.stop();
  });

  const temporal = (...args: string[]) =>
    run(cli, [...args, '--address', inject('temporalAddress'), '--output', 'json']);

  it('registers both task queues in its version and runs a conversation once it is current', async () => {
    const { taskQueue } = stack.config.temporal;
    const queues = async () => {
      const { workerDeploymentVersionInfo } =
        await stack.temporal.connection.workflowService.describeWorkerDeploymentVersion({
          namespace: stack.config.temporal.namespace,
          deploymentVersion: { deploymentName, buildId },
        });
      // One entry per task queue type: the main queue serves workflows and activities.
      const names = (workerDeploymentVersionInfo?.taskQueueInfos ?? []).map(({ name }) => name);
      return [...new Set(names)].sort();
    };
    await expect
      .poll(() => queues().catch(() => []), { timeout: 20_000 })
      .toEqual([taskQueue, agentTaskQueue(taskQueue)].sort());

    // What an operator does after the new workers poll (README "Changing workflow code safely").
    await temporal(
      'worker',
      'deployment',
      'set-current-version',
      '--deployment-name',
      deploymentName,
      '--build-id',
      buildId,
      '--yes',
    );
    const { stdout } = await temporal('worker', 'deployment', 'describe', '--name', deploymentName);
    expect(JSON.stringify(JSON.parse(stdout))).toContain(buildId);

    const { json } = await stack.sendMessage({ conversationId: 801, content: 'versioned hello' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(stack.chatwoot.messages(stack.accountId, 801).map((m) => m.content)).toEqual([
      'echo: versioned hello',
    ]);

    for (const workflowId of [
      json.workflowId as string,
      conversationWorkflowId(stack.accountId, 801),
    ]) {
      const described = await stack.temporal.workflow.getHandle(workflowId).describe();
      const versioning = described.raw.workflowExecutionInfo?.versioningInfo;
      expect(versioning?.deploymentVersion).toEqual({ deploymentName, buildId });
      expect(versioning?.behavior).toBe(VersioningBehavior.VERSIONING_BEHAVIOR_PINNED);
    }
    // What an operator lists to see what still runs on a version (README).
    const onVersion = async () => {
      const ids: string[] = [];
      const query = `TemporalWorkerDeploymentVersion = "${deploymentName}:${buildId}"`;
      for await (const execution of stack.temporal.workflow.list({ query })) {
        ids.push(execution.workflowId);
      }
      return ids;
    };
    await expect
      .poll(onVersion, { timeout: 20_000 })
      .toEqual(
        expect.arrayContaining([
          json.workflowId as string,
          conversationWorkflowId(stack.accountId, 801),
        ]),
      );
    // The CLI shows the same to an operator.
    await eventually(
      async () => {
        const workflowId = json.workflowId as string;
        const shown = await temporal('workflow', 'describe', '--workflow-id', workflowId);
        return shown.stdout.includes(buildId) && shown.stdout.includes(deploymentName);
      },
      { description: 'the deployment version in `temporal workflow describe`' },
    );
  }, 60_000);
});
