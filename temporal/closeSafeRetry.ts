// Temporal's client retries failed calls from a timer. A retry that falls due after the
// connection was closed (shutdown, a test's teardown) would throw from that timer, an uncaught
// exception, and leave its caller waiting forever. This interceptor keeps Temporal's retry
// rules and ends such a call with CANCELLED instead.
import { Metadata, status, type Interceptor } from '@grpc/grpc-js';
import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';

/** What an interceptor's `nextCall` returns (grpc-js does not export the name). */
type Call = ReturnType<Parameters<Interceptor>[1]>;

export function closeSafeRetryInterceptor(): Interceptor {
  const retry = makeGrpcRetryInterceptor(defaultGrpcRetryOptions());
  return (options, nextCall) =>
    retry(options, (callOptions): Call => {
      try {
        return nextCall(callOptions);
      } catch (error) {
        return endedCall(`the connection to Temporal was closed (${String(error)})`);
      }
    });
}

/**
 * A call that never reached the channel: started, it reports `details` as CANCELLED. Like
 * grpc-js's own unary calls, it hands on an empty message first; the retry expects one.
 */
function endedCall(details: string): Call {
  return {
    start(_metadata, listener) {
      setImmediate(() => {
        listener?.onReceiveMessage?.(null);
        listener?.onReceiveStatus?.({ code: status.CANCELLED, details, metadata: new Metadata() });
      });
    },
    cancelWithStatus: () => undefined,
    getPeer: () => '',
    sendMessageWithContext: () => undefined,
    sendMessage: () => undefined,
    startRead: () => undefined,
    halfClose: () => undefined,
    getAuthContext: () => null,
  };
}
