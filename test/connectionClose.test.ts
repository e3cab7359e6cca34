import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { lazyClient, plainConnection } from '../temporal/connection.js';

// Nothing listens on port 1, so every call is refused and Temporal's client retries it from a
// timer. Closing the connection meanwhile (a process shutting down) must end the call, not
// leave it pending and throw from that timer later.
describe('closing a connection while a call retries', () => {
  for (const [what, call] of [
    ['a plain call', (client: Client) => client.workflow.getHandle('w').describe()],
    [
      'a call under a deadline',
      (client: Client) =>
        client.withDeadline(Date.now() + 30_000, () => client.workflow.getHandle('w').signal('s')),
    ],
  ] as const) {
    it(`ends ${what} with an error naming the closed connection`, async () => {
      const connection = lazyClient(plainConnection('127.0.0.1:1', 'default'));
      const pending = call(new Client({ connection })).then(
        () => 'answered',
        (error: unknown) => error,
      );
      await sleep(250); // past the first refusal, into the retries
      await connection.close();
      const error = await pending;
      expect(error).toBeInstanceOf(Error);
      expect(String((error as Error).cause)).toContain('connection to Temporal was closed');
    });
  }

  it('ends a call started after it closed the same way', async () => {
    const connection = lazyClient(plainConnection('127.0.0.1:1', 'default'));
    const client = new Client({ connection });
    await client.workflow
      .getHandle('w')
      .describe()
      .catch(() => undefined); // first use opens the channel
    await connection.close();
    const error = await client.workflow
      .getHandle('w')
      .describe()
      .catch((e: unknown) => e);
    expect(String((error as Error).cause)).toContain('connection to Temporal was closed');
  });
});
