import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import type { DeploymentConfig } from '../config/schema.js';
import { manifestPathFor, type BundleManifest } from './bundle.js';

/**
 * Worker Versioning from `worker.deployment` (README "Changing workflow code safely"): both of
 * the bridge's workers poll as one Worker Deployment version, so the exchanges a pinned delivery
 * schedules on the agents' queue reach workers of its own version too.
 */

/** A versioned worker cannot start: the message says what to set. */
export class DeploymentConfigError extends Error {
  override name = 'DeploymentConfigError';
}

/** The SDK's `workerDeploymentOptions`, or undefined when `worker.deployment` is unset (off). */
export function workerDeploymentOptions(
  deployment: DeploymentConfig | undefined,
  bundlePath: string | undefined,
): WorkerDeploymentOptions | undefined {
  if (!deployment) return undefined;
  const buildId = deployment.buildId ?? buildIdFromBundle(deployment.name, bundlePath);
  return {
    useWorkerVersioning: true,
    version: { deploymentName: deployment.name, buildId },
    defaultVersioningBehavior: deployment.defaultVersioningBehavior,
  };
}

/**
 * A build id that names the workflow code itself: a hash of the prebuilt bundle's manifest (every
 * source file webpack put in it, with its SHA-256). The same sources give the same id on every
 * machine and every build, so a deploy that changes only activities stays in the same version,
 * and a change to workflow code (or to the SDK bundled with it) always makes a new one.
 */
export function buildIdFromBundle(deploymentName: string, bundlePath: string | undefined): string {
  const manifestPath = bundlePath ? manifestPathFor(bundlePath) : undefined;
  if (!manifestPath || !existsSync(manifestPath)) {
    // Bundling at start gives no stable id to derive: every start would look like a new build.
    throw new DeploymentConfigError(
      `worker.deployment "${deploymentName}" has no buildId and the worker has no prebuilt workflow bundle to derive one from: ` +
        'set worker.deployment.buildId (e.g. the commit or image tag), or build the bundle with `npm run build` and set WORKFLOW_BUNDLE_PATH',
    );
  }
  const { sources } = JSON.parse(readFileSync(manifestPath, 'utf8')) as BundleManifest;
  const listing = Object.keys(sources)
    .sort()
    .map((file) => `${file} ${sources[file]}\n`)
    .join('');
  return `bundle-${createHash('sha256').update(listing).digest('hex').slice(0, 16)}`;
}

/** The Worker.create options for `worker.deployment`: none when it is unset. */
export function versioningWorkerOptions(
  deployment: DeploymentConfig | undefined,
  bundlePath: string | undefined,
): { workerDeploymentOptions?: WorkerDeploymentOptions } {
  const options = workerDeploymentOptions(deployment, bundlePath);
  return options ? { workerDeploymentOptions: options } : {};
}
