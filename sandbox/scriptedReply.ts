/**
 * The reply a mock agent's `scripted` behaviour gives (every protocol has one): the customer's
 * message as JSON `{content, metadata}`, so a test puts what it wants the agent to send there
 * (e.g. `metadata.attachments`); any other text is echoed with no metadata.
 */
export function scriptedReply(text: string): {
  content: string;
  metadata: Record<string, unknown>;
} {
  let script: unknown;
  try {
    script = JSON.parse(text);
  } catch {
    return { content: `echo: ${text}`, metadata: {} };
  }
  if (!script || typeof script !== 'object') return { content: `echo: ${text}`, metadata: {} };
  const { content, metadata } = script as { content?: unknown; metadata?: unknown };
  return {
    content: typeof content === 'string' ? content : '',
    metadata:
      metadata && typeof metadata === 'object' && !Array.isArray(metadata)
        ? (metadata as Record<string, unknown>)
        : {},
  };
}
