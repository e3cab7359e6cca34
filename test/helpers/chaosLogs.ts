import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A failed run's process logs go to `.cache/chaos-failed/` (CI prints the path); a passing run's are removed. */
export function keepLogsOnFailure(report: {
  runDir?: string;
  tally: { lost: number; duplicated: number; outOfOrder: number };
}) {
  if (!report.runDir) return;
  const { lost, duplicated, outOfOrder } = report.tally;
  if (lost + duplicated + outOfOrder > 0) {
    const target = join('.cache', 'chaos-failed', basename(report.runDir));
    mkdirSync(dirname(target), { recursive: true });
    cpSync(report.runDir, target, { recursive: true });
    console.error(`chaos run failed: its process logs are in ${target}`);
  }
  rmSync(report.runDir, { recursive: true, force: true });
}
