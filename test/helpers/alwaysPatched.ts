/**
 * Bundled in place of @temporalio/workflow by test/replay.test.ts: every `patched()` answers
 * true and records nothing, as if the changes had been made without a patch.
 */
export * from '@temporalio/workflow/lib/index.js';

export function patched(_patchId: string): boolean {
  return true;
}
