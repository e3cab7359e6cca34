/** Polls an async check until it holds (Temporal queries and visibility are not push-based). */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  { timeoutMs = 20_000, intervalMs = 50, description = 'condition' } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
