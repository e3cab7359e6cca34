/**
 * `npm run chaos`: a seeded fault-injection run through separate API and worker processes, with
 * a sender that behaves like Chatwoot's agent-bot webhook job. Prints a table, saves the JSON
 * under bench/results/, and exits non-zero when a message was lost, doubled or answered out of
 * order (unless --report-only).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseChaosArgs, USAGE } from '../sandbox/chaos/options.js';
import { failures, formatReport } from '../sandbox/chaos/report.js';
import { runChaos } from '../sandbox/chaos/run.js';

const cli = parseChaosArgs(process.argv.slice(2));
if (cli === 'help') {
  console.log(USAGE);
  process.exit(0);
}
const started = Date.now();
const report = await runChaos({
  ...cli.run,
  log: (line) => console.log(`[chaos ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`),
});
mkdirSync(cli.resultsDir, { recursive: true });
const file = join(
  cli.resultsDir,
  `chaos-seed${cli.run.seed}-${report.startedAt.replace(/[:.]/g, '-')}.json`,
);
writeFileSync(file, JSON.stringify(report, null, 2));
console.log(`\n${formatReport(report)}\n\nresult: ${file}`);
if (report.runDir) console.log(`logs: ${report.runDir}`);
if (report.tally.lostMessages.length > 0) {
  const sample = report.tally.lostMessages
    .slice(0, 10)
    .map((m) => `c${m.conversationId}#${m.index}`);
  console.log(`lost (first ${sample.length}): ${sample.join(' ')}`);
}
process.exit(!cli.reportOnly && failures(report) > 0 ? 1 : 0);
