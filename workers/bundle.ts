import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * The workflow bundle built once (`npm run build`) so a worker starts in about a second instead
 * of bundling the workflow code at every start. Beside it, a manifest lists every file that went
 * into it with its SHA-256: a worker refuses a bundle whose sources differ from the installed ones
 * (a stale build, another SDK version), since running it would silently run other workflow code.
 */

const projectRoot = fileURLToPath(new URL('../', import.meta.url));
const workflowsPath = join(projectRoot, 'workflows', 'index.ts');

/**
 * Workflow interceptors in every bundle, tracing on or off: they trace only runs a traced client
 * started or signalled, so one bundle (the Dockerfile's) serves both.
 */
export const workflowInterceptorModules = [
  join(projectRoot, 'observability', 'workflowTracing.ts'),
];

/** Where `npm run build` writes the bundle (git- and docker-ignored; the Dockerfile builds it). */
export const defaultBundlePath = join(projectRoot, 'dist', 'workflow-bundle.js');

export interface BundleManifest {
  /** Project-relative path → SHA-256 of each file webpack put in the bundle. */
  sources: Record<string, string>;
}

export const manifestPathFor = (bundlePath: string) => bundlePath.replace(/\.js$/, '') + '.json';

/** Bundles the workflow code into `bundlePath` and writes its manifest beside it. */
export async function buildWorkflowBundle(bundlePath = defaultBundlePath): Promise<BundleManifest> {
  const files = new Set<string>();
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules,
    logger: quietLogger,
    webpackConfigHook: (config) => {
      config.plugins = [...(config.plugins ?? []), collectSources(files)];
      return config;
    },
  });
  const manifest: BundleManifest = { sources: hashSources([...files].sort()) };
  mkdirSync(dirname(bundlePath), { recursive: true });
  writeFileSync(bundlePath, code);
  writeFileSync(manifestPathFor(bundlePath), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export class StaleBundleError extends Error {
  override name = 'StaleBundleError';
}

/** Throws a StaleBundleError naming what differs unless the bundle matches the installed sources. */
export function verifyWorkflowBundle(bundlePath: string): void {
  const rebuild = `rebuild it with \`npm run build\`, or unset WORKFLOW_BUNDLE_PATH to bundle at start`;
  if (!existsSync(bundlePath)) {
    throw new StaleBundleError(`workflow bundle ${bundlePath} does not exist: ${rebuild}`);
  }
  const manifestPath = manifestPathFor(bundlePath);
  if (!existsSync(manifestPath)) {
    throw new StaleBundleError(
      `workflow bundle ${bundlePath} has no manifest (${manifestPath}), so its sources cannot be checked: ${rebuild}`,
    );
  }
  const { sources } = JSON.parse(readFileSync(manifestPath, 'utf8')) as BundleManifest;
  const installed = hashSources(Object.keys(sources));
  const changed = Object.keys(sources).filter((file) => installed[file] !== sources[file]);
  if (changed.length > 0) {
    const shown = changed.slice(0, 5).join(', ') + (changed.length > 5 ? ', …' : '');
    throw new StaleBundleError(
      `workflow bundle ${bundlePath} was built from other sources than the installed ones (${changed.length} changed: ${shown}): ${rebuild}`,
    );
  }
}

/** SHA-256 of each project-relative file; a missing file hashes as "missing". */
function hashSources(files: string[]): Record<string, string> {
  return Object.fromEntries(
    files.map((file) => {
      const path = join(projectRoot, file);
      const hash = existsSync(path)
        ? createHash('sha256').update(readFileSync(path)).digest('hex')
        : 'missing';
      return [file, hash];
    }),
  );
}

/** A webpack plugin recording the project files (ours and node_modules') each module came from. */
function collectSources(files: Set<string>) {
  return {
    apply(compiler: {
      hooks: {
        done: { tap(name: string, fn: (stats: { compilation: CompilationLike }) => void): void };
      };
    }) {
      compiler.hooks.done.tap('bridge-bundle-sources', ({ compilation }) => {
        for (const module of compilation.modules) {
          const resource = (module as { resource?: string }).resource?.split('?')[0];
          if (!resource || !isAbsolute(resource) || !existsSync(resource)) continue;
          const file = projectFile(resource);
          if (file) files.add(file);
        }
      });
    },
  };
}

/**
 * A bundled file as a project-relative path. Packages are named by their path under
 * node_modules, wherever webpack resolved them (node_modules may be a symlink).
 */
function projectFile(resource: string): string | undefined {
  const path = resource.split('\\').join('/');
  const inPackages = path.indexOf('/node_modules/');
  if (inPackages >= 0) return path.slice(inPackages + 1);
  const file = relative(projectRoot, resource).split('\\').join('/');
  return file.startsWith('..') ? undefined : file;
}

interface CompilationLike {
  modules: Iterable<unknown>;
}

const noop = () => {};
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

// `npm run build` (or `tsx workers/bundle.ts [path]`).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const target = resolve(process.argv[2] ?? defaultBundlePath);
  const started = performance.now();
  const manifest = await buildWorkflowBundle(target);
  console.log(
    `workflow bundle ${relative(process.cwd(), target)}: ${Object.keys(manifest.sources).length} source files, ${Math.round(performance.now() - started)} ms`,
  );
}
