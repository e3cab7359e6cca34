// Resolution order of ensureTemporalCli. Cheap on purpose: fake CLIs are tiny shell scripts, and
// the real dev server is the one test/globalSetup.ts already started.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ensureTemporalCli } from '../workers/temporalCli.js';

let scratch: string;

beforeEach(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'temporal-cli-test-'));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(scratch, { recursive: true, force: true });
});

/** Writes an executable that answers `--version` like the Temporal CLI (or not). */
async function fakeCli(dir: string, versionLine = 'temporal version 0.0.0-fake'): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'temporal');
  await writeFile(file, `#!/bin/sh\necho '${versionLine}'\n`);
  await chmod(file, 0o755);
  return file;
}

describe('ensureTemporalCli', () => {
  it('names TEMPORAL_CLI_PATH when it points at nothing', async () => {
    const missing = path.join(scratch, 'no-such-temporal');
    vi.stubEnv('TEMPORAL_CLI_PATH', missing);
    await expect(ensureTemporalCli({ projectRoot: scratch })).rejects.toThrow(
      /TEMPORAL_CLI_PATH is set to ".*no-such-temporal"/,
    );
  });

  it('rejects a TEMPORAL_CLI_PATH that is not the Temporal CLI', async () => {
    vi.stubEnv('TEMPORAL_CLI_PATH', await fakeCli(scratch, 'something else 1.0'));
    await expect(ensureTemporalCli({ projectRoot: scratch })).rejects.toThrow(/TEMPORAL_CLI_PATH/);
  });

  it('returns the real binary TEMPORAL_CLI_PATH points at, as an absolute path', async () => {
    // The global setup already ensured a real CLI, so this resolves without building.
    vi.stubEnv('TEMPORAL_CLI_PATH', undefined);
    const real = await ensureTemporalCli();
    vi.stubEnv('TEMPORAL_CLI_PATH', path.relative(process.cwd(), real));
    const resolved = await ensureTemporalCli({ projectRoot: scratch });
    expect(resolved).toBe(real);
    expect(path.isAbsolute(resolved)).toBe(true);
  });

  it('prefers temporal on PATH over the cached build', async () => {
    const onPath = await fakeCli(path.join(scratch, 'bin'));
    await fakeCli(path.join(scratch, '.cache', 'temporal'));
    vi.stubEnv('TEMPORAL_CLI_PATH', undefined);
    vi.stubEnv('PATH', path.join(scratch, 'bin'));
    expect(await ensureTemporalCli({ projectRoot: scratch })).toBe(onPath);
  });

  it('falls back to the cached build under projectRoot', async () => {
    const cached = await fakeCli(path.join(scratch, '.cache', 'temporal'));
    vi.stubEnv('TEMPORAL_CLI_PATH', undefined);
    vi.stubEnv('PATH', path.join(scratch, 'empty'));
    expect(await ensureTemporalCli({ projectRoot: scratch })).toBe(cached);
  });

  it('explains the options when there is no CLI and no Go to build one', async () => {
    vi.stubEnv('TEMPORAL_CLI_PATH', undefined);
    vi.stubEnv('PATH', path.join(scratch, 'empty')); // hides `go` too
    const lines: string[] = [];
    const attempt = ensureTemporalCli({ projectRoot: scratch, log: (line) => lines.push(line) });
    await expect(attempt).rejects.toThrow(
      /install Go[\s\S]*TEMPORAL_CLI_PATH[\s\S]*docs\.temporal\.io/,
    );
    expect(lines.join('\n')).toMatch(/building Temporal CLI/);
  });
});
