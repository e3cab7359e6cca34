// Locates (or builds once) the `temporal` CLI, which provides the local dev server and web UI.
// Temporal's release downloads are not always reachable, so the fallback is `go install`,
// which only needs the Go module proxy.
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { goInstall } from './goInstall.js';

export const TEMPORAL_CLI_VERSION = 'v1.5.1'; // later tags refuse `go install`
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;
const BINARY_NAME = process.platform === 'win32' ? 'temporal.exe' : 'temporal';
const DEFAULT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface EnsureTemporalCliOptions {
  log?: (line: string) => void;
  projectRoot?: string;
}

/** Returns an absolute path to a working `temporal` binary, building it with Go if needed. */
export async function ensureTemporalCli(options: EnsureTemporalCliOptions = {}): Promise<string> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const projectRoot = path.resolve(options.projectRoot ?? DEFAULT_ROOT);

  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    const candidate = path.resolve(fromEnv);
    // An explicit choice must not silently fall back to another binary.
    if (!(await isWorkingCli(candidate))) {
      throw new Error(
        `TEMPORAL_CLI_PATH is set to "${fromEnv}", but no working temporal binary is there ` +
          `(\`${candidate} --version\` failed). Fix or unset TEMPORAL_CLI_PATH.`,
      );
    }
    return candidate;
  }

  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.resolve(dir, BINARY_NAME);
    if (await isWorkingCli(candidate)) return candidate;
  }

  const cacheDir = cliCacheDir(projectRoot);
  const cached = path.join(cacheDir, BINARY_NAME);
  if (await isWorkingCli(cached)) return cached;

  await buildWithGo(cacheDir, log);
  if (await isWorkingCli(cached)) return cached;
  throw new Error(`go install reported success but ${cached} does not run.`);
}

export function cliCacheDir(projectRoot: string = DEFAULT_ROOT): string {
  return path.join(projectRoot, '.cache', 'temporal');
}

/** True when `file` is executable and answers `--version` like the Temporal CLI does. */
async function isWorkingCli(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
  } catch {
    return false;
  }
  return new Promise((resolve) => {
    execFile(file, ['--version'], { timeout: 30_000 }, (error, stdout) => {
      resolve(!error && stdout.startsWith('temporal version'));
    });
  });
}

function buildWithGo(gobin: string, log: (line: string) => void): Promise<void> {
  return goInstall({
    goPackage: GO_PACKAGE,
    gobin,
    label: `Temporal CLI ${TEMPORAL_CLI_VERSION}`,
    log,
    withoutGo:
      'set TEMPORAL_CLI_PATH to an existing temporal binary, or install the CLI as described ' +
      'at https://docs.temporal.io/cli#install and put it on PATH.',
  });
}

// `npm run temporal:cli`: ensure the binary and print its path.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  ensureTemporalCli().then(
    (cliPath) => console.log(cliPath),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
