import { readdirSync, readFileSync } from 'node:fs';

/** Linux USER_HZ; /proc reports CPU times in these ticks. */
const CLOCK_TICKS_PER_S = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime: the process, its threads and its reaped children. */
  ticks: number;
}

/**
 * `/proc/<pid>/stat` of every process, keyed by pid. The fields after the parenthesised command
 * (which may itself hold spaces or parentheses) are: state ppid … utime(14) stime(15)
 * cutime(16) cstime(17).
 */
export function readProcTable(procRoot = '/proc'): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`${procRoot}/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    const parsed = parseStat(stat);
    if (parsed) table.set(Number(entry), parsed);
  }
  return table;
}

export function parseStat(stat: string): ProcStat | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const numbers = [1, 11, 12, 13, 14].map((index) => Number(fields[index]));
  if (numbers.some((value) => !Number.isFinite(value))) return undefined;
  const [ppid, utime, stime, cutime, cstime] = numbers as [number, number, number, number, number];
  return { ppid, ticks: utime + stime + cutime + cstime };
}

/** `root` and every live descendant (a tsx wrapper's node child, PostgreSQL's backends…). */
export function processTree(root: number, table = readProcTable()): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of table) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const queue = table.has(root) ? [root] : [];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * CPU milliseconds a process tree has used so far: live members count their own time, exited
 * ones the time their (waiting) parent inherited. NaN when `root` is not running.
 */
export function treeCpuMs(root: number | undefined, table = readProcTable()): number {
  if (root === undefined || !table.has(root)) return NaN;
  const ticks = processTree(root, table).reduce(
    (sum, pid) => sum + (table.get(pid)?.ticks ?? 0),
    0,
  );
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}

/** Resident memory of a process tree in MB, from `/proc/<pid>/status` (VmRSS); NaN if gone. */
export function treeRssMb(root: number | undefined, table = readProcTable()): number {
  if (root === undefined || !table.has(root)) return NaN;
  let kb = 0;
  for (const pid of processTree(root, table)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      kb += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    } catch {
      // exited while we looked
    }
  }
  return kb / 1024;
}
