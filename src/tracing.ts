/**
 * OpenTelemetry spans around the work an operator wants to see in a trace:
 * the request (http/request-span.ts), authentication, metadata transactions
 * (meta/transaction.ts) and backend I/O (backends/guarded.ts).
 *
 * Off by default. Only `@opentelemetry/api` is imported here; the SDK that
 * records and exports spans is loaded by node/tracing.ts when an endpoint is
 * configured, and it calls setTracer. Until then every helper calls straight
 * through: no span object, no context switch, nothing on the hot path.
 *
 * Like errors.ts, this module imports nothing of Anvil's, so every layer may
 * use it.
 */
import { type Attributes, type Span, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';

let tracer: Tracer | undefined;

/** Turns spans on (a tracer from a registered SDK) or off again (undefined). */
export function setTracer(next: Tracer | undefined): void {
  tracer = next;
}

/** The tracer while tracing is on. */
export function activeTracer(): Tracer | undefined {
  return tracer;
}

/** Marks a span failed with the error that ended it. */
export function recordFailure(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/**
 * Runs fn inside a span named `name` (a child of the active span), ended
 * when fn settles and marked failed when it rejects. With tracing off it is
 * fn().
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!tracer) return fn();
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      recordFailure(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Names the request's span after its S3 operation once the router knows it (a no-op with tracing off). */
export function nameRequestSpan(op: string): void {
  if (!tracer) return;
  const span = trace.getActiveSpan();
  span?.updateName(op);
  span?.setAttribute('anvil.op', op);
}
