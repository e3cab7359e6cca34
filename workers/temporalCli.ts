// Locates (or builds once) the `temporal` CLI, which provides the local dev server and web UI.
// Temporal's release downloads are not always reachable, so the fallback is `go install`,
// which only needs the Go module proxy.
import { execFile, spawn } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

async function buildWithGo(gobin: string, log: (line: string) => void): Promise<void> {
  await mkdir(gobin, { recursive: true });
  log(
    `building Temporal CLI ${TEMPORAL_CLI_VERSION} with Go (one-off, a few minutes) into ${gobin}`,
  );
  const started = Date.now();
  // A periodic heartbeat keeps CI logs from looking hung during the long, silent link step.
  const heartbeat = setInterval(() => {
    log(`  still building Temporal CLI (${Math.round((Date.now() - started) / 1000)} s)`);
  }, 30_000);
  try {
    const stderrTail = await runGoInstall(gobin);
    if (stderrTail !== undefined) {
      throw new Error(`\`go install ${GO_PACKAGE}\` failed:\n${stderrTail}`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new Error(
      'The Temporal CLI was not found and Go is not installed to build it. Either:\n' +
        '  - install Go (https://go.dev/dl/) and rerun: it will be built into .cache/temporal/;\n' +
        '  - set TEMPORAL_CLI_PATH to an existing temporal binary; or\n' +
        '  - install the CLI as described at https://docs.temporal.io/cli#install and put it on PATH.',
    );
  } finally {
    clearInterval(heartbeat);
  }
  log(`built Temporal CLI in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** Runs `go install`; resolves undefined on success or with the tail of stderr on failure. */
function runGoInstall(gobin: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    // Inherit the environment so GOPROXY, GOFLAGS, GOCACHE etc. apply.
    const child = spawn('go', ['install', GO_PACKAGE], {
      env: { ...process.env, GOBIN: gobin },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code === 0 ? undefined : stderr.trim()));
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
