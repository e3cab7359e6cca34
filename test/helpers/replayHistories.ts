import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import protoModule from '@temporalio/proto';
import type { History } from '@temporalio/common/lib/proto-utils.js';

// CommonJS package: Node's ESM loader exposes only its default export.
const HistoryType = protoModule.temporal.api.history.v1.History;

/**
 * Histories are stored as protobufjs JSON (`History.toJSON()`). The SDK's own `historyToJSON`
 * cannot be used here: it checks types against a second copy of protobufjs nested in
 * @temporalio/common and rejects the classes of @temporalio/proto.
 */
export function historyJson(history: History): string {
  return `${JSON.stringify(HistoryType.fromObject(history).toJSON(), null, 1)}\n`;
}

export function historyFromFile(path: string): History {
  return HistoryType.fromObject(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
}

/** Every recorded history under `dir` (one folder per capture), with a workflow id per file. */
export function recordedHistories(
  dir: string,
): Array<{ file: string; workflowId: string; history: History }> {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({ file, workflowId: file, history: historyFromFile(join(dir, file)) }));
}
