import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { verifyWebhook } from '../chatwoot/signature.js';
import { planRun, type FaultOptions, type WorkloadOptions } from '../sandbox/chaos/plan.js';
import { runChaos } from '../sandbox/chaos/run.js';
import { customerText, tally, type SentMessage } from '../sandbox/chaos/tally.js';
import { AgentBotSender, BOT_ERROR_ACTIVITY } from '../sandbox/chatwootSender.js';
import { messageCreatedPayload } from '../sandbox/chatwootWebhooks.js';
import { FakeChatwoot, type StoredMessage } from '../sandbox/fakeChatwoot.js';
import { CI_CHAOS, expectClean } from './helpers/chaosLogs.js';
import { freePort } from '../workers/devServer.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** A webhook endpoint answering each request with the next status of a script. */
async function scriptedEndpoint(statuses: Array<number | 'hang'>) {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ headers: request.headers, body, at: Date.now() });
      const status = statuses[received.length - 1] ?? 200;
      if (status !== 'hang') response.writeHead(status).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook/chatwoot`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("Chatwoot's agent-bot webhook job, as the chaos sender plays it", () => {
  let chatwoot: FakeChatwoot;
  const closers: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    chatwoot = await FakeChatwoot.start();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  afterAll(async () => {
    await chatwoot?.close();
  });

  /** A customer message stored in the fake, and its webhook payload. */
  function customerMessage(conversationId: number) {
    const stored = chatwoot.addMessage(1, conversationId, {
      content: 'hello',
      message_type: 'incoming',
    });
    const payload = messageCreatedPayload({
      accountId: 1,
      conversationId,
      messageId: stored.id,
      content: 'hello',
      status: 'pending',
    });
    return { stored, payload };
  }

  it('retries 500 and 429, 3 s apart, with one delivery id and a fresh signature each time', async () => {
    const endpoint = await scriptedEndpoint([500, 429, 200]);
    closers.push(endpoint.close);
    const sender = new AgentBotSender({ url: endpoint.url, secret: 'bot-secret', chatwoot });
    const job = sender.enqueue(customerMessage(11).payload);
    await sender.idle();

    expect(job.outcome).toBe('delivered');
    expect(job.attempts.map((attempt) => attempt.status)).toEqual([500, 429, 200]);
    expect(new Set(endpoint.received.map((r) => r.headers['x-chatwoot-delivery']))).toEqual(
      new Set([job.deliveryId]),
    );
    for (const request of endpoint.received) {
      const check = verifyWebhook(
        {
          rawBody: Buffer.from(request.body),
          signature: String(request.headers['x-chatwoot-signature']),
          timestamp: String(request.headers['x-chatwoot-timestamp']),
        },
        ['bot-secret'],
        { toleranceSeconds: 300 },
      );
      expect(check.ok).toBe(true);
    }
    // `retry_on ..., wait: 3.seconds`: never sooner.
    const [first, second, third] = endpoint.received as [Received, Received, Received];
    expect(second.at - first.at).toBeGreaterThanOrEqual(3_000);
    expect(third.at - second.at).toBeGreaterThanOrEqual(3_000);
    expect(chatwoot.status(1, 11)).toBe('pending');
  }, 20_000);

  it('gives up after 3 attempts of 500, then opens the pending conversation with an activity line', async () => {
    const endpoint = await scriptedEndpoint([500, 500, 500]);
    closers.push(endpoint.close);
    const sender = new AgentBotSender({ url: endpoint.url, chatwoot, retryWaitMs: 50 });
    const { stored, payload } = customerMessage(12);
    const job = sender.enqueue(payload);
    await sender.idle();

    expect(job.outcome).toBe('gave_up');
    expect(endpoint.received).toHaveLength(3);
    expect(chatwoot.status(1, 12)).toBe('open');
    expect(chatwoot.messages(1, 12).at(-1)).toMatchObject({
      message_type: 'activity',
      content: BOT_ERROR_ACTIVITY,
    });
    expect(sender.failedMessageIds).toEqual(new Set([stored.id]));
  });

  it.each([
    [503, 21],
    [502, 22],
    [404, 23],
  ])('does not retry %s', async (status, conversationId) => {
    const endpoint = await scriptedEndpoint([status]);
    closers.push(endpoint.close);
    const sender = new AgentBotSender({ url: endpoint.url, chatwoot, retryWaitMs: 50 });
    const job = sender.enqueue(customerMessage(conversationId).payload);
    await sender.idle();
    expect(job.attempts).toHaveLength(1);
    expect(job.outcome).toBe('gave_up');
    expect(chatwoot.status(1, conversationId)).toBe('open');
  });

  it('does not retry a refused connection or a request past its timeout', async () => {
    const refused = new AgentBotSender({
      url: `http://127.0.0.1:${await freePort()}/webhook/chatwoot`,
      chatwoot,
    });
    const refusedJob = refused.enqueue(customerMessage(31).payload);
    const endpoint = await scriptedEndpoint(['hang']);
    closers.push(endpoint.close);
    const slow = new AgentBotSender({ url: endpoint.url, chatwoot, requestTimeoutMs: 200 });
    const slowJob = slow.enqueue(customerMessage(32).payload);
    await Promise.all([refused.idle(), slow.idle()]);

    expect(refusedJob.attempts).toEqual([expect.objectContaining({ error: 'ECONNREFUSED' })]);
    expect(slowJob.attempts).toEqual([expect.objectContaining({ error: 'timeout' })]);
    expect([chatwoot.status(1, 31), chatwoot.status(1, 32)]).toEqual(['open', 'open']);
  });

  it('leaves a conversation that is not pending alone, and keeps it pending when the account says so', async () => {
    const endpoint = await scriptedEndpoint([503, 503]);
    closers.push(endpoint.close);
    chatwoot.setStatus(1, 41, 'open');
    const sender = new AgentBotSender({ url: endpoint.url, chatwoot });
    sender.enqueue(customerMessage(41).payload);
    const keeping = new AgentBotSender({
      url: endpoint.url,
      chatwoot,
      keepPendingOnBotFailure: true,
    });
    keeping.enqueue(customerMessage(42).payload);
    await Promise.all([sender.idle(), keeping.idle()]);

    expect(chatwoot.statusChanges(1, 41)).toEqual(['open']);
    expect(chatwoot.status(1, 42)).toBe('pending');
    for (const id of [41, 42]) {
      expect(chatwoot.messages(1, id).some((m) => m.message_type === 'activity')).toBe(false);
    }
  });

  it('runs jobs in parallel, so a later webhook of a conversation can arrive first', async () => {
    const endpoint = await scriptedEndpoint([]);
    closers.push(endpoint.close);
    // A seeded pickup delay stands in for Sidekiq's scheduling; the first job waits longest.
    const delays = [0.9, 0.1];
    const sender = new AgentBotSender({
      url: endpoint.url,
      chatwoot,
      pickupJitterMs: 100,
      random: () => delays.shift() ?? 0,
    });
    const first = sender.enqueue(customerMessage(51).payload);
    const second = sender.enqueue(customerMessage(51).payload);
    await sender.idle();
    const order = endpoint.received.map((r) => (JSON.parse(r.body) as { id: number }).id);
    expect(order).toEqual([second.messageId, first.messageId]);
  });
});

describe('chaos plan', () => {
  const workload: WorkloadOptions = {
    seed: 7,
    messages: 50,
    conversations: 5,
    rate: 10,
    burst: 3,
    burstGapMs: 20,
  };
  const faults: FaultOptions = {
    kills: 4,
    temporalRestarts: 1,
    temporalDownMs: 1_000,
    agentOutageMs: 2_000,
    chatwoot5xx: 2,
    chatwoot429: 1,
    lostResponses: 2,
    bridgeOutageMs: 8_000,
  };

  it('is the same for the same seed, and another for another seed', () => {
    expect(planRun(workload, faults)).toEqual(planRun(workload, faults));
    expect(planRun({ ...workload, seed: 8 }, faults)).not.toEqual(planRun(workload, faults));
  });

  it('writes every message once, numbered in order within its conversation, inside the window', () => {
    const plan = planRun(workload, faults);
    expect(plan.messages).toHaveLength(50);
    const next = new Map<number, number>();
    for (const message of plan.messages) {
      expect(message.index).toBe(next.get(message.conversationId) ?? 0);
      next.set(message.conversationId, message.index + 1);
    }
    expect(plan.messages.at(-1)?.atMs).toBe(plan.sendWindowMs);
    for (const fault of plan.faults) expect(fault.atMs).toBeLessThanOrEqual(plan.sendWindowMs);
  });

  it('schedules each fault it was asked for, and none it was not', () => {
    const kinds = (f: FaultOptions) => planRun(workload, f).faults.map((fault) => fault.kind);
    expect(kinds(faults).sort()).toEqual(
      [
        ...Array<string>(4).fill('worker-kill'),
        'temporal-restart',
        'agent-outage',
        'chatwoot-5xx',
        'chatwoot-5xx',
        'chatwoot-429',
        'lost-response',
        'lost-response',
        'bridge-outage',
      ].sort(),
    );
    const none: FaultOptions = {
      ...faults,
      kills: 0,
      temporalRestarts: 0,
      agentOutageMs: 0,
      chatwoot5xx: 0,
      chatwoot429: 0,
      lostResponses: 0,
      bridgeOutageMs: 0,
    };
    expect(kinds(none)).toEqual([]);
  });
});

describe('chaos tally', () => {
  let nextId = 1_000;
  const stored = (
    fields: Partial<StoredMessage> & Pick<StoredMessage, 'content'>,
  ): StoredMessage => ({
    id: nextId++,
    account_id: 1,
    conversation_id: 1,
    inbox_id: 7,
    message_type: 'outgoing',
    private: false,
    source_id: null,
    content_type: 'text',
    content_attributes: {},
    created_at: 0,
    ...fields,
  });
  const sent = (index: number, messageId: number): SentMessage => ({
    conversationId: 1,
    index,
    messageId,
    sentAt: 0,
  });
  const echo = (index: number) => stored({ content: `echo: ${customerText(1, index)}` });

  it('counts answered, lost, duplicated and out of order', () => {
    const conversation = [echo(0), echo(2), echo(1), echo(1), stored({ content: 'human text' })];
    const result = tally(
      [sent(0, 1), sent(1, 2), sent(2, 3), sent(3, 4)],
      () => conversation,
      () => undefined,
    );
    expect(result).toMatchObject({
      sent: 4,
      answered: 3,
      lost: 1,
      duplicated: 1,
      outOfOrder: 1,
      handedOff: 0,
      conversationsInOrder: 0,
      lostMessages: [{ conversationId: 1, index: 3, messageId: 4 }],
    });
    expect(result.perConversation[0]?.replyOrder).toEqual([0, 2, 1]);
  });

  it('counts a message the bridge handed to the team, and those written after, as handed off', () => {
    const note = stored({
      content: 'The AI agent "echo" handed message 1 to the team: agent down.',
      private: true,
    });
    const result = tally(
      [sent(0, 1), { ...sent(1, 2), sentAt: Date.now() + 60_000 }],
      () => [note],
      () => Date.now(),
    );
    expect(result).toMatchObject({ answered: 0, handedOff: 2, lost: 0 });
  });
});

describe('chaos run (CI size)', () => {
  it('40 messages in bursts over 4 conversations through worker and API processes, with a worker kill, a Temporal restart, a bridge outage, an agent outage and Chatwoot faults: none lost, doubled or out of order', async () => {
    // Bursts: creation-order delivery; a Temporal restart: 500 within 4 s, which Chatwoot
    // retries (the run owns a server it can restart); a bridge outage: catch-up repairs it.
    const report = await runChaos({
      ...CI_CHAOS,
      seed: 10,
      kills: 1,
      temporalRestarts: 1,
      accountId: 500_000 + Math.floor(Math.random() * 100_000),
      workflowBundlePath: inject('workflowBundlePath'),
    });
    expectClean(report, ['worker-kill', 'temporal-restart', 'bridge-outage']);
  }, 110_000);
});
