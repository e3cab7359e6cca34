// OpenTelemetry tracing, for teams that already run a collector: on when the standard OTEL_*
// variables name an OTLP endpoint, off (no provider, no interceptors, no exporter) otherwise.
import type { Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';

type Env = Record<string, string | undefined>;

export const DEFAULT_SERVICE_NAME = 'chatwoot-bridge';

export type TracingSettings =
  { enabled: false; reason: string } | { enabled: true; serviceName: string; url: string };

export class TracingConfigError extends Error {}

/**
 * Whether to trace and where to, from OpenTelemetry's standard variables (a pure function).
 * The exporter itself still reads OTEL_EXPORTER_OTLP_(TRACES_)HEADERS / _TIMEOUT.
 */
export function tracingSettings(env: Env = process.env): TracingSettings {
  const vars = (name: string) => env[name]?.trim() || undefined;
  if (vars('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') {
    return { enabled: false, reason: 'OTEL_SDK_DISABLED=true' };
  }
  const exporter = vars('OTEL_TRACES_EXPORTER')?.toLowerCase();
  if (exporter === 'none') return { enabled: false, reason: 'OTEL_TRACES_EXPORTER=none' };
  const tracesEndpoint = vars('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = vars('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (!tracesEndpoint && !endpoint) {
    return { enabled: false, reason: 'no OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT' };
  }
  if (exporter && exporter !== 'otlp') {
    throw new TracingConfigError(
      `OTEL_TRACES_EXPORTER=${exporter} is not supported: the bridge exports traces by otlp (or set none)`,
    );
  }
  const protocol =
    vars('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? vars('OTEL_EXPORTER_OTLP_PROTOCOL');
  if (protocol && protocol !== 'http/protobuf' && protocol !== 'http/json') {
    const name = vars('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL')
      ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
      : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    throw new TracingConfigError(
      `${name}=${protocol} is not supported: the bridge exports OTLP over HTTP (JSON; http/json or http/protobuf)`,
    );
  }
  return {
    enabled: true,
    serviceName: vars('OTEL_SERVICE_NAME') ?? DEFAULT_SERVICE_NAME,
    // As the specification says: the signal-specific endpoint is used as is, the generic one
    // gets the signal's path.
    url: tracesEndpoint ?? `${endpoint!.replace(/\/+$/, '')}/v1/traces`,
  };
}

/** What the API's client and the workers need to trace. */
export interface Tracing {
  tracer: Tracer;
  /** For every Temporal client (API, the worker's own client used by activities). */
  clientInterceptors: { workflow: WorkflowClientInterceptor[] };
  /** Activity spans, children of the workflow's StartActivity span. */
  workerInterceptors: WorkerInterceptors;
  /** The sink the workflow interceptors (observability/workflowTracing.ts) export spans to. */
  workflowSinks: InjectedSinks<OpenTelemetrySinks>;
  /** Flushes what is still buffered. */
  shutdown(): Promise<void>;
}

/** Tracing as the environment asks for it, or undefined when it is off. */
export function startTracing(env: Env = process.env): Tracing | undefined {
  const settings = tracingSettings(env);
  if (!settings.enabled) return undefined;
  return createTracing({
    serviceName: settings.serviceName,
    spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.url })),
  });
}

/**
 * The SDK's workflow span sink, given only the run's ids: it would copy the whole workflow info
 * onto every span (its memo decoded, search attributes as objects OpenTelemetry does not take).
 */
function workflowSpanSink(
  spanProcessor: SpanProcessor,
  resource: Resource,
): InjectedSinks<OpenTelemetrySinks>['exporter'] {
  const sink = makeWorkflowExporter(spanProcessor, resource);
  return {
    export: {
      ...sink.export,
      fn: (info: WorkflowInfo, spans) => {
        const ids = {
          workflowId: info.workflowId,
          runId: info.runId,
          workflowType: info.workflowType,
          taskQueue: info.taskQueue,
          namespace: info.namespace,
          attempt: info.attempt,
          ...(info.parent ? { parentWorkflowId: info.parent.workflowId } : {}),
        };
        // The SDK's sink hands the spans to the processor synchronously.
        return sink.export.fn(ids as unknown as WorkflowInfo, spans);
      },
    },
  };
}

/** startTracing for a process's entry point: a bad OTEL_* setting stops it with its message. */
export function tracingOrExit(env: Env = process.env): Tracing | undefined {
  try {
    return startTracing(env);
  } catch (error) {
    if (!(error instanceof TracingConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

/** A tracer provider (registered globally: its context manager carries the request's span). */
export function createTracing(options: {
  serviceName: string;
  spanProcessor: SpanProcessor;
}): Tracing {
  const resource = Resource.default()
    .merge(envDetectorSync.detect())
    .merge(new Resource({ 'service.name': options.serviceName }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [options.spanProcessor] });
  provider.register();
  const tracer = provider.getTracer(DEFAULT_SERVICE_NAME);
  return {
    tracer,
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer })] },
    workerInterceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    workflowSinks: { exporter: workflowSpanSink(options.spanProcessor, resource) },
    shutdown: () => provider.shutdown(),
  };
}
