// A throwaway PostgreSQL cluster for the Temporal test cluster: its own data directory and
// port (initdb + pg_ctl), never a system one. Debian's `postgresql` package provides the
// binaries; as root with apt-get it is installed on first use.
import { execFile, type ExecFileOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './devServer.js';

const run = promisify(execFile);
const POSTGRES_LIB = '/usr/lib/postgresql';

export interface Postgres {
  host: string;
  port: number;
  /** A superuser with trust authentication on loopback. */
  user: string;
  /** The postmaster's process id (its first line of postmaster.pid), while it runs. */
  pid(): number | undefined;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory, installing Debian's package if allowed. */
export async function ensurePostgresBinaries(log: (line: string) => void): Promise<string> {
  const found = newestBinDir();
  if (found) return found;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    throw new Error(
      'PostgreSQL is needed for the Temporal test cluster: install Debian\'s "postgresql" ' +
        'package (apt-get install postgresql), then rerun.',
    );
  }
  log('installing Debian package postgresql (one-off)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env, maxBuffer: 64 << 20 });
  await run('apt-get', ['install', '-y', '-qq', 'postgresql'], { env, maxBuffer: 64 << 20 });
  const installed = newestBinDir();
  if (!installed) throw new Error(`apt-get installed postgresql but ${POSTGRES_LIB} has no bin/`);
  return installed;
}

function newestBinDir(): string | undefined {
  if (!existsSync(POSTGRES_LIB)) return undefined;
  const versions = readdirSync(POSTGRES_LIB)
    .filter((name) => existsSync(path.join(POSTGRES_LIB, name, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(POSTGRES_LIB, versions[0], 'bin') : undefined;
}

export async function startPostgres(
  options: { log?: (line: string) => void } = {},
): Promise<Postgres> {
  const log = options.log ?? (() => {});
  const bin = await ensurePostgresBinaries(log);
  const root = mkdtempSync(path.join(tmpdir(), 'bridge-pg-'));
  const dataDir = path.join(root, 'data');
  const port = await freePort();
  const user = 'temporal';
  // PostgreSQL refuses to run as root: run it as Debian's `postgres` user then.
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asUser.length) {
    const { uid, gid } = idsOf('postgres');
    chownSync(root, uid, gid);
  }
  const pg = (tool: string, args: string[], extra: ExecFileOptions = {}) => {
    const [command, ...rest] = [...asUser, path.join(bin, tool), ...args];
    return run(command as string, rest, { cwd: root, ...extra });
  };
  await pg('initdb', ['-D', dataDir, '-U', user, '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const serverOptions = [
    `-p ${port}`,
    `-k ${root}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c max_connections=200',
  ].join(' ');
  await pg('pg_ctl', [
    '-D',
    dataDir,
    '-o',
    serverOptions,
    '-l',
    path.join(root, 'log'),
    '-w',
    'start',
  ]);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await pg('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    rmSync(root, { recursive: true, force: true });
  };
  const pid = () => {
    try {
      return Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined; // stopped
    }
  };
  return { host: '127.0.0.1', port, user, pid, stop };
}

/** Uid and gid of a system user, read from /etc/passwd (called once at start-up). */
function idsOf(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.split(':')[0] === name);
  if (!line) throw new Error(`no "${name}" user: is Debian's postgresql package installed?`);
  const fields = line.split(':');
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
