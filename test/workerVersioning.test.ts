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

/** A worker of `stack`'s bridge polling as one version of a Worker Deployment. */
async function versionedWorker(
  stack: Stack,
  deployment: { name: string; buildId?: string; defaultVersioningBehavior: string },
): Promise<BridgeWorker> {
  const config = parseConfig({ ...stack.config, worker: { deployment } });
  const worker = await createBridgeWorker({
    config,
    address: inject('temporalAddress'),
    workflowBundlePath: inject('workflowBundlePath'),
    live: new LiveConfig(config),
  });
  void worker.run();
  return worker;
}

const temporalCli = async (...args: string[]) =>
  run(await ensureTemporalCli(), [
    ...args,
    '--address',
    inject('temporalAddress'),
    '--output',
    'json',
  ]);

/** The task queues a version's workers poll, each with its type (workflow or activity). */
async function versionQueues(stack: Stack, deploymentName: string, buildId: string) {
  const { workerDeploymentVersionInfo } =
    await stack.temporal.connection.workflowService.describeWorkerDeploymentVersion({
      namespace: stack.config.temporal.namespace,
      deploymentVersion: { deploymentName, buildId },
    });
  const entries = (workerDeploymentVersionInfo?.taskQueueInfos ?? []).map(
    ({ name, type }) => `${name}:${taskQueueTypeName(type)}`,
  );
  return [...new Set(entries)].sort();
}

const taskQueueTypeName = (type: number | null | undefined) =>
  type === 1 ? 'workflow' : type === 2 ? 'activity' : `type-${type}`;

/**
 * What an operator does once the new workers poll (README "Changing workflow code safely").
 * The server refuses a version that lacks a queue type the current one has, and a queue's
 * workflow and activity pollers register separately, so wait for every pair.
 */
async function makeCurrent(stack: Stack, deploymentName: string, buildId: string) {
  const { taskQueue } = stack.config.temporal;
  await expect
    .poll(() => versionQueues(stack, deploymentName, buildId).catch(() => []), { timeout: 20_000 })
    .toEqual(
      [
        `${taskQueue}:workflow`,
        `${taskQueue}:activity`,
        `${agentTaskQueue(taskQueue)}:activity`,
      ].sort(),
    );
  // The deployment's own record can lag its version's pollers ("Worker Deployment not found").
  await expect
    .poll(
      () =>
        temporalCli(
          'worker',
          'deployment',
          'set-current-version',
          '--deployment-name',
          deploymentName,
          '--build-id',
          buildId,
          '--yes',
        ).then(
          () => 'current',
          (error: unknown) => String(error),
        ),
      { timeout: 20_000, interval: 500 },
    )
    .toBe('current');
}

/** The version a workflow runs on and its behaviour there, as `describe` reports them. */
async function versionOf(stack: Stack, workflowId: string) {
  const described = await stack.temporal.workflow.getHandle(workflowId).describe();
  const versioning = described.raw.workflowExecutionInfo?.versioningInfo;
  return {
    buildId: versioning?.deploymentVersion?.buildId,
    deploymentName: versioning?.deploymentVersion?.deploymentName,
    behavior: versioning?.behavior,
  };
}

/** Sends a customer message and waits for its delivery; returns the delivery's workflow id. */
async function converse(stack: Stack, conversationId: number, content: string) {
  const { json } = await stack.sendMessage({ conversationId, content });
  const workflowId = json.workflowId as string;
  expect((await stack.result(workflowId)).outcome).toBe('delivered');
  return workflowId;
}

/**
 * Versioned workers on the suite's real dev server: a version registers both task queues,
 * serves conversations once the Temporal CLI makes it current, and what it ran carries the
 * version and its behaviour.
 */
describe('worker versioning on a real Temporal server: PINNED', () => {
  let stack: Stack;
  const workers: BridgeWorker[] = [];
  // One deployment per run: the dev server outlives this file.
  const deploymentName = `bridge-test-${randomUUID()}`;
  let buildId: string;

  beforeAll(async () => {
    stack = await startStack({ worker: false });
    buildId = buildIdFromBundle(deploymentName, inject('workflowBundlePath'));
    workers.push(
      await versionedWorker(stack, { name: deploymentName, defaultVersioningBehavior: 'PINNED' }),
    );
  });

  afterAll(async () => {
    for (const worker of workers) await worker.shutdown();
    await stack?.stop();
  });

  it('registers both task queues in its version and runs a conversation once it is current', async () => {
    await makeCurrent(stack, deploymentName, buildId);
    const { stdout } = await temporalCli(
      'worker',
      'deployment',
      'describe',
      '--name',
      deploymentName,
    );
    expect(JSON.stringify(JSON.parse(stdout))).toContain(buildId);

    const delivery = await converse(stack, 801, 'versioned hello');
    expect(stack.chatwoot.messages(stack.accountId, 801).map((m) => m.content)).toEqual([
      'echo: versioned hello',
    ]);
    const actor = conversationWorkflowId(stack.accountId, 801);
    for (const workflowId of [delivery, actor]) {
      expect(await versionOf(stack, workflowId)).toEqual({
        deploymentName,
        buildId,
        behavior: VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
      });
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
      .toEqual(expect.arrayContaining([delivery, actor]));
    // The CLI shows the same to an operator.
    await eventually(
      async () => {
        const shown = await temporalCli('workflow', 'describe', '--workflow-id', delivery);
        return shown.stdout.includes(buildId) && shown.stdout.includes(deploymentName);
      },
      { description: 'the deployment version in `temporal workflow describe`' },
    );
  }, 60_000);

  it('after a newer version is made current, a pinned actor and its deliveries stay on theirs', async () => {
    workers.push(
      await versionedWorker(stack, {
        name: deploymentName,
        buildId: 'next-build',
        defaultVersioningBehavior: 'PINNED',
      }),
    );
    await makeCurrent(stack, deploymentName, 'next-build');

    const pinned = await converse(stack, 801, 'still the old code');
    expect((await versionOf(stack, pinned)).buildId).toBe(buildId);
    expect((await versionOf(stack, conversationWorkflowId(stack.accountId, 801))).buildId).toBe(
      buildId,
    );
    // A new conversation starts on the current version.
    await converse(stack, 802, 'new code');
    expect((await versionOf(stack, conversationWorkflowId(stack.accountId, 802))).buildId).toBe(
      'next-build',
    );
  }, 60_000);
});

describe('worker versioning on a real Temporal server: AUTO_UPGRADE', () => {
  let stack: Stack;
  const workers: BridgeWorker[] = [];
  const deploymentName = `bridge-test-${randomUUID()}`;

  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(async () => {
    for (const worker of workers) await worker.shutdown();
    await stack?.stop();
  });

  it('a running actor moves to the version made current at its next message', async () => {
    const deployment = (buildId: string) => ({
      name: deploymentName,
      buildId,
      defaultVersioningBehavior: 'AUTO_UPGRADE',
    });
    workers.push(await versionedWorker(stack, deployment('first')));
    await makeCurrent(stack, deploymentName, 'first');
    await converse(stack, 811, 'before the deploy');
    const actor = conversationWorkflowId(stack.accountId, 811);
    expect(await versionOf(stack, actor)).toEqual({
      deploymentName,
      buildId: 'first',
      behavior: VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE,
    });

    workers.push(await versionedWorker(stack, deployment('second')));
    await makeCurrent(stack, deploymentName, 'second');
    const delivery = await converse(stack, 811, 'after the deploy');
    expect((await versionOf(stack, delivery)).buildId).toBe('second');
    expect((await versionOf(stack, actor)).buildId).toBe('second');
    expect(stack.chatwoot.messages(stack.accountId, 811).map((m) => m.content)).toEqual([
      'echo: before the deploy',
      'echo: after the deploy',
    ]);
  }, 60_000);
});
