// One span per webhook request, the active context while the route hands the message to
// Temporal: the client interceptor's SignalWithStartWorkflow span, and so the actor, the delivery
// and its activities, become its descendants in one trace.
import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const spans = new WeakMap<FastifyRequest, Span>();

/**
 * Traces the routes registered after it in `scope`. Attributes carry the method, the route
 * pattern and the status only: never the URL's query (the secret-token fallback lives there),
 * headers or body.
 */
export function traceRequests(scope: FastifyInstance, tracer: Tracer): void {
  scope.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url ?? 'unknown route';
    const span = tracer.startSpan(`${request.method} ${route}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'http.route': route },
    });
    spans.set(request, span);
    done();
  });
  // After the body is parsed: the handler runs from this callback, inside the span's context.
  scope.addHook('preHandler', (request, _reply, done) => {
    const span = spans.get(request);
    if (!span) return done();
    context.with(trace.setSpan(context.active(), span), done);
  });
  scope.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      spans.delete(request);
    }
    done();
  });
}
