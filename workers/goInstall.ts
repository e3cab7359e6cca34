// Builds a Go command into a project cache with `go install`, which needs only the Go module
// proxy (release downloads are not always reachable).
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';

export interface GoInstallOptions {
  /** `module/path/cmd/name@version`. */
  goPackage: string;
  /** Where the binary goes (GOBIN). */
  gobin: string;
  /** What is being built, for progress lines and errors ("Temporal CLI v1.5.1"). */
  label: string;
  log: (line: string) => void;
  /** What to tell a user without Go, after "install Go and rerun". */
  withoutGo: string;
}

export async function goInstall(options: GoInstallOptions): Promise<void> {
  const { goPackage, gobin, label, log } = options;
  await mkdir(gobin, { recursive: true });
  log(`building ${label} with Go (one-off, a few minutes) into ${gobin}`);
  const started = Date.now();
  // A periodic heartbeat keeps CI logs from looking hung during the long, silent link step.
  const heartbeat = setInterval(() => {
    log(`  still building ${label} (${Math.round((Date.now() - started) / 1000)} s)`);
  }, 30_000);
  try {
    const stderrTail = await runGoInstall(goPackage, gobin);
    if (stderrTail !== undefined)
      throw new Error(`\`go install ${goPackage}\` failed:\n${stderrTail}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new Error(
      `${label} was not found and Go is not installed to build it. Either:\n` +
        `  - install Go (https://go.dev/dl/) and rerun: it will be built into ${gobin}; or\n` +
        `  - ${options.withoutGo}`,
    );
  } finally {
    clearInterval(heartbeat);
  }
  log(`built ${label} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** Runs `go install`; resolves undefined on success or with the tail of stderr on failure. */
function runGoInstall(goPackage: string, gobin: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    // Inherit the environment so GOPROXY, GOFLAGS, GOCACHE etc. apply.
    const child = spawn('go', ['install', goPackage], {
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
