import type { ChaosReport } from './run.js';

/** Messages lost, doubled or answered out of order: what makes a chaos run fail. */
export function failures(report: ChaosReport): number {
  const { lost, duplicated, outOfOrder } = report.tally;
  return lost + duplicated + outOfOrder;
}

/** The figures as a two-column table, for the terminal. */
export function formatReport(report: ChaosReport): string {
  const { tally: t, webhooks: w } = report;
  const rows: Array<[string, string]> = [
    ['sent', String(t.sent)],
    ['answered', String(t.answered)],
    ['lost', String(t.lost)],
    ['duplicated', String(t.duplicated)],
    [
      'out of order',
      `${t.outOfOrder} (${t.conversations - t.conversationsInOrder} of ${t.conversations} conversations)`,
    ],
    ['handed off', String(t.handedOff)],
    ['time to drain', drained(report)],
    [
      'webhooks Chatwoot gave up on',
      `${w.customerMessagesGivenUp} customer messages, ${w.gaveUp - w.customerMessagesGivenUp} other events`,
    ],
    ['conversations Chatwoot opened', String(w.conversationsOpenedByChatwoot)],
    [
      'webhook attempts',
      Object.entries(w.attempts)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', '),
    ],
    ['faults', summariseFaults(report)],
    ['processes that died by themselves', String(report.unexpectedExits.length)],
    ['run', `${seconds(report.durationMs)} (messages over ${seconds(report.sendWindowMs)})`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function drained(report: ChaosReport): string {
  if (report.drainMs !== undefined) return seconds(report.drainMs);
  return report.endedBy === 'idle'
    ? `did not drain (nothing answered for ${report.options.idleTimeoutMs / 1000} s)`
    : `did not drain (stopped ${report.options.drainTimeoutMs / 1000} s after the last message)`;
}

function summariseFaults(report: ChaosReport): string {
  const counts = new Map<string, number>();
  for (const fault of report.faults) counts.set(fault.kind, (counts.get(fault.kind) ?? 0) + 1);
  return counts.size === 0 ? 'none' : [...counts].map(([kind, n]) => `${kind} ×${n}`).join(', ');
}
