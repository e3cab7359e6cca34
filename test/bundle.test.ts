import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { manifestPathFor, verifyWorkflowBundle, type BundleManifest } from '../workers/bundle.js';
import { freePort } from '../workers/devServer.js';
import { startStack, type Stack } from './helpers/stack.js';
import { workerProcesses } from './helpers/workerProcess.js';

/**
 * Production workers start from the bundle `npm run build` wrote; a bundle built from other
 * sources than the installed ones (a stale build, another SDK) is refused, never run.
 * test/globalSetup.ts builds the suite's bundle the same way, with its manifest.
 */
describe('prebuilt workflow bundle', () => {
  const built = inject('workflowBundlePath');

  /** A copy of the suite's bundle whose manifest says `file` had other contents. */
  function bundleBuiltFrom(edit: (manifest: BundleManifest) => void): string {
    const path = join(mkdtempSync(join(tmpdir(), 'bridge-stale-')), 'workflow-bundle.js');
    copyFileSync(built, path);
    const manifest = JSON.parse(readFileSync(manifestPathFor(built), 'utf8')) as BundleManifest;
    edit(manifest);
    writeFileSync(manifestPathFor(path), JSON.stringify(manifest));
    return path;
  }

  it('lists every source it was built from, ours and the SDK', () => {
    const { sources } = JSON.parse(readFileSync(manifestPathFor(built), 'utf8')) as BundleManifest;
    expect(Object.keys(sources)).toEqual(
      expect.arrayContaining(['workflows/index.ts', 'workflows/messageDelivery.ts']),
    );
    expect(
      Object.keys(sources).some((file) => file.startsWith('node_modules/@temporalio/workflow/')),
    ).toBe(true);
    expect(Object.keys(sources).some((file) => file.startsWith('node_modules/xstate/'))).toBe(true);
    expect(() => verifyWorkflowBundle(built)).not.toThrow();
  });

  it('refuses a bundle built from other sources, naming the file and the fix', () => {
    const stale = bundleBuiltFrom((manifest) => {
      manifest.sources['workflows/messageDelivery.ts'] = '0'.repeat(64);
    });
    expect(() => verifyWorkflowBundle(stale)).toThrow(
      /built from other sources than the installed ones \(1 changed: workflows\/messageDelivery\.ts\).*npm run build/,
    );
    const otherSdk = bundleBuiltFrom((manifest) => {
      manifest.sources['node_modules/@temporalio/workflow/lib/index.js'] = '0'.repeat(64);
    });
    expect(() => verifyWorkflowBundle(otherSdk)).toThrow(/@temporalio\/workflow/);
  });

  it('refuses a bundle without a manifest, and a missing bundle', () => {
    const bare = join(mkdtempSync(join(tmpdir(), 'bridge-bare-')), 'workflow-bundle.js');
    copyFileSync(built, bare);
    expect(() => verifyWorkflowBundle(bare)).toThrow(/has no manifest/);
    expect(() => verifyWorkflowBundle(join(tmpdir(), 'no-such-bundle.js'))).toThrow(
      /does not exist/,
    );
  });

  describe('the worker process', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ worker: false });
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('exits with the message instead of running a stale bundle', async () => {
      const stale = bundleBuiltFrom((manifest) => {
        manifest.sources['workflows/conversation.ts'] = '0'.repeat(64);
      });
      // No Temporal to reach: the check comes first, so a busy or absent server never hides it.
      const unreachable = `127.0.0.1:${await freePort()}`;
      const workers = workerProcesses(
        { ...stack.config, temporal: { ...stack.config.temporal, address: unreachable } },
        { WORKFLOW_BUNDLE_PATH: stale },
      );
      const child = workers.start();
      try {
        const [code] = (await once(child, 'exit')) as [number | null];
        expect(code).toBe(1);
        expect(workers.logs(child).join('\n')).toContain(
          'was built from other sources than the installed ones (1 changed: workflows/conversation.ts)',
        );
      } finally {
        workers.killAll();
      }
    }, 60_000);
  });
});
