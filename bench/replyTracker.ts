import { performance } from 'node:perf_hooks';
import type { FakeChatwoot, StoredMessage } from '../sandbox/fakeChatwoot.js';

interface Expected {
  resolve: (at: number) => void;
  /** performance.now() of the first matching reply. */
  firstAt?: number;
}

/**
 * Timestamps replies the moment the fake Chatwoot stores them. Each benchmark message has
 * unique content, and the echo agent answers `echo: <content>`, so the content is the key.
 */
export class ReplyTracker {
  private readonly expected = new Map<string, Expected>();
  private readonly listener = (message: StoredMessage) => this.record(message);

  constructor(private readonly chatwoot: FakeChatwoot) {
    chatwoot.on('message', this.listener);
  }

  /** Register before sending, so a very fast reply cannot slip past. Resolves with its time. */
  expect(replyContent: string): Promise<number> {
    return new Promise((resolve) => this.expected.set(replyContent, { resolve }));
  }

  /** Time of the first reply, if any arrived (also after the caller stopped waiting). */
  repliedAt(replyContent: string): number | undefined {
    return this.expected.get(replyContent)?.firstAt;
  }

  close(): void {
    this.chatwoot.off('message', this.listener);
  }

  private record(message: StoredMessage): void {
    if (message.private || message.message_type !== 'outgoing') return;
    const entry = this.expected.get(message.content);
    if (!entry || entry.firstAt !== undefined) return; // duplicates are counted from the store
    entry.firstAt = performance.now();
    entry.resolve(entry.firstAt);
  }
}
