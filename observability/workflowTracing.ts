// Bundled into the workflow code (workers/bundle.ts): no Node built-ins, no I/O.
// The SDK's OpenTelemetry workflow interceptors, used only for runs a traced client started or
// signalled. The trace context travels in the start/signal headers, which are in the history,
// so a replay takes the same path; with tracing off no header exists and every call passes
// straight through (no spans, no sink calls).
import { context, trace, type SpanContext } from '@opentelemetry/api';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import type {
  Headers,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** The header the SDK's OpenTelemetry interceptors carry the span context in. */
const TRACE_HEADER = '_tracer-data';
const traced = (headers: Headers) => headers[TRACE_HEADER] !== undefined;
/**
 * A customer message reaching the actor: the `customer_message` event of workflows/shared.ts, as
 * a signal (`conversationEvent`) or inside the synchronous `submitMessage` update.
 */
const isCustomerMessage = (args: unknown[]): boolean => {
  const [first] = args as [{ type?: unknown; event?: { type?: unknown } } | undefined];
  return first?.type === 'customer_message' || first?.event?.type === 'customer_message';
};
/** Outbound calls get spans only inside a traced run's (or signal's) span. */
const inSpan = () => trace.getActiveSpan() !== undefined;

export const interceptors = (): WorkflowInterceptors => {
  // Made on first traced call: until then not even a tracer provider exists in the sandbox.
  let otelInbound: OpenTelemetryInboundInterceptor | undefined;
  let otelOutbound: OpenTelemetryOutboundInterceptor | undefined;
  // A long-lived actor runs in the span of the message that started it (or of its first run):
  // each child it starts joins the trace of the newest customer message it received instead, so
  // every message, not only the first, is a trace of its own (a merged burst: the newest's).
  let newestMessage: SpanContext | undefined;
  const remember = <T>(args: unknown[], next: () => T): T => {
    if (isCustomerMessage(args)) newestMessage = trace.getActiveSpan()?.spanContext();
    return next();
  };
  const inbound = () => (otelInbound ??= new OpenTelemetryInboundInterceptor());
  const outbound = () => (otelOutbound ??= new OpenTelemetryOutboundInterceptor());
  const gatedInbound: WorkflowInboundCallsInterceptor = {
    execute: (input, next) =>
      traced(input.headers) ? inbound().execute(input, next) : next(input),
    handleSignal: (input, next) =>
      traced(input.headers)
        ? inbound().handleSignal(input, (signal) => remember(signal.args, () => next(signal)))
        : next(input),
    handleUpdate: (input, next) =>
      traced(input.headers)
        ? inbound().handleUpdate(input, (update) => remember(update.args, () => next(update)))
        : next(input),
    validateUpdate: (input, next) =>
      traced(input.headers) ? inbound().validateUpdate(input, next) : next(input),
    handleQuery: (input, next) =>
      traced(input.headers) ? inbound().handleQuery(input, next) : next(input),
  };
  const gatedOutbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity: (input, next) =>
      inSpan() ? outbound().scheduleActivity(input, next) : next(input),
    scheduleLocalActivity: (input, next) =>
      inSpan() ? outbound().scheduleLocalActivity(input, next) : next(input),
    startChildWorkflowExecution: (input, next) => {
      const parent = newestMessage ?? trace.getActiveSpan()?.spanContext();
      if (!parent) return next(input);
      return context.with(trace.setSpanContext(context.active(), parent), () =>
        outbound().startChildWorkflowExecution(input, next),
      );
    },
    continueAsNew: (input, next) =>
      inSpan() ? outbound().continueAsNew(input, next) : next(input),
    signalWorkflow: (input, next) =>
      inSpan() ? outbound().signalWorkflow(input, next) : next(input),
    getLogAttributes: (input, next) =>
      inSpan() ? outbound().getLogAttributes(input, next) : next(input),
  };
  return {
    inbound: [gatedInbound],
    outbound: [gatedOutbound],
    internals: [new OpenTelemetryInternalsInterceptor()],
  };
};
