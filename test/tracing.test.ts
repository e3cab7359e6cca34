import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createTracing,
  startTracing,
  tracingSettings,
  type Tracing,
} from '../observability/tracing.js';
import { API_TOKEN, startStack, WEBHOOK_SECRET, type Stack } from './helpers/stack.js';

describe('tracing settings from the OTEL_* variables', () => {
  it.each([
    [{}, { enabled: false }],
    [{ OTEL_SERVICE_NAME: 'x' }, { enabled: false }],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' },
      { enabled: true, serviceName: 'chatwoot-bridge', url: 'http://collector:4318/v1/traces' },
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'bridge-eu' },
      { enabled: true, serviceName: 'bridge-eu', url: 'http://collector:4318/v1/traces' },
    ],
    [
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp',
      },
      { enabled: true, serviceName: 'chatwoot-bridge', url: 'https://traces.example/otlp' },
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' },
      { enabled: false },
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' },
      { enabled: false },
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'false' },
      { enabled: true, serviceName: 'chatwoot-bridge', url: 'http://collector:4318/v1/traces' },
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' },
      { enabled: false },
    ],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '' }, { enabled: false }],
  ])('%j → %j', (env, expected) => {
    expect(tracingSettings(env)).toMatchObject(expected);
  });

  it('off: no tracing at all (no provider, no interceptors)', () => {
    expect(startTracing({})).toBeUndefined();
    expect(
      startTracing({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
        OTEL_SDK_DISABLED: 'true',
      }),
    ).toBeUndefined();
  });

  it('on: spans reach the OTLP endpoint over HTTP, with OTEL_EXPORTER_OTLP_HEADERS', async () => {
    const received: Array<{ url?: string; authorization?: string; bytes: number }> = [];
    const collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({
          url: request.url,
          authorization: request.headers.authorization,
          bytes: Buffer.concat(chunks).length,
        });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    const previous = process.env.OTEL_EXPORTER_OTLP_HEADERS;
    // The exporter reads its headers from the environment itself, as every OTLP exporter does.
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'authorization=Bearer collector-key';
    try {
      const tracing = startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
      expect(tracing).toBeDefined();
      tracing!.tracer.startSpan('probe').end();
      await tracing!.shutdown();
      expect(received).toEqual([
        { url: '/v1/traces', authorization: 'Bearer collector-key', bytes: expect.any(Number) },
      ]);
      expect(received[0]!.bytes).toBeGreaterThan(0);
    } finally {
      if (previous === undefined) delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
      else process.env.OTEL_EXPORTER_OTLP_HEADERS = previous;
      collector.close();
    }
  });

  it('refuses an exporter it does not ship, naming the variable', () => {
    expect(() =>
      tracingSettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_TRACES_EXPORTER: 'zipkin',
      }),
    ).toThrow(/OTEL_TRACES_EXPORTER.*otlp/);
    expect(() =>
      tracingSettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
      }),
    ).toThrow(/OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc.*OTLP over HTTP/);
  });
});

const ignore = { fn: () => undefined };
const quietBridgeSinks = { deliveryFinished: ignore, duplicateDropped: ignore };

describe('one customer message is one trace', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let stack: Stack;
  beforeAll(async () => {
    tracing = createTracing({
      serviceName: 'chatwoot-bridge-test',
      spanProcessor: new SimpleSpanProcessor(exporter),
    });
    stack = await startStack({
      // Three replies: the exchange posts the first (plain), the workflow the two after it (the
      // second has actions to run), so the delivery runs its own post activities too.
      agents: { multi: 'actions?count=3&at=2&actions=[]' },
      routes: { 7: 'multi' },
      tracing,
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await tracing?.shutdown();
  });

  const named = (spans: ReadableSpan[], name: string) => spans.filter((span) => span.name === name);

  it('webhook request → signal-with-start → actor → delivery child → its activities', async () => {
    const text = 'my secret order number is 4242';
    const { payload, response } = await stack.sendMessage({ conversationId: 31, content: text });
    expect(response.statusCode).toBe(200);
    const messageId = (payload as { id: number }).id;
    const report = await stack.result(stack.messageWorkflowId(messageId, 31));
    expect(report.outcome).toBe('delivered');

    await expect
      .poll(() => exporter.getFinishedSpans().map((span) => span.name), { timeout: 15_000 })
      .toEqual(
        expect.arrayContaining([
          'POST /webhook/chatwoot',
          'SignalWithStartWorkflow:conversationWorkflow',
          'HandleSignal:conversationEvent',
          'StartChildWorkflow:messageDeliveryV4Workflow',
          'RunWorkflow:messageDeliveryV4Workflow',
          'StartActivity:agentExchange',
          'RunActivity:agentExchange',
          'RunActivity:createMessage',
        ]),
      );
    const spans = exporter.getFinishedSpans();
    const [webhook] = named(spans, 'POST /webhook/chatwoot');
    const traceId = webhook!.spanContext().traceId;
    const [signalWithStart] = named(spans, 'SignalWithStartWorkflow:conversationWorkflow');
    // The Temporal call runs inside the request's span, so the workflows are its descendants.
    expect(signalWithStart!.parentSpanId).toBe(webhook!.spanContext().spanId);
    const inTrace = spans.filter((span) => span.spanContext().traceId === traceId);
    for (const name of [
      'HandleSignal:conversationEvent',
      'StartChildWorkflow:messageDeliveryV4Workflow',
      'RunWorkflow:messageDeliveryV4Workflow',
      'RunActivity:agentExchange',
      'RunActivity:createMessage',
    ]) {
      expect(named(inTrace, name), name).not.toHaveLength(0);
    }
    // Every activity the delivery ran is in the same trace (the exchange, each reply's post).
    const activities = spans.filter((span) => span.name.startsWith('RunActivity:'));
    expect(activities.length).toBeGreaterThanOrEqual(3);
    for (const span of activities) expect(span.spanContext().traceId, span.name).toBe(traceId);
    expect(webhook!.attributes['http.response.status_code']).toBe(200);
    expect(webhook!.resource.attributes['service.name']).toBe('chatwoot-bridge-test');

    // Attributes are scalars, as OpenTelemetry wants them; workflow spans carry the run's ids,
    // not the whole workflow info (its memo is decoded customer data when anything is put there).
    for (const span of spans) {
      for (const [key, value] of Object.entries(span.attributes)) {
        expect(['string', 'number', 'boolean'], `${span.name} ${key}`).toContain(typeof value);
      }
    }
    const [delivery] = named(inTrace, 'RunWorkflow:messageDeliveryV4Workflow');
    expect(delivery!.attributes).toMatchObject({
      workflowId: expect.stringMatching(/^message:/),
      workflowType: 'messageDeliveryV4Workflow',
    });
    expect(Object.keys(delivery!.attributes)).not.toContain('memo');

    // No secret and no customer text in any span: names, attributes, events.
    const everything = JSON.stringify(
      spans.map((span) => [span.name, span.attributes, span.events, span.status]),
    );
    for (const secret of [text, '4242', API_TOKEN, WEBHOOK_SECRET]) {
      expect(everything).not.toContain(secret);
    }
  });

  it('the next message to the same (long-lived) actor is a trace of its own', async () => {
    exporter.reset();
    const { payload } = await stack.sendMessage({ conversationId: 31, content: 'second' });
    const workflowId = stack.messageWorkflowId((payload as { id: number }).id, 31);
    expect((await stack.result(workflowId)).outcome).toBe('delivered');
    const delivery = (spans: ReadableSpan[]) =>
      spans.find(
        (span) =>
          span.name === 'RunWorkflow:messageDeliveryV4Workflow' &&
          span.attributes['workflowId'] === workflowId,
      );
    await expect
      .poll(() => delivery(exporter.getFinishedSpans()), { timeout: 15_000 })
      .toBeDefined();
    const spans = exporter.getFinishedSpans();
    // The only webhook since the reset: the second message's.
    const [webhook] = named(spans, 'POST /webhook/chatwoot');
    expect(delivery(spans)!.spanContext().traceId).toBe(webhook!.spanContext().traceId);
  });

  it('a traced history replays with the bundle and the tracing interceptors', async () => {
    const histories = [];
    for await (const execution of stack.temporal.workflow.list({
      query: `ChatwootAccountId = '${stack.accountId}'`,
    })) {
      histories.push({
        workflowId: execution.workflowId,
        history: await stack.temporal.workflow
          .getHandle(execution.workflowId, execution.runId)
          .fetchHistory(),
      });
    }
    // The actor and both deliveries.
    expect(histories.length).toBeGreaterThanOrEqual(3);
    for await (const result of Worker.runReplayHistories(
      {
        workflowBundle: { codePath: inject('workflowBundlePath') },
        sinks: { ...tracing.workflowSinks, bridgeMetrics: quietBridgeSinks },
      },
      histories,
    )) {
      expect(result.error, result.workflowId).toBeUndefined();
    }
  });
});
